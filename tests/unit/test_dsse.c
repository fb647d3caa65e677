/*
 * test_dsse.c: DSSE v1 envelopes (encoding.h "DSSE"): PAE known answers, the
 * DSSE spec's own ECDSA P-256 example (protocol.md "Test Vectors"), strict
 * parsing with its negative vectors, byte-exact round trips of our golden
 * envelopes, signing and k-of-n verification with per-signature reasons.
 *
 * Data: tests/data/dsse (see its README), tests/data/keys. $VT_TEST_DATA
 * overrides the tests/data directory.
 */
#include "vt_test.h"

#include <sodium.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

static const char *data_dir(void)
{
        const char *s = getenv("VT_TEST_DATA");

        return (s != NULL && *s != '\0') ? s : "tests/data";
}

static void read_data(const char *name, struct vt_buf *out)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
        vt_buf_init(out);
        assert_int_equal(vt_util_read_file(path, 1 << 20, out, NULL), 0);
}

static struct vt_crypto_key *load_key(const char *name)
{
        struct vt_crypto_key *k = NULL;
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
        assert_int_equal(vt_crypto_key_load_file(path, NULL, &k, NULL), 0);
        return k;
}

static struct vt_crypto_key *gen_key(int type)
{
        struct vt_crypto_key *k = NULL;

        assert_int_equal(vt_crypto_key_generate(type, &k, NULL), 0);
        return k;
}

/* Parse a NUL-terminated string; expect err. */
static int parse_str(const char *s, struct vt_encoding_dsse *e, struct vt_diag *d)
{
        vt_encoding_dsse_init(e);
        return vt_encoding_dsse_parse((const uint8_t *)s, strlen(s), e, d);
}

static void assert_pae(const char *type, const char *body, size_t blen, const char *want,
                       size_t wantlen)
{
        struct vt_buf b;

        vt_buf_init(&b);
        assert_int_equal(vt_encoding_dsse_pae(type, strlen(type), (const uint8_t *)body, blen, &b),
                         0);
        assert_int_equal(b.len, wantlen);
        assert_memory_equal(b.p, want, wantlen);
        vt_buf_release(&b);
}

/* ---- PAE ---- */

static void pae_spec_example(void **state)
{
        (void)state;
        /* protocol.md "Test Vectors": the PAE of the HelloWorld example. */
        assert_pae("http://example.com/HelloWorld", "hello world", 11,
                   "DSSEv1 29 http://example.com/HelloWorld 11 hello world", 54);
}

static void pae_empty_type_and_body(void **state)
{
        (void)state;
        assert_pae("", "", 0, "DSSEv1 0  0 ", 12);
        assert_pae("t", "", 0, "DSSEv1 1 t 0 ", 13);
        assert_pae("", "x", 1, "DSSEv1 0  1 x", 13);
        /* A NUL byte in the body is just a byte. */
        assert_pae("a", "\0b", 2, "DSSEv1 1 a 2 \0b", 15);
}

static void pae_multi_digit_lengths(void **state)
{
        char body[1001], want[1100];
        struct vt_buf b;
        int n;

        (void)state;
        memset(body, 'z', 1000);
        body[1000] = '\0';
        /* 10, 100, 1000 bytes: no leading zeros, no padding. */
        n = snprintf(want, sizeof(want), "DSSEv1 10 0123456789 100 %.100s", body);
        assert_pae("0123456789", body, 100, want, (size_t)n);
        n = snprintf(want, sizeof(want), "DSSEv1 4 type 1000 %s", body);
        assert_pae("type", body, 1000, want, (size_t)n);
        /* Appends after what out already holds. */
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, "X"), 0);
        assert_int_equal(vt_encoding_dsse_pae("ab", 2, (const uint8_t *)"c", 1, &b), 0);
        assert_int_equal(b.len, 16);
        assert_memory_equal(b.p, "XDSSEv1 2 ab 1 c", 16);
        vt_buf_release(&b);
}

/* ---- the DSSE spec's example (protocol.md), ECDSA P-256, raw r||s ---- */

static void spec_vector_verifies(void **state)
{
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;
        struct vt_crypto_key *k = load_key("dsse/spec-p256.pub");
        const struct vt_crypto_key *keys[1] = {k};
        struct vt_diag d = {""};
        struct vt_buf b, pae;

        (void)state;
        read_data("dsse/spec-hello.json", &b);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, &d), 0);
        assert_string_equal(e.payload_type, "http://example.com/HelloWorld");
        assert_int_equal(e.payload_len, 11);
        assert_memory_equal(e.payload, "hello world", 11);
        assert_int_equal(e.nsigs, 1);
        assert_null(e.sigs[0].keyid);
        assert_int_equal(e.sigs[0].siglen, 64); /* raw r || s */

        vt_buf_init(&pae);
        assert_int_equal(vt_encoding_dsse_pae(e.payload_type, e.payload_type_len, e.payload,
                                              e.payload_len, &pae),
                         0);
        assert_string_equal((const char *)pae.p,
                            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
        vt_buf_release(&pae);

        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 1, &r, &d), 0);
        assert_int_equal(r.nvalid, 1);
        assert_int_equal(r.sig[0].status, 0);
        assert_int_equal(r.sig[0].key, 0);

        /* Flip one payload byte: the signature no longer verifies. */
        e.payload[0] ^= 1;
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 1, &r, &d), VT_ETHRESHOLD);
        assert_int_equal(r.nvalid, 0);
        assert_int_equal(r.sig[0].status, VT_EUNKNOWNKEY); /* no keyid in the vector */
        assert_non_null(strstr(d.msg, "0 of 1"));
        vt_encoding_dsse_release(&e);
        vt_buf_release(&b);
        vt_crypto_key_free(k);
}

