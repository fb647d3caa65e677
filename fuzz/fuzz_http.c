/*
 * fuzz_http.c: libFuzzer target for the HTTP service as a client meets it:
 * the server (src/server: the routes, what they read of the path, the
 * query, the headers and the body, their JSON error bodies) in front of a
 * real service on a real log, over a real loopback socket.
 *
 * Made once per process: a log in a temporary directory, a root (role
 * "builder" may sign SLSA provenance), an admin token and a writer token,
 * the service, a server on 127.0.0.1 (any free port), and three logged
 * envelopes, so that reads by index, payload and subject find something.
 *
 * Each input is one request. Its first byte chooses the method (GET, HEAD,
 * POST, PUT, DELETE, OPTIONS) and the credentials (none, the writer's, the
 * admin's, a wrong token); the bytes up to the first newline are the
 * request target (a '/' is put in front when missing; bytes a request line
 * may not hold are percent-encoded, so that the target reaches the routes
 * rather than libmicrohttpd's request-line checks; at most TARGET_MAX); the
 * rest is the body, sent with its Content-Length. The answer is read to the
 * end ("Connection: close"). Required of every answer:
 *   - a status line with a status from 200 to 599;
 *   - an error (4xx, 5xx) to any method but HEAD carries a JSON object with
 *     string members "error" and "message" (docs/API.md "Errors");
 *   - a write (POST, PUT, DELETE) succeeds (2xx) only with a token.
 * Nothing may crash, leak or hang (a read waits at most 20 s).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/log.h"
#include "veritrail/policy.h"
#include "veritrail/server.h"
#include "veritrail/service.h"
#include "veritrail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLSA       "https://slsa.dev/provenance/v1"
#define TARGET_MAX 2048
#define ANSWER_MAX (8u << 20) /* kept of an answer; the rest is read and dropped */

static char dir[128];
static struct vt_service *svc;
static struct vt_server *srv;
static struct sockaddr_in addr;
static char admin_token[VT_SERVICE_TOKEN_LEN + 1], writer_token[VT_SERVICE_TOKEN_LEN + 1];

static void die(const char *what, const char *why)
{
        fprintf(stderr, "fuzz_http: %s: %s\n", what, why);
        abort();
}

/* At exit: the server, the service and the directory this process made. */
static void cleanup(void)
{
        char cmd[160];

        vt_server_stop(srv);
        vt_service_close(svc);
        srv = NULL;
        svc = NULL;
        if (dir[0] != '\0') {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                (void)!system(cmd);
        }
}

/* An envelope about an artifact named name, signed by k, logged through the service. */
static void log_one(const char *name, const struct vt_crypto_key *k)
{
        struct vt_encoding_subject s;
        struct vt_service_result r;
        struct vt_encoding_dsse e;
        struct vt_diag d = {""};
        struct vt_buf st, env, bundle;

        memset(&s, 0, sizeof(s));
        s.name = name;
        s.has_sha256 = 1;
        vt_crypto_sha256((const uint8_t *)name, strlen(name), &s.sha256);
        vt_buf_init(&st);
        vt_buf_init(&env);
        vt_buf_init(&bundle);
        vt_encoding_dsse_init(&e);
        if (vt_encoding_statement_build(&s, 1, SLSA, NULL, &st, &d) != 0 ||
            vt_encoding_dsse_set_payload(&e, VT_ENCODING_INTOTO_PAYLOAD_TYPE, st.p, st.len, &d) !=
                0 ||
            vt_encoding_dsse_sign(&e, k, &d) != 0 || vt_encoding_dsse_serialize(&e, &env) != 0)
                die("an envelope", d.msg);
        if (vt_service_submit(svc, env.p, env.len, &bundle, &r) != 0)
                die("logging an envelope", r.diag.msg);
        vt_encoding_dsse_release(&e);
        vt_buf_release(&st);
        vt_buf_release(&env);
        vt_buf_release(&bundle);
}

static void setup(void)
{
        struct vt_crypto_key *kg = NULL, *kb = NULL;
        struct vt_policy_root *root = NULL;
        struct vt_server_config c;
        struct vt_diag d = {""};
        struct vt_buf b;
        const char *t = getenv("TMPDIR"), *url, *colon;
        const char *slsa[] = {SLSA};
        char path[192];

        snprintf(dir, sizeof(dir), "%s/vt-fuzz-http.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
        if (mkdtemp(dir) == NULL) {
                dir[0] = '\0';
                die("mkdtemp", "cannot make a directory");
        }
        atexit(cleanup);
        if (vt_log_init(dir, "fuzz.veritrail.example/log", &d) != 0)
                die("log init", d.msg);
        if (vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kg, &d) != 0 ||
            vt_crypto_key_generate(VT_CRYPTO_KEY_ED25519, &kb, &d) != 0)
                die("keys", d.msg);
        {
                const struct vt_crypto_key *gov[] = {kg}, *bld[] = {kb};

                if (vt_policy_root_new(gov, 1, 1, vt_util_unix_time() + 86400, &root, &d) != 0 ||
                    vt_policy_root_set_role(root, "builder", bld, 1, 1, slsa, 1, &d) != 0 ||
                    vt_policy_root_sign(root, kg, NULL, &d) != 0)
                        die("root", d.msg);
        }
        vt_buf_init(&b);
        snprintf(path, sizeof(path), "%s/root.json", dir);
        if (vt_policy_root_serialize(root, &b) != 0 ||
            vt_util_write_file(path, b.p, b.len, 0644, &d) != 0)
                die("root file", d.msg);
        vt_buf_release(&b);
        vt_policy_root_free(root);
        if (vt_service_token_create(dir, "admin", 1, admin_token, &d) != 0 ||
            vt_service_token_create(dir, "ci", 0, writer_token, &d) != 0)
                die("tokens", d.msg);
        if (vt_service_open(dir, path, &svc, &d) != 0)
                die("service", d.msg);
        vt_server_config_init(&c);
        c.listen = "127.0.0.1:0";
        c.threads = 1;
        c.timeout_s = 10;
        if (vt_server_start(svc, &c, &srv, &d) != 0)
                die("server", d.msg);
        url = vt_server_url(srv);
        if ((colon = strrchr(url, ':')) == NULL)
                die("server", url);
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)atoi(colon + 1));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        log_one("fw-1.bin", kb);
        log_one("fw-2.bin", kb);
        log_one("fw-3.bin", kb);
        vt_crypto_key_free(kg);
        vt_crypto_key_free(kb);
}

