/*
 * key.c: signing keys. Ed25519 (RFC 8032, pure) through libsodium; ECDSA
 * P-256 with SHA-256 (FIPS 186-4, signatures as the ASN.1 DER of RFC 3279
 * §2.2.3) and every file format through OpenSSL 3: PEM (RFC 7468), PKCS#8
 * PrivateKeyInfo and EncryptedPrivateKeyInfo (RFC 5208/5958), SPKI (RFC 5280
 * §4.1.2.7), Ed25519 algorithm identifiers (RFC 8410), EC named curves (RFC
 * 5480).
 *
 * Invariants of a struct vt_crypto_key, fixed when it is made:
 *   - type is VT_CRYPTO_KEY_ED25519 or VT_CRYPTO_KEY_ECDSA_P256;
 *   - spki holds the canonical SubjectPublicKeyInfo DER and id the lowercase
 *     hex SHA-256 of it (the key id of DESIGN.md §4);
 *   - Ed25519: ed_pk is the raw public key, and for a private key ed_sk is
 *     libsodium's 64-byte secret (seed || pk) derived from the PKCS#8 seed
 *     with crypto_sign_seed_keypair(). No OpenSSL object is kept, so sign
 *     and verify run at libsodium's speed with no allocation;
 *   - ECDSA: pkey is an OpenSSL EC key on the named curve prime256v1 whose
 *     public point encodes uncompressed, so the key id does not depend on how
 *     a file happened to encode the point.
 * The key is immutable after it is made, so threads may share it.
 *
 * Loading is strict (STYLE.md "parse strictly"): exactly one PEM block with
 * only white space around it, no PEM headers, DER that re-encodes to the same
 * bytes, and only the two algorithms above. Every path clears the OpenSSL
 * error queue before returning, so no error leaks into a later call.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "veritrail/crypto.h"
#include "crypto/crypto_int.h"

#define ED25519_PK_LEN   32
#define ED25519_SEED_LEN 32
#define ED25519_SIG_LEN  64
#define P256_RAW_SIG_LEN 64

struct vt_crypto_key {
        int type;
        int priv;
        EVP_PKEY *pkey;                            /* ECDSA only */
        uint8_t ed_pk[ED25519_PK_LEN];             /* Ed25519 only */
        uint8_t ed_sk[crypto_sign_SECRETKEYBYTES]; /* Ed25519 private only */
        uint8_t *spki;
        size_t spki_len;
        char id[VT_CRYPTO_KEYID_LEN + 1];
};

/* libsodium must be initialised before use; sodium_init() is idempotent. */
static int crypto_ready(struct vt_diag *d)
{
        if (sodium_init() < 0) {
                vt_diag_set(d, "cannot initialise libsodium");
                return VT_EINTERNAL;
        }
        return 0;
}

/* see crypto.h */
int vt_crypto_key_type_parse(const char *name)
{
        if (name == NULL)
                return 0;
        if (strcmp(name, "ed25519") == 0)
                return VT_CRYPTO_KEY_ED25519;
        if (strcmp(name, "ecdsa-p256") == 0)
                return VT_CRYPTO_KEY_ECDSA_P256;
        return 0;
}

/* see crypto.h */
const char *vt_crypto_key_type_name(int type)
{
        switch (type) {
        case VT_CRYPTO_KEY_ED25519:
                return "ed25519";
        case VT_CRYPTO_KEY_ECDSA_P256:
                return "ecdsa-p256";
        }
        return "unknown";
}

/* see crypto.h */
void vt_crypto_key_free(struct vt_crypto_key *k)
{
        if (k == NULL)
                return;
        EVP_PKEY_free(k->pkey); /* OpenSSL clears EC private scalars itself */
        free(k->spki);
        sodium_memzero(k, sizeof(*k));
        free(k);
}

/* Fill in spki (a copy of der, len bytes) and id (the SHA-256 of it, in hex). */
static int key_set_id(struct vt_crypto_key *k, const unsigned char *der, size_t len,
                      struct vt_diag *d)
{
        static const char hex[] = "0123456789abcdef";
        struct vt_hash h;
        int i;

