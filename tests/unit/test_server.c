/*
 * test_server.c: the server module's pieces that need no socket: listen
 * address parsing, the route table, the error mapping and JSON bodies, the
 * rate limiter (with a fake clock), the access-log line and the metrics
 * exposition. The HTTP behaviour end to end is tests/e2e/60..62-serve*.sh.
 */
#include "vt_test.h"

#include <jansson.h>

#include "server/server_int.h"

/* ---- listen addresses --------------------------------------------------------- */

static void test_listen_valid(void **state)
{
        char host[64];
        unsigned port;

        (void)state;
        assert_int_equal(vt_server_parse_listen("127.0.0.1:8080", host, sizeof(host), &port), 0);
        assert_string_equal(host, "127.0.0.1");
        assert_int_equal(port, 8080);
        assert_int_equal(vt_server_parse_listen("[::1]:0", host, sizeof(host), &port), 0);
        assert_string_equal(host, "::1");
        assert_int_equal(port, 0);
        assert_int_equal(vt_server_parse_listen("localhost:65535", host, sizeof(host), &port), 0);
        assert_string_equal(host, "localhost");
        assert_int_equal(port, 65535);
}

static void test_listen_invalid(void **state)
{
        static const char *bad[] = {
            "127.0.0.1", ":8080",    "host:",  "host:65536", "host:080", "host:-1",
            "::1:80",    "[::1]80",  "[::1]",  "[]:80",      "host:8x",  "",
            "host:+80",  "a:b:c:80", "[::1]:", "host: 80",
        };
        char host[64];
        unsigned port = 7;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (vt_server_parse_listen(bad[i], host, sizeof(host), &port) != VT_EINVAL)
                        fail_msg("'%s' was accepted", bad[i]);
        }
        /* A host that does not fit is refused, not truncated. */
        assert_int_equal(vt_server_parse_listen("abcdefgh:1", host, 8, &port), VT_EINVAL);
}

/* ---- routes -------------------------------------------------------------------- */

static const struct vt_server_route *route(const char *method, const char *path)
{
        const struct vt_server_route *r = NULL;
        const char *allow = NULL;

        return vt_server_route_find(method, path, &r, &allow) == 0 ? r : NULL;
}

static void test_routes_match(void **state)
{
        const struct vt_server_route *r;

        (void)state;
        assert_non_null(r = route("POST", "/v1/entries"));
        assert_string_equal(r->name, "POST /v1/entries");
        assert_int_equal(r->auth, VT_SERVER_AUTH_WRITER);
        assert_int_equal(r->body_max, VT_SERVICE_ENVELOPE_MAX);
        assert_non_null(r = route("POST", "/v1/entries:batch"));
        assert_true(r->batch);
        assert_non_null(r = route("PUT", "/v1/root"));
        assert_int_equal(r->auth, VT_SERVER_AUTH_ADMIN);
        assert_non_null(r = route("GET", "/v1/entries/42"));
        assert_string_equal(vt_server_route_tail(r, "/v1/entries/42"), "42");
        assert_int_equal(r->auth, VT_SERVER_AUTH_NONE);
        assert_non_null(r = route("HEAD", "/checkpoint"));
        assert_string_equal(r->name, "GET /checkpoint");
        assert_string_equal(vt_server_route_tail(r, "/checkpoint"), "");
        assert_non_null(r = route("GET", "/tile/0/x001/234.p/7"));
        assert_string_equal(r->name, "GET /tile/...");
        assert_non_null(route("GET", "/v1/bundle"));
        assert_non_null(route("GET", "/healthz"));
        assert_non_null(route("GET", "/metrics"));
        assert_true(vt_server_nroutes < VT_SERVER_ROUTES_MAX);
}

