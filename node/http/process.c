/*
 * process.c - what the process_* families of /metrics (metrics.c) report,
 * read from /proc/self at each scrape (proc(5)): CPU, memory, threads, start
 * time and file descriptors, as Prometheus's client libraries read them.
 */
#include "pages.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
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
	uint64_t v[25] = {0};
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
			unsigned long long x = strtoull(p, &end, 10);
			if (end == p || errno || (*end != ' ' && *end != '\n' && *end))
				return false;
			v[field] = x;
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

uint64_t
http_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	char line[256];
	uint64_t boot = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %" SCNu64, &boot) == 1)
			break;
	fclose(f);
	return boot;
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

void
http_proc_read(struct http_proc *out, uint64_t boot_s)
{
	memset(out, 0, sizeof(*out));
	char text[1024];
	struct http_proc_stat ps;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (tick > 0 && page > 0 && read_small("/proc/self/stat", text, sizeof(text)) &&
	    http_proc_stat_parse(text, &ps)) {
		out->have_stat = true;
		out->cpu_s = (double)(ps.utime_ticks + ps.stime_ticks) / (double)tick;
		out->virtual_bytes = ps.vsize_bytes;
		out->resident_bytes = ps.rss_pages * (uint64_t)page;
		out->threads = ps.threads;
		if (boot_s)
			out->start_s = (double)boot_s + (double)ps.start_ticks / (double)tick;
	}
	out->open_fds = open_fds();
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		out->max_fds = (uint64_t)rl.rlim_cur;
}
