/*
 * service.c: the transparency service's library face (service.h): the
 * submission pipeline, reads, offline bundles and root administration.
 *
 * One submission (DESIGN.md §3):
 *   1. bounded parse: DSSE envelope (encoding.h), then its in-toto
 *      Statement v1 (payloadType application/vnd.in-toto+json);
 *   2. registration: vt_policy_root_authorize() under the root in force
 *      (each signature verified once; the role that allows it is kept);
 *   3. the entry (encoding.h "Entries"): canonical, < 64 KiB; its SHA-256 is
 *      the envelope's identity;
 *   4. idempotency: an identical submission already in flight is waited
 *      for (coalesced), one already logged is found in the store; either
 *      way the answer is its index and a fresh bundle, existed = 1. The
 *      store is asked only when the idempotency filter (filter.c) cannot
 *      prove that the entry was never logged, which for a new envelope is
 *      about one time in a hundred;
 *   5. the group commit: the committer thread appends every submission that
 *      queued while the previous batch committed as ONE batch
 *      (vt_log_append_ex); the batch hook writes the envelope and the
 *      subject index rows in the SAME store transaction as the entries,
 *      their tiles and the checkpoint, so what is acknowledged is complete
 *      after any crash;
 *   6. the bundle: envelope, entry and a C2SP tlog-proof@v1 against the
 *      latest checkpoint (whose size includes the entry: a batch publishes
 *      its checkpoint before its submitters are told). The log hands the
 *      committed right edge of the tree to its proof cache, so the proof of
 *      a new entry reads no tile from the store.
 *
 * Threads (service_int.h): steps 1-4 run on the caller's thread for
 * vt_service_submit(), on a worker (one per core) for
 * vt_service_submit_start(); step 5 on the committer; step 6 on the thread
 * that finishes the submission. Nothing waits in a thread per submission:
 * a started submission is a struct vt_service_op that moves from queue to
 * queue and calls its done function at the end.
 *
 * Invariants:
 *   S1  an entry index has an envelope row iff it was logged through the
 *       service (the hook runs inside the batch's transaction);
 *   S2  one envelope (one entry hash) is logged at most once by one
 *       process: submissions of the same entry hash are serialised through
 *       the in-flight table, and the filter and the store are consulted
 *       only after the submission is registered there (so a concurrent
 *       identical one either waits for it or sees its committed row); the
 *       committer adds a batch's leaf hashes to the filter before its
 *       submissions leave the table;
 *   S3  the root in force is the stored one (meta VT_SERVICE_META_ROOT); a
 *       replacement is stored in the batch that logs the new root's
 *       envelope, and swapped in memory only after that batch commits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/service_int.h"
#include "veritrail/encoding.h"
#include "veritrail/merkle.h"

static char *svc_strdup(const char *s)
{
        size_t n = strlen(s) + 1;
        char *p = malloc(n);

        if (p != NULL)
                memcpy(p, s, n);
        return p;
}

/* ---- reader connections ------------------------------------------------------- */

/* see service_int.h */
int vt_service_reader_get(struct vt_service *s, struct vt_store **out, int *err, struct vt_diag *d)
{
        unsigned start = atomic_fetch_add(&s->rnext, 1), i;
        int slot = -1;

        for (i = 0; i < VT_SERVICE_READERS; i++) {
                int k = (int)((start + i) % VT_SERVICE_READERS);

                if (pthread_mutex_trylock(&s->rd[k].mu) == 0) {
                        slot = k;
                        break;
                }
        }
        if (slot < 0) {
                slot = (int)(start % VT_SERVICE_READERS);
                pthread_mutex_lock(&s->rd[slot].mu);
        }
        if (s->rd[slot].s == NULL &&
            (*err = vt_store_open(s->dir, VT_STORE_READONLY, &s->rd[slot].s, d)) != 0) {
                pthread_mutex_unlock(&s->rd[slot].mu);
                return -1;
        }
        *out = s->rd[slot].s;
        return slot;
}

/* see service_int.h */
void vt_service_reader_put(struct vt_service *s, int slot)
{
        pthread_mutex_unlock(&s->rd[slot].mu);
}

/* ---- ops ------------------------------------------------------------------------ */

static struct vt_service_op *svc_op_new(const uint8_t *env, size_t n, vt_service_done_fn fn,
                                        void *arg)
{
        struct vt_service_op *op = calloc(1, sizeof(*op));

        if (op == NULL)
                return NULL;
        op->env = env;
        op->n = n;
        op->fn = fn;
        op->arg = arg;
        vt_buf_init(&op->canon);
        vt_buf_init(&op->entry);
        op->subj = op->subj_inline;
        return op;
}

static void svc_op_free(struct vt_service_op *op)
{
        if (op == NULL)
                return;
        vt_buf_release(&op->canon);
        vt_buf_release(&op->entry);
        if (op->subj != op->subj_inline)
                free(op->subj);
        free(op);
}

/* ---- the batch hook --------------------------------------------------------------- */

/*
 * svc_hook: the log's batch hook (log.h vt_log_batch_fn). Inside the
 * batch's transaction: each op's envelope with its subjects (one row each,
 * the body appended to the store's envelope segment), and a new root.
 * The store keeps its prepared statements, so a row costs one step.
 */
static int svc_hook(void *ctx, struct vt_store *ws, uint64_t first, void *const *users, size_t n,
                    struct vt_diag *d)
{
        struct vt_service *s = ctx;
        const struct vt_service_op *op;
        size_t i;
        int err;

        /* The digests are passed as they lie in the op: 32 bytes each, no padding. */
        _Static_assert(sizeof(struct vt_hash) == 32, "struct vt_hash is 32 bytes");
        atomic_fetch_add(&s->batches, 1);
        atomic_fetch_add(&s->batch_entries, n);
        if (users == NULL)
                return 0;
        for (i = 0; i < n; i++) {
                if ((op = users[i]) == NULL)
                        continue;
                if ((err = vt_store_envelope_put(ws, first + i, op->payload_sha256.b,
                                                 op->entry_hash.b, (const uint8_t(*)[32])op->subj,
                                                 op->nsubj, op->canon.p, op->canon.len, d)) != 0)
                        return err;
                if (op->root != NULL && (err = vt_store_meta_put(ws, VT_SERVICE_META_ROOT, op->root,
                                                                 op->root_len, d)) != 0)
                        return err;
        }
        return 0;
}

/* ---- bundles ---------------------------------------------------------------------- */

/*
 * The paths of vt_service_bundler_prepare(): proof i (of entry idx[i]) is
 * len[i] hashes from hash off[i] of hashes, in a tree of size. memo is the
 * text of the last path written with them.
 */
struct vt_service_bundle_paths {
        uint64_t size;
        size_t n, next; /* next: where the next look-up starts (bundles come in order) */
        uint64_t *idx;
        size_t *off, *len;
        struct vt_buf hashes;
        struct vt_encoding_path_memo memo;
};

static void svc_paths_free(struct vt_service_bundle_paths *bp)
{
        if (bp == NULL)
                return;
        free(bp->idx);
        free(bp->off);
        free(bp->len);
        vt_buf_release(&bp->hashes);
        free(bp);
}

/* see service.h */
void vt_service_bundler_init(struct vt_service_bundler *bu)
{
        bu->size = 0;
        vt_buf_init(&bu->note);
        vt_buf_init(&bu->note_json);
        bu->paths = NULL;
}

/* see service.h */
void vt_service_bundler_release(struct vt_service_bundler *bu)
{
        vt_buf_release(&bu->note);
        vt_buf_release(&bu->note_json);
        svc_paths_free(bu->paths);
        vt_service_bundler_init(bu);
}

/*
 * svc_bundler_latest(s, bu, d): bu holds the latest signed checkpoint, read
 * once and escaped once for every bundle written with it.
 */
static int svc_bundler_latest(struct vt_service *s, struct vt_service_bundler *bu,
                              struct vt_diag *d)
{
        uint64_t size = 0;
        int err;

        bu->note.len = bu->note_json.len = 0;
        bu->size = 0;
        if ((err = vt_log_checkpoint(s->log, &size, &bu->note, d)) != 0)
                return err;
        if ((err = vt_encoding_bundle_proof_note(bu->note.p, bu->note.len, &bu->note_json)) != 0) {
                vt_diag_set(d, "cannot write the latest checkpoint into a bundle: %s",
                            vt_strerror(err));
                bu->note.len = 0;
                return err;
        }
        bu->size = size;
        return 0;
}

/* svc_bundler_at(s, bu, index, d): bu holds a signed checkpoint that contains index. */
static int svc_bundler_at(struct vt_service *s, struct vt_service_bundler *bu, uint64_t index,
                          struct vt_diag *d)
{
        int err;

