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
 * before it starts) and reserves room first, so that adding never fails.
 *
 * Growing never stalls the adder: once the slots are half full, or the
 * nodes three quarters, a grower thread builds tables twice as large from
 * the current ones, a few thousand slots per read-lock hold (nodes never
 * change once written, so their copy needs no lock), while adds and
 * lookups go on. The adder notes every h it adds meanwhile (the journal);
 * when the new tables are ready, a reserve swaps them in under the write
 * lock after copying the nodes added since and the journal's slots (their
 * final state in the old table). Only when the adder outruns the grower
 * (the slots 0.7 full, the nodes full) does a reserve wait for it. Before,
 * a reserve rehashed in the committer's own thread: 30-110 ms at a few
 * hundred thousand entries, during which no submission was answered.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

        /* Growing (see the top): the adder's, except what the grower fills in before ready. */
        int growing;           /* a grower was started and not joined yet */
        pthread_t th;          /* the grower */
        atomic_int ready;      /* the grower is done (gerr says how) */
        int gerr;              /* 0 or VT_ENOMEM */
        struct ix_slot *gslot; /* the new slots, gcap of them, gused in use */
        size_t gcap, gused;
        struct ix_node *gnode; /* the new nodes: gncap, the first gnused copied */
        size_t gncap, gnused;
        uint64_t *jh; /* the journal: h of every add since the grower started */
        size_t jn, jcap;
};

#define IX_MIN_CAP   1024
#define IX_CHUNK     4096 /* slots rehashed per read-lock hold */
#define IX_SOFT_LOAD 5    /* tenths: slots this full start a grower */
#define IX_HARD_LOAD 7    /* tenths: slots at most this full */

/*
 * The tables' memory: anonymous mappings (zeroed), with transparent huge
 * pages asked for where the kernel has them. The adds and the grower touch
 * the slots at random; with 4 KiB pages every touch of a large table was a
 * TLB miss and every first touch a page fault (page faults were 2% of the
 * server's samples under load, most of them the grower's).
 */
