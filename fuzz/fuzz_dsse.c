/*
 * fuzz_dsse.c: libFuzzer target for DSSE v1 envelope parsing
 * (vt_encoding_dsse_parse) and verification.
 *
 * Properties checked beyond "no crash":
 *   - the output is untouched when parsing fails;
 *   - whatever parses serializes to an envelope that parses back to the
 *     same fields, and serializing that gives the same bytes (our writer is
 *     canonical; the input need not be: unknown fields, URL-safe base64,
 *     white space and key order are accepted on input);
 *   - verification with a fixed key never crashes, reports every signature
 *     and never counts more keys than it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_crypto_key *keys[2];

static void init(void)
{
        if (keys[0] != NULL)
                return;
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &keys[0], NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ECDSA_P256, &keys[1], NULL) != 0)
                abort();
}

static int same(const struct vt_encoding_dsse *a, const struct vt_encoding_dsse *b)
{
        size_t i;

        if (a->payload_type_len != b->payload_type_len || a->payload_len != b->payload_len ||
            a->nsigs != b->nsigs || memcmp(a->payload_type, b->payload_type, a->payload_type_len) ||
            memcmp(a->payload, b->payload, a->payload_len))
                return 0;
        for (i = 0; i < a->nsigs; i++) {
                if (a->sigs[i].siglen != b->sigs[i].siglen ||
                    memcmp(a->sigs[i].sig, b->sigs[i].sig, a->sigs[i].siglen) ||
                    (a->sigs[i].keyid == NULL) != (b->sigs[i].keyid == NULL) ||
                    (a->sigs[i].keyid && strcmp(a->sigs[i].keyid, b->sigs[i].keyid)))
                        return 0;
        }
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vt_encoding_dsse e, f;
        struct vt_encoding_dsse_result r;
        struct vt_buf out, out2;
        size_t i;
        int err;

        init();
        vt_encoding_dsse_init(&e);
        vt_encoding_dsse_init(&f);
        if (vt_encoding_dsse_parse(data, size, &e, NULL) != 0) {
                if (e.payload_type != NULL || e.payload != NULL || e.sigs != NULL || e.nsigs != 0)
                        abort();
                return 0;
        }
        if (e.nsigs == 0 || e.nsigs > VT_ENCODING_DSSE_SIGS_MAX || e.payload_type_len == 0)
                abort();

        vt_buf_init(&out);
        vt_buf_init(&out2);
        if (vt_encoding_dsse_serialize(&e, &out) != 0 ||
            vt_encoding_dsse_parse(out.p, out.len, &f, NULL) != 0 || !same(&e, &f) ||
            vt_encoding_dsse_serialize(&f, &out2) != 0 || out.len != out2.len ||
            memcmp(out.p, out2.p, out.len) != 0)
                abort();
        vt_buf_release(&out2);

        err =
            vt_encoding_dsse_verify(&e, (const struct vt_crypto_key *const *)keys, 2, 1, &r, NULL);
        if (err != 0 && err != VT_ETHRESHOLD)
                abort();
        if (r.nsigs != e.nsigs || r.nvalid > 2)
                abort();
        for (i = 0; i < r.nsigs; i++) {
                int s = r.sig[i].status;
                if (s != 0 && s != VT_EEXIST && s != VT_EBADSIG && s != VT_EUNKNOWNKEY &&
                    s != VT_EMALFORMED)
                        abort();
                if ((s == 0 || s == VT_EEXIST) != (r.sig[i].key != SIZE_MAX))
                        abort();
                /* A random signature verifying is not something fuzzing finds. */
                if (s == 0 || s == VT_EEXIST)
                        abort();
                vt_buf_init(&out2);
                if (vt_encoding_dsse_explain(&e, (const struct vt_crypto_key *const *)keys, &r, i,
                                             &out2) != 0)
                        abort();
                vt_buf_release(&out2);
        }

        vt_buf_release(&out);
        vt_buf_release(&out2);
        vt_encoding_dsse_release(&e);
        vt_encoding_dsse_release(&f);
        return 0;
}
