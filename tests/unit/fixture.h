/*
 * fixture.h - what the unit tests of the node share: an injected wall
 * clock, identities from a seed byte, and a node as the control services
 * see it (svc_*.c tests). The apply tests' fixture is apply_fixture.h.
 */
#ifndef JZFP_FIXTURE_H
#define JZFP_FIXTURE_H

#include "area.h"
#include "config.h"
#include "ctl.pb-c.h"
#include "ident.h"
#include "svc.h"

#include <stddef.h>
#include <stdint.h>

struct node;
struct store;

/* The injected wall clock (ms) of every node in a test: tests move it
 * instead of sleeping (DESIGN §6). 0 until a test sets it. */
extern uint64_t wall_ms;

/* An hlc clock source reading wall_ms (CTX unused). */
uint64_t fake_now(void *ctx);
/* wall_ms, for struct svc's wall_ms (svcfix_call sets it). */
uint64_t fake_wall_ms(void);

/* The identity whose 32-byte seed is BYTE repeated; NULL on failure. */
struct ident *ident_of(uint8_t byte);

/*
 * A node as the control services use it (node.h): its key (from SEED, as
 * ident_of), a fresh store in a new directory written to DIR, its config
 * (AREA, LEVEL, NAME), clock (fake_now), apply context and sealer
 * configuration; no parent, nothing signed. Returns 0, or -1 when any part
 * fails (a failed setup). Free with svcfix_close.
 */
int svcfix_open(struct node **np, char *dir, size_t dirlen, uint8_t seed, uint64_t area,
                enum area_level level, const char *name);

/* Test person N (0..255): a valid ID number (630121, born 1970-01-01,
 * serial N) and its person tag under the tag key svcfix_open gives every
 * node, so that a node's checks of an import accept it. */
void svcfix_person(uint8_t n, char id[19], uint8_t tag[16]);
/* The ID number of the test person whose person tag is TAG, in ID; -1 if
 * none of them has it. */
int svcfix_person_of(const uint8_t tag[16], char id[19]);

/* Sign N's NodeInfo (its config's area, level and name), which every
 * other record of its chain needs first. Returns 0 or an error. */
int svcfix_sign_node(struct node *n);

/* Release what svcfix_open made: context, store, directory, key, node. */
void svcfix_close(struct node *n, const char *dir);

/* Run RQ through the services as the loop does (N, with the node) or as a
 * reader thread does (N NULL), on ST with CFG and ID. S is to be released
 * by the caller (svc_release). */
void svcfix_call(struct svc *s, struct node *n, struct store *st, const struct config *cfg,
                 const struct ident *id, const Ctl__Request *rq, Ctl__Reply *rp);

/*
 * Ask N's store, as a reader thread and as the HTTP server does, the rollup
 * of LEVEL under UNDER (0: all), with an answer kept at snapshot SINCE for
 * YEAR (0: none; svc.h's rollup_since). Fails the test unless it answers.
 * S is to be released by the caller (svc_release).
 */
void svcfix_rollup(struct svc *s, struct node *n, const char *level, uint64_t under, uint64_t since,
                   uint32_t year, Ctl__Reply *rp);

#endif
