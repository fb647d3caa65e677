/*
 * common.c: small helpers that several verbs share (declared in cli.h):
 * loading a signing key, writing an envelope, naming a server endpoint.
 * Each prints its own error and returns an exit code, so a verb says
 * "if ((rc = helper(...)) != 0) goto out;".
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

/* see cli.h */
int vt_cli_usage(const char *text, int help)
{
        fputs(text, help ? stdout : stderr);
        return help ? VT_EXIT_OK : VT_EXIT_USAGE;
}

/* see cli.h */
int vt_cli_help_asked(int argc, char **argv)
{
        int i;

        for (i = 2; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return 1;
        return 0;
}

/* see cli.h */
int vt_cli_signing_key(const char *path, struct vt_crypto_key **k)
{
        struct vt_crypto_key *key = NULL;
        struct vt_diag d = {""};
        int err;

        if ((err = vt_crypto_key_load_file(path, vt_cli_passphrase(), &key, &d)) != 0)
                return vt_cli_fail(err, &d);
        if (!vt_crypto_key_is_private(key)) {
                vt_cli_error("'%s': a private key is needed to sign, this is a public key", path);
                vt_crypto_key_free(key);
                return VT_EXIT_USAGE;
        }
        *k = key;
        return VT_EXIT_OK;
}

/* see cli.h */
int vt_cli_write_envelope(const struct vt_encoding_dsse *e, const char *path)
{
        struct vt_diag d = {""};
        struct vt_buf b;
        int err, rc = VT_EXIT_OK;

        vt_buf_init(&b);
        if (vt_encoding_dsse_serialize(e, &b) != 0 || vt_buf_puts(&b, "\n") != 0) {
                vt_cli_error("out of memory");
                rc = VT_EXIT_USAGE;
        } else if ((err = vt_util_write_file(path, b.p, b.len, 0644, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
        }
        vt_buf_release(&b);
        return rc;
}

/* see cli.h */
int vt_cli_server_url(struct vt_buf *out, const char *server, const char *path)
{
        size_t n = strlen(server);

        while (n > 0 && server[n - 1] == '/')
                n--;
        if (vt_buf_append(out, server, n) != 0 || vt_buf_puts(out, path) != 0)
                return VT_ENOMEM;
        return 0;
}

/* see cli.h */
int vt_cli_bad_option(const char *verb, char **argv, int c)
{
        if (c == '?' && optopt != 0)
                vt_cli_error("%s: unknown option or missing value for '-%c' (see 'veritrail %s "
                             "--help')",
                             verb, optopt, verb);
        else
                vt_cli_error("%s: unknown option or missing value: '%s' (see 'veritrail %s "
                             "--help')",
                             verb, argv[optind - 1], verb);
        return VT_EXIT_USAGE;
}
