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
 * size at start, rounded up to a power of two of bits. When the log
 * outgrows it the builder makes a larger table beside it, fills it the same
 * way, and swaps it in; meanwhile the full one keeps answering (more
 * "maybe"s, never a wrong "no").
 *
 * The table is capped at FILTER_MAX_BYTES (12 MiB, m = 96 Mi bits), so
 * the service's memory does not grow with the log (DESIGN.md §5: <= 64 MiB
 * for the whole service at 10M entries, of which the rest of the service
 * takes about 50). 12 MiB holds FILTER_BITS bits for 8.4M entries: at 10M
 * entries a "maybe" for a new envelope comes about 0.8% of the time,
 * (1 - e^(-8n/m))^8. Past that the capped table is never replaced, and
 * takes every new entry as before: the false positives rise with the load
 * (16% at 20M entries, 71% at 40M), each costing one lookup in the
 * service's index, but the property above does not depend on the table's
 * size: every entry's bits are set in every table, so a "no" stays proof.
 * A table is either at most a quarter of the cap or the cap itself (a
 * larger one would soon be replaced in its turn, for a larger transient),
 * so while one is built beside the other the two take at most 1.25 times
 * the cap (by default 2 MiB, then 12 MiB beside it at 1M entries), once in
 * a process's life; a process that opens a log past the cap builds the
 * capped table at once, alone.
 * Tables are anonymous mappings: the replaced one goes back to the system
 * whole (malloc would keep it in an arena), and pages no probe has touched
 * are never resident.
 *
 * The hash bits are SHA-256 output, uniform, so the FILTER_K probe
 * positions are simply FILTER_K 32-bit words v of the leaf hash, each
 * mapped onto the table's bits as (v * bits) >> 32 (uniform too, and any
 * number of bits up to 2^32, so the cap need not be a power of two).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "service/service_int.h"
#include "veritrail/merkle.h"

#define FILTER_BITS      12          /* bits per entry of capacity (a power of two overall) */
#define FILTER_K         8           /* probes per entry: one per 32-bit word of the leaf hash */
#define FILTER_MAX_BYTES (12u << 20) /* the largest table (see above) */

struct filter_tab {
        uint64_t *w;   /* the bits */
        uint64_t bits; /* its size in bits (a multiple of 64) */
        uint64_t cap;  /* entries it is sized for */
        int capped;    /* at the largest size: never replaced */
};

struct vt_service_filter {
        struct vt_log *log;
        uint64_t min_cap;  /* entries a table is sized for at least */
        uint64_t max_bits; /* bits a table has at most (a multiple of 64) */
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

/*
 * tab_new(t, min_cap, cap, max_bits): a zeroed table for cap entries (at
 * least min_cap), of at most max_bits; one that would be larger than a
 * quarter of max_bits is made max_bits at once (see above).
 */
static int tab_new(struct filter_tab *t, uint64_t min_cap, uint64_t cap, uint64_t max_bits)
{
        uint64_t c = min_cap > 0 ? min_cap : 1, bits;
        void *p;

        while (c < cap && c < max_bits)
                c <<= 1;
        /* A power of two of bits, at least FILTER_BITS per entry, or the cap. */
        for (bits = 64; bits < c * FILTER_BITS && bits < max_bits; bits <<= 1)
                ;
        t->capped = bits > max_bits / 4;
        if (t->capped) {
                bits = max_bits;
                c = bits / FILTER_BITS;
        }
        p = mmap(NULL, bits / 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return VT_ENOMEM;
        t->w = p;
        t->bits = bits;
        t->cap = c;
        return 0;
}

/* tab_free(t): give t's table back (none: a no-op). */
static void tab_free(struct filter_tab *t)
{
        if (t->w != NULL)
                munmap(t->w, (size_t)t->bits / 8);
        t->w = NULL;
}

static void tab_add(struct filter_tab *t, const struct vt_hash *h)
{
        uint64_t b;
        uint32_t v;
        int i;

        for (i = 0; i < FILTER_K; i++) {
                memcpy(&v, h->b + 4 * i, 4);
                b = ((uint64_t)v * t->bits) >> 32;
                t->w[b >> 6] |= (uint64_t)1 << (b & 63);
        }
}

static int tab_has(const struct filter_tab *t, const struct vt_hash *h)
{
        uint64_t b;
        uint32_t v;
        int i;

        for (i = 0; i < FILTER_K; i++) {
                memcpy(&v, h->b + 4 * i, 4);
                b = ((uint64_t)v * t->bits) >> 32;
                if (!(t->w[b >> 6] & ((uint64_t)1 << (b & 63))))
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

        if (tab_new(&t, f->min_cap, 2 * size, f->max_bits) != 0)
                return;
        pthread_mutex_lock(&f->mu);
        f->next = t; /* from now on the committer's additions reach it */
        pthread_mutex_unlock(&f->mu);
        if (filter_fill(f, &t) != 0) {
                pthread_mutex_lock(&f->mu);
                f->next.w = NULL;
                pthread_mutex_unlock(&f->mu);
                tab_free(&t);
                return;
        }
        pthread_mutex_lock(&f->mu);
        old = f->cur;
        f->cur = t;
        f->next.w = NULL;
        f->count = vt_log_size(f->log);
        f->ready = 1;
        pthread_mutex_unlock(&f->mu);
        tab_free(&old);
}

/* The builder thread: builds when asked (at open for a large log, and when the log outgrows the
 * table). */
static void *filter_thread(void *arg)
{
        struct vt_service_filter *f = arg;

        vt_util_thread_name("vt-filter");

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
        return vt_service_filter_new_max(log, sync_max, min_cap, 0, hold, out, d);
}

/* see service_int.h */
int vt_service_filter_new_max(struct vt_log *log, uint64_t sync_max, uint64_t min_cap,
                              size_t max_bytes, int hold, struct vt_service_filter **out,
                              struct vt_diag *d)
{
        struct vt_service_filter *f = calloc(1, sizeof(*f));
        sigset_t all, old;

        if (f == NULL) {
                vt_diag_set(d, "out of memory for the idempotency filter");
                return VT_ENOMEM;
        }
        f->log = log;
        f->min_cap = min_cap != 0 ? min_cap : VT_SERVICE_FILTER_MIN_CAP;
        /* Whole 64-bit words, from one up to the default. */
        if (max_bytes == 0 || max_bytes > FILTER_MAX_BYTES)
                max_bytes = FILTER_MAX_BYTES;
        f->max_bits = max_bytes >= 8 ? (uint64_t)max_bytes / 8 * 64 : 64;
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
        tab_free(&f->cur);
        tab_free(&f->next);
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
        if (f->ready && f->count > f->cur.cap && !f->cur.capped && !f->want) {
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
