/*
 * sqlite.c: the SQLite back end of the store (store.h, store_impl.h).
 *
 * One database file, dir/veritrail.db, schema version 1 (docs/FORMATS.md,
 * "Store schema"):
 *
 *   meta(key TEXT PRIMARY KEY, value BLOB)
 *   bundles(n INTEGER PRIMARY KEY, width INTEGER, data BLOB)
 *   tiles(level INTEGER, n INTEGER, width INTEGER, data BLOB,
 *         PRIMARY KEY(level, n)) WITHOUT ROWID
 *   checkpoints(size INTEGER PRIMARY KEY, note BLOB)
 *
 * Schema version 2 adds the service's tables (sq_schema_v2_sql); a version 1
 * database is migrated when it is first opened for writing (sq_migrate):
 *
 *   envelopes(idx INTEGER PRIMARY KEY, payload_sha256 BLOB,
 *             entry_hash BLOB UNIQUE, envelope BLOB), index on payload_sha256
 *   subjects(digest BLOB, idx INTEGER, PRIMARY KEY(digest, idx)) WITHOUT ROWID
 *   tokens(name TEXT PRIMARY KEY, hash BLOB, admin INTEGER, revoked INTEGER,
 *          created INTEGER)
 *
 * The file identifies itself: PRAGMA application_id is VT_SQLITE_APP_ID and
 * PRAGMA user_version the schema version, so a foreign SQLite file or a newer
 * schema is refused instead of misread.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so COMMIT returns only
 * after the write-ahead log (including the commit frame) is synced; a crash
 * or kill -9 at any point leaves the last committed transaction. Settings
 * chosen for throughput of large blobs (bench/bench_store.c measures them):
 *
 *   - page_size 64 KiB, set before the first table: a 256 KiB bundle is one
 *     leaf cell and four overflow pages, so a commit issues few large writes
 *     instead of dozens of 4 KiB ones (4 KiB pages: about half the rate);
 *   - secure_delete off (Debian builds SQLite with it on): a bundle rewritten
 *     each batch would otherwise also zero the pages it frees;
 *   - tiles WITHOUT ROWID: a full tile (8 KiB) fits in its leaf cell, one
 *     b-tree instead of a table plus its primary-key index (no difference
 *     measurable above this disk's noise, so chosen for the simpler layout);
 *   - wal_autocheckpoint and cache_size below. Checkpointing in a background
 *     thread was tried: no gain in throughput and a worse longest commit
 *     (its writes are flushed by the next commit's sync), so it was dropped.
 *
 * Every store costs at most two writes of each byte (the WAL, then the
 * database at checkpoint), so its durable rate is near half the disk's
 * streaming write+fdatasync rate for the same bytes.
 *
 * Every statement is prepared once per connection, on first use, and kept.
 * SQLite errors map to VT_E* codes (sq_code()) with a diagnostic that names
 * the store, SQLite's message and what we were doing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store/store_impl.h"

#define VT_SQLITE_APP_ID         0x56747231 /* "Vtr1" */
#define VT_SQLITE_SCHEMA_VERSION 2
#define VT_SQLITE_FILE           "veritrail.db"
#define VT_SQLITE_BUSY_MS        5000

#define VT_SQLITE_PAGE_SIZE 65536
/*
 * Checkpoint when the WAL holds this many pages (16 MiB at 64 KiB pages). The
 * commit that crosses it copies the WAL into the database, so this bounds
 * the stall; 1024 pages gave the same throughput with twice the worst commit
 * time (bench/bench_store.c).
 */
#define VT_SQLITE_AUTOCHECKPOINT 256
/* Page cache per connection in KiB: a large batch should not spill mid-transaction. */
#define VT_SQLITE_CACHE_KIB 16384
/* After a checkpoint, truncate a WAL that grew beyond this many bytes. */
#define VT_SQLITE_WAL_LIMIT (64 << 20)

enum {
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_META_PUT,
        ST_META_GET,
        ST_BUNDLE_PUT,
        ST_BUNDLE_GET,
        ST_TILE_PUT,
        ST_TILE_GET,
        ST_CP_PUT,
        ST_CP_GET,
        ST_CP_LATEST,
        ST_CP_NEXT,
        ST_ENV_PUT,
        ST_ENV_GET,
        ST_ENV_BY_PAYLOAD,
        ST_ENV_FIND,
        ST_SUBJ_PUT,
        ST_SUBJ_LIST,
        ST_TOKEN_PUT,
        ST_TOKEN_REVOKE,
        ST_TOKEN_LIST,
        ST_COUNT
};

