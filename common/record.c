/*
 * record.c - record bodies: fixed-size C structs <-> protobuf (DESIGN §2).
 *
 * Encoding goes through protobuf-c's generated packers, pointed at our own
 * storage (stack arrays of member structs and pointers; a receipt's 256
 * items on the heap), and packs straight into the caller's buffer. Decoders
 * of the large records (policy, workflow event, receipt) fill a heap copy
 * and copy it out only when it is whole, so OUT is unchanged on failure.
 *
 * Decoding goes through protobuf-c's generated unpack (pbmsg.h), which adds
 * jzfp's rules (no duplicate field, no NUL inside a string, uint32 values
 * below 2^32) and bounds the memory unpack takes; the limits (64 members,
 * 16-byte tags, string lengths, codes) are checked while copying the
 * unpacked message into the fixed-size struct. The household, decoded far
 * more often than the rest, is walked instead (household_walk: the same
 * rules, no allocation), with the field numbers of the generated
 * jzfp.fields.h. No field number is written here by hand.
 *
 * Both directions apply the same checks (check_* below), so an encoded record
 * always decodes. Known fields may appear once (repeated ones any number of
 * times); unknown fields are skipped.
 */
#include "record.h"

#include "area.h"
#include "jzfp.fields.h"
#include "jzfp.pb-c.h"
#include "pbmsg.h"
#include "pbwalk.h"
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ checks */

/* A C string held in char[cap]: terminated inside the array, valid UTF-8,
 * and clean text (text.h: no control characters, no marks that reorder
 * what a terminal shows), whoever signed it (DESIGN §8). */
static bool
cstr_ok(const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);
	return nul && text_is_clean(s, (size_t)(nul - s), 0, NULL);
}

static bool
code_ok(uint64_t v, unsigned max)
{
	return v <= max;
}

static int
check_member(const struct rec_member *m)
{
	if (!code_ok(m->health, REC_HEALTH_MAX) || !code_ok(m->labour, REC_LABOUR_MAX))
		return JZ_EPARSE;
	return 0;
}

int
rec_household_check(const struct rec_household *h)
{
	if (!code_ok(h->standard, REC_STANDARD_MAX) || !code_ok(h->attribute, REC_ATTRIBUTE_MAX) ||
	    !code_ok(h->main_cause, REC_CAUSE_MAX) || !code_ok(h->status, HH_STATUS_MAX) ||
	    !code_ok(h->from_status, HH_STATUS_MAX) || (!h->proposes && h->from_status) ||
	    h->n_other > REC_MAX_OTHER || h->n_members > REC_MAX_MEMBERS ||
	    h->n_parents > REC_MAX_PARENTS)
		return JZ_EPARSE;
	for (size_t i = 0; i < h->n_other; i++)
		if (h->other_causes[i] == 0 || h->other_causes[i] > REC_CAUSE_MAX)
			return JZ_EPARSE;
	for (size_t i = 0; i < h->n_members; i++)
		if (check_member(&h->members[i]))
			return JZ_EPARSE;
	return 0;
}

static int
check_person(const struct rec_person *m)
{
	if (!cstr_ok(m->name, sizeof(m->name)) || !cstr_ok(m->id_number, sizeof(m->id_number)) ||
	    !cstr_ok(m->birth_date, sizeof(m->birth_date)) ||
	    !code_ok(m->relation, REC_CODE2_MAX) || !code_ok(m->sex, REC_SEX_MAX) ||
	    !code_ok(m->ethnicity, REC_CODE2_MAX) || !code_ok(m->schooling, REC_CODE2_MAX))
		return JZ_EPARSE;
	return 0;
}

int
rec_personal_check(const struct rec_personal *p)
{
	if (p->n > REC_MAX_MEMBERS || !cstr_ok(p->phone, sizeof(p->phone)))
		return JZ_EPARSE;
	for (size_t i = 0; i < p->n; i++)
		if (check_person(&p->members[i]))
			return JZ_EPARSE;
	return 0;
}

static int
check_census(const struct rec_census *c)
{
	return cstr_ok(c->name, sizeof(c->name)) ? 0 : JZ_EPARSE;
}

static int
check_node(const struct rec_node *nd)
{
	return cstr_ok(nd->name, sizeof(nd->name)) && nd->cert_chain_len <= REC_MAX_CERT_CHAIN
	           ? 0
	           : JZ_EPARSE;
}

/* ------------------------------------------------------------ encoding */

static uint8_t *
unconst(const void *p)
{
	return (uint8_t *)(uintptr_t)p;
}

static int
pack(const ProtobufCMessage *m, uint8_t *buf, size_t cap, size_t *n)
{
	size_t need = protobuf_c_message_get_packed_size(m);
	if (need > cap)
		return JZ_ETOOBIG;
	*n = protobuf_c_message_pack(m, buf);
	return 0;
}

