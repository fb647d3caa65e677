/*
 * test_statement.c: in-toto Statement v1 (encoding.h "Statements"): build
 * known answers, parse round trips, what the spec lets through (unknown
 * fields and algorithms, no name, no predicate) and the negative vectors;
 * the scan without a tree (vt_encoding_statement_scan) against the parse
 * and against a jansson reference of the rules, on every vector, on
 * generated mutations of them and at the limits, and its own results.
 */
#include "vt_test.h"
#include "veritrail/encoding.h"
#include "statement_ref.h"

#define HEX_A "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define HEX_E "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ST(subjects, rest)                                                                         \
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" subjects                     \
        ",\"predicateType\":\"https://example.com/p/v1\"" rest "}"
#define ONE_SUBJECT "[{\"name\":\"a\",\"digest\":{\"sha256\":\"" HEX_A "\"}}]"

static const char *data_dir(void)
{
        const char *s = getenv("VT_TEST_DATA");

        return (s != NULL && *s != '\0') ? s : "tests/data";
}

static int parse_str(const char *s, struct vt_encoding_statement *st, struct vt_diag *d)
{
        vt_encoding_statement_init(st);
        return vt_encoding_statement_parse((const uint8_t *)s, strlen(s), st, d);
}

static void subject_set(struct vt_encoding_subject *s, const char *name, const char *hex)
{
        memset(s, 0, sizeof(*s));
        s->name = name;
        s->has_sha256 = 1;
        assert_int_equal(vt_encoding_hex_decode(hex, 64, s->sha256.b, 32), 0);
}

/* ---- build ---- */

static void build_known_answer(void **state)
{
        struct vt_encoding_subject s[2];
        struct vt_buf out;

        (void)state;
        subject_set(&s[0], "dist/app.tar", HEX_A);
        subject_set(&s[1], "README", HEX_E);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_statement_build(s, 2, "https://veritrail.example/test/v1",
                                                     NULL, &out, NULL),
                         0);
        /* Compact, keys sorted, predicate {} by default. */
        assert_string_equal((const char *)out.p,
                            "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicate\":{},"
                            "\"predicateType\":\"https://veritrail.example/test/v1\","
                            "\"subject\":[{\"digest\":{\"sha256\":\"" HEX_A "\"},\"name\":"
                            "\"dist/app.tar\"},{\"digest\":{\"sha256\":\"" HEX_E
                            "\"},\"name\":\"README\"}]}");
        vt_buf_release(&out);
}

static void build_matches_golden_envelope(void **state)
{
        struct vt_encoding_subject s[2];
        struct vt_encoding_statement st;
        struct vt_encoding_dsse e;
        struct vt_buf file, out;
        char path[512];

        (void)state;
        /* tests/data/dsse/golden-attest.json was made by 'veritrail attest' with these subjects. */
        snprintf(path, sizeof(path), "%s/dsse/golden-attest.json", data_dir());
        vt_buf_init(&file);
        assert_int_equal(vt_util_read_file(path, 1 << 20, &file, NULL), 0);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(file.p, file.len, &e, NULL), 0);
        subject_set(&s[0], "dist/app.tar", HEX_A);
        subject_set(&s[1], "README", HEX_E);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_statement_build(s, 2, "https://veritrail.example/test/v1",
                                                     NULL, &out, NULL),
                         0);
        assert_int_equal(out.len, e.payload_len);
        assert_memory_equal(out.p, e.payload, out.len);
        vt_encoding_statement_init(&st);
        assert_int_equal(vt_encoding_statement_from_envelope(&e, &st, NULL), 0);
        assert_int_equal(st.nsubjects, 2);
        assert_string_equal(st.subjects[1].name, "README");
        vt_encoding_statement_release(&st);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&out);
        vt_buf_release(&file);
}

static void build_parse_round_trip(void **state)
{
        struct vt_encoding_subject s[3];
        struct vt_encoding_statement st;
        json_t *pred;
        struct vt_buf out;

        (void)state;
        subject_set(&s[0], "a", HEX_A);
        subject_set(&s[1], NULL, HEX_E); /* no name */
        subject_set(&s[2], "d\xc3\xa9j\xc3\xa0 vu \"x\"", HEX_A);
        pred = json_pack("{s:i, s:[s, n], s:{}}", "n", 42, "list", "x", "o");
        assert_non_null(pred);
        vt_buf_init(&out);
        assert_int_equal(
            vt_encoding_statement_build(s, 3, "https://example.com/p/v1", pred, &out, NULL), 0);
        assert_int_equal(parse_str((const char *)out.p, &st, NULL), 0);
        assert_string_equal(st.predicate_type, "https://example.com/p/v1");
        assert_int_equal(st.nsubjects, 3);
        assert_string_equal(st.subjects[0].name, "a");
        assert_null(st.subjects[1].name);
        assert_string_equal(st.subjects[2].name, "d\xc3\xa9j\xc3\xa0 vu \"x\"");
        assert_true(st.subjects[1].has_sha256);
        assert_memory_equal(st.subjects[1].sha256.b, s[1].sha256.b, 32);
        assert_non_null(st.predicate);
        assert_true(json_equal((json_t *)st.predicate, pred));
        vt_encoding_statement_release(&st);
        assert_null(st.json);
        json_decref(pred);
        vt_buf_release(&out);
}

static void build_refusals(void **state)
{
        struct vt_encoding_subject s[2];
        struct vt_diag d = {""};
        json_t *arr = json_array();
        struct vt_buf out;

        (void)state;
        vt_buf_init(&out);
        subject_set(&s[0], "a", HEX_A);
        subject_set(&s[1], "a", HEX_E);
        assert_int_equal(vt_encoding_statement_build(s, 0, "t", NULL, &out, &d), VT_EINVAL);
        assert_int_equal(vt_encoding_statement_build(s, 1, "", NULL, &out, &d), VT_EINVAL);
        assert_int_equal(vt_encoding_statement_build(s, 1, "a\nb", NULL, &out, &d), VT_EINVAL);
        assert_int_equal(vt_encoding_statement_build(s, 1, "\xff", NULL, &out, &d), VT_EINVAL);
        assert_int_equal(vt_encoding_statement_build(s, 1, "t", arr, &out, &d), VT_EINVAL);
        assert_int_equal(vt_encoding_statement_build(s, 2, "t", NULL, &out, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "given twice"));
        s[1].name = "\xc3";
        assert_int_equal(vt_encoding_statement_build(s, 2, "t", NULL, &out, &d), VT_EINVAL);
        s[1].name = "b";
        s[1].has_sha256 = 0;
        assert_int_equal(vt_encoding_statement_build(s, 2, "t", NULL, &out, &d), VT_EINVAL);
        assert_int_equal(vt_encoding_statement_build(s, VT_ENCODING_STATEMENT_SUBJECTS_MAX + 1, "t",
                                                     NULL, &out, &d),
                         VT_ETOOBIG);
        /* Nothing appended on failure. */
        assert_int_equal(out.len, 0);
        json_decref(arr);
        vt_buf_release(&out);
}

/* ---- parse: what the spec lets through ---- */

