/*
 * test_store.c: the store module (store.h) on its SQLite back end.
 *
 * Round trips and refusals for every kind of row; the entry bundles'
 * contract (they only grow at the end of the log) and their segment file;
 * transaction atomicity (rollback, close without commit, a failed put
 * poisoning its transaction); read-only and busy connections; foreign and
 * newer databases; the upgrade of schema versions 1 and 2; and the crash
 * tests: I/O errors injected at every write/sync/truncate of a transaction,
 * in SQLite's files (faultvfs.c) and in the segment alike, and child
 * processes killed with SIGKILL in the middle of a transaction, between
 * commits, and after a commit whose sync failed. After each, the reopened
 * store must hold exactly the old committed state or exactly the new one,
 * with every bundle equal to what was committed, nothing past the segment's
 * committed end, and pass SQLite's integrity check. The parallel syncs of a
 * commit that wrote both segments (parallel_sync_*): the helper thread's
 * lifetime, and injected and real sync failures on either thread.
 *
 * Every test works in its own directory under /tmp (mkdtemp), removed at the
 * end. The environment variable VT_TEST_STORE_CHILD is internal: it makes
 * this program act as the child of env_countdown_at_first_open.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vt_test.h"
#include "veritrail/store.h"

/* The subject digest of the version 2 rows make_old() writes (32 bytes of 0xab). */
#define OLD_SUBJ "abababababababababababababababababababababababababababababababab"

extern char **environ;

/* The page size of a new database (sqlite.c; a build may override it with CFLAGS). */
#ifndef VT_SQLITE_PAGE_SIZE
#define VT_SQLITE_PAGE_SIZE 4096
#endif

/* A scratch directory; data is the data directory inside it (not created). */
struct scratch {
        char root[64];
        char data[96];
};

static void scratch_make(struct scratch *t)
{
        snprintf(t->root, sizeof(t->root), "/tmp/vt-test-store-XXXXXX");
        assert_non_null(mkdtemp(t->root));
        snprintf(t->data, sizeof(t->data), "%s/data", t->root);
}

static void rm_tree(const char *path)
{
        struct dirent *e;
        char sub[512];
        DIR *dir;

        if ((dir = opendir(path)) != NULL) {
                while ((e = readdir(dir)) != NULL) {
                        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                                continue;
                        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                        rm_tree(sub);
                }
                closedir(dir);
                rmdir(path);
        } else {
                unlink(path);
        }
}

static void scratch_free(struct scratch *t)
{
        rm_tree(t->root);
}

static struct vt_store *open_ok(const char *dir, int flags)
{
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        int err = vt_store_open(dir, flags, &s, &d);

        if (err != 0)
                print_error("open '%s': %s: %s\n", dir, vt_strerror(err), d.msg);
        assert_int_equal(err, 0);
        assert_non_null(s);
        return s;
}

/* db_path(dir, out): dir/veritrail.db. */
static void db_path(const char *dir, char *out, size_t cap)
{
        snprintf(out, cap, "%s/veritrail.db", dir);
}

/* sql_text(dir, sql, out): run sql on the database directly; first column of the first row. */
static void sql_text(const char *dir, const char *sql, char *out, size_t cap)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char path[256];

        db_path(dir, path, sizeof(path));
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        out[0] = '\0';
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
                snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void assert_integrity(const char *dir)
{
        char res[256];

        sql_text(dir, "PRAGMA integrity_check", res, sizeof(res));
        assert_string_equal(res, "ok");
}

static off_t file_size(const char *dir, const char *name)
{
        char path[256];
        struct stat sb;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* committed_end(dir): the segment's committed end, as the database says. */
static off_t committed_end(const char *dir)
{
        char res[64];

        sql_text(dir, "SELECT committed FROM segment", res, sizeof(res));
        return (off_t)strtoll(res, NULL, 10);
}

/* env_committed_end(dir): the envelope segment's committed end (schema 5). */
static off_t env_committed_end(const char *dir)
{
        char res[64];

        sql_text(dir, "SELECT envelopes FROM segment", res, sizeof(res));
        return (off_t)strtoll(res, NULL, 10);
}

/*
 * assert_segment_exact(dir): nothing lies past the committed end of either
 * segment (after a writer's open).
 */
static void assert_segment_exact(const char *dir)
{
        off_t size = file_size(dir, "entries.seg"), end = committed_end(dir);

        if (size != end)
                print_error("'%s': segment of %lld bytes, committed end %lld\n", dir,
                            (long long)size, (long long)end);
        assert_int_equal(size, end);
        size = file_size(dir, "envelopes.seg");
        end = env_committed_end(dir);
        if (size != end)
                print_error("'%s': envelope segment of %lld bytes, committed end %lld\n", dir,
                            (long long)size, (long long)end);
        assert_int_equal(size, end);
}

/* finish_exact(t): both segments exact and the database intact, then the scratch removed. */
static void finish_exact(struct scratch *t)
{
        assert_segment_exact(t->data);
        assert_integrity(t->data);
        scratch_free(t);
}

/* append_file(dir, name, p, n): add bytes to the end of a file behind the store's back. */
static void append_file(const char *dir, const char *name, const void *p, size_t n)
{
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_non_null(f = fopen(path, "ab"));
        assert_int_equal(fwrite(p, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

/* ---- opening ---- */

static void open_missing_is_enoent(void **state)
{
        struct scratch t;
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        char want[256];

        (void)state;
        scratch_make(&t);
        /* No directory at all. */
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ENOENT);
        assert_null(s);
        snprintf(want, sizeof(want),
                 "'%s' is not a veritrail data directory (run 'veritrail log init')", t.data);
        assert_string_equal(d.msg, want);
        /* A directory without a database, read-write and read-only. */
        assert_int_equal(mkdir(t.data, 0700), 0);
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ENOENT);
        assert_int_equal(vt_store_open(t.data, VT_STORE_READONLY, &s, &d), VT_ENOENT);
        assert_null(s);
        /* Nothing was created by the failed opens. */
        assert_int_equal(access(t.root, F_OK), 0);
        {
                char path[256];
                db_path(t.data, path, sizeof(path));
                assert_int_not_equal(access(path, F_OK), 0);
        }
        scratch_free(&t);
}

static void create_makes_dir_and_schema(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct stat sb;
        char nested[160], res[256];

        (void)state;
        scratch_make(&t);
        /* Missing parents are created too, each with mode 0700. */
        snprintf(nested, sizeof(nested), "%s/a/b", t.data);
        s = open_ok(nested, VT_STORE_CREATE);
        vt_store_close(s);
        assert_int_equal(stat(nested, &sb), 0);
        assert_true(S_ISDIR(sb.st_mode));
        assert_int_equal(sb.st_mode & 0777, 0700);
        assert_int_equal(stat(t.data, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0700);

        /* The file says what it is and how it is tuned. */
        sql_text(nested, "PRAGMA journal_mode", res, sizeof(res));
        assert_string_equal(res, "wal");
        sql_text(nested, "PRAGMA page_size", res, sizeof(res));
        assert_int_equal(atoi(res), VT_SQLITE_PAGE_SIZE);
        /* Schema version 5: the log's tables, the service's, and the segments' ends. */
        sql_text(nested, "PRAGMA user_version", res, sizeof(res));
        assert_string_equal(res, "5");
        sql_text(nested, "PRAGMA application_id", res, sizeof(res));
        assert_string_equal(res, "1450471985"); /* 0x56747231, "Vtr1" */
        sql_text(nested,
                 "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema"
                 " WHERE type = 'table' ORDER BY name)",
                 res, sizeof(res));
        assert_string_equal(res, "bundles,checkpoints,envelopes,meta,segment,tiles,tokens");
        /* No b-tree keyed by a digest: the envelopes grow at their right edge, one row each. */
        sql_text(nested,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND"
                 " tbl_name = 'envelopes'",
                 res, sizeof(res));
        assert_string_equal(res, "0");
        sql_text(nested, "SELECT group_concat(name) FROM pragma_table_info('envelopes')", res,
                 sizeof(res));
        assert_string_equal(res, "idx,payload_sha256,entry_hash,off,len,subjects");
        sql_text(nested, "SELECT group_concat(name) FROM pragma_table_info('segment')", res,
                 sizeof(res));
        assert_string_equal(res, "id,committed,envelopes");
        /* Tiles are one b-tree (WITHOUT ROWID); bundles and checkpoints are keyed by rowid. */
        sql_text(nested, "SELECT sql FROM sqlite_schema WHERE name = 'tiles'", res, sizeof(res));
        assert_non_null(strstr(res, "WITHOUT ROWID"));
        /* Bundles are (width, offset, length) in the segment, which is empty and private. */
        sql_text(nested, "SELECT group_concat(name) FROM pragma_table_info('bundles')", res,
                 sizeof(res));
        assert_string_equal(res, "n,width,off,len");
        sql_text(nested, "SELECT committed || ',' || envelopes FROM segment", res, sizeof(res));
        assert_string_equal(res, "0,0");
        for (int i = 0; i < 2; i++) {
                char seg[200];
                snprintf(seg, sizeof(seg), "%s/%s", nested, i ? "envelopes.seg" : "entries.seg");
                assert_int_equal(stat(seg, &sb), 0);
                assert_true(S_ISREG(sb.st_mode));
                assert_int_equal(sb.st_mode & 0777, 0600);
                assert_int_equal(sb.st_size, 0);
        }

        /* Reopening, with or without CREATE, finds the same store. */
        s = open_ok(nested, 0);
        vt_store_close(s);
        s = open_ok(nested, VT_STORE_CREATE);
        vt_store_close(s);
        s = open_ok(nested, VT_STORE_READONLY);
        vt_store_close(s);
        assert_integrity(nested);
        scratch_free(&t);
}

static void open_refuses_bad_arguments(void **state)
{
        struct scratch t;
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        char file[128];
        FILE *f;

        (void)state;
        scratch_make(&t);
        assert_int_equal(vt_store_open(NULL, 0, &s, &d), VT_EINVAL);
        assert_int_equal(vt_store_open("", 0, &s, &d), VT_EINVAL);
        assert_int_equal(vt_store_open(t.data, 0, NULL, &d), VT_EINVAL);
        assert_int_equal(vt_store_open(t.data, VT_STORE_CREATE | VT_STORE_READONLY, &s, &d),
                         VT_EINVAL);
        assert_int_equal(vt_store_open(t.data, 0x100, &s, &d), VT_EINVAL);
        /* A plain file where the directory should be. */
        snprintf(file, sizeof(file), "%s/file", t.root);
        assert_non_null(f = fopen(file, "w"));
        fclose(f);
        assert_int_not_equal(vt_store_open(file, VT_STORE_CREATE, &s, &d), 0);
        assert_int_equal(vt_store_open(file, 0, &s, &d), VT_ENOENT);
        assert_null(s);
        vt_store_close(NULL);
        vt_store_rollback(NULL);
        scratch_free(&t);
}

static void foreign_databases_refused(void **state)
{
        struct scratch t;
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        char path[256], res[64];
        sqlite3 *db;
        FILE *f;

        (void)state;
        scratch_make(&t);
        assert_int_equal(mkdir(t.data, 0700), 0);
        db_path(t.data, path, sizeof(path));

        /* Another program's SQLite database. */
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE foo(x)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(vt_store_open(t.data, VT_STORE_CREATE, &s, &d), VT_ESTORE);
        assert_non_null(strstr(d.msg, "is not a veritrail database"));
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ESTORE);
        assert_null(s);
        unlink(path);

        /* Not SQLite at all. */
        assert_non_null(f = fopen(path, "w"));
        for (int i = 0; i < 512; i++)
                fputs("garbage!", f);
        fclose(f);
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ECORRUPT);
        assert_null(s);
        unlink(path);

        /* Ours, but from a newer version. */
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_store_close(s);
        s = NULL;
        sql_text(t.data, "PRAGMA user_version = 99", res, sizeof(res));
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ESTORE);
        assert_non_null(strstr(d.msg, "schema version 99"));
        assert_int_equal(vt_store_open(t.data, VT_STORE_READONLY, &s, &d), VT_ESTORE);
        assert_null(s);

        /* An empty file (an interrupted init) is not a data directory yet. */
        unlink(path);
        assert_non_null(f = fopen(path, "w"));
        fclose(f);
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ENOENT);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_store_close(s);
        scratch_free(&t);
}

/* ---- round trips ---- */

