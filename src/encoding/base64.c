/*
 * base64.c: RFC 4648 §4 base64 with padding, and lowercase hex.
 *
 * Decoding accepts exactly one encoding per byte string (STYLE.md): the
 * length is a multiple of four, '=' appears only as the final one or two
 * characters, and the bits that padding leaves unused are zero. Anything else
 * is refused, so two different strings never decode to the same bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The base64 character of the 6-bit value x, as a constant expression. */
#define B64C(x)                                                                                    \
        ((x) < 26    ? 'A' + (x)                                                                   \
         : (x) < 52  ? 'a' + (x)-26                                                                \
         : (x) < 62  ? '0' + (x)-52                                                                \
         : (x) == 62 ? '+'                                                                         \
                     : '/')

/*
 * pairs[v]: the two characters of the 12-bit value v. Encoding then takes
 * two look-ups per three bytes instead of four (the table is 8 KiB, built
 * by the preprocessor: no initialisation at run time).
 */
#define P1(i, j)                                                                                   \
        {                                                                                          \
                B64C(i), B64C(j)                                                                   \
        }
#define P4(i, j)  P1(i, j), P1(i, (j) + 1), P1(i, (j) + 2), P1(i, (j) + 3)
#define P16(i, j) P4(i, j), P4(i, (j) + 4), P4(i, (j) + 8), P4(i, (j) + 12)
#define P64(i)    P16(i, 0), P16(i, 16), P16(i, 32), P16(i, 48)
#define Q4(i)     P64(i), P64((i) + 1), P64((i) + 2), P64((i) + 3)
#define Q16(i)    Q4(i), Q4((i) + 4), Q4((i) + 8), Q4((i) + 12)
static const char pairs[4096][2] = {Q16(0), Q16(16), Q16(32), Q16(48)};
#undef Q16
#undef Q4
#undef P64
#undef P16
#undef P4
#undef P1

/* see encoding.h */
size_t vt_encoding_base64_len(size_t n)
{
        return (n + 2) / 3 * 4;
}

/* see encoding.h */
void vt_encoding_base64_encode(const uint8_t *p, size_t n, char *out)
{
        size_t i, o = 0;

        /* Six bytes at a time (eight characters), then three, then the tail. */
        for (i = 0; i + 6 <= n; i += 6, o += 8) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                uint32_t w = (uint32_t)p[i + 3] << 16 | (uint32_t)p[i + 4] << 8 | p[i + 5];
                memcpy(out + o, pairs[v >> 12], 2);
                memcpy(out + o + 2, pairs[v & 0xfff], 2);
                memcpy(out + o + 4, pairs[w >> 12], 2);
                memcpy(out + o + 6, pairs[w & 0xfff], 2);
        }
        if (i + 3 <= n) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                memcpy(out + o, pairs[v >> 12], 2);
                memcpy(out + o + 2, pairs[v & 0xfff], 2);
                i += 3;
                o += 4;
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t)p[i] << 16;
                out[o++] = b64[v >> 18];
                out[o++] = b64[(v >> 12) & 63];
                out[o++] = '=';
                out[o++] = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
                out[o++] = b64[v >> 18];
                out[o++] = b64[(v >> 12) & 63];
                out[o++] = b64[(v >> 6) & 63];
                out[o++] = '=';
        }
        out[o] = '\0';
}

/* see encoding.h */
int vt_encoding_base64_append(struct vt_buf *b, const uint8_t *p, size_t n)
{
        size_t m = vt_encoding_base64_len(n);

        if (vt_buf_reserve(b, m + 1) != 0)
                return VT_ENOMEM;
        vt_encoding_base64_encode(p, n, (char *)b->p + b->len);
        b->len += m;
        return 0;
}

/*
 * The value of base64 character c, or 64 for anything else ('=' included),
 * as a constant expression.
 */
#define B64V(c)                                                                                    \
        ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                    \
         : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                               \
         : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                               \
         : (c) == '+'               ? 62                                                           \
         : (c) == '/'               ? 63                                                           \
                                    : 64)

/*
 * decK[c]: the value of character c already in its place in the 24 bits of
 * a group of four (K = 0 is the first character, shifted by 18), or
 * DEC_BAD, a bit above those 24, for anything that is not base64. A group
 * is then four look-ups and three ORs, and one test of the bad bit: decoding
 * runs near memory speed (payloads of about a KiB are decoded once per
 * submission). Built by the preprocessor: no initialisation at run time.
 */
#define DEC_BAD     0x80000000u
#define DV(c, sh)   (B64V(c) == 64 ? DEC_BAD : (uint32_t)B64V(c) << (sh))
#define DV4(c, sh)  DV(c, sh), DV((c) + 1, sh), DV((c) + 2, sh), DV((c) + 3, sh)
#define DV16(c, sh) DV4(c, sh), DV4((c) + 4, sh), DV4((c) + 8, sh), DV4((c) + 12, sh)
#define DV64(c, sh) DV16(c, sh), DV16((c) + 16, sh), DV16((c) + 32, sh), DV16((c) + 48, sh)
#define DV256(sh)                                                                                  \
        {                                                                                          \
                DV64(0, sh), DV64(64, sh), DV64(128, sh), DV64(192, sh)                            \
        }
static const uint32_t dec0[256] = DV256(18), dec1[256] = DV256(12), dec2[256] = DV256(6),
                      dec3[256] = DV256(0);
