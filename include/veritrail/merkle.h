/*
 * merkle.h: pure Merkle tree math for an append-only log: RFC 9162 §2.1
 * hashing, inclusion and consistency proofs, the flat numbering of stored
 * hashes, and C2SP tlog-tiles paths, tiles and entry bundles.
 *
 * Pure means: integers and hashes in, hashes out. Nothing here does I/O or
 * allocates memory; every array is the caller's. Where hashes of the tree are
 * needed they are read through a callback (vt_merkle_read_fn), so the same
 * code runs over an in-memory array, a database, or a directory of tiles.
 *
 * Vocabulary (as in Go's golang.org/x/mod/sumdb/tlog, whose design this
 * follows; no code is shared):
 *
 *   size n        a tree of n leaves, D[0:n]. Sizes and leaf indexes are
 *                 uint64_t. Functions that touch stored hashes accept sizes
 *                 up to VT_MERKLE_MAX_SIZE (2^62); pure checks accept any.
 *   hash (L, K)   the Merkle Tree Hash of the perfect subtree of 2^L leaves
 *                 D[K*2^L : (K+1)*2^L]; level 0 hashes are leaf hashes.
 *   stored index  every hash (L, K) of a growing tree gets one int64_t
 *                 number, in the order an append-only log writes them:
 *                 appending leaf n writes its leaf hash, then the hashes of
 *                 the perfect subtrees that leaf completes, lowest first.
 *                 Leaf 0: #0 (0,0). Leaf 1: #1 (0,1), #2 (1,0). Leaf 2: #3
 *                 (0,2). Leaf 3: #4 (0,3), #5 (1,1), #6 (2,0). A tree of size
 *                 n has stored 2n - popcount(n) hashes, and never rewrites one.
 *   tile (L,N,W)  C2SP tlog-tiles: the level-L tile N holds the W (1..256)
 *                 hashes (8L, 256N) .. (8L, 256N+W-1), 32 bytes each.
 *
 * Edge case decided here (RFC 9162 leaves it open): consistency from size 0.
 * The empty tree is consistent with every tree, with an empty proof, provided
 * the old root is the empty-tree hash SHA-256(""): this is the C2SP
 * tlog-witness rule ("the empty tree is consistent with any tree, so no proof
 * is necessary"; "a checkpoint of size zero MUST have the root hash of the
 * empty tree"). See vt_merkle_check_consistency().
 *
 * Thread safety: every function is reentrant; the structs are the caller's.
 */
#ifndef VT_MERKLE_H
#define VT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/crypto.h"
#include "veritrail/util.h"

#define VT_MERKLE_HASH_LEN 32
/* Largest tree size the stored-hash functions accept (stored indexes fit int64_t). */
#define VT_MERKLE_MAX_SIZE ((uint64_t)1 << 62)
/* Capacity of a proof array: enough for any proof of a tree of VT_MERKLE_MAX_SIZE. */
#define VT_MERKLE_MAX_PROOF 64
/* Capacity of the out array of vt_merkle_stored_hashes(): 1 + log2 of the size. */
#define VT_MERKLE_MAX_NEW_HASHES 64

/* ---- hashing (RFC 9162 §2.1.1) ------------------------------------------ */

/* vt_merkle_leaf_hash(data, len, out): out = SHA-256(0x00 || data). Cannot fail. */
void vt_merkle_leaf_hash(const uint8_t *data, size_t len, struct vt_hash *out);

/* vt_merkle_node_hash(left, right, out): out = SHA-256(0x01 || left || right). out may alias. */
void vt_merkle_node_hash(const struct vt_hash *left, const struct vt_hash *right,
                         struct vt_hash *out);

/* vt_merkle_empty_hash(out): the hash of the empty tree, SHA-256(""). */
void vt_merkle_empty_hash(struct vt_hash *out);

/*
 * vt_merkle_root_from_leaf_hashes(leaves, n, out): the Merkle Tree Hash of n
 * leaf hashes held in memory (the empty-tree hash for n = 0). Costs n - 1 node
 * hashes and no memory beyond 2 KiB of stack. A reference for tests and small
 * trees; a log uses the stored-hash functions below.
 */
void vt_merkle_root_from_leaf_hashes(const struct vt_hash *leaves, uint64_t n, struct vt_hash *out);

/* ---- stored hashes -------------------------------------------------------- */

