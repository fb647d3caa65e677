/*
 * test_jscan.c: the strict JSON checker and reader (src/encoding/jscan.c)
 * and the batch splitter built on it (vt_server_batch_split): every
 * accept/refuse case is also run through jansson (vt_encoding_json_parse),
 * which must decide the same, so these vectors pin the equivalence the
 * fuzz target fuzz_jscan explores. Edge cases: escapes, surrogate pairs,
 * invalid UTF-8, numbers (leading zeros, int64 bounds, real overflow),
 * depth limits, duplicate keys (also escaped, also past the hash-table
 * threshold), trailing garbage; batch spans, shapes and replies.
 */
#include "vt_test.h"

#include "encoding/encoding_int.h"
#include "server/server_int.h"
#include "veritrail/encoding.h"

/* Both checkers on s[0..n): the same code, which must be want. */
static void expect_n(const char *s, size_t n, int want)
{
        struct vt_diag d = {""};
        json_t *v = NULL;
        int mine, ref;

        mine = vt_encoding_int_jscan_check((const uint8_t *)s, n, 1 << 20, &d);
        ref = vt_encoding_json_parse((const uint8_t *)s, n, 1 << 20, &v, NULL);
        json_decref(v);
        if (mine != want || ref != want)
                print_error("input '%.*s': jscan %d (%s), jansson %d, want %d\n", (int)n, s, mine,
                            d.msg, ref, want);
        assert_int_equal(mine, want);
        assert_int_equal(ref, want);
        if (want == VT_EMALFORMED)
                assert_non_null(strstr(d.msg, "malformed JSON at line"));
}

static void expect(const char *s, int want)
{
        expect_n(s, strlen(s), want);
}

/* s checks, and the reader's tree equals jansson's (same compact text). */
static void same_tree(const char *s)
{
        struct vt_encoding_int_jval v;
        json_t *mine = NULL, *ref = NULL;
        char *a, *b;

        expect(s, 0);
        vt_encoding_int_jscan_root((const uint8_t *)s, strlen(s), &v);
        assert_int_equal(vt_encoding_int_jscan_tree(&v, &mine), 0);
        assert_int_equal(vt_encoding_json_parse((const uint8_t *)s, strlen(s), 1 << 20, &ref, NULL),
                         0);
        assert_true(json_equal(mine, ref));
        a = json_dumps(mine, JSON_COMPACT);
        b = json_dumps(ref, JSON_COMPACT);
        assert_string_equal(a, b);
        free(a);
        free(b);
        json_decref(mine);
        json_decref(ref);
}

static void test_structure(void **state)
{
        (void)state;
        expect("{}", 0);
        expect("[]", 0);
        expect(" \t\r\n[ 1 , { \"a\" : [ ] } ]\n ", 0);
        expect("", VT_EMALFORMED);
        expect("   ", VT_EMALFORMED);
        expect("1", VT_EMALFORMED); /* jansson wants an object or array at the root */
        expect("\"s\"", VT_EMALFORMED);
        expect("null", VT_EMALFORMED);
        expect("[1,]", VT_EMALFORMED);
        expect("[,1]", VT_EMALFORMED);
        expect("{\"a\":1,}", VT_EMALFORMED);
        expect("{\"a\" 1}", VT_EMALFORMED);
        expect("{\"a\":}", VT_EMALFORMED);
        expect("{1:1}", VT_EMALFORMED);
        expect("{'a':1}", VT_EMALFORMED);
        expect("[1 2]", VT_EMALFORMED);
        expect("[", VT_EMALFORMED);
        expect("[1", VT_EMALFORMED);
        expect("{\"a\":1", VT_EMALFORMED);
        expect("[}", VT_EMALFORMED);
        expect("{]", VT_EMALFORMED);
        expect("[tru]", VT_EMALFORMED);
        expect("[truex]", VT_EMALFORMED);
        expect("[nul]", VT_EMALFORMED);
        expect("[True]", VT_EMALFORMED);
        expect("[\f1]", VT_EMALFORMED);          /* form feed is not white space */
        expect("\xef\xbb\xbf[]", VT_EMALFORMED); /* no byte order mark */
}

static void test_trailing(void **state)
{
        (void)state;
        expect("{} ", 0);
        expect("{} x", VT_EMALFORMED);
        expect("{}{}", VT_EMALFORMED);
        expect("[]]", VT_EMALFORMED);
        expect("[],", VT_EMALFORMED);
        expect_n("{}\0", 3, VT_EMALFORMED);
        expect_n("[\0]", 3, VT_EMALFORMED);
}

