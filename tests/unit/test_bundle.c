/*
 * test_bundle.c: entries, C2SP tlog-proof@v1 and offline bundles
 * (encoding.h "Entries, tlog proofs and bundles"; policy.h
 * vt_policy_bundle_verify):
 *   - entry: round trip, keyid absent, one canonical encoding (white
 *     space, key order, unknown members, trailing garbage), size limit, and
 *     the envelope check with each kind of difference;
 *   - tlog-proof: round trip with and without extra data; every proper
 *     prefix (truncation) fails; leading zeros, non-canonical base64, bad
 *     hash lines, too many hashes, trailing garbage;
 *   - bundle JSON: shape negatives; the writers for many bundles of one
 *     checkpoint (add_proved, add_proved_memo) byte for byte as add;
 *   - offline verification against a real log: ok; a flipped bit in a proof
 *     hash, a wrong index, a truncated proof, a swapped checkpoint, an entry
 *     that does not match its envelope, a forged or corrupted checkpoint
 *     signature, an unknown log, trailing garbage, and authorization by a
 *     root (allowed and denied); the failing attestation is named.
 *
 * Run one test: test_bundle <name pattern>.
 */
#include "vt_test.h"

#include <pthread.h>
#include <unistd.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/merkle.h"
#include "veritrail/policy.h"

#define SLSA   "https://slsa.dev/provenance/v1"
#define REVIEW "https://veritrail.dev/review/v1"
#define ORIGIN "example.org/test-log"

static struct vt_crypto_key *kb; /* builder */
static struct vt_crypto_key *kg; /* governance */
static struct vt_crypto_key *kx; /* a stranger */

/* ---- helpers ---------------------------------------------------------------- */

/* An in-toto envelope about subject name (its bytes as digest), signed by k. */
static void make_env(struct vt_encoding_dsse *e, const char *ptype, const char *name,
                     const struct vt_crypto_key *k)
{
        struct vt_encoding_subject s;
        struct vt_diag d = {""};
        struct vt_buf st;

        memset(&s, 0, sizeof(s));
        s.name = name;
        s.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)name, strlen(name), &s.sha256);
        vt_buf_init(&st);
        assert_int_equal(vt_encoding_statement_build(&s, 1, ptype, NULL, &st, &d), 0);
        vt_encoding_dsse_init(e);
        assert_int_equal(
            vt_encoding_dsse_set_payload(e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len, &d), 0);
        assert_int_equal(vt_encoding_dsse_sign(e, k, &d), 0);
        vt_buf_release(&st);
}

static void entry_of(const struct vt_encoding_dsse *e, struct vt_buf *out)
{
        vt_buf_init(out);
        assert_int_equal(vt_encoding_entry_encode(e, out), 0);
}

/* A signed checkpoint note for (origin, size, root) by k. */
static void signed_note(const char *origin, uint64_t size, const struct vt_hash *root,
                        const struct vt_crypto_key *k, struct vt_buf *out)
{
        struct vt_encoding_checkpoint c;
        struct vt_diag d = {""};

        memset(&c, 0, sizeof(c));
        snprintf(c.origin, sizeof(c.origin), "%s", origin);
        c.size = size;
        c.root = *root;
        vt_buf_init(out);
        if (vt_encoding_checkpoint_sign(&c, origin, k, out, &d) != 0)
                fail_msg("checkpoint_sign: %s", d.msg);
}

static int setup(void **state)
{
        (void)state;
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kb, NULL), 0);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kg, NULL), 0);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kx, NULL), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        vt_crypto_key_free(kb);
        vt_crypto_key_free(kg);
        vt_crypto_key_free(kx);
        return 0;
}

/* ---- entries ------------------------------------------------------------------ */

static void entry_roundtrip(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_encoding_entry en;
        struct vt_buf b, again;
        struct vt_diag d = {""};
        struct vt_hash h;
        json_t *j;

        (void)state;
        make_env(&e, SLSA, "app.tar", kb);
        entry_of(&e, &b);
        /* Self-describing, canonical (what jansson writes with sorted keys). */
        assert_non_null(strstr((char *)b.p, "\"mediaType\":\"" VT_ENCODING_ENTRY_MEDIA_TYPE "\""));
        j = json_loadb((const char *)b.p, b.len, 0, NULL);
        assert_non_null(j);
        vt_buf_init(&again);
        assert_int_equal(vt_encoding_json_dump(j, JSON_COMPACT | JSON_SORT_KEYS, &again), 0);
        assert_int_equal(again.len, b.len);
        assert_memory_equal(again.p, b.p, b.len);
        json_decref(j);
        vt_encoding_entry_init(&en);
        if (vt_encoding_entry_parse(b.p, b.len, &en, &d) != 0)
                fail_msg("parse: %s", d.msg);
        vt_crypto_sha256(e.payload, e.payload_len, &h);
        assert_memory_equal(en.payload_sha256.b, h.b, 32);
        assert_string_equal(en.payload_type, VT_ENCODING_INTOTO_PAYLOAD_TYPE);
        assert_int_equal(en.nsigs, 1);
        assert_string_equal(en.sigs[0].keyid, vt_crypto_key_id(kb));
        assert_int_equal(en.sigs[0].siglen, 64);
        assert_memory_equal(en.sigs[0].sig, e.sigs[0].sig, 64);
        assert_int_equal(vt_encoding_entry_check(b.p, b.len, &e, &d), 0);
        vt_encoding_entry_release(&en);
        vt_buf_release(&again);
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
}

static void entry_keyid_absent(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_encoding_entry en;
        struct vt_buf b;
        struct vt_diag d = {""};

        (void)state;
        make_env(&e, SLSA, "app.tar", kb);
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = NULL;
        entry_of(&e, &b);
        assert_null(strstr((char *)b.p, "keyid"));
        vt_encoding_entry_init(&en);
        assert_int_equal(vt_encoding_entry_parse(b.p, b.len, &en, &d), 0);
        assert_null(en.sigs[0].keyid);
        assert_int_equal(vt_encoding_entry_check(b.p, b.len, &e, &d), 0);
        vt_encoding_entry_release(&en);
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
}

/* Parse text as an entry: the error code (releases what parsed). */
static int parse_entry_text(const char *text, struct vt_diag *d)
{
        struct vt_encoding_entry en;
        int err;

        vt_encoding_entry_init(&en);
        err = vt_encoding_entry_parse((const uint8_t *)text, strlen(text), &en, d);
        vt_encoding_entry_release(&en);
        return err;
}

