/*
 * jzfp_schema - read or rewrite the schema number of a node's store, for
 * test_schema.py (a store as another version of jzfpd left it).
 *
 *   jzfp_schema DIR                     print the schema number held
 *   jzfp_schema DIR N [--drop TABLE]... write N as the schema, and delete
 *                                       the tables named (a store written
 *                                       before they existed)
 *   jzfp_schema DIR --fold-versions     the versions kept apart (version_new,
 *                                       node/registry/version.h) folded into
 *                                       the version index, their tables left
 *                                       empty: the same content
 *   jzfp_schema DIR --as-6              rewrite a store of this build's schema
 *                                       (7, STORE_SCHEMA) as schema 6 held the
 *                                       same content: each envelope back in
 *                                       `env` (log value origin(32) seq(8)
 *                                       envelope -> env origin seq ->
 *                                       envelope), each `log` value cut to its
 *                                       first 40 bytes, the schema 6
 *   jzfp_schema DIR --as-5              rewrite a schema-7 store as schema 5
 *                                       held the same content: as --as-6, the
 *                                       registry caught up with the log (no
 *                                       meta registry_at, apply.h "Deferred";
 *                                       refused if there is one), the schema 5
 *   jzfp_schema DIR --as-4              rewrite a schema-7 store as schema 4
 *                                       held the same content: as --as-5, each
 *                                       household state without its effective
 *                                       head's tag digest, the schema 4
 *   jzfp_schema DIR --as-3              rewrite a schema-7 store as schema 3
 *                                       held the same content: as --as-4, the
 *                                       versions folded, version_new and
 *                                       version_pend dropped, the schema 3
 *   jzfp_schema DIR --as-2              rewrite a schema-7 store as schema 2
 *                                       held the same content: as --as-3, the person
 *                                       index's changes merged (no person_new),
 *                                       the workflow tables keyed by proposal
 *                                       hash first (no household before it),
 *                                       hhprop made from the proposals
 *                                       (household(8) hash(32) -> empty), the
 *                                       schema 2: what `jzfpd --upgrade-store`
 *                                       (node/daemon/upgrade.h) reads
 *   jzfp_schema DIR --digest            one line per named table: its name,
 *                                       its entries and a BLAKE2b-256 of them
 *                                       (lengths and bytes of each key and
 *                                       value, in key order), to compare two
 *                                       stores' tables
 *   jzfp_schema DIR --keys TABLE        the keys of TABLE in hex, a line each
 *   jzfp_schema DIR --pad TABLE N       N entries of 4,000 bytes in TABLE
 *                                       (keys ff..ff followed by their number):
 *                                       a store larger than a small map
 *   jzfp_schema DIR --compact           rewrite data.mdb without free pages
 *                                       (mdb_env_copy2 MDB_CP_COMPACT): its
 *                                       map then has no room to spare
 *   jzfp_schema DIR --put TABLE KEY [VALUE]   store one entry (hex; VALUE
 *   jzfp_schema DIR --del TABLE KEY           empty if left out), or delete
 *                                       one: an entry a test wants broken
 *   jzfp_schema DIR --get TABLE KEY     print one entry's value in hex
 *                                       (exit 1 when there is none)
 *
 * Opens DIR's LMDB environment directly, not through store_open (which
 * refuses a store of another schema). Reads the key "schema" (8 bytes
 * big-endian) of the table STORE_META_NAME. Run it only on a store no node
 * has open. Exit status: 0, 1 on an error (said on stderr), 2 usage.
 */
#include "apply.h"
#include "bytes.h"
#include "hex.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --as-6 to --as-2 take a store of this build's schema: one more, and what
 * it holds that schema 6 did not is to be undone too. */
_Static_assert(STORE_SCHEMA == 7, "jzfp_schema rewrites a schema-7 store as schemas 6 to 2");

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "jzfp_schema: %s: %s\n", what, mdb_strerror(rc));
	return 1;
}

static int
usage(void)
{
	fprintf(
	    stderr,
	    "usage: jzfp_schema DIR [N [--drop TABLE]... | --fold-versions | --as-6 | --as-5 |\n"
	    "                        --as-4 | --as-3 | --as-2 | --digest | --keys TABLE |\n"
	    "                        --put TABLE KEY [VALUE] | --del TABLE KEY |\n"
	    "                        --get TABLE KEY | --pad TABLE N |\n"
	    "                        --compact]\n");
	return 2;
}

