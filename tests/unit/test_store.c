/*
 * test_store.c: the store module (store.h) on its SQLite back end.
 *
 * Round trips and refusals for every kind of row; transaction atomicity
 * (rollback, close without commit, a failed put poisoning its transaction);
 * read-only and busy connections; foreign and newer databases; and the
 * crash tests: I/O errors injected at every write/sync of a transaction
 * (faultvfs.c), and child processes killed with SIGKILL in the middle of a
 * transaction and between commits. After each, the reopened store must hold
 * exactly the old committed state or exactly the new one and pass SQLite's
 * integrity check.
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

extern char **environ;

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
        assert_string_equal(res, "65536");
        /* Schema version 2: version 1 plus the service tables. */
        sql_text(nested, "PRAGMA user_version", res, sizeof(res));
        assert_string_equal(res, "2");
        sql_text(nested, "PRAGMA application_id", res, sizeof(res));
        assert_string_equal(res, "1450471985"); /* 0x56747231, "Vtr1" */
        sql_text(nested,
                 "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema"
                 " WHERE type = 'table' AND name IN ('meta', 'bundles', 'tiles',"
                 " 'checkpoints') ORDER BY name)",
                 res, sizeof(res));
        assert_string_equal(res, "bundles,checkpoints,meta,tiles");
        /* Tiles are one b-tree (WITHOUT ROWID); bundles and checkpoints are keyed by rowid. */
        sql_text(nested, "SELECT sql FROM sqlite_schema WHERE name = 'tiles'", res, sizeof(res));
        assert_non_null(strstr(res, "WITHOUT ROWID"));

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
        struct vt_store *s;
        struct vt_buf b;
        struct vt_diag d = {{0}};
        unsigned w = 999;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        vt_buf_init(&b);
        fill(want, sizeof(want), 1);
        /* A partial bundle, then the full one replacing it. */
        assert_int_equal(vt_store_bundle_put(s, 7, 3, want, 3000, &d), 0);
        assert_int_equal(vt_store_bundle_get(s, 7, &w, &b, &d), 0);
        assert_int_equal(w, 3);
        assert_int_equal(b.len, 3000);
        assert_memory_equal(b.p, want, 3000);
        fill(big, sizeof(big), 2);
        assert_int_equal(vt_store_bundle_put(s, 7, 256, big, sizeof(big), &d), 0);
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, 7, &w, &b, &d), 0);
        assert_int_equal(w, 256);
        assert_int_equal(b.len, sizeof(big));
        assert_memory_equal(b.p, big, sizeof(big));
        /* Large indexes, up to INT64_MAX. */
        assert_int_equal(vt_store_bundle_put(s, (uint64_t)INT64_MAX, 1, want, 1, &d), 0);
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, (uint64_t)INT64_MAX, &w, &b, &d), 0);
        assert_int_equal(w, 1);
        assert_int_equal(b.len, 1);
        /* Missing: VT_ENOENT, outputs untouched. */
        w = 999;
        b.len = 0;
        assert_int_equal(vt_store_bundle_get(s, 8, &w, &b, &d), VT_ENOENT);
        assert_int_equal(w, 999);
        assert_int_equal(b.len, 0);
        assert_non_null(strstr(d.msg, "no entry bundle 8"));
        /* Refusals. */
        assert_int_equal(vt_store_bundle_put(s, 1, 0, want, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 257, want, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, want, 0, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, NULL, 10, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_put(s, 1, 1, want, (size_t)VT_STORE_BUNDLE_MAX + 1, &d),
                         VT_ETOOBIG);
        assert_int_equal(vt_store_bundle_put(s, (uint64_t)INT64_MAX + 1, 1, want, 1, &d),
                         VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, (uint64_t)INT64_MAX + 1, &w, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, 7, NULL, &b, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, 7, &w, NULL, &d), VT_EINVAL);
        assert_int_equal(vt_store_bundle_get(s, 1, &w, &b, &d), VT_ENOENT);
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
 * A "generation" g of a small log state, written in one transaction: meta
 * gen, bundle 0 (width g, 256 KiB of bytes derived from g), tile 0/0 (width
 * g), checkpoint g. state_of() says which generation a store holds, or -1
 * if its rows disagree (a partial transaction).
 */
