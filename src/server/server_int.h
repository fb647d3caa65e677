/*
 * server_int.h: the server module's private interface, shared by its files
 * and by tests/unit/test_server.c.
 *
 *   server.c   the daemon: socket, libmicrohttpd callbacks, request bodies,
 *              replies, access log, drain
 *   routes.c   the route table and its handlers (HTTP <-> service.h)
 *   limit.c    per-token rate limits (token buckets)
 *   metrics.c  HTTP counters and the Prometheus text exposition
 *   json.c     the little JSON the server writes itself (errors, results)
 */
#ifndef VT_SERVER_INT_H
#define VT_SERVER_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "veritrail/server.h"
#include "veritrail/service.h"
#include "veritrail/util.h"

/* ---- replies ------------------------------------------------------------ */

/*
 * struct vt_server_reply: what a handler answers. body is handed to
 * libmicrohttpd without a copy. Header values are static strings or live in
 * the reply.
 */
struct vt_server_reply {
        unsigned status;
        const char *content_type;
        const char *cache_control; /* NULL: none */
        const char *allow;         /* 405: the methods the path accepts */
        char location[64];         /* "" or a path */
        unsigned retry_after;      /* seconds; 0: no header */
        int www_authenticate;      /* 401: send the challenge */
        struct vt_buf body;
};

/*
 * vt_server_reply_error(r, status, word, fmt, ...): r becomes status with the
 * JSON body {"error":word,"message":<formatted>} (any earlier body released).
 */
void vt_server_reply_error(struct vt_server_reply *r, unsigned status, const char *word,
                           const char *fmt, ...) VT_PRINTF(4, 5);

/*
 * vt_server_reply_code(r, err, msg): r becomes the error reply for the
 * library code err (docs/API.md "Errors"), message msg (or vt_strerror(err)
 * when msg is NULL or empty). Store errors add Retry-After.
 */
void vt_server_reply_code(struct vt_server_reply *r, int err, const char *msg);

/*
 * vt_server_error_status(err, word): the HTTP status of a library code and,
 * in *word (may be NULL), its code word.
 */
unsigned vt_server_error_status(int err, const char **word);

/* ---- JSON the server writes -------------------------------------------- */

/*
 * vt_server_json_string(b, s, n): append s[0..n) as a JSON string with its
 * quotes; control characters are escaped and bytes that are not UTF-8 become
 * U+FFFD, so any diagnostic can be quoted. 0 or VT_ENOMEM.
 */
int vt_server_json_string(struct vt_buf *b, const char *s, size_t n);

/* ---- requests ------------------------------------------------------------ */

struct vt_server_route;

/* One HTTP request, from its first line to its completion. */
struct vt_server_request {
        uint64_t start_ns;
        char uri[256];                       /* the request target as sent, for the access log */
        char method[16];                     /* as sent, for the access log */
        const struct vt_server_route *route; /* NULL until matched (or unmatched) */
        unsigned route_index;                /* metrics slot: the route's, or the "unmatched" one */
        int started;                         /* the access handler has seen it */
        int answered;                        /* a reply was queued */
        int too_big;                         /* the body passed its cap: discard the rest, 413 */
        int over_budget;                     /* the body budget ran out: discard the rest, 503 */
        size_t body_max;                     /* cap for this route's body */
        size_t discarded;                    /* bytes dropped after too_big / over_budget */
        size_t reserved; /* bytes of the server's body budget this request holds */
        struct vt_buf body;
        struct vt_server_reply early; /* an error decided from the headers, sent after the body */
        int has_early;
        char token[66]; /* the writer's token name, "" for none */
        int admin;
        unsigned status; /* answered status, 0 for none */
        size_t bytes;    /* answered body bytes */

        /*
         * A handler that waits for the service without holding its thread
         * (vt_server_park): the connection is suspended until
         * vt_server_wake(rq), then the handler runs again with its work.
         */
        struct vt_server *srv;
        void *conn;      /* struct MHD_Connection */
        atomic_int park; /* VT_SERVER_PARK_*: who resumes the connection */
        int parking;     /* the handler called vt_server_park() */
        void *work;      /* the handler's state while parked */
        /* Frees work when the request ends without the handler's second run. */
        void (*work_free)(struct vt_service *svc, void *work);
};

