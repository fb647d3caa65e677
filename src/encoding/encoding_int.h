/*
 * encoding_int.h: helpers shared by the files of the encoding module and
 * by nothing else (the public interface is include/veritrail/encoding.h).
 * Prefix vt_encoding_int_*.
 */
#ifndef VT_ENCODING_INT_H
#define VT_ENCODING_INT_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/encoding.h"
#include "veritrail/util.h"

/*
 * vt_encoding_int_sigs_free(sigs, n): free the keyid and the bytes of each
 * of the n signatures, then the array itself. sigs may be NULL when n is 0.
 * Defined in dsse.c.
 */
void vt_encoding_int_sigs_free(struct vt_encoding_dsse_sig *sigs, size_t n);

/*
 * vt_encoding_int_put_string(out, s, n): append s[0..n) to out as a
 * JSON string, quoted and escaped by jansson. 0, or VT_ENOMEM (also when s
 * is not UTF-8). Defined in json.c.
 */
int vt_encoding_int_put_string(struct vt_buf *out, const char *s, size_t n);

/*
 * vt_encoding_int_strndup(s, n): a heap copy of the n bytes at s,
 * NUL-terminated, or NULL when out of memory. Defined in json.c.
 */
char *vt_encoding_int_strndup(const char *s, size_t n);

/*
 * vt_encoding_int_buf_rewind(out, len): cut out back to its first len bytes
 * (len <= out->len), keeping the NUL after them; the capacity stays. Writers
 * use it to leave out as it was when they fail. Defined in json.c.
 */
void vt_encoding_int_buf_rewind(struct vt_buf *out, size_t len);

/*
 * vt_encoding_int_json_object(p, n, max, what, root, d): parse p[0..n), at
 * most max bytes, as a JSON object into *root (the caller json_decref()s
 * it). d names the failure after what: VT_ETOOBIG "<what>: <n> bytes, more
 * than <max>"; VT_ETOOBIG or VT_ENOMEM from vt_encoding_json_parse(), any
 * other parse error as VT_EMALFORMED, with its message prefixed by what;
 * VT_EMALFORMED "<what>: not a JSON object". *root is untouched on failure.
 * Defined in json.c.
 */
int vt_encoding_int_json_object(const uint8_t *p, size_t n, size_t max, const char *what,
                                json_t **root, struct vt_diag *d);

/*
 * vt_encoding_int_b64_fail(err, d, fmt, ...): the error of a failed strict
 * base64 decode (vt_encoding_base64_decode*) of the subject that fmt names.
 * VT_ENOMEM is returned as is, with d untouched; otherwise d says
 * "<subject> is not canonical base64" (VT_ENONCANON, returned) or
 * "<subject> is not standard padded base64" (VT_EMALFORMED, returned).
 * Defined in base64.c.
 */
int vt_encoding_int_b64_fail(int err, struct vt_diag *d, const char *fmt, ...) VT_PRINTF(3, 4);

/* ---- jscan.c: a strict JSON checker and a reader of what it passed ---- */

/*
 * vt_encoding_int_jscan_check(p, n, max, d): check p[0..n) exactly as
 * vt_encoding_json_parse(p, n, max, ...) would, without building anything:
 * 0, VT_ETOOBIG (more than max bytes: "JSON is larger than the limit of
 * <max> bytes"; nested deeper than VT_ENCODING_JSON_MAX_DEPTH: "JSON nests
 * deeper than 32 levels"), VT_EMALFORMED ("malformed JSON at line L column
 * C: <reason>"), VT_ENOMEM. Cost: linear in n; allocates only for objects of
 * more than 16 keys, keys with escapes and nesting past 24 levels.
 */
int vt_encoding_int_jscan_check(const uint8_t *p, size_t n, size_t max, struct vt_diag *d);

/*
 * struct vt_encoding_int_jval: one value of a document that
 * vt_encoding_int_jscan_check() passed, as a span of its bytes. kind is '{',
 * '[', '"', '0' (a number), 't', 'f' or 'n'. A string's span is its body
 * between the quotes, esc set when it holds a backslash escape (else the
 * span is its value); any other value's span is all of it.
 */
struct vt_encoding_int_jval {
        const uint8_t *p;
        size_t n;
        char kind;
        char esc;
};

/* An iterator over the members or elements of a checked object or array. */
struct vt_encoding_int_jiter {
        const uint8_t *p, *e;
};