        if ((k->spki = malloc(len)) == NULL) {
                vt_diag_set(d, "out of memory");
                return VT_ENOMEM;
        }
        memcpy(k->spki, der, len);
        k->spki_len = len;
        vt_crypto_sha256(k->spki, k->spki_len, &h);
        for (i = 0; i < VT_CRYPTO_HASH_LEN; i++) {
                k->id[2 * i] = hex[h.b[i] >> 4];
                k->id[2 * i + 1] = hex[h.b[i] & 15];
        }
        k->id[VT_CRYPTO_KEYID_LEN] = '\0';
        return 0;
}

/*
 * Fill in spki and id from pub (any EVP_PKEY with the public half); k owns
 * nothing from pub afterwards.
 */
static int key_set_spki(struct vt_crypto_key *k, EVP_PKEY *pub, struct vt_diag *d)
{
        unsigned char *der = NULL;
        int len, err;

        if ((len = i2d_PUBKEY(pub, &der)) <= 0) {
                vt_diag_set(d, "cannot encode the public key");
                return VT_EINTERNAL;
        }
        err = key_set_id(k, der, (size_t)len, d);
        OPENSSL_free(der);
        return err;
}

/*
 * An Ed25519 SubjectPublicKeyInfo has one DER encoding (RFC 8410 §4: the
 * algorithm id-Ed25519, 1.3.101.112, without parameters), so it is this
 * prefix and the key: what i2d_PUBKEY writes, without building an OpenSSL
 * key and an encoder for it (most of the cost of reading a key, which an
 * offline verifier does for every log key it is given).
 */
static const unsigned char ed25519_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                      0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

/* An Ed25519 key from its public half (seed NULL) or its 32-byte seed. */
static int ed25519_make(const uint8_t *pk, const uint8_t *seed, struct vt_crypto_key **out,
                        struct vt_diag *d)
{
        unsigned char spki[sizeof(ed25519_spki_prefix) + ED25519_PK_LEN];
        struct vt_crypto_key *k;
        int err;

        if ((k = calloc(1, sizeof(*k))) == NULL) {
                vt_diag_set(d, "out of memory");
                return VT_ENOMEM;
        }
        k->type = VT_CRYPTO_KEY_ED25519;
        if (seed != NULL) {
                /* libsodium's secret key is seed || pk (RFC 8032 §5.1.5). */
                if (crypto_sign_seed_keypair(k->ed_pk, k->ed_sk, seed) != 0) {
                        vt_diag_set(d, "cannot derive the Ed25519 key pair");
                        err = VT_EINTERNAL;
                        goto fail;
                }
                k->priv = 1;
        } else {
                /* A canonical point of the main subgroup; anything else can never verify. */
                if (crypto_core_ed25519_is_valid_point(pk) != 1) {
                        vt_diag_set(d, "Ed25519 public key is not a valid curve point");
                        err = VT_EKEYPARSE;
                        goto fail;
                }
                memcpy(k->ed_pk, pk, ED25519_PK_LEN);
        }
        memcpy(spki, ed25519_spki_prefix, sizeof(ed25519_spki_prefix));
        memcpy(spki + sizeof(ed25519_spki_prefix), k->ed_pk, ED25519_PK_LEN);
        if ((err = key_set_id(k, spki, sizeof(spki), d)) != 0)
                goto fail;
        *out = k;
        return 0;
fail:
        vt_crypto_key_free(k);
        ERR_clear_error();
        return err;
}

/*
 * Check that an EC key is on the named curve P-256 (RFC 5480 namedCurve,
 * never specifiedCurve). For a public key the point must be uncompressed
 * (the file's SPKI is what the key id hashes); a private key is switched to
 * uncompressed output so its id matches its public file's.
 */