#define VT_SERVER_PARK_RUNNING   0 /* the handler is running */
#define VT_SERVER_PARK_SUSPENDED 1 /* the connection is suspended: the wake resumes it */
#define VT_SERVER_PARK_DONE      2 /* woken before the suspension: finish() resumes it */

/* ---- routes ------------------------------------------------------------- */

#define VT_SERVER_AUTH_NONE   0
#define VT_SERVER_AUTH_WRITER 1
#define VT_SERVER_AUTH_ADMIN  2

/*
 * A handler gets the path (decoded by libmicrohttpd), the request (its whole
 * body read), and a way to look up query arguments; it fills reply.
 */
struct vt_server_call {
        struct vt_server *srv;
        struct vt_service *svc;
        const char *path;
        const char *tail; /* path after the route's prefix */
        struct vt_server_request *rq;
        void *conn; /* struct MHD_Connection */
};
typedef void (*vt_server_handler_fn)(struct vt_server_call *c, struct vt_server_reply *r);

struct vt_server_route {
        const char *method; /* "GET" (HEAD too), "POST", "PUT" */
        const char *path;   /* exact path, or a prefix when it ends in '/' */
        const char *name;   /* metrics label, "GET /v1/entries/{index}" */
        int auth;           /* VT_SERVER_AUTH_* */
        size_t body_max;    /* 0: no body; else the cap (the batch route: the config's) */
        int batch;          /* charged per envelope after the body is read */
        vt_server_handler_fn fn;
};

/*
 * vt_server_park(c): called by a handler that has started work which will
 * call vt_server_wake(c->rq) exactly once (a vt_service_done_fn): no reply
 * now; the connection is suspended, its thread serves other connections,
 * and once woken the handler runs again with c->rq->work as it left it
 * (it then replies). Set c->rq->work_free too, for a request that ends
 * before that second run.
 */
void vt_server_park(struct vt_server_call *c);

/* vt_server_wake(rq): the work of a parked request is over (any thread). */
void vt_server_wake(void *rq);

/* The table (routes.c) and its size; metrics slot vt_server_nroutes is "unmatched". */
extern const struct vt_server_route vt_server_routes[];
extern const size_t vt_server_nroutes;

/*
 * vt_server_route_find(method, path, route, allow): the route for method and
 * path. 0 with *route set; VT_ENOENT when no route has that path (404);
 * VT_EINVAL when the path exists but not for method (405), *allow then
 * names the methods it accepts ("GET, HEAD").
 */
int vt_server_route_find(const char *method, const char *path, const struct vt_server_route **route,
                         const char **allow);

/* vt_server_route_tail(route, path): the part of path after the route's prefix ("" if exact). */
const char *vt_server_route_tail(const struct vt_server_route *route, const char *path);

/*
 * vt_server_batch_split(body, len, max, offs, lens, n, r): the envelopes of
 * a POST /v1/entries:batch body of len bytes (at most max): a JSON array,
 * or an object whose only member "envelopes" is one, checked whole with
 * vt_encoding_json_parse()'s rules. 0 with *n (1..VT_SERVICE_BATCH_MAX)
 * elements, element i being body[(*offs)[i] .. + (*lens)[i]) (no copy; the
 * caller frees both arrays); or -1 with the error reply in r: the JSON
 * error's (400 malformed, 413 for size or depth), 400 for another shape or
 * no element, 413 for too many. Defined in routes.c.
 */
int vt_server_batch_split(const uint8_t *body, size_t len, size_t max, size_t **offs, size_t **lens,
                          size_t *n, struct vt_server_reply *r);

/* ---- rate limits --------------------------------------------------------- */

struct vt_server_limiter;

/*
 * vt_server_limiter_new(rate, burst, out): token buckets of depth burst
 * refilled at rate per second, one per name. rate 0: no limits (every take
 * succeeds, nothing is kept). 0 or VT_ENOMEM.
 */