/* One entry copied out of the map. */
struct kv {
	uint8_t *k, *v;
	size_t kn, vn;
};

/* Every entry of the table NAME, copied into *OUT (*N of them), then the
 * table emptied. */
static int
take_all(MDB_txn *txn, const char *name, MDB_dbi *dbi, struct kv **out, size_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	int rc = mdb_dbi_open(txn, name, 0, dbi);
	if (rc == 0)
		rc = mdb_cursor_open(txn, *dbi, &cur);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct kv *m = realloc(*out, cap * sizeof(*m));
			if (!m) {
				rc = ENOMEM;
				break;
			}
			*out = m;
		}
		struct kv *e = &(*out)[(*n)++];
		e->kn = k.mv_size;
		e->vn = v.mv_size;
		e->k = malloc(k.mv_size + v.mv_size + 1);
		if (!e->k) {
			rc = ENOMEM;
			break;
		}
		e->v = e->k + k.mv_size;
		memcpy(e->k, k.mv_data, k.mv_size);
		memcpy(e->v, v.mv_data, v.mv_size);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	return mdb_drop(txn, *dbi, 0);
}

static void
free_all(struct kv *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].k);
	free(e);
}

/* The versions kept apart folded into the version index (see the top);
 * their tables dropped when DROP, else left empty. */
