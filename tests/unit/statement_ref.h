/*
 * statement_ref.h: an independent jansson restatement of the in-toto
 * Statement v1 rules (statement.md, digest_set.md; encoding.h
 * "Statements"), used only by tests and fuzz targets to cross-check the
 * library's vt_encoding_statement_parse() and vt_encoding_statement_scan().
 * It is not part of the library and shares no code with statement.c: it
 * applies the rules, in their order and with the library's messages and
 * codes, to the jansson tree of vt_encoding_json_parse(), as statement.c did
 * before parse and scan shared one validation walk, so a differential test
 * against it catches a change of behaviour of that walk as well as a
 * divergence of the scan from the parse.
 *
 * Everything here is static; include it from one translation unit (a test
 * program or a fuzz target) that links libveritrail and jansson. Entry point:
 * ref_statement_parse().
 */
#ifndef VT_TESTS_STATEMENT_REF_H
#define VT_TESTS_STATEMENT_REF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "veritrail/encoding.h"
#include "veritrail/util.h"
#include "veritrail/vt_err.h"

/*
 * digest_set.md "Supported algorithms": the ones encoded as lowercase hex,
 * with their length in hex characters (0: any even length > 0; -1: 40 or
 * 64, the SHA-1 or SHA-256 object ids of git).
 */
static const struct {
        const char *alg;
        int hexlen;
} ref_hex_algs[] = {
    {"sha256", 64},     {"sha224", 56},   {"sha384", 96},   {"sha512", 128},  {"sha512_224", 56},
    {"sha512_256", 64}, {"sha3_224", 56}, {"sha3_256", 64}, {"sha3_384", 96}, {"sha3_512", 128},
    {"shake128", 0},    {"shake256", 0},  {"blake2b", 0},   {"blake2s", 0},   {"ripemd160", 40},
    {"sm3", 64},        {"gost", 0},      {"sha1", 40},     {"md5", 32},      {"dirHash", 64},
    {"gitCommit", -1},  {"gitTree", -1},  {"gitBlob", -1},  {"gitTag", -1},
};

static int ref_is_lower_hex(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return 1;
}

/* Validate one DigestSet value; returns a reason or NULL when it is fine. */
static const char *ref_digest_value_problem(const char *alg, const char *v, size_t n)
{
        size_t i;

        if (n == 0)
                return "empty";
        if (n > 1024)
                return "longer than 1024 characters";
        for (i = 0; i < sizeof(ref_hex_algs) / sizeof(ref_hex_algs[0]); i++) {
                if (strcmp(alg, ref_hex_algs[i].alg) != 0)
                        continue;
                if (!ref_is_lower_hex(v, n))
                        return "not lowercase hex";
                if (ref_hex_algs[i].hexlen > 0 && n != (size_t)ref_hex_algs[i].hexlen)
                        return "wrong length for this algorithm";
                if (ref_hex_algs[i].hexlen == 0 && n % 2 != 0)
                        return "odd number of hex characters";
                if (ref_hex_algs[i].hexlen < 0 && n != 40 && n != 64)
                        return "not 40 or 64 hex characters";
                return NULL;
        }
        /* digest_set.md: consumers ignore algorithms they do not know. */
        return NULL;
}

/* 1 when s holds a control character (C0 or DEL). */
static int ref_has_control(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return 1;
        return 0;
}

/* Validate subject[i] and fill sub. */
static int ref_parse_subject(const json_t *o, size_t i, struct vt_encoding_subject *sub,
                             struct vt_diag *d)
{
        json_t *name, *digest, *v;
        const char *alg;

        if (!json_is_object(o)) {
                vt_diag_set(d, "statement: subject[%zu]: not an object", i);
                return VT_EMALFORMED;
        }
        name = json_object_get(o, "name");
        if (name != NULL) {
                if (!json_is_string(name)) {
                        vt_diag_set(d, "statement: subject[%zu].name: not a string", i);
                        return VT_EMALFORMED;
                }
                if (json_string_length(name) > VT_ENCODING_STATEMENT_NAME_MAX) {
                        vt_diag_set(d, "statement: subject[%zu].name: longer than %d bytes", i,
                                    VT_ENCODING_STATEMENT_NAME_MAX);
                        return VT_ETOOBIG;
                }
                sub->name = json_string_value(name);
        }
        /* statement.md: each subject MUST have digest set. */
        digest = json_object_get(o, "digest");
        if (digest == NULL || !json_is_object(digest)) {
                vt_diag_set(d, "statement: subject[%zu].digest: %s", i,
                            digest == NULL ? "missing" : "not an object");
                return VT_EMALFORMED;
        }
        if (json_object_size(digest) == 0) {
                vt_diag_set(d, "statement: subject[%zu].digest: empty", i);
                return VT_EMALFORMED;
        }
        json_object_foreach(digest, alg, v)
        {
                const char *why;

                if (!json_is_string(v)) {
                        vt_diag_set(d, "statement: subject[%zu].digest.%.64s: not a string", i,
                                    alg);
                        return VT_EMALFORMED;
                }
                why = ref_digest_value_problem(alg, json_string_value(v), json_string_length(v));
                if (why != NULL) {
                        vt_diag_set(d, "statement: subject[%zu].digest.%.64s: %s", i, alg, why);
                        return VT_EMALFORMED;
                }
        }
        sub->digest = digest;
        v = json_object_get(digest, "sha256");
        if (v != NULL) {
                /* Checked above: 64 lowercase hex characters. */
                if (vt_encoding_hex_decode(json_string_value(v), 64, sub->sha256.b, 32) != 0)
                        return VT_EMALFORMED;
                sub->has_sha256 = 1;
        }
        return 0;
}

