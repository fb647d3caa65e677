/*
 * serve_flood.c: the client side of 62-serve-crash.sh (built by that script
 * against the library; not part of the command).
 *
 *   serve_flood submit KEY.key PORT TOKEN_FILE COUNT CONNS OUTDIR SECONDS SEED
 *       signs COUNT distinct envelopes (in-toto statements about subject
 *       flood-SEED-i, SLSA provenance, Ed25519 by KEY), then submits them
 *       to 127.0.0.1:PORT over CONNS keep-alive connections at once. The
 *       server may die at any moment (the script kills it with SIGKILL and
 *       restarts it): a request whose connection fails is sent again once
 *       the server is back (resubmission is idempotent). Each acknowledged
 *       envelope (201, or 200 when a lost answer's entry was already
 *       logged) has its bundle written to OUTDIR/<i>.json (OUTDIR "-":
 *       nowhere). Gives up after SECONDS. Prints one line: "acked A of N
 *       (201: x, 200: y) resent R refused F".
 *
 *   serve_flood check DATADIR VKEY OUTDIR
 *       for every bundle in OUTDIR: it verifies offline against the log's
 *       verifier key (vt_policy_bundle_verify), and the log in DATADIR
 *       (opened read-only) holds its entry, byte for byte, at its index.
 *       Prints "checked N bundles" or the first failure; exit 0 or 1.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/policy.h"

struct flood {
        int port;
        char token[128];
        size_t count, conns;
        const char *outdir;
        uint64_t deadline_ns;
        struct vt_buf *reqs; /* whole HTTP requests, one per envelope */
        atomic_size_t acked, created, existed, resent, refused;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void nap_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

/* Sign envelope i and wrap it in an HTTP request. 0 or -1. */
static int make_request(struct flood *f, const struct vt_crypto_key *k, const char *seed, size_t i,
                        struct vt_buf *out)
{
        struct vt_encoding_subject sub;
        struct vt_encoding_dsse env;
        struct vt_buf st, js;
        char name[96];
        int err;

        memset(&sub, 0, sizeof(sub));
        snprintf(name, sizeof(name), "flood-%s-%zu", seed, i);
        sub.name = name;
        sub.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)name, strlen(name), &sub.sha256);
        vt_buf_init(&st);
        vt_buf_init(&js);
        vt_encoding_dsse_init(&env);
        err =
            vt_encoding_statement_build(&sub, 1, "https://slsa.dev/provenance/v1", NULL, &st, NULL);
        if (err == 0)
                err = vt_encoding_dsse_set_payload(&env, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p,
                                                   st.len, NULL);
        if (err == 0)
                err = vt_encoding_dsse_sign(&env, k, NULL);
        if (err == 0)
                err = vt_encoding_dsse_serialize(&env, &js);
        if (err == 0)
                err = vt_buf_printf(out,
                                    "POST /v1/entries HTTP/1.1\r\nHost: flood\r\nAuthorization: "
                                    "Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                                    f->token, js.len);
        if (err == 0)
                err = vt_buf_append(out, js.p, js.len);
        vt_encoding_dsse_release(&env);
        vt_buf_release(&st);
        vt_buf_release(&js);
        return err == 0 ? 0 : -1;
}

static int connect_server(int port)
{
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

/*
 * One exchange on fd: send req, read one response. Returns the status (body
 * in *body, *close set when the server will close), or -1 when the
 * connection failed (the server died, or closed an idle connection).
 */
static int exchange(int fd, const struct vt_buf *req, struct vt_buf *body, int *close_after)
{
        struct vt_buf in;
        size_t off = 0, hlen = 0, clen = 0;
        char *hend = NULL, *p;
        int status = -1;

        while (off < req->len) {
                ssize_t w = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);

                if (w <= 0)
                        return -1;
                off += (size_t)w;
        }
        vt_buf_init(&in);
        for (;;) {
                ssize_t r;

                if (vt_buf_reserve(&in, 65536) != 0)
                        goto out;
                r = recv(fd, in.p + in.len, 65536, 0);
                if (r <= 0)
                        goto out;
                in.len += (size_t)r;
                in.p[in.len] = '\0';
                if (hend == NULL && (hend = strstr((char *)in.p, "\r\n\r\n")) != NULL) {
                        hlen = (size_t)(hend - (char *)in.p) + 4;
                        p = strcasestr((char *)in.p, "\r\nContent-Length:");
                        if (p == NULL || p > hend)
                                goto out;
                        clen = strtoul(p + 17, NULL, 10);
                        p = strcasestr((char *)in.p, "\r\nConnection: close");
                        *close_after = p != NULL && p < hend;
                }
                if (hend != NULL && in.len >= hlen + clen)
                        break;
        }
        if (in.len < 12 || strncmp((char *)in.p, "HTTP/1.1 ", 9) != 0)
                goto out;
        status = atoi((char *)in.p + 9);
        body->len = 0;
        if (vt_buf_append(body, in.p + hlen, clen) != 0)
                status = -1;
out:
        vt_buf_release(&in);
        return status;
}

