/*
 * record.h - the bodies of records as C structs, and their protobuf encoding.
 *
 * An envelope (envelope.h) carries a record as opaque bytes: `body` is the
 * clear part, `sealed` the personal part (DESIGN §2, §4). This module turns
 * those bytes into the fixed-size structs below and back. Only record.c
 * knows the generated protobuf code (proto/jzfp.proto: Household, Personal,
 * Census, NodeInfo).
 *
 * Every struct is plain storage with fixed limits, so a decoded record needs
 * no release call. Decoding validates sizes and code ranges and refuses,
 * never truncates. Encoding validates the same way, so we never sign a
 * record that a receiver would refuse: for every struct S, S_encode
 * succeeding means S_decode of its output succeeds and gives S back.
 *
 * Codes follow the national register (shared/domain.md). A code of 0 means
 * "not recorded" wherever the register allows it (the proto3 default).
 */
#ifndef JZFP_RECORD_H
#define JZFP_RECORD_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Household status (Household.status). Poor for the incidence: HH_POOR and
 * HH_RETURNED (rec_status_is_poor). */
enum hh_status {
	HH_NOT_POOR = 0,      /* 非贫困户: never identified */
	HH_POOR = 1,          /* 未脱贫 */
	HH_EXITED_POLICY = 2, /* 已脱贫（享受政策） */
	HH_EXITED = 3,        /* 已脱贫（不再享受政策） */
	HH_RETURNED = 4,      /* 返贫 */
	HH_REMOVED = 5,       /* 剔除 */
};
#define HH_STATUS_MAX 5

/* Upper bounds of the codes (0 = not recorded is always allowed, except in
 * other_causes, where a listed cause must be 1..REC_CAUSE_MAX). */
#define REC_STANDARD_MAX  3  /* 1 国家标准 2 省定标准 3 市定标准 */
#define REC_ATTRIBUTE_MAX 3  /* 1 一般贫困户 2 低保贫困户 3 特困供养贫困户 */
#define REC_CAUSE_MAX     12 /* 1 因病 .. 11 自身发展动力不足, 12 其它 */
#define REC_HEALTH_MAX    4  /* 1 健康 2 长期慢性病 3 患有大病 4 残疾 */
#define REC_LABOUR_MAX    4 /* 1 普通劳动力 2 技能劳动力 3 丧失劳动力 4 无劳动力 */
#define REC_SEX_MAX       2  /* 1 男 2 女 */
#define REC_CODE2_MAX     99 /* two-digit register codes: relation, ethnicity, schooling */

#define REC_MAX_MEMBERS 64
#define REC_MAX_PARENTS 8
#define REC_MAX_OTHER   2
#define REC_PID_TAG_LEN 16 /* BLAKE2b-128, resid.h */
#define REC_HASH_LEN    32 /* a parent is an envelope hash (ENV_HASH_LEN) */

/* No encoded record of any kind exceeds this many bytes: a buffer of this
 * size never gives JZ_ETOOBIG from an encode call. */
#define REC_MAX_ENCODED (32 * 1024)

/* One member's clear part: no name, no ID number. */
struct rec_member {
	uint8_t pid_tag[REC_PID_TAG_LEN]; /* keyed hash of the ID number */
	uint8_t health, labour;           /* 0..REC_HEALTH_MAX, 0..REC_LABOUR_MAX */
};

/* A household version: the clear part of a KIND_HOUSEHOLD record (DESIGN §2).
 * parents are the hashes of the versions it replaces (none for the first,
 * two or more for a merge). */
