/*
 * log.c: the sequencer. It turns batches of entries into C2SP tlog-tiles
 * state (entry bundles, hash tiles at every level, a signed tlog-checkpoint)
 * written in ONE store transaction per batch.
 *
 * Tree: RFC 9162 §2.1.1 hashing; tiles per C2SP tlog-tiles: the level-L tile
 * N holds the hashes (8L, 256N + i), a full tile 256 of them, a partial one
 * the first W; bundle N holds entries 256N.. with a big-endian uint16 length
 * before each.
 *
 * Invariants:
 *   I1  The store's latest checkpoint has size S, verifies with the log key,
 *       and its root is the root of the stored tiles at size S: for every
 *       level L the tile S >> 8(L+1) has width (S >> 8L) mod 256 (when not
 *       0), every tile left of it is full, and so are the entry bundles.
 *   I2  Every batch (bundles, tiles, checkpoint) is one transaction, so I1
 *       holds after any crash: SQLite recovers to the last committed batch.
 *   I3  In memory, the right edge (the partial tile of every level and the
 *       partial bundle) and the frontier (merkle.h) are the tree at wsize:
 *       the store's, plus the batches prepared since (at most two not yet
 *       committed: one being stored, one waiting for it; see Pipeline), so an
 *       append reads nothing from the tree.
 *       When storing a batch fails, the generation (gen) changes: a batch
 *       prepared on the old one is prepared again, and the edge is loaded
 *       from the store first.
 *   I4  Storing a batch first checks, inside its transaction, that the
 *       store's latest checkpoint still has the size the batch was prepared
 *       on and that gen is unchanged (another process could have appended,
 *       an earlier batch could have failed); if not, it writes nothing, and
 *       the batch is prepared again on the store's state.
 *
 * Pipeline: an append is prepared (amu: hashes, tiles, bundles and the
 * signed checkpoint, in memory, into a struct vt_log_batch), then stored
 * (wmu: one transaction). wmu is taken before amu is let go, so batches are
 * stored in the order they were prepared, and while one is stored the next
 * one (another thread's) is prepared: its CPU work overlaps the other's
 * writes and syncs. Two batch slots suffice: one being stored, one being
 * prepared.
 *
 * Group commit (vt_log_submit): submitters queue; the one at the head of the
 * queue is the leader: it takes up to max_entries queued submissions,
 * appends them as one batch, wakes them with their indexes, and hands the
 * head to the next waiter. While a batch commits, the next one queues, so
 * batches grow with the load (LevelDB's writer queue works the same way).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log_int.h"

#define LOG_DEFAULT_MAX_ENTRIES 4096
#define LOG_DEFAULT_MAX_BYTES   (16u << 20)
#define LOG_PARALLEL_HASH       1024 /* entries from which a batch is hashed in two threads */

/* A waiting submission; lives on the submitter's stack. */
struct vt_log_req {
        const uint8_t *p;
        size_t len;
        void *user;          /* for the batch hook (vt_log_submit_ex) */
        struct vt_hash leaf; /* hashed by the submitter, in its own thread */
        uint64_t index;
        int err;
        int done;
        struct vt_diag diag;
        pthread_cond_t cv;
        struct vt_log_req *next;
};

static char *log_strdup(const char *s)
{
        size_t n = strlen(s) + 1;
        char *p = malloc(n);

        if (p != NULL)
                memcpy(p, s, n);
        return p;
}

/* "dir/name", malloc'd. */
static char *log_path(const char *dir, const char *name)
{
        size_t a = strlen(dir), b = strlen(name);
        char *p = malloc(a + b + 2);

        if (p == NULL)
                return NULL;
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
        return p;
}

/* see log_int.h */
const char *vt_log_tile_name(int level, uint64_t n, unsigned w, char *buf, size_t cap)
{
        struct vt_merkle_tile t = {level, n, w};
        char path[VT_MERKLE_TILE_PATH_MAX];

        if (vt_merkle_tile_path(&t, path, sizeof(path)) == 0)
                snprintf(buf, cap, "%d/%llu (width %u)", level, (unsigned long long)n, w);
        else
                snprintf(buf, cap, "%s", path + 5); /* without "tile/" */
        return buf;
}

/*
 * The frontier of a loaded tree lies entirely in its partial tiles (the
 * subtrees of the bits 8L..8L+7 of the size are made of level-8L hashes of
 * the partial tile at level L), so it is read from the in-memory edge.
 */
struct log_edge_fetch {
        struct vt_log *log;
        uint64_t size;
};

static int log_edge_fetch(void *ctx, const struct vt_merkle_tile *t, uint8_t *buf, size_t *len)
{
        struct log_edge_fetch *f = ctx;
        unsigned l, w;

        if (t->level < 0 || t->level >= VT_LOG_LEVELS)
                return VT_ECORRUPT;
        l = (unsigned)t->level;
        w = (unsigned)((f->size >> (8 * l)) & 255);
        if (t->n != vt_log_shr(f->size, 8 * (l + 1)) || t->width > w)
                return VT_ECORRUPT; /* cannot happen: see the comment above */
        memcpy(buf, f->log->lv[l].buf, (size_t)w * VT_MERKLE_HASH_LEN);
        *len = (size_t)w * VT_MERKLE_HASH_LEN;
        return 0;
}

/* Publish a committed state (smu). */
static int log_publish(struct vt_log *log, uint64_t size, const struct vt_hash *root,
                       const uint8_t *note, size_t n)
{
        int err = 0;

        pthread_mutex_lock(&log->smu);
        log->ckpt.len = 0;
        if (vt_buf_append(&log->ckpt, note, n) != 0)
                err = VT_ENOMEM;
        log->size = size;
        log->root = *root;
        pthread_mutex_unlock(&log->smu);
        return err;
}

/*
 * log_load(log, s, d): load the right edge of the tree at the store's latest
 * checkpoint through s (inside or outside a transaction) and check I1 for
 * it: the signature, the tile widths, the bundle, and the root.
 */
