/*
 * hlc.h - hybrid logical clock (DESIGN §3, §6).
 *
 * A value is ms << 16 | counter: milliseconds since the Unix epoch in the high
 * 48 bits, a counter in the low 16. Values only grow: every local event gets a
 * value above everything this clock has returned or observed, yet values stay
 * close to wall-clock time, so "later" between nodes means what people
 * expect while clocks are roughly right, and is still consistent when they
 * are not. When 65535 events fall in one millisecond, the counter carries
 * into the next millisecond.
 *
 * Not thread safe: one clock per node, used from its single loop thread.
 */
#ifndef JZFP_HLC_H
#define JZFP_HLC_H

#include <stdbool.h>
#include <stdint.h>

/* Wall-clock source: milliseconds since the epoch. Tests pass a fake one. */
typedef uint64_t (*hlc_clock_fn)(void *ctx);

struct hlc {
	uint64_t last;    /* the largest value returned or observed */
	hlc_clock_fn now; /* wall clock */
	void *ctx;        /* passed to now, borrowed */
};

/* Start a clock at 0 (nothing seen). now NULL means CLOCK_REALTIME.
 * To resume after a restart, hlc_observe the largest value stored. */
void hlc_init(struct hlc *h, hlc_clock_fn now, void *ctx);

/* The wall clock (CLOCK_REALTIME) in ms since the epoch: the default clock,
 * and what certificates' validity is checked against. */
uint64_t hlc_wall_ms(void);

/* A local event: returns a value strictly greater than every value this clock
 * returned or observed, and at least now() << 16. */
uint64_t hlc_now(struct hlc *h);

/* A received value: the next hlc_now() returns more than remote. Smaller
 * values change nothing. Callers check untrusted values with
 * hlc_is_plausible first, or one peer with a wild clock drags every later
 * value along. */
void hlc_observe(struct hlc *h, uint64_t remote);

/* True when remote is not more than max_ahead_ms ahead of the wall clock. */
bool hlc_is_plausible(struct hlc *h, uint64_t remote, uint64_t max_ahead_ms);

/* The millisecond part of a value. */
static inline uint64_t
hlc_ms(uint64_t v)
{
	return v >> 16;
}

/* Until when (ms) an envelope stamped V must wait at a receiver whose clock
 * reads NOW_MS and that allows MAX_SKEW_MS of clock skew: hlc_ms(V) when that
 * is more than MAX_SKEW_MS ahead of NOW_MS (held until the clock reaches
 * it), else 0 (applied now). A sum past UINT64_MAX holds nothing. */
static inline uint64_t
hlc_held_until(uint64_t v, uint64_t now_ms, uint64_t max_skew_ms)
{
	uint64_t t = hlc_ms(v);
	if (now_ms > UINT64_MAX - max_skew_ms || t <= now_ms + max_skew_ms)
		return 0;
	return t;
}

/* The counter part of a value. */
static inline uint16_t
hlc_counter(uint64_t v)
{
	return (uint16_t)(v & 0xffff);
}

#endif