static void meta_round_trip(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        char key[300];

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        assert_int_equal(vt_store_meta_put(s, "origin", "example.com/log", 15, &d), 0);
        assert_int_equal(vt_store_meta_put(s, "empty", NULL, 0, &d), 0);
        /* get appends. */
        assert_int_equal(vt_buf_puts(&b, ">"), 0);
        assert_int_equal(vt_store_meta_get(s, "origin", &b, &d), 0);
        assert_int_equal(b.len, 16);
        assert_memory_equal(b.p, ">example.com/log", 16);
        b.len = 0;
        assert_int_equal(vt_store_meta_get(s, "empty", &b, &d), 0);
        assert_int_equal(b.len, 0);
        /* Replace. */
        assert_int_equal(vt_store_meta_put(s, "origin", "other", 5, &d), 0);
        assert_int_equal(vt_store_meta_get(s, "origin", &b, &d), 0);
        assert_int_equal(b.len, 5);
        assert_memory_equal(b.p, "other", 5);
        /* Missing: VT_ENOENT, out untouched. */
        assert_int_equal(vt_store_meta_get(s, "nope", &b, &d), VT_ENOENT);
        assert_non_null(strstr(d.msg, "no metadata 'nope'"));
        assert_int_equal(b.len, 5);
        /* Keys: non-empty printable ASCII, at most 255 bytes. */
        assert_int_equal(vt_store_meta_put(s, "", "x", 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_meta_put(s, NULL, "x", 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_meta_put(s, "a b", "x", 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_meta_put(s, "a\n", "x", 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_meta_put(s, "caf\xc3\xa9", "x", 1, &d), VT_EINVAL);
        memset(key, 'k', sizeof(key));
        key[255] = '\0';
        assert_int_equal(vt_store_meta_put(s, key, "x", 1, &d), 0);
        key[255] = 'k';
        key[256] = '\0';
        assert_int_equal(vt_store_meta_put(s, key, "x", 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_meta_put(s, "k", NULL, 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_meta_put(s, "k", "x", (size_t)VT_STORE_META_MAX + 1, &d),
                         VT_ETOOBIG);
        assert_int_equal(vt_store_meta_get(s, "origin", NULL, &d), VT_EINVAL);
        /* Survives reopening. */
        vt_store_close(s);
        s = open_ok(t.data, VT_STORE_READONLY);
        b.len = 0;
        assert_int_equal(vt_store_meta_get(s, "origin", &b, &d), 0);
        assert_memory_equal(b.p, "other", 5);
        vt_store_close(s);
        vt_buf_release(&b);
        scratch_free(&t);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
        size_t i;

        for (i = 0; i < n; i++)
                p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void bundle_round_trip(void **state)
{
        static uint8_t big[VT_STORE_BUNDLE_MAX], want[VT_STORE_BUNDLE_MAX];
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        unsigned w = 999;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        fill(big, sizeof(big), 2);
        fill(want, sizeof(want), 1);
        /* Bundle 0, partial, grows (only its new bytes are written) until it is full. */
        assert_int_equal(vt_store_bundle_put(s, 0, 3, big, 3000, &d), 0);
        assert_int_equal(vt_store_bundle_get(s, 0, &w, &b, &d), 0);
        assert_int_equal(w, 3);
        assert_int_equal(b.len, 3000);
        assert_memory_equal(b.p, big, 3000);
        assert_int_equal(file_size(t.data, "entries.seg"), 3000);
        assert_int_equal(vt_store_bundle_put(s, 0, 3, big, 3000, &d), 0); /* again: no-op */
        assert_int_equal(vt_store_bundle_put(s, 0, 200, big, 100000, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 0, 256, big, sizeof(big), &d), 0);
        assert_int_equal(file_size(t.data, "entries.seg"), sizeof(big));
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, 0, &w, &b, &d), 0);
        assert_int_equal(w, 256);
        assert_int_equal(b.len, sizeof(big));
        assert_memory_equal(b.p, big, sizeof(big));
        /* The next bundle follows it; inside a transaction too. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, want, 1, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 1, 9, want, 5000, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 2, 256, want, 7000, &d), 0);
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, 1, &w, &b, &d), 0);
        assert_int_equal(w, 9);
        assert_int_equal(b.len, 5000);
        assert_memory_equal(b.p, want, 5000);
        assert_int_equal(vt_store_commit(s, &d), 0);
        assert_int_equal(file_size(t.data, "entries.seg"), sizeof(big) + 12000);
        assert_int_equal(committed_end(t.data), sizeof(big) + 12000);
        /* get appends; a reader in another connection sees the same bytes. */
        r = open_ok(t.data, VT_STORE_READONLY);
        b.len = 0;
        assert_int_equal(vt_buf_puts(&b, ">"), 0);
        assert_int_equal(vt_store_bundle_get(r, 2, &w, &b, &d), 0);
        assert_int_equal(w, 256);
        assert_int_equal(b.len, 7001);
        assert_memory_equal(b.p + 1, want, 7000);
        vt_store_close(r);
        /* Missing: VT_ENOENT, outputs untouched. */
        w = 999;
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, 8, &w, &b, &d), VT_ENOENT);
        assert_int_equal(w, 999);
        assert_int_equal(b.len, 0);
        assert_non_null(strstr(d.msg, "no entry bundle 8"));
        /* Refusals of the arguments. */
        assert_int_equal(vt_store_bundle_put(s, 1, 0, want, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 257, want, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, want, 0, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, NULL, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, want, (size_t)VT_STORE_BUNDLE_MAX + 1, &d),
                         VT_ETOOBIG);
        assert_int_equal(vt_store_bundle_put(s, (uint64_t)INT64_MAX + 1, 1, want, 1, &d),
                         VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, (uint64_t)INT64_MAX + 1, &w, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, 0, NULL, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, 0, &w, NULL, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, 3, &w, &b, &d), VT_ENOENT);
        vt_store_close(s);
        vt_buf_release(&b);
        scratch_free(&t);
}

/* Bundles only grow at the end of the log; anything else is refused and writes nothing. */
static void bundle_contract(void **state)
{
        static uint8_t big[VT_STORE_BUNDLE_MAX], other[VT_STORE_BUNDLE_MAX];
        struct scratch t;
        struct vt_store *s;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        char want[200];
        unsigned w = 0;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        fill(big, sizeof(big), 4);
        memcpy(other, big, sizeof(other));
        other[4000] ^= 1;
        /* An empty store starts at bundle 0. */
        assert_int_equal(vt_store_bundle_put(s, 1, 1, big, 10, &d), VT_EINVAL);
        snprintf(want, sizeof(want),
                 "store '%s': bundle 1: bundles only grow at the end of the log (the store has "
                 "none, the first is bundle 0)",
                 t.data);
        assert_string_equal(d.msg, want);
        assert_int_equal(vt_store_bundle_put(s, 0, 256, big, 65536, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 1, 10, big, 5000, &d), 0);
        /* Not the last one, and not the next: a gap, or an old bundle. */
        assert_int_equal(vt_store_bundle_put(s, 3, 1, big, 10, &d), VT_EINVAL);
        snprintf(want, sizeof(want),
                 "store '%s': bundle 3: bundles only grow at the end of the log (the last stored "
                 "bundle is 1)",
                 t.data);
        assert_string_equal(d.msg, want);
        assert_int_equal(vt_store_bundle_put(s, 0, 256, big, 65536, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "bundle 0: bundles only grow at the end of the log"));
        /* The last one may not shrink, in bytes or in width. */
        assert_int_equal(vt_store_bundle_put(s, 1, 10, big, 4999, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "bundle 1: bundles only grow at the end of the log (4999 "
                                      "bytes of width 10 would replace 5000 of width 10)"));
        assert_int_equal(vt_store_bundle_put(s, 1, 9, big, 6000, &d), VT_EINVAL);
        /* Its stored bytes must begin the new ones (checked in full without NDEBUG). */
#ifndef NDEBUG
        assert_int_equal(vt_store_bundle_put(s, 1, 12, other, 6000, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "bundle 1: the new bytes do not begin with the stored ones"));
#endif
        other[4000] ^= 1;
        other[4999] ^= 1; /* the last stored byte is always checked */
        assert_int_equal(vt_store_bundle_put(s, 1, 12, other, 6000, &d), VT_EINVAL);
        /* Refusals inside a transaction write nothing and do not end it. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 5, 1, big, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 12, big, 6000, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 1, 11, big, 6000, &d), VT_EINVAL);
        assert_int_equal(vt_store_commit(s, &d), 0);
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, 1, &w, &b, &d), 0);
        assert_int_equal(w, 12);
        assert_int_equal(b.len, 6000);
        assert_memory_equal(b.p, big, 6000);
        assert_int_equal(file_size(t.data, "entries.seg"), 65536 + 6000);
        vt_store_close(s);
        vt_buf_release(&b);
        scratch_free(&t);
}

static void tile_round_trip(void **state)
{
        uint8_t h[256 * 32], h2[256 * 32];
        struct scratch t;
        struct vt_store *s;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        unsigned w = 0;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        fill(h, sizeof(h), 3);
        fill(h2, sizeof(h2), 4);
        /* The same n on different levels are different tiles. */
        assert_int_equal(vt_store_tile_put(s, 0, 5, 17, h, 17 * 32, &d), 0);
        assert_int_equal(vt_store_tile_put(s, 1, 5, 256, h2, sizeof(h2), &d), 0);
        assert_int_equal(vt_store_tile_get(s, 0, 5, &w, &b, &d), 0);
        assert_int_equal(w, 17);
        assert_int_equal(b.len, 17 * 32);
        assert_memory_equal(b.p, h, 17 * 32);
        b.len = 0;
        assert_int_equal(vt_store_tile_get(s, 1, 5, &w, &b, &d), 0);
        assert_int_equal(w, 256);
        assert_memory_equal(b.p, h2, sizeof(h2));
        /* A partial tile grows. */
        assert_int_equal(vt_store_tile_put(s, 0, 5, 18, h2, 18 * 32, &d), 0);
        b.len = 0;
        assert_int_equal(vt_store_tile_get(s, 0, 5, &w, &b, &d), 0);
        assert_int_equal(w, 18);
        assert_memory_equal(b.p, h2, 18 * 32);
        /* Highest level. */
        assert_int_equal(vt_store_tile_put(s, VT_STORE_LEVEL_MAX, 0, 1, h, 32, &d), 0);
        /* Missing: VT_ENOENT, outputs untouched. */
        w = 1234;
        b.len = 0;
        assert_int_equal(vt_store_tile_get(s, 2, 5, &w, &b, &d), VT_ENOENT);
        assert_int_equal(w, 1234);
        assert_int_equal(b.len, 0);
        assert_non_null(strstr(d.msg, "no tile 2/5"));
        /* Refusals: the length must be width * 32. */
        assert_int_equal(vt_store_tile_put(s, 0, 1, 2, h, 63, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(s, 0, 1, 2, h, 65, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(s, 0, 1, 0, h, 0, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(s, 0, 1, 257, h, 257 * 32, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(s, 0, 1, 1, NULL, 32, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(s, VT_STORE_LEVEL_MAX + 1, 1, 1, h, 32, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(s, 0, (uint64_t)INT64_MAX + 1, 1, h, 32, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_get(s, VT_STORE_LEVEL_MAX + 1, 0, &w, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_get(s, 0, 5, NULL, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_get(s, 0, 1, &w, &b, &d), VT_ENOENT);
        vt_store_close(s);
        vt_buf_release(&b);
        scratch_free(&t);
}

static void tile_corruption_detected(void **state)
{
        uint8_t h[64];
        struct scratch t;
        struct vt_store *s;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        char res[16];
        unsigned w = 77;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        fill(h, sizeof(h), 5);
        assert_int_equal(vt_store_tile_put(s, 0, 0, 2, h, 64, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 0, 2, h, 64, &d), 0);
        vt_store_close(s);
        /* Someone edits the database behind our back. */
        sql_text(t.data, "UPDATE tiles SET width = 3", res, sizeof(res));
        sql_text(t.data, "UPDATE bundles SET width = 0", res, sizeof(res));
        s = open_ok(t.data, 0);
        assert_int_equal(vt_store_tile_get(s, 0, 0, &w, &b, &d), VT_ECORRUPT);
        assert_int_equal(vt_store_bundle_get(s, 0, &w, &b, &d), VT_ECORRUPT);
        assert_int_equal(w, 77);
        assert_int_equal(b.len, 0);
        vt_store_close(s);
        vt_buf_release(&b);
        scratch_free(&t);
}

/* A bundle's (offset, length) and the segment are checked against each other. */
static void bundle_corruption_detected(void **state)
{
        uint8_t h[6000];
        struct scratch t;
        struct vt_store *s = NULL, *r;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        char res[16], path[200];
        unsigned w = 77;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        fill(h, sizeof(h), 6);
        assert_int_equal(vt_store_bundle_put(s, 0, 256, h, 4000, &d), 0);
        assert_int_equal(vt_store_bundle_put(s, 1, 3, h, 2000, &d), 0);
        vt_store_close(s);
        /* Offsets and lengths out of range. */
        sql_text(t.data, "UPDATE bundles SET len = 0 WHERE n = 0", res, sizeof(res));
        sql_text(t.data, "UPDATE bundles SET off = -1 WHERE n = 1", res, sizeof(res));
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(vt_store_bundle_get(r, 0, &w, &b, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "entry bundle 0 has offset 0 and length 0"));
        assert_int_equal(vt_store_bundle_get(r, 1, &w, &b, &d), VT_ECORRUPT);
        /* Past the end of the file. */
        sql_text(t.data, "UPDATE bundles SET len = 4000 WHERE n = 0", res, sizeof(res));
        sql_text(t.data, "UPDATE bundles SET off = 5000 WHERE n = 1", res, sizeof(res));
        assert_int_equal(vt_store_bundle_get(r, 1, &w, &b, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "entry bundle 1: '"));
        assert_non_null(strstr(d.msg, "entries.seg' ends at byte 6000"));
        assert_int_equal(w, 77);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.p == NULL || b.p[0] == '\0', 1);
        /* The last bundle reaching past the committed end: a writer refuses to append. */
        s = open_ok(t.data, 0);
        assert_int_equal(vt_store_bundle_put(s, 2, 1, h, 10, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "past the segment's committed end 6000"));
        vt_store_close(s);
        sql_text(t.data, "UPDATE bundles SET off = 4000 WHERE n = 1", res, sizeof(res));
        assert_int_equal(vt_store_bundle_get(r, 1, &w, &b, &d), 0);
        assert_memory_equal(b.p, h, 2000);
        vt_store_close(r);
        /* A segment that lost committed bytes: writers refuse to open, readers see it per bundle.
         */
        snprintf(path, sizeof(path), "%s/entries.seg", t.data);
        assert_int_equal(truncate(path, 5000), 0);
        s = NULL;
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ECORRUPT);
        assert_null(s);
        assert_non_null(strstr(d.msg, "entries.seg' holds 5000 bytes, but 6000 are committed"));
        r = open_ok(t.data, VT_STORE_READONLY);
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(r, 0, &w, &b, &d), 0);
        assert_int_equal(vt_store_bundle_get(r, 1, &w, &b, &d), VT_ECORRUPT);
        vt_store_close(r);
        /* A missing segment: the same. */
        assert_int_equal(unlink(path), 0);
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(vt_store_bundle_get(r, 0, &w, &b, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "No such file"));
        vt_store_close(r);
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ECORRUPT);
        vt_buf_release(&b);
        scratch_free(&t);
}

static void checkpoint_round_trip(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        uint64_t size = 42;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        /* Empty store: no latest, no next; outputs untouched. */
        assert_int_equal(vt_store_checkpoint_latest(s, &size, &b, &d), VT_ENOENT);
        assert_int_equal(vt_store_checkpoint_next(s, 0, &size, &b, &d), VT_ENOENT);
        assert_int_equal(size, 42);
        assert_int_equal(b.len, 0);
        /* Out of order puts; latest is the largest size, not the last put. */
        assert_int_equal(vt_store_checkpoint_put(s, 0, (const uint8_t *)"n0", 2, &d), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 300, (const uint8_t *)"n300", 4, &d), 0);
        assert_int_equal(vt_store_checkpoint_put(s, 20, (const uint8_t *)"n20", 3, &d), 0);
        assert_int_equal(vt_store_checkpoint_latest(s, &size, &b, &d), 0);
        assert_int_equal(size, 300);
        assert_int_equal(b.len, 4);
        assert_memory_equal(b.p, "n300", 4);
        b.len = 0;
        assert_int_equal(vt_store_checkpoint_get(s, 20, &b, &d), 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.p, "n20", 3);
        /* Replace. */
        assert_int_equal(vt_store_checkpoint_put(s, 20, (const uint8_t *)"N20!", 4, &d), 0);
        b.len = 0;
        assert_int_equal(vt_store_checkpoint_get(s, 20, &b, &d), 0);
        assert_memory_equal(b.p, "N20!", 4);
        /* next: the smallest size >= from; note may be NULL. */
        assert_int_equal(vt_store_checkpoint_next(s, 0, &size, NULL, &d), 0);
        assert_int_equal(size, 0);
        assert_int_equal(vt_store_checkpoint_next(s, 1, &size, NULL, &d), 0);
        assert_int_equal(size, 20);
        b.len = 0;
        assert_int_equal(vt_store_checkpoint_next(s, 21, &size, &b, &d), 0);
        assert_int_equal(size, 300);
        assert_memory_equal(b.p, "n300", 4);
        assert_int_equal(vt_store_checkpoint_next(s, 300, &size, NULL, &d), 0);
        assert_int_equal(size, 300);
        size = 5;
        assert_int_equal(vt_store_checkpoint_next(s, 301, &size, NULL, &d), VT_ENOENT);
        assert_int_equal(vt_store_checkpoint_next(s, UINT64_MAX, &size, NULL, &d), VT_ENOENT);
        assert_int_equal(size, 5);
        /* Missing and refusals. */
        b.len = 0;
        assert_int_equal(vt_store_checkpoint_get(s, 21, &b, &d), VT_ENOENT);
        assert_int_equal(b.len, 0);
        assert_int_equal(vt_store_checkpoint_put(s, 1, (const uint8_t *)"x", 0, &d), VT_EINVAL);
        assert_int_equal(vt_store_checkpoint_put(s, 1, NULL, 1, &d), VT_EINVAL);
        assert_int_equal(
            vt_store_checkpoint_put(s, (uint64_t)INT64_MAX + 1, (const uint8_t *)"x", 1, &d),
            VT_EINVAL);
        assert_int_equal(vt_store_checkpoint_latest(s, NULL, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_checkpoint_latest(s, &size, NULL, &d), VT_EINVAL);
        vt_store_close(s);
        vt_buf_release(&b);
        scratch_free(&t);
}

/* ---- transactions ---- */

/*
 * A "generation" g (1..256) of a small log state, written in one
 * transaction: meta gen, the entry bundles of a stream of g * GEN_STEP bytes
 * cut into bundles of GEN_CAP bytes (full ones of width 256, the last one
 * partial with a width that grows with it), tile 0/0 (width g) and
 * checkpoint g, and the envelopes GEN_ENV * (g - 1) .. GEN_ENV * g - 1 (see
 * gen_envelope). Going from generation p to g grows p's last bundle and
 * adds the next ones, as the log does. state_of() says which generation a
 * store holds, or -1 if its rows disagree (a partial transaction) or a
 * bundle's or envelope's bytes are not the generation's.
 */
#define GEN_STEP   5000
#define GEN_CAP    8192
#define GEN_STREAM (256 * GEN_STEP)
#define GEN_ENV    3

/*
 * gen_envelope(i, body, len, ph, eh, subj, nsubj): envelope i: 200..1099
 * bytes, i % 4 subjects, digests that depend on i.
 */
static void gen_envelope(uint64_t i, uint8_t *body, size_t *len, uint8_t ph[32], uint8_t eh[32],
                         uint8_t subj[][32], size_t *nsubj)
{
        size_t k;

        *len = 200 + (size_t)(i * 37 % 900);
        fill(body, *len, (unsigned)i + 5000);
        memset(ph, 0x11, 32);
        memcpy(ph, &i, sizeof(i));
        memset(eh, 0x22, 32);
        memcpy(eh, &i, sizeof(i));
        *nsubj = (size_t)(i % 4);
        for (k = 0; k < *nsubj; k++)
                fill(subj[k], 32, (unsigned)(i * 8 + k + 7000));
}

/* put_envelopes(s, from, to, d): envelopes from..to-1 of gen_envelope. */
static int put_envelopes(struct vt_store *s, uint64_t from, uint64_t to, struct vt_diag *d)
{
        uint8_t body[1100], ph[32], eh[32], subj[4][32];
        size_t len, n;
        int err = 0;

        for (; from < to && err == 0; from++) {
                gen_envelope(from, body, &len, ph, eh, subj, &n);
                err = vt_store_envelope_put(s, from, ph, eh, n ? (const uint8_t(*)[32])subj : NULL,
                                            n, body, len, d);
        }
        return err;
}

/* Counts the subjects a scan returns and checks each against gen_envelope. */
struct subj_check {
        uint64_t n, bad, last, k;
};

static int subj_check_fn(void *ctx, uint64_t index, const uint8_t digest[32], struct vt_diag *d)
{
        struct subj_check *c = ctx;
        uint8_t body[1100], ph[32], eh[32], subj[4][32];
        size_t len, n;

        (void)d;
        c->k = c->n > 0 && index == c->last ? c->k + 1 : 0;
        c->last = index;
        gen_envelope(index, body, &len, ph, eh, subj, &n);
        if (c->k >= n || memcmp(subj[c->k], digest, 32) != 0)
                c->bad++;
        c->n++;
        return 0;
}

/* envelopes_ok(s, count): the store holds exactly envelopes 0..count-1 of gen_envelope. */
static int envelopes_ok(struct vt_store *s, uint64_t count)
{
        uint8_t body[1100], ph[32], eh[32], subj[4][32], p[32], e[32];
        struct subj_check c = {0};
        struct vt_buf b;
        struct vt_diag d = {{0}};
        uint64_t i, want = 0;
        size_t len, n;
        int ok = 1;

        vt_buf_init(&b);
        for (i = 0; i < count && ok; i++) {
                gen_envelope(i, body, &len, ph, eh, subj, &n);
                want += n;
                b.len = 0;
                if (vt_store_envelope_get(s, i, &b, &d) != 0 || b.len != len ||
                    memcmp(b.p, body, len) != 0 || vt_store_envelope_keys(s, i, p, e, &d) != 0 ||
                    memcmp(p, ph, 32) != 0 || memcmp(e, eh, 32) != 0) {
                        print_error("envelope %llu differs (%s)\n", (unsigned long long)i, d.msg);
                        ok = 0;
                }
                if (ok && n > 0 && vt_store_subject_has(s, subj[n - 1], i, &d) != 0)
                        ok = 0;
        }
        if (ok && vt_store_envelope_get(s, count, &b, &d) != VT_ENOENT)
                ok = 0;
        if (ok && (vt_store_subject_scan(s, 0, subj_check_fn, &c, &d) != 0 || c.n != want ||
                   c.bad != 0)) {
                print_error("subjects: %llu of %llu seen, %llu differ (%s)\n",
                            (unsigned long long)c.n, (unsigned long long)want,
                            (unsigned long long)c.bad, d.msg);
                ok = 0;
        }
        vt_buf_release(&b);
        return ok;
}

static const uint8_t *gen_stream(void)
{
        static uint8_t stream[GEN_STREAM];
        static int ready;

        if (!ready) {
                fill(stream, sizeof(stream), 11);
                ready = 1;
        }
        return stream;
}

/* gen_bundle(g, i, len): bundle i of generation g: its width, and its length in *len. */
static unsigned gen_bundle(unsigned g, uint64_t i, size_t *len)
{
        uint64_t total = (uint64_t)g * GEN_STEP, from = i * GEN_CAP;

        *len = total - from < GEN_CAP ? (size_t)(total - from) : GEN_CAP;
        return *len == GEN_CAP ? 256 : 1 + (unsigned)((*len - 1) * 255 / GEN_CAP);
}

/* gen_count(g): how many bundles generation g has. */
static uint64_t gen_count(unsigned g)
{
        return ((uint64_t)g * GEN_STEP + GEN_CAP - 1) / GEN_CAP;
}

/* put_gen_from(s, p, g, d): the puts that take a store at generation p (0: empty) to g > p. */
static int put_gen_from(struct vt_store *s, unsigned p, unsigned g, struct vt_diag *d)
{
        static uint8_t tile[256 * 32];
        char v[16];
        size_t len;
        uint64_t i;
        unsigned w;
        int err;

        snprintf(v, sizeof(v), "%u", g);
        fill(tile, sizeof(tile), g + 1000);
        if ((err = vt_store_meta_put(s, "gen", v, strlen(v), d)) != 0)
                return err;
        for (i = p == 0 ? 0 : gen_count(p) - 1; i < gen_count(g); i++) {
                w = gen_bundle(g, i, &len);
                if ((err = vt_store_bundle_put(s, i, w, gen_stream() + i * GEN_CAP, len, d)) != 0)
                        return err;
        }
        if ((err = put_envelopes(s, (uint64_t)GEN_ENV * p, (uint64_t)GEN_ENV * g, d)) != 0 ||
            (err = vt_store_tile_put(s, 0, 0, g, tile, (size_t)g * 32, d)) != 0 ||
            (err = vt_store_checkpoint_put(s, g, (const uint8_t *)v, strlen(v), d)) != 0)
                return err;
        return 0;
}

static int put_gen(struct vt_store *s, unsigned g, struct vt_diag *d)
{
        return put_gen_from(s, g - 1, g, d);
}

static int commit_gen_from(struct vt_store *s, unsigned p, unsigned g, struct vt_diag *d)
{
        int err;

        if ((err = vt_store_begin(s, d)) != 0)
                return err;
        if ((err = put_gen_from(s, p, g, d)) != 0) {
                vt_store_rollback(s);
                return err;
        }
        return vt_store_commit(s, d);
}

static int commit_gen(struct vt_store *s, unsigned g, struct vt_diag *d)
{
        return commit_gen_from(s, g - 1, g, d);
}

/* state_of(s): the generation s holds, 0 for none at all, -1 for a mix. */
static int state_of(struct vt_store *s)
{
        static uint8_t tile[256 * 32];
        struct vt_buf b;
        struct vt_diag d = {{0}};
        unsigned w = 0;
        uint64_t size = 0, g, i;
        size_t len;
        int err, r = -1;

        vt_buf_init(&b);
        err = vt_store_meta_get(s, "gen", &b, &d);
        if (err == VT_ENOENT) {
                /* Nothing at all, or a mix. */
                r = vt_store_bundle_get(s, 0, &w, &b, &d) == VT_ENOENT &&
                            vt_store_tile_get(s, 0, 0, &w, &b, &d) == VT_ENOENT &&
                            vt_store_checkpoint_latest(s, &size, &b, &d) == VT_ENOENT &&
                            envelopes_ok(s, 0)
                        ? 0
                        : -1;
                goto done;
        }
        if (err != 0 || vt_util_parse_u64((const char *)b.p, b.len, &g) != 0 || g == 0 || g > 256)
                goto done;
        /* Every bundle, byte for byte, and nothing after the last. */
        for (i = 0; i < gen_count((unsigned)g); i++) {
                unsigned want = gen_bundle((unsigned)g, i, &len);
                b.len = 0;
                if (vt_store_bundle_get(s, i, &w, &b, &d) != 0 || w != want || b.len != len ||
                    memcmp(b.p, gen_stream() + i * GEN_CAP, len) != 0) {
                        print_error("generation %llu: bundle %llu differs (%s)\n",
                                    (unsigned long long)g, (unsigned long long)i, d.msg);
                        goto done;
                }
        }
        if (vt_store_bundle_get(s, i, &w, &b, &d) != VT_ENOENT)
                goto done;
        b.len = 0;
        fill(tile, sizeof(tile), (unsigned)g + 1000);
        if (vt_store_tile_get(s, 0, 0, &w, &b, &d) != 0 || w != g || b.len != g * 32 ||
            memcmp(b.p, tile, b.len) != 0)
                goto done;
        b.len = 0;
        if (vt_store_checkpoint_latest(s, &size, &b, &d) != 0 || size != g)
                goto done;
        if (!envelopes_ok(s, GEN_ENV * g))
                goto done;
        r = (int)g;
done:
        vt_buf_release(&b);
        return r;
}

/* reopen_expect(dir, want): open a writer, check it holds generation want (state_of), close it. */
static void reopen_expect(const char *dir, int want)
{
        struct vt_store *s = open_ok(dir, 0);

        assert_int_equal(state_of(s), want);
        vt_store_close(s);
}

static void rollback_discards(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        assert_int_equal(state_of(s), 1);
        /* Inside a transaction, reads see its writes; rollback drops them. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 2, &d), 0);
        assert_int_equal(state_of(s), 2);
        vt_store_rollback(s);
        assert_int_equal(state_of(s), 1);
        vt_store_rollback(s); /* no-op */
        /* Commit makes them stick. */
        assert_int_equal(commit_gen_from(s, 1, 3, &d), 0);
        assert_int_equal(state_of(s), 3);
        vt_store_close(s);
        reopen_expect(t.data, 3);
        assert_integrity(t.data);
        scratch_free(&t);
}

static void close_without_commit_discards(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 1, &d), 0);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 0);
        assert_int_equal(commit_gen_from(s, 0, 2, &d), 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 3, &d), 0);
        vt_store_close(s);
        reopen_expect(t.data, 2);
        scratch_free(&t);
}

static void transaction_state_errors(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(vt_store_commit(s, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "no transaction to commit"));
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(vt_store_begin(s, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "already open"));
        /* A refused put (bad arguments) does not end the transaction. */
        assert_int_equal(vt_store_bundle_put(s, 0, 0, (const uint8_t *)"x", 1, &d), VT_EINVAL);
        assert_int_equal(put_gen(s, 1, &d), 0);
        assert_int_equal(vt_store_commit(s, &d), 0);
        assert_int_equal(vt_store_commit(s, &d), VT_EINVAL);
        /* Outside a transaction every put commits on its own. */
        assert_int_equal(vt_store_meta_put(s, "solo", "1", 1, &d), 0);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 1);
        {
                struct vt_buf b;
                vt_buf_init(&b);
                assert_int_equal(vt_store_meta_get(s, "solo", &b, &d), 0);
                vt_buf_release(&b);
        }
        vt_store_close(s);
        scratch_free(&t);
}

static void readonly_refuses_writes(void **state)
{
        struct scratch t;
        struct vt_store *w, *r;
        struct vt_diag d = {{0}};
        uint8_t h[32] = {0};

        (void)state;
        scratch_make(&t);
        w = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(w, 1, &d), 0);
        vt_store_close(w);
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(state_of(r), 1);
        assert_int_equal(vt_store_begin(r, &d), VT_EINVAL);
        assert_non_null(strstr(d.msg, "read-only"));
        assert_int_equal(vt_store_meta_put(r, "k", "v", 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(r, 0, 1, h, 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_tile_put(r, 0, 0, 1, h, 32, &d), VT_EINVAL);
        assert_int_equal(vt_store_checkpoint_put(r, 9, h, 1, &d), VT_EINVAL);
        assert_int_equal(vt_store_commit(r, &d), VT_EINVAL);
        /* A reader sees what a writer commits, and only then. */
        w = open_ok(t.data, 0);
        assert_int_equal(vt_store_begin(w, &d), 0);
        assert_int_equal(put_gen(w, 2, &d), 0);
        assert_int_equal(state_of(r), 1);
        assert_int_equal(vt_store_commit(w, &d), 0);
        assert_int_equal(state_of(r), 2);
        vt_store_close(w);
        vt_store_close(r);
        assert_integrity(t.data);
        scratch_free(&t);
}

static void second_writer_is_busy(void **state)
{
        struct scratch t;
        struct vt_store *a, *b;
        struct vt_diag d = {{0}};
        char want[160];

        (void)state;
        scratch_make(&t);
        a = open_ok(t.data, VT_STORE_CREATE);
        b = open_ok(t.data, 0);
        vt_store_set_busy_timeout(b, 0);
        assert_int_equal(vt_store_begin(a, &d), 0);
        assert_int_equal(vt_store_begin(b, &d), VT_EBUSY);
        snprintf(want, sizeof(want), "store '%s' is locked by another writer", t.data);
        assert_string_equal(d.msg, want);
        /* Autocommit puts meet the same lock; b's failure leaves b usable. */
        assert_int_equal(vt_store_meta_put(b, "k", "v", 1, &d), VT_EBUSY);
        assert_int_equal(put_gen(a, 1, &d), 0);
        /* A reader is not blocked by the writer. */
        assert_int_equal(state_of(b), 0);
        assert_int_equal(vt_store_commit(a, &d), 0);
        vt_store_set_busy_timeout(b, 1000);
        assert_int_equal(vt_store_begin(b, &d), 0);
        assert_int_equal(put_gen(b, 2, &d), 0);
        assert_int_equal(vt_store_commit(b, &d), 0);
        assert_int_equal(state_of(a), 2);
        vt_store_close(a);
        vt_store_close(b);
        scratch_free(&t);
}

/*
 * big_rows(s, first, n, size, d): n metadata rows of size bytes (1..1 MiB),
 * keys big-<first>...: bytes that go through SQLite's WAL (envelope bodies
 * no longer do).
 */
static int big_rows(struct vt_store *s, uint64_t first, unsigned n, size_t size, struct vt_diag *d)
{
        static uint8_t row[1 << 20];
        char key[32];
        unsigned i;
        int err = 0;

        fill(row, size, (unsigned)first);
        for (i = 0; i < n && err == 0; i++) {
                snprintf(key, sizeof(key), "big-%llu", (unsigned long long)(first + i));
                err = vt_store_meta_put(s, key, row, size, d);
        }
        return err;
}

static void wal_flush_and_bound(void **state)
{
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        char copy[160], cmd[600];
        uint64_t n;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        /* Committed rows live in the WAL until a checkpoint; bundle bytes in the segment. */
        assert_true(file_size(t.data, "veritrail.db-wal") > 0);
        assert_int_equal(file_size(t.data, "entries.seg"), GEN_STEP);
        assert_int_equal(vt_store_wal_flush(s, &d), 0);
        /* Now the database file and the segment hold it: a copy without the WAL reads it. */
        snprintf(copy, sizeof(copy), "%s/copy", t.root);
        assert_int_equal(mkdir(copy, 0700), 0);
        snprintf(cmd, sizeof(cmd), "cp '%s/veritrail.db' '%s/entries.seg' '%s/envelopes.seg' '%s/'",
                 t.data, t.data, t.data, copy);
        assert_int_equal(system(cmd), 0);
        r = open_ok(copy, 0);
        assert_int_equal(state_of(r), 1);
        vt_store_close(r);
        /* Refused inside a transaction and on a read-only store. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(vt_store_wal_flush(s, &d), VT_EINVAL);
        vt_store_rollback(s);
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(vt_store_wal_flush(r, &d), VT_EINVAL);
        vt_store_close(r);
        /*
         * Checkpoints (a thread of the writer's; inline past twice the 16 MiB
         * threshold) keep the WAL bounded: 40 MiB committed in 2 MiB commits,
         * the WAL stays under 32 MiB and a commit, the database grows.
         */
        for (n = 1; n <= 160; n += 8) {
                assert_int_equal(vt_store_begin(s, &d), 0);
                assert_int_equal(big_rows(s, n, 8, 256 * 1024, &d), 0);
                assert_int_equal(vt_store_commit(s, &d), 0);
        }
        assert_true(file_size(t.data, "veritrail.db-wal") < (off_t)36 << 20);
        for (n = 0; n < 100 && file_size(t.data, "veritrail.db") < (off_t)16 << 20; n++)
                usleep(50000);
        assert_true(file_size(t.data, "veritrail.db") >= (off_t)16 << 20);
        assert_int_equal(state_of(s), 1);
        vt_store_close(s);
        assert_integrity(t.data);
        scratch_free(&t);
}

/*
 * A writer's WAL past the checkpoint threshold (16 MiB) but under twice it:
 * the commit returns without checkpointing, the writer's checkpoint thread
 * copies the WAL into the database in the background.
 */
static void wal_background_checkpoint(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        uint64_t n;
        int k;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        for (n = 1; n <= 72; n += 8) {
                assert_int_equal(vt_store_begin(s, &d), 0);
                assert_int_equal(big_rows(s, n, 8, 256 * 1024, &d), 0);
                assert_int_equal(vt_store_commit(s, &d), 0);
        }
        /* 18 MiB committed; nothing but the thread checkpoints now. */
        for (k = 0; k < 200 && file_size(t.data, "veritrail.db") < (off_t)16 << 20; k++)
                usleep(25000);
        assert_true(file_size(t.data, "veritrail.db") >= (off_t)16 << 20);
        /* A flush waits for the thread instead of finding the WAL busy. */
        for (k = 0; k < 3; k++) {
                assert_int_equal(vt_store_begin(s, &d), 0);
                assert_int_equal(big_rows(s, 100 + 80 * (uint64_t)k, 72, 256 * 1024, &d), 0);
                assert_int_equal(vt_store_commit(s, &d), 0);
                if (vt_store_wal_flush(s, &d) != 0)
                        fail_msg("flush after commit %d: %s", k, d.msg);
        }
        vt_store_close(s);
        assert_integrity(t.data);
        scratch_free(&t);
}

/* ---- fault injection ---- */

static void failed_put_poisons_transaction(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        int round, err;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        /* Round 0: a bundle put fails in the segment; round 1: puts overflow SQLite's cache. */
        for (round = 0; round < 2; round++) {
                assert_int_equal(vt_store_begin(s, &d), 0);
                vt_store_fault_countdown(0);
                if (round == 0) {
                        err = put_gen_from(s, 1, 2, &d);
                        assert_int_equal(err, VT_EIO);
                        assert_non_null(strstr(d.msg, "entries.seg': Input/output error"));
                } else {
                        err = big_rows(s, 1, 400, 256 * 1024, &d);
                        assert_int_equal(err, VT_EIO);
                        assert_non_null(strstr(d.msg, "disk I/O error"));
                }
                vt_store_fault_countdown(-1);
                /* The transaction is gone: nothing more may land, in it or alone. */
                assert_int_equal(vt_store_meta_put(s, "late", "x", 1, &d), VT_ESTORE);
                assert_non_null(strstr(d.msg, "rolled back after an earlier error"));
                assert_int_equal(vt_store_bundle_put(s, 1, 1, (const uint8_t *)"x", 1, &d),
                                 VT_ESTORE);
                assert_int_equal(vt_store_commit(s, &d), VT_ESTORE);
                assert_int_equal(state_of(s), 1);
        }
        /* The connection is usable again afterwards. */
        assert_int_equal(commit_gen(s, 2, &d), 0);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 2);
        {
                struct vt_buf b;
                vt_buf_init(&b);
                assert_int_equal(vt_store_meta_get(s, "late", &b, &d), VT_ENOENT);
                assert_int_equal(vt_store_meta_get(s, "big-1", &b, &d), VT_ENOENT);
                assert_int_equal(vt_store_envelope_get(s, 2 * GEN_ENV, &b, &d), VT_ENOENT);
                vt_buf_release(&b);
        }
        vt_store_close(s);
        finish_exact(&t);
}

/*
 * How a fault sweep goes on after the failing transaction (see fault_sweep):
 *   SWEEP_REOPEN    stop injecting, close, reopen;
 *   SWEEP_CRASH     close while still failing (the closing checkpoint fails
 *                   too), so the next open recovers from the WAL as after a
 *                   crash;
 *   SWEEP_CONTINUE  stop injecting and commit generation 3 on the same
 *                   connection, as the log does after a failed batch;
 *   SWEEP_SCRIBBLE  in a child process: stop injecting, start a transaction
 *                   that grows the bundles with other bytes than generation
 *                   2's, and die without committing. If generation 2's
 *                   COMMIT wrote its commit record before its sync failed,
 *                   that record comes back at the next open, so its bundle
 *                   bytes must not have been overwritten;
 *   SWEEP_SECOND    the same, through a second writer opened after the
 *                   failure (its open must not cut those bytes either);
 *   SWEEP_READER    the same, but a reader is opened and the failing writer
 *                   closed before the second writer opens: the reader keeps
 *                   SQLite's WAL index, so the failed commit is neither
 *                   recovered nor dropped yet, and the second writer must
 *                   not cut its bytes.
 */
enum { SWEEP_REOPEN, SWEEP_CRASH, SWEEP_CONTINUE, SWEEP_SCRIBBLE, SWEEP_SECOND, SWEEP_READER };

/*
 * scribble(s, p, d): grow generation p's bundles, and add envelopes after
 * its, with bytes no generation has.
 */
static int scribble(struct vt_store *s, unsigned p, struct vt_diag *d)
{
        static uint8_t other[GEN_CAP], env[5000];
        uint64_t last = gen_count(p) - 1;
        size_t len;
        unsigned i;

        (void)gen_bundle(p, last, &len);
        memcpy(other, gen_stream() + last * GEN_CAP, len);
        memset(other + len, 0xee, sizeof(other) - len);
        if (vt_store_bundle_put(s, last, 256, other, sizeof(other), d) ||
            vt_store_bundle_put(s, last + 1, 7, other, 3000, d))
                return 1;
        /* Envelopes past generation p's, more than the store buffers: they reach the file. */
        memset(env, 0xee, sizeof(env));
        for (i = 0; i < 300; i++)
                if (vt_store_envelope_put(s, (uint64_t)GEN_ENV * p + i, env, env, NULL, 0, env,
                                          sizeof(env), d) != 0)
                        return 1;
        return 0;
}

/*
 * sweep_step(dir, k, mode, d): commit generation 1, then fail the k-th I/O
 * call (write, sync or truncate of the database, its WAL or the segment) of
 * the transaction that writes generation 2, and every one after it; go on
 * as mode says. Returns 1 if generation 2's commit succeeded, 0 if not.
 */
static int sweep_step(const char *dir, int k, int mode, struct vt_diag *d)
{
        struct vt_store *s;
        int err, p;

        vt_store_fault_countdown(-1);
        s = open_ok(dir, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, d), 0);
        vt_store_fault_countdown(k);
        err = commit_gen(s, 2, d);
        if (err != 0) {
                if (err != VT_EIO && err != VT_ESTORE)
                        print_error("k=%d: %s: %s\n", k, vt_strerror(err), d->msg);
                assert_true(err == VT_EIO || err == VT_ESTORE);
                assert_non_null(strstr(d->msg, dir));
        }
        if (mode != SWEEP_CRASH)
                vt_store_fault_countdown(-1);
        if (mode == SWEEP_CONTINUE) {
                /* This connection sees 1 or 2 (never a mix), and goes on from there. */
                p = state_of(s);
                assert_true(p == (err == 0 ? 2 : 1));
                assert_int_equal(commit_gen_from(s, (unsigned)p, 3, d), 0);
                assert_int_equal(state_of(s), 3);
        } else if (mode >= SWEEP_SCRIBBLE) {
                if (mode == SWEEP_READER) {
                        (void)open_ok(dir, VT_STORE_READONLY); /* kept open until the child dies */
                        vt_store_close(s);
                }
                if (mode != SWEEP_SCRIBBLE)
                        s = open_ok(dir, 0);
                p = state_of(s);
                assert_true(p == (err == 0 ? 2 : 1));
                assert_int_equal(vt_store_begin(s, d), 0);
                assert_int_equal(scribble(s, (unsigned)p, d), 0);
                return err == 0; /* the caller, a child, dies here */
        }
        vt_store_close(s);
        vt_store_fault_countdown(-1);
        return err == 0;
}

/*
 * fault_sweep(mode): sweep_step for k = 0, 1, 2, ... until the commit of
 * generation 2 succeeds. After each, reopen: the store holds 1 or 2 (3 with
 * SWEEP_CONTINUE), never a mix, every bundle equal to the committed one;
 * 2 whenever commit said so; nothing past the segment's committed end once a
 * writer opened it; and the file passes the integrity check.
 */
static void fault_sweep(int mode)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        int k, got, committed = 0, saw_new_after_error = 0;

        for (k = 0; !committed; k++) {
                assert_true(k < 2000);
                scratch_make(&t);
                if (mode >= SWEEP_SCRIBBLE) {
                        pid_t pid;
                        int status;
                        if ((pid = fork()) == 0) {
                                /* _exit: no close, no checkpoint, as if killed. */
                                _exit(sweep_step(t.data, k, mode, &d) ? 10 : 11);
                        }
                        assert_true(pid > 0);
                        assert_int_equal(waitpid(pid, &status, 0), pid);
                        assert_true(WIFEXITED(status));
                        if (WEXITSTATUS(status) != 10 && WEXITSTATUS(status) != 11)
                                fail_msg("k=%d: the child failed (exit %d)", k,
                                         WEXITSTATUS(status));
                        committed = WEXITSTATUS(status) == 10;
                } else {
                        committed = sweep_step(t.data, k, mode, &d);
                }

                s = open_ok(t.data, 0);
                got = state_of(s);
                vt_store_close(s);
                if (mode == SWEEP_CONTINUE) {
                        if (got != 3)
                                print_error("k=%d: state %d after %s\n", k, got, d.msg);
                        assert_int_equal(got, 3);
                } else {
                        if (got != 1 && got != 2)
                                print_error("k=%d: state %d after %s\n", k, got, d.msg);
                        assert_true(got == 1 || got == 2);
                        if (committed)
                                assert_int_equal(got, 2);
                        else if (got == 2)
                                saw_new_after_error++;
                }
                finish_exact(&t);
        }
        print_message("fault sweep: %d injection points, %d failed commits later found "
                      "committed (sync failed after the commit record was written)\n",
                      k - 1, saw_new_after_error);
        /* A transaction writes the segment twice, syncs it, then writes and syncs the WAL. */
        assert_true(k > 5);
}

