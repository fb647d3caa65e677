/*
 * cmd_submit.c: veritrail submit --server URL --token T ENVELOPE... [--out DIR]
 *
 * Posts each envelope to URL/v1/entries over one kept-alive connection and
 * writes the offline bundle the server answers with to
 * DIR/<envelope name>.bundle.json. Exit 0 when every envelope was logged,
 * 1 when the server refused one (the reason is printed), 2 for usage, input
 * or connection errors. DIR is made (one level, as `log export --to` does)
 * and checked before anything is sent: a bundle the server answered with is
 * not lost for want of a place to write it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "veritrail/service.h"

static const char usage_text[] =
    "usage: veritrail submit --server URL [--token TOKEN | --token-file FILE] [--out DIR] "
    "ENVELOPE...\n";

/* The token: --token, --token-file, or $VERITRAIL_TOKEN. */
static int read_token(const char *tok, const char *file, struct vt_buf *out)
{
        struct vt_diag d = {""};
        int err;

        if (tok == NULL && file == NULL)
                tok = getenv("VERITRAIL_TOKEN");
        if (tok != NULL)
                return vt_buf_puts(out, tok);
        if (file == NULL)
                return 0;
        if ((err = vt_util_read_file(file, 4096, out, &d)) != 0)
                return vt_cli_fail(err, &d), err;
        while (out->len > 0 && (out->p[out->len - 1] == '\n' || out->p[out->len - 1] == '\r'))
                out->p[--out->len] = '\0';
        return 0;
}

/* The index of a bundle's first attestation: the "index N" line of its tlog-proof@v1. */
static int bundle_index(const struct vt_buf *b, char *out, size_t n)
{
        json_t *v = json_loadb((const char *)b->p, b->len, 0, NULL);
        json_t *proof =
            json_object_get(json_array_get(json_object_get(v, "attestations"), 0), "proof");
        const char *p = json_is_string(proof) ? strstr(json_string_value(proof), "\nindex ") : NULL;
        size_t i = 0;

        if (p != NULL)
                for (p += 7; i + 1 < n && p[i] >= '0' && p[i] <= '9'; i++)
                        out[i] = p[i];
        out[i] = '\0';
        json_decref(v);
        return i > 0 ? 0 : -1;
}

/* bundle_path(dir, env, out): DIR/<env's file name without .json>.bundle.json. */
static int bundle_path(const char *dir, const char *env, struct vt_buf *out)
{
        const char *base = strrchr(env, '/');
        size_t n, dn = strlen(dir);

        while (dn > 1 && dir[dn - 1] == '/')
                dn--; /* "bundles/" names the same directory as "bundles" */
        base = base ? base + 1 : env;
        n = strlen(base);
        if (n > 5 && strcmp(base + n - 5, ".json") == 0)
                n -= 5;
        return vt_buf_printf(out, "%.*s%s%.*s.bundle.json", (int)dn, dir,
                             dir[dn - 1] == '/' ? "" : "/", (int)n, base);
}

/* out_dir(dir): make dir if it is missing and check that bundles can be written there. */
static int out_dir(const char *dir)
{
        struct stat st;

        if (*dir == '\0') {
                vt_cli_error("submit: --out needs a directory");
                return VT_EXIT_USAGE;
        }
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                vt_cli_error("submit: cannot create directory '%s': %s", dir, strerror(errno));
                return VT_EXIT_USAGE;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                vt_cli_error("submit: '%s' is not a directory", dir);
                return VT_EXIT_USAGE;
        }
        if (access(dir, W_OK | X_OK) != 0) {
                vt_cli_error("submit: cannot write in directory '%s': %s", dir, strerror(errno));
                return VT_EXIT_USAGE;
        }
        return VT_EXIT_OK;
}

