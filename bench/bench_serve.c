/*
 * bench_serve.c: the service under load, over real HTTP on loopback.
 *
 * Prepares a data directory with the command itself (log init, keys, a
 * root whose "builder" role may sign SLSA provenance, a token), starts
 * `veritrail serve`, pre-signs envelopes (each a distinct in-toto statement
 * in a DSSE envelope signed with Ed25519), then drives the server from one
 * epoll thread over many keep-alive connections:
 *
 *   1. closed loop, every connection busy: sustained submissions/s, every
 *      signature checked and every answer a durable 201 with its bundle;
 *   2. open loop at half that rate: submit-to-bundle latency percentiles.
 *
 * The limit beside it is the machine's Ed25519 verify rate (libsodium, all
 * cores) measured in the same run: the closed loop runs in rounds, and the
 * limit is measured before, between and after them (the host's speed
 * drifts; see measure()); target: >= 75% of it, p99 <= 100 ms at half
 * load. The load generator shares the machine's cores with the server.
 *
 * Beside the rate: the CPU time the server (/proc/PID/stat) and the load
 * generator (getrusage) spent per logged envelope in the closed loop, and
 * the ratio one verification bears to their sum: the rate the machine
 * would reach, as a fraction of the limit, if nothing else ran on it. It
 * tells a CPU cost (which this code can cut) from time lost elsewhere.
 * And how many group commits the closed loop made, and their mean size
 * (the server's /metrics): each commit has a fixed cost.
 *
 * Last, the server's resident size (VmRSS) against the entries in its log:
 * DESIGN.md §5 wants it flat (<= 64 MiB at 10M entries). A thread samples
 * it every SAMPLE_S seconds through the whole run (see sampler()); the
 * report gives the peak, a few samples, and the trend: the least-squares
 * slope, in bytes per entry, over the samples of the later half of the
 * log's growth (the caches' warm-up is in the first half). A log that
 * grows only a few hundred thousand entries shows warm-up; VT_BENCH_ENTRIES
 * fills it further to show the flat part.
 *
 * Two runs on one server: one envelope per request (POST /v1/entries, 64
 * connections), then batches of 64 (POST /v1/entries:batch, 32
 * connections; latency is then per request, i.e. per batch). 32 batches
 * in flight keep ~2000 envelopes on their way: enough for the workers to
 * check the next group commit's while one commits (serve --linger).
 *
 * Environment: VT (the binary, default build/veritrail), VT_BENCH_SECONDS,
 * VT_BENCH_CONNS (connections), VT_BENCH_BATCH (envelopes per request:
 * only that run; 1 is the single-envelope route), VT_BENCH_ENTRIES (after
 * the runs, keep submitting batches of 64 until the log holds this many
 * entries, then report the resident size: e.g. 1000000, about a minute
 * per million; the rates above are unaffected).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

#define MAXCONN 512

struct req {
        char *p;
        size_t n;
};

struct conn {
        int fd;
        size_t sent;   /* bytes of the current request written */
        struct req *r; /* current request, NULL when idle */
        double t0;     /* when it was sent */
        char *in;      /* response bytes being read (cap bytes) */
        size_t inlen, cap;
        int out; /* waiting for room to write (EPOLLOUT asked for) */
};

static const char *vt_bin;
static size_t per_req = 1; /* envelopes per request (VT_BENCH_BATCH) */
static size_t logged;      /* envelopes answered 201/200 by drive() */
/* Entries in the server's log: at the start (entries_base), and logged since by drive(). */
static double entries_base;
static atomic_size_t logged_total;
static char tmpdir[64];
static pid_t server_pid;
static int port;
static int ncpu_g = 1; /* cores */

static int run(const char *fmt, ...) VT_PRINTF(1, 2);
static int run(const char *fmt, ...)
{
        char cmd[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        if (system(cmd) != 0) {
                fprintf(stderr, "bench_serve: setup step failed: %s\n", cmd);
                return -1;
        }
        return 0;
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t l = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), p;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &l) != 0)
                return -1;
        p = ntohs(a.sin_port);
        close(fd);
        return p;
}

