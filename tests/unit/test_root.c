/*
 * test_root.c: the governance root of trust (policy.h): parsing and its
 * negatives, governance thresholds, expiry, the successor rule,
 * authorization of envelopes, the editors and the time format.
 *
 * Keys are generated once per run; roots are built with the library's own
 * editors, and malformed ones by editing a valid document with jansson.
 */
#include "vt_test.h"

#include <sodium.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/policy.h"

#define SLSA    "https://slsa.dev/provenance/v1"
#define TESTRES "https://in-toto.io/attestation/test-result/v0.1"
#define RELEASE "urn:veritrail:predicate:release:v1"
#define VULNS   "https://in-toto.io/attestation/vulns/v0.1"

#define DAY 86400

/* g: governance; b: builders; t: tester; a: auditor; x: a key not in any root. */
static struct vt_crypto_key *g[4], *b[2], *t, *a, *x;
static int64_t now;

static int setup_keys(void **state)
{
        size_t i;

        (void)state;
        if (sodium_init() < 0)
                return -1;
        for (i = 0; i < 4; i++)
                /* One ECDSA governance key, so both algorithms are exercised. */
                if (vt_crypto_key_generate(i == 2 ? VT_CRYPTO_KEY_ECDSA_P256
                                                  : VT_CRYPTO_KEY_ED25519,
                                           &g[i], NULL) != 0)
                        return -1;
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &b[0], NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ECDSA_P256, &b[1], NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &t, NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &a, NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &x, NULL) != 0)
                return -1;
        now = vt_util_unix_time();
        return 0;
}

static int teardown_keys(void **state)
{
        size_t i;

        (void)state;
        for (i = 0; i < 4; i++)
                vt_crypto_key_free(g[i]);
        vt_crypto_key_free(b[0]);
        vt_crypto_key_free(b[1]);
        vt_crypto_key_free(t);
        vt_crypto_key_free(a);
        vt_crypto_key_free(x);
        return 0;
}

/*
 * The standard root: governance g0 g1 g2 (2 of 3); roles builder {b0, b1}
 * 1-of-2 for SLSA; tester {t} for test results and vulns; auditor {a} for
 * vulns; release {b0, t} 2-of-2 for releases.
 */
static struct vt_policy_root *std_root(int64_t expires)
{
        const struct vt_crypto_key *gov[] = {g[0], g[1], g[2]};
        const struct vt_crypto_key *builders[] = {b[0], b[1]}, *tester[] = {t}, *auditor[] = {a},
                                   *release[] = {b[0], t};
        const char *slsa[] = {SLSA}, *tt[] = {TESTRES, VULNS}, *vulns[] = {VULNS},
                   *rel[] = {RELEASE};
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};

        assert_int_equal(vt_policy_root_new(gov, 3, 2, expires, &r, &d), 0);
        assert_int_equal(vt_policy_root_set_role(r, "builder", builders, 2, 1, slsa, 1, &d), 0);
        assert_int_equal(vt_policy_root_set_role(r, "tester", tester, 1, 1, tt, 2, &d), 0);
        assert_int_equal(vt_policy_root_set_role(r, "auditor", auditor, 1, 1, vulns, 1, &d), 0);
        assert_int_equal(vt_policy_root_set_role(r, "release", release, 2, 2, rel, 1, &d), 0);
        return r;
}

/* Serialise r, parse the bytes back; frees r. */
static struct vt_policy_root *reparse(struct vt_policy_root *r)
{
        struct vt_policy_root *r2 = NULL;
        struct vt_diag d = {""};
        struct vt_buf buf;

        vt_buf_init(&buf);
        assert_int_equal(vt_policy_root_serialize(r, &buf), 0);
        if (vt_policy_root_parse(buf.p, buf.len, &r2, &d) != 0)
                fail_msg("reparse: %s", d.msg);
        vt_buf_release(&buf);
        vt_policy_root_free(r);
        return r2;
}

/* The envelope JSON of r (a new reference). */
static json_t *envelope_json(const struct vt_policy_root *r)
{
        struct vt_buf buf;
        json_t *j;

        vt_buf_init(&buf);
        assert_int_equal(vt_policy_root_serialize(r, &buf), 0);
        j = json_loadb((const char *)buf.p, buf.len, 0, NULL);
        assert_non_null(j);
        vt_buf_release(&buf);
        return j;
}

/* Parse the envelope JSON j (consumed) as a root; the error code, *out on success. */
static int parse_json(json_t *j, struct vt_policy_root **out, struct vt_diag *d)
{
        struct vt_buf buf;
        int err;

        vt_buf_init(&buf);
        assert_int_equal(vt_encoding_json_dump(j, JSON_COMPACT, &buf), 0);
        json_decref(j);
        err = vt_policy_root_parse(buf.p, buf.len, out, d);
        vt_buf_release(&buf);
        return err;
}

/*
 * Add to r a raw signature over its PAE by k (by hand, as an attacker or
 * another tool would): keyid "" omits it, NULL uses k's id; flip corrupts it.
 * Returns the root re-parsed from the edited envelope; frees r.
 */
static struct vt_policy_root *add_sig(struct vt_policy_root *r, const struct vt_crypto_key *k,
                                      const char *keyid, int flip)
{
        json_t *j = envelope_json(r), *s;
        const char *p64 = json_string_value(json_object_get(j, "payload"));
        struct vt_policy_root *r2 = NULL;
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        struct vt_buf payload, pae, b64;
        struct vt_diag d = {""};
        size_t siglen;

        vt_buf_init(&payload);
        vt_buf_init(&pae);
        vt_buf_init(&b64);
        assert_int_equal(vt_encoding_base64_decode_buf(p64, strlen(p64), &payload), 0);
        assert_int_equal(vt_encoding_dsse_pae(VT_POLICY_ROOT_PAYLOAD_TYPE,
                                              strlen(VT_POLICY_ROOT_PAYLOAD_TYPE), payload.p,
                                              payload.len, &pae),
                         0);
        assert_int_equal(vt_crypto_key_sign(k, pae.p, pae.len, sig, &siglen), 0);
        if (flip)
                sig[siglen / 2] ^= 0x01;
        assert_int_equal(vt_encoding_base64_append(&b64, sig, siglen), 0);
        s = json_pack("{s:s}", "sig", (const char *)b64.p);
        if (keyid == NULL)
                keyid = vt_crypto_key_id(k);
        if (keyid[0] != '\0')
                json_object_set_new(s, "keyid", json_string(keyid));
        json_array_append_new(json_object_get(j, "signatures"), s);
        if (parse_json(j, &r2, &d) != 0)
                fail_msg("add_sig: %s", d.msg);
        vt_buf_release(&payload);
        vt_buf_release(&pae);
        vt_buf_release(&b64);
        vt_policy_root_free(r);
        return r2;
}

static void sign(struct vt_policy_root *r, const struct vt_crypto_key *k,
                 const struct vt_policy_root *prev)
{
        struct vt_diag d = {""};

        if (vt_policy_root_sign(r, k, prev, &d) != 0)
                fail_msg("sign: %s", d.msg);
}

static void assert_diag(const struct vt_diag *d, const char *want)
{
        if (strstr(d->msg, want) == NULL)
                fail_msg("diagnostic '%s' does not contain '%s'", d->msg, want);
}

/* ---- round trip and accessors ---------------------------------------------------- */

