/*
 * encoding.h: the byte formats veritrail reads and writes.
 *
 *   base64   RFC 4648 §4, padded; decoding is strict and canonical (one
 *            accepted encoding per value: no whitespace, no missing or
 *            extra padding, zero unused bits).
 *   hex      lowercase only on decode (key ids, digests).
 *   JSON     jansson, behind a size limit and a nesting limit; duplicate
 *            object keys are rejected (JSON_REJECT_DUPLICATES).
 *   DSSE     envelopes v1 and their PAE (section "DSSE" below).
 *   in-toto  Statement v1 (section "Statements" below).
 *   notes    C2SP signed-note, tlog-checkpoint, tlog-cosignature/v1
 *            (section "Signed notes" below).
 *
 * Prefix: vt_encoding_*.
 */
#ifndef VT_ENCODING_H
#define VT_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "veritrail/crypto.h"
#include "veritrail/util.h"

/* ---- base64 and hex ---------------------------------------------------- */

/* vt_encoding_base64_len(n): characters needed for n bytes, without the NUL. */
size_t vt_encoding_base64_len(size_t n);

/*
 * vt_encoding_base64_encode(p, n, out): write the padded base64 of p and a
 * NUL to out, which holds vt_encoding_base64_len(n) + 1 bytes.
 */
void vt_encoding_base64_encode(const uint8_t *p, size_t n, char *out);

/* vt_encoding_base64_append(b, p, n): append the base64 of p to b (no NUL counted). */
int vt_encoding_base64_append(struct vt_buf *b, const uint8_t *p, size_t n);

/*
 * vt_encoding_base64_decode(s, slen, out, cap, outlen): strict decode of
 * slen characters into out (cap bytes). VT_EMALFORMED for a character outside
 * the alphabet or a length not a multiple of 4, VT_ENONCANON for bad padding
 * or non-zero unused bits, VT_ETOOBIG when cap is too small.
 */
int vt_encoding_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                              size_t *outlen) VT_WARN_UNUSED;

/*
 * vt_encoding_base64_decode_buf(s, slen, out): decode and append to out;
 * on failure (the codes of vt_encoding_base64_decode()) out->len is as it was.
 */
int vt_encoding_base64_decode_buf(const char *s, size_t slen, struct vt_buf *out) VT_WARN_UNUSED;

/* vt_encoding_hex_encode(p, n, out): lowercase hex of p and a NUL; out holds 2n+1. */
void vt_encoding_hex_encode(const uint8_t *p, size_t n, char *out);

/*
 * vt_encoding_hex_decode(s, slen, out, n): exactly n bytes from exactly 2n
 * lowercase hex characters. 0 or VT_EMALFORMED.
 */
int vt_encoding_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n) VT_WARN_UNUSED;

/* ---- JSON ---------------------------------------------------------------- */

#define VT_ENCODING_JSON_MAX_DEPTH 32

/*
 * vt_encoding_json_parse(p, n, max, out, d): parse one JSON value of at most
 * max bytes (VT_ETOOBIG past it), nested at most VT_ENCODING_JSON_MAX_DEPTH
 * deep, with no duplicate keys, no NUL in strings and nothing after it but
 * white space. *out is a new reference the caller json_decref()s.
 * VT_EMALFORMED with "line L column C: reason" in d.
 */