static int log_load(struct vt_log *log, struct vt_store *s, struct vt_diag *d)
{
        struct vt_encoding_checkpoint *c = NULL;
        struct vt_buf note, tmp;
        struct log_edge_fetch ef;
        struct vt_merkle_tile_reader *r = NULL;
        struct vt_hash root;
        char name[64];
        uint64_t size = 0, tn;
        unsigned l, w, sw;
        int err;

        log->loaded = 0;
        vt_buf_init(&note);
        vt_buf_init(&tmp);
        err = vt_store_checkpoint_latest(s, &size, &note, d);
        if (err == VT_ENOENT) {
                vt_diag_set(d, "log '%s' has no checkpoint", log->dir);
                err = VT_ECORRUPT;
        }
        if (err != 0)
                goto out;
        if ((c = malloc(sizeof(*c))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = vt_encoding_checkpoint_open(note.p, note.len, log->verifier, c, d)) != 0) {
                vt_diag_prefix(d, "log '%s': latest checkpoint (size %llu)", log->dir,
                               (unsigned long long)size);
                err = VT_ECORRUPT;
                goto out;
        }
        if (c->size != size || strcmp(c->origin, log->origin) != 0 || c->ext_len != 0 ||
            size > VT_MERKLE_MAX_SIZE) {
                vt_diag_set(d, "log '%s': latest checkpoint is filed under size %llu but says %llu",
                            log->dir, (unsigned long long)size, (unsigned long long)c->size);
                err = VT_ECORRUPT;
                goto out;
        }
        /* The partial tile of every level. */
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                w = (unsigned)((size >> (8 * l)) & 255);
                tn = vt_log_shr(size, 8 * (l + 1));
                if (w == 0)
                        continue;
                tmp.len = 0;
                err = vt_store_tile_get(s, l, tn, &sw, &tmp, d);
                vt_log_tile_name((int)l, tn, w, name, sizeof(name));
                if (err == VT_ENOENT) {
                        vt_diag_set(d, "log '%s': tile %s of checkpoint size %llu is missing",
                                    log->dir, name, (unsigned long long)size);
                        err = VT_ECORRUPT;
                }
                if (err != 0)
                        goto out;
                if (sw != w || tmp.len != (size_t)w * VT_MERKLE_HASH_LEN) {
                        vt_diag_set(
                            d, "log '%s': tile %s has %u hashes, checkpoint size %llu needs %u",
                            log->dir, name, sw, (unsigned long long)size, w);
                        err = VT_ECORRUPT;
                        goto out;
                }
                memcpy(log->lv[l].buf, tmp.p, tmp.len);
        }
        /* The partial entry bundle, checked against the leaf hashes. */
        w = (unsigned)(size & 255);
        log->bundle.len = 0;
        if (w != 0) {
                tmp.len = 0;
                err = vt_store_bundle_get(s, size >> 8, &sw, &tmp, d);
                vt_log_tile_name(VT_MERKLE_TILE_ENTRIES, size >> 8, w, name, sizeof(name));
                if (err == VT_ENOENT) {
                        vt_diag_set(d, "log '%s': entry bundle %s is missing", log->dir, name);
                        err = VT_ECORRUPT;
                }
                if (err != 0)
                        goto out;
                if (sw != w) {
                        vt_diag_set(d, "log '%s': entry bundle %s has %u entries, want %u",
                                    log->dir, name, sw, w);
                        err = VT_ECORRUPT;
                        goto out;
                }
                if (vt_merkle_bundle_check(tmp.p, tmp.len, w,
                                           (const struct vt_hash *)log->lv[0].buf, d) != 0) {
                        vt_diag_prefix(d, "log '%s': entry bundle %s", log->dir, name);
                        err = VT_ECORRUPT;
                        goto out;
                }
                if (vt_buf_append(&log->bundle, tmp.p, tmp.len) != 0) {
                        err = VT_ENOMEM;
                        goto out;
                }
        }
        /* The frontier, from the edge; its root must be the checkpoint's. */
        if ((r = malloc(sizeof(*r))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        ef.log = log;
        ef.size = size;
        vt_merkle_tile_reader_init(r, size, log_edge_fetch, &ef);
        if ((err = vt_merkle_frontier_load(&log->front, size, vt_merkle_tile_reader_read, r)) !=
            0) {
                vt_diag_set(d, "log '%s': cannot rebuild the tree's right edge at size %llu",
                            log->dir, (unsigned long long)size);
                err = VT_ECORRUPT;
                goto out;
        }
        vt_merkle_frontier_root(&log->front, &root);
        if (!vt_util_memeq(root.b, c->root.b, sizeof(root.b))) {
                vt_diag_set(d,
                            "log '%s': latest checkpoint (size %llu) has a root that differs from "
                            "the stored tiles",
                            log->dir, (unsigned long long)size);
                err = VT_ECORRUPT;
                goto out;
        }
        if ((err = log_publish(log, size, &root, note.p, note.len)) != 0)
                goto out;
        log->wsize = size;
        log->loaded = 1;
out:
        free(r);
        free(c);
        vt_buf_release(&note);
        vt_buf_release(&tmp);
        return err;
}

/* Sign the checkpoint of (size, root) with key under origin into out (replaced). */
static int log_sign(const char *origin, const struct vt_crypto_key *key, uint64_t size,
                    const struct vt_hash *root, struct vt_buf *out, struct vt_diag *d)
{
        struct vt_encoding_checkpoint *c;
        int err;

        if ((c = calloc(1, sizeof(*c))) == NULL)
                return VT_ENOMEM;
        snprintf(c->origin, sizeof(c->origin), "%s", origin);
        c->size = size;
        c->root = *root;
        out->len = 0;
        err = vt_encoding_checkpoint_sign(c, origin, key, out, d);
        free(c);
        return err;
}

static int log_origin_check(const char *origin, struct vt_diag *d)
{
        size_t n = strlen(origin);

        if (n == 0 || n > VT_ENCODING_ORIGIN_MAX || !vt_encoding_note_name_valid(origin, n)) {
                vt_diag_set(d,
                            "origin '%s' is not a valid log name (1..%d bytes of UTF-8, no '+', "
                            "no spaces)",
                            origin, VT_ENCODING_ORIGIN_MAX);
                return VT_EINVAL;
        }
        return 0;
}

/* see log.h */
int vt_log_init(const char *dir, const char *origin, struct vt_diag *d)
{
        struct vt_store *s = NULL;
        struct vt_crypto_key *k = NULL;
        struct vt_buf vkey, pem, note, tmp;
        struct vt_hash empty;
        char *keypath = NULL;
        struct stat st;
        int err, wrote_key = 0;

        vt_buf_init(&vkey);
        vt_buf_init(&pem);
        vt_buf_init(&note);
        vt_buf_init(&tmp);
        if ((err = log_origin_check(origin, d)) != 0)
                goto out;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                vt_diag_set(d, "cannot create '%s': %s", dir, strerror(errno));
                err = VT_EIO;
                goto out;
        }
        if ((keypath = log_path(dir, VT_LOG_KEY_FILE)) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        if ((err = vt_store_open(dir, VT_STORE_CREATE, &s, d)) != 0)
                goto out;
        err = vt_store_meta_get(s, VT_LOG_META_ORIGIN, &tmp, d);
        if (err == 0) {
                vt_diag_set(d, "'%s' already holds a log (origin '%.*s')", dir, (int)tmp.len,
                            (const char *)tmp.p);
                err = VT_EEXIST;
                goto out;
        }
        if (err != VT_ENOENT)
                goto out;
        if (lstat(keypath, &st) == 0) {
                vt_diag_set(d, "'%s' already exists but '%s' holds no log; remove it first",
                            keypath, dir);
                err = VT_EEXIST;
                goto out;
        }
        if ((err = vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, d)) != 0)
                goto out;
        if ((err = vt_encoding_note_vkey(origin, k, &vkey)) != 0 ||
            (err = vt_crypto_key_private_pem(k, &pem)) != 0) {
                vt_diag_set(d, "cannot encode the new log key: %s", vt_strerror(err));
                goto out;
        }
        /* The size-0 checkpoint: the empty tree's root (C2SP tlog-witness). */
        vt_merkle_empty_hash(&empty);
        if ((err = log_sign(origin, k, 0, &empty, &note, d)) != 0)
                goto out;
        if ((err = vt_util_write_file(keypath, pem.p, pem.len, 0600, d)) != 0)
                goto out;
        wrote_key = 1;
        if ((err = vt_store_begin(s, d)) != 0)
                goto out;
        if ((err = vt_store_meta_put(s, VT_LOG_META_FORMAT, VT_LOG_FORMAT, strlen(VT_LOG_FORMAT),
                                     d)) != 0 ||
            (err = vt_store_meta_put(s, VT_LOG_META_ORIGIN, origin, strlen(origin), d)) != 0 ||
            (err = vt_store_meta_put(s, VT_LOG_META_VKEY, vkey.p, vkey.len, d)) != 0 ||
            (err = vt_store_checkpoint_put(s, 0, note.p, note.len, d)) != 0 ||
            (err = vt_store_commit(s, d)) != 0) {
                vt_store_rollback(s);
                goto out;
        }
        wrote_key = 0;
out:
        if (wrote_key)
                unlink(keypath); /* the log was not created: take its key away again */
        vt_store_close(s);
        vt_crypto_key_free(k);
        vt_buf_wipe(&pem);
        vt_buf_release(&vkey);
        vt_buf_release(&note);
        vt_buf_release(&tmp);
        free(keypath);
        return err;
}

