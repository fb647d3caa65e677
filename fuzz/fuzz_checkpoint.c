/*
 * fuzz_checkpoint.c: libFuzzer target for tlog-checkpoint bodies and
 * cosignature parsing.
 *
 * Properties checked beyond "no crash":
 *   - parsing is canonical: whatever parses formats back to exactly the
 *     input (one accepted encoding per checkpoint);
 *   - the output struct is untouched when parsing fails;
 *   - a checkpoint that parses can be cosigned, and the cosignature
 *     verifies on the note made of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_crypto_key *key;
static struct vt_encoding_note_verifier *cosigner;

static void init(void)
{
        if (key != NULL)
                return;
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &key, NULL) != 0 ||
            vt_encoding_note_verifier_new("fuzz.example/w", VT_ENCODING_NOTE_COSIG_V1, key,
                                          &cosigner, NULL) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vt_encoding_checkpoint c;
        struct vt_encoding_note note;
        struct vt_buf out, line, msg;
        uint64_t ts = 0;

        init();
        memset(&c, 0xa5, sizeof(c));
        if (vt_encoding_checkpoint_parse(data, size, &c, NULL) != 0) {
                if (c.size != 0xa5a5a5a5a5a5a5a5ULL || (uint8_t)c.origin[0] != 0xa5)
                        abort();
                return 0;
        }
        vt_buf_init(&out);
        if (vt_encoding_checkpoint_format(&c, &out) != 0 || out.len != size ||
            memcmp(out.p, data, size) != 0)
                abort();
        vt_buf_release(&out);

        /* Cosign the body and verify the cosignature on a note made of it. */
        vt_buf_init(&line);
        vt_buf_init(&msg);
        if (vt_encoding_cosig_sign(data, size, 1700000000, "fuzz.example/w", key, &line, NULL) !=
                0 ||
            vt_buf_append(&msg, data, size) != 0 || vt_buf_puts(&msg, "\n") != 0 ||
            vt_buf_append(&msg, line.p, line.len) != 0)
                abort();
        if (vt_encoding_note_open(msg.p, msg.len, &cosigner, 1, &note, NULL) != 0)
                abort();
        if (vt_encoding_cosig_verify(&note, cosigner, &ts, NULL) != 0 || ts != 1700000000)
                abort();
        vt_encoding_note_release(&note);
        vt_buf_release(&line);
        vt_buf_release(&msg);
        return 0;
}
