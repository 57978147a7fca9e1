/*
 * cli.h - what the jzfpctl commands share (node/ctl/jzfpctl.c): the node to
 * talk to, requests of frames, and the one-line error exits.
 *
 * A command builds a request of frames (strings, or encoded records for
 * imports), sends it over the node's control socket and prints the
 * answer; any error prints "jzfpctl: REASON" on stderr and exits 1, a usage
 * error exits 2 (DESIGN §10).
 */
#ifndef JZFP_CLI_H
#define JZFP_CLI_H

#include "config.h"
#include "ctl.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

struct ctl {
	const char *config_path;
	const char *node_dir;
	struct config cfg;
	bool have_cfg;
	int timeout_s;
	void *zctx, *req, *mon;
};

/* A request under construction: frames of bytes. */
struct req {
	size_t n, cap;
	struct {
		void *p;
		size_t len;
	} * f;
};

/* "jzfpctl: MESSAGE" on stderr, exit 1. */
void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* "usage: jzfpctl CMD" and HELP on stderr, exit 2. */
void cli_usage_die(const char *cmd, const char *help) __attribute__((noreturn));
/* Is --help or -h among ARGV[1..argc)? */
bool cli_wants_help(int argc, char **argv);

/* Load -c CONFIG once (dies on a bad config). */
void cli_load_config(struct ctl *c);

void cli_req_add(struct req *r, const void *p, size_t len);
void cli_req_str(struct req *r, const char *s);
void cli_req_release(struct req *r);

/* Send the typed request RQ and wait for the reply (given: free it with
 * cli_reply_free). Dies when the node cannot be reached, does not answer
 * within the timeout, or closes the connection during the request. */
Ctl__Reply *cli_request(struct ctl *c, const Ctl__Request *rq);
/* cli_request, then exit 1 with the node's one-line error if it failed;
 * dies if the reply is not of kind BODY. */
Ctl__Reply *cli_expect(struct ctl *c, const Ctl__Request *rq, Ctl__Reply__BodyCase body);
void cli_reply_free(Ctl__Reply *rp);
/* Close the connection to the node (any number of times). */
void cli_disconnect(struct ctl *c);

/* Send R (a legacy request of frames) to the node, wait for the answer. Returns the node's code (0
 * ok); *text is given (free()). Dies when the node does not answer. */
int cli_call(struct ctl *c, struct req *r, char **text);

/* Send a request of string arguments (NULL-terminated) and print the
 * answer: on stdout when it succeeded, as one error line otherwise.
 * Returns the exit status. */
int cli_simple(struct ctl *c, const char *const *args);

/* The workflow, data and node commands of cmd_flow.c; each returns the exit
 * status. ARGV[0] is the command's name. */
int cmd_proposals(struct ctl *c, int argc, char **argv);
int cmd_consent(struct ctl *c, int argc, char **argv);
int cmd_notice(struct ctl *c, int argc, char **argv);
int cmd_object(struct ctl *c, int argc, char **argv);
int cmd_objection(struct ctl *c, int argc, char **argv);
int cmd_review(struct ctl *c, int argc, char **argv);
int cmd_conflicts(struct ctl *c, int argc, char **argv);
int cmd_policy(struct ctl *c, int argc, char **argv);
int cmd_revoke(struct ctl *c, int argc, char **argv);
int cmd_clock(struct ctl *c, int argc, char **argv);
int cmd_household(struct ctl *c, int argc, char **argv);

extern const char help_proposals[], help_consent[], help_notice[], help_object[], help_objection[],
    help_review[], help_conflicts[], help_policy[], help_revoke[], help_clock[], help_household[];

#endif