/*
 * vt_merkle_read_fn(ctx, indexes, n, out): the caller's storage. Fill out[i]
 * with the stored hash number indexes[i], for i < n. Return 0, or an error
 * code (VT_ENOENT, VT_EIO, ...) that the calling function returns unchanged.
 * The functions below call it at most once or twice per call, with at most a
 * few hundred indexes, never with n = 0.
 */
typedef int (*vt_merkle_read_fn)(void *ctx, const int64_t *indexes, size_t n, struct vt_hash *out);

/*
 * vt_merkle_stored_index(level, k): the stored index of hash (level, k).
 * Requires (k + 1) * 2^level <= VT_MERKLE_MAX_SIZE (asserted).
 */
int64_t vt_merkle_stored_index(unsigned level, uint64_t k);

/*
 * vt_merkle_stored_split(index, level, k): the inverse: which hash (level, k)
 * has stored index index. Requires 0 <= index < 2^63 - 1 (asserted).
 */
void vt_merkle_stored_split(int64_t index, unsigned *level, uint64_t *k);

/*
 * vt_merkle_stored_count(n): how many hashes a tree of n leaves has stored,
 * 2n - popcount(n); also the stored index of leaf n's leaf hash. n <=
 * VT_MERKLE_MAX_SIZE (asserted).
 */
int64_t vt_merkle_stored_count(uint64_t n);

/*
 * vt_merkle_stored_hashes(n, data, len, read, ctx, out, count): the hashes to
 * store when appending leaf n (record data[0..len)) to a tree of size n: out[j]
 * is hash (j, n >> j), stored index vt_merkle_stored_count(n) + j, for j <
 * *count = 1 + (number of trailing one bits of n) <= VT_MERKLE_MAX_NEW_HASHES.
 * Reads the *count - 1 left siblings (one read call, none when n is even).
 * 0, VT_ERANGE (n >= VT_MERKLE_MAX_SIZE), or the reader's error; out and
 * *count are untouched on failure.
 *
 * vt_merkle_stored_hashes_for_leaf(n, leaf, read, ctx, out, count): the same
 * from the leaf hash. For batch appends the reader must also see the hashes
 * of earlier leaves of the batch that are not stored yet; the frontier below
 * avoids the reads altogether.
 */
int vt_merkle_stored_hashes(uint64_t n, const uint8_t *data, size_t len, vt_merkle_read_fn read,
                            void *ctx, struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], size_t *count);
int vt_merkle_stored_hashes_for_leaf(uint64_t n, const struct vt_hash *leaf, vt_merkle_read_fn read,
                                     void *ctx, struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES],
                                     size_t *count);

/*
 * vt_merkle_tree_hash(n, read, ctx, out): the root of the tree of size n, from
 * popcount(n) stored hashes (one read call; none for n = 0, whose root is the
 * empty-tree hash). 0, VT_ERANGE (n > VT_MERKLE_MAX_SIZE), or the reader's error.
 */
int vt_merkle_tree_hash(uint64_t n, vt_merkle_read_fn read, void *ctx, struct vt_hash *out);

/*
 * vt_merkle_range_hash(lo, hi, read, ctx, out): MTH(D[lo:hi]) for a range
 * that RFC 9162 proofs use: lo is a multiple of the largest power of two <=
 * hi - lo (always true for lo = 0). At most 64 stored hashes in one read.
 * 0, VT_ERANGE (empty, misaligned, or past VT_MERKLE_MAX_SIZE), reader's error.
 */
int vt_merkle_range_hash(uint64_t lo, uint64_t hi, vt_merkle_read_fn read, void *ctx,
                         struct vt_hash *out);

/*
 * struct vt_merkle_frontier: the right edge of a tree (the roots of its
 * perfect subtrees, largest first), enough to append leaves and compute the
 * root with no reads at all: what a sequencer keeps in memory between
 * batches. Caller-owned, 2 KiB; no release needed.
 */
struct vt_merkle_frontier {
        uint64_t size;
        unsigned n;           /* popcount(size) hashes in h[] */
        struct vt_hash h[64]; /* h[i]: the i-th perfect subtree from the left */
};

/* vt_merkle_frontier_init(f): the frontier of the empty tree. */
void vt_merkle_frontier_init(struct vt_merkle_frontier *f);

/*
 * vt_merkle_frontier_load(f, n, read, ctx): the frontier of the stored tree
 * of size n (popcount(n) hashes in one read). 0, VT_ERANGE, reader's error.
 */
int vt_merkle_frontier_load(struct vt_merkle_frontier *f, uint64_t n, vt_merkle_read_fn read,
                            void *ctx);