static int ec_check(EVP_PKEY *pkey, int priv, struct vt_diag *d)
{
        char buf[80];
        size_t len = 0;

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, buf, sizeof(buf),
                                           &len) != 1 ||
            strcmp(buf, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
                vt_diag_set(d, "unsupported EC key with explicit curve parameters (only the "
                               "named curve P-256 is supported)");
                return VT_EKEYTYPE;
        }
        if (EVP_PKEY_get_group_name(pkey, buf, sizeof(buf), &len) != 1) {
                vt_diag_set(d, "unsupported EC key without a curve name");
                return VT_EKEYTYPE;
        }
        if (OBJ_sn2nid(buf) != NID_X9_62_prime256v1) {
                vt_diag_set(d, "unsupported curve '%s' (only P-256 is supported)", buf);
                return VT_EKEYTYPE;
        }
        if (priv) {
                if (EVP_PKEY_set_utf8_string_param(
                        pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                        OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
                        vt_diag_set(d, "cannot set the EC point format");
                        return VT_EINTERNAL;
                }
        } else if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                  buf, sizeof(buf), &len) != 1 ||
                   strcmp(buf, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0) {
                vt_diag_set(d, "EC public key uses a compressed point (want uncompressed)");
                return VT_EKEYPARSE;
        }
        return 0;
}

/* An ECDSA key around pkey (taken over on success only). */
static int ec_make(EVP_PKEY *pkey, int priv, struct vt_crypto_key **out, struct vt_diag *d)
{
        struct vt_crypto_key *k = NULL;
        EVP_PKEY_CTX *pc = NULL;
        int err;

        if ((err = ec_check(pkey, priv, d)) != 0)
                goto fail;
        /* Private: scalar in range and public point = scalar * G. Public: valid point. */
        if ((pc = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL) {
                vt_diag_set(d, "out of memory");
                err = VT_ENOMEM;
                goto fail;
        }
        if ((priv ? EVP_PKEY_check(pc) : EVP_PKEY_public_check(pc)) != 1) {
                vt_diag_set(d, "EC key fails its consistency check");
                err = VT_EKEYPARSE;
                goto fail;
        }
        if ((k = calloc(1, sizeof(*k))) == NULL) {
                vt_diag_set(d, "out of memory");
                err = VT_ENOMEM;
                goto fail;
        }
        k->type = VT_CRYPTO_KEY_ECDSA_P256;
        k->priv = priv;
        if ((err = key_set_spki(k, pkey, d)) != 0)
                goto fail;
        k->pkey = pkey;
        EVP_PKEY_CTX_free(pc);
        *out = k;
        return 0;
fail:
        EVP_PKEY_CTX_free(pc);
        vt_crypto_key_free(k);
        ERR_clear_error();
        return err;
}

/* see crypto.h */
int vt_crypto_key_generate(int type, struct vt_crypto_key **out, struct vt_diag *d)
{
        uint8_t seed[ED25519_SEED_LEN];
        EVP_PKEY *pkey;
        int err;

        if ((err = crypto_ready(d)) != 0)
                return err;
        switch (type) {
        case VT_CRYPTO_KEY_ED25519:
                randombytes_buf(seed, sizeof(seed));
                err = ed25519_make(NULL, seed, out, d);
                sodium_memzero(seed, sizeof(seed));
                return err;
        case VT_CRYPTO_KEY_ECDSA_P256:
                if ((pkey = EVP_EC_gen("P-256")) == NULL) {
                        ERR_clear_error();
                        vt_diag_set(d, "cannot generate an ECDSA P-256 key");
                        return VT_EINTERNAL;
                }
                if ((err = ec_make(pkey, 1, out, d)) != 0)
                        EVP_PKEY_free(pkey);
                return err;
        }
        vt_diag_set(d, "unsupported key type %d", type);
        return VT_EKEYTYPE;
}

/* see crypto.h */
int vt_crypto_key_from_ed25519(const uint8_t pk[32], struct vt_crypto_key **out)
{
        int err;

        if ((err = crypto_ready(NULL)) != 0)
                return err;
        return ed25519_make(pk, NULL, out, NULL);
}

/*
 * A readable name for an algorithm we refuse: "unsupported key type 'RSA'".
 * Only names, never parsing: a refused key is not decoded at all.
 */
static void unsupported_alg(const ASN1_OBJECT *alg, struct vt_diag *d)
{
        static const struct {
                int nid;
                const char *name;
        } names[] = {
            {NID_rsaEncryption, "RSA"}, {NID_rsassaPss, "RSA-PSS"}, {NID_dsa, "DSA"},
            {NID_ED448, "Ed448"},       {NID_X25519, "X25519"},     {NID_X448, "X448"},
            {NID_dhKeyAgreement, "DH"}, {NID_dhpublicnumber, "DH"}, {NID_sm2, "SM2"},
        };
        char txt[80];
        int nid = OBJ_obj2nid(alg);
        size_t i;

        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (names[i].nid == nid) {
                        vt_diag_set(d, "unsupported key type '%s'", names[i].name);
                        return;
                }
        }
        if (OBJ_obj2txt(txt, sizeof(txt), alg, 0) <= 0)
                snprintf(txt, sizeof(txt), "?");
        vt_diag_set(d, "unsupported key type '%s'", txt);
}

