/*
 * server.c: the daemon around the route table (server.h): the listening
 * socket, libmicrohttpd's callbacks, request bodies, replies, the access log
 * and the drain on shutdown.
 *
 * The life of one request, in libmicrohttpd's callbacks:
 *   on_uri        the request line arrived: allocate our request (start time,
 *                 target as sent)
 *   on_access #1  headers complete: match the route (404/405), check the
 *                 bearer token (401/403) and the rate limit (429), refuse a
 *                 Content-Length past the route's cap (413) or the body
 *                 budget (503): all before a byte of the body is read
 *   on_access #n  body bytes: appended while under the cap; past it the rest
 *                 is counted and dropped (413 at the end), and a client that
 *                 keeps sending more than twice the cap is disconnected
 *   on_access end the handler runs and its reply is queued; or the handler
 *                 parks (vt_server_park): a submission has started in the
 *                 service and the connection is suspended until the service
 *                 wakes it (vt_server_wake), then the handler runs again
 *                 and replies
 *   on_completed  the answer was sent (or the connection died): access-log
 *                 line, metrics, free
 *
 * libmicrohttpd runs a small pool of event-loop threads (epoll, one per
 * core; see server.h for why), with an idle timeout, a connection limit
 * and a per-IP limit. No thread ever waits for a group commit: a waiting
 * submission is a suspended connection. We bind the socket
 * ourselves so that start-up errors say exactly what is wrong ("address
 * already in use") and port 0 works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/server_int.h"

#define THREAD_STACK (1024 * 1024) /* bytes; handlers build bundles and proofs on it */
#define POOL_MAX     16            /* event-loop threads at most */

/* see server.h */
void vt_server_config_init(struct vt_server_config *c)
{
        memset(c, 0, sizeof(*c));
        c->listen = VT_SERVER_LISTEN_DEFAULT;
        c->rate = VT_SERVER_RATE_DEFAULT;
        c->burst = VT_SERVER_BURST_DEFAULT;
        c->max_connections = VT_SERVER_CONNECTIONS_DEFAULT;
        c->max_per_ip = VT_SERVER_PER_IP_DEFAULT;
        c->timeout_s = VT_SERVER_TIMEOUT_DEFAULT;
        c->batch_body_max = VT_SERVER_BATCH_BODY_MAX;
        c->body_budget = VT_SERVER_BODY_BUDGET_DEFAULT;
        c->access_log_fd = -1;
        c->error_log_fd = -1;
}

/* see server_int.h */
int vt_server_parse_listen(const char *s, char *host, size_t hcap, unsigned *port)
{
        const char *colon, *h = s, *hend;
        uint64_t p;

        if (s[0] == '[') {
                h = s + 1;
                if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
                        return VT_EINVAL;
                colon = hend + 1;
        } else {
                if ((colon = strrchr(s, ':')) == NULL ||
                    memchr(s, ':', (size_t)(colon - s)) != NULL)
                        return VT_EINVAL;
                hend = colon;
        }
        if (hend == h || (size_t)(hend - h) >= hcap ||
            vt_util_parse_u64(colon + 1, strlen(colon + 1), &p) != 0 || p > 65535)
                return VT_EINVAL;
        memcpy(host, h, (size_t)(hend - h));
        host[hend - h] = '\0';
        *port = (unsigned)p;
        return 0;
}

