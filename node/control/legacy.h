/*
 * control.h - the control socket's requests, shared by its handlers
 * (control.c: dispatch, status, tree, rollup; control_data.c: import,
 * household, conflicts; control_flow.c: the procedure, policy, revocation,
 * the test clock). DESIGN §10.
 *
 * A request is frames of bytes: the command, then its arguments. Most
 * arguments are strings, options given as "--name value" or "--flag";
 * imports add binary frames of encoded records. The answer is two frames:
 * "0" or "1", then the text to print, rendered here where the data is. A
 * handler writes its answer (or a one-line error) to OUT and returns 0 or
 * an error.
 */
#ifndef JZFP_LEGACY_H
#define JZFP_LEGACY_H

#include "node.h"
#include "output.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#define CTL_MAX_FRAMES 20001
#define CTL_MAX_ARGS   2100 /* string arguments read (a notice lists ids) */

struct request {
	const ProtobufCBinaryData *frames;
	size_t n;
	char **args; /* the frames as strings (at most CTL_MAX_ARGS: more are refused) */
	size_t nargs;
};

/* Argument I as a string ("" when absent). */
const char *ctl_arg(const struct request *r, size_t i);
/* Is "--FLAG" among the arguments? */
bool ctl_flag(const struct request *r, const char *flag);
/* The value after "--NAME", or NULL. */
const char *ctl_opt(const struct request *r, const char *name);
/* The arguments after the command that are not options: their indexes go
 * to IDX (at most CAP). Options named in WITH_VALUE take the next argument. */
size_t ctl_positional(const struct request *r, size_t from, const char *const *with_value,
                      size_t *idx, size_t cap);

/* Basis points as a percentage: "3.0", "2.25" (one decimal at least, two
 * when the hundredths are not zero), for the policy's threshold. */
void ctl_pct(uint16_t bp, char out[16]);
/* "YYYY-MM-DD HH:MM" (UTC) of an hlc value. */
void ctl_date(uint64_t hlc, char out[32]);
/* The name of the node of AREA, from the NodeInfo records held ("" if none). */
void ctl_area_name(struct store_txn *txn, uint64_t area, char *out, size_t len);

/* control_data.c */
int ctl_import_households(struct node *n, const struct request *r, struct sbuf *out);
int ctl_import_census(struct node *n, const struct request *r, struct sbuf *out);
int ctl_household_show(struct node *n, const struct request *r, struct sbuf *out);
int ctl_household_raw(struct node *n, const struct request *r, struct sbuf *out);
int ctl_household_edit(struct node *n, const struct request *r, struct sbuf *out);
int ctl_conflicts(struct node *n, const struct request *r, struct sbuf *out);

/* Open proposals of household ID (at most CAP hashes to OUT). */
/* The personal part of envelope E, opened with this node's key into P:
 * false if it has none or this node is not one of its readers. */
bool ctl_open_personal(struct node *n, struct store_txn *txn, const struct envelope *e,
                       struct rec_personal *p);

size_t ctl_open_proposals(struct store_txn *txn, uint64_t id, uint8_t (*out)[32], size_t cap);

#endif
