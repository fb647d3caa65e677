/*
 * tile.c: C2SP tlog-tiles math: tile paths, which tiles a tree has and which
 * change when it grows, hashes computed from a tile's bytes, tiles built
 * from stored hashes, a stored-hash reader over tiles, and entry bundles.
 *
 * Format (C2SP tlog-tiles, "Merkle Tree"): the level-L tile N of width W is
 * the concatenation of the W hashes MTH(D[(256N + i) * 256^L : (256N + i +
 * 1) * 256^L]), i < W, 32 bytes each; in the numbering of merkle.h that is
 * hash (8L, 256N + i). A tile is full at W = 256; the rightmost tile of a
 * level is partial (W = floor(size / 256^L) mod 256) and MUST NOT be hashed
 * into the level above. The hashes of levels 8L + 1 .. 8L + 7 are not
 * stored anywhere: they are recomputed from the tile ("a tile represents the
 * entire subtree of height 8 with its hashes as the leaves").
 *
 * Paths: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]; <L> decimal 0..63
 * and <W> decimal 1..255 without leading zeros; <N> in zero-padded groups of
 * three digits, all but the last prefixed with "x" (1234067 is
 * x001/x234/067). We parse exactly the encoding we write.
 *
 * Entry bundles ("Log entries"): big-endian uint16 length-prefixed entries;
 * entry i of bundle N is leaf 256N + i and hashes to the level-0 tile N.
 */
#include <assert.h>
#include <string.h>

#include "veritrail/merkle.h"

#define TILE_H VT_MERKLE_TILE_HEIGHT

/* The number of hashes at tree level 8 * level (>= 0) in a tree of size. */
static uint64_t level_hashes(uint64_t size, int level)
{
        unsigned shift = (unsigned)(level < 0 ? 0 : level) * TILE_H;

        return shift >= 64 ? 0 : size >> shift;
}

/* The width tile (level, n) has in a tree of size: 0 if absent, else 1..256. */
static unsigned width_in_tree(uint64_t size, int level, uint64_t n)
{
        uint64_t h = level_hashes(size, level);

        if (n >= (h >> 8) + 1 || (n == h >> 8 && (h & 255) == 0))
                return 0;
        return n < (h >> 8) ? VT_MERKLE_TILE_WIDTH : (unsigned)(h & 255);
}

/* ---- paths ------------------------------------------------------------------ */

/* see merkle.h */
size_t vt_merkle_tile_path(const struct vt_merkle_tile *t, char *buf, size_t cap)
{
        char tmp[VT_MERKLE_TILE_PATH_MAX];
        unsigned groups[8];
        size_t len = 0, ng = 0, i;
        uint64_t n = t->n;

        if (t->level < VT_MERKLE_TILE_ENTRIES || t->level > VT_MERKLE_TILE_MAX_LEVEL ||
            t->width < 1 || t->width > VT_MERKLE_TILE_WIDTH)
                return 0;
        memcpy(tmp, "tile/", 5);
        len = 5;
        if (t->level == VT_MERKLE_TILE_ENTRIES) {
                memcpy(tmp + len, "entries/", 8);
                len += 8;
        } else {
                if (t->level >= 10)
                        tmp[len++] = (char)('0' + t->level / 10);
                tmp[len++] = (char)('0' + t->level % 10);
                tmp[len++] = '/';
        }
        /* <N>: base-1000 digits, most significant first, at least one. */
        do {
                groups[ng++] = (unsigned)(n % 1000);
                n /= 1000;
        } while (n > 0);
        for (i = ng; i-- > 0;) {
                if (i > 0)
                        tmp[len++] = 'x';
                tmp[len++] = (char)('0' + groups[i] / 100);
                tmp[len++] = (char)('0' + groups[i] / 10 % 10);
                tmp[len++] = (char)('0' + groups[i] % 10);
                if (i > 0)
                        tmp[len++] = '/';
        }
        if (t->width < VT_MERKLE_TILE_WIDTH) {
                memcpy(tmp + len, ".p/", 3);
                len += 3;
                if (t->width >= 100)
                        tmp[len++] = (char)('0' + t->width / 100);
                if (t->width >= 10)
                        tmp[len++] = (char)('0' + t->width / 10 % 10);
                tmp[len++] = (char)('0' + t->width % 10);
        }
        assert(len < sizeof(tmp));
        if (len + 1 > cap)
                return 0;
        memcpy(buf, tmp, len);
        buf[len] = '\0';
        return len;
}

