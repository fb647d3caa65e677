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

/* see encoding.h */
size_t vt_encoding_base64_len(size_t n)
{
        return (n + 2) / 3 * 4;
}

/* see encoding.h */
void vt_encoding_base64_encode(const uint8_t *p, size_t n, char *out)
{
        size_t i, o = 0;

        for (i = 0; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                out[o++] = b64[v >> 18];
                out[o++] = b64[(v >> 12) & 63];
                out[o++] = b64[(v >> 6) & 63];
                out[o++] = b64[v & 63];
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
 * dec[c]: 1 + the value of base64 character c, 0 for anything else ('='
 * included). One table look-up per character: decoding runs at memory
 * speed rather than at the speed of four range tests (payloads of about a
 * KiB are decoded once per submission).
 */
#define D(c, v) [c] = (v) + 1
static const uint8_t dec[256] = {
    D('A', 0),  D('B', 1),  D('C', 2),  D('D', 3),  D('E', 4),  D('F', 5),  D('G', 6),  D('H', 7),
    D('I', 8),  D('J', 9),  D('K', 10), D('L', 11), D('M', 12), D('N', 13), D('O', 14), D('P', 15),
    D('Q', 16), D('R', 17), D('S', 18), D('T', 19), D('U', 20), D('V', 21), D('W', 22), D('X', 23),
    D('Y', 24), D('Z', 25), D('a', 26), D('b', 27), D('c', 28), D('d', 29), D('e', 30), D('f', 31),
    D('g', 32), D('h', 33), D('i', 34), D('j', 35), D('k', 36), D('l', 37), D('m', 38), D('n', 39),
    D('o', 40), D('p', 41), D('q', 42), D('r', 43), D('s', 44), D('t', 45), D('u', 46), D('v', 47),
    D('w', 48), D('x', 49), D('y', 50), D('z', 51), D('0', 52), D('1', 53), D('2', 54), D('3', 55),
    D('4', 56), D('5', 57), D('6', 58), D('7', 59), D('8', 60), D('9', 61), D('+', 62), D('/', 63),
};
#undef D

/* The error for the first character of s[0..4) that is not base64: '=' is misplaced padding. */
static int b64_bad(const char *s)
{
        int k;

        for (k = 0; k < 4 && dec[(unsigned char)s[k]] != 0; k++)
                ;
        return k < 4 && s[k] == '=' ? VT_ENONCANON : VT_EMALFORMED;
}

/* see encoding.h */
int vt_encoding_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *outlen)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t i, o = 0, pad = 0, need, body;
        uint32_t a, b, c, e, w;

        if (slen % 4 != 0)
                return VT_EMALFORMED;
        if (slen > 0 && s[slen - 1] == '=')
                pad = (slen > 1 && s[slen - 2] == '=') ? 2 : 1;
        need = slen / 4 * 3 - pad;
        if (need > cap)
                return VT_ETOOBIG;
        /* Every group but the last: four characters, three bytes, no padding. */
        body = slen > 0 ? slen - 4 : 0;
        for (i = 0; i < body; i += 4) {
                a = dec[u[i]];
                b = dec[u[i + 1]];
                c = dec[u[i + 2]];
                e = dec[u[i + 3]];
                if ((a == 0) | (b == 0) | (c == 0) | (e == 0))
                        return b64_bad(s + i);
                w = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
                out[o] = (uint8_t)(w >> 16);
                out[o + 1] = (uint8_t)(w >> 8);
                out[o + 2] = (uint8_t)w;
                o += 3;
        }
        if (slen > 0) {
                /* The last group: its padding counts as zero bits, which must stay zero. */
                a = dec[u[i]];
                b = dec[u[i + 1]];
                c = pad == 2 ? 1 : dec[u[i + 2]];
                e = pad >= 1 ? 1 : dec[u[i + 3]];
                if ((a == 0) | (b == 0) | (c == 0) | (e == 0))
                        return b64_bad(s + i);
                w = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
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
