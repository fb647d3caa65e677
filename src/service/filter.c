/*
 * filter.c: the idempotency filter (service_int.h): a Bloom filter over the
 * leaf hashes (RFC 9162 §2.1.1, SHA-256(0x00 || entry)) of every entry of
 * the log, so that the submission of an envelope that was never logged
 * (the usual case) proves so in memory instead of with a random read of the
 * store's entry-hash index.
 *
 * Correctness rests on one property: NO FALSE NEGATIVES. Whenever the
 * filter says "no", the entry is not in the log. It holds because
 *   - the filter is complete only after its builder has added the leaf
 *     hash of every entry below the size S it read when it started, taken
 *     from the log's level-0 tiles (which hold exactly those hashes);
 *   - every entry committed later is added by the committer before its
 *     submitters are answered (service.c S2), and the builder registers
 *     the table it fills before reading S, so a later entry is added to it
 *     too: an entry at an index >= S is published after S was read, and is
 *     added after it is published;
 *   - before it is complete, the filter answers "maybe" to everything.
 * A "maybe" only costs a store lookup, so false positives (about 0.3% with
 * FILTER_BITS bits and FILTER_K probes per entry) are harmless. After a
 * restart the filter is built again from the tiles: nothing of it is kept
 * on disk, so it can never be stale. Entries logged by another process
 * (`veritrail log append` beside a running server) carry no envelope row,
 * so the envelope lookup the filter saves would not find them either.
 *
 * Sizing: the table has FILTER_BITS bits per entry of its capacity, a power
 * of two of at least VT_SERVICE_FILTER_MIN_CAP entries and twice the log's
 * size at start. When the log outgrows it the builder makes a table twice as large
 * beside it, fills it the same way, and swaps it in; meanwhile the full
 * one keeps answering (more "maybe"s, never a wrong "no"). At 10M entries
 * the table is 16 MiB (DESIGN.md §5 allows 64 MiB for the whole service).
 * The hash bits are SHA-256 output, uniform, so the FILTER_K probe
 * positions are simply FILTER_K 32-bit words of the leaf hash.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "service/service_int.h"
#include "veritrail/merkle.h"

#define FILTER_BITS 12 /* bits per entry of capacity (a power of two overall) */
#define FILTER_K    8  /* probes per entry: one per 32-bit word of the leaf hash */

struct filter_tab {
        uint64_t *w;   /* the bits */
        uint64_t mask; /* bits - 1 */
        uint64_t cap;  /* entries it is sized for */
};

struct vt_service_filter {
        struct vt_log *log;
        uint64_t min_cap; /* entries a table is sized for at least */
        pthread_mutex_t mu;
        pthread_cond_t cv;      /* the builder waits here for work */
        struct filter_tab cur;  /* answers; complete when ready */
        struct filter_tab next; /* being built (w NULL when none) */
        int ready;              /* cur holds every entry of the log */
        uint64_t count;         /* entries in cur */
        int want;               /* the builder should build (a first or a larger table) */
        int hold, held;         /* tests: the builder waits after reading the size */
        int stop;
        int started;
        pthread_t th;
};

static int tab_new(struct filter_tab *t, uint64_t min_cap, uint64_t cap)
{
        uint64_t c = min_cap > 0 ? min_cap : 1, bits;

        while (c < cap)
                c <<= 1;
        /* A power of two of bits (so a probe is a mask), at least FILTER_BITS per entry. */
        for (bits = 64; bits < c * FILTER_BITS; bits <<= 1)
                ;
        if ((t->w = calloc(bits / 64, sizeof(uint64_t))) == NULL)
                return VT_ENOMEM;
        t->mask = bits - 1;
        t->cap = c;
        return 0;
}

static void tab_add(struct filter_tab *t, const struct vt_hash *h)
{
        uint32_t v;
        int i;

        for (i = 0; i < FILTER_K; i++) {
                memcpy(&v, h->b + 4 * i, 4);
                t->w[(v & t->mask) >> 6] |= (uint64_t)1 << (v & 63);
        }
}

static int tab_has(const struct filter_tab *t, const struct vt_hash *h)
{
        uint32_t v;
        int i;

        for (i = 0; i < FILTER_K; i++) {
                memcpy(&v, h->b + 4 * i, 4);
                if (!(t->w[(v & t->mask) >> 6] & ((uint64_t)1 << (v & 63))))
                        return 0;
        }
        return 1;
}

/*
 * filter_fill(f, t): add the leaf hash of every entry below the log's
 * current size to the table t, which is already registered as f->next (so
 * entries committed from now on are added to it by vt_service_filter_add).
 * 0, or an error (t is then incomplete), or VT_EBUSY when asked to stop.
 */