static void entry_one_encoding(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_buf b;
        struct vt_diag d = {""};
        char *t, *p;
        size_t n;

        (void)state;
        make_env(&e, SLSA, "app.tar", kb);
        entry_of(&e, &b);
        n = b.len;
        t = calloc(1, n + 64);
        assert_non_null(t);
        /* White space. */
        snprintf(t, n + 64, "{ %s", (char *)b.p + 1);
        assert_int_equal(parse_entry_text(t, &d), VT_ENONCANON);
        /* Trailing newline and trailing garbage. */
        snprintf(t, n + 64, "%s\n", (char *)b.p);
        assert_int_equal(parse_entry_text(t, &d), VT_ENONCANON);
        snprintf(t, n + 64, "%sx", (char *)b.p);
        assert_int_equal(parse_entry_text(t, &d), VT_EMALFORMED);
        /* Keys out of order: the first two members swapped. */
        {
                const char *m2 = strstr((char *)b.p, ",\"payloadSha256\"") + 1;
                const char *m3 = strstr((char *)b.p, ",\"payloadType\"");

                snprintf(t, n + 64, "{%.*s,%.*s%s", (int)(m3 - m2), m2,
                         (int)(m2 - 1 - ((char *)b.p + 1)), (char *)b.p + 1, m3);
                assert_int_equal(strlen(t), n);
                assert_int_equal(parse_entry_text(t, &d), VT_ENONCANON);
        }
        /* An unknown member, a wrong media type, uppercase hex. */
        snprintf(t, n + 64, "{\"a\":1,%s", (char *)b.p + 1);
        assert_int_equal(parse_entry_text(t, &d), VT_EMALFORMED);
        snprintf(t, n + 64, "%s", (char *)b.p);
        p = strstr(t, "version=1");
        p[8] = '2';
        assert_int_equal(parse_entry_text(t, &d), VT_EMALFORMED);
        assert_non_null(strstr(d.msg, "mediaType"));
        snprintf(t, n + 64, "%s", (char *)b.p);
        p = strstr(t, "\"payloadSha256\":\"") + 17;
        while (!(*p >= 'a' && *p <= 'f'))
                p++;
        *p = (char)(*p - 'a' + 'A');
        assert_int_equal(parse_entry_text(t, &d), VT_EMALFORMED);
        /* An empty keyid is not how an absent one is written. */
        snprintf(t, n + 64, "%s", (char *)b.p);
        p = strstr(t, "\"keyid\":\"") + 9;
        memmove(p, strchr(p, '"'), strlen(strchr(p, '"')) + 1);
        assert_int_equal(parse_entry_text(t, &d), VT_ENONCANON);
        /* Not JSON at all. */
        assert_int_equal(parse_entry_text("", &d), VT_EMALFORMED);
        assert_int_equal(parse_entry_text("[]", &d), VT_EMALFORMED);
        free(t);
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
}

/*
 * An entry with the text from replaced by to (cut: and everything after
 * from dropped): the code, and d.msg holding words.
 */
static void entry_edit_expect(const struct vt_buf *b, const char *from, const char *to, int cut,
                              int code, const char *words)
{
        struct vt_diag d = {""};
        const char *p = strstr((const char *)b->p, from);
        char t[2048];

        assert_non_null(p);
        snprintf(t, sizeof(t), "%.*s%s%s", (int)(p - (const char *)b->p), (const char *)b->p, to,
                 cut ? "" : p + strlen(from));
        assert_int_equal(parse_entry_text(t, &d), code);
        if (strstr(d.msg, words) == NULL)
                fail_msg("'%s' should say '%s'", d.msg, words);
}

/*
 * Each shape rule of an entry, read in place (jscan.c): keys and strings
 * compare decoded (an escaped key is the right member, then refused as not
 * canonical), and every wrong shape names itself.
 */
static void entry_shapes(void **state)
{
        /* from -> to (cut: and the rest dropped): the code, and words in the message. */
        static const struct {
                const char *from, *to;
                int cut, code;
                const char *words;
        } cases[] = {
            {"\"mediaType\"", "\"m\\u0065diaType\"", 0, VT_ENONCANON, "canonical"},
            {"\"payloadType\":\"application", "\"payloadType\":\"\\u0061pplication", 0,
             VT_ENONCANON, "canonical"},
            {"\"signatures\":", "\"signatures\":7}", 1, VT_EMALFORMED,
             "signatures is not a non-empty array"},
            {"\"signatures\":", "\"signatures\":[]}", 1, VT_EMALFORMED,
             "signatures is not a non-empty array"},
            {"\"signatures\":[{", "\"signatures\":[7,{", 0, VT_EMALFORMED,
             "signatures[0] is not an object"},
            {"{\"keyid\"", "{\"x\":1,\"keyid\"", 0, VT_EMALFORMED,
             "signatures[0] wants sig and an optional keyid, nothing else"},
            {"\"keyid\":\"", "\"keyid\":7,\"q\":\"", 0, VT_EMALFORMED,
             "signatures[0].keyid is not a string"},
            {"\"sig\":", "\"zig\":", 0, VT_EMALFORMED, "signatures[0].sig is missing"},
            {"\"sig\":\"", "\"sig\":\"*", 0, VT_EMALFORMED,
             "signatures[0].sig is not standard padded base64"},
            {"\"payloadType\":", "\"x\":1,\"payloadType\":", 0, VT_EMALFORMED,
             "wants exactly mediaType, payloadSha256, payloadType and signatures"},
            {"{\"mediaType", "[{\"mediaType", 0, VT_EMALFORMED, "entry: "},
        };
        struct vt_encoding_dsse e;
        struct vt_buf b;
        size_t i;

        (void)state;
        make_env(&e, SLSA, "app.tar", kb);
        entry_of(&e, &b);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                entry_edit_expect(&b, cases[i].from, cases[i].to, cases[i].cut, cases[i].code,
                                  cases[i].words);
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
}

static void entry_size_limit(void **state)
{
        struct vt_encoding_dsse e;
        struct vt_buf b;
        size_t i;

        (void)state;
        make_env(&e, SLSA, "app.tar", kb);
        /* 64 signatures of 1024 bytes: about 88 KiB of base64, over the limit. */
        e.sigs = realloc(e.sigs, 64 * sizeof(*e.sigs));
        assert_non_null(e.sigs);
        for (i = 1; i < 64; i++) {
                e.sigs[i].keyid = NULL;
                e.sigs[i].sig = calloc(1, 1024);
                e.sigs[i].siglen = 1024;
        }
        e.nsigs = 64;
        vt_buf_init(&b);
        assert_int_equal(vt_encoding_entry_encode(&e, &b), VT_ETOOBIG);
        assert_int_equal(b.len, 0);
        /* 40 of them fit (about 55 KiB). */
        e.nsigs = 40;
        assert_int_equal(vt_encoding_entry_encode(&e, &b), 0);
        assert_true(b.len > 50000 && b.len <= VT_ENCODING_ENTRY_MAX);
        e.nsigs = 64;
        vt_buf_release(&b);
        vt_encoding_dsse_release(&e);
}

static void entry_check_mismatch(void **state)
{
        struct vt_encoding_dsse a, c;
        struct vt_buf b;
        struct vt_diag d = {""};

        (void)state;
        make_env(&a, SLSA, "app.tar", kb);
        entry_of(&a, &b);
        /* Another payload. */
        make_env(&c, SLSA, "other.tar", kb);
        assert_int_equal(vt_encoding_entry_check(b.p, b.len, &c, &d), VT_EMISMATCH);
        assert_non_null(strstr(d.msg, "payloadSha256"));
        vt_encoding_dsse_release(&c);
        /* The same payload signed by another key. */
        make_env(&c, SLSA, "app.tar", kx);
        assert_int_equal(vt_encoding_entry_check(b.p, b.len, &c, &d), VT_EMISMATCH);
        assert_non_null(strstr(d.msg, "signature 1"));
        /* One more signature. */
        assert_int_equal(vt_encoding_dsse_sign(&a, kx, &d), 0);
        assert_int_equal(vt_encoding_entry_check(b.p, b.len, &a, &d), VT_EMISMATCH);
        assert_non_null(strstr(d.msg, "signatures"));
        vt_encoding_dsse_release(&c);
        /* Another payload type. */
        vt_encoding_dsse_init(&c);
        assert_int_equal(
            vt_encoding_dsse_set_payload(&c, "text/plain", a.payload, a.payload_len, &d), 0);
        assert_int_equal(vt_encoding_dsse_sign(&c, kb, &d), 0);
        assert_int_equal(vt_encoding_entry_check(b.p, b.len, &c, &d), VT_EMISMATCH);
        assert_non_null(strstr(d.msg, "payloadType"));
        /* Not an entry. */
        assert_int_equal(vt_encoding_entry_check((const uint8_t *)"{}", 2, &a, &d), VT_EMALFORMED);
        vt_encoding_dsse_release(&c);
        vt_encoding_dsse_release(&a);
        vt_buf_release(&b);
}