        if (bu->note.len > 0 && index < bu->size)
                return 0;
        if ((err = svc_bundler_latest(s, bu, d)) != 0)
                return err;
        if (index >= bu->size) {
                vt_diag_set(d, "entry %llu is not yet in the latest checkpoint (size %llu)",
                            (unsigned long long)index, (unsigned long long)bu->size);
                return VT_ELOGSTATE;
        }
        return 0;
}

/* see service.h */
int vt_service_bundler_prepare(struct vt_service *s, struct vt_service_bundler *bu,
                               const uint64_t *indexes, size_t n, struct vt_diag *d)
{
        struct vt_service_bundle_paths *bp;
        uint64_t max = 0;
        size_t i;
        int err;

        svc_paths_free(bu->paths);
        bu->paths = NULL;
        if (n == 0)
                return 0;
        for (i = 0; i < n; i++)
                if (indexes[i] > max)
                        max = indexes[i];
        if ((err = svc_bundler_at(s, bu, max, d)) != 0)
                return err;
        if ((bp = calloc(1, sizeof(*bp))) == NULL)
                goto nomem;
        vt_buf_init(&bp->hashes);
        vt_encoding_path_memo_init(&bp->memo);
        bp->size = bu->size;
        bp->n = n;
        if ((bp->idx = vt_util_reallocarray(NULL, n, sizeof(*bp->idx))) == NULL ||
            (bp->off = vt_util_reallocarray(NULL, n, sizeof(*bp->off))) == NULL ||
            (bp->len = vt_util_reallocarray(NULL, n, sizeof(*bp->len))) == NULL) {
                svc_paths_free(bp);
                goto nomem;
        }
        memcpy(bp->idx, indexes, n * sizeof(*indexes));
        if ((err = vt_log_prove_inclusion_many(s->log, bu->size, indexes, n, &bp->hashes, bp->len,
                                               d)) != 0) {
                svc_paths_free(bp);
                return err;
        }
        for (i = 0; i < n; i++)
                bp->off[i] = i == 0 ? 0 : bp->off[i - 1] + bp->len[i - 1];
        bu->paths = bp;
        return 0;
nomem:
        vt_diag_set(d, "out of memory for the inclusion proofs of %zu bundles", n);
        return VT_ENOMEM;
}

/* see service.h */
void vt_service_bundler_prepare_ops(struct vt_service *s, struct vt_service_bundler *bu,
                                    struct vt_service_op *const *ops, size_t n)
{
        uint64_t *idx;
        size_t i, k = 0;

        if (n < 2 || (idx = vt_util_reallocarray(NULL, n, sizeof(*idx))) == NULL)
                return;
        for (i = 0; i < n; i++)
                if (ops[i] != NULL && ops[i]->err == 0)
                        idx[k++] = ops[i]->index;
        if (k > 1)
                (void)vt_service_bundler_prepare(s, bu, idx, k, NULL);
        free(idx);
}

/*
 * svc_paths_find(bp, index, path, npath): the prepared path of entry index,
 * if bp holds it (1) or not (0).
 */
static int svc_paths_find(struct vt_service_bundle_paths *bp, uint64_t index,
                          const struct vt_hash **path, size_t *npath)
{
        size_t i, k;

        for (i = 0; i < bp->n; i++) {
                k = (bp->next + i) % bp->n;
                if (bp->idx[k] == index) {
                        *path = (const struct vt_hash *)(bp->hashes.p +
                                                         bp->off[k] * VT_MERKLE_HASH_LEN);
                        *npath = bp->len[k];
                        bp->next = k + 1;
                        return 1;
                }
        }
        return 0;
}

/*
 * svc_bundle_add(s, bu, out, first, index, env, entry, d): one attestation
 * of a bundle: entry index proved in the tree of bu's checkpoint (which
 * must contain it), with the path bu prepared if it did.
 */
static int svc_bundle_add(struct vt_service *s, struct vt_service_bundler *bu, struct vt_buf *out,
                          int first, uint64_t index, const uint8_t *env, size_t env_len,
                          const uint8_t *entry, size_t entry_len, struct vt_diag *d)
{
        struct vt_service_bundle_paths *bp = bu->paths;
        struct vt_hash own[VT_LOG_PROOF_MAX];
        const struct vt_hash *path = own;
        size_t np = 0;
        int err;

        /* Prepared paths are of the tree bu held then; bu may have moved on since. */
        if (bp != NULL && bp->size != bu->size)
                bp = NULL;
        if ((bp == NULL || !svc_paths_find(bp, index, &path, &np)) &&
            (err = vt_log_prove_inclusion(s->log, index, bu->size, own, &np, d)) != 0)
                return err;
        if ((err = vt_encoding_bundle_add_proved_memo(
                 out, first, env, env_len, entry, entry_len, index, path, np,
                 (const char *)bu->note_json.p, bu->note_json.len,
                 bp != NULL ? &bp->memo : NULL)) != 0)
                vt_diag_set(d, "cannot write the bundle of entry %llu: %s",
                            (unsigned long long)index, vt_strerror(err));
        return err;
}

/* svc_bundle_one(s, bu, index, env, entry, out, d): the bundle of one entry, appended to out. */
static int svc_bundle_one(struct vt_service *s, struct vt_service_bundler *bu, uint64_t index,
                          const uint8_t *env, size_t env_len, const uint8_t *entry,
                          size_t entry_len, struct vt_buf *out, struct vt_diag *d)
{
        size_t len0 = out->len;
        int err;

        if ((err = svc_bundler_at(s, bu, index, d)) != 0 ||
            (err = vt_encoding_bundle_begin(out)) != 0 ||
            (err = svc_bundle_add(s, bu, out, 1, index, env, env_len, entry, entry_len, d)) != 0 ||
            (err = vt_encoding_bundle_end(out)) != 0) {
                out->len = len0;
                if (out->p != NULL)
                        out->p[len0] = '\0';
        }
        return err;
}

/* ---- completion and coalescing ----------------------------------------------------- */

/*
 * svc_bucket(h): the in-flight table's bucket of an entry hash. A group
 * commit keeps a thousand or more submissions in flight (the linger): with
 * 256 buckets their chains were a few ops long, each a cache miss under the
 * table's lock.
 */
static unsigned svc_bucket(const struct vt_hash *h)
{
        return ((unsigned)h->b[0] | (unsigned)h->b[1] << 8) % VT_SERVICE_BUCKETS;
}

/*
 * svc_unlink(s, op): take a registered op out of the in-flight table (hmu
 * held). Its followers stay on op->followers: none can join it any more.
 */
static void svc_unlink(struct vt_service *s, struct vt_service_op *op)
{
        struct vt_service_op **pp;

        for (pp = &s->inflight[svc_bucket(&op->entry_hash)]; *pp != NULL; pp = &(*pp)->hnext)
                if (*pp == op) {
                        *pp = op->hnext;
                        break;
                }
        op->registered = 0;
}

/*
 * svc_deliver(op, err, index, existed, d): give an op out of the
 * in-flight table its result, and to every identical submission that
 * waited for it, and call their done functions. op (and each follower) may
 * be freed by its owner as soon as its function runs.
 */
static void svc_deliver(struct vt_service_op *op, int err, uint64_t index, int existed,
                        const struct vt_diag *d)
{
        struct vt_service_op *f = op->followers, *next;

        op->followers = NULL;
        op->err = err;
        op->index = index;
        op->existed = existed;
        if (err != 0 && d != NULL && d != &op->diag)
                op->diag = *d;
        for (next = f; next != NULL; next = next->next) {
                next->err = err;
                next->index = index;
                next->existed = 1;
                if (err != 0)
                        vt_diag_set(&next->diag,
                                    "an identical envelope submitted at the same time failed: %s",
                                    vt_strerror(err));
        }
        op->fn(op->arg);
        while (f != NULL) {
                next = f->next;
                f->fn(f->arg);
                f = next;
        }
}

/*
 * svc_complete(s, op, err, index, existed, d): op is over: out of the
 * in-flight table, then its result delivered (svc_deliver).
 */
static void svc_complete(struct vt_service *s, struct vt_service_op *op, int err, uint64_t index,
                         int existed, const struct vt_diag *d)
{
        if (op->registered) {
                pthread_mutex_lock(&s->hmu);
                svc_unlink(s, op);
                pthread_mutex_unlock(&s->hmu);
        }
        svc_deliver(op, err, index, existed, d);
}

/*
 * svc_complete_batch(s, ops, m, err, first, d): a committed (or failed)
 * batch over: its ops out of the in-flight table under one lock (not one
 * per op: the workers register under it meanwhile), then each delivered,
 * op i as entry first + i.
 */
