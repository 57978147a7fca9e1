/*
 * svc.c - what every control service shares (svc.h): the dispatch table,
 * reply memory, typed errors, and the value helpers.
 *
 * Each group of services keeps its own table (svc_view.c, svc_data.c,
 * svc_flow.c); svc_find looks through all of them, so a service is added
 * in one place, next to its code.
 */
#include "svc.h"

#include "config.h"
#include "control.h"
#include "hlc.h"
#include "log.h"
#include "output.h"
#include "tables.h"
#include "text.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The request's arena: blocks of at least SVC_BLOCK bytes, zeroed when
 * made, handed out from the front one; a request's replies are many small
 * pieces (a village-level rollup at five times Qinghai: 20,040 rows of a
 * dozen each). */
#define SVC_BLOCK (64 * 1024)

struct svc_block {
	struct svc_block *next;
	size_t cap, used; /* bytes of data */
	max_align_t data[];
};

static const struct svc_entry *const tables[] = {svc_view_table,   svc_data_table,
                                                 svc_flow_table,   svc_ops_table,
                                                 svc_export_table, svc_import_table};

const struct svc_entry *
svc_find(Ctl__Request__ReqCase req)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct svc_entry *e = tables[t]; e->fn; e++)
			if (e->req == req)
				return e;
	return NULL;
}

void
svc_init(struct svc *s, struct node *n, struct store *st, const struct config *cfg,
         const struct ident *id, struct control *ctl)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->st = st;
	s->cfg = cfg;
	s->id = id;
	s->ctl = ctl;
	s->wall_ms = hlc_wall_ms;
	s->uid = UINT32_MAX;
}

void
svc_release(struct svc *s)
{
	while (s->blocks) {
		struct svc_block *b = s->blocks;
		s->blocks = b->next;
		if (s->personal)
			sodium_memzero(b->data, b->used);
		free(b);
	}
}