static void test_routes_refuse(void **state)
{
        const struct vt_server_route *r = NULL;
        const char *allow = NULL;

        (void)state;
        assert_int_equal(vt_server_route_find("GET", "/v1/entries", &r, &allow), VT_EINVAL);
        assert_string_equal(allow, "POST");
        assert_int_equal(vt_server_route_find("DELETE", "/metrics", &r, &allow), VT_EINVAL);
        assert_string_equal(allow, "GET, HEAD");
        assert_int_equal(vt_server_route_find("GET", "/v1/entries/", &r, &allow), VT_ENOENT);
        assert_int_equal(vt_server_route_find("GET", "/tile/", &r, &allow), VT_ENOENT);
        assert_int_equal(vt_server_route_find("GET", "/checkpoint/", &r, &allow), VT_ENOENT);
        assert_int_equal(vt_server_route_find("GET", "/", &r, &allow), VT_ENOENT);
        assert_int_equal(vt_server_route_find("GET", "/v1/entriesX", &r, &allow), VT_ENOENT);
        assert_int_equal(vt_server_route_find("POST", "/v1/entries:batchX", &r, &allow), VT_ENOENT);
        assert_null(r);
}

/* ---- errors and JSON ---------------------------------------------------------------- */

static void test_error_mapping(void **state)
{
        const char *w = NULL;

        (void)state;
        assert_int_equal(vt_server_error_status(VT_ETOOBIG, &w), 413);
        assert_string_equal(w, "too_large");
        assert_int_equal(vt_server_error_status(VT_EMALFORMED, &w), 400);
        assert_string_equal(w, "malformed");
        assert_int_equal(vt_server_error_status(VT_ENONCANON, &w), 400);
        assert_int_equal(vt_server_error_status(VT_EBADSIG, &w), 400);
        assert_string_equal(w, "bad_signature");
        assert_int_equal(vt_server_error_status(VT_EDENIED, &w), 403);
        assert_string_equal(w, "denied");
        assert_int_equal(vt_server_error_status(VT_ENOENT, &w), 404);
        assert_int_equal(vt_server_error_status(VT_ERANGE, &w), 404);
        assert_int_equal(vt_server_error_status(VT_EPOLICY, &w), 409);
        assert_int_equal(vt_server_error_status(VT_EBUSY, &w), 503);
        assert_int_equal(vt_server_error_status(VT_ESTORE, &w), 503);
        assert_int_equal(vt_server_error_status(VT_EIO, &w), 503);
        assert_int_equal(vt_server_error_status(VT_ECORRUPT, &w), 500);
        assert_string_equal(w, "internal");
        assert_int_equal(vt_server_error_status(12345, NULL), 500);
}

