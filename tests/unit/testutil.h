/*
 * testutil.h - helpers shared by the unit tests: temporary directories, and
 * a store in one.
 */
#ifndef JZFP_TESTUTIL_H
#define JZFP_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Make a fresh directory under $TMPDIR (or /tmp); writes its path to buf. */
void test_tmpdir(char *buf, size_t len);

/* Remove a directory made by test_tmpdir, with everything in it. */
void test_rmtree(const char *path);

/* The next number of the xorshift64 sequence in *STATE (nonzero): the
 * tests' repeatable randomness, the same sequence from the same seed. */
uint64_t test_rnd(uint64_t *state);

struct store;
struct store_layout;

/* Open a store of MAP_SIZE bytes with LAYOUT's tables in a fresh
 * test_tmpdir, its path written to DIR. Returns 0, or -1 (the directory
 * removed) for a failed setup. */
int test_store_open(struct store **st, char *dir, size_t dirlen, size_t map_size,
                    const struct store_layout *layout);

/* Close *ST (NULL-safe) and remove DIR. */
void test_store_close(struct store **st, const char *dir);

/* The first member of a cmocka fixture that holds one open store. */
struct test_store {
	char dir[512];
	struct store *st;
};

/* A zeroed fixture of SIZE bytes that begins with a struct test_store, its
 * store opened (test_store_open), into *STATE. Returns 0, or -1 with nothing
 * left behind. */
int test_store_setup(void **state, size_t size, size_t map_size, const struct store_layout *layout);

/* Close the store of the fixture in *STATE, remove its directory, free it. */
int test_store_teardown(void **state);

#endif