/* Read a metadata string (NUL-terminated, malloc'd). */
static int log_meta_str(struct vt_store *s, const char *dir, const char *key, char **out,
                        struct vt_diag *d)
{
        struct vt_buf b;
        int err;

        vt_buf_init(&b);
        err = vt_store_meta_get(s, key, &b, d);
        if (err == VT_ENOENT) {
                vt_diag_set(d, "'%s' holds no log (run 'veritrail log init')", dir);
                err = VT_ENOENT;
        }
        if (err == 0 && (b.len == 0 || memchr(b.p, '\0', b.len) != NULL)) {
                vt_diag_set(d, "log '%s': metadata '%s' is malformed", dir, key);
                err = VT_ECORRUPT;
        }
        if (err == 0 && vt_buf_reserve(&b, 1) != 0)
                err = VT_ENOMEM;
        if (err != 0) {
                vt_buf_release(&b);
                return err;
        }
        b.p[b.len] = '\0';
        *out = (char *)b.p; /* the buffer's memory becomes the string */
        return 0;
}

static void log_free(struct vt_log *log)
{
        unsigned l;

        if (log == NULL)
                return;
        vt_store_close(log->ws);
        vt_store_close(log->rs);
        vt_crypto_key_free(log->key);
        vt_encoding_note_verifier_free(log->verifier);
        for (l = 0; l < VT_LOG_LEVELS; l++)
                free(log->lv[l].buf);
        for (l = 0; l < 2; l++) {
                vt_buf_release(&log->batch[l].bytes);
                vt_buf_release(&log->batch[l].note);
                free(log->batch[l].puts);
        }
        vt_buf_release(&log->bundle);
        vt_buf_release(&log->wtmp);
        vt_buf_release(&log->rtmp);
        vt_buf_release(&log->ckpt);
        free(log->xcache);
        free(log->gp);
        free(log->gl);
        free(log->gu);
        free(log->gh);
        free(log->dir);
        free(log->origin);
        free(log->vkey);
        pthread_mutex_destroy(&log->amu);
        pthread_mutex_destroy(&log->wmu);
        pthread_mutex_destroy(&log->rmu);
        pthread_mutex_destroy(&log->smu);
        pthread_mutex_destroy(&log->qmu);
        pthread_cond_destroy(&log->qcv);
        free(log);
}