static void test_roundtrip(void **state)
{
        struct vt_policy_root *r = std_root(now + 30 * DAY), *r2;
        struct vt_buf b1, b2;
        struct vt_policy_role_view v;

        (void)state;
        sign(r, g[0], NULL);
        sign(r, g[2], NULL);
        vt_buf_init(&b1);
        vt_buf_init(&b2);
        assert_int_equal(vt_policy_root_serialize(r, &b1), 0);
        r2 = reparse(r);
        assert_int_equal(vt_policy_root_serialize(r2, &b2), 0);
        assert_int_equal(b1.len, b2.len);
        assert_memory_equal(b1.p, b2.p, b1.len);
        assert_int_equal(b1.p[b1.len - 1], '\n');

        assert_int_equal(vt_policy_root_version(r2), 1);
        assert_int_equal(vt_policy_root_sig_count(r2), 2);
        assert_int_equal(vt_policy_root_role_count(r2), 4);
        /* Roles come sorted by name. */
        assert_int_equal(vt_policy_root_role(r2, 0, &v), 0);
        assert_string_equal(v.name, "auditor");
        assert_int_equal(vt_policy_root_role(r2, 4, &v), VT_ERANGE);
        assert_int_equal(vt_policy_root_role_find(r2, "release", &v), 0);
        assert_int_equal(v.nkeyids, 2);
        assert_int_equal(v.threshold, 2);
        assert_string_equal(v.keyids[0], vt_crypto_key_id(b[0]));
        assert_string_equal(v.keyids[1], vt_crypto_key_id(t));
        assert_int_equal(v.nmay_sign, 1);
        assert_string_equal(v.may_sign[0], RELEASE);
        assert_int_equal(vt_policy_root_role_find(r2, "nobody", &v), VT_ENOENT);
        vt_policy_root_governance(r2, &v);
        assert_string_equal(v.name, "governance");
        assert_int_equal(v.nkeyids, 3);
        assert_int_equal(v.threshold, 2);
        assert_int_equal(v.nmay_sign, 0);
        assert_non_null(vt_policy_root_key(r2, vt_crypto_key_id(g[2])));
        assert_int_equal(vt_crypto_key_is_private(vt_policy_root_key(r2, vt_crypto_key_id(g[2]))),
                         0);
        assert_null(vt_policy_root_key(r2, vt_crypto_key_id(x)));
        vt_buf_release(&b1);
        vt_buf_release(&b2);
        vt_policy_root_free(r2);
}

static void test_unsigned_roundtrip(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        json_t *j;

        (void)state;
        r = reparse(r);
        assert_int_equal(vt_policy_root_sig_count(r), 0);
        j = envelope_json(r);
        assert_int_equal(json_array_size(json_object_get(j, "signatures")), 0);
        assert_true(json_is_array(json_object_get(j, "signatures")));
        json_decref(j);
        vt_policy_root_free(r);
}

/* ---- malformed documents, one test each --------------------------------------------- */

struct bad_case {
        const char *name;
        void (*edit)(json_t *doc); /* edits the document of the standard root */
        int err;
        const char *diag;
};

static const char *some_key(json_t *doc, size_t n)
{
        const char *k;
        json_t *v;

        json_object_foreach(json_object_get(doc, "keys"), k, v) if (n-- == 0) return k;
        return NULL;
}

