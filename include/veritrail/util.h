/*
 * util.h: the bottom module. Diagnostics, growable byte buffers, checked
 * allocation, secret wiping and constant-time comparison, strict number
 * parsing, and whole-file I/O that never leaves a partial output file.
 *
 * Prefixes: vt_diag_*, vt_buf_*, vt_util_* (and vt_strerror in vt_err.h).
 */
#ifndef VT_UTIL_H
#define VT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/vt_err.h"

#if defined(__GNUC__)
#define VT_WARN_UNUSED  __attribute__((warn_unused_result))
#define VT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VT_WARN_UNUSED
#define VT_PRINTF(a, b)
#endif

/*
 * struct vt_diag: an optional diagnostic out-parameter. Functions that fail
 * write one human sentence into msg, lower-case, naming the subject first:
 * "checkpoint line 2: size has a leading zero". Callers may pass NULL.
 */
#define VT_DIAG_MAX 256
struct vt_diag {
        char msg[VT_DIAG_MAX];
};

/* vt_diag_set(d, fmt, ...): format msg into d (no-op when d is NULL). */
void vt_diag_set(struct vt_diag *d, const char *fmt, ...) VT_PRINTF(2, 3);

/*
 * vt_diag_prefix(d, fmt, ...): put "<formatted>: " in front of the message
 * already in d, to add context as an error travels up ("'root.json': ...").
 */
void vt_diag_prefix(struct vt_diag *d, const char *fmt, ...) VT_PRINTF(2, 3);

/*
 * struct vt_buf: a growable byte buffer, caller-owned. vt_buf_init() makes it
 * empty; vt_buf_release() frees it (and leaves it empty). The bytes are always
 * followed by a NUL that len does not count, so text can be used as a string.
 */
struct vt_buf {
        uint8_t *p;
        size_t len;
        size_t cap;
};
void vt_buf_init(struct vt_buf *b);
void vt_buf_release(struct vt_buf *b);
/* vt_buf_reserve(b, n): room for n more bytes. 0 or VT_ENOMEM. */
int vt_buf_reserve(struct vt_buf *b, size_t n);
/* vt_buf_append(b, p, n): append n bytes. 0 or VT_ENOMEM (b unchanged). */
int vt_buf_append(struct vt_buf *b, const void *p, size_t n);
/* vt_buf_puts(b, s): append a string without its NUL. */
int vt_buf_puts(struct vt_buf *b, const char *s);
/* vt_buf_printf(b, fmt, ...): append formatted text. */
int vt_buf_printf(struct vt_buf *b, const char *fmt, ...) VT_PRINTF(2, 3);
/* vt_buf_wipe(b): zero the bytes (they held a secret), then release. */
void vt_buf_wipe(struct vt_buf *b);

/*
 * vt_util_reallocarray(p, n, size): realloc for n*size bytes, NULL on
 * overflow or exhaustion (p is then untouched).
 */
void *vt_util_reallocarray(void *p, size_t n, size_t size);

/* vt_util_wipe(p, n): zero memory that held a secret; never optimised away. */
void vt_util_wipe(void *p, size_t n);

/* vt_util_memeq(a, b, n): 1 if equal, 0 if not, in time independent of the bytes. */
int vt_util_memeq(const void *a, const void *b, size_t n);

/*
 * vt_util_parse_u64(s, n, out): strict unsigned decimal: digits only, no sign,
 * no leading zero (except "0" itself), no overflow. 0 or VT_EMALFORMED.
 */
int vt_util_parse_u64(const char *s, size_t n, uint64_t *out) VT_WARN_UNUSED;

/*
 * vt_util_read_file(path, max, out, d): read a whole file ("-" is standard
 * input) into a new buffer stored in *out, which the caller releases. out
 * is overwritten, not appended to: what it held before is not freed, so pass
 * an empty or released buffer. *out is untouched on failure. VT_ENOENT,
 * VT_EIO, or VT_ETOOBIG when the file holds more than max bytes.
 */
int vt_util_read_file(const char *path, size_t max, struct vt_buf *out, struct vt_diag *d);

/*
 * vt_util_write_file(path, p, n, mode, d): write all of p to path atomically:
 * a temporary file in the same directory, fsync, rename, fsync of the
 * directory. Either the old file or the new one is there afterwards, never a
 * partial one. "-" writes to standard output. mode is the new file's mode
 * (0600 for secrets).
 */
int vt_util_write_file(const char *path, const void *p, size_t n, int mode, struct vt_diag *d);

/* vt_util_now_ns(): monotonic clock in nanoseconds. */
uint64_t vt_util_now_ns(void);

/*
 * vt_util_thread_name(name): name the calling thread (its first 15
 * characters), as top -H, perf and /proc/PID/task/TID/comm show it.
 */
void vt_util_thread_name(const char *name);

/* vt_util_unix_time(): seconds since the epoch (wall clock). */
int64_t vt_util_unix_time(void);

#endif
