/*
 * store.h: one transactional store for everything that must be consistent:
 * entry bundles, hash tiles, checkpoints and small metadata (later also
 * envelopes, the subject index, tokens and the trace graph).
 *
 * Back ends: SQLite in a data directory (the embedded default, WAL,
 * synchronous=FULL, with the entry bundles' bytes and the envelope bodies
 * appended to two segment files beside the database) and, later, PostgreSQL. Both implement the
 * operation table in src/store/store_impl.h; callers see only this header.
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

#define VT_STORE_CREATE   1 /* create the database if it does not exist */
#define VT_STORE_READONLY 2 /* open for reading only */

/*
 * Limits every put checks (VT_EINVAL, or VT_ETOOBIG for an oversized value):
 * widths are 1..VT_STORE_WIDTH; tile levels 0..VT_STORE_LEVEL_MAX; a tile is
 * exactly width * VT_STORE_HASH_SIZE bytes; a bundle 1..VT_STORE_BUNDLE_MAX
 * bytes (256 entries of at most 64 KiB - 1, each with its 2-byte length); a
 * checkpoint note 1..VT_STORE_NOTE_MAX bytes; a metadata value
 * 0..VT_STORE_META_MAX bytes under a key of 1..VT_STORE_KEY_MAX printable
 * ASCII characters (0x21..0x7e); indexes and sizes at most INT64_MAX.
 */
#define VT_STORE_WIDTH      256
#define VT_STORE_HASH_SIZE  32
#define VT_STORE_LEVEL_MAX  63
#define VT_STORE_BUNDLE_MAX (256u * (2u + 65535u))
#define VT_STORE_NOTE_MAX   (1u << 20)
#define VT_STORE_META_MAX   (16u << 20)
#define VT_STORE_KEY_MAX    255u

/*
 * vt_store_open(dir, flags, out, d): open the store of the data directory
 * dir (SQLite file dir/veritrail.db, entry segment dir/entries.seg,
 * envelope segment dir/envelopes.seg). Without VT_STORE_CREATE a missing
 * database is VT_ENOENT ("'D' is not a veritrail data directory"). Opening
 * for writing upgrades an older schema (in one transaction) and, when no
 * other writer has the store open, cuts what an interrupted commit left
 * past each segment's committed end; a segment shorter than that end is
 * VT_ECORRUPT.
 */
int vt_store_open(const char *dir, int flags, struct vt_store **out, struct vt_diag *d);

/* vt_store_close(s): close s, rolling back an open transaction. NULL is a no-op. */
void vt_store_close(struct vt_store *s);

/*
 * vt_store_set_busy_timeout(s, ms): how long begin (and a read that meets a
 * WAL recovery) waits for another connection's lock before VT_EBUSY; the
 * default is 5000 ms, 0 fails at once.
 */
void vt_store_set_busy_timeout(struct vt_store *s, unsigned ms);

/*
 * vt_store_begin(s, d): start a write transaction. VT_EBUSY if another writer
 * holds the lock; VT_EINVAL if one is already open on s or s is read-only.
 * A put outside a transaction is its own durable transaction. A put that
 * fails inside one rolls the whole transaction back: later puts and commit
 * then fail with VT_ESTORE until vt_store_rollback() or a new begin. A put
 * refused for its arguments (VT_EINVAL) writes nothing and leaves the
 * transaction open.
 */
int vt_store_begin(struct vt_store *s, struct vt_diag *d);

/*
 * vt_store_commit(s, d): make the transaction durable. On error it is rolled
 * back (VT_EIO for an I/O error, VT_EBUSY, VT_ESTORE, ...). One caveat, as
 * with any database: when the final sync fails the new state may already be
 * in the write-ahead log and can still appear after a crash and restart, so
 * after a commit error the caller must re-read what it needs from the store
 * rather than assume the old state (it is always one or the other, never a
 * mix).
 */
int vt_store_commit(struct vt_store *s, struct vt_diag *d);

/* vt_store_rollback(s): abandon the transaction (no-op without one). */
void vt_store_rollback(struct vt_store *s);

