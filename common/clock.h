/*
 * clock.h - the monotonic clock, for deadlines and durations: a step of the
 * wall clock (an operator's date, NTP) moves none of them. Signed times are
 * the hybrid logical clock's (hlc.h).
 */
#ifndef JZFP_CLOCK_H
#define JZFP_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC. */
static inline uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Microseconds of CLOCK_MONOTONIC. */
static inline uint64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Set up *C to time its waits by CLOCK_MONOTONIC (mono_deadline): a step
 * of the wall clock moves none of them. False if it could not be. */
static inline bool
mono_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0)
		return false;
	bool ok =
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(c, &ca) == 0;
	pthread_condattr_destroy(&ca);
	return ok;
}

/* CLOCK_MONOTONIC MS milliseconds from now, as pthread_cond_timedwait
 * takes it on a condition variable of mono_cond_init. */
static inline struct timespec
mono_deadline(uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
