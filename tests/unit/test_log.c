/*
 * test_log.c: the log module (sequencer over the SQLite store) against
 *   - a naive reference tree written from RFC 9162 §2.1 (MTH, PATH, PROOF,
 *     recursive, over SHA-256 from the crypto module, not merkle.h): roots,
 *     inclusion and consistency proofs at many sizes and batch shapes,
 *     including tile boundaries (255, 256, 257, 65536 + 1);
 *   - many inclusion proofs of one size at once (vt_log_prove_inclusion_many)
 *     against one at a time, at sizes across three tile levels;
 *   - entry size limits; reopening; a second writer on the same directory;
 *   - group commit from several threads (indexes distinct and dense);
 *   - the audit, clean and after tampering with a tile, a bundle or a
 *     checkpoint through the store;
 *   - fault injection (vt_store_fault_countdown) at every write of a batch:
 *     the log stays usable, reopens old or new, never partial, and audits;
 *   - the tessera example log (../shared/vectors/tessera-log): same tiles,
 *     roots and exported file names for the same entries.
 *
 * Run one test: test_log <name pattern>.
 */
#include "vt_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/merkle.h"
#include "veritrail/store.h"

#include "log/log_int.h" /* struct vt_log_turn: the stream's order, tested directly */

/* ---- helpers ---------------------------------------------------------------- */

#define assert_hash_equal(x, y) assert_memory_equal((x)->b, (y)->b, 32)

/* "<dir>/<name>" in a static buffer of the caller. */
static const char *sub(char *buf, size_t cap, const char *dir, const char *name)
{
        if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
                fail_msg("path too long");
        return buf;
}

/* Entry i: 1..~200 bytes of text that depends on i alone. */
static size_t gen_entry(uint64_t i, uint8_t *buf)
{
        size_t n = (size_t)snprintf((char *)buf, 64, "entry %llu:", (unsigned long long)i);
        size_t pad = (size_t)((i * 7919) % 150), k;

        for (k = 0; k < pad; k++)
                buf[n + k] = (uint8_t)('a' + (i + k) % 26);
        return n + pad;
}

/* ---- the naive reference (RFC 9162 §2.1, recursive) ------------------------- */

static void ref_leaf(const uint8_t *p, size_t n, struct vt_hash *out)
{
        static const uint8_t zero = 0;
        struct vt_span s[2] = {{&zero, 1}, {p, n}};

        vt_crypto_sha256_v(s, 2, out);
}

static void ref_node(const struct vt_hash *l, const struct vt_hash *r, struct vt_hash *out)
{
        static const uint8_t one = 1;
        struct vt_span s[3] = {{&one, 1}, {l->b, 32}, {r->b, 32}};

        vt_crypto_sha256_v(s, 3, out);
}

static uint64_t ref_split(uint64_t n)
{
        uint64_t k = 1;

        while (k * 2 < n)
                k *= 2;
        return k;
}

/* MTH(D[0:n]) over leaf hashes. */
static void ref_mth(const struct vt_hash *l, uint64_t n, struct vt_hash *out)
{
        struct vt_hash a, b;
        uint64_t k;

        if (n == 0) {
                vt_crypto_sha256((const uint8_t *)"", 0, out);
                return;
        }
        if (n == 1) {
                *out = l[0];
                return;
        }
        k = ref_split(n);
        ref_mth(l, k, &a);
        ref_mth(l + k, n - k, &b);
        ref_node(&a, &b, out);
}

/* PATH(m, D[0:n]). */
static void ref_path(const struct vt_hash *l, uint64_t m, uint64_t n, struct vt_hash *out,
                     size_t *len)
{
        uint64_t k;

        if (n <= 1) {
                *len = 0;
                return;
        }
        k = ref_split(n);
        if (m < k) {
                ref_path(l, m, k, out, len);
                ref_mth(l + k, n - k, &out[(*len)++]);
        } else {
                ref_path(l + k, m - k, n - k, out, len);
                ref_mth(l, k, &out[(*len)++]);
        }
}

/* SUBPROOF(m, D[0:n], b). */
static void ref_subproof(const struct vt_hash *l, uint64_t m, uint64_t n, int b,
                         struct vt_hash *out, size_t *len)
{
        uint64_t k;

        if (m == n) {
                *len = 0;
                if (!b)
                        ref_mth(l, n, &out[(*len)++]);
                return;
        }
        k = ref_split(n);
        if (m <= k) {
                ref_subproof(l, m, k, b, out, len);
                ref_mth(l + k, n - k, &out[(*len)++]);
        } else {
                ref_subproof(l + k, m - k, n - k, 0, out, len);
                ref_mth(l, k, &out[(*len)++]);
        }
}

/* The reference: every leaf hash appended so far. */
struct ref {
        struct vt_hash *h;
        uint64_t n, cap;
};

static void ref_add(struct ref *r, const uint8_t *p, size_t n)
{
        if (r->n == r->cap) {
                r->cap = r->cap ? 2 * r->cap : 1024;
                r->h = realloc(r->h, r->cap * sizeof(*r->h));
                assert_non_null(r->h);
        }
        ref_leaf(p, n, &r->h[r->n++]);
}

/* Append count generated entries (from index r->n) in batches of batch. */
static void append_gen(struct vt_log *log, struct ref *r, uint64_t count, size_t batch)
{
        uint8_t *data = malloc(batch * 256);
        const uint8_t **p = calloc(batch, sizeof(*p));
        size_t *lens = calloc(batch, sizeof(*lens)), m, i;
        struct vt_diag d = {""};
        uint64_t first, done = 0;

        assert_non_null(data);
        assert_non_null(p);
        assert_non_null(lens);
        while (done < count) {
                m = count - done < batch ? (size_t)(count - done) : batch;
                for (i = 0; i < m; i++) {
                        p[i] = data + i * 256;
                        lens[i] = gen_entry(r->n + i, data + i * 256);
                }
                if (vt_log_append(log, p, lens, m, &first, &d) != 0)
                        fail_msg("append: %s", d.msg);
                assert_int_equal(first, r->n);
                for (i = 0; i < m; i++)
                        ref_add(r, p[i], lens[i]);
                done += m;
        }
        free(data);
        free(p);
        free(lens);
}

/* The log's root at size n equals the reference's, and the checkpoint's at the latest. */
static void check_root(struct vt_log *log, const struct ref *r, uint64_t n)
{
        struct vt_hash got, want;
        struct vt_diag d = {""};

        if (vt_log_tree_hash(log, n, &got, &d) != 0)
                fail_msg("tree hash %llu: %s", (unsigned long long)n, d.msg);
        ref_mth(r->h, n, &want);
        assert_hash_equal(&got, &want);
}

/* The latest checkpoint verifies with the log's vkey and carries the reference root. */
static void check_checkpoint(struct vt_log *log, const struct ref *r)
{
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_encoding_checkpoint c;
        struct vt_buf note;
        struct vt_hash want;
        uint64_t size = 0;
        const char *vk = vt_log_vkey(log);

        vt_buf_init(&note);
        assert_int_equal(vt_log_checkpoint(log, &size, &note, NULL), 0);
        assert_int_equal(size, r->n);
        assert_int_equal(vt_encoding_note_verifier_parse(vk, strlen(vk), &v, NULL), 0);
        assert_int_equal(vt_encoding_checkpoint_open(note.p, note.len, v, &c, NULL), 0);
        assert_int_equal(c.size, r->n);
        assert_string_equal(c.origin, vt_log_origin(log));
        ref_mth(r->h, r->n, &want);
        assert_hash_equal(&c.root, &want);
        vt_encoding_note_verifier_free(v);
        vt_buf_release(&note);
}

static void check_inclusion(struct vt_log *log, const struct ref *r, uint64_t index, uint64_t n)
{
        struct vt_hash got[VT_LOG_PROOF_MAX], want[VT_LOG_PROOF_MAX];
        size_t glen = 0, wlen = 0;
        struct vt_diag d = {""};

        if (vt_log_prove_inclusion(log, index, n, got, &glen, &d) != 0)
                fail_msg("inclusion %llu in %llu: %s", (unsigned long long)index,
                         (unsigned long long)n, d.msg);
        ref_path(r->h, index, n, want, &wlen);
        assert_int_equal(glen, wlen);
        if (wlen > 0)
                assert_memory_equal(got, want, wlen * sizeof(want[0]));
}

