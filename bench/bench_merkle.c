/*
 * bench_merkle.c: the merkle module at 1M entries, each figure beside the
 * SHA-256 limit measured in the same run (DESIGN.md §5: an inclusion-proof
 * check must cost <= 1.2x the SHA-256 calls it needs).
 *
 *   - SHA-256 of 65 bytes (vt_crypto_sha256, what a node hash costs);
 *   - inclusion proof generation from stored hashes in memory, and from
 *     tiles in memory through vt_merkle_tile_reader;
 *   - inclusion proof check, against (SHA-256 rate / hashes per check), and
 *     the ratio "check cost / cost of its SHA-256 calls" as the median of
 *     paired batches (robust on a busy machine);
 *   - consistency proof check, likewise;
 *   - appending leaves through a frontier (the sequencer's hot path);
 *   - tree overhead in bytes per entry: flat stored hashes, and tiles.
 *
 * VT_BENCH_SECONDS sets the time per figure (default 1); each figure is the
 * best of several short rounds, interleaved with rounds of SHA-256.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "veritrail/crypto.h"
#include "veritrail/merkle.h"

#define N       1000000ull /* leaves */
#define NPROOFS 256 /* distinct proofs checked in turn (512 KiB: in cache, as a fresh proof is) */

struct flat {
        struct vt_hash *h;
        int64_t n;
};

static int flat_read(void *ctx, const int64_t *idx, size_t n, struct vt_hash *out)
{
        struct flat *f = ctx;
        size_t i;

        for (i = 0; i < n; i++) {
                if (idx[i] < 0 || idx[i] >= f->n)
                        return VT_ENOENT;
                out[i] = f->h[idx[i]];
        }
        return 0;
}

/* All tiles of the tree, in memory: tiles[level][n], each VT_MERKLE_TILE_BYTES. */
struct tiles {
        uint8_t *data[8];
        uint64_t count[8];
        size_t bytes;
};

static int tiles_fetch(void *ctx, const struct vt_merkle_tile *t, uint8_t *buf, size_t *len)
{
        struct tiles *ts = ctx;

        if (t->level < 0 || t->level >= 8 || t->n >= ts->count[t->level])
                return VT_ENOENT;
        memcpy(buf, ts->data[t->level] + t->n * VT_MERKLE_TILE_BYTES, t->width * 32u);
        *len = t->width * 32u;
        return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        return rng_state >> 11;
}

static void die(const char *what, int err)
{
        fprintf(stderr, "bench_merkle: %s: %s\n", what, vt_strerror(err));
        exit(1);
}

/*
 * Timing: each figure is the best of ROUNDS short rounds, and each round of
 * a figure that has a SHA-256 limit runs right after a round of SHA-256, so
 * both see the same machine (other processes, frequency) and the ratio is
 * not skewed by noise between them.
 */
#define ROUNDS 7

typedef void (*op_fn)(void *ctx, uint64_t *ops);

/* ops/s of one round of about secs seconds. */
static double round_rate(op_fn f, void *ctx, double secs)
{
        double t0 = bench_now(), t;
        uint64_t ops = 0;

        do
                f(ctx, &ops);
        while ((t = bench_now()) - t0 < secs);
        return (double)ops / (t - t0);
}

static uint8_t sha_buf[65];

static void op_sha(void *ctx, uint64_t *ops)
{
        struct vt_hash h;
        size_t j;

        (void)ctx;
        for (j = 0; j < 1000; j++) {
                vt_crypto_sha256(sha_buf, sizeof(sha_buf), &h);
                sha_buf[1 + j % 64] ^= h.b[0];
        }
        *ops += 1000;
}

