/*
 * cmd_key.c: the 'key' verb.
 *
 *   veritrail key generate [--type ed25519|ecdsa-p256] --out NAME [--force]
 *       writes NAME.key (unencrypted PKCS#8 PEM, mode 0600) and NAME.pub
 *       (SPKI PEM, mode 0644) and prints the key id. Existing files are left
 *       alone unless --force is given. The type defaults to ed25519.
 *   veritrail key id FILE
 *       prints the key id of a public or private PEM key file ("-" is
 *       standard input); an encrypted key takes $VERITRAIL_KEY_PASSPHRASE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "veritrail/crypto.h"

static const char key_usage[] =
    "usage: veritrail key generate [--type ed25519|ecdsa-p256] --out NAME [--force]\n"
    "       veritrail key id FILE\n";

/*
 * Option "--name VALUE" or "--name=VALUE" at argv[*i]: 1 and *val set (and
 * *i advanced past a separate value), 0 if argv[*i] is another option, -1
 * when the value is missing.
 */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
        const char *a = argv[*i];
        size_t n = strlen(name);

        if (strncmp(a, name, n) != 0)
                return 0;
        if (a[n] == '=') {
                *val = a + n + 1;
                return 1;
        }
        if (a[n] != '\0')
                return 0;
        if (*i + 1 >= argc)
                return -1;
        *val = argv[++*i];
        return 1;
}

static int path_exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0 || errno != ENOENT;
}

static int key_generate(int argc, char **argv)
{
        const char *type_name = "ed25519", *out = NULL;
        char *key_path = NULL, *pub_path = NULL;
        struct vt_crypto_key *k = NULL;
        struct vt_buf priv, pub;
        struct vt_diag d = {""};
        int i, r, type, force = 0, rc = VT_EXIT_USAGE, err;
        size_t n;

        vt_buf_init(&priv);
        vt_buf_init(&pub);
        for (i = 1; i < argc; i++) {
                if ((r = opt_value(argc, argv, &i, "--type", &type_name)) != 0 ||
                    (r = opt_value(argc, argv, &i, "--out", &out)) != 0) {
                        if (r < 0) {
                                vt_cli_error("key generate: option '%s' needs a value", argv[i]);
                                goto done;
                        }
                } else if (strcmp(argv[i], "--force") == 0) {
                        force = 1;
                } else {
                        vt_cli_error("key generate: unknown argument '%s' (see 'veritrail key "
                                     "--help')",
                                     argv[i]);
                        goto done;
                }
        }
        if ((type = vt_crypto_key_type_parse(type_name)) == 0) {
                vt_cli_error("key generate: unknown key type '%s' (want ed25519 or ecdsa-p256)",
                             type_name);
                goto done;
        }
        if (out == NULL || *out == '\0') {
                vt_cli_error("key generate: --out NAME is required");
                goto done;
        }
        n = strlen(out) + 5;
        if ((key_path = malloc(n)) == NULL || (pub_path = malloc(n)) == NULL) {
                vt_cli_error("out of memory");
                goto done;
        }
        snprintf(key_path, n, "%s.key", out);
        snprintf(pub_path, n, "%s.pub", out);
        if (!force) {
                const char *clash = path_exists(key_path)   ? key_path
                                    : path_exists(pub_path) ? pub_path
                                                            : NULL;
                if (clash != NULL) {
                        vt_cli_error("'%s' already exists (use --force to replace it)", clash);
                        goto done;
                }
        }
        if ((err = vt_crypto_key_generate(type, &k, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto done;
        }
        if (vt_crypto_key_private_pem(k, &priv) != 0 || vt_crypto_key_public_pem(k, &pub) != 0) {
                vt_cli_error("cannot encode the new key");
                goto done;
        }
        /* The secret first: a public file without its key would be useless. */
        if ((err = vt_util_write_file(key_path, priv.p, priv.len, 0600, &d)) != 0 ||
            (err = vt_util_write_file(pub_path, pub.p, pub.len, 0644, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto done;
        }
        printf("%s\n", vt_crypto_key_id(k));
        rc = VT_EXIT_OK;
done:
        vt_buf_wipe(&priv);
        vt_buf_release(&pub);
        vt_crypto_key_free(k);
        free(key_path);
        free(pub_path);
        return rc;
}

static int key_id(int argc, char **argv)
{
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {""};
        int err;

        if (argc != 2) {
                vt_cli_error("key id: want exactly one FILE (see 'veritrail key --help')");
                return VT_EXIT_USAGE;
        }
        if ((err = vt_crypto_key_load_file(argv[1], vt_cli_passphrase(), &k, &d)) != 0)
                return vt_cli_fail(err, &d);
        printf("%s\n", vt_crypto_key_id(k));
        vt_crypto_key_free(k);
        return VT_EXIT_OK;
}

/* see cli.h */
int vt_cli_key(int argc, char **argv)
{
        if (argc < 2) {
                vt_cli_error(
                    "key: missing subcommand (generate or id; see 'veritrail key --help')");
                return VT_EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0 || vt_cli_help_asked(argc, argv)) {
                fputs(key_usage, stdout);
                return VT_EXIT_OK;
        }
        if (strcmp(argv[1], "generate") == 0)
                return key_generate(argc - 1, argv + 1);
        if (strcmp(argv[1], "id") == 0)
                return key_id(argc - 1, argv + 1);
        vt_cli_error("key: unknown subcommand '%s' (want generate or id)", argv[1]);
        return VT_EXIT_USAGE;
}
