/*
 * log.h: the transparency log's sequencer over the store: it appends
 * entries, keeps the C2SP tlog-tiles tree and entry bundles up to date,
 * signs a checkpoint for every batch, serves entries, tree hashes and RFC
 * 9162 proofs, audits the stored tree, and exports it as static files.
 *
 * A log lives in a data directory D:
 *   D/entries.seg    the entry bundles' bytes, appended (store.h)
 *   D/veritrail.db   the store (store.h): where the bundles are, hash tiles,
 *                    checkpoints, metadata (origin, verifier key, format)
 *   D/log.key        the log's Ed25519 signing key, PKCS#8 PEM, mode 0600
 *
 * Durability: a batch of entries is ONE store transaction holding its entry
 * bundles, every tile it changes and the signed checkpoint of the new size.
 * An index is returned (acknowledged) only after that transaction commits,
 * so a crash (kill -9, power loss, I/O error) at any moment leaves the log
 * at its last committed checkpoint, and the stored tree always agrees with
 * the latest checkpoint. vt_log_open() checks that agreement.
 *
 * Threads: a struct vt_log may be shared by threads. Appends are committed
 * one batch at a time, in the order they were prepared: while one thread's
 * batch commits, another thread's is prepared (hashed, its tiles built, its
 * checkpoint signed), so two appending threads keep the disk busier than
 * one; vt_log_submit() gathers concurrent submissions into one batch
 * (group commit). Reads (entries, proofs, tiles) use a second store
 * connection, so they do not wait for a commit in progress; they see every
 * entry below vt_log_size(). Only one process may append to a data
 * directory at a time: appends check, inside their transaction, that no one
 * else has grown the tree, and reload if so.
 *
 * Prefix: vt_log_*.
 */
#ifndef VT_LOG_H
#define VT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/crypto.h"
#include "veritrail/util.h"

struct vt_log;

#define VT_LOG_ENTRY_MAX 65535 /* bytes in one entry: C2SP bundles use a uint16 length */
#define VT_LOG_PROOF_MAX 64    /* hashes in any proof (VT_MERKLE_MAX_PROOF) */
#define VT_LOG_KEY_FILE  "log.key"

#define VT_LOG_READONLY 1 /* vt_log_open(): no appends; the signing key is not loaded */

/*
 * vt_log_init(dir, origin, d): create a new log in the data directory dir
 * (created if missing): its store, a fresh Ed25519 key in dir/log.key
 * (PKCS#8, 0600), the origin (a valid signed-note key name: no '+', no
 * spaces, at most 255 bytes) and the signed checkpoint of size 0. VT_EEXIST
 * if dir already holds a log or a key file; VT_EINVAL for a bad origin;
 * store and I/O errors otherwise.
 */
int vt_log_init(const char *dir, const char *origin, struct vt_diag *d);

/*
 * vt_log_open(dir, flags, out, d): open the log in dir. Loads the right
 * edge of the tree (the partial tiles and the partial entry bundle) and
 * checks that the latest checkpoint verifies with the log's key and that its
 * root equals the root of the stored tiles (VT_ECORRUPT otherwise). Without
 * VT_LOG_READONLY it loads dir/log.key and checks that it is the log's key.
 * VT_ENOENT if dir holds no log. *out is set only on success.
 */
int vt_log_open(const char *dir, int flags, struct vt_log **out, struct vt_diag *d);

/*
 * vt_log_close(log): close the store connections and free log. No other
 * thread may be inside a vt_log_* call on log. NULL is a no-op.
 */
void vt_log_close(struct vt_log *log);

/* vt_log_origin(log): the origin line, owned by log. */
const char *vt_log_origin(const struct vt_log *log);

/* vt_log_vkey(log): the C2SP signed-note verifier key "<origin>+<hash8>+<base64>", owned by log. */
const char *vt_log_vkey(const struct vt_log *log);

/* vt_log_size(log): the size of the tree at the last committed checkpoint. */
uint64_t vt_log_size(struct vt_log *log);

