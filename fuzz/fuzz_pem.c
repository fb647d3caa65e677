/*
 * fuzz_pem.c: vt_crypto_key_load_pem() on arbitrary bytes. Whatever loads
 * must behave: its id is 64 hex characters and survives a public (and, for
 * a private key, a private) PEM round trip, and it verifies its own
 * signature. Any mismatch aborts so libFuzzer reports it.
 *
 * The passphrase is always NULL: with one, an input could name a PBKDF2 or
 * scrypt cost large enough to stall the fuzzer; the decryption itself is
 * OpenSSL's and is covered by the unit tests.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reload pem and check it names the same key. */
static void same_key(const struct vt_buf *pem, const struct vt_crypto_key *k, int priv)
{
        struct vt_crypto_key *back = NULL;

        if (vt_crypto_key_load_pem(pem->p, pem->len, NULL, &back, NULL) != 0)
                abort();
        if (strcmp(vt_crypto_key_id(back), vt_crypto_key_id(k)) != 0 ||
            vt_crypto_key_type(back) != vt_crypto_key_type(k) ||
            vt_crypto_key_is_private(back) != priv)
                abort();
        vt_crypto_key_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t msg[] = "fuzz";
        struct vt_crypto_key *k = NULL;
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        struct vt_diag d = {""};
        struct vt_buf pem, der;
        size_t siglen, i;
        const char *id;

        if (vt_crypto_key_load_pem(data, size, NULL, &k, &d) != 0) {
                if (k != NULL || d.msg[0] == '\0')
                        abort();
                return 0;
        }
        id = vt_crypto_key_id(k);
        if (strlen(id) != VT_CRYPTO_KEYID_LEN)
                abort();
        for (i = 0; i < VT_CRYPTO_KEYID_LEN; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        abort();

        vt_buf_init(&der);
        if (vt_crypto_key_spki_der(k, &der) != 0 || der.len == 0)
                abort();
        vt_buf_release(&der);

        vt_buf_init(&pem);
        if (vt_crypto_key_public_pem(k, &pem) != 0)
                abort();
        same_key(&pem, k, 0);
        vt_buf_release(&pem);

        if (vt_crypto_key_is_private(k)) {
                if (vt_crypto_key_private_pem(k, &pem) != 0)
                        abort();
                same_key(&pem, k, 1);
                vt_buf_wipe(&pem);
                if (vt_crypto_key_sign(k, msg, sizeof(msg) - 1, sig, &siglen) != 0 ||
                    vt_crypto_key_verify(k, msg, sizeof(msg) - 1, sig, siglen) != 0)
                        abort();
        }
        vt_crypto_key_free(k);
        return 0;
}
