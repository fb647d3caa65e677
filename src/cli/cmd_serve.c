/*
 * cmd_serve.c: `veritrail serve`: the transparency service over HTTP
 * (server.h, docs/API.md).
 *
 *   veritrail serve --dir D [--root ROOT] [--listen HOST:PORT] [--rate N] [--burst M]
 *                   [--max-connections N] [--max-per-ip N] [--timeout S]
 *                   [--max-batch-body BYTES] [--access-log FILE|-|off]
 *                   [--drain-timeout S] [--linger US] [--index-memtable KEYS]
 *
 * Serves the log that `veritrail log init` made in D, under the governance
 * root ROOT (or, without --root, the root stored in D by an earlier start).
 * Start-up errors are one line each and exit 2 (1 when the root does not
 * verify). Once listening it prints one line on standard output:
 *
 *   veritrail: serving <origin> on http://127.0.0.1:8080 (tree size N)
 *
 * SIGTERM or SIGINT: stop accepting connections, let the requests in flight
 * finish (submissions wait for their commit) for up to --drain-timeout
 * seconds, close the log (it waits for batches in flight), exit 0. A second
 * signal stops the wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "veritrail/server.h"
#include "veritrail/service.h"

#define DRAIN_DEFAULT_S 30

static const char serve_usage[] =
    "usage: veritrail serve --dir D [--root ROOT] [--listen HOST:PORT]\n"
    "                       [--rate N] [--burst M] [--max-connections N] [--max-per-ip N]\n"
    "                       [--timeout S] [--max-batch-body BYTES]\n"
    "                       [--access-log FILE|-|off] [--drain-timeout S] [--linger US]\n"
    "                       [--index-memtable KEYS]\n"
    "  --listen          address to serve on (default " VT_SERVER_LISTEN_DEFAULT "; port 0: any)\n"
    "  --rate, --burst   per-token limit: envelopes per second and bucket depth\n"
    "                    (default 100000 and 200000; --rate 0: no limit)\n"
    "  --timeout         seconds an idle or stalled connection is kept (default 30)\n"
    "  --access-log      one line per request: '-' standard error (default), a file, or off\n"
    "  --linger          microseconds a group commit waits for submissions still being\n"
    "                    checked (default 30000; 0: commit at once)\n"
    "  --index-memtable  keys of each lookup index kept in memory before they are written\n"
    "                    to disk (default 32768, about 36 bytes each)\n"
    "see docs/API.md for the routes\n";

/* A number option from min to max into *out. 0 or VT_EXIT_USAGE after the message. */
static int number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
        if (vt_util_parse_u64(s, strlen(s), out) != 0 || *out < min || *out > max) {
                vt_cli_error("serve: %s '%s' is not a number from %llu to %llu", opt, s,
                             (unsigned long long)min, (unsigned long long)max);
                return VT_EXIT_USAGE;
        }
        return 0;
}