/* see log.h */
int vt_log_open(const char *dir, int flags, struct vt_log **out, struct vt_diag *d)
{
        struct vt_log *log;
        struct vt_store *s;
        struct vt_buf vk;
        char *keypath = NULL;
        unsigned l;
        int err;

        if ((log = calloc(1, sizeof(*log))) == NULL)
                return VT_ENOMEM;
        pthread_mutex_init(&log->amu, NULL);
        pthread_mutex_init(&log->wmu, NULL);
        pthread_mutex_init(&log->rmu, NULL);
        pthread_mutex_init(&log->smu, NULL);
        pthread_mutex_init(&log->qmu, NULL);
        pthread_cond_init(&log->qcv, NULL);
        vt_buf_init(&vk);
        log->flags = flags;
        log->max_entries = LOG_DEFAULT_MAX_ENTRIES;
        log->max_bytes = LOG_DEFAULT_MAX_BYTES;
        atomic_init(&log->gen, 0);
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                if ((log->lv[l].buf = malloc(VT_MERKLE_TILE_BYTES)) == NULL) {
                        err = VT_ENOMEM;
                        goto fail;
                }
        }
        if ((log->dir = log_strdup(dir)) == NULL) {
                err = VT_ENOMEM;
                goto fail;
        }
        if (flags & VT_LOG_READONLY)
                err = vt_store_open(dir, VT_STORE_READONLY, &log->rs, d);
        else
                err = vt_store_open(dir, 0, &log->ws, d);
        if (err != 0)
                goto fail;
        s = log->ws != NULL ? log->ws : log->rs;
        if ((err = log_meta_str(s, dir, VT_LOG_META_ORIGIN, &log->origin, d)) != 0 ||
            (err = log_meta_str(s, dir, VT_LOG_META_VKEY, &log->vkey, d)) != 0)
                goto fail;
        if ((err = vt_encoding_note_verifier_parse(log->vkey, strlen(log->vkey), &log->verifier,
                                                   d)) != 0) {
                vt_diag_prefix(d, "log '%s': verifier key", dir);
                err = VT_ECORRUPT;
                goto fail;
        }
        if (strcmp(vt_encoding_note_verifier_name(log->verifier), log->origin) != 0) {
                vt_diag_set(d, "log '%s': the verifier key is not named after the origin '%s'", dir,
                            log->origin);
                err = VT_ECORRUPT;
                goto fail;
        }
        if (!(flags & VT_LOG_READONLY)) {
                if ((keypath = log_path(dir, VT_LOG_KEY_FILE)) == NULL) {
                        err = VT_ENOMEM;
                        goto fail;
                }
                if ((err = vt_crypto_key_load_file(keypath, NULL, &log->key, d)) != 0)
                        goto fail;
                if ((err = vt_encoding_note_vkey(log->origin, log->key, &vk)) != 0 ||
                    strcmp((const char *)vk.p, log->vkey) != 0) {
                        vt_diag_set(d, "'%s' is not the signing key of log '%s' (%s)", keypath,
                                    log->origin, log->vkey);
                        err = VT_ECORRUPT;
                        goto fail;
                }
        }
        if ((err = log_load(log, s, d)) != 0)
                goto fail;
        vt_buf_release(&vk);
        free(keypath);
        *out = log;
        return 0;
fail:
        vt_buf_release(&vk);
        free(keypath);
        log_free(log);
        return err;
}

/* see log.h */
void vt_log_close(struct vt_log *log)
{
        log_free(log);
}

/* see log.h */
const char *vt_log_origin(const struct vt_log *log)
{
        return log->origin;
}

/* see log.h */
const char *vt_log_vkey(const struct vt_log *log)
{
        return log->vkey;
}

/* see log.h */
uint64_t vt_log_size(struct vt_log *log)
{
        uint64_t n;

        pthread_mutex_lock(&log->smu);
        n = log->size;
        pthread_mutex_unlock(&log->smu);
        return n;
}

/* see log.h */
int vt_log_checkpoint(struct vt_log *log, uint64_t *size, struct vt_buf *note, struct vt_diag *d)
{
        int err = 0;

        pthread_mutex_lock(&log->smu);
        if (vt_buf_append(note, log->ckpt.p, log->ckpt.len) != 0) {
                vt_diag_set(d, "out of memory for a checkpoint");
                err = VT_ENOMEM;
        } else if (size != NULL) {
                *size = log->size;
        }
        pthread_mutex_unlock(&log->smu);
        return err;
}

/*
 * Leaf hashes (RFC 9162 §2.1.1) of a batch, shared out in chunks of
 * LOG_HASH_CHUNK entries: a helper thread takes chunks from the start of an
 * append, and the appending thread takes the rest once it has written the
 * batch's bundles (which need no hash), so hashing, the most CPU an append
 * costs, overlaps the copying of the entries to the segment.
 */
#define LOG_HASH_CHUNK 64

struct log_hash_job {
        const uint8_t *const *entries;
        const size_t *lens;
        struct vt_hash *leaves;
        size_t n;
        atomic_size_t next; /* the first entry no thread has taken yet */
        pthread_t th;
        int helper; /* th runs and has not been joined yet */
};

/* Take chunks until none are left. */
static void *log_hash_work(void *p)
{
        struct log_hash_job *j = p;
        size_t lo, hi, i;

        for (;;) {
                lo = atomic_fetch_add(&j->next, LOG_HASH_CHUNK);
                if (lo >= j->n)
                        return NULL;
                hi = j->n - lo < LOG_HASH_CHUNK ? j->n : lo + LOG_HASH_CHUNK;
                for (i = lo; i < hi; i++)
                        vt_merkle_leaf_hash(j->entries[i], j->lens[i], &j->leaves[i]);
        }
}

/*
 * Start hashing: a big batch in a helper thread (if one can be made), which
 * runs on while the caller appends; a small one here and now, before the
 * caller takes the append lock.
 */
static void log_hash_start(struct log_hash_job *j, const uint8_t *const *entries,
                           const size_t *lens, struct vt_hash *leaves, size_t n)
{
        j->entries = entries;
        j->lens = lens;
        j->leaves = leaves;
        j->n = n;
        atomic_init(&j->next, 0);
        j->helper = n >= LOG_PARALLEL_HASH && pthread_create(&j->th, NULL, log_hash_work, j) == 0;
        if (!j->helper)
                log_hash_work(j);
}

/* A job whose n leaves are hashed already (vt_log_submit: by the submitters). */
static void log_hash_ready(struct log_hash_job *j, struct vt_hash *leaves, size_t n)
{
        j->entries = NULL;
        j->lens = NULL;
        j->leaves = leaves;
        j->n = n;
        atomic_init(&j->next, n);
        j->helper = 0;
}

