/*
 * cli.h - what the jzfpctl commands share (node/ctl/jzfpctl.c): the node to
 * talk to, requests of frames, and the one-line error exits.
 *
 * A command builds a request of frames (strings, or encoded records for
 * imports), sends it over the node's control socket and prints the
 * answer; any error prints "jzfpctl: REASON" on stderr and exits 1, a usage
 * error or a bad value exits 2 (DESIGN §10).
 */
#ifndef JZFP_CLI_H
#define JZFP_CLI_H

#include "config.h"
#include "ctl.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ctl {
	const char *config_path;
	const char *node_dir;
	struct config cfg;
	bool have_cfg;
	int timeout_s;
	void *zctx, *req, *mon;
	bool connected;   /* the monitor saw the connection made (it is reported once) */
	uint64_t sent_ms; /* when the request in flight was sent (CLOCK_MONOTONIC) */
	/* tests: ask the node to hold its read this long (JZFP_TEST_HOLD_MS;
	 * honoured only by a jzfpd --test-clock) */
	uint32_t hold_ms;
};

/* "jzfpctl: MESSAGE" on stderr, then the die note if one is set, exit 1. */
void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* While a command runs that has more to say when it dies (an import: what
 * the node stored before it stopped), FN(ARG) is called once by cli_die
 * after its message; FN NULL clears it. One note at a time, the process's
 * (cli_die has no context): clear it before ARG goes away. */
void cli_set_die_note(void (*fn)(void *arg), void *arg);

/* ---------------------------------------------------------------- options
 *
 * Every command parses its arguments with cli_parse: getopt_long with
 * permutation (options before or after operands, --opt=value or --opt
 * value), the global options (-c/--config, --node, --timeout) accepted there
 * too, --help/-h printing the command's usage and help on stdout (exit 0).
 * A usage error or a value jzfpctl can judge to be bad prints
 * "jzfpctl: CMD: WHAT" and the command's one usage line on stderr and exits
 * 2 (cli_usage_error).
 */

#define CLI_MAX_OPTS 16 /* options in one command's table */
#define CLI_MAX_SEEN 64 /* options given on one command line */

/* One option of a command: --NAME, or --NAME VALUE when VALUE. */
struct cli_opt {
	const char *name;
	bool value;
	bool repeat; /* may be given more than once (else: usage error) */
};

/* A command (or subcommand): its name in messages ("rollup", "notice
 * open"), its usage line (after "jzfpctl "), its help, its options (a table
 * ending with {NULL}) and how many operands it takes (max -1: any). For a
 * subcommand the subcommand's word is the first operand. */
struct cli_cmd {
	const char *name, *usage, *help;
	const struct cli_opt *opts;
	int min_pos, max_pos;
};

/* What cli_parse found. val[i] is the value of cmd->opts[i] (the last one
 * if repeated; "" for a flag given), NULL when absent; seen[] lists the
 * options in the order given; pos[] are the operands (pointers into argv). */
struct cli_args {
	const char *val[CLI_MAX_OPTS];
	struct {
		int opt;
		const char *val;
	} seen[CLI_MAX_SEEN];
	int n_seen;
	char **pos;
	int npos;
};

/* Parse ARGV (argv[0] the command's name) for CMD into A, global options
 * into C. Dies with exit 2 on a usage error, exits 0 after --help. */
void cli_parse(struct ctl *c, const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a);

/* For a command of subcommands SUBS[0..n) (each's first operand is its
 * word): the index of the one named on the command line. ALL gives the
 * usage and help when none is named: --help prints them (exit 0), no or an
 * unknown word is a usage error. Then cli_parse(c, &subs[i], ...). */
size_t cli_find_sub(struct ctl *c, const struct cli_cmd *all, const struct cli_cmd *subs, size_t n,
                    int argc, char **argv);

/* "jzfpctl: CMD->name: WHAT" and "usage: jzfpctl CMD->usage" on stderr,
 * exit 2. */
void cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* A whole number in [min, max] in S, or a usage error naming OPT and S. */
long cli_number(const struct cli_cmd *cmd, const char *opt, const char *s, long min, long max);

/* Is A->val of the option named NAME given? Its value (or NULL). */
const char *cli_val(const struct cli_cmd *cmd, const struct cli_args *a, const char *name);

/* S as a JSON string, quotes included, on F. */
void cli_json_str(FILE *f, const char *s);

/* Load -c CONFIG once (dies on a bad config). */
void cli_load_config(struct ctl *c);

/* Send the typed request RQ and wait for the reply (given: free it with
 * cli_reply_free). Dies when the node cannot be reached, does not answer
 * within the timeout, or closes the connection during the request. */