struct rec_household {
	uint64_t id;      /* village code * 10000 + serial */
	uint64_t village; /* 12-digit area code */
	uint16_t year;
	uint8_t standard;                    /* 0..REC_STANDARD_MAX */
	uint8_t attribute;                   /* 0..REC_ATTRIBUTE_MAX */
	uint8_t main_cause;                  /* 0..REC_CAUSE_MAX */
	uint8_t n_other;                     /* 0..REC_MAX_OTHER */
	uint8_t other_causes[REC_MAX_OTHER]; /* each 1..REC_CAUSE_MAX */
	int64_t income_fen;                  /* annual net income per capita, in fen */
	bool relocated;                      /* 易地扶贫搬迁 */
	uint8_t status;                      /* enum hh_status */
	size_t n_members;                    /* 0..REC_MAX_MEMBERS */
	struct rec_member members[REC_MAX_MEMBERS];
	size_t n_parents; /* 0..REC_MAX_PARENTS */
	uint8_t parents[REC_MAX_PARENTS][REC_HASH_LEN];
	/* A proposal (DESIGN §6): status is proposed in place of the official
	 * status from_status, and counts only once recorded. */
	bool proposes;
	uint8_t from_status; /* enum hh_status; 0 unless proposes */
};

/* One member's personal part. Strings are NUL-terminated UTF-8; the array
 * sizes include the NUL (a name holds at most 63 bytes). */
struct rec_person {
	char name[64];
	char id_number[19];  /* 18 characters, GB 11643 (not checked here: resid.h) */
	uint8_t relation;    /* 0..REC_CODE2_MAX */
	uint8_t sex;         /* 0..REC_SEX_MAX */
	char birth_date[11]; /* "YYYY-MM-DD" (format not checked here) */
	uint8_t ethnicity;   /* 0..REC_CODE2_MAX */
	uint8_t schooling;   /* 0..REC_CODE2_MAX */
};

/* The personal part of a household version, members in the same order as
 * rec_household.members. Holds personal data: never log any of it. */
struct rec_personal {
	size_t n; /* 0..REC_MAX_MEMBERS */
	struct rec_person members[REC_MAX_MEMBERS];
	char phone[24];
};

/* A village census (KIND_CENSUS): the denominator of the incidence. */
struct rec_census {
	uint64_t village;
	char name[128];
	uint16_t year;
	uint64_t households, population;
};

/* NodeInfo (KIND_NODE): the first record of every origin chain. level is an
 * enum area_level value (area.h); only its range 0..255 is checked here. */
#define REC_MAX_CERT_CHAIN 1100 /* bytes: cert.h's CERT_CHAIN_MAX_SIZE */

struct rec_node {
	uint64_t area;
	uint8_t level;
	char name[128];
	/* The origin's certificate chain (cert.h), so that every node that
	 * applies this record can check the origin may speak for the area. */
	size_t cert_chain_len;
	uint8_t cert_chain[REC_MAX_CERT_CHAIN];
};

/* Policy (KIND_POLICY), signed by the province (DESIGN §2). */
#define REC_MAX_LINES 64
#define REC_MAX_AREA_NAMES                                                                         \
	256                  /* areas named: a province's prefectures and the                      \
	                      * townships that run no node */
#define REC_AREA_NAME_MAX 64 /* bytes of an area's name, with the NUL */

struct rec_policy {
	uint16_t notice_days;  /* each window, 1..365; 0 = not given (default 7) */
	uint16_t threshold_bp; /* exit threshold, basis points of the incidence; 0 = 200 */
	size_t n_lines;        /* 0..REC_MAX_LINES */
	struct {
		uint16_t year;
		uint64_t fen; /* annual net income per capita */
	} lines[REC_MAX_LINES];
	/* The names of areas no node runs (rec_area_nameable), in the order
	 * of their codes, each once, each name rec_area_name_problem's. */
	size_t n_names; /* 0..REC_MAX_AREA_NAMES */
	struct {
		uint64_t area;
		char name[REC_AREA_NAME_MAX];
	} names[REC_MAX_AREA_NAMES];
};

/* May the policy name AREA? A prefecture or a township: levels a node may
 * not run at (a village is named by its census). */
bool rec_area_nameable(uint64_t area);

