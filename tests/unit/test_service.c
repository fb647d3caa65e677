/*
 * test_service.c: the service pipeline at library level (service.h) over a
 * temporary log and governance root:
 *   - accepted, with the role; the bundle verifies offline (policy.h) with
 *     the log's key and the root;
 *   - idempotent resubmission (also with other white space): same index,
 *     existed = 1, the log does not grow;
 *   - refused: a role that may not sign the predicate type (the sentence
 *     names the rule), a bad signature, a key not in the root, malformed
 *     input, the wrong payload type, an oversized envelope;
 *   - reads: entry, envelope by payload digest, subject listing, bundle by
 *     subject (every entry about the artifact), checkpoint, tiles, size;
 *   - tokens: create, check, revoke, list, duplicate names, bad shapes;
 *   - the root: open rules (none stored, stored, successor, not a
 *     successor), replacement by an admin (logged, then in force, kept
 *     across a reopen);
 *   - concurrency: many threads submitting distinct and identical
 *     envelopes (indexes distinct and dense, duplicates coalesced, every
 *     bundle verifies), and vt_service_submit_batch;
 *   - asynchronous submissions (vt_service_submit_start / _finish), and
 *     bundles across tile boundaries;
 *   - bundles through a prepared bundler (vt_service_bundler_prepare, as a
 *     batch reply writes them) byte for byte those written one at a time;
 *   - the token cache: a token created or revoked in the store counts at
 *     once, also while a change is under way or after one died half-way,
 *     and the counter file's loss costs at most the cache's lifetime;
 *   - the idempotency filter: no store lookup for new envelopes, no missed
 *     duplicate after a restart (the filter is rebuilt from the tiles),
 *     built in the background for a large log, entries committed during
 *     the build included, grown when outgrown;
 *   - stats.
 *
 * Run one test: test_service <name pattern>.
 */
#include "vt_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "service/service_int.h"
#include "veritrail/merkle.h"
#include "veritrail/store.h"

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/policy.h"
#include "veritrail/service.h"

#define SLSA   "https://slsa.dev/provenance/v1"
#define REVIEW "https://veritrail.dev/review/v1"
#define ORIGIN "example.org/service-test"

static struct vt_crypto_key *kg, *kb, *kr, *kx; /* governance, builder, reviewer, stranger */

struct fix {
        char *dir;
        char root_path[4200];
        struct vt_service *s;
        struct vt_policy_root *root; /* v1, as given */
};

/* ---- helpers ---------------------------------------------------------------- */

static int setup(void **state)
{
        (void)state;
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kg, NULL), 0);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kb, NULL), 0);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ECDSA_P256, &kr, NULL), 0);
        assert_int_equal(vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kx, NULL), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        vt_crypto_key_free(kg);
        vt_crypto_key_free(kb);
        vt_crypto_key_free(kr);
        vt_crypto_key_free(kx);
        return 0;
}

/* Root version v: builder may sign SLSA; reviewer may sign reviews (and, from v2, SLSA). */
static struct vt_policy_root *make_root(int64_t version, const struct vt_policy_root *prev)
{
        const struct vt_crypto_key *gov[] = {kg}, *b[] = {kb}, *r[] = {kr};
        const char *slsa[] = {SLSA}, *rev[] = {REVIEW, SLSA};
        struct vt_policy_root *root = NULL;
        struct vt_diag d = {""};

        assert_int_equal(vt_policy_root_new(gov, 1, 1, vt_util_unix_time() + 86400, &root, &d), 0);
        assert_int_equal(vt_policy_root_set_role(root, "builder", b, 1, 1, slsa, 1, &d), 0);
        assert_int_equal(
            vt_policy_root_set_role(root, "reviewer", r, 1, 1, rev, version >= 2 ? 2 : 1, &d), 0);
        if (version != 1)
                assert_int_equal(vt_policy_root_set_version(root, version, &d), 0);
        assert_int_equal(vt_policy_root_sign(root, kg, prev, &d), 0);
        return root;
}

static void write_root(const struct vt_policy_root *r, const char *path)
{
        struct vt_buf b;
        struct vt_diag d = {""};

        vt_buf_init(&b);
        assert_int_equal(vt_policy_root_serialize(r, &b), 0);
        assert_int_equal(vt_util_write_file(path, b.p, b.len, 0644, &d), 0);
        vt_buf_release(&b);
}

static int fix_setup(void **state)
{
        struct fix *f = calloc(1, sizeof(*f));
        const char *t = getenv("TMPDIR");
        struct vt_diag d = {""};

        assert_non_null(f);
        f->dir = malloc(4096);
        assert_non_null(f->dir);
        snprintf(f->dir, 4096, "%s/vt-test-service.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->root_path, sizeof(f->root_path), "%s/root.json", f->dir);
        if (vt_log_init(f->dir, ORIGIN, &d) != 0)
                fail_msg("log init: %s", d.msg);
        f->root = make_root(1, NULL);
        write_root(f->root, f->root_path);
        if (vt_service_open(f->dir, f->root_path, &f->s, &d) != 0)
                fail_msg("open: %s", d.msg);
        *state = f;
        return 0;
}

static int fix_teardown(void **state)
{
        struct fix *f = *state;
        char cmd[4200];

        vt_service_close(f->s);
        vt_policy_root_free(f->root);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f->dir);
        free(f);
        return 0;
}

/*
 * The envelope bytes of an in-toto statement about an artifact called name
 * whose content is data (NULL: name), of ptype, signed by k.
 */
static void make_env_of(struct vt_buf *out, const char *ptype, const char *name, const char *data,
                        const struct vt_crypto_key *k)
{
        struct vt_encoding_subject s;
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};
        struct vt_buf st;

        if (data == NULL)
                data = name;
        memset(&s, 0, sizeof(s));
        s.name = name;
        s.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)data, strlen(data), &s.sha256);
        vt_buf_init(&st);
        assert_int_equal(vt_encoding_statement_build(&s, 1, ptype, NULL, &st, &d), 0);
        vt_encoding_dsse_init(&e);
        assert_int_equal(
            vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len, &d), 0);
        if (k != NULL)
                assert_int_equal(vt_encoding_dsse_sign(&e, k, &d), 0);
        vt_buf_init(out);
        assert_int_equal(vt_encoding_dsse_serialize(&e, out), 0);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&st);
}

/* The envelope bytes of an in-toto statement about name, of ptype, signed by k. */
static void make_env(struct vt_buf *out, const char *ptype, const char *name,
                     const struct vt_crypto_key *k)
{
        make_env_of(out, ptype, name, NULL, k);
}

static int submit(struct fix *f, const struct vt_buf *env, struct vt_buf *bundle,
                  struct vt_service_result *r)
{
        return vt_service_submit(f->s, env->p, env->len, bundle, r);
}

/* The bundle verifies offline with the log's key (and the root, when given). */
static void bundle_verifies(struct fix *f, const struct vt_buf *b,
                            const struct vt_policy_root *root)
{
        const char *vk[] = {vt_service_vkey(f->s)};
        struct vt_diag d = {""};
        struct vt_buf rep;

        vt_buf_init(&rep);
        if (vt_policy_bundle_verify(b->p, b->len, vk, 1, root, &rep, &d) != 0)
                fail_msg("bundle does not verify: %s\n%s", d.msg, (char *)rep.p);
        vt_buf_release(&rep);
}

/* ---- the pipeline ------------------------------------------------------------------ */