/*
 * vt_merkle_frontier_append(f, leaf, out, count): append one leaf hash; out
 * and *count receive exactly what vt_merkle_stored_hashes_for_leaf() would
 * for leaf f->size (out[j] is hash (j, size >> j)). Costs *count - 1 node
 * hashes. out may be NULL when the caller does not store hashes. 0, or
 * VT_ERANGE when the tree is full (f unchanged).
 */
int vt_merkle_frontier_append(struct vt_merkle_frontier *f, const struct vt_hash *leaf,
                              struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], size_t *count);

/* vt_merkle_frontier_root(f, out): the root of the tree (popcount - 1 node hashes). */
void vt_merkle_frontier_root(const struct vt_merkle_frontier *f, struct vt_hash *out);

/* ---- inclusion proofs (RFC 9162 §2.1.3) ---------------------------------- */

/*
 * vt_merkle_inclusion_proof_len(index, size): the length of every valid
 * inclusion proof of leaf index in a tree of size (0 if index >= size).
 */
size_t vt_merkle_inclusion_proof_len(uint64_t index, uint64_t size);

/*
 * vt_merkle_prove_inclusion(size, index, read, ctx, proof, len): the audit
 * path PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first, into
 * proof (capacity VT_MERKLE_MAX_PROOF); *len receives its length. Reads at
 * most 127 stored hashes in one call. 0, VT_ERANGE (index >= size, size >
 * VT_MERKLE_MAX_SIZE), or the reader's error; outputs untouched on failure.
 */
int vt_merkle_prove_inclusion(uint64_t size, uint64_t index, vt_merkle_read_fn read, void *ctx,
                              struct vt_hash proof[VT_MERKLE_MAX_PROOF], size_t *len);

/*
 * struct vt_merkle_prover: inclusion proofs of many leaves of one tree size
 * that share their work. Two things recur between the proofs of one size:
 * the right edge (the sibling that is not a perfect subtree, MTH(D[x:size])
 * for x a border of the size's perfect subtrees, costs one node hash per
 * subtree right of x) and, for nearby leaves, every sibling above the level
 * where their paths part. The prover keeps the edge hashes it has folded
 * and the previous proof, so a proof costs only the siblings below the
 * level where its path leaves the previous one: about two for the next leaf
 * of a run of consecutive indexes, against the whole path (about 20) for
 * vt_merkle_prove_inclusion(). Proofs come out the same, byte for byte.
 * Caller-owned plain struct, about 5 KiB, no release; one per thread.
 * Reuse relies on the reader answering the same hash for the same index
 * every time (true of a log's stored hashes below a published size).
 */
struct vt_merkle_prover {
        uint64_t size;
        unsigned npieces;        /* popcount(size): perfect subtrees of D[0:size] */
        unsigned edge_from;      /* edge[j] is valid for edge_from <= j < npieces */
        struct vt_hash edge[64]; /* edge[j]: MTH(D[x_j:size]), x_j = start of subtree j */
        size_t prev_len;         /* the previous proof (0: none), root side first: */
        uint64_t prev_lo[VT_MERKLE_MAX_PROOF]; /* its ranges D[lo:hi] */
        uint64_t prev_hi[VT_MERKLE_MAX_PROOF];
        struct vt_hash prev_h[VT_MERKLE_MAX_PROOF]; /* and their hashes */
        uint64_t reads; /* stored hashes read so far (for tests and benchmarks) */
};

/*
 * vt_merkle_prover_init(p, size): a prover for the tree of size (nothing
 * read yet). 0, or VT_ERANGE (size > VT_MERKLE_MAX_SIZE; p untouched).
 */
int vt_merkle_prover_init(struct vt_merkle_prover *p, uint64_t size);

/*
 * vt_merkle_prover_prove(p, index, read, ctx, proof, len): exactly what
 * vt_merkle_prove_inclusion(p->size, index, read, ctx, proof, len) writes,
 * reading only what p has not kept (at most one read call, at most 127
 * hashes). Indexes may come in any order; ascending order shares the most.
 * 0, VT_ERANGE (index >= size), or the reader's error; on failure proof,
 * *len and what p keeps are untouched.
 */
int vt_merkle_prover_prove(struct vt_merkle_prover *p, uint64_t index, vt_merkle_read_fn read,
                           void *ctx, struct vt_hash proof[VT_MERKLE_MAX_PROOF], size_t *len);