/*
 * The reader: its functions trust the syntax of what they read, so they
 * must only be given documents (and values of documents) that
 * vt_encoding_int_jscan_check() passed.
 *
 *   jscan_root(p, n, v): v is the root value of the checked p[0..n).
 *   jscan_iter(v, it): it walks the object or array v;
 *   jscan_next(it, key, val): 1 with the next member (key and val) of an
 *     object or element (val, key NULL) of an array, 0 at its end;
 *   jscan_count(v): how many members or elements v holds;
 *   jscan_str(v, out): the decoded string v into out (replaced, NUL after
 *     it): 0 or VT_ENOMEM;
 *   jscan_key_is(k, lit): 1 when the decoded string k is lit (at most 40
 *     bytes);
 *   jscan_tree(v, out): a jansson value equal to what json_loadb() makes of
 *     v, into *out (the caller json_decref()s it): 0 or VT_ENOMEM. v must
 *     nest at most VT_ENCODING_JSON_MAX_DEPTH levels (it recurses).
 */
void vt_encoding_int_jscan_root(const uint8_t *p, size_t n, struct vt_encoding_int_jval *v);
void vt_encoding_int_jscan_iter(const struct vt_encoding_int_jval *v,
                                struct vt_encoding_int_jiter *it);
int vt_encoding_int_jscan_next(struct vt_encoding_int_jiter *it, struct vt_encoding_int_jval *key,
                               struct vt_encoding_int_jval *val);
size_t vt_encoding_int_jscan_count(const struct vt_encoding_int_jval *v);
int vt_encoding_int_jscan_str(const struct vt_encoding_int_jval *v, struct vt_buf *out);
/*
 * vt_encoding_int_jscan_str_at(v, tmp, s, n): the decoded string v located
 * by *s, *n: its own bytes when it holds no escape, else decoded into tmp
 * (valid until tmp is next used). 0 or VT_ENOMEM.
 */
int vt_encoding_int_jscan_str_at(const struct vt_encoding_int_jval *v, struct vt_buf *tmp,
                                 const char **s, size_t *n);
int vt_encoding_int_jscan_key_is(const struct vt_encoding_int_jval *k, const char *lit);
int vt_encoding_int_jscan_tree(const struct vt_encoding_int_jval *v, json_t **out);

/*
 * The streaming reader, for walks that read each byte once: an object or
 * array is entered where it stands instead of measured first (jscan_next()
 * measures a container value to step past it, so a walk that then walks
 * into it reads its bytes twice, and more at each level). Same trust as
 * above: documents vt_encoding_int_jscan_check() passed only.
 *
 *   jscan_root_iter(p, n, it): the kind of the root of the checked p[0..n)
 *     ('{' or '['), and it walking its members or elements;
 *   jscan_next_open(it, key, val): as jscan_next(), except that an object or
 *     array value is not measured: val->kind is its bracket, val->p points to
 *     it and val->n is 0, and it stays on it until the caller either enters
 *     it (jscan_enter(), then jscan_leave()) or skips it (jscan_skip());
 *   jscan_enter(it, in): in walks the object or array it stands on, with
 *     jscan_next() or jscan_next_open();
 *   jscan_leave(it, in): after jscan_next*(in) returned 0, it steps past the
 *     object or array in walked (a walk given up halfway skips instead);
 *   jscan_skip(it): it steps past the object or array it stands on.
 */
char vt_encoding_int_jscan_root_iter(const uint8_t *p, size_t n, struct vt_encoding_int_jiter *it);

/*
 * vt_encoding_int_jscan_object(p, n, max, what, it, d): the prologue of the
 * in-place parsers: at most max bytes ("<what>: N bytes, more than max",
 * VT_ETOOBIG), vt_encoding_int_jscan_check() (its code, d prefixed with
 * what), a root object ("<what>: not a JSON object", VT_EMALFORMED); then 0
 * with it walking the root's members (jscan_root_iter: not measured first).
 */
int vt_encoding_int_jscan_object(const uint8_t *p, size_t n, size_t max, const char *what,
                                 struct vt_encoding_int_jiter *it, struct vt_diag *d);
int vt_encoding_int_jscan_next_open(struct vt_encoding_int_jiter *it,
                                    struct vt_encoding_int_jval *key,
                                    struct vt_encoding_int_jval *val);
void vt_encoding_int_jscan_enter(const struct vt_encoding_int_jiter *it,
                                 struct vt_encoding_int_jiter *in);
void vt_encoding_int_jscan_leave(struct vt_encoding_int_jiter *it,
                                 const struct vt_encoding_int_jiter *in);
void vt_encoding_int_jscan_skip(struct vt_encoding_int_jiter *it);

#endif
