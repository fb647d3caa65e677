/*
 * token.c: bearer tokens for the service's writers (service.h).
 *
 * A token is 32 random bytes (libsodium randombytes_buf) written as
 * base64url without padding: exactly VT_SERVICE_TOKEN_LEN (43) characters
 * of [A-Za-z0-9_-]. It is shown once, at creation; the store keeps only the
 * SHA-256 of its 43 characters (store.h "tokens"), with its name, whether it
 * may administer (replace the root) and whether it was revoked.
 *
 * A check hashes the presented token and compares the hash with EVERY
 * token's hash with vt_util_memeq(), so the time it takes depends on the
 * number of tokens, not on the presented bytes.
 *
 * The cache. A running service keeps the token table in memory, so a check
 * reads nothing from the store, and still sees a token created or revoked
 * by `veritrail token` in another process from the moment that command
 * returns. The data directory holds a change counter, the file
 * TOKENS_SEQ_FILE: one 64-bit integer at the start of one page, which the
 * service maps into memory and reads with one atomic load per check. A
 * token change (vt_service_token_create / _revoke), holding an exclusive
 * flock() on that file:
 *   1. makes the counter odd ("a change is under way"; already odd when an
 *      earlier change died half-way, which is then also still under way);
 *   2. commits its change to the store (one transaction);
 *   3. adds one: the counter is even again, and larger than ever.
 * A check:
 *   - counter even and equal to the one the cache was loaded under: the
 *     cache is the store's table (proof below), use it;
 *   - otherwise read the table from the store and use what it read; keep it
 *     as the cache when the counter was even and unchanged across the read.
 * Why it is exact: the cache is loaded only when the counter was even and
 * unchanged around the read, so no change was under way then, and the
 * table read is the store's at that moment. A change that commits later
 * made the counter odd before its commit and leaves it odd or larger after;
 * since the counter never repeats a value, a check that still sees the
 * cache's counter runs before that change began: answering from the cache
 * is answering before the change, which is allowed. A change that dies
 * between 1 and 3 leaves the counter odd: every check then reads the store
 * (slower, still exact) until the next change finishes.
 *
 * The counter file is only a hint about the store; two guards cover its
 * loss: the cache is also reloaded from the store at least every
 * TOKENS_TTL_NS (so a counter file deleted while serving, which the
 * service could no longer watch, costs at most that much staleness), and
 * at such a reload the service reopens the file when it was replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "service/service_int.h"

#define TOKENS_SEQ_FILE "tokens.seq"
#define TOKENS_SEQ_SIZE 4096
#define TOKENS_TTL_NS   (1000ull * 1000 * 1000) /* the cache is read again after 1 s */

/* The counter file of a data directory, open and mapped. */
struct tokens_seq {
        int fd;
        _Atomic uint64_t *seq; /* NULL when the file is not mapped */
        dev_t dev;
        ino_t ino;
};

struct vt_service_tokens {
        char *dir;
        struct tokens_seq f;
        pthread_mutex_t mu;
        struct vt_store *rs;        /* the cache's own reader connection, opened on first use */
        struct vt_store_token *tab; /* the cached table, ntab rows */
        size_t ntab;
        int valid;           /* tab is the store's table under counter cseq */
        uint64_t cseq;       /* the counter the cache was loaded under */
        uint64_t expires_ns; /* when it must be read again anyway (monotonic) */
};

/* Token names: 1..64 characters of [A-Za-z0-9._@-]. */
static int token_name_check(const char *name, struct vt_diag *d)
{
        size_t i, n = name != NULL ? strlen(name) : 0;

        if (n == 0 || n > 64) {
                vt_diag_set(d, "token name must have 1 to 64 characters");
                return VT_EINVAL;
        }
        for (i = 0; i < n; i++) {
                char c = name[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '@' || c == '-')) {
                        vt_diag_set(
                            d,
                            "token name '%.64s': character %zu is not one of A-Z a-z 0-9 . _ "
                            "@ -",
                            name, i + 1);
                        return VT_EINVAL;
                }
        }
        return 0;
}

/* ---- the counter file --------------------------------------------------------- */

/* Open (creating it if missing) and map dir's counter file into f. 0 or VT_EIO. */
static int seq_open(const char *dir, struct tokens_seq *f, struct vt_diag *d)
{
        char path[4096];
        struct stat st;
        void *p;
        int fd;

        f->fd = -1;
        f->seq = NULL;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, TOKENS_SEQ_FILE) >= sizeof(path)) {
                vt_diag_set(d, "'%s': path too long", dir);
                return VT_EINVAL;
        }
        if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
                vt_diag_set(d, "cannot open '%s': %s", path, strerror(errno));
                return VT_EIO;
        }
        /* A new file is all zeros once it has its size: counter 0, even. */
        if (fstat(fd, &st) != 0 ||
            (st.st_size < TOKENS_SEQ_SIZE && ftruncate(fd, TOKENS_SEQ_SIZE) != 0)) {
                vt_diag_set(d, "cannot size '%s': %s", path, strerror(errno));
                close(fd);
                return VT_EIO;
        }
        p = mmap(NULL, TOKENS_SEQ_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                vt_diag_set(d, "cannot map '%s': %s", path, strerror(errno));
                close(fd);
                return VT_EIO;
        }
        f->fd = fd;
        f->seq = p;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        return 0;
}

