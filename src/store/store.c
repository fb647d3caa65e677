/*
 * store.c: the store interface (store.h) and what every back end shares.
 *
 * Each public function validates its arguments, checks the open mode and the
 * transaction state, then dispatches through the back end's operation table
 * (store_impl.h). Back ends therefore see only valid requests, and the rules
 * below hold for all of them:
 *
 *   - widths are 1..VT_STORE_WIDTH, tile levels 0..VT_STORE_LEVEL_MAX, a tile
 *     is exactly width*32 bytes, bundles and notes are non-empty and below
 *     their limits, integers fit a signed 64-bit column;
 *   - a store opened VT_STORE_READONLY refuses begin and every put;
 *   - transactions: NONE --begin--> OPEN --commit/rollback--> NONE. A put that
 *     fails inside OPEN (other than a refusal of its arguments, VT_EINVAL,
 *     before anything was written) rolls the transaction back and moves to
 *     FAILED, where
 *     puts and commit fail (so no later put can slip out in autocommit mode
 *     and land without its siblings) until rollback or a new begin.
 *     Outside a transaction each put is its own durable transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"
#include "veritrail/store.h"

#define INT64_LIMIT ((uint64_t)INT64_MAX)

/* check_writable(s, d): VT_EINVAL when s was opened read-only. */
static int check_writable(struct vt_store *s, struct vt_diag *d)
{
        if (s->flags & VT_STORE_READONLY) {
                vt_diag_set(d, "store '%s' is open read-only", s->dir);
                return VT_EINVAL;
        }
        return 0;
}

/* put_prologue(s, d): may a put run now? */
static int put_prologue(struct vt_store *s, struct vt_diag *d)
{
        int err;

        if ((err = check_writable(s, d)) != 0)
                return err;
        if (s->tx == VT_STORE_TX_FAILED) {
                vt_diag_set(d, "store '%s': the transaction was rolled back after an earlier error",
                            s->dir);
                return VT_ESTORE;
        }
        return 0;
}

/*
 * put_epilogue(s, err): a failed put inside a transaction abandons it, except
 * a put the back end refused for its arguments (VT_EINVAL: a bundle that does
 * not grow at the end of the log), which wrote nothing.
 */
static int put_epilogue(struct vt_store *s, int err)
{
        if (err != 0 && err != VT_EINVAL && s->tx == VT_STORE_TX_OPEN) {
                s->ops->rollback(s);
                s->tx = VT_STORE_TX_FAILED;
        }
        return err;
}

/* check_width(s, what, width, d): widths are 1..256 (C2SP tlog-tiles). */
static int check_width(struct vt_store *s, const char *what, unsigned width, struct vt_diag *d)
{
        if (width < 1 || width > VT_STORE_WIDTH) {
                vt_diag_set(d, "store '%s': %s width %u is not between 1 and %u", s->dir, what,
                            width, VT_STORE_WIDTH);
                return VT_EINVAL;
        }
        return 0;
}

/* check_index(s, what, n, d): row numbers are stored as signed 64-bit integers. */
static int check_index(struct vt_store *s, const char *what, uint64_t n, struct vt_diag *d)
{
        if (n > INT64_LIMIT) {
                vt_diag_set(d, "store '%s': %s %llu is out of range", s->dir, what,
                            (unsigned long long)n);
                return VT_EINVAL;
        }
        return 0;
}

/* check_level(s, level, d): tile levels are 0..VT_STORE_LEVEL_MAX. */
static int check_level(struct vt_store *s, unsigned level, struct vt_diag *d)
{
        if (level > VT_STORE_LEVEL_MAX) {
                vt_diag_set(d, "store '%s': tile level %u is above %u", s->dir, level,
                            VT_STORE_LEVEL_MAX);
                return VT_EINVAL;
        }
        return 0;
}

