/*
 * segment.c: the segment files of the SQLite back end, dir/entries.seg (the
 * entry bundles) and dir/envelopes.seg (the service's envelope bodies)
 * (store_impl.h, docs/FORMATS.md "Entry segment").
 *
 * A segment holds bytes appended; the database holds where each record is
 * (offset, length) and how many bytes of the file committed rows use (the
 * committed end). This file is only the file layer:
 * open (creating it with mode 0600 and making its directory entry durable),
 * positioned writes and reads, fdatasync, ftruncate; and the advisory lock
 * on the data directory that tells a writer it is the only connection.
 * sqlite.c owns the protocol (when to write, sync and cut, what the rows say).
 *
 * Fault injection: every write, writeback start, sync and truncate here
 * (and the directory sync at creation) is counted against the same countdown
 * as the SQLite files (vt_store_fault_fire(), faultvfs.c), and fails with
 * EIO, without touching the file, once the countdown reaches zero. A sync
 * comes in two halves for sqlite.c's parallel syncs: the count
 * (vt_store_segment_sync_count(), on the committing thread, in a fixed
 * order) and the fdatasync itself (vt_store_segment_sync_uncounted(), on any
 * thread), so the countdown's ticks do not depend on thread scheduling.
 *
 * Streaming (measured with bench/bench_log.c): a batch writes megabytes here
 * and then syncs them. Two things keep that close to the disk's own speed:
 *
 *   - writeback starts as the bytes are written: once VT_STORE_SEGMENT_KICK
 *     bytes wait, their whole pages go to sync_file_range with
 *     SYNC_FILE_RANGE_WRITE (Linux), which queues them for the disk and
 *     returns without waiting for it. The disk works while the log hashes,
 *     builds tiles and signs, and the fdatasync at commit waits only for the
 *     tail. It is a hint to the kernel only: durability still comes from
 *     that fdatasync, before the commit (sqlite.c's protocol is unchanged);
 *     a failure of it is an I/O error like a failed write's.
 *   - drop-behind: once a sync succeeded, the clean pages more than
 *     VT_STORE_SEGMENT_KEEP bytes before the end written leave the page
 *     cache (posix_fadvise POSIX_FADV_DONTNEED). The log never reads them
 *     back on its hot path, they would push the database's pages out, and the
 *     next writes reuse the freed pages, which costs far less than pages the
 *     kernel must first find (on a VM, memory it gives back to the host and
 *     has to fault in again). The newest bytes stay cached for readers of
 *     the latest entries. A failed fadvise changes nothing and is ignored.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sync_file_range */
#endif
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

/* Bytes at the end of the segment that a sync leaves in the page cache (see above). */
#ifndef VT_STORE_SEGMENT_KEEP
#define VT_STORE_SEGMENT_KEEP (32u << 20)
#endif

/*
 * Writeback starts once this many bytes wait for it: fewer, larger requests
 * to the disk than one per bundle (each request costs a VM exit on a
 * virtual disk).
 */
#ifndef VT_STORE_SEGMENT_KICK
#define VT_STORE_SEGMENT_KICK (1u << 20)
#endif

/* Page granularity of writeback and cache hints (a multiple of the real page size is fine). */
#define SEG_PAGE 4096u

static uint64_t seg_page_down(uint64_t off)
{
        return off & ~(uint64_t)(SEG_PAGE - 1);
}

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
int vt_store_segment_open(struct vt_store_segment *g, const char *dir, const char *name,
                          int writable, struct vt_diag *d)
{
        struct stat sb;
        char *path;
        size_t n = strlen(dir) + strlen(name) + 2;
        int fd, err;

        g->fd = -1;
        g->path = NULL;
        g->wend = g->kick = g->drop = 0;
        if ((path = malloc(n)) == NULL) {
                vt_diag_set(d, "store '%s': out of memory", dir);
                return VT_ENOMEM;
        }
        snprintf(path, n, "%s/%s", dir, name);
        fd = open(path, writable ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0600);
        if (fd < 0 && !writable && errno == ENOENT) {
                /* A reader before the first writer made it: nothing in it yet (sqlite.c checks). */
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
        g->wend = g->kick = g->drop = (uint64_t)sb.st_size;
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
        const uint64_t start = off;
        ssize_t r;
        size_t n;
        uint64_t from, to;
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
        if (off > g->wend)
                g->wend = off;
        /*
         * Start writeback of the whole pages below the end just written
         * (the last, partial page is written again by the next write).
         */
        from = seg_page_down(start < g->kick ? start : g->kick);
        to = seg_page_down(off);
        if (to > from && to - from >= VT_STORE_SEGMENT_KICK) {
                injected = vt_store_fault_fire();
#ifdef SYNC_FILE_RANGE_WRITE
                r = injected ? -1
                             : sync_file_range(g->fd, (off_t)from, (off_t)(to - from),
                                               SYNC_FILE_RANGE_WRITE);
#else
                r = injected ? -1 : 0;
#endif
                if (r != 0) {
                        vt_diag_set(d, "cannot start writing '%s' to disk: %s", g->path,
                                    seg_errstr(injected ? EIO : errno, injected));
                        return VT_EIO;
                }
                g->kick = to;
        }
        return 0;
}

/* see store_impl.h */
int vt_store_segment_sync(struct vt_store_segment *g, struct vt_diag *d)
{
        int err;

        if ((err = vt_store_segment_sync_count(g, d)) != 0)
                return err;
        return vt_store_segment_sync_uncounted(g, d);
}

/* see store_impl.h */
int vt_store_segment_sync_count(struct vt_store_segment *g, struct vt_diag *d)
{
        if (vt_store_fault_fire()) {
                vt_diag_set(d, "cannot sync '%s': %s", g->path, seg_errstr(EIO, 1));
                return VT_EIO;
        }
        return 0;
}

/* see store_impl.h */
int vt_store_segment_sync_uncounted(struct vt_store_segment *g, struct vt_diag *d)
{
        uint64_t to;

        if (fdatasync(g->fd) != 0) {
                vt_diag_set(d, "cannot sync '%s': %s", g->path, seg_errstr(errno, 0));
                return VT_EIO;
        }
        /* Drop-behind (see the top of this file): the pages below are clean now. */
        to = seg_page_down(g->wend > VT_STORE_SEGMENT_KEEP ? g->wend - VT_STORE_SEGMENT_KEEP : 0);
        if (to > g->drop) {
                (void)posix_fadvise(g->fd, (off_t)g->drop, (off_t)(to - g->drop),
                                    POSIX_FADV_DONTNEED);
                g->drop = to;
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
        if (g->wend > size)
                g->wend = size;
        if (g->kick > size)
                g->kick = size;
        if (g->drop > size)
                g->drop = size;
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
                        vt_diag_set(d, "'%s' ends at byte %llu, before the bytes a row names",
                                    g->path, (unsigned long long)off);
                        return VT_ECORRUPT;
                }
                p += r;
                len -= (size_t)r;
                off += (uint64_t)r;
        }
        return 0;
}
