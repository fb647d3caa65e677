/*
 * test_crypto.c: the crypto module: SHA-256 known answers (FIPS 180-2
 * appendix B), gathered and streamed hashing, Ed25519 (RFC 8032 §7.1 test 1)
 * and ECDSA P-256 signatures, key ids, PEM loading and every refusal.
 *
 * Key files made by `openssl genpkey` live in tests/data/keys (see its
 * README); $VT_TEST_KEYS overrides the directory. One test also runs the
 * openssl command at run time when it is installed.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "vt_test.h"
#include "veritrail/crypto.h"

static const char *keys_dir(void)
{
        const char *s = getenv("VT_TEST_KEYS");

        return (s != NULL && *s != '\0') ? s : "tests/data/keys";
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
        static const char hex[] = "0123456789abcdef";
        size_t i;

        for (i = 0; i < n; i++) {
                out[2 * i] = hex[p[i] >> 4];
                out[2 * i + 1] = hex[p[i] & 15];
        }
        out[2 * n] = '\0';
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
        size_t i;
        unsigned v;

        assert_int_equal(strlen(s), 2 * n);
        for (i = 0; i < n; i++) {
                assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
                out[i] = (uint8_t)v;
        }
}

static void assert_hash_hex(const struct vt_hash *h, const char *want)
{
        char got[2 * VT_CRYPTO_HASH_LEN + 1];

        hex_of(h->b, sizeof(h->b), got);
        assert_string_equal(got, want);
}

/* Load tests/data/keys/<name>; the expected result code is err. */
static struct vt_crypto_key *load_key(const char *name, const char *pass, int err,
                                      struct vt_diag *d)
{
        struct vt_crypto_key *k = NULL;
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", keys_dir(), name);
        assert_int_equal(vt_crypto_key_load_file(path, pass, &k, d), err);
        if (err != 0)
                assert_null(k);
        else
                assert_non_null(k);
        /* No OpenSSL error may outlive the call (success or failure). */
        assert_int_equal(ERR_peek_error(), 0);
        return k;
}

static int load_text(const char *pem, const char *pass, struct vt_crypto_key **k, struct vt_diag *d)
{
        return vt_crypto_key_load_pem((const uint8_t *)pem, strlen(pem), pass, k, d);
}

/* ---- SHA-256 ---- */

