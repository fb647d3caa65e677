/*
 * index.c: the service's lookup index: 32-byte digest -> the entry indexes
 * stored under it (service_int.h), kept on disk with a bounded part in
 * memory, so that the service's resident size does not grow with the log
 * (DESIGN.md §5).
 *
 * Why not SQLite: the store keeps every service table keyed by entry
 * index, so a group commit appends at the right edge of each b-tree; a
 * digest-keyed b-tree dirtied one random page per key and batch (three per
 * entry, ~33 kB of WAL and checkpoint writes per entry with 300 000 entries
 * logged), which capped the committer. Digests are random: what keeps their
 * writes sequential is sorting them in batches, a log-structured merge.
 *
 * Keys: h, the digest's first 8 bytes. h is a prefix only: callers check
 * every candidate against the store, so two digests sharing 8 bytes (by
 * chance or by design) cost a lookup, never a wrong answer.
 *
 * The parts, newest last:
 *   - runs: immutable files D/index/KIND-LO-HI.run (docs/FORMATS.md), each
 *     the keys of every entry in [LO, HI) sorted by (h, entry index), with
 *     the first h of each block of IX_BLOCK records (4 KiB) at its end;
 *     those fences are kept in memory (8 bytes a block: under 1 MiB for 30M
 *     keys), so a lookup reads one block (rarely two) per run. The runs
 *     cover [0, X) without gap or overlap, in order.
 *   - the frozen memtable (at most one): the newest keys, being written to
 *     a run by the flusher thread;
 *   - the active memtable: where the adder (the committer; the scans at
 *     open) adds. A hash table of at most mem_keys keys (~36 bytes a key: the record, its chain
 * link, two 8-byte slots). A reserve that finds the active memtable full freezes it (waiting for
 * the flusher only if the previous one is still being written) and starts an empty one. Memtables
 * cover whole entries: they are frozen between batches, so a run's [LO, HI) holds every key of
 * those entries.
 *
 * Merging (tiered): a run's weight is the number of memtables it holds;
 * its level is floor(log_fanin(weight)). Whenever fanin adjacent runs have
 * the same level, the merger thread merges them into one (streaming, one
 * pass) and swaps it in. At most (fanin - 1) runs per level stay: about 13
 * runs at 10M entries with the defaults. Each key is rewritten about
 * log_fanin(keys / mem_keys) times (16 bytes each time).
 *
 * Durability: a run is written to a .tmp file, fsynced, renamed into place
 * and the directory fsynced; only then does it replace what it holds (a
 * memtable, or the runs it merged, whose files are then removed). Nothing in
 * memory is kept across a restart: at open, the runs that chain from entry
 * 0 (the longest at each step, none past the log's size, each checked: its
 * name, header, size and the log's tag) are the index below X, the rest
 * (leftovers of an interrupted merge, .tmp files, damaged or foreign files)
 * are removed, and the caller adds the keys of the entries from X on from
 * the store. Runs hold committed entries only, so they never run ahead of a
 * log that has not been replaced; the tag (a digest of the log's key) tells
 * a replaced log's runs from ours.
 *
 * Locking: mlk (the memtables) and rlk (the run list) are rwlocks, always
 * taken rlk first; a lookup holds rlk for reading while it reads the runs,
 * so a run it reads is never closed under it, and the flusher swaps a run
 * in for its memtable under both write locks, so a lookup sees every key
 * exactly once. mu and cv coordinate the threads (leaf lock).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "service/service_int.h"

#define IX_BLOCK     256 /* records a block: what one lookup reads of a run */
#define IX_REC       16  /* bytes a record: h, then the entry index (little-endian) */
#define IX_HDR       96  /* bytes of a run's header (docs/FORMATS.md) */
#define IX_MAGIC     "vtindex1"
#define IX_MERGE_BUF 1024 /* records buffered per merged run */
#define IX_NAME_MAX  64

struct ix_rec {
        uint64_t h, idx;
};

/* A memtable (see the top). */
struct ix_slot {
        uint32_t fp;   /* the keyed hash's high half: most probes end here */
        uint32_t head; /* 1 + the newest rec of an h, or 0: empty */
};

struct ix_mem {
        struct ix_rec *rec;   /* n of cap, in add order (ascending idx) */
        uint32_t *next;       /* rec i: 1 + the previous rec with the same h, or 0 */
        struct ix_slot *slot; /* scap of them, a power of two */
        size_t cap, n, scap, bytes;
        uint64_t lo, hi; /* the entries it covers */
};

/* A run (see the top). */
struct ix_run {
        int fd;
        uint64_t lo, hi, count, weight;
        uint64_t *fence; /* nblock of them */
        size_t nblock;
        char name[IX_NAME_MAX];
};

struct vt_service_index {
        char *dir; /* D/index */
        char kind[16];
        uint8_t tag[32];
        uint8_t key[crypto_shorthash_KEYBYTES]; /* the memtables' hash key (random) */
        atomic_size_t mem_keys;                 /* a memtable this full is frozen */
        unsigned fanin;

        pthread_rwlock_t mlk;
        struct ix_mem *active, *frozen;
        pthread_rwlock_t rlk;
        struct ix_run **run;
        size_t nrun, runcap;

        pthread_mutex_t mu;
        pthread_cond_t cv;
        int stop;
        int pending; /* frozen is waiting for the flusher */
        int failed;  /* its last attempt failed (ferr, fdiag); reserve asks again */
        int ferr;    /* that failure */
        int merge;   /* the merger should look for work */
        int merging; /* the merger is at work */
        int merr;    /* the last merge's failure (the runs stay as they were) */
        struct vt_diag fdiag;
        int nthreads;
        pthread_t th[2];
};

/* ---- little-endian words ------------------------------------------------------------ */

