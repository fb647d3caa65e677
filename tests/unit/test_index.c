/*
 * test_index.c: the service's lookup index (src/service/index.c), with
 * small memtables so that every part is exercised:
 *   - candidates by an 8-byte prefix, ascending; a key added without room
 *     reserved is dropped;
 *   - memtables written out as runs and runs merged (tiered) in the
 *     background while keys are added in batches and looked up from another
 *     thread: every key found, in order, meanwhile and after; the number of
 *     runs stays bounded; the memory part too;
 *   - a reopen finds the runs (the keys they cover need no adding again);
 *     one with a smaller log size drops the runs past it;
 *   - at open, leftovers are removed and never read: a merge's inputs left
 *     beside its output, .tmp files, truncated or foreign runs, another
 *     log's runs;
 *   - digests chosen to crowd one hash bucket and one sort bucket;
 *   - a run that cannot be written: the reserve that needs its room fails
 *     saying why, and succeeds once the disk is back; nothing is lost.
 *
 * Run one test: test_index <name pattern>.
 */
#include "vt_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/service_int.h"

static const uint8_t tag_a[32] = {1, 2, 3};
static const uint8_t tag_b[32] = {9, 9, 9};

/* Key i's digest; every 10th key is the shared one (many entries under one digest). */
static void key(uint64_t i, uint8_t d[32])
{
        memset(d, 0, 32);
        if (i % 10 == 9) {
                memset(d, 0xee, 32);
                return;
        }
        i = i * 0x9e3779b97f4a7c15ull; /* spread over the key space */
        memcpy(d, &i, sizeof(i));
        d[9] = 0x5a;
}

static struct vt_service_index *ix_open(const char *dir, const uint8_t *tag, uint64_t size,
                                        size_t mem, unsigned fanin, uint64_t *covered)
{
        struct vt_service_index_opts o = {mem, fanin};
        struct vt_service_index *ix = NULL;
        struct vt_diag d = {""};

        if (vt_service_index_open(dir, "entry", tag, size, &o, covered, &ix, &d) != 0)
                fail_msg("open: %s", d.msg);
        return ix;
}

/*
 * Add keys from..to-1 (entry 100 + i) in batches of batch, as the committer
 * does: every other batch in one vt_service_index_add_many() call (longer
 * than its look-ahead), the others one key at a time.
 */
static void add_keys(struct vt_service_index *ix, uint64_t from, uint64_t to, size_t batch)
{
        static uint8_t k[512][32];
        const uint8_t *kp[512];
        uint64_t i, j, n, idx[512];
        struct vt_diag d = {""};

        assert_true(batch <= 512);
        for (i = from; i < to; i += n) {
                n = to - i < batch ? to - i : batch;
                if (vt_service_index_reserve(ix, batch, &d) != 0)
                        fail_msg("reserve: %s", d.msg);
                for (j = 0; j < n; j++) {
                        key(i + j, k[j]);
                        kp[j] = k[j];
                        idx[j] = 100 + i + j;
                }
                if ((i - from) / batch % 2 == 0)
                        vt_service_index_add_many(ix, kp, idx, n);
                else
                        for (j = 0; j < n; j++)
                                vt_service_index_add(ix, kp[j], idx[j]);
        }
}

/* Every key below n is found, alone, or (the shared one) with all its entries in order. */
static void check_keys(struct vt_service_index *ix, uint64_t n)
{
        uint64_t i, *v;
        uint8_t k[32];
        size_t m, j;

        for (i = 0; i < n; i++) {
                if (i % 10 == 9 && i != 9)
                        continue;
                key(i, k);
                assert_int_equal(vt_service_index_get(ix, k, &v, &m), 0);
                if (i % 10 == 9) {
                        assert_int_equal(m, n / 10);
                        for (j = 0; j < m; j++)
                                assert_int_equal(v[j], 100 + 9 + 10 * j);
                } else {
                        assert_int_equal(m, 1);
                        assert_int_equal(v[0], 100 + i);
                }
                free(v);
        }
}

