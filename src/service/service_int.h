/*
 * service_int.h: what the service module's files share (service.c owns the
 * struct and the pipeline; token.c the token cache; filter.c the
 * idempotency filter).
 *
 * Threads of a struct vt_service (started by vt_service_open):
 *   workers    VT_SERVICE_WORKERS at most (one per core): take submissions
 *              started with vt_service_submit_start() from the intake queue
 *              and prepare them (parse, registration check with its
 *              signature verifications, entry, idempotency)
 *   committer  one: takes every prepared submission queued while the last
 *              batch committed (at most max_entries) and appends them as
 *              ONE batch (vt_log_append_ex), then completes each
 * vt_service_submit() prepares in its caller's thread and only queues for
 * the committer; the bundle is built by whoever finishes the submission
 * (vt_service_submit_finish), in its own thread.
 *
 * Locks (never more than one held at a time, except a reader slot inside
 * none of the others, and tmu around a store read):
 *   rootlock  rwlock: the root in force (read by every submission)
 *   rootmu    serialises root replacements
 *   hmu       the table of submissions in flight (coalescing)
 *   imu       the intake queue (wcv: workers wait on it)
 *   cmu       the commit queue (ccv: the committer waits on it)
 *   tmu       the token cache (token.c)
 *   rd[i].mu  one read-only store connection each
 */
#ifndef VT_SERVICE_INT_H
#define VT_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "veritrail/log.h"
#include "veritrail/policy.h"
#include "veritrail/service.h"
#include "veritrail/store.h"

#define VT_SERVICE_READERS     4 /* read-only store connections for reads and vt_service_submit */
#define VT_SERVICE_WORKERS     8 /* at most this many prepare threads (one per core) */
#define VT_SERVICE_BUCKETS     4096 /* in-flight table buckets (12 bits of the entry hash) */
#define VT_SERVICE_META_ROOT   "service.root"
#define VT_SERVICE_SUBJ_INLINE 4 /* subject digests kept inside an op; more are allocated */

/* Group commit defaults (vt_service_set_batching). */
#define VT_SERVICE_BATCH_ENTRIES 4096
/* Default linger of a group commit (vt_service_set_batching()): see svc_gather. */
#ifndef VT_SERVICE_LINGER_US
#define VT_SERVICE_LINGER_US 30000
#endif
#define VT_SERVICE_BATCH_BYTES (16u << 20)

struct vt_service_reader {
        pthread_mutex_t mu;
        struct vt_store *s; /* opened at first use */
};

/*
 * One submission on its way through the pipeline (service.h calls it an
 * op). Owned by whoever started it until vt_service_submit_finish().
 */
struct vt_service_op {
        /* The request. */
        const uint8_t *env; /* the caller's bytes, valid until fn is called */
        size_t n;
        vt_service_done_fn fn;
        void *arg;

        /* What preparing it made. */
        struct vt_buf canon; /* the canonical envelope JSON (stored) */
        struct vt_buf entry; /* the log entry */
        struct vt_hash payload_sha256, entry_hash, leaf;
        struct vt_hash *subj; /* sha256 subject digests (the subject index) */
        size_t nsubj;
        struct vt_hash subj_inline[VT_SERVICE_SUBJ_INLINE];
        const uint8_t *root; /* a new root to store as the one in force, or NULL */
        size_t root_len;

        /* The result. */
        int err;
        uint64_t index;
        int existed;
        char role[65];
        struct vt_diag diag;

        /* Coalescing (hmu): identical submissions wait for the first one. */
        int registered;                  /* in the in-flight table */
        struct vt_service_op *hnext;     /* its bucket's chain */
        struct vt_service_op *followers; /* identical submissions waiting for this one */

        struct vt_service_op *next; /* queue, or follower, link */
};

/* A prepare thread and its own read-only store connection. */
struct vt_service_worker {
        struct vt_service *s;
        pthread_t th;
        struct vt_store *rs; /* opened at first use, by the worker itself */
};

/*
 * The idempotency filter (filter.c): a Bloom filter over the leaf hashes of
 * every entry of the log, so that a new envelope, whose entry is in no
 * filter, needs no store lookup to prove it was not logged before.
 */
struct vt_service_filter;

/* The token cache (token.c). */
struct vt_service_tokens;

/* The lookup index by digest (index.c). */
struct vt_service_index;

#define VT_SERVICE_INDEX_MEM_KEYS (1u << 15) /* keys a memtable holds (~36 bytes each) */
#define VT_SERVICE_INDEX_FANIN    4          /* runs of one level merged into one */

/* The lookup index's tunables (tests make them small); 0 means the default above. */
struct vt_service_index_opts {
        size_t mem_keys;
        unsigned fanin;
};

struct vt_service {
        char *dir;
        struct vt_log *log;

        pthread_rwlock_t rootlock;
        pthread_mutex_t rootmu;
        struct vt_policy_root *root;
        struct vt_buf root_bytes; /* the root envelope as given (rootlock) */

