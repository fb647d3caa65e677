/*
 * routes.c: the route table and its handlers. Each handler translates one
 * HTTP request into one service.h call and its result into a reply; nothing
 * here keeps state or knows how the log works. docs/API.md documents every
 * route with examples; keep the two in step.
 *
 * Paths are matched exactly (a route ending in '/' is a prefix with a
 * non-empty rest); the server has already checked the bearer token for write
 * routes and read the whole body within the route's cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "server/server_int.h"
#include "veritrail/encoding.h"
#include "veritrail/merkle.h"

/* Cache-Control of the tlog-tiles resources (c2sp.org/tlog-tiles). */
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_PARTIAL   "public, max-age=60"
#define CACHE_NONE      "no-cache"

/* A reply with the body b (taken over) and a content type. */
static void reply_ok(struct vt_server_reply *r, unsigned status, const char *type, struct vt_buf *b)
{
        vt_buf_release(&r->body);
        r->status = status;
        r->content_type = type;
        r->body = *b;
        vt_buf_init(b);
}

/* A library read: ok with body b, or the error reply for err. */
static void reply_read(struct vt_server_reply *r, int err, const struct vt_diag *d,
                       const char *type, struct vt_buf *b)
{
        if (err == 0)
                reply_ok(r, 200, type, b);
        else
                vt_server_reply_code(r, err, d->msg);
        vt_buf_release(b);
}

/* A path segment that must be a SHA-256 in 64 lowercase hex digits. 0 or -1 after replying. */
static int parse_digest(const char *what, const char *hex, struct vt_hash *h,
                        struct vt_server_reply *r)
{
        if (vt_encoding_hex_decode(hex, strlen(hex), h->b, sizeof(h->b)) != 0) {
                vt_server_reply_error(r, 400, "malformed",
                                      "%s '%.80s' is not a SHA-256 in 64 lowercase hex digits",
                                      what, hex);
                return -1;
        }
        return 0;
}

/* ---- reads -------------------------------------------------------------- */

/* GET /checkpoint: the latest signed checkpoint (C2SP tlog-checkpoint in a signed note). */
static void h_checkpoint(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_diag d = {""};
        struct vt_buf b;
        int err;

        vt_buf_init(&b);
        err = vt_service_checkpoint(c->svc, &b, &d);
        reply_read(r, err, &d, "text/plain; charset=utf-8", &b);
        r->cache_control = CACHE_NONE;
}

/* GET /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>] (C2SP tlog-tiles). */
static void h_tile(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_merkle_tile t;
        struct vt_diag d = {""};
        struct vt_buf b;
        int err;

        /* The strict parser takes the path without its leading '/'. */
        if (vt_merkle_tile_parse(c->path + 1, strlen(c->path + 1), &t, &d) != 0) {
                vt_server_reply_error(r, 400, "malformed", "%s", d.msg);
                return;
        }
        vt_buf_init(&b);
        err = vt_service_tile(c->svc, t.level, t.n, t.width, &b, &d);
        reply_read(r, err, &d, "application/octet-stream", &b);
        if (err == 0)
                r->cache_control =
                    t.width == VT_MERKLE_TILE_WIDTH ? CACHE_IMMUTABLE : CACHE_PARTIAL;
}

/* GET /v1/entries/<index>: the log entry (the canonical record of one envelope). */
static void h_entry(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_diag d = {""};
        struct vt_buf b;
        uint64_t index;
        int err;

        if (vt_util_parse_u64(c->tail, strlen(c->tail), &index) != 0) {
                vt_server_reply_error(r, 400, "malformed",
                                      "entry index '%.40s' is not a decimal number without leading "
                                      "zeros",
                                      c->tail);
                return;
        }
        vt_buf_init(&b);
        err = vt_service_entry(c->svc, index, &b, &d);
        reply_read(r, err, &d, "application/json", &b);
        if (err == 0)
                r->cache_control = CACHE_IMMUTABLE;
}

/* GET /v1/envelopes/<sha256 of the payload>: the envelope as submitted. */
static void h_envelope(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_diag d = {""};
        struct vt_hash h;
        struct vt_buf b;
        int err;

        if (parse_digest("payload digest", c->tail, &h, r) != 0)
                return;
        vt_buf_init(&b);
        err = vt_service_envelope(c->svc, &h, &b, &d);
        reply_read(r, err, &d, "application/json", &b);
}

