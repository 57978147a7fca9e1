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
#include "text.h"

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

/* Copy a decoded string field into char[cap], refusing what does not fit
 * or is not clean text. */
static bool
cstr_set(char *dst, size_t cap, struct bytes b)
{
	if (b.n >= cap || !text_is_clean((const char *)b.p, b.n, 0, NULL))
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
    {13, PBWALK_VARINT, false}, {14, PBWALK_VARINT, false},
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
	case 13:
		h->proposes = f->v != 0;
		return 0;
	case 14:
		return set_u8(&h->from_status, f->v, HH_STATUS_MAX);
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
	if (!h.proposes && h.from_status)
		return JZ_EPARSE;
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

/* ------------------------------------------------------------ later kinds */

static int
check_policy(const struct rec_policy *p)
{
	if (p->notice_days > 365 || p->threshold_bp > 10000 || p->n_lines > REC_MAX_LINES)
		return JZ_EPARSE;
	return 0;
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
	return pack(&m.base, buf, cap, n);
}

int
rec_workflow_encode(const struct rec_workflow *w, uint8_t *buf, size_t cap, size_t *n)
{
	static _Thread_local ProtobufCBinaryData props[REC_MAX_PROPOSALS];
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
	static _Thread_local Jzfp__ReceiptItem is[REC_MAX_RECEIPT];
	static _Thread_local Jzfp__ReceiptItem *ip[REC_MAX_RECEIPT];
	Jzfp__Receipt m;

	int err = check_receipt(r);
	if (err)
		return err;
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
	return pack(&m.base, buf, cap, n);
}

static const struct field_spec line_spec[] = {
    {1, PBWALK_VARINT, false},
    {2, PBWALK_VARINT, false},
};

static int
line_field(void *out, const struct pbwalk_field *f)
{
	struct rec_policy *p = out;
	if (f->num == 1)
		return set_u16(&p->lines[p->n_lines].year, f->v);
	p->lines[p->n_lines].fen = f->v;
	return 0;
}

static const struct field_spec policy_spec[] = {
    {1, PBWALK_VARINT, false},
    {2, PBWALK_LEN, true},
    {3, PBWALK_VARINT, false},
};

static int
policy_field(void *out, const struct pbwalk_field *f)
{
	struct rec_policy *p = out;
	switch (f->num) {
	case 1:
		if (f->v > 365)
			return JZ_EPARSE;
		p->notice_days = (uint16_t)f->v;
		return 0;
	case 3:
		if (f->v > 10000)
			return JZ_EPARSE;
		p->threshold_bp = (uint16_t)f->v;
		return 0;
	default: {
		if (p->n_lines >= REC_MAX_LINES)
			return JZ_EPARSE;
		int rc =
		    decode_walk(f->b.p, f->b.n, line_spec, ARRAY_LEN(line_spec), line_field, p);
		if (rc < 0)
			return rc;
		p->n_lines++;
		return 0;
	}
	}
}

int
rec_policy_decode(struct rec_policy *out, const uint8_t *p, size_t n)
{
	static _Thread_local struct rec_policy r;

	memset(&r, 0, sizeof(r));
	int rc = decode_walk(p, n, policy_spec, ARRAY_LEN(policy_spec), policy_field, &r);
	if (rc < 0)
		return rc;
	*out = r;
	return 0;
}

static const struct field_spec workflow_spec[] = {
    {1, PBWALK_VARINT, false}, {2, PBWALK_LEN, true},  {3, PBWALK_VARINT, true},
    {4, PBWALK_VARINT, false}, {5, PBWALK_LEN, false},
};

struct workflow_ctx {
	struct rec_workflow *w;
	size_t n_households;
};

static int
add_household_id(struct workflow_ctx *c, uint64_t v)
{
	if (c->n_households >= REC_MAX_PROPOSALS)
		return JZ_EPARSE;
	c->w->households[c->n_households++] = v;
	return 0;
}

static int
workflow_field(void *out, const struct pbwalk_field *f)
{
	struct workflow_ctx *c = out;
	struct rec_workflow *w = c->w;
	switch (f->num) {
	case 1:
		if (f->v == 0 || f->v > REC_WF_STEP_MAX)
			return JZ_EPARSE;
		w->step = (uint8_t)f->v;
		return 0;
	case 2:
		if (w->n >= REC_MAX_PROPOSALS || f->b.n != REC_HASH_LEN)
			return JZ_EPARSE;
		memcpy(w->proposals[w->n++], f->b.p, REC_HASH_LEN);
		return 0;
	case 3:
		if (f->wt == PBWALK_VARINT)
			return add_household_id(c, f->v);
		for (const uint8_t *q = f->b.p, *end = f->b.p + f->b.n; q < end;) {
			uint64_t v;
			size_t k = pbwalk_varint(q, end, &v);
			if (!k)
				return JZ_EPARSE;
			q += k;
			int rc = add_household_id(c, v);
			if (rc < 0)
				return rc;
		}
		return 0;
	case 4:
		if (f->v > 365)
			return JZ_EPARSE;
		w->days = (uint16_t)f->v;
		return 0;
	default:
		return cstr_set(w->reason, sizeof(w->reason), f->b) ? 0 : JZ_EPARSE;
	}
}

int
rec_workflow_decode(struct rec_workflow *out, const uint8_t *p, size_t n)
{
	static _Thread_local struct rec_workflow w; /* 21 KB; the loop thread is the only user */

	memset(&w, 0, sizeof(w));
	struct workflow_ctx c = {&w, 0};
	int rc = decode_walk(p, n, workflow_spec, ARRAY_LEN(workflow_spec), workflow_field, &c);
	if (rc < 0)
		return rc;
	if (w.step == 0 || w.n == 0 || c.n_households != w.n)
		return JZ_EPARSE;
	*out = w;
	return 0;
}

static const struct field_spec objector_spec[] = {
    {1, PBWALK_LEN, false},
    {2, PBWALK_LEN, false},
};

static int
objector_field(void *out, const struct pbwalk_field *f)
{
	struct rec_objector *o = out;
	bool ok = f->num == 1 ? cstr_set(o->name, sizeof(o->name), f->b)
	                      : cstr_set(o->contact, sizeof(o->contact), f->b);
	return ok ? 0 : JZ_EPARSE;
}

int
rec_objector_decode(struct rec_objector *out, const uint8_t *p, size_t n)
{
	struct rec_objector o;

	memset(&o, 0, sizeof(o));
	int rc = decode_walk(p, n, objector_spec, ARRAY_LEN(objector_spec), objector_field, &o);
	if (rc == 0)
		*out = o;
	explicit_bzero(&o, sizeof(o));
	return rc;
}

static const struct field_spec sealed_key_spec[] = {
    {1, PBWALK_LEN, false},
    {2, PBWALK_LEN, false},
};

struct sealed_key_ctx {
	struct rec_keyrec *k;
	bool has_reader, has_box;
};

static int
sealed_key_field(void *out, const struct pbwalk_field *f)
{
	struct sealed_key_ctx *c = out;
	if (f->num == 1) {
		if (f->b.n != 32)
			return JZ_EPARSE;
		memcpy(c->k->reader[c->k->n], f->b.p, 32);
		c->has_reader = true;
	} else {
		if (f->b.n != REC_KEY_BOX_LEN)
			return JZ_EPARSE;
		memcpy(c->k->box[c->k->n], f->b.p, REC_KEY_BOX_LEN);
		c->has_box = true;
	}
	return 0;
}

static const struct field_spec keyrec_spec[] = {
    {1, PBWALK_LEN, true},
};

static int
keyrec_field(void *out, const struct pbwalk_field *f)
{
	struct rec_keyrec *k = out;
	if (k->n >= REC_MAX_READERS)
		return JZ_EPARSE;
	struct sealed_key_ctx c = {k, false, false};
	int rc = decode_walk(f->b.p, f->b.n, sealed_key_spec, ARRAY_LEN(sealed_key_spec),
	                     sealed_key_field, &c);
	if (rc < 0)
		return rc;
	if (!c.has_reader || !c.has_box)
		return JZ_EPARSE;
	k->n++;
	return 0;
}

int
rec_keyrec_decode(struct rec_keyrec *out, const uint8_t *p, size_t n)
{
	struct rec_keyrec k;

	memset(&k, 0, sizeof(k));
	int rc = decode_walk(p, n, keyrec_spec, ARRAY_LEN(keyrec_spec), keyrec_field, &k);
	if (rc < 0)
		return rc;
	if (k.n == 0)
		return JZ_EPARSE;
	*out = k;
	return 0;
}

static const struct field_spec revocation_spec[] = {
    {1, PBWALK_LEN, false},
    {2, PBWALK_VARINT, false},
    {3, PBWALK_LEN, false},
};

struct revocation_ctx {
	struct rec_revocation *r;
	bool has_key;
};

static int
revocation_field(void *out, const struct pbwalk_field *f)
{
	struct revocation_ctx *c = out;
	switch (f->num) {
	case 1:
		if (f->b.n != 32)
			return JZ_EPARSE;
		memcpy(c->r->key, f->b.p, 32);
		c->has_key = true;
		return 0;
	case 2:
		c->r->at_ms = f->v;
		return 0;
	default:
		return cstr_set(c->r->reason, sizeof(c->r->reason), f->b) ? 0 : JZ_EPARSE;
	}
}

int
rec_revocation_decode(struct rec_revocation *out, const uint8_t *p, size_t n)
{
	struct rec_revocation r;

	memset(&r, 0, sizeof(r));
	struct revocation_ctx c = {&r, false};
	int rc =
	    decode_walk(p, n, revocation_spec, ARRAY_LEN(revocation_spec), revocation_field, &c);
	if (rc < 0)
		return rc;
	if (!c.has_key)
		return JZ_EPARSE;
	*out = r;
	return 0;
}

static const struct field_spec receipt_item_spec[] = {
    {1, PBWALK_LEN, false},
    {2, PBWALK_VARINT, false},
    {3, PBWALK_LEN, false},
};

struct receipt_ctx {
	struct rec_receipt *r;
	bool has_origin, has_hash;
};

static int
receipt_item_field(void *out, const struct pbwalk_field *f)
{
	struct receipt_ctx *c = out;
	switch (f->num) {
	case 1:
		if (f->b.n != 32)
			return JZ_EPARSE;
		memcpy(c->r->items[c->r->n].origin, f->b.p, 32);
		c->has_origin = true;
		return 0;
	case 2:
		c->r->items[c->r->n].seq = f->v;
		return 0;
	default:
		if (f->b.n != REC_HASH_LEN)
			return JZ_EPARSE;
		memcpy(c->r->items[c->r->n].hash, f->b.p, REC_HASH_LEN);
		c->has_hash = true;
		return 0;
	}
}

static const struct field_spec receipt_spec[] = {
    {1, PBWALK_LEN, true},
};

static int
receipt_field(void *out, const struct pbwalk_field *f)
{
	struct rec_receipt *r = out;
	if (r->n >= REC_MAX_RECEIPT)
		return JZ_EPARSE;
	struct receipt_ctx c = {r, false, false};
	int rc = decode_walk(f->b.p, f->b.n, receipt_item_spec, ARRAY_LEN(receipt_item_spec),
	                     receipt_item_field, &c);
	if (rc < 0)
		return rc;
	if (!c.has_origin || !c.has_hash || r->items[r->n].seq == 0)
		return JZ_EPARSE;
	r->n++;
	return 0;
}

int
rec_receipt_decode(struct rec_receipt *out, const uint8_t *p, size_t n)
{
	static _Thread_local struct rec_receipt r; /* 18 KB; the loop thread is the only user */

	memset(&r, 0, sizeof(r));
	int rc = decode_walk(p, n, receipt_spec, ARRAY_LEN(receipt_spec), receipt_field, &r);
	if (rc < 0)
		return rc;
	if (r.n == 0)
		return JZ_EPARSE;
	*out = r;
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