static void *ix_map(size_t n, size_t each)
{
        void *p;

        if (n > SIZE_MAX / each)
                return NULL;
        p = mmap(NULL, n * each, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
#ifdef MADV_HUGEPAGE
        if (n * each >= ((size_t)2 << 20))
                (void)madvise(p, n * each, MADV_HUGEPAGE); /* a hint: 4 KiB pages work too */
#endif
        return p;
}

static void ix_unmap(void *p, size_t n, size_t each)
{
        if (p != NULL)
                munmap(p, n * each);
}

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
        if ((ix->slot = ix_map(IX_MIN_CAP, sizeof(*ix->slot))) == NULL) {
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
        if (ix->growing)
                pthread_join(ix->th, NULL);
        pthread_rwlock_destroy(&ix->lk);
        ix_unmap(ix->gslot, ix->gcap, sizeof(*ix->gslot));
        ix_unmap(ix->gnode, ix->gncap, sizeof(*ix->gnode));
        free(ix->jh);
        ix_unmap(ix->slot, ix->cap, sizeof(*ix->slot));
        ix_unmap(ix->node, ix->ncap, sizeof(*ix->node));
        free(ix);
}

/*
 * The grower: the tables twice as large as those it found, built from them
 * (see the top). The adder may add meanwhile; what it adds is in the
 * journal and in the nodes past gnused, copied at the swap.
 */
static void *ix_grow(void *arg)
{
        struct vt_service_index *ix = arg;
        const struct ix_slot *os;
        size_t ocap, i, lo, hi, used = 0;

        pthread_rwlock_rdlock(&ix->lk);
        os = ix->slot;
        ocap = ix->cap;
        ix->gnused = ix->nused;
        pthread_rwlock_unlock(&ix->lk);
        ix->gslot = ix_map(ix->gcap, sizeof(*ix->gslot));
        ix->gnode = ix_map(ix->gncap, sizeof(*ix->gnode));
        if (ix->gslot == NULL || ix->gnode == NULL) {
                ix->gerr = VT_ENOMEM;
                atomic_store(&ix->ready, 1);
                return NULL;
        }
        /* The slot table only changes (and is only swapped) by the adder: read it in chunks. */
        for (lo = 0; lo < ocap; lo = hi) {
                hi = ocap - lo > IX_CHUNK ? lo + IX_CHUNK : ocap;
                pthread_rwlock_rdlock(&ix->lk);
                for (i = lo; i < hi; i++)
                        if (os[i].head != 0) {
                                *ix_find(ix->gslot, ix->gcap, os[i].h) = os[i];
                                used++;
                        }
                pthread_rwlock_unlock(&ix->lk);
        }
        /* Nodes below gnused never change, and the array is not swapped while we run. */
        if (ix->gnused > 0)
                memcpy(ix->gnode, ix->node, ix->gnused * sizeof(*ix->gnode));
        ix->gused = used;
        atomic_store(&ix->ready, 1);
        return NULL;
}

/* Start a grower for tables of twice the current size (the adder, not growing). */
static int ix_grow_start(struct vt_service_index *ix)
{
        if (ix->cap > SIZE_MAX / 2 / sizeof(*ix->slot) ||
            ix->ncap > SIZE_MAX / 2 / sizeof(*ix->node))
                return VT_ENOMEM;
        ix->gcap = ix->cap * 2;
        ix->gncap = ix->ncap ? ix->ncap * 2 : IX_MIN_CAP;
        ix->gslot = NULL;
        ix->gnode = NULL;
        ix->gerr = 0;
        ix->jn = 0;
        atomic_store(&ix->ready, 0);
        if (pthread_create(&ix->th, NULL, ix_grow, ix) != 0)
                return VT_ENOMEM;
        ix->growing = 1;
        return 0;
}

/*
 * Wait for the grower and swap its tables in: the nodes added since it
 * started, then the journal's slots as the old table has them now.
 */
static int ix_grow_finish(struct vt_service_index *ix)
{
        struct ix_slot *os, *o, *g;
        struct ix_node *on;
        size_t i, ocap, oncap;
        int err;

        pthread_join(ix->th, NULL);
        ix->growing = 0;
        if ((err = ix->gerr) != 0) {
                ix_unmap(ix->gslot, ix->gcap, sizeof(*ix->gslot));
                ix_unmap(ix->gnode, ix->gncap, sizeof(*ix->gnode));
                ix->gslot = NULL;
                ix->gnode = NULL;
                return err;
        }
        pthread_rwlock_wrlock(&ix->lk);
        if (ix->nused > ix->gnused)
                memcpy(ix->gnode + ix->gnused, ix->node + ix->gnused,
                       (ix->nused - ix->gnused) * sizeof(*ix->gnode));
        for (i = 0; i < ix->jn; i++) {
                o = ix_find(ix->slot, ix->cap, ix->jh[i]);
                g = ix_find(ix->gslot, ix->gcap, ix->jh[i]);
                if (g->head == 0)
                        ix->gused++;
                *g = *o;
        }
        os = ix->slot;
        on = ix->node;
        ocap = ix->cap;
        oncap = ix->ncap;
        ix->slot = ix->gslot;
        ix->cap = ix->gcap;
        ix->used = ix->gused;
        ix->node = ix->gnode;
        ix->ncap = ix->gncap;
        pthread_rwlock_unlock(&ix->lk);
        ix->gslot = NULL;
        ix->gnode = NULL;
        ix->jn = 0;
        ix_unmap(os, ocap, sizeof(*os));
        ix_unmap(on, oncap, sizeof(*on));
        return 0;
}

/* see service_int.h */
int vt_service_index_reserve(struct vt_service_index *ix, size_t keys)
{
        size_t cap;
        uint64_t *jh;
        int err;

        /*
         * Only the adding thread calls this (service_int.h), so nothing but
         * the grower and lookups run meanwhile, and the sizes below are ours
         * to read without the lock.
         */
        if (keys > SIZE_MAX / 4 - ix->nused)
                return VT_ENOMEM;
        /* Hard limits: wait for the grower (starting one if need be), as often as it takes. */
        while (ix->used + keys > ix->cap / 10 * IX_HARD_LOAD || ix->nused + keys > ix->ncap) {
                if (!ix->growing && (err = ix_grow_start(ix)) != 0)
                        return err;
                if ((err = ix_grow_finish(ix)) != 0)
                        return err;
        }
        if (ix->growing && atomic_load(&ix->ready) && (err = ix_grow_finish(ix)) != 0)
                return err;
        if (!ix->growing && (ix->used + keys > ix->cap / 10 * IX_SOFT_LOAD ||
                             ix->nused + keys > ix->ncap / 4 * 3)) {
                if ((err = ix_grow_start(ix)) != 0)
                        return err;
        }
        /* Room in the journal for these adds while a grower runs. */
        if (ix->growing && ix->jcap - ix->jn < keys) {
                for (cap = ix->jcap ? ix->jcap : 1024; cap - ix->jn < keys; cap *= 2)
                        ;
                if ((jh = vt_util_reallocarray(ix->jh, cap, sizeof(*jh))) == NULL)
                        return VT_ENOMEM;
                ix->jh = jh;
                ix->jcap = cap;
        }
        return 0;
}

/* see service_int.h */
void vt_service_index_add(struct vt_service_index *ix, const uint8_t digest[32], uint64_t idx)
{
        uint64_t h = ix_h(digest);
        struct ix_slot *sl;

        /*
         * vt_service_index_reserve() made room (in the journal too, while a
         * grower runs); a caller that did not loses the key, never memory.
         */
        if (ix->nused >= ix->ncap || ix->used >= ix->cap / 10 * IX_HARD_LOAD ||
            (ix->growing && ix->jn >= ix->jcap))
                return;
        pthread_rwlock_wrlock(&ix->lk);
        sl = ix_find(ix->slot, ix->cap, h);
        if (sl->head == 0) {
                sl->h = h;
                ix->used++;
        }
        ix->node[ix->nused] = (struct ix_node){idx, sl->head};
        sl->head = ++ix->nused;
        pthread_rwlock_unlock(&ix->lk);
        if (ix->growing)
                ix->jh[ix->jn++] = h;
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