/* check_blob(s, what, p, len, min, max, d): a byte span with its length limits. */
static int check_blob(struct vt_store *s, const char *what, const void *p, size_t len, size_t min,
                      size_t max, struct vt_diag *d)
{
        if (p == NULL && len > 0) {
                vt_diag_set(d, "store '%s': %s has no bytes", s->dir, what);
                return VT_EINVAL;
        }
        if (len < min) {
                vt_diag_set(d, "store '%s': %s is empty", s->dir, what);
                return VT_EINVAL;
        }
        if (len > max) {
                vt_diag_set(d, "store '%s': %s is %zu bytes, more than the limit of %zu", s->dir,
                            what, len, max);
                return VT_ETOOBIG;
        }
        return 0;
}

/* check_key(s, key, d): meta keys are 1..VT_STORE_KEY_MAX printable ASCII characters. */
static int check_key(struct vt_store *s, const char *key, struct vt_diag *d)
{
        size_t i;

        if (key == NULL || key[0] == '\0') {
                vt_diag_set(d, "store '%s': metadata key is empty", s->dir);
                return VT_EINVAL;
        }
        for (i = 0; key[i] != '\0'; i++) {
                if (i >= VT_STORE_KEY_MAX) {
                        vt_diag_set(d, "store '%s': metadata key is longer than %u bytes", s->dir,
                                    VT_STORE_KEY_MAX);
                        return VT_EINVAL;
                }
                if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f) {
                        vt_diag_set(d, "store '%s': metadata key has a byte 0x%02x at offset %zu",
                                    s->dir, (unsigned)(unsigned char)key[i], i);
                        return VT_EINVAL;
                }
        }
        return 0;
}

/* check_out(s, out, d): every get needs an output buffer. */
static int check_out(struct vt_store *s, const void *out, struct vt_diag *d)
{
        if (out == NULL) {
                vt_diag_set(d, "store '%s': no output buffer", s->dir);
                return VT_EINVAL;
        }
        return 0;
}

/* see store.h */
int vt_store_open(const char *dir, int flags, struct vt_store **out, struct vt_diag *d)
{
        struct vt_store *s = NULL;
        char *copy = NULL;
        int err;

        if (dir == NULL || dir[0] == '\0' || out == NULL) {
                vt_diag_set(d, "store: no data directory given");
                return VT_EINVAL;
        }
        if ((flags & ~(VT_STORE_CREATE | VT_STORE_READONLY)) != 0 ||
            (flags & (VT_STORE_CREATE | VT_STORE_READONLY)) ==
                (VT_STORE_CREATE | VT_STORE_READONLY)) {
                vt_diag_set(d, "store '%s': invalid open flags 0x%x", dir, (unsigned)flags);
                return VT_EINVAL;
        }
        if ((copy = strdup(dir)) == NULL) {
                vt_diag_set(d, "store '%s': out of memory", dir);
                return VT_ENOMEM;
        }
        if ((err = vt_store_sqlite_open(dir, flags, &s, d)) != 0)
                goto fail;
        s->dir = copy;
        s->flags = flags;
        s->tx = VT_STORE_TX_NONE;
        *out = s;
        return 0;
fail:
        free(copy);
        return err;
}

/* see store.h */
void vt_store_close(struct vt_store *s)
{
        char *dir;

        if (s == NULL)
                return;
        if (s->tx != VT_STORE_TX_NONE)
                s->ops->rollback(s);
        dir = s->dir;
        s->ops->close(s);
        free(dir);
}

/* see store.h */
void vt_store_set_busy_timeout(struct vt_store *s, unsigned ms)
{
        s->ops->set_busy_timeout(s, ms);
}

/* see store.h */
int vt_store_begin(struct vt_store *s, struct vt_diag *d)
{
        int err;

        if ((err = check_writable(s, d)) != 0)
                return err;
        if (s->tx == VT_STORE_TX_OPEN) {
                vt_diag_set(d, "store '%s': a transaction is already open", s->dir);
                return VT_EINVAL;
        }
        /* A FAILED transaction was rolled back already; begin starts afresh. */
        s->tx = VT_STORE_TX_NONE;
        if ((err = s->ops->begin(s, d)) != 0)
                return err;
        s->tx = VT_STORE_TX_OPEN;
        return 0;
}

