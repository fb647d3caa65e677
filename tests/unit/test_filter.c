/*
 * test_filter.c: the idempotency filter's cap (src/service/filter.c): its
 * table stops growing at the cap when the log outgrows it, whether the log
 * grows past it while the service runs or is already past it at open; it
 * never answers a wrong "no" (no false negatives), before, at or far beyond
 * the cap, nor while a larger table is built beside the old one; and it
 * still rules out most of what was never logged.
 *
 * Small caps (vt_service_filter_new_max) stand in for the default 12 MiB:
 * a cap of 8 KiB is 65536 bits, sized for 65536 / 12 = 5461 entries.
 */
#include "vt_test.h"

#include <unistd.h>

#include "service/service_int.h"
#include "veritrail/log.h"
#include "veritrail/merkle.h"

#define ORIGIN "filter.test.example/log"

struct fix {
        char *dir;
        struct vt_log *log;
};

static int setup(void **state)
{
        struct fix *f = calloc(1, sizeof(*f));
        struct vt_diag d = {""};

        assert_non_null(f);
        f->dir = vt_test_tmpdir_new("filter");
        if (vt_log_init(f->dir, ORIGIN, &d) != 0)
                fail_msg("log init: %s", d.msg);
        if (vt_log_open(f->dir, 0, &f->log, &d) != 0)
                fail_msg("log open: %s", d.msg);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fix *f = *state;

        vt_log_close(f->log);
        vt_test_tmpdir_free(f->dir);
        free(f);
        return 0;
}

/* Entry i: distinct bytes; its leaf hash (RFC 9162 §2.1.1). */
static size_t entry_of(uint64_t i, char *e, size_t cap)
{
        return (size_t)snprintf(e, cap, "filter test entry %llu", (unsigned long long)i);
}

static void leaf_of(uint64_t i, struct vt_hash *h)
{
        char e[64];
        size_t n = entry_of(i, e, sizeof(e));

        vt_merkle_leaf_hash((const uint8_t *)e, n, h);
}

/* Append entries from..to-1, adding them to flt (if any) as the service's committer does. */
static void append(struct vt_log *log, struct vt_service_filter *flt, uint64_t from, uint64_t to)
{
        static char ebuf[512][64];
        const uint8_t *p[512];
        size_t lens[512], m, i;
        struct vt_hash leaves[512];
        struct vt_diag d = {""};
        uint64_t first;

        while (from < to) {
                m = to - from < 512 ? (size_t)(to - from) : 512;
                for (i = 0; i < m; i++) {
                        lens[i] = entry_of(from + i, ebuf[i], sizeof(ebuf[i]));
                        p[i] = (const uint8_t *)ebuf[i];
                        leaf_of(from + i, &leaves[i]);
                }
                if (vt_log_append(log, p, lens, m, &first, &d) != 0)
                        fail_msg("append: %s", d.msg);
                assert_int_equal(first, from);
                if (flt != NULL)
                        vt_service_filter_add(flt, leaves, m);
                from += m;
        }
}

/* Every entry below n: "maybe" (a "no" would be a false negative). */
static void all_maybe(struct vt_service_filter *flt, uint64_t n)
{
        struct vt_hash h;
        uint64_t i;

        for (i = 0; i < n; i++) {
                leaf_of(i, &h);
                if (!vt_service_filter_maybe(flt, &h))
                        fail_msg("false negative: entry %llu of %llu", (unsigned long long)i,
                                 (unsigned long long)n);
        }
}

/* How many of n hashes never logged the filter answers "maybe" for. */
static uint64_t false_positives(struct vt_service_filter *flt, uint64_t n)
{
        struct vt_hash h;
        uint64_t i, fp = 0;

        for (i = 0; i < n; i++) {
                leaf_of(100000000 + i, &h);
                fp += (uint64_t)vt_service_filter_maybe(flt, &h);
        }
        return fp;
}

/* Wait until no build is under way and the table is sized for at least min_cap entries. */
static void wait_ready(struct vt_service_filter *flt, uint64_t min_cap, uint64_t *cap)
{
        int k;

        for (k = 0; k < 2000 && !(vt_service_filter_ready(flt, cap) && *cap >= min_cap); k++)
                usleep(5 * 1000);
        assert_true(vt_service_filter_ready(flt, cap));
}