/* What is wrong with NAME as an area's name, or NULL: empty, more than
 * REC_AREA_NAME_MAX - 1 bytes, a space (ASCII, no-break, ideographic or
 * another Unicode space) or a zero-width character at either end, or not
 * clean text (text.h). */
const char *rec_area_name_problem(const char *name);

/* The name policy P gives AREA, or NULL. */
const char *rec_policy_area_name(const struct rec_policy *p, uint64_t area);

/* A workflow event (KIND_WORKFLOW): one step of 两公示一公告 on a list of
 * proposals, each named by the hash of the household version that proposes
 * the change, with its household. step is an enum wf_step (node/registry/workflow.h),
 * 1..REC_WF_STEP_MAX here. */
#define REC_MAX_PROPOSALS 512
#define REC_WF_STEP_MAX   31
#define REC_REASON_MAX    256 /* bytes of a reason, with the NUL */

struct rec_workflow {
	uint8_t step;
	uint16_t days; /* window length for the steps that open one, else 0 */
	size_t n;      /* 1..REC_MAX_PROPOSALS */
	uint8_t proposals[REC_MAX_PROPOSALS][REC_HASH_LEN];
	uint64_t households[REC_MAX_PROPOSALS];
	char reason[REC_REASON_MAX]; /* free text; must hold no personal data */
};

/* The sealed part of an objection: who objected. Personal data. */
struct rec_objector {
	char name[64];
	char contact[64];
};

/* A key record (KIND_KEY): a fresh data key sealed (crypto_box_seal) to
 * each reader's X25519 key, derived from its Ed25519 key (seal.h). */
#define REC_MAX_READERS 16
#define REC_KEY_BOX_LEN 80 /* crypto_box_SEALBYTES + 32 */

struct rec_keyrec {
	size_t n; /* 1..REC_MAX_READERS */
	uint8_t reader[REC_MAX_READERS][32];
	uint8_t box[REC_MAX_READERS][REC_KEY_BOX_LEN];
	/* A grant: the data key of the key record of hash GRANTS, wrapped
	 * again for readers that joined after it (sealer.h). */
	bool has_grants;
	uint8_t grants[32];
};

/* A revocation (KIND_REVOCATION) of a node key, from an ancestor. */
struct rec_revocation {
	uint8_t key[32];
	uint64_t at_ms; /* envelopes of key with an hlc after this are refused */
	char reason[REC_REASON_MAX];
};

/* A receipt (KIND_RECEIPT): the province holds each origin up to seq, whose
 * envelope there hashes to hash. */
#define REC_MAX_RECEIPT 256

struct rec_receipt {
	size_t n; /* 1..REC_MAX_RECEIPT */
	struct {
		uint8_t origin[32];
		uint64_t seq;
		uint8_t hash[REC_HASH_LEN];
	} items[REC_MAX_RECEIPT];
};

/*
 * Encode into buf[0..cap). On success *n is the encoded length.
 * Returns 0, JZ_ETOOBIG if cap is too small (use REC_MAX_ENCODED), or
 * JZ_EPARSE if the struct breaks the limits documented above (a count over
 * its maximum, a code out of range, a string not NUL-terminated within its
 * array). Nothing is written to *n on failure; buf may have been written.
 */
JZ_NODISCARD int rec_household_encode(const struct rec_household *h, uint8_t *buf, size_t cap,
                                      size_t *n);
JZ_NODISCARD int rec_personal_encode(const struct rec_personal *p, uint8_t *buf, size_t cap,
                                     size_t *n);
JZ_NODISCARD int rec_census_encode(const struct rec_census *c, uint8_t *buf, size_t cap, size_t *n);
JZ_NODISCARD int rec_node_encode(const struct rec_node *nd, uint8_t *buf, size_t cap, size_t *n);
JZ_NODISCARD int rec_policy_encode(const struct rec_policy *p, uint8_t *buf, size_t cap, size_t *n);
JZ_NODISCARD int rec_workflow_encode(const struct rec_workflow *w, uint8_t *buf, size_t cap,
                                     size_t *n);