static int write_bundle(const char *dir, size_t i, const struct vt_buf *b)
{
        char path[4096];
        FILE *fp;
        int ok;

        if (strcmp(dir, "-") == 0)
                return 0; /* "-": keep nothing (to measure the server alone) */
        snprintf(path, sizeof(path), "%s/%zu.json", dir, i);
        if ((fp = fopen(path, "w")) == NULL)
                return -1;
        ok = fwrite(b->p, 1, b->len, fp) == b->len;
        return fclose(fp) == 0 && ok ? 0 : -1;
}

struct worker {
        struct flood *f;
        size_t id;
};

/* Envelopes id, id + conns, id + 2 conns, ...: each until acknowledged or the deadline. */
static void *work(void *arg)
{
        struct worker *w = arg;
        struct flood *f = w->f;
        struct vt_buf body;
        size_t i;
        int fd = -1;

        vt_buf_init(&body);
        for (i = w->id; i < f->count; i += f->conns) {
                for (;;) {
                        int status, close_after = 0;

                        if (now_ns() > f->deadline_ns)
                                goto done;
                        if (fd < 0 && (fd = connect_server(f->port)) < 0) {
                                nap_ms(20); /* the server is down: wait for its restart */
                                continue;
                        }
                        status = exchange(fd, &f->reqs[i], &body, &close_after);
                        if (status < 0 || close_after) {
                                close(fd);
                                fd = -1;
                        }
                        if (status < 0) {
                                atomic_fetch_add(&f->resent, 1); /* sent again below */
                                continue;
                        }
                        if (status == 201 || status == 200) {
                                if (write_bundle(f->outdir, i, &body) != 0) {
                                        fprintf(stderr, "serve_flood: cannot write bundle %zu\n",
                                                i);
                                        goto done;
                                }
                                atomic_fetch_add(&f->acked, 1);
                                atomic_fetch_add(status == 201 ? &f->created : &f->existed, 1);
                                break;
                        }
                        if (status == 503 || status == 429) {
                                nap_ms(50);
                                continue;
                        }
                        atomic_fetch_add(&f->refused, 1);
                        fprintf(stderr, "serve_flood: envelope %zu refused with %d: %.*s\n", i,
                                status, (int)(body.len < 300 ? body.len : 300), (char *)body.p);
                        break;
                }
        }
done:
        if (fd >= 0)
                close(fd);
        vt_buf_release(&body);
        return NULL;
}

