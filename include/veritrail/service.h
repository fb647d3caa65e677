/*
 * service.h: the transparency service's library face: the submission
 * pipeline, the read side, tokens and root administration. The HTTP server
 * (server.h) only translates requests into these calls.
 *
 * The flow of one submission (DESIGN.md §3):
 *   envelope bytes -> bounded parse (DSSE, then the in-toto Statement)
 *   -> registration check against the governance root (policy.h: signed by
 *      at least the threshold of keys of one role that may sign the
 *      statement's predicate type; each signature verified once)
 *   -> idempotency: the same envelope again returns its existing entry
 *      (an in-memory filter of the log's leaf hashes proves most envelopes
 *      new without a store read)
 *   -> group commit: the service's committer thread appends what queued
 *      meanwhile as one batch (log.h): in ONE store transaction the
 *      entries, their tiles, the signed checkpoint, the envelopes and the
 *      subject index
 *   -> the offline bundle: envelope, entry, C2SP tlog-proof@v1.
 *
 * vt_service_open() starts the service's threads: one worker per core
 * (parsing and signature checks of vt_service_submit_start()) and the
 * committer; vt_service_close() drains and stops them. A struct
 * vt_service is shared by the server's threads; every function here is
 * thread-safe.
 *
 * Prefix: vt_service_*.
 */
#ifndef VT_SERVICE_H
#define VT_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/crypto.h"
#include "veritrail/util.h"

struct vt_service;

#define VT_SERVICE_ENVELOPE_MAX (1024 * 1024) /* bytes of one submitted envelope */
#define VT_SERVICE_BATCH_MAX    1000          /* envelopes in one batch request */
#define VT_SERVICE_TOKEN_LEN    43            /* characters of a bearer token */

/*
 * vt_service_open(dir, root_path, out, d): open the log in the data
 * directory dir (made by `veritrail log init`) for appending, and load and
 * verify the governance root from root_path (or, when NULL, the root stored
 * in the data directory by an earlier open or admin replacement). The root
 * given on the command line must be the stored one or a valid successor
 * chain from it. VT_ENOENT for an uninitialised dir; policy errors for an
 * invalid root. It creates dir/tokens.seq (the token cache's change
 * counter, token.c) when missing, and starts the service's threads.
 */
int vt_service_open(const char *dir, const char *root_path, struct vt_service **out,
                    struct vt_diag *d);

/* vt_service_close(s): wait for in-flight batches to commit, then free s. NULL is a no-op. */
void vt_service_close(struct vt_service *s);

/* What happened to one submission. */
struct vt_service_result {
        int err;             /* 0, or the VT_E* code of the failure */
        uint64_t index;      /* entry index (err == 0) */
        int existed;         /* 1 when the envelope was already in the log */
        char role[65];       /* the role that authorised it */
        struct vt_diag diag; /* why it failed */
};

/*
 * vt_service_submit(s, env, n, bundle, r): the whole pipeline for one DSSE
 * envelope. On success appends the offline bundle (FORMATS.md "Bundles") to
 * bundle and fills r. Errors in r->err: VT_ETOOBIG (past
 * VT_SERVICE_ENVELOPE_MAX), VT_EMALFORMED (not a DSSE envelope around an
 * in-toto Statement v1), VT_EBADSIG (a signature by a root key does not
 * verify), VT_EDENIED (no role may sign this predicate type with these
 * keys: the sentence names the rule), store or log errors (VT_EIO,
 * VT_ESTORE, VT_EBUSY). Returns r->err.
 */
int vt_service_submit(struct vt_service *s, const uint8_t *env, size_t n, struct vt_buf *bundle,
                      struct vt_service_result *r);

/*
 * Asynchronous submissions, for a server that must not hold a thread per
 * waiting submitter. struct vt_service_op is one submission on its way;
 * vt_service_done_fn is how the service says it is over.
 */