/* Our two algorithms: Ed25519 (RFC 8410) and id-ecPublicKey (RFC 5480). */
static int alg_supported(const ASN1_OBJECT *alg)
{
        int nid = OBJ_obj2nid(alg);

        return nid == NID_ED25519 || nid == NID_X9_62_id_ecPublicKey;
}

/* A PKCS#8 PrivateKeyInfo (already parsed) to a key. */
static int load_p8(const PKCS8_PRIV_KEY_INFO *p8, struct vt_crypto_key **out, struct vt_diag *d)
{
        const ASN1_OBJECT *alg = NULL;
        uint8_t seed[ED25519_SEED_LEN];
        size_t seedlen = sizeof(seed);
        EVP_PKEY *pkey = NULL;
        int err;

        if (PKCS8_pkey_get0(&alg, NULL, NULL, NULL, p8) != 1 || alg == NULL) {
                vt_diag_set(d, "malformed private key");
                return VT_EKEYPARSE;
        }
        if (!alg_supported(alg)) {
                unsupported_alg(alg, d);
                return VT_EKEYTYPE;
        }
        if ((pkey = EVP_PKCS82PKEY(p8)) == NULL) {
                vt_diag_set(d, "malformed private key");
                return VT_EKEYPARSE;
        }
        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
                if (EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen) != 1 ||
                    seedlen != sizeof(seed)) {
                        vt_diag_set(d, "malformed Ed25519 private key");
                        err = VT_EKEYPARSE;
                } else {
                        err = ed25519_make(NULL, seed, out, d);
                }
                sodium_memzero(seed, sizeof(seed));
                EVP_PKEY_free(pkey);
                return err;
        }
        if ((err = ec_make(pkey, 1, out, d)) != 0)
                EVP_PKEY_free(pkey);
        return err;
}

/* DER PrivateKeyInfo: one structure, all bytes used, canonical. */
static int load_private_der(const uint8_t *der, size_t n, struct vt_crypto_key **out,
                            struct vt_diag *d)
{
        const unsigned char *p = der;
        PKCS8_PRIV_KEY_INFO *p8;
        unsigned char *enc = NULL;
        int len, err;

        p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n);
        if (p8 == NULL || p != der + n) {
                PKCS8_PRIV_KEY_INFO_free(p8);
                vt_diag_set(d, "malformed PKCS#8 private key");
                return VT_EKEYPARSE;
        }
        len = i2d_PKCS8_PRIV_KEY_INFO(p8, &enc);
        if (len < 0 || (size_t)len != n || memcmp(enc, der, n) != 0) {
                vt_diag_set(d, "PKCS#8 private key is not in DER");
                err = VT_EKEYPARSE;
        } else {
                err = load_p8(p8, out, d);
        }
        if (enc != NULL)
                OPENSSL_clear_free(enc, len > 0 ? (size_t)len : 0);
        PKCS8_PRIV_KEY_INFO_free(p8); /* clears the key octets */
        return err;
}