static void submit_accepted(void **state)
{
        struct fix *f = *state;
        struct vt_service_result r;
        struct vt_buf env, b;

        make_env(&env, SLSA, "app.tar", kb);
        vt_buf_init(&b);
        if (submit(f, &env, &b, &r) != 0)
                fail_msg("submit: %s", r.diag.msg);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.index, 0);
        assert_int_equal(r.existed, 0);
        assert_string_equal(r.role, "builder");
        assert_int_equal(vt_service_size(f->s), 1);
        assert_non_null(strstr((char *)b.p, "\"mediaType\":\"" VT_ENCODING_BUNDLE_MEDIA_TYPE "\""));
        assert_non_null(strstr((char *)b.p, "c2sp.org/tlog-proof@v1\\nindex 0\\n"));
        bundle_verifies(f, &b, NULL);
        bundle_verifies(f, &b, f->root);
        vt_buf_release(&b);
        vt_buf_release(&env);
}

static void submit_idempotent(void **state)
{
        struct fix *f = *state;
        struct vt_service_result r;
        struct vt_service_stats st;
        struct vt_buf env, env2, other, b;
        json_t *j;
        size_t i;

        make_env(&env, SLSA, "app.tar", kb);
        make_env(&other, SLSA, "lib.so", kb);
        vt_buf_init(&b);
        assert_int_equal(submit(f, &env, &b, &r), 0);
        assert_int_equal(submit(f, &other, &b, &r), 0);
        assert_int_equal(r.index, 1);
        /* The same envelope again, and re-indented: the same entry. */
        j = json_loadb((const char *)env.p, env.len, 0, NULL);
        assert_non_null(j);
        vt_buf_init(&env2);
        assert_int_equal(vt_encoding_json_dump(j, JSON_INDENT(2), &env2), 0);
        json_decref(j);
        for (i = 0; i < 2; i++) {
                b.len = 0;
                if (submit(f, i == 0 ? &env : &env2, &b, &r) != 0)
                        fail_msg("resubmit: %s", r.diag.msg);
                assert_int_equal(r.index, 0);
                assert_int_equal(r.existed, 1);
                assert_string_equal(r.role, "builder");
                bundle_verifies(f, &b, f->root);
                /* A fresh bundle: proved against the current size. */
                assert_non_null(strstr((char *)b.p, "\\n2\\n"));
        }
        assert_int_equal(vt_service_size(f->s), 2);
        vt_service_stats(f->s, &st);
        assert_int_equal(st.submitted, 4);
        assert_int_equal(st.accepted, 2);
        assert_int_equal(st.existed, 2);
        assert_true(st.batches >= 1 && st.batch_entries == 2);
        vt_buf_release(&b);
        vt_buf_release(&env);
        vt_buf_release(&env2);
        vt_buf_release(&other);
}

static void submit_refused(void **state)
{
        struct fix *f = *state;
        struct vt_service_result r;
        struct vt_service_stats st;
        struct vt_buf env, b;
        uint8_t *big;
        char *p;

        vt_buf_init(&b);
        /* The reviewer may not sign provenance under root v1: the rule is named. */
        make_env(&env, SLSA, "app.tar", kr);
        assert_int_equal(submit(f, &env, &b, &r), VT_EDENIED);
        assert_int_equal(r.err, VT_EDENIED);
        if (strstr(r.diag.msg, SLSA) == NULL || strstr(r.diag.msg, "builder") == NULL)
                fail_msg("the refusal should name the predicate type and the role: '%s'",
                         r.diag.msg);
        vt_buf_release(&env);
        /* A key that is not in the root. */
        make_env(&env, SLSA, "app.tar", kx);
        assert_int_equal(submit(f, &env, &b, &r), VT_EDENIED);
        assert_non_null(strstr(r.diag.msg, "not in the root"));
        vt_buf_release(&env);
        /* The builder's key id, but the signature is broken. */
        make_env(&env, SLSA, "app.tar", kb);
        p = strstr((char *)env.p, "\"sig\":\"") + 7;
        p[3] = p[3] == 'A' ? 'B' : 'A';
        assert_int_equal(submit(f, &env, &b, &r), VT_EBADSIG);
        vt_buf_release(&env);
        /* No signature at all, not JSON, not an in-toto payload. */
        make_env(&env, SLSA, "app.tar", NULL);
        assert_int_equal(submit(f, &env, &b, &r), VT_EMALFORMED);
        vt_buf_release(&env);
        vt_buf_init(&env);
        assert_int_equal(vt_buf_puts(&env, "{\"payload\":"), 0);
        assert_int_equal(submit(f, &env, &b, &r), VT_EMALFORMED);
        env.len = 0;
        assert_int_equal(vt_buf_puts(&env, "{\"payload\":\"aGk=\",\"payloadType\":\"text/plain\","
                                           "\"signatures\":[{\"sig\":\"aGk=\"}]}"),
                         0);
        assert_int_equal(submit(f, &env, &b, &r), VT_EMALFORMED);
        assert_non_null(strstr(r.diag.msg, "payloadType"));
        vt_buf_release(&env);
        big = calloc(1, VT_SERVICE_ENVELOPE_MAX + 1);
        assert_non_null(big);
        assert_int_equal(vt_service_submit(f->s, big, VT_SERVICE_ENVELOPE_MAX + 1, &b, &r),
                         VT_ETOOBIG);
        free(big);
        /* Nothing was logged, nothing was appended to the bundle. */
        assert_int_equal(vt_service_size(f->s), 0);
        assert_int_equal(b.len, 0);
        vt_service_stats(f->s, &st);
        assert_int_equal(st.rejected_denied, 2);
        assert_int_equal(st.rejected_signature, 1);
        assert_int_equal(st.rejected_malformed, 4);
        assert_int_equal(st.accepted, 0);
        vt_buf_release(&b);
}

/*
 * A statement naming one artifact twice (two subjects, one digest): the
 * entry is listed once under it, before and after a restart (the store
 * keeps the digests of an entry's subjects once each).
 */
static void subject_named_twice(void **state)
{
        struct fix *f = *state;
        struct vt_encoding_subject sub[3];
        struct vt_service_result r;
        struct vt_encoding_dsse e;
        struct vt_buf st, env, b, out;
        struct vt_diag d = {""};
        struct vt_hash app;
        char want[200], hex[65];
        int pass;

        memset(sub, 0, sizeof(sub));
        vt_crypto_sha256((const uint8_t *)"app.tar", 7, &app);
        sub[0].name = "app.tar";
        sub[1].name = "copy-of-app.tar";
        sub[2].name = "lib.so";
        sub[0].has_sha256 = sub[1].has_sha256 = sub[2].has_sha256 = 1;
        sub[0].sha256 = sub[1].sha256 = app;
        vt_crypto_sha256((const uint8_t *)"lib.so", 6, &sub[2].sha256);
        vt_buf_init(&st);
        assert_int_equal(vt_encoding_statement_build(sub, 3, SLSA, NULL, &st, &d), 0);
        vt_encoding_dsse_init(&e);
        assert_int_equal(
            vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len, &d), 0);
        assert_int_equal(vt_encoding_dsse_sign(&e, kb, &d), 0);
        vt_buf_init(&env);
        assert_int_equal(vt_encoding_dsse_serialize(&e, &env), 0);
        vt_buf_init(&b);
        vt_buf_init(&out);
        if (submit(f, &env, &b, &r) != 0)
                fail_msg("submit: %s", r.diag.msg);
        assert_int_equal(r.index, 0);
        vt_encoding_hex_encode(app.b, 32, hex);
        snprintf(want, sizeof(want), "{\"entries\":[0],\"subject\":\"sha256:%s\"}", hex);
        for (pass = 0; pass < 2; pass++) {
                out.len = 0;
                assert_int_equal(vt_service_subject(f->s, &app, &out, &d), 0);
                assert_string_equal((char *)out.p, want);
                out.len = 0;
                assert_int_equal(vt_service_subject(f->s, &sub[2].sha256, &out, &d), 0);
                /* The index rebuilt from the store at open must say the same. */
                vt_service_close(f->s);
                f->s = NULL;
                if (vt_service_open(f->dir, f->root_path, &f->s, &d) != 0)
                        fail_msg("reopen: %s", d.msg);
        }
        vt_encoding_dsse_release(&e);
        vt_buf_release(&st);
        vt_buf_release(&env);
        vt_buf_release(&b);
        vt_buf_release(&out);
}