/* s quoted by vt_server_json_string, parsed back by jansson. */
static char *roundtrip(const char *s, size_t n, struct vt_buf *b)
{
        json_t *v;
        char *out;

        b->len = 0;
        assert_int_equal(vt_server_json_string(b, s, n), 0);
        v = json_loadb((const char *)b->p, b->len, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        assert_true(json_is_string(v));
        out = strdup(json_string_value(v));
        json_decref(v);
        return out;
}

static void test_json_string(void **state)
{
        struct vt_buf b;
        char *s;

        (void)state;
        vt_buf_init(&b);
        s = roundtrip("say \"hi\"\\ \n\t\x01", 13, &b);
        assert_string_equal(s, "say \"hi\"\\ \n\t\x01");
        free(s);
        /* Valid UTF-8 passes as is; bad bytes, overlong forms and surrogates become U+FFFD. */
        s = roundtrip("caf\xc3\xa9 \xe2\x80\x94", 9, &b);
        assert_string_equal(s, "caf\xc3\xa9 \xe2\x80\x94");
        free(s);
        s = roundtrip("a\xff"
                      "b\xc0\xaf"
                      "c\xed\xa0\x80"
                      "d\xe2\x80",
                      12, &b);
        assert_string_equal(s, "a\xef\xbf\xbd"
                               "b\xef\xbf\xbd\xef\xbf\xbd"
                               "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                               "d\xef\xbf\xbd\xef\xbf\xbd");
        free(s);
        /* An embedded NUL is escaped, never cut. */
        b.len = 0;
        assert_int_equal(vt_server_json_string(&b, "a\0b", 3), 0);
        assert_string_equal((char *)b.p, "\"a\\u0000b\"");
        vt_buf_release(&b);
}

static void test_reply_error(void **state)
{
        struct vt_server_reply r;
        json_t *v;

        (void)state;
        memset(&r, 0, sizeof(r));
        vt_buf_init(&r.body);
        vt_server_reply_code(&r, VT_EDENIED, "no role may sign predicate type 'x\"y'");
        assert_int_equal(r.status, 403);
        assert_string_equal(r.content_type, "application/json");
        assert_int_equal(r.retry_after, 0);
        v = json_loadb((const char *)r.body.p, r.body.len, 0, NULL);
        assert_non_null(v);
        assert_int_equal(json_object_size(v), 2);
        assert_string_equal(json_string_value(json_object_get(v, "error")), "denied");
        assert_string_equal(json_string_value(json_object_get(v, "message")),
                            "no role may sign predicate type 'x\"y'");
        json_decref(v);
        /* No diagnostic: the code's description. Store trouble: retry later. */
        vt_server_reply_code(&r, VT_EBUSY, "");
        assert_int_equal(r.status, 503);
        assert_int_equal(r.retry_after, 1);
        assert_non_null(strstr((char *)r.body.p, vt_strerror(VT_EBUSY)));
        vt_buf_release(&r.body);
}

/* ---- rate limits ---------------------------------------------------------------------- */

#define SEC 1000000000ull

static void test_limiter_bucket(void **state)
{
        struct vt_server_limiter *l = NULL;
        uint64_t t = 5 * SEC;

        (void)state;
        assert_int_equal(vt_server_limiter_new(2, 3, &l), 0);
        /* A full bucket of 3, then empty; refills at 2 per second. */
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t), 0);
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t), 0);
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t), 0);
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t), 1);
        /* Another name has its own bucket. */
        assert_int_equal(vt_server_limiter_take(l, "other", 3, t), 0);
        /* Half a second later one token is back. */
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t + SEC / 2), 0);
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t + SEC / 2), 1);
        /* Much later the bucket is full again, not fuller. */
        t += 100 * SEC;
        assert_int_equal(vt_server_limiter_take(l, "ci", 3, t), 0);
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t), 1);
        /* Retry-After says how long: 3 tokens at 2/s from empty is 2 s. */
        assert_int_equal(vt_server_limiter_take(l, "ci", 3, t), 2);
        /* The clock going backwards takes nothing and gives nothing. */
        assert_int_equal(vt_server_limiter_take(l, "ci", 1, t - SEC), 1);
        vt_server_limiter_free(l);
}

static void test_limiter_big_cost(void **state)
{
        struct vt_server_limiter *l = NULL;
        uint64_t t = SEC;

        (void)state;
        assert_int_equal(vt_server_limiter_new(10, 10, &l), 0);
        /* A batch of 25 needs a full bucket and leaves it 15 in debt. */
        assert_int_equal(vt_server_limiter_take(l, "b", 25, t), 0);
        assert_int_equal(vt_server_limiter_take(l, "b", 1, t), 2);
        assert_int_equal(vt_server_limiter_take(l, "b", 1, t + SEC), 1);
        assert_int_equal(vt_server_limiter_take(l, "b", 1, t + 2 * SEC), 0);
        vt_server_limiter_free(l);
        /* Rate 0: no limits at all; NULL: the same. */
        assert_int_equal(vt_server_limiter_new(0, 0, &l), 0);
        assert_int_equal(vt_server_limiter_take(l, "x", 1e9, t), 0);
        vt_server_limiter_free(l);
        assert_int_equal(vt_server_limiter_take(NULL, "x", 1, t), 0);
        vt_server_limiter_free(NULL);
}

/* ---- the access log ------------------------------------------------------------------ */

