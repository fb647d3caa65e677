/*
 * cmd_root.c: `veritrail root`: create, edit, sign, verify and show the
 * governance root of trust (policy.h, docs/FORMATS.md "Governance root").
 *
 *   root init --out ROOT --governance-key G [...] --threshold N [--expires DAYS] [--force]
 *   root role ROOT --name NAME --key K [...] [--threshold N] --may-sign TYPE [...]
 *   root role ROOT --name NAME --remove
 *   root governance ROOT --key G [...] --threshold N
 *   root sign ROOT --key G.key [--previous OLD_ROOT]
 *   root verify ROOT [--previous OLD_ROOT]
 *   root show ROOT [--previous OLD_ROOT]
 *   root bump ROOT --out NEW [--expires DAYS] [--force]
 *   root authorize ROOT ENVELOPE
 *
 * Every edit rewrites ROOT atomically (vt_util_write_file) and drops its
 * signatures; `init` and `bump` never overwrite a file without --force.
 * Exit codes: 0 success, 1 verification or authorization failed, 2 usage or
 * input error (cli.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "veritrail/crypto.h"
#include "veritrail/encoding.h"
#include "veritrail/policy.h"

#define DAYS_DEFAULT 365
#define DAYS_MAX     36500

static const char usage_text[] =
    "usage: veritrail root <command> ...\n"
    "  init --out ROOT --governance-key G.pub [...] --threshold N [--expires DAYS] "
    "[--force]\n"
    "  role ROOT --name NAME --key K.pub [...] [--threshold N] --may-sign TYPE [...]\n"
    "  role ROOT --name NAME --remove\n"
    "  governance ROOT --key G.pub [...] --threshold N\n"
    "  sign ROOT --key G.key [--previous OLD_ROOT]\n"
    "  verify ROOT [--previous OLD_ROOT]\n"
    "  show ROOT [--previous OLD_ROOT]\n"
    "  bump ROOT --out NEW [--expires DAYS] [--force]\n"
    "  authorize ROOT ENVELOPE\n"
    "edits drop all signatures: sign the root again with a threshold of governance keys\n";

/* The options of every subcommand, collected by one parser. */
struct args {
        const char *pos[2];
        size_t npos;
        const char *out, *name, *threshold, *expires, *previous;
        const char *keys[VT_POLICY_ROOT_ROLE_KEYS_MAX];
        size_t nkeys;
        const char *types[VT_POLICY_ROOT_TYPES_MAX];
        size_t ntypes;
        int force, remove;
};

/*
 * Parse argv[2..argc) for subcommand sub: options listed in allowed (a
 * space-separated list), at most maxpos positional arguments. 0 or -1 after
 * printing the error.
 */
static int parse_args(int argc, char **argv, const char *sub, const char *allowed, size_t maxpos,
                      struct args *a)
{
        int i;

        memset(a, 0, sizeof(*a));
        for (i = 2; i < argc; i++) {
                const char *o = argv[i], *v = NULL;
                const char *hit;
                size_t len = strlen(o);

                if (strncmp(o, "--", 2) != 0 || len == 2) {
                        if (a->npos >= maxpos) {
                                vt_cli_error("root %s: unexpected argument '%s'", sub, o);
                                return -1;
                        }
                        a->pos[a->npos++] = o;
                        continue;
                }
                hit = strstr(allowed, o);
                if (hit == NULL || (hit != allowed && hit[-1] != ' ') ||
                    (hit[len] != ' ' && hit[len] != '\0')) {
                        vt_cli_error("root %s: unknown option '%s' (see 'veritrail root help')",
                                     sub, o);
                        return -1;
                }
                if (strcmp(o, "--force") == 0) {
                        a->force = 1;
                        continue;
                }
                if (strcmp(o, "--remove") == 0) {
                        a->remove = 1;
                        continue;
                }
                if (i + 1 >= argc) {
                        vt_cli_error("root %s: option '%s' needs a value", sub, o);
                        return -1;
                }
                v = argv[++i];
                if (strcmp(o, "--key") == 0 || strcmp(o, "--governance-key") == 0) {
                        if (a->nkeys >= VT_POLICY_ROOT_ROLE_KEYS_MAX) {
                                vt_cli_error("root %s: more than %d keys", sub,
                                             VT_POLICY_ROOT_ROLE_KEYS_MAX);
                                return -1;
                        }
                        a->keys[a->nkeys++] = v;
                } else if (strcmp(o, "--may-sign") == 0) {
                        if (a->ntypes >= VT_POLICY_ROOT_TYPES_MAX) {
                                vt_cli_error("root %s: more than %d predicate types", sub,
                                             VT_POLICY_ROOT_TYPES_MAX);
                                return -1;
                        }
                        a->types[a->ntypes++] = v;
                } else {
                        const char **slot = strcmp(o, "--out") == 0         ? &a->out
                                            : strcmp(o, "--name") == 0      ? &a->name
                                            : strcmp(o, "--threshold") == 0 ? &a->threshold
                                            : strcmp(o, "--expires") == 0   ? &a->expires
                                                                            : &a->previous;
                        if (*slot != NULL) {
                                vt_cli_error("root %s: option '%s' is given twice", sub, o);
                                return -1;
                        }
                        *slot = v;
                }
        }
        return 0;
}

