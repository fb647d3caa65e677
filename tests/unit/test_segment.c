/*
 * test_segment.c: the log's streaming path with batches of megabytes
 * (src/store/segment.c, src/log/log.c): writeback started while a batch is
 * written (sync_file_range), drop-behind of the synced segment, and leaf
 * hashing in a helper thread. test_log.c and test_store.c cover the protocol
 * with small batches, which never reach those paths.
 *
 *   - big_batches_read_back: more than VT_STORE_SEGMENT_KEEP (32 MiB) of
 *     entries in batches of 4096; every entry reads back (after the drop-
 *     behind, from the disk), after a reopen too, and the log audits clean.
 *   - fault_every_io_of_a_big_batch: an I/O error at the k-th write, sync or
 *     writeback start of a 4 MiB batch, for every k until the batch goes
 *     through: a clean failure, the log's size unchanged, a reopened log at
 *     the old size or (a commit whose sync failed) the new one, with the
 *     batch's bytes; at least one failure is in a writeback start.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"

#include "veritrail/log.h"
#include "veritrail/store.h"

#define ENTRY 1024
#define BATCH 4096

static struct vt_log *open_log(const char *dir)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};

        if (vt_log_open(dir, 0, &log, &d) != 0)
                fail_msg("open: %s", d.msg);
        return log;
}

/* Entry i: 1 KiB, its index in front, then bytes that depend on it. */
static void gen(uint64_t i, uint8_t *e)
{
        size_t j;

        memcpy(e, &i, sizeof(i));
        for (j = sizeof(i); j < ENTRY; j++)
                e[j] = (uint8_t)(i * 31 + j);
}

/* A batch of entries first.. in data, with p and lens pointing at them. */
static void fill(uint64_t first, uint8_t *data, const uint8_t **p, size_t *lens)
{
        size_t i;

        for (i = 0; i < BATCH; i++) {
                gen(first + i, data + i * ENTRY);
                p[i] = data + i * ENTRY;
                lens[i] = ENTRY;
        }
}

/* Entries [from, to) read back as generated (a sample: every 97th, and the last). */
static void check_entries(struct vt_log *log, uint64_t from, uint64_t to)
{
        struct vt_buf b;
        struct vt_diag d = {""};
        uint8_t want[ENTRY];
        uint64_t i;

        vt_buf_init(&b);
        for (i = from; i < to; i = (i + 97 < to || i == to - 1) ? i + 97 : to - 1) {
                b.len = 0;
                if (vt_log_entry(log, i, &b, &d) != 0)
                        fail_msg("entry %llu: %s", (unsigned long long)i, d.msg);
                gen(i, want);
                assert_int_equal(b.len, ENTRY);
                assert_memory_equal(b.p, want, ENTRY);
        }
        vt_buf_release(&b);
}

static void audit_ok(struct vt_log *log)
{
        struct vt_diag d = {""};

        if (vt_log_audit(log, NULL, &d) != 0)
                fail_msg("audit: %s", d.msg);
}

static void big_batches_read_back(void **state)
{
        char *dir = vt_test_tmpdir_new("segment");
        struct vt_log *log;
        struct vt_diag d = {""};
        uint8_t *data = malloc((size_t)BATCH * ENTRY);
        const uint8_t **p = calloc(BATCH, sizeof(*p));
        size_t *lens = calloc(BATCH, sizeof(*lens));
        uint64_t first, n = 0;
        int k;

        (void)state;
        assert_non_null(data);
        assert_non_null(p);
        assert_non_null(lens);
        assert_int_equal(vt_log_init(dir, "example.com/test-segment", &d), 0);
        log = open_log(dir);
        /* One odd batch first, so bundles straddle the batches. */
        fill(0, data, p, lens);
        assert_int_equal(vt_log_append(log, p, lens, 1000, &first, &d), 0);
        n = 1000;
        for (k = 0; k < 10; k++) {
                fill(n, data, p, lens);
                if (vt_log_append(log, p, lens, BATCH, &first, &d) != 0)
                        fail_msg("append: %s", d.msg);
                assert_int_equal(first, n);
                n += BATCH;
        }
        assert_int_equal(vt_log_size(log), n);
        check_entries(log, 0, n);
        vt_log_close(log);
        log = open_log(dir);
        assert_int_equal(vt_log_size(log), n);
        check_entries(log, 0, n);
        audit_ok(log);
        vt_log_close(log);
        free(data);
        free(p);
        free(lens);
        vt_test_tmpdir_free(dir);
}

static void fault_every_io_of_a_big_batch(void **state)
{
        char *dir = vt_test_tmpdir_new("segment");
        struct vt_log *log;
        struct vt_diag d = {""};
        uint8_t *data = malloc((size_t)BATCH * ENTRY);
        const uint8_t **p = calloc(BATCH, sizeof(*p));
        size_t *lens = calloc(BATCH, sizeof(*lens));
        uint64_t first, n, old, size;
        long k;
        int err, writeback_failures = 0;

        (void)state;
        assert_non_null(data);
        assert_non_null(p);
        assert_non_null(lens);
        assert_int_equal(vt_log_init(dir, "example.com/test-segment", &d), 0);
        log = open_log(dir);
        fill(0, data, p, lens);
        assert_int_equal(vt_log_append(log, p, lens, 300, &first, &d), 0);
        n = 300;
        for (k = 0;; k++) {
                assert_true(k < 2000);
                old = n;
                fill(old, data, p, lens);
                vt_store_fault_countdown(k);
                err = vt_log_append(log, p, lens, BATCH, &first, &d);
                vt_store_fault_countdown(-1);
                if (err == 0) {
                        assert_int_equal(first, old);
                        n += BATCH;
                        break;
                }
                if (err != VT_EIO && err != VT_ESTORE)
                        fail_msg("k=%ld: unexpected error %d: %s", k, err, d.msg);
                assert_true(d.msg[0] != '\0');
                assert_int_equal(vt_log_size(log), old);
                if (strstr(d.msg, "cannot start writing") != NULL)
                        writeback_failures++;
                /* Reopened: the old size, or the batch whose commit's sync failed, whole. */
                vt_log_close(log);
                log = open_log(dir);
                size = vt_log_size(log);
                if (size != old && size != old + BATCH)
                        fail_msg("k=%ld: size %llu after a failed batch at %llu", k,
                                 (unsigned long long)size, (unsigned long long)old);
                n = size;
                check_entries(log, old > 500 ? old - 500 : 0, n);
        }
        assert_true(k > 20);
        assert_true(writeback_failures > 0);
        assert_int_equal(vt_log_size(log), n);
        vt_log_close(log);
        log = open_log(dir);
        assert_int_equal(vt_log_size(log), n);
        check_entries(log, 0, n);
        audit_ok(log);
        vt_log_close(log);
        free(data);
        free(p);
        free(lens);
        vt_test_tmpdir_free(dir);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(big_batches_read_back),
            cmocka_unit_test(fault_every_io_of_a_big_batch),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
