/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz share: the entry points'
 * prototypes, a check that aborts (so libFuzzer saves the input), and a
 * scratch file for the APIs that take a path (config_load, the CSV imports).
 *
 * Build with -DJZFP_FUZZ=ON under clang (scripts/fuzz.sh does it); each
 * fuzz_<name>.c becomes bin/fuzz_<name>.
 */
#ifndef JZFP_FUZZ_H
#define JZFP_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An oracle that must hold for every input. abort() makes libFuzzer report a
 * crash and write the input to crash-<sha1>. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__,      \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* One scratch file per process, in a fresh directory under $TMPDIR (or /tmp),
 * removed at normal exit (libFuzzer exits normally after -runs or
 * -max_total_time; after a crash the directory stays behind). */
struct fuzz_scratch {
	char dir[PATH_MAX];
	char path[PATH_MAX];
};

static inline struct fuzz_scratch *
fuzz_scratch_get(void)
{
	static struct fuzz_scratch s;
	return &s;
}

static inline void
fuzz_scratch_cleanup(void)
{
	struct fuzz_scratch *s = fuzz_scratch_get();
	if (s->path[0])
		unlink(s->path);
	if (s->dir[0])
		rmdir(s->dir);
}

/* Make the directory; name is the file's name in it (config_load resolves
 * relative paths against the file's directory). Aborts on failure: a fuzzer
 * that cannot write its input tests nothing. */
static inline void
fuzz_scratch_init(const char *name)
{
	struct fuzz_scratch *s = fuzz_scratch_get();
	const char *tmp = getenv("TMPDIR");
	int n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = snprintf(s->dir, sizeof(s->dir), "%s/jzfp-fuzz-XXXXXX", tmp);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(s->dir));
	FUZZ_CHECK(mkdtemp(s->dir) != NULL);
	n = snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, name);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(s->path));
	FUZZ_CHECK(atexit(fuzz_scratch_cleanup) == 0);
}

/* Replace the scratch file's contents with p[0..n) and return its path.
 * The bytes are written over the old ones and the file cut to n after, not
 * opened with O_TRUNC: ext4 writes a file truncated to zero out to disk when
 * it is closed (auto_da_alloc), which cost a disk write per input. */
static inline const char *
fuzz_scratch_write(const uint8_t *p, size_t n)
{
	struct fuzz_scratch *s = fuzz_scratch_get();
	int fd = open(s->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	size_t len = n;

	FUZZ_CHECK(fd >= 0);
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		FUZZ_CHECK(k > 0);
		p += k;
		n -= (size_t)k;
	}
	FUZZ_CHECK(ftruncate(fd, (off_t)len) == 0);
	FUZZ_CHECK(close(fd) == 0);
	return s->path;
}

/* Is s NUL-terminated within cap bytes? */
static inline int
fuzz_terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

#endif
