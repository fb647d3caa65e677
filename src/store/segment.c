/*
 * segment.c: the entry segment file of the SQLite back end, dir/entries.seg
 * (store_impl.h, docs/formats-store.md "Entry segment").
 *
 * The segment holds the bytes of the entry bundles, appended; the database
 * holds where each bundle is (offset, length) and how many bytes of the file
 * committed rows use (the committed end). This file is only the file layer:
 * open (creating it with mode 0600 and making its directory entry durable),
 * positioned writes and reads, fdatasync, ftruncate; and the advisory lock
 * on the data directory that tells a writer it is the only connection.
 * sqlite.c owns the protocol (when to write, sync and cut, what the rows say).
 *
 * Fault injection: every write, sync and truncate here (and the directory
 * sync at creation) is counted against the same countdown as the SQLite
 * files (vt_store_fault_fire(), faultvfs.c), and fails with EIO, without
 * touching the file, once the countdown reaches zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_impl.h"

/* The largest single read or write we issue (Linux moves at most this much per call). */
#define SEG_IO_MAX (1u << 30)

/* seg_errstr(e): strerror, saying when the error was injected. */
static const char *seg_errstr(int e, int injected)
{
        return injected ? "Input/output error (injected)" : strerror(e);
}

/* seg_sync_dir(path, d): fsync the directory that holds path, so a new file's name is durable. */
static int seg_sync_dir(const char *path, struct vt_diag *d)
{
        char *dir;
        char *slash;
        int fd, e, injected = 0, err = 0;

        if ((dir = strdup(path)) == NULL) {
                vt_diag_set(d, "out of memory for '%s'", path);
                return VT_ENOMEM;
        }
        if ((slash = strrchr(dir, '/')) != NULL)
                slash[slash == dir ? 1 : 0] = '\0';
        else
                snprintf(dir, strlen(dir) + 1, ".");
        if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                e = errno;
                goto fail;
        }
        if ((injected = vt_store_fault_fire()) != 0 || fsync(fd) != 0) {
                e = injected ? EIO : errno;
                close(fd);
                goto fail;
        }
        close(fd);
        free(dir);
        return 0;
fail:
        vt_diag_set(d, "cannot sync directory '%s': %s", dir, seg_errstr(e, injected));
        err = VT_EIO;
        free(dir);
        return err;
}

/* see store_impl.h */
int vt_store_segment_open(struct vt_store_segment *g, const char *dir, int writable,
                          struct vt_diag *d)
{
        struct stat sb;
        char *path;
        size_t n = strlen(dir) + sizeof("/" VT_STORE_SEGMENT_FILE);
        int fd, err;

        g->fd = -1;
        g->path = NULL;
        if ((path = malloc(n)) == NULL) {
                vt_diag_set(d, "store '%s': out of memory", dir);
                return VT_ENOMEM;
        }
        snprintf(path, n, "%s/%s", dir, VT_STORE_SEGMENT_FILE);
        fd = open(path, writable ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0600);
        if (fd < 0 && !writable && errno == ENOENT) {
                /* A reader before the first writer made it: no bundles yet (sqlite.c checks). */
                g->path = path;
                return 0;
        }
        if (fd < 0) {
                vt_diag_set(d, "store '%s': cannot open '%s': %s", dir, path, strerror(errno));
                free(path);
                return VT_EIO;
        }
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
                vt_diag_set(d, "store '%s': '%s' is not a regular file", dir, path);
                close(fd);
                free(path);
                return VT_ECORRUPT;
        }
        /*
         * An empty segment may have just been created (here, or by an open that
         * failed before this point): make its name durable before any commit
         * can point into it. Cheap, and only while the file is empty.
         */
        if (writable && sb.st_size == 0 && (err = seg_sync_dir(path, d)) != 0) {
                vt_diag_prefix(d, "store '%s'", dir);
                close(fd);
                free(path);
                return err;
        }
        g->fd = fd;
        g->path = path;
        return 0;
}

/* see store_impl.h */
void vt_store_segment_close(struct vt_store_segment *g)
{
        if (g->fd >= 0)
                close(g->fd);
        g->fd = -1;
        free(g->path);
        g->path = NULL;
}

/* see store_impl.h */
int vt_store_segment_reopen(struct vt_store_segment *g, struct vt_diag *d)
{
        int fd;

        if (g->fd >= 0)
                return 0;
        if ((fd = open(g->path, O_RDONLY | O_CLOEXEC)) < 0) {
                int e = errno;
                vt_diag_set(d, "cannot open '%s': %s", g->path, strerror(e));
                return e == ENOENT ? VT_ECORRUPT : VT_EIO;
        }
        g->fd = fd;
        return 0;
}

