/*
 * cmd_cert.h - `jzfpctl cert`: certificates, offline (DESIGN §8, §10).
 *
 *   cert root --key FILE [--json]
 *   cert issue --issuer-key K (--issuer-cert C | --root) --pub HEX
 *              --level L --area A --days N --out FILE [--json]
 *   cert show FILE [--json]
 *   cert verify --root HEX FILE [--json]
 *
 * The province root is the province node's key: `cert root` prints its
 * public key, which every node is configured with; it has no certificate.
 * `cert issue --root` signs a county certificate with the province key;
 * otherwise C is the issuer's own chain file and the new file is the new
 * certificate followed by that chain, i.e. a full chain up to the root.
 * The level and area must be allowed under the issuer (cert_check_issuer)
 * or nothing is written. Chain files are binary CertChain encodings
 * (cert.h). None of these talk to a node.
 */
#ifndef JZFP_CMD_CERT_H
#define JZFP_CMD_CERT_H

struct ctl;

/*
 * Run `cert` with argv[0] == "cert"; the subcommand is the first operand
 * (cli_find_sub), the global options of C may be among the arguments. Returns
 * the exit status: 0 success, 1 error (one line on stderr; for `verify`,
 * the chain does not verify). `--help` (or -h) prints the usage on stdout
 * and exits 0; a usage error or a bad value (a key that is not 64 hex
 * digits, a level, area or number of days that cannot be) prints the bad
 * word and the subcommand's usage line and exits 2 (cli_usage_error).
 */
int cmd_cert(struct ctl *c, int argc, char **argv);

#endif