void *
svc_alloc(struct svc *s, size_t size)
{
	const size_t align = sizeof(max_align_t);
	if (size > SIZE_MAX / 2)
		return NULL;
	size_t r = (size + align - 1) & ~(align - 1);
	struct svc_block *b = s->blocks;
	if (!b || b->cap - b->used < r) {
		size_t cap = r > SVC_BLOCK ? r : SVC_BLOCK;
		b = calloc(1, sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		/* A large piece gets a block of its own behind the front one,
		 * which keeps its room for the small pieces that follow. */
		if (cap > SVC_BLOCK && s->blocks) {
			b->next = s->blocks->next;
			s->blocks->next = b;
		} else {
			b->next = s->blocks;
			s->blocks = b;
		}
	}
	void *p = (uint8_t *)b->data + b->used;
	b->used += r;
	return p;
}

char *
svc_strdup(struct svc *s, const char *text)
{
	if (!text)
		text = "";
	size_t n = strlen(text);
	char *p = svc_alloc(s, n + 1);
	if (p)
		memcpy(p, text, n);
	return p;
}

char *
svc_strdup_personal(struct svc *s, const char *text)
{
	s->personal = true;
	return svc_strdup(s, text);
}

char *
svc_printf(struct svc *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = svc_alloc(s, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void **
svc_array(struct svc *s, size_t n, size_t size, void (*init)(void *))
{
	void **a = svc_alloc(s, (n ? n : 1) * sizeof(void *));
	if (!a)
		return NULL;
	if (n) {
		uint8_t *items = svc_alloc(s, n * size);
		if (!items)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			a[i] = items + i * size;
			init(a[i]);
		}
	}
	return a;
}

int
svc_under_check(struct svc *s, uint64_t under)
{
	uint64_t own = s->cfg->area;
	if (area_is_under(under, own))
		return 0;
	char u[13], o[13];
	area_format(under, u);
	area_format(own, o);
	if (area_is_under(own, under))
		return svc_fail(
		    s, JZ_EPARSE,
		    "--under %s is above this node's area %s: it holds only its own part "
		    "of it; ask the node of %s, or leave --under out",
		    u, o, u);
	return svc_fail(s, JZ_EPARSE,
	                "--under %s is outside this node's area %s: it holds nothing there; ask "
	                "a node whose area holds both",
	                u, o);
}

int
svc_fail(struct svc *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int wrote = vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	/* Cut: at a character's start, and said so (a reason listing many
	 * households in Chinese would end in half a character). */
	if (wrote >= (int)sizeof(s->why)) {
		size_t k = sizeof(s->why) - 4; /* room for "…" and the NUL */
		while (k > 0 && ((unsigned char)s->why[k] & 0xC0) == 0x80)
			k--;
		memcpy(s->why + k, "\xE2\x80\xA6", 4); /* "…" */
	}
	/* What the store said when a page of it did not read: what to do,
	 * here and in the log (the operator asking may not be the one who
	 * reads the log). */
	if (code == JZ_ECORRUPT && s->st && store_damaged(s->st)) {
		size_t n = strlen(s->why);
		snprintf(
		    s->why + n, sizeof(s->why) - n,
		    " (the store is damaged: stop the node and restore its last backup, README "
		    "\"Backup and restore\")");
		log_error("a read found the store damaged: %s", s->why);
	}
	return code;
}

void
svc_done(struct svc *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->done, sizeof(s->done), fmt, ap);
	va_end(ap);
}

Ctl__Fixed *
svc_fixed(struct svc *s, int64_t value, uint32_t scale)
{
	Ctl__Fixed *f = SVC_NEW(s, Ctl__Fixed, ctl__fixed__init);
	if (f) {
		f->value = value;
		f->scale = scale;
	}
	return f;
}

Ctl__Time *
svc_time_ms(struct svc *s, uint64_t unix_ms)
{
	Ctl__Time *t = SVC_NEW(s, Ctl__Time, ctl__time__init);
	if (t)
		t->unix_ms = unix_ms;
	return t;
}

Ctl__Time *
svc_time_hlc(struct svc *s, uint64_t hlc)
{
	return svc_time_ms(s, hlc_ms(hlc));
}

Ctl__OptBool *
svc_optbool(struct svc *s, bool value)
{
	Ctl__OptBool *b = SVC_NEW(s, Ctl__OptBool, ctl__opt_bool__init);
	if (b)
		b->value = value;
	return b;
}

void
svc_hold(struct svc *s)
{
	if (!s->hold_ms || !s->ctl)
		return;
	char path[4300];
	snprintf(path, sizeof(path), "%s/release-hold", control_data_dir(s->ctl));
	/* Bounded: hold_ms in steps of 10 ms, or until the test releases it. */
	for (uint32_t waited = 0; waited < s->hold_ms && access(path, F_OK) != 0; waited += 10) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/* Is field NAME free text (a reason or a note), which is not sealed and so
 * must not carry an ID or phone number (DESIGN §4)? */
static bool
is_free_text(const char *name)
{
	size_t n = strlen(name);
	return strcmp(name, "reason") == 0 || strcmp(name, "note") == 0 ||
	       (n > 7 && strcmp(name + n - 7, "_reason") == 0);
}

/* One string of a request: clean text, and no personal number in free text. */
static int
check_text(struct svc *s, const char *field, const char *text, size_t n, bool free_text)
{
	char why[TEXT_WHY_LEN];
	if (!text_is_clean(text, n, 0, why))
		return svc_fail(s, JZ_EPARSE, "%s: %s", field, why);
	if (free_text && text_looks_personal(text, n, why))
		return svc_fail(s, JZ_EPARSE,
		                "%s: %s; free text is not sealed, so it must not hold a person's "
		                "numbers (an objector's contact goes in --contact, which is)",
		                field, why);
	return 0;
}

/* Every string of message M, recursively (text from the control socket is
 * refused like text from the wire or a file: DESIGN §8). */
static int
check_message(struct svc *s, const ProtobufCMessage *m)
{
	if (!m)
		return 0;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const uint8_t *base = (const uint8_t *)m;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		size_t count = 1;
		const uint8_t *p = base + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)(base + f->quantifier_offset);
			p = *(const uint8_t *const *)p;
		}
		for (size_t k = 0; k < count; k++) {
			int err = 0;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				const char *t = ((const char *const *)p)[k];
				if (t)
					err = check_text(s, f->name, t, strlen(t),
					                 is_free_text(f->name));
			} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				err = check_message(s, ((const ProtobufCMessage *const *)p)[k]);
			}
			if (err)
				return err;
		}
	}
	return 0;
}

/* The household tables caught up with the log (apply.h, "Deferred")
 * before a service reads them: by the loop itself before a write, by a
 * reader through the loop. */
static int
registry_current(struct svc *s)
{
	if (s->n)
		return s->catch_up ? s->catch_up(s->n, s->why, sizeof(s->why)) : 0;
	/* On a reader or an HTTP thread; without a control (a unit test's
	 * service) no loop writes the store and it returns at once. */
	return control_registry_wait(s->ctl, CONTROL_CATCH_UP_WAIT_MS, s->why, sizeof(s->why));
}

void
svc_dispatch(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const struct svc_entry *e = svc_find(rq->req_case);
	if (s->cfg->test_clock)
		s->hold_ms = rq->test_hold_ms;
	int err;
	if (!e) {
		err =
		    svc_fail(s, JZ_EPARSE, "unknown control request (kind %d)", (int)rq->req_case);
	} else if (e->write && !s->n) {
		/* The broker routes writes to the loop: a bug if one gets here. */
		err = svc_fail(s, JZ_EIO, "%s: a write request reached a reader", e->name);
	} else if ((err = check_message(s, &rq->base))) {
		/* refused: svc_fail said why */
	} else if (!e->no_registry && (err = registry_current(s))) {
		/* registry_current said why in S->why */
	} else {
		err = e->fn(s, rq, rp);
	}
	rp->timezone = svc_strdup(s, s->cfg->timezone[0] ? s->cfg->timezone : "Asia/Shanghai");
	if (err) {
		rp->code = err;
		rp->error = svc_strdup(s, s->why[0] ? s->why : err_str(err));
		/* On error only the code and the reason are sent. */
		rp->body_case = CTL__REPLY__BODY__NOT_SET;
	}
}
