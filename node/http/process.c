/*
 * process.c - the process_* families every Prometheus client library
 * exports (CPU, memory, file descriptors, start time), under the names and
 * meanings they use, so that a province's existing Grafana panels and
 * alerts for them work on jzfpd as on anything else: read from /proc/self
 * at each scrape. Where /proc cannot be read a family is left out.
 */
#include "log.h"
#include "pages.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

bool
http_proc_stat_parse(const char *text, struct http_proc_stat *out)
{
	memset(out, 0, sizeof(*out));
	/* The command name (field 2) is in parentheses and may hold spaces
	 * and parentheses itself: the fields resume after its last ')'. */
	const char *p = strrchr(text, ')');
	if (!p)
		return false;
	p++;
	/* Field 3 (state) onwards; the ones wanted, by their number in proc(5). */
	unsigned long long v[25] = {0};
	unsigned field = 3;
	while (*p && field <= 24) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (field == 3) { /* the state, one letter */
			p++;
		} else {
			char *end;
			errno = 0;
			v[field] = strtoull(p, &end, 10);
			if (end == p || errno || (*end != ' ' && *end != '\n' && *end))
				return false;
			p = end;
		}
		field++;
	}
	if (field <= 24)
		return false; /* too few fields */
	out->utime_ticks = v[14];
	out->stime_ticks = v[15];
	out->threads = v[20];
	out->start_ticks = v[22];
	out->vsize_bytes = v[23];
	out->rss_pages = v[24];
	return true;
}

/* The whole of a small /proc file into BUF (NUL-terminated); false when
 * it cannot be read. */
static bool
read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, cap - 1, f);
	bool ok = !ferror(f);
	fclose(f);
	buf[n] = '\0';
	return ok && n > 0;
}

/* The boot time, seconds since the epoch (/proc/stat "btime"); 0 unknown. */
static uint64_t
boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	char line[256];
	uint64_t bt = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %" SCNu64, &bt) == 1)
			break;
	fclose(f);
	return bt;
}

/* Open file descriptors, not counting the one that lists them; -1 unknown. */
static long
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	int own = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != own)
			n++;
	closedir(d);
	return n;
}

static void family1(struct sbuf *o, const char *name, const char *type, const char *help,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
family1(struct sbuf *o, const char *name, const char *type, const char *help, const char *fmt, ...)
{
	sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
	char v[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	sbuf_printf(o, "%s\n", v);
}

void
http_metrics_process(struct sbuf *o)
{
	char text[1024];
	struct http_proc_stat ps;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (tick > 0 && page > 0 && read_small("/proc/self/stat", text, sizeof(text)) &&
	    http_proc_stat_parse(text, &ps)) {
		family1(o, "process_cpu_seconds_total", "counter",
		        "Total user and system CPU time spent in seconds.", "%.2f",
		        (double)(ps.utime_ticks + ps.stime_ticks) / (double)tick);
		family1(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		        "%llu", ps.vsize_bytes);
		family1(o, "process_resident_memory_bytes", "gauge",
		        "Resident memory size in bytes.", "%llu",
		        ps.rss_pages * (unsigned long long)page);
		uint64_t bt = boot_time();
		if (bt)
			family1(o, "process_start_time_seconds", "gauge",
			        "Start time of the process since unix epoch in seconds.", "%.2f",
			        (double)bt + (double)ps.start_ticks / (double)tick);
		family1(o, "process_threads", "gauge", "Number of OS threads in the process.",
		        "%llu", ps.threads);
	} else {
		log_debug(
		    "http: /metrics without process_cpu and memory: /proc/self/stat unreadable");
	}
	long fds = open_fds();
	if (fds >= 0)
		family1(o, "process_open_fds", "gauge", "Number of open file descriptors.", "%ld",
		        fds);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		family1(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
		        "%llu", (unsigned long long)rl.rlim_cur);
}