static void check_consistency(struct vt_log *log, const struct ref *r, uint64_t m, uint64_t n)
{
        struct vt_hash got[VT_LOG_PROOF_MAX], want[VT_LOG_PROOF_MAX];
        size_t glen = 0, wlen = 0;
        struct vt_diag d = {""};

        if (vt_log_prove_consistency(log, m, n, got, &glen, &d) != 0)
                fail_msg("consistency %llu..%llu: %s", (unsigned long long)m, (unsigned long long)n,
                         d.msg);
        if (m > 0 && m < n)
                ref_subproof(r->h, m, n, 1, want, &wlen);
        assert_int_equal(glen, wlen);
        if (wlen > 0)
                assert_memory_equal(got, want, wlen * sizeof(want[0]));
}

static void check_entry(struct vt_log *log, uint64_t i)
{
        uint8_t want[256];
        size_t n = gen_entry(i, want);
        struct vt_buf got;
        struct vt_diag d = {""};

        vt_buf_init(&got);
        if (vt_log_entry(log, i, &got, &d) != 0)
                fail_msg("entry %llu: %s", (unsigned long long)i, d.msg);
        assert_int_equal(got.len, n);
        assert_memory_equal(got.p, want, n);
        vt_buf_release(&got);
}

static void audit_ok(struct vt_log *log)
{
        struct vt_log_audit_stats st;
        struct vt_diag d = {""};

        if (vt_log_audit(log, &st, &d) != 0)
                fail_msg("audit: %s", d.msg);
        assert_int_equal(st.size, vt_log_size(log));
}

static struct vt_log *new_log(const char *dir)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};

        if (vt_log_init(dir, "example.com/test-log", &d) != 0)
                fail_msg("init: %s", d.msg);
        if (vt_log_open(dir, 0, &log, &d) != 0)
                fail_msg("open: %s", d.msg);
        return log;
}

static struct vt_log *reopen(struct vt_log *log, const char *dir, int flags)
{
        struct vt_diag d = {""};

        vt_log_close(log);
        log = NULL;
        if (vt_log_open(dir, flags, &log, &d) != 0)
                fail_msg("reopen: %s", d.msg);
        return log;
}

/* ---- tests -------------------------------------------------------------------- */