/* ---- reads -------------------------------------------------------------------------- */

static void reads(void **state)
{
        struct fix *f = *state;
        struct vt_service_result r;
        struct vt_buf env[3], b, out, entry;
        struct vt_encoding_dsse e;
        struct vt_encoding_bundle pb;
        struct vt_hash h, app;
        struct vt_diag d = {""};
        char want[200], hex[65];
        size_t i;

        make_env(&env[0], SLSA, "app.tar", kb);
        make_env(&env[1], SLSA, "other.tar", kb);
        make_env(&env[2], REVIEW, "app.tar", kr);
        vt_buf_init(&b);
        vt_buf_init(&out);
        for (i = 0; i < 3; i++) {
                b.len = 0;
                if (submit(f, &env[i], &b, &r) != 0)
                        fail_msg("submit %zu: %s", i, r.diag.msg);
                assert_int_equal(r.index, i);
        }
        /* The entry of index 2 is the entry of its envelope. */
        vt_encoding_dsse_init(&e);
        assert_int_equal(vt_encoding_dsse_parse(env[2].p, env[2].len, &e, &d), 0);
        vt_buf_init(&entry);
        assert_int_equal(vt_encoding_entry_encode(&e, &entry), 0);
        assert_int_equal(vt_service_entry(f->s, 2, &out, &d), 0);
        assert_int_equal(out.len, entry.len);
        assert_memory_equal(out.p, entry.p, entry.len);
        out.len = 0;
        assert_int_equal(vt_service_entry(f->s, 3, &out, &d), VT_ENOENT);
        /* The envelope by its payload's digest. */
        vt_crypto_sha256(e.payload, e.payload_len, &h);
        assert_int_equal(vt_service_envelope(f->s, &h, &out, &d), 0);
        assert_int_equal(out.len, env[2].len);
        assert_memory_equal(out.p, env[2].p, env[2].len);
        out.len = 0;
        h.b[0] ^= 1;
        assert_int_equal(vt_service_envelope(f->s, &h, &out, &d), VT_ENOENT);
        /* The subject: two entries are about app.tar. */
        vt_crypto_sha256((const uint8_t *)"app.tar", 7, &app);
        vt_encoding_hex_encode(app.b, 32, hex);
        assert_int_equal(vt_service_subject(f->s, &app, &out, &d), 0);
        snprintf(want, sizeof(want), "{\"entries\":[0,2],\"subject\":\"sha256:%s\"}", hex);
        assert_string_equal((char *)out.p, want);
        out.len = 0;
        assert_int_equal(vt_service_subject(f->s, &h, &out, &d), VT_ENOENT);
        /* The bundle of the subject: both entries, verifying with the root. */
        assert_int_equal(vt_service_bundle_subject(f->s, &app, &out, &d), 0);
        vt_encoding_bundle_init(&pb);
        assert_int_equal(vt_encoding_bundle_parse(out.p, out.len, &pb, &d), 0);
        assert_int_equal(pb.n, 2);
        assert_int_equal(pb.atts[0].proof.index, 0);
        assert_int_equal(pb.atts[1].proof.index, 2);
        vt_encoding_bundle_release(&pb);
        bundle_verifies(f, &out, f->root);
        out.len = 0;
        assert_int_equal(vt_service_bundle_subject(f->s, &h, &out, &d), VT_ENOENT);
        /* Checkpoint, tiles. */
        assert_int_equal(vt_service_checkpoint(f->s, &out, &d), 0);
        assert_non_null(strstr((char *)out.p, ORIGIN "\n3\n"));
        out.len = 0;
        assert_int_equal(vt_service_tile(f->s, 0, 0, 3, &out, &d), 0);
        assert_int_equal(out.len, 3 * 32);
        out.len = 0;
        assert_int_equal(vt_service_tile(f->s, -1, 0, 3, &out, &d), 0);
        /* Three entries, each after its 2-byte length; the last one is entry 2's. */
        assert_true(out.len > 3 * 2 + entry.len);
        assert_memory_equal(out.p + out.len - entry.len, entry.p, entry.len);
        out.len = 0;
        assert_int_equal(vt_service_tile(f->s, 0, 0, 4, &out, &d), VT_ENOENT);
        /* The root in force. */
        assert_int_equal(vt_service_root(f->s, &out, &d), 0);
        assert_non_null(strstr((char *)out.p, VT_POLICY_ROOT_PAYLOAD_TYPE));
        vt_encoding_dsse_release(&e);
        vt_buf_release(&entry);
        vt_buf_release(&out);
        vt_buf_release(&b);
        for (i = 0; i < 3; i++)
                vt_buf_release(&env[i]);
}

/* ---- tokens ------------------------------------------------------------------------- */

static void tokens(void **state)
{
        struct fix *f = *state;
        char t1[VT_SERVICE_TOKEN_LEN + 1], t2[VT_SERVICE_TOKEN_LEN + 1], name[65];
        struct vt_service_token *v = NULL;
        struct vt_diag d = {""};
        size_t n = 0, i;
        int admin = -1;

        assert_int_equal(vt_service_token_create(f->dir, "ci-builder", 0, t1, &d), 0);
        assert_int_equal(vt_service_token_create(f->dir, "ops@example", 1, t2, &d), 0);
        assert_int_equal(strlen(t1), VT_SERVICE_TOKEN_LEN);
        for (i = 0; i < VT_SERVICE_TOKEN_LEN; i++)
                assert_non_null(strchr(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t1[i]));
        assert_string_not_equal(t1, t2);
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), 0);
        assert_string_equal(name, "ci-builder");
        assert_int_equal(admin, 0);
        assert_int_equal(vt_service_token_check(f->s, t2, name, &admin, &d), 0);
        assert_string_equal(name, "ops@example");
        assert_int_equal(admin, 1);
        /* Wrong tokens: one character off, too short, empty. */
        t1[5] = t1[5] == 'A' ? 'B' : 'A';
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), VT_EDENIED);
        t1[5] = '\0';
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), VT_EDENIED);
        assert_int_equal(vt_service_token_check(f->s, "", name, &admin, &d), VT_EDENIED);
        /* Names: taken, invalid. */
        assert_int_equal(vt_service_token_create(f->dir, "ci-builder", 0, t1, &d), VT_EEXIST);
        assert_int_equal(vt_service_token_create(f->dir, "bad name", 0, t1, &d), VT_EINVAL);
        assert_int_equal(vt_service_token_create(f->dir, "", 0, t1, &d), VT_EINVAL);
        /* Revoked: refused at once by the running service. */
        assert_int_equal(vt_service_token_revoke(f->dir, "ops@example", &d), 0);
        assert_int_equal(vt_service_token_check(f->s, t2, name, &admin, &d), VT_EDENIED);
        assert_non_null(strstr(d.msg, "revoked"));
        assert_int_equal(vt_service_token_revoke(f->dir, "nobody", &d), VT_ENOENT);
        assert_int_equal(vt_service_token_list(f->dir, &v, &n, &d), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "ci-builder");
        assert_false(v[0].revoked);
        assert_string_equal(v[1].name, "ops@example");
        assert_true(v[1].admin && v[1].revoked);
        assert_true(v[0].created > 1700000000);
        free(v);
        /* Not a data directory. */
        assert_int_equal(vt_service_token_create("/nonexistent/vt", "x", 0, t1, &d), VT_ENOENT);
}

/* ---- the root ------------------------------------------------------------------------ */