static int connect_one(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

/*
 * commits(batches, entries): the service's group commits and the entries in
 * them so far (GET /metrics: veritrail_batches_total,
 * veritrail_batch_entries_total). 0, or -1 when they cannot be read.
 */
static int commits(double *batches, double *entries)
{
        static const char q[] = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
        char *buf = NULL, *p;
        size_t len = 0, cap = 0;
        ssize_t r;
        int fd = connect_one(), got = 0;

        if (fd < 0)
                return -1;
        if (write(fd, q, sizeof(q) - 1) != (ssize_t)(sizeof(q) - 1)) {
                close(fd);
                return -1;
        }
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        char *t = realloc(buf, cap = 2 * cap + 8192);
                        if (t == NULL)
                                break;
                        buf = t;
                }
                if ((r = read(fd, buf + len, cap - len - 1)) <= 0)
                        break;
                len += (size_t)r;
        }
        close(fd);
        if (buf == NULL)
                return -1;
        buf[len] = '\0';
        if ((p = strstr(buf, "\nveritrail_batches_total ")) != NULL) {
                *batches = strtod(p + sizeof("\nveritrail_batches_total ") - 1, NULL);
                got++;
        }
        if ((p = strstr(buf, "\nveritrail_batch_entries_total ")) != NULL) {
                *entries = strtod(p + sizeof("\nveritrail_batch_entries_total ") - 1, NULL);
                got++;
        }
        free(buf);
        return got == 2 ? 0 : -1;
}

static int healthy(void)
{
        char buf[512];
        int fd = connect_one();
        ssize_t r;

        if (fd < 0)
                return 0;
        const char q[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
        r = write(fd, q, sizeof(q) - 1);
        r = r > 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        close(fd);
        return r > 12 && strncmp(buf + 9, "200", 3) == 0;
}

static int setup(char *token, size_t toklen)
{
        FILE *f;
        char path[256];
        int i;

        snprintf(tmpdir, sizeof(tmpdir), "/tmp/vt-bench-serve.XXXXXX");
        if (mkdtemp(tmpdir) == NULL)
                return -1;
        if (run("cd %s && %s log init --dir data --origin bench.veritrail.example/log >/dev/null &&"
                " %s key generate --type ed25519 --out gov >/dev/null &&"
                " %s key generate --type ed25519 --out builder >/dev/null &&"
                " %s root init --out root.json --governance-key gov.pub --threshold 1 >/dev/null &&"
                " %s root role root.json --name builder --key builder.pub"
                " --may-sign https://slsa.dev/provenance/v1 >/dev/null &&"
                " %s root sign root.json --key gov.key >/dev/null &&"
                " %s token create --dir data --name bench >token",
                tmpdir, vt_bin, vt_bin, vt_bin, vt_bin, vt_bin, vt_bin, vt_bin) != 0)
                return -1;
        snprintf(path, sizeof(path), "%s/token", tmpdir);
        if ((f = fopen(path, "r")) == NULL || fgets(token, (int)toklen, f) == NULL)
                return -1;
        fclose(f);
        token[strcspn(token, "\r\n")] = '\0';
        if ((port = free_port()) < 0)
                return -1;
        if ((server_pid = fork()) == 0) {
                char listen[64], dir[128], root[128];
                snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
                snprintf(dir, sizeof(dir), "%s/data", tmpdir);
                snprintf(root, sizeof(root), "%s/root.json", tmpdir);
                if (freopen("/dev/null", "w", stderr) == NULL)
                        _exit(127);
                execl(vt_bin, vt_bin, "serve", "--dir", dir, "--root", root, "--listen", listen,
                      (char *)NULL);
                _exit(127);
        }
        for (i = 0; i < 200 && !healthy(); i++)
                usleep(50000);
        return healthy() ? 0 : -1;
}

/* server_cpu(): the server's CPU time so far (user + system, seconds), -1 if unknown. */
static double server_cpu(void)
{
        char path[64], buf[1024], *p;
        unsigned long long ut, st;
        size_t len;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)server_pid);
        if ((f = fopen(path, "r")) == NULL)
                return -1;
        len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* After the command name in parentheses: state is field 3, utime 14, stime 15. */
        if ((p = strrchr(buf, ')')) == NULL ||
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* server_rss(): the server's resident size (VmRSS), bytes; -1 if unknown. */
static double server_rss(void)
{
        char path[64], line[256];
        double kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)server_pid);
        if ((f = fopen(path, "r")) == NULL)
                return -1;
        while (fgets(line, sizeof(line), f) != NULL)
                if (strncmp(line, "VmRSS:", 6) == 0)
                        kib = strtod(line + 6, NULL);
        fclose(f);
        return kib < 0 ? -1 : kib * 1024;
}

