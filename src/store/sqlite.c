/*
 * sqlite.c: the SQLite back end of the store (store.h, store_impl.h).
 *
 * A data directory holds one database, dir/veritrail.db, and beside it two
 * segments (segment.c): the entry segment dir/entries.seg (the entry
 * bundles' bytes) and the envelope segment dir/envelopes.seg (the service's
 * envelope bodies). Schema version 5 (docs/FORMATS.md, "The store"):
 *
 *   meta(key TEXT PRIMARY KEY, value BLOB)
 *   bundles(n INTEGER PRIMARY KEY, width INTEGER, off INTEGER, len INTEGER)
 *   tiles(level INTEGER, n INTEGER, width INTEGER, data BLOB,
 *         PRIMARY KEY(level, n)) WITHOUT ROWID
 *   checkpoints(size INTEGER PRIMARY KEY, note BLOB)
 *   segment(id INTEGER PRIMARY KEY CHECK (id = 0), committed INTEGER,
 *           envelopes INTEGER)
 *   envelopes(idx INTEGER PRIMARY KEY, payload_sha256 BLOB, entry_hash BLOB,
 *             off INTEGER, len INTEGER, subjects BLOB)
 *   tokens(name TEXT PRIMARY KEY, hash BLOB, admin INTEGER, revoked INTEGER,
 *          created INTEGER)
 *
 * segment.committed and segment.envelopes are the committed ends of the
 * entry and the envelope segment. An envelope is one row: its two digests,
 * where its body is in the envelope segment, and its subjects' sha256
 * digests packed 32 bytes each, in the order put (possibly none).
 *
 * Versions 1 (no service tables), 2 (bundle bytes as blobs in bundles.data),
 * 3 (service tables keyed by digest) and 4 (three rows per envelope, its body
 * in envelope_bodies, subjects(idx, digest)) are upgraded by the first
 * writer that opens them, in one transaction (sq_migrate); a read-only
 * connection reads their log tables as they are, and version 4's service
 * tables too (older service tables are refused with a message saying to
 * open the directory for writing once).
 *
 * The file identifies itself: PRAGMA application_id is VT_SQLITE_APP_ID and
 * PRAGMA user_version the schema version, so a foreign SQLite file or a newer
 * schema is refused instead of misread.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so COMMIT returns only
 * after the write-ahead log (including the commit frame) is synced; a crash
 * or kill -9 at any point leaves the last committed transaction.
 *
 * Entry bundles live in the segment, not in SQLite: they are most of the
 * bytes, they only grow at the end of the log, and SQLite would write them
 * twice (WAL, then database) and rewrite the partial bundle whole in every
 * batch. Envelope bodies live in the envelope segment for the same reason
 * (written once instead of through the WAL and again at checkpoint), with
 * the same protocol; the differences follow the list. The protocol (all
 * under SQLite's write lock, BEGIN IMMEDIATE):
 *
 *   - put: bundle n is the last stored one growing, or the next one. Only
 *     the bytes not yet in the segment are written, with pwrite, at the
 *     write position P = max(committed end, file size); the row (n, width,
 *     off, len) and the new committed end are updated in the transaction.
 *     A growing bundle whose old bytes do not end at P (bytes someone else
 *     left after them, see below) is written whole at P instead.
 *   - commit: fdatasync the segment, THEN the SQLite COMMIT. A committed row
 *     therefore always points at durable bytes, and the bytes of a committed
 *     range never change afterwards: readers in any connection or process
 *     just pread them, without locks.
 *   - rollback, or a failed segment sync: cut the file back to where the
 *     transaction began writing (we still hold the write lock, and no commit
 *     record can name those bytes).
 *   - a failed COMMIT after the segment sync leaves its bytes alone: SQLite
 *     may have written the commit record to the WAL before its sync failed,
 *     and that transaction reappears if the machine crashes before a later
 *     commit overwrites it. This is why P is never below the file size: no
 *     writer, in this process or another, writes over bytes such a commit
 *     may name.
 *   - open for writing: every connection holds a shared flock on the data
 *     directory from before its database opens until after it closes. A
 *     writer that gets it exclusively is the only connection anywhere, so
 *     SQLite rebuilds the WAL index at its first read (a commit whose sync
 *     failed comes back now or never), and it cuts the file to the committed
 *     end (a crash between the segment sync and the COMMIT leaves bytes past
 *     it). A file shorter than the committed end is VT_ECORRUPT.
 *
 * The envelope segment follows every step above, for both files at once
 * (the commit syncs each segment the transaction wrote, then COMMITs; the
 * rollback and the sole writer's open cut each), except that a put does not
 * write at once: the row gets the body's place (P, fixed by the
 * transaction's first put, plus the bodies put since), the body waits in
 * memory (ebuf) and is written, in one pwrite with those before it, once
 * VT_SQLITE_ENVBUF bytes wait or at commit; and segment.envelopes is set
 * once, at commit, not per put. A read of a body still in ebuf is served
 * from it. A reader that opened before the file existed opens it at its
 * first read. A commit that wrote both segments syncs them at the same time,
 * one on a helper thread (sq_segments_sync), and COMMITs only once both
 * syncs succeeded; if either failed it takes the failed-sync path above
 * (both files cut), as one after the other would.
 *
 * Settings, chosen by measurement (bench/bench_store.c; page size, WAL
 * checkpoint and cache below):
 *
 *   - secure_delete off (Debian builds SQLite with it on): a partial tile
 *     replaced each batch would otherwise also zero the pages it frees;
 *   - tiles WITHOUT ROWID: one b-tree instead of a table plus its
 *     primary-key index;
 *   - checkpointing in a background thread was tried (with 64 KiB pages and
 *     the bundles in SQLite): no gain in throughput and a worse longest
 *     commit (its writes are flushed by the next commit's sync), so dropped.
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
#include <unistd.h>

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>

#include "store/store_impl.h"

#define VT_SQLITE_APP_ID         0x56747231 /* "Vtr1" */
#define VT_SQLITE_SCHEMA_VERSION 5
#define VT_SQLITE_FILE           "veritrail.db"
#define VT_SQLITE_BUSY_MS        5000

/*
 * Page size of a new database (an existing one keeps its own; a database
 * upgraded from version 2 keeps 64 KiB). Overridable at build time to
 * measure others (make CFLAGS=-DVT_SQLITE_PAGE_SIZE=16384).
 */
#ifndef VT_SQLITE_PAGE_SIZE
#define VT_SQLITE_PAGE_SIZE 4096
#endif
/*
 * Checkpoint when the WAL holds this many bytes (in pages of the file's own
 * size). The commit that crosses it copies the WAL into the database, so
 * this bounds the stall.
 */
#ifndef VT_SQLITE_CHECKPOINT_BYTES
#define VT_SQLITE_CHECKPOINT_BYTES (16 << 20)
#endif
/*
 * Page cache per connection in KiB (the process holds a dozen connections,
 * and each cache fills up to its size, so they count against the service's
 * memory, DESIGN.md §5). A writer's must hold a whole batch's dirty pages,
 * or the transaction spills them to the WAL before it commits: a batch of
 * the service's (4096 entries or 16 MiB of envelopes at most) dirties a few
 * hundred KiB of rows and tiles (measured: 45 pages at most for batches of
 * ~450 entries), more only when its envelopes are mostly subject digests
 * (4 MiB is about 120k subjects in one batch). Beyond that a writer's cache
 * holds the pages it appended, which are not read again (16 MiB for every
 * connection held 14 MiB more in all under bench_serve, for no throughput).
 * A read-only connection reads single rows and tiles: the upper levels of
 * the b-trees are what it reads again; the rest comes from the system's
 * page cache.
 */
#ifndef VT_SQLITE_CACHE_KIB
#define VT_SQLITE_CACHE_KIB 4096
#endif
#ifndef VT_SQLITE_RCACHE_KIB
#define VT_SQLITE_RCACHE_KIB 1024
#endif
/*
 * Envelope bodies wait in memory until this many bytes (or the commit), then
 * go to the envelope segment in one write: a pwrite per envelope would cost
 * more than the row.
 */
#ifndef VT_SQLITE_ENVBUF
#define VT_SQLITE_ENVBUF (1u << 20)
#endif
/* After a checkpoint, truncate a WAL that grew beyond this many bytes. */
#define VT_SQLITE_WAL_LIMIT (64 << 20)
/*
 * How many of a growing bundle's stored bytes (its last ones) are compared
 * with the new bytes before the rest is appended: all of them in builds
 * without NDEBUG, a cheap tail otherwise. A mismatch is the caller breaking
 * the contract (store.h), refused with VT_EINVAL.
 */
#ifdef NDEBUG
#define VT_SQLITE_PREFIX_CHECK 64u
#else
#define VT_SQLITE_PREFIX_CHECK VT_STORE_BUNDLE_MAX
#endif