static void root_open_rules(void **state)
{
        struct fix *f = *state;
        struct vt_policy_root *v2, *v3;
        struct vt_service *s2 = NULL;
        struct vt_diag d = {""};
        char p2[4300], p3[4300];

        /* The stored root is used when none is given. */
        vt_service_close(f->s);
        f->s = NULL;
        if (vt_service_open(f->dir, NULL, &f->s, &d) != 0)
                fail_msg("reopen: %s", d.msg);
        /* A successor replaces it at open; then the old one is refused. */
        v2 = make_root(2, f->root);
        v3 = make_root(3, v2);
        snprintf(p2, sizeof(p2), "%s/root2.json", f->dir);
        snprintf(p3, sizeof(p3), "%s/root3.json", f->dir);
        write_root(v2, p2);
        write_root(v3, p3);
        vt_service_close(f->s);
        f->s = NULL;
        /* Version 3 is not the successor of the stored version 1. */
        assert_int_not_equal(vt_service_open(f->dir, p3, &s2, &d), 0);
        assert_non_null(strstr(d.msg, "successor"));
        if (vt_service_open(f->dir, p2, &f->s, &d) != 0)
                fail_msg("open with v2: %s", d.msg);
        vt_service_close(f->s);
        f->s = NULL;
        assert_int_not_equal(vt_service_open(f->dir, f->root_path, &s2, &d), 0);
        if (vt_service_open(f->dir, NULL, &f->s, &d) != 0)
                fail_msg("reopen: %s", d.msg);
        vt_policy_root_free(v2);
        vt_policy_root_free(v3);
}

static void root_open_fresh(void **state)
{
        struct fix *f = *state;
        struct vt_policy_root *bad;
        struct vt_service *s2 = NULL;
        const struct vt_crypto_key *gov[] = {kg};
        struct vt_diag d = {""};
        char dir2[4300], p[4400];

        snprintf(dir2, sizeof(dir2), "%s/other", f->dir);
        assert_int_equal(vt_log_init(dir2, "example.org/other", &d), 0);
        /* No root stored, none given. */
        assert_int_equal(vt_service_open(dir2, NULL, &s2, &d), VT_ENOENT);
        /* An unsigned root is refused. */
        assert_int_equal(vt_policy_root_new(gov, 1, 1, vt_util_unix_time() + 60, &bad, &d), 0);
        snprintf(p, sizeof(p), "%s/unsigned.json", dir2);
        write_root(bad, p);
        assert_int_equal(vt_service_open(dir2, p, &s2, &d), VT_ETHRESHOLD);
        vt_policy_root_free(bad);
        /* Not a log. */
        snprintf(p, sizeof(p), "%s/nothing", f->dir);
        assert_int_equal(vt_service_open(p, f->root_path, &s2, &d), VT_ENOENT);
        assert_null(s2);
}

static void root_replace(void **state)
{
        struct fix *f = *state;
        struct vt_policy_root *v2, *v3;
        struct vt_service_result r;
        struct vt_buf env, b, rb, cur;
        struct vt_diag d = {""};

        vt_buf_init(&b);
        vt_buf_init(&rb);
        vt_buf_init(&cur);
        /* The reviewer may not sign provenance yet. */
        make_env(&env, SLSA, "app.tar", kr);
        assert_int_equal(submit(f, &env, &b, &r), VT_EDENIED);
        /* Not a successor (version 3): refused, nothing logged. */
        v2 = make_root(2, f->root);
        v3 = make_root(3, v2);
        assert_int_equal(vt_policy_root_serialize(v3, &rb), 0);
        assert_int_equal(vt_service_root_replace(f->s, rb.p, rb.len, &b, &r), VT_EPOLICY);
        assert_int_equal(vt_service_size(f->s), 0);
        /* Version 2: logged, in force, kept. */
        rb.len = 0;
        assert_int_equal(vt_policy_root_serialize(v2, &rb), 0);
        if (vt_service_root_replace(f->s, rb.p, rb.len, &b, &r) != 0)
                fail_msg("replace: %s", r.diag.msg);
        assert_int_equal(r.index, 0);
        assert_string_equal(r.role, "governance");
        bundle_verifies(f, &b, v2);
        assert_int_equal(vt_service_root(f->s, &cur, &d), 0);
        assert_int_equal(cur.len, rb.len);
        assert_memory_equal(cur.p, rb.p, rb.len);
        b.len = 0;
        if (submit(f, &env, &b, &r) != 0)
                fail_msg("submit under v2: %s", r.diag.msg);
        assert_string_equal(r.role, "reviewer");
        assert_int_equal(r.index, 1);
        /* The same root again is not a successor of itself. */
        assert_int_not_equal(vt_service_root_replace(f->s, rb.p, rb.len, &b, &r), 0);
        /* Reopened without a root: v2 is the stored one. */
        vt_service_close(f->s);
        f->s = NULL;
        if (vt_service_open(f->dir, NULL, &f->s, &d) != 0)
                fail_msg("reopen: %s", d.msg);
        cur.len = 0;
        assert_int_equal(vt_service_root(f->s, &cur, &d), 0);
        assert_int_equal(cur.len, rb.len);
        b.len = 0;
        assert_int_equal(submit(f, &env, &b, &r), 0);
        assert_int_equal(r.existed, 1);
        vt_policy_root_free(v2);
        vt_policy_root_free(v3);
        vt_buf_release(&env);
        vt_buf_release(&b);
        vt_buf_release(&rb);
        vt_buf_release(&cur);
}

/* ---- concurrency --------------------------------------------------------------------- */

#define THREADS 8
#define PER     40

struct worker {
        struct fix *f;
        int t;
        uint64_t idx[PER];
        int existed[PER];
        struct vt_buf bundle[PER];
        int err;
};

/* Envelope number i of thread t; every fourth one is the same for all threads. */
static void worker_env(int t, int i, struct vt_buf *out)
{
        char name[64];

        if (i % 4 == 3)
                snprintf(name, sizeof(name), "shared-%d.tar", i);
        else
                snprintf(name, sizeof(name), "t%d-%d.tar", t, i);
        make_env(out, SLSA, name, kb);
}

static void *worker_run(void *arg)
{
        struct worker *w = arg;
        struct vt_service_result r;
        struct vt_buf env;
        int i;

        for (i = 0; i < PER; i++) {
                worker_env(w->t, i, &env);
                vt_buf_init(&w->bundle[i]);
                if (vt_service_submit(w->f->s, env.p, env.len, &w->bundle[i], &r) != 0 && !w->err)
                        w->err = r.err;
                w->idx[i] = r.index;
                w->existed[i] = r.existed;
                vt_buf_release(&env);
        }
        return NULL;
}