/*
 * vt_store_wal_flush(s, d): copy everything committed from the write-ahead
 * log into the database file proper and sync it (a full WAL checkpoint).
 * The store does this on its own whenever the WAL reaches 16 MiB, inside the
 * commit that crosses it; call it to charge that work to a measurement, at a
 * quiet moment, or before a file-level backup. Not inside a transaction, not
 * on a read-only store (VT_EINVAL); VT_EBUSY when another writer or a reader
 * of older pages is in the way past the busy timeout.
 */
int vt_store_wal_flush(struct vt_store *s, struct vt_diag *d);

/*
 * Metadata: small values by name (origin, format version, ...). Puts of any
 * kind on a store opened VT_STORE_READONLY fail with VT_EINVAL.
 */
int vt_store_meta_put(struct vt_store *s, const char *key, const void *p, size_t n,
                      struct vt_diag *d);
/* vt_store_meta_get(s, key, out, d): append the value to out; VT_ENOENT if absent. */
int vt_store_meta_get(struct vt_store *s, const char *key, struct vt_buf *out, struct vt_diag *d);

/*
 * Entry bundles (C2SP tlog-tiles): bundle n holds entries 256n .. 256n+w-1,
 * each prefixed by its 2-byte big-endian length. get appends the bytes to
 * out and sets *width; VT_ENOENT if absent.
 *
 * Bundles only grow at the end of the log, and put relies on it: bundle n
 * must be either the last stored bundle growing (the same or a larger width
 * and length, and the stored bytes must be the first bytes of the new ones)
 * or the next bundle (last + 1; 0 in a store without bundles). Anything
 * else is VT_EINVAL ("bundle N: bundles only grow at the end of the log"),
 * and so is a growing bundle whose stored bytes are not a prefix of the new
 * ones (checked in full in builds without NDEBUG, on its last bytes
 * otherwise). A put writes only the bytes not stored yet: growing a partial
 * bundle costs its new entries, not the whole bundle. Cost of get: one row
 * lookup and one read of the bundle's bytes.
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
 * vt_store_checkpoint_next(s, from, size, note, d): the checkpoint with the
 * smallest size >= from: sets *size and appends its note to note (which may
 * be NULL when only the size is wanted). VT_ENOENT when there is none.
 */
int vt_store_checkpoint_next(struct vt_store *s, uint64_t from, uint64_t *size, struct vt_buf *note,
                             struct vt_diag *d);

/* ---- Service tables (schema version 5; the service module) ------------------ */
/*
 * envelopes: one row per log entry that carries a DSSE envelope, keyed by
 * the entry's index: the SHA-256 of its payload, the SHA-256 of the entry
 * bytes (one envelope is logged once: the service sees to it), the sha256
 * digests of the subjects its statement names (the subject index), and the
 * envelope itself (its bytes kept beside the database, in an append-only
 * file with the same commit protocol as the entry bundles).
 * tokens: bearer tokens by name, stored as their SHA-256 only.
 * Digests are 32 bytes. Puts follow the transaction rules above, so the
 * service writes an entry's envelope in the batch that logs it.
 */
#define VT_STORE_ENVELOPE_MAX   (16u << 20) /* bytes of one stored envelope */
#define VT_STORE_SUBJECTS_MAX   65536u      /* subject digests stored with one envelope */
#define VT_STORE_TOKEN_NAME_MAX 64u         /* bytes of a token name */
#define VT_STORE_TOKENS_MAX     100000u     /* tokens vt_store_token_list() returns at most */

/*
 * vt_store_envelope_put(s, index, payload_sha256, entry_hash, subjects,
 * nsubj, env, len, d): record env (1..VT_STORE_ENVELOPE_MAX bytes) as the
 * envelope of entry index, with the SHA-256 of its payload, the hash of its
 * log entry and the nsubj (0..VT_STORE_SUBJECTS_MAX) subject digests
 * subjects[0..nsubj) (NULL when nsubj is 0), kept in the order given,
 * repeats included. VT_EEXIST when index already has an envelope. One row
 * per envelope; the envelope's bytes are appended to a file of their own and
 * written out at commit (buffered up to 1 MiB). The store keeps no index by
 * digest (a random-key b-tree costs a page write per key and batch): the
 * caller keeps one in memory, filled by vt_store_envelope_scan() and
 * vt_store_subject_scan(), and makes entry hashes unique (the service does).
 */
