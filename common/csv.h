/*
 * csv.h - RFC 4180 CSV reader that keeps line numbers.
 *
 * Reads one record at a time from a file or a memory buffer. Fields may be
 * quoted; a doubled quote inside quotes is one quote; quoted fields may hold
 * commas and line breaks. Lines end in LF or CRLF (a lone CR also ends a
 * line). A UTF-8 byte order mark at the very start is skipped.
 *
 * A file (not a memory buffer) may also be in GB18030 (and so GBK, what
 * Excel on Chinese Windows saves as "CSV"), or UTF-16 with a byte order mark
 * (Excel's "Unicode text"): the reader tells them apart from the first
 * chunk (a BOM, else valid UTF-8, else decodable as GB18030) and converts
 * them to UTF-8 with iconv as it reads; csv_encoding says which it was.
 * Valid UTF-8 whose characters above ASCII are all two-byte ones (no
 * Chinese: that takes three bytes) is GBK whose pairs happen to be UTF-8,
 * and is read as GB18030 when it decodes so (csv.c, utf8_pairs_only). A
 * file whose first chunk is all ASCII is read as UTF-8 until its first
 * byte above ASCII, and on as GB18030 from there if what follows in that
 * read plainly is GBK, by the same rule or by bytes that are no UTF-8
 * (csv.c, gbk_after_ascii and ascii_then_gb18030).
 * A file's fields may be separated by TAB instead of commas, as Excel's
 * "Unicode text" and "Text (Tab delimited)" have them: a file whose first
 * line has a tab and no comma is read so. A
 * file in none of them, or with bytes its encoding cannot decode, fails
 * once, naming the encoding, the byte and the line. Empty lines
 * (nothing between two line ends) are skipped wherever they are, so a
 * trailing newline or blank lines never produce a record; a line of spaces
 * or commas is a record.
 *
 * Lenient where spreadsheets are: a quote in the middle of an unquoted field
 * is kept as a character. Strict where silence would lose data: text after a
 * closing quote, an unterminated quoted field, a NUL byte, a field over
 * CSV_FIELD_MAX bytes, or more than CSV_FIELDS_MAX fields in a record is an
 * error. Errors are sticky: once csv_next fails, it returns the same error.
 */
#ifndef JZFP_CSV_H
#define JZFP_CSV_H

#include <stddef.h>

#define CSV_FIELD_MAX  4096 /* bytes per field, terminator excluded */
#define CSV_FIELDS_MAX 256  /* fields per record */

struct csv_reader; /* opaque */

/* One record. */
struct csv_row {
	size_t line;   /* physical line (1-based) where the record starts */
	size_t n;      /* number of fields, >= 1 */
	char **fields; /* n NUL-terminated fields, owned by the reader: valid until
	                * the next csv_next or csv_close; callers may modify the
	                * bytes in place (e.g. to trim) */
};

/* Open a CSV file for reading. *out is written only on success; close it with
 * csv_close. Returns 0, -errno (-ENOENT, -EACCES, -ENOMEM, ...). */
int csv_open(struct csv_reader **out, const char *path);

/* Read CSV from n bytes at buf, which is borrowed for the reader's whole life
 * (it need not be NUL-terminated). Returns 0 or -ENOMEM. */
int csv_open_mem(struct csv_reader **out, const char *buf, size_t n);

/* Read the next record into *row. Returns 1 with a record, 0 at the end,
 * JZ_EPARSE for malformed input (csv_error then says where and why:
 * "line 12: unterminated quoted field", "line 3: field longer than 4096
 * bytes"), or -errno for a read error. */
int csv_next(struct csv_reader *r, struct csv_row *row);

/* The encoding the file was read in: "UTF-8", "GB18030", "UTF-16LE" or
 * "UTF-16BE" (known once the first record was read). Never NULL. */
const char *csv_encoding(const struct csv_reader *r);

/* The last error as "line N: reason", or "" if there was none. Valid until
 * csv_close. Never NULL. */
const char *csv_error(const struct csv_reader *r);

/* The line csv_error names, 0 if there was no error. */
size_t csv_error_line(const struct csv_reader *r);

/* csv_error without its "line N: " prefix ("unterminated quoted field"),
 * or "" if there was no error. Never NULL. */
const char *csv_error_reason(const struct csv_reader *r);

/* Close the reader and set *r to NULL. NULL-safe: r or *r may be NULL. */
void csv_close(struct csv_reader **r);

#endif
