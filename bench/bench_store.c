/*
 * bench_store.c: how fast the SQLite store makes log and service batches
 * durable, against the disk's own limit measured in the same run.
 *
 *   1. raw: append the same bytes to a plain file with write() and one
 *      fdatasync() per batch; this is the ceiling any durable store has.
 *   2. bundles: commit 256 KiB entry bundles (full ones), k per transaction.
 *   3. log-shaped batches of 1 KiB entries: per batch, the bundles the batch
 *      touches (the partial one grown), the level-0/1/2 tiles it touches
 *      (partials rewritten) and a checkpoint, in one transaction. This is the
 *      store's share of the log core target (>= 100k entries/s durable).
 *   4. service-shaped group commits: the log's part as in 3, plus per entry
 *      its envelope (schema 5: one row with a random payload digest, entry
 *      hash and one random subject digest; the 1 KiB body appended to the
 *      envelope segment). This is the store's share of the service's
 *      submissions. The store first gets the rows of PREFILL earlier
 *      submissions (not timed), so the table is as large as in a service
 *      that has run for a while.
 *
 * Each figure also says how many bytes the store wrote per entry (write
 * calls to the database, its WAL and both segments, from /proc/self/io).
 *
 * Data goes to a fresh directory under $TMPDIR (default /tmp), removed at
 * the end. VT_BENCH_SECONDS sets the time per measurement; VT_BENCH_STORE
 * (a list of bundles, log, service) the workloads to run (default all).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "veritrail/store.h"

#define ENTRY_SIZE 1024
#define ENTRY_REC  (ENTRY_SIZE + 2) /* with its 2-byte length in a bundle */
#define BUNDLE_MAX (256 * ENTRY_REC)
#define PREFILL    300000 /* earlier submissions in the service workload's indexes */

static char tmpdir[256];

static void die(const char *what, int err, const struct vt_diag *d)
{
        fprintf(stderr, "bench_store: %s: %s (%s)\n", what, vt_strerror(err), d ? d->msg : "");
        exit(1);
}

static void rm_rf(const char *dir)
{
        char cmd[512];

        /* The directory is one we made with mkdtemp; its name has no quotes. */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bench_store: cannot remove '%s'\n", dir);
}

/*
 * A workload is one step function run again and again; each step makes some
 * bytes durable and counts the entries in them. The raw limit and the store
 * run in alternating slices of about SLICE seconds, so both see the same
 * disk weather (this machine's disk is shared and its speed drifts).
 */
#define SLICE 1.0

struct work {
        int (*step)(struct work *w); /* one durable unit; 0 or a VT_E* code */
        size_t batch_bytes;          /* bytes per raw step */
        unsigned batch;              /* entries (or bundles) per store step */
        uint64_t size;               /* log size so far (log workload) */
        uint64_t bytes, units;       /* totals of the store steps */
        double secs;                 /* time spent in store steps */
        uint64_t written;            /* bytes the store steps wrote (wchar) */
        uint64_t rng;                /* xorshift state (service workload) */
        struct vt_store *s;
        void (*setup)(struct work *w); /* untimed, after the store opens (may be NULL) */
        double *lat;                   /* commit latencies in seconds (log workload) */
        size_t nlat, caplat;
        int fd;
        uint64_t raw_bytes, raw_off;
        double raw_secs;
};

static uint8_t buf[16 * BUNDLE_MAX], hashes[256 * 32], note[300];

static void raw_step(struct work *w)
{
        /* Append, as a log file would; start over every 256 MiB to bound the disk use. */
        if (w->raw_off > (256u << 20)) {
                if (ftruncate(w->fd, 0) != 0 || fsync(w->fd) != 0) {
                        fprintf(stderr, "bench_store: truncate: %s\n", strerror(errno));
                        exit(1);
                }
                w->raw_off = 0;
        }
        if (pwrite(w->fd, buf, w->batch_bytes, (off_t)w->raw_off) != (ssize_t)w->batch_bytes ||
            fdatasync(w->fd) != 0) {
                fprintf(stderr, "bench_store: write: %s\n", strerror(errno));
                exit(1);
        }
        w->raw_off += w->batch_bytes;
        w->raw_bytes += w->batch_bytes;
}