/* Hash what is left in this thread, then wait for the helper: every leaf is done. */
static void log_hash_finish(struct log_hash_job *j)
{
        log_hash_work(j);
        if (j->helper)
                pthread_join(j->th, NULL);
        j->helper = 0;
}

/* Room for k more puts in b. */
static int log_batch_room(struct vt_log_batch *b, size_t k)
{
        struct vt_log_put *p;
        size_t cap;

        if (b->cap - b->nputs >= k)
                return 0;
        cap = b->cap ? b->cap : 64;
        while (cap - b->nputs < k)
                cap *= 2;
        if ((p = vt_util_reallocarray(b->puts, cap, sizeof(*p))) == NULL)
                return VT_ENOMEM;
        b->puts = p;
        b->cap = cap;
        return 0;
}

/* A tile put: the first w hashes of buf, copied into the batch. */
static int log_batch_tile(struct vt_log_batch *b, unsigned l, uint64_t n, unsigned w, int cache,
                          const uint8_t *buf)
{
        size_t off = b->bytes.len, len = (size_t)w * VT_MERKLE_HASH_LEN;

        if (log_batch_room(b, 1) != 0 || vt_buf_append(&b->bytes, buf, len) != 0)
                return VT_ENOMEM;
        b->puts[b->nputs++] = (struct vt_log_put){(int)l, w, cache, n, off, len};
        return 0;
}

/*
 * log_reload(log, d): load the edge from the store again (amu held): after
 * a stored batch failed, or when another process may have appended. Waits
 * for the batch being stored, if any (wmu), and reads inside a write
 * transaction so that no other process commits halfway through.
 */
static int log_reload(struct vt_log *log, struct vt_diag *d)
{
        uint64_t gen;
        int err;

        pthread_mutex_lock(&log->wmu);
        gen = atomic_load(&log->gen);
        if ((err = vt_store_begin(log->ws, d)) == 0) {
                err = log_load(log, log->ws, d);
                vt_store_rollback(log->ws);
        }
        pthread_mutex_unlock(&log->wmu);
        if (err == 0)
                log->agen = gen;
        return err;
}

/*
 * log_prepare(log, entries, lens, hj, n, b, d): stage one of an append
 * (amu held, entries already checked): compute in memory everything the
 * batch's transaction will write, into b: the entry bundles it fills or
 * grows, every tile it changes, and the signed checkpoint of the new size.
 * The edge in memory (I3) moves on to the new size at once, so the next
 * batch can be prepared while this one is stored; if storing fails, the
 * generation changes and the edge is loaded again (log_store_batch).
 * hj->leaves become the leaf hashes (log_hash_finish() is called here).
 */
static int log_prepare(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                       struct log_hash_job *hj, size_t n, struct vt_log_batch *b, struct vt_diag *d)
{
        const struct vt_hash *leaves = hj->leaves;
        struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES];
        unsigned filled[VT_LOG_LEVELS], touched[VT_LOG_LEVELS], l, w;
        uint64_t size0, size, idx, k;
        size_t i, cnt, start, bend, nb;
        uint8_t prefix[2];
        int err;

        if (!log->loaded || log->agen != atomic_load(&log->gen)) {
                if ((err = log_reload(log, d)) != 0)
                        return err;
        }
        size0 = log->wsize;
        if (n > VT_MERKLE_MAX_SIZE - size0) {
                vt_diag_set(d, "log '%s' is full", log->dir);
                return VT_ERANGE;
        }
        size = size0 + n;
        b->size0 = size0;
        b->size = size;
        b->gen = log->agen;
        b->bytes.len = 0;
        b->nputs = 0;
        /* The bundles: the partial one grown, then the new ones (C2SP: uint16 length first). */
        nb = (size_t)((size - 1) / 256 - size0 / 256 + 1);
        if (log_batch_room(b, nb + 2 * VT_LOG_LEVELS) != 0 ||
            vt_buf_append(&b->bytes, log->bundle.p, log->bundle.len) != 0)
                goto nomem;
        start = 0;
        for (i = 0; i < n; i++) {
                idx = size0 + i;
                prefix[0] = (uint8_t)(lens[i] >> 8);
                prefix[1] = (uint8_t)lens[i];
                if (vt_buf_append(&b->bytes, prefix, 2) != 0 ||
                    vt_buf_append(&b->bytes, entries[i], lens[i]) != 0)
                        goto nomem;
                if ((idx & 255) == 255) {
                        b->puts[b->nputs++] = (struct vt_log_put){
                            VT_MERKLE_TILE_ENTRIES, 256, 0, idx >> 8, start, b->bytes.len - start};
                        start = b->bytes.len;
                }
        }
        bend = b->bytes.len;
        w = (unsigned)(size & 255);
        if (w != 0)
                b->puts[b->nputs++] = (struct vt_log_put){
                    VT_MERKLE_TILE_ENTRIES, w, 0, size >> 8, start, bend - start};
        /* The hashes: each leaf's, and those of every subtree it completes. */
        log_hash_finish(hj);
        for (l = 0; l < VT_LOG_LEVELS; l++)
                filled[l] = touched[l] = 0;
        for (i = 0; i < n; i++) {
                idx = size0 + i;
                if ((err = vt_merkle_frontier_append(&log->front, &leaves[i], out, &cnt)) != 0)
                        goto broken;
                for (l = 0; l < VT_LOG_LEVELS && 8 * l < cnt; l++) {
                        k = idx >> (8 * l);
                        memcpy(log->lv[l].buf + (k & 255) * VT_MERKLE_HASH_LEN, out[8 * l].b,
                               VT_MERKLE_HASH_LEN);
                        touched[l] = 1;
                        if ((k & 255) == 255) {
                                /* The first tile that fills at a level goes to the proof cache. */
                                if (log_batch_tile(b, l, k >> 8, 256, filled[l]++ == 0,
                                                   log->lv[l].buf) != 0)
                                        goto nomem_broken;
                        }
                }
        }
        /* The partial tiles that grew. */
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                w = (unsigned)((size >> (8 * l)) & 255);
                if (touched[l] && w != 0 &&
                    log_batch_tile(b, l, vt_log_shr(size, 8 * (l + 1)), w, 1, log->lv[l].buf) != 0)
                        goto nomem_broken;
        }
        /* The new partial bundle stays in memory for the next batch. */
        log->bundle.len = 0;
        if ((size & 255) != 0 && vt_buf_append(&log->bundle, b->bytes.p + start, bend - start) != 0)
                goto nomem_broken;
        vt_merkle_frontier_root(&log->front, &b->root);
        if ((err = log_sign(log->origin, log->key, size, &b->root, &b->note, d)) != 0)
                goto broken;
        log->wsize = size;
        return 0;