/* Validate the parsed document root into st (empty); st owns root on success. */
static int ref_statement_from_json(json_t *root, struct vt_encoding_statement *out,
                                   struct vt_diag *d)
{
        struct vt_encoding_statement st;
        json_t *v, *subjects;
        size_t i, n;
        int err = VT_EMALFORMED;

        vt_encoding_statement_init(&st);
        if (!json_is_object(root)) {
                vt_diag_set(d, "statement: not a JSON object");
                return VT_EMALFORMED;
        }
        v = json_object_get(root, "_type");
        if (v == NULL || !json_is_string(v)) {
                vt_diag_set(d, "statement: _type: %s", v == NULL ? "missing" : "not a string");
                return VT_EMALFORMED;
        }
        if (strcmp(json_string_value(v), VT_ENCODING_STATEMENT_TYPE) != 0 ||
            json_string_length(v) != strlen(VT_ENCODING_STATEMENT_TYPE)) {
                vt_diag_set(d, "statement: _type: '%.80s' is not '%s'", json_string_value(v),
                            VT_ENCODING_STATEMENT_TYPE);
                return VT_EMALFORMED;
        }

        v = json_object_get(root, "predicateType");
        if (v == NULL || !json_is_string(v)) {
                vt_diag_set(d, "statement: predicateType: %s",
                            v == NULL ? "missing" : "not a string");
                return VT_EMALFORMED;
        }
        if (json_string_length(v) == 0) {
                vt_diag_set(d, "statement: predicateType: empty");
                return VT_EMALFORMED;
        }
        if (json_string_length(v) > VT_ENCODING_STATEMENT_URI_MAX) {
                vt_diag_set(d, "statement: predicateType: longer than %d bytes",
                            VT_ENCODING_STATEMENT_URI_MAX);
                return VT_ETOOBIG;
        }
        if (ref_has_control(json_string_value(v), json_string_length(v))) {
                vt_diag_set(d, "statement: predicateType: holds a control character");
                return VT_EMALFORMED;
        }
        st.predicate_type = json_string_value(v);

        v = json_object_get(root, "predicate");
        if (v != NULL && !json_is_object(v)) {
                vt_diag_set(d, "statement: predicate: not an object");
                return VT_EMALFORMED;
        }
        st.predicate = v;

        subjects = json_object_get(root, "subject");
        if (subjects == NULL || !json_is_array(subjects)) {
                vt_diag_set(d, "statement: subject: %s",
                            subjects == NULL ? "missing" : "not an array");
                return VT_EMALFORMED;
        }
        n = json_array_size(subjects);
        if (n == 0) {
                vt_diag_set(d, "statement: subject: empty");
                return VT_EMALFORMED;
        }
        if (n > VT_ENCODING_STATEMENT_SUBJECTS_MAX) {
                vt_diag_set(d, "statement: subject: more than %d entries",
                            VT_ENCODING_STATEMENT_SUBJECTS_MAX);
                return VT_ETOOBIG;
        }
        if ((st.subjects = calloc(n, sizeof(*st.subjects))) == NULL)
                return VT_ENOMEM;
        for (i = 0; i < n; i++)
                if ((err = ref_parse_subject(json_array_get(subjects, i), i, &st.subjects[i], d)) !=
                    0)
                        goto fail;
        st.nsubjects = n;
        st.json = root;
        *out = st;
        return 0;
fail:
        free(st.subjects);
        return err;
}

/*
 * The jansson parser as it was: p[0..n) into out (initialised, empty; filled
 * only on success, released by vt_encoding_statement_release()). When
 * json_refused is not NULL, *json_refused is set to 1 when the input was
 * refused before the statement rules (too large, or not JSON for jansson),
 * else to 0.
 */
static int ref_statement_parse(const uint8_t *p, size_t n, struct vt_encoding_statement *out,
                               struct vt_diag *d, int *json_refused)
{
        json_t *root = NULL;
        int err;

        if (json_refused != NULL)
                *json_refused = 1;
        if (n > VT_ENCODING_STATEMENT_MAX) {
                vt_diag_set(d, "statement: larger than %d bytes", VT_ENCODING_STATEMENT_MAX);
                return VT_ETOOBIG;
        }
        if ((err = vt_encoding_json_parse(p, n, VT_ENCODING_STATEMENT_MAX, &root, d)) != 0) {
                vt_diag_prefix(d, "statement");
                return err;
        }
        if (json_refused != NULL)
                *json_refused = 0;
        if ((err = ref_statement_from_json(root, out, d)) != 0)
                json_decref(root);
        return err;
}

#endif
