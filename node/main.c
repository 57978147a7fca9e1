/*
 * main.c - jzfpd: run one node in the foreground (DESIGN §10).
 *
 *   jzfpd --config FILE
 *
 * Logs to stderr; SIGTERM and SIGINT stop it cleanly (exit 0).
 */
#include "config.h"
#include "log.h"
#include "node.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: jzfpd --config FILE\n"
	           "\n"
	           "Run one jzfp node (village, township, county or province) in the\n"
	           "foreground, as its config file says. Logs go to stderr, one line per\n"
	           "event. SIGTERM or SIGINT stops the node cleanly.\n"
	           "\n"
	           "  -c, --config FILE   the node's INI config (see configs/*.ini)\n"
	           "      --test-clock    for tests only: `jzfpctl clock advance 8d` moves this\n"
	           "                      node's clock, and --unchecked steps are allowed\n"
	           "  -h, --help          this help\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"test-clock", no_argument, NULL, 'T'},
	                                     {NULL, 0, NULL, 0}};
	bool test_clock = false;
	const char *path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
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
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	static struct config cfg;
	char err[600];
	if (config_load(&cfg, path, err, sizeof(err))) {
		fprintf(stderr, "jzfpd: %s\n", err);
		return 1;
	}
	cfg.test_clock = test_clock;
	log_init(cfg.log_level, cfg.area);
	struct node *n;
	if (node_open(&n, &cfg, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		return 1;
	}
	int rc = node_run(n);
	node_close(&n);
	log_info("stopped");
	return rc ? 1 : 0;
}