static void sha256_empty(void **state)
{
        struct vt_hash h;

        (void)state;
        vt_crypto_sha256((const uint8_t *)"", 0, &h);
        assert_hash_hex(&h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        vt_crypto_sha256(NULL, 0, &h);
        assert_hash_hex(&h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void sha256_fips_vectors(void **state)
{
        static const char two_block[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        static const char long_msg[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
        struct vt_hash h;
        uint8_t *a;

        (void)state;
        /* FIPS 180-2 appendix B.1, B.2, B.3 */
        vt_crypto_sha256((const uint8_t *)"abc", 3, &h);
        assert_hash_hex(&h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        vt_crypto_sha256((const uint8_t *)two_block, strlen(two_block), &h);
        assert_hash_hex(&h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        a = malloc(1000000);
        assert_non_null(a);
        memset(a, 'a', 1000000);
        vt_crypto_sha256(a, 1000000, &h);
        assert_hash_hex(&h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(a);
        /* The 896-bit message of FIPS 180-4's examples. */
        vt_crypto_sha256((const uint8_t *)long_msg, strlen(long_msg), &h);
        assert_hash_hex(&h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void sha256_gathered_equals_contiguous(void **state)
{
        uint8_t buf[300];
        struct vt_hash want, got;
        struct vt_span parts[4];
        size_t i, j;

        (void)state;
        for (i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 7 + 3);
        vt_crypto_sha256(buf, sizeof(buf), &want);
        for (i = 0; i <= sizeof(buf); i += 13) {
                for (j = i; j <= sizeof(buf); j += 29) {
                        parts[0] = (struct vt_span){buf, i};
                        parts[1] = (struct vt_span){NULL, 0};
                        parts[2] = (struct vt_span){buf + i, j - i};
                        parts[3] = (struct vt_span){buf + j, sizeof(buf) - j};
                        vt_crypto_sha256_v(parts, 4, &got);
                        assert_memory_equal(got.b, want.b, sizeof(want.b));
                }
        }
        /* The Merkle node shape: 0x01 || left || right (RFC 9162 §2.1.1). */
        {
                uint8_t node[65];
                uint8_t prefix = 1;
                struct vt_span s[3] = {{&prefix, 1}, {buf, 32}, {buf + 32, 32}};

                node[0] = 1;
                memcpy(node + 1, buf, 64);
                vt_crypto_sha256(node, sizeof(node), &want);
                vt_crypto_sha256_v(s, 3, &got);
                assert_memory_equal(got.b, want.b, sizeof(want.b));
        }
        vt_crypto_sha256_v(NULL, 0, &got);
        assert_hash_hex(&got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void sha256_file_streams(void **state)
{
        char path[] = "/tmp/vt-test-crypto.XXXXXX";
        /* Past the 256 KiB chunk so the stream crosses buffer boundaries. */
        size_t n = 3 * 256 * 1024 + 12345, i;
        struct vt_hash want, got;
        struct vt_diag d = {""};
        uint64_t nbytes = 0;
        uint8_t *data;
        int fd;

        (void)state;
        data = malloc(n);
        assert_non_null(data);
        for (i = 0; i < n; i++)
                data[i] = (uint8_t)(i ^ (i >> 8));
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t)n);
        vt_crypto_sha256(data, n, &want);

        assert_int_equal(vt_crypto_sha256_file(path, &got, &nbytes, &d), 0);
        assert_memory_equal(got.b, want.b, sizeof(want.b));
        assert_int_equal(nbytes, n);

        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        memset(&got, 0, sizeof(got));
        assert_int_equal(vt_crypto_sha256_fd(fd, &got, NULL, &d), 0);
        assert_memory_equal(got.b, want.b, sizeof(want.b));
        close(fd);
        unlink(path);
        free(data);

        /* A missing file: code, the file named, output untouched. */
        memset(&got, 0xaa, sizeof(got));
        assert_int_equal(vt_crypto_sha256_file(path, &got, NULL, &d), VT_ENOENT);
        assert_non_null(strstr(d.msg, path));
        assert_int_equal(got.b[0], 0xaa);
        /* A directory cannot be read. */
        assert_int_equal(vt_crypto_sha256_file("/", &got, NULL, &d), VT_EIO);
        assert_int_equal(got.b[0], 0xaa);
}

struct hash_job {
        struct vt_hash want;
        int ok;
};

static void *hash_thread(void *arg)
{
        struct hash_job *j = arg;
        uint8_t node[65] = {1};
        struct vt_hash h;
        int i;

        j->ok = 1;
        for (i = 0; i < 20000; i++) {
                vt_crypto_sha256(node, sizeof(node), &h);
                if (memcmp(h.b, j->want.b, sizeof(h.b)) != 0)
                        j->ok = 0;
        }
        return NULL;
}

static void sha256_threads(void **state)
{
        uint8_t node[65] = {1};
        struct hash_job jobs[4];
        pthread_t t[4];
        int i;

        (void)state;
        for (i = 0; i < 4; i++) {
                vt_crypto_sha256(node, sizeof(node), &jobs[i].want);
                assert_int_equal(pthread_create(&t[i], NULL, hash_thread, &jobs[i]), 0);
        }
        for (i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_true(jobs[i].ok);
        }
}

/* ---- keys: generate, sign, verify ---- */

static void key_types(void **state)
{
        (void)state;
        assert_int_equal(vt_crypto_key_type_parse("ed25519"), VT_CRYPTO_KEY_ED25519);
        assert_int_equal(vt_crypto_key_type_parse("ecdsa-p256"), VT_CRYPTO_KEY_ECDSA_P256);
        assert_int_equal(vt_crypto_key_type_parse("rsa"), 0);
        assert_int_equal(vt_crypto_key_type_parse("Ed25519"), 0);
        assert_int_equal(vt_crypto_key_type_parse(NULL), 0);
        assert_string_equal(vt_crypto_key_type_name(VT_CRYPTO_KEY_ED25519), "ed25519");
        assert_string_equal(vt_crypto_key_type_name(VT_CRYPTO_KEY_ECDSA_P256), "ecdsa-p256");
        assert_string_equal(vt_crypto_key_type_name(99), "unknown");
}

/* Sign and verify with a fresh key of type; every negative case. */
static void sign_verify_roundtrip(int type)
{
        static const uint8_t msg[] = "DSSEv1 28 application/vnd.in-toto+json 2 {}";
        struct vt_crypto_key *k = NULL, *other = NULL, *pub = NULL;
        uint8_t sig[VT_CRYPTO_SIG_MAX], bad[VT_CRYPTO_SIG_MAX];
        struct vt_buf pem;
        size_t siglen = 0, i;

        assert_int_equal(vt_crypto_key_generate(type, &k, NULL), 0);
        assert_int_equal(vt_crypto_key_generate(type, &other, NULL), 0);
        assert_int_equal(vt_crypto_key_type(k), type);
        assert_true(vt_crypto_key_is_private(k));
        assert_int_equal(strlen(vt_crypto_key_id(k)), VT_CRYPTO_KEYID_LEN);
        assert_string_not_equal(vt_crypto_key_id(k), vt_crypto_key_id(other));

        assert_int_equal(vt_crypto_key_sign(k, msg, sizeof(msg) - 1, sig, &siglen), 0);
        if (type == VT_CRYPTO_KEY_ED25519)
                assert_int_equal(siglen, 64);
        else
                assert_true(siglen >= 8 && siglen <= VT_CRYPTO_SIG_MAX && sig[0] == 0x30);
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, sig, siglen), 0);

        /* Every flipped bit of the signature is refused. */
        for (i = 0; i < siglen * 8; i++) {
                memcpy(bad, sig, siglen);
                bad[i / 8] ^= (uint8_t)(1u << (i % 8));
                assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, bad, siglen),
                                 VT_EBADSIG);
        }
        /* Another message, another key, a truncated or empty signature. */
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 2, sig, siglen), VT_EBADSIG);
        assert_int_equal(vt_crypto_key_verify(other, msg, sizeof(msg) - 1, sig, siglen),
                         VT_EBADSIG);
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, sig, siglen - 1),
                         VT_EBADSIG);
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, sig, 0), VT_EBADSIG);

        /* The public half verifies but cannot sign or export a secret. */
        vt_buf_init(&pem);
        assert_int_equal(vt_crypto_key_public_pem(k, &pem), 0);
        assert_int_equal(vt_crypto_key_load_pem(pem.p, pem.len, NULL, &pub, NULL), 0);
        vt_buf_release(&pem);
        assert_false(vt_crypto_key_is_private(pub));
        assert_string_equal(vt_crypto_key_id(pub), vt_crypto_key_id(k));
        assert_int_equal(vt_crypto_key_verify(pub, msg, sizeof(msg) - 1, sig, siglen), 0);
        siglen = 0;
        assert_int_equal(vt_crypto_key_sign(pub, msg, sizeof(msg) - 1, sig, &siglen), VT_ENOTPRIV);
        assert_int_equal(siglen, 0);
        assert_int_equal(vt_crypto_key_private_pem(pub, &pem), VT_ENOTPRIV);
        assert_int_equal(pem.len, 0);
        assert_int_equal(ERR_peek_error(), 0);

        vt_crypto_key_free(pub);
        vt_crypto_key_free(other);
        vt_crypto_key_free(k);
        vt_crypto_key_free(NULL);
}