/* Room for every connection's socket: raise the soft descriptor limit towards the hard one. */
static void raise_fd_limit(unsigned connections)
{
        struct rlimit rl;
        rlim_t want = (rlim_t)connections + 256;

        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* The origin: the first line of the latest checkpoint. */
static void origin_of(struct vt_service *svc, char *out, size_t n)
{
        struct vt_diag d = {""};
        struct vt_buf b;
        size_t len = 0;

        vt_buf_init(&b);
        if (vt_service_checkpoint(svc, &b, &d) == 0)
                while (len < b.len && b.p[len] != '\n')
                        len++;
        snprintf(out, n, "%.*s", (int)len, len > 0 ? (const char *)b.p : "?");
        vt_buf_release(&b);
}

/*
 * Seconds between two malloc_trim() calls while serving (see
 * serve_malloc_tuning): they give the pages malloc holds free, in every
 * thread's arena, back to the system.
 */
#define TRIM_S 5

/* Wait for SIGTERM or SIGINT (blocked in every thread); meanwhile trim every TRIM_S seconds. */
static int wait_signal(const sigset_t *set)
{
        struct timespec t = {TRIM_S, 0};
        int sig;

        for (;;) {
                if ((sig = sigtimedwait(set, NULL, &t)) > 0)
                        return sig;
#ifdef __GLIBC__
                if (errno == EAGAIN)
                        (void)malloc_trim(0);
#endif
        }
}

/* Wait for SIGTERM/SIGINT (blocked in every thread), then drain. Returns the signal's name. */
static const char *wait_and_drain(struct vt_server *srv, const sigset_t *set, unsigned drain_s)
{
        struct timespec slice = {0, 100 * 1000000};
        uint64_t end;
        int sig = 0;
        const char *name;

        sig = wait_signal(set);
        name = sig == SIGINT ? "SIGINT" : "SIGTERM";
        vt_server_quiesce(srv);
        if (vt_server_inflight(srv) > 0)
                fprintf(stderr, "veritrail: %s: draining %u requests in flight\n", name,
                        vt_server_inflight(srv));
        end = vt_util_now_ns() + (uint64_t)drain_s * 1000000000u;
        while (vt_server_drain(srv, 0) != 0) {
                if (vt_util_now_ns() >= end) {
                        fprintf(stderr, "veritrail: drain timed out with %u requests in flight\n",
                                vt_server_inflight(srv));
                        break;
                }
                /* A second signal stops waiting. */
                if (sigtimedwait(set, NULL, &slice) > 0) {
                        fprintf(stderr, "veritrail: second signal: not waiting for %u requests\n",
                                vt_server_inflight(srv));
                        break;
                }
        }
        return name;
}

/*
 * A server allocates and frees the same few sizes all the time: request
 * bodies and batch replies of hundreds of KiB among them. glibc would serve
 * those from fresh mappings (past its mmap threshold) or give the freed top
 * of a heap back to the kernel (past its trim threshold), and every reuse
 * would fault the pages in again, one by one: measured as several per cent
 * of the server's CPU under load (a page fault is dear on a virtual
 * machine). So the service keeps what it freed, for its next request.
 * Advice only: a libc that ignores it changes nothing but speed.
 *
 * What it keeps is bounded all the same (DESIGN.md §5): every TRIM_S
 * seconds the main thread calls malloc_trim(0), which gives the free pages
 * of every arena back (about 5 MiB under bench_serve's load, without a
 * measurable cost: a page is faulted in again at most once per TRIM_S).
 * Capping the arenas (M_ARENA_MAX 2) saved as much but cost some
 * throughput (threads then share arenas and their locks).
 */
static void serve_malloc_tuning(void)
{
#ifdef M_MMAP_THRESHOLD
        (void)mallopt(M_MMAP_THRESHOLD, 16 << 20);
        (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

/* see cli.h */
int vt_cli_serve(int argc, char **argv)
{
        static const struct option opts[] = {
            {"dir", required_argument, NULL, 'd'},
            {"root", required_argument, NULL, 'r'},
            {"listen", required_argument, NULL, 'l'},
            {"rate", required_argument, NULL, 'R'},
            {"burst", required_argument, NULL, 'B'},
            {"max-connections", required_argument, NULL, 'C'},
            {"max-per-ip", required_argument, NULL, 'P'},
            {"timeout", required_argument, NULL, 'T'},
            {"max-batch-body", required_argument, NULL, 'M'},
            {"access-log", required_argument, NULL, 'a'},
            {"drain-timeout", required_argument, NULL, 'D'},
            {"linger", required_argument, NULL, 'L'},
            {"index-memtable", required_argument, NULL, 'I'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *dir = NULL, *root = NULL, *alog = "-", *sig;
        struct vt_server_config cfg;
        struct vt_service *svc = NULL;
        struct vt_server *srv = NULL;
        struct vt_diag d = {""};
        uint64_t v, drain_s = DRAIN_DEFAULT_S, linger = 0, memtable = 0;
        int has_linger = 0;
        sigset_t set;
        char origin[256];
        int c, err, rc = VT_EXIT_USAGE, log_fd = -1, rate_set = 0, burst_set = 0;

        vt_server_config_init(&cfg);
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'r':
                        root = optarg;
                        break;
                case 'l':
                        cfg.listen = optarg;
                        break;
                case 'R':
                        if (number("--rate", optarg, 0, 100000000, &v) != 0)
                                return VT_EXIT_USAGE;
                        cfg.rate = (double)v;
                        rate_set = 1;
                        break;
                case 'B':
                        if (number("--burst", optarg, 1, 100000000, &v) != 0)
                                return VT_EXIT_USAGE;
                        cfg.burst = (double)v;
                        burst_set = 1;
                        break;
                case 'C':
                        if (number("--max-connections", optarg, 1, 65536, &v) != 0)
                                return VT_EXIT_USAGE;
                        cfg.max_connections = (unsigned)v;
                        break;
                case 'P':
                        if (number("--max-per-ip", optarg, 1, 65536, &v) != 0)
                                return VT_EXIT_USAGE;
                        cfg.max_per_ip = (unsigned)v;
                        break;
                case 'T':
                        if (number("--timeout", optarg, 1, 86400, &v) != 0)
                                return VT_EXIT_USAGE;
                        cfg.timeout_s = (unsigned)v;
                        break;
                case 'M':
                        if (number("--max-batch-body", optarg, 1024, (uint64_t)1 << 30, &v) != 0)
                                return VT_EXIT_USAGE;
                        cfg.batch_body_max = (size_t)v;
                        break;
                case 'a':
                        alog = optarg;
                        break;
                case 'D':
                        if (number("--drain-timeout", optarg, 0, 86400, &drain_s) != 0)
                                return VT_EXIT_USAGE;
                        break;
                case 'L':
                        if (number("--linger", optarg, 0, 1000000, &linger) != 0)
                                return VT_EXIT_USAGE;
                        has_linger = 1;
                        break;
                case 'I':
                        if (number("--index-memtable", optarg, VT_SERVICE_INDEX_MEMTABLE_MIN,
                                   VT_SERVICE_INDEX_MEMTABLE_MAX, &memtable) != 0)
                                return VT_EXIT_USAGE;
                        break;
                case 'h':
                        fputs(serve_usage, stdout);
                        return VT_EXIT_OK;
                default:
                        vt_cli_error("serve: unknown option or missing value '%s' (see 'veritrail "
                                     "serve --help')",
                                     argv[optind - 1]);
                        return VT_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                vt_cli_error("serve: unexpected argument '%s'", argv[optind]);
                return VT_EXIT_USAGE;
        }
        if (dir == NULL || *dir == '\0') {
                vt_cli_error("serve: --dir D is required (a data directory made by 'veritrail log "
                             "init')");
                return VT_EXIT_USAGE;
        }
        /* --rate without --burst: a bucket of one second's worth. */
        if (rate_set && !burst_set)
                cfg.burst = 0;
        if (root != NULL && access(root, R_OK) != 0) {
                vt_cli_error("cannot read root '%s': %s", root, strerror(errno));
                return VT_EXIT_USAGE;
        }

        /*
         * Signals first: every thread started from here on (the service's and
         * the server's) inherits the mask, so SIGTERM and SIGINT reach only
         * sigwait() below.
         */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit(cfg.max_connections);

        if (strcmp(alog, "off") == 0) {
                cfg.access_log_fd = -1;
        } else if (strcmp(alog, "-") == 0) {
                cfg.access_log_fd = STDERR_FILENO;
        } else {
                log_fd = open(alog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (log_fd < 0) {
                        vt_cli_error("cannot open access log '%s': %s", alog, strerror(errno));
                        goto out;
                }
                cfg.access_log_fd = log_fd;
        }
        cfg.error_log_fd = STDERR_FILENO;

        serve_malloc_tuning();
        if ((err = vt_service_open(dir, root, &svc, &d)) != 0) {
                /* An uninitialised directory: say how to make one, unless the library did. */
                if (err == VT_ENOENT && strstr(d.msg, "log init") == NULL)
                        vt_cli_error("%s (create the log with 'veritrail log init --dir %s "
                                     "--origin NAME')",
                                     d.msg[0] != '\0' ? d.msg : vt_strerror(err), dir);
                else if (err == VT_ENOENT)
                        vt_cli_error("%s", d.msg);
                else
                        rc = vt_cli_fail(err, &d);
                goto out;
        }
        if (has_linger)
                vt_service_set_batching(svc, 0, (unsigned)linger);
        if (memtable != 0)
                vt_service_set_index_memtable(svc, (size_t)memtable);
        if ((err = vt_server_start(svc, &cfg, &srv, &d)) != 0) {
                vt_cli_error("%s", d.msg[0] != '\0' ? d.msg : vt_strerror(err));
                goto out;
        }
        origin_of(svc, origin, sizeof(origin));
        printf("veritrail: serving %s on %s (tree size %llu)\n", origin, vt_server_url(srv),
               (unsigned long long)vt_service_size(svc));
        fflush(stdout);

        sig = wait_and_drain(srv, &set, (unsigned)drain_s);
        vt_server_stop(srv);
        srv = NULL;
        vt_service_close(svc); /* waits for batches in flight to commit */
        svc = NULL;
        fprintf(stderr, "veritrail: %s: stopped\n", sig);
        rc = VT_EXIT_OK;
out:
        vt_server_stop(srv);
        vt_service_close(svc);
        if (log_fd >= 0)
                close(log_fd);
        return rc;
}
