/*
 * fuzz_root.c: libFuzzer target for the governance root parser
 * (vt_policy_root_parse) and what runs on a parsed root.
 *
 * The first input byte picks the mode: 'D' means the rest is a root
 * DOCUMENT, which the target wraps in an unsigned envelope (so the fuzzer
 * explores the document rules without having to get through base64); any
 * other byte means the whole input is an ENVELOPE.
 *
 * Properties checked beyond "no crash":
 *   - *out is untouched when parsing fails;
 *   - whatever parses serializes to bytes that parse back, and serializing
 *     that root again gives the same bytes;
 *   - the accessors agree with the format's invariants (version >= 1,
 *     1 <= threshold <= keys for governance and every role, every listed
 *     key id is in the key map, roles sorted by name);
 *   - verification never counts more keys than there are governance keys,
 *     and authorization of a fixed envelope never crashes or succeeds (the
 *     fuzzer's keys are not the envelope's).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_encoding_dsse env;
static int ready;

/* A fixed in-toto envelope signed by a key that no fuzzed root holds. */
static void init(void)
{
        static const char st[] = "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
                                 "\"digest\":{\"sha256\":\"0000000000000000000000000000000000"
                                 "000000000000000000000000000000\"}}],\"predicateType\":"
                                 "\"https://slsa.dev/provenance/v1\"}";
        struct vt_crypto_key *k = NULL;

        if (ready)
                return;
        vt_encoding_dsse_init(&env);
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL) != 0 ||
            vt_encoding_dsse_set_payload(&env, VT_ENCODING_INTOTO_PAYLOAD_TYPE, (const uint8_t *)st,
                                         sizeof(st) - 1, NULL) != 0 ||
            vt_encoding_dsse_sign(&env, k, NULL) != 0)
                abort();
        vt_crypto_key_free(k);
        ready = 1;
}

static void check_view(const struct vt_policy_root *r, const struct vt_policy_role_view *v)
{
        size_t i;

        if (v->threshold < 1 || v->threshold > v->nkeyids || v->nkeyids == 0)
                abort();
        for (i = 0; i < v->nkeyids; i++)
                if (vt_policy_root_key(r, v->keyids[i]) == NULL)
                        abort();
}

static void check_root(const struct vt_policy_root *r)
{
        struct vt_policy_role_view v, found;
        const char *prev = NULL;
        struct vt_policy_sig_report rep;
        struct vt_diag d;
        const char *role = NULL;
        size_t i, n = 0;
        int err;

        if (vt_policy_root_version(r) < 1)
                abort();
        vt_policy_root_governance(r, &v);
        check_view(r, &v);
        for (i = 0; vt_policy_root_role(r, i, &v) == 0; i++) {
                check_view(r, &v);
                if (v.nmay_sign == 0)
                        abort();
                if (prev != NULL && strcmp(prev, v.name) >= 0)
                        abort();
                if (vt_policy_root_role_find(r, v.name, &found) != 0 ||
                    strcmp(found.name, v.name) != 0)
                        abort();
                prev = v.name;
        }
        if (i != vt_policy_root_role_count(r))
                abort();
        err = vt_policy_root_verify(r, 0, &n, &d);
        if (err != 0 && err != VT_ETHRESHOLD && err != VT_EEXPIRED)
                abort();
        vt_policy_root_governance(r, &v);
        if (n > v.nkeyids)
                abort();
        if (vt_policy_root_check_sigs(r, NULL, &rep) != 0 || rep.nvalid != n ||
            rep.nsigs != vt_policy_root_sig_count(r))
                abort();
        if (vt_policy_root_authorize(r, &env, "https://slsa.dev/provenance/v1", &role, &d) == 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char mark;
        struct vt_policy_root *r, *r2 = NULL, *sentinel = (struct vt_policy_root *)(void *)&mark;
        struct vt_buf in, b1, b2;
        struct vt_diag d;

        init();
        vt_buf_init(&in);
        vt_buf_init(&b1);
        vt_buf_init(&b2);
        if (size > 0 && data[0] == 'D') {
                if (vt_buf_puts(&in, "{\"payload\":\"") != 0 ||
                    vt_encoding_base64_append(&in, data + 1, size - 1) != 0 ||
                    vt_buf_puts(&in, "\",\"payloadType\":\"" VT_POLICY_ROOT_PAYLOAD_TYPE
                                     "\",\"signatures\":[]}") != 0)
                        abort();
        } else if (vt_buf_append(&in, data, size) != 0) {
                abort();
        }

        r = sentinel;
        if (vt_policy_root_parse(in.p, in.len, &r, &d) != 0) {
                if (r != sentinel)
                        abort();
                goto out;
        }
        check_root(r);
        if (vt_policy_root_serialize(r, &b1) != 0)
                abort();
        if (vt_policy_root_parse(b1.p, b1.len, &r2, &d) != 0)
                abort();
        if (vt_policy_root_serialize(r2, &b2) != 0 || b1.len != b2.len ||
            memcmp(b1.p, b2.p, b1.len) != 0)
                abort();
        if (vt_policy_root_version(r) != vt_policy_root_version(r2) ||
            vt_policy_root_expires(r) != vt_policy_root_expires(r2) ||
            vt_policy_root_role_count(r) != vt_policy_root_role_count(r2))
                abort();
        vt_policy_root_free(r2);
        vt_policy_root_free(r);
out:
        vt_buf_release(&in);
        vt_buf_release(&b1);
        vt_buf_release(&b2);
        return 0;
}