static void sha_n(uint64_t n)
{
        struct vt_hash h;
        uint64_t j;

        for (j = 0; j < n; j++) {
                vt_crypto_sha256(sha_buf, sizeof(sha_buf), &h);
                sha_buf[1 + j % 64] ^= h.b[0];
        }
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/*
 * The cost of f's operations over the cost of the SHA-256 calls they need
 * (hashes per operation): many pairs of short batches, one of f and one of
 * exactly as many SHA-256 calls of 65 bytes right after it, and the median
 * of the per-pair ratios, which a busy machine does not skew the way it
 * skews two separate rates.
 */
static double paired_ratio(op_fn f, void *ctx, double hashes, double secs)
{
        static double r[200000];
        double t0 = bench_now(), a, b, c;
        size_t n = 0;

        do {
                uint64_t ops = 0;

                a = bench_now();
                f(ctx, &ops);
                b = bench_now();
                sha_n((uint64_t)((double)ops * hashes + 0.5));
                c = bench_now();
                r[n++] = (b - a) / (c - b);
        } while (c - t0 < secs && n < sizeof(r) / sizeof(r[0]));
        qsort(r, n, sizeof(r[0]), cmp_double);
        return r[n / 2];
}

/* The best rate of f and the best SHA-256 rate of 65 bytes, rounds interleaved. */
static void measure(op_fn f, void *ctx, double secs, double *rate, double *sha)
{
        int i;

        *rate = 0;
        *sha = 0;
        for (i = 0; i < ROUNDS; i++) {
                double a = round_rate(op_sha, NULL, secs / ROUNDS / 2);
                double b = round_rate(f, ctx, secs / ROUNDS);

                *sha = a > *sha ? a : *sha;
                *rate = b > *rate ? b : *rate;
        }
}

/* Everything the measured operations share. */
struct bench {
        struct flat f;
        struct tiles ts;
        struct vt_merkle_tile_reader tr;
        struct vt_hash root;
        struct vt_hash proofs[NPROOFS][VT_MERKLE_MAX_PROOF], leaves[NPROOFS], old_roots[NPROOFS];
        uint64_t idx[NPROOFS], olds[NPROOFS];
        size_t lens[NPROOFS];
        size_t next; /* rotating position in the proof set */
};

static void op_prove_flat(void *ctx, uint64_t *ops)
{
        struct bench *b = ctx;
        struct vt_hash p[VT_MERKLE_MAX_PROOF];
        size_t j, len;
        int err;

        for (j = 0; j < 256; j++, b->next = (b->next + 1) % NPROOFS)
                if ((err = vt_merkle_prove_inclusion(N, b->idx[b->next], flat_read, &b->f, p,
                                                     &len)) != 0)
                        die("prove", err);
        *ops += 256;
}

static void op_prove_tiles(void *ctx, uint64_t *ops)
{
        struct bench *b = ctx;
        struct vt_hash p[VT_MERKLE_MAX_PROOF];
        size_t j, len;
        int err;

        for (j = 0; j < 16; j++, b->next = (b->next + 1) % NPROOFS) {
                if ((err = vt_merkle_prove_inclusion(N, b->idx[b->next], vt_merkle_tile_reader_read,
                                                     &b->tr, p, &len)) != 0)
                        die("prove from tiles", err);
                if (len != b->lens[b->next] ||
                    memcmp(p, b->proofs[b->next], len * sizeof(p[0])) != 0)
                        die("proof from tiles differs", VT_EINTERNAL);
        }
        *ops += 16;
}

static void op_check_inclusion(void *ctx, uint64_t *ops)
{
        struct bench *b = ctx;
        size_t j, k;
        int err;

        for (j = 0; j < 256; j++, b->next = (b->next + 1) % NPROOFS) {
                k = b->next;
                if ((err = vt_merkle_check_inclusion(b->proofs[k], b->lens[k], N, &b->root,
                                                     b->idx[k], &b->leaves[k])) != 0)
                        die("check", err);
        }
        *ops += 256;
}

static void op_check_consistency(void *ctx, uint64_t *ops)
{
        struct bench *b = ctx;
        size_t j, k;
        int err;

        for (j = 0; j < 256; j++, b->next = (b->next + 1) % NPROOFS) {
                k = b->next;
                if ((err = vt_merkle_check_consistency(b->proofs[k], b->lens[k], b->olds[k], N,
                                                       &b->old_roots[k], &b->root)) != 0)
                        die("check consistency", err);
        }
        *ops += 256;
}

struct append_ctx {
        struct vt_merkle_frontier fr;
        uint64_t i;
};

static void op_append(void *ctx, uint64_t *ops)
{
        struct append_ctx *a = ctx;
        struct vt_hash h, out[VT_MERKLE_MAX_NEW_HASHES];
        uint8_t leaf[32] = {0};
        size_t j, len;
        int err;

        for (j = 0; j < 1000; j++, a->i++) {
                memcpy(leaf, &a->i, sizeof(a->i));
                vt_merkle_leaf_hash(leaf, sizeof(leaf), &h);
                if ((err = vt_merkle_frontier_append(&a->fr, &h, out, &len)) != 0)
                        die("append", err);
        }
        *ops += 1000;
}

/* How many node hashes a consistency check of (old, new) computes (RFC 9162 §2.1.4.2). */
static unsigned consistency_hashes(uint64_t old_size, uint64_t new_size, size_t len)
{
        uint64_t fn = old_size - 1, sn = new_size - 1;
        size_t k = (old_size & (old_size - 1)) == 0 ? 0 : 1;
        unsigned calls = 0;

        while (fn & 1) {
                fn >>= 1;
                sn >>= 1;
        }
        for (; k < len; k++) {
                if ((fn & 1) || fn == sn) {
                        calls += 2; /* both roots */
                        while (!(fn & 1) && fn != 0) {
                                fn >>= 1;
                                sn >>= 1;
                        }
                } else {
                        calls += 1; /* the new root only */
                }
                fn >>= 1;
                sn >>= 1;
        }
        return calls;
}

int main(void)
{
        static struct bench b;
        static struct append_ctx ap;
        struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], h;
        struct vt_merkle_frontier fr;
        uint8_t leafbuf[32];
        double secs = bench_seconds(), rate, sha, hashes;
        uint64_t i, total;
        size_t c, j, len;
        int err;

        printf("merkle: tree of %llu leaves, best of %d rounds, %.1f s per figure\n",
               (unsigned long long)N, ROUNDS, secs);
        memset(sha_buf, 0x5c, sizeof(sha_buf));

        /* Appending through a frontier: one leaf hash and on average one node hash each. */
        vt_merkle_frontier_init(&ap.fr);
        measure(op_append, &ap, secs, &rate, &sha);
        bench_report("sha256 of 65 bytes (vt_crypto_sha256)", sha, "hash/s", 0, "");
        bench_report("append leaf (leaf hash + frontier)", rate, "leaf/s", sha / 2,
                     "sha256 rate / 2 hashes per append");

        /* The flat store of 1M leaves (stored hashes in append order). */
        b.f.n = vt_merkle_stored_count(N);
        b.f.h = malloc((size_t)b.f.n * sizeof(*b.f.h));
        if (b.f.h == NULL)
                die("allocating the store", VT_ENOMEM);
        vt_merkle_frontier_init(&fr);
        for (i = 0, c = 0; i < N; i++) {
                memset(leafbuf, 0, sizeof(leafbuf));
                memcpy(leafbuf, &i, sizeof(i));
                vt_merkle_leaf_hash(leafbuf, sizeof(leafbuf), &h);
                if ((err = vt_merkle_frontier_append(&fr, &h, out, &len)) != 0)
                        die("append", err);
                memcpy(b.f.h + c, out, len * sizeof(out[0]));
                c += len;
        }
        if ((int64_t)c != b.f.n)
                die("stored count", VT_EINTERNAL);
        vt_merkle_frontier_root(&fr, &b.root);
        if ((err = vt_merkle_tree_hash(N, flat_read, &b.f, &h)) != 0 ||
            memcmp(h.b, b.root.b, 32) != 0)
                die("tree hash", err ? err : VT_EINTERNAL);

        /* All tiles of the tree, built from the flat store. */
        for (j = 0; j < 8; j++) {
                unsigned partial;
                uint64_t full = vt_merkle_tile_count(N, (int)j, &partial), k;

                b.ts.count[j] = full + (partial ? 1 : 0);
                if (b.ts.count[j] == 0)
                        continue;
                b.ts.data[j] = malloc(b.ts.count[j] * VT_MERKLE_TILE_BYTES);
                if (b.ts.data[j] == NULL)
                        die("allocating tiles", VT_ENOMEM);
                for (k = 0; k < b.ts.count[j]; k++) {
                        struct vt_merkle_tile tl = {(int)j, k,
                                                    k < full ? VT_MERKLE_TILE_WIDTH : partial};
                        struct vt_hash th[VT_MERKLE_TILE_WIDTH];

                        if ((err = vt_merkle_tile_build(&tl, flat_read, &b.f, th)) != 0)
                                die("tile build", err);
                        memcpy(b.ts.data[j] + k * VT_MERKLE_TILE_BYTES, th, tl.width * 32u);
                        b.ts.bytes += tl.width * 32u;
                }
        }

        /* Inclusion proofs of random leaves. */
        total = 0;
        for (j = 0; j < NPROOFS; j++) {
                b.idx[j] = rng() % N;
                b.leaves[j] = b.f.h[vt_merkle_stored_index(0, b.idx[j])];
                if ((err = vt_merkle_prove_inclusion(N, b.idx[j], flat_read, &b.f, b.proofs[j],
                                                     &b.lens[j])) != 0)
                        die("prove", err);
                total += b.lens[j];
        }
        measure(op_prove_flat, &b, secs, &rate, &sha);
        bench_report("inclusion proof generation (flat store)", rate, "proof/s", 0, "");
        vt_merkle_tile_reader_init(&b.tr, N, tiles_fetch, &b.ts);
        measure(op_prove_tiles, &b, secs, &rate, &sha);
        bench_report("inclusion proof generation (tiles in memory)", rate, "proof/s", 0, "");

        hashes = (double)total / NPROOFS;
        printf("inclusion proofs at size %llu: %.2f hashes per check\n", (unsigned long long)N,
               hashes);
        measure(op_check_inclusion, &b, secs, &rate, &sha);
        bench_report("sha256 of 65 bytes (same rounds)", sha, "hash/s", 0, "");
        bench_report("inclusion proof check", rate, "check/s", sha / hashes,
                     "sha256 rate / hashes per check");
        printf("%-44s %12.3f (target <= 1.2)\n", "inclusion check cost / its SHA-256 calls",
               paired_ratio(op_check_inclusion, &b, hashes, secs));

        /* Consistency proofs from random old sizes to 1M. */
        total = 0;
        for (j = 0; j < NPROOFS; j++) {
                b.olds[j] = 1 + rng() % (N - 1);
                if ((err = vt_merkle_tree_hash(b.olds[j], flat_read, &b.f, &b.old_roots[j])) != 0 ||
                    (err = vt_merkle_prove_consistency(b.olds[j], N, flat_read, &b.f, b.proofs[j],
                                                       &b.lens[j])) != 0)
                        die("prove consistency", err);
                total += consistency_hashes(b.olds[j], N, b.lens[j]);
        }
        hashes = (double)total / NPROOFS;
        printf("consistency proofs to size %llu: %.2f hashes per check\n", (unsigned long long)N,
               hashes);
        measure(op_check_consistency, &b, secs, &rate, &sha);
        bench_report("sha256 of 65 bytes (same rounds)", sha, "hash/s", 0, "");
        bench_report("consistency proof check", rate, "check/s", sha / hashes,
                     "sha256 rate / hashes per check");
        printf("%-44s %12.3f (target <= 1.2)\n", "consistency check cost / its SHA-256 calls",
               paired_ratio(op_check_consistency, &b, hashes, secs));

        /* Tree overhead. */
        printf("%-44s %12.2f bytes/entry\n", "overhead: flat stored hashes",
               (double)b.f.n * 32 / (double)N);
        printf("%-44s %12.2f bytes/entry\n", "overhead: tiles (latest of each)",
               (double)b.ts.bytes / (double)N);

        for (j = 0; j < 8; j++)
                free(b.ts.data[j]);
        free(b.f.h);
        return 0;
}