static void svc_complete_batch(struct vt_service *s, struct vt_service_op *const *ops, size_t m,
                               int err, uint64_t first, const struct vt_diag *d)
{
        size_t i;

        pthread_mutex_lock(&s->hmu);
        for (i = 0; i < m; i++)
                if (ops[i]->registered)
                        svc_unlink(s, ops[i]);
        pthread_mutex_unlock(&s->hmu);
        for (i = 0; i < m; i++)
                svc_deliver(ops[i], err, first + i, 0, d);
}

/*
 * svc_register(s, op): join the in-flight submission of op's entry hash
 * (returns 0: op completes with it) or become it (returns 1).
 */
static int svc_register(struct vt_service *s, struct vt_service_op *op)
{
        struct vt_service_op *o;
        unsigned b = svc_bucket(&op->entry_hash);

        pthread_mutex_lock(&s->hmu);
        for (o = s->inflight[b]; o != NULL; o = o->hnext)
                if (memcmp(o->entry_hash.b, op->entry_hash.b, sizeof(op->entry_hash.b)) == 0)
                        break;
        if (o != NULL) {
                op->next = o->followers;
                o->followers = op;
        } else {
                op->hnext = s->inflight[b];
                s->inflight[b] = op;
                op->registered = 1;
        }
        pthread_mutex_unlock(&s->hmu);
        return o == NULL;
}

/* ---- the queues ---------------------------------------------------------------------- */

/* Queue the ops first..last (linked by next) for the committer. */
static void svc_commit_push(struct vt_service *s, struct vt_service_op *first,
                            struct vt_service_op *last, size_t n)
{
        last->next = NULL;
        pthread_mutex_lock(&s->cmu);
        if (s->ctail != NULL)
                s->ctail->next = first;
        else
                s->chead = first;
        s->ctail = last;
        s->ccount += n;
        if (s->cwait == 1 || (s->cwait == 2 && s->ccount >= s->max_entries))
                pthread_cond_signal(&s->ccv);
        pthread_mutex_unlock(&s->cmu);
}

/* Queue the ops first..last for the workers. */
static void svc_intake_push(struct vt_service *s, struct vt_service_op *first,
                            struct vt_service_op *last, size_t n)
{
        last->next = NULL;
        atomic_fetch_add(&s->preparing, n);
        pthread_mutex_lock(&s->imu);
        if (s->itail != NULL)
                s->itail->next = first;
        else
                s->ihead = first;
        s->itail = last;
        if (n > 1)
                pthread_cond_broadcast(&s->wcv);
        else
                pthread_cond_signal(&s->wcv);
        pthread_mutex_unlock(&s->imu);
}

/* ---- steps 1 to 4 ----------------------------------------------------------------- */

/* Count a failure in the stats by its kind. */
static void svc_count_failure(struct vt_service *s, int err)
{
        switch (err) {
        case VT_EMALFORMED:
        case VT_ENONCANON:
        case VT_ETOOBIG:
                atomic_fetch_add(&s->rejected_malformed, 1);
                break;
        case VT_EBADSIG:
                atomic_fetch_add(&s->rejected_signature, 1);
                break;
        case VT_EDENIED:
        case VT_EPOLICY:
        case VT_ETHRESHOLD:
        case VT_EEXPIRED:
                atomic_fetch_add(&s->rejected_denied, 1);
                break;
        default:
                atomic_fetch_add(&s->rejected_store, 1);
        }
}

static int svc_hash_cmp(const void *a, const void *b)
{
        return memcmp(a, b, sizeof(struct vt_hash));
}

/*
 * svc_subjects_unique(h, n): sort the n digests and drop repeats (a
 * statement may name one artifact twice; the entry is listed once under
 * it). Returns how many are left.
 */
static size_t svc_subjects_unique(struct vt_hash *h, size_t n)
{
        size_t i, k;

        if (n < 2)
                return n;
        qsort(h, n, sizeof(*h), svc_hash_cmp);
        for (i = 1, k = 1; i < n; i++)
                if (memcmp(&h[i], &h[k - 1], sizeof(*h)) != 0)
                        h[k++] = h[i];
        return k;
}

/*
 * svc_parse(s, op): steps 1 to 3 for op->env: parse, authorize, and make
 * the entry, the canonical envelope, their hashes and the subject digests.
 * Sets op->role. 0 or the error (with op->diag).
 */
static int svc_parse(struct vt_service *s, struct vt_service_op *op)
{
        struct vt_encoding_dsse e;
        struct vt_encoding_statement_digests st; /* what the service needs of the statement */
        struct vt_diag *d = &op->diag;
        const char *role = NULL;
        size_t i;
        int err;

        vt_encoding_dsse_init(&e);
        vt_encoding_statement_digests_init(&st);
        /* 1. Bounded parse. */
        if (op->n > VT_SERVICE_ENVELOPE_MAX) {
                vt_diag_set(d, "envelope: %zu bytes, more than the service's limit of %d", op->n,
                            VT_SERVICE_ENVELOPE_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        if ((err = vt_encoding_dsse_parse(op->env, op->n, &e, d)) != 0 ||
            (err = vt_encoding_statement_scan_envelope(&e, &st, d)) != 0) {
                if (err == VT_ENONCANON)
                        err = VT_EMALFORMED;
                goto out;
        }
        /* 2. Registration. */
        pthread_rwlock_rdlock(&s->rootlock);
        err = vt_policy_root_authorize(s->root, &e, st.predicate_type, &role, d);
        if (err == 0) {
                size_t rl = strlen(role); /* as snprintf "%s" would, without its cost */

                rl = rl < sizeof(op->role) ? rl : sizeof(op->role) - 1;
                memcpy(op->role, role, rl);
                op->role[rl] = '\0';
        }
        pthread_rwlock_unlock(&s->rootlock);
        if (err != 0)
                goto out;
        /* 3. The entry, and what is stored with it (room for both at once: fewer reallocs). */
        if (vt_buf_reserve(&op->canon, op->n + 64) != 0 ||
            vt_buf_reserve(&op->entry, 512 + 128 * e.nsigs) != 0) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = vt_encoding_entry_encode_digest(&e, &op->entry, &op->payload_sha256)) != 0) {
                vt_diag_set(d,
                            "envelope: its entry would be larger than %d bytes (too many or too "
                            "large signatures)",
                            VT_ENCODING_ENTRY_MAX);
                goto out;
        }
        if ((err = vt_encoding_dsse_serialize(&e, &op->canon)) != 0)
                goto out;
        vt_crypto_sha256(op->entry.p, op->entry.len, &op->entry_hash);
        vt_merkle_leaf_hash(op->entry.p, op->entry.len, &op->leaf);
        /* The subject digests, so the statement can go now. */
        if (st.nsha256 > VT_SERVICE_SUBJ_INLINE &&
            (op->subj = vt_util_reallocarray(NULL, st.nsha256, sizeof(*op->subj))) == NULL) {
                op->subj = op->subj_inline;
                err = VT_ENOMEM;
                goto out;
        }
        for (i = 0; i < st.nsha256; i++)
                op->subj[i] = st.sha256[i];
        op->nsubj = svc_subjects_unique(op->subj, st.nsha256);
out:
        vt_encoding_statement_digests_release(&st);
        vt_encoding_dsse_release(&e);
        return err;
}

/*
 * svc_find_entry(s, rs, entry_hash, idx, d): the index of the logged entry
 * with this hash: the lookup index's candidates, each checked in the store
 * through rs (or a reader slot when rs is NULL). VT_ENOENT when there is
 * none.
 */
static int svc_find_entry(struct vt_service *s, struct vt_store *rs, const struct vt_hash *h,
                          uint64_t *idx, struct vt_diag *d)
{
        uint8_t eh[32];
        uint64_t *v = NULL;
        size_t n = 0, i;
        int slot = -1, err;

        if ((err = vt_service_index_get(s->ix_entry, h->b, &v, &n)) != 0)
                return err;
        if (n == 0)
                return VT_ENOENT;
        atomic_fetch_add_explicit(&s->lookups, 1, memory_order_relaxed);
        if (rs == NULL && (slot = vt_service_reader_get(s, &rs, &err, d)) < 0) {
                free(v);
                return err;
        }
        for (i = 0, err = VT_ENOENT; i < n && err == VT_ENOENT; i++) {
                if ((err = vt_store_envelope_keys(rs, v[i], NULL, eh, d)) == 0 &&
                    memcmp(eh, h->b, sizeof(eh)) != 0)
                        err = VT_ENOENT;
                if (err == 0)
                        *idx = v[i];
        }
        if (slot >= 0)
                vt_service_reader_put(s, slot);
        free(v);
        return err;
}

