/*
 * store_impl.h: what a store back end implements (private to src/store/).
 *
 * store.c owns everything the back ends share: argument validation (widths,
 * lengths, limits), the read-only check and the transaction state machine.
 * A back end sees only valid arguments and implements plain storage: each
 * operation below is called with a struct vt_store that the back end
 * allocated with struct vt_store as its first member, so it can cast it to
 * its own type.
 *
 * The contract for every operation: return 0 or a VT_E* code with one
 * sentence in d ("store 'D': disk I/O error while committing"); outputs are
 * untouched on failure; reads of a missing row are VT_ENOENT. Integers passed
 * in are at most INT64_MAX (store.c checks), so a back end may store them in
 * signed 64-bit columns.
 */
#ifndef VT_STORE_IMPL_H
#define VT_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/store.h"

struct vt_store_ops {
        const char *name; /* "sqlite", later "postgresql" */
        void (*close)(struct vt_store *s);
        void (*set_busy_timeout)(struct vt_store *s, unsigned ms);
        int (*begin)(struct vt_store *s, struct vt_diag *d);
        /* commit: on failure the back end leaves no transaction open. */
        int (*commit)(struct vt_store *s, struct vt_diag *d);
        void (*rollback)(struct vt_store *s);
        int (*wal_flush)(struct vt_store *s, struct vt_diag *d);
        int (*meta_put)(struct vt_store *s, const char *key, const void *p, size_t n,
                        struct vt_diag *d);
        int (*meta_get)(struct vt_store *s, const char *key, struct vt_buf *out, struct vt_diag *d);
        int (*bundle_put)(struct vt_store *s, uint64_t n, unsigned width, const uint8_t *p,
                          size_t len, struct vt_diag *d);
        int (*bundle_get)(struct vt_store *s, uint64_t n, unsigned *width, struct vt_buf *out,
                          struct vt_diag *d);
        int (*tile_put)(struct vt_store *s, unsigned level, uint64_t n, unsigned width,
                        const uint8_t *p, size_t len, struct vt_diag *d);
        int (*tile_get)(struct vt_store *s, unsigned level, uint64_t n, unsigned *width,
                        struct vt_buf *out, struct vt_diag *d);
        int (*checkpoint_put)(struct vt_store *s, uint64_t size, const uint8_t *note, size_t len,
                              struct vt_diag *d);
        int (*checkpoint_get)(struct vt_store *s, uint64_t size, struct vt_buf *out,
                              struct vt_diag *d);
        int (*checkpoint_latest)(struct vt_store *s, uint64_t *size, struct vt_buf *out,
                                 struct vt_diag *d);
        /* checkpoint_next: note may be NULL. */
        int (*checkpoint_next)(struct vt_store *s, uint64_t from, uint64_t *size,
                               struct vt_buf *note, struct vt_diag *d);
        /* Service tables (schema version 5): as the vt_store_* functions in store.h. */
        int (*envelope_put)(struct vt_store *s, uint64_t index, const uint8_t *payload_sha256,
                            const uint8_t *entry_hash, const uint8_t (*subjects)[32], size_t nsubj,
                            const uint8_t *env, size_t len, struct vt_diag *d);
        int (*envelope_get)(struct vt_store *s, uint64_t index, struct vt_buf *out,
                            struct vt_diag *d);
        /* envelope_keys: payload_sha256 and entry_hash may be NULL. */
        int (*envelope_keys)(struct vt_store *s, uint64_t index, uint8_t *payload_sha256,
                             uint8_t *entry_hash, struct vt_diag *d);
        int (*envelope_scan)(struct vt_store *s, uint64_t from, vt_store_envelope_fn fn, void *ctx,
                             struct vt_diag *d);
        int (*subject_has)(struct vt_store *s, const uint8_t *digest, uint64_t index,
                           struct vt_diag *d);
        int (*subject_scan)(struct vt_store *s, uint64_t from, vt_store_subject_fn fn, void *ctx,
                            struct vt_diag *d);
        int (*token_put)(struct vt_store *s, const struct vt_store_token *t, struct vt_diag *d);
        int (*token_revoke)(struct vt_store *s, const char *name, struct vt_diag *d);
        int (*token_list)(struct vt_store *s, struct vt_store_token **out, size_t *n,
                          struct vt_diag *d);
};

/* Transaction state, kept by store.c. */
enum vt_store_tx {
        VT_STORE_TX_NONE = 0, /* autocommit: each put is its own durable transaction */
        VT_STORE_TX_OPEN,     /* between a successful begin and commit/rollback */
        VT_STORE_TX_FAILED,   /* a put failed inside the transaction; it was rolled back */
};

/* The part of every store that store.c reads; back ends embed it first. */
struct vt_store {
        const struct vt_store_ops *ops;
        char *dir; /* the data directory, for diagnostics (owned, freed by store.c) */
        int flags; /* VT_STORE_* open flags */
        enum vt_store_tx tx;
};

/*
 * vt_store_sqlite_open(dir, flags, out, d): the SQLite back end's open
 * (sqlite.c). It allocates the store, sets ops and flags, and leaves dir and
 * tx to store.c.
 */
int vt_store_sqlite_open(const char *dir, int flags, struct vt_store **out, struct vt_diag *d);

