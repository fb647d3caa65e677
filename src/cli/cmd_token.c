/*
 * cmd_token.c: `veritrail token`: the service's bearer tokens (service.h).
 *
 *   token create --dir D --name NAME [--admin]
 *       makes a token and prints it, once, alone on standard output (it is
 *       stored only as its SHA-256: it cannot be shown again)
 *   token revoke --dir D --name NAME
 *       the token stops working at once, also for a running server
 *   token list --dir D
 *       one line per token: name, "admin" or "writer", "revoked" or
 *       "active", creation time (UTC); never a secret
 *
 * Exit codes: 0 success, 2 usage or input error (an unknown name, a name in
 * use, a directory that holds no log).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "veritrail/service.h"

static const char usage_text[] = "usage: veritrail token create --dir D --name NAME [--admin]\n"
                                 "       veritrail token revoke --dir D --name NAME\n"
                                 "       veritrail token list --dir D\n";

int vt_cli_token(int argc, char **argv)
{
        static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"admin", no_argument, NULL, 'a'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        const char *sub, *dir = NULL, *name = NULL;
        char token[VT_SERVICE_TOKEN_LEN + 1];
        struct vt_service_token *v = NULL;
        struct vt_diag d = {""};
        size_t n = 0, i;
        int c, admin = 0, err;

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                return vt_cli_usage(usage_text, argc >= 2);
        sub = argv[1];
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'n':
                        name = optarg;
                        break;
                case 'a':
                        admin = 1;
                        break;
                case 'h':
                        return vt_cli_usage(usage_text, 1);
                default:
                        return vt_cli_bad_option("token", argv + 1, c);
                }
        }
        if (optind != argc - 1 || dir == NULL) {
                vt_cli_error("token %s needs --dir and no other arguments", sub);
                return VT_EXIT_USAGE;
        }
        if (strcmp(sub, "create") == 0 || strcmp(sub, "revoke") == 0) {
                if (name == NULL || (admin && strcmp(sub, "revoke") == 0)) {
                        vt_cli_error("token %s needs --name%s", sub,
                                     strcmp(sub, "revoke") == 0 ? " (and takes no --admin)" : "");
                        return VT_EXIT_USAGE;
                }
                if (strcmp(sub, "revoke") == 0) {
                        if ((err = vt_service_token_revoke(dir, name, &d)) != 0)
                                return vt_cli_fail(err, &d);
                        return VT_EXIT_OK;
                }
                if ((err = vt_service_token_create(dir, name, admin, token, &d)) != 0)
                        return vt_cli_fail(err, &d);
                printf("%s\n", token);
                vt_util_wipe(token, sizeof(token));
                return fflush(stdout) == 0 ? VT_EXIT_OK : VT_EXIT_USAGE;
        }
        if (strcmp(sub, "list") == 0) {
                if (name != NULL || admin) {
                        vt_cli_error("token list takes only --dir");
                        return VT_EXIT_USAGE;
                }
                if ((err = vt_service_token_list(dir, &v, &n, &d)) != 0)
                        return vt_cli_fail(err, &d);
                for (i = 0; i < n; i++) {
                        char when[32] = "?";
                        time_t t = (time_t)v[i].created;
                        struct tm tm;

                        if (gmtime_r(&t, &tm) != NULL)
                                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                        printf("%s %s %s %s\n", v[i].name, v[i].admin ? "admin" : "writer",
                               v[i].revoked ? "revoked" : "active", when);
                }
                free(v);
                return VT_EXIT_OK;
        }
        vt_cli_error("unknown token command '%s' (create, revoke, list)", sub);
        return vt_cli_usage(usage_text, 0);
}
