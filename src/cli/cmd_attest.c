/*
 * cmd_attest.c: the 'attest' verb: sign an in-toto Statement v1 about files.
 *
 *   veritrail attest --key K.key --predicate-type URI [--predicate FILE]
 *                    [--subject PATH ...] [--subject-digest NAME=sha256:HEX ...]
 *                    [--out FILE]
 *
 * writes a DSSE envelope (payloadType application/vnd.in-toto+json) around a
 * statement whose subjects are the given files, each named by the path as
 * given on the command line (in-toto practice: the name is what the producer
 * and consumer agree on; we do not rewrite it) with the SHA-256 of its
 * content, streamed so that files of any size hash in flat memory. A
 * subject can also be given by name and digest without the file. The
 * predicate is a JSON object from FILE, {} by default.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

static const char attest_usage[] =
    "usage: veritrail attest --key K.key --predicate-type URI [--predicate FILE]\n"
    "                        [--subject PATH ...] [--subject-digest NAME=sha256:HEX ...]\n"
    "                        [--out FILE]\n";

/* Parse "NAME=sha256:HEX" into s (name points into arg, which it modifies). */
static int parse_subject_digest(char *arg, struct vt_encoding_subject *s)
{
        char *eq = strrchr(arg, '=');

        if (eq == NULL || eq == arg || strncmp(eq + 1, "sha256:", 7) != 0) {
                vt_cli_error("attest: --subject-digest '%s' is not NAME=sha256:HEX", arg);
                return VT_EXIT_USAGE;
        }
        if (vt_encoding_hex_decode(eq + 8, strlen(eq + 8), s->sha256.b, VT_CRYPTO_HASH_LEN) != 0) {
                vt_cli_error("attest: --subject-digest '%s': the digest is not 64 lowercase hex "
                             "characters",
                             arg);
                return VT_EXIT_USAGE;
        }
        *eq = '\0';
        s->name = arg;
        s->has_sha256 = 1;
        return 0;
}

/* Read the predicate file: a JSON object. 0 or an exit code. */
static int load_predicate(const char *path, json_t **out)
{
        struct vt_diag d = {{0}};
        struct vt_buf b;
        json_t *v = NULL;
        int err;

        vt_buf_init(&b);
        err = vt_util_read_file(path, VT_ENCODING_STATEMENT_MAX, &b, &d);
        if (err == 0 &&
            (err = vt_encoding_json_parse(b.p, b.len, VT_ENCODING_STATEMENT_MAX, &v, &d)) != 0)
                vt_diag_prefix(&d, "'%s'", path);
        vt_buf_release(&b);
        if (err != 0)
                return vt_cli_fail(err, &d);
        if (!json_is_object(v)) {
                json_decref(v);
                vt_cli_error("'%s': the predicate is not a JSON object", path);
                return VT_EXIT_USAGE;
        }
        *out = v;
        return 0;
}

/* see cli.h */
int vt_cli_attest(int argc, char **argv)
{
        static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                             {"predicate-type", required_argument, NULL, 't'},
                                             {"predicate", required_argument, NULL, 'p'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"subject-digest", required_argument, NULL, 'S'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *key_path = NULL, *type = NULL, *pred_path = NULL, *out = "-";
        struct vt_encoding_subject *subjects = NULL;
        char **is_file = NULL; /* is_file[i]: the path to hash for subject i, or NULL */
        struct vt_crypto_key *k = NULL;
        struct vt_encoding_dsse e;
        struct vt_diag d = {{0}};
        json_t *predicate = NULL;
        struct vt_buf stmt;
        size_t n = 0, i;
        int c, err, rc = VT_EXIT_USAGE;

        vt_encoding_dsse_init(&e);
        vt_buf_init(&stmt);
        opterr = 0;
        optind = 1;
        /* At most one subject per argument: size the arrays once. */
        subjects = calloc((size_t)argc, sizeof(*subjects));
        is_file = calloc((size_t)argc, sizeof(*is_file));
        if (subjects == NULL || is_file == NULL) {
                vt_cli_error("out of memory");
                goto out;
        }
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'k':
                        key_path = optarg;
                        break;
                case 't':
                        type = optarg;
                        break;
                case 'p':
                        pred_path = optarg;
                        break;
                case 's':
                        subjects[n].name = optarg;
                        is_file[n++] = optarg;
                        break;
                case 'S':
                        if ((rc = parse_subject_digest(optarg, &subjects[n])) != 0)
                                goto out;
                        rc = VT_EXIT_USAGE;
                        n++;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 'h':
                        fputs(attest_usage, stdout);
                        rc = VT_EXIT_OK;
                        goto out;
                default:
                        vt_cli_error("attest: unknown option or missing value: '%s'",
                                     argv[optind - 1]);
                        goto out;
                }
        }
        if (optind != argc) {
                vt_cli_error("attest: unexpected argument '%s' (subjects come with --subject)",
                             argv[optind]);
                goto out;
        }
        if (key_path == NULL || type == NULL || *type == '\0') {
                vt_cli_error("attest: --key and --predicate-type are required");
                goto out;
        }
        if (n == 0) {
                vt_cli_error("attest: give at least one --subject or --subject-digest");
                goto out;
        }
        if (n > VT_ENCODING_STATEMENT_SUBJECTS_MAX) {
                vt_cli_error("attest: more than %d subjects", VT_ENCODING_STATEMENT_SUBJECTS_MAX);
                goto out;
        }

        /* Key first, then predicate, then the (possibly long) hashing. */
        if ((rc = vt_cli_signing_key(key_path, &k)) != 0)
                goto out;
        if (pred_path != NULL && (rc = load_predicate(pred_path, &predicate)) != 0)
                goto out;
        rc = VT_EXIT_USAGE;
        for (i = 0; i < n; i++) {
                if (is_file[i] == NULL)
                        continue;
                /* Streamed in fixed chunks: memory stays flat for files of any size. */
                err = vt_crypto_sha256_file(is_file[i], &subjects[i].sha256, NULL, &d);
                if (err != 0) {
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                subjects[i].has_sha256 = 1;
        }
        err = vt_encoding_statement_build(subjects, n, type, predicate, &stmt, &d);
        if (err == 0)
                err = vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, stmt.p,
                                                   stmt.len, &d);
        if (err == 0)
                err = vt_encoding_dsse_sign(&e, k, &d);
        if (err != 0) {
                vt_diag_prefix(&d, "attest");
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        rc = vt_cli_write_envelope(&e, out);
out:
        json_decref(predicate);
        vt_crypto_key_free(k);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&stmt);
        free(subjects);
        free(is_file);
        return rc;
}