static int is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/*
 * Parse a canonical decimal of at most max_digits digits at s[*pos..len):
 * no leading zero except "0" itself. 0 or VT_EMALFORMED.
 */
static int parse_small(const char *s, size_t len, size_t *pos, unsigned max_digits, unsigned *out)
{
        size_t p = *pos;
        unsigned v = 0, nd = 0;

        while (p < len && is_digit(s[p]) && nd <= max_digits) {
                v = v * 10 + (unsigned)(s[p] - '0');
                p++;
                nd++;
        }
        if (nd == 0 || nd > max_digits || (nd > 1 && s[*pos] == '0'))
                return VT_EMALFORMED;
        *pos = p;
        *out = v;
        return 0;
}

/* see merkle.h */
int vt_merkle_tile_parse(const char *path, size_t len, struct vt_merkle_tile *t, struct vt_diag *d)
{
        struct vt_merkle_tile r;
        size_t p = 0, ng = 0;
        unsigned v;

        if (len < 5 || memcmp(path, "tile/", 5) != 0) {
                vt_diag_set(d, "tile path: does not start with 'tile/'");
                return VT_EMALFORMED;
        }
        p = 5;
        /* <L> or "entries" */
        if (len - p >= 8 && memcmp(path + p, "entries/", 8) == 0) {
                r.level = VT_MERKLE_TILE_ENTRIES;
                p += 8;
        } else {
                if (parse_small(path, len, &p, 2, &v) != 0 || v > VT_MERKLE_TILE_MAX_LEVEL) {
                        vt_diag_set(d, "tile path: level is not a decimal 0..63 without "
                                       "leading zeros");
                        return VT_EMALFORMED;
                }
                if (p >= len || path[p] != '/') {
                        vt_diag_set(d, "tile path: '/' expected after the level");
                        return VT_EMALFORMED;
                }
                r.level = (int)v;
                p++;
        }
        /* <N>: "xDDD/" groups, then a final "DDD". */
        r.n = 0;
        for (;;) {
                int more = p < len && path[p] == 'x';
                unsigned g;

                if (more)
                        p++;
                if (len - p < 3 || !is_digit(path[p]) || !is_digit(path[p + 1]) ||
                    !is_digit(path[p + 2])) {
                        vt_diag_set(d, "tile path: index group %zu is not three digits", ng + 1);
                        return VT_EMALFORMED;
                }
                g = (unsigned)(path[p] - '0') * 100 + (unsigned)(path[p + 1] - '0') * 10 +
                    (unsigned)(path[p + 2] - '0');
                p += 3;
                if (ng == 0 && more && g == 0) {
                        vt_diag_set(d, "tile path: index has a leading zero group");
                        return VT_EMALFORMED;
                }
                if (r.n > (UINT64_MAX - g) / 1000) {
                        vt_diag_set(d, "tile path: index is too large");
                        return VT_EMALFORMED;
                }
                r.n = r.n * 1000 + g;
                ng++;
                if (!more)
                        break;
                if (p >= len || path[p] != '/') {
                        vt_diag_set(d, "tile path: '/' expected after index group %zu", ng);
                        return VT_EMALFORMED;
                }
                p++;
        }
        /* [.p/<W>] */
        r.width = VT_MERKLE_TILE_WIDTH;
        if (p < len) {
                if (len - p < 3 || memcmp(path + p, ".p/", 3) != 0) {
                        vt_diag_set(d, "tile path: unexpected text after the index");
                        return VT_EMALFORMED;
                }
                p += 3;
                if (parse_small(path, len, &p, 3, &v) != 0 || v < 1 || v >= VT_MERKLE_TILE_WIDTH ||
                    p != len) {
                        vt_diag_set(d, "tile path: partial width is not a decimal 1..255 "
                                       "without leading zeros");
                        return VT_EMALFORMED;
                }
                r.width = v;
        }
        *t = r;
        return 0;
}

/* ---- which tiles ---------------------------------------------------------- */

/* see merkle.h */
uint64_t vt_merkle_tile_count(uint64_t size, int level, unsigned *partial)
{
        uint64_t h = level_hashes(size, level);

        if (partial != NULL)
                *partial = (unsigned)(h & 255);
        return h >> 8;
}

