/*
 * statement.c: in-toto Statement v1 (in-toto/attestation spec/v1,
 * statement.md, resource_descriptor.md, digest_set.md).
 *
 * A statement binds a predicate (predicateType + predicate) to subjects,
 * each identified by a DigestSet. We validate what the spec requires and
 * ignore what it tells consumers to ignore (unknown fields, README.md
 * "Parsing rules"). The parsed value keeps the whole JSON document, so
 * predicates can be read by the modules above (trace, policy) without a
 * second parse. The bytes are checked by jscan.c (the rules of
 * vt_encoding_json_parse()), then the statement rules by one walk over
 * jscan.c's reader (no tree), and only then is the tree built from the
 * checked bytes. vt_encoding_statement_scan() runs the same check and walk
 * and keeps only the predicate type and the sha256 digests: what the
 * service needs per envelope, with no jansson tree and, for a few subjects
 * and no escapes, no allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

/* see encoding.h */
void vt_encoding_statement_init(struct vt_encoding_statement *st)
{
        memset(st, 0, sizeof(*st));
}

/* see encoding.h */
void vt_encoding_statement_release(struct vt_encoding_statement *st)
{
        if (st == NULL)
                return;
        free(st->subjects);
        json_decref(st->json);
        vt_encoding_statement_init(st);
}

/*
 * digest_set.md "Supported algorithms": the ones encoded as lowercase hex,
 * with their length in hex characters (0: any even length > 0; -1: 40 or
 * 64, the SHA-1 or SHA-256 object ids of git).
 */
#define ALG(name, hexlen)                                                                          \
        {                                                                                          \
                name, sizeof(name) - 1, hexlen                                                     \
        }
static const struct {
        const char *alg;
        size_t len;
        int hexlen;
} hex_algs[] = {
    ALG("sha256", 64),     ALG("sha224", 56),     ALG("sha384", 96),    ALG("sha512", 128),
    ALG("sha512_224", 56), ALG("sha512_256", 64), ALG("sha3_224", 56),  ALG("sha3_256", 64),
    ALG("sha3_384", 96),   ALG("sha3_512", 128),  ALG("shake128", 0),   ALG("shake256", 0),
    ALG("blake2b", 0),     ALG("blake2s", 0),     ALG("ripemd160", 40), ALG("sm3", 64),
    ALG("gost", 0),        ALG("sha1", 40),       ALG("md5", 32),       ALG("dirHash", 64),
    ALG("gitCommit", -1),  ALG("gitTree", -1),    ALG("gitBlob", -1),   ALG("gitTag", -1),
};
#undef ALG

static int is_lower_hex(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return 1;
}

/*
 * Validate one DigestSet value v[0..n) of algorithm alg[0..algn) (both
 * decoded); returns a reason or NULL when it is fine.
 */
static const char *digest_value_problem(const char *alg, size_t algn, const char *v, size_t n)
{
        size_t i;

        if (n == 0)
                return "empty";
        if (n > 1024)
                return "longer than 1024 characters";
        for (i = 0; i < sizeof(hex_algs) / sizeof(hex_algs[0]); i++) {
                if (algn != hex_algs[i].len || memcmp(alg, hex_algs[i].alg, algn) != 0)
                        continue;
                if (!is_lower_hex(v, n))
                        return "not lowercase hex";
                if (hex_algs[i].hexlen > 0 && n != (size_t)hex_algs[i].hexlen)
                        return "wrong length for this algorithm";
                if (hex_algs[i].hexlen == 0 && n % 2 != 0)
                        return "odd number of hex characters";
                if (hex_algs[i].hexlen < 0 && n != 40 && n != 64)
                        return "not 40 or 64 hex characters";
                return NULL;
        }
        /* digest_set.md: consumers ignore algorithms they do not know. */
        return NULL;
}

/* 1 when s holds a control character (C0 or DEL). */
static int has_control(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return 1;
        return 0;
}