static void test_strings(void **state)
{
        (void)state;
        expect("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]", 0);
        expect("[\"\\u00e9\\u20AC\"]", 0);
        expect("[\"\\x41\"]", VT_EMALFORMED);
        expect("[\"\\'\"]", VT_EMALFORMED);
        expect("[\"\\u12\"]", VT_EMALFORMED);
        expect("[\"\\u12g4\"]", VT_EMALFORMED);
        expect("[\"\\", VT_EMALFORMED);
        expect("[\"abc", VT_EMALFORMED);
        expect("[\"a\tb\"]", VT_EMALFORMED); /* control characters must be escaped */
        expect("[\"a\nb\"]", VT_EMALFORMED);
        expect("[\"\x1f\"]", VT_EMALFORMED);
        expect("[\"\x7f\"]", 0);                /* DEL is not a control character to JSON */
        expect("[\"\\u0000\"]", VT_EMALFORMED); /* no NUL inside strings */
        expect("{\"\\u0000\":1}", VT_EMALFORMED);
        expect_n("[\"a\0b\"]", 6, VT_EMALFORMED);
        /* A long string crosses the 8-byte fast path with a special byte at every offset. */
        expect("[\"0123456789abcdef0123456789abcdef\\n0123456789abcdef\"]", 0);
        expect("[\"0123456789abcdef0123456\x01\"]", VT_EMALFORMED);
}

static void test_surrogates(void **state)
{
        (void)state;
        expect("[\"\\ud83d\\ude00\"]", 0);
        expect("[\"\\uD83D\\uDE00\"]", 0);
        expect("[\"\\ud83d\"]", VT_EMALFORMED);
        expect("[\"\\ud83dx\"]", VT_EMALFORMED);
        expect("[\"\\ud83d\\n\"]", VT_EMALFORMED);
        expect("[\"\\ud83d\\u0041\"]", VT_EMALFORMED);
        expect("[\"\\ud83d\\ud83d\"]", VT_EMALFORMED);
        expect("[\"\\ude00\"]", VT_EMALFORMED);
        expect("[\"\\ude00\\ud83d\"]", VT_EMALFORMED);
        expect("[\"\\ud83d\\ude0\"]", VT_EMALFORMED);
        same_tree("[\"\\ud83d\\ude00 \\u00e9 \\u0800 \\uffff\"]");
}

static void test_utf8(void **state)
{
        (void)state;
        expect("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"]", 0);
        expect("[\"\x80\"]", VT_EMALFORMED);             /* a lone continuation byte */
        expect("[\"\xc3\"]", VT_EMALFORMED);             /* truncated */
        expect("[\"\xc3", VT_EMALFORMED);                /* truncated at the end */
        expect("[\"\xc0\xaf\"]", VT_EMALFORMED);         /* overlong '/' */
        expect("[\"\xc1\xbf\"]", VT_EMALFORMED);         /* overlong */
        expect("[\"\xe0\x80\xaf\"]", VT_EMALFORMED);     /* overlong, 3 bytes */
        expect("[\"\xf0\x80\x80\xaf\"]", VT_EMALFORMED); /* overlong, 4 bytes */
        expect("[\"\xed\xa0\x80\"]", VT_EMALFORMED);     /* a surrogate, encoded */
        expect("[\"\xed\x9f\xbf\"]", 0);                 /* U+D7FF */
        expect("[\"\xf4\x90\x80\x80\"]", VT_EMALFORMED); /* past U+10FFFF */
        expect("[\"\xf5\x80\x80\x80\"]", VT_EMALFORMED);
        expect("[\"\xff\"]", VT_EMALFORMED);
        expect("[\"\xe2\x82\"]", VT_EMALFORMED);
        expect("[\xc3\xa9]", VT_EMALFORMED); /* outside a string */
        expect("{\"\xc3\xa9\":\"\xc3\"}", VT_EMALFORMED);
}

/*
 * The string of len 'a's with ins put at pos, as a value (in an array) or
 * as a key, followed by another member or element when tail: jscan and
 * jansson decide the same, and when they accept it, the reader's decoding
 * of the string equals jansson's and it then finds the tail.
 */
