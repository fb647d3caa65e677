/*
 * bench_envelope.c: DSSE envelope verification throughput for a 1 KiB
 * in-toto statement, one core, for Ed25519 and ECDSA P-256, each beside the
 * raw signature check over the same PAE bytes measured in the same run:
 * libsodium crypto_sign_verify_detached() for Ed25519, OpenSSL
 * EVP_DigestVerify() for P-256. The ratio says what the envelope layer
 * (JSON parse, base64, PAE, key selection) costs on top of the signature.
 *
 *   envelope verify          vt_encoding_dsse_verify() on a parsed envelope
 *   envelope parse + verify  vt_encoding_dsse_parse() of the JSON bytes, then
 *                            verify: what a submission costs the service
 *
 * Then the JSON work of one submission, each step beside jansson doing the
 * same in the same run (the parsers used jansson before jscan.c; jansson's
 * bare json_loadb() is a lower bound of what they cost, so the ratios are
 * conservative): the batch split of a 64-envelope body
 * (vt_encoding_json_array_scan() against json_loadb() + json_dumpb() of each
 * element, as routes.c did), the envelope parse (vt_encoding_dsse_parse()),
 * the statement parse (vt_encoding_statement_parse()), and their sum, for
 * the small envelopes bench_serve submits and for the 1 KiB statement.
 * Beside the statement parse, not in the sum: the statement scan without a
 * tree (vt_encoding_statement_scan()), what the service needs of it.
 *
 * Then the service's parse path per envelope, as svc_parse() in
 * src/service/service.c runs it on a worker thread: vt_encoding_dsse_parse(),
 * vt_encoding_statement_scan_envelope(), vt_encoding_entry_encode_digest()
 * (the payload's SHA-256 with the entry), vt_encoding_dsse_serialize(), the
 * entry's SHA-256 and vt_merkle_leaf_hash(), into fresh buffers as the
 * service's are; beside it one SHA-256 of the envelope bytes (the limit:
 * the path reads them at least once). VT_BENCH_PARSE_ONLY=1 runs only
 * these two lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "bench.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/merkle.h"

#define STATEMENT_SIZE 1024

struct ctx {
        const struct vt_crypto_key *key;
        struct vt_encoding_dsse env; /* parsed */
        struct vt_buf json;          /* serialized */
        struct vt_buf pae;
        EVP_PKEY *pkey; /* P-256 only: the same public key, for OpenSSL directly */
};

static void die(const char *what)
{
        fprintf(stderr, "bench_envelope: %s\n", what);
        exit(1);
}

/* Run fn until bench_seconds() pass; operations per second. */
static double measure(int (*fn)(struct ctx *), struct ctx *c)
{
        double t0 = bench_now(), t, dur = bench_seconds();
        unsigned long n = 0;
        int i;

        do {
                for (i = 0; i < 64; i++)
                        if (fn(c) != 0)
                                die("an operation failed");
                n += 64;
                t = bench_now();
        } while (t - t0 < dur);
        return (double)n / (t - t0);
}

static int op_verify(struct ctx *c)
{
        struct vt_encoding_dsse_result r;

        return vt_encoding_dsse_verify(&c->env, &c->key, 1, 1, &r, NULL);
}

static int op_parse_verify(struct ctx *c)
{
        struct vt_encoding_dsse e;
        int err;

        vt_encoding_dsse_init(&e);
        err = vt_encoding_dsse_parse(c->json.p, c->json.len, &e, NULL);
        if (err == 0)
                err = vt_encoding_dsse_verify(&e, &c->key, 1, 1, NULL, NULL);
        vt_encoding_dsse_release(&e);
        return err;
}

static int op_sodium(struct ctx *c)
{
        return crypto_sign_verify_detached(c->env.sigs[0].sig, c->pae.p, c->pae.len,
                                           vt_crypto_key_ed25519_public(c->key));
}

static int op_openssl_ecdsa(struct ctx *c)
{
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        int ok;

        ok = m != NULL && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, c->pkey) == 1 &&
             EVP_DigestVerify(m, c->env.sigs[0].sig, c->env.sigs[0].siglen, c->pae.p, c->pae.len) ==
                 1;
        EVP_MD_CTX_free(m);
        return ok ? 0 : -1;
}

