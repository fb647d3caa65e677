/*
 * vt_test.h: what every cmocka unit test includes. cmocka needs its
 * includes in this order.
 */
#ifndef VT_TEST_H
#define VT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * vt_test_shared(): the directory of published vectors and specs
 * ($VT_SHARED, set by the Makefile to ../shared), or NULL when it is absent;
 * a test that needs it then calls skip() after printing why.
 */
static inline const char *vt_test_shared(void)
{
        const char *s = getenv("VT_SHARED");
        FILE *f;
        char p[4096];

        if (s == NULL || *s == '\0')
                return NULL;
        snprintf(p, sizeof(p), "%s/vectors/README.md", s);
        if ((f = fopen(p, "r")) == NULL)
                return NULL;
        fclose(f);
        return s;
}

/*
 * vt_test_tmpdir_new(name): a new private directory under $TMPDIR (or
 * /tmp) named vt-test-<name>.XXXXXX; free() it after vt_test_tmpdir_free().
 * vt_test_tmpdir_free(p): remove it with everything in it, and free p
 * (NULL is a no-op).
 */
static inline char *vt_test_tmpdir_new(const char *name)
{
        const char *t = getenv("TMPDIR");
        char *p = malloc(4096);

        assert_non_null(p);
        snprintf(p, 4096, "%s/vt-test-%s.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp", name);
        assert_non_null(mkdtemp(p));
        return p;
}

static inline void vt_test_tmpdir_free(char *p)
{
        char cmd[4200];

        if (p == NULL)
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
        assert_int_equal(system(cmd), 0);
        free(p);
}

/* VT_TEST_NEED_SHARED(var): set var to the shared directory or skip the test, saying why. */
#define VT_TEST_NEED_SHARED(var)                                                                   \
        do {                                                                                       \
                (var) = vt_test_shared();                                                          \
                if ((var) == NULL) {                                                               \
                        print_message("SKIPPED: %s: ../shared is absent (set VT_SHARED)\n",        \
                                      __func__);                                                   \
                        skip();                                                                    \
                }                                                                                  \
        } while (0)

#endif
