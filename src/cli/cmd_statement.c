/*
 * cmd_statement.c: the 'statement' verb: show the in-toto statement inside a
 * DSSE envelope.
 *
 *   veritrail statement show [--json] ENVELOPE
 *       prints the predicate type, the subjects (digest and name) and the key
 *       ids of the signatures. Nothing is verified here (that is
 *       'veritrail envelope verify'); the output says so. --json prints one
 *       JSON object instead: {"payloadType", "predicateType", "subject",
 *       "predicate", "keyids"}.
 *
 * Names come from the envelope, i.e. from whoever made it: bytes that are
 * not printable are shown as \xNN so they cannot drive the terminal.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "veritrail/encoding.h"

static const char statement_usage[] = "usage: veritrail statement show [--json] ENVELOPE\n";

/* Print s with control characters, DEL and backslash escaped. */
static void print_safe(const char *s)
{
        for (; *s != '\0'; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch < 0x20 || ch == 0x7f || ch == '\\')
                        printf("\\x%02x", ch);
                else
                        putchar(ch);
        }
}

static int show_text(const char *path, const struct vt_encoding_dsse *e,
                     const struct vt_encoding_statement *st)
{
        size_t i;

        printf("envelope:      ");
        print_safe(path);
        printf("\npayloadType:   %s\npredicateType: ", e->payload_type);
        print_safe(st->predicate_type);
        printf("\nsubjects:      %zu\n", st->nsubjects);
        for (i = 0; i < st->nsubjects; i++) {
                const struct vt_encoding_subject *s = &st->subjects[i];
                char hex[2 * VT_CRYPTO_HASH_LEN + 1];

                if (s->has_sha256) {
                        vt_encoding_hex_encode(s->sha256.b, VT_CRYPTO_HASH_LEN, hex);
                        printf("  sha256:%s", hex);
                } else {
                        /* No sha256: show the first algorithm it has. */
                        const char *alg;
                        json_t *v;

                        json_object_foreach((json_t *)s->digest, alg, v)
                        {
                                printf("  ");
                                print_safe(alg);
                                printf(":");
                                print_safe(json_string_value(v));
                                break;
                        }
                }
                if (s->name != NULL) {
                        printf("  ");
                        print_safe(s->name);
                }
                printf("\n");
        }
        printf("signatures:    %zu (not verified here: see 'veritrail envelope verify')\n",
               e->nsigs);
        for (i = 0; i < e->nsigs; i++) {
                printf("  keyid ");
                if (e->sigs[i].keyid != NULL)
                        print_safe(e->sigs[i].keyid);
                else
                        printf("(none)");
                printf("\n");
        }
        return ferror(stdout) ? VT_EXIT_USAGE : VT_EXIT_OK;
}

static int show_json(const struct vt_encoding_dsse *e, const struct vt_encoding_statement *st)
{
        json_t *o = json_object(), *ids = json_array();
        struct vt_buf b;
        size_t i;
        int rc = VT_EXIT_USAGE;

        vt_buf_init(&b);
        if (o == NULL || ids == NULL)
                goto out;
        for (i = 0; i < e->nsigs; i++)
                if (json_array_append_new(ids, e->sigs[i].keyid ? json_string(e->sigs[i].keyid)
                                                                : json_null()) != 0)
                        goto out;
        if (json_object_set_new(o, "payloadType", json_string(e->payload_type)) != 0 ||
            json_object_set_new(o, "predicateType", json_string(st->predicate_type)) != 0 ||
            json_object_set(o, "subject", json_object_get(st->json, "subject")) != 0 ||
            json_object_set_new(o, "predicate",
                                st->predicate ? json_deep_copy(st->predicate) : json_object()) !=
                0 ||
            json_object_set(o, "keyids", ids) != 0)
                goto out;
        if (vt_encoding_json_dump(o, JSON_COMPACT | JSON_SORT_KEYS, &b) != 0 ||
            vt_buf_puts(&b, "\n") != 0)
                goto out;
        fwrite(b.p, 1, b.len, stdout);
        rc = ferror(stdout) ? VT_EXIT_USAGE : VT_EXIT_OK;
out:
        if (rc != VT_EXIT_OK)
                vt_cli_error("statement show: cannot write the JSON output");
        vt_buf_release(&b);
        json_decref(ids);
        json_decref(o);
        return rc;
}

static int statement_show(int argc, char **argv)
{
        static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
        struct vt_encoding_statement st;
        struct vt_encoding_dsse e;
        struct vt_diag d = {{0}};
        struct vt_buf b;
        const char *path;
        int c, err, json = 0, rc;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = 1;
                        break;
                case 'h':
                        fputs(statement_usage, stdout);
                        return VT_EXIT_OK;
                default:
                        vt_cli_error("statement show: unknown option '%s'", argv[optind - 1]);
                        return VT_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc) {
                vt_cli_error("statement show: give exactly one ENVELOPE file (got %d)",
                             argc - optind);
                return VT_EXIT_USAGE;
        }
        path = argv[optind];
        vt_encoding_dsse_init(&e);
        vt_encoding_statement_init(&st);
        vt_buf_init(&b);
        if ((err = vt_util_read_file(path, VT_ENCODING_DSSE_MAX, &b, &d)) != 0) {
                rc = vt_cli_fail(err, &d); /* the message names the file */
                goto out;
        }
        if ((err = vt_encoding_dsse_parse(b.p, b.len, &e, &d)) == 0)
                err = vt_encoding_statement_from_envelope(&e, &st, &d);
        if (err != 0) {
                vt_diag_prefix(&d, "'%s'", path);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        rc = json ? show_json(&e, &st) : show_text(path, &e, &st);
out:
        vt_encoding_statement_release(&st);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&b);
        return rc;
}

/* see cli.h */
int vt_cli_statement(int argc, char **argv)
{
        opterr = 0;
        optind = 1;
        if (argc >= 2 && strcmp(argv[1], "show") == 0)
                return statement_show(argc - 1, argv + 1);
        if (argc >= 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
                          strcmp(argv[1], "-h") == 0)) {
                fputs(statement_usage, stdout);
                return VT_EXIT_OK;
        }
        if (argc < 2)
                fputs(statement_usage, stderr);
        else
                vt_cli_error("statement: unknown action '%s' (show)", argv[1]);
        return VT_EXIT_USAGE;
}
