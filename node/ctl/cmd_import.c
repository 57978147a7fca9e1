/*
 * cmd_import.c - `jzfpctl import households|census FILE.csv` (DESIGN §10).
 *
 * The file is read once, here: each row is checked (import.h) and each good
 * household encoded and sent, in chunks as it is read, to an import session
 * at the node, which checks what needs the whole file and keeps the
 * households apart until the end. Then COMMIT signs and applies them (in
 * transactions of 1,000, progress shown on a terminal) or, when a row was
 * bad, ABORT discards them: a file with a bad row imports nothing. A census
 * file is small and goes in one request.
 *
 * An import's state is its struct import_send, passed down; while it runs,
 * cli_die prints what the node stored before the import stopped
 * (cli_set_die_note).
 */
#include "area.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "import.h"
#include "record.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IMPORT_CHUNK       1000
#define IMPORT_FIRST_CHUNK 100

static const char help_import[] =
    "\nImport a CSV file at this node. The whole file is checked first; any\n"
    "bad row is listed as FILE:LINE: column: what is wrong, and nothing is\n"
    "imported (--skip-bad imports the good households and lists the rest).\n"
    "Households: one row per person, header household_id,village,name,\n"
    "id_number,relation,sex,birth_date,health,labour,attribute,main_cause,\n"
    "income,status,year (or the Chinese 户编号,村代码,姓名,...), any order.\n"
    "Census: village,name,year,households,population (or 村代码,村名,年度,\n"
    "总户数,户籍人口). Needs -c CONFIG (the node's area and tag key).\n"
    "A household already held gets a new version on top of its current one\n"
    "(rows equal to it change nothing). A new status is a proposal: it counts\n"
    "only once recorded at the end of 两公示一公告 (jzfpctl proposals).\n"
    "  --recorded   at a county only: migrate an existing register, its\n"
    "               statuses recorded as already announced by this county\n"
    "  --allow-removals  a household with members of its current version\n"
    "               missing from the file drops them; without it such a\n"
    "               household is refused, naming them masked (张*明)\n"
    "A household's rows come together. The file is read once, in bounded\n"
    "memory: the node checks and keeps the households apart as they come,\n"
    "and stores them only once the whole file is good. If the import stops,\n"
    "it says which households were stored; re-running the same file is\n"
    "safe.\n";

/* The plural ending of a count's noun in a summary line. */
static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* The row errors E[0..n) of FILE, one "FILE:LINE: column: what" each. */
static void
print_errors(const char *file, const struct import_error *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].column[0])
			fprintf(stderr, "%s:%zu: %s: %s\n", file, e[i].line, e[i].column,
			        e[i].what);
		else
			fprintf(stderr, "%s:%zu: %s\n", file, e[i].line, e[i].what);
	}
}

static void
progress(bool tty, const char *what, size_t done, size_t total)
{
	if (!tty)
		return;
	fprintf(stderr, "\r%s: %zu/%zu (%zu%%)", what, done, total,
	        total ? done * 100 / total : 100);
	if (done == total)
		fputc('\n', stderr);
}