/* see store.h */
int vt_store_commit(struct vt_store *s, struct vt_diag *d)
{
        int err;

        if (s->tx == VT_STORE_TX_FAILED) {
                s->tx = VT_STORE_TX_NONE;
                vt_diag_set(d, "store '%s': the transaction was rolled back after an earlier error",
                            s->dir);
                return VT_ESTORE;
        }
        if (s->tx != VT_STORE_TX_OPEN) {
                vt_diag_set(d, "store '%s': no transaction to commit", s->dir);
                return VT_EINVAL;
        }
        /* Success or not, the transaction is over (the back end rolls back on failure). */
        err = s->ops->commit(s, d);
        s->tx = VT_STORE_TX_NONE;
        return err;
}

/* see store.h */
void vt_store_rollback(struct vt_store *s)
{
        if (s == NULL)
                return;
        if (s->tx == VT_STORE_TX_OPEN)
                s->ops->rollback(s);
        s->tx = VT_STORE_TX_NONE;
}

/* see store.h */
int vt_store_wal_flush(struct vt_store *s, struct vt_diag *d)
{
        int err;

        if ((err = check_writable(s, d)) != 0)
                return err;
        if (s->tx != VT_STORE_TX_NONE) {
                vt_diag_set(d, "store '%s': cannot flush the write-ahead log inside a transaction",
                            s->dir);
                return VT_EINVAL;
        }
        return s->ops->wal_flush(s, d);
}

/* see store.h */
int vt_store_meta_put(struct vt_store *s, const char *key, const void *p, size_t n,
                      struct vt_diag *d)
{
        int err;

        if ((err = check_key(s, key, d)) != 0 ||
            (err = check_blob(s, "metadata value", p, n, 0, VT_STORE_META_MAX, d)) != 0 ||
            (err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->meta_put(s, key, n > 0 ? p : "", n, d));
}

/* see store.h */
int vt_store_meta_get(struct vt_store *s, const char *key, struct vt_buf *out, struct vt_diag *d)
{
        int err;

        if ((err = check_key(s, key, d)) != 0 || (err = check_out(s, out, d)) != 0)
                return err;
        return s->ops->meta_get(s, key, out, d);
}

/* see store.h */
int vt_store_bundle_put(struct vt_store *s, uint64_t n, unsigned width, const uint8_t *p,
                        size_t len, struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "bundle", n, d)) != 0 ||
            (err = check_width(s, "bundle", width, d)) != 0 ||
            (err = check_blob(s, "bundle", p, len, 1, VT_STORE_BUNDLE_MAX, d)) != 0 ||
            (err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->bundle_put(s, n, width, p, len, d));
}

/* see store.h */
int vt_store_bundle_get(struct vt_store *s, uint64_t n, unsigned *width, struct vt_buf *out,
                        struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "bundle", n, d)) != 0 || (err = check_out(s, out, d)) != 0 ||
            (err = check_out(s, width, d)) != 0)
                return err;
        return s->ops->bundle_get(s, n, width, out, d);
}