static void spec_vector_mistyped_signature_fails(void **state)
{
        /* The same vector with the last 10 signature bytes altered (as it was
         * once mistyped): s changes, so it must not verify. */
        static const char env[] =
            "{\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"http://example.com/HelloWorld\","
            "\"signatures\":[{\"sig\":\"A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZ"
            "KciJTfUiHqJPcIAriEGAHLVeCUhXAxd1w==\"}]}";
        struct vt_crypto_key *k = load_key("dsse/spec-p256.pub");
        const struct vt_crypto_key *keys[1] = {k};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;

        (void)state;
        assert_int_equal(parse_str(env, &e, NULL), 0);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 1, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EUNKNOWNKEY);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k);
}

/* ---- parse and serialize ---- */

/* Parse a golden file, serialize it, expect the same bytes (minus the final newline). */
static void assert_round_trip(const char *name)
{
        struct vt_encoding_dsse e;
        struct vt_buf b, out;

        read_data(name, &b);
        assert_true(b.len > 0 && b.p[b.len - 1] == '\n');
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), 0);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &out), 0);
        assert_int_equal(out.len, b.len - 1);
        assert_memory_equal(out.p, b.p, out.len);
        vt_buf_release(&out);
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
}

static void round_trip_golden(void **state)
{
        (void)state;
        assert_round_trip("dsse/golden-ed25519.json");
        assert_round_trip("dsse/golden-2of2.json");
        assert_round_trip("dsse/golden-attest.json");
}

static void round_trip_spec_vector(void **state)
{
        struct vt_encoding_dsse e, f;
        struct vt_buf b, out, out2;

        (void)state;
        read_data("dsse/spec-hello.json", &b);
        vt_encoding_dsse_init(&e);
        vt_encoding_dsse_init(&f);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), 0);
        vt_buf_init(&out);
        vt_buf_init(&out2);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &out), 0);
        assert_string_equal(
            (const char *)out.p,
            "{\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"http://example.com/HelloWorld\","
            "\"signatures\":[{\"sig\":\"A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKc"
            "iJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==\"}]}");
        assert_int_equal(vt_encoding_dsse_parse(out.p, out.len, &f, NULL), 0);
        assert_int_equal(vt_encoding_dsse_serialize(&f, &out2), 0);
        assert_int_equal(out.len, out2.len);
        assert_memory_equal(out.p, out2.p, out.len);
        vt_encoding_dsse_release(&e);
        vt_encoding_dsse_release(&f);
        vt_buf_release(&b);
        vt_buf_release(&out);
        vt_buf_release(&out2);
}

static void sign_is_deterministic_for_ed25519(void **state)
{
        struct vt_crypto_key *k = load_key("keys/ed25519.key");
        struct vt_encoding_dsse e;
        struct vt_buf gold, out;

        (void)state;
        /* Ed25519 is deterministic: the golden file is a known answer. */
        read_data("dsse/golden-ed25519.json", &gold);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "http://example.com/HelloWorld",
                                                      (const uint8_t *)"hello world", 11, NULL),
                         0);
        assert_int_equal(vt_encoding_dsse_sign(&e, k, NULL), 0);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &out), 0);
        assert_int_equal(out.len, gold.len - 1);
        assert_memory_equal(out.p, gold.p, out.len);
        vt_buf_release(&out);
        vt_buf_release(&gold);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k);
}

/* RFC 4648 §10, both ways. */
static void base64_known_answers(void **state)
{
        static const char *const kat[][2] = {
            {"", ""},
            {"f", "Zg=="},
            {"fo", "Zm8="},
            {"foo", "Zm9v"},
            {"foob", "Zm9vYg=="},
            {"fooba", "Zm9vYmE="},
            {"foobar", "Zm9vYmFy"},
        };
        char enc[16];
        uint8_t dec[16];
        size_t i, n;

        (void)state;
        for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
                vt_encoding_base64_encode((const uint8_t *)kat[i][0], strlen(kat[i][0]), enc);
                assert_string_equal(enc, kat[i][1]);
                assert_int_equal(vt_encoding_base64_len(strlen(kat[i][0])), strlen(kat[i][1]));
                assert_int_equal(
                    vt_encoding_base64_decode(kat[i][1], strlen(kat[i][1]), dec, sizeof(dec), &n),
                    0);
                assert_int_equal(n, strlen(kat[i][0]));
                assert_memory_equal(dec, kat[i][0], n);
        }
        /* Every character of the alphabet, in every position of a group. */
        assert_int_equal(vt_encoding_base64_decode("+/+/", 4, dec, sizeof(dec), &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(dec, "\xfb\xff\xbf", 3);
}

/* One encoding per byte string: everything else is refused, with the right code. */
static void base64_refusals(void **state)
{
        static const struct {
                const char *s;
                int err;
        } bad[] = {
            {"Zg=", VT_EMALFORMED}, /* length not a multiple of 4 */
            {"Zg", VT_EMALFORMED},
            {"Z", VT_EMALFORMED},
            {"Zh==", VT_ENONCANON}, /* unused bits set */
            {"Zm9=", VT_ENONCANON},
            {"Z===", VT_ENONCANON}, /* '=' too early */
            {"=Zg=", VT_ENONCANON},
            {"Zg==Zg==", VT_ENONCANON}, /* padding inside */
            {"Zm=v", VT_ENONCANON},
            {"Zm9vZ=9v", VT_ENONCANON},
            {"Zm9*", VT_EMALFORMED},
            {"Zm9v Zm9v", VT_EMALFORMED},
            {"Zm9vZm\x80"
             "9v",
             VT_EMALFORMED},
            {"Zm9-", VT_EMALFORMED}, /* URL-safe: dsse.c's job */
            {"Zm9vZm9_", VT_EMALFORMED},
            {"\n\nZg", VT_EMALFORMED},
        };
        uint8_t dec[16];
        size_t i, n;
        char s[64];

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                n = 99;
                assert_int_equal(
                    vt_encoding_base64_decode(bad[i].s, strlen(bad[i].s), dec, sizeof(dec), &n),
                    bad[i].err);
                assert_int_equal(n, 99); /* nothing reported */
        }
        /* Room: exactly enough is fine, one byte less is refused before any write. */
        assert_int_equal(vt_encoding_base64_decode("Zm9vYg==", 8, dec, 4, &n), 0);
        assert_int_equal(vt_encoding_base64_decode("Zm9vYg==", 8, dec, 3, &n), VT_ETOOBIG);
        /* A bad character at every position of a longer string, first group to last. */
        for (i = 0; i < 16; i++) {
                snprintf(s, sizeof(s), "Zm9vYmFyZm9vYmFy");
                s[i] = '.';
                assert_int_equal(vt_encoding_base64_decode(s, 16, dec, sizeof(dec), &n),
                                 VT_EMALFORMED);
                s[i] = '=';
                /* Misplaced padding; at the end, "ZmF=" leaves a bit set. */
                assert_int_equal(vt_encoding_base64_decode(s, 16, dec, sizeof(dec), &n),
                                 VT_ENONCANON);
        }
}