/* DER EncryptedPrivateKeyInfo (PKCS#5 v2 / scrypt, whatever OpenSSL supports). */
static int load_encrypted_der(const uint8_t *der, size_t n, const char *passphrase,
                              struct vt_crypto_key **out, struct vt_diag *d)
{
        const unsigned char *p = der;
        PKCS8_PRIV_KEY_INFO *p8 = NULL;
        X509_SIG *sig;
        size_t plen;
        int err;

        if (passphrase == NULL) {
                vt_diag_set(d, "key is encrypted; set VERITRAIL_KEY_PASSPHRASE");
                return VT_EKEYENC;
        }
        sig = d2i_X509_SIG(NULL, &p, (long)n);
        if (sig == NULL || p != der + n) {
                X509_SIG_free(sig);
                vt_diag_set(d, "malformed encrypted PKCS#8 private key");
                return VT_EKEYPARSE;
        }
        plen = strlen(passphrase);
        if (plen > INT_MAX || (p8 = PKCS8_decrypt(sig, passphrase, (int)plen)) == NULL) {
                /* A wrong passphrase shows as bad padding or an undecodable result. */
                vt_diag_set(d, "cannot decrypt the key: wrong passphrase");
                err = VT_EKEYENC;
        } else {
                err = load_p8(p8, out, d);
        }
        PKCS8_PRIV_KEY_INFO_free(p8);
        X509_SIG_free(sig);
        return err;
}

/* DER SubjectPublicKeyInfo: one structure, all bytes used, canonical. */
static int load_public_der(const uint8_t *der, size_t n, struct vt_crypto_key **out,
                           struct vt_diag *d)
{
        const unsigned char *p = der;
        ASN1_OBJECT *alg = NULL;
        const void *pval = NULL;
        const unsigned char *raw;
        struct vt_crypto_key *k = NULL;
        X509_ALGOR *algor = NULL;
        X509_PUBKEY *xpk;
        EVP_PKEY *pkey = NULL;
        int rawlen, ptype = V_ASN1_UNDEF, err;

        /* X509_PUBKEY keeps unknown algorithms undecoded, so a refusal can name them. */
        xpk = d2i_X509_PUBKEY(NULL, &p, (long)n);
        if (xpk == NULL || p != der + n ||
            X509_PUBKEY_get0_param(&alg, &raw, &rawlen, &algor, xpk) != 1 || alg == NULL) {
                vt_diag_set(d, "malformed public key");
                err = VT_EKEYPARSE;
                goto out;
        }
        if (!alg_supported(alg)) {
                unsupported_alg(alg, d);
                err = VT_EKEYTYPE;
                goto out;
        }
        if (OBJ_obj2nid(alg) == NID_ED25519) {
                /* RFC 8410 §3: parameters absent; §4: the 32 raw bytes. */
                X509_ALGOR_get0(NULL, &ptype, &pval, algor);
                if (ptype != V_ASN1_UNDEF || rawlen != ED25519_PK_LEN) {
                        vt_diag_set(d, "malformed Ed25519 public key");
                        err = VT_EKEYPARSE;
                        goto out;
                }
                if ((err = ed25519_make(raw, NULL, &k, d)) != 0)
                        goto out;
        } else {
                if ((pkey = X509_PUBKEY_get(xpk)) == NULL) {
                        vt_diag_set(d, "malformed EC public key");
                        err = VT_EKEYPARSE;
                        goto out;
                }
                if ((err = ec_make(pkey, 0, &k, d)) != 0)
                        goto out;
                pkey = NULL; /* k owns it now */
        }
        /* The key id hashes our encoding, so the file's must be the same bytes. */
        if (k->spki_len != n || memcmp(k->spki, der, n) != 0) {
                vt_diag_set(d, "public key is not in DER");
                err = VT_EKEYPARSE;
                goto out;
        }
        *out = k;
        k = NULL;
        err = 0;
out:
        vt_crypto_key_free(k);
        EVP_PKEY_free(pkey);
        X509_PUBKEY_free(xpk);
        return err;
}

