/*
 * testutil.h - helpers shared by the unit tests: temporary directories, and
 * a store in one.
 */
#ifndef JZFP_TESTUTIL_H
#define JZFP_TESTUTIL_H

#include <stddef.h>

/* Make a fresh directory under $TMPDIR (or /tmp); writes its path to buf. */
void test_tmpdir(char *buf, size_t len);

/* Remove a directory made by test_tmpdir, with everything in it. */
void test_rmtree(const char *path);

struct store;
struct store_layout;

/* Open a store of MAP_SIZE bytes with LAYOUT's tables in a fresh
 * test_tmpdir, its path written to DIR. Returns 0, or -1 (the directory
 * removed) for a failed setup. */
int test_store_open(struct store **st, char *dir, size_t dirlen, size_t map_size,
                    const struct store_layout *layout);

/* Close *ST (NULL-safe) and remove DIR. */
void test_store_close(struct store **st, const char *dir);

#endif
