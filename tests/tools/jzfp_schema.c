/*
 * jzfp_schema - read or rewrite the schema number of a node's store, for
 * test_schema.py (a store as another version of jzfpd left it).
 *
 *   jzfp_schema DIR                     print the schema number held
 *   jzfp_schema DIR N [--drop TABLE]... write N as the schema, and delete
 *                                       the tables named (a store written
 *                                       before they existed)
 *
 * Opens DIR's LMDB environment directly, not through store_open (which
 * refuses a store of another schema). Reads the key "schema" (8 bytes
 * big-endian) of the table STORE_META_NAME. Run it only on a store no node
 * has open. Exit status: 0, 1 on an error (said on stderr), 2 usage.
 */
#include "bytes.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "jzfp_schema: %s: %s\n", what, mdb_strerror(rc));
	return 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: jzfp_schema DIR [N [--drop TABLE]...]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *dir = argv[1];
	bool write = argc >= 3;
	uint64_t want = 0;
	if (write) {
		char *end;
		errno = 0;
		want = strtoull(argv[2], &end, 10);
		if (errno || !*argv[2] || *end)
			return usage();
		for (int i = 3; i < argc; i += 2)
			if (strcmp(argv[i], "--drop") != 0 || i + 1 >= argc)
				return usage();
	}
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc)
		return fail("mdb_env_create", rc);
	mdb_env_set_maxdbs(env, 64);
	if ((rc = mdb_env_open(env, dir, write ? 0 : MDB_RDONLY, 0600))) {
		mdb_env_close(env);
		return fail(dir, rc);
	}
	MDB_txn *txn;
	MDB_dbi meta;
	if ((rc = mdb_txn_begin(env, NULL, write ? 0 : MDB_RDONLY, &txn))) {
		mdb_env_close(env);
		return fail("mdb_txn_begin", rc);
	}
	if ((rc = mdb_dbi_open(txn, STORE_META_NAME, 0, &meta)))
		goto out;
	MDB_val k = {6, (void *)"schema"}, v;
	if (!write) {
		if ((rc = mdb_get(txn, meta, &k, &v)))
			goto out;
		if (v.mv_size != 8) {
			fprintf(stderr, "jzfp_schema: the schema is %zu bytes, not 8\n", v.mv_size);
			mdb_txn_abort(txn);
			mdb_env_close(env);
			return 1;
		}
		printf("%" PRIu64 "\n", be64_get(v.mv_data));
		mdb_txn_abort(txn);
		mdb_env_close(env);
		return 0;
	}
	uint8_t buf[8];
	be64_put(buf, want);
	v = (MDB_val){sizeof(buf), buf};
	if ((rc = mdb_put(txn, meta, &k, &v, 0)))
		goto out;
	for (int i = 4; i < argc; i += 2) {
		MDB_dbi d;
		if ((rc = mdb_dbi_open(txn, argv[i], 0, &d)) || (rc = mdb_drop(txn, d, 1)))
			goto out;
	}
	rc = mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc ? fail("mdb_txn_commit", rc) : 0;
out:
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return fail(write ? "rewriting the schema" : "reading the schema", rc);
}