/*
 * vt_merkle_check_inclusion(proof, len, size, root, index, leaf): verify that
 * leaf (a leaf hash) is at index in the tree of size whose root is root, with
 * the algorithm of RFC 9162 §2.1.3.2. Costs len node hashes. 0 if it holds;
 * VT_ERANGE if index >= size; VT_EPROOF if the proof has the wrong length or
 * does not lead to root. Any uint64_t size is accepted.
 */
int vt_merkle_check_inclusion(const struct vt_hash *proof, size_t len, uint64_t size,
                              const struct vt_hash *root, uint64_t index,
                              const struct vt_hash *leaf) VT_WARN_UNUSED;

/*
 * vt_merkle_root_from_inclusion(proof, len, size, index, leaf, out): the root
 * that the proof leads to (for callers that compare it with several roots).
 * 0, VT_ERANGE, or VT_EPROOF (wrong length); out untouched on failure.
 */
int vt_merkle_root_from_inclusion(const struct vt_hash *proof, size_t len, uint64_t size,
                                  uint64_t index, const struct vt_hash *leaf,
                                  struct vt_hash *out) VT_WARN_UNUSED;

/* ---- consistency proofs (RFC 9162 §2.1.4) -------------------------------- */

/*
 * vt_merkle_consistency_proof_len(old, new): the length of every valid
 * consistency proof from size old to size new (0 for old = 0, old >= new).
 */
size_t vt_merkle_consistency_proof_len(uint64_t old_size, uint64_t new_size);

/*
 * vt_merkle_prove_consistency(old, new, read, ctx, proof, len): PROOF(old,
 * D[0:new]) of RFC 9162 §2.1.4.1 into proof (capacity VT_MERKLE_MAX_PROOF).
 * Empty for old = 0 and old = new (see the decision at the top). Reads at
 * most 127 stored hashes in one call. 0, VT_ERANGE (old > new, new >
 * VT_MERKLE_MAX_SIZE), or the reader's error; outputs untouched on failure.
 */
int vt_merkle_prove_consistency(uint64_t old_size, uint64_t new_size, vt_merkle_read_fn read,
                                void *ctx, struct vt_hash proof[VT_MERKLE_MAX_PROOF], size_t *len);

/*
 * vt_merkle_check_consistency(proof, len, old, new, old_root, new_root):
 * verify that the tree of size old with root old_root is a prefix of the tree
 * of size new with root new_root, with the algorithm of RFC 9162 §2.1.4.2.
 * Costs at most 2 * len node hashes. Decided edge cases:
 *   old > new                 VT_ERANGE
 *   old = 0                   consistent with any new size: proof must be
 *                             empty, old_root must be SHA-256("") (new_root
 *                             is not constrained unless new = 0 too), else
 *                             VT_EPROOF
 *   old = new                 proof must be empty and the roots equal, else
 *                             VT_EPROOF
 * Otherwise 0 or VT_EPROOF (wrong length, or the proof leads elsewhere).
 */
int vt_merkle_check_consistency(const struct vt_hash *proof, size_t len, uint64_t old_size,
                                uint64_t new_size, const struct vt_hash *old_root,
                                const struct vt_hash *new_root) VT_WARN_UNUSED;

/* ---- C2SP tlog-tiles ------------------------------------------------------ */

#define VT_MERKLE_TILE_HEIGHT      8
#define VT_MERKLE_TILE_WIDTH       256 /* hashes in a full tile */
#define VT_MERKLE_TILE_BYTES       (VT_MERKLE_TILE_WIDTH * VT_MERKLE_HASH_LEN) /* 8192 */
#define VT_MERKLE_TILE_MAX_LEVEL   63    /* the spec's bound on <L> in a path */
#define VT_MERKLE_TILE_ENTRIES     (-1)  /* level of an entry bundle, tile/entries/<N> */
#define VT_MERKLE_TILE_PATH_MAX    64    /* longest path plus its NUL */
#define VT_MERKLE_BUNDLE_ENTRY_MAX 65535 /* an entry's length is a big-endian uint16 */

/*
 * struct vt_merkle_tile: a tile (level >= 0) or an entry bundle (level =
 * VT_MERKLE_TILE_ENTRIES) with index n and width 1..256 (256 = full). A tile
 * at level L holds the hashes (8L, 256n + i) for i < width; the bundle n
 * holds entries 256n + i and hashes to the level-0 tile n.
 */
struct vt_merkle_tile {
        int level;
        uint64_t n;
        unsigned width;
};

