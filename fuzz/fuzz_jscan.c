/*
 * fuzz_jscan.c: differential libFuzzer target for jscan.c, the strict JSON
 * checker and reader behind DSSE, statement and batch parsing, against
 * jansson.
 *
 * The reference is the code as it was before jscan.c: jansson through
 * vt_encoding_json_parse() (json.c, still in the library), and below, as
 * a static copy compiled into this target only, the jansson-based DSSE
 * parser, and the jansson statement reference of tests/unit/statement_ref.h
 * (shared with test_statement). For any input:
 *   - vt_encoding_int_jscan_check() and vt_encoding_json_parse() return the
 *     same code; when both accept, vt_encoding_int_jscan_tree() gives a tree
 *     equal to jansson's (json_equal, and the same compact text, so the same
 *     key order and number types);
 *   - vt_encoding_json_array_scan(.., "envelopes", ..) accepts exactly then,
 *     and its shape and element spans match jansson's tree (each span
 *     loads to the element jansson holds);
 *   - vt_encoding_dsse_parse() and vt_encoding_statement_parse() agree with
 *     the references on the code, on the message (but for the wording of a
 *     JSON syntax error, which was jansson's) and on every parsed field.
 *
 * One deliberate difference: a NUL byte is never valid JSON (RFC 8259 §2,
 * §7), and jscan.c refuses every input holding one; jansson 2.14 skips a NUL
 * that follows a number or a literal (its lexer pushes the byte back and
 * then reads past it), so it accepts e.g. {"a":1<NUL>}. Inputs with a NUL
 * byte are therefore only required to be refused (VT_EMALFORMED) by jscan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"
/* the statement reference, shared with tests/unit/test_statement.c */
#include "../tests/unit/statement_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the reference: the jansson-based parsers as they were ---------------------- */

/*
 * Decode base64 in either alphabet (protocol.md: verifiers MUST accept
 * standard and URL-safe), padded and canonical, into out (which it
 * replaces). A string mixing the two alphabets is malformed. Returns the
 * codes of vt_encoding_base64_decode_buf().
 */
static int ref_b64_decode_any(const char *s, size_t n, struct vt_buf *out)
{
        struct vt_buf tmp;
        int std = 0, url = 0, err;
        size_t i;

        for (i = 0; i < n; i++) {
                if (s[i] == '+' || s[i] == '/')
                        std = 1;
                else if (s[i] == '-' || s[i] == '_')
                        url = 1;
        }
        if (std && url)
                return VT_EMALFORMED;
        if (!url)
                return vt_encoding_base64_decode_buf(s, n, out);
        vt_buf_init(&tmp);
        if ((err = vt_buf_append(&tmp, s, n)) != 0)
                return err;
        for (i = 0; i < n; i++) {
                if (tmp.p[i] == '-')
                        tmp.p[i] = '+';
                else if (tmp.p[i] == '_')
                        tmp.p[i] = '/';
        }
        err = vt_encoding_base64_decode_buf((const char *)tmp.p, n, out);
        vt_buf_release(&tmp);
        return err;
}

/* Describe a base64 failure of field what into d. */
static int ref_b64_fail(int err, const char *what, struct vt_diag *d)
{
        switch (err) {
        case VT_ENONCANON:
                vt_diag_set(d, "envelope: %s: non-canonical base64 (padding or unused bits)", what);
                break;
        case VT_ENOMEM:
                vt_diag_set(d, "envelope: out of memory");
                break;
        default:
                vt_diag_set(d, "envelope: %s: not base64", what);
                err = VT_EMALFORMED;
        }
        return err;
}

/* Take the bytes of b (NUL-terminated) as a heap string; b is left empty. */
static uint8_t *ref_buf_take(struct vt_buf *b)
{
        uint8_t *p;

        if (vt_buf_reserve(b, 0) != 0)
                return NULL;
        b->p[b->len] = '\0';
        p = b->p;
        vt_buf_init(b);
        return p;
}