/*
 * The segments (segment.c): the bundle bytes of a SQLite store, appended to
 * dir/VT_STORE_SEGMENT_FILE, and the envelope bodies of the service, appended
 * to dir/VT_STORE_ENVSEG_FILE (schema 5); the database records where each
 * record is and each file's committed end.
 * These are file operations only; sqlite.c owns the commit protocol. Every
 * function returns 0 or a VT_E* code with one sentence in d naming the file.
 * Writes, syncs and truncations count against the fault-injection countdown.
 */
#define VT_STORE_SEGMENT_FILE "entries.seg"
#define VT_STORE_ENVSEG_FILE  "envelopes.seg"

struct vt_store_segment {
        int fd;        /* -1 when not open (a reader before the file exists) */
        char *path;    /* dir/<name>, owned */
        uint64_t wend; /* the end of what this handle wrote (the size at open) */
        uint64_t kick; /* writeback started (sync_file_range) below this offset */
        uint64_t drop; /* page cache dropped, after a sync, below this offset */
};

/*
 * vt_store_segment_open(g, dir, name, writable, d): open the segment
 * dir/name (VT_STORE_SEGMENT_FILE or VT_STORE_ENVSEG_FILE); writable
 * creates it (mode 0600) and, while it is empty, syncs the directory so its
 * name is durable. A reader finding no file gets g->fd == -1 and success.
 */
int vt_store_segment_open(struct vt_store_segment *g, const char *dir, const char *name,
                          int writable, struct vt_diag *d);
/* vt_store_segment_close(g): close; a closed g is a no-op. */
void vt_store_segment_close(struct vt_store_segment *g);
/* vt_store_segment_reopen(g, d): a reader's retry when the file did not exist at open. */
int vt_store_segment_reopen(struct vt_store_segment *g, struct vt_diag *d);
/*
 * vt_store_lock_open(dir, writer, fd, sole, d): every connection of a
 * SQLite store holds a shared flock on its data directory (a descriptor of
 * its own, *fd, closed with the store) from before its database is opened
 * until after it is closed. A writer first tries for it exclusively: *sole
 * = 1 when it got it, i.e. no other store connection of any kind is open in
 * any process, so SQLite rebuilds the WAL index (and so recovers any commit
 * whose sync failed) at this connection's first read; the caller then calls
 * vt_store_lock_share(). Otherwise it waits for the shared lock.
 */
int vt_store_lock_open(const char *dir, int writer, int *fd, int *sole, struct vt_diag *d);
/* vt_store_lock_share(fd): turn the exclusive lock into the shared one. */
int vt_store_lock_share(int fd);
/* vt_store_segment_size(g, size, d): the file's size (0 when there is no file). */
int vt_store_segment_size(struct vt_store_segment *g, uint64_t *size, struct vt_diag *d);
/*
 * vt_store_segment_write(g, p, len, off, d): pwrite all of p at off; once
 * VT_STORE_SEGMENT_KICK bytes or more wait, start the kernel's writeback of
 * their whole pages (Linux sync_file_range, SYNC_FILE_RANGE_WRITE: it does
 * not wait for the disk), so the sync at commit waits only for the tail. Both count
 * against fault injection (segment.c).
 */
int vt_store_segment_write(struct vt_store_segment *g, const uint8_t *p, size_t len, uint64_t off,
                           struct vt_diag *d);
/*
 * vt_store_segment_sync(g, d): fdatasync; after it succeeded, drop from the
 * page cache what lies more than VT_STORE_SEGMENT_KEEP bytes (segment.c)
 * before the end written (posix_fadvise DONTNEED of clean pages: a hint,
 * never an error).
 */
int vt_store_segment_sync(struct vt_store_segment *g, struct vt_diag *d);
/*
 * vt_store_segment_sync_count(g, d) and vt_store_segment_sync_uncounted(g,
 * d): the two halves of vt_store_segment_sync(), which is the first then the
 * second. _count counts the sync against the fault-injection countdown and
 * fails as the sync would (VT_EIO, "cannot sync 'F': ... (injected)")
 * without touching the file; _uncounted is the fdatasync and drop-behind,
 * not counted, and may run on another thread (one at a time per g). A caller
 * syncing several segments at once counts each of them first, in a fixed
 * order, on its own thread: the countdown then ticks as with syncs one after
 * the other, whatever the threads' timing.
 */
int vt_store_segment_sync_count(struct vt_store_segment *g, struct vt_diag *d);
int vt_store_segment_sync_uncounted(struct vt_store_segment *g, struct vt_diag *d);
/* vt_store_segment_truncate(g, size, d): ftruncate to size bytes. */
int vt_store_segment_truncate(struct vt_store_segment *g, uint64_t size, struct vt_diag *d);
/* vt_store_segment_read(g, off, len, p, d): pread len bytes at off; VT_ECORRUPT if the file ends.
 */
int vt_store_segment_read(struct vt_store_segment *g, uint64_t off, size_t len, uint8_t *p,
                          struct vt_diag *d);

/*
 * vt_store_fault_fire() (faultvfs.c): count one write, sync or truncate
 * against the fault-injection countdown (vt_store_fault_countdown()); 1 when
 * it must fail, 0 when it may proceed (always 0 with injection off).
 */
int vt_store_fault_fire(void);

/* vt_store_fault_armed(): 1 while a fault-injection countdown is running. */
int vt_store_fault_armed(void);

/*
 * vt_store_faultvfs_name(): register the fault-injecting SQLite VFS
 * (faultvfs.c) once per process and return its name for sqlite3_open_v2(),
 * or NULL when registration failed. The first call also reads VT_FAULT_IO.
 */
const char *vt_store_faultvfs_name(void);

#endif