/* see merkle.h */
void vt_merkle_tile_for_index(int64_t index, struct vt_merkle_tile *t)
{
        unsigned level, s;
        uint64_t k, first, end;

        vt_merkle_stored_split(index, &level, &k);
        /* Hash (level, k) covers tile-level hashes [k * 2^s, (k + 1) * 2^s), all in one tile. */
        s = level % TILE_H;
        first = k << s;
        end = (k + 1) << s;
        t->level = (int)(level / TILE_H);
        t->n = first >> 8;
        t->width = (unsigned)(end - (t->n << 8));
}

/* The tiles of one level that change from old to new hashes at that level (a < b). */
static uint64_t level_new_count(uint64_t a, uint64_t b)
{
        return ((b - 1) >> 8) - (a >> 8) + 1;
}

/* see merkle.h */
uint64_t vt_merkle_tiles_new_count(uint64_t old_size, uint64_t new_size)
{
        uint64_t c = 0;
        int l;

        if (old_size >= new_size)
                return 0;
        for (l = 0; l <= VT_MERKLE_TILE_MAX_LEVEL; l++) {
                uint64_t a = level_hashes(old_size, l), b = level_hashes(new_size, l);

                /* Equal at one level means equal at every level above. */
                if (a == b)
                        break;
                c += level_new_count(a, b);
        }
        return c;
}

/* see merkle.h */
int vt_merkle_tiles_new(uint64_t old_size, uint64_t new_size, struct vt_merkle_tile *out,
                        size_t cap, size_t *count)
{
        uint64_t total;
        size_t c = 0;
        int l;

        if (old_size > new_size)
                return VT_ERANGE;
        total = vt_merkle_tiles_new_count(old_size, new_size);
        if (total > cap)
                return VT_ETOOBIG;
        for (l = 0; l <= VT_MERKLE_TILE_MAX_LEVEL && old_size < new_size; l++) {
                uint64_t a = level_hashes(old_size, l), b = level_hashes(new_size, l), n;

                if (a == b)
                        break;
                /* From the tile that holds hash a (growing or new) to the one holding b - 1. */
                for (n = a >> 8; n <= (b - 1) >> 8; n++) {
                        out[c].level = l;
                        out[c].n = n;
                        out[c].width = b - (n << 8) >= VT_MERKLE_TILE_WIDTH
                                           ? VT_MERKLE_TILE_WIDTH
                                           : (unsigned)(b - (n << 8));
                        c++;
                }
        }
        assert(c == total);
        *count = c;
        return 0;
}

/* ---- tile contents ------------------------------------------------------------ */

/* see merkle.h */
int vt_merkle_tile_hash(const struct vt_merkle_tile *t, const uint8_t *data, size_t len,
                        int64_t index, struct vt_hash *out)
{
        struct vt_hash h[VT_MERKLE_TILE_WIDTH / 2], l, r;
        unsigned level, s, i, c;
        uint64_t k, first, end, off;

        if (t->level < 0 || t->level > VT_MERKLE_TILE_MAX_LEVEL)
                return VT_EINVAL;
        if (t->width < 1 || t->width > VT_MERKLE_TILE_WIDTH ||
            len != (size_t)t->width * VT_MERKLE_HASH_LEN)
                return VT_EMALFORMED;
        if (index < 0 || index >= INT64_MAX)
                return VT_ERANGE;
        vt_merkle_stored_split(index, &level, &k);
        if (level / TILE_H != (unsigned)t->level)
                return VT_ERANGE;
        s = level % TILE_H;
        first = k << s;
        end = (k + 1) << s;
        if ((first >> 8) != t->n || end - (t->n << 8) > t->width)
                return VT_ERANGE;
        off = first - (t->n << 8);
        if (s == 0) {
                memcpy(out->b, data + off * VT_MERKLE_HASH_LEN, VT_MERKLE_HASH_LEN);
                return 0;
        }
        /* A perfect subtree of 2^s tile hashes: hash pairs, then pairs of those, ... */
        c = 1u << s;
        for (i = 0; i < c / 2; i++) {
                memcpy(l.b, data + (off + 2 * i) * VT_MERKLE_HASH_LEN, VT_MERKLE_HASH_LEN);
                memcpy(r.b, data + (off + 2 * i + 1) * VT_MERKLE_HASH_LEN, VT_MERKLE_HASH_LEN);
                vt_merkle_node_hash(&l, &r, &h[i]);
        }
        for (c /= 2; c > 1; c /= 2)
                for (i = 0; i < c / 2; i++)
                        vt_merkle_node_hash(&h[2 * i], &h[2 * i + 1], &h[i]);
        *out = h[0];
        return 0;
}

