/*
 * main.c: the veritrail command. One table of verbs; each verb lives in its
 * own cmd_<verb>.c (git's commands[] and builtin/).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

static const struct command {
        const char *name;
        int (*fn)(int, char **);
        const char *help;
} commands[] = {
    {"key", vt_cli_key, "generate keys and print key ids"},
    {"envelope", vt_cli_envelope, "sign and verify DSSE envelopes"},
    {"attest", vt_cli_attest, "sign an in-toto statement about files"},
    {"statement", vt_cli_statement, "show the statement inside an envelope"},
    {"log", vt_cli_log, "create, append to, prove and audit a transparency log"},
    {"root", vt_cli_root, "create, sign and verify the governance root of trust"},
    {"serve", vt_cli_serve, "serve the transparency log over HTTP (docs/API.md)"},
    {"submit", vt_cli_submit, "submit envelopes to a veritrail server, keep the bundles"},
    {"bundle", vt_cli_bundle, "fetch the offline bundle of every attestation about an artifact"},
    {"token", vt_cli_token, "create, revoke and list the service's bearer tokens"},
    {"proof", vt_cli_proof, "verify offline bundles: signatures and inclusion"},
};

static void usage(FILE *f)
{
        size_t i;

        fprintf(f, "usage: veritrail <verb> [options]\n\nverbs:\n");
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\nexit status: 0 success, 1 verification failed, 2 usage or input error\n"
                   "see veritrail(1) and docs/FORMATS.md\n");
}

/* see cli.h */
void vt_cli_error(const char *fmt, ...)
{
        va_list ap;

        fputs("veritrail: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* see cli.h */
int vt_cli_fail(int err, const struct vt_diag *d)
{
        if (d != NULL && d->msg[0] != '\0')
                vt_cli_error("%s", d->msg);
        else
                vt_cli_error("%s", vt_strerror(err));
        switch (err) {
        case VT_EBADSIG:
        case VT_EUNKNOWNKEY:
        case VT_ETHRESHOLD:
        case VT_EPROOF:
        case VT_EPOLICY:
        case VT_EEXPIRED:
        case VT_EDENIED:
        case VT_EAUDIT:
        case VT_EMISMATCH:
                return VT_EXIT_VERIFY;
        }
        return VT_EXIT_USAGE;
}

/* see cli.h */
const char *vt_cli_passphrase(void)
{
        const char *p = getenv("VERITRAIL_KEY_PASSPHRASE");

        return (p != NULL && *p != '\0') ? p : NULL;
}

int main(int argc, char **argv)
{
        size_t i;

        if (sodium_init() < 0) {
                vt_cli_error("cannot initialise libsodium");
                return VT_EXIT_USAGE;
        }
        if (argc < 2) {
                usage(stderr);
                return VT_EXIT_USAGE;
        }
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
            strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return VT_EXIT_OK;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
                printf("veritrail %s\n", VT_VERSION);
                return VT_EXIT_OK;
        }
        opterr = 0; /* the verbs report a refused option themselves, in one line */
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].fn(argc - 1, argv + 1);
        vt_cli_error("unknown verb '%s' (see 'veritrail help')", argv[1]);
        return VT_EXIT_USAGE;
}