static const char *const good[] = {
    ST(ONE_SUBJECT, ""),
    ST(ONE_SUBJECT, ",\"predicate\":{}"),
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":[1,2,{\"b\":null}]},\"extension\":true"),
    /* no name; other digests only; unknown algorithms kept */
    ST("[{\"digest\":{\"sha512\":\"" HEX_A HEX_E "\"}}]", ""),
    ST("[{\"digest\":{\"gitCommit\":\"0123456789abcdef0123456789abcdef01234567\"}}]", ""),
    ST("[{\"digest\":{\"somecoolhash\":\"ABCD+/=\"},\"uri\":\"pkg:x/y\"}]", ""),
    ST("[{\"name\":\"_\",\"digest\":{\"sha256\":\"" HEX_A "\",\"md5\":"
       "\"0123456789abcdef0123456789abcdef\"},\"annotations\":{\"k\":1}}]",
       ""),
    /* duplicate names are a SHOULD NOT in the spec: accepted */
    ST("[{\"name\":\"a\",\"digest\":{\"sha256\":\"" HEX_A "\"}},{\"name\":\"a\",\"digest\":"
       "{\"sha256\":\"" HEX_E "\"}}]",
       ""),
};

static void parse_accepts(void **state)
{
        struct vt_encoding_statement st;
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                d.msg[0] = '\0';
                if (parse_str(good[i], &st, &d) != 0)
                        fail_msg("good[%zu] refused: %s", i, d.msg);
                vt_encoding_statement_release(&st);
        }
        assert_int_equal(parse_str(good[3], &st, NULL), 0);
        assert_false(st.subjects[0].has_sha256);
        assert_null(st.subjects[0].name);
        assert_null(st.predicate);
        vt_encoding_statement_release(&st);
}

/* ---- parse: negative vectors ---- */

static const struct {
        const char *desc, *json;
        int err;
} bad[] = {
    {"not JSON", "{", VT_EMALFORMED},
    {"array", "[]", VT_EMALFORMED},
    {"trailing garbage", ST(ONE_SUBJECT, "") "x", VT_EMALFORMED},
    {"duplicate key", ST(ONE_SUBJECT, ",\"predicateType\":\"x\""), VT_EMALFORMED},
    {"_type missing",
     "{\"subject\":" ONE_SUBJECT ",\"predicateType\":\"https://example.com/p/v1\"}", VT_EMALFORMED},
    {"_type v0.1",
     "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":" ONE_SUBJECT
     ",\"predicateType\":\"p\"}",
     VT_EMALFORMED},
    {"_type with a trailing slash",
     "{\"_type\":\"https://in-toto.io/Statement/v1/\",\"subject\":" ONE_SUBJECT
     ",\"predicateType\":\"p\"}",
     VT_EMALFORMED},
    {"_type a number", "{\"_type\":1,\"subject\":" ONE_SUBJECT ",\"predicateType\":\"p\"}",
     VT_EMALFORMED},
    {"subject missing", "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"p\"}",
     VT_EMALFORMED},
    {"subject empty", ST("[]", ""), VT_EMALFORMED},
    {"subject an object", ST("{}", ""), VT_EMALFORMED},
    {"subject element a string", ST("[\"a\"]", ""), VT_EMALFORMED},
    {"digest missing", ST("[{\"name\":\"a\"}]", ""), VT_EMALFORMED},
    {"digest empty", ST("[{\"name\":\"a\",\"digest\":{}}]", ""), VT_EMALFORMED},
    {"digest a string", ST("[{\"name\":\"a\",\"digest\":\"" HEX_A "\"}]", ""), VT_EMALFORMED},
    {"digest value a number", ST("[{\"digest\":{\"sha256\":1}}]", ""), VT_EMALFORMED},
    {"digest value empty", ST("[{\"digest\":{\"foo\":\"\"}}]", ""), VT_EMALFORMED},
    {"sha256 uppercase",
     ST("[{\"digest\":{\"sha256\":"
        "\"B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9"
        "\"}}]",
        ""),
     VT_EMALFORMED},
    {"sha256 63 characters",
     ST("[{\"digest\":{\"sha256\":\"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde"
        "\"}}]",
        ""),
     VT_EMALFORMED},
    {"sha256 65 characters", ST("[{\"digest\":{\"sha256\":\"" HEX_A "0\"}}]", ""), VT_EMALFORMED},
    {"sha256 not hex",
     ST("[{\"digest\":{\"sha256\":"
        "\"g94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        "\"}}]",
        ""),
     VT_EMALFORMED},
    {"sha1 wrong length", ST("[{\"digest\":{\"sha1\":\"" HEX_A "\"}}]", ""), VT_EMALFORMED},
    {"gitCommit 41 characters",
     ST("[{\"digest\":{\"gitCommit\":\"0123456789abcdef0123456789abcdef012345678\"}}]", ""),
     VT_EMALFORMED},
    {"blake2b odd length", ST("[{\"digest\":{\"blake2b\":\"abc\"}}]", ""), VT_EMALFORMED},
    {"name a number", ST("[{\"name\":7,\"digest\":{\"sha256\":\"" HEX_A "\"}}]", ""),
     VT_EMALFORMED},
    {"predicateType missing",
     "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT "}", VT_EMALFORMED},
    {"predicateType empty",
     "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
     ",\"predicateType\":\"\"}",
     VT_EMALFORMED},
    {"predicateType an object",
     "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
     ",\"predicateType\":{}}",
     VT_EMALFORMED},
    {"predicateType with a newline",
     "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
     ",\"predicateType\":\"a\\nb\"}",
     VT_EMALFORMED},
    {"predicate an array", ST(ONE_SUBJECT, ",\"predicate\":[]"), VT_EMALFORMED},
    {"predicate null", ST(ONE_SUBJECT, ",\"predicate\":null"), VT_EMALFORMED},
    {"predicate a string", ST(ONE_SUBJECT, ",\"predicate\":\"{}\""), VT_EMALFORMED},
};

static void parse_negative_vectors(void **state)
{
        struct vt_encoding_statement st;
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int err;

                d.msg[0] = '\0';
                err = parse_str(bad[i].json, &st, &d);
                if (err != bad[i].err)
                        fail_msg("%s: got %d (%s), want %d", bad[i].desc, err, d.msg, bad[i].err);
                assert_null(st.json);
                assert_null(st.subjects);
                assert_true(strncmp(d.msg, "statement", 9) == 0);
        }
}

static void parse_diagnostic_names_the_field(void **state)
{
        struct vt_encoding_statement st;
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(parse_str(ST("[{\"digest\":{\"sha256\":\"" HEX_A "\"}},{\"digest\":{"
                                      "\"sha256\":\"00\"}}]",
                                      ""),
                                   &st, &d),
                         VT_EMALFORMED);
        assert_non_null(strstr(d.msg, "subject[1].digest.sha256"));
}

