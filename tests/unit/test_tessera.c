/*
 * test_tessera.c: verify a static C2SP tlog-tiles log written by another
 * implementation: the 15-entry test log of github.com/transparency-dev/tessera
 * (testdata/log/), published under $VT_SHARED/vectors/tessera-log/ and read
 * in place (never copied into the repository).
 *
 * For every size 0..15: checkpoint.N opens with the log's verifier key (the
 * Ed25519 signature verifies, the origin is the key name) and its root is the
 * RFC 9162 Merkle tree hash of the first N entries of the entry bundles
 * (tile/entries/000.p/W: each entry behind a 2-byte big-endian length); the
 * level-0 tiles (tile/0/000.p/W) hold exactly the leaf hashes; and the roots
 * computed by the merkle module through a tile reader over the directory
 * agree. A tampered copy of a checkpoint, in a temporary directory, fails.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "vt_test.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/merkle.h"

#define TESSERA_VKEY                                                                               \
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
#define TESSERA_ORIGIN "example.com/log/testdata"
#define NMAX           15

struct tessera {
        char dir[4096];
        struct vt_encoding_note_verifier *v;
        size_t nentries;
        struct vt_buf entries[NMAX]; /* the entries of bundle 000.p/15 */
        struct vt_hash leaves[NMAX];
};

/* read_rel(dir, rel, out): the bytes of dir/rel; fails the test when absent. */
static void read_rel(const char *dir, const char *rel, struct vt_buf *out)
{
        char path[4200];
        struct vt_diag d = {{0}};

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        vt_buf_release(out); /* vt_util_read_file() replaces out, it does not append */
        if (vt_util_read_file(path, 1 << 20, out, &d) != 0)
                fail_msg("%s", d.msg);
}

/*
 * bundle_split(p, n, out, max): the entries of an entry bundle, parsed by
 * hand (tlog-tiles "Log entries": uint16 big-endian length, then the bytes),
 * independently of the merkle module's bundle iterator. Returns the count.
 */
static size_t bundle_split(const uint8_t *p, size_t n, struct vt_buf *out, size_t max)
{
        size_t off = 0, k = 0;

        while (off < n) {
                size_t len;

                assert_true(off + 2 <= n);
                len = (size_t)p[off] << 8 | p[off + 1];
                off += 2;
                assert_true(off + len <= n);
                assert_true(k < max);
                out[k].len = 0;
                assert_int_equal(vt_buf_append(&out[k], p + off, len), 0);
                off += len;
                k++;
        }
        return k;
}

/* mth(leaves, n, out): RFC 9162 §2.1.1 Merkle Tree Hash, the naive recursion. */
static void mth(const struct vt_hash *leaves, size_t n, struct vt_hash *out)
{
        struct vt_hash l, r;
        struct vt_span parts[3];
        uint8_t one = 0x01;
        size_t k = 1;

        if (n == 0) {
                vt_crypto_sha256(NULL, 0, out);
                return;
        }
        if (n == 1) {
                *out = leaves[0];
                return;
        }
        while (k * 2 < n)
                k *= 2;
        mth(leaves, k, &l);
        mth(leaves + k, n - k, &r);
        parts[0].p = &one, parts[0].len = 1;
        parts[1].p = l.b, parts[1].len = 32;
        parts[2].p = r.b, parts[2].len = 32;
        vt_crypto_sha256_v(parts, 3, out);
}

static int setup(void **state)
{
        const char *shared = vt_test_shared();
        struct tessera *t;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        size_t i;

        if (shared == NULL) {
                *state = NULL;
                return 0;
        }
        t = calloc(1, sizeof(*t));
        assert_non_null(t);
        snprintf(t->dir, sizeof(t->dir), "%s/vectors/tessera-log", shared);
        if (vt_encoding_note_verifier_parse(TESSERA_VKEY, strlen(TESSERA_VKEY), &t->v, &d) != 0)
                fail_msg("%s", d.msg);
        for (i = 0; i < NMAX; i++)
                vt_buf_init(&t->entries[i]);
        vt_buf_init(&b);
        read_rel(t->dir, "tile/entries/000.p/15", &b);
        t->nentries = bundle_split(b.p, b.len, t->entries, NMAX);
        assert_int_equal(t->nentries, NMAX);
        for (i = 0; i < NMAX; i++) {
                /* RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 || entry). */
                uint8_t zero = 0x00;
                struct vt_span parts[2] = {{&zero, 1}, {t->entries[i].p, t->entries[i].len}};
                struct vt_hash h;

                vt_crypto_sha256_v(parts, 2, &t->leaves[i]);
                vt_merkle_leaf_hash(t->entries[i].p, t->entries[i].len, &h);
                assert_memory_equal(h.b, t->leaves[i].b, 32);
        }
        vt_buf_release(&b);
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        struct tessera *t = *state;
        size_t i;

        if (t == NULL)
                return 0;
        for (i = 0; i < NMAX; i++)
                vt_buf_release(&t->entries[i]);
        vt_encoding_note_verifier_free(t->v);
        free(t);
        return 0;
}

