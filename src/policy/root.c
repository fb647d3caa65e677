/*
 * root.c: the governance root of trust (docs/FORMATS.md "Governance root").
 *
 * The root document, carried as the payload of a DSSE envelope of type
 * application/vnd.veritrail.root+json:
 *
 *   {"mediaType":"application/vnd.veritrail.root+json;version=1",
 *    "version":N, "expires":"YYYY-MM-DDTHH:MM:SSZ",
 *    "keys":{"<keyid>":{"type":"ed25519"|"ecdsa-p256","publicKey":"<SPKI PEM>"}},
 *    "governance":{"keyids":[...],"threshold":N},
 *    "roles":{"<name>":{"keyids":[...],"threshold":N,"maySign":["<URI>",...]}}}
 *
 * Invariants the parser enforces (and the editors therefore keep): exactly
 * these members; each keyid is vt_crypto_key_id() of its PEM, which is the
 * canonical PEM of a public key of the named type; every key is used by
 * governance or a role; keyid lists are non-empty, without duplicates, within
 * limits, and name keys of the map; 1 <= threshold <= len(keyids); role names
 * are [a-z0-9-]{1,64} and not "governance"; maySign lists are non-empty sets
 * of URIs.
 *
 * Signatures follow TUF root.json (theupdateframework specification §5.3):
 * a threshold of distinct governance keys; a successor is signed by a
 * threshold of the old and of the new governance keys, with version + 1.
 *
 * Loaded once, a root holds one vt_crypto_key per key, a key table sorted by
 * key id (binary search from a signature's key id hint), a 64-bit role mask
 * per key and a sorted index from predicate type to the mask of roles that
 * may sign it, so authorizing an envelope costs its signature checks and
 * nothing that grows with the root.
 *
 * The DSSE parser refuses an envelope without signatures (DSSE requires at
 * least one), but a root being prepared has none yet: such an envelope is
 * read here (same members, standard padded base64); the DSSE serializer
 * writes it as "signatures":[].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/policy.h"

#define GOVERNANCE "governance"

struct root_key {
        char id[VT_CRYPTO_KEYID_LEN + 1];
        struct vt_crypto_key *key;
        uint64_t roles; /* bit i: roles[i] holds this key */
        int governance; /* 1: a governance key */
};

struct root_role {
        const char *name;    /* points into doc (or the GOVERNANCE literal) */
        size_t *kidx;        /* indexes into keys[], document order */
        const char **keyids; /* keys[kidx[i]].id */
        size_t nkeys;
        size_t threshold;
        const char **types; /* point into doc */
        size_t ntypes;
};

/* One predicate type and the roles that may sign it. */
struct type_entry {
        const char *type;
        uint64_t roles;
};

struct vt_policy_root {
        json_t *doc;                 /* the parsed document */
        struct vt_encoding_dsse env; /* payload type, payload bytes, signatures */
        int64_t version;
        int64_t expires;
        char expires_text[21];
        struct root_key *keys; /* sorted by id */
        size_t nkeys;
        struct root_role gov;
        const struct vt_crypto_key **govkeys; /* gov's keys, for vt_encoding_dsse_verify */
        struct root_role *roles;              /* sorted by name */
        size_t nroles;
        struct type_entry *types; /* sorted by type */
        size_t ntypes;
};

/* ---- time ---------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int64_t m)
{
        static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 ? 28 + leap : days[m - 1];
}

/* Exactly n decimal digits at s into *v; 0 or -1. */
static int digits(const char *s, int n, int64_t *v)
{
        int i;

        *v = 0;
        for (i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                *v = *v * 10 + (s[i] - '0');
        }
        return 0;
}

/* see policy.h */
int vt_policy_time_parse(const char *s, size_t n, int64_t *out)
{
        int64_t y, mo, d, h, mi, se;

        /* RFC 3339 restricted to one spelling: "YYYY-MM-DDTHH:MM:SSZ". */
        if (n != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
            s[19] != 'Z')
                return VT_EMALFORMED;
        if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
            digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
                return VT_EMALFORMED;
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
            mi > 59 || se > 59)
                return VT_EMALFORMED;
        *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
        return 0;
}

/* The n low decimal digits of v >= 0, zero-padded. */
static void put_digits(char *out, int64_t v, int n)
{
        while (n-- > 0) {
                out[n] = (char)('0' + v % 10);
                v /= 10;
        }
}

#define TIME_MAX ((int64_t)253402300799) /* 9999-12-31T23:59:59Z */

/* see policy.h */
int vt_policy_time_format(int64_t t, char out[21])
{
        int64_t y, m, d, s;

        if (t < 0 || t > TIME_MAX)
                return VT_EINVAL;
        civil_from_days(t / 86400, &y, &m, &d);
        s = t % 86400;
        put_digits(out, y, 4);
        out[4] = '-';
        put_digits(out + 5, m, 2);
        out[7] = '-';
        put_digits(out + 8, d, 2);
        out[10] = 'T';
        put_digits(out + 11, s / 3600, 2);
        out[13] = ':';
        put_digits(out + 14, s / 60 % 60, 2);
        out[16] = ':';
        put_digits(out + 17, s % 60, 2);
        out[19] = 'Z';
        out[20] = '\0';
        return 0;
}

/* ---- small helpers --------------------------------------------------------- */

/*
 * A key id (or an untrusted hint) for a message: at most 16 characters,
 * anything unprintable or a quote shown as '?', "..." when cut.
 */
struct short_id {
        char s[24];
};

static struct short_id short_id(const char *id)
{
        struct short_id r;
        size_t i;

        for (i = 0; i < 16 && id[i] != '\0'; i++)
                r.s[i] = (id[i] > 0x20 && id[i] < 0x7f && id[i] != '\'') ? id[i] : '?';
        if (id[i] != '\0') {
                memcpy(r.s + i, "...", 3);
                i += 3;
        }
        r.s[i] = '\0';
        return r;
}

/* A predicate type for a message: at most 96 bytes, unprintables as '?'. */
struct short_type {
        char s[104];
};

static struct short_type short_type(const char *t)
{
        struct short_type r;
        size_t i;

        for (i = 0; i < 96 && t[i] != '\0'; i++)
                r.s[i] = ((unsigned char)t[i] >= 0x20 && t[i] != 0x7f) ? t[i] : '?';
        if (t[i] != '\0') {
                memcpy(r.s + i, "...", 3);
                i += 3;
        }
        r.s[i] = '\0';
        return r;
}

