/*
 * bench_service.c: the service pipeline at library level (service.h), no
 * HTTP: envelopes per second through vt_service_submit_batch() (parse,
 * registration check with one Ed25519 verification each on the service's
 * workers, entry, idempotency filter, group commit by the committer with
 * envelope and subject rows, bundle), durable (SQLite WAL,
 * synchronous=FULL); and offline bundle verification (policy.h) per second:
 * by one verifier for all bundles (its log key read once), then one
 * vt_policy_bundle_verify() call per bundle (the key read each time).
 *
 * Limits measured in the same run: Ed25519 verifications per second on one
 * core (libsodium, through vt_crypto_key_verify), times the cores used
 * (DESIGN.md §5: the service over HTTP should reach 75% of the machine's
 * verify limit; bundle verification should cost at most 1.2x its
 * signature checks: one for the checkpoint, one for the envelope).
 *
 *   VT_BENCH_SECONDS  time per measurement (default 1)
 *   VT_BENCH_N        envelopes to submit (default 20000)
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/policy.h"
#include "veritrail/service.h"

#define SLSA  "https://slsa.dev/provenance/v1"
#define BATCH 1000

static void die(const char *what, const struct vt_diag *d)
{
        fprintf(stderr, "bench_service: %s: %s\n", what, d != NULL ? d->msg : "");
        exit(1);
}

/* Ed25519 verifications per second on one core, over a PAE-sized message. */
static double verify_rate(const struct vt_crypto_key *k)
{
        uint8_t msg[400], sig[VT_CRYPTO_SIG_MAX];
        size_t siglen = 0;
        double t0, t;
        long n = 0;

        memset(msg, 'x', sizeof(msg));
        if (vt_crypto_key_sign(k, msg, sizeof(msg), sig, &siglen) != 0)
                die("sign", NULL);
        t0 = bench_now();
        do {
                for (int i = 0; i < 256; i++)
                        if (vt_crypto_key_verify(k, msg, sizeof(msg), sig, siglen) != 0)
                                die("verify", NULL);
                n += 256;
                t = bench_now() - t0;
        } while (t < bench_seconds());
        return (double)n / t;
}

