/*
 * test_note.c: C2SP signed notes, verifier keys, tlog-checkpoint bodies and
 * tlog-cosignature/v1, against published vectors and negative cases.
 *
 * Known answers (facts copied from public documents, no code):
 *   - signed-note.md's example vkey and note (example.com/foo);
 *   - golang.org/x/mod/sumdb/note documentation and tests: the PeterNeumann
 *     signer and verifier keys, its signed note (Ed25519 is deterministic, so
 *     signing must reproduce it byte for byte) and the EnochRoot signature;
 *   - transparency-dev/formats note tests: vkeys with '+' in their base64
 *     and the cosignature/v1 vkey of the witness remora.n621.de;
 *   - a checkpoint of the CT log arche2025h1.staging.ct.transparency.dev as
 *     published with the cosignatures of five witnesses (one of them
 *     remora.n621.de), quoted in the tests of a public tlog library.
 */
#include "vt_test.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

/* ---- vectors ----------------------------------------------------------- */

#define SPEC_VKEY "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define SPEC_TEXT "This is an example message.\n"
#define SPEC_NOTE                                                                                  \
        SPEC_TEXT                                                                                  \
        "\n"                                                                                       \
        "\xe2\x80\x94 example.com/foo "                                                            \
        "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu"       \
        "72IneyaQM=\n"

/* signed-note.md's opening example: text with an empty line, UTF-8; key not published. */
#define QUASIMODO_NOTE                                                                             \
        "Ognuno sta solo sul cuor della terra\n"                                                   \
        "trafitto da un raggio di sole:\n"                                                         \
        "\n"                                                                                       \
        "ed \xc3\xa8 subito sera.\n"                                                               \
        "\n"                                                                                       \
        "\xe2\x80\x94 quasimodo.example/salvatore "                                                \
        "NnugSzTjtVAewIS+Z/iJhUPeFDkO/"                                                            \
        "5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"

#define PETER_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define GO_TEXT                                                                                    \
        "If you think cryptography is the answer to your problem,\n"                               \
        "then you don't know what your problem is.\n"
#define PETER_SIG                                                                                  \
        "\xe2\x80\x94 PeterNeumann "                                                               \
        "x08go/ZJkuBS9UG/"                                                                         \
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_SIG                                                                                  \
        "\xe2\x80\x94 EnochRoot "                                                                  \
        "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"                                             \
        "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
#define GO_NOTE GO_TEXT "\n" PETER_SIG

/* transparency-dev/formats note tests. */
#define PLUS_VKEY   "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
#define FOO_VKEY    "foo+1573814f+ATnT68N1+aPhXIQhFQ0X6jekt0UsUk/iyE8dWHb3g9GN"
#define REMORA_VKEY "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

/* A real cosigned checkpoint (first line: an RFC 6962 type 0x05 signature, unknown to us). */
#define ARCHE_VKEY                                                                                 \
        "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/"                             \
        "PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
#define ARCHE_BODY                                                                                 \
        "arche2025h1.staging.ct.transparency.dev\n"                                                \
        "1432088532\n"                                                                             \
        "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
#define ARCHE_SIGS                                                                                 \
        "\xe2\x80\x94 arche2025h1.staging.ct.transparency.dev "                                    \
        "zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI" \
        "4kJ"                                                                                      \
        "XFbon5Ch9MNL5zRNZ55lvGt0=\n"                                                              \
        "\xe2\x80\x94 arche2025h1.staging.ct.transparency.dev "                                    \
        "ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/"                                                    \
        "27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"                                \
        "\xe2\x80\x94 transparency.dev/DEV:witness-little-garden "                                 \
        "2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/"                                                 \
        "KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vd"                                      \
        "gJY096st5BQ==\n"                                                                          \
        "\xe2\x80\x94 witness1.smartit.nu/witness1 "                                               \
        "pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/"                                \
        "iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0"                                                       \
        "XwzdZsDsUAQ==\n"                                                                          \
        "\xe2\x80\x94 remora.n621.de "                                                             \
        "2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/"    \
        "zZ0WBx"                                                                                   \
        "tqB0DrAWfBw==\n"                                                                          \
        "\xe2\x80\x94 witness.stagemole.eu "                                                       \
        "Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/"                 \
        "2TUFucgKi7lI7cUiOvKF"                                                                     \
        "Ye/TmN9DAg==\n"
#define ARCHE_NOTE ARCHE_BODY "\n" ARCHE_SIGS

/* tlog-checkpoint.md's example body. */
#define SOFA_BODY                                                                                  \
        "example.com/behind-the-sofa\n"                                                            \
        "20852163\n"                                                                               \
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

/* ---- helpers --------------------------------------------------------------- */

static const uint8_t *U(const char *s)
{
        return (const uint8_t *)s;
}

static struct vt_encoding_note_verifier *verifier(const char *vkey)
{
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_diag d = {{0}};

        if (vt_encoding_note_verifier_parse(vkey, strlen(vkey), &v, &d) != 0)
                fail_msg("vkey '%s': %s", vkey, d.msg);
        return v;
}

static struct vt_encoding_note_verifier *cosigner(const char *vkey)
{
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_diag d = {{0}};

        if (vt_encoding_cosig_verifier_parse(vkey, strlen(vkey), &v, &d) != 0)
                fail_msg("vkey '%s': %s", vkey, d.msg);
        return v;
}

/* open_str(msg, vs, n, note, d): vt_encoding_note_open on a C string. */
static int open_str(const char *msg, struct vt_encoding_note_verifier **vs, size_t n,
                    struct vt_encoding_note *note, struct vt_diag *d)
{
        return vt_encoding_note_open(U(msg), strlen(msg), vs, n, note, d);
}

/* open_err(msg, v): the result of opening msg with verifier v (released). */
static int open_err(const char *msg, size_t len, struct vt_encoding_note_verifier *v)
{
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        int err = vt_encoding_note_open(U(msg), len, &v, v != NULL, &note, &d);

        if (err == 0)
                vt_encoding_note_release(&note);
        else
                assert_true(d.msg[0] != '\0'); /* every failure says why */
        return err;
}

/*
 * key_from_seed(seed): a private Ed25519 key from its 32-byte seed, through
 * the PKCS#8 PEM that RFC 8410 defines (the crypto module loads PEM only).
 */
static struct vt_crypto_key *key_from_seed(const uint8_t seed[32])
{
        static const uint8_t prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                           0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
        uint8_t der[48];
        struct vt_buf pem;
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {{0}};

        memcpy(der, prefix, 16);
        memcpy(der + 16, seed, 32);
        vt_buf_init(&pem);
        assert_int_equal(vt_buf_puts(&pem, "-----BEGIN PRIVATE KEY-----\n"), 0);
        assert_int_equal(vt_encoding_base64_append(&pem, der, sizeof(der)), 0);
        assert_int_equal(vt_buf_puts(&pem, "\n-----END PRIVATE KEY-----\n"), 0);
        if (vt_crypto_key_load_pem(pem.p, pem.len, NULL, &k, &d) != 0)
                fail_msg("key from seed: %s", d.msg);
        vt_buf_wipe(&pem);
        return k;
}

/* go_signer(skey): the key of a Go "PRIVATE+KEY+name+hash+base64(0x01 || seed)" string. */
static struct vt_crypto_key *go_signer(const char *skey)
{
        const char *p = skey;
        uint8_t raw[40];
        size_t n, i;

        for (i = 0; i < 4; i++) {
                p = strchr(p, '+');
                assert_non_null(p);
                p++;
        }
        assert_int_equal(vt_encoding_base64_decode(p, strlen(p), raw, sizeof(raw), &n), 0);
        assert_int_equal(n, 33);
        assert_int_equal(raw[0], 0x01);
        return key_from_seed(raw + 1);
}