/*
 * vt_log_append(log, entries, lens, n, first, d): append n entries
 * (entries[i] of lens[i] bytes, each 1..VT_LOG_ENTRY_MAX) as one batch: one
 * transaction with the bundles, tiles and the signed checkpoint of the new
 * size. On success entry i has index *first + i and is durable. VT_ETOOBIG
 * or VT_EINVAL (empty entry) before anything is written; store errors
 * (VT_EIO, VT_ESTORE, VT_EBUSY) leave the log as it was, and usable.
 * VT_EINVAL for n = 0 or a read-only log. Cost: one leaf hash per entry,
 * about one node hash per entry, one signature and one commit per batch;
 * no reads of the tree.
 */
int vt_log_append(struct vt_log *log, const uint8_t *const *entries, const size_t *lens, size_t n,
                  uint64_t *first, struct vt_diag *d);

/*
 * vt_log_append_ex(log, entries, lens, leaves, users, n, first, d):
 * vt_log_append() for a caller that gathers its own batches. users (n
 * opaque pointers of the caller, or NULL) go to the batch hook
 * (vt_log_set_batch_hook) of this batch, as vt_log_submit_ex() does for one
 * entry. leaves: the RFC 9162 leaf hashes of the entries when the caller
 * has them already (vt_merkle_leaf_hash), else NULL and the log computes
 * them; they are taken as given (an audit recomputes every one).
 */
int vt_log_append_ex(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                     const struct vt_hash *leaves, void *const *users, size_t n, uint64_t *first,
                     struct vt_diag *d);

/*
 * A stream: one producer's batches, appended in the order they are pushed,
 * each as its own vt_log_append() transaction, two at a time: while one
 * batch is stored, the next is prepared (log.c's pipeline), so a single
 * producer gets the rate of two appending threads. `veritrail log append`
 * streams its batches.
 *
 * done(ctx, tag, first, n, err, d) is called once for every pushed batch,
 * in push order, from one of the stream's threads, after the batch is
 * durable (err 0: entry i has index first + i) or has failed (err and d
 * say why). After a batch fails, no later batch is appended: each of them
 * is reported with VT_ELOGSTATE, naming the batch that failed, and the
 * log keeps every batch before it.
 */
struct vt_log_stream;
typedef void (*vt_log_stream_fn)(void *ctx, void *tag, uint64_t first, size_t n, int err,
                                 const struct vt_diag *d);

#define VT_LOG_STREAM_DEPTH 2 /* batches a stream has in flight at most */

/*
 * vt_log_stream_open(log, done, ctx, out, d): start a stream on log (its
 * two threads). VT_ENOMEM, VT_EINTERNAL (no thread), VT_EINVAL (read-only
 * log). *out is set only on success.
 */
int vt_log_stream_open(struct vt_log *log, vt_log_stream_fn done, void *ctx,
                       struct vt_log_stream **out, struct vt_diag *d);

/*
 * vt_log_stream_push(st, entries, lens, n, tag, d): queue a batch (as
 * vt_log_append(); the arrays and the entries stay the caller's and must
 * stay valid until done() is called for it). Waits while
 * VT_LOG_STREAM_DEPTH batches are in flight, so when it returns every
 * batch pushed VT_LOG_STREAM_DEPTH or more pushes before this one is done:
 * a producer with VT_LOG_STREAM_DEPTH + 1 buffers can fill them in turn.
 * Returns 0 once queued, or, without queueing it, the error of the first
 * batch that failed (with its diagnostic): the producer should stop.
 */
int vt_log_stream_push(struct vt_log_stream *st, const uint8_t *const *entries, const size_t *lens,
                       size_t n, void *tag, struct vt_diag *d);

/*
 * vt_log_stream_close(st, d): wait for every pushed batch, stop the
 * threads and free st. 0, or the error of the first batch that failed
 * (with its diagnostic). NULL is a no-op returning 0.
 */
int vt_log_stream_close(struct vt_log_stream *st, struct vt_diag *d);

/*
 * vt_log_submit(log, entry, len, index, d): thread-safe append of one entry
 * with group commit: concurrent submitters are gathered into one batch
 * (at most vt_log_set_batching()'s max entries); the call returns once the
 * batch holding the entry has committed, with its index. Errors as
 * vt_log_append(); when a batch fails, every submitter in it gets the error.
 */
int vt_log_submit(struct vt_log *log, const uint8_t *entry, size_t len, uint64_t *index,
                  struct vt_diag *d);

