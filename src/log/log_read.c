/*
 * log_read.c: reading the log: entries, tiles, tree hashes and RFC 9162
 * proofs (§2.1.3.1 inclusion, §2.1.4.1 consistency).
 *
 * Every hash comes from the stored tiles: there is no second copy of the
 * tree. A stored hash (level, k) lies in tile (level / 8, (k << level % 8) >> 8)
 * and is the root of 2^(level % 8) consecutive hashes of that tile, so it
 * is computed from the tile. To avoid redoing that work, read tiles are
 * kept "expanded": the tile's hashes and every complete subtree hash above
 * them inside the tile (at most 511 hashes, 16 KiB), in a small cache of
 * LOG_XSLOTS tiles (2 MiB). Upper-level tiles are few and stay cached; a
 * proof then costs one tile read and at most 255 node hashes for its level-0
 * tile, nothing when that tile is cached too (recent entries). Many proofs
 * of one size (vt_log_prove_inclusion_many: a batch reply's bundles) are
 * made under one lock by one vt_merkle_prover, which reads the siblings
 * they share once. A cached tile
 * stays valid as the log grows: a complete subtree's hash never changes, and
 * a tile that is still partial is read again when a wider one is needed.
 *
 * Reads use their own store connection
 * (opened at the first read), so they run beside a commit; they only ask for
 * what lies within the published size, which the store already holds (a
 * batch commits before its size is published; tiles and bundles only grow,
 * and a partial one is a prefix of every later version of it).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"

/* see log_int.h */
int vt_log_read_lock(struct vt_log *log, struct vt_store **s, struct vt_diag *d)
{
        int err;

        pthread_mutex_lock(&log->rmu);
        if (log->rs == NULL &&
            (err = vt_store_open(log->dir, VT_STORE_READONLY, &log->rs, d)) != 0) {
                pthread_mutex_unlock(&log->rmu);
                return err;
        }
        *s = log->rs;
        return 0;
}

/* see log_int.h */
void vt_log_read_unlock(struct vt_log *log)
{
        pthread_mutex_unlock(&log->rmu);
}

/* Where sub-level j of an expanded tile starts: 256 + 128 + ... (512 - (512 >> j)). */
#define XOFF(j) (512u - (512u >> (j)))

/* The cache slot of tile (level, n): a quarter of the slots for the few upper tiles. */
static unsigned log_xslot(unsigned level, uint64_t n)
{
        if (level > 0)
                return (unsigned)((n * 8 + level) % (VT_LOG_XSLOTS / 4));
        return VT_LOG_XSLOTS / 4 + (unsigned)(n % (VT_LOG_XSLOTS - VT_LOG_XSLOTS / 4));
}

/*
 * Expand hashes [w0, w) of x (the first w0 and the subtrees above them are
 * there already): every complete subtree hash inside the tile that the new
 * hashes finish.
 */
static void log_xexpand(struct vt_log_xtile *x, unsigned w0, unsigned w)
{
        unsigned j, i;

        for (j = 1; j <= VT_MERKLE_TILE_HEIGHT; j++)
                for (i = w0 >> j; i < (w >> j); i++)
                        vt_merkle_node_hash(&x->h[XOFF(j - 1) + 2 * i],
                                            &x->h[XOFF(j - 1) + 2 * i + 1], &x->h[XOFF(j) + i]);
}

/*
 * The expanded tile (level, n) with at least need hashes, from the cache or
 * read through s and expanded (rmu held).
 */
static int log_xtile(struct vt_log *log, struct vt_store *s, unsigned level, uint64_t n,
                     unsigned need, const struct vt_log_xtile **out, struct vt_diag *d)
{
        struct vt_log_xtile *x;
        char name[64];
        unsigned w = 0;
        int err;

        if (log->xcache == NULL &&
            (log->xcache = calloc(VT_LOG_XSLOTS, sizeof(*log->xcache))) == NULL)
                return VT_ENOMEM;
        x = &log->xcache[log_xslot(level, n)];
        if (x->width >= need && x->level == level && x->n == n) {
                *out = x;
                return 0;
        }
        log->rtmp.len = 0;
        err = vt_store_tile_get(s, level, n, &w, &log->rtmp, d);
        vt_log_tile_name((int)level, n, need, name, sizeof(name));
        if (err == VT_ENOENT) {
                vt_diag_set(d, "tile %s is missing from the store", name);
                return VT_ECORRUPT;
        }
        if (err != 0)
                return err;
        if (w < need || w > VT_MERKLE_TILE_WIDTH ||
            log->rtmp.len != (size_t)w * VT_MERKLE_HASH_LEN) {
                vt_diag_set(d, "tile %s: the store holds %u hashes", name, w);
                return VT_ECORRUPT;
        }
        x->width = 0; /* invalid until complete */
        memcpy(x->h, log->rtmp.p, log->rtmp.len);
        log_xexpand(x, 0, w);
        x->level = level;
        x->n = n;
        x->width = w;
        *out = x;
        return 0;
}

