/*
 * crypto_int.h: what the crypto module's files share and nobody else sees.
 */
#ifndef VT_CRYPTO_INT_H
#define VT_CRYPTO_INT_H

#include <openssl/evp.h>

/*
 * vt_crypto_md_sha256(): the SHA-256 EVP_MD, fetched once for the process
 * (sha256.c). Never NULL: a failed fetch aborts, as for the hash functions.
 */
const EVP_MD *vt_crypto_md_sha256(void);

#endif