static const char *const sq_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_BUNDLE_PUT] = "INSERT INTO bundles(n, width, data) VALUES(?1, ?2, ?3)"
                      " ON CONFLICT(n) DO UPDATE SET width = excluded.width, data = excluded.data",
    [ST_BUNDLE_GET] = "SELECT width, data FROM bundles WHERE n = ?1",
    [ST_TILE_PUT] = "INSERT INTO tiles(level, n, width, data) VALUES(?1, ?2, ?3, ?4)"
                    " ON CONFLICT(level, n) DO UPDATE SET width = excluded.width,"
                    " data = excluded.data",
    [ST_TILE_GET] = "SELECT width, data FROM tiles WHERE level = ?1 AND n = ?2",
    [ST_CP_PUT] = "INSERT INTO checkpoints(size, note) VALUES(?1, ?2)"
                  " ON CONFLICT(size) DO UPDATE SET note = excluded.note",
    [ST_CP_GET] = "SELECT note FROM checkpoints WHERE size = ?1",
    [ST_CP_LATEST] = "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CP_NEXT] = "SELECT size, note FROM checkpoints WHERE size >= ?1 ORDER BY size LIMIT 1",
    [ST_ENV_PUT] = "INSERT INTO envelopes(idx, payload_sha256, entry_hash, envelope)"
                   " VALUES(?1, ?2, ?3, ?4)",
    [ST_ENV_GET] = "SELECT envelope FROM envelopes WHERE idx = ?1",
    [ST_ENV_BY_PAYLOAD] = "SELECT idx, envelope FROM envelopes WHERE payload_sha256 = ?1"
                          " ORDER BY idx LIMIT 1",
    [ST_ENV_FIND] = "SELECT idx FROM envelopes WHERE entry_hash = ?1",
    [ST_SUBJ_PUT] = "INSERT OR IGNORE INTO subjects(digest, idx) VALUES(?1, ?2)",
    [ST_SUBJ_LIST] = "SELECT idx FROM subjects WHERE digest = ?1 AND idx >= ?2 ORDER BY idx"
                     " LIMIT ?3",
    [ST_TOKEN_PUT] = "INSERT INTO tokens(name, hash, admin, revoked, created)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE name = ?1",
    [ST_TOKEN_LIST] = "SELECT name, hash, admin, revoked, created FROM tokens ORDER BY name",
};

/* Schema version 1; docs/FORMATS.md describes it. */
static const char sq_schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
    "CREATE TABLE bundles(n INTEGER PRIMARY KEY, width INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE TABLE tiles(level INTEGER NOT NULL, n INTEGER NOT NULL, width INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY(level, n)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note BLOB NOT NULL);";

/* What schema version 2 adds to version 1: the service's tables. */
static const char sq_schema_v2_sql[] =
    "CREATE TABLE envelopes(idx INTEGER PRIMARY KEY, payload_sha256 BLOB NOT NULL,"
    " entry_hash BLOB NOT NULL UNIQUE, envelope BLOB NOT NULL);"
    "CREATE INDEX envelopes_payload ON envelopes(payload_sha256, idx);"
    "CREATE TABLE subjects(digest BLOB NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(digest, idx)) WITHOUT ROWID;"
    "CREATE TABLE tokens(name TEXT PRIMARY KEY NOT NULL, hash BLOB NOT NULL,"
    " admin INTEGER NOT NULL, revoked INTEGER NOT NULL, created INTEGER NOT NULL);";

struct sq {
        struct vt_store base; /* first: store.c sees only this */
        sqlite3 *db;
        sqlite3_stmt *st[ST_COUNT];
};

static const struct vt_store_ops sq_ops;

/* sq_code(rc): the VT_E* code for a SQLite (extended) result code. */
static int sq_code(int rc)
{
        if (rc == SQLITE_IOERR_NOMEM)
                return VT_ENOMEM;
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return VT_EBUSY;
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
                return VT_EIO;
        case SQLITE_NOMEM:
                return VT_ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return VT_ECORRUPT;
        case SQLITE_TOOBIG:
                return VT_ETOOBIG;
        default:
                return VT_ESTORE;
        }
}

/*
 * sq_fail(dir, db, rc, doing, d): map rc and say "store 'D': <sqlite
 * message> while <doing>". Call it before anything else touches db, so the
 * message is still the one for rc.
 */
static int sq_fail(const char *dir, sqlite3 *db, int rc, const char *doing, struct vt_diag *d)
{
        const char *msg = sqlite3_errstr(rc);

        /* The connection's message is more precise, when it is about this error. */
        if (db != NULL && sqlite3_extended_errcode(db) == rc)
                msg = sqlite3_errmsg(db);
        vt_diag_set(d, "store '%s': %s while %s", dir, msg, doing);
        return sq_code(rc);
}

/* sq_stmt(q, i, out, d): the cached statement i, prepared on first use. */
static int sq_stmt(struct sq *q, int i, sqlite3_stmt **out, struct vt_diag *d)
{
        int rc;

        if (q->st[i] == NULL) {
                rc = sqlite3_prepare_v3(q->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
                                        NULL);
                if (rc != SQLITE_OK) {
                        q->st[i] = NULL;
                        return sq_fail(q->base.dir, q->db, rc, "preparing a statement", d);
                }
        }
        *out = q->st[i];
        return 0;
}