static void test_access_line(void **state)
{
        char line[512];
        size_t n;

        (void)state;
        n = vt_server_access_line(line, sizeof(line), 1735787045678LL, "127.0.0.1", "POST",
                                  "/v1/entries", 201, 1893, 2414000, "ci");
        assert_string_equal(
            line, "2025-01-02T03:04:05.678Z 127.0.0.1 POST /v1/entries 201 1893 2.41 ci\n");
        assert_int_equal(n, strlen(line));
        /* Spaces, quotes-breaking bytes and '%' are encoded; no answer and no token are "-". */
        vt_server_access_line(line, sizeof(line), 0, "::1", "GET", "/a b\n%\xff", 0, 0, 0, "");
        assert_string_equal(line, "1970-01-01T00:00:00.000Z ::1 GET /a%20b%0A%25%FF - 0 0.00 -\n");
        /* Cut to the buffer, still one line. */
        n = vt_server_access_line(line, 40, 0, "127.0.0.1", "GET", "/a/very/long/path/indeed", 200,
                                  0, 0, "-");
        assert_int_equal(n, 39);
        assert_int_equal(line[38], '\n');
        assert_null(memchr(line, '\n', 38));
}

/* ---- metrics ------------------------------------------------------------------------- */

static void test_metrics_render(void **state)
{
        struct vt_server *s = calloc(1, sizeof(*s));
        struct vt_buf b;

        (void)state;
        assert_non_null(s);
        vt_buf_init(&b);
        vt_server_metrics_request(&s->metrics, 0, 201, 3 * 1000000, 100);  /* 3 ms */
        vt_server_metrics_request(&s->metrics, 0, 201, 30 * 1000000, 100); /* 30 ms */
        vt_server_metrics_request(&s->metrics, 0, 0, 9 * SEC, 0);          /* no answer */
        vt_server_metrics_request(&s->metrics, 99, 404, 1000, 10);         /* clamped slot */
        assert_int_equal(vt_server_metrics_render(s, &b), 0);
        assert_non_null(strstr((char *)b.p, "# TYPE veritrail_http_requests_total counter\n"));
        assert_non_null(
            strstr((char *)b.p,
                   "veritrail_http_requests_total{route=\"POST /v1/entries\",code=\"201\"} 2\n"));
        assert_non_null(
            strstr((char *)b.p,
                   "veritrail_http_requests_total{route=\"POST /v1/entries\",code=\"none\"} 1\n"));
        /* Cumulative buckets; the unanswered request is not in the latency histogram. */
        assert_non_null(strstr((char *)b.p,
                               "veritrail_http_request_duration_seconds_bucket{route=\"POST "
                               "/v1/entries\",le=\"0.0025\"} 0\n"));
        assert_non_null(strstr((char *)b.p,
                               "veritrail_http_request_duration_seconds_bucket{route=\"POST "
                               "/v1/entries\",le=\"0.005\"} 1\n"));
        assert_non_null(strstr((char *)b.p,
                               "veritrail_http_request_duration_seconds_bucket{route=\"POST "
                               "/v1/entries\",le=\"+Inf\"} 2\n"));
        assert_non_null(strstr((char *)b.p,
                               "veritrail_http_request_duration_seconds_sum{route=\"POST "
                               "/v1/entries\"} 0.033000\n"));
        assert_non_null(strstr((char *)b.p, "veritrail_http_aborted_total 1\n"));
        assert_non_null(strstr((char *)b.p, "veritrail_http_response_bytes_total 210\n"));
        assert_non_null(strstr((char *)b.p, "{route=\"unmatched\",code=\"404\"} 1\n"));
        /* Without a service there are no service lines. */
        assert_null(strstr((char *)b.p, "veritrail_tree_size"));
        vt_buf_release(&b);
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_listen_valid),     cmocka_unit_test(test_listen_invalid),
            cmocka_unit_test(test_routes_match),     cmocka_unit_test(test_routes_refuse),
            cmocka_unit_test(test_error_mapping),    cmocka_unit_test(test_json_string),
            cmocka_unit_test(test_reply_error),      cmocka_unit_test(test_limiter_bucket),
            cmocka_unit_test(test_limiter_big_cost), cmocka_unit_test(test_access_line),
            cmocka_unit_test(test_metrics_render),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