/* GET /v1/subjects/<sha256>: the entries whose statements name this artifact digest. */
static void h_subject(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_diag d = {""};
        struct vt_hash h;
        struct vt_buf b;
        int err;

        if (parse_digest("subject digest", c->tail, &h, r) != 0)
                return;
        vt_buf_init(&b);
        err = vt_service_subject(c->svc, &h, &b, &d);
        reply_read(r, err, &d, "application/json", &b);
        r->cache_control = CACHE_NONE;
}

/* GET /v1/bundle?subject=sha256:<hex>: the offline bundle of every entry about the artifact. */
static void h_bundle(struct vt_server_call *c, struct vt_server_reply *r)
{
        const char *q = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "subject");
        struct vt_diag d = {""};
        struct vt_hash h;
        struct vt_buf b;
        int err;

        if (q == NULL || strncmp(q, "sha256:", 7) != 0) {
                vt_server_reply_error(r, 400, "malformed",
                                      "query parameter 'subject' must be sha256:<64 lowercase hex "
                                      "digits>");
                return;
        }
        if (parse_digest("subject digest", q + 7, &h, r) != 0)
                return;
        vt_buf_init(&b);
        err = vt_service_bundle_subject(c->svc, &h, &b, &d);
        reply_read(r, err, &d, "application/json", &b);
        r->cache_control = CACHE_NONE;
}

/* ---- writes ------------------------------------------------------------- */

/* A started submission whose request ended before it was collected. */
static void submit_work_free(struct vt_service *svc, void *work)
{
        struct vt_service_result res;
        struct vt_buf b;

        vt_buf_init(&b);
        vt_service_submit_finish(svc, work, &b, &res);
        vt_buf_release(&b);
}

/*
 * POST /v1/entries: one envelope; 201 with its bundle, 200 with it when
 * logged before. Two runs: the first starts the submission in the service
 * and parks the request (the body stays until the second run); the second,
 * once the service has woken it, collects the result and the bundle.
 */
static void h_submit(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_service_op *op = c->rq->work;
        struct vt_service_result res;
        struct vt_buf b;
        int err;

        if (op == NULL) {
                err = vt_service_submit_start(c->svc, c->rq->body.p, c->rq->body.len,
                                              vt_server_wake, c->rq, &op);
                if (err != 0) {
                        vt_server_reply_code(r, err, "out of memory for a submission");
                        return;
                }
                c->rq->work = op;
                c->rq->work_free = submit_work_free;
                vt_server_park(c);
                return;
        }
        c->rq->work = NULL;
        memset(&res, 0, sizeof(res));
        vt_buf_init(&b);
        if (vt_service_submit_finish(c->svc, op, &b, &res) != 0) {
                vt_server_reply_code(r, res.err, res.diag.msg);
                vt_buf_release(&b);
                return;
        }
        reply_ok(r, res.existed ? 200 : 201, "application/json", &b);
        r->cache_control = "no-store";
        snprintf(r->location, sizeof(r->location), "/v1/entries/%llu",
                 (unsigned long long)res.index);
}

/*
 * The envelopes of a batch body: a JSON array of envelopes, or an object
 * whose only member "envelopes" is one. The whole body is checked as
 * strictly as any JSON we read (vt_encoding_json_parse()'s rules: a
 * malformed or too deeply nested body is refused whole), and each element
 * is located in place: offs[i] / lens[i] are the bytes of element i in the
 * request body, as sent (the service parses each one strictly itself). 0
 * or -1 after replying.
 */
