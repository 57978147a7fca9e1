#include "log.h"

#include "text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Process-wide, written once by log_init before any thread (log.h). */
int log_level = LOG_INFO;
static uint64_t log_area;

void
log_init(int level, uint64_t area)
{
	log_level = level;
	log_area = area;
}

int
log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"error", LOG_ERR},
	              {"warning", LOG_WARNING},
	              {"warn", LOG_WARNING},
	              {"info", LOG_INFO},
	              {"debug", LOG_DEBUG}};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

void
log_write(int level, const char *fmt, ...)
{
	static const char *names[] = {"emerg", "alert",  "crit", "error",
	                              "warn",  "notice", "info", "debug"};
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line, nothing a terminal or journald would act on:
	 * whatever a message quotes is escaped (text.h). */
	char safe[sizeof(msg)];
	text_escape_term(msg, strlen(msg), 0, safe, sizeof(safe));

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line so concurrent writers do not interleave mid-line. */
	fprintf(stderr, "%s %s.%03ldZ %012" PRIu64 " %s\n", names[level & 7], when,
	        ts.tv_nsec / 1000000L, log_area, safe);
}
