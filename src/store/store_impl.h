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
        /* Service tables (schema version 2): as the vt_store_* functions in store.h. */
        int (*envelope_put)(struct vt_store *s, uint64_t index, const uint8_t *payload_sha256,
                            const uint8_t *entry_hash, const uint8_t *env, size_t len,
                            struct vt_diag *d);
        int (*envelope_get)(struct vt_store *s, uint64_t index, struct vt_buf *out,
                            struct vt_diag *d);
        /* envelope_by_payload: index and out may be NULL. */
        int (*envelope_by_payload)(struct vt_store *s, const uint8_t *payload_sha256,
                                   uint64_t *index, struct vt_buf *out, struct vt_diag *d);
        int (*envelope_find)(struct vt_store *s, const uint8_t *entry_hash, uint64_t *index,
                             struct vt_diag *d);
        int (*subject_put)(struct vt_store *s, const uint8_t *digest, uint64_t index,
                           struct vt_diag *d);
        int (*subject_list)(struct vt_store *s, const uint8_t *digest, uint64_t from, uint64_t *idx,
                            size_t max, size_t *n, struct vt_diag *d);
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
 * vt_store_faultvfs_name(): register the fault-injecting SQLite VFS
 * (faultvfs.c) once per process and return its name for sqlite3_open_v2(),
 * or NULL when registration failed. The first call also reads VT_FAULT_IO.
 */
const char *vt_store_faultvfs_name(void);

#endif