/* Refused PEM labels that name an algorithm: say which. */
static const char *label_algorithm(const char *name)
{
        if (strcmp(name, "RSA PRIVATE KEY") == 0 || strcmp(name, "RSA PUBLIC KEY") == 0)
                return "RSA";
        if (strcmp(name, "DSA PRIVATE KEY") == 0)
                return "DSA";
        return NULL;
}

/* Only white space (as PEM files may end with blank lines) in p[0..n)? */
static int all_space(const uint8_t *p, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
                        return 0;
        return 1;
}

/* see crypto.h */
int vt_crypto_key_load_pem(const uint8_t *pem, size_t n, const char *passphrase,
                           struct vt_crypto_key **out, struct vt_diag *d)
{
        static const char begin[] = "-----BEGIN ";
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        struct vt_crypto_key *k = NULL;
        const char *alg;
        BIO *bio = NULL;
        size_t skip = 0;
        long derlen = 0;
        char *rest;
        long restlen;
        int err;

        if (n > VT_CRYPTO_PEM_MAX) {
                vt_diag_set(d, "key file is larger than the limit of %d bytes", VT_CRYPTO_PEM_MAX);
                return VT_ETOOBIG;
        }
        if ((err = crypto_ready(d)) != 0)
                return err;
        ERR_clear_error();

        /* Exactly one PEM block (RFC 7468), only white space around it. */
        while (skip < n && all_space(pem + skip, 1))
                skip++;
        if (n - skip < sizeof(begin) - 1 || memcmp(pem + skip, begin, sizeof(begin) - 1) != 0) {
                vt_diag_set(d, "not a PEM key: no '-----BEGIN' line");
                err = VT_EKEYPARSE;
                goto out;
        }
        if ((bio = BIO_new_mem_buf(pem + skip, (int)(n - skip))) == NULL) {
                vt_diag_set(d, "out of memory");
                err = VT_ENOMEM;
                goto out;
        }
        if (PEM_read_bio_ex(bio, &name, &header, &der, &derlen,
                            PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) != 1) {
                vt_diag_set(d, "malformed PEM");
                err = VT_EKEYPARSE;
                goto out;
        }
        restlen = BIO_get_mem_data(bio, &rest);
        if (restlen > 0 && !all_space((const uint8_t *)rest, (size_t)restlen)) {
                vt_diag_set(d, "unexpected data after the PEM block (one key per file)");
                err = VT_EKEYPARSE;
                goto out;
        }
        if (header[0] != '\0') {
                vt_diag_set(d, "PEM headers are not supported (legacy encryption?)");
                err = VT_EKEYPARSE;
                goto out;
        }

        if (strcmp(name, "PRIVATE KEY") == 0) {
                err = load_private_der(der, (size_t)derlen, &k, d);
        } else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
                err = load_encrypted_der(der, (size_t)derlen, passphrase, &k, d);
        } else if (strcmp(name, "PUBLIC KEY") == 0) {
                err = load_public_der(der, (size_t)derlen, &k, d);
        } else if ((alg = label_algorithm(name)) != NULL) {
                vt_diag_set(d, "unsupported key type '%s'", alg);
                err = VT_EKEYTYPE;
        } else {
                /* SEC1 "EC PRIVATE KEY" and the like: say how to get PKCS#8. */
                size_t nl = strlen(name);
                int priv = nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0;

                vt_diag_set(d,
                            "unsupported PEM block '%.40s' (want PRIVATE KEY, ENCRYPTED PRIVATE "
                            "KEY or PUBLIC KEY%s)",
                            name, priv ? "; convert with 'openssl pkcs8 -topk8'" : "");
                err = VT_EKEYPARSE;
        }
        if (err == 0)
                *out = k;
