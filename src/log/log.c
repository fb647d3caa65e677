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
 *       partial bundle) and the frontier (merkle.h) mirror the store at
 *       wsize, so an append reads nothing from the tree. They change only
 *       after a commit succeeded; a failed batch leaves them as they were
 *       (see struct vt_log_level).
 *   I4  An append first checks, inside its transaction, that the store's
 *       latest checkpoint still has size wsize (another process could have
 *       appended); if not, it reloads the edge under the same transaction.
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
        memcpy(buf, f->log->lv[l].buf[f->log->lv[l].cur], (size_t)w * VT_MERKLE_HASH_LEN);
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
                memcpy(log->lv[l].buf[log->lv[l].cur], tmp.p, tmp.len);
        }
        /* The partial entry bundle, checked against the leaf hashes. */
        w = (unsigned)(size & 255);
        log->bundle[log->bcur].len = 0;
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
                                           (const struct vt_hash *)log->lv[0].buf[log->lv[0].cur],
                                           d) != 0) {
                        vt_diag_prefix(d, "log '%s': entry bundle %s", log->dir, name);
                        err = VT_ECORRUPT;
                        goto out;
                }
                if (vt_buf_append(&log->bundle[log->bcur], tmp.p, tmp.len) != 0) {
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
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                free(log->lv[l].buf[0]);
                free(log->lv[l].buf[1]);
        }
        vt_buf_release(&log->bundle[0]);
        vt_buf_release(&log->bundle[1]);
        vt_buf_release(&log->note);
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
        pthread_mutex_init(&log->wmu, NULL);
        pthread_mutex_init(&log->rmu, NULL);
        pthread_mutex_init(&log->smu, NULL);
        pthread_mutex_init(&log->qmu, NULL);
        pthread_cond_init(&log->qcv, NULL);
        vt_buf_init(&vk);
        log->flags = flags;
        log->max_entries = LOG_DEFAULT_MAX_ENTRIES;
        log->max_bytes = LOG_DEFAULT_MAX_BYTES;
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                log->lv[l].buf[0] = malloc(VT_MERKLE_TILE_BYTES);
                log->lv[l].buf[1] = malloc(VT_MERKLE_TILE_BYTES);
                if (log->lv[l].buf[0] == NULL || log->lv[l].buf[1] == NULL) {
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

/*
 * log_append_locked(log, entries, lens, hj, users, n, first, d): the batch
 * (wmu held, entries already checked). hj->leaves[i] becomes the leaf hash
 * of entries[i]: hashing may be under way in a helper thread, and
 * log_hash_finish(hj) is called before the tree needs them (the caller calls
 * it again, a no-op then, in case we failed before). users (NULL for
 * vt_log_append) goes to the batch hook. See the invariants at the top.
 *
 * The bundles are written first: their bytes go to the segment, and the
 * disk starts writing them (segment.c), while the leaves are hashed and the
 * tiles built; the commit's sync then waits for little.
 */
static int log_append_locked(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                             struct log_hash_job *hj, void *const *users, size_t n, uint64_t *first,
                             struct vt_diag *d)
{
        const struct vt_hash *leaves = hj->leaves;
        struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], root;
        struct vt_merkle_frontier saved;
        int started = 0;
        unsigned act[VT_LOG_LEVELS], touched[VT_LOG_LEVELS], filled[VT_LOG_LEVELS];
        uint64_t fill_n[VT_LOG_LEVELS];
        unsigned bact, l, w;
        size_t i, cnt, blen0;
        uint64_t size0, size, idx, k, tsize;
        uint8_t prefix[2];
        struct vt_buf *b;
        int err;

        if ((err = vt_store_begin(log->ws, d)) != 0)
                return err;
        /* I4: has anyone else grown the tree since we loaded it? */
        log->wtmp.len = 0;
        if ((err = vt_store_checkpoint_latest(log->ws, &tsize, &log->wtmp, d)) != 0)
                goto fail;
        if (!log->loaded || tsize != log->wsize) {
                if ((err = log_load(log, log->ws, d)) != 0)
                        goto fail;
        }
        size0 = log->wsize;
        if (n > VT_MERKLE_MAX_SIZE - size0) {
                vt_diag_set(d, "log '%s' is full", log->dir);
                err = VT_ERANGE;
                goto fail;
        }
        saved = log->front;
        blen0 = log->bundle[log->bcur].len;
        started = 1;
        bact = log->bcur;
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                act[l] = log->lv[l].cur;
                touched[l] = 0;
                filled[l] = 0;
                fill_n[l] = 0;
        }

        /* The entries into the bundles (C2SP: uint16 big-endian length before each). */
        for (i = 0; i < n; i++) {
                idx = size0 + i;
                b = &log->bundle[bact];
                prefix[0] = (uint8_t)(lens[i] >> 8);
                prefix[1] = (uint8_t)lens[i];
                if (vt_buf_append(b, prefix, 2) != 0 ||
                    vt_buf_append(b, entries[i], lens[i]) != 0) {
                        err = VT_ENOMEM;
                        goto fail;
                }
                if ((idx & 255) == 255) {
                        if ((err = vt_store_bundle_put(log->ws, idx >> 8, 256, b->p, b->len, d)) !=
                            0)
                                goto fail;
                        if (bact == log->bcur)
                                bact = 1 - log->bcur;
                        log->bundle[bact].len = 0;
                }
        }
        w = (unsigned)((size0 + n) & 255);
        if (w != 0 && (err = vt_store_bundle_put(log->ws, (size0 + n) >> 8, w, log->bundle[bact].p,
                                                 log->bundle[bact].len, d)) != 0)
                goto fail;
        /* The hashes: each leaf's, and those of every subtree it completes. */
        log_hash_finish(hj);
        for (i = 0; i < n; i++) {
                idx = size0 + i;
                if ((err = vt_merkle_frontier_append(&log->front, &leaves[i], out, &cnt)) != 0)
                        goto fail;
                for (l = 0; l < VT_LOG_LEVELS && 8 * l < cnt; l++) {
                        k = idx >> (8 * l);
                        memcpy(log->lv[l].buf[act[l]] + (k & 255) * VT_MERKLE_HASH_LEN,
                               out[8 * l].b, VT_MERKLE_HASH_LEN);
                        touched[l] = 1;
                        if ((k & 255) == 255) {
                                if ((err = vt_store_tile_put(log->ws, l, k >> 8, 256,
                                                             log->lv[l].buf[act[l]],
                                                             VT_MERKLE_TILE_BYTES, d)) != 0)
                                        goto fail;
                                if (filled[l]++ == 0)
                                        fill_n[l] = k >> 8; /* stays in buf[cur] (see below) */
                                act[l] = 1 - log->lv[l].cur;
                        }
                }
        }
        size = size0 + n;
        /* The partial tiles and bundle that grew. */
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                w = (unsigned)((size >> (8 * l)) & 255);
                if (touched[l] && w != 0 &&
                    (err = vt_store_tile_put(log->ws, l, vt_log_shr(size, 8 * (l + 1)), w,
                                             log->lv[l].buf[act[l]], (size_t)w * VT_MERKLE_HASH_LEN,
                                             d)) != 0)
                        goto fail;
        }
        /* What the caller stores with these entries (vt_log_set_batch_hook), same transaction. */
        if (log->hook != NULL && (err = log->hook(log->hook_ctx, log->ws, size0, users, n, d)) != 0)
                goto fail;
        /* The checkpoint of the new size, in the same transaction. */
        vt_merkle_frontier_root(&log->front, &root);
        if ((err = log_sign(log->origin, log->key, size, &root, &log->note, d)) != 0 ||
            (err = vt_store_checkpoint_put(log->ws, size, log->note.p, log->note.len, d)) != 0)
                goto fail;
        if ((err = vt_store_commit(log->ws, d)) != 0) {
                vt_store_rollback(log->ws);
                goto undo;
        }
        /* Durable: now the memory may move on (I3). */
        for (l = 0; l < VT_LOG_LEVELS; l++)
                log->lv[l].cur = act[l];
        if (bact != log->bcur) {
                log->bundle[log->bcur].len = 0;
                log->bcur = bact;
        }
        log->wsize = size;
        /*
         * Hand the new right edge to the proof cache before the size is
         * published, so a proof for an entry of this batch reads no tile
         * from the store. The first tile of each level that filled up in
         * this batch is still whole in the buffer the batch started with
         * (later ones went to the other buffer); the partial tiles are in
         * buf[cur].
         */
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                if (filled[l] > 0)
                        vt_log_xcache_put(log, l, fill_n[l], VT_MERKLE_TILE_WIDTH,
                                          log->lv[l].buf[1 - log->lv[l].cur]);
                w = (unsigned)((size >> (8 * l)) & 255);
                if (touched[l] && w != 0)
                        vt_log_xcache_put(log, l, vt_log_shr(size, 8 * (l + 1)), w,
                                          log->lv[l].buf[log->lv[l].cur]);
        }
        if (log_publish(log, size, &root, log->note.p, log->note.len) != 0) {
                /* The state is durable; only the copy of the note is missing. */
                log->loaded = 0;
        }
        *first = size0;
        return 0;