/* A statement of exactly STATEMENT_SIZE bytes, signed by k, in c. */
static void setup(struct ctx *c, const struct vt_crypto_key *k)
{
        struct vt_encoding_subject s[4];
        struct vt_buf stmt, pem;
        json_t *pred;
        size_t i, pad = 0;
        char name[32];
        BIO *bio;

        memset(c, 0, sizeof(*c));
        c->key = k;
        for (i = 0; i < 4; i++) {
                memset(&s[i], 0, sizeof(s[i]));
                snprintf(name, sizeof(name), "dist/artifact-%zu.tar.gz", i);
                s[i].name = strdup(name);
                s[i].has_sha256 = 1;
                vt_crypto_sha256((const uint8_t *)name, strlen(name), &s[i].sha256);
        }
        /* Grow the predicate's padding until the statement is exactly the size. */
        for (;;) {
                char *p = malloc(pad + 1);
                memset(p, 'x', pad);
                p[pad] = '\0';
                pred = json_pack("{s:s, s:s}", "result", "pass", "pad", p);
                free(p);
                vt_buf_init(&stmt);
                if (vt_encoding_statement_build(s, 4, "https://veritrail.example/test/v1", pred,
                                                &stmt, NULL) != 0)
                        die("cannot build the statement");
                json_decref(pred);
                if (stmt.len >= STATEMENT_SIZE)
                        break;
                pad += STATEMENT_SIZE - stmt.len;
                vt_buf_release(&stmt);
        }
        if (stmt.len != STATEMENT_SIZE)
                die("statement size");
        vt_encoding_dsse_init(&c->env);
        if (vt_encoding_dsse_set_payload(&c->env, VT_ENCODING_INTOTO_PAYLOAD_TYPE, stmt.p, stmt.len,
                                         NULL) != 0 ||
            vt_encoding_dsse_sign(&c->env, k, NULL) != 0)
                die("cannot sign");
        vt_buf_init(&c->json);
        vt_buf_init(&c->pae);
        if (vt_encoding_dsse_serialize(&c->env, &c->json) != 0 ||
            vt_encoding_dsse_pae(c->env.payload_type, c->env.payload_type_len, c->env.payload,
                                 c->env.payload_len, &c->pae) != 0)
                die("cannot serialize");
        if (vt_crypto_key_type(k) == VT_CRYPTO_KEY_ECDSA_P256) {
                vt_buf_init(&pem);
                if (vt_crypto_key_public_pem(k, &pem) != 0 ||
                    (bio = BIO_new_mem_buf(pem.p, (int)pem.len)) == NULL ||
                    (c->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL)
                        die("cannot load the P-256 key into OpenSSL");
                BIO_free(bio);
                vt_buf_release(&pem);
        }
        for (i = 0; i < 4; i++)
                free((char *)s[i].name);
        vt_buf_release(&stmt);
}

static void teardown(struct ctx *c)
{
        vt_encoding_dsse_release(&c->env);
        vt_buf_release(&c->json);
        vt_buf_release(&c->pae);
        EVP_PKEY_free(c->pkey);
}

/*
 * The machine is shared: measure the raw limit and the two envelope paths in
 * alternation, ROUNDS times, and keep the best rate of each, so that a
 * moment of contention does not fall on one side of a ratio only.
 */
#define ROUNDS 3

static void run(const char *alg, struct ctx *c, int (*raw)(struct ctx *), const char *raw_what)
{
        double lim = 0, v = 0, pv = 0, r;
        char what[3][64];
        int i;

        for (i = 0; i < ROUNDS; i++) {
                if ((r = measure(raw, c)) > lim)
                        lim = r;
                if ((r = measure(op_verify, c)) > v)
                        v = r;
                if ((r = measure(op_parse_verify, c)) > pv)
                        pv = r;
        }
        snprintf(what[0], sizeof(what[0]), "%s raw verify (limit)", alg);
        snprintf(what[1], sizeof(what[1]), "%s envelope verify", alg);
        snprintf(what[2], sizeof(what[2]), "%s envelope parse + verify", alg);
        bench_report(what[0], lim, "ops/s", 0, NULL);
        bench_report(what[1], v, "ops/s", lim, raw_what);
        bench_report(what[2], pv, "ops/s", lim, raw_what);
}

/* ---- JSON per envelope ------------------------------------------------------------ */

struct jctx {
        struct vt_buf env, stmt, batch; /* one envelope, its statement, 64 of them */
};

#define BATCH 64

static void j_batch_jansson(void *arg)
{
        struct jctx *j = arg;
        json_error_t e;
        json_t *v = json_loadb((const char *)j->batch.p, j->batch.len, JSON_REJECT_DUPLICATES, &e);
        struct vt_buf out;
        size_t i;

        if (v == NULL)
                die("batch: jansson");
        vt_buf_init(&out);
        for (i = 0; i < json_array_size(v); i++)
                if (vt_encoding_json_dump(json_array_get(v, i), JSON_COMPACT | JSON_ENCODE_ANY,
                                          &out) != 0)
                        die("batch: dump");
        vt_buf_release(&out);
        json_decref(v);
}

static void j_batch_scan(void *arg)
{
        struct jctx *j = arg;
        struct vt_encoding_json_array a;

        if (vt_encoding_json_array_scan(j->batch.p, j->batch.len, 64 << 20, "envelopes", &a,
                                        NULL) != 0 ||
            a.n != BATCH)
                die("batch: scan");
        vt_encoding_json_array_release(&a);
}

static void j_load(const struct vt_buf *b)
{
        json_error_t e;
        json_t *v = json_loadb((const char *)b->p, b->len, JSON_REJECT_DUPLICATES, &e);

        if (v == NULL)
                die("jansson");
        json_decref(v);
}

static void j_env_jansson(void *arg)
{
        j_load(&((struct jctx *)arg)->env);
}

static void j_env_parse(void *arg)
{
        struct jctx *j = arg;
        struct vt_encoding_dsse e;

        vt_encoding_dsse_init(&e);
        if (vt_encoding_dsse_parse(j->env.p, j->env.len, &e, NULL) != 0)
                die("envelope parse");
        vt_encoding_dsse_release(&e);
}

static void j_stmt_jansson(void *arg)
{
        j_load(&((struct jctx *)arg)->stmt);
}

static void j_stmt_parse(void *arg)
{
        struct jctx *j = arg;
        struct vt_encoding_statement st;

        vt_encoding_statement_init(&st);
        if (vt_encoding_statement_parse(j->stmt.p, j->stmt.len, &st, NULL) != 0)
                die("statement parse");
        vt_encoding_statement_release(&st);
}

static void j_stmt_scan(void *arg)
{
        struct jctx *j = arg;
        struct vt_encoding_statement_digests sd;

        vt_encoding_statement_digests_init(&sd);
        if (vt_encoding_statement_scan(j->stmt.p, j->stmt.len, &sd, NULL) != 0)
                die("statement scan");
        vt_encoding_statement_digests_release(&sd);
}

/* The statement of bench_serve's envelope x: one named subject, no predicate. */
static void serve_statement(uint64_t x, struct vt_buf *out)
{
        struct vt_encoding_subject sub;
        char name[64];

        memset(&sub, 0, sizeof(sub));
        snprintf(name, sizeof(name), "firmware-%llu.bin", (unsigned long long)x);
        sub.name = name;
        sub.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)&x, sizeof(x), &sub.sha256);
        if (vt_encoding_statement_build(&sub, 1, "https://slsa.dev/provenance/v1", NULL, out,
                                        NULL) != 0)
                die("cannot build the statement");
}