static void ed25519_sign_verify(void **state)
{
        (void)state;
        sign_verify_roundtrip(VT_CRYPTO_KEY_ED25519);
}

static void ecdsa_sign_verify(void **state)
{
        (void)state;
        sign_verify_roundtrip(VT_CRYPTO_KEY_ECDSA_P256);
}

static void generate_unknown_type(void **state)
{
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(vt_crypto_key_generate(0, &k, &d), VT_EKEYTYPE);
        assert_null(k);
        assert_true(d.msg[0] != '\0');
}

/* r || s from a DER signature, 32 bytes each, big-endian. */
static void der_to_raw(const uint8_t *der, size_t n, uint8_t raw[64])
{
        const unsigned char *p = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)n);

        assert_non_null(s);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + 32, 32), 32);
        ECDSA_SIG_free(s);
}

static void ecdsa_raw_signature_accepted(void **state)
{
        static const uint8_t msg[] = "raw r||s as JOSE writes it";
        struct vt_crypto_key *k = NULL;
        uint8_t sig[VT_CRYPTO_SIG_MAX], raw[64];
        size_t siglen, i;

        (void)state;
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ECDSA_P256, &k, NULL), 0);
        /* Several signatures, so r and s with leading zero bytes turn up too. */
        for (i = 0; i < 16; i++) {
                assert_int_equal(vt_crypto_key_sign(k, msg, sizeof(msg) - 1, sig, &siglen), 0);
                der_to_raw(sig, siglen, raw);
                assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, raw, 64), 0);
                raw[63] ^= 1;
                assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, raw, 64),
                                 VT_EBADSIG);
                raw[63] ^= 1;
                raw[0] ^= 0x80;
                assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, raw, 64),
                                 VT_EBADSIG);
        }
        /* All zero and all 0xff r||s: out of range, refused without a fuss. */
        memset(raw, 0, sizeof(raw));
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, raw, 64), VT_EBADSIG);
        memset(raw, 0xff, sizeof(raw));
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, raw, 64), VT_EBADSIG);
        assert_int_equal(ERR_peek_error(), 0);
        vt_crypto_key_free(k);
}