/*
 * The sampler: every SAMPLE_S seconds, the server's resident size and the
 * entries in its log (those at the start, plus those drive() has seen
 * logged since), from the first run to the last, so that the report sees
 * the peak and the shape of the curve, not just its two ends.
 */
#define SAMPLE_S    0.5
#define MAX_SAMPLES (1u << 17) /* 18 hours at SAMPLE_S */

struct sample {
        double entries, rss;
};

static struct sample samples[MAX_SAMPLES];
static size_t nsamples;
static atomic_int sampler_stop;
static pthread_t sampler_th;
static int sampler_started;

static void sample_now(void)
{
        double rss = server_rss();

        if (rss >= 0 && nsamples < MAX_SAMPLES) {
                samples[nsamples].entries = entries_base + (double)atomic_load(&logged_total);
                samples[nsamples].rss = rss;
                nsamples++;
        }
}

static void *sampler(void *arg)
{
        double next = bench_now();

        (void)arg;
        while (!atomic_load(&sampler_stop)) {
                if (bench_now() >= next) {
                        sample_now();
                        next += SAMPLE_S;
                }
                usleep(20000);
        }
        return NULL;
}

static void sampler_start(void)
{
        sample_now();
        sampler_started = pthread_create(&sampler_th, NULL, sampler, NULL) == 0;
}

/* Stop sampling (the samples stay for report_memory), with one last sample. */
static void sampler_end(void)
{
        if (!sampler_started)
                return;
        atomic_store(&sampler_stop, 1);
        pthread_join(sampler_th, NULL);
        sampler_started = 0;
        sample_now();
}

/*
 * The server's resident size against the entries in its log (DESIGN.md
 * §5: it must not grow with the log, <= 64 MiB at 10M entries): at the
 * start, the peak, at the end; nine samples spread evenly over the log's
 * growth; and the trend: the least-squares slope over the samples of the
 * later half of the growth, extrapolated to 10M entries.
 */
static void report_memory(void)
{
        const struct sample *a, *z, *pk;
        double e0, e1, half, sx = 0, sy = 0, sxx = 0, sxy = 0, k = 0, slope, mark;
        size_t i, j;

        if (nsamples < 2)
                return;
        a = &samples[0];
        z = &samples[nsamples - 1];
        for (i = 0, pk = a; i < nsamples; i++)
                if (samples[i].rss > pk->rss)
                        pk = &samples[i];
        printf("server resident size (VmRSS, %zu samples %.1f s apart): %.1f MiB at %.0f "
               "entries, peak %.1f MiB at %.0f, %.1f MiB at the end with %.0f\n",
               nsamples, SAMPLE_S, a->rss / 1048576, a->entries, pk->rss / 1048576, pk->entries,
               z->rss / 1048576, z->entries);
        e0 = a->entries;
        e1 = z->entries;
        if (e1 <= e0)
                return;
        printf("  by entries in the log:");
        for (i = 0, j = 0; j <= 8; j++) {
                mark = e0 + (e1 - e0) * (double)j / 8;
                while (i + 1 < nsamples && samples[i].entries < mark)
                        i++;
                printf(" %.0fk %.1f MiB%s", samples[i].entries / 1000, samples[i].rss / 1048576,
                       j < 8 ? "," : "\n");
        }
        half = e0 + (e1 - e0) / 2;
        for (i = 0; i < nsamples; i++) {
                if (samples[i].entries < half)
                        continue;
                sx += samples[i].entries;
                sy += samples[i].rss;
                sxx += samples[i].entries * samples[i].entries;
                sxy += samples[i].entries * samples[i].rss;
                k++;
        }
        if (k < 3 || k * sxx - sx * sx <= 0)
                return;
        slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
        printf("  trend from %.0fk to %.0fk entries (%.0f samples): %+.1f bytes per entry; at 10M "
               "entries about %.0f MiB by it (target: does not grow with the log, <= 64 MiB)\n",
               half / 1000, e1 / 1000, k, slope,
               (z->rss + (slope > 0 ? slope * (1e7 - e1) : 0)) / 1048576);
}

/* self_cpu(): this process's CPU time so far (the load generator's), seconds. */
static double self_cpu(void)
{
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) != 0)
                return 0;
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/*
 * n requests of per_req envelopes, each a distinct statement signed by the
 * builder key: POST /v1/entries, or POST /v1/entries:batch with a JSON array.
 */