/* ---- the validation walk ---------------------------------------------------------- */
/*
 * One walk over jscan.c's reader holds every rule of a statement, and both
 * entry points run it: vt_encoding_statement_parse() builds its jansson tree
 * only once the walk accepted the bytes, vt_encoding_statement_scan() builds
 * none. So the two cannot disagree on what they accept, on the error code or
 * on the diagnostic.
 *
 * The walk reads the document once, in document order (jscan.c's streaming
 * reader: an object or array is entered where it stands, not measured
 * first). The rules have an order of their own, and it decides which failure
 * is reported: _type, predicateType, predicate, subject (present, an array,
 * its count), then each subject in turn: its name, its digest, the digest's
 * members in document order (the order jansson iterates them in, which the
 * tree version of these rules followed). So a failure found inside a value
 * is held back, its code kept and its message already in d, until the rules
 * before it passed; a failure of an earlier rule overwrites d.
 *
 * Strings are compared and measured decoded, as a jansson tree holds them;
 * a string with no escape is its own span of the input, so decoding (into
 * the walk's scratch buffers) happens only for strings with escapes.
 */
struct stwalk {
        int collect;                     /* keep the sha256 digests */
        struct vt_buf kbuf, vbuf, ptbuf; /* decoded keys, values and predicateType */
        const char *pt;                  /* predicateType, decoded: in the input or ptbuf */
        size_t ptn;
        size_t nsubjects;
        struct vt_hash hinl[VT_ENCODING_STATEMENT_DIGESTS_INLINE];
        struct vt_hash *h; /* the sha256 digests kept: hinl, or the heap past it */
        size_t nh, hcap;
};

static void stwalk_init(struct stwalk *w, int collect)
{
        w->collect = collect;
        vt_buf_init(&w->kbuf);
        vt_buf_init(&w->vbuf);
        vt_buf_init(&w->ptbuf);
        w->pt = "";
        w->ptn = 0;
        w->nsubjects = 0;
        w->h = w->hinl;
        w->nh = 0;
        w->hcap = VT_ENCODING_STATEMENT_DIGESTS_INLINE;
}

static void stwalk_release(struct stwalk *w)
{
        vt_buf_release(&w->kbuf);
        vt_buf_release(&w->vbuf);
        vt_buf_release(&w->ptbuf);
        if (w->h != w->hinl)
                free(w->h);
        w->h = w->hinl;
}

/* Keep the sha256 digest h, after those kept before. 0 or VT_ENOMEM. */
static int walk_keep(struct stwalk *w, const struct vt_hash *h)
{
        struct vt_hash *nh;
        size_t cap = w->hcap * 2;

        if (w->nh == w->hcap) {
                if (w->h == w->hinl) {
                        if ((nh = vt_util_reallocarray(NULL, cap, sizeof(*nh))) == NULL)
                                return VT_ENOMEM;
                        memcpy(nh, w->hinl, sizeof(w->hinl));
                } else if ((nh = vt_util_reallocarray(w->h, cap, sizeof(*nh))) == NULL) {
                        return VT_ENOMEM;
                }
                w->h = nh;
                w->hcap = cap;
        }
        w->h[w->nh++] = *h;
        return 0;
}

/* The decoded string v in *s, *n: its own bytes when it has no escape, else decoded into buf. */
static int walk_str(const struct vt_encoding_int_jval *v, struct vt_buf *buf, const char **s,
                    size_t *n, struct vt_diag *d)
{
        if (!v->esc) {
                *s = (const char *)v->p;
                *n = v->n;
                return 0;
        }
        if (vt_encoding_int_jscan_str(v, buf) != 0) {
                vt_diag_set(d, "statement: out of memory");
                return VT_ENOMEM;
        }
        *s = (const char *)buf->p;
        *n = buf->len;
        return 0;
}

/*
 * The precision that prints at most max bytes of a decoded string with
 * "%.*s", as "%.<max>s" printed the jansson string (strings hold no NUL:
 * jscan.c refuses \u0000).
 */
static int prec(size_t n, size_t max)
{
        return (int)(n < max ? n : max);
}

/*
 * KEY_IS(k, lit): whether the key k is the literal lit, compared decoded. A
 * key with no escape is compared in place, with the literal's length known
 * at compile time (the walk compares every key it meets).
 */
static int key_eq(const struct vt_encoding_int_jval *k, const char *lit, size_t litlen)
{
        if (!k->esc)
                return k->n == litlen && memcmp(k->p, lit, litlen) == 0;
        return vt_encoding_int_jscan_key_is(k, lit);
}
#define KEY_IS(k, lit) key_eq(k, lit, sizeof(lit) - 1)