/* Every length 0..300 and random bytes: decode(encode(x)) == x; a changed character changes it. */
static void base64_round_trip(void **state)
{
        uint8_t src[300] = {0}, dec[300];
        char enc[404];
        size_t len, n, m, k;
        uint32_t x = 12345;

        (void)state;
        for (len = 0; len <= sizeof(src); len++) {
                for (k = 0; k < len; k++) {
                        x = x * 1103515245u + 12345u;
                        src[k] = (uint8_t)(x >> 16);
                }
                vt_encoding_base64_encode(src, len, enc);
                m = strlen(enc);
                assert_int_equal(m, vt_encoding_base64_len(len));
                assert_int_equal(vt_encoding_base64_decode(enc, m, dec, sizeof(dec), &n), 0);
                assert_int_equal(n, len);
                if (len > 0)
                        assert_memory_equal(dec, src, len);
                if (len >= 3) {
                        /* The first character of the first group, flipped to another letter. */
                        enc[0] = enc[0] == 'A' ? 'B' : 'A';
                        assert_int_equal(vt_encoding_base64_decode(enc, m, dec, sizeof(dec), &n),
                                         0);
                        assert_memory_not_equal(dec, src, 1);
                }
        }
}

static void url_safe_base64_accepted(void **state)
{
        struct vt_encoding_dsse e;
        static const uint8_t want[] = {0xfb, 0xff, 0xbf, 0x3e, 0x3f};
        struct vt_buf out;

        (void)state;
        /* protocol.md: verifiers MUST accept the URL-safe alphabet too. */
        assert_int_equal(parse_str("{\"payload\":\"-_-_Pj8=\",\"payloadType\":\"t\","
                                   "\"signatures\":[{\"sig\":\"AA-_\"}]}",
                                   &e, NULL),
                         0);
        assert_int_equal(e.payload_len, 5);
        assert_memory_equal(e.payload, want, 5);
        assert_int_equal(e.sigs[0].siglen, 3);
        /* We write the standard alphabet. */
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &out), 0);
        assert_non_null(strstr((const char *)out.p, "\"payload\":\"+/+/Pj8=\""));
        assert_non_null(strstr((const char *)out.p, "\"sig\":\"AA+/\""));
        vt_buf_release(&out);
        vt_encoding_dsse_release(&e);
}

static void unknown_fields_ignored_empty_keyid_absent(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_buf out;

        (void)state;
        assert_int_equal(parse_str("{\"payload\":\"\",\"payloadType\":\"t\",\"x\":[1,{}],"
                                   "\"signatures\":[{\"keyid\":\"\",\"sig\":\"AAAA\","
                                   "\"cert\":\"c\"},{\"keyid\":\"k1\",\"sig\":\"AAAA\"}]}",
                                   &e, NULL),
                         0);
        assert_int_equal(e.payload_len, 0);
        assert_non_null(e.payload);
        assert_null(e.sigs[0].keyid);
        assert_string_equal(e.sigs[1].keyid, "k1");
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &out), 0);
        assert_string_equal((const char *)out.p,
                            "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":"
                            "\"AAAA\"},{\"keyid\":\"k1\",\"sig\":\"AAAA\"}]}");
        vt_buf_release(&out);
        vt_encoding_dsse_release(&e);
}

static void payload_type_escaped_on_output(void **state)
{
        struct vt_encoding_dsse e, f;
        struct vt_buf out;

        (void)state;
        vt_encoding_dsse_init(&e);
        vt_encoding_dsse_init(&f);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "a\"b\\c\xc3\xa4", NULL, 0, NULL), 0);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &out), 0);
        assert_non_null(strstr((const char *)out.p, "\"payloadType\":\"a\\\"b\\\\c\xc3\xa4\""));
        /* No signature yet: the output is not a valid envelope. */
        assert_int_equal(vt_encoding_dsse_parse(out.p, out.len, &f, NULL), VT_EMALFORMED);
        vt_buf_release(&out);
        vt_encoding_dsse_release(&e);
}

