/*
 * bench_log.c: the log core (DESIGN.md §5): durable appends of 1 KiB
 * entries in batches, beside the disk's streaming write + fdatasync
 * bandwidth measured in the same run and the same directory; the tree's
 * overhead per entry; proof generation through the log API; group commit
 * from several threads.
 *
 * Appends are measured from one thread calling vt_log_append (each batch
 * prepared, then stored), from one producer through a stream
 * (vt_log_stream: the stream's two threads prepare one batch while the
 * other is stored, log.c's pipeline; `veritrail log append --lines` runs
 * so), and from two threads calling vt_log_append (the same pipeline),
 * each for 3 s-units. The log's durable append rate is the streamed one:
 * one caller that waits for each commit before it hands over the next
 * batch leaves the disk idle while that batch is hashed and signed, and
 * the idle disk, not the log, is what its line measures.
 *
 * Proofs of many entries of one size (a batch reply's bundles): 64
 * consecutive indexes proved one at a time (vt_log_prove_inclusion, and
 * each proof's text written with vt_encoding_bundle_add_proved) against
 * all at once (vt_log_prove_inclusion_many, vt_encoding_bundle_add_proved_memo),
 * for the newest 64 entries (a group commit that just committed) and for a
 * run of older ones. `bench_log proofs` measures only these, on a log of
 * 1M small entries, without the disk probes.
 *
 * The data directory is made under $TMPDIR (or /tmp) and removed at the end.
 * VT_BENCH_SECONDS scales how long each measurement runs (default 1).
 *
 * The disk limit. The log appends gigabytes in 4 MiB batches and syncs each,
 * so it is compared with the disk doing the same: a fresh file written in
 * 4 MiB chunks (one batch of 4096 x 1 KiB) with fdatasync after each, of at
 * least the volume the appends wrote (1 GiB before the appends, what they
 * wrote after them; never less than 1 GiB). Such a stream costs more than
 * the disk's transfer: every chunk needs page-cache pages, and fresh ones are
 * dear (on a VM, memory the guest returned to the host and faults in again:
 * the write() calls took 37-65% of a plain 1-2 GiB stream on the VM where
 * this was measured). So it is measured twice, plainly and with drop-behind
 * (each synced chunk leaves the page cache, so the next reuses its pages, as
 * the log's segment does: src/store/segment.c), and the limit is the better
 * of the two, averaged over before and after the appends: the disk's best
 * streaming bandwidth under the log's own conditions.
 *
 * The "burst" line is the old probe, 64 MiB written and synced in the same
 * chunks: it fits in pages just freed and in the disk's caches, and reads
 * 2-3x the sustained figure on that VM. It is shown for comparison only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/merkle.h"

#define ENTRY      1024
#define BATCH      4096
#define DISK_CHUNK (4u << 20)  /* one batch of entry bytes */
#define DISK_BURST (64u << 20) /* the burst probe (see the top) */
#define DISK_MIN   (1u << 30)  /* the least a sustained probe writes */

static void die(const char *what, const struct vt_diag *d)
{
        fprintf(stderr, "bench_log: %s: %s\n", what, d != NULL ? d->msg : strerror(errno));
        exit(1);
}

/*
 * disk_stream(dir, total, drop): write total bytes (a multiple of
 * DISK_CHUNK) to a fresh file in dir, DISK_CHUNK per write() with fdatasync
 * after each, and remove it; bytes/s. drop: after each sync, the chunk leaves
 * the page cache (posix_fadvise DONTNEED), as the log's segment does.
 */