        pthread_mutex_t hmu;
        struct vt_service_op *inflight[VT_SERVICE_BUCKETS];

        /* The intake queue and its workers. */
        pthread_mutex_t imu;
        pthread_cond_t wcv;
        struct vt_service_op *ihead, *itail;
        int istop;
        struct vt_service_worker workers[VT_SERVICE_WORKERS];
        unsigned nworkers;

        /* The commit queue and its committer. */
        pthread_mutex_t cmu;
        pthread_cond_t ccv;
        struct vt_service_op *chead, *ctail;
        size_t ccount;
        int cstop;
        int committer_started;
        pthread_t committer;
        size_t max_entries, max_bytes;
        unsigned linger_us;
        /*
         * How the committer waits (cmu): 0 not waiting, 1 for a first op,
         * 2 lingering for more (see svc_gather): a push wakes it only when
         * that is what it waits for, not once per op.
         */
        int cwait;
        /* Ops handed to the workers and not yet out of their hands (S3). */
        atomic_size_t preparing;
        /* The committer's gathered batch (the committer's own). */
        const uint8_t **gp;
        size_t *gl;
        void **gu;
        struct vt_service_op **gop;
        size_t gcap;

        struct vt_service_filter *filter;
        struct vt_service_tokens *tokens;
        /* Digest -> entry indexes: entry hash, payload SHA-256, subject digest (index.c). */
        struct vt_service_index *ix_entry, *ix_payload, *ix_subject;
        uint64_t ix_from[3]; /* at open: the entries their runs covered */
        struct vt_service_index_opts ix_opts;

        struct vt_service_reader rd[VT_SERVICE_READERS];
        atomic_uint rnext;

        atomic_uint_fast64_t submitted, accepted, existed;
        atomic_uint_fast64_t rejected_malformed, rejected_signature, rejected_denied,
            rejected_store;
        atomic_uint_fast64_t batches, batch_entries;
        atomic_uint_fast64_t lookups; /* idempotency lookups that reached the store */
};

/*
 * vt_service_open_opts(dir, root_path, ix, out, d): vt_service_open() with
 * the lookup index's tunables ix (NULL: the defaults). For tests.
 */
int vt_service_open_opts(const char *dir, const char *root_path,
                         const struct vt_service_index_opts *ix, struct vt_service **out,
                         struct vt_diag *d);

/*
 * vt_service_reader_get(s, out, d): a read-only store connection of s,
 * held until vt_service_reader_put(s, slot). Returns the slot, or -1 with
 * *err set (the store could not be opened).
 */
int vt_service_reader_get(struct vt_service *s, struct vt_store **out, int *err, struct vt_diag *d);
void vt_service_reader_put(struct vt_service *s, int slot);

/* ---- the lookup index (index.c) ------------------------------------------ */

/*
 * vt_service_index_open(dir, kind, tag, size, o, covered, out, d): the
 * lookup index named kind ([a-z]+) of data directory dir, kept in
 * dir/index (index.c). tag (32 bytes) names the log the index belongs to;
 * size is the log's size. On success *covered is X: the index holds the
 * keys of every entry below X (X <= size, from its runs on disk), and the
 * caller adds those of the entries from X on (in ascending order, before
 * any other add). 0, or VT_EIO (the directory cannot be made or read),
 * VT_ENOMEM, VT_EINVAL, with d saying which.
 */
int vt_service_index_open(const char *dir, const char *kind, const uint8_t tag[32], uint64_t size,
                          const struct vt_service_index_opts *o, uint64_t *covered,
                          struct vt_service_index **out, struct vt_diag *d);

/*
 * vt_service_index_free(ix): stop its threads and free it (the keys not
 * yet in a run are added again after the next open). NULL is a no-op.
 */
void vt_service_index_free(struct vt_service_index *ix);

/*
 * vt_service_index_reserve(ix, keys, d): room for keys more
 * vt_service_index_add() calls that cannot fail. Only the thread that adds
 * may call it (lookups may run meanwhile). When the memory part is full it
 * is handed to the index's flusher thread, waiting for it only when the
 * previous one is not on disk yet. 0, or VT_ENOMEM, VT_ETOOBIG, or the
 * error of a failed write of the previous part (VT_EIO: the disk; it is
 * tried again meanwhile), with d saying which.
 */
int vt_service_index_reserve(struct vt_service_index *ix, size_t keys, struct vt_diag *d);

/*
 * vt_service_index_add(ix, digest, idx): entry idx is under digest. Calls
 * must come in ascending idx order (the committer's, and the scans at
 * open), and all the keys of one entry between two reserves. Without room
 * reserved the key is dropped.
 */
void vt_service_index_add(struct vt_service_index *ix, const uint8_t digest[32], uint64_t idx);

/*
 * vt_service_index_add_many(ix, digests, idx, n): vt_service_index_add()
 * for each of the n keys, in order, under one lock and with the memory
 * each key goes to fetched ahead (a committed batch's keys).
 */
void vt_service_index_add_many(struct vt_service_index *ix, const uint8_t *const *digests,
                               const uint64_t *idx, size_t n);