static int flood_submit(char **argv)
{
        struct vt_crypto_key *k = NULL;
        struct flood f;
        struct worker *ws;
        pthread_t *ts;
        FILE *fp;
        size_t i;

        memset(&f, 0, sizeof(f));
        f.port = atoi(argv[1]);
        f.count = strtoul(argv[3], NULL, 10);
        f.conns = strtoul(argv[4], NULL, 10);
        f.outdir = argv[5];
        if ((fp = fopen(argv[2], "r")) == NULL || fgets(f.token, sizeof(f.token), fp) == NULL) {
                fprintf(stderr, "serve_flood: cannot read token '%s'\n", argv[2]);
                return 2;
        }
        fclose(fp);
        f.token[strcspn(f.token, "\r\n")] = '\0';
        if (vt_crypto_key_load_file(argv[0], NULL, &k, NULL) != 0) {
                fprintf(stderr, "serve_flood: cannot load key '%s'\n", argv[0]);
                return 2;
        }
        f.reqs = calloc(f.count, sizeof(*f.reqs));
        ts = calloc(f.conns, sizeof(*ts));
        ws = calloc(f.conns, sizeof(*ws));
        if (f.reqs == NULL || ts == NULL || ws == NULL || f.conns == 0)
                return 2;
        for (i = 0; i < f.count; i++) {
                vt_buf_init(&f.reqs[i]);
                if (make_request(&f, k, argv[7], i, &f.reqs[i]) != 0) {
                        fprintf(stderr, "serve_flood: cannot sign envelope %zu\n", i);
                        return 2;
                }
        }
        vt_crypto_key_free(k);
        f.deadline_ns = now_ns() + strtoull(argv[6], NULL, 10) * 1000000000u;
        for (i = 0; i < f.conns; i++) {
                ws[i].f = &f;
                ws[i].id = i;
                if (pthread_create(&ts[i], NULL, work, &ws[i]) != 0)
                        return 2;
        }
        for (i = 0; i < f.conns; i++)
                pthread_join(ts[i], NULL);
        printf("acked %zu of %zu (201: %zu, 200: %zu) resent %zu refused %zu\n",
               atomic_load(&f.acked), f.count, atomic_load(&f.created), atomic_load(&f.existed),
               atomic_load(&f.resent), atomic_load(&f.refused));
        for (i = 0; i < f.count; i++)
                vt_buf_release(&f.reqs[i]);
        free(f.reqs);
        free(ts);
        free(ws);
        return 0;
}

/* One bundle: verifies offline, and the log holds its entry at its index. */
static int check_one(struct vt_log *log, const char *vkey, const char *path)
{
        struct vt_encoding_bundle b;
        struct vt_diag d = {""};
        struct vt_buf raw, entry;
        int err;

        vt_buf_init(&raw);
        vt_buf_init(&entry);
        vt_encoding_bundle_init(&b);
        err = vt_util_read_file(path, VT_ENCODING_BUNDLE_MAX, &raw, &d);
        if (err == 0)
                err = vt_policy_bundle_verify(raw.p, raw.len, &vkey, 1, NULL, NULL, &d);
        if (err == 0)
                err = vt_encoding_bundle_parse(raw.p, raw.len, &b, &d);
        if (err == 0 && b.n != 1) {
                vt_diag_set(&d, "holds %zu attestations, not 1", b.n);
                err = VT_EMALFORMED;
        }
        if (err == 0)
                err = vt_log_entry(log, b.atts[0].proof.index, &entry, &d);
        if (err == 0 && (entry.len != b.atts[0].entry_len ||
                         memcmp(entry.p, b.atts[0].entry, entry.len) != 0)) {
                vt_diag_set(&d, "the log's entry %llu is not the bundle's entry",
                            (unsigned long long)b.atts[0].proof.index);
                err = VT_EAUDIT;
        }
        if (err != 0)
                printf("serve_flood: '%s': %s\n", path, d.msg[0] ? d.msg : vt_strerror(err));
        vt_encoding_bundle_release(&b);
        vt_buf_release(&raw);
        vt_buf_release(&entry);
        return err;
}

static int flood_check(char **argv)
{
        struct vt_log *log = NULL;
        struct vt_diag d = {""};
        struct dirent *e;
        size_t n = 0;
        DIR *dir;
        int rc = 0;

        if (vt_log_open(argv[0], VT_LOG_READONLY, &log, &d) != 0) {
                printf("serve_flood: cannot open the log: %s\n", d.msg);
                return 1;
        }
        if ((dir = opendir(argv[2])) == NULL) {
                vt_log_close(log);
                return 1;
        }
        while (rc == 0 && (e = readdir(dir)) != NULL) {
                char path[4096];

                if (strstr(e->d_name, ".json") == NULL)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", argv[2], e->d_name);
                if (check_one(log, argv[1], path) != 0)
                        rc = 1;
                n++;
        }
        closedir(dir);
        vt_log_close(log);
        if (rc == 0)
                printf("checked %zu bundles\n", n);
        return rc;
}

int main(int argc, char **argv)
{
        if (sodium_init() < 0)
                return 2;
        if (argc == 10 && strcmp(argv[1], "submit") == 0)
                return flood_submit(argv + 2);
        if (argc == 5 && strcmp(argv[1], "check") == 0)
                return flood_check(argv + 2);
        fprintf(stderr, "usage: serve_flood submit KEY PORT TOKEN_FILE COUNT CONNS OUTDIR SECONDS "
                        "SEED\n       serve_flood check DATADIR VKEY OUTDIR\n");
        return 2;
}