/*
 * svc_route(s, op, rs): step 4 for a parsed op, then on to the committer:
 * coalesce with an identical submission in flight, or find it logged
 * before (asking the store through rs, or a reader slot when rs is NULL,
 * only when the filter cannot rule it out), or queue it. Either op is
 * queued or it is completed here.
 */
static void svc_route(struct vt_service *s, struct vt_service_op *op, struct vt_store *rs)
{
        struct vt_diag *d = &op->diag;
        uint64_t idx = 0;
        int err = 0;

        /* What the log would refuse must not reach a batch: it would fail the whole batch. */
        if (op->entry.len == 0 || op->entry.len > VT_LOG_ENTRY_MAX) {
                vt_diag_set(d, "envelope: its entry has %zu bytes, the log takes 1 to %d",
                            op->entry.len, VT_LOG_ENTRY_MAX);
                svc_complete(s, op, VT_ETOOBIG, 0, 0, NULL);
                return;
        }
        if (!svc_register(s, op))
                return; /* an identical one is in flight: op completes with it */
        /* Registered: now a committed copy would be visible (S2). */
        if (s->filter == NULL || vt_service_filter_maybe(s->filter, &op->leaf)) {
                err = svc_find_entry(s, rs, &op->entry_hash, &idx, d);
                if (err == 0 || err != VT_ENOENT) {
                        svc_complete(s, op, err, idx, err == 0, NULL);
                        return;
                }
                d->msg[0] = '\0';
        }
        svc_commit_push(s, op, op, 1);
}

/* svc_prepare(s, op, rs): steps 1 to 4 (see svc_parse and svc_route). */
static void svc_prepare(struct vt_service *s, struct vt_service_op *op, struct vt_store *rs)
{
        int err;

        if ((err = svc_parse(s, op)) != 0)
                svc_complete(s, op, err, 0, 0, NULL);
        else
                svc_route(s, op, rs);
}

/* ---- the threads ------------------------------------------------------------------- */

/* A worker: prepare started submissions until the service closes and the queue is empty. */
static void *svc_worker(void *arg)
{
        struct vt_service_worker *w = arg;
        struct vt_service *s = w->s;
        struct vt_service_op *op;
        struct vt_diag d = {""};
        int err;

        vt_util_thread_name("vt-worker");

        for (;;) {
                pthread_mutex_lock(&s->imu);
                while (s->ihead == NULL && !s->istop)
                        pthread_cond_wait(&s->wcv, &s->imu);
                if ((op = s->ihead) == NULL) {
                        pthread_mutex_unlock(&s->imu);
                        break;
                }
                if ((s->ihead = op->next) == NULL)
                        s->itail = NULL;
                pthread_mutex_unlock(&s->imu);
                /* Its own reader connection: no other thread waits for it. */
                if (w->rs == NULL &&
                    (err = vt_store_open(s->dir, VT_STORE_READONLY, &w->rs, &d)) != 0)
                        w->rs = NULL; /* the shared readers then, which say why */
                svc_prepare(s, op, w->rs);
                if (atomic_fetch_sub(&s->preparing, 1) == 1) {
                        /* The last one on its way: a lingering committer need wait no more. */
                        pthread_mutex_lock(&s->cmu);
                        if (s->cwait == 2)
                                pthread_cond_signal(&s->ccv);
                        pthread_mutex_unlock(&s->cmu);
                }
        }
        vt_store_close(w->rs);
        w->rs = NULL;
        return NULL;
}

/*
 * svc_gather(s): the next batch, from the commit queue (cmu held): every op
 * queued, up to max_entries and max_bytes, into s->gop. Returns how many
 * (0 only when the service closes and nothing is left: the arrays always
 * have room for one).
 */
static size_t svc_gather(struct vt_service *s)
{
        struct vt_service_op *op;
        struct timespec ts;
        size_t m = 0, bytes = 0, cap;

        s->cwait = 1;
        while (s->chead == NULL && !s->cstop)
                pthread_cond_wait(&s->ccv, &s->cmu);
        s->cwait = 0;
        if (s->chead == NULL)
                return 0;
        /*
         * Linger while more are on their way: ops the workers still hold
         * (preparing) join this batch if they come within linger_us. A lone
         * submitter (nothing else in the workers' hands) is committed at once.
         */
        if (s->linger_us > 0 && s->ccount < s->max_entries && !s->cstop &&
            atomic_load(&s->preparing) > 0) {
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += (long)(s->linger_us % 1000000) * 1000;
                ts.tv_sec += s->linger_us / 1000000 + ts.tv_nsec / 1000000000;
                ts.tv_nsec %= 1000000000;
                s->cwait = 2;
                while (s->ccount < s->max_entries && !s->cstop && atomic_load(&s->preparing) > 0 &&
                       pthread_cond_timedwait(&s->ccv, &s->cmu, &ts) == 0)
                        ;
                s->cwait = 0;
        }
        while ((op = s->chead) != NULL && m < s->max_entries) {
                if (m > 0 && bytes + op->entry.len > s->max_bytes)
                        break;
                if (m == s->gcap) {
                        cap = s->gcap ? 2 * s->gcap : 256;
                        const uint8_t **gp = vt_util_reallocarray(s->gp, cap, sizeof(*gp));
                        if (gp != NULL)
                                s->gp = gp;
                        size_t *gl = vt_util_reallocarray(s->gl, cap, sizeof(*gl));
                        if (gl != NULL)
                                s->gl = gl;
                        void **gu = vt_util_reallocarray(s->gu, cap, sizeof(*gu));
                        if (gu != NULL)
                                s->gu = gu;
                        struct vt_service_op **go = vt_util_reallocarray(s->gop, cap, sizeof(*go));
                        if (go != NULL)
                                s->gop = go;
                        if (gp == NULL || gl == NULL || gu == NULL || go == NULL)
                                break; /* a smaller batch, then */
                        s->gcap = cap;
                }
                s->gop[m++] = op;
                bytes += op->entry.len;
                if ((s->chead = op->next) == NULL)
                        s->ctail = NULL;
        }
        s->ccount -= m;
        return m;
}

/* Keys per vt_service_index_add_many() call of svc_index_add (on the stack). */
#define SVC_KEYS_CHUNK 256

/*
 * svc_index_add(s, ops, m, first): the digests of a committed batch into the
 * lookup index, each kind's keys SVC_KEYS_CHUNK at a time (see
 * vt_service_index_add_many: one lock, the memory of the next keys fetched
 * ahead).
 */
static void svc_index_add(struct vt_service *s, struct vt_service_op *const *ops, size_t m,
                          uint64_t first)
{
        const uint8_t *d[SVC_KEYS_CHUNK];
        uint64_t idx[SVC_KEYS_CHUNK];
        size_t i, j, n, kind;

        for (kind = 0; kind < 2; kind++)
                for (i = 0; i < m; i += n) {
                        n = m - i < SVC_KEYS_CHUNK ? m - i : SVC_KEYS_CHUNK;
                        for (j = 0; j < n; j++) {
                                d[j] = kind == 0 ? ops[i + j]->entry_hash.b
                                                 : ops[i + j]->payload_sha256.b;
                                idx[j] = first + i + j;
                        }
                        vt_service_index_add_many(kind == 0 ? s->ix_entry : s->ix_payload, d, idx,
                                                  n);
                }
        for (i = 0, n = 0; i < m; i++)
                for (j = 0; j < ops[i]->nsubj; j++) {
                        if (n == SVC_KEYS_CHUNK) {
                                vt_service_index_add_many(s->ix_subject, d, idx, n);
                                n = 0;
                        }
                        d[n] = ops[i]->subj[j].b;
                        idx[n++] = first + i;
                }
        vt_service_index_add_many(s->ix_subject, d, idx, n);
}

