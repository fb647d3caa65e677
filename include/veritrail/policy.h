/*
 * policy.h: the governance root of trust (docs/FORMATS.md "Governance root").
 *
 * The root is a JSON document in a DSSE envelope of payload type
 * VT_POLICY_ROOT_PAYLOAD_TYPE. It names the keys the system trusts, the
 * governance keys (and their threshold) that sign the root itself, and the
 * roles: each a set of keys, a threshold and the in-toto predicate types the
 * role may sign. In the spirit of TUF's root.json:
 *
 *   - a root is valid when at least governance.threshold DISTINCT governance
 *     keys signed its PAE (DSSE v1) and it has not expired;
 *   - a root replacing another is valid only if its version is exactly the
 *     old version + 1 and it is signed by a threshold of the OLD root's
 *     governance keys and a threshold of its OWN (TUF "root rotation");
 *   - an envelope is authorized when every signature on it is by a key of
 *     the root and verifies, and the keys of ONE role whose maySign list
 *     holds the statement's predicate type reach that role's threshold.
 *
 * Key ids are vt_crypto_key_id() (lowercase hex SHA-256 of the SPKI DER);
 * the parser checks each against its PEM. Parsing is strict: exactly the
 * documented members, the limits below, no duplicate key ids.
 *
 * Times are POSIX seconds (int64_t). A root with expiry E is expired at every
 * time now >= E.
 *
 * Prefix: vt_policy_*.
 */
#ifndef VT_POLICY_H
#define VT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/util.h"

#define VT_POLICY_ROOT_PAYLOAD_TYPE "application/vnd.veritrail.root+json"
#define VT_POLICY_ROOT_MEDIA_TYPE   "application/vnd.veritrail.root+json;version=1"

#define VT_POLICY_ROOT_MAX           (1024 * 1024) /* bytes in a root envelope */
#define VT_POLICY_ROOT_KEYS_MAX      256           /* keys in the root's key map */
#define VT_POLICY_ROOT_ROLES_MAX     64            /* roles (one bit each in a 64-bit mask) */
#define VT_POLICY_ROOT_ROLE_KEYS_MAX 64            /* keyids of one role, or of governance */
#define VT_POLICY_ROOT_TYPES_MAX     64            /* predicate types one role may sign */
#define VT_POLICY_ROOT_TYPE_LEN_MAX  256           /* bytes in a predicate type URI */
#define VT_POLICY_ROOT_NAME_MAX      64            /* bytes in a role name, [a-z0-9-] */
#define VT_POLICY_ROOT_SIGS_MAX      VT_ENCODING_DSSE_SIGS_MAX /* signatures on a root */
#define VT_POLICY_ROOT_VERSION_MAX   ((int64_t)1 << 53)        /* exact in every JSON reader */

/* A root of trust: opaque, from vt_policy_root_parse() or _new(), freed by _free(). */
struct vt_policy_root;

/* ---- Reading ----------------------------------------------------------- */

/*
 * vt_policy_root_parse(p, n, out, d): parse the root envelope p[0..n): a DSSE
 * envelope of payload type VT_POLICY_ROOT_PAYLOAD_TYPE whose payload is a
 * valid root document. Signatures are kept but NOT checked here (see
 * vt_policy_root_verify); an envelope with no signature is accepted (a root
 * being prepared). Every key is loaded once. VT_EMALFORMED (d says which
 * member and why), VT_ENONCANON (non-canonical base64), VT_ETOOBIG (past a
 * limit), VT_ENOMEM. *out is set only on success. Cost: one PEM parse per
 * key, no signature verification.
 */
int vt_policy_root_parse(const uint8_t *p, size_t n, struct vt_policy_root **out,
                         struct vt_diag *d) VT_WARN_UNUSED;

/* vt_policy_root_free(r): free r. NULL is a no-op. */
void vt_policy_root_free(struct vt_policy_root *r);

/*
 * vt_policy_root_verify(r, now, counted, d): check that at least the
 * governance threshold of distinct governance keys of r signed it and that it
 * has not expired at now. *counted (may be NULL) receives the number of
 * distinct governance keys whose signature verified, on success and on
 * VT_ETHRESHOLD / VT_EEXPIRED. A signature that does not verify, or is by a
 * key that is not a governance key, is not counted (and does not by itself
 * fail the root). 0, VT_ETHRESHOLD, VT_EEXPIRED. Cost: one verification per
 * signature.
 */
