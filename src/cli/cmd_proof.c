/*
 * cmd_proof.c: `veritrail proof`: offline checks of what the log gives out.
 *
 *   proof verify --bundle B.json --log-key VKEY [--log-key VKEY2 ...] [--root ROOT]
 *       checks every attestation of the bundle with no network
 *       (vt_policy_bundle_verify, policy.h): the entry commits to the
 *       envelope, the checkpoint is signed by a trusted log, the inclusion
 *       proof leads to its root and, with --root, the root authorizes the
 *       signers. VKEY is a C2SP verifier key ("origin+hash+base64", as
 *       `veritrail log key` prints it) or a file holding one. Prints one
 *       explained verdict per attestation on standard output.
 *
 * Exit codes: 0 every attestation verifies, 1 one does not (or the root
 * does not verify), 2 usage or input error (unreadable or malformed bundle,
 * malformed key).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "veritrail/encoding.h"
#include "veritrail/policy.h"

#define PROOF_KEYS_MAX 16

static const char usage_text[] =
    "usage: veritrail proof verify --bundle B.json --log-key VKEY [--log-key VKEY ...] "
    "[--root ROOT]\n";

/* A verifier key given as text, or the first line of a file holding it. */
static int proof_key(const char *arg, struct vt_buf *out, struct vt_diag *d)
{
        int err;

        if (strchr(arg, '+') != NULL && access(arg, R_OK) != 0)
                return vt_buf_puts(out, arg) != 0 ? VT_ENOMEM : 0;
        if ((err = vt_util_read_file(arg, 4096, out, d)) != 0)
                return err;
        while (out->len > 0 && (out->p[out->len - 1] == '\n' || out->p[out->len - 1] == '\r' ||
                                out->p[out->len - 1] == ' '))
                out->p[--out->len] = '\0';
        return 0;
}

static int proof_verify(int argc, char **argv)
{
        static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                             {"log-key", required_argument, NULL, 'k'},
                                             {"root", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *bundle = NULL, *rootpath = NULL, *karg[PROOF_KEYS_MAX];
        const char *keys[PROOF_KEYS_MAX];
        struct vt_buf kb[PROOF_KEYS_MAX], bb, rb, report;
        struct vt_policy_root *root = NULL;
        struct vt_diag d = {""};
        size_t nk = 0, i;
        int c, rc = VT_EXIT_USAGE, err;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        bundle = optarg;
                        break;
                case 'k':
                        if (nk == PROOF_KEYS_MAX) {
                                vt_cli_error("at most %d --log-key", PROOF_KEYS_MAX);
                                return VT_EXIT_USAGE;
                        }
                        karg[nk++] = optarg;
                        break;
                case 'r':
                        rootpath = optarg;
                        break;
                case 'h':
                        return vt_cli_usage(usage_text, 1);
                default:
                        return vt_cli_bad_option("proof", argv, c);
                }
        }
        if (bundle == NULL || nk == 0 || optind != argc) {
                vt_cli_error("proof verify needs --bundle and --log-key, and no other arguments");
                return vt_cli_usage(usage_text, 0);
        }
        for (i = 0; i < PROOF_KEYS_MAX; i++)
                vt_buf_init(&kb[i]);
        vt_buf_init(&bb);
        vt_buf_init(&rb);
        vt_buf_init(&report);
        for (i = 0; i < nk; i++) {
                if ((err = proof_key(karg[i], &kb[i], &d)) != 0) {
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                keys[i] = (const char *)kb[i].p;
        }
        if ((err = vt_util_read_file(bundle, VT_ENCODING_BUNDLE_MAX, &bb, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if (rootpath != NULL) {
                if ((err = vt_util_read_file(rootpath, VT_POLICY_ROOT_MAX, &rb, &d)) != 0 ||
                    (err = vt_policy_root_parse(rb.p, rb.len, &root, &d)) != 0) {
                        vt_diag_prefix(&d, "'%s'", rootpath);
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                if ((err = vt_policy_root_verify(root, vt_util_unix_time(), NULL, &d)) != 0) {
                        vt_diag_prefix(&d, "root '%s' does not verify", rootpath);
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
        }
        err = vt_policy_bundle_verify(bb.p, bb.len, keys, nk, root, &report, &d);
        if (report.len > 0)
                fwrite(report.p, 1, report.len, stdout);
        if (err != 0) {
                vt_diag_prefix(&d, "'%s'", bundle);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        rc = VT_EXIT_OK;
out:
        fflush(stdout);
        vt_policy_root_free(root);
        for (i = 0; i < PROOF_KEYS_MAX; i++)
                vt_buf_release(&kb[i]);
        vt_buf_release(&bb);
        vt_buf_release(&rb);
        vt_buf_release(&report);
        return rc;
}

int vt_cli_proof(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                return vt_cli_usage(usage_text, argc >= 2);
        if (strcmp(argv[1], "verify") == 0)
                return proof_verify(argc - 1, argv + 1);
        vt_cli_error("unknown proof command '%s' (verify)", argv[1]);
        return vt_cli_usage(usage_text, 0);
}
