/*
 * bundle.c: C2SP tlog-proof@v1 text and the offline bundle JSON
 * (docs/FORMATS.md "Proofs" and "Bundles").
 *
 * tlog-proof@v1 (c2sp.org/tlog-proof, "Format"):
 *     c2sp.org/tlog-proof@v1
 *     extra <base64>              optional: opaque, unauthenticated data
 *     index <decimal>             no leading zero unless "0"
 *     <base64 hash>               zero or more: the inclusion path, leaf side
 *     ...                         first (RFC 6962 §2.1.1 / RFC 9162 §2.1.3)
 *     <empty line>
 *     <checkpoint>                the signed note, verbatim (tlog-checkpoint)
 * Lines end in '\n'. We accept exactly one encoding: the standard padded
 * base64 alphabet with zero unused bits, 32-byte hashes, no white space,
 * and nothing after the note. The note's signatures are not checked here
 * (the verifier opens it with the log's key, policy.h); its structure is.
 *
 * Bundle: {"attestations":[{"entry":..,"envelope":{..},"proof":".."}, ..],
 * "mediaType":"application/vnd.veritrail.bundle+json;version=1"}. The writer
 * emits compact JSON with sorted keys, embedding the envelope JSON verbatim
 * (it is already canonical: vt_encoding_dsse_serialize) and the proof as a
 * JSON string. The parser accepts any valid JSON with exactly these members,
 * then parses every part with its own strict parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

#define PROOF_HASH_B64 44 /* base64 characters of a 32-byte hash */

/* see encoding.h */
void vt_encoding_tlog_proof_init(struct vt_encoding_tlog_proof *p)
{
        memset(p, 0, sizeof(*p));
}

/* see encoding.h */
void vt_encoding_tlog_proof_release(struct vt_encoding_tlog_proof *p)
{
        if (p == NULL)
                return;
        free(p->extra);
        free(p->checkpoint);
        vt_encoding_tlog_proof_init(p);
}

/*
 * proof_line(p, n, pos, line, len): the line starting at *pos (without its
 * '\n'); advances *pos past the '\n'. -1 when there is no '\n' left.
 */
static int proof_line(const uint8_t *p, size_t n, size_t *pos, const char **line, size_t *len)
{
        const uint8_t *nl;

        if (*pos >= n || (nl = memchr(p + *pos, '\n', n - *pos)) == NULL)
                return -1;
        *line = (const char *)p + *pos;
        *len = (size_t)(nl - (p + *pos));
        *pos += *len + 1;
        return 0;
}

/*
 * proof_note_check(p, n, d): the checkpoint part is a signed note (checked
 * for structure by opening it with no verifier: a well-formed note then
 * fails only with VT_EUNKNOWNKEY) whose text is a checkpoint body.
 */
static int proof_note_check(const uint8_t *p, size_t n, struct vt_diag *d)
{
        struct vt_encoding_note note;
        struct vt_encoding_checkpoint *c;
        size_t i, text_len = 0;
        int err;

        memset(&note, 0, sizeof(note));
        err = vt_encoding_note_open(p, n, NULL, 0, &note, d);
        if (err == 0)
                vt_encoding_note_release(&note); /* cannot happen without verifiers */
        if (err != VT_EUNKNOWNKEY && err != 0) {
                vt_diag_prefix(d, "tlog-proof checkpoint");
                return err;
        }
        /* signed-note: the text ends at the last blank line ("\n\n"), which must exist. */
        for (i = n - 1; i > 0; i--) {
                if (p[i] == '\n' && p[i - 1] == '\n') {
                        text_len = i;
                        break;
                }
        }
        if (text_len == 0) {
                vt_diag_set(d, "tlog-proof checkpoint: no blank line before the signatures");
                return VT_EMALFORMED;
        }
        if ((c = malloc(sizeof(*c))) == NULL)
                return VT_ENOMEM;
        err = vt_encoding_checkpoint_parse(p, text_len, c, d);
        free(c);
        if (err != 0)
                vt_diag_prefix(d, "tlog-proof");
        return err;
}