static int is_hex_id(const char *s)
{
        size_t i;

        for (i = 0; i < VT_CRYPTO_KEYID_LEN; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return s[i] == '\0';
}

/* Role names: [a-z0-9-]{1,64}, "governance" reserved. */
static int role_name_valid(const char *s)
{
        size_t i;

        for (i = 0; s[i] != '\0'; i++)
                if (i >= VT_POLICY_ROOT_NAME_MAX ||
                    !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return 0;
        return i > 0 && strcmp(s, GOVERNANCE) != 0;
}

/*
 * A predicate type: an absolute URI (RFC 3986 §3.1 scheme, then ':') of
 * 1..256 visible ASCII characters. We only compare them byte for byte.
 */
static int type_valid(const char *s, size_t n)
{
        size_t i, colon = 0;

        if (n == 0 || n > VT_POLICY_ROOT_TYPE_LEN_MAX ||
            !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
                return 0;
        for (i = 0; i < n; i++) {
                if (s[i] <= 0x20 || s[i] >= 0x7f)
                        return 0;
                if (colon == 0) {
                        if (s[i] == ':')
                                colon = i;
                        else if (!((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') &&
                                 !(s[i] >= '0' && s[i] <= '9') && s[i] != '+' && s[i] != '-' &&
                                 s[i] != '.')
                                return 0;
                }
        }
        return colon > 0 && colon + 1 < n;
}

static int key_cmp(const void *a, const void *b)
{
        return strcmp(((const struct root_key *)a)->id, ((const struct root_key *)b)->id);
}

static int role_cmp(const void *a, const void *b)
{
        return strcmp(((const struct root_role *)a)->name, ((const struct root_role *)b)->name);
}

static int type_cmp(const void *a, const void *b)
{
        return strcmp(((const struct type_entry *)a)->type, ((const struct type_entry *)b)->type);
}

/* The index of the key with this id in r->keys, or -1. */
static long find_key(const struct vt_policy_root *r, const char *id)
{
        size_t lo = 0, hi = r->nkeys;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(id, r->keys[mid].id);

                if (c == 0)
                        return (long)mid;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -1;
}

static const struct type_entry *find_type(const struct vt_policy_root *r, const char *type)
{
        size_t lo = 0, hi = r->ntypes;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(type, r->types[mid].type);

                if (c == 0)
                        return &r->types[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* Object o has exactly the n members names[] (all required). */
static int exact_members(const json_t *o, const char *const *names, size_t n, const char *what,
                         struct vt_diag *d)
{
        const char *k;
        json_t *v;
        size_t i;

        json_object_foreach((json_t *)o, k, v)
        {
                for (i = 0; i < n; i++)
                        if (strcmp(k, names[i]) == 0)
                                break;
                if (i == n) {
                        struct short_type t = short_type(k);
                        vt_diag_set(d, "%s: unknown member '%s'", what, t.s);
                        return VT_EMALFORMED;
                }
        }
        for (i = 0; i < n; i++)
                if (json_object_get(o, names[i]) == NULL) {
                        vt_diag_set(d, "%s: member '%s' is missing", what, names[i]);
                        return VT_EMALFORMED;
                }
        return 0;
}

/* ---- loading a document ------------------------------------------------------ */

static void role_release(struct root_role *ro)
{
        free(ro->kidx);
        free(ro->keyids);
        free(ro->types);
        memset(ro, 0, sizeof(*ro));
}

/* Free everything r holds, leaving it zeroed. */
static void root_release(struct vt_policy_root *r)
{
        size_t i;

        for (i = 0; i < r->nkeys; i++)
                vt_crypto_key_free(r->keys[i].key);
        free(r->keys);
        role_release(&r->gov);
        for (i = 0; i < r->nroles; i++)
                role_release(&r->roles[i]);
        free(r->roles);
        free(r->types);
        free(r->govkeys);
        vt_encoding_dsse_release(&r->env);
        json_decref(r->doc);
        memset(r, 0, sizeof(*r));
}

/* The "keys" member: every key loaded, checked against its key id, sorted. */
static int load_keys(struct vt_policy_root *r, const json_t *keys, struct vt_diag *d)
{
        static const char *const members[] = {"type", "publicKey"};
        const char *id;
        json_t *v;
        size_t n = json_object_size(keys);
        char what[96];
        int err;

        if (n == 0) {
                vt_diag_set(d, "root: keys: no key");
                return VT_EMALFORMED;
        }
        if (n > VT_POLICY_ROOT_KEYS_MAX) {
                vt_diag_set(d, "root: keys: %zu keys, more than the limit of %d", n,
                            VT_POLICY_ROOT_KEYS_MAX);
                return VT_ETOOBIG;
        }
        if ((r->keys = calloc(n, sizeof(*r->keys))) == NULL)
                return VT_ENOMEM;
        json_object_foreach((json_t *)keys, id, v)
        {
                struct root_key *k = &r->keys[r->nkeys];
                struct short_id sid = short_id(id);
                const json_t *type, *pem;
                struct vt_buf canon;
                int t, same;

                snprintf(what, sizeof(what), "root: keys: '%s'", sid.s);
                if (!is_hex_id(id)) {
                        vt_diag_set(d, "%s: a key id is 64 lowercase hex characters", what);
                        return VT_EMALFORMED;
                }
                if (!json_is_object(v)) {
                        vt_diag_set(d, "%s: not an object", what);
                        return VT_EMALFORMED;
                }
                if ((err = exact_members(v, members, 2, what, d)) != 0)
                        return err;
                type = json_object_get(v, "type");
                pem = json_object_get(v, "publicKey");
                if (!json_is_string(type) ||
                    (t = vt_crypto_key_type_parse(json_string_value(type))) == 0) {
                        vt_diag_set(d, "%s: type is not \"ed25519\" or \"ecdsa-p256\"", what);
                        return VT_EMALFORMED;
                }
                if (!json_is_string(pem) || json_string_length(pem) > VT_CRYPTO_PEM_MAX) {
                        vt_diag_set(d, "%s: publicKey is not a PEM string", what);
                        return VT_EMALFORMED;
                }
                err = vt_crypto_key_load_pem((const uint8_t *)json_string_value(pem),
                                             json_string_length(pem), NULL, &k->key, d);
                if (err != 0) {
                        vt_diag_prefix(d, "%s: publicKey", what);
                        return err == VT_ENOMEM ? err : VT_EMALFORMED;
                }
                r->nkeys++;
                if (vt_crypto_key_is_private(k->key)) {
                        vt_diag_set(d, "%s: publicKey holds a private key", what);
                        return VT_EMALFORMED;
                }
                if (vt_crypto_key_type(k->key) != t) {
                        vt_diag_set(d, "%s: type says %s but the key is %s", what,
                                    vt_crypto_key_type_name(t),
                                    vt_crypto_key_type_name(vt_crypto_key_type(k->key)));
                        return VT_EMALFORMED;
                }
                if (strcmp(vt_crypto_key_id(k->key), id) != 0) {
                        struct short_id real = short_id(vt_crypto_key_id(k->key));
                        vt_diag_set(d, "%s: key id does not match the public key (its id is '%s')",
                                    what, real.s);
                        return VT_EMALFORMED;
                }
                /* One accepted spelling per key: the PEM we would write. */
                vt_buf_init(&canon);
                if (vt_crypto_key_public_pem(k->key, &canon) != 0) {
                        vt_buf_release(&canon);
                        return VT_ENOMEM;
                }
                same = canon.len == json_string_length(pem) &&
                       memcmp(canon.p, json_string_value(pem), canon.len) == 0;
                vt_buf_release(&canon);
                if (!same) {
                        vt_diag_set(d,
                                    "%s: publicKey is not in canonical PEM form (64-column "
                                    "base64, one trailing newline)",
                                    what);
                        return VT_ENONCANON;
                }
                memcpy(k->id, id, VT_CRYPTO_KEYID_LEN + 1);
        }
        /* jansson rejected duplicate members, so ids are distinct. */
        qsort(r->keys, r->nkeys, sizeof(*r->keys), key_cmp);
        return 0;
}

/* A {"keyids":[...],"threshold":N[,"maySign":[...]]} object into ro. */
static int load_role(struct vt_policy_root *r, struct root_role *ro, const json_t *o, int is_gov,
                     const char *what, struct vt_diag *d)
{
        static const char *const role_members[] = {"keyids", "threshold", "maySign"};
        const json_t *keyids, *thr, *types, *v;
        json_int_t t;
        size_t i, j, n;
        int err;

        if (!json_is_object(o)) {
                vt_diag_set(d, "%s: not an object", what);
                return VT_EMALFORMED;
        }
        if ((err = exact_members(o, role_members, is_gov ? 2 : 3, what, d)) != 0)
                return err;
        keyids = json_object_get(o, "keyids");
        thr = json_object_get(o, "threshold");
        n = json_array_size(keyids);
        if (!json_is_array(keyids) || n == 0) {
                vt_diag_set(d, "%s: keyids is not a non-empty array", what);
                return VT_EMALFORMED;
        }
        if (n > VT_POLICY_ROOT_ROLE_KEYS_MAX) {
                vt_diag_set(d, "%s: %zu keyids, more than the limit of %d", what, n,
                            VT_POLICY_ROOT_ROLE_KEYS_MAX);
                return VT_ETOOBIG;
        }
        if ((ro->kidx = calloc(n, sizeof(*ro->kidx))) == NULL ||
            (ro->keyids = calloc(n, sizeof(*ro->keyids))) == NULL)
                return VT_ENOMEM;
        json_array_foreach(keyids, i, v)
        {
                long k;

                if (!json_is_string(v)) {
                        vt_diag_set(d, "%s: keyids[%zu] is not a string", what, i);
                        return VT_EMALFORMED;
                }
                if ((k = find_key(r, json_string_value(v))) < 0) {
                        struct short_id sid = short_id(json_string_value(v));
                        vt_diag_set(d, "%s: keyids[%zu]: key '%s' is not in keys", what, i, sid.s);
                        return VT_EMALFORMED;
                }
                for (j = 0; j < i; j++)
                        if (ro->kidx[j] == (size_t)k) {
                                struct short_id sid = short_id(json_string_value(v));
                                vt_diag_set(d, "%s: keyids[%zu]: key '%s' is listed twice", what, i,
                                            sid.s);
                                return VT_EMALFORMED;
                        }
                ro->kidx[i] = (size_t)k;
                ro->keyids[i] = r->keys[k].id;
        }
        ro->nkeys = n;
        if (!json_is_integer(thr) || (t = json_integer_value(thr)) < 1 || (json_int_t)n < t) {
                vt_diag_set(d, "%s: threshold is not an integer from 1 to %zu (its number of keys)",
                            what, n);
                return VT_EMALFORMED;
        }
        ro->threshold = (size_t)t;
        if (is_gov)
                return 0;
        types = json_object_get(o, "maySign");
        n = json_array_size(types);
        if (!json_is_array(types) || n == 0) {
                vt_diag_set(d, "%s: maySign is not a non-empty array", what);
                return VT_EMALFORMED;
        }
        if (n > VT_POLICY_ROOT_TYPES_MAX) {
                vt_diag_set(d, "%s: maySign has %zu predicate types, more than the limit of %d",
                            what, n, VT_POLICY_ROOT_TYPES_MAX);
                return VT_ETOOBIG;
        }
        if ((ro->types = calloc(n, sizeof(*ro->types))) == NULL)
                return VT_ENOMEM;
        json_array_foreach(types, i, v)
        {
                if (!json_is_string(v) ||
                    !type_valid(json_string_value(v), json_string_length(v))) {
                        vt_diag_set(d,
                                    "%s: maySign[%zu] is not a predicate type URI (scheme ':' "
                                    "then up to %d visible ASCII characters)",
                                    what, i, VT_POLICY_ROOT_TYPE_LEN_MAX);
                        return VT_EMALFORMED;
                }
                for (j = 0; j < i; j++)
                        if (strcmp(ro->types[j], json_string_value(v)) == 0) {
                                struct short_type st = short_type(ro->types[j]);
                                vt_diag_set(d, "%s: maySign[%zu]: '%s' is listed twice", what, i,
                                            st.s);
                                return VT_EMALFORMED;
                        }
                ro->types[i] = json_string_value(v);
        }
        ro->ntypes = n;
        return 0;
}

/* The predicate type index: every (type, role) pair, merged by type. */
static int build_types(struct vt_policy_root *r)
{
        size_t i, j, n = 0;

        for (i = 0; i < r->nroles; i++)
                n += r->roles[i].ntypes;
        if (n == 0)
                return 0;
        if ((r->types = calloc(n, sizeof(*r->types))) == NULL)
                return VT_ENOMEM;
        n = 0;
        for (i = 0; i < r->nroles; i++)
                for (j = 0; j < r->roles[i].ntypes; j++) {
                        r->types[n].type = r->roles[i].types[j];
                        r->types[n].roles = (uint64_t)1 << i;
                        n++;
                }
        qsort(r->types, n, sizeof(*r->types), type_cmp);
        r->ntypes = 0;
        for (i = 0; i < n; i++) {
                if (r->ntypes > 0 && strcmp(r->types[r->ntypes - 1].type, r->types[i].type) == 0)
                        r->types[r->ntypes - 1].roles |= r->types[i].roles;
                else
                        r->types[r->ntypes++] = r->types[i];
        }
        return 0;
}

/*
 * Parse and validate the document payload[0..n) into r (whose env already
 * holds the payload); r->doc takes the parsed JSON.
 */
static int load_document(struct vt_policy_root *r, struct vt_diag *d)
{
        static const char *const members[] = {"mediaType", "version",    "expires",
                                              "keys",      "governance", "roles"};
        const json_t *v, *roles, *o;
        const char *name;
        json_int_t ver;
        size_t i, j, nroles;
        char what[96];
        int err;

        err = vt_encoding_json_parse(r->env.payload, r->env.payload_len, VT_POLICY_ROOT_MAX,
                                     &r->doc, d);
        if (err != 0) {
                vt_diag_prefix(d, "root");
                return err;
        }
        if (!json_is_object(r->doc)) {
                vt_diag_set(d, "root: the document is not a JSON object");
                return VT_EMALFORMED;
        }
        if ((err = exact_members(r->doc, members, 6, "root", d)) != 0)
                return err;
        v = json_object_get(r->doc, "mediaType");
        if (!json_is_string(v) || strcmp(json_string_value(v), VT_POLICY_ROOT_MEDIA_TYPE) != 0) {
                vt_diag_set(d, "root: mediaType is not \"%s\"", VT_POLICY_ROOT_MEDIA_TYPE);
                return VT_EMALFORMED;
        }
        v = json_object_get(r->doc, "version");
        if (!json_is_integer(v) || (ver = json_integer_value(v)) < 1 ||
            ver > VT_POLICY_ROOT_VERSION_MAX) {
                vt_diag_set(d, "root: version is not an integer from 1 to 2^53");
                return VT_EMALFORMED;
        }
        r->version = (int64_t)ver;
        v = json_object_get(r->doc, "expires");
        if (!json_is_string(v) ||
            vt_policy_time_parse(json_string_value(v), json_string_length(v), &r->expires) != 0) {
                vt_diag_set(d, "root: expires is not a UTC time \"YYYY-MM-DDTHH:MM:SSZ\"");
                return VT_EMALFORMED;
        }
        memcpy(r->expires_text, json_string_value(v), 21);

        v = json_object_get(r->doc, "keys");
        if (!json_is_object(v)) {
                vt_diag_set(d, "root: keys is not an object");
                return VT_EMALFORMED;
        }
        if ((err = load_keys(r, v, d)) != 0)
                return err;

        r->gov.name = GOVERNANCE;
        err =
            load_role(r, &r->gov, json_object_get(r->doc, "governance"), 1, "root: governance", d);
        if (err != 0)
                return err;
        if ((r->govkeys = calloc(r->gov.nkeys, sizeof(*r->govkeys))) == NULL)
                return VT_ENOMEM;
        for (i = 0; i < r->gov.nkeys; i++) {
                r->keys[r->gov.kidx[i]].governance = 1;
                r->govkeys[i] = r->keys[r->gov.kidx[i]].key;
        }

        roles = json_object_get(r->doc, "roles");
        if (!json_is_object(roles)) {
                vt_diag_set(d, "root: roles is not an object");
                return VT_EMALFORMED;
        }
        nroles = json_object_size(roles);
        if (nroles > VT_POLICY_ROOT_ROLES_MAX) {
                vt_diag_set(d, "root: roles: %zu roles, more than the limit of %d", nroles,
                            VT_POLICY_ROOT_ROLES_MAX);
                return VT_ETOOBIG;
        }
        if (nroles > 0 && (r->roles = calloc(nroles, sizeof(*r->roles))) == NULL)
                return VT_ENOMEM;
        json_object_foreach((json_t *)roles, name, o)
        {
                struct short_type sn = short_type(name);

                snprintf(what, sizeof(what), "root: roles: '%.64s'", sn.s);
                if (!role_name_valid(name)) {
                        vt_diag_set(d,
                                    "%s: a role name is 1 to %d characters from [a-z0-9-], "
                                    "not \"governance\"",
                                    what, VT_POLICY_ROOT_NAME_MAX);
                        return VT_EMALFORMED;
                }
                r->roles[r->nroles].name = name;
                err = load_role(r, &r->roles[r->nroles], o, 0, what, d);
                r->nroles++; /* released with the others even when it failed */
                if (err != 0)
                        return err;
        }
        if (r->nroles > 1)
                qsort(r->roles, r->nroles, sizeof(*r->roles), role_cmp);
        for (i = 0; i < r->nroles; i++)
                for (j = 0; j < r->roles[i].nkeys; j++)
                        r->keys[r->roles[i].kidx[j]].roles |= (uint64_t)1 << i;
        for (i = 0; i < r->nkeys; i++)
                if (!r->keys[i].governance && r->keys[i].roles == 0) {
                        struct short_id sid = short_id(r->keys[i].id);
                        vt_diag_set(d, "root: keys: '%s' is used by neither governance nor a role",
                                    sid.s);
                        return VT_EMALFORMED;
                }
        return build_types(r);
}

/* ---- reading an envelope ----------------------------------------------------- */

/*
 * Read an envelope with an empty signatures array (the DSSE parser wants at
 * least one): payloadType and payload strings, payload in padded base64.
 */
static int read_unsigned(const json_t *j, struct vt_encoding_dsse *env, struct vt_diag *d)
{
        const json_t *type = json_object_get(j, "payloadType");
        const json_t *payload = json_object_get(j, "payload");
        struct vt_buf b;
        int err;

        if (!json_is_string(type) || !json_is_string(payload)) {
                vt_diag_set(d, "envelope: payloadType and payload must be strings");
                return VT_EMALFORMED;
        }
        vt_buf_init(&b);
        err = vt_encoding_base64_decode_buf(json_string_value(payload), json_string_length(payload),
                                            &b);
        if (err != 0) {
                vt_diag_set(d, "envelope: payload is not %s base64",
                            err == VT_ENONCANON ? "canonical" : "valid");
                goto out;
        }
        err = vt_encoding_dsse_set_payload(env, json_string_value(type), b.p, b.len, d);
        if (err == VT_EINVAL)
                err = VT_EMALFORMED;
out:
        vt_buf_release(&b);
        return err;
}

/* see policy.h */
int vt_policy_root_parse(const uint8_t *p, size_t n, struct vt_policy_root **out, struct vt_diag *d)
{
        static const char *const members[] = {"payload", "payloadType", "signatures"};
        struct vt_policy_root *r;
        const json_t *sigs;
        json_t *j = NULL;
        int err;

        if ((r = calloc(1, sizeof(*r))) == NULL)
                return VT_ENOMEM;
        vt_encoding_dsse_init(&r->env);
        if (n > VT_POLICY_ROOT_MAX) {
                vt_diag_set(d, "root envelope is larger than the limit of %d bytes",
                            VT_POLICY_ROOT_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        /* A root envelope has exactly the three DSSE members. */
        if ((err = vt_encoding_json_parse(p, n, VT_POLICY_ROOT_MAX, &j, d)) != 0) {
                vt_diag_prefix(d, "envelope");
                goto out;
        }
        if (!json_is_object(j)) {
                vt_diag_set(d, "envelope: not a JSON object");
                err = VT_EMALFORMED;
                goto out;
        }
        if ((err = exact_members(j, members, 3, "envelope", d)) != 0)
                goto out;
        sigs = json_object_get(j, "signatures");
        if (!json_is_array(sigs)) {
                vt_diag_set(d, "envelope: signatures is not an array");
                err = VT_EMALFORMED;
                goto out;
        }
        if (json_array_size(sigs) == 0)
                err = read_unsigned(j, &r->env, d);
        else
                err = vt_encoding_dsse_parse(p, n, &r->env, d);
        if (err != 0)
                goto out;
        if (r->env.payload_type_len != strlen(VT_POLICY_ROOT_PAYLOAD_TYPE) ||
            memcmp(r->env.payload_type, VT_POLICY_ROOT_PAYLOAD_TYPE, r->env.payload_type_len) !=
                0) {
                vt_diag_set(d, "envelope: payloadType is not \"%s\"", VT_POLICY_ROOT_PAYLOAD_TYPE);
                err = VT_EMALFORMED;
                goto out;
        }
        if ((err = load_document(r, d)) != 0)
                goto out;
        *out = r;
        r = NULL;
out:
        json_decref(j);
        vt_policy_root_free(r);
        return err;
}

/* see policy.h */
void vt_policy_root_free(struct vt_policy_root *r)
{
        if (r == NULL)
                return;
        root_release(r);
        free(r);
}

/* ---- verification ------------------------------------------------------------ */

/*
 * Check doc's signatures against the governance keys of keys; *nvalid gets
 * the distinct keys counted, res (may be NULL) the per-signature report.
 */
static int count_gov(const struct vt_policy_root *doc, const struct vt_policy_root *keys,
                     size_t *nvalid, struct vt_encoding_dsse_result *res)
{
        struct vt_encoding_dsse_result tmp;
        int err;

        if (res == NULL)
                res = &tmp;
        *nvalid = 0;
        if (doc->env.nsigs == 0) {
                res->nvalid = 0;
                res->nsigs = 0;
                res->threshold = keys->gov.threshold;
                return 0;
        }
        err = vt_encoding_dsse_verify(&doc->env, keys->govkeys, keys->gov.nkeys,
                                      keys->gov.threshold, res, NULL);
        if (err != 0 && err != VT_ETHRESHOLD)
                return err;
        *nvalid = res->nvalid;
        return 0;
}

/* see policy.h */
int vt_policy_root_verify(const struct vt_policy_root *r, int64_t now, size_t *counted,
                          struct vt_diag *d)
{
        size_t n;
        int err;

        if ((err = count_gov(r, r, &n, NULL)) != 0)
                return err;
        if (counted != NULL)
                *counted = n;
        if (n < r->gov.threshold) {
                vt_diag_set(d, "root version %lld has %zu of %zu required governance signatures",
                            (long long)r->version, n, r->gov.threshold);
                return VT_ETHRESHOLD;
        }
        if (now >= r->expires) {
                vt_diag_set(d, "root version %lld expired at %s", (long long)r->version,
                            r->expires_text);
                return VT_EEXPIRED;
        }
        return 0;
}

/* see policy.h */
int vt_policy_root_verify_successor(const struct vt_policy_root *old,
                                    const struct vt_policy_root *new_root, int64_t now,
                                    struct vt_diag *d)
{
        size_t n;
        int err;

        /* TUF §5.3.4: the new version is exactly the trusted version + 1. */
        if (new_root->version != old->version + 1) {
                vt_diag_set(d,
                            "root version %lld cannot succeed root version %lld: its version "
                            "must be %lld",
                            (long long)new_root->version, (long long)old->version,
                            (long long)old->version + 1);
                return VT_EPOLICY;
        }
        /* TUF §5.3.4: a threshold of the trusted root's keys... */
        if ((err = count_gov(new_root, old, &n, NULL)) != 0)
                return err;
        if (n < old->gov.threshold) {
                vt_diag_set(d,
                            "root version %lld has %zu of %zu required signatures by the "
                            "governance keys of root version %lld",
                            (long long)new_root->version, n, old->gov.threshold,
                            (long long)old->version);
                return VT_ETHRESHOLD;
        }
        /* ...and a threshold of its own (TUF §5.3.5). */
        if ((err = count_gov(new_root, new_root, &n, NULL)) != 0)
                return err;
        if (n < new_root->gov.threshold) {
                vt_diag_set(d,
                            "root version %lld has %zu of %zu required signatures by its own "
                            "governance keys",
                            (long long)new_root->version, n, new_root->gov.threshold);
                return VT_ETHRESHOLD;
        }
        if (now >= new_root->expires) {
                vt_diag_set(d, "root version %lld expired at %s", (long long)new_root->version,
                            new_root->expires_text);
                return VT_EEXPIRED;
        }
        return 0;
}

/* see policy.h */
int vt_policy_root_check_sigs(const struct vt_policy_root *r, const struct vt_policy_root *keys,
                              struct vt_policy_sig_report *out)
{
        struct vt_encoding_dsse_result res;
        size_t i, n;
        int err;

        if (keys == NULL)
                keys = r;
        if ((err = count_gov(r, keys, &n, &res)) != 0)
                return err;
        out->nsigs = r->env.nsigs;
        out->nvalid = n;
        out->threshold = keys->gov.threshold;
        for (i = 0; i < r->env.nsigs; i++) {
                out->sig[i].status = res.sig[i].status;
                if (res.sig[i].status == 0 || res.sig[i].status == VT_EEXIST)
                        out->sig[i].keyid = vt_crypto_key_id(keys->govkeys[res.sig[i].key]);
                else if (r->env.sigs[i].keyid != NULL)
                        out->sig[i].keyid = r->env.sigs[i].keyid;
                else
                        out->sig[i].keyid = "";
        }
        return 0;
}

/* ---- accessors ------------------------------------------------------------------ */

/* see policy.h */
int64_t vt_policy_root_version(const struct vt_policy_root *r)
{
        return r->version;
}

/* see policy.h */
int64_t vt_policy_root_expires(const struct vt_policy_root *r)
{
        return r->expires;
}

/* see policy.h */
const char *vt_policy_root_expires_text(const struct vt_policy_root *r)
{
        return r->expires_text;
}

static void view(const struct root_role *ro, struct vt_policy_role_view *out)
{
        out->name = ro->name;
        out->keyids = ro->keyids;
        out->nkeyids = ro->nkeys;
        out->threshold = ro->threshold;
        out->may_sign = ro->types;
        out->nmay_sign = ro->ntypes;
}

/* see policy.h */
void vt_policy_root_governance(const struct vt_policy_root *r, struct vt_policy_role_view *out)
{
        view(&r->gov, out);
}

/* see policy.h */
size_t vt_policy_root_role_count(const struct vt_policy_root *r)
{
        return r->nroles;
}

/* see policy.h */
int vt_policy_root_role(const struct vt_policy_root *r, size_t i, struct vt_policy_role_view *out)
{
        if (i >= r->nroles)
                return VT_ERANGE;
        view(&r->roles[i], out);
        return 0;
}

/* see policy.h */
int vt_policy_root_role_find(const struct vt_policy_root *r, const char *name,
                             struct vt_policy_role_view *out)
{
        struct root_role key, *ro;

        if (r->nroles == 0)
                return VT_ENOENT;
        key.name = name;
        ro = bsearch(&key, r->roles, r->nroles, sizeof(*r->roles), role_cmp);
        if (ro == NULL)
                return VT_ENOENT;
        view(ro, out);
        return 0;
}

/* see policy.h */
const struct vt_crypto_key *vt_policy_root_key(const struct vt_policy_root *r, const char *keyid)
{
        long k = find_key(r, keyid);

        return k < 0 ? NULL : r->keys[k].key;
}

/* see policy.h */
size_t vt_policy_root_sig_count(const struct vt_policy_root *r)
{
        return r->env.nsigs;
}

/* ---- authorization ---------------------------------------------------------------- */

/* "a, b, c" for the roles in mask, cut to fit out. */
static void role_list(const struct vt_policy_root *r, uint64_t mask, char *out, size_t cap)
{
        size_t i, len = 0;

        out[0] = '\0';
        for (i = 0; i < r->nroles; i++) {
                int w;

                if (!(mask & ((uint64_t)1 << i)))
                        continue;
                w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", r->roles[i].name);
                if (w < 0 || (size_t)w >= cap - len) {
                        /* Too long: end with ", ..." where it fits. */
                        if (len + 6 <= cap)
                                memcpy(out + len, ", ...", 6);
                        return;
                }
                len += (size_t)w;
        }
}

/*
 * Rules 1-2 of vt_policy_root_authorize: the predicate type has roles (their
 * mask in *mask), and each signature's key id names a key of one of them
 * (its index in kidx[i], or -1 when the signature has no key id).
 */
static int check_signers(const struct vt_policy_root *r, const struct vt_encoding_dsse *env,
                         const char *ptype, uint64_t *mask, long *kidx, struct vt_diag *d)
{
        const struct type_entry *te = find_type(r, ptype);
        struct short_type st = short_type(ptype);
        char roles[96];
        size_t i;

        if (te == NULL) {
                vt_diag_set(d, "no role may sign predicate type '%s'", st.s);
                return VT_EDENIED;
        }
        if (env->nsigs > VT_ENCODING_DSSE_SIGS_MAX) {
                vt_diag_set(d, "envelope has %zu signatures, more than the limit of %d", env->nsigs,
                            VT_ENCODING_DSSE_SIGS_MAX);
                return VT_EDENIED;
        }
        for (i = 0; i < env->nsigs; i++) {
                const char *id = env->sigs[i].keyid;
                struct short_id sid;
                long k;

                kidx[i] = -1;
                if (id == NULL || id[0] == '\0')
                        continue;
                sid = short_id(id);
                if ((k = find_key(r, id)) < 0) {
                        vt_diag_set(d, "signature %zu: key '%s' is not in the root", i + 1, sid.s);
                        return VT_EDENIED;
                }
                if ((r->keys[k].roles & te->roles) == 0) {
                        role_list(r, te->roles, roles, sizeof(roles));
                        vt_diag_set(d,
                                    "predicate type '%s' may be signed by roles %s; signature "
                                    "%zu is by key '%s', which is in none of them",
                                    st.s, roles, i + 1, sid.s);
                        return VT_EDENIED;
                }
                kidx[i] = k;
        }
        *mask = te->roles;
        return 0;
}

/* see policy.h */
int vt_policy_root_precheck(const struct vt_policy_root *r, const struct vt_encoding_dsse *env,
                            const char *predicate_type, struct vt_diag *d)
{
        long kidx[VT_ENCODING_DSSE_SIGS_MAX];
        uint64_t mask;

        return check_signers(r, env, predicate_type, &mask, kidx, d);
}

/* see policy.h */
int vt_policy_root_authorize(const struct vt_policy_root *r, const struct vt_encoding_dsse *env,
                             const char *predicate_type, const char **role, struct vt_diag *d)
{
        long kidx[VT_ENCODING_DSSE_SIGS_MAX];
        size_t seen[VT_ENCODING_DSSE_SIGS_MAX], nseen = 0;
        size_t count[VT_POLICY_ROOT_ROLES_MAX] = {0};
        size_t i, j, best;
        struct vt_buf pae;
        uint64_t mask;
        char roles[96];
        int err;

        if ((err = check_signers(r, env, predicate_type, &mask, kidx, d)) != 0)
                return err;

        /* Rule 3: every signature verifies, each exactly once (DSSE protocol.md). */
        vt_buf_init(&pae);
        if ((err = vt_encoding_dsse_pae(env->payload_type, env->payload_type_len, env->payload,
                                        env->payload_len, &pae)) != 0)
                goto out;
        for (i = 0; i < env->nsigs; i++) {
                const struct vt_encoding_dsse_sig *s = &env->sigs[i];
                long k = kidx[i];

                if (k >= 0) {
                        if (vt_crypto_key_verify(r->keys[k].key, pae.p, pae.len, s->sig,
                                                 s->siglen) != 0) {
                                struct short_id sid = short_id(r->keys[k].id);
                                vt_diag_set(d, "signature %zu: does not verify with key '%s'",
                                            i + 1, sid.s);
                                err = VT_EBADSIG;
                                goto out;
                        }
                } else {
                        /* No key id: try the keys of the roles that may sign. */
                        for (j = 0; j < r->nkeys && k < 0; j++)
                                if ((r->keys[j].roles & mask) != 0 &&
                                    vt_crypto_key_verify(r->keys[j].key, pae.p, pae.len, s->sig,
                                                         s->siglen) == 0)
                                        k = (long)j;
                        if (k < 0) {
                                role_list(r, mask, roles, sizeof(roles));
                                vt_diag_set(d,
                                            "signature %zu has no key id and verifies with no "
                                            "key of roles %s",
                                            i + 1, roles);
                                err = VT_EDENIED;
                                goto out;
                        }
                }
                /* A key counts once, for every allowed role that holds it. */
                for (j = 0; j < nseen && seen[j] != (size_t)k; j++)
                        ;
                if (j < nseen)
                        continue;
                seen[nseen++] = (size_t)k;
                for (j = 0; j < r->nroles; j++)
                        if (mask & r->keys[k].roles & ((uint64_t)1 << j))
                                count[j]++;
        }

        /* Rule 4: one role reaches its threshold; else name the closest one. */
        best = r->nroles;
        for (j = 0; j < r->nroles; j++) {
                if (!(mask & ((uint64_t)1 << j)))
                        continue;
                if (count[j] >= r->roles[j].threshold) {
                        if (role != NULL)
                                *role = r->roles[j].name;
                        err = 0;
                        goto out;
                }
                if (best == r->nroles ||
                    count[j] * r->roles[best].threshold > count[best] * r->roles[j].threshold)
                        best = j;
        }
        {
                struct short_type st = short_type(predicate_type);
                role_list(r, mask, roles, sizeof(roles));
                vt_diag_set(d,
                            "predicate type '%s' may be signed by roles %s; envelope has %zu of "
                            "%zu required signatures of role '%s'",
                            st.s, roles, count[best], r->roles[best].threshold,
                            r->roles[best].name);
        }
        err = VT_EDENIED;
out:
        vt_buf_release(&pae);
        return err;
}

/* see policy.h */
int vt_policy_root_authorize_bytes(const struct vt_policy_root *r, const uint8_t *p, size_t n,
                                   const char **role, struct vt_diag *d)
{
        struct vt_encoding_statement st;
        struct vt_encoding_dsse env;
        int err;

        vt_encoding_dsse_init(&env);
        vt_encoding_statement_init(&st);
        if ((err = vt_encoding_dsse_parse(p, n, &env, d)) != 0)
                goto out;
        if ((err = vt_encoding_statement_from_envelope(&env, &st, d)) != 0)
                goto out;
        err = vt_policy_root_authorize(r, &env, st.predicate_type, role, d);
out:
        vt_encoding_statement_release(&st);
        vt_encoding_dsse_release(&env);
        return err;
}

/* ---- building ------------------------------------------------------------------ */

/*
 * Make a root from the document doc (consumed): serialise it canonically,
 * then load it through the parser's own checks, so an editor can never
 * produce a root the parser would refuse.
 */
static int root_from_doc(json_t *doc, struct vt_policy_root **out, struct vt_diag *d)
{
        struct vt_policy_root *r = NULL;
        struct vt_buf b;
        int err;

        vt_buf_init(&b);
        if (doc == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = vt_encoding_json_dump(doc, JSON_COMPACT | JSON_SORT_KEYS, &b)) != 0)
                goto out;
        if ((r = calloc(1, sizeof(*r))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        vt_encoding_dsse_init(&r->env);
        err = vt_encoding_dsse_set_payload(&r->env, VT_POLICY_ROOT_PAYLOAD_TYPE, b.p, b.len, d);
        if (err != 0)
                goto out;
        if ((err = load_document(r, d)) != 0) {
                /* The editors check their arguments; this is the safety net. */
                if (err == VT_EMALFORMED || err == VT_ENONCANON)
                        err = VT_EINVAL;
                goto out;
        }
        *out = r;
        r = NULL;
out:
        vt_policy_root_free(r);
        json_decref(doc);
        vt_buf_release(&b);
        return err;
}

/* Replace r's contents with those of n (freed), dropping r's old state. */
static void root_replace(struct vt_policy_root *r, struct vt_policy_root *n)
{
        root_release(r);
        *r = *n;
        free(n);
}

/* A keys-map entry for k: {"type":..., "publicKey":...}. */
static json_t *key_entry(const struct vt_crypto_key *k)
{
        struct vt_buf pem;
        json_t *o = NULL;

        vt_buf_init(&pem);
        if (vt_crypto_key_public_pem(k, &pem) == 0)
                o = json_pack("{s:s, s:s%}", "type", vt_crypto_key_type_name(vt_crypto_key_type(k)),
                              "publicKey", (const char *)pem.p, pem.len);
        vt_buf_release(&pem);
        return o;
}

/*
 * Check a key list and threshold from a caller and make the "keyids" array,
 * adding each key to the keys map. VT_EINVAL / VT_ETOOBIG with a reason.
 */
static int add_keys(json_t *keymap, const struct vt_crypto_key *const *keys, size_t n,
                    size_t threshold, const char *what, json_t **keyids, struct vt_diag *d)
{
        json_t *a;
        size_t i, j;

        if (n == 0) {
                vt_diag_set(d, "%s: no key given", what);
                return VT_EINVAL;
        }
        if (n > VT_POLICY_ROOT_ROLE_KEYS_MAX) {
                vt_diag_set(d, "%s: %zu keys, more than the limit of %d", what, n,
                            VT_POLICY_ROOT_ROLE_KEYS_MAX);
                return VT_ETOOBIG;
        }
        if (threshold < 1 || threshold > n) {
                vt_diag_set(d, "%s: threshold %zu is not between 1 and the %zu keys given", what,
                            threshold, n);
                return VT_EINVAL;
        }
        for (i = 0; i < n; i++)
                for (j = 0; j < i; j++)
                        if (strcmp(vt_crypto_key_id(keys[i]), vt_crypto_key_id(keys[j])) == 0) {
                                struct short_id sid = short_id(vt_crypto_key_id(keys[i]));
                                vt_diag_set(d, "%s: key '%s' is given twice", what, sid.s);
                                return VT_EINVAL;
                        }
        if ((a = json_array()) == NULL)
                return VT_ENOMEM;
        for (i = 0; i < n; i++) {
                const char *id = vt_crypto_key_id(keys[i]);

                if (json_array_append_new(a, json_string(id)) != 0 ||
                    (json_object_get(keymap, id) == NULL &&
                     json_object_set_new(keymap, id, key_entry(keys[i])) != 0)) {
                        json_decref(a);
                        return VT_ENOMEM;
                }
        }
        if (json_object_size(keymap) > VT_POLICY_ROOT_KEYS_MAX) {
                json_decref(a);
                vt_diag_set(d, "%s: the root would hold more than %d keys", what,
                            VT_POLICY_ROOT_KEYS_MAX);
                return VT_ETOOBIG;
        }
        *keyids = a;
        return 0;
}

/* Remove from doc's keys map every key that governance and the roles no longer use. */
static void prune_keys(json_t *doc)
{
        json_t *keys = json_object_get(doc, "keys"), *roles = json_object_get(doc, "roles");
        json_t *used = json_object(), *o, *v;
        const char *k;
        void *tmp;
        size_t i;

        if (used == NULL)
                return; /* keeping unused keys fails the reload, which reports it */
        json_array_foreach(json_object_get(json_object_get(doc, "governance"), "keyids"), i, v)
            json_object_set(used, json_string_value(v), json_true());
        json_object_foreach(roles, k, o) json_array_foreach(json_object_get(o, "keyids"), i, v)
            json_object_set(used, json_string_value(v), json_true());
        json_object_foreach_safe(keys, tmp, k, v) if (json_object_get(used, k) == NULL)
            json_object_del(keys, k);
        json_decref(used);
}

/* Apply an edited copy of r's document to r: prune, reload, drop signatures. */
static int root_commit(struct vt_policy_root *r, json_t *doc, struct vt_diag *d)
{
        struct vt_policy_root *n;
        int err;

        prune_keys(doc);
        if ((err = root_from_doc(doc, &n, d)) != 0)
                return err;
        root_replace(r, n);
        return 0;
}

/*
 * governance_put(doc, keys, nkeys, threshold, d): doc's governance becomes
 * these keys and threshold, their entries added to doc's keys map. On
 * failure doc may be half-changed: the caller drops it.
 */
static int governance_put(json_t *doc, const struct vt_crypto_key *const *keys, size_t nkeys,
                          size_t threshold, struct vt_diag *d)
{
        json_t *keyids = NULL;
        int err;

        err = add_keys(json_object_get(doc, "keys"), keys, nkeys, threshold, "governance", &keyids,
                       d);
        if (err != 0)
                return err;
        /* json_pack steals keyids, even on failure. */
        if (json_object_set_new(
                doc, "governance",
                json_pack("{s:o, s:I}", "keyids", keyids, "threshold", (json_int_t)threshold)) != 0)
                return VT_ENOMEM;
        return 0;
}

static int expires_check(int64_t expires, char text[21], struct vt_diag *d)
{
        if (vt_policy_time_format(expires, text) != 0) {
                vt_diag_set(d, "expiry %lld is outside the years 1970 to 9999", (long long)expires);
                return VT_EINVAL;
        }
        return 0;
}

/* see policy.h */
int vt_policy_root_new(const struct vt_crypto_key *const *gov, size_t ngov, size_t threshold,
                       int64_t expires, struct vt_policy_root **out, struct vt_diag *d)
{
        char text[21];
        json_t *doc;
        int err;

        if ((err = expires_check(expires, text, d)) != 0)
                return err;
        doc = json_pack("{s:s, s:I, s:s, s:{}, s:{}}", "mediaType", VT_POLICY_ROOT_MEDIA_TYPE,
                        "version", (json_int_t)1, "expires", text, "keys", "roles");
        if (doc == NULL)
                return VT_ENOMEM;
        if ((err = governance_put(doc, gov, ngov, threshold, d)) != 0) {
                json_decref(doc);
                return err;
        }
        return root_from_doc(doc, out, d);
}

/* see policy.h */
int vt_policy_root_set_role(struct vt_policy_root *r, const char *name,
                            const struct vt_crypto_key *const *keys, size_t nkeys, size_t threshold,
                            const char *const *may_sign, size_t ntypes, struct vt_diag *d)
{
        json_t *doc, *keyids = NULL, *types = NULL, *roles;
        struct short_type sn = short_type(name);
        char what[96];
        size_t i, j;
        int err;

        snprintf(what, sizeof(what), "role '%.64s'", sn.s);
        if (!role_name_valid(name)) {
                vt_diag_set(d,
                            "%s: a role name is 1 to %d characters from [a-z0-9-], not "
                            "\"governance\"",
                            what, VT_POLICY_ROOT_NAME_MAX);
                return VT_EINVAL;
        }
        if (ntypes == 0) {
                vt_diag_set(d, "%s: no predicate type it may sign", what);
                return VT_EINVAL;
        }
        if (ntypes > VT_POLICY_ROOT_TYPES_MAX) {
                vt_diag_set(d, "%s: %zu predicate types, more than the limit of %d", what, ntypes,
                            VT_POLICY_ROOT_TYPES_MAX);
                return VT_ETOOBIG;
        }
        for (i = 0; i < ntypes; i++) {
                struct short_type st = short_type(may_sign[i]);

                if (!type_valid(may_sign[i], strlen(may_sign[i]))) {
                        vt_diag_set(d,
                                    "%s: '%s' is not a predicate type URI (scheme ':' then up to "
                                    "%d visible ASCII characters)",
                                    what, st.s, VT_POLICY_ROOT_TYPE_LEN_MAX);
                        return VT_EINVAL;
                }
                for (j = 0; j < i; j++)
                        if (strcmp(may_sign[i], may_sign[j]) == 0) {
                                vt_diag_set(d, "%s: predicate type '%s' is given twice", what,
                                            st.s);
                                return VT_EINVAL;
                        }
        }
        if ((doc = json_deep_copy(r->doc)) == NULL)
                return VT_ENOMEM;
        roles = json_object_get(doc, "roles");
        if (json_object_get(roles, name) == NULL &&
            json_object_size(roles) >= VT_POLICY_ROOT_ROLES_MAX) {
                json_decref(doc);
                vt_diag_set(d, "%s: the root already has %d roles, the limit", what,
                            VT_POLICY_ROOT_ROLES_MAX);
                return VT_ETOOBIG;
        }
        err = add_keys(json_object_get(doc, "keys"), keys, nkeys, threshold, what, &keyids, d);
        if (err != 0)
                goto fail;
        if ((types = json_array()) == NULL)
                goto nomem;
        for (i = 0; i < ntypes; i++)
                if (json_array_append_new(types, json_string(may_sign[i])) != 0)
                        goto nomem;
        if (json_object_set_new(roles, name,
                                json_pack("{s:o, s:I, s:o}", "keyids", keyids, "threshold",
                                          (json_int_t)threshold, "maySign", types)) != 0) {
                keyids = types = NULL; /* json_pack stole them, even on failure */
                goto nomem;
        }
        return root_commit(r, doc, d);
nomem:
        err = VT_ENOMEM;
        json_decref(keyids);
        json_decref(types);
fail:
        json_decref(doc);
        return err;
}

/* see policy.h */
int vt_policy_root_remove_role(struct vt_policy_root *r, const char *name, struct vt_diag *d)
{
        json_t *doc;

        if (json_object_get(json_object_get(r->doc, "roles"), name) == NULL) {
                struct short_type sn = short_type(name);
                vt_diag_set(d, "root has no role '%s'", sn.s);
                return VT_ENOENT;
        }
        if ((doc = json_deep_copy(r->doc)) == NULL)
                return VT_ENOMEM;
        json_object_del(json_object_get(doc, "roles"), name);
        return root_commit(r, doc, d);
}

/* see policy.h */
int vt_policy_root_set_governance(struct vt_policy_root *r, const struct vt_crypto_key *const *keys,
                                  size_t nkeys, size_t threshold, struct vt_diag *d)
{
        json_t *doc;
        int err;

        if ((doc = json_deep_copy(r->doc)) == NULL)
                return VT_ENOMEM;
        if ((err = governance_put(doc, keys, nkeys, threshold, d)) != 0) {
                json_decref(doc);
                return err;
        }
        return root_commit(r, doc, d);
}

/* see policy.h */
int vt_policy_root_set_expires(struct vt_policy_root *r, int64_t expires, struct vt_diag *d)
{
        char text[21];
        json_t *doc;
        int err;

        if ((err = expires_check(expires, text, d)) != 0)
                return err;
        if ((doc = json_deep_copy(r->doc)) == NULL)
                return VT_ENOMEM;
        if (json_object_set_new(doc, "expires", json_string(text)) != 0) {
                json_decref(doc);
                return VT_ENOMEM;
        }
        return root_commit(r, doc, d);
}

/* see policy.h */
int vt_policy_root_set_version(struct vt_policy_root *r, int64_t version, struct vt_diag *d)
{
        json_t *doc;

        if (version < 1 || version > VT_POLICY_ROOT_VERSION_MAX) {
                vt_diag_set(d, "version %lld is not between 1 and 2^53", (long long)version);
                return VT_EINVAL;
        }
        if ((doc = json_deep_copy(r->doc)) == NULL)
                return VT_ENOMEM;
        if (json_object_set_new(doc, "version", json_integer((json_int_t)version)) != 0) {
                json_decref(doc);
                return VT_ENOMEM;
        }
        return root_commit(r, doc, d);
}

/* see policy.h */
int vt_policy_root_sign(struct vt_policy_root *r, const struct vt_crypto_key *k,
                        const struct vt_policy_root *previous, struct vt_diag *d)
{
        const char *id = vt_crypto_key_id(k);
        struct short_id sid = short_id(id);
        long i;
        size_t j;
        int err;

        if (!vt_crypto_key_is_private(k)) {
                vt_diag_set(d, "key '%s' is a public key; signing needs the private key", sid.s);
                return VT_ENOTPRIV;
        }
        if (((i = find_key(r, id)) < 0 || !r->keys[i].governance) &&
            (previous == NULL || (i = find_key(previous, id)) < 0 ||
             !previous->keys[i].governance)) {
                if (previous != NULL)
                        vt_diag_set(d,
                                    "key '%s' is a governance key neither of root version %lld "
                                    "nor of root version %lld",
                                    sid.s, (long long)r->version, (long long)previous->version);
                else
                        vt_diag_set(d, "key '%s' is not a governance key of root version %lld",
                                    sid.s, (long long)r->version);
                return VT_EDENIED;
        }
        for (j = 0; j < r->env.nsigs; j++)
                if (r->env.sigs[j].keyid != NULL && strcmp(r->env.sigs[j].keyid, id) == 0) {
                        vt_diag_set(d, "root version %lld is already signed by key '%s'",
                                    (long long)r->version, sid.s);
                        return VT_EEXIST;
                }
        if ((err = vt_encoding_dsse_sign(&r->env, k, d)) != 0) {
                if (err == VT_EEXIST)
                        vt_diag_set(d, "root version %lld is already signed by key '%s'",
                                    (long long)r->version, sid.s);
                return err;
        }
        return 0;
}

/* see policy.h */
int vt_policy_root_serialize(const struct vt_policy_root *r, struct vt_buf *out)
{
        size_t len0 = out->len;
        int err;

        /* The DSSE serializer writes "signatures":[] for a root not signed yet. */
        if ((err = vt_encoding_dsse_serialize(&r->env, out)) == 0 &&
            (err = vt_buf_append(out, "\n", 1)) != 0) {
                out->len = len0;
                out->p[len0] = '\0';
        }
        return err;
}