/* see store.h */
int vt_store_tile_put(struct vt_store *s, unsigned level, uint64_t n, unsigned width,
                      const uint8_t *p, size_t len, struct vt_diag *d)
{
        int err;

        if ((err = check_level(s, level, d)) != 0 || (err = check_index(s, "tile", n, d)) != 0 ||
            (err = check_width(s, "tile", width, d)) != 0)
                return err;
        if (p == NULL || len != (size_t)width * VT_STORE_HASH_SIZE) {
                vt_diag_set(d, "store '%s': tile %u/%llu of width %u must be %u bytes, not %zu",
                            s->dir, level, (unsigned long long)n, width, width * VT_STORE_HASH_SIZE,
                            len);
                return VT_EINVAL;
        }
        if ((err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->tile_put(s, level, n, width, p, len, d));
}

/* see store.h */
int vt_store_tile_get(struct vt_store *s, unsigned level, uint64_t n, unsigned *width,
                      struct vt_buf *out, struct vt_diag *d)
{
        int err;

        if ((err = check_level(s, level, d)) != 0 || (err = check_index(s, "tile", n, d)) != 0 ||
            (err = check_out(s, out, d)) != 0 || (err = check_out(s, width, d)) != 0)
                return err;
        return s->ops->tile_get(s, level, n, width, out, d);
}

/* see store.h */
int vt_store_checkpoint_put(struct vt_store *s, uint64_t size, const uint8_t *note, size_t len,
                            struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "checkpoint size", size, d)) != 0 ||
            (err = check_blob(s, "checkpoint note", note, len, 1, VT_STORE_NOTE_MAX, d)) != 0 ||
            (err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->checkpoint_put(s, size, note, len, d));
}

/* see store.h */
int vt_store_checkpoint_get(struct vt_store *s, uint64_t size, struct vt_buf *out,
                            struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "checkpoint size", size, d)) != 0 ||
            (err = check_out(s, out, d)) != 0)
                return err;
        return s->ops->checkpoint_get(s, size, out, d);
}

/* see store.h */
int vt_store_checkpoint_latest(struct vt_store *s, uint64_t *size, struct vt_buf *out,
                               struct vt_diag *d)
{
        int err;

        if ((err = check_out(s, out, d)) != 0 || (err = check_out(s, size, d)) != 0)
                return err;
        return s->ops->checkpoint_latest(s, size, out, d);
}

/* see store.h */
int vt_store_checkpoint_next(struct vt_store *s, uint64_t from, uint64_t *size, struct vt_buf *note,
                             struct vt_diag *d)
{
        int err;

        if ((err = check_out(s, size, d)) != 0)
                return err;
        if (from > INT64_LIMIT) {
                vt_diag_set(d, "store '%s': no checkpoint of size %llu or more", s->dir,
                            (unsigned long long)from);
                return VT_ENOENT;
        }
        return s->ops->checkpoint_next(s, from, size, note, d);
}

/* ---- Service tables (schema version 2) ---------------------------------------- */

/* check_digest(s, what, p, d): a 32-byte digest must be given. */
static int check_digest(struct vt_store *s, const char *what, const void *p, struct vt_diag *d)
{
        if (p == NULL) {
                vt_diag_set(d, "store '%s': no %s given", s->dir, what);
                return VT_EINVAL;
        }
        return 0;
}

/* check_token_name(s, name, d): 1..VT_STORE_TOKEN_NAME_MAX printable ASCII characters. */
static int check_token_name(struct vt_store *s, const char *name, struct vt_diag *d)
{
        size_t i;

        if (name == NULL || name[0] == '\0') {
                vt_diag_set(d, "store '%s': token name is empty", s->dir);
                return VT_EINVAL;
        }
        for (i = 0; name[i] != '\0'; i++) {
                if (i >= VT_STORE_TOKEN_NAME_MAX) {
                        vt_diag_set(d, "store '%s': token name is longer than %u bytes", s->dir,
                                    VT_STORE_TOKEN_NAME_MAX);
                        return VT_EINVAL;
                }
                if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f) {
                        vt_diag_set(d, "store '%s': token name has a byte 0x%02x at offset %zu",
                                    s->dir, (unsigned)(unsigned char)name[i], i);
                        return VT_EINVAL;
                }
        }
        return 0;
}