/*
 * vt_log_submit_ex(log, entry, len, user, index, d): vt_log_submit() that
 * also hands user (an opaque pointer of the caller, may be NULL) to the
 * batch hook (vt_log_set_batch_hook) of the batch that holds the entry, so
 * the caller can store what belongs with the entry in the same transaction.
 */
int vt_log_submit_ex(struct vt_log *log, const uint8_t *entry, size_t len, void *user,
                     uint64_t *index, struct vt_diag *d);

struct vt_store;

/*
 * vt_log_batch_fn(ctx, ws, first, users, n, d): a batch hook. Called by the
 * sequencer inside every batch's store transaction, on the writer
 * connection ws, after the batch's bundles and tiles are written and before
 * its checkpoint is signed and the transaction commits. The batch holds
 * entries first .. first + n - 1; users[i] is the user pointer given to
 * vt_log_submit_ex() for entry first + i (NULL for vt_log_submit()), and
 * users itself is NULL for a batch of vt_log_append() (vt_log_append_ex()
 * passes the caller's). The hook may write to
 * ws (its puts join the transaction) but must not begin, commit or roll
 * back. A non-zero return (a VT_E* code, with a sentence in d) fails the
 * whole batch: nothing of it is written, every submitter gets the error.
 * It runs with the log's append lock held: it must not call vt_log_* on the
 * same log, except the read functions.
 */
typedef int (*vt_log_batch_fn)(void *ctx, struct vt_store *ws, uint64_t first, void *const *users,
                               size_t n, struct vt_diag *d);

/*
 * vt_log_set_batch_hook(log, fn, ctx): install fn (NULL removes it) to run
 * in every later batch with ctx as its first argument. Set it before the
 * first append, while no other thread uses the log.
 */
void vt_log_set_batch_hook(struct vt_log *log, vt_log_batch_fn fn, void *ctx);

/*
 * vt_log_set_batching(log, max_entries, max_bytes, linger_us): group-commit
 * limits. A batch holds at most max_entries entries (default 4096) and, past
 * its first entry, at most max_bytes bytes of entries (default 16 MiB). The
 * thread that commits a batch waits up to linger_us microseconds (default 0)
 * for more submissions when fewer than max_entries are queued; with 0, a
 * batch is whatever queued while the previous one committed.
 */
void vt_log_set_batching(struct vt_log *log, size_t max_entries, size_t max_bytes,
                         unsigned linger_us);

/*
 * vt_log_checkpoint(log, size, note, d): append the latest signed checkpoint
 * to note and set *size (may be NULL) to its tree size.
 */
int vt_log_checkpoint(struct vt_log *log, uint64_t *size, struct vt_buf *note, struct vt_diag *d);

/*
 * vt_log_checkpoint_at(log, size, note, d): append the signed checkpoint the
 * log published for exactly size. VT_ENOENT if there is none.
 */
int vt_log_checkpoint_at(struct vt_log *log, uint64_t size, struct vt_buf *note, struct vt_diag *d);

/*
 * vt_log_entry(log, index, out, d): append entry index to out. VT_ERANGE if
 * index >= vt_log_size(); VT_ECORRUPT if the stored bundle is malformed.
 */
int vt_log_entry(struct vt_log *log, uint64_t index, struct vt_buf *out, struct vt_diag *d);

/*
 * vt_log_tree_hash(log, size, out, d): the root of the tree of size (<=
 * vt_log_size()), from popcount(size) hashes read from the stored tiles.
 * VT_ERANGE past the log's size.
 */
int vt_log_tree_hash(struct vt_log *log, uint64_t size, struct vt_hash *out, struct vt_diag *d);

/*
 * vt_log_prove_inclusion(log, index, size, proof, len, d): the RFC 9162
 * §2.1.3.1 inclusion proof of entry index in the tree of size (size = 0
 * means vt_log_size()) into proof (VT_LOG_PROOF_MAX hashes), leaf side
 * first; *len its length. VT_ERANGE for index >= size or size > the log's.
 * Reads a few tiles (about log256(size) of them).
 */