int vt_server_limiter_new(double rate, double burst, struct vt_server_limiter **out);
void vt_server_limiter_free(struct vt_server_limiter *l);

/*
 * vt_server_limiter_take(l, name, cost, now_ns): take cost tokens from
 * name's bucket (a full bucket for a name seen first) at time now_ns. 0
 * when allowed; else the seconds to wait (>= 1) before the bucket holds
 * enough, and nothing is taken. A cost above the depth needs a full bucket
 * and leaves it in debt. Thread-safe.
 */
unsigned vt_server_limiter_take(struct vt_server_limiter *l, const char *name, double cost,
                                uint64_t now_ns);

/* ---- metrics ------------------------------------------------------------- */

#define VT_SERVER_STATUS_SLOTS 15
#define VT_SERVER_HIST_BUCKETS 14
#define VT_SERVER_ROUTES_MAX   16 /* route slots, the unmatched one included */

struct vt_server_metrics {
        atomic_uint_fast64_t requests[VT_SERVER_ROUTES_MAX][VT_SERVER_STATUS_SLOTS];
        atomic_uint_fast64_t hist[VT_SERVER_ROUTES_MAX][VT_SERVER_HIST_BUCKETS];
        atomic_uint_fast64_t dur_us[VT_SERVER_ROUTES_MAX];
        atomic_uint_fast64_t bytes_out;
        atomic_uint_fast64_t connections_total;
        atomic_int_fast64_t connections_open;
        atomic_uint_fast64_t rate_limited;
        atomic_uint_fast64_t unauthorized;
        atomic_uint_fast64_t body_rejected; /* 413 and budget 503 before the handler */
        atomic_uint_fast64_t aborted;       /* requests whose connection died before the answer */
};

/* vt_server_metrics_request(m, slot, status, dur_ns, bytes): count one finished request. */
void vt_server_metrics_request(struct vt_server_metrics *m, unsigned slot, unsigned status,
                               uint64_t dur_ns, size_t bytes);

struct vt_server;

/*
 * vt_server_metrics_render(s, out): the Prometheus text exposition (format
 * 0.0.4) of the server's counters and, when s->svc is set, the service's.
 * 0 or VT_ENOMEM.
 */
int vt_server_metrics_render(struct vt_server *s, struct vt_buf *out);

/* ---- the server ---------------------------------------------------------- */

struct vt_server {
        struct vt_service *svc;
        struct vt_server_config cfg;
        void *daemon; /* struct MHD_Daemon */
        int fd;       /* the listening socket */
        int quiesced;
        char url[96];
        atomic_int draining;
        atomic_uint inflight;
        atomic_size_t body_held; /* bytes of bodies held, against cfg.body_budget */
        atomic_int stopping;     /* vt_server_stop: no new parked work */
        atomic_int handling;     /* handlers running now */
        atomic_int parked;       /* parked requests whose wake has not resumed them yet */
        struct vt_server_limiter *limiter;
        struct vt_server_metrics metrics;
};

/*
 * vt_server_parse_listen(s, host, hcap, port): split "HOST:PORT" or
 * "[V6]:PORT" into host (brackets removed) and port. 0 or VT_EINVAL.
 */
int vt_server_parse_listen(const char *s, char *host, size_t hcap, unsigned *port);

/*
 * vt_server_access_line(buf, cap, unix_ms, remote, method, uri, status,
 * bytes, dur_ns, token): format one access-log line (with its newline):
 * "2025-01-02T03:04:05.678Z 127.0.0.1 POST /v1/entries 201 1893 2.41 ci"
 * (time UTC, remote address, method, request target with bytes outside
 * printable ASCII and spaces percent-encoded, status or "-", response body
 * bytes, duration in milliseconds, token name or "-"). Returns its length.
 */
size_t vt_server_access_line(char *buf, size_t cap, int64_t unix_ms, const char *remote,
                             const char *method, const char *uri, unsigned status, size_t bytes,
                             uint64_t dur_ns, const char *token);

#endif