/* see store.h */
int vt_store_envelope_put(struct vt_store *s, uint64_t index, const uint8_t payload_sha256[32],
                          const uint8_t entry_hash[32], const uint8_t (*subjects)[32], size_t nsubj,
                          const uint8_t *env, size_t len, struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "entry index", index, d)) != 0 ||
            (err = check_digest(s, "payload digest", payload_sha256, d)) != 0 ||
            (err = check_digest(s, "entry hash", entry_hash, d)) != 0 ||
            (err = check_blob(s, "envelope", env, len, 1, VT_STORE_ENVELOPE_MAX, d)) != 0)
                return err;
        if (subjects == NULL && nsubj > 0) {
                vt_diag_set(d, "store '%s': %zu subject digests without their bytes", s->dir,
                            nsubj);
                return VT_EINVAL;
        }
        if (nsubj > VT_STORE_SUBJECTS_MAX) {
                vt_diag_set(d, "store '%s': %zu subject digests, more than the limit of %u", s->dir,
                            nsubj, VT_STORE_SUBJECTS_MAX);
                return VT_ETOOBIG;
        }
        if ((err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->envelope_put(s, index, payload_sha256, entry_hash, subjects,
                                                    nsubj, env, len, d));
}

/* see store.h */
int vt_store_envelope_get(struct vt_store *s, uint64_t index, struct vt_buf *out, struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "entry index", index, d)) != 0 ||
            (err = check_out(s, out, d)) != 0)
                return err;
        return s->ops->envelope_get(s, index, out, d);
}

/* see store.h */
int vt_store_envelope_keys(struct vt_store *s, uint64_t index, uint8_t payload_sha256[32],
                           uint8_t entry_hash[32], struct vt_diag *d)
{
        int err;

        if ((err = check_index(s, "entry index", index, d)) != 0)
                return err;
        return s->ops->envelope_keys(s, index, payload_sha256, entry_hash, d);
}

/* see store.h */
int vt_store_envelope_scan(struct vt_store *s, uint64_t from, vt_store_envelope_fn fn, void *ctx,
                           struct vt_diag *d)
{
        if (fn == NULL) {
                vt_diag_set(d, "store '%s': a scan needs a callback", s->dir);
                return VT_EINVAL;
        }
        return from > INT64_LIMIT ? 0 : s->ops->envelope_scan(s, from, fn, ctx, d);
}

/* see store.h */
int vt_store_subject_has(struct vt_store *s, const uint8_t digest[32], uint64_t index,
                         struct vt_diag *d)
{
        int err;

        if ((err = check_digest(s, "subject digest", digest, d)) != 0 ||
            (err = check_index(s, "entry index", index, d)) != 0)
                return err;
        return s->ops->subject_has(s, digest, index, d);
}

/* see store.h */
int vt_store_subject_scan(struct vt_store *s, uint64_t from, vt_store_subject_fn fn, void *ctx,
                          struct vt_diag *d)
{
        if (fn == NULL) {
                vt_diag_set(d, "store '%s': a scan needs a callback", s->dir);
                return VT_EINVAL;
        }
        return from > INT64_LIMIT ? 0 : s->ops->subject_scan(s, from, fn, ctx, d);
}

/* see store.h */
int vt_store_token_put(struct vt_store *s, const struct vt_store_token *t, struct vt_diag *d)
{
        int err;

        if ((err = check_out(s, t, d)) != 0 || (err = check_token_name(s, t->name, d)) != 0 ||
            (err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->token_put(s, t, d));
}

/* see store.h */
int vt_store_token_revoke(struct vt_store *s, const char *name, struct vt_diag *d)
{
        int err;

        if ((err = check_token_name(s, name, d)) != 0 || (err = put_prologue(s, d)) != 0)
                return err;
        return put_epilogue(s, s->ops->token_revoke(s, name, d));
}

/* see store.h */
int vt_store_token_list(struct vt_store *s, struct vt_store_token **out, size_t *n,
                        struct vt_diag *d)
{
        int err;

        if ((err = check_out(s, out, d)) != 0 || (err = check_out(s, n, d)) != 0)
                return err;
        return s->ops->token_list(s, out, n, d);
}
