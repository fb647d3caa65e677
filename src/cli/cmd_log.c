/*
 * cmd_log.c: the 'log' verb, a thin face over log.h.
 *
 *   veritrail log init --dir D --origin NAME
 *       creates the log and its key (D/log.key); prints the verifier key last
 *   veritrail log key --dir D
 *       prints the verifier key
 *   veritrail log append --dir D FILE...
 *       appends each file's bytes as one entry
 *   veritrail log append --dir D --lines FILE
 *       appends each line (without its newline) as one entry, streamed in
 *       batches of up to 4096 lines; "-" is standard input
 *     Both print each entry's index on its own line once its batch is durable.
 *   veritrail log checkpoint --dir D
 *       prints the latest signed checkpoint
 *   veritrail log entry --dir D --index I
 *       writes entry I's bytes to standard output
 *   veritrail log prove --dir D --index I [--size N] [--tlog-proof]
 *       prints the inclusion proof (base64 hashes, one per line, as in C2SP
 *       tlog-proof), or with --tlog-proof the whole c2sp.org/tlog-proof@v1
 *   veritrail log prove --dir D --from M [--to N]
 *       prints the consistency proof, the same way
 *   veritrail log export --dir D --to OUT
 *       writes the static C2SP tlog-tiles tree
 *   veritrail log audit --dir D [--key VKEY]
 *       recomputes everything from the entries; exit 1 at the first
 *       discrepancy (or when the log's key is not VKEY)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"

#define LINES_BATCH       4096
#define LINES_BATCH_BYTES (16u << 20)

static const char log_usage[] =
    "usage: veritrail log init --dir D --origin NAME\n"
    "       veritrail log key --dir D\n"
    "       veritrail log append --dir D FILE...\n"
    "       veritrail log append --dir D --lines FILE\n"
    "       veritrail log checkpoint --dir D\n"
    "       veritrail log entry --dir D --index I\n"
    "       veritrail log prove --dir D --index I [--size N] [--tlog-proof]\n"
    "       veritrail log prove --dir D --from M [--to N]\n"
    "       veritrail log export --dir D --to OUT\n"
    "       veritrail log audit --dir D [--key VKEY]\n";

/* The options of every subcommand; each takes only those it names. */
struct log_opts {
        const char *sub;
        const char *dir, *origin, *lines, *to, *key;
        const char *index, *size, *from;
        int tlog_proof;
        char **args; /* positional arguments */
        int nargs;
};

/*
 * Parse argv (argv[0] is the subcommand). allowed lists the options the
 * subcommand accepts ("dir origin ..."); pos says whether it takes
 * positional arguments. 0 or an exit code.
 */