/* ---- negative vectors ---- */

#define SIG64 "\"sig\":\"AAAA\""
static const struct {
        const char *desc, *json;
        int err;
} bad[] = {
    {"empty input", "", VT_EMALFORMED},
    {"not JSON", "{", VT_EMALFORMED},
    {"top-level array", "[]", VT_EMALFORMED},
    {"missing payload", "{\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}", VT_EMALFORMED},
    {"missing payloadType", "{\"payload\":\"\",\"signatures\":[{" SIG64 "}]}", VT_EMALFORMED},
    {"missing signatures", "{\"payload\":\"\",\"payloadType\":\"t\"}", VT_EMALFORMED},
    {"payload a number", "{\"payload\":1,\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
    {"payloadType null", "{\"payload\":\"\",\"payloadType\":null,\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
    {"payloadType empty", "{\"payload\":\"\",\"payloadType\":\"\",\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
    {"signatures an object", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":{}}",
     VT_EMALFORMED},
    {"signatures empty", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[]}",
     VT_EMALFORMED},
    {"signature a string", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[\"AAAA\"]}",
     VT_EMALFORMED},
    {"sig missing", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"keyid\":\"k\"}]}",
     VT_EMALFORMED},
    {"sig a number", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":5}]}",
     VT_EMALFORMED},
    {"sig empty", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"\"}]}",
     VT_EMALFORMED},
    {"keyid a number",
     "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"keyid\":1," SIG64 "}]}",
     VT_EMALFORMED},
    {"payload bad character",
     "{\"payload\":\"aGV*bG8=\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
    {"payload unpadded",
     "{\"payload\":\"aGVsbG8\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}", VT_EMALFORMED},
    {"payload with white space",
     "{\"payload\":\"aGVs bG8=\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
    {"payload mixed alphabets",
     "{\"payload\":\"+/-_\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}", VT_EMALFORMED},
    {"payload non-zero unused bits",
     "{\"payload\":\"aGVsbG9=\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}", VT_ENONCANON},
    {"payload padding inside",
     "{\"payload\":\"aA==aGVs\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}", VT_ENONCANON},
    {"sig non-zero unused bits",
     "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"AB==\"}]}", VT_ENONCANON},
    {"sig bad character",
     "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"AA.A\"}]}", VT_EMALFORMED},
    {"trailing garbage", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]} x",
     VT_EMALFORMED},
    {"two objects", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}{}",
     VT_EMALFORMED},
    {"duplicate key at top",
     "{\"payload\":\"\",\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
    {"duplicate key in a signature",
     "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[{" SIG64 "," SIG64 "}]}",
     VT_EMALFORMED},
    {"NUL escape in payloadType",
     "{\"payload\":\"\",\"payloadType\":\"a\\u0000b\",\"signatures\":[{" SIG64 "}]}",
     VT_EMALFORMED},
};

static void parse_negative_vectors(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int err;

                d.msg[0] = '\0';
                err = parse_str(bad[i].json, &e, &d);
                if (err != bad[i].err)
                        fail_msg("%s: got %d (%s), want %d", bad[i].desc, err, d.msg, bad[i].err);
                /* Outputs untouched on failure, one sentence naming the envelope. */
                assert_null(e.payload_type);
                assert_null(e.sigs);
                assert_true(strncmp(d.msg, "envelope", 8) == 0);
        }
}

static void parse_too_large(void **state)
{
        size_t n = VT_ENCODING_DSSE_MAX + 1;
        uint8_t *p = malloc(n);
        struct vt_encoding_dsse e;

        (void)state;
        assert_non_null(p);
        memset(p, ' ', n);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(p, n, &e, NULL), VT_ETOOBIG);
        free(p);
}

static void parse_too_many_signatures(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_buf b;
        int i;

        (void)state;
        vt_buf_init(&b);
        assert_int_equal(
            vt_buf_puts(&b, "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":["), 0);
        for (i = 0; i < VT_ENCODING_DSSE_SIGS_MAX; i++)
                assert_int_equal(vt_buf_printf(&b, "%s{\"sig\":\"AAAA\"}", i ? "," : ""), 0);
        assert_int_equal(vt_buf_puts(&b, "]}"), 0);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), 0);
        assert_int_equal(e.nsigs, VT_ENCODING_DSSE_SIGS_MAX);
        vt_encoding_dsse_release(&e);
        /* One more is refused. */
        b.len -= 2;
        assert_int_equal(vt_buf_puts(&b, ",{\"sig\":\"AAAA\"}]}"), 0);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), VT_ETOOBIG);
        assert_null(e.sigs);
        vt_buf_release(&b);
}