struct vt_service_op;
typedef void (*vt_service_done_fn)(void *arg);

/*
 * vt_service_submit_start(s, env, n, fn, arg, op): start the pipeline of
 * vt_service_submit() for one envelope and return at once, with the new
 * submission in *op. The work runs on the service's threads: parsing and
 * signature checks on its workers (one per core), the group commit on its
 * committer. When the submission is over (logged, found logged before, or
 * refused), fn(arg) is called exactly once, from one of those threads; the
 * caller then calls vt_service_submit_finish(). env must stay valid and
 * unchanged until fn is called. fn must be quick and must not call into s
 * (it wakes whoever waits). 0, or VT_ENOMEM (fn is then never called and
 * *op is NULL).
 */
int vt_service_submit_start(struct vt_service *s, const uint8_t *env, size_t n,
                            vt_service_done_fn fn, void *arg, struct vt_service_op **op);

/*
 * vt_service_submit_start_many(s, envs, lens, n, fn, arg, ops): what n calls
 * of vt_service_submit_start() do, handed to the workers at once (one
 * wake-up rather than n): ops[i] is envs[i]'s submission, or NULL when there
 * was no memory for it (its fn is then never called). Returns how many
 * started.
 */
size_t vt_service_submit_start_many(struct vt_service *s, const uint8_t *const *envs,
                                    const size_t *lens, size_t n, vt_service_done_fn fn, void *arg,
                                    struct vt_service_op **ops);

/*
 * vt_service_submit_finish(s, op, bundle, r): the end of a started
 * submission, after its fn was called: fills r and appends the bundle to
 * bundle exactly as vt_service_submit() does (the bundle is built in the
 * caller's thread: one inclusion proof from cached tiles), then frees op.
 * Returns r->err.
 */
int vt_service_submit_finish(struct vt_service *s, struct vt_service_op *op, struct vt_buf *bundle,
                             struct vt_service_result *r);

/*
 * Many bundles in one reply (a batch): struct vt_service_bundler holds the
 * signed checkpoint they are proved against, read from the log and escaped
 * for JSON once, not once per bundle. vt_service_bundler_init() makes it
 * empty (it reads the latest checkpoint at first use, and again when an
 * entry is past the one it holds); vt_service_bundler_release() frees it.
 * One per reply being written: it is not shared between threads.
 */
struct vt_service_bundle_paths; /* paths proved ahead (vt_service_bundler_prepare) */
struct vt_service_bundler {
        uint64_t size;                         /* tree size of note */
        struct vt_buf note;                    /* the signed checkpoint (empty: none yet) */
        struct vt_buf note_json;               /* note escaped as the tail of a proof string */
        struct vt_service_bundle_paths *paths; /* NULL: each bundle is proved alone */
};
void vt_service_bundler_init(struct vt_service_bundler *bu);
void vt_service_bundler_release(struct vt_service_bundler *bu);

/*
 * vt_service_bundler_prepare(s, bu, indexes, n, d): the bundles about to be
 * written with bu are those of entries indexes[0..n) (any order; a group
 * commit's are consecutive): bu takes a checkpoint that holds them all and
 * proves them together (vt_log_prove_inclusion_many(): the hashes their
 * paths share are read and hashed once), and from then on encodes the text
 * a path shares with the previous bundle's once (vt_encoding_path_memo).
 * Bundles come out the same, byte for byte, prepared or not; an entry not
 * prepared is proved alone as before. 0, or the error of the checkpoint or
 * the proofs (VT_ENOMEM, VT_ELOGSTATE, store errors), bu then proving each
 * bundle alone.
 */
int vt_service_bundler_prepare(struct vt_service *s, struct vt_service_bundler *bu,
                               const uint64_t *indexes, size_t n, struct vt_diag *d);
