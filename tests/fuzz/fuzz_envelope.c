/*
 * fuzz_envelope.c - libFuzzer target for envelope_decode and the record
 * decoders (envelope.h, record.h): the bytes every node stores and relays
 * for others.
 *
 * Oracles, for every input:
 *   - envelope_decode returns 0, JZ_EPARSE or JZ_ETOOBIG; on success every
 *     view lies inside the input, the hash is BLAKE2b-256 of the input, and
 *     envelope_sig_ok and envelope_verify_run agree (run of one);
 *   - a decoded envelope's fields, signed again with a fixed test key by
 *     envelope_build, decode to the same fields and a good signature;
 *   - each record decoder is run on the body (and the sealed box as the
 *     personal part) and on the raw input; a record that decodes encodes
 *     (record.h promises the same limits both ways), and decodes again to
 *     the same struct; every string of a decoded record is clean text
 *     (text.h: no C0/C1 control, no bidi override, valid UTF-8);
 *   - the held-ahead decision (hlc_held_until, as node/replication/apply.c takes it) for
 *     a decoded envelope's hlc against receiver clocks around it: held
 *     exactly when the envelope is dated more than max_skew ahead of the
 *     clock, held until its own date, never held once the clock reaches
 *     that date, and held at every earlier clock if held at one.
 */
#include "envelope.h"
#include "fuzz.h"
#include "hlc.h"
#include "ident.h"
#include "record.h"
#include "text.h"

#include <stdbool.h>

/* The key that re-signs decoded envelopes; made once per process. */
static struct ident *
fuzz_ident(void)
{
	static struct ident *id;
	if (!id) {
		uint8_t seed[IDENT_SEED_LEN];
		memset(seed, 0x5a, sizeof(seed));
		FUZZ_CHECK(ident_from_seed(&id, seed) == 0);
	}
	return id;
}

/* ------------------------------------------------------------ records */

/* A decoded string field: terminated in its array and clean text. */
#define CLEAN(field)                                                                               \
	FUZZ_CHECK(fuzz_terminated((field), sizeof(field)) &&                                      \
	           text_is_clean((field), strlen(field), 0, NULL))

static bool
household_equal(const struct rec_household *a, const struct rec_household *b)
{
	if (a->id != b->id || a->village != b->village || a->year != b->year ||
	    a->standard != b->standard || a->attribute != b->attribute ||
	    a->main_cause != b->main_cause || a->n_other != b->n_other ||
	    a->income_fen != b->income_fen || a->relocated != b->relocated ||
	    a->status != b->status || a->n_members != b->n_members ||
	    a->n_parents != b->n_parents || a->proposes != b->proposes ||
	    a->from_status != b->from_status)
		return false;
	if (memcmp(a->other_causes, b->other_causes, a->n_other) != 0)
		return false;
	for (size_t i = 0; i < a->n_members; i++) {
		const struct rec_member *x = &a->members[i], *y = &b->members[i];
		if (memcmp(x->pid_tag, y->pid_tag, REC_PID_TAG_LEN) != 0 ||
		    x->health != y->health || x->labour != y->labour)
			return false;
	}
	for (size_t i = 0; i < a->n_parents; i++)
		if (memcmp(a->parents[i], b->parents[i], REC_HASH_LEN) != 0)
			return false;
	return true;
}

static bool
personal_equal(const struct rec_personal *a, const struct rec_personal *b)
{
	if (a->n != b->n || strcmp(a->phone, b->phone) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct rec_person *x = &a->members[i], *y = &b->members[i];
		if (strcmp(x->name, y->name) != 0 || strcmp(x->id_number, y->id_number) != 0 ||
		    strcmp(x->birth_date, y->birth_date) != 0 || x->relation != y->relation ||
		    x->sex != y->sex || x->ethnicity != y->ethnicity ||
		    x->schooling != y->schooling)
			return false;
	}
	return true;
}

static bool
census_equal(const struct rec_census *a, const struct rec_census *b)
{
	return a->village == b->village && strcmp(a->name, b->name) == 0 && a->year == b->year &&
	       a->households == b->households && a->population == b->population;
}

static bool
node_equal(const struct rec_node *a, const struct rec_node *b)
{
	return a->area == b->area && a->level == b->level && strcmp(a->name, b->name) == 0;
}

/*
 * The later kinds: whatever decodes encodes, and that encoding decodes and
 * encodes again to the same bytes (the encoders are deterministic, so equal
 * bytes mean equal records).
 */
