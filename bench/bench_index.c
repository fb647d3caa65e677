/*
 * bench_index.c: the service's lookup index by digest (src/service/index.c,
 * docs/FORMATS.md "Lookup index"), on its own: keys added as the committer
 * adds them (batches, random digests), then look-ups of present and absent
 * digests once they are in run files on disk.
 *
 * Limits measured in the same run:
 *   - adds: a plain in-memory store of the same records (an append to an
 *     array), i.e. what keeping the keys costs at the least; the index also
 *     hashes, sorts and writes them, and merges runs;
 *   - look-ups: a look-up reads one 4 KiB block per run (pread, from the
 *     page cache here); the limit is the rate of such preads at random
 *     offsets of a file the size of the runs, divided by the number of runs.
 * Also printed: the memory the index holds (it does not grow with the keys:
 * memtables and 8 bytes of fences per 4 KiB block) and its run files.
 *
 *   VT_BENCH_KEYS   keys added (default 3000000: a 1M-entry log's three kinds)
 *   VT_BENCH_SECONDS seconds per look-up measurement (default 1)
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "service/service_int.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Key i's digest: a fixed pseudo-random function of i (present keys can be made again). */
static void key_of(uint64_t i, uint8_t d[32])
{
        uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;

        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        memset(d, 0, 32);
        memcpy(d, &x, sizeof(x));
        d[8] = (uint8_t)i;
}

struct look {
        struct vt_service_index *ix;
        uint64_t nkeys;
        int absent;
        unsigned long found;
};

static void op_lookup(void *arg)
{
        struct look *l = arg;
        uint8_t d[32];
        uint64_t *v;
        size_t n;

        key_of(l->absent ? l->nkeys + next_rand() % l->nkeys : next_rand() % l->nkeys, d);
        if (vt_service_index_get(l->ix, d, &v, &n) == 0) {
                l->found += n;
                free(v);
        }
}

struct pr {
        int fd;
        uint64_t blocks;
};

static void op_pread(void *arg)
{
        struct pr *p = arg;
        uint8_t buf[4096];

        if (pread(p->fd, buf, sizeof(buf), (off_t)((next_rand() % p->blocks) * 4096)) < 0)
                abort();
}

int main(void)
{
        const char *e = getenv("VT_BENCH_KEYS");
        uint64_t nkeys = e != NULL ? strtoull(e, NULL, 10) : 3000000, i, j, n, cov, idx[500];
        double secs = bench_seconds(), t0, t_add, t_mem, t_settle, r_pres, r_abs, r_pread;
        struct vt_service_index_stats st;
        struct vt_service_index *ix;
        struct vt_diag d = {""};
        char dir[] = "/tmp/vt-bench-index.XXXXXX", path[128], cmd[160];
        uint8_t tag[32] = {1}, key[32], keys[500][32], *blk;
        const uint8_t *kp[500];
        struct ix_rec_plain {
                uint64_t h, idx;
        } * plain;
        struct look l = {0};
        struct pr p;
        uint64_t runbytes;
        int fd;

        if (nkeys < 1000)
                nkeys = 1000;
        if (mkdtemp(dir) == NULL) {
                perror("mkdtemp");
                return 1;
        }
        /* The limit for adds: the same records appended to an array. */
        if ((plain = malloc(nkeys * sizeof(*plain))) == NULL)
                return 1;
        t0 = bench_now();
        for (i = 0; i < nkeys; i++) {
                key_of(i, key);
                memcpy(&plain[i].h, key, 8);
                plain[i].idx = i;
        }
        t_mem = bench_now() - t0;
        if (plain[nkeys / 2].idx != nkeys / 2)
                return 1;
        free(plain);
        if (vt_service_index_open(dir, "entry", tag, 0, NULL, &cov, &ix, &d) != 0) {
                fprintf(stderr, "bench_index: %s\n", d.msg);
                return 1;
        }
        printf("lookup index: %llu random keys added in batches of 500 (memtable %u keys, "
               "fan-in %u)\n",
               (unsigned long long)nkeys, VT_SERVICE_INDEX_MEM_KEYS, VT_SERVICE_INDEX_FANIN);
        t0 = bench_now();
        for (i = 0; i < nkeys; i += n) {
                n = nkeys - i < 500 ? nkeys - i : 500;
                if (vt_service_index_reserve(ix, 500, &d) != 0) {
                        fprintf(stderr, "bench_index: %s\n", d.msg);
                        return 1;
                }
                for (j = 0; j < n; j++) {
                        key_of(i + j, keys[j]);
                        kp[j] = keys[j];
                        idx[j] = i + j;
                }
                vt_service_index_add_many(ix, kp, idx, n);
        }
        t_add = bench_now() - t0;
        vt_service_index_settle(ix);
        t_settle = bench_now() - t0;
        vt_service_index_stats(ix, &st);
        bench_report("adds/s (the adder's time)", (double)nkeys / t_add, "keys/s",
                     (double)nkeys / t_mem, "append to an array");
        bench_report("adds/s (until written and merged)", (double)nkeys / t_settle, "keys/s",
                     (double)nkeys / t_mem, "append to an array");
        printf("  %zu runs, %llu keys on disk, %llu in memory; index memory %.1f MiB "
               "(%.1f bytes per key)\n",
               st.runs, (unsigned long long)st.run_keys, (unsigned long long)st.mem_keys,
               (double)st.bytes / 1048576, (double)st.bytes / (double)nkeys);
        /* The pread limit: a file the size of the runs, read at random 4 KiB blocks. */
        runbytes = st.run_keys * 16 + 4096;
        snprintf(path, sizeof(path), "%s/blocks", dir);
        if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
            (blk = calloc(1, 1 << 20)) == NULL)
                return 1;
        for (i = 0; i < runbytes; i += 1 << 20)
                if (write(fd, blk, 1 << 20) != 1 << 20)
                        return 1;
        free(blk);
        p.fd = fd;
        p.blocks = runbytes / 4096;
        r_pread = bench_measure(op_pread, &p, secs);
        close(fd);
        unlink(path);
        l.ix = ix;
        l.nkeys = nkeys;
        r_pres = bench_measure(op_lookup, &l, secs);
        if (l.found == 0) {
                fprintf(stderr, "bench_index: present keys not found\n");
                return 1;
        }
        l.absent = 1;
        l.found = 0;
        r_abs = bench_measure(op_lookup, &l, secs);
        bench_report("look-ups/s, present digests", r_pres, "/s",
                     st.runs > 0 ? r_pread / (double)st.runs : r_pread, "4 KiB preads/s / runs");
        bench_report("look-ups/s, absent digests", r_abs, "/s",
                     st.runs > 0 ? r_pread / (double)st.runs : r_pread, "4 KiB preads/s / runs");
        vt_service_index_free(ix);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                return 1;
        return 0;
}