static void fault_sweep_then_reopen(void **state)
{
        (void)state;
        fault_sweep(SWEEP_REOPEN);
}

static void fault_sweep_crash_recovery(void **state)
{
        (void)state;
        fault_sweep(SWEEP_CRASH);
}

static void fault_sweep_then_continue(void **state)
{
        (void)state;
        fault_sweep(SWEEP_CONTINUE);
}

static void fault_sweep_then_scribble_and_crash(void **state)
{
        (void)state;
        fault_sweep(SWEEP_SCRIBBLE);
}

static void fault_sweep_then_second_writer_and_crash(void **state)
{
        (void)state;
        fault_sweep(SWEEP_SECOND);
}

static void fault_sweep_then_reader_second_writer_and_crash(void **state)
{
        (void)state;
        fault_sweep(SWEEP_READER);
}

static void fault_during_create(void **state)
{
        struct scratch t;
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        int k, err = -1;

        (void)state;
        /* Creating the store under failing I/O either works or leaves a retryable state. */
        for (k = 0; err != 0; k++) {
                assert_true(k < 200);
                scratch_make(&t);
                s = NULL;
                vt_store_fault_countdown(k);
                err = vt_store_open(t.data, VT_STORE_CREATE, &s, &d);
                vt_store_fault_countdown(-1);
                if (err == 0) {
                        vt_store_close(s);
                } else {
                        assert_null(s);
                        assert_true(err == VT_EIO || err == VT_ESTORE);
                }
                s = open_ok(t.data, VT_STORE_CREATE);
                assert_int_equal(state_of(s), 0);
                assert_int_equal(commit_gen(s, 1, &d), 0);
                vt_store_close(s);
                assert_integrity(t.data);
                scratch_free(&t);
        }
}

