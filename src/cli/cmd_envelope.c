/*
 * cmd_envelope.c: the 'envelope' verb: DSSE v1 envelopes (encoding.h).
 *
 *   veritrail envelope sign --key K.key --payload-type TYPE [--in FILE] [--out FILE]
 *       wraps the payload (standard input by default) in an envelope with one
 *       signature by K; the envelope goes to standard output by default.
 *   veritrail envelope sign --key K.key --add ENVELOPE [--out FILE]
 *       adds K's signature over the same PAE to an existing envelope (k-of-n
 *       signing by several parties, one after the other). A key that already
 *       signed is refused.
 *   veritrail envelope verify --key A.pub [--key B.pub ...] [--threshold N] ENVELOPE
 *       exits 0 when at least N (default 1) distinct given keys have a valid
 *       signature, else prints why each signature did not count and exits 1.
 *
 * Outputs are written whole or not at all (vt_util_write_file).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

static const char envelope_usage[] =
    "usage: veritrail envelope sign --key K.key --payload-type TYPE [--in FILE] [--out FILE]\n"
    "       veritrail envelope sign --key K.key --add ENVELOPE [--out FILE]\n"
    "       veritrail envelope verify --key A.pub [--key B.pub ...] [--threshold N] "
    "ENVELOPE\n";

#define MAX_KEYS 256

/* Report a getopt failure as one line; returns the usage exit code. */
static int bad_option(const char *verb, char **argv, int c)
{
        if (c == '?' && optopt != 0)
                vt_cli_error("envelope %s: unknown option or missing value for '-%c'", verb,
                             optopt);
        else
                vt_cli_error("envelope %s: unknown option or missing value: '%s'", verb,
                             argv[optind - 1]);
        return VT_EXIT_USAGE;
}

/* Read and parse the envelope at path; one line on failure. 0 or an exit code. */
static int load_envelope(const char *path, struct vt_encoding_dsse *e)
{
        struct vt_diag d = {{0}};
        struct vt_buf b;
        int err;

        vt_buf_init(&b);
        err = vt_util_read_file(path, VT_ENCODING_DSSE_MAX, &b, &d);
        if (err == 0) {
                err = vt_encoding_dsse_parse(b.p, b.len, e, &d);
                if (err != 0)
                        vt_diag_prefix(&d, "'%s'", path);
        }
        vt_buf_release(&b);
        return err == 0 ? 0 : vt_cli_fail(err, &d);
}

static int envelope_sign(int argc, char **argv)
{
        static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                             {"payload-type", required_argument, NULL, 't'},
                                             {"in", required_argument, NULL, 'i'},
                                             {"add", required_argument, NULL, 'a'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *key_path = NULL, *type = NULL, *in = NULL, *add = NULL, *out = "-";
        struct vt_encoding_dsse e;
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {{0}};
        struct vt_buf b;
        int c, err, rc = VT_EXIT_USAGE;

        vt_encoding_dsse_init(&e);
        vt_buf_init(&b);
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'k':
                        key_path = optarg;
                        break;
                case 't':
                        type = optarg;
                        break;
                case 'i':
                        in = optarg;
                        break;
                case 'a':
                        add = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 'h':
                        fputs(envelope_usage, stdout);
                        return VT_EXIT_OK;
                default:
                        return bad_option("sign", argv, c);
                }
        }
        if (optind != argc) {
                vt_cli_error(
                    "envelope sign: unexpected argument '%s' (the payload comes with --in)",
                    argv[optind]);
                return VT_EXIT_USAGE;
        }
        if (key_path == NULL) {
                vt_cli_error("envelope sign: --key is required");
                return VT_EXIT_USAGE;
        }
        if ((add == NULL) == (type == NULL)) {
                vt_cli_error("envelope sign: give either --payload-type (a new envelope) or --add "
                             "ENVELOPE (one more signature)");
                return VT_EXIT_USAGE;
        }
        if (add != NULL && in != NULL) {
                vt_cli_error("envelope sign: --in does not go with --add (the payload is in '%s')",
                             add);
                return VT_EXIT_USAGE;
        }
        if (type != NULL && *type == '\0') {
                vt_cli_error("envelope sign: --payload-type is empty");
                return VT_EXIT_USAGE;
        }

        /* The key first: a bad key must fail before anything is read or written. */
        if ((rc = vt_cli_signing_key(key_path, &k)) != 0)
                goto out;
        if (add != NULL) {
                if ((rc = load_envelope(add, &e)) != 0)
                        goto out;
        } else {
                if (in == NULL)
                        in = "-";
                err = vt_util_read_file(in, VT_ENCODING_DSSE_PAYLOAD_MAX, &b, &d);
                if (err == 0)
                        err = vt_encoding_dsse_set_payload(&e, type, b.p, b.len, &d);
                if (err != 0) {
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                vt_buf_release(&b);
        }
        if ((err = vt_encoding_dsse_sign(&e, k, &d)) != 0) {
                vt_diag_prefix(&d, "'%s'", add != NULL ? add : key_path);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        rc = vt_cli_write_envelope(&e, out);
out:
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k);
        return rc;
}