enum {
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_META_PUT,
        ST_META_GET,
        ST_BUNDLE_PUT,
        ST_BUNDLE_GET,
        ST_BUNDLE_GET_V2,
        ST_BUNDLE_LAST,
        ST_SEG_GET,
        ST_SEG_PUT,
        ST_ESEG_GET,
        ST_ESEG_PUT,
        ST_TILE_PUT,
        ST_TILE_GET,
        ST_CP_PUT,
        ST_CP_GET,
        ST_CP_LATEST,
        ST_CP_NEXT,
        ST_ENV_PUT,
        ST_ENV_GET,
        ST_ENV_GET_V4,
        ST_ENV_KEYS,
        ST_ENV_SCAN,
        ST_SUBJ_HAS,
        ST_SUBJ_HAS_V4,
        ST_SUBJ_SCAN,
        ST_SUBJ_SCAN_V4,
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
    [ST_BUNDLE_PUT] = "INSERT INTO bundles(n, width, off, len) VALUES(?1, ?2, ?3, ?4)"
                      " ON CONFLICT(n) DO UPDATE SET width = excluded.width, off = excluded.off,"
                      " len = excluded.len",
    [ST_BUNDLE_GET] = "SELECT width, off, len FROM bundles WHERE n = ?1",
    [ST_BUNDLE_GET_V2] = "SELECT width, data FROM bundles WHERE n = ?1",
    [ST_BUNDLE_LAST] = "SELECT n, width, off, len FROM bundles ORDER BY n DESC LIMIT 1",
    [ST_SEG_GET] = "SELECT committed FROM segment WHERE id = 0",
    [ST_SEG_PUT] = "UPDATE segment SET committed = ?1 WHERE id = 0",
    [ST_ESEG_GET] = "SELECT envelopes FROM segment WHERE id = 0",
    [ST_ESEG_PUT] = "UPDATE segment SET envelopes = ?1 WHERE id = 0",
    [ST_TILE_PUT] = "INSERT INTO tiles(level, n, width, data) VALUES(?1, ?2, ?3, ?4)"
                    " ON CONFLICT(level, n) DO UPDATE SET width = excluded.width,"
                    " data = excluded.data",
    [ST_TILE_GET] = "SELECT width, data FROM tiles WHERE level = ?1 AND n = ?2",
    [ST_CP_PUT] = "INSERT INTO checkpoints(size, note) VALUES(?1, ?2)"
                  " ON CONFLICT(size) DO UPDATE SET note = excluded.note",
    [ST_CP_GET] = "SELECT note FROM checkpoints WHERE size = ?1",
    [ST_CP_LATEST] = "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CP_NEXT] = "SELECT size, note FROM checkpoints WHERE size >= ?1 ORDER BY size LIMIT 1",
    [ST_ENV_PUT] = "INSERT INTO envelopes(idx, payload_sha256, entry_hash, off, len, subjects)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_ENV_GET] = "SELECT off, len FROM envelopes WHERE idx = ?1",
    [ST_ENV_GET_V4] = "SELECT envelope FROM envelope_bodies WHERE idx = ?1",
    [ST_ENV_KEYS] = "SELECT payload_sha256, entry_hash FROM envelopes WHERE idx = ?1",
    [ST_ENV_SCAN] = "SELECT idx, payload_sha256, entry_hash FROM envelopes WHERE idx >= ?1"
                    " ORDER BY idx",
    [ST_SUBJ_HAS] = "SELECT subjects FROM envelopes WHERE idx = ?1",
    [ST_SUBJ_HAS_V4] = "SELECT 1 FROM subjects WHERE idx = ?1 AND digest = ?2",
    [ST_SUBJ_SCAN] = "SELECT idx, subjects FROM envelopes WHERE idx >= ?1 ORDER BY idx",
    [ST_SUBJ_SCAN_V4] = "SELECT idx, digest FROM subjects WHERE idx >= ?1 ORDER BY idx",
    [ST_TOKEN_PUT] = "INSERT INTO tokens(name, hash, admin, revoked, created)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE name = ?1",
    [ST_TOKEN_LIST] = "SELECT name, hash, admin, revoked, created FROM tokens ORDER BY name",
};

/* The log's tables of version 1 (docs/FORMATS.md, "The store"): a new database starts here. */
static const char sq_schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
    "CREATE TABLE bundles(n INTEGER PRIMARY KEY, width INTEGER NOT NULL, off INTEGER NOT NULL,"
    " len INTEGER NOT NULL);"
    "CREATE TABLE tiles(level INTEGER NOT NULL, n INTEGER NOT NULL, width INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY(level, n)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note BLOB NOT NULL);";

/* The service's tables: what version 2 added to version 1. */
static const char sq_schema_v2_sql[] =
    "CREATE TABLE envelopes(idx INTEGER PRIMARY KEY, payload_sha256 BLOB NOT NULL,"
    " entry_hash BLOB NOT NULL UNIQUE, envelope BLOB NOT NULL);"
    "CREATE INDEX envelopes_payload ON envelopes(payload_sha256, idx);"
    "CREATE TABLE subjects(digest BLOB NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(digest, idx)) WITHOUT ROWID;"
    "CREATE TABLE tokens(name TEXT PRIMARY KEY NOT NULL, hash BLOB NOT NULL,"
    " admin INTEGER NOT NULL, revoked INTEGER NOT NULL, created INTEGER NOT NULL);";

/* The segment's committed end: what version 3 added (with bundles(off, len) for their bytes). */
static const char sq_schema_v3_sql[] =
    "CREATE TABLE segment(id INTEGER PRIMARY KEY CHECK (id = 0), committed INTEGER NOT NULL);";

/*
 * Version 3 to 4: the service's tables without random-key b-trees. The
 * envelope bytes move to envelope_bodies, envelopes keeps the two digests
 * (a narrow table the service reads whole at start), subjects is keyed by
 * (idx, digest), so a batch appends at the right edge of each b-tree
 * instead of dirtying a random leaf page per key; the lookups by digest are
 * the service's in-memory index (src/service/index.c). A new database is
 * made at version 1 and brought through every step in its creating
 * transaction.
 */
static const char sq_schema_v4_sql[] =
    "CREATE TABLE envelope_bodies(idx INTEGER PRIMARY KEY, envelope BLOB NOT NULL);"
    "INSERT INTO envelope_bodies(idx, envelope) SELECT idx, envelope FROM envelopes;"
    "CREATE TABLE envelopes_v4(idx INTEGER PRIMARY KEY, payload_sha256 BLOB NOT NULL,"
    " entry_hash BLOB NOT NULL);"
    "INSERT INTO envelopes_v4(idx, payload_sha256, entry_hash)"
    " SELECT idx, payload_sha256, entry_hash FROM envelopes;"
    "DROP TABLE envelopes;"
    "ALTER TABLE envelopes_v4 RENAME TO envelopes;"
    "CREATE TABLE subjects_v4(idx INTEGER NOT NULL, digest BLOB NOT NULL,"
    " PRIMARY KEY(idx, digest)) WITHOUT ROWID;"
    "INSERT INTO subjects_v4(idx, digest) SELECT idx, digest FROM subjects;"
    "DROP TABLE subjects;"
    "ALTER TABLE subjects_v4 RENAME TO subjects;";

/*
 * Version 4 to 5: one row per envelope, its bytes in the envelope segment.
 * envelopes_v5 is made first and filled (sq_migrate_envelopes: every body,
 * in index order, copied to the segment; the subjects of each index packed
 * into one blob of 32-byte digests, in digest order), then the swap drops
 * the version 4 tables and adds the envelope segment's committed end to the
 * segment row. The subjects blob is the last column, so a scan of the
 * digests never reads a large one's overflow pages.
 */
static const char sq_schema_v5_new_sql[] =
    "CREATE TABLE envelopes_v5(idx INTEGER PRIMARY KEY, payload_sha256 BLOB NOT NULL,"
    " entry_hash BLOB NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL,"
    " subjects BLOB NOT NULL);";
static const char sq_schema_v5_swap_sql[] =
    "DROP TABLE envelopes;"
    "DROP TABLE envelope_bodies;"
    "DROP TABLE subjects;"
    "ALTER TABLE envelopes_v5 RENAME TO envelopes;"
    "ALTER TABLE segment ADD COLUMN envelopes INTEGER NOT NULL DEFAULT 0;";

struct sq {
        struct vt_store base; /* first: store.c sees only this */
        sqlite3 *db;
        sqlite3_stmt *st[ST_COUNT];
        struct vt_store_segment seg;
        struct vt_store_segment eseg; /* the envelope segment (schema 5) */
        int lockfd;      /* the data directory, flocked (store_impl.h): -1 when not held */
        int sole;        /* this writer held it exclusively at open */
        int legacy;      /* read-only on schema 1 or 2: bundle bytes are blobs in bundles.data */
        int64_t version; /* the schema version (a read-only connection may find 1..4) */
        /* The segment as the open transaction sees it; valid while seg_known. */
        int seg_known;
        int seg_dirty;      /* bytes written and not yet synced: cut them on rollback */
        int has_last;       /* there is a stored bundle: */
        uint64_t last_n;    /*   the last one, */
        unsigned last_w;    /*   its width, */
        uint64_t last_off;  /*   where its bytes are in the segment */
        uint64_t last_len;  /*   and how many */
        uint64_t seg_start; /* where this transaction began writing */
        uint64_t seg_pos;   /* where its next bytes go: the end it will commit */
        /* The envelope segment, the same way; valid while eseg_known. */
        int eseg_known;
        int eseg_dirty;        /* bytes written and not yet synced: cut them on rollback */
        uint64_t eseg_start;   /* where this transaction began writing */
        uint64_t eseg_flushed; /* its bytes below this are in the file, */
        uint64_t eseg_pos;     /* those up to this in ebuf: the end it will commit */
        struct vt_buf ebuf;    /* envelope bodies not written yet */
        /* Background checkpoints of a writer (sq_wal_hook). */
        char *path;           /* the database file */
        int ck_pages;         /* WAL pages that call for a checkpoint */
        int ck_started;       /* the thread runs */
        int ck_want, ck_stop; /* under ck_mu */
        pthread_t ck_th;
        pthread_mutex_t ck_run; /* held around every checkpoint of the writer's (see below) */
        pthread_mutex_t ck_mu;
        pthread_cond_t ck_cv;
        /* The sync helper of a writer (sq_segments_sync). */
        int sy_state;                  /* SY_NONE, SY_RUNNING or SY_NOTHREAD */
        pid_t sy_pid;                  /* the process that started it */
        struct vt_store_segment *sy_g; /* under sy_mu: the segment to sync, NULL when idle */
        int sy_stop;                   /* under sy_mu */
        int sy_err;                    /* under sy_mu: the last sync's result */
        struct vt_diag sy_diag;        /* under sy_mu: and its diagnostic */
        pthread_t sy_th;
        pthread_mutex_t sy_mu;
        pthread_cond_t sy_go;   /* sy_g or sy_stop set */
        pthread_cond_t sy_done; /* sy_g cleared */
};

/* sq.sy_state: the helper has not been needed yet, runs, or could not be started. */
enum { SY_NONE = 0, SY_RUNNING, SY_NOTHREAD };

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
        int64_t page = 0;
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
        /* The checkpoint threshold is in pages of the file's own size. */
        if ((err = sq_pragma_int(q->db, dir, "PRAGMA page_size", &page, d)) != 0)
                return err;
        if (page < 512)
                page = 512;
        q->ck_pages = (int)(VT_SQLITE_CHECKPOINT_BYTES / page);
        snprintf(sql, sizeof(sql),
                 "PRAGMA synchronous=FULL; PRAGMA secure_delete=OFF; PRAGMA cache_size=-%d;"
                 " PRAGMA wal_autocheckpoint=%d; PRAGMA journal_size_limit=%d",
                 flags & VT_STORE_READONLY ? VT_SQLITE_RCACHE_KIB : VT_SQLITE_CACHE_KIB,
                 (int)(VT_SQLITE_CHECKPOINT_BYTES / page), VT_SQLITE_WAL_LIMIT);
        return sq_exec(q->db, dir, sql, "configuring the connection", d);
}

