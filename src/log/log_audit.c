/*
 * log_audit.c: recompute the whole tree from the entry bundles alone and
 * compare it with everything stored beside them.
 *
 * One pass over the bundles, in order: each entry is hashed (RFC 9162
 * §2.1.1) and compared at once with the stored level-0 tile of its bundle
 * (so a changed entry is named where it is), then appended to a fresh
 * frontier, which yields the hashes of every upper tile level (C2SP
 * tlog-tiles); each such tile is compared with the stored one as soon as it
 * is complete, the partial ones at the end. Whenever the pass
 * reaches the size of a published checkpoint, that checkpoint's signature
 * (log key, origin) and root are checked. Memory stays flat: one bundle, one
 * stored tile and one 8 KiB tile per level.
 *
 * A writer may keep appending while we audit (another process). The audit
 * covers the tree of the latest checkpoint when it starts; the right edge
 * may since have grown, so when a partial tile or bundle is wider than that
 * size needs, or something lies beyond it, we look again at the latest
 * checkpoint: if the log grew, the extra hashes belong to a later tree and
 * only the prefix is compared.
 */
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"

struct audit {
        struct vt_log *log;
        struct vt_store *s;
        struct vt_diag *d;
        uint64_t size; /* the tree being audited */
        int grew;      /* the log has grown past size since the audit began */
        struct vt_buf bundle, tile, note;
        uint8_t *lv[VT_LOG_LEVELS];
        struct vt_merkle_frontier f;
        uint64_t next_ck; /* the next checkpoint size to check, UINT64_MAX if none */
        struct vt_log_audit_stats st;
};

/* Has the log grown past a->size? (Remembered once seen.) */
static int audit_grew(struct audit *a)
{
        uint64_t n = 0;

        if (!a->grew) {
                a->note.len = 0;
                if (vt_store_checkpoint_latest(a->s, &n, &a->note, NULL) == 0 && n > a->size)
                        a->grew = 1;
        }
        return a->grew;
}

/* Find the next checkpoint at or after from. */
static int audit_next_ck(struct audit *a, uint64_t from)
{
        uint64_t n = 0;
        int err;

        a->note.len = 0;
        err = vt_store_checkpoint_next(a->s, from, &n, NULL, a->d);
        if (err == VT_ENOENT || (err == 0 && n > a->size)) {
                a->next_ck = UINT64_MAX;
                return 0;
        }
        if (err != 0)
                return err;
        a->next_ck = n;
        return 0;
}

/* The checkpoint of size a->next_ck == the frontier's size: signature, origin, root. */
static int audit_checkpoint(struct audit *a)
{
        struct vt_encoding_checkpoint *c;
        struct vt_hash root;
        uint64_t n = a->next_ck;
        int err;

        a->note.len = 0;
        if ((err = vt_store_checkpoint_get(a->s, n, &a->note, a->d)) != 0)
                return err;
        if ((c = malloc(sizeof(*c))) == NULL)
                return VT_ENOMEM;
        err = vt_encoding_checkpoint_open(a->note.p, a->note.len, a->log->verifier, c, a->d);
        if (err != 0) {
                vt_diag_prefix(a->d, "checkpoint %llu", (unsigned long long)n);
                err = VT_EAUDIT;
        } else if (c->size != n || strcmp(c->origin, a->log->origin) != 0) {
                vt_diag_set(a->d, "checkpoint %llu: it says origin '%s' size %llu",
                            (unsigned long long)n, c->origin, (unsigned long long)c->size);
                err = VT_EAUDIT;
        } else {
                vt_merkle_frontier_root(&a->f, &root);
                if (memcmp(root.b, c->root.b, sizeof(root.b)) != 0) {
                        vt_diag_set(
                            a->d,
                            "checkpoint %llu: root differs from the tree recomputed from the "
                            "entries",
                            (unsigned long long)n);
                        err = VT_EAUDIT;
                }
        }
        free(c);
        if (err != 0)
                return err;
        a->st.checkpoints++;
        return audit_next_ck(a, n + 1);
}

/*
 * Compare the recomputed tile (level, tn) of width w (hashes in mine) with
 * the stored one. exact: the stored width must be w (a tile of the audited
 * tree), unless the log grew meanwhile.
 */