static struct tessera *need(void **state)
{
        const char *shared;

        VT_TEST_NEED_SHARED(shared);
        (void)shared;
        assert_non_null(*state);
        return *state;
}

/* Every checkpoint.N verifies, and its root is the tree hash of N entries. */
static void test_tessera_checkpoints(void **state)
{
        struct tessera *t = need(state);
        struct vt_buf b;
        struct vt_diag d = {{0}};
        struct vt_encoding_checkpoint c, latest;
        struct vt_hash want, ref;
        char rel[64];
        size_t n;

        vt_buf_init(&b);
        for (n = 0; n <= NMAX; n++) {
                snprintf(rel, sizeof(rel), "checkpoint.%zu", n);
                read_rel(t->dir, rel, &b);
                if (vt_encoding_checkpoint_open(b.p, b.len, t->v, &c, &d) != 0)
                        fail_msg("%s: %s", rel, d.msg);
                assert_string_equal(c.origin, TESSERA_ORIGIN);
                assert_int_equal(c.size, n);
                assert_int_equal(c.ext_len, 0);
                mth(t->leaves, n, &want);
                vt_merkle_root_from_leaf_hashes(t->leaves, n, &ref);
                assert_memory_equal(ref.b, want.b, 32);
                if (memcmp(c.root.b, want.b, 32) != 0)
                        fail_msg("%s: root does not match the entries", rel);
        }
        /* The current checkpoint is the size-15 one. */
        read_rel(t->dir, "checkpoint", &b);
        assert_int_equal(vt_encoding_checkpoint_open(b.p, b.len, t->v, &latest, &d), 0);
        assert_int_equal(latest.size, NMAX);
        assert_memory_equal(latest.root.b, c.root.b, 32);
        vt_buf_release(&b);
}

/* Partial bundles are prefixes of the last one; level-0 tiles hold the leaf hashes. */
static void test_tessera_bundles_and_tiles(void **state)
{
        struct tessera *t = need(state);
        struct vt_buf b, e[NMAX];
        struct vt_diag d = {{0}};
        char rel[64];
        size_t w, i, k;

        vt_buf_init(&b);
        for (i = 0; i < NMAX; i++)
                vt_buf_init(&e[i]);
        for (w = 1; w <= NMAX; w++) {
                snprintf(rel, sizeof(rel), "tile/entries/000.p/%zu", w);
                read_rel(t->dir, rel, &b);
                k = bundle_split(b.p, b.len, e, NMAX);
                assert_int_equal(k, w);
                for (i = 0; i < k; i++) {
                        assert_int_equal(e[i].len, t->entries[i].len);
                        assert_memory_equal(e[i].p, t->entries[i].p, e[i].len);
                }
                /* The merkle module agrees that the bundle matches the leaf hashes. */
                if (vt_merkle_bundle_check(b.p, b.len, (unsigned)w, t->leaves, &d) != 0)
                        fail_msg("%s: %s", rel, d.msg);

                snprintf(rel, sizeof(rel), "tile/0/000.p/%zu", w);
                read_rel(t->dir, rel, &b);
                assert_int_equal(b.len, 32 * w);
                for (i = 0; i < w; i++)
                        if (memcmp(b.p + 32 * i, t->leaves[i].b, 32) != 0)
                                fail_msg("%s: hash %zu is not the leaf hash of entry %zu", rel, i,
                                         i);
        }
        for (i = 0; i < NMAX; i++)
                vt_buf_release(&e[i]);
        vt_buf_release(&b);
}

/* fetch_tile: a vt_merkle_tile_fetch_fn over the directory. */
static int fetch_tile(void *ctx, const struct vt_merkle_tile *tile, uint8_t *buf, size_t *len)
{
        const struct tessera *t = ctx;
        char rel[VT_MERKLE_TILE_PATH_MAX], path[4200];
        struct vt_buf b;
        int err;

        if (vt_merkle_tile_path(tile, rel, sizeof(rel)) == 0)
                return VT_EINVAL;
        snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
        vt_buf_init(&b);
        err = vt_util_read_file(path, VT_MERKLE_TILE_BYTES, &b, NULL);
        if (err == 0) {
                memcpy(buf, b.p, b.len);
                *len = b.len;
        }
        vt_buf_release(&b);
        return err;
}

