/*
 * server.h: the HTTP face of the transparency service (libmicrohttpd).
 *
 * The server holds one route table (src/server/routes.c, documented in
 * docs/API.md) whose handlers only translate HTTP into service.h calls:
 *
 *   write (Authorization: Bearer <token>)
 *     POST /v1/entries          one DSSE envelope -> 201 bundle (200 if logged before)
 *     POST /v1/entries:batch    envelopes -> per-envelope results
 *     PUT  /v1/root             admin: replace the governance root
 *   read (public)
 *     GET  /checkpoint          C2SP tlog-tiles
 *     GET  /tile/<L>/<N>[.p/<W>], /tile/entries/<N>[.p/<W>]
 *     GET  /v1/entries/<index>, /v1/envelopes/<hex>, /v1/subjects/<hex>,
 *          /v1/bundle?subject=sha256:<hex>
 *   operations
 *     GET  /healthz, /metrics (Prometheus text format)
 *
 * Every error is a JSON body {"error":"<code word>","message":"<sentence>"}
 * with the status docs/API.md lists for the library code.
 *
 * Threading model: a pool of event-loop threads (libmicrohttpd's thread
 * pool with epoll; one per core unless configured). A submission never
 * blocks a thread: its handler starts it in the service
 * (vt_service_submit_start) and suspends the connection; the service's
 * workers check the signatures, its committer makes the group commit
 * durable and then resumes the connection, whose thread builds the bundle
 * and answers. So any number of submitters (up to the connection limit)
 * wait at once at the cost of a suspended connection each, with a few
 * context switches per batch rather than per request; a slow or stalled
 * client holds no thread at all, and is closed after the idle timeout.
 * Reads and root replacement run on the event-loop thread (they are short). Bounds: a total
 * connection limit, a per-IP connection limit, an idle timeout, a body cap per route enforced while
 * the body arrives (a Content-Length past the cap is refused before any byte of the body is read),
 * and a budget of body bytes buffered at once over all connections. Writers are rate limited per
 * token (token bucket, one token per envelope).
 *
 * Signals are the caller's: vt_server_start() starts threads that inherit
 * the caller's signal mask, so a caller that waits for SIGTERM blocks it
 * first (the command does, see src/cli/cmd_serve.c).
 *
 * Prefix: vt_server_*.
 */
#ifndef VT_SERVER_H
#define VT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "veritrail/service.h"
#include "veritrail/util.h"

struct vt_server;

#define VT_SERVER_LISTEN_DEFAULT      "127.0.0.1:8080"
#define VT_SERVER_RATE_DEFAULT        100000.0 /* envelopes per second per token */
#define VT_SERVER_BURST_DEFAULT       200000.0 /* bucket depth, envelopes */
#define VT_SERVER_CONNECTIONS_DEFAULT 2048
#define VT_SERVER_PER_IP_DEFAULT      1024
#define VT_SERVER_TIMEOUT_DEFAULT     30                  /* seconds a connection may idle */
#define VT_SERVER_BATCH_BODY_MAX      (16 * 1024 * 1024)  /* bytes of one batch request */
#define VT_SERVER_BODY_BUDGET_DEFAULT (256 * 1024 * 1024) /* bytes buffered at once, all bodies */

/*
 * struct vt_server_config: caller-owned settings; vt_server_config_init()
 * fills the defaults above. A zero count means the default.
 */
struct vt_server_config {
        /*
         * "HOST:PORT": an IPv4 address, "[IPv6]" or a host name, and a port
         * from 0 to 65535 (0: any free port; vt_server_url() says which).
         */
        const char *listen;
        double rate;              /* envelopes per second per token; 0: no limit */
        double burst;             /* bucket depth in envelopes; 0: max(rate, 1) */
        unsigned max_connections; /* open connections at once */
        unsigned max_per_ip;      /* open connections from one address */
        unsigned timeout_s;       /* a connection idle this long is closed */
        size_t batch_body_max;    /* cap on a batch request's body */
        size_t body_budget;       /* bytes of request bodies held at once; past it 503 */
        unsigned threads;         /* event-loop threads; 0: one per core */
        int access_log_fd;        /* one line per request; -1: none */
        int error_log_fd;         /* libmicrohttpd's own complaints; -1: none */
};

/* vt_server_config_init(c): the defaults; listen is VT_SERVER_LISTEN_DEFAULT, no logs. */
void vt_server_config_init(struct vt_server_config *c);

/*
 * vt_server_start(svc, c, out, d): bind c->listen and start serving svc
 * (which must outlive the server). Returns once the socket listens.
 * VT_EINVAL for a listen address that does not parse or resolve, VT_EEXIST
 * when the address is in use ("cannot listen on '127.0.0.1:8080': address
 * already in use"), VT_EIO for other socket errors, VT_EINTERNAL when
 * libmicrohttpd refuses to start, VT_ENOMEM. *out is set only on success.
 */
int vt_server_start(struct vt_service *svc, const struct vt_server_config *c,
                    struct vt_server **out, struct vt_diag *d);

/* vt_server_url(s): "http://HOST:PORT" of the bound socket (the real port), owned by s. */
const char *vt_server_url(const struct vt_server *s);

/*
 * vt_server_quiesce(s): stop accepting connections. Requests already
 * received are still answered (with "Connection: close"); idle kept-alive
 * connections may send one more. Idempotent.
 */
void vt_server_quiesce(struct vt_server *s);

/*
 * vt_server_inflight(s): requests received and not yet answered (a
 * submission waiting for its commit counts until its answer is sent).
 */
unsigned vt_server_inflight(const struct vt_server *s);

/*
 * vt_server_drain(s, timeout_ms): quiesce, then wait until no request is in
 * flight, at most timeout_ms. 0 when drained, VT_EBUSY on timeout.
 */
int vt_server_drain(struct vt_server *s, unsigned timeout_ms);

/*
 * vt_server_stop(s): stop the daemon (closing every connection; requests
 * still in flight are cut off: drain first), close the socket, free s. The
 * service is the caller's to close afterwards. NULL is a no-op.
 */
void vt_server_stop(struct vt_server *s);

#endif