int vt_cli_submit(int argc, char **argv)
{
        static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                             {"token", required_argument, NULL, 't'},
                                             {"token-file", required_argument, NULL, 'T'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *server = getenv("VERITRAIL_SERVER"), *tok = NULL, *tokfile = NULL,
                   *outdir = NULL;
        struct vt_buf token, url, env, resp, path;
        struct vt_diag d = {""};
        int c, i, rc = VT_EXIT_OK, err;
        long status = 0;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        server = optarg;
                        break;
                case 't':
                        tok = optarg;
                        break;
                case 'T':
                        tokfile = optarg;
                        break;
                case 'o':
                        outdir = optarg;
                        break;
                case 'h':
                        return vt_cli_usage(usage_text, 1);
                default:
                        return vt_cli_bad_option("submit", argv, c);
                }
        }
        if (server == NULL || optind >= argc) {
                vt_cli_error("submit needs --server URL and at least one envelope");
                return vt_cli_usage(usage_text, 0);
        }
        vt_buf_init(&token);
        vt_buf_init(&url);
        vt_buf_init(&env);
        vt_buf_init(&resp);
        vt_buf_init(&path);
        if (read_token(tok, tokfile, &token) != 0) {
                rc = VT_EXIT_USAGE;
                goto out;
        }
        if (token.len == 0) {
                vt_cli_error("submit needs a token: --token, --token-file or $VERITRAIL_TOKEN");
                rc = VT_EXIT_USAGE;
                goto out;
        }
        if (vt_cli_server_url(&url, server, "/v1/entries") != 0) {
                rc = VT_EXIT_USAGE;
                goto out;
        }
        /* The last check before anything is sent. */
        if (outdir != NULL && (rc = out_dir(outdir)) != VT_EXIT_OK)
                goto out;
        for (i = optind; i < argc; i++) {
                char msg[VT_DIAG_MAX], idx[24];

                vt_buf_release(&env); /* vt_util_read_file overwrites it */
                resp.len = 0;
                if ((err = vt_util_read_file(argv[i], VT_SERVICE_ENVELOPE_MAX, &env, &d)) != 0) {
                        rc = vt_cli_fail(err, &d);
                        break;
                }
                if ((err = vt_cli_http("POST", (char *)url.p, (char *)token.p, env.p, env.len,
                                       &status, &resp, &d)) != 0) {
                        rc = vt_cli_fail(err, &d);
                        break;
                }
                if (status != 200 && status != 201) {
                        vt_cli_http_error(status, &resp, msg, sizeof(msg));
                        vt_cli_error("'%s': %s", argv[i], msg);
                        rc = status >= 400 && status < 500 && status != 401 && status != 413 &&
                                     status != 429
                                 ? VT_EXIT_VERIFY
                                 : VT_EXIT_USAGE;
                        if (rc == VT_EXIT_USAGE)
                                break;
                        continue;
                }
                if (bundle_index(&resp, idx, sizeof(idx)) != 0)
                        snprintf(idx, sizeof(idx), "?");
                if (outdir != NULL) {
                        path.len = 0;
                        if (bundle_path(outdir, argv[i], &path) != 0) {
                                vt_cli_error("out of memory");
                                rc = VT_EXIT_USAGE;
                                break;
                        }
                        if ((err = vt_util_write_file((char *)path.p, resp.p, resp.len, 0644,
                                                      &d)) != 0) {
                                rc = vt_cli_fail(err, &d);
                                break;
                        }
                        printf("%s: entry %s%s, bundle %s\n", argv[i], idx,
                               status == 200 ? " (already logged)" : "", (char *)path.p);
                } else {
                        printf("%s: entry %s%s\n", argv[i], idx,
                               status == 200 ? " (already logged)" : "");
                }
                fflush(stdout);
        }
out:
        vt_cli_http_done();
        vt_buf_wipe(&token);
        vt_buf_release(&url);
        vt_buf_release(&env);
        vt_buf_release(&resp);
        vt_buf_release(&path);
        return rc;
}