/* Wait until a build is held after reading the log's size (hold set). */
static void wait_held(struct vt_service_filter *flt)
{
        int k;

        for (k = 0; k < 2000 && !vt_service_filter_hold(flt, 1); k++)
                usleep(5 * 1000);
        assert_true(vt_service_filter_hold(flt, 1));
}

/*
 * A log that outgrows the cap while the filter runs: the table grows up to
 * the cap and no further (no build is even started), and every entry is
 * still a "maybe", at the cap and at four times it.
 */
static void cap_holds(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = NULL;
        struct vt_diag d = {""};
        uint64_t cap = 0;

        /* 1024 entries at least (2 KiB, a quarter of the cap: grown later), 8 KiB at most. */
        assert_int_equal(vt_service_filter_new_max(f->log, 1 << 16, 1024, 8192, 0, &flt, &d), 0);
        wait_ready(flt, 0, &cap);
        assert_int_equal(cap, 1024);
        append(f->log, flt, 0, 1000);
        all_maybe(flt, 1000);
        /* Past 1024: the next table would be 8 KiB, the cap itself. */
        append(f->log, flt, 1000, 2000);
        wait_ready(flt, 2048, &cap);
        assert_int_equal(cap, 65536 / 12);
        all_maybe(flt, 2000);
        /* At the cap, then far beyond it: never a larger table, never a wrong "no". */
        append(f->log, flt, 2000, 65536 / 12);
        all_maybe(flt, 65536 / 12);
        append(f->log, flt, 65536 / 12, 4 * 65536 / 12);
        assert_true(vt_service_filter_ready(flt, &cap)); /* no build under way */
        assert_int_equal(cap, 65536 / 12);
        all_maybe(flt, 4 * 65536 / 12);
        vt_service_filter_free(flt);
}

/*
 * A log already past the cap at open: the table is built at the cap at once
 * (alone, by the filter's thread); entries committed during that build,
 * past the size it read, are in it too; "maybe" to all while it is built.
 */
static void cap_at_open(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = NULL;
        struct vt_diag d = {""};
        struct vt_hash h;
        uint64_t cap = 0, i;

        append(f->log, NULL, 0, 20000);
        assert_int_equal(vt_service_filter_new_max(f->log, 0, 1024, 8192, 1, &flt, &d), 0);
        wait_held(flt); /* it has read size 20000 */
        for (i = 0; i < 1000; i++) {
                leaf_of(100000000 + i, &h);
                assert_true(vt_service_filter_maybe(flt, &h)); /* not ready: "maybe" */
        }
        append(f->log, flt, 20000, 21000);
        vt_service_filter_hold(flt, 0);
        wait_ready(flt, 1, &cap);
        assert_int_equal(cap, 65536 / 12);
        all_maybe(flt, 21000);
        /* More, and it stays as it is. */
        append(f->log, flt, 21000, 22000);
        assert_true(vt_service_filter_ready(flt, &cap));
        assert_int_equal(cap, 65536 / 12);
        all_maybe(flt, 22000);
        vt_service_filter_free(flt);
}

/*
 * Growth below the cap: four times larger each time while a table stays
 * within a quarter of the cap, then the cap itself (never a table of half
 * the cap, which would soon be built again beside a larger one). The old
 * table answers while the new one is built, without a wrong "no".
 */
static void growth_steps(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = NULL;
        struct vt_diag d = {""};
        uint64_t cap = 0;

        /* A cap of 64 KiB (524288 bits): tables of 2 KiB, 8 KiB, then 64 KiB (not 32 KiB). */
        assert_int_equal(vt_service_filter_new_max(f->log, 1 << 16, 1024, 65536, 0, &flt, &d), 0);
        wait_ready(flt, 0, &cap);
        assert_int_equal(cap, 1024);
        append(f->log, flt, 0, 1100);
        wait_ready(flt, 2048, &cap);
        assert_int_equal(cap, 4096);
        /* Held during the next build: entries committed meanwhile reach both tables. */
        vt_service_filter_hold(flt, 1);
        append(f->log, flt, 1100, 4200);
        wait_held(flt);
        append(f->log, flt, 4200, 4600);
        all_maybe(flt, 4600); /* the old table, full, answers */
        vt_service_filter_hold(flt, 0);
        wait_ready(flt, 8192, &cap);
        assert_int_equal(cap, 524288 / 12);
        all_maybe(flt, 4600);
        append(f->log, flt, 4600, 60000);
        assert_true(vt_service_filter_ready(flt, &cap));
        assert_int_equal(cap, 524288 / 12);
        all_maybe(flt, 60000);
        vt_service_filter_free(flt);
}

