/*
 * fuzz_csv.c - libFuzzer target for the CSV reader and the household and
 * census imports (csv.h, import.h): files an operator brings from a
 * spreadsheet.
 *
 * The imports take a path, so each input is written to a scratch file. The
 * reader has a memory entry too, so the input is read both ways.
 *
 * Oracles, for every input:
 *   - csv_open_mem and csv_open on the same bytes give the same records and
 *     the same error, the error is sticky, and every record keeps the limits
 *     of csv.h;
 *   - import_households_csv and import_census_csv return 0, JZ_EPARSE or
 *     -ENOMEM, and what they return keeps import.h's promises: items pass the
 *     record checks and encode, villages are under the node's area, a
 *     household's head comes first and its pid_tags are the keyed tags of its
 *     ID numbers, no ID number or household or census key appears twice,
 *     errors are sorted by line with terminated texts, and no error text
 *     quotes an ID number found in the data;
 *   - the results are released with nothing left allocated (LeakSanitizer).
 */
#include "area.h"
#include "csv.h"
#include "err.h"
#include "fuzz.h"
#include "import.h"
#include "record.h"
#include "resid.h"

#include <stdbool.h>

#define NODE_AREA 630121000000ULL /* a county: the villages of tests/data are under it */

static const uint8_t tag_key[32] = {
    0x9f, 0x0e, 0x5c, 0x3a, 0x7d, 0x1b, 0x24, 0x68, 0xac, 0xe0, 0x24, 0x68, 0xbd, 0xf1, 0x35, 0x79,
    0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90,
};

/* ID numbers found in the data rows, canonical form; the error texts must
 * never contain one. */
#define MAX_IDS 256
struct ids {
	size_t n;
	char v[MAX_IDS][RESID_LEN + 1];
};

/* Trim as import.c does: ASCII blanks and U+3000 at both ends. Returns the
 * start; writes the length. */
static const char *
trimmed(const char *s, size_t *len)
{
	size_t n;

	for (;;) {
		if (*s == ' ' || *s == '\t')
			s++;
		else if (strncmp(s, "\xe3\x80\x80", 3) == 0)
			s += 3;
		else
			break;
	}
	n = strlen(s);
	for (;;) {
		if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		else if (n >= 3 && memcmp(s + n - 3, "\xe3\x80\x80", 3) == 0)
			n -= 3;
		else
			break;
	}
	*len = n;
	return s;
}

static void
collect_id(struct ids *ids, const char *field)
{
	char tmp[RESID_LEN + 1], id[RESID_LEN + 1];
	size_t n;
	const char *s = trimmed(field, &n);

	if (n != RESID_LEN || ids->n == MAX_IDS)
		return;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (resid_normalize(tmp, id) == 0)
		memcpy(ids->v[ids->n++], id, sizeof(id));
}

/* A file the reader took for another encoding (GB18030, UTF-16), or whose
 * bytes its encoding cannot decode, is read differently from the same bytes
 * in memory (memory is UTF-8 as is): read it to its end alone, which must
 * end cleanly or with one sticky error. */
static bool
decoded_differently(struct csv_reader *b, int rc_b)
{
	bool encoding_error = rc_b == JZ_EPARSE && (strstr(csv_error(b), "not valid ") ||
	                                            strstr(csv_error(b), "not UTF-8"));
	if (strcmp(csv_encoding(b), "UTF-8") == 0 && !encoding_error)
		return false;
	struct csv_row r;
	int rc = rc_b;
	for (size_t i = 0; rc == 1 && i < 1000000; i++)
		rc = csv_next(b, &r);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE);
	if (rc == JZ_EPARSE)
		FUZZ_CHECK(csv_next(b, &r) == JZ_EPARSE);
	return true;
}

/* The reader, from memory and from the file, record by record. Collects the
 * valid ID numbers of the data rows (any column) into ids. */