static void init_and_open(void **state)
{
        char *dir = vt_test_tmpdir_new("log"), p[4200], sub2[4200];
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        struct vt_hash empty, h;
        struct stat st;
        struct ref r = {0};
        const char *vk;

        (void)state;
        sub(sub2, sizeof(sub2), dir, "log");
        assert_int_equal(vt_log_init(sub2, "bad origin", &d), VT_EINVAL);
        assert_int_equal(vt_log_init(sub2, "a+b", &d), VT_EINVAL);
        assert_int_equal(vt_log_init(sub2, "", &d), VT_EINVAL);
        assert_int_equal(vt_log_open(sub2, 0, &log, &d), VT_ENOENT);
        log = new_log(sub2);
        /* The key file is private; the vkey names the origin. */
        assert_int_equal(stat(sub(p, sizeof(p), sub2, "log.key"), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        vk = vt_log_vkey(log);
        assert_true(strncmp(vk, "example.com/test-log+", 21) == 0);
        assert_int_equal(strlen(vk), 21 + 8 + 1 + 44);
        assert_string_equal(vt_log_origin(log), "example.com/test-log");
        /* Size 0: the empty tree, signed. */
        assert_int_equal(vt_log_size(log), 0);
        check_checkpoint(log, &r);
        assert_int_equal(vt_log_tree_hash(log, 0, &h, NULL), 0);
        vt_merkle_empty_hash(&empty);
        assert_hash_equal(&h, &empty);
        audit_ok(log);
        /* A second init is refused, whatever the origin. */
        assert_int_equal(vt_log_init(sub2, "example.com/other", &d), VT_EEXIST);
        assert_non_null(strstr(d.msg, "already holds a log"));
        vt_log_close(log);
        /* A stray key file without a log is refused too. */
        sub(p, sizeof(p), dir, "other");
        assert_int_equal(mkdir(p, 0755), 0);
        sub(sub2, sizeof(sub2), p, "log.key");
        assert_int_equal(vt_util_write_file(sub2, "x", 1, 0600, NULL), 0);
        assert_int_equal(vt_log_init(p, "example.com/x", &d), VT_EEXIST);
        vt_test_tmpdir_free(dir);
}

/* One entry at a time up to 300: root, every inclusion proof and consistency at each size. */
static void append_one_by_one(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        uint64_t n, i, m;

        (void)state;
        for (n = 1; n <= 300; n++) {
                append_gen(log, &r, 1, 1);
                assert_int_equal(vt_log_size(log), n);
                check_root(log, &r, n);
                if (n <= 40 || n % 64 <= 1 || n % 64 == 63 || n == 300) {
                        check_checkpoint(log, &r);
                        for (i = 0; i < n; i++)
                                check_inclusion(log, &r, i, n);
                        for (m = 0; m <= n; m++)
                                check_consistency(log, &r, m, n);
                }
        }
        /* Old sizes stay provable in the grown tree. */
        for (n = 1; n <= 300; n += 37) {
                check_root(log, &r, n);
                for (i = 0; i < n; i += 5)
                        check_inclusion(log, &r, i, n);
                check_consistency(log, &r, n, 300);
        }
        for (i = 0; i < 300; i++)
                check_entry(log, i);
        audit_ok(log);
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/* Batches of awkward sizes across tile boundaries, at every level. */
static void batches_cross_tiles(void **state)
{
        static const size_t batches[] = {255, 1, 256, 257, 3, 510, 65536 + 1, 2, 300};
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        struct vt_buf t;
        struct vt_hash h;
        size_t b;
        uint64_t i, n;

        (void)state;
        for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
                append_gen(log, &r, batches[b], batches[b]);
                n = r.n;
                assert_int_equal(vt_log_size(log), n);
                check_root(log, &r, n);
                check_checkpoint(log, &r);
                check_inclusion(log, &r, 0, n);
                check_inclusion(log, &r, n - 1, n);
                check_inclusion(log, &r, n / 2, n);
                check_consistency(log, &r, n - batches[b], n);
                check_entry(log, n - 1);
        }
        /* Spot checks all over the big tree. */
        n = r.n;
        for (i = 0; i < n; i += 4099) {
                check_inclusion(log, &r, i, n);
                check_inclusion(log, &r, i, i + 1);
                check_consistency(log, &r, i, n);
                check_entry(log, i);
        }
        check_root(log, &r, 65536);
        check_root(log, &r, 65537);
        /* Tiles read back: level 0 tile 3 is leaves 768..1023; level 1 tile 0 holds subtree hashes.
         */
        vt_buf_init(&t);
        assert_int_equal(vt_log_tile(log, 0, 3, 256, &t, NULL), 0);
        assert_int_equal(t.len, 8192);
        assert_memory_equal(t.p, &r.h[768], 8192);
        t.len = 0;
        assert_int_equal(vt_log_tile(log, 1, 0, 2, &t, NULL), 0);
        assert_int_equal(t.len, 64);
        ref_mth(&r.h[256], 256, &h);
        assert_memory_equal(t.p + 32, h.b, 32);
        t.len = 0;
        assert_int_equal(vt_log_tile(log, 2, 0, 1, &t, NULL), 0);
        ref_mth(r.h, 65536, &h);
        assert_memory_equal(t.p, h.b, 32);
        t.len = 0;
        assert_int_equal(vt_log_tile(log, 2, 0, 2, &t, NULL), VT_ENOENT);
        /* A partial bundle is a prefix of the stored one. */
        t.len = 0;
        assert_int_equal(vt_log_tile(log, VT_MERKLE_TILE_ENTRIES, 0, 2, &t, NULL), 0);
        {
                uint8_t e0[256], e1[256];
                size_t n0 = gen_entry(0, e0), n1 = gen_entry(1, e1);

                assert_int_equal(t.len, 4 + n0 + n1);
                assert_int_equal(t.p[0] * 256 + t.p[1], n0);
                assert_memory_equal(t.p + 2, e0, n0);
                assert_memory_equal(t.p + 4 + n0, e1, n1);
        }
        vt_buf_release(&t);
        audit_ok(log);
        /* Reopen: the edge reloads, appends continue seamlessly. */
        log = reopen(log, dir, 0);
        append_gen(log, &r, 700, 123);
        check_root(log, &r, r.n);
        check_checkpoint(log, &r);
        audit_ok(log);
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

static void entry_limits(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        uint8_t *big = malloc(VT_LOG_ENTRY_MAX + 1);
        const uint8_t *p[2];
        size_t lens[2];
        struct vt_diag d = {""};
        struct vt_buf e;
        uint64_t first = 99;

        (void)state;
        assert_non_null(big);
        memset(big, 'x', VT_LOG_ENTRY_MAX + 1);
        p[0] = big;
        p[1] = big;
        lens[0] = 10;
        lens[1] = VT_LOG_ENTRY_MAX + 1;
        assert_int_equal(vt_log_append(log, p, lens, 2, &first, &d), VT_ETOOBIG);
        assert_non_null(strstr(d.msg, "entry 1"));
        lens[1] = 0;
        assert_int_equal(vt_log_append(log, p, lens, 2, &first, &d), VT_EINVAL);
        assert_int_equal(vt_log_append(log, p, lens, 0, &first, &d), VT_EINVAL);
        assert_int_equal(vt_log_submit(log, big, VT_LOG_ENTRY_MAX + 1, &first, &d), VT_ETOOBIG);
        assert_int_equal(first, 99);
        assert_int_equal(vt_log_size(log), 0);
        /* The largest entry fits, alone or 256 of them in one bundle. */
        lens[1] = VT_LOG_ENTRY_MAX;
        assert_int_equal(vt_log_append(log, p, lens, 2, &first, &d), 0);
        assert_int_equal(first, 0);
        {
                const uint8_t *pp[300];
                size_t ll[300], i;

                for (i = 0; i < 300; i++) {
                        pp[i] = big;
                        ll[i] = VT_LOG_ENTRY_MAX - i;
                }
                assert_int_equal(vt_log_append(log, pp, ll, 300, &first, &d), 0);
                assert_int_equal(first, 2);
        }
        vt_buf_init(&e);
        assert_int_equal(vt_log_entry(log, 1, &e, NULL), 0);
        assert_int_equal(e.len, VT_LOG_ENTRY_MAX);
        e.len = 0;
        assert_int_equal(vt_log_entry(log, 301, &e, NULL), 0);
        assert_int_equal(e.len, VT_LOG_ENTRY_MAX - 299);
        assert_int_equal(vt_log_entry(log, 302, &e, &d), VT_ERANGE);
        vt_buf_release(&e);
        audit_ok(log);
        /* Read-only logs refuse appends. */
        log = reopen(log, dir, VT_LOG_READONLY);
        assert_int_equal(vt_log_append(log, p, lens, 1, &first, &d), VT_EINVAL);
        audit_ok(log);
        vt_log_close(log);
        free(big);
        vt_test_tmpdir_free(dir);
}

/* ---- group commit -------------------------------------------------------------- */

#define GC_THREADS 8
#define GC_PER     400

struct gc_arg {
        struct vt_log *log;
        int t;
        uint64_t idx[GC_PER];
        int err;
};

static void *gc_thread(void *p)
{
        struct gc_arg *a = p;
        char e[64];
        struct vt_diag d = {""};
        int i, n, err;

        for (i = 0; i < GC_PER; i++) {
                n = snprintf(e, sizeof(e), "thread %d entry %d", a->t, i);
                if ((err = vt_log_submit(a->log, (const uint8_t *)e, (size_t)n, &a->idx[i], &d)) !=
                    0) {
                        a->err = err;
                        break;
                }
        }
        return NULL;
}

static void run_group_commit(unsigned linger_us)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct gc_arg *args = calloc(GC_THREADS, sizeof(*args));
        pthread_t th[GC_THREADS];
        uint8_t *seen;
        struct vt_buf e;
        char want[64];
        uint64_t total = (uint64_t)GC_THREADS * GC_PER, base, i;
        int t, n;

        assert_non_null(args);
        /* Something in the log first, so indexes do not start at 0. */
        {
                struct ref r = {0};

                append_gen(log, &r, 5, 5);
                free(r.h);
        }
        base = 5;
        vt_log_set_batching(log, 64, 1 << 20, linger_us);
        for (t = 0; t < GC_THREADS; t++) {
                args[t].log = log;
                args[t].t = t;
                assert_int_equal(pthread_create(&th[t], NULL, gc_thread, &args[t]), 0);
        }
        for (t = 0; t < GC_THREADS; t++)
                assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(vt_log_size(log), base + total);
        seen = calloc(total, 1);
        assert_non_null(seen);
        vt_buf_init(&e);
        for (t = 0; t < GC_THREADS; t++) {
                assert_int_equal(args[t].err, 0);
                for (i = 0; i < GC_PER; i++) {
                        uint64_t x = args[t].idx[i];

                        assert_true(x >= base && x < base + total);
                        assert_int_equal(seen[x - base], 0); /* distinct... */
                        seen[x - base] = 1;
                        if (i > 0)
                                assert_true(x >
                                            args[t].idx[i - 1]); /* ...and in order per thread */
                        e.len = 0;
                        assert_int_equal(vt_log_entry(log, x, &e, NULL), 0);
                        n = snprintf(want, sizeof(want), "thread %d entry %d", t, (int)i);
                        assert_int_equal(e.len, (size_t)n);
                        assert_memory_equal(e.p, want, (size_t)n);
                }
        }
        /* ...and dense: total distinct indexes in a range of total. */
        for (i = 0; i < total; i++)
                assert_int_equal(seen[i], 1);
        vt_buf_release(&e);
        audit_ok(log);
        log = reopen(log, dir, VT_LOG_READONLY);
        assert_int_equal(vt_log_size(log), base + total);
        audit_ok(log);
        vt_log_close(log);
        free(seen);
        free(args);
        vt_test_tmpdir_free(dir);
}

static void group_commit_threads(void **state)
{
        (void)state;
        run_group_commit(0);
}

static void group_commit_linger(void **state)
{
        (void)state;
        run_group_commit(2000);
}

/*
 * Pipelined appends (log.c: the next batch is prepared while one is
 * stored) from several threads, while I/O errors come and go: a batch
 * prepared on top of one that then failed must be prepared again, never
 * stored as it was. Every batch that succeeded holds its own entries at its
 * indexes, together they are the whole tree, and it audits, also reopened.
 */
#define PL_THREADS 3
#define PL_BATCHES 40
#define PL_N       50

struct pl_arg {
        struct vt_log *log;
        int t;
        uint64_t first[PL_BATCHES];
        int err[PL_BATCHES];
};

static void pl_entry(char *buf, size_t cap, int t, int b, int i)
{
        snprintf(buf, cap, "thread %d batch %d entry %d", t, b, i);
}

static void *pl_thread(void *p)
{
        struct pl_arg *a = p;
        char ebuf[PL_N][80];
        const uint8_t *e[PL_N];
        size_t len[PL_N];
        struct vt_diag d;
        int b, i;

        for (b = 0; b < PL_BATCHES; b++) {
                for (i = 0; i < PL_N; i++) {
                        pl_entry(ebuf[i], sizeof(ebuf[i]), a->t, b, i);
                        e[i] = (const uint8_t *)ebuf[i];
                        len[i] = strlen(ebuf[i]);
                }
                a->err[b] = vt_log_append(a->log, e, len, PL_N, &a->first[b], &d);
        }
        return NULL;
}

static void pipelined_appends_with_failures(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct pl_arg *args = calloc(PL_THREADS, sizeof(*args));
        pthread_t th[PL_THREADS];
        uint64_t size, ok = 0, failed = 0, x;
        uint8_t *seen;
        struct vt_buf got;
        char want[80];
        int t, b, i, round;

        (void)state;
        assert_non_null(args);
        for (t = 0; t < PL_THREADS; t++) {
                args[t].log = log;
                args[t].t = t;
                assert_int_equal(pthread_create(&th[t], NULL, pl_thread, &args[t]), 0);
        }
        /* Disk failures that come and go, at varying depths into a batch. */
        for (round = 0; round < 30; round++) {
                vt_store_fault_countdown(3 + (round * 7) % 23);
                usleep(1000);
                vt_store_fault_countdown(-1);
                usleep(2000);
        }
        for (t = 0; t < PL_THREADS; t++)
                assert_int_equal(pthread_join(th[t], NULL), 0);
        vt_store_fault_countdown(-1);
        /* The log stays usable after failures: one more batch. */
        {
                const uint8_t *e = (const uint8_t *)"after";
                size_t len = 5;
                struct vt_diag d;
                uint64_t f;

                if (vt_log_append(log, &e, &len, 1, &f, &d) != 0)
                        fail_msg("append after the failures: %s", d.msg);
        }
        size = vt_log_size(log);
        seen = calloc(size, 1);
        assert_non_null(seen);
        vt_buf_init(&got);
        for (t = 0; t < PL_THREADS; t++) {
                for (b = 0; b < PL_BATCHES; b++) {
                        if (args[t].err[b] != 0) {
                                failed++;
                                continue;
                        }
                        ok++;
                        for (i = 0; i < PL_N; i++) {
                                x = args[t].first[b] + (uint64_t)i;
                                assert_true(x < size - 1);
                                assert_int_equal(seen[x], 0);
                                seen[x] = 1;
                                got.len = 0;
                                assert_int_equal(vt_log_entry(log, x, &got, NULL), 0);
                                pl_entry(want, sizeof(want), t, b, i);
                                assert_int_equal(got.len, strlen(want));
                                assert_memory_equal(got.p, want, got.len);
                        }
                }
        }
        /* Exactly the successful batches (and the last entry) make the tree. */
        assert_int_equal(size, ok * PL_N + 1);
        assert_true(ok > 0);
        assert_true(failed > 0); /* the failure path was taken */
        print_message("pipelined appends: %llu batches stored, %llu failed\n",
                      (unsigned long long)ok, (unsigned long long)failed);
        vt_buf_release(&got);
        audit_ok(log);
        log = reopen(log, dir, 0);
        assert_int_equal(vt_log_size(log), size);
        audit_ok(log);
        vt_log_close(log);
        free(seen);
        free(args);
        vt_test_tmpdir_free(dir);
}

/* ---- streams (vt_log_stream) ------------------------------------------------------ */

#define ST_MAX 64

/* What the stream reported, in the order done() was called. */
struct st_rec {
        atomic_int calls;
        uintptr_t tag[ST_MAX];
        uint64_t first[ST_MAX];
        size_t n[ST_MAX];
        int err[ST_MAX];
        char msg[ST_MAX][VT_DIAG_MAX];
};

static void st_done(void *ctx, void *tag, uint64_t first, size_t n, int err,
                    const struct vt_diag *d)
{
        struct st_rec *r = ctx;
        int k = atomic_load(&r->calls);

        assert_true(k < ST_MAX);
        r->tag[k] = (uintptr_t)tag;
        r->first[k] = first;
        r->n[k] = n;
        r->err[k] = err;
        snprintf(r->msg[k], sizeof(r->msg[k]), "%s", d->msg);
        atomic_store(&r->calls, k + 1);
}

/* nb batches of generated entries from index base, batch k of sizes[k] entries; all buffers. */
struct st_batches {
        uint8_t *data;
        const uint8_t **p;
        size_t *lens, off[ST_MAX + 1];
};

static void st_make(struct st_batches *b, uint64_t base, const size_t *sizes, int nb)
{
        size_t total = 0, i;
        int k;

        for (k = 0; k < nb; k++) {
                b->off[k] = total;
                total += sizes[k];
        }
        b->off[nb] = total;
        b->data = malloc(total * 256);
        b->p = calloc(total, sizeof(*b->p));
        b->lens = calloc(total, sizeof(*b->lens));
        assert_non_null(b->data);
        assert_non_null(b->p);
        assert_non_null(b->lens);
        for (i = 0; i < total; i++) {
                b->p[i] = b->data + i * 256;
                b->lens[i] = gen_entry(base + i, b->data + i * 256);
        }
}

static void st_free(struct st_batches *b)
{
        free(b->data);
        free(b->p);
        free(b->lens);
}

/*
 * One producer's batches go in push order, each reported once, in order,
 * with its first index; push keeps at most VT_LOG_STREAM_DEPTH in flight;
 * the tree is the reference's.
 */
static void stream_in_order(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct vt_log_stream *st = NULL;
        struct st_rec *rec = calloc(1, sizeof(*rec));
        struct st_batches b;
        size_t sizes[40];
        struct ref r = {0};
        struct vt_diag d = {""};
        uint64_t want = 0, i;
        int k, nb = 40;

        (void)state;
        assert_non_null(rec);
        for (k = 0; k < nb; k++)
                sizes[k] = 1 + (size_t)((k * 37) % 300); /* across bundles and tiles */
        st_make(&b, 0, sizes, nb);
        assert_int_equal(vt_log_stream_open(log, st_done, rec, &st, &d), 0);
        for (k = 0; k < nb; k++) {
                if (vt_log_stream_push(st, b.p + b.off[k], b.lens + b.off[k], sizes[k],
                                       (void *)(uintptr_t)(k + 1), &d) != 0)
                        fail_msg("push %d: %s", k, d.msg);
                /* Every batch pushed DEPTH or more pushes before this one is reported. */
                assert_true(atomic_load(&rec->calls) + VT_LOG_STREAM_DEPTH >= k + 1);
        }
        if (vt_log_stream_close(st, &d) != 0)
                fail_msg("close: %s", d.msg);
        assert_int_equal(atomic_load(&rec->calls), nb);
        for (k = 0; k < nb; k++) {
                assert_int_equal(rec->tag[k], (uintptr_t)(k + 1));
                assert_int_equal(rec->err[k], 0);
                assert_int_equal(rec->n[k], sizes[k]);
                assert_int_equal(rec->first[k], want);
                want += sizes[k];
        }
        assert_int_equal(vt_log_size(log), want);
        for (i = 0; i < want; i++)
                ref_add(&r, b.p[i], b.lens[i]);
        check_root(log, &r, r.n);
        check_checkpoint(log, &r);
        for (i = 0; i < want; i += 97)
                check_entry(log, i);
        check_entry(log, want - 1);
        audit_ok(log);
        /* An empty stream opens and closes; a read-only log has none. */
        assert_int_equal(vt_log_stream_open(log, st_done, rec, &st, NULL), 0);
        assert_int_equal(vt_log_stream_close(st, NULL), 0);
        assert_int_equal(vt_log_stream_close(NULL, NULL), 0);
        log = reopen(log, dir, VT_LOG_READONLY);
        st = NULL;
        assert_int_equal(vt_log_stream_open(log, st_done, rec, &st, NULL), VT_EINVAL);
        assert_null(st);
        vt_log_close(log);
        st_free(&b);
        free(r.h);
        free(rec);
        vt_test_tmpdir_free(dir);
}

/*
 * A batch that fails stops the stream: it is reported with its own error,
 * every later one with VT_ELOGSTATE naming it, none of them is appended,
 * push and close return the first error; the batches before it stay.
 */
static void stream_stops_after_failure(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct vt_log_stream *st = NULL;
        struct st_rec *rec = calloc(1, sizeof(*rec));
        struct st_batches b;
        size_t sizes[10] = {50, 300, 7, 256, 40, 40, 40, 40, 40, 40};
        struct vt_diag d = {""};
        uint64_t want = 0;
        int k, pushed = 0, err = 0;

        (void)state;
        assert_non_null(rec);
        st_make(&b, 0, sizes, 10);
        b.lens[b.off[4] + 3] = 0; /* batch 4: an empty entry */
        assert_int_equal(vt_log_stream_open(log, st_done, rec, &st, &d), 0);
        for (k = 0; k < 10; k++) {
                err = vt_log_stream_push(st, b.p + b.off[k], b.lens + b.off[k], sizes[k],
                                         (void *)(uintptr_t)k, &d);
                if (err != 0)
                        break;
                pushed++;
        }
        if (err != 0) {
                /* Refused once the failure was reported: the error is batch 4's. */
                assert_true(pushed > 4);
                assert_int_equal(err, VT_EINVAL);
                assert_non_null(strstr(d.msg, "entry 3 is empty"));
        }
        d.msg[0] = '\0';
        assert_int_equal(vt_log_stream_close(st, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "entry 3 is empty"));
        assert_int_equal(atomic_load(&rec->calls), pushed);
        for (k = 0; k < pushed; k++) {
                assert_int_equal(rec->tag[k], (uintptr_t)k);
                if (k < 4) {
                        assert_int_equal(rec->err[k], 0);
                        assert_int_equal(rec->first[k], want);
                        want += sizes[k];
                } else if (k == 4) {
                        assert_int_equal(rec->err[k], VT_EINVAL);
                } else {
                        assert_int_equal(rec->err[k], VT_ELOGSTATE);
                        assert_non_null(strstr(rec->msg[k], "batch 4 failed before it"));
                }
        }
        assert_int_equal(vt_log_size(log), want);
        audit_ok(log);
        log = reopen(log, dir, 0);
        assert_int_equal(vt_log_size(log), want);
        audit_ok(log);
        vt_log_close(log);
        st_free(&b);
        free(rec);
        vt_test_tmpdir_free(dir);
}

/*
 * An I/O error at the k-th store write or sync of a stream (for many k,
 * with two batches in flight): the batches before the failing one are
 * durable and in order, the failing one and every later one are reported
 * failed and absent, and the log audits clean, in memory and reopened.
 */
static void stream_store_faults(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct st_rec *rec = calloc(1, sizeof(*rec));
        struct st_batches b;
        size_t sizes[8] = {300, 300, 300, 300, 300, 300, 300, 300};
        struct vt_diag d = {""};
        struct ref r = {0};
        uint64_t size0, want, i;
        long k;
        int j, failed_runs = 0, bad, at[9] = {0};

        (void)state;
        assert_non_null(rec);
        for (k = 1; k <= 200; k += 10) {
                struct vt_log_stream *st = NULL;

                size0 = vt_log_size(log);
                st_make(&b, size0, sizes, 8);
                memset(rec, 0, sizeof(*rec));
                assert_int_equal(vt_log_stream_open(log, st_done, rec, &st, &d), 0);
                vt_store_fault_countdown(k);
                for (j = 0; j < 8; j++)
                        if (vt_log_stream_push(st, b.p + b.off[j], b.lens + b.off[j], sizes[j],
                                               (void *)(uintptr_t)j, &d) != 0)
                                break;
                (void)vt_log_stream_close(st, NULL);
                vt_store_fault_countdown(-1);
                /* Reported in order: successes, then (maybe) one error, then VT_ELOGSTATE. */
                want = size0;
                bad = -1;
                for (j = 0; j < atomic_load(&rec->calls); j++) {
                        assert_int_equal(rec->tag[j], (uintptr_t)j);
                        if (bad < 0 && rec->err[j] == 0) {
                                assert_int_equal(rec->first[j], want);
                                want += sizes[j];
                        } else if (bad < 0) {
                                bad = j;
                                assert_int_not_equal(rec->err[j], VT_ELOGSTATE);
                        } else {
                                assert_int_equal(rec->err[j], VT_ELOGSTATE);
                        }
                }
                failed_runs += bad >= 0;
                at[bad >= 0 ? bad : 8]++;
                assert_int_equal(vt_log_size(log), want);
                for (i = size0; i < want; i++)
                        ref_add(&r, b.p[i - size0], b.lens[i - size0]);
                check_root(log, &r, r.n);
                st_free(&b);
        }
        assert_true(failed_runs > 5); /* the failure path was taken */
        audit_ok(log);
        log = reopen(log, dir, 0);
        assert_int_equal(vt_log_size(log), r.n);
        check_root(log, &r, r.n);
        audit_ok(log);
        print_message("stream faults: %d runs of 20 stopped at a failed batch; failed batch "
                      "0..7, none: %d %d %d %d %d %d %d %d, %d\n",
                      failed_runs, at[0], at[1], at[2], at[3], at[4], at[5], at[6], at[7], at[8]);
        vt_log_close(log);
        free(r.h);
        free(rec);
        vt_test_tmpdir_free(dir);
}

/* One ticket of a turn, appended from its own thread: entries "turn T entry I". */
struct turn_arg {
        struct vt_log *log;
        struct vt_log_turn *turn;
        uint64_t ticket, first;
        int empty; /* one empty entry: the batch fails before it is prepared */
        int err;
        char msg[VT_DIAG_MAX];
};

static void *turn_thread(void *p)
{
        struct turn_arg *a = p;
        char buf[5][40];
        const uint8_t *e[5];
        size_t lens[5];
        struct vt_diag d = {""};
        int i;

        for (i = 0; i < 5; i++) {
                snprintf(buf[i], sizeof(buf[i]), "turn %llu entry %d",
                         (unsigned long long)a->ticket, i);
                e[i] = (const uint8_t *)buf[i];
                lens[i] = a->empty && i == 2 ? 0 : strlen(buf[i]);
        }
        a->err = vt_log_append_turn(a->log, e, lens, 5, a->turn, a->ticket, &a->first, &d);
        snprintf(a->msg, sizeof(a->msg), "%s", d.msg);
        return NULL;
}

/*
 * The stream's order itself (log_int.h): tickets are appended in ticket
 * order whatever order their threads arrive in, and once one fails, later
 * tickets are not appended even though the log is fine.
 */
static void stream_turns(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct vt_log_turn turn;
        struct turn_arg a[6];
        pthread_t th[6];
        struct vt_buf got;
        char want[40];
        int i, k;

        (void)state;
        memset(&turn, 0, sizeof(turn));
        pthread_mutex_init(&turn.mu, NULL);
        pthread_cond_init(&turn.cv, NULL);
        atomic_init(&turn.failed, 0);
        memset(a, 0, sizeof(a));
        /* Tickets 2, 1, 0 arrive in that order, 30 ms apart. */
        for (k = 2; k >= 0; k--) {
                a[k] = (struct turn_arg){.log = log, .turn = &turn, .ticket = (uint64_t)k};
                assert_int_equal(pthread_create(&th[k], NULL, turn_thread, &a[k]), 0);
                usleep(30000);
        }
        for (k = 0; k < 3; k++) {
                assert_int_equal(pthread_join(th[k], NULL), 0);
                assert_int_equal(a[k].err, 0);
                assert_int_equal(a[k].first, 5 * (uint64_t)k);
        }
        vt_buf_init(&got);
        for (i = 0; i < 15; i++) {
                got.len = 0;
                assert_int_equal(vt_log_entry(log, (uint64_t)i, &got, NULL), 0);
                snprintf(want, sizeof(want), "turn %d entry %d", i / 5, i % 5);
                assert_int_equal(got.len, strlen(want));
                assert_memory_equal(got.p, want, got.len);
        }
        /* Ticket 3 fails before it is prepared; 4 and 5, one after the other, are refused. */
        a[3] = (struct turn_arg){.log = log, .turn = &turn, .ticket = 3, .empty = 1};
        turn_thread(&a[3]);
        assert_int_equal(a[3].err, VT_EINVAL);
        for (k = 4; k < 6; k++) {
                a[k] = (struct turn_arg){.log = log, .turn = &turn, .ticket = (uint64_t)k};
                turn_thread(&a[k]);
                assert_int_equal(a[k].err, VT_ELOGSTATE);
                assert_non_null(strstr(a[k].msg, "batch 3 failed before it"));
        }
        assert_int_equal(vt_log_size(log), 15);
        audit_ok(log);
        vt_buf_release(&got);
        pthread_cond_destroy(&turn.cv);
        pthread_mutex_destroy(&turn.mu);
        vt_log_close(log);
        vt_test_tmpdir_free(dir);
}

/* ---- audit and tampering ------------------------------------------------------- */

/* A log of 600 entries in batches of 100 (checkpoints at 0, 100, ..., 600). */
static void log600(const char *dir, struct ref *r)
{
        struct vt_log *log = new_log(dir);

        append_gen(log, r, 600, 100);
        audit_ok(log);
        vt_log_close(log);
}

/* Audit a closed log read-only: the result code, and the message in d. */
static int audit_dir(const char *dir, struct vt_diag *d)
{
        struct vt_log *log = NULL;
        int err;

        if ((err = vt_log_open(dir, VT_LOG_READONLY, &log, d)) != 0)
                return err;
        err = vt_log_audit(log, NULL, d);
        vt_log_close(log);
        return err;
}

static void audit_tampered_tile(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct ref r = {0};
        struct vt_store *s = NULL;
        struct vt_buf b;
        struct vt_diag d = {""};
        unsigned w = 0;

        (void)state;
        log600(dir, &r);
        vt_buf_init(&b);
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        /* Flip a bit of hash 17 of the full level-0 tile 1. */
        assert_int_equal(vt_store_tile_get(s, 0, 1, &w, &b, NULL), 0);
        assert_int_equal(w, 256);
        b.p[17 * 32 + 5] ^= 1;
        assert_int_equal(vt_store_tile_put(s, 0, 1, 256, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_string_equal(d.msg, "tile 0/001: hash 17 differs");
        /* Repair it; now damage the partial tile of the latest size: open itself notices. */
        b.p[17 * 32 + 5] ^= 1;
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_tile_put(s, 0, 1, 256, b.p, b.len, NULL), 0);
        b.len = 0;
        assert_int_equal(vt_store_tile_get(s, 0, 2, &w, &b, NULL), 0);
        assert_int_equal(w, 600 - 512);
        b.p[0] ^= 0x80;
        assert_int_equal(vt_store_tile_put(s, 0, 2, w, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "entries/002.p/88"));
        /* A tile after the tree's last one is noticed too. */
        b.p[0] ^= 0x80;
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_tile_put(s, 0, 2, w, b.p, b.len, NULL), 0);
        assert_int_equal(vt_store_tile_put(s, 0, 3, w, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_non_null(strstr(d.msg, "beyond the tree"));
        vt_buf_release(&b);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/*
 * tamper_bundle(dir, n, p, len): replace entry bundle n behind the store's
 * back, as someone with write access to the data directory could: the new
 * bytes appended to the entry segment and the bundle's row pointed at them
 * (the store's API only lets bundles grow at the end of the log).
 */
static void tamper_bundle(const char *dir, uint64_t n, const uint8_t *p, size_t len)
{
        char path[4200], sql[256];
        struct stat sb;
        sqlite3 *db = NULL;
        int fd;

        fd = open(sub(path, sizeof(path), dir, "entries.seg"), O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &sb), 0);
        assert_int_equal(write(fd, p, len), (ssize_t)len);
        close(fd);
        snprintf(sql, sizeof(sql),
                 "UPDATE bundles SET off = %lld, len = %zu WHERE n = %llu;"
                 " UPDATE segment SET committed = %lld",
                 (long long)sb.st_size, len, (unsigned long long)n,
                 (long long)sb.st_size + (long long)len);
        assert_int_equal(sqlite3_open(sub(path, sizeof(path), dir, "veritrail.db"), &db),
                         SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
}

static void audit_tampered_bundle(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct ref r = {0};
        struct vt_store *s = NULL;
        struct vt_buf b;
        struct vt_diag d = {""};
        unsigned w = 0;

        (void)state;
        log600(dir, &r);
        vt_buf_init(&b);
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_bundle_get(s, 0, &w, &b, NULL), 0);
        assert_int_equal(w, 256);
        b.p[3] ^= 1; /* a byte of entry 0 */
        vt_store_close(s);
        tamper_bundle(dir, 0, b.p, b.len);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_string_equal(d.msg, "tile 0/000: hash 0 differs");
        /* A bundle with its last entry cut off. */
        b.p[3] ^= 1;
        tamper_bundle(dir, 0, b.p, b.len - 1);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_non_null(strstr(d.msg, "entries/000: entry 255 is cut off"));
        /* Trailing bytes after the entries. */
        assert_int_equal(vt_buf_append(&b, "\0\1x", 3), 0);
        tamper_bundle(dir, 0, b.p, b.len);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_non_null(strstr(d.msg, "bytes after its 256 entries"));
        vt_buf_release(&b);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

static void audit_tampered_checkpoint(void **state)
{
        char *dir = vt_test_tmpdir_new("log"), kp[4200];
        struct ref r = {0};
        struct vt_store *s = NULL;
        struct vt_crypto_key *k = NULL, *other = NULL;
        struct vt_encoding_checkpoint c;
        struct vt_buf b;
        struct vt_diag d = {""};

        (void)state;
        log600(dir, &r);
        vt_buf_init(&b);
        /* An old checkpoint with a wrong root, signed with the log's own key. */
        assert_int_equal(
            vt_crypto_key_load_file(sub(kp, sizeof(kp), dir, "log.key"), NULL, &k, NULL), 0);
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, "example.com/test-log");
        c.size = 300;
        ref_mth(r.h, 299, &c.root);
        assert_int_equal(vt_encoding_checkpoint_sign(&c, c.origin, k, &b, NULL), 0);
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 300, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_string_equal(
            d.msg, "checkpoint 300: root differs from the tree recomputed from the entries");
        /* The right root, signed by another key. */
        b.len = 0;
        ref_mth(r.h, 300, &c.root);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &other, NULL), 0);
        assert_int_equal(vt_encoding_checkpoint_sign(&c, c.origin, other, &b, NULL), 0);
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 300, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_non_null(strstr(d.msg, "checkpoint 300"));
        /* Filed under the wrong size. */
        b.len = 0;
        assert_int_equal(vt_encoding_checkpoint_sign(&c, c.origin, k, &b, NULL), 0);
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 300, b.p, b.len, NULL), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 301, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_EAUDIT);
        assert_non_null(strstr(d.msg, "checkpoint 301"));
        /* A forged latest checkpoint (a bigger tree, properly signed) fails at open. */
        b.len = 0;
        c.size = 700;
        assert_int_equal(vt_encoding_checkpoint_sign(&c, c.origin, k, &b, NULL), 0);
        assert_int_equal(vt_store_open(dir, 0, &s, NULL), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 700, b.p, b.len, NULL), 0);
        vt_store_close(s);
        assert_int_equal(audit_dir(dir, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "checkpoint size 700 needs"));
        vt_crypto_key_free(k);
        vt_crypto_key_free(other);
        vt_buf_release(&b);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/* A key file that is not the log's: open refuses to sign with it. */
