/* hlc: hybrid logical clock with a fake wall clock. */
#include "hlc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

static uint64_t
fake_clock(void *ctx)
{
	return *(uint64_t *)ctx;
}

static void
follows_the_wall_clock(void **state)
{
	(void)state;
	uint64_t ms = 1700000000000ULL;
	struct hlc h;

	hlc_init(&h, fake_clock, &ms);
	uint64_t a = hlc_now(&h);
	assert_true(a == ms << 16);
	assert_true(hlc_ms(a) == ms);
	assert_int_equal(hlc_counter(a), 0);

	uint64_t b = hlc_now(&h); /* same ms: counter */
	assert_true(b == a + 1);
	assert_int_equal(hlc_counter(b), 1);

	ms += 5;
	uint64_t c = hlc_now(&h);
	assert_true(c == ms << 16);
}

static void
never_goes_back_when_the_wall_clock_does(void **state)
{
	(void)state;
	uint64_t ms = 1700000000000ULL;
	struct hlc h;

	hlc_init(&h, fake_clock, &ms);
	uint64_t a = hlc_now(&h);
	ms -= 60000; /* clock stepped back a minute */
	uint64_t b = hlc_now(&h);
	uint64_t c = hlc_now(&h);
	assert_true(b > a);
	assert_true(c > b);
	assert_true(hlc_ms(c) == hlc_ms(a));
}

static void
observe_moves_past_remote_values(void **state)
{
	(void)state;
	uint64_t ms = 1700000000000ULL;
	struct hlc h;

	hlc_init(&h, fake_clock, &ms);
	uint64_t remote = ((ms + 3000) << 16) | 7; /* a peer 3 s ahead */
	hlc_observe(&h, remote);
	uint64_t a = hlc_now(&h);
	assert_true(a > remote);
	assert_true(a == remote + 1);

	/* Older remote values change nothing. */
	hlc_observe(&h, 12345);
	assert_true(hlc_now(&h) == a + 1);

	/* Once the wall clock passes, it leads again. */
	ms += 10000;
	assert_true(hlc_now(&h) == ms << 16);
}

static void
counter_overflow_borrows_the_next_ms(void **state)
{
	(void)state;
	uint64_t ms = 1700000000000ULL;
	struct hlc h;
	uint64_t v = 0, prev = 0;

	hlc_init(&h, fake_clock, &ms);
	for (int i = 0; i < 65536; i++) {
		v = hlc_now(&h);
		assert_true(i == 0 || v > prev);
		prev = v;
	}
	assert_true(hlc_ms(v) == ms);
	assert_int_equal(hlc_counter(v), 65535);
	v = hlc_now(&h);
	assert_true(hlc_ms(v) == ms + 1);
	assert_int_equal(hlc_counter(v), 0);
	/* The real next ms then continues with the counter. */
	ms += 1;
	assert_true(hlc_now(&h) == v + 1);
}

static void
plausibility_bounds_how_far_ahead(void **state)
{
	(void)state;
	uint64_t ms = 1700000000000ULL;
	struct hlc h;

	hlc_init(&h, fake_clock, &ms);
	assert_true(hlc_is_plausible(&h, (ms + 1000) << 16, 60000));
	assert_true(hlc_is_plausible(&h, (ms - 1000000) << 16, 60000));
	assert_false(hlc_is_plausible(&h, (ms + 60001) << 16, 60000));
	assert_false(hlc_is_plausible(&h, UINT64_MAX, 60000));
}

static void
default_clock_is_realtime(void **state)
{
	(void)state;
	struct hlc h;
	struct timespec ts;

	hlc_init(&h, NULL, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	uint64_t v = hlc_now(&h);
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t after = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	assert_true(hlc_ms(v) >= before);
	assert_true(hlc_ms(v) <= after);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(follows_the_wall_clock),
	    cmocka_unit_test(never_goes_back_when_the_wall_clock_does),
	    cmocka_unit_test(observe_moves_past_remote_values),
	    cmocka_unit_test(counter_overflow_borrows_the_next_ms),
	    cmocka_unit_test(plausibility_bounds_how_far_ahead),
	    cmocka_unit_test(default_clock_is_realtime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