int vt_store_envelope_put(struct vt_store *s, uint64_t index, const uint8_t payload_sha256[32],
                          const uint8_t entry_hash[32], const uint8_t (*subjects)[32], size_t nsubj,
                          const uint8_t *env, size_t len, struct vt_diag *d);

/* vt_store_envelope_get(s, index, out, d): append entry index's envelope to out; VT_ENOENT. */
int vt_store_envelope_get(struct vt_store *s, uint64_t index, struct vt_buf *out,
                          struct vt_diag *d);

/*
 * vt_store_envelope_keys(s, index, payload_sha256, entry_hash, d): the two
 * digests stored with entry index's envelope (either output may be NULL).
 * VT_ENOENT when it has none.
 */
int vt_store_envelope_keys(struct vt_store *s, uint64_t index, uint8_t payload_sha256[32],
                           uint8_t entry_hash[32], struct vt_diag *d);

/*
 * A scan's callback: one stored row; nonzero stops the scan and is returned
 * (set d to say why).
 */
typedef int (*vt_store_envelope_fn)(void *ctx, uint64_t index, const uint8_t payload_sha256[32],
                                    const uint8_t entry_hash[32], struct vt_diag *d);
typedef int (*vt_store_subject_fn)(void *ctx, uint64_t index, const uint8_t digest[32],
                                   struct vt_diag *d);

/*
 * vt_store_envelope_scan(s, from, fn, ctx, d): call fn for the digests of
 * every envelope of index >= from, by ascending index (one read
 * transaction; the table is narrow: 64 bytes of digests a row).
 */
int vt_store_envelope_scan(struct vt_store *s, uint64_t from, vt_store_envelope_fn fn, void *ctx,
                           struct vt_diag *d);

/* vt_store_subject_has(s, digest, index, d): 0 when entry index is about digest, else VT_ENOENT. */
int vt_store_subject_has(struct vt_store *s, const uint8_t digest[32], uint64_t index,
                         struct vt_diag *d);

/*
 * vt_store_subject_scan(s, from, fn, ctx, d): call fn for every subject
 * digest stored with the envelopes of index >= from: by ascending index, then
 * in the order the put gave them (one read transaction over the envelopes).
 */
int vt_store_subject_scan(struct vt_store *s, uint64_t from, vt_store_subject_fn fn, void *ctx,
                          struct vt_diag *d);

/* A token's row (the secret itself is never stored). */
struct vt_store_token {
        char name[VT_STORE_TOKEN_NAME_MAX + 1];
        uint8_t hash[32]; /* SHA-256 of the token's characters */
        int admin, revoked;
        int64_t created; /* POSIX seconds */
};

/*
 * vt_store_token_put(s, t, d): add a token (name 1..VT_STORE_TOKEN_NAME_MAX
 * printable ASCII characters). VT_EEXIST when the name is taken (revoked
 * or not).
 */
int vt_store_token_put(struct vt_store *s, const struct vt_store_token *t, struct vt_diag *d);

/* vt_store_token_revoke(s, name, d): mark the token revoked. VT_ENOENT if there is none. */
int vt_store_token_revoke(struct vt_store *s, const char *name, struct vt_diag *d);

/*
 * vt_store_token_list(s, out, n, d): every token, by name: *out is a new
 * array of *n rows (NULL when none) that the caller free()s.
 */
int vt_store_token_list(struct vt_store *s, struct vt_store_token **out, size_t *n,
                        struct vt_diag *d);

/*
 * vt_store_fault_countdown(n): fault injection for tests. After n more
 * write, sync or truncate calls made by any SQLite store in this process
 * (its database, write-ahead log and both segments alike), every further
 * one fails with an I/O error until the countdown is set again; n < 0 turns
 * injection off (the default). The environment variable VT_FAULT_IO=n sets
 * it when the first store opens.
 */
void vt_store_fault_countdown(long n);

#endif