/* ---- tlog-proof ------------------------------------------------------------------ */

static void proof_text(uint64_t index, size_t npath, int extra, struct vt_buf *out)
{
        struct vt_hash path[VT_ENCODING_TLOG_PROOF_HASHES_MAX + 1], root;
        struct vt_buf note;
        size_t i;

        for (i = 0; i < npath; i++)
                vt_crypto_sha256((const uint8_t *)&i, sizeof(i), &path[i]);
        vt_crypto_sha256((const uint8_t *)"root", 4, &root);
        signed_note(ORIGIN, 1000, &root, kg, &note);
        vt_buf_init(out);
        assert_int_equal(vt_encoding_tlog_proof_format(index, path, npath,
                                                       extra ? (const uint8_t *)"xyz" : NULL,
                                                       extra ? 3 : 0, note.p, note.len, out),
                         0);
        vt_buf_release(&note);
}

static int parse_proof(const void *p, size_t n, struct vt_diag *d)
{
        struct vt_encoding_tlog_proof pr;
        int err;

        vt_encoding_tlog_proof_init(&pr);
        err = vt_encoding_tlog_proof_parse(p, n, &pr, d);
        vt_encoding_tlog_proof_release(&pr);
        return err;
}

static void proof_roundtrip(void **state)
{
        struct vt_encoding_tlog_proof pr;
        struct vt_diag d = {""};
        struct vt_buf t;
        struct vt_hash h;
        size_t i;

        (void)state;
        proof_text(73894, 5, 1, &t);
        assert_memory_equal(t.p, "c2sp.org/tlog-proof@v1\nextra eHl6\nindex 73894\n", 46);
        vt_encoding_tlog_proof_init(&pr);
        if (vt_encoding_tlog_proof_parse(t.p, t.len, &pr, &d) != 0)
                fail_msg("parse: %s", d.msg);
        assert_int_equal(pr.index, 73894);
        assert_int_equal(pr.npath, 5);
        for (i = 0; i < 5; i++) {
                vt_crypto_sha256((const uint8_t *)&i, sizeof(i), &h);
                assert_memory_equal(pr.path[i].b, h.b, 32);
        }
        assert_true(pr.has_extra);
        assert_int_equal(pr.extra_len, 3);
        assert_memory_equal(pr.extra, "xyz", 3);
        assert_true(pr.checkpoint_len > 0);
        assert_memory_equal(pr.checkpoint, ORIGIN "\n1000\n", strlen(ORIGIN) + 6);
        vt_encoding_tlog_proof_release(&pr);
        vt_buf_release(&t);
        /* No extra line, no hashes (a tree of one entry). */
        proof_text(0, 0, 0, &t);
        vt_encoding_tlog_proof_init(&pr);
        assert_int_equal(vt_encoding_tlog_proof_parse(t.p, t.len, &pr, &d), 0);
        assert_int_equal(pr.index, 0);
        assert_int_equal(pr.npath, 0);
        assert_false(pr.has_extra);
        vt_encoding_tlog_proof_release(&pr);
        vt_buf_release(&t);
}

static void proof_truncated(void **state)
{
        struct vt_diag d = {""};
        struct vt_buf t;
        size_t n;

        (void)state;
        proof_text(17, 4, 1, &t);
        for (n = 0; n < t.len; n++)
                if (parse_proof(t.p, n, &d) == 0)
                        fail_msg("a proof cut to %zu of %zu bytes parses", n, t.len);
        vt_buf_release(&t);
}

/* Replace the first occurrence of from by to in t (same buffer) and parse. */
static int parse_edited(const struct vt_buf *t, const char *from, const char *to, struct vt_diag *d)
{
        const char *p = strstr((const char *)t->p, from);
        struct vt_buf b;
        int err;

        assert_non_null(p);
        vt_buf_init(&b);
        assert_int_equal(vt_buf_append(&b, t->p, (size_t)(p - (const char *)t->p)), 0);
        assert_int_equal(vt_buf_puts(&b, to), 0);
        assert_int_equal(vt_buf_puts(&b, p + strlen(from)), 0);
        err = parse_proof(b.p, b.len, d);
        vt_buf_release(&b);
        return err;
}

/*
 * A bundle's proof string is written as jansson writes it, whether by the
 * direct path (printable ASCII, newlines, em dashes) or by jansson itself
 * (anything else).
 */
static void bundle_proof_string(void **state)
{
        static const char *const proofs[] = {
            "c2sp.org/tlog-proof@v1\nindex 3\nAAAA\n\nlog.example\n4\nabc=\n\n\xe2\x80\x94 "
            "log.example x+y/z==\n",
            "quote \" and backslash \\ and slash /",
            "",
            "tab\there",
            "\x7f and \x01",
            "caf\xc3\xa9 \xe2\x80\x93 \xe2\x80",
            "\xe2\x80\x94",
            "\xe2\x80\x94\xe2\x80",
        };
        struct vt_buf out, want;
        size_t i;
        json_t *v;

        (void)state;
        vt_buf_init(&out);
        vt_buf_init(&want);
        for (i = 0; i < sizeof(proofs) / sizeof(proofs[0]); i++) {
                const char *p = proofs[i];
                int err;

                out.len = want.len = 0;
                err =
                    vt_encoding_bundle_add(&out, 1, (const uint8_t *)"{}", 2, (const uint8_t *)"e",
                                           1, (const uint8_t *)p, strlen(p));
                v = json_stringn(p, strlen(p));
                if (v == NULL) {
                        /* Not UTF-8: refused, out untouched. */
                        assert_int_equal(err, VT_EINVAL);
                        assert_int_equal(out.len, 0);
                        continue;
                }
                assert_int_equal(err, 0);
                assert_int_equal(
                    vt_buf_puts(&want, "{\"entry\":\"ZQ==\",\"envelope\":{},\"proof\":"), 0);
                assert_int_equal(vt_encoding_json_dump(v, JSON_COMPACT | JSON_ENCODE_ANY, &want),
                                 0);
                json_decref(v);
                assert_int_equal(vt_buf_puts(&want, "}"), 0);
                assert_int_equal(out.len, want.len);
                assert_memory_equal(out.p, want.p, want.len);
        }
        vt_buf_release(&out);
        vt_buf_release(&want);
}

/*
 * vt_encoding_bundle_add_proved() writes, byte for byte, what
 * vt_encoding_tlog_proof_format() and vt_encoding_bundle_add() write
 * together: for proofs of 0 to the most hashes, first or not, notes that
 * take the direct path and one that takes jansson's (non-ASCII origin).
 */