/* Bind and listen on c->listen; fill s->fd and s->url. */
static int open_socket(struct vt_server *s, const char *listen_at, struct vt_diag *d)
{
        struct addrinfo hints, *ai = NULL;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char host[256], addr[INET6_ADDRSTRLEN], service[8];
        unsigned port;
        int fd = -1, one = 1, rc, err;

        if (vt_server_parse_listen(listen_at, host, sizeof(host), &port) != 0) {
                vt_diag_set(d, "listen address '%s' is not HOST:PORT (port 0 to 65535)", listen_at);
                return VT_EINVAL;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(service, sizeof(service), "%u", port);
        if ((rc = getaddrinfo(host, service, &hints, &ai)) != 0) {
                vt_diag_set(d, "listen address '%s': %s", listen_at, gai_strerror(rc));
                return VT_EINVAL;
        }
        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
                err = errno == EADDRINUSE ? VT_EEXIST : VT_EIO;
                vt_diag_set(d, "cannot listen on '%s': %s", listen_at,
                            errno == EADDRINUSE ? "address already in use" : strerror(errno));
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return err;
        }
        freeaddrinfo(ai);
        if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

                inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
                snprintf(s->url, sizeof(s->url), "http://[%s]:%u", addr, ntohs(a->sin6_port));
        } else {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

                inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
                snprintf(s->url, sizeof(s->url), "http://%s:%u", addr, ntohs(a->sin_port));
        }
        s->fd = fd;
        return 0;
}

/* ---- access log ----------------------------------------------------------- */

/* see server_int.h */
size_t vt_server_access_line(char *buf, size_t cap, int64_t unix_ms, const char *remote,
                             const char *method, const char *uri, unsigned status, size_t bytes,
                             uint64_t dur_ns, const char *token)
{
        static const char hex[] = "0123456789ABCDEF";
        char target[3 * 256 + 1], st[16];
        time_t secs = (time_t)(unix_ms / 1000);
        struct tm tm;
        size_t i, o = 0;
        int n;

        /* The target as sent, but never able to break the line's fields apart. */
        for (i = 0; uri[i] != '\0' && o + 4 < sizeof(target); i++) {
                unsigned char c = (unsigned char)uri[i];

                if (c > 0x20 && c < 0x7f && c != '%') {
                        target[o++] = (char)c;
                } else {
                        target[o++] = '%';
                        target[o++] = hex[c >> 4];
                        target[o++] = hex[c & 15];
                }
        }
        target[o] = '\0';
        if (o == 0)
                snprintf(target, sizeof(target), "-");
        if (status != 0)
                snprintf(st, sizeof(st), "%u", status);
        else
                snprintf(st, sizeof(st), "-");
        gmtime_r(&secs, &tm);
        n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s %s %s %zu %.2f %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(unix_ms % 1000), remote, method, target, st, bytes, (double)dur_ns / 1e6,
                     token[0] != '\0' ? token : "-");
        if (n < 0)
                return 0;
        if ((size_t)n >= cap) {
                /* Cut, but keep the newline so lines never run together. */
                buf[cap - 2] = '\n';
                return cap - 1;
        }
        return (size_t)n;
}

static void access_log(struct vt_server *s, struct MHD_Connection *conn,
                       const struct vt_server_request *rq, uint64_t now_ns)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char remote[INET6_ADDRSTRLEN] = "-", line[1024];
        struct timespec ts;
        size_t n;

        if (ci != NULL && ci->client_addr != NULL) {
                if (ci->client_addr->sa_family == AF_INET)
                        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr,
                                  remote, sizeof(remote));
                else if (ci->client_addr->sa_family == AF_INET6)
                        inet_ntop(AF_INET6,
                                  &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
                                  remote, sizeof(remote));
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        n = vt_server_access_line(line, sizeof(line),
                                  (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, remote,
                                  rq->method[0] != '\0' ? rq->method : "-", rq->uri, rq->status,
                                  rq->bytes, now_ns - rq->start_ns, rq->token);
        /* One write per line, so lines from many threads never interleave (O_APPEND or a pipe). */
        if (n > 0 && write(s->cfg.access_log_fd, line, n) < 0) {
                /* Nothing useful to do: the log is best effort, the answer was sent. */
        }
}

/* ---- replies ------------------------------------------------------------- */

static void reply_init(struct vt_server_reply *r)
{
        memset(r, 0, sizeof(r[0]));
        vt_buf_init(&r->body);
}

