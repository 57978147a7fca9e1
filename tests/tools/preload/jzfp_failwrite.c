/*
 * jzfp_failwrite.c - LD_PRELOAD shim for integration tests: a store write
 * that fails on demand, as on a full disk.
 *
 * While the file named by JZFP_FAILWRITE_TRIGGER exists, the next write of
 * data pages to a data.mdb (LMDB's pwrite or writev, at a commit) removes
 * it and fails with ENOSPC; the transaction is then lost, as LMDB promises,
 * and the daemon goes on. With JZFP_FAILWRITE_STICKY=1 the file is left in
 * place and every such write fails while it exists (a disk that stays full
 * until the test removes the file): a failure that is retried goes on
 * failing, so the state it leaves can be looked at without a race. Never a
 * write of LMDB's meta pages (the first two): one failing there, after the
 * data, would leave LMDB's environment unusable until the process restarts.
 * Everything else passes through. Test-only: never linked into jzfpd,
 * loaded by test_commit_fault.py (one failure) and test_registry_fail.py
 * (sticky) into one daemon's process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* LMDB's two meta pages come first in its file (4 KiB pages here). */
#define META_END (2 * 4096)

/* Is this a write of data pages at OFFSET to the store's data file FD, and
 * was a failure asked for? Takes it, unless sticky. */
static bool
fail_now(int fd, off_t offset)
{
	const char *trigger = getenv("JZFP_FAILWRITE_TRIGGER");
	if (!trigger || offset < META_END || access(trigger, F_OK) != 0)
		return false;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return false;
	path[n] = 0;
	size_t len = (size_t)n;
	if (len < 8 || strcmp(path + len - 8, "data.mdb") != 0)
		return false;
	/* Sticky: every write while the trigger exists; else one per trigger. */
	const char *sticky = getenv("JZFP_FAILWRITE_STICKY");
	if (sticky && strcmp(sticky, "1") == 0)
		return true;
	return unlink(trigger) == 0;
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	if (fail_now(fd, offset)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, count, offset);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite64");
	if (fail_now(fd, (off_t)offset)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, count, offset);
}

/* LMDB writes runs of pages with writev after seeking to them. */
ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "writev");
	if (fail_now(fd, lseek(fd, 0, SEEK_CUR))) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, iovcnt);
}