int vt_policy_root_verify(const struct vt_policy_root *r, int64_t now, size_t *counted,
                          struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_policy_root_verify_successor(old, new, now, d): check that new may
 * replace old (TUF root rotation): new's version is old's + 1 (else
 * VT_EPOLICY), new is signed by the threshold of old's governance keys and by
 * the threshold of its own (else VT_ETHRESHOLD, d says which), and new has
 * not expired (else VT_EEXPIRED). old is trusted as given: its own
 * signatures and expiry are not checked here (an expired root may still
 * vouch for its successor, as in TUF). 0 on success.
 */
int vt_policy_root_verify_successor(const struct vt_policy_root *old,
                                    const struct vt_policy_root *new_root, int64_t now,
                                    struct vt_diag *d) VT_WARN_UNUSED;

/* vt_policy_root_version(r): the version, >= 1. */
int64_t vt_policy_root_version(const struct vt_policy_root *r);

/* vt_policy_root_expires(r): the expiry time, POSIX seconds. */
int64_t vt_policy_root_expires(const struct vt_policy_root *r);

/* vt_policy_root_expires_text(r): the expiry as "YYYY-MM-DDTHH:MM:SSZ", owned by r. */
const char *vt_policy_root_expires_text(const struct vt_policy_root *r);

/*
 * struct vt_policy_role_view: a read-only view of a role (or of governance),
 * filled by the accessors below. Every pointer is owned by the root and
 * valid until it is freed or changed.
 */
struct vt_policy_role_view {
        const char *name;          /* "governance" for the governance set */
        const char *const *keyids; /* in document order */
        size_t nkeyids;
        size_t threshold;            /* 1..nkeyids */
        const char *const *may_sign; /* predicate types, document order; none for governance */
        size_t nmay_sign;
};

/* vt_policy_root_governance(r, out): view of the governance keys and threshold. */
void vt_policy_root_governance(const struct vt_policy_root *r, struct vt_policy_role_view *out);

/* vt_policy_root_role_count(r): the number of roles (0 in a fresh root). */
size_t vt_policy_root_role_count(const struct vt_policy_root *r);

/* vt_policy_root_role(r, i, out): view of role i (roles sorted by name). 0 or VT_ERANGE. */
int vt_policy_root_role(const struct vt_policy_root *r, size_t i, struct vt_policy_role_view *out);

/* vt_policy_root_role_find(r, name, out): view of the role called name. 0 or VT_ENOENT. */
int vt_policy_root_role_find(const struct vt_policy_root *r, const char *name,
                             struct vt_policy_role_view *out);

/*
 * vt_policy_root_key(r, keyid): the key of r with this key id (public half
 * only), owned by r, or NULL if the root has no such key.
 */
const struct vt_crypto_key *vt_policy_root_key(const struct vt_policy_root *r, const char *keyid);

/* vt_policy_root_sig_count(r): signatures on r's envelope (verified or not). */
size_t vt_policy_root_sig_count(const struct vt_policy_root *r);

/*
 * struct vt_policy_sig_report: what each signature of a root is worth to a
 * set of governance keys, caller-owned (vt_policy_root_check_sigs).
 */
struct vt_policy_sig_report {
        size_t nsigs;     /* signatures on the root */
        size_t nvalid;    /* distinct governance keys with a valid signature */
        size_t threshold; /* the governance threshold of the key set */
        struct {
                /*
                 * 0 counted; VT_EEXIST valid but its key was already counted;
                 * VT_EUNKNOWNKEY not by a governance key of the key set;
                 * VT_EBADSIG its key id names a governance key but it does not
                 * verify; VT_EMALFORMED its shape fits no governance key.
                 */
                int status;
                const char *keyid; /* the key that verified it, else its key id hint, else "" */
        } sig[VT_POLICY_ROOT_SIGS_MAX];
};

/*
 * vt_policy_root_check_sigs(r, keys, out): check every signature of r
 * against the governance keys of keys (r itself, or the previous root when
 * checking a successor; NULL means r) and fill out; pointers in it are owned
 * by r or keys. 0 or VT_ENOMEM. Cost: about one verification per signature.
 */
int vt_policy_root_check_sigs(const struct vt_policy_root *r, const struct vt_policy_root *keys,
                              struct vt_policy_sig_report *out);

/* ---- Authorization ----------------------------------------------------- */

/*
 * vt_policy_root_authorize(r, env, predicate_type, role, d): may the
 * envelope env, whose statement has predicate_type, be accepted under the
 * root r (already verified by the caller)? The rules, in this order:
 *   1. some role's maySign holds predicate_type, else VT_EDENIED ("no role
 *      may sign predicate type 'X'");
 *   2. every signature's key id, when present, names a key of r (else
 *      VT_EDENIED "signature N: key '...' is not in the root") that belongs
 *      to one of those roles (else VT_EDENIED naming the roles);
 *   3. every signature verifies with the key its key id names (else
 *      VT_EBADSIG "signature N: ..."); a signature without key id must
 *      verify with some key of those roles (else VT_EDENIED);
 *   4. for at least one of those roles, the DISTINCT keys that signed reach
 *      its threshold (else VT_EDENIED "predicate type 'X' may be signed by
 *      roles a, b; envelope has 0 of 1 required signatures of role 'a'").
 * On success *role (may be NULL) points to the name of the first role (by
 * name) whose threshold is met, owned by r. A key id is only a hint to find
 * the key: the signature must verify with it. Cost: one signature
 * verification per signature (none when rules 1-2 fail), a binary search
 * per key id, one allocation (the PAE). r is only read: concurrent calls on
 * one root are safe.
 */
int vt_policy_root_authorize(const struct vt_policy_root *r, const struct vt_encoding_dsse *env,
                             const char *predicate_type, const char **role,
                             struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_policy_root_precheck(r, env, predicate_type, d): rules 1 and 2 of
 * vt_policy_root_authorize only (no cryptography): a cheap early refusal
 * before signatures are checked on a worker. 0 or VT_EDENIED.
 */
int vt_policy_root_precheck(const struct vt_policy_root *r, const struct vt_encoding_dsse *env,
                            const char *predicate_type, struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_policy_root_authorize_bytes(r, p, n, role, d): parse p[0..n) as a DSSE
 * envelope whose payload is an in-toto Statement v1 and authorize it as
 * vt_policy_root_authorize() does. Parse errors as the DSSE and statement
 * parsers report them (VT_EMALFORMED, ...), then the codes above.
 */
int vt_policy_root_authorize_bytes(const struct vt_policy_root *r, const uint8_t *p, size_t n,
                                   const char **role, struct vt_diag *d) VT_WARN_UNUSED;

/* ---- Building (the CLI) ------------------------------------------------- */

/*
 * vt_policy_root_new(gov, ngov, threshold, expires, out, d): a version 1 root
 * with no roles and no signatures, whose governance keys are the public
 * halves of gov[0..ngov) (private keys are fine: only the public half is
 * kept), with this threshold and expiry. VT_EINVAL (no key, a duplicate key,
 * threshold outside 1..ngov, too many keys, expiry outside 1970..9999),
 * VT_ENOMEM. *out is set only on success.
 */
int vt_policy_root_new(const struct vt_crypto_key *const *gov, size_t ngov, size_t threshold,
                       int64_t expires, struct vt_policy_root **out, struct vt_diag *d);

/*
 * The editors below change the document: on success every signature is
 * dropped (the root must be signed again) and keys no longer used by
 * governance or a role are removed. On failure r is unchanged.
 * VT_EINVAL (d says why), VT_ETOOBIG (a limit), VT_ENOMEM.
 */

/*
 * vt_policy_root_set_role(r, name, keys, nkeys, threshold, may_sign, ntypes, d):
 * add the role name or replace it: its keys (public halves kept), threshold
 * (1..nkeys) and the predicate types it may sign.
 */
int vt_policy_root_set_role(struct vt_policy_root *r, const char *name,
                            const struct vt_crypto_key *const *keys, size_t nkeys, size_t threshold,
                            const char *const *may_sign, size_t ntypes, struct vt_diag *d);

/* vt_policy_root_remove_role(r, name, d): remove a role. VT_ENOENT if there is none. */
int vt_policy_root_remove_role(struct vt_policy_root *r, const char *name, struct vt_diag *d);

/* vt_policy_root_set_governance(r, keys, nkeys, threshold, d): replace the governance keys. */
int vt_policy_root_set_governance(struct vt_policy_root *r, const struct vt_crypto_key *const *keys,
                                  size_t nkeys, size_t threshold, struct vt_diag *d);

/* vt_policy_root_set_expires(r, expires, d): change the expiry. */
int vt_policy_root_set_expires(struct vt_policy_root *r, int64_t expires, struct vt_diag *d);

/* vt_policy_root_set_version(r, version, d): change the version (1..VT_POLICY_ROOT_VERSION_MAX). */
int vt_policy_root_set_version(struct vt_policy_root *r, int64_t version, struct vt_diag *d);

/*
 * vt_policy_root_sign(r, k, previous, d): add a DSSE signature over r's PAE
 * by the private key k, which must be a governance key of r or, when
 * previous is not NULL, of previous (to sign a successor with the old keys).
 * VT_ENOTPRIV, VT_EDENIED (not a governance key), VT_EEXIST (r already
 * carries a signature by k), VT_ETOOBIG, VT_ENOMEM, VT_EINTERNAL.
 */
int vt_policy_root_sign(struct vt_policy_root *r, const struct vt_crypto_key *k,
                        const struct vt_policy_root *previous, struct vt_diag *d);

/*
 * vt_policy_root_serialize(r, out): append r's envelope (DSSE JSON: payloadType,
 * payload, signatures) and a final newline to out. 0 or VT_ENOMEM; nothing
 * is appended on failure. The output parses back to the same root.
 */
int vt_policy_root_serialize(const struct vt_policy_root *r, struct vt_buf *out);

/*
 * vt_policy_time_parse(s, n, out): strict "YYYY-MM-DDTHH:MM:SSZ" (UTC, years
 * 1970..9999, no leap second) to POSIX seconds. 0 or VT_EMALFORMED.
 * vt_policy_time_format(t, out): the inverse; out holds 21 bytes. VT_EINVAL
 * for a time outside those years.
 */
int vt_policy_time_parse(const char *s, size_t n, int64_t *out) VT_WARN_UNUSED;
int vt_policy_time_format(int64_t t, char out[21]);

/* ---- Offline bundle verification (src/policy/bundle.c) --------------------- */

/*
 * vt_policy_bundle_verify(p, n, log_vkeys, nvkeys, root, report, d): verify
 * the offline bundle p[0..n) (encoding.h "Bundle", docs/FORMATS.md
 * "Bundles") with no network. Each attestation, in order:
 *   1. its entry commits to its envelope (vt_encoding_entry_check), else
 *      VT_EMISMATCH;
 *   2. its checkpoint is signed by a trusted log: the checkpoint's origin
 *      names one of the C2SP verifier keys log_vkeys[0..nvkeys) and the
 *      log's signature verifies (vt_encoding_checkpoint_open), else
 *      VT_EUNKNOWNKEY (no trusted log of that origin, or no signature by its
 *      key) or VT_EBADSIG (the log's signature does not verify);
 *   3. the inclusion proof leads from the leaf hash SHA-256(0x00 || entry)
 *      at the proof's index to the checkpoint's root (RFC 9162 §2.1.3.2),
 *      else VT_EPROOF (also for an index not below the checkpoint's size);
 *   4. when root is not NULL (already verified by the caller): an in-toto
 *      envelope must be authorized by it (vt_policy_root_authorize:
 *      VT_EDENIED, VT_EBADSIG; VT_EMALFORMED for a statement that does not
 *      parse); a governance root envelope (VT_POLICY_ROOT_PAYLOAD_TYPE) must
 *      be a root signed by the threshold of its own governance keys
 *      (VT_ETHRESHOLD); any other payload type is VT_EDENIED.
 * Witness cosignatures are not required here (no witness policy yet).
 * report (may be NULL) receives one explained line per attestation,
 * "attestation 1: ok: entry 5 of log 'example.org/log' (checkpoint size 9),
 * predicate type '...', subject 'app.tar' (sha256:1f2e3d4c...), authorized
 * by role 'builder'" or "attestation 2: FAILED: proof mismatch: ...".
 * Returns 0 when every attestation verifies, else the code of the first
 * that does not, with its line (without "FAILED") in d. A bundle that does
 * not parse fails with the parser's code (VT_EMALFORMED, VT_ENONCANON,
 * VT_ETOOBIG) and nothing in report; VT_EINVAL for no log key or one that
 * does not parse (d names it). Cost: one Ed25519 verification per distinct
 * checkpoint, log2(size) hashes per attestation, and with a root the
 * envelope's signature checks.
 */
int vt_policy_bundle_verify(const uint8_t *p, size_t n, const char *const *log_vkeys, size_t nvkeys,
                            const struct vt_policy_root *root, struct vt_buf *report,
                            struct vt_diag *d) VT_WARN_UNUSED;

/*
 * A verifier of many bundles: vt_policy_bundle_verify() with the log keys
 * parsed once (reading a key checks that it is a point of the curve's main
 * subgroup, about half a signature check; a monitor or an operator checking
 * thousands of bundles pays it once).
 *
 * vt_policy_bundle_verifier_new(log_vkeys, nvkeys, root, out, d): parse the
 * keys (VT_EINVAL naming the one that does not parse, or for none; VT_ENOMEM)
 * and keep root, which the caller keeps alive and unchanged while *out is
 * used. vt_policy_bundle_verifier_check(v, p, n, report, d): exactly what
 * vt_policy_bundle_verify(p, n, ...) returns and reports with those keys and
 * root. The verifier is only read after new: several threads may check
 * bundles with one verifier at once. vt_policy_bundle_verifier_free(v): v may
 * be NULL.
 */
struct vt_policy_bundle_verifier;
int vt_policy_bundle_verifier_new(const char *const *log_vkeys, size_t nvkeys,
                                  const struct vt_policy_root *root,
                                  struct vt_policy_bundle_verifier **out,
                                  struct vt_diag *d) VT_WARN_UNUSED;
int vt_policy_bundle_verifier_check(const struct vt_policy_bundle_verifier *v, const uint8_t *p,
                                    size_t n, struct vt_buf *report,
                                    struct vt_diag *d) VT_WARN_UNUSED;
void vt_policy_bundle_verifier_free(struct vt_policy_bundle_verifier *v);

#endif