static void concurrent_submit(void **state)
{
        struct fix *f = *state;
        static struct worker w[THREADS];
        pthread_t th[THREADS];
        const size_t distinct = THREADS * (PER - PER / 4) + PER / 4;
        uint8_t *seen;
        size_t i, j, fresh = 0;

        for (i = 0; i < THREADS; i++) {
                memset(&w[i], 0, sizeof(w[i]));
                w[i].f = f;
                w[i].t = (int)i;
                assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
        }
        for (i = 0; i < THREADS; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(vt_service_size(f->s), distinct);
        seen = calloc(distinct, 1);
        assert_non_null(seen);
        for (i = 0; i < THREADS; i++) {
                assert_int_equal(w[i].err, 0);
                for (j = 0; j < PER; j++) {
                        assert_true(w[i].idx[j] < distinct);
                        if (!w[i].existed[j]) {
                                /* Each index was handed out as new exactly once. */
                                assert_int_equal(seen[w[i].idx[j]], 0);
                                seen[w[i].idx[j]] = 1;
                                fresh++;
                        }
                        bundle_verifies(f, &w[i].bundle[j], f->root);
                        vt_buf_release(&w[i].bundle[j]);
                }
        }
        assert_int_equal(fresh, distinct);
        /* The shared envelopes got one index each, whoever submitted them. */
        for (j = 3; j < PER; j += 4)
                for (i = 1; i < THREADS; i++)
                        assert_int_equal(w[i].idx[j], w[0].idx[j]);
        free(seen);
}

static void submit_batch(void **state)
{
        struct fix *f = *state;
        enum { N = 120 };
        static struct vt_buf envs[N], bundles[N];
        static struct vt_service_result res[N];
        const uint8_t *ep[N];
        size_t el[N], i;
        uint8_t seen[N] = {0};
        struct vt_service_stats st;
        char name[32];

        for (i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "batch-%zu", i % 100); /* 20 duplicates */
                make_env(&envs[i], SLSA, name, i == 7 ? kx : kb);
                ep[i] = envs[i].p;
                el[i] = envs[i].len;
                vt_buf_init(&bundles[i]);
        }
        assert_int_equal(vt_service_submit_batch(f->s, ep, el, N, bundles, res), 1);
        assert_int_equal(res[7].err, VT_EDENIED);
        /* batch-7 by the stranger is refused, but the builder's batch-7 (107) is logged. */
        assert_int_equal(vt_service_size(f->s), 100);
        for (i = 0; i < N; i++) {
                if (i == 7)
                        continue;
                assert_int_equal(res[i].err, 0);
                if (i >= 100 && i != 107) {
                        assert_int_equal(res[i].index, res[i - 100].index);
                } else {
                        assert_true(res[i].index < 100);
                        seen[res[i].index]++;
                }
                bundle_verifies(f, &bundles[i], f->root);
        }
        for (i = 0; i < 100; i++)
                assert_int_equal(seen[i], 1);
        vt_service_stats(f->s, &st);
        /* Group commit: fewer batches than entries. */
        assert_true(st.batches < st.batch_entries);
        for (i = 0; i < N; i++) {
                vt_buf_release(&envs[i]);
                vt_buf_release(&bundles[i]);
        }
}

/*
 * One commit far larger than the chunks in which the committer adds a
 * batch's keys to the lookup index (SVC_KEYS_CHUNK, 256): every key of every
 * kind is found afterwards, the last chunk's and the middle ones' alike.
 */
static void large_commit_indexed(void **state)
{
        struct fix *f = *state;
        enum { N = 700 };
        static struct vt_buf envs[N], bundles[N];
        static struct vt_service_result res[N];
        const uint8_t *ep[N];
        struct vt_encoding_dsse e;
        struct vt_service_stats st;
        struct vt_diag d = {""};
        struct vt_hash h;
        struct vt_buf out;
        size_t el[N], i;
        char name[32], want[160], hex[65];

        vt_service_set_batching(f->s, 0, 1000000); /* all of them in one commit */
        for (i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "large-%zu", i);
                make_env(&envs[i], SLSA, name, kb);
                ep[i] = envs[i].p;
                el[i] = envs[i].len;
                vt_buf_init(&bundles[i]);
        }
        assert_int_equal(vt_service_submit_batch(f->s, ep, el, N, bundles, res), 0);
        vt_service_stats(f->s, &st);
        assert_int_equal(st.batch_entries, N);
        assert_int_equal(st.batches, 1);
        vt_buf_init(&out);
        for (i = 0; i < N; i++) {
                assert_int_equal(res[i].err, 0);
                /* By payload digest. */
                vt_encoding_dsse_init(&e);
                assert_int_equal(vt_encoding_dsse_parse(envs[i].p, envs[i].len, &e, &d), 0);
                vt_crypto_sha256(e.payload, e.payload_len, &h);
                vt_encoding_dsse_release(&e);
                out.len = 0;
                if (vt_service_envelope(f->s, &h, &out, &d) != 0)
                        fail_msg("envelope %zu not found by its payload: %s", i, d.msg);
                /* By subject digest. */
                snprintf(name, sizeof(name), "large-%zu", i);
                vt_crypto_sha256((const uint8_t *)name, strlen(name), &h);
                vt_encoding_hex_encode(h.b, 32, hex);
                snprintf(want, sizeof(want), "{\"entries\":[%llu],\"subject\":\"sha256:%s\"}",
                         (unsigned long long)res[i].index, hex);
                out.len = 0;
                assert_int_equal(vt_service_subject(f->s, &h, &out, &d), 0);
                assert_string_equal((char *)out.p, want);
        }
        /* By entry hash: every one again is the entry logged, and nothing is added. */
        for (i = 0; i < N; i++) {
                uint64_t index = res[i].index;

                bundles[i].len = 0;
                assert_int_equal(
                    vt_service_submit(f->s, envs[i].p, envs[i].len, &bundles[i], &res[i]), 0);
                assert_true(res[i].existed);
                assert_int_equal(res[i].index, index);
        }
        assert_int_equal(vt_service_size(f->s), N);
        for (i = 0; i < N; i++) {
                vt_buf_release(&envs[i]);
                vt_buf_release(&bundles[i]);
        }
        vt_buf_release(&out);
}

/* ---- the token cache ----------------------------------------------------------------- */

/* The mapped change counter of dir's token cache (tokens.seq). */
static _Atomic uint64_t *seq_map(const char *dir, int *fd)
{
        char path[4200];
        void *p;

        snprintf(path, sizeof(path), "%s/tokens.seq", dir);
        *fd = open(path, O_RDWR);
        assert_true(*fd >= 0);
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
        assert_true(p != MAP_FAILED);
        return p;
}

static void token_cache(void **state)
{
        struct fix *f = *state;
        char t1[VT_SERVICE_TOKEN_LEN + 1], t2[VT_SERVICE_TOKEN_LEN + 1], name[65];
        struct vt_store *ws = NULL;
        struct vt_diag d = {""};
        _Atomic uint64_t *seq;
        uint64_t v;
        int admin = 0, fd, i;

        assert_int_equal(vt_service_token_create(f->dir, "one", 0, t1, &d), 0);
        /* Loaded into the cache, then answered from it: the same answer each time. */
        for (i = 0; i < 3; i++) {
                assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), 0);
                assert_string_equal(name, "one");
        }
        /* A token created after the cache was loaded counts at once. */
        assert_int_equal(vt_service_token_create(f->dir, "two", 1, t2, &d), 0);
        assert_int_equal(vt_service_token_check(f->s, t2, name, &admin, &d), 0);
        assert_string_equal(name, "two");
        assert_int_equal(admin, 1);
        /* Revoked after the cache was loaded: refused at once. */
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), 0);
        assert_int_equal(vt_service_token_revoke(f->dir, "one", &d), 0);
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), VT_EDENIED);
        assert_non_null(strstr(d.msg, "'one' was revoked"));

        /* A change under way (the counter is odd): every check asks the store. */
        seq = seq_map(f->dir, &fd);
        v = atomic_load(seq);
        assert_int_equal(v % 2, 0);
        assert_int_equal(vt_service_token_check(f->s, t2, name, &admin, &d), 0);
        atomic_store(seq, v + 1);
        assert_int_equal(vt_store_open(f->dir, 0, &ws, &d), 0);
        assert_int_equal(vt_store_token_revoke(ws, "two", &d), 0); /* committed, counter odd */
        assert_int_equal(vt_service_token_check(f->s, t2, name, &admin, &d), VT_EDENIED);
        /* A change that died half-way leaves it odd: still exact (create bypassing the protocol).
         */
        {
                struct vt_store_token t;
                struct vt_hash h;
                char t3[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

                memset(&t, 0, sizeof(t));
                snprintf(t.name, sizeof(t.name), "three");
                vt_crypto_sha256((const uint8_t *)t3, strlen(t3), &h);
                memcpy(t.hash, h.b, sizeof(t.hash));
                assert_int_equal(vt_store_token_put(ws, &t, &d), 0);
                assert_int_equal(vt_service_token_check(f->s, t3, name, &admin, &d), 0);
                assert_string_equal(name, "three");
                /* The next change through the protocol makes the counter even again. */
                assert_int_equal(vt_service_token_revoke(f->dir, "three", &d), 0);
                assert_true(atomic_load(seq) > v + 1 && atomic_load(seq) % 2 == 0);
                assert_int_equal(vt_service_token_check(f->s, t3, name, &admin, &d), VT_EDENIED);
        }
        vt_store_close(ws);
        munmap((void *)seq, 4096);
        close(fd);
}