/* see merkle.h */
int vt_merkle_tile_build(const struct vt_merkle_tile *t, vt_merkle_read_fn read, void *ctx,
                         struct vt_hash out[VT_MERKLE_TILE_WIDTH])
{
        int64_t idx[VT_MERKLE_TILE_WIDTH];
        unsigned level, i;

        if (t->level < 0 || t->level > VT_MERKLE_TILE_MAX_LEVEL || t->width < 1 ||
            t->width > VT_MERKLE_TILE_WIDTH)
                return VT_EINVAL;
        level = (unsigned)t->level * TILE_H;
        /* The tile's last hash must end within VT_MERKLE_MAX_SIZE leaves. */
        if (level >= 62 || t->width > (VT_MERKLE_MAX_SIZE >> level) ||
            t->n > ((VT_MERKLE_MAX_SIZE >> level) - t->width) >> 8)
                return VT_ERANGE;
        for (i = 0; i < t->width; i++)
                idx[i] = vt_merkle_stored_index(level, (t->n << 8) + i);
        return read(ctx, idx, t->width, out);
}

/* ---- reading stored hashes from tiles --------------------------------------- */

/* see merkle.h */
void vt_merkle_tile_reader_init(struct vt_merkle_tile_reader *r, uint64_t size,
                                vt_merkle_tile_fetch_fn fetch, void *ctx)
{
        unsigned i;

        r->size = size;
        r->fetch = fetch;
        r->ctx = ctx;
        r->tick = 0;
        for (i = 0; i < VT_MERKLE_TILE_CACHE; i++)
                r->last[i] = 0;
}

/*
 * The cache slot holding tile (level, n) with at least width hashes,
 * fetching it (at its width in the reader's tree) when absent. Hashes never
 * change once written, so a narrower cached copy is only replaced, never
 * wrong. Returns the slot in *slot.
 */
static int reader_tile(struct vt_merkle_tile_reader *r, const struct vt_merkle_tile *need,
                       unsigned *slot)
{
        struct vt_merkle_tile t;
        size_t len = 0;
        unsigned i, victim = 0;
        int err;

        for (i = 0; i < VT_MERKLE_TILE_CACHE; i++) {
                if (r->last[i] != 0 && r->cached[i].level == need->level &&
                    r->cached[i].n == need->n && r->cached[i].width >= need->width) {
                        r->last[i] = ++r->tick;
                        *slot = i;
                        return 0;
                }
                if (r->last[i] < r->last[victim])
                        victim = i;
        }
        t = *need;
        t.width = width_in_tree(r->size, need->level, need->n);
        if (t.width < need->width)
                return VT_ERANGE;
        i = victim;
        r->last[i] = 0;
        if ((err = r->fetch(r->ctx, &t, r->data[i], &len)) != 0)
                return err;
        if (len < (size_t)t.width * VT_MERKLE_HASH_LEN || len > VT_MERKLE_TILE_BYTES ||
            len % VT_MERKLE_HASH_LEN != 0)
                return VT_EMALFORMED;
        r->cached[i] = t;
        memset(r->have[i], 0, sizeof(r->have[i]));
        r->last[i] = ++r->tick;
        *slot = i;
        return 0;
}

/*
 * The hash at height s (0..7) inside cached tile slot, position j at that
 * height: a tile hash for s = 0, else memoised in inner[] at 256 - 512 / 2^s
 * + j (height 1 at 0..127, height 2 at 128..191, ..., height 7 at 252..253).
 * The caller has checked it is complete within the tile's width.
 */
static void reader_node(struct vt_merkle_tile_reader *r, unsigned slot, unsigned s, unsigned j,
                        struct vt_hash *out)
{
        struct vt_hash a, b;
        unsigned at;