static double disk_stream(const char *dir, uint64_t total, int drop)
{
        char path[4200];
        uint8_t *buf = malloc(DISK_CHUNK);
        uint64_t done;
        double t0, t;
        int fd;

        if (buf == NULL)
                die("malloc", NULL);
        memset(buf, 0x5a, DISK_CHUNK);
        snprintf(path, sizeof(path), "%s/disk-probe", dir);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
                die("open probe file", NULL);
        t0 = bench_now();
        for (done = 0; done < total; done += DISK_CHUNK) {
                buf[0] = (uint8_t)(done >> 22);
                if (write(fd, buf, DISK_CHUNK) != (ssize_t)DISK_CHUNK)
                        die("write probe file", NULL);
                if (fdatasync(fd) != 0)
                        die("fdatasync probe file", NULL);
                if (drop)
                        (void)posix_fadvise(fd, (off_t)done, DISK_CHUNK, POSIX_FADV_DONTNEED);
        }
        t = bench_now() - t0;
        close(fd);
        unlink(path);
        free(buf);
        return (double)total / t;
}

/* The end of a run: close the log, remove its directory, free the batch buffers. */
static void finish(struct vt_log *log, const char *dir, uint8_t *data, const uint8_t **p,
                   size_t *lens)
{
        char cmd[4300];

        vt_log_close(log);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bench_log: could not remove '%s'\n", dir);
        free(data);
        free(p);
        free(lens);
}

/* The burst probe: 64 MiB, twice (the first may pay for allocating blocks), the better. */
static double disk_burst(const char *dir)
{
        double a = disk_stream(dir, DISK_BURST, 0), b = disk_stream(dir, DISK_BURST, 0);

        return a > b ? a : b;
}

/*
 * disk_sustained(dir, total, when): the plain and the drop-behind streams of
 * total bytes, reported; the better of the two.
 */
static double disk_sustained(const char *dir, uint64_t total, const char *when)
{
        char what[128];
        double plain = disk_stream(dir, total, 0), drop = disk_stream(dir, total, 1);

        snprintf(what, sizeof(what), "disk: %llu MiB stream, plain (%s)",
                 (unsigned long long)(total >> 20), when);
        bench_report(what, plain / 1e6, "MB/s", 0, "");
        snprintf(what, sizeof(what), "disk: %llu MiB stream, drop-behind (%s)",
                 (unsigned long long)(total >> 20), when);
        bench_report(what, drop / 1e6, "MB/s", 0, "");
        return plain > drop ? plain : drop;
}

/* The volume of a sustained probe: at least min and DISK_MIN, in whole chunks. */
static uint64_t disk_volume(double min)
{
        uint64_t v = min > DISK_MIN ? (uint64_t)min : DISK_MIN;

        return (v + DISK_CHUNK - 1) / DISK_CHUNK * DISK_CHUNK;
}

/* Fill a batch of 1 KiB entries that differ (index in front). */
static void fill(uint8_t *data, uint64_t first)
{
        size_t i;

        for (i = 0; i < BATCH; i++)
                memcpy(data + i * ENTRY, &(uint64_t){first + i}, 8);
}

struct sub_arg {
        struct vt_log *log;
        int n;
        int t;
};

static void *submitter(void *p)
{
        struct sub_arg *a = p;
        uint8_t e[ENTRY];
        uint64_t idx;
        struct vt_diag d = {""};
        int i;

        memset(e, a->t, sizeof(e));
        for (i = 0; i < a->n; i++) {
                memcpy(e, &i, sizeof(i));
                if (vt_log_submit(a->log, e, sizeof(e), &idx, &d) != 0)
                        die("submit", &d);
        }
        return NULL;
}

/*
 * One producer, streamed (vt_log_stream): batches of BATCH x 1 KiB until
 * the deadline, from VT_LOG_STREAM_DEPTH + 1 buffers filled in turn; the
 * stream stores one batch while it prepares the next. Returns the entries
 * appended.
 */
static void stream_done(void *ctx, void *tag, uint64_t first, size_t n, int err,
                        const struct vt_diag *d)
{
        uint64_t *count = ctx;

        (void)tag;
        (void)first;
        if (err != 0)
                die("stream", d);
        *count += n; /* reports come one at a time, in order */
}