/* Parse signatures[i] into s. */
static int ref_parse_sig(json_t *o, size_t i, struct vt_encoding_dsse_sig *s, struct vt_diag *d)
{
        struct vt_buf b;
        json_t *v;
        char what[48];
        int err;

        snprintf(what, sizeof(what), "signatures[%zu]", i);
        if (!json_is_object(o)) {
                vt_diag_set(d, "envelope: %s: not an object", what);
                return VT_EMALFORMED;
        }
        v = json_object_get(o, "keyid");
        if (v != NULL && !json_is_string(v)) {
                vt_diag_set(d, "envelope: %s.keyid: not a string", what);
                return VT_EMALFORMED;
        }
        if (v != NULL && json_string_length(v) > VT_ENCODING_DSSE_KEYID_MAX) {
                vt_diag_set(d, "envelope: %s.keyid: longer than %d bytes", what,
                            VT_ENCODING_DSSE_KEYID_MAX);
                return VT_ETOOBIG;
        }
        /* An empty keyid says nothing: treat it as absent (Go omits it, Python writes ""). */
        if (v != NULL && json_string_length(v) > 0 &&
            (s->keyid = strdup(json_string_value(v))) == NULL)
                return VT_ENOMEM;
        v = json_object_get(o, "sig");
        if (v == NULL || !json_is_string(v)) {
                vt_diag_set(d, "envelope: %s.sig: %s", what,
                            v == NULL ? "missing" : "not a string");
                return VT_EMALFORMED;
        }
        if (json_string_length(v) == 0) {
                vt_diag_set(d, "envelope: %s.sig: empty", what);
                return VT_EMALFORMED;
        }
        if (json_string_length(v) > (VT_ENCODING_DSSE_SIG_MAX + 2) / 3 * 4) {
                vt_diag_set(d, "envelope: %s.sig: longer than %d bytes", what,
                            VT_ENCODING_DSSE_SIG_MAX);
                return VT_ETOOBIG;
        }
        vt_buf_init(&b);
        err = ref_b64_decode_any(json_string_value(v), json_string_length(v), &b);
        if (err != 0) {
                vt_buf_release(&b);
                snprintf(what + strlen(what), sizeof(what) - strlen(what), ".sig");
                return ref_b64_fail(err, what, d);
        }
        if (b.len == 0 || b.len > VT_ENCODING_DSSE_SIG_MAX) {
                err = b.len == 0 ? VT_EMALFORMED : VT_ETOOBIG;
                vt_diag_set(d, "envelope: %s.sig: %s", what, b.len == 0 ? "empty" : "too long");
                vt_buf_release(&b);
                return err;
        }
        s->siglen = b.len;
        if ((s->sig = ref_buf_take(&b)) == NULL) {
                vt_buf_release(&b);
                return VT_ENOMEM;
        }
        return 0;
}

/* The jansson parser as it was. */
static int ref_dsse_parse(const uint8_t *p, size_t n, struct vt_encoding_dsse *out,
                          struct vt_diag *d)
{
        struct vt_encoding_dsse e;
        struct vt_buf b;
        json_t *root = NULL, *v, *sigs;
        size_t i;
        int err;

        vt_encoding_dsse_init(&e);
        vt_buf_init(&b);
        if (n > VT_ENCODING_DSSE_MAX) {
                vt_diag_set(d, "envelope: larger than %d bytes", VT_ENCODING_DSSE_MAX);
                return VT_ETOOBIG;
        }
        if ((err = vt_encoding_json_parse(p, n, VT_ENCODING_DSSE_MAX, &root, d)) != 0) {
                vt_diag_prefix(d, "envelope");
                return err;
        }
        err = VT_EMALFORMED;
        if (!json_is_object(root)) {
                vt_diag_set(d, "envelope: not a JSON object");
                goto out;
        }