/* A count option: decimal from 1 to max. 0 or -1 after printing the error. */
static int parse_count(const char *sub, const char *opt, const char *s, uint64_t max, uint64_t *out)
{
        if (vt_util_parse_u64(s, strlen(s), out) != 0 || *out < 1 || *out > max) {
                vt_cli_error("root %s: %s '%s' is not a number from 1 to %llu", sub, opt, s,
                             (unsigned long long)max);
                return -1;
        }
        return 0;
}

/* The expiry: now + --expires DAYS (default 365). 0 or -1. */
static int parse_expiry(const char *sub, const struct args *a, int64_t *out)
{
        uint64_t days = DAYS_DEFAULT;

        if (a->expires != NULL && parse_count(sub, "--expires", a->expires, DAYS_MAX, &days) != 0)
                return -1;
        *out = vt_util_unix_time() + (int64_t)days * 86400;
        return 0;
}

/* Load every --key file (public or private). 0 or an exit code. */
static int load_keys(const struct args *a, struct vt_crypto_key **keys)
{
        struct vt_diag d = {""};
        size_t i;
        int err;

        for (i = 0; i < a->nkeys; i++)
                if ((err = vt_crypto_key_load_file(a->keys[i], vt_cli_passphrase(), &keys[i],
                                                   &d)) != 0)
                        return vt_cli_fail(err, &d);
        return 0;
}

static void free_keys(struct vt_crypto_key **keys, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                vt_crypto_key_free(keys[i]);
}

/* Read and parse a root file. 0 or an exit code after printing the error. */
static int read_root(const char *path, struct vt_policy_root **out)
{
        struct vt_diag d = {""};
        struct vt_buf b;
        int err;

        if ((err = vt_util_read_file(path, VT_POLICY_ROOT_MAX, &b, &d)) != 0)
                return vt_cli_fail(err, &d);
        if ((err = vt_policy_root_parse(b.p, b.len, out, &d)) != 0)
                vt_diag_prefix(&d, "'%s'", path);
        vt_buf_release(&b);
        return err != 0 ? vt_cli_fail(err, &d) : 0;
}

/* Serialise r and write it to path atomically. 0 or an exit code. */
static int write_root(const struct vt_policy_root *r, const char *path)
{
        struct vt_diag d = {""};
        struct vt_buf b;
        int err;

        vt_buf_init(&b);
        if ((err = vt_policy_root_serialize(r, &b)) == 0)
                err = vt_util_write_file(path, b.p, b.len, 0644, &d);
        vt_buf_release(&b);
        return err != 0 ? vt_cli_fail(err, &d) : 0;
}

/* Refuse to replace path without --force. 0 or an exit code. */
static int check_new_file(const char *path, int force)
{
        if (!force && strcmp(path, "-") != 0 && access(path, F_OK) == 0) {
                vt_cli_error("'%s' already exists (use --force to overwrite it)", path);
                return VT_EXIT_USAGE;
        }
        return 0;
}