/*
 * vt_merkle_tile_path(t, buf, cap): write "tile/<L>/<N>[.p/<W>]" or
 * "tile/entries/<N>[.p/<W>]" and a NUL, N in 3-digit groups ("x001/x234/067"),
 * ".p/<W>" only when W < 256. Returns the length (without NUL), or 0 when t
 * is invalid (level < -1 or > 63, width 0 or > 256) or cap is too small
 * (VT_MERKLE_TILE_PATH_MAX always suffices).
 */
size_t vt_merkle_tile_path(const struct vt_merkle_tile *t, char *buf, size_t cap);

/*
 * vt_merkle_tile_parse(path, len, t, d): the inverse, strict: exactly the
 * canonical form vt_merkle_tile_path() writes, with no leading "/" and
 * nothing after; no leading zeros in <L> and <W>, no superfluous leading
 * group in <N>, no ".p/256" or ".p/0". Ranges are those of the spec (L <=
 * 63, any uint64_t N). 0 or VT_EMALFORMED (d says why); *t set on success.
 */
int vt_merkle_tile_parse(const char *path, size_t len, struct vt_merkle_tile *t,
                         struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_merkle_tile_count(size, level): the full tiles at level in a tree of
 * size, and in *partial the width of its partial tile (0 if none). level >= 0
 * for hash tiles; VT_MERKLE_TILE_ENTRIES counts entry bundles (same as 0).
 */
uint64_t vt_merkle_tile_count(uint64_t size, int level, unsigned *partial);

/*
 * vt_merkle_tile_for_index(index, t): the smallest tile that holds what is
 * needed to compute stored hash index: level (hash level) / 8, and the width
 * that includes all the tile hashes under it. index as for
 * vt_merkle_stored_split().
 */
void vt_merkle_tile_for_index(int64_t index, struct vt_merkle_tile *t);

/*
 * vt_merkle_tiles_new_count(old, new): how many tiles (all levels, entry
 * bundles not included) change when a tree grows from size old to new.
 * vt_merkle_tiles_new(old, new, out, cap, count): those tiles, lowest level
 * first and by index, each with its width in the tree of size new: every
 * tile whose hashes differ between the two trees (a partial tile that grew,
 * or a new tile). The entry bundles to write are the level-0 tiles with
 * level VT_MERKLE_TILE_ENTRIES. 0, VT_ERANGE (old > new), VT_ETOOBIG (more
 * than cap; nothing written).
 */
uint64_t vt_merkle_tiles_new_count(uint64_t old_size, uint64_t new_size);
int vt_merkle_tiles_new(uint64_t old_size, uint64_t new_size, struct vt_merkle_tile *out,
                        size_t cap, size_t *count);

/*
 * vt_merkle_tile_hash(t, data, len, index, out): compute stored hash index
 * from the bytes of tile t (len = 32 * t->width): directly for a hash at a
 * tile level, by hashing up to 128 tile hashes for the levels in between.
 * 0, VT_ERANGE (the tile does not cover index), VT_EMALFORMED (len is not
 * 32 * width), VT_EINVAL (t is an entry bundle or has no valid level).
 */
int vt_merkle_tile_hash(const struct vt_merkle_tile *t, const uint8_t *data, size_t len,
                        int64_t index, struct vt_hash *out);

/*
 * vt_merkle_tile_build(t, read, ctx, out): the content of tile t from stored
 * hashes: out[i] = hash (8L, 256N + i) for i < t->width (one read call; the
 * tile's bytes are then (const uint8_t *)out, 32 * width of them). 0,
 * VT_EINVAL (not a hash tile), VT_ERANGE, or the reader's error.
 */
int vt_merkle_tile_build(const struct vt_merkle_tile *t, vt_merkle_read_fn read, void *ctx,
                         struct vt_hash out[VT_MERKLE_TILE_WIDTH]);

/*
 * Reading stored hashes from tiles: struct vt_merkle_tile_reader adapts a
 * source of tiles (a tlog-tiles directory or URL, the store's tile table) to
 * a vt_merkle_read_fn for a tree of a given size, so every function above
 * works on a tiled log. Set it up with vt_merkle_tile_reader_init() and pass
 * vt_merkle_tile_reader_read as the reader and the struct as its ctx.
 *
 * vt_merkle_tile_fetch_fn(ctx, t, buf, len): put the bytes of tile t in buf
 * (VT_MERKLE_TILE_BYTES of room) and their count in *len. t->width is the
 * width of the tile in the tree of the reader's size; a wider version of the
 * same tile (up to the full one) is also acceptable, its first 32 * width
 * bytes are used. Return 0 or an error code (returned unchanged).
 *
 * Tiles read this way are only as trustworthy as their source: check any
 * root or proof computed from them against a signed checkpoint.
 */
typedef int (*vt_merkle_tile_fetch_fn)(void *ctx, const struct vt_merkle_tile *t, uint8_t *buf,
                                       size_t *len);

#define VT_MERKLE_TILE_CACHE 8 /* tiles kept by a reader: a proof touches about 2 per level */

/*
 * The reader's state, caller-owned (about 130 KiB: allocate it, or make it
 * static; do not put it on a thread's stack). The fields are private. For
 * each cached tile it keeps the hashes of the levels inside the tile that it
 * has computed, so each is hashed once while the tile stays cached.
 */
struct vt_merkle_tile_reader {
        uint64_t size;
        vt_merkle_tile_fetch_fn fetch;
        void *ctx;
        uint64_t tick;                       /* use counter, for LRU replacement */
        uint64_t last[VT_MERKLE_TILE_CACHE]; /* 0: slot empty */
        struct vt_merkle_tile cached[VT_MERKLE_TILE_CACHE];
        uint8_t data[VT_MERKLE_TILE_CACHE][VT_MERKLE_TILE_BYTES];
        struct vt_hash inner[VT_MERKLE_TILE_CACHE][VT_MERKLE_TILE_WIDTH - 2];
        uint8_t have[VT_MERKLE_TILE_CACHE][VT_MERKLE_TILE_WIDTH - 2];
};

/*
 * vt_merkle_tile_reader_init(r, size, fetch, ctx): a reader of the tree of
 * size (<= VT_MERKLE_MAX_SIZE) with an empty cache. r->size may be raised
 * later (the tree grew) without losing the cache: a hash never changes once
 * complete, and a cached partial tile is refetched when a wider one is needed.
 */
void vt_merkle_tile_reader_init(struct vt_merkle_tile_reader *r, uint64_t size,
                                vt_merkle_tile_fetch_fn fetch, void *ctx);

/*
 * vt_merkle_tile_reader_read(ctx, indexes, n, out): a vt_merkle_read_fn; ctx
 * is the struct vt_merkle_tile_reader. Fetches the tiles it needs (cached
 * across calls, least recently used replaced) and hashes inside them only
 * what it was not asked for before. VT_ERANGE for a hash that is not complete
 * in the reader's tree, VT_EMALFORMED for a fetched tile of the wrong length,
 * or the fetch error; out[] is then partly written.
 */
int vt_merkle_tile_reader_read(void *ctx, const int64_t *indexes, size_t n, struct vt_hash *out);

/* ---- entry bundles (C2SP tlog-tiles "Log entries") ------------------------ */

/*
 * vt_merkle_bundle_prefix(len, prefix): write the 2-byte big-endian length
 * that precedes an entry of len bytes in a bundle. 0 or VT_ETOOBIG (len >
 * VT_MERKLE_BUNDLE_ENTRY_MAX).
 */
int vt_merkle_bundle_prefix(size_t len, uint8_t prefix[2]);

/*
 * struct vt_merkle_bundle_iter: iterates over the entries of a bundle's
 * bytes without copying. vt_merkle_bundle_iter_init(it, p, len) then call
 * vt_merkle_bundle_next(it, entry) until it does not return 0:
 *   0              *entry points into p at the next entry (may be empty)
 *   VT_ENOENT      the bundle ended cleanly after it->count entries
 *   VT_EMALFORMED  a length prefix or an entry is cut off (stays so)
 */
struct vt_merkle_bundle_iter {
        const uint8_t *p;
        size_t len;
        size_t off;
        uint64_t count; /* entries returned so far */
};
void vt_merkle_bundle_iter_init(struct vt_merkle_bundle_iter *it, const uint8_t *p, size_t len);
int vt_merkle_bundle_next(struct vt_merkle_bundle_iter *it, struct vt_span *entry);

/*
 * vt_merkle_bundle_check(p, len, width, leaves, d): check a whole bundle: it
 * parses, holds exactly width entries (1..256) and nothing after, and, when
 * leaves is not NULL, entry i hashes to leaves[i] (the level-0 tile of the
 * same index). 0, VT_EMALFORMED, VT_EPROOF (an entry does not match its leaf
 * hash); d names the entry.
 */
int vt_merkle_bundle_check(const uint8_t *p, size_t len, unsigned width,
                           const struct vt_hash *leaves, struct vt_diag *d) VT_WARN_UNUSED;

#endif
