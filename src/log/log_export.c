/*
 * log_export.c: write the log as a static C2SP tlog-tiles tree:
 *
 *   <out>/checkpoint                    the latest signed checkpoint
 *   <out>/tile/<L>/<N>[.p/<W>]          hash tiles
 *   <out>/tile/entries/<N>[.p/<W>]      entry bundles
 *
 * tlog-tiles requires the partial tiles of every tree size a checkpoint was
 * published for, until the full tile exists. So besides every full tile and
 * the partial tiles of the current size, we write, for each level, the
 * partial tile of every earlier checkpoint whose tile is still the partial
 * one of the current tree: it is a prefix of the current partial tile
 * (hashes and entries never change once written). At most 255 per level.
 *
 * Order and atomicity: every file is written whole (temporary file, fsync,
 * rename: vt_util_write_file), tiles first and "checkpoint" last, so a
 * reader who sees a checkpoint finds every tile it needs. Files already
 * present with the same bytes are left alone: exporting again only writes
 * what is new.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log_int.h"

struct export
{
        struct vt_log *log;
        const char *outdir;
        struct vt_diag *d;
        struct vt_buf path, data, old;
        char made[VT_MERKLE_TILE_PATH_MAX]; /* the last directory we made, relative */
        uint64_t files;
};

/* mkdir that accepts an existing directory. */
static int export_mkdir(const char *p, struct vt_diag *d)
{
        struct stat st;

        if (mkdir(p, 0755) == 0)
                return 0;
        if (errno == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                return 0;
        vt_diag_set(d, "cannot create directory '%s': %s", p, strerror(errno));
        return VT_EIO;
}

/* Make the directories of rel (a path relative to outdir) below outdir. */
static int export_dirs(struct export *e, const char *rel)
{
        const char *slash = strrchr(rel, '/');
        size_t n = slash != NULL ? (size_t)(slash - rel) : 0, base, i;
        int err;

        if (n == 0 || (strlen(e->made) == n && memcmp(e->made, rel, n) == 0))
                return 0;
        e->path.len = 0;
        if (vt_buf_puts(&e->path, e->outdir) != 0 || vt_buf_puts(&e->path, "/") != 0)
                return VT_ENOMEM;
        base = e->path.len;
        if (vt_buf_append(&e->path, rel, n) != 0)
                return VT_ENOMEM;
        for (i = base; i <= e->path.len; i++) {
                if (i < e->path.len && e->path.p[i] != '/')
                        continue;
                e->path.p[i] = '\0';
                err = export_mkdir((const char *)e->path.p, e->d);
                if (i < e->path.len)
                        e->path.p[i] = '/';
                if (err != 0)
                        return err;
        }
        memcpy(e->made, rel, n);
        e->made[n] = '\0';
        return 0;
}

/* Write outdir/rel unless it already holds exactly these bytes. */
static int export_file(struct export *e, const char *rel, const uint8_t *p, size_t n)
{
        int err;

        if ((err = export_dirs(e, rel)) != 0)
                return err;
        e->path.len = 0;
        if (vt_buf_printf(&e->path, "%s/%s", e->outdir, rel) != 0)
                return VT_ENOMEM;
        vt_buf_release(&e->old); /* read_file fills a fresh buffer */
        if (vt_util_read_file((const char *)e->path.p, n, &e->old, NULL) == 0 && e->old.len == n &&
            memcmp(e->old.p, p, n) == 0) {
                e->files++;
                return 0;
        }
        if ((err = vt_util_write_file((const char *)e->path.p, p, n, 0644, e->d)) != 0)
                return err;
        e->files++;
        return 0;
}

static int export_tile(struct export *e, int level, uint64_t n, unsigned w, const uint8_t *p,
                       size_t len)
{
        struct vt_merkle_tile t = {level, n, w};
        char rel[VT_MERKLE_TILE_PATH_MAX];

        if (vt_merkle_tile_path(&t, rel, sizeof(rel)) == 0)
                return VT_EINVAL;
        return export_file(e, rel, p, len);
}

/* Byte length of the first w entries of a bundle. */
static size_t export_bundle_prefix(const uint8_t *p, size_t len, unsigned w)
{
        struct vt_merkle_bundle_iter it;
        struct vt_span s;
        unsigned i;

        vt_merkle_bundle_iter_init(&it, p, len);
        for (i = 0; i < w; i++)
                if (vt_merkle_bundle_next(&it, &s) != 0)
                        return 0;
        return it.off;
}

/* Every tile of one level (-1: the entry bundles) of the tree of size. */
static int export_level(struct export *e, int level, uint64_t size)
{
        unsigned shift = level > 0 ? 8 * (unsigned)level : 0, wn, w;
        uint64_t full = vt_log_shr(size, shift + 8), n, start, from, s;
        struct vt_store *st;
        size_t len;
        int err;

        for (n = 0; n < full; n++) {
                e->data.len = 0;
                if ((err = vt_log_tile(e->log, level, n, 256, &e->data, e->d)) != 0 ||
                    (err = export_tile(e, level, n, 256, e->data.p, e->data.len)) != 0)
                        return err;
        }
        wn = (unsigned)((size >> shift) & 255);
        if (wn == 0)
                return 0;
        e->data.len = 0;
        if ((err = vt_log_tile(e->log, level, full, wn, &e->data, e->d)) != 0)
                return err;
        /* The partial tiles of earlier checkpoints on this tile: one lookup per width. */
        start = shift + 8 >= 64 ? 0 : full << (shift + 8);
        for (from = start; from < size;) {
                if ((err = vt_log_read_lock(e->log, &st, e->d)) != 0)
                        return err;
                err = vt_store_checkpoint_next(st, from, &s, NULL, e->d);
                vt_log_read_unlock(e->log);
                if (err == VT_ENOENT || (err == 0 && s >= size))
                        break;
                if (err != 0)
                        return err;
                w = (unsigned)((s >> shift) & 255);
                if (w >= wn)
                        break;
                if (w > 0) {
                        len = level >= 0 ? (size_t)w * VT_MERKLE_HASH_LEN
                                         : export_bundle_prefix(e->data.p, e->data.len, w);
                        if (len == 0)
                                return VT_ECORRUPT;
                        if ((err = export_tile(e, level, full, w, e->data.p, len)) != 0)
                                return err;
                }
                from = start + ((uint64_t)(w + 1) << shift);
        }
        return export_tile(e, level, full, wn, e->data.p, e->data.len);
}

/* see log.h */
int vt_log_export(struct vt_log *log, const char *outdir, uint64_t *files, struct vt_diag *d)
{
        struct export e;
        struct vt_buf note;
        uint64_t size = 0;
        int level, err;

        memset(&e, 0, sizeof(e));
        e.log = log;
        e.outdir = outdir;
        e.d = d;
        vt_buf_init(&e.path);
        vt_buf_init(&e.data);
        vt_buf_init(&e.old);
        vt_buf_init(&note);
        if ((err = vt_log_checkpoint(log, &size, &note, d)) != 0)
                goto out;
        if ((err = export_mkdir(outdir, d)) != 0)
                goto out;
        /* Levels while they hold a hash; then the bundles. */
        for (level = 0; level < VT_LOG_LEVELS && (size >> (8 * level)) != 0; level++)
                if ((err = export_level(&e, level, size)) != 0)
                        goto out;
        if ((err = export_level(&e, VT_MERKLE_TILE_ENTRIES, size)) != 0)
                goto out;
        /* Last: the checkpoint that makes the new tiles reachable. */
        if ((err = export_file(&e, "checkpoint", note.p, note.len)) != 0)
                goto out;
        if (files != NULL)
                *files = e.files;
out:
        if (err != 0 && d != NULL) {
                if (d->msg[0] == '\0')
                        vt_diag_set(d, "%s", vt_strerror(err));
                vt_diag_prefix(d, "export to '%s'", outdir);
        }
        vt_buf_release(&e.path);
        vt_buf_release(&e.data);
        vt_buf_release(&e.old);
        vt_buf_release(&note);
        return err;
}