        if (s == 0) {
                memcpy(out->b, r->data[slot] + (size_t)j * VT_MERKLE_HASH_LEN, VT_MERKLE_HASH_LEN);
                return;
        }
        at = VT_MERKLE_TILE_WIDTH - (2 * VT_MERKLE_TILE_WIDTH >> s) + j;
        if (!r->have[slot][at]) {
                reader_node(r, slot, s - 1, 2 * j, &a);
                reader_node(r, slot, s - 1, 2 * j + 1, &b);
                vt_merkle_node_hash(&a, &b, &r->inner[slot][at]);
                r->have[slot][at] = 1;
        }
        *out = r->inner[slot][at];
}

/* see merkle.h */
int vt_merkle_tile_reader_read(void *ctx, const int64_t *indexes, size_t n, struct vt_hash *out)
{
        struct vt_merkle_tile_reader *r = ctx;
        size_t i;
        int err;

        for (i = 0; i < n; i++) {
                struct vt_merkle_tile t;
                unsigned level, slot, s;
                uint64_t k;

                if (indexes[i] < 0 || indexes[i] >= INT64_MAX)
                        return VT_ERANGE;
                vt_merkle_stored_split(indexes[i], &level, &k);
                /* The hash must be complete in the reader's tree: (k + 1) * 2^level <= size. */
                if (level >= 63 || k >= (r->size >> level))
                        return VT_ERANGE;
                vt_merkle_tile_for_index(indexes[i], &t);
                if ((err = reader_tile(r, &t, &slot)) != 0)
                        return err;
                /* Position of hash (level, k) at height s inside the tile. */
                s = level % TILE_H;
                reader_node(r, slot, s, (unsigned)(k - (t.n << (TILE_H - s))), &out[i]);
        }
        return 0;
}

/* ---- entry bundles ---------------------------------------------------------- */

/* see merkle.h */
int vt_merkle_bundle_prefix(size_t len, uint8_t prefix[2])
{
        if (len > VT_MERKLE_BUNDLE_ENTRY_MAX)
                return VT_ETOOBIG;
        prefix[0] = (uint8_t)(len >> 8);
        prefix[1] = (uint8_t)(len & 0xff);
        return 0;
}

/* see merkle.h */
void vt_merkle_bundle_iter_init(struct vt_merkle_bundle_iter *it, const uint8_t *p, size_t len)
{
        it->p = p;
        it->len = len;
        it->off = 0;
        it->count = 0;
}

/* see merkle.h */
int vt_merkle_bundle_next(struct vt_merkle_bundle_iter *it, struct vt_span *entry)
{
        size_t rest = it->len - it->off, n;

        if (rest == 0)
                return VT_ENOENT;
        if (rest < 2)
                return VT_EMALFORMED;
        n = (size_t)it->p[it->off] << 8 | it->p[it->off + 1];
        if (rest - 2 < n)
                return VT_EMALFORMED;
        entry->p = it->p + it->off + 2;
        entry->len = n;
        it->off += 2 + n;
        it->count++;
        return 0;
}

/* see merkle.h */
int vt_merkle_bundle_check(const uint8_t *p, size_t len, unsigned width,
                           const struct vt_hash *leaves, struct vt_diag *d)
{
        struct vt_merkle_bundle_iter it;
        struct vt_span e;
        struct vt_hash h;
        int err;

        if (width < 1 || width > VT_MERKLE_TILE_WIDTH) {
                vt_diag_set(d, "entry bundle: width %u is not 1..256", width);
                return VT_EINVAL;
        }
        vt_merkle_bundle_iter_init(&it, p, len);
        while ((err = vt_merkle_bundle_next(&it, &e)) == 0) {
                if (it.count > width) {
                        vt_diag_set(d, "entry bundle: more than %u entries", width);
                        return VT_EMALFORMED;
                }
                if (leaves != NULL) {
                        vt_merkle_leaf_hash(e.p, e.len, &h);
                        if (memcmp(h.b, leaves[it.count - 1].b, VT_MERKLE_HASH_LEN) != 0) {
                                vt_diag_set(d,
                                            "entry bundle: entry %llu does not match its "
                                            "leaf hash",
                                            (unsigned long long)(it.count - 1));
                                return VT_EPROOF;
                        }
                }
        }
        if (err != VT_ENOENT) {
                vt_diag_set(d, "entry bundle: entry %llu is cut off", (unsigned long long)it.count);
                return VT_EMALFORMED;
        }
        if (it.count != width) {
                vt_diag_set(d, "entry bundle: %llu entries where %u were expected",
                            (unsigned long long)it.count, width);
                return VT_EMALFORMED;
        }
        return 0;
}
