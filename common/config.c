/*
 * config.c - the node configuration (DESIGN §10, style.md §3.5).
 *
 * One table, keys[], declares every key: section, name, type, range,
 * default, required, and where it lands in struct config. Loading runs in
 * three steps: defaults from the table; inih parsing, where the handler looks
 * each key up in the table and converts its value; then the checks that span
 * several keys (level against area, parent against level, ...).
 *
 * Debian's inih is built without INI_HANDLER_LINENO and we may not change its
 * ABI, so line numbers come from our own reader: inih pulls one line at a
 * time through it and calls the handler before asking for the next, so the
 * reader's count is the handler's line. The reader also strips leading
 * whitespace (an indented line would otherwise be taken as a continuation of
 * the previous value) and refuses lines inih would cut in two.
 */
#include "config.h"

#include "err.h"
#include "hex.h"
#include "log.h"
#include "text.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_MAX (1 << 20) /* a config file is a few hundred bytes */

enum key_type {
	K_LEVEL,    /* enum area_level */
	K_AREA,     /* uint64_t area code */
	K_STRING,   /* char[size] */
	K_PATH,     /* char[size], made absolute against the file's directory */
	K_ENDPOINT, /* char[size], a ZeroMQ endpoint */
	K_LOGLEVEL, /* int, syslog level */
	K_INT,      /* int in min..max */
	K_MEGS,     /* uint64_t bytes, given in MiB in min..max */
	K_HEX32,    /* uint8_t[32] from 64 hex characters */
	K_HEXSTR,   /* char[65], 64 hex characters kept as text */
	K_BOOL,     /* bool, yes or no */
	K_ZONE,     /* char[size], an installed time zone (timefmt.h) */
	K_LISTEN,   /* char[size], HOST:PORT or [IPv6]:PORT (config_parse_listen) */
};

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	long min, max;
	const char *def; /* default as it would be written in the file, or NULL */
	bool required;
	size_t offset, size; /* field in struct config */
};

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)

/* Indexes into keys[], for the checks that span keys. */
enum {
	K_IDX_LEVEL,
	K_IDX_AREA,
	K_IDX_NAME,
	K_IDX_DATA_DIR,
	K_IDX_KEY,
	K_IDX_PREVIOUS_KEY,
	K_IDX_LOG_LEVEL,
	K_IDX_MAP_SIZE,
	K_IDX_TIMEZONE,
	K_IDX_LISTEN,
	K_IDX_PARENT,
	K_IDX_PARENT_KEY,
	K_IDX_HEARTBEAT,
	K_IDX_BATCH_MAX,
	K_IDX_WINDOW,
	K_IDX_RECEIPT_MS,
	K_IDX_TAG_KEY,
	K_IDX_ROOT_KEY,
	K_IDX_CERT,
	K_IDX_AUDIT_KEY,
	K_IDX_READ_GROUP,
	K_IDX_INSECURE,
	K_IDX_MAX_SKEW,
	K_IDX_HTTP_LISTEN,
	K_IDX_HTTP_HEADER_TIMEOUT,
	K_IDX_HTTP_PER_ADDRESS,
	K_IDX_REGISTRY_DEFER,
	K_IDX_REGISTRY_BEHIND_MAX,
	K_IDX_COUNT
};