/* The committer: one batch after the other (step 5). */
static void *svc_committer(void *arg)
{
        struct vt_service *s = arg;
        struct vt_diag d;
        struct vt_hash *leaves = NULL, *t;
        size_t m, i, lcap = 0, nsubj;
        uint64_t first = 0;
        int err;

        vt_util_thread_name("vt-commit");

        pthread_mutex_lock(&s->cmu);
        while ((m = svc_gather(s)) > 0) {
                pthread_mutex_unlock(&s->cmu);
                d.msg[0] = '\0';
                err = 0;
                if (lcap < m) {
                        if ((t = vt_util_reallocarray(leaves, m, sizeof(*t))) == NULL) {
                                vt_diag_set(&d, "out of memory for a batch of %zu entries", m);
                                err = VT_ENOMEM;
                        } else {
                                leaves = t;
                                lcap = m;
                        }
                }
                for (i = 0, nsubj = 0; i < m && err == 0; i++) {
                        s->gp[i] = s->gop[i]->entry.p;
                        s->gl[i] = s->gop[i]->entry.len;
                        s->gu[i] = s->gop[i];
                        leaves[i] = s->gop[i]->leaf;
                        nsubj += s->gop[i]->nsubj;
                }
                /* Room in the lookup index first: once committed, adding cannot fail. */
                if (err == 0 && (err = vt_service_index_reserve(s->ix_entry, m, &d)) == 0 &&
                    (err = vt_service_index_reserve(s->ix_payload, m, &d)) == 0)
                        err = vt_service_index_reserve(s->ix_subject, nsubj, &d);
                if (err == 0)
                        err = vt_log_append_ex(s->log, s->gp, s->gl, leaves, (void *const *)s->gu,
                                               m, &first, &d);
                /* Into the filter and the index before anyone leaves the in-flight table (S2). */
                if (err == 0 && s->filter != NULL)
                        vt_service_filter_add(s->filter, leaves, m);
                if (err == 0)
                        svc_index_add(s, s->gop, m, first);
                svc_complete_batch(s, s->gop, m, err, first, &d);
                pthread_mutex_lock(&s->cmu);
        }
        pthread_mutex_unlock(&s->cmu);
        free(leaves);
        return NULL;
}

/*
 * Start a service thread with every signal blocked: signals belong to the
 * program (the command waits for SIGTERM in its own thread).
 */
static int svc_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
        sigset_t all, old;
        int rc;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(th, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
}

/* Start the committer and one worker per core. */
static int svc_threads_start(struct vt_service *s, struct vt_diag *d)
{
        const size_t cap = 256;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned want = cores < 1                    ? 1
                        : cores > VT_SERVICE_WORKERS ? VT_SERVICE_WORKERS
                                                     : (unsigned)cores;

        /* The batch arrays: room for a first op always (svc_gather grows them). */
        s->gp = vt_util_reallocarray(NULL, cap, sizeof(*s->gp));
        s->gl = vt_util_reallocarray(NULL, cap, sizeof(*s->gl));
        s->gu = vt_util_reallocarray(NULL, cap, sizeof(*s->gu));
        s->gop = vt_util_reallocarray(NULL, cap, sizeof(*s->gop));
        if (s->gp == NULL || s->gl == NULL || s->gu == NULL || s->gop == NULL) {
                vt_diag_set(d, "out of memory for the service's batches");
                return VT_ENOMEM;
        }
        s->gcap = cap;
        if (svc_thread(&s->committer, svc_committer, s) != 0) {
                vt_diag_set(d, "cannot start the service's commit thread");
                return VT_EINTERNAL;
        }
        s->committer_started = 1;
        for (s->nworkers = 0; s->nworkers < want; s->nworkers++) {
                struct vt_service_worker *w = &s->workers[s->nworkers];

                w->s = s;
                if (svc_thread(&w->th, svc_worker, w) != 0)
                        break;
        }
        if (s->nworkers == 0) {
                vt_diag_set(d, "cannot start the service's worker threads");
                return VT_EINTERNAL;
        }
        return 0;
}

/* Drain and stop: the workers first (they feed the committer), then the committer. */
static void svc_threads_stop(struct vt_service *s)
{
        unsigned i;

        pthread_mutex_lock(&s->imu);
        s->istop = 1;
        pthread_cond_broadcast(&s->wcv);
        pthread_mutex_unlock(&s->imu);
        for (i = 0; i < s->nworkers; i++)
                pthread_join(s->workers[i].th, NULL);
        s->nworkers = 0;
        if (s->committer_started) {
                pthread_mutex_lock(&s->cmu);
                s->cstop = 1;
                pthread_cond_signal(&s->ccv);
                pthread_mutex_unlock(&s->cmu);
                pthread_join(s->committer, NULL);
                s->committer_started = 0;
        }
}

/* ---- submissions --------------------------------------------------------------------- */

/* A thread waiting for one or more ops (vt_service_submit, vt_service_submit_batch). */
struct svc_wait {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        size_t left;
};

static void svc_wait_init(struct svc_wait *w, size_t n)
{
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->left = n;
}

/* The done function of a waited-for op. */
static void svc_wait_done(void *arg)
{
        struct svc_wait *w = arg;

        pthread_mutex_lock(&w->mu);
        if (--w->left == 0)
                pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
}

static void svc_wait_end(struct svc_wait *w)
{
        pthread_mutex_lock(&w->mu);
        while (w->left > 0)
                pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
}

/* see service.h */
int vt_service_submit_start(struct vt_service *s, const uint8_t *env, size_t n,
                            vt_service_done_fn fn, void *arg, struct vt_service_op **op)
{
        return vt_service_submit_start_many(s, &env, &n, 1, fn, arg, op) == 1 ? 0 : VT_ENOMEM;
}

/* see service.h */
size_t vt_service_submit_start_many(struct vt_service *s, const uint8_t *const *envs,
                                    const size_t *lens, size_t n, vt_service_done_fn fn, void *arg,
                                    struct vt_service_op **ops)
{
        struct vt_service_op *first = NULL, *last = NULL;
        size_t i, queued = 0;

        for (i = 0; i < n; i++) {
                if ((ops[i] = svc_op_new(envs[i], lens[i], fn, arg)) == NULL)
                        continue;
                if (last != NULL)
                        last->next = ops[i];
                else
                        first = ops[i];
                last = ops[i];
                queued++;
        }
        atomic_fetch_add(&s->submitted, queued);
        /* After this the ops are the workers'; some may be finished before we return. */
        if (queued > 0)
                svc_intake_push(s, first, last, queued);
        return queued;
}

/* see service.h */
int vt_service_submit_status(const struct vt_service_op *op, uint64_t *index, int *existed)
{
        if (op->err == 0) {
                *index = op->index;
                *existed = op->existed;
        }
        return op->err;
}

/* see service.h */
int vt_service_submit_finish_with(struct vt_service *s, struct vt_service_op *op,
                                  struct vt_service_bundler *bu, struct vt_buf *bundle,
                                  struct vt_service_result *r)
{
        struct vt_service_bundler own;
        int err;

        memset(r, 0, sizeof(*r));
        err = op->err;
        r->diag = op->diag;
        if (err == 0) {
                r->index = op->index;
                r->existed = op->existed;
                _Static_assert(sizeof(r->role) == sizeof(op->role), "role buffers differ");
                memcpy(r->role, op->role, sizeof(r->role)); /* NUL-terminated by svc_parse */
                /* 6. The bundle: base64 of the entry, the envelope, the proof and note. */
                r->diag.msg[0] = '\0';
                if (bu == NULL)
                        vt_service_bundler_init(bu = &own);
                err = svc_bundle_one(s, bu, op->index, op->canon.p, op->canon.len, op->entry.p,
                                     op->entry.len, bundle, &r->diag);
                if (bu == &own)
                        vt_service_bundler_release(&own);
        }
        r->err = err;
        if (err == 0) {
                r->diag.msg[0] = '\0';
                atomic_fetch_add(r->existed ? &s->existed : &s->accepted, 1);
        } else {
                if (r->diag.msg[0] == '\0')
                        vt_diag_set(&r->diag, "%s", vt_strerror(err));
                svc_count_failure(s, err);
        }
        svc_op_free(op);
        return err;
}

/* see service.h */
int vt_service_submit_finish(struct vt_service *s, struct vt_service_op *op, struct vt_buf *bundle,
                             struct vt_service_result *r)
{
        return vt_service_submit_finish_with(s, op, NULL, bundle, r);
}

/* see service.h */
int vt_service_submit(struct vt_service *s, const uint8_t *env, size_t n, struct vt_buf *bundle,
                      struct vt_service_result *r)
{
        struct vt_service_op *op;
        struct svc_wait w;

        if ((op = svc_op_new(env, n, svc_wait_done, &w)) == NULL) {
                memset(r, 0, sizeof(*r));
                r->err = VT_ENOMEM;
                vt_diag_set(&r->diag, "out of memory for a submission");
                svc_count_failure(s, VT_ENOMEM);
                return VT_ENOMEM;
        }
        atomic_fetch_add(&s->submitted, 1);
        svc_wait_init(&w, 1);
        /* Steps 1-4 here, in the caller's thread; the commit on the committer. */
        svc_prepare(s, op, NULL);
        svc_wait_end(&w);
        return vt_service_submit_finish(s, op, bundle, r);
}

