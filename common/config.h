/*
 * config.h - the node configuration file (INI, parsed with inih).
 *
 * Every key is declared in one table in config.c (section, name, type, range,
 * default, required) and checked after parsing; unknown sections and keys are
 * errors, as is a key given twice. Errors read "FILE:LINE: [section] key:
 * reason", with line 0 for a missing required key. Only the first error is
 * reported. Lines are limited to what Debian's inih reads in one go (about
 * 200 bytes); a longer line is an error, never silently cut.
 *
 *   [node]
 *   level = county                 ; village | township | county | province
 *   area = 630121000000            ; its own level must be node.level
 *   name = Datong                  ; optional, up to 127 bytes of clean text (text.h)
 *   data_dir = data                ; relative to the config file's directory
 *   key = node.key                 ; optional; default <data_dir>/node.key
 *   log_level = info               ; error | warning | info | debug
 *   map_size_mb = 1024             ; 1..1048576
 *   timezone = Asia/Shanghai       ; times shown to people (timefmt.h)
 *   [link]
 *   listen = tcp://0.0.0.0:7001    ; optional; required for a province
 *   parent = tcp://10.0.0.1:7000   ; required unless province, empty for it
 *   parent_key = <64 hex>          ; the parent's public key; required with parent
 *   heartbeat_ms = 2000            ; 100..60000
 *   batch_max = 1024               ; 1..4096 envelopes per batch
 *   window = 8                     ; 1..64 unacknowledged batches
 *   receipt_ms = 30000             ; province: how often it signs receipts
 *   [trust]
 *   tag_key = <64 hex>             ; optional: the province's person-tag key;
 *                                  ; refused at a province, and in a file that
 *                                  ; group or others may read (chmod 600 it)
 *   root_key = <64 hex>            ; the province's public key (trust on)
 *   cert = node.cert               ; with root_key: this node's certificate chain
 *   audit_key = <64 hex>           ; optional: the province's audit public key, a
 *                                  ; reader of all personal data (kept off-node)
 *   insecure = no                  ; yes | no: yes lets jzfpd run without
 *                                  ; root_key (children not authenticated);
 *                                  ; no effect with root_key
 *   max_skew = 300                 ; 1..2592000 seconds: an envelope dated further
 *                                  ; ahead of this node's clock is held until the
 *                                  ; clock reaches it; a window's close is applied
 *                                  ; only past the window's end less this
 *   [http]
 *   listen = 127.0.0.1:8080        ; optional: the read-only HTTP server (node/http/),
 *                                  ; HOST:PORT or [IPv6]:PORT, port 0 = any free port
 *   header_timeout = 10            ; 1..300 seconds: a request (headers, a GET's
 *                                  ; body) must have come in whole this long after
 *                                  ; its first bytes, or its connection is closed
 *   [registry]
 *   defer_ms = 1000                ; 0..86400000: a household version received from
 *                                  ; another node is stored, forwarded and acknowledged
 *                                  ; at once, and applied to the household tables and
 *                                  ; rollups once the log has not grown for this
 *                                  ; long, or a read or a write needs them
 *                                  ; (apply.h, "Deferred"); 0 applies it at once
 *   behind_max = 262144            ; 1024..16777216 log entries: at this many behind,
 *                                  ; the node stops taking in records and catches
 *                                  ; up to half first (what a read may wait for)
 *
 * Endpoints are ZeroMQ endpoints: tcp://, ipc:// or inproc://. jzfpd, not
 * config_load, refuses a config without root_key unless insecure = yes.
 */
#ifndef JZFP_CONFIG_H
#define JZFP_CONFIG_H

#include "area.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define CONFIG_PATH_MAX 4096