nomem:
        vt_diag_set(d, "out of memory for a batch of %zu entries", n);
        return VT_ENOMEM;
nomem_broken:
        vt_diag_set(d, "out of memory for a batch of %zu entries", n);
        err = VT_ENOMEM;
broken:
        /* The frontier or the tiles moved: load them again before the next batch. */
        log->loaded = 0;
        return err;
}

/* log_store_batch(): a prepared batch must be prepared again (see log_append_run). */
#define LOG_REPREPARE (-1000)

/*
 * log_store_batch(log, b, users, n, first, d): stage two (wmu held): b's
 * transaction, the batch hook's rows in it (users, n), and its commit
 * (I2). I4: the store must still be where b was prepared (no other process
 * appended, no earlier batch of ours failed since), otherwise nothing is
 * written and LOG_REPREPARE is returned. Once committed, the new state is
 * published, and its tiles handed to the proof cache first.
 */
static int log_store_batch(struct vt_log *log, const struct vt_log_batch *b, void *const *users,
                           size_t n, uint64_t *first, struct vt_diag *d)
{
        const struct vt_log_put *p;
        uint64_t tsize;
        size_t i;
        int err;

        if ((err = vt_store_begin(log->ws, d)) != 0)
                goto failed;
        log->wtmp.len = 0;
        if ((err = vt_store_checkpoint_latest(log->ws, &tsize, &log->wtmp, d)) != 0)
                goto fail;
        if (b->gen != atomic_load(&log->gen)) {
                /* Prepared on a batch that failed: the edge is being loaded again already. */
                vt_store_rollback(log->ws);
                return LOG_REPREPARE;
        }
        if (tsize != b->size0) {
                /* Another process appended: the edge in memory must be loaded again. */
                vt_store_rollback(log->ws);
                atomic_fetch_add(&log->gen, 1);
                return LOG_REPREPARE;
        }
        for (i = 0; i < b->nputs; i++) {
                p = &b->puts[i];
                err = p->level == VT_MERKLE_TILE_ENTRIES
                          ? vt_store_bundle_put(log->ws, p->n, p->width, b->bytes.p + p->off,
                                                p->len, d)
                          : vt_store_tile_put(log->ws, (unsigned)p->level, p->n, p->width,
                                              b->bytes.p + p->off, p->len, d);
                if (err != 0)
                        goto fail;
        }
        /* What the caller stores with these entries (vt_log_set_batch_hook), same transaction. */
        if (log->hook != NULL &&
            (err = log->hook(log->hook_ctx, log->ws, b->size0, users, n, d)) != 0)
                goto fail;
        if ((err = vt_store_checkpoint_put(log->ws, b->size, b->note.p, b->note.len, d)) != 0)
                goto fail;
        if ((err = vt_store_commit(log->ws, d)) != 0) {
                vt_store_rollback(log->ws);
                goto failed;
        }
        /*
         * Durable. Hand the new right edge to the proof cache before the size
         * is published, so a proof for an entry of this batch reads no tile
         * from the store.
         */
        for (i = 0; i < b->nputs; i++) {
                p = &b->puts[i];
                if (p->cache)
                        vt_log_xcache_put(log, (unsigned)p->level, p->n, p->width,
                                          b->bytes.p + p->off);
        }
        if (log_publish(log, b->size, &b->root, b->note.p, b->note.len) != 0) {
                /* The state is durable; only the copy of the note is missing: reload it. */
                atomic_fetch_add(&log->gen, 1);
        }
        *first = b->size0;
        return 0;
fail:
        vt_store_rollback(log->ws);
failed:
        /* Every batch prepared on top of this one is void: prepare again from the store. */
        atomic_fetch_add(&log->gen, 1);
        return err;
}

/* ---- a stream's order (struct vt_log_turn, log_int.h) ------------------------- */

/* Wait until it is ticket's turn to be prepared. */
static void log_turn_wait(struct vt_log_turn *t, uint64_t ticket)
{
        pthread_mutex_lock(&t->mu);
        while (t->next != ticket)
                pthread_cond_wait(&t->cv, &t->mu);
        pthread_mutex_unlock(&t->mu);
}

/* The next ticket's turn (called by the batch whose turn it is). */
static void log_turn_pass(struct vt_log_turn *t)
{
        pthread_mutex_lock(&t->mu);
        t->next++;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
}

/*
 * log_turn_fail(log, t, ticket, err, d): batch ticket of the stream fails
 * (called under the lock it holds, amu or wmu): with err and its diagnostic
 * if it is the first to fail, else, or for err 0 (not tried) or
 * LOG_REPREPARE, with VT_ELOGSTATE naming the first failed batch. Returns
 * the code the batch fails with.
 */
static int log_turn_fail(struct vt_log *log, struct vt_log_turn *t, uint64_t ticket, int err,
                         struct vt_diag *d)
{
        uint64_t at;

        pthread_mutex_lock(&t->mu);
        if (!atomic_load(&t->failed)) {
                t->failed_at = ticket;
                atomic_store(&t->failed, 1);
        }
        at = t->failed_at;
        pthread_mutex_unlock(&t->mu);
        if (at == ticket && err == LOG_REPREPARE) {
                vt_diag_set(d,
                            "log '%s': another process appended while batch %llu of the stream "
                            "was prepared",
                            log->dir, (unsigned long long)ticket);
                return VT_EBUSY;
        }
        if (at == ticket && err != 0)
                return err;
        vt_diag_set(d,
                    "log '%s': batch %llu of the stream not appended: batch %llu failed before it",
                    log->dir, (unsigned long long)ticket, (unsigned long long)at);
        return VT_ELOGSTATE;
}