static int log_parse(int argc, char **argv, const char *allowed, int pos, struct log_opts *o)
{
        static const struct {
                const char *name;
                size_t off;
        } vals[] = {
            {"dir", offsetof(struct log_opts, dir)},
            {"origin", offsetof(struct log_opts, origin)},
            {"lines", offsetof(struct log_opts, lines)},
            {"to", offsetof(struct log_opts, to)},
            {"key", offsetof(struct log_opts, key)},
            {"index", offsetof(struct log_opts, index)},
            {"size", offsetof(struct log_opts, size)},
            {"from", offsetof(struct log_opts, from)},
        };
        int i, only_pos = 0;
        size_t j, n;

        memset(o, 0, sizeof(*o));
        o->sub = argv[0];
        if ((o->args = calloc((size_t)argc, sizeof(char *))) == NULL) {
                vt_cli_error("out of memory");
                return VT_EXIT_USAGE;
        }
        for (i = 1; i < argc; i++) {
                const char *a = argv[i], *eq;

                if (only_pos || a[0] != '-' || a[1] != '-' || a[2] == '\0') {
                        if (strcmp(a, "--") == 0 && !only_pos) {
                                only_pos = 1;
                                continue;
                        }
                        if (!pos) {
                                vt_cli_error("log %s: unexpected argument '%s' (see 'veritrail log "
                                             "--help')",
                                             o->sub, a);
                                return VT_EXIT_USAGE;
                        }
                        o->args[o->nargs++] = argv[i];
                        continue;
                }
                a += 2;
                eq = strchr(a, '=');
                n = eq != NULL ? (size_t)(eq - a) : strlen(a);
                if (n == 10 && strncmp(a, "tlog-proof", n) == 0 && eq == NULL &&
                    strstr(allowed, "tlog-proof") != NULL) {
                        o->tlog_proof = 1;
                        continue;
                }
                for (j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
                        const char *w;

                        if (strlen(vals[j].name) != n || strncmp(vals[j].name, a, n) != 0)
                                continue;
                        /* a word of allowed, not a part of one */
                        for (w = strstr(allowed, vals[j].name); w != NULL;
                             w = strstr(w + 1, vals[j].name))
                                if ((w == allowed || w[-1] == ' ') && (w[n] == ' ' || w[n] == '\0'))
                                        break;
                        if (w == NULL)
                                j = sizeof(vals) / sizeof(vals[0]);
                        break;
                }
                if (j == sizeof(vals) / sizeof(vals[0])) {
                        vt_cli_error("log %s: unknown option '%s' (see 'veritrail log --help')",
                                     o->sub, argv[i]);
                        return VT_EXIT_USAGE;
                }
                if (eq == NULL && i + 1 >= argc) {
                        vt_cli_error("log %s: option '%s' needs a value", o->sub, argv[i]);
                        return VT_EXIT_USAGE;
                }
                *(const char **)((char *)o + vals[j].off) = eq != NULL ? eq + 1 : argv[++i];
        }
        if (o->dir == NULL || *o->dir == '\0') {
                vt_cli_error("log %s: --dir D is required", o->sub);
                return VT_EXIT_USAGE;
        }
        return 0;
}

/* A strict decimal option value into *v. */
static int log_number(const struct log_opts *o, const char *name, const char *s, uint64_t *v)
{
        if (vt_util_parse_u64(s, strlen(s), v) != 0) {
                vt_cli_error("log %s: --%s '%s' is not a decimal number", o->sub, name, s);
                return VT_EXIT_USAGE;
        }
        return 0;
}

static int log_open(const struct log_opts *o, int flags, struct vt_log **log)
{
        struct vt_diag d = {""};
        int err;

        if ((err = vt_log_open(o->dir, flags, log, &d)) != 0)
                return vt_cli_fail(err, &d);
        return 0;
}

static int log_init(const struct log_opts *o)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        int err, rc;

        if (o->origin == NULL) {
                vt_cli_error("log init: --origin NAME is required (e.g. example.com/log)");
                return VT_EXIT_USAGE;
        }
        if ((err = vt_log_init(o->dir, o->origin, &d)) != 0)
                return vt_cli_fail(err, &d);
        if ((rc = log_open(o, VT_LOG_READONLY, &log)) != 0)
                return rc;
        printf("created log '%s' in '%s' (signing key '%s/%s')\n", vt_log_origin(log), o->dir,
               o->dir, VT_LOG_KEY_FILE);
        printf("%s\n", vt_log_vkey(log));
        vt_log_close(log);
        return VT_EXIT_OK;
}

static int log_key(const struct log_opts *o)
{
        struct vt_log *log = NULL;
        int rc;

        if ((rc = log_open(o, VT_LOG_READONLY, &log)) != 0)
                return rc;
        printf("%s\n", vt_log_vkey(log));
        vt_log_close(log);
        return VT_EXIT_OK;
}

/* Print the indexes first..first+n-1 and push them out: they are durable. */
static int log_print_indexes(uint64_t first, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                printf("%llu\n", (unsigned long long)(first + i));
        if (fflush(stdout) != 0 || ferror(stdout)) {
                vt_cli_error("cannot write to standard output: %s", strerror(errno));
                return VT_EXIT_USAGE;
        }
        return 0;
}