static void e_unknown(json_t *doc)
{
        json_object_set_new(doc, "comment", json_string("hi"));
}
static void e_missing_roles(json_t *doc)
{
        json_object_del(doc, "roles");
}
static void e_media(json_t *doc)
{
        json_object_set_new(doc, "mediaType",
                            json_string("application/vnd.veritrail.root+json;version=2"));
}
static void e_version0(json_t *doc)
{
        json_object_set_new(doc, "version", json_integer(0));
}
static void e_version_neg(json_t *doc)
{
        json_object_set_new(doc, "version", json_integer(-1));
}
static void e_version_real(json_t *doc)
{
        json_object_set_new(doc, "version", json_real(1.0));
}
static void e_version_string(json_t *doc)
{
        json_object_set_new(doc, "version", json_string("1"));
}
static void e_version_big(json_t *doc)
{
        json_object_set_new(doc, "version", json_integer(((json_int_t)1 << 53) + 1));
}
static void e_expires_offset(json_t *doc)
{
        json_object_set_new(doc, "expires", json_string("2030-01-01T00:00:00+00:00"));
}
static void e_expires_feb30(json_t *doc)
{
        json_object_set_new(doc, "expires", json_string("2030-02-30T00:00:00Z"));
}
static void e_expires_number(json_t *doc)
{
        json_object_set_new(doc, "expires", json_integer(1900000000));
}
static void e_keys_empty(json_t *doc)
{
        json_object_set_new(doc, "keys", json_object());
}
static void e_keyid_upper(json_t *doc)
{
        json_t *keys = json_object_get(doc, "keys");
        char id[65];
        size_t i;

        strcpy(id, some_key(doc, 0));
        json_t *v = json_incref(json_object_get(keys, id));
        json_object_del(keys, id);
        for (i = 0; id[i]; i++)
                if (id[i] >= 'a' && id[i] <= 'f')
                        id[i] = (char)(id[i] - 32);
        json_object_set_new(keys, id, v);
}
static void e_keyid_mismatch(json_t *doc)
{
        /* Swap the PEMs of two keys: each id now names the other's key. */
        json_t *keys = json_object_get(doc, "keys");
        json_t *k0 = json_object_get(keys, some_key(doc, 0)),
               *k1 = json_object_get(keys, some_key(doc, 1));
        json_t *p0 = json_incref(json_object_get(k0, "publicKey"));

        json_object_set(k0, "publicKey", json_object_get(k1, "publicKey"));
        json_object_set_new(k1, "publicKey", p0);
        json_object_set(k0, "type", json_object_get(k1, "type"));
}
static void e_key_type_mismatch(json_t *doc)
{
        json_t *k = json_object_get(json_object_get(doc, "keys"), vt_crypto_key_id(g[0]));
        json_object_set_new(k, "type", json_string("ecdsa-p256"));
}
static void e_key_type_rsa(json_t *doc)
{
        json_t *k = json_object_get(json_object_get(doc, "keys"), vt_crypto_key_id(g[0]));
        json_object_set_new(k, "type", json_string("rsa"));
}
static void e_key_private(json_t *doc)
{
        json_t *k = json_object_get(json_object_get(doc, "keys"), vt_crypto_key_id(g[0]));
        struct vt_buf pem;

        vt_buf_init(&pem);
        assert_int_equal(vt_crypto_key_private_pem(g[0], &pem), 0);
        json_object_set_new(k, "publicKey", json_string((const char *)pem.p));
        vt_buf_wipe(&pem);
}
static void e_key_garbage(json_t *doc)
{
        json_t *k = json_object_get(json_object_get(doc, "keys"), vt_crypto_key_id(g[0]));
        json_object_set_new(k, "publicKey",
                            json_string("-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                        "-----END PUBLIC KEY-----\n"));
}
static void e_key_noncanon(json_t *doc)
{
        json_t *k = json_object_get(json_object_get(doc, "keys"), vt_crypto_key_id(g[0]));
        char pem[512];

        snprintf(pem, sizeof(pem), "%s\n", json_string_value(json_object_get(k, "publicKey")));
        json_object_set_new(k, "publicKey", json_string(pem));
}
static void e_key_extra(json_t *doc)
{
        json_t *k = json_object_get(json_object_get(doc, "keys"), vt_crypto_key_id(g[0]));
        json_object_set_new(k, "owner", json_string("alice"));
}
static void e_key_unused(json_t *doc)
{
        struct vt_buf pem;

        vt_buf_init(&pem);
        assert_int_equal(vt_crypto_key_public_pem(x, &pem), 0);
        json_object_set_new(
            json_object_get(doc, "keys"), vt_crypto_key_id(x),
            json_pack("{s:s, s:s}", "type", "ed25519", "publicKey", (const char *)pem.p));
        vt_buf_release(&pem);
}
static void e_too_many_keys(json_t *doc)
{
        json_t *keys = json_object_get(doc, "keys");
        char id[65];
        int i;

        for (i = 0; i < VT_POLICY_ROOT_KEYS_MAX; i++) {
                snprintf(id, sizeof(id), "%064x", i);
                json_object_set_new(keys, id, json_object());
        }
}
static void e_gov_empty(json_t *doc)
{
        json_object_set_new(json_object_get(doc, "governance"), "keyids", json_array());
}
static void e_gov_unknown_key(json_t *doc)
{
        json_array_set_new(json_object_get(json_object_get(doc, "governance"), "keyids"), 0,
                           json_string(vt_crypto_key_id(x)));
}
static void e_gov_dup(json_t *doc)
{
        json_t *ids = json_object_get(json_object_get(doc, "governance"), "keyids");
        json_array_set(ids, 1, json_array_get(ids, 0));
}
static void e_gov_thr0(json_t *doc)
{
        json_object_set_new(json_object_get(doc, "governance"), "threshold", json_integer(0));
}
static void e_gov_thr_big(json_t *doc)
{
        json_object_set_new(json_object_get(doc, "governance"), "threshold", json_integer(4));
}
static void e_gov_thr_string(json_t *doc)
{
        json_object_set_new(json_object_get(doc, "governance"), "threshold", json_string("2"));
}
static void e_gov_maysign(json_t *doc)
{
        json_object_set_new(json_object_get(doc, "governance"), "maySign", json_pack("[s]", SLSA));
}
static void e_gov_too_many(json_t *doc)
{
        json_t *ids = json_object_get(json_object_get(doc, "governance"), "keyids");
        int i;

        for (i = 0; i < VT_POLICY_ROOT_ROLE_KEYS_MAX; i++)
                json_array_append(ids, json_array_get(ids, 0));
}
static void rename_role(json_t *doc, const char *to)
{
        json_t *roles = json_object_get(doc, "roles");
        json_object_set(roles, to, json_object_get(roles, "builder"));
        json_object_del(roles, "builder");
}
static void e_role_upper(json_t *doc)
{
        rename_role(doc, "Builder");
}
static void e_role_governance(json_t *doc)
{
        rename_role(doc, "governance");
}
static void e_role_long(json_t *doc)
{
        rename_role(doc, "a1234567890123456789012345678901234567890123456789012345678901234");
}
static void e_role_empty_name(json_t *doc)
{
        rename_role(doc, "");
}
static json_t *builder(json_t *doc)
{
        return json_object_get(json_object_get(doc, "roles"), "builder");
}
static void e_role_maysign_empty(json_t *doc)
{
        json_object_set_new(builder(doc), "maySign", json_array());
}
static void e_role_maysign_missing(json_t *doc)
{
        json_object_del(builder(doc), "maySign");
}
static void e_role_maysign_not_uri(json_t *doc)
{
        json_object_set_new(builder(doc), "maySign", json_pack("[s]", "slsa provenance"));
}
static void e_role_maysign_no_scheme(json_t *doc)
{
        json_object_set_new(builder(doc), "maySign", json_pack("[s]", "//slsa.dev/provenance"));
}
static void e_role_maysign_dup(json_t *doc)
{
        json_object_set_new(builder(doc), "maySign", json_pack("[s,s]", SLSA, SLSA));
}
static void e_role_maysign_long(json_t *doc)
{
        char uri[VT_POLICY_ROOT_TYPE_LEN_MAX + 2];

        memset(uri, 'a', sizeof(uri) - 1);
        uri[sizeof(uri) - 1] = '\0';
        memcpy(uri, "urn:", 4);
        json_object_set_new(builder(doc), "maySign", json_pack("[s]", uri));
}
static void e_role_maysign_too_many(json_t *doc)
{
        json_t *types = json_array();
        char uri[64];
        int i;

        for (i = 0; i <= VT_POLICY_ROOT_TYPES_MAX; i++) {
                snprintf(uri, sizeof(uri), "urn:x:%d", i);
                json_array_append_new(types, json_string(uri));
        }
        json_object_set_new(builder(doc), "maySign", types);
}
static void e_role_unknown_key(json_t *doc)
{
        json_array_append_new(json_object_get(builder(doc), "keyids"),
                              json_string(vt_crypto_key_id(x)));
}
static void e_role_thr_big(json_t *doc)
{
        json_object_set_new(builder(doc), "threshold", json_integer(3));
}
static void e_role_extra(json_t *doc)
{
        json_object_set_new(builder(doc), "description", json_string("CI"));
}
static void e_too_many_roles(json_t *doc)
{
        json_t *roles = json_object_get(doc, "roles");
        char name[16];
        int i;

        for (i = 0; i < VT_POLICY_ROOT_ROLES_MAX; i++) {
                snprintf(name, sizeof(name), "r%d", i);
                json_object_set(roles, name, builder(doc));
        }
}

static const struct bad_case bad_cases[] = {
    {"doc_unknown_member", e_unknown, VT_EMALFORMED, "unknown member 'comment'"},
    {"doc_missing_roles", e_missing_roles, VT_EMALFORMED, "member 'roles' is missing"},
    {"doc_media_type", e_media, VT_EMALFORMED, "mediaType"},
    {"version_zero", e_version0, VT_EMALFORMED, "version"},
    {"version_negative", e_version_neg, VT_EMALFORMED, "version"},
    {"version_real", e_version_real, VT_EMALFORMED, "version"},
    {"version_string", e_version_string, VT_EMALFORMED, "version"},
    {"version_too_big", e_version_big, VT_EMALFORMED, "version"},
    {"expires_offset", e_expires_offset, VT_EMALFORMED, "expires"},
    {"expires_feb30", e_expires_feb30, VT_EMALFORMED, "expires"},
    {"expires_number", e_expires_number, VT_EMALFORMED, "expires"},
    {"keys_empty", e_keys_empty, VT_EMALFORMED, "keys: no key"},
    {"keyid_uppercase", e_keyid_upper, VT_EMALFORMED, "64 lowercase hex"},
    {"keyid_mismatch", e_keyid_mismatch, VT_EMALFORMED, "does not match the public key"},
    {"key_type_mismatch", e_key_type_mismatch, VT_EMALFORMED, "type says ecdsa-p256"},
    {"key_type_unknown", e_key_type_rsa, VT_EMALFORMED, "type is not"},
    {"key_private", e_key_private, VT_EMALFORMED, "holds a private key"},
    {"key_garbage", e_key_garbage, VT_EMALFORMED, "publicKey"},
    {"key_noncanonical_pem", e_key_noncanon, VT_ENONCANON, "canonical PEM"},
    {"key_extra_member", e_key_extra, VT_EMALFORMED, "unknown member 'owner'"},
    {"key_unused", e_key_unused, VT_EMALFORMED, "used by neither governance nor a role"},
    {"keys_too_many", e_too_many_keys, VT_ETOOBIG, "more than the limit of 256"},
    {"gov_no_keyids", e_gov_empty, VT_EMALFORMED, "keyids is not a non-empty array"},
    {"gov_unknown_key", e_gov_unknown_key, VT_EMALFORMED, "is not in keys"},
    {"gov_duplicate_key", e_gov_dup, VT_EMALFORMED, "listed twice"},
    {"gov_threshold_zero", e_gov_thr0, VT_EMALFORMED, "threshold"},
    {"gov_threshold_too_big", e_gov_thr_big, VT_EMALFORMED, "threshold"},
    {"gov_threshold_string", e_gov_thr_string, VT_EMALFORMED, "threshold"},
    {"gov_may_sign", e_gov_maysign, VT_EMALFORMED, "unknown member 'maySign'"},
    {"gov_too_many_keyids", e_gov_too_many, VT_ETOOBIG, "more than the limit of 64"},
    {"role_name_upper", e_role_upper, VT_EMALFORMED, "role name"},
    {"role_name_governance", e_role_governance, VT_EMALFORMED, "role name"},
    {"role_name_too_long", e_role_long, VT_EMALFORMED, "role name"},
    {"role_name_empty", e_role_empty_name, VT_EMALFORMED, "role name"},
    {"role_may_sign_empty", e_role_maysign_empty, VT_EMALFORMED, "maySign"},
    {"role_may_sign_missing", e_role_maysign_missing, VT_EMALFORMED, "'maySign' is missing"},
    {"role_may_sign_not_uri", e_role_maysign_not_uri, VT_EMALFORMED, "predicate type URI"},
    {"role_may_sign_no_scheme", e_role_maysign_no_scheme, VT_EMALFORMED, "predicate type URI"},
    {"role_may_sign_duplicate", e_role_maysign_dup, VT_EMALFORMED, "listed twice"},
    {"role_may_sign_too_long", e_role_maysign_long, VT_EMALFORMED, "predicate type URI"},
    {"role_may_sign_too_many", e_role_maysign_too_many, VT_ETOOBIG, "limit of 64"},
    {"role_unknown_key", e_role_unknown_key, VT_EMALFORMED, "is not in keys"},
    {"role_threshold_too_big", e_role_thr_big, VT_EMALFORMED, "threshold"},
    {"role_extra_member", e_role_extra, VT_EMALFORMED, "unknown member 'description'"},
    {"roles_too_many", e_too_many_roles, VT_ETOOBIG, "limit of 64"},
};

/* The standard root's document, as JSON (a new reference). */
static json_t *std_doc(void)
{
        struct vt_policy_root *r = std_root(now + DAY);
        json_t *j = envelope_json(r), *doc;
        const char *p64 = json_string_value(json_object_get(j, "payload"));
        struct vt_buf payload;

        vt_buf_init(&payload);
        assert_int_equal(vt_encoding_base64_decode_buf(p64, strlen(p64), &payload), 0);
        doc = json_loadb((const char *)payload.p, payload.len, 0, NULL);
        assert_non_null(doc);
        vt_buf_release(&payload);
        json_decref(j);
        vt_policy_root_free(r);
        return doc;
}

/* An unsigned root envelope around the document text p[0..n). */
static json_t *wrap(const void *p, size_t n)
{
        struct vt_buf b64;
        json_t *j;

        vt_buf_init(&b64);
        assert_int_equal(vt_encoding_base64_append(&b64, p, n), 0);
        j = json_pack("{s:s, s:s, s:[]}", "payload", (const char *)b64.p, "payloadType",
                      VT_POLICY_ROOT_PAYLOAD_TYPE, "signatures");
        vt_buf_release(&b64);
        return j;
}

static void run_bad_case(void **state)
{
        const struct bad_case *c = *state;
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        json_t *doc = std_doc();
        struct vt_buf text;
        int err;

        c->edit(doc);
        vt_buf_init(&text);
        assert_int_equal(vt_encoding_json_dump(doc, JSON_COMPACT, &text), 0);
        json_decref(doc);
        err = parse_json(wrap(text.p, text.len), &r, &d);
        vt_buf_release(&text);
        if (err != c->err)
                fail_msg("%s: got %d (%s), wanted %d", c->name, err, d.msg, c->err);
        assert_diag(&d, c->diag);
        assert_null(r);
}

/* The unedited standard document parses (so each negative fails for its own reason). */
static void test_std_doc_parses(void **state)
{
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        json_t *doc = std_doc();
        struct vt_buf text;

        (void)state;
        vt_buf_init(&text);
        assert_int_equal(vt_encoding_json_dump(doc, JSON_INDENT(2), &text), 0);
        json_decref(doc);
        /* Any JSON spelling of the document is accepted: the signature covers its bytes. */
        if (parse_json(wrap(text.p, text.len), &r, &d) != 0)
                fail_msg("%s", d.msg);
        vt_policy_root_free(r);
        vt_buf_release(&text);
}

static void expect_parse(const char *text, int want, const char *diag)
{
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};

        assert_int_equal(vt_policy_root_parse((const uint8_t *)text, strlen(text), &r, &d), want);
        assert_diag(&d, diag);
        assert_null(r);
}

static void test_doc_not_json(void **state)
{
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(parse_json(wrap("{\"version\":", 11), &r, &d), VT_EMALFORMED);
        assert_diag(&d, "root: malformed JSON");
        assert_int_equal(parse_json(wrap("{\"version\":1,\"version\":2}", 25), &r, &d),
                         VT_EMALFORMED);
        assert_int_equal(parse_json(wrap("[1,2]", 5), &r, &d), VT_EMALFORMED);
        assert_diag(&d, "root: the document is not a JSON object");
        assert_null(r);
}

static void test_envelope_negatives(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        json_t *j;
        struct vt_diag d = {""};
        struct vt_policy_root *out = NULL;
        uint8_t *big;

        (void)state;
        expect_parse("", VT_EMALFORMED, "envelope");
        expect_parse("[]", VT_EMALFORMED, "not a JSON object");
        expect_parse("{\"payload\":\"\",\"payloadType\":\"x\"}", VT_EMALFORMED,
                     "member 'signatures' is missing");
        expect_parse("{\"payload\":\"\",\"payloadType\":\"x\",\"signatures\":{}}", VT_EMALFORMED,
                     "signatures is not an array");
        expect_parse("{\"payload\":\"e30=\",\"payloadType\":\"application/vnd.in-toto+json\","
                     "\"signatures\":[]}",
                     VT_EMALFORMED, "payloadType is not");
        expect_parse("{\"payload\":\"e30\",\"payloadType\":\"application/vnd.veritrail.root+json\","
                     "\"signatures\":[]}",
                     VT_EMALFORMED, "payload is not valid base64");
        expect_parse(
            "{\"payload\":\"e31=\",\"payloadType\":\"application/vnd.veritrail.root+json\","
            "\"signatures\":[]}",
            VT_ENONCANON, "payload is not canonical base64");
        expect_parse("{\"payload\":1,\"payloadType\":\"application/vnd.veritrail.root+json\","
                     "\"signatures\":[]}",
                     VT_EMALFORMED, "must be strings");

        /* An extra envelope member, signed or not. */
        j = envelope_json(r);
        json_object_set_new(j, "extra", json_true());
        assert_int_equal(parse_json(j, &out, &d), VT_EMALFORMED);
        assert_diag(&d, "envelope: unknown member 'extra'");

        /* Trailing garbage after the envelope. */
        {
                struct vt_buf buf;
                vt_buf_init(&buf);
                assert_int_equal(vt_policy_root_serialize(r, &buf), 0);
                assert_int_equal(vt_buf_puts(&buf, "x"), 0);
                assert_int_equal(vt_policy_root_parse(buf.p, buf.len, &out, &d), VT_EMALFORMED);
                vt_buf_release(&buf);
        }
        /* A signed envelope whose signature is not base64 (the DSSE parser says so). */
        sign(r, g[0], NULL);
        j = envelope_json(r);
        json_object_set_new(json_array_get(json_object_get(j, "signatures"), 0), "sig",
                            json_string("!!"));
        assert_int_equal(parse_json(j, &out, &d), VT_EMALFORMED);

        /* Over the size limit. */
        big = malloc(VT_POLICY_ROOT_MAX + 1);
        assert_non_null(big);
        memset(big, ' ', VT_POLICY_ROOT_MAX + 1);
        assert_int_equal(vt_policy_root_parse(big, VT_POLICY_ROOT_MAX + 1, &out, &d), VT_ETOOBIG);
        free(big);
        assert_null(out);
        vt_policy_root_free(r);
}

/* ---- governance thresholds and expiry --------------------------------------------- */

static void expect_verify(const struct vt_policy_root *r, int64_t at, int want, size_t counted)
{
        struct vt_diag d = {""};
        size_t n = 99;

        assert_int_equal(vt_policy_root_verify(r, at, &n, &d), want);
        if (want != 0)
                assert_true(d.msg[0] != '\0');
        assert_int_equal(n, counted);
}

static void test_threshold_k_of_n(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        struct vt_diag d = {""};

        (void)state;
        expect_verify(r, now, VT_ETHRESHOLD, 0);
        sign(r, g[1], NULL);
        expect_verify(r, now, VT_ETHRESHOLD, 1);
        assert_int_equal(vt_policy_root_verify(r, now, NULL, &d), VT_ETHRESHOLD);
        assert_string_equal(d.msg, "root version 1 has 1 of 2 required governance signatures");
        sign(r, g[2], NULL); /* the ECDSA one */
        expect_verify(r, now, 0, 2);
        sign(r, g[0], NULL);
        expect_verify(r, now, 0, 3);
        r = reparse(r);
        expect_verify(r, now, 0, 3);
        vt_policy_root_free(r);
}

static void test_threshold_duplicate_counts_once(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);

        (void)state;
        sign(r, g[0], NULL);
        /* Same key again, by hand: a fresh Ed25519 signature is identical,
         * an ECDSA one differs; neither counts twice. */
        r = add_sig(r, g[0], NULL, 0);
        r = add_sig(r, g[0], "", 0);
        expect_verify(r, now, VT_ETHRESHOLD, 1);
        r = add_sig(r, g[2], NULL, 0);
        r = add_sig(r, g[2], NULL, 0);
        expect_verify(r, now, 0, 2);
        vt_policy_root_free(r);
}