/* sq_int_ok(v, max): a stored integer within 0..max. */
static int sq_int_ok(sqlite3_int64 v, uint64_t max)
{
        return v >= 0 && (uint64_t)v <= max;
}

/*
 * sq_migrate_bundles(q, dir, d): the version 2 to 3 step, inside the
 * migration's transaction: copy every bundle blob, in order, to the segment
 * (cut to empty first: nothing in it is committed yet, a previous attempt
 * may have left bytes), record (n, width, off, len), drop the blobs, and
 * sync the segment before the caller commits.
 */
static int sq_migrate_bundles(struct sq *q, const char *dir, struct vt_diag *d)
{
        sqlite3_stmt *sel = NULL, *ins = NULL;
        const void *p;
        uint64_t pos = 0;
        sqlite3_int64 n, w;
        char sql[sizeof(sq_schema_v3_sql) + 256];
        int rc, len, err;

        if ((err = vt_store_segment_truncate(&q->seg, 0, d)) != 0)
                goto fail_seg;
        if ((err = sq_exec(q->db, dir,
                           "CREATE TABLE bundles_v3(n INTEGER PRIMARY KEY, width INTEGER NOT NULL,"
                           " off INTEGER NOT NULL, len INTEGER NOT NULL)",
                           "moving the entry bundles to the segment", d)) != 0)
                return err;
        if ((rc = sqlite3_prepare_v2(q->db, "SELECT n, width, data FROM bundles ORDER BY n", -1,
                                     &sel, NULL)) != SQLITE_OK ||
            (rc = sqlite3_prepare_v2(q->db,
                                     "INSERT INTO bundles_v3(n, width, off, len)"
                                     " VALUES(?1, ?2, ?3, ?4)",
                                     -1, &ins, NULL)) != SQLITE_OK) {
                err = sq_fail(dir, q->db, rc, "moving the entry bundles to the segment", d);
                goto out;
        }
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
                n = sqlite3_column_int64(sel, 0);
                w = sqlite3_column_int64(sel, 1);
                p = sqlite3_column_blob(sel, 2);
                len = sqlite3_column_bytes(sel, 2);
                if (n < 0 || w < 1 || w > VT_STORE_WIDTH || len < 1 ||
                    (unsigned)len > VT_STORE_BUNDLE_MAX || p == NULL) {
                        vt_diag_set(d,
                                    "store '%s': entry bundle %lld is malformed (width %lld, %d "
                                    "bytes)",
                                    dir, (long long)n, (long long)w, len);
                        err = p == NULL && len > 0 ? VT_ENOMEM : VT_ECORRUPT;
                        goto out;
                }
                if ((err = vt_store_segment_write(&q->seg, p, (size_t)len, pos, d)) != 0)
                        goto fail_seg;
                sqlite3_bind_int64(ins, 1, n);
                sqlite3_bind_int64(ins, 2, w);
                sqlite3_bind_int64(ins, 3, (sqlite3_int64)pos);
                sqlite3_bind_int64(ins, 4, len);
                if ((rc = sqlite3_step(ins)) != SQLITE_DONE) {
                        err = sq_fail(dir, q->db, rc, "moving the entry bundles to the segment", d);
                        goto out;
                }
                sqlite3_reset(ins);
                pos += (uint64_t)len;
        }
        if (rc != SQLITE_DONE) {
                err = sq_fail(dir, q->db, rc, "reading the entry bundles", d);
                goto out;
        }
        sqlite3_finalize(sel);
        sel = NULL;
        snprintf(sql, sizeof(sql),
                 "DROP TABLE bundles; ALTER TABLE bundles_v3 RENAME TO bundles; %s"
                 "INSERT INTO segment(id, committed) VALUES(0, %llu); PRAGMA user_version=3",
                 sq_schema_v3_sql, (unsigned long long)pos);
        if ((err = sq_exec(q->db, dir, sql, "migrating the schema to version 3", d)) != 0)
                goto out;
        if (pos > 0 && (err = vt_store_segment_sync(&q->seg, d)) != 0)
                goto fail_seg;
        goto out;
fail_seg:
        vt_diag_prefix(d, "store '%s'", dir);
out:
        sqlite3_finalize(sel);
        sqlite3_finalize(ins);
        return err;
}

/*
 * sq_migrate_flush(q, buf, pos, d): write buf's bytes to the envelope
 * segment at *pos (the version 4 to 5 step), advance *pos, empty buf.
 */
static int sq_migrate_flush(struct sq *q, struct vt_buf *buf, uint64_t *pos, struct vt_diag *d)
{
        int err;

        if (buf->len == 0)
                return 0;
        if ((err = vt_store_segment_write(&q->eseg, buf->p, buf->len, *pos, d)) != 0)
                return err;
        *pos += buf->len;
        buf->len = 0;
        return 0;
}

/*
 * sq_migrate_envelopes(q, dir, d): the version 4 to 5 step, inside the
 * migration's transaction: cut the envelope segment to empty (nothing in it
 * is committed yet, a previous attempt may have left bytes), copy every
 * envelope body to it in index order, with the subjects of each index packed
 * into one blob, into envelopes_v5; swap the tables, record the committed
 * end, and sync the segment before the caller commits. A body or a subject
 * without its envelope row is VT_ECORRUPT (nothing is dropped silently).
 */