static int audit_tile(struct audit *a, unsigned level, uint64_t tn, unsigned w, const uint8_t *mine)
{
        char name[64];
        unsigned sw = 0, i;
        int err;

        vt_log_tile_name((int)level, tn, w, name, sizeof(name));
        a->tile.len = 0;
        err = vt_store_tile_get(a->s, level, tn, &sw, &a->tile, a->d);
        if (err == VT_ENOENT) {
                vt_diag_set(a->d, "tile %s: missing", name);
                return VT_EAUDIT;
        }
        if (err != 0)
                return err;
        if (a->tile.len != (size_t)sw * VT_MERKLE_HASH_LEN) {
                vt_diag_set(a->d, "tile %s: %zu bytes for %u hashes", name, a->tile.len, sw);
                return VT_EAUDIT;
        }
        if (sw < w || (sw > w && !audit_grew(a))) {
                vt_diag_set(a->d, "tile %s: stored with %u hashes, the tree has %u", name, sw, w);
                return VT_EAUDIT;
        }
        for (i = 0; i < w; i++) {
                if (memcmp(a->tile.p + (size_t)i * VT_MERKLE_HASH_LEN,
                           mine + (size_t)i * VT_MERKLE_HASH_LEN, VT_MERKLE_HASH_LEN) != 0) {
                        vt_diag_set(a->d, "tile %s: hash %u differs", name, i);
                        return VT_EAUDIT;
                }
        }
        a->st.tiles++;
        return 0;
}

/* Nothing may be stored at tile (level, tn) (level -1: bundle) unless the log grew. */
static int audit_absent(struct audit *a, int level, uint64_t tn)
{
        char name[64];
        unsigned w = 0;
        int err;

        a->tile.len = 0;
        if (level >= 0)
                err = vt_store_tile_get(a->s, (unsigned)level, tn, &w, &a->tile, a->d);
        else
                err = vt_store_bundle_get(a->s, tn, &w, &a->tile, a->d);
        if (err == VT_ENOENT)
                return 0;
        if (err != 0)
                return err;
        if (audit_grew(a))
                return 0;
        vt_diag_set(a->d, "%s %s: stored beyond the tree of size %llu",
                    level >= 0 ? "tile" : "entry bundle",
                    vt_log_tile_name(level, tn, w, name, sizeof(name)),
                    (unsigned long long)a->size);
        return VT_EAUDIT;
}

/*
 * One bundle: parse, hash, compare each leaf hash with the stored level-0
 * tile at once (so a changed entry is named where it is), extend the upper
 * levels, check completed tiles and checkpoints.
 */
static int audit_bundle(struct audit *a, uint64_t bn)
{
        struct vt_hash out[VT_MERKLE_MAX_NEW_HASHES], leaf;
        struct vt_merkle_bundle_iter it;
        struct vt_span e;
        char name[64], tname[64];
        uint64_t want64 = a->size - bn * 256, idx, k;
        unsigned want = want64 > 256 ? 256 : (unsigned)want64, sw = 0, tw = 0, i, l;
        size_t cnt;
        int err;

        vt_log_tile_name(VT_MERKLE_TILE_ENTRIES, bn, want, name, sizeof(name));
        vt_log_tile_name(0, bn, want, tname, sizeof(tname));
        a->bundle.len = 0;
        err = vt_store_bundle_get(a->s, bn, &sw, &a->bundle, a->d);
        if (err == VT_ENOENT) {
                vt_diag_set(a->d, "entry bundle %s: missing", name);
                return VT_EAUDIT;
        }
        if (err != 0)
                return err;
        if (sw < want || (sw > want && !audit_grew(a))) {
                vt_diag_set(a->d, "entry bundle %s: stored with %u entries, the tree has %u", name,
                            sw, want);
                return VT_EAUDIT;
        }
        a->tile.len = 0;
        err = vt_store_tile_get(a->s, 0, bn, &tw, &a->tile, a->d);
        if (err == VT_ENOENT) {
                vt_diag_set(a->d, "tile %s: missing", tname);
                return VT_EAUDIT;
        }
        if (err != 0)
                return err;
        if (a->tile.len != (size_t)tw * VT_MERKLE_HASH_LEN || tw < want ||
            (tw > want && !audit_grew(a))) {
                vt_diag_set(a->d, "tile %s: stored with %u hashes, the tree has %u", tname, tw,
                            want);
                return VT_EAUDIT;
        }
        a->st.bundles++;
        a->st.tiles++;
        vt_merkle_bundle_iter_init(&it, a->bundle.p, a->bundle.len);
        for (i = 0; i < want; i++) {
                idx = bn * 256 + i;
                if (vt_merkle_bundle_next(&it, &e) != 0) {
                        vt_diag_set(a->d, "entry bundle %s: entry %llu is cut off", name,
                                    (unsigned long long)idx);
                        return VT_EAUDIT;
                }
                if (e.len == 0) {
                        vt_diag_set(a->d, "entry bundle %s: entry %llu is empty", name,
                                    (unsigned long long)idx);
                        return VT_EAUDIT;
                }
                vt_merkle_leaf_hash(e.p, e.len, &leaf);
                if (memcmp(leaf.b, a->tile.p + (size_t)i * VT_MERKLE_HASH_LEN,
                           VT_MERKLE_HASH_LEN) != 0) {
                        vt_diag_set(a->d, "tile %s: hash %u differs", tname, i);
                        return VT_EAUDIT;
                }
                if ((err = vt_merkle_frontier_append(&a->f, &leaf, out, &cnt)) != 0)
                        return err;
                /* Level 0 is checked above; the levels above as their tiles fill up. */
                for (l = 1; l < VT_LOG_LEVELS && 8 * l < cnt; l++) {
                        k = idx >> (8 * l);
                        memcpy(a->lv[l] + (k & 255) * VT_MERKLE_HASH_LEN, out[8 * l].b,
                               VT_MERKLE_HASH_LEN);
                        if ((k & 255) == 255 &&
                            (err = audit_tile(a, l, k >> 8, 256, a->lv[l])) != 0)
                                return err;
                }
                if (idx + 1 == a->next_ck && (err = audit_checkpoint(a)) != 0)
                        return err;
        }
        /* Nothing after the entries (unless the bundle grew since). */
        if (sw == want && vt_merkle_bundle_next(&it, &e) != VT_ENOENT) {
                vt_diag_set(a->d, "entry bundle %s: bytes after its %u entries", name, want);
                return VT_EAUDIT;
        }
        return 0;
}