static void bundle_add_proved_same(void **state)
{
        static const char *const notes[] = {
            "log.example/a\n4\nq83vEjRWeJA=\n\n\xe2\x80\x94 log.example/a x+y/z==\n",
            "caf\xc3\xa9.example\n12\nabc=\n\n\xe2\x80\x94 caf\xc3\xa9.example AAAA\n",
            "tab\there \"quoted\" back\\slash\n",
        };
        static const size_t npaths[] = {0, 1, 2, 17, VT_ENCODING_TLOG_PROOF_HASHES_MAX};
        struct vt_hash path[VT_ENCODING_TLOG_PROOF_HASHES_MAX];
        struct vt_buf want, got, proof, nj;
        const char *env = "{\"payload\":\"e30=\",\"payloadType\":\"t\",\"signatures\":[]}";
        const uint8_t entry[] = {'{', '"', 'a', '"', ':', 0xff, 0x00, '}'};
        size_t i, j, k;

        (void)state;
        vt_buf_init(&want);
        vt_buf_init(&got);
        vt_buf_init(&proof);
        vt_buf_init(&nj);
        for (i = 0; i < VT_ENCODING_TLOG_PROOF_HASHES_MAX; i++)
                vt_crypto_sha256((const uint8_t *)&i, sizeof(i), &path[i]);
        for (i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
                const uint8_t *note = (const uint8_t *)notes[i];
                size_t nlen = strlen(notes[i]);

                nj.len = 0;
                assert_int_equal(vt_encoding_bundle_proof_note(note, nlen, &nj), 0);
                for (j = 0; j < sizeof(npaths) / sizeof(npaths[0]); j++)
                        for (k = 0; k < 2; k++) {
                                uint64_t index = k ? UINT64_MAX : 3 + j;

                                want.len = got.len = proof.len = 0;
                                assert_int_equal(vt_encoding_tlog_proof_format(index, path,
                                                                               npaths[j], NULL, 0,
                                                                               note, nlen, &proof),
                                                 0);
                                assert_int_equal(vt_buf_puts(&want, "x"), 0);
                                assert_int_equal(vt_buf_puts(&got, "x"), 0);
                                assert_int_equal(
                                    vt_encoding_bundle_add(&want, (int)k, (const uint8_t *)env,
                                                           strlen(env), entry, sizeof(entry),
                                                           proof.p, proof.len),
                                    0);
                                assert_int_equal(vt_encoding_bundle_add_proved(
                                                     &got, (int)k, (const uint8_t *)env,
                                                     strlen(env), entry, sizeof(entry), index, path,
                                                     npaths[j], (const char *)nj.p, nj.len),
                                                 0);
                                assert_int_equal(got.len, want.len);
                                assert_memory_equal(got.p, want.p, want.len);
                                assert_int_equal(got.p[got.len], '\0');
                        }
        }
        /* Refusals, nothing appended. */
        got.len = 0;
        assert_int_equal(vt_encoding_bundle_proof_note((const uint8_t *)"no newline", 10, &got),
                         VT_EINVAL);
        assert_int_equal(vt_encoding_bundle_proof_note((const uint8_t *)"\xff\n", 2, &got),
                         VT_EINVAL);
        assert_int_equal(
            vt_encoding_bundle_add_proved(&got, 1, (const uint8_t *)"{}", 2, entry, 1, 0, path,
                                          VT_ENCODING_TLOG_PROOF_HASHES_MAX + 1, "n\\n", 3),
            VT_EINVAL);
        assert_int_equal(got.len, 0);
        vt_buf_release(&want);
        vt_buf_release(&got);
        vt_buf_release(&proof);
        vt_buf_release(&nj);
}

/*
 * vt_encoding_bundle_add_proved_memo() writes what
 * vt_encoding_bundle_add_proved() writes, byte for byte, over a sequence of
 * paths through one memo: each path ending like the previous one by 0 to
 * all of its hashes (as the paths of one tree size do), of lengths 0 to the
 * most, longer and shorter than the previous, repeated, and with a hash
 * equal to the previous path's at the same place but not in the common end.
 */
static void bundle_add_proved_memo_same(void **state)
{
        enum { STEPS = 3000 };
        struct vt_hash prev[VT_ENCODING_TLOG_PROOF_HASHES_MAX],
            path[VT_ENCODING_TLOG_PROOF_HASHES_MAX];
        static struct vt_encoding_path_memo memo;
        const char *note = "log.example/a\n4\nq83vEjRWeJA=\n\n\xe2\x80\x94 log.example/a x+y/z==\n";
        const char *env = "{\"payload\":\"e30=\",\"payloadType\":\"t\",\"signatures\":[]}";
        const uint8_t entry[] = {'{', '"', 'a', '"', ':', 0xff, 0x00, '}'};
        struct vt_buf want, got, nj;
        uint64_t x = 88172645463325252ull, ctr = 0;
        size_t np = 0, nprev = 0, keep, i, step, reused = 0;

        (void)state;
        vt_buf_init(&want);
        vt_buf_init(&got);
        vt_buf_init(&nj);
        assert_int_equal(vt_encoding_bundle_proof_note((const uint8_t *)note, strlen(note), &nj),
                         0);
        vt_encoding_path_memo_init(&memo);
        for (step = 0; step < STEPS; step++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                switch (x % 8) {
                case 0:
                        np = 0;
                        break;
                case 1:
                        np = VT_ENCODING_TLOG_PROOF_HASHES_MAX;
                        break;
                case 2:
                        np = nprev; /* the same length */
                        break;
                default:
                        np = (size_t)(x >> 8) % (VT_ENCODING_TLOG_PROOF_HASHES_MAX + 1);
                }
                /* Ends like prev by keep hashes; the rest new (one of them prev's, shifted). */
                keep = np < nprev ? np : nprev;
                keep = (x >> 20) % 4 == 0 ? keep : (size_t)(x >> 24) % (keep + 1);
                for (i = 0; i < np - keep; i++) {
                        ctr++;
                        vt_crypto_sha256((const uint8_t *)&ctr, sizeof(ctr), &path[i]);
                }
                for (i = 0; i < keep; i++)
                        path[np - keep + i] = prev[nprev - keep + i];
                if (np > keep + 1 && nprev >= np && (x >> 30) % 2)
                        path[0] = prev[nprev - np]; /* equal at its place, not part of the end */
                reused += keep;
                want.len = got.len = 0;
                assert_int_equal(vt_buf_puts(&want, "x"), 0);
                assert_int_equal(vt_buf_puts(&got, "x"), 0);
                assert_int_equal(vt_encoding_bundle_add_proved(&want, (int)(step % 2),
                                                               (const uint8_t *)env, strlen(env),
                                                               entry, sizeof(entry), step, path, np,
                                                               (const char *)nj.p, nj.len),
                                 0);
                assert_int_equal(
                    vt_encoding_bundle_add_proved_memo(&got, (int)(step % 2), (const uint8_t *)env,
                                                       strlen(env), entry, sizeof(entry), step,
                                                       path, np, (const char *)nj.p, nj.len, &memo),
                    0);
                assert_int_equal(got.len, want.len);
                if (memcmp(got.p, want.p, want.len) != 0)
                        fail_msg("step %zu (%zu hashes, %zu kept): the memo's text differs", step,
                                 np, keep);
                assert_int_equal(got.p[got.len], '\0');
                memcpy(prev, path, np * sizeof(path[0]));
                nprev = np;
        }
        assert_true(reused > STEPS); /* the memo's text was in use */
        /* Refusals append nothing; the memo still serves the next bundle. */
        got.len = 0;
        assert_int_equal(vt_encoding_bundle_add_proved_memo(
                             &got, 1, (const uint8_t *)"{}", 2, entry, 1, 0, path,
                             VT_ENCODING_TLOG_PROOF_HASHES_MAX + 1, "n\\n", 3, &memo),
                         VT_EINVAL);
        assert_int_equal(vt_encoding_bundle_add_proved_memo(&got, 1, (const uint8_t *)"{}", 2,
                                                            entry, 1, 0, path, 1, NULL, 0, &memo),
                         VT_EINVAL);
        assert_int_equal(got.len, 0);
        want.len = 0;
        assert_int_equal(vt_encoding_bundle_add_proved(&want, 1, (const uint8_t *)"{}", 2, entry, 1,
                                                       7, prev, nprev, (const char *)nj.p, nj.len),
                         0);
        assert_int_equal(vt_encoding_bundle_add_proved_memo(&got, 1, (const uint8_t *)"{}", 2,
                                                            entry, 1, 7, prev, nprev,
                                                            (const char *)nj.p, nj.len, &memo),
                         0);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.p, want.p, want.len);
        vt_buf_release(&want);
        vt_buf_release(&got);
        vt_buf_release(&nj);
}