/* The child of env_countdown_at_first_open: VT_FAULT_IO is set; creating must fail. */
static int child_env_countdown(const char *dir)
{
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        int err = vt_store_open(dir, VT_STORE_CREATE, &s, &d);

        vt_store_close(s);
        return err == VT_EIO || err == VT_ESTORE ? 0 : 1;
}

static void env_countdown_at_first_open(void **state)
{
        struct scratch t;
        char *argv[] = {"test_store", NULL};
        char *envp[4];
        char child[160];
        pid_t pid;
        int status;

        (void)state;
        scratch_make(&t);
        snprintf(child, sizeof(child), "VT_TEST_STORE_CHILD=%s", t.data);
        envp[0] = child;
        envp[1] = "VT_FAULT_IO=0";
        envp[2] = getenv("ASAN_OPTIONS") ? "ASAN_OPTIONS=detect_leaks=0" : NULL;
        envp[3] = NULL;
        assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        scratch_free(&t);
}

/* ---- kill -9 ---- */

static void kill_mid_transaction(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        int fds[2], status;
        char c;
        pid_t pid;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        vt_store_close(s);
        assert_int_equal(pipe(fds), 0);
        if ((pid = fork()) == 0) {
                static uint8_t bundle[GEN_CAP];
                uint64_t n;
                close(fds[0]);
                if (vt_store_open(t.data, 0, &s, &d) != 0 || vt_store_begin(s, &d) != 0 ||
                    put_gen(s, 2, &d) != 0)
                        _exit(1);
                /* More than the page cache holds: uncommitted pages reach the WAL ... */
                if (big_rows(s, 1, 100, 256 * 1024, &d) != 0)
                        _exit(1);
                /* ... and bundles the segment. */
                fill(bundle, sizeof(bundle), 7);
                for (n = gen_count(2); n < gen_count(2) + 100; n++)
                        if (vt_store_bundle_put(s, n, 256, bundle, sizeof(bundle), &d) != 0)
                                _exit(1);
                if (write(fds[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        assert_true(pid > 0);
        close(fds[1]);
        assert_int_equal(read(fds[0], &c, 1), 1);
        close(fds[0]);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        /* The dead transaction's bytes lie past the committed end until a writer opens. */
        assert_true(file_size(t.data, "entries.seg") > committed_end(t.data));
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 1);
        assert_segment_exact(t.data);
        /* And the log goes on from there. */
        assert_int_equal(commit_gen(s, 2, &d), 0);
        assert_int_equal(state_of(s), 2);
        vt_store_close(s);
        finish_exact(&t);
}

static void kill_between_commits(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        int round;

        (void)state;
        for (round = 0; round < 4; round++) {
                unsigned acked = 0, g;
                int fds[2], status, got;
                pid_t pid;

                scratch_make(&t);
                s = open_ok(t.data, VT_STORE_CREATE);
                vt_store_close(s);
                assert_int_equal(pipe(fds), 0);
                if ((pid = fork()) == 0) {
                        close(fds[0]);
                        if (vt_store_open(t.data, 0, &s, &d) != 0)
                                _exit(1);
                        /* Commit generations 1, 2, ...; acknowledge each after commit returns. */
                        for (g = 1; g <= 256; g++) {
                                if (commit_gen(s, g, &d) != 0 ||
                                    write(fds[1], &g, sizeof(g)) != sizeof(g))
                                        _exit(1);
                        }
                        for (;;)
                                pause();
                }
                assert_true(pid > 0);
                close(fds[1]);
                /* Let a few commits through, then kill at a different moment each round. */
                while (acked < 3)
                        assert_int_equal(read(fds[0], &acked, sizeof(acked)), sizeof(acked));
                {
                        struct timespec ts = {0, 1000000L * (1 + 7 * round)};
                        nanosleep(&ts, NULL);
                }
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                while (read(fds[0], &g, sizeof(g)) == sizeof(g))
                        acked = g;
                close(fds[0]);
                s = open_ok(t.data, 0);
                got = state_of(s);
                vt_store_close(s);
                /* Every acknowledged commit survived; at most the one in flight more. */
                if (got < (int)acked || got > (int)acked + 1)
                        print_error("round %d: acked %u, found %d\n", round, acked, got);
                assert_true(got >= (int)acked && got <= (int)acked + 1);
                assert_integrity(t.data);
                scratch_free(&t);
        }
}

/* ---- the entry segment ---- */

/*
 * A crash between the segment's sync and the COMMIT leaves bytes past the
 * committed end: the next writer to open cuts them, when it is the only
 * writer. Readers never do, and a writer that is not alone leaves them to
 * the owner (they could belong to a commit in flight) and writes after them.
 */
static void garbage_past_end_cut_on_open(void **state)
{
        static uint8_t junk[70000];
        struct scratch t;
        struct vt_store *s, *a, *r;
        struct vt_diag d = {{0}};

        (void)state;
        scratch_make(&t);
        memset(junk, 0xa5, sizeof(junk));
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        vt_store_close(s);
        append_file(t.data, "entries.seg", junk, sizeof(junk));
        assert_int_equal(file_size(t.data, "entries.seg"), GEN_STEP + sizeof(junk));
        /* A reader leaves them, and while one is open, so does a writer. */
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(state_of(r), 1);
        s = open_ok(t.data, 0);
        vt_store_close(s);
        vt_store_close(r);
        assert_int_equal(file_size(t.data, "entries.seg"), GEN_STEP + sizeof(junk));
        /* The only writer cuts them. */
        s = open_ok(t.data, 0);
        assert_int_equal(file_size(t.data, "entries.seg"), GEN_STEP);
        assert_int_equal(state_of(s), 1);
        /* With a writer open, a second writer leaves new junk alone... */
        append_file(t.data, "entries.seg", junk, sizeof(junk));
        a = open_ok(t.data, 0);
        assert_int_equal(file_size(t.data, "entries.seg"), GEN_STEP + sizeof(junk));
        /* ... and either writer puts its bytes after it: bundle 0 moves there whole. */
        assert_int_equal(commit_gen(a, 2, &d), 0);
        assert_int_equal(state_of(s), 2);
        assert_int_equal(committed_end(t.data), GEN_STEP + sizeof(junk) + 2 * GEN_STEP);
        assert_segment_exact(t.data);
        assert_int_equal(commit_gen(s, 3, &d), 0);
        assert_int_equal(state_of(a), 3);
        vt_store_close(a);
        vt_store_close(s);
        reopen_expect(t.data, 3);
        finish_exact(&t);
}

/*
 * A rollback cuts the bytes its transaction wrote. Bytes that could not be
 * cut are skipped: the next transaction writes after them. Bytes synced for
 * a COMMIT that then failed are never cut by their writer.
 */
static void rollback_cuts_segment(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        int got;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 2, &d), 0);
        assert_int_equal(file_size(t.data, "entries.seg"), 2 * GEN_STEP);
        vt_store_rollback(s);
        assert_int_equal(file_size(t.data, "entries.seg"), GEN_STEP);
        /*
         * A commit's I/O calls: the buffered envelope bodies' write, the
         * segments' syncs, then SQLite's. The entry segment's sync fails, and
         * the cuts fail too here.
         */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 2, &d), 0);
        vt_store_fault_countdown(1);
        assert_int_equal(vt_store_commit(s, &d), VT_EIO);
        vt_store_fault_countdown(-1);
        assert_non_null(strstr(d.msg, "entries.seg': Input/output error"));
        assert_non_null(strstr(d.msg, "cannot sync '"));
        assert_int_equal(state_of(s), 1);
        assert_int_equal(file_size(t.data, "entries.seg"), 2 * GEN_STEP);
        /* So generation 2 goes after those bytes, bundle 0 whole. */
        assert_int_equal(commit_gen(s, 2, &d), 0);
        assert_int_equal(state_of(s), 2);
        assert_int_equal(committed_end(t.data), 4 * GEN_STEP);
        assert_segment_exact(t.data);
        /* The segments synced, SQLite's commit failed: their bytes stay. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 3, &d), 0);
        vt_store_fault_countdown(3);
        assert_int_equal(vt_store_commit(s, &d), VT_EIO);
        vt_store_fault_countdown(-1);
        assert_int_equal(state_of(s), 2);
        assert_int_equal(file_size(t.data, "entries.seg"), 5 * GEN_STEP);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        got = state_of(s);
        assert_true(got == 2 || got == 3);
        vt_store_close(s);
        finish_exact(&t);
}

/* make_old(dir, version, bundles, lens, n): a schema version 1 or 2 database with n bundles. */
static void make_old(const char *dir, int version, const uint8_t *const *bundles,
                     const size_t *lens, unsigned n)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char path[256];
        unsigned i;

        assert_int_equal(mkdir(dir, 0700), 0);
        db_path(dir, path, sizeof(path));
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db,
                         "PRAGMA page_size=65536; PRAGMA journal_mode=WAL;"
                         "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
                         "CREATE TABLE bundles(n INTEGER PRIMARY KEY, width INTEGER NOT NULL,"
                         " data BLOB NOT NULL);"
                         "CREATE TABLE tiles(level INTEGER NOT NULL, n INTEGER NOT NULL,"
                         " width INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(level, n))"
                         " WITHOUT ROWID;"
                         "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note BLOB NOT NULL);"
                         "PRAGMA application_id=1450471985; PRAGMA user_version=1;",
                         NULL, NULL, NULL),
            SQLITE_OK);
        if (version == 2)
                assert_int_equal(
                    sqlite3_exec(db,
                                 "CREATE TABLE envelopes(idx INTEGER PRIMARY KEY,"
                                 " payload_sha256 BLOB NOT NULL, entry_hash BLOB NOT NULL UNIQUE,"
                                 " envelope BLOB NOT NULL);"
                                 "CREATE INDEX envelopes_payload ON envelopes(payload_sha256, idx);"
                                 "CREATE TABLE subjects(digest BLOB NOT NULL, idx INTEGER NOT NULL,"
                                 " PRIMARY KEY(digest, idx)) WITHOUT ROWID;"
                                 "CREATE TABLE tokens(name TEXT PRIMARY KEY NOT NULL,"
                                 " hash BLOB NOT NULL, admin INTEGER NOT NULL,"
                                 " revoked INTEGER NOT NULL, created INTEGER NOT NULL);"
                                 "INSERT INTO envelopes VALUES(7, zeroblob(32), randomblob(32),"
                                 " 'env-7');"
                                 "INSERT INTO envelopes VALUES(9, zeroblob(32), randomblob(32),"
                                 " 'env-9');"
                                 "INSERT INTO subjects VALUES(x'" OLD_SUBJ "', 9);"
                                 "INSERT INTO subjects VALUES(x'" OLD_SUBJ "', 7);"
                                 "PRAGMA user_version=2;",
                                 NULL, NULL, NULL),
                    SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db, "INSERT INTO meta VALUES('gen', 'old')", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db, "INSERT INTO bundles VALUES(?1, ?2, ?3)", -1, &st, NULL),
            SQLITE_OK);
        for (i = 0; i < n; i++) {
                sqlite3_bind_int64(st, 1, i);
                sqlite3_bind_int(st, 2, lens[i] > 5000 ? 256 : 3);
                sqlite3_bind_blob(st, 3, bundles[i], (int)lens[i], SQLITE_STATIC);
                assert_int_equal(sqlite3_step(st), SQLITE_DONE);
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* Scan callbacks that record what they saw. */
struct seen {
        uint64_t idx[16];
        uint8_t digest[16][32];
        unsigned n;
};

static int seen_envelope(void *ctx, uint64_t index, const uint8_t payload_sha256[32],
                         const uint8_t entry_hash[32], struct vt_diag *d)
{
        struct seen *v = ctx;

        (void)entry_hash;
        (void)d;
        if (v->n == 16)
                return VT_ERANGE;
        v->idx[v->n] = index;
        memcpy(v->digest[v->n++], payload_sha256, 32);
        return 0;
}

static int seen_subject(void *ctx, uint64_t index, const uint8_t digest[32], struct vt_diag *d)
{
        struct seen *v = ctx;

        (void)d;
        if (v->n == 16)
                return VT_ERANGE;
        v->idx[v->n] = index;
        memcpy(v->digest[v->n++], digest, 32);
        return 0;
}

/* The service rows of make_old(version 2) survived the moves to version 4's and 5's tables. */
static void assert_old_service_rows(struct vt_store *s)
{
        uint8_t subj[32], zero[32] = {0}, p[32];
        struct seen v = {0};
        struct vt_buf b;
        struct vt_diag d = {{0}};

        memset(subj, 0xab, sizeof(subj));
        vt_buf_init(&b);
        assert_int_equal(vt_store_envelope_get(s, 9, &b, &d), 0);
        assert_int_equal(b.len, 5);
        assert_memory_equal(b.p, "env-9", 5);
        assert_int_equal(vt_store_envelope_keys(s, 7, p, NULL, &d), 0);
        assert_memory_equal(p, zero, 32);
        assert_int_equal(vt_store_envelope_scan(s, 0, seen_envelope, &v, &d), 0);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.idx[0], 7);
        assert_int_equal(v.idx[1], 9);
        v.n = 0;
        assert_int_equal(vt_store_subject_scan(s, 0, seen_subject, &v, &d), 0);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.idx[0], 7);
        assert_memory_equal(v.digest[1], subj, 32);
        assert_int_equal(vt_store_subject_has(s, subj, 9, &d), 0);
        assert_int_equal(vt_store_subject_has(s, subj, 8, &d), VT_ENOENT);
        vt_buf_release(&b);
}

