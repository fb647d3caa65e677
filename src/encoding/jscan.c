/*
 * jscan.c: a strict JSON scanner (RFC 8259) that accepts exactly what
 * vt_encoding_json_parse() accepts (jansson 2.14 with JSON_REJECT_DUPLICATES,
 * then the VT_ENCODING_JSON_MAX_DEPTH walk), without building a tree.
 *
 * Two parts:
 *   - the checker (jscan_run): one pass over the bytes, no recursion, no
 *     allocation for documents with small objects and shallow nesting. It
 *     refuses, as jansson does: a root that is not an object or an array
 *     (RFC 8259 §2 allows any value; jansson without JSON_DECODE_ANY does
 *     not), anything but white space (§2: space, tab, LF, CR) after the root,
 *     numbers with a leading zero or without digits around '.' or after 'e'
 *     (§6), integers outside int64 and reals that overflow a double
 *     (jansson's json_int_t and strtod), strings with a control character,
 *     a bad escape, a lone or reversed surrogate or \u0000 (§7), bytes that
 *     are not UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 *     U+10FFFF; §8.1), duplicate object keys compared after unescaping
 *     (§4 leaves them open; we refuse them), values nested deeper than
 *     jansson's 2048 levels. Then, on a document that passed, values deeper
 *     than VT_ENCODING_JSON_MAX_DEPTH are VT_ETOOBIG, as in json.c.
 *   - the reader (vt_encoding_int_jscan_*): walks a document the checker
 *     passed, trusting its syntax: object members and array elements as
 *     spans of the input, strings decoded on demand, and a jansson tree when
 *     a caller needs one.
 *
 * Duplicate keys: an object's first 16 keys are compared one by one; past
 * that the object gets a hash table keyed with a per-process random SipHash
 * key (libsodium crypto_shorthash), so neither many keys nor chosen keys make
 * the check quadratic.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
/* SSE2 for the string scans (VT_JSCAN_PORTABLE: the word tricks instead, to test them). */
#if defined(__SSE2__) && !defined(VT_JSCAN_PORTABLE)
#define JSCAN_SSE2 1
#include <emmintrin.h>
#endif

#include "encoding/encoding_int.h"
#include "veritrail/encoding.h"

/* jansson's JSON_PARSER_MAX_DEPTH: deeper is a syntax error there, so here too. */
#define JSCAN_HARD_DEPTH 2048
/* Keys an object holds before it gets a hash table. */
#define JSCAN_LINEAR_KEYS 16

/* ---- bytes ---------------------------------------------------------------------- */

#if !defined(JSCAN_SSE2)
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static uint64_t load8(const uint8_t *q)
{
        uint64_t w;

        memcpy(&w, q, sizeof(w));
        return w;
}

/* Nonzero when a byte of w equals c (exact as a truth value). */
static uint64_t has_byte(uint64_t w, uint8_t c)
{
        uint64_t x = w ^ (ONES * c);

        return (x - ONES) & ~x & HIGHS;
}

/* Nonzero when a byte of w needs a look in a string: < 0x20, '"', '\\' or >= 0x80. */
static uint64_t str_special(uint64_t w)
{
        return (w & HIGHS) | ((w - ONES * 0x20) & ~w & HIGHS) | has_byte(w, '"') |
               has_byte(w, '\\');
}
#endif

/*
 * The first byte of q[0..e) that needs a look in a string body (str_special
 * for the checker, only '"' or '\\' for the reader of checked strings), or
 * a point where fewer than 16 (8) bytes remain (the byte loops finish there).
 * Sixteen bytes a step with SSE2 (every x86-64 has it), else eight with the
 * word tricks above; the lowest flagged byte is exact in both (a borrow of
 * the word tricks only runs into higher bytes, later in memory).
 */
static const uint8_t *str_skip(const uint8_t *q, const uint8_t *e, int checked)
{
#if defined(JSCAN_SSE2)
        const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
                      sp = _mm_set1_epi8(0x20);

        while (e - q >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
                __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs));
                unsigned mask;

                /* Signed bytes: < 0x20 is a control character or a byte >= 0x80. */
                if (!checked)
                        m = _mm_or_si128(m, _mm_cmplt_epi8(v, sp));
                mask = (unsigned)_mm_movemask_epi8(m);
                if (mask != 0)
                        return q + __builtin_ctz(mask);
                q += 16;
        }
#else
        while (e - q >= 8) {
                uint64_t w = load8(q),
                         m = checked ? has_byte(w, '"') | has_byte(w, '\\') : str_special(w);
                if (m != 0) {
                        /* The lowest flagged byte is the first in memory on little-endian only. */
                        const uint16_t one = 1;
                        uint8_t lsb;

                        memcpy(&lsb, &one, 1);
                        return lsb ? q + (__builtin_ctzll(m) >> 3) : q;
                }
                q += 8;
        }
#endif
        return q;
}