static int
fold_versions(MDB_txn *txn, bool drop)
{
	MDB_dbi version, apart, pend;
	struct kv *e;
	size_t n;
	int rc = mdb_dbi_open(txn, "version", 0, &version);
	if (rc || (rc = mdb_dbi_open(txn, "version_pend", 0, &pend)) ||
	    (rc = take_all(txn, "version_new", &apart, &e, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (e[i].vn <= 40) {
			fprintf(stderr, "jzfp_schema: version_new: a value of %zu bytes\n",
			        e[i].vn);
			rc = EINVAL;
			break;
		}
		MDB_val vk = {40, e[i].v}, vv = {e[i].vn - 40, e[i].v + 40};
		rc = mdb_put(txn, version, &vk, &vv, 0);
	}
	free_all(e, n);
	if (rc || (rc = mdb_drop(txn, pend, drop)))
		return rc;
	return drop ? mdb_drop(txn, apart, 1) : 0;
}

/* Each household state without its effective head's tag digest, as a
 * build of schema 4 wrote them (node/registry/household.c: the flags byte
 * at 91, bit 2 saying the 8 bytes after the heads are there; 165 bytes
 * before the heads, of 80 each, at least one). */
static int
untag_households(MDB_txn *txn)
{
	enum { FLAGS_AT = 91, HAS_TAGS = 4, STATE_MIN = 165 + 80 };
	MDB_dbi hh;
	struct kv *e;
	size_t n;
	int rc = take_all(txn, "household", &hh, &e, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		if (e[i].vn < STATE_MIN + 8) {
			if (e[i].vn < STATE_MIN || e[i].v[FLAGS_AT] & HAS_TAGS) {
				fprintf(stderr, "jzfp_schema: household: a state of %zu bytes\n",
				        e[i].vn);
				rc = EINVAL;
				break;
			}
		} else if (e[i].v[FLAGS_AT] & HAS_TAGS) {
			e[i].v[FLAGS_AT] &= (uint8_t)~HAS_TAGS;
			e[i].vn -= 8;
		}
		MDB_val k = {e[i].kn, e[i].k}, v = {e[i].vn, e[i].v};
		rc = mdb_put(txn, hh, &k, &v, 0);
	}
	free_all(e, n);
	return rc;
}

/* SCHEMA as the store's schema number. */
static int
put_schema(MDB_txn *txn, MDB_dbi meta, uint64_t schema)
{
	uint8_t buf[8];
	be64_put(buf, schema);
	MDB_val k = {6, (void *)"schema"}, v = {sizeof(buf), buf};
	return mdb_put(txn, meta, &k, &v, 0);
}

/* Is the schema of TXN's store WANT? Said when not. */
static int
schema_is(MDB_txn *txn, MDB_dbi meta, uint64_t want, const char *what)
{
	MDB_val k = {6, (void *)"schema"}, v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 8 || be64_get(v.mv_data) != want) {
		fprintf(stderr, "jzfp_schema: %s rewrites a schema-%" PRIu64 " store only\n", what,
		        want);
		return EINVAL;
	}
	return 0;
}

/* Each envelope back in `env` from its log entry, each log value cut to
 * its first 40 bytes (see the top): env[origin seq] must hold the entry's
 * log position. */
static int
envelopes_to_env(MDB_txn *txn)
{
	MDB_dbi env, log;
	struct kv *e;
	size_t n;
	int rc = mdb_dbi_open(txn, "env", 0, &env);
	if (rc || (rc = take_all(txn, "log", &log, &e, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		MDB_val lk = {e[i].kn, e[i].k}, ref = {40, e[i].v}, at;
		if (e[i].kn != 8 || e[i].vn <= 40 || (rc = mdb_get(txn, env, &ref, &at)) ||
		    at.mv_size != 8 || memcmp(at.mv_data, e[i].k, 8) != 0) {
			fprintf(stderr,
			        "jzfp_schema: log: an entry of a %zu-byte key and a %zu-byte value "
			        "whose env entry is not its position\n",
			        e[i].kn, e[i].vn);
			rc = rc ? rc : EINVAL;
			break;
		}
		MDB_val ev = {e[i].vn - 40, e[i].v + 40};
		if (!(rc = mdb_put(txn, log, &lk, &ref, MDB_APPEND)))
			rc = mdb_put(txn, env, &ref, &ev, 0);
	}
	free_all(e, n);
	return rc;
}

/* Is TXN's store of this build's schema? Said when not. Then its
 * envelopes back in `env`, as schema 6 held them. */
static int
as_schema_6(MDB_txn *txn, MDB_dbi meta, const char *what)
{
	int rc = schema_is(txn, meta, STORE_SCHEMA, what);
	return rc ? rc : envelopes_to_env(txn);
}

/* Is TXN's store of this build's schema, and its registry caught up with
 * the log (no meta registry_at: schema 5 has no registry behind it)? Said
 * when not. Then its envelopes back in `env` (as_schema_6). */
static int
as_schema_5(MDB_txn *txn, MDB_dbi meta, const char *what)
{
	int rc = schema_is(txn, meta, STORE_SCHEMA, what);
	if (rc)
		return rc;
	MDB_val k = {strlen(APPLY_META_REGISTRY_AT), (void *)APPLY_META_REGISTRY_AT}, v;
	if ((rc = mdb_get(txn, meta, &k, &v)) == MDB_NOTFOUND)
		return envelopes_to_env(txn);
	if (rc == 0) {
		fprintf(stderr,
		        "jzfp_schema: %s: meta %s is there (the registry behind the log), "
		        "which schema 5 does not hold\n",
		        what, APPLY_META_REGISTRY_AT);
		rc = EINVAL;
	}
	return rc;
}

/* Schema 7 -> 6 (see the top). */
static int
as_6(MDB_txn *txn, MDB_dbi meta)
{
	int rc = as_schema_6(txn, meta, "--as-6");
	return rc ? rc : put_schema(txn, meta, 6);
}

/* Schema 7 -> 5 (see the top). */
static int
as_5(MDB_txn *txn, MDB_dbi meta)
{
	int rc = as_schema_5(txn, meta, "--as-5");
	return rc ? rc : put_schema(txn, meta, 5);
}

/* Schema 7 -> 4 (see the top). */
static int
as_4(MDB_txn *txn, MDB_dbi meta)
{
	int rc = as_schema_5(txn, meta, "--as-4");
	if (!rc)
		rc = untag_households(txn);
	return rc ? rc : put_schema(txn, meta, 4);
}

/* Schema 7 -> 3 (see the top). */
static int
as_3(MDB_txn *txn, MDB_dbi meta)
{
	int rc = as_schema_5(txn, meta, "--as-3");
	if (!rc && !(rc = untag_households(txn)))
		rc = fold_versions(txn, true);
	return rc ? rc : put_schema(txn, meta, 3);
}

/* Schema 7 -> 2 (see the top). */
static int
as_2(MDB_txn *txn, MDB_dbi meta)
{
	int rc = as_schema_5(txn, meta, "--as-2");
	if (rc || (rc = untag_households(txn)) || (rc = fold_versions(txn, true)))
		return rc;
	/* The person index's changes merged into it, their table dropped. */
	MDB_dbi person, delta;
	struct kv *e;
	size_t n;
	bool has_delta = mdb_dbi_open(txn, "person_new", 0, &delta) == 0;
	if ((rc = mdb_dbi_open(txn, "person", 0, &person)) ||
	    (has_delta && (rc = take_all(txn, "person_new", &delta, &e, &n))))
		return rc;
	if (!has_delta) /* never opened by a schema-3 jzfpd since an upgrade */
		e = NULL, n = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		MDB_val pk = {e[i].kn, e[i].k}, none = {0, ""};
		if (e[i].vn == 1 && e[i].v[0])
			rc = mdb_put(txn, person, &pk, &none, 0);
		else if ((rc = mdb_del(txn, person, &pk, NULL)) == MDB_NOTFOUND)
			rc = 0;
	}
	free_all(e, n);
	if (rc || (has_delta && (rc = mdb_drop(txn, delta, 1))))
		return rc;
	/* The workflow tables without the household before their keys; hhprop
	 * made from the proposals' keys. */
	static const char *const rekeyed[] = {"proposal", "wfhist", "wfstep", "parked"};
	MDB_dbi hhprop;
	if ((rc = mdb_dbi_open(txn, "hhprop", MDB_CREATE, &hhprop)))
		return rc;
	for (size_t t = 0; t < sizeof(rekeyed) / sizeof(rekeyed[0]) && !rc; t++) {
		MDB_dbi d;
		if ((rc = take_all(txn, rekeyed[t], &d, &e, &n)))
			return rc;
		for (size_t i = 0; i < n && !rc; i++) {
			if (e[i].kn <= 8) {
				fprintf(stderr, "jzfp_schema: %s: a key of %zu bytes\n", rekeyed[t],
				        e[i].kn);
				rc = EINVAL;
				break;
			}
			MDB_val ok = {e[i].kn - 8, e[i].k + 8}, ov = {e[i].vn, e[i].v};
			rc = mdb_put(txn, d, &ok, &ov, 0);
			if (!rc && t == 0) {
				MDB_val hk = {e[i].kn, e[i].k}, none = {0, ""};
				rc = mdb_put(txn, hhprop, &hk, &none, 0);
			}
		}
		free_all(e, n);
	}
	return rc ? rc : put_schema(txn, meta, 2);
}

/* --put, --del or --get (see the top): ARGV[0] is the option, then its
 * words. */
static int
one_entry(MDB_txn *txn, int argc, char **argv)
{
	static uint8_t key[512], val[40 + 65536]; /* a log value of schema 7 */
	size_t kn = strlen(argv[2]) / 2, vn = argc > 3 ? strlen(argv[3]) / 2 : 0;
	if (kn == 0 || kn > sizeof(key) || vn > sizeof(val) || hex_decode(argv[2], key, kn) ||
	    (vn && hex_decode(argv[3], val, vn))) {
		fprintf(stderr, "jzfp_schema: KEY and VALUE are even-length hex\n");
		return EINVAL;
	}
	MDB_dbi d;
	int rc = mdb_dbi_open(txn, argv[1], 0, &d);
	if (rc)
		return rc;
	MDB_val k = {kn, key}, v = {vn, val};
	if (strcmp(argv[0], "--get") == 0) {
		if ((rc = mdb_get(txn, d, &k, &v)) == 0) {
			for (size_t i = 0; i < v.mv_size; i++)
				printf("%02x", ((const uint8_t *)v.mv_data)[i]);
			printf("\n");
		}
		return rc;
	}
	return strcmp(argv[0], "--put") == 0 ? mdb_put(txn, d, &k, &v, 0)
	                                     : mdb_del(txn, d, &k, NULL);
}

/* Print the keys of TABLE in hex (see the top). */
static int
print_keys(MDB_txn *txn, const char *table)
{
	MDB_dbi d;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_dbi_open(txn, table, 0, &d);
	if (rc == 0)
		rc = mdb_cursor_open(txn, d, &cur);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		for (size_t i = 0; i < k.mv_size; i++)
			printf("%02x", ((const uint8_t *)k.mv_data)[i]);
		printf("\n");
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Print the digest of every named table (see the top). */
static int
digest_all(MDB_txn *txn)
{
	MDB_dbi main_db;
	MDB_cursor *names;
	MDB_val k, v;
	int rc = mdb_dbi_open(txn, NULL, 0, &main_db);
	if (rc == 0)
		rc = mdb_cursor_open(txn, main_db, &names);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(names, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(names, &k, &v, MDB_NEXT)) {
		char name[128];
		if (k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = 0;
		MDB_dbi d;
		MDB_cursor *cur;
		if ((rc = mdb_dbi_open(txn, name, 0, &d)) || (rc = mdb_cursor_open(txn, d, &cur)))
			break;
		crypto_generichash_state h;
		crypto_generichash_init(&h, NULL, 0, 32);
		uint64_t n = 0;
		MDB_val ek, ev;
		int erc;
		for (erc = mdb_cursor_get(cur, &ek, &ev, MDB_FIRST); erc == 0;
		     erc = mdb_cursor_get(cur, &ek, &ev, MDB_NEXT), n++) {
			uint8_t len[16];
			be64_put(len, ek.mv_size);
			be64_put(len + 8, ev.mv_size);
			crypto_generichash_update(&h, len, sizeof(len));
			crypto_generichash_update(&h, ek.mv_data, ek.mv_size);
			crypto_generichash_update(&h, ev.mv_data, ev.mv_size);
		}
		mdb_cursor_close(cur);
		if (erc != MDB_NOTFOUND) {
			rc = erc;
			break;
		}
		uint8_t out[32];
		crypto_generichash_final(&h, out, sizeof(out));
		printf("%s %" PRIu64 " ", name, n);
		for (size_t i = 0; i < sizeof(out); i++)
			printf("%02x", out[i]);
		printf("\n");
	}
	mdb_cursor_close(names);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --pad (see the top): ARGV[0] is the option, then TABLE and N. */
static int
pad(MDB_txn *txn, char **argv)
{
	static uint8_t key[40], val[4000];
	char *end;
	unsigned long n = strtoul(argv[2], &end, 10);
	if (*end || !*argv[2] || n > 100000)
		return EINVAL;
	MDB_dbi d;
	int rc = mdb_dbi_open(txn, argv[1], 0, &d);
	memset(key, 0xff, 32);
	memset(val, 0x5a, sizeof(val));
	for (unsigned long i = 0; !rc && i < n; i++) {
		be64_put(key + 32, i);
		MDB_val k = {sizeof(key), key}, v = {sizeof(val), val};
		rc = mdb_put(txn, d, &k, &v, 0);
	}
	return rc;
}

/* --compact (see the top): ENV, open on DIR, copied into DIR/.compact and
 * moved over DIR/data.mdb. */
static int
compact(MDB_env *env, const char *dir)
{
	char tmp[4096], from[4200], to[4200];
	snprintf(tmp, sizeof(tmp), "%s/.compact", dir);
	snprintf(from, sizeof(from), "%s/data.mdb", tmp);
	snprintf(to, sizeof(to), "%s/data.mdb", dir);
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return errno;
	int rc = mdb_env_copy2(env, tmp, MDB_CP_COMPACT);
	if (rc == 0 && rename(from, to) != 0)
		rc = errno;
	unlink(from);
	rmdir(tmp);
	return rc;
}

/* Each mode below gets the transaction, the meta table and its words:
 * ARGV[0] the option (the schema number for a write of it), ARGC of them. */
typedef int mode_fn(MDB_txn *txn, MDB_dbi meta, int argc, char **argv);

static int
read_schema(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	MDB_val k = {6, (void *)"schema"}, v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 8) {
		fprintf(stderr, "jzfp_schema: the schema is %zu bytes, not 8\n", v.mv_size);
		return EINVAL;
	}
	printf("%" PRIu64 "\n", be64_get(v.mv_data));
	return 0;
}

/* N [--drop TABLE]...: N as the schema, the tables named deleted. */
static int
write_schema(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	char *end;
	errno = 0;
	uint64_t want = strtoull(argv[0], &end, 10);
	if (errno || !*argv[0] || *end || argc % 2 == 0)
		return EINVAL;
	for (int i = 1; i < argc; i += 2)
		if (strcmp(argv[i], "--drop") != 0)
			return EINVAL;
	int rc = put_schema(txn, meta, want);
	for (int i = 2; !rc && i < argc; i += 2) {
		MDB_dbi d;
		if (!(rc = mdb_dbi_open(txn, argv[i], 0, &d)))
			rc = mdb_drop(txn, d, 1);
	}
	return rc;
}

static int
as_2_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return as_2(txn, meta);
}

static int
as_3_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return as_3(txn, meta);
}

static int
as_4_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return as_4(txn, meta);
}

static int
as_5_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return as_5(txn, meta);
}