static int filter_fill(struct vt_service_filter *f, struct filter_tab *t)
{
        struct vt_buf b;
        uint64_t size = vt_log_size(f->log), n, ntiles = (size + 255) / 256;
        unsigned w, i;
        int err = 0, stop;

        /* (Tests hold the builder here, to commit entries past size meanwhile.) */
        pthread_mutex_lock(&f->mu);
        while (f->hold && !f->stop) {
                f->held = 1;
                pthread_cond_broadcast(&f->cv);
                pthread_cond_wait(&f->cv, &f->mu);
        }
        f->held = 0;
        pthread_mutex_unlock(&f->mu);
        vt_buf_init(&b);
        for (n = 0; n < ntiles && err == 0; n++) {
                w = n + 1 < ntiles || size % 256 == 0 ? 256 : (unsigned)(size % 256);
                b.len = 0;
                if ((err = vt_log_tile(f->log, 0, n, w, &b, NULL)) != 0)
                        break;
                if (b.len != (size_t)w * VT_MERKLE_HASH_LEN) {
                        err = VT_ECORRUPT;
                        break;
                }
                pthread_mutex_lock(&f->mu);
                for (i = 0; i < w; i++)
                        tab_add(t, (const struct vt_hash *)(b.p + (size_t)i * VT_MERKLE_HASH_LEN));
                stop = f->stop;
                pthread_mutex_unlock(&f->mu);
                if (stop)
                        err = VT_EBUSY;
        }
        vt_buf_release(&b);
        return err;
}

/*
 * filter_build(f): make a table for twice the log's size, fill it, swap it
 * in as complete. On failure the old table stays as it was (and a first
 * one stays not ready: every answer "maybe").
 */
static void filter_build(struct vt_service_filter *f)
{
        struct filter_tab t, old;
        uint64_t size = vt_log_size(f->log);

        if (tab_new(&t, f->min_cap, 2 * size) != 0)
                return;
        pthread_mutex_lock(&f->mu);
        f->next = t; /* from now on the committer's additions reach it */
        pthread_mutex_unlock(&f->mu);
        if (filter_fill(f, &t) != 0) {
                pthread_mutex_lock(&f->mu);
                f->next.w = NULL;
                pthread_mutex_unlock(&f->mu);
                free(t.w);
                return;
        }
        pthread_mutex_lock(&f->mu);
        old = f->cur;
        f->cur = t;
        f->next.w = NULL;
        f->count = vt_log_size(f->log);
        f->ready = 1;
        pthread_mutex_unlock(&f->mu);
        free(old.w);
}

/* The builder thread: builds when asked (at open for a large log, and when the log outgrows the
 * table). */
static void *filter_thread(void *arg)
{
        struct vt_service_filter *f = arg;

        pthread_mutex_lock(&f->mu);
        for (;;) {
                while (!f->want && !f->stop)
                        pthread_cond_wait(&f->cv, &f->mu);
                if (f->stop)
                        break;
                pthread_mutex_unlock(&f->mu);
                filter_build(f);
                pthread_mutex_lock(&f->mu);
                f->want = 0;
        }
        pthread_mutex_unlock(&f->mu);
        return NULL;
}

/* see service_int.h */
int vt_service_filter_new(struct vt_log *log, uint64_t sync_max, uint64_t min_cap, int hold,
                          struct vt_service_filter **out, struct vt_diag *d)
{
        struct vt_service_filter *f = calloc(1, sizeof(*f));
        sigset_t all, old;

        if (f == NULL) {
                vt_diag_set(d, "out of memory for the idempotency filter");
                return VT_ENOMEM;
        }
        f->log = log;
        f->min_cap = min_cap != 0 ? min_cap : VT_SERVICE_FILTER_MIN_CAP;
        f->hold = hold;
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->cv, NULL);
        if (vt_log_size(log) <= sync_max) {
                filter_build(f); /* a small log: ready before the first submission */
        } else {
                f->want = 1;
        }
        /* The builder thread, with every signal blocked (signals are the program's). */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        f->started = pthread_create(&f->th, NULL, filter_thread, f) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        /* Without the thread the filter still works; it just never grows (more lookups). */
        *out = f;
        return 0;
}

/* see service_int.h */
void vt_service_filter_free(struct vt_service_filter *f)
{
        if (f == NULL)
                return;
        pthread_mutex_lock(&f->mu);
        f->stop = 1;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (f->started)
                pthread_join(f->th, NULL);
        free(f->cur.w);
        free(f->next.w);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
}

/* see service_int.h */
void vt_service_filter_add(struct vt_service_filter *f, const struct vt_hash *leaves, size_t n)
{
        size_t i;

        pthread_mutex_lock(&f->mu);
        for (i = 0; i < n; i++) {
                if (f->cur.w != NULL)
                        tab_add(&f->cur, &leaves[i]);
                if (f->next.w != NULL)
                        tab_add(&f->next, &leaves[i]);
        }
        f->count += n;
        if (f->ready && f->count > f->cur.cap && !f->want) {
                f->want = 1; /* outgrown: a larger table, in the background */
                pthread_cond_broadcast(&f->cv);
        }
        pthread_mutex_unlock(&f->mu);
}

/* see service_int.h */
int vt_service_filter_maybe(struct vt_service_filter *f, const struct vt_hash *leaf)
{
        int maybe;

        pthread_mutex_lock(&f->mu);
        maybe = !f->ready || tab_has(&f->cur, leaf);
        pthread_mutex_unlock(&f->mu);
        return maybe;
}

/* see service_int.h */
int vt_service_filter_ready(struct vt_service_filter *f, uint64_t *cap)
{
        int ready;

        pthread_mutex_lock(&f->mu);
        ready = f->ready && f->next.w == NULL;
        if (cap != NULL)
                *cap = f->cur.cap;
        pthread_mutex_unlock(&f->mu);
        return ready;
}

/* see service_int.h */
int vt_service_filter_hold(struct vt_service_filter *f, int hold)
{
        int held;

        pthread_mutex_lock(&f->mu);
        f->hold = hold;
        held = f->held;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return held;
}