/*
 * log_append_run(log, entries, lens, hj, users, n, turn, ticket, first, d): one batch,
 * prepared (amu) and stored (wmu). The locks overlap (wmu is taken before
 * amu is let go), so batches are stored in the order they were prepared,
 * and the next batch is prepared while this one is stored: its hashing,
 * tiles and signature overlap this one's writes and syncs. A batch whose
 * ground moved (an earlier one failed, or another process appended) is
 * prepared again, a few times at most.
 */
static int log_append_run(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                          struct log_hash_job *hj, void *const *users, size_t n,
                          struct vt_log_turn *turn, uint64_t ticket, uint64_t *first,
                          struct vt_diag *d)
{
        struct vt_log_batch *b;
        int err, tries;

        if (turn != NULL)
                log_turn_wait(turn, ticket);
        for (tries = 0;; tries++) {
                pthread_mutex_lock(&log->amu);
                if (turn != NULL && atomic_load(&turn->failed)) {
                        /* An earlier batch of the stream failed: this one is not appended. */
                        err = log_turn_fail(log, turn, ticket, 0, d);
                        log_turn_pass(turn);
                        pthread_mutex_unlock(&log->amu);
                        return err;
                }
                /*
                 * The slot the last prepared batch did not take: that one may
                 * still be being stored, this one is free (only a batch
                 * that goes on to be stored moves bnext).
                 */
                b = &log->batch[log->bnext];
                err = log_prepare(log, entries, lens, hj, n, b, d);
                if (turn != NULL) {
                        if (err != 0)
                                err = log_turn_fail(log, turn, ticket, err, d);
                        log_turn_pass(turn);
                }
                if (err != 0) {
                        pthread_mutex_unlock(&log->amu);
                        return err;
                }
                log->bnext ^= 1;
                pthread_mutex_lock(&log->wmu);
                pthread_mutex_unlock(&log->amu);
                err = log_store_batch(log, b, users, n, first, d);
                if (turn != NULL && err != 0)
                        err = log_turn_fail(log, turn, ticket, err, d); /* never prepared again */
                pthread_mutex_unlock(&log->wmu);
                if (err != LOG_REPREPARE)
                        return err;
                if (tries == 3) {
                        vt_diag_set(d, "log '%s': the tree kept changing under the batch",
                                    log->dir);
                        return VT_EBUSY;
                }
        }
}

static int log_entries_check(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                             size_t n, struct vt_diag *d)
{
        size_t i;

        if (log->ws == NULL) {
                vt_diag_set(d, "log '%s' is open read-only", log->dir);
                return VT_EINVAL;
        }
        if (n == 0) {
                vt_diag_set(d, "no entries to append");
                return VT_EINVAL;
        }
        for (i = 0; i < n; i++) {
                if (lens[i] == 0 || entries[i] == NULL) {
                        vt_diag_set(d, "entry %zu is empty (entries are 1..%d bytes)", i,
                                    VT_LOG_ENTRY_MAX);
                        return VT_EINVAL;
                }
                if (lens[i] > VT_LOG_ENTRY_MAX) {
                        vt_diag_set(d, "entry %zu has %zu bytes, more than %d", i, lens[i],
                                    VT_LOG_ENTRY_MAX);
                        return VT_ETOOBIG;
                }
        }
        return 0;
}

/* see log.h */
int vt_log_append(struct vt_log *log, const uint8_t *const *entries, const size_t *lens, size_t n,
                  uint64_t *first, struct vt_diag *d)
{
        return vt_log_append_ex(log, entries, lens, NULL, NULL, n, first, d);
}

/*
 * A batch of a stream that fails before it is prepared (bad entries, no
 * memory): it still takes its turn, marks the stream failed and passes the
 * turn on, so the batches after it do not wait for it forever.
 */
static int log_turn_skip(struct vt_log *log, struct vt_log_turn *turn, uint64_t ticket, int err,
                         struct vt_diag *d)
{
        log_turn_wait(turn, ticket);
        pthread_mutex_lock(&log->amu);
        err = log_turn_fail(log, turn, ticket, err, d);
        log_turn_pass(turn);
        pthread_mutex_unlock(&log->amu);
        return err;
}

/* vt_log_append_ex(), as batch ticket of turn if turn is not NULL. */
static int log_append_common(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                             const struct vt_hash *given, void *const *users, size_t n,
                             struct vt_log_turn *turn, uint64_t ticket, uint64_t *first,
                             struct vt_diag *d)
{
        struct log_hash_job hj;
        struct vt_hash *leaves = NULL;
        uint64_t f = 0;
        int err;

        if ((err = log_entries_check(log, entries, lens, n, d)) != 0)
                goto skip;
        if ((leaves = vt_util_reallocarray(NULL, n, sizeof(*leaves))) == NULL) {
                vt_diag_set(d, "out of memory for %zu leaf hashes", n);
                err = VT_ENOMEM;
                goto skip;
        }
        if (given != NULL) {
                memcpy(leaves, given, n * sizeof(*leaves));
                log_hash_ready(&hj, leaves, n);
        } else {
                /* The helper starts hashing now, while we may still wait for the lock. */
                log_hash_start(&hj, entries, lens, leaves, n);
        }
        err = log_append_run(log, entries, lens, &hj, users, n, turn, ticket, &f, d);
        if (err != 0)
                atomic_store(&hj.next, n); /* what is not hashed yet never will be needed */
        log_hash_finish(&hj);
        free(leaves);
        if (err == 0)
                *first = f;
        return err;
skip:
        return turn != NULL ? log_turn_skip(log, turn, ticket, err, d) : err;
}

/* see log.h */
int vt_log_append_ex(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                     const struct vt_hash *given, void *const *users, size_t n, uint64_t *first,
                     struct vt_diag *d)
{
        return log_append_common(log, entries, lens, given, users, n, NULL, 0, first, d);
}

/* see log_int.h */
int vt_log_append_turn(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                       size_t n, struct vt_log_turn *turn, uint64_t ticket, uint64_t *first,
                       struct vt_diag *d)
{
        return log_append_common(log, entries, lens, NULL, NULL, n, turn, ticket, first, d);
}