/* io_wchar(): bytes this process has passed to write calls so far (0 if unknown). */
static uint64_t io_wchar(void)
{
        unsigned long long v = 0;
        char line[128];
        FILE *f = fopen("/proc/self/io", "r");

        if (f == NULL)
                return 0;
        while (fgets(line, sizeof(line), f) != NULL)
                if (sscanf(line, "wchar: %llu", &v) == 1)
                        break;
        fclose(f);
        return v;
}

/* store_dir(name, out): a new directory name under tmpdir. */
static void store_dir(const char *name, char *out, size_t cap)
{
        static int serial;

        snprintf(out, cap, "%s/%s-%d", tmpdir, name, ++serial);
}

static struct vt_store *open_store(const char *dir)
{
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        int err;

        if ((err = vt_store_open(dir, VT_STORE_CREATE, &s, &d)) != 0)
                die("open", err, &d);
        return s;
}

/*
 * run(w): alternate raw and store slices for bench_seconds() of each. The
 * store stays open, as in a running log, and checkpoints its WAL as it
 * grows; each store slice ends with vt_store_wal_flush(), so the time of
 * copying the WAL into the database (the store's second write of every
 * byte) is charged to the store and none of its I/O spills into the next
 * raw slice.
 */
static void run(struct work *w, const char *name)
{
        char path[300], dir[300];
        struct vt_diag d = {{0}};
        double t0, t, total = bench_seconds();
        uint64_t c0;
        int err;

        snprintf(path, sizeof(path), "%s/raw", tmpdir);
        if ((w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
                fprintf(stderr, "bench_store: cannot open '%s': %s\n", path, strerror(errno));
                exit(1);
        }
        store_dir(name, dir, sizeof(dir));
        w->s = open_store(dir);
        if (w->setup != NULL)
                w->setup(w);
        while (w->secs < total || w->raw_secs < total) {
                t0 = bench_now();
                do {
                        raw_step(w);
                } while ((t = bench_now()) - t0 < SLICE);
                w->raw_secs += t - t0;
                t0 = t;
                c0 = io_wchar();
                do {
                        if ((err = w->step(w)) != 0)
                                die(name, err, NULL);
                } while (bench_now() - t0 < SLICE);
                if ((err = vt_store_wal_flush(w->s, &d)) != 0)
                        die("wal flush", err, &d);
                w->secs += bench_now() - t0;
                w->written += io_wchar() - c0;
        }
        vt_store_close(w->s);
        close(w->fd);
        unlink(path);
}

/* blob_step: w->batch full 256 KiB entry bundles in one transaction. */
static int blob_step(struct work *w)
{
        struct vt_diag d = {{0}};
        unsigned i;
        int err;

        if ((err = vt_store_begin(w->s, &d)) != 0)
                die("begin", err, &d);
        for (i = 0; i < w->batch; i++, w->size++) {
                if ((err = vt_store_bundle_put(w->s, w->size, 256, buf, BUNDLE_MAX, &d)) != 0)
                        die("bundle put", err, &d);
                w->bytes += BUNDLE_MAX;
        }
        if ((err = vt_store_commit(w->s, &d)) != 0)
                die("commit", err, &d);
        w->units += w->batch;
        return 0;
}

/* put_tile_range(s, level, lo, hi): the tiles of one level a batch touches (lo..hi hashes). */
static void put_tile_range(struct vt_store *s, unsigned level, uint64_t lo, uint64_t hi)
{
        struct vt_diag d = {{0}};
        uint64_t n;
        int err;

        for (n = lo / 256; n * 256 < hi; n++) {
                uint64_t end = (n + 1) * 256 < hi ? (n + 1) * 256 : hi;
                unsigned wd = (unsigned)(end - n * 256);
                if ((err = vt_store_tile_put(s, level, n, wd, hashes, (size_t)wd * 32, &d)) != 0)
                        die("tile put", err, &d);
        }
}

/*
 * log_puts(w): the log's puts for one batch of w->batch 1 KiB entries: the
 * bundles it touches (the trailing partial one grows next batch), the tiles
 * of levels 0..2 it touches, the new checkpoint.
 */
static void log_puts(struct work *w)
{
        struct vt_diag d = {{0}};
        uint64_t size = w->size, next = size + w->batch, n;
        int err;

        for (n = size / 256; n * 256 < next; n++) {
                uint64_t end = (n + 1) * 256 < next ? (n + 1) * 256 : next;
                unsigned wd = (unsigned)(end - n * 256);
                if ((err = vt_store_bundle_put(w->s, n, wd, buf, (size_t)wd * ENTRY_REC, &d)) != 0)
                        die("bundle put", err, &d);
                w->bytes += (uint64_t)wd * ENTRY_REC;
        }
        put_tile_range(w->s, 0, size, next);
        if (next >= 256)
                put_tile_range(w->s, 1, size / 256, next / 256);
        if (next >= 65536)
                put_tile_range(w->s, 2, size / 65536, next / 65536);
        if ((err = vt_store_checkpoint_put(w->s, next, note, sizeof(note), &d)) != 0)
                die("checkpoint put", err, &d);
}

/* commit_timed(w, t0): commit, record the transaction's time, count the batch. */
static void commit_timed(struct work *w, double t0)
{
        struct vt_diag d = {{0}};
        int err;

        if ((err = vt_store_commit(w->s, &d)) != 0)
                die("commit", err, &d);
        if (w->nlat == w->caplat) {
                w->caplat = w->caplat ? 2 * w->caplat : 4096;
                if ((w->lat = realloc(w->lat, w->caplat * sizeof(*w->lat))) == NULL)
                        die("latency", VT_ENOMEM, NULL);
        }
        w->lat[w->nlat++] = bench_now() - t0;
        w->size += w->batch;
        w->units += w->batch;
}

/* log_step: one log batch in one transaction. */
static int log_step(struct work *w)
{
        struct vt_diag d = {{0}};
        double t0 = bench_now();
        int err;

        if ((err = vt_store_begin(w->s, &d)) != 0)
                die("begin", err, &d);
        log_puts(w);
        commit_timed(w, t0);
        return 0;
}

static uint64_t xorshift(uint64_t *x)
{
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

/* rand32(w, out): 32 pseudo-random bytes (digests with no order). */
static void rand32(struct work *w, uint8_t out[32])
{
        int i;

        for (i = 0; i < 4; i++) {
                uint64_t v = xorshift(&w->rng);
                memcpy(out + 8 * i, &v, 8);
        }
}

/*
 * service_prefill(w): the index rows of PREFILL earlier submissions (a small
 * envelope each, random digests), then a WAL flush, all untimed.
 */
static void service_prefill(struct work *w)
{
        struct vt_diag d = {{0}};
        uint8_t payload[32], entry[32], subject[32];
        uint64_t i;
        int err;

        if ((err = vt_store_begin(w->s, &d)) != 0)
                die("begin", err, &d);
        for (i = 0; i < PREFILL; i++) {
                rand32(w, payload);
                rand32(w, entry);
                rand32(w, subject);
                if ((err = vt_store_envelope_put(w->s, i, payload, entry,
                                                 (const uint8_t(*)[32])subject, 1, buf, 16, &d)) !=
                    0)
                        die("prefill", err, &d);
        }
        if ((err = vt_store_commit(w->s, &d)) != 0 || (err = vt_store_wal_flush(w->s, &d)) != 0)
                die("prefill commit", err, &d);
}

/*
 * service_step: one group commit of w->batch submissions: the log's puts,
 * then per entry its envelope (1 KiB, to the envelope segment) with one
 * subject, one row, as the service's batch hook writes them; one transaction.
 */
static int service_step(struct work *w)
{
        struct vt_diag d = {{0}};
        uint8_t payload[32], entry[32], subject[32];
        double t0 = bench_now();
        unsigned i;
        int err;

        if ((err = vt_store_begin(w->s, &d)) != 0)
                die("begin", err, &d);
        log_puts(w);
        for (i = 0; i < w->batch; i++) {
                rand32(w, payload);
                rand32(w, entry);
                rand32(w, subject);
                if ((err = vt_store_envelope_put(w->s, PREFILL + w->size + i, payload, entry,
                                                 (const uint8_t(*)[32])subject, 1, buf, ENTRY_SIZE,
                                                 &d)) != 0)
                        die("envelope put", err, &d);
        }
        commit_timed(w, t0);
        return 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* report_latency(w): p50, p99 and the largest transaction time, in ms. */
static void report_latency(struct work *w)
{
        if (w->nlat == 0)
                return;
        qsort(w->lat, w->nlat, sizeof(*w->lat), cmp_double);
        printf("  transaction (begin..commit) ms: p50 %.2f  p99 %.2f  max %.2f  (%zu batches)\n",
               1e3 * w->lat[w->nlat / 2], 1e3 * w->lat[w->nlat * 99 / 100],
               1e3 * w->lat[w->nlat - 1], w->nlat);
        free(w->lat);
}

int main(void)
{
        const char *base = getenv("TMPDIR");
        static const unsigned blobs[] = {1, 4};
        static const unsigned batches[] = {256, 1024, 4096};
        static const unsigned groups[] = {32, 100, 400};
        const char *only = getenv("VT_BENCH_STORE");
        char what[96], limit[96];
        size_t i;

        snprintf(tmpdir, sizeof(tmpdir), "%s/vt-bench-store-XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
                fprintf(stderr, "bench_store: mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        memset(buf, 0x5a, sizeof(buf));
        memset(hashes, 0x44, sizeof(hashes));
        memset(note, 'n', sizeof(note));

        for (i = 0;
             (only == NULL || strstr(only, "bundles")) && i < sizeof(blobs) / sizeof(blobs[0]);
             i++) {
                struct work w = {.step = blob_step, .batch = blobs[i]};
                w.batch_bytes = (size_t)blobs[i] * BUNDLE_MAX;
                run(&w, "blob");
                snprintf(what, sizeof(what), "store: %u x 256 KiB bundle per commit", blobs[i]);
                snprintf(limit, sizeof(limit), "raw %u x 256 KiB write+fdatasync", blobs[i]);
                bench_report(what, (double)w.bytes / w.secs / 1e6, "MB/s",
                             (double)w.raw_bytes / w.raw_secs / 1e6, limit);
                printf("  written per bundle byte: %.2f bytes\n",
                       w.bytes ? (double)w.written / (double)w.bytes : 0.0);
        }
        for (i = 0;
             (only == NULL || strstr(only, "log")) && i < sizeof(batches) / sizeof(batches[0]);
             i++) {
                struct work w = {.step = log_step, .batch = batches[i]};
                w.batch_bytes = (size_t)batches[i] * ENTRY_REC;
                run(&w, "log");
                snprintf(what, sizeof(what), "store: log batches of %u x 1 KiB entries",
                         batches[i]);
                bench_report(what, (double)w.units / w.secs, "entries/s",
                             (double)w.raw_bytes / ENTRY_REC / w.raw_secs,
                             "raw same bytes+fdatasync, entries/s");
                report_latency(&w);
                printf("  written per entry: %.0f bytes\n",
                       w.units ? (double)w.written / (double)w.units : 0.0);
        }
        for (i = 0;
             (only == NULL || strstr(only, "service")) && i < sizeof(groups) / sizeof(groups[0]);
             i++) {
                struct work w = {
                    .step = service_step, .setup = service_prefill, .batch = groups[i]};
                w.rng = 88172645463325252ull;
                /* The raw limit writes what the service must: entry and envelope bytes. */
                w.batch_bytes = (size_t)groups[i] * (ENTRY_REC + ENTRY_SIZE);
                run(&w, "service");
                snprintf(what, sizeof(what), "store: service commits of %u x 1 KiB", groups[i]);
                bench_report(what, (double)w.units / w.secs, "entries/s",
                             (double)w.raw_bytes / (ENTRY_REC + ENTRY_SIZE) / w.raw_secs,
                             "raw 2 KiB/entry+fdatasync, entries/s");
                report_latency(&w);
                printf("  written per entry: %.0f bytes\n",
                       w.units ? (double)w.written / (double)w.units : 0.0);
        }
        rm_rf(tmpdir);
        return 0;
}