int
rec_household_encode(const struct rec_household *h, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Household m;
	Jzfp__Member ms[REC_MAX_MEMBERS];
	Jzfp__Member *mp[REC_MAX_MEMBERS];
	ProtobufCBinaryData parents[REC_MAX_PARENTS];
	uint32_t other[REC_MAX_OTHER];

	int err = rec_household_check(h);
	if (err)
		return err;
	jzfp__household__init(&m);
	m.id = h->id;
	m.village = h->village;
	m.year = h->year;
	for (size_t i = 0; i < h->n_members; i++) {
		jzfp__member__init(&ms[i]);
		ms[i].pid_tag.data = unconst(h->members[i].pid_tag);
		ms[i].pid_tag.len = REC_PID_TAG_LEN;
		ms[i].health = h->members[i].health;
		ms[i].labour = h->members[i].labour;
		mp[i] = &ms[i];
	}
	m.n_members = h->n_members;
	m.members = mp;
	m.standard = h->standard;
	m.attribute = h->attribute;
	m.main_cause = h->main_cause;
	for (size_t i = 0; i < h->n_other; i++)
		other[i] = h->other_causes[i];
	m.n_other_causes = h->n_other;
	m.other_causes = other;
	m.income_fen = h->income_fen;
	m.relocated = h->relocated;
	m.status = h->status;
	for (size_t i = 0; i < h->n_parents; i++) {
		parents[i].data = unconst(h->parents[i]);
		parents[i].len = REC_HASH_LEN;
	}
	m.n_parents = h->n_parents;
	m.parents = parents;
	m.proposes = h->proposes;
	m.from_status = h->from_status;
	return pack(&m.base, buf, cap, n);
}

int
rec_personal_encode(const struct rec_personal *p, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Personal m;
	Jzfp__PersonalMember ms[REC_MAX_MEMBERS];
	Jzfp__PersonalMember *mp[REC_MAX_MEMBERS];

	int err = rec_personal_check(p);
	if (err)
		return err;
	jzfp__personal__init(&m);
	for (size_t i = 0; i < p->n; i++) {
		const struct rec_person *s = &p->members[i];
		jzfp__personal_member__init(&ms[i]);
		ms[i].name = (char *)unconst(s->name);
		ms[i].id_number = (char *)unconst(s->id_number);
		ms[i].relation = s->relation;
		ms[i].sex = s->sex;
		ms[i].birth_date = (char *)unconst(s->birth_date);
		ms[i].ethnicity = s->ethnicity;
		ms[i].schooling = s->schooling;
		mp[i] = &ms[i];
	}
	m.n_members = p->n;
	m.members = mp;
	m.phone = (char *)unconst(p->phone);
	return pack(&m.base, buf, cap, n);
}

int
rec_census_encode(const struct rec_census *c, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Census m;

	int err = check_census(c);
	if (err)
		return err;
	jzfp__census__init(&m);
	m.village = c->village;
	m.name = (char *)unconst(c->name);
	m.year = c->year;
	m.households = c->households;
	m.population = c->population;
	return pack(&m.base, buf, cap, n);
}

int
rec_node_encode(const struct rec_node *nd, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__NodeInfo m;

	int err = check_node(nd);
	if (err)
		return err;
	jzfp__node_info__init(&m);
	m.area = nd->area;
	m.level = nd->level;
	m.name = (char *)unconst(nd->name);
	if (nd->cert_chain_len) {
		m.cert_chain.data = unconst(nd->cert_chain);
		m.cert_chain.len = nd->cert_chain_len;
	}
	return pack(&m.base, buf, cap, n);
}

/* ------------------------------------------------------------ decoding */

/*
 * Each decoder unpacks with protobuf-c (pbmsg.h: wire types, no duplicate
 * field, no NUL in a string, uint32 values below 2^32), then copies the
 * message into the fixed-size struct, checking the limits and codes as it
 * goes. Every failure is JZ_EPARSE (or -ENOMEM).
 */
static int
unpack(struct pbmsg_buf *buf, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
       ProtobufCMessage **m)
{
	return pbmsg_unpack(buf, d, p, n, 0, m);
}

/* Copy a decoded string field into char[cap], refusing what does not fit
 * or is not clean text (pbmsg has refused an embedded NUL). */
static bool
str_set(char *dst, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= cap || !text_is_clean(s, n, 0, NULL))
		return false;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool
u8_set(uint8_t *dst, uint64_t v, unsigned max)
{
	if (v > max)
		return false;
	*dst = (uint8_t)v;
	return true;
}

static bool
u16_set(uint16_t *dst, uint64_t v)
{
	if (v > UINT16_MAX)
		return false;
	*dst = (uint16_t)v;
	return true;
}

static bool
fixed_set(uint8_t *dst, ProtobufCBinaryData b, size_t len)
{
	if (b.len != len)
		return false;
	memcpy(dst, b.data, len);
	return true;
}

