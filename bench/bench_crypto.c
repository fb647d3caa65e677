/*
 * bench_crypto.c: the crypto module against the libraries it adapts, in the
 * same run: Ed25519 sign and verify through vt_crypto_key_* versus raw
 * libsodium (target ratio >= 0.95), ECDSA P-256 versus raw OpenSSL
 * EVP_DigestSign/EVP_DigestVerify, and SHA-256 of 65 bytes (a Merkle node,
 * RFC 9162 §2.1.1) versus OpenSSL's one-shot EVP_Digest().
 *
 * Each pair is measured in three alternating rounds (limit, ours, limit,
 * ours, ...) of bench_seconds()/3 each and the best round of each side is
 * kept, so a noisy neighbour on the machine hurts both sides alike.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "bench.h"
#include "veritrail/crypto.h"

#define ROUNDS 3

static volatile uint8_t sink;

/* One operation under test; arg is its state. */
/* Operations per second of op over about secs seconds. */
/* Best-of-ROUNDS for both sides, alternating, then one report line. */
static void compare(const char *what, bench_op ours, void *ours_arg, const char *limit_what,
                    bench_op limit, void *limit_arg)
{
        double secs = bench_seconds() / ROUNDS, best_ours = 0, best_limit = 0, r;
        int i;

        for (i = 0; i < ROUNDS; i++) {
                if ((r = bench_measure(limit, limit_arg, secs)) > best_limit)
                        best_limit = r;
                if ((r = bench_measure(ours, ours_arg, secs)) > best_ours)
                        best_ours = r;
        }
        bench_report(what, best_ours, "ops/s", best_limit, limit_what);
}

/* ---- state shared by the operations ---- */

static uint8_t msg[128];
static uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES], ed_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t ed_sig[64], ec_sig[VT_CRYPTO_SIG_MAX];
static size_t ec_siglen;
static struct vt_crypto_key *ed_key, *ec_key, *ec_pub;
static EVP_PKEY *ec_pkey;
static const EVP_MD *md;
static uint8_t node[65];

static void vt_ed_sign(void *a)
{
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        size_t len;

        (void)a;
        if (vt_crypto_key_sign(ed_key, msg, sizeof(msg), sig, &len) != 0)
                abort();
        sink ^= sig[0];
}

static void raw_ed_sign(void *a)
{
        uint8_t sig[64];

        (void)a;
        crypto_sign_detached(sig, NULL, msg, sizeof(msg), ed_sk);
        sink ^= sig[0];
}

static void vt_ed_verify(void *a)
{
        (void)a;
        if (vt_crypto_key_verify(ed_key, msg, sizeof(msg), ed_sig, 64) != 0)
                abort();
}

static void raw_ed_verify(void *a)
{
        (void)a;
        if (crypto_sign_verify_detached(ed_sig, msg, sizeof(msg), ed_pk) != 0)
                abort();
}

static void vt_ec_sign(void *a)
{
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        size_t len;

        (void)a;
        if (vt_crypto_key_sign(ec_key, msg, sizeof(msg), sig, &len) != 0)
                abort();
        sink ^= sig[len - 1];
}

/* What a caller of OpenSSL writes: a context per signature. */
static void raw_ec_sign(void *a)
{
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        size_t len = sizeof(sig);
        EVP_MD_CTX *c = EVP_MD_CTX_new();

        (void)a;
        if (c == NULL || EVP_DigestSignInit(c, NULL, md, NULL, ec_pkey) != 1 ||
            EVP_DigestSign(c, sig, &len, msg, sizeof(msg)) != 1)
                abort();
        EVP_MD_CTX_free(c);
        sink ^= sig[len - 1];
}

static void vt_ec_verify(void *a)
{
        (void)a;
        if (vt_crypto_key_verify(ec_pub, msg, sizeof(msg), ec_sig, ec_siglen) != 0)
                abort();
}

static void raw_ec_verify(void *a)
{
        EVP_MD_CTX *c = EVP_MD_CTX_new();

        (void)a;
        if (c == NULL || EVP_DigestVerifyInit(c, NULL, md, NULL, ec_pkey) != 1 ||
            EVP_DigestVerify(c, ec_sig, ec_siglen, msg, sizeof(msg)) != 1)
                abort();
        EVP_MD_CTX_free(c);
}

static void vt_hash_node(void *a)
{
        struct vt_hash h;

        (void)a;
        vt_crypto_sha256(node, sizeof(node), &h);
        node[1] = h.b[0];
}

static void vt_hash_node_v(void *a)
{
        struct vt_hash h;
        struct vt_span s[3] = {{node, 1}, {node + 1, 32}, {node + 33, 32}};

        (void)a;
        vt_crypto_sha256_v(s, 3, &h);
        node[1] = h.b[0];
}

static void raw_hash_node(void *a)
{
        uint8_t h[32];
        unsigned int len;

        (void)a;
        if (EVP_Digest(node, sizeof(node), h, &len, md, NULL) != 1)
                abort();
        node[1] = h[0];
}