static void wrong_key_file(void **state)
{
        char *dir = vt_test_tmpdir_new("log"), kp[4200];
        struct vt_log *log = new_log(dir);
        struct vt_crypto_key *k = NULL;
        struct vt_buf pem;
        struct vt_diag d = {""};

        (void)state;
        vt_log_close(log);
        vt_buf_init(&pem);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL), 0);
        assert_int_equal(vt_crypto_key_private_pem(k, &pem), 0);
        assert_int_equal(
            vt_util_write_file(sub(kp, sizeof(kp), dir, "log.key"), pem.p, pem.len, 0600, NULL), 0);
        assert_int_equal(vt_log_open(dir, 0, &log, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "is not the signing key"));
        /* Read-only needs no key. */
        assert_int_equal(vt_log_open(dir, VT_LOG_READONLY, &log, &d), 0);
        vt_log_close(log);
        vt_crypto_key_free(k);
        vt_buf_wipe(&pem);
        vt_test_tmpdir_free(dir);
}

/* Two handles on one directory (as two processes): each notices the other's appends. */
static void two_writers(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *a = new_log(dir), *b = NULL;
        struct ref r = {0};
        int i;

        (void)state;
        assert_int_equal(vt_log_open(dir, 0, &b, NULL), 0);
        for (i = 0; i < 6; i++)
                append_gen(i % 2 ? a : b, &r, 97 + 50 * (uint64_t)i, 200);
        check_root(a, &r, r.n);
        check_checkpoint(a, &r);
        audit_ok(a);
        vt_log_close(a);
        vt_log_close(b);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/*
 * Fault injection: an I/O error at the k-th write or sync of a batch, for
 * every k until the batch goes through. After each failure: the in-memory log
 * is unchanged and still appends; reopened, it holds the old or the new
 * batch, never part of one, and audits clean.
 */
static void fault_every_write(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        uint8_t data[300][256];
        const uint8_t *p[300];
        size_t lens[300], i;
        struct vt_diag d = {""};
        uint64_t first, old, k, failures = 0, probe_at;
        int err;

        (void)state;
        append_gen(log, &r, 200, 200);
        for (k = 0; k < 10000; k++) {
                old = vt_log_size(log);
                assert_int_equal(old, r.n);
                for (i = 0; i < 300; i++) {
                        p[i] = data[i];
                        lens[i] = gen_entry(old + i, data[i]);
                }
                vt_store_fault_countdown((long)k);
                err = vt_log_append(log, p, lens, 300, &first, &d);
                vt_store_fault_countdown(-1);
                if (err == 0) {
                        assert_int_equal(first, old);
                        for (i = 0; i < 300; i++)
                                ref_add(&r, p[i], lens[i]);
                        break;
                }
                failures++;
                if (err != VT_EIO && err != VT_ESTORE)
                        fail_msg("k=%llu: unexpected error %d: %s", (unsigned long long)k, err,
                                 d.msg);
                assert_true(d.msg[0] != '\0');
                assert_int_equal(vt_log_size(log), old);
                /* Still usable: the next batch goes through (it may find the failed one committed).
                 */
                {
                        uint8_t e[256];
                        const uint8_t *pe = e;
                        size_t ne = gen_entry(old, e);

                        probe_at = 0;
                        if (vt_log_append(log, &pe, &ne, 1, &probe_at, &d) != 0)
                                fail_msg("k=%llu: append after a failure: %s",
                                         (unsigned long long)k, d.msg);
                        if (probe_at == old) {
                                ref_add(&r, e, ne); /* the failed batch is gone */
                        } else {
                                /* It had reached the disk after all: the batch, then the probe. */
                                assert_int_equal(probe_at, old + 300);
                                for (i = 0; i < 300; i++)
                                        ref_add(&r, p[i], lens[i]);
                                ref_add(&r, e, ne);
                        }
                }
                /* Reopened: exactly the reference. */
                log = reopen(log, dir, 0);
                assert_int_equal(vt_log_size(log), r.n);
                check_root(log, &r, r.n);
                check_checkpoint(log, &r);
                if (k % 8 == 0)
                        audit_ok(log);
        }
        assert_true(failures > 0);
        assert_true(k < 10000);
        print_message("fault injection: %llu failing positions, then the batch went through\n",
                      (unsigned long long)failures);
        log = reopen(log, dir, 0);
        check_root(log, &r, r.n);
        audit_ok(log);
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/* Export: the files a tlog-tiles client fetches, each equal to the tile the log serves. */
static void export_tree(void **state)
{
        char *dir = vt_test_tmpdir_new("log"), out[4200], p[4400];
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        struct vt_buf f, t;
        struct vt_diag d = {""};
        uint64_t files = 0, files2 = 0;
        struct stat st;

        (void)state;
        append_gen(log, &r, 250, 250);
        append_gen(log, &r, 10, 10);   /* 260: level 0 tile 0 full, partial 1.p/4 */
        append_gen(log, &r, 256, 256); /* 516: 1.p/4 is now full; 2.p/4 */
        sub(out, sizeof(out), dir, "out");
        if (vt_log_export(log, out, &files, &d) != 0)
                fail_msg("export: %s", d.msg);
        vt_buf_init(&f);
        vt_buf_init(&t);
        /* Full tiles; the partial of the current size; no stale partials of full tiles. */
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/0/000"), &st), 0);
        assert_int_equal(st.st_size, 8192);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/0/001"), &st), 0);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/0/002.p/4"), &st), 0);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/1/000.p/2"), &st), 0);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/1/000.p/1"), &st), 0); /* size 260 */
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/entries/002.p/4"), &st), 0);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/entries/001"), &st), 0);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/0/000.p/250"), &st), -1);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/0/001.p/4"), &st), -1);
        /* Contents equal what the log serves; the checkpoint is the latest. */
        assert_int_equal(
            vt_util_read_file(sub(p, sizeof(p), out, "tile/1/000.p/1"), 1 << 20, &f, NULL), 0);
        assert_int_equal(vt_log_tile(log, 1, 0, 1, &t, NULL), 0);
        assert_int_equal(f.len, t.len);
        assert_memory_equal(f.p, t.p, t.len);
        vt_buf_release(&f);
        t.len = 0;
        assert_int_equal(vt_util_read_file(sub(p, sizeof(p), out, "checkpoint"), 1 << 20, &f, NULL),
                         0);
        assert_int_equal(vt_log_checkpoint(log, NULL, &t, NULL), 0);
        assert_int_equal(f.len, t.len);
        assert_memory_equal(f.p, t.p, t.len);
        /* Again: the same files, nothing new; then after growth, more. */
        assert_int_equal(vt_log_export(log, out, &files2, NULL), 0);
        assert_int_equal(files, files2);
        append_gen(log, &r, 1, 1);
        assert_int_equal(vt_log_export(log, out, &files2, NULL), 0);
        assert_true(files2 > files);
        assert_int_equal(stat(sub(p, sizeof(p), out, "tile/0/002.p/5"), &st), 0);
        vt_buf_release(&f);
        vt_buf_release(&t);
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/* Read a whole file of the shared vectors. */
static void read_shared(const char *shared, const char *rel, struct vt_buf *out)
{
        char p[4200];

        snprintf(p, sizeof(p), "%s/vectors/tessera-log/%s", shared, rel);
        vt_buf_release(out); /* read_file fills a fresh buffer */
        if (vt_util_read_file(p, 1 << 20, out, NULL) != 0)
                fail_msg("cannot read '%s'", p);
}