static void ed25519_noncanonical_signature_rejected(void **state)
{
        /* L, the order of the base point, little-endian (RFC 8032 §5.1). */
        static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                      0,    0,    0,    0,    0,    0,    0,    0,
                                      0,    0,    0,    0,    0,    0,    0,    0x10};
        static const uint8_t msg[] = "malleability";
        struct vt_crypto_key *k = NULL;
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        size_t siglen, i;
        unsigned carry = 0;

        (void)state;
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL), 0);
        assert_int_equal(vt_crypto_key_sign(k, msg, sizeof(msg) - 1, sig, &siglen), 0);
        /* S + L is the same scalar mod L, but not the canonical encoding. */
        for (i = 0; i < 32; i++) {
                unsigned v = sig[32 + i] + L[i] + carry;
                sig[32 + i] = (uint8_t)v;
                carry = v >> 8;
        }
        assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, sig, siglen), VT_EBADSIG);
        vt_crypto_key_free(k);
}

/* ---- RFC 8032 §7.1 TEST 1 ---- */

static const char rfc8032_pkcs8[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
static const char rfc8032_pk[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc8032_sig[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/* sha256(openssl pkey -pubout -outform DER) of that key */
static const char rfc8032_id[] = "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9";

static void ed25519_rfc8032_test1(void **state)
{
        struct vt_crypto_key *k = NULL, *pub = NULL;
        uint8_t pk[32], want[64], sig[VT_CRYPTO_SIG_MAX];
        size_t siglen = 0;

        (void)state;
        unhex(rfc8032_pk, pk, sizeof(pk));
        unhex(rfc8032_sig, want, sizeof(want));
        assert_int_equal(load_text(rfc8032_pkcs8, NULL, &k, NULL), 0);
        assert_memory_equal(vt_crypto_key_ed25519_public(k), pk, 32);
        assert_string_equal(vt_crypto_key_id(k), rfc8032_id);
        /* The message is empty. */
        assert_int_equal(vt_crypto_key_sign(k, (const uint8_t *)"", 0, sig, &siglen), 0);
        assert_int_equal(siglen, 64);
        assert_memory_equal(sig, want, 64);

        assert_int_equal(vt_crypto_key_from_ed25519(pk, &pub), 0);
        assert_false(vt_crypto_key_is_private(pub));
        assert_string_equal(vt_crypto_key_id(pub), rfc8032_id);
        assert_int_equal(vt_crypto_key_verify(pub, (const uint8_t *)"", 0, want, 64), 0);
        assert_int_equal(vt_crypto_key_verify(pub, (const uint8_t *)"x", 1, want, 64), VT_EBADSIG);
        vt_crypto_key_free(pub);
        vt_crypto_key_free(k);
}

static void ed25519_from_raw_rejects_bad_points(void **state)
{
        struct vt_crypto_key *k = (struct vt_crypto_key *)&k; /* a sentinel */
        uint8_t pk[32];

        (void)state;
        /* y = 0 is a point of small order; y = p is not canonical. */
        memset(pk, 0, sizeof(pk));
        assert_int_equal(vt_crypto_key_from_ed25519(pk, &k), VT_EKEYPARSE);
        memset(pk, 0xff, sizeof(pk));
        pk[0] = 0xed;
        pk[31] = 0x7f;
        assert_int_equal(vt_crypto_key_from_ed25519(pk, &k), VT_EKEYPARSE);
        assert_ptr_equal(k, (struct vt_crypto_key *)&k);
}

/* ---- key ids and PEM ---- */

static void key_id_is_sha256_of_spki(void **state)
{
        int types[2] = {VT_CRYPTO_KEY_ED25519, VT_CRYPTO_KEY_ECDSA_P256};
        char hex[2 * VT_CRYPTO_HASH_LEN + 1];
        struct vt_crypto_key *k;
        struct vt_buf der;
        struct vt_hash h;
        int i;

        (void)state;
        for (i = 0; i < 2; i++) {
                k = NULL;
                assert_int_equal(vt_crypto_key_generate(types[i], &k, NULL), 0);
                vt_buf_init(&der);
                assert_int_equal(vt_crypto_key_spki_der(k, &der), 0);
                /* SEQUENCE { AlgorithmIdentifier, BIT STRING } */
                assert_true(der.len > 40 && der.p[0] == 0x30);
                vt_crypto_sha256(der.p, der.len, &h);
                hex_of(h.b, sizeof(h.b), hex);
                assert_string_equal(vt_crypto_key_id(k), hex);
                vt_buf_release(&der);
                if (types[i] == VT_CRYPTO_KEY_ECDSA_P256)
                        assert_null(vt_crypto_key_ed25519_public(k));
                else
                        assert_non_null(vt_crypto_key_ed25519_public(k));
                vt_crypto_key_free(k);
        }
}

/*
 * An Ed25519 key's SPKI is written without OpenSSL's encoder: it must be
 * the bytes OpenSSL writes (checked on random keys) and RFC 8410 §10.1's
 * example public key.
 */
static void ed25519_spki_matches_openssl(void **state)
{
        static const uint8_t rfc8410[44] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                            0x03, 0x21, 0x00, 0x19, 0xbf, 0x44, 0x09, 0x69, 0x84,
                                            0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b,
                                            0x96, 0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb,
                                            0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31, 0x66, 0xe1};
        struct vt_crypto_key *k;
        unsigned char *der;
        struct vt_buf b;
        EVP_PKEY *pk;
        int i, len;

        (void)state;
        assert_int_equal(vt_crypto_key_from_ed25519(rfc8410 + 12, &k), 0);
        vt_buf_init(&b);
        assert_int_equal(vt_crypto_key_spki_der(k, &b), 0);
        assert_int_equal(b.len, sizeof(rfc8410));
        assert_memory_equal(b.p, rfc8410, sizeof(rfc8410));
        vt_buf_release(&b);
        vt_crypto_key_free(k);
        for (i = 0; i < 20; i++) {
                k = NULL;
                assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL), 0);
                pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                                 vt_crypto_key_ed25519_public(k), 32);
                assert_non_null(pk);
                der = NULL;
                assert_true((len = i2d_PUBKEY(pk, &der)) > 0);
                vt_buf_init(&b);
                assert_int_equal(vt_crypto_key_spki_der(k, &b), 0);
                assert_int_equal(b.len, (size_t)len);
                assert_memory_equal(b.p, der, (size_t)len);
                vt_buf_release(&b);
                OPENSSL_free(der);
                EVP_PKEY_free(pk);
                vt_crypto_key_free(k);
        }
}

