/*
 * fuzz_bundle.c: libFuzzer target for the offline formats of the service:
 * bundle JSON, C2SP tlog-proof@v1 text and log entries (encoding.h
 * "Entries, tlog proofs and bundles"), and offline bundle verification
 * (policy.h vt_policy_bundle_verify).
 *
 * The first byte chooses the parser (mod 3), the rest is its input:
 *   0  bundle: parse; what parses is verified (with a fixed log key, so
 *      every attestation fails somewhere in steps 1-3 without crashing);
 *   1  tlog-proof: parse; what parses formats back to exactly the input
 *      (one accepted encoding);
 *   2  entry: parse; what parses is canonical (the parser checks it) and
 *      its fields are within the DSSE limits.
 * Outputs must be untouched when parsing fails. Every bundle is also checked
 * by one verifier made once (vt_policy_bundle_verifier_new): its code,
 * diagnostic and report must be the one-shot call's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_buf vkey;
static struct vt_policy_bundle_verifier *verifier;

static void init(void)
{
        struct vt_crypto_key *k = NULL;
        const char *keys[1];

        if (vkey.len != 0)
                return;
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL) != 0 ||
            vt_encoding_note_vkey("fuzz.example/log", k, &vkey) != 0)
                abort();
        vt_crypto_key_free(k);
        keys[0] = (const char *)vkey.p;
        if (vt_policy_bundle_verifier_new(keys, 1, NULL, &verifier, NULL) != 0)
                abort();
}

static void fuzz_bundle(const uint8_t *p, size_t n)
{
        struct vt_encoding_bundle b;
        const char *keys[1];
        struct vt_buf rep, rep2;
        struct vt_diag d1, d2;
        size_t i;
        int e1, e2;

        /* The verifier made once answers as the one-shot call, for any input. */
        keys[0] = (const char *)vkey.p;
        vt_buf_init(&rep);
        vt_buf_init(&rep2);
        d1.msg[0] = d2.msg[0] = '\0';
        e1 = vt_policy_bundle_verify(p, n, keys, 1, NULL, &rep, &d1);
        e2 = vt_policy_bundle_verifier_check(verifier, p, n, &rep2, &d2);
        if (e1 != e2 || strcmp(d1.msg, d2.msg) != 0 || rep.len != rep2.len ||
            (rep.len > 0 && memcmp(rep.p, rep2.p, rep.len) != 0))
                abort();
        vt_buf_release(&rep2);
        vt_buf_release(&rep);
        memset(&b, 0xa5, sizeof(b));
        if (vt_encoding_bundle_parse(p, n, &b, NULL) != 0) {
                if (b.n != (size_t)0xa5a5a5a5a5a5a5a5ULL)
                        abort();
                return;
        }
        if (b.n == 0 || b.n > VT_ENCODING_BUNDLE_ATTESTATIONS_MAX)
                abort();
        for (i = 0; i < b.n; i++)
                if (b.atts[i].entry_len == 0 || b.atts[i].entry_len > VT_ENCODING_ENTRY_MAX ||
                    b.atts[i].proof.checkpoint_len == 0)
                        abort();
        vt_encoding_bundle_release(&b);
        keys[0] = (const char *)vkey.p;
        vt_buf_init(&rep);
        if (vt_policy_bundle_verify(p, n, keys, 1, NULL, &rep, NULL) == 0)
                abort(); /* nothing can be signed by a key made at random in this run */
        vt_buf_release(&rep);
}

static void fuzz_proof(const uint8_t *p, size_t n)
{
        struct vt_encoding_tlog_proof pr;
        struct vt_buf out;

        memset(&pr, 0xa5, sizeof(pr));
        if (vt_encoding_tlog_proof_parse(p, n, &pr, NULL) != 0) {
                if (pr.index != 0xa5a5a5a5a5a5a5a5ULL)
                        abort();
                return;
        }
        vt_buf_init(&out);
        if (vt_encoding_tlog_proof_format(pr.index, pr.path, pr.npath,
                                          pr.has_extra ? pr.extra : NULL, pr.extra_len,
                                          pr.checkpoint, pr.checkpoint_len, &out) != 0 ||
            out.len != n || memcmp(out.p, p, n) != 0)
                abort();
        vt_buf_release(&out);
        vt_encoding_tlog_proof_release(&pr);
}

static void fuzz_entry(const uint8_t *p, size_t n)
{
        struct vt_encoding_entry e;
        size_t i;

        memset(&e, 0xa5, sizeof(e));
        if (vt_encoding_entry_parse(p, n, &e, NULL) != 0) {
                if (e.nsigs != (size_t)0xa5a5a5a5a5a5a5a5ULL)
                        abort();
                return;
        }
        if (e.nsigs == 0 || e.nsigs > VT_ENCODING_DSSE_SIGS_MAX || e.payload_type_len == 0 ||
            n > VT_ENCODING_ENTRY_MAX)
                abort();
        for (i = 0; i < e.nsigs; i++)
                if (e.sigs[i].siglen == 0 || e.sigs[i].siglen > VT_ENCODING_DSSE_SIG_MAX ||
                    (e.sigs[i].keyid != NULL && e.sigs[i].keyid[0] == '\0'))
                        abort();
        vt_encoding_entry_release(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        init();
        if (size == 0)
                return 0;
        switch (data[0] % 3) {
        case 0:
                fuzz_bundle(data + 1, size - 1);
                break;
        case 1:
                fuzz_proof(data + 1, size - 1);
                break;
        default:
                fuzz_entry(data + 1, size - 1);
        }
        return 0;
}