static int is_ws(uint8_t c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const uint8_t *skip_ws(const uint8_t *q, const uint8_t *e)
{
        while (q < e && is_ws(*q))
                q++;
        return q;
}

static int hexval(uint8_t c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* The value of the 4 hex digits at q, or -1. */
static long hex4(const uint8_t *q)
{
        int a = hexval(q[0]), b = hexval(q[1]), c = hexval(q[2]), d = hexval(q[3]);

        if (a < 0 || b < 0 || c < 0 || d < 0)
                return -1;
        return ((long)a << 12) | (b << 8) | (c << 4) | d;
}

/*
 * Length of the UTF-8 sequence at q (before e), 0 when it is not one
 * (RFC 3629 §4: the second byte's range depends on the first).
 */
static size_t utf8_len(const uint8_t *q, const uint8_t *e)
{
        uint8_t c = q[0], lo = 0x80, hi = 0xBF;
        size_t n, i;

        if (c >= 0xC2 && c <= 0xDF)
                n = 2;
        else if (c >= 0xE0 && c <= 0xEF)
                n = 3;
        else if (c >= 0xF0 && c <= 0xF4)
                n = 4;
        else
                return 0;
        if (c == 0xE0)
                lo = 0xA0; /* overlong */
        else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        else if (c == 0xF0)
                lo = 0x90; /* overlong */
        else if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        if ((size_t)(e - q) < n || q[1] < lo || q[1] > hi)
                return 0;
        for (i = 2; i < n; i++)
                if (q[i] < 0x80 || q[i] > 0xBF)
                        return 0;
        return n;
}

/* Append code point cp as UTF-8 at o; returns the end. */
static uint8_t *put_utf8(uint8_t *o, unsigned long cp)
{
        if (cp < 0x80) {
                *o++ = (uint8_t)cp;
        } else if (cp < 0x800) {
                *o++ = (uint8_t)(0xC0 | (cp >> 6));
                *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
                *o++ = (uint8_t)(0xE0 | (cp >> 12));
                *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
                *o++ = (uint8_t)(0xF0 | (cp >> 18));
                *o++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        }
        return o;
}

/*
 * Decode the body q[0..e) of a string the checker passed into out (room
 * for e - q bytes: no escape decodes longer than itself); returns the
 * decoded length.
 */
static size_t decode(const uint8_t *q, const uint8_t *e, uint8_t *out)
{
        uint8_t *o = out;
        unsigned long cp, lo;

        while (q < e) {
                const uint8_t *b = memchr(q, '\\', (size_t)(e - q));
                size_t run = b ? (size_t)(b - q) : (size_t)(e - q);

                memcpy(o, q, run);
                o += run;
                q += run;
                if (q == e)
                        break;
                switch (q[1]) {
                case 'b':
                        *o++ = '\b';
                        break;
                case 'f':
                        *o++ = '\f';
                        break;
                case 'n':
                        *o++ = '\n';
                        break;
                case 'r':
                        *o++ = '\r';
                        break;
                case 't':
                        *o++ = '\t';
                        break;
                case 'u':
                        cp = (unsigned long)hex4(q + 2);
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                /* RFC 8259 §7: a surrogate pair, checked before. */
                                lo = (unsigned long)hex4(q + 8);
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                q += 6;
                        }
                        o = put_utf8(o, cp);
                        q += 4;
                        break;
                default: /* '"', '\\', '/' */
                        *o++ = q[1];
                }
                q += 2;
        }
        return (size_t)(o - out);
}

/* ---- the checker ------------------------------------------------------------------ */

struct jframe {
        size_t start;  /* offset of its '{' or '[' */
        size_t keys0;  /* objects: its first key in keys[] */
        size_t arena0; /* objects: arena length when it opened */
        uint32_t *tab; /* objects past JSCAN_LINEAR_KEYS keys: 1 + key index, 0 free */
        size_t tabcap; /* a power of two */
        uint8_t kind;  /* '{' or '[' */
        uint8_t rec;   /* record the spans of its elements */
};

struct jkey {
        size_t off, n; /* into the input, or into the arena when arena */
        uint64_t hash; /* when the object has a table */
        int arena;
};

struct jscan {
        const uint8_t *b, *e;
        struct jframe finl[24], *f;
        size_t fcap, depth, maxdepth;
        struct jkey kinl[32], *k;
        size_t kn, kcap;
        struct vt_buf arena; /* decoded keys that had escapes */
        /* Recording (vt_encoding_json_array_scan) when rec is not NULL. */
        struct vt_encoding_json_array *rec;
        const char *member;
        size_t reccap;
        int member_next; /* the next value is the root's named member */
        /* The first error. */
        const char *why;
        size_t pos;
        int err;
};

static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static uint8_t hash_key[crypto_shorthash_KEYBYTES];

static void hash_init(void)
{
        if (sodium_init() < 0)
                memset(hash_key, 0x5a, sizeof(hash_key)); /* still correct, only predictable */
        else
                randombytes_buf(hash_key, sizeof(hash_key));
}

static uint64_t key_hash(const uint8_t *p, size_t n)
{
        uint8_t h[crypto_shorthash_BYTES];
        uint64_t v;

        crypto_shorthash(h, p, n, hash_key);
        memcpy(&v, h, sizeof(v));
        return v;
}

static int fail(struct jscan *s, const uint8_t *at, const char *why)
{
        if (s->err == 0) {
                s->err = VT_EMALFORMED;
                s->why = why;
                s->pos = (size_t)(at - s->b);
        }
        return -1;
}

static int nomem(struct jscan *s)
{
        if (s->err == 0)
                s->err = VT_ENOMEM;
        return -1;
}

static const uint8_t *key_bytes(const struct jscan *s, const struct jkey *k)
{
        return k->arena ? s->arena.p + k->off : s->b + k->off;
}

/* Put key index i into the table of f (which has room). */
static void tab_put(struct jframe *f, const struct jkey *keys, size_t i)
{
        size_t m = f->tabcap - 1, j = (size_t)keys[i].hash & m;

        while (f->tab[j] != 0)
                j = (j + 1) & m;
        f->tab[j] = (uint32_t)(i + 1);
}

/* Give f a table of cap slots holding its keys so far. */
static int tab_grow(struct jscan *s, struct jframe *f, size_t cap)
{
        uint32_t *t = calloc(cap, sizeof(*t));
        size_t i;

        if (t == NULL || cap > UINT32_MAX) {
                free(t);
                return nomem(s);
        }
        free(f->tab);
        f->tab = t;
        f->tabcap = cap;
        for (i = f->keys0; i < s->kn; i++)
                tab_put(f, s->k, i);
        return 0;
}

/*
 * grow(arr, inl, cap, elem): arr (*cap elements of elem bytes, the inline
 * array inl until it first grows) doubled on the heap; *cap follows. NULL
 * when out of memory (arr is kept).
 */
static void *grow(void *arr, void *inl, size_t *cap, size_t elem)
{
        size_t n = *cap * 2;
        void *p = arr == inl ? malloc(n * elem) : vt_util_reallocarray(arr, n, elem);

        if (p == NULL)
                return NULL;
        if (arr == inl)
                memcpy(p, inl, *cap * elem);
        *cap = n;
        return p;
}

/*
 * The key q[0..e) (a string body; esc when it holds an escape) of the
 * innermost object: refuse it when the object has it already, else add it.
 */
static int key_add(struct jscan *s, const uint8_t *q, const uint8_t *e, int esc)
{
        struct jframe *f = &s->f[s->depth - 1];
        struct jkey k, *nk;
        const uint8_t *kp;
        size_t i, count;

        if (esc) {
                if (vt_buf_reserve(&s->arena, (size_t)(e - q)) != 0)
                        return nomem(s);
                k.off = s->arena.len;
                k.n = decode(q, e, s->arena.p + s->arena.len);
                k.arena = 1;
                s->arena.len += k.n;
        } else {
                k.off = (size_t)(q - s->b);
                k.n = (size_t)(e - q);
                k.arena = 0;
        }
        kp = key_bytes(s, &k);
        k.hash = 0;
        count = s->kn - f->keys0;
        if (f->tab == NULL && count < JSCAN_LINEAR_KEYS) {
                for (i = f->keys0; i < s->kn; i++)
                        if (s->k[i].n == k.n && memcmp(key_bytes(s, &s->k[i]), kp, k.n) == 0)
                                return fail(s, e + 1, "duplicate object key");
        } else {
                if (f->tab == NULL) {
                        pthread_once(&hash_once, hash_init);
                        for (i = f->keys0; i < s->kn; i++)
                                s->k[i].hash = key_hash(key_bytes(s, &s->k[i]), s->k[i].n);
                        if (tab_grow(s, f, 64) != 0)
                                return -1;
                }
                k.hash = key_hash(kp, k.n);
                for (i = (size_t)k.hash & (f->tabcap - 1); f->tab[i] != 0;
                     i = (i + 1) & (f->tabcap - 1)) {
                        const struct jkey *o = &s->k[f->tab[i] - 1];
                        if (o->hash == k.hash && o->n == k.n &&
                            memcmp(key_bytes(s, o), kp, k.n) == 0)
                                return fail(s, e + 1, "duplicate object key");
                }
        }
        if (s->kn == s->kcap) {
                if ((nk = grow(s->k, s->kinl, &s->kcap, sizeof(*nk))) == NULL)
                        return nomem(s);
                s->k = nk;
        }
        s->k[s->kn++] = k;
        if (f->tab != NULL) {
                if ((s->kn - f->keys0) * 2 > f->tabcap)
                        return tab_grow(s, f, f->tabcap * 2);
                tab_put(f, s->k, s->kn - 1);
        }
        return 0;
}

/*
 * Check the string whose opening quote is at q; *end is its closing quote,
 * *esc says whether it holds an escape. RFC 8259 §7 and jansson: no
 * control character, escapes from the list only, \u with 4 hex digits, no
 * \u0000, surrogates only as a high-low pair; RFC 3629 UTF-8.
 */
static int scan_string(struct jscan *s, const uint8_t *q, const uint8_t **end, int *esc)
{
        const uint8_t *e = s->e;
        long cp, lo;
        size_t n;

        q++;
        *esc = 0;
        for (;;) {
                q = str_skip(q, e, 0);
                if (q == e)
                        return fail(s, q, "premature end of input");
                if (*q == '"') {
                        *end = q;
                        return 0;
                }
                if (*q < 0x20)
                        return fail(s, q, *q == '\n' ? "unexpected newline" : "control character");
                if (*q >= 0x80) {
                        if ((n = utf8_len(q, e)) == 0)
                                return fail(s, q, "invalid UTF-8");
                        q += n;
                        continue;
                }
                if (*q != '\\') {
                        q++;
                        continue;
                }
                *esc = 1;
                if (e - q < 2)
                        return fail(s, q, "premature end of input");
                switch (q[1]) {
                case '"':
                case '\\':
                case '/':
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't':
                        q += 2;
                        continue;
                case 'u':
                        break;
                default:
                        return fail(s, q, "invalid escape");
                }
                if (e - q < 6 || (cp = hex4(q + 2)) < 0)
                        return fail(s, q, "invalid escape");
                if (cp == 0)
                        return fail(s, q, "\\u0000 is not allowed");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                        return fail(s, q, "invalid Unicode: a lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (e - q < 12 || q[6] != '\\' || q[7] != 'u')
                                return fail(s, q, "invalid Unicode: a lone high surrogate");
                        if ((lo = hex4(q + 8)) < 0)
                                return fail(s, q + 6, "invalid escape");
                        if (lo < 0xDC00 || lo > 0xDFFF)
                                return fail(s, q,
                                            "invalid Unicode: a high surrogate without "
                                            "its low one");
                        q += 6;
                }
                q += 6;
        }
}

/* strtod in the C notation whatever the locale (as jansson does); -1 on overflow. */
static int real_fits(const uint8_t *q, size_t n, double *out)
{
        char buf[64], *t = n < sizeof(buf) ? buf : malloc(n + 1), *dot, point[8];
        double v;
        int r = 0;

        if (t == NULL)
                return -2;
        memcpy(t, q, n);
        t[n] = '\0';
        snprintf(point, sizeof(point), "%#.0f", 1.0);
        if (point[1] != '.' && (dot = strchr(t, '.')) != NULL)
                *dot = point[1];
        errno = 0;
        v = strtod(t, NULL);
        if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
                r = -1;
        if (out != NULL)
                *out = v;
        if (t != buf)
                free(t);
        return r;
}

/*
 * Check the number at q (RFC 8259 §6); *end is the byte after it. Integers
 * must fit int64 and reals a double (jansson's json_int_t and strtod).
 */
static int scan_number(struct jscan *s, const uint8_t *q, const uint8_t **end)
{
        const uint8_t *e = s->e, *st = q, *d;
        int neg = 0, real = 0, r;
        size_t nd;

        if (*q == '-') {
                neg = 1;
                q++;
        }
        d = q;
        if (q == e || *q < '0' || *q > '9')
                return fail(s, st, "invalid token");
        if (*q == '0') {
                q++;
                if (q < e && *q >= '0' && *q <= '9')
                        return fail(s, st, "invalid token: a leading zero");
        } else {
                while (q < e && *q >= '0' && *q <= '9')
                        q++;
        }
        nd = (size_t)(q - d);
        if (q < e && *q == '.') {
                q++;
                if (q == e || *q < '0' || *q > '9')
                        return fail(s, st, "invalid token");
                while (q < e && *q >= '0' && *q <= '9')
                        q++;
                real = 1;
        }
        if (q < e && (*q == 'e' || *q == 'E')) {
                q++;
                if (q < e && (*q == '+' || *q == '-'))
                        q++;
                if (q == e || *q < '0' || *q > '9')
                        return fail(s, st, "invalid token");
                while (q < e && *q >= '0' && *q <= '9')
                        q++;
                real = 1;
        }
        *end = q;
        if (!real) {
                /* No leading zeros: the digit count orders the magnitudes. */
                if (nd > 19 ||
                    (nd == 19 &&
                     memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0))
                        return fail(s, st, neg ? "too big negative integer" : "too big integer");
                return 0;
        }
        r = real_fits(st, (size_t)(q - st), NULL);
        if (r == -2)
                return nomem(s);
        if (r != 0)
                return fail(s, st, "real number overflow");
        return 0;
}

/* Open a container at q: push its frame. */
static int push(struct jscan *s, const uint8_t *q)
{
        struct jframe *f;

        if (s->depth == s->fcap) {
                if ((f = grow(s->f, s->finl, &s->fcap, sizeof(*f))) == NULL)
                        return nomem(s);
                s->f = f;
        }
        f = &s->f[s->depth++];
        f->start = (size_t)(q - s->b);
        f->keys0 = s->kn;
        f->arena0 = s->arena.len;
        f->tab = NULL;
        f->tabcap = 0;
        f->kind = *q;
        f->rec = 0;
        if (s->rec != NULL) {
                if (s->depth == 1) {
                        s->rec->root = *q;
                        f->rec = *q == '[';
                } else if (s->depth == 2 && s->member_next) {
                        f->rec = *q == '[';
                }
        }
        return 0;
}

/* Record the span [start, end) of an element of the recorded array. */
static int record(struct jscan *s, size_t start, size_t end)
{
        struct vt_encoding_json_array *a = s->rec;

        if (a->n == s->reccap) {
                size_t cap = s->reccap ? s->reccap * 2 : 64;
                size_t *o = vt_util_reallocarray(a->off, cap, sizeof(*o));
                if (o == NULL)
                        return nomem(s);
                a->off = o;
                o = vt_util_reallocarray(a->len, cap, sizeof(*o));
                if (o == NULL)
                        return nomem(s);
                a->len = o;
                s->reccap = cap;
        }
        a->off[a->n] = start;
        a->len[a->n] = end - start;
        a->n++;
        return 0;
}

/*
 * A value [start, end) of kind k is complete; the innermost open frame is
 * its parent (none for the root).
 */
static int value_done(struct jscan *s, size_t start, size_t end, uint8_t k)
{
        if (s->rec == NULL || s->depth == 0)
                return 0;
        if (s->depth == 1 && s->member_next) {
                s->rec->member = k;
                s->member_next = 0;
        }
        if (s->f[s->depth - 1].rec)
                return record(s, start, end);
        return 0;
}

static void pop(struct jscan *s)
{
        struct jframe *f = &s->f[--s->depth];

        free(f->tab);
        f->tab = NULL;
        s->kn = f->keys0;
        s->arena.len = f->arena0;
}

/* The whole document: 0 or -1 with s->err set. */
static int jscan_run(struct jscan *s)
{
        const uint8_t *q = s->b, *e = s->e, *vs, *end;
        int esc;

        q = skip_ws(q, e);
        if (q == e || (*q != '{' && *q != '['))
                return fail(s, q, "'[' or '{' expected");
value:
        /* A value at depth s->depth + 1 starts at q (white space skipped). */
        if (s->depth + 1 > JSCAN_HARD_DEPTH)
                return fail(s, q, "maximum parsing depth reached");
        if (s->depth + 1 > s->maxdepth)
                s->maxdepth = s->depth + 1;
        if (q == e)
                return fail(s, q, "premature end of input");
        vs = q;
        switch (*q) {
        case '{':
                if (push(s, q) != 0)
                        return -1;
                q = skip_ws(q + 1, e);
                if (q < e && *q == '}') {
                        q++;
                        goto close;
                }
                goto key;
        case '[':
                if (push(s, q) != 0)
                        return -1;
                q = skip_ws(q + 1, e);
                if (q < e && *q == ']') {
                        q++;
                        goto close;
                }
                goto value;
        case '"':
                if (scan_string(s, q, &end, &esc) != 0)
                        return -1;
                q = end + 1;
                break;
        case 't':
                if (e - q < 4 || memcmp(q, "true", 4) != 0)
                        return fail(s, q, "invalid token");
                q += 4;
                break;
        case 'f':
                if (e - q < 5 || memcmp(q, "false", 5) != 0)
                        return fail(s, q, "invalid token");
                q += 5;
                break;
        case 'n':
                if (e - q < 4 || memcmp(q, "null", 4) != 0)
                        return fail(s, q, "invalid token");
                q += 4;
                break;
        default:
                if (*q == '-' || (*q >= '0' && *q <= '9')) {
                        if (scan_number(s, q, &end) != 0)
                                return -1;
                        q = end;
                        break;
                }
                return fail(s, q,
                            *q == ']' || *q == '}' || *q == ',' || *q == ':' ? "unexpected token"
                                                                             : "invalid token");
        }
        if (value_done(s, (size_t)(vs - s->b), (size_t)(q - s->b),
                       *vs == '-' || (*vs >= '0' && *vs <= '9') ? '0' : *vs) != 0)
                return -1;
        goto next;
close:
        /* The innermost container closed just before q. */
        {
                size_t start = s->f[s->depth - 1].start;
                uint8_t k = s->f[s->depth - 1].kind;

                pop(s);
                if (value_done(s, start, (size_t)(q - s->b), k) != 0)
                        return -1;
                if (s->depth == 0) {
                        q = skip_ws(q, e);
                        if (q != e)
                                return fail(s, q, "end of file expected");
                        return 0;
                }
        }
next:
        q = skip_ws(q, e);
        if (q == e)
                return fail(s, q, "premature end of input");
        if (s->f[s->depth - 1].kind == '{') {
                if (*q == '}') {
                        q++;
                        goto close;
                }
                if (*q != ',')
                        return fail(s, q, "'}' expected");
                q = skip_ws(q + 1, e);
                goto key;
        }
        if (*q == ']') {
                q++;
                goto close;
        }
        if (*q != ',')
                return fail(s, q, "']' expected");
        q = skip_ws(q + 1, e);
        goto value;
key:
        /* A member of the innermost object starts at q (white space skipped). */
        if (q == e || *q != '"')
                return fail(s, q, "string or '}' expected");
        if (scan_string(s, q, &end, &esc) != 0 || key_add(s, q + 1, end, esc) != 0)
                return -1;
        if (s->rec != NULL && s->depth == 1) {
                const struct jkey *k = &s->k[s->kn - 1];
                s->rec->members++;
                s->member_next = s->member != NULL && k->n == strlen(s->member) &&
                                 memcmp(key_bytes(s, k), s->member, k->n) == 0;
        }
        q = skip_ws(end + 1, e);
        if (q == e || *q != ':')
                return fail(s, q, "':' expected");
        q = skip_ws(q + 1, e);
        goto value;
}

/*
 * Check p[0..n) (at most max bytes); fill d like vt_encoding_json_parse()
 * does. rec, member: see vt_encoding_json_array_scan().
 */
static int jscan_check(const uint8_t *p, size_t n, size_t max, struct vt_encoding_json_array *rec,
                       const char *member, struct vt_diag *d)
{
        struct jscan s;
        size_t i, line = 1, col = 1;
        int err;

        if (n > max) {
                vt_diag_set(d, "JSON is larger than the limit of %zu bytes", max);
                return VT_ETOOBIG;
        }
        memset(&s, 0, sizeof(s));
        s.b = p;
        s.e = p + n;
        s.f = s.finl;
        s.fcap = sizeof(s.finl) / sizeof(s.finl[0]);
        s.k = s.kinl;
        s.kcap = sizeof(s.kinl) / sizeof(s.kinl[0]);
        vt_buf_init(&s.arena);
        s.rec = rec;
        s.member = member;
        err = jscan_run(&s) == 0 ? 0 : s.err;
        while (s.depth > 0)
                pop(&s);
        if (s.f != s.finl)
                free(s.f);
        if (s.k != s.kinl)
                free(s.k);
        vt_buf_release(&s.arena);
        if (err == VT_EMALFORMED) {
                /* Lines count LFs, columns count characters (not continuation bytes). */
                for (i = 0; i < s.pos; i++) {
                        if (p[i] == '\n') {
                                line++;
                                col = 1;
                        } else if ((p[i] & 0xC0) != 0x80) {
                                col++;
                        }
                }
                vt_diag_set(d, "malformed JSON at line %zu column %zu: %s", line, col, s.why);
        } else if (err == VT_ENOMEM) {
                vt_diag_set(d, "out of memory");
        } else if (s.maxdepth > VT_ENCODING_JSON_MAX_DEPTH) {
                vt_diag_set(d, "JSON nests deeper than %d levels", VT_ENCODING_JSON_MAX_DEPTH);
                err = VT_ETOOBIG;
        }
        return err;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_check(const uint8_t *p, size_t n, size_t max, struct vt_diag *d)
{
        return jscan_check(p, n, max, NULL, NULL, d);
}

/* see encoding.h */
void vt_encoding_json_array_release(struct vt_encoding_json_array *a)
{
        if (a == NULL)
                return;
        free(a->off);
        free(a->len);
        memset(a, 0, sizeof(*a));
}

/* see encoding.h */
int vt_encoding_json_array_scan(const uint8_t *p, size_t n, size_t max, const char *member,
                                struct vt_encoding_json_array *out, struct vt_diag *d)
{
        struct vt_encoding_json_array a;
        int err;

        memset(&a, 0, sizeof(a));
        if ((err = jscan_check(p, n, max, &a, member, d)) != 0) {
                vt_encoding_json_array_release(&a);
                return err;
        }
        *out = a;
        return 0;
}

/* ---- the reader --------------------------------------------------------------- */

/* The closing quote of a checked string whose body starts at q; *esc when escaped. */
static const uint8_t *str_end(const uint8_t *q, const uint8_t *e, char *esc)
{
        for (;;) {
                q = str_skip(q, e, 1);
                while (*q != '"' && *q != '\\')
                        q++;
                if (*q == '"')
                        return q;
                *esc = 1;
                q += 2; /* a checked escape: what follows '\' is never the closing quote */
        }
}

/* The end of the checked value at q. */
static const uint8_t *value_end(const uint8_t *q, const uint8_t *e)
{
        size_t depth = 0;
        char esc;

        switch (*q) {
        case '"':
                return str_end(q + 1, e, &esc) + 1;
        case '{':
        case '[':
                for (;;) {
                        uint8_t c = *q;
                        if (c == '"') {
                                q = str_end(q + 1, e, &esc) + 1;
                                continue;
                        }
                        if (c == '{' || c == '[')
                                depth++;
                        else if ((c == '}' || c == ']') && --depth == 0)
                                return q + 1;
                        q++;
                }
        default:
                while (q < e && !is_ws(*q) && *q != ',' && *q != ']' && *q != '}')
                        q++;
                return q;
        }
}

/* Fill v with the checked value at q. */
static const uint8_t *read_value(const uint8_t *q, const uint8_t *e, struct vt_encoding_int_jval *v)
{
        const uint8_t *end;

        v->esc = 0;
        if (*q == '"') {
                end = str_end(q + 1, e, &v->esc);
                v->kind = '"';
                v->p = q + 1;
                v->n = (size_t)(end - q - 1);
                return end + 1;
        }
        end = value_end(q, e);
        v->kind = *q == '-' || (*q >= '0' && *q <= '9') ? '0' : (char)*q;
        v->p = q;
        v->n = (size_t)(end - q);
        return end;
}

/* see encoding_int.h */
void vt_encoding_int_jscan_root(const uint8_t *p, size_t n, struct vt_encoding_int_jval *v)
{
        const uint8_t *q = skip_ws(p, p + n);

        read_value(q, p + n, v);
}

/* see encoding_int.h */
void vt_encoding_int_jscan_iter(const struct vt_encoding_int_jval *v,
                                struct vt_encoding_int_jiter *it)
{
        it->p = v->p + 1;
        it->e = v->p + v->n;
}

/*
 * member_start(it, key): past the separator (and the key, read into key when
 * not NULL) of the next member of a checked container: where its value
 * starts, or NULL at the container's end.
 */
static const uint8_t *member_start(const struct vt_encoding_int_jiter *it,
                                   struct vt_encoding_int_jval *key)
{
        const uint8_t *q = skip_ws(it->p, it->e);

        if (*q == '}' || *q == ']')
                return NULL;
        if (*q == ',')
                q = skip_ws(q + 1, it->e);
        if (key != NULL) {
                q = read_value(q, it->e, key);
                q = skip_ws(q, it->e) + 1; /* ':' */
                q = skip_ws(q, it->e);
        }
        return q;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_next(struct vt_encoding_int_jiter *it, struct vt_encoding_int_jval *key,
                               struct vt_encoding_int_jval *val)
{
        const uint8_t *q = member_start(it, key);

        if (q == NULL)
                return 0;
        it->p = read_value(q, it->e, val);
        return 1;
}

/* see encoding_int.h */
char vt_encoding_int_jscan_root_iter(const uint8_t *p, size_t n, struct vt_encoding_int_jiter *it)
{
        const uint8_t *q = skip_ws(p, p + n);

        it->p = q + 1;
        it->e = p + n;
        return (char)*q;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_object(const uint8_t *p, size_t n, size_t max, const char *what,
                                 struct vt_encoding_int_jiter *it, struct vt_diag *d)
{
        int err;

        if (n > max) {
                vt_diag_set(d, "%s: %zu bytes, more than %zu", what, n, max);
                return VT_ETOOBIG;
        }
        if ((err = vt_encoding_int_jscan_check(p, n, max, d)) != 0) {
                vt_diag_prefix(d, "%s", what);
                return err;
        }
        if (vt_encoding_int_jscan_root_iter(p, n, it) != '{') {
                vt_diag_set(d, "%s: not a JSON object", what);
                return VT_EMALFORMED;
        }
        return 0;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_next_open(struct vt_encoding_int_jiter *it,
                                    struct vt_encoding_int_jval *key,
                                    struct vt_encoding_int_jval *val)
{
        const uint8_t *q = member_start(it, key);

        if (q == NULL)
                return 0;
        if (*q == '{' || *q == '[') {
                /* Not measured: the caller enters it or skips it. */
                val->p = q;
                val->n = 0;
                val->kind = (char)*q;
                val->esc = 0;
                it->p = q;
                return 1;
        }
        it->p = read_value(q, it->e, val);
        return 1;
}

/* see encoding_int.h */
void vt_encoding_int_jscan_enter(const struct vt_encoding_int_jiter *it,
                                 struct vt_encoding_int_jiter *in)
{
        in->p = it->p + 1;
        in->e = it->e;
}

/* see encoding_int.h */
void vt_encoding_int_jscan_leave(struct vt_encoding_int_jiter *it,
                                 const struct vt_encoding_int_jiter *in)
{
        it->p = skip_ws(in->p, in->e) + 1; /* past the closing bracket */
}

/* see encoding_int.h */
void vt_encoding_int_jscan_skip(struct vt_encoding_int_jiter *it)
{
        it->p = value_end(it->p, it->e);
}

/* see encoding_int.h */
size_t vt_encoding_int_jscan_count(const struct vt_encoding_int_jval *v)
{
        struct vt_encoding_int_jiter it;
        struct vt_encoding_int_jval k, x;
        size_t n = 0;

        vt_encoding_int_jscan_iter(v, &it);
        while (vt_encoding_int_jscan_next(&it, v->kind == '{' ? &k : NULL, &x))
                n++;
        return n;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_str(const struct vt_encoding_int_jval *v, struct vt_buf *out)
{
        out->len = 0;
        if (vt_buf_reserve(out, v->n) != 0)
                return VT_ENOMEM;
        out->len = v->esc ? decode(v->p, v->p + v->n, out->p) : v->n;
        if (!v->esc && v->n > 0)
                memcpy(out->p, v->p, v->n);
        out->p[out->len] = '\0';
        return 0;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_key_is(const struct vt_encoding_int_jval *k, const char *lit)
{
        uint8_t buf[256];
        size_t n = strlen(lit), m;

        if (!k->esc)
                return k->n == n && memcmp(k->p, lit, n) == 0;
        /* Escapes decode to at least one byte in six: a longer key cannot be lit. */
        if (k->n > sizeof(buf))
                return 0;
        m = decode(k->p, k->p + k->n, buf);
        return m == n && memcmp(buf, lit, n) == 0;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_str_at(const struct vt_encoding_int_jval *v, struct vt_buf *tmp,
                                 const char **s, size_t *n)
{
        if (!v->esc) {
                *s = (const char *)v->p;
                *n = v->n;
                return 0;
        }
        if (vt_encoding_int_jscan_str(v, tmp) != 0)
                return VT_ENOMEM;
        *s = (const char *)tmp->p;
        *n = tmp->len;
        return 0;
}

/* A jansson value for the checked value v; scratch holds decoded strings. */
static json_t *tree(const struct vt_encoding_int_jval *v, struct vt_buf *scratch)
{
        struct vt_encoding_int_jiter it;
        struct vt_encoding_int_jval k, x;
        json_t *j = NULL, *c;
        size_t i;
        double r;

        switch (v->kind) {
        case '"':
                if (!v->esc)
                        return json_stringn_nocheck((const char *)v->p, v->n);
                if (vt_encoding_int_jscan_str(v, scratch) != 0)
                        return NULL;
                return json_stringn_nocheck((const char *)scratch->p, scratch->len);
        case 't':
                return json_true();
        case 'f':
                return json_false();
        case 'n':
                return json_null();
        case '0':
                for (i = 0; i < v->n; i++)
                        if (v->p[i] == '.' || v->p[i] == 'e' || v->p[i] == 'E')
                                break;
                if (i == v->n) {
                        char buf[24];
                        /* Checked: at most 20 bytes, in int64. */
                        memcpy(buf, v->p, v->n);
                        buf[v->n] = '\0';
                        return json_integer(strtoll(buf, NULL, 10));
                }
                if (real_fits(v->p, v->n, &r) != 0)
                        return NULL;
                return json_real(r);
        case '[':
                if ((j = json_array()) == NULL)
                        return NULL;
                vt_encoding_int_jscan_iter(v, &it);
                while (vt_encoding_int_jscan_next(&it, NULL, &x))
                        if ((c = tree(&x, scratch)) == NULL || json_array_append_new(j, c) != 0)
                                goto fail;
                return j;
        default: /* '{' */
                if ((j = json_object()) == NULL)
                        return NULL;
                vt_encoding_int_jscan_iter(v, &it);
                while (vt_encoding_int_jscan_next(&it, &k, &x)) {
                        if ((c = tree(&x, scratch)) == NULL)
                                goto fail;
                        if (k.esc) {
                                if (vt_encoding_int_jscan_str(&k, scratch) != 0) {
                                        json_decref(c);
                                        goto fail;
                                }
                                i = json_object_setn_new_nocheck(j, (const char *)scratch->p,
                                                                 scratch->len, c);
                        } else {
                                i = json_object_setn_new_nocheck(j, (const char *)k.p, k.n, c);
                        }
                        if (i != 0)
                                goto fail;
                }
                return j;
        }
fail:
        json_decref(j);
        return NULL;
}

/* see encoding_int.h */
int vt_encoding_int_jscan_tree(const struct vt_encoding_int_jval *v, json_t **out)
{
        struct vt_buf scratch;
        json_t *j;

        vt_buf_init(&scratch);
        j = tree(v, &scratch);
        vt_buf_release(&scratch);
        if (j == NULL)
                return VT_ENOMEM;
        *out = j;
        return 0;
}