static uint64_t stream_run(struct vt_log *log, double until)
{
        uint8_t *data[VT_LOG_STREAM_DEPTH + 1];
        const uint8_t **e[VT_LOG_STREAM_DEPTH + 1];
        size_t *lens = calloc(BATCH, sizeof(*lens)), i;
        struct vt_log_stream *st = NULL;
        struct vt_diag d = {""};
        uint64_t count = 0, c = (uint64_t)3 << 48;
        int k;

        if (lens == NULL)
                die("malloc", NULL);
        for (i = 0; i < BATCH; i++)
                lens[i] = ENTRY;
        for (k = 0; k <= VT_LOG_STREAM_DEPTH; k++) {
                data[k] = malloc((size_t)BATCH * ENTRY);
                e[k] = calloc(BATCH, sizeof(*e[k]));
                if (data[k] == NULL || e[k] == NULL)
                        die("malloc", NULL);
                memset(data[k], 0x33, (size_t)BATCH * ENTRY);
                for (i = 0; i < BATCH; i++)
                        e[k][i] = data[k] + i * ENTRY;
        }
        if (vt_log_stream_open(log, stream_done, &count, &st, &d) != 0)
                die("stream", &d);
        k = 0;
        do {
                for (i = 0; i < BATCH; i++, c++)
                        memcpy(data[k] + i * ENTRY, &c, sizeof(c));
                if (vt_log_stream_push(st, e[k], lens, BATCH, NULL, &d) != 0)
                        die("stream push", &d);
                k = (k + 1) % (VT_LOG_STREAM_DEPTH + 1);
        } while (bench_now() < until);
        if (vt_log_stream_close(st, &d) != 0)
                die("stream close", &d);
        for (k = 0; k <= VT_LOG_STREAM_DEPTH; k++) {
                free(data[k]);
                free(e[k]);
        }
        free(lens);
        return count;
}

/* One of two appenders: batches of BATCH x 1 KiB until the deadline (pipelined, log.c). */
struct app_arg {
        struct vt_log *log;
        double until;
        uint64_t n;
        int t;
};

static void *app_thread(void *p)
{
        struct app_arg *a = p;
        uint8_t *data = malloc((size_t)BATCH * ENTRY);
        const uint8_t **e = calloc(BATCH, sizeof(*e));
        size_t *lens = calloc(BATCH, sizeof(*lens)), i;
        struct vt_diag d = {""};
        uint64_t first, c = (uint64_t)a->t << 48;

        if (data == NULL || e == NULL || lens == NULL)
                die("malloc", NULL);
        memset(data, a->t + 1, (size_t)BATCH * ENTRY);
        for (i = 0; i < BATCH; i++) {
                e[i] = data + i * ENTRY;
                lens[i] = ENTRY;
        }
        do {
                for (i = 0; i < BATCH; i++, c++)
                        memcpy(data + i * ENTRY, &c, sizeof(c));
                if (vt_log_append(a->log, e, lens, BATCH, &first, &d) != 0)
                        die("append", &d);
                a->n += BATCH;
        } while (bench_now() < a->until);
        free(data);
        free(e);
        free(lens);
        return NULL;
}

/* ---- many proofs of one size ------------------------------------------------------ */

#define RUN 64 /* proofs of one batch reply */

struct runs {
        struct vt_log *log;
        uint64_t size, idx[RUN];
        struct vt_buf paths, out, note_json;
        size_t lens[RUN];
        struct vt_encoding_path_memo memo;
        uint8_t entry[200];
};

/* The old path: each proof alone. */
static void runs_one(void *arg)
{
        struct runs *r = arg;
        struct vt_hash proof[VT_LOG_PROOF_MAX];
        struct vt_diag d = {""};
        size_t i, plen;

        for (i = 0; i < RUN; i++)
                if (vt_log_prove_inclusion(r->log, r->idx[i], r->size, proof, &plen, &d) != 0)
                        die("prove", &d);
}

