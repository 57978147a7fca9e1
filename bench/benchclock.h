/*
 * benchclock.h - the clocks the benchmarks read, in seconds.
 */
#ifndef JZFP_BENCHCLOCK_H
#define JZFP_BENCHCLOCK_H

#include <time.h>

static inline double
bench_clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time, monotonic. */
static inline double
now_s(void)
{
	return bench_clock_s(CLOCK_MONOTONIC);
}

/* CPU of the calling thread. */
static inline double
cpu_s(void)
{
	return bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* CPU of every thread of the process (rollup_verify uses two). */
static inline double
proc_cpu_s(void)
{
	return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

#endif
