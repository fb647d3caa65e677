/*
 * note.c: C2SP signed notes (signed-note.md), their verifier keys, and the
 * Ed25519 cosignature/v1 signature type (tlog-cosignature.md).
 *
 * A signed note is
 *
 *     text                 non-empty, ends in '\n', may hold empty lines
 *     "\n"                 the blank line: the LAST "\n\n" of the message
 *     "— name b64\n" ...   one or more signature lines (U+2014, space)
 *
 * The whole message is valid UTF-8 without ASCII control characters other
 * than '\n' (signed-note §Format). A signature line decodes to 4+n bytes: the
 * big-endian key hash, then n signature bytes. A key is identified by the
 * pair (name, key hash), key hash = SHA-256(name || 0x0A || type || pk)[:4]
 * (signed-note §Signatures).
 *
 * Opening a note follows signed-note §Signatures and Go's note.Open: lines
 * from keys we were not given are kept but ignored; every line from a known
 * key is verified and one failure rejects the whole note; a note with no
 * verified line is rejected. Limits: VT_ENCODING_NOTE_MAX bytes and
 * VT_ENCODING_NOTE_SIGS_MAX lines (Go sumdb's 100; the spec asks for >= 16).
 *
 * Type 0x04 (tlog-cosignature §Format, §Ed25519 signed message) signs
 *     "cosignature/v1\ntime <T>\n" || text
 * and its signature bytes are T as 8 big-endian bytes || the 64-byte
 * Ed25519 signature; T <= 2^63-1.
 *
 * Invariants: outputs are untouched on failure; buffers given to append to
 * are restored to their old length on failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/util.h"

#define SIG_PREFIX     "\xe2\x80\x94 " /* U+2014 em dash, space */
#define SIG_PREFIX_LEN 4
#define PK_LEN         32 /* Ed25519 public key */
#define ED_SIG_LEN     64 /* Ed25519 signature */
#define COSIG_LEN      (8 + ED_SIG_LEN)
#define COSIG_HEADER   "cosignature/v1\ntime "
#define TIME_MAX       ((uint64_t)INT64_MAX) /* tlog-cosignature: timestamp <= 2^63-1 */
#define VKEY_KEY_MAX   1400 /* decoded type || key bytes we look at (ML-DSA-44 fits) */

struct vt_encoding_note_verifier {
        char name[VT_ENCODING_NOTE_NAME_MAX + 1];
        uint32_t hash;
        int type;
        uint8_t pub[PK_LEN];
        struct vt_crypto_key *key;
};

/* One signature line found by the structural parser. */
struct sigline {
        const char *name;
        size_t name_len;
        uint32_t hash;
        const uint8_t *sig; /* decoded bytes after the key hash */
        size_t siglen;
        const uint8_t *line; /* the whole line, '\n' included */
        size_t line_len;
};

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint64_t be64(const uint8_t *p)
{
        return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
        put_be32(p, (uint32_t)(v >> 32));
        put_be32(p + 4, (uint32_t)v);
}

/* buf_truncate(b, len): undo appends past len (they failed half-way). */
static void buf_truncate(struct vt_buf *b, size_t len)
{
        b->len = len;
        if (b->p != NULL)
                b->p[len] = '\0';
}

/*
 * utf8_next(p, n, cp): the length (1..4) of the well-formed UTF-8 sequence
 * at p (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF) and
 * its code point in *cp, or 0 when it is not well-formed.
 */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
        uint32_t c = p[0], v;
        size_t len, i;

        if (c < 0x80) {
                *cp = c;
                return 1;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
                v = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                v = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                v = c & 0x07;
        } else {
                return 0;
        }
        if (n < len)
                return 0;
        for (i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                v = v << 6 | (p[i] & 0x3f);
        }
        if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)))
                return 0;
        if (v >= 0xd800 && v <= 0xdfff)
                return 0;
        *cp = v;
        return len;
}

/* is_space(cp): Go's unicode.IsSpace: Latin-1 white space and categories Z. */
static int is_space(uint32_t cp)
{
        switch (cp) {
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case ' ':
        case 0x85:
        case 0xa0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202f:
        case 0x205f:
        case 0x3000:
                return 1;
        default:
                return cp >= 0x2000 && cp <= 0x200a;
        }
}

/*
 * name_check(name, n): NULL when name is a valid key name (signed-note
 * §Format: non-empty, no Unicode space, no '+'; we also bound the length and
 * refuse control characters), else the reason.
 */
static const char *name_check(const char *name, size_t n)
{
        const uint8_t *p = (const uint8_t *)name;
        size_t i = 0, k;
        uint32_t cp;

        if (n == 0)
                return "is empty";
        if (n > VT_ENCODING_NOTE_NAME_MAX)
                return "is longer than 255 bytes";
        while (i < n) {
                if ((k = utf8_next(p + i, n - i, &cp)) == 0)
                        return "is not valid UTF-8";
                if (cp == '+')
                        return "contains '+'";
                if (is_space(cp))
                        return "contains a space";
                if (cp < 0x20 || cp == 0x7f)
                        return "contains a control character";
                i += k;
        }
        return NULL;
}