static void parse_field_limits(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_buf b;
        int i;

        (void)state;
        /* keyid longer than VT_ENCODING_DSSE_KEYID_MAX */
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":"
                                         "[{\"sig\":\"AAAA\",\"keyid\":\""),
                         0);
        for (i = 0; i <= VT_ENCODING_DSSE_KEYID_MAX; i++)
                assert_int_equal(vt_buf_puts(&b, "k"), 0);
        assert_int_equal(vt_buf_puts(&b, "\"}]}"), 0);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), VT_ETOOBIG);
        vt_buf_release(&b);
        /* a signature longer than VT_ENCODING_DSSE_SIG_MAX bytes */
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":"
                                         "[{\"sig\":\""),
                         0);
        for (i = 0; i < (VT_ENCODING_DSSE_SIG_MAX + 3) / 3; i++)
                assert_int_equal(vt_buf_puts(&b, "AAAA"), 0);
        assert_int_equal(vt_buf_puts(&b, "\"}]}"), 0);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), VT_ETOOBIG);
        vt_buf_release(&b);
        /* a payloadType longer than VT_ENCODING_DSSE_TYPE_MAX */
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, "{\"payload\":\"\",\"signatures\":[{\"sig\":\"AAAA\"}],"
                                         "\"payloadType\":\""),
                         0);
        for (i = 0; i <= VT_ENCODING_DSSE_TYPE_MAX; i++)
                assert_int_equal(vt_buf_puts(&b, "t"), 0);
        assert_int_equal(vt_buf_puts(&b, "\"}"), 0);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), VT_ETOOBIG);
        vt_buf_release(&b);
        /* set_payload limits */
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "", NULL, 0, NULL), VT_EINVAL);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "t", (const uint8_t *)"",
                                                      VT_ENCODING_DSSE_PAYLOAD_MAX + 1, NULL),
                         VT_ETOOBIG);
        assert_null(e.payload_type);
}

/* ---- signing and verification ---- */

/* An envelope with payload "p" of type "t", signed by the given keys in order. */
static void make_signed(struct vt_encoding_dsse *e, struct vt_crypto_key **ks, size_t n)
{
        size_t i;

        vt_encoding_dsse_init(e);
        assert_int_equal(vt_encoding_dsse_set_payload(e, "application/vnd.in-toto+json",
                                                      (const uint8_t *)"{\"p\":1}", 7, NULL),
                         0);
        for (i = 0; i < n; i++)
                assert_int_equal(vt_encoding_dsse_sign(e, ks[i], NULL), 0);
}

static void threshold_two_of_three(void **state)
{
        struct vt_crypto_key *k[3] = {gen_key(VT_CRYPTO_KEY_ED25519),
                                      gen_key(VT_CRYPTO_KEY_ECDSA_P256),
                                      gen_key(VT_CRYPTO_KEY_ED25519)};
        const struct vt_crypto_key *keys[3] = {k[0], k[1], k[2]};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};

        (void)state;
        make_signed(&e, k, 2);
        assert_int_equal(e.nsigs, 2);
        assert_string_equal(e.sigs[0].keyid, vt_crypto_key_id(k[0]));
        assert_string_equal(e.sigs[1].keyid, vt_crypto_key_id(k[1]));
        assert_int_equal(e.sigs[1].sig[0], 0x30); /* ECDSA written as DER */

        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 3, 2, &r, &d), 0);
        assert_int_equal(r.nvalid, 2);
        assert_int_equal(r.sig[0].key, 0);
        assert_int_equal(r.sig[1].key, 1);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 3, 1, NULL, NULL), 0);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 3, 3, &r, &d), VT_ETHRESHOLD);
        assert_int_equal(r.nvalid, 2);
        assert_non_null(strstr(d.msg, "2 of 3 required"));

        /* Only the first key given: 2 required but one key missing. */
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 2, &r, &d), VT_ETHRESHOLD);
        assert_int_equal(r.nvalid, 1);
        assert_int_equal(r.sig[0].status, 0);
        assert_int_equal(r.sig[1].status, VT_EUNKNOWNKEY);
        assert_int_equal(r.sig[1].key, SIZE_MAX);

        /* The keys in another order count the same. */
        keys[0] = k[2];
        keys[2] = k[0];
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 3, 2, &r, NULL), 0);
        assert_int_equal(r.sig[0].key, 2);

        /* Threshold 0 is a caller's mistake. */
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 3, 0, &r, NULL), VT_EINVAL);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k[0]);
        vt_crypto_key_free(k[1]);
        vt_crypto_key_free(k[2]);
}

static void same_key_counts_once(void **state)
{
        struct vt_crypto_key *k = gen_key(VT_CRYPTO_KEY_ED25519);
        const struct vt_crypto_key *keys[2] = {k, k};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse_sig *s;
        struct vt_encoding_dsse e;
        struct vt_buf why;

        (void)state;
        make_signed(&e, &k, 1);
        /* The same key given twice is one key. */
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 2, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.nvalid, 1);

        /* The same signature twice (copied by hand) counts once. */
        s = realloc(e.sigs, 2 * sizeof(*s));
        assert_non_null(s);
        e.sigs = s;
        e.sigs[1].keyid = NULL; /* even without its keyid */
        e.sigs[1].sig = malloc(e.sigs[0].siglen);
        assert_non_null(e.sigs[1].sig);
        memcpy(e.sigs[1].sig, e.sigs[0].sig, e.sigs[0].siglen);
        e.sigs[1].siglen = e.sigs[0].siglen;
        e.nsigs = 2;
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 2, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.nvalid, 1);
        assert_int_equal(r.sig[0].status, 0);
        assert_int_equal(r.sig[1].status, VT_EEXIST);
        assert_int_equal(r.sig[1].key, 0);
        vt_buf_init(&why);
        assert_int_equal(vt_encoding_dsse_explain(&e, keys, &r, 1, &why), 0);
        assert_non_null(strstr((const char *)why.p, "signature 2"));
        assert_non_null(strstr((const char *)why.p, "duplicate key"));
        vt_buf_release(&why);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k);
}