/* sq_done(st): make st reusable and drop its references to our buffers. */
static void sq_done(sqlite3_stmt *st)
{
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

/* sq_run(q, i, doing, d): run statement i (already bound) that returns no rows. */
static int sq_run(struct sq *q, int i, const char *doing, struct vt_diag *d)
{
        sqlite3_stmt *st = q->st[i];
        int rc, err = 0;

        if ((rc = sqlite3_step(st)) != SQLITE_DONE)
                err = sq_fail(q->base.dir, q->db, rc, doing, d);
        sq_done(st);
        return err;
}

/* sq_exec(q, sql, doing, d): run SQL text once (open time only). */
static int sq_exec(sqlite3 *db, const char *dir, const char *sql, const char *doing,
                   struct vt_diag *d)
{
        int rc;

        if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
                return sq_fail(dir, db, rc, doing, d);
        return 0;
}

/* sq_pragma_int(db, dir, sql, out, d): run a pragma that returns one integer. */
static int sq_pragma_int(sqlite3 *db, const char *dir, const char *sql, int64_t *out,
                         struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        int rc, err = 0;

        if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
                return sq_fail(dir, db, rc, "reading the database header", d);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
                *out = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
                *out = 0;
        else
                err = sq_fail(dir, db, rc, "reading the database header", d);
        sqlite3_finalize(st);
        return err;
}

/* sq_append(q, st, col, out, what, d): append the blob in column col to out. */
static int sq_append(struct sq *q, sqlite3_stmt *st, int col, struct vt_buf *out, const char *what,
                     struct vt_diag *d)
{
        const void *p = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);

        if (p == NULL && n > 0) {
                vt_diag_set(d, "store '%s': out of memory while reading %s", q->base.dir, what);
                return VT_ENOMEM;
        }
        if (vt_buf_append(out, p, (size_t)n) != 0) {
                vt_diag_set(d, "store '%s': out of memory while reading %s", q->base.dir, what);
                return VT_ENOMEM;
        }
        return 0;
}

/* sq_mkdirs(dir, d): create dir and missing parents with mode 0700. */
static int sq_mkdirs(const char *dir, struct vt_diag *d)
{
        struct stat sb;
        char *p, *c;
        int err = 0;

        if ((p = strdup(dir)) == NULL) {
                vt_diag_set(d, "store '%s': out of memory", dir);
                return VT_ENOMEM;
        }
        for (c = p + 1;; c++) {
                if (*c != '/' && *c != '\0')
                        continue;
                {
                        char save = *c;
                        *c = '\0';
                        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                                int e = errno;
                                vt_diag_set(d, "cannot create directory '%s': %s", p, strerror(e));
                                err = e == ENOENT || e == ENOTDIR ? VT_ENOENT : VT_EIO;
                                goto done;
                        }
                        *c = save;
                        if (save == '\0')
                                break;
                }
        }
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                vt_diag_set(d, "cannot create directory '%s': it exists and is not a directory",
                            dir);
                err = VT_EEXIST;
        }
done:
        free(p);
        return err;
}

/*
 * sq_configure(q, dir, flags, d): connection settings. page_size and
 * auto_vacuum only take effect on a new, empty database, which is why they
 * come before journal_mode (whose switch to WAL writes the first page).
 */
static int sq_configure(struct sq *q, const char *dir, int flags, struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        const char *mode;
        char sql[160];
        int rc, err = 0;

        if (!(flags & VT_STORE_READONLY)) {
                snprintf(sql, sizeof(sql), "PRAGMA page_size=%d; PRAGMA auto_vacuum=NONE",
                         VT_SQLITE_PAGE_SIZE);
                if ((err = sq_exec(q->db, dir, sql, "setting the page size", d)) != 0)
                        return err;
        }
        /* journal_mode is persistent: a read-only connection just reads it. */
        rc = sqlite3_prepare_v2(
            q->db, flags & VT_STORE_READONLY ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL",
            -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                mode = (const char *)sqlite3_column_text(st, 0);
                if (!(flags & VT_STORE_READONLY) &&
                    (mode == NULL || sqlite3_stricmp(mode, "wal") != 0)) {
                        vt_diag_set(d, "store '%s': cannot switch the database to WAL mode", dir);
                        err = VT_ESTORE;
                }
        } else {
                err = sq_fail(dir, q->db, rc, "enabling the write-ahead log", d);
        }
        sqlite3_finalize(st);
        if (err != 0)
                return err;
        snprintf(sql, sizeof(sql),
                 "PRAGMA synchronous=FULL; PRAGMA secure_delete=OFF; PRAGMA cache_size=-%d;"
                 " PRAGMA wal_autocheckpoint=%d; PRAGMA journal_size_limit=%d",
                 VT_SQLITE_CACHE_KIB, VT_SQLITE_AUTOCHECKPOINT, VT_SQLITE_WAL_LIMIT);
        return sq_exec(q->db, dir, sql, "configuring the connection", d);
}

