/*
 * merkle.c: RFC 9162 §2.1 Merkle tree math over stored hashes.
 *
 * The tree of size n is MTH(D[0:n]) (RFC 9162 §2.1.1): the empty-tree hash
 * for n = 0, the leaf hash for n = 1, else the node hash of MTH(D[0:k]) and
 * MTH(D[k:n]) with k the largest power of two smaller than n. Every subtree
 * the proofs of §2.1.3 and §2.1.4 name is a range D[lo:hi) whose lo is a
 * multiple of the largest power of two <= hi - lo. Such a range is the
 * concatenation of popcount(hi - lo) perfect subtrees of decreasing size, each
 * a single stored hash, and its MTH is their right fold with the node hash.
 * That is the one idea of this file: a proof is a list of ranges, a range is
 * a list of stored hashes, and all of them are fetched with one reader call.
 *
 * Stored indexes (see merkle.h): appending leaf m writes its leaf hash at
 * index count(m) = 2m - popcount(m), then the hashes of the t perfect
 * subtrees it completes (t = trailing one bits of m) at count(m) + 1..t.
 * Hash (L, K) is therefore written by leaf m = (K + 1) * 2^L - 1, at
 * count(m) + L.
 *
 * Invariants asserted: sizes that reach the index math are <= 2^62, so every
 * stored index fits int64_t and no shift overflows.
 */
#include <assert.h>
#include <string.h>

#include "veritrail/merkle.h"

/* A proof has at most 63 ranges; at most one of them is not a perfect subtree. */
#define MAX_PIECES 128

struct range {
        uint64_t lo, hi;
};

static unsigned popcount64(uint64_t x)
{
        return (unsigned)__builtin_popcountll(x);
}

/* floor(log2(x)) for x > 0. */
static unsigned log2_floor(uint64_t x)
{
        assert(x > 0);
        return 63u - (unsigned)__builtin_clzll(x);
}

/* The largest power of two strictly smaller than n, for n >= 2 (RFC 9162 §2.1.1 k). */
static uint64_t split_point(uint64_t n)
{
        assert(n >= 2);
        return (uint64_t)1 << log2_floor(n - 1);
}

static int hash_eq(const struct vt_hash *a, const struct vt_hash *b)
{
        /* Roots and proofs are public values: no need for a constant-time compare. */
        return memcmp(a->b, b->b, VT_MERKLE_HASH_LEN) == 0;
}

/* ---- hashing ------------------------------------------------------------- */

/* see merkle.h */
void vt_merkle_leaf_hash(const uint8_t *data, size_t len, struct vt_hash *out)
{
        /* RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)), hashed in place. */
        static const uint8_t prefix = 0x00;
        struct vt_span parts[2];

        parts[0].p = &prefix;
        parts[0].len = 1;
        parts[1].p = data;
        parts[1].len = len;
        vt_crypto_sha256_v(parts, 2, out);
}

/* see merkle.h */
void vt_merkle_node_hash(const struct vt_hash *left, const struct vt_hash *right,
                         struct vt_hash *out)
{
        /*
         * RFC 9162 §2.1.1: SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])). The 65
         * bytes are copied into one buffer: cheaper than three updates, and it
         * lets out alias left or right.
         */
        uint8_t buf[1 + 2 * VT_MERKLE_HASH_LEN];

        buf[0] = 0x01;
        memcpy(buf + 1, left->b, VT_MERKLE_HASH_LEN);
        memcpy(buf + 1 + VT_MERKLE_HASH_LEN, right->b, VT_MERKLE_HASH_LEN);
        vt_crypto_sha256(buf, sizeof(buf), out);
}

/* see merkle.h */
void vt_merkle_empty_hash(struct vt_hash *out)
{
        /* RFC 9162 §2.1.1: MTH({}) = SHA-256(). */
        vt_crypto_sha256((const uint8_t *)"", 0, out);
}

/* out = the right fold of h[0..n) with the node hash: MTH of adjacent subtrees. */
static void fold_right(const struct vt_hash *h, size_t n, struct vt_hash *out)
{
        struct vt_hash acc;
        size_t i;

        assert(n > 0);
        acc = h[n - 1];
        for (i = n - 1; i-- > 0;)
                vt_merkle_node_hash(&h[i], &acc, &acc);
        *out = acc;
}

/* ---- stored indexes -------------------------------------------------------- */