static void sign_refuses_same_key_twice(void **state)
{
        struct vt_crypto_key *k = gen_key(VT_CRYPTO_KEY_ECDSA_P256);
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};

        (void)state;
        make_signed(&e, &k, 1);
        assert_int_equal(vt_encoding_dsse_sign(&e, k, &d), VT_EEXIST);
        assert_non_null(strstr(d.msg, "already signed"));
        assert_int_equal(e.nsigs, 1);
        /* Without the keyid hint, the existing signature is recognised by verifying it. */
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = NULL;
        assert_int_equal(vt_encoding_dsse_sign(&e, k, &d), VT_EEXIST);
        assert_int_equal(e.nsigs, 1);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k);
}

static void sign_needs_private_key_and_payload(void **state)
{
        struct vt_crypto_key *pub = load_key("keys/ed25519.pub");
        struct vt_encoding_dsse e;

        (void)state;
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_sign(&e, pub, NULL), VT_EINVAL);
        assert_int_equal(vt_encoding_dsse_set_payload(&e, "t", (const uint8_t *)"x", 1, NULL), 0);
        assert_int_equal(vt_encoding_dsse_sign(&e, pub, NULL), VT_ENOTPRIV);
        assert_int_equal(e.nsigs, 0);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(pub);
}

static void sign_stops_at_max_signatures(void **state)
{
        struct vt_crypto_key *k[VT_ENCODING_DSSE_SIGS_MAX + 1];
        struct vt_encoding_dsse e;
        size_t i;

        (void)state;
        for (i = 0; i <= VT_ENCODING_DSSE_SIGS_MAX; i++)
                k[i] = gen_key(VT_CRYPTO_KEY_ED25519);
        make_signed(&e, k, VT_ENCODING_DSSE_SIGS_MAX);
        assert_int_equal(vt_encoding_dsse_sign(&e, k[VT_ENCODING_DSSE_SIGS_MAX], NULL), VT_ETOOBIG);
        assert_int_equal(e.nsigs, VT_ENCODING_DSSE_SIGS_MAX);
        assert_int_equal(vt_encoding_dsse_verify(&e, (const struct vt_crypto_key *const *)k,
                                                 VT_ENCODING_DSSE_SIGS_MAX + 1,
                                                 VT_ENCODING_DSSE_SIGS_MAX, NULL, NULL),
                         0);
        vt_encoding_dsse_release(&e);
        for (i = 0; i <= VT_ENCODING_DSSE_SIGS_MAX; i++)
                vt_crypto_key_free(k[i]);
}

static void keyid_is_only_a_hint(void **state)
{
        struct vt_crypto_key *k[2] = {gen_key(VT_CRYPTO_KEY_ED25519),
                                      gen_key(VT_CRYPTO_KEY_ED25519)};
        const struct vt_crypto_key *keys[2] = {k[0], k[1]};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;
        struct vt_buf why;

        (void)state;
        make_signed(&e, &k[1], 1);
        /* Signed by k1 but labelled k0: k0 is tried first, then k1 counts. */
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = strdup(vt_crypto_key_id(k[0]));
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 1, &r, NULL), 0);
        assert_int_equal(r.sig[0].key, 1);
        /* With only k0 given, the hint names a given key: a bad signature. */
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 1, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EBADSIG);
        vt_buf_init(&why);
        assert_int_equal(vt_encoding_dsse_explain(&e, keys, &r, 0, &why), 0);
        assert_non_null(strstr((const char *)why.p, "bad signature"));
        vt_buf_release(&why);
        /* A keyid naming no given key: every key is tried. */
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = strdup("some-other-id");
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 1, &r, NULL), 0);
        assert_int_equal(r.sig[0].key, 1);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 1, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EUNKNOWNKEY);
        vt_buf_init(&why);
        assert_int_equal(vt_encoding_dsse_explain(&e, keys, &r, 0, &why), 0);
        assert_non_null(strstr((const char *)why.p, "no such key"));
        vt_buf_release(&why);
        /* No keys at all: nothing can verify. */
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 0, 1, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EUNKNOWNKEY);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k[0]);
        vt_crypto_key_free(k[1]);
}

static void malformed_signature_reported(void **state)
{
        struct vt_crypto_key *k = gen_key(VT_CRYPTO_KEY_ED25519);
        const struct vt_crypto_key *keys[1] = {k};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;
        struct vt_buf why;

        (void)state;
        make_signed(&e, &k, 1);
        e.sigs[0].siglen = 63; /* too short for Ed25519 */
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 1, 1, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EMALFORMED);
        vt_buf_init(&why);
        assert_int_equal(vt_encoding_dsse_explain(&e, keys, &r, 0, &why), 0);
        assert_non_null(strstr((const char *)why.p, "malformed signature"));
        vt_buf_release(&why);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k);
}

static void tampering_detected(void **state)
{
        struct vt_crypto_key *k[2] = {gen_key(VT_CRYPTO_KEY_ED25519),
                                      gen_key(VT_CRYPTO_KEY_ECDSA_P256)};
        const struct vt_crypto_key *keys[2] = {k[0], k[1]};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;

        (void)state;
        make_signed(&e, k, 2);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 2, &r, NULL), 0);
        /* A flipped payload bit. */
        e.payload[3] ^= 0x20;
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 1, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EBADSIG);
        assert_int_equal(r.sig[1].status, VT_EBADSIG);
        e.payload[3] ^= 0x20;
        /* The payload type is authenticated too (PAE). */
        e.payload_type[0] = 'b';
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 1, &r, NULL), VT_ETHRESHOLD);
        e.payload_type[0] = 'a';
        /* A flipped signature bit. */
        e.sigs[0].sig[10] ^= 1;
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 2, &r, NULL), VT_ETHRESHOLD);
        assert_int_equal(r.sig[0].status, VT_EBADSIG);
        assert_int_equal(r.sig[1].status, 0);
        vt_encoding_dsse_release(&e);
        vt_crypto_key_free(k[0]);
        vt_crypto_key_free(k[1]);
}

