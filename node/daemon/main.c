/*
 * main.c - jzfpd: run one node in the foreground (DESIGN §10).
 *
 *   jzfpd --config FILE [--test-clock]
 *   jzfpd --version | --help
 *
 * Logs to stderr; SIGTERM and SIGINT stop it cleanly (exit 0).
 */
#include "config.h"
#include "log.h"
#include "node.h"
#include "tables.h"
#include "timefmt.h"

#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE "jzfpd --config FILE [--test-clock | --upgrade-store]"

static void
usage(FILE *f)
{
	fprintf(f, "usage: " USAGE "\n"
	           "\n"
	           "Run one jzfp node (village, township, county or province) in the\n"
	           "foreground, as its config file says. Logs go to stderr, one line per\n"
	           "event. SIGTERM or SIGINT stops the node cleanly.\n"
	           "\n"
	           "  -c, --config FILE   the node's INI config (see configs/*.ini)\n"
	           "      --test-clock    for tests only: `jzfpctl clock advance 8d` moves this\n"
	           "                      node's clock, and --unchecked steps are allowed\n"
	           "      --upgrade-store upgrade the node's store, written by an older jzfpd\n"
	           "                      (store schema 2, 3, 4, 5 or 6), in place to the schema\n"
	           "                      --version names, then exit; the node must be\n"
	           "                      stopped. Safe to stop and run again: it goes on\n"
	           "                      where it stood (README, Upgrade)\n"
	           "  -h, --help          this help\n"
	           "      --version       print the version and the store schema it reads\n"
	           "\n"
	           "Exit status: 0 stopped cleanly, 1 error, 2 usage.\n");
}

/* "jzfpd: WHAT 'WORD'" and the usage line on stderr: exit status 2. */
static int
usage_error(const char *what, const char *word)
{
	fprintf(stderr, "jzfpd: %s '%s'\nusage: " USAGE "\n", what, word);
	return 2;
}

/*
 * Keep the heap's memory for reuse. A relay allocates and frees a batch's
 * buffers (up to WIRE_MAX_FRAME) many times a second; with glibc's defaults
 * those are fresh mmap()s or a trimmed heap top, and every page of every
 * batch is faulted in again (about a sixth of a relay's CPU, perf). Freed
 * memory up to 64 MiB per malloc arena (the loop's, ZeroMQ's I/O thread's,
 * each reader's) is kept instead. An operator who tunes malloc through
 * the environment (GLIBC_TUNABLES, MALLOC_*_) keeps that tuning.
 */
static void
heap_tune(void)
{
#ifdef __GLIBC__
	if (getenv("GLIBC_TUNABLES") || getenv("MALLOC_MMAP_THRESHOLD_") ||
	    getenv("MALLOC_TRIM_THRESHOLD_"))
		return;
	if (!mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) ||
	    !mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024))
		log_warn("cannot tune the heap (mallopt): batches are faulted in afresh");
#endif
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
	    {"test-clock", no_argument, NULL, 'T'},   {"upgrade-store", no_argument, NULL, 'U'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
	bool test_clock = false, upgrade = false;
	const char *path = NULL;
	int c;
	char word[3] = "-?";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'T':
			test_clock = true;
			break;
		case 'U':
			upgrade = true;
			break;
		case 'V':
			printf("jzfpd %s (store schema %d)\n", JZFP_VERSION, STORE_SCHEMA);
			return 0;
		default: {
			/* The word refused: a long option (name only), or -X. */
			const char *w = argv[optind - 1];
			const char *what = c == ':' ? "missing value for option" : "unknown option";
			if (strncmp(w, "--", 2) != 0 && optopt) {
				word[1] = (char)optopt;
				return usage_error(what, word);
			}
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(w, "="), w);
			return usage_error(what, name);
		}
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!path) {
		fprintf(stderr, "jzfpd: missing option '--config'\nusage: " USAGE "\n");
		return 2;
	}
	static struct config cfg;
	char err[1024];
	if (config_load(&cfg, path, err, sizeof(err))) {
		fprintf(stderr, "jzfpd: %s\n", err);
		return 1;
	}
	cfg.test_clock = test_clock;
	log_init(cfg.log_level, cfg.area);
	struct node *n;
	/* Before any thread starts: localtime_r is then safe everywhere. */
	int zerr = timefmt_set_zone(cfg.timezone);
	if (zerr) {
		fprintf(stderr, "jzfpd: %s: [node] timezone '%s': %s\n", path, cfg.timezone,
		        err_str(zerr));
		return 1;
	}
	/* Whatever the node creates (its store, the control sockets between
	 * their bind and their chmod, a backup) is its own user's alone unless
	 * it says otherwise (the read-only socket's group), whatever umask it
	 * was started with: with 002, the control socket was open to the
	 * group for a moment at every start. */
	umask(S_IRWXG | S_IRWXO);
	if (upgrade) {
		if (test_clock)
			return usage_error("--upgrade-store runs no node; not with",
			                   "--test-clock");
		if (node_upgrade_store(&cfg, err, sizeof(err))) {
			log_error("cannot upgrade the store: %s", err);
			return 1;
		}
		return 0;
	}
	heap_tune();
	if (node_open(&n, &cfg, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		return 1;
	}
	int rc = node_run(n);
	node_close(&n);
	log_info("stopped");
	return rc ? 1 : 0;
}
