/*
 * render_json.c - any control reply as JSON, from its protobuf-c descriptor
 * (render.h). The conventions are those written at the top of
 * proto/ctl.proto: field names are the keys, every field is written, an
 * unset sub-message is null, and Fixed, Time, OptBool and map entries have
 * their own forms. Times are rendered in the zone render_set_zone chose.
 */
#include "hex.h"
#include "render.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- time */

int
render_set_zone(const char *zone)
{
	int rc = timefmt_set_zone(zone && zone[0] ? zone : TIMEFMT_ZONE_DEFAULT);
	if (rc)
		timefmt_set_zone("UTC");
	return rc;
}

void
render_time(uint64_t unix_ms, char out[40])
{
	timefmt_local(unix_ms, out);
}

void
render_time_iso(uint64_t unix_ms, char out[40])
{
	timefmt_iso(unix_ms, out);
}

/* ---------------------------------------------------------------- values */

void
render_fixed(const Ctl__Fixed *x, char out[32])
{
	if (!x) {
		out[0] = 0;
		return;
	}
	uint64_t div = 1;
	for (uint32_t i = 0; i < x->scale && i < 18; i++)
		div *= 10;
	uint64_t mag = x->value < 0 ? (uint64_t)0 - (uint64_t)x->value : (uint64_t)x->value;
	if (x->scale > 18) { /* not sent by jzfpd; printf's text, cut at 31 bytes */
		snprintf(out, 32, "%s%" PRIu64 ".%0*" PRIu64, x->value < 0 ? "-" : "", mag / div,
		         (int)x->scale, mag % div);
		return;
	}
	/* As "%s%" PRIu64 ".%0*" PRIu64, without printf (a rollup has
	 * thousands): at most 1 + 20 + 1 + 18 bytes and the NUL... */
	char whole[OUT_NUM_SIZE], frac[OUT_NUM_SIZE];
	size_t nw = out_u64(whole, mag / div), k = 0;
	if (x->value < 0)
		out[k++] = '-';
	/* ...which is 41 when both are long: keep to 31, as snprintf did. */
	for (size_t i = 0; i < nw && k < 31; i++)
		out[k++] = whole[i];
	if (x->scale) {
		size_t nf = out_u64(frac, mag % div);
		if (k < 31)
			out[k++] = '.';
		for (size_t i = nf; i < x->scale && k < 31; i++)
			out[k++] = '0';
		for (size_t i = 0; i < nf && k < 31; i++)
			out[k++] = frac[i];
	}
	out[k] = 0;
}

static void
json_double(struct sbuf *out, double d)
{
	if (!isfinite(d)) {
		sbuf_add(out, "null", 4);
		return;
	}
	char b[40];
	snprintf(b, sizeof(b), "%.15g", d);
	sbuf_add(out, b, strlen(b));
	if (!strpbrk(b, ".eE"))
		sbuf_add(out, ".0", 2);
}

static bool
is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t n = strlen(d->name);
	return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
	       strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static void value(struct sbuf *out, const ProtobufCFieldDescriptor *f, const void *p);

