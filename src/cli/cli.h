/*
 * cli.h: the command's private interface: one function per verb (one
 * cmd_<verb>.c each, listed in main.c's table) and the few helpers they share.
 *
 * Exit codes (docs/FORMATS.md): 0 success, 1 verification failed,
 * 2 usage or input error.
 */
#ifndef VT_CLI_H
#define VT_CLI_H

#include "veritrail/util.h"

#define VT_EXIT_OK     0
#define VT_EXIT_VERIFY 1
#define VT_EXIT_USAGE  2

/* Verbs: argv[0] is the verb itself. Each returns an exit code. */
int vt_cli_key(int argc, char **argv);
int vt_cli_envelope(int argc, char **argv);
int vt_cli_attest(int argc, char **argv);
int vt_cli_statement(int argc, char **argv);
int vt_cli_log(int argc, char **argv);
int vt_cli_root(int argc, char **argv);
int vt_cli_serve(int argc, char **argv);
int vt_cli_submit(int argc, char **argv);
int vt_cli_bundle(int argc, char **argv);
int vt_cli_token(int argc, char **argv);
int vt_cli_proof(int argc, char **argv);

/* vt_cli_error(fmt, ...): print "veritrail: <message>" on stderr, one line. */
void vt_cli_error(const char *fmt, ...) VT_PRINTF(1, 2);

/*
 * vt_cli_fail(err, d): print the diagnostic (or vt_strerror(err)) as one line
 * and return the exit code for err: VT_EXIT_VERIFY for verification codes
 * (bad signature, unknown key, threshold, proof, policy, audit), else
 * VT_EXIT_USAGE.
 */
int vt_cli_fail(int err, const struct vt_diag *d);

/*
 * vt_cli_http(method, url, token, body, n, status, resp, d): one HTTP
 * request through a connection kept alive between calls (libcurl). token
 * (may be NULL) goes in "Authorization: Bearer". On success *status is the
 * HTTP status and the response body is appended to resp; VT_EIO with the
 * reason when the server cannot be reached.
 */
int vt_cli_http(const char *method, const char *url, const char *token, const uint8_t *body,
                size_t n, long *status, struct vt_buf *resp, struct vt_diag *d);

/* vt_cli_http_done(): release the kept-alive connection. */
void vt_cli_http_done(void);

/*
 * vt_cli_http_error(status, resp, out, n): the server's explanation of a
 * failed request: the "message" of its JSON error body, else the status.
 */
void vt_cli_http_error(long status, const struct vt_buf *resp, char *out, size_t n);

/* vt_cli_passphrase(): the key passphrase from $VERITRAIL_KEY_PASSPHRASE, or NULL. */
const char *vt_cli_passphrase(void);

/* Helpers shared by several verbs, in common.c. */
struct vt_crypto_key;
struct vt_encoding_dsse;

/*
 * vt_cli_usage(text, help): print a verb's usage text, on standard output
 * when it was asked for (help nonzero: returns VT_EXIT_OK), else on standard
 * error after a usage mistake (returns VT_EXIT_USAGE).
 */
int vt_cli_usage(const char *text, int help);

/*
 * vt_cli_help_asked(argc, argv): whether an argument of a sub-verb (argv[2]
 * on) is "--help" or "-h": `veritrail log init --help` then prints the
 * verb's usage and succeeds, as `veritrail log --help` does, instead of
 * refusing an unknown option.
 */
int vt_cli_help_asked(int argc, char **argv);

/*
 * vt_cli_signing_key(path, k): load the private key in file path (with
 * vt_cli_passphrase()) into *k, which the caller frees with
 * vt_crypto_key_free(). 0, or an exit code after printing why (a public
 * key is refused); *k is untouched on failure.
 */
int vt_cli_signing_key(const char *path, struct vt_crypto_key **k);

/*
 * vt_cli_write_envelope(e, path): serialize envelope e, one line, to file
 * path ("-" for standard output), written whole or not at all. 0, or an
 * exit code after printing why.
 */
int vt_cli_write_envelope(const struct vt_encoding_dsse *e, const char *path);

/*
 * vt_cli_server_url(out, server, path): append server, without its trailing
 * slashes ("http://host:8080/" names the same server), then path, to out.
 * 0 or VT_ENOMEM.
 */
int vt_cli_server_url(struct vt_buf *out, const char *server, const char *path);

/*
 * vt_cli_bad_option(verb, argv, c): report the option getopt_long() refused
 * (c is what it returned) as one line naming the verb; returns VT_EXIT_USAGE.
 */
int vt_cli_bad_option(const char *verb, char **argv, int c);

#endif