static int audit_run(struct audit *a)
{
        uint64_t bn, nb;
        unsigned l, w;
        int err;

        a->note.len = 0;
        err = vt_store_checkpoint_latest(a->s, &a->size, &a->note, a->d);
        if (err == VT_ENOENT) {
                vt_diag_set(a->d, "log '%s' has no checkpoint", a->log->dir);
                return VT_EAUDIT;
        }
        if (err != 0)
                return err;
        if (a->size > VT_MERKLE_MAX_SIZE) {
                vt_diag_set(a->d, "checkpoint %llu: larger than any tree",
                            (unsigned long long)a->size);
                return VT_EAUDIT;
        }
        a->st.size = a->size;
        vt_merkle_frontier_init(&a->f);
        if ((err = audit_next_ck(a, 0)) != 0)
                return err;
        if (a->next_ck == 0 && (err = audit_checkpoint(a)) != 0)
                return err;
        nb = (a->size + 255) / 256;
        for (bn = 0; bn < nb; bn++)
                if ((err = audit_bundle(a, bn)) != 0)
                        return err;
        /* The latest checkpoint itself was checked when the pass reached its size. */
        if (a->st.checkpoints == 0 || a->next_ck != UINT64_MAX) {
                vt_diag_set(a->d, "checkpoint %llu was not reached by the recomputation",
                            (unsigned long long)a->size);
                return VT_EAUDIT;
        }
        /* The partial tiles, and nothing beyond the tree at any level. */
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                w = (unsigned)((a->size >> (8 * l)) & 255);
                if (l > 0 && w != 0 &&
                    (err = audit_tile(a, l, vt_log_shr(a->size, 8 * (l + 1)), w, a->lv[l])) != 0)
                        return err;
                if ((err = audit_absent(a, (int)l, ((a->size >> (8 * l)) + 255) / 256)) != 0)
                        return err;
                if ((a->size >> (8 * l)) == 0)
                        break;
        }
        return audit_absent(a, VT_MERKLE_TILE_ENTRIES, nb);
}

/* see log.h */
int vt_log_audit(struct vt_log *log, struct vt_log_audit_stats *stats, struct vt_diag *d)
{
        struct audit *a;
        unsigned l;
        int err;

        if ((a = calloc(1, sizeof(*a))) == NULL)
                return VT_ENOMEM;
        a->log = log;
        a->d = d;
        vt_buf_init(&a->bundle);
        vt_buf_init(&a->tile);
        vt_buf_init(&a->note);
        for (l = 0; l < VT_LOG_LEVELS; l++) {
                if ((a->lv[l] = malloc(VT_MERKLE_TILE_BYTES)) == NULL) {
                        err = VT_ENOMEM;
                        goto out;
                }
        }
        /* No append of ours in between; others are handled (see the top). */
        pthread_mutex_lock(&log->wmu);
        if ((err = vt_log_read_lock(log, &a->s, d)) == 0) {
                err = audit_run(a);
                vt_log_read_unlock(log);
        }
        pthread_mutex_unlock(&log->wmu);
        if (err == 0 && stats != NULL)
                *stats = a->st;
out:
        for (l = 0; l < VT_LOG_LEVELS; l++)
                free(a->lv[l]);
        vt_buf_release(&a->bundle);
        vt_buf_release(&a->tile);
        vt_buf_release(&a->note);
        free(a);
        return err;
}