#define GEN_BUNDLE (256 * 1024)

static int put_gen(struct vt_store *s, unsigned g, struct vt_diag *d)
{
        static uint8_t bundle[GEN_BUNDLE], tile[256 * 32];
        char v[16];
        int err;

        snprintf(v, sizeof(v), "%u", g);
        fill(bundle, sizeof(bundle), g);
        fill(tile, sizeof(tile), g + 1000);
        if ((err = vt_store_meta_put(s, "gen", v, strlen(v), d)) != 0 ||
            (err = vt_store_bundle_put(s, 0, g, bundle, sizeof(bundle), d)) != 0 ||
            (err = vt_store_tile_put(s, 0, 0, g, tile, (size_t)g * 32, d)) != 0 ||
            (err = vt_store_checkpoint_put(s, g, (const uint8_t *)v, strlen(v), d)) != 0)
                return err;
        return 0;
}

static int commit_gen(struct vt_store *s, unsigned g, struct vt_diag *d)
{
        int err;

        if ((err = vt_store_begin(s, d)) != 0)
                return err;
        if ((err = put_gen(s, g, d)) != 0) {
                vt_store_rollback(s);
                return err;
        }
        return vt_store_commit(s, d);
}

/* state_of(s): the generation s holds, 0 for none at all, -1 for a mix. */
static int state_of(struct vt_store *s)
{
        static uint8_t want[GEN_BUNDLE], tile[256 * 32];
        struct vt_buf b;
        struct vt_diag d = {{0}};
        unsigned w = 0;
        uint64_t size = 0, g;
        int err, r = -1;

        vt_buf_init(&b);
        err = vt_store_meta_get(s, "gen", &b, &d);
        if (err == VT_ENOENT) {
                /* Nothing at all, or a mix. */
                r = vt_store_bundle_get(s, 0, &w, &b, &d) == VT_ENOENT &&
                            vt_store_tile_get(s, 0, 0, &w, &b, &d) == VT_ENOENT &&
                            vt_store_checkpoint_latest(s, &size, &b, &d) == VT_ENOENT
                        ? 0
                        : -1;
                goto done;
        }
        if (err != 0 || vt_util_parse_u64((const char *)b.p, b.len, &g) != 0 || g == 0 || g > 256)
                goto done;
        b.len = 0;
        fill(want, sizeof(want), (unsigned)g);
        fill(tile, sizeof(tile), (unsigned)g + 1000);
        if (vt_store_bundle_get(s, 0, &w, &b, &d) != 0 || w != g || b.len != GEN_BUNDLE ||
            memcmp(b.p, want, GEN_BUNDLE) != 0)
                goto done;
        b.len = 0;
        if (vt_store_tile_get(s, 0, 0, &w, &b, &d) != 0 || w != g || b.len != g * 32 ||
            memcmp(b.p, tile, b.len) != 0)
                goto done;
        b.len = 0;
        if (vt_store_checkpoint_latest(s, &size, &b, &d) != 0 || size != g)
                goto done;
        r = (int)g;
done:
        vt_buf_release(&b);
        return r;
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
        assert_int_equal(commit_gen(s, 3, &d), 0);
        assert_int_equal(state_of(s), 3);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 3);
        vt_store_close(s);
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
        assert_int_equal(commit_gen(s, 2, &d), 0);
        assert_int_equal(vt_store_begin(s, &d), 0);
        assert_int_equal(put_gen(s, 3, &d), 0);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 2);
        vt_store_close(s);
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

