/* node_catch_up_retry_ms: when the loop tries again to catch the household
 * tables up after a failure (node.h). */
#include "err.h"
#include "node.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* The store's own failures are tried again every second, however many in
 * a row: a disk freed is caught up within a second (test_registry_fail). */
static void
storage_failures_every_second(void **state)
{
	(void)state;
	const int errs[] = {-ENOSPC, -EDQUOT, -EIO, -EROFS, -EFBIG, JZ_EIO, JZ_EMAPFULL};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		for (uint32_t k = 1; k <= 100; k++)
			assert_int_equal(node_catch_up_retry_ms(errs[i], k), 1000);
}

/* Anything else (a damaged entry) waits a second, then twice as long after
 * each failure in a row, up to a minute, and stays there. */
static void
damage_backs_off_to_a_minute(void **state)
{
	(void)state;
	const uint64_t want[] = {1000, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
	for (uint32_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		assert_int_equal(node_catch_up_retry_ms(JZ_ECORRUPT, k), want[k]);
	assert_int_equal(node_catch_up_retry_ms(JZ_EPARSE, 6), 32000);
	assert_int_equal(node_catch_up_retry_ms(JZ_ECORRUPT, UINT32_MAX), 60000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(storage_failures_every_second),
	    cmocka_unit_test(damage_backs_off_to_a_minute),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
