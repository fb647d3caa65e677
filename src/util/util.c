/*
 * util.c: diagnostics, buffers, checked allocation, secrets, numbers, files.
 *
 * File output goes through vt_util_write_file(): write to a temporary file
 * beside the target, fsync it, rename it over the target, fsync the
 * directory. A crash or error at any point leaves either the old file or the
 * complete new one (POSIX rename atomicity), never a truncated output.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "veritrail/util.h"

/* see util.h */
void vt_diag_set(struct vt_diag *d, const char *fmt, ...)
{
        va_list ap;

        if (d == NULL)
                return;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
}

/* see util.h */
void vt_diag_prefix(struct vt_diag *d, const char *fmt, ...)
{
        char pre[VT_DIAG_MAX], old[VT_DIAG_MAX];
        va_list ap;

        if (d == NULL)
                return;
        va_start(ap, fmt);
        vsnprintf(pre, sizeof(pre), fmt, ap);
        va_end(ap);
        memcpy(old, d->msg, sizeof(old));
        old[sizeof(old) - 1] = '\0';
        /* Truncation is fine: a diagnostic is cut, never overrun. */
        {
                struct vt_buf b;
                vt_buf_init(&b);
                if (vt_buf_printf(&b, "%s: %s", pre, old) == 0) {
                        size_t n = b.len < sizeof(d->msg) - 1 ? b.len : sizeof(d->msg) - 1;
                        memcpy(d->msg, b.p, n);
                        d->msg[n] = '\0';
                }
                vt_buf_release(&b);
        }
}

/* see vt_err.h */
const char *vt_strerror(int err)
{
        switch (err) {
        case VT_OK:
                return "success";
        case VT_ENOMEM:
                return "out of memory";
        case VT_EIO:
                return "input/output error";
        case VT_EINVAL:
                return "invalid argument";
        case VT_ETOOBIG:
                return "input too large";
        case VT_ENOENT:
                return "not found";
        case VT_EEXIST:
                return "already exists";
        case VT_EINTERNAL:
                return "internal library failure";
        case VT_EUSAGE:
                return "usage error";
        case VT_EKEYTYPE:
                return "unsupported key type";
        case VT_EKEYPARSE:
                return "malformed key";
        case VT_EKEYENC:
                return "encrypted key";
        case VT_EBADSIG:
                return "bad signature";
        case VT_ENOTPRIV:
                return "not a private key";
        case VT_EMALFORMED:
                return "malformed input";
        case VT_ENONCANON:
                return "non-canonical encoding";
        case VT_EUNKNOWNKEY:
                return "unknown key";
        case VT_ETHRESHOLD:
                return "signature threshold not met";
        case VT_EMISMATCH:
                return "artefacts do not match";
        case VT_EPROOF:
                return "proof does not verify";
        case VT_ERANGE:
                return "index or size out of range";
        case VT_ESTORE:
                return "store error";
        case VT_EBUSY:
                return "store busy";
        case VT_ECORRUPT:
                return "stored data is corrupt";
        case VT_ELOGSTATE:
                return "log state unusable";
        case VT_EAUDIT:
                return "audit discrepancy";
        case VT_EPOLICY:
                return "policy not satisfied";
        case VT_EEXPIRED:
                return "expired";
        case VT_EDENIED:
                return "not allowed";
        }
        return "unknown error";
}

/* see util.h */
void vt_buf_init(struct vt_buf *b)
{
        b->p = NULL;
        b->len = 0;
        b->cap = 0;
}

/* see util.h */
void vt_buf_release(struct vt_buf *b)
{
        free(b->p);
        vt_buf_init(b);
}

/* see util.h */
void vt_buf_wipe(struct vt_buf *b)
{
        if (b->p != NULL)
                vt_util_wipe(b->p, b->cap);
        vt_buf_release(b);
}