static void pem_round_trip(void **state)
{
        static const uint8_t msg[] = "round trip";
        int types[2] = {VT_CRYPTO_KEY_ED25519, VT_CRYPTO_KEY_ECDSA_P256};
        struct vt_crypto_key *k, *back;
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        struct vt_buf pem, pem2;
        size_t siglen;
        int i;

        (void)state;
        for (i = 0; i < 2; i++) {
                k = back = NULL;
                assert_int_equal(vt_crypto_key_generate(types[i], &k, NULL), 0);
                vt_buf_init(&pem);
                vt_buf_init(&pem2);
                assert_int_equal(vt_crypto_key_private_pem(k, &pem), 0);
                assert_non_null(strstr((char *)pem.p, "-----BEGIN PRIVATE KEY-----\n"));
                assert_int_equal(vt_crypto_key_load_pem(pem.p, pem.len, NULL, &back, NULL), 0);
                assert_true(vt_crypto_key_is_private(back));
                assert_int_equal(vt_crypto_key_type(back), types[i]);
                assert_string_equal(vt_crypto_key_id(back), vt_crypto_key_id(k));
                /* Export is stable: the same bytes again. */
                assert_int_equal(vt_crypto_key_private_pem(back, &pem2), 0);
                assert_int_equal(pem2.len, pem.len);
                assert_memory_equal(pem2.p, pem.p, pem.len);
                /* The reloaded key signs for the original. */
                assert_int_equal(vt_crypto_key_sign(back, msg, sizeof(msg) - 1, sig, &siglen), 0);
                assert_int_equal(vt_crypto_key_verify(k, msg, sizeof(msg) - 1, sig, siglen), 0);
                vt_buf_wipe(&pem);
                vt_buf_wipe(&pem2);
                vt_crypto_key_free(back);
                vt_crypto_key_free(k);
        }
}