/* j for statements made by mk (or the one statement one), signed by k. */
static void jsetup(struct jctx *j, const struct vt_crypto_key *k, const struct vt_buf *one)
{
        struct vt_encoding_dsse e;
        struct vt_buf st;
        uint64_t x;

        vt_buf_init(&j->env);
        vt_buf_init(&j->stmt);
        vt_buf_init(&j->batch);
        vt_buf_init(&st);
        for (x = 0; x < BATCH; x++) {
                st.len = 0;
                if (one != NULL) {
                        if (vt_buf_append(&st, one->p, one->len) != 0)
                                die("out of memory");
                } else {
                        serve_statement(x, &st);
                }
                vt_encoding_dsse_init(&e);
                j->env.len = 0;
                if (vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len,
                                                 NULL) != 0 ||
                    vt_encoding_dsse_sign(&e, k, NULL) != 0 ||
                    vt_encoding_dsse_serialize(&e, &j->env) != 0 ||
                    vt_buf_append(&j->batch, x == 0 ? "[" : ",", 1) != 0 ||
                    vt_buf_append(&j->batch, j->env.p, j->env.len) != 0)
                        die("cannot make the batch");
                vt_encoding_dsse_release(&e);
        }
        if (vt_buf_append(&j->batch, "]", 1) != 0 || vt_buf_append(&j->stmt, st.p, st.len) != 0)
                die("out of memory");
        vt_buf_release(&st);
}