static void string_at(const char *ins, size_t len, size_t pos, int key, int tail)
{
        struct vt_encoding_int_jval root, k, x;
        struct vt_encoding_int_jiter it;
        struct vt_diag d = {""};
        char buf[160], body[80];
        struct vt_buf out;
        json_t *v = NULL;
        const char *ws;
        size_t n, wn;
        int mine, ref;

        memset(body, 'a', len);
        body[len] = '\0';
        n = (size_t)snprintf(buf, sizeof(buf), key ? "{\"%.*s%s%s\":1%s}" : "[\"%.*s%s%s\"%s]",
                             (int)pos, body, ins, body + pos, tail ? ",2" : "");
        mine = vt_encoding_int_jscan_check((const uint8_t *)buf, n, 1 << 20, &d);
        ref = vt_encoding_json_parse((const uint8_t *)buf, n, 1 << 20, &v, NULL);
        if (mine != ref)
                print_error("input '%s': jscan %d (%s), jansson %d\n", buf, mine, d.msg, ref);
        assert_int_equal(mine, ref);
        if (mine != 0)
                return;
        vt_encoding_int_jscan_root((const uint8_t *)buf, n, &root);
        vt_encoding_int_jscan_iter(&root, &it);
        assert_true(vt_encoding_int_jscan_next(&it, key ? &k : NULL, &x));
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_int_jscan_str(key ? &k : &x, &out), 0);
        if (key) {
                ws = json_object_iter_key(json_object_iter(v));
                wn = strlen(ws);
        } else {
                ws = json_string_value(json_array_get(v, 0));
                wn = json_string_length(json_array_get(v, 0));
        }
        assert_int_equal(out.len, wn);
        assert_memory_equal(out.p, ws, wn);
        assert_int_equal(vt_encoding_int_jscan_next(&it, NULL, &x), tail);
        vt_buf_release(&out);
        json_decref(v);
}

/*
 * A special byte or escape at every position of a 16-byte (SSE2) and an
 * 8-byte word, in strings of every length around those steps, as a value
 * and as a key, with the document ending right after the string or not.
 */
static void test_string_positions(void **state)
{
        static const char *const ins[] = {
            "\"",   "\\\"",     "\\\\", "\\n",      "\\u00e9", "\x01",           "\x1f", "\n",
            "\x7f", "\xc3\xa9", "\xff", "\xe2\x82", "\\",      "\\ud83d\\ude00", "\\x"};
        size_t len, pos, i;
        int key, tail;

        (void)state;
        for (len = 0; len <= 40; len++)
                for (pos = 0; pos <= len; pos++)
                        for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
                                for (key = 0; key < 2; key++)
                                        for (tail = 0; tail < 2; tail++)
                                                string_at(ins[i], len, pos, key, tail);
}

static void test_numbers(void **state)
{
        (void)state;
        same_tree("[0,-0,1,-1,10,1.5,-1.5,0.0,1e5,1E5,1e+5,1e-5,-0.5e-3,123456789012345678]");
        expect("[9223372036854775807]", 0);
        expect("[-9223372036854775808]", 0);
        expect("[9223372036854775808]", VT_EMALFORMED); /* past int64: jansson refuses */
        expect("[-9223372036854775809]", VT_EMALFORMED);
        expect("[12345678901234567890]", VT_EMALFORMED);
        expect("[9223372036854775808.0]", 0); /* a real: fine */
        expect("[1e308]", 0);
        expect("[1e309]", VT_EMALFORMED); /* overflows a double */
        expect("[-1e400]", VT_EMALFORMED);
        expect("[1e-400]", 0); /* underflow is not refused */
        expect("[01]", VT_EMALFORMED);
        expect("[-01]", VT_EMALFORMED);
        expect("[00]", VT_EMALFORMED);
        expect("[1.]", VT_EMALFORMED);
        expect("[.5]", VT_EMALFORMED);
        expect("[1.e5]", VT_EMALFORMED);
        expect("[1e]", VT_EMALFORMED);
        expect("[1e+]", VT_EMALFORMED);
        expect("[-]", VT_EMALFORMED);
        expect("[+1]", VT_EMALFORMED);
        expect("[1x]", VT_EMALFORMED);
        expect("[0x10]", VT_EMALFORMED);
        expect("[NaN]", VT_EMALFORMED);
        expect("[Infinity]", VT_EMALFORMED);
        same_tree("{\"a\":[1,2.5,{\"b\":null,\"c\":true,\"d\":false}],\"e\":\"\\u00e9\"}");
}

