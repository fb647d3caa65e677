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
 *      way the answer is its index and a fresh bundle, existed = 1;
 *   5. the log's group commit (vt_log_submit_ex); the batch hook writes the
 *      envelope and the subject index rows in the SAME store transaction as
 *      the entry, its tiles and the checkpoint, so what is acknowledged is
 *      complete after any crash;
 *   6. the bundle: envelope, entry and a C2SP tlog-proof@v1 against the
 *      latest checkpoint (whose size includes the entry: a batch publishes
 *      its checkpoint before its submitters return).
 *
 * Invariants:
 *   S1  an entry index has an envelope row iff it was logged through the
 *       service (the hook runs inside the batch's transaction);
 *   S2  one envelope (one entry hash) is logged at most once by one
 *       process: submissions of the same entry hash are serialised through
 *       the in-flight table, and the store is consulted only after the
 *       submission is registered there (so a concurrent identical one either
 *       waits for it or sees its committed row);
 *   S3  the root in force is the stored one (meta VT_SERVICE_META_ROOT); a
 *       replacement is stored in the batch that logs the new root's
 *       envelope, and swapped in memory only after that batch commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/service_int.h"
#include "veritrail/encoding.h"

/* A submission being logged; other submitters of the same entry wait on it. */
struct vt_service_inflight {
        struct vt_hash hash;
        pthread_cond_t cv;
        int done, err;
        uint64_t index;
        unsigned refs; /* the owner and each waiter */
        struct vt_service_inflight *next;
};

/* What the batch hook stores with one entry (the log's user pointer). */
struct svc_job {
        const uint8_t *env; /* canonical envelope JSON */
        size_t env_len;
        struct vt_hash payload_sha256, entry_hash;
        const struct vt_encoding_subject *subjects;
        size_t nsubjects;
        const uint8_t *root; /* a new root to store as the one in force, or NULL */
        size_t root_len;
};

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

/* ---- the batch hook --------------------------------------------------------------- */

/*
 * svc_hook: the log's batch hook (log.h vt_log_batch_fn). Inside the
 * batch's transaction: each job's envelope, its subjects, and a new root.
 */
static int svc_hook(void *ctx, struct vt_store *ws, uint64_t first, void *const *users, size_t n,
                    struct vt_diag *d)
{
        struct vt_service *s = ctx;
        const struct svc_job *j;
        size_t i, k;
        int err;

        atomic_fetch_add(&s->batches, 1);
        atomic_fetch_add(&s->batch_entries, n);
        if (users == NULL)
                return 0;
        for (i = 0; i < n; i++) {
                if ((j = users[i]) == NULL)
                        continue;
                if ((err = vt_store_envelope_put(ws, first + i, j->payload_sha256.b,
                                                 j->entry_hash.b, j->env, j->env_len, d)) != 0)
                        return err;
                for (k = 0; k < j->nsubjects; k++) {
                        if (!j->subjects[k].has_sha256)
                                continue;
                        if ((err = vt_store_subject_put(ws, j->subjects[k].sha256.b, first + i,
                                                        d)) != 0)
                                return err;
                }
                if (j->root != NULL && (err = vt_store_meta_put(ws, VT_SERVICE_META_ROOT, j->root,
                                                                j->root_len, d)) != 0)
                        return err;
        }
        return 0;
}

/* ---- bundles ---------------------------------------------------------------------- */

/*
 * svc_bundle_add(s, out, first, index, env, entry, size, note, d): one
 * attestation of a bundle: entry index proved in the tree of size whose
 * signed checkpoint is note.
 */
static int svc_bundle_add(struct vt_service *s, struct vt_buf *out, int first, uint64_t index,
                          const uint8_t *env, size_t env_len, const uint8_t *entry,
                          size_t entry_len, uint64_t size, const struct vt_buf *note,
                          struct vt_diag *d)
{
        struct vt_hash path[VT_LOG_PROOF_MAX];
        struct vt_buf proof;
        size_t np = 0;
        int err;

        vt_buf_init(&proof);
        if ((err = vt_log_prove_inclusion(s->log, index, size, path, &np, d)) != 0)
                goto out;
        if ((err = vt_encoding_tlog_proof_format(index, path, np, NULL, 0, note->p, note->len,
                                                 &proof)) != 0 ||
            (err = vt_encoding_bundle_add(out, first, env, env_len, entry, entry_len, proof.p,
                                          proof.len)) != 0)
                vt_diag_set(d, "cannot write the bundle of entry %llu: %s",
                            (unsigned long long)index, vt_strerror(err));
out:
        vt_buf_release(&proof);
        return err;
}

/* svc_bundle_one(s, index, env, entry, out, d): the bundle of one entry, appended to out. */
static int svc_bundle_one(struct vt_service *s, uint64_t index, const uint8_t *env, size_t env_len,
                          const uint8_t *entry, size_t entry_len, struct vt_buf *out,
                          struct vt_diag *d)
{
        struct vt_buf note;
        size_t len0 = out->len;
        uint64_t size = 0;
        int err;

        vt_buf_init(&note);
        /* The latest checkpoint and its size, taken together; it holds index. */
        if ((err = vt_log_checkpoint(s->log, &size, &note, d)) != 0)
                goto out;
        if (index >= size) {
                vt_diag_set(d, "entry %llu is not yet in the latest checkpoint (size %llu)",
                            (unsigned long long)index, (unsigned long long)size);
                err = VT_ELOGSTATE;
                goto out;
        }
        if ((err = vt_encoding_bundle_begin(out)) != 0 ||
            (err = svc_bundle_add(s, out, 1, index, env, env_len, entry, entry_len, size, &note,
                                  d)) != 0 ||
            (err = vt_encoding_bundle_end(out)) != 0)
                goto out;
out:
        if (err != 0) {
                out->len = len0;
                if (out->p != NULL)
                        out->p[len0] = '\0';
        }
        vt_buf_release(&note);
        return err;
}

/* ---- coalescing ------------------------------------------------------------------- */

/*
 * svc_inflight_enter(s, hash, rec, mine): find the in-flight submission of
 * this entry hash and join it (*mine = 0), or register rec as it (*mine =
 * 1). Returns the record to wait on or to finish.
 */
static struct vt_service_inflight *svc_inflight_enter(struct vt_service *s,
                                                      const struct vt_hash *hash,
                                                      struct vt_service_inflight *rec, int *mine)
{
        struct vt_service_inflight *f;
        unsigned b = hash->b[0];

        pthread_mutex_lock(&s->imu);
        for (f = s->inflight[b]; f != NULL; f = f->next)
                if (memcmp(f->hash.b, hash->b, sizeof(hash->b)) == 0)
                        break;
        if (f != NULL) {
                f->refs++;
                *mine = 0;
        } else {
                f = rec;
                f->hash = *hash;
                f->done = 0;
                f->refs = 1;
                f->next = s->inflight[b];
                s->inflight[b] = f;
                *mine = 1;
        }
        pthread_mutex_unlock(&s->imu);
        return f;
}

/* Wait for the owner of f to finish; returns its result. f is released. */
static int svc_inflight_wait(struct vt_service *s, struct vt_service_inflight *f, uint64_t *index)
{
        int err;

        pthread_mutex_lock(&s->imu);
        while (!f->done)
                pthread_cond_wait(&f->cv, &s->imu);
        err = f->err;
        *index = f->index;
        f->refs--;
        if (f->refs == 0)
                pthread_cond_signal(&f->cv); /* the owner waits for the last waiter */
        pthread_mutex_unlock(&s->imu);
        return err;
}

/*
 * The owner's end: publish the result, take f out of the table and wait
 * until every waiter has read it (f lives on the owner's stack).
 */
static void svc_inflight_finish(struct vt_service *s, struct vt_service_inflight *f, int err,
                                uint64_t index)
{
        struct vt_service_inflight **pp;

        pthread_mutex_lock(&s->imu);
        for (pp = &s->inflight[f->hash.b[0]]; *pp != NULL; pp = &(*pp)->next)
                if (*pp == f) {
                        *pp = f->next;
                        break;
                }
        f->done = 1;
        f->err = err;
        f->index = index;
        f->refs--;
        pthread_cond_broadcast(&f->cv);
        while (f->refs > 0)
                pthread_cond_wait(&f->cv, &s->imu);
        pthread_mutex_unlock(&s->imu);
}

/* ---- the pipeline ---------------------------------------------------------------- */

/*
 * svc_log_envelope(s, job, entry, entry_len, index, existed, d): steps 4
 * and 5 for a prepared job: coalesce, look up, or log.
 */
static int svc_log_envelope(struct vt_service *s, struct svc_job *job, const uint8_t *entry,
                            size_t entry_len, uint64_t *index, int *existed, struct vt_diag *d)
{
        struct vt_service_inflight rec, *f;
        struct vt_store *rs;
        uint64_t idx = 0;
        int mine, slot, err = 0;

        memset(&rec, 0, sizeof(rec));
        pthread_cond_init(&rec.cv, NULL);
        f = svc_inflight_enter(s, &job->entry_hash, &rec, &mine);
        if (!mine) {
                err = svc_inflight_wait(s, f, &idx);
                if (err != 0)
                        vt_diag_set(d,
                                    "an identical envelope submitted at the same time failed: %s",
                                    vt_strerror(err));
                *existed = 1;
                goto out;
        }
        /* Registered: now a committed copy would be visible to this read (S2). */
        if ((slot = vt_service_reader_get(s, &rs, &err, d)) < 0)
                goto finish;
        err = vt_store_envelope_find(rs, job->entry_hash.b, &idx, d);
        vt_service_reader_put(s, slot);
        if (err == 0) {
                *existed = 1;
                goto finish;
        }
        if (err != VT_ENOENT)
                goto finish;
        d->msg[0] = '\0';
        *existed = 0;
        err = vt_log_submit_ex(s->log, entry, entry_len, job, &idx, d);
finish:
        svc_inflight_finish(s, &rec, err, idx);
out:
        pthread_cond_destroy(&rec.cv);
        if (err == 0)
                *index = idx;
        return err;
}

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

/* see service.h */
int vt_service_submit(struct vt_service *s, const uint8_t *env, size_t n, struct vt_buf *bundle,
                      struct vt_service_result *r)
{
        struct vt_encoding_dsse e;
        struct vt_encoding_statement st;
        struct vt_buf canon, entry;
        struct vt_diag *d = &r->diag;
        struct svc_job job;
        const char *role = NULL;
        uint64_t index = 0;
        int err, existed = 0;

        memset(r, 0, sizeof(*r));
        vt_encoding_dsse_init(&e);
        vt_encoding_statement_init(&st);
        vt_buf_init(&canon);
        vt_buf_init(&entry);
        memset(&job, 0, sizeof(job));
        atomic_fetch_add(&s->submitted, 1);

        /* 1. Bounded parse. */
        if (n > VT_SERVICE_ENVELOPE_MAX) {
                vt_diag_set(d, "envelope: %zu bytes, more than the service's limit of %d", n,
                            VT_SERVICE_ENVELOPE_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        if ((err = vt_encoding_dsse_parse(env, n, &e, d)) != 0 ||
            (err = vt_encoding_statement_from_envelope(&e, &st, d)) != 0) {
                if (err == VT_ENONCANON)
                        err = VT_EMALFORMED;
                goto out;
        }
        /* 2. Registration. */
        pthread_rwlock_rdlock(&s->rootlock);
        err = vt_policy_root_authorize(s->root, &e, st.predicate_type, &role, d);
        if (err == 0)
                snprintf(r->role, sizeof(r->role), "%s", role);
        pthread_rwlock_unlock(&s->rootlock);
        if (err != 0)
                goto out;
        /* 3. The entry, and what is stored with it. */
        if ((err = vt_encoding_entry_encode(&e, &entry)) != 0) {
                vt_diag_set(d,
                            "envelope: its entry would be larger than %d bytes (too many or too "
                            "large signatures)",
                            VT_ENCODING_ENTRY_MAX);
                goto out;
        }
        if ((err = vt_encoding_dsse_serialize(&e, &canon)) != 0)
                goto out;
        job.env = canon.p;
        job.env_len = canon.len;
        vt_crypto_sha256(e.payload, e.payload_len, &job.payload_sha256);
        vt_crypto_sha256(entry.p, entry.len, &job.entry_hash);
        job.subjects = st.subjects;
        job.nsubjects = st.nsubjects;
        /* 4, 5. Idempotency and the group commit. */
        if ((err = svc_log_envelope(s, &job, entry.p, entry.len, &index, &existed, d)) != 0)
                goto out;
        r->index = index;
        r->existed = existed;
        /* 6. The bundle. */
        err = svc_bundle_one(s, index, canon.p, canon.len, entry.p, entry.len, bundle, d);
out:
        r->err = err;
        if (err == 0) {
                r->diag.msg[0] = '\0';
                atomic_fetch_add(existed ? &s->existed : &s->accepted, 1);
        } else {
                if (r->diag.msg[0] == '\0')
                        vt_diag_set(d, "%s", vt_strerror(err));
                svc_count_failure(s, err);
        }
        vt_encoding_statement_release(&st);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&canon);
        vt_buf_release(&entry);
        return err;
}

/* The fan-out of vt_service_submit_batch(). */
struct svc_batch {
        struct vt_service *s;
        const uint8_t *const *envs;
        const size_t *lens;
        size_t n;
        struct vt_buf *bundles;
        struct vt_service_result *results;
        atomic_size_t next;
        atomic_size_t failed;
};

static void *svc_batch_worker(void *arg)
{
        struct svc_batch *b = arg;
        size_t i;

        while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
                if (vt_service_submit(b->s, b->envs[i], b->lens[i], &b->bundles[i],
                                      &b->results[i]) != 0)
                        atomic_fetch_add(&b->failed, 1);
        return NULL;
}

/*
 * Threads of one batch request. Most of their time is spent waiting for the
 * group commit, so there are more of them than cores: the batches a commit
 * gathers grow with them (measured: 32 threads about 20 entries per commit,
 * 128 about 60), while signature checks stay bounded by the cores.
 */
#define SVC_BATCH_THREADS 64

/* see service.h */
size_t vt_service_submit_batch(struct vt_service *s, const uint8_t *const *envs, const size_t *lens,
                               size_t n, struct vt_buf *bundles, struct vt_service_result *results)
{
        pthread_t th[SVC_BATCH_THREADS];
        struct svc_batch b;
        size_t i, nth = 0, want;

        if (n > VT_SERVICE_BATCH_MAX) {
                for (i = 0; i < n; i++) {
                        memset(&results[i], 0, sizeof(results[i]));
                        results[i].err = VT_ETOOBIG;
                        vt_diag_set(&results[i].diag, "batch: %zu envelopes, more than %d", n,
                                    VT_SERVICE_BATCH_MAX);
                }
                return n;
        }
        b.s = s;
        b.envs = envs;
        b.lens = lens;
        b.n = n;
        b.bundles = bundles;
        b.results = results;
        atomic_init(&b.next, 0);
        atomic_init(&b.failed, 0);
        /*
         * Concurrent submitters are what group commit gathers into one batch:
         * while one batch commits the next queues. The caller's thread works
         * too; fewer threads (creation failed) only means smaller batches.
         */
        want = n < SVC_BATCH_THREADS ? n : SVC_BATCH_THREADS;
        for (i = 1; i < want; i++) {
                if (pthread_create(&th[nth], NULL, svc_batch_worker, &b) != 0)
                        break; /* fewer threads, then */
                nth++;
        }
        svc_batch_worker(&b);
        for (i = 0; i < nth; i++)
                pthread_join(th[i], NULL);
        return atomic_load(&b.failed);
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
        vt_log_close(s->log);
        for (i = 0; i < VT_SERVICE_READERS; i++) {
                vt_store_close(s->rd[i].s);
                pthread_mutex_destroy(&s->rd[i].mu);
        }
        vt_policy_root_free(s->root);
        vt_buf_release(&s->root_bytes);
        pthread_rwlock_destroy(&s->rootlock);
        pthread_mutex_destroy(&s->rootmu);
        pthread_mutex_destroy(&s->imu);
        free(s->dir);
        free(s);
}

/* see service.h */
int vt_service_open(const char *dir, const char *root_path, struct vt_service **out,
                    struct vt_diag *d)
{
        struct vt_service *s;
        int i, err;

        if ((s = calloc(1, sizeof(*s))) == NULL)
                return VT_ENOMEM;
        pthread_rwlock_init(&s->rootlock, NULL);
        pthread_mutex_init(&s->rootmu, NULL);
        pthread_mutex_init(&s->imu, NULL);
        for (i = 0; i < VT_SERVICE_READERS; i++)
                pthread_mutex_init(&s->rd[i].mu, NULL);
        vt_buf_init(&s->root_bytes);
        if ((s->dir = svc_strdup(dir)) == NULL) {
                err = VT_ENOMEM;
                goto fail;
        }
        /* The log first: it proves dir is a data directory (and migrates its store). */
        if ((err = vt_log_open(dir, 0, &s->log, d)) != 0 ||
            (err = svc_root_open(s, root_path, d)) != 0)
                goto fail;
        vt_log_set_batch_hook(s->log, svc_hook, s);
        *out = s;
        return 0;
fail:
        svc_free(s);
        return err;
}

/* see service.h */
void vt_service_close(struct vt_service *s)
{
        /* Submissions are synchronous: once every caller has returned, nothing is in flight. */
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
        struct vt_encoding_dsse e;
        struct vt_buf canon, entry;
        struct vt_diag *d = &r->diag;
        struct svc_job job;
        uint64_t index = 0;
        int err, existed = 0;

        memset(r, 0, sizeof(*r));
        vt_encoding_dsse_init(&e);
        vt_buf_init(&canon);
        vt_buf_init(&entry);
        memset(&job, 0, sizeof(job));
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
        if ((err = vt_encoding_dsse_parse(root, n, &e, d)) != 0 ||
            (err = vt_encoding_entry_encode(&e, &entry)) != 0 ||
            (err = vt_encoding_dsse_serialize(&e, &canon)) != 0)
                goto out;
        job.env = canon.p;
        job.env_len = canon.len;
        vt_crypto_sha256(e.payload, e.payload_len, &job.payload_sha256);
        vt_crypto_sha256(entry.p, entry.len, &job.entry_hash);
        job.root = root;
        job.root_len = n;
        if ((err = svc_log_envelope(s, &job, entry.p, entry.len, &index, &existed, d)) != 0)
                goto out;
        if (existed) {
                /* Logged before, yet a successor of the root in force: the log and the
                 * stored root disagree. Refuse rather than guess. */
                vt_diag_set(d, "new root: its envelope is already entry %llu of the log",
                            (unsigned long long)index);
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
        r->index = index;
        snprintf(r->role, sizeof(r->role), "governance");
        if (err == 0)
                err = svc_bundle_one(s, index, canon.p, canon.len, entry.p, entry.len, bundle, d);
out:
        pthread_mutex_unlock(&s->rootmu);
        r->err = err;
        if (err != 0 && r->diag.msg[0] == '\0')
                vt_diag_set(d, "%s", vt_strerror(err));
        vt_policy_root_free(nr);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&canon);
        vt_buf_release(&entry);
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
        uint64_t idx = 0;
        size_t len0 = out->len;
        int slot, err = 0;

        if ((slot = vt_service_reader_get(s, &rs, &err, d)) < 0)
                return err;
        err = vt_store_envelope_by_payload(rs, payload_sha256->b, &idx, out, d);
        vt_service_reader_put(s, slot);
        if (err == 0 && idx >= vt_log_size(s->log)) {
                /* Committed a moment ago, not yet published: not there yet. */
                out->len = len0;
                if (out->p != NULL)
                        out->p[len0] = '\0';
                err = VT_ENOENT;
        }
        if (err == VT_ENOENT)
                vt_diag_set(d, "no envelope with this payload digest");
        return err;
}

#define SVC_LIST_CHUNK 1024

/*
 * svc_subject_indexes(s, digest, below, max, idx, n, d): the indexes (below
 * the size below) of the entries about digest, at most max into the new
 * array *idx (caller frees); VT_ETOOBIG if there are more.
 */
static int svc_subject_indexes(struct vt_service *s, const struct vt_hash *digest, uint64_t below,
                               size_t max, uint64_t **idx, size_t *n, struct vt_diag *d)
{
        uint64_t *v = NULL, *t, from = 0;
        size_t k = 0, cap = 0, got = 0;
        struct vt_store *rs;
        int slot, err = 0;

        if ((slot = vt_service_reader_get(s, &rs, &err, d)) < 0)
                return err;
        for (;;) {
                if (cap - k < SVC_LIST_CHUNK) {
                        cap = cap ? 2 * cap : SVC_LIST_CHUNK;
                        if ((t = vt_util_reallocarray(v, cap, sizeof(*v))) == NULL) {
                                err = VT_ENOMEM;
                                break;
                        }
                        v = t;
                }
                if ((err = vt_store_subject_list(rs, digest->b, from, v + k, SVC_LIST_CHUNK, &got,
                                                 d)) != 0)
                        break;
                while (got > 0 && v[k + got - 1] >= below)
                        got--; /* not published yet */
                k += got;
                if (k > max) {
                        vt_diag_set(d, "more than %zu entries are about this subject", max);
                        err = VT_ETOOBIG;
                        break;
                }
                if (got < SVC_LIST_CHUNK)
                        break;
                from = v[k - 1] + 1;
        }
        vt_service_reader_put(s, slot);
        if (err != 0) {
                free(v);
                return err;
        }
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
        struct vt_buf note, env, entry;
        uint64_t *idx = NULL, size = 0;
        size_t n = 0, i, len0 = out->len;
        struct vt_store *rs;
        int slot, err;

        vt_buf_init(&note);
        vt_buf_init(&env);
        vt_buf_init(&entry);
        /* One checkpoint for the whole bundle: every entry is proved against it. */
        if ((err = vt_log_checkpoint(s->log, &size, &note, d)) != 0 ||
            (err = svc_subject_indexes(s, digest, size, VT_ENCODING_BUNDLE_ATTESTATIONS_MAX, &idx,
                                       &n, d)) != 0)
                goto out;
        if (n == 0) {
                vt_diag_set(d, "the log holds no entry about this subject");
                err = VT_ENOENT;
                goto out;
        }
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
                    (err = svc_bundle_add(s, out, i == 0, idx[i], env.p, env.len, entry.p,
                                          entry.len, size, &note, d)) != 0)
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
        vt_buf_release(&note);
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
}