static void seq_close(struct tokens_seq *f)
{
        if (f->seq != NULL)
                munmap((void *)f->seq, TOKENS_SEQ_SIZE);
        if (f->fd >= 0)
                close(f->fd);
        f->seq = NULL;
        f->fd = -1;
}

/* Was the file f maps removed or replaced since it was opened? */
static int seq_replaced(const char *dir, const struct tokens_seq *f)
{
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, TOKENS_SEQ_FILE);
        return stat(path, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino;
}

/*
 * token_change(dir, s, t, name, d): one token change (t to add, or the
 * token name to revoke when t is NULL) by the protocol
 * at the top: lock the counter, make it odd, commit, make it even.
 */
static int token_change(const char *dir, struct vt_store *s, const struct vt_store_token *t,
                        const char *name, struct vt_diag *d)
{
        struct tokens_seq f;
        uint64_t v;
        int err;

        if ((err = seq_open(dir, &f, d)) != 0)
                return err;
        if (flock(f.fd, LOCK_EX) != 0) {
                vt_diag_set(d, "cannot lock '%s/%s': %s", dir, TOKENS_SEQ_FILE, strerror(errno));
                seq_close(&f);
                return VT_EIO;
        }
        v = atomic_load(f.seq);
        if ((v & 1) == 0)
                atomic_store(f.seq, v + 1); /* under way */
        err = t != NULL ? vt_store_token_put(s, t, d) : vt_store_token_revoke(s, name, d);
        /* Even again, whatever happened: a cache reloads and sees the store as it is. */
        atomic_fetch_add(f.seq, 1);
        flock(f.fd, LOCK_UN);
        seq_close(&f);
        return err;
}

