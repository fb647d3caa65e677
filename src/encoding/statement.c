/*
 * statement.c: in-toto Statement v1 (in-toto/attestation spec/v1,
 * statement.md, resource_descriptor.md, digest_set.md).
 *
 * A statement binds a predicate (predicateType + predicate) to subjects,
 * each identified by a DigestSet. We validate what the spec requires and
 * ignore what it tells consumers to ignore (unknown fields, README.md
 * "Parsing rules"). The parsed value keeps the whole JSON document, so
 * predicates can be read by the modules above (trace, policy) without a
 * second parse. The bytes are checked by jscan.c (the rules of
 * vt_encoding_json_parse()) and the tree is built from them directly.
 */
#include <stdlib.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

/* see encoding.h */
void vt_encoding_statement_init(struct vt_encoding_statement *st)
{
        memset(st, 0, sizeof(*st));
}

/* see encoding.h */
void vt_encoding_statement_release(struct vt_encoding_statement *st)
{
        if (st == NULL)
                return;
        free(st->subjects);
        json_decref(st->json);
        vt_encoding_statement_init(st);
}

/*
 * digest_set.md "Supported algorithms": the ones encoded as lowercase hex,
 * with their length in hex characters (0: any even length > 0; -1: 40 or
 * 64, the SHA-1 or SHA-256 object ids of git).
 */
static const struct {
        const char *alg;
        int hexlen;
} hex_algs[] = {
    {"sha256", 64},     {"sha224", 56},   {"sha384", 96},   {"sha512", 128},  {"sha512_224", 56},
    {"sha512_256", 64}, {"sha3_224", 56}, {"sha3_256", 64}, {"sha3_384", 96}, {"sha3_512", 128},
    {"shake128", 0},    {"shake256", 0},  {"blake2b", 0},   {"blake2s", 0},   {"ripemd160", 40},
    {"sm3", 64},        {"gost", 0},      {"sha1", 40},     {"md5", 32},      {"dirHash", 64},
    {"gitCommit", -1},  {"gitTree", -1},  {"gitBlob", -1},  {"gitTag", -1},
};

static int is_lower_hex(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return 1;
}

/* Validate one DigestSet value; returns a reason or NULL when it is fine. */
static const char *digest_value_problem(const char *alg, const char *v, size_t n)
{
        size_t i;

        if (n == 0)
                return "empty";
        if (n > 1024)
                return "longer than 1024 characters";
        for (i = 0; i < sizeof(hex_algs) / sizeof(hex_algs[0]); i++) {
                if (strcmp(alg, hex_algs[i].alg) != 0)
                        continue;
                if (!is_lower_hex(v, n))
                        return "not lowercase hex";
                if (hex_algs[i].hexlen > 0 && n != (size_t)hex_algs[i].hexlen)
                        return "wrong length for this algorithm";
                if (hex_algs[i].hexlen == 0 && n % 2 != 0)
                        return "odd number of hex characters";
                if (hex_algs[i].hexlen < 0 && n != 40 && n != 64)
                        return "not 40 or 64 hex characters";
                return NULL;
        }
        /* digest_set.md: consumers ignore algorithms they do not know. */
        return NULL;
}

/* 1 when s holds a control character (C0 or DEL). */
static int has_control(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return 1;
        return 0;
}