/* see merkle.h */
int64_t vt_merkle_stored_count(uint64_t n)
{
        assert(n <= VT_MERKLE_MAX_SIZE);
        return (int64_t)(2 * n - popcount64(n));
}

/* see merkle.h */
int64_t vt_merkle_stored_index(unsigned level, uint64_t k)
{
        uint64_t m;

        assert(level < 63 && k < (VT_MERKLE_MAX_SIZE >> level));
        /* Hash (level, k) is written right after the leaf that completes it. */
        m = ((k + 1) << level) - 1;
        return vt_merkle_stored_count(m) + (int64_t)level;
}

/* see merkle.h */
void vt_merkle_stored_split(int64_t index, unsigned *level, uint64_t *k)
{
        uint64_t x, m;

        assert(index >= 0 && index < INT64_MAX);
        x = (uint64_t)index;
        /*
         * Find the leaf m whose append wrote index: count(m) <= x <
         * count(m + 1). count(x / 2) <= x and count grows by at least one per
         * leaf, so at most 65 steps from there.
         */
        m = x / 2;
        while (2 * (m + 1) - popcount64(m + 1) <= x)
                m++;
        *level = (unsigned)(x - (2 * m - popcount64(m)));
        /* m + 1 is a multiple of 2^level, so k = (m + 1) / 2^level - 1 = m >> level. */
        *k = m >> *level;
}

/* Append the stored indexes of the perfect subtrees of D[lo:hi) to idx; return how many. */
static size_t range_pieces(uint64_t lo, uint64_t hi, int64_t *idx)
{
        size_t c = 0;

        while (lo < hi) {
                unsigned l = log2_floor(hi - lo);

                assert((lo & (((uint64_t)1 << l) - 1)) == 0);
                idx[c++] = vt_merkle_stored_index(l, lo >> l);
                lo += (uint64_t)1 << l;
        }
        return c;
}

/*
 * Fetch MTH of each range r[0..n) with one reader call and write them to
 * out[0..n). Outputs untouched on failure.
 */
static int ranges_hash(const struct range *r, size_t n, vt_merkle_read_fn read, void *ctx,
                       struct vt_hash *out)
{
        int64_t idx[MAX_PIECES];
        struct vt_hash h[MAX_PIECES];
        size_t start[VT_MERKLE_MAX_PROOF + 1];
        size_t i, c = 0;
        int err;

        assert(n <= VT_MERKLE_MAX_PROOF);
        if (n == 0)
                return 0;
        for (i = 0; i < n; i++) {
                start[i] = c;
                assert(c + popcount64(r[i].hi - r[i].lo) <= MAX_PIECES);
                c += range_pieces(r[i].lo, r[i].hi, idx + c);
        }
        start[n] = c;
        if ((err = read(ctx, idx, c, h)) != 0)
                return err;
        for (i = 0; i < n; i++)
                fold_right(h + start[i], start[i + 1] - start[i], &out[i]);
        return 0;
}

/* see merkle.h */
int vt_merkle_stored_hashes_for_leaf(uint64_t n, const struct vt_hash *leaf, vt_merkle_read_fn read,
                                     void *ctx, struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES],
                                     size_t *count)
{
        int64_t idx[VT_MERKLE_MAX_NEW_HASHES];
        struct vt_hash sib[VT_MERKLE_MAX_NEW_HASHES], h;
        unsigned t, j;
        int err;

        if (n >= VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        /* Leaf n completes one perfect subtree per trailing one bit of n. */
        t = (unsigned)__builtin_ctzll(~n);
        for (j = 0; j < t; j++)
                idx[j] = vt_merkle_stored_index(j, (n >> j) - 1);
        if (t > 0 && (err = read(ctx, idx, t, sib)) != 0)
                return err;
        h = *leaf;
        out[0] = h;
        for (j = 0; j < t; j++) {
                vt_merkle_node_hash(&sib[j], &h, &h);
                out[j + 1] = h;
        }
        *count = (size_t)t + 1;
        return 0;
}

/* see merkle.h */
int vt_merkle_stored_hashes(uint64_t n, const uint8_t *data, size_t len, vt_merkle_read_fn read,
                            void *ctx, struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], size_t *count)
{
        struct vt_hash leaf;

        vt_merkle_leaf_hash(data, len, &leaf);
        return vt_merkle_stored_hashes_for_leaf(n, &leaf, read, ctx, out, count);
}