int vt_log_prove_inclusion(struct vt_log *log, uint64_t index, uint64_t size,
                           struct vt_hash proof[VT_LOG_PROOF_MAX], size_t *len, struct vt_diag *d);

/*
 * vt_log_prove_inclusion_many(log, size, indexes, n, paths, lens, d): the
 * proofs vt_log_prove_inclusion(log, indexes[i], size, ...) writes, byte for
 * byte, for i < n, made together: one lock and one prover
 * (vt_merkle_prover, merkle.h) for all, in ascending index order, so what
 * the proofs share (the right edge of the tree, the siblings above where
 * consecutive paths part) is read and hashed once. Appends proof i's
 * lens[i] hashes (32 bytes each, leaf side first) to paths, proof after
 * proof in the order of indexes (any order, repeats allowed). size 0 means
 * vt_log_size(). VT_ERANGE (an index >= size, size > the log's),
 * VT_ENOMEM, store errors; on failure nothing is appended and lens is
 * untouched. Cost for a run of consecutive indexes: about two stored
 * hashes per proof and no node hash beyond the edge's, against a whole
 * path each (about log2(size) hashes) one at a time.
 */
int vt_log_prove_inclusion_many(struct vt_log *log, uint64_t size, const uint64_t *indexes,
                                size_t n, struct vt_buf *paths, size_t *lens, struct vt_diag *d);

/*
 * vt_log_prove_consistency(log, from, to, proof, len, d): the RFC 9162
 * §2.1.4.1 consistency proof from size from to size to (to = 0 means
 * vt_log_size()); empty when from = 0 or from = to (merkle.h). VT_ERANGE
 * for from > to or to > the log's size.
 */
int vt_log_prove_consistency(struct vt_log *log, uint64_t from, uint64_t to,
                             struct vt_hash proof[VT_LOG_PROOF_MAX], size_t *len,
                             struct vt_diag *d);

/*
 * vt_log_tile(log, level, n, width, out, d): append the bytes of C2SP tile
 * (level, n) of width (1..256; 256 = full) to out: 32 * width bytes of
 * hashes for level >= 0, the entry bundle for level = -1
 * (VT_MERKLE_TILE_ENTRIES). A partial tile is the prefix of the stored one.
 * VT_ENOENT if the log does not hold that many hashes in that tile.
 */
int vt_log_tile(struct vt_log *log, int level, uint64_t n, unsigned width, struct vt_buf *out,
                struct vt_diag *d);

/*
 * vt_log_export(log, outdir, d): write the static C2SP tlog-tiles tree of
 * the log's current size into outdir (created if missing): every full tile
 * and entry bundle, the partial tiles and bundles of every published
 * checkpoint whose partial tiles are still on the right edge of the tree,
 * and last the file "checkpoint" (so a reader who sees a checkpoint finds
 * every file it needs). Each file is written atomically (temporary file,
 * fsync, rename); files already present with the same bytes are kept, so
 * exporting again is incremental. On success *files (may be NULL) receives
 * the number of files written or checked.
 */
int vt_log_export(struct vt_log *log, const char *outdir, uint64_t *files, struct vt_diag *d);

/* What vt_log_audit() checked. */
struct vt_log_audit_stats {
        uint64_t size;        /* entries recomputed (the latest checkpoint's size) */
        uint64_t bundles;     /* entry bundles read */
        uint64_t tiles;       /* hash tiles compared */
        uint64_t checkpoints; /* checkpoints whose root and signature were checked */
};

/*
 * vt_log_audit(log, stats, d): recompute the whole tree from the entry
 * bundles alone and compare: every entry bundle parses with the right width
 * and entry lengths, every leaf hash and every tile at every level (full
 * and partial) equals the stored tile, no tile or bundle follows the
 * tree's last one at any level, and every stored checkpoint verifies with the log's key, names the
 * log's origin and has the recomputed root of its size. VT_EAUDIT with the
 * first discrepancy in d ("tile 0/x001/002: hash 17 differs"); store errors
 * as such. stats (may be NULL) is filled on success. Streams: memory stays
 * flat apart from one 8-byte record per checkpoint.
 */
int vt_log_audit(struct vt_log *log, struct vt_log_audit_stats *stats,
                 struct vt_diag *d) VT_WARN_UNUSED;

#endif