/* see log_int.h */
void vt_log_xcache_put(struct vt_log *log, unsigned level, uint64_t n, unsigned w,
                       const uint8_t *hashes)
{
        struct vt_log_xtile *x;
        unsigned w0 = 0;

        if (w == 0 || w > VT_MERKLE_TILE_WIDTH || level >= VT_LOG_LEVELS)
                return;
        pthread_mutex_lock(&log->rmu);
        if (log->xcache == NULL &&
            (log->xcache = calloc(VT_LOG_XSLOTS, sizeof(*log->xcache))) == NULL) {
                pthread_mutex_unlock(&log->rmu); /* no cache: proofs read the store */
                return;
        }
        x = &log->xcache[log_xslot(level, n)];
        if (x->width > 0 && x->level == level && x->n == n) {
                if (x->width >= w)
                        goto out;
                w0 = x->width; /* a prefix of the same tile: only the new part */
        }
        x->width = 0; /* invalid until complete */
        memcpy(x->h[w0].b, hashes + (size_t)w0 * VT_MERKLE_HASH_LEN,
               (size_t)(w - w0) * VT_MERKLE_HASH_LEN);
        log_xexpand(x, w0, w);
        x->level = level;
        x->n = n;
        x->width = w;
out:
        pthread_mutex_unlock(&log->rmu);
}

/* The vt_merkle_read_fn over the expanded tiles. */
struct log_xread {
        struct vt_log *log;
        struct vt_store *s;
        struct vt_diag *d;
};

static int log_xread(void *ctx, const int64_t *indexes, size_t n, struct vt_hash *out)
{
        struct log_xread *r = ctx;
        const struct vt_log_xtile *x;
        unsigned level, j;
        uint64_t k, first;
        size_t i;
        int err;

        for (i = 0; i < n; i++) {
                vt_merkle_stored_split(indexes[i], &level, &k);
                j = level % VT_MERKLE_TILE_HEIGHT;
                first = k << j; /* the first tile-level hash under (level, k) */
                if (level / VT_MERKLE_TILE_HEIGHT >= VT_LOG_LEVELS)
                        return VT_ERANGE;
                if ((err = log_xtile(r->log, r->s, level / VT_MERKLE_TILE_HEIGHT, first >> 8,
                                     (unsigned)(first & 255) + (1u << j), &x, r->d)) != 0)
                        return err;
                out[i] = x->h[XOFF(j) + (unsigned)((first & 255) >> j)];
        }
        return 0;
}

/* Size argument: 0 means the published size; past it is VT_ERANGE. */
static int log_size_arg(struct vt_log *log, uint64_t *size, const char *what, struct vt_diag *d)
{
        uint64_t n = vt_log_size(log);

        if (*size == 0)
                *size = n;
        if (*size > n) {
                vt_diag_set(d, "%s %llu is beyond the log's size %llu", what,
                            (unsigned long long)*size, (unsigned long long)n);
                return VT_ERANGE;
        }
        return 0;
}

/* see log.h */
int vt_log_checkpoint_at(struct vt_log *log, uint64_t size, struct vt_buf *note, struct vt_diag *d)
{
        struct vt_store *s;
        int err;

        if ((err = vt_log_read_lock(log, &s, d)) != 0)
                return err;
        err = vt_store_checkpoint_get(s, size, note, d);
        vt_log_read_unlock(log);
        if (err == VT_ENOENT)
                vt_diag_set(d, "log '%s' published no checkpoint of size %llu", log->dir,
                            (unsigned long long)size);
        return err;
}

/* Offset and length of entry i of a bundle's bytes; VT_ECORRUPT if absent or malformed. */
static int log_bundle_find(const uint8_t *p, size_t len, unsigned i, size_t *off, size_t *n)
{
        struct vt_merkle_bundle_iter it;
        struct vt_span e;
        unsigned k;

        vt_merkle_bundle_iter_init(&it, p, len);
        for (k = 0;; k++) {
                if (vt_merkle_bundle_next(&it, &e) != 0)
                        return VT_ECORRUPT;
                if (k == i)
                        break;
        }
        *off = (size_t)(e.p - p);
        *n = e.len;
        return 0;
}

