/*
 * ident.c - node identity: the Ed25519 key pair in guarded memory.
 *
 * The whole struct ident lives in one sodium_malloc allocation, so the secret
 * key sits between guard pages, is locked out of swap where the system
 * allows it, and is wiped by sodium_free. Key files hold only the 32-byte
 * seed; the key pair is re-derived on load. Hex conversion of the seed uses
 * libsodium's constant-time routines, and every temporary copy of secret
 * bytes is wiped before returning.
 */
#include "ident.h"

#include "log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_PREFIX     "jzfp-ed25519-seed "
#define KEY_PREFIX_LEN (sizeof(KEY_PREFIX) - 1)
#define KEY_LINE_LEN   (KEY_PREFIX_LEN + 2 * IDENT_SEED_LEN + 1) /* with the newline */

struct ident {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	/* pk as X25519, converted once: the conversion checks the point, a
	 * scalar multiplication (about 60 us), more than a sealed box's own
	 * work, and every key opened (seal.c) wants it. */
	uint8_t curve_pk[crypto_box_PUBLICKEYBYTES];
	struct ident *previous; /* ident_set_previous, or NULL */
};

/* Fill in what follows from the key pair just made. */
static void
ident_keyed(struct ident *id)
{
	/* Our own public key is a valid point by construction. */
	int rc = crypto_sign_ed25519_pk_to_curve25519(id->curve_pk, id->pk);
	assert(rc == 0);
	(void)rc;
}

static int
ident_alloc(struct ident **out)
{
	if (sodium_init() < 0)
		return JZ_ECRYPTO;
	struct ident *id = sodium_malloc(sizeof(*id));
	if (!id)
		return -ENOMEM;
	id->previous = NULL; /* sodium_malloc fills with garbage */
	*out = id;
	return 0;
}

int
ident_generate(struct ident **out)
{
	struct ident *id;
	int err = ident_alloc(&id);
	if (err)
		return err;
	crypto_sign_keypair(id->pk, id->sk);
	ident_keyed(id);
	*out = id;
	return 0;
}

int
ident_from_seed(struct ident **out, const uint8_t seed[IDENT_SEED_LEN])
{
	struct ident *id;
	int err = ident_alloc(&id);
	if (err)
		return err;
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	ident_keyed(id);
	*out = id;
	return 0;
}

static int
read_small(int fd, char *buf, size_t cap, size_t *n)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*n = got;
	return 0;
}

int
ident_load_why(struct ident **out, const char *path, char *why, size_t whylen)
{
	/* One byte more than a valid line, to notice trailing junk. */
	char line[KEY_LINE_LEN + 1];
	uint8_t seed[IDENT_SEED_LEN];
	size_t n = 0, bin_len = 0;
	const char *end = NULL;
	struct stat st;
	int err;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "key file %s: %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		snprintf(why, whylen, "key file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "key file %s: not a regular file", path);
		err = JZ_ECONFIG;
		goto fail;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen,
		         "key file %s: mode %03o is open to group or others; chmod 600 it", path,
		         (unsigned)(st.st_mode & 0777));
		err = JZ_ECONFIG;
		goto fail;
	}
	err = read_small(fd, line, sizeof(line), &n);
	if (err) {
		snprintf(why, whylen, "key file %s: %s", path, strerror(-err));
		goto fail;
	}
	/* The newline is optional, so an editor that drops it does no harm. */
	if (n == KEY_LINE_LEN && line[n - 1] == '\n')
		n--;
	if (n != KEY_LINE_LEN - 1 || memcmp(line, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
	    sodium_hex2bin(seed, sizeof(seed), line + KEY_PREFIX_LEN, 2 * IDENT_SEED_LEN, NULL,
	                   &bin_len, &end) != 0 ||
	    bin_len != IDENT_SEED_LEN || end != line + n) {
		snprintf(why, whylen,
		         "key file %s: malformed (expected one line \"%s<64 hex digits>\")", path,
		         KEY_PREFIX);
		err = JZ_ECONFIG;
		goto fail;
	}
	err = ident_from_seed(out, seed);
fail:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(seed, sizeof(seed));
	close(fd);
	return err;
}

int
ident_load(struct ident **out, const char *path)
{
	char why[400] = "";
	int err = ident_load_why(out, path, why, sizeof(why));
	if (err && why[0])
		log_error("%s", why);
	return err;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make the new directory entry durable too. Best effort: some file systems
 * refuse fsync on a directory, and the key itself is already on disk. */
static void
sync_parent(const char *path)
{
	char copy[4096];
	if (strlen(path) >= sizeof(copy))
		return;
	strcpy(copy, path);
	int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	(void)fsync(dfd);
	close(dfd);
}

int
ident_save(const struct ident *id, const char *path)
{
	char line[KEY_LINE_LEN + 1]; /* sodium_bin2hex writes a NUL */
	int err;

	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	memcpy(line, KEY_PREFIX, KEY_PREFIX_LEN);
	/* The Ed25519 secret key is seed || public key. */
	sodium_bin2hex(line + KEY_PREFIX_LEN, 2 * IDENT_SEED_LEN + 1, id->sk, IDENT_SEED_LEN);
	line[KEY_LINE_LEN - 1] = '\n';

	err = write_all(fd, line, KEY_LINE_LEN);
	if (!err && fsync(fd) < 0)
		err = -errno;
	sodium_memzero(line, sizeof(line));
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err) {
		unlink(path);
		return err;
	}
	sync_parent(path);
	return 0;
}

const uint8_t *
ident_public(const struct ident *id)
{
	return id->pk;
}

void
ident_sign(const struct ident *id, const uint8_t *msg, size_t n, uint8_t sig[IDENT_SIG_LEN])
{
	crypto_sign_detached(sig, NULL, msg, n, id->sk);
}

void
ident_curve_secret(const struct ident *id, uint8_t out[IDENT_CURVE_LEN])
{
	crypto_sign_ed25519_sk_to_curve25519(out, id->sk);
}

void
ident_curve_public(const struct ident *id, uint8_t out[IDENT_CURVE_LEN])
{
	memcpy(out, id->curve_pk, IDENT_CURVE_LEN);
}

int
ident_curve_from_public(const uint8_t ed_pk[IDENT_PUBLIC_LEN], uint8_t out[IDENT_CURVE_LEN])
{
	if (sodium_init() < 0)
		return JZ_ECRYPTO;
	if (crypto_sign_ed25519_pk_to_curve25519(out, ed_pk) != 0)
		return JZ_EPARSE;
	return 0;
}

void
ident_set_previous(struct ident *id, struct ident *prev)
{
	ident_free(&id->previous);
	id->previous = prev;
}

const struct ident *
ident_previous(const struct ident *id)
{
	return id->previous;
}

void
ident_free(struct ident **id)
{
	if (!id || !*id)
		return;
	ident_free(&(*id)->previous);
	sodium_free(*id); /* wipes before unmapping */
	*id = NULL;
}
