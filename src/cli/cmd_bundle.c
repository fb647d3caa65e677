/*
 * cmd_bundle.c: veritrail bundle --server URL --subject FILE|sha256:HEX --out B.json
 *
 * Fetches the offline bundle of every attestation the log holds about one
 * artifact (GET /v1/bundle?subject=sha256:HEX). A FILE subject is hashed
 * locally, streaming. The bundle is written atomically; check it with
 * `veritrail proof verify`. Exit 0, 1 when the log holds nothing about the
 * artifact, 2 for usage, input or connection errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"

static const char usage_text[] =
    "usage: veritrail bundle --server URL --subject FILE|sha256:HEX --out BUNDLE.json\n";

int vt_cli_bundle(int argc, char **argv)
{
        static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                             {"subject", required_argument, NULL, 'S'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *server = getenv("VERITRAIL_SERVER"), *subject = NULL, *out = NULL;
        char hex[2 * VT_CRYPTO_HASH_LEN + 1], msg[VT_DIAG_MAX];
        struct vt_buf url, resp;
        struct vt_diag d = {""};
        struct vt_hash h;
        int c, rc = VT_EXIT_OK, err;
        long status = 0;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        server = optarg;
                        break;
                case 'S':
                        subject = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 'h':
                        return vt_cli_usage(usage_text, 1);
                default:
                        return vt_cli_bad_option("bundle", argv, c);
                }
        }
        if (server == NULL || subject == NULL || out == NULL || optind != argc) {
                vt_cli_error("bundle needs --server, --subject and --out, and no other arguments");
                return vt_cli_usage(usage_text, 0);
        }
        if (strncmp(subject, "sha256:", 7) == 0) {
                if (vt_encoding_hex_decode(subject + 7, strlen(subject + 7), h.b, sizeof(h.b)) !=
                    0) {
                        vt_cli_error("subject '%s': expected sha256: and 64 lowercase hex digits",
                                     subject);
                        return VT_EXIT_USAGE;
                }
        } else if ((err = vt_crypto_sha256_file(subject, &h, NULL, &d)) != 0) {
                return vt_cli_fail(err, &d);
        }
        vt_encoding_hex_encode(h.b, sizeof(h.b), hex);
        vt_buf_init(&url);
        vt_buf_init(&resp);
        if (vt_cli_server_url(&url, server, "/v1/bundle?subject=sha256:") != 0 ||
            vt_buf_puts(&url, hex) != 0) {
                rc = VT_EXIT_USAGE;
                goto done;
        }
        if ((err = vt_cli_http("GET", (char *)url.p, NULL, NULL, 0, &status, &resp, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto done;
        }
        if (status != 200) {
                vt_cli_http_error(status, &resp, msg, sizeof(msg));
                vt_cli_error("subject sha256:%s: %s", hex, msg);
                rc = status == 404 ? VT_EXIT_VERIFY : VT_EXIT_USAGE;
                goto done;
        }
        if ((err = vt_util_write_file(out, resp.p, resp.len, 0644, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto done;
        }
        if (strcmp(out, "-") != 0)
                printf("bundle for sha256:%s written to %s\n", hex, out);
done:
        vt_cli_http_done();
        vt_buf_release(&url);
        vt_buf_release(&resp);
        return rc;
}
