/*
 * index.c: the service's lookup index: 32-byte digest -> the entry indexes
 * stored under it, in memory (service_int.h).
 *
 * Why in memory: the store keeps every service table keyed by entry index,
 * so a group commit appends at the right edge of each b-tree; an index by
 * digest in SQLite dirtied one random page per key and batch (three per
 * entry, ~33 kB of WAL and checkpoint writes per entry with 300 000 entries
 * logged), which capped the committer. The index is rebuilt at start from
 * the store's narrow tables (vt_store_envelope_scan, vt_store_subject_scan)
 * and fed by the committer after each commit.
 *
 * Layout: an open-addressing table of slots {h, head} (linear probing, h =
 * the digest's first 8 bytes, one slot per distinct h) and an array of
 * nodes {idx, next}, appended, each slot's nodes chained newest first. A
 * key costs one node (16 bytes) and, when its h is new, one slot (16 bytes
 * at a load of at most 0.7): about 40 bytes a key, 120 bytes for an entry
 * with one subject. h is a prefix only: callers check every candidate
 * against the store, so two digests sharing 8 bytes (by chance or by
 * design) cost a lookup, never a wrong answer.
 *
 * Locking: a rwlock. One thread adds (the committer; the scans at open
 * before it starts) and reserves room first, so that adding never fails;
 * growing builds the larger tables under the read lock and swaps them in
 * under the write lock, so lookups never wait for a rehash.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "service/service_int.h"

struct ix_slot {
        uint64_t h;
        uint64_t head; /* node number + 1 of the newest node; 0: the slot is empty */
};

struct ix_node {
        uint64_t idx;
        uint64_t next; /* node number + 1 of the next older one; 0: none */
};

struct vt_service_index {
        pthread_rwlock_t lk;
        struct ix_slot *slot;
        size_t cap, used; /* slots (a power of two) and slots in use */
        struct ix_node *node;
        size_t ncap, nused;
};

#define IX_MIN_CAP 1024

static uint64_t ix_h(const uint8_t d[32])
{
        uint64_t h;

        memcpy(&h, d, sizeof(h));
        return h;
}

/* The slot of h: its own, or the empty one where it would go. */
static struct ix_slot *ix_find(struct ix_slot *slot, size_t cap, uint64_t h)
{
        size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);

        while (slot[i].head != 0 && slot[i].h != h)
                i = (i + 1) & (cap - 1);
        return &slot[i];
}

/* see service_int.h */
int vt_service_index_new(struct vt_service_index **out)
{
        struct vt_service_index *ix = calloc(1, sizeof(*ix));

        if (ix == NULL)
                return VT_ENOMEM;
        if ((ix->slot = calloc(IX_MIN_CAP, sizeof(*ix->slot))) == NULL) {
                free(ix);
                return VT_ENOMEM;
        }
        ix->cap = IX_MIN_CAP;
        pthread_rwlock_init(&ix->lk, NULL);
        *out = ix;
        return 0;
}

/* see service_int.h */
void vt_service_index_free(struct vt_service_index *ix)
{
        if (ix == NULL)
                return;
        pthread_rwlock_destroy(&ix->lk);
        free(ix->slot);
        free(ix->node);
        free(ix);
}

/* see service_int.h */
int vt_service_index_reserve(struct vt_service_index *ix, size_t keys)
{
        struct ix_slot *ns = NULL, *os = NULL;
        struct ix_node *nn = NULL, *on = NULL;
        size_t cap, ncap, need, i;

        /*
         * Only the adding thread calls this (service_int.h), so the tables
         * cannot change under it: the larger ones are built under the read
         * lock, lookups go on meanwhile, and the write lock is held only to
         * swap them in.
         */
        pthread_rwlock_rdlock(&ix->lk);
        if (keys > SIZE_MAX / 4 - ix->nused) {
                pthread_rwlock_unlock(&ix->lk);
                return VT_ENOMEM;
        }
        need = ix->nused + keys;
        ncap = ix->ncap;
        if (need > ncap) {
                for (ncap = ncap ? ncap : IX_MIN_CAP; ncap < need; ncap *= 2)
                        ;
                if ((nn = vt_util_reallocarray(NULL, ncap, sizeof(*nn))) == NULL)
                        goto nomem;
                if (ix->nused > 0)
                        memcpy(nn, ix->node, ix->nused * sizeof(*nn));
        }
        /* Every new key may need a slot: keep the load at most 0.7. */
        need = ix->used + keys;
        for (cap = ix->cap; need > cap / 10 * 7; cap *= 2)
                ;
        if (cap != ix->cap) {
                if ((ns = calloc(cap, sizeof(*ns))) == NULL)
                        goto nomem;
                for (i = 0; i < ix->cap; i++)
                        if (ix->slot[i].head != 0)
                                *ix_find(ns, cap, ix->slot[i].h) = ix->slot[i];
        }
        pthread_rwlock_unlock(&ix->lk);
        if (nn == NULL && ns == NULL)
                return 0;
        pthread_rwlock_wrlock(&ix->lk);
        if (nn != NULL) {
                on = ix->node;
                ix->node = nn;
                ix->ncap = ncap;
        }
        if (ns != NULL) {
                os = ix->slot;
                ix->slot = ns;
                ix->cap = cap;
        }
        pthread_rwlock_unlock(&ix->lk);
        free(on);
        free(os);
        return 0;
nomem:
        pthread_rwlock_unlock(&ix->lk);
        free(nn);
        return VT_ENOMEM;
}

/* see service_int.h */
void vt_service_index_add(struct vt_service_index *ix, const uint8_t digest[32], uint64_t idx)
{
        uint64_t h = ix_h(digest);
        struct ix_slot *sl;

        pthread_rwlock_wrlock(&ix->lk);
        /* vt_service_index_reserve() made room; a caller that did not loses the key, never
         * memory. */
        if (ix->nused < ix->ncap && ix->used < ix->cap / 10 * 7) {
                sl = ix_find(ix->slot, ix->cap, h);
                if (sl->head == 0) {
                        sl->h = h;
                        ix->used++;
                }
                ix->node[ix->nused] = (struct ix_node){idx, sl->head};
                sl->head = ++ix->nused;
        }
        pthread_rwlock_unlock(&ix->lk);
}

/* see service_int.h */
int vt_service_index_get(struct vt_service_index *ix, const uint8_t digest[32], uint64_t **out,
                         size_t *n)
{
        uint64_t h = ix_h(digest), k, *v = NULL;
        struct ix_slot *sl;
        size_t count = 0, i;
        int err = 0;

        pthread_rwlock_rdlock(&ix->lk);
        sl = ix_find(ix->slot, ix->cap, h);
        for (k = sl->head; k != 0; k = ix->node[k - 1].next)
                count++;
        if (count > 0) {
                if ((v = vt_util_reallocarray(NULL, count, sizeof(*v))) == NULL) {
                        err = VT_ENOMEM;
                        count = 0;
                }
                /* Newest first in the chain: ascending in the array. */
                for (i = count, k = sl->head; k != 0 && i > 0; k = ix->node[k - 1].next)
                        v[--i] = ix->node[k - 1].idx;
        }
        pthread_rwlock_unlock(&ix->lk);
        *out = v;
        *n = count;
        return err;
}

/* see service_int.h */
size_t vt_service_index_bytes(struct vt_service_index *ix)
{
        size_t b;

        pthread_rwlock_rdlock(&ix->lk);
        b = ix->cap * sizeof(*ix->slot) + ix->ncap * sizeof(*ix->node);
        pthread_rwlock_unlock(&ix->lk);
        return b;
}
