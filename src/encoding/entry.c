/*
 * entry.c: the log entry, the leaf that commits to one DSSE envelope
 * (DESIGN.md §2, docs/FORMATS.md "Entries").
 *
 *     {"mediaType":"application/vnd.veritrail.entry+json;version=1",
 *      "payloadSha256":"<hex>","payloadType":"<type>",
 *      "signatures":[{"keyid":"<keyid>","sig":"<base64>"}, ...]}
 *
 * Canonical JSON: compact, members in byte order of their names (mediaType <
 * payloadSha256 < payloadType < signatures; keyid < sig), strings escaped as
 * jansson escapes them, standard padded base64, keyid omitted when absent.
 * The envelope's payload is represented by its SHA-256 only, so an entry
 * stays small (< 64 KiB, the C2SP entry bundle limit) whatever the payload.
 *
 * Invariant: one envelope has exactly one entry. The encoder is the only
 * writer; the parser re-encodes what it read and refuses input that is not
 * byte for byte that encoding (VT_ENONCANON), so equal entries mean equal
 * (payload type, payload digest, signatures) and the service can use the
 * entry's hash as the envelope's identity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

/* see encoding.h */
void vt_encoding_entry_init(struct vt_encoding_entry *e)
{
        memset(e, 0, sizeof(*e));
}

/* see encoding.h */
void vt_encoding_entry_release(struct vt_encoding_entry *e)
{
        if (e == NULL)
                return;
        free(e->payload_type);
        vt_encoding_int_sigs_free(e->sigs, e->nsigs);
        vt_encoding_entry_init(e);
}

/*
 * entry_write(type, tlen, digest, sigs, nsigs, out): the canonical bytes.
 * VT_ETOOBIG past VT_ENCODING_ENTRY_MAX, VT_ENOMEM; out unchanged on failure.
 */
static int entry_write(const char *type, size_t tlen, const struct vt_hash *digest,
                       const struct vt_encoding_dsse_sig *sigs, size_t nsigs, struct vt_buf *out)
{
        char hex[2 * VT_CRYPTO_HASH_LEN + 1];
        size_t len0 = out->len, i;
        int err = VT_ENOMEM;

        vt_encoding_hex_encode(digest->b, sizeof(digest->b), hex);
        if (vt_buf_puts(out, "{\"mediaType\":\"" VT_ENCODING_ENTRY_MEDIA_TYPE
                             "\",\"payloadSha256\":\"") != 0 ||
            vt_buf_puts(out, hex) != 0 || vt_buf_puts(out, "\",\"payloadType\":") != 0 ||
            vt_encoding_int_put_string(out, type, tlen) != 0 ||
            vt_buf_puts(out, ",\"signatures\":[") != 0)
                goto fail;
        for (i = 0; i < nsigs; i++) {
                if (vt_buf_puts(out, i == 0 ? "{" : ",{") != 0)
                        goto fail;
                if (sigs[i].keyid != NULL &&
                    (vt_buf_puts(out, "\"keyid\":") != 0 ||
                     vt_encoding_int_put_string(out, sigs[i].keyid, strlen(sigs[i].keyid)) != 0 ||
                     vt_buf_puts(out, ",") != 0))
                        goto fail;
                if (vt_buf_puts(out, "\"sig\":\"") != 0 ||
                    vt_encoding_base64_append(out, sigs[i].sig, sigs[i].siglen) != 0 ||
                    vt_buf_puts(out, "\"}") != 0)
                        goto fail;
                /* Stop early: a huge envelope must not make a huge entry first. */
                if (out->len - len0 > VT_ENCODING_ENTRY_MAX) {
                        err = VT_ETOOBIG;
                        goto fail;
                }
        }
        if (vt_buf_puts(out, "]}") != 0)
                goto fail;
        if (out->len - len0 > VT_ENCODING_ENTRY_MAX) {
                err = VT_ETOOBIG;
                goto fail;
        }
        return 0;
fail:
        vt_encoding_int_buf_rewind(out, len0);
        return err;
}