/* The counter file removed while serving: a change is then seen within the cache's lifetime. */
static void token_cache_lost_counter(void **state)
{
        struct fix *f = *state;
        char t1[VT_SERVICE_TOKEN_LEN + 1], name[65], path[4200];
        struct vt_diag d = {""};
        int admin = 0;

        assert_int_equal(vt_service_token_create(f->dir, "one", 0, t1, &d), 0);
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), 0);
        snprintf(path, sizeof(path), "%s/tokens.seq", f->dir);
        assert_int_equal(unlink(path), 0);
        /* The revoke makes a new counter file the service does not watch yet. */
        assert_int_equal(vt_service_token_revoke(f->dir, "one", &d), 0);
        usleep(1100 * 1000); /* the cache's lifetime (token.c TOKENS_TTL_NS) */
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), VT_EDENIED);
        /* And the new file is watched from then on. */
        assert_int_equal(vt_service_token_create(f->dir, "two", 0, t1, &d), 0);
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), 0);
        assert_int_equal(vt_service_token_revoke(f->dir, "two", &d), 0);
        assert_int_equal(vt_service_token_check(f->s, t1, name, &admin, &d), VT_EDENIED);
}

/* ---- the idempotency filter --------------------------------------------------------- */

/* New envelopes need no store lookup; after a restart every duplicate is still found. */
static void filter_restart(void **state)
{
        struct fix *f = *state;
        enum { N = 40 };
        static struct vt_buf envs[N];
        struct vt_service_result r;
        struct vt_service_stats st;
        uint64_t idx[N];
        struct vt_diag d = {""};
        struct vt_buf b;
        char name[32];
        size_t i;

        vt_buf_init(&b);
        for (i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "filtered-%zu", i);
                make_env(&envs[i], SLSA, name, kb);
                b.len = 0;
                assert_int_equal(submit(f, &envs[i], &b, &r), 0);
                assert_int_equal(r.existed, 0);
                idx[i] = r.index;
        }
        vt_service_stats(f->s, &st);
        assert_int_equal(st.lookups, 0); /* 40 entries in a 1M-entry filter: no false positive */
        /* Resubmitted in the same run: found (the filter says maybe, the store says where). */
        b.len = 0;
        assert_int_equal(submit(f, &envs[3], &b, &r), 0);
        assert_int_equal(r.existed, 1);
        assert_int_equal(r.index, idx[3]);
        /* After a restart the filter is rebuilt from the tiles: every duplicate is found. */
        vt_service_close(f->s);
        f->s = NULL;
        if (vt_service_open(f->dir, NULL, &f->s, &d) != 0)
                fail_msg("reopen: %s", d.msg);
        for (i = 0; i < N; i++) {
                b.len = 0;
                assert_int_equal(submit(f, &envs[i], &b, &r), 0);
                assert_int_equal(r.existed, 1);
                assert_int_equal(r.index, idx[i]);
                bundle_verifies(f, &b, f->root);
        }
        vt_service_stats(f->s, &st);
        assert_int_equal(st.lookups, N);
        assert_int_equal(vt_service_size(f->s), N);
        vt_buf_release(&b);
        for (i = 0; i < N; i++)
                vt_buf_release(&envs[i]);
}

/*
 * The lookup index (index.c, whose own tests are test_index.c) through the
 * service, with memtables of 4 keys so that its runs and merges serve the
 * lookups: across a restart (the runs are read again, the keys past them
 * added from the store), and after the index directory is lost (rebuilt
 * from the store); digests that share an 8-byte prefix told apart.
 */
/* The service of f reopened, with memtables of 4 keys and fan-in 2. */
static void reopen_small_index(struct fix *f)
{
        struct vt_service_index_opts o = {4, 2};
        struct vt_diag d = {""};

        vt_service_close(f->s);
        f->s = NULL;
        if (vt_service_open_opts(f->dir, NULL, &o, &f->s, &d) != 0)
                fail_msg("reopen: %s", d.msg);
}

#define LI_N 60

/*
 * Every lookup by digest answers right: each envelope by its payload
 * digest, a resubmission finds its entry (existed, same index, the log does
 * not grow), app.tar's subject lists every third entry, and a digest that
 * shares app.tar's first 8 bytes (or the payload's) finds nothing.
 */
static void lookups_answer(struct fix *f, struct vt_buf *env, const struct vt_hash *ph)
{
        struct vt_service_result r;
        struct vt_buf b, out, want;
        struct vt_hash app, h;
        struct vt_diag d = {""};
        size_t i;

        vt_buf_init(&b);
        vt_buf_init(&out);
        vt_buf_init(&want);
        for (i = 0; i < LI_N; i++) {
                out.len = 0;
                assert_int_equal(vt_service_envelope(f->s, &ph[i], &out, &d), 0);
                assert_int_equal(out.len, env[i].len);
                assert_memory_equal(out.p, env[i].p, env[i].len);
        }
        for (i = 0; i < LI_N; i += 7) {
                b.len = 0;
                assert_int_equal(submit(f, &env[i], &b, &r), 0);
                assert_int_equal(r.index, i);
                assert_int_equal(r.existed, 1);
        }
        assert_int_equal(vt_service_size(f->s), LI_N);
        vt_crypto_sha256((const uint8_t *)"app.tar", 7, &app);
        out.len = 0;
        assert_int_equal(vt_service_subject(f->s, &app, &out, &d), 0);
        assert_int_equal(vt_buf_puts(&want, "{\"entries\":[0"), 0);
        for (i = 3; i < LI_N; i += 3)
                assert_int_equal(vt_buf_printf(&want, ",%zu", i), 0);
        assert_int_equal(vt_buf_puts(&want, "],"), 0);
        out.p[out.len - 1] = '\0';
        if (strstr((char *)out.p, (char *)want.p) == NULL)
                fail_msg("subject listing: %s, want %s", (char *)out.p, (char *)want.p);
        app.b[31] ^= 1;
        out.len = 0;
        assert_int_equal(vt_service_subject(f->s, &app, &out, &d), VT_ENOENT);
        h = ph[5];
        h.b[20] ^= 1;
        assert_int_equal(vt_service_envelope(f->s, &h, &out, &d), VT_ENOENT);
        vt_buf_release(&b);
        vt_buf_release(&out);
        vt_buf_release(&want);
}

static void lookup_index(void **state)
{
        struct fix *f = *state;
        struct vt_service_index_stats ist;
        struct vt_service_result r;
        struct vt_buf env[LI_N], b;
        struct vt_hash ph[LI_N];
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};
        char name[64], cmd[4300];
        size_t i;

        reopen_small_index(f);
        vt_buf_init(&b);
        for (i = 0; i < LI_N; i++) {
                /* Every third about the artifact app.tar, under a name of its own. */
                snprintf(name, sizeof(name), "part-%zu.tar", i);
                make_env_of(&env[i], i % 2 ? SLSA : REVIEW, name, i % 3 ? NULL : "app.tar",
                            i % 2 ? kb : kr);
                vt_encoding_dsse_init(&e);
                assert_int_equal(vt_encoding_dsse_parse(env[i].p, env[i].len, &e, &d), 0);
                vt_crypto_sha256(e.payload, e.payload_len, &ph[i]);
                vt_encoding_dsse_release(&e);
                b.len = 0;
                assert_int_equal(submit(f, &env[i], &b, &r), 0);
                assert_int_equal(r.index, i);
        }
        vt_service_index_settle(f->s->ix_subject);
        vt_service_index_stats(f->s->ix_subject, &ist);
        assert_true(ist.runs >= 1);
        assert_true(ist.mem_keys <= 8);
        lookups_answer(f, env, ph);
        /* Reopened: the runs are read again, the keys past them added from the store. */
        reopen_small_index(f);
        vt_service_index_stats(f->s->ix_entry, &ist);
        assert_true(ist.on_disk > 0);
        lookups_answer(f, env, ph);
        /* The index directory lost: rebuilt from the store. */
        vt_service_close(f->s);
        f->s = NULL;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/index'", f->dir);
        assert_int_equal(system(cmd), 0);
        reopen_small_index(f);
        lookups_answer(f, env, ph);
        vt_buf_release(&b);
        for (i = 0; i < LI_N; i++)
                vt_buf_release(&env[i]);
}

