/*
 * fuzz_config.c - libFuzzer target for config_load (config.h): the INI file
 * an operator edits by hand, parsed with inih behind our own line reader.
 *
 * Each input is parsed from memory with config_parse (config_load without
 * the file: its path, its mode), as if it were the file node.ini of a scratch
 * directory; every 64th input is also written there and loaded with
 * config_load, which must give the same result. Writing, resolving and
 * reading a file for every input held the target to about 300 runs/s.
 * The three struct config (about 21 KiB each) are allocated once: a fresh
 * malloc per input never reuses memory under ASan's quarantine, so each
 * input paid page faults for new pages, half the time of a run; config.c
 * remembers the zones it has checked, so a parse opens no file either.
 *
 * Oracles, for every input:
 *   - config_load returns 0, JZ_ECONFIG or -ENOMEM; on failure the error is
 *     one non-empty line that starts with the path; on success it is empty;
 *   - a loaded config keeps config.h's promises: the area's own level is
 *     node.level, paths are absolute, numbers are in their ranges, strings
 *     are terminated, the node's name is clean text (text.h), the time zone
 *     is installed, a node has a parent and its key unless it is the
 *     province, and a province listens and holds no tag key;
 *   - the result does not depend on the error buffer: a 16-byte buffer gets
 *     a prefix of the same message, no buffer at all the same return code,
 *     and a second load the same struct config;
 *   - a loaded config that holds the tag key is refused when the file's mode
 *     lets the group read it;
 *   - config_load on the same bytes in a file (every 64th input) gives the
 *     same return code, message and struct config.
 */
#include "area.h"
#include "config.h"
#include "err.h"
#include "fuzz.h"
#include "text.h"
#include "timefmt.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <syslog.h>

static bool
endpoint_ok(const char *s)
{
	return strncmp(s, "tcp://", 6) == 0 || strncmp(s, "ipc://", 6) == 0 ||
	       strncmp(s, "inproc://", 9) == 0;
}

static void
check_config(const struct config *c)
{
	FUZZ_CHECK(fuzz_terminated(c->path, sizeof(c->path)) && c->path[0] == '/');
	FUZZ_CHECK(c->level == AREA_LEVEL_VILLAGE || c->level == AREA_LEVEL_TOWNSHIP ||
	           c->level == AREA_LEVEL_COUNTY || c->level == AREA_LEVEL_PROVINCE);
	FUZZ_CHECK(area_is_valid(c->area) && area_level_of(c->area) == c->level);
	FUZZ_CHECK(fuzz_terminated(c->name, sizeof(c->name)));
	FUZZ_CHECK(text_is_clean(c->name, strlen(c->name), 0, NULL));
	FUZZ_CHECK(fuzz_terminated(c->data_dir, sizeof(c->data_dir)) && c->data_dir[0] == '/');
	FUZZ_CHECK(fuzz_terminated(c->key, sizeof(c->key)) && c->key[0] == '/');
	FUZZ_CHECK(c->log_level >= LOG_ERR && c->log_level <= LOG_DEBUG);
	FUZZ_CHECK(c->map_size >= (1ULL << 20) && c->map_size <= (1048576ULL << 20) &&
	           c->map_size % (1ULL << 20) == 0);
	FUZZ_CHECK(fuzz_terminated(c->timezone, sizeof(c->timezone)));
	FUZZ_CHECK(timefmt_zone_check(c->timezone) == 0);
	FUZZ_CHECK(fuzz_terminated(c->listen, sizeof(c->listen)));
	FUZZ_CHECK(fuzz_terminated(c->parent, sizeof(c->parent)));
	FUZZ_CHECK(!c->listen[0] || endpoint_ok(c->listen));
	FUZZ_CHECK(!c->parent[0] || endpoint_ok(c->parent));
	FUZZ_CHECK(c->heartbeat_ms >= 100 && c->heartbeat_ms <= 60000);
	FUZZ_CHECK(c->batch_max >= 1 && c->batch_max <= 4096);
	FUZZ_CHECK(c->window >= 1 && c->window <= 64);
	FUZZ_CHECK(fuzz_terminated(c->root_key, sizeof(c->root_key)));
	FUZZ_CHECK(c->root_key[0] == '\0' || strspn(c->root_key, "0123456789abcdef") == 64);
	FUZZ_CHECK(fuzz_terminated(c->cert, sizeof(c->cert)));
	FUZZ_CHECK(c->cert[0] == '\0' || c->cert[0] == '/');
	if (c->level == AREA_LEVEL_PROVINCE) {
		FUZZ_CHECK(!c->has_parent && c->parent[0] == '\0' && c->listen[0] != '\0');
		FUZZ_CHECK(!c->has_tag_key); /* tags plus the key reveal ID numbers */
	} else {
		FUZZ_CHECK(c->has_parent && c->parent[0] != '\0');
	}
}

/* The scratch file's resolved path: what config_load would record. */
static char real[PATH_MAX];

/* The results of each input's parses, allocated once. */
static struct config *c1, *c2, *c3;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	c1 = malloc(sizeof(*c1));
	c2 = malloc(sizeof(*c2));
	c3 = malloc(sizeof(*c3));
	FUZZ_CHECK(c1 && c2 && c3);
	fuzz_scratch_init("node.ini");
	/* realpath needs the file to exist. */
	FUZZ_CHECK(realpath(fuzz_scratch_write((const uint8_t *)"", 0), real) != NULL);
	return 0;
}

/* Every 64th input, the first included (so that a crash input run alone
 * checks it too): through a file, config_load must agree. */
static void
check_file(const uint8_t *data, size_t size, int rc, const struct config *c, const char *err)
{
	static unsigned long runs;
	char err3[512];

	if (runs++ % 64 != 0)
		return;
	fuzz_scratch_write(data, size);
	FUZZ_CHECK(config_load(c3, real, err3, sizeof(err3)) == rc);
	FUZZ_CHECK(strcmp(err3, err) == 0);
	if (rc == 0)
		FUZZ_CHECK(memcmp(c, c3, sizeof(*c)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], small[16];
	const char *path = real;
	const mode_t mode = S_IFREG | 0600; /* as fuzz_scratch_write makes it */
	int rc, rc2;

	rc = config_parse(c1, path, (const char *)data, size, mode, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == JZ_ECONFIG || rc == -ENOMEM || rc == -EFBIG);
	FUZZ_CHECK(fuzz_terminated(err, sizeof(err)));
	FUZZ_CHECK(strchr(err, '\n') == NULL);
	if (rc == 0) {
		FUZZ_CHECK(err[0] == '\0');
		check_config(c1);
	} else {
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
	}

	rc2 = config_parse(c2, path, (const char *)data, size, mode, small, sizeof(small));
	FUZZ_CHECK(rc2 == rc);
	FUZZ_CHECK(fuzz_terminated(small, sizeof(small)));
	FUZZ_CHECK(strncmp(err, small, strlen(small)) == 0);
	if (rc == 0)
		FUZZ_CHECK(memcmp(c1, c2, sizeof(*c1)) == 0);

	rc2 = config_parse(c2, path, (const char *)data, size, mode, NULL, 0);
	FUZZ_CHECK(rc2 == rc);

	if (rc == 0 && c1->has_tag_key)
		FUZZ_CHECK(config_parse(c2, path, (const char *)data, size, S_IFREG | 0640, NULL,
		                        0) == JZ_ECONFIG);

	check_file(data, size, rc, c1, err);
	return 0;
}
