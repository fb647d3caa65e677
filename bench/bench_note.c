/*
 * bench_note.c: opening signed checkpoints against the signature checks they
 * need, in the same run.
 *
 *   checkpoint open        vt_encoding_checkpoint_open() of a signed
 *                          checkpoint (parse note, verify the log's Ed25519
 *                          signature, parse the body) versus one raw
 *                          libsodium crypto_sign_verify_detached() over the
 *                          same body;
 *   cosigned note open     vt_encoding_note_open() with the log key and one
 *                          cosignature/v1 witness key versus two raw
 *                          verifications (body; cosignature message).
 *
 * Target ratio >= 0.9: the parsing around a signature check is small next to
 * the check. Each pair is measured in alternating rounds, best kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

#define ROUNDS 3

struct state {
        struct vt_encoding_note_verifier *log, *wit;
        struct vt_buf signed_cp, cosigned, body, cosig_msg;
        uint8_t log_pk[32], wit_pk[32];
        uint8_t log_sig[64], wit_sig[64];
};

static volatile int sink;

static void compare(const char *what, bench_op ours, const char *limit_what, bench_op limit,
                    void *arg)
{
        double secs = bench_seconds() / ROUNDS, best_ours = 0, best_limit = 0, r;
        int i;

        for (i = 0; i < ROUNDS; i++) {
                if ((r = bench_measure(limit, arg, secs)) > best_limit)
                        best_limit = r;
                if ((r = bench_measure(ours, arg, secs)) > best_ours)
                        best_ours = r;
        }
        bench_report(what, best_ours, "opens/s", best_limit, limit_what);
}

static void op_checkpoint_open(void *arg)
{
        struct state *s = arg;
        struct vt_encoding_checkpoint c;

        if (vt_encoding_checkpoint_open(s->signed_cp.p, s->signed_cp.len, s->log, &c, NULL) != 0)
                abort();
        sink += (int)c.size;
}

static void op_raw_verify(void *arg)
{
        struct state *s = arg;

        if (crypto_sign_verify_detached(s->log_sig, s->body.p, s->body.len, s->log_pk) != 0)
                abort();
        sink++;
}

static void op_cosigned_open(void *arg)
{
        struct state *s = arg;
        struct vt_encoding_note_verifier *vs[2] = {s->log, s->wit};
        struct vt_encoding_note note;

        if (vt_encoding_note_open(s->cosigned.p, s->cosigned.len, vs, 2, &note, NULL) != 0 ||
            note.nverified != 2)
                abort();
        vt_encoding_note_release(&note);
        sink++;
}

static void op_raw_verify2(void *arg)
{
        struct state *s = arg;

        if (crypto_sign_verify_detached(s->log_sig, s->body.p, s->body.len, s->log_pk) != 0 ||
            crypto_sign_verify_detached(s->wit_sig, s->cosig_msg.p, s->cosig_msg.len, s->wit_pk) !=
                0)
                abort();
        sink++;
}

int main(void)
{
        struct state s;
        struct vt_crypto_key *lk = NULL, *wk = NULL;
        struct vt_encoding_checkpoint c;
        struct vt_buf line;
        size_t siglen, i;

        if (sodium_init() < 0)
                return 1;
        memset(&s, 0, sizeof(s));
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, "example.com/bench-log");
        c.size = 123456789;
        for (i = 0; i < 32; i++)
                c.root.b[i] = (uint8_t)(i * 13 + 1);
        vt_buf_init(&s.signed_cp);
        vt_buf_init(&s.cosigned);
        vt_buf_init(&s.body);
        vt_buf_init(&s.cosig_msg);
        vt_buf_init(&line);
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &lk, NULL) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &wk, NULL) != 0 ||
            vt_encoding_note_verifier_new(c.origin, VT_ENCODING_NOTE_ED25519, lk, &s.log, NULL) !=
                0 ||
            vt_encoding_note_verifier_new("witness.example/w1", VT_ENCODING_NOTE_COSIG_V1, wk,
                                          &s.wit, NULL) != 0 ||
            vt_encoding_checkpoint_format(&c, &s.body) != 0 ||
            vt_encoding_checkpoint_sign(&c, NULL, lk, &s.signed_cp, NULL) != 0 ||
            vt_encoding_cosig_sign(s.body.p, s.body.len, 1700000000, "witness.example/w1", wk,
                                   &line, NULL) != 0 ||
            vt_encoding_note_add_sigs(s.signed_cp.p, s.signed_cp.len, line.p, line.len, &s.cosigned,
                                      NULL) != 0)
                return 1;

        /* The raw side: the same keys and messages, straight into libsodium. */
        memcpy(s.log_pk, vt_crypto_key_ed25519_public(lk), 32);
        memcpy(s.wit_pk, vt_crypto_key_ed25519_public(wk), 32);
        if (vt_crypto_key_sign(lk, s.body.p, s.body.len, s.log_sig, &siglen) != 0 ||
            vt_buf_printf(&s.cosig_msg, "cosignature/v1\ntime 1700000000\n") != 0 ||
            vt_buf_append(&s.cosig_msg, s.body.p, s.body.len) != 0 ||
            vt_crypto_key_sign(wk, s.cosig_msg.p, s.cosig_msg.len, s.wit_sig, &siglen) != 0)
                return 1;

        compare("checkpoint open (1 Ed25519 signature)", op_checkpoint_open,
                "libsodium verify, same body", op_raw_verify, &s);
        compare("cosigned checkpoint note open (log+1 witness)", op_cosigned_open,
                "2 libsodium verifies, same messages", op_raw_verify2, &s);

        vt_buf_release(&line);
        vt_buf_release(&s.signed_cp);
        vt_buf_release(&s.cosigned);
        vt_buf_release(&s.body);
        vt_buf_release(&s.cosig_msg);
        vt_encoding_note_verifier_free(s.log);
        vt_encoding_note_verifier_free(s.wit);
        vt_crypto_key_free(lk);
        vt_crypto_key_free(wk);
        return 0;
}