/*
 * The tessera example log: its 15 entries appended one per batch give the
 * same tiles and roots at every size as tessera's, and the export has the
 * same tile file names.
 */
static void tessera_same_tree(void **state)
{
        const char *shared;
        char *dir, out[4200], rel[64], cmd[9000];
        struct vt_log *log;
        struct vt_buf bundle, f, t;
        struct vt_merkle_bundle_iter it;
        struct vt_encoding_checkpoint c;
        struct vt_span e;
        struct vt_hash root;
        uint64_t n = 0, first;
        int rc;

        (void)state;
        VT_TEST_NEED_SHARED(shared);
        dir = vt_test_tmpdir_new("log");
        log = new_log(dir);
        vt_buf_init(&bundle);
        vt_buf_init(&f);
        vt_buf_init(&t);
        read_shared(shared, "tile/entries/000.p/15", &bundle);
        vt_merkle_bundle_iter_init(&it, bundle.p, bundle.len);
        while (vt_merkle_bundle_next(&it, &e) == 0) {
                const uint8_t *p = e.p;

                assert_int_equal(vt_log_append(log, &p, &e.len, 1, &first, NULL), 0);
                assert_int_equal(first, n);
                n++;
                /* Same level-0 tile and bundle as tessera's at this size. */
                snprintf(rel, sizeof(rel), "tile/0/000.p/%llu", (unsigned long long)n);
                read_shared(shared, rel, &f);
                t.len = 0;
                assert_int_equal(vt_log_tile(log, 0, 0, (unsigned)n, &t, NULL), 0);
                assert_int_equal(f.len, t.len);
                assert_memory_equal(f.p, t.p, t.len);
                snprintf(rel, sizeof(rel), "tile/entries/000.p/%llu", (unsigned long long)n);
                read_shared(shared, rel, &f);
                t.len = 0;
                assert_int_equal(vt_log_tile(log, -1, 0, (unsigned)n, &t, NULL), 0);
                assert_int_equal(f.len, t.len);
                assert_memory_equal(f.p, t.p, t.len);
                /* Same root as tessera's checkpoint of this size. */
                snprintf(rel, sizeof(rel), "checkpoint.%llu", (unsigned long long)n);
                read_shared(shared, rel, &f);
                {
                        uint8_t *blank = (uint8_t *)strstr((char *)f.p, "\n\n");

                        assert_non_null(blank);
                        assert_int_equal(
                            vt_encoding_checkpoint_parse(f.p, (size_t)(blank - f.p) + 1, &c, NULL),
                            0);
                }
                assert_int_equal(c.size, n);
                assert_int_equal(vt_log_tree_hash(log, n, &root, NULL), 0);
                assert_hash_equal(&root, &c.root);
        }
        assert_int_equal(n, 15);
        /* The exported tile names are tessera's (its checkpoint.N files aside). */
        sub(out, sizeof(out), dir, "out");
        assert_int_equal(vt_log_export(log, out, NULL, NULL), 0);
        snprintf(
            cmd, sizeof(cmd),
            "cd '%s/vectors/tessera-log' && find tile -type f | sort > '%s/want' && cd '%s' && "
            "find tile -type f | sort > '%s/got' && cmp -s '%s/want' '%s/got'",
            shared, dir, out, dir, dir, dir);
        rc = system(cmd);
        assert_int_equal(rc, 0);
        vt_buf_release(&bundle);
        vt_buf_release(&f);
        vt_buf_release(&t);
        vt_log_close(log);
        vt_test_tmpdir_free(dir);
}