/* ---- key files made by openssl (tests/data/keys) ---- */

static void openssl_keys_load(void **state)
{
        static const struct {
                const char *priv, *pub, *id;
                int type;
        } cases[] = {
            {"ed25519.key", "ed25519.pub",
             "6ec5a56cf3a670caa8191dfcc27236268ad86df8d0f9e3636554618a848cd3d1",
             VT_CRYPTO_KEY_ED25519},
            {"p256.key", "p256.pub",
             "f7d93484d5a22907ab2f68137b127cd320d4b90d1cdd5987c0699d6957c99518",
             VT_CRYPTO_KEY_ECDSA_P256},
        };
        static const uint8_t msg[] = "openssl made me";
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        struct vt_crypto_key *priv, *pub;
        size_t i, siglen;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                priv = load_key(cases[i].priv, NULL, 0, NULL);
                pub = load_key(cases[i].pub, NULL, 0, NULL);
                assert_int_equal(vt_crypto_key_type(priv), cases[i].type);
                assert_string_equal(vt_crypto_key_id(priv), cases[i].id);
                assert_string_equal(vt_crypto_key_id(pub), cases[i].id);
                assert_int_equal(vt_crypto_key_sign(priv, msg, sizeof(msg) - 1, sig, &siglen), 0);
                assert_int_equal(vt_crypto_key_verify(pub, msg, sizeof(msg) - 1, sig, siglen), 0);
                vt_crypto_key_free(priv);
                vt_crypto_key_free(pub);
        }
}

static void unsupported_keys_refused(void **state)
{
        static const struct {
                const char *file;
                int err;
                const char *msg;
        } cases[] = {
            {"rsa.key", VT_EKEYTYPE, "unsupported key type 'RSA'"},
            {"rsa.pub", VT_EKEYTYPE, "unsupported key type 'RSA'"},
            {"ed448.key", VT_EKEYTYPE, "unsupported key type 'Ed448'"},
            {"p384.key", VT_EKEYTYPE, "unsupported curve 'secp384r1'"},
            {"p384.pub", VT_EKEYTYPE, "unsupported curve 'secp384r1'"},
            {"p256-explicit.key", VT_EKEYTYPE, "explicit curve parameters"},
            {"p256-explicit.pub", VT_EKEYTYPE, "explicit curve parameters"},
            {"p256-sec1.key", VT_EKEYPARSE, "unsupported PEM block 'EC PRIVATE KEY'"},
            {"p256-compressed.pub", VT_EKEYPARSE, "compressed"},
        };
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                memset(&d, 0, sizeof(d));
                print_message("refusing %s\n", cases[i].file);
                (void)load_key(cases[i].file, NULL, cases[i].err, &d);
                assert_non_null(strstr(d.msg, cases[i].msg));
                /* The diagnostic names the file first. */
                assert_non_null(strstr(d.msg, cases[i].file));
                assert_int_equal(d.msg[0], '\'');
        }
}