static void parse_limits(void **state)
{
        struct vt_encoding_statement st;
        struct vt_buf b;
        size_t n = VT_ENCODING_STATEMENT_MAX + 1, i;
        uint8_t *p = malloc(n);

        (void)state;
        assert_non_null(p);
        memset(p, ' ', n);
        vt_encoding_statement_init(&st);
        assert_int_equal(vt_encoding_statement_parse(p, n, &st, NULL), VT_ETOOBIG);
        free(p);

        /* One subject too many. */
        vt_buf_init(&b);
        assert_int_equal(
            vt_buf_puts(&b, "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":"
                            "\"p\",\"subject\":["),
            0);
        for (i = 0; i <= VT_ENCODING_STATEMENT_SUBJECTS_MAX; i++)
                assert_int_equal(
                    vt_buf_printf(&b, "%s{\"digest\":{\"x\":\"%zu\"}}", i ? "," : "", i), 0);
        assert_int_equal(vt_buf_puts(&b, "]}"), 0);
        assert_int_equal(vt_encoding_statement_parse(b.p, b.len, &st, NULL), VT_ETOOBIG);
        vt_buf_release(&b);

        /* A name longer than the limit. */
        vt_buf_init(&b);
        assert_int_equal(
            vt_buf_puts(&b, "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":"
                            "\"p\",\"subject\":[{\"digest\":{\"x\":\"y\"},\"name\":\""),
            0);
        for (i = 0; i <= VT_ENCODING_STATEMENT_NAME_MAX; i++)
                assert_int_equal(vt_buf_puts(&b, "n"), 0);
        assert_int_equal(vt_buf_puts(&b, "\"}]}"), 0);
        assert_int_equal(vt_encoding_statement_parse(b.p, b.len, &st, NULL), VT_ETOOBIG);
        vt_buf_release(&b);

        /* Nesting deeper than the JSON limit. */
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, ST(ONE_SUBJECT, ",\"predicate\":")), 0);
        b.len--; /* drop the closing brace */
        for (i = 0; i < 40; i++)
                assert_int_equal(vt_buf_puts(&b, "{\"a\":"), 0);
        assert_int_equal(vt_buf_puts(&b, "1"), 0);
        for (i = 0; i < 41; i++)
                assert_int_equal(vt_buf_puts(&b, "}"), 0);
        assert_int_equal(vt_encoding_statement_parse(b.p, b.len, &st, NULL), VT_ETOOBIG);
        vt_buf_release(&b);
}

static void from_envelope_checks_payload_type(void **state)
{
        static const char stmt[] = ST(ONE_SUBJECT, "");
        struct vt_encoding_statement st;
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};

        (void)state;
        vt_encoding_dsse_init(&e);
        vt_encoding_statement_init(&st);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "application/json", (const uint8_t *)stmt,
                                                      strlen(stmt), NULL),
                         0);
        assert_int_equal(vt_encoding_statement_from_envelope(&e, &st, &d), VT_EMALFORMED);
        assert_non_null(strstr(d.msg, "payloadType"));
        vt_encoding_dsse_release(&e);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE,
                                                      (const uint8_t *)stmt, strlen(stmt), NULL),
                         0);
        assert_int_equal(vt_encoding_statement_from_envelope(&e, &st, &d), 0);
        assert_int_equal(st.nsubjects, 1);
        vt_encoding_statement_release(&st);
        vt_encoding_dsse_release(&e);
}

/* ---- scan (no tree): the same decisions as parse ---- */

/*
 * The reference: statement_ref.h, the statement rules applied to a jansson
 * tree of vt_encoding_json_parse(), as statement.c applied them before parse
 * and scan shared one validation walk (shared with fuzz/fuzz_jscan.c). It
 * shares no code with that walk, so the differential tests below catch a
 * change of behaviour of the walk as well as a divergence of the scan from
 * the parse.
 */
/* What one reader made of an input. */
struct outcome {
        int err;
        int json; /* the reference only: refused before the statement rules */
        char msg[VT_DIAG_MAX];
        char pt[VT_ENCODING_STATEMENT_URI_MAX + 1]; /* on success */
        size_t ptn, nsubjects, nsha;
        struct vt_hash *sha; /* nsha digests, malloc'ed */
};

static void outcome_add_sha(struct outcome *o, const struct vt_hash *h)
{
        o->sha = realloc(o->sha, (o->nsha + 1) * sizeof(*o->sha));
        assert_non_null(o->sha);
        o->sha[o->nsha++] = *h;
}

static void ref_run(const uint8_t *p, size_t n, struct outcome *r)
{
        struct vt_encoding_statement st;
        struct vt_diag d = {""};
        size_t i;

        memset(r, 0, sizeof(*r));
        vt_encoding_statement_init(&st);
        r->err = ref_statement_parse(p, n, &st, &d, &r->json);
        snprintf(r->msg, sizeof(r->msg), "%s", d.msg);
        if (r->err != 0)
                return;
        /* statement_ref.h refuses control characters, so no NUL inside. */
        r->ptn = strlen(st.predicate_type);
        assert_true(r->ptn <= VT_ENCODING_STATEMENT_URI_MAX);
        memcpy(r->pt, st.predicate_type, r->ptn + 1);
        r->nsubjects = st.nsubjects;
        for (i = 0; i < st.nsubjects; i++)
                if (st.subjects[i].has_sha256)
                        outcome_add_sha(r, &st.subjects[i].sha256);
        vt_encoding_statement_release(&st);
}

static void parse_run(const uint8_t *p, size_t n, struct outcome *o)
{
        struct vt_encoding_statement st;
        struct vt_diag d = {""};
        size_t i;

        memset(o, 0, sizeof(*o));
        vt_encoding_statement_init(&st);
        o->err = vt_encoding_statement_parse(p, n, &st, &d);
        snprintf(o->msg, sizeof(o->msg), "%s", d.msg);
        if (o->err != 0) {
                assert_null(st.json);
                assert_null(st.subjects);
                return;
        }
        o->ptn = strlen(st.predicate_type);
        assert_true(o->ptn <= VT_ENCODING_STATEMENT_URI_MAX);
        memcpy(o->pt, st.predicate_type, o->ptn + 1);
        o->nsubjects = st.nsubjects;
        for (i = 0; i < st.nsubjects; i++)
                if (st.subjects[i].has_sha256)
                        outcome_add_sha(o, &st.subjects[i].sha256);
        vt_encoding_statement_release(&st);
}

static void scan_run(const uint8_t *p, size_t n, struct outcome *o)
{
        struct vt_encoding_statement_digests sd, before;
        struct vt_diag d = {""};
        size_t i;

        memset(o, 0, sizeof(*o));
        memset(&sd, 0xa5, sizeof(sd));
        vt_encoding_statement_digests_init(&sd);
        memcpy(&before, &sd, sizeof(sd));
        o->err = vt_encoding_statement_scan(p, n, &sd, &d);
        snprintf(o->msg, sizeof(o->msg), "%s", d.msg);
        if (o->err != 0) {
                /* Untouched, byte for byte. */
                assert_memory_equal(&before, &sd, sizeof(sd));
                return;
        }
        assert_int_equal(strlen(sd.predicate_type), sd.predicate_type_len);
        assert_true(sd.nsha256 <= sd.nsubjects);
        assert_int_equal(sd.sha256 == sd.sha256_inline,
                         sd.nsha256 <= VT_ENCODING_STATEMENT_DIGESTS_INLINE);
        o->ptn = sd.predicate_type_len;
        memcpy(o->pt, sd.predicate_type, o->ptn + 1);
        o->nsubjects = sd.nsubjects;
        for (i = 0; i < sd.nsha256; i++)
                outcome_add_sha(o, &sd.sha256[i]);
        vt_encoding_statement_digests_release(&sd);
        assert_true(sd.sha256 == sd.sha256_inline && sd.nsha256 == 0 && sd.nsubjects == 0);
}

static int same_result(const struct outcome *a, const struct outcome *b)
{
        return a->ptn == b->ptn && memcmp(a->pt, b->pt, a->ptn) == 0 &&
               a->nsubjects == b->nsubjects && a->nsha == b->nsha &&
               (a->nsha == 0 || memcmp(a->sha, b->sha, a->nsha * sizeof(*a->sha)) == 0);
}