/*
 * sq_migrate(q, dir, version, d): bring a schema version 1 database to
 * version 2 (add the service tables) in one transaction; *version becomes
 * the version found or made. Another process migrating at the same time
 * serialises on BEGIN IMMEDIATE; the second finds version 2.
 */
static int sq_migrate(struct sq *q, const char *dir, int64_t *version, struct vt_diag *d)
{
        char sql[sizeof(sq_schema_v2_sql) + 64];
        int64_t v = 0;
        int err;

        if ((err = sq_exec(q->db, dir, "BEGIN IMMEDIATE", "migrating the schema", d)) != 0)
                return err;
        if ((err = sq_pragma_int(q->db, dir, "PRAGMA user_version", &v, d)) != 0)
                goto fail;
        if (v == 1) {
                snprintf(sql, sizeof(sql), "%sPRAGMA user_version=2", sq_schema_v2_sql);
                if ((err = sq_exec(q->db, dir, sql, "migrating the schema to version 2", d)) != 0)
                        goto fail;
                v = 2;
        }
        if ((err = sq_exec(q->db, dir, "COMMIT", "migrating the schema", d)) != 0)
                goto fail;
        *version = v;
        return 0;
fail:
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
}

/*
 * sq_schema(q, dir, path, flags, d): check the database is ours and of a
 * schema version we know; with VT_STORE_CREATE, create the schema in an
 * empty database. Two processes creating at once serialise on BEGIN
 * IMMEDIATE and the second finds the schema in place.
 */
static int sq_schema(struct sq *q, const char *dir, const char *path, int flags, struct vt_diag *d)
{
        int64_t app = 0, version = 0, tables = 0;
        int err, in_tx = 0;

        if ((err = sq_pragma_int(q->db, dir, "PRAGMA application_id", &app, d)) != 0 ||
            (err = sq_pragma_int(q->db, dir, "PRAGMA user_version", &version, d)) != 0)
                return err;
        if (app == 0 && version == 0 && (flags & VT_STORE_CREATE)) {
                if ((err = sq_exec(q->db, dir, "BEGIN IMMEDIATE", "creating the schema", d)) != 0)
                        return err;
                in_tx = 1;
                if ((err = sq_pragma_int(q->db, dir, "PRAGMA application_id", &app, d)) != 0 ||
                    (err = sq_pragma_int(q->db, dir, "PRAGMA user_version", &version, d)) != 0 ||
                    (err = sq_pragma_int(q->db, dir, "SELECT count(*) FROM sqlite_schema", &tables,
                                         d)) != 0)
                        goto done;
                if (app == 0 && version == 0 && tables == 0) {
                        char sql[sizeof(sq_schema_sql) + sizeof(sq_schema_v2_sql) + 96];
                        snprintf(sql, sizeof(sql),
                                 "%s%sPRAGMA application_id=%d; PRAGMA user_version=%d",
                                 sq_schema_sql, sq_schema_v2_sql, VT_SQLITE_APP_ID,
                                 VT_SQLITE_SCHEMA_VERSION);
                        if ((err = sq_exec(q->db, dir, sql, "creating the schema", d)) != 0)
                                goto done;
                        app = VT_SQLITE_APP_ID;
                        version = VT_SQLITE_SCHEMA_VERSION;
                }
                if ((err = sq_exec(q->db, dir, "COMMIT", "creating the schema", d)) != 0)
                        goto done;
                in_tx = 0;
        }
        if (app == 0 && version == 0) {
                if ((err = sq_pragma_int(q->db, dir, "SELECT count(*) FROM sqlite_schema", &tables,
                                         d)) != 0)
                        goto done;
                if (tables == 0) {
                        /* An empty file, e.g. left by an interrupted init: not a data directory
                         * yet. */
                        vt_diag_set(
                            d, "'%s' is not a veritrail data directory (run 'veritrail log init')",
                            dir);
                        err = VT_ENOENT;
                        goto done;
                }
        }
        /* Schema version 1 (no service tables): migrate when writable (sq_migrate). */
        if (app == VT_SQLITE_APP_ID && version == 1 && !(flags & VT_STORE_READONLY) &&
            (err = sq_migrate(q, dir, &version, d)) != 0)
                goto done;
        if (app != VT_SQLITE_APP_ID) {
                vt_diag_set(d, "store '%s': '%s' is not a veritrail database", dir, path);
                err = VT_ESTORE;
        } else if (version == 1 && (flags & VT_STORE_READONLY)) {
                /* Readable as it is; the service tables appear with the first writer. */
        } else if (version != VT_SQLITE_SCHEMA_VERSION) {
                vt_diag_set(d,
                            "store '%s': schema version %lld is not the version %d this program "
                            "knows",
                            dir, (long long)version, VT_SQLITE_SCHEMA_VERSION);
                err = VT_ESTORE;
        }
done:
        if (in_tx)
                sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
}

