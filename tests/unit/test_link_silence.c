/* link_up_silence_limit: when a silent parent is taken as down. */
#include "link.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

static void
idle_link_keeps_three_heartbeats(void **state)
{
	(void)state;
	assert_int_equal(link_up_silence_limit(2000, 0, true), 8000);
	assert_int_equal(link_up_silence_limit(2000, 0, false), 8000);
	assert_int_equal(link_up_silence_limit(100, 0, true), 2300);
}

static void
dropped_connection_keeps_three_heartbeats(void **state)
{
	(void)state;
	/* Batches in flight on a connection that dropped since the Welcome
	 * may be lost: resend after the usual silence. */
	assert_int_equal(link_up_silence_limit(2000, 4, false), 8000);
}

static void
busy_parent_on_live_connection_gets_longer(void **state)
{
	(void)state;
	assert_int_equal(link_up_silence_limit(2000, 1, true), LINK_BUSY_PARENT_MS);
	assert_int_equal(link_up_silence_limit(2000, 64, true), LINK_BUSY_PARENT_MS);
	/* never shorter than the heartbeat rule */
	assert_int_equal(link_up_silence_limit(60000, 1, true), 182000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(idle_link_keeps_three_heartbeats),
	    cmocka_unit_test(dropped_connection_keeps_three_heartbeats),
	    cmocka_unit_test(busy_parent_on_live_connection_gets_longer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