static void jrun(const char *what, const struct vt_crypto_key *k, const struct vt_buf *one)
{
        struct {
                const char *name;
                bench_op mine, ref;
                double div, r_mine, r_ref;
                int alt; /* another way to do the step before: not in the sum */
        } steps[] = {
            {"batch split (64)", j_batch_scan, j_batch_jansson, BATCH, 0, 0, 0},
            {"envelope parse", j_env_parse, j_env_jansson, 1, 0, 0, 0},
            {"statement parse", j_stmt_parse, j_stmt_jansson, 1, 0, 0, 0},
            {"statement scan (no tree)", j_stmt_scan, j_stmt_jansson, 1, 0, 0, 1},
        };
        double secs = bench_seconds() / 2, r, tm = 0, tr = 0;
        struct jctx j;
        char line[96];
        size_t i;
        int round;

        jsetup(&j, k, one);
        printf("JSON per envelope, %s: %zu-byte envelope, %zu-byte statement; jansson beside\n",
               what, j.env.len, j.stmt.len);
        for (round = 0; round < ROUNDS; round++)
                for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                        if ((r = bench_measure(steps[i].ref, &j, secs) * steps[i].div) >
                            steps[i].r_ref)
                                steps[i].r_ref = r;
                        if ((r = bench_measure(steps[i].mine, &j, secs) * steps[i].div) >
                            steps[i].r_mine)
                                steps[i].r_mine = r;
                }
        for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                snprintf(line, sizeof(line), "  %s", steps[i].name);
                bench_report(line, steps[i].r_mine, "env/s", steps[i].r_ref, "jansson");
                if (steps[i].alt)
                        continue;
                tm += 1 / steps[i].r_mine;
                tr += 1 / steps[i].r_ref;
        }
        bench_report("  all JSON of one submission", 1 / tm, "env/s", 1 / tr, "jansson");
        printf("  per envelope: %.2f us (jansson: %.2f us)\n", tm * 1e6, tr * 1e6);
        vt_buf_release(&j.env);
        vt_buf_release(&j.stmt);
        vt_buf_release(&j.batch);
}

/* ---- the service's parse path ---------------------------------------------------- */

struct sctx {
        struct vt_buf env, entry, canon; /* one envelope; the two outputs (fresh each time) */
};

static void s_path(void *arg)
{
        struct sctx *c = arg;
        struct vt_encoding_dsse e;
        struct vt_encoding_statement_digests st;
        struct vt_hash ph, eh, leaf;

        vt_encoding_dsse_init(&e);
        vt_encoding_statement_digests_init(&st);
        vt_buf_init(&c->entry);
        vt_buf_init(&c->canon);
        if (vt_encoding_dsse_parse(c->env.p, c->env.len, &e, NULL) != 0 ||
            vt_encoding_statement_scan_envelope(&e, &st, NULL) != 0 ||
            vt_buf_reserve(&c->canon, c->env.len + 64) != 0 ||
            vt_buf_reserve(&c->entry, 512 + 128 * e.nsigs) != 0 ||
            vt_encoding_entry_encode_digest(&e, &c->entry, &ph) != 0 ||
            vt_encoding_dsse_serialize(&e, &c->canon) != 0)
                die("service parse path");
        vt_crypto_sha256(c->entry.p, c->entry.len, &eh);
        vt_merkle_leaf_hash(c->entry.p, c->entry.len, &leaf);
        __asm__ __volatile__("" : : "r"(&ph), "r"(&eh), "r"(&leaf) : "memory");
        vt_encoding_statement_digests_release(&st);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&c->entry);
        vt_buf_release(&c->canon);
}

static void s_sha(void *arg)
{
        struct sctx *c = arg;
        struct vt_hash h;

        vt_crypto_sha256(c->env.p, c->env.len, &h);
        __asm__ __volatile__("" : : "r"(&h) : "memory");
}