/* see log.h */
int vt_log_entry(struct vt_log *log, uint64_t index, struct vt_buf *out, struct vt_diag *d)
{
        uint64_t n = vt_log_size(log);
        struct vt_store *s;
        char name[64];
        unsigned w = 0;
        size_t off = 0, len = 0;
        int err;

        if (index >= n) {
                vt_diag_set(d, "entry %llu is beyond the log's size %llu",
                            (unsigned long long)index, (unsigned long long)n);
                return VT_ERANGE;
        }
        if ((err = vt_log_read_lock(log, &s, d)) != 0)
                return err;
        log->rtmp.len = 0;
        err = vt_store_bundle_get(s, index >> 8, &w, &log->rtmp, d);
        vt_log_tile_name(VT_MERKLE_TILE_ENTRIES, index >> 8, w, name, sizeof(name));
        if (err == VT_ENOENT) {
                vt_diag_set(d, "entry bundle %s is missing from the store", name);
                err = VT_ECORRUPT;
        }
        if (err == 0 &&
            (w <= (index & 255) || log_bundle_find(log->rtmp.p, log->rtmp.len,
                                                   (unsigned)(index & 255), &off, &len) != 0)) {
                vt_diag_set(d, "entry bundle %s does not hold entry %llu", name,
                            (unsigned long long)index);
                err = VT_ECORRUPT;
        }
        if (err == 0 && vt_buf_append(out, log->rtmp.p + off, len) != 0)
                err = VT_ENOMEM;
        vt_log_read_unlock(log);
        return err;
}

/* see log.h */
int vt_log_tile(struct vt_log *log, int level, uint64_t n, unsigned width, struct vt_buf *out,
                struct vt_diag *d)
{
        struct vt_store *s;
        char name[64];
        unsigned w = 0;
        size_t off = 0, len = 0;
        int err;

        vt_log_tile_name(level, n, width, name, sizeof(name));
        if (level < VT_MERKLE_TILE_ENTRIES || level >= VT_LOG_LEVELS || width == 0 ||
            width > VT_MERKLE_TILE_WIDTH) {
                vt_diag_set(d, "tile %s is not a tile of a log", name);
                return VT_EINVAL;
        }
        if ((err = vt_log_read_lock(log, &s, d)) != 0)
                return err;
        log->rtmp.len = 0;
        if (level >= 0)
                err = vt_store_tile_get(s, (unsigned)level, n, &w, &log->rtmp, d);
        else
                err = vt_store_bundle_get(s, n, &w, &log->rtmp, d);
        if (err == 0 && w < width)
                err = VT_ENOENT;
        if (err == VT_ENOENT)
                vt_diag_set(d, "tile %s is not in the log", name);
        if (err == 0 && level >= 0) {
                len = (size_t)width * VT_MERKLE_HASH_LEN;
                if (log->rtmp.len < len) {
                        vt_diag_set(d, "tile %s is truncated in the store", name);
                        err = VT_ECORRUPT;
                }
        } else if (err == 0 && width == w) {
                len = log->rtmp.len;
        } else if (err == 0) {
                /* A partial bundle is the prefix up to the start of entry width. */
                if (log_bundle_find(log->rtmp.p, log->rtmp.len, width, &off, &len) != 0) {
                        vt_diag_set(d, "entry bundle %s is malformed in the store", name);
                        err = VT_ECORRUPT;
                }
                len = off - 2;
        }
        if (err == 0 && vt_buf_append(out, log->rtmp.p, len) != 0)
                err = VT_ENOMEM;
        vt_log_read_unlock(log);
        return err;
}

/* see log.h */
int vt_log_tree_hash(struct vt_log *log, uint64_t size, struct vt_hash *out, struct vt_diag *d)
{
        struct log_xread r = {log, NULL, d};
        struct vt_hash h;
        uint64_t n = vt_log_size(log);
        int err;

        if (size > n) {
                vt_diag_set(d, "size %llu is beyond the log's size %llu", (unsigned long long)size,
                            (unsigned long long)n);
                return VT_ERANGE;
        }
        if ((err = vt_log_read_lock(log, &r.s, d)) != 0)
                return err;
        err = vt_merkle_tree_hash(size, log_xread, &r, &h);
        vt_log_read_unlock(log);
        if (err == 0)
                *out = h;
        return err;
}

/* see log.h */
int vt_log_prove_inclusion(struct vt_log *log, uint64_t index, uint64_t size,
                           struct vt_hash proof[VT_LOG_PROOF_MAX], size_t *len, struct vt_diag *d)
{
        struct log_xread r = {log, NULL, d};
        int err;