static void proof_negatives(void **state)
{
        struct vt_diag d = {""};
        struct vt_buf t, u;
        char line[64];
        const char *h;

        (void)state;
        proof_text(17, 2, 0, &t);
        assert_int_equal(parse_edited(&t, "tlog-proof@v1", "tlog-proof@v2", &d), VT_EMALFORMED);
        assert_int_equal(parse_edited(&t, "index 17", "index 017", &d), VT_ENONCANON);
        assert_int_equal(parse_edited(&t, "index 17", "index +17", &d), VT_EMALFORMED);
        assert_int_equal(parse_edited(&t, "index 17", "index 18446744073709551616", &d),
                         VT_EMALFORMED);
        assert_int_equal(parse_edited(&t, "index 17", "index  17", &d), VT_EMALFORMED);
        assert_int_equal(parse_edited(&t, "index 17\n", "", &d), VT_EMALFORMED);
        assert_int_equal(parse_edited(&t, "index 17", "extra \nindex 17", &d), VT_EMALFORMED);
        assert_int_equal(parse_edited(&t, "index 17", "extra eHl=\nindex 17", &d), VT_ENONCANON);
        /* A hash line: short, non-canonical (unused bits set), not base64. */
        h = strstr((const char *)t.p, "index 17\n") + 9;
        snprintf(line, sizeof(line), "%.44s", h);
        assert_int_equal(parse_edited(&t, line, line + 1, &d), VT_EMALFORMED);
        {
                static const char abc[] =
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                char nc[64];
                size_t v;

                /* 32 bytes leave 2 unused bits in character 43: set one. */
                snprintf(nc, sizeof(nc), "%s", line);
                v = (size_t)(strchr(abc, nc[42]) - abc);
                nc[42] = abc[v ^ 1];
                assert_int_equal(parse_edited(&t, line, nc, &d), VT_ENONCANON);
                snprintf(nc, sizeof(nc), "%s", line);
                nc[10] = '*';
                assert_int_equal(parse_edited(&t, line, nc, &d), VT_EMALFORMED);
                nc[10] = '-'; /* the URL-safe alphabet is not the one tlog-proof uses */
                assert_int_equal(parse_edited(&t, line, nc, &d), VT_EMALFORMED);
        }
        /* No empty line before the checkpoint. */
        assert_int_not_equal(parse_edited(&t, "=\n\n" ORIGIN, "=\n" ORIGIN, &d), 0);
        /* Trailing garbage after the note. */
        vt_buf_init(&u);
        assert_int_equal(vt_buf_append(&u, t.p, t.len), 0);
        assert_int_equal(vt_buf_puts(&u, "garbage\n"), 0);
        assert_int_not_equal(parse_proof(u.p, u.len, &d), 0);
        vt_buf_release(&u);
        /* The checkpoint must be a checkpoint: size not a number. */
        assert_int_not_equal(parse_edited(&t, "\n1000\n", "\n10x0\n", &d), 0);
        vt_buf_release(&t);
        /* Too many hashes. */
        proof_text(17, VT_ENCODING_TLOG_PROOF_HASHES_MAX, 0, &t);
        assert_int_equal(parse_proof(t.p, t.len, &d), 0);
        h = strstr((const char *)t.p, "index 17\n") + 9;
        snprintf(line, sizeof(line), "%.45s", h);
        vt_buf_init(&u);
        assert_int_equal(vt_buf_append(&u, t.p, (size_t)(h - (const char *)t.p)), 0);
        assert_int_equal(vt_buf_puts(&u, line), 0);
        assert_int_equal(vt_buf_puts(&u, h), 0);
        assert_int_equal(parse_proof(u.p, u.len, &d), VT_ETOOBIG);
        vt_buf_release(&u);
        vt_buf_release(&t);
}

/* ---- bundles against a real log ----------------------------------------------------- */

#define NENV 5

/* A log of NENV envelopes (checkpoints at sizes 3 and 5) and what a bundle needs. */
struct fix {
        char *dir;
        struct vt_log *log;
        struct vt_encoding_dsse env[NENV];
        struct vt_buf envjson[NENV], entry[NENV];
        struct vt_buf note;  /* the latest checkpoint (size 5) */
        struct vt_buf note3; /* the checkpoint of size 3 */
};

static int fix_setup(void **state)
{
        struct fix *f = calloc(1, sizeof(*f));
        const uint8_t *ep[NENV];
        size_t el[NENV], i;
        struct vt_diag d = {""};
        uint64_t first, size;
        char name[32];

        assert_non_null(f);
        f->dir = vt_test_tmpdir_new("bundle");
        if (vt_log_init(f->dir, ORIGIN, &d) != 0 || vt_log_open(f->dir, 0, &f->log, &d) != 0)
                fail_msg("log: %s", d.msg);
        for (i = 0; i < NENV; i++) {
                snprintf(name, sizeof(name), "artifact-%zu.tar", i);
                make_env(&f->env[i], i == 4 ? REVIEW : SLSA, name, kb);
                vt_buf_init(&f->envjson[i]);
                assert_int_equal(vt_encoding_dsse_serialize(&f->env[i], &f->envjson[i]), 0);
                entry_of(&f->env[i], &f->entry[i]);
                ep[i] = f->entry[i].p;
                el[i] = f->entry[i].len;
        }
        assert_int_equal(vt_log_append(f->log, ep, el, 3, &first, &d), 0);
        assert_int_equal(vt_log_append(f->log, ep + 3, el + 3, 2, &first, &d), 0);
        vt_buf_init(&f->note);
        vt_buf_init(&f->note3);
        assert_int_equal(vt_log_checkpoint(f->log, &size, &f->note, &d), 0);
        assert_int_equal(size, NENV);
        assert_int_equal(vt_log_checkpoint_at(f->log, 3, &f->note3, &d), 0);
        *state = f;
        return 0;
}