static off_t file_size(const char *dir, const char *name)
{
        char path[256];
        struct stat sb;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void wal_flush_and_bound(void **state)
{
        static uint8_t bundle[GEN_BUNDLE];
        struct scratch t;
        struct vt_store *s, *r;
        struct vt_diag d = {{0}};
        char copy[160], from[256], to[256], cmd[600];
        uint64_t n;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        /* Committed data lives in the WAL until a checkpoint. */
        assert_true(file_size(t.data, "veritrail.db-wal") > GEN_BUNDLE);
        assert_int_equal(vt_store_wal_flush(s, &d), 0);
        /* Now the database file alone holds it: a copy without the WAL reads generation 1. */
        snprintf(copy, sizeof(copy), "%s/copy", t.root);
        assert_int_equal(mkdir(copy, 0700), 0);
        db_path(t.data, from, sizeof(from));
        db_path(copy, to, sizeof(to));
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
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
        /* Automatic checkpoints keep the WAL bounded: 40 MiB committed, the WAL stays small. */
        fill(bundle, sizeof(bundle), 3);
        for (n = 1; n <= 160; n += 8) {
                uint64_t i;
                assert_int_equal(vt_store_begin(s, &d), 0);
                for (i = n; i < n + 8; i++)
                        assert_int_equal(vt_store_bundle_put(s, i, 256, bundle, sizeof(bundle), &d),
                                         0);
                assert_int_equal(vt_store_commit(s, &d), 0);
        }
        assert_true(file_size(t.data, "veritrail.db-wal") < (off_t)24 << 20);
        assert_true(file_size(t.data, "veritrail.db") > (off_t)30 << 20);
        assert_int_equal(state_of(s), 1);
        vt_store_close(s);
        assert_integrity(t.data);
        scratch_free(&t);
}

/* ---- fault injection ---- */

static void failed_put_poisons_transaction(void **state)
{
        static uint8_t bundle[GEN_BUNDLE];
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        uint64_t n;
        int err = 0;

        (void)state;
        scratch_make(&t);
        s = open_ok(t.data, VT_STORE_CREATE);
        assert_int_equal(commit_gen(s, 1, &d), 0);
        fill(bundle, sizeof(bundle), 9);
        assert_int_equal(vt_store_begin(s, &d), 0);
        vt_store_fault_countdown(0);
        /* Enough data to overflow the page cache, so a put itself must write. */
        for (n = 1; n < 400 && err == 0; n++)
                err = vt_store_bundle_put(s, n, 256, bundle, sizeof(bundle), &d);
        assert_int_equal(err, VT_EIO);
        assert_non_null(strstr(d.msg, "disk I/O error"));
        vt_store_fault_countdown(-1);
        /* The transaction is gone: nothing more may land, in it or alone. */
        assert_int_equal(vt_store_meta_put(s, "late", "x", 1, &d), VT_ESTORE);
        assert_non_null(strstr(d.msg, "rolled back after an earlier error"));
        assert_int_equal(vt_store_commit(s, &d), VT_ESTORE);
        assert_int_equal(state_of(s), 1);
        /* The connection is usable again afterwards. */
        assert_int_equal(commit_gen(s, 2, &d), 0);
        vt_store_close(s);
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 2);
        {
                struct vt_buf b;
                unsigned w;
                vt_buf_init(&b);
                assert_int_equal(vt_store_meta_get(s, "late", &b, &d), VT_ENOENT);
                assert_int_equal(vt_store_bundle_get(s, 1, &w, &b, &d), VT_ENOENT);
                vt_buf_release(&b);
        }
        vt_store_close(s);
        assert_integrity(t.data);
        scratch_free(&t);
}

/*
 * fault_sweep(close_while_failing): for k = 0, 1, 2, ...: commit generation 1,
 * then fail the k-th write/sync of the transaction that writes generation 2
 * (and every one after it). Then reopen: the store holds 1 or 2, never a mix;
 * 2 whenever commit said so; the file passes the integrity check. Stops at
 * the first k where the commit succeeds. With close_while_failing the store
 * is closed before injection stops, so the closing checkpoint fails too and
 * the next open must recover from the WAL, as after a crash.
 */