/* n nested arrays, with an optional scalar in the innermost. */
static char *nest(size_t n, const char *inner)
{
        size_t k = strlen(inner);
        char *s = malloc(2 * n + k + 1);

        assert_non_null(s);
        memset(s, '[', n);
        memcpy(s + n, inner, k);
        memset(s + n + k, ']', n);
        s[2 * n + k] = '\0';
        return s;
}

static void test_depth(void **state)
{
        struct vt_diag d;
        char *s;

        (void)state;
        /* Every value counts a level, the root being level 1. */
        expect((s = nest(VT_ENCODING_JSON_MAX_DEPTH, "")), 0);
        free(s);
        expect((s = nest(VT_ENCODING_JSON_MAX_DEPTH - 1, "1")), 0);
        free(s);
        expect((s = nest(VT_ENCODING_JSON_MAX_DEPTH, "1")), VT_ETOOBIG);
        free(s);
        expect((s = nest(VT_ENCODING_JSON_MAX_DEPTH + 1, "")), VT_ETOOBIG);
        vt_encoding_int_jscan_check((const uint8_t *)s, strlen(s), 1 << 20, &d);
        assert_string_equal(d.msg, "JSON nests deeper than 32 levels");
        free(s);
        /* Too deep but also malformed: malformed, as jansson says. */
        s = nest(100, "");
        s[150] = '}';
        expect(s, VT_EMALFORMED);
        free(s);
        /* Past jansson's own 2048 levels: a syntax error there, so here. */
        expect((s = nest(2048, "")), VT_ETOOBIG);
        free(s);
        expect((s = nest(2049, "")), VT_EMALFORMED);
        free(s);
        expect((s = nest(2047, "1")), VT_ETOOBIG);
        free(s);
        expect((s = nest(2048, "1")), VT_EMALFORMED);
        free(s);
}

static void test_duplicates(void **state)
{
        struct vt_buf b;
        size_t i;

        (void)state;
        expect("{\"a\":1,\"a\":2}", VT_EMALFORMED);
        expect("{\"a\":1,\"\\u0061\":2}", VT_EMALFORMED); /* equal once decoded */
        expect("{\"\\/\":1,\"/\":2}", VT_EMALFORMED);
        expect("{\"a\":1,\"A\":2,\"a \":3,\"\":4}", 0);
        expect("{\"a\":{\"a\":1},\"b\":{\"a\":1}}", 0); /* per object */
        expect("[{\"a\":1},{\"a\":1}]", 0);
        expect("{\"a\":{\"b\":1},\"b\":2,\"a\":3}", VT_EMALFORMED);
        expect("{\"x\":{\"a\":1,\"a\":1}}", VT_EMALFORMED);
        /* Past the linear threshold: the hash table finds them, first and last. */
        for (i = 0; i < 3; i++) {
                size_t k, dup = i == 0 ? 0 : i == 1 ? 499 : 1000;
                vt_buf_init(&b);
                assert_int_equal(vt_buf_puts(&b, "{"), 0);
                for (k = 0; k < 1000; k++)
                        assert_int_equal(
                            vt_buf_printf(&b, "%s\"key%zu\":{\"in\":%zu}", k ? "," : "", k, k), 0);
                if (dup < 1000)
                        assert_int_equal(vt_buf_printf(&b, ",\"key\\u00%x%zu\":0",
                                                       (unsigned)'0' + (unsigned)(dup / 100),
                                                       dup % 100),
                                         0);
                assert_int_equal(vt_buf_puts(&b, "}"), 0);
                /* dup 0 writes "key\u00300" = "key00", not a key before: accepted. */
                expect((const char *)b.p, i == 1 ? VT_EMALFORMED : 0);
                vt_buf_release(&b);
        }
}

static void test_limit(void **state)
{
        struct vt_diag d;

        (void)state;
        assert_int_equal(vt_encoding_int_jscan_check((const uint8_t *)"[1]", 3, 2, &d), VT_ETOOBIG);
        assert_string_equal(d.msg, "JSON is larger than the limit of 2 bytes");
        assert_int_equal(vt_encoding_int_jscan_check((const uint8_t *)"[1]", 3, 3, &d), 0);
        assert_int_equal(vt_encoding_int_jscan_check((const uint8_t *)"{\n \"a\": x}", 10, 99, &d),
                         VT_EMALFORMED);
        assert_string_equal(d.msg, "malformed JSON at line 2 column 7: invalid token");
}

