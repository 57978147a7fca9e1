/*
 * cmd_ops.c - jzfpctl backup: a hot, compacted copy of the running node's
 * store (node/control/svc_ops.c), for the operations section of README.
 */
#include "cli.h"
#include "render.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help_backup[] =
    "\nCopy the running node's store into DIR (created, mode 0700; or an\n"
    "existing empty directory), compacted, in one consistent snapshot, while\n"
    "the node goes on working (LMDB mdb_env_copy2 with MDB_CP_COMPACT). The\n"
    "node writes DIR itself, so it must be a path the node's user can create,\n"
    "outside the node's data directory (another disk is best).\n"
    "To restore: stop the node, move its data directory aside, put DIR's\n"
    "data.mdb in a new data directory (mode 0700), start the node. A restored\n"
    "node signs nothing before its parent has answered: it first learns what\n"
    "the parent holds of its own records and pulls back what the copy lacks,\n"
    "and its children resend what they sent after the copy was taken.\n"
    "  --json   the summary as JSON\n";

int
cmd_backup(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"json", false, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {"backup", "backup DIR [--json]", help_backup, opts, 1,
	                                   1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	char dir[PATH_MAX];
	const char *arg = a.pos[0];
	if (arg[0] == '/') {
		snprintf(dir, sizeof(dir), "%s", arg);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			cli_die("backup: cannot tell the current directory: %s", strerror(errno));
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", cwd, arg) >= sizeof(dir))
			cli_usage_error(&cmd, "'%s': path too long", arg);
	}
	if (c->timeout_s < 3600)
		c->timeout_s = 3600; /* a large store takes a while to copy */
	Ctl__BackupReq q;
	ctl__backup_req__init(&q);
	q.dir = dir;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_BACKUP;
	rq.backup = &q;
	Ctl__Reply *rp = cli_expect(c, &rq, CTL__REPLY__BODY_BACKUP);
	render_set_zone(rp->timezone);
	if (a.val[0]) {
		if (render_json_file(stdout, &rp->backup->base))
			cli_die("out of memory making the output");
	} else {
		char t[40];
		render_time(rp->backup->at->unix_ms, t);
		printf("backup of %llu log entries in %s (%.1f MiB), taken %s\n",
		       (unsigned long long)rp->backup->log_head, rp->backup->dir,
		       (double)rp->backup->bytes / 1048576, t);
	}
	cli_reply_free(rp);
	return 0;
}