/* Whether v (from jscan_next_open) is an object or array, which its iterator stands on. */
static int is_container(const struct vt_encoding_int_jval *v)
{
        return v->kind == '{' || v->kind == '[';
}

/*
 * Validate the digest of subject[i], the object *it stands on, and step *it
 * past it. *has says whether it has a sha256, then in *h when w collects.
 */
static int walk_digest(struct stwalk *w, struct vt_encoding_int_jiter *it, size_t i, int *has,
                       struct vt_hash *h, struct vt_diag *d)
{
        struct vt_encoding_int_jiter in;
        struct vt_encoding_int_jval k, v;
        const char *alg, *s, *why;
        size_t algn, sn, members = 0;
        int err = 0;

        vt_encoding_int_jscan_enter(it, &in);
        while (vt_encoding_int_jscan_next(&in, &k, &v)) {
                members++;
                if ((err = walk_str(&k, &w->kbuf, &alg, &algn, d)) != 0)
                        break;
                if (v.kind != '"') {
                        vt_diag_set(d, "statement: subject[%zu].digest.%.*s: not a string", i,
                                    prec(algn, 64), alg);
                        err = VT_EMALFORMED;
                        break;
                }
                if ((err = walk_str(&v, &w->vbuf, &s, &sn, d)) != 0)
                        break;
                if ((why = digest_value_problem(alg, algn, s, sn)) != NULL) {
                        vt_diag_set(d, "statement: subject[%zu].digest.%.*s: %s", i, prec(algn, 64),
                                    alg, why);
                        err = VT_EMALFORMED;
                        break;
                }
                if (algn == 6 && memcmp(alg, "sha256", 6) == 0) {
                        *has = 1;
                        /* Checked just above: 64 lowercase hex characters. */
                        if (w->collect && vt_encoding_hex_decode(s, sn, h->b, sizeof(h->b)) != 0) {
                                err = VT_EMALFORMED;
                                break;
                        }
                }
        }
        if (err == 0 && members == 0) {
                vt_diag_set(d, "statement: subject[%zu].digest: empty", i);
                err = VT_EMALFORMED;
        }
        if (err == 0)
                vt_encoding_int_jscan_leave(it, &in);
        else
                vt_encoding_int_jscan_skip(it);
        return err;
}

/*
 * Validate subject[i], the value o from jscan_next_open(arr), and step *arr
 * past it. Keeps its sha256 when w collects.
 */
static int walk_subject(struct stwalk *w, struct vt_encoding_int_jiter *arr,
                        const struct vt_encoding_int_jval *o, size_t i, struct vt_diag *d)
{
        struct vt_encoding_int_jiter in;
        struct vt_encoding_int_jval k, v, name = {0}; /* kind 0: absent */
        struct vt_hash h;
        const char *s;
        size_t sn;
        char digest = 0; /* its kind, 0 when absent */
        int has_sha256 = 0, derr = 0, err;

        if (o->kind != '{') {
                if (is_container(o))
                        vt_encoding_int_jscan_skip(arr);
                vt_diag_set(d, "statement: subject[%zu]: not an object", i);
                return VT_EMALFORMED;
        }
        /* jscan.c refused duplicate keys (compared decoded): each member is found once at most. */
        vt_encoding_int_jscan_enter(arr, &in);
        while (vt_encoding_int_jscan_next_open(&in, &k, &v)) {
                if (KEY_IS(&k, "digest")) {
                        digest = v.kind;
                        if (v.kind == '{') {
                                /* Its failure is held back: the name's rules come first. */
                                derr = walk_digest(w, &in, i, &has_sha256, &h, d);
                                continue;
                        }
                } else if (KEY_IS(&k, "name")) {
                        name = v;
                }
                if (is_container(&v))
                        vt_encoding_int_jscan_skip(&in);
        }
        vt_encoding_int_jscan_leave(arr, &in);

        if (name.kind != 0) {
                if (name.kind != '"') {
                        vt_diag_set(d, "statement: subject[%zu].name: not a string", i);
                        return VT_EMALFORMED;
                }
                /* The limit counts decoded bytes; no escape decodes longer than itself. */
                sn = name.n;
                if (name.esc && name.n > VT_ENCODING_STATEMENT_NAME_MAX &&
                    (err = walk_str(&name, &w->vbuf, &s, &sn, d)) != 0)
                        return err;
                if (sn > VT_ENCODING_STATEMENT_NAME_MAX) {
                        vt_diag_set(d, "statement: subject[%zu].name: longer than %d bytes", i,
                                    VT_ENCODING_STATEMENT_NAME_MAX);
                        return VT_ETOOBIG;
                }
        }
        /* statement.md: each subject MUST have digest set. */
        if (digest != '{') {
                vt_diag_set(d, "statement: subject[%zu].digest: %s", i,
                            digest == 0 ? "missing" : "not an object");
                return VT_EMALFORMED;
        }
        if (derr != 0)
                return derr;
        if (w->collect && has_sha256 && walk_keep(w, &h) != 0) {
                vt_diag_set(d, "statement: out of memory");
                return VT_ENOMEM;
        }
        return 0;
}

