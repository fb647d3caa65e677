/*
 * crypto.h: SHA-256 (OpenSSL EVP), Ed25519 (libsodium), ECDSA P-256
 * (OpenSSL), PEM key files (PKCS#8 private, SPKI public) and key ids.
 *
 * A key id is the lowercase hex SHA-256 of the key's SubjectPublicKeyInfo
 * DER (DESIGN.md §4), the same for a private key and its public half.
 * No primitive is implemented here: this module only adapts the libraries.
 */
#ifndef VT_CRYPTO_H
#define VT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/util.h"

#define VT_CRYPTO_HASH_LEN  32
#define VT_CRYPTO_KEYID_LEN 64    /* hex characters, without the NUL */
#define VT_CRYPTO_SIG_MAX   72    /* an ECDSA P-256 DER signature at most */
#define VT_CRYPTO_PEM_MAX   16384 /* key files larger than this are refused */

/* A SHA-256 value, caller-owned. */
struct vt_hash {
        uint8_t b[VT_CRYPTO_HASH_LEN];
};

/* A byte span for gathered hashing. */
struct vt_span {
        const uint8_t *p;
        size_t len;
};

/*
 * vt_crypto_sha256(p, n, out): out = SHA-256(p[0..n)). Cannot fail on any
 * input. Each thread reuses one EVP context (no allocation per call); should
 * the first use in a process or thread find no memory or no OpenSSL default
 * provider, the process aborts, as there is no way to hash at all. The same
 * holds for vt_crypto_sha256_v().
 */
void vt_crypto_sha256(const uint8_t *p, size_t n, struct vt_hash *out);

/*
 * vt_crypto_sha256_v(parts, nparts, out): SHA-256 of the concatenation of
 * the spans, without copying them together. Cannot fail.
 */
void vt_crypto_sha256_v(const struct vt_span *parts, size_t nparts, struct vt_hash *out);

/*
 * vt_crypto_sha256_fd(fd, out, nbytes, d): SHA-256 of everything readable
 * from fd, streamed in fixed-size chunks (memory stays flat for files of any
 * size). nbytes (may be NULL) receives the length. 0 or VT_EIO.
 */
int vt_crypto_sha256_fd(int fd, struct vt_hash *out, uint64_t *nbytes, struct vt_diag *d);

/*
 * vt_crypto_sha256_file(path, out, nbytes, d): as above for a path ("-" is
 * stdin); VT_ENOENT when the file does not exist.
 */
int vt_crypto_sha256_file(const char *path, struct vt_hash *out, uint64_t *nbytes,
                          struct vt_diag *d);

/* Key types. */
#define VT_CRYPTO_KEY_ED25519    1
#define VT_CRYPTO_KEY_ECDSA_P256 2

/* An opaque key: the public half always, the private half when loaded or made. */
struct vt_crypto_key;

/*
 * vt_crypto_key_type_parse(name): "ed25519" or "ecdsa-p256" to a type, or 0.
 * vt_crypto_key_type_name(type): the inverse ("unknown" otherwise).
 */
int vt_crypto_key_type_parse(const char *name);
const char *vt_crypto_key_type_name(int type);

/* vt_crypto_key_generate(type, out, d): a fresh private key. 0, VT_EKEYTYPE. */
int vt_crypto_key_generate(int type, struct vt_crypto_key **out, struct vt_diag *d);

/*
 * vt_crypto_key_load_pem(pem, n, passphrase, out, d): parse one PEM key:
 * "PRIVATE KEY" (PKCS#8), "ENCRYPTED PRIVATE KEY" (needs passphrase, may be
 * NULL otherwise) or "PUBLIC KEY" (SPKI), Ed25519 or EC P-256 with a named
 * curve. Returns VT_EKEYPARSE for malformed PEM or DER, VT_EKEYTYPE for any
 * other algorithm or curve, VT_EKEYENC for an encrypted key without a (right)
 * passphrase, VT_ETOOBIG past VT_CRYPTO_PEM_MAX. *out is set only on success.
 * Strict: the input is exactly one PEM block with only white space before
 * and after it (text before it, a second block or trailing garbage is
 * VT_EKEYPARSE), without PEM headers; the DER must be canonical (it
 * re-encodes to the same bytes); an EC public point must be uncompressed.
 * Legacy labels ("EC PRIVATE KEY", "RSA PRIVATE KEY") are refused: RSA and
 * DSA with VT_EKEYTYPE, the rest with VT_EKEYPARSE and a hint to convert to
 * PKCS#8. Ed25519 public keys must be valid points of the main subgroup.
 */