/* see encoding.h */
int vt_encoding_entry_encode_digest(const struct vt_encoding_dsse *env, struct vt_buf *out,
                                    struct vt_hash *payload_sha256)
{
        struct vt_hash h;
        int err;

        if (env == NULL || env->payload_type == NULL || env->payload_type_len == 0 ||
            env->nsigs == 0 || env->sigs == NULL)
                return VT_EINVAL;
        vt_crypto_sha256(env->payload, env->payload_len, &h);
        err = entry_write(env->payload_type, env->payload_type_len, &h, env->sigs, env->nsigs, out);
        if (err == 0 && payload_sha256 != NULL)
                *payload_sha256 = h;
        return err;
}

/* see encoding.h */
int vt_encoding_entry_encode(const struct vt_encoding_dsse *env, struct vt_buf *out)
{
        return vt_encoding_entry_encode_digest(env, out, NULL);
}

/*
 * The member key of an object, value v (kind 0: absent), that must be a
 * string: its decoded bytes in *s, *n (in tmp when it has an escape).
 */
static int entry_string(const struct vt_encoding_int_jval *v, const char *key, const char *where,
                        struct vt_buf *tmp, const char **s, size_t *n, struct vt_diag *d)
{
        if (v->kind == 0) {
                vt_diag_set(d, "entry: %s%s is missing", where, key);
                return VT_EMALFORMED;
        }
        if (v->kind != '"') {
                vt_diag_set(d, "entry: %s%s is not a string", where, key);
                return VT_EMALFORMED;
        }
        return vt_encoding_int_jscan_str_at(v, tmp, s, n);
}

/* Parse signatures[i] (the value o) into sig. */
static int entry_sig(const struct vt_encoding_int_jval *o, size_t i,
                     struct vt_encoding_dsse_sig *sig, struct vt_buf *tmp, struct vt_diag *d)
{
        struct vt_encoding_int_jval k, v, keyid = {0}, sv = {0}; /* kind 0: absent */
        struct vt_encoding_int_jiter it;
        char where[48];
        const char *s;
        size_t n, members = 1, size = 0;
        struct vt_buf b;
        int err;

        snprintf(where, sizeof(where), "signatures[%zu].", i);
        if (o->kind != '{') {
                vt_diag_set(d, "entry: signatures[%zu] is not an object", i);
                return VT_EMALFORMED;
        }
        /* jscan.c refused duplicate keys: each member is found once at most. */
        vt_encoding_int_jscan_iter(o, &it);
        while (vt_encoding_int_jscan_next(&it, &k, &v)) {
                size++;
                if (vt_encoding_int_jscan_key_is(&k, "keyid"))
                        keyid = v;
                else if (vt_encoding_int_jscan_key_is(&k, "sig"))
                        sv = v;
        }
        if (keyid.kind != 0) {
                members++;
                if ((err = entry_string(&keyid, "keyid", where, tmp, &s, &n, d)) != 0)
                        return err;
                if (n == 0) {
                        /* The encoder omits an absent keyid; "" is not canonical. */
                        vt_diag_set(d, "entry: %skeyid is empty (omit it instead)", where);
                        return VT_ENONCANON;
                }
                if (n > VT_ENCODING_DSSE_KEYID_MAX) {
                        vt_diag_set(d, "entry: %skeyid is longer than %d bytes", where,
                                    VT_ENCODING_DSSE_KEYID_MAX);
                        return VT_ETOOBIG;
                }
                if ((sig->keyid = vt_encoding_int_strndup(s, n)) == NULL)
                        return VT_ENOMEM;
        }
        if (size != members) {
                vt_diag_set(
                    d, "entry: signatures[%zu] wants sig and an optional keyid, nothing else", i);
                return VT_EMALFORMED;
        }
        if ((err = entry_string(&sv, "sig", where, tmp, &s, &n, d)) != 0)
                return err;
        if (n == 0) {
                vt_diag_set(d, "entry: %ssig is empty", where);
                return VT_EMALFORMED;
        }
        if (n > 4 * ((VT_ENCODING_DSSE_SIG_MAX + 2) / 3)) {
                vt_diag_set(d, "entry: %ssig is longer than %d bytes", where,
                            VT_ENCODING_DSSE_SIG_MAX);
                return VT_ETOOBIG;
        }
        vt_buf_init(&b);
        if ((err = vt_encoding_base64_decode_buf(s, n, &b)) != 0) {
                vt_buf_release(&b);
                return vt_encoding_int_b64_fail(err, d, "entry: %ssig", where);
        }
        if (b.len == 0 || b.len > VT_ENCODING_DSSE_SIG_MAX) {
                vt_buf_release(&b);
                vt_diag_set(d, "entry: %ssig has %s", where,
                            b.len == 0 ? "no bytes" : "too many bytes");
                return b.len == 0 ? VT_EMALFORMED : VT_ETOOBIG;
        }
        sig->sig = b.p; /* the buffer's memory becomes the signature */
        sig->siglen = b.len;
        return 0;
}