        if ((err = log_size_arg(log, &size, "tree size", d)) != 0)
                return err;
        if (index >= size) {
                vt_diag_set(d, "index %llu is not in a tree of size %llu",
                            (unsigned long long)index, (unsigned long long)size);
                return VT_ERANGE;
        }
        if ((err = vt_log_read_lock(log, &r.s, d)) != 0)
                return err;
        err = vt_merkle_prove_inclusion(size, index, log_xread, &r, proof, len);
        vt_log_read_unlock(log);
        return err;
}

/* One proof of vt_log_prove_inclusion_many(): its index and where its hashes go. */
struct log_many {
        uint64_t index;
        size_t at; /* hashes before it in the output */
};

static int log_many_cmp(const void *a, const void *b)
{
        const struct log_many *x = a, *y = b;

        if (x->index != y->index)
                return x->index < y->index ? -1 : 1;
        return x->at < y->at ? -1 : x->at > y->at;
}

/* see log.h */
int vt_log_prove_inclusion_many(struct vt_log *log, uint64_t size, const uint64_t *indexes,
                                size_t n, struct vt_buf *paths, size_t *lens, struct vt_diag *d)
{
        struct log_xread r = {log, NULL, d};
        struct vt_merkle_prover pv;
        struct vt_hash proof[VT_LOG_PROOF_MAX];
        struct log_many *ord = NULL;
        size_t i, total = 0, at, plen = 0;
        uint8_t *base;
        int sorted = 1, err;

        if ((err = log_size_arg(log, &size, "tree size", d)) != 0)
                return err;
        for (i = 0; i < n; i++) {
                if (indexes[i] >= size) {
                        vt_diag_set(d, "index %llu is not in a tree of size %llu",
                                    (unsigned long long)indexes[i], (unsigned long long)size);
                        return VT_ERANGE;
                }
                if (i > 0 && indexes[i] < indexes[i - 1])
                        sorted = 0;
                total += vt_merkle_inclusion_proof_len(indexes[i], size);
        }
        if (n == 0)
                return 0;
        if (total > (SIZE_MAX - paths->len - 1) / VT_MERKLE_HASH_LEN ||
            vt_buf_reserve(paths, total * VT_MERKLE_HASH_LEN) != 0)
                return VT_ENOMEM;
        /* Ascending order shares the most (merkle.h); the proofs still go out in the given order.
         */
        if (!sorted) {
                if ((ord = vt_util_reallocarray(NULL, n, sizeof(*ord))) == NULL)
                        return VT_ENOMEM;
                for (i = 0, at = 0; i < n; i++) {
                        ord[i].index = indexes[i];
                        ord[i].at = at;
                        at += vt_merkle_inclusion_proof_len(indexes[i], size);
                }
                qsort(ord, n, sizeof(*ord), log_many_cmp);
        }
        if ((err = vt_merkle_prover_init(&pv, size)) != 0 ||
            (err = vt_log_read_lock(log, &r.s, d)) != 0) {
                free(ord);
                return err;
        }
        /* Written past paths->len, which moves only when every proof is there. */
        base = paths->p + paths->len;
        for (i = 0, at = 0; i < n; i++) {
                uint64_t index = ord != NULL ? ord[i].index : indexes[i];

                if ((err = vt_merkle_prover_prove(&pv, index, log_xread, &r, proof, &plen)) != 0)
                        break;
                assert(plen == vt_merkle_inclusion_proof_len(index, size));
                if (ord != NULL)
                        at = ord[i].at;
                memcpy(base + at * VT_MERKLE_HASH_LEN, proof, plen * VT_MERKLE_HASH_LEN);
                at += plen;
        }
        vt_log_read_unlock(log);
        free(ord);
        if (err != 0) {
                paths->p[paths->len] = '\0';
                return err;
        }
        for (i = 0; i < n; i++)
                lens[i] = vt_merkle_inclusion_proof_len(indexes[i], size);
        paths->len += total * VT_MERKLE_HASH_LEN;
        paths->p[paths->len] = '\0';
        return 0;
}

/* see log.h */
int vt_log_prove_consistency(struct vt_log *log, uint64_t from, uint64_t to,
                             struct vt_hash proof[VT_LOG_PROOF_MAX], size_t *len, struct vt_diag *d)
{
        struct log_xread r = {log, NULL, d};
        int err;

        if ((err = log_size_arg(log, &to, "tree size", d)) != 0)
                return err;
        if (from > to) {
                vt_diag_set(d, "size %llu is larger than size %llu", (unsigned long long)from,
                            (unsigned long long)to);
                return VT_ERANGE;
        }
        if ((err = vt_log_read_lock(log, &r.s, d)) != 0)
                return err;
        err = vt_merkle_prove_consistency(from, to, log_xread, &r, proof, len);
        vt_log_read_unlock(log);
        return err;
}