/* Entry i of the raw log in filter_build: distinct bytes. */
static void raw_entry(uint64_t i, char *e, size_t cap, size_t *n)
{
        *n = (size_t)snprintf(e, cap, "raw entry %llu", (unsigned long long)i);
}

static void leaf_of(uint64_t i, struct vt_hash *h)
{
        char e[64];
        size_t n;

        raw_entry(i, e, sizeof(e), &n);
        vt_merkle_leaf_hash((const uint8_t *)e, n, h);
}

/* Append entries from..to-1 to log, in batches, adding them to the filter as the committer does. */
static void raw_append(struct vt_log *log, struct vt_service_filter *flt, uint64_t from,
                       uint64_t to)
{
        static char ebuf[512][64];
        const uint8_t *p[512];
        size_t lens[512], m, i;
        struct vt_hash leaves[512];
        struct vt_diag d = {""};
        uint64_t first;

        while (from < to) {
                m = to - from < 512 ? (size_t)(to - from) : 512;
                for (i = 0; i < m; i++) {
                        raw_entry(from + i, ebuf[i], sizeof(ebuf[i]), &lens[i]);
                        p[i] = (const uint8_t *)ebuf[i];
                        leaf_of(from + i, &leaves[i]);
                }
                if (vt_log_append(log, p, lens, m, &first, &d) != 0)
                        fail_msg("append: %s", d.msg);
                assert_int_equal(first, from);
                if (flt != NULL)
                        vt_service_filter_add(flt, leaves, m);
                from += m;
        }
}

/* Wait until the filter's build is held after reading the size (hold set). */
static void filter_wait_held(struct vt_service_filter *flt)
{
        int k;

        for (k = 0; k < 1000 && !vt_service_filter_hold(flt, 1); k++)
                usleep(5 * 1000);
        assert_true(vt_service_filter_hold(flt, 1));
}

static void filter_wait_ready(struct vt_service_filter *flt, uint64_t min_cap, uint64_t *cap)
{
        int k;

        for (k = 0; k < 1000 && !(vt_service_filter_ready(flt, cap) && *cap >= min_cap); k++)
                usleep(5 * 1000);
        assert_true(vt_service_filter_ready(flt, cap));
}

/*
 * The filter of a log too large to read at open: built by its thread;
 * entries committed after the build read the log's size (held there) are
 * in it too; never a wrong "no" meanwhile; grown twice as large when the
 * log outgrows it, again without losing what is committed during the build.
 */
static void filter_build(void **state)
{
        struct fix *f = *state;
        struct vt_service_filter *flt = NULL;
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        struct vt_hash h;
        uint64_t i, cap = 0, fp = 0;

        vt_service_close(f->s); /* the log is ours alone now */
        f->s = NULL;
        assert_int_equal(vt_log_open(f->dir, 0, &log, &d), 0);
        raw_append(log, NULL, 0, 3000);
        /* sync_max 0: built by the thread; min_cap 4096: it must grow past 4096 entries. */
        assert_int_equal(vt_service_filter_new(log, 0, 4096, 1, &flt, &d), 0);
        filter_wait_held(flt); /* it has read size 3000 */
        for (i = 0; i < 3000; i += 7) {
                leaf_of(i, &h);
                assert_true(vt_service_filter_maybe(flt, &h)); /* not ready: maybe */
        }
        raw_append(log, flt, 3000, 3500); /* past the size it read */
        vt_service_filter_hold(flt, 0);
        filter_wait_ready(flt, 0, &cap);
        assert_int_equal(cap, 8192); /* twice the size it saw, rounded up */
        for (i = 0; i < 3500; i++) {
                leaf_of(i, &h);
                assert_true(vt_service_filter_maybe(flt, &h));
        }
        /* Hashes never logged: almost all a proved "no". */
        for (i = 0; i < 10000; i++) {
                leaf_of(1000000 + i, &h);
                fp += (uint64_t)vt_service_filter_maybe(flt, &h);
        }
        assert_true(fp < 200);
        /* Outgrown (past 8192): a larger table is built beside it. */
        vt_service_filter_hold(flt, 1);
        raw_append(log, flt, 3500, 8500);
        filter_wait_held(flt); /* it has read the size (past 8192) */
        raw_append(log, flt, 8500, 9000);
        for (i = 0; i < 9000; i++) {
                leaf_of(i, &h);
                assert_true(vt_service_filter_maybe(flt, &h)); /* the old table still answers */
        }
        vt_service_filter_hold(flt, 0);
        filter_wait_ready(flt, 16384, &cap);
        assert_int_equal(cap, 32768);
        for (i = 0; i < 9000; i++) {
                leaf_of(i, &h);
                assert_true(vt_service_filter_maybe(flt, &h));
        }
        vt_service_filter_free(flt);
        vt_log_close(log);
}

/* ---- asynchronous submissions -------------------------------------------------------- */

struct async_wait {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int left;
};

static void async_done(void *arg)
{
        struct async_wait *w = arg;

        pthread_mutex_lock(&w->mu);
        w->left--;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
}

/* Until every started submission of w has called its done function. */
static void async_wait_all(struct async_wait *w)
{
        pthread_mutex_lock(&w->mu);
        while (w->left > 0)
                pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
}

/*
 * Linger: submissions handed over together (still being checked when the
 * first is ready) join one group commit instead of one commit each; a lone
 * submission is committed at once, never held for the linger.
 */
static void linger_gathers(void **state)
{
        struct fix *f = *state;
        enum { N = 1500 }; /* tens of ms of signature checks: many commits without a linger */
        static struct vt_buf envs[N], bundles[N];
        static struct vt_service_op *ops[N];
        const uint8_t *p[N];
        size_t lens[N], i;
        struct vt_service_stats st0, st1;
        struct vt_service_result r;
        struct async_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, N};
        struct vt_buf b;
        char name[32];
        uint64_t t0;

        for (i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "linger-%zu", i);
                make_env(&envs[i], SLSA, name, kb);
                vt_buf_init(&bundles[i]);
                p[i] = envs[i].p;
                lens[i] = envs[i].len;
        }
        /* A long linger: without it each op that the workers finish could go alone. */
        vt_service_set_batching(f->s, 0, 2000000);
        vt_service_stats(f->s, &st0);
        assert_int_equal(vt_service_submit_start_many(f->s, p, lens, N, async_done, &w, ops), N);
        async_wait_all(&w);
        for (i = 0; i < N; i++) {
                if (vt_service_submit_finish(f->s, ops[i], &bundles[i], &r) != 0)
                        fail_msg("submission %zu: %s", i, r.diag.msg);
                bundle_verifies(f, &bundles[i], f->root);
        }
        vt_service_stats(f->s, &st1);
        /* Every op was in the workers' hands when the first queued: one commit (two at most). */
        printf("linger: %llu commits for %d submissions\n",
               (unsigned long long)(st1.batches - st0.batches), N);
        assert_true(st1.batches - st0.batches <= 2);
        assert_int_equal(st1.batch_entries - st0.batch_entries, N);
        /* Alone, nothing to wait for: far quicker than the 2 s linger. */
        vt_buf_init(&b);
        vt_buf_release(&envs[0]);
        make_env(&envs[0], SLSA, "linger-alone", kb);
        t0 = vt_util_now_ns();
        if (vt_service_submit(f->s, envs[0].p, envs[0].len, &b, &r) != 0)
                fail_msg("alone: %s", r.diag.msg);
        assert_true(vt_util_now_ns() - t0 < 1000000000u);
        vt_service_set_batching(f->s, 0, 0);
        vt_buf_release(&b);
        for (i = 0; i < N; i++) {
                vt_buf_release(&envs[i]);
                vt_buf_release(&bundles[i]);
        }
}