int vt_crypto_key_load_pem(const uint8_t *pem, size_t n, const char *passphrase,
                           struct vt_crypto_key **out, struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_crypto_key_load_file(path, passphrase, out, d): read path (at most
 * VT_CRYPTO_PEM_MAX bytes) and load it; the diagnostic names the file.
 */
int vt_crypto_key_load_file(const char *path, const char *passphrase, struct vt_crypto_key **out,
                            struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_crypto_key_from_ed25519(pk, out): a public Ed25519 key from its 32 raw
 * bytes (as carried in signed-note verifier keys). 0 or VT_EKEYPARSE.
 */
int vt_crypto_key_from_ed25519(const uint8_t pk[32], struct vt_crypto_key **out);

/* vt_crypto_key_free(k): free k, wiping its secret. NULL is a no-op. */
void vt_crypto_key_free(struct vt_crypto_key *k);

/* vt_crypto_key_type(k): VT_CRYPTO_KEY_*. */
int vt_crypto_key_type(const struct vt_crypto_key *k);

/* vt_crypto_key_is_private(k): 1 when k can sign. */
int vt_crypto_key_is_private(const struct vt_crypto_key *k);

/* vt_crypto_key_id(k): the key id, 64 lowercase hex characters, owned by k. */
const char *vt_crypto_key_id(const struct vt_crypto_key *k);

/* vt_crypto_key_ed25519_public(k): the 32 raw public bytes, or NULL if not Ed25519. */
const uint8_t *vt_crypto_key_ed25519_public(const struct vt_crypto_key *k);

/* vt_crypto_key_spki_der(k, out): append the SubjectPublicKeyInfo DER to out. */
int vt_crypto_key_spki_der(const struct vt_crypto_key *k, struct vt_buf *out);

/* vt_crypto_key_public_pem(k, out): append the "PUBLIC KEY" PEM to out. */
int vt_crypto_key_public_pem(const struct vt_crypto_key *k, struct vt_buf *out);

/*
 * vt_crypto_key_private_pem(k, out): append the unencrypted PKCS#8
 * "PRIVATE KEY" PEM to out; the caller wipes out with vt_buf_wipe().
 * VT_ENOTPRIV for a public key.
 */
int vt_crypto_key_private_pem(const struct vt_crypto_key *k, struct vt_buf *out);

/*
 * vt_crypto_key_sign(k, msg, n, sig, siglen): sign msg. Ed25519 (RFC 8032,
 * pure) writes 64 bytes; ECDSA P-256 signs SHA-256(msg) and writes ASN.1 DER
 * (at most VT_CRYPTO_SIG_MAX bytes). sig must hold VT_CRYPTO_SIG_MAX bytes.
 * 0, VT_ENOTPRIV, VT_EINTERNAL.
 */
int vt_crypto_key_sign(const struct vt_crypto_key *k, const uint8_t *msg, size_t n, uint8_t *sig,
                       size_t *siglen);

/*
 * vt_crypto_key_verify(k, msg, n, sig, siglen): 0 if sig is a valid
 * signature of msg by k, else VT_EBADSIG. ECDSA accepts DER and raw r||s
 * (64 bytes); Ed25519 rejects non-canonical signatures (libsodium).
 */
int vt_crypto_key_verify(const struct vt_crypto_key *k, const uint8_t *msg, size_t n,
                         const uint8_t *sig, size_t siglen) VT_WARN_UNUSED;

#endif
