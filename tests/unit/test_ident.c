/*
 * test_ident.c - node identity: RFC 8032 vector, key files, CurveZMQ keys.
 */
#include "ident.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* RFC 8032 §7.1, test 1. */
static const char rfc_seed[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc_pk[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc_sig[] = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                              "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t got = 0;
	assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, n);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_rfc8032_vector(void **state)
{
	(void)state;
	uint8_t seed[32], pk[32], want[64], sig[64];
	struct ident *id = NULL;

	unhex(rfc_seed, seed, 32);
	unhex(rfc_pk, pk, 32);
	unhex(rfc_sig, want, 64);
	assert_int_equal(ident_from_seed(&id, seed), 0);
	assert_memory_equal(ident_public(id), pk, 32);
	ident_sign(id, (const uint8_t *)"", 0, sig);
	assert_memory_equal(sig, want, 64);
	ident_free(&id);
	assert_null(id);
	ident_free(&id);
	ident_free(NULL);
}

static void
test_generate_sign(void **state)
{
	(void)state;
	struct ident *a = NULL, *b = NULL;
	uint8_t sig[64];
	const uint8_t msg[] = "signed bytes";

	assert_int_equal(ident_generate(&a), 0);
	assert_int_equal(ident_generate(&b), 0);
	assert_memory_not_equal(ident_public(a), ident_public(b), IDENT_PUBLIC_LEN);
	ident_sign(a, msg, sizeof(msg), sig);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), ident_public(a)), 0);
	assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), ident_public(b)),
	                     0);
	ident_free(&a);
	ident_free(&b);
}

static void
test_curve(void **state)
{
	(void)state;
	struct ident *id = NULL;
	uint8_t cs[32], cp[32], derived[32], peer[32];

	assert_int_equal(ident_generate(&id), 0);
	ident_curve_secret(id, cs);
	ident_curve_public(id, cp);
	/* The derived pair is a real Curve25519 pair. */
	assert_int_equal(crypto_scalarmult_base(derived, cs), 0);
	assert_memory_equal(derived, cp, 32);
	assert_int_equal(ident_curve_from_public(ident_public(id), peer), 0);
	assert_memory_equal(peer, cp, 32);
	sodium_memzero(cs, sizeof(cs));

	/* Small-order points are not keys. */
	uint8_t bad[32] = {0};
	memset(peer, 0xaa, sizeof(peer));
	assert_int_equal(ident_curve_from_public(bad, peer), JZ_EPARSE);
	bad[0] = 1; /* the identity point */
	assert_int_equal(ident_curve_from_public(bad, peer), JZ_EPARSE);
	ident_free(&id);
}

static void
test_save_load(void **state)
{
	(void)state;
	char dir[256], path[300];
	struct ident *id = NULL, *back = NULL;
	struct stat st;
	uint8_t seed[32];
	char text[200];

	test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/node.key", dir);
	unhex(rfc_seed, seed, 32);
	assert_int_equal(ident_from_seed(&id, seed), 0);

	mode_t old = umask(0);
	assert_int_equal(ident_save(id, path), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t got = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[got] = '\0';
	assert_string_equal(text,
	                    "jzfp-ed25519-seed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919"
	                    "703bac031cae7f60\n");

	assert_int_equal(ident_save(id, path), -EEXIST); /* never overwritten */
	assert_int_equal(ident_load(&back, path), 0);
	assert_memory_equal(ident_public(back), ident_public(id), 32);
	ident_free(&back);

	/* Upper-case hex and a missing newline are fine. */
	snprintf(text, sizeof(text), "jzfp-ed25519-seed %s", rfc_seed);
	for (char *c = text + 18; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
	write_file(path, text, 0600);
	assert_int_equal(ident_load(&back, path), 0);
	assert_memory_equal(ident_public(back), ident_public(id), 32);
	ident_free(&back);
	write_file(path, text, 0400);
	assert_int_equal(ident_load(&back, path), 0);
	ident_free(&back);

	/* Open to others: refused, whatever the content. */
	snprintf(text, sizeof(text), "jzfp-ed25519-seed %s\n", rfc_seed);
	const mode_t open_modes[] = {0640, 0604, 0620, 0660, 0644, 0601};
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		write_file(path, text, open_modes[i]);
		back = (struct ident *)&back; /* must not be written */
		assert_int_equal(ident_load(&back, path), JZ_ECONFIG);
		assert_ptr_equal(back, (struct ident *)&back);
		back = NULL;
	}

	/* Malformed. */
#define HEX63 "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6"
#define COLON "9d61b19d:effd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6"
	const char *bad[] = {
	    "",
	    "\n",
	    "jzfp-ed25519-seed \n",
	    ("jzfp-ed25519-seed " HEX63 "\n"),    /* 63 digits */
	    ("jzfp-ed25519-seed " HEX63 "00\n"),  /* 65 digits */
	    ("jzfp-ed25519-seed " HEX63 "z\n"),   /* not hex */
	    ("jzfp-ed25519-seed " HEX63 "0\n\n"), /* a second line */
	    ("jzfp-ed25519-seed " HEX63 "0 \n"),  /* trailing blank */
	    ("jzfp-ed25519-seed  " HEX63 "\n"),   /* two blanks */
	    ("jzfp-ed25519-sk " HEX63 "0\n"),     /* another prefix */
	    ("jzfp-ed25519-seed " COLON "\n"),    /* a colon inside */
	};
#undef HEX63
#undef COLON
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i], 0600);
		assert_int_equal(ident_load(&back, path), JZ_ECONFIG);
		assert_null(back);
	}

	/* Missing file, and a directory. */
	unlink(path);
	assert_int_equal(ident_load(&back, path), -ENOENT);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(ident_load(&back, dir), JZ_ECONFIG);
	/* Saving where we cannot write gives -errno and leaves nothing. */
	snprintf(path, sizeof(path), "%s/no/such/dir.key", dir);
	assert_int_equal(ident_save(id, path), -ENOENT);

	ident_free(&id);
	test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc8032_vector),
	    cmocka_unit_test(test_generate_sign),
	    cmocka_unit_test(test_curve),
	    cmocka_unit_test(test_save_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
