/*
 * dsse.c: DSSE v1 envelopes (secure-systems-lab/dsse, envelope.md and
 * protocol.md).
 *
 * An envelope carries a payload, its payloadType and signatures over
 *     PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 * (protocol.md, "Signature Definition"). The type is authenticated, the
 * keyid is not: it is only a hint for which key to try first.
 *
 * Invariants of a struct vt_encoding_dsse held by this file: payload_type
 * and payload are NUL-terminated heap copies (or NULL in an empty value),
 * payload_b64 is NULL or points just past payload's NUL into the same
 * allocation (parse only: see encoding.h),
 * every signature has siglen in 1..VT_ENCODING_DSSE_SIG_MAX, nsigs is at
 * most VT_ENCODING_DSSE_SIGS_MAX, and keyid is NULL or a non-empty string.
 *
 * Parsing refuses anything outside the limits in encoding.h before it
 * allocates for it. The JSON is checked whole by jscan.c (the rules of
 * vt_encoding_json_parse(), without building a tree), then its fields are
 * read in place: base64 without escapes is decoded straight from the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

/*
 * Payloads whose base64 is at most this long keep it (payload_b64): a
 * copy of up to 64 KiB costs less than encoding it again, and the memory it
 * takes stays small beside a large payload's.
 */
#define DSSE_B64_MEMO_MAX 65536

/* see encoding.h */
void vt_encoding_dsse_init(struct vt_encoding_dsse *e)
{
        memset(e, 0, sizeof(*e));
}

/* see encoding_int.h */
void vt_encoding_int_sigs_free(struct vt_encoding_dsse_sig *sigs, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++) {
                free(sigs[i].keyid);
                free(sigs[i].sig);
        }
        free(sigs);
}

/* see encoding.h */
void vt_encoding_dsse_release(struct vt_encoding_dsse *e)
{
        if (e == NULL)
                return;
        free(e->payload_type);
        free(e->payload);
        vt_encoding_int_sigs_free(e->sigs, e->nsigs);
        vt_encoding_dsse_init(e);
}

/* see encoding.h */
int vt_encoding_dsse_pae(const char *type, size_t tlen, const uint8_t *body, size_t blen,
                         struct vt_buf *out)
{
        char num[2][24];
        int l0, l1;

        /* protocol.md: LEN(s) is the ASCII decimal byte length, no leading zeros. */
        l0 = snprintf(num[0], sizeof(num[0]), "%zu", tlen);
        l1 = snprintf(num[1], sizeof(num[1]), "%zu", blen);
        if (vt_buf_reserve(out, 6 + 1 + (size_t)l0 + 1 + tlen + 1 + (size_t)l1 + 1 + blen) != 0)
                return VT_ENOMEM;
        /* Reserved above: the appends below cannot fail. */
        (void)vt_buf_append(out, "DSSEv1 ", 7);
        (void)vt_buf_append(out, num[0], (size_t)l0);
        (void)vt_buf_append(out, " ", 1);
        (void)vt_buf_append(out, type, tlen);
        (void)vt_buf_append(out, " ", 1);
        (void)vt_buf_append(out, num[1], (size_t)l1);
        (void)vt_buf_append(out, " ", 1);
        (void)vt_buf_append(out, body, blen);
        return 0;
}

/*
 * Decode base64 in either alphabet (protocol.md: verifiers MUST accept
 * standard and URL-safe), padded and canonical, into out (which it
 * replaces). A string mixing the two alphabets is malformed. Returns the
 * codes of vt_encoding_base64_decode_buf(). canon (may be NULL) is set as
 * below.
 */