/* How many inputs the differential saw, by outcome. */
struct tally {
        size_t runs, ok, malformed, toobig, with_sha;
};

/*
 * check_same(t, p, n, what, k): p[0..n) (input k made from what) through
 * vt_encoding_statement_parse(), vt_encoding_statement_scan() and the
 * reference: the same code and message from all three (from the reference,
 * the code only when the JSON layer refused: jscan.c and jansson word a few
 * reasons differently), the same predicate type, subject count and sha256
 * digests on success.
 */
static void check_same(struct tally *t, const uint8_t *p, size_t n, const char *what, size_t k)
{
        struct outcome a, b, r;
        int show = n < 160 ? (int)n : 160;

        parse_run(p, n, &a);
        scan_run(p, n, &b);
        ref_run(p, n, &r);
        if (a.err != b.err || strcmp(a.msg, b.msg) != 0)
                fail_msg("%s #%zu: parse %d '%s', scan %d '%s': %.*s", what, k, a.err, a.msg, b.err,
                         b.msg, show, (const char *)p);
        if (a.err != r.err || (!r.json && strcmp(a.msg, r.msg) != 0))
                fail_msg("%s #%zu: parse %d '%s', reference %d '%s': %.*s", what, k, a.err, a.msg,
                         r.err, r.msg, show, (const char *)p);
        if (a.err == 0 && (!same_result(&a, &b) || !same_result(&a, &r)))
                fail_msg("%s #%zu: parse, scan and reference accept with different results: %.*s",
                         what, k, show, (const char *)p);
        t->runs++;
        t->ok += a.err == 0;
        t->malformed += a.err == VT_EMALFORMED;
        t->toobig += a.err == VT_ETOOBIG;
        t->with_sha += a.err == 0 && a.nsha > 0;
        free(a.sha);
        free(b.sha);
        free(r.sha);
}

static void check_same_str(struct tally *t, const char *s, const char *what, size_t k)
{
        check_same(t, (const uint8_t *)s, strlen(s), what, k);
}

/* Statements for the differential beyond good[] and bad[]: escapes, order, mixtures. */
/* HEX_A without its first character, a 'b' */
#define HEX_A_TAIL "94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
/* predicateType with escapes; decoded: "https://example.com/p/v1" U+00E9 U+1F600 */
#define ST_PT_ESCAPED                                                                              \
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT                  \
        ",\"predicateType\":\"https:\\/\\/example.com\\/p\\/v1\\u00e9\\ud83d\\ude00\"}"
/* every key it reads escaped, and the sha256 value ("\u0062" is 'b', HEX_A's first) */
#define ST_KEYS_ESCAPED                                                                            \
        "{\"\\u005ftype\":\"https:\\/\\/in-toto.io\\/Statement\\/v1\",\"subj\\u0065ct\":[{"        \
        "\"n\\u0061me\":\"\\u0041\",\"dig\\u0065st\":{\"sha\\u0032\\u00356\":\"\\u0062" HEX_A_TAIL \
        "\"}}],\"pred\\u0069cateType\":\"p\",\"pr\\u0065dicate\":{}}"
/* four subjects, a sha256 on the second (HEX_E) and the fourth (HEX_A) */
#define ST_MIXED                                                                                   \
        ST("[{\"digest\":{\"sha512\":\"" HEX_A HEX_E "\"}},{\"digest\":{\"sha256\":\"" HEX_E       \
           "\"}},{\"name\":\"m\",\"digest\":{\"md5\":\"0123456789abcdef0123456789abcdef\"}},"      \
           "{\"digest\":{\"md5\":\"0123456789abcdef0123456789abcdef\",\"sha256\":\"" HEX_A         \
           "\"}}]",                                                                                \
           "")