/* see service.h */
size_t vt_service_submit_batch(struct vt_service *s, const uint8_t *const *envs, const size_t *lens,
                               size_t n, struct vt_buf *bundles, struct vt_service_result *results)
{
        struct vt_service_op **ops = NULL;
        struct vt_service_bundler bu;
        struct svc_wait w;
        size_t i, failed = 0, queued = 0;

        if (n > VT_SERVICE_BATCH_MAX || (n > 0 && (ops = calloc(n, sizeof(*ops))) == NULL)) {
                for (i = 0; i < n; i++) {
                        memset(&results[i], 0, sizeof(results[i]));
                        results[i].err = n > VT_SERVICE_BATCH_MAX ? VT_ETOOBIG : VT_ENOMEM;
                        if (n > VT_SERVICE_BATCH_MAX)
                                vt_diag_set(&results[i].diag, "batch: %zu envelopes, more than %d",
                                            n, VT_SERVICE_BATCH_MAX);
                        else
                                vt_diag_set(&results[i].diag, "out of memory for a batch");
                }
                return n;
        }
        /*
         * All at once to the workers, who check the signatures on every core;
         * the committer gathers them into as few batches as it can. Every op
         * is counted before any can finish; those never made are taken back.
         */
        svc_wait_init(&w, n);
        queued = vt_service_submit_start_many(s, envs, lens, n, svc_wait_done, &w, ops);
        pthread_mutex_lock(&w.mu);
        w.left -= n - queued;
        pthread_mutex_unlock(&w.mu);
        svc_wait_end(&w);
        /* One checkpoint for every bundle, their paths proved together. */
        vt_service_bundler_init(&bu);
        vt_service_bundler_prepare_ops(s, &bu, ops, n);
        for (i = 0; i < n; i++) {
                if (ops[i] == NULL) {
                        memset(&results[i], 0, sizeof(results[i]));
                        results[i].err = VT_ENOMEM;
                        vt_diag_set(&results[i].diag, "out of memory for a submission");
                        failed++;
                        continue;
                }
                if (vt_service_submit_finish_with(s, ops[i], &bu, &bundles[i], &results[i]) != 0)
                        failed++;
        }
        vt_service_bundler_release(&bu);
        free(ops);
        return failed;
}

/* see service.h */
void vt_service_set_batching(struct vt_service *s, size_t max_entries, unsigned linger_us)
{
        pthread_mutex_lock(&s->cmu);
        if (max_entries > 0)
                s->max_entries = max_entries;
        s->linger_us = linger_us;
        pthread_cond_signal(&s->ccv); /* a lingering committer takes the new values */
        pthread_mutex_unlock(&s->cmu);
}

/* see service.h */
void vt_service_set_index_memtable(struct vt_service *s, size_t keys)
{
        if (keys < VT_SERVICE_INDEX_MEMTABLE_MIN)
                keys = VT_SERVICE_INDEX_MEMTABLE_MIN;
        if (keys > VT_SERVICE_INDEX_MEMTABLE_MAX)
                keys = VT_SERVICE_INDEX_MEMTABLE_MAX;
        vt_service_index_set_mem(s->ix_entry, keys);
        vt_service_index_set_mem(s->ix_payload, keys);
        vt_service_index_set_mem(s->ix_subject, keys);
}

/* ---- opening ----------------------------------------------------------------------- */

/* Read and verify a root envelope (valid: threshold and expiry at now). */
static int svc_root_load(const uint8_t *p, size_t n, const char *what, struct vt_policy_root **out,
                         struct vt_diag *d)
{
        struct vt_policy_root *r = NULL;
        int err;

        if ((err = vt_policy_root_parse(p, n, &r, d)) != 0 ||
            (err = vt_policy_root_verify(r, vt_util_unix_time(), NULL, d)) != 0) {
                vt_diag_prefix(d, "%s", what);
                vt_policy_root_free(r);
                return err;
        }
        *out = r;
        return 0;
}

/* Two roots are the same document with the same signatures (as serialized). */
static int svc_root_same(const struct vt_policy_root *a, const struct vt_policy_root *b)
{
        struct vt_buf x, y;
        int same;

        vt_buf_init(&x);
        vt_buf_init(&y);
        same = vt_policy_root_serialize(a, &x) == 0 && vt_policy_root_serialize(b, &y) == 0 &&
               x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
        vt_buf_release(&x);
        vt_buf_release(&y);
        return same;
}

/*
 * svc_root_open(s, root_path, d): the open rule: the given root must be
 * valid and equal to the stored one or its successor; it is then stored.
 * Without root_path, the stored root must be there and valid.
 */
static int svc_root_open(struct vt_service *s, const char *root_path, struct vt_diag *d)
{
        struct vt_policy_root *given = NULL, *stored = NULL;
        struct vt_buf gb, sb;
        struct vt_store *ws = NULL;
        int err, have_stored;

        vt_buf_init(&gb);
        vt_buf_init(&sb);
        if ((err = vt_store_open(s->dir, 0, &ws, d)) != 0)
                goto out;
        err = vt_store_meta_get(ws, VT_SERVICE_META_ROOT, &sb, d);
        if (err != 0 && err != VT_ENOENT)
                goto out;
        have_stored = err == 0;
        if (root_path == NULL) {
                if (!have_stored) {
                        vt_diag_set(d,
                                    "'%s' holds no governance root yet: give one at the first "
                                    "start",
                                    s->dir);
                        err = VT_ENOENT;
                        goto out;
                }
                if ((err = svc_root_load(sb.p, sb.len, "stored root", &s->root, d)) != 0)
                        goto out;
                err = vt_buf_append(&s->root_bytes, sb.p, sb.len);
                goto out;
        }
        if ((err = vt_util_read_file(root_path, VT_POLICY_ROOT_MAX, &gb, d)) != 0)
                goto out;
        if ((err = svc_root_load(gb.p, gb.len, root_path, &given, d)) != 0)
                goto out;
        if (have_stored) {
                /* The stored root is trusted as it is (it may have expired since). */
                if ((err = vt_policy_root_parse(sb.p, sb.len, &stored, d)) != 0) {
                        vt_diag_prefix(d, "'%s': stored root", s->dir);
                        err = VT_ECORRUPT;
                        goto out;
                }
                if (!svc_root_same(stored, given) &&
                    (err = vt_policy_root_verify_successor(stored, given, vt_util_unix_time(),
                                                           d)) != 0) {
                        vt_diag_prefix(d,
                                       "'%s' is not the root stored in '%s' (version %lld) nor its "
                                       "successor",
                                       root_path, s->dir,
                                       (long long)vt_policy_root_version(stored));
                        goto out;
                }
        }
        if ((err = vt_store_meta_put(ws, VT_SERVICE_META_ROOT, gb.p, gb.len, d)) != 0 ||
            (err = vt_buf_append(&s->root_bytes, gb.p, gb.len)) != 0)
                goto out;
        s->root = given;
        given = NULL;
out:
        vt_policy_root_free(given);
        vt_policy_root_free(stored);
        vt_store_close(ws);
        vt_buf_release(&gb);
        vt_buf_release(&sb);
        return err;
}

static void svc_free(struct vt_service *s)
{
        int i;

        if (s == NULL)
                return;
        svc_threads_stop(s);
        vt_service_filter_free(s->filter);
        vt_service_tokens_free(s->tokens);
        vt_service_index_free(s->ix_entry);
        vt_service_index_free(s->ix_payload);
        vt_service_index_free(s->ix_subject);
        vt_log_close(s->log);
        for (i = 0; i < VT_SERVICE_READERS; i++) {
                vt_store_close(s->rd[i].s);
                pthread_mutex_destroy(&s->rd[i].mu);
        }
        vt_policy_root_free(s->root);
        vt_buf_release(&s->root_bytes);
        free(s->gp);
        free(s->gl);
        free(s->gu);
        free(s->gop);
        pthread_rwlock_destroy(&s->rootlock);
        pthread_mutex_destroy(&s->rootmu);
        pthread_mutex_destroy(&s->hmu);
        pthread_mutex_destroy(&s->imu);
        pthread_mutex_destroy(&s->cmu);
        pthread_cond_destroy(&s->wcv);
        pthread_cond_destroy(&s->ccv);
        free(s->dir);
        free(s);
}

/*
 * The scans that fill the lookup index at open (vt_store_envelope_fn,
 * vt_store_subject_fn): the keys of the entries its runs do not cover.
 */