/*
 * The household is the record every node decodes most (each version it
 * applies, each rollup --verify checks against its envelope): it is walked
 * here field by field instead of unpacked (pbwalk.h), with the rules pbmsg
 * and the copy into the struct apply to the other records: a known field
 * with another wire type, or twice when not repeated, a uint32 of 2^32 or
 * more, a code or count over its limit, a tag or parent not of its length,
 * a field's tag or length prefix of more than 5 bytes are refused; unknown
 * fields are skipped; a bool is any non-zero varint; other_causes may come
 * packed or not. test_pbmsg holds it to protobuf-c's reading of the same
 * bytes.
 */

/* protobuf-c refuses a tag or a length prefix longer than 5 bytes (its
 * parse_tag_and_wiretype and scan_length_prefixed_data), where pbwalk
 * reads varints of up to 10: is the field F, which began at START (before
 * END), within protobuf-c's? */
static bool
fits_protobuf_c(const uint8_t *start, const uint8_t *end, const struct pbwalk_field *f)
{
	/* Most fields: a tag of one byte, and a length of one if any (the
	 * field was read whole, so its length's byte is there). */
	if (start[0] < 0x80 && (f->wt != PBWALK_LEN || start[1] < 0x80))
		return true;
	uint64_t v;
	size_t k = pbwalk_varint(start, end, &v);
	return k <= 5 && (f->wt != PBWALK_LEN || pbwalk_varint(start + k, end, &v) <= 5);
}

/* The next field of W into F, as pbwalk_next, refusing what protobuf-c
 * would (fits_protobuf_c). */
static int
next_field(struct pbwalk *w, struct pbwalk_field *f)
{
	const uint8_t *start = w->p;
	int rc = pbwalk_next(w, f);
	return rc > 0 && !fits_protobuf_c(start, w->end, f) ? JZ_EPARSE : rc;
}

/* A uint32 field's value: refused at 2^32 or more. */
static bool
u32_of(const struct pbwalk_field *f, uint64_t *v)
{
	if (f->wt != PBWALK_VARINT || f->v > UINT32_MAX)
		return false;
	*v = f->v;
	return true;
}

/* Member M (a sub-message) into D, zeroed first. */
static bool
member_walk(struct rec_member *d, struct bytes m)
{
	struct pbwalk w;
	struct pbwalk_field f;
	uint64_t seen = 0, v;
	int rc;
	bool tag = false;
	memset(d, 0, sizeof(*d));
	pbwalk_init(&w, m.p, m.n);
	while ((rc = next_field(&w, &f)) > 0) {
		switch (f.num) {
		case JZFP_F_MEMBER_PID_TAG:
			if (f.wt != PBWALK_LEN || !pbwalk_once(&seen, f.num) ||
			    f.b.n != REC_PID_TAG_LEN)
				return false;
			memcpy(d->pid_tag, f.b.p, REC_PID_TAG_LEN);
			tag = true;
			break;
		case JZFP_F_MEMBER_HEALTH:
			if (!pbwalk_once(&seen, f.num) || !u32_of(&f, &v) ||
			    !u8_set(&d->health, v, REC_HEALTH_MAX))
				return false;
			break;
		case JZFP_F_MEMBER_LABOUR:
			if (!pbwalk_once(&seen, f.num) || !u32_of(&f, &v) ||
			    !u8_set(&d->labour, v, REC_LABOUR_MAX))
				return false;
			break;
		default:
			break; /* unknown: skipped */
		}
	}
	/* The encoder always writes the tag; without one the member is not
	 * countable as a person. */
	return rc == 0 && tag;
}

/* One of other_causes, V, into H. */
static bool
other_cause(struct rec_household *h, uint64_t v)
{
	if (v == 0 || v > REC_CAUSE_MAX || h->n_other == REC_MAX_OTHER)
		return false;
	h->other_causes[h->n_other++] = (uint8_t)v;
	return true;
}

/* other_causes packed: the varints of B. */
static bool
other_causes_packed(struct rec_household *h, struct bytes b)
{
	const uint8_t *q = b.p, *end = b.p + b.n;
	while (q < end) {
		uint64_t v;
		size_t k = pbwalk_varint(q, end, &v);
		if (!k || v > UINT32_MAX || !other_cause(h, v))
			return false;
		q += k;
	}
	return true;
}