int vt_server_batch_split(const uint8_t *body, size_t len, size_t max, size_t **offs, size_t **lens,
                          size_t *n, struct vt_server_reply *r)
{
        struct vt_encoding_json_array a;
        struct vt_diag d = {""};
        int err;

        err = vt_encoding_json_array_scan(body, len, max, "envelopes", &a, &d);
        if (err != 0) {
                vt_server_reply_code(r, err, d.msg);
                return -1;
        }
        if (a.root == '{' && (a.members != 1 || a.member == 0)) {
                vt_server_reply_error(r, 400, "malformed",
                                      "batch object must have exactly one member, "
                                      "'envelopes'");
                goto fail;
        }
        if (a.root == '{' && a.member != '[') {
                vt_server_reply_error(r, 400, "malformed",
                                      "batch must be a JSON array of envelopes or "
                                      "{\"envelopes\":[...]}");
                goto fail;
        }
        if (a.n == 0) {
                vt_server_reply_error(r, 400, "malformed", "batch holds no envelopes");
                goto fail;
        }
        if (a.n > VT_SERVICE_BATCH_MAX) {
                vt_server_reply_error(r, 413, "too_large",
                                      "batch holds %zu envelopes, more than %d", a.n,
                                      VT_SERVICE_BATCH_MAX);
                goto fail;
        }
        *offs = a.off;
        *lens = a.len;
        *n = a.n;
        return 0;
fail:
        vt_encoding_json_array_release(&a);
        return -1;
}

/*
 * What a batch reply holds per envelope beyond its bytes: the status and
 * index, the entry in base64, an inclusion proof of up to 64 hashes and the
 * signed checkpoint (a first guess for one allocation; the buffer grows
 * past it if need be).
 */
#define VT_SERVER_BUNDLE_EXTRA 2560

/* A batch request's submissions in the service, while the request is parked. */
struct batch_work {
        struct vt_server_request *rq; /* its body holds the envelopes until the reply */
        size_t *offs, *lens, n;
        struct vt_service_op **ops; /* NULL for one that could not start */
        atomic_size_t left;         /* started and not yet done, plus one while starting */
};

static void batch_work_free(struct vt_service *svc, void *p)
{
        struct batch_work *w = p;
        struct vt_service_result res;
        struct vt_buf b;
        size_t i;

        if (w == NULL)
                return;
        vt_buf_init(&b);
        for (i = 0; w->ops != NULL && i < w->n; i++) {
                if (w->ops[i] != NULL)
                        vt_service_submit_finish(svc, w->ops[i], &b, &res);
                b.len = 0;
        }
        vt_buf_release(&b);
        free(w->ops);
        free(w->offs);
        free(w->lens);
        free(w);
}

/* The done function of each submission of a batch: the last one wakes the request. */
static void batch_done(void *arg)
{
        struct batch_work *w = arg;

        if (atomic_fetch_sub(&w->left, 1) == 1)
                vt_server_wake(w->rq);
}

/*
 * batch_result_head(out, status, index): `{"status":S,"index":N,"bundle":`
 * (once per envelope of a batch reply: written by hand, not by printf).
 */
static int batch_result_head(struct vt_buf *out, unsigned status, uint64_t index)
{
        char num[24], *p = num + sizeof(num);

        do
                *--p = (char)('0' + index % 10);
        while ((index /= 10) != 0);
        return vt_buf_puts(out, status == 200 ? "{\"status\":200,\"index\":"
                                              : "{\"status\":201,\"index\":") |
               vt_buf_append(out, p, (size_t)(num + sizeof(num) - p)) |
               vt_buf_puts(out, ",\"bundle\":");
}

/*
 * POST /v1/entries:batch: up to VT_SERVICE_BATCH_MAX envelopes; 200 with
 * one result each. Like h_submit, in two runs: start every envelope (the
 * service's workers check them on every core, its committer gathers them
 * into as few group commits as it can) and park; then collect.
 */
