/*
 * envelope.c - envelopes: build and sign, decode without allocating, hash,
 * verify one origin's run with one signature (DESIGN §3, §11).
 *
 * Building packs Signed with protobuf-c straight into the caller's buffer,
 * after room for the Envelope's field-1 header, signs those bytes in place
 * and appends field 2, so the envelope is written once and never copied.
 * The layout is always the canonical one that envelope_decode demands:
 *
 *   0x0a <varint len(signed)> <signed> 0x12 0x40 <64-byte sig>
 *
 * (0x0a and 0x12 are the tags of Envelope.signed and Envelope.sig.)
 *
 * Decoding walks the wire format (pbwalk.h) and returns views into the
 * input: it runs for every received record, so it allocates nothing and
 * costs about one BLAKE2b pass over the envelope. It is the one zero-copy
 * decoder besides wire.c's frame and batch framing; its field numbers come
 * from jzfp.fields.h, generated from jzfp.proto's descriptors, never typed
 * here.
 */
#include "envelope.h"

#include "jzfp.fields.h"
#include "jzfp.pb-c.h"
#include "pbwalk.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

/* The canonical outer layout's two tag bytes (see envelope.h). */
#define TAG_SIGNED PBWALK_TAG(JZFP_F_ENVELOPE_SIGNED, PBWALK_LEN)
#define TAG_SIG    PBWALK_TAG(JZFP_F_ENVELOPE_SIG, PBWALK_LEN)
_Static_assert(TAG_SIGNED < 0x80 && TAG_SIG < 0x80, "one-byte tags");

/* protobuf-c's structs want mutable pointers even for packing. */
static uint8_t *
unconst(const uint8_t *p)
{
	return (uint8_t *)(uintptr_t)p;
}

static ProtobufCBinaryData
bin(const uint8_t *p, size_t n)
{
	ProtobufCBinaryData b = {n, unconst(p)};
	return b;
}

bool
envelope_kind_is_known(int kind)
{
	return kind >= ENV_KIND_NODE && kind <= ENV_KIND_MAX;
}

int
envelope_build(const struct ident *id, const struct env_fields *f, uint8_t *buf, size_t cap,
               size_t *n)
{
	Jzfp__Signed s = JZFP__SIGNED__INIT;
	Jzfp__Sealed sealed = JZFP__SEALED__INIT;

	if (f->seq == 0 || (f->seq == 1) != (f->prev == NULL) || !envelope_kind_is_known(f->kind))
		return -EINVAL;

	s.origin = bin(ident_public(id), ENV_ORIGIN_LEN);
	s.seq = f->seq;
	if (f->prev)
		s.prev = bin(f->prev, ENV_HASH_LEN);
	s.hlc = f->hlc;
	s.kind = (Jzfp__Kind)f->kind;
	s.subject = f->subject;
	s.body = bin(f->body.p, f->body.n);
	if (f->sealed_box.n > 0) {
		sealed.key_record = bin(f->sealed_key_record.p, f->sealed_key_record.n);
		sealed.nonce = bin(f->sealed_nonce.p, f->sealed_nonce.n);
		sealed.box = bin(f->sealed_box.p, f->sealed_box.n);
		s.sealed = &sealed;
	}

	size_t slen = jzfp__signed__get_packed_size(&s);
	size_t hdr = 1 + pbwalk_varint_size(slen);
	size_t total = hdr + slen + 2 + ENV_SIG_LEN;
	if (slen > ENV_MAX_SIZE || total > ENV_MAX_SIZE || total > cap)
		return JZ_ETOOBIG;

	buf[0] = TAG_SIGNED;
	uint8_t *q = buf + 1;
	for (size_t v = slen; v >= 0x80; v >>= 7)
		*q++ = (uint8_t)(v | 0x80);
	*q++ = (uint8_t)(slen >> (7 * (hdr - 2)));
	assert((size_t)(q - buf) == hdr);
	size_t packed = jzfp__signed__pack(&s, q);
	assert(packed == slen);
	q += slen;
	q[0] = TAG_SIG;
	q[1] = ENV_SIG_LEN;
	ident_sign(id, buf + hdr, slen, q + 2);
	*n = total;
	return 0;
}

static int
decode_sealed(struct envelope *e, struct bytes b)
{
	struct pbwalk w;
	struct pbwalk_field f;
	uint64_t seen = 0;
	int rc;

	pbwalk_init(&w, b.p, b.n);
	while ((rc = pbwalk_next(&w, &f)) > 0) {
		struct bytes *dst;
		switch (f.num) {
		case JZFP_F_SEALED_KEY_RECORD:
			dst = &e->sealed_key_record;
			break;
		case JZFP_F_SEALED_NONCE:
			dst = &e->sealed_nonce;
			break;
		case JZFP_F_SEALED_BOX:
			dst = &e->sealed_box;
			break;
		default:
			continue;
		}
		if (f.wt != PBWALK_LEN || !pbwalk_once(&seen, f.num))
			return JZ_EPARSE;
		*dst = f.b;
	}
	return rc;
}