out:
        if (der != NULL)
                OPENSSL_secure_clear_free(der, (size_t)derlen);
        OPENSSL_secure_free(name);
        OPENSSL_secure_free(header);
        BIO_free(bio);
        ERR_clear_error();
        return err;
}

/* see crypto.h */
int vt_crypto_key_load_file(const char *path, const char *passphrase, struct vt_crypto_key **out,
                            struct vt_diag *d)
{
        struct vt_buf b;
        int err;

        /* vt_util_read_file's diagnostics already name the file; b starts empty. */
        vt_buf_init(&b);
        if ((err = vt_util_read_file(path, VT_CRYPTO_PEM_MAX, &b, d)) != 0) {
                vt_buf_wipe(&b);
                return err;
        }
        if ((err = vt_crypto_key_load_pem(b.p, b.len, passphrase, out, d)) != 0)
                vt_diag_prefix(d, "'%s'", path);
        vt_buf_wipe(&b);
        return err;
}

/* see crypto.h */
int vt_crypto_key_type(const struct vt_crypto_key *k)
{
        return k->type;
}

/* see crypto.h */
int vt_crypto_key_is_private(const struct vt_crypto_key *k)
{
        return k->priv;
}

/* see crypto.h */
const char *vt_crypto_key_id(const struct vt_crypto_key *k)
{
        return k->id;
}

/* see crypto.h */
const uint8_t *vt_crypto_key_ed25519_public(const struct vt_crypto_key *k)
{
        return k->type == VT_CRYPTO_KEY_ED25519 ? k->ed_pk : NULL;
}

/* see crypto.h */
int vt_crypto_key_spki_der(const struct vt_crypto_key *k, struct vt_buf *out)
{
        return vt_buf_append(out, k->spki, k->spki_len);
}

/* Append what a memory BIO holds to out. */
static int bio_to_buf(BIO *bio, struct vt_buf *out)
{
        char *p;
        long len = BIO_get_mem_data(bio, &p);

        if (len <= 0)
                return VT_EINTERNAL;
        return vt_buf_append(out, p, (size_t)len);
}

/* see crypto.h */
int vt_crypto_key_public_pem(const struct vt_crypto_key *k, struct vt_buf *out)
{
        BIO *bio;
        int err = VT_EINTERNAL;

        if ((bio = BIO_new(BIO_s_mem())) == NULL)
                return VT_ENOMEM;
        if (PEM_write_bio(bio, "PUBLIC KEY", "", k->spki, (long)k->spki_len) > 0)
                err = bio_to_buf(bio, out);
        BIO_free(bio);
        ERR_clear_error();
        return err;
}

/* see crypto.h */
int vt_crypto_key_private_pem(const struct vt_crypto_key *k, struct vt_buf *out)
{
        EVP_PKEY *tmp = NULL, *pkey = k->pkey;
        BIO *bio = NULL;
        int err = VT_EINTERNAL;

        if (!k->priv)
                return VT_ENOTPRIV;
        if (k->type == VT_CRYPTO_KEY_ED25519) {
                /* The seed is the first half of libsodium's secret (RFC 8410 §7). */
                tmp = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->ed_sk,
                                                   ED25519_SEED_LEN);
                if ((pkey = tmp) == NULL)
                        goto out;
        }
        /* A secure-heap BIO is cleared when freed. */
        if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if (PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1)
                goto out;
        err = bio_to_buf(bio, out);
out:
        BIO_free(bio);
        EVP_PKEY_free(tmp);
        ERR_clear_error();
        return err;
}

