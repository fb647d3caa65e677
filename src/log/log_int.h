/*
 * log_int.h: what the log module's files share and nobody else sees: the
 * struct vt_log itself and a few helpers (log.c owns the struct; log_read.c,
 * log_audit.c and log_export.c read through it; log_stream.c appends
 * through vt_log_append_turn()).
 *
 * Locks, always taken in this order when more than one is held:
 *   qmu  the group-commit queue (log.c)
 *   amu  preparing a batch: the right edge and the frontier in memory (log.c)
 *   wmu  storing a batch: the writer connection ws (and the batch hook)
 *   rmu  reads: the reader connection rs, the tile reader and its buffers
 *   smu  the published snapshot (size, root, latest checkpoint note)
 *   tmu  a stream's turn (struct vt_log_turn's mu): taken under amu or
 *        wmu, or alone; no other lock is taken while it is held
 */
#ifndef VT_LOG_INT_H
#define VT_LOG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/merkle.h"
#include "veritrail/store.h"

/* Tile levels a tree of at most VT_MERKLE_MAX_SIZE (2^62) leaves can have. */
#define VT_LOG_LEVELS 8

/* x >> s for any s: the tile index at the top level (8 * 8 = 64) would be undefined. */
static inline uint64_t vt_log_shr(uint64_t x, unsigned s)
{
        return s >= 64 ? 0 : x >> s;
}

/* Metadata keys in the store. */
#define VT_LOG_META_ORIGIN "log.origin"
#define VT_LOG_META_VKEY   "log.vkey"
#define VT_LOG_META_FORMAT "log.format"
#define VT_LOG_FORMAT      "veritrail-log/1"

/*
 * One level of the right edge: buf holds the partial tile of the tree at
 * wsize (its width follows from the size), VT_MERKLE_TILE_BYTES.
 */
struct vt_log_level {
        uint8_t *buf;
};

struct vt_log_req; /* a waiting submission (log.c) */

/* One store write of a prepared batch: a bundle or a tile, its bytes at off in the batch. */
struct vt_log_put {
        int level; /* VT_MERKLE_TILE_ENTRIES (-1) for an entry bundle */
        unsigned width;
        int cache; /* a tile to hand to the proof cache once committed */
        uint64_t n;
        size_t off, len;
};

/*
 * A prepared batch (log.c): everything its store transaction writes,
 * computed in memory before the transaction starts. bytes holds the
 * bundles' and tiles' bytes back to back; puts says what goes where, in
 * the order the store needs (bundles first, each level's tiles in order).
 */
struct vt_log_batch {
        uint64_t size0, size; /* the tree before and after */
        uint64_t gen;         /* log->gen when prepared */
        struct vt_hash root;
        struct vt_buf bytes;
        struct vt_log_put *puts;
        size_t nputs, cap;
        struct vt_buf note; /* its signed checkpoint */
};

/*
 * The order of a stream's batches (log_stream.c): each batch holds a
 * ticket (0, 1, 2, ...). vt_log_append_turn() waits until it is the
 * ticket's turn to be prepared and hands the turn on once it is prepared,
 * so batches of two threads are prepared, hence stored, in ticket order.
 * After a batch of the stream fails (failed set, under the lock that
 * batch held when it failed: amu or wmu), no later batch is appended: a
 * later batch is either prepared after the failure (it sees failed) or
 * was prepared on top of the failed one (its store finds the generation
 * moved). A batch whose ground moved is not prepared again, it fails: a
 * retry could put it after the next ticket.
 */
struct vt_log_turn {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        uint64_t next;      /* the ticket whose turn it is to be prepared */
        atomic_int failed;  /* a batch failed: later ones are not appended */
        uint64_t failed_at; /* the first ticket that failed */
};

/*
 * vt_log_append_turn(log, entries, lens, n, turn, ticket, first, d):
 * vt_log_append() as batch `ticket` of the stream turn. A batch after a
 * failed one fails with the code VT_ELOGSTATE, naming the ticket that
 * failed first.
 */