/*
 * Walk the subject array *it stands on and step *it past it: *count
 * elements; the code of the first subject that fails in *serr (0 when none
 * does), its message in d. Subjects past the limit are counted, not checked.
 */
static void walk_subjects(struct stwalk *w, struct vt_encoding_int_jiter *it, size_t *count,
                          int *serr, struct vt_diag *d)
{
        struct vt_encoding_int_jiter in;
        struct vt_encoding_int_jval v;
        size_t i;

        vt_encoding_int_jscan_enter(it, &in);
        for (i = 0; vt_encoding_int_jscan_next_open(&in, NULL, &v); i++) {
                if (*serr == 0 && i < VT_ENCODING_STATEMENT_SUBJECTS_MAX)
                        *serr = walk_subject(w, &in, &v, i, d);
                else if (is_container(&v))
                        vt_encoding_int_jscan_skip(&in);
        }
        vt_encoding_int_jscan_leave(it, &in);
        *count = i;
}

/*
 * Validate the statement p[0..n), which jscan.c passed: the rules of
 * encoding.h "Statements", in the order above. Fills w (pt, ptn,
 * nsubjects; h and nh when it collects).
 */
static int statement_walk(const uint8_t *p, size_t n, struct stwalk *w, struct vt_diag *d)
{
        static const size_t typelen = sizeof(VT_ENCODING_STATEMENT_TYPE) - 1;
        struct vt_encoding_int_jiter it;
        struct vt_encoding_int_jval k, v, type = {0}, ptype = {0}; /* kind 0: absent */
        char pred = 0, subjects = 0;                               /* kinds, 0: absent */
        const char *s;
        size_t sn, count = 0;
        int serr = 0, err;

        if (vt_encoding_int_jscan_root_iter(p, n, &it) != '{') {
                vt_diag_set(d, "statement: not a JSON object");
                return VT_EMALFORMED;
        }
        /* Unknown fields are ignored (README.md "Parsing rules"). */
        while (vt_encoding_int_jscan_next_open(&it, &k, &v)) {
                if (KEY_IS(&k, "subject")) {
                        subjects = v.kind;
                        if (v.kind == '[') {
                                /* Its failures are held back: the rules below come first. */
                                walk_subjects(w, &it, &count, &serr, d);
                                continue;
                        }
                } else if (KEY_IS(&k, "_type")) {
                        type = v;
                } else if (KEY_IS(&k, "predicateType")) {
                        ptype = v;
                } else if (KEY_IS(&k, "predicate")) {
                        pred = v.kind;
                }
                if (is_container(&v))
                        vt_encoding_int_jscan_skip(&it);
        }

        /* statement.md: _type is the URI of this version. */
        if (type.kind != '"') {
                vt_diag_set(d, "statement: _type: %s", type.kind == 0 ? "missing" : "not a string");
                return VT_EMALFORMED;
        }
        if ((err = walk_str(&type, &w->vbuf, &s, &sn, d)) != 0)
                return err;
        if (sn != typelen || memcmp(s, VT_ENCODING_STATEMENT_TYPE, typelen) != 0) {
                vt_diag_set(d, "statement: _type: '%.*s' is not '%s'", prec(sn, 80), s,
                            VT_ENCODING_STATEMENT_TYPE);
                return VT_EMALFORMED;
        }

        if (ptype.kind != '"') {
                vt_diag_set(d, "statement: predicateType: %s",
                            ptype.kind == 0 ? "missing" : "not a string");
                return VT_EMALFORMED;
        }
        if ((err = walk_str(&ptype, &w->ptbuf, &w->pt, &w->ptn, d)) != 0)
                return err;
        if (w->ptn == 0) {
                vt_diag_set(d, "statement: predicateType: empty");
                return VT_EMALFORMED;
        }
        if (w->ptn > VT_ENCODING_STATEMENT_URI_MAX) {
                vt_diag_set(d, "statement: predicateType: longer than %d bytes",
                            VT_ENCODING_STATEMENT_URI_MAX);
                return VT_ETOOBIG;
        }
        if (has_control(w->pt, w->ptn)) {
                vt_diag_set(d, "statement: predicateType: holds a control character");
                return VT_EMALFORMED;
        }

        if (pred != 0 && pred != '{') {
                vt_diag_set(d, "statement: predicate: not an object");
                return VT_EMALFORMED;
        }

        if (subjects != '[') {
                vt_diag_set(d, "statement: subject: %s",
                            subjects == 0 ? "missing" : "not an array");
                return VT_EMALFORMED;
        }
        if (count == 0) {
                vt_diag_set(d, "statement: subject: empty");
                return VT_EMALFORMED;
        }
        if (count > VT_ENCODING_STATEMENT_SUBJECTS_MAX) {
                vt_diag_set(d, "statement: subject: more than %d entries",
                            VT_ENCODING_STATEMENT_SUBJECTS_MAX);
                return VT_ETOOBIG;
        }
        if (serr != 0)
                return serr;
        w->nsubjects = count;
        return 0;
}