static void golden_two_of_two(void **state)
{
        struct vt_crypto_key *k[2] = {load_key("keys/ed25519.pub"), load_key("keys/p256.pub")};
        const struct vt_crypto_key *keys[2] = {k[0], k[1]};
        struct vt_encoding_dsse_result r;
        struct vt_encoding_dsse e;
        struct vt_buf b;

        (void)state;
        read_data("dsse/golden-2of2.json", &b);
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(b.p, b.len, &e, NULL), 0);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys, 2, 2, &r, NULL), 0);
        assert_int_equal(r.nvalid, 2);
        assert_int_equal(vt_encoding_dsse_verify(&e, keys + 1, 1, 2, &r, NULL), VT_ETHRESHOLD);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&b);
        vt_crypto_key_free(k[0]);
        vt_crypto_key_free(k[1]);
}

/* argv[1], if given, selects tests by name (cmocka pattern: '*' and '?'). */
/*
 * Hex: every byte at every position of a 32-byte digest's 64 characters;
 * only 0-9 and a-f decode, each to its value, and the encoder's output
 * decodes back.
 */
static void hex_every_byte(void **state)
{
        static const char digits[] = "0123456789abcdef";
        char s[65], enc[65];
        uint8_t out[32], raw[32];
        int c, pos, i;

        (void)state;
        for (pos = 0; pos < 64; pos++)
                for (c = 0; c < 256; c++) {
                        const char *hit = c != 0 ? strchr(digits, c) : NULL;

                        memset(s, '0', 64);
                        s[64] = '\0';
                        s[pos] = (char)c;
                        if (hit == NULL) {
                                assert_int_equal(vt_encoding_hex_decode(s, 64, out, 32),
                                                 VT_EMALFORMED);
                                continue;
                        }
                        assert_int_equal(vt_encoding_hex_decode(s, 64, out, 32), 0);
                        for (i = 0; i < 32; i++)
                                assert_int_equal(
                                    out[i], i == pos / 2 ? (hit - digits) << (pos % 2 ? 0 : 4) : 0);
                }
        assert_int_equal(vt_encoding_hex_decode("00", 1, out, 1), VT_EMALFORMED);
        for (i = 0; i < 1000; i++) {
                randombytes_buf(raw, sizeof(raw));
                vt_encoding_hex_encode(raw, sizeof(raw), enc);
                assert_int_equal(vt_encoding_hex_decode(enc, 64, out, 32), 0);
                assert_memory_equal(out, raw, sizeof(raw));
        }
}

/* RFC 4648 §4 base64 of p[0..n), bit by bit: the reference for the table encoder. */
static void ref_base64(const uint8_t *p, size_t n, char *out)
{
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t bit, o = 0;

        for (bit = 0; bit < n * 8; bit += 6) {
                unsigned v = 0, k;
                for (k = 0; k < 6; k++) {
                        size_t b = bit + k;
                        v = v << 1 | (b < n * 8 ? (p[b / 8] >> (7 - b % 8)) & 1u : 0u);
                }
                out[o++] = a[v];
        }
        while (o % 4 != 0)
                out[o++] = '=';
        out[o] = '\0';
}

/*
 * The encoder against the reference for every length 0..64 (every tail, and
 * the 6-byte steps), the decoder back, and the decoder's refusals of a bad
 * character or a misplaced '=' at every position of the encoding.
 */
static void base64_all_lengths(void **state)
{
        uint8_t raw[64], back[64];
        char enc[100], want[100], mut[100];
        size_t n, i, m;
        int err;

        (void)state;
        for (i = 0; i < sizeof(raw); i++)
                raw[i] = (uint8_t)(i * 167 + 13) ^ (uint8_t)(i >> 2);
        for (n = 0; n <= sizeof(raw); n++) {
                ref_base64(raw, n, want);
                memset(enc, '#', sizeof(enc));
                vt_encoding_base64_encode(raw, n, enc);
                assert_string_equal(enc, want);
                assert_int_equal(strlen(enc), vt_encoding_base64_len(n));
                assert_int_equal(vt_encoding_base64_decode(enc, strlen(enc), back, n, &m), 0);
                assert_int_equal(m, n);
                assert_memory_equal(back, raw, n);
                if (n > 0)
                        assert_int_equal(
                            vt_encoding_base64_decode(enc, strlen(enc), back, n - 1, &m),
                            VT_ETOOBIG);
                for (i = 0; i < strlen(enc); i++) {
                        if (enc[i] == '=')
                                continue;
                        strcpy(mut, enc);
                        mut[i] = '*';
                        assert_int_equal(vt_encoding_base64_decode(mut, strlen(mut), back, n, &m),
                                         VT_EMALFORMED);
                        mut[i] = '-'; /* URL-safe is not the standard alphabet */
                        assert_int_equal(vt_encoding_base64_decode(mut, strlen(mut), back, n, &m),
                                         VT_EMALFORMED);
                        mut[i] = '=';
                        err = vt_encoding_base64_decode(mut, strlen(mut), back, sizeof(back), &m);
                        if (i + 4 < strlen(enc))
                                assert_int_equal(err, VT_ENONCANON); /* '=' before the last group */
                        else /* padding made up in the last group: valid only if it is canonical */
                                assert_true(err == 0 || err == VT_ENONCANON);
                }
        }
        /* Unused bits set: not canonical. */
        assert_int_equal(vt_encoding_base64_decode("QR==", 4, back, sizeof(back), &m),
                         VT_ENONCANON);
        assert_int_equal(vt_encoding_base64_decode("QUJ=", 4, back, sizeof(back), &m),
                         VT_ENONCANON);
}