/* The service's parse path for an envelope of statement one (bench_serve's when NULL). */
static void srun(const char *what, const struct vt_crypto_key *k, const struct vt_buf *one)
{
        struct vt_encoding_dsse e;
        struct vt_buf st;
        struct sctx c;
        double secs = bench_seconds() / 2, r, best = 0, lim = 0;
        char line[96];
        int round;

        vt_buf_init(&c.env);
        vt_buf_init(&c.entry);
        vt_buf_init(&c.canon);
        vt_buf_init(&st);
        if (one != NULL) {
                if (vt_buf_append(&st, one->p, one->len) != 0)
                        die("out of memory");
        } else {
                serve_statement(12345, &st);
        }
        vt_encoding_dsse_init(&e);
        if (vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len, NULL) !=
                0 ||
            vt_encoding_dsse_sign(&e, k, NULL) != 0 || vt_encoding_dsse_serialize(&e, &c.env) != 0)
                die("cannot make the envelope");
        vt_encoding_dsse_release(&e);
        for (round = 0; round < ROUNDS; round++) {
                if ((r = bench_measure(s_sha, &c, secs)) > lim)
                        lim = r;
                if ((r = bench_measure(s_path, &c, secs)) > best)
                        best = r;
        }
        snprintf(line, sizeof(line), "service parse path, %zu-byte envelope", c.env.len);
        bench_report(line, best, "env/s", lim, "SHA-256 of the envelope");
        printf("  per envelope (%s): %.2f us (SHA-256 of it: %.2f us)\n", what, 1e6 / best,
               1e6 / lim);
        vt_buf_release(&st);
        vt_buf_release(&c.env);
}

/* base64 of a 1 KiB payload, as a DSSE envelope carries it: decoded, and copied (the limit). */
struct b64ctx {
        uint8_t raw[1024], out[1024];
        char enc[1400];
        size_t enclen;
};

static void b64_decode_op(void *arg)
{
        struct b64ctx *b = arg;
        size_t n;

        if (vt_encoding_base64_decode(b->enc, b->enclen, b->out, sizeof(b->out), &n) != 0 ||
            n != sizeof(b->out))
                die("base64 decode");
}

static void b64_copy_op(void *arg)
{
        struct b64ctx *b = arg;

        memcpy(b->out, b->enc, sizeof(b->out));
        __asm__ __volatile__("" : : "r"(b->out) : "memory"); /* keep the copy */
}

static void b64run(void)
{
        struct b64ctx *b = calloc(1, sizeof(*b));
        double dec, cpy;
        size_t i;

        if (b == NULL)
                die("out of memory");
        for (i = 0; i < sizeof(b->raw); i++)
                b->raw[i] = (uint8_t)(i * 131 + 7);
        vt_encoding_base64_encode(b->raw, sizeof(b->raw), b->enc);
        b->enclen = strlen(b->enc);
        dec = bench_measure(b64_decode_op, b, bench_seconds());
        cpy = bench_measure(b64_copy_op, b, bench_seconds());
        bench_report("base64 decode, 1 KiB payload", dec, "ops/s", cpy, "memcpy of 1 KiB");
        printf("  per payload: %.2f us\n", 1e6 / dec);
        free(b);
}

int main(void)
{
        struct vt_crypto_key *ed = NULL, *ec = NULL;
        int parse_only = getenv("VT_BENCH_PARSE_ONLY") != NULL;
        struct ctx c;

        if (sodium_init() < 0 || vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &ed, NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ECDSA_P256, &ec, NULL) != 0)
                die("cannot make keys");

        if (!parse_only)
                jrun("bench_serve's envelopes", ed, NULL);
        srun("bench_serve's envelope", ed, NULL);
        setup(&c, ed);
        {
                struct vt_buf st;
                struct vt_encoding_dsse e;

                /* The 1 KiB statement, back out of the signed envelope. */
                vt_buf_init(&st);
                vt_encoding_dsse_init(&e);
                if (vt_encoding_dsse_parse(c.json.p, c.json.len, &e, NULL) != 0 ||
                    vt_buf_append(&st, e.payload, e.payload_len) != 0)
                        die("cannot read the statement back");
                srun("1 KiB statement", ed, &st);
                if (!parse_only)
                        jrun("1 KiB statement", ed, &st);
                vt_encoding_dsse_release(&e);
                vt_buf_release(&st);
        }
        if (parse_only) {
                teardown(&c);
                vt_crypto_key_free(ed);
                vt_crypto_key_free(ec);
                return 0;
        }
        b64run();
        printf("DSSE envelope, %d-byte in-toto statement, %zu-byte envelope, %zu-byte PAE; "
               "best of %d rounds of %.1fs\n",
               STATEMENT_SIZE, c.json.len, c.pae.len, ROUNDS, bench_seconds());
        run("Ed25519", &c, op_sodium, "libsodium verify, same PAE");
        teardown(&c);

        setup(&c, ec);
        run("ECDSA P-256", &c, op_openssl_ecdsa, "OpenSSL EVP verify, same PAE");
        teardown(&c);

        vt_crypto_key_free(ed);
        vt_crypto_key_free(ec);
        return 0;
}