static int fix_teardown(void **state)
{
        struct fix *f = *state;
        size_t i;

        for (i = 0; i < NENV; i++) {
                vt_encoding_dsse_release(&f->env[i]);
                vt_buf_release(&f->envjson[i]);
                vt_buf_release(&f->entry[i]);
        }
        vt_buf_release(&f->note);
        vt_buf_release(&f->note3);
        vt_log_close(f->log);
        vt_test_tmpdir_free(f->dir);
        free(f);
        return 0;
}

/* How to spoil one attestation. */
enum spoil { OK, FLIP_HASH, WRONG_INDEX, DROP_HASH, OLD_CHECKPOINT, OTHER_ENTRY, NOTE_GIVEN };

/* Append attestation i (proved at size 5) to the bundle out, spoiled as asked. */
static void add_att(struct fix *f, struct vt_buf *out, int first, size_t i, enum spoil how,
                    const struct vt_buf *note)
{
        struct vt_hash path[VT_LOG_PROOF_MAX];
        struct vt_buf proof;
        struct vt_diag d = {""};
        uint64_t index = i;
        size_t np = 0;
        const struct vt_buf *entry = &f->entry[i];

        assert_int_equal(vt_log_prove_inclusion(f->log, i, NENV, path, &np, &d), 0);
        assert_true(np > 0);
        if (how == FLIP_HASH)
                path[0].b[7] ^= 0x10;
        if (how == WRONG_INDEX)
                index = i ^ 1;
        if (how == DROP_HASH)
                np--;
        if (how == OTHER_ENTRY)
                entry = &f->entry[(i + 1) % NENV];
        if (note == NULL)
                note = how == OLD_CHECKPOINT ? &f->note3 : &f->note;
        vt_buf_init(&proof);
        assert_int_equal(
            vt_encoding_tlog_proof_format(index, path, np, NULL, 0, note->p, note->len, &proof), 0);
        assert_int_equal(vt_encoding_bundle_add(out, first, f->envjson[i].p, f->envjson[i].len,
                                                entry->p, entry->len, proof.p, proof.len),
                         0);
        vt_buf_release(&proof);
}

/* A bundle of attestations 0..NENV-1 where attestation bad is spoiled by how. */
static void make_bundle(struct fix *f, size_t bad, enum spoil how, const struct vt_buf *note,
                        struct vt_buf *out)
{
        size_t i;

        vt_buf_init(out);
        assert_int_equal(vt_encoding_bundle_begin(out), 0);
        for (i = 0; i < NENV; i++)
                add_att(f, out, i == 0, i, i == bad ? how : OK, i == bad ? note : NULL);
        assert_int_equal(vt_encoding_bundle_end(out), 0);
}

static int verify(struct fix *f, const struct vt_buf *b, const struct vt_policy_root *root,
                  struct vt_buf *report, struct vt_diag *d)
{
        const char *vk[] = {vt_log_vkey(f->log)};

        d->msg[0] = '\0';
        if (report != NULL)
                report->len = 0;
        return vt_policy_bundle_verify(b->p, b->len, vk, 1, root, report, d);
}

static void verify_ok(void **state)
{
        struct fix *f = *state;
        struct vt_encoding_bundle pb;
        struct vt_buf b, rep;
        struct vt_diag d = {""};
        const char *p;
        int n = 0;

        make_bundle(f, 99, OK, NULL, &b);
        vt_encoding_bundle_init(&pb);
        if (vt_encoding_bundle_parse(b.p, b.len, &pb, &d) != 0)
                fail_msg("parse: %s", d.msg);
        assert_int_equal(pb.n, NENV);
        assert_int_equal(pb.atts[2].proof.index, 2);
        vt_encoding_bundle_release(&pb);
        vt_buf_init(&rep);
        if (verify(f, &b, NULL, &rep, &d) != 0)
                fail_msg("verify: %s", d.msg);
        for (p = (const char *)rep.p; (p = strstr(p, ": ok: ")) != NULL; p++)
                n++;
        assert_int_equal(n, NENV);
        assert_non_null(strstr((char *)rep.p, "attestation 3: ok: entry 2 of log '" ORIGIN
                                              "' (checkpoint size 5)"));
        vt_buf_release(&rep);
        vt_buf_release(&b);
}

static void expect_fail(struct fix *f, enum spoil how, int code, const char *words)
{
        struct vt_buf b, rep;
        struct vt_diag d = {""};

        make_bundle(f, 1, how, NULL, &b);
        vt_buf_init(&rep);
        assert_int_equal(verify(f, &b, NULL, &rep, &d), code);
        /* The failing attestation is named, the others still verify. */
        if (strncmp(d.msg, "attestation 2: ", 15) != 0 || strstr(d.msg, words) == NULL)
                fail_msg("diagnostic '%s' should name attestation 2 and say '%s'", d.msg, words);
        assert_non_null(strstr((char *)rep.p, "attestation 2: FAILED: "));
        assert_non_null(strstr((char *)rep.p, "attestation 1: ok"));
        assert_non_null(strstr((char *)rep.p, "attestation 3: ok"));
        vt_buf_release(&rep);
        vt_buf_release(&b);
}

static void verify_flipped_bit(void **state)
{
        expect_fail(*state, FLIP_HASH, VT_EPROOF, "proof mismatch");
}

static void verify_wrong_index(void **state)
{
        expect_fail(*state, WRONG_INDEX, VT_EPROOF, "proof mismatch");
}

static void verify_truncated_proof(void **state)
{
        expect_fail(*state, DROP_HASH, VT_EPROOF, "proof mismatch");
}

static void verify_swapped_checkpoint(void **state)
{
        expect_fail(*state, OLD_CHECKPOINT, VT_EPROOF, "proof mismatch");
}

static void verify_entry_mismatch(void **state)
{
        expect_fail(*state, OTHER_ENTRY, VT_EMISMATCH, "entry does not match the envelope");
}

static void verify_forged_checkpoint(void **state)
{
        struct fix *f = *state;
        struct vt_encoding_checkpoint c;
        struct vt_buf forged, b, rep;
        struct vt_diag d = {""};
        const char *vk[1];
        char *p;

        /* The same body, signed by a stranger under the log's name. */
        {
                struct vt_encoding_note_verifier *v = NULL;
                assert_int_equal(vt_encoding_note_verifier_parse(
                                     vt_log_vkey(f->log), strlen(vt_log_vkey(f->log)), &v, &d),
                                 0);
                assert_int_equal(vt_encoding_checkpoint_open(f->note.p, f->note.len, v, &c, &d), 0);
                vt_encoding_note_verifier_free(v);
        }
        signed_note(ORIGIN, c.size, &c.root, kx, &forged);
        make_bundle(f, 1, NOTE_GIVEN, &forged, &b);
        vt_buf_init(&rep);
        assert_int_equal(verify(f, &b, NULL, &rep, &d), VT_EUNKNOWNKEY);
        assert_non_null(strstr(d.msg, "attestation 2: checkpoint signature"));
        vt_buf_release(&b);
        /* The log's own signature with one bit flipped. */
        vt_buf_release(&forged);
        vt_buf_init(&forged);
        assert_int_equal(vt_buf_append(&forged, f->note.p, f->note.len), 0);
        p = strrchr((char *)forged.p, ' ') + 12;
        *p = *p == 'A' ? 'B' : 'A';
        make_bundle(f, 1, NOTE_GIVEN, &forged, &b);
        assert_int_equal(verify(f, &b, NULL, &rep, &d), VT_EBADSIG);
        assert_non_null(strstr(d.msg, "attestation 2: checkpoint signature"));
        vt_buf_release(&b);
        vt_buf_release(&forged);
        /* A key the caller does not trust: every attestation fails. */
        make_bundle(f, 99, OK, NULL, &b);
        vt_buf_init(&forged);
        assert_int_equal(vt_encoding_note_vkey("example.org/other-log", kx, &forged), 0);
        vk[0] = (const char *)forged.p;
        assert_int_equal(vt_policy_bundle_verify(b.p, b.len, vk, 1, NULL, &rep, &d),
                         VT_EUNKNOWNKEY);
        assert_non_null(strstr(d.msg, "not a trusted log"));
        vk[0] = "not a key";
        assert_int_equal(vt_policy_bundle_verify(b.p, b.len, vk, 1, NULL, &rep, &d), VT_EINVAL);
        vt_buf_release(&forged);
        vt_buf_release(&b);
        vt_buf_release(&rep);
}

