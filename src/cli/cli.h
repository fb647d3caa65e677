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

#define VT_EXIT_OK 0
#define VT_EXIT_VERIFY 1
#define VT_EXIT_USAGE 2

/* Verbs: argv[0] is the verb itself. Each returns an exit code. */
int vt_cli_key(int argc, char **argv);
int vt_cli_envelope(int argc, char **argv);
int vt_cli_attest(int argc, char **argv);
int vt_cli_statement(int argc, char **argv);
int vt_cli_log(int argc, char **argv);

/* vt_cli_error(fmt, ...): print "veritrail: <message>" on stderr, one line. */
void vt_cli_error(const char *fmt, ...) VT_PRINTF(1, 2);

/*
 * vt_cli_fail(err, d): print the diagnostic (or vt_strerror(err)) as one line
 * and return the exit code for err: VT_EXIT_VERIFY for verification codes
 * (bad signature, unknown key, threshold, proof, policy, audit), else
 * VT_EXIT_USAGE.
 */
int vt_cli_fail(int err, const struct vt_diag *d);

/* vt_cli_passphrase(): the key passphrase from $VERITRAIL_KEY_PASSPHRASE, or NULL. */
const char *vt_cli_passphrase(void);

#endif