static int
as_6_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return as_6(txn, meta);
}

static int
fold_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)meta;
	(void)argc;
	(void)argv;
	return fold_versions(txn, false);
}

static int
digest_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)meta;
	(void)argc;
	(void)argv;
	return digest_all(txn);
}

static int
keys_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)meta;
	(void)argc;
	return print_keys(txn, argv[1]);
}

static int
pad_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)meta;
	(void)argc;
	return pad(txn, argv);
}

static int
edit_mode(MDB_txn *txn, MDB_dbi meta, int argc, char **argv)
{
	(void)meta;
	return one_entry(txn, argc, argv);
}

/* The modes by option, with how many words they take (the option among
 * them) and whether they write. */
static const struct mode {
	const char *opt;
	int min, max;
	bool write;
	mode_fn *run;
} modes[] = {
    {"--as-2", 1, 1, true, as_2_mode},      {"--as-3", 1, 1, true, as_3_mode},
    {"--as-4", 1, 1, true, as_4_mode},      {"--as-5", 1, 1, true, as_5_mode},
    {"--as-6", 1, 1, true, as_6_mode},      {"--fold-versions", 1, 1, true, fold_mode},
    {"--digest", 1, 1, false, digest_mode}, {"--keys", 2, 2, false, keys_mode},
    {"--pad", 3, 3, true, pad_mode},        {"--put", 3, 4, true, edit_mode},
    {"--del", 3, 3, true, edit_mode},       {"--get", 3, 3, false, edit_mode},
};