JZ_NODISCARD int rec_objector_encode(const struct rec_objector *o, uint8_t *buf, size_t cap,
                                     size_t *n);
JZ_NODISCARD int rec_keyrec_encode(const struct rec_keyrec *k, uint8_t *buf, size_t cap, size_t *n);
JZ_NODISCARD int rec_revocation_encode(const struct rec_revocation *r, uint8_t *buf, size_t cap,
                                       size_t *n);
JZ_NODISCARD int rec_receipt_encode(const struct rec_receipt *r, uint8_t *buf, size_t cap,
                                    size_t *n);

/*
 * Decode p[0..n) into *out. Unknown fields are skipped (forward
 * compatibility). Returns 0 or JZ_EPARSE: malformed protobuf (a known field
 * twice or with the wrong wire type, a uint32 over 2^32 - 1), or over the
 * limits (more than REC_MAX_MEMBERS members, more than REC_MAX_PARENTS
 * parents or REC_MAX_OTHER other causes, a pid_tag not 16 bytes, a parent
 * not 32 bytes, a string too long for its array or holding a NUL byte, a
 * code out of range, a year over 65535); -ENOMEM if the heap is exhausted.
 * *out is written only on success. Decoding unpacks with protobuf-c into
 * heap memory bounded by a small multiple of n, wiped and freed before the
 * call returns. The decoders of the larger later kinds (workflow, receipt)
 * and the encoders of their repeated fields use static scratch memory: they
 * are not reentrant (the loop thread and jzfpctl, each single threaded, are
 * their only users).
 */
JZ_NODISCARD int rec_household_decode(struct rec_household *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_personal_decode(struct rec_personal *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_census_decode(struct rec_census *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_node_decode(struct rec_node *out, const uint8_t *p, size_t n);
/* The later kinds: the limits are those of the structs above; a workflow
 * event needs 1..REC_MAX_PROPOSALS proposals with exactly as many
 * households, a key record 1..REC_MAX_READERS readers with 32-byte keys and
 * 80-byte boxes, a receipt 1..REC_MAX_RECEIPT items, a revocation a 32-byte
 * key; policy days 0..365 and threshold 0..10000. */
JZ_NODISCARD int rec_policy_decode(struct rec_policy *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_workflow_decode(struct rec_workflow *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_objector_decode(struct rec_objector *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_keyrec_decode(struct rec_keyrec *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_revocation_decode(struct rec_revocation *out, const uint8_t *p, size_t n);
JZ_NODISCARD int rec_receipt_decode(struct rec_receipt *out, const uint8_t *p, size_t n);

/* Check a struct against the limits above without encoding it.
 * Returns 0 or JZ_EPARSE. */
JZ_NODISCARD int rec_household_check(const struct rec_household *h);
JZ_NODISCARD int rec_personal_check(const struct rec_personal *p);

/* Poor for the incidence (DESIGN §9): HH_POOR or HH_RETURNED. */
bool rec_status_is_poor(uint8_t status);

/* Chinese names of codes, for operator output ("未脱贫", "低保贫困户", "因病").
 * Static strings; "未知" for a code out of range, "" for 0 where 0 means not
 * recorded (attribute, standard, cause, health, labour). */
const char *rec_status_name(uint8_t status);
const char *rec_attribute_name(uint8_t attribute);
const char *rec_cause_name(uint8_t cause);
const char *rec_standard_name(uint8_t standard);
const char *rec_health_name(uint8_t health);
/* 与户主关系 of the form's table domain.md gives (01 户主, 02 配偶, 03 之子, 04
 * 之女, 20 之外祖母, 99 其他); "" for the codes between, taken by code only. */
const char *rec_relation_name(uint8_t relation);
const char *rec_labour_name(uint8_t labour);

#endif