/* The size limit, jscan.c's check of the bytes, then the walk. */
static int statement_check(const uint8_t *p, size_t n, struct stwalk *w, struct vt_diag *d)
{
        int err;

        if (n > VT_ENCODING_STATEMENT_MAX) {
                vt_diag_set(d, "statement: larger than %d bytes", VT_ENCODING_STATEMENT_MAX);
                return VT_ETOOBIG;
        }
        if ((err = vt_encoding_int_jscan_check(p, n, VT_ENCODING_STATEMENT_MAX, d)) != 0) {
                vt_diag_prefix(d, "statement");
                return err;
        }
        return statement_walk(p, n, w, d);
}

/* The payloadType check of the *_envelope functions. */
static int check_payload_type(const struct vt_encoding_dsse *e, struct vt_diag *d)
{
        if (e->payload_type == NULL ||
            strcmp(e->payload_type, VT_ENCODING_INTOTO_PAYLOAD_TYPE) != 0 ||
            e->payload_type_len != strlen(VT_ENCODING_INTOTO_PAYLOAD_TYPE)) {
                vt_diag_set(d, "envelope: payloadType '%.80s' is not '%s'",
                            e->payload_type ? e->payload_type : "",
                            VT_ENCODING_INTOTO_PAYLOAD_TYPE);
                return VT_EMALFORMED;
        }
        return 0;
}

/* ---- the parsed statement (a jansson tree) ------------------------------------------ */

/*
 * Fill out from root, the tree of a statement of nsubjects subjects that the
 * walk accepted (so no check here: every member has the type the walk saw).
 * out owns root on success.
 */
static int statement_from_tree(json_t *root, size_t nsubjects, struct vt_encoding_statement *out,
                               struct vt_diag *d)
{
        struct vt_encoding_statement st;
        const json_t *subjects, *o, *v;
        size_t i;

        vt_encoding_statement_init(&st);
        st.predicate_type = json_string_value(json_object_get(root, "predicateType"));
        st.predicate = json_object_get(root, "predicate");
        subjects = json_object_get(root, "subject");
        if ((st.subjects = calloc(nsubjects, sizeof(*st.subjects))) == NULL) {
                vt_diag_set(d, "statement: out of memory");
                return VT_ENOMEM;
        }
        for (i = 0; i < nsubjects; i++) {
                struct vt_encoding_subject *sub = &st.subjects[i];

                o = json_array_get(subjects, i);
                sub->name = json_string_value(json_object_get(o, "name")); /* NULL when absent */
                sub->digest = json_object_get(o, "digest");
                if ((v = json_object_get(sub->digest, "sha256")) != NULL) {
                        /* Checked by the walk: 64 lowercase hex characters. */
                        if (vt_encoding_hex_decode(json_string_value(v), json_string_length(v),
                                                   sub->sha256.b, sizeof(sub->sha256.b)) != 0) {
                                free(st.subjects);
                                return VT_EMALFORMED;
                        }
                        sub->has_sha256 = 1;
                }
        }
        st.nsubjects = nsubjects;
        st.json = root;
        *out = st;
        return 0;
}