static int envelope_verify(int argc, char **argv)
{
        static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                             {"threshold", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *key_paths[MAX_KEYS], *path;
        struct vt_crypto_key *keys[MAX_KEYS];
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;
        struct vt_diag d = {{0}};
        struct vt_buf b;
        size_t nkeys = 0, nloaded = 0, i, j;
        uint64_t threshold = 1;
        int c, err, rc = VT_EXIT_USAGE;

        vt_encoding_dsse_init(&e);
        vt_buf_init(&b);
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'k':
                        if (nkeys == MAX_KEYS) {
                                vt_cli_error("envelope verify: more than %d --key options",
                                             MAX_KEYS);
                                return VT_EXIT_USAGE;
                        }
                        key_paths[nkeys++] = optarg;
                        break;
                case 'n':
                        if (vt_util_parse_u64(optarg, strlen(optarg), &threshold) != 0 ||
                            threshold == 0) {
                                vt_cli_error("envelope verify: --threshold '%s' is not a positive "
                                             "number",
                                             optarg);
                                return VT_EXIT_USAGE;
                        }
                        break;
                case 'h':
                        fputs(envelope_usage, stdout);
                        return VT_EXIT_OK;
                default:
                        return bad_option("verify", argv, c);
                }
        }
        if (optind + 1 != argc) {
                vt_cli_error("envelope verify: give exactly one ENVELOPE file (got %d)",
                             argc - optind);
                return VT_EXIT_USAGE;
        }
        path = argv[optind];
        if (nkeys == 0) {
                vt_cli_error("envelope verify: give at least one --key");
                return VT_EXIT_USAGE;
        }
        if (threshold > nkeys) {
                vt_cli_error("envelope verify: --threshold %llu is more than the %zu keys given",
                             (unsigned long long)threshold, nkeys);
                return VT_EXIT_USAGE;
        }
        for (nloaded = 0; nloaded < nkeys; nloaded++) {
                err = vt_crypto_key_load_file(key_paths[nloaded], vt_cli_passphrase(),
                                              &keys[nloaded], &d);
                if (err != 0) {
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
        }
        if ((rc = load_envelope(path, &e)) != 0)
                goto out;

        err = vt_encoding_dsse_verify(&e, (const struct vt_crypto_key *const *)keys, nkeys,
                                      (size_t)threshold, &r, &d);
        if (err != 0 && err != VT_ETHRESHOLD) {
                vt_diag_prefix(&d, "'%s'", path);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if (err == 0) {
                printf("verified: %zu of %zu required signatures (keyids", r.nvalid, r.threshold);
                for (i = 0; i < r.nsigs; i++)
                        if (r.sig[i].status == 0)
                                printf(" %s", vt_crypto_key_id(keys[r.sig[i].key]));
                printf(")\n");
        }
        /* Say why each other signature did not count: on stdout when the
         * envelope verified anyway, as errors when it did not. */
        for (i = 0; i < r.nsigs; i++) {
                if (r.sig[i].status == 0)
                        continue;
                b.len = 0;
                if (vt_encoding_dsse_explain(&e, (const struct vt_crypto_key *const *)keys, &r, i,
                                             &b) != 0) {
                        vt_cli_error("out of memory");
                        rc = VT_EXIT_USAGE;
                        goto out;
                }
                if (err == 0)
                        printf("  not counted: %s\n", (const char *)b.p);
                else
                        vt_cli_error("'%s': %s", path, (const char *)b.p);
        }
        if (err == 0) {
                rc = VT_EXIT_OK;
        } else {
                /* And which given keys signed nothing that verified. */
                for (j = 0; j < nkeys; j++) {
                        int seen = 0;
                        for (i = 0; i < nkeys && i < j && !seen; i++)
                                seen = strcmp(vt_crypto_key_id(keys[i]),
                                              vt_crypto_key_id(keys[j])) == 0;
                        for (i = 0; i < r.nsigs && !seen; i++)
                                seen = r.sig[i].key != SIZE_MAX &&
                                       strcmp(vt_crypto_key_id(keys[r.sig[i].key]),
                                              vt_crypto_key_id(keys[j])) == 0;
                        if (!seen)
                                vt_cli_error("'%s': key %s ('%s') has no valid signature", path,
                                             vt_crypto_key_id(keys[j]), key_paths[j]);
                }
                vt_diag_prefix(&d, "'%s'", path);
                rc = vt_cli_fail(err, &d);
        }
out:
        for (i = 0; i < nloaded; i++)
                vt_crypto_key_free(keys[i]);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&b);
        return rc;
}

/* see cli.h */
int vt_cli_envelope(int argc, char **argv)
{
        opterr = 0;
        optind = 1;
        if (argc < 2) {
                fputs(envelope_usage, stderr);
                return VT_EXIT_USAGE;
        }
        if (strcmp(argv[1], "sign") == 0)
                return envelope_sign(argc - 1, argv + 1);
        if (strcmp(argv[1], "verify") == 0)
                return envelope_verify(argc - 1, argv + 1);
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
            strcmp(argv[1], "-h") == 0) {
                fputs(envelope_usage, stdout);
                return VT_EXIT_OK;
        }
        vt_cli_error("envelope: unknown action '%s' (sign or verify)", argv[1]);
        return VT_EXIT_USAGE;
}