static struct vt_crypto_key *fresh_key(void)
{
        struct vt_crypto_key *k = NULL;

        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL), 0);
        return k;
}

/* ---- verifier keys -------------------------------------------------------- */

static void test_vkey_spec_example(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(SPEC_VKEY);
        struct vt_buf b;

        (void)state;
        assert_string_equal(vt_encoding_note_verifier_name(v), "example.com/foo");
        assert_int_equal(vt_encoding_note_verifier_hash(v), 0x530d903a);
        assert_int_equal(vt_encoding_note_verifier_type(v), VT_ENCODING_NOTE_ED25519);
        vt_buf_init(&b);
        assert_int_equal(vt_encoding_note_verifier_vkey(v, &b), 0);
        assert_string_equal((char *)b.p, SPEC_VKEY);
        vt_buf_release(&b);
        vt_encoding_note_verifier_free(v);
        vt_encoding_note_verifier_free(NULL);
}

static void test_vkey_published_keys(void **state)
{
        static const char *const keys[] = {PETER_VKEY, ENOCH_VKEY, PLUS_VKEY, FOO_VKEY, ARCHE_VKEY};
        struct vt_encoding_note_verifier *v;
        struct vt_buf b;
        size_t i;

        (void)state;
        vt_buf_init(&b);
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                v = verifier(keys[i]);
                b.len = 0;
                assert_int_equal(vt_encoding_note_verifier_vkey(v, &b), 0);
                assert_string_equal((char *)b.p, keys[i]);
                vt_encoding_note_verifier_free(v);
        }
        v = cosigner(REMORA_VKEY);
        assert_int_equal(vt_encoding_note_verifier_type(v), VT_ENCODING_NOTE_COSIG_V1);
        assert_int_equal(vt_encoding_note_verifier_hash(v), 0xda77ade7);
        b.len = 0;
        assert_int_equal(vt_encoding_note_verifier_vkey(v, &b), 0);
        assert_string_equal((char *)b.p, REMORA_VKEY);
        vt_encoding_note_verifier_free(v);
        vt_buf_release(&b);
}

/* Go's TestNewVerifier: every proper substring and every one-byte change fails. */
static void test_vkey_manglings(void **state)
{
        char b[sizeof(PETER_VKEY)];
        struct vt_encoding_note_verifier *v = NULL;
        size_t n = strlen(PETER_VKEY), i, j;

        (void)state;
        memcpy(b, PETER_VKEY, sizeof(b));
        for (i = 0; i <= n; i++)
                for (j = i + 1; j <= n; j++)
                        if (i != 0 || j != n) {
                                assert_int_not_equal(
                                    vt_encoding_note_verifier_parse(b + i, j - i, &v, NULL), 0);
                                assert_null(v);
                        }
        for (i = 0; i < n; i++) {
                b[i]++;
                assert_int_not_equal(vt_encoding_note_verifier_parse(b, n, &v, NULL), 0);
                assert_null(v);
                b[i]--;
        }
}