/* see service.h */
int vt_service_token_create(const char *dir, const char *name, int admin,
                            char token[VT_SERVICE_TOKEN_LEN + 1], struct vt_diag *d)
{
        struct vt_store *s = NULL;
        struct vt_store_token t;
        uint8_t raw[32];
        char text[VT_SERVICE_TOKEN_LEN + 1];
        struct vt_hash h;
        int err;

        if ((err = token_name_check(name, d)) != 0)
                return err;
        if (sodium_init() < 0) {
                vt_diag_set(d, "cannot initialise libsodium");
                return VT_EINTERNAL;
        }
        randombytes_buf(raw, sizeof(raw));
        /* 32 bytes are 43 characters of unpadded base64url, plus the NUL. */
        sodium_bin2base64(text, sizeof(text), raw, sizeof(raw),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
        vt_crypto_sha256((const uint8_t *)text, VT_SERVICE_TOKEN_LEN, &h);
        memset(&t, 0, sizeof(t));
        memcpy(t.name, name, strlen(name));
        memcpy(t.hash, h.b, sizeof(t.hash));
        t.admin = admin ? 1 : 0;
        t.revoked = 0;
        t.created = vt_util_unix_time();
        /* The store first: it proves dir is a data directory. */
        if ((err = vt_store_open(dir, 0, &s, d)) != 0)
                goto out;
        if ((err = token_change(dir, s, &t, name, d)) == VT_EEXIST)
                vt_diag_set(d, "a token named '%s' already exists in '%s'", name, dir);
        if (err != 0)
                goto out;
        memcpy(token, text, sizeof(text));
out:
        sodium_memzero(text, sizeof(text));
        vt_store_close(s);
        return err;
}

/* see service.h */
int vt_service_token_revoke(const char *dir, const char *name, struct vt_diag *d)
{
        struct vt_store *s = NULL;
        int err;

        if ((err = token_name_check(name, d)) != 0)
                return err;
        if ((err = vt_store_open(dir, 0, &s, d)) != 0)
                return err;
        if ((err = token_change(dir, s, NULL, name, d)) == VT_ENOENT)
                vt_diag_set(d, "no token named '%s' in '%s'", name, dir);
        vt_store_close(s);
        return err;
}

/* see service.h */
int vt_service_token_list(const char *dir, struct vt_service_token **out, size_t *n,
                          struct vt_diag *d)
{
        struct vt_store *s = NULL;
        struct vt_store_token *rows = NULL;
        struct vt_service_token *v = NULL;
        size_t k = 0, i;
        int err;

        if ((err = vt_store_open(dir, VT_STORE_READONLY, &s, d)) != 0)
                return err;
        if ((err = vt_store_token_list(s, &rows, &k, d)) != 0)
                goto out;
        if (k > 0 && (v = calloc(k, sizeof(*v))) == NULL) {
                err = VT_ENOMEM;
                goto out;
        }
        for (i = 0; i < k; i++) {
                memcpy(v[i].name, rows[i].name, sizeof(v[i].name));
                v[i].admin = rows[i].admin;
                v[i].revoked = rows[i].revoked;
                v[i].created = rows[i].created;
        }
        *out = v;
        *n = k;
        v = NULL;
out:
        if (rows != NULL)
                sodium_memzero(rows, k * sizeof(*rows));
        free(rows);
        free(v);
        vt_store_close(s);
        return err;
}

/* ---- the cache ------------------------------------------------------------------ */

/* see service_int.h */
int vt_service_tokens_new(const char *dir, struct vt_service_tokens **out, struct vt_diag *d)
{
        struct vt_service_tokens *t = calloc(1, sizeof(*t));
        int err;

        if (t == NULL || (t->dir = malloc(strlen(dir) + 1)) == NULL) {
                free(t);
                return VT_ENOMEM;
        }
        memcpy(t->dir, dir, strlen(dir) + 1);
        if ((err = seq_open(dir, &t->f, d)) != 0) {
                free(t->dir);
                free(t);
                return err;
        }
        pthread_mutex_init(&t->mu, NULL);
        *out = t;
        return 0;
}

/* see service_int.h */
void vt_service_tokens_free(struct vt_service_tokens *t)
{
        if (t == NULL)
                return;
        seq_close(&t->f);
        vt_store_close(t->rs);
        if (t->tab != NULL)
                sodium_memzero(t->tab, t->ntab * sizeof(*t->tab));
        free(t->tab);
        pthread_mutex_destroy(&t->mu);
        free(t->dir);
        free(t);
}

/* The cache's answer for h (mu held): every row compared, in constant time per row. */
static int tokens_match(const struct vt_store_token *tab, size_t n, const struct vt_hash *h,
                        char name[65], int *admin, struct vt_diag *d)
{
        size_t i, found = SIZE_MAX;
        int eq;

        for (i = 0; i < n; i++) {
                eq = vt_util_memeq(h->b, tab[i].hash, sizeof(h->b));
                if (eq && found == SIZE_MAX)
                        found = i;
        }
        if (found == SIZE_MAX) {
                vt_diag_set(d, "invalid token");
                return VT_EDENIED;
        }
        if (tab[found].revoked) {
                vt_diag_set(d, "token '%s' was revoked", tab[found].name);
                return VT_EDENIED;
        }
        memcpy(name, tab[found].name, sizeof(tab[found].name));
        *admin = tab[found].admin;
        return 0;
}

/*
 * tokens_load(t, d): read the table from the store into the cache (mu
 * held), valid when the counter was even and unchanged around the read.
 */
static int tokens_load(struct vt_service_tokens *t, struct vt_diag *d)
{
        struct vt_store_token *rows = NULL;
        uint64_t s1, s2, now = vt_util_now_ns();
        size_t n = 0;
        int err;

        t->valid = 0;
        /* A counter file removed or replaced: watch the one there now. */
        if (seq_replaced(t->dir, &t->f)) {
                struct tokens_seq nf;

                if (seq_open(t->dir, &nf, NULL) == 0) {
                        seq_close(&t->f);
                        t->f = nf;
                }
        }
        if (t->rs == NULL && (err = vt_store_open(t->dir, VT_STORE_READONLY, &t->rs, d)) != 0)
                return err;
        s1 = atomic_load(t->f.seq);
        if ((err = vt_store_token_list(t->rs, &rows, &n, d)) != 0)
                return err;
        s2 = atomic_load(t->f.seq);
        if (t->tab != NULL)
                sodium_memzero(t->tab, t->ntab * sizeof(*t->tab));
        free(t->tab);
        t->tab = rows;
        t->ntab = n;
        t->valid = (s1 & 1) == 0 && s1 == s2;
        t->cseq = s1;
        t->expires_ns = now + TOKENS_TTL_NS;
        return 0;
}

/* see service.h */
int vt_service_token_check(struct vt_service *s, const char *token, char name[65], int *admin,
                           struct vt_diag *d)
{
        struct vt_service_tokens *t = s->tokens;
        struct vt_hash h;
        size_t len;
        int err = 0;

        /* The shape is not secret: a wrong length or alphabet is refused at once. */
        len = token != NULL ? strnlen(token, VT_SERVICE_TOKEN_LEN + 1) : 0;
        if (len != VT_SERVICE_TOKEN_LEN) {
                vt_diag_set(d, "invalid token");
                return VT_EDENIED;
        }
        vt_crypto_sha256((const uint8_t *)token, len, &h);
        pthread_mutex_lock(&t->mu);
        /* Fresh when the counter is still the (even) one the cache was loaded under. */
        if (!(t->valid && atomic_load(t->f.seq) == t->cseq && vt_util_now_ns() < t->expires_ns))
                err = tokens_load(t, d);
        if (err == 0)
                err = tokens_match(t->tab, t->ntab, &h, name, admin, d);
        pthread_mutex_unlock(&t->mu);
        return err;
}
