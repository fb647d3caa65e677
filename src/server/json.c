/*
 * json.c: the little JSON the server writes itself: error bodies
 * {"error":"<code word>","message":"<sentence>"} and the string escaping the
 * batch results need (bundles from the service are spliced in as they are).
 *
 * Error mapping (docs/API.md "Errors"): one row per library code; the code
 * word is stable, the sentence is the library's diagnostic.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/server_int.h"

static const struct {
        int err;
        unsigned status;
        const char *word;
} error_map[] = {
    {VT_ETOOBIG, 413, "too_large"},
    {VT_EMALFORMED, 400, "malformed"},
    {VT_ENONCANON, 400, "noncanonical"},
    {VT_EBADSIG, 400, "bad_signature"},
    {VT_EKEYTYPE, 400, "unsupported_key"},
    {VT_EKEYPARSE, 400, "malformed"},
    {VT_EINVAL, 400, "invalid"},
    {VT_EUSAGE, 400, "invalid"},
    {VT_EEXPIRED, 400, "expired"},
    {VT_EUNKNOWNKEY, 403, "unknown_key"},
    {VT_ETHRESHOLD, 403, "threshold"},
    {VT_EDENIED, 403, "denied"},
    {VT_ENOENT, 404, "not_found"},
    {VT_ERANGE, 404, "not_found"},
    {VT_EEXIST, 409, "exists"},
    {VT_EPOLICY, 409, "policy"},
    {VT_EBUSY, 503, "busy"},
    {VT_EIO, 503, "unavailable"},
    {VT_ESTORE, 503, "unavailable"},
    {VT_ENOMEM, 503, "unavailable"},
};

/* see server_int.h */
unsigned vt_server_error_status(int err, const char **word)
{
        size_t i;

        for (i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++)
                if (error_map[i].err == err) {
                        if (word != NULL)
                                *word = error_map[i].word;
                        return error_map[i].status;
                }
        /* VT_ECORRUPT, VT_ELOGSTATE, VT_EINTERNAL and anything unexpected. */
        if (word != NULL)
                *word = "internal";
        return 500;
}

/* The length of the UTF-8 sequence at p[0..n), or 0 when it is not one (RFC 3629). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
        size_t len, i;
        unsigned cp;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                len = 2, cp = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                len = 3, cp = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                len = 4, cp = p[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* see server_int.h */
int vt_server_json_string(struct vt_buf *b, const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0, start = b->len, len;
        int err = 0;

        err |= vt_buf_puts(b, "\"");
        while (err == 0 && i < n) {
                unsigned char c = p[i];

                if (c == '"' || c == '\\') {
                        err = vt_buf_printf(b, "\\%c", c);
                        i++;
                } else if (c == '\n') {
                        err = vt_buf_puts(b, "\\n");
                        i++;
                } else if (c < 0x20 || c == 0x7f) {
                        err = vt_buf_printf(b, "\\u%04x", c);
                        i++;
                } else if ((len = utf8_len(p + i, n - i)) == 0) {
                        err = vt_buf_puts(b, "\\ufffd");
                        i++;
                } else {
                        err = vt_buf_append(b, p + i, len);
                        i += len;
                }
        }
        if (err == 0)
                err = vt_buf_puts(b, "\"");
        if (err != 0) {
                b->len = start;
                if (b->p != NULL)
                        b->p[start] = '\0';
        }
        return err;
}

/* see server_int.h */
void vt_server_reply_error(struct vt_server_reply *r, unsigned status, const char *word,
                           const char *fmt, ...)
{
        char msg[VT_DIAG_MAX + 128];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        vt_buf_release(&r->body);
        r->status = status;
        r->content_type = "application/json";
        r->cache_control = "no-store";
        /* On VT_ENOMEM the body stays empty; the status still says what happened. */
        if (vt_buf_puts(&r->body, "{\"error\":") != 0 ||
            vt_server_json_string(&r->body, word, strlen(word)) != 0 ||
            vt_buf_puts(&r->body, ",\"message\":") != 0 ||
            vt_server_json_string(&r->body, msg, strlen(msg)) != 0 ||
            vt_buf_puts(&r->body, "}\n") != 0)
                vt_buf_release(&r->body);
}

/* see server_int.h */
void vt_server_reply_code(struct vt_server_reply *r, int err, const char *msg)
{
        const char *word;
        unsigned status = vt_server_error_status(err, &word);

        if (msg == NULL || msg[0] == '\0')
                msg = vt_strerror(err);
        vt_server_reply_error(r, status, word, "%s", msg);
        if (status == 503)
                r->retry_after = 1;
}
