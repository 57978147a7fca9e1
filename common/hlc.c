/*
 * hlc.c - hybrid logical clock. A value is (ms << 16) | counter, so plain
 * integer comparison orders them and "+1" bumps the counter, carrying into
 * the millisecond when the counter overflows.
 */
#include "hlc.h"

#include <time.h>

uint64_t
hlc_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
realtime_ms(void *ctx)
{
	(void)ctx;
	return hlc_wall_ms();
}

static uint64_t
wall(struct hlc *h)
{
	uint64_t ms = h->now(h->ctx);

	/* ms above 48 bits is no time we will see; saturate, never wrap. */
	if (ms > (UINT64_MAX >> 16))
		ms = UINT64_MAX >> 16;
	return ms << 16;
}

void
hlc_init(struct hlc *h, hlc_clock_fn now, void *ctx)
{
	h->last = 0;
	h->now = now ? now : realtime_ms;
	h->ctx = ctx;
}

uint64_t
hlc_now(struct hlc *h)
{
	uint64_t w = wall(h);

	if (w > h->last)
		h->last = w;
	else if (h->last < UINT64_MAX)
		h->last++;
	return h->last;
}

void
hlc_observe(struct hlc *h, uint64_t remote)
{
	if (remote > h->last)
		h->last = remote;
}

bool
hlc_is_plausible(struct hlc *h, uint64_t remote, uint64_t max_ahead_ms)
{
	uint64_t ms = hlc_ms(wall(h));

	return hlc_ms(remote) <= ms || hlc_ms(remote) - ms <= max_ahead_ms;
}