/* RUN in a transaction of DIR's store (committed when WRITE and RUN did
 * not fail), with the meta table open. */
static int
in_txn(const char *dir, bool write, mode_fn *run, int argc, char **argv, const char *what)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	int rc = mdb_env_create(&env);
	if (rc)
		return fail("mdb_env_create", rc);
	mdb_env_set_maxdbs(env, 64);
	if ((rc = mdb_env_open(env, dir, write ? 0 : MDB_RDONLY, 0600))) {
		mdb_env_close(env);
		return fail(dir, rc);
	}
	if ((rc = mdb_txn_begin(env, NULL, write ? 0 : MDB_RDONLY, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, STORE_META_NAME, 0, &meta)) == 0)
			rc = run(txn, meta, argc, argv);
		if (rc == 0 && write)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc ? fail(what, rc) : 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *dir = argv[1];
	int nw = argc - 2; /* the words after DIR */
	char **w = argv + 2;
	if (nw == 0)
		return in_txn(dir, false, read_schema, 0, w, "reading the schema");
	if (nw == 1 && strcmp(w[0], "--compact") == 0) {
		MDB_env *env;
		int rc = mdb_env_create(&env);
		if (rc)
			return fail("mdb_env_create", rc);
		mdb_env_set_maxdbs(env, 64);
		if ((rc = mdb_env_open(env, dir, MDB_RDONLY, 0600)) == 0)
			rc = compact(env, dir);
		mdb_env_close(env);
		return rc ? fail("compacting", rc) : 0;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(w[0], modes[i].opt) == 0)
			return nw < modes[i].min || nw > modes[i].max
			           ? usage()
			           : in_txn(dir, modes[i].write, modes[i].run, nw, w, modes[i].opt);
	if (w[0][0] == '-' || nw % 2 == 0)
		return usage();
	return in_txn(dir, true, write_schema, nw, w, "rewriting the schema");
}