/* The new path: all at once. */
static void runs_many(void *arg)
{
        struct runs *r = arg;
        struct vt_diag d = {""};

        r->paths.len = 0;
        if (vt_log_prove_inclusion_many(r->log, r->size, r->idx, RUN, &r->paths, r->lens, &d) != 0)
                die("prove many", &d);
}

/* The old path, and each proof's attestation text (a 200-byte entry, an empty envelope). */
static void runs_one_text(void *arg)
{
        struct runs *r = arg;
        struct vt_hash proof[VT_LOG_PROOF_MAX];
        struct vt_diag d = {""};
        size_t i, plen;

        r->out.len = 0;
        for (i = 0; i < RUN; i++)
                if (vt_log_prove_inclusion(r->log, r->idx[i], r->size, proof, &plen, &d) != 0 ||
                    vt_encoding_bundle_add_proved(
                        &r->out, 1, (const uint8_t *)"{}", 2, r->entry, sizeof(r->entry), r->idx[i],
                        proof, plen, (const char *)r->note_json.p, r->note_json.len) != 0)
                        die("prove and write", &d);
}

/* The new path, and the text with the memo. */
static void runs_many_text(void *arg)
{
        struct runs *r = arg;
        const struct vt_hash *path;
        size_t i;

        runs_many(r);
        r->out.len = 0;
        path = (const struct vt_hash *)r->paths.p;
        for (i = 0; i < RUN; path += r->lens[i], i++)
                if (vt_encoding_bundle_add_proved_memo(&r->out, 1, (const uint8_t *)"{}", 2,
                                                       r->entry, sizeof(r->entry), r->idx[i], path,
                                                       r->lens[i], (const char *)r->note_json.p,
                                                       r->note_json.len, &r->memo) != 0)
                        die("write", NULL);
}

/*
 * bench_runs(log): 64 consecutive proofs at the log's size, one at a time
 * and all at once, for the newest entries and for older ones; the ratio
 * is new / old (above 1: the new path is faster).
 */
static void bench_runs(struct vt_log *log)
{
        static struct runs r;
        struct vt_diag d = {""};
        struct vt_buf note;
        double secs = bench_seconds(), one, many;
        uint64_t size = 0, from;
        char what[96];
        int k;
        size_t i;

        vt_buf_init(&r.paths);
        vt_buf_init(&r.out);
        vt_buf_init(&r.note_json);
        vt_buf_init(&note);
        memset(r.entry, 'e', sizeof(r.entry));
        vt_encoding_path_memo_init(&r.memo);
        if (vt_log_checkpoint(log, &size, &note, &d) != 0 ||
            vt_encoding_bundle_proof_note(note.p, note.len, &r.note_json) != 0)
                die("checkpoint", &d);
        if (size < 4 * RUN)
                die("the log is too small for proof runs", NULL);
        r.log = log;
        r.size = size;
        for (k = 0; k < 2; k++) {
                from = k == 0 ? size - RUN : size / 3;
                for (i = 0; i < RUN; i++)
                        r.idx[i] = from + i;
                one = bench_measure(runs_one, &r, secs) * RUN;
                many = bench_measure(runs_many, &r, secs) * RUN;
                snprintf(what, sizeof(what), "inclusion proofs, 64 consecutive (%s), many",
                         k == 0 ? "newest" : "older");
                bench_report(what, many, "proofs/s", one, "one at a time (old path), proofs/s");
                one = bench_measure(runs_one_text, &r, secs) * RUN;
                many = bench_measure(runs_many_text, &r, secs) * RUN;
                snprintf(what, sizeof(what), "  + proof text (%s), many + memo",
                         k == 0 ? "newest" : "older");
                bench_report(what, many, "proofs/s", one, "one at a time (old path), proofs/s");
        }
        printf("%-44s %12llu entries\n", "  (log size for the proof runs)",
               (unsigned long long)size);
        vt_buf_release(&r.paths);
        vt_buf_release(&r.out);
        vt_buf_release(&r.note_json);
        vt_buf_release(&note);
}