/* see encoding.h */
int vt_encoding_statement_parse(const uint8_t *p, size_t n, struct vt_encoding_statement *out,
                                struct vt_diag *d)
{
        struct vt_encoding_int_jval v;
        struct stwalk w;
        json_t *root = NULL;
        int err;

        /* Checked whole by jscan.c and the walk, then the tree built from the checked bytes. */
        stwalk_init(&w, 0);
        err = statement_check(p, n, &w, d);
        stwalk_release(&w);
        if (err != 0)
                return err;
        vt_encoding_int_jscan_root(p, n, &v);
        if ((err = vt_encoding_int_jscan_tree(&v, &root)) != 0) {
                vt_diag_set(d, "statement: out of memory");
                return err;
        }
        if ((err = statement_from_tree(root, w.nsubjects, out, d)) != 0)
                json_decref(root);
        return err;
}

/* see encoding.h */
int vt_encoding_statement_from_envelope(const struct vt_encoding_dsse *e,
                                        struct vt_encoding_statement *out, struct vt_diag *d)
{
        int err;

        if ((err = check_payload_type(e, d)) != 0)
                return err;
        return vt_encoding_statement_parse(e->payload, e->payload_len, out, d);
}

/* ---- the scanned statement (no tree) ------------------------------------------------ */

/* see encoding.h */
void vt_encoding_statement_digests_init(struct vt_encoding_statement_digests *sd)
{
        /* No memset: the inline arrays are only read up to the lengths. */
        sd->predicate_type[0] = '\0';
        sd->predicate_type_len = 0;
        sd->nsubjects = 0;
        sd->nsha256 = 0;
        sd->sha256 = sd->sha256_inline;
}

/* see encoding.h */
void vt_encoding_statement_digests_release(struct vt_encoding_statement_digests *sd)
{
        if (sd == NULL)
                return;
        if (sd->sha256 != sd->sha256_inline)
                free(sd->sha256);
        vt_encoding_statement_digests_init(sd);
}

/* see encoding.h */
int vt_encoding_statement_scan(const uint8_t *p, size_t n,
                               struct vt_encoding_statement_digests *out, struct vt_diag *d)
{
        struct stwalk w;
        int err;

        stwalk_init(&w, 1);
        if ((err = statement_check(p, n, &w, d)) != 0)
                goto out;
        /* The walk checked the length: at most VT_ENCODING_STATEMENT_URI_MAX bytes. */
        memcpy(out->predicate_type, w.pt, w.ptn);
        out->predicate_type[w.ptn] = '\0';
        out->predicate_type_len = w.ptn;
        out->nsubjects = w.nsubjects;
        out->nsha256 = w.nh;
        if (w.nh <= VT_ENCODING_STATEMENT_DIGESTS_INLINE) {
                memcpy(out->sha256_inline, w.h, w.nh * sizeof(*w.h));
                out->sha256 = out->sha256_inline;
        } else {
                /* The walk's heap array, handed over (room for more is fine). */
                out->sha256 = w.h;
                w.h = w.hinl;
        }
out:
        stwalk_release(&w);
        return err;
}

/* see encoding.h */
int vt_encoding_statement_scan_envelope(const struct vt_encoding_dsse *e,
                                        struct vt_encoding_statement_digests *out,
                                        struct vt_diag *d)
{
        int err;

        if ((err = check_payload_type(e, d)) != 0)
                return err;
        return vt_encoding_statement_scan(e->payload, e->payload_len, out, d);
}