static int b64_decode_any(const char *s, size_t n, struct vt_buf *out, int *canon)
{
        struct vt_buf tmp;
        int std = 0, url = 0, err;
        size_t i;

        /*
         * The standard alphabet first, in one pass: it is what nearly every
         * signer writes. A string with '-' or '_' fails it and is then
         * decided as below, so the result is the same as without this try.
         * *canon says whether it passed: s is then the one standard encoding
         * of the bytes (the decoder refuses any other), what serialize writes.
         */
        if (canon != NULL)
                *canon = 0;
        if ((err = vt_encoding_base64_decode_buf(s, n, out)) == 0 || err == VT_ENOMEM) {
                if (canon != NULL)
                        *canon = err == 0;
                return err;
        }
        /* A failed decoding appended nothing to out. */
        for (i = 0; i < n; i++) {
                if (s[i] == '+' || s[i] == '/')
                        std = 1;
                else if (s[i] == '-' || s[i] == '_')
                        url = 1;
        }
        if (std && url)
                return VT_EMALFORMED;
        if (!url)
                return vt_encoding_base64_decode_buf(s, n, out);
        vt_buf_init(&tmp);
        if ((err = vt_buf_append(&tmp, s, n)) != 0)
                return err;
        for (i = 0; i < n; i++) {
                if (tmp.p[i] == '-')
                        tmp.p[i] = '+';
                else if (tmp.p[i] == '_')
                        tmp.p[i] = '/';
        }
        err = vt_encoding_base64_decode_buf((const char *)tmp.p, n, out);
        vt_buf_release(&tmp);
        return err;
}

/* Describe a base64 failure of field what into d. */
static int b64_fail(int err, const char *what, struct vt_diag *d)
{
        switch (err) {
        case VT_ENONCANON:
                vt_diag_set(d, "envelope: %s: non-canonical base64 (padding or unused bits)", what);
                break;
        case VT_ENOMEM:
                vt_diag_set(d, "envelope: out of memory");
                break;
        default:
                vt_diag_set(d, "envelope: %s: not base64", what);
                err = VT_EMALFORMED;
        }
        return err;
}

/* Take the bytes of b (NUL-terminated) as a heap string; b is left empty. */
static uint8_t *buf_take(struct vt_buf *b)
{
        uint8_t *p;

        if (vt_buf_reserve(b, 0) != 0)
                return NULL;
        b->p[b->len] = '\0';
        p = b->p;
        vt_buf_init(b);
        return p;
}

/* Parse signatures[i] (the checked value o) into s; tmp is scratch. */
static int parse_sig(const struct vt_encoding_int_jval *o, size_t i, struct vt_encoding_dsse_sig *s,
                     struct vt_buf *tmp, struct vt_diag *d)
{
        struct vt_encoding_int_jval k, v, keyid, sig;
        struct vt_encoding_int_jiter it;
        int has_keyid = 0, has_sig = 0;
        struct vt_buf b;
        const char *str;
        size_t len;
        char what[48];
        int err;

