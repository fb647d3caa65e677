/*
 * encoding.h: the byte formats veritrail reads and writes.
 *
 *   base64   RFC 4648 §4, padded; decoding is strict and canonical (one
 *            accepted encoding per value: no whitespace, no missing or
 *            extra padding, zero unused bits).
 *   hex      lowercase only on decode (key ids, digests).
 *   JSON     jansson, behind a size limit and a nesting limit; duplicate
 *            object keys are rejected (JSON_REJECT_DUPLICATES).
 *   DSSE     envelopes v1 and their PAE (section "DSSE" below).
 *   in-toto  Statement v1 (section "Statements" below).
 *   notes    C2SP signed-note, tlog-checkpoint, tlog-cosignature/v1
 *            (section "Signed notes" below).
 *
 * Prefix: vt_encoding_*.
 */
#ifndef VT_ENCODING_H
#define VT_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "veritrail/crypto.h"
#include "veritrail/util.h"

/* ---- base64 and hex ---------------------------------------------------- */

/* vt_encoding_base64_len(n): characters needed for n bytes, without the NUL. */
size_t vt_encoding_base64_len(size_t n);

/*
 * vt_encoding_base64_encode(p, n, out): write the padded base64 of p and a
 * NUL to out, which holds vt_encoding_base64_len(n) + 1 bytes.
 */
void vt_encoding_base64_encode(const uint8_t *p, size_t n, char *out);

/* vt_encoding_base64_append(b, p, n): append the base64 of p to b (no NUL counted). */
int vt_encoding_base64_append(struct vt_buf *b, const uint8_t *p, size_t n);

/*
 * vt_encoding_base64_decode(s, slen, out, cap, outlen): strict decode of
 * slen characters into out (cap bytes). VT_EMALFORMED for a character outside
 * the alphabet or a length not a multiple of 4, VT_ENONCANON for bad padding
 * or non-zero unused bits, VT_ETOOBIG when cap is too small.
 */
int vt_encoding_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
			      size_t *outlen) VT_WARN_UNUSED;

/* vt_encoding_base64_decode_buf(s, slen, out): decode and append to out. */
int vt_encoding_base64_decode_buf(const char *s, size_t slen, struct vt_buf *out) VT_WARN_UNUSED;

/* vt_encoding_hex_encode(p, n, out): lowercase hex of p and a NUL; out holds 2n+1. */
void vt_encoding_hex_encode(const uint8_t *p, size_t n, char *out);

/*
 * vt_encoding_hex_decode(s, slen, out, n): exactly n bytes from exactly 2n
 * lowercase hex characters. 0 or VT_EMALFORMED.
 */
int vt_encoding_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n) VT_WARN_UNUSED;

/* ---- JSON ---------------------------------------------------------------- */

#define VT_ENCODING_JSON_MAX_DEPTH 32

/*
 * vt_encoding_json_parse(p, n, max, out, d): parse one JSON value of at most
 * max bytes (VT_ETOOBIG past it), nested at most VT_ENCODING_JSON_MAX_DEPTH
 * deep, with no duplicate keys, no NUL in strings and nothing after it but
 * white space. *out is a new reference the caller json_decref()s.
 * VT_EMALFORMED with "line L column C: reason" in d.
 */
int vt_encoding_json_parse(const uint8_t *p, size_t n, size_t max, json_t **out,
			   struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_json_dump(v, flags, out): append the serialisation of v to out.
 * Flags are jansson's (JSON_COMPACT | JSON_SORT_KEYS for canonical output).
 */
int vt_encoding_json_dump(const json_t *v, size_t flags, struct vt_buf *out);

/* ---- DSSE ---------------------------------------------------------------- */
/* (section owned by the DSSE/statement engineer) */

/* ---- Statements ---------------------------------------------------------- */
/* (section owned by the DSSE/statement engineer) */

/* ---- Signed notes, checkpoints, cosignatures ----------------------------- */
/* (section owned by the signed-note engineer) */

#endif