/* Out-of-range requests are errors, not crashes. */
static void read_ranges(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        struct vt_hash proof[VT_LOG_PROOF_MAX], h;
        struct vt_buf b;
        size_t n = 0;
        struct vt_diag d = {""};

        (void)state;
        append_gen(log, &r, 10, 10);
        vt_buf_init(&b);
        assert_int_equal(vt_log_prove_inclusion(log, 10, 10, proof, &n, &d), VT_ERANGE);
        assert_int_equal(vt_log_prove_inclusion(log, 0, 11, proof, &n, &d), VT_ERANGE);
        assert_int_equal(vt_log_prove_consistency(log, 5, 4, proof, &n, &d), VT_ERANGE);
        assert_int_equal(vt_log_prove_consistency(log, 5, 11, proof, &n, &d), VT_ERANGE);
        assert_int_equal(vt_log_tree_hash(log, 11, &h, &d), VT_ERANGE);
        assert_int_equal(vt_log_entry(log, 10, &b, &d), VT_ERANGE);
        assert_int_equal(vt_log_tile(log, 0, 0, 0, &b, &d), VT_EINVAL);
        assert_int_equal(vt_log_tile(log, 0, 0, 257, &b, &d), VT_EINVAL);
        assert_int_equal(vt_log_tile(log, -2, 0, 1, &b, &d), VT_EINVAL);
        assert_int_equal(vt_log_tile(log, 0, 0, 11, &b, &d), VT_ENOENT);
        assert_int_equal(vt_log_tile(log, 0, 1, 1, &b, &d), VT_ENOENT);
        assert_int_equal(vt_log_checkpoint_at(log, 7, &b, &d), VT_ENOENT);
        assert_int_equal(vt_log_checkpoint_at(log, 10, &b, &d), 0);
        assert_int_equal(b.len > 0, 1);
        /* size 0 means the current size */
        check_inclusion(log, &r, 3, 10);
        assert_int_equal(vt_log_prove_inclusion(log, 3, 0, proof, &n, &d), 0);
        vt_buf_release(&b);
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/*
 * vt_log_prove_inclusion_many(log, size, idx, k) gives, proof by proof and
 * byte for byte, what vt_log_prove_inclusion() gives for each index alone,
 * appended after what paths held.
 */
static void check_many(struct vt_log *log, uint64_t size, const uint64_t *idx, size_t k)
{
        struct vt_hash want[VT_LOG_PROOF_MAX];
        struct vt_buf paths;
        size_t *lens = calloc(k + 1, sizeof(*lens)), i, wlen, at = 3;
        struct vt_diag d = {""};

        assert_non_null(lens);
        vt_buf_init(&paths);
        assert_int_equal(vt_buf_append(&paths, "abc", 3), 0);
        if (vt_log_prove_inclusion_many(log, size, idx, k, &paths, lens, &d) != 0)
                fail_msg("many in %llu: %s", (unsigned long long)size, d.msg);
        assert_memory_equal(paths.p, "abc", 3);
        for (i = 0; i < k; i++) {
                if (vt_log_prove_inclusion(log, idx[i], size, want, &wlen, &d) != 0)
                        fail_msg("inclusion %llu in %llu: %s", (unsigned long long)idx[i],
                                 (unsigned long long)size, d.msg);
                if (lens[i] != wlen || at + wlen * 32 > paths.len ||
                    memcmp(paths.p + at, want, wlen * 32) != 0)
                        fail_msg("many: the proof of %llu in %llu (#%zu of %zu) differs",
                                 (unsigned long long)idx[i], (unsigned long long)size, i, k);
                at += wlen * 32;
        }
        assert_int_equal(at, paths.len);
        assert_int_equal(paths.p[paths.len], '\0');
        vt_buf_release(&paths);
        free(lens);
}

/*
 * Many proofs of one size at once, against one at a time, at sizes across
 * three tile levels (1, powers of two and their neighbours, partial and full
 * 256-tiles, past 65536): every index of small trees; runs of 64
 * consecutive indexes at the start, the end, across the middle and across
 * tile boundaries; spread indexes; runs shuffled and with repeats.
 */
static void prove_many(void **state)
{
        static const uint64_t sizes[] = {
            1,    2,    3,     4,     5,     7,     8,     9,     15,    16,   17,   63,
            64,   65,   255,   256,   257,   300,   511,   512,   513,   1000, 1024, 4095,
            4096, 4097, 65535, 65536, 65537, 65792, 66000, 66100, 66235, 66236};
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        uint64_t idx[600], n, x = 88172645463325252ull, t;
        size_t s, k, i, j;

        (void)state;
        append_gen(log, &r, 66236, 4096);
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                n = sizes[s];
                if (n <= 600) {
                        for (k = 0; k < n; k++)
                                idx[k] = k;
                        check_many(log, n, idx, k);
                }
                /* Runs of 64: the start, the end, the middle, across the tiles below n. */
                for (t = 0; t < 5; t++) {
                        uint64_t from = t == 0   ? 0
                                        : t == 1 ? (n > 64 ? n - 64 : 0)
                                        : t == 2 ? n / 2 - (n / 2 > 32 ? 32 : n / 2)
                                        : t == 3 ? (n > 300 ? 224 : 0)
                                                 : (n > 65600 ? 65536 - 32 : 0);

                        for (k = 0; k < 64 && from + k < n; k++)
                                idx[k] = from + k;
                        check_many(log, n, idx, k);
                        /* The same run shuffled, with repeats. */
                        for (i = k; i > 1; i--) {
                                uint64_t v;

                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                j = (size_t)(x % i);
                                v = idx[i - 1];
                                idx[i - 1] = idx[j];
                                idx[j] = v;
                        }
                        for (i = 0; i < k / 4; i++)
                                idx[k + i] = idx[i * 3 % k];
                        check_many(log, n, idx, k + k / 4);
                }
                /* Spread, and the two ends alone. */
                for (k = 0; k < 50; k++)
                        idx[k] = n * k / 50;
                check_many(log, n, idx, k);
                idx[0] = n - 1;
                check_many(log, n, idx, 1);
                idx[0] = 0;
                check_many(log, n, idx, 1);
        }
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/* vt_log_prove_inclusion_many() refuses what vt_log_prove_inclusion() refuses, changing nothing. */
static void prove_many_errors(void **state)
{
        char *dir = vt_test_tmpdir_new("log");
        struct vt_log *log = new_log(dir);
        struct ref r = {0};
        uint64_t idx[3] = {1, 9, 3};
        size_t lens[3] = {77, 77, 77};
        struct vt_buf paths;
        struct vt_diag d = {""};

        (void)state;
        append_gen(log, &r, 10, 10);
        vt_buf_init(&paths);
        assert_int_equal(vt_buf_append(&paths, "abc", 3), 0);
        assert_int_equal(vt_log_prove_inclusion_many(log, 9, idx, 3, &paths, lens, &d), VT_ERANGE);
        assert_non_null(strstr(d.msg, "index 9 is not in a tree of size 9"));
        assert_int_equal(vt_log_prove_inclusion_many(log, 11, idx, 3, &paths, lens, &d), VT_ERANGE);
        assert_int_equal(paths.len, 3);
        assert_int_equal(lens[0], 77);
        assert_int_equal(lens[2], 77);
        /* Nothing to prove: nothing appended. */
        assert_int_equal(vt_log_prove_inclusion_many(log, 10, idx, 0, &paths, lens, &d), 0);
        assert_int_equal(paths.len, 3);
        /* Size 0 is the log's size. */
        assert_int_equal(vt_log_prove_inclusion_many(log, 0, idx, 3, &paths, lens, &d), 0);
        assert_int_equal(lens[0], vt_merkle_inclusion_proof_len(1, 10));
        assert_int_equal(lens[1], vt_merkle_inclusion_proof_len(9, 10));
        check_many(log, 10, idx, 3);
        vt_buf_release(&paths);
        vt_log_close(log);
        free(r.h);
        vt_test_tmpdir_free(dir);
}

/* argv[1], if given, selects tests by name (cmocka pattern: '*' and '?'). */
int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(init_and_open),
            cmocka_unit_test(append_one_by_one),
            cmocka_unit_test(batches_cross_tiles),
            cmocka_unit_test(entry_limits),
            cmocka_unit_test(group_commit_threads),
            cmocka_unit_test(pipelined_appends_with_failures),
            cmocka_unit_test(group_commit_linger),
            cmocka_unit_test(stream_turns),
            cmocka_unit_test(stream_in_order),
            cmocka_unit_test(stream_stops_after_failure),
            cmocka_unit_test(stream_store_faults),
            cmocka_unit_test(audit_tampered_tile),
            cmocka_unit_test(audit_tampered_bundle),
            cmocka_unit_test(audit_tampered_checkpoint),
            cmocka_unit_test(wrong_key_file),
            cmocka_unit_test(two_writers),
            cmocka_unit_test(fault_every_write),
            cmocka_unit_test(export_tree),
            cmocka_unit_test(tessera_same_tree),
            cmocka_unit_test(read_ranges),
            cmocka_unit_test(prove_many),
            cmocka_unit_test(prove_many_errors),
        };

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