/*
 * vt_service_bundler_prepare_ops(s, bu, ops, n): the same for the entries
 * of the finished submissions ops[0..n) that succeeded (NULL ops and
 * failures skipped), when there are two or more; best effort (on failure
 * each bundle is proved alone).
 */
void vt_service_bundler_prepare_ops(struct vt_service *s, struct vt_service_bundler *bu,
                                    struct vt_service_op *const *ops, size_t n);

/*
 * vt_service_submit_status(op, index, existed): after fn was called, what
 * vt_service_submit_finish() will report, without ending op: 0 with the
 * entry's index and whether it was logged before, or the error (index and
 * existed untouched). The bundle can still fail to be written (r->err).
 */
int vt_service_submit_status(const struct vt_service_op *op, uint64_t *index, int *existed);

/*
 * vt_service_submit_finish_with(s, op, bu, bundle, r): vt_service_submit_finish()
 * with the checkpoint of bu (NULL: a bundler of its own).
 */
int vt_service_submit_finish_with(struct vt_service *s, struct vt_service_op *op,
                                  struct vt_service_bundler *bu, struct vt_buf *bundle,
                                  struct vt_service_result *r);

/*
 * vt_service_set_batching(s, max_entries, linger_us): group commit. The
 * committer appends, as one batch, every prepared submission that queued
 * while the previous batch committed, at most max_entries of them (default
 * 4096; 16 MiB of entries at most; 0 keeps the current value). While
 * submissions it was handed are still being checked by the workers, it
 * first waits up to linger_us (default 30000) for them to join, or for
 * max_entries to gather: fewer, larger commits when busy (each commit has a
 * fixed cost in syncs and rows), none of that wait for a lone submission.
 * 0: no waiting, the batch size follows the load. Thread-safe.
 */
void vt_service_set_batching(struct vt_service *s, size_t max_entries, unsigned linger_us);

#define VT_SERVICE_INDEX_MEMTABLE_MIN 16
#define VT_SERVICE_INDEX_MEMTABLE_MAX (1u << 24)

/*
 * vt_service_set_index_memtable(s, keys): the keys (VT_SERVICE_INDEX_MEMTABLE_MIN
 * to _MAX, default 32768) the lookup index by digest keeps in memory per
 * kind (entry hash, payload digest, subject digest) before writing them to
 * a run file in the data directory (FORMATS.md "Lookup index"): about 36
 * bytes a key, twice over while one is written. Fewer keys: less memory,
 * more run files and merges. Applies from the next key added. Thread-safe.
 */
void vt_service_set_index_memtable(struct vt_service *s, size_t keys);

/*
 * vt_service_submit_batch(s, envs, lens, n, bundles, results): n envelopes
 * (at most VT_SERVICE_BATCH_MAX) through the pipeline together, so they
 * share group commits; bundles[i] and results[i] as for one.
 * Returns the number that failed.
 */
size_t vt_service_submit_batch(struct vt_service *s, const uint8_t *const *envs, const size_t *lens,
                               size_t n, struct vt_buf *bundles, struct vt_service_result *results);

/* Reads. Each appends to out; VT_ENOENT when there is nothing. */
int vt_service_entry(struct vt_service *s, uint64_t index, struct vt_buf *out, struct vt_diag *d);
int vt_service_envelope(struct vt_service *s, const struct vt_hash *payload_sha256,
                        struct vt_buf *out, struct vt_diag *d);
/* vt_service_subject(s, digest, out, d): JSON {"subject":..., "entries":[index, ...]}. */
int vt_service_subject(struct vt_service *s, const struct vt_hash *digest, struct vt_buf *out,
                       struct vt_diag *d);
/* vt_service_bundle_subject(s, digest, out, d): the offline bundle of every entry about digest. */
int vt_service_bundle_subject(struct vt_service *s, const struct vt_hash *digest,
                              struct vt_buf *out, struct vt_diag *d);
