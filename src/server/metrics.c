/*
 * metrics.c: the server's counters and GET /metrics in the Prometheus text
 * exposition format (version 0.0.4: "# HELP", "# TYPE", one sample a line,
 * histograms as cumulative _bucket{le=...} series with _sum and _count).
 *
 * Counters are C11 atomics updated with relaxed ordering, once per request
 * when it completes: no lock on the request path. A scrape reads them one by
 * one, so a scrape that races requests may see a histogram whose _count is a
 * request ahead of its buckets; Prometheus tolerates that.
 */
#include <stdio.h>

#include "server/server_int.h"

/* Status slots: the codes the routes answer, then "other" and "none" (no answer). */
static const unsigned status_codes[VT_SERVER_STATUS_SLOTS - 2] = {
    200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 429, 500, 503,
};
#define SLOT_OTHER (VT_SERVER_STATUS_SLOTS - 2)
#define SLOT_NONE  (VT_SERVER_STATUS_SLOTS - 1)

/* Histogram upper bounds in microseconds (the last bucket is +Inf). */
static const uint64_t bucket_us[VT_SERVER_HIST_BUCKETS - 1] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};

static unsigned status_slot(unsigned status)
{
        unsigned i;

        if (status == 0)
                return SLOT_NONE;
        for (i = 0; i < SLOT_OTHER; i++)
                if (status_codes[i] == status)
                        return i;
        return SLOT_OTHER;
}