/* Queue r on conn (taking its body) and note it in rq. */
static enum MHD_Result queue_reply(struct vt_server *s, struct MHD_Connection *conn,
                                   struct vt_server_request *rq, struct vt_server_reply *r)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;
        size_t len = r->body.len;
        char num[24];

        if (len > 0) {
                resp = MHD_create_response_from_buffer_with_free_callback(r->body.len, r->body.p,
                                                                          free);
                if (resp != NULL)
                        vt_buf_init(&r->body); /* libmicrohttpd owns it now */
        } else {
                resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        }
        if (resp == NULL) {
                vt_buf_release(&r->body);
                return MHD_NO;
        }
        if (r->content_type != NULL)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
        if (r->cache_control != NULL)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
        if (r->location[0] != '\0')
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
        if (r->allow != NULL)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
        if (r->retry_after != 0) {
                snprintf(num, sizeof(num), "%u", r->retry_after);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
        }
        if (r->www_authenticate)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Bearer realm=\"veritrail\"");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (atomic_load(&s->draining))
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        rq->status = r->status;
        rq->bytes = len;
        ret = MHD_queue_response(conn, r->status, resp);
        MHD_destroy_response(resp);
        rq->answered = 1;
        return ret;
}

/* Keep r (taken over) in rq until the body has been read, or queue it now (must_close). */
static enum MHD_Result hold_reply(struct vt_server *s, struct MHD_Connection *conn,
                                  struct vt_server_request *rq, struct vt_server_reply *r,
                                  int must_close)
{
        if (must_close)
                return queue_reply(s, conn, rq, r);
        rq->early = *r;
        rq->has_early = 1;
        vt_buf_init(&r->body);
        return MHD_YES;
}

/*
 * An error decided from the headers alone. When the request may still send a
 * body that we have not refused for its size, the reply waits in rq while the
 * body is read and dropped, so the connection stays usable (keep-alive);
 * with must_close set it is queued at once, the body is never read and
 * libmicrohttpd closes the connection after the answer.
 */
static enum MHD_Result reply_early(struct vt_server *s, struct MHD_Connection *conn,
                                   struct vt_server_request *rq, unsigned status, const char *word,
                                   const char *msg, struct vt_server_reply *r, int must_close)
{
        vt_server_reply_error(r, status, word, "%s", msg);
        return hold_reply(s, conn, rq, r, must_close);
}

/* ---- the body budget --------------------------------------------------------- */

/* Hold n more bytes of the budget for rq. 0, or -1 when the budget is spent. */
static int budget_take(struct vt_server *s, struct vt_server_request *rq, size_t n)
{
        size_t held = atomic_load(&s->body_held);

        do {
                if (held + n > s->cfg.body_budget)
                        return -1;
        } while (!atomic_compare_exchange_weak(&s->body_held, &held, held + n));
        rq->reserved += n;
        return 0;
}

static void budget_release(struct vt_server *s, struct vt_server_request *rq)
{
        atomic_fetch_sub(&s->body_held, rq->reserved);
        rq->reserved = 0;
}

/* ---- libmicrohttpd callbacks --------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
        struct vt_server_request *rq = calloc(1, sizeof(*rq));

        if (rq == NULL)
                return NULL;
        rq->start_ns = vt_util_now_ns();
        rq->route_index = (unsigned)vt_server_nroutes;
        rq->srv = cls;
        rq->conn = conn;
        atomic_init(&rq->park, VT_SERVER_PARK_RUNNING);
        snprintf(rq->uri, sizeof(rq->uri), "%s", uri);
        vt_buf_init(&rq->body);
        vt_buf_init(&rq->early.body);
        return rq;
}

/*
 * Parse "Authorization: Bearer <token>" (RFC 6750 §2.1) and check the token
 * with the service. 0, or -1 with the 401/403 reply (status, word, message)
 * in r.
 */
