/*
 * gen_corpus.c - write the generated seeds of tests/fuzz/corpus: frames for
 * fuzz_wire and envelopes and records for fuzz_envelope. Deterministic (fixed
 * keys, epochs and clocks), so regenerating changes nothing unless the
 * encoders do.
 *
 *   build-fuzz/bin/gen_corpus tests/fuzz/corpus
 *
 * The CSV and INI seeds are copies of tests/data (see scripts/fuzz.sh).
 * Nothing here is real data: names and ID numbers are invented.
 */
#include "envelope.h"
#include "ident.h"
#include "record.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "gen_corpus: %s:%d: %s failed\n", __FILE__, __LINE__, #x); \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static void
put(const char *dir, const char *sub, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

static void
put_frame(const char *dir, const char *name, const struct wire_frame *fr)
{
	uint8_t *p = NULL;
	size_t n = 0;

	CHECK(wire_encode(fr, &p, &n) == 0);
	put(dir, "wire", name, p, n);
	free(p);
}

struct env_out {
	uint8_t buf[2048];
	size_t n;
	uint8_t hash[ENV_HASH_LEN];
};

static void
sign(const struct ident *id, struct env_fields *f, struct env_out *out)
{
	CHECK(envelope_build(id, f, out->buf, sizeof(out->buf), &out->n) == 0);
	envelope_hash(out->buf, out->n, out->hash);
}

int
main(int argc, char **argv)
{
	struct ident *id = NULL;
	uint8_t seed[IDENT_SEED_LEN];
	uint8_t node_b[256], hh_b[1024], pers_b[1024], census_b[256];
	size_t node_n, hh_n, pers_n, census_n;
	struct env_out e_node, e_hh, e_census, e_forged;
	const char *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR   (writes DIR/wire and DIR/envelope)\n");
		return 2;
	}
	dir = argv[1];
	memset(seed, 0x11, sizeof(seed));
	CHECK(ident_from_seed(&id, seed) == 0);

	/* Records. */
	struct rec_node nd = {.area = 630121101001ULL, .level = 1};
	strcpy(nd.name, "桥头镇新庄村");
	CHECK(rec_node_encode(&nd, node_b, sizeof(node_b), &node_n) == 0);

	struct rec_household hh = {
	    .id = 6301211010010001ULL,
	    .village = 630121101001ULL,
	    .year = 2019,
	    .standard = 1,
	    .attribute = 2,
	    .main_cause = 1,
	    .n_other = 2,
	    .other_causes = {3, 12},
	    .income_fen = 366537,
	    .relocated = true,
	    .status = HH_POOR,
	    .n_members = 2,
	    .n_parents = 1,
	};
	memset(hh.members[0].pid_tag, 0xa1, REC_PID_TAG_LEN);
	hh.members[0].health = 1;
	hh.members[0].labour = 3;
	memset(hh.members[1].pid_tag, 0xb2, REC_PID_TAG_LEN);
	hh.members[1].health = 2;
	hh.members[1].labour = 4;
	memset(hh.parents[0], 0xc3, REC_HASH_LEN);
	CHECK(rec_household_encode(&hh, hh_b, sizeof(hh_b), &hh_n) == 0);

	struct rec_personal pers = {.n = 2};
	strcpy(pers.members[0].name, "朱国");
	strcpy(pers.members[0].id_number, "630122194601117474");
	strcpy(pers.members[0].birth_date, "1946-01-11");
	pers.members[0].relation = 1;
	pers.members[0].sex = 1;
	pers.members[0].ethnicity = 1;
	pers.members[0].schooling = 3;
	strcpy(pers.members[1].name, "魏林福");
	strcpy(pers.members[1].id_number, "630121194808071841");
	strcpy(pers.members[1].birth_date, "1948-08-07");
	pers.members[1].relation = 2;
	pers.members[1].sex = 2;
	strcpy(pers.phone, "13800000000");
	CHECK(rec_personal_encode(&pers, pers_b, sizeof(pers_b), &pers_n) == 0);

	struct rec_census cs = {
	    .village = 630121101001ULL, .year = 2019, .households = 802, .population = 2963};
	strcpy(cs.name, "桥头镇新庄村");
	CHECK(rec_census_encode(&cs, census_b, sizeof(census_b), &census_n) == 0);

	put(dir, "envelope", "rec_node.pb", node_b, node_n);
	put(dir, "envelope", "rec_household.pb", hh_b, hh_n);
	put(dir, "envelope", "rec_personal.pb", pers_b, pers_n);
	put(dir, "envelope", "rec_census.pb", census_b, census_n);

	/* One origin's chain: node info, a household with its personal part,
	 * a census. */
	struct env_fields f = {
	    .seq = 1,
	    .hlc = (1700000000000ULL << 16) | 1,
	    .kind = ENV_KIND_NODE,
	    .subject = 630121101001ULL,
	    .body = {node_b, node_n},
	};
	sign(id, &f, &e_node);
	f = (struct env_fields){
	    .seq = 2,
	    .prev = e_node.hash,
	    .hlc = (1700000000001ULL << 16),
	    .kind = ENV_KIND_HOUSEHOLD,
	    .subject = 6301211010010001ULL,
	    .body = {hh_b, hh_n},
	    .sealed_box = {pers_b, pers_n},
	};
	sign(id, &f, &e_hh);
	static const uint8_t key_record[32] = {1, 2, 3}, nonce[24] = {4, 5, 6};
	f = (struct env_fields){
	    .seq = 3,
	    .prev = e_hh.hash,
	    .hlc = (1700000000002ULL << 16),
	    .kind = ENV_KIND_CENSUS,
	    .subject = 630121101001ULL,
	    .body = {census_b, census_n},
	    .sealed_box = {(const uint8_t *)"box", 3},
	    .sealed_key_record = {key_record, sizeof(key_record)},
	    .sealed_nonce = {nonce, sizeof(nonce)},
	};
	sign(id, &f, &e_census);
	/* A forgery: the census with one byte of its body changed. */
	e_forged = e_census;
	e_forged.buf[e_forged.n - ENV_SIG_LEN - 2 - 10] ^= 1;

	put(dir, "envelope", "env_node.bin", e_node.buf, e_node.n);
	put(dir, "envelope", "env_household.bin", e_hh.buf, e_hh.n);
	put(dir, "envelope", "env_census_sealed.bin", e_census.buf, e_census.n);
	put(dir, "envelope", "env_forged.bin", e_forged.buf, e_forged.n);

	/* Frames. */
	struct wire_frame fr;
	struct wire_cursor cur = {.set = true, .local_seq = 3, .seq = 3};
	memset(cur.epoch, 0xe1, WIRE_EPOCH_LEN);
	memcpy(cur.origin, ident_public(id), WIRE_ORIGIN_LEN);
	memcpy(cur.hash, e_census.hash, sizeof(cur.hash));

	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_HELLO;
	memcpy(fr.hello.origin, ident_public(id), WIRE_ORIGIN_LEN);
	fr.hello.area = 630121101001ULL;
	fr.hello.level = 1;
	strcpy(fr.hello.name, "新庄村");
	put_frame(dir, "hello.bin", &fr);
	fr.hello.down_cursor = cur;
	fr.hello.own_seq = 3;
	memcpy(fr.hello.own_hash, e_census.hash, sizeof(fr.hello.own_hash));
	put_frame(dir, "hello_cursor.bin", &fr);

	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_WELCOME;
	fr.welcome.area = 630121101000ULL;
	memset(fr.welcome.origin, 0x77, WIRE_ORIGIN_LEN);
	fr.welcome.up_cursor = cur;
	put_frame(dir, "welcome.bin", &fr);
	/* An empty log: epoch only, no origin. */
	memset(fr.welcome.up_cursor.origin, 0, WIRE_ORIGIN_LEN);
	memset(fr.welcome.up_cursor.hash, 0, sizeof(fr.welcome.up_cursor.hash));
	fr.welcome.up_cursor.local_seq = 0;
	fr.welcome.up_cursor.seq = 0;
	put_frame(dir, "welcome_empty_log.bin", &fr);

	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_REFUSE;
	fr.refuse.code = (uint32_t)-JZ_ESCOPE;
	strcpy(fr.refuse.why, "area 640121101001 is not under 630121101000");
	put_frame(dir, "refuse.bin", &fr);

	struct bytes envs[3] = {
	    {e_node.buf, e_node.n}, {e_hh.buf, e_hh.n}, {e_census.buf, e_census.n}};
	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_BATCH;
	memset(fr.batch.epoch, 0xe1, WIRE_EPOCH_LEN);
	fr.batch.n = 3;
	fr.batch.envs = envs;
	fr.batch.upto = cur;
	fr.batch.from = 1;
	put_frame(dir, "batch.bin", &fr);
	fr.batch.n = 0;
	fr.batch.envs = NULL;
	fr.batch.upto.set = false;
	fr.batch.from = 0;
	put_frame(dir, "batch_empty.bin", &fr);

	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_ACK;
	fr.ack.upto = cur;
	put_frame(dir, "ack.bin", &fr);
	fr.ack.rewind = true;
	fr.ack.upto.set = false;
	put_frame(dir, "ack_rewind.bin", &fr);

	struct wire_node_status nodes[2] = {
	    {.area = 630121101000ULL,
	     .level = 2,
	     .name = "桥头镇",
	     .parent_area = 630121000000ULL,
	     .records = 120,
	     .backlog = 3,
	     .age_ms = 0,
	     .refused = 1,
	     .connected = true},
	    {.area = 630121101001ULL,
	     .level = 1,
	     .name = "新庄村",
	     .parent_area = 630121101000ULL,
	     .records = 43,
	     .age_ms = 2000},
	};
	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_HEARTBEAT;
	fr.heartbeat.n = 2;
	fr.heartbeat.nodes = nodes;
	put_frame(dir, "heartbeat.bin", &fr);

	/* The later frames: a Welcome that names the child's own chain, a Pull
	 * and the recovery batch that answers it. */
	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_WELCOME;
	fr.welcome.area = 630121101000ULL;
	memset(fr.welcome.origin, 0x77, WIRE_ORIGIN_LEN);
	fr.welcome.own_seq = 3;
	memcpy(fr.welcome.own_hash, e_census.hash, 32);
	put_frame(dir, "welcome_own.bin", &fr);
	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_PULL;
	fr.pull.from_seq = 2;
	put_frame(dir, "pull.bin", &fr);
	memset(&fr, 0, sizeof(fr));
	fr.type = WIRE_BATCH;
	memset(fr.batch.epoch, 0xe1, WIRE_EPOCH_LEN);
	fr.batch.n = 2;
	fr.batch.envs = envs + 1;
	fr.batch.from = 2;
	fr.batch.recovery = true;
	put_frame(dir, "batch_recovery.bin", &fr);

	/* The later kinds of record, as bodies and in an envelope. */
	static uint8_t b[REC_MAX_ENCODED];
	size_t bn;
	static struct rec_policy pol = {.notice_days = 7, .threshold_bp = 300, .n_lines = 2};
	pol.lines[0].year = 2019;
	pol.lines[0].fen = 374700;
	pol.lines[1].year = 2020;
	pol.lines[1].fen = 400000;
	pol.n_names = 2; /* a prefecture and a township without a node */
	pol.names[0].area = 630100000000ULL;
	snprintf(pol.names[0].name, sizeof(pol.names[0].name), "%s", "西宁市");
	pol.names[1].area = 630121101000ULL;
	snprintf(pol.names[1].name, sizeof(pol.names[1].name), "%s", "桥头镇");
	CHECK(rec_policy_encode(&pol, b, sizeof(b), &bn) == 0);
	put(dir, "envelope", "rec_policy.pb", b, bn);
	static struct rec_workflow wfe = {.step = 2, .days = 7, .n = 2};
	memset(wfe.proposals[0], 0xd1, 32);
	memset(wfe.proposals[1], 0xd2, 32);
	wfe.households[0] = 6301211010010001ULL;
	wfe.households[1] = 6301211010010002ULL;
	strcpy(wfe.reason, "民主评议通过");
	CHECK(rec_workflow_encode(&wfe, b, sizeof(b), &bn) == 0);
	put(dir, "envelope", "rec_workflow.pb", b, bn);
	f = (struct env_fields){
	    .seq = 4,
	    .prev = e_census.hash,
	    .hlc = (1700000000003ULL << 16),
	    .kind = ENV_KIND_WORKFLOW,
	    .subject = 630121101001ULL,
	    .body = {b, bn},
	};
	struct env_out e_wf;
	sign(id, &f, &e_wf);
	put(dir, "envelope", "env_workflow.bin", e_wf.buf, e_wf.n);
	struct rec_objector ob = {.name = "张三", .contact = "13800000000"};
	CHECK(rec_objector_encode(&ob, b, sizeof(b), &bn) == 0);
	put(dir, "envelope", "rec_objector.pb", b, bn);
	struct rec_keyrec kr = {.n = 2};
	memset(kr.reader[0], 0x21, 32);
	memset(kr.reader[1], 0x22, 32);
	memset(kr.box[0], 0x31, REC_KEY_BOX_LEN);
	memset(kr.box[1], 0x32, REC_KEY_BOX_LEN);
	CHECK(rec_keyrec_encode(&kr, b, sizeof(b), &bn) == 0);
	put(dir, "envelope", "rec_keyrec.pb", b, bn);
	struct rec_revocation rv = {.at_ms = 1700000000000ULL};
	memset(rv.key, 0x41, 32);
	strcpy(rv.reason, "key lost");
	CHECK(rec_revocation_encode(&rv, b, sizeof(b), &bn) == 0);
	put(dir, "envelope", "rec_revocation.pb", b, bn);
	static struct rec_receipt rc = {.n = 1};
	memcpy(rc.items[0].origin, ident_public(id), 32);
	rc.items[0].seq = 3;
	memcpy(rc.items[0].hash, e_census.hash, 32);
	CHECK(rec_receipt_encode(&rc, b, sizeof(b), &bn) == 0);
	put(dir, "envelope", "rec_receipt.pb", b, bn);

	/* The census again, dated far ahead of any receiver's clock (2100,
	 * and the largest date an hlc holds): a receiver holds it (the
	 * held-ahead decision, hlc.h). */
	f = (struct env_fields){
	    .seq = 3,
	    .prev = e_hh.hash,
	    .hlc = (4102444800000ULL << 16),
	    .kind = ENV_KIND_CENSUS,
	    .subject = 630121101001ULL,
	    .body = {census_b, census_n},
	};
	struct env_out e_ahead;
	sign(id, &f, &e_ahead);
	put(dir, "envelope", "env_census_ahead.bin", e_ahead.buf, e_ahead.n);
	f.hlc = UINT64_MAX;
	sign(id, &f, &e_ahead);
	put(dir, "envelope", "env_census_hlc_max.bin", e_ahead.buf, e_ahead.n);

	/* Hostile text in a census name (ESC ] 0 ; BEL, U+009B, U+202E), as a
	 * hostile peer signs it: the encoder refuses such text, so a
	 * placeholder of the same length is encoded and replaced. Decoders must
	 * refuse it. */
	static const char hostile[] = "\x1b]0;x\x07\xc2\x9b"
	                              "2J\xe2\x80\xae"
	                              "ab";
	struct rec_census hc = {
	    .village = 630121101001ULL, .year = 2020, .households = 1, .population = 1};
	memset(hc.name, 'Q', sizeof(hostile) - 1);
	CHECK(rec_census_encode(&hc, b, sizeof(b), &bn) == 0);
	uint8_t *q = memmem(b, bn, hc.name, sizeof(hostile) - 1);
	CHECK(q != NULL);
	memcpy(q, hostile, sizeof(hostile) - 1);
	put(dir, "envelope", "rec_census_hostile_text.pb", b, bn);
	f = (struct env_fields){
	    .seq = 3,
	    .prev = e_hh.hash,
	    .hlc = (1700000000002ULL << 16),
	    .kind = ENV_KIND_CENSUS,
	    .subject = 630121101001ULL,
	    .body = {b, bn},
	};
	struct env_out e_hostile;
	sign(id, &f, &e_hostile);
	put(dir, "envelope", "env_census_hostile_text.bin", e_hostile.buf, e_hostile.n);

	ident_free(&id);
	return 0;
}