static void test_threshold_non_governance_key(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        struct vt_policy_sig_report rep;

        (void)state;
        sign(r, g[0], NULL);
        r = add_sig(r, b[0], NULL, 0); /* a role key of this root */
        r = add_sig(r, x, NULL, 0);    /* a key of no root */
        r = add_sig(r, t, "", 0);      /* a role key without key id */
        expect_verify(r, now, VT_ETHRESHOLD, 1);
        assert_int_equal(vt_policy_root_check_sigs(r, NULL, &rep), 0);
        assert_int_equal(rep.nsigs, 4);
        assert_int_equal(rep.nvalid, 1);
        assert_int_equal(rep.threshold, 2);
        assert_int_equal(rep.sig[0].status, 0);
        assert_string_equal(rep.sig[0].keyid, vt_crypto_key_id(g[0]));
        assert_int_equal(rep.sig[1].status, VT_EUNKNOWNKEY);
        assert_string_equal(rep.sig[1].keyid, vt_crypto_key_id(b[0]));
        assert_int_equal(rep.sig[2].status, VT_EUNKNOWNKEY);
        assert_int_equal(rep.sig[3].status, VT_EUNKNOWNKEY);
        assert_string_equal(rep.sig[3].keyid, "");
        vt_policy_root_free(r);
}