static uint64_t ix_le64(const uint8_t *p)
{
        uint64_t v = 0;
        int i;

        for (i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static void ix_put64(uint8_t *p, uint64_t v)
{
        int i;

        for (i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ix_h(const uint8_t d[32])
{
        return ix_le64(d);
}

/* ---- memtables ---------------------------------------------------------------------- */

/*
 * Anonymous mappings (zeroed, and given back whole when freed: the
 * memtables come and go every few seconds under load, and malloc would keep
 * their memory). Populated at once: the committer fills a memtable within
 * seconds, and one page fault per page taken as it goes costs more than
 * the kernel filling them all in one call (a virtual machine's faults are
 * dear: about 1% of the server's CPU under load, before).
 */
static void *ix_map(size_t bytes)
{
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

        return p == MAP_FAILED ? NULL : p;
}

static void mem_free(struct ix_mem *m)
{
        if (m == NULL)
                return;
        if (m->rec != NULL)
                munmap(m->rec, m->bytes);
        free(m);
}

/* A memtable for cap keys (at most UINT32_MAX - 1), covering entries from lo on. */
static struct ix_mem *mem_new(size_t cap, uint64_t lo)
{
        struct ix_mem *m;
        size_t scap = 16;

        if (cap == 0 || cap >= UINT32_MAX / 2 || (m = calloc(1, sizeof(*m))) == NULL)
                return NULL;
        while (scap < 2 * cap)
                scap *= 2;
        m->cap = cap;
        m->scap = scap;
        m->bytes = cap * (sizeof(struct ix_rec) + sizeof(uint32_t)) + scap * sizeof(struct ix_slot);
        if ((m->rec = ix_map(m->bytes)) == NULL) {
                free(m);
                return NULL;
        }
        m->slot = (struct ix_slot *)(m->rec + cap);
        m->next = (uint32_t *)(m->slot + scap);
        m->lo = m->hi = lo;
        return m;
}

/*
 * The slot of h in m: its own, or the empty one where it would go. Probes
 * start at a keyed hash of h (SipHash, the index's random key): subject
 * digests are the submitters' choice, and an unkeyed position would let
 * them pile distinct keys onto one probe sequence.
 */
static uint64_t mem_hash(const uint8_t key[16], uint64_t h)
{
        uint8_t in[8], out[8];

        ix_put64(in, h);
        crypto_shorthash(out, in, sizeof(in), key);
        return ix_le64(out);
}

/* mem_slot with the keyed hash hh of h computed already. */
static struct ix_slot *mem_slot_at(const struct ix_mem *m, uint64_t h, uint64_t hh, uint32_t *fpo)
{
        uint32_t fp = (uint32_t)(hh >> 32);
        size_t i;

        for (i = (size_t)hh & (m->scap - 1); m->slot[i].head != 0; i = (i + 1) & (m->scap - 1))
                if (m->slot[i].fp == fp && m->rec[m->slot[i].head - 1].h == h)
                        break;
        *fpo = fp;
        return &m->slot[i];
}

static struct ix_slot *mem_slot(const struct ix_mem *m, const uint8_t key[16], uint64_t h,
                                uint32_t *fpo)
{
        return mem_slot_at(m, h, mem_hash(key, h), fpo);
}

/*
 * Add h, whose keyed hash is hh (the caller made room, and holds mlk for
 * writing when m is visible).
 */
static void mem_add_at(struct ix_mem *m, uint64_t h, uint64_t hh, uint64_t idx)
{
        uint32_t fp;
        struct ix_slot *sl = mem_slot_at(m, h, hh, &fp);

        sl->fp = fp;
        m->rec[m->n] = (struct ix_rec){h, idx};
        m->next[m->n] = sl->head;
        sl->head = (uint32_t)++m->n;
        m->hi = idx + 1;
}

/* ---- candidate vectors --------------------------------------------------------------- */

struct ix_vec {
        uint64_t *v;
        size_t n, cap;
};

static int vec_push(struct ix_vec *x, uint64_t idx)
{
        uint64_t *t;
        size_t cap;

        if (x->n == x->cap) {
                cap = x->cap ? 2 * x->cap : 8;
                if ((t = vt_util_reallocarray(x->v, cap, sizeof(*t))) == NULL)
                        return VT_ENOMEM;
                x->v = t;
                x->cap = cap;
        }
        x->v[x->n++] = idx;
        return 0;
}

/* The entries under h in m, ascending (the chain is newest first). */
static int mem_get(const struct ix_mem *m, const uint8_t key[16], uint64_t h, struct ix_vec *x)
{
        uint32_t k, c = 0, fp;
        size_t base = x->n, i;

        if (m == NULL || m->n == 0)
                return 0;
        for (k = mem_slot(m, key, h, &fp)->head; k != 0; k = m->next[k - 1])
                if (vec_push(x, m->rec[k - 1].idx) != 0)
                        return VT_ENOMEM;
        /* Reverse what was pushed. */
        for (i = base; i < base + (x->n - base) / 2; i++, c++) {
                uint64_t t = x->v[i];
                x->v[i] = x->v[x->n - 1 - c];
                x->v[x->n - 1 - c] = t;
        }
        return 0;
}

/* ---- runs --------------------------------------------------------------------------- */

static void run_free(struct ix_run *r)
{
        if (r == NULL)
                return;
        if (r->fd >= 0)
                close(r->fd);
        free(r->fence);
        free(r);
}

static void run_name(char out[IX_NAME_MAX], const char *kind, uint64_t lo, uint64_t hi)
{
        snprintf(out, IX_NAME_MAX, "%s-%016llx-%016llx.run", kind, (unsigned long long)lo,
                 (unsigned long long)hi);
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
        uint8_t *b = p;
        ssize_t r;

        while (n > 0) {
                r = pread(fd, b, n, (off_t)off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return VT_EIO;
                b += r;
                n -= (size_t)r;
                off += (uint64_t)r;
        }
        return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
        const uint8_t *b = p;
        ssize_t r;

        while (n > 0) {
                r = write(fd, b, n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return VT_EIO;
                b += r;
                n -= (size_t)r;
        }
        return 0;
}

static size_t run_blocks(uint64_t count)
{
        return (size_t)((count + IX_BLOCK - 1) / IX_BLOCK);
}

/*
 * run_load(ix, name, size): the run in file name of ix's directory, checked
 * (name, header, file size, tag, and hi <= size); NULL when it is not one of
 * ours or cannot be read.
 */
static struct ix_run *run_load(struct vt_service_index *ix, const char *name, uint64_t size)
{
        struct ix_run *r;
        uint8_t hdr[IX_HDR], *fb = NULL;
        char want[IX_NAME_MAX];
        struct stat st;
        size_t i;
        int dfd;

        if ((r = calloc(1, sizeof(*r))) == NULL)
                return NULL;
        if ((dfd = open(ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                free(r);
                return NULL;
        }
        r->fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        close(dfd);
        if (r->fd < 0 || fstat(r->fd, &st) != 0 || pread_all(r->fd, hdr, sizeof(hdr), 0) != 0 ||
            memcmp(hdr, IX_MAGIC, 8) != 0 || ix_le64(hdr + 40) != IX_BLOCK ||
            memcmp(hdr + 64, ix->tag, 32) != 0)
                goto bad;
        r->lo = ix_le64(hdr + 8);
        r->hi = ix_le64(hdr + 16);
        r->count = ix_le64(hdr + 24);
        r->weight = ix_le64(hdr + 32);
        run_name(want, ix->kind, r->lo, r->hi);
        if (strcmp(want, name) != 0 || r->lo >= r->hi || r->hi > size || r->weight == 0 ||
            r->count > ((uint64_t)1 << 40))
                goto bad;
        r->nblock = run_blocks(r->count);
        if ((uint64_t)st.st_size != IX_HDR + IX_REC * r->count + 8 * (uint64_t)r->nblock)
                goto bad;
        if (r->nblock > 0) {
                if ((fb = malloc(8 * r->nblock)) == NULL ||
                    (r->fence = malloc(8 * r->nblock)) == NULL ||
                    pread_all(r->fd, fb, 8 * r->nblock, IX_HDR + IX_REC * r->count) != 0)
                        goto bad;
                for (i = 0; i < r->nblock; i++) {
                        r->fence[i] = ix_le64(fb + 8 * i);
                        if (i > 0 && r->fence[i] < r->fence[i - 1])
                                goto bad;
                }
        }
        free(fb);
        memcpy(r->name, name, strlen(name) + 1);
        return r;
bad:
        free(fb);
        run_free(r);
        return NULL;
}

/* run_get(r, h, x): push the entries under h in r, ascending. 0 or VT_EIO, VT_ENOMEM. */
static int run_get(const struct ix_run *r, uint64_t h, struct ix_vec *x)
{
        uint8_t buf[IX_BLOCK * IX_REC];
        size_t lo = 0, hi = r->nblock, mid, b, n, i;
        uint64_t rh;
        int err;

        if (r->nblock == 0)
                return 0;
        /* The first block whose first key is >= h; h may begin in the block before it. */
        while (lo < hi) {
                mid = lo + (hi - lo) / 2;
                if (r->fence[mid] < h)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0 && r->fence[0] > h)
                return 0;
        for (b = lo > 0 ? lo - 1 : 0; b < r->nblock; b++) {
                n = b + 1 < r->nblock || r->count % IX_BLOCK == 0 ? IX_BLOCK
                                                                  : (size_t)(r->count % IX_BLOCK);
                if ((err = pread_all(r->fd, buf, n * IX_REC,
                                     IX_HDR + (uint64_t)b * IX_BLOCK * IX_REC)) != 0)
                        return err;
                for (i = 0; i < n; i++) {
                        rh = ix_le64(buf + i * IX_REC);
                        if (rh > h)
                                return 0;
                        if (rh == h && vec_push(x, ix_le64(buf + i * IX_REC + 8)) != 0)
                                return VT_ENOMEM;
                }
        }
        return 0;
}

/*
 * Writing a run: records streamed into a .tmp file through a buffer, the
 * fences gathered on the way, then the fences, fsync, rename, directory
 * fsync.
 */
struct ix_writer {
        struct vt_service_index *ix;
        int fd;
        char tmp[IX_NAME_MAX + 8];
        uint64_t lo, hi, count, weight, done;
        uint64_t *fence;
        size_t nbuf;
        uint8_t buf[IX_MERGE_BUF * IX_REC]; /* last: wr_open clears what precedes it */
};

static int wr_open(struct ix_writer *w, struct vt_service_index *ix, uint64_t lo, uint64_t hi,
                   uint64_t count, uint64_t weight, struct vt_diag *d)
{
        char name[IX_NAME_MAX];
        uint8_t hdr[IX_HDR];
        int dfd;

        memset(w, 0, offsetof(struct ix_writer, buf));
        w->ix = ix;
        w->fd = -1;
        w->lo = lo;
        w->hi = hi;
        w->count = count;
        w->weight = weight;
        run_name(name, ix->kind, lo, hi);
        snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", name);
        if (count > 0 && (w->fence = malloc(8 * run_blocks(count))) == NULL) {
                vt_diag_set(d, "out of memory for the lookup index");
                return VT_ENOMEM;
        }
        memset(hdr, 0, sizeof(hdr));
        memcpy(hdr, IX_MAGIC, 8);
        ix_put64(hdr + 8, lo);
        ix_put64(hdr + 16, hi);
        ix_put64(hdr + 24, count);
        ix_put64(hdr + 32, weight);
        ix_put64(hdr + 40, IX_BLOCK);
        memcpy(hdr + 64, ix->tag, 32);
        if ((dfd = open(ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                w->fd = openat(dfd, w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                close(dfd);
        }
        if (w->fd < 0 || write_all(w->fd, hdr, sizeof(hdr)) != 0) {
                vt_diag_set(d, "lookup index: cannot write '%s/%s': %s", ix->dir, w->tmp,
                            strerror(errno));
                return VT_EIO;
        }
        return 0;
}

static int wr_flush(struct ix_writer *w, struct vt_diag *d)
{
        if (w->nbuf > 0 && write_all(w->fd, w->buf, w->nbuf * IX_REC) != 0) {
                vt_diag_set(d, "lookup index: cannot write '%s/%s': %s", w->ix->dir, w->tmp,
                            strerror(errno));
                return VT_EIO;
        }
        w->nbuf = 0;
        return 0;
}

static int wr_put(struct ix_writer *w, uint64_t h, uint64_t idx, struct vt_diag *d)
{
        int err;

        if (w->done % IX_BLOCK == 0)
                w->fence[w->done / IX_BLOCK] = h;
        ix_put64(w->buf + w->nbuf * IX_REC, h);
        ix_put64(w->buf + w->nbuf * IX_REC + 8, idx);
        w->done++;
        if (++w->nbuf == IX_MERGE_BUF && (err = wr_flush(w, d)) != 0)
                return err;
        return 0;
}

/* Abandon: close and remove the .tmp file. */
static void wr_abort(struct ix_writer *w)
{
        int dfd;

        if (w->fd >= 0) {
                close(w->fd);
                if ((dfd = open(w->ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                        (void)unlinkat(dfd, w->tmp, 0);
                        close(dfd);
                }
        }
        w->fd = -1;
        free(w->fence);
        w->fence = NULL;
}

/* Finish: the fences, fsync, rename, directory fsync; *out is the new run, open. */
static int wr_finish(struct ix_writer *w, struct ix_run **out, struct vt_diag *d)
{
        struct vt_service_index *ix = w->ix;
        struct ix_run *r = NULL;
        size_t i, nb = run_blocks(w->count);
        int dfd = -1, err;

        if (w->done != w->count) {
                vt_diag_set(d, "lookup index: run '%s' got %llu keys, not %llu", w->tmp,
                            (unsigned long long)w->done, (unsigned long long)w->count);
                err = VT_EINTERNAL;
                goto fail;
        }
        if ((err = wr_flush(w, d)) != 0)
                goto fail;
        for (i = 0; i < nb; i++) {
                ix_put64(w->buf + w->nbuf * 8, w->fence[i]);
                if (++w->nbuf == sizeof(w->buf) / 8 || i + 1 == nb) {
                        if (write_all(w->fd, w->buf, w->nbuf * 8) != 0)
                                goto io;
                        w->nbuf = 0;
                }
        }
        if ((r = calloc(1, sizeof(*r))) == NULL) {
                err = VT_ENOMEM;
                goto fail;
        }
        r->fd = -1;
        run_name(r->name, ix->kind, w->lo, w->hi);
        if (fsync(w->fd) != 0 || (dfd = open(ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            renameat(dfd, w->tmp, dfd, r->name) != 0 || fsync(dfd) != 0)
                goto io;
        close(dfd);
        close(w->fd);
        w->fd = -1;
        /* Reopened read-only: the run's own descriptor. */
        r->lo = w->lo;
        r->hi = w->hi;
        r->count = w->count;
        r->weight = w->weight;
        r->nblock = nb;
        r->fence = w->fence;
        w->fence = NULL;
        if ((dfd = open(ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                r->fd = openat(dfd, r->name, O_RDONLY | O_CLOEXEC);
                close(dfd);
        }
        if (r->fd < 0) {
                vt_diag_set(d, "lookup index: cannot open '%s/%s': %s", ix->dir, r->name,
                            strerror(errno));
                run_free(r);
                return VT_EIO;
        }
        *out = r;
        return 0;
io:
        vt_diag_set(d, "lookup index: cannot write '%s/%s': %s", ix->dir, w->tmp, strerror(errno));
        err = VT_EIO;
        if (dfd >= 0)
                close(dfd);
fail:
        free(r);
        wr_abort(w);
        return err;
}

static void run_unlink(struct vt_service_index *ix, const char *name)
{
        int dfd;

        if ((dfd = open(ix->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                (void)unlinkat(dfd, name, 0);
                close(dfd);
        }
}

/* ---- the flusher ---------------------------------------------------------------------- */

static int rec_cmp(const void *a, const void *b)
{
        const struct ix_rec *x = a, *y = b;

        if (x->h != y->h)
                return x->h < y->h ? -1 : 1;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

#define IX_SORT_BITS  12 /* buckets of the flush's sort: 4096, ~16 keys each */
#define IX_SORT_SMALL 48 /* a bucket up to this size: insertion sort */

/*
 * sort_recs(in, n, out): in's records (ascending idx) into out by (h, idx):
 * a stable counting sort on h's top bits, then each bucket sorted alone
 * (digests are uniform, so buckets are small: about 3x faster than qsort
 * over a memtable). Stable sorts by h keep equal h in idx order; a large
 * bucket (subject digests are the submitters' choice) goes to qsort.
 */
static void sort_recs(const struct ix_rec *in, size_t n, struct ix_rec *out, size_t *cnt)
{
        size_t i, j, b, lo, sum = 0;
        struct ix_rec t;

        memset(cnt, 0, (sizeof(*cnt) << IX_SORT_BITS) + sizeof(*cnt));
        for (i = 0; i < n; i++)
                cnt[(in[i].h >> (64 - IX_SORT_BITS)) + 1]++;
        for (b = 0; b <= ((size_t)1 << IX_SORT_BITS); b++) {
                sum += cnt[b];
                cnt[b] = sum;
        }
        for (i = 0; i < n; i++)
                out[cnt[in[i].h >> (64 - IX_SORT_BITS)]++] = in[i];
        /* cnt[b] is now the end of bucket b. */
        for (b = 0, lo = 0; b < ((size_t)1 << IX_SORT_BITS); lo = cnt[b], b++) {
                if (cnt[b] - lo > IX_SORT_SMALL) {
                        qsort(out + lo, cnt[b] - lo, sizeof(*out), rec_cmp);
                        continue;
                }
                for (i = lo + 1; i < cnt[b]; i++) {
                        t = out[i];
                        for (j = i; j > lo && out[j - 1].h > t.h; j--)
                                out[j] = out[j - 1];
                        out[j] = t;
                }
        }
}

/* The frozen memtable m as a run. */
static int flush_mem(struct vt_service_index *ix, const struct ix_mem *m, struct ix_run **out,
                     struct vt_diag *d)
{
        struct ix_writer *w = NULL;
        struct ix_rec *s;
        size_t i, *cnt;
        int err = 0;

        s = vt_util_reallocarray(NULL, m->n ? m->n : 1, sizeof(*s));
        cnt = vt_util_reallocarray(NULL, ((size_t)1 << IX_SORT_BITS) + 1, sizeof(*cnt));
        if (s == NULL || cnt == NULL || (w = malloc(sizeof(*w))) == NULL) {
                free(s);
                free(cnt);
                vt_diag_set(d, "out of memory for the lookup index");
                return VT_ENOMEM;
        }
        sort_recs(m->rec, m->n, s, cnt);
        free(cnt);
        if ((err = wr_open(w, ix, m->lo, m->hi, m->n, 1, d)) == 0) {
                for (i = 0; i < m->n && err == 0; i++)
                        err = wr_put(w, s[i].h, s[i].idx, d);
                if (err == 0)
                        err = wr_finish(w, out, d);
                else
                        wr_abort(w);
        } else {
                wr_abort(w);
        }
        free(w);
        free(s);
        return err;
}

/* Append r to the run list (under rlk for writing). */
static int runs_push(struct vt_service_index *ix, struct ix_run *r)
{
        struct ix_run **t;
        size_t cap;

        if (ix->nrun == ix->runcap) {
                cap = ix->runcap ? 2 * ix->runcap : 16;
                if ((t = vt_util_reallocarray(ix->run, cap, sizeof(*t))) == NULL)
                        return VT_ENOMEM;
                ix->run = t;
                ix->runcap = cap;
        }
        ix->run[ix->nrun++] = r;
        return 0;
}

static void *ix_flusher(void *arg)
{
        struct vt_service_index *ix = arg;
        char name[32];
        struct ix_mem *m;
        struct ix_run *r = NULL;
        struct vt_diag d;
        int err;

        snprintf(name, sizeof(name), "flush-%s", ix->kind);
        vt_util_thread_name(name);

        pthread_mutex_lock(&ix->mu);
        for (;;) {
                while (!ix->stop && (!ix->pending || ix->failed))
                        pthread_cond_wait(&ix->cv, &ix->mu);
                if (ix->stop)
                        break;
                m = ix->frozen; /* set before pending, under mu: ours to read */
                pthread_mutex_unlock(&ix->mu);
                d.msg[0] = '\0';
                r = NULL;
                if ((err = flush_mem(ix, m, &r, &d)) == 0) {
                        pthread_rwlock_wrlock(&ix->rlk);
                        if ((err = runs_push(ix, r)) == 0) {
                                pthread_rwlock_wrlock(&ix->mlk);
                                ix->frozen = NULL;
                                pthread_rwlock_unlock(&ix->mlk);
                        }
                        pthread_rwlock_unlock(&ix->rlk);
                        if (err != 0) {
                                vt_diag_set(&d, "out of memory for the lookup index");
                                run_unlink(ix, r->name);
                                run_free(r);
                        }
                }
                pthread_mutex_lock(&ix->mu);
                if (err == 0) {
                        mem_free(m);
                        ix->pending = 0;
                        ix->merge = 1;
                } else {
                        ix->failed = 1;
                        ix->ferr = err;
                        ix->fdiag = d;
                }
                pthread_cond_broadcast(&ix->cv);
        }
        pthread_mutex_unlock(&ix->mu);
        return NULL;
}

/* ---- the merger ----------------------------------------------------------------------- */

static unsigned ix_level(const struct vt_service_index *ix, uint64_t weight)
{
        unsigned l = 0;

        while (weight >= ix->fanin) {
                weight /= ix->fanin;
                l++;
        }
        return l;
}

/* A merged run's reading end: buffered records of one input. */
struct ix_cur {
        const struct ix_run *r;
        uint64_t pos; /* records read from the file */
        uint8_t buf[IX_MERGE_BUF * IX_REC];
        size_t bi, bn;
        uint64_t h, idx; /* the current record (valid while !done) */
        int started, done;
};

static int cur_next(struct ix_cur *c)
{
        uint64_t h, idx;
        size_t n;
        int err;

        if (c->bi == c->bn) {
                if (c->pos == c->r->count) {
                        c->done = 1;
                        return 0;
                }
                n = c->r->count - c->pos > IX_MERGE_BUF ? IX_MERGE_BUF
                                                        : (size_t)(c->r->count - c->pos);
                if ((err = pread_all(c->r->fd, c->buf, n * IX_REC, IX_HDR + c->pos * IX_REC)) != 0)
                        return err;
                c->pos += n;
                c->bi = 0;
                c->bn = n;
        }
        h = ix_le64(c->buf + c->bi * IX_REC);
        idx = ix_le64(c->buf + c->bi * IX_REC + 8);
        /* A run out of order is damaged: merging it would hide keys; it stays as it is. */
        if (c->started && (h < c->h || (h == c->h && idx < c->idx)))
                return VT_ECORRUPT;
        c->h = h;
        c->idx = idx;
        c->started = 1;
        c->bi++;
        return 0;
}

/* Merge the n adjacent runs in[] into *out. VT_EBUSY when asked to stop meanwhile. */
static int merge_runs(struct vt_service_index *ix, struct ix_run *const *in, size_t n,
                      struct ix_run **out, struct vt_diag *d)
{
        struct ix_cur *c;
        struct ix_writer *w;
        uint64_t count = 0, weight = 0, k = 0;
        size_t i, best;
        int err = 0;

        for (i = 0; i < n; i++) {
                count += in[i]->count;
                weight += in[i]->weight;
        }
        if ((c = calloc(n, sizeof(*c))) == NULL || (w = malloc(sizeof(*w))) == NULL) {
                free(c);
                vt_diag_set(d, "out of memory for the lookup index");
                return VT_ENOMEM;
        }
        for (i = 0; i < n && err == 0; i++) {
                c[i].r = in[i];
                err = cur_next(&c[i]);
        }
        if (err == 0)
                err = wr_open(w, ix, in[0]->lo, in[n - 1]->hi, count, weight, d);
        while (err == 0) {
                /* The least (h, input): equal keys come from older runs first (lower entries). */
                for (best = n, i = 0; i < n; i++)
                        if (!c[i].done && (best == n || c[i].h < c[best].h))
                                best = i;
                if (best == n)
                        break;
                if ((err = wr_put(w, c[best].h, c[best].idx, d)) == 0)
                        err = cur_next(&c[best]);
                if (++k % 65536 == 0) {
                        pthread_mutex_lock(&ix->mu);
                        if (ix->stop)
                                err = VT_EBUSY;
                        pthread_mutex_unlock(&ix->mu);
                }
        }
        if (err == 0)
                err = wr_finish(w, out, d);
        else
                wr_abort(w);
        if ((err == VT_EIO || err == VT_ECORRUPT) && d != NULL && d->msg[0] == '\0')
                vt_diag_set(d, "lookup index: a run of '%s' cannot be read or is out of order",
                            ix->dir);
        free(w);
        free(c);
        return err;
}

/* The first fanin adjacent runs of one level: their position, or nrun when none. */
static size_t merge_pick(struct vt_service_index *ix)
{
        size_t i, j;
        unsigned l;

        for (i = 0; i + ix->fanin <= ix->nrun; i++) {
                l = ix_level(ix, ix->run[i]->weight);
                for (j = 1; j < ix->fanin && ix_level(ix, ix->run[i + j]->weight) == l; j++)
                        ;
                if (j == ix->fanin)
                        return i;
        }
        return ix->nrun;
}

static void *ix_merger(void *arg)
{
        struct vt_service_index *ix = arg;
        char name[32];
        struct ix_run *in[16], *r;
        struct vt_diag d;
        size_t at, i;
        int err, found;

        snprintf(name, sizeof(name), "merge-%s", ix->kind);
        vt_util_thread_name(name);

        pthread_mutex_lock(&ix->mu);
        for (;;) {
                while (!ix->stop && !ix->merge)
                        pthread_cond_wait(&ix->cv, &ix->mu);
                if (ix->stop)
                        break;
                ix->merge = 0;
                ix->merging = 1;
                pthread_mutex_unlock(&ix->mu);
                for (;;) {
                        /* Only the merger removes runs, and the flusher only appends: at stays. */
                        pthread_rwlock_rdlock(&ix->rlk);
                        found = (at = merge_pick(ix)) < ix->nrun;
                        if (found)
                                memcpy(in, ix->run + at, ix->fanin * sizeof(*in));
                        pthread_rwlock_unlock(&ix->rlk);
                        if (!found)
                                break;
                        d.msg[0] = '\0';
                        r = NULL;
                        if ((err = merge_runs(ix, in, ix->fanin, &r, &d)) != 0) {
                                pthread_mutex_lock(&ix->mu);
                                ix->merr = err;
                                pthread_mutex_unlock(&ix->mu);
                                break;
                        }
                        pthread_rwlock_wrlock(&ix->rlk);
                        ix->run[at] = r;
                        memmove(ix->run + at + 1, ix->run + at + ix->fanin,
                                (ix->nrun - at - ix->fanin) * sizeof(*ix->run));
                        ix->nrun -= ix->fanin - 1;
                        pthread_rwlock_unlock(&ix->rlk);
                        /* No lookup holds them now: close and remove the merged runs. */
                        for (i = 0; i < ix->fanin; i++) {
                                run_unlink(ix, in[i]->name);
                                run_free(in[i]);
                        }
                        pthread_mutex_lock(&ix->mu);
                        ix->merr = 0;
                        pthread_mutex_unlock(&ix->mu);
                }
                pthread_mutex_lock(&ix->mu);
                ix->merging = 0;
                pthread_cond_broadcast(&ix->cv);
        }
        pthread_mutex_unlock(&ix->mu);
        return NULL;
}

/* ---- opening ------------------------------------------------------------------------- */

static int name_is(const char *name, const char *kind, const char *suffix)
{
        size_t k = strlen(kind), n = strlen(name), s = strlen(suffix);

        return n > k + s && strncmp(name, kind, k) == 0 && name[k] == '-' &&
               strcmp(name + n - s, suffix) == 0;
}

/*
 * ix_chain(ix, size): load the runs of ix's kind that chain from entry 0
 * (see the top) and remove the other files of that kind.
 */
static int ix_chain(struct vt_service_index *ix, uint64_t size, struct vt_diag *d)
{
        struct ix_run **all = NULL, **t, *r;
        struct dirent *de;
        size_t n = 0, cap = 0, i, best;
        uint64_t at = 0;
        DIR *dir;
        int err = 0;

        if ((dir = opendir(ix->dir)) == NULL) {
                vt_diag_set(d, "lookup index: cannot read '%s': %s", ix->dir, strerror(errno));
                return VT_EIO;
        }
        while ((de = readdir(dir)) != NULL) {
                if (name_is(de->d_name, ix->kind, ".tmp")) {
                        run_unlink(ix, de->d_name);
                        continue;
                }
                if (!name_is(de->d_name, ix->kind, ".run") || strlen(de->d_name) >= IX_NAME_MAX)
                        continue;
                if ((r = run_load(ix, de->d_name, size)) == NULL) {
                        run_unlink(ix, de->d_name); /* damaged, foreign or past the log */
                        continue;
                }
                if (n == cap) {
                        cap = cap ? 2 * cap : 16;
                        if ((t = vt_util_reallocarray(all, cap, sizeof(*t))) == NULL) {
                                run_free(r);
                                err = VT_ENOMEM;
                                break;
                        }
                        all = t;
                }
                all[n++] = r;
        }
        closedir(dir);
        /* From entry 0, the longest run at each step. */
        while (err == 0) {
                for (best = n, i = 0; i < n; i++)
                        if (all[i] != NULL && all[i]->lo == at &&
                            (best == n || all[i]->hi > all[best]->hi))
                                best = i;
                if (best == n)
                        break;
                if ((err = runs_push(ix, all[best])) != 0)
                        break;
                at = all[best]->hi;
                all[best] = NULL;
        }
        for (i = 0; i < n; i++)
                if (all[i] != NULL) {
                        if (err == 0)
                                run_unlink(ix, all[i]->name);
                        run_free(all[i]);
                }
        free(all);
        if (err != 0)
                vt_diag_set(d, "out of memory for the lookup index");
        return err;
}

/* see service_int.h */
int vt_service_index_open(const char *dir, const char *kind, const uint8_t tag[32], uint64_t size,
                          const struct vt_service_index_opts *o, uint64_t *covered,
                          struct vt_service_index **out, struct vt_diag *d)
{
        struct vt_service_index *ix;
        size_t len = strlen(dir);
        sigset_t all, old;
        int err = VT_ENOMEM;

        if (strlen(kind) >= sizeof(ix->kind) || strchr(kind, '-') != NULL || kind[0] == '\0') {
                vt_diag_set(d, "lookup index: bad kind '%s'", kind);
                return VT_EINVAL;
        }
        if ((ix = calloc(1, sizeof(*ix))) == NULL || (ix->dir = malloc(len + 7)) == NULL) {
                free(ix);
                vt_diag_set(d, "out of memory for the lookup index");
                return VT_ENOMEM;
        }
        memcpy(ix->dir, dir, len);
        memcpy(ix->dir + len, "/index", 7);
        memcpy(ix->kind, kind, strlen(kind) + 1);
        memcpy(ix->tag, tag, 32);
        randombytes_buf(ix->key, sizeof(ix->key));
        atomic_init(&ix->mem_keys,
                    o != NULL && o->mem_keys > 0 ? o->mem_keys : VT_SERVICE_INDEX_MEM_KEYS);
        ix->fanin = o != NULL && o->fanin >= 2 ? o->fanin : VT_SERVICE_INDEX_FANIN;
        if (ix->fanin > 16)
                ix->fanin = 16;
        pthread_rwlock_init(&ix->mlk, NULL);
        pthread_rwlock_init(&ix->rlk, NULL);
        pthread_mutex_init(&ix->mu, NULL);
        pthread_cond_init(&ix->cv, NULL);
        if (mkdir(ix->dir, 0700) != 0 && errno != EEXIST) {
                vt_diag_set(d, "lookup index: cannot create '%s': %s", ix->dir, strerror(errno));
                err = VT_EIO;
                goto fail;
        }
        if ((err = ix_chain(ix, size, d)) != 0)
                goto fail;
        ix->active = mem_new(ix->mem_keys, ix->nrun > 0 ? ix->run[ix->nrun - 1]->hi : 0);
        if (ix->active == NULL) {
                vt_diag_set(d, "out of memory for the lookup index");
                err = VT_ENOMEM;
                goto fail;
        }
        /* The threads, with every signal blocked (signals are the program's). */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&ix->th[0], NULL, ix_flusher, ix) == 0) {
                ix->nthreads = 1;
                if (pthread_create(&ix->th[1], NULL, ix_merger, ix) == 0)
                        ix->nthreads = 2;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (ix->nthreads < 2) {
                vt_diag_set(d, "lookup index: cannot start its threads");
                err = VT_ENOMEM;
                goto fail;
        }
        /* The merges the runs found call for (a restart between a flush and its merge). */
        pthread_mutex_lock(&ix->mu);
        ix->merge = 1;
        pthread_cond_broadcast(&ix->cv);
        pthread_mutex_unlock(&ix->mu);
        *covered = ix->active->lo;
        *out = ix;
        return 0;
fail:
        vt_service_index_free(ix);
        return err;
}

/* see service_int.h */
void vt_service_index_free(struct vt_service_index *ix)
{
        size_t i;
        int k;

        if (ix == NULL)
                return;
        pthread_mutex_lock(&ix->mu);
        ix->stop = 1;
        pthread_cond_broadcast(&ix->cv);
        pthread_mutex_unlock(&ix->mu);
        for (k = 0; k < ix->nthreads; k++)
                pthread_join(ix->th[k], NULL);
        /* What the memtables hold is added again from the store at the next open. */
        mem_free(ix->active);
        mem_free(ix->frozen);
        for (i = 0; i < ix->nrun; i++)
                run_free(ix->run[i]);
        free(ix->run);
        pthread_rwlock_destroy(&ix->mlk);
        pthread_rwlock_destroy(&ix->rlk);
        pthread_mutex_destroy(&ix->mu);
        pthread_cond_destroy(&ix->cv);
        free(ix->dir);
        free(ix);
}

/* ---- adding and looking up -------------------------------------------------------------- */

/* see service_int.h */
int vt_service_index_reserve(struct vt_service_index *ix, size_t keys, struct vt_diag *d)
{
        struct ix_mem *m = ix->active, *fresh;
        size_t cap, mem = atomic_load_explicit(&ix->mem_keys, memory_order_relaxed);
        int err;

        /* Only the adder changes active: ours to read without the lock. */
        if (keys <= m->cap - m->n && (m->n + keys <= mem || m->n == 0))
                return 0;
        if (keys >= UINT32_MAX / 4) {
                vt_diag_set(d, "lookup index: %zu keys at once is too many", keys);
                return VT_ETOOBIG;
        }
        cap = keys > mem ? keys : mem;
        if (m->n == 0) {
                /* Empty but too small for these keys: a larger one instead. */
                if ((fresh = mem_new(cap, m->lo)) == NULL)
                        goto nomem;
                pthread_rwlock_wrlock(&ix->mlk);
                ix->active = fresh;
                pthread_rwlock_unlock(&ix->mlk);
                mem_free(m);
                return 0;
        }
        /* Freeze m: first wait until the previous frozen one is a run. */
        pthread_mutex_lock(&ix->mu);
        while (ix->pending) {
                if (ix->failed) {
                        /* Report its failure; the flusher tries again meanwhile. */
                        ix->failed = 0;
                        err = ix->ferr;
                        if (d != NULL)
                                *d = ix->fdiag;
                        pthread_cond_broadcast(&ix->cv);
                        pthread_mutex_unlock(&ix->mu);
                        return err;
                }
                pthread_cond_wait(&ix->cv, &ix->mu);
        }
        pthread_mutex_unlock(&ix->mu);
        if ((fresh = mem_new(cap, m->hi)) == NULL)
                goto nomem;
        pthread_rwlock_wrlock(&ix->mlk);
        ix->frozen = m;
        ix->active = fresh;
        pthread_rwlock_unlock(&ix->mlk);
        pthread_mutex_lock(&ix->mu);
        ix->pending = 1;
        pthread_cond_broadcast(&ix->cv);
        pthread_mutex_unlock(&ix->mu);
        return 0;
nomem:
        vt_diag_set(d, "out of memory for the lookup index");
        return VT_ENOMEM;
}

/* see service_int.h */
void vt_service_index_set_mem(struct vt_service_index *ix, size_t keys)
{
        if (ix != NULL && keys > 0)
                atomic_store(&ix->mem_keys, keys);
}

/* see service_int.h */
void vt_service_index_add(struct vt_service_index *ix, const uint8_t digest[32], uint64_t idx)
{
        vt_service_index_add_many(ix, &digest, &idx, 1);
}

/*
 * IX_AHEAD: how many keys ahead of the one being added the batch add
 * hashes and prefetches. A memtable's slots span a megabyte or more, so
 * nearly every add misses the cache once; with the slot of the key
 * IX_AHEAD places on already requested, the misses overlap.
 */
#define IX_AHEAD 8

/* see service_int.h */
void vt_service_index_add_many(struct vt_service_index *ix, const uint8_t *const *digests,
                               const uint64_t *idx, size_t n)
{
        struct ix_mem *m = ix->active;
        uint64_t h[IX_AHEAD], hh[IX_AHEAD], last;
        size_t i, j;

        if (n == 0)
                return;
        pthread_rwlock_wrlock(&ix->mlk);
        for (i = 0; i < n + IX_AHEAD; i++) {
                /* Add key j = i - IX_AHEAD, then hash and prefetch key i in its place. */
                if (i >= IX_AHEAD) {
                        j = i - IX_AHEAD;
                        /*
                         * vt_service_index_reserve() made room; a caller that
                         * did not loses the key, as does one that goes back
                         * (below the entry last added, or below what the runs
                         * and the frozen memtable cover).
                         */
                        last = m->n > 0 ? m->rec[m->n - 1].idx : m->lo;
                        if (m->n < m->cap && idx[j] >= last)
                                mem_add_at(m, h[j % IX_AHEAD], hh[j % IX_AHEAD], idx[j]);
                }
                if (i < n) {
                        h[i % IX_AHEAD] = ix_h(digests[i]);
                        hh[i % IX_AHEAD] = mem_hash(ix->key, h[i % IX_AHEAD]);
                        __builtin_prefetch(&m->slot[hh[i % IX_AHEAD] & (m->scap - 1)], 1);
                }
        }
        pthread_rwlock_unlock(&ix->mlk);
}

/* see service_int.h */
int vt_service_index_get(struct vt_service_index *ix, const uint8_t digest[32], uint64_t **out,
                         size_t *n)
{
        uint64_t h = ix_h(digest);
        struct ix_vec x = {0}, mx = {0};
        uint64_t *t;
        size_t i;
        int err = 0;

        pthread_rwlock_rdlock(&ix->rlk);
        pthread_rwlock_rdlock(&ix->mlk);
        if ((err = mem_get(ix->frozen, ix->key, h, &mx)) == 0)
                err = mem_get(ix->active, ix->key, h, &mx);
        pthread_rwlock_unlock(&ix->mlk);
        /* Oldest first: the runs in order, then the memtables. */
        for (i = 0; i < ix->nrun && err == 0; i++)
                err = run_get(ix->run[i], h, &x);
        pthread_rwlock_unlock(&ix->rlk);
        if (err == 0 && mx.n > 0) {
                if (x.n == 0) {
                        x = mx;
                        mx.v = NULL;
                } else if ((t = vt_util_reallocarray(x.v, x.n + mx.n, sizeof(*t))) == NULL) {
                        err = VT_ENOMEM;
                } else {
                        x.v = t;
                        memcpy(x.v + x.n, mx.v, mx.n * sizeof(*t));
                        x.n += mx.n;
                }
        }
        free(mx.v);
        if (err != 0) {
                free(x.v);
                *out = NULL;
                *n = 0;
                return err;
        }
        *out = x.v;
        *n = x.n;
        return 0;
}

/* see service_int.h */
void vt_service_index_stats(struct vt_service_index *ix, struct vt_service_index_stats *st)
{
        size_t i;

        memset(st, 0, sizeof(*st));
        pthread_rwlock_rdlock(&ix->rlk);
        pthread_rwlock_rdlock(&ix->mlk);
        st->runs = ix->nrun;
        for (i = 0; i < ix->nrun; i++) {
                st->run_keys += ix->run[i]->count;
                st->bytes += ix->run[i]->nblock * 8 + sizeof(*ix->run[i]);
        }
        st->on_disk = ix->nrun > 0 ? ix->run[ix->nrun - 1]->hi : 0;
        st->mem_keys = ix->active->n + (ix->frozen != NULL ? ix->frozen->n : 0);
        st->bytes += ix->active->bytes + (ix->frozen != NULL ? ix->frozen->bytes : 0);
        pthread_rwlock_unlock(&ix->mlk);
        pthread_rwlock_unlock(&ix->rlk);
        pthread_mutex_lock(&ix->mu);
        st->flush_failed = ix->failed ? ix->ferr : 0;
        st->merge_failed = ix->merr;
        pthread_mutex_unlock(&ix->mu);
}

/* see service_int.h */
void vt_service_index_settle(struct vt_service_index *ix)
{
        pthread_mutex_lock(&ix->mu);
        while (!ix->stop && ((ix->pending && !ix->failed) || ix->merge || ix->merging))
                pthread_cond_wait(&ix->cv, &ix->mu);
        pthread_mutex_unlock(&ix->mu);
}