struct config {
	char path[CONFIG_PATH_MAX]; /* the file loaded, absolute */
	enum area_level level;      /* node.level */
	uint64_t area;              /* node.area */
	/* node.name, "" if not given; at most 63 bytes (21 Chinese characters),
	 * the most a Hello or Heartbeat carries (WIRE_NAME_MAX). */
	char name[64];
	char data_dir[CONFIG_PATH_MAX]; /* node.data_dir, absolute */
	char key[CONFIG_PATH_MAX];      /* node.key, absolute */
	/* node.previous_key, absolute, or "": the key this node was re-keyed
	 * from, to open what it sealed under it (never to sign) */
	char previous_key[CONFIG_PATH_MAX];
	int log_level;          /* node.log_level as syslog LOG_*, default LOG_INFO */
	uint64_t map_size;      /* node.map_size_mb in bytes, default 1 GiB */
	char timezone[64];      /* node.timezone, default Asia/Shanghai */
	char listen[256];       /* link.listen, "" = no children */
	char parent[256];       /* link.parent, "" for the province */
	uint8_t parent_key[32]; /* link.parent_key */
	bool has_parent;        /* parent and parent_key are set */
	int heartbeat_ms;       /* link.heartbeat_ms, default 2000 */
	int batch_max;          /* link.batch_max, default 1024 */
	int window;             /* link.window, default 8 */
	int receipt_ms;         /* link.receipt_ms: the province's receipts, default 30000 */
	uint8_t tag_key[32];    /* trust.tag_key */
	bool has_tag_key;
	char root_key[65];          /* trust.root_key: 64 lower-case hex or "" */
	char cert[CONFIG_PATH_MAX]; /* trust.cert, absolute, or "" */
	uint8_t audit_key[32];      /* trust.audit_key */
	bool has_audit_key;
	/* control.read_group: members of this group may read (status, tree,
	 * rollup, proposals) through DATA_DIR/control-ro.sock; "" = none */
	char read_group[64];
	bool insecure;           /* trust.insecure: may run without root_key */
	int max_skew;            /* trust.max_skew in seconds, default 300 */
	char http_listen[64];    /* http.listen, "" = no HTTP server */
	int http_header_timeout; /* http.header_timeout, seconds */
	int http_per_address;    /* http.per_address: connections from one client address */
	int registry_defer_ms;   /* registry.defer_ms, default 1000; 0 = never deferred */
	int registry_behind_max; /* registry.behind_max, log entries, default 262144 */
	bool test_clock;         /* jzfpd --test-clock (not from the file) */
};

/* Load and check the configuration file at path into *out (caller storage;
 * on failure its contents are unspecified). On any failure err receives one
 * line (errlen bytes at most, NUL-terminated; err may be NULL if errlen is
 * 0). Returns 0, JZ_ECONFIG for an invalid file, -errno when the file cannot
 * be read ("FILE: No such file or directory"). */
int config_load(struct config *out, const char *path, char *err, size_t errlen);

/* config_load for a file already in memory: TEXT[0..LEN) (no terminator
 * needed) is the contents of the file at PATH, which must be absolute and
 * resolved (relative paths in the file are taken from its directory; errors
 * start with it), and MODE its st_mode (a key in the file needs 0600). No
 * file is opened except the time zone's. Returns as config_load, and
 * -EINVAL for a relative or too long PATH, -EFBIG for a text longer than a
 * config file may be. For tests and fuzzing. */
int config_parse(struct config *out, const char *path, const char *text, size_t len, mode_t mode,
                 char *err, size_t errlen);

/* [http] listen's form, checked when the file is loaded and used by the
 * HTTP server: "HOST:PORT" or "[IPv6]:PORT", HOST a numeric address and
 * PORT 0-65535, into *SS of *LEN bytes (*V6 for IPv6). Returns 0, or
 * -EINVAL with *WHY saying what is wrong ("the port must be a number
 * 0-65535"). */
int config_parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len, bool *v6,
                        const char **why);

/* Is the address config_parse_listen gave a loopback one (127.0.0.0/8,
 * ::1), reachable from this machine only? */
bool config_listen_is_loopback(const struct sockaddr_storage *ss, bool v6);

#endif