/* vt_service_checkpoint(s, out, d): the latest signed checkpoint. */
int vt_service_checkpoint(struct vt_service *s, struct vt_buf *out, struct vt_diag *d);
/*
 * vt_service_tile(s, level, n, width, out, d): C2SP tile bytes; level -1 is
 * the entry bundle. width 256 for a full tile.
 */
int vt_service_tile(struct vt_service *s, int level, uint64_t n, unsigned width, struct vt_buf *out,
                    struct vt_diag *d);
/* vt_service_size(s): the tree size of the latest checkpoint. */
uint64_t vt_service_size(struct vt_service *s);

/*
 * vt_service_root_replace(s, root, n, bundle, r): admin: replace the
 * governance root by a valid successor (policy.h) and record the new root's
 * envelope in the log; bundle as for a submission.
 */
int vt_service_root_replace(struct vt_service *s, const uint8_t *root, size_t n,
                            struct vt_buf *bundle, struct vt_service_result *r);

/*
 * Tokens: bearer tokens for writers, stored hashed (SHA-256) in the data
 * directory's store. create prints nothing: it writes the new token (NUL
 * terminated, VT_SERVICE_TOKEN_LEN characters of base64url of 32 random
 * bytes) into token; it is never stored in clear. VT_EEXIST for a name in use.
 * Both take the lock of dir/tokens.seq and advance its counter around
 * their store transaction, which is how a running service learns of them.
 */
int vt_service_token_create(const char *dir, const char *name, int admin,
                            char token[VT_SERVICE_TOKEN_LEN + 1], struct vt_diag *d);
int vt_service_token_revoke(const char *dir, const char *name, struct vt_diag *d);

/*
 * vt_service_token_check(s, token, name, admin, d): 0 when token is a live
 * token (sets its name, NUL-terminated in 65 bytes, and *admin); VT_EDENIED
 * for an unknown or revoked token. Constant time in the token's bytes.
 * The tokens are cached in memory; a token created or revoked by
 * vt_service_token_create() / vt_service_token_revoke() in any process
 * counts from the moment that call returns (token.c says how), and the
 * check then costs no store read.
 */
int vt_service_token_check(struct vt_service *s, const char *token, char name[65], int *admin,
                           struct vt_diag *d);

/*
 * Token names are 1..64 characters of [A-Za-z0-9._@-]. What
 * vt_service_token_list() reports of a token (never its secret).
 */
struct vt_service_token {
        char name[65];
        int admin, revoked;
        int64_t created; /* POSIX seconds */
};

/*
 * vt_service_token_list(dir, out, n, d): every token of the data directory
 * dir, by name: *out is a new array of *n (NULL when none) that the caller
 * free()s. VT_ENOENT for an uninitialised dir.
 */
int vt_service_token_list(const char *dir, struct vt_service_token **out, size_t *n,
                          struct vt_diag *d);

/* vt_service_vkey(s): the log's C2SP verifier key (for `proof verify --log-key`), owned by s. */
const char *vt_service_vkey(struct vt_service *s);

/*
 * vt_service_root(s, out, d): append the governance root envelope now in
 * force (as given at open or by the last replacement) to out.
 */
int vt_service_root(struct vt_service *s, struct vt_buf *out, struct vt_diag *d);

/* Counters for /metrics. */
struct vt_service_stats {
        uint64_t submitted, accepted, existed;
        uint64_t rejected_malformed, rejected_signature, rejected_denied, rejected_store;
        uint64_t batches, batch_entries; /* group commits and the entries they held */
        /* (batches counts the group commits that reached the store's transaction) */
        uint64_t lookups; /* idempotency lookups that had to ask the store */
        /* The lookup index by digest (all kinds): */
        uint64_t index_runs;  /* its run files on disk */
        uint64_t index_bytes; /* the memory it holds */
        int index_failing;    /* 1 while a part of it cannot be written or merged */
};
void vt_service_stats(struct vt_service *s, struct vt_service_stats *out);

#endif
