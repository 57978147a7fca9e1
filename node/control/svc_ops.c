/*
 * svc_ops.c - operations on the node's store: backup (svc.h, DESIGN §10).
 *
 * A backup is LMDB's compacting copy (store_copy), taken in one read
 * transaction on a reader thread, so the loop goes on writing meanwhile.
 * The copy is marked as restored: a node started on it signs nothing
 * before its parent has said what it holds of the node's own chain, so a
 * node restored from an older copy recovers its records instead of forking
 * its chain (node.c, link_up.c).
 *
 * The copy keeps the log's epoch: a node started on it ends that epoch at
 * the copy's head and makes a new one (apply.c epochs_turn), so a parent's
 * cursor past the copy's head, naming entries the restored log may put in
 * another order, is not taken for one of them (link_up.c resume_point).
 */
#include "bytes.h"
#include "node.h"
#include "svc.h"
#include "tables.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int svc_backup(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

const struct svc_entry svc_ops_table[] = {
    {CTL__REQUEST__REQ_BACKUP, svc_backup, false, "backup", true},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL, false},
};

/* Is DIR a directory with nothing in it? */
static bool
dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static uint64_t
log_head(struct store *st)
{
	struct store_txn txn;
	uint64_t head = 0;
	if (store_begin(st, &txn, STORE_RO))
		return 0;
	struct store_iter it;
	struct bytes k, v;
	if (store_iter_open(&txn, STORE_LOG, &it) == 0) {
		if (store_iter_last(&it, &k, &v) == 0 && k.n == 8)
			head = be64_get(k.p);
		store_iter_close(&it);
	}
	store_abort(&txn);
	return head;
}

/* Is DIR (which exists) the node's data directory or under it? By the
 * directories themselves (device and inode), so that a symbolic link or a
 * bind mount of the data directory is seen through. */
static bool
inside_data_dir(struct svc *s, const char *dir)
{
	struct stat data, st;
	char *p = realpath(dir, NULL);
	bool inside = false;
	if (p && stat(s->cfg->data_dir, &data) == 0) {
		for (;;) {
			if (stat(p[0] ? p : "/", &st) == 0 && st.st_dev == data.st_dev &&
			    st.st_ino == data.st_ino) {
				inside = true;
				break;
			}
			char *slash = strrchr(p, '/');
			if (!slash || !p[0])
				break;
			*slash = 0; /* up one; "" is the root */
		}
	}
	free(p);
	return inside;
}

static int
svc_backup(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const char *dir = rq->backup->dir;
	if (dir[0] != '/')
		return svc_fail(s, JZ_EPARSE, "backup: '%s' is not an absolute path", dir);
	bool made = mkdir(dir, 0700) == 0;
	if (!made) {
		if (errno != EEXIST)
			return svc_fail(s, -errno, "backup: cannot create %s: %s", dir,
			                strerror(errno));
		if (!dir_is_empty(dir))
			return svc_fail(
			    s, -EEXIST,
			    "backup: %s exists and is not an empty directory: give a new "
			    "one",
			    dir);
	}
	if (inside_data_dir(s, dir)) {
		if (made)
			(void)rmdir(dir);
		return svc_fail(s, JZ_EREFUSED,
		                "backup: %s is inside the node's data directory %s, and would be "
		                "lost with it: give a directory elsewhere (another disk is best)",
		                dir, s->cfg->data_dir);
	}
	/* The head before the copy: the copy holds at least this much. */
	uint64_t head = log_head(s->st);
	char at[32];
	snprintf(at, sizeof(at), "%llu", (unsigned long long)hlc_wall_ms());
	int err = store_copy(s->st, dir, NODE_META_RESTORED, at);
	if (err)
		return svc_fail(s, err, "backup to %s failed: %s", dir, err_str(err));
	char file[4200];
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	struct stat sb;
	Ctl__BackupReply *r = SVC_NEW(s, Ctl__BackupReply, ctl__backup_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	r->dir = svc_strdup(s, dir);
	r->bytes = stat(file, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	r->log_head = head;
	r->at = svc_time_ms(s, hlc_wall_ms());
	rp->body_case = CTL__REPLY__BODY_BACKUP;
	rp->backup = r;
	return 0;
}