static void fault_sweep(int close_while_failing)
{
        struct scratch t;
        struct vt_store *s;
        struct vt_diag d = {{0}};
        int k, err, got, committed = 0, saw_new_after_error = 0;

        for (k = 0; !committed; k++) {
                assert_true(k < 2000);
                scratch_make(&t);
                vt_store_fault_countdown(-1);
                s = open_ok(t.data, VT_STORE_CREATE);
                assert_int_equal(commit_gen(s, 1, &d), 0);

                vt_store_fault_countdown(k);
                err = commit_gen(s, 2, &d);
                committed = err == 0;
                if (err != 0) {
                        assert_true(err == VT_EIO || err == VT_ESTORE);
                        assert_non_null(strstr(d.msg, t.data));
                }
                if (!close_while_failing)
                        vt_store_fault_countdown(-1);
                vt_store_close(s);
                vt_store_fault_countdown(-1);

                s = open_ok(t.data, 0);
                got = state_of(s);
                vt_store_close(s);
                if (got != 1 && got != 2)
                        print_error("k=%d: state %d after %s\n", k, got, d.msg);
                assert_true(got == 1 || got == 2);
                if (committed)
                        assert_int_equal(got, 2);
                else if (got == 2)
                        saw_new_after_error++;
                assert_integrity(t.data);
                scratch_free(&t);
        }
        print_message("fault sweep: %d injection points, %d failed commits later found "
                      "committed (sync failed after the commit frame was written)\n",
                      k - 1, saw_new_after_error);
        /* A transaction of several pages takes several writes and a sync. */
        assert_true(k > 3);
}

static void fault_sweep_then_reopen(void **state)
{
        (void)state;
        fault_sweep(0);
}

static void fault_sweep_crash_recovery(void **state)
{
        (void)state;
        fault_sweep(1);
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
        static uint8_t bundle[GEN_BUNDLE];
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
                uint64_t n;
                close(fds[0]);
                if (vt_store_open(t.data, 0, &s, &d) != 0 || vt_store_begin(s, &d) != 0 ||
                    put_gen(s, 2, &d) != 0)
                        _exit(1);
                /* More than the page cache holds: uncommitted pages reach the WAL. */
                fill(bundle, sizeof(bundle), 7);
                for (n = 1; n < 120; n++)
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
        s = open_ok(t.data, 0);
        assert_int_equal(state_of(s), 1);
        vt_store_close(s);
        assert_integrity(t.data);
        scratch_free(&t);
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

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(open_missing_is_enoent),
            cmocka_unit_test(create_makes_dir_and_schema),
            cmocka_unit_test(open_refuses_bad_arguments),
            cmocka_unit_test(foreign_databases_refused),
            cmocka_unit_test(meta_round_trip),
            cmocka_unit_test(bundle_round_trip),
            cmocka_unit_test(tile_round_trip),
            cmocka_unit_test(tile_corruption_detected),
            cmocka_unit_test(checkpoint_round_trip),
            cmocka_unit_test(rollback_discards),
            cmocka_unit_test(close_without_commit_discards),
            cmocka_unit_test(transaction_state_errors),
            cmocka_unit_test(readonly_refuses_writes),
            cmocka_unit_test(second_writer_is_busy),
            cmocka_unit_test(wal_flush_and_bound),
            cmocka_unit_test(failed_put_poisons_transaction),
            cmocka_unit_test(fault_sweep_then_reopen),
            cmocka_unit_test(fault_sweep_crash_recovery),
            cmocka_unit_test(fault_during_create),
            cmocka_unit_test(env_countdown_at_first_open),
            cmocka_unit_test(kill_mid_transaction),
            cmocka_unit_test(kill_between_commits),
        };
        const char *child = getenv("VT_TEST_STORE_CHILD");

        if (child != NULL)
                return child_env_countdown(child);
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