static void test_reader(void **state)
{
        const char *s = " {\"a\" : [1, \"x\\ty\", {}], \"b\\u0063\":null } ";
        struct vt_encoding_int_jval root, k, v, x;
        struct vt_encoding_int_jiter it, it2;
        struct vt_buf b;

        (void)state;
        expect(s, 0);
        vt_buf_init(&b);
        vt_encoding_int_jscan_root((const uint8_t *)s, strlen(s), &root);
        assert_int_equal(root.kind, '{');
        assert_int_equal(vt_encoding_int_jscan_count(&root), 2);
        vt_encoding_int_jscan_iter(&root, &it);
        assert_int_equal(vt_encoding_int_jscan_next(&it, &k, &v), 1);
        assert_true(vt_encoding_int_jscan_key_is(&k, "a"));
        assert_int_equal(v.kind, '[');
        assert_int_equal(vt_encoding_int_jscan_count(&v), 3);
        vt_encoding_int_jscan_iter(&v, &it2);
        assert_int_equal(vt_encoding_int_jscan_next(&it2, NULL, &x), 1);
        assert_int_equal(x.kind, '0');
        assert_int_equal(x.n, 1);
        assert_int_equal(vt_encoding_int_jscan_next(&it2, NULL, &x), 1);
        assert_int_equal(x.kind, '"');
        assert_int_equal(x.esc, 1);
        assert_int_equal(vt_encoding_int_jscan_str(&x, &b), 0);
        assert_string_equal((const char *)b.p, "x\ty");
        assert_int_equal(vt_encoding_int_jscan_next(&it2, NULL, &x), 1);
        assert_int_equal(x.kind, '{');
        assert_int_equal(vt_encoding_int_jscan_count(&x), 0);
        assert_int_equal(vt_encoding_int_jscan_next(&it2, NULL, &x), 0);
        assert_int_equal(vt_encoding_int_jscan_next(&it, &k, &v), 1);
        assert_false(vt_encoding_int_jscan_key_is(&k, "b"));
        assert_true(vt_encoding_int_jscan_key_is(&k, "bc"));
        assert_int_equal(v.kind, 'n');
        assert_int_equal(vt_encoding_int_jscan_next(&it, &k, &v), 0);
        vt_buf_release(&b);
}

/* The batch splitter: spans in place, shapes and replies. */
static int split(const char *body, size_t max, size_t **offs, size_t **lens, size_t *n,
                 struct vt_server_reply *r)
{
        memset(r, 0, sizeof(*r));
        vt_buf_init(&r->body);
        *offs = *lens = NULL;
        *n = 0;
        return vt_server_batch_split((const uint8_t *)body, strlen(body), max, offs, lens, n, r);
}

static void expect_reply(const char *body, size_t max, unsigned status, const char *msg)
{
        struct vt_server_reply r;
        size_t *offs, *lens, n;

        assert_int_equal(split(body, max, &offs, &lens, &n, &r), -1);
        assert_int_equal(r.status, status);
        if (msg != NULL && strstr((const char *)r.body.p, msg) == NULL)
                fail_msg("reply '%s' does not say '%s'", (const char *)r.body.p, msg);
        assert_null(offs);
        vt_buf_release(&r.body);
}

static void test_batch_spans(void **state)
{
        const char *body = " [ {\"a\" : [1, 2]} ,\n\"x\",3 ,{ } ] ";
        const char *want[] = {"{\"a\" : [1, 2]}", "\"x\"", "3", "{ }"};
        const char *wrapped = "{ \"envelopes\" : [{\"p\":1}, {\"q\" :\t2}] }";
        struct vt_server_reply r;
        size_t *offs, *lens, n, i;

        (void)state;
        assert_int_equal(split(body, 1 << 20, &offs, &lens, &n, &r), 0);
        assert_int_equal(n, 4);
        for (i = 0; i < n; i++) {
                assert_int_equal(lens[i], strlen(want[i]));
                assert_memory_equal(body + offs[i], want[i], lens[i]);
        }
        free(offs);
        free(lens);
        assert_int_equal(split(wrapped, 1 << 20, &offs, &lens, &n, &r), 0);
        assert_int_equal(n, 2);
        assert_memory_equal(wrapped + offs[0], "{\"p\":1}", lens[0]);
        assert_memory_equal(wrapped + offs[1], "{\"q\" :\t2}", lens[1]);
        free(offs);
        free(lens);
}