static const struct key_def keys[] = {
    [K_IDX_LEVEL] = {"node", "level", K_LEVEL, 0, 0, NULL, true, F(level)},
    [K_IDX_AREA] = {"node", "area", K_AREA, 0, 0, NULL, true, F(area)},
    [K_IDX_NAME] = {"node", "name", K_STRING, 0, 0, NULL, false, F(name)},
    [K_IDX_DATA_DIR] = {"node", "data_dir", K_PATH, 0, 0, NULL, true, F(data_dir)},
    /* node.key defaults to data_dir/node.key, set after parsing */
    [K_IDX_KEY] = {"node", "key", K_PATH, 0, 0, NULL, false, F(key)},
    [K_IDX_PREVIOUS_KEY] = {"node", "previous_key", K_PATH, 0, 0, NULL, false, F(previous_key)},
    [K_IDX_LOG_LEVEL] = {"node", "log_level", K_LOGLEVEL, 0, 0, "info", false, F(log_level)},
    [K_IDX_MAP_SIZE] = {"node", "map_size_mb", K_MEGS, 1, 1048576, "1024", false, F(map_size)},
    /* node.timezone defaults to TIMEFMT_ZONE_DEFAULT, set after parsing */
    [K_IDX_TIMEZONE] = {"node", "timezone", K_ZONE, 0, 0, NULL, false, F(timezone)},
    [K_IDX_LISTEN] = {"link", "listen", K_ENDPOINT, 0, 0, NULL, false, F(listen)},
    [K_IDX_PARENT] = {"link", "parent", K_ENDPOINT, 0, 0, NULL, false, F(parent)},
    [K_IDX_PARENT_KEY] = {"link", "parent_key", K_HEX32, 0, 0, NULL, false, F(parent_key)},
    [K_IDX_HEARTBEAT] = {"link", "heartbeat_ms", K_INT, 100, 60000, "2000", false, F(heartbeat_ms)},
    [K_IDX_BATCH_MAX] = {"link", "batch_max", K_INT, 1, 4096, "1024", false, F(batch_max)},
    [K_IDX_WINDOW] = {"link", "window", K_INT, 1, 64, "8", false, F(window)},
    [K_IDX_RECEIPT_MS] = {"link", "receipt_ms", K_INT, 100, 3600000, "30000", false, F(receipt_ms)},
    [K_IDX_TAG_KEY] = {"trust", "tag_key", K_HEX32, 0, 0, NULL, false, F(tag_key)},
    [K_IDX_ROOT_KEY] = {"trust", "root_key", K_HEXSTR, 0, 0, NULL, false, F(root_key)},
    [K_IDX_CERT] = {"trust", "cert", K_PATH, 0, 0, NULL, false, F(cert)},
    [K_IDX_AUDIT_KEY] = {"trust", "audit_key", K_HEX32, 0, 0, NULL, false, F(audit_key)},
    [K_IDX_READ_GROUP] = {"control", "read_group", K_STRING, 0, 0, NULL, false, F(read_group)},
    [K_IDX_INSECURE] = {"trust", "insecure", K_BOOL, 0, 0, "no", false, F(insecure)},
    [K_IDX_MAX_SKEW] = {"trust", "max_skew", K_INT, 1, 2592000, "300", false, F(max_skew)},
    [K_IDX_HTTP_LISTEN] = {"http", "listen", K_LISTEN, 0, 0, NULL, false, F(http_listen)},
    [K_IDX_HTTP_HEADER_TIMEOUT] = {"http", "header_timeout", K_INT, 1, 300, "10", false,
                                   F(http_header_timeout)},
    [K_IDX_HTTP_PER_ADDRESS] = {"http", "per_address", K_INT, 1, 64, "16", false,
                                F(http_per_address)},
    [K_IDX_REGISTRY_DEFER] = {"registry", "defer_ms", K_INT, 0, 86400000, "1000", false,
                              F(registry_defer_ms)},
    [K_IDX_REGISTRY_BEHIND_MAX] = {"registry", "behind_max", K_INT, 1024, 16777216, "262144", false,
                                   F(registry_behind_max)},
};

#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS == K_IDX_COUNT, "every key has an index");
_Static_assert(sizeof(((struct config *)0)->timezone) == TIMEFMT_ZONE_MAX, "a zone fits");

struct load {
	struct config *cfg;
	const char *shown; /* the path as the caller gave it, for messages */
	char dir[CONFIG_PATH_MAX];
	size_t line_of[NKEYS]; /* 0 = not given */
	bool filled[NKEYS];    /* given with a non-empty value */

	/* reader state */
	const char *text;
	size_t len, pos;
	size_t line;
	size_t long_line; /* first line too long for inih, 0 if none */
	int max_line;     /* the longest line inih takes */

	/* first error */
	char *err;
	size_t errlen;
	size_t err_line;
	bool failed;
};

