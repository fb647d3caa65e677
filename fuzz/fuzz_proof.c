/*
 * fuzz_proof.c: the merkle module on arbitrary input. The first byte picks:
 *
 *   0  tile path parsing: whatever vt_merkle_tile_parse() accepts formats
 *      back to exactly the same bytes (one accepted encoding per tile).
 *   1  entry bundles: iteration stays inside the buffer, the entries and
 *      their prefixes add up to the bundle, vt_merkle_bundle_check agrees.
 *   2  the verifiers on arbitrary sizes, indexes, roots and proofs: no
 *      crash, no read past the proof, and the stated error codes only.
 *   3  a small tree built from the input: its real proofs verify; a bit
 *      flipped in a proof (or in the old root when the proof is empty) fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t get_u64(const uint8_t *p)
{
        uint64_t v = 0;
        int i;

        for (i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

static void fuzz_path(const uint8_t *p, size_t n)
{
        struct vt_merkle_tile t;
        char buf[VT_MERKLE_TILE_PATH_MAX];
        size_t len;

        if (vt_merkle_tile_parse((const char *)p, n, &t, NULL) != 0)
                return;
        len = vt_merkle_tile_path(&t, buf, sizeof(buf));
        if (len != n || memcmp(buf, p, n) != 0)
                abort();
}

static void fuzz_bundle(const uint8_t *p, size_t n)
{
        struct vt_merkle_bundle_iter it;
        struct vt_span e;
        size_t sum = 0;
        int err;

        vt_merkle_bundle_iter_init(&it, p, n);
        while ((err = vt_merkle_bundle_next(&it, &e)) == 0) {
                if (e.p < p || e.p + e.len > p + n)
                        abort();
                sum += 2 + e.len;
        }
        if (err == VT_ENOENT && sum != n)
                abort();
        if (err != VT_ENOENT && err != VT_EMALFORMED)
                abort();
        if (it.count >= 1 && it.count <= 256) {
                int c = vt_merkle_bundle_check(p, n, (unsigned)it.count, NULL, NULL);

                if ((c == 0) != (err == VT_ENOENT))
                        abort();
        }
}

static void fuzz_verify(const uint8_t *p, size_t n)
{
        struct vt_hash a, b, leaf, *proof;
        uint64_t x, y;
        size_t len;
        int err;

        if (n < 16 + 96)
                return;
        x = get_u64(p);
        y = get_u64(p + 8);
        /* Small values are the interesting ones; keep some huge ones. */
        if (p[16] & 1) {
                x %= 1000;
                y %= 1000;
        }
        memcpy(a.b, p + 16, 32);
        memcpy(b.b, p + 48, 32);
        memcpy(leaf.b, p + 80, 32);
        len = (n - 112) / 32;
        /* A copy of just the proof, so a read past it is caught by ASan. */
        proof = malloc(len ? len * sizeof(*proof) : 1);
        if (proof == NULL)
                return;
        memcpy(proof, p + 112, len * sizeof(*proof));
        err = vt_merkle_check_inclusion(proof, len, y, &a, x, &leaf);
        if (err != 0 && err != VT_EPROOF && err != VT_ERANGE)
                abort();
        err = vt_merkle_check_consistency(proof, len, x, y, &a, &b);
        if (err != 0 && err != VT_EPROOF && err != VT_ERANGE)
                abort();
        free(proof);
}

/* A tree of up to 300 leaves in memory, read through the stored-hash numbering. */
struct tree {
        struct vt_hash h[600];
        int64_t n;
};

static int tree_read(void *ctx, const int64_t *idx, size_t n, struct vt_hash *out)
{
        struct tree *t = ctx;
        size_t i;

        for (i = 0; i < n; i++) {
                if (idx[i] < 0 || idx[i] >= t->n)
                        abort();
                out[i] = t->h[idx[i]];
        }
        return 0;
}

static void fuzz_tree(const uint8_t *p, size_t n)
{
        static struct tree t;
        struct vt_hash proof[VT_MERKLE_MAX_PROOF], leaves[300], root, old_root, out[64];
        struct vt_merkle_frontier f;
        uint64_t size, i, m;
        size_t len, c, j, at;
        uint8_t bit;
        int err;

        if (n < 8)
                return;
        size = 1 + (p[0] | (uint64_t)p[1] << 8) % 300;
        i = (p[2] | (uint64_t)p[3] << 8) % size;
        m = (p[4] | (uint64_t)p[5] << 8) % (size + 1);
        at = p[6];
        bit = (uint8_t)(1u << (p[7] & 7));
        p += 8;
        n -= 8;

        /* Leaves from the input, cycled. */
        vt_merkle_frontier_init(&f);
        t.n = 0;
        for (j = 0; j < size; j++) {
                uint8_t d[2] = {(uint8_t)j, n ? p[j % n] : 0};

                vt_merkle_leaf_hash(d, sizeof(d), &leaves[j]);
                if (vt_merkle_frontier_append(&f, &leaves[j], out, &c) != 0)
                        abort();
                memcpy(t.h + t.n, out, c * sizeof(out[0]));
                t.n += (int64_t)c;
        }
        vt_merkle_frontier_root(&f, &root);

        /* Inclusion: the real proof verifies, a flipped bit in it does not. */
        if (vt_merkle_prove_inclusion(size, i, tree_read, &t, proof, &len) != 0)
                abort();
        if (vt_merkle_check_inclusion(proof, len, size, &root, i, &leaves[i]) != 0)
                abort();
        if (len > 0) {
                proof[(at / 32) % len].b[at % 32] ^= bit;
                if (vt_merkle_check_inclusion(proof, len, size, &root, i, &leaves[i]) == 0)
                        abort();
        }

        /* Consistency from m: likewise. */
        if (vt_merkle_tree_hash(m, tree_read, &t, &old_root) != 0)
                abort();
        if (vt_merkle_prove_consistency(m, size, tree_read, &t, proof, &len) != 0)
                abort();
        if (vt_merkle_check_consistency(proof, len, m, size, &old_root, &root) != 0)
                abort();
        /* An empty proof (m = 0 or m = size) leaves only the old root to change. */
        if (len > 0)
                proof[(at / 32) % len].b[at % 32] ^= bit;
        else
                old_root.b[at % 32] ^= bit;
        err = vt_merkle_check_consistency(proof, len, m, size, &old_root, &root);
        if (err != VT_EPROOF)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        switch (data[0] % 4) {
        case 0:
                fuzz_path(data + 1, size - 1);
                break;
        case 1:
                fuzz_bundle(data + 1, size - 1);
                break;
        case 2:
                fuzz_verify(data + 1, size - 1);
                break;
        default:
                fuzz_tree(data + 1, size - 1);
                break;
        }
        return 0;
}