/* A non-repeated field F of a household into H (an unknown one: skipped). */
static bool
household_scalar(struct rec_household *h, const struct pbwalk_field *f)
{
	uint64_t v;
	switch (f->num) {
	case JZFP_F_HOUSEHOLD_ID:
		h->id = f->v;
		return f->wt == PBWALK_VARINT;
	case JZFP_F_HOUSEHOLD_VILLAGE:
		h->village = f->v;
		return f->wt == PBWALK_VARINT;
	case JZFP_F_HOUSEHOLD_INCOME_FEN:
		h->income_fen = (int64_t)f->v;
		return f->wt == PBWALK_VARINT;
	case JZFP_F_HOUSEHOLD_RELOCATED:
		h->relocated = f->v != 0;
		return f->wt == PBWALK_VARINT;
	case JZFP_F_HOUSEHOLD_PROPOSES:
		h->proposes = f->v != 0;
		return f->wt == PBWALK_VARINT;
	case JZFP_F_HOUSEHOLD_YEAR:
		return u32_of(f, &v) && u16_set(&h->year, v);
	case JZFP_F_HOUSEHOLD_STANDARD:
		return u32_of(f, &v) && u8_set(&h->standard, v, REC_STANDARD_MAX);
	case JZFP_F_HOUSEHOLD_ATTRIBUTE:
		return u32_of(f, &v) && u8_set(&h->attribute, v, REC_ATTRIBUTE_MAX);
	case JZFP_F_HOUSEHOLD_MAIN_CAUSE:
		return u32_of(f, &v) && u8_set(&h->main_cause, v, REC_CAUSE_MAX);
	case JZFP_F_HOUSEHOLD_STATUS:
		return u32_of(f, &v) && u8_set(&h->status, v, HH_STATUS_MAX);
	case JZFP_F_HOUSEHOLD_FROM_STATUS:
		return u32_of(f, &v) && u8_set(&h->from_status, v, HH_STATUS_MAX);
	default:
		return true;
	}
}

/* Household P[0..n) into *H, zeroed first. */
static int
household_walk(struct rec_household *h, const uint8_t *p, size_t n)
{
	struct pbwalk w;
	struct pbwalk_field f;
	uint64_t seen = 0;
	int rc;
	memset(h, 0, sizeof(*h));
	pbwalk_init(&w, p, n);
	while ((rc = next_field(&w, &f)) > 0) {
		bool ok;
		switch (f.num) {
		case JZFP_F_HOUSEHOLD_MEMBERS:
			ok = f.wt == PBWALK_LEN && h->n_members < REC_MAX_MEMBERS &&
			     member_walk(&h->members[h->n_members], f.b);
			h->n_members += ok;
			break;
		case JZFP_F_HOUSEHOLD_OTHER_CAUSES:
			ok = f.wt == PBWALK_LEN ? other_causes_packed(h, f.b)
			                        : f.wt == PBWALK_VARINT && f.v <= UINT32_MAX &&
			                              other_cause(h, f.v);
			break;
		case JZFP_F_HOUSEHOLD_PARENTS:
			ok = f.wt == PBWALK_LEN && f.b.n == REC_HASH_LEN &&
			     h->n_parents < REC_MAX_PARENTS;
			if (ok)
				memcpy(h->parents[h->n_parents++], f.b.p, REC_HASH_LEN);
			break;
		default:
			/* Known fields once: a second copy is a parser
			 * differential waiting to happen (pbwalk_once). */
			ok = (f.num > JZFP_F_HOUSEHOLD_FROM_STATUS || pbwalk_once(&seen, f.num)) &&
			     household_scalar(h, &f);
			break;
		}
		if (!ok)
			return JZ_EPARSE;
	}
	if (rc < 0)
		return rc;
	return h->proposes || !h->from_status ? 0 : JZ_EPARSE;
}

int
rec_household_decode(struct rec_household *out, const uint8_t *p, size_t n)
{
	struct rec_household h;
	int rc = household_walk(&h, p, n);
	if (rc == 0)
		*out = h;
	return rc;
}

static bool
person_from(struct rec_person *d, const Jzfp__PersonalMember *m)
{
	return str_set(d->name, sizeof(d->name), m->name) &&
	       str_set(d->id_number, sizeof(d->id_number), m->id_number) &&
	       u8_set(&d->relation, m->relation, REC_CODE2_MAX) &&
	       u8_set(&d->sex, m->sex, REC_SEX_MAX) &&
	       str_set(d->birth_date, sizeof(d->birth_date), m->birth_date) &&
	       u8_set(&d->ethnicity, m->ethnicity, REC_CODE2_MAX) &&
	       u8_set(&d->schooling, m->schooling, REC_CODE2_MAX);
}

static bool
personal_from(struct rec_personal *r, const Jzfp__Personal *m)
{
	if (m->n_members > REC_MAX_MEMBERS)
		return false;
	for (size_t i = 0; i < m->n_members; i++)
		if (!person_from(&r->members[i], m->members[i]))
			return false;
	r->n = m->n_members;
	return str_set(r->phone, sizeof(r->phone), m->phone);
}

int
rec_personal_decode(struct rec_personal *out, const uint8_t *p, size_t n)
{
	struct rec_personal r;
	ProtobufCMessage *m;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__personal__descriptor, p, n, &m);
	if (rc < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = personal_from(&r, (const Jzfp__Personal *)m) ? 0 : JZ_EPARSE;
	pbmsg_free(&buf, m); /* wiped: it held names and ID numbers */
	if (rc == 0)
		*out = r;
	/* The copy on the stack held names and ID numbers. */
	explicit_bzero(&r, sizeof(r));
	return rc;
}