/* The merkle module, reading the tiles from the directory, finds the signed roots. */
static void test_tessera_tile_reader(void **state)
{
        struct tessera *t = need(state);
        struct vt_merkle_tile_reader *r = malloc(sizeof(*r));
        struct vt_buf b;
        struct vt_diag d = {{0}};
        struct vt_encoding_checkpoint c;
        struct vt_hash root;
        char rel[64];
        uint64_t n;
        int err;

        assert_non_null(r);
        vt_buf_init(&b);
        for (n = 1; n <= NMAX; n++) {
                snprintf(rel, sizeof(rel), "checkpoint.%llu", (unsigned long long)n);
                read_rel(t->dir, rel, &b);
                assert_int_equal(vt_encoding_checkpoint_open(b.p, b.len, t->v, &c, &d), 0);
                vt_merkle_tile_reader_init(r, n, fetch_tile, t);
                if ((err = vt_merkle_tree_hash(n, vt_merkle_tile_reader_read, r, &root)) != 0)
                        fail_msg("size %llu: tree hash from tiles: %s", (unsigned long long)n,
                                 vt_strerror(err));
                assert_memory_equal(root.b, c.root.b, 32);
        }
        vt_buf_release(&b);
        free(r);
}

/* A copy of checkpoint.7 with one byte changed, in a temporary directory, fails. */
static void test_tessera_tampered(void **state)
{
        struct tessera *t = need(state);
        char tmpl[] = "/tmp/vt-tessera-XXXXXX", path[64];
        struct vt_buf orig, b;
        struct vt_diag d = {{0}};
        struct vt_encoding_checkpoint c;
        size_t i, nl, body;
        int err;

        assert_non_null(mkdtemp(tmpl));
        snprintf(path, sizeof(path), "%s/checkpoint", tmpl);
        vt_buf_init(&orig);
        vt_buf_init(&b);
        read_rel(t->dir, "checkpoint.7", &orig);
        body = (size_t)((uint8_t *)strstr((char *)orig.p, "\n\n") - orig.p) + 1;

        /* Every byte of the body, changed in turn, written out and read back. */
        for (i = 0; i < body; i++) {
                orig.p[i] ^= 0x01;
                assert_int_equal(vt_util_write_file(path, orig.p, orig.len, 0644, &d), 0);
                read_rel(tmpl, "checkpoint", &b);
                err = vt_encoding_checkpoint_open(b.p, b.len, t->v, &c, &d);
                /*
                 * A newline turned into 0x0b breaks the note's format; any other
                 * change is caught by the signature, checked before the body is.
                 */
                if (err != (orig.p[i] == ('\n' ^ 0x01) ? VT_EMALFORMED : VT_EBADSIG))
                        fail_msg("byte %zu flipped: got %s (%s)", i, vt_strerror(err), d.msg);
                orig.p[i] ^= 0x01;
        }
        /* The size line claims 8 entries: bad signature. */
        nl = strlen(TESSERA_ORIGIN) + 1;
        assert_int_equal(orig.p[nl], '7');
        orig.p[nl] = '8';
        assert_int_equal(vt_util_write_file(path, orig.p, orig.len, 0644, &d), 0);
        read_rel(tmpl, "checkpoint", &b);
        assert_int_equal(vt_encoding_checkpoint_open(b.p, b.len, t->v, &c, &d), VT_EBADSIG);
        orig.p[nl] = '7';
        /* The untouched copy still opens. */
        assert_int_equal(vt_util_write_file(path, orig.p, orig.len, 0644, &d), 0);
        read_rel(tmpl, "checkpoint", &b);
        assert_int_equal(vt_encoding_checkpoint_open(b.p, b.len, t->v, &c, &d), 0);
        assert_int_equal(c.size, 7);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(tmpl), 0);
        vt_buf_release(&orig);
        vt_buf_release(&b);
}

/* The log's key opens nothing signed by another key of the same name. */
static void test_tessera_wrong_key(void **state)
{
        struct tessera *t = need(state);
        struct vt_crypto_key *k = NULL;
        struct vt_encoding_note_verifier *other = NULL;
        struct vt_encoding_checkpoint c;
        struct vt_buf b;
        struct vt_diag d = {{0}};

        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &k, NULL), 0);
        assert_int_equal(
            vt_encoding_note_verifier_new(TESSERA_ORIGIN, VT_ENCODING_NOTE_ED25519, k, &other, &d),
            0);
        vt_buf_init(&b);
        read_rel(t->dir, "checkpoint.15", &b);
        assert_int_equal(vt_encoding_checkpoint_open(b.p, b.len, other, &c, &d), VT_EUNKNOWNKEY);
        vt_buf_release(&b);
        vt_encoding_note_verifier_free(other);
        vt_crypto_key_free(k);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tessera_checkpoints),
            cmocka_unit_test(test_tessera_bundles_and_tiles),
            cmocka_unit_test(test_tessera_tile_reader),
            cmocka_unit_test(test_tessera_tampered),
            cmocka_unit_test(test_tessera_wrong_key),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
