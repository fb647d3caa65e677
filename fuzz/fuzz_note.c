/*
 * fuzz_note.c: libFuzzer target for signed notes and verifier keys.
 *
 * The input is opened as a signed note with two known keys (an Ed25519 note
 * key and a cosignature/v1 key, from golang.org/x/mod/sumdb/note and a
 * public witness), parsed as a verifier key of both types, and used as the
 * note for vt_encoding_note_add_sigs(). Properties checked beyond "no crash":
 *   - an opened note's text is a prefix of the input, ends in '\n', and has
 *     at least one verified signature;
 *   - a parsed verifier key formats back to exactly the input;
 *   - a note with a signature line added still has the same structure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veritrail/encoding.h"

#define PETER_VKEY  "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define REMORA_VKEY "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
#define EXTRA_LINE                                                                                 \
        "\xe2\x80\x94 EnochRoot "                                                                  \
        "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"                                             \
        "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_encoding_note_verifier *vs[2];

static void init(void)
{
        if (vs[0] != NULL)
                return;
        if (vt_encoding_note_verifier_parse(PETER_VKEY, strlen(PETER_VKEY), &vs[0], NULL) != 0 ||
            vt_encoding_cosig_verifier_parse(REMORA_VKEY, strlen(REMORA_VKEY), &vs[1], NULL) != 0)
                abort();
}

static void check_vkey(const uint8_t *data, size_t size, int cosig)
{
        struct vt_encoding_note_verifier *v = NULL;
        struct vt_buf b;
        int err = cosig ? vt_encoding_cosig_verifier_parse((const char *)data, size, &v, NULL)
                        : vt_encoding_note_verifier_parse((const char *)data, size, &v, NULL);

        if (err != 0) {
                if (v != NULL)
                        abort(); /* output touched on failure */
                return;
        }
        vt_buf_init(&b);
        if (vt_encoding_note_verifier_vkey(v, &b) != 0 || b.len != size ||
            memcmp(b.p, data, size) != 0)
                abort(); /* not canonical: two spellings of one key */
        vt_buf_release(&b);
        vt_encoding_note_verifier_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vt_encoding_note note;
        struct vt_buf out;
        size_t i;
        int err;

        init();
        err = vt_encoding_note_open(data, size, vs, 2, &note, NULL);
        if (err == 0) {
                if (note.text_len == 0 || note.text_len >= size || note.nverified == 0 ||
                    note.text[note.text_len - 1] != '\n' ||
                    memcmp(note.text, data, note.text_len) != 0)
                        abort();
                for (i = 0; i < note.nsigs; i++)
                        if (note.sigs[i].name == NULL || note.sigs[i].name[0] == '\0')
                                abort();
                vt_encoding_note_release(&note);
        }

        check_vkey(data, size, 0);
        check_vkey(data, size, 1);

        vt_buf_init(&out);
        err = vt_encoding_note_add_sigs(data, size, (const uint8_t *)EXTRA_LINE, strlen(EXTRA_LINE),
                                        &out, NULL);
        if (err == 0) {
                /* The result is a well-formed note: only the keys can be unknown. */
                err = vt_encoding_note_open(out.p, out.len, NULL, 0, &note, NULL);
                if (err != VT_EUNKNOWNKEY)
                        abort();
        } else if (out.len != 0) {
                abort(); /* appended something on failure */
        }
        vt_buf_release(&out);
        return 0;
}