static void verify_malformed(void **state)
{
        struct fix *f = *state;
        struct vt_buf b, c;
        struct vt_diag d = {""};
        const char *p;

        make_bundle(f, 99, OK, NULL, &b);
        /* Trailing garbage. */
        vt_buf_init(&c);
        assert_int_equal(vt_buf_append(&c, b.p, b.len), 0);
        assert_int_equal(vt_buf_puts(&c, "x"), 0);
        assert_int_equal(verify(f, &c, NULL, NULL, &d), VT_EMALFORMED);
        /* Shapes. */
        c.len = 0;
        assert_int_equal(
            vt_buf_puts(&c, "{\"attestations\":[],\"mediaType\":\"" VT_ENCODING_BUNDLE_MEDIA_TYPE
                            "\"}"),
            0);
        assert_int_equal(verify(f, &c, NULL, NULL, &d), VT_EMALFORMED);
        c.len = 0;
        assert_int_equal(vt_buf_append(&c, b.p, b.len - 2), 0);
        assert_int_equal(vt_buf_puts(&c, "2\"}"), 0); /* version=2 */
        assert_int_equal(verify(f, &c, NULL, NULL, &d), VT_EMALFORMED);
        assert_non_null(strstr(d.msg, "mediaType"));
        c.len = 0;
        assert_int_equal(vt_buf_puts(&c, "{\"x\":1,"), 0);
        assert_int_equal(vt_buf_append(&c, b.p + 1, b.len - 1), 0);
        assert_int_equal(verify(f, &c, NULL, NULL, &d), VT_EMALFORMED);
        /* An entry that is not base64, in attestation 2 (index 1). */
        p = strstr((const char *)b.p, ",{\"entry\":\"") + 11;
        c.len = 0;
        assert_int_equal(vt_buf_append(&c, b.p, (size_t)(p - (const char *)b.p)), 0);
        assert_int_equal(vt_buf_puts(&c, "*"), 0);
        assert_int_equal(vt_buf_puts(&c, p + 1), 0);
        assert_int_equal(verify(f, &c, NULL, NULL, &d), VT_EMALFORMED);
        assert_non_null(strstr(d.msg, "attestations[1].entry"));
        vt_buf_release(&c);
        vt_buf_release(&b);
}

static void verify_with_root(void **state)
{
        struct fix *f = *state;
        const struct vt_crypto_key *gov[] = {kg}, *builders[] = {kb};
        const char *slsa[] = {SLSA}, *both[] = {SLSA, REVIEW};
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        struct vt_buf b, rep;

        assert_int_equal(vt_policy_root_new(gov, 1, 1, vt_util_unix_time() + 86400, &r, &d), 0);
        assert_int_equal(vt_policy_root_set_role(r, "builder", builders, 1, 1, both, 2, &d), 0);
        assert_int_equal(vt_policy_root_sign(r, kg, NULL, &d), 0);
        make_bundle(f, 99, OK, NULL, &b);
        vt_buf_init(&rep);
        if (verify(f, &b, r, &rep, &d) != 0)
                fail_msg("verify: %s", d.msg);
        assert_non_null(strstr((char *)rep.p, "authorized by role 'builder'"));
        /* The builder may not sign reviews (entry 4 is one). */
        assert_int_equal(vt_policy_root_set_role(r, "builder", builders, 1, 1, slsa, 1, &d), 0);
        assert_int_equal(verify(f, &b, r, &rep, &d), VT_EDENIED);
        assert_non_null(strstr(d.msg, "attestation 5: authorization"));
        vt_policy_root_free(r);
        vt_buf_release(&rep);
        vt_buf_release(&b);
}

/* Replace the first occurrence of from in b by to (the test's own edits of a bundle). */
static void edit(struct vt_buf *b, const char *from, const char *to)
{
        struct vt_buf c;
        const char *p = strstr((const char *)b->p, from);

        assert_non_null(p);
        vt_buf_init(&c);
        assert_int_equal(vt_buf_append(&c, b->p, (size_t)(p - (const char *)b->p)), 0);
        assert_int_equal(vt_buf_puts(&c, to), 0);
        assert_int_equal(vt_buf_puts(&c, p + strlen(from)), 0);
        vt_buf_release(b);
        *b = c;
}

/*
 * A good bundle with two edits (from1 -> to1, then from2 -> to2 when from2
 * is not NULL): verify's code, and d.msg holding words when it fails.
 */
static void bundle_edit_expect(struct fix *f, const char *from1, const char *to1, const char *from2,
                               const char *to2, int code, const char *words)
{
        struct vt_diag d = {""};
        struct vt_buf b;

        make_bundle(f, 99, OK, NULL, &b);
        edit(&b, from1, to1);
        if (from2 != NULL)
                edit(&b, from2, to2);
        assert_int_equal(verify(f, &b, NULL, NULL, &d), code);
        if (code != 0 && strstr(d.msg, words) == NULL)
                fail_msg("'%s' should say '%s'", d.msg, words);
        vt_buf_release(&b);
}

/*
 * The bundle is read in place (jscan.c), not through a jansson tree: keys and
 * strings are compared decoded, the envelope is parsed from the bytes it has
 * in the bundle (white space and all), and every shape rule still holds.
 */
static void verify_read_in_place(void **state)
{
        struct fix *f = *state;
        struct vt_diag d = {""};
        struct vt_buf b;

        /* Escaped keys and strings, white space inside the envelope. */
        make_bundle(f, 99, OK, NULL, &b);
        edit(&b, "\"mediaType\":\"application", "\"m\\u0065diaType\" : \"\\u0061pplication");
        edit(&b, "\"envelope\":{", "\"envelop\\u0065\":\n {\t");
        edit(&b, "\"entry\":\"", "\"\\u0065ntry\":\"");
        if (verify(f, &b, NULL, NULL, &d) != 0)
                fail_msg("verify: %s", d.msg);
        vt_buf_release(&b);
        /* A fourth member of an attestation. */
        bundle_edit_expect(f, "{\"entry\":", "{\"x\":[1,{}],\"entry\":", NULL, NULL, VT_EMALFORMED,
                           "attestations[0] wants exactly entry, envelope and proof");
        /* A proof that is not a string; an envelope that is not an object. */
        bundle_edit_expect(f, "\"proof\":\"", "\"proof\":[\"", "\"},{\"entry\"", "\"]},{\"entry\"",
                           VT_EMALFORMED, "attestations[0].proof is not a string");
        bundle_edit_expect(f, "\"envelope\":{", "\"envelope\":[{", "},\"proof\"", "}],\"proof\"",
                           VT_EMALFORMED, "attestations[0].envelope is not an object");
        /* An attestation that is not an object; a mediaType that is not a string. */
        bundle_edit_expect(f, "[{\"entry\"", "[7,{\"entry\"", NULL, NULL, VT_EMALFORMED,
                           "attestations[0] is not an object");
        bundle_edit_expect(f, "\"mediaType\":\"", "\"mediaType\":[\"", "version=1\"}",
                           "version=1\"]}", VT_EMALFORMED, "mediaType is not");
        /* Not an object; too many bytes. */
        b.p = (uint8_t *)"[1]";
        b.len = 3;
        assert_int_equal(verify(f, &b, NULL, NULL, &d), VT_EMALFORMED);
        assert_string_equal(d.msg, "bundle: not a JSON object");
        assert_int_equal(
            vt_encoding_bundle_parse(b.p, (size_t)VT_ENCODING_BUNDLE_MAX + 1, NULL, &d),
            VT_ETOOBIG);
}

