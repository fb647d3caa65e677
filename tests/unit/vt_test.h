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