int
rec_census_decode(struct rec_census *out, const uint8_t *p, size_t n)
{
	struct rec_census c;
	ProtobufCMessage *pm;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__census__descriptor, p, n, &pm);
	if (rc < 0)
		return rc;
	const Jzfp__Census *m = (const Jzfp__Census *)pm;
	memset(&c, 0, sizeof(c));
	c.village = m->village;
	c.households = m->households;
	c.population = m->population;
	bool ok = str_set(c.name, sizeof(c.name), m->name) && u16_set(&c.year, m->year);
	pbmsg_free(&buf, pm);
	if (!ok)
		return JZ_EPARSE;
	*out = c;
	return 0;
}

int
rec_node_decode(struct rec_node *out, const uint8_t *p, size_t n)
{
	struct rec_node nd;
	ProtobufCMessage *pm;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__node_info__descriptor, p, n, &pm);
	if (rc < 0)
		return rc;
	const Jzfp__NodeInfo *m = (const Jzfp__NodeInfo *)pm;
	memset(&nd, 0, sizeof(nd));
	nd.area = m->area;
	bool ok = u8_set(&nd.level, m->level, UINT8_MAX) &&
	          str_set(nd.name, sizeof(nd.name), m->name) &&
	          m->cert_chain.len <= REC_MAX_CERT_CHAIN;
	if (ok && m->cert_chain.len) {
		memcpy(nd.cert_chain, m->cert_chain.data, m->cert_chain.len);
		nd.cert_chain_len = m->cert_chain.len;
	}
	pbmsg_free(&buf, pm);
	if (!ok)
		return JZ_EPARSE;
	*out = nd;
	return 0;
}

/* ------------------------------------------------------------ later kinds */

bool
rec_area_nameable(uint64_t area)
{
	enum area_level lv = area_level_of(area);
	return lv == AREA_LEVEL_PREFECTURE || lv == AREA_LEVEL_TOWNSHIP;
}

/* Is the UTF-8 sequence at P (N bytes) a space or nothing to see: the
 * spaces U+0020, U+00A0, U+1680, U+2000 to U+200A, U+202F, U+205F, U+3000,
 * and U+200B to U+200D and U+FEFF, which show nothing? */
static bool
is_space_seq(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0] == ' ';
	if (n == 2)
		return p[0] == 0xC2 && p[1] == 0xA0;
	if (n == 3 && p[0] == 0xE2 && p[1] == 0x80)
		return p[2] <= 0x8D || p[2] == 0xAF;
	if (n == 3)
		return (p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80) ||
		       (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) ||
		       (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) ||
		       (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF);
	return false;
}

const char *
rec_area_name_problem(const char *name)
{
	size_t n = strlen(name);
	if (!n)
		return "empty";
	if (n >= REC_AREA_NAME_MAX)
		return "over 63 bytes of UTF-8 (21 Chinese characters)";
	if (!text_is_clean(name, n, 0, NULL))
		return "not clean text (a control character, invalid UTF-8 or a mark that "
		       "reorders text)";
	const unsigned char *u = (const unsigned char *)name;
	size_t first = u[0] < 0x80 ? 1 : u[0] < 0xE0 ? 2 : u[0] < 0xF0 ? 3 : 4, last = n - 1;
	while (last > 0 && (u[last] & 0xC0) == 0x80)
		last--;
	if (is_space_seq(u, first < n ? first : n) || is_space_seq(u + last, n - last))
		return "a space (or a character that shows nothing) at its start or end";
	return NULL;
}

/* The names of policy P: nameable codes in increasing order, each once,
 * each name without a problem. */
static bool
policy_names_ok(const struct rec_policy *p)
{
	if (p->n_names > REC_MAX_AREA_NAMES)
		return false;
	for (size_t i = 0; i < p->n_names; i++) {
		if (!rec_area_nameable(p->names[i].area) ||
		    (i && p->names[i].area <= p->names[i - 1].area) ||
		    !memchr(p->names[i].name, 0, sizeof(p->names[i].name)) ||
		    rec_area_name_problem(p->names[i].name))
			return false;
	}
	return true;
}

static int
check_policy(const struct rec_policy *p)
{
	if (p->notice_days > 365 || p->threshold_bp > 10000 || p->n_lines > REC_MAX_LINES ||
	    !policy_names_ok(p))
		return JZ_EPARSE;
	return 0;
}

const char *
rec_policy_area_name(const struct rec_policy *p, uint64_t area)
{
	size_t lo = 0, hi = p->n_names;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->names[mid].area < area)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n_names && p->names[lo].area == area ? p->names[lo].name : NULL;
}

static int
check_workflow(const struct rec_workflow *w)
{
	if (w->step == 0 || w->step > REC_WF_STEP_MAX || w->n == 0 || w->n > REC_MAX_PROPOSALS ||
	    w->days > 365 || !cstr_ok(w->reason, sizeof(w->reason)))
		return JZ_EPARSE;
	return 0;
}