static void
read_both(const uint8_t *data, size_t size, const char *path, struct ids *ids)
{
	struct csv_reader *a = NULL, *b = NULL;
	struct csv_row ra, rb;
	size_t last_line = 0;
	bool header = true;
	int rc_a, rc_b;

	FUZZ_CHECK(csv_open_mem(&a, (const char *)data, size) == 0);
	FUZZ_CHECK(csv_open(&b, path) == 0);
	for (;;) {
		rc_a = csv_next(a, &ra);
		rc_b = csv_next(b, &rb);
		if (decoded_differently(b, rc_b)) {
			csv_close(&a);
			csv_close(&b);
			return;
		}
		FUZZ_CHECK(rc_a == rc_b);
		if (rc_a != 1)
			break;
		FUZZ_CHECK(ra.line == rb.line && ra.n == rb.n);
		FUZZ_CHECK(ra.line > last_line);
		last_line = ra.line;
		FUZZ_CHECK(ra.n >= 1 && ra.n <= CSV_FIELDS_MAX);
		for (size_t i = 0; i < ra.n; i++) {
			FUZZ_CHECK(strlen(ra.fields[i]) <= CSV_FIELD_MAX);
			FUZZ_CHECK(strcmp(ra.fields[i], rb.fields[i]) == 0);
			if (!header)
				collect_id(ids, ra.fields[i]);
		}
		header = false;
	}
	FUZZ_CHECK(rc_a == 0 || rc_a == JZ_EPARSE);
	FUZZ_CHECK(strcmp(csv_error(a), csv_error(b)) == 0);
	FUZZ_CHECK(csv_error_line(a) == csv_error_line(b));
	if (rc_a == JZ_EPARSE) {
		FUZZ_CHECK(csv_error(a)[0] != '\0' && csv_error_reason(a)[0] != '\0');
		FUZZ_CHECK(csv_error_line(a) >= 1);
		/* Sticky. */
		FUZZ_CHECK(csv_next(a, &ra) == JZ_EPARSE);
		FUZZ_CHECK(csv_next(b, &rb) == JZ_EPARSE);
	} else {
		FUZZ_CHECK(csv_error(a)[0] == '\0' && csv_error_line(a) == 0);
		FUZZ_CHECK(csv_next(a, &ra) == 0);
	}
	csv_close(&a);
	csv_close(&b);
	FUZZ_CHECK(a == NULL && b == NULL);
	csv_close(&a); /* NULL-safe */
}

static void
check_errors(const struct import_error *v, size_t n, const struct ids *ids)
{
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(fuzz_terminated(v[i].column, sizeof(v[i].column)));
		FUZZ_CHECK(fuzz_terminated(v[i].what, sizeof(v[i].what)));
		FUZZ_CHECK(v[i].what[0] != '\0');
		FUZZ_CHECK(v[i].line >= 1);
		if (i > 0)
			FUZZ_CHECK(v[i - 1].line <= v[i].line);
		for (size_t k = 0; k < ids->n; k++)
			FUZZ_CHECK(strstr(v[i].what, ids->v[k]) == NULL);
	}
}

static void
check_household(const struct import_household *it, uint8_t *buf)
{
	const struct rec_household *hh = &it->hh;
	const struct rec_personal *p = &it->personal;
	size_t len;

	FUZZ_CHECK(rec_household_check(hh) == 0 && rec_personal_check(p) == 0);
	FUZZ_CHECK(rec_household_encode(hh, buf, REC_MAX_ENCODED, &len) == 0);
	FUZZ_CHECK(rec_personal_encode(p, buf, REC_MAX_ENCODED, &len) == 0);
	FUZZ_CHECK(hh->n_members >= 1 && hh->n_members == p->n);
	FUZZ_CHECK(hh->n_parents == 0);
	FUZZ_CHECK(area_level_of(hh->village) == AREA_LEVEL_VILLAGE);
	FUZZ_CHECK(area_is_under(hh->village, NODE_AREA));
	FUZZ_CHECK(household_id_is_valid(hh->id) && household_village(hh->id) == hh->village);
	FUZZ_CHECK(hh->year >= 2013 && hh->year <= 2100);
	FUZZ_CHECK(hh->income_fen >= 0);
	FUZZ_CHECK(p->members[0].relation == 1);
	for (size_t i = 0; i < p->n; i++) {
		uint8_t tag[RESID_TAG_LEN];
		char id[RESID_LEN + 1];
		if (i > 0)
			FUZZ_CHECK(p->members[i].relation != 1);
		FUZZ_CHECK(resid_normalize(p->members[i].id_number, id) == 0);
		FUZZ_CHECK(strcmp(id, p->members[i].id_number) == 0);
		FUZZ_CHECK(resid_tag(id, tag_key, tag) == 0);
		FUZZ_CHECK(memcmp(tag, hh->members[i].pid_tag, RESID_TAG_LEN) == 0);
	}
}