/*
 * The service tables: rows by entry index, the digests read back by index
 * and by ascending scans, one envelope per index.
 */
static void service_tables(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        uint8_t ph[32], eh[32], sj[32], got[32];
        struct seen v = {0};
        struct vt_buf b;
        uint64_t i;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        assert_int_equal(vt_store_begin(s, &d), 0);
        for (i = 10; i > 0; i--) {
                /* Any order of puts; the scans come back by index. */
                memset(ph, (int)i, sizeof(ph));
                memset(eh, (int)(100 + i), sizeof(eh));
                memset(sj, (int)(i % 3), sizeof(sj));
                assert_int_equal(vt_store_envelope_put(s, i, ph, eh, (const uint8_t(*)[32])sj, 1,
                                                       (const uint8_t *)"{}", 2, &d),
                                 0);
        }
        assert_int_equal(vt_store_commit(s, &d), 0);
        /* One envelope per index (a failed put abandons its transaction: outside one here). */
        assert_int_equal(vt_store_envelope_put(s, 3, ph, eh, NULL, 0, (const uint8_t *)"{}", 2, &d),
                         VT_EEXIST);
        assert_int_equal(vt_store_envelope_keys(s, 4, got, eh, &d), 0);
        memset(ph, 4, sizeof(ph));
        assert_memory_equal(got, ph, 32);
        assert_int_equal(eh[0], 104);
        assert_int_equal(vt_store_envelope_keys(s, 11, got, NULL, &d), VT_ENOENT);
        assert_int_equal(vt_store_envelope_get(s, 11, &b, &d), VT_ENOENT);
        assert_int_equal(vt_store_envelope_scan(s, 5, seen_envelope, &v, &d), 0);
        assert_int_equal(v.n, 6);
        for (i = 0; i < 6; i++) {
                assert_int_equal(v.idx[i], 5 + i);
                assert_int_equal(v.digest[i][31], 5 + i);
        }
        v.n = 0;
        assert_int_equal(vt_store_subject_scan(s, 0, seen_subject, &v, &d), 0);
        assert_int_equal(v.n, 10);
        for (i = 0; i < 10; i++) {
                assert_int_equal(v.idx[i], 1 + i);
                assert_int_equal(v.digest[i][0], (1 + i) % 3);
        }
        memset(sj, 1, sizeof(sj));
        assert_int_equal(vt_store_subject_has(s, sj, 4, &d), 0);
        assert_int_equal(vt_store_subject_has(s, sj, 5, &d), VT_ENOENT);
        /* A callback's error stops the scan and comes back. */
        v.n = 15;
        assert_int_equal(vt_store_subject_scan(s, 0, seen_subject, &v, &d), VT_ERANGE);
        assert_int_equal(vt_store_subject_scan(s, 0, NULL, &v, &d), VT_EINVAL);
        vt_buf_release(&b);
        vt_store_close(s);
        scratch_free(&t);
}