static void h_batch(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct batch_work *w = c->rq->work;
        struct vt_service_bundler bu;
        struct vt_service_result res;
        const uint8_t **envs = NULL;
        struct vt_buf out;
        size_t n = 0, i, need, started;
        unsigned wait;
        int err = 0;

        vt_buf_init(&out);
        vt_service_bundler_init(&bu);
        if (w != NULL) {
                c->rq->work = NULL;
                n = w->n;
                goto collect;
        }
        if ((w = calloc(1, sizeof(*w))) == NULL) {
                vt_server_reply_code(r, VT_ENOMEM, NULL);
                return;
        }
        w->rq = c->rq;
        if (vt_server_batch_split(c->rq->body.p, c->rq->body.len, c->rq->body_max, &w->offs,
                                  &w->lens, &w->n, r) != 0)
                goto done;
        n = w->n;
        /* One token per envelope: a batch is charged for what it holds. */
        wait = vt_server_limiter_take(c->srv->limiter, c->rq->token, (double)n, vt_util_now_ns());
        if (wait != 0) {
                atomic_fetch_add_explicit(&c->srv->metrics.rate_limited, 1, memory_order_relaxed);
                vt_server_reply_error(r, 429, "rate_limited",
                                      "token '%s' is over its rate limit for %zu envelopes; retry "
                                      "in %u s",
                                      c->rq->token, n, wait);
                r->retry_after = wait;
                goto done;
        }
        if ((w->ops = calloc(n, sizeof(*w->ops))) == NULL ||
            (envs = vt_util_reallocarray(NULL, n, sizeof(*envs))) == NULL) {
                vt_server_reply_code(r, VT_ENOMEM, NULL);
                goto done;
        }
        for (i = 0; i < n; i++)
                envs[i] = c->rq->body.p + w->offs[i];
        /* Every envelope to the service's workers at once; one held while starting. */
        atomic_init(&w->left, n + 1);
        started = vt_service_submit_start_many(c->svc, envs, w->lens, n, batch_done, w, w->ops);
        atomic_fetch_sub(&w->left, n - started);
        free(envs);
        envs = NULL;
        c->rq->work = w;
        c->rq->work_free = batch_work_free;
        vt_server_park(c);
        batch_done(w); /* the one held while starting */
        return;

collect:
        /*
         * {"results":[{"status":201,"index":N,"bundle":{...}}, {"status":400,...}, ...]},
         * each bundle written in place, all against one checkpoint (bu). Room for
         * them all at once: one allocation instead of a dozen doublings.
         */
        for (i = 0, need = 64; i < n; i++)
                need += w->lens[i] + VT_SERVER_BUNDLE_EXTRA;
        (void)vt_buf_reserve(&out, need);
        /*
         * Their inclusion paths proved together (a group commit's entries are
         * consecutive: their paths share most hashes). Without that each
         * bundle is proved alone, to the same bytes.
         */
        vt_service_bundler_prepare_ops(c->svc, &bu, w->ops, n);
        err |= vt_buf_puts(&out, "{\"results\":[");
        for (i = 0; i < n && err == 0; i++) {
                uint64_t index = 0;
                int existed = 0;
                size_t at;

                if (i > 0)
                        err |= vt_buf_puts(&out, ",\n");
                at = out.len;
                memset(&res, 0, sizeof(res));
                if (w->ops[i] == NULL) {
                        res.err = VT_ENOMEM;
                        vt_diag_set(&res.diag, "out of memory for a submission");
                } else {
                        if (vt_service_submit_status(w->ops[i], &index, &existed) == 0)
                                err |= batch_result_head(&out, existed ? 200u : 201u, index);
                        vt_service_submit_finish_with(c->svc, w->ops[i], &bu, &out, &res);
                        w->ops[i] = NULL;
                        if (res.err == 0)
                                err |= vt_buf_puts(&out, "}");
                }
                if (res.err != 0) {
                        const char *word, *msg = res.diag.msg;
                        unsigned st = vt_server_error_status(res.err, &word);

                        out.len = at; /* whatever of it was written */
                        if (msg[0] == '\0')
                                msg = vt_strerror(res.err);
                        err |= vt_buf_printf(
                            &out, "{\"status\":%u,\"error\":\"%s\",\"message\":", st, word);
                        err |= vt_server_json_string(&out, msg, strlen(msg));
                        err |= vt_buf_puts(&out, "}");
                }
        }
        err |= vt_buf_puts(&out, "]}\n");
        if (err != 0)
                vt_server_reply_code(r, VT_ENOMEM, NULL);
        else
                reply_ok(r, 200, "application/json", &out);
        r->cache_control = "no-store";
done:
        free(envs);
        vt_service_bundler_release(&bu);
        batch_work_free(c->svc, w);
        vt_buf_release(&out);
}

/* PUT /v1/root (admin): replace the governance root by a valid successor, logged. */
static void h_root(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_service_result res;
        struct vt_buf b;

        memset(&res, 0, sizeof(res));
        vt_buf_init(&b);
        if (vt_service_root_replace(c->svc, c->rq->body.p, c->rq->body.len, &b, &res) != 0) {
                vt_server_reply_code(r, res.err, res.diag.msg);
                vt_buf_release(&b);
                return;
        }
        reply_ok(r, 200, "application/json", &b);
        r->cache_control = "no-store";
        snprintf(r->location, sizeof(r->location), "/v1/entries/%llu",
                 (unsigned long long)res.index);
}