/* see encoding.h */
int vt_encoding_entry_parse(const uint8_t *p, size_t n, struct vt_encoding_entry *out,
                            struct vt_diag *d)
{
        struct vt_encoding_int_jval k, v, mt = {0}, ps = {0}, pt = {0},
                                          sigs = {0}; /* kind 0: absent */
        struct vt_encoding_int_jiter it;
        struct vt_encoding_entry e;
        const char *s;
        size_t len, i, members = 0, cnt;
        struct vt_buf again, tmp;
        int err;

        vt_encoding_entry_init(&e);
        vt_buf_init(&again);
        vt_buf_init(&tmp);
        /* Checked whole by jscan.c, then read in place (strings decoded only with escapes). */
        if ((err = vt_encoding_int_jscan_object(p, n, VT_ENCODING_ENTRY_MAX, "entry", &it, d)) != 0)
                return err;
        while (vt_encoding_int_jscan_next(&it, &k, &v)) {
                members++;
                if (vt_encoding_int_jscan_key_is(&k, "mediaType"))
                        mt = v;
                else if (vt_encoding_int_jscan_key_is(&k, "payloadSha256"))
                        ps = v;
                else if (vt_encoding_int_jscan_key_is(&k, "payloadType"))
                        pt = v;
                else if (vt_encoding_int_jscan_key_is(&k, "signatures"))
                        sigs = v;
        }
        err = VT_EMALFORMED;
        if (members != 4 || sigs.kind == 0) {
                vt_diag_set(d, "entry: wants exactly mediaType, payloadSha256, payloadType and "
                               "signatures");
                goto out;
        }
        if ((err = entry_string(&mt, "mediaType", "", &tmp, &s, &len, d)) != 0)
                goto out;
        if (len != strlen(VT_ENCODING_ENTRY_MEDIA_TYPE) ||
            memcmp(s, VT_ENCODING_ENTRY_MEDIA_TYPE, len) != 0) {
                vt_diag_set(d, "entry: mediaType is not '%s'", VT_ENCODING_ENTRY_MEDIA_TYPE);
                err = VT_EMALFORMED;
                goto out;
        }
        if ((err = entry_string(&ps, "payloadSha256", "", &tmp, &s, &len, d)) != 0)
                goto out;
        if (vt_encoding_hex_decode(s, len, e.payload_sha256.b, sizeof(e.payload_sha256.b)) != 0) {
                vt_diag_set(d, "entry: payloadSha256 is not 64 lowercase hex characters");
                err = VT_EMALFORMED;
                goto out;
        }
        if ((err = entry_string(&pt, "payloadType", "", &tmp, &s, &len, d)) != 0)
                goto out;
        if (len == 0 || len > VT_ENCODING_DSSE_TYPE_MAX) {
                vt_diag_set(d, "entry: payloadType is %s", len == 0 ? "empty" : "too long");
                err = len == 0 ? VT_EMALFORMED : VT_ETOOBIG;
                goto out;
        }
        if ((e.payload_type = vt_encoding_int_strndup(s, len)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        e.payload_type_len = len;
        if (sigs.kind != '[' || (cnt = vt_encoding_int_jscan_count(&sigs)) == 0) {
                vt_diag_set(d, "entry: signatures is not a non-empty array");
                err = VT_EMALFORMED;
                goto out;
        }
        if (cnt > VT_ENCODING_DSSE_SIGS_MAX) {
                vt_diag_set(d, "entry: more than %d signatures", VT_ENCODING_DSSE_SIGS_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        if ((e.sigs = calloc(cnt, sizeof(*e.sigs))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        vt_encoding_int_jscan_iter(&sigs, &it);
        for (i = 0; i < cnt && vt_encoding_int_jscan_next(&it, NULL, &v); i++) {
                e.nsigs = i + 1; /* so release frees what entry_sig allocated */
                if ((err = entry_sig(&v, i, &e.sigs[i], &tmp, d)) != 0)
                        goto out;
        }
        /* One accepted encoding: the bytes must be what the encoder writes. */
        if ((err = entry_write(e.payload_type, e.payload_type_len, &e.payload_sha256, e.sigs,
                               e.nsigs, &again)) != 0)
                goto out;
        if (again.len != n || memcmp(again.p, p, n) != 0) {
                vt_diag_set(d, "entry: not in canonical form (compact JSON, sorted keys, no "
                               "white space)");
                err = VT_ENONCANON;
                goto out;
        }
        *out = e;
        vt_encoding_entry_init(&e);
        err = 0;
out:
        vt_encoding_entry_release(&e);
        vt_buf_release(&again);
        vt_buf_release(&tmp);
        return err;
}

/* see encoding.h */
int vt_encoding_entry_check(const uint8_t *p, size_t n, const struct vt_encoding_dsse *env,
                            struct vt_diag *d)
{
        struct vt_encoding_entry e;
        int err;

        vt_encoding_entry_init(&e);
        if ((err = vt_encoding_entry_parse(p, n, &e, d)) != 0)
                return err;
        err = vt_encoding_entry_matches(&e, env, d);
        vt_encoding_entry_release(&e);
        return err;
}

/* see encoding.h */
int vt_encoding_entry_matches(const struct vt_encoding_entry *ep,
                              const struct vt_encoding_dsse *env, struct vt_diag *d)
{
        const struct vt_encoding_entry e = *ep;
        struct vt_hash h;
        size_t i;
        int err = VT_EMISMATCH;

        if (env->payload_type == NULL || e.payload_type_len != env->payload_type_len ||
            memcmp(e.payload_type, env->payload_type, e.payload_type_len) != 0) {
                vt_diag_set(d, "entry: payloadType '%.64s' differs from the envelope's '%.64s'",
                            e.payload_type, env->payload_type ? env->payload_type : "");
                goto out;
        }
        vt_crypto_sha256(env->payload, env->payload_len, &h);
        if (memcmp(h.b, e.payload_sha256.b, sizeof(h.b)) != 0) {
                vt_diag_set(d, "entry: payloadSha256 differs from the SHA-256 of the envelope's "
                               "payload");
                goto out;
        }
        if (e.nsigs != env->nsigs) {
                vt_diag_set(d, "entry: lists %zu signatures, the envelope has %zu", e.nsigs,
                            env->nsigs);
                goto out;
        }
        for (i = 0; i < e.nsigs; i++) {
                const struct vt_encoding_dsse_sig *a = &e.sigs[i], *b = &env->sigs[i];

                if ((a->keyid == NULL) != (b->keyid == NULL) ||
                    (a->keyid != NULL && strcmp(a->keyid, b->keyid) != 0)) {
                        vt_diag_set(d, "entry: signature %zu has another keyid than the envelope's",
                                    i + 1);
                        goto out;
                }
                if (a->siglen != b->siglen || memcmp(a->sig, b->sig, a->siglen) != 0) {
                        vt_diag_set(d, "entry: signature %zu differs from the envelope's", i + 1);
                        goto out;
                }
        }
        err = 0;
out:
        return err;
}