static int authorize(struct vt_server *s, struct MHD_Connection *conn, struct vt_server_request *rq,
                     int need, struct vt_server_reply *r)
{
        const char *h =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        struct vt_diag d = {""};
        char name[65];
        int admin = 0;

        if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
                vt_server_reply_error(r, 401, "unauthorized",
                                      "missing bearer token: send 'Authorization: Bearer <token>'");
                goto refuse;
        }
        for (h += 7; *h == ' '; h++)
                ;
        if (strlen(h) != VT_SERVICE_TOKEN_LEN ||
            vt_service_token_check(s->svc, h, name, &admin, &d) != 0) {
                vt_server_reply_error(r, 401, "unauthorized", "%s",
                                      d.msg[0] != '\0' ? d.msg : "token is unknown or revoked");
                goto refuse;
        }
        snprintf(rq->token, sizeof(rq->token), "%s", name);
        rq->admin = admin;
        if (need == VT_SERVER_AUTH_ADMIN && !admin) {
                vt_server_reply_error(r, 403, "forbidden",
                                      "token '%s' is not an admin token: this route needs one",
                                      name);
                return -1;
        }
        return 0;
refuse:
        atomic_fetch_add_explicit(&s->metrics.unauthorized, 1, memory_order_relaxed);
        r->www_authenticate = 1;
        return -1;
}

/* The first call for a request: everything that can be decided from the headers. */
static enum MHD_Result begin(struct vt_server *s, struct MHD_Connection *conn, const char *url,
                             const char *method, struct vt_server_request *rq)
{
        const struct vt_server_route *rt = NULL;
        const char *allow = NULL, *cl;
        struct vt_server_reply r;
        uint64_t len = 0;
        char msg[192];
        unsigned wait;
        int err;

        reply_init(&r);
        rq->started = 1;
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        atomic_fetch_add(&s->inflight, 1);
        err = vt_server_route_find(method, url, &rt, &allow);
        if (err == VT_ENOENT) {
                snprintf(msg, sizeof(msg), "no such resource '%.100s' (see docs/API.md)", url);
                return reply_early(s, conn, rq, 404, "not_found", msg, &r, 0);
        }
        if (err != 0) {
                snprintf(msg, sizeof(msg), "'%.100s' does not accept %.16s; it accepts %s", url,
                         method, allow);
                r.allow = allow;
                return reply_early(s, conn, rq, 405, "method_not_allowed", msg, &r, 0);
        }
        rq->route = rt;
        rq->route_index = (unsigned)(rt - vt_server_routes);
        rq->body_max = rt->batch ? s->cfg.batch_body_max : rt->body_max;

        /* A declared body past the route's cap is refused before it is read. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && vt_util_parse_u64(cl, strlen(cl), &len) == 0 && len > rq->body_max &&
            (rq->body_max > 0 || len > 65536)) {
                atomic_fetch_add_explicit(&s->metrics.body_rejected, 1, memory_order_relaxed);
                snprintf(msg, sizeof(msg),
                         "request body of %llu bytes is larger than the %zu bytes %s accepts",
                         (unsigned long long)len, rq->body_max, rt->name);
                return reply_early(s, conn, rq, 413, "too_large", msg, &r, 1);
        }
        if (rt->auth != VT_SERVER_AUTH_NONE && authorize(s, conn, rq, rt->auth, &r) != 0)
                return hold_reply(s, conn, rq, &r, 0);
        if (rt->auth != VT_SERVER_AUTH_NONE && !rt->batch &&
            (wait = vt_server_limiter_take(s->limiter, rq->token, 1, rq->start_ns)) != 0) {
                atomic_fetch_add_explicit(&s->metrics.rate_limited, 1, memory_order_relaxed);
                snprintf(msg, sizeof(msg), "token '%s' is over its rate limit; retry in %u s",
                         rq->token, wait);
                r.retry_after = wait;
                return reply_early(s, conn, rq, 429, "rate_limited", msg, &r, 0);
        }
        /* Hold the declared body's bytes of the budget, and its memory, up front. */
        if (len > 0 && rq->body_max > 0) {
                if (budget_take(s, rq, (size_t)len) != 0 ||
                    vt_buf_reserve(&rq->body, (size_t)len) != 0) {
                        atomic_fetch_add_explicit(&s->metrics.body_rejected, 1,
                                                  memory_order_relaxed);
                        r.retry_after = 1;
                        return reply_early(
                            s, conn, rq, 503, "busy",
                            "the server holds too many request bodies; retry shortly", &r, 1);
                }
        }
        return MHD_YES;
}

