/*
 * svc.h - the control service: typed requests in, typed replies out
 * (DESIGN §10, proto/ctl.proto).
 *
 * A service function takes one request and fills one reply; it prints
 * nothing, renders nothing and never touches a socket, so it is unit-tested
 * by calling it. Front ends (jzfpctl's renderers, the HTTP server) turn the
 * reply into text, JSON, CSV or HTML.
 *
 * Two kinds of service, told apart by the dispatch table (svc_find):
 *
 *  - read services run on a reader thread (server.c) with their own LMDB
 *    read transaction. They may use S->st, S->cfg, S->id and the published
 *    view (svc_view_*), never S->n, which is NULL there: link state and the
 *    apply context belong to the loop thread.
 *  - write services run on the loop thread between network events, with
 *    S->n set; each is one or more write transactions of its own.
 *
 * Reply memory comes from the request's arena (svc_alloc, svc_strdup and
 * the SVC_NEW macro) and is freed at once when the reply has been sent, so
 * a service never frees what it put in the reply. A service that fails
 * returns a negative code and sets a one-line reason with svc_fail; the
 * dispatcher then sends only the code and the reason.
 */
#ifndef JZFP_SVC_H
#define JZFP_SVC_H

#include "ctl.pb-c.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct store;
struct config;
struct ident;
struct control;

/* Memory of one reply: blocks freed together by svc_release. */
struct svc_block;

struct svc {
	struct node *n; /* write services only; NULL on a reader thread */
	/* With N: catch the household tables up first (node.h,
	 * node_registry_catch_up; NULL in unit tests, where nothing waits). */
	int (*catch_up)(struct node *n, char *why, size_t len);
	struct store *st;
	const struct config *cfg;
	const struct ident *id;
	struct control *ctl; /* the published view (status, tree) */
	/* The wall clock a read service judges windows by, before the test
	 * clock's offset (hlc_wall_ms; unit tests set their own). */
	uint64_t (*wall_ms)(void);
	struct svc_block *blocks;
	char why[512]; /* svc_fail's reason */
	/* What a write service signed or changed, for the log line that names
	 * the local user (no personal data): "1 event, 3 households". */
	char done[200];
	uint32_t uid;      /* the requester's uid (SO_PEERCRED), UINT32_MAX if unknown */
	bool personal;     /* the reply holds personal data: wiped when released */
	uint32_t hold_ms;  /* tests: hold the read transaction this long */
	bool waited_out;   /* a status that waited for a change and saw none */
	uint64_t snapshot; /* rollup: the store snapshot (txn id) it was read at */
	/* rollup, for the HTTP server's kept answers: with since set, answer
	 * only the rows that may differ from those of the answer read at
	 * snapshot SINCE for year SINCE_YEAR (store_changes), if the store can
	 * tell; then partial is set and changed lists the areas read again
	 * (those without a row in the answer have none now). */
	uint64_t rollup_since;
	uint32_t rollup_since_year;
	bool rollup_partial;
	uint64_t *rollup_changed;
	size_t n_rollup_changed;
};

typedef int (*svc_fn)(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

struct svc_entry {
	Ctl__Request__ReqCase req;
	svc_fn fn;
	bool write; /* runs on the loop thread */
	const char *name;
	/* Reads no household table (status, tree, clock show from the loop's
	 * view, backup a copy of the store as it is): does not wait for them
	 * to catch up (apply.h, "Deferred"; every other service does). */
	bool no_registry;
};

/* Each group's services, ended by an entry whose fn is NULL. */
extern const struct svc_entry svc_view_table[], svc_data_table[], svc_flow_table[], svc_ops_table[];
extern const struct svc_entry svc_export_table[]; /* svc_export.c */
extern const struct svc_entry svc_import_table[]; /* svc_import.c */

/* The service for request case REQ, or NULL for an unknown one. */
const struct svc_entry *svc_find(Ctl__Request__ReqCase req);

/* Prepare S for one request. N is the loop's node (NULL on a reader). */
void svc_init(struct svc *s, struct node *n, struct store *st, const struct config *cfg,
              const struct ident *id, struct control *ctl);
/* Free every reply allocation of S. */
void svc_release(struct svc *s);

/* SIZE zeroed bytes that live until svc_release; NULL on out of memory. */
void *svc_alloc(struct svc *s, size_t size);
/* A copy of TEXT (NULL gives ""), or NULL on out of memory. */
char *svc_strdup(struct svc *s, const char *text);
/* An arena string of printf FMT. */
char *svc_printf(struct svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An array of N pointers, each to a new zeroed message initialised by INIT
 * (SIZE bytes each): for repeated message fields. NULL on out of memory. */
void **svc_array(struct svc *s, size_t n, size_t size, void (*init)(void *));
#define SVC_NEW(s, type, init_fn)                                                                  \
	({                                                                                         \
		type *p_ = svc_alloc((s), sizeof(type));                                           \
		if (p_)                                                                            \
			init_fn(p_);                                                               \
		p_;                                                                                \
	})

/* svc_strdup of personal data (a name, an ID number): the reply's memory
 * and its packed message are wiped when they are released. */
char *svc_strdup_personal(struct svc *s, const char *text);

/* Fail with CODE (negative) and a one-line reason; returns CODE. */
int svc_fail(struct svc *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* --under UNDER (a valid code) of a read: 0 when it is this node's area
 * or under it, else svc_fail saying the node holds nothing there, or only
 * its own part of it (an empty or partial answer would read as the
 * whole). */
int svc_under_check(struct svc *s, uint64_t under);

/* Say what a write service signed or changed (struct svc.done), for the
 * one log line of its request. */
void svc_done(struct svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run the service for RQ and fill RP (reply code and error included).
 * On a reader thread N is NULL; a write request there is a bug. */
void svc_dispatch(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

/* The Fixed for VALUE with SCALE decimals, the Time of an hlc value or of
 * Unix milliseconds, an OptBool. */
Ctl__Fixed *svc_fixed(struct svc *s, int64_t value, uint32_t scale);
Ctl__Time *svc_time_ms(struct svc *s, uint64_t unix_ms);
Ctl__Time *svc_time_hlc(struct svc *s, uint64_t hlc);
Ctl__OptBool *svc_optbool(struct svc *s, bool value);

/* Sleep S->hold_ms (tests: a slow read, with the transaction open). */
void svc_hold(struct svc *s);

/* svc_view.c: status, tree, rollup, rollup --verify (read services). */
int svc_status(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_tree(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_child_forget(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_rollup(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_rollup_verify(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

/* The name of AREA (or "" if none): its node's (the NodeInfo records),
 * else for a village its latest census's, else the province's policy's (a
 * prefecture, a township without a node); into OUT of LEN bytes. TXN is a
 * read or write transaction. */
struct store_txn;
void svc_area_name(struct store_txn *txn, uint64_t area, char *out, size_t len);

#endif