static int sq_migrate_envelopes(struct sq *q, const char *dir, struct vt_diag *d)
{
        static const char doing[] = "moving the envelopes to the envelope segment";
        sqlite3_stmt *sel = NULL, *sub = NULL, *ins = NULL;
        struct vt_buf body, subj;
        const void *p;
        uint64_t pos = 0, off;
        sqlite3_int64 idx, sidx = -1;
        int rc, src = SQLITE_DONE, len, err = 0;
        int64_t orphans = 0;
        char sql[sizeof(sq_schema_v5_swap_sql) + 128];

        vt_buf_init(&body);
        vt_buf_init(&subj);
        if ((err = vt_store_segment_truncate(&q->eseg, 0, d)) != 0)
                goto fail_seg;
        if ((err = sq_pragma_int(q->db, dir,
                                 "SELECT count(*) FROM envelope_bodies WHERE idx NOT IN"
                                 " (SELECT idx FROM envelopes)",
                                 &orphans, d)) != 0)
                goto out;
        if (orphans > 0) {
                vt_diag_set(d, "store '%s': %lld envelope bodies have no envelope row", dir,
                            (long long)orphans);
                err = VT_ECORRUPT;
                goto out;
        }
        if ((err = sq_exec(q->db, dir, sq_schema_v5_new_sql, doing, d)) != 0)
                goto out;
        if ((rc = sqlite3_prepare_v2(q->db,
                                     "SELECT e.idx, e.payload_sha256, e.entry_hash, b.envelope"
                                     " FROM envelopes e LEFT JOIN envelope_bodies b"
                                     " ON b.idx = e.idx ORDER BY e.idx",
                                     -1, &sel, NULL)) != SQLITE_OK ||
            (rc = sqlite3_prepare_v2(q->db, "SELECT idx, digest FROM subjects ORDER BY idx, digest",
                                     -1, &sub, NULL)) != SQLITE_OK ||
            (rc = sqlite3_prepare_v2(q->db,
                                     "INSERT INTO envelopes_v5(idx, payload_sha256, entry_hash,"
                                     " off, len, subjects) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                     -1, &ins, NULL)) != SQLITE_OK) {
                err = sq_fail(dir, q->db, rc, doing, d);
                goto out;
        }
        /* The subjects cursor walks beside the envelopes, both by index. */
        if ((src = sqlite3_step(sub)) == SQLITE_ROW)
                sidx = sqlite3_column_int64(sub, 0);
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
                idx = sqlite3_column_int64(sel, 0);
                p = sqlite3_column_blob(sel, 3);
                len = sqlite3_column_bytes(sel, 3);
                if (idx < 0 || sqlite3_column_bytes(sel, 1) != 32 ||
                    sqlite3_column_bytes(sel, 2) != 32 || len < 1 ||
                    (unsigned)len > VT_STORE_ENVELOPE_MAX || p == NULL) {
                        vt_diag_set(d,
                                    "store '%s': the envelope of entry %lld is malformed or has "
                                    "no body (%d bytes)",
                                    dir, (long long)idx, len);
                        err = p == NULL && len > 0 ? VT_ENOMEM : VT_ECORRUPT;
                        goto out;
                }
                subj.len = 0;
                while (src == SQLITE_ROW && sidx == idx) {
                        if (sqlite3_column_bytes(sub, 1) != 32 ||
                            sqlite3_column_blob(sub, 1) == NULL) {
                                vt_diag_set(d,
                                            "store '%s': a subject of entry %lld is not 32 bytes",
                                            dir, (long long)idx);
                                err = VT_ECORRUPT;
                                goto out;
                        }
                        if (vt_buf_append(&subj, sqlite3_column_blob(sub, 1), 32) != 0)
                                goto nomem;
                        if ((src = sqlite3_step(sub)) == SQLITE_ROW)
                                sidx = sqlite3_column_int64(sub, 0);
                }
                if (src != SQLITE_ROW && src != SQLITE_DONE) {
                        err = sq_fail(dir, q->db, src, "reading the subjects", d);
                        goto out;
                }
                off = pos + body.len;
                if (vt_buf_append(&body, p, (size_t)len) != 0)
                        goto nomem;
                sqlite3_bind_int64(ins, 1, idx);
                sqlite3_bind_blob(ins, 2, sqlite3_column_blob(sel, 1), 32, SQLITE_TRANSIENT);
                sqlite3_bind_blob(ins, 3, sqlite3_column_blob(sel, 2), 32, SQLITE_TRANSIENT);
                sqlite3_bind_int64(ins, 4, (sqlite3_int64)off);
                sqlite3_bind_int64(ins, 5, len);
                sqlite3_bind_blob(ins, 6, subj.len > 0 ? (const void *)subj.p : "", (int)subj.len,
                                  SQLITE_STATIC);
                if ((rc = sqlite3_step(ins)) != SQLITE_DONE) {
                        err = sq_fail(dir, q->db, rc, doing, d);
                        goto out;
                }
                sqlite3_reset(ins);
                if (body.len >= VT_SQLITE_ENVBUF &&
                    (err = sq_migrate_flush(q, &body, &pos, d)) != 0)
                        goto fail_seg;
        }
        if (rc != SQLITE_DONE) {
                err = sq_fail(dir, q->db, rc, "reading the envelopes", d);
                goto out;
        }
        /* A subject whose index had no envelope stops the cursor: it is still on it. */
        if (src == SQLITE_ROW) {
                vt_diag_set(d, "store '%s': a subject of entry %lld has no envelope", dir,
                            (long long)sidx);
                err = VT_ECORRUPT;
                goto out;
        }
        if ((err = sq_migrate_flush(q, &body, &pos, d)) != 0)
                goto fail_seg;
        sqlite3_finalize(sel);
        sqlite3_finalize(sub);
        sqlite3_finalize(ins);
        sel = sub = ins = NULL;
        snprintf(sql, sizeof(sql), "%sUPDATE segment SET envelopes = %llu; PRAGMA user_version=5",
                 sq_schema_v5_swap_sql, (unsigned long long)pos);
        if ((err = sq_exec(q->db, dir, sql, "migrating the schema to version 5", d)) != 0)
                goto out;
        if (pos > 0 && (err = vt_store_segment_sync(&q->eseg, d)) != 0)
                goto fail_seg;
        goto out;
nomem:
        vt_diag_set(d, "store '%s': out of memory while %s", dir, doing);
        err = VT_ENOMEM;
        goto out;
fail_seg:
        vt_diag_prefix(d, "store '%s'", dir);
out:
        sqlite3_finalize(sel);
        sqlite3_finalize(sub);
        sqlite3_finalize(ins);
        vt_buf_release(&body);
        vt_buf_release(&subj);
        return err;
}

/*
 * sq_migrate(q, dir, version, d): bring a schema version 1..4 database to
 * version 5 in one transaction (1 -> 2: add the service tables; 2 -> 3:
 * move the bundle bytes to the segment, which must be open for writing;
 * 3 -> 4: key the service tables by entry index; 4 -> 5: one row per
 * envelope, its body in the envelope segment, also open for writing);
 * *version becomes the version found or made. Another process migrating at
 * the same time serialises on BEGIN IMMEDIATE; the second finds version 5.
 * A failure rolls back, and the envelope segment's bytes are cut at the
 * next attempt (none of them is committed before version 5 is).
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
        if (v == 2) {
                if ((err = sq_migrate_bundles(q, dir, d)) != 0)
                        goto fail;
                v = 3;
        }
        if (v == 3) {
                char sql4[sizeof(sq_schema_v4_sql) + 64];
                snprintf(sql4, sizeof(sql4), "%sPRAGMA user_version=4", sq_schema_v4_sql);
                if ((err = sq_exec(q->db, dir, sql4, "migrating the schema to version 4", d)) != 0)
                        goto fail;
                v = 4;
        }
        if (v == 4) {
                if ((err = sq_migrate_envelopes(q, dir, d)) != 0)
                        goto fail;
                v = 5;
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
 * sq_schema(q, dir, path, flags, version, d): check the database is ours and
 * of a schema version we know (1..5), setting *version; with
 * VT_STORE_CREATE, create the version 5 schema in an empty database (the
 * version 1 tables brought through every step, empty). Two
 * processes creating at once serialise on BEGIN IMMEDIATE and the second
 * finds the schema in place.
 */
static int sq_schema(struct sq *q, const char *dir, const char *path, int flags, int64_t *version,
                     struct vt_diag *d)
{
        int64_t app = 0, v = 0, tables = 0;
        int err, in_tx = 0;

        if ((err = sq_pragma_int(q->db, dir, "PRAGMA application_id", &app, d)) != 0 ||
            (err = sq_pragma_int(q->db, dir, "PRAGMA user_version", &v, d)) != 0)
                return err;
        if (app == 0 && v == 0 && (flags & VT_STORE_CREATE)) {
                if ((err = sq_exec(q->db, dir, "BEGIN IMMEDIATE", "creating the schema", d)) != 0)
                        return err;
                in_tx = 1;
                if ((err = sq_pragma_int(q->db, dir, "PRAGMA application_id", &app, d)) != 0 ||
                    (err = sq_pragma_int(q->db, dir, "PRAGMA user_version", &v, d)) != 0 ||
                    (err = sq_pragma_int(q->db, dir, "SELECT count(*) FROM sqlite_schema", &tables,
                                         d)) != 0)
                        goto done;
                if (app == 0 && v == 0 && tables == 0) {
                        char sql[sizeof(sq_schema_sql) + sizeof(sq_schema_v2_sql) +
                                 sizeof(sq_schema_v3_sql) + sizeof(sq_schema_v4_sql) +
                                 sizeof(sq_schema_v5_new_sql) + sizeof(sq_schema_v5_swap_sql) +
                                 160];
                        snprintf(sql, sizeof(sql),
                                 "%s%s%s%s%s%sINSERT INTO segment(id, committed) VALUES(0, 0);"
                                 " PRAGMA application_id=%d; PRAGMA user_version=%d",
                                 sq_schema_sql, sq_schema_v2_sql, sq_schema_v3_sql,
                                 sq_schema_v4_sql, sq_schema_v5_new_sql, sq_schema_v5_swap_sql,
                                 VT_SQLITE_APP_ID, VT_SQLITE_SCHEMA_VERSION);
                        if ((err = sq_exec(q->db, dir, sql, "creating the schema", d)) != 0)
                                goto done;
                        app = VT_SQLITE_APP_ID;
                        v = VT_SQLITE_SCHEMA_VERSION;
                }
                if ((err = sq_exec(q->db, dir, "COMMIT", "creating the schema", d)) != 0)
                        goto done;
                in_tx = 0;
        }
        if (app == 0 && v == 0) {
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
        if (app != VT_SQLITE_APP_ID) {
                vt_diag_set(d, "store '%s': '%s' is not a veritrail database", dir, path);
                err = VT_ESTORE;
        } else if (v < 1 || v > VT_SQLITE_SCHEMA_VERSION) {
                vt_diag_set(d,
                            "store '%s': schema version %lld is not the version %d this program "
                            "knows",
                            dir, (long long)v, VT_SQLITE_SCHEMA_VERSION);
                err = VT_ESTORE;
        } else {
                *version = v;
        }
done:
        if (in_tx)
                sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
}

/*
 * sq_committed_end_of(q, g, out, d): the committed end of segment g (the
 * entry segment or the envelope segment) as this connection sees it (its
 * snapshot, or its own transaction).
 */
static int sq_committed_end_of(struct sq *q, const struct vt_store_segment *g, uint64_t *out,
                               struct vt_diag *d)
{
        const char *what = g == &q->eseg ? "envelope segment" : "segment";
        sqlite3_stmt *st = NULL;
        sqlite3_int64 v;
        int rc, err;

        if ((err = sq_stmt(q, g == &q->eseg ? ST_ESEG_GET : ST_SEG_GET, &st, d)) != 0)
                return err;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                v = sqlite3_column_int64(st, 0);
                if (!sq_int_ok(v, INT64_MAX)) {
                        vt_diag_set(d, "store '%s': the %s's committed end is %lld", q->base.dir,
                                    what, (long long)v);
                        err = VT_ECORRUPT;
                } else {
                        *out = (uint64_t)v;
                }
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': the %s's committed end is missing", q->base.dir, what);
                err = VT_ECORRUPT;
        } else {
                err = sq_fail(q->base.dir, q->db, rc, "reading the segment's end", d);
        }
        sq_done(st);
        return err;
}

/* sq_committed_end(q, out, d): the entry segment's committed end. */
static int sq_committed_end(struct sq *q, uint64_t *out, struct vt_diag *d)
{
        return sq_committed_end_of(q, &q->seg, out, d);
}

/* sq_short_segment(q, g, size, end, d): segment g lost committed bytes. */
static int sq_short_segment(struct sq *q, const struct vt_store_segment *g, uint64_t size,
                            uint64_t end, struct vt_diag *d)
{
        vt_diag_set(d, "store '%s': '%s' holds %llu bytes, but %llu are committed", q->base.dir,
                    g->path, (unsigned long long)size, (unsigned long long)end);
        return VT_ECORRUPT;
}

/*
 * sq_segment_recover(q, d): a writer's open, after the database's. The only
 * connection (q->sole: nobody else can be writing, and SQLite has recovered
 * from the WAL anything a failed or interrupted commit left there) cuts what
 * lies past the committed end (a crash between the segment sync and the
 * COMMIT), under SQLite's write lock. A writer that is not alone leaves
 * those bytes (they may be another connection's, in flight or named by a
 * commit whose sync failed); its writes go after them. Any writer refuses a
 * segment shorter than the committed end.
 */
static int sq_segment_recover(struct sq *q, struct vt_diag *d)
{
        struct vt_store_segment *const segs[2] = {&q->seg, &q->eseg};
        uint64_t end = 0, size = 0;
        int i, err = 0;

        if (!q->sole) {
                for (i = 0; i < 2 && err == 0; i++)
                        if ((err = sq_committed_end_of(q, segs[i], &end, d)) == 0 &&
                            (err = vt_store_segment_size(segs[i], &size, d)) == 0 && size < end)
                                err = sq_short_segment(q, segs[i], size, end, d);
                return err;
        }
        if ((err = sq_exec(q->db, q->base.dir, "BEGIN IMMEDIATE", "opening the segments", d)) != 0)
                return err;
        for (i = 0; i < 2 && err == 0; i++) {
                if ((err = sq_committed_end_of(q, segs[i], &end, d)) != 0 ||
                    (err = vt_store_segment_size(segs[i], &size, d)) != 0)
                        break;
                if (size < end)
                        err = sq_short_segment(q, segs[i], size, end, d);
                else if (size > end && (err = vt_store_segment_truncate(segs[i], end, d)) != 0)
                        vt_diag_prefix(d, "store '%s'", q->base.dir);
        }
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
}

/*
 * Background checkpoints. SQLite's automatic checkpoint runs inside the
 * commit that crosses the threshold: that commit copies the whole WAL
 * (VT_SQLITE_CHECKPOINT_BYTES) into the database and syncs it, tens of
 * milliseconds on the committer's path. A writer instead gets a WAL hook
 * that wakes a thread of its own, with its own connection, for a PASSIVE
 * checkpoint (it never blocks the writer; the next transaction after a
 * complete one starts the WAL over). Should the thread fall behind (WAL at
 * twice the threshold) the commit waits for it and checkpoints the rest
 * (RESTART: the next transaction starts the WAL over); and while a
 * test's fault-injection countdown runs, checkpoints stay inline so that
 * the count of I/O calls stays deterministic. A checkpoint that fails,
 * here or inline, loses nothing: the WAL still holds every frame.
 */
static void *sq_ck_thread(void *arg)
{
        struct sq *q = arg;
        sqlite3 *db = NULL;

        vt_util_thread_name("vt-checkpoint");

        if (sqlite3_open_v2(q->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            vt_store_faultvfs_name()) != SQLITE_OK) {
                sqlite3_close_v2(db);
                db = NULL;
        }
        /* A first read makes the connection see the WAL (before it, a checkpoint is a no-op). */
        if (db != NULL) {
                sqlite3_busy_timeout(db, VT_SQLITE_BUSY_MS);
                if (sqlite3_exec(db, "PRAGMA synchronous=FULL; SELECT count(*) FROM sqlite_schema",
                                 NULL, NULL, NULL) != SQLITE_OK) {
                        sqlite3_close_v2(db);
                        db = NULL;
                }
        }
        pthread_mutex_lock(&q->ck_mu);
        for (;;) {
                while (!q->ck_want && !q->ck_stop)
                        pthread_cond_wait(&q->ck_cv, &q->ck_mu);
                if (q->ck_stop)
                        break;
                q->ck_want = 0;
                pthread_mutex_unlock(&q->ck_mu);
                if (db != NULL) {
                        pthread_mutex_lock(&q->ck_run);
                        (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                                        NULL);
                        pthread_mutex_unlock(&q->ck_run);
                }
                pthread_mutex_lock(&q->ck_mu);
        }
        pthread_mutex_unlock(&q->ck_mu);
        sqlite3_close_v2(db);
        return NULL;
}

/* sq_wal_hook: after each commit of the writer, with the WAL's size in pages. */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
        struct sq *q = arg;
        sigset_t all, old;

        (void)name;
        if (pages < q->ck_pages)
                return SQLITE_OK;
        if (vt_store_fault_armed()) {
                (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
                return SQLITE_OK;
        }
        if (pages >= 2 * q->ck_pages) {
                /*
                 * The thread is behind: wait for it (a second checkpointer gets
                 * SQLITE_BUSY at once, without the busy handler), copy the rest,
                 * start the WAL over.
                 */
                pthread_mutex_lock(&q->ck_run);
                (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
                pthread_mutex_unlock(&q->ck_run);
                return SQLITE_OK;
        }
        pthread_mutex_lock(&q->ck_mu);
        if (!q->ck_started) {
                /* Signals stay with the program's own threads. */
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                q->ck_started = pthread_create(&q->ck_th, NULL, sq_ck_thread, q) == 0;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        q->ck_want = 1;
        pthread_cond_signal(&q->ck_cv);
        pthread_mutex_unlock(&q->ck_mu);
        if (!q->ck_started)
                (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
}

/* sq_ck_stop(q): the checkpoint thread ends (its connection closes first). */
static void sq_ck_stop(struct sq *q)
{
        if (q->path == NULL)
                return; /* not a writer with a hook */
        pthread_mutex_lock(&q->ck_mu);
        q->ck_stop = 1;
        pthread_cond_signal(&q->ck_cv);
        pthread_mutex_unlock(&q->ck_mu);
        if (q->ck_started)
                pthread_join(q->ck_th, NULL);
        pthread_mutex_destroy(&q->ck_run);
        pthread_mutex_destroy(&q->ck_mu);
        pthread_cond_destroy(&q->ck_cv);
        free(q->path);
        q->path = NULL;
}

/*
 * Parallel segment syncs. A commit that wrote both segments must have both
 * durable before its COMMIT. One fdatasync after the other waits for the
 * disk twice; instead the writer hands the envelope segment's sync to a
 * helper thread of its own, syncs the entry segment meanwhile, and waits for
 * both (the disk, or the file system's journal, serves the two at once). The
 * thread starts at the first commit that needs it (a log-only writer never
 * has one) and is joined at close; when it cannot be started, the syncs run
 * one after the other.
 *
 * Fault injection stays deterministic: both syncs are counted against the
 * countdown on the committing thread, entry segment first, before either
 * fdatasync starts (vt_store_segment_sync_count()); the helper only calls
 * the uncounted half. A sweep thus sees the same ticks, in the same order,
 * as with sequential syncs.
 */
static void *sq_sy_thread(void *arg)
{
        struct sq *q = arg;
        struct vt_store_segment *g;
        struct vt_diag d;
        int err;

        vt_util_thread_name("vt-sync");

        pthread_mutex_lock(&q->sy_mu);
        for (;;) {
                while (q->sy_g == NULL && !q->sy_stop)
                        pthread_cond_wait(&q->sy_go, &q->sy_mu);
                if (q->sy_g == NULL)
                        break; /* stopped, and nothing handed over */
                g = q->sy_g;
                pthread_mutex_unlock(&q->sy_mu);
                d.msg[0] = '\0';
                err = vt_store_segment_sync_uncounted(g, &d);
                pthread_mutex_lock(&q->sy_mu);
                q->sy_err = err;
                q->sy_diag = d;
                q->sy_g = NULL;
                pthread_cond_signal(&q->sy_done);
        }
        pthread_mutex_unlock(&q->sy_mu);
        return NULL;
}

/*
 * sq_sy_start(q): 1 when the helper runs (starting it at the first call), 0
 * when the syncs must run one after the other (it could not be started, or
 * this is a child process that inherited the connection but not the thread).
 */
static int sq_sy_start(struct sq *q)
{
        sigset_t all, old;
        int rc;

        if (q->sy_state == SY_NONE) {
                q->sy_state = SY_NOTHREAD;
                if (pthread_mutex_init(&q->sy_mu, NULL) != 0)
                        return 0;
                if (pthread_cond_init(&q->sy_go, NULL) != 0) {
                        pthread_mutex_destroy(&q->sy_mu);
                        return 0;
                }
                if (pthread_cond_init(&q->sy_done, NULL) != 0) {
                        pthread_cond_destroy(&q->sy_go);
                        pthread_mutex_destroy(&q->sy_mu);
                        return 0;
                }
                q->sy_g = NULL;
                q->sy_stop = 0;
                /* Signals stay with the program's own threads. */
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                rc = pthread_create(&q->sy_th, NULL, sq_sy_thread, q);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (rc != 0) {
                        pthread_cond_destroy(&q->sy_done);
                        pthread_cond_destroy(&q->sy_go);
                        pthread_mutex_destroy(&q->sy_mu);
                        return 0;
                }
                q->sy_state = SY_RUNNING;
                q->sy_pid = getpid();
        }
        return q->sy_state == SY_RUNNING && q->sy_pid == getpid();
}

/* sq_sy_stop(q): the helper, if it was started (in this process), ends. */
static void sq_sy_stop(struct sq *q)
{
        if (q->sy_state != SY_RUNNING || q->sy_pid != getpid())
                return;
        pthread_mutex_lock(&q->sy_mu);
        q->sy_stop = 1;
        pthread_cond_signal(&q->sy_go);
        pthread_mutex_unlock(&q->sy_mu);
        pthread_join(q->sy_th, NULL);
        pthread_cond_destroy(&q->sy_done);
        pthread_cond_destroy(&q->sy_go);
        pthread_mutex_destroy(&q->sy_mu);
        q->sy_state = SY_NONE;
}

/*
 * sq_segments_sync(q, d): make durable the segments the transaction wrote
 * (seg_dirty, eseg_dirty); both at once when it wrote both. 0, or VT_EIO
 * with d naming the file whose sync failed (the entry segment's when both
 * did).
 */
static int sq_segments_sync(struct sq *q, struct vt_diag *d)
{
        struct vt_diag hd;
        int err, herr;

        if (!q->seg_dirty || !q->eseg_dirty) {
                if (q->seg_dirty)
                        return vt_store_segment_sync(&q->seg, d);
                if (q->eseg_dirty)
                        return vt_store_segment_sync(&q->eseg, d);
                return 0;
        }
        /* Both: the countdown first, in a fixed order, on this thread (see above). */
        if ((err = vt_store_segment_sync_count(&q->seg, d)) != 0 ||
            (err = vt_store_segment_sync_count(&q->eseg, d)) != 0)
                return err;
        if (!sq_sy_start(q)) {
                if ((err = vt_store_segment_sync_uncounted(&q->seg, d)) != 0)
                        return err;
                return vt_store_segment_sync_uncounted(&q->eseg, d);
        }
        pthread_mutex_lock(&q->sy_mu);
        q->sy_g = &q->eseg;
        pthread_cond_signal(&q->sy_go);
        pthread_mutex_unlock(&q->sy_mu);
        err = vt_store_segment_sync_uncounted(&q->seg, d);
        /* Wait for the helper even when ours failed: it uses q->eseg. */
        pthread_mutex_lock(&q->sy_mu);
        while (q->sy_g != NULL)
                pthread_cond_wait(&q->sy_done, &q->sy_mu);
        herr = q->sy_err;
        hd = q->sy_diag;
        pthread_mutex_unlock(&q->sy_mu);
        if (err == 0 && herr != 0) {
                vt_diag_set(d, "%s", hd.msg);
                err = herr;
        }
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
        int64_t version = 0;
        int rc, oflags, err = 0;

        if ((flags & VT_STORE_CREATE) && (err = sq_mkdirs(dir, d)) != 0)
                return err;
        plen = strlen(dir) + sizeof("/" VT_SQLITE_FILE);
        if ((path = malloc(plen)) == NULL || (q = calloc(1, sizeof(*q))) == NULL) {
                vt_diag_set(d, "store '%s': out of memory", dir);
                err = VT_ENOMEM;
                goto fail;
        }
        q->seg.fd = -1;
        q->eseg.fd = -1;
        q->lockfd = -1;
        vt_buf_init(&q->ebuf);
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
        /* The directory lock comes first: whether we are alone decides what SQLite recovers. */
        if ((err = vt_store_lock_open(dir, !(flags & VT_STORE_READONLY), &q->lockfd, &q->sole,
                                      d)) != 0)
                goto fail;
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
            (err = sq_schema(q, dir, path, flags, &version, d)) != 0)
                goto fail;
        if (flags & VT_STORE_READONLY) {
                /* Versions 1 to 4 are read as they are; the first writer upgrades them. */
                q->legacy = version < 3;
                q->version = version;
                if ((!q->legacy && (err = vt_store_segment_open(&q->seg, dir, VT_STORE_SEGMENT_FILE,
                                                                0, d)) != 0) ||
                    (version >= 5 &&
                     (err = vt_store_segment_open(&q->eseg, dir, VT_STORE_ENVSEG_FILE, 0, d)) != 0))
                        goto fail;
        } else if ((err = vt_store_segment_open(&q->seg, dir, VT_STORE_SEGMENT_FILE, 1, d)) != 0 ||
                   (err = vt_store_segment_open(&q->eseg, dir, VT_STORE_ENVSEG_FILE, 1, d)) != 0 ||
                   (version < VT_SQLITE_SCHEMA_VERSION &&
                    (err = sq_migrate(q, dir, &version, d)) != 0) ||
                   (err = sq_segment_recover(q, d)) != 0) {
                goto fail;
        }
        if (q->sole && vt_store_lock_share(q->lockfd) != 0) {
                vt_diag_set(d, "store '%s': cannot lock the directory: %s", dir, strerror(errno));
                err = VT_EIO;
                goto fail;
        }
        q->sole = 0;
        q->base.dir = NULL;
        if (!(flags & VT_STORE_READONLY)) {
                q->version = version;
                pthread_mutex_init(&q->ck_run, NULL);
                pthread_mutex_init(&q->ck_mu, NULL);
                pthread_cond_init(&q->ck_cv, NULL);
                q->path = path;
                path = NULL;
                /* Replaces SQLite's automatic checkpoint (wal_autocheckpoint). */
                sqlite3_wal_hook(q->db, sq_wal_hook, q);
        }
        free(path);
        *out = &q->base;
        return 0;
fail:
        if (q != NULL) {
                /* Unfinalized statements would keep the connection alive (a zombie). */
                for (int i = 0; i < ST_COUNT; i++)
                        sqlite3_finalize(q->st[i]);
                sqlite3_close_v2(q->db);
                vt_store_segment_close(&q->seg);
                vt_store_segment_close(&q->eseg);
                vt_buf_release(&q->ebuf);
                if (q->lockfd >= 0)
                        close(q->lockfd); /* after the database: see store_impl.h */
        }
        free(q);
        free(path);
        return err;
}

static void sq_close(struct vt_store *s)
{
        struct sq *q = (struct sq *)s;
        int i;

        sq_sy_stop(q);
        sq_ck_stop(q);
        for (i = 0; i < ST_COUNT; i++)
                sqlite3_finalize(q->st[i]);
        /* The last connection to close checkpoints the WAL into the database. */
        sqlite3_close_v2(q->db);
        vt_store_segment_close(&q->seg);
        vt_store_segment_close(&q->eseg);
        vt_buf_release(&q->ebuf);
        close(q->lockfd); /* after the database: see store_impl.h */
        free(q);
}

static int sq_wal_flush(struct vt_store *s, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        int rc, log = 0, done = 0;

        /*
         * FULL: wait (busy timeout) for the writer, copy every frame, sync the
         * database; after the writer's checkpoint thread, if it is at work (a
         * second checkpointer would get SQLITE_BUSY at once).
         */
        if (q->path != NULL)
                pthread_mutex_lock(&q->ck_run);
        rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_FULL, &log, &done);
        if (q->path != NULL)
                pthread_mutex_unlock(&q->ck_run);
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

/*
 * sq_eseg_flush(q, d): write the envelope bodies waiting in ebuf to the
 * envelope segment, where they belong (eseg_flushed). The segment is dirty
 * from before the write: a partial write is cut too.
 */
static int sq_eseg_flush(struct sq *q, struct vt_diag *d)
{
        int err;

        if (q->ebuf.len == 0)
                return 0;
        q->eseg_dirty = 1;
        if ((err = vt_store_segment_write(&q->eseg, q->ebuf.p, q->ebuf.len, q->eseg_flushed, d)) !=
            0) {
                vt_diag_prefix(d, "store '%s'", q->base.dir);
                return err;
        }
        q->eseg_flushed += q->ebuf.len;
        q->ebuf.len = 0;
        return 0;
}

static int sq_begin(struct vt_store *s, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        int err;

        q->seg_known = 0;
        q->seg_dirty = 0;
        q->eseg_known = 0;
        q->eseg_dirty = 0;
        q->ebuf.len = 0;
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

        /*
         * Cut the bytes this transaction wrote, while we still hold the write
         * lock (nobody else can have written after them, and no commit record
         * names them). If SQLite already let go of the lock (it rolls back by
         * itself after some errors), leave them: later writers skip them.
         */
        if (q->seg_dirty && !sqlite3_get_autocommit(q->db))
                (void)vt_store_segment_truncate(&q->seg, q->seg_start, NULL);
        if (q->eseg_dirty && !sqlite3_get_autocommit(q->db))
                (void)vt_store_segment_truncate(&q->eseg, q->eseg_start, NULL);
        q->seg_known = 0;
        q->seg_dirty = 0;
        q->eseg_known = 0;
        q->eseg_dirty = 0;
        q->ebuf.len = 0;
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

        /* The envelope bodies still in memory, and the envelope segment's new end. */
        if (q->eseg_known && q->eseg_pos != q->eseg_start) {
                if ((err = sq_eseg_flush(q, d)) != 0 ||
                    (err = sq_stmt(q, ST_ESEG_PUT, &st, d)) != 0)
                        goto fail;
                sqlite3_bind_int64(st, 1, (sqlite3_int64)q->eseg_pos);
                if ((err = sq_run(q, ST_ESEG_PUT, "storing the envelope segment's end", d)) != 0)
                        goto fail;
        }
        /*
         * The segments' bytes are durable before any commit record can name
         * them: both syncs done and succeeded (at once when there are two).
         */
        if ((err = sq_segments_sync(q, d)) != 0) {
                vt_diag_prefix(d, "store '%s'", s->dir);
                goto fail;
        }
        /* From here on the bytes may be named by a commit: never cut them. */
        q->seg_dirty = 0;
        q->eseg_dirty = 0;
        if ((err = sq_stmt(q, ST_COMMIT, &st, d)) == 0)
                err = sq_run(q, ST_COMMIT, "committing", d);
        if (err != 0)
                sq_rollback(s);
        q->seg_known = 0;
        q->eseg_known = 0;
        return err;
fail:
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

/*
 * sq_extent(q, st, col, n, off, len, d): a bundle's (off, len) from columns
 * col and col + 1, checked against corruption.
 */
static int sq_extent(struct sq *q, sqlite3_stmt *st, int col, uint64_t n, uint64_t *off,
                     uint64_t *len, struct vt_diag *d)
{
        sqlite3_int64 o = sqlite3_column_int64(st, col), l = sqlite3_column_int64(st, col + 1);

        if (!sq_int_ok(o, INT64_MAX) || !sq_int_ok(l, VT_STORE_BUNDLE_MAX) || l == 0 ||
            o > INT64_MAX - l) {
                vt_diag_set(d, "store '%s': entry bundle %llu has offset %lld and length %lld",
                            q->base.dir, (unsigned long long)n, (long long)o, (long long)l);
                return VT_ECORRUPT;
        }
        *off = (uint64_t)o;
        *len = (uint64_t)l;
        return 0;
}

/*
 * sq_segment_load(q, d): the open transaction's first look at the segment:
 * the committed end, the last stored bundle, the file's size, and so where
 * its bytes go (never below the file's size: see the top of this file).
 */
static int sq_segment_load(struct sq *q, struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        uint64_t end = 0, size = 0;
        int rc, err;

        if ((err = sq_committed_end(q, &end, d)) != 0 || (err = sq_stmt(q, ST_BUNDLE_LAST, &st, d)))
                return err;
        q->has_last = 0;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                q->last_n = (uint64_t)sqlite3_column_int64(st, 0);
                if ((err = sq_width(q, st, 1, "an entry bundle", &q->last_w, d)) == 0 &&
                    (err = sq_extent(q, st, 2, q->last_n, &q->last_off, &q->last_len, d)) == 0 &&
                    q->last_off + q->last_len > end) {
                        vt_diag_set(d,
                                    "store '%s': entry bundle %llu ends at byte %llu, past the "
                                    "segment's committed end %llu",
                                    q->base.dir, (unsigned long long)q->last_n,
                                    (unsigned long long)(q->last_off + q->last_len),
                                    (unsigned long long)end);
                        err = VT_ECORRUPT;
                }
                q->has_last = err == 0;
        } else if (rc != SQLITE_DONE) {
                err = sq_fail(q->base.dir, q->db, rc, "reading the last entry bundle", d);
        }
        sq_done(st);
        if (err != 0)
                return err;
        if ((err = vt_store_segment_size(&q->seg, &size, d)) != 0) {
                vt_diag_prefix(d, "store '%s'", q->base.dir);
                return err;
        }
        if (size < end)
                return sq_short_segment(q, &q->seg, size, end, d);
        q->seg_start = q->seg_pos = size;
        q->seg_known = 1;
        return 0;
}

/*
 * sq_prefix_check(q, p, len, d): do the stored bytes of the last bundle
 * (their last VT_SQLITE_PREFIX_CHECK) equal the first bytes of p?
 */
static int sq_prefix_check(struct sq *q, const uint8_t *p, struct vt_diag *d)
{
        uint8_t chunk[16384];
        uint64_t from =
            q->last_len > VT_SQLITE_PREFIX_CHECK ? q->last_len - VT_SQLITE_PREFIX_CHECK : 0;
        size_t k;
        int err;

        while (from < q->last_len) {
                k = q->last_len - from < sizeof(chunk) ? (size_t)(q->last_len - from)
                                                       : sizeof(chunk);
                if ((err = vt_store_segment_read(&q->seg, q->last_off + from, k, chunk, d)) != 0) {
                        vt_diag_prefix(d, "store '%s'", q->base.dir);
                        return err;
                }
                if (memcmp(chunk, p + from, k) != 0) {
                        vt_diag_set(d,
                                    "store '%s': bundle %llu: the new bytes do not begin with "
                                    "the stored ones (bundles only grow at the end of the log)",
                                    q->base.dir, (unsigned long long)q->last_n);
                        return VT_EINVAL;
                }
                from += k;
        }
        return 0;
}

/*
 * sq_bundle_write(q, n, width, p, len, d): the put inside a transaction.
 * The contract (store.h): n is the last stored bundle, growing (len and
 * width not smaller; its stored bytes are a prefix of p), or the next one
 * (0 in an empty store). Only the bytes not yet in the segment are written.
 */
static int sq_bundle_write(struct sq *q, uint64_t n, unsigned width, const uint8_t *p, size_t len,
                           struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        uint64_t off, from, end;
        int err;

        if (!q->seg_known && (err = sq_segment_load(q, d)) != 0)
                return err;
        if (q->has_last && n == q->last_n) {
                if (len < q->last_len || width < q->last_w) {
                        vt_diag_set(d,
                                    "store '%s': bundle %llu: bundles only grow at the end of "
                                    "the log (%zu bytes of width %u would replace %llu of "
                                    "width %u)",
                                    q->base.dir, (unsigned long long)n, len, width,
                                    (unsigned long long)q->last_len, q->last_w);
                        return VT_EINVAL;
                }
                if (len == q->last_len && width == q->last_w)
                        return 0; /* nothing new */
                if ((err = sq_prefix_check(q, p, d)) != 0)
                        return err;
                if (q->last_off + q->last_len == q->seg_pos) {
                        off = q->last_off; /* grows in place */
                        from = q->last_len;
                } else {
                        off = q->seg_pos; /* bytes lie after it: written whole at the end */
                        from = 0;
                }
        } else if (q->has_last ? n == q->last_n + 1 : n == 0) {
                off = q->seg_pos;
                from = 0;
        } else {
                if (q->has_last)
                        vt_diag_set(d,
                                    "store '%s': bundle %llu: bundles only grow at the end of "
                                    "the log (the last stored bundle is %llu)",
                                    q->base.dir, (unsigned long long)n,
                                    (unsigned long long)q->last_n);
                else
                        vt_diag_set(d,
                                    "store '%s': bundle %llu: bundles only grow at the end of "
                                    "the log (the store has none, the first is bundle 0)",
                                    q->base.dir, (unsigned long long)n);
                return VT_EINVAL;
        }
        if (from < len) {
                q->seg_dirty = 1;
                if ((err = vt_store_segment_write(&q->seg, p + from, len - from, off + from, d)) !=
                    0) {
                        vt_diag_prefix(d, "store '%s'", q->base.dir);
                        return err;
                }
        }
        end = off + len;
        if ((err = sq_stmt(q, ST_BUNDLE_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        sqlite3_bind_int(st, 2, (int)width);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)off);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)len);
        if ((err = sq_run(q, ST_BUNDLE_PUT, "storing an entry bundle", d)) != 0 ||
            (err = sq_stmt(q, ST_SEG_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)end);
        if ((err = sq_run(q, ST_SEG_PUT, "storing the segment's end", d)) != 0)
                return err;
        q->has_last = 1;
        q->last_n = n;
        q->last_w = width;
        q->last_off = off;
        q->last_len = len;
        q->seg_pos = end;
        return 0;
}

static int sq_bundle_put(struct vt_store *s, uint64_t n, unsigned width, const uint8_t *p,
                         size_t len, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        int err;

        if (!sqlite3_get_autocommit(q->db))
                return sq_bundle_write(q, n, width, p, len, d);
        /* Outside a transaction: one of its own, with the segment's commit protocol. */
        if ((err = sq_begin(s, d)) != 0)
                return err;
        if ((err = sq_bundle_write(q, n, width, p, len, d)) != 0) {
                sq_rollback(s);
                return err;
        }
        return sq_commit(s, d);
}

/* sq_bundle_get_v2(q, n, width, out, d): a version 1 or 2 database's bundle (read-only). */
static int sq_bundle_get_v2(struct sq *q, uint64_t n, unsigned *width, struct vt_buf *out,
                            struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        unsigned w;
        int rc, err;

        if ((err = sq_stmt(q, ST_BUNDLE_GET_V2, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_width(q, st, 0, "an entry bundle", &w, d)) == 0 &&
                    (err = sq_append(q, st, 1, out, "an entry bundle", d)) == 0)
                        *width = w;
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no entry bundle %llu", q->base.dir,
                            (unsigned long long)n);
                err = VT_ENOENT;
        } else {
                err = sq_fail(q->base.dir, q->db, rc, "reading an entry bundle", d);
        }
        sq_done(st);
        return err;
}

static int sq_bundle_get(struct vt_store *s, uint64_t n, unsigned *width, struct vt_buf *out,
                         struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        uint64_t off = 0, len = 0;
        unsigned w = 0;
        int rc, err;

        if (q->legacy)
                return sq_bundle_get_v2(q, n, width, out, d);
        if ((err = sq_stmt(q, ST_BUNDLE_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_width(q, st, 0, "an entry bundle", &w, d)) == 0)
                        err = sq_extent(q, st, 1, n, &off, &len, d);
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no entry bundle %llu", s->dir, (unsigned long long)n);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading an entry bundle", d);
        }
        /* Done with the row: the bytes of a committed range never change, so no snapshot is
         * needed to read them. */
        sq_done(st);
        if (err != 0)
                return err;
        if ((err = vt_store_segment_reopen(&q->seg, d)) != 0) {
                vt_diag_prefix(d, "store '%s': entry bundle %llu", s->dir, (unsigned long long)n);
                return err;
        }
        if (vt_buf_reserve(out, (size_t)len) != 0) {
                vt_diag_set(d, "store '%s': out of memory while reading an entry bundle", s->dir);
                return VT_ENOMEM;
        }
        if ((err = vt_store_segment_read(&q->seg, off, (size_t)len, out->p + out->len, d)) != 0) {
                out->p[out->len] = '\0';
                vt_diag_prefix(d, "store '%s': entry bundle %llu", s->dir, (unsigned long long)n);
                return err;
        }
        out->len += (size_t)len;
        out->p[out->len] = '\0';
        *width = w;
        return 0;
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

/*
 * The service's tables of version 4 or 5, or a clear error on an older
 * read-only database. A read-only connection reads version 4's tables as
 * they are (bodies in envelope_bodies, subjects one row each); the first
 * writer upgrades them.
 */
static int sq_service_v4(struct sq *q, struct vt_diag *d)
{
        if (q->version >= 4)
                return 0;
        vt_diag_set(d,
                    "store '%s': schema version %lld predates the service's tables of version 4 "
                    "(open the data directory for writing once to upgrade it)",
                    q->base.dir, (long long)q->version);
        return VT_ESTORE;
}

/*
 * sq_eseg_load(q, d): the open transaction's first look at the envelope
 * segment: its committed end and the file's size; bodies go at the size
 * (never below it: see the top of this file).
 */
static int sq_eseg_load(struct sq *q, struct vt_diag *d)
{
        uint64_t end = 0, size = 0;
        int err;

        if ((err = sq_committed_end_of(q, &q->eseg, &end, d)) != 0)
                return err;
        if ((err = vt_store_segment_size(&q->eseg, &size, d)) != 0) {
                vt_diag_prefix(d, "store '%s'", q->base.dir);
                return err;
        }
        if (size < end)
                return sq_short_segment(q, &q->eseg, size, end, d);
        q->eseg_start = q->eseg_flushed = q->eseg_pos = size;
        q->ebuf.len = 0;
        q->eseg_known = 1;
        return 0;
}

/*
 * sq_envelope_write(q, ...): the put inside a transaction: the row (with
 * the body's place), then the body into ebuf, written out when ebuf is full
 * or at commit.
 */
static int sq_envelope_write(struct sq *q, uint64_t index, const uint8_t *payload_sha256,
                             const uint8_t *entry_hash, const uint8_t (*subjects)[32], size_t nsubj,
                             const uint8_t *env, size_t len, struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        int err;

        if (!q->eseg_known && (err = sq_eseg_load(q, d)) != 0)
                return err;
        if (q->eseg_pos > (uint64_t)INT64_MAX - len) {
                vt_diag_set(d, "store '%s': '%s' would grow beyond %lld bytes", q->base.dir,
                            q->eseg.path, (long long)INT64_MAX);
                return VT_ETOOBIG;
        }
        if (vt_buf_reserve(&q->ebuf, len) != 0) {
                vt_diag_set(d, "store '%s': out of memory while storing an envelope", q->base.dir);
                return VT_ENOMEM;
        }
        if ((err = sq_stmt(q, ST_ENV_PUT, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        sqlite3_bind_blob(st, 2, payload_sha256, 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, entry_hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)q->eseg_pos);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)len);
        /* Zero digests are an empty blob, not NULL. */
        sqlite3_bind_blob(st, 6, nsubj > 0 ? (const void *)subjects : "", (int)(nsubj * 32),
                          SQLITE_STATIC);
        if ((err = sq_run_unique(q, ST_ENV_PUT, "the envelope of this entry", "storing an envelope",
                                 d)) != 0)
                return err;
        memcpy(q->ebuf.p + q->ebuf.len, env, len);
        q->ebuf.len += len;
        q->eseg_pos += len;
        if (q->ebuf.len >= VT_SQLITE_ENVBUF)
                return sq_eseg_flush(q, d);
        return 0;
}

static int sq_envelope_put(struct vt_store *s, uint64_t index, const uint8_t *payload_sha256,
                           const uint8_t *entry_hash, const uint8_t (*subjects)[32], size_t nsubj,
                           const uint8_t *env, size_t len, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        int err;

        if (!sqlite3_get_autocommit(q->db))
                return sq_envelope_write(q, index, payload_sha256, entry_hash, subjects, nsubj, env,
                                         len, d);
        /* Outside a transaction: one of its own, with the segment's commit protocol. */
        if ((err = sq_begin(s, d)) != 0)
                return err;
        if ((err = sq_envelope_write(q, index, payload_sha256, entry_hash, subjects, nsubj, env,
                                     len, d)) != 0) {
                sq_rollback(s);
                return err;
        }
        return sq_commit(s, d);
}

/* sq_envelope_get_v4(q, index, out, d): a version 4 database's body (read-only). */
static int sq_envelope_get_v4(struct sq *q, uint64_t index, struct vt_buf *out, struct vt_diag *d)
{
        sqlite3_stmt *st = NULL;
        int rc, err;

        if ((err = sq_stmt(q, ST_ENV_GET_V4, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                err = sq_append(q, st, 0, out, "an envelope", d);
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no envelope for entry %llu", q->base.dir,
                            (unsigned long long)index);
                err = VT_ENOENT;
        } else {
                err = sq_fail(q->base.dir, q->db, rc, "reading an envelope", d);
        }
        sq_done(st);
        return err;
}

static int sq_envelope_get(struct vt_store *s, uint64_t index, struct vt_buf *out,
                           struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        sqlite3_int64 o = 0, l = 0;
        int rc, err;

        if ((err = sq_service_v4(q, d)) != 0)
                return err;
        if (q->version < 5)
                return sq_envelope_get_v4(q, index, out, d);
        if ((err = sq_stmt(q, ST_ENV_GET, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                o = sqlite3_column_int64(st, 0);
                l = sqlite3_column_int64(st, 1);
                if (!sq_int_ok(o, INT64_MAX) || !sq_int_ok(l, VT_STORE_ENVELOPE_MAX) || l == 0 ||
                    o > INT64_MAX - l) {
                        vt_diag_set(d,
                                    "store '%s': the envelope of entry %llu has offset %lld and "
                                    "length %lld",
                                    s->dir, (unsigned long long)index, (long long)o, (long long)l);
                        err = VT_ECORRUPT;
                }
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no envelope for entry %llu", s->dir,
                            (unsigned long long)index);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading an envelope", d);
        }
        /* Done with the row: the bytes of a committed range never change. */
        sq_done(st);
        if (err != 0)
                return err;
        if (vt_buf_reserve(out, (size_t)l) != 0) {
                vt_diag_set(d, "store '%s': out of memory while reading an envelope", s->dir);
                return VT_ENOMEM;
        }
        if (q->eseg_known && (uint64_t)o >= q->eseg_flushed) {
                /* This transaction's own put, not written out yet. */
                if ((uint64_t)o + (uint64_t)l > q->eseg_pos) {
                        vt_diag_set(d,
                                    "store '%s': the envelope of entry %llu lies past the "
                                    "envelopes put",
                                    s->dir, (unsigned long long)index);
                        return VT_ECORRUPT;
                }
                memcpy(out->p + out->len, q->ebuf.p + (o - (sqlite3_int64)q->eseg_flushed),
                       (size_t)l);
        } else if ((err = vt_store_segment_reopen(&q->eseg, d)) != 0 ||
                   (err = vt_store_segment_read(&q->eseg, (uint64_t)o, (size_t)l, out->p + out->len,
                                                d)) != 0) {
                out->p[out->len] = '\0';
                vt_diag_prefix(d, "store '%s': the envelope of entry %llu", s->dir,
                               (unsigned long long)index);
                return err;
        }
        out->len += (size_t)l;
        out->p[out->len] = '\0';
        return 0;
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

/* sq_digest(q, st, col, out, what, d): a stored 32-byte digest, checked against corruption. */
static int sq_digest(struct sq *q, sqlite3_stmt *st, int col, uint8_t *out, const char *what,
                     struct vt_diag *d)
{
        const void *p = sqlite3_column_blob(st, col);

        if (p == NULL || sqlite3_column_bytes(st, col) != 32) {
                vt_diag_set(d, "store '%s': a stored %s is not 32 bytes", q->base.dir, what);
                return VT_ECORRUPT;
        }
        memcpy(out, p, 32);
        return 0;
}

/*
 * sq_subjects(q, st, col, index, p, n, d): the subjects blob in column col
 * (entry index's): *p its bytes, *n how many digests.
 */
static int sq_subjects(struct sq *q, sqlite3_stmt *st, int col, uint64_t index, const uint8_t **p,
                       size_t *n, struct vt_diag *d)
{
        int len = sqlite3_column_bytes(st, col);
        const uint8_t *b = sqlite3_column_blob(st, col);

        if (len % 32 != 0 || (b == NULL && len > 0)) {
                if (b == NULL && len > 0 && sqlite3_errcode(q->db) == SQLITE_NOMEM) {
                        vt_diag_set(d, "store '%s': out of memory while reading the subjects",
                                    q->base.dir);
                        return VT_ENOMEM;
                }
                vt_diag_set(d, "store '%s': the subjects of entry %llu are %d bytes, not 32 each",
                            q->base.dir, (unsigned long long)index, len);
                return VT_ECORRUPT;
        }
        *p = b;
        *n = (size_t)len / 32;
        return 0;
}

static int sq_envelope_keys(struct vt_store *s, uint64_t index, uint8_t *payload_sha256,
                            uint8_t *entry_hash, struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        uint8_t p[32], e[32];
        int rc, err;

        if ((err = sq_service_v4(q, d)) != 0 || (err = sq_stmt(q, ST_ENV_KEYS, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_digest(q, st, 0, p, "payload digest", d)) == 0 &&
                    (err = sq_digest(q, st, 1, e, "entry hash", d)) == 0) {
                        if (payload_sha256 != NULL)
                                memcpy(payload_sha256, p, 32);
                        if (entry_hash != NULL)
                                memcpy(entry_hash, e, 32);
                }
        } else if (rc == SQLITE_DONE) {
                vt_diag_set(d, "store '%s': no envelope for entry %llu", s->dir,
                            (unsigned long long)index);
                err = VT_ENOENT;
        } else {
                err = sq_fail(s->dir, q->db, rc, "reading an envelope's digests", d);
        }
        sq_done(st);
        return err;
}

static int sq_envelope_scan(struct vt_store *s, uint64_t from, vt_store_envelope_fn fn, void *ctx,
                            struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        uint8_t p[32], e[32];
        uint64_t idx = 0;
        int rc = SQLITE_DONE, err;

        if ((err = sq_service_v4(q, d)) != 0 || (err = sq_stmt(q, ST_ENV_SCAN, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, from > INT64_MAX ? INT64_MAX : (sqlite3_int64)from);
        while (err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_index(q, st, 0, &idx, d)) == 0 &&
                    (err = sq_digest(q, st, 1, p, "payload digest", d)) == 0 &&
                    (err = sq_digest(q, st, 2, e, "entry hash", d)) == 0)
                        err = fn(ctx, idx, p, e, d);
        }
        if (err == 0 && rc != SQLITE_DONE)
                err = sq_fail(s->dir, q->db, rc, "reading the envelopes' digests", d);
        sq_done(st);
        return err;
}

static int sq_subject_has(struct vt_store *s, const uint8_t *digest, uint64_t index,
                          struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        const uint8_t *p = NULL;
        size_t n = 0, i;
        int rc, err, v5;

        if ((err = sq_service_v4(q, d)) != 0)
                return err;
        v5 = q->version >= 5;
        if ((err = sq_stmt(q, v5 ? ST_SUBJ_HAS : ST_SUBJ_HAS_V4, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
        if (!v5)
                sqlite3_bind_blob(st, 2, digest, 32, SQLITE_STATIC);
        err = VT_ENOENT;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (!v5)
                        err = 0;
                else if ((err = sq_subjects(q, st, 0, index, &p, &n, d)) == 0)
                        for (i = 0, err = VT_ENOENT; i < n && err != 0; i++)
                                if (memcmp(p + 32 * i, digest, 32) == 0)
                                        err = 0;
        } else if (rc != SQLITE_DONE) {
                err = sq_fail(s->dir, q->db, rc, "looking up a subject", d);
        }
        if (err == VT_ENOENT)
                vt_diag_set(d, "store '%s': entry %llu is not about this subject", s->dir,
                            (unsigned long long)index);
        sq_done(st);
        return err;
}

static int sq_subject_scan(struct vt_store *s, uint64_t from, vt_store_subject_fn fn, void *ctx,
                           struct vt_diag *d)
{
        struct sq *q = (struct sq *)s;
        sqlite3_stmt *st = NULL;
        const uint8_t *p = NULL;
        uint8_t g[32];
        uint64_t idx = 0;
        size_t n = 0, i;
        int rc = SQLITE_DONE, err, v5;

        if ((err = sq_service_v4(q, d)) != 0)
                return err;
        v5 = q->version >= 5;
        if ((err = sq_stmt(q, v5 ? ST_SUBJ_SCAN : ST_SUBJ_SCAN_V4, &st, d)) != 0)
                return err;
        sqlite3_bind_int64(st, 1, from > INT64_MAX ? INT64_MAX : (sqlite3_int64)from);
        while (err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((err = sq_index(q, st, 0, &idx, d)) != 0)
                        break;
                if (!v5) {
                        if ((err = sq_digest(q, st, 1, g, "subject digest", d)) == 0)
                                err = fn(ctx, idx, g, d);
                        continue;
                }
                if ((err = sq_subjects(q, st, 1, idx, &p, &n, d)) != 0)
                        break;
                /* Copied out: the callback gets aligned bytes that outlive no step. */
                for (i = 0; i < n && err == 0; i++) {
                        memcpy(g, p + 32 * i, 32);
                        err = fn(ctx, idx, g, d);
                }
        }
        if (err == 0 && rc != SQLITE_DONE)
                err = sq_fail(s->dir, q->db, rc, "reading the subject index", d);
        sq_done(st);
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
    .envelope_keys = sq_envelope_keys,
    .envelope_scan = sq_envelope_scan,
    .subject_has = sq_subject_has,
    .subject_scan = sq_subject_scan,
    .token_put = sq_token_put,
    .token_revoke = sq_token_revoke,
    .token_list = sq_token_list,
};