static void encrypted_keys(void **state)
{
        static const struct {
                const char *enc, *plain;
        } cases[] = {{"ed25519-enc.key", "ed25519.key"}, {"p256-enc.key", "p256.key"}};
        struct vt_crypto_key *k, *plain;
        struct vt_diag d;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                memset(&d, 0, sizeof(d));
                (void)load_key(cases[i].enc, NULL, VT_EKEYENC, &d);
                assert_non_null(strstr(d.msg, "key is encrypted; set VERITRAIL_KEY_PASSPHRASE"));
                (void)load_key(cases[i].enc, "wrong horse", VT_EKEYENC, &d);
                assert_non_null(strstr(d.msg, "passphrase"));
                k = load_key(cases[i].enc, "correct-horse", 0, NULL);
                plain = load_key(cases[i].plain, NULL, 0, NULL);
                assert_true(vt_crypto_key_is_private(k));
                assert_string_equal(vt_crypto_key_id(k), vt_crypto_key_id(plain));
                vt_crypto_key_free(k);
                vt_crypto_key_free(plain);
                /* A passphrase given for a plain key is ignored. */
                plain = load_key(cases[i].plain, "unused", 0, NULL);
                vt_crypto_key_free(plain);
        }
}

static void openssl_genpkey_at_run_time(void **state)
{
        char dir[] = "/tmp/vt-test-keys.XXXXXX", cmd[1024], path[600];
        struct vt_crypto_key *k = NULL, *pub = NULL;
        int rc;

        (void)state;
        if (system("openssl version >/dev/null 2>&1") != 0) {
                print_message("SKIPPED: %s: no openssl command\n", __func__);
                skip();
        }
        assert_non_null(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd),
                 "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/k.pem "
                 "2>/dev/null && openssl pkey -in %s/k.pem -pubout -out %s/p.pem",
                 dir, dir, dir);
        rc = system(cmd);
        assert_int_equal(rc, 0);
        snprintf(path, sizeof(path), "%s/k.pem", dir);
        assert_int_equal(vt_crypto_key_load_file(path, NULL, &k, NULL), 0);
        snprintf(path, sizeof(path), "%s/p.pem", dir);
        assert_int_equal(vt_crypto_key_load_file(path, NULL, &pub, NULL), 0);
        assert_string_equal(vt_crypto_key_id(k), vt_crypto_key_id(pub));
        vt_crypto_key_free(k);
        vt_crypto_key_free(pub);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* ---- malformed PEM ---- */

static const char ed_pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                                 "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
                                 "-----END PUBLIC KEY-----\n";