/* Started submissions, more than a tile's worth: every bundle verifies, indexes dense. */
static void submit_async(void **state)
{
        struct fix *f = *state;
        enum { N = 600 };
        static struct vt_buf envs[N], bundles[N];
        static struct vt_service_op *ops[N];
        static uint8_t seen[N];
        struct vt_service_result r;
        struct async_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, N};
        char name[32];
        size_t i;

        memset(seen, 0, sizeof(seen));
        for (i = 0; i < N; i++) {
                snprintf(name, sizeof(name), "async-%zu", i);
                make_env(&envs[i], SLSA, name, kb);
                vt_buf_init(&bundles[i]);
        }
        /* Small batches, so the entries cross tile boundaries inside and between batches. */
        vt_service_set_batching(f->s, 97, 0);
        for (i = 0; i < N; i++)
                assert_int_equal(
                    vt_service_submit_start(f->s, envs[i].p, envs[i].len, async_done, &w, &ops[i]),
                    0);
        async_wait_all(&w);
        for (i = 0; i < N; i++) {
                if (vt_service_submit_finish(f->s, ops[i], &bundles[i], &r) != 0)
                        fail_msg("submission %zu: %s", i, r.diag.msg);
                assert_int_equal(r.existed, 0);
                assert_true(r.index < N);
                seen[r.index]++;
                bundle_verifies(f, &bundles[i], f->root);
        }
        for (i = 0; i < N; i++)
                assert_int_equal(seen[i], 1);
        assert_int_equal(vt_service_size(f->s), N);
        /* A refused one is finished with its error; fn is still called once. */
        w.left = 1;
        assert_int_equal(
            vt_service_submit_start(f->s, (const uint8_t *)"{}", 2, async_done, &w, &ops[0]), 0);
        async_wait_all(&w);
        bundles[0].len = 0;
        assert_int_equal(vt_service_submit_finish(f->s, ops[0], &bundles[0], &r), VT_EMALFORMED);
        assert_int_equal(bundles[0].len, 0);
        for (i = 0; i < N; i++) {
                vt_buf_release(&envs[i]);
                vt_buf_release(&bundles[i]);
        }
}

/*
 * Bundles written through a prepared bundler (vt_service_bundler_prepare(),
 * as POST /v1/entries:batch writes its reply) are byte for byte those
 * written one at a time: a group commit's consecutive entries after 300
 * older ones, with older entries among them, written in the prepared
 * order, in reverse (the look-up wraps) and with an entry not prepared.
 */
static void batch_bundles_same(void **state)
{
        struct fix *f = *state;
        enum { OLD = 300, N = 150 };
        static struct vt_buf envs[N], one[N], many[N];
        static struct vt_service_op *ops[N];
        static struct vt_service_result res[N];
        static uint64_t idx[N];
        const uint8_t *p[N];
        size_t lens[N], i, j, k, pass;
        struct vt_service_result r;
        struct vt_service_bundler bu;
        struct async_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, N};
        struct vt_diag d = {""};
        char name[32];
        int existed;

        /* The older entries, then a batch of new ones with 10 older ones among them. */
        for (i = 0; i < OLD; i += k) {
                k = OLD - i < N ? OLD - i : N;
                for (j = 0; j < k; j++) {
                        snprintf(name, sizeof(name), "old-%zu", i + j);
                        make_env(&envs[j], SLSA, name, kb);
                        vt_buf_init(&one[j]);
                        p[j] = envs[j].p;
                        lens[j] = envs[j].len;
                }
                assert_int_equal(vt_service_submit_batch(f->s, p, lens, k, one, res), 0);
                for (j = 0; j < k; j++) {
                        vt_buf_release(&envs[j]);
                        vt_buf_release(&one[j]);
                }
        }
        for (i = 0; i < N; i++) {
                if (i % 15 == 7)
                        snprintf(name, sizeof(name), "old-%zu", i * 2);
                else
                        snprintf(name, sizeof(name), "batch-%zu", i);
                make_env(&envs[i], SLSA, name, kb);
                vt_buf_init(&one[i]);
                vt_buf_init(&many[i]);
                p[i] = envs[i].p;
                lens[i] = envs[i].len;
        }
        assert_int_equal(vt_service_submit_start_many(f->s, p, lens, N, async_done, &w, ops), N);
        async_wait_all(&w);
        /* One at a time, each with a bundler of its own. */
        for (i = 0; i < N; i++)
                if (vt_service_submit_finish(f->s, ops[i], &one[i], &r) != 0)
                        fail_msg("submission %zu: %s", i, r.diag.msg);
        assert_int_equal(vt_service_size(f->s), OLD + N - 10);
        /*
         * Again (all logged now: the same indexes, fresh bundles of the same
         * checkpoint), through one prepared bundler.
         */
        for (pass = 0; pass < 3; pass++) {
                w.left = N;
                assert_int_equal(
                    vt_service_submit_start_many(f->s, p, lens, N, async_done, &w, ops), N);
                async_wait_all(&w);
                for (i = k = 0; i < N; i++) {
                        assert_int_equal(vt_service_submit_status(ops[i], &idx[k], &existed), 0);
                        assert_int_equal(existed, 1);
                        if (pass != 2 || i != N / 2)
                                k++; /* pass 2: one entry is left out */
                }
                vt_service_bundler_init(&bu);
                if (vt_service_bundler_prepare(f->s, &bu, idx, k, &d) != 0)
                        fail_msg("prepare: %s", d.msg);
                assert_non_null(bu.paths);
                for (k = 0; k < N; k++) {
                        i = pass == 1 ? N - 1 - k : k;
                        many[i].len = 0;
                        if (vt_service_submit_finish_with(f->s, ops[i], &bu, &many[i], &r) != 0)
                                fail_msg("submission %zu: %s", i, r.diag.msg);
                        if (many[i].len != one[i].len ||
                            memcmp(many[i].p, one[i].p, one[i].len) != 0)
                                fail_msg("pass %zu: bundle %zu differs from the one written alone",
                                         pass, i);
                }
                vt_service_bundler_release(&bu);
                assert_null(bu.paths);
        }
        bundle_verifies(f, &many[N - 1], f->root);
        for (i = 0; i < N; i++) {
                vt_buf_release(&envs[i]);
                vt_buf_release(&one[i]);
                vt_buf_release(&many[i]);
        }
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fix_setup, fix_teardown)
        const struct CMUnitTest tests[] = {
            T(submit_accepted),
            T(submit_idempotent),
            T(submit_refused),
            T(reads),
            T(subject_named_twice),
            T(tokens),
            T(root_open_rules),
            T(root_open_fresh),
            T(root_replace),
            T(concurrent_submit),
            T(submit_batch),
            T(large_commit_indexed),
            T(submit_async),
            T(linger_gathers),
            T(batch_bundles_same),
            T(token_cache),
            T(token_cache_lost_counter),
            T(filter_restart),
            T(filter_build),
            T(lookup_index),
        };
#undef T

        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        return cmocka_run_group_tests(tests, setup, teardown);
}
