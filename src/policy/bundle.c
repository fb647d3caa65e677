/*
 * bundle.c: offline verification of a bundle (policy.h,
 * vt_policy_bundle_verify; docs/FORMATS.md "Bundles").
 *
 * What an attestation proves, and in which order we check it (each step
 * trusts only what the previous ones established):
 *   1. entry <-> envelope: the entry (the log's leaf) names the envelope's
 *      payload type, payload SHA-256 and signatures, byte for byte;
 *   2. checkpoint: signed by a log whose verifier key the caller trusts
 *      (C2SP tlog-checkpoint, signed-note), its origin being the key name;
 *   3. inclusion: RFC 9162 §2.1.3.2 from SHA-256(0x00 || entry) at the
 *      tlog-proof's index to the checkpoint's root (C2SP tlog-proof
 *      "Verifying a tlog proof", steps 1, 2 and 4);
 *   4. authority (optional): the governance root allows the signers' role
 *      to sign the statement's predicate type (policy.h).
 * Failures are told apart (vt_err.h codes) and explained per attestation.
 *
 * A bundle about one artifact usually carries many attestations proved
 * against the same checkpoint: the last checkpoint opened is remembered by
 * its bytes, so its signature is verified once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/encoding.h"
#include "veritrail/merkle.h"
#include "veritrail/policy.h"

/* The checkpoint of the previous attestation, when it verified. */
struct bv_cache {
        uint8_t *note; /* its bytes, or NULL */
        size_t len;
        struct vt_encoding_checkpoint c;
};

/* What an attestation is about, for its report line. */
struct bv_about {
        char ptype[VT_POLICY_ROOT_TYPE_LEN_MAX + 1];
        char subject[80];
        char role[VT_POLICY_ROOT_NAME_MAX + 1];
        int64_t root_version;
};

/*
 * bv_checkpoint(a, vs, nvs, cache, d): open the attestation's checkpoint
 * with the verifier named by its origin (step 2); the result in cache->c.
 */
static int bv_checkpoint(const struct vt_encoding_attestation *a,
                         struct vt_encoding_note_verifier *const *vs, size_t nvs,
                         struct bv_cache *cache, struct vt_diag *d)
{
        const uint8_t *note = a->proof.checkpoint, *nl;
        size_t len = a->proof.checkpoint_len, olen, i;
        int err = VT_EUNKNOWNKEY, tried = 0;

        if (cache->note != NULL && cache->len == len && memcmp(cache->note, note, len) == 0)
                return 0;
        free(cache->note);
        cache->note = NULL;
        /* The origin is the note's first line (tlog-checkpoint). */
        nl = memchr(note, '\n', len);
        olen = nl != NULL ? (size_t)(nl - note) : 0;
        for (i = 0; i < nvs; i++) {
                const char *name = vt_encoding_note_verifier_name(vs[i]);

                if (strlen(name) != olen || memcmp(name, note, olen) != 0)
                        continue;
                tried = 1;
                err = vt_encoding_checkpoint_open(note, len, vs[i], &cache->c, d);
                if (err == 0)
                        break;
        }
        if (!tried) {
                vt_diag_set(d,
                            "checkpoint signature: the checkpoint is from log '%.*s', which is "
                            "not a trusted log key",
                            (int)(olen > 200 ? 200 : olen), (const char *)note);
                return VT_EUNKNOWNKEY;
        }
        if (err != 0) {
                vt_diag_prefix(d, "checkpoint signature");
                return err;
        }
        if ((cache->note = malloc(len)) != NULL) {
                memcpy(cache->note, note, len);
                cache->len = len;
        }
        return 0;
}

/* Step 4 for a governance root envelope: signed by a threshold of its own keys. */
static int bv_root_envelope(const struct vt_encoding_dsse *env, struct bv_about *about,
                            struct vt_diag *d)
{
        struct vt_policy_root *r = NULL;
        struct vt_policy_sig_report *rep = NULL;
        struct vt_buf b;
        int err;

        vt_buf_init(&b);
        if ((err = vt_encoding_dsse_serialize(env, &b)) != 0)
                goto out;
        if ((err = vt_policy_root_parse(b.p, b.len, &r, d)) != 0) {
                vt_diag_prefix(d, "governance root envelope");
                goto out;
        }
        about->root_version = vt_policy_root_version(r);
        if ((rep = malloc(sizeof(*rep))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = vt_policy_root_check_sigs(r, NULL, rep)) != 0)
                goto out;
        if (rep->nvalid < rep->threshold) {
                vt_diag_set(d,
                            "governance root version %lld: %zu of %zu required governance "
                            "signatures verify",
                            (long long)about->root_version, rep->nvalid, rep->threshold);
                err = VT_ETHRESHOLD;
        }
out:
        free(rep);
        vt_policy_root_free(r);
        vt_buf_release(&b);
        return err;
}

/*
 * bv_statement(env, root, about, d): note what the envelope is about and,
 * with a root, check step 4.
 */