static int
check_objector(const struct rec_objector *o)
{
	return cstr_ok(o->name, sizeof(o->name)) && cstr_ok(o->contact, sizeof(o->contact))
	           ? 0
	           : JZ_EPARSE;
}

static int
check_keyrec(const struct rec_keyrec *k)
{
	return k->n >= 1 && k->n <= REC_MAX_READERS ? 0 : JZ_EPARSE;
}

static int
check_revocation(const struct rec_revocation *r)
{
	return cstr_ok(r->reason, sizeof(r->reason)) ? 0 : JZ_EPARSE;
}

static int
check_receipt(const struct rec_receipt *r)
{
	if (r->n < 1 || r->n > REC_MAX_RECEIPT)
		return JZ_EPARSE;
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].seq == 0)
			return JZ_EPARSE;
	return 0;
}

int
rec_policy_encode(const struct rec_policy *p, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Policy m;
	Jzfp__PovertyLine ls[REC_MAX_LINES];
	Jzfp__PovertyLine *lp[REC_MAX_LINES];
	Jzfp__AreaName ns[REC_MAX_AREA_NAMES];
	Jzfp__AreaName *np[REC_MAX_AREA_NAMES];

	int err = check_policy(p);
	if (err)
		return err;
	jzfp__policy__init(&m);
	m.notice_days = p->notice_days;
	m.threshold_bp = p->threshold_bp;
	for (size_t i = 0; i < p->n_lines; i++) {
		jzfp__poverty_line__init(&ls[i]);
		ls[i].year = p->lines[i].year;
		ls[i].fen = p->lines[i].fen;
		lp[i] = &ls[i];
	}
	m.n_lines = p->n_lines;
	m.lines = lp;
	for (size_t i = 0; i < p->n_names; i++) {
		jzfp__area_name__init(&ns[i]);
		ns[i].area = p->names[i].area;
		ns[i].name = (char *)unconst(p->names[i].name);
		np[i] = &ns[i];
	}
	m.n_names = p->n_names;
	m.names = np;
	return pack(&m.base, buf, cap, n);
}

int
rec_workflow_encode(const struct rec_workflow *w, uint8_t *buf, size_t cap, size_t *n)
{
	ProtobufCBinaryData props[REC_MAX_PROPOSALS]; /* 8 KB */
	Jzfp__WorkflowEvent m;

	int err = check_workflow(w);
	if (err)
		return err;
	jzfp__workflow_event__init(&m);
	m.step = w->step;
	m.days = w->days;
	for (size_t i = 0; i < w->n; i++) {
		props[i].data = unconst(w->proposals[i]);
		props[i].len = REC_HASH_LEN;
	}
	m.n_proposals = w->n;
	m.proposals = props;
	m.n_households = w->n;
	m.households = (uint64_t *)(uintptr_t)w->households;
	m.reason = (char *)unconst(w->reason);
	return pack(&m.base, buf, cap, n);
}

int
rec_objector_encode(const struct rec_objector *o, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Objector m;

	int err = check_objector(o);
	if (err)
		return err;
	jzfp__objector__init(&m);
	m.name = (char *)unconst(o->name);
	m.contact = (char *)unconst(o->contact);
	return pack(&m.base, buf, cap, n);
}

int
rec_keyrec_encode(const struct rec_keyrec *k, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__KeyRecord m;
	Jzfp__SealedKey ks[REC_MAX_READERS];
	Jzfp__SealedKey *kp[REC_MAX_READERS];

	int err = check_keyrec(k);
	if (err)
		return err;
	jzfp__key_record__init(&m);
	for (size_t i = 0; i < k->n; i++) {
		jzfp__sealed_key__init(&ks[i]);
		ks[i].reader.data = unconst(k->reader[i]);
		ks[i].reader.len = 32;
		ks[i].box.data = unconst(k->box[i]);
		ks[i].box.len = REC_KEY_BOX_LEN;
		kp[i] = &ks[i];
	}
	m.n_keys = k->n;
	m.keys = kp;
	if (k->has_grants) {
		m.grants.data = unconst(k->grants);
		m.grants.len = 32;
	}
	return pack(&m.base, buf, cap, n);
}

int
rec_revocation_encode(const struct rec_revocation *r, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Revocation m;

	int err = check_revocation(r);
	if (err)
		return err;
	jzfp__revocation__init(&m);
	m.key.data = unconst(r->key);
	m.key.len = 32;
	m.at_ms = r->at_ms;
	m.reason = (char *)unconst(r->reason);
	return pack(&m.base, buf, cap, n);
}