int main(void)
{
        const struct vt_crypto_key *gov[1], *builders[1];
        const char *types[] = {SLSA}, *vk[1];
        struct vt_policy_bundle_verifier *bv = NULL;
        struct vt_crypto_key *kg = NULL, *kb = NULL;
        struct vt_policy_root *root = NULL;
        struct vt_service *s = NULL;
        struct vt_diag d = {""};
        struct vt_buf rb, *envs, *bundles, rep;
        struct vt_service_result *res;
        const uint8_t **ep;
        size_t *el, n, i, done;
        char dir[] = "/tmp/vt-bench-service.XXXXXX", path[256], cmd[300];
        const char *nenv = getenv("VT_BENCH_N");
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        double one, t0, t, rate;

        n = nenv != NULL && atol(nenv) > 0 ? (size_t)atol(nenv) : 20000;
        if (mkdtemp(dir) == NULL)
                die("mkdtemp", NULL);
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kg, &d) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kb, &d) != 0)
                die("keys", &d);
        gov[0] = kg;
        builders[0] = kb;
        if (vt_policy_root_new(gov, 1, 1, vt_util_unix_time() + 86400, &root, &d) != 0 ||
            vt_policy_root_set_role(root, "builder", builders, 1, 1, types, 1, &d) != 0 ||
            vt_policy_root_sign(root, kg, NULL, &d) != 0)
                die("root", &d);
        vt_buf_init(&rb);
        snprintf(path, sizeof(path), "%s/root.json", dir);
        if (vt_policy_root_serialize(root, &rb) != 0 ||
            vt_util_write_file(path, rb.p, rb.len, 0644, &d) != 0 ||
            vt_log_init(dir, "bench.example/log", &d) != 0 ||
            vt_service_open(dir, path, &s, &d) != 0)
                die("service", &d);

        /* The envelopes: one subject each, signed by the builder. */
        envs = calloc(n, sizeof(*envs));
        bundles = calloc(n, sizeof(*bundles));
        res = calloc(BATCH, sizeof(*res));
        ep = calloc(n, sizeof(*ep));
        el = calloc(n, sizeof(*el));
        if (envs == NULL || bundles == NULL || res == NULL || ep == NULL || el == NULL)
                die("memory", NULL);
        for (i = 0; i < n; i++) {
                struct vt_encoding_subject sub;
                struct vt_encoding_dsse e;
                struct vt_buf st;
                char name[32];

                memset(&sub, 0, sizeof(sub));
                snprintf(name, sizeof(name), "artifact-%zu", i);
                sub.name = name;
                sub.has_sha256 = 1;
                vt_crypto_sha256((const uint8_t *)name, strlen(name), &sub.sha256);
                vt_buf_init(&st);
                vt_encoding_dsse_init(&e);
                vt_buf_init(&envs[i]);
                vt_buf_init(&bundles[i]);
                if (vt_encoding_statement_build(&sub, 1, SLSA, NULL, &st, &d) != 0 ||
                    vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len,
                                                 &d) != 0 ||
                    vt_encoding_dsse_sign(&e, kb, &d) != 0 ||
                    vt_encoding_dsse_serialize(&e, &envs[i]) != 0)
                        die("envelope", &d);
                ep[i] = envs[i].p;
                el[i] = envs[i].len;
                vt_encoding_dsse_release(&e);
                vt_buf_release(&st);
        }

        one = verify_rate(kb);
        bench_report("Ed25519 verify (1 core, libsodium)", one, "verify/s", 0, NULL);

        /* Submissions, in batches of BATCH through the fan-out. */
        t0 = bench_now();
        for (done = 0; done < n; done += BATCH) {
                size_t m = n - done < BATCH ? n - done : BATCH;

                if (vt_service_submit_batch(s, ep + done, el + done, m, bundles + done, res) != 0) {
                        for (i = 0; i < m; i++)
                                if (res[i].err != 0)
                                        die("submit", &res[i].diag);
                }
        }
        t = bench_now() - t0;
        rate = (double)n / t;
        bench_report("service submit, durable, 1 sig each", rate, "entries/s", one * (double)cores,
                     "Ed25519 verify, all cores");
        {
                struct vt_service_stats st;

                vt_service_stats(s, &st);
                printf("  (%zu entries in %llu group commits, %.1f per commit; %llu idempotency "
                       "lookups in the store; %ld cores)\n",
                       n, (unsigned long long)st.batches,
                       st.batches ? (double)st.batch_entries / (double)st.batches : 0.0,
                       (unsigned long long)st.lookups, cores);
        }

        /* Parsing alone (bundle JSON, envelope, entry, tlog-proof, note structure). */
        t0 = bench_now();
        for (i = 0; i < n; i++) {
                struct vt_encoding_bundle pb;

                vt_encoding_bundle_init(&pb);
                if (vt_encoding_bundle_parse(bundles[i].p, bundles[i].len, &pb, &d) != 0)
                        die("bundle parse", &d);
                vt_encoding_bundle_release(&pb);
                if (bench_now() - t0 > bench_seconds())
                        break;
        }
        t = bench_now() - t0;
        bench_report("bundle parse only", (double)(i < n ? i + 1 : n) / t, "bundles/s", 0, NULL);

        /*
         * Offline verification of the bundles, with the root: two signatures
         * each. First by one verifier that checks them all (its log key read
         * once: a monitor's or an operator's way), then one call per bundle
         * (vt_policy_bundle_verify: the key read for each, as `veritrail proof
         * verify` does once per bundle file).
         */
        vk[0] = vt_service_vkey(s);
        vt_buf_init(&rep);
        if (vt_policy_bundle_verifier_new(vk, 1, root, &bv, &d) != 0)
                die("bundle verifier", &d);
        t0 = bench_now();
        for (i = 0; i < n; i++) {
                rep.len = 0;
                if (vt_policy_bundle_verifier_check(bv, bundles[i].p, bundles[i].len, &rep, &d) !=
                    0)
                        die("bundle verify", &d);
                if (bench_now() - t0 > bench_seconds())
                        break;
        }
        t = bench_now() - t0;
        vt_policy_bundle_verifier_free(bv);
        bench_report("bundle verify (checkpoint + envelope)", (double)(i < n ? i + 1 : n) / t,
                     "bundles/s", one / 2, "2 Ed25519 verify, 1 core");
        t0 = bench_now();
        for (i = 0; i < n; i++) {
                rep.len = 0;
                if (vt_policy_bundle_verify(bundles[i].p, bundles[i].len, vk, 1, root, &rep, &d) !=
                    0)
                        die("bundle verify", &d);
                if (bench_now() - t0 > bench_seconds())
                        break;
        }
        t = bench_now() - t0;
        bench_report("  one call per bundle (log key read each time)",
                     (double)(i < n ? i + 1 : n) / t, "bundles/s", one / 2,
                     "2 Ed25519 verify, 1 core");

        vt_buf_release(&rep);
        vt_service_close(s);
        vt_policy_root_free(root);
        vt_crypto_key_free(kg);
        vt_crypto_key_free(kb);
        for (i = 0; i < n; i++) {
                vt_buf_release(&envs[i]);
                vt_buf_release(&bundles[i]);
        }
        free(envs);
        free(bundles);
        free(res);
        free(ep);
        free(el);
        vt_buf_release(&rb);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                return 1;
        return 0;
}