/*
 * vt_service_index_get(ix, digest, out, n): the candidate entries under
 * digest (an 8-byte prefix matched: check each against the store), as a
 * new ascending array *out (NULL when *n is 0; the caller frees it).
 * 0, VT_ENOMEM, or VT_EIO (a run could not be read).
 */
int vt_service_index_get(struct vt_service_index *ix, const uint8_t digest[32], uint64_t **out,
                         size_t *n);

/*
 * vt_service_index_set_mem(ix, keys): keys (> 0) a memtable holds from now
 * on: a fuller one is frozen at the next reserve. Thread-safe.
 */
void vt_service_index_set_mem(struct vt_service_index *ix, size_t keys);

/* What an index holds (for tests and metrics). */
struct vt_service_index_stats {
        size_t runs;      /* run files */
        uint64_t on_disk; /* the runs hold every entry below this */
        uint64_t run_keys, mem_keys;
        size_t bytes;     /* memory: memtables and fences */
        int flush_failed; /* error of the last failed write of a memtable, or 0 */
        int merge_failed; /* error of the last failed merge, or 0 */
};

/* vt_service_index_stats(ix, st): a consistent snapshot. */
void vt_service_index_stats(struct vt_service_index *ix, struct vt_service_index_stats *st);

/*
 * vt_service_index_settle(ix): wait until the frozen memory part is on disk
 * (or its write failed) and no merge is due (for tests).
 */
void vt_service_index_settle(struct vt_service_index *ix);

/* ---- the idempotency filter (filter.c) ------------------------------------ */

#define VT_SERVICE_FILTER_SYNC    (1u << 16) /* logs up to this size: filled at open */
#define VT_SERVICE_FILTER_MIN_CAP (1u << 20) /* entries a filter is sized for at least */

/*
 * vt_service_filter_new(log, sync_max, min_cap, hold, out, d): a filter for the
 * entries of log, sized for twice its current size (at least min_cap
 * entries; 0: VT_SERVICE_FILTER_MIN_CAP), filled from the log's level-0
 * tiles (the leaf hashes): at once when the log holds at most sync_max
 * entries, else by the filter's thread, and until that is done the filter
 * answers "maybe" to everything. Entries logged later are added by
 * vt_service_filter_add(); when they outgrow the table the thread builds
 * one twice as large the same way. hold: see vt_service_filter_hold() (0
 * outside tests). 0 or VT_ENOMEM.
 */
int vt_service_filter_new(struct vt_log *log, uint64_t sync_max, uint64_t min_cap, int hold,
                          struct vt_service_filter **out, struct vt_diag *d);

/*
 * vt_service_filter_new_max(log, sync_max, min_cap, max_bytes, hold, out, d):
 * vt_service_filter_new() with tables of at most max_bytes (rounded down to
 * whole 8-byte words; 0 or more than the default: the default cap, 12 MiB, see
 * filter.c), for tests.
 */
int vt_service_filter_new_max(struct vt_log *log, uint64_t sync_max, uint64_t min_cap,
                              size_t max_bytes, int hold, struct vt_service_filter **out,
                              struct vt_diag *d);

/*
 * vt_service_filter_hold(f, hold): for tests: with hold set (also by
 * vt_service_filter_new), a build stops right after it has read the log's
 * size, until hold is cleared, so a test can commit entries past that size
 * during the build. Returns 1 when a build is stopped there now.
 */
int vt_service_filter_hold(struct vt_service_filter *f, int hold);

/*
 * vt_service_filter_ready(f, cap): 1 when f is complete and no larger table
 * is being built; *cap (may be NULL) receives the entries its table is
 * sized for. For tests.
 */
int vt_service_filter_ready(struct vt_service_filter *f, uint64_t *cap);

/* vt_service_filter_free(f): stop its thread and free it. NULL is a no-op. */
void vt_service_filter_free(struct vt_service_filter *f);

/*
 * vt_service_filter_add(f, leaves, n): the leaf hashes of entries just
 * committed. Call it before the submitters of those entries are answered
 * (and before they leave the in-flight table), so that any later identical
 * submission finds them. Thread-safe.
 */
void vt_service_filter_add(struct vt_service_filter *f, const struct vt_hash *leaves, size_t n);

/*
 * vt_service_filter_maybe(f, leaf): 0 when no entry with this leaf hash was
 * ever logged (proved: the filter is complete and the hash is not in it),
 * 1 when it may have been (the store must be asked). Lock-free.
 */
int vt_service_filter_maybe(struct vt_service_filter *f, const struct vt_hash *leaf);

/* ---- the token cache (token.c) ----------------------------------------------- */

/* vt_service_tokens_new(dir, out, d): the token cache of data directory dir. */
int vt_service_tokens_new(const char *dir, struct vt_service_tokens **out, struct vt_diag *d);

/* vt_service_tokens_free(t): NULL is a no-op. */
void vt_service_tokens_free(struct vt_service_tokens *t);

#endif
