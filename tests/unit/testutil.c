#include "testutil.h"

#include "store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void
test_tmpdir(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");
	snprintf(buf, len, "%s/jzfp-test-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(buf)) {
		perror("mkdtemp");
		abort();
	}
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
test_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
test_store_open(struct store **st, char *dir, size_t dirlen, size_t map_size,
                const struct store_layout *layout)
{
	test_tmpdir(dir, dirlen);
	if (store_open(st, dir, map_size, layout) == 0)
		return 0;
	test_rmtree(dir);
	return -1;
}

void
test_store_close(struct store **st, const char *dir)
{
	store_close(st);
	test_rmtree(dir);
}

int
test_store_setup(void **state, size_t size, size_t map_size, const struct store_layout *layout)
{
	struct test_store *ts = calloc(1, size);
	if (!ts)
		return -1;
	if (test_store_open(&ts->st, ts->dir, sizeof(ts->dir), map_size, layout)) {
		free(ts);
		return -1;
	}
	*state = ts;
	return 0;
}

int
test_store_teardown(void **state)
{
	struct test_store *ts = *state;
	test_store_close(&ts->st, ts->dir);
	free(ts);
	return 0;
}

uint64_t
test_rnd(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}