/* Body bytes: keep them under the cap and the budget, else count and drop them. */
static enum MHD_Result take_body(struct vt_server *s, struct vt_server_request *rq, const char *p,
                                 size_t n)
{
        size_t want = rq->body.len + n;

        if (rq->has_early || rq->body_max == 0 || rq->too_big || rq->over_budget) {
                rq->discarded += n;
                /* A client that keeps sending long after the cap is cut off. */
                return rq->discarded > 2 * rq->body_max + 65536 ? MHD_NO : MHD_YES;
        }
        if (want > rq->body_max) {
                rq->too_big = 1;
        } else if ((want > rq->reserved && budget_take(s, rq, want - rq->reserved) != 0) ||
                   vt_buf_append(&rq->body, p, n) != 0) {
                rq->over_budget = 1;
        } else {
                return MHD_YES;
        }
        atomic_fetch_add_explicit(&s->metrics.body_rejected, 1, memory_order_relaxed);
        rq->discarded = want;
        vt_buf_release(&rq->body);
        budget_release(s, rq);
        return MHD_YES;
}

/* The last call: the whole body is here; run the handler. */
static enum MHD_Result finish(struct vt_server *s, struct MHD_Connection *conn, const char *url,
                              struct vt_server_request *rq)
{
        struct vt_server_reply r;
        struct vt_server_call call;
        char msg[192];

        reply_init(&r);
        if (rq->has_early) {
                rq->has_early = 0;
                return queue_reply(s, conn, rq, &rq->early);
        }
        if (rq->too_big) {
                snprintf(msg, sizeof(msg), "request body is larger than the %zu bytes %s accepts",
                         rq->body_max, rq->route->name);
                return reply_early(s, conn, rq, 413, "too_large", msg, &r, 1);
        }
        if (rq->over_budget) {
                r.retry_after = 1;
                return reply_early(s, conn, rq, 503, "busy",
                                   "the server holds too many request bodies; retry shortly", &r,
                                   1);
        }
        /*
         * Once vt_server_stop() has begun, nothing new may park (a suspended
         * connection must not outlive the daemon); a parked request's second
         * run still completes.
         */
        atomic_fetch_add(&s->handling, 1);
        if (atomic_load(&s->stopping) && rq->work == NULL &&
            rq->route->auth != VT_SERVER_AUTH_NONE) {
                atomic_fetch_sub(&s->handling, 1);
                r.retry_after = 1;
                return reply_early(s, conn, rq, 503, "busy", "the server is stopping", &r, 1);
        }
        memset(&call, 0, sizeof(call));
        call.srv = s;
        call.svc = s->svc;
        call.path = url;
        call.tail = vt_server_route_tail(rq->route, url);
        call.rq = rq;
        call.conn = conn;
        atomic_store(&rq->park, VT_SERVER_PARK_RUNNING);
        rq->route->fn(&call, &r);
        if (rq->parking) {
                /*
                 * Parked: suspend, unless the wake came first, in which case
                 * it left the resumption to us (see vt_server_wake).
                 */
                rq->parking = 0;
                vt_buf_release(&r.body);
                atomic_fetch_add(&s->parked, 1);
                MHD_suspend_connection(conn);
                if (atomic_exchange(&rq->park, VT_SERVER_PARK_SUSPENDED) == VT_SERVER_PARK_DONE) {
                        MHD_resume_connection(conn);
                        atomic_fetch_sub(&s->parked, 1);
                }
                atomic_fetch_sub(&s->handling, 1);
                return MHD_YES;
        }
        atomic_fetch_sub(&s->handling, 1);
        /* The body is no longer needed: give its memory and budget back before sending. */
        vt_buf_release(&rq->body);
        budget_release(s, rq);
        return queue_reply(s, conn, rq, &r);
}