/* see store_impl.h */
int vt_store_lock_open(const char *dir, int writer, int *fd, int *sole, struct vt_diag *d)
{
        int f, r;

        *sole = 0;
        if ((f = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                vt_diag_set(d, "store '%s': cannot open the directory: %s", dir, strerror(errno));
                return errno == ENOENT || errno == ENOTDIR ? VT_ENOENT : VT_EIO;
        }
        /* flock locks belong to the open file description: two opens in one process conflict. */
        if (writer && flock(f, LOCK_EX | LOCK_NB) == 0) {
                *sole = 1;
                *fd = f;
                return 0;
        }
        do
                r = flock(f, LOCK_SH);
        while (r != 0 && errno == EINTR);
        if (r != 0) {
                vt_diag_set(d, "store '%s': cannot lock the directory: %s", dir, strerror(errno));
                close(f);
                return VT_EIO;
        }
        *fd = f;
        return 0;
}

/* see store_impl.h */
int vt_store_lock_share(int fd)
{
        int r;

        do
                r = flock(fd, LOCK_SH);
        while (r != 0 && errno == EINTR);
        return r == 0 ? 0 : VT_EIO;
}

/* see store_impl.h */
int vt_store_segment_size(struct vt_store_segment *g, uint64_t *size, struct vt_diag *d)
{
        struct stat sb;

        if (g->fd < 0) {
                *size = 0;
                return 0;
        }
        if (fstat(g->fd, &sb) != 0) {
                vt_diag_set(d, "cannot stat '%s': %s", g->path, strerror(errno));
                return VT_EIO;
        }
        *size = (uint64_t)sb.st_size;
        return 0;
}

/* see store_impl.h */
int vt_store_segment_write(struct vt_store_segment *g, const uint8_t *p, size_t len, uint64_t off,
                           struct vt_diag *d)
{
        ssize_t r;
        size_t n;
        int injected;

        if (off > (uint64_t)INT64_MAX - len) {
                vt_diag_set(d, "'%s' would grow beyond %lld bytes", g->path, (long long)INT64_MAX);
                return VT_ETOOBIG;
        }
        while (len > 0) {
                n = len < SEG_IO_MAX ? len : SEG_IO_MAX;
                if ((injected = vt_store_fault_fire()) != 0)
                        r = -1, errno = EIO;
                else
                        r = pwrite(g->fd, p, n, (off_t)off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        vt_diag_set(d, "cannot write '%s': %s", g->path,
                                    r == 0 ? "no progress" : seg_errstr(errno, injected));
                        return VT_EIO;
                }
                p += r;
                len -= (size_t)r;
                off += (uint64_t)r;
        }
        return 0;
}

/* see store_impl.h */
int vt_store_segment_sync(struct vt_store_segment *g, struct vt_diag *d)
{
        int injected;

        if ((injected = vt_store_fault_fire()) != 0 || fdatasync(g->fd) != 0) {
                vt_diag_set(d, "cannot sync '%s': %s", g->path,
                            seg_errstr(injected ? EIO : errno, injected));
                return VT_EIO;
        }
        return 0;
}

/* see store_impl.h */
int vt_store_segment_truncate(struct vt_store_segment *g, uint64_t size, struct vt_diag *d)
{
        int injected;

        if ((injected = vt_store_fault_fire()) != 0 || ftruncate(g->fd, (off_t)size) != 0) {
                vt_diag_set(d, "cannot truncate '%s' to %llu bytes: %s", g->path,
                            (unsigned long long)size, seg_errstr(injected ? EIO : errno, injected));
                return VT_EIO;
        }
        return 0;
}

/* see store_impl.h */
int vt_store_segment_read(struct vt_store_segment *g, uint64_t off, size_t len, uint8_t *p,
                          struct vt_diag *d)
{
        ssize_t r;
        size_t n;

        while (len > 0) {
                n = len < SEG_IO_MAX ? len : SEG_IO_MAX;
                r = pread(g->fd, p, n, (off_t)off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        vt_diag_set(d, "cannot read '%s': %s", g->path, strerror(errno));
                        return VT_EIO;
                }
                if (r == 0) {
                        vt_diag_set(d, "'%s' ends at byte %llu, before the bytes a bundle needs",
                                    g->path, (unsigned long long)off);
                        return VT_ECORRUPT;
                }
                p += r;
                len -= (size_t)r;
                off += (uint64_t)r;
        }
        return 0;
}