/* see log.h */
void vt_log_set_batching(struct vt_log *log, size_t max_entries, size_t max_bytes,
                         unsigned linger_us)
{
        pthread_mutex_lock(&log->qmu);
        log->max_entries = max_entries > 0 ? max_entries : 1;
        log->max_bytes = max_bytes > 0 ? max_bytes : 1;
        log->linger_us = linger_us;
        pthread_mutex_unlock(&log->qmu);
}

/* Deadline linger_us from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
static void log_deadline(struct timespec *ts, unsigned us)
{
        clock_gettime(CLOCK_REALTIME, ts);
        ts->tv_nsec += (long)(us % 1000000) * 1000;
        ts->tv_sec += us / 1000000 + ts->tv_nsec / 1000000000;
        ts->tv_nsec %= 1000000000;
}

/* see log.h */
void vt_log_set_batch_hook(struct vt_log *log, vt_log_batch_fn fn, void *ctx)
{
        pthread_mutex_lock(&log->wmu);
        log->hook = fn;
        log->hook_ctx = ctx;
        pthread_mutex_unlock(&log->wmu);
}

/* vt_log_submit() and vt_log_submit_ex(): group commit (see the top of this file). */
static int log_submit(struct vt_log *log, const uint8_t *entry, size_t len, void *user,
                      uint64_t *index, struct vt_diag *d)
{
        struct vt_log_req req, *r, *last;
        struct vt_diag bd = {""};
        struct timespec ts;
        size_t m, bytes, cap;
        uint64_t first = 0;
        int err;

        if ((err = log_entries_check(log, &entry, &len, 1, d)) != 0)
                return err;
        memset(&req, 0, sizeof(req));
        req.p = entry;
        req.len = len;
        req.user = user;
        vt_merkle_leaf_hash(entry, len, &req.leaf); /* in our thread, outside every lock */
        pthread_cond_init(&req.cv, NULL);

        pthread_mutex_lock(&log->qmu);
        if (log->qtail != NULL)
                log->qtail->next = &req;
        else
                log->qhead = &req;
        log->qtail = &req;
        log->qcount++;
        if (log->qhead != &req)
                pthread_cond_signal(&log->qcv); /* a lingering leader may be waiting for us */
        while (!req.done && log->qhead != &req)
                pthread_cond_wait(&req.cv, &log->qmu);
        if (req.done)
                goto done;

        /* We lead: wait a little for company if asked to, then take a batch. */
        if (log->linger_us > 0 && log->qcount < log->max_entries) {
                log_deadline(&ts, log->linger_us);
                while (log->qcount < log->max_entries &&
                       pthread_cond_timedwait(&log->qcv, &log->qmu, &ts) == 0)
                        ;
        }
        m = 0;
        bytes = 0;
        last = NULL;
        for (r = log->qhead; r != NULL && m < log->max_entries; r = r->next) {
                if (m > 0 && bytes + r->len > log->max_bytes)
                        break;
                if (m == log->gcap) {
                        cap = log->gcap ? 2 * log->gcap : 64;
                        const uint8_t **gp = vt_util_reallocarray(log->gp, cap, sizeof(*gp));
                        if (gp != NULL)
                                log->gp = gp;
                        size_t *gl = vt_util_reallocarray(log->gl, cap, sizeof(*gl));
                        if (gl != NULL)
                                log->gl = gl;
                        void **gu = vt_util_reallocarray(log->gu, cap, sizeof(*gu));
                        if (gu != NULL)
                                log->gu = gu;
                        struct vt_hash *gh = vt_util_reallocarray(log->gh, cap, sizeof(*gh));
                        if (gh != NULL)
                                log->gh = gh;
                        if (gp == NULL || gl == NULL || gu == NULL || gh == NULL)
                                break; /* a smaller batch, then */
                        log->gcap = cap;
                }
                log->gp[m] = r->p;
                log->gl[m] = r->len;
                log->gu[m] = r->user;
                log->gh[m] = r->leaf;
                bytes += r->len;
                m++;
                last = r;
        }
        if (m == 0) {
                /* Not even room for our own entry. */
                err = VT_ENOMEM;
                vt_diag_set(&bd, "out of memory for a batch");
                last = &req;
                m = 1;
        } else {
                struct log_hash_job hj;

                /*
                 * The lead is kept until the batch is stored: the next batch
                 * gathers what queues meanwhile. (Handing it on after the
                 * preparation made every batch tiny: each one then paid a
                 * whole commit for a few entries.)
                 */
                log_hash_ready(&hj, log->gh, m);
                pthread_mutex_unlock(&log->qmu);
                err = log_append_run(log, log->gp, log->gl, &hj, (void *const *)log->gu, m, NULL, 0,
                                     &first, &bd);
                pthread_mutex_lock(&log->qmu);
        }
        /* Answer the batch (ourselves first in the queue) and pass the lead on. */
        r = log->qhead;
        for (size_t i = 0; i < m; i++) {
                struct vt_log_req *next = r->next;

                r->err = err;
                r->index = first + i;
                if (err != 0)
                        r->diag = bd;
                r->done = 1;
                if (r != &req)
                        pthread_cond_signal(&r->cv);
                if (r == last) {
                        log->qhead = next;
                        break;
                }
                r = next;
        }
        if (log->qhead == NULL)
                log->qtail = NULL;
        log->qcount -= m;
        if (log->qhead != NULL)
                pthread_cond_signal(&log->qhead->cv);
done:
        pthread_mutex_unlock(&log->qmu);
        pthread_cond_destroy(&req.cv);
        if (req.err != 0) {
                if (d != NULL)
                        *d = req.diag;
                return req.err;
        }
        *index = req.index;
        return 0;
}

/* see log.h */
int vt_log_submit(struct vt_log *log, const uint8_t *entry, size_t len, uint64_t *index,
                  struct vt_diag *d)
{
        return log_submit(log, entry, len, NULL, index, d);
}

/* see log.h */
int vt_log_submit_ex(struct vt_log *log, const uint8_t *entry, size_t len, void *user,
                     uint64_t *index, struct vt_diag *d)
{
        return log_submit(log, entry, len, user, index, d);
}