int vt_log_append_turn(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                       size_t n, struct vt_log_turn *turn, uint64_t ticket, uint64_t *first,
                       struct vt_diag *d);

/*
 * An expanded tile (log_read.c): the width hashes of tile (level, n) and
 * every complete subtree hash above them inside the tile; sub-level j (0..8)
 * starts at h[512 - (512 >> j)]. width 0: the slot is empty.
 */
struct vt_log_xtile {
        unsigned level;
        unsigned width;
        uint64_t n;
        struct vt_hash h[511];
};
#define VT_LOG_XSLOTS 128 /* expanded tiles cached per log: 2 MiB */

struct vt_log {
        char *dir;
        char *origin;
        char *vkey;
        int flags;
        struct vt_crypto_key *key; /* signing key; NULL when read-only */
        struct vt_encoding_note_verifier *verifier;

        /* Preparing batches (amu): the tree as the batches prepared so far leave it. */
        pthread_mutex_t amu;
        int loaded;     /* the edge below is the store's at some size, plus prepared batches */
        uint64_t wsize; /* the tree size after the last prepared batch */
        uint64_t agen;  /* gen when the edge was loaded */
        struct vt_merkle_frontier front;
        struct vt_log_level lv[VT_LOG_LEVELS];
        struct vt_buf bundle;         /* the partial entry bundle at wsize */
        struct vt_log_batch batch[2]; /* one being prepared, one being stored */
        unsigned bnext;

        /* Storing batches (wmu). */
        pthread_mutex_t wmu;
        struct vt_store *ws;  /* writer connection; NULL when read-only */
        _Atomic uint64_t gen; /* bumped when a stored batch fails: later ones are re-prepared */
        struct vt_buf wtmp;   /* scratch */

        /* Reads (rmu). */
        pthread_mutex_t rmu;
        struct vt_store *rs;         /* reader connection, opened at the first read */
        struct vt_log_xtile *xcache; /* VT_LOG_XSLOTS, allocated at the first proof */
        struct vt_buf rtmp;

        /* The published state (smu). */
        pthread_mutex_t smu;
        uint64_t size;
        struct vt_hash root;
        struct vt_buf ckpt;

        /* Group commit (qmu). */
        pthread_mutex_t qmu;
        pthread_cond_t qcv; /* a lingering leader waits here for more */
        struct vt_log_req *qhead, *qtail;
        size_t qcount;
        size_t max_entries, max_bytes;
        unsigned linger_us;
        const uint8_t **gp; /* the leader's gathered batch */
        size_t *gl;
        size_t gcap;

        /* The batch hook (vt_log_set_batch_hook) and its users (service module). */
        vt_log_batch_fn hook;
        void *hook_ctx;
        void **gu;          /* the gathered batch's user pointers, gcap of them */
        struct vt_hash *gh; /* the gathered batch's leaf hashes, gcap of them */
};

/*
 * vt_log_read_lock(log, s, d): take rmu and set *s to the reader connection
 * (opened on first use). On failure rmu is not held.
 * vt_log_read_unlock(log): release it.
 */
int vt_log_read_lock(struct vt_log *log, struct vt_store **s, struct vt_diag *d);
void vt_log_read_unlock(struct vt_log *log);

/*
 * vt_log_xcache_put(log, level, n, w, hashes): the writer hands the proof
 * cache (log_read.c) the first w hashes of tile (level, n), just committed,
 * so proofs about recent entries read no tile from the store. Takes rmu;
 * call it after the commit and before the new size is published. Only
 * what the cache lacks is expanded (at most 255 node hashes per tile).
 */
void vt_log_xcache_put(struct vt_log *log, unsigned level, uint64_t n, unsigned w,
                       const uint8_t *hashes);

/*
 * vt_log_tile_name(level, n, w, buf, cap): "0/x001/002", "0/x001/002.p/17"
 * or "entries/x001/002" (level -1): the tile's path without "tile/", for
 * diagnostics.
 */
const char *vt_log_tile_name(int level, uint64_t n, unsigned w, char *buf, size_t cap);

#endif
