/*
 * log.h - one line per event to stderr: "level time area message".
 *
 * The level and the area are set once at startup (log_init) and are the only
 * logger state. Never log names, ID numbers or keys: log household ids, area
 * codes and short hash prefixes.
 *
 * That state is process-wide on purpose (as the time zone of timefmt.h is):
 * a process is one node, whose area prefixes every line, and a log call
 * anywhere (a parser, a reader thread) should not need a context passed down
 * to say which node it is. Call log_init once, before any thread starts;
 * afterwards log_level and the area are only read, so the threads need no
 * lock. Tests and tools that never call it log at LOG_INFO with area 0.
 */
#ifndef JZFP_LOG_H
#define JZFP_LOG_H

#include <stdint.h>
#include <syslog.h>

extern int log_level;

/* Set the level (LOG_ERR..LOG_DEBUG) and the area code shown on every line,
 * for the whole process: once, before any thread starts. */
void log_init(int level, uint64_t area);

/* Parse "error", "warning", "info" or "debug". Returns the level or -1. */
int log_level_parse(const char *name);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)                                                                             \
	do {                                                                                       \
		if (log_level >= LOG_ERR)                                                          \
			log_write(LOG_ERR, __VA_ARGS__);                                           \
	} while (0)
#define log_warn(...)                                                                              \
	do {                                                                                       \
		if (log_level >= LOG_WARNING)                                                      \
			log_write(LOG_WARNING, __VA_ARGS__);                                       \
	} while (0)
#define log_info(...)                                                                              \
	do {                                                                                       \
		if (log_level >= LOG_INFO)                                                         \
			log_write(LOG_INFO, __VA_ARGS__);                                          \
	} while (0)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_level >= LOG_DEBUG)                                                        \
			log_write(LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

#endif
