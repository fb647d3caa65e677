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
 * stored hash with vt_util_memeq(), so the time it takes depends on the
 * number of tokens, not on the presented bytes. The store is read at every
 * check, so a token created or revoked by `veritrail token` in another
 * process counts at once.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service/service_int.h"

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
        if ((err = vt_store_open(dir, 0, &s, d)) != 0)
                goto out;
        if ((err = vt_store_token_put(s, &t, d)) == VT_EEXIST)
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
        if ((err = vt_store_token_revoke(s, name, d)) == VT_ENOENT)
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

/* see service.h */
int vt_service_token_check(struct vt_service *s, const char *token, char name[65], int *admin,
                           struct vt_diag *d)
{
        struct vt_store_token *rows = NULL;
        struct vt_store *rs;
        struct vt_hash h;
        size_t n = 0, i, found = SIZE_MAX, len;
        int slot, err = 0, eq;

        /* The shape is not secret: a wrong length or alphabet is refused at once. */
        len = token != NULL ? strnlen(token, VT_SERVICE_TOKEN_LEN + 1) : 0;
        if (len != VT_SERVICE_TOKEN_LEN) {
                vt_diag_set(d, "invalid token");
                return VT_EDENIED;
        }
        vt_crypto_sha256((const uint8_t *)token, len, &h);
        if ((slot = vt_service_reader_get(s, &rs, &err, d)) < 0)
                return err;
        err = vt_store_token_list(rs, &rows, &n, d);
        vt_service_reader_put(s, slot);
        if (err != 0)
                return err;
        /* Compare with every row, in constant time per row. */
        for (i = 0; i < n; i++) {
                eq = vt_util_memeq(h.b, rows[i].hash, sizeof(h.b));
                if (eq && found == SIZE_MAX)
                        found = i;
        }
        if (found == SIZE_MAX) {
                vt_diag_set(d, "invalid token");
                err = VT_EDENIED;
        } else if (rows[found].revoked) {
                vt_diag_set(d, "token '%s' was revoked", rows[found].name);
                err = VT_EDENIED;
        } else {
                memcpy(name, rows[found].name, sizeof(rows[found].name));
                *admin = rows[found].admin;
        }
        if (rows != NULL)
                sodium_memzero(rows, n * sizeof(*rows));
        free(rows);
        return err;
}