static void
message(struct sbuf *out, const ProtobufCMessage *m)
{
	if (!m) {
		sbuf_add(out, "null", 4);
		return;
	}
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (d == &ctl__fixed__descriptor) {
		char b[32];
		render_fixed((const Ctl__Fixed *)m, b);
		sbuf_add(out, b, strlen(b));
		return;
	}
	if (d == &ctl__time__descriptor) {
		char b[40];
		render_time_iso(((const Ctl__Time *)m)->unix_ms, b);
		sbuf_json_str(out, b);
		return;
	}
	if (d == &ctl__opt_bool__descriptor) {
		if (((const Ctl__OptBool *)m)->value)
			sbuf_add(out, "true", 4);
		else
			sbuf_add(out, "false", 5);
		return;
	}
	sbuf_add(out, "{", 1);
	bool first = true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const uint8_t *base = (const uint8_t *)m;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
			if (which != f->id)
				continue;
		}
		if (!first)
			sbuf_add(out, ",", 1);
		first = false;
		sbuf_json_str(out, f->name);
		sbuf_add(out, ":", 1);
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			value(out, f, base + f->offset);
			continue;
		}
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		const uint8_t *arr = *(const uint8_t *const *)(base + f->offset);
		bool map = f->type == PROTOBUF_C_TYPE_MESSAGE &&
		           is_map_entry((const ProtobufCMessageDescriptor *)f->descriptor);
		sbuf_add(out, map ? "{" : "[", 1);
		for (size_t k = 0; k < n; k++) {
			if (k)
				sbuf_add(out, ",", 1);
			if (map) {
				const ProtobufCMessage *e =
				    ((const ProtobufCMessage *const *)arr)[k];
				const ProtobufCMessageDescriptor *ed = e->descriptor;
				const uint8_t *eb = (const uint8_t *)e;
				const char *key = *(const char *const *)(eb + ed->fields[0].offset);
				sbuf_json_str(out, key ? key : "");
				sbuf_add(out, ":", 1);
				value(out, &ed->fields[1], eb + ed->fields[1].offset);
				continue;
			}
			size_t size;
			switch (f->type) {
			case PROTOBUF_C_TYPE_INT64:
			case PROTOBUF_C_TYPE_SINT64:
			case PROTOBUF_C_TYPE_SFIXED64:
			case PROTOBUF_C_TYPE_UINT64:
			case PROTOBUF_C_TYPE_FIXED64:
			case PROTOBUF_C_TYPE_DOUBLE:
				size = 8;
				break;
			case PROTOBUF_C_TYPE_STRING:
			case PROTOBUF_C_TYPE_MESSAGE:
				size = sizeof(void *);
				break;
			case PROTOBUF_C_TYPE_BYTES:
				size = sizeof(ProtobufCBinaryData);
				break;
			default:
				size = 4;
			}
			value(out, f, arr + k * size);
		}
		sbuf_add(out, map ? "}" : "]", 1);
	}
	sbuf_add(out, "}", 1);
}

static void
value(struct sbuf *out, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		sbuf_i64(out, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		sbuf_u64(out, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		sbuf_i64(out, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		sbuf_u64(out, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_double(out, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_double(out, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		if (*(const protobuf_c_boolean *)p)
			sbuf_add(out, "true", 4);
		else
			sbuf_add(out, "false", 5);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		    (const ProtobufCEnumDescriptor *)f->descriptor, *(const int *)p);
		if (ev)
			sbuf_json_str(out, ev->name);
		else
			sbuf_printf(out, "%d", *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)p;
		sbuf_json_str(out, s ? s : "");
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		char *hx = malloc(2 * b->len + 1);
		if (!hx) {
			sbuf_add(out, "null", 4);
			break;
		}
		hex_encode(b->data, b->len, hx);
		sbuf_json_str(out, hx);
		free(hx);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		message(out, *(const ProtobufCMessage *const *)p);
		break;
	}
}

void
render_json(struct sbuf *out, const ProtobufCMessage *m)
{
	message(out, m);
}

int
render_json_file(FILE *f, const ProtobufCMessage *m)
{
	struct sbuf s;
	sbuf_init(&s);
	message(&s, m);
	sbuf_add(&s, "\n", 1);
	int err = s.oom ? -ENOMEM : 0;
	if (!err)
		fwrite(s.p ? s.p : "", 1, s.n, f);
	sbuf_release(&s);
	return err;
}

void
render_excel_cell(struct sbuf *out, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	size_t digits = strspn(text ? text : "", "0123456789");
	if (n >= 12 && digits == n)
		sbuf_add(out, "\t", 1);
	render_csv_cell(out, text);
}

void
render_csv_cell(struct sbuf *out, const char *text)
{
	if (!text)
		text = "";
	size_t n = strlen(text);
	/* A cell that text_csv_cell leaves as it is (no leading = + - @ tab or
	 * CR, no comma, quote, CR or LF): most of them, as they are. */
	if (n && !strchr("=+-@\t\r", text[0]) && !strpbrk(text, ",\"\r\n")) {
		sbuf_add(out, text, n);
		return;
	}
	size_t cap = TEXT_CSV_SIZE(n);
	char small[512], *buf = cap <= sizeof(small) ? small : malloc(cap);
	if (!buf)
		return;
	size_t len = text_csv_cell(text, n, buf, cap);
	sbuf_add(out, buf, len < cap ? len : cap - 1);
	if (buf != small)
		free(buf);
}