fail:
        vt_store_rollback(log->ws);
undo:
        if (started && log->loaded) {
                log->front = saved;
                log->bundle[log->bcur].len = blen0;
        }
        return err;
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

/* see log.h */
int vt_log_append_ex(struct vt_log *log, const uint8_t *const *entries, const size_t *lens,
                     const struct vt_hash *given, void *const *users, size_t n, uint64_t *first,
                     struct vt_diag *d)
{
        struct log_hash_job hj;
        struct vt_hash *leaves;
        uint64_t f = 0;
        int err;

        if ((err = log_entries_check(log, entries, lens, n, d)) != 0)
                return err;
        if ((leaves = vt_util_reallocarray(NULL, n, sizeof(*leaves))) == NULL) {
                vt_diag_set(d, "out of memory for %zu leaf hashes", n);
                return VT_ENOMEM;
        }
        if (given != NULL) {
                memcpy(leaves, given, n * sizeof(*leaves));
                log_hash_ready(&hj, leaves, n);
        } else {
                /* The helper starts hashing now, while we may still wait for the lock. */
                log_hash_start(&hj, entries, lens, leaves, n);
        }
        pthread_mutex_lock(&log->wmu);
        err = log_append_locked(log, entries, lens, &hj, users, n, &f, d);
        pthread_mutex_unlock(&log->wmu);
        if (err != 0)
                atomic_store(&hj.next, n); /* what is not hashed yet never will be needed */
        log_hash_finish(&hj);
        free(leaves);
        if (err == 0)
                *first = f;
        return err;
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

                log_hash_ready(&hj, log->gh, m);
                pthread_mutex_unlock(&log->qmu);
                pthread_mutex_lock(&log->wmu);
                err = log_append_locked(log, log->gp, log->gl, &hj, (void *const *)log->gu, m,
                                        &first, &bd);
                pthread_mutex_unlock(&log->wmu);
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