static void report(struct load *ld, size_t line, const struct key_def *k, const char *section,
                   const char *name, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Keep only the first error. k, or else section/name, say which key. */
static void
report(struct load *ld, size_t line, const struct key_def *k, const char *section, const char *name,
       const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (ld->failed)
		return;
	ld->failed = true;
	ld->err_line = line;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (k) {
		section = k->section;
		name = k->name;
	}
	if (ld->err && ld->errlen)
		snprintf(ld->err, ld->errlen, "%s:%zu: [%s] %s: %s", ld->shown, line, section, name,
		         why);
}

static char *
reader(char *str, int num, void *stream)
{
	struct load *ld = stream;

	if (ld->pos >= ld->len || ld->long_line)
		return NULL;
	size_t start = ld->pos;
	while (ld->pos < ld->len && ld->text[ld->pos] != '\n')
		ld->pos++;
	size_t end = ld->pos;
	if (ld->pos < ld->len)
		ld->pos++; /* the '\n' */
	ld->line++;

	while (start < end && (ld->text[start] == ' ' || ld->text[start] == '\t'))
		start++;
	/* inih needs room for the line, its '\n' and a NUL. */
	if (num < 2 || end - start + 2 > (size_t)num) {
		ld->long_line = ld->line;
		ld->max_line = num > 2 ? num - 2 : 0;
		return NULL;
	}
	memcpy(str, ld->text + start, end - start);
	str[end - start] = '\n';
	str[end - start + 1] = '\0';
	return str;
}

static bool
parse_long(const char *v, long min, long max, long *out)
{
	char *end;

	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return false;
	*out = n;
	return true;
}

bool
config_listen_is_loopback(const struct sockaddr_storage *ss, bool v6)
{
	if (v6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
}

int
config_parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len, bool *v6,
                    const char **why)
{
	static const char form[] = "must be HOST:PORT or [IPv6]:PORT (127.0.0.1:8080, [::1]:8080)";
	char host[64];
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	*why = form;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = 0;
		colon = end + 1;
		*v6 = true;
	} else {
		colon = strrchr(text, ':');
		if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host))
			return -EINVAL;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = 0;
		*v6 = false;
	}
	const char *d = colon + 1;
	long port = 0;
	size_t digits = strspn(d, "0123456789");
	if (digits == 0 || d[digits] != '\0' || digits > 5 ||
	    (port = strtol(d, NULL, 10)) > 65535) {
		*why = "the port must be a number 0-65535";
		return -EINVAL;
	}
	void *addr;
	if (*v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		addr = &a->sin6_addr;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		addr = &a->sin_addr;
		*len = sizeof(*a);
	}
	if (inet_pton(*v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
		*why = "the address must be numeric (127.0.0.1, 0.0.0.0, [::1]), not a name";
		return -EINVAL;
	}
	*why = NULL;
	return 0;
}

static bool
is_endpoint(const char *v, bool bind)
{
	static const char *const schemes[] = {"ipc://", "inproc://"};

	if (strncmp(v, "tcp://", 6) == 0) {
		/* HOST:PORT, the port a number 1-65535 or * (any free one). */
		const char *colon = strrchr(v + 6, ':');
		if (!colon || colon == v + 6)
			return false;
		const char *d = colon + 1;
		if (strcmp(d, "*") == 0)
			return bind; /* a free port to listen on, nothing to connect to */
		size_t digits = strspn(d, "0123456789");
		long port = digits && digits <= 5 ? strtol(d, NULL, 10) : 0;
		return d[digits] == '\0' && port >= 1 && port <= 65535;
	}
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(v, schemes[i], n) == 0 && v[n] != '\0')
			return true;
	}
	return false;
}