/* see server_int.h */
void vt_server_park(struct vt_server_call *c)
{
        c->rq->parking = 1;
}

/* see server_int.h */
void vt_server_wake(void *arg)
{
        struct vt_server_request *rq = arg;
        struct vt_server *s = rq->srv;

        /* Only a suspended connection may be resumed; else finish() does it. */
        if (atomic_exchange(&rq->park, VT_SERVER_PARK_DONE) == VT_SERVER_PARK_SUSPENDED) {
                MHD_resume_connection(rq->conn);
                atomic_fetch_sub(&s->parked, 1);
        }
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
        struct vt_server *s = cls;
        struct vt_server_request *rq = *con_cls;

        (void)version;
        if (rq == NULL)
                return MHD_NO; /* no memory for it: close the connection */
        if (!rq->started)
                return begin(s, conn, url, method, rq);
        if (*upload_size > 0) {
                enum MHD_Result ret =
                    rq->answered ? MHD_YES : take_body(s, rq, upload, *upload_size);

                *upload_size = 0;
                return ret;
        }
        if (rq->answered)
                return MHD_YES;
        return finish(s, conn, url, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct vt_server *s = cls;
        struct vt_server_request *rq = *con_cls;
        uint64_t now;

        (void)toe;
        if (rq == NULL)
                return;
        *con_cls = NULL;
        now = vt_util_now_ns();
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                rq->status = 0;
        vt_server_metrics_request(&s->metrics, rq->route_index, rq->status, now - rq->start_ns,
                                  rq->status != 0 ? rq->bytes : 0);
        if (s->cfg.access_log_fd >= 0)
                access_log(s, conn, rq, now);
        if (rq->work != NULL && rq->work_free != NULL)
                rq->work_free(s->svc, rq->work); /* parked work never collected */
        vt_buf_release(&rq->body);
        vt_buf_release(&rq->early.body); /* an early reply never sent */
        budget_release(s, rq);
        if (rq->started)
                atomic_fetch_sub(&s->inflight, 1);
        free(rq);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        struct vt_server *s = cls;

        (void)conn;
        (void)socket_context;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                atomic_fetch_add_explicit(&s->metrics.connections_total, 1, memory_order_relaxed);
                atomic_fetch_add(&s->metrics.connections_open, 1);
        } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                atomic_fetch_sub(&s->metrics.connections_open, 1);
        }
}

/* libmicrohttpd's own complaints ("failed to accept", ...), one line each. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
        struct vt_server *s = cls;
        char line[512];
        int n = snprintf(line, sizeof(line), "veritrail: http: ");

        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        if (n >= (int)sizeof(line))
                n = (int)sizeof(line) - 1;
        while (n > 0 && line[n - 1] == '\n')
                n--;
        line[n++] = '\n';
        if (write(s->cfg.error_log_fd, line, (size_t)n) < 0) {
                /* best effort */
        }
}

/* ---- lifecycle ------------------------------------------------------------------- */

/* see server.h */
int vt_server_start(struct vt_service *svc, const struct vt_server_config *c,
                    struct vt_server **out, struct vt_diag *d)
{
        struct vt_server *s = calloc(1, sizeof(*s));
        unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned pool;
        int err;