/* Whether byte c may stand as itself in a request target (RFC 9112 §3.2, RFC 3986 §2). */
static int target_char(uint8_t c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("-._~:/?[]@!$&'()*+,;=%", c) != NULL);
}

static int send_all(int fd, const void *p, size_t n)
{
        const uint8_t *b = p;
        ssize_t w;

        while (n > 0) {
                if ((w = send(fd, b, n, MSG_NOSIGNAL)) <= 0)
                        return -1;
                b += w;
                n -= (size_t)w;
        }
        return 0;
}

/* The error body's members, as docs/API.md gives them. */
static void check_error_body(const char *body, size_t n, unsigned status, const char *what)
{
        json_error_t je;
        json_t *v = json_loadb(body, n, 0, &je), *e, *m;

        if (v == NULL || !json_is_object(v) || !json_is_string(e = json_object_get(v, "error")) ||
            !json_is_string(m = json_object_get(v, "message"))) {
                fprintf(stderr, "fuzz_http: %s answered %u with: %.*s\n", what, status,
                        (int)(n < 400 ? n : 400), body);
                abort();
        }
        json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
        static char head[TARGET_MAX * 3 + 512];
        static char *answer;
        struct timeval tv = {20, 0};
        const uint8_t *nl, *body;
        const char *method, *token = NULL;
        size_t tlen, blen, i, got = 0, hl;
        unsigned status;
        ssize_t r;
        char *p, *hend;
        int fd, cred;

        if (svc == NULL)
                setup();
        if (answer == NULL && (answer = malloc(ANSWER_MAX + 1)) == NULL)
                die("memory", "no room for an answer");
        if (size == 0)
                return 0;
        method = methods[data[0] % 6];
        cred = data[0] / 6 % 4;
        token = cred == 1 ? writer_token : cred == 2 ? admin_token : cred == 3 ? "wrong" : NULL;
        data++;
        size--;
        nl = memchr(data, '\n', size);
        tlen = nl != NULL ? (size_t)(nl - data) : size;
        body = nl != NULL ? nl + 1 : data + size;
        blen = nl != NULL ? size - tlen - 1 : 0;
        if (tlen > TARGET_MAX)
                tlen = TARGET_MAX;

        /* The request head: the target percent-encoded where it must be. */
        p = head;
        p += sprintf(p, "%s ", method);
        if (tlen == 0 || data[0] != '/')
                *p++ = '/';
        for (i = 0; i < tlen; i++)
                p += target_char(data[i]) ? sprintf(p, "%c", data[i])
                                          : sprintf(p, "%%%02X", data[i]);
        p += sprintf(p, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (token != NULL)
                p += sprintf(p, "Authorization: Bearer %s\r\n", token);
        p += sprintf(p, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", blen);
        hl = (size_t)(p - head);

        if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
                die("socket", "cannot make one");
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
                die("connect", "the server does not accept");
        /* A server may answer (413, 401) before the body is in: a failed send is fine. */
        if (send_all(fd, head, hl) == 0 && blen > 0)
                (void)send_all(fd, body, blen);
        for (;;) {
                char sink[4096];

                if (got < ANSWER_MAX)
                        r = recv(fd, answer + got, ANSWER_MAX - got, 0);
                else
                        r = recv(fd, sink, sizeof(sink), 0);
                if (r == 0)
                        break;
                if (r < 0)
                        die("recv", "no answer within 20 s");
                if (got < ANSWER_MAX)
                        got += (size_t)r;
        }
        close(fd);
        answer[got] = '\0';

        if (got < 12 || memcmp(answer, "HTTP/1.", 7) != 0 ||
            sscanf(answer + 9, "%3u", &status) != 1 || status < 200 || status > 599) {
                fprintf(stderr, "fuzz_http: %s: no status line in: %.*s\n", method,
                        (int)(got < 200 ? got : 200), answer);
                abort();
        }
        if ((hend = strstr(answer, "\r\n\r\n")) == NULL)
                die(method, "an answer without the end of its header");
        if (status >= 400 && strcmp(method, "HEAD") != 0)
                check_error_body(hend + 4, got - (size_t)(hend + 4 - answer), status, method);
        if (status < 300 && token != writer_token && token != admin_token &&
            (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
             strcmp(method, "DELETE") == 0)) {
                fprintf(stderr, "fuzz_http: %s without a token answered %u\n", method, status);
                abort();
        }
        return 0;
}