/* A malloc'd copy of P[0..n), or NULL. */
static uint8_t *
copy_of(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* What the node answered to the requests of one import, added up. */
struct import_totals {
	uint64_t created, unchanged, refused, proposals;
	uint64_t shared_persons, kept_proposals; /* ImportReply's */
	char why[300];                           /* the first refusal's reason */
};

/* Send the import request RQ and add its typed answer to the totals; NULL
 * when it succeeded, else the node's reply (the caller reports and frees). */
static Ctl__Reply *
import_send(struct ctl *c, const Ctl__Request *rq, struct import_totals *t)
{
	Ctl__Reply *rp = cli_request(c, rq);
	if (rp->code)
		return rp;
	if (rp->body_case != CTL__REPLY__BODY_IMPORT)
		cli_die("unexpected answer from jzfpd (is it a different version?)");
	const Ctl__ImportReply *r = rp->import;
	t->created += r->created;
	t->unchanged += r->unchanged;
	t->refused += r->refused;
	t->proposals += r->proposals;
	t->shared_persons += r->shared_persons;
	t->kept_proposals += r->kept_proposals;
	if (r->refused && !t->why[0])
		snprintf(t->why, sizeof(t->why), "%s", r->why);
	cli_reply_free(rp);
	return NULL;
}

/* The summary of an import for programs. CENSUS: no households, proposals
 * or bad households. */
static void
import_json(const char *file, bool census, size_t households, size_t rows,
            const struct import_totals *t, size_t bad)
{
	printf("{\"file\":");
	cli_json_str(stdout, file);
	printf(",\"kind\":\"%s\"", census ? "census" : "households");
	if (!census)
		printf(",\"households\":%zu", households);
	printf(",\"rows\":%zu,\"created\":%" PRIu64, rows, t->created);
	if (!census)
		printf(",\"proposals\":%" PRIu64, t->proposals);
	printf(",\"unchanged\":%" PRIu64 ",\"refused\":%" PRIu64, t->unchanged, t->refused);
	if (!census)
		printf(",\"rejected_bad\":%zu,\"shared_persons\":%" PRIu64
		       ",\"kept_proposals\":%" PRIu64,
		       bad, t->shared_persons, t->kept_proposals);
	printf(",\"why\":");
	cli_json_str(stdout, t->why);
	printf("}\n");
}

/* One request's worth of households, and each member's line in the file. */
struct import_chunk {
	ProtobufCBinaryData hh[IMPORT_CHUNK], pp[IMPORT_CHUNK];
	uint64_t lines[IMPORT_CHUNK * REC_MAX_MEMBERS];
	size_t n;       /* households in the chunk */
	size_t n_lines; /* entries of lines */
};

/*
 * A household import streamed to an import session at the node: the file
 * is read once; each good household is encoded into the chunk being filled
 * and each full chunk is sent to be checked and staged there (nothing is
 * signed or applied yet). Two chunks: while the node stages the one sent (in
 * flight), the next is read and encoded here; its answer is read before the
 * next is sent, so the node sees one request at a time, in file order. At
 * the end of the file COMMIT requests (each one transaction of at most 1000
 * households at the node) sign and apply what was staged, or ABORT discards
 * it. jzfpctl's memory: two chunks, one household and the errors found.
 */
struct import_send {
	struct ctl *c;
	const char *file;
	bool recorded, allow_removals, skip_bad, tty;
	const struct import_result *res; /* the reading: the header's names */
	struct import_chunk chunk[2];
	size_t fill;                 /* the chunk being filled */
	bool in_flight;              /* chunk[fill ^ 1] sent, its answer not yet read */
	uint64_t session;            /* the node's import session, 0 before the first answer */
	size_t sent;                 /* households sent to be staged */
	size_t chunks;               /* chunks sent */
	size_t node_bad;             /* households the node found bad */
	struct import_error *errors; /* rows the node found wrong */
	size_t n_errors, cap_errors, more_errors;
	bool committing;
	size_t total;  /* households staged at the node, to commit */
	size_t stored; /* of them committed */
	struct import_totals t;
	uint8_t scratch[REC_MAX_ENCODED]; /* one record encoded, before its copy */
};

/* The summary of the import ARG that stopped: what the node stored. It is
 * cli_die's note while the import runs. */
static void
import_stopped_note(void *arg)
{
	struct import_send *s = arg;
	/* Nothing reached the node (it is not running, or refused the first
	 * chunk with its reason): the reason said it all. */
	if (!s->committing && !s->session && !s->in_flight)
		return;
	if (s->tty)
		fputc('\n', stderr);
	if (!s->committing) {
		fprintf(stderr,
		        "jzfpctl: %s: import stopped: no household was stored (the node keeps "
		        "the households it is sent apart, unsigned, until the whole file is "
		        "read, and discards them when the import does not end); re-running the "
		        "same file is safe\n",
		        s->file);
		return;
	}
	if (s->stored)
		fprintf(stderr,
		        "jzfpctl: %s: import stopped: the node stored the first %zu of %zu "
		        "households (in file order), ",
		        s->file, s->stored, s->total);
	else
		fprintf(stderr, "jzfpctl: %s: import stopped: no household of %zu was stored, ",
		        s->file, s->total);
	if (s->in_flight)
		fprintf(stderr,
		        "the next %zu were being stored without an answer and may or may not "
		        "be; ",
		        s->total - s->stored < IMPORT_CHUNK ? s->total - s->stored
		                                            : (size_t)IMPORT_CHUNK);
	fprintf(stderr, "re-running the same file is safe: households already stored are "
	                "unchanged by it\n");
}

static void
chunk_release(struct import_chunk *k)
{
	for (size_t j = 0; j < k->n; j++) {
		/* the personal parts were in clear: not left in memory */
		sodium_memzero(k->pp[j].data, k->pp[j].len);
		free(k->pp[j].data);
		free(k->hh[j].data);
	}
	k->n = 0;
	k->n_lines = 0;
}

/* The node refused request RP: report it (and what was stored). */
static void
node_refused(struct import_send *s, Ctl__Reply *rp)
{
	fprintf(stderr, "%sjzfpctl: ", s->tty ? "\n" : "");
	cli_print(stderr, rp->error, strlen(rp->error));
	fputc('\n', stderr);
	cli_reply_free(rp);
	bool tty = s->tty;
	s->tty = false;
	import_stopped_note(s);
	s->tty = tty;
}

/* Keep the row errors of a STAGE answer R, in the header's names. */
static void
keep_errors(struct import_send *s, const Ctl__ImportReply *r)
{
	s->more_errors += r->refused;
	for (size_t i = 0; i < r->n_errors; i++) {
		const Ctl__ImportRowError *e = r->errors[i];
		if (s->n_errors == s->cap_errors) {
			size_t cap = s->cap_errors ? 2 * s->cap_errors : 64;
			struct import_error *v = realloc(s->errors, cap * sizeof(*v));
			if (!v)
				cli_die("out of memory");
			s->errors = v;
			s->cap_errors = cap;
		}
		struct import_error *x = &s->errors[s->n_errors++];
		memset(x, 0, sizeof(*x));
		x->line = (size_t)e->line;
		x->household = e->household;
		const char *col = strcmp(e->column, "id_number") == 0 ? s->res->id_column
		                  : strcmp(e->column, "household_id") == 0
		                      ? s->res->household_column
		                      : e->column;
		snprintf(x->column, sizeof(x->column), "%s", col);
		snprintf(x->what, sizeof(x->what), "%s", e->what);
	}
}

static Ctl__ImportHouseholdsReq import_req(struct import_send *s, Ctl__ImportStep step);

/* Send Q to the node (the one request in flight; its answer is read later). */
static void
send_req(struct import_send *s, Ctl__ImportHouseholdsReq *q)
{
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS;
	rq.import_households = q;
	cli_send(s->c, &rq); /* dies when the node cannot be reached: nothing sent */
	s->in_flight = true;
}

/* Send chunk K to be staged. */
static void
stage_send(struct import_send *s, struct import_chunk *k)
{
	Ctl__ImportHouseholdsReq q = import_req(s, CTL__IMPORT_STEP__IMPORT_STAGE);
	q.n_households = q.n_personal = k->n;
	q.households = k->hh;
	q.personal = k->pp;
	q.n_lines = k->n_lines;
	q.lines = k->lines;
	send_req(s, &q);
}

/* Did the node refuse to open a session because another import has one? */
static bool
node_busy(const struct import_send *s, const Ctl__Reply *rp)
{
	return !s->session && rp->code == JZ_EREFUSED &&
	       strstr(rp->error, "another import is in progress");
}

/* Read the answer to the chunk in flight, if any; 0, or 1 when the node
 * refused the request (reported). The first chunk waits (--timeout) while
 * another import at the node ends: one import session at a time. */
static int
chunk_finish(struct import_send *s)
{
	if (!s->in_flight)
		return 0;
	struct import_chunk *k = &s->chunk[s->fill ^ 1];
	Ctl__Reply *rp = cli_receive(s->c);
	s->in_flight = false;
	uint64_t t0 = mono_ms();
	for (int round = 0; round < 1000000 && node_busy(s, rp); round++) {
		if (mono_ms() - t0 >= (uint64_t)s->c->timeout_s * 1000)
			break;
		if (round == 0 && s->tty)
			fprintf(stderr, "jzfpctl: waiting for another import at the node to end\n");
		cli_reply_free(rp);
		nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
		stage_send(s, k);
		rp = cli_receive(s->c);
		s->in_flight = false;
	}
	chunk_release(k);
	if (rp->code) {
		node_refused(s, rp);
		return 1;
	}
	if (rp->body_case != CTL__REPLY__BODY_IMPORT)
		cli_die("unexpected answer from jzfpd (is it a different version?)");
	const Ctl__ImportReply *r = rp->import;
	if (!r->session)
		cli_die("jzfpd does not know streamed imports (is it a different version?)");
	s->session = r->session;
	s->node_bad += r->rejected;
	s->total = r->staged;
	keep_errors(s, r);
	cli_reply_free(rp);
	return 0;
}

static Ctl__ImportHouseholdsReq
import_req(struct import_send *s, Ctl__ImportStep step)
{
	Ctl__ImportHouseholdsReq q;
	ctl__import_households_req__init(&q);
	q.step = step;
	q.session = s->session;
	q.recorded = s->recorded;
	q.allow_removals = s->allow_removals;
	q.skip_bad = s->skip_bad;
	q.pid = (uint32_t)getpid();
	return q;
}

/* Send the chunk being filled to be staged once the one in flight is
 * answered, and go on filling the other; 0, or 1 when the node refused a
 * request (reported; the chunk being filled is then dropped unsent). */
static int
chunk_send(struct import_send *s)
{
	struct import_chunk *k = &s->chunk[s->fill];
	if (chunk_finish(s)) {
		chunk_release(k);
		return 1;
	}
	if (!k->n)
		return 0;
	s->fill ^= 1;
	s->sent += k->n;
	s->chunks++;
	stage_send(s, k);
	return 0;
}

/* A step without households (COMMIT, ABORT): the node's answer, or NULL
 * when it refused (reported). */
static Ctl__Reply *
session_step(struct import_send *s, Ctl__ImportStep step)
{
	Ctl__ImportHouseholdsReq q = import_req(s, step);
	send_req(s, &q);
	Ctl__Reply *rp = cli_receive(s->c);
	s->in_flight = false;
	if (rp->code) {
		node_refused(s, rp);
		return NULL;
	}
	if (rp->body_case != CTL__REPLY__BODY_IMPORT)
		cli_die("unexpected answer from jzfpd (is it a different version?)");
	return rp;
}

/* Discard the node's session, if there is one. */
static void
session_abort(struct import_send *s)
{
	if (!s->session)
		return;
	cli_set_die_note(NULL, NULL);
	Ctl__Reply *rp = session_step(s, CTL__IMPORT_STEP__IMPORT_ABORT);
	if (rp)
		cli_reply_free(rp);
	s->session = 0;
}

/* Sign and apply what the node staged, a transaction at a time; 0, or 1
 * when the node refused (reported). */
static int
session_commit(struct import_send *s)
{
	s->committing = true;
	progress(s->tty, "importing households", 0, s->total);
	for (size_t round = 0; round <= s->total + 1; round++) {
		Ctl__Reply *rp = session_step(s, CTL__IMPORT_STEP__IMPORT_COMMIT);
		if (!rp)
			return 1;
		const Ctl__ImportReply *r = rp->import;
		s->t.created += r->created;
		s->t.unchanged += r->unchanged;
		s->t.refused += r->refused;
		s->t.proposals += r->proposals;
		s->t.shared_persons += r->shared_persons;
		s->t.kept_proposals += r->kept_proposals;
		if (r->refused && !s->t.why[0])
			snprintf(s->t.why, sizeof(s->t.why), "%s", r->why);
		for (size_t i = 0; i < r->n_refusals; i++) {
			fprintf(stderr, "%sjzfpctl: refused by the node: ", s->tty ? "\n" : "");
			cli_print(stderr, r->refusals[i], strlen(r->refusals[i]));
			fputc('\n', stderr);
		}
		if (r->refused > r->n_refusals)
			fprintf(stderr,
			        "jzfpctl: and %" PRIu64 " more refused in the same request\n",
			        r->refused - (uint64_t)r->n_refusals);
		s->stored += (size_t)r->staged;
		uint64_t remaining = r->remaining;
		cli_reply_free(rp);
		if (s->stored > s->total)
			s->total = s->stored;
		progress(s->tty, "importing households", s->stored, s->total);
		if (!remaining)
			return 0;
	}
	cli_die("%s: the node's commit does not end", s->file);
}

/* import_households_local's emitter. */
static int
send_household(const struct import_household *it, void *arg)
{
	struct import_send *s = arg;
	struct import_chunk *k = &s->chunk[s->fill];
	ProtobufCBinaryData *hh = &k->hh[k->n], *pp = &k->pp[k->n];
	if (rec_household_encode(&it->hh, s->scratch, sizeof(s->scratch), &hh->len) ||
	    !(hh->data = copy_of(s->scratch, hh->len)) ||
	    rec_personal_encode(&it->personal, s->scratch, sizeof(s->scratch), &pp->len) ||
	    !(pp->data = copy_of(s->scratch, pp->len)))
		cli_die("%s:%zu: household cannot be encoded", s->file, it->line);
	sodium_memzero(s->scratch, pp->len);
	for (size_t j = 0; j < it->hh.n_members; j++)
		k->lines[k->n_lines++] = it->lines[j];
	k->n++;
	/* the first chunk small: the node starts checking at once */
	size_t full = s->chunks ? IMPORT_CHUNK : IMPORT_FIRST_CHUNK;
	return k->n == full ? chunk_send(s) : 0;
}

static int
cmp_error(const void *a, const void *b)
{
	const struct import_error *x = a, *y = b;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void
import_send_release(struct import_send *s)
{
	chunk_release(&s->chunk[0]);
	chunk_release(&s->chunk[1]);
	free(s->errors);
	cli_set_die_note(NULL, NULL);
	free(s);
}

/*
 * Import a households file in one reading, in bounded memory: each good
 * household is sent as it is read, to an import session at the node, which
 * checks what needs the whole file (an ID number twice, a household's rows
 * apart) and keeps them apart; at the end of the file, COMMIT makes them
 * records, or, when a row is bad (unless --skip-bad: then the households with
 * errors are left out), ABORT discards them: nothing is imported.
 */
static int
import_households(struct ctl *c, const char *file, bool skip_bad, bool recorded,
                  bool allow_removals, bool json)
{
	/* Without the province's tag key, tags made with any other would match
	 * no other node's: the duplicate check across villages would quietly
	 * find nothing (and a key everyone knows reveals the ID numbers). */
	if (!c->cfg.has_tag_key && c->cfg.level == AREA_LEVEL_PROVINCE)
		cli_die("households are imported at the counties, townships and villages, "
		        "which hold the province's tag key; a province node holds none "
		        "(README, Personal data)");
	if (!c->cfg.has_tag_key)
		cli_die("no [trust] tag_key in %s: person tags are keyed with the province's "
		        "tag key, the same at every importing node, or duplicates across "
		        "villages go unfound (README, Personal data)",
		        c->config_path);
	const uint8_t *tag_key = c->cfg.tag_key;
	struct import_send *s = calloc(1, sizeof(*s));
	if (!s)
		cli_die("out of memory");
	struct import_result res;
	s->c = c;
	s->file = file;
	s->recorded = recorded;
	s->allow_removals = allow_removals;
	s->skip_bad = skip_bad;
	s->tty = isatty(STDERR_FILENO);
	s->res = &res;
	cli_set_die_note(import_stopped_note, s);
	int err = import_households_local(file, c->cfg.area, tag_key, send_household, s, &res);
	if (!err && !(err = chunk_send(s)))
		err = chunk_finish(s);
	if (err && err != 1 && chunk_finish(s))
		err = 1; /* the node refused the chunk in flight: reported */
	if (err) {
		session_abort(s);
		if (err != 1) {
			print_errors(file, res.errors, res.n_errors);
			fprintf(stderr, "jzfpctl: %s: %s; nothing imported\n", file,
			        res.n_errors ? "not a households file this node can read"
			                     : err_str(err));
		}
		import_send_release(s);
		import_result_release(&res);
		return 1;
	}
	/* the errors found here and at the node, by line */
	size_t n_errors = res.n_errors + s->n_errors;
	size_t n_bad = res.n_bad_households + s->node_bad;
	if (n_errors) {
		struct import_error *all = malloc(n_errors * sizeof(*all));
		if (!all)
			cli_die("out of memory");
		if (res.n_errors)
			memcpy(all, res.errors, res.n_errors * sizeof(*all));
		if (s->n_errors)
			memcpy(all + res.n_errors, s->errors, s->n_errors * sizeof(*all));
		qsort(all, n_errors, sizeof(*all), cmp_error);
		print_errors(file, all, n_errors);
		if (s->more_errors)
			fprintf(stderr, "jzfpctl: %s: and %zu more error(s) found by the node\n",
			        file, s->more_errors);
		/* A row without a usable household id could be a member of any
		 * household: none can be called good without it. */
		size_t orphan = 0;
		for (size_t i = 0; i < n_errors && !orphan; i++)
			if (!all[i].household)
				orphan = all[i].line;
		free(all);
		if (skip_bad && orphan) {
			session_abort(s);
			fprintf(stderr,
			        "jzfpctl: %s:%zu: a row without a usable household id may be a "
			        "member of any household, so --skip-bad cannot tell the good "
			        "ones; nothing imported\n",
			        file, orphan);
			import_send_release(s);
			import_result_release(&res);
			return 1;
		}
		if (!skip_bad) {
			session_abort(s);
			fprintf(stderr,
			        "jzfpctl: %s: %zu error(s) in %zu household(s); nothing imported "
			        "(--skip-bad imports the good households)\n",
			        file, n_errors + s->more_errors, n_bad);
			import_send_release(s);
			import_result_release(&res);
			return 1;
		}
		fprintf(stderr, "jzfpctl: %s: skipping %zu bad household(s)\n", file, n_bad);
	}
	if (s->session && session_commit(s)) {
		import_send_release(s);
		import_result_release(&res);
		return 1;
	}
	struct import_totals t = s->t;
	size_t stored = s->stored;
	import_send_release(s);
	if (json) {
		import_json(file, false, stored, res.rows, &t, n_bad);
	} else {
		printf("%s: %zu household%s in %zu row%s: %" PRIu64 " new version%s (%" PRIu64
		       " proposal%s%s), %" PRIu64 " unchanged, %" PRIu64 " refused, %zu rejected "
		       "as bad\n",
		       file, stored, plural(stored), res.rows, plural(res.rows), t.created,
		       plural(t.created), t.proposals, plural(t.proposals),
		       recorded ? ", recorded as migrated" : "", t.unchanged, t.refused, n_bad);
		/* Said, not refused: the procedure settles them (the county
		 * refuses a second identification), `conflicts` lists them. */
		if (t.shared_persons)
			printf("%s: %" PRIu64 " member%s of the households imported %s also in "
			       "another household here (an ID number registered twice): `jzfpctl "
			       "conflicts` lists them\n",
			       file, t.shared_persons, plural(t.shared_persons),
			       t.shared_persons == 1 ? "is" : "are");
		if (t.kept_proposals)
			printf("%s: %" PRIu64 " household%s given %s official status while a "
			       "proposal to another is open (as `export households` writes it): "
			       "no change of status, the proposal%s stand%s\n",
			       file, t.kept_proposals, plural(t.kept_proposals),
			       t.kept_proposals == 1 ? "its" : "their", plural(t.kept_proposals),
			       t.kept_proposals == 1 ? "s" : "");
	}
	import_result_release(&res);
	if (n_bad && !stored) {
		/* --skip-bad with no good household left: as without it. */
		fprintf(stderr, "jzfpctl: %s: every household had errors; nothing imported\n",
		        file);
		return 1;
	}
	return t.refused ? 1 : 0;
}

static int
import_census(struct ctl *c, const char *file, bool json)
{
	struct census_result res;
	int err = import_census_csv(file, c->cfg.area, &res);
	if (err) {
		print_errors(file, res.errors, res.n_errors);
		fprintf(stderr, "jzfpctl: %s: %s; nothing imported\n", file,
		        res.n_errors ? "not a census file this node can read" : err_str(err));
		census_result_release(&res);
		return 1;
	}
	if (res.n_errors) {
		print_errors(file, res.errors, res.n_errors);
		fprintf(stderr, "jzfpctl: %s: %zu error(s); nothing imported\n", file,
		        res.n_errors);
		census_result_release(&res);
		return 1;
	}
	ProtobufCBinaryData *recs = calloc(res.n + 1, sizeof(*recs));
	uint8_t *scratch = malloc(REC_MAX_ENCODED);
	if (!recs || !scratch)
		cli_die("out of memory");
	for (size_t i = 0; i < res.n; i++) {
		if (rec_census_encode(&res.items[i].c, scratch, REC_MAX_ENCODED, &recs[i].len) ||
		    !(recs[i].data = copy_of(scratch, recs[i].len)))
			cli_die("%s:%zu: census row cannot be encoded", file, res.items[i].line);
	}
	free(scratch);
	Ctl__ImportCensusReq q;
	ctl__import_census_req__init(&q);
	q.n_records = res.n;
	q.records = recs;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_IMPORT_CENSUS;
	rq.import_census = &q;
	struct import_totals t = {0};
	Ctl__Reply *failed = import_send(c, &rq, &t);
	for (size_t i = 0; i < res.n; i++)
		free(recs[i].data);
	free(recs);
	if (failed)
		cli_die("%s", failed->error);
	if (json)
		import_json(file, true, 0, res.n, &t, 0);
	else
		printf("%s: %zu census row%s: %" PRIu64 " new, %" PRIu64 " unchanged, %" PRIu64
		       " refused\n",
		       file, res.n, plural(res.n), t.created, t.unchanged, t.refused);
	if (t.refused)
		fprintf(stderr, "jzfpctl: refused by the node: %s\n", t.why);
	census_result_release(&res);
	return t.refused ? 1 : 0;
}

int
cmd_import(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"skip-bad", false, false},
	                                      {"recorded", false, false},
	                                      {"json", false, false},
	                                      {"allow-removals", false, false},
	                                      {NULL, false, false}};
	static const struct cli_cmd cmd = {"import",
	                                   "import households|census FILE.csv [--skip-bad] "
	                                   "[--recorded] [--allow-removals] [--json]",
	                                   help_import,
	                                   opts,
	                                   2,
	                                   2};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	const char *kind = a.pos[0], *file = a.pos[1];
	bool skip_bad = a.val[0], recorded = a.val[1], json = a.val[2], allow_removals = a.val[3];
	bool census = strcmp(kind, "census") == 0;
	if (!census && strcmp(kind, "households") != 0)
		cli_usage_error(&cmd, "unknown kind '%s' (households or census)", kind);
	if (census && recorded)
		cli_usage_error(&cmd, "--recorded applies to households only");
	if (census && allow_removals)
		cli_usage_error(&cmd, "--allow-removals applies to households only");
	if (census && skip_bad)
		cli_usage_error(&cmd, "--skip-bad applies to households only: a census file "
		                      "imports whole or not at all");
	if (!c->config_path)
		cli_die("import needs -c CONFIG (for the node's area and tag key)");
	cli_load_config(c);
	if (census)
		return import_census(c, file, json);
	return import_households(c, file, skip_bad, recorded, allow_removals, json);
}
