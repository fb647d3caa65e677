/*
 * checkpoint.c: C2SP tlog-checkpoint bodies (tlog-checkpoint.md §Note text)
 * and their signed notes.
 *
 *     <origin>\n          non-empty; any text but control characters
 *     <tree size>\n       ASCII decimal, no leading zero ("0" for empty)
 *     <root hash>\n       base64 of the 32-byte RFC 6962 / RFC 9162 root
 *     [<extension>\n]...  optional, opaque, each non-empty
 *
 * Parsing is strict and canonical (one accepted encoding per value): the
 * size fits 64 bits, the base64 is padded with zero unused bits, every line
 * ends in '\n'. The origin SHOULD be a schema-less URL without spaces or
 * '+', but clients MUST NOT assume it (§Note text 1), so only the MUSTs are
 * enforced here; vt_encoding_checkpoint_open() then requires the origin to
 * equal the log's key name (§Signatures: "SHOULD match").
 */
#include <stdint.h>
#include <string.h>

#include "veritrail/encoding.h"
#include "veritrail/util.h"

#define SIZE_DIGITS_MAX 20 /* 18446744073709551615 */
#define ROOT_B64_LEN    44 /* base64 of 32 bytes */

/* line_end(p, n, i): index of the '\n' ending the line that starts at i, or n. */
static size_t line_end(const uint8_t *p, size_t n, size_t i)
{
        const uint8_t *nl = memchr(p + i, '\n', n - i);

        return nl == NULL ? n : (size_t)(nl - p);
}