/* see server_int.h */
void vt_server_metrics_request(struct vt_server_metrics *m, unsigned slot, unsigned status,
                               uint64_t dur_ns, size_t bytes)
{
        uint64_t us = dur_ns / 1000;
        unsigned b = 0;

        if (slot > vt_server_nroutes)
                slot = (unsigned)vt_server_nroutes; /* the "unmatched" slot */
        while (b < VT_SERVER_HIST_BUCKETS - 1 && us > bucket_us[b])
                b++;
        atomic_fetch_add_explicit(&m->requests[slot][status_slot(status)], 1, memory_order_relaxed);
        if (status == 0) {
                /* Not answered: no latency to count (a stalled client would skew it). */
                atomic_fetch_add_explicit(&m->aborted, 1, memory_order_relaxed);
                return;
        }
        atomic_fetch_add_explicit(&m->hist[slot][b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->dur_us[slot], us, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->bytes_out, bytes, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *a)
{
        return atomic_load_explicit(a, memory_order_relaxed);
}

static const char *route_label(unsigned slot)
{
        return slot < vt_server_nroutes ? vt_server_routes[slot].name : "unmatched";
}

/* One counter or gauge with its HELP and TYPE lines. */
static int scalar(struct vt_buf *out, const char *name, const char *type, const char *help,
                  uint64_t v)
{
        return vt_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
                             name, (unsigned long long)v);
}

static int render_http(struct vt_server *s, struct vt_buf *out)
{
        struct vt_server_metrics *m = &s->metrics;
        unsigned r, i, nslots = (unsigned)vt_server_nroutes + 1;
        int err = 0;

        err |= vt_buf_puts(out, "# HELP veritrail_http_requests_total HTTP requests answered, by "
                                "route and status (code \"none\": the connection closed first).\n"
                                "# TYPE veritrail_http_requests_total counter\n");
        for (r = 0; r < nslots && err == 0; r++)
                for (i = 0; i < VT_SERVER_STATUS_SLOTS && err == 0; i++) {
                        uint64_t v = get(&m->requests[r][i]);
                        char code[8];

                        if (v == 0)
                                continue;
                        if (i == SLOT_OTHER)
                                snprintf(code, sizeof(code), "other");
                        else if (i == SLOT_NONE)
                                snprintf(code, sizeof(code), "none");
                        else
                                snprintf(code, sizeof(code), "%u", status_codes[i]);
                        err |=
                            vt_buf_printf(out,
                                          "veritrail_http_requests_total{route=\"%s\",code=\"%s\"} "
                                          "%llu\n",
                                          route_label(r), code, (unsigned long long)v);
                }

        err |= vt_buf_puts(out, "# HELP veritrail_http_request_duration_seconds Time from the "
                                "request line to the answer sent, by route; submission latency is "
                                "route=\"POST /v1/entries\".\n"
                                "# TYPE veritrail_http_request_duration_seconds histogram\n");
        for (r = 0; r < nslots && err == 0; r++) {
                uint64_t cum = 0, total = 0;

                /* Routes never answered are left out, except the submission route. */
                for (i = 0; i < VT_SERVER_HIST_BUCKETS; i++)
                        total += get(&m->hist[r][i]);
                if (total == 0 && r != 0)
                        continue;

                for (i = 0; i < VT_SERVER_HIST_BUCKETS && err == 0; i++) {
                        cum += get(&m->hist[r][i]);
                        if (i < VT_SERVER_HIST_BUCKETS - 1)
                                err |= vt_buf_printf(
                                    out,
                                    "veritrail_http_request_duration_seconds_bucket{route=\"%s\","
                                    "le=\"%g\"} %llu\n",
                                    route_label(r), (double)bucket_us[i] / 1e6,
                                    (unsigned long long)cum);
                        else
                                err |= vt_buf_printf(
                                    out,
                                    "veritrail_http_request_duration_seconds_bucket{route=\"%s\","
                                    "le=\"+Inf\"} %llu\n",
                                    route_label(r), (unsigned long long)cum);
                }
                err |=
                    vt_buf_printf(out,
                                  "veritrail_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                                  "veritrail_http_request_duration_seconds_count{route=\"%s\"} "
                                  "%llu\n",
                                  route_label(r), (double)get(&m->dur_us[r]) / 1e6, route_label(r),
                                  (unsigned long long)cum);
        }
        if (err != 0)
                return VT_ENOMEM;

        err |= scalar(out, "veritrail_http_connections_open", "gauge", "Open HTTP connections.",
                      (uint64_t)atomic_load(&m->connections_open));
        err |= scalar(out, "veritrail_http_connections_total", "counter",
                      "HTTP connections accepted.", get(&m->connections_total));
        err |= scalar(out, "veritrail_http_requests_inflight", "gauge",
                      "Requests received and not yet answered.", atomic_load(&s->inflight));
        err |= scalar(out, "veritrail_http_response_bytes_total", "counter",
                      "Bytes of response bodies.", get(&m->bytes_out));
        err |=
            scalar(out, "veritrail_http_rate_limited_total", "counter",
                   "Write requests refused by a token's rate limit (429).", get(&m->rate_limited));
        err |= scalar(out, "veritrail_http_unauthorized_total", "counter",
                      "Write requests without a live token (401).", get(&m->unauthorized));
        err |= scalar(out, "veritrail_http_body_rejected_total", "counter",
                      "Request bodies refused while arriving: too large (413) or over the "
                      "server's body budget (503).",
                      get(&m->body_rejected));
        err |= scalar(out, "veritrail_http_aborted_total", "counter",
                      "Requests whose connection closed before the answer.", get(&m->aborted));
        return err != 0 ? VT_ENOMEM : 0;
}

static int render_service(struct vt_service *svc, struct vt_buf *out)
{
        struct vt_service_stats st;
        int err = 0;

        vt_service_stats(svc, &st);
        err |= scalar(out, "veritrail_submissions_total", "counter",
                      "Envelopes submitted (single and batch).", st.submitted);
        err |= scalar(out, "veritrail_entries_accepted_total", "counter",
                      "Envelopes logged as new entries.", st.accepted);
        err |= scalar(out, "veritrail_entries_existed_total", "counter",
                      "Envelopes that were already logged (idempotent resubmissions).", st.existed);
        err |= vt_buf_printf(
            out,
            "# HELP veritrail_rejections_total Envelopes refused, by reason.\n"
            "# TYPE veritrail_rejections_total counter\n"
            "veritrail_rejections_total{reason=\"malformed\"} %llu\n"
            "veritrail_rejections_total{reason=\"signature\"} %llu\n"
            "veritrail_rejections_total{reason=\"denied\"} %llu\n"
            "veritrail_rejections_total{reason=\"store\"} %llu\n",
            (unsigned long long)st.rejected_malformed, (unsigned long long)st.rejected_signature,
            (unsigned long long)st.rejected_denied, (unsigned long long)st.rejected_store);
        err |= scalar(out, "veritrail_batches_total", "counter",
                      "Group commits (batches) of the log.", st.batches);
        err |= scalar(out, "veritrail_batch_entries_total", "counter",
                      "Entries in those batches (divide by veritrail_batches_total for the mean "
                      "batch size).",
                      st.batch_entries);
        err |= scalar(out, "veritrail_idempotency_lookups_total", "counter",
                      "Submissions whose entry the idempotency filter could not prove new, so "
                      "the store was asked.",
                      st.lookups);
        err |=
            scalar(out, "veritrail_index_runs", "gauge",
                   "Run files of the lookup index by digest on disk (all kinds).", st.index_runs);
        err |= scalar(out, "veritrail_index_memory_bytes", "gauge",
                      "Memory the lookup index by digest holds (memtables and fences).",
                      st.index_bytes);
        err |= scalar(out, "veritrail_index_failing", "gauge",
                      "1 while a part of the lookup index cannot be written or merged (the "
                      "submissions that need room in it are refused).",
                      (uint64_t)st.index_failing);
        err |= scalar(out, "veritrail_tree_size", "gauge",
                      "Tree size of the latest signed checkpoint.", vt_service_size(svc));
        return err != 0 ? VT_ENOMEM : 0;
}

/* see server_int.h */
int vt_server_metrics_render(struct vt_server *s, struct vt_buf *out)
{
        int err = render_http(s, out);

        if (err == 0 && s->svc != NULL)
                err = render_service(s->svc, out);
        return err;
}