static void test_batch_refused(void **state)
{
        struct vt_buf b;
        size_t i;

        (void)state;
        expect_reply("[{}", 1 << 20, 400, "malformed JSON");
        expect_reply("[{},{\"a\":1,\"a\":2}]", 1 << 20, 400, "malformed JSON");
        expect_reply("[{\"s\":\"\\ud800\"}]", 1 << 20, 400, "malformed JSON");
        expect_reply("[{}] x", 1 << 20, 400, "malformed JSON");
        expect_reply("[{}]", 3, 413, "larger than the limit");
        expect_reply("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 1 << 20,
                     413, "deeper");
        expect_reply("{\"not\":\"a batch\"}", 1 << 20, 400, "exactly one member, 'envelopes'");
        expect_reply("{\"envelopes\":[{}],\"x\":1}", 1 << 20, 400, "exactly one member");
        expect_reply("{}", 1 << 20, 400, "exactly one member");
        expect_reply("{\"envelopes\":[{}],\"envelopes\":[{}]}", 1 << 20, 400, "duplicate");
        expect_reply("{\"envelopes\":{}}", 1 << 20, 400, "must be a JSON array");
        expect_reply("{\"envelopes\":\"x\"}", 1 << 20, 400, "must be a JSON array");
        expect_reply("[]", 1 << 20, 400, "holds no envelopes");
        expect_reply("{\"envelopes\":[]}", 1 << 20, 400, "holds no envelopes");
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, "["), 0);
        for (i = 0; i < VT_SERVICE_BATCH_MAX + 2; i++)
                assert_int_equal(vt_buf_puts(&b, i ? ",{}" : "{}"), 0);
        assert_int_equal(vt_buf_puts(&b, "]"), 0);
        expect_reply((const char *)b.p, 1 << 20, 413, "1002 envelopes, more than 1000");
        vt_buf_release(&b);
}

/*
 * vt_encoding_int_put_string() writes what jansson writes for the same
 * string, whether by its plain-ASCII path or by jansson: every single byte,
 * every pair of a few interesting bytes, and longer mixtures.
 */
static void test_put_string_as_jansson(void **state)
{
        static const char pick[] = {' ',  'a',    '"',    '\\',   '/',    '\x01', '\x1f', '\x7f',
                                    '\n', '\xc3', '\xa9', '\xe2', '\x80', '\x94', '\xff', '~'};
        struct vt_buf got, want;
        char s[8];
        size_t i, j, k, n;
        json_t *v;
        int err;

        (void)state;
        vt_buf_init(&got);
        vt_buf_init(&want);
        for (k = 0; k < 256 + 16 * 16 + 4096; k++) {
                if (k < 256) {
                        s[0] = (char)k;
                        n = 1;
                } else if (k < 256 + 256) {
                        s[0] = pick[(k - 256) / 16];
                        s[1] = pick[(k - 256) % 16];
                        n = 2;
                } else {
                        n = 1 + (k % 7);
                        for (i = 0, j = k * 2654435761u; i < n; i++, j /= 16)
                                s[i] = pick[j % 16];
                }
                got.len = want.len = 0;
                err = vt_encoding_int_put_string(&got, s, n);
                v = json_stringn(s, n);
                if (v == NULL) {
                        assert_int_equal(err, VT_ENOMEM); /* not UTF-8 */
                        continue;
                }
                assert_int_equal(err, 0);
                assert_int_equal(vt_encoding_json_dump(v, JSON_COMPACT | JSON_ENCODE_ANY, &want),
                                 0);
                json_decref(v);
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.p, want.p, want.len);
                assert_int_equal(got.p[got.len], '\0');
        }
        vt_buf_release(&got);
        vt_buf_release(&want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_structure),     cmocka_unit_test(test_trailing),
            cmocka_unit_test(test_strings),       cmocka_unit_test(test_surrogates),
            cmocka_unit_test(test_utf8),          cmocka_unit_test(test_string_positions),
            cmocka_unit_test(test_numbers),       cmocka_unit_test(test_depth),
            cmocka_unit_test(test_duplicates),    cmocka_unit_test(test_limit),
            cmocka_unit_test(test_reader),        cmocka_unit_test(test_batch_spans),
            cmocka_unit_test(test_batch_refused), cmocka_unit_test(test_put_string_as_jansson),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
