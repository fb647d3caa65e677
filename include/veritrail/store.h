/*
 * store.h: one transactional store for everything that must be consistent:
 * entry bundles, hash tiles, checkpoints and small metadata (later also
 * envelopes, the subject index, tokens and the trace graph).
 *
 * Back ends: SQLite in a data directory (the embedded default, WAL,
 * synchronous=FULL) and, later, PostgreSQL. Both implement the operation
 * table in src/store/store_impl.h; callers see only this header.
 *
 * Transactions: vt_store_begin() starts a write transaction; every put
 * until vt_store_commit() becomes durable together when commit returns 0,
 * or not at all (vt_store_rollback(), an error, a crash or kill -9). Reads
 * inside a transaction see its own writes. Reads outside one see the last
 * committed state.
 *
 * A struct vt_store is one connection: use it from one thread at a time.
 * Open one per thread; SQLite's WAL lets readers run beside the writer.
 */
#ifndef VT_STORE_H
#define VT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/util.h"

struct vt_store;

#define VT_STORE_CREATE 1   /* create the database if it does not exist */
#define VT_STORE_READONLY 2 /* open for reading only */

/*
 * vt_store_open(dir, flags, out, d): open the store of the data directory
 * dir (SQLite file dir/veritrail.db). Without VT_STORE_CREATE a missing
 * database is VT_ENOENT ("'D' is not a veritrail data directory").
 */
int vt_store_open(const char *dir, int flags, struct vt_store **out, struct vt_diag *d);

/* vt_store_close(s): close s, rolling back an open transaction. NULL is a no-op. */
void vt_store_close(struct vt_store *s);

/* vt_store_begin(s, d): start a write transaction. VT_EBUSY if another writer holds the lock. */
int vt_store_begin(struct vt_store *s, struct vt_diag *d);

/* vt_store_commit(s, d): make the transaction durable. On error it is rolled back. */
int vt_store_commit(struct vt_store *s, struct vt_diag *d);

/* vt_store_rollback(s): abandon the transaction (no-op without one). */
void vt_store_rollback(struct vt_store *s);

/* Metadata: small values by name (origin, format version, ...). */
int vt_store_meta_put(struct vt_store *s, const char *key, const void *p, size_t n,
		      struct vt_diag *d);
/* vt_store_meta_get(s, key, out, d): append the value to out; VT_ENOENT if absent. */
int vt_store_meta_get(struct vt_store *s, const char *key, struct vt_buf *out, struct vt_diag *d);

/*
 * Entry bundles (C2SP tlog-tiles): bundle n holds entries 256n .. 256n+w-1,
 * each prefixed by its 2-byte big-endian length. A put replaces the bundle
 * (a partial bundle grows until it is full). get appends the bytes to out and
 * sets *width; VT_ENOENT if absent.
 */
int vt_store_bundle_put(struct vt_store *s, uint64_t n, unsigned width, const uint8_t *p,
			size_t len, struct vt_diag *d);
int vt_store_bundle_get(struct vt_store *s, uint64_t n, unsigned *width, struct vt_buf *out,
			struct vt_diag *d);

/*
 * Hash tiles (C2SP tlog-tiles): tile (level, n) holds width hashes of 32
 * bytes. A put replaces the tile; get appends its bytes and sets *width.
 */
int vt_store_tile_put(struct vt_store *s, unsigned level, uint64_t n, unsigned width,
		      const uint8_t *p, size_t len, struct vt_diag *d);
int vt_store_tile_get(struct vt_store *s, unsigned level, uint64_t n, unsigned *width,
		      struct vt_buf *out, struct vt_diag *d);

/*
 * Checkpoints: the signed note for each tree size the log published.
 * latest sets *size and appends the note of the largest size; VT_ENOENT when
 * there is none.
 */
int vt_store_checkpoint_put(struct vt_store *s, uint64_t size, const uint8_t *note, size_t len,
			    struct vt_diag *d);
int vt_store_checkpoint_get(struct vt_store *s, uint64_t size, struct vt_buf *out,
			    struct vt_diag *d);
int vt_store_checkpoint_latest(struct vt_store *s, uint64_t *size, struct vt_buf *out,
			       struct vt_diag *d);

/*
 * vt_store_fault_countdown(n): fault injection for tests. After n more
 * write or sync calls made by any SQLite store in this process, every
 * further write or sync fails with an I/O error until the countdown is set
 * again; n < 0 turns injection off (the default). The environment variable
 * VT_FAULT_IO=n sets it when the first store opens.
 */
void vt_store_fault_countdown(long n);

#endif