static bool
copy_str(char *dst, size_t size, const char *v)
{
	size_t n = strlen(v);
	if (n >= size)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

/* Zones that passed timefmt_zone_check in this process. Every parse checks
 * one (the default, Asia/Shanghai, when the file names none), and the check
 * opens and reads the zone's file: remembering the names that passed makes
 * a parse a memory-only affair after the first (fuzz_config parses
 * thousands a second). Only successes are kept, so a zone installed later
 * is found; a zone file removed while the process runs is still taken, as
 * it would be by a process that loaded its config before. Names of at most
 * TIMEFMT_ZONE_MAX - 1 bytes, the first ZONE_CACHE_MAX distinct ones. */
#define ZONE_CACHE_MAX 8
static struct {
	pthread_mutex_t lock;
	size_t n;
	char name[ZONE_CACHE_MAX][TIMEFMT_ZONE_MAX];
} zone_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* timefmt_zone_check, through zone_cache. Thread-safe. */
static int
zone_check(const char *zone)
{
	size_t len = strlen(zone);
	bool known = false;
	int err;

	if (len >= TIMEFMT_ZONE_MAX)
		return timefmt_zone_check(zone);
	pthread_mutex_lock(&zone_cache.lock);
	for (size_t i = 0; i < zone_cache.n && !known; i++)
		known = strcmp(zone_cache.name[i], zone) == 0;
	pthread_mutex_unlock(&zone_cache.lock);
	if (known)
		return 0;
	err = timefmt_zone_check(zone);
	if (err)
		return err;
	pthread_mutex_lock(&zone_cache.lock);
	for (size_t i = 0; i < zone_cache.n && !known; i++)
		known = strcmp(zone_cache.name[i], zone) == 0;
	if (!known && zone_cache.n < ZONE_CACHE_MAX)
		memcpy(zone_cache.name[zone_cache.n++], zone, len + 1);
	pthread_mutex_unlock(&zone_cache.lock);
	return 0;
}

/* Convert v into k's field. Empty values of text and key types mean "not
 * set". Returns false and reports on a bad value. */
static bool
set_value(struct load *ld, const struct key_def *k, size_t line, const char *v)
{
	char *field = (char *)ld->cfg + k->offset;
	long n;
	int lvl;

	switch (k->type) {
	case K_LEVEL: {
		enum area_level level;
		if (area_level_parse(v, &level) || level == AREA_LEVEL_PREFECTURE) {
			report(ld, line, k, NULL, NULL,
			       "must be village, township, county or province%s",
			       strcmp(v, "prefecture") == 0 ? " (no node runs at a prefecture)"
			                                    : "");
			return false;
		}
		*(enum area_level *)(void *)field = level;
		return true;
	}
	case K_AREA:
		if (area_parse(v, (uint64_t *)(void *)field)) {
			report(ld, line, k, NULL, NULL, "must be a valid 12-digit area code");
			return false;
		}
		return true;
	case K_STRING:
	case K_HEXSTR:
	case K_ENDPOINT:
		if (!copy_str(field, k->size, v)) {
			report(ld, line, k, NULL, NULL, "longer than %zu bytes", k->size - 1);
			return false;
		}
		/* Text other nodes and operators see (node.name travels in
		 * Hello and Heartbeat, whose receivers refuse what is not clean
		 * text): refused here, where the operator can fix it. */
		char why[TEXT_WHY_LEN];
		if (k->type == K_STRING && !text_is_clean(v, strlen(v), 0, why)) {
			report(ld, line, k, NULL, NULL, "not plain text: %s", why);
			return false;
		}
		bool bind = k == &keys[K_IDX_LISTEN];
		if (k->type == K_ENDPOINT && *v && !is_endpoint(v, bind)) {
			report(
			    ld, line, k, NULL, NULL,
			    "must be a ZeroMQ endpoint: tcp://HOST:PORT (a port 1-65535%s), ipc:// "
			    "or inproc://",
			    bind ? ", or * for any" : "");
			return false;
		}
		if (k->type == K_HEXSTR && *v) {
			uint8_t raw[32];
			if (hex_decode(v, raw, sizeof raw)) {
				report(ld, line, k, NULL, NULL, "must be 64 hex characters");
				return false;
			}
			hex_encode(raw, sizeof raw, field); /* canonical lower case */
		}
		return true;
	case K_PATH: {
		int len;
		if (*v == '\0' || *v == '/')
			len = snprintf(field, k->size, "%s", v);
		else
			len = snprintf(field, k->size, "%s/%s", ld->dir, v);
		if (len < 0 || (size_t)len >= k->size) {
			report(ld, line, k, NULL, NULL, "path longer than %zu bytes", k->size - 1);
			return false;
		}
		return true;
	}
	case K_LOGLEVEL:
		lvl = log_level_parse(v);
		if (lvl < 0) {
			report(ld, line, k, NULL, NULL, "must be error, warning, info or debug");
			return false;
		}
		*(int *)(void *)field = lvl;
		return true;
	case K_INT:
	case K_MEGS:
		if (!parse_long(v, k->min, k->max, &n)) {
			report(ld, line, k, NULL, NULL, "must be an integer in %ld..%ld", k->min,
			       k->max);
			return false;
		}
		if (k->type == K_INT)
			*(int *)(void *)field = (int)n;
		else
			*(uint64_t *)(void *)field = (uint64_t)n << 20;
		return true;
	case K_HEX32:
		if (*v && hex_decode(v, (uint8_t *)field, 32)) {
			report(ld, line, k, NULL, NULL, "must be 64 hex characters");
			return false;
		}
		return true;
	case K_BOOL:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
			report(ld, line, k, NULL, NULL, "must be yes or no");
			return false;
		}
		*(bool *)(void *)field = strcmp(v, "yes") == 0;
		return true;
	case K_LISTEN: {
		struct sockaddr_storage ss;
		socklen_t sl;
		bool v6;
		const char *wrong = NULL;
		if (*v && config_parse_listen(v, &ss, &sl, &v6, &wrong)) {
			char shown[72];
			text_escape_term(v, strlen(v), 0, shown, sizeof shown);
			report(ld, line, k, NULL, NULL, "'%s': %s", shown, wrong);
			return false;
		}
		if (!copy_str(field, k->size, v)) {
			report(ld, line, k, NULL, NULL, "longer than %zu bytes", k->size - 1);
			return false;
		}
		return true;
	}
	case K_ZONE:
		if (zone_check(v) || !copy_str(field, k->size, v)) {
			char shown[72];
			text_escape_term(v, strlen(v), 0, shown, sizeof shown);
			report(ld, line, k, NULL, NULL, "unknown time zone '%s'%s", shown,
			       line ? "" : " (the default: is tzdata installed?)");
			return false;
		}
		return true;
	}
	return false;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	const struct key_def *k = NULL;
	bool section_known = false;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(keys[i].name, name) == 0) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		if (!*section)
			report(ld, ld->line, NULL, section, name, "key outside any [section]");
		else if (!section_known)
			report(ld, ld->line, NULL, section, name,
			       "unknown section (expected node, link, trust, control, http or "
			       "registry)");
		else
			report(ld, ld->line, NULL, section, name, "unknown key");
		return 0;
	}
	if (ld->line_of[i]) {
		report(ld, ld->line, k, NULL, NULL, "given twice (first on line %zu)",
		       ld->line_of[i]);
		return 0;
	}
	ld->line_of[i] = ld->line;
	if (!set_value(ld, k, ld->line, value))
		return 0;
	ld->filled[i] = *value != '\0';
	if (k->required && !ld->filled[i]) {
		report(ld, ld->line, k, NULL, NULL, "must not be empty");
		return 0;
	}
	return 1;
}