int
rec_receipt_encode(const struct rec_receipt *r, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Receipt m;

	int err = check_receipt(r);
	if (err)
		return err;
	/* 20 KB for REC_MAX_RECEIPT items: the heap, not a thread's stack. */
	Jzfp__ReceiptItem *is = malloc(REC_MAX_RECEIPT * sizeof(*is));
	Jzfp__ReceiptItem **ip = malloc(REC_MAX_RECEIPT * sizeof(*ip));
	if (!is || !ip) {
		free(is);
		free(ip);
		return -ENOMEM;
	}
	jzfp__receipt__init(&m);
	for (size_t i = 0; i < r->n; i++) {
		jzfp__receipt_item__init(&is[i]);
		is[i].origin.data = unconst(r->items[i].origin);
		is[i].origin.len = 32;
		is[i].seq = r->items[i].seq;
		is[i].hash.data = unconst(r->items[i].hash);
		is[i].hash.len = REC_HASH_LEN;
		ip[i] = &is[i];
	}
	m.n_items = r->n;
	m.items = ip;
	err = pack(&m.base, buf, cap, n);
	free(is);
	free(ip);
	return err;
}

static bool
policy_from(struct rec_policy *r, const Jzfp__Policy *m)
{
	if (m->notice_days > 365 || m->threshold_bp > 10000 || m->n_lines > REC_MAX_LINES)
		return false;
	r->notice_days = (uint16_t)m->notice_days;
	r->threshold_bp = (uint16_t)m->threshold_bp;
	for (size_t i = 0; i < m->n_lines; i++) {
		if (!u16_set(&r->lines[i].year, m->lines[i]->year))
			return false;
		r->lines[i].fen = m->lines[i]->fen;
	}
	r->n_lines = m->n_lines;
	if (m->n_names > REC_MAX_AREA_NAMES)
		return false;
	for (size_t i = 0; i < m->n_names; i++) {
		r->names[i].area = m->names[i]->area;
		if (!str_set(r->names[i].name, sizeof(r->names[i].name), m->names[i]->name))
			return false;
	}
	r->n_names = m->n_names;
	return policy_names_ok(r);
}

int
rec_policy_decode(struct rec_policy *out, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__policy__descriptor, p, n, &m);
	if (rc < 0)
		return rc;
	struct rec_policy *r = calloc(1, sizeof(*r)); /* OUT stays as it was on failure */
	bool ok = r && policy_from(r, (const Jzfp__Policy *)m);
	pbmsg_free(&buf, m);
	if (ok)
		*out = *r;
	rc = ok ? 0 : r ? JZ_EPARSE : -ENOMEM;
	free(r);
	return rc;
}

static bool
workflow_from(struct rec_workflow *w, const Jzfp__WorkflowEvent *m)
{
	if (m->step == 0 || m->step > REC_WF_STEP_MAX || m->n_proposals == 0 ||
	    m->n_proposals > REC_MAX_PROPOSALS || m->n_households != m->n_proposals ||
	    m->days > 365)
		return false;
	w->step = (uint8_t)m->step;
	w->days = (uint16_t)m->days;
	for (size_t i = 0; i < m->n_proposals; i++)
		if (!fixed_set(w->proposals[i], m->proposals[i], REC_HASH_LEN))
			return false;
	memcpy(w->households, m->households, m->n_households * sizeof(w->households[0]));
	w->n = m->n_proposals;
	return str_set(w->reason, sizeof(w->reason), m->reason);
}

int
rec_workflow_decode(struct rec_workflow *out, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__workflow_event__descriptor, p, n, &m);
	if (rc < 0)
		return rc;
	struct rec_workflow *w = calloc(1, sizeof(*w)); /* 21 KB; OUT as it was on failure */
	bool ok = w && workflow_from(w, (const Jzfp__WorkflowEvent *)m);
	pbmsg_free(&buf, m);
	if (ok)
		*out = *w;
	rc = ok ? 0 : w ? JZ_EPARSE : -ENOMEM;
	free(w);
	return rc;
}

int
rec_objector_decode(struct rec_objector *out, const uint8_t *p, size_t n)
{
	struct rec_objector o;
	ProtobufCMessage *pm;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__objector__descriptor, p, n, &pm);
	if (rc < 0)
		return rc;
	const Jzfp__Objector *m = (const Jzfp__Objector *)pm;
	memset(&o, 0, sizeof(o));
	rc = str_set(o.name, sizeof(o.name), m->name) &&
	             str_set(o.contact, sizeof(o.contact), m->contact)
	         ? 0
	         : JZ_EPARSE;
	pbmsg_free(&buf, pm);
	if (rc == 0)
		*out = o;
	explicit_bzero(&o, sizeof(o));
	return rc;
}

static bool
keyrec_from(struct rec_keyrec *k, const Jzfp__KeyRecord *m)
{
	if (m->n_keys == 0 || m->n_keys > REC_MAX_READERS)
		return false;
	for (size_t i = 0; i < m->n_keys; i++)
		if (!fixed_set(k->reader[i], m->keys[i]->reader, 32) ||
		    !fixed_set(k->box[i], m->keys[i]->box, REC_KEY_BOX_LEN))
			return false;
	k->n = m->n_keys;
	k->has_grants = m->grants.len != 0;
	return !k->has_grants || fixed_set(k->grants, m->grants, 32);
}