/* assert_old_bundles(s, bundles, lens, n): the store holds exactly these bundles. */
static void assert_old_bundles(struct vt_store *s, const uint8_t *const *bundles,
                               const size_t *lens, unsigned n)
{
        struct vt_buf b;
        struct vt_diag d = {{0}};
        unsigned i, w;

        vt_buf_init(&b);
        for (i = 0; i < n; i++) {
                b.len = 0;
                assert_int_equal(vt_store_bundle_get(s, i, &w, &b, &d), 0);
                assert_int_equal(w, lens[i] > 5000 ? 256 : 3);
                assert_int_equal(b.len, lens[i]);
                assert_memory_equal(b.p, bundles[i], lens[i]);
        }
        assert_int_equal(vt_store_bundle_get(s, n, &w, &b, &d), VT_ENOENT);
        b.len = 0;
        assert_int_equal(vt_store_meta_get(s, "gen", &b, &d), 0);
        assert_int_equal(b.len, 3);
        vt_buf_release(&b);
}

/*
 * Versions 1 and 2 kept bundle bytes in the database: a reader reads them
 * there; the first writer moves them to the segment in one transaction
 * (also under failing I/O: then the next open finds version 2 intact and
 * migrates again).
 */
static void upgrade_old_schemas(void **state)
{
        static uint8_t b0[VT_STORE_BUNDLE_MAX], b1[VT_STORE_BUNDLE_MAX], b2[3000];
        const uint8_t *bundles[3] = {b0, b1, b2};
        const size_t lens[3] = {sizeof(b0), 100000, sizeof(b2)};
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        char res[64];
        int version, k, err, done;

        (void)state;
        fill(b0, sizeof(b0), 21);
        fill(b1, sizeof(b1), 22);
        fill(b2, sizeof(b2), 23);
        for (version = 1; version <= 2; version++) {
                scratch_make(&t);
                make_old(t.data, version, bundles, lens, 3);
                s = open_ok(t.data, VT_STORE_READONLY);
                assert_old_bundles(s, bundles, lens, 3);
                vt_store_close(s);
                sql_text(t.data, "PRAGMA user_version", res, sizeof(res));
                assert_int_equal(atoi(res), version);
                s = open_ok(t.data, 0);
                assert_old_bundles(s, bundles, lens, 3);
                sql_text(t.data, "PRAGMA user_version", res, sizeof(res));
                assert_string_equal(res, "5");
                if (version == 2)
                        assert_old_service_rows(s);
                sql_text(t.data, "SELECT group_concat(name) FROM pragma_table_info('bundles')", res,
                         sizeof(res));
                assert_string_equal(res, "n,width,off,len");
                assert_int_equal(committed_end(t.data), lens[0] + lens[1] + lens[2]);
                assert_segment_exact(t.data);
                /* The page size stays what it was; the log goes on. */
                sql_text(t.data, "PRAGMA page_size", res, sizeof(res));
                assert_string_equal(res, "65536");
                assert_int_equal(vt_store_bundle_put(s, 2, 3, b2, 3000, &d), 0);
                assert_int_equal(vt_store_bundle_put(s, 3, 1, b2, 10, &d), 0);
                assert_int_equal(vt_store_bundle_put(s, 1, 256, b1, 100000, &d), VT_EINVAL);
                vt_store_close(s);
                s = open_ok(t.data, VT_STORE_READONLY);
                assert_int_equal(vt_store_envelope_get(s, 1, &(struct vt_buf){0}, &d), VT_ENOENT);
                vt_store_close(s);
                assert_integrity(t.data);
                scratch_free(&t);
        }
        /* Under failing I/O: all or nothing. */
        for (k = 0, done = 0; !done; k++) {
                assert_true(k < 500);
                scratch_make(&t);
                make_old(t.data, 2, bundles, lens, 3);
                s = NULL;
                vt_store_fault_countdown(k);
                err = vt_store_open(t.data, 0, &s, &d);
                vt_store_fault_countdown(-1);
                done = err == 0;
                if (err == 0)
                        vt_store_close(s);
                else
                        assert_true(err == VT_EIO || err == VT_ESTORE);
                sql_text(t.data, "PRAGMA user_version", res, sizeof(res));
                assert_true(strcmp(res, "2") == 0 || strcmp(res, "5") == 0);
                s = open_ok(t.data, 0);
                assert_old_bundles(s, bundles, lens, 3);
                vt_store_close(s);
                finish_exact(&t);
        }
        assert_true(k > 5);
}

/* ---- the envelope segment (schema 5) ---- */

/* env_body(i, p, len): the body of envelope i in the tests below. */
static void env_body(uint64_t i, uint8_t *p, size_t len)
{
        fill(p, len, (unsigned)i + 9000);
}

/* put_env(s, i, len, nsubj, d): envelope i of len bytes with nsubj subjects (subject k: i*16+k). */
static int put_env(struct vt_store *s, uint64_t i, size_t len, size_t nsubj, struct vt_diag *d)
{
        static uint8_t body[2 << 20];
        uint8_t ph[32], eh[32], subj[8][32];
        size_t k;

        assert_true(len <= sizeof(body) && nsubj <= 8);
        env_body(i, body, len);
        memset(ph, 0x33, 32);
        memcpy(ph, &i, sizeof(i));
        memset(eh, 0x44, 32);
        memcpy(eh, &i, sizeof(i));
        for (k = 0; k < nsubj; k++)
                memset(subj[k], (int)(i * 16 + k), 32);
        return vt_store_envelope_put(s, i, ph, eh, nsubj ? (const uint8_t(*)[32])subj : NULL, nsubj,
                                     body, len, d);
}

/* env_is(s, i, len): envelope i reads back as put_env made it (appended to a non-empty buffer). */
static void env_is(struct vt_store *s, uint64_t i, size_t len)
{
        static uint8_t want[2 << 20];
        struct vt_buf b;
        struct vt_diag d = {{0}};
        int err;

        vt_buf_init(&b);
        assert_int_equal(vt_buf_puts(&b, ">"), 0);
        env_body(i, want, len);
        if ((err = vt_store_envelope_get(s, i, &b, &d)) != 0)
                fail_msg("envelope %llu: %s: %s", (unsigned long long)i, vt_strerror(err), d.msg);
        assert_int_equal(b.len, len + 1);
        assert_memory_equal(b.p + 1, want, len);
        vt_buf_release(&b);
}

/*
 * Bodies of every size (one byte, typical, past the store's 1 MiB buffer)
 * with 0..8 subjects (repeats kept, in order) read back inside their
 * transaction (from the buffer and from the file), after commit, from a
 * reader and after reopening; refusals of bad arguments.
 */
static void envelope_round_trip(void **state)
{
        static const size_t lens[] = {1, 700, 1500, (1 << 20) + 3, 40000, 2 << 20, 900};
        const size_t n = sizeof(lens) / sizeof(lens[0]);
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        struct seen v = {0};
        uint8_t dup[3][32], h[32] = {0};
        off_t total = 0;
        size_t i;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(vt_store_begin(s, &d), 0);
        for (i = 0; i < n; i++) {
                assert_int_equal(put_env(s, i, lens[i], i % 3, &d), 0);
                total += (off_t)lens[i];
                env_is(s, i, lens[i]); /* buffered, or flushed with a big one */
        }
        /* Past 1 MiB the bodies went to the file before the commit; the reader sees none. */
        assert_true(file_size(t.data, "envelopes.seg") > (off_t)1 << 20);
        assert_int_equal(vt_store_envelope_get(r, 0, &(struct vt_buf){0}, &d), VT_ENOENT);
        for (i = 0; i < n; i++)
                env_is(s, i, lens[i]);
        assert_int_equal(vt_store_commit(s, &d), 0);
        assert_int_equal(file_size(t.data, "envelopes.seg"), total);
        assert_int_equal(env_committed_end(t.data), total);
        for (i = 0; i < n; i++) {
                env_is(s, i, lens[i]);
                env_is(r, i, lens[i]);
        }
        /* Subjects: by index, then as given; repeats kept. */
        memset(dup[0], 7, 32);
        memset(dup[1], 3, 32);
        memset(dup[2], 7, 32);
        assert_int_equal(vt_store_envelope_put(s, 100, h, h, (const uint8_t(*)[32])dup, 3,
                                               (const uint8_t *)"{}", 2, &d),
                         0);
        assert_int_equal(vt_store_subject_scan(r, 0, seen_subject, &v, &d), 0);
        assert_int_equal(v.n, 0 + 1 + 2 + 0 + 1 + 2 + 0 + 3);
        assert_int_equal(v.idx[0], 1);
        assert_int_equal(v.digest[0][0], 16);
        assert_int_equal(v.idx[1], 2);
        assert_int_equal(v.digest[2][0], 33);
        assert_int_equal(v.idx[6], 100);
        assert_int_equal(v.digest[6][0], 7);
        assert_int_equal(v.digest[7][0], 3);
        assert_int_equal(v.digest[8][0], 7);
        v.n = 0;
        assert_int_equal(vt_store_subject_scan(r, 5, seen_subject, &v, &d), 0);
        assert_int_equal(v.n, 5);
        assert_int_equal(v.idx[0], 5);
        assert_int_equal(vt_store_subject_has(r, dup[1], 100, &d), 0);
        memset(dup[1], 16, 32);
        assert_int_equal(vt_store_subject_has(r, dup[1], 1, &d), 0);
        assert_int_equal(vt_store_subject_has(r, dup[1], 0, &d), VT_ENOENT);
        assert_int_equal(vt_store_subject_has(r, dup[1], 2, &d), VT_ENOENT);
        assert_int_equal(vt_store_subject_has(r, dup[1], 101, &d), VT_ENOENT);
        /* Refusals, before anything is written. */
        assert_int_equal(vt_store_envelope_put(s, 200, h, h, NULL, 1, (const uint8_t *)"x", 1, &d),
                         VT_EINVAL);
        assert_int_equal(vt_store_envelope_put(s, 200, h, h, (const uint8_t(*)[32])dup,
                                               (size_t)VT_STORE_SUBJECTS_MAX + 1,
                                               (const uint8_t *)"x", 1, &d),
                         VT_ETOOBIG);
        assert_int_equal(vt_store_envelope_put(s, 200, h, h, NULL, 0, (const uint8_t *)"x", 0, &d),
                         VT_EINVAL);
        assert_int_equal(vt_store_envelope_put(r, 200, h, h, NULL, 0, (const uint8_t *)"x", 1, &d),
                         VT_EINVAL);
        assert_int_equal(vt_store_envelope_put(s, 3, h, h, NULL, 0, (const uint8_t *)"x", 1, &d),
                         VT_EEXIST);
        assert_int_equal(file_size(t.data, "envelopes.seg"), total + 2);
        vt_store_close(r);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        for (i = 0; i < n; i++)
                env_is(s, i, lens[i]);
        vt_store_close(s);
        finish_exact(&t);
}

/*
 * A rollback cuts the envelope bytes its transaction wrote (past the 1 MiB
 * buffer) and drops the buffered ones; a put refused as a duplicate in
 * autocommit mode leaves the file as it was.
 */
