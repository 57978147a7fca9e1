/*
 * testutil.h - helpers shared by the unit tests: temporary directories.
 */
#ifndef JZFP_TESTUTIL_H
#define JZFP_TESTUTIL_H

#include <stddef.h>

/* Make a fresh directory under $TMPDIR (or /tmp); writes its path to buf. */
void test_tmpdir(char *buf, size_t len);

/* Remove a directory made by test_tmpdir, with everything in it. */
void test_rmtree(const char *path);

#endif