static void test_vkey_negative(void **state)
{
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_diag d = {{0}};
        struct vt_buf b;
        uint8_t raw[1 + 1312];
        char *s;

#define PARSE(str) vt_encoding_note_verifier_parse((str), strlen(str), &v, &d)
        (void)state;
        /* Go: wrong-length key and unknown algorithm, both with adjusted key hashes. */
        assert_int_equal(
            PARSE("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
            VT_ENONCANON); /* "EY==" also leaves unused bits set */
        assert_int_equal(
            PARSE("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEA=="),
            VT_EMALFORMED);
        assert_int_equal(
            PARSE("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            VT_EKEYTYPE);
        /* Uppercase hex: the spec's hex is lowercase. */
        assert_int_equal(
            PARSE("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            VT_EMALFORMED);
        /* Wrong key hash. */
        assert_int_equal(
            PARSE("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            VT_EMALFORMED);
        assert_non_null(strstr(d.msg, "does not match"));
        /* Names: empty, with a space, with a Unicode space. */
        assert_int_equal(PARSE("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
                         VT_EMALFORMED);
        assert_int_equal(
            PARSE("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            VT_EMALFORMED);
        assert_int_equal(
            PARSE("Peter\xc2\xa0Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            VT_EMALFORMED);
        /* Trailing newline, missing parts, bad base64. */
        assert_int_equal(PARSE(PETER_VKEY "\n"), VT_EMALFORMED);
        assert_int_equal(PARSE("PeterNeumann+c74f20a3"), VT_EMALFORMED);
        assert_int_equal(PARSE("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!"), VT_EMALFORMED);
        assert_int_equal(PARSE(""), VT_EMALFORMED);
        /* A cosigner key is not a note key and vice versa; an ML-DSA-44 key is neither. */
        assert_int_equal(PARSE(REMORA_VKEY), VT_EKEYTYPE);
        assert_int_equal(vt_encoding_cosig_verifier_parse(PETER_VKEY, strlen(PETER_VKEY), &v, &d),
                         VT_EKEYTYPE);
        memset(raw, 0x11, sizeof(raw));
        raw[0] = 0x06;
        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, "mldsa+00000000+"), 0);
        assert_int_equal(vt_encoding_base64_append(&b, raw, sizeof(raw)), 0);
        s = (char *)b.p;
        assert_int_equal(vt_encoding_note_verifier_parse(s, b.len, &v, &d), VT_EKEYTYPE);
        assert_int_equal(vt_encoding_cosig_verifier_parse(s, b.len, &v, &d), VT_EKEYTYPE);
        vt_buf_release(&b);
        assert_null(v);
#undef PARSE
}

static void test_vkey_from_key(void **state)
{
        struct vt_crypto_key *k = go_signer(PETER_SKEY);
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_buf b;

        (void)state;
        vt_buf_init(&b);
        assert_int_equal(vt_encoding_note_vkey("PeterNeumann", k, &b), 0);
        assert_string_equal((char *)b.p, PETER_VKEY);
        b.len = 0;
        assert_int_equal(vt_encoding_note_vkey("Peter+Neumann", k, &b), VT_EINVAL);
        assert_int_equal(vt_encoding_note_vkey("Peter Neumann", k, &b), VT_EINVAL);
        assert_int_equal(vt_encoding_note_vkey("", k, &b), VT_EINVAL);
        assert_int_equal(b.len, 0);
        assert_int_equal(
            vt_encoding_note_verifier_new("PeterNeumann", VT_ENCODING_NOTE_ED25519, k, &v, NULL),
            0);
        assert_int_equal(vt_encoding_note_verifier_hash(v), 0xc74f20a3);
        assert_int_equal(vt_encoding_note_verifier_vkey(v, &b), 0);
        assert_string_equal((char *)b.p, PETER_VKEY);
        vt_encoding_note_verifier_free(v);
        v = NULL;
        assert_int_equal(vt_encoding_note_verifier_new("PeterNeumann", 0x02, k, &v, NULL),
                         VT_EINVAL);
        assert_null(v);
        /* A cosigner vkey of the same key differs in type byte and key hash. */
        b.len = 0;
        assert_int_equal(vt_encoding_cosig_vkey("PeterNeumann", k, &b), 0);
        assert_int_equal(strncmp((char *)b.p, "PeterNeumann+", 13), 0);
        assert_int_not_equal(strcmp((char *)b.p, PETER_VKEY), 0);
        v = cosigner((char *)b.p);
        vt_encoding_note_verifier_free(v);
        vt_buf_release(&b);
        vt_crypto_key_free(k);
}

static void test_key_hash(void **state)
{
        uint8_t raw[33];
        size_t n;
        const char *b64 = "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

        (void)state;
        assert_int_equal(vt_encoding_base64_decode(b64, strlen(b64), raw, sizeof(raw), &n), 0);
        assert_int_equal(vt_encoding_note_key_hash("example.com/foo", 0x01, raw + 1, 32),
                         0x530d903a);
        assert_true(vt_encoding_note_name_valid("example.com/foo", 15));
        assert_true(vt_encoding_note_name_valid("oid/1.3.6.1.4.1", 15));
        assert_false(vt_encoding_note_name_valid("a\tb", 3));
        assert_false(vt_encoding_note_name_valid("a\xe3\x80\x80", 4)); /* U+3000 */
        assert_false(vt_encoding_note_name_valid("a\xe2\x80\x8a", 4)); /* U+200A */
        assert_false(vt_encoding_note_name_valid("a\xc2\x85", 3));     /* U+0085 */
        assert_true(vt_encoding_note_name_valid("a\xe2\x80\x8b", 4));  /* U+200B is not a space */
        assert_false(vt_encoding_note_name_valid("a\xff", 2));
        assert_false(vt_encoding_note_name_valid("a\xc0\xaf", 3)); /* overlong '/' */
        assert_false(vt_encoding_note_name_valid("", 0));
}

/* ---- opening notes ----------------------------------------------------------- */

static void test_open_spec_example(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(SPEC_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};

        (void)state;
        if (open_str(SPEC_NOTE, &v, 1, &note, &d) != 0)
                fail_msg("%s", d.msg);
        assert_int_equal(note.text_len, strlen(SPEC_TEXT));
        assert_memory_equal(note.text, SPEC_TEXT, note.text_len);
        assert_int_equal(note.nsigs, 1);
        assert_int_equal(note.nverified, 1);
        assert_string_equal(note.sigs[0].name, "example.com/foo");
        assert_int_equal(note.sigs[0].hash, 0x530d903a);
        assert_int_equal(note.sigs[0].siglen, 64);
        assert_ptr_equal(note.sigs[0].verifier, v);
        vt_encoding_note_release(&note);
        vt_encoding_note_release(&note); /* zeroed: a second release is harmless */
        vt_encoding_note_verifier_free(v);
}

/* The spec's opening example has an empty line in its text and non-ASCII UTF-8. */
static void test_open_text_with_empty_line(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(SPEC_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};

        (void)state;
        /* Well-formed, but signed by a key we do not have. */
        assert_int_equal(open_str(QUASIMODO_NOTE, &v, 1, &note, &d), VT_EUNKNOWNKEY);
        assert_int_equal(open_str(QUASIMODO_NOTE, NULL, 0, &note, &d), VT_EUNKNOWNKEY);
        vt_encoding_note_verifier_free(v);
}

static void test_open_go_example(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        char got[256];

        (void)state;
        if (open_str(GO_NOTE, &v, 1, &note, &d) != 0)
                fail_msg("%s", d.msg);
        /* Go's ExampleOpen output. */
        snprintf(got, sizeof(got), "%s (%08x):\n%s", note.sigs[0].name, (unsigned)note.sigs[0].hash,
                 (const char *)note.text);
        assert_string_equal(got, "PeterNeumann (c74f20a3):\n" GO_TEXT);
        vt_encoding_note_release(&note);
        vt_encoding_note_verifier_free(v);
}

/* Go's TestOpen: verified and unverified signatures, duplicates, limits. */
static void test_open_go_cases(void **state)
{
        struct vt_encoding_note_verifier *peter = verifier(PETER_VKEY),
                                         *enoch = verifier(ENOCH_VKEY);
        struct vt_encoding_note_verifier *vs[3];
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        struct vt_buf m;
        const char *two = GO_TEXT "\n" PETER_SIG ENOCH_SIG;
        size_t i;

        (void)state;
        /* One verified, one not. */
        vs[0] = peter;
        assert_int_equal(open_str(two, vs, 1, &note, &d), 0);
        assert_int_equal(note.nsigs, 2);
        assert_int_equal(note.nverified, 1);
        assert_ptr_equal(note.sigs[0].verifier, peter);
        assert_null(note.sigs[1].verifier);
        assert_string_equal(note.sigs[1].name, "EnochRoot");
        assert_int_equal(note.sigs[1].hash, 0xaf0cfe78);
        vt_encoding_note_release(&note);

        /* Both verified. */
        vs[1] = enoch;
        assert_int_equal(open_str(two, vs, 2, &note, &d), 0);
        assert_int_equal(note.nverified, 2);
        assert_ptr_equal(note.sigs[1].verifier, enoch);
        vt_encoding_note_release(&note);

        /* Neither. */
        memset(&note, 0x5a, sizeof(note));
        assert_int_equal(open_str(two, NULL, 0, &note, &d), VT_EUNKNOWNKEY);
        assert_int_equal(note.nsigs, 0x5a5a5a5a5a5a5a5aULL); /* untouched */

        /* Duplicated verifier: ambiguous when used, harmless when not. */
        vs[0] = enoch, vs[1] = peter, vs[2] = verifier(ENOCH_VKEY);
        assert_int_equal(open_str(GO_TEXT "\n" ENOCH_SIG, vs, 3, &note, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "ambiguous"));
        assert_int_equal(open_str(GO_TEXT "\n" PETER_SIG, vs, 3, &note, &d), 0);
        vt_encoding_note_release(&note);
        vt_encoding_note_verifier_free(vs[2]);

        /* Too many signatures: 100 is the limit (Go's), with or without known keys. */
        vt_buf_init(&m);
        assert_int_equal(vt_buf_puts(&m, GO_TEXT "\n"), 0);
        for (i = 0; i < 100; i++)
                assert_int_equal(vt_buf_puts(&m, PETER_SIG), 0);
        assert_int_equal(vt_encoding_note_open(m.p, m.len, &peter, 1, &note, &d), 0);
        assert_int_equal(note.nsigs, 1); /* identical lines are dropped */
        vt_encoding_note_release(&note);
        assert_int_equal(vt_buf_puts(&m, PETER_SIG), 0);
        assert_int_equal(vt_encoding_note_open(m.p, m.len, &peter, 1, &note, &d), VT_ETOOBIG);
        assert_int_equal(vt_encoding_note_open(m.p, m.len, NULL, 0, &note, &d), VT_ETOOBIG);
        vt_buf_release(&m);

        /* Duplicated verified and unverified signatures. */
        vt_buf_init(&m);
        assert_int_equal(vt_buf_printf(&m, "%s\n%s%s%s%s%.*sABCD%s", GO_TEXT, PETER_SIG, PETER_SIG,
                                       ENOCH_SIG, ENOCH_SIG, 60, ENOCH_SIG, ENOCH_SIG + 60),
                         0);
        assert_int_equal(vt_encoding_note_open(m.p, m.len, &peter, 1, &note, &d), 0);
        assert_int_equal(note.nsigs, 3);
        assert_int_equal(note.nverified, 1);
        assert_null(note.sigs[1].verifier);
        assert_null(note.sigs[2].verifier);
        vt_encoding_note_release(&note);
        vt_buf_release(&m);

        vt_encoding_note_verifier_free(peter);
        vt_encoding_note_verifier_free(enoch);
}

static void test_open_forged(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        char msg[sizeof(GO_NOTE)];
        size_t n = strlen(GO_NOTE), i;

        (void)state;
        /* Go: "ABCD" inserted into the signature. */
        {
                struct vt_buf m;

                vt_buf_init(&m);
                assert_int_equal(
                    vt_buf_printf(&m, "%s\n%.*sABCD%s", GO_TEXT, 60, PETER_SIG, PETER_SIG + 60), 0);
                assert_int_equal(vt_encoding_note_open(m.p, m.len, &v, 1, &note, &d), VT_EBADSIG);
                assert_non_null(strstr(d.msg, "PeterNeumann+c74f20a3"));
                vt_buf_release(&m);
        }
        /* Every letter of the text changed in turn: the signature fails. */
        memcpy(msg, GO_NOTE, sizeof(msg));
        for (i = 0; i < strlen(GO_TEXT); i++) {
                if (msg[i] < 'a' || msg[i] >= 'z')
                        continue;
                msg[i]++;
                assert_int_equal(open_err(msg, n, v), VT_EBADSIG);
                msg[i]--;
        }
        assert_int_equal(open_err(msg, n, v), 0);
        vt_encoding_note_verifier_free(v);
}

/* Go's bad messages, and more. */
static void test_open_malformed(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        static const char *const bad[] = {
            GO_TEXT,                /* no signatures */
            GO_TEXT "\n",           /* blank line, no signatures */
            "\x01" GO_NOTE,         /* control character */
            "\xff" GO_NOTE,         /* invalid UTF-8 */
            "\xed\xa0\x80" GO_NOTE, /* a UTF-16 surrogate */
            "a\tb\n"
            "\n" PETER_SIG, /* tab */
            "a\r\n"
            "\n" PETER_SIG,                              /* carriage return */
            GO_TEXT "\n" PETER_SIG "Unexpected line.\n", /* trailing garbage */
            GO_TEXT "\n" PETER_SIG "\n",                 /* trailing empty line */
            GO_TEXT PETER_SIG,                           /* missing blank line */
            GO_TEXT "\n"
                    "- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
                    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", /* hyphen, not em dash */
            GO_TEXT "\n"
                    "\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN"
                    "1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", /* space in name */
            GO_TEXT "\n"
                    "\xe2\x80\x94 Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu"
                    "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", /* plus in name */
            GO_TEXT "\n"
                    "\xe2\x80\x94  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
                    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", /* empty name */
            GO_TEXT "\n"
                    "\xe2\x80\x94 PeterNeumann\n", /* no signature */
            GO_TEXT "\n"
                    "\xe2\x80\x94 PeterNeumann \n", /* empty signature */
            GO_TEXT "\n"
                    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu"
                    "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n", /* missing padding */
            GO_TEXT "\n"
                    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu"
                    "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM= \n", /* trailing space */
            GO_TEXT "\n"
                    "\xe2\x80\x94 PeterNeumann x08=\n", /* not base64 length */
            GO_TEXT "\n"
                    "\xe2\x80\x94 PeterNeumann x08g\n", /* 3 bytes: shorter than 5 */
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                d.msg[0] = '\0';
                if (open_str(bad[i], &v, 1, &note, &d) != VT_EMALFORMED)
                        fail_msg("bad message %zu was not refused as malformed (%s)", i, d.msg);
                assert_true(d.msg[0] != '\0');
        }
        /* Missing final newline: the only line then has no '\n'. */
        assert_int_equal(open_err(GO_NOTE, strlen(GO_NOTE) - 1, v), VT_EMALFORMED);
        /* A NUL byte is a control character. */
        assert_int_equal(open_err("a\0b\n\n" PETER_SIG, 5 + strlen(PETER_SIG), v), VT_EMALFORMED);
        assert_int_equal(open_err("", 0, v), VT_EMALFORMED);
        vt_encoding_note_verifier_free(v);
}

static void test_open_diagnostics(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};

        (void)state;
        assert_int_equal(open_str("ok\nbad\x01\n\n" PETER_SIG, &v, 1, &note, &d), VT_EMALFORMED);
        assert_string_equal(d.msg, "note line 2: control character 0x01");
        assert_int_equal(open_str(GO_NOTE "x\n", &v, 1, &note, &d), VT_EMALFORMED);
        assert_string_equal(d.msg,
                            "note signature line 2: does not start with an em dash and a space");
        assert_int_equal(open_str(GO_TEXT, &v, 1, &note, &d), VT_EMALFORMED);
        assert_string_equal(d.msg, "note has no blank line before its signatures");
        assert_int_equal(open_str(GO_TEXT "\n" ENOCH_SIG, &v, 1, &note, &d), VT_EUNKNOWNKEY);
        assert_string_equal(d.msg, "note is signed by no known key (1 signature lines)");
        vt_encoding_note_verifier_free(v);
}

static void test_open_noncanonical_base64(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        /* "AM=" -> "AN=": same bytes, non-zero unused bits. */
        const char *msg = GO_TEXT
            "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN"
            "1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAN=\n";

        (void)state;
        assert_int_equal(open_str(msg, &v, 1, &note, &d), VT_ENONCANON);
        assert_non_null(strstr(d.msg, "canonical"));
        vt_encoding_note_verifier_free(v);
}

/* A line with a known name but another key hash is another key: ignored. */
static void test_open_wrong_key_hash(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        /* Go's "wrongHash": "x08g" -> "xxxx" changes the key hash bytes only. */
        const char *wrong = GO_TEXT
            "\n\xe2\x80\x94 PeterNeumann xxxxo/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN"
            "1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        /* Go's "misnamed": the name differs, the hash is Peter's. */
        const char *misnamed = GO_TEXT
            "\n\xe2\x80\x94 CarmenSandiego x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGU"
            "gYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

        (void)state;
        assert_int_equal(open_str(wrong, &v, 1, &note, &d), VT_EUNKNOWNKEY);
        assert_int_equal(open_str(misnamed, &v, 1, &note, &d), VT_EUNKNOWNKEY);
        /* With the real signature too, the note opens and keeps the stranger line. */
        {
                struct vt_buf m;

                vt_buf_init(&m);
                assert_int_equal(vt_buf_printf(&m, "%s%s", GO_NOTE, wrong + strlen(GO_TEXT) + 1),
                                 0);
                assert_int_equal(vt_encoding_note_open(m.p, m.len, &v, 1, &note, &d), 0);
                assert_int_equal(note.nsigs, 2);
                assert_int_equal(note.nverified, 1);
                assert_null(note.sigs[1].verifier);
                vt_encoding_note_release(&note);
                vt_buf_release(&m);
        }
        vt_encoding_note_verifier_free(v);
}

static void test_open_size_limit(void **state)
{
        struct vt_encoding_note_verifier *v = verifier(PETER_VKEY);
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        size_t n = VT_ENCODING_NOTE_MAX + 1;
        uint8_t *big = malloc(n);

        (void)state;
        assert_non_null(big);
        memset(big, 'a', n);
        assert_int_equal(vt_encoding_note_open(big, n, &v, 1, &note, &d), VT_ETOOBIG);
        free(big);
        vt_encoding_note_verifier_free(v);
}

/* ---- signing ------------------------------------------------------------------ */

/* Go's ExampleSign: Ed25519 is deterministic, so the bytes must be the same. */
static void test_sign_go_example(void **state)
{
        struct vt_crypto_key *k = go_signer(PETER_SKEY);
        struct vt_buf out, line;
        struct vt_diag d = {{0}};

        (void)state;
        vt_buf_init(&out);
        vt_buf_init(&line);
        assert_int_equal(vt_buf_puts(&out, "prefix:"), 0);
        if (vt_encoding_note_sign(U(GO_TEXT), strlen(GO_TEXT), "PeterNeumann", k, &out, &d) != 0)
                fail_msg("%s", d.msg);
        assert_string_equal((char *)out.p, "prefix:" GO_NOTE);
        assert_int_equal(
            vt_encoding_note_sig_line(U(GO_TEXT), strlen(GO_TEXT), "PeterNeumann", k, &line, &d),
            0);
        assert_string_equal((char *)line.p, PETER_SIG);
        vt_buf_release(&line);
        vt_buf_release(&out);
        vt_crypto_key_free(k);
}

static void test_sign_refusals(void **state)
{
        struct vt_crypto_key *k = go_signer(PETER_SKEY), *pub = NULL;
        struct vt_buf out;
        struct vt_diag d = {{0}};

#define SIGN(text, name, key) vt_encoding_note_sign(U(text), strlen(text), (name), (key), &out, &d)
        (void)state;
        vt_buf_init(&out);
        assert_int_equal(SIGN("", "PeterNeumann", k), VT_EMALFORMED);
        assert_int_equal(SIGN("abc", "PeterNeumann", k), VT_EMALFORMED); /* Go: short text */
        assert_int_equal(SIGN("a\x01\n", "PeterNeumann", k), VT_EMALFORMED);
        assert_int_equal(SIGN("a\xff\n", "PeterNeumann", k), VT_EMALFORMED);
        assert_int_equal(SIGN(GO_TEXT, "bad name", k), VT_EINVAL);
        assert_int_equal(SIGN(GO_TEXT, "a+b", k), VT_EINVAL);
        assert_int_equal(SIGN(GO_TEXT, "", k), VT_EINVAL);
        assert_int_equal(out.len, 0);
        assert_int_equal(vt_crypto_key_from_ed25519(vt_crypto_key_ed25519_public(k), &pub), 0);
        assert_int_equal(SIGN(GO_TEXT, "PeterNeumann", pub), VT_ENOTPRIV);
        assert_int_equal(out.len, 0);
        vt_buf_release(&out);
        vt_crypto_key_free(pub);
        vt_crypto_key_free(k);
#undef SIGN
}

static void test_sign_open_round_trip(void **state)
{
        static const char *const texts[] = {"x\n", "\n", "a\n\nb\n\n\nc\n", GO_TEXT,
                                            "\xe2\x80\x94 looks like a signature\n"};
        struct vt_crypto_key *k = fresh_key();
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_encoding_note note;
        struct vt_buf out;
        struct vt_diag d = {{0}};
        size_t i, j;

        (void)state;
        assert_int_equal(
            vt_encoding_note_verifier_new("example.org/rt", VT_ENCODING_NOTE_ED25519, k, &v, &d),
            0);
        vt_buf_init(&out);
        for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                out.len = 0;
                assert_int_equal(vt_encoding_note_sign(U(texts[i]), strlen(texts[i]),
                                                       "example.org/rt", k, &out, &d),
                                 0);
                if (vt_encoding_note_open(out.p, out.len, &v, 1, &note, &d) != 0)
                        fail_msg("text %zu: %s", i, d.msg);
                assert_int_equal(note.text_len, strlen(texts[i]));
                assert_memory_equal(note.text, texts[i], note.text_len);
                vt_encoding_note_release(&note);
                /* Flip each bit of the text in turn: never opens. */
                for (j = 0; j < strlen(texts[i]) * 8; j++) {
                        out.p[j / 8] ^= (uint8_t)(1u << (j % 8));
                        assert_int_not_equal(
                            vt_encoding_note_open(out.p, out.len, &v, 1, &note, NULL), 0);
                        out.p[j / 8] ^= (uint8_t)(1u << (j % 8));
                }
        }
        vt_buf_release(&out);
        vt_encoding_note_verifier_free(v);
        vt_crypto_key_free(k);
}

/* Go's ExampleSign_add_signatures in spirit: a second signer, the first line kept. */
static void test_add_sigs(void **state)
{
        struct vt_crypto_key *k = fresh_key(), *peterk = go_signer(PETER_SKEY);
        struct vt_encoding_note_verifier *vs[2] = {verifier(PETER_VKEY), NULL};
        struct vt_encoding_note note;
        struct vt_buf line, out, out2;
        struct vt_diag d = {{0}};

        (void)state;
        assert_int_equal(
            vt_encoding_note_verifier_new("EnochRoot", VT_ENCODING_NOTE_ED25519, k, &vs[1], &d), 0);
        vt_buf_init(&line);
        vt_buf_init(&out);
        vt_buf_init(&out2);
        assert_int_equal(
            vt_encoding_note_sig_line(U(GO_TEXT), strlen(GO_TEXT), "EnochRoot", k, &line, &d), 0);
        assert_int_equal(
            vt_encoding_note_add_sigs(U(GO_NOTE), strlen(GO_NOTE), line.p, line.len, &out, &d), 0);
        assert_int_equal(out.len, strlen(GO_NOTE) + line.len);
        assert_memory_equal(out.p, GO_NOTE, strlen(GO_NOTE));
        assert_int_equal(vt_encoding_note_open(out.p, out.len, vs, 2, &note, &d), 0);
        assert_int_equal(note.nverified, 2);
        vt_encoding_note_release(&note);

        /* Re-signing by Peter replaces Peter's line (Go's Sign replaces "BADSIGN="). */
        line.len = 0;
        assert_int_equal(vt_encoding_note_sig_line(U(GO_TEXT), strlen(GO_TEXT), "PeterNeumann",
                                                   peterk, &line, &d),
                         0);
        assert_int_equal(vt_encoding_note_add_sigs(out.p, out.len, line.p, line.len, &out2, &d), 0);
        assert_int_equal(out2.len, out.len);
        assert_int_equal(vt_encoding_note_open(out2.p, out2.len, vs, 2, &note, &d), 0);
        assert_string_equal(note.sigs[0].name, "EnochRoot");
        assert_string_equal(note.sigs[1].name, "PeterNeumann");
        vt_encoding_note_release(&note);

        /* Malformed new lines and notes are refused; out is left as it was. */
        out2.len = 0;
        assert_int_equal(
            vt_encoding_note_add_sigs(U(GO_NOTE), strlen(GO_NOTE), U("junk\n"), 5, &out2, &d),
            VT_EMALFORMED);
        assert_int_equal(
            vt_encoding_note_add_sigs(U(GO_NOTE), strlen(GO_NOTE), line.p, line.len - 1, &out2, &d),
            VT_EMALFORMED);
        assert_int_equal(
            vt_encoding_note_add_sigs(U(GO_TEXT), strlen(GO_TEXT), line.p, line.len, &out2, &d),
            VT_EMALFORMED);
        assert_int_equal(out2.len, 0);

        vt_buf_release(&line);
        vt_buf_release(&out);
        vt_buf_release(&out2);
        vt_encoding_note_verifier_free(vs[0]);
        vt_encoding_note_verifier_free(vs[1]);
        vt_crypto_key_free(k);
        vt_crypto_key_free(peterk);
}

/* ---- checkpoints ---------------------------------------------------------------- */

static int cp_parse_str(const char *s, struct vt_encoding_checkpoint *c, struct vt_diag *d)
{
        return vt_encoding_checkpoint_parse(U(s), strlen(s), c, d);
}

static void test_checkpoint_spec_example(void **state)
{
        struct vt_encoding_checkpoint c;
        struct vt_diag d = {{0}};
        struct vt_buf out;
        uint8_t root[32];
        size_t n;
        const char *b64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

        (void)state;
        if (cp_parse_str(SOFA_BODY, &c, &d) != 0)
                fail_msg("%s", d.msg);
        assert_string_equal(c.origin, "example.com/behind-the-sofa");
        assert_int_equal(c.size, 20852163);
        assert_int_equal(vt_encoding_base64_decode(b64, strlen(b64), root, 32, &n), 0);
        assert_memory_equal(c.root.b, root, 32);
        assert_int_equal(c.ext_len, 0);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_checkpoint_format(&c, &out), 0);
        assert_string_equal((char *)out.p, SOFA_BODY);
        vt_buf_release(&out);

        /* The spec's signed example is well-formed (its key is not published). */
        {
                struct vt_encoding_note note;
                const char *msg =
                    SOFA_BODY "\n\xe2\x80\x94 example.com/behind-the-sofa "
                              "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u"
                              "5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

                assert_int_equal(vt_encoding_note_open(U(msg), strlen(msg), NULL, 0, &note, &d),
                                 VT_EUNKNOWNKEY);
        }
}

static void test_checkpoint_extensions(void **state)
{
        struct vt_encoding_checkpoint c;
        struct vt_diag d = {{0}};
        struct vt_buf out;
        const char *s = SOFA_BODY "ext one\nExtendo\n";

        (void)state;
        assert_int_equal(cp_parse_str(s, &c, &d), 0);
        assert_int_equal(c.ext_len, strlen("ext one\nExtendo\n"));
        assert_string_equal(c.ext, "ext one\nExtendo\n");
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_checkpoint_format(&c, &out), 0);
        assert_string_equal((char *)out.p, s);
        /* Format refuses what parse would refuse. */
        out.len = 0;
        strcpy(c.ext, "\n");
        c.ext_len = 1;
        assert_int_equal(vt_encoding_checkpoint_format(&c, &out), VT_EINVAL);
        strcpy(c.ext, "no newline");
        c.ext_len = strlen(c.ext);
        assert_int_equal(vt_encoding_checkpoint_format(&c, &out), VT_EINVAL);
        c.ext_len = 0;
        c.origin[0] = '\0';
        assert_int_equal(vt_encoding_checkpoint_format(&c, &out), VT_EINVAL);
        strcpy(c.origin, "two\nlines");
        assert_int_equal(vt_encoding_checkpoint_format(&c, &out), VT_EINVAL);
        assert_int_equal(out.len, 0);
        vt_buf_release(&out);
}

static void test_checkpoint_sizes(void **state)
{
        struct vt_encoding_checkpoint c;
        struct vt_diag d = {{0}};

        (void)state;
        assert_int_equal(
            cp_parse_str("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", &c, &d), 0);
        assert_int_equal(c.size, 0);
        assert_int_equal(cp_parse_str("o\n18446744073709551615\n"
                                      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
                                      &c, &d),
                         0);
        assert_true(c.size == UINT64_MAX);
}

static void test_checkpoint_negative(void **state)
{
        static const struct {
                const char *text;
                int err;
                const char *msg;
        } bad[] = {
            {"example.com/behind-the-sofa\n020852163\nCsUYapGGPo4dkMgIAUqom/"
             "Xajj7h2fB2MPA3j2jxq2I=\n",
             VT_EMALFORMED, "checkpoint line 2: tree size has a leading zero"},
            {"o\n00\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED,
             "checkpoint line 2: tree size has a leading zero"},
            {"o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED, NULL},
            {"o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED, NULL},
            {"o\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED, NULL},
            {"o\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED, NULL},
            {"o\n0x10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED, NULL},
            {"o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED,
             "checkpoint line 2: tree size is empty"},
            {"o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
             VT_EMALFORMED, "checkpoint line 2: tree size does not fit in 64 bits"},
            {"\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED,
             "checkpoint line 1: origin is empty"},
            /* short root: base64 of 31 bytes */
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", VT_EMALFORMED, NULL},
            /* long root: 33 bytes */
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n", VT_EMALFORMED, NULL},
            /* non-canonical root: unused bits set ("I=" -> "J=") */
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", VT_ENONCANON,
             "checkpoint line 3: root hash is not canonical base64"},
            /* unpadded, and URL-safe alphabet */
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", VT_EMALFORMED, NULL},
            {"o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED, NULL},
            {"o\n1\n\n", VT_EMALFORMED, NULL},
            {"o\n1\n", VT_EMALFORMED, "checkpoint line 3: missing root hash"},
            {"o\n", VT_EMALFORMED, "checkpoint line 2: missing tree size"},
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", VT_EMALFORMED,
             "checkpoint does not end in a newline"},
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", VT_EMALFORMED,
             "checkpoint line 4: extension line is empty"},
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n\n", VT_EMALFORMED,
             "checkpoint line 5: extension line is empty"},
            {"o\t\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", VT_EMALFORMED,
             "checkpoint line 1: control character 0x09"},
            {"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\xc3\n", VT_EMALFORMED,
             "checkpoint line 4: invalid UTF-8 at byte 49"},
            {"", VT_EMALFORMED, NULL},
        };
        struct vt_encoding_checkpoint c;
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int err;

                d.msg[0] = '\0';
                memset(&c, 0x33, sizeof(c));
                err = cp_parse_str(bad[i].text, &c, &d);
                if (err != bad[i].err)
                        fail_msg("case %zu: got %d (%s), want %d", i, err, d.msg, bad[i].err);
                if (bad[i].msg != NULL)
                        assert_string_equal(d.msg, bad[i].msg);
                assert_true(d.msg[0] != '\0');
                assert_int_equal(c.origin[0], 0x33); /* untouched */
        }
}

static void test_checkpoint_limits(void **state)
{
        struct vt_encoding_checkpoint c;
        struct vt_diag d = {{0}};
        struct vt_buf b;
        size_t i;

        (void)state;
        vt_buf_init(&b);
        for (i = 0; i < VT_ENCODING_ORIGIN_MAX; i++)
                assert_int_equal(vt_buf_puts(&b, "o"), 0);
        assert_int_equal(vt_buf_puts(&b, "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"), 0);
        assert_int_equal(vt_encoding_checkpoint_parse(b.p, b.len, &c, &d), 0);
        b.len = 0;
        for (i = 0; i <= VT_ENCODING_ORIGIN_MAX; i++)
                assert_int_equal(vt_buf_puts(&b, "o"), 0);
        assert_int_equal(vt_buf_puts(&b, "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"), 0);
        assert_int_equal(vt_encoding_checkpoint_parse(b.p, b.len, &c, &d), VT_ETOOBIG);
        b.len = 0;
        assert_int_equal(vt_buf_puts(&b, SOFA_BODY), 0);
        for (i = 0; i < VT_ENCODING_CHECKPOINT_EXT_MAX / 8 + 1; i++)
                assert_int_equal(vt_buf_puts(&b, "1234567\n"), 0);
        assert_int_equal(vt_encoding_checkpoint_parse(b.p, b.len, &c, &d), VT_ETOOBIG);
        vt_buf_release(&b);
}

static void test_checkpoint_sign_open(void **state)
{
        struct vt_crypto_key *k = fresh_key(), *other = fresh_key();
        struct vt_encoding_note_verifier *v = NULL, *w = NULL;
        struct vt_encoding_checkpoint c, got;
        struct vt_diag d = {{0}};
        struct vt_buf out;
        size_t i;

        (void)state;
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, "example.org/log");
        c.size = 12345;
        for (i = 0; i < 32; i++)
                c.root.b[i] = (uint8_t)(i * 7);
        assert_int_equal(
            vt_encoding_note_verifier_new("example.org/log", VT_ENCODING_NOTE_ED25519, k, &v, &d),
            0);
        vt_buf_init(&out);
        assert_int_equal(vt_encoding_checkpoint_sign(&c, NULL, k, &out, &d), 0);
        if (vt_encoding_checkpoint_open(out.p, out.len, v, &got, &d) != 0)
                fail_msg("%s", d.msg);
        assert_string_equal(got.origin, c.origin);
        assert_int_equal(got.size, c.size);
        assert_memory_equal(got.root.b, c.root.b, 32);

        /* The size line changed: the log signature fails. */
        {
                char *p = strstr((char *)out.p, "12345");

                p[4] = '6';
                memset(&got, 0x44, sizeof(got));
                assert_int_equal(vt_encoding_checkpoint_open(out.p, out.len, v, &got, &d),
                                 VT_EBADSIG);
                assert_int_equal(got.size, 0x4444444444444444ULL);
                p[4] = '5';
        }
        /* Another log's verifier: unknown key. */
        assert_int_equal(vt_encoding_note_verifier_new("example.org/log", VT_ENCODING_NOTE_ED25519,
                                                       other, &w, &d),
                         0);
        assert_int_equal(vt_encoding_checkpoint_open(out.p, out.len, w, &got, &d), VT_EUNKNOWNKEY);
        vt_encoding_note_verifier_free(w);
        w = NULL;

        /* Signed under a name that is not the origin: refused on open. */
        out.len = 0;
        assert_int_equal(vt_encoding_checkpoint_sign(&c, "example.org/other", k, &out, &d), 0);
        assert_int_equal(
            vt_encoding_note_verifier_new("example.org/other", VT_ENCODING_NOTE_ED25519, k, &w, &d),
            0);
        assert_int_equal(vt_encoding_checkpoint_open(out.p, out.len, w, &got, &d), VT_EMALFORMED);
        assert_string_equal(d.msg, "checkpoint line 1: origin 'example.org/log' is not the log key "
                                   "name 'example.org/other'");
        /* A signed note that is not a checkpoint. */
        out.len = 0;
        assert_int_equal(vt_encoding_note_sign(U("hello\n"), 6, "example.org/log", k, &out, &d), 0);
        assert_int_equal(vt_encoding_checkpoint_open(out.p, out.len, v, &got, &d), VT_EMALFORMED);

        vt_buf_release(&out);
        vt_encoding_note_verifier_free(v);
        vt_encoding_note_verifier_free(w);
        vt_crypto_key_free(k);
        vt_crypto_key_free(other);
}

/* ---- cosignatures ---------------------------------------------------------------- */

static void test_cosig_real_checkpoint(void **state)
{
        struct vt_encoding_note_verifier *log = verifier(ARCHE_VKEY),
                                         *remora = cosigner(REMORA_VKEY);
        struct vt_encoding_note_verifier *both[2] = {log, remora};
        struct vt_encoding_checkpoint c;
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        uint64_t ts = 0;
        char forged[sizeof(ARCHE_NOTE)];

        (void)state;
        /* The log's signature (its RFC 6962 line is an unknown type, ignored). */
        if (vt_encoding_checkpoint_open_note(U(ARCHE_NOTE), strlen(ARCHE_NOTE), log, &c, &note,
                                             &d) != 0)
                fail_msg("%s", d.msg);
        assert_int_equal(c.size, 1432088532);
        assert_int_equal(note.nsigs, 6);
        assert_int_equal(note.nverified, 1);
        assert_ptr_equal(note.sigs[1].verifier, log);
        /* The witness's cosignature/v1, checked on the opened note. */
        if (vt_encoding_cosig_verify(&note, remora, &ts, &d) != 0)
                fail_msg("%s", d.msg);
        assert_true(ts == 0x6a122120); /* the 8 bytes after the key hash */
        assert_int_equal(vt_encoding_cosig_verify(&note, log, &ts, &d), VT_EINVAL);
        vt_encoding_note_release(&note);

        /* Both at once through note_open: type 0x04 lines are verified too. */
        assert_int_equal(
            vt_encoding_note_open(U(ARCHE_NOTE), strlen(ARCHE_NOTE), both, 2, &note, &d), 0);
        assert_int_equal(note.nverified, 2);
        assert_ptr_equal(note.sigs[4].verifier, remora);
        assert_true(note.sigs[4].timestamp == 0x6a122120);
        ts = 0;
        assert_int_equal(vt_encoding_cosig_verify(&note, remora, &ts, &d), 0);
        assert_true(ts == 0x6a122120);
        vt_encoding_note_release(&note);

        /* Clobbered size: both signatures fail. */
        memcpy(forged, ARCHE_NOTE, sizeof(forged));
        forged[strlen("arche2025h1.staging.ct.transparency.dev\n")] = '2';
        assert_int_equal(vt_encoding_checkpoint_open(U(forged), strlen(forged), log, &c, &d),
                         VT_EBADSIG);
        assert_int_equal(vt_encoding_note_open(U(forged), strlen(forged), &remora, 1, &note, &d),
                         VT_EBADSIG);
        /* A cosigner that did not sign (same name, another key). */
        {
                struct vt_crypto_key *k = fresh_key();
                struct vt_encoding_note_verifier *stranger = NULL;

                assert_int_equal(vt_encoding_note_verifier_new(
                                     "remora.n621.de", VT_ENCODING_NOTE_COSIG_V1, k, &stranger, &d),
                                 0);
                assert_int_equal(vt_encoding_checkpoint_open_note(U(ARCHE_NOTE), strlen(ARCHE_NOTE),
                                                                  log, &c, &note, &d),
                                 0);
                assert_int_equal(vt_encoding_cosig_verify(&note, stranger, &ts, &d),
                                 VT_EUNKNOWNKEY);
                vt_encoding_note_release(&note);
                vt_encoding_note_verifier_free(stranger);
                vt_crypto_key_free(k);
        }
        vt_encoding_note_verifier_free(log);
        vt_encoding_note_verifier_free(remora);
}

static void test_cosig_round_trip(void **state)
{
        struct vt_crypto_key *lk = fresh_key(), *wk = fresh_key(), *wk2 = fresh_key();
        struct vt_encoding_note_verifier *log = NULL, *wit = NULL, *wit2 = NULL;
        struct vt_encoding_note_verifier *vs[2];
        struct vt_encoding_checkpoint c, got;
        struct vt_encoding_note note;
        struct vt_diag d = {{0}};
        struct vt_buf signed_cp, line, cosigned, vkey;
        const uint64_t t = 1679315147;
        uint8_t raw[80];
        size_t n;

        (void)state;
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, "example.com/behind-the-sofa");
        c.size = 20852163;
        assert_int_equal(
            vt_encoding_note_verifier_new(c.origin, VT_ENCODING_NOTE_ED25519, lk, &log, &d), 0);
        vt_buf_init(&vkey);
        assert_int_equal(vt_encoding_cosig_vkey("witness.example.com/w1", wk, &vkey), 0);
        wit = cosigner((char *)vkey.p);
        assert_int_equal(vt_encoding_note_verifier_new("witness.example.com/w2",
                                                       VT_ENCODING_NOTE_COSIG_V1, wk2, &wit2, &d),
                         0);
        vt_buf_init(&signed_cp);
        vt_buf_init(&line);
        vt_buf_init(&cosigned);
        assert_int_equal(vt_encoding_checkpoint_sign(&c, NULL, lk, &signed_cp, &d), 0);
        /* The witness cosigns the body. */
        assert_int_equal(
            vt_encoding_checkpoint_open_note(signed_cp.p, signed_cp.len, log, &got, &note, &d), 0);
        assert_int_equal(vt_encoding_cosig_sign(note.text, note.text_len, t,
                                                "witness.example.com/w1", wk, &line, &d),
                         0);
        /* The line: key hash (type 0x04), the timestamp, a 64-byte signature. */
        assert_int_equal(strncmp((char *)line.p, "\xe2\x80\x94 witness.example.com/w1 ", 27), 0);
        assert_int_equal(
            vt_encoding_base64_decode((char *)line.p + 27, line.len - 28, raw, sizeof(raw), &n), 0);
        assert_int_equal(n, 4 + 8 + 64);
        assert_int_equal(raw[4] | raw[5] | raw[6] | raw[7], 0);
        assert_int_equal((uint32_t)raw[8] << 24 | raw[9] << 16 | raw[10] << 8 | raw[11],
                         (uint32_t)t);
        assert_int_equal((uint32_t)raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3],
                         vt_encoding_note_verifier_hash(wit));
        vt_encoding_note_release(&note);

        assert_int_equal(
            vt_encoding_note_add_sigs(signed_cp.p, signed_cp.len, line.p, line.len, &cosigned, &d),
            0);
        /* Log and witness verified together; the second witness did not sign. */
        vs[0] = log, vs[1] = wit;
        assert_int_equal(vt_encoding_note_open(cosigned.p, cosigned.len, vs, 2, &note, &d), 0);
        assert_int_equal(note.nverified, 2);
        assert_true(note.sigs[1].timestamp == t);
        assert_int_equal(vt_encoding_cosig_verify(&note, wit2, NULL, &d), VT_EUNKNOWNKEY);
        vt_encoding_note_release(&note);
        assert_int_equal(
            vt_encoding_checkpoint_open_note(cosigned.p, cosigned.len, log, &got, &note, &d), 0);
        {
                uint64_t ts = 0;

                assert_int_equal(vt_encoding_cosig_verify(&note, wit, &ts, &d), 0);
                assert_true(ts == t);
        }
        vt_encoding_note_release(&note);

        /* A type 0x01 verifier of the witness key does not match the cosignature line. */
        {
                struct vt_encoding_note_verifier *plain = NULL;

                assert_int_equal(vt_encoding_note_verifier_new("witness.example.com/w1",
                                                               VT_ENCODING_NOTE_ED25519, wk, &plain,
                                                               &d),
                                 0);
                assert_int_not_equal(vt_encoding_note_verifier_hash(plain),
                                     vt_encoding_note_verifier_hash(wit));
                vt_encoding_note_verifier_free(plain);
        }

        /* Tamper with the timestamp (last byte of its 8): the cosignature fails. */
        {
                char *p = strstr((char *)cosigned.p, "\xe2\x80\x94 witness.example.com/w1 ") + 27;
                uint8_t r[80];
                size_t rl;
                struct vt_buf forged;

                assert_int_equal(vt_encoding_base64_decode(p, line.len - 28, r, sizeof(r), &rl), 0);
                r[11] ^= 1;
                vt_buf_init(&forged);
                assert_int_equal(
                    vt_buf_append(&forged, cosigned.p, (size_t)((uint8_t *)p - cosigned.p)), 0);
                assert_int_equal(vt_encoding_base64_append(&forged, r, rl), 0);
                assert_int_equal(vt_buf_puts(&forged, "\n"), 0);
                assert_int_equal(vt_encoding_note_open(forged.p, forged.len, vs, 2, &note, &d),
                                 VT_EBADSIG);
                assert_non_null(strstr(d.msg, "cosignature by 'witness.example.com/w1+"));
                /* Opened with the log key only, the forged line is caught by cosig_verify. */
                assert_int_equal(
                    vt_encoding_checkpoint_open_note(forged.p, forged.len, log, &got, &note, &d),
                    0);
                assert_int_equal(vt_encoding_cosig_verify(&note, wit, NULL, &d), VT_EBADSIG);
                vt_encoding_note_release(&note);
                vt_buf_release(&forged);
        }

        /* Refusals when cosigning. */
        line.len = 0;
        assert_int_equal(vt_encoding_cosig_sign(U("not a checkpoint\n"), 17, t, "w", wk, &line, &d),
                         VT_EMALFORMED);
        assert_int_equal(vt_encoding_cosig_sign(U(SOFA_BODY), strlen(SOFA_BODY),
                                                (uint64_t)INT64_MAX + 1, "w", wk, &line, &d),
                         VT_EINVAL);
        assert_int_equal(
            vt_encoding_cosig_sign(U(SOFA_BODY), strlen(SOFA_BODY), t, "w w", wk, &line, &d),
            VT_EINVAL);
        assert_int_equal(line.len, 0);
        assert_int_equal(vt_encoding_cosig_sign(U(SOFA_BODY), strlen(SOFA_BODY),
                                                (uint64_t)INT64_MAX, "w", wk, &line, &d),
                         0);

        vt_buf_release(&vkey);
        vt_buf_release(&signed_cp);
        vt_buf_release(&line);
        vt_buf_release(&cosigned);
        vt_encoding_note_verifier_free(log);
        vt_encoding_note_verifier_free(wit);
        vt_encoding_note_verifier_free(wit2);
        vt_crypto_key_free(lk);
        vt_crypto_key_free(wk);
        vt_crypto_key_free(wk2);
}

/* tlog-cosignature's example message, signed and checked by hand through the crypto module. */
static void test_cosig_message_layout(void **state)
{
        struct vt_crypto_key *wk = fresh_key();
        struct vt_encoding_note_verifier *wit = NULL;
        struct vt_buf line;
        struct vt_diag d = {{0}};
        const char *msg = "cosignature/v1\ntime 1679315147\n" SOFA_BODY;
        uint8_t raw[80];
        size_t n;

        (void)state;
        assert_int_equal(
            vt_encoding_note_verifier_new("w", VT_ENCODING_NOTE_COSIG_V1, wk, &wit, &d), 0);
        vt_buf_init(&line);
        assert_int_equal(
            vt_encoding_cosig_sign(U(SOFA_BODY), strlen(SOFA_BODY), 1679315147, "w", wk, &line, &d),
            0);
        assert_int_equal(
            vt_encoding_base64_decode((char *)line.p + 6, line.len - 7, raw, sizeof(raw), &n), 0);
        assert_int_equal(n, 76);
        assert_int_equal(vt_crypto_key_verify(vt_encoding_note_verifier_key(wit), U(msg),
                                              strlen(msg), raw + 12, 64),
                         0);
        vt_buf_release(&line);
        vt_encoding_note_verifier_free(wit);
        vt_crypto_key_free(wk);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vkey_spec_example),
            cmocka_unit_test(test_vkey_published_keys),
            cmocka_unit_test(test_vkey_manglings),
            cmocka_unit_test(test_vkey_negative),
            cmocka_unit_test(test_vkey_from_key),
            cmocka_unit_test(test_key_hash),
            cmocka_unit_test(test_open_spec_example),
            cmocka_unit_test(test_open_text_with_empty_line),
            cmocka_unit_test(test_open_go_example),
            cmocka_unit_test(test_open_go_cases),
            cmocka_unit_test(test_open_forged),
            cmocka_unit_test(test_open_malformed),
            cmocka_unit_test(test_open_diagnostics),
            cmocka_unit_test(test_open_noncanonical_base64),
            cmocka_unit_test(test_open_wrong_key_hash),
            cmocka_unit_test(test_open_size_limit),
            cmocka_unit_test(test_sign_go_example),
            cmocka_unit_test(test_sign_refusals),
            cmocka_unit_test(test_sign_open_round_trip),
            cmocka_unit_test(test_add_sigs),
            cmocka_unit_test(test_checkpoint_spec_example),
            cmocka_unit_test(test_checkpoint_extensions),
            cmocka_unit_test(test_checkpoint_sizes),
            cmocka_unit_test(test_checkpoint_negative),
            cmocka_unit_test(test_checkpoint_limits),
            cmocka_unit_test(test_checkpoint_sign_open),
            cmocka_unit_test(test_cosig_real_checkpoint),
            cmocka_unit_test(test_cosig_round_trip),
            cmocka_unit_test(test_cosig_message_layout),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