/* see store_impl.h */
int vt_store_sqlite_open(const char *dir, int flags, struct vt_store **out, struct vt_diag *d)
{
        struct sq *q = NULL;
        struct stat sb;
        const char *vfs;
        char *path = NULL;
        size_t plen;
        int rc, oflags, err = 0;

        if ((flags & VT_STORE_CREATE) && (err = sq_mkdirs(dir, d)) != 0)
                return err;
        plen = strlen(dir) + sizeof("/" VT_SQLITE_FILE);
        if ((path = malloc(plen)) == NULL || (q = calloc(1, sizeof(*q))) == NULL) {
                vt_diag_set(d, "store '%s': out of memory", dir);
                err = VT_ENOMEM;
                goto fail;
        }
        snprintf(path, plen, "%s/%s", dir, VT_SQLITE_FILE);
        if (!(flags & VT_STORE_CREATE) && stat(path, &sb) != 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        vt_diag_set(
                            d, "'%s' is not a veritrail data directory (run 'veritrail log init')",
                            dir);
                        err = VT_ENOENT;
                } else {
                        vt_diag_set(d, "store '%s': cannot access '%s': %s", dir, path,
                                    strerror(errno));
                        err = VT_EIO;
                }
                goto fail;
        }
        if ((vfs = vt_store_faultvfs_name()) == NULL) {
                vt_diag_set(d, "store '%s': cannot register the SQLite file layer", dir);
                err = VT_EINTERNAL;
                goto fail;
        }
        /* One connection per thread (store.h), so SQLite's own mutexes are not needed. */
        oflags = SQLITE_OPEN_NOMUTEX;
        if (flags & VT_STORE_READONLY)
                oflags |= SQLITE_OPEN_READONLY;
        else
                oflags |=
                    SQLITE_OPEN_READWRITE | (flags & VT_STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
        if ((rc = sqlite3_open_v2(path, &q->db, oflags, vfs)) != SQLITE_OK) {
                err = sq_fail(dir, q->db, rc, "opening the database", d);
                goto fail;
        }
        sqlite3_extended_result_codes(q->db, 1);
        sqlite3_busy_timeout(q->db, VT_SQLITE_BUSY_MS);
        q->base.ops = &sq_ops;
        q->base.dir = (char *)dir; /* for diagnostics until store.c sets its own copy */
        if ((err = sq_configure(q, dir, flags, d)) != 0 ||
            (err = sq_schema(q, dir, path, flags, d)) != 0)
                goto fail;
        q->base.dir = NULL;
        free(path);
        *out = &q->base;
        return 0;
fail:
        if (q != NULL)
                sqlite3_close_v2(q->db);
        free(q);
        free(path);
        return err;
}

static void sq_close(struct vt_store *s)
{
        struct sq *q = (struct sq *)s;
        int i;

        for (i = 0; i < ST_COUNT; i++)
                sqlite3_finalize(q->st[i]);
        /* The last connection to close checkpoints the WAL into the database. */
        sqlite3_close_v2(q->db);
        free(q);
}

static int sq_wal_flush(struct vt_store *s, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        int rc, log = 0, done = 0;

        /* FULL: wait (busy timeout) for the writer, copy every frame, sync the database. */
        rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_FULL, &log, &done);
        if (rc != SQLITE_OK)
                return sq_fail(s->dir, q->db, rc, "flushing the write-ahead log", d);
        if (done < log) {
                vt_diag_set(d, "store '%s': a reader still uses %d pages of the write-ahead log",
                            s->dir, log - done);
                return VT_EBUSY;
        }
        return 0;
}

static void sq_set_busy_timeout(struct vt_store *s, unsigned ms)
{
        struct sq *q = (struct sq *)s;

        sqlite3_busy_timeout(q->db, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

static int sq_begin(struct vt_store *s, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_BEGIN, &st, d)) != 0)
                return err;
        if ((err = sq_run(q, ST_BEGIN, "starting a transaction", d)) == VT_EBUSY)
                vt_diag_set(d, "store '%s' is locked by another writer", s->dir);
        return err;
}

static void sq_rollback(struct vt_store *s)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;

        /* SQLite may have rolled back already (after an I/O error, for one). */
        if (sqlite3_get_autocommit(q->db))
                return;
        if (sq_stmt(q, ST_ROLLBACK, &st, NULL) == 0) {
                if (sq_run(q, ST_ROLLBACK, "rolling back", NULL) == 0)
                        return;
        }
        /* Last resort; nothing more can be done if even this fails. */
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_commit(struct vt_store *s, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_COMMIT, &st, d)) == 0)
                err = sq_run(q, ST_COMMIT, "committing", d);
        if (err != 0)
                sq_rollback(s);
        return err;
}