/* Statements for the differential beyond good[] and bad[]: escapes, order, mixtures. */
static const char *const extra[] = {
    ST_PT_ESCAPED,
    ST_KEYS_ESCAPED,
    ST_MIXED,
    /* control characters in predicateType, escaped or not; non-ASCII */
    "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
    ",\"predicateType\":\"a\\tb\"}",
    "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
    ",\"predicateType\":\"a\\u007f\"}",
    "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
    ",\"predicateType\":\"a\x7f\"}",
    "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":" ONE_SUBJECT
    ",\"predicateType\":\"\\u00e9\"}",
    /* escaped digest keys and values: decoded before they are checked */
    ST("[{\"digest\":{\"sha\\u0032\\u00356\":\"\\u0062" HEX_A_TAIL "\"}}]", ""),
    ST("[{\"digest\":{\"sha\\u0032\\u00356\":\"\\u0062\\u0039" HEX_A_TAIL "\"}}]", ""),
    ST("[{\"digest\":{\"sha\\u0032\\u00356\":\"\\u0042" HEX_A_TAIL "\"}}]", ""),
    ST("[{\"digest\":{\"\\u00e9t\\u00e9\":\"\\u00e9\"}}]", ""),
    ST("[{\"digest\":{\"s\\u0068a1\":[]}}]", ""),
    "{\"_type\":\"https://in-toto.io/Statement/v\\u00e9\",\"subject\":" ONE_SUBJECT
    ",\"predicateType\":\"p\"}",
    "{\"_type\":\"https://in-toto.io/Statement/v1\\u0000\",\"subject\":" ONE_SUBJECT
    ",\"predicateType\":\"p\"}",
    /* long subjects in a message: an algorithm cut at 64 bytes, a _type at 80 */
    ST("[{\"digest\":{\"" HEX_A "\\u00e9x\":\"\"}}]", ""),
    "{\"_type\":\"" HEX_A HEX_E "\",\"subject\":" ONE_SUBJECT ",\"predicateType\":\"p\"}",
    /* two bad digest values: the first in document order is named */
    ST("[{\"digest\":{\"sha1\":\"x\",\"sha256\":\"y\"}}]", ""),
    ST("[{\"digest\":{\"sha256\":\"y\",\"sha1\":\"x\"}}]", ""),
    ST("[{\"digest\":{\"x\":1,\"sha256\":\"y\"}}]", ""),
    /* two bad fields: the rules' order decides, not the document's */
    "{\"subject\":[],\"predicate\":1,\"predicateType\":\"\",\"_type\":1}",
    "{\"subject\":[],\"predicate\":1,\"predicateType\":\"\",\"_type\":\"" VT_ENCODING_STATEMENT_TYPE
    "\"}",
    "{\"subject\":[],\"predicate\":1,\"predicateType\":\"p\",\"_type\":"
    "\"" VT_ENCODING_STATEMENT_TYPE "\"}",
    "{\"subject\":[{\"name\":1,\"digest\":1}],\"predicateType\":\"p\",\"_type\":"
    "\"" VT_ENCODING_STATEMENT_TYPE "\"}",
    "{\"subject\":[{\"digest\":{}},{}],\"predicateType\":\"p\",\"_type\":"
    "\"" VT_ENCODING_STATEMENT_TYPE "\"}",
    /* a bad subject before a bad field of the root: the root's rules come first */
    "{\"subject\":[{\"digest\":{}}],\"_type\":1,\"predicateType\":\"p\"}",
    "{\"subject\":[{\"digest\":{\"sha256\":\"x\"}},7],\"predicate\":[],\"predicateType\":\"p\","
    "\"_type\":\"" VT_ENCODING_STATEMENT_TYPE "\"}",
    /* a bad digest before a bad name: the name's rules come first */
    ST("[{\"digest\":{\"sha256\":\"x\"},\"name\":1}]", ""),
    ST("[{\"digest\":{\"sha256\":[1,{\"a\":2}]},\"name\":[]}]", ""),
    ST("[{\"digest\":{\"sha256\":\"" HEX_A "\"},\"name\":\"a\"},{\"digest\":{}},{\"digest\":1}]",
       ""),
    /* nested look-alikes are not the statement's fields */
    "{\"x\":{\"_type\":1,\"subject\":[],\"predicateType\":\"\"},\"_type\":"
    "\"" VT_ENCODING_STATEMENT_TYPE "\",\"subject\":[{\"digest\":{\"sha256\":\"" HEX_A
    "\"},\"x\":{\"digest\":1,\"name\":2}}],"
    "\"predicateType\":\"p\",\"y\":[{\"digest\":{}}]}",
    /* white space everywhere */
    " \n{ \"_type\" : \"https://in-toto.io/Statement/v1\" ,\r\n \"subject\" :\t[ { \"name\" : "
    "\"a\" , \"digest\" : { \"sha256\" : \"" HEX_A "\" } } ] , \"predicateType\" : \"p\" , "
    "\"predicate\" : { } } \n",
    /* names: null, an object, escaped, empty */
    ST("[{\"name\":null,\"digest\":{\"sha256\":\"" HEX_A "\"}}]", ""),
    ST("[{\"name\":{},\"digest\":{\"sha256\":\"" HEX_A "\"}}]", ""),
    ST("[{\"name\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"digest\":{\"sha256\":\"" HEX_A "\"}}]", ""),
    ST("[{\"name\":\"\",\"digest\":{\"sha256\":\"" HEX_A "\"}}]", ""),
    /* digests: null, an array, uppercase for known and unknown algorithms, lengths */
    ST("[{\"digest\":null}]", ""),
    ST("[{\"digest\":[\"" HEX_A "\"]}]", ""),
    ST("[{\"digest\":{\"md5\":\"0123456789ABCDEF0123456789abcdef\"}}]", ""),
    ST("[{\"digest\":{\"sha512\":\"" HEX_A "\"}}]", ""),
    ST("[{\"digest\":{\"Sha256\":\"" HEX_A "X\"}}]", ""),
    ST("[{\"digest\":{\"gitCommit\":\"" HEX_A "\"}}]", ""),
    ST("[{\"digest\":{\"gitTag\":\"" HEX_A "00\"}}]", ""),
    ST("[{\"digest\":{\"shake256\":\"00\"}}]", ""),
    ST("[{\"digest\":{\"shake256\":\"0\"}}]", ""),
    ST("[{\"digest\":{\"\":\"0\"}}]", ""),
    /* predicate: a deep but allowed object; a huge key count */
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":{\"b\":{\"c\":[[[{\"d\":[1.5e3,-0,true,false]}]]]}}}"),
    ST(ONE_SUBJECT,
       ",\"predicate\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
       "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,"
       "\"q\":17,\"r\":18,\"s\":19}"),
    /* JSON refusals */
    "",
    "   ",
    "\"x\"",
    "{\"_type\":\"" VT_ENCODING_STATEMENT_TYPE "\",\"_type\":\"" VT_ENCODING_STATEMENT_TYPE "\"}",
    "{\"_type\":\"" VT_ENCODING_STATEMENT_TYPE "\",\"\\u005ftype\":\"" VT_ENCODING_STATEMENT_TYPE
    "\"}",
    ST("[{\"digest\":{\"sha256\":\"" HEX_A "\",\"sha\\u0032\\u00356\":\"" HEX_A "\"}}]", ""),
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":01}"),
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":1e999}"),
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":9223372036854775808}"),
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":\"\\ud800\"}"),
    ST(ONE_SUBJECT, ",\"predicate\":{\"a\":\"\xc0\xaf\"}"),
};

/* A statement built by vt_encoding_statement_build() with n subjects (sha256 on the even ones). */
static void many_subjects(struct vt_buf *b, size_t n, int all_sha256)
{
        size_t i;

        assert_int_equal(vt_buf_puts(b, "{\"_type\":\"https://in-toto.io/Statement/v1\","
                                        "\"predicateType\":\"p\",\"subject\":["),
                         0);
        for (i = 0; i < n; i++) {
                struct vt_hash h;
                char hex[65];

                vt_crypto_sha256((const uint8_t *)&i, sizeof(i), &h);
                vt_encoding_hex_encode(h.b, 32, hex);
                assert_int_equal(
                    vt_buf_printf(b, "%s{\"name\":\"f%zu\",\"digest\":{\"%s\":\"%s\"}}",
                                  i ? "," : "", i, all_sha256 || i % 2 == 0 ? "sha256" : "sha3_256",
                                  hex),
                    0);
        }
        assert_int_equal(vt_buf_puts(b, "]}"), 0);
}

static void scan_matches_parse_on_vectors(void **state)
{
        struct tally t = {0};
        struct vt_buf b, file;
        struct vt_encoding_dsse e;
        struct vt_encoding_subject s[3];
        char path[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                check_same_str(&t, good[i], "good", i);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                check_same_str(&t, bad[i].json, bad[i].desc, i);
        for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
                check_same_str(&t, extra[i], "extra", i);

        /* What build writes, and the golden envelope's statement. */
        subject_set(&s[0], "a", HEX_A);
        subject_set(&s[1], NULL, HEX_E);
        subject_set(&s[2], "d\xc3\xa9j\xc3\xa0 vu \"x\"", HEX_A);
        vt_buf_init(&b);
        assert_int_equal(
            vt_encoding_statement_build(s, 3, "https://example.com/p/v1", NULL, &b, NULL), 0);
        check_same(&t, b.p, b.len, "built", 0);
        vt_buf_release(&b);
        snprintf(path, sizeof(path), "%s/dsse/golden-attest.json", data_dir());
        vt_buf_init(&file);
        assert_int_equal(vt_util_read_file(path, 1 << 20, &file, NULL), 0);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(file.p, file.len, &e, NULL), 0);
        check_same(&t, e.payload, e.payload_len, "golden", 0);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&file);

        /* Both decisions and both refusal codes were seen. */
        assert_true(t.ok >= 20 && t.with_sha >= 10 && t.malformed >= 50);
}

/* ---- generated mutations ---- */

/*
 * The byte mutations of base[0..n): every truncation, and at every position a
 * deletion, a case flip (lowercase hex becomes uppercase), a low-bit flip
 * and a few structural or invalid bytes.
 */
static void mutate_bytes(struct tally *t, const uint8_t *base, size_t n, const char *what)
{
        static const uint8_t subst[] = {'"', '\\', '}', ']', ',', '1', 'a', ' ', 0x7f, 0xc3};
        uint8_t *q = malloc(n + 1);
        size_t i, j, k = 0;

        assert_non_null(q);
        for (i = 0; i < n; i++)
                check_same(t, base, i, what, k++);
        for (i = 0; i < n; i++) {
                memcpy(q, base, i);
                memcpy(q + i, base + i + 1, n - i - 1);
                check_same(t, q, n - 1, what, k++);
                memcpy(q, base, n);
                q[i] = base[i] ^ 0x20;
                check_same(t, q, n, what, k++);
                q[i] = base[i] ^ 0x01;
                check_same(t, q, n, what, k++);
                for (j = 0; j < sizeof(subst); j++) {
                        if (base[i] == subst[j])
                                continue;
                        q[i] = subst[j];
                        check_same(t, q, n, what, k++);
                }
        }
        free(q);
}