/* see crypto.h */
int vt_crypto_key_sign(const struct vt_crypto_key *k, const uint8_t *msg, size_t n, uint8_t *sig,
                       size_t *siglen)
{
        uint8_t tmp[VT_CRYPTO_SIG_MAX];
        size_t len = sizeof(tmp);
        EVP_MD_CTX *c;
        int err = VT_EINTERNAL;

        if (!k->priv)
                return VT_ENOTPRIV;
        if (k->type == VT_CRYPTO_KEY_ED25519) {
                /* RFC 8032 §5.1.6, deterministic: nothing can fail. */
                crypto_sign_detached(sig, NULL, msg, n, k->ed_sk);
                *siglen = ED25519_SIG_LEN;
                return 0;
        }
        /* ECDSA over SHA-256(msg); OpenSSL writes the DER Ecdsa-Sig-Value. */
        if ((c = EVP_MD_CTX_new()) == NULL)
                return VT_ENOMEM;
        if (EVP_DigestSignInit(c, NULL, vt_crypto_md_sha256(), NULL, k->pkey) == 1 &&
            EVP_DigestSign(c, tmp, &len, msg, n) == 1 && len <= VT_CRYPTO_SIG_MAX) {
                memcpy(sig, tmp, len);
                *siglen = len;
                err = 0;
        }
        EVP_MD_CTX_free(c);
        ERR_clear_error();
        return err;
}

/* 1 if der is a valid DER ECDSA signature of msg by pkey. */
static int ecdsa_verify_der(EVP_PKEY *pkey, const uint8_t *msg, size_t n, const uint8_t *der,
                            size_t len)
{
        EVP_MD_CTX *c;
        int ok = 0;

        if ((c = EVP_MD_CTX_new()) == NULL)
                return 0;
        /* OpenSSL re-encodes the parsed signature and rejects non-DER input. */
        if (EVP_DigestVerifyInit(c, NULL, vt_crypto_md_sha256(), NULL, pkey) == 1 &&
            EVP_DigestVerify(c, der, len, msg, n) == 1)
                ok = 1;
        EVP_MD_CTX_free(c);
        return ok;
}

/* Raw r || s (32 bytes each, big-endian) to DER; 0 or -1. */
static int ecdsa_raw_to_der(const uint8_t raw[P256_RAW_SIG_LEN], uint8_t *der, size_t *len)
{
        BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
        ECDSA_SIG *es = ECDSA_SIG_new();
        unsigned char *p = der;
        int l, ret = -1;

        if (r == NULL || s == NULL || es == NULL)
                goto out;
        if (ECDSA_SIG_set0(es, r, s) != 1)
                goto out;
        r = s = NULL; /* es owns them */
        l = i2d_ECDSA_SIG(es, NULL);
        if (l <= 0 || l > VT_CRYPTO_SIG_MAX + 8)
                goto out;
        if (i2d_ECDSA_SIG(es, &p) != l)
                goto out;
        *len = (size_t)l;
        ret = 0;
out:
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return ret;
}

/* see crypto.h */
int vt_crypto_key_verify(const struct vt_crypto_key *k, const uint8_t *msg, size_t n,
                         const uint8_t *sig, size_t siglen)
{
        uint8_t der[VT_CRYPTO_SIG_MAX + 8];
        size_t derlen;
        int ok = 0;

        if (k->type == VT_CRYPTO_KEY_ED25519) {
                /* libsodium rejects non-canonical S and small-order points. */
                if (siglen != ED25519_SIG_LEN)
                        return VT_EBADSIG;
                return crypto_sign_verify_detached(sig, msg, n, k->ed_pk) == 0 ? 0 : VT_EBADSIG;
        }
        if (siglen == 0 || siglen > VT_CRYPTO_SIG_MAX)
                return VT_EBADSIG;
        /*
         * 64 bytes may be raw r || s (as in JOSE and WebAuthn) or, rarely, DER
         * of that length (SEQUENCE 0x30 0x3e). Try DER only when it says so, then
         * raw: both readings must still be a valid signature by this key.
         */
        if (siglen != P256_RAW_SIG_LEN || (sig[0] == 0x30 && sig[1] == 0x3e))
                ok = ecdsa_verify_der(k->pkey, msg, n, sig, siglen);
        if (!ok && siglen == P256_RAW_SIG_LEN && ecdsa_raw_to_der(sig, der, &derlen) == 0)
                ok = ecdsa_verify_der(k->pkey, msg, n, der, derlen);
        ERR_clear_error();
        return ok ? 0 : VT_EBADSIG;
}