static int sq_meta_put(struct vt_store *s, const char *key, const void *p, size_t n,
                       struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_META_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 2, p, n, SQLITE_STATIC);
        return sq_run(q, ST_META_PUT, "storing metadata", d);
}

static int sq_meta_get(struct vt_store *s, const char *key, struct vt_buf *out, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int rc, err;

        if ((err = sq_stmt(q, ST_META_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                err = sq_append(q, st, 0, out, "metadata", d);
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no metadata '%s'", s->dir, key);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading metadata", d);
        }
        sq_done(st);
        return err;
}

static int sq_bundle_put(struct vt_store *s, uint64_t n, unsigned width, const uint8_t *p,
                         size_t len, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_BUNDLE_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        sqlite3_bind_int(st, 2, (int)width);
        sqlite3_bind_blob64(st, 3, p, len, SQLITE_STATIC);
        return sq_run(q, ST_BUNDLE_PUT, "storing an entry bundle", d);
}

/* sq_width(q, st, col, what, w, d): a stored width, checked against corruption. */
static int sq_width(struct sq *q, sqlite3_stmt *st, int col, const char *what, unsigned *w,
                    struct vt_diag *d)
{
        sqlite3_int64 v = sqlite3_column_int64(st, col);

        if (v < 1 || v > VT_STORE_WIDTH) {
                vt_diag_set(d, "store '%s': %s has width %lld", q->base.dir, what, (long long)v);
                return VT_ECORRUPT;
        }
        *w = (unsigned)v;
        return 0;
}

static int sq_bundle_get(struct vt_store *s, uint64_t n, unsigned *width, struct vt_buf *out,
                         struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        unsigned w;
        int rc, err;

        if ((err = sq_stmt(q, ST_BUNDLE_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_width(q, st, 0, "an entry bundle", &w, d)) == 0 &&
                    (err = sq_append(q, st, 1, out, "an entry bundle", d)) == 0)
                        *width = w;
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no entry bundle %llu", s->dir, (unsigned long long)n);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading an entry bundle", d);
        }
        sq_done(st);
        return err;
}

static int sq_tile_put(struct vt_store *s, unsigned level, uint64_t n, unsigned width,
                       const uint8_t *p, size_t len, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_TILE_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int(st, 1, (int)level);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
        sqlite3_bind_int(st, 3, (int)width);
        sqlite3_bind_blob64(st, 4, p, len, SQLITE_STATIC);
        return sq_run(q, ST_TILE_PUT, "storing a tile", d);
}