static void envelope_rollback_cuts_segment(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(put_env(s, 0, 5000, 1, &d), 0);
        assert_int_equal(file_size(t.data, "envelopes.seg"), 5000);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_env(s, 1, 600000, 1, &d), 0);
        assert_int_equal(put_env(s, 2, 600000, 1, &d), 0);
        assert_int_equal(put_env(s, 3, 700, 1, &d), 0);
        assert_int_equal(file_size(t.data, "envelopes.seg"), 5000 + 1200000);
        vt_store_rollback(s);
        assert_int_equal(file_size(t.data, "envelopes.seg"), 5000);
        assert_int_equal(vt_store_envelope_get(s, 1, &(struct vt_buf){0}, &d), VT_ENOENT);
        /* Buffered only: nothing reached the file, nothing stays. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_env(s, 1, 700, 1, &d), 0);
        vt_store_rollback(s);
        assert_int_equal(file_size(t.data, "envelopes.seg"), 5000);
        assert_int_equal(put_env(s, 0, 700, 1, &d), VT_EEXIST);
        assert_int_equal(file_size(t.data, "envelopes.seg"), 5000);
        /* The next transaction writes where the committed bytes end. */
        assert_int_equal(put_env(s, 1, 800, 2, &d), 0);
        assert_int_equal(env_committed_end(t.data), 5800);
        env_is(s, 0, 5000);
        env_is(s, 1, 800);
        vt_store_close(s);
        assert_segment_exact(t.data);
        scratch_free(&t);
}

/*
 * Crash recovery of the envelope segment: bytes past its committed end (a
 * crash between its sync and the COMMIT) are cut by the only writer's open,
 * left by readers; a file shorter than the committed end is refused.
 */
static void envelope_segment_recovery(void **state)
{
        static uint8_t junk[9000];
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        struct vt_buf b;
        char path[256], want[300];

        (void)state;
        scratch_make(&t);
        memset(junk, 0x5a, sizeof(junk));
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        vt_store_close(s);
        assert_int_equal(env_committed_end(t.data), file_size(t.data, "envelopes.seg"));
        append_file(t.data, "envelopes.seg", junk, sizeof(junk));
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(state_of(r), 1);
        vt_store_close(r);
        assert_int_equal(file_size(t.data, "envelopes.seg"),
                         env_committed_end(t.data) + (off_t)sizeof(junk));
        s = open_ok(t.data, 0);
        assert_segment_exact(t.data);
        assert_int_equal(state_of(s), 1);
        assert_int_equal(commit_gen(s, 2, &d), 0);
        vt_store_close(s);
        /* Lost committed bytes: writers refuse to open, a reader's get says so. */
        snprintf(path, sizeof(path), "%s/envelopes.seg", t.data);
        assert_int_equal(truncate(path, env_committed_end(t.data) - 10), 0);
        s = NULL;
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ECORRUPT);
        assert_null(s);
        snprintf(want, sizeof(want), "envelopes.seg' holds %lld bytes, but %lld are committed",
                 (long long)env_committed_end(t.data) - 10, (long long)env_committed_end(t.data));
        assert_non_null(strstr(d.msg, want));
        r = open_ok(t.data, VT_STORE_READONLY);
        vt_buf_init(&b);
        assert_int_equal(vt_store_envelope_get(r, GEN_ENV * 2 - 1, &b, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "envelopes.seg' ends at byte"));
        assert_int_equal(b.len, 0);
        vt_buf_release(&b);
        vt_store_close(r);
        /* A missing file is as short. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ECORRUPT);
        assert_non_null(strstr(d.msg, "envelopes.seg' holds 0 bytes"));
        scratch_free(&t);
}

/*
 * I/O errors in the envelope segment: its write when the buffer fills
 * mid-transaction (the put fails and poisons the transaction), its write at
 * commit, its sync; each leaves the committed state and a file cut back.
 * (The fault sweeps cover every other point: each generation has envelopes.)
 */
static void envelope_segment_faults(void **state)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        off_t end;
        int k;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        end = file_size(t.data, "envelopes.seg");
        /* The buffer's write mid-transaction. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_env(s, 100, 600000, 1, &d), 0);
        vt_store_fault_countdown(0);
        assert_int_equal(put_env(s, 101, 600000, 1, &d), VT_EIO);
        vt_store_fault_countdown(-1);
        assert_non_null(strstr(d.msg, "cannot write '"));
        assert_non_null(strstr(d.msg, "envelopes.seg': Input/output error"));
        assert_int_equal(vt_store_commit(s, &d), VT_ESTORE);
        assert_int_equal(state_of(s), 1);
        assert_int_equal(file_size(t.data, "envelopes.seg"), end);
        /* At commit: the write (k = 0), the entry segment's sync (1), its own sync (2). */
        for (k = 0; k < 3; k++) {
                assert_int_equal(vt_store_begin(s, &d), 0);
                assert_int_equal(put_gen(s, 2, &d), 0);
                vt_store_fault_countdown(k);
                assert_int_equal(vt_store_commit(s, &d), VT_EIO);
                vt_store_fault_countdown(-1);
                assert_non_null(strstr(d.msg, k == 1 ? "entries.seg'" : "envelopes.seg'"));
                assert_non_null(strstr(d.msg, k == 0 ? "cannot write '" : "cannot sync '"));
                assert_int_equal(state_of(s), 1);
                /* The rollback's cut failed too: the bytes stay, past the committed end. */
                assert_int_equal(env_committed_end(t.data), end);
        }
        assert_int_equal(commit_gen(s, 2, &d), 0);
        assert_int_equal(state_of(s), 2);
        vt_store_close(s);
        reopen_expect(t.data, 2);
        finish_exact(&t);
}

/*
 * Readers: a reader sees committed bodies only (its snapshot names none of
 * a transaction in flight, whose bytes may already be in the file), and a
 * reader that opened before the envelope segment existed finds it later.
 */
static void envelope_readers(void **state)
{
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        char path[256];

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_store_close(s);
        snprintf(path, sizeof(path), "%s/envelopes.seg", t.data);
        assert_int_equal(unlink(path), 0);
        r = open_ok(t.data, VT_STORE_READONLY);
        assert_int_equal(vt_store_envelope_get(r, 0, &(struct vt_buf){0}, &d), VT_ENOENT);
        s = open_ok(t.data, 0); /* makes the file */
        assert_int_equal(file_size(t.data, "envelopes.seg"), 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_env(s, 0, 700, 1, &d), 0);
        assert_int_equal(put_env(s, 1, (1 << 20) + 10, 1, &d), 0);
        assert_int_equal(file_size(t.data, "envelopes.seg"), 700 + (1 << 20) + 10);
        assert_int_equal(vt_store_envelope_get(r, 0, &(struct vt_buf){0}, &d), VT_ENOENT);
        assert_int_equal(vt_store_envelope_get(r, 1, &(struct vt_buf){0}, &d), VT_ENOENT);
        assert_int_equal(vt_store_commit(s, &d), 0);
        env_is(r, 0, 700);
        env_is(r, 1, (1 << 20) + 10);
        vt_store_close(s);
        vt_store_close(r);
        scratch_free(&t);
}

/*
 * make_v4(dir, n): a schema version 4 database (explicit SQL, as version 4
 * of sqlite.c made it) with envelopes 0..n-1 (every third one without
 * subjects, body sizes up to 200 KB) and subjects inserted out of order.
 */
static void make_v4(const char *dir, unsigned n)
{
        static uint8_t body[200000];
        sqlite3 *db = NULL;
        sqlite3_stmt *e = NULL, *b = NULL, *j = NULL;
        uint8_t ph[32], eh[32], subj[32];
        char path[256];
        unsigned i, k;
        FILE *f;

        assert_int_equal(mkdir(dir, 0700), 0);
        db_path(dir, path, sizeof(path));
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(
                db,
                "PRAGMA journal_mode=WAL;"
                "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
                "CREATE TABLE bundles(n INTEGER PRIMARY KEY, width INTEGER NOT NULL,"
                " off INTEGER NOT NULL, len INTEGER NOT NULL);"
                "CREATE TABLE tiles(level INTEGER NOT NULL, n INTEGER NOT NULL,"
                " width INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(level, n)) WITHOUT ROWID;"
                "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note BLOB NOT NULL);"
                "CREATE TABLE tokens(name TEXT PRIMARY KEY NOT NULL, hash BLOB NOT NULL,"
                " admin INTEGER NOT NULL, revoked INTEGER NOT NULL, created INTEGER NOT NULL);"
                "CREATE TABLE segment(id INTEGER PRIMARY KEY CHECK (id = 0),"
                " committed INTEGER NOT NULL);"
                "CREATE TABLE envelope_bodies(idx INTEGER PRIMARY KEY, envelope BLOB NOT NULL);"
                "CREATE TABLE envelopes(idx INTEGER PRIMARY KEY, payload_sha256 BLOB NOT NULL,"
                " entry_hash BLOB NOT NULL);"
                "CREATE TABLE subjects(idx INTEGER NOT NULL, digest BLOB NOT NULL,"
                " PRIMARY KEY(idx, digest)) WITHOUT ROWID;"
                "INSERT INTO segment(id, committed) VALUES(0, 0);"
                "INSERT INTO meta VALUES('gen', 'old');"
                "PRAGMA application_id=1450471985; PRAGMA user_version=4;",
                NULL, NULL, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db, "INSERT INTO envelopes VALUES(?1, ?2, ?3)", -1, &e, NULL),
            SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db, "INSERT INTO envelope_bodies VALUES(?1, ?2)", -1, &b, NULL),
            SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db, "INSERT INTO subjects VALUES(?1, ?2)", -1, &j, NULL), SQLITE_OK);
        for (i = 0; i < n; i++) {
                size_t len = i % 50 == 7 ? 200000 : 300 + i % 1200;
                memset(ph, 0x33, 32);
                memcpy(ph, &(uint64_t){i}, 8);
                memset(eh, 0x44, 32);
                memcpy(eh, &(uint64_t){i}, 8);
                env_body(i, body, len);
                sqlite3_bind_int(e, 1, (int)i);
                sqlite3_bind_blob(e, 2, ph, 32, SQLITE_TRANSIENT);
                sqlite3_bind_blob(e, 3, eh, 32, SQLITE_TRANSIENT);
                assert_int_equal(sqlite3_step(e), SQLITE_DONE);
                sqlite3_reset(e);
                sqlite3_bind_int(b, 1, (int)i);
                sqlite3_bind_blob(b, 2, body, (int)len, SQLITE_TRANSIENT);
                assert_int_equal(sqlite3_step(b), SQLITE_DONE);
                sqlite3_reset(b);
                /* Subjects k = 2, 1, 0 (digest first byte k): the table orders them. */
                for (k = i % 3; k > 0; k--) {
                        memset(subj, (int)(i * 16 + k - 1), 32);
                        subj[0] = (uint8_t)(k - 1);
                        sqlite3_bind_int(j, 1, (int)i);
                        sqlite3_bind_blob(j, 2, subj, 32, SQLITE_TRANSIENT);
                        assert_int_equal(sqlite3_step(j), SQLITE_DONE);
                        sqlite3_reset(j);
                }
        }
        sqlite3_finalize(e);
        sqlite3_finalize(b);
        sqlite3_finalize(j);
        assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        /* Version 4's entry segment, empty. */
        snprintf(path, sizeof(path), "%s/entries.seg", dir);
        assert_non_null(f = fopen(path, "w"));
        fclose(f);
}

struct v4_check {
        uint64_t n, bad, last, k;
};

static int v4_subject_fn(void *ctx, uint64_t index, const uint8_t digest[32], struct vt_diag *d)
{
        struct v4_check *c = ctx;
        uint8_t want[32];

        (void)d;
        c->k = c->n > 0 && index == c->last ? c->k + 1 : 0;
        c->last = index;
        memset(want, (int)(index * 16 + c->k), 32);
        want[0] = (uint8_t)c->k;
        if (c->k >= index % 3 || memcmp(want, digest, 32) != 0)
                c->bad++;
        c->n++;
        return 0;
}

/* assert_v4_rows(s, n): the rows make_v4(n) wrote, through the store's reads. */
static void assert_v4_rows(struct vt_store *s, unsigned n)
{
        struct v4_check c = {0};
        struct vt_diag d = {{0}};
        uint8_t p[32], e[32], subj[32];
        uint64_t want = 0;
        unsigned i;

        for (i = 0; i < n; i++) {
                env_is(s, i, i % 50 == 7 ? 200000 : 300 + i % 1200);
                assert_int_equal(vt_store_envelope_keys(s, i, p, e, &d), 0);
                assert_memory_equal(p, &(uint64_t){i}, 8);
                assert_int_equal(p[31], 0x33);
                assert_int_equal(e[31], 0x44);
                want += i % 3;
                memset(subj, (int)(i * 16), 32);
                subj[0] = 0;
                assert_int_equal(vt_store_subject_has(s, subj, i, &d), i % 3 ? 0 : VT_ENOENT);
        }
        assert_int_equal(vt_store_envelope_get(s, n, &(struct vt_buf){0}, &d), VT_ENOENT);
        assert_int_equal(vt_store_subject_scan(s, 0, v4_subject_fn, &c, &d), 0);
        assert_int_equal(c.n, want);
        assert_int_equal(c.bad, 0);
}

/*
 * Version 4 to 5: a reader reads version 4's tables as they are; the first
 * writer moves every body to envelopes.seg and packs the subjects, in one
 * transaction; under failing I/O, all or nothing (the next open finds
 * version 4 intact and migrates again).
 */
static void upgrade_schema_4(void **state)
{
        const unsigned n = 400;
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        off_t total = 0;
        char res[128];
        unsigned i;
        int k, err, done;

        (void)state;
        for (i = 0; i < n; i++)
                total += i % 50 == 7 ? 200000 : 300 + i % 1200;
        scratch_make(&t);
        make_v4(t.data, n);
        s = open_ok(t.data, VT_STORE_READONLY);
        assert_v4_rows(s, n);
        vt_store_close(s);
        assert_int_equal(file_size(t.data, "envelopes.seg"), -1);
        s = open_ok(t.data, 0);
        sql_text(t.data, "PRAGMA user_version", res, sizeof(res));
        assert_string_equal(res, "5");
        sql_text(t.data,
                 "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema"
                 " WHERE type = 'table' ORDER BY name)",
                 res, sizeof(res));
        assert_string_equal(res, "bundles,checkpoints,envelopes,meta,segment,tiles,tokens");
        assert_int_equal(file_size(t.data, "envelopes.seg"), total);
        assert_int_equal(env_committed_end(t.data), total);
        assert_v4_rows(s, n);
        /* The service goes on from there. */
        assert_int_equal(put_env(s, n, 700, 2, &d), 0);
        env_is(s, n, 700);
        vt_store_close(s);
        s = open_ok(t.data, VT_STORE_READONLY);
        for (i = 0; i < n; i += 7)
                env_is(s, i, i % 50 == 7 ? 200000 : 300 + i % 1200);
        env_is(s, n, 700);
        vt_store_close(s);
        finish_exact(&t);
        /* Under failing I/O: all or nothing. */
        for (k = 0, done = 0; !done; k++) {
                assert_true(k < 500);
                scratch_make(&t);
                make_v4(t.data, 60);
                s = NULL;
                vt_store_fault_countdown(k);
                err = vt_store_open(t.data, 0, &s, &d);
                vt_store_fault_countdown(-1);
                done = err == 0;
                if (err == 0)
                        vt_store_close(s);
                else
                        assert_true(err == VT_EIO || err == VT_ESTORE);
                sql_text(t.data, "PRAGMA user_version", res, sizeof(res));
                assert_true(strcmp(res, "4") == 0 || strcmp(res, "5") == 0);
                if (strcmp(res, "4") == 0) {
                        s = open_ok(t.data, VT_STORE_READONLY);
                        assert_v4_rows(s, 60);
                        vt_store_close(s);
                }
                s = open_ok(t.data, 0);
                assert_v4_rows(s, 60);
                vt_store_close(s);
                finish_exact(&t);
        }
        assert_true(k > 3);
}

