/*
 * test_statement.c: in-toto Statement v1 (encoding.h "Statements"): build
 * known answers, parse round trips, what the spec lets through (unknown
 * fields and algorithms, no name, no predicate) and the negative vectors.
 */
#include "vt_test.h"
#include "veritrail/encoding.h"

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

static void parse_accepts(void **state)
{
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
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