#define ROUND_TRIP(type, x1, x2, p, n, buf, buf2)                                                  \
	do {                                                                                       \
		size_t l1_, l2_;                                                                   \
		int rc_ = rec_##type##_decode(&(x1), (p), (n));                                    \
		FUZZ_CHECK(rc_ == 0 || rc_ == JZ_EPARSE);                                          \
		if (rc_ == 0) {                                                                    \
			FUZZ_CHECK(rec_##type##_encode(&(x1), (buf), REC_MAX_ENCODED, &l1_) == 0); \
			FUZZ_CHECK(rec_##type##_decode(&(x2), (buf), l1_) == 0);                   \
			FUZZ_CHECK(rec_##type##_encode(&(x2), (buf2), REC_MAX_ENCODED, &l2_) ==    \
			           0);                                                             \
			FUZZ_CHECK(l1_ == l2_ && memcmp((buf), (buf2), l1_) == 0);                 \
		}                                                                                  \
	} while (0)

static void
later_records(const uint8_t *p, size_t n, uint8_t *buf)
{
	static uint8_t buf2[REC_MAX_ENCODED];
	static struct rec_policy po1, po2;
	static struct rec_workflow w1, w2;
	static struct rec_objector o1, o2;
	static struct rec_keyrec k1, k2;
	static struct rec_revocation r1, r2;
	static struct rec_receipt c1, c2;

	ROUND_TRIP(policy, po1, po2, p, n, buf, buf2);
	ROUND_TRIP(workflow, w1, w2, p, n, buf, buf2);
	if (rec_workflow_decode(&w1, p, n) == 0)
		CLEAN(w1.reason);
	ROUND_TRIP(objector, o1, o2, p, n, buf, buf2);
	if (rec_objector_decode(&o1, p, n) == 0) {
		CLEAN(o1.name);
		CLEAN(o1.contact);
	}
	ROUND_TRIP(keyrec, k1, k2, p, n, buf, buf2);
	ROUND_TRIP(revocation, r1, r2, p, n, buf, buf2);
	if (rec_revocation_decode(&r1, p, n) == 0)
		CLEAN(r1.reason);
	ROUND_TRIP(receipt, c1, c2, p, n, buf, buf2);
}

/* Decode p[0..n) as each kind of record; whatever decodes must survive
 * encode and decode unchanged. buf holds REC_MAX_ENCODED bytes. */
static void
records(const uint8_t *p, size_t n, uint8_t *buf)
{
	struct rec_household h1, h2;
	struct rec_personal p1, p2;
	struct rec_census c1, c2;
	struct rec_node d1, d2;
	size_t len;
	int rc;

	rc = rec_household_decode(&h1, p, n);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE);
	if (rc == 0) {
		FUZZ_CHECK(rec_household_check(&h1) == 0);
		FUZZ_CHECK(rec_household_encode(&h1, buf, REC_MAX_ENCODED, &len) == 0);
		FUZZ_CHECK(len <= REC_MAX_ENCODED);
		FUZZ_CHECK(rec_household_decode(&h2, buf, len) == 0);
		FUZZ_CHECK(household_equal(&h1, &h2));
	}

	rc = rec_personal_decode(&p1, p, n);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE);
	if (rc == 0) {
		FUZZ_CHECK(rec_personal_check(&p1) == 0);
		CLEAN(p1.phone);
		for (size_t i = 0; i < p1.n; i++) {
			CLEAN(p1.members[i].name);
			CLEAN(p1.members[i].id_number);
			CLEAN(p1.members[i].birth_date);
		}
		FUZZ_CHECK(rec_personal_encode(&p1, buf, REC_MAX_ENCODED, &len) == 0);
		FUZZ_CHECK(len <= REC_MAX_ENCODED);
		FUZZ_CHECK(rec_personal_decode(&p2, buf, len) == 0);
		FUZZ_CHECK(personal_equal(&p1, &p2));
	}

	rc = rec_census_decode(&c1, p, n);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE);
	if (rc == 0) {
		CLEAN(c1.name);
		FUZZ_CHECK(rec_census_encode(&c1, buf, REC_MAX_ENCODED, &len) == 0);
		FUZZ_CHECK(rec_census_decode(&c2, buf, len) == 0);
		FUZZ_CHECK(census_equal(&c1, &c2));
	}

	rc = rec_node_decode(&d1, p, n);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE);
	if (rc == 0) {
		CLEAN(d1.name);
		FUZZ_CHECK(rec_node_encode(&d1, buf, REC_MAX_ENCODED, &len) == 0);
		FUZZ_CHECK(rec_node_decode(&d2, buf, len) == 0);
		FUZZ_CHECK(node_equal(&d1, &d2));
	}
	later_records(p, n, buf);
}

/* ------------------------------------------------------------ envelopes */

static bool
inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return n == 0 || (p >= data && p + n <= data + size);
}