/* see util.h */
int vt_buf_reserve(struct vt_buf *b, size_t n)
{
        size_t need, cap;
        uint8_t *p;

        /* One extra byte for the NUL that always follows the data. */
        if (n > SIZE_MAX - b->len - 1)
                return VT_ENOMEM;
        need = b->len + n + 1;
        if (need <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if ((p = realloc(b->p, cap)) == NULL)
                return VT_ENOMEM;
        b->p = p;
        b->cap = cap;
        return 0;
}

/* see util.h */
int vt_buf_append(struct vt_buf *b, const void *p, size_t n)
{
        if (vt_buf_reserve(b, n) != 0)
                return VT_ENOMEM;
        if (n > 0)
                memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
}

/* see util.h */
int vt_buf_puts(struct vt_buf *b, const char *s)
{
        return vt_buf_append(b, s, strlen(s));
}

/* see util.h */
int vt_buf_printf(struct vt_buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return VT_EINVAL;
        if (vt_buf_reserve(b, (size_t)n) != 0)
                return VT_ENOMEM;
        va_start(ap, fmt);
        vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
}

/* see util.h */
void *vt_util_reallocarray(void *p, size_t n, size_t size)
{
        if (size != 0 && n > SIZE_MAX / size)
                return NULL;
        return realloc(p, n * size == 0 ? 1 : n * size);
}

/* see util.h */
void vt_util_wipe(void *p, size_t n)
{
        sodium_memzero(p, n);
}

/* see util.h */
int vt_util_memeq(const void *a, const void *b, size_t n)
{
        const volatile uint8_t *x = a, *y = b;
        uint8_t acc = 0;
        size_t i;

        for (i = 0; i < n; i++)
                acc |= x[i] ^ y[i];
        return acc == 0;
}

/* see util.h */
int vt_util_parse_u64(const char *s, size_t n, uint64_t *out)
{
        uint64_t v = 0;
        size_t i;

        if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
                return VT_EMALFORMED;
        for (i = 0; i < n; i++) {
                unsigned dgt;
                if (s[i] < '0' || s[i] > '9')
                        return VT_EMALFORMED;
                dgt = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - dgt) / 10)
                        return VT_EMALFORMED;
                v = v * 10 + dgt;
        }
        *out = v;
        return 0;
}

/* see util.h */
int vt_util_read_file(const char *path, size_t max, struct vt_buf *out, struct vt_diag *d)
{
        struct vt_buf b;
        int fd, err = 0;
        ssize_t r;

        vt_buf_init(&b);
        if (strcmp(path, "-") == 0) {
                fd = STDIN_FILENO;
        } else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
                vt_diag_set(d, "cannot open '%s': %s", path, strerror(errno));
                return errno == ENOENT ? VT_ENOENT : VT_EIO;
        }
        for (;;) {
                if (vt_buf_reserve(&b, 65536) != 0) {
                        err = VT_ENOMEM;
                        vt_diag_set(d, "'%s': out of memory", path);
                        break;
                }
                r = read(fd, b.p + b.len, b.cap - b.len - 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        err = VT_EIO;
                        vt_diag_set(d, "cannot read '%s': %s", path, strerror(errno));
                        break;
                }
                if (r == 0)
                        break;
                b.len += (size_t)r;
                if (b.len > max) {
                        err = VT_ETOOBIG;
                        vt_diag_set(d, "'%s' is larger than the limit of %zu bytes", path, max);
                        break;
                }
        }
        if (fd != STDIN_FILENO)
                close(fd);
        if (err != 0) {
                vt_buf_release(&b);
                return err;
        }
        b.p[b.len] = '\0';
        *out = b;
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* see util.h */
int vt_util_write_file(const char *path, const void *p, size_t n, int mode, struct vt_diag *d)
{
        char *tmp = NULL, *dir = NULL, *slash;
        int fd = -1, dfd, err = VT_EIO;
        size_t plen;

        if (strcmp(path, "-") == 0) {
                if (write_all(STDOUT_FILENO, p, n) != 0) {
                        vt_diag_set(d, "cannot write to standard output: %s", strerror(errno));
                        return VT_EIO;
                }
                return 0;
        }
        plen = strlen(path);
        if ((tmp = malloc(plen + 16)) == NULL || (dir = strdup(path)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
        if ((fd = mkstemp(tmp)) < 0) {
                vt_diag_set(d, "cannot create '%s': %s", path, strerror(errno));
                goto out;
        }
        if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, p, n) != 0 || fsync(fd) != 0) {
                vt_diag_set(d, "cannot write '%s': %s", path, strerror(errno));
                goto out_unlink;
        }
        if (close(fd) != 0) {
                fd = -1;
                vt_diag_set(d, "cannot write '%s': %s", path, strerror(errno));
                goto out_unlink;
        }
        fd = -1;
        if (rename(tmp, path) != 0) {
                vt_diag_set(d, "cannot replace '%s': %s", path, strerror(errno));
                goto out_unlink;
        }
        /* Make the rename itself durable. */
        slash = strrchr(dir, '/');
        if (slash == NULL)
                strcpy(dir, ".");
        else if (slash == dir)
                dir[1] = '\0';
        else
                *slash = '\0';
        if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                (void)fsync(dfd);
                close(dfd);
        }
        err = 0;
        goto out;
out_unlink:
        unlink(tmp);
out:
        if (fd >= 0)
                close(fd);
        free(tmp);
        free(dir);
        return err;
}

/* see util.h */
uint64_t vt_util_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* see util.h */
int64_t vt_util_unix_time(void)
{
        return (int64_t)time(NULL);
}

/* see util.h */
void vt_util_thread_name(const char *name)
{
        char n[16];

        snprintf(n, sizeof(n), "%s", name);
        (void)pthread_setname_np(pthread_self(), n);
}
