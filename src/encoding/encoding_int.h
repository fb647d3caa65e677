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

#endif