static int bv_statement(const struct vt_encoding_dsse *env, const struct vt_policy_root *root,
                        struct bv_about *about, struct vt_diag *d)
{
        struct vt_encoding_statement st;
        const char *role = NULL;
        char hex[2 * VT_CRYPTO_HASH_LEN + 1];
        int err, intoto;

        intoto = env->payload_type_len == strlen(VT_ENCODING_INTOTO_PAYLOAD_TYPE) &&
                 strcmp(env->payload_type, VT_ENCODING_INTOTO_PAYLOAD_TYPE) == 0;
        if (!intoto) {
                if (strcmp(env->payload_type, VT_POLICY_ROOT_PAYLOAD_TYPE) == 0) {
                        snprintf(about->ptype, sizeof(about->ptype), "%s",
                                 VT_POLICY_ROOT_PAYLOAD_TYPE);
                        return root != NULL ? bv_root_envelope(env, about, d) : 0;
                }
                snprintf(about->ptype, sizeof(about->ptype), "payload type %.200s",
                         env->payload_type);
                if (root == NULL)
                        return 0;
                vt_diag_set(d,
                            "authorization: payload type '%.200s' is neither an in-toto "
                            "statement nor a governance root",
                            env->payload_type);
                return VT_EDENIED;
        }
        vt_encoding_statement_init(&st);
        if ((err = vt_encoding_statement_from_envelope(env, &st, d)) != 0) {
                if (root == NULL) {
                        /* Logged is logged: without a root we only say what it is not. */
                        snprintf(about->ptype, sizeof(about->ptype), "an unreadable statement");
                        return 0;
                }
                vt_diag_prefix(d, "authorization");
                return err;
        }
        snprintf(about->ptype, sizeof(about->ptype), "%s", st.predicate_type);
        if (st.nsubjects > 0) {
                const struct vt_encoding_subject *s = &st.subjects[0];

                if (s->has_sha256) {
                        vt_encoding_hex_encode(s->sha256.b, 8, hex);
                        snprintf(about->subject, sizeof(about->subject), "'%.40s' (sha256:%s...)",
                                 s->name != NULL ? s->name : "", hex);
                } else {
                        snprintf(about->subject, sizeof(about->subject), "'%.40s'",
                                 s->name != NULL ? s->name : "");
                }
                if (st.nsubjects > 1) {
                        size_t l = strlen(about->subject);
                        snprintf(about->subject + l, sizeof(about->subject) - l, " and %zu more",
                                 st.nsubjects - 1);
                }
        }
        if (root != NULL) {
                err = vt_policy_root_authorize(root, env, st.predicate_type, &role, d);
                if (err != 0)
                        vt_diag_prefix(d, "authorization");
                else
                        snprintf(about->role, sizeof(about->role), "%s", role);
        }
        vt_encoding_statement_release(&st);
        return err;
}

/* Verify attestation a (steps 1-4); on success fills about and cache->c. */
static int bv_attestation(const struct vt_encoding_attestation *a,
                          struct vt_encoding_note_verifier *const *vs, size_t nvs,
                          const struct vt_policy_root *root, struct bv_cache *cache,
                          struct bv_about *about, struct vt_diag *d)
{
        struct vt_hash leaf;
        int err;

        /* 1. The entry commits to the envelope. */
        if ((err = vt_encoding_entry_matches(&a->parsed, &a->envelope, d)) != 0) {
                vt_diag_prefix(d, "entry does not match the envelope");
                return err == VT_EMISMATCH ? err : VT_EMALFORMED;
        }
        /* 2. The checkpoint is the trusted log's. */
        if ((err = bv_checkpoint(a, vs, nvs, cache, d)) != 0)
                return err;
        /* 3. The entry is in the tree the checkpoint commits to. */
        if (a->proof.index >= cache->c.size) {
                vt_diag_set(d, "proof mismatch: index %llu is not below the checkpoint's size %llu",
                            (unsigned long long)a->proof.index, (unsigned long long)cache->c.size);
                return VT_EPROOF;
        }
        vt_merkle_leaf_hash(a->entry, a->entry_len, &leaf);
        if (vt_merkle_check_inclusion(a->proof.path, a->proof.npath, cache->c.size, &cache->c.root,
                                      a->proof.index, &leaf) != 0) {
                vt_diag_set(
                    d,
                    "proof mismatch: the inclusion proof of entry %llu (%zu hashes) does not "
                    "lead to the root of checkpoint size %llu",
                    (unsigned long long)a->proof.index, a->proof.npath,
                    (unsigned long long)cache->c.size);
                return VT_EPROOF;
        }
        /* 4. Who may have signed it. */
        return bv_statement(&a->envelope, root, about, d);
}

/* The log keys and root of a verifier of many bundles (policy.h). */
struct vt_policy_bundle_verifier {
        struct vt_encoding_note_verifier **vs;
        size_t nvs;
        const struct vt_policy_root *root;
};