/* `bench_log proofs`: only bench_runs(), on a log of about 1M 64-byte entries. */
static int main_proofs(const char *tmp)
{
        char dir[4096], ldir[4200];
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        uint8_t *data = malloc((size_t)BATCH * 64);
        const uint8_t **p = calloc(BATCH, sizeof(*p));
        size_t *lens = calloc(BATCH, sizeof(*lens)), i;
        uint64_t n, first;

        if (data == NULL || p == NULL || lens == NULL)
                die("malloc", NULL);
        snprintf(dir, sizeof(dir), "%s/vt-bench-log.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL)
                die("mkdtemp", NULL);
        snprintf(ldir, sizeof(ldir), "%s/log", dir);
        if (vt_log_init(ldir, "bench.example/log", &d) != 0 || vt_log_open(ldir, 0, &log, &d) != 0)
                die("log", &d);
        memset(data, 'x', (size_t)BATCH * 64);
        for (i = 0; i < BATCH; i++) {
                p[i] = data + i * 64;
                lens[i] = 64;
        }
        /* 1M entries and a few more: the size has low one bits (a right edge to fold). */
        for (n = 0; n < (1u << 20) + 3 * BATCH; n += i) {
                for (i = 0; i < BATCH; i++)
                        memcpy(data + i * 64, &(uint64_t){n + i}, 8);
                i = n < (1u << 20) ? BATCH : 1237;
                if (vt_log_append(log, p, lens, i, &first, &d) != 0)
                        die("append", &d);
        }
        bench_runs(log);
        finish(log, dir, data, p, lens);
        return 0;
}

int main(int argc, char **argv)
{
        const char *tmp = getenv("TMPDIR");
        char dir[4096], ldir[4200], cmd[4300];
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        uint8_t *data = malloc((size_t)BATCH * ENTRY);
        const uint8_t **p = calloc(BATCH, sizeof(*p));
        size_t *lens = calloc(BATCH, sizeof(*lens)), i, plen;
        struct vt_hash proof[VT_LOG_PROOF_MAX];
        uint64_t n = 0, first, tile_bytes = 0, x = 88172645463325252ull, size, proofs;
        double disk, burst, t0, t, secs = bench_seconds(), rate, logbytes;
        double t2, rate2, logbytes2, ts, rates, logbytess;
        uint64_t ns;
        struct vt_buf tb;
        struct stat st;
        int level, k;

        if (argc > 1 && strcmp(argv[1], "proofs") == 0) {
                free(data);
                free(p);
                free(lens);
                return main_proofs(tmp);
        }
        if (data == NULL || p == NULL || lens == NULL)
                die("malloc", NULL);
        snprintf(dir, sizeof(dir), "%s/vt-bench-log.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL)
                die("mkdtemp", NULL);
        snprintf(ldir, sizeof(ldir), "%s/log", dir);

        /* The disk is measured before and after the appends; they are compared with the mean. */
        burst = disk_burst(dir);
        bench_report("disk: 64 MiB burst, plain (before)", burst / 1e6, "MB/s", 0, "");
        disk = disk_sustained(dir, disk_volume(secs * DISK_MIN), "before");

        if (vt_log_init(ldir, "bench.example/log", &d) != 0 || vt_log_open(ldir, 0, &log, &d) != 0)
                die("log", &d);
        for (i = 0; i < BATCH; i++) {
                p[i] = data + i * ENTRY;
                lens[i] = ENTRY;
        }
        /* Durable appends: batches of 4096 x 1 KiB for at least 3 s-units, 20 batches. */
        t0 = bench_now();
        k = 0;
        do {
                fill(data, n);
                if (vt_log_append(log, p, lens, BATCH, &first, &d) != 0)
                        die("append", &d);
                n += BATCH;
                k++;
        } while (bench_now() - t0 < 3 * secs || k < 20);
        t = bench_now() - t0;
        rate = (double)n / t;
        /* What the appends wrote to the segment: the entries and their 2-byte lengths. */
        snprintf(cmd, sizeof(cmd), "%s/entries.seg", ldir);
        logbytes = stat(cmd, &st) == 0 ? (double)st.st_size : (double)n * (ENTRY + 2);
        /* One producer, streamed: the same pipeline behind one caller. */
        {
                double seg0 = logbytes;

                t0 = bench_now();
                ns = stream_run(log, t0 + 3 * secs);
                ts = bench_now() - t0;
                rates = (double)ns / ts;
                logbytess = (stat(cmd, &st) == 0 ? (double)st.st_size : seg0) - seg0;
                logbytes = seg0 + logbytess;
        }
        /*
         * Two appenders: one batch is prepared (hashes, tiles, signature)
         * while the other is stored (log.c), as under a steady stream.
         */
        {
                struct app_arg aa[2];
                pthread_t th[2];
                double seg0 = logbytes;

                t0 = bench_now();
                for (k = 0; k < 2; k++) {
                        aa[k] = (struct app_arg){log, t0 + 3 * secs, 0, k};
                        if (pthread_create(&th[k], NULL, app_thread, &aa[k]) != 0)
                                die("pthread_create", NULL);
                }
                for (k = 0; k < 2; k++)
                        pthread_join(th[k], NULL);
                t2 = bench_now() - t0;
                rate2 = (double)(aa[0].n + aa[1].n) / t2;
                logbytes2 = (stat(cmd, &st) == 0 ? (double)st.st_size : seg0) - seg0;
                logbytes = seg0 + logbytes2;
        }
        {
                double after = disk_sustained(dir, disk_volume(logbytes), "after"), ba;

                disk = (disk + after) / 2;
                ba = disk_burst(dir);
                bench_report("disk: 64 MiB burst, plain (after)", ba / 1e6, "MB/s", 0, "");
                burst = (burst + ba) / 2;
        }
        bench_report("log append, one caller, 1 KiB x 4096 a batch", rate, "entries/s", 100000,
                     "target");
        bench_report("log append, one caller, segment bytes",
                     (logbytes - logbytes2 - logbytess) / t / 1e6, "MB/s", disk / 1e6,
                     "disk sustained stream MB/s (mean)");
        bench_report("log append, one caller, entry bytes", rate * ENTRY / 1e6, "MB/s", disk / 1e6,
                     "disk sustained stream MB/s (mean)");
        bench_report("log append, one caller, entry bytes (vs burst)", rate * ENTRY / 1e6, "MB/s",
                     burst / 1e6, "disk 64 MiB burst MB/s (mean)");
        bench_report("log append, streamed, 1 KiB x 4096 a batch", rates, "entries/s", 100000,
                     "target");
        bench_report("log append, streamed, segment bytes", logbytess / ts / 1e6, "MB/s",
                     disk / 1e6, "disk sustained stream MB/s (mean)");
        bench_report("log append, 2 appenders, batches of 4096", rate2, "entries/s", 100000,
                     "target");
        bench_report("log append, 2 appenders, segment bytes", logbytes2 / t2 / 1e6, "MB/s",
                     disk / 1e6, "disk sustained stream MB/s (mean)");

        /* Tree overhead: the bytes of every stored tile, per entry. */
        vt_buf_init(&tb);
        size = vt_log_size(log);
        for (level = 0; level < 8 && (size >> (8 * level)) != 0; level++) {
                uint64_t full = size >> (8 * level + 8), tn;
                unsigned w = (unsigned)((size >> (8 * level)) & 255);

                for (tn = 0; tn < full; tn++) {
                        tb.len = 0;
                        if (vt_log_tile(log, level, tn, 256, &tb, &d) != 0)
                                die("tile", &d);
                        tile_bytes += tb.len;
                }
                if (w > 0) {
                        tb.len = 0;
                        if (vt_log_tile(log, level, full, w, &tb, &d) != 0)
                                die("tile", &d);
                        tile_bytes += tb.len;
                }
        }
        vt_buf_release(&tb);
        printf("%-44s %12.2f %-10s | %-34s %12.2f | entries %llu\n",
               "tree overhead (tile bytes / entry)", (double)tile_bytes / (double)size, "bytes",
               "target", 33.0, (unsigned long long)size);
        /* On disk: the database and its write-ahead log, entries included. */
        {
                double bytes = 0;

                snprintf(cmd, sizeof(cmd), "%s/veritrail.db", ldir);
                if (stat(cmd, &st) == 0)
                        bytes += (double)st.st_size;
                snprintf(cmd, sizeof(cmd), "%s/veritrail.db-wal", ldir);
                if (stat(cmd, &st) == 0)
                        bytes += (double)st.st_size;
                printf("%-44s %12.2f %-10s\n", "database + WAL bytes / entry (1 KiB entries)",
                       bytes / (double)size, "bytes");
        }

        /* Proofs through the log API at random indexes of the whole tree. */
        t0 = bench_now();
        proofs = 0;
        do {
                for (k = 0; k < 1000; k++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        if (vt_log_prove_inclusion(log, x % size, size, proof, &plen, &d) != 0)
                                die("prove", &d);
                }
                proofs += 1000;
        } while (bench_now() - t0 < secs);
        bench_report("inclusion proofs (log API, random index)",
                     (double)proofs / (bench_now() - t0), "proofs/s", 0, "");
        t0 = bench_now();
        proofs = 0;
        do {
                for (k = 0; k < 1000; k++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        if (vt_log_prove_inclusion(log, size - 1 - x % 4096, size, proof, &plen,
                                                   &d) != 0)
                                die("prove", &d);
                }
                proofs += 1000;
        } while (bench_now() - t0 < secs);
        bench_report("inclusion proofs (log API, last 4096 entries)",
                     (double)proofs / (bench_now() - t0), "proofs/s", 0, "");
        t0 = bench_now();
        proofs = 0;
        do {
                for (k = 0; k < 1000; k++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        if (vt_log_prove_consistency(log, 1 + x % (size - 1), size, proof, &plen,
                                                     &d) != 0)
                                die("prove", &d);
                }
                proofs += 1000;
        } while (bench_now() - t0 < secs);
        bench_report("consistency proofs (log API, random size)",
                     (double)proofs / (bench_now() - t0), "proofs/s", 0, "");
        bench_runs(log);

        /* Group commit: 8 and 64 threads submitting one entry at a time. */
        for (k = 8; k <= 64; k *= 8) {
                struct sub_arg a[64];
                pthread_t th[64];
                char what[64];
                int j;
                uint64_t before = vt_log_size(log);

                t0 = bench_now();
                for (j = 0; j < k; j++) {
                        a[j] = (struct sub_arg){log, (int)(1000 * secs * (k == 8 ? 1 : 2)), j};
                        if (pthread_create(&th[j], NULL, submitter, &a[j]) != 0)
                                die("pthread_create", NULL);
                }
                for (j = 0; j < k; j++)
                        pthread_join(th[j], NULL);
                t = bench_now() - t0;
                snprintf(what, sizeof(what), "group commit, %d threads, 1 KiB submits", k);
                bench_report(what, (double)(vt_log_size(log) - before) / t, "entries/s", 0, "");
        }

        t0 = bench_now();
        {
                struct vt_log_audit_stats ast;

                if (vt_log_audit(log, &ast, &d) != 0)
                        die("audit", &d);
                bench_report("audit (recompute from entries)",
                             (double)ast.size / (bench_now() - t0), "entries/s", 0, "");
        }
        finish(log, dir, data, p, lens);
        return 0;
}