/*
 * A filter capped at max_bytes whose table holds cap entries (min_cap 1024,
 * so it grows from 2048 to the cap while the first 2000 are added), filled
 * to that design load, where it rules out all but under 1% of what was
 * never logged (the formula's 0.3% for 12 bits and 8 probes per entry).
 */
static struct vt_service_filter *filled_to_cap(struct fix *f, size_t max_bytes, uint64_t cap,
                                               const char *what)
{
        struct vt_service_filter *flt = NULL;
        struct vt_diag d = {""};
        uint64_t got = 0, fp;

        assert_int_equal(vt_service_filter_new_max(f->log, 1 << 16, 1024, max_bytes, 0, &flt, &d),
                         0);
        append(f->log, flt, 0, 2000);
        wait_ready(flt, 2048, &got);
        assert_int_equal(got, cap);
        append(f->log, flt, 2000, cap);
        fp = false_positives(flt, 20000);
        print_message("false positives at the design load of %s: %llu of 20000\n", what,
                      (unsigned long long)fp);
        assert_true(fp < 20000 * 0.01);
        return flt;
}

/*
 * The filter still works: below its design load it rules out nearly all of
 * what was never logged (12 bits and 8 probes per entry: 0.3%); past the
 * cap its false positives rise with the load, gracefully: at twice the
 * entries the cap is sized for, (1 - e^(-8 * 2/12))^8 = 8.6%.
 */
static void false_positive_rate(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = filled_to_cap(f, 8192, 5461, "an 8 KiB cap");
        uint64_t fp;

        append(f->log, flt, 5461, 2 * 5461);
        fp = false_positives(flt, 20000);
        print_message("false positives at twice the load: %llu of 20000\n", (unsigned long long)fp);
        assert_true(fp > 20000 * 0.04 && fp < 20000 * 0.15);
        all_maybe(flt, 2 * 5461);
        vt_service_filter_free(flt);
}

/* The default cap: a 12 MiB table sized for 8.4M entries, built at once for a log past it. */
static void default_cap(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = NULL;
        struct vt_diag d = {""};
        uint64_t cap = 0;

        /* min_cap far past the cap: the table is the cap, not larger. */
        assert_int_equal(vt_service_filter_new(f->log, 1 << 16, (uint64_t)1 << 30, 0, &flt, &d), 0);
        wait_ready(flt, 0, &cap);
        assert_int_equal(cap, ((uint64_t)12 << 20) * 8 / 12);
        append(f->log, flt, 0, 1000);
        all_maybe(flt, 1000);
        vt_service_filter_free(flt);
        /* Asked for more than the default: the default. */
        assert_int_equal(
            vt_service_filter_new_max(f->log, 1 << 16, (uint64_t)1 << 30, 64u << 20, 0, &flt, &d),
            0);
        wait_ready(flt, 0, &cap);
        assert_int_equal(cap, ((uint64_t)12 << 20) * 8 / 12);
        all_maybe(flt, 1000);
        vt_service_filter_free(flt);
}

/*
 * A cap that is not a power of two (as the default is not): 12 KiB, 98304
 * bits, sized for 8192 entries; no false negative far beyond it, and about
 * the false positives the formula gives at its design load (0.3%).
 */
static void odd_cap(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = filled_to_cap(f, 12288, 8192, "a 12 KiB cap");
        uint64_t cap = 0;

        append(f->log, flt, 8192, 30000);
        assert_true(vt_service_filter_ready(flt, &cap));
        assert_int_equal(cap, 8192);
        all_maybe(flt, 30000);
        vt_service_filter_free(flt);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            T(cap_holds),           T(cap_at_open), T(growth_steps),
            T(false_positive_rate), T(odd_cap),     T(default_cap),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