        snprintf(what, sizeof(what), "signatures[%zu]", i);
        if (o->kind != '{') {
                vt_diag_set(d, "envelope: %s: not an object", what);
                return VT_EMALFORMED;
        }
        /* Keys are unique (checked): each is found at most once. */
        vt_encoding_int_jscan_iter(o, &it);
        while (vt_encoding_int_jscan_next(&it, &k, &v)) {
                if (vt_encoding_int_jscan_key_is(&k, "keyid")) {
                        keyid = v;
                        has_keyid = 1;
                } else if (vt_encoding_int_jscan_key_is(&k, "sig")) {
                        sig = v;
                        has_sig = 1;
                }
        }
        if (has_keyid && keyid.kind != '"') {
                vt_diag_set(d, "envelope: %s.keyid: not a string", what);
                return VT_EMALFORMED;
        }
        if (has_keyid) {
                if (vt_encoding_int_jscan_str_at(&keyid, tmp, &str, &len) != 0)
                        return VT_ENOMEM;
                if (len > VT_ENCODING_DSSE_KEYID_MAX) {
                        vt_diag_set(d, "envelope: %s.keyid: longer than %d bytes", what,
                                    VT_ENCODING_DSSE_KEYID_MAX);
                        return VT_ETOOBIG;
                }
                /* An empty keyid says nothing: treat it as absent (Go omits it, Python writes "").
                 */
                if (len > 0 && (s->keyid = vt_encoding_int_strndup(str, len)) == NULL)
                        return VT_ENOMEM;
        }
        if (!has_sig || sig.kind != '"') {
                vt_diag_set(d, "envelope: %s.sig: %s", what, !has_sig ? "missing" : "not a string");
                return VT_EMALFORMED;
        }
        if (vt_encoding_int_jscan_str_at(&sig, tmp, &str, &len) != 0)
                return VT_ENOMEM;
        if (len == 0) {
                vt_diag_set(d, "envelope: %s.sig: empty", what);
                return VT_EMALFORMED;
        }
        if (len > (VT_ENCODING_DSSE_SIG_MAX + 2) / 3 * 4) {
                vt_diag_set(d, "envelope: %s.sig: longer than %d bytes", what,
                            VT_ENCODING_DSSE_SIG_MAX);
                return VT_ETOOBIG;
        }
        vt_buf_init(&b);
        err = b64_decode_any(str, len, &b, NULL);
        if (err != 0) {
                vt_buf_release(&b);
                snprintf(what + strlen(what), sizeof(what) - strlen(what), ".sig");
                return b64_fail(err, what, d);
        }
        if (b.len == 0 || b.len > VT_ENCODING_DSSE_SIG_MAX) {
                err = b.len == 0 ? VT_EMALFORMED : VT_ETOOBIG;
                vt_diag_set(d, "envelope: %s.sig: %s", what, b.len == 0 ? "empty" : "too long");
                vt_buf_release(&b);
                return err;
        }
        s->siglen = b.len;
        if ((s->sig = buf_take(&b)) == NULL) {
                vt_buf_release(&b);
                return VT_ENOMEM;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_dsse_parse(const uint8_t *p, size_t n, struct vt_encoding_dsse *out,
                           struct vt_diag *d)
{
        struct vt_encoding_int_jval k, v, ptype, payload, sigs;
        int has_ptype = 0, has_payload = 0, has_sigs = 0;
        struct vt_encoding_int_jiter it;
        struct vt_encoding_dsse e;
        struct vt_buf b, tmp;
        const char *str;
        size_t i, len, nsigs;
        int err, canon, keep;

        vt_encoding_dsse_init(&e);
        vt_buf_init(&b);
        vt_buf_init(&tmp);
        if (n > VT_ENCODING_DSSE_MAX) {
                vt_diag_set(d, "envelope: larger than %d bytes", VT_ENCODING_DSSE_MAX);
                return VT_ETOOBIG;
        }
        /* The whole document first, as jansson did: a syntax error anywhere wins. */
        if ((err = vt_encoding_int_jscan_object(p, n, VT_ENCODING_DSSE_MAX, "envelope", &it, d)) !=
            0)
                return err;
        err = VT_EMALFORMED;
        /* Keys are unique (checked): each is found at most once. */
        while (vt_encoding_int_jscan_next(&it, &k, &v)) {
                if (vt_encoding_int_jscan_key_is(&k, "payloadType")) {
                        ptype = v;
                        has_ptype = 1;
                } else if (vt_encoding_int_jscan_key_is(&k, "payload")) {
                        payload = v;
                        has_payload = 1;
                } else if (vt_encoding_int_jscan_key_is(&k, "signatures")) {
                        sigs = v;
                        has_sigs = 1;
                }
        }

        /* payloadType: a required, non-empty string (it identifies the payload). */
        if (!has_ptype || ptype.kind != '"') {
                vt_diag_set(d, "envelope: payloadType: %s",
                            !has_ptype ? "missing" : "not a string");
                goto out;
        }
        if ((err = vt_encoding_int_jscan_str_at(&ptype, &tmp, &str, &len)) != 0)
                goto out;
        err = VT_EMALFORMED;
        if (len == 0) {
                vt_diag_set(d, "envelope: payloadType: empty");
                goto out;
        }
        if (len > VT_ENCODING_DSSE_TYPE_MAX) {
                vt_diag_set(d, "envelope: payloadType: longer than %d bytes",
                            VT_ENCODING_DSSE_TYPE_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        e.payload_type_len = len;
        if ((e.payload_type = vt_encoding_int_strndup(str, len)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }

        /* payload: a required string, base64 (possibly empty: an empty body). */
        if (!has_payload || payload.kind != '"') {
                vt_diag_set(d, "envelope: payload: %s", !has_payload ? "missing" : "not a string");
                goto out;
        }
        if ((err = vt_encoding_int_jscan_str_at(&payload, &tmp, &str, &len)) != 0)
                goto out;
        if (len / 4 * 3 > VT_ENCODING_DSSE_PAYLOAD_MAX + 2) {
                vt_diag_set(d, "envelope: payload: larger than %d bytes",
                            VT_ENCODING_DSSE_PAYLOAD_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        /* Room for the memo too (payload_b64, see encoding.h): one allocation. */
        keep = len <= DSSE_B64_MEMO_MAX;
        if (vt_buf_reserve(&b, len / 4 * 3 + 1 + (keep ? len + 1 : 0)) != 0) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = b64_decode_any(str, len, &b, &canon)) != 0) {
                err = b64_fail(err, "payload", d);
                goto out;
        }
        if (b.len > VT_ENCODING_DSSE_PAYLOAD_MAX) {
                vt_diag_set(d, "envelope: payload: larger than %d bytes",
                            VT_ENCODING_DSSE_PAYLOAD_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        e.payload_len = b.len;
        keep = keep && canon;
        if (keep) {
                /* Reserved above: b.len <= len / 4 * 3. */
                memcpy(b.p + b.len + 1, str, len);
                b.p[b.len + 1 + len] = '\0';
        }
        if ((e.payload = buf_take(&b)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if (keep) {
                e.payload_b64 = (const char *)e.payload + e.payload_len + 1;
                e.payload_b64_len = len;
        }

        /* signatures: a non-empty array of {"keyid"?, "sig"} objects. */
        err = VT_EMALFORMED;
        if (!has_sigs || sigs.kind != '[') {
                vt_diag_set(d, "envelope: signatures: %s", !has_sigs ? "missing" : "not an array");
                goto out;
        }
        nsigs = vt_encoding_int_jscan_count(&sigs);
        if (nsigs == 0) {
                vt_diag_set(d, "envelope: signatures: empty");
                goto out;
        }
        if (nsigs > VT_ENCODING_DSSE_SIGS_MAX) {
                vt_diag_set(d, "envelope: signatures: more than %d", VT_ENCODING_DSSE_SIGS_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        e.sigs = calloc(nsigs, sizeof(*e.sigs));
        if (e.sigs == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        vt_encoding_int_jscan_iter(&sigs, &it);
        for (i = 0; vt_encoding_int_jscan_next(&it, NULL, &v); i++) {
                /* Count it first, so that release frees what parse_sig left half-done. */
                e.nsigs = i + 1;
                if ((err = parse_sig(&v, i, &e.sigs[i], &tmp, d)) != 0)
                        goto out;
        }
        *out = e;
        vt_encoding_dsse_init(&e);
        err = 0;
out:
        vt_encoding_dsse_release(&e);
        vt_buf_release(&b);
        vt_buf_release(&tmp);
        return err;
}

/* see payload_b64 in encoding.h: 1 when e's memo is still its payload's base64. */
static int memo_holds(const struct vt_encoding_dsse *e)
{
        return e->payload_b64 != NULL && e->payload != NULL &&
               e->payload_b64 == (const char *)e->payload + e->payload_len + 1 &&
               e->payload_b64_len == vt_encoding_base64_len(e->payload_len);
}

/* Append "<base64>" as a JSON string: base64 needs no escaping. */
static int put_b64_string(struct vt_buf *out, const uint8_t *p, size_t n)
{
        if (vt_buf_puts(out, "\"") != 0 || vt_encoding_base64_append(out, p, n) != 0 ||
            vt_buf_puts(out, "\"") != 0)
                return VT_ENOMEM;
        return 0;
}

/* see encoding.h */
int vt_encoding_dsse_serialize(const struct vt_encoding_dsse *e, struct vt_buf *out)
{
        size_t len0 = out->len, i;
        int err = VT_ENOMEM;

        /*
         * Written by hand rather than through a json_t so that a large payload
         * is base64-encoded once, straight into out. Keys in sorted order:
         * payload < payloadType < signatures, keyid < sig.
         */
        if (vt_buf_puts(out, "{\"payload\":") != 0 ||
            (memo_holds(e) ? vt_buf_puts(out, "\"") != 0 ||
                                 vt_buf_append(out, e->payload_b64, e->payload_b64_len) != 0 ||
                                 vt_buf_puts(out, "\"") != 0
                           : put_b64_string(out, e->payload, e->payload_len) != 0) ||
            vt_buf_puts(out, ",\"payloadType\":") != 0 ||
            vt_encoding_int_put_string(out, e->payload_type ? e->payload_type : "",
                                       e->payload_type_len) != 0 ||
            vt_buf_puts(out, ",\"signatures\":[") != 0)
                goto fail;
        for (i = 0; i < e->nsigs; i++) {
                if (vt_buf_puts(out, i == 0 ? "{" : ",{") != 0)
                        goto fail;
                if (e->sigs[i].keyid != NULL &&
                    (vt_buf_puts(out, "\"keyid\":") != 0 ||
                     vt_encoding_int_put_string(out, e->sigs[i].keyid, strlen(e->sigs[i].keyid)) !=
                         0 ||
                     vt_buf_puts(out, ",") != 0))
                        goto fail;
                if (vt_buf_puts(out, "\"sig\":") != 0 ||
                    put_b64_string(out, e->sigs[i].sig, e->sigs[i].siglen) != 0 ||
                    vt_buf_puts(out, "}") != 0)
                        goto fail;
        }
        if (vt_buf_puts(out, "]}") != 0)
                goto fail;
        return 0;
fail:
        /* Leave out as it was (its bytes, not its capacity). */
        vt_encoding_int_buf_rewind(out, len0);
        return err;
}

/* see encoding.h */
int vt_encoding_dsse_set_payload(struct vt_encoding_dsse *e, const char *type,
                                 const uint8_t *payload, size_t n, struct vt_diag *d)
{
        size_t tlen;
        char *t;
        uint8_t *p;

        if (type == NULL || (tlen = strlen(type)) == 0) {
                vt_diag_set(d, "envelope: payloadType is empty");
                return VT_EINVAL;
        }
        if (tlen > VT_ENCODING_DSSE_TYPE_MAX) {
                vt_diag_set(d, "envelope: payloadType is longer than %d bytes",
                            VT_ENCODING_DSSE_TYPE_MAX);
                return VT_ETOOBIG;
        }
        if (n > VT_ENCODING_DSSE_PAYLOAD_MAX) {
                vt_diag_set(d, "envelope: payload is larger than %d bytes",
                            VT_ENCODING_DSSE_PAYLOAD_MAX);
                return VT_ETOOBIG;
        }
        if ((t = strdup(type)) == NULL)
                return VT_ENOMEM;
        if ((p = malloc(n + 1)) == NULL) {
                free(t);
                return VT_ENOMEM;
        }
        if (n > 0)
                memcpy(p, payload, n);
        p[n] = '\0';
        vt_encoding_dsse_release(e);
        e->payload_type = t;
        e->payload_type_len = tlen;
        e->payload = p;
        e->payload_len = n;
        return 0;
}

/* PAE of e into a fresh buffer. */
static int envelope_pae(const struct vt_encoding_dsse *e, struct vt_buf *pae)
{
        vt_buf_init(pae);
        return vt_encoding_dsse_pae(e->payload_type, e->payload_type_len, e->payload,
                                    e->payload_len, pae);
}

/*
 * 1 when a signature of len bytes could be one by key k: Ed25519 signatures
 * are 64 bytes; ECDSA P-256 ones are raw r||s (64 bytes) or a DER SEQUENCE
 * of at most VT_CRYPTO_SIG_MAX bytes.
 */
static int sig_shape_fits(const struct vt_crypto_key *k, const uint8_t *sig, size_t len)
{
        if (vt_crypto_key_type(k) == VT_CRYPTO_KEY_ED25519)
                return len == 64;
        return len == 64 || (len >= 8 && len <= VT_CRYPTO_SIG_MAX && sig[0] == 0x30);
}

/* see encoding.h */
int vt_encoding_dsse_sign(struct vt_encoding_dsse *e, const struct vt_crypto_key *k,
                          struct vt_diag *d)
{
        struct vt_encoding_dsse_sig *sigs, s = {NULL, NULL, 0};
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        const char *id = vt_crypto_key_id(k);
        struct vt_buf pae;
        size_t siglen = 0, i;
        int err;

        if (e->payload_type == NULL || e->payload_type_len == 0) {
                vt_diag_set(d, "envelope: no payloadType to sign");
                return VT_EINVAL;
        }
        if (!vt_crypto_key_is_private(k)) {
                vt_diag_set(d, "key %.16s…: a private key is needed to sign", id);
                return VT_ENOTPRIV;
        }
        if (e->nsigs >= VT_ENCODING_DSSE_SIGS_MAX) {
                vt_diag_set(d, "envelope: already has %d signatures", VT_ENCODING_DSSE_SIGS_MAX);
                return VT_ETOOBIG;
        }
        if ((err = envelope_pae(e, &pae)) != 0)
                goto out;
        /* One key signs once: a second signature would not count and only confuses. */
        for (i = 0; i < e->nsigs; i++) {
                const struct vt_encoding_dsse_sig *o = &e->sigs[i];
                if ((o->keyid != NULL && strcmp(o->keyid, id) == 0) ||
                    (o->keyid == NULL && sig_shape_fits(k, o->sig, o->siglen) &&
                     vt_crypto_key_verify(k, pae.p, pae.len, o->sig, o->siglen) == 0)) {
                        vt_diag_set(d, "envelope: already signed by key %s (signature %zu)", id,
                                    i + 1);
                        err = VT_EEXIST;
                        goto out;
                }
        }
        if ((err = vt_crypto_key_sign(k, pae.p, pae.len, sig, &siglen)) != 0) {
                vt_diag_set(d, "key %.16s…: signing failed", id);
                goto out;
        }
        err = VT_ENOMEM;
        if ((s.keyid = strdup(id)) == NULL || (s.sig = malloc(siglen)) == NULL)
                goto out;
        memcpy(s.sig, sig, siglen);
        s.siglen = siglen;
        sigs = vt_util_reallocarray(e->sigs, e->nsigs + 1, sizeof(*sigs));
        if (sigs == NULL)
                goto out;
        sigs[e->nsigs++] = s;
        e->sigs = sigs;
        s.keyid = NULL;
        s.sig = NULL;
        err = 0;
out:
        free(s.keyid);
        free(s.sig);
        vt_buf_release(&pae);
        return err;
}

/*
 * 1 when the signature's length and first byte fit some key type we verify:
 * 64 bytes (Ed25519, or raw ECDSA r||s) or an ECDSA DER SEQUENCE.
 */
static int sig_shape_supported(const uint8_t *sig, size_t len)
{
        return len == 64 || (len >= 8 && len <= VT_CRYPTO_SIG_MAX && sig[0] == 0x30);
}

/* Try signature s against key k: 1 when it verifies. */
static int try_key(const struct vt_crypto_key *k, const struct vt_buf *pae,
                   const struct vt_encoding_dsse_sig *s)
{
        if (!sig_shape_fits(k, s->sig, s->siglen))
                return 0;
        return vt_crypto_key_verify(k, pae->p, pae->len, s->sig, s->siglen) == 0;
}

/*
 * 1 when keys[j] is already counted: it is, or has the same key id as, one
 * of the ncounted keys in counted[] (one key given twice is one key).
 */
static int is_counted(const struct vt_crypto_key *const *keys, size_t j, const size_t *counted,
                      size_t ncounted)
{
        size_t c;

        for (c = 0; c < ncounted; c++)
                if (counted[c] == j ||
                    strcmp(vt_crypto_key_id(keys[counted[c]]), vt_crypto_key_id(keys[j])) == 0)
                        return 1;
        return 0;
}

/* see encoding.h */
int vt_encoding_dsse_verify(const struct vt_encoding_dsse *e,
                            const struct vt_crypto_key *const *keys, size_t nkeys, size_t threshold,
                            struct vt_encoding_dsse_result *r, struct vt_diag *d)
{
        struct vt_encoding_dsse_result res;
        size_t counted[VT_ENCODING_DSSE_SIGS_MAX], i, j;
        struct vt_buf pae;
        int err;

        if (threshold == 0) {
                vt_diag_set(d, "envelope: the threshold must be at least 1");
                return VT_EINVAL;
        }
        if (e->nsigs == 0 || e->nsigs > VT_ENCODING_DSSE_SIGS_MAX || e->payload_type == NULL) {
                vt_diag_set(d, "envelope: no signature to verify");
                return VT_EINVAL;
        }
        memset(&res, 0, sizeof(res));
        res.threshold = threshold;
        res.nsigs = e->nsigs;
        /* The PAE is built once for all signatures (protocol.md, "Signature Definition"). */
        if ((err = envelope_pae(e, &pae)) != 0)
                return err;

        /*
         * counted[0..nvalid): the keys counted so far, at most one per signature,
         * so this needs no allocation however many keys are given.
         */
        for (i = 0; i < e->nsigs; i++) {
                const struct vt_encoding_dsse_sig *s = &e->sigs[i];
                struct vt_encoding_dsse_check *c = &res.sig[i];
                size_t hint = SIZE_MAX, found = SIZE_MAX;

                /* protocol.md: the keyid may narrow which key to try first. */
                if (s->keyid != NULL)
                        for (j = 0; j < nkeys && hint == SIZE_MAX; j++)
                                if (strcmp(s->keyid, vt_crypto_key_id(keys[j])) == 0)
                                        hint = j;
                if (hint != SIZE_MAX && try_key(keys[hint], &pae, s))
                        found = hint;
                /* The hint is unauthenticated: then every key not yet counted. */
                for (j = 0; j < nkeys && found == SIZE_MAX; j++)
                        if (j != hint && !is_counted(keys, j, counted, res.nvalid) &&
                            try_key(keys[j], &pae, s))
                                found = j;
                /* Last, keys already counted: to say "duplicate" rather than "unknown". */
                for (j = 0; j < nkeys && found == SIZE_MAX; j++)
                        if (j != hint && is_counted(keys, j, counted, res.nvalid) &&
                            try_key(keys[j], &pae, s))
                                found = j;

                c->key = found;
                if (found != SIZE_MAX && !is_counted(keys, found, counted, res.nvalid)) {
                        counted[res.nvalid++] = found;
                        c->status = 0;
                } else if (found != SIZE_MAX) {
                        c->status = VT_EEXIST;
                } else if (hint != SIZE_MAX) {
                        /* Its keyid names a given key: judge it against that key. */
                        c->status = sig_shape_fits(keys[hint], s->sig, s->siglen) ? VT_EBADSIG
                                                                                  : VT_EMALFORMED;
                } else {
                        c->status =
                            sig_shape_supported(s->sig, s->siglen) ? VT_EUNKNOWNKEY : VT_EMALFORMED;
                }
        }
        if (res.nvalid >= threshold) {
                err = 0;
        } else {
                vt_diag_set(d, "envelope: %zu of %zu required signatures verified", res.nvalid,
                            threshold);
                err = VT_ETHRESHOLD;
        }
        if (r != NULL)
                *r = res;
        vt_buf_release(&pae);
        return err;
}

/* see encoding.h */
int vt_encoding_dsse_explain(const struct vt_encoding_dsse *e,
                             const struct vt_crypto_key *const *keys,
                             const struct vt_encoding_dsse_result *r, size_t i, struct vt_buf *out)
{
        const struct vt_encoding_dsse_check *c;
        const char *kid = e->sigs[i].keyid;
        const char *vid;

        if (i >= r->nsigs || i >= e->nsigs)
                return VT_EINVAL;
        c = &r->sig[i];
        vid = c->key != SIZE_MAX ? vt_crypto_key_id(keys[c->key]) : NULL;
        if (vt_buf_printf(out, "signature %zu (keyid %.*s%s): ", i + 1, kid ? 16 : 4,
                          kid ? kid : "none", kid && strlen(kid) > 16 ? "…" : "") != 0)
                return VT_ENOMEM;
        switch (c->status) {
        case 0:
                return vt_buf_printf(out, "valid, by key %s", vid);
        case VT_EEXIST:
                return vt_buf_printf(out, "duplicate key: key %s is already counted", vid);
        case VT_EBADSIG:
                return vt_buf_printf(out, "bad signature: does not verify with key %s", kid);
        case VT_EMALFORMED:
                if (kid != NULL)
                        return vt_buf_printf(out,
                                             "malformed signature: %zu bytes cannot be a "
                                             "signature by key %s",
                                             e->sigs[i].siglen, kid);
                return vt_buf_printf(out,
                                     "malformed signature: %zu bytes cannot be an Ed25519 or "
                                     "ECDSA P-256 signature",
                                     e->sigs[i].siglen);
        case VT_EUNKNOWNKEY:
                return vt_buf_puts(out, "no such key: it verifies with none of the given keys");
        }
        return vt_buf_printf(out, "%s", vt_strerror(c->status));
}