static int sq_tile_get(struct vt_store *s, unsigned level, uint64_t n, unsigned *width,
                       struct vt_buf *out, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        unsigned w;
        int rc, err;

        if ((err = sq_stmt(q, ST_TILE_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_int(st, 1, (int)level);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                err = sq_width(q, st, 0, "a tile", &w, d);
                if (err == 0 &&
                    (size_t)sqlite3_column_bytes(st, 1) != (size_t)w * VT_STORE_HASH_SIZE) {
                        vt_diag_set(d, "store '%s': tile %u/%llu of width %u has %d bytes", s->dir,
                                    level, (unsigned long long)n, w, sqlite3_column_bytes(st, 1));
                        err = VT_ECORRUPT;
                }
                if (err == 0 && (err = sq_append(q, st, 1, out, "a tile", d)) == 0)
                        *width = w;
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no tile %u/%llu", s->dir, level, (unsigned long long)n);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading a tile", d);
        }
        sq_done(st);
        return err;
}

static int sq_checkpoint_put(struct vt_store *s, uint64_t size, const uint8_t *note, size_t len,
                             struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_CP_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
        sqlite3_bind_blob64(st, 2, note, len, SQLITE_STATIC);
        return sq_run(q, ST_CP_PUT, "storing a checkpoint", d);
}

static int sq_checkpoint_get(struct vt_store *s, uint64_t size, struct vt_buf *out,
                             struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int rc, err;

        if ((err = sq_stmt(q, ST_CP_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                err = sq_append(q, st, 0, out, "a checkpoint", d);
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no checkpoint of size %llu", s->dir,
                            (unsigned long long)size);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading a checkpoint", d);
        }
        sq_done(st);
        return err;
}

/*
 * sq_checkpoint_row(q, i, from, size, out, d): run ST_CP_LATEST or
 * ST_CP_NEXT (bound to from) and return its one row; out may be NULL.
 */
static int sq_checkpoint_row(struct sq *q, int i, uint64_t from, uint64_t *size, struct vt_buf *out,
                             struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        sqlite3_int64 v;
        int rc, err;

        if ((err = sq_stmt(q, i, &st, d)) != 0)
                return err;
        if (i == ST_CP_NEXT)
                sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((v = sqlite3_column_int64(st, 0)) < 0) {
                        vt_diag_set(d, "store '%s': a checkpoint has size %lld", q->base.dir,
                                    (long long)v);
                        err = VT_ECORRUPT;
                } else if (out == NULL ||
                           (err = sq_append(q, st, 1, out, "a checkpoint", d)) == 0) {
                        *size = (uint64_t)v;
                }
        } else if (rc == SQLITE_DONE) {
                if (i == ST_CP_NEXT)
                        vt_diag_set(d, "store '%s': no checkpoint of size %llu or more",
                                    q->base.dir, (unsigned long long)from);
                else
                        vt_diag_set(d, "store '%s': no checkpoint yet", q->base.dir);
                err = VT_ENOENT;
        } else {
                err = sq_fail(q->base.dir, q->db, rc, "reading a checkpoint", d);
        }
        sq_done(st);
        return err;
}

static int sq_checkpoint_latest(struct vt_store *s, uint64_t *size, struct vt_buf *out,
                                struct vt_diag *d)
{
        return sq_checkpoint_row((struct sq *)s, ST_CP_LATEST, 0, size, out, d);
}

static int sq_checkpoint_next(struct vt_store *s, uint64_t from, uint64_t *size,
                              struct vt_buf *note, struct vt_diag *d)
{
        return sq_checkpoint_row((struct sq *)s, ST_CP_NEXT, from, size, note, d);
}

/* ---- Service tables (schema version 2) ---------------------------------------- */

/* sq_run_unique(q, i, what, doing, d): sq_run, with a UNIQUE violation as VT_EEXIST. */
static int sq_run_unique(struct sq *q, int i, const char *what, const char *doing,
                         struct vt_diag *d)
{
        sqlite3_stmt *st = q->st[i];
        int rc, err = 0;

        rc = sqlite3_step(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                vt_diag_set(d, "store '%s': %s is already there", q->base.dir, what);
                err = VT_EEXIST;
        } else if (rc != SQLITE_DONE) {
                err = sq_fail(q->base.dir, q->db, rc, doing, d);
        }
        sq_done(st);
        return err;
}

static int sq_envelope_put(struct vt_store *s, uint64_t index, const uint8_t *payload_sha256,
                           const uint8_t *entry_hash, const uint8_t *env, size_t len,
                           struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_ENV_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        sqlite3_bind_blob(st, 2, payload_sha256, 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, entry_hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 4, env, len, SQLITE_STATIC);
        return sq_run_unique(q, ST_ENV_PUT, "the envelope of this entry", "storing an envelope", d);
}

static int sq_envelope_get(struct vt_store *s, uint64_t index, struct vt_buf *out,
                           struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int rc, err;

        if ((err = sq_stmt(q, ST_ENV_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                err = sq_append(q, st, 0, out, "an envelope", d);
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no envelope for entry %llu", s->dir,
                            (unsigned long long)index);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading an envelope", d);
        }
        sq_done(st);
        return err;
}

/* sq_index(q, st, col, out, d): a stored entry index, checked against corruption. */
static int sq_index(struct sq *q, sqlite3_stmt *st, int col, uint64_t *out, struct vt_diag *d)
{
        sqlite3_int64 v = sqlite3_column_int64(st, col);

        if (v < 0) {
                vt_diag_set(d, "store '%s': an entry index is %lld", q->base.dir, (long long)v);
                return VT_ECORRUPT;
        }
        *out = (uint64_t)v;
        return 0;
}

static int sq_envelope_by_payload(struct vt_store *s, const uint8_t *payload_sha256,
                                  uint64_t *index, struct vt_buf *out, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        uint64_t idx = 0;
        int rc, err;

        if ((err = sq_stmt(q, ST_ENV_BY_PAYLOAD, &st, d)) != 0)
                return err;
        sqlite3_bind_blob(st, 1, payload_sha256, 32, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_index(q, st, 0, &idx, d)) == 0 && out != NULL)
                        err = sq_append(q, st, 1, out, "an envelope", d);
                if (err == 0 && index != NULL)
                        *index = idx;
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no envelope with this payload digest", s->dir);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading an envelope", d);
        }
        sq_done(st);
        return err;
}

static int sq_envelope_find(struct vt_store *s, const uint8_t *entry_hash, uint64_t *index,
                            struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int rc, err;

        if ((err = sq_stmt(q, ST_ENV_FIND, &st, d)) != 0)
                return err;
        sqlite3_bind_blob(st, 1, entry_hash, 32, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                err = sq_index(q, st, 0, index, d);
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no entry with this hash", s->dir);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "looking up an entry", d);
        }
        sq_done(st);
        return err;
}