/* Validate subject[i] and fill sub. */
static int parse_subject(const json_t *o, size_t i, struct vt_encoding_subject *sub,
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
                why = digest_value_problem(alg, json_string_value(v), json_string_length(v));
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
static int statement_from_json(json_t *root, struct vt_encoding_statement *out, struct vt_diag *d)
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
        if (has_control(json_string_value(v), json_string_length(v))) {
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
                if ((err = parse_subject(json_array_get(subjects, i), i, &st.subjects[i], d)) != 0)
                        goto fail;
        st.nsubjects = n;
        st.json = root;
        *out = st;
        return 0;
fail:
        free(st.subjects);
        return err;
}

/* see encoding.h */
int vt_encoding_statement_parse(const uint8_t *p, size_t n, struct vt_encoding_statement *out,
                                struct vt_diag *d)
{
        struct vt_encoding_int_jval v;
        json_t *root = NULL;
        int err;

        if (n > VT_ENCODING_STATEMENT_MAX) {
                vt_diag_set(d, "statement: larger than %d bytes", VT_ENCODING_STATEMENT_MAX);
                return VT_ETOOBIG;
        }
        /* Checked whole by jscan.c, then the tree built from the checked bytes. */
        if ((err = vt_encoding_int_jscan_check(p, n, VT_ENCODING_STATEMENT_MAX, d)) != 0) {
                vt_diag_prefix(d, "statement");
                return err;
        }
        vt_encoding_int_jscan_root(p, n, &v);
        if ((err = vt_encoding_int_jscan_tree(&v, &root)) != 0) {
                vt_diag_set(d, "statement: out of memory");
                return err;
        }
        if ((err = statement_from_json(root, out, d)) != 0)
                json_decref(root);
        return err;
}

/* see encoding.h */
int vt_encoding_statement_from_envelope(const struct vt_encoding_dsse *e,
                                        struct vt_encoding_statement *out, struct vt_diag *d)
{
        if (e->payload_type == NULL ||
            strcmp(e->payload_type, VT_ENCODING_INTOTO_PAYLOAD_TYPE) != 0 ||
            e->payload_type_len != strlen(VT_ENCODING_INTOTO_PAYLOAD_TYPE)) {
                vt_diag_set(d, "envelope: payloadType '%.80s' is not '%s'",
                            e->payload_type ? e->payload_type : "",
                            VT_ENCODING_INTOTO_PAYLOAD_TYPE);
                return VT_EMALFORMED;
        }
        return vt_encoding_statement_parse(e->payload, e->payload_len, out, d);
}

/* Build {"digest":{"sha256":hex},"name":name} for subject s. */
static json_t *subject_json(const struct vt_encoding_subject *s)
{
        char hex[2 * VT_CRYPTO_HASH_LEN + 1];
        json_t *o = json_object(), *dg = json_object();

        vt_encoding_hex_encode(s->sha256.b, VT_CRYPTO_HASH_LEN, hex);
        if (o == NULL || dg == NULL || json_object_set_new(dg, "sha256", json_string(hex)) != 0 ||
            json_object_set(o, "digest", dg) != 0 ||
            (s->name != NULL && json_object_set_new(o, "name", json_string(s->name)) != 0)) {
                json_decref(o);
                json_decref(dg);
                return NULL;
        }
        json_decref(dg);
        return o;
}

/* see encoding.h */
int vt_encoding_statement_build(const struct vt_encoding_subject *subjects, size_t n,
                                const char *predicate_type, const json_t *predicate,
                                struct vt_buf *out, struct vt_diag *d)
{
        json_t *root = NULL, *arr = NULL, *names = NULL, *s;
        struct vt_buf tmp;
        size_t i;
        int err = VT_EINVAL;

        vt_buf_init(&tmp);
        if (n == 0) {
                vt_diag_set(d, "statement: no subject");
                return VT_EINVAL;
        }
        if (n > VT_ENCODING_STATEMENT_SUBJECTS_MAX) {
                vt_diag_set(d, "statement: more than %d subjects",
                            VT_ENCODING_STATEMENT_SUBJECTS_MAX);
                return VT_ETOOBIG;
        }
        if (predicate_type == NULL || *predicate_type == '\0' ||
            strlen(predicate_type) > VT_ENCODING_STATEMENT_URI_MAX ||
            has_control(predicate_type, strlen(predicate_type))) {
                vt_diag_set(d, "statement: predicate type is empty, too long or holds a control "
                               "character");
                return VT_EINVAL;
        }
        if (predicate != NULL && !json_is_object(predicate)) {
                vt_diag_set(d, "statement: the predicate is not a JSON object");
                return VT_EINVAL;
        }
        err = VT_ENOMEM;
        if ((root = json_object()) == NULL || (arr = json_array()) == NULL ||
            (names = json_object()) == NULL)
                goto out;
        for (i = 0; i < n; i++) {
                const char *nm = subjects[i].name;

                if (!subjects[i].has_sha256) {
                        vt_diag_set(d, "statement: subject %zu has no sha256 digest", i + 1);
                        err = VT_EINVAL;
                        goto out;
                }
                if (nm != NULL) {
                        /* json_string() wants UTF-8; names are paths, usually ASCII. */
                        if (strlen(nm) > VT_ENCODING_STATEMENT_NAME_MAX ||
                            json_object_get(names, nm) != NULL) {
                                vt_diag_set(d, "statement: subject name '%.80s' is %s", nm,
                                            strlen(nm) > VT_ENCODING_STATEMENT_NAME_MAX
                                                ? "too long"
                                                : "given twice");
                                err = VT_EINVAL;
                                goto out;
                        }
                        if (json_object_set_new(names, nm, json_true()) != 0) {
                                vt_diag_set(d, "statement: subject name '%.80s' is not UTF-8", nm);
                                err = VT_EINVAL;
                                goto out;
                        }
                }
                if ((s = subject_json(&subjects[i])) == NULL || json_array_append_new(arr, s) != 0)
                        goto out;
        }
        if ((s = json_string(predicate_type)) == NULL) {
                vt_diag_set(d, "statement: predicate type is not UTF-8");
                err = VT_EINVAL;
                goto out;
        }
        if (json_object_set_new(root, "predicateType", s) != 0 ||
            json_object_set_new(root, "_type", json_string(VT_ENCODING_STATEMENT_TYPE)) != 0 ||
            json_object_set(root, "subject", arr) != 0)
                goto out;
        if (json_object_set_new(root, "predicate",
                                predicate ? json_deep_copy(predicate) : json_object()) != 0)
                goto out;
        if ((err = vt_encoding_json_dump(root, JSON_COMPACT | JSON_SORT_KEYS, &tmp)) != 0)
                goto out;
        if (tmp.len > VT_ENCODING_STATEMENT_MAX) {
                vt_diag_set(d, "statement: larger than %d bytes", VT_ENCODING_STATEMENT_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        err = vt_buf_append(out, tmp.p, tmp.len);
out:
        vt_buf_release(&tmp);
        json_decref(names);
        json_decref(arr);
        json_decref(root);
        return err;
}