/* Checks that need more than one key. */
static void
cross_check(struct load *ld)
{
	struct config *c = ld->cfg;
	char code[13];

	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].required && !ld->filled[i])
			report(ld, 0, &keys[i], NULL, NULL, "missing required key");
	if (ld->failed)
		return;

	enum area_level own = area_level_of(c->area);
	if (own != c->level) {
		area_format(c->area, code);
		report(ld, ld->line_of[K_IDX_AREA], &keys[K_IDX_AREA], NULL, NULL,
		       "%s is a %s code but node.level is %s", code, area_level_name(own),
		       area_level_name(c->level));
		return;
	}
	if (c->level == AREA_LEVEL_PROVINCE) {
		if (ld->filled[K_IDX_PARENT])
			report(ld, ld->line_of[K_IDX_PARENT], &keys[K_IDX_PARENT], NULL, NULL,
			       "a province has no parent");
		else if (ld->filled[K_IDX_PARENT_KEY])
			report(ld, ld->line_of[K_IDX_PARENT_KEY], &keys[K_IDX_PARENT_KEY], NULL,
			       NULL, "a province has no parent");
		else if (!ld->filled[K_IDX_LISTEN])
			report(ld, 0, &keys[K_IDX_LISTEN], NULL, NULL,
			       "missing required key (a province needs children)");
		else if (ld->filled[K_IDX_TAG_KEY])
			report(ld, ld->line_of[K_IDX_TAG_KEY], &keys[K_IDX_TAG_KEY], NULL, NULL,
			       "a province node must not hold the tag key: tags plus the key "
			       "reveal ID numbers (remove it; only importing nodes need it)");
		return;
	}
	if (!ld->filled[K_IDX_PARENT]) {
		report(ld, 0, &keys[K_IDX_PARENT], NULL, NULL,
		       "missing required key (only a province has no parent)");
		return;
	}
	if (!ld->filled[K_IDX_PARENT_KEY]) {
		report(ld, 0, &keys[K_IDX_PARENT_KEY], NULL, NULL,
		       "missing required key (needed with link.parent)");
		return;
	}
	c->has_parent = true;
}

static void
apply_defaults(struct load *ld)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (!keys[i].def)
			continue;
		bool ok = set_value(ld, &keys[i], 0, keys[i].def);
		assert(ok); /* a bad default in the table is our bug */
		(void)ok;
	}
}