static int sq_subject_put(struct vt_store *s, const uint8_t *digest, uint64_t index,
                          struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_SUBJ_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_blob(st, 1, digest, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
        return sq_run(q, ST_SUBJ_PUT, "storing a subject", d);
}

static int sq_subject_list(struct vt_store *s, const uint8_t *digest, uint64_t from, uint64_t *idx,
                           size_t max, size_t *n, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        size_t k = 0;
        int rc = SQLITE_DONE, err;

        if ((err = sq_stmt(q, ST_SUBJ_LIST, &st, d)) != 0)
                return err;
        sqlite3_bind_blob(st, 1, digest, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)from);
        sqlite3_bind_int64(st, 3, max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max);
        while (err == 0 && k < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
                err = sq_index(q, st, 0, &idx[k++], d);
        if (err == 0 && k < max && rc != SQLITE_DONE)
                err = sq_fail(s->dir, q->db, rc, "listing a subject's entries", d);
        sq_done(st);
        if (err == 0)
                *n = k;
        return err;
}

static int sq_token_put(struct vt_store *s, const struct vt_store_token *t, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_TOKEN_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, t->hash, 32, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, t->admin ? 1 : 0);
        sqlite3_bind_int(st, 4, t->revoked ? 1 : 0);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)t->created);
        if ((err = sq_run_unique(q, ST_TOKEN_PUT, "a token of this name", "storing a token", d)) ==
            VT_EEXIST)
                vt_diag_set(d, "store '%s': a token named '%s' already exists", s->dir, t->name);
        return err;
}

static int sq_token_revoke(struct vt_store *s, const char *name, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        if ((err = sq_stmt(q, ST_TOKEN_REVOKE, &st, d)) != 0)
                return err;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if ((err = sq_run(q, ST_TOKEN_REVOKE, "revoking a token", d)) == 0 &&
            sqlite3_changes(q->db) == 0) {
                vt_diag_set(d, "store '%s': no token named '%s'", s->dir, name);
                err = VT_ENOENT;
        }
        return err;
}

static int sq_token_list(struct vt_store *s, struct vt_store_token **out, size_t *n,
                         struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        struct vt_store_token *v = NULL, *t;
        sqlite3_stmt *st = NULL;
        size_t k = 0, cap = 0;
        const unsigned char *name;
        int rc, err;

        if ((err = sq_stmt(q, ST_TOKEN_LIST, &st, d)) != 0)
                return err;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (k == VT_STORE_TOKENS_MAX) {
                        vt_diag_set(d, "store '%s': more than %u tokens", s->dir,
                                    VT_STORE_TOKENS_MAX);
                        err = VT_ETOOBIG;
                        goto out;
                }
                if (k == cap) {
                        cap = cap ? 2 * cap : 16;
                        if ((t = vt_util_reallocarray(v, cap, sizeof(*v))) == NULL) {
                                vt_diag_set(d, "store '%s': out of memory", s->dir);
                                err = VT_ENOMEM;
                                goto out;
                        }
                        v = t;
                }
                t = &v[k];
                memset(t, 0, sizeof(*t));
                name = sqlite3_column_text(st, 0);
                if (name == NULL || strlen((const char *)name) > VT_STORE_TOKEN_NAME_MAX ||
                    sqlite3_column_bytes(st, 1) != 32) {
                        vt_diag_set(d, "store '%s': a token row is malformed", s->dir);
                        err = VT_ECORRUPT;
                        goto out;
                }
                memcpy(t->name, name, strlen((const char *)name));
                memcpy(t->hash, sqlite3_column_blob(st, 1), 32);
                t->admin = sqlite3_column_int(st, 2) != 0;
                t->revoked = sqlite3_column_int(st, 3) != 0;
                t->created = sqlite3_column_int64(st, 4);
                k++;
        }
        if (rc != SQLITE_DONE) {
                err = sq_fail(s->dir, q->db, rc, "listing tokens", d);
                goto out;
        }
        *out = v;
        *n = k;
        v = NULL;
out:
        sq_done(st);
        free(v);
        return err;
}

static const struct vt_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .set_busy_timeout = sq_set_busy_timeout,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .wal_flush = sq_wal_flush,
    .meta_put = sq_meta_put,
    .meta_get = sq_meta_get,
    .bundle_put = sq_bundle_put,
    .bundle_get = sq_bundle_get,
    .tile_put = sq_tile_put,
    .tile_get = sq_tile_get,
    .checkpoint_put = sq_checkpoint_put,
    .checkpoint_get = sq_checkpoint_get,
    .checkpoint_latest = sq_checkpoint_latest,
    .checkpoint_next = sq_checkpoint_next,
    .envelope_put = sq_envelope_put,
    .envelope_get = sq_envelope_get,
    .envelope_by_payload = sq_envelope_by_payload,
    .envelope_find = sq_envelope_find,
    .subject_put = sq_subject_put,
    .subject_list = sq_subject_list,
    .token_put = sq_token_put,
    .token_revoke = sq_token_revoke,
    .token_list = sq_token_list,
};