int
rec_keyrec_decode(struct rec_keyrec *out, const uint8_t *p, size_t n)
{
	struct rec_keyrec k;
	ProtobufCMessage *m;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__key_record__descriptor, p, n, &m);
	if (rc < 0)
		return rc;
	memset(&k, 0, sizeof(k));
	bool ok = keyrec_from(&k, (const Jzfp__KeyRecord *)m);
	pbmsg_free(&buf, m);
	if (!ok)
		return JZ_EPARSE;
	*out = k;
	return 0;
}

int
rec_revocation_decode(struct rec_revocation *out, const uint8_t *p, size_t n)
{
	struct rec_revocation r;
	ProtobufCMessage *pm;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__revocation__descriptor, p, n, &pm);
	if (rc < 0)
		return rc;
	const Jzfp__Revocation *m = (const Jzfp__Revocation *)pm;
	memset(&r, 0, sizeof(r));
	r.at_ms = m->at_ms;
	bool ok = fixed_set(r.key, m->key, 32) && str_set(r.reason, sizeof(r.reason), m->reason);
	pbmsg_free(&buf, pm);
	if (!ok)
		return JZ_EPARSE;
	*out = r;
	return 0;
}

static bool
receipt_from(struct rec_receipt *r, const Jzfp__Receipt *m)
{
	if (m->n_items == 0 || m->n_items > REC_MAX_RECEIPT)
		return false;
	for (size_t i = 0; i < m->n_items; i++) {
		const Jzfp__ReceiptItem *it = m->items[i];
		if (!fixed_set(r->items[i].origin, it->origin, 32) || it->seq == 0 ||
		    !fixed_set(r->items[i].hash, it->hash, REC_HASH_LEN))
			return false;
		r->items[i].seq = it->seq;
	}
	r->n = m->n_items;
	return true;
}

int
rec_receipt_decode(struct rec_receipt *out, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m;
	struct pbmsg_buf buf;

	int rc = unpack(&buf, &jzfp__receipt__descriptor, p, n, &m);
	if (rc < 0)
		return rc;
	struct rec_receipt *r = calloc(1, sizeof(*r)); /* 18 KB; OUT as it was on failure */
	bool ok = r && receipt_from(r, (const Jzfp__Receipt *)m);
	pbmsg_free(&buf, m);
	if (ok)
		*out = *r;
	rc = ok ? 0 : r ? JZ_EPARSE : -ENOMEM;
	free(r);
	return rc;
}

/* ------------------------------------------------------------ names */

bool
rec_status_is_poor(uint8_t status)
{
	return status == HH_POOR || status == HH_RETURNED;
}

static const char *
name_of(const char *const *names, size_t count, uint8_t code)
{
	return code < count ? names[code] : "未知";
}

const char *
rec_status_name(uint8_t status)
{
	static const char *const names[] = {
	    "非贫困户", "未脱贫", "已脱贫（享受政策）", "已脱贫（不再享受政策）", "返贫", "剔除",
	};
	return name_of(names, ARRAY_LEN(names), status);
}

const char *
rec_attribute_name(uint8_t attribute)
{
	static const char *const names[] = {"", "一般贫困户", "低保贫困户", "特困供养贫困户"};
	return name_of(names, ARRAY_LEN(names), attribute);
}

const char *
rec_cause_name(uint8_t cause)
{
	static const char *const names[] = {
	    "",     "因病",   "因残",   "因学",   "因灾",         "缺土地",
	    "缺水", "缺技术", "缺劳力", "缺资金", "交通条件落后", "自身发展动力不足",
	    "其它",
	};
	return name_of(names, ARRAY_LEN(names), cause);
}

const char *
rec_standard_name(uint8_t standard)
{
	static const char *const names[] = {"", "国家标准", "省定标准", "市定标准"};
	return name_of(names, ARRAY_LEN(names), standard);
}

const char *
rec_health_name(uint8_t health)
{
	static const char *const names[] = {"", "健康", "长期慢性病", "患有大病", "残疾"};
	return name_of(names, ARRAY_LEN(names), health);
}

const char *
rec_relation_name(uint8_t relation)
{
	switch (relation) {
	case 1:
		return "户主";
	case 2:
		return "配偶";
	case 3:
		return "之子";
	case 4:
		return "之女";
	case 20:
		return "之外祖母";
	case 99:
		return "其他";
	default:
		return "";
	}
}

const char *
rec_labour_name(uint8_t labour)
{
	static const char *const names[] = {"", "普通劳动力", "技能劳动力", "丧失劳动力",
	                                    "无劳动力"};
	return name_of(names, ARRAY_LEN(names), labour);
}