static void
households(const char *path, const struct ids *ids, uint8_t *buf)
{
	struct import_result r;
	size_t members = 0;
	int rc = import_households_csv(path, NODE_AREA, tag_key, &r);

	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE || rc == -ENOMEM);
	if (rc == JZ_EPARSE)
		FUZZ_CHECK(r.n == 0 && r.n_errors >= 1);
	if (rc == 0 && r.n_bad_households > 0)
		FUZZ_CHECK(r.n_errors >= 1);
	check_errors(r.errors, r.n_errors, ids);
	for (size_t i = 0; i < r.n; i++) {
		const struct import_household *it = &r.items[i];
		check_household(it, buf);
		members += it->hh.n_members;
		if (i > 0)
			FUZZ_CHECK(r.items[i - 1].line < it->line);
		for (size_t j = 0; j < i; j++) {
			const struct import_household *o = &r.items[j];
			FUZZ_CHECK(o->hh.id != it->hh.id);
			for (size_t a = 0; a < o->hh.n_members; a++)
				for (size_t b = 0; b < it->hh.n_members; b++)
					FUZZ_CHECK(memcmp(o->hh.members[a].pid_tag,
					                  it->hh.members[b].pid_tag,
					                  REC_PID_TAG_LEN) != 0);
		}
	}
	FUZZ_CHECK(members <= r.rows);
	import_result_release(&r);
	import_result_release(&r); /* twice is fine */
}

static void
censuses(const char *path, const struct ids *ids, uint8_t *buf)
{
	struct census_result r;
	size_t len;
	int rc = import_census_csv(path, NODE_AREA, &r);

	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE || rc == -ENOMEM);
	if (rc == JZ_EPARSE)
		FUZZ_CHECK(r.n == 0 && r.n_errors >= 1);
	check_errors(r.errors, r.n_errors, ids);
	for (size_t i = 0; i < r.n; i++) {
		const struct rec_census *c = &r.items[i].c;
		FUZZ_CHECK(rec_census_encode(c, buf, REC_MAX_ENCODED, &len) == 0);
		FUZZ_CHECK(area_level_of(c->village) == AREA_LEVEL_VILLAGE);
		FUZZ_CHECK(area_is_under(c->village, NODE_AREA));
		FUZZ_CHECK(c->year >= 2013 && c->year <= 2100);
		FUZZ_CHECK(c->population >= 1 && c->households <= c->population);
		if (i > 0)
			FUZZ_CHECK(r.items[i - 1].line < r.items[i].line);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(r.items[j].c.village != c->village ||
			           r.items[j].c.year != c->year);
	}
	census_result_release(&r);
	census_result_release(&r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_scratch_init("input.csv");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Once per process: a run allocates only what the code under test
	 * does. */
	static struct ids ids;
	static uint8_t buf[REC_MAX_ENCODED];
	const char *path = fuzz_scratch_write(data, size);

	ids.n = 0;
	read_both(data, size, path, &ids);
	households(path, &ids, buf);
	censuses(path, &ids, buf);
	return 0;
}
