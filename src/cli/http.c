/*
 * http.c: the command's HTTP client (libcurl), for the verbs that talk to a
 * veritrail server (submit, bundle). One easy handle is kept between calls
 * so a run of submissions reuses one keep-alive connection.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"

#define HTTP_RESPONSE_MAX (64u << 20) /* a bundle of many attestations fits */

static CURL *handle;

struct sink {
        struct vt_buf *b;
        int too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
        struct sink *s = ctx;
        size_t n = size * nmemb;

        if (s->b->len + n > HTTP_RESPONSE_MAX) {
                s->too_big = 1;
                return 0;
        }
        return vt_buf_append(s->b, p, n) == 0 ? n : 0;
}

/* see cli.h */
int vt_cli_http(const char *method, const char *url, const char *token, const uint8_t *body,
                size_t n, long *status, struct vt_buf *resp, struct vt_diag *d)
{
        struct curl_slist *hdr = NULL;
        struct sink sink = {resp, 0};
        char auth[512];
        CURLcode rc;
        int err = 0;

        if (handle == NULL) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
                    (handle = curl_easy_init()) == NULL) {
                        vt_diag_set(d, "cannot initialise the HTTP client");
                        return VT_EINTERNAL;
                }
        }
        curl_easy_reset(handle);
        curl_easy_setopt(handle, CURLOPT_URL, url);
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(handle, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handle, CURLOPT_USERAGENT, "veritrail/" VT_VERSION);
        if (body != NULL) {
                curl_easy_setopt(handle, CURLOPT_POSTFIELDS, (const char *)body);
                curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
                hdr = curl_slist_append(hdr, "Content-Type: application/json");
        }
        if (token != NULL) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                hdr = curl_slist_append(hdr, auth);
        }
        hdr = curl_slist_append(hdr, "Expect:");
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, hdr);
        rc = curl_easy_perform(handle);
        if (rc != CURLE_OK) {
                if (sink.too_big)
                        vt_diag_set(d, "'%s': response larger than %u bytes", url,
                                    HTTP_RESPONSE_MAX);
                else
                        vt_diag_set(d, "cannot reach '%s': %s", url, curl_easy_strerror(rc));
                err = sink.too_big ? VT_ETOOBIG : VT_EIO;
        } else {
                curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
        }
        curl_slist_free_all(hdr);
        vt_util_wipe(auth, sizeof(auth));
        return err;
}

/* see cli.h */
void vt_cli_http_done(void)
{
        if (handle != NULL) {
                curl_easy_cleanup(handle);
                handle = NULL;
                curl_global_cleanup();
        }
}

/* see cli.h */
void vt_cli_http_error(long status, const struct vt_buf *resp, char *out, size_t n)
{
        json_t *v = NULL, *m;

        if (resp->len > 0)
                v = json_loadb((const char *)resp->p, resp->len, 0, NULL);
        m = v != NULL ? json_object_get(v, "message") : NULL;
        if (json_is_string(m))
                snprintf(out, n, "server answered %ld: %s", status, json_string_value(m));
        else
                snprintf(out, n, "server answered %ld", status);
        json_decref(v);
}