/* see encoding.h */
int vt_encoding_note_name_valid(const char *name, size_t n)
{
        return name != NULL && name_check(name, n) == NULL;
}

/*
 * text_check(p, n, what, d): signed-note §Format for a whole message or a
 * text: valid UTF-8, no control character below U+0020 but '\n'.
 */
static int text_check(const uint8_t *p, size_t n, const char *what, struct vt_diag *d)
{
        size_t i = 0, k, line = 1;
        uint32_t cp;

        while (i < n) {
                if (p[i] >= 0x20 && p[i] < 0x80) { /* fast path: printable ASCII */
                        i++;
                        continue;
                }
                if ((k = utf8_next(p + i, n - i, &cp)) == 0) {
                        vt_diag_set(d, "%s line %zu: invalid UTF-8 at byte %zu", what, line, i);
                        return VT_EMALFORMED;
                }
                if (cp == '\n') {
                        line++;
                } else if (cp < 0x20) {
                        vt_diag_set(d, "%s line %zu: control character 0x%02x", what, line,
                                    (unsigned)cp);
                        return VT_EMALFORMED;
                }
                i += k;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_note_text_valid(const uint8_t *text, size_t n, struct vt_diag *d)
{
        if (n == 0) {
                vt_diag_set(d, "note text is empty");
                return VT_EMALFORMED;
        }
        if (text[n - 1] != '\n') {
                vt_diag_set(d, "note text does not end in a newline");
                return VT_EMALFORMED;
        }
        return text_check(text, n, "note text", d);
}

static uint32_t key_hash_n(const char *name, size_t name_len, uint8_t type, const uint8_t *pub,
                           size_t publen)
{
        struct vt_span parts[4];
        struct vt_hash h;

        parts[0].p = (const uint8_t *)name;
        parts[0].len = name_len;
        parts[1].p = (const uint8_t *)"\n";
        parts[1].len = 1;
        parts[2].p = &type;
        parts[2].len = 1;
        parts[3].p = pub;
        parts[3].len = publen;
        vt_crypto_sha256_v(parts, 4, &h);
        return be32(h.b);
}

/* see encoding.h */
uint32_t vt_encoding_note_key_hash(const char *name, uint8_t type, const uint8_t *pub,
                                   size_t publen)
{
        return key_hash_n(name, strlen(name), type, pub, publen);
}

/* vkey_append(name, type, pub, out): "<name>+<hex8>+base64(type || pub)", one append. */
static int vkey_append(const char *name, uint8_t type, const uint8_t pub[PK_LEN],
                       struct vt_buf *out)
{
        uint8_t tk[1 + PK_LEN];
        char b64[64], s[VT_ENCODING_NOTE_NAME_MAX + 80];
        int len;

        tk[0] = type;
        memcpy(tk + 1, pub, PK_LEN);
        vt_encoding_base64_encode(tk, sizeof(tk), b64);
        len = snprintf(s, sizeof(s), "%s+%08x+%s", name,
                       (unsigned)key_hash_n(name, strlen(name), type, pub, PK_LEN), b64);
        if (len < 0 || (size_t)len >= sizeof(s))
                return VT_EINVAL;
        return vt_buf_append(out, s, (size_t)len);
}

static int vkey_of_key(const char *name, uint8_t type, const struct vt_crypto_key *k,
                       struct vt_buf *out)
{
        const uint8_t *pub;

        if (name == NULL || k == NULL || out == NULL || name_check(name, strlen(name)) != NULL)
                return VT_EINVAL;
        if ((pub = vt_crypto_key_ed25519_public(k)) == NULL)
                return VT_EKEYTYPE;
        return vkey_append(name, type, pub, out);
}

/* see encoding.h */
int vt_encoding_note_vkey(const char *name, const struct vt_crypto_key *k, struct vt_buf *out)
{
        return vkey_of_key(name, VT_ENCODING_NOTE_ED25519, k, out);
}

/* see encoding.h */
int vt_encoding_cosig_vkey(const char *name, const struct vt_crypto_key *k, struct vt_buf *out)
{
        return vkey_of_key(name, VT_ENCODING_NOTE_COSIG_V1, k, out);
}

static int verifier_make(const char *name, size_t name_len, uint32_t hash, int type,
                         const uint8_t pub[PK_LEN], struct vt_encoding_note_verifier **out,
                         struct vt_diag *d)
{
        struct vt_encoding_note_verifier *v;
        int err;

        if ((v = calloc(1, sizeof(*v))) == NULL) {
                vt_diag_set(d, "out of memory");
                return VT_ENOMEM;
        }
        if ((err = vt_crypto_key_from_ed25519(pub, &v->key)) != 0) {
                vt_diag_set(d, "verifier key '%.*s': not a valid Ed25519 public key", (int)name_len,
                            name);
                free(v);
                return err;
        }
        memcpy(v->name, name, name_len);
        v->name[name_len] = '\0';
        v->hash = hash;
        v->type = type;
        memcpy(v->pub, pub, PK_LEN);
        *out = v;
        return 0;
}

/*
 * verifier_parse(vkey, n, want, out, d): signed-note §Verifier keys,
 * "<name>+<hex8>+base64(type || key)", accepting only type want.
 */
static int verifier_parse(const char *vkey, size_t n, int want,
                          struct vt_encoding_note_verifier **out, struct vt_diag *d)
{
        static uint8_t zero;
        const char *plus, *rest, *why;
        size_t name_len, rest_len, klen;
        uint8_t hb[4], key[VKEY_KEY_MAX];
        uint32_t hash, got;
        int err;

        if (vkey == NULL)
                vkey = (const char *)&zero, n = 0;
        if ((plus = memchr(vkey, '+', n)) == NULL) {
                vt_diag_set(d, "verifier key: no '+' after the key name");
                return VT_EMALFORMED;
        }
        name_len = (size_t)(plus - vkey);
        if ((why = name_check(vkey, name_len)) != NULL) {
                vt_diag_set(d, "verifier key: key name %s", why);
                return VT_EMALFORMED;
        }
        rest = plus + 1;
        rest_len = n - name_len - 1;
        if (rest_len < 9 || rest[8] != '+' || vt_encoding_hex_decode(rest, 8, hb, 4) != 0) {
                vt_diag_set(d,
                            "verifier key '%.*s': key hash is not 8 lowercase hex digits and '+'",
                            (int)name_len, vkey);
                return VT_EMALFORMED;
        }
        hash = be32(hb);
        err = vt_encoding_base64_decode(rest + 9, rest_len - 9, key, sizeof(key), &klen);
        if (err == VT_ENONCANON) {
                vt_diag_set(d, "verifier key '%.*s': key is not canonical base64", (int)name_len,
                            vkey);
                return VT_ENONCANON;
        }
        if (err != 0) {
                vt_diag_set(d, "verifier key '%.*s': key is %s", (int)name_len, vkey,
                            err == VT_ETOOBIG ? "too long" : "not base64");
                return VT_EMALFORMED;
        }
        if (klen == 0) {
                vt_diag_set(d, "verifier key '%.*s': key is empty", (int)name_len, vkey);
                return VT_EMALFORMED;
        }
        if (key[0] != want) {
                vt_diag_set(d,
                            "verifier key '%.*s': signature type 0x%02x is not supported here "
                            "(want 0x%02x)",
                            (int)name_len, vkey, key[0], (unsigned)want);
                return VT_EKEYTYPE;
        }
        if (klen != 1 + PK_LEN) {
                vt_diag_set(d, "verifier key '%.*s': Ed25519 key has %zu bytes, not 32",
                            (int)name_len, vkey, klen - 1);
                return VT_EMALFORMED;
        }
        got = key_hash_n(vkey, name_len, key[0], key + 1, PK_LEN);
        if (got != hash) {
                vt_diag_set(d, "verifier key '%.*s': key hash %08x does not match the key (%08x)",
                            (int)name_len, vkey, (unsigned)hash, (unsigned)got);
                return VT_EMALFORMED;
        }
        return verifier_make(vkey, name_len, hash, want, key + 1, out, d);
}

/* see encoding.h */
int vt_encoding_note_verifier_parse(const char *vkey, size_t n,
                                    struct vt_encoding_note_verifier **out, struct vt_diag *d)
{
        return verifier_parse(vkey, n, VT_ENCODING_NOTE_ED25519, out, d);
}

/* see encoding.h */
int vt_encoding_cosig_verifier_parse(const char *vkey, size_t n,
                                     struct vt_encoding_note_verifier **out, struct vt_diag *d)
{
        return verifier_parse(vkey, n, VT_ENCODING_NOTE_COSIG_V1, out, d);
}

/* see encoding.h */
int vt_encoding_note_verifier_new(const char *name, int type, const struct vt_crypto_key *k,
                                  struct vt_encoding_note_verifier **out, struct vt_diag *d)
{
        const uint8_t *pub;
        const char *why;
        size_t name_len;

        if (name == NULL || k == NULL || out == NULL) {
                vt_diag_set(d, "verifier: missing argument");
                return VT_EINVAL;
        }
        name_len = strlen(name);
        if ((why = name_check(name, name_len)) != NULL) {
                vt_diag_set(d, "verifier: key name %s", why);
                return VT_EINVAL;
        }
        if (type != VT_ENCODING_NOTE_ED25519 && type != VT_ENCODING_NOTE_COSIG_V1) {
                vt_diag_set(d, "verifier '%s': signature type 0x%02x is not supported", name,
                            (unsigned)type);
                return VT_EINVAL;
        }
        if ((pub = vt_crypto_key_ed25519_public(k)) == NULL) {
                vt_diag_set(d, "verifier '%s': key is not Ed25519", name);
                return VT_EKEYTYPE;
        }
        return verifier_make(name, name_len, key_hash_n(name, name_len, (uint8_t)type, pub, PK_LEN),
                             type, pub, out, d);
}

/* see encoding.h */
void vt_encoding_note_verifier_free(struct vt_encoding_note_verifier *v)
{
        if (v == NULL)
                return;
        vt_crypto_key_free(v->key);
        free(v);
}

/* see encoding.h */
const char *vt_encoding_note_verifier_name(const struct vt_encoding_note_verifier *v)
{
        return v->name;
}

/* see encoding.h */
uint32_t vt_encoding_note_verifier_hash(const struct vt_encoding_note_verifier *v)
{
        return v->hash;
}

/* see encoding.h */
int vt_encoding_note_verifier_type(const struct vt_encoding_note_verifier *v)
{
        return v->type;
}

/* see encoding.h */
const struct vt_crypto_key *vt_encoding_note_verifier_key(const struct vt_encoding_note_verifier *v)
{
        return v->key;
}

/* see encoding.h */
int vt_encoding_note_verifier_vkey(const struct vt_encoding_note_verifier *v, struct vt_buf *out)
{
        return vkey_append(v->name, (uint8_t)v->type, v->pub, out);
}

/* cosig_message(ts, text, n, m): m = "cosignature/v1\ntime <ts>\n" || text. */
static int cosig_message(uint64_t ts, const uint8_t *text, size_t n, struct vt_buf *m)
{
        m->len = 0;
        if (vt_buf_printf(m, COSIG_HEADER "%llu\n", (unsigned long long)ts) != 0 ||
            vt_buf_append(m, text, n) != 0)
                return VT_ENOMEM;
        return 0;
}

/*
 * sig_verify(v, text, n, sig, siglen, ts, scratch, d): verify the signature
 * bytes of one line by v over the note text: type 0x01 directly, type 0x04
 * over the cosignature/v1 message (then *ts gets its time). VT_EBADSIG with
 * the reason in d, VT_ENOMEM.
 */
static int sig_verify(const struct vt_encoding_note_verifier *v, const uint8_t *text, size_t n,
                      const uint8_t *sig, size_t siglen, uint64_t *ts, struct vt_buf *scratch,
                      struct vt_diag *d)
{
        uint64_t t;

        if (v->type == VT_ENCODING_NOTE_ED25519) {
                if (siglen != ED_SIG_LEN) {
                        vt_diag_set(d, "signature by '%s+%08x' has %zu bytes, not 64", v->name,
                                    (unsigned)v->hash, siglen);
                        return VT_EBADSIG;
                }
                if (vt_crypto_key_verify(v->key, text, n, sig, siglen) != 0) {
                        vt_diag_set(d, "signature by '%s+%08x' does not verify", v->name,
                                    (unsigned)v->hash);
                        return VT_EBADSIG;
                }
                *ts = 0;
                return 0;
        }
        if (siglen != COSIG_LEN) {
                vt_diag_set(d, "cosignature by '%s+%08x' has %zu bytes, not 72", v->name,
                            (unsigned)v->hash, siglen);
                return VT_EBADSIG;
        }
        t = be64(sig);
        if (t > TIME_MAX) {
                vt_diag_set(d, "cosignature by '%s+%08x' has a timestamp above 2^63-1", v->name,
                            (unsigned)v->hash);
                return VT_EBADSIG;
        }
        if (cosig_message(t, text, n, scratch) != 0) {
                vt_diag_set(d, "out of memory");
                return VT_ENOMEM;
        }
        if (vt_crypto_key_verify(v->key, scratch->p, scratch->len, sig + 8, ED_SIG_LEN) != 0) {
                vt_diag_set(d, "cosignature by '%s+%08x' does not verify", v->name,
                            (unsigned)v->hash);
                return VT_EBADSIG;
        }
        *ts = t;
        return 0;
}

/*
 * note_split(msg, n, text_len, nlines, d): the structure of a signed note
 * (signed-note §Format): size limit, UTF-8 and control characters, the
 * last blank line, the final newline, and the number of signature lines.
 */
static int note_split(const uint8_t *msg, size_t n, size_t *text_len, size_t *nlines,
                      struct vt_diag *d)
{
        size_t i, split, count = 0;
        int err;

        if (n > VT_ENCODING_NOTE_MAX) {
                vt_diag_set(d, "note is larger than %d bytes", VT_ENCODING_NOTE_MAX);
                return VT_ETOOBIG;
        }
        if ((err = text_check(msg, n, "note", d)) != 0)
                return err;
        /* The text ends at the last "\n\n": signature lines are never empty. */
        for (split = n; split >= 2; split--)
                if (msg[split - 1] == '\n' && msg[split - 2] == '\n')
                        break;
        if (split < 2) {
                vt_diag_set(d, "note has no blank line before its signatures");
                return VT_EMALFORMED;
        }
        split -= 2; /* index of the text's final '\n' */
        if (split + 2 == n) {
                vt_diag_set(d, "note has no signature lines");
                return VT_EMALFORMED;
        }
        if (msg[n - 1] != '\n') {
                vt_diag_set(d, "note does not end in a newline");
                return VT_EMALFORMED;
        }
        for (i = split + 2; i < n; i++)
                count += msg[i] == '\n';
        if (count > VT_ENCODING_NOTE_SIGS_MAX) {
                vt_diag_set(d, "note has %zu signature lines, more than %d", count,
                            VT_ENCODING_NOTE_SIGS_MAX);
                return VT_ETOOBIG;
        }
        *text_len = split + 1;
        *nlines = count;
        return 0;
}

/*
 * line_parse(p, len, lineno, dec, cap, out, d): one signature line of len
 * bytes ('\n' excluded): "— " name " " base64, the name valid, the base64
 * canonical and at least 5 bytes (key hash and a signature) decoded into dec
 * (cap bytes).
 */
static int line_parse(const uint8_t *p, size_t len, size_t lineno, uint8_t *dec, size_t cap,
                      struct sigline *out, struct vt_diag *d)
{
        const char *s = (const char *)p + SIG_PREFIX_LEN, *sp, *why;
        size_t rest, nlen, dlen;
        int err;

        if (len < SIG_PREFIX_LEN || memcmp(p, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
                vt_diag_set(d,
                            "note signature line %zu: does not start with an em dash and a space",
                            lineno);
                return VT_EMALFORMED;
        }
        rest = len - SIG_PREFIX_LEN;
        if ((sp = memchr(s, ' ', rest)) == NULL) {
                vt_diag_set(d, "note signature line %zu: no space between key name and signature",
                            lineno);
                return VT_EMALFORMED;
        }
        nlen = (size_t)(sp - s);
        if ((why = name_check(s, nlen)) != NULL) {
                vt_diag_set(d, "note signature line %zu: key name %s", lineno, why);
                return VT_EMALFORMED;
        }
        err = vt_encoding_base64_decode(sp + 1, rest - nlen - 1, dec, cap, &dlen);
        if (err == VT_ENONCANON) {
                vt_diag_set(d, "note signature line %zu: signature is not canonical base64",
                            lineno);
                return VT_ENONCANON;
        }
        if (err != 0) {
                vt_diag_set(d, "note signature line %zu: signature is not base64", lineno);
                return VT_EMALFORMED;
        }
        if (dlen < 5) {
                vt_diag_set(d, "note signature line %zu: signature is shorter than 5 bytes",
                            lineno);
                return VT_EMALFORMED;
        }
        out->name = s;
        out->name_len = nlen;
        out->hash = be32(dec);
        out->sig = dec + 4;
        out->siglen = dlen - 4;
        out->line = p;
        out->line_len = len + 1;
        return 0;
}

/*
 * lines_parse(p, n, first_lineno, dec, out, d): every line of p (n bytes,
 * each line ends in '\n'); decoded bytes go to dec, which holds n bytes.
 */
static int lines_parse(const uint8_t *p, size_t n, size_t lineno, uint8_t *dec, struct sigline *out,
                       struct vt_diag *d)
{
        size_t i = 0, k = 0, used = 0;
        int err;

        while (i < n) {
                const uint8_t *nl = memchr(p + i, '\n', n - i);
                size_t len = (size_t)(nl - (p + i));

                if ((err = line_parse(p + i, len, lineno + k, dec + used, n - used, &out[k], d)) !=
                    0)
                        return err;
                used += out[k].siglen + 4;
                i += len + 1;
                k++;
        }
        return 0;
}

/*
 * find_verifier(vs, nv, name, len, hash, out, d): the verifier for (name,
 * hash), NULL if none; VT_EINVAL when two different verifiers claim it
 * (Go's "ambiguous key").
 */
static int find_verifier(const struct vt_encoding_note_verifier *const *vs, size_t nv,
                         const char *name, size_t len, uint32_t hash,
                         const struct vt_encoding_note_verifier **out, struct vt_diag *d)
{
        const struct vt_encoding_note_verifier *found = NULL;
        size_t i;

        for (i = 0; i < nv; i++) {
                const struct vt_encoding_note_verifier *v = vs[i];

                if (v == NULL || v->hash != hash || strlen(v->name) != len ||
                    memcmp(v->name, name, len) != 0)
                        continue;
                if (found != NULL && found != v) {
                        vt_diag_set(d, "ambiguous key '%.*s+%08x': given more than once", (int)len,
                                    name, (unsigned)hash);
                        return VT_EINVAL;
                }
                found = v;
        }
        *out = found;
        return 0;
}

static int note_open(const uint8_t *msg, size_t n,
                     const struct vt_encoding_note_verifier *const *vs, size_t nv,
                     struct vt_encoding_note *out, struct vt_diag *d)
{
        struct vt_encoding_note note;
        struct vt_buf scratch;
        struct sigline *lines = NULL;
        uint8_t *mem = NULL, *dec;
        size_t text_len, nlines, i, j, k = 0;
        char *names;
        int err;

        memset(&note, 0, sizeof(note));
        vt_buf_init(&scratch);
        if (msg == NULL && n != 0) {
                vt_diag_set(d, "note: missing input");
                return VT_EINVAL;
        }
        if ((err = note_split(msg, n, &text_len, &nlines, d)) != 0)
                goto out;

        /*
         * One block holds the text copy, then the decoded signatures, then the
         * names: each line of L bytes needs at most L-3 of them.
         */
        err = VT_ENOMEM;
        if ((mem = malloc(n + 1)) == NULL || (lines = calloc(nlines, sizeof(*lines))) == NULL ||
            (note.sigs = calloc(nlines, sizeof(*note.sigs))) == NULL) {
                vt_diag_set(d, "out of memory");
                goto out;
        }
        memcpy(mem, msg, text_len);
        mem[text_len] = '\0';
        dec = mem + text_len + 1;
        if ((err = lines_parse(msg + text_len + 1, n - text_len - 1, 1, dec, lines, d)) != 0)
                goto out;
        names = (char *)dec;
        for (i = 0; i < nlines; i++)
                names += lines[i].siglen + 4;

        for (i = 0; i < nlines; i++) {
                struct vt_encoding_note_sig *s = &note.sigs[k];
                const struct vt_encoding_note_verifier *v;
                int dup = 0;

                /* Drop a line identical to an earlier one (Go does the same). */
                for (j = 0; j < i && !dup; j++)
                        dup = lines[j].line_len == lines[i].line_len &&
                              memcmp(lines[j].line, lines[i].line, lines[i].line_len) == 0;
                if (dup)
                        continue;
                if ((err = find_verifier(vs, nv, lines[i].name, lines[i].name_len, lines[i].hash,
                                         &v, d)) != 0)
                        goto out;
                if (v != NULL) {
                        /* signed-note: a known key's signature MUST be verified. */
                        if ((err = sig_verify(v, msg, text_len, lines[i].sig, lines[i].siglen,
                                              &s->timestamp, &scratch, d)) != 0) {
                                vt_diag_prefix(d, "note signature line %zu", i + 1);
                                goto out;
                        }
                        note.nverified++;
                }
                memcpy(names, lines[i].name, lines[i].name_len);
                names[lines[i].name_len] = '\0';
                s->name = names;
                names += lines[i].name_len + 1;
                s->hash = lines[i].hash;
                s->sig = lines[i].sig;
                s->siglen = lines[i].siglen;
                s->verifier = v;
                k++;
        }
        if (note.nverified == 0) {
                vt_diag_set(d, "note is signed by no known key (%zu signature lines)", k);
                err = VT_EUNKNOWNKEY;
                goto out;
        }
        note.text = mem;
        note.text_len = text_len;
        note.nsigs = k;
        note.mem_ = mem;
        *out = note;
        mem = NULL;
        note.sigs = NULL;
        err = 0;
out:
        free(note.sigs);
        free(lines);
        free(mem);
        vt_buf_release(&scratch);
        return err;
}

/* see encoding.h */
int vt_encoding_note_open(const uint8_t *msg, size_t n,
                          struct vt_encoding_note_verifier *const *verifiers, size_t nverifiers,
                          struct vt_encoding_note *out, struct vt_diag *d)
{
        if (out == NULL) {
                vt_diag_set(d, "note: no output given");
                return VT_EINVAL;
        }
        return note_open(msg, n, (const struct vt_encoding_note_verifier *const *)verifiers,
                         verifiers != NULL ? nverifiers : 0, out, d);
}

/* see encoding.h */
void vt_encoding_note_release(struct vt_encoding_note *note)
{
        if (note == NULL)
                return;
        free(note->sigs);
        free(note->mem_);
        memset(note, 0, sizeof(*note));
}

/*
 * line_append(name, hash, payload, plen, out): "— name base64(hash ||
 * payload)\n" onto out, all or nothing.
 */
static int line_append(const char *name, uint32_t hash, const uint8_t *payload, size_t plen,
                       struct vt_buf *out)
{
        uint8_t raw[4 + VT_CRYPTO_SIG_MAX + 8];
        size_t mark = out->len;

        put_be32(raw, hash);
        memcpy(raw + 4, payload, plen);
        if (vt_buf_puts(out, SIG_PREFIX) != 0 || vt_buf_puts(out, name) != 0 ||
            vt_buf_puts(out, " ") != 0 || vt_encoding_base64_append(out, raw, 4 + plen) != 0 ||
            vt_buf_puts(out, "\n") != 0) {
                buf_truncate(out, mark);
                return VT_ENOMEM;
        }
        return 0;
}

/* sign_check(name, k, what, d): the signer's name and key are usable. */
static int sign_check(const char *name, const struct vt_crypto_key *k, const char *what,
                      struct vt_diag *d)
{
        const char *why;

        if (name == NULL || k == NULL) {
                vt_diag_set(d, "%s: missing key name or key", what);
                return VT_EINVAL;
        }
        if ((why = name_check(name, strlen(name))) != NULL) {
                vt_diag_set(d, "%s: key name '%s' %s", what, name, why);
                return VT_EINVAL;
        }
        if (vt_crypto_key_ed25519_public(k) == NULL) {
                vt_diag_set(d, "%s: key '%s' is not Ed25519", what, name);
                return VT_EKEYTYPE;
        }
        if (!vt_crypto_key_is_private(k)) {
                vt_diag_set(d, "%s: key '%s' is a public key", what, name);
                return VT_ENOTPRIV;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_note_sig_line(const uint8_t *text, size_t n, const char *name,
                              const struct vt_crypto_key *k, struct vt_buf *out, struct vt_diag *d)
{
        uint8_t sig[VT_CRYPTO_SIG_MAX];
        size_t siglen = 0;
        int err;

        if ((err = vt_encoding_note_text_valid(text, n, d)) != 0)
                return err;
        if (n > VT_ENCODING_NOTE_MAX) {
                vt_diag_set(d, "note text is larger than %d bytes", VT_ENCODING_NOTE_MAX);
                return VT_ETOOBIG;
        }
        if ((err = sign_check(name, k, "note signature", d)) != 0)
                return err;
        if ((err = vt_crypto_key_sign(k, text, n, sig, &siglen)) != 0 || siglen != ED_SIG_LEN) {
                vt_diag_set(d, "note signature: signing with '%s' failed", name);
                return err != 0 ? err : VT_EINTERNAL;
        }
        err = line_append(name,
                          key_hash_n(name, strlen(name), VT_ENCODING_NOTE_ED25519,
                                     vt_crypto_key_ed25519_public(k), PK_LEN),
                          sig, siglen, out);
        if (err != 0)
                vt_diag_set(d, "out of memory");
        return err;
}

/* see encoding.h */
int vt_encoding_note_sign(const uint8_t *text, size_t n, const char *name,
                          const struct vt_crypto_key *k, struct vt_buf *out, struct vt_diag *d)
{
        size_t mark = out->len;
        int err;

        if ((err = vt_encoding_note_text_valid(text, n, d)) != 0)
                return err;
        if (vt_buf_append(out, text, n) != 0 || vt_buf_puts(out, "\n") != 0) {
                buf_truncate(out, mark);
                vt_diag_set(d, "out of memory");
                return VT_ENOMEM;
        }
        if ((err = vt_encoding_note_sig_line(text, n, name, k, out, d)) != 0) {
                buf_truncate(out, mark);
                return err;
        }
        if (out->len - mark > VT_ENCODING_NOTE_MAX) {
                buf_truncate(out, mark);
                vt_diag_set(d, "signed note would be larger than %d bytes", VT_ENCODING_NOTE_MAX);
                return VT_ETOOBIG;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_note_add_sigs(const uint8_t *msg, size_t n, const uint8_t *lines, size_t nlines,
                              struct vt_buf *out, struct vt_diag *d)
{
        struct sigline *old = NULL, *add = NULL;
        uint8_t *dec = NULL;
        size_t text_len, nold, nadd = 0, i, j, kept = 0, mark = out->len, total;
        int err;

        if ((err = note_split(msg, n, &text_len, &nold, d)) != 0)
                return err;
        if (nlines == 0 || lines[nlines - 1] != '\n') {
                vt_diag_set(d, "new signature lines: %s",
                            nlines == 0 ? "none given" : "do not end in a newline");
                return VT_EMALFORMED;
        }
        if ((err = text_check(lines, nlines, "new signature lines", d)) != 0)
                return err;
        for (i = 0; i < nlines; i++)
                nadd += lines[i] == '\n';
        err = VT_ENOMEM;
        if ((old = calloc(nold, sizeof(*old))) == NULL ||
            (add = calloc(nadd, sizeof(*add))) == NULL || (dec = malloc(n + nlines)) == NULL) {
                vt_diag_set(d, "out of memory");
                goto out;
        }
        if ((err = lines_parse(msg + text_len + 1, n - text_len - 1, 1, dec, old, d)) != 0)
                goto out;
        if ((err = lines_parse(lines, nlines, 1, dec + n, add, d)) != 0) {
                vt_diag_prefix(d, "new signature lines");
                goto out;
        }
        /* An old line from a key that signs again is replaced (Go's note.Sign). */
        total = text_len + 1 + nlines;
        for (i = 0; i < nold; i++) {
                int replaced = 0;

                for (j = 0; j < nadd && !replaced; j++)
                        replaced = old[i].hash == add[j].hash &&
                                   old[i].name_len == add[j].name_len &&
                                   memcmp(old[i].name, add[j].name, add[j].name_len) == 0;
                old[i].line_len = replaced ? 0 : old[i].line_len;
                kept += !replaced;
                total += old[i].line_len;
        }
        if (kept + nadd > VT_ENCODING_NOTE_SIGS_MAX || total > VT_ENCODING_NOTE_MAX) {
                vt_diag_set(d,
                            "note would have %zu signature lines and %zu bytes, limits %d and %d",
                            kept + nadd, total, VT_ENCODING_NOTE_SIGS_MAX, VT_ENCODING_NOTE_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        err = VT_ENOMEM;
        if (vt_buf_reserve(out, total) != 0) {
                vt_diag_set(d, "out of memory");
                goto out;
        }
        /* Cannot fail past the reservation. */
        (void)vt_buf_append(out, msg, text_len + 1);
        for (i = 0; i < nold; i++)
                (void)vt_buf_append(out, old[i].line, old[i].line_len);
        (void)vt_buf_append(out, lines, nlines);
        err = 0;
out:
        if (err != 0)
                buf_truncate(out, mark);
        free(dec);
        free(add);
        free(old);
        return err;
}

/* see encoding.h */
int vt_encoding_cosig_sign(const uint8_t *text, size_t n, uint64_t timestamp, const char *name,
                           const struct vt_crypto_key *k, struct vt_buf *out, struct vt_diag *d)
{
        struct vt_encoding_checkpoint cp;
        struct vt_buf m;
        uint8_t payload[8 + VT_CRYPTO_SIG_MAX];
        size_t siglen = 0;
        int err;

        /* tlog-cosignature: a cosignature is a note signature on a checkpoint. */
        if ((err = vt_encoding_checkpoint_parse(text, n, &cp, d)) != 0)
                return err;
        if (timestamp > TIME_MAX) {
                vt_diag_set(d, "cosignature: timestamp %llu is above 2^63-1",
                            (unsigned long long)timestamp);
                return VT_EINVAL;
        }
        if ((err = sign_check(name, k, "cosignature", d)) != 0)
                return err;
        vt_buf_init(&m);
        if ((err = cosig_message(timestamp, text, n, &m)) != 0) {
                vt_diag_set(d, "out of memory");
                goto out;
        }
        if ((err = vt_crypto_key_sign(k, m.p, m.len, payload + 8, &siglen)) != 0 ||
            siglen != ED_SIG_LEN) {
                vt_diag_set(d, "cosignature: signing with '%s' failed", name);
                err = err != 0 ? err : VT_EINTERNAL;
                goto out;
        }
        put_be64(payload, timestamp);
        err = line_append(name,
                          key_hash_n(name, strlen(name), VT_ENCODING_NOTE_COSIG_V1,
                                     vt_crypto_key_ed25519_public(k), PK_LEN),
                          payload, COSIG_LEN, out);
        if (err != 0)
                vt_diag_set(d, "out of memory");
out:
        vt_buf_release(&m);
        return err;
}

/* see encoding.h */
int vt_encoding_cosig_verify(const struct vt_encoding_note *note,
                             const struct vt_encoding_note_verifier *cosigner, uint64_t *timestamp,
                             struct vt_diag *d)
{
        struct vt_buf scratch;
        uint64_t t = 0, first = 0;
        size_t i, found = 0;
        int err = 0;

        if (note == NULL || cosigner == NULL || cosigner->type != VT_ENCODING_NOTE_COSIG_V1) {
                vt_diag_set(d, "cosignature: the verifier is not a cosignature/v1 (type 0x04) key");
                return VT_EINVAL;
        }
        vt_buf_init(&scratch);
        for (i = 0; i < note->nsigs && err == 0; i++) {
                const struct vt_encoding_note_sig *s = &note->sigs[i];

                if (s->hash != cosigner->hash || strcmp(s->name, cosigner->name) != 0)
                        continue;
                if (s->verifier == cosigner) {
                        t = s->timestamp; /* verified when the note was opened */
                } else {
                        err = sig_verify(cosigner, note->text, note->text_len, s->sig, s->siglen,
                                         &t, &scratch, d);
                }
                if (err == 0 && found++ == 0)
                        first = t;
        }
        vt_buf_release(&scratch);
        if (err != 0)
                return err;
        if (found == 0) {
                vt_diag_set(d, "note has no cosignature by '%s+%08x'", cosigner->name,
                            (unsigned)cosigner->hash);
                return VT_EUNKNOWNKEY;
        }
        if (timestamp != NULL)
                *timestamp = first;
        return 0;
}