Ctl__Reply *cli_request(struct ctl *c, const Ctl__Request *rq);
/* cli_request in two halves, so that a caller can work between them (an
 * import reads its next chunk while the node stores this one): send RQ,
 * then wait for its reply, the timeout counted from the send. One request
 * at a time: cli_receive before the next cli_send. */
void cli_send(struct ctl *c, const Ctl__Request *rq);
Ctl__Reply *cli_receive(struct ctl *c);
/* cli_request, then exit 1 with the node's one-line error if it failed;
 * dies if the reply is not of kind BODY. */
Ctl__Reply *cli_expect(struct ctl *c, const Ctl__Request *rq, Ctl__Reply__BodyCase body);
/* Free a reply of cli_request, cli_receive, cli_expect or cli_ask (its
 * memory wiped); NULL is ignored. */
void cli_reply_free(Ctl__Reply *rp);
/* A reply of N bytes is unpacked into one arena (arena.h) whose first
 * block is CLI_REPLY_FIRST_BLOCK(n) bytes and whose blocks together take at
 * most CLI_REPLY_BUDGET(n): past it, cli_receive dies. The budget covers
 * the worst a well-formed reply can need: an empty sub-message is 2 bytes
 * on the wire and unpacks to its struct (at most 280 bytes in ctl.proto,
 * StatusReply), a pointer to it and the alignment (test_arena checks the
 * structs against it). The reply itself is bounded by the daemon's
 * message limit (WIRE_MAX_FRAME). The first block is a guess that holds
 * the big replies in one: a rollup unpacks to about 6 times its bytes; a
 * mapped block's pages are only taken when touched. The budget is set by
 * the worst well-formed reply (empty sub-messages that unpack to whole
 * structs); protobuf-c's scratch slabs (32 bytes per field met, while a
 * message is unpacked) are not counted in it, and stay within it only
 * because the last block is cut to what is left of the budget and slabs
 * are reused (arena_free). test_arena checks the structs; the slabs were
 * checked by hand, for every repeated field of a reply up to 131,057
 * empty elements. */
#define CLI_REPLY_BUDGET(n)      (160 * (size_t)(n) + 64 * 1024)
#define CLI_REPLY_FIRST_BLOCK(n) (8 * (size_t)(n) + 4096)
/* cli_expect, with the test hold (JZFP_TEST_HOLD_MS) asked for, and times
 * rendered in the node's zone (the reply's) from then on. */
Ctl__Reply *cli_ask(struct ctl *c, Ctl__Request *rq, Ctl__Reply__BodyCase body);
struct sbuf;
/* Die, writing nothing, if OUT ran out of memory (its text is then cut). */
void cli_output_ok(struct sbuf *out);
/* Print OUT on stdout (cli_print), wipe it (it may hold names), release it;
 * returns 0, the exit status. Dies instead when OUT is cut (cli_output_ok). */
int cli_emit(struct sbuf *out);
/* M as one JSON line into OUT when JSON, else TEXT_FN(OUT, M) for people. */
#define CLI_RENDER(out, json, m, text_fn)                                                          \
	do {                                                                                       \
		if (json) {                                                                        \
			render_json((out), &(m)->base);                                            \
			sbuf_add((out), "\n", 1);                                                  \
		} else {                                                                           \
			text_fn((out), (m));                                                       \
		}                                                                                  \
	} while (0)
/* Write N bytes of TEXT to F; on a terminal, control characters and marks
 * that reorder text are escaped (text.h), line feeds kept. */
void cli_print(FILE *f, const char *text, size_t n);
/* Close the connection to the node (any number of times). */
void cli_disconnect(struct ctl *c);

/* The workflow, data and node commands of cmd_flow.c; each returns the exit
 * status. ARGV[0] is the command's name. */
/* cmd_view.c */
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_tree(struct ctl *c, int argc, char **argv);
int cmd_rollup(struct ctl *c, int argc, char **argv);
/* cmd_ops.c */
int cmd_backup(struct ctl *c, int argc, char **argv);
/* cmd_export.c */
int cmd_export(struct ctl *c, int argc, char **argv);
/* cmd_import.c */
int cmd_import(struct ctl *c, int argc, char **argv);

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
int cmd_child(struct ctl *c, int argc, char **argv);
int cmd_household(struct ctl *c, int argc, char **argv);

extern const char help_proposals[], help_consent[], help_notice[], help_object[], help_objection[],
    help_review[], help_conflicts[], help_policy[], help_revoke[], help_clock[], help_household[];

#endif