/*
 * A structural mutation of a jansson tree, applied while writing it out: at
 * the member or element number slot of the container at, delete it, write
 * it twice (a duplicate key in an object), write with instead of its value
 * or write it first (the rules' order against the document's).
 * escape writes every ASCII character of every string and key as \uXXXX
 * (and '/' as "\/"); pretty adds white space.
 */
enum { MUT_NONE, MUT_DELETE, MUT_TWICE, MUT_REPLACE, MUT_FIRST };

struct mutation {
        const json_t *at;
        size_t slot;
        int op;
        const json_t *with;
        int escape, pretty;
};

static void put_json_string(struct vt_buf *b, const char *s, size_t n, int escape)
{
        size_t i;

        assert_int_equal(vt_buf_puts(b, "\""), 0);
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '"' || c == '\\')
                        assert_int_equal(vt_buf_printf(b, "\\%c", c), 0);
                else if (escape && c == '/')
                        assert_int_equal(vt_buf_puts(b, "\\/"), 0);
                else if (c < 0x20 || (escape && c < 0x80))
                        assert_int_equal(vt_buf_printf(b, "\\u%04x", c), 0);
                else
                        assert_int_equal(vt_buf_append(b, &s[i], 1), 0);
        }
        assert_int_equal(vt_buf_puts(b, "\""), 0);
}

static void put_json(struct vt_buf *b, const json_t *v, const struct mutation *m);

/* The value (and key, NULL in an array) of member or element i of the container v. */
static const json_t *slot_of(const json_t *v, size_t i, const char **key)
{
        void *it;

        if (json_is_array(v)) {
                *key = NULL;
                return json_array_get(v, i);
        }
        for (it = json_object_iter((json_t *)v); i > 0; i--)
                it = json_object_iter_next((json_t *)v, it);
        *key = json_object_iter_key(it);
        return json_object_iter_value(it);
}

/* One member (key not NULL) or element, after a separator unless *first. */
static void put_slot(struct vt_buf *b, const char *key, const json_t *x, const struct mutation *m,
                     int *first)
{
        if (!*first)
                assert_int_equal(vt_buf_puts(b, m->pretty ? " ,\n  " : ","), 0);
        *first = 0;
        if (key != NULL) {
                put_json_string(b, key, strlen(key), m->escape);
                assert_int_equal(vt_buf_puts(b, m->pretty ? " : " : ":"), 0);
        }
        put_json(b, x, m);
}

static void put_json(struct vt_buf *b, const json_t *v, const struct mutation *m)
{
        size_t i, k, times, size;
        const json_t *x;
        const char *key;
        char *s;
        int first = 1;

        if (json_is_string(v)) {
                put_json_string(b, json_string_value(v), json_string_length(v), m->escape);
                return;
        }
        if (!json_is_object(v) && !json_is_array(v)) {
                s = json_dumps(v, JSON_ENCODE_ANY);
                assert_non_null(s);
                assert_int_equal(vt_buf_puts(b, s), 0);
                free(s);
                return;
        }
        assert_int_equal(vt_buf_puts(b, json_is_object(v) ? "{" : "["), 0);
        size = json_is_object(v) ? json_object_size(v) : json_array_size(v);
        if (v == m->at && m->op == MUT_FIRST) {
                x = slot_of(v, m->slot, &key);
                put_slot(b, key, x, m, &first);
        }
        for (i = 0; i < size; i++) {
                x = slot_of(v, i, &key);
                times = 1;
                if (v == m->at && i == m->slot) {
                        if (m->op == MUT_DELETE || m->op == MUT_FIRST)
                                times = 0;
                        else if (m->op == MUT_TWICE)
                                times = 2;
                        else if (m->op == MUT_REPLACE)
                                x = m->with;
                }
                for (k = 0; k < times; k++)
                        put_slot(b, key, x, m, &first);
        }
        assert_int_equal(vt_buf_puts(b, json_is_object(v) ? "}" : "]"), 0);
}

static void check_mutation(struct tally *t, const json_t *root, const struct mutation *m,
                           const char *what, size_t *k)
{
        struct vt_buf b;

        vt_buf_init(&b);
        put_json(&b, root, m);
        check_same(t, b.p, b.len, what, (*k)++);
        vt_buf_release(&b);
}

/* Every structural mutation of every member and element of node, then of its children. */
static void mutate_tree(struct tally *t, const json_t *root, const json_t *node,
                        json_t *const *with, size_t nwith, const char *what, size_t *k)
{
        struct mutation m = {node, 0, MUT_NONE, NULL, 0, 0};
        size_t i, j, size;

        if (!json_is_object(node) && !json_is_array(node))
                return;
        size = json_is_object(node) ? json_object_size(node) : json_array_size(node);
        for (i = 0; i < size; i++) {
                m.slot = i;
                m.op = MUT_DELETE;
                check_mutation(t, root, &m, what, k);
                m.op = MUT_TWICE;
                check_mutation(t, root, &m, what, k);
                if (i > 0) {
                        m.op = MUT_FIRST;
                        check_mutation(t, root, &m, what, k);
                }
                m.op = MUT_REPLACE;
                for (j = 0; j < nwith; j++) {
                        m.with = with[j];
                        check_mutation(t, root, &m, what, k);
                }
        }
        if (json_is_object(node)) {
                const char *key;
                json_t *x;

                json_object_foreach((json_t *)node, key, x)
                {
                        (void)key;
                        mutate_tree(t, root, x, with, nwith, what, k);
                }
        } else {
                for (i = 0; i < size; i++)
                        mutate_tree(t, root, json_array_get(node, i), with, nwith, what, k);
        }
}

static void mutate_all(struct tally *t, const char *base, const char *what, json_t *const *with,
                       size_t nwith)
{
        struct mutation whole = {NULL, 0, MUT_NONE, NULL, 0, 0};
        size_t n = strlen(base), k = 0;
        json_t *root;

        if (n <= 1024)
                mutate_bytes(t, (const uint8_t *)base, n, what);
        root = json_loadb(base, n, JSON_REJECT_DUPLICATES, NULL);
        if (root == NULL)
                return;
        /* The whole document written again: plain, escaped, pretty, both. */
        for (whole.escape = 0; whole.escape < 2; whole.escape++)
                for (whole.pretty = 0; whole.pretty < 2; whole.pretty++)
                        check_mutation(t, root, &whole, what, &k);
        mutate_tree(t, root, root, with, nwith, what, &k);
        json_decref(root);
}