/* see policy.h */
void vt_policy_bundle_verifier_free(struct vt_policy_bundle_verifier *v)
{
        size_t i;

        if (v == NULL)
                return;
        for (i = 0; i < v->nvs; i++)
                vt_encoding_note_verifier_free(v->vs[i]);
        free(v->vs);
        free(v);
}

/* see policy.h */
int vt_policy_bundle_verifier_new(const char *const *log_vkeys, size_t nvkeys,
                                  const struct vt_policy_root *root,
                                  struct vt_policy_bundle_verifier **out, struct vt_diag *d)
{
        struct vt_policy_bundle_verifier *v;
        int err;

        if (nvkeys == 0 || log_vkeys == NULL) {
                vt_diag_set(d, "no log verifier key given");
                return VT_EINVAL;
        }
        if ((v = calloc(1, sizeof(*v))) == NULL ||
            (v->vs = calloc(nvkeys, sizeof(*v->vs))) == NULL) {
                free(v);
                return VT_ENOMEM;
        }
        v->root = root;
        for (v->nvs = 0; v->nvs < nvkeys; v->nvs++) {
                if ((err = vt_encoding_note_verifier_parse(
                         log_vkeys[v->nvs], strlen(log_vkeys[v->nvs]), &v->vs[v->nvs], d)) != 0) {
                        vt_diag_prefix(d, "log key %zu", v->nvs + 1);
                        vt_policy_bundle_verifier_free(v);
                        return err == VT_ENOMEM ? err : VT_EINVAL;
                }
        }
        *out = v;
        return 0;
}

/* see policy.h */
int vt_policy_bundle_verifier_check(const struct vt_policy_bundle_verifier *v, const uint8_t *p,
                                    size_t n, struct vt_buf *report, struct vt_diag *d)
{
        const struct vt_policy_root *root = v->root;
        struct vt_encoding_bundle b;
        struct bv_cache cache;
        struct bv_about about;
        struct vt_diag ad;
        size_t i;
        int err, first = 0, rep_err = 0;

        vt_encoding_bundle_init(&b);
        memset(&cache, 0, sizeof(cache));
        if ((err = vt_encoding_bundle_parse(p, n, &b, d)) != 0)
                goto out;
        for (i = 0; i < b.n; i++) {
                memset(&about, 0, sizeof(about));
                ad.msg[0] = '\0';
                err = bv_attestation(&b.atts[i], v->vs, v->nvs, root, &cache, &about, &ad);
                if (err != 0) {
                        if (ad.msg[0] == '\0')
                                snprintf(ad.msg, sizeof(ad.msg), "%s", vt_strerror(err));
                        if (report != NULL && rep_err == 0)
                                rep_err = vt_buf_printf(report, "attestation %zu: FAILED: %s\n",
                                                        i + 1, ad.msg);
                        if (first == 0) {
                                first = err;
                                vt_diag_set(d, "attestation %zu: %s", i + 1, ad.msg);
                        }
                        free(cache.note); /* do not let a failure leave a half-trusted cache */
                        cache.note = NULL;
                        continue;
                }
                if (report == NULL || rep_err != 0)
                        continue;
                rep_err = vt_buf_printf(report,
                                        "attestation %zu: ok: entry %llu of log '%s' (checkpoint "
                                        "size %llu), %s%s%s",
                                        i + 1, (unsigned long long)b.atts[i].proof.index,
                                        cache.c.origin, (unsigned long long)cache.c.size,
                                        about.ptype[0] != '\0' ? "predicate type '" : "",
                                        about.ptype, about.ptype[0] != '\0' ? "'" : "");
                if (rep_err == 0 && about.subject[0] != '\0')
                        rep_err = vt_buf_printf(report, ", subject %s", about.subject);
                if (rep_err == 0 && root == NULL)
                        rep_err =
                            vt_buf_puts(report, ", envelope signatures not checked (no root)");
                else if (rep_err == 0 && about.role[0] != '\0')
                        rep_err = vt_buf_printf(report, ", authorized by role '%s'", about.role);
                else if (rep_err == 0 && about.root_version > 0)
                        rep_err = vt_buf_printf(report,
                                                ", governance root version %lld signed by its "
                                                "governance threshold",
                                                (long long)about.root_version);
                if (rep_err == 0)
                        rep_err = vt_buf_puts(report, "\n");
        }
        err = first;
        if (err == 0 && rep_err != 0)
                err = VT_ENOMEM;
out:
        free(cache.note);
        vt_encoding_bundle_release(&b);
        return err;
}

/* see policy.h */
int vt_policy_bundle_verify(const uint8_t *p, size_t n, const char *const *log_vkeys, size_t nvkeys,
                            const struct vt_policy_root *root, struct vt_buf *report,
                            struct vt_diag *d)
{
        struct vt_policy_bundle_verifier *v = NULL;
        int err;

        if ((err = vt_policy_bundle_verifier_new(log_vkeys, nvkeys, root, &v, d)) != 0)
                return err;
        err = vt_policy_bundle_verifier_check(v, p, n, report, d);
        vt_policy_bundle_verifier_free(v);
        return err;
}