        if (s == NULL)
                return VT_ENOMEM;
        s->svc = svc;
        s->cfg = *c;
        s->fd = -1;
        if (s->cfg.listen == NULL)
                s->cfg.listen = VT_SERVER_LISTEN_DEFAULT;
        if (s->cfg.max_connections == 0)
                s->cfg.max_connections = VT_SERVER_CONNECTIONS_DEFAULT;
        if (s->cfg.max_per_ip == 0)
                s->cfg.max_per_ip = VT_SERVER_PER_IP_DEFAULT;
        if (s->cfg.timeout_s == 0)
                s->cfg.timeout_s = VT_SERVER_TIMEOUT_DEFAULT;
        if (s->cfg.batch_body_max == 0)
                s->cfg.batch_body_max = VT_SERVER_BATCH_BODY_MAX;
        if (s->cfg.body_budget == 0)
                s->cfg.body_budget = VT_SERVER_BODY_BUDGET_DEFAULT;
        pool = s->cfg.threads != 0 ? s->cfg.threads : cores > 0 ? (unsigned)cores : 1;
        if (pool > POOL_MAX)
                pool = POOL_MAX;
        if (pool > s->cfg.max_connections)
                pool = s->cfg.max_connections; /* each thread gets a share of the limit */
        s->cfg.listen = NULL;                  /* not kept: the caller's string */
        if ((err = vt_server_limiter_new(c->rate, c->burst, &s->limiter)) != 0)
                goto fail;
        if ((err = open_socket(s, c->listen != NULL ? c->listen : VT_SERVER_LISTEN_DEFAULT, d)) !=
            0)
                goto fail;
        if (s->cfg.error_log_fd >= 0)
                flags |= MHD_USE_ERROR_LOG;
        /* The logger must be the first option, or libmicrohttpd logs the earlier ones itself. */
        s->daemon =
            MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,              /* the handler */
                             MHD_OPTION_EXTERNAL_LOGGER, on_log, s,           /* its complaints */
                             MHD_OPTION_LISTEN_SOCKET, s->fd,                 /* bound above */
                             MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout_s, /* stalled clients */
                             MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,   /* sockets */
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_per_ip, /* one client */
                             MHD_OPTION_THREAD_POOL_SIZE, pool,                  /* event loops */
                             MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK, /* each of them */
                             MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,             /* request start */
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,       /* request end */
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,     /* gauges */
                             MHD_OPTION_END);
        if (s->daemon == NULL) {
                vt_diag_set(d, "cannot start the HTTP server on '%s'", s->url);
                err = VT_EINTERNAL;
                goto fail;
        }
        *out = s;
        return 0;
fail:
        if (s->fd >= 0)
                close(s->fd);
        vt_server_limiter_free(s->limiter);
        free(s);
        return err;
}

/* see server.h */
const char *vt_server_url(const struct vt_server *s)
{
        return s->url;
}

/* see server.h */
void vt_server_quiesce(struct vt_server *s)
{
        atomic_store(&s->draining, 1);
        if (!s->quiesced && s->daemon != NULL) {
                MHD_quiesce_daemon(s->daemon);
                s->quiesced = 1;
        }
}

/* see server.h */
unsigned vt_server_inflight(const struct vt_server *s)
{
        return atomic_load(&((struct vt_server *)s)->inflight);
}

/* see server.h */
int vt_server_drain(struct vt_server *s, unsigned timeout_ms)
{
        uint64_t end = vt_util_now_ns() + (uint64_t)timeout_ms * 1000000;
        struct timespec tick = {0, 5 * 1000000};

        vt_server_quiesce(s);
        while (atomic_load(&s->inflight) > 0) {
                if (vt_util_now_ns() >= end)
                        return VT_EBUSY;
                nanosleep(&tick, NULL);
        }
        return 0;
}

/* see server.h */
void vt_server_stop(struct vt_server *s)
{
        struct timespec tick = {0, 1000000};

        if (s == NULL)
                return;
        /*
         * A suspended connection must not outlive the daemon: let every
         * parked request be woken (the service answers each in bounded
         * time: a commit succeeds or fails) before stopping it.
         */
        atomic_store(&s->stopping, 1);
        while (atomic_load(&s->handling) > 0 || atomic_load(&s->parked) > 0)
                nanosleep(&tick, NULL);
        MHD_stop_daemon(s->daemon);
        /* After a quiesce the socket is ours again; otherwise libmicrohttpd closed it. */
        if (s->quiesced)
                close(s->fd);
        vt_server_limiter_free(s->limiter);
        free(s);
}