#undef DV256
#undef DV64
#undef DV16
#undef DV4
#undef DV

/* The error for the first character of s[0..4) that is not base64: '=' is misplaced padding. */
static int b64_bad(const char *s)
{
        int k;

        for (k = 0; k < 4 && dec3[(unsigned char)s[k]] != DEC_BAD; k++)
                ;
        return k < 4 && s[k] == '=' ? VT_ENONCANON : VT_EMALFORMED;
}

/* The 24 bits of the group of four characters at u, DEC_BAD set when one is not base64. */
static uint32_t group(const unsigned char *u)
{
        return dec0[u[0]] | dec1[u[1]] | dec2[u[2]] | dec3[u[3]];
}

/* see encoding.h */
int vt_encoding_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *outlen)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t i, o = 0, pad = 0, need, body;
        uint32_t w, w2;

        if (slen % 4 != 0)
                return VT_EMALFORMED;
        if (slen > 0 && s[slen - 1] == '=')
                pad = (slen > 1 && s[slen - 2] == '=') ? 2 : 1;
        need = slen / 4 * 3 - pad;
        if (need > cap)
                return VT_ETOOBIG;
        /* Every group but the last: four characters, three bytes, no padding. Two at a time. */
        body = slen > 0 ? slen - 4 : 0;
        for (i = 0; i + 8 <= body; i += 8, o += 6) {
                w = group(u + i);
                w2 = group(u + i + 4);
                if (((w | w2) & DEC_BAD) != 0)
                        return b64_bad(s + i + ((w & DEC_BAD) != 0 ? 0 : 4));
                out[o] = (uint8_t)(w >> 16);
                out[o + 1] = (uint8_t)(w >> 8);
                out[o + 2] = (uint8_t)w;
                out[o + 3] = (uint8_t)(w2 >> 16);
                out[o + 4] = (uint8_t)(w2 >> 8);
                out[o + 5] = (uint8_t)w2;
        }
        if (i < body) {
                if (((w = group(u + i)) & DEC_BAD) != 0)
                        return b64_bad(s + i);
                out[o] = (uint8_t)(w >> 16);
                out[o + 1] = (uint8_t)(w >> 8);
                out[o + 2] = (uint8_t)w;
                o += 3;
                i += 4;
        }
        if (slen > 0) {
                /* The last group: its padding counts as zero bits, which must stay zero. */
                w = dec0[u[i]] | dec1[u[i + 1]] | (pad == 2 ? 0 : dec2[u[i + 2]]) |
                    (pad >= 1 ? 0 : dec3[u[i + 3]]);
                if ((w & DEC_BAD) != 0)
                        return b64_bad(s + i);
                if ((pad == 2 && (w & 0xffff) != 0) || (pad == 1 && (w & 0xff) != 0))
                        return VT_ENONCANON;
                out[o++] = (uint8_t)(w >> 16);
                if (pad < 2)
                        out[o++] = (uint8_t)(w >> 8);
                if (pad < 1)
                        out[o++] = (uint8_t)w;
        }
        *outlen = o;
        return 0;
}

/* see encoding.h */
int vt_encoding_base64_decode_buf(const char *s, size_t slen, struct vt_buf *out)
{
        size_t n;
        int err;

        if (vt_buf_reserve(out, slen / 4 * 3 + 1) != 0)
                return VT_ENOMEM;
        err = vt_encoding_base64_decode(s, slen, out->p + out->len, out->cap - out->len - 1, &n);
        if (err != 0)
                return err;
        out->len += n;
        out->p[out->len] = '\0';
        return 0;
}

/* see encoding.h */
void vt_encoding_hex_encode(const uint8_t *p, size_t n, char *out)
{
        static const char hx[] = "0123456789abcdef";
        size_t i;

        for (i = 0; i < n; i++) {
                out[2 * i] = hx[p[i] >> 4];
                out[2 * i + 1] = hx[p[i] & 15];
        }
        out[2 * n] = '\0';
}

/*
 * Each lowercase hex digit's value plus one, 0 for any other byte: a table,
 * not comparisons, because digests are random and a branch per digit
 * mispredicted half the time (hex decoding was a visible share of reading a
 * statement or an entry).
 */
static const uint8_t hex_plus1[256] = {
    ['0'] = 1, ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* see encoding.h */
int vt_encoding_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
        size_t i;

        if (slen != 2 * n)
                return VT_EMALFORMED;
        unsigned bad = 0;

        /* Every digit read, one test at the end: out is scratch on failure anyway. */
        for (i = 0; i < n; i++) {
                unsigned hi = hex_plus1[(unsigned char)s[2 * i]],
                         lo = hex_plus1[(unsigned char)s[2 * i + 1]];
                bad |= (hi == 0) | (lo == 0);
                out[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 15));
        }
        return bad ? VT_EMALFORMED : 0;
}

/* see encoding_int.h */
int vt_encoding_int_b64_fail(int err, struct vt_diag *d, const char *fmt, ...)
{
        char subject[VT_DIAG_MAX];
        va_list ap;

        if (err == VT_ENOMEM)
                return err;
        va_start(ap, fmt);
        vsnprintf(subject, sizeof(subject), fmt, ap);
        va_end(ap);
        vt_diag_set(d, "%s is not %s base64", subject,
                    err == VT_ENONCANON ? "canonical" : "standard padded");
        return err == VT_ENONCANON ? VT_ENONCANON : VT_EMALFORMED;
}