/* The best OpenSSL can do: one context reused (what vt_crypto_sha256 does). */
static void raw_hash_node_ctx(void *a)
{
        EVP_MD_CTX *c = a;
        uint8_t h[32];
        unsigned int len;

        if (EVP_DigestInit_ex2(c, md, NULL) != 1 || EVP_DigestUpdate(c, node, sizeof(node)) != 1 ||
            EVP_DigestFinal_ex(c, h, &len) != 1)
                abort();
        node[1] = h[0];
}

/* A P-256 key as both a raw EVP_PKEY and a vt key (through its PEM). */
static void make_ec_keys(void)
{
        BIO *bio = BIO_new(BIO_s_mem());
        char *pem;
        long len;

        if ((ec_pkey = EVP_EC_gen("P-256")) == NULL || bio == NULL ||
            PEM_write_bio_PrivateKey(bio, ec_pkey, NULL, NULL, 0, NULL, NULL) != 1)
                abort();
        len = BIO_get_mem_data(bio, &pem);
        if (vt_crypto_key_load_pem((uint8_t *)pem, (size_t)len, NULL, &ec_key, NULL) != 0)
                abort();
        BIO_free(bio);
}

int main(void)
{
        struct vt_buf pem;
        EVP_MD *fetched;
        EVP_MD_CTX *ctx;
        uint8_t seed[32];
        size_t len;

        if (sodium_init() < 0)
                abort();
        randombytes_buf(msg, sizeof(msg));
        randombytes_buf(node, sizeof(node));
        if ((fetched = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
            (ctx = EVP_MD_CTX_new()) == NULL)
                abort();
        md = fetched;

        /* The same Ed25519 key on both sides. */
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &ed_key, NULL) != 0)
                abort();
        vt_buf_init(&pem);
        memcpy(ed_pk, vt_crypto_key_ed25519_public(ed_key), sizeof(ed_pk));
        if (vt_crypto_key_private_pem(ed_key, &pem) != 0)
                abort();
        /* Recover the seed from the exported PKCS#8 with OpenSSL, independently of vt. */
        {
                BIO *bio = BIO_new_mem_buf(pem.p, (int)pem.len);
                EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
                len = sizeof(seed);
                if (pk == NULL || EVP_PKEY_get_raw_private_key(pk, seed, &len) != 1)
                        abort();
                EVP_PKEY_free(pk);
                BIO_free(bio);
        }
        vt_buf_wipe(&pem);
        crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
        if (memcmp(ed_pk, vt_crypto_key_ed25519_public(ed_key), sizeof(ed_pk)) != 0)
                abort();
        crypto_sign_detached(ed_sig, NULL, msg, sizeof(msg), ed_sk);

        make_ec_keys();
        vt_buf_init(&pem);
        if (vt_crypto_key_public_pem(ec_key, &pem) != 0 ||
            vt_crypto_key_load_pem(pem.p, pem.len, NULL, &ec_pub, NULL) != 0)
                abort();
        vt_buf_release(&pem);
        if (vt_crypto_key_sign(ec_key, msg, sizeof(msg), ec_sig, &ec_siglen) != 0)
                abort();

        printf("crypto: %.1f s per figure, best of %d alternating rounds\n", bench_seconds(),
               ROUNDS);
        compare("ed25519 sign (vt_crypto_key_sign)", vt_ed_sign, NULL,
                "libsodium crypto_sign_detached", raw_ed_sign, NULL);
        compare("ed25519 verify (vt_crypto_key_verify)", vt_ed_verify, NULL,
                "libsodium crypto_sign_verify_det.", raw_ed_verify, NULL);
        compare("ecdsa-p256 sign (vt_crypto_key_sign)", vt_ec_sign, NULL, "openssl EVP_DigestSign",
                raw_ec_sign, NULL);
        compare("ecdsa-p256 verify (vt_crypto_key_verify)", vt_ec_verify, NULL,
                "openssl EVP_DigestVerify", raw_ec_verify, NULL);
        compare("sha256 65 B (vt_crypto_sha256)", vt_hash_node, NULL, "openssl EVP_Digest one-shot",
                raw_hash_node, NULL);
        compare("sha256 65 B (vt_crypto_sha256_v, 3 spans)", vt_hash_node_v, NULL,
                "openssl EVP_Digest one-shot", raw_hash_node, NULL);
        compare("sha256 65 B (vt_crypto_sha256)", vt_hash_node, NULL, "openssl reused EVP_MD_CTX",
                raw_hash_node_ctx, ctx);

        sodium_memzero(seed, sizeof(seed));
        sodium_memzero(ed_sk, sizeof(ed_sk));
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(fetched);
        EVP_PKEY_free(ec_pkey);
        vt_crypto_key_free(ed_key);
        vt_crypto_key_free(ec_key);
        vt_crypto_key_free(ec_pub);
        return 0;
}