static bool
bytes_equal(struct bytes a, struct bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Sign e's fields again with the test key and check they come back. */
static void
rebuild(const struct envelope *e, uint8_t *buf)
{
	struct env_fields f = {
	    .seq = e->seq,
	    .prev = e->has_prev ? e->prev : NULL,
	    .hlc = e->hlc,
	    .kind = e->kind,
	    .subject = e->subject,
	    .body = e->body,
	    .sealed_box = e->sealed_box,
	    .sealed_key_record = e->sealed_key_record,
	    .sealed_nonce = e->sealed_nonce,
	};
	struct envelope e2;
	size_t n = 0;

	/* The rebuilt envelope holds the known fields of the input, written
	 * minimally, so it is never larger than ENV_MAX_SIZE. */
	FUZZ_CHECK(envelope_build(fuzz_ident(), &f, buf, ENV_MAX_SIZE, &n) == 0);
	FUZZ_CHECK(envelope_decode(&e2, buf, n) == 0);
	FUZZ_CHECK(memcmp(e2.origin, ident_public(fuzz_ident()), ENV_ORIGIN_LEN) == 0);
	FUZZ_CHECK(e2.seq == e->seq && e2.has_prev == e->has_prev &&
	           memcmp(e2.prev, e->prev, ENV_HASH_LEN) == 0 && e2.hlc == e->hlc &&
	           e2.kind == e->kind && e2.subject == e->subject);
	FUZZ_CHECK(bytes_equal(e2.body, e->body));
	FUZZ_CHECK(bytes_equal(e2.sealed_box, e->sealed_box));
	if (e->sealed_box.n > 0) {
		FUZZ_CHECK(e2.has_sealed);
		FUZZ_CHECK(bytes_equal(e2.sealed_key_record, e->sealed_key_record));
		FUZZ_CHECK(bytes_equal(e2.sealed_nonce, e->sealed_nonce));
	}
	FUZZ_CHECK(envelope_sig_ok(&e2));
}

/* The held-ahead decision for e at receiver clocks around its date. */
static void
held_ahead(const struct envelope *e)
{
	const uint64_t skews[] = {0, 1, 300000, 2592000000ULL, UINT64_MAX};
	uint64_t t = hlc_ms(e->hlc);

	for (size_t k = 0; k < sizeof(skews) / sizeof(skews[0]); k++) {
		uint64_t skew = skews[k];
		uint64_t below = t > skew ? t - skew : 0;
		const uint64_t nows[] = {
		    0,     1,      below,      below ? below - 1 : 0, t,
		    t + 1, e->seq, e->subject, UINT64_MAX - skew,     UINT64_MAX};
		for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
			uint64_t now = nows[i];
			uint64_t until = hlc_held_until(e->hlc, now, skew);
			bool ahead = t > now && t - now > skew;

			FUZZ_CHECK(ahead ? until == t : until == 0);
			if (now >= t)
				FUZZ_CHECK(until == 0); /* the clock reached it */
			if (until && now > 0)
				FUZZ_CHECK(hlc_held_until(e->hlc, now - 1, skew) == t);
		}
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	(void)fuzz_ident();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(ENV_MAX_SIZE);
	struct envelope e;
	int rc;

	FUZZ_CHECK(buf != NULL);
	rc = envelope_decode(&e, data, size);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE || rc == JZ_ETOOBIG);
	if (rc == 0) {
		uint8_t hash[ENV_HASH_LEN];
		const struct envelope *run[1] = {&e};
		size_t bad = (size_t)-1;

		FUZZ_CHECK(e.raw.p == data && e.raw.n == size);
		FUZZ_CHECK(inside(e.signed_bytes.p, e.signed_bytes.n, data, size));
		FUZZ_CHECK(inside(e.sig, ENV_SIG_LEN, data, size));
		FUZZ_CHECK(inside(e.body.p, e.body.n, data, size));
		FUZZ_CHECK(inside(e.sealed_box.p, e.sealed_box.n, data, size));
		FUZZ_CHECK(inside(e.sealed_key_record.p, e.sealed_key_record.n, data, size));
		FUZZ_CHECK(inside(e.sealed_nonce.p, e.sealed_nonce.n, data, size));
		FUZZ_CHECK(e.seq >= 1 && e.has_prev == (e.seq > 1));
		FUZZ_CHECK(envelope_kind_is_known(e.kind));
		envelope_hash(data, size, hash);
		FUZZ_CHECK(memcmp(hash, e.hash, ENV_HASH_LEN) == 0);

		bool ok = envelope_sig_ok(&e);
		rc = envelope_verify_run(run, 1, &bad);
		FUZZ_CHECK(ok ? rc == 0 : (rc == JZ_EFORGED && bad == 0));

		rebuild(&e, buf);
		held_ahead(&e);

		/* The body as its kind says, and as every other kind. */
		records(e.body.p, e.body.n, buf);
		if (e.sealed_box.n > 0)
			records(e.sealed_box.p, e.sealed_box.n, buf);
	}
	records(data, size, buf);
	free(buf);
	return 0;
}
