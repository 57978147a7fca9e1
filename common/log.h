/*
 * log.h - one line per event to stderr: "level time area message".
 *
 * The level and the area are set once at startup (log_init) and are the only
 * logger state. Never log names, ID numbers or keys: log household ids, area
 * codes and short hash prefixes.
 */
#ifndef JZFP_LOG_H
#define JZFP_LOG_H

#include <stdint.h>
#include <syslog.h>

extern int log_level;

/* Set the level (LOG_ERR..LOG_DEBUG) and the area code shown on every line. */
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