static struct req *make_requests(size_t n, const char *token, uint64_t base)
{
        struct vt_crypto_key *k = NULL;
        struct vt_encoding_subject sub;
        struct vt_encoding_dsse env;
        struct vt_buf st, out, body, http;
        struct req *rs = calloc(n, sizeof(*rs));
        char path[256], name[64];
        size_t i, j;

        snprintf(path, sizeof(path), "%s/builder.key", tmpdir);
        if (rs == NULL || vt_crypto_key_load_file(path, NULL, &k, NULL) != 0)
                return NULL;
        vt_buf_init(&st);
        vt_buf_init(&out);
        vt_buf_init(&body);
        vt_buf_init(&http);
        for (i = 0; i < n; i++) {
                body.len = http.len = 0;
                for (j = 0; j < per_req; j++) {
                        uint64_t x = base + i * per_req + j;
                        memset(&sub, 0, sizeof(sub));
                        snprintf(name, sizeof(name), "firmware-%llu.bin", (unsigned long long)x);
                        sub.name = name;
                        sub.has_sha256 = 1;
                        vt_crypto_sha256((const uint8_t *)&x, sizeof(x), &sub.sha256);
                        st.len = out.len = 0;
                        vt_encoding_dsse_init(&env);
                        if (vt_encoding_statement_build(&sub, 1, "https://slsa.dev/provenance/v1",
                                                        NULL, &st, NULL) != 0 ||
                            vt_encoding_dsse_set_payload(&env, VT_ENCODING_INTOTO_PAYLOAD_TYPE,
                                                         st.p, st.len, NULL) != 0 ||
                            vt_encoding_dsse_sign(&env, k, NULL) != 0 ||
                            vt_encoding_dsse_serialize(&env, &out) != 0 ||
                            vt_buf_append(&body,
                                          per_req == 1 ? ""
                                          : j == 0     ? "["
                                                       : ",",
                                          per_req == 1 ? 0 : 1) != 0 ||
                            vt_buf_append(&body, out.p, out.len) != 0)
                                return NULL;
                        vt_encoding_dsse_release(&env);
                }
                if ((per_req > 1 && vt_buf_append(&body, "]", 1) != 0) ||
                    vt_buf_printf(&http,
                                  "POST /v1/entries%s HTTP/1.1\r\nHost: bench\r\nAuthorization: "
                                  "Bearer %s\r\nContent-Type: application/json\r\n"
                                  "Content-Length: %zu\r\n\r\n",
                                  per_req > 1 ? ":batch" : "", token, body.len) != 0 ||
                    vt_buf_append(&http, body.p, body.len) != 0)
                        return NULL;
                rs[i].p = (char *)http.p;
                rs[i].n = http.len;
                vt_buf_init(&http);
        }
        vt_buf_release(&st);
        vt_buf_release(&out);
        vt_buf_release(&body);
        vt_crypto_key_free(k);
        return rs;
}

/* How many envelopes of a batch answer were logged (status 201 or 200). */
static size_t batch_logged(const char *body, size_t len)
{
        const char *p = body, *end = body + len;
        size_t k = 0;

        /* memmem, not a byte loop: the answer is ~2.5 KB per envelope, and this is the client. */
        while ((p = memmem(p, (size_t)(end - p), "\"status\":", 9)) != NULL && end - p >= 12) {
                if (memcmp(p + 9, "201", 3) == 0 || memcmp(p + 9, "200", 3) == 0)
                        k++;
                p += 9;
        }
        return k;
}