/* Fill e from the bytes of Signed. */
static int
decode_signed(struct envelope *e, struct bytes b)
{
	struct pbwalk w;
	struct pbwalk_field f;
	uint64_t seen = 0;
	struct bytes origin = {NULL, 0}, prev = {NULL, 0};
	int rc;

	pbwalk_init(&w, b.p, b.n);
	while ((rc = pbwalk_next(&w, &f)) > 0) {
		int want;
		switch (f.num) {
		case JZFP_F_SIGNED_ORIGIN:
		case JZFP_F_SIGNED_PREV:
		case JZFP_F_SIGNED_BODY:
		case JZFP_F_SIGNED_SEALED:
			want = PBWALK_LEN;
			break;
		case JZFP_F_SIGNED_SEQ:
		case JZFP_F_SIGNED_HLC:
		case JZFP_F_SIGNED_KIND:
		case JZFP_F_SIGNED_SUBJECT:
			want = PBWALK_VARINT;
			break;
		default:
			continue; /* unknown: covered by the signature, skipped */
		}
		if (f.wt != want || !pbwalk_once(&seen, f.num))
			return JZ_EPARSE;
		switch (f.num) {
		case JZFP_F_SIGNED_ORIGIN:
			origin = f.b;
			break;
		case JZFP_F_SIGNED_SEQ:
			e->seq = f.v;
			break;
		case JZFP_F_SIGNED_PREV:
			prev = f.b;
			break;
		case JZFP_F_SIGNED_HLC:
			e->hlc = f.v;
			break;
		case JZFP_F_SIGNED_KIND:
			/* An int32 enum: negative values arrive as 10-byte varints. */
			if (f.v > ENV_KIND_MAX)
				return JZ_EPARSE;
			e->kind = (int)f.v;
			break;
		case JZFP_F_SIGNED_SUBJECT:
			e->subject = f.v;
			break;
		case JZFP_F_SIGNED_BODY:
			e->body = f.b;
			break;
		case JZFP_F_SIGNED_SEALED:
			e->has_sealed = true;
			rc = decode_sealed(e, f.b);
			if (rc < 0)
				return rc;
			break;
		}
	}
	if (rc < 0)
		return rc;

	if (origin.n != ENV_ORIGIN_LEN || e->seq == 0 || !envelope_kind_is_known(e->kind))
		return JZ_EPARSE;
	memcpy(e->origin, origin.p, ENV_ORIGIN_LEN);
	if (e->seq == 1) {
		if (prev.n != 0)
			return JZ_EPARSE;
	} else {
		if (prev.n != ENV_HASH_LEN)
			return JZ_EPARSE;
		memcpy(e->prev, prev.p, ENV_HASH_LEN);
		e->has_prev = true;
	}
	return 0;
}

int
envelope_decode(struct envelope *out, const uint8_t *p, size_t n)
{
	struct envelope e;
	uint64_t slen;
	size_t k;

	if (n > ENV_MAX_SIZE)
		return JZ_ETOOBIG;
	/* The canonical outer layout, byte for byte (see envelope.h). */
	if (n < 1 || p[0] != TAG_SIGNED)
		return JZ_EPARSE;
	k = pbwalk_varint(p + 1, p + n, &slen);
	if (!k || k != pbwalk_varint_size(slen) || slen == 0 || n < 1 + k + 2 + ENV_SIG_LEN ||
	    slen != n - 1 - k - 2 - ENV_SIG_LEN)
		return JZ_EPARSE;
	const uint8_t *sig_hdr = p + 1 + k + slen;
	if (sig_hdr[0] != TAG_SIG || sig_hdr[1] != ENV_SIG_LEN)
		return JZ_EPARSE;

	memset(&e, 0, sizeof(e));
	e.raw.p = p;
	e.raw.n = n;
	e.signed_bytes.p = p + 1 + k;
	e.signed_bytes.n = (size_t)slen;
	e.sig = sig_hdr + 2;
	int rc = decode_signed(&e, e.signed_bytes);
	if (rc < 0)
		return rc;
	envelope_hash(p, n, e.hash);
	*out = e;
	return 0;
}

bool
envelope_sig_ok(const struct envelope *e)
{
	if (sodium_init() < 0)
		return false;
	return crypto_sign_verify_detached(e->sig, e->signed_bytes.p, e->signed_bytes.n,
	                                   e->origin) == 0;
}

void
envelope_hash(const uint8_t *p, size_t n, uint8_t out[ENV_HASH_LEN])
{
	crypto_generichash(out, ENV_HASH_LEN, p, n, NULL, 0);
}

/* Does b continue a in one origin's chain? Hashes are public: memcmp, not
 * sodium_memcmp's constant time (a hundredth of a relay's CPU). */
static bool
links(const struct envelope *a, const struct envelope *b)
{
	return memcmp(a->origin, b->origin, ENV_ORIGIN_LEN) == 0 && a->seq != UINT64_MAX &&
	       b->seq == a->seq + 1 && b->has_prev && memcmp(b->prev, a->hash, ENV_HASH_LEN) == 0;
}

int
envelope_verify_run(const struct envelope *const *run, size_t n, size_t *bad)
{
	size_t good_end = n; /* run[0..good_end) is linked */

	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (!links(run[i - 1], run[i])) {
			good_end = i;
			break;
		}
	}
	if (good_end == n && envelope_sig_ok(run[n - 1]))
		return 0;

	/* The last good signature in the linked prefix vouches for everything
	 * before it; run[n - 1]'s has already failed if the whole run linked. */
	size_t k = good_end == n ? n - 1 : good_end;
	while (k > 0) {
		k--;
		if (envelope_sig_ok(run[k])) {
			*bad = k + 1;
			return JZ_EFORGED;
		}
	}
	*bad = 0;
	return JZ_EFORGED;
}
