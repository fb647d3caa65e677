/*
 * json.c: JSON input behind limits, through jansson.
 *
 * Limits: a byte limit chosen by the caller, a nesting limit
 * (VT_ENCODING_JSON_MAX_DEPTH; jansson's own parser stops at 2048 levels, so
 * the walk below never recurses deeper than that), no duplicate keys, no NUL
 * inside strings, nothing but white space after the value.
 */
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

static int too_deep(const json_t *v, int depth)
{
        const char *k;
        json_t *x;
        size_t i;

        if (depth > VT_ENCODING_JSON_MAX_DEPTH)
                return 1;
        if (json_is_object(v)) {
                json_object_foreach((json_t *)v, k, x) if (too_deep(x, depth + 1)) return 1;
        } else if (json_is_array(v)) {
                json_array_foreach(v, i, x) if (too_deep(x, depth + 1)) return 1;
        }
        return 0;
}

/* see encoding.h */
int vt_encoding_json_parse(const uint8_t *p, size_t n, size_t max, json_t **out, struct vt_diag *d)
{
        json_error_t e;
        json_t *v;

        if (n > max) {
                vt_diag_set(d, "JSON is larger than the limit of %zu bytes", max);
                return VT_ETOOBIG;
        }
        v = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &e);
        if (v == NULL) {
                vt_diag_set(d, "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
                return VT_EMALFORMED;
        }
        if (too_deep(v, 1)) {
                json_decref(v);
                vt_diag_set(d, "JSON nests deeper than %d levels", VT_ENCODING_JSON_MAX_DEPTH);
                return VT_ETOOBIG;
        }
        *out = v;
        return 0;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
        return vt_buf_append(data, buf, size) == 0 ? 0 : -1;
}

/* see encoding.h */
int vt_encoding_json_dump(const json_t *v, size_t flags, struct vt_buf *out)
{
        if (json_dump_callback(v, dump_cb, out, flags) != 0)
                return VT_ENOMEM;
        if (vt_buf_reserve(out, 0) != 0)
                return VT_ENOMEM;
        out->p[out->len] = '\0';
        return 0;
}

/* see encoding_int.h */
int vt_encoding_int_put_string(struct vt_buf *out, const char *s, size_t n)
{
        json_t *v;
        size_t i;
        int err;

        /*
         * Printable ASCII but for '"' and '\\' is written as it is by jansson
         * too: copied between quotes, without a json_t (this runs several
         * times per submission). Anything else goes through jansson.
         */
        for (i = 0; i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\'; i++)
                ;
        if (i == n) {
                if (vt_buf_reserve(out, n + 3) != 0)
                        return VT_ENOMEM;
                out->p[out->len++] = '"';
                memcpy(out->p + out->len, s, n);
                out->len += n;
                out->p[out->len++] = '"';
                out->p[out->len] = '\0';
                return 0;
        }
        if ((v = json_stringn(s, n)) == NULL)
                return VT_ENOMEM;
        err = vt_encoding_json_dump(v, JSON_COMPACT | JSON_ENCODE_ANY, out);
        json_decref(v);
        return err;
}

/* see encoding_int.h */
char *vt_encoding_int_strndup(const char *s, size_t n)
{
        char *c = malloc(n + 1);

        if (c != NULL) {
                memcpy(c, s, n);
                c[n] = '\0';
        }
        return c;
}

/* see encoding_int.h */
void vt_encoding_int_buf_rewind(struct vt_buf *out, size_t len)
{
        out->len = len;
        if (out->p != NULL)
                out->p[len] = '\0';
}

/* see encoding_int.h */
int vt_encoding_int_json_object(const uint8_t *p, size_t n, size_t max, const char *what,
                                json_t **root, struct vt_diag *d)
{
        json_t *v;
        int err;

        if (n > max) {
                vt_diag_set(d, "%s: %zu bytes, more than %zu", what, n, max);
                return VT_ETOOBIG;
        }
        if ((err = vt_encoding_json_parse(p, n, max, &v, d)) != 0) {
                vt_diag_prefix(d, "%s", what);
                return err == VT_ETOOBIG || err == VT_ENOMEM ? err : VT_EMALFORMED;
        }
        if (!json_is_object(v)) {
                json_decref(v);
                vt_diag_set(d, "%s: not a JSON object", what);
                return VT_EMALFORMED;
        }
        *root = v;
        return 0;
}
