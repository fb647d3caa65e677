/*
 * bench.h: shared helpers for the benchmarks under bench/. A benchmark prints
 * each figure beside the machine limit measured in the same run, and their
 * ratio. Benchmarks measure; they are not tests.
 */
#ifndef VT_BENCH_H
#define VT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * bench_report(what, rate, unit, limit, limit_what): one line with the
 * figure, the limit it is measured against and the ratio. limit <= 0 means
 * there is no limit to compare with.
 */
static inline void bench_report(const char *what, double rate, const char *unit, double limit,
                                const char *limit_what)
{
        if (limit > 0)
                printf("%-44s %12.0f %-10s | %-34s %12.0f | ratio %.3f\n", what, rate, unit,
                       limit_what, limit, rate / limit);
        else
                printf("%-44s %12.0f %-10s\n", what, rate, unit);
        fflush(stdout);
}

/* bench_seconds(): how long each measurement runs ($VT_BENCH_SECONDS, default 1). */
static inline double bench_seconds(void)
{
        const char *s = getenv("VT_BENCH_SECONDS");
        double v = s ? atof(s) : 1.0;

        return v > 0 ? v : 1.0;
}

/* An operation to time: one call does one unit of work on arg. */
typedef void (*bench_op)(void *arg);

/*
 * bench_measure(op, arg, secs): calls of op per second over about secs
 * seconds, after one warm-up call (caches, lazy initialisation). The batch
 * doubles while it is short, so the clock is read rarely.
 */
static inline double bench_measure(bench_op op, void *arg, double secs)
{
        double t0, t;
        unsigned long long n = 0, batch = 1, i;

        op(arg);
        t0 = bench_now();
        for (;;) {
                for (i = 0; i < batch; i++)
                        op(arg);
                n += batch;
                t = bench_now() - t0;
                if (t >= secs)
                        break;
                if (t < secs / 20)
                        batch *= 2;
        }
        return (double)n / t;
}

#endif