static void scan_matches_parse_on_mutations(void **state)
{
        json_t *with[] = {
            json_null(),
            json_integer(0),
            json_string(""),
            json_string("x"),
            json_array(),
            json_object(),
            json_true(),
            json_string(HEX_A),
            json_string(VT_ENCODING_STATEMENT_TYPE),
            json_pack("[{s:{s:s}}]", "digest", "sha256", HEX_E),
            json_pack("{s:s}", "sha256", HEX_E),
        };
        struct tally t = {0};
        size_t i, nwith = sizeof(with) / sizeof(with[0]);

        (void)state;
        for (i = 0; i < nwith; i++)
                assert_non_null(with[i]);
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                mutate_all(&t, good[i], "good mutated", with, nwith);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                mutate_all(&t, bad[i].json, bad[i].desc, with, nwith);
        for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
                mutate_all(&t, extra[i], "extra mutated", with, nwith);
        for (i = 0; i < nwith; i++)
                json_decref(with[i]);
        print_message("differential: %zu mutations, %zu accepted, %zu malformed, %zu too big\n",
                      t.runs, t.ok, t.malformed, t.toobig);
        assert_true(t.ok >= 1000 && t.with_sha >= 500 && t.malformed >= 10000);
}

/* Names, predicate types, subject counts and nesting at their limits and one past. */
static void scan_matches_parse_at_limits(void **state)
{
        static const size_t counts[] = {1, 2, 7, 8, 9, 16, 17, 100};
        struct tally t = {0};
        struct vt_buf b;
        size_t i, k, len;
        uint8_t *p;

        (void)state;
        /* A name of NAME_MAX bytes and one more: plain, escaped (raw 6 times longer), UTF-8. */
        for (k = 0; k < 6; k++) {
                len = VT_ENCODING_STATEMENT_NAME_MAX + k % 2;
                vt_buf_init(&b);
                assert_int_equal(vt_buf_puts(&b, "{\"_type\":\"https://in-toto.io/Statement/v1\","
                                                 "\"predicateType\":\"p\",\"subject\":[{\"digest\":"
                                                 "{\"sha256\":\"" HEX_A "\"},\"name\":\""),
                                 0);
                for (i = 0; i < len; i += k / 2 == 2 ? 2 : 1) {
                        if (k / 2 == 2 && i + 1 == len)
                                assert_int_equal(vt_buf_puts(&b, "n"), 0);
                        else
                                assert_int_equal(vt_buf_puts(&b, k / 2 == 0   ? "n"
                                                                 : k / 2 == 1 ? "\\u006e"
                                                                              : "\xc3\xa9"),
                                                 0);
                }
                assert_int_equal(vt_buf_puts(&b, "\"}]}"), 0);
                check_same(&t, b.p, b.len, "name at the limit", k);
                vt_buf_release(&b);
        }
        /* A name one byte too long after a bad digest: the name is reported. */
        vt_buf_init(&b);
        assert_int_equal(
            vt_buf_puts(&b, "{\"subject\":[{\"digest\":{\"sha256\":\"x\"},\"name\":\""), 0);
        for (i = 0; i <= VT_ENCODING_STATEMENT_NAME_MAX; i++)
                assert_int_equal(vt_buf_puts(&b, "n"), 0);
        assert_int_equal(
            vt_buf_puts(&b, "\"}],\"predicateType\":\"p\",\"_type\":\"" VT_ENCODING_STATEMENT_TYPE
                            "\"}"),
            0);
        check_same(&t, b.p, b.len, "name too long after a bad digest", 0);
        vt_buf_release(&b);
        /* A predicate type of URI_MAX bytes and one more: plain and escaped. */
        for (k = 0; k < 4; k++) {
                len = VT_ENCODING_STATEMENT_URI_MAX + k % 2;
                vt_buf_init(&b);
                assert_int_equal(vt_buf_puts(&b,
                                             "{\"_type\":\"https://in-toto.io/Statement/v1\","
                                             "\"subject\":" ONE_SUBJECT ",\"predicateType\":\""),
                                 0);
                for (i = 0; i < len; i++)
                        assert_int_equal(vt_buf_puts(&b, k < 2 ? "p" : "\\/"), 0);
                assert_int_equal(vt_buf_puts(&b, "\"}"), 0);
                check_same(&t, b.p, b.len, "predicate type at the limit", k);
                vt_buf_release(&b);
        }
        /* Subject counts around the inline digests. */
        for (k = 0; k < sizeof(counts) / sizeof(counts[0]) * 2; k++) {
                vt_buf_init(&b);
                many_subjects(&b, counts[k / 2], k % 2);
                check_same(&t, b.p, b.len, "subjects", k);
                vt_buf_release(&b);
        }
        /* SUBJECTS_MAX subjects, then one more (its first subject bad: the count is named). */
        vt_buf_init(&b);
        many_subjects(&b, VT_ENCODING_STATEMENT_SUBJECTS_MAX, 1);
        check_same(&t, b.p, b.len, "most subjects", 0);
        vt_buf_release(&b);
        vt_buf_init(&b);
        many_subjects(&b, VT_ENCODING_STATEMENT_SUBJECTS_MAX + 1, 1);
        p = (uint8_t *)strstr((char *)b.p, "\"sha256\"");
        assert_non_null(p);
        p[1] = 'S'; /* an unknown algorithm: fine */
        p = (uint8_t *)strstr((char *)b.p, "\"digest\"");
        p[1] = 'D'; /* no digest: refused, but after the count */
        check_same(&t, b.p, b.len, "too many subjects", 0);
        vt_buf_release(&b);
        /* Nesting at the JSON limit and one past. */
        for (k = 0; k < 2; k++) {
                vt_buf_init(&b);
                assert_int_equal(vt_buf_puts(&b, ST(ONE_SUBJECT, ",\"predicate\":")), 0);
                b.len--;
                for (i = 0; i < 30 + k; i++)
                        assert_int_equal(vt_buf_puts(&b, "{\"a\":"), 0);
                assert_int_equal(vt_buf_puts(&b, "1"), 0);
                for (i = 0; i < 31 + k; i++)
                        assert_int_equal(vt_buf_puts(&b, "}"), 0);
                check_same(&t, b.p, b.len, "nesting", k);
                vt_buf_release(&b);
        }
        /* Larger than the statement limit. */
        p = malloc(VT_ENCODING_STATEMENT_MAX + 1);
        assert_non_null(p);
        memset(p, ' ', VT_ENCODING_STATEMENT_MAX + 1);
        check_same(&t, p, VT_ENCODING_STATEMENT_MAX + 1, "too large", 0);
        free(p);
        assert_true(t.ok >= 10 && t.toobig >= 6);
}

/* ---- scan: its results ---- */

static int scan_str(const char *s, struct vt_encoding_statement_digests *sd, struct vt_diag *d)
{
        vt_encoding_statement_digests_init(sd);
        return vt_encoding_statement_scan((const uint8_t *)s, strlen(s), sd, d);
}

static void scan_results(void **state)
{
        struct vt_encoding_statement_digests sd;
        struct vt_hash a, e;

        (void)state;
        assert_int_equal(vt_encoding_hex_decode(HEX_A, 64, a.b, 32), 0);
        assert_int_equal(vt_encoding_hex_decode(HEX_E, 64, e.b, 32), 0);
        /* Four subjects, the second and fourth with a sha256. */
        assert_int_equal(scan_str(ST_MIXED, &sd, NULL), 0);
        assert_string_equal(sd.predicate_type, "https://example.com/p/v1");
        assert_int_equal(sd.predicate_type_len, strlen("https://example.com/p/v1"));
        assert_int_equal(sd.nsubjects, 4);
        assert_int_equal(sd.nsha256, 2);
        assert_ptr_equal(sd.sha256, sd.sha256_inline);
        assert_memory_equal(sd.sha256[0].b, e.b, 32);
        assert_memory_equal(sd.sha256[1].b, a.b, 32);
        vt_encoding_statement_digests_release(&sd);
        assert_int_equal(sd.nsha256, 0);
        assert_int_equal(sd.nsubjects, 0);
        vt_encoding_statement_digests_release(&sd); /* twice is fine */
        vt_encoding_statement_digests_release(NULL);

        /* No sha256 at all. */
        assert_int_equal(scan_str(good[3], &sd, NULL), 0);
        assert_int_equal(sd.nsubjects, 1);
        assert_int_equal(sd.nsha256, 0);
        vt_encoding_statement_digests_release(&sd);
}