/* see merkle.h */
int vt_merkle_range_hash(uint64_t lo, uint64_t hi, vt_merkle_read_fn read, void *ctx,
                         struct vt_hash *out)
{
        struct range r;

        if (lo >= hi || hi > VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        if ((lo & (((uint64_t)1 << log2_floor(hi - lo)) - 1)) != 0)
                return VT_ERANGE;
        r.lo = lo;
        r.hi = hi;
        return ranges_hash(&r, 1, read, ctx, out);
}

/* see merkle.h */
int vt_merkle_tree_hash(uint64_t n, vt_merkle_read_fn read, void *ctx, struct vt_hash *out)
{
        if (n > VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        if (n == 0) {
                vt_merkle_empty_hash(out);
                return 0;
        }
        return vt_merkle_range_hash(0, n, read, ctx, out);
}

/* ---- frontier ------------------------------------------------------------ */

/* see merkle.h */
void vt_merkle_frontier_init(struct vt_merkle_frontier *f)
{
        f->size = 0;
        f->n = 0;
}

/* see merkle.h */
int vt_merkle_frontier_load(struct vt_merkle_frontier *f, uint64_t n, vt_merkle_read_fn read,
                            void *ctx)
{
        int64_t idx[64];
        struct vt_hash h[64];
        size_t c;
        int err;

        if (n > VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        c = range_pieces(0, n, idx);
        if (c > 0 && (err = read(ctx, idx, c, h)) != 0)
                return err;
        memcpy(f->h, h, c * sizeof(h[0]));
        f->n = (unsigned)c;
        f->size = n;
        return 0;
}

/* see merkle.h */
int vt_merkle_frontier_append(struct vt_merkle_frontier *f, const struct vt_hash *leaf,
                              struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], size_t *count)
{
        struct vt_hash h;
        unsigned t, j;

        if (f->size >= VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        /*
         * The last t subtrees of the frontier have sizes 2^(t-1) .. 2^0 (the
         * trailing one bits of size); the new leaf merges with each in turn.
         */
        t = (unsigned)__builtin_ctzll(~f->size);
        assert(t <= f->n);
        h = *leaf;
        if (out != NULL)
                out[0] = h;
        for (j = 0; j < t; j++) {
                vt_merkle_node_hash(&f->h[f->n - 1 - j], &h, &h);
                if (out != NULL)
                        out[j + 1] = h;
        }
        f->n -= t;
        f->h[f->n++] = h;
        f->size++;
        if (count != NULL)
                *count = (size_t)t + 1;
        return 0;
}

/* see merkle.h */
void vt_merkle_frontier_root(const struct vt_merkle_frontier *f, struct vt_hash *out)
{
        if (f->n == 0)
                vt_merkle_empty_hash(out);
        else
                fold_right(f->h, f->n, out);
}

/* see merkle.h */
void vt_merkle_root_from_leaf_hashes(const struct vt_hash *leaves, uint64_t n, struct vt_hash *out)
{
        struct vt_merkle_frontier f;
        uint64_t i;

        vt_merkle_frontier_init(&f);
        for (i = 0; i < n; i++) {
                int err = vt_merkle_frontier_append(&f, &leaves[i], NULL, NULL);

                assert(err == 0);
                (void)err;
        }
        vt_merkle_frontier_root(&f, out);
}

/* ---- inclusion proofs ------------------------------------------------------ */

/*
 * The ranges of PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), root side first:
 * walk down from the root, keeping the half that holds the leaf and recording
 * the other half.
 */
static size_t inclusion_ranges(uint64_t index, uint64_t size, struct range *r)
{
        uint64_t lo = 0, hi = size;
        size_t n = 0;

        while (hi - lo > 1) {
                uint64_t k = split_point(hi - lo);

                assert(n < VT_MERKLE_MAX_PROOF);
                if (index < lo + k) {
                        r[n].lo = lo + k;
                        r[n].hi = hi;
                        hi = lo + k;
                } else {
                        r[n].lo = lo;
                        r[n].hi = lo + k;
                        lo += k;
                }
                n++;
        }
        return n;
}

/* see merkle.h */
size_t vt_merkle_inclusion_proof_len(uint64_t index, uint64_t size)
{
        unsigned inner;

        if (index >= size)
                return 0;
        /*
         * Below the level where the paths to index and to the last leaf part,
         * every level contributes a sibling (the inner part); above it, one
         * sibling per left subtree on the right border, i.e. per one bit.
         */
        inner = index == size - 1 ? 0 : log2_floor(index ^ (size - 1)) + 1;
        return inner + popcount64(inner >= 64 ? 0 : index >> inner);
}

/* see merkle.h */
int vt_merkle_prove_inclusion(uint64_t size, uint64_t index, vt_merkle_read_fn read, void *ctx,
                              struct vt_hash proof[VT_MERKLE_MAX_PROOF], size_t *len)
{
        struct range r[VT_MERKLE_MAX_PROOF], rev[VT_MERKLE_MAX_PROOF];
        size_t n, i;
        int err;

        if (size > VT_MERKLE_MAX_SIZE || index >= size)
                return VT_ERANGE;
        n = inclusion_ranges(index, size, r);
        /* The proof lists the siblings from the leaf up: the reverse of the walk. */
        for (i = 0; i < n; i++)
                rev[i] = r[n - 1 - i];
        if ((err = ranges_hash(rev, n, read, ctx, proof)) != 0)
                return err;
        *len = n;
        return 0;
}

/* ---- many inclusion proofs of one size -------------------------------------- */

/*
 * The ranges of a path (inclusion_ranges) are of two kinds. A left
 * sibling D[lo:lo+k] is a perfect subtree, and so is a right sibling
 * D[lo+k:hi] inside a perfect subtree. The only other kind is a right
 * sibling on the border of the tree, D[x:size] with x the start of one of
 * the perfect subtrees that D[0:size] is made of (its "pieces", largest
 * first): MTH(D[x_j:size]) is the right fold of pieces j..npieces-1, the
 * same for every leaf left of x_j. The prover folds these edge hashes once,
 * lazily, the rightmost first, so a single proof costs no more node hashes
 * than vt_merkle_prove_inclusion().
 */

/* x_j: where piece j of D[0:size] starts (size for j = npieces): size without its lowest one bits.
 */
static uint64_t edge_start(uint64_t size, unsigned npieces, unsigned j)
{
        for (; j < npieces; j++)
                size &= size - 1;
        return size;
}

/* see merkle.h */
int vt_merkle_prover_init(struct vt_merkle_prover *p, uint64_t size)
{
        if (size > VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        p->size = size;
        p->npieces = popcount64(size);
        p->edge_from = p->npieces;
        p->prev_len = 0;
        p->reads = 0;
        return 0;
}

/* see merkle.h */
int vt_merkle_prover_prove(struct vt_merkle_prover *p, uint64_t index, vt_merkle_read_fn read,
                           void *ctx, struct vt_hash proof[VT_MERKLE_MAX_PROOF], size_t *len)
{
        struct range r[VT_MERKLE_MAX_PROOF];
        int64_t idx[MAX_PIECES];
        struct vt_hash h[MAX_PIECES];
        int slot[VT_MERKLE_MAX_PROOF]; /* range t's hash: h[slot] if >= 0, else edge[-1 - slot] */
        unsigned need = p->edge_from, j;
        size_t n, s = 0, t, c = 0, e0;
        int err;

        if (index >= p->size)
                return VT_ERANGE;
        n = inclusion_ranges(index, p->size, r);
        /*
         * The previous proof's ranges, root side first, are this one's down
         * to the level where the two paths part (below it they lie in
         * different subtrees): their hashes are kept.
         */
        while (s < n && s < p->prev_len && r[s].lo == p->prev_lo[s] && r[s].hi == p->prev_hi[s])
                s++;
        for (t = s; t < n; t++) {
                uint64_t w = r[t].hi - r[t].lo;

                if ((w & (w - 1)) == 0) {
                        unsigned l = log2_floor(w);

                        slot[t] = (int)c;
                        idx[c++] = vt_merkle_stored_index(l, r[t].lo >> l);
                } else {
                        /* Not a perfect subtree: an edge D[x_j:size], x_j having j one bits. */
                        assert(r[t].hi == p->size);
                        j = popcount64(r[t].lo);
                        assert(j + 1 < p->npieces && edge_start(p->size, p->npieces, j) == r[t].lo);
                        slot[t] = -1 - (int)j;
                        if (j < need)
                                need = j;
                }
        }
        /* The pieces of the edges not folded yet, in the same read. */
        e0 = c;
        if (need < p->edge_from)
                c += range_pieces(edge_start(p->size, p->npieces, need),
                                  edge_start(p->size, p->npieces, p->edge_from), idx + c);
        assert(c <= MAX_PIECES && c - e0 == p->edge_from - need);
        if (c > 0 && (err = read(ctx, idx, c, h)) != 0)
                return err;
        p->reads += c;
        /* edge[j] = MTH(piece j || edge[j + 1]) (RFC 9162 §2.1.1); the last piece alone. */
        for (j = p->edge_from; j-- > need;) {
                if (j + 1 == p->npieces)
                        p->edge[j] = h[e0 + (j - need)];
                else
                        vt_merkle_node_hash(&h[e0 + (j - need)], &p->edge[j + 1], &p->edge[j]);
        }
        p->edge_from = need;
        for (t = s; t < n; t++) {
                p->prev_lo[t] = r[t].lo;
                p->prev_hi[t] = r[t].hi;
                p->prev_h[t] = slot[t] >= 0 ? h[slot[t]] : p->edge[-1 - slot[t]];
        }
        p->prev_len = n;
        /* The proof lists the siblings from the leaf up: the reverse of the walk. */
        for (t = 0; t < n; t++)
                proof[t] = p->prev_h[n - 1 - t];
        *len = n;
        return 0;
}

/*
 * RFC 9162 §2.1.3.2, steps 2-5, without the final comparison: the root the
 * proof leads to. The caller has checked index < size and the length.
 */
static int inclusion_root(const struct vt_hash *proof, size_t len, uint64_t size, uint64_t index,
                          const struct vt_hash *leaf, struct vt_hash *out)
{
        uint64_t fn = index, sn = size - 1;
        struct vt_hash r = *leaf;
        size_t i;

        for (i = 0; i < len; i++) {
                if (sn == 0)
                        return VT_EPROOF; /* 4a: the path is too long */
                if ((fn & 1) || fn == sn) {
                        /* 4b: p is a left sibling (or r is on the right border). */
                        vt_merkle_node_hash(&proof[i], &r, &r);
                        if (!(fn & 1)) {
                                while (!(fn & 1) && fn != 0) {
                                        fn >>= 1;
                                        sn >>= 1;
                                }
                        }
                } else {
                        vt_merkle_node_hash(&r, &proof[i], &r);
                }
                fn >>= 1; /* 4c */
                sn >>= 1;
        }
        if (sn != 0)
                return VT_EPROOF; /* 5: the path is too short */
        *out = r;
        return 0;
}

/* see merkle.h */
int vt_merkle_root_from_inclusion(const struct vt_hash *proof, size_t len, uint64_t size,
                                  uint64_t index, const struct vt_hash *leaf, struct vt_hash *out)
{
        /* RFC 9162 §2.1.3.2 step 1. */
        if (index >= size)
                return VT_ERANGE;
        if (len != vt_merkle_inclusion_proof_len(index, size))
                return VT_EPROOF;
        return inclusion_root(proof, len, size, index, leaf, out);
}

/* see merkle.h */
int vt_merkle_check_inclusion(const struct vt_hash *proof, size_t len, uint64_t size,
                              const struct vt_hash *root, uint64_t index,
                              const struct vt_hash *leaf)
{
        struct vt_hash r;
        int err;

        if ((err = vt_merkle_root_from_inclusion(proof, len, size, index, leaf, &r)) != 0)
                return err;
        return hash_eq(&r, root) ? 0 : VT_EPROOF;
}

/* ---- consistency proofs ---------------------------------------------------- */

/*
 * The ranges of PROOF(old, D[0:new]) = SUBPROOF(old, D[0:new], true) (RFC
 * 9162 §2.1.4.1), root side first, for 0 < old < new. A range is relative to
 * the current subtree D[lo:hi); m = old - lo.
 */
static size_t consistency_ranges(uint64_t old_size, uint64_t new_size, struct range *r)
{
        uint64_t lo = 0, hi = new_size;
        int b = 1;
        size_t n = 0;

        assert(old_size > 0 && old_size < new_size);
        for (;;) {
                uint64_t k;

                if (old_size == hi) {
                        /* m = n: nothing if D[0:m] is the old tree itself, else MTH(D[m]). */
                        if (!b) {
                                assert(n < VT_MERKLE_MAX_PROOF);
                                r[n].lo = lo;
                                r[n].hi = hi;
                                n++;
                        }
                        break;
                }
                k = split_point(hi - lo);
                assert(n < VT_MERKLE_MAX_PROOF);
                if (old_size - lo <= k) {
                        /* m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) */
                        r[n].lo = lo + k;
                        r[n].hi = hi;
                        hi = lo + k;
                } else {
                        /* m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) */
                        r[n].lo = lo;
                        r[n].hi = lo + k;
                        lo += k;
                        b = 0;
                }
                n++;
        }
        return n;
}

/* see merkle.h */
size_t vt_merkle_consistency_proof_len(uint64_t old_size, uint64_t new_size)
{
        uint64_t lo = 0, hi = new_size;
        size_t n = 0;
        int b = 1;

        if (old_size == 0 || old_size >= new_size)
                return 0;
        /* The walk of consistency_ranges(), counting only (it accepts any uint64_t). */
        while (old_size != hi) {
                uint64_t k = split_point(hi - lo);

                if (old_size - lo <= k) {
                        hi = lo + k;
                } else {
                        lo += k;
                        b = 0;
                }
                n++;
        }
        return n + (b ? 0 : 1);
}

/* see merkle.h */
int vt_merkle_prove_consistency(uint64_t old_size, uint64_t new_size, vt_merkle_read_fn read,
                                void *ctx, struct vt_hash proof[VT_MERKLE_MAX_PROOF], size_t *len)
{
        struct range r[VT_MERKLE_MAX_PROOF], rev[VT_MERKLE_MAX_PROOF];
        size_t n, i;
        int err;

        if (old_size > new_size || new_size > VT_MERKLE_MAX_SIZE)
                return VT_ERANGE;
        /* Decided in merkle.h: from the empty tree, and to the same tree, the proof is empty. */
        if (old_size == 0 || old_size == new_size) {
                *len = 0;
                return 0;
        }
        n = consistency_ranges(old_size, new_size, r);
        for (i = 0; i < n; i++)
                rev[i] = r[n - 1 - i];
        if ((err = ranges_hash(rev, n, read, ctx, proof)) != 0)
                return err;
        *len = n;
        return 0;
}

/* see merkle.h */
int vt_merkle_check_consistency(const struct vt_hash *proof, size_t len, uint64_t old_size,
                                uint64_t new_size, const struct vt_hash *old_root,
                                const struct vt_hash *new_root)
{
        struct vt_hash fr, sr, empty;
        uint64_t fn, sn;
        size_t i;

        if (old_size > new_size)
                return VT_ERANGE;
        if (old_size == 0) {
                /* C2SP tlog-witness: the empty tree is consistent with any tree. */
                vt_merkle_empty_hash(&empty);
                if (len != 0 || !hash_eq(old_root, &empty))
                        return VT_EPROOF;
                /* Both trees empty: the new root is the empty-tree hash too. */
                return new_size > 0 || hash_eq(new_root, &empty) ? 0 : VT_EPROOF;
        }
        if (old_size == new_size)
                return len == 0 && hash_eq(old_root, new_root) ? 0 : VT_EPROOF;
        /* RFC 9162 §2.1.4.2 step 1 (an empty path), and any other wrong length. */
        if (len != vt_merkle_consistency_proof_len(old_size, new_size))
                return VT_EPROOF;

        /*
         * Step 2: when old is a power of two the path omits the old root,
         * which then starts both computations; otherwise its first element does.
         */
        i = 0;
        if ((old_size & (old_size - 1)) == 0) {
                fr = *old_root;
        } else {
                fr = proof[0];
                i = 1;
        }
        sr = fr;
        /* Steps 3-4. */
        fn = old_size - 1;
        sn = new_size - 1;
        while (fn & 1) {
                fn >>= 1;
                sn >>= 1;
        }
        /* Step 6. */
        for (; i < len; i++) {
                if (sn == 0)
                        return VT_EPROOF; /* 6a */
                if ((fn & 1) || fn == sn) {
                        /* 6b */
                        vt_merkle_node_hash(&proof[i], &fr, &fr);
                        vt_merkle_node_hash(&proof[i], &sr, &sr);
                        while (!(fn & 1) && fn != 0) {
                                fn >>= 1;
                                sn >>= 1;
                        }
                } else {
                        vt_merkle_node_hash(&sr, &proof[i], &sr);
                }
                fn >>= 1; /* 6c */
                sn >>= 1;
        }
        /* Step 7. */
        if (sn != 0 || !hash_eq(&fr, old_root) || !hash_eq(&sr, new_root))
                return VT_EPROOF;
        return 0;
}