static int
read_file(const char *path, char **out, size_t *len, mode_t *mode)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf = NULL;
	int err;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) != 0) {
		err = -errno;
		goto fail;
	}
	*mode = st.st_mode;
	/* A buffer the file's size (and a byte to see it grew), not FILE_MAX:
	 * a config is a few hundred bytes, and a 1 MiB allocation is an mmap
	 * and a munmap each time. A file that grew gets the rest read into a
	 * FILE_MAX buffer. */
	size_t cap = FILE_MAX + 1;
	if (S_ISREG(st.st_mode) && st.st_size >= 0 && st.st_size < FILE_MAX)
		cap = (size_t)st.st_size + 2;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto fail;
	}
	size_t n = fread(buf, 1, cap, f);
	if (n == cap && cap < FILE_MAX + 1) {
		char *big = realloc(buf, FILE_MAX + 1);
		if (!big) {
			err = -ENOMEM;
			goto fail;
		}
		buf = big;
		n += fread(buf + n, 1, FILE_MAX + 1 - n, f);
	}
	if (ferror(f)) {
		err = errno ? -errno : -EIO;
		goto fail;
	}
	if (n > FILE_MAX) {
		err = -EFBIG;
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;

fail:
	free(buf);
	fclose(f);
	return err;
}

/* Parse TEXT[0..LEN), the contents of the file at REAL (absolute, resolved;
 * shorter than out->path), whose st_mode is MODE; SHOWN starts each error. */
static int
parse(struct config *out, const char *real, const char *shown, const char *text, size_t len,
      mode_t mode, char *err, size_t errlen)
{
	struct load ld = {.cfg = out, .shown = shown, .err = err, .errlen = errlen, .len = len};
	const char *path = shown;
	int rc;

	strcpy(out->path, real);
	strcpy(ld.dir, real);
	*strrchr(ld.dir, '/') = '\0'; /* realpath gives an absolute path */
	if (!ld.dir[0])
		strcpy(ld.dir, "/");

	apply_defaults(&ld);
	ld.text = text;
	int first = ini_parse_stream(reader, &ld, handler, &ld);
	if (first > 0 && (!ld.failed || (size_t)first < ld.err_line)) {
		/* inih found a line that is neither a section nor a key
		 * before any error of ours. */
		if (err && errlen)
			snprintf(err, errlen,
			         "%s:%d: syntax error: expected [section] or key = value", path,
			         first);
		ld.failed = true;
	} else if (first < 0 && !ld.failed) {
		rc = -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto done;
	} else if (ld.long_line && !ld.failed) {
		/* The reader stopped there, so every other error came earlier. */
		if (err && errlen)
			snprintf(err, errlen, "%s:%zu: line longer than %d bytes", path,
			         ld.long_line, ld.max_line);
		ld.failed = true;
	}
	if (!ld.failed && !ld.filled[K_IDX_KEY]) {
		int n = snprintf(out->key, sizeof out->key, "%s/node.key", out->data_dir);
		if (n < 0 || (size_t)n >= sizeof out->key)
			report(&ld, ld.line_of[K_IDX_DATA_DIR], &keys[K_IDX_DATA_DIR], NULL, NULL,
			       "path too long to hold node.key");
	}
	if (!ld.failed && !ld.filled[K_IDX_TIMEZONE])
		set_value(&ld, &keys[K_IDX_TIMEZONE], 0, TIMEFMT_ZONE_DEFAULT);
	if (!ld.failed)
		cross_check(&ld);
	/* A key in the file: only its owner may read it, as for key files. */
	if (!ld.failed && ld.filled[K_IDX_TAG_KEY] && (mode & 077))
		report(&ld, ld.line_of[K_IDX_TAG_KEY], &keys[K_IDX_TAG_KEY], NULL, NULL,
		       "mode %03o lets group or others read this key; chmod 600 %s",
		       (unsigned)(mode & 0777), path);
	out->has_tag_key = ld.filled[K_IDX_TAG_KEY];
	out->has_audit_key = ld.filled[K_IDX_AUDIT_KEY];
	rc = ld.failed ? JZ_ECONFIG : 0;

done:
	return rc;
}

int
config_load(struct config *out, const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof *out);
	if (!realpath(path, real))
		rc = errno ? -errno : -EIO;
	else if (strlen(real) >= sizeof out->path)
		rc = -ENAMETOOLONG;
	else
		rc = read_file(real, &text, &len, &mode);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = parse(out, real, path, text, len, mode, err, errlen);
	free(text);
	return rc;
}

int
config_parse(struct config *out, const char *path, const char *text, size_t len, mode_t mode,
             char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof *out);
	if (path[0] != '/' || strlen(path) >= sizeof out->path) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(EINVAL));
		return -EINVAL;
	}
	if (len > FILE_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(EFBIG));
		return -EFBIG;
	}
	return parse(out, path, path, text, len, mode, err, errlen);
}