static void scan_decodes_escapes(void **state)
{
        struct vt_encoding_statement_digests sd;
        struct vt_hash b;

        (void)state;
        assert_int_equal(scan_str(ST_PT_ESCAPED, &sd, NULL), 0);
        assert_string_equal(sd.predicate_type, "https://example.com/p/v1\xc3\xa9\xf0\x9f\x98\x80");
        assert_int_equal(sd.predicate_type_len, 24 + 2 + 4);
        vt_encoding_statement_digests_release(&sd);
        /* Escaped keys and hex: "sha\u0032\u00356" is sha256, "\u0062" is 'b'. */
        assert_int_equal(scan_str(ST_KEYS_ESCAPED, &sd, NULL), 0);
        assert_string_equal(sd.predicate_type, "p");
        assert_int_equal(sd.nsha256, 1);
        assert_int_equal(vt_encoding_hex_decode(HEX_A, 64, b.b, 32), 0);
        assert_memory_equal(sd.sha256[0].b, b.b, 32);
        vt_encoding_statement_digests_release(&sd);
}

static void scan_many_subjects_on_the_heap(void **state)
{
        const size_t n = VT_ENCODING_STATEMENT_DIGESTS_INLINE + 1;
        struct vt_encoding_statement_digests sd;
        struct vt_hash h;
        struct vt_buf b;
        size_t i;

        (void)state;
        vt_buf_init(&b);
        many_subjects(&b, n, 1);
        vt_encoding_statement_digests_init(&sd);
        assert_int_equal(vt_encoding_statement_scan(b.p, b.len, &sd, NULL), 0);
        assert_int_equal(sd.nsubjects, n);
        assert_int_equal(sd.nsha256, n);
        assert_ptr_not_equal(sd.sha256, sd.sha256_inline);
        for (i = 0; i < n; i++) {
                vt_crypto_sha256((const uint8_t *)&i, sizeof(i), &h);
                assert_memory_equal(sd.sha256[i].b, h.b, 32);
        }
        vt_encoding_statement_digests_release(&sd);
        assert_ptr_equal(sd.sha256, sd.sha256_inline);
        vt_buf_release(&b);

        /* As many subjects, half of them with a sha256: inline again. */
        vt_buf_init(&b);
        many_subjects(&b, n, 0);
        assert_int_equal(vt_encoding_statement_scan(b.p, b.len, &sd, NULL), 0);
        assert_int_equal(sd.nsubjects, n);
        assert_int_equal(sd.nsha256, (n + 1) / 2);
        assert_ptr_equal(sd.sha256, sd.sha256_inline);
        for (i = 0; i < sd.nsha256; i++) {
                size_t x = 2 * i;
                vt_crypto_sha256((const uint8_t *)&x, sizeof(x), &h);
                assert_memory_equal(sd.sha256[i].b, h.b, 32);
        }
        vt_encoding_statement_digests_release(&sd);
        vt_buf_release(&b);
}

static void scan_refusals_leave_out_untouched(void **state)
{
        struct vt_encoding_statement_digests sd, before;
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int err;

                memset(&sd, 0x5a, sizeof(sd));
                vt_encoding_statement_digests_init(&sd);
                memcpy(&before, &sd, sizeof(sd));
                d.msg[0] = '\0';
                err = vt_encoding_statement_scan((const uint8_t *)bad[i].json, strlen(bad[i].json),
                                                 &sd, &d);
                if (err != bad[i].err)
                        fail_msg("%s: got %d (%s), want %d", bad[i].desc, err, d.msg, bad[i].err);
                assert_memory_equal(&before, &sd, sizeof(sd));
                assert_true(strncmp(d.msg, "statement", 9) == 0);
        }
}

static void scan_envelope_checks_payload_type(void **state)
{
        static const char stmt[] = ST(ONE_SUBJECT, "");
        struct vt_encoding_statement_digests sd;
        struct vt_encoding_statement st;
        struct vt_encoding_dsse e;
        struct vt_diag d = {""}, d2 = {""};
        struct vt_buf file;
        char path[512];
        struct vt_hash h;

        (void)state;
        vt_encoding_dsse_init(&e);
        vt_encoding_statement_digests_init(&sd);
        vt_encoding_statement_init(&st);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "application/json", (const uint8_t *)stmt,
                                                      strlen(stmt), NULL),
                         0);
        assert_int_equal(vt_encoding_statement_scan_envelope(&e, &sd, &d), VT_EMALFORMED);
        assert_int_equal(vt_encoding_statement_from_envelope(&e, &st, &d2), VT_EMALFORMED);
        assert_string_equal(d.msg, d2.msg);
        assert_non_null(strstr(d.msg, "payloadType"));
        assert_int_equal(sd.nsubjects, 0);
        vt_encoding_dsse_release(&e);

        /* The golden envelope. */
        snprintf(path, sizeof(path), "%s/dsse/golden-attest.json", data_dir());
        vt_buf_init(&file);
        assert_int_equal(vt_util_read_file(path, 1 << 20, &file, NULL), 0);
        assert_int_equal(vt_encoding_dsse_parse(file.p, file.len, &e, NULL), 0);
        assert_int_equal(vt_encoding_statement_scan_envelope(&e, &sd, NULL), 0);
        assert_string_equal(sd.predicate_type, "https://veritrail.example/test/v1");
        assert_int_equal(sd.nsubjects, 2);
        assert_int_equal(sd.nsha256, 2);
        assert_int_equal(vt_encoding_hex_decode(HEX_A, 64, h.b, 32), 0);
        assert_memory_equal(sd.sha256[0].b, h.b, 32);
        assert_int_equal(vt_encoding_hex_decode(HEX_E, 64, h.b, 32), 0);
        assert_memory_equal(sd.sha256[1].b, h.b, 32);
        vt_encoding_statement_digests_release(&sd);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&file);
}

/* argv[1], if given, selects tests by name (cmocka pattern: '*' and '?'). */
int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(build_known_answer),
            cmocka_unit_test(build_matches_golden_envelope),
            cmocka_unit_test(build_parse_round_trip),
            cmocka_unit_test(build_refusals),
            cmocka_unit_test(parse_accepts),
            cmocka_unit_test(parse_negative_vectors),
            cmocka_unit_test(parse_diagnostic_names_the_field),
            cmocka_unit_test(parse_limits),
            cmocka_unit_test(from_envelope_checks_payload_type),
            cmocka_unit_test(scan_matches_parse_on_vectors),
            cmocka_unit_test(scan_matches_parse_on_mutations),
            cmocka_unit_test(scan_matches_parse_at_limits),
            cmocka_unit_test(scan_results),
            cmocka_unit_test(scan_decodes_escapes),
            cmocka_unit_test(scan_many_subjects_on_the_heap),
            cmocka_unit_test(scan_refusals_leave_out_untouched),
            cmocka_unit_test(scan_envelope_checks_payload_type),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