static void test_threshold_bad_and_keyless_signatures(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        struct vt_policy_sig_report rep;

        (void)state;
        r = add_sig(r, g[0], NULL, 1); /* corrupted */
        expect_verify(r, now, VT_ETHRESHOLD, 0);
        r = add_sig(r, g[1], "", 0); /* no key id: found by trying the keys */
        expect_verify(r, now, VT_ETHRESHOLD, 1);
        /* A key id hint that lies: the signature is g3's... not in this root. */
        r = add_sig(r, g[3], vt_crypto_key_id(g[0]), 0);
        expect_verify(r, now, VT_ETHRESHOLD, 1);
        r = add_sig(r, g[2], NULL, 0);
        expect_verify(r, now, 0, 2);
        assert_int_equal(vt_policy_root_check_sigs(r, NULL, &rep), 0);
        assert_int_equal(rep.sig[0].status, VT_EBADSIG);
        assert_int_equal(rep.sig[1].status, 0);
        assert_string_equal(rep.sig[1].keyid, vt_crypto_key_id(g[1]));
        assert_int_equal(rep.sig[2].status, VT_EBADSIG);
        assert_int_equal(rep.sig[3].status, 0);
        vt_policy_root_free(r);
}

static void test_expiry(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        struct vt_diag d = {""};

        (void)state;
        sign(r, g[0], NULL);
        sign(r, g[1], NULL);
        expect_verify(r, now + DAY - 1, 0, 2);
        expect_verify(r, now + DAY, VT_EEXPIRED, 2);
        assert_int_equal(vt_policy_root_verify(r, now + 2 * DAY, NULL, &d), VT_EEXPIRED);
        assert_diag(&d, "root version 1 expired at ");
        assert_diag(&d, vt_policy_root_expires_text(r));
        assert_int_equal(vt_policy_root_expires(r), now + DAY);
        vt_policy_root_free(r);

        /* A root made already expired is still built; verification refuses it. */
        r = std_root(now - 10);
        sign(r, g[0], NULL);
        sign(r, g[1], NULL);
        expect_verify(r, now, VT_EEXPIRED, 2);
        vt_policy_root_free(r);
}

/* ---- the successor rule ------------------------------------------------------------ */

/* v1: governance g0 g1 g2 (2 of 3), signed by g0 g1. */
static struct vt_policy_root *v1_root(void)
{
        struct vt_policy_root *r = std_root(now + 30 * DAY);
        sign(r, g[0], NULL);
        sign(r, g[1], NULL);
        return r;
}

/* v2 from v1: governance rotated to g1 g2 g3 (2 of 3), unsigned. */
static struct vt_policy_root *v2_root(const struct vt_policy_root *v1, int64_t version)
{
        const struct vt_crypto_key *gov[] = {g[1], g[2], g[3]};
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        struct vt_buf buf;

        vt_buf_init(&buf);
        assert_int_equal(vt_policy_root_serialize(v1, &buf), 0);
        assert_int_equal(vt_policy_root_parse(buf.p, buf.len, &r, &d), 0);
        vt_buf_release(&buf);
        assert_int_equal(vt_policy_root_set_version(r, version, &d), 0);
        assert_int_equal(vt_policy_root_set_governance(r, gov, 3, 2, &d), 0);
        assert_int_equal(vt_policy_root_sig_count(r), 0);
        return r;
}

static void test_successor_ok(void **state)
{
        struct vt_policy_root *v1 = v1_root(), *v2 = v2_root(v1, 2);
        struct vt_diag d = {""};

        (void)state;
        /* g0 is only in the old root: signing needs the old root to vouch for it. */
        assert_int_equal(vt_policy_root_sign(v2, g[0], NULL, &d), VT_EDENIED);
        sign(v2, g[0], v1);
        sign(v2, g[1], v1);
        sign(v2, g[3], v1);
        v2 = reparse(v2);
        assert_int_equal(vt_policy_root_verify_successor(v1, v2, now, &d), 0);
        assert_int_equal(vt_policy_root_verify(v2, now, NULL, &d), 0);
        /* v1 trusts v2, but v2 does not vouch for v1 (versions only go up). */
        assert_int_equal(vt_policy_root_verify_successor(v2, v1, now, &d), VT_EPOLICY);
        vt_policy_root_free(v2);
        vt_policy_root_free(v1);
}

static void test_successor_old_expired(void **state)
{
        struct vt_policy_root *v1 = v1_root(), *v2 = v2_root(v1, 2);
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(vt_policy_root_set_expires(v2, now + 365 * DAY, &d), 0);
        sign(v2, g[0], v1);
        sign(v2, g[1], v1);
        sign(v2, g[2], v1);
        /* At a time v1 has expired, v2 is still a valid successor. */
        assert_int_equal(vt_policy_root_verify(v1, now + 60 * DAY, NULL, &d), VT_EEXPIRED);
        assert_int_equal(vt_policy_root_verify_successor(v1, v2, now + 60 * DAY, &d), 0);
        vt_policy_root_free(v2);
        vt_policy_root_free(v1);
}