/* size_parse(s, n, out, d): tlog-checkpoint §Note text 2, reasons for line 2. */
static int size_parse(const char *s, size_t n, uint64_t *out, struct vt_diag *d)
{
        size_t i;

        if (n == 0) {
                vt_diag_set(d, "checkpoint line 2: tree size is empty");
                return VT_EMALFORMED;
        }
        for (i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9') {
                        vt_diag_set(d,
                                    "checkpoint line 2: tree size '%.*s' is not a decimal number",
                                    (int)(n > 40 ? 40 : n), s);
                        return VT_EMALFORMED;
                }
        }
        if (n > 1 && s[0] == '0') {
                vt_diag_set(d, "checkpoint line 2: tree size has a leading zero");
                return VT_EMALFORMED;
        }
        if (n > SIZE_DIGITS_MAX || vt_util_parse_u64(s, n, out) != 0) {
                vt_diag_set(d, "checkpoint line 2: tree size does not fit in 64 bits");
                return VT_EMALFORMED;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_checkpoint_parse(const uint8_t *text, size_t n, struct vt_encoding_checkpoint *out,
                                 struct vt_diag *d)
{
        struct vt_encoding_checkpoint c;
        size_t i, e, len, line;
        int err;

        if (text == NULL || n == 0) {
                vt_diag_set(d, "checkpoint line 1: missing origin");
                return VT_EMALFORMED;
        }
        if (text[n - 1] != '\n') {
                vt_diag_set(d, "checkpoint does not end in a newline");
                return VT_EMALFORMED;
        }
        if ((err = vt_encoding_note_text_valid(text, n, d)) != 0) {
                /* Say "checkpoint line N: ..." rather than "note text line N: ...". */
                if (d != NULL && strncmp(d->msg, "note text ", 10) == 0) {
                        char why[VT_DIAG_MAX];

                        memcpy(why, d->msg + 10, sizeof(why) - 10);
                        vt_diag_set(d, "checkpoint %s", why);
                }
                return err;
        }
        memset(&c, 0, sizeof(c));

        /* Line 1: origin. */
        e = line_end(text, n, 0);
        if (e == 0) {
                vt_diag_set(d, "checkpoint line 1: origin is empty");
                return VT_EMALFORMED;
        }
        if (e > VT_ENCODING_ORIGIN_MAX) {
                vt_diag_set(d, "checkpoint line 1: origin is longer than %d bytes",
                            VT_ENCODING_ORIGIN_MAX);
                return VT_ETOOBIG;
        }
        memcpy(c.origin, text, e);
        c.origin[e] = '\0';

        /* Line 2: tree size. */
        i = e + 1;
        if (i == n) {
                vt_diag_set(d, "checkpoint line 2: missing tree size");
                return VT_EMALFORMED;
        }
        e = line_end(text, n, i);
        if ((err = size_parse((const char *)text + i, e - i, &c.size, d)) != 0)
                return err;

        /* Line 3: root hash. */
        i = e + 1;
        if (i == n) {
                vt_diag_set(d, "checkpoint line 3: missing root hash");
                return VT_EMALFORMED;
        }
        e = line_end(text, n, i);
        len = e - i;
        if (len != ROOT_B64_LEN) {
                vt_diag_set(d,
                            "checkpoint line 3: root hash is %zu characters, not the 44 of a "
                            "base64 SHA-256",
                            len);
                return VT_EMALFORMED;
        }
        err = vt_encoding_base64_decode((const char *)text + i, len, c.root.b, sizeof(c.root.b),
                                        &len);
        if (err == 0 && len != sizeof(c.root.b))
                err = VT_EMALFORMED;
        if (err != 0) {
                vt_diag_set(d, "checkpoint line 3: root hash is %s",
                            err == VT_ENONCANON ? "not canonical base64"
                                                : "not base64 of 32 bytes");
                return err == VT_ENONCANON ? VT_ENONCANON : VT_EMALFORMED;
        }

        /* Lines 4...: extension lines, non-empty, kept verbatim. */
        i = e + 1;
        for (line = 4; i + c.ext_len < n; line++) {
                size_t j = i + c.ext_len;

                e = line_end(text, n, j);
                if (e == j) {
                        vt_diag_set(d, "checkpoint line %zu: extension line is empty", line);
                        return VT_EMALFORMED;
                }
                c.ext_len += e - j + 1;
        }
        if (c.ext_len > VT_ENCODING_CHECKPOINT_EXT_MAX) {
                vt_diag_set(d, "checkpoint extension lines are longer than %d bytes",
                            VT_ENCODING_CHECKPOINT_EXT_MAX);
                return VT_ETOOBIG;
        }
        memcpy(c.ext, text + i, c.ext_len);
        c.ext[c.ext_len] = '\0';
        *out = c;
        return 0;
}

/* see encoding.h */
int vt_encoding_checkpoint_format(const struct vt_encoding_checkpoint *c, struct vt_buf *out)
{
        struct vt_encoding_checkpoint check;
        char root[64];
        size_t olen, mark;

        if (c == NULL || out == NULL)
                return VT_EINVAL;
        olen = strnlen(c->origin, sizeof(c->origin));
        if (olen > VT_ENCODING_ORIGIN_MAX || c->ext_len > VT_ENCODING_CHECKPOINT_EXT_MAX)
                return VT_EINVAL;
        vt_encoding_base64_encode(c->root.b, sizeof(c->root.b), root);
        mark = out->len;
        if (vt_buf_printf(out, "%s\n%llu\n%s\n", c->origin, (unsigned long long)c->size, root) !=
                0 ||
            vt_buf_append(out, c->ext, c->ext_len) != 0) {
                out->len = mark;
                if (out->p != NULL)
                        out->p[mark] = '\0';
                return VT_ENOMEM;
        }
        /* What we write must parse back: this checks the origin and extension lines. */
        if (vt_encoding_checkpoint_parse(out->p + mark, out->len - mark, &check, NULL) != 0) {
                out->len = mark;
                out->p[mark] = '\0';
                return VT_EINVAL;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_checkpoint_sign(const struct vt_encoding_checkpoint *c, const char *name,
                                const struct vt_crypto_key *k, struct vt_buf *out,
                                struct vt_diag *d)
{
        struct vt_buf body;
        int err;

        vt_buf_init(&body);
        if ((err = vt_encoding_checkpoint_format(c, &body)) != 0) {
                vt_diag_set(d, err == VT_ENOMEM ? "out of memory" : "checkpoint is not valid");
                goto out;
        }
        err = vt_encoding_note_sign(body.p, body.len, name != NULL ? name : c->origin, k, out, d);
out:
        vt_buf_release(&body);
        return err;
}

/* see encoding.h */
int vt_encoding_checkpoint_open_note(const uint8_t *msg, size_t n,
                                     const struct vt_encoding_note_verifier *log_verifier,
                                     struct vt_encoding_checkpoint *out,
                                     struct vt_encoding_note *note, struct vt_diag *d)
{
        struct vt_encoding_note nt;
        struct vt_encoding_checkpoint c;
        /* note_open only reads the verifiers; its array type is not const-deep. */
        struct vt_encoding_note_verifier *v = (struct vt_encoding_note_verifier *)log_verifier;
        int err;

        if (log_verifier == NULL || out == NULL) {
                vt_diag_set(d, "checkpoint: no log verifier given");
                return VT_EINVAL;
        }
        if ((err = vt_encoding_note_open(msg, n, &v, 1, &nt, d)) != 0) {
                if (err == VT_EUNKNOWNKEY)
                        vt_diag_set(d, "checkpoint has no signature by the log key '%s+%08x'",
                                    vt_encoding_note_verifier_name(v),
                                    (unsigned)vt_encoding_note_verifier_hash(v));
                return err;
        }
        if ((err = vt_encoding_checkpoint_parse(nt.text, nt.text_len, &c, d)) != 0)
                goto out;
        /* tlog-checkpoint §Signatures: the log's key name SHOULD match the origin. */
        if (strcmp(c.origin, vt_encoding_note_verifier_name(v)) != 0) {
                vt_diag_set(d, "checkpoint line 1: origin '%s' is not the log key name '%s'",
                            c.origin, vt_encoding_note_verifier_name(v));
                err = VT_EMALFORMED;
                goto out;
        }
        *out = c;
        if (note != NULL) {
                *note = nt;
                memset(&nt, 0, sizeof(nt));
        }
out:
        vt_encoding_note_release(&nt);
        return err;
}

/* see encoding.h */
int vt_encoding_checkpoint_open(const uint8_t *msg, size_t n,
                                const struct vt_encoding_note_verifier *log_verifier,
                                struct vt_encoding_checkpoint *out, struct vt_diag *d)
{
        return vt_encoding_checkpoint_open_note(msg, n, log_verifier, out, NULL, d);
}