/* see encoding.h */
int vt_encoding_tlog_proof_parse(const uint8_t *p, size_t n, struct vt_encoding_tlog_proof *out,
                                 struct vt_diag *d)
{
        struct vt_encoding_tlog_proof r;
        struct vt_buf extra;
        const char *line;
        size_t pos = 0, len, lineno = 1, got;
        int err;

        vt_encoding_tlog_proof_init(&r);
        vt_buf_init(&extra);
        if (n > VT_ENCODING_TLOG_PROOF_MAX) {
                vt_diag_set(d, "tlog-proof: %zu bytes, more than %d", n,
                            VT_ENCODING_TLOG_PROOF_MAX);
                return VT_ETOOBIG;
        }
        err = VT_EMALFORMED;
        /* Line 1: the header. */
        if (proof_line(p, n, &pos, &line, &len) != 0 ||
            len != strlen(VT_ENCODING_TLOG_PROOF_HEADER) ||
            memcmp(line, VT_ENCODING_TLOG_PROOF_HEADER, len) != 0) {
                vt_diag_set(d, "tlog-proof line 1: not '%s'", VT_ENCODING_TLOG_PROOF_HEADER);
                goto out;
        }
        /* Optional extra line. */
        lineno++;
        if (proof_line(p, n, &pos, &line, &len) != 0) {
                vt_diag_set(d, "tlog-proof line %zu: missing or without a newline", lineno);
                goto out;
        }
        if (len >= 6 && memcmp(line, "extra ", 6) == 0) {
                if (len == 6) {
                        vt_diag_set(d, "tlog-proof line %zu: empty extra data (omit the line)",
                                    lineno);
                        goto out;
                }
                if (len - 6 > 4 * ((VT_ENCODING_TLOG_PROOF_EXTRA_MAX + 2) / 3)) {
                        vt_diag_set(d, "tlog-proof line %zu: extra data over %d bytes", lineno,
                                    VT_ENCODING_TLOG_PROOF_EXTRA_MAX);
                        err = VT_ETOOBIG;
                        goto out;
                }
                if ((err = vt_encoding_base64_decode_buf(line + 6, len - 6, &extra)) != 0) {
                        err = vt_encoding_int_b64_fail(err, d, "tlog-proof line %zu: extra data",
                                                       lineno);
                        goto out;
                }
                err = VT_EMALFORMED;
                r.has_extra = 1;
                lineno++;
                if (proof_line(p, n, &pos, &line, &len) != 0) {
                        vt_diag_set(d, "tlog-proof line %zu: missing or without a newline", lineno);
                        goto out;
                }
        }
        /* The index. */
        if (len < 7 || memcmp(line, "index ", 6) != 0) {
                vt_diag_set(d, "tlog-proof line %zu: not 'index N'", lineno);
                goto out;
        }
        if (len > 7 && line[6] == '0') {
                vt_diag_set(d, "tlog-proof line %zu: index has a leading zero", lineno);
                err = VT_ENONCANON;
                goto out;
        }
        if (vt_util_parse_u64(line + 6, len - 6, &r.index) != 0) {
                vt_diag_set(d, "tlog-proof line %zu: index is not a decimal number below 2^64",
                            lineno);
                goto out;
        }
        /* The inclusion path, up to the empty line. */
        for (;;) {
                lineno++;
                if (proof_line(p, n, &pos, &line, &len) != 0) {
                        vt_diag_set(d,
                                    "tlog-proof line %zu: missing the empty line before the "
                                    "checkpoint",
                                    lineno);
                        goto out;
                }
                if (len == 0)
                        break;
                if (r.npath == VT_ENCODING_TLOG_PROOF_HASHES_MAX) {
                        vt_diag_set(d, "tlog-proof: more than %d proof hashes",
                                    VT_ENCODING_TLOG_PROOF_HASHES_MAX);
                        err = VT_ETOOBIG;
                        goto out;
                }
                if (len != PROOF_HASH_B64) {
                        vt_diag_set(d, "tlog-proof line %zu: not the base64 of a 32-byte hash",
                                    lineno);
                        goto out;
                }
                if ((err = vt_encoding_base64_decode(line, len, r.path[r.npath].b,
                                                     VT_CRYPTO_HASH_LEN, &got)) != 0 ||
                    got != VT_CRYPTO_HASH_LEN) {
                        err = vt_encoding_int_b64_fail(err != 0 ? err : VT_EMALFORMED, d,
                                                       "tlog-proof line %zu: proof hash", lineno);
                        goto out;
                }
                err = VT_EMALFORMED;
                r.npath++;
        }
        /* The checkpoint: the rest, verbatim. */
        if (pos >= n) {
                vt_diag_set(d, "tlog-proof: no checkpoint after line %zu", lineno);
                goto out;
        }
        if ((err = proof_note_check(p + pos, n - pos, d)) != 0)
                goto out;
        if ((r.checkpoint = malloc(n - pos + 1)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        memcpy(r.checkpoint, p + pos, n - pos);
        r.checkpoint[n - pos] = '\0';
        r.checkpoint_len = n - pos;
        if (r.has_extra) {
                r.extra = extra.p; /* the buffer's memory becomes the extra data */
                r.extra_len = extra.len;
                vt_buf_init(&extra);
        }
        *out = r;
        vt_encoding_tlog_proof_init(&r);
        err = 0;
out:
        vt_encoding_tlog_proof_release(&r);
        vt_buf_release(&extra);
        return err;
}

/* see encoding.h */
int vt_encoding_tlog_proof_format(uint64_t index, const struct vt_hash *path, size_t npath,
                                  const uint8_t *extra, size_t extra_len, const uint8_t *note,
                                  size_t note_len, struct vt_buf *out)
{
        size_t len0 = out->len, i;

        if (npath > VT_ENCODING_TLOG_PROOF_HASHES_MAX || (npath > 0 && path == NULL) ||
            note == NULL || note_len == 0 || note[note_len - 1] != '\n' ||
            (extra != NULL && (extra_len == 0 || extra_len > VT_ENCODING_TLOG_PROOF_EXTRA_MAX)))
                return VT_EINVAL;
        if (vt_buf_puts(out, VT_ENCODING_TLOG_PROOF_HEADER "\n") != 0)
                goto fail;
        if (extra != NULL &&
            (vt_buf_puts(out, "extra ") != 0 ||
             vt_encoding_base64_append(out, extra, extra_len) != 0 || vt_buf_puts(out, "\n") != 0))
                goto fail;
        if (vt_buf_printf(out, "index %llu\n", (unsigned long long)index) != 0)
                goto fail;
        for (i = 0; i < npath; i++)
                if (vt_encoding_base64_append(out, path[i].b, sizeof(path[i].b)) != 0 ||
                    vt_buf_puts(out, "\n") != 0)
                        goto fail;
        if (vt_buf_puts(out, "\n") != 0 || vt_buf_append(out, note, note_len) != 0)
                goto fail;
        return 0;
fail:
        vt_encoding_int_buf_rewind(out, len0);
        return VT_ENOMEM;
}

/* ---- bundles ---------------------------------------------------------------- */

/* see encoding.h */
void vt_encoding_bundle_init(struct vt_encoding_bundle *b)
{
        memset(b, 0, sizeof(*b));
}

static void attestation_release(struct vt_encoding_attestation *a)
{
        vt_encoding_dsse_release(&a->envelope);
        vt_encoding_entry_release(&a->parsed);
        free(a->entry);
        a->entry = NULL;
        a->entry_len = 0;
        vt_encoding_tlog_proof_release(&a->proof);
}

/* see encoding.h */
void vt_encoding_bundle_release(struct vt_encoding_bundle *b)
{
        size_t i;

        if (b == NULL)
                return;
        for (i = 0; i < b->n; i++)
                attestation_release(&b->atts[i]);
        free(b->atts);
        vt_encoding_bundle_init(b);
}

/*
 * Parse attestations[i] (the value o of a document jscan.c checked) into a
 * (empty). The envelope is read in place by the DSSE parser, with all its
 * rules; the entry and proof strings are decoded into tmp only when they hold
 * an escape.
 */
static int attestation_parse(const struct vt_encoding_int_jval *o, size_t i,
                             struct vt_encoding_attestation *a, struct vt_buf *tmp,
                             struct vt_diag *d)
{
        struct vt_encoding_int_jval k, v, env = {0}, entry = {0}, proof = {0}; /* kind 0: absent */
        struct vt_encoding_int_jiter it;
        struct vt_buf b;
        const char *s;
        size_t n, members = 0;
        int err;

        if (o->kind != '{') {
                vt_diag_set(d, "bundle: attestations[%zu] is not an object", i);
                return VT_EMALFORMED;
        }
        /* jscan.c refused duplicate keys: each member is found once at most. */
        vt_encoding_int_jscan_iter(o, &it);
        while (vt_encoding_int_jscan_next(&it, &k, &v)) {
                members++;
                if (vt_encoding_int_jscan_key_is(&k, "envelope"))
                        env = v;
                else if (vt_encoding_int_jscan_key_is(&k, "entry"))
                        entry = v;
                else if (vt_encoding_int_jscan_key_is(&k, "proof"))
                        proof = v;
        }
        if (members != 3 || env.kind == 0 || entry.kind == 0 || proof.kind == 0) {
                vt_diag_set(d, "bundle: attestations[%zu] wants exactly entry, envelope and proof",
                            i);
                return VT_EMALFORMED;
        }
        /* The envelope: its bytes as they stand, to the DSSE parser with all its rules. */
        if (env.kind != '{') {
                vt_diag_set(d, "bundle: attestations[%zu].envelope is not an object", i);
                return VT_EMALFORMED;
        }
        if ((err = vt_encoding_dsse_parse(env.p, env.n, &a->envelope, d)) != 0) {
                vt_diag_prefix(d, "bundle: attestations[%zu].envelope", i);
                return err;
        }
        /* The entry: base64 of a parseable entry. */
        if (entry.kind != '"') {
                vt_diag_set(d, "bundle: attestations[%zu].entry is not a string", i);
                return VT_EMALFORMED;
        }
        if ((err = vt_encoding_int_jscan_str_at(&entry, tmp, &s, &n)) != 0)
                return err;
        if (n > 4 * ((VT_ENCODING_ENTRY_MAX + 2) / 3)) {
                vt_diag_set(d, "bundle: attestations[%zu].entry is longer than %d bytes", i,
                            VT_ENCODING_ENTRY_MAX);
                return VT_ETOOBIG;
        }
        vt_buf_init(&b);
        if ((err = vt_encoding_base64_decode_buf(s, n, &b)) != 0) {
                vt_buf_release(&b);
                return vt_encoding_int_b64_fail(err, d, "bundle: attestations[%zu].entry", i);
        }
        if ((err = vt_encoding_entry_parse(b.p, b.len, &a->parsed, d)) != 0) {
                vt_buf_release(&b);
                vt_diag_prefix(d, "bundle: attestations[%zu]", i);
                return err;
        }
        a->entry = b.p; /* the buffer's memory becomes the entry */
        a->entry_len = b.len;
        /* The proof. */
        if (proof.kind != '"') {
                vt_diag_set(d, "bundle: attestations[%zu].proof is not a string", i);
                return VT_EMALFORMED;
        }
        if ((err = vt_encoding_int_jscan_str_at(&proof, tmp, &s, &n)) != 0)
                return err;
        if ((err = vt_encoding_tlog_proof_parse((const uint8_t *)s, n, &a->proof, d)) != 0) {
                vt_diag_prefix(d, "bundle: attestations[%zu].proof", i);
                return err;
        }
        return 0;
}

/*
 * The array *it stands on, entered and stepped past: its elements into *el
 * (allocated; at most one past the limit, the rest only counted in *cnt).
 * 0 or VT_ENOMEM.
 */
static int bundle_elements(struct vt_encoding_int_jiter *it, struct vt_encoding_int_jval **el,
                           size_t *cnt)
{
        struct vt_encoding_int_jiter in;
        struct vt_encoding_int_jval v, *t;
        size_t cap = 0;

        vt_encoding_int_jscan_enter(it, &in);
        while (vt_encoding_int_jscan_next(&in, NULL, &v)) {
                if (*cnt <= VT_ENCODING_BUNDLE_ATTESTATIONS_MAX) {
                        if (*cnt == cap) {
                                cap = cap ? 2 * cap : 16;
                                if ((t = vt_util_reallocarray(*el, cap, sizeof(*t))) == NULL)
                                        return VT_ENOMEM;
                                *el = t;
                        }
                        (*el)[*cnt] = v;
                }
                (*cnt)++;
        }
        vt_encoding_int_jscan_leave(it, &in);
        return 0;
}

/*
 * see encoding.h. The bundle is checked whole by jscan.c (the rules of
 * vt_encoding_json_parse(), without a tree), then read in place: the
 * envelopes go to the DSSE parser as the bytes they are in the bundle,
 * instead of a jansson tree dumped back to text (which cost as much as half
 * a signature check per attestation).
 */
int vt_encoding_bundle_parse(const uint8_t *p, size_t n, struct vt_encoding_bundle *out,
                             struct vt_diag *d)
{
        struct vt_encoding_int_jval k, v, mt = {0}, *el = NULL; /* kind 0: absent */
        struct vt_encoding_int_jiter it;
        struct vt_encoding_bundle b;
        struct vt_buf tmp;
        const char *s;
        size_t i, cnt = 0, sn, members = 0;
        char atts = 0; /* the kind of attestations, 0 when absent */
        int err;

        vt_encoding_bundle_init(&b);
        vt_buf_init(&tmp);
        if ((err = vt_encoding_int_jscan_object(p, n, VT_ENCODING_BUNDLE_MAX, "bundle", &it, d)) !=
            0)
                return err;
        /* One pass: the attestations noted where they stand, the rest skipped. */
        while (vt_encoding_int_jscan_next_open(&it, &k, &v)) {
                members++;
                if (vt_encoding_int_jscan_key_is(&k, "attestations")) {
                        if ((atts = v.kind) == '[') {
                                if ((err = bundle_elements(&it, &el, &cnt)) != 0)
                                        goto out;
                                continue;
                        }
                } else if (vt_encoding_int_jscan_key_is(&k, "mediaType")) {
                        mt = v;
                }
                if (v.kind == '{' || v.kind == '[')
                        vt_encoding_int_jscan_skip(&it);
        }
        err = VT_EMALFORMED;
        if (members != 2 || atts == 0 || mt.kind == 0) {
                vt_diag_set(d, "bundle: wants exactly attestations and mediaType");
                goto out;
        }
        if (mt.kind != '"' || vt_encoding_int_jscan_str_at(&mt, &tmp, &s, &sn) != 0 ||
            sn != sizeof(VT_ENCODING_BUNDLE_MEDIA_TYPE) - 1 ||
            memcmp(s, VT_ENCODING_BUNDLE_MEDIA_TYPE, sn) != 0) {
                vt_diag_set(d, "bundle: mediaType is not '%s'", VT_ENCODING_BUNDLE_MEDIA_TYPE);
                goto out;
        }
        if (atts != '[' || cnt == 0) {
                vt_diag_set(d, "bundle: attestations is not a non-empty array");
                goto out;
        }
        if (cnt > VT_ENCODING_BUNDLE_ATTESTATIONS_MAX) {
                vt_diag_set(d, "bundle: more than %d attestations",
                            VT_ENCODING_BUNDLE_ATTESTATIONS_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        if ((b.atts = calloc(cnt, sizeof(*b.atts))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        for (i = 0; i < cnt; i++) {
                vt_encoding_dsse_init(&b.atts[i].envelope);
                vt_encoding_entry_init(&b.atts[i].parsed);
                vt_encoding_tlog_proof_init(&b.atts[i].proof);
                b.n = i + 1; /* so release frees what was parsed */
                if ((err = attestation_parse(&el[i], i, &b.atts[i], &tmp, d)) != 0)
                        goto out;
        }
        *out = b;
        vt_encoding_bundle_init(&b);
        err = 0;
out:
        vt_encoding_bundle_release(&b);
        vt_buf_release(&tmp);
        free(el);
        return err;
}

/* see encoding.h */
int vt_encoding_bundle_begin(struct vt_buf *out)
{
        return vt_buf_puts(out, "{\"attestations\":[") != 0 ? VT_ENOMEM : 0;
}

/*
 * bundle_put_plain(out, p, n): p[0..n) as a JSON string, written directly
 * when it holds only what a tlog-proof holds (printable ASCII, newlines and
 * the UTF-8 em dash of signature lines), byte for byte what jansson writes
 * for it; -1 when p holds anything else (the caller lets jansson do it),
 * VT_ENOMEM, or 0.
 */
static int bundle_put_plain(struct vt_buf *out, const uint8_t *p, size_t n)
{
        size_t i, k = 0;

        for (i = 0; i < n; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f)
                        k += p[i] == '"' || p[i] == '\\';
                else if (p[i] == '\n')
                        k++;
                else if (p[i] == 0xe2 && n - i >= 3 && p[i + 1] == 0x80 && p[i + 2] == 0x94)
                        i += 2;
                else
                        return -1;
        }
        if (vt_buf_reserve(out, n + k + 3) != 0)
                return VT_ENOMEM;
        out->p[out->len++] = '"';
        for (i = 0; i < n; i++) {
                if (p[i] == '\n') {
                        out->p[out->len++] = '\\';
                        out->p[out->len++] = 'n';
                        continue;
                }
                if (p[i] == '"' || p[i] == '\\')
                        out->p[out->len++] = '\\';
                out->p[out->len++] = p[i];
        }
        out->p[out->len++] = '"';
        out->p[out->len] = '\0';
        return 0;
}

/* see encoding.h */
int vt_encoding_bundle_add(struct vt_buf *out, int first, const uint8_t *env, size_t env_len,
                           const uint8_t *entry, size_t entry_len, const uint8_t *proof,
                           size_t proof_len)
{
        size_t len0 = out->len;
        json_t *v;
        int err = VT_ENOMEM;

        /* Keys in byte order: entry < envelope < proof. */
        if (vt_buf_puts(out, first ? "{\"entry\":\"" : ",{\"entry\":\"") != 0 ||
            vt_encoding_base64_append(out, entry, entry_len) != 0 ||
            vt_buf_puts(out, "\",\"envelope\":") != 0 || vt_buf_append(out, env, env_len) != 0 ||
            vt_buf_puts(out, ",\"proof\":") != 0)
                goto fail;
        if ((err = bundle_put_plain(out, proof, proof_len)) == -1) {
                if ((v = json_stringn((const char *)proof, proof_len)) == NULL) {
                        err = VT_EINVAL; /* not UTF-8 (or no memory) */
                        goto fail;
                }
                err = vt_encoding_json_dump(v, JSON_COMPACT | JSON_ENCODE_ANY, out);
                json_decref(v);
        }
        if (err != 0 || vt_buf_puts(out, "}") != 0) {
                err = VT_ENOMEM;
                goto fail;
        }
        return 0;
fail:
        vt_encoding_int_buf_rewind(out, len0);
        return err;
}

/* see encoding.h */
int vt_encoding_bundle_proof_note(const uint8_t *note, size_t n, struct vt_buf *out)
{
        size_t len0 = out->len, q;
        json_t *v;
        int err;

        if (n == 0 || note[n - 1] != '\n')
                return VT_EINVAL;
        /* The note as a JSON string, exactly as vt_encoding_bundle_add() writes a proof... */
        if ((err = bundle_put_plain(out, note, n)) == -1) {
                if ((v = json_stringn((const char *)note, n)) == NULL)
                        return VT_EINVAL; /* not UTF-8 (or no memory) */
                err = vt_encoding_json_dump(v, JSON_COMPACT | JSON_ENCODE_ANY, out);
                json_decref(v);
        }
        if (err != 0) {
                vt_encoding_int_buf_rewind(out, len0);
                return VT_ENOMEM;
        }
        /*
         * ...without its quotes. Escaping is character by character, so the
         * escaped note is the tail of the escaped proof whose text ends with it.
         */
        q = out->len - len0;
        memmove(out->p + len0, out->p + len0 + 1, q - 2);
        vt_encoding_int_buf_rewind(out, out->len - 2);
        return 0;
}

/*
 * The text of vt_encoding_bundle_add_proved(): the attestation up to the
 * proof's path (proved_head), the path (PROOF_PATH_LINE characters a hash),
 * then the rest (proved_tail). The proof text of
 * vt_encoding_tlog_proof_format() holds, before the note, only base64,
 * digits, letters, '/', '@', '.', ' ' and newlines: escaped, each newline
 * becomes the two characters \n.
 */
#define PROOF_PATH_LINE (2 + PROOF_HASH_B64)

/* Bytes to reserve for one attestation with npath hashes (its NUL included). */
static size_t proved_need(int first, size_t env_len, size_t entry_len, size_t npath,
                          size_t note_json_len)
{
        return (first ? 10 : 11) + vt_encoding_base64_len(entry_len) + 13 + env_len + 10 +
               sizeof(VT_ENCODING_TLOG_PROOF_HEADER) + 2 + 6 + 20 + 2 + npath * PROOF_PATH_LINE +
               2 + note_json_len + 3;
}

/* Write the attestation up to its path at w; the end of what was written. */
static char *proved_head(char *w, int first, const uint8_t *env, size_t env_len,
                         const uint8_t *entry, size_t entry_len, uint64_t index)
{
        if (!first)
                *w++ = ',';
        memcpy(w, "{\"entry\":\"", 10);
        w += 10;
        vt_encoding_base64_encode(entry, entry_len, w);
        w += vt_encoding_base64_len(entry_len);
        memcpy(w, "\",\"envelope\":", 13);
        w += 13;
        memcpy(w, env, env_len);
        w += env_len;
        memcpy(w, ",\"proof\":\"", 10);
        w += 10;
        memcpy(w, VT_ENCODING_TLOG_PROOF_HEADER "\\nindex ",
               sizeof(VT_ENCODING_TLOG_PROOF_HEADER) - 1 + 8);
        w += sizeof(VT_ENCODING_TLOG_PROOF_HEADER) - 1 + 8;
        w += snprintf(w, 21, "%llu", (unsigned long long)index);
        return w;
}

/* Write the rest after the path at w, and make it part of out. */
static void proved_tail(struct vt_buf *out, char *w, const char *note_json, size_t note_json_len)
{
        memcpy(w, "\\n\\n", 4);
        w += 4;
        memcpy(w, note_json, note_json_len);
        w += note_json_len;
        memcpy(w, "\"}", 3); /* and the NUL */
        w += 2;
        out->len = (size_t)(w - (char *)out->p);
}

/* Write the text of one path hash at w (and a NUL after it). */
static void proved_line(char *w, const struct vt_hash *h)
{
        w[0] = '\\';
        w[1] = 'n';
        vt_encoding_base64_encode(h->b, sizeof(h->b), w + 2);
}

/* see encoding.h */
int vt_encoding_bundle_add_proved(struct vt_buf *out, int first, const uint8_t *env, size_t env_len,
                                  const uint8_t *entry, size_t entry_len, uint64_t index,
                                  const struct vt_hash *path, size_t npath, const char *note_json,
                                  size_t note_json_len)
{
        return vt_encoding_bundle_add_proved_memo(out, first, env, env_len, entry, entry_len, index,
                                                  path, npath, note_json, note_json_len, NULL);
}

/* see encoding.h */
void vt_encoding_path_memo_init(struct vt_encoding_path_memo *memo)
{
        memo->n = 0;
        memo->text[0] = '\0';
}

/*
 * path_memo_put(m, path, npath): m holds path and its text. The hashes
 * path ends with that m's path ends with too keep their text (moved to
 * their new place); only the others are encoded.
 */
static void path_memo_put(struct vt_encoding_path_memo *m, const struct vt_hash *path, size_t npath)
{
        size_t s = 0, i;

        while (s < m->n && s < npath &&
               memcmp(m->h[m->n - 1 - s].b, path[npath - 1 - s].b, sizeof(path[0].b)) == 0)
                s++;
        if (s > 0 && m->n != npath)
                memmove(m->text + (npath - s) * PROOF_PATH_LINE,
                        m->text + (m->n - s) * PROOF_PATH_LINE, s * PROOF_PATH_LINE);
        for (i = 0; i < npath - s; i++)
                proved_line(m->text + i * PROOF_PATH_LINE, &path[i]);
        /* The last line's NUL fell on the first kept line's backslash. */
        if (s > 0 && npath > s)
                m->text[(npath - s) * PROOF_PATH_LINE] = '\\';
        memmove(m->h, path, npath * sizeof(path[0]));
        m->n = npath;
}

/* see encoding.h */
int vt_encoding_bundle_add_proved_memo(struct vt_buf *out, int first, const uint8_t *env,
                                       size_t env_len, const uint8_t *entry, size_t entry_len,
                                       uint64_t index, const struct vt_hash *path, size_t npath,
                                       const char *note_json, size_t note_json_len,
                                       struct vt_encoding_path_memo *memo)
{
        size_t i;
        char *w;

        if (npath > VT_ENCODING_TLOG_PROOF_HASHES_MAX || (npath > 0 && path == NULL) ||
            note_json == NULL || note_json_len == 0)
                return VT_EINVAL;
        if (vt_buf_reserve(out, proved_need(first, env_len, entry_len, npath, note_json_len)) != 0)
                return VT_ENOMEM;
        w = proved_head((char *)out->p + out->len, first, env, env_len, entry, entry_len, index);
        if (memo != NULL) {
                path_memo_put(memo, path, npath);
                memcpy(w, memo->text, npath * PROOF_PATH_LINE);
                w += npath * PROOF_PATH_LINE;
        } else {
                for (i = 0; i < npath; i++, w += PROOF_PATH_LINE)
                        proved_line(w, &path[i]);
        }
        proved_tail(out, w, note_json, note_json_len);
        return 0;
}

/* see encoding.h */
int vt_encoding_bundle_end(struct vt_buf *out)
{
        return vt_buf_puts(out, "],\"mediaType\":\"" VT_ENCODING_BUNDLE_MEDIA_TYPE "\"}") != 0
                   ? VT_ENOMEM
                   : 0;
}
