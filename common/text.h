/*
 * text.h - text from anywhere: the wire, the control socket, a CSV file
 * (issue 11, item 4).
 *
 * Every string a node receives is checked with text_is_clean before it is
 * stored or signed; free-text fields (reasons, notes) are also refused when
 * text_looks_personal says they hold an ID or phone number. What reaches a
 * terminal goes through text_escape_term, what reaches a CSV file through
 * text_csv_cell, even when it was checked on the way in: old records, other
 * nodes' versions and bugs must not turn into escape sequences or formulas.
 *
 * Strings are byte ranges (s, n): they need no NUL, and a NUL inside them is
 * a control character like any other. Nothing here allocates, keeps a
 * pointer or touches global state; all functions are thread-safe.
 */
#ifndef JZFP_TEXT_H
#define JZFP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Bytes for a reason written by text_is_clean or text_looks_personal, NUL
 * included. */
#define TEXT_WHY_LEN 80

/* Flag: the field is multi-line free text, so '\n' (and only '\n', never
 * '\r') is allowed by text_is_clean and passed raw by text_escape_term. */
#define TEXT_MULTILINE 0x1u

/* Is s[0..n) text a person may be shown? It must be valid UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF, no truncated
 * sequence) and hold none of:
 *   - C0 controls U+0000-U+001F, tab and line feed included (line feed is
 *     allowed with TEXT_MULTILINE), and DEL U+007F;
 *   - C1 controls U+0080-U+009F (a terminal may read U+009B as CSI);
 *   - the marks that reorder text on screen (Trojan Source, CVE-2021-42574):
 *     U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069;
 *   - the line and paragraph separators U+2028, U+2029, which some programs
 *     show as line breaks (not in issue 11's list; added so that a one-line
 *     field stays one line everywhere).
 * Other Unicode (Chinese, emoji, zero-width joiners) is accepted.
 * On false, why (if not NULL) says what and where, for example "control
 * character U+001B at byte 12" or "invalid UTF-8 at byte 3: overlong
 * encoding"; it never quotes the text itself. */
bool text_is_clean(const char *s, size_t n, unsigned flags, char why[TEXT_WHY_LEN]);

/* Does s[0..n) hold something that looks like personal data? Digits are
 * ASCII 0-9 or full-width U+FF10-U+FF19, and a "run" is a maximal sequence
 * of them (a number inside a longer run is never matched). True for:
 *   - a resident ID number: a run of 18 digits, of 17 digits followed by X,
 *     x or full-width X, or of 15 digits (the old form); or groups of 6, 8
 *     and 4 digits (the last may end in X) separated by one space or '-';
 *   - a mainland mobile number: 11 digits 1[3-9]xxxxxxxxx as one run or as
 *     groups 3-4-4 or 3-8 separated by one space or '-', also glued to a
 *     country prefix as "+8613812345678" or "008613812345678" (with a space
 *     after +86 or 0086 the number is its own run and matches anyway);
 *   - a landline: 0, a 2-3 digit area code that does not start with 0, then
 *     7-8 digits, as one run (10-12 digits) or with one '-' or space after
 *     the area code ("010-12345678", "0971 8123456").
 * The check characters and birth dates are not verified: a mistyped ID
 * number is still personal. Years (2020), amounts (3500), 12-digit area
 * codes and 16-digit household ids match none of these shapes.
 * On true, why (if not NULL) says which and where: "looks like an ID number
 * at character 5" or "looks like a phone number at character 1" (counted
 * from 1, as a person counts what they typed); never the digits.
 * Works on any bytes (invalid UTF-8 included). */
bool text_looks_personal(const char *s, size_t n, char why[TEXT_WHY_LEN]);

/* Bytes text_escape_term may need for n input bytes, NUL included (each
 * input byte yields at most 4 output bytes). */
#define TEXT_ESCAPE_SIZE(n) (4 * (n) + 1)

/* Copy s[0..n) into out for a terminal, so that nothing raw reaches it:
 * every byte that is not part of valid UTF-8 becomes \xNN, C0 controls and
 * DEL become \xNN too, the other characters text_is_clean refuses become
 * \u{NNNN} (C1, bidi marks, U+2028/9: "\u{202e}"), hex digits in lower
 * case, and a backslash is doubled so the escaping is unambiguous. With
 * TEXT_MULTILINE, '\n' is copied raw. Everything else is copied unchanged,
 * so clean text without a backslash comes out as it went in, and the output
 * always passes text_is_clean.
 * Like snprintf: writes at most outlen bytes, NUL included (out may be NULL
 * if outlen is 0), and returns the length the whole output needs, without
 * the NUL; a return >= outlen means out holds a truncated copy, cut between
 * two characters or escapes, never inside one. */
size_t text_escape_term(const char *s, size_t n, unsigned flags, char *out, size_t outlen);

/* text_escape_term into a stream. Returns 0 or -EIO. */
int text_escape_term_fput(FILE *f, const char *s, size_t n, unsigned flags);

/* Bytes text_csv_cell may need for n input bytes, NUL included: two
 * enclosing quotes, every byte doubled (a first byte that takes the prefix
 * is not a '"'), and the NUL. */
#define TEXT_CSV_SIZE(n) (2 * (n) + 3)

/* Write s[0..n) as one CSV cell (RFC 4180) that no spreadsheet will run:
 *   - a cell that starts with '=', '+', '-', '@', tab or CR gets a single
 *     quote in front ("'=HYPERLINK(...)"), as OWASP's CSV injection advice
 *     says, unless the whole cell is a plain decimal number
 *     ([+-]?digits[.digits], such as -3 or -0.5). OWASP prefixes every such
 *     cell; we keep plain numbers because a spreadsheet reads them as the
 *     same number with or without a formula engine (nothing runs), a "'-3"
 *     would turn a value column into text, and the columns where negative
 *     numbers occur (amounts, deltas) are written by us as digits;
 *   - the cell is enclosed in double quotes, with each '"' doubled, when it
 *     holds a comma, a double quote, CR or LF.
 * Length and truncation as text_escape_term; a truncated cell must not be
 * used (size out with TEXT_CSV_SIZE). */
size_t text_csv_cell(const char *s, size_t n, char *out, size_t outlen);

/* text_csv_cell into a stream. Returns 0 or -EIO. */
int text_csv_cell_fput(FILE *f, const char *s, size_t n);

#endif