int vt_encoding_json_parse(const uint8_t *p, size_t n, size_t max, json_t **out,
                           struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_json_dump(v, flags, out): append the serialisation of v to out.
 * Flags are jansson's (JSON_COMPACT | JSON_SORT_KEYS for canonical output).
 */
int vt_encoding_json_dump(const json_t *v, size_t flags, struct vt_buf *out);

/*
 * struct vt_encoding_json_array: what vt_encoding_json_array_scan() found.
 * Kinds are '{', '[', '"', '0' (a number), 't', 'f', 'n'.
 */
struct vt_encoding_json_array {
        int root;          /* the document's kind: '{' or '[' */
        size_t members;    /* root '{': how many members it has */
        int member;        /* root '{': the kind of the named member's value, 0 when absent */
        size_t n;          /* the elements of the array: the root, or the named member */
        size_t *off, *len; /* element i is the bytes p[off[i] .. off[i] + len[i]) */
};

/*
 * vt_encoding_json_array_scan(p, n, max, member, out, d): check p[0..n)
 * exactly as vt_encoding_json_parse() does (same limits, codes and
 * messages; no tree is built) and locate the elements of an array in it
 * without copying them: the root when it is an array, or, when member is
 * not NULL and the root is an object, the value of the root's member of that
 * name when it is an array. Each element is the exact span of its bytes (no
 * white space around it; white space inside). Fills the empty out; release
 * it with vt_encoding_json_array_release(). Cost: linear in n.
 */
int vt_encoding_json_array_scan(const uint8_t *p, size_t n, size_t max, const char *member,
                                struct vt_encoding_json_array *out,
                                struct vt_diag *d) VT_WARN_UNUSED;

/* vt_encoding_json_array_release(a): free what a holds and make it empty. */
void vt_encoding_json_array_release(struct vt_encoding_json_array *a);

/* ---- DSSE ---------------------------------------------------------------- */
/*
 * DSSE v1 (secure-systems-lab/dsse, envelope.md and protocol.md): a JSON
 * envelope
 *     {"payload":"<base64>","payloadType":"<type>",
 *      "signatures":[{"keyid":"<hint>","sig":"<base64>"}, ...]}
 * whose signatures are over the pre-authentication encoding
 *     PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 * with LEN the ASCII decimal byte length, no leading zeros.
 *
 * Parsing is strict and bounded: at most VT_ENCODING_DSSE_MAX bytes of JSON
 * (no duplicate keys, nothing after the object); payload and payloadType
 * are required strings, payloadType non-empty; signatures is a non-empty
 * array of at most VT_ENCODING_DSSE_SIGS_MAX objects, each with a base64
 * `sig` (non-empty) and an optional string `keyid` ("" counts as absent).
 * base64 may use the standard or the URL-safe alphabet (protocol.md: a
 * verifier MUST accept either), not both in one string; padding is required
 * and unused bits must be zero. Unknown fields are ignored (as the Go and
 * Python implementations do) and not written back. We always write the
 * standard padded alphabet, compact JSON with sorted keys.
 *
 * keyid is an unauthenticated hint (protocol.md): verification tries the
 * key it names first, then the other keys; one key never counts twice.
 */

#define VT_ENCODING_DSSE_MAX         (16 * 1024 * 1024)         /* bytes of envelope JSON */
#define VT_ENCODING_DSSE_PAYLOAD_MAX (12 * 1024 * 1024 - 65536) /* bytes of payload */
#define VT_ENCODING_DSSE_SIGS_MAX    64                         /* signatures in one envelope */
#define VT_ENCODING_DSSE_SIG_MAX     1024                       /* decoded bytes of one signature */
#define VT_ENCODING_DSSE_KEYID_MAX   256                        /* bytes of one keyid */
#define VT_ENCODING_DSSE_TYPE_MAX    1024                       /* bytes of payloadType */

/* The payloadType of an in-toto statement (in-toto attestation envelope.md). */
#define VT_ENCODING_INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"

/* One signature of an envelope. */
struct vt_encoding_dsse_sig {
        char *keyid; /* NUL-terminated, or NULL when absent */
        uint8_t *sig;
        size_t siglen;
};

/*
 * struct vt_encoding_dsse: an envelope, a caller-owned value. Initialise
 * with vt_encoding_dsse_init(), fill with vt_encoding_dsse_parse() or
 * vt_encoding_dsse_set_payload(), free with vt_encoding_dsse_release().
 * payload_type and payload are followed by a NUL that their lengths do not
 * count.
 *
 * payload_b64 is a memo of vt_encoding_dsse_parse(): the payload's base64
 * as the input held it when it was canonical standard base64 (what
 * vt_encoding_dsse_serialize() writes), kept inside payload's own
 * allocation (after its NUL, NUL-terminated), so serialize copies it instead
 * of encoding the payload again; it lives and dies with payload, never
 * points into the caller's input. NULL when there is none (envelopes built
 * with vt_encoding_dsse_set_payload(), URL-safe or long payloads).
 * Serialize uses it only while it still sits right after payload's NUL and
 * has the length of payload_len's base64, so replacing payload or changing
 * its length drops it; a caller that changes the payload's bytes in place
 * and then serializes must set payload_b64 to NULL first.
 */
struct vt_encoding_dsse {
        char *payload_type;
        size_t payload_type_len;
        uint8_t *payload;
        size_t payload_len;
        struct vt_encoding_dsse_sig *sigs;
        size_t nsigs;
        const char *payload_b64;
        size_t payload_b64_len;
};

/* vt_encoding_dsse_init(e): make e empty (no allocation). */
void vt_encoding_dsse_init(struct vt_encoding_dsse *e);

/* vt_encoding_dsse_release(e): free what e holds and make it empty. */
void vt_encoding_dsse_release(struct vt_encoding_dsse *e);

/*
 * vt_encoding_dsse_pae(type, tlen, body, blen, out): append PAE(type, body)
 * to out. Either may be empty ("DSSEv1 0  0 "). 0 or VT_ENOMEM (out
 * unchanged).
 */
int vt_encoding_dsse_pae(const char *type, size_t tlen, const uint8_t *body, size_t blen,
                         struct vt_buf *out);

/*
 * vt_encoding_dsse_parse(p, n, out, d): parse an envelope of n bytes (see
 * the rules above) into out, which must be empty (vt_encoding_dsse_init).
 * VT_ETOOBIG (more than VT_ENCODING_DSSE_MAX bytes, payload or a field over
 * its limit, more than VT_ENCODING_DSSE_SIGS_MAX signatures), VT_EMALFORMED
 * (not JSON, a field missing or of the wrong type, bad base64, ...),
 * VT_ENONCANON (base64 with wrong padding or non-zero unused bits),
 * VT_ENOMEM; d says which field ("envelope: signatures[1].sig: ...").
 * out is untouched on failure. Cost: linear in n.
 */
int vt_encoding_dsse_parse(const uint8_t *p, size_t n, struct vt_encoding_dsse *out,
                           struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_dsse_serialize(e, out): append the envelope as compact JSON
 * with sorted keys (payload, payloadType, signatures; keyid, sig), standard
 * padded base64, keyid omitted when absent, no trailing newline.
 * 0 or VT_ENOMEM. The output parses back to the same envelope.
 */
int vt_encoding_dsse_serialize(const struct vt_encoding_dsse *e, struct vt_buf *out);

/*
 * vt_encoding_dsse_set_payload(e, type, payload, n, d): make the empty
 * envelope e hold payloadType type (a non-empty UTF-8 string of at most
 * VT_ENCODING_DSSE_TYPE_MAX bytes) and a copy of the n payload bytes (at most
 * VT_ENCODING_DSSE_PAYLOAD_MAX), with no signature yet. VT_EINVAL,
 * VT_ETOOBIG, VT_ENOMEM; e is untouched on failure.
 */
int vt_encoding_dsse_set_payload(struct vt_encoding_dsse *e, const char *type,
                                 const uint8_t *payload, size_t n, struct vt_diag *d);

/*
 * vt_encoding_dsse_sign(e, k, d): append one signature by the private key k
 * over PAE(e's type, e's payload), with keyid = vt_crypto_key_id(k).
 * Ed25519 signs the PAE; ECDSA P-256 signs its SHA-256 and writes DER.
 * Refuses a second signature by the same key: VT_EEXIST when a signature
 * carries k's key id or, without a keyid, verifies with k. Also VT_ENOTPRIV,
 * VT_ETOOBIG (already VT_ENCODING_DSSE_SIGS_MAX signatures), VT_EINVAL (e
 * has no payloadType), VT_ENOMEM, VT_EINTERNAL. e is untouched on failure.
 * Cost: one signature, plus one verification per signature without keyid.
 */
int vt_encoding_dsse_sign(struct vt_encoding_dsse *e, const struct vt_crypto_key *k,
                          struct vt_diag *d) VT_WARN_UNUSED;

/* What verification concluded about one signature. */
struct vt_encoding_dsse_check {
        /*
         * 0              counted: it verifies with keys[key], counted once;
         * VT_EEXIST      it verifies with keys[key], which an earlier signature
         *                (or an identical key earlier in keys) already counted;
         * VT_EBADSIG     its keyid names a given key, and it verifies with none
         *                of the given keys;
         * VT_EUNKNOWNKEY its keyid is absent or names no given key, and it
         *                verifies with none of them;
         * VT_EMALFORMED  its length or shape cannot be a signature by the key
         *                its keyid names (e.g. 70 bytes for an Ed25519 key) or,
         *                without such a keyid, by any supported key type.
         */
        int status;
        size_t key; /* index into keys when status is 0 or VT_EEXIST, else SIZE_MAX */
};

/* struct vt_encoding_dsse_result: a verification's report, caller-owned. */
struct vt_encoding_dsse_result {
        size_t nvalid;    /* distinct keys with a valid signature */
        size_t threshold; /* as asked */
        size_t nsigs;     /* signatures in the envelope, = entries of sig[] used */
        struct vt_encoding_dsse_check sig[VT_ENCODING_DSSE_SIGS_MAX];
};

/*
 * vt_encoding_dsse_verify(e, keys, nkeys, threshold, r, d): verify e's
 * signatures over PAE(type, payload) with the given public (or private)
 * keys. Every signature is checked, the key its keyid names first, then
 * every key not yet counted; two keys with the same key id are one key.
 * Returns 0 when at least threshold distinct keys have a valid signature,
 * VT_ETHRESHOLD when fewer do (d: "envelope: 1 of 2 required signatures
 * verified"), VT_EINVAL for threshold 0 or an envelope with no signature,
 * VT_ENOMEM. r (may be NULL) receives the per-signature report whenever the
 * return is 0 or VT_ETHRESHOLD. The payloadType is not judged here. Cost:
 * usually one verification per signature; at most nkeys per signature
 * whose keyid is absent, unknown or wrong.
 */
int vt_encoding_dsse_verify(const struct vt_encoding_dsse *e,
                            const struct vt_crypto_key *const *keys, size_t nkeys, size_t threshold,
                            struct vt_encoding_dsse_result *r, struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_dsse_explain(e, keys, r, i, out): append one lower-case
 * sentence about signature i of a verification report to out, e.g.
 * "signature 2 (keyid 3f1c…): bad signature: does not verify with key
 * 3f1c…" (numbered from 1). 0 or VT_ENOMEM.
 */
int vt_encoding_dsse_explain(const struct vt_encoding_dsse *e,
                             const struct vt_crypto_key *const *keys,
                             const struct vt_encoding_dsse_result *r, size_t i, struct vt_buf *out);

/* ---- Statements ---------------------------------------------------------- */
/*
 * in-toto Statement v1 (in-toto/attestation spec/v1: statement.md,
 * resource_descriptor.md, digest_set.md), carried in a DSSE envelope of
 * payloadType VT_ENCODING_INTOTO_PAYLOAD_TYPE:
 *     {"_type":"https://in-toto.io/Statement/v1",
 *      "subject":[{"name":"<name>","digest":{"sha256":"<hex>"}}, ...],
 *      "predicateType":"<URI>","predicate":{...}}
 *
 * Validation is strict: the statement is a JSON object of at most
 * VT_ENCODING_STATEMENT_MAX bytes; `_type` is exactly the v1 URI; `subject`
 * is a non-empty array of at most VT_ENCODING_STATEMENT_SUBJECTS_MAX
 * objects. Each subject has a `digest` (statement.md: "each element MUST
 * have digest set"): a non-empty object whose values are strings, lowercase
 * hex of the right length for the algorithms digest_set.md defines as hex
 * (sha256: 64 characters), any non-empty string for other algorithms. A
 * subject's `name`, when present, is a string of at most
 * VT_ENCODING_STATEMENT_NAME_MAX bytes. `predicateType` is a non-empty
 * string with no control character; `predicate`, when present, is an
 * object (absent means {}). Unknown fields are ignored, as the spec's
 * parsing rules require.
 */

#define VT_ENCODING_STATEMENT_TYPE         "https://in-toto.io/Statement/v1"
#define VT_ENCODING_STATEMENT_MAX          VT_ENCODING_DSSE_PAYLOAD_MAX /* bytes */
#define VT_ENCODING_STATEMENT_SUBJECTS_MAX 16384 /* subjects in one statement */
#define VT_ENCODING_STATEMENT_NAME_MAX     4096  /* bytes of a subject name */
#define VT_ENCODING_STATEMENT_URI_MAX      1024  /* bytes of predicateType */

/* One subject (a ResourceDescriptor with a digest). */
struct vt_encoding_subject {
        const char *name;      /* NULL when absent */
        int has_sha256;        /* 1 when digest has a sha256 */
        struct vt_hash sha256; /* its value when has_sha256 */
        const json_t *digest;  /* parsed: the whole DigestSet object; ignored when building */
};

/*
 * struct vt_encoding_statement: a parsed statement, caller-owned. The
 * strings and JSON values point into json, which it owns; release with
 * vt_encoding_statement_release().
 */
struct vt_encoding_statement {
        json_t *json; /* the whole statement object */
        const char *predicate_type;
        const json_t *predicate; /* NULL when absent */
        struct vt_encoding_subject *subjects;
        size_t nsubjects;
};

/* vt_encoding_statement_init(st): make st empty (no allocation). */
void vt_encoding_statement_init(struct vt_encoding_statement *st);

/* vt_encoding_statement_release(st): free what st holds and make it empty. */
void vt_encoding_statement_release(struct vt_encoding_statement *st);

/*
 * vt_encoding_statement_parse(p, n, out, d): parse and validate a statement
 * of n bytes (rules above) into the empty out. VT_ETOOBIG (size, count or
 * name over its limit), VT_EMALFORMED (not JSON, wrong _type, a field
 * missing or of the wrong type, a bad digest), VT_ENOMEM; d names the field
 * ("statement: subject[2].digest.sha256: not 64 lowercase hex characters").
 * out is untouched on failure. Cost: linear in n.
 */
int vt_encoding_statement_parse(const uint8_t *p, size_t n, struct vt_encoding_statement *out,
                                struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_statement_from_envelope(e, out, d): check that e's
 * payloadType is VT_ENCODING_INTOTO_PAYLOAD_TYPE (VT_EMALFORMED otherwise)
 * and parse its payload as above. Signatures are not looked at.
 */
int vt_encoding_statement_from_envelope(const struct vt_encoding_dsse *e,
                                        struct vt_encoding_statement *out,
                                        struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_statement_build(subjects, n, predicate_type, predicate, out,
 * d): append a statement as compact JSON with sorted keys to out. Each of
 * the n (1..VT_ENCODING_STATEMENT_SUBJECTS_MAX) subjects needs has_sha256
 * and is written as {"digest":{"sha256":hex},"name":name} (name omitted
 * when NULL; names must be unique). predicate must be an object, or NULL
 * for {}. VT_EINVAL (with the reason in d), VT_ETOOBIG, VT_ENOMEM; nothing
 * is appended on failure. The output passes vt_encoding_statement_parse().
 */
int vt_encoding_statement_build(const struct vt_encoding_subject *subjects, size_t n,
                                const char *predicate_type, const json_t *predicate,
                                struct vt_buf *out, struct vt_diag *d);

/*
 * Scanning a statement without a tree: what the service needs of each
 * envelope (the predicate type, for the policy, and the subjects' sha256
 * digests) with no jansson tree and, in the common case, no allocation.
 * vt_encoding_statement_scan() runs the very checks of
 * vt_encoding_statement_parse() (one validation walk serves both), so the
 * two accept and refuse the same bytes with the same code and the same
 * diagnostic.
 */

/* sha256 digests a struct vt_encoding_statement_digests holds without allocating. */
#define VT_ENCODING_STATEMENT_DIGESTS_INLINE 8

/*
 * struct vt_encoding_statement_digests: what vt_encoding_statement_scan()
 * keeps of a statement, caller-owned.
 *   predicate_type  the decoded JSON string (escapes resolved), NUL-
 *                   terminated, predicate_type_len bytes: the same bytes as
 *                   vt_encoding_statement.predicate_type;
 *   nsubjects       the statement's subjects;
 *   sha256          the nsha256 sha256 digests of the subjects that have one,
 *                   in subject order (subjects without one are skipped).
 * sha256 points into the struct itself (sha256_inline) when nsha256 <=
 * VT_ENCODING_STATEMENT_DIGESTS_INLINE, else to the heap: pass the struct
 * by pointer, never copy it by value. Initialise with
 * vt_encoding_statement_digests_init(), release with
 * vt_encoding_statement_digests_release().
 */
struct vt_encoding_statement_digests {
        char predicate_type[VT_ENCODING_STATEMENT_URI_MAX + 1];
        size_t predicate_type_len;
        size_t nsubjects;
        size_t nsha256;
        struct vt_hash *sha256;
        struct vt_hash sha256_inline[VT_ENCODING_STATEMENT_DIGESTS_INLINE];
};

/* vt_encoding_statement_digests_init(sd): make sd empty (no allocation). */
void vt_encoding_statement_digests_init(struct vt_encoding_statement_digests *sd);

/*
 * vt_encoding_statement_digests_release(sd): free what sd holds and make it
 * empty. sd may be NULL.
 */
void vt_encoding_statement_digests_release(struct vt_encoding_statement_digests *sd);

/*
 * vt_encoding_statement_scan(p, n, out, d): validate the statement p[0..n)
 * exactly as vt_encoding_statement_parse() does (the rules above; same
 * return codes, same messages in d) and fill the empty out with its
 * predicate type and sha256 digests. out is untouched on failure. Cost:
 * linear in n; no jansson tree; allocates only for more than
 * VT_ENCODING_STATEMENT_DIGESTS_INLINE sha256 digests, for the strings it
 * reads that hold escapes, and where the JSON check does (objects of more
 * than 16 keys, nesting past 24 levels).
 */
int vt_encoding_statement_scan(const uint8_t *p, size_t n,
                               struct vt_encoding_statement_digests *out,
                               struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_statement_scan_envelope(e, out, d): the payloadType check of
 * vt_encoding_statement_from_envelope() (VT_EMALFORMED, same message), then
 * vt_encoding_statement_scan() of e's payload. Signatures are not looked at.
 */
int vt_encoding_statement_scan_envelope(const struct vt_encoding_dsse *e,
                                        struct vt_encoding_statement_digests *out,
                                        struct vt_diag *d) VT_WARN_UNUSED;

/* ---- Signed notes, checkpoints, cosignatures ----------------------------- */
/*
 * C2SP signed-note (signed-note.md), tlog-checkpoint (tlog-checkpoint.md) and
 * tlog-cosignature/v1 (tlog-cosignature.md, the Ed25519 type 0x04).
 *
 * A signed note is a text (non-empty, ending in '\n', may hold empty lines),
 * a blank line, and one or more signature lines
 *     "— <name> base64(keyhash4 || signature)\n"
 * (U+2014 em dash, space). The whole message is valid UTF-8 with no control
 * characters but '\n'. A key is named by (name, 32-bit key hash):
 *     key hash = SHA-256(name || 0x0A || type || public key)[:4], big-endian
 * and written as a verifier key (vkey):
 *     <name>+<8 lowercase hex key hash>+base64(type || public key)
 * Types: 0x01 Ed25519 over the note text; 0x04 cosignature/v1: Ed25519 over
 *     "cosignature/v1\ntime <T>\n" || note text
 * whose signature bytes are timestamp T (8 bytes big-endian) || 64-byte sig.
 *
 * Key names are non-empty, at most VT_ENCODING_NOTE_NAME_MAX bytes, valid
 * UTF-8, with no '+' and no Unicode space (Go's unicode.IsSpace set).
 */

#define VT_ENCODING_NOTE_MAX           (1024 * 1024) /* bytes in a whole signed note */
#define VT_ENCODING_NOTE_SIGS_MAX      100           /* signature lines in a note (as Go sumdb) */
#define VT_ENCODING_NOTE_NAME_MAX      255           /* bytes in a key name */
#define VT_ENCODING_ORIGIN_MAX         255           /* bytes in a checkpoint origin line */
#define VT_ENCODING_CHECKPOINT_EXT_MAX 1024          /* bytes of checkpoint extension lines */

#define VT_ENCODING_NOTE_ED25519  0x01 /* signature type: Ed25519 note signature */
#define VT_ENCODING_NOTE_COSIG_V1 0x04 /* signature type: timestamped Ed25519 cosignature */

/*
 * vt_encoding_note_key_hash(name, type, pub, publen): the signed-note key
 * hash SHA-256(name || '\n' || type || pub)[:4] read big-endian. Cannot fail.
 */
uint32_t vt_encoding_note_key_hash(const char *name, uint8_t type, const uint8_t *pub,
                                   size_t publen);

/*
 * vt_encoding_note_name_valid(name, n): 1 when n bytes of name are a valid
 * key name (non-empty, <= VT_ENCODING_NOTE_NAME_MAX, UTF-8, no '+', no
 * Unicode space, no control character), else 0.
 */
int vt_encoding_note_name_valid(const char *name, size_t n);

/*
 * vt_encoding_note_vkey(name, k, out): append the type 0x01 verifier key
 * "<name>+<hex8>+base64(0x01 || pk)" of the Ed25519 key k (private or
 * public) to out. 0, VT_EINVAL (invalid name), VT_EKEYTYPE (k is not
 * Ed25519), VT_ENOMEM. Nothing is appended on failure.
 */
int vt_encoding_note_vkey(const char *name, const struct vt_crypto_key *k, struct vt_buf *out);

/* A verifier: (name, key hash, type, public key). Opaque, vt_encoding_note_verifier_free(). */
struct vt_encoding_note_verifier;

/*
 * vt_encoding_note_verifier_parse(vkey, n, out, d): parse a type 0x01
 * (Ed25519) verifier key of n bytes (no trailing newline). Strict: valid
 * name, exactly 8 lowercase hex digits, canonical padded base64 of 0x01 and
 * 32 bytes, and a key hash that matches. VT_EMALFORMED (with the reason),
 * VT_ENONCANON (non-canonical base64), VT_EKEYTYPE (a type other than 0x01),
 * VT_ENOMEM. *out is set only on success; free it with
 * vt_encoding_note_verifier_free().
 */
int vt_encoding_note_verifier_parse(const char *vkey, size_t n,
                                    struct vt_encoding_note_verifier **out,
                                    struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_note_verifier_new(name, type, k, out, d): a verifier for the
 * public half of Ed25519 key k under name, of type VT_ENCODING_NOTE_ED25519
 * or VT_ENCODING_NOTE_COSIG_V1. It holds its own copy of the public key.
 * 0, VT_EINVAL (invalid name or type), VT_EKEYTYPE, VT_ENOMEM.
 */
int vt_encoding_note_verifier_new(const char *name, int type, const struct vt_crypto_key *k,
                                  struct vt_encoding_note_verifier **out, struct vt_diag *d);

/* vt_encoding_note_verifier_free(v): free v. NULL is a no-op. */
void vt_encoding_note_verifier_free(struct vt_encoding_note_verifier *v);

/* vt_encoding_note_verifier_name(v): the key name, a string owned by v. */
const char *vt_encoding_note_verifier_name(const struct vt_encoding_note_verifier *v);

/* vt_encoding_note_verifier_hash(v): the 32-bit key hash. */
uint32_t vt_encoding_note_verifier_hash(const struct vt_encoding_note_verifier *v);

/* vt_encoding_note_verifier_type(v): VT_ENCODING_NOTE_ED25519 or VT_ENCODING_NOTE_COSIG_V1. */
int vt_encoding_note_verifier_type(const struct vt_encoding_note_verifier *v);

/* vt_encoding_note_verifier_key(v): the public key, owned by v. */
const struct vt_crypto_key *
vt_encoding_note_verifier_key(const struct vt_encoding_note_verifier *v);

/* vt_encoding_note_verifier_vkey(v, out): append v's verifier key string to out. */
int vt_encoding_note_verifier_vkey(const struct vt_encoding_note_verifier *v, struct vt_buf *out);

/*
 * vt_encoding_note_text_valid(text, n, d): 0 when text is a valid note
 * text: non-empty, ends in '\n', valid UTF-8, no control character but '\n'.
 * Empty lines are allowed (the spec splits at the last blank line).
 * VT_EMALFORMED with the reason otherwise.
 */
int vt_encoding_note_text_valid(const uint8_t *text, size_t n, struct vt_diag *d);

/*
 * vt_encoding_note_sign(text, n, name, k, out, d): append to out the signed
 * note text || "\n" || "— <name> base64(keyhash || Ed25519 sig)\n" made with
 * the private Ed25519 key k (type 0x01). VT_EMALFORMED (invalid text),
 * VT_EINVAL (invalid name), VT_EKEYTYPE, VT_ENOTPRIV, VT_ETOOBIG, VT_ENOMEM.
 * Nothing is appended on failure.
 */
int vt_encoding_note_sign(const uint8_t *text, size_t n, const char *name,
                          const struct vt_crypto_key *k, struct vt_buf *out, struct vt_diag *d);

/*
 * vt_encoding_note_sig_line(text, n, name, k, out, d): as
 * vt_encoding_note_sign() but append only the signature line
 * "— <name> base64(...)\n", to add it to a note with
 * vt_encoding_note_add_sigs().
 */
int vt_encoding_note_sig_line(const uint8_t *text, size_t n, const char *name,
                              const struct vt_crypto_key *k, struct vt_buf *out, struct vt_diag *d);

/*
 * vt_encoding_note_add_sigs(msg, n, lines, nlines, out, d): append to out
 * the signed note msg with the signature lines in lines (one or more
 * complete "— name base64\n" lines) added. An existing line with the same
 * (name, key hash) as a new one is replaced, as Go's note.Sign does. msg and
 * lines are checked for structure only: no signature is verified here.
 * VT_EMALFORMED, VT_ETOOBIG (more than VT_ENCODING_NOTE_SIGS_MAX lines or
 * VT_ENCODING_NOTE_MAX bytes), VT_ENOMEM. Nothing is appended on failure.
 */
int vt_encoding_note_add_sigs(const uint8_t *msg, size_t n, const uint8_t *lines, size_t nlines,
                              struct vt_buf *out, struct vt_diag *d);

/* One signature line of an opened note. */
struct vt_encoding_note_sig {
        const char *name;   /* key name, NUL-terminated, owned by the note */
        uint32_t hash;      /* key hash (first 4 bytes of the decoded signature) */
        const uint8_t *sig; /* the signature bytes after the key hash, owned by the note */
        size_t siglen;
        /* the verifier (from the caller's list) that verified this line, or NULL
         * when no given verifier has this (name, hash): such lines are ignored */
        const struct vt_encoding_note_verifier *verifier;
        uint64_t timestamp; /* for a verified cosignature/v1 line: its time, else 0 */
};

/*
 * struct vt_encoding_note: an opened note, caller-owned; release with
 * vt_encoding_note_release(). text is an owned NUL-terminated copy of the
 * note text (its final '\n' included, the blank line not).
 */
struct vt_encoding_note {
        const uint8_t *text;
        size_t text_len;
        struct vt_encoding_note_sig *sigs; /* in message order, exact duplicates dropped */
        size_t nsigs;
        size_t nverified; /* lines with verifier != NULL */
        void *mem_;       /* private */
};

/*
 * vt_encoding_note_open(msg, n, verifiers, nverifiers, out, d): parse the
 * signed note msg and verify every signature line whose (name, key hash)
 * matches one of the verifiers (type 0x01 lines over the text, type 0x04
 * over the cosignature/v1 message). Semantics of signed-note and Go's
 * note.Open:
 *   VT_ETOOBIG     more than VT_ENCODING_NOTE_MAX bytes or
 *                  VT_ENCODING_NOTE_SIGS_MAX signature lines;
 *   VT_EMALFORMED  not a signed note (d says why: bad UTF-8, control
 *                  character, no blank line, line without "— ", bad name,
 *                  bad base64, signature shorter than 5 bytes, ...);
 *   VT_ENONCANON   non-canonical base64 in a signature;
 *   VT_EBADSIG     a line from a known key does not verify (the whole note
 *                  is rejected, d names the key);
 *   VT_EUNKNOWNKEY no line is from a known key;
 *   VT_EINVAL      two different verifiers have the (name, hash) of a line.
 * Lines from unknown keys are kept in out->sigs with verifier NULL. On
 * success *out holds the note (pointers into verifiers stay valid only as
 * long as the verifiers do); on failure *out is untouched. Cost: one
 * Ed25519 verification per known line.
 */
int vt_encoding_note_open(const uint8_t *msg, size_t n,
                          struct vt_encoding_note_verifier *const *verifiers, size_t nverifiers,
                          struct vt_encoding_note *out, struct vt_diag *d) VT_WARN_UNUSED;

/* vt_encoding_note_release(note): free what an opened note holds; zeroes it. */
void vt_encoding_note_release(struct vt_encoding_note *note);

/*
 * struct vt_encoding_checkpoint: the body of a tlog-checkpoint, a plain
 * value. ext holds the extension lines verbatim, each ending in '\n'
 * (ext_len 0 when none).
 */
struct vt_encoding_checkpoint {
        char origin[VT_ENCODING_ORIGIN_MAX + 1];
        uint64_t size;
        struct vt_hash root;
        char ext[VT_ENCODING_CHECKPOINT_EXT_MAX + 1];
        size_t ext_len;
};

/*
 * vt_encoding_checkpoint_parse(text, n, out, d): parse a checkpoint body (the
 * note text): origin line (non-empty, no control characters, UTF-8, at most
 * VT_ENCODING_ORIGIN_MAX bytes), tree size (decimal, no leading zero, fits
 * 64 bits), root hash (canonical base64 of 32 bytes), then optional
 * non-empty extension lines; every line ends in '\n'. VT_EMALFORMED or
 * VT_ENONCANON with "checkpoint line N: reason", VT_ETOOBIG. *out is set
 * only on success.
 */
int vt_encoding_checkpoint_parse(const uint8_t *text, size_t n, struct vt_encoding_checkpoint *out,
                                 struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_checkpoint_format(c, out): append the body "origin\nsize\n
 * base64(root)\n" and c->ext to out. VT_EINVAL if c is not valid (empty
 * origin, bad extension lines), VT_ENOMEM.
 */
int vt_encoding_checkpoint_format(const struct vt_encoding_checkpoint *c, struct vt_buf *out);

/*
 * vt_encoding_checkpoint_sign(c, name, k, out, d): format c and append the
 * signed note (type 0x01 signature by the private Ed25519 key k under name,
 * which should equal c->origin) to out. Errors as vt_encoding_note_sign().
 */
int vt_encoding_checkpoint_sign(const struct vt_encoding_checkpoint *c, const char *name,
                                const struct vt_crypto_key *k, struct vt_buf *out,
                                struct vt_diag *d);

/*
 * vt_encoding_checkpoint_open(msg, n, log_verifier, out, d): open the signed
 * checkpoint msg with the log's verifier (its signature must verify; other
 * lines, e.g. cosignatures, are ignored), parse the body and check that the
 * origin equals the verifier's name (tlog-checkpoint: the key name SHOULD
 * match the origin; we require it). Errors of vt_encoding_note_open() and
 * vt_encoding_checkpoint_parse(); VT_EMALFORMED for an origin mismatch.
 * *out is set only on success.
 */
int vt_encoding_checkpoint_open(const uint8_t *msg, size_t n,
                                const struct vt_encoding_note_verifier *log_verifier,
                                struct vt_encoding_checkpoint *out,
                                struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_checkpoint_open_note(msg, n, log_verifier, out, note, d): as
 * vt_encoding_checkpoint_open(), and on success also hands back the opened
 * note in *note (caller releases it with vt_encoding_note_release()), e.g.
 * to check its cosignatures with vt_encoding_cosig_verify(). On failure
 * neither *out nor *note is touched.
 */
int vt_encoding_checkpoint_open_note(const uint8_t *msg, size_t n,
                                     const struct vt_encoding_note_verifier *log_verifier,
                                     struct vt_encoding_checkpoint *out,
                                     struct vt_encoding_note *note,
                                     struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_cosig_vkey(name, k, out): append the type 0x04 (cosignature/v1)
 * verifier key "<name>+<hex8>+base64(0x04 || pk)" of Ed25519 key k.
 * Errors as vt_encoding_note_vkey().
 */
int vt_encoding_cosig_vkey(const char *name, const struct vt_crypto_key *k, struct vt_buf *out);

/*
 * vt_encoding_cosig_verifier_parse(vkey, n, out, d): as
 * vt_encoding_note_verifier_parse() for a cosigner key: type 0x04 only
 * (VT_EKEYTYPE otherwise).
 */
int vt_encoding_cosig_verifier_parse(const char *vkey, size_t n,
                                     struct vt_encoding_note_verifier **out,
                                     struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_cosig_sign(text, n, timestamp, name, k, out, d): cosign the
 * checkpoint body text (it must parse as a checkpoint) at POSIX time
 * timestamp (<= 2^63-1) with private Ed25519 key k under cosigner name:
 * append the signature line
 *     "— <name> base64(keyhash(0x04) || timestamp BE64 || Ed25519 sig)\n"
 * where the signature is over "cosignature/v1\ntime <timestamp>\n" || text.
 * Add it to the note with vt_encoding_note_add_sigs(). VT_EMALFORMED,
 * VT_EINVAL, VT_EKEYTYPE, VT_ENOTPRIV, VT_ENOMEM; nothing appended on failure.
 */
int vt_encoding_cosig_sign(const uint8_t *text, size_t n, uint64_t timestamp, const char *name,
                           const struct vt_crypto_key *k, struct vt_buf *out, struct vt_diag *d);

/*
 * vt_encoding_cosig_verify(note, cosigner, timestamp, d): find the line of
 * the opened note whose (name, key hash) is the cosigner's (a type 0x04
 * verifier) and verify it over the note's text; *timestamp (may be NULL)
 * gets its time. Every line by the cosigner must verify (a line verified by
 * vt_encoding_note_open() with this same verifier is not checked again).
 * 0, VT_EUNKNOWNKEY (no line from this cosigner), VT_EBADSIG (a line does not
 * verify, is not 72 bytes, or has a time above 2^63-1), VT_EINVAL (cosigner
 * is not type 0x04), VT_ENOMEM. Cost: one Ed25519 verification per line.
 */
int vt_encoding_cosig_verify(const struct vt_encoding_note *note,
                             const struct vt_encoding_note_verifier *cosigner, uint64_t *timestamp,
                             struct vt_diag *d) VT_WARN_UNUSED;

/* ---- Entries, tlog proofs and bundles ------------------------------------ */
/*
 * Entry (DESIGN.md §2; docs/FORMATS.md "Entries"): the log's leaf, a small
 * canonical record that commits to one DSSE envelope: its payloadType, the
 * SHA-256 of its payload and its signatures. Canonical JSON: compact, keys
 * sorted, no trailing newline, strings as jansson escapes them:
 *     {"mediaType":"application/vnd.veritrail.entry+json;version=1",
 *      "payloadSha256":"<64 lowercase hex>","payloadType":"<type>",
 *      "signatures":[{"keyid":"<keyid>","sig":"<base64>"}, ...]}
 * The signatures are the envelope's, in its order; keyid is omitted when the
 * envelope has none; sig is standard padded base64. An entry is at most
 * VT_ENCODING_ENTRY_MAX bytes, so it fits a C2SP entry bundle (uint16
 * length). The log's leaf hash is SHA-256(0x00 || entry bytes).
 *
 * The parser is strict: exactly these four members, the media type above,
 * the limits of DSSE (payloadType, keyid, signature sizes and count), and
 * the bytes must be the canonical encoding of what they say (VT_ENONCANON
 * otherwise), so one envelope has exactly one entry.
 */
#define VT_ENCODING_ENTRY_MEDIA_TYPE "application/vnd.veritrail.entry+json;version=1"
#define VT_ENCODING_ENTRY_MAX        65535 /* bytes of an entry (C2SP bundle uint16 length) */

/*
 * struct vt_encoding_entry: a parsed entry, caller-owned (init, parse,
 * release). payload_type is NUL-terminated; sigs as in an envelope.
 */
struct vt_encoding_entry {
        char *payload_type;
        size_t payload_type_len;
        struct vt_hash payload_sha256;
        struct vt_encoding_dsse_sig *sigs;
        size_t nsigs;
};

/* vt_encoding_entry_init(e): make e empty (no allocation). */
void vt_encoding_entry_init(struct vt_encoding_entry *e);

/* vt_encoding_entry_release(e): free what e holds and make it empty. */
void vt_encoding_entry_release(struct vt_encoding_entry *e);

/*
 * vt_encoding_entry_encode(env, out): append the canonical entry of the
 * envelope env to out. VT_EINVAL (env has no payloadType or no signature),
 * VT_ETOOBIG (the entry would exceed VT_ENCODING_ENTRY_MAX bytes: too many
 * or too large signatures), VT_ENOMEM; nothing is appended on failure.
 * Cost: one SHA-256 of the payload.
 */
int vt_encoding_entry_encode(const struct vt_encoding_dsse *env, struct vt_buf *out);

/*
 * vt_encoding_entry_encode_digest(env, out, payload_sha256): as
 * vt_encoding_entry_encode(), and on success the payload's SHA-256 (the
 * digest the entry holds) into *payload_sha256 (untouched on failure): a
 * caller that needs both hashes the payload once instead of twice.
 */
int vt_encoding_entry_encode_digest(const struct vt_encoding_dsse *env, struct vt_buf *out,
                                    struct vt_hash *payload_sha256);

/*
 * vt_encoding_entry_parse(p, n, out, d): parse the entry p[0..n) into the
 * empty out. VT_ETOOBIG (more than VT_ENCODING_ENTRY_MAX bytes),
 * VT_EMALFORMED (not JSON, a member missing, unknown or of the wrong type,
 * a wrong mediaType, bad hex or base64), VT_ENONCANON (valid but not the
 * canonical bytes), VT_ENOMEM; d names the member ("entry: signatures[2].sig:
 * ..."). out is untouched on failure.
 */
int vt_encoding_entry_parse(const uint8_t *p, size_t n, struct vt_encoding_entry *out,
                            struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_entry_check(p, n, env, d): does the entry p[0..n) commit to
 * the envelope env? 0 when it parses and its payload type, payload digest
 * and signatures (count, order, keyid, bytes) are env's; VT_EMISMATCH with
 * the first difference in d ("entry: payloadSha256 differs from the
 * envelope's payload"); the parser's errors for an entry that does not
 * parse. Cost: one parse and one SHA-256 of the payload.
 */
int vt_encoding_entry_check(const uint8_t *p, size_t n, const struct vt_encoding_dsse *env,
                            struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_entry_matches(e, env, d): vt_encoding_entry_check() for an
 * entry already parsed into e. 0 or VT_EMISMATCH. Cost: one SHA-256 of the
 * payload.
 */
int vt_encoding_entry_matches(const struct vt_encoding_entry *e, const struct vt_encoding_dsse *env,
                              struct vt_diag *d) VT_WARN_UNUSED;

/*
 * tlog-proof (C2SP tlog-proof@v1, docs/FORMATS.md "Proofs"): the text
 *     c2sp.org/tlog-proof@v1\n
 *     [extra <base64 of opaque data>\n]
 *     index <decimal, no leading zero>\n
 *     <base64 of one 32-byte hash>\n          zero or more, leaf side first
 *     \n
 *     <the signed checkpoint note, verbatim>
 * The parser is strict: exact header, canonical standard base64, at most
 * VT_ENCODING_TLOG_PROOF_HASHES_MAX hashes, a checkpoint that is a
 * structurally valid signed note (signatures are NOT verified here) whose
 * text is a valid checkpoint body, nothing after the note.
 */
#define VT_ENCODING_TLOG_PROOF_HEADER     "c2sp.org/tlog-proof@v1"
#define VT_ENCODING_TLOG_PROOF_HASHES_MAX 64    /* hashes in the inclusion path */
#define VT_ENCODING_TLOG_PROOF_EXTRA_MAX  65536 /* decoded bytes of extra data */
#define VT_ENCODING_TLOG_PROOF_MAX        (VT_ENCODING_NOTE_MAX + 96 * 1024) /* bytes of text */

/*
 * struct vt_encoding_tlog_proof: a parsed proof, caller-owned (init, parse,
 * release). checkpoint is an owned NUL-terminated copy of the signed note;
 * extra is NULL (has_extra 0) when the proof has no extra line.
 */
struct vt_encoding_tlog_proof {
        uint64_t index;
        struct vt_hash path[VT_ENCODING_TLOG_PROOF_HASHES_MAX];
        size_t npath;
        int has_extra;
        uint8_t *extra;
        size_t extra_len;
        uint8_t *checkpoint;
        size_t checkpoint_len;
};

/* vt_encoding_tlog_proof_init(p): make p empty (no allocation). */
void vt_encoding_tlog_proof_init(struct vt_encoding_tlog_proof *p);

/* vt_encoding_tlog_proof_release(p): free what p holds and make it empty. */
void vt_encoding_tlog_proof_release(struct vt_encoding_tlog_proof *p);

/*
 * vt_encoding_tlog_proof_parse(p, n, out, d): parse the proof text p[0..n)
 * into the empty out. VT_ETOOBIG (past VT_ENCODING_TLOG_PROOF_MAX bytes or
 * the hash or extra limits), VT_EMALFORMED ("tlog-proof line 3: ..."),
 * VT_ENONCANON (non-canonical base64 or a leading zero), VT_ENOMEM.
 * out is untouched on failure.
 */
int vt_encoding_tlog_proof_parse(const uint8_t *p, size_t n, struct vt_encoding_tlog_proof *out,
                                 struct vt_diag *d) VT_WARN_UNUSED;

/*
 * vt_encoding_tlog_proof_format(index, path, npath, extra, extra_len, note,
 * note_len, out): append the proof text to out. extra NULL means no extra
 * line (extra_len 1..VT_ENCODING_TLOG_PROOF_EXTRA_MAX otherwise); note is
 * the signed checkpoint, ending in '\n'. VT_EINVAL (npath over the limit, an
 * empty note or extra), VT_ENOMEM; nothing is appended on failure. The
 * output parses back to the same values.
 */
int vt_encoding_tlog_proof_format(uint64_t index, const struct vt_hash *path, size_t npath,
                                  const uint8_t *extra, size_t extra_len, const uint8_t *note,
                                  size_t note_len, struct vt_buf *out);

/*
 * Bundle (docs/FORMATS.md "Bundles"): what an operator carries to an
 * air-gapped site. JSON, written compact with sorted keys:
 *     {"attestations":[{"entry":"<base64 entry bytes>",
 *                       "envelope":{<DSSE envelope>},
 *                       "proof":"<tlog-proof@v1 text>"}, ...],
 *      "mediaType":"application/vnd.veritrail.bundle+json;version=1"}
 * The parser is strict: at most VT_ENCODING_BUNDLE_MAX bytes, exactly these
 * members (none unknown), 1..VT_ENCODING_BUNDLE_ATTESTATIONS_MAX
 * attestations, each envelope a DSSE envelope (vt_encoding_dsse_parse),
 * each entry canonical base64 of a parseable entry, each proof a parseable
 * tlog-proof. It checks shapes only: vt_policy_bundle_verify() (policy.h)
 * checks what they prove.
 */
#define VT_ENCODING_BUNDLE_MEDIA_TYPE       "application/vnd.veritrail.bundle+json;version=1"
#define VT_ENCODING_BUNDLE_MAX              (64u << 20) /* bytes of bundle JSON */
#define VT_ENCODING_BUNDLE_ATTESTATIONS_MAX 1024        /* attestations in one bundle */

/* One attestation of a bundle (parsed). */
struct vt_encoding_attestation {
        struct vt_encoding_dsse envelope;
        uint8_t *entry; /* the entry's bytes, owned */
        size_t entry_len;
        struct vt_encoding_entry parsed; /* the same entry, parsed */
        struct vt_encoding_tlog_proof proof;
};

/* struct vt_encoding_bundle: a parsed bundle, caller-owned (init, parse, release). */
struct vt_encoding_bundle {
        struct vt_encoding_attestation *atts;
        size_t n;
};

/* vt_encoding_bundle_init(b): make b empty (no allocation). */
void vt_encoding_bundle_init(struct vt_encoding_bundle *b);

/* vt_encoding_bundle_release(b): free what b holds and make it empty. */
void vt_encoding_bundle_release(struct vt_encoding_bundle *b);

/*
 * vt_encoding_bundle_parse(p, n, out, d): parse the bundle p[0..n) into the
 * empty out. VT_ETOOBIG, VT_EMALFORMED, VT_ENONCANON, VT_ENOMEM with d
 * naming the attestation and member ("bundle: attestations[1].proof:
 * tlog-proof line 4: ..."; attestations are numbered from 0 in JSON paths).
 * out is untouched on failure. Cost: linear in n.
 */
int vt_encoding_bundle_parse(const uint8_t *p, size_t n, struct vt_encoding_bundle *out,
                             struct vt_diag *d) VT_WARN_UNUSED;

/*
 * Writing a bundle: vt_encoding_bundle_begin(out) appends the opening
 * `{"attestations":[`; vt_encoding_bundle_add(out, first, env, env_len,
 * entry, entry_len, proof, proof_len) appends one attestation (first = 1 for
 * the first one, so no comma precedes it): env is the envelope's JSON object
 * as vt_encoding_dsse_serialize() writes it, embedded verbatim; entry is
 * base64-encoded; proof (tlog-proof text) is escaped as a JSON string.
 * vt_encoding_bundle_end(out) closes the array and adds the mediaType.
 * Each returns 0 or VT_ENOMEM (add also VT_EINVAL for a proof that is not
 * UTF-8) and appends nothing on failure; the caller discards a bundle whose
 * writing failed.
 */
int vt_encoding_bundle_begin(struct vt_buf *out);
int vt_encoding_bundle_add(struct vt_buf *out, int first, const uint8_t *env, size_t env_len,
                           const uint8_t *entry, size_t entry_len, const uint8_t *proof,
                           size_t proof_len);
int vt_encoding_bundle_end(struct vt_buf *out);

/*
 * Writing many bundles of one checkpoint (a server's replies): the proof
 * of each is the tlog-proof text of vt_encoding_tlog_proof_format() for
 * (index, path, note), and only index and path change from one to the next.
 *
 * vt_encoding_bundle_proof_note(note, n, out): append the signed note,
 * escaped as vt_encoding_bundle_add() escapes a proof's characters, without
 * the quotes: the tail of every such proof string. VT_EINVAL (empty, not
 * ending in '\n', not UTF-8), VT_ENOMEM; nothing is appended on failure.
 *
 * vt_encoding_bundle_add_proved(out, first, env, env_len, entry, entry_len,
 * index, path, npath, note_json, note_json_len): append what
 * vt_encoding_bundle_add() appends for that proof, byte for byte, with
 * note_json from vt_encoding_bundle_proof_note(): no proof text in between
 * and no second pass over it. VT_EINVAL (npath over the limit, no note),
 * VT_ENOMEM; nothing is appended on failure.
 */
int vt_encoding_bundle_proof_note(const uint8_t *note, size_t n, struct vt_buf *out);
int vt_encoding_bundle_add_proved(struct vt_buf *out, int first, const uint8_t *env, size_t env_len,
                                  const uint8_t *entry, size_t entry_len, uint64_t index,
                                  const struct vt_hash *path, size_t npath, const char *note_json,
                                  size_t note_json_len);

/*
 * The paths of one tree size end alike: two leaves' paths hold the same
 * siblings above the level where they part (every one but the lowest few
 * for the entries of one group commit). struct vt_encoding_path_memo keeps
 * the last path written and its text (each hash as the two characters \n
 * and its 44 base64 characters), so the next one encodes only the hashes it
 * does not end with. Caller-owned, about 5 KiB, no release;
 * vt_encoding_path_memo_init() empties it.
 *
 * vt_encoding_bundle_add_proved_memo(out, first, env, env_len, entry,
 * entry_len, index, path, npath, note_json, note_json_len, memo): what
 * vt_encoding_bundle_add_proved() appends, byte for byte, its path's text
 * taken from memo where the path ends as memo's does; memo then holds this
 * path. Same errors, nothing appended on failure (memo stays usable). memo
 * NULL: every hash encoded (vt_encoding_bundle_add_proved() is that call).
 */
#define VT_ENCODING_PATH_LINE 46 /* one hash of a path in a proof string: \n and 44 characters */
struct vt_encoding_path_memo {
        size_t n;                                            /* hashes in h (0: empty) */
        struct vt_hash h[VT_ENCODING_TLOG_PROOF_HASHES_MAX]; /* the path, leaf side first */
        char text[VT_ENCODING_TLOG_PROOF_HASHES_MAX * VT_ENCODING_PATH_LINE + 1];
};
void vt_encoding_path_memo_init(struct vt_encoding_path_memo *memo);
int vt_encoding_bundle_add_proved_memo(struct vt_buf *out, int first, const uint8_t *env,
                                       size_t env_len, const uint8_t *entry, size_t entry_len,
                                       uint64_t index, const struct vt_hash *path, size_t npath,
                                       const char *note_json, size_t note_json_len,
                                       struct vt_encoding_path_memo *memo);

#endif