/* A subject or a body without its envelope row stops the upgrade: nothing is dropped. */
static void upgrade_schema_4_refuses_orphans(void **state)
{
        struct scratch t;
        struct vt_store *s = NULL;
        struct vt_diag d = {{0}};
        char res[64];
        int round;
        static const char *const why[3] = {"a subject of entry 50 has no envelope",
                                           "1 envelope bodies have no envelope",
                                           "a subject of entry 5 has no envelope"};

        (void)state;
        for (round = 0; round < 3; round++) {
                scratch_make(&t);
                make_v4(t.data, 10);
                if (round == 0) {
                        sql_text(t.data, "INSERT INTO subjects VALUES(50, zeroblob(32))", res,
                                 sizeof(res));
                } else if (round == 1) {
                        sql_text(t.data, "INSERT INTO envelope_bodies VALUES(50, 'x')", res,
                                 sizeof(res));
                } else {
                        /* Between two envelopes: entry 5 had two subjects. */
                        sql_text(t.data, "DELETE FROM envelopes WHERE idx = 5", res, sizeof(res));
                        sql_text(t.data, "DELETE FROM envelope_bodies WHERE idx = 5", res,
                                 sizeof(res));
                }
                assert_int_equal(vt_store_open(t.data, 0, &s, &d), VT_ECORRUPT);
                assert_null(s);
                assert_non_null(strstr(d.msg, why[round]));
                sql_text(t.data, "PRAGMA user_version", res, sizeof(res));
                assert_string_equal(res, "4");
                scratch_free(&t);
        }
}

/* ---- parallel segment syncs ---- */

/*
 * A commit that wrote both segments syncs them at once, the envelope
 * segment's on a helper thread of the writer's (sqlite.c, sq_segments_sync),
 * started at the first such commit and joined at close. The tests below see
 * the thread in /proc/self/task, and make real syncs fail by putting a pipe
 * (fdatasync refuses it) in place of a segment's descriptor.
 */

/* task_count(): the threads of this process. */
static int task_count(void)
{
        struct dirent *e;
        DIR *dir;
        int n = 0;

        assert_non_null(dir = opendir("/proc/self/task"));
        while ((e = readdir(dir)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(dir);
        return n;
}

/* seg_fd(dir, name): the one descriptor of this process open on dir/name. */
static int seg_fd(const char *dir, const char *name)
{
        char want[256], link[300], got[256];
        struct dirent *e;
        DIR *fds;
        ssize_t n;
        int fd = -1, found = 0;

        snprintf(want, sizeof(want), "%s/%s", dir, name);
        assert_non_null(fds = opendir("/proc/self/fd"));
        while ((e = readdir(fds)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
                if ((n = readlink(link, got, sizeof(got) - 1)) <= 0)
                        continue;
                got[n] = '\0';
                if (strcmp(got, want) == 0) {
                        fd = atoi(e->d_name);
                        found++;
                }
        }
        closedir(fds);
        assert_int_equal(found, 1);
        return fd;
}

/*
 * put_both(s, g, d): a transaction's puts that write both segments with
 * nothing left for the commit to write: generation g's (put_gen), then
 * envelope 1000 + g of 1 MiB without subjects, which fills the store's
 * buffer: the buffered envelopes go to the envelope segment at once.
 */
static int put_both(struct vt_store *s, unsigned g, struct vt_diag *d)
{
        int err;

        if ((err = put_gen(s, g, d)) != 0)
                return err;
        return put_env(s, 1000 + g, (size_t)1 << 20, 0, d);
}

/*
 * An injected I/O error on the entry segment's sync (the commit's second
 * I/O call, after the buffered envelope bodies' write) and on the envelope
 * segment's (the third), in a transaction that wrote both: each fails the
 * commit with the file named, and leaves the previous commit, for this
 * connection and a reader, with both committed ends where they were; the
 * helper stays, and the connection commits through it afterwards.
 */
static void parallel_sync_injected_faults(void **state)
{
        static const char *const file[] = {"entries.seg'", "envelopes.seg'"};
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        off_t end, eend;
        int base = task_count(), k;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(task_count(), base);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        assert_int_equal(task_count(), base + 1); /* the helper */
        r = open_ok(t.data, VT_STORE_READONLY);
        end = committed_end(t.data);
        eend = env_committed_end(t.data);
        for (k = 1; k <= 2; k++) {
                assert_int_equal(vt_store_begin(s, &d), 0);
                assert_int_equal(put_gen(s, 2, &d), 0);
                vt_store_fault_countdown(k);
                assert_int_equal(vt_store_commit(s, &d), VT_EIO);
                vt_store_fault_countdown(-1);
                assert_non_null(strstr(d.msg, t.data));
                assert_non_null(strstr(d.msg, "cannot sync '"));
                assert_non_null(strstr(d.msg, file[k - 1]));
                assert_non_null(strstr(d.msg, "(injected)"));
                assert_int_equal(committed_end(t.data), end);
                assert_int_equal(env_committed_end(t.data), eend);
                assert_int_equal(state_of(s), 1);
                assert_int_equal(state_of(r), 1);
                assert_int_equal(task_count(), base + 1);
        }
        assert_int_equal(commit_gen(s, 2, &d), 0);
        assert_int_equal(state_of(s), 2);
        assert_int_equal(state_of(r), 2);
        assert_int_equal(commit_gen(s, 3, &d), 0);
        assert_int_equal(state_of(r), 3);
        vt_store_close(r);
        vt_store_close(s);
        assert_int_equal(task_count(), base);
        reopen_expect(t.data, 3);
        finish_exact(&t);
}

/*
 * Real sync failures, on either side: the envelope segment's sync on the
 * helper thread, then the entry segment's on the committing thread, each
 * while the other succeeds. The commit fails with VT_EIO naming the file;
 * the rollback cuts the other file back to where the transaction began (the
 * failing one cannot be cut: its descriptor is the pipe); the store stays at the
 * previous commit and goes on after the descriptor is put back.
 */
static void parallel_sync_real_failures(void **state)
{
        static const char *const name[] = {"envelopes.seg", "entries.seg"};
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        char want[160];
        off_t end, eend, size, esize;
        int base = task_count(), p[2], fd, saved, round;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        assert_int_equal(task_count(), base + 1);
        assert_int_equal(pipe(p), 0);
        for (round = 0; round < 2; round++) {
                end = committed_end(t.data);
                eend = env_committed_end(t.data);
                size = file_size(t.data, "entries.seg");
                esize = file_size(t.data, "envelopes.seg");
                assert_int_equal(vt_store_begin(s, &d), 0);
                assert_int_equal(put_both(s, 2, &d), 0);
                assert_true(file_size(t.data, "entries.seg") > size);
                assert_true(file_size(t.data, "envelopes.seg") > esize);
                fd = seg_fd(t.data, name[round]);
                assert_true((saved = dup(fd)) >= 0);
                assert_int_equal(dup2(p[0], fd), fd);
                assert_int_equal(vt_store_commit(s, &d), VT_EIO);
                assert_int_equal(dup2(saved, fd), fd);
                close(saved);
                snprintf(want, sizeof(want), "cannot sync '%s/%s'", t.data, name[round]);
                if (strstr(d.msg, want) == NULL)
                        print_error("round %d: %s\n", round, d.msg);
                assert_non_null(strstr(d.msg, want));
                assert_int_equal(committed_end(t.data), end);
                assert_int_equal(env_committed_end(t.data), eend);
                /* The other file was cut; this one keeps its bytes, past its committed end. */
                if (round == 0)
                        assert_int_equal(file_size(t.data, "entries.seg"), size);
                else
                        assert_int_equal(file_size(t.data, "envelopes.seg"), esize);
                assert_int_equal(state_of(s), 1);
                assert_int_equal(vt_store_envelope_get(s, 1002, &(struct vt_buf){0}, &d),
                                 VT_ENOENT);
        }
        close(p[0]);
        close(p[1]);
        /* The same transaction again, now through two good syncs. */
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_both(s, 2, &d), 0);
        assert_int_equal(vt_store_commit(s, &d), 0);
        env_is(s, 1002, (size_t)1 << 20);
        assert_int_equal(state_of(s), 2);
        vt_store_close(s);
        assert_int_equal(task_count(), base);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 2);
        env_is(s, 1002, (size_t)1 << 20);
        vt_store_close(s);
        finish_exact(&t);
}

/*
 * Many commits through the helper, read as they go by a reader, then close
 * (the helper is joined) and reopen: every generation's rows and bytes.
 */
static void parallel_sync_many_commits(void **state)
{
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        int base = task_count(), g;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        r = open_ok(t.data, VT_STORE_READONLY);
        for (g = 1; g <= 200; g++) {
                if (commit_gen(s, (unsigned)g, &d) != 0)
                        fail_msg("generation %d: %s", g, d.msg);
                if (g % 50 == 0)
                        assert_int_equal(state_of(r), g);
        }
        assert_int_equal(task_count(), base + 1);
        vt_store_close(r);
        vt_store_close(s);
        assert_int_equal(task_count(), base);
        assert_segment_exact(t.data);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 200);
        assert_int_equal(commit_gen(s, 201, &d), 0);
        vt_store_close(s);
        reopen_expect(t.data, 201);
        finish_exact(&t);
}

/*
 * The helper starts only for a commit that wrote both segments: not at
 * open, not for commits of one segment or none, never for a reader; a
 * writer that never needed it closes cleanly.
 */
static void parallel_sync_helper_lazy(void **state)
{
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        size_t len;
        unsigned w;
        int base = task_count();

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_store_close(s);
        assert_int_equal(task_count(), base);
        s = open_ok(t.data, 0);
        r = open_ok(t.data, VT_STORE_READONLY);
        /* Rows only, entries only (autocommit and a transaction), envelopes only. */
        assert_int_equal(vt_store_meta_put(s, "k", "v", 1, &d), 0);
        w = gen_bundle(1, 0, &len);
        assert_int_equal(vt_store_bundle_put(s, 0, w, gen_stream(), len, &d), 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        w = gen_bundle(2, 0, &len);
        assert_int_equal(vt_store_bundle_put(s, 0, w, gen_stream(), len, &d), 0);
        assert_int_equal(vt_store_commit(s, &d), 0);
        assert_int_equal(put_env(s, 1, 700, 1, &d), 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_env(s, 2, 700, 1, &d), 0);
        assert_int_equal(put_env(s, 3, 700, 0, &d), 0);
        assert_int_equal(vt_store_commit(s, &d), 0);
        env_is(r, 3, 700);
        assert_int_equal(task_count(), base);
        vt_store_close(r);
        vt_store_close(s);
        assert_int_equal(task_count(), base);
        /* A transaction that wrote both starts it; close joins it. */
        s = open_ok(t.data, 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_both(s, 3, &d), 0);
        assert_int_equal(vt_store_commit(s, &d), 0);
        assert_int_equal(task_count(), base + 1);
        vt_store_close(s);
        assert_int_equal(task_count(), base);
        s = open_ok(t.data, 0);
        env_is(s, 1003, (size_t)1 << 20);
        env_is(s, 2, 700);
        vt_store_close(s);
        finish_exact(&t);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(open_missing_is_enoent),
            cmocka_unit_test(create_makes_dir_and_schema),
            cmocka_unit_test(open_refuses_bad_arguments),
            cmocka_unit_test(foreign_databases_refused),
            cmocka_unit_test(meta_round_trip),
            cmocka_unit_test(bundle_round_trip),
            cmocka_unit_test(bundle_contract),
            cmocka_unit_test(tile_round_trip),
            cmocka_unit_test(tile_corruption_detected),
            cmocka_unit_test(bundle_corruption_detected),
            cmocka_unit_test(checkpoint_round_trip),
            cmocka_unit_test(rollback_discards),
            cmocka_unit_test(close_without_commit_discards),
            cmocka_unit_test(transaction_state_errors),
            cmocka_unit_test(readonly_refuses_writes),
            cmocka_unit_test(second_writer_is_busy),
            cmocka_unit_test(wal_flush_and_bound),
            cmocka_unit_test(wal_background_checkpoint),
            cmocka_unit_test(failed_put_poisons_transaction),
            cmocka_unit_test(fault_sweep_then_reopen),
            cmocka_unit_test(fault_sweep_crash_recovery),
            cmocka_unit_test(fault_sweep_then_continue),
            cmocka_unit_test(fault_sweep_then_scribble_and_crash),
            cmocka_unit_test(fault_sweep_then_second_writer_and_crash),
            cmocka_unit_test(fault_sweep_then_reader_second_writer_and_crash),
            cmocka_unit_test(fault_during_create),
            cmocka_unit_test(env_countdown_at_first_open),
            cmocka_unit_test(kill_mid_transaction),
            cmocka_unit_test(kill_between_commits),
            cmocka_unit_test(garbage_past_end_cut_on_open),
            cmocka_unit_test(rollback_cuts_segment),
            cmocka_unit_test(upgrade_old_schemas),
            cmocka_unit_test(service_tables),
            cmocka_unit_test(envelope_round_trip),
            cmocka_unit_test(envelope_rollback_cuts_segment),
            cmocka_unit_test(envelope_segment_recovery),
            cmocka_unit_test(envelope_segment_faults),
            cmocka_unit_test(envelope_readers),
            cmocka_unit_test(upgrade_schema_4),
            cmocka_unit_test(upgrade_schema_4_refuses_orphans),
            cmocka_unit_test(parallel_sync_injected_faults),
            cmocka_unit_test(parallel_sync_real_failures),
            cmocka_unit_test(parallel_sync_many_commits),
            cmocka_unit_test(parallel_sync_helper_lazy),
        };
        const char *child = getenv("VT_TEST_STORE_CHILD");

        if (child != NULL)
                return child_env_countdown(child);
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