static void test_successor_needs_old_threshold(void **state)
{
        struct vt_policy_root *v1 = v1_root(), *v2 = v2_root(v1, 2);
        struct vt_diag d = {""};

        (void)state;
        /* Only the new keys: g1 is in both, so old count is 1 of 2. */
        sign(v2, g[1], NULL);
        sign(v2, g[3], NULL);
        assert_int_equal(vt_policy_root_verify(v2, now, NULL, &d), 0);
        assert_int_equal(vt_policy_root_verify_successor(v1, v2, now, &d), VT_ETHRESHOLD);
        assert_string_equal(d.msg, "root version 2 has 1 of 2 required signatures by the "
                                   "governance keys of root version 1");
        vt_policy_root_free(v2);
        vt_policy_root_free(v1);
}

static void test_successor_needs_own_threshold(void **state)
{
        struct vt_policy_root *v1 = v1_root(), *v2 = v2_root(v1, 2);
        struct vt_diag d = {""};

        (void)state;
        /* Only the old keys: g0 is no longer governance, so own count is 1 of 2. */
        sign(v2, g[0], v1);
        sign(v2, g[1], v1);
        assert_int_equal(vt_policy_root_verify_successor(v1, v2, now, &d), VT_ETHRESHOLD);
        assert_string_equal(
            d.msg, "root version 2 has 1 of 2 required signatures by its own governance keys");
        vt_policy_root_free(v2);
        vt_policy_root_free(v1);
}

static void test_successor_version(void **state)
{
        struct vt_policy_root *v1 = v1_root(), *v3 = v2_root(v1, 3), *v1b = v2_root(v1, 1);
        struct vt_diag d = {""};

        (void)state;
        sign(v3, g[0], v1);
        sign(v3, g[1], v1);
        sign(v3, g[2], v1);
        assert_int_equal(vt_policy_root_verify_successor(v1, v3, now, &d), VT_EPOLICY);
        assert_string_equal(d.msg, "root version 3 cannot succeed root version 1: its version "
                                   "must be 2");
        sign(v1b, g[0], v1);
        sign(v1b, g[1], v1);
        sign(v1b, g[2], v1);
        assert_int_equal(vt_policy_root_verify_successor(v1, v1b, now, &d), VT_EPOLICY);
        /* Nor backwards. */
        assert_int_equal(vt_policy_root_verify_successor(v3, v1, now, &d), VT_EPOLICY);
        vt_policy_root_free(v1b);
        vt_policy_root_free(v3);
        vt_policy_root_free(v1);
}

static void test_successor_expired(void **state)
{
        struct vt_policy_root *v1 = v1_root(), *v2 = v2_root(v1, 2);
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(vt_policy_root_set_expires(v2, now - 1, &d), 0);
        sign(v2, g[0], v1);
        sign(v2, g[1], v1);
        sign(v2, g[2], v1);
        assert_int_equal(vt_policy_root_verify_successor(v1, v2, now, &d), VT_EEXPIRED);
        vt_policy_root_free(v2);
        vt_policy_root_free(v1);
}

/* ---- authorization ------------------------------------------------------------------ */

/* A signed in-toto envelope for predicate type ptype, signed by keys[0..n). */
static void make_env(struct vt_encoding_dsse *e, const char *ptype,
                     const struct vt_crypto_key *const *keys, size_t n)
{
        struct vt_encoding_subject s;
        struct vt_diag d = {""};
        struct vt_buf st;
        size_t i;

        memset(&s, 0, sizeof(s));
        s.name = "app.tar";
        s.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)"app", 3, &s.sha256);
        vt_buf_init(&st);
        assert_int_equal(vt_encoding_statement_build(&s, 1, ptype, NULL, &st, &d), 0);
        vt_encoding_dsse_init(e);
        assert_int_equal(
            vt_encoding_dsse_set_payload(e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len, &d), 0);
        for (i = 0; i < n; i++)
                assert_int_equal(vt_encoding_dsse_sign(e, keys[i], &d), 0);
        vt_buf_release(&st);
}

static struct vt_policy_root *auth_root(void)
{
        struct vt_policy_root *r = v1_root();
        assert_int_equal(vt_policy_root_verify(r, now, NULL, NULL), 0);
        return r;
}

static int authorize(const struct vt_policy_root *r, const struct vt_encoding_dsse *e,
                     const char *ptype, const char **role, struct vt_diag *d)
{
        *role = NULL;
        d->msg[0] = '\0';
        return vt_policy_root_authorize(r, e, ptype, role, d);
}

static void test_auth_allowed(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k0[] = {b[0]}, *k1[] = {b[1]};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, SLSA, k0, 1);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), 0);
        assert_string_equal(role, "builder");
        assert_int_equal(vt_policy_root_precheck(r, &e, SLSA, &d), 0);
        vt_encoding_dsse_release(&e);
        /* The ECDSA builder key. */
        make_env(&e, SLSA, k1, 1);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), 0);
        assert_string_equal(role, "builder");
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_wrong_role(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k[] = {t}, *kg[] = {g[0]};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, SLSA, k, 1);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EDENIED);
        assert_null(role);
        assert_diag(&d, "predicate type '" SLSA "' may be signed by roles builder; signature 1 is "
                        "by key '");
        assert_diag(&d, "which is in none of them");
        assert_int_equal(vt_policy_root_precheck(r, &e, SLSA, &d), VT_EDENIED);
        vt_encoding_dsse_release(&e);
        /* A governance key is no role. */
        make_env(&e, SLSA, kg, 1);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EDENIED);
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_below_threshold(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *one[] = {b[0]}, *two[] = {b[0], t};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, RELEASE, one, 1);
        assert_int_equal(authorize(r, &e, RELEASE, &role, &d), VT_EDENIED);
        assert_string_equal(d.msg, "predicate type '" RELEASE "' may be signed by roles release; "
                                   "envelope has 1 of 2 required signatures of role 'release'");
        /* The same key twice is still one key. */
        {
                struct vt_encoding_dsse_sig *s = realloc(e.sigs, 2 * sizeof(*s));
                assert_non_null(s);
                e.sigs = s;
                s[1].keyid = strdup(s[0].keyid);
                s[1].sig = malloc(s[0].siglen);
                memcpy(s[1].sig, s[0].sig, s[0].siglen);
                s[1].siglen = s[0].siglen;
                e.nsigs = 2;
        }
        assert_int_equal(authorize(r, &e, RELEASE, &role, &d), VT_EDENIED);
        assert_diag(&d, "envelope has 1 of 2 required");
        vt_encoding_dsse_release(&e);
        make_env(&e, RELEASE, two, 2);
        assert_int_equal(authorize(r, &e, RELEASE, &role, &d), 0);
        assert_string_equal(role, "release");
        vt_encoding_dsse_release(&e);
        /* No signature at all. */
        make_env(&e, SLSA, NULL, 0);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EDENIED);
        assert_diag(&d, "envelope has 0 of 1 required signatures of role 'builder'");
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_unknown_key(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k[] = {b[0], x};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;
        char want[64];

        (void)state;
        make_env(&e, SLSA, k, 2);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EDENIED);
        snprintf(want, sizeof(want), "signature 2: key '%.16s...' is not in the root",
                 vt_crypto_key_id(x));
        assert_string_equal(d.msg, want);
        assert_int_equal(vt_policy_root_precheck(r, &e, SLSA, &d), VT_EDENIED);
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_bad_signature(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k[] = {b[0]};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, SLSA, k, 1);
        e.sigs[0].sig[3] ^= 0x40;
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EBADSIG);
        assert_diag(&d, "signature 1: does not verify with key '");
        /* The cheap check cannot see it. */
        assert_int_equal(vt_policy_root_precheck(r, &e, SLSA, &d), 0);
        vt_encoding_dsse_release(&e);

        /* A key id is a hint, never trusted: b0's signature labelled as b1's. */
        make_env(&e, SLSA, k, 1);
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = strdup(vt_crypto_key_id(b[1]));
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EBADSIG);
        vt_encoding_dsse_release(&e);

        /* Signed over another payload type (PAE binds the type). */
        make_env(&e, SLSA, NULL, 0);
        free(e.payload_type);
        e.payload_type = strdup("application/json");
        e.payload_type_len = strlen(e.payload_type);
        assert_int_equal(vt_encoding_dsse_sign(&e, b[0], &d), 0);
        free(e.payload_type);
        e.payload_type = strdup(VT_ENCODING_INTOTO_PAYLOAD_TYPE);
        e.payload_type_len = strlen(e.payload_type);
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EBADSIG);
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_type_not_allowed(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k[] = {b[0]};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, "https://example.com/other/v1", k, 1);
        assert_int_equal(authorize(r, &e, "https://example.com/other/v1", &role, &d), VT_EDENIED);
        assert_string_equal(d.msg,
                            "no role may sign predicate type 'https://example.com/other/v1'");
        /* Prefixes and case differ: exact match only. */
        assert_int_equal(authorize(r, &e, "https://slsa.dev/provenance/v1/", &role, &d),
                         VT_EDENIED);
        assert_int_equal(authorize(r, &e, "HTTPS://slsa.dev/provenance/v1", &role, &d), VT_EDENIED);
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_two_roles(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *kt[] = {t}, *ka[] = {a}, *kb[] = {b[0]};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, VULNS, kt, 1);
        assert_int_equal(authorize(r, &e, VULNS, &role, &d), 0);
        assert_string_equal(role, "tester");
        vt_encoding_dsse_release(&e);
        make_env(&e, VULNS, ka, 1);
        assert_int_equal(authorize(r, &e, VULNS, &role, &d), 0);
        assert_string_equal(role, "auditor");
        vt_encoding_dsse_release(&e);
        make_env(&e, VULNS, kb, 1);
        assert_int_equal(authorize(r, &e, VULNS, &role, &d), VT_EDENIED);
        assert_diag(&d, "may be signed by roles auditor, tester;");
        vt_encoding_dsse_release(&e);
        make_env(&e, VULNS, NULL, 0);
        assert_int_equal(authorize(r, &e, VULNS, &role, &d), VT_EDENIED);
        assert_string_equal(d.msg, "predicate type '" VULNS "' may be signed by roles auditor, "
                                   "tester; envelope has 0 of 1 required signatures of role "
                                   "'auditor'");
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_no_keyid(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k[] = {b[1]}, *kx[] = {x};
        struct vt_encoding_dsse e;
        struct vt_diag d;
        const char *role;

        (void)state;
        make_env(&e, SLSA, k, 1);
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = NULL;
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), 0);
        assert_string_equal(role, "builder");
        vt_encoding_dsse_release(&e);
        make_env(&e, SLSA, kx, 1);
        free(e.sigs[0].keyid);
        e.sigs[0].keyid = NULL;
        assert_int_equal(authorize(r, &e, SLSA, &role, &d), VT_EDENIED);
        assert_diag(&d, "signature 1 has no key id and verifies with no key of roles builder");
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

