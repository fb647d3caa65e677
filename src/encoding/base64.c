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

static int b64val(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* see encoding.h */
int vt_encoding_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *outlen)
{
        size_t i, o = 0, pad = 0, need;

        if (slen % 4 != 0)
                return VT_EMALFORMED;
        if (slen > 0 && s[slen - 1] == '=')
                pad = (slen > 1 && s[slen - 2] == '=') ? 2 : 1;
        need = slen / 4 * 3 - pad;
        if (need > cap)
                return VT_ETOOBIG;
        for (i = 0; i < slen; i += 4) {
                int v[4], k, last = (i + 4 == slen);
                uint32_t w;

                for (k = 0; k < 4; k++) {
                        if (last && k >= 4 - (int)pad) {
                                v[k] = 0;
                                continue;
                        }
                        if ((v[k] = b64val((unsigned char)s[i + k])) < 0)
                                return s[i + k] == '=' ? VT_ENONCANON : VT_EMALFORMED;
                }
                w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                    (uint32_t)v[3];
                if (last && pad == 2 && (w & 0xffff) != 0)
                        return VT_ENONCANON;
                if (last && pad == 1 && (w & 0xff) != 0)
                        return VT_ENONCANON;
                out[o++] = (uint8_t)(w >> 16);
                if (!(last && pad == 2))
                        out[o++] = (uint8_t)(w >> 8);
                if (!(last && pad >= 1))
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

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* see encoding.h */
int vt_encoding_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
        size_t i;

        if (slen != 2 * n)
                return VT_EMALFORMED;
        for (i = 0; i < n; i++) {
                int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return VT_EMALFORMED;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
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