static int svc_index_envelope(void *ctx, uint64_t index, const uint8_t payload_sha256[32],
                              const uint8_t entry_hash[32], struct vt_diag *d)
{
        struct vt_service *s = ctx;
        int err;

        if (index >= s->ix_from[0]) {
                if ((err = vt_service_index_reserve(s->ix_entry, 1, d)) != 0)
                        return err;
                vt_service_index_add(s->ix_entry, entry_hash, index);
        }
        if (index >= s->ix_from[1]) {
                if ((err = vt_service_index_reserve(s->ix_payload, 1, d)) != 0)
                        return err;
                vt_service_index_add(s->ix_payload, payload_sha256, index);
        }
        return 0;
}

static int svc_index_subject(void *ctx, uint64_t index, const uint8_t digest[32], struct vt_diag *d)
{
        struct vt_service *s = ctx;
        int err;

        if ((err = vt_service_index_reserve(s->ix_subject, 1, d)) != 0)
                return err;
        vt_service_index_add(s->ix_subject, digest, index);
        return 0;
}

/*
 * svc_index_open(s, d): the lookup indexes: their runs on disk, then the
 * keys of the envelopes and subjects stored past them (before the committer
 * starts, so nothing is added meanwhile). They are tagged with the digest
 * of the log's key, so that a data directory's index is never read for
 * another log.
 */
static int svc_index_open(struct vt_service *s, struct vt_diag *d)
{
        const char *vkey = vt_log_vkey(s->log);
        uint64_t size = vt_log_size(s->log);
        struct vt_store *rs;
        struct vt_hash tag;
        int slot, err;

        vt_crypto_sha256((const uint8_t *)vkey, strlen(vkey), &tag);
        if ((err = vt_service_index_open(s->dir, "entry", tag.b, size, &s->ix_opts, &s->ix_from[0],
                                         &s->ix_entry, d)) != 0 ||
            (err = vt_service_index_open(s->dir, "payload", tag.b, size, &s->ix_opts,
                                         &s->ix_from[1], &s->ix_payload, d)) != 0 ||
            (err = vt_service_index_open(s->dir, "subject", tag.b, size, &s->ix_opts,
                                         &s->ix_from[2], &s->ix_subject, d)) != 0)
                return err;
        if ((slot = vt_service_reader_get(s, &rs, &err, d)) < 0)
                return err;
        err = vt_store_envelope_scan(rs,
                                     s->ix_from[0] < s->ix_from[1] ? s->ix_from[0] : s->ix_from[1],
                                     svc_index_envelope, s, d);
        if (err == 0)
                err = vt_store_subject_scan(rs, s->ix_from[2], svc_index_subject, s, d);
        vt_service_reader_put(s, slot);
        return err;
}

/* see service.h */
int vt_service_open(const char *dir, const char *root_path, struct vt_service **out,
                    struct vt_diag *d)
{
        return vt_service_open_opts(dir, root_path, NULL, out, d);
}

/* see service_int.h */
int vt_service_open_opts(const char *dir, const char *root_path,
                         const struct vt_service_index_opts *ix, struct vt_service **out,
                         struct vt_diag *d)
{
        struct vt_service *s;
        int i, err;

        if ((s = calloc(1, sizeof(*s))) == NULL)
                return VT_ENOMEM;
        if (ix != NULL)
                s->ix_opts = *ix;
        pthread_rwlock_init(&s->rootlock, NULL);
        pthread_mutex_init(&s->rootmu, NULL);
        pthread_mutex_init(&s->hmu, NULL);
        pthread_mutex_init(&s->imu, NULL);
        pthread_mutex_init(&s->cmu, NULL);
        pthread_cond_init(&s->wcv, NULL);
        pthread_cond_init(&s->ccv, NULL);
        for (i = 0; i < VT_SERVICE_READERS; i++)
                pthread_mutex_init(&s->rd[i].mu, NULL);
        vt_buf_init(&s->root_bytes);
        s->max_entries = VT_SERVICE_BATCH_ENTRIES;
        s->linger_us = VT_SERVICE_LINGER_US;
        s->max_bytes = VT_SERVICE_BATCH_BYTES;
        if ((s->dir = svc_strdup(dir)) == NULL) {
                err = VT_ENOMEM;
                goto fail;
        }
        /* The log first: it proves dir is a data directory (and migrates its store). */
        if ((err = vt_log_open(dir, 0, &s->log, d)) != 0 ||
            (err = svc_root_open(s, root_path, d)) != 0 ||
            (err = vt_service_tokens_new(dir, &s->tokens, d)) != 0 ||
            (err = vt_service_filter_new(s->log, VT_SERVICE_FILTER_SYNC, 0, 0, &s->filter, d)) !=
                0 ||
            (err = svc_index_open(s, d)) != 0)
                goto fail;
        vt_log_set_batch_hook(s->log, svc_hook, s);
        if ((err = svc_threads_start(s, d)) != 0)
                goto fail;
        *out = s;
        return 0;
fail:
        svc_free(s);
        return err;
}

/* see service.h */
void vt_service_close(struct vt_service *s)
{
        /* svc_free() lets the threads finish what was queued, then stops them. */
        svc_free(s);
}

/* see service.h */
const char *vt_service_vkey(struct vt_service *s)
{
        return vt_log_vkey(s->log);
}

/* see service.h */
int vt_service_root(struct vt_service *s, struct vt_buf *out, struct vt_diag *d)
{
        int err = 0;

        pthread_rwlock_rdlock(&s->rootlock);
        if (vt_buf_append(out, s->root_bytes.p, s->root_bytes.len) != 0) {
                vt_diag_set(d, "out of memory for the root");
                err = VT_ENOMEM;
        }
        pthread_rwlock_unlock(&s->rootlock);
        return err;
}

/* see service.h */
int vt_service_root_replace(struct vt_service *s, const uint8_t *root, size_t n,
                            struct vt_buf *bundle, struct vt_service_result *r)
{
        struct vt_policy_root *nr = NULL, *old;
        struct vt_service_op *op = NULL;
        struct vt_service_bundler bu;
        struct vt_encoding_dsse e;
        struct vt_diag *d = &r->diag;
        struct svc_wait w;
        int err;