/* append FILE...: check every file first, then append in batches. */
static int log_append_files(struct vt_log *log, const struct log_opts *o)
{
        struct vt_buf *bufs = NULL;
        const uint8_t **p = NULL;
        size_t *lens = NULL, batch_bytes;
        struct vt_diag d = {""};
        struct stat st;
        uint64_t first;
        int i, j, k, err, rc = VT_EXIT_USAGE;

        for (i = 0; i < o->nargs; i++) {
                if (stat(o->args[i], &st) != 0) {
                        vt_cli_error("cannot open '%s': %s", o->args[i], strerror(errno));
                        return VT_EXIT_USAGE;
                }
                if (S_ISREG(st.st_mode) && (st.st_size == 0 || st.st_size > VT_LOG_ENTRY_MAX)) {
                        vt_cli_error("'%s' has %lld bytes; a log entry has 1..%d", o->args[i],
                                     (long long)st.st_size, VT_LOG_ENTRY_MAX);
                        return VT_EXIT_USAGE;
                }
        }
        bufs = calloc(LINES_BATCH, sizeof(*bufs));
        p = calloc(LINES_BATCH, sizeof(*p));
        lens = calloc(LINES_BATCH, sizeof(*lens));
        if (bufs == NULL || p == NULL || lens == NULL) {
                vt_cli_error("out of memory");
                goto out;
        }
        for (i = 0; i < o->nargs; i = j) {
                batch_bytes = 0;
                for (j = i; j < o->nargs && j - i < LINES_BATCH && batch_bytes < LINES_BATCH_BYTES;
                     j++) {
                        struct vt_buf *b = &bufs[j - i];

                        vt_buf_release(b); /* read_file fills a fresh buffer */
                        err = vt_util_read_file(o->args[j], VT_LOG_ENTRY_MAX, b, &d);
                        if (err == VT_ETOOBIG || (err == 0 && b->len == 0)) {
                                vt_cli_error("'%s' is not 1..%d bytes long; a log entry must be",
                                             o->args[j], VT_LOG_ENTRY_MAX);
                                goto out;
                        }
                        if (err != 0) {
                                rc = vt_cli_fail(err, &d);
                                goto out;
                        }
                        p[j - i] = bufs[j - i].p;
                        lens[j - i] = bufs[j - i].len;
                        batch_bytes += bufs[j - i].len;
                }
                if ((err = vt_log_append(log, p, lens, (size_t)(j - i), &first, &d)) != 0) {
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                if ((rc = log_print_indexes(first, (size_t)(j - i))) != 0)
                        goto out;
        }
        rc = VT_EXIT_OK;
out:
        if (bufs != NULL)
                for (k = 0; k < LINES_BATCH; k++)
                        vt_buf_release(&bufs[k]);
        free(bufs);
        free(p);
        free(lens);
        return rc;
}

/* Check every line of f (1..VT_LOG_ENTRY_MAX bytes); rewinds. 0 or an exit code. */
static int log_lines_check(FILE *f, const char *name)
{
        char *line = NULL;
        size_t cap = 0, len;
        ssize_t r;
        uint64_t no = 0;
        int rc = 0;

        while ((r = getline(&line, &cap, f)) >= 0) {
                no++;
                len = (size_t)r;
                if (len > 0 && line[len - 1] == '\n')
                        len--;
                if (len == 0 || len > VT_LOG_ENTRY_MAX) {
                        vt_cli_error("'%s' line %llu: %zu bytes; a log entry has 1..%d", name,
                                     (unsigned long long)no, len, VT_LOG_ENTRY_MAX);
                        rc = VT_EXIT_USAGE;
                        break;
                }
        }
        if (rc == 0 && ferror(f)) {
                vt_cli_error("cannot read '%s': %s", name, strerror(errno));
                rc = VT_EXIT_USAGE;
        }
        free(line);
        if (rc == 0 && fseeko(f, 0, SEEK_SET) != 0) {
                vt_cli_error("cannot rewind '%s': %s", name, strerror(errno));
                rc = VT_EXIT_USAGE;
        }
        return rc;
}

/* One of the batches --lines fills in turn while the stream appends the others. */
struct lines_batch {
        struct vt_buf data;
        const uint8_t **p;
        size_t *off, *lens;
};

/* The stream's report of a durable batch: print its indexes (once printing failed, no more). */
static void lines_done(void *ctx, void *tag, uint64_t first, size_t n, int err,
                       const struct vt_diag *d)
{
        atomic_int *bad = ctx;

        (void)tag;
        (void)d; /* a failure is reported once, by push or close */
        if (err == 0 && !atomic_load(bad) && log_print_indexes(first, n) != 0)
                atomic_store(bad, 1);
}

/*
 * append --lines FILE: stream the lines in batches. A regular file is
 * checked whole first, so a bad line appends nothing; from a pipe the lines
 * before a bad one are appended (and printed) before the error. The batches
 * go to a log stream (log.h), which stores one while the next is prepared,
 * while this thread reads the one after: VT_LOG_STREAM_DEPTH + 1 buffers
 * in turn.
 */
static int log_append_lines(struct vt_log *log, const struct log_opts *o)
{
        const char *name = strcmp(o->lines, "-") == 0 ? "standard input" : o->lines;
        struct lines_batch bufs[VT_LOG_STREAM_DEPTH + 1], *b;
        struct vt_log_stream *stream = NULL;
        FILE *f = NULL;
        size_t n = 0, len, cap = 0, i, k;
        struct vt_diag d = {""};
        struct stat st;
        uint64_t no = 0;
        char *line = NULL;
        ssize_t r;
        atomic_int bad;
        int err, rc = VT_EXIT_USAGE, eof = 0, badline = 0;

        atomic_init(&bad, 0);
        memset(bufs, 0, sizeof(bufs));
        if (o->nargs != 0) {
                vt_cli_error("log append: give either --lines FILE or FILE..., not both");
                return VT_EXIT_USAGE;
        }
        f = strcmp(o->lines, "-") == 0 ? stdin : fopen(o->lines, "rb");
        if (f == NULL) {
                vt_cli_error("cannot open '%s': %s", o->lines, strerror(errno));
                return VT_EXIT_USAGE;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
            (rc = log_lines_check(f, name)) != 0)
                goto out;
        rc = VT_EXIT_USAGE;
        for (k = 0; k < VT_LOG_STREAM_DEPTH + 1; k++) {
                b = &bufs[k];
                vt_buf_init(&b->data);
                b->p = calloc(LINES_BATCH, sizeof(*b->p));
                b->off = calloc(LINES_BATCH, sizeof(*b->off));
                b->lens = calloc(LINES_BATCH, sizeof(*b->lens));
                if (b->p == NULL || b->off == NULL || b->lens == NULL) {
                        vt_cli_error("out of memory");
                        goto out;
                }
        }
        if ((err = vt_log_stream_open(log, lines_done, &bad, &stream, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        for (k = 0; !eof && !badline; k++) {
                /* Gather a batch, in the buffer that the batch pushed two pushes ago freed. */
                b = &bufs[k % (VT_LOG_STREAM_DEPTH + 1)];
                n = 0;
                b->data.len = 0;
                while (n < LINES_BATCH && b->data.len < LINES_BATCH_BYTES) {
                        if ((r = getline(&line, &cap, f)) < 0) {
                                eof = 1;
                                break;
                        }
                        no++;
                        len = (size_t)r;
                        if (len > 0 && line[len - 1] == '\n')
                                len--;
                        if (len == 0 || len > VT_LOG_ENTRY_MAX) {
                                vt_cli_error("'%s' line %llu: %zu bytes; a log entry has 1..%d",
                                             name, (unsigned long long)no, len, VT_LOG_ENTRY_MAX);
                                /* The good lines before it, from a pipe, are appended first. */
                                badline = 1;
                                break;
                        }
                        b->off[n] = b->data.len;
                        b->lens[n] = len;
                        if (vt_buf_append(&b->data, line, len) != 0) {
                                vt_cli_error("out of memory");
                                goto out;
                        }
                        n++;
                }
                if (eof && ferror(f)) {
                        vt_cli_error("cannot read '%s': %s", name, strerror(errno));
                        goto out;
                }
                if (n == 0)
                        break;
                for (i = 0; i < n; i++)
                        b->p[i] = b->data.p + b->off[i];
                if ((err = vt_log_stream_push(stream, b->p, b->lens, n, NULL, &d)) != 0) {
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                if (atomic_load(&bad))
                        goto out; /* standard output is gone: said already */
        }
        err = vt_log_stream_close(stream, &d);
        stream = NULL;
        if (err != 0) {
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if (atomic_load(&bad) || badline)
                goto out;
        if (no == 0) {
                vt_cli_error("'%s' holds no lines to append", name);
                goto out;
        }
        rc = VT_EXIT_OK;
out:
        /* Every batch pushed is reported before its buffer goes. */
        if (stream != NULL)
                (void)vt_log_stream_close(stream, NULL);
        if (f != NULL && f != stdin)
                fclose(f);
        free(line);
        for (k = 0; k < VT_LOG_STREAM_DEPTH + 1; k++) {
                free(bufs[k].p);
                free(bufs[k].off);
                free(bufs[k].lens);
                vt_buf_release(&bufs[k].data);
        }
        return rc;
}

static int log_append(const struct log_opts *o)
{
        struct vt_log *log = NULL;
        int rc;

        if (o->lines == NULL && o->nargs == 0) {
                vt_cli_error("log append: give FILE... or --lines FILE");
                return VT_EXIT_USAGE;
        }
        if ((rc = log_open(o, 0, &log)) != 0)
                return rc;
        rc = o->lines != NULL ? log_append_lines(log, o) : log_append_files(log, o);
        vt_log_close(log);
        return rc;
}

static int log_checkpoint(const struct log_opts *o)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        struct vt_buf note;
        int err, rc;

        if ((rc = log_open(o, VT_LOG_READONLY, &log)) != 0)
                return rc;
        vt_buf_init(&note);
        if ((err = vt_log_checkpoint(log, NULL, &note, &d)) != 0)
                rc = vt_cli_fail(err, &d);
        else
                fwrite(note.p, 1, note.len, stdout);
        vt_buf_release(&note);
        vt_log_close(log);
        return rc;
}

static int log_entry(const struct log_opts *o)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        struct vt_buf e;
        uint64_t index;
        int err, rc;

        if (o->index == NULL) {
                vt_cli_error("log entry: --index I is required");
                return VT_EXIT_USAGE;
        }
        if ((rc = log_number(o, "index", o->index, &index)) != 0)
                return rc;
        if ((rc = log_open(o, VT_LOG_READONLY, &log)) != 0)
                return rc;
        vt_buf_init(&e);
        if ((err = vt_log_entry(log, index, &e, &d)) != 0)
                rc = vt_cli_fail(err, &d);
        else
                fwrite(e.p, 1, e.len, stdout);
        vt_buf_release(&e);
        vt_log_close(log);
        return rc;
}

static void log_print_proof(const struct vt_hash *proof, size_t n)
{
        char b64[48];
        size_t i;

        for (i = 0; i < n; i++) {
                vt_encoding_base64_encode(proof[i].b, sizeof(proof[i].b), b64);
                printf("%s\n", b64);
        }
}

static int log_prove(const struct log_opts *o)
{
        struct vt_hash proof[VT_LOG_PROOF_MAX];
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        struct vt_buf note;
        uint64_t index = 0, size = 0, from = 0, to = 0;
        size_t n = 0;
        int err = 0, rc;

        if ((o->index == NULL) == (o->from == NULL)) {
                vt_cli_error("log prove: give --index I (inclusion) or --from M (consistency)");
                return VT_EXIT_USAGE;
        }
        if ((o->index != NULL && (o->to != NULL)) || (o->from != NULL && o->size != NULL) ||
            (o->from != NULL && o->tlog_proof)) {
                vt_cli_error("log prove: --index goes with --size, --from with --to");
                return VT_EXIT_USAGE;
        }
        if ((o->index != NULL && (rc = log_number(o, "index", o->index, &index)) != 0) ||
            (o->size != NULL && (rc = log_number(o, "size", o->size, &size)) != 0) ||
            (o->from != NULL && (rc = log_number(o, "from", o->from, &from)) != 0) ||
            (o->to != NULL && (rc = log_number(o, "to", o->to, &to)) != 0))
                return rc;
        if ((o->size != NULL && size == 0) || (o->to != NULL && to == 0)) {
                vt_cli_error("log prove: a tree size must be at least 1");
                return VT_EXIT_USAGE;
        }
        if ((rc = log_open(o, VT_LOG_READONLY, &log)) != 0)
                return rc;
        vt_buf_init(&note);
        if (o->index != NULL) {
                if (size == 0)
                        size = vt_log_size(log);
                if (o->tlog_proof && (err = vt_log_checkpoint_at(log, size, &note, &d)) != 0)
                        goto out;
                if ((err = vt_log_prove_inclusion(log, index, size, proof, &n, &d)) != 0)
                        goto out;
                if (o->tlog_proof)
                        printf("c2sp.org/tlog-proof@v1\nindex %llu\n", (unsigned long long)index);
                log_print_proof(proof, n);
                if (o->tlog_proof) {
                        printf("\n");
                        fwrite(note.p, 1, note.len, stdout);
                }
        } else {
                if (to == 0)
                        to = vt_log_size(log);
                if ((err = vt_log_prove_consistency(log, from, to, proof, &n, &d)) != 0)
                        goto out;
                log_print_proof(proof, n);
        }
out:
        rc = err != 0 ? vt_cli_fail(err, &d) : VT_EXIT_OK;
        vt_buf_release(&note);
        vt_log_close(log);
        return rc;
}

static int log_export(const struct log_opts *o)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        uint64_t files = 0;
        int err, rc;

        if (o->to == NULL || *o->to == '\0') {
                vt_cli_error("log export: --to OUT is required");
                return VT_EXIT_USAGE;
        }
        if ((rc = log_open(o, VT_LOG_READONLY, &log)) != 0)
                return rc;
        if ((err = vt_log_export(log, o->to, &files, &d)) != 0)
                rc = vt_cli_fail(err, &d);
        else
                printf("exported log '%s' of size %llu to '%s' (%llu files)\n", vt_log_origin(log),
                       (unsigned long long)vt_log_size(log), o->to, (unsigned long long)files);
        vt_log_close(log);
        return rc;
}

static int log_audit(const struct log_opts *o)
{
        struct vt_log_audit_stats st;
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        int err, rc = VT_EXIT_OK;

        /* A log that does not even open consistently fails the audit. */
        if ((err = vt_log_open(o->dir, VT_LOG_READONLY, &log, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                return err == VT_ECORRUPT ? VT_EXIT_VERIFY : rc;
        }
        if (o->key != NULL && strcmp(o->key, vt_log_vkey(log)) != 0) {
                vt_cli_error("log '%s' is signed by '%s', not by the given key", o->dir,
                             vt_log_vkey(log));
                vt_log_close(log);
                return VT_EXIT_VERIFY;
        }
        if ((err = vt_log_audit(log, &st, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                if (err == VT_ECORRUPT)
                        rc = VT_EXIT_VERIFY;
        } else {
                printf("audit ok: log '%s', %llu entries, %llu bundles, %llu tiles, %llu "
                       "checkpoints\n",
                       vt_log_origin(log), (unsigned long long)st.size,
                       (unsigned long long)st.bundles, (unsigned long long)st.tiles,
                       (unsigned long long)st.checkpoints);
        }
        vt_log_close(log);
        return rc;
}

/* see cli.h */
int vt_cli_log(int argc, char **argv)
{
        static const struct {
                const char *name, *allowed;
                int pos;
                int (*fn)(const struct log_opts *);
        } subs[] = {
            {"init", "dir origin", 0, log_init},
            {"key", "dir", 0, log_key},
            {"append", "dir lines", 1, log_append},
            {"checkpoint", "dir", 0, log_checkpoint},
            {"entry", "dir index", 0, log_entry},
            {"prove", "dir index size from to tlog-proof", 0, log_prove},
            {"export", "dir to", 0, log_export},
            {"audit", "dir key", 0, log_audit},
        };
        struct log_opts o;
        size_t i;
        int rc;

        if (argc < 2) {
                vt_cli_error("log: missing subcommand (see 'veritrail log --help')");
                return VT_EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0 || vt_cli_help_asked(argc, argv)) {
                fputs(log_usage, stdout);
                return VT_EXIT_OK;
        }
        for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
                if (strcmp(argv[1], subs[i].name) != 0)
                        continue;
                rc = log_parse(argc - 1, argv + 1, subs[i].allowed, subs[i].pos, &o);
                if (rc == 0)
                        rc = subs[i].fn(&o);
                free(o.args);
                return rc;
        }
        vt_cli_error("log: unknown subcommand '%s' (see 'veritrail log --help')", argv[1]);
        return VT_EXIT_USAGE;
}
