/*
 * record.c - record bodies: fixed-size C structs <-> protobuf (DESIGN §2).
 *
 * Encoding goes through protobuf-c's generated packers, pointed at our own
 * storage (stack arrays of member structs and pointers), and packs straight
 * into the caller's buffer: no allocation.
 *
 * Decoding walks the wire format itself (pbwalk.h) rather than calling
 * protobuf-c's unpack, for three reasons: unpack allocates (one block per
 * bytes or string field, more for repeated ones), it NUL-terminates strings
 * so an embedded NUL would silently truncate a name instead of being
 * refused, and the limits (64 members, 16-byte tags, string lengths) are
 * checked as each field is read instead of after everything has been copied.
 * The round-trip tests hold the two sides to the same format.
 *
 * Both directions apply the same checks (check_* below), so an encoded record
 * always decodes. Known fields may appear once (repeated ones any number of
 * times); unknown fields are skipped.
 */
#include "record.h"

#include "jzfp.pb-c.h"
#include "pbwalk.h"

#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ checks */

/* A C string held in char[cap]: terminated inside the array, valid UTF-8. */
static bool
cstr_ok(const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);
	return nul && pbwalk_utf8_ok((const uint8_t *)s, (size_t)(nul - s));
}

/* Copy a decoded string field into char[cap], refusing what does not fit. */
static bool
cstr_set(char *dst, size_t cap, struct bytes b)
{
	if (b.n >= cap || !pbwalk_utf8_ok(b.p, b.n))
		return false;
	memcpy(dst, b.p, b.n);
	dst[b.n] = '\0';
	return true;
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
 * A field table entry: number, wire type, whether it may repeat. decode_walk
 * checks wire types and duplicates and hands each known field to the
 * message's own setter.
 */
struct field_spec {
	uint32_t num;
	int wt;
	bool repeated;
};

typedef int (*field_fn)(void *out, const struct pbwalk_field *f);

static int
decode_walk(const uint8_t *p, size_t n, const struct field_spec *spec, size_t nspec, field_fn fn,
            void *out)
{
	struct pbwalk w;
	struct pbwalk_field f;
	uint64_t seen = 0;
	int rc;

	pbwalk_init(&w, p, n);
	while ((rc = pbwalk_next(&w, &f)) > 0) {
		const struct field_spec *s = NULL;
		for (size_t i = 0; i < nspec; i++) {
			if (spec[i].num == f.num) {
				s = &spec[i];
				break;
			}
		}
		if (!s)
			continue;
		/* Packed repeated scalars arrive length-delimited. */
		if (f.wt != s->wt && !(s->repeated && s->wt == PBWALK_VARINT && f.wt == PBWALK_LEN))
			return JZ_EPARSE;
		if (!s->repeated && !pbwalk_once(&seen, f.num))
			return JZ_EPARSE;
		rc = fn(out, &f);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int
set_u8(uint8_t *dst, uint64_t v, unsigned max)
{
	if (v > max)
		return JZ_EPARSE;
	*dst = (uint8_t)v;
	return 0;
}

static int
set_u16(uint16_t *dst, uint64_t v)
{
	if (v > UINT16_MAX)
		return JZ_EPARSE;
	*dst = (uint16_t)v;
	return 0;
}

static const struct field_spec member_spec[] = {
    {1, PBWALK_LEN, false},
    {2, PBWALK_VARINT, false},
    {3, PBWALK_VARINT, false},
};

struct member_ctx {
	struct rec_member *m;
	bool has_tag;
};

static int
member_field(void *out, const struct pbwalk_field *f)
{
	struct member_ctx *c = out;
	switch (f->num) {
	case 1:
		if (f->b.n != REC_PID_TAG_LEN)
			return JZ_EPARSE;
		memcpy(c->m->pid_tag, f->b.p, REC_PID_TAG_LEN);
		c->has_tag = true;
		return 0;
	case 2:
		return set_u8(&c->m->health, f->v, REC_HEALTH_MAX);
	default:
		return set_u8(&c->m->labour, f->v, REC_LABOUR_MAX);
	}
}

static const struct field_spec household_spec[] = {
    {1, PBWALK_VARINT, false},  {2, PBWALK_VARINT, false},  {3, PBWALK_VARINT, false},
    {4, PBWALK_LEN, true},      {5, PBWALK_VARINT, false},  {6, PBWALK_VARINT, false},
    {7, PBWALK_VARINT, false},  {8, PBWALK_VARINT, true},   {9, PBWALK_VARINT, false},
    {10, PBWALK_VARINT, false}, {11, PBWALK_VARINT, false}, {12, PBWALK_LEN, true},
};

static int
add_other_cause(struct rec_household *h, uint64_t v)
{
	if (h->n_other >= REC_MAX_OTHER || v == 0 || v > REC_CAUSE_MAX)
		return JZ_EPARSE;
	h->other_causes[h->n_other++] = (uint8_t)v;
	return 0;
}

static int
household_field(void *out, const struct pbwalk_field *f)
{
	struct rec_household *h = out;
	int rc;

	switch (f->num) {
	case 1:
		h->id = f->v;
		return 0;
	case 2:
		h->village = f->v;
		return 0;
	case 3:
		return set_u16(&h->year, f->v);
	case 4: {
		if (h->n_members >= REC_MAX_MEMBERS)
			return JZ_EPARSE;
		struct member_ctx c = {&h->members[h->n_members], false};
		rc = decode_walk(f->b.p, f->b.n, member_spec, ARRAY_LEN(member_spec), member_field,
		                 &c);
		if (rc < 0)
			return rc;
		/* The encoder always writes the tag; without one the member is
		 * not countable as a person. */
		if (!c.has_tag)
			return JZ_EPARSE;
		h->n_members++;
		return 0;
	}
	case 5:
		return set_u8(&h->standard, f->v, REC_STANDARD_MAX);
	case 6:
		return set_u8(&h->attribute, f->v, REC_ATTRIBUTE_MAX);
	case 7:
		return set_u8(&h->main_cause, f->v, REC_CAUSE_MAX);
	case 8:
		if (f->wt == PBWALK_VARINT)
			return add_other_cause(h, f->v);
		for (const uint8_t *q = f->b.p, *end = f->b.p + f->b.n; q < end;) {
			uint64_t v;
			size_t k = pbwalk_varint(q, end, &v);
			if (!k)
				return JZ_EPARSE;
			q += k;
			rc = add_other_cause(h, v);
			if (rc < 0)
				return rc;
		}
		return 0;
	case 9:
		h->income_fen = (int64_t)f->v;
		return 0;
	case 10:
		h->relocated = f->v != 0;
		return 0;
	case 11:
		return set_u8(&h->status, f->v, HH_STATUS_MAX);
	default: /* 12 */
		if (h->n_parents >= REC_MAX_PARENTS || f->b.n != REC_HASH_LEN)
			return JZ_EPARSE;
		memcpy(h->parents[h->n_parents++], f->b.p, REC_HASH_LEN);
		return 0;
	}
}

int
rec_household_decode(struct rec_household *out, const uint8_t *p, size_t n)
{
	struct rec_household h;

	memset(&h, 0, sizeof(h));
	int rc = decode_walk(p, n, household_spec, ARRAY_LEN(household_spec), household_field, &h);
	if (rc < 0)
		return rc;
	*out = h;
	return 0;
}

static const struct field_spec person_spec[] = {
    {1, PBWALK_LEN, false},    {2, PBWALK_LEN, false}, {3, PBWALK_VARINT, false},
    {4, PBWALK_VARINT, false}, {5, PBWALK_LEN, false}, {6, PBWALK_VARINT, false},
    {7, PBWALK_VARINT, false},
};

static int
person_field(void *out, const struct pbwalk_field *f)
{
	struct rec_person *m = out;
	bool ok;

	switch (f->num) {
	case 1:
		ok = cstr_set(m->name, sizeof(m->name), f->b);
		break;
	case 2:
		ok = cstr_set(m->id_number, sizeof(m->id_number), f->b);
		break;
	case 3:
		return set_u8(&m->relation, f->v, REC_CODE2_MAX);
	case 4:
		return set_u8(&m->sex, f->v, REC_SEX_MAX);
	case 5:
		ok = cstr_set(m->birth_date, sizeof(m->birth_date), f->b);
		break;
	case 6:
		return set_u8(&m->ethnicity, f->v, REC_CODE2_MAX);
	default:
		return set_u8(&m->schooling, f->v, REC_CODE2_MAX);
	}
	return ok ? 0 : JZ_EPARSE;
}

static const struct field_spec personal_spec[] = {
    {1, PBWALK_LEN, true},
    {2, PBWALK_LEN, false},
};

static int
personal_field(void *out, const struct pbwalk_field *f)
{
	struct rec_personal *p = out;

	if (f->num == 2)
		return cstr_set(p->phone, sizeof(p->phone), f->b) ? 0 : JZ_EPARSE;
	if (p->n >= REC_MAX_MEMBERS)
		return JZ_EPARSE;
	int rc = decode_walk(f->b.p, f->b.n, person_spec, ARRAY_LEN(person_spec), person_field,
	                     &p->members[p->n]);
	if (rc < 0)
		return rc;
	p->n++;
	return 0;
}

int
rec_personal_decode(struct rec_personal *out, const uint8_t *p, size_t n)
{
	struct rec_personal r;

	memset(&r, 0, sizeof(r));
	int rc = decode_walk(p, n, personal_spec, ARRAY_LEN(personal_spec), personal_field, &r);
	if (rc == 0)
		*out = r;
	/* The copy on the stack held names and ID numbers. */
	explicit_bzero(&r, sizeof(r));
	return rc;
}

static const struct field_spec census_spec[] = {
    {1, PBWALK_VARINT, false}, {2, PBWALK_LEN, false},    {3, PBWALK_VARINT, false},
    {4, PBWALK_VARINT, false}, {5, PBWALK_VARINT, false},
};

static int
census_field(void *out, const struct pbwalk_field *f)
{
	struct rec_census *c = out;

	switch (f->num) {
	case 1:
		c->village = f->v;
		return 0;
	case 2:
		return cstr_set(c->name, sizeof(c->name), f->b) ? 0 : JZ_EPARSE;
	case 3:
		return set_u16(&c->year, f->v);
	case 4:
		c->households = f->v;
		return 0;
	default:
		c->population = f->v;
		return 0;
	}
}

int
rec_census_decode(struct rec_census *out, const uint8_t *p, size_t n)
{
	struct rec_census c;

	memset(&c, 0, sizeof(c));
	int rc = decode_walk(p, n, census_spec, ARRAY_LEN(census_spec), census_field, &c);
	if (rc < 0)
		return rc;
	*out = c;
	return 0;
}

static const struct field_spec node_spec[] = {
    {1, PBWALK_VARINT, false},
    {2, PBWALK_VARINT, false},
    {3, PBWALK_LEN, false},
    {4, PBWALK_LEN, false},
};

static int
node_field(void *out, const struct pbwalk_field *f)
{
	struct rec_node *nd = out;

	switch (f->num) {
	case 1:
		nd->area = f->v;
		return 0;
	case 2:
		return set_u8(&nd->level, f->v, UINT8_MAX);
	case 4:
		if (f->b.n > REC_MAX_CERT_CHAIN)
			return JZ_EPARSE;
		if (f->b.n)
			memcpy(nd->cert_chain, f->b.p, f->b.n);
		nd->cert_chain_len = f->b.n;
		return 0;
	default:
		return cstr_set(nd->name, sizeof(nd->name), f->b) ? 0 : JZ_EPARSE;
	}
}

int
rec_node_decode(struct rec_node *out, const uint8_t *p, size_t n)
{
	struct rec_node nd;

	memset(&nd, 0, sizeof(nd));
	int rc = decode_walk(p, n, node_spec, ARRAY_LEN(node_spec), node_field, &nd);
	if (rc < 0)
		return rc;
	*out = nd;
	return 0;
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
rec_labour_name(uint8_t labour)
{
	static const char *const names[] = {"", "普通劳动力", "技能劳动力", "丧失劳动力",
	                                    "无劳动力"};
	return name_of(names, ARRAY_LEN(names), labour);
}