/* Build {"digest":{"sha256":hex},"name":name} for subject s. */
static json_t *subject_json(const struct vt_encoding_subject *s)
{
        char hex[2 * VT_CRYPTO_HASH_LEN + 1];
        json_t *o = json_object(), *dg = json_object();

        vt_encoding_hex_encode(s->sha256.b, VT_CRYPTO_HASH_LEN, hex);
        if (o == NULL || dg == NULL || json_object_set_new(dg, "sha256", json_string(hex)) != 0 ||
            json_object_set(o, "digest", dg) != 0 ||
            (s->name != NULL && json_object_set_new(o, "name", json_string(s->name)) != 0)) {
                json_decref(o);
                json_decref(dg);
                return NULL;
        }
        json_decref(dg);
        return o;
}

/* see encoding.h */
int vt_encoding_statement_build(const struct vt_encoding_subject *subjects, size_t n,
                                const char *predicate_type, const json_t *predicate,
                                struct vt_buf *out, struct vt_diag *d)
{
        json_t *root = NULL, *arr = NULL, *names = NULL, *s;
        struct vt_buf tmp;
        size_t i;
        int err = VT_EINVAL;

        vt_buf_init(&tmp);
        if (n == 0) {
                vt_diag_set(d, "statement: no subject");
                return VT_EINVAL;
        }
        if (n > VT_ENCODING_STATEMENT_SUBJECTS_MAX) {
                vt_diag_set(d, "statement: more than %d subjects",
                            VT_ENCODING_STATEMENT_SUBJECTS_MAX);
                return VT_ETOOBIG;
        }
        if (predicate_type == NULL || *predicate_type == '\0' ||
            strlen(predicate_type) > VT_ENCODING_STATEMENT_URI_MAX ||
            has_control(predicate_type, strlen(predicate_type))) {
                vt_diag_set(d, "statement: predicate type is empty, too long or holds a control "
                               "character");
                return VT_EINVAL;
        }
        if (predicate != NULL && !json_is_object(predicate)) {
                vt_diag_set(d, "statement: the predicate is not a JSON object");
                return VT_EINVAL;
        }
        err = VT_ENOMEM;
        if ((root = json_object()) == NULL || (arr = json_array()) == NULL ||
            (names = json_object()) == NULL)
                goto out;
        for (i = 0; i < n; i++) {
                const char *nm = subjects[i].name;

                if (!subjects[i].has_sha256) {
                        vt_diag_set(d, "statement: subject %zu has no sha256 digest", i + 1);
                        err = VT_EINVAL;
                        goto out;
                }
                if (nm != NULL) {
                        /* json_string() wants UTF-8; names are paths, usually ASCII. */
                        if (strlen(nm) > VT_ENCODING_STATEMENT_NAME_MAX ||
                            json_object_get(names, nm) != NULL) {
                                vt_diag_set(d, "statement: subject name '%.80s' is %s", nm,
                                            strlen(nm) > VT_ENCODING_STATEMENT_NAME_MAX
                                                ? "too long"
                                                : "given twice");
                                err = VT_EINVAL;
                                goto out;
                        }
                        if (json_object_set_new(names, nm, json_true()) != 0) {
                                vt_diag_set(d, "statement: subject name '%.80s' is not UTF-8", nm);
                                err = VT_EINVAL;
                                goto out;
                        }
                }
                if ((s = subject_json(&subjects[i])) == NULL || json_array_append_new(arr, s) != 0)
                        goto out;
        }
        if ((s = json_string(predicate_type)) == NULL) {
                vt_diag_set(d, "statement: predicate type is not UTF-8");
                err = VT_EINVAL;
                goto out;
        }
        if (json_object_set_new(root, "predicateType", s) != 0 ||
            json_object_set_new(root, "_type", json_string(VT_ENCODING_STATEMENT_TYPE)) != 0 ||
            json_object_set(root, "subject", arr) != 0)
                goto out;
        if (json_object_set_new(root, "predicate",
                                predicate ? json_deep_copy(predicate) : json_object()) != 0)
                goto out;
        if ((err = vt_encoding_json_dump(root, JSON_COMPACT | JSON_SORT_KEYS, &tmp)) != 0)
                goto out;
        if (tmp.len > VT_ENCODING_STATEMENT_MAX) {
                vt_diag_set(d, "statement: larger than %d bytes", VT_ENCODING_STATEMENT_MAX);
                err = VT_ETOOBIG;
                goto out;
        }
        err = vt_buf_append(out, tmp.p, tmp.len);
out:
        vt_buf_release(&tmp);
        json_decref(names);
        json_decref(arr);
        json_decref(root);
        return err;
}