static void corrupt_pem_refused(void **state)
{
        static const struct {
                const char *what, *pem;
                int err;
        } cases[] = {
            {"empty", "", VT_EKEYPARSE},
            {"not PEM", "hello\n", VT_EKEYPARSE},
            {"text before",
             "key:\n-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"no end line",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n",
             VT_EKEYPARSE},
            {"bad base64",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR!=\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"truncated DER",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"trailing DER byte",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"Ed25519 key 33 bytes",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCswBQYDK2VwAyIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"PEM header",
             "-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"second key",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
             "-----END PUBLIC KEY-----\n"
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
             "-----END PUBLIC KEY-----\n",
             VT_EKEYPARSE},
            {"trailing garbage",
             "-----BEGIN PUBLIC KEY-----\n"
             "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
             "-----END PUBLIC KEY-----\ngarbage\n",
             VT_EKEYPARSE},
            {"a certificate", "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
             VT_EKEYPARSE},
            {"RSA label", "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n",
             VT_EKEYTYPE},
            {"private key body not PKCS#8",
             "-----BEGIN PRIVATE KEY-----\nMAA=\n"
             "-----END PRIVATE KEY-----\n",
             VT_EKEYPARSE},
            {"encrypted body not PKCS#8",
             "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n"
             "-----END ENCRYPTED PRIVATE KEY-----\n",
             VT_EKEYPARSE},
        };
        struct vt_crypto_key *k;
        struct vt_diag d;
        size_t i;
        int err;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                k = (struct vt_crypto_key *)&k; /* untouched on failure */
                memset(&d, 0, sizeof(d));
                /* The passphrase only matters for the encrypted case. */
                err = load_text(cases[i].pem, "pass", &k, &d);
                print_message("%s: %d %s\n", cases[i].what, err, d.msg);
                assert_int_equal(err, cases[i].err);
                assert_ptr_equal(k, (struct vt_crypto_key *)&k);
                assert_true(d.msg[0] != '\0');
                assert_int_equal(ERR_peek_error(), 0);
        }
}

static void pem_white_space_and_limits(void **state)
{
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {""};
        char buf[VT_CRYPTO_PEM_MAX + 2];

        (void)state;
        /* Surrounding white space and CRLF lines are fine. */
        snprintf(buf, sizeof(buf), "\n  %s\n\n", ed_pub_pem);
        assert_int_equal(load_text(buf, NULL, &k, NULL), 0);
        vt_crypto_key_free(k);
        k = NULL;
        assert_int_equal(
            load_text("-----BEGIN PUBLIC KEY-----\r\n"
                      "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\r\n"
                      "-----END PUBLIC KEY-----\r\n",
                      NULL, &k, NULL),
            0);
        vt_crypto_key_free(k);
        k = NULL;
        /* Past the size limit. */
        memset(buf, '\n', sizeof(buf));
        memcpy(buf, ed_pub_pem, strlen(ed_pub_pem));
        assert_int_equal(
            vt_crypto_key_load_pem((uint8_t *)buf, VT_CRYPTO_PEM_MAX + 1, NULL, &k, &d),
            VT_ETOOBIG);
        assert_null(k);
        assert_int_equal(vt_crypto_key_load_pem((uint8_t *)buf, VT_CRYPTO_PEM_MAX, NULL, &k, &d),
                         0);
        vt_crypto_key_free(k);
}

static void load_file_missing(void **state)
{
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(vt_crypto_key_load_file("/nonexistent/x.key", NULL, &k, &d), VT_ENOENT);
        assert_null(k);
        assert_non_null(strstr(d.msg, "'/nonexistent/x.key'"));
}

/* argv[1], if given, selects tests by name (cmocka pattern: '*' and '?'). */
int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(sha256_empty),
            cmocka_unit_test(sha256_fips_vectors),
            cmocka_unit_test(sha256_gathered_equals_contiguous),
            cmocka_unit_test(sha256_file_streams),
            cmocka_unit_test(sha256_threads),
            cmocka_unit_test(key_types),
            cmocka_unit_test(ed25519_sign_verify),
            cmocka_unit_test(ecdsa_sign_verify),
            cmocka_unit_test(generate_unknown_type),
            cmocka_unit_test(ecdsa_raw_signature_accepted),
            cmocka_unit_test(ed25519_noncanonical_signature_rejected),
            cmocka_unit_test(ed25519_rfc8032_test1),
            cmocka_unit_test(ed25519_from_raw_rejects_bad_points),
            cmocka_unit_test(key_id_is_sha256_of_spki),
            cmocka_unit_test(ed25519_spki_matches_openssl),
            cmocka_unit_test(pem_round_trip),
            cmocka_unit_test(openssl_keys_load),
            cmocka_unit_test(unsupported_keys_refused),
            cmocka_unit_test(encrypted_keys),
            cmocka_unit_test(openssl_genpkey_at_run_time),
            cmocka_unit_test(corrupt_pem_refused),
            cmocka_unit_test(pem_white_space_and_limits),
            cmocka_unit_test(load_file_missing),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