/* A whole response in c->in? Returns its length and sets *status, else 0. */
static size_t response_done(struct conn *c, int *status)
{
        char *h, *cl;
        size_t hlen, blen = 0;

        c->in[c->inlen < c->cap ? c->inlen : c->cap - 1] = '\0';
        if ((h = strstr(c->in, "\r\n\r\n")) == NULL)
                return 0;
        hlen = (size_t)(h - c->in) + 4;
        for (cl = c->in; cl < h; cl++) {
                if (cl[0] == '\n' && strncasecmp(cl + 1, "content-length:", 15) == 0) {
                        blen = strtoul(cl + 16, NULL, 10);
                        break;
                }
        }
        if (c->inlen < hlen + blen)
                return 0;
        *status = atoi(c->in + 9);
        return hlen + blen;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/*
 * Write what the socket takes of c's request (a batch of 64 is ~40 KiB:
 * often in parts); while some is left, ask epoll (ep) to say when there is
 * room for more.
 */
static void send_more(int ep, struct conn *c)
{
        struct epoll_event ev;
        ssize_t w;
        int out;

        while (c->r != NULL && c->sent < c->r->n) {
                if ((w = write(c->fd, c->r->p + c->sent, c->r->n - c->sent)) <= 0)
                        break; /* the kernel buffer is full: EPOLLOUT says when to go on */
                c->sent += (size_t)w;
        }
        out = c->r != NULL && c->sent < c->r->n;
        if (out != c->out) {
                ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
                ev.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                c->out = out;
        }
}

/*
 * drive(reqs, n, conns, rate, secs, lat, nlat, errors, sent, took): send
 * requests over conns connections for secs seconds; rate 0 = closed loop,
 * else an open loop of rate requests/s. Then, with sent non-NULL, no new
 * request starts and the ones in flight are waited for (up to 10 s more):
 * every request sent is then answered and counted, and *took is the whole
 * time. Returns the completed count (lat, *nlat: their latencies; *sent:
 * how many of reqs went out).
 */
static size_t drive(struct req *reqs, size_t n, int nconn, double rate, double secs, double *lat,
                    size_t *nlat, size_t *errors, size_t *sent, double *took)
{
        static struct conn cs[MAXCONN];
        struct epoll_event ev, evs[64];
        size_t next = 0, done = 0;
        double start, now, due;
        int ep = epoll_create1(0), i, k, m, stop = 0, wait_ms;

        *nlat = 0;
        *errors = 0;
        logged = 0;
        for (i = 0; i < nconn; i++) {
                free(cs[i].in);
                memset(&cs[i], 0, sizeof(cs[i]));
                cs[i].cap = 65536 + per_req * 8192;
                if ((cs[i].in = malloc(cs[i].cap)) == NULL)
                        return 0;
                if ((cs[i].fd = connect_one()) < 0)
                        return 0;
                fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
                ev.events = EPOLLIN;
                ev.data.ptr = &cs[i];
                epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        }
        start = due = bench_now();
        for (;;) {
                now = bench_now();
                if (now - start >= secs) {
                        if (sent == NULL || done >= next || now - start >= secs + 10)
                                break;
                        stop = 1; /* drain: answers only */
                }
                /* Start requests on idle connections: all of them (closed loop) or when due. */
                for (i = 0; i < nconn && next < n && !stop; i++) {
                        struct conn *c = &cs[i];
                        if (c->r != NULL)
                                continue;
                        if (rate > 0 && now < due)
                                break;
                        c->r = &reqs[next++];
                        c->sent = 0;
                        c->inlen = 0;
                        c->t0 = now;
                        send_more(ep, c);
                        if (rate > 0)
                                due += 1.0 / rate;
                }
                if (next >= n && done >= next)
                        break;
                /*
                 * Sleep until an answer comes, a socket has room for the rest
                 * of a request, the next request of the open loop is due, or
                 * the time is up; never on a short timer: a load generator
                 * that wakes every millisecond takes the server's cores from
                 * it (each wake-up is a switch to another process).
                 */
                wait_ms = (int)((start + secs - now) * 1e3) + 1;
                if (rate > 0 && next < n && !stop && (due - now) * 1e3 < wait_ms)
                        wait_ms = due > now ? (int)((due - now) * 1e3) + 1 : 0;
                if (stop || wait_ms > 100)
                        wait_ms = 100;
                m = epoll_wait(ep, evs, 64, wait_ms);
                for (k = 0; k < m; k++) {
                        struct conn *c = evs[k].data.ptr;
                        ssize_t r;
                        int status = 0;
                        size_t used;
                        if (evs[k].events & EPOLLOUT)
                                send_more(ep, c);
                        if ((evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0)
                                continue;
                        if ((r = read(c->fd, c->in + c->inlen, c->cap - 1 - c->inlen)) <= 0)
                                continue;
                        c->inlen += (size_t)r;
                        if (c->r == NULL || (used = response_done(c, &status)) == 0)
                                continue;
                        if (status == 201 || (status == 200 && per_req == 1)) {
                                lat[(*nlat)++] = bench_now() - c->t0;
                                logged++;
                                atomic_fetch_add(&logged_total, 1);
                        } else if (status == 200) {
                                size_t got = batch_logged(c->in, used);
                                lat[(*nlat)++] = bench_now() - c->t0;
                                logged += got;
                                atomic_fetch_add(&logged_total, got);
                                *errors += per_req - got;
                        } else
                                (*errors)++;
                        done++;
                        c->r = NULL;
                }
        }
        if (took != NULL)
                *took = bench_now() - start;
        if (sent != NULL)
                *sent = next;
        for (i = 0; i < nconn; i++)
                close(cs[i].fd);
        close(ep);
        return done;
}

struct vthread {
        double secs;
        size_t count;
};

static void *verify_thread(void *arg)
{
        struct vthread *t = arg;
        uint8_t pk[32], sk[64], sig[64], msg[1100];
        double start;

        crypto_sign_keypair(pk, sk);
        randombytes_buf(msg, sizeof(msg));
        crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
        start = bench_now();
        while (bench_now() - start < t->secs)
                for (int i = 0; i < 100; i++)
                        t->count += crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0;
        return NULL;
}

/* The machine's Ed25519 verify rate over ncpu threads (libsodium), for ~1 KiB messages. */
static double verify_limit(int ncpu, double secs)
{
        pthread_t th[64];
        struct vthread t[64];
        double total = 0;
        int i;

        for (i = 0; i < ncpu && i < 64; i++) {
                t[i].secs = secs;
                t[i].count = 0;
                pthread_create(&th[i], NULL, verify_thread, &t[i]);
        }
        for (i = 0; i < ncpu && i < 64; i++) {
                pthread_join(th[i], NULL);
                total += (double)t[i].count / secs;
        }
        return total;
}

static void cleanup(void)
{
        char cmd[128];

        sampler_end();
        if (server_pid > 0) {
                kill(server_pid, SIGTERM);
                waitpid(server_pid, NULL, 0);
                server_pid = 0;
        }
        if (tmpdir[0] != '\0') {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
                (void)!system(cmd);
        }
}

/* Rounds of the closed loop, with the verify limit measured before, between and after them. */
#define ROUNDS 5

/*
 * quiet_limit(lsecs, busy): verify_limit() between rounds, corrected for the
 * CPU the server still used meanwhile (its work after a round: the WAL
 * checkpoint, lookup-index runs written and merged). That time was taken
 * from the verify threads and would make the limit read low, and the ratio
 * high. The server's CPU seconds during the measurement are added to *busy.
 */
static double quiet_limit(double lsecs, double *busy)
{
        double c0 = server_cpu(), l = verify_limit(ncpu_g, lsecs), c1 = server_cpu();
        double avail = ncpu_g * lsecs, used = c0 >= 0 && c1 >= c0 ? c1 - c0 : 0;

        *busy += used;
        return used < avail / 2 ? l * avail / (avail - used) : l;
}

/*
 * measure(token, limit, secs, nconn, base): the closed loop, then an open
 * loop at half its rate, per_req envelopes per request; base numbers the
 * envelopes apart from other runs'. Returns the envelopes made, or 0.
 *
 * The host's speed drifts (a shared VM: the verify limit has read anywhere
 * from 34k/s to 45k/s within a minute), so the closed loop runs in ROUNDS
 * rounds and the limit is measured before, between and after them, with
 * the server idle (each round waits for its last answers). Each round is
 * held against the mean of the two measurements around it, and the CPU
 * figures count the rounds only. The ratio against the highest limit
 * measured is printed too: it is the most pessimistic reading.
 */
static size_t measure(const char *token, double limit, double secs, int nconn, uint64_t base)
{
        size_t n, done = 0, nlat = 0, errors = 0, used = 0, logged_all = 0, k, dn, sent, i;
        double rate, *lat, cpu0, cpu1, self0, self1, b0 = -1, b1 = 0, e0 = 0, e1 = 0, took;
        double lim[ROUNDS + 1], held = 0, elapsed = 0, srv = 0, gen = 0, hi = 0, lo = 0, quiet = 0;
        double lsecs = bench_seconds() / 2 < 1 ? bench_seconds() / 2 : 1;
        int r, cpu_ok = 1;
        struct req *reqs;
        char what[96];

        /* Enough envelopes for the closed loop at 1.5 times the limit, then the open loop. */
        n = ((size_t)(limit * secs * 1.5) + 1000) / per_req + 1;
        if ((reqs = make_requests(n, token, base)) == NULL ||
            (lat = calloc(n, sizeof(*lat))) == NULL) {
                fprintf(stderr, "bench_serve: cannot make envelopes\n");
                return 0;
        }
        printf(
            "service over HTTP: %d connections, %zu pre-signed envelopes, %zu per request (%s)\n",
            nconn, n * per_req, per_req,
            per_req == 1 ? "POST /v1/entries" : "POST /v1/entries:batch");
        if (commits(&b0, &e0) != 0)
                b0 = -1;
        lim[0] = quiet_limit(lsecs, &quiet);
        for (r = 0; r < ROUNDS && used < n; r++) {
                cpu0 = server_cpu();
                self0 = self_cpu();
                dn = drive(reqs + used, n - used, nconn, 0, secs / ROUNDS, lat + nlat, &k, &i,
                           &sent, &took);
                cpu1 = server_cpu();
                self1 = self_cpu();
                lim[r + 1] = quiet_limit(lsecs, &quiet);
                done += dn;
                nlat += k;
                errors += i;
                used += sent;
                logged_all += logged;
                elapsed += took;
                held += took * (lim[r] + lim[r + 1]) / 2;
                if (cpu0 < 0 || cpu1 < cpu0)
                        cpu_ok = 0;
                srv += cpu1 - cpu0;
                gen += self1 - self0;
        }
        if (b0 < 0 || commits(&b1, &e1) != 0)
                b0 = -1;
        rate = elapsed > 0 ? (double)logged_all / elapsed : 0;
        limit = elapsed > 0 ? held / elapsed : limit;
        for (i = 0, lo = hi = lim[0]; i <= (size_t)r; i++) {
                hi = lim[i] > hi ? lim[i] : hi;
                lo = lim[i] < lo ? lim[i] : lo;
        }
        printf("  Ed25519 verify limit around the %d rounds: %.0f/s to %.0f/s; each round is held "
               "against the two around it\n",
               r, lo, hi);
        printf("  the server's own CPU while the limit was measured: %.1f%% of the cores (each "
               "limit is corrected for it)\n",
               100.0 * quiet / ((r + 1) * lsecs * ncpu_g));
        snprintf(what, sizeof(what), "submissions/s, %s",
                 per_req == 1 ? "one per request" : "batches of 64");
        if (per_req != 1 && per_req != 64)
                snprintf(what, sizeof(what), "submissions/s, batches of %zu", per_req);
        bench_report(what, rate, "entries/s", limit, "Ed25519 verify, all cores");
        printf("  against the highest limit measured (%.0f/s): ratio %.3f\n", hi,
               hi > 0 ? rate / hi : 0);
        qsort(lat, nlat, sizeof(*lat), cmp_double);
        if (nlat > 0)
                printf("  full load latency per request: p50 %.1f ms, p99 %.1f ms; %zu errors of "
                       "%zu envelopes\n",
                       lat[nlat / 2] * 1e3, lat[nlat * 99 / 100] * 1e3, errors, done * per_req);
        if (logged_all > 0 && cpu_ok) {
                double s_us = srv / (double)logged_all * 1e6;
                double g_us = gen / (double)logged_all * 1e6;
                double ver = ncpu_g * 1e6 / limit;

                printf("  CPU per envelope at full load: server %.1f us, load generator %.1f us, "
                       "one Ed25519 verify %.1f us; CPU-bound ratio %.3f; cores busy %.0f%%\n",
                       s_us, g_us, ver, ver / (s_us + g_us),
                       100.0 * (srv + gen) / (elapsed * ncpu_g));
        }
        /* How the committer grouped them: each commit has a fixed cost (syncs, b-tree edges). */
        if (b0 >= 0 && b1 > b0 && elapsed > 0)
                printf("  group commits at full load: %.0f/s, %.0f entries each (serve --linger)\n",
                       (b1 - b0) / elapsed, (e1 - e0) / (b1 - b0));
        if (rate > 0 && n - used > 100 / per_req + 1) {
                size_t left = n - used;
                done = drive(reqs + used, left, nconn, rate / 2 / (double)per_req, secs / 2, lat,
                             &nlat, &errors, NULL, NULL);
                qsort(lat, nlat, sizeof(*lat), cmp_double);
                if (nlat > 0) {
                        printf("  half load (%.0f envelopes/s): p50 %.1f ms, p99 %.1f ms (target "
                               "<= 100 ms); %zu errors of %zu envelopes\n",
                               rate / 2, lat[nlat / 2] * 1e3, lat[nlat * 99 / 100] * 1e3, errors,
                               done * per_req);
                }
        }
        for (i = 0; i < n; i++)
                free(reqs[i].p);
        free(reqs);
        free(lat);
        return n * per_req;
}

/*
 * fill(token, target, base): batches of 64 over 16 connections, closed
 * loop, made and sent FILL_REQS at a time (pre-signing them all would take
 * gigabytes), until the log holds target entries. 0, or -1 when a round
 * logs nothing.
 */
#define FILL_REQS 1024

static int fill(const char *token, double target, uint64_t base)
{
        double have, took, *lat, t0 = bench_now(), shown = 0;
        size_t n, nlat, errors, sent, i, before;
        struct req *reqs;

        per_req = 64;
        if ((lat = calloc(FILL_REQS, sizeof(*lat))) == NULL)
                return -1;
        while ((have = entries_base + (double)atomic_load(&logged_total)) < target) {
                n = (size_t)((target - have + 63) / 64);
                n = n < FILL_REQS ? n : FILL_REQS;
                if ((reqs = make_requests(n, token, base)) == NULL) {
                        free(lat);
                        return -1;
                }
                base += n * per_req;
                before = atomic_load(&logged_total);
                drive(reqs, n, 16, 0, 1e9, lat, &nlat, &errors, &sent, &took);
                for (i = 0; i < n; i++)
                        free(reqs[i].p);
                free(reqs);
                if (atomic_load(&logged_total) == before) {
                        free(lat);
                        return -1;
                }
                if (have - shown >= 1e6 || have + (double)n * 64 >= target) {
                        printf("  filling: %.0f entries logged, %.0f s\n",
                               entries_base + (double)atomic_load(&logged_total), bench_now() - t0);
                        fflush(stdout);
                        shown = have;
                }
        }
        free(lat);
        return 0;
}

int main(void)
{
        double secs = bench_seconds() * 5, limit, batches0, entries0, target = 0;
        int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
        const char *conns = getenv("VT_BENCH_CONNS"), *batch = getenv("VT_BENCH_BATCH");
        const char *fill_to = getenv("VT_BENCH_ENTRIES");
        int nconn = conns ? atoi(conns) : 0;
        long b = batch ? atol(batch) : 0;
        uint64_t base = 0;
        size_t made;
        char token[128];

        signal(SIGPIPE, SIG_IGN);
        if (sodium_init() < 0)
                return 1;
        vt_bin = realpath(getenv("VT") ? getenv("VT") : "build/veritrail", NULL);
        if (vt_bin == NULL) {
                fprintf(stderr, "bench_serve: no veritrail binary (set VT)\n");
                return 1;
        }
        if (conns != NULL && (nconn < 1 || nconn > MAXCONN)) {
                fprintf(stderr, "bench_serve: VT_BENCH_CONNS must be 1..%d\n", MAXCONN);
                return 1;
        }
        if (batch != NULL && (b < 1 || b > 1000)) {
                fprintf(stderr, "bench_serve: VT_BENCH_BATCH must be 1..1000\n");
                return 1;
        }
        if (fill_to != NULL && ((target = atof(fill_to)) < 1 || target > 1e9)) {
                fprintf(stderr, "bench_serve: VT_BENCH_ENTRIES must be 1..1000000000\n");
                return 1;
        }
        ncpu_g = ncpu > 0 ? ncpu : 1;
        limit = verify_limit(ncpu, bench_seconds());
        printf("machine: %d cores, Ed25519 verify (libsodium, all cores) %.0f/s; the load "
               "generator shares the cores\n",
               ncpu, limit);
        if (setup(token, sizeof(token)) != 0) {
                fprintf(stderr, "bench_serve: cannot start the server\n");
                cleanup();
                return 1;
        }
        /* Entries before the runs; the resident size is sampled from here on (see sampler). */
        if (commits(&batches0, &entries0) != 0)
                entries0 = 0;
        entries_base = entries0;
        sampler_start();
        /* Without VT_BENCH_BATCH: one envelope per request, then batches of 64. */
        if (b == 0 || b == 1) {
                per_req = 1;
                if ((made = measure(token, limit, secs, nconn ? nconn : 64, base)) == 0)
                        goto fail;
                base += made;
        }
        if (b != 1) {
                per_req = b ? (size_t)b : 64;
                if ((made = measure(token, limit, secs, nconn ? nconn : 32, base)) == 0)
                        goto fail;
                base += made;
        }
        if (target > 0 && fill(token, target, base) != 0) {
                fprintf(stderr, "bench_serve: filling the log to %.0f entries failed\n", target);
                goto fail;
        }
        sampler_end();
        report_memory();
        cleanup();
        return 0;
fail:
        cleanup();
        return 1;
}