        /* payloadType: a required, non-empty string (it identifies the payload). */
        v = json_object_get(root, "payloadType");
        if (v == NULL || !json_is_string(v)) {
                vt_diag_set(d, "envelope: payloadType: %s", v == NULL ? "missing" : "not a string");
                goto out;
        }
        if (json_string_length(v) == 0) {
                vt_diag_set(d, "envelope: payloadType: empty");
                goto out;
        }
        if (json_string_length(v) > VT_ENCODING_DSSE_TYPE_MAX) {
                vt_diag_set(d, "envelope: payloadType: longer than %d bytes",
                            VT_ENCODING_DSSE_TYPE_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        e.payload_type_len = json_string_length(v);
        if ((e.payload_type = strdup(json_string_value(v))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }

        /* payload: a required string, base64 (possibly empty: an empty body). */
        v = json_object_get(root, "payload");
        if (v == NULL || !json_is_string(v)) {
                vt_diag_set(d, "envelope: payload: %s", v == NULL ? "missing" : "not a string");
                goto out;
        }
        if (json_string_length(v) / 4 * 3 > VT_ENCODING_DSSE_PAYLOAD_MAX + 2) {
                vt_diag_set(d, "envelope: payload: larger than %d bytes",
                            VT_ENCODING_DSSE_PAYLOAD_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        if ((err = ref_b64_decode_any(json_string_value(v), json_string_length(v), &b)) != 0) {
                err = ref_b64_fail(err, "payload", d);
                goto out;
        }
        if (b.len > VT_ENCODING_DSSE_PAYLOAD_MAX) {
                vt_diag_set(d, "envelope: payload: larger than %d bytes",
                            VT_ENCODING_DSSE_PAYLOAD_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        e.payload_len = b.len;
        if ((e.payload = ref_buf_take(&b)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }

        /* signatures: a non-empty array of {"keyid"?, "sig"} objects. */
        err = VT_EMALFORMED;
        sigs = json_object_get(root, "signatures");
        if (sigs == NULL || !json_is_array(sigs)) {
                vt_diag_set(d, "envelope: signatures: %s",
                            sigs == NULL ? "missing" : "not an array");
                goto out;
        }
        if (json_array_size(sigs) == 0) {
                vt_diag_set(d, "envelope: signatures: empty");
                goto out;
        }
        if (json_array_size(sigs) > VT_ENCODING_DSSE_SIGS_MAX) {
                vt_diag_set(d, "envelope: signatures: more than %d", VT_ENCODING_DSSE_SIGS_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        e.sigs = calloc(json_array_size(sigs), sizeof(*e.sigs));
        if (e.sigs == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        for (i = 0; i < json_array_size(sigs); i++) {
                /* Count it first, so that release frees what parse_sig left half-done. */
                e.nsigs = i + 1;
                if ((err = ref_parse_sig(json_array_get(sigs, i), i, &e.sigs[i], d)) != 0)
                        goto out;
        }
        *out = e;
        vt_encoding_dsse_init(&e);
        err = 0;
out:
        vt_encoding_dsse_release(&e);
        vt_buf_release(&b);
        json_decref(root);
        return err;
}

/* ---- the comparisons -------------------------------------------------------------- */

static void check(int ok, const char *what)
{
        if (!ok) {
                fprintf(stderr, "fuzz_jscan: %s\n", what);
                abort();
        }
}

/* 1 when both messages are about JSON syntax, whose wording was jansson's. */
static int syntax_msgs(const char *a, const char *b)
{
        return strstr(a, "malformed JSON at line") != NULL &&
               strstr(b, "malformed JSON at line") != NULL;
}

static void same_diag(int err, const struct vt_diag *a, const struct vt_diag *b)
{
        if (err == 0 || err == VT_ENOMEM)
                return;
        if (!syntax_msgs(a->msg, b->msg) && strcmp(a->msg, b->msg) != 0) {
                fprintf(stderr, "new: %s\nref: %s\n", a->msg, b->msg);
                check(0, "different messages");
        }
}

static int dump_equal(const json_t *a, const json_t *b)
{
        char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        char *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        int eq = x != NULL && y != NULL && strcmp(x, y) == 0;

        free(x);
        free(y);
        return eq && json_equal(a, b);
}

static int kind_of(const json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return '{';
        case JSON_ARRAY:
                return '[';
        case JSON_STRING:
                return '"';
        case JSON_INTEGER:
        case JSON_REAL:
                return '0';
        case JSON_TRUE:
                return 't';
        case JSON_FALSE:
                return 'f';
        default:
                return 'n';
        }
}

static void fuzz_json(const uint8_t *data, size_t size)
{
        struct vt_diag d1 = {""}, d2 = {""};
        struct vt_encoding_int_jval v;
        struct vt_encoding_json_array a;
        json_t *ref = NULL, *mine = NULL, *arr;
        size_t i, max = size + (size & 1); /* sometimes exactly the size */
        int e1, e2, e3;

        e1 = vt_encoding_int_jscan_check(data, size, max, &d1);
        if (memchr(data, 0, size) != NULL) {
                check(e1 == VT_EMALFORMED || (e1 == VT_ETOOBIG && size > max),
                      "a NUL byte accepted");
                check(vt_encoding_json_array_scan(data, size, max, "envelopes", &a, NULL) == e1,
                      "array scan and check disagree");
                return;
        }
        e2 = vt_encoding_json_parse(data, size, max, &ref, &d2);
        if (e1 != e2)
                fprintf(stderr, "jscan %d (%s), jansson %d (%s)\n", e1, d1.msg, e2, d2.msg);
        check(e1 == e2, "check and jansson disagree");
        if (e2 == VT_ETOOBIG)
                check(strcmp(d1.msg, d2.msg) == 0, "different limit messages");
        if (size > 0) {
                /* The byte limit, one under. */
                check(vt_encoding_int_jscan_check(data, size, size - 1, NULL) == VT_ETOOBIG,
                      "byte limit");
        }
        memset(&a, 0x5a, sizeof(a));
        e3 = vt_encoding_json_array_scan(data, size, max, "envelopes", &a, NULL);
        check(e3 == e1, "array scan and check disagree");
        if (e1 != 0)
                return;
        vt_encoding_int_jscan_root(data, size, &v);
        check(vt_encoding_int_jscan_tree(&v, &mine) == 0, "tree");
        check(dump_equal(mine, ref), "trees differ");
        check(a.root == kind_of(ref), "array scan: root kind");
        arr = ref;
        if (json_is_object(ref)) {
                json_t *m = json_object_get(ref, "envelopes");
                check(a.members == json_object_size(ref), "array scan: members");
                check(a.member == (m ? kind_of(m) : 0), "array scan: member kind");
                arr = m != NULL && json_is_array(m) ? m : NULL;
        }
        check(a.n == (arr ? json_array_size(arr) : 0), "array scan: element count");
        for (i = 0; i < a.n; i++) {
                json_error_t je;
                json_t *x;

                check(a.off[i] + a.len[i] <= size, "array scan: span past the end");
                x = json_loadb((const char *)data + a.off[i], a.len[i], JSON_DECODE_ANY, &je);
                check(x != NULL && dump_equal(x, json_array_get(arr, i)), "array scan: element");
                check(a.len[i] > 0 && data[a.off[i]] != ' ' && data[a.off[i] + a.len[i] - 1] != ' ',
                      "array scan: white space around an element");
                json_decref(x);
        }
        vt_encoding_json_array_release(&a);
        json_decref(mine);
        json_decref(ref);
}

static void fuzz_dsse(const uint8_t *data, size_t size)
{
        struct vt_encoding_dsse a, b;
        struct vt_diag d1 = {""}, d2 = {""};
        size_t i;
        int e1, e2;

        vt_encoding_dsse_init(&a);
        vt_encoding_dsse_init(&b);
        e1 = vt_encoding_dsse_parse(data, size, &a, &d1);
        if (memchr(data, 0, size) != NULL) {
                check(e1 == VT_EMALFORMED, "dsse: a NUL byte accepted");
                return;
        }
        e2 = ref_dsse_parse(data, size, &b, &d2);
        if (e1 != e2)
                fprintf(stderr, "new %d (%s), ref %d (%s)\n", e1, d1.msg, e2, d2.msg);
        check(e1 == e2, "dsse: codes differ");
        same_diag(e1, &d1, &d2);
        if (e1 != 0) {
                check(a.payload == NULL && a.sigs == NULL && a.nsigs == 0, "dsse: out touched");
                return;
        }
        check(a.payload_type_len == b.payload_type_len &&
                  memcmp(a.payload_type, b.payload_type, a.payload_type_len + 1) == 0,
              "dsse: payloadType");
        check(a.payload_len == b.payload_len &&
                  memcmp(a.payload, b.payload, a.payload_len + 1) == 0,
              "dsse: payload");
        check(a.nsigs == b.nsigs, "dsse: nsigs");
        for (i = 0; i < a.nsigs; i++) {
                check(
                    (a.sigs[i].keyid == NULL) == (b.sigs[i].keyid == NULL) &&
                        (a.sigs[i].keyid == NULL || strcmp(a.sigs[i].keyid, b.sigs[i].keyid) == 0),
                    "dsse: keyid");
                check(a.sigs[i].siglen == b.sigs[i].siglen &&
                          memcmp(a.sigs[i].sig, b.sigs[i].sig, a.sigs[i].siglen) == 0,
                      "dsse: sig");
        }
        vt_encoding_dsse_release(&a);
        vt_encoding_dsse_release(&b);
}

static void fuzz_statement(const uint8_t *data, size_t size)
{
        struct vt_encoding_statement a, b;
        struct vt_diag d1 = {""}, d2 = {""};
        size_t i;
        int e1, e2;

        vt_encoding_statement_init(&a);
        vt_encoding_statement_init(&b);
        e1 = vt_encoding_statement_parse(data, size, &a, &d1);
        if (memchr(data, 0, size) != NULL) {
                check(e1 == VT_EMALFORMED, "statement: a NUL byte accepted");
                return;
        }
        e2 = ref_statement_parse(data, size, &b, &d2, NULL);
        if (e1 != e2)
                fprintf(stderr, "new %d (%s), ref %d (%s)\n", e1, d1.msg, e2, d2.msg);
        check(e1 == e2, "statement: codes differ");
        same_diag(e1, &d1, &d2);
        if (e1 != 0) {
                check(a.json == NULL && a.subjects == NULL, "statement: out touched");
                return;
        }
        check(dump_equal(a.json, b.json), "statement: json");
        check(strcmp(a.predicate_type, b.predicate_type) == 0, "statement: predicateType");
        check((a.predicate == NULL) == (b.predicate == NULL) &&
                  (a.predicate == NULL || dump_equal(a.predicate, b.predicate)),
              "statement: predicate");
        check(a.nsubjects == b.nsubjects, "statement: nsubjects");
        for (i = 0; i < a.nsubjects; i++) {
                const struct vt_encoding_subject *x = &a.subjects[i], *y = &b.subjects[i];
                check((x->name == NULL) == (y->name == NULL) &&
                          (x->name == NULL || strcmp(x->name, y->name) == 0),
                      "statement: name");
                check(x->has_sha256 == y->has_sha256 &&
                          memcmp(x->sha256.b, y->sha256.b, sizeof(x->sha256.b)) == 0,
                      "statement: sha256");
                check(dump_equal(x->digest, y->digest), "statement: digest");
        }
        vt_encoding_statement_release(&a);
        vt_encoding_statement_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_json(data, size);
        fuzz_dsse(data, size);
        fuzz_statement(data, size);
        return 0;
}