/* ---- operations ----------------------------------------------------------- */

/* GET /healthz: {"status":"ok","tree_size":N}. */
static void h_healthz(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_buf b;

        vt_buf_init(&b);
        if (vt_buf_printf(&b, "{\"status\":\"ok\",\"tree_size\":%llu}\n",
                          (unsigned long long)vt_service_size(c->svc)) != 0) {
                vt_server_reply_code(r, VT_ENOMEM, NULL);
                return;
        }
        reply_ok(r, 200, "application/json", &b);
        r->cache_control = "no-store";
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static void h_metrics(struct vt_server_call *c, struct vt_server_reply *r)
{
        struct vt_buf b;

        vt_buf_init(&b);
        if (vt_server_metrics_render(c->srv, &b) != 0) {
                vt_buf_release(&b);
                vt_server_reply_code(r, VT_ENOMEM, NULL);
                return;
        }
        reply_ok(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
        r->cache_control = "no-store";
}

/* ---- the table ------------------------------------------------------------ */

const struct vt_server_route vt_server_routes[] = {
    {"POST", "/v1/entries", "POST /v1/entries", VT_SERVER_AUTH_WRITER, VT_SERVICE_ENVELOPE_MAX, 0,
     h_submit},
    {"POST", "/v1/entries:batch", "POST /v1/entries:batch", VT_SERVER_AUTH_WRITER,
     VT_SERVER_BATCH_BODY_MAX, 1, h_batch},
    {"PUT", "/v1/root", "PUT /v1/root", VT_SERVER_AUTH_ADMIN, VT_SERVICE_ENVELOPE_MAX, 0, h_root},
    {"GET", "/checkpoint", "GET /checkpoint", VT_SERVER_AUTH_NONE, 0, 0, h_checkpoint},
    {"GET", "/tile/", "GET /tile/...", VT_SERVER_AUTH_NONE, 0, 0, h_tile},
    {"GET", "/v1/entries/", "GET /v1/entries/{index}", VT_SERVER_AUTH_NONE, 0, 0, h_entry},
    {"GET", "/v1/envelopes/", "GET /v1/envelopes/{sha256}", VT_SERVER_AUTH_NONE, 0, 0, h_envelope},
    {"GET", "/v1/subjects/", "GET /v1/subjects/{sha256}", VT_SERVER_AUTH_NONE, 0, 0, h_subject},
    {"GET", "/v1/bundle", "GET /v1/bundle", VT_SERVER_AUTH_NONE, 0, 0, h_bundle},
    {"GET", "/healthz", "GET /healthz", VT_SERVER_AUTH_NONE, 0, 0, h_healthz},
    {"GET", "/metrics", "GET /metrics", VT_SERVER_AUTH_NONE, 0, 0, h_metrics},
};
const size_t vt_server_nroutes = sizeof(vt_server_routes) / sizeof(vt_server_routes[0]);

/* Does path name route's path (exactly, or below a prefix with a non-empty rest)? */
static int path_matches(const struct vt_server_route *rt, const char *path)
{
        size_t n = strlen(rt->path);

        if (rt->path[n - 1] != '/')
                return strcmp(path, rt->path) == 0;
        return strncmp(path, rt->path, n) == 0 && path[n] != '\0';
}

/* see server_int.h */
int vt_server_route_find(const char *method, const char *path, const struct vt_server_route **route,
                         const char **allow)
{
        const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
        size_t i;
        int seen = 0;

        for (i = 0; i < vt_server_nroutes; i++) {
                const struct vt_server_route *rt = &vt_server_routes[i];

                if (!path_matches(rt, path))
                        continue;
                if (strcmp(rt->method, m) == 0) {
                        *route = rt;
                        return 0;
                }
                if (!seen && allow != NULL)
                        *allow = strcmp(rt->method, "GET") == 0 ? "GET, HEAD" : rt->method;
                seen = 1;
        }
        return seen ? VT_EINVAL : VT_ENOENT;
}

/* see server_int.h */
const char *vt_server_route_tail(const struct vt_server_route *route, const char *path)
{
        size_t n = strlen(route->path);

        return route->path[n - 1] == '/' ? path + n : path + strlen(path);
}