static int cmd_init(int argc, char **argv)
{
        struct vt_crypto_key *keys[VT_POLICY_ROOT_ROLE_KEYS_MAX] = {NULL};
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        struct args a;
        uint64_t thr;
        int64_t expires;
        int rc, err;

        if (parse_args(argc, argv, "init", "--out --governance-key --threshold --expires --force",
                       0, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.out == NULL || a.nkeys == 0 || a.threshold == NULL) {
                vt_cli_error("root init: --out, --governance-key and --threshold are required");
                return VT_EXIT_USAGE;
        }
        if (parse_count("init", "--threshold", a.threshold, a.nkeys, &thr) != 0 ||
            parse_expiry("init", &a, &expires) != 0)
                return VT_EXIT_USAGE;
        if ((rc = check_new_file(a.out, a.force)) != 0)
                return rc;
        if ((rc = load_keys(&a, keys)) != 0)
                goto out;
        err = vt_policy_root_new((const struct vt_crypto_key *const *)keys, a.nkeys, thr, expires,
                                 &r, &d);
        if (err != 0) {
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((rc = write_root(r, a.out)) != 0)
                goto out;
        if (strcmp(a.out, "-") != 0)
                printf("wrote root version 1 to '%s': %zu governance key%s, threshold %llu, "
                       "expires %s; unsigned: sign it with 'veritrail root sign'\n",
                       a.out, a.nkeys, a.nkeys == 1 ? "" : "s", (unsigned long long)thr,
                       vt_policy_root_expires_text(r));
out:
        vt_policy_root_free(r);
        free_keys(keys, a.nkeys);
        return rc;
}

/* `role` and `governance`: edit ROOT in place. */
static int cmd_edit(int argc, char **argv, int gov)
{
        struct vt_crypto_key *keys[VT_POLICY_ROOT_ROLE_KEYS_MAX] = {NULL};
        const char *sub = gov ? "governance" : "role";
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        struct args a;
        uint64_t thr = 1;
        size_t dropped;
        int rc, err;

        if (parse_args(argc, argv, sub,
                       gov ? "--key --threshold" : "--name --key --threshold --may-sign --remove",
                       1, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.npos != 1) {
                vt_cli_error("root %s: the root file is required", sub);
                return VT_EXIT_USAGE;
        }
        if (gov && (a.nkeys == 0 || a.threshold == NULL)) {
                vt_cli_error("root governance: --key and --threshold are required");
                return VT_EXIT_USAGE;
        }
        if (!gov && a.name == NULL) {
                vt_cli_error("root role: --name is required");
                return VT_EXIT_USAGE;
        }
        if (!gov && a.remove && (a.nkeys > 0 || a.ntypes > 0 || a.threshold != NULL)) {
                vt_cli_error("root role: --remove takes no --key, --threshold or --may-sign");
                return VT_EXIT_USAGE;
        }
        if (!gov && !a.remove && (a.nkeys == 0 || a.ntypes == 0)) {
                vt_cli_error("root role: --key and --may-sign are required");
                return VT_EXIT_USAGE;
        }
        if (a.threshold != NULL && parse_count(sub, "--threshold", a.threshold, a.nkeys, &thr) != 0)
                return VT_EXIT_USAGE;
        if ((rc = read_root(a.pos[0], &r)) != 0)
                return rc;
        if ((rc = load_keys(&a, keys)) != 0)
                goto out;
        dropped = vt_policy_root_sig_count(r);
        if (gov)
                err = vt_policy_root_set_governance(r, (const struct vt_crypto_key *const *)keys,
                                                    a.nkeys, thr, &d);
        else if (a.remove)
                err = vt_policy_root_remove_role(r, a.name, &d);
        else
                err = vt_policy_root_set_role(r, a.name, (const struct vt_crypto_key *const *)keys,
                                              a.nkeys, thr, a.types, a.ntypes, &d);
        if (err != 0) {
                vt_diag_prefix(&d, "'%s'", a.pos[0]);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((rc = write_root(r, a.pos[0])) != 0)
                goto out;
        if (gov)
                printf("root version %lld: governance set to %zu key%s, threshold %llu",
                       (long long)vt_policy_root_version(r), a.nkeys, a.nkeys == 1 ? "" : "s",
                       (unsigned long long)thr);
        else if (a.remove)
                printf("root version %lld: role '%s' removed", (long long)vt_policy_root_version(r),
                       a.name);
        else
                printf("root version %lld: role '%s' set: %zu key%s, threshold %llu, may sign %zu "
                       "predicate type%s",
                       (long long)vt_policy_root_version(r), a.name, a.nkeys,
                       a.nkeys == 1 ? "" : "s", (unsigned long long)thr, a.ntypes,
                       a.ntypes == 1 ? "" : "s");
        printf("; %zu signature%s dropped, sign it again\n", dropped, dropped == 1 ? "" : "s");
out:
        vt_policy_root_free(r);
        free_keys(keys, a.nkeys);
        return rc;
}

static int cmd_sign(int argc, char **argv)
{
        struct vt_policy_root *r = NULL, *prev = NULL;
        struct vt_crypto_key *k = NULL;
        struct vt_diag d = {""};
        struct args a;
        int rc, err;

        if (parse_args(argc, argv, "sign", "--key --previous", 1, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.npos != 1 || a.nkeys != 1) {
                vt_cli_error("root sign: the root file and one --key are required");
                return VT_EXIT_USAGE;
        }
        if ((rc = read_root(a.pos[0], &r)) != 0)
                return rc;
        if (a.previous != NULL && (rc = read_root(a.previous, &prev)) != 0)
                goto out;
        if ((err = vt_crypto_key_load_file(a.keys[0], vt_cli_passphrase(), &k, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((err = vt_policy_root_sign(r, k, prev, &d)) != 0) {
                vt_diag_prefix(&d, "'%s'", a.pos[0]);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((rc = write_root(r, a.pos[0])) != 0)
                goto out;
        printf("root version %lld signed by key %s (%zu signature%s)\n",
               (long long)vt_policy_root_version(r), vt_crypto_key_id(k),
               vt_policy_root_sig_count(r), vt_policy_root_sig_count(r) == 1 ? "" : "s");
out:
        vt_crypto_key_free(k);
        vt_policy_root_free(prev);
        vt_policy_root_free(r);
        return rc;
}

static int cmd_verify(int argc, char **argv)
{
        struct vt_policy_root *r = NULL, *prev = NULL;
        struct vt_policy_sig_report own, old;
        struct vt_diag d = {""};
        struct args a;
        size_t n;
        int rc, err;

        if (parse_args(argc, argv, "verify", "--previous", 1, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.npos != 1) {
                vt_cli_error("root verify: the root file is required");
                return VT_EXIT_USAGE;
        }
        if ((rc = read_root(a.pos[0], &r)) != 0)
                return rc;
        if (a.previous != NULL) {
                if ((rc = read_root(a.previous, &prev)) != 0)
                        goto out;
                /* The previous root vouches only if it carries its own threshold
                 * (it may have expired since: TUF lets an old root vouch). */
                if ((err = vt_policy_root_verify(prev, INT64_MIN, &n, &d)) != 0) {
                        vt_diag_prefix(&d, "previous root '%s'", a.previous);
                        rc = vt_cli_fail(err, &d);
                        goto out;
                }
                err = vt_policy_root_verify_successor(prev, r, vt_util_unix_time(), &d);
        } else {
                err = vt_policy_root_verify(r, vt_util_unix_time(), &n, &d);
        }
        if (err != 0) {
                vt_diag_prefix(&d, "'%s'", a.pos[0]);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((err = vt_policy_root_check_sigs(r, NULL, &own)) != 0 ||
            (prev != NULL && (err = vt_policy_root_check_sigs(r, prev, &old)) != 0)) {
                rc = vt_cli_fail(err, NULL);
                goto out;
        }
        if (prev != NULL)
                printf("root version %lld is a valid successor of root version %lld: expires %s; "
                       "%zu of %zu required signatures by the previous governance keys, %zu of "
                       "%zu by its own\n",
                       (long long)vt_policy_root_version(r),
                       (long long)vt_policy_root_version(prev), vt_policy_root_expires_text(r),
                       old.nvalid, old.threshold, own.nvalid, own.threshold);
        else
                printf("root version %lld is valid: expires %s; %zu of %zu required governance "
                       "signatures\n",
                       (long long)vt_policy_root_version(r), vt_policy_root_expires_text(r),
                       own.nvalid, own.threshold);
out:
        vt_policy_root_free(prev);
        vt_policy_root_free(r);
        return rc;
}

static const char *sig_status(int status)
{
        switch (status) {
        case 0:
                return "valid";
        case VT_EEXIST:
                return "valid, but this key was already counted";
        case VT_EUNKNOWNKEY:
                return "not by a governance key";
        case VT_EBADSIG:
                return "does not verify";
        }
        return "fits no governance key";
}

static void show_role(const struct vt_policy_root *r, const struct vt_policy_role_view *v)
{
        size_t i;

        printf("%s%s: threshold %zu of %zu\n", v->nmay_sign ? "role " : "", v->name, v->threshold,
               v->nkeyids);
        for (i = 0; i < v->nkeyids; i++)
                printf("  key %s (%s)\n", v->keyids[i],
                       vt_crypto_key_type_name(
                           vt_crypto_key_type(vt_policy_root_key(r, v->keyids[i]))));
        for (i = 0; i < v->nmay_sign; i++)
                printf("  may sign %s\n", v->may_sign[i]);
}

static int cmd_show(int argc, char **argv)
{
        struct vt_policy_root *r = NULL, *prev = NULL;
        struct vt_policy_sig_report own, old;
        struct vt_policy_role_view v;
        struct args a;
        int64_t left;
        size_t i;
        int rc, err;

        if (parse_args(argc, argv, "show", "--previous", 1, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.npos != 1) {
                vt_cli_error("root show: the root file is required");
                return VT_EXIT_USAGE;
        }
        if ((rc = read_root(a.pos[0], &r)) != 0)
                return rc;
        if (a.previous != NULL && (rc = read_root(a.previous, &prev)) != 0)
                goto out;
        if ((err = vt_policy_root_check_sigs(r, NULL, &own)) != 0 ||
            (prev != NULL && (err = vt_policy_root_check_sigs(r, prev, &old)) != 0)) {
                rc = vt_cli_fail(err, NULL);
                goto out;
        }
        left = vt_policy_root_expires(r) - vt_util_unix_time();
        printf("root version %lld\n", (long long)vt_policy_root_version(r));
        if (left > 0)
                printf("expires %s (in %lld days)\n", vt_policy_root_expires_text(r),
                       (long long)(left / 86400));
        else
                printf("expires %s (EXPIRED)\n", vt_policy_root_expires_text(r));
        vt_policy_root_governance(r, &v);
        show_role(r, &v);
        for (i = 0; vt_policy_root_role(r, i, &v) == 0; i++)
                show_role(r, &v);
        if (vt_policy_root_role_count(r) == 0)
                printf("no roles\n");
        printf("signatures: %zu; %zu of %zu required governance signatures valid\n", own.nsigs,
               own.nvalid, own.threshold);
        if (prev != NULL)
                printf("by the governance keys of root version %lld: %zu of %zu required\n",
                       (long long)vt_policy_root_version(prev), old.nvalid, old.threshold);
        for (i = 0; i < own.nsigs; i++) {
                const char *id = own.sig[i].keyid;

                if (prev != NULL && (old.sig[i].status == 0 || old.sig[i].status == VT_EEXIST))
                        id = old.sig[i].keyid;
                printf("  %zu. key %s: %s", i + 1, id[0] ? id : "(no key id)",
                       sig_status(own.sig[i].status));
                if (prev != NULL)
                        printf("; previous root: %s", sig_status(old.sig[i].status));
                printf("\n");
        }
out:
        vt_policy_root_free(prev);
        vt_policy_root_free(r);
        return rc;
}

static int cmd_bump(int argc, char **argv)
{
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        struct args a;
        int64_t expires;
        int rc, err;

        if (parse_args(argc, argv, "bump", "--out --expires --force", 1, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.npos != 1 || a.out == NULL) {
                vt_cli_error("root bump: the root file and --out are required");
                return VT_EXIT_USAGE;
        }
        if (parse_expiry("bump", &a, &expires) != 0)
                return VT_EXIT_USAGE;
        if ((rc = check_new_file(a.out, a.force)) != 0)
                return rc;
        if ((rc = read_root(a.pos[0], &r)) != 0)
                return rc;
        if ((err = vt_policy_root_set_version(r, vt_policy_root_version(r) + 1, &d)) != 0 ||
            (err = vt_policy_root_set_expires(r, expires, &d)) != 0) {
                vt_diag_prefix(&d, "'%s'", a.pos[0]);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((rc = write_root(r, a.out)) != 0)
                goto out;
        if (strcmp(a.out, "-") != 0)
                printf("wrote root version %lld to '%s': expires %s; unsigned: sign it with a "
                       "threshold of the old and of the new governance keys\n",
                       (long long)vt_policy_root_version(r), a.out, vt_policy_root_expires_text(r));
out:
        vt_policy_root_free(r);
        return rc;
}

static int cmd_authorize(int argc, char **argv)
{
        struct vt_policy_root *r = NULL;
        struct vt_diag d = {""};
        const char *role = NULL;
        struct vt_buf b;
        struct args a;
        size_t n;
        int rc, err;

        if (parse_args(argc, argv, "authorize", "", 2, &a) != 0)
                return VT_EXIT_USAGE;
        if (a.npos != 2) {
                vt_cli_error("root authorize: the root file and the envelope are required");
                return VT_EXIT_USAGE;
        }
        if ((rc = read_root(a.pos[0], &r)) != 0)
                return rc;
        /* The service trusts a root only once it verifies; so does this check. */
        if ((err = vt_policy_root_verify(r, vt_util_unix_time(), &n, &d)) != 0) {
                vt_diag_prefix(&d, "'%s'", a.pos[0]);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        if ((err = vt_util_read_file(a.pos[1], VT_ENCODING_DSSE_MAX, &b, &d)) != 0) {
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        err = vt_policy_root_authorize_bytes(r, b.p, b.len, &role, &d);
        vt_buf_release(&b);
        if (err != 0) {
                vt_diag_prefix(&d, "'%s'", a.pos[1]);
                rc = vt_cli_fail(err, &d);
                goto out;
        }
        printf("'%s' is authorized by root version %lld: signed by role '%s'\n", a.pos[1],
               (long long)vt_policy_root_version(r), role);
out:
        vt_policy_root_free(r);
        return rc;
}

/* see cli.h */
int vt_cli_root(int argc, char **argv)
{
        const char *sub = argc > 1 ? argv[1] : NULL;

        if (sub == NULL) {
                fputs(usage_text, stderr);
                return VT_EXIT_USAGE;
        }
        if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
            vt_cli_help_asked(argc, argv)) {
                fputs(usage_text, stdout);
                return VT_EXIT_OK;
        }
        if (strcmp(sub, "init") == 0)
                return cmd_init(argc, argv);
        if (strcmp(sub, "role") == 0)
                return cmd_edit(argc, argv, 0);
        if (strcmp(sub, "governance") == 0)
                return cmd_edit(argc, argv, 1);
        if (strcmp(sub, "sign") == 0)
                return cmd_sign(argc, argv);
        if (strcmp(sub, "verify") == 0)
                return cmd_verify(argc, argv);
        if (strcmp(sub, "show") == 0)
                return cmd_show(argc, argv);
        if (strcmp(sub, "bump") == 0)
                return cmd_bump(argc, argv);
        if (strcmp(sub, "authorize") == 0)
                return cmd_authorize(argc, argv);
        vt_cli_error("root: unknown command '%s' (see 'veritrail root help')", sub);
        return VT_EXIT_USAGE;
}