/* ---- a verifier of many bundles ---- */

#define NKIND    6 /* OK .. OTHER_ENTRY */
#define VTHREADS 4

struct vcase {
        struct vt_buf b;
        int code;
        char msg[VT_DIAG_MAX];
        struct vt_buf rep;
};

struct vrun {
        const struct vt_policy_bundle_verifier *v;
        struct vcase *cs;
        int bad; /* results that differed from the one-shot's */
};

/* Check every case 20 times with v, counting any result unlike the one-shot call's. */
static void *vrun_thread(void *arg)
{
        struct vrun *r = arg;
        struct vt_buf rep;
        struct vt_diag d;
        int round, k;

        vt_buf_init(&rep);
        for (round = 0; round < 20; round++)
                for (k = 0; k < NKIND; k++) {
                        struct vcase *c = &r->cs[(k + round) % NKIND];

                        rep.len = 0;
                        d.msg[0] = '\0';
                        if (vt_policy_bundle_verifier_check(r->v, c->b.p, c->b.len, &rep, &d) !=
                                c->code ||
                            strcmp(d.msg, c->msg) != 0 || rep.len != c->rep.len ||
                            memcmp(rep.p, c->rep.p, rep.len) != 0)
                                r->bad++;
                }
        vt_buf_release(&rep);
        return NULL;
}

/*
 * One verifier, kept, gives every bundle (good, and spoiled each way) the
 * code, diagnostic and report of the one-shot call, in any order, with or
 * without a root, and from several threads at once.
 */
static void verifier_reused(void **state)
{
        struct fix *f = *state;
        const struct vt_crypto_key *gov[] = {kg}, *builders[] = {kb};
        const char *slsa[] = {SLSA}, *vk[] = {vt_log_vkey(f->log)};
        struct vt_policy_bundle_verifier *v = NULL;
        struct vt_policy_root *r = NULL;
        struct vcase cs[NKIND];
        struct vrun runs[VTHREADS];
        pthread_t th[VTHREADS];
        struct vt_diag d = {""};
        int k, i, pass;

        /* A root whose builder may sign SLSA only: entry 4 (a review) is denied. */
        assert_int_equal(vt_policy_root_new(gov, 1, 1, vt_util_unix_time() + 86400, &r, &d), 0);
        assert_int_equal(vt_policy_root_set_role(r, "builder", builders, 1, 1, slsa, 1, &d), 0);
        assert_int_equal(vt_policy_root_sign(r, kg, NULL, &d), 0);
        for (pass = 0; pass < 2; pass++) {
                const struct vt_policy_root *root = pass == 0 ? NULL : r;

                for (k = 0; k < NKIND; k++) {
                        make_bundle(f, 1, (enum spoil)k, NULL, &cs[k].b);
                        vt_buf_init(&cs[k].rep);
                        d.msg[0] = '\0';
                        cs[k].code = vt_policy_bundle_verify(cs[k].b.p, cs[k].b.len, vk, 1, root,
                                                             &cs[k].rep, &d);
                        snprintf(cs[k].msg, sizeof(cs[k].msg), "%s", d.msg);
                        /* Only the good bundle without a root passes. */
                        assert_int_equal(cs[k].code == 0, k == OK && root == NULL);
                }
                /* The root is applied, or said not to be. */
                assert_non_null(strstr((char *)cs[OK].rep.p,
                                       root == NULL ? "envelope signatures not checked (no root)"
                                                    : "authorized by role 'builder'"));
                if (root != NULL)
                        assert_non_null(strstr(cs[OK].msg, "attestation 5: authorization"));
                assert_int_equal(vt_policy_bundle_verifier_new(vk, 1, root, &v, &d), 0);
                for (i = 0; i < VTHREADS; i++) {
                        runs[i].v = v;
                        runs[i].cs = cs;
                        runs[i].bad = 0;
                }
                vrun_thread(&runs[0]); /* one thread first, then several at once */
                assert_int_equal(runs[0].bad, 0);
                for (i = 0; i < VTHREADS; i++)
                        assert_int_equal(pthread_create(&th[i], NULL, vrun_thread, &runs[i]), 0);
                for (i = 0; i < VTHREADS; i++) {
                        pthread_join(th[i], NULL);
                        assert_int_equal(runs[i].bad, 0);
                }
                vt_policy_bundle_verifier_free(v);
                v = NULL;
                for (k = 0; k < NKIND; k++) {
                        vt_buf_release(&cs[k].b);
                        vt_buf_release(&cs[k].rep);
                }
        }
        vt_policy_root_free(r);
}

/* A verifier's keys: none, or one that does not parse, are refused when it is made. */
static void verifier_bad_keys(void **state)
{
        const char *bad[] = {"not a key"};
        struct vt_policy_bundle_verifier *v = (struct vt_policy_bundle_verifier *)&v;
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(vt_policy_bundle_verifier_new(NULL, 0, NULL, &v, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "no log verifier key"));
        assert_int_equal(vt_policy_bundle_verifier_new(bad, 1, NULL, &v, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "log key 1"));
        /* Untouched on failure. */
        assert_ptr_equal(v, (struct vt_policy_bundle_verifier *)&v);
        vt_policy_bundle_verifier_free(NULL);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(entry_roundtrip),
            cmocka_unit_test(entry_keyid_absent),
            cmocka_unit_test(entry_one_encoding),
            cmocka_unit_test(entry_shapes),
            cmocka_unit_test(entry_size_limit),
            cmocka_unit_test(entry_check_mismatch),
            cmocka_unit_test(proof_roundtrip),
            cmocka_unit_test(proof_truncated),
            cmocka_unit_test(proof_negatives),
            cmocka_unit_test(bundle_proof_string),
            cmocka_unit_test(bundle_add_proved_same),
            cmocka_unit_test(bundle_add_proved_memo_same),
            cmocka_unit_test_setup_teardown(verify_ok, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_flipped_bit, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_wrong_index, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_truncated_proof, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_swapped_checkpoint, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_entry_mismatch, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_forged_checkpoint, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_malformed, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_with_root, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verify_read_in_place, fix_setup, fix_teardown),
            cmocka_unit_test_setup_teardown(verifier_reused, fix_setup, fix_teardown),
            cmocka_unit_test(verifier_bad_keys),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, setup, teardown);
}