static void test_auth_bytes(void **state)
{
        struct vt_policy_root *r = auth_root();
        const struct vt_crypto_key *k[] = {t};
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};
        const char *role = NULL;
        struct vt_buf b1;

        (void)state;
        make_env(&e, TESTRES, k, 1);
        vt_buf_init(&b1);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &b1), 0);
        assert_int_equal(vt_policy_root_authorize_bytes(r, b1.p, b1.len, &role, &d), 0);
        assert_string_equal(role, "tester");
        assert_int_equal(vt_policy_root_authorize_bytes(r, b1.p, b1.len - 1, &role, &d),
                         VT_EMALFORMED);
        vt_buf_release(&b1);
        vt_encoding_dsse_release(&e);
        vt_policy_root_free(r);
}

/* ---- editors ------------------------------------------------------------------------- */

static void test_new_invalid(void **state)
{
        const struct vt_crypto_key *dup[] = {g[0], g[0]}, *two[] = {g[0], g[1]};
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};

        (void)state;
        assert_int_equal(vt_policy_root_new(two, 0, 1, now, &r, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_new(dup, 2, 1, now, &r, &d), VT_EINVAL);
        assert_diag(&d, "given twice");
        assert_int_equal(vt_policy_root_new(two, 2, 0, now, &r, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_new(two, 2, 3, now, &r, &d), VT_EINVAL);
        assert_diag(&d, "threshold 3");
        assert_int_equal(vt_policy_root_new(two, 2, 1, -1, &r, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_new(two, 2, 1, (int64_t)300000000000, &r, &d), VT_EINVAL);
        assert_null(r);
        assert_int_equal(vt_policy_root_new(two, 2, 2, now, &r, &d), 0);
        assert_int_equal(vt_policy_root_version(r), 1);
        assert_int_equal(vt_policy_root_role_count(r), 0);
        vt_policy_root_free(r);
}

static void test_set_role_invalid_leaves_root(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        const struct vt_crypto_key *k[] = {b[0]}, *dup[] = {b[0], b[0]};
        const char *types[] = {SLSA}, *bad[] = {"not a uri"}, *dupt[] = {SLSA, SLSA};
        struct vt_diag d = {""};
        struct vt_buf before, after;
        size_t i;
        char name[80];
        const char *many[VT_POLICY_ROOT_TYPES_MAX + 1];

        (void)state;
        sign(r, g[0], NULL);
        vt_buf_init(&before);
        vt_buf_init(&after);
        assert_int_equal(vt_policy_root_serialize(r, &before), 0);
        assert_int_equal(vt_policy_root_set_role(r, "Bad", k, 1, 1, types, 1, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "governance", k, 1, 1, types, 1, &d),
                         VT_EINVAL);
        memset(name, 'a', 65);
        name[65] = '\0';
        assert_int_equal(vt_policy_root_set_role(r, name, k, 1, 1, types, 1, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "ok", k, 1, 1, bad, 1, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "ok", k, 1, 1, dupt, 2, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "ok", k, 1, 1, types, 0, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "ok", k, 0, 1, types, 1, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "ok", k, 1, 2, types, 1, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_role(r, "ok", dup, 2, 1, types, 1, &d), VT_EINVAL);
        for (i = 0; i <= VT_POLICY_ROOT_TYPES_MAX; i++)
                many[i] = SLSA;
        assert_int_equal(
            vt_policy_root_set_role(r, "ok", k, 1, 1, many, VT_POLICY_ROOT_TYPES_MAX + 1, &d),
            VT_ETOOBIG);
        assert_int_equal(vt_policy_root_remove_role(r, "nobody", &d), VT_ENOENT);
        assert_int_equal(vt_policy_root_set_version(r, 0, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_set_expires(r, -5, &d), VT_EINVAL);
        assert_int_equal(vt_policy_root_serialize(r, &after), 0);
        assert_int_equal(before.len, after.len);
        assert_memory_equal(before.p, after.p, before.len);
        vt_buf_release(&before);
        vt_buf_release(&after);
        vt_policy_root_free(r);
}

static void test_role_limit(void **state)
{
        const struct vt_crypto_key *gov[] = {g[0]}, *k[] = {b[0]};
        const char *types[] = {SLSA};
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        char name[16];
        int i;

        (void)state;
        assert_int_equal(vt_policy_root_new(gov, 1, 1, now + DAY, &r, &d), 0);
        for (i = 0; i < VT_POLICY_ROOT_ROLES_MAX; i++) {
                snprintf(name, sizeof(name), "r%d", i);
                assert_int_equal(vt_policy_root_set_role(r, name, k, 1, 1, types, 1, &d), 0);
        }
        assert_int_equal(vt_policy_root_set_role(r, "one-more", k, 1, 1, types, 1, &d), VT_ETOOBIG);
        /* Replacing an existing role is still fine at the limit. */
        assert_int_equal(vt_policy_root_set_role(r, "r7", k, 1, 1, types, 1, &d), 0);
        r = reparse(r);
        assert_int_equal(vt_policy_root_role_count(r), VT_POLICY_ROOT_ROLES_MAX);
        vt_policy_root_free(r);
}

static void test_edit_drops_signatures_and_prunes(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        const struct vt_crypto_key *k[] = {x};
        const char *types[] = {SLSA};
        struct vt_policy_role_view v;
        struct vt_diag d = {""};

        (void)state;
        sign(r, g[0], NULL);
        sign(r, g[1], NULL);
        assert_int_equal(vt_policy_root_verify(r, now, NULL, &d), 0);
        /* Replace builder: b1 is used by no role any more and leaves the key map. */
        assert_int_equal(vt_policy_root_set_role(r, "builder", k, 1, 1, types, 1, &d), 0);
        assert_int_equal(vt_policy_root_sig_count(r), 0);
        assert_int_equal(vt_policy_root_verify(r, now, NULL, &d), VT_ETHRESHOLD);
        assert_null(vt_policy_root_key(r, vt_crypto_key_id(b[1])));
        assert_non_null(vt_policy_root_key(r, vt_crypto_key_id(b[0]))); /* still in release */
        assert_non_null(vt_policy_root_key(r, vt_crypto_key_id(x)));
        assert_int_equal(vt_policy_root_role_find(r, "builder", &v), 0);
        assert_int_equal(v.nkeyids, 1);
        assert_int_equal(vt_policy_root_remove_role(r, "auditor", &d), 0);
        assert_null(vt_policy_root_key(r, vt_crypto_key_id(a)));
        assert_int_equal(vt_policy_root_role_count(r), 3);
        r = reparse(r);
        assert_int_equal(vt_policy_root_role_count(r), 3);
        vt_policy_root_free(r);
}

static void test_sign_refusals(void **state)
{
        struct vt_policy_root *r = std_root(now + DAY);
        struct vt_policy_root *pub = NULL;
        struct vt_diag d = {""};
        struct vt_buf pem;
        struct vt_crypto_key *gpub = NULL;

        (void)state;
        vt_buf_init(&pem);
        assert_int_equal(vt_crypto_key_public_pem(g[0], &pem), 0);
        assert_int_equal(vt_crypto_key_load_pem(pem.p, pem.len, NULL, &gpub, &d), 0);
        assert_int_equal(vt_policy_root_sign(r, gpub, NULL, &d), VT_ENOTPRIV);
        assert_int_equal(vt_policy_root_sign(r, b[0], NULL, &d), VT_EDENIED);
        assert_diag(&d, "is not a governance key of root version 1");
        assert_int_equal(vt_policy_root_sign(r, x, NULL, &d), VT_EDENIED);
        sign(r, g[0], NULL);
        assert_int_equal(vt_policy_root_sign(r, g[0], NULL, &d), VT_EEXIST);
        assert_diag(&d, "root version 1 is already signed by key '");
        /* The ECDSA key too (its signatures differ each time). */
        sign(r, g[2], NULL);
        assert_int_equal(vt_policy_root_sign(r, g[2], NULL, &d), VT_EEXIST);
        assert_int_equal(vt_policy_root_sig_count(r), 2);
        /* After a reload as well. */
        r = reparse(r);
        assert_int_equal(vt_policy_root_sign(r, g[0], NULL, &d), VT_EEXIST);
        vt_buf_release(&pem);
        vt_crypto_key_free(gpub);
        vt_policy_root_free(pub);
        vt_policy_root_free(r);
}

/* ---- time ------------------------------------------------------------------------------ */

static void test_time(void **state)
{
        static const char *bad[] = {
            "2030-01-01T00:00:00",  "2030-01-01 00:00:00Z",   "2030-1-01T00:00:00Z",
            "2023-02-29T00:00:00Z", "1969-12-31T23:59:59Z",   "2030-01-01T24:00:00Z",
            "2030-01-01T00:60:00Z", "2030-01-01T00:00:60Z",   "2030-13-01T00:00:00Z",
            "2030-00-01T00:00:00Z", "2030-01-00T00:00:00Z",   "2030-01-01t00:00:00z",
            "+030-01-01T00:00:00Z", "2030-01-01T00:00:00.5Z",
        };
        char out[21];
        int64_t v;
        size_t i;

        (void)state;
        assert_int_equal(vt_policy_time_parse("1970-01-01T00:00:00Z", 20, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(vt_policy_time_parse("2024-02-29T12:34:56Z", 20, &v), 0);
        assert_int_equal(v, 1709210096);
        assert_int_equal(vt_policy_time_format(v, out), 0);
        assert_string_equal(out, "2024-02-29T12:34:56Z");
        assert_int_equal(vt_policy_time_parse("2000-02-29T00:00:00Z", 20, &v), 0);
        assert_int_equal(vt_policy_time_parse("2100-02-29T00:00:00Z", 20, &v), VT_EMALFORMED);
        assert_int_equal(vt_policy_time_parse("9999-12-31T23:59:59Z", 20, &v), 0);
        assert_int_equal(vt_policy_time_format(v, out), 0);
        assert_string_equal(out, "9999-12-31T23:59:59Z");
        assert_int_equal(vt_policy_time_format(v + 1, out), VT_EINVAL);
        assert_int_equal(vt_policy_time_format(-1, out), VT_EINVAL);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (vt_policy_time_parse(bad[i], strlen(bad[i]), &v) != VT_EMALFORMED)
                        fail_msg("accepted '%s'", bad[i]);
        /* Every day for a few centuries round-trips. */
        for (v = 0; v < (int64_t)400 * 366 * DAY; v += DAY + 3607) {
                int64_t back;
                assert_int_equal(vt_policy_time_format(v, out), 0);
                assert_int_equal(vt_policy_time_parse(out, 20, &back), 0);
                assert_int_equal(back, v);
        }
}

#define T(f) cmocka_unit_test(f)

int main(int argc, char **argv)
{
        static const struct CMUnitTest tests[] = {
            T(test_roundtrip),
            T(test_unsigned_roundtrip),
            T(test_std_doc_parses),
            T(test_doc_not_json),
            T(test_envelope_negatives),
            T(test_threshold_k_of_n),
            T(test_threshold_duplicate_counts_once),
            T(test_threshold_non_governance_key),
            T(test_threshold_bad_and_keyless_signatures),
            T(test_expiry),
            T(test_successor_ok),
            T(test_successor_old_expired),
            T(test_successor_needs_old_threshold),
            T(test_successor_needs_own_threshold),
            T(test_successor_version),
            T(test_successor_expired),
            T(test_auth_allowed),
            T(test_auth_wrong_role),
            T(test_auth_below_threshold),
            T(test_auth_unknown_key),
            T(test_auth_bad_signature),
            T(test_auth_type_not_allowed),
            T(test_auth_two_roles),
            T(test_auth_no_keyid),
            T(test_auth_bytes),
            T(test_new_invalid),
            T(test_set_role_invalid_leaves_root),
            T(test_role_limit),
            T(test_edit_drops_signatures_and_prunes),
            T(test_sign_refusals),
            T(test_time),
        };
        enum {
                NT = sizeof(tests) / sizeof(tests[0]),
                NBAD = sizeof(bad_cases) / sizeof(bad_cases[0])
        };
        struct CMUnitTest all[NT + NBAD];
        char names[NBAD][64];
        size_t i;

        /* A test name (or a pattern) as argument runs only the tests it matches. */
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        memcpy(all, tests, sizeof(tests));
        /* One named test per malformed document ("malformed_<case>"). */
        for (i = 0; i < NBAD; i++) {
                snprintf(names[i], sizeof(names[i]), "malformed_%s", bad_cases[i].name);
                all[NT + i].name = names[i];
                all[NT + i].test_func = run_bad_case;
                all[NT + i].setup_func = NULL;
                all[NT + i].teardown_func = NULL;
                all[NT + i].initial_state = (void *)&bad_cases[i];
        }
        return _cmocka_run_group_tests("root", all, NT + NBAD, setup_keys, teardown_keys);
}