        memset(r, 0, sizeof(*r));
        vt_encoding_dsse_init(&e);
        pthread_mutex_lock(&s->rootmu);
        if (n > VT_POLICY_ROOT_MAX) {
                vt_diag_set(d, "root: %zu bytes, more than %d", n, VT_POLICY_ROOT_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        if ((err = vt_policy_root_parse(root, n, &nr, d)) != 0)
                goto out;
        /* Only this thread replaces the root (rootmu), so reading s->root is safe. */
        if ((err = vt_policy_root_verify_successor(s->root, nr, vt_util_unix_time(), d)) != 0) {
                vt_diag_prefix(d, "new root");
                goto out;
        }
        /* Log the root's envelope; the same batch stores it as the root in force. */
        if ((op = svc_op_new(root, n, svc_wait_done, &w)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = vt_encoding_dsse_parse(root, n, &e, d)) != 0 ||
            (err = vt_encoding_entry_encode(&e, &op->entry)) != 0 ||
            (err = vt_encoding_dsse_serialize(&e, &op->canon)) != 0)
                goto out;
        vt_crypto_sha256(op->entry.p, op->entry.len, &op->entry_hash);
        vt_merkle_leaf_hash(op->entry.p, op->entry.len, &op->leaf);
        op->root = root;
        op->root_len = n;
        snprintf(op->role, sizeof(op->role), "governance");
        svc_wait_init(&w, 1);
        svc_route(s, op, NULL);
        svc_wait_end(&w);
        if ((err = op->err) != 0) {
                *d = op->diag;
                goto out;
        }
        if (op->existed) {
                /* Logged before, yet a successor of the root in force: the log and the
                 * stored root disagree. Refuse rather than guess. */
                vt_diag_set(d, "new root: its envelope is already entry %llu of the log",
                            (unsigned long long)op->index);
                err = VT_EEXIST;
                goto out;
        }
        pthread_rwlock_wrlock(&s->rootlock);
        old = s->root;
        s->root = nr;
        s->root_bytes.len = 0;
        err = vt_buf_append(&s->root_bytes, root, n);
        pthread_rwlock_unlock(&s->rootlock);
        nr = old;
        r->index = op->index;
        snprintf(r->role, sizeof(r->role), "governance");
        if (err == 0) {
                vt_service_bundler_init(&bu);
                err = svc_bundle_one(s, &bu, op->index, op->canon.p, op->canon.len, op->entry.p,
                                     op->entry.len, bundle, d);
                vt_service_bundler_release(&bu);
        }
out:
        pthread_mutex_unlock(&s->rootmu);
        r->err = err;
        if (err != 0 && r->diag.msg[0] == '\0')
                vt_diag_set(d, "%s", vt_strerror(err));
        svc_op_free(op);
        vt_policy_root_free(nr);
        vt_encoding_dsse_release(&e);
        return err;
}

/* ---- reads ---------------------------------------------------------------------- */

/* see service.h */
int vt_service_entry(struct vt_service *s, uint64_t index, struct vt_buf *out, struct vt_diag *d)
{
        int err = vt_log_entry(s->log, index, out, d);

        return err == VT_ERANGE ? VT_ENOENT : err;
}

/* see service.h */
int vt_service_envelope(struct vt_service *s, const struct vt_hash *payload_sha256,
                        struct vt_buf *out, struct vt_diag *d)
{
        struct vt_store *rs;
        uint64_t *v = NULL, size = vt_log_size(s->log);
        uint8_t ph[32];
        size_t n = 0, i;
        int slot, err = 0;

        /* The lowest published index whose stored payload digest matches. */
        if ((err = vt_service_index_get(s->ix_payload, payload_sha256->b, &v, &n)) != 0)
                return err;
        if (n > 0 && (slot = vt_service_reader_get(s, &rs, &err, d)) >= 0) {
                for (i = 0, err = VT_ENOENT; i < n && v[i] < size && err == VT_ENOENT; i++) {
                        if ((err = vt_store_envelope_keys(rs, v[i], ph, NULL, d)) == 0 &&
                            memcmp(ph, payload_sha256->b, sizeof(ph)) != 0)
                                err = VT_ENOENT;
                        if (err == 0)
                                err = vt_store_envelope_get(rs, v[i], out, d);
                }
                vt_service_reader_put(s, slot);
        } else if (n == 0) {
                err = VT_ENOENT;
        }
        free(v);
        if (err == VT_ENOENT)
                vt_diag_set(d, "no envelope with this payload digest");
        return err;
}

/*
 * svc_subject_indexes(s, digest, below, max, idx, n, d): the indexes (below
 * the size below) of the entries about digest, at most max into the new
 * array *idx (caller frees); VT_ETOOBIG if there are more.
 */
static int svc_subject_indexes(struct vt_service *s, const struct vt_hash *digest, uint64_t below,
                               size_t max, uint64_t **idx, size_t *n, struct vt_diag *d)
{
        uint64_t *v = NULL;
        size_t k = 0, i, got = 0;
        struct vt_store *rs;
        int slot = -1, err;

        if ((err = vt_service_index_get(s->ix_subject, digest->b, &v, &got)) != 0)
                return err;
        if (got > 0 && (slot = vt_service_reader_get(s, &rs, &err, d)) < 0) {
                free(v);
                return err;
        }
        /* Candidates by an 8-byte prefix, ascending: keep those the store confirms. */
        for (i = 0; i < got && v[i] < below; i++) {
                if ((err = vt_store_subject_has(rs, digest->b, v[i], d)) == VT_ENOENT) {
                        err = 0;
                        continue;
                }
                if (err != 0)
                        break;
                if (k == max) {
                        vt_diag_set(d, "more than %zu entries are about this subject", max);
                        err = VT_ETOOBIG;
                        break;
                }
                v[k++] = v[i];
        }
        if (slot >= 0)
                vt_service_reader_put(s, slot);
        if (err != 0) {
                free(v);
                return err;
        }
        if (d != NULL)
                d->msg[0] = '\0';
        *idx = v;
        *n = k;
        return 0;
}

/* see service.h */
int vt_service_subject(struct vt_service *s, const struct vt_hash *digest, struct vt_buf *out,
                       struct vt_diag *d)
{
        char hex[2 * VT_CRYPTO_HASH_LEN + 1];
        uint64_t *idx = NULL;
        size_t n = 0, i, len0 = out->len;
        int err;

        if ((err = svc_subject_indexes(s, digest, vt_log_size(s->log), SIZE_MAX / 2, &idx, &n,
                                       d)) != 0)
                return err;
        if (n == 0) {
                free(idx);
                vt_diag_set(d, "the log holds no entry about this subject");
                return VT_ENOENT;
        }
        vt_encoding_hex_encode(digest->b, sizeof(digest->b), hex);
        err = vt_buf_printf(out, "{\"entries\":[");
        for (i = 0; i < n && err == 0; i++)
                err = vt_buf_printf(out, i ? ",%llu" : "%llu", (unsigned long long)idx[i]);
        if (err == 0)
                err = vt_buf_printf(out, "],\"subject\":\"sha256:%s\"}", hex);
        free(idx);
        if (err != 0) {
                out->len = len0;
                if (out->p != NULL)
                        out->p[len0] = '\0';
                vt_diag_set(d, "out of memory for a subject listing");
                return VT_ENOMEM;
        }
        return 0;
}

/* see service.h */
int vt_service_bundle_subject(struct vt_service *s, const struct vt_hash *digest,
                              struct vt_buf *out, struct vt_diag *d)
{
        struct vt_service_bundler bu;
        struct vt_buf env, entry;
        uint64_t *idx = NULL;
        size_t n = 0, i, len0 = out->len;
        struct vt_store *rs;
        int slot, err;

        vt_service_bundler_init(&bu);
        vt_buf_init(&env);
        vt_buf_init(&entry);
        /* One checkpoint for the whole bundle: every entry is proved against it. */
        if ((err = svc_bundler_latest(s, &bu, d)) != 0 ||
            (err = svc_subject_indexes(s, digest, bu.size, VT_ENCODING_BUNDLE_ATTESTATIONS_MAX,
                                       &idx, &n, d)) != 0)
                goto out;
        if (n == 0) {
                vt_diag_set(d, "the log holds no entry about this subject");
                err = VT_ENOENT;
                goto out;
        }
        /* Their paths proved together (best effort: each alone otherwise). */
        if (n > 1)
                (void)vt_service_bundler_prepare(s, &bu, idx, n, NULL);
        if ((err = vt_encoding_bundle_begin(out)) != 0)
                goto out;
        for (i = 0; i < n; i++) {
                env.len = 0;
                entry.len = 0;
                if ((slot = vt_service_reader_get(s, &rs, &err, d)) < 0)
                        goto out;
                err = vt_store_envelope_get(rs, idx[i], &env, d);
                vt_service_reader_put(s, slot);
                if (err == VT_ENOENT)
                        err = VT_ECORRUPT; /* the subject index names an entry without envelope */
                if (err != 0 || (err = vt_log_entry(s->log, idx[i], &entry, d)) != 0 ||
                    (err = svc_bundle_add(s, &bu, out, i == 0, idx[i], env.p, env.len, entry.p,
                                          entry.len, d)) != 0)
                        goto out;
        }
        err = vt_encoding_bundle_end(out);
out:
        if (err != 0) {
                out->len = len0;
                if (out->p != NULL)
                        out->p[len0] = '\0';
        }
        free(idx);
        vt_service_bundler_release(&bu);
        vt_buf_release(&env);
        vt_buf_release(&entry);
        return err;
}

/* see service.h */
int vt_service_checkpoint(struct vt_service *s, struct vt_buf *out, struct vt_diag *d)
{
        return vt_log_checkpoint(s->log, NULL, out, d);
}

/* see service.h */
int vt_service_tile(struct vt_service *s, int level, uint64_t n, unsigned width, struct vt_buf *out,
                    struct vt_diag *d)
{
        return vt_log_tile(s->log, level, n, width, out, d);
}

/* see service.h */
uint64_t vt_service_size(struct vt_service *s)
{
        return vt_log_size(s->log);
}

/* Add what index ix holds to out. */
static void svc_index_stats(struct vt_service_index *ix, struct vt_service_stats *out)
{
        struct vt_service_index_stats st;

        if (ix == NULL)
                return;
        vt_service_index_stats(ix, &st);
        out->index_runs += st.runs;
        out->index_bytes += st.bytes;
        if (st.flush_failed != 0 || st.merge_failed != 0)
                out->index_failing = 1;
}

/* see service.h */
void vt_service_stats(struct vt_service *s, struct vt_service_stats *out)
{
        out->submitted = atomic_load(&s->submitted);
        out->accepted = atomic_load(&s->accepted);
        out->existed = atomic_load(&s->existed);
        out->rejected_malformed = atomic_load(&s->rejected_malformed);
        out->rejected_signature = atomic_load(&s->rejected_signature);
        out->rejected_denied = atomic_load(&s->rejected_denied);
        out->rejected_store = atomic_load(&s->rejected_store);
        out->batches = atomic_load(&s->batches);
        out->batch_entries = atomic_load(&s->batch_entries);
        out->lookups = atomic_load(&s->lookups);
        out->index_runs = out->index_bytes = 0;
        out->index_failing = 0;
        svc_index_stats(s->ix_entry, out);
        svc_index_stats(s->ix_payload, out);
        svc_index_stats(s->ix_subject, out);
}
