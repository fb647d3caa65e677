/*
 * fuzz_statement.c: libFuzzer target for in-toto Statement v1 parsing
 * (vt_encoding_statement_parse) and scanning without a tree
 * (vt_encoding_statement_scan).
 *
 * Properties checked beyond "no crash":
 *   - the output is untouched when parsing fails;
 *   - a statement that parses has 1..VT_ENCODING_STATEMENT_SUBJECTS_MAX
 *     subjects, each with a digest, a non-empty predicate type, and a sha256
 *     that matches its hex text;
 *   - its canonical JSON (compact, sorted keys) parses again;
 *   - when every subject has a unique name and a sha256, rebuilding it with
 *     vt_encoding_statement_build() gives a statement that parses to the
 *     same subjects;
 *   - the scan decides as the parse does: the same error code and message,
 *     its output untouched on failure, and on success the same predicate
 *     type, subject count and sha256 digests in subject order
 *     (__builtin_trap() otherwise).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scan of data beside the parse's verdict (err, d) and result st. */
static void check_scan(const uint8_t *data, size_t size, int err, const struct vt_diag *d,
                       const struct vt_encoding_statement *st)
{
        static struct vt_encoding_statement_digests sd, before; /* 1.3 KiB each: off the stack */
        struct vt_diag d2 = {""};
        size_t i, k;

        memset(&sd, 0x5a, sizeof(sd));
        vt_encoding_statement_digests_init(&sd);
        memcpy(&before, &sd, sizeof(sd));
        if (vt_encoding_statement_scan(data, size, &sd, &d2) != err || strcmp(d->msg, d2.msg) != 0)
                __builtin_trap();
        if (err != 0) {
                if (memcmp(&before, &sd, sizeof(sd)) != 0)
                        __builtin_trap();
                return;
        }
        if (sd.predicate_type_len != strlen(st->predicate_type) ||
            memcmp(sd.predicate_type, st->predicate_type, sd.predicate_type_len + 1) != 0 ||
            sd.nsubjects != st->nsubjects || sd.nsha256 > sd.nsubjects ||
            (sd.sha256 == sd.sha256_inline) != (sd.nsha256 <= VT_ENCODING_STATEMENT_DIGESTS_INLINE))
                __builtin_trap();
        for (i = 0, k = 0; i < st->nsubjects; i++) {
                if (!st->subjects[i].has_sha256)
                        continue;
                if (k >= sd.nsha256 ||
                    memcmp(sd.sha256[k].b, st->subjects[i].sha256.b, sizeof(sd.sha256[k].b)) != 0)
                        __builtin_trap();
                k++;
        }
        if (k != sd.nsha256)
                __builtin_trap();
        vt_encoding_statement_digests_release(&sd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vt_encoding_statement st, st2, st3;
        struct vt_diag d = {""};
        struct vt_buf out;
        size_t i;
        int rebuild = 1, err;

        vt_encoding_statement_init(&st);
        vt_encoding_statement_init(&st2);
        vt_encoding_statement_init(&st3);
        err = vt_encoding_statement_parse(data, size, &st, &d);
        check_scan(data, size, err, &d, &st);
        if (err != 0) {
                if (st.json != NULL || st.subjects != NULL || st.nsubjects != 0)
                        abort();
                return 0;
        }
        if (st.nsubjects == 0 || st.nsubjects > VT_ENCODING_STATEMENT_SUBJECTS_MAX ||
            st.predicate_type == NULL || st.predicate_type[0] == '\0')
                abort();
        for (i = 0; i < st.nsubjects; i++) {
                const struct vt_encoding_subject *s = &st.subjects[i];
                char hex[65];

                if (s->digest == NULL || json_object_size(s->digest) == 0)
                        abort();
                if (s->has_sha256) {
                        vt_encoding_hex_encode(s->sha256.b, 32, hex);
                        if (strcmp(hex, json_string_value(json_object_get(s->digest, "sha256"))) !=
                            0)
                                abort();
                } else {
                        rebuild = 0;
                }
                if (s->name == NULL)
                        rebuild = 0;
        }

        vt_buf_init(&out);
        if (vt_encoding_json_dump(st.json, JSON_COMPACT | JSON_SORT_KEYS, &out) != 0 ||
            vt_encoding_statement_parse(out.p, out.len, &st2, NULL) != 0 ||
            st2.nsubjects != st.nsubjects)
                abort();
        out.len = 0;
        /* Rebuild: refused only for duplicate names. */
        if (rebuild) {
                int err = vt_encoding_statement_build(st.subjects, st.nsubjects, st.predicate_type,
                                                      st.predicate, &out, NULL);
                if (err == 0) {
                        if (vt_encoding_statement_parse(out.p, out.len, &st3, NULL) != 0 ||
                            st3.nsubjects != st.nsubjects)
                                abort();
                        for (i = 0; i < st.nsubjects; i++)
                                if (strcmp(st3.subjects[i].name, st.subjects[i].name) != 0 ||
                                    memcmp(st3.subjects[i].sha256.b, st.subjects[i].sha256.b, 32) !=
                                        0)
                                        abort();
                } else if (err != VT_EINVAL && err != VT_ETOOBIG) {
                        abort();
                }
        }
        vt_buf_release(&out);
        vt_encoding_statement_release(&st);
        vt_encoding_statement_release(&st2);
        vt_encoding_statement_release(&st3);
        return 0;
}
