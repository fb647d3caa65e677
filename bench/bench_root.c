/*
 * bench_root.c: authorizing an envelope under the governance root, against
 * the signature check it needs, in the same run.
 *
 *   authorize, small root   vt_policy_root_authorize() of a one-signature
 *                           in-toto envelope (Ed25519) under a root with one
 *                           role, versus one raw libsodium
 *                           crypto_sign_verify_detached() over the same PAE;
 *   authorize, full root    the same under a root at its role limit: 64
 *                           roles of 3 keys (193 keys), 16 predicate types
 *                           each (nothing should grow with the root);
 *   precheck                vt_policy_root_precheck(): the registration check
 *                           with no cryptography (no limit to compare with).
 *
 * Target ratio >= 0.9: the lookups around the signature check are small next
 * to it. Each pair is measured in alternating rounds, best kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/policy.h"

#define ROUNDS 3
#define PTYPE  "https://slsa.dev/provenance/v1"

struct state {
        struct vt_policy_root *root;
        struct vt_encoding_dsse env;
        struct vt_buf pae;
        const uint8_t *pk;
};

static volatile int sink;

static void op_authorize(void *arg)
{
        struct state *s = arg;
        const char *role;

        if (vt_policy_root_authorize(s->root, &s->env, PTYPE, &role, NULL) != 0)
                abort();
        sink += role[0];
}

static void op_precheck(void *arg)
{
        struct state *s = arg;

        if (vt_policy_root_precheck(s->root, &s->env, PTYPE, NULL) != 0)
                abort();
        sink++;
}

static void op_verify(void *arg)
{
        struct state *s = arg;

        if (crypto_sign_verify_detached(s->env.sigs[0].sig, s->pae.p, s->pae.len, s->pk) != 0)
                abort();
        sink++;
}

/*
 * A root of nroles roles with kpr keys each (role i's keys are fresh) and
 * ntypes predicate types each; role "r0" may sign PTYPE. *signer is r0's
 * first key.
 */
static struct vt_policy_root *make_root(size_t nroles, size_t kpr, size_t ntypes,
                                        struct vt_crypto_key **signer)
{
        struct vt_crypto_key *gov = NULL, *keys[VT_POLICY_ROOT_ROLE_KEYS_MAX];
        const char *types[VT_POLICY_ROOT_TYPES_MAX];
        char tbuf[VT_POLICY_ROOT_TYPES_MAX][64], name[16];
        struct vt_policy_root *r = NULL;
        struct vt_diag d;
        size_t i, j;

        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &gov, NULL) != 0 ||
            vt_policy_root_new((const struct vt_crypto_key *const *)&gov, 1, 1,
                               vt_util_unix_time() + 86400, &r, &d) != 0)
                abort();
        for (i = 0; i < nroles; i++) {
                for (j = 0; j < kpr; j++)
                        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &keys[j], NULL) != 0)
                                abort();
                for (j = 0; j < ntypes; j++) {
                        if (i == 0 && j == 0)
                                snprintf(tbuf[j], sizeof(tbuf[j]), "%s", PTYPE);
                        else
                                snprintf(tbuf[j], sizeof(tbuf[j]), "urn:bench:%zu:%zu", i, j);
                        types[j] = tbuf[j];
                }
                snprintf(name, sizeof(name), "r%zu", i);
                if (vt_policy_root_set_role(r, name, (const struct vt_crypto_key *const *)keys, kpr,
                                            1, types, ntypes, &d) != 0) {
                        fprintf(stderr, "bench_root: %s\n", d.msg);
                        abort();
                }
                for (j = i == 0 ? 1 : 0; j < kpr; j++)
                        vt_crypto_key_free(keys[j]);
                if (i == 0)
                        *signer = keys[0];
        }
        if (vt_policy_root_sign(r, gov, NULL, &d) != 0 ||
            vt_policy_root_verify(r, vt_util_unix_time(), NULL, &d) != 0)
                abort();
        vt_crypto_key_free(gov);
        return r;
}

static void setup(struct state *s, size_t nroles, size_t kpr, size_t ntypes)
{
        struct vt_encoding_subject sub;
        struct vt_crypto_key *signer = NULL;
        struct vt_buf st;

        memset(s, 0, sizeof(*s));
        s->root = make_root(nroles, kpr, ntypes, &signer);
        memset(&sub, 0, sizeof(sub));
        sub.name = "pkg:generic/app@1.0.0";
        sub.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)"app", 3, &sub.sha256);
        vt_buf_init(&st);
        vt_buf_init(&s->pae);
        vt_encoding_dsse_init(&s->env);
        if (vt_encoding_statement_build(&sub, 1, PTYPE, NULL, &st, NULL) != 0 ||
            vt_encoding_dsse_set_payload(&s->env, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len,
                                         NULL) != 0 ||
            vt_encoding_dsse_sign(&s->env, signer, NULL) != 0 ||
            vt_encoding_dsse_pae(s->env.payload_type, s->env.payload_type_len, s->env.payload,
                                 s->env.payload_len, &s->pae) != 0)
                abort();
        s->pk = vt_policy_root_key(s->root, vt_crypto_key_id(signer)) != NULL
                    ? vt_crypto_key_ed25519_public(
                          vt_policy_root_key(s->root, vt_crypto_key_id(signer)))
                    : NULL;
        if (s->pk == NULL)
                abort();
        vt_crypto_key_free(signer);
        vt_buf_release(&st);
}

static void release(struct state *s)
{
        vt_policy_root_free(s->root);
        vt_encoding_dsse_release(&s->env);
        vt_buf_release(&s->pae);
}

static void pair(const char *what, struct state *s)
{
        double secs = bench_seconds(), best_a = 0, best_v = 0;
        int i;

        for (i = 0; i < ROUNDS; i++) {
                double a = bench_measure(op_authorize, s, secs),
                       v = bench_measure(op_verify, s, secs);

                if (a > best_a)
                        best_a = a;
                if (v > best_v)
                        best_v = v;
        }
        bench_report(what, best_a, "env/s", best_v, "raw Ed25519 verify of the PAE");
}

int main(void)
{
        struct state small, full;

        if (sodium_init() < 0)
                return 1;
        setup(&small, 1, 1, 1);
        /* 64 roles x 3 keys + 1 governance key: 193 keys (the limit is 256). */
        setup(&full, VT_POLICY_ROOT_ROLES_MAX, 3, 16);
        printf("envelope payload %zu bytes; full root: %zu roles\n", small.env.payload_len,
               vt_policy_root_role_count(full.root));
        pair("authorize, root with 1 role", &small);
        pair("authorize, root with 64 roles, 193 keys", &full);
        bench_report("precheck (no crypto), root with 64 roles",
                     bench_measure(op_precheck, &full, bench_seconds()), "env/s", 0, NULL);
        release(&small);
        release(&full);
        return 0;
}
