/*
 * cmd_cert.h - `jzfpctl cert`: certificates, offline (DESIGN §8, §10).
 *
 *   cert root --key FILE
 *   cert issue --issuer-key K (--issuer-cert C | --root) --pub HEX
 *              --level L --area A --days N --out FILE
 *   cert show FILE
 *   cert verify --root HEX FILE
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

/*
 * Run `cert` with argv[0] == "cert" and argv[1] the subcommand. `--help`
 * (or -h) anywhere prints the usage to stdout. Returns the process exit
 * status: 0 success, 1 error (one line on stderr; for `verify`, the chain
 * does not verify), 2 usage error (usage on stderr). Never exits itself.
 */
int cmd_cert(int argc, char **argv);

#endif