/* e serialized, as a NUL-terminated heap string. */
static char *serialized(const struct vt_encoding_dsse *e)
{
        struct vt_buf b;

        vt_buf_init(&b);
        assert_int_equal(vt_encoding_dsse_serialize(e, &b), 0);
        return (char *)b.p;
}

/*
 * A parsed envelope keeps its payload's base64 (payload_b64) and serialize
 * copies it: the bytes are those of the same envelope built and serialized,
 * for payloads of every length 0..40 (every padding), with escapes in the
 * input, with URL-safe input (no memo then), and once the memo is dropped.
 */
static void serialize_parsed_equals_built(void **state)
{
        struct vt_crypto_key *k = gen_key(VT_CRYPTO_KEY_ED25519);
        struct vt_encoding_dsse e, p;
        uint8_t payload[41];
        char *built, *again, *t;
        size_t n, i;

        (void)state;
        for (i = 0; i < sizeof(payload); i++)
                payload[i] = (uint8_t)(0xf8 + i * 3); /* '+' and '/' in the base64 */
        for (n = 0; n <= 40; n++) {
                vt_encoding_dsse_init(&e);
                assert_int_equal(vt_encoding_dsse_set_payload(&e, "t/x", payload, n, NULL), 0);
                assert_null(e.payload_b64);
                assert_int_equal(vt_encoding_dsse_sign(&e, k, NULL), 0);
                built = serialized(&e);

                vt_encoding_dsse_init(&p);
                assert_int_equal(
                    vt_encoding_dsse_parse((const uint8_t *)built, strlen(built), &p, NULL), 0);
                assert_non_null(p.payload_b64);
                assert_int_equal(p.payload_b64_len, vt_encoding_base64_len(n));
                again = serialized(&p);
                assert_string_equal(again, built);
                free(again);
                /* Without the memo: encoded again, the same bytes. */
                p.payload_b64 = NULL;
                again = serialized(&p);
                assert_string_equal(again, built);
                free(again);
                /* A new payload drops the memo. */
                assert_int_equal(vt_encoding_dsse_set_payload(&p, "t/x", payload, n, NULL), 0);
                assert_null(p.payload_b64);
                vt_encoding_dsse_release(&p);

                /* Every '/' escaped as "\/" in the input: the memo is the decoded string. */
                t = malloc(2 * strlen(built) + 1);
                assert_non_null(t);
                {
                        size_t o = 0, j;
                        for (j = 0; built[j] != '\0'; j++) {
                                if (built[j] == '/')
                                        t[o++] = '\\';
                                t[o++] = built[j];
                        }
                        t[o] = '\0';
                }
                vt_encoding_dsse_init(&p);
                assert_int_equal(vt_encoding_dsse_parse((const uint8_t *)t, strlen(t), &p, NULL),
                                 0);
                again = serialized(&p);
                assert_string_equal(again, built);
                free(again);
                vt_encoding_dsse_release(&p);

                /* URL-safe input: decoded, no memo, serialized in the standard alphabet. */
                strcpy(t, built);
                for (i = 0; t[i] != ','; i++)
                        t[i] = t[i] == '+' ? '-' : t[i] == '/' ? '_' : t[i];
                vt_encoding_dsse_init(&p);
                assert_int_equal(vt_encoding_dsse_parse((const uint8_t *)t, strlen(t), &p, NULL),
                                 0);
                if (strcmp(t, built) != 0)
                        assert_null(p.payload_b64);
                again = serialized(&p);
                assert_string_equal(again, built);
                free(again);
                vt_encoding_dsse_release(&p);
                free(t);

                free(built);
                vt_encoding_dsse_release(&e);
        }
        vt_crypto_key_free(k);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(pae_spec_example),
            cmocka_unit_test(pae_empty_type_and_body),
            cmocka_unit_test(pae_multi_digit_lengths),
            cmocka_unit_test(spec_vector_verifies),
            cmocka_unit_test(spec_vector_mistyped_signature_fails),
            cmocka_unit_test(round_trip_golden),
            cmocka_unit_test(round_trip_spec_vector),
            cmocka_unit_test(sign_is_deterministic_for_ed25519),
            cmocka_unit_test(base64_known_answers),
            cmocka_unit_test(base64_refusals),
            cmocka_unit_test(base64_round_trip),
            cmocka_unit_test(hex_every_byte),
            cmocka_unit_test(url_safe_base64_accepted),
            cmocka_unit_test(unknown_fields_ignored_empty_keyid_absent),
            cmocka_unit_test(payload_type_escaped_on_output),
            cmocka_unit_test(parse_negative_vectors),
            cmocka_unit_test(parse_too_large),
            cmocka_unit_test(parse_too_many_signatures),
            cmocka_unit_test(parse_field_limits),
            cmocka_unit_test(threshold_two_of_three),
            cmocka_unit_test(same_key_counts_once),
            cmocka_unit_test(sign_refuses_same_key_twice),
            cmocka_unit_test(sign_needs_private_key_and_payload),
            cmocka_unit_test(sign_stops_at_max_signatures),
            cmocka_unit_test(keyid_is_only_a_hint),
            cmocka_unit_test(malformed_signature_reported),
            cmocka_unit_test(tampering_detected),
            cmocka_unit_test(golden_two_of_two),
            cmocka_unit_test(base64_all_lengths),
            cmocka_unit_test(serialize_parsed_equals_built),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