static size_t count_files(const char *dir, const char *suffix)
{
        char path[4200];
        struct dirent *de;
        size_t n = 0, s = strlen(suffix);
        DIR *dd;

        snprintf(path, sizeof(path), "%s/index", dir);
        if ((dd = opendir(path)) == NULL)
                return 0;
        while ((de = readdir(dd)) != NULL)
                if (strlen(de->d_name) > s &&
                    strcmp(de->d_name + strlen(de->d_name) - s, suffix) == 0)
                        n++;
        closedir(dd);
        return n;
}

/* ---- the tests -------------------------------------------------------------------- */

static void prefixes_and_order(void **state)
{
        char *dir = vt_test_tmpdir_new("index");
        struct vt_service_index *ix;
        struct vt_diag d = {""};
        uint8_t a[32], b[32], c[32];
        uint64_t *v = NULL, cov = 99;
        size_t n = 0;

        (void)state;
        ix = ix_open(dir, tag_a, 0, 4, 0, &cov);
        assert_int_equal(cov, 0);
        memset(a, 1, sizeof(a));
        memcpy(b, a, sizeof(b));
        b[31] = 2; /* same 8-byte prefix as a */
        memset(c, 3, sizeof(c));
        assert_int_equal(vt_service_index_get(ix, a, &v, &n), 0);
        assert_int_equal(n, 0);
        assert_null(v);
        assert_int_equal(vt_service_index_reserve(ix, 3, &d), 0);
        vt_service_index_add(ix, a, 1);
        vt_service_index_add(ix, c, 3);
        vt_service_index_add(ix, b, 5);
        assert_int_equal(vt_service_index_get(ix, b, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0], 1);
        assert_int_equal(v[1], 5);
        free(v);
        vt_service_index_add(ix, a, 6); /* the memtable's 4th key: fits */
        vt_service_index_add(ix, a, 7); /* full, nothing reserved: dropped */
        assert_int_equal(vt_service_index_get(ix, a, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(v[2], 6);
        free(v);
        /* Out of order: dropped (entries come in ascending order). */
        assert_int_equal(vt_service_index_reserve(ix, 1, &d), 0);
        vt_service_index_add(ix, c, 2);
        assert_int_equal(vt_service_index_get(ix, c, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(v[0], 3);
        free(v);
        vt_service_index_settle(ix); /* [0, 7) written: the same answers from its run */
        assert_int_equal(vt_service_index_get(ix, a, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(v[0], 1);
        assert_int_equal(v[1], 5);
        assert_int_equal(v[2], 6);
        free(v);
        /* More keys at once than a memtable holds: room is made. */
        assert_int_equal(vt_service_index_reserve(ix, 3 * VT_SERVICE_INDEX_MEM_KEYS, &d), 0);
        vt_service_index_free(ix);
        vt_test_tmpdir_free(dir);
}

/*
 * Flushes and merges in the background, with a reader meanwhile (the
 * reader checks the keys added so far: found, entries ascending).
 */
#define BG_KEYS  200000
#define BG_MEM   1000
#define BG_FANIN 3

struct bg {
        struct vt_service_index *ix;
        atomic_ulong added;
        atomic_int stop;
        unsigned long checks;
        int bad;
};

static void *bg_reader(void *p)
{
        struct bg *g = p;
        uint64_t x = 88172645463325252ull, *v, i;
        uint8_t k[32];
        size_t n, j;

        while (!atomic_load(&g->stop)) {
                unsigned long added = atomic_load(&g->added);

                if (added == 0)
                        continue;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                i = x % added;
                key(i, k);
                if (vt_service_index_get(g->ix, k, &v, &n) != 0) {
                        g->bad = 1;
                        continue;
                }
                for (j = 0; j < n && v[j] != 100 + i; j++)
                        ;
                if (j == n)
                        g->bad = 2; /* an added key not found */
                for (j = 1; j < n; j++)
                        if (v[j] <= v[j - 1])
                                g->bad = 3;
                free(v);
                g->checks++;
        }
        return NULL;
}

static void flush_and_merge(void **state)
{
        char *dir = vt_test_tmpdir_new("index");
        struct vt_service_index_stats st;
        struct bg g = {0};
        pthread_t th;
        uint64_t i, cov;
        size_t maxruns = 0;

        (void)state;
        g.ix = ix_open(dir, tag_a, 0, BG_MEM, BG_FANIN, &cov);
        assert_int_equal(pthread_create(&th, NULL, bg_reader, &g), 0);
        for (i = 0; i < BG_KEYS; i += 100) {
                add_keys(g.ix, i, i + 100, 100);
                atomic_store(&g.added, (unsigned long)(i + 100));
                if (i % 10000 == 0) {
                        vt_service_index_stats(g.ix, &st);
                        if (st.runs > maxruns)
                                maxruns = st.runs;
                        /* The memory part: at most two memtables of BG_MEM keys. */
                        assert_true(st.mem_keys <= 2 * BG_MEM);
                }
        }
        atomic_store(&g.stop, 1);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(g.bad, 0);
        assert_true(g.checks > 0);
        vt_service_index_settle(g.ix);
        vt_service_index_stats(g.ix, &st);
        assert_int_equal(st.flush_failed, 0);
        assert_int_equal(st.merge_failed, 0);
        assert_true(st.runs >= 2);
        /* 200 memtables, fan-in 3: at most 2 runs a level (5 levels) once merged. */
        assert_true(st.runs <= 2 * 5);
        assert_int_equal(st.run_keys + st.mem_keys, BG_KEYS);
        assert_true(st.on_disk > 100 + BG_KEYS - 2 * BG_MEM);
        assert_int_equal(count_files(dir, ".run"), st.runs);
        assert_int_equal(count_files(dir, ".tmp"), 0);
        print_message("runs now %zu (at most %zu meanwhile), reader checks %lu\n", st.runs, maxruns,
                      g.checks);
        check_keys(g.ix, BG_KEYS);
        vt_service_index_free(g.ix);
        vt_test_tmpdir_free(dir);
}

static void reopen(void **state)
{
        char *dir = vt_test_tmpdir_new("index");
        struct vt_service_index_stats st;
        struct vt_service_index *ix;
        uint64_t cov, cov2, n = 20000;

        (void)state;
        ix = ix_open(dir, tag_a, 0, 500, 4, &cov);
        add_keys(ix, 0, n, 50);
        vt_service_index_settle(ix);
        vt_service_index_stats(ix, &st);
        vt_service_index_free(ix);
        /* The log holds entries 0 .. 100+n-1: the runs are the index below on_disk. */
        ix = ix_open(dir, tag_a, 100 + n, 500, 4, &cov);
        assert_int_equal(cov, st.on_disk);
        assert_true(cov > 100 + n - 1000);
        add_keys(ix, cov - 100, n, 50); /* what the service adds from the store */
        check_keys(ix, n);
        vt_service_index_free(ix);
        /* A log of fewer entries: the runs past it go, the rest stays. */
        ix = ix_open(dir, tag_a, 100 + n / 2, 500, 4, &cov2);
        assert_true(cov2 <= 100 + n / 2);
        assert_true(cov2 > 0);
        vt_service_index_stats(ix, &st);
        assert_int_equal(st.on_disk, cov2);
        add_keys(ix, cov2 - 100, n / 2, 50);
        check_keys(ix, n / 2);
        vt_service_index_free(ix);
        vt_test_tmpdir_free(dir);
}

static void copy_file(const char *from, const char *to)
{
        struct vt_buf b;

        vt_buf_init(&b);
        assert_int_equal(vt_util_read_file(from, 1 << 28, &b, NULL), 0);
        assert_int_equal(vt_util_write_file(to, b.p, b.len, 0600, NULL), 0);
        vt_buf_release(&b);
}

static void leftovers(void **state)
{
        char *dir = vt_test_tmpdir_new("index");
        char path[4400], path2[4400];
        struct vt_service_index_stats st;
        struct vt_service_index *ix;
        uint64_t cov, cov2;
        struct dirent *de;
        DIR *dd;
        int fd;

        (void)state;
        /* Fan-in high: the runs stay unmerged, each its own file. */
        ix = ix_open(dir, tag_a, 0, 100, 16, &cov);
        add_keys(ix, 0, 1000, 100);
        vt_service_index_settle(ix);
        vt_service_index_stats(ix, &st);
        assert_int_equal(st.runs, 9);
        vt_service_index_free(ix);
        /*
         * Runs [0, 200), [200, 300) .. [900, 1000). A merge's output beside
         * its inputs (a crash before they were removed): [0, 400), as a
         * merge of the first three would make it.
         */
        {
                struct vt_service_index *m;
                char mdir[4250];

                snprintf(mdir, sizeof(mdir), "%s/m", dir);
                assert_int_equal(mkdir(mdir, 0700), 0);
                m = ix_open(mdir, tag_a, 0, 300, 16, &cov2);
                add_keys(m, 0, 300, 100);
                add_keys(m, 300, 301, 100); /* freezes [0, 400) */
                vt_service_index_settle(m);
                vt_service_index_free(m);
                snprintf(path, sizeof(path), "%s/index/entry-%016x-%016x.run", mdir, 0, 400);
                snprintf(path2, sizeof(path2), "%s/index/entry-%016x-%016x.run", dir, 0, 400);
                copy_file(path, path2);
        }
        /* A .tmp file, a truncated run, a run of another log, a stray name. */
        snprintf(path, sizeof(path), "%s/index/entry-%016x-%016x.run.tmp", dir, 1100, 1200);
        assert_int_equal(vt_util_write_file(path, "x", 1, 0600, NULL), 0);
        snprintf(path, sizeof(path), "%s/index/entry-%016x-%016x.run", dir, 1000, 1100);
        assert_int_equal(vt_util_write_file(path, "vtindex1", 8, 0600, NULL), 0);
        snprintf(path2, sizeof(path2), "%s/index/payload-%016x-%016x.run", dir, 0, 100);
        assert_int_equal(vt_util_write_file(path2, "other kind", 10, 0600, NULL), 0);
        /* The last run of the chain, cut short by one byte. */
        snprintf(path, sizeof(path), "%s/index/entry-%016x-%016x.run", dir, 900, 1000);
        fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        {
                struct stat sb;
                assert_int_equal(fstat(fd, &sb), 0);
                assert_int_equal(ftruncate(fd, sb.st_size - 1), 0);
        }
        close(fd);
        ix = ix_open(dir, tag_a, 2000, 100, 16, &cov);
        /* The merged [0, 400), then [400, 500) .. [800, 900); the cut run and past it: gone. */
        assert_int_equal(cov, 900);
        vt_service_index_stats(ix, &st);
        assert_int_equal(st.runs, 6);
        add_keys(ix, 800, 1000, 100); /* entries 900 .. 1099 */
        check_keys(ix, 1000);
        vt_service_index_settle(ix);
        vt_service_index_free(ix);
        assert_int_equal(count_files(dir, ".tmp"), 0);
        assert_int_equal(count_files(dir, ".run"), 6 + 1 + 1); /* ours, a new one, payload's */
        /* The runs the merged one holds: removed. */
        snprintf(path, sizeof(path), "%s/index/entry-%016x-%016x.run", dir, 200, 300);
        assert_int_equal(access(path, F_OK), -1);
        /* Another log's tag: nothing of ours is read, all of it removed. */
        ix = ix_open(dir, tag_b, 2000, 100, 16, &cov);
        assert_int_equal(cov, 0);
        vt_service_index_free(ix);
        snprintf(path, sizeof(path), "%s/index", dir);
        assert_non_null(dd = opendir(path));
        while ((de = readdir(dd)) != NULL)
                assert_true(de->d_name[0] == '.' || strncmp(de->d_name, "payload-", 8) == 0);
        closedir(dd);
        vt_test_tmpdir_free(dir);
}

static void write_fails(void **state)
{
        char *dir = vt_test_tmpdir_new("index");
        char path[4300], moved[4300];
        struct vt_service_index_stats st;
        struct vt_service_index *ix;
        struct vt_diag d = {""};
        uint64_t cov;
        uint8_t k[32];
        int err, i;

        (void)state;
        ix = ix_open(dir, tag_a, 0, 100, 16, &cov);
        add_keys(ix, 0, 100, 100);
        vt_service_index_settle(ix);
        /* The index directory replaced by a file: no run can be written. */
        snprintf(path, sizeof(path), "%s/index", dir);
        snprintf(moved, sizeof(moved), "%s/index.away", dir);
        assert_int_equal(rename(path, moved), 0);
        assert_int_equal(vt_util_write_file(path, "x", 1, 0600, NULL), 0);
        add_keys(ix, 100, 200, 100); /* freezes [100, 200): its write fails */
        vt_service_index_settle(ix);
        vt_service_index_stats(ix, &st);
        assert_int_equal(st.flush_failed, VT_EIO);
        key(150, k);
        /* Still found: the frozen part stays in memory. */
        {
                uint64_t *v;
                size_t n;
                assert_int_equal(vt_service_index_get(ix, k, &v, &n), 0);
                assert_int_equal(n, 1);
                free(v);
        }
        /* Room beyond the full memtable: refused, saying why. */
        err = vt_service_index_reserve(ix, 1, &d);
        assert_int_equal(err, VT_EIO);
        assert_non_null(strstr(d.msg, "lookup index: cannot write"));
        /* The disk back: the retry writes it and room is made. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rename(moved, path), 0);
        for (i = 0; i < 1000 && (err = vt_service_index_reserve(ix, 1, &d)) != 0; i++)
                usleep(2000);
        assert_int_equal(err, 0);
        vt_service_index_settle(ix);
        vt_service_index_stats(ix, &st);
        assert_int_equal(st.flush_failed, 0);
        check_keys(ix, 200);
        vt_service_index_free(ix);
        vt_test_tmpdir_free(dir);
}

/*
 * Digests chosen to crowd the index (subject digests are the submitters'
 * choice): 50 000 distinct keys sharing their top 40 bits, added in
 * descending order, and entries under a few of them many times; every key
 * found, ascending, from the memtables and from the runs.
 */
static void chosen_digests(void **state)
{
        char *dir = vt_test_tmpdir_new("index");
        struct vt_service_index *ix;
        struct vt_diag d = {""};
        uint64_t i, cov, h, *v;
        uint8_t k[32];
        size_t n, j;
        int pass;

        (void)state;
        ix = ix_open(dir, tag_a, 0, 4096, 4, &cov);
        for (i = 0; i < 50000; i++) {
                if (i % 100 == 0)
                        assert_int_equal(vt_service_index_reserve(ix, 100, &d), 0);
                h = 0xabcdef1234ull << 24 | (50000 - i % 40000);
                memset(k, 0, sizeof(k));
                for (j = 0; j < 8; j++)
                        k[j] = (uint8_t)(h >> (8 * j));
                vt_service_index_add(ix, k, i);
        }
        for (pass = 0; pass < 2; pass++) {
                for (i = 0; i < 50000; i += 101) {
                        h = 0xabcdef1234ull << 24 | (50000 - i % 40000);
                        memset(k, 0, sizeof(k));
                        for (j = 0; j < 8; j++)
                                k[j] = (uint8_t)(h >> (8 * j));
                        assert_int_equal(vt_service_index_get(ix, k, &v, &n), 0);
                        /* Keys 0 .. 9999 came twice: at i and at i + 40000. */
                        assert_int_equal(n, i % 40000 < 10000 ? 2 : 1);
                        assert_int_equal(v[0], i % 40000);
                        if (n == 2)
                                assert_int_equal(v[1], i % 40000 + 40000);
                        free(v);
                }
                vt_service_index_settle(ix); /* the second pass reads runs */
        }
        vt_service_index_free(ix);
        vt_test_tmpdir_free(dir);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(prefixes_and_order),
            cmocka_unit_test(flush_and_merge),
            cmocka_unit_test(reopen),
            cmocka_unit_test(leftovers),
            cmocka_unit_test(write_fails),
            cmocka_unit_test(chosen_digests),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
