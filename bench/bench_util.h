/* Micro-benchmark harness shared by bench/bench_*.c: calibrate, warm up, then take the
 * median of several timed runs, on one or several threads sharing one object.
 *
 * A body is a loop of `iters` operations; the harness times the whole loop
 * with CLOCK_MONOTONIC, so the clock read of the harness is paid once per run,
 * not per operation.  Bodies keep their results alive with bench_keep() (an
 * empty asm the compiler must assume reads the value and clobbers memory), so
 * no call can be hoisted out of the loop or dropped as dead. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_THREADS 8
#define BENCH_RUNS_MAX 15

/* The value escapes to "somewhere" and memory may have changed. */
static inline void bench_keep(int64_t v)
{
    __asm__ __volatile__("" : : "r"(v) : "memory");
}

typedef void (*bench_body)(void *ctx, uint64_t iters);

typedef struct bench_cfg {
    int runs;       /* timed runs; the median is reported */
    int64_t run_ns; /* minimum length of one timed run */
} bench_cfg;

static inline int64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct bench_thread {
    pthread_t tid;
    pthread_barrier_t *start;
    bench_body body;
    void *ctx;
    uint64_t iters;
    int64_t elapsed_ns;
} bench_thread;

static inline void *bench_thread_main(void *arg)
{
    bench_thread *t = arg;
    /* every thread starts its loop together, so the runs really overlap */
    pthread_barrier_wait(t->start);
    int64_t t0 = bench_now();
    t->body(t->ctx, t->iters);
    t->elapsed_ns = bench_now() - t0;
    return NULL;
}

/* One run of `iters` operations on each of n threads.  Returns the mean
 * per-operation time of the threads (each thread's own ns/op) and sets
 * *wall_ns to the slowest thread's loop time. */
static inline double bench_run_once(bench_body body, void *ctx, int n, uint64_t iters,
                                    int64_t *wall_ns)
{
    bench_thread th[BENCH_MAX_THREADS];
    pthread_barrier_t start;
    double sum = 0;

    if (n == 1) {
        int64_t t0 = bench_now();
        body(ctx, iters);
        *wall_ns = bench_now() - t0;
        return (double)*wall_ns / (double)iters;
    }
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        th[i] = (bench_thread){.start = &start, .body = body, .ctx = ctx, .iters = iters};
        if (pthread_create(&th[i].tid, NULL, bench_thread_main, &th[i]) != 0) {
            fprintf(stderr, "bench: pthread_create failed\n");
            exit(1);
        }
    }
    *wall_ns = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i].tid, NULL);
        sum += (double)th[i].elapsed_ns / (double)iters;
        if (th[i].elapsed_ns > *wall_ns)
            *wall_ns = th[i].elapsed_ns;
    }
    pthread_barrier_destroy(&start);
    return sum / n;
}

/* Grow the iteration count until a run takes >= 1/10 of the target (this is
 * also the warm-up: caches, branch predictors, lazily bound symbols), then
 * scale it so one run lasts about cfg->run_ns. */
static inline uint64_t bench_calibrate(const bench_cfg *cfg, bench_body body, void *ctx,
                                       int n)
{
    uint64_t iters = 1000;
    int64_t wall = 0;

    for (;;) {
        bench_run_once(body, ctx, n, iters, &wall);
        if (wall >= cfg->run_ns / 10 || iters >= (UINT64_C(1) << 40))
            break;
        iters *= 4;
    }
    if (wall <= 0)
        wall = 1;
    /* 10 % over the target so that noise does not leave runs just short */
    return (uint64_t)((double)iters * 1.1 * (double)cfg->run_ns / (double)wall) + 1;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ns per operation per thread over cfg->runs runs. */
static inline double bench_measure(const bench_cfg *cfg, bench_body body, void *ctx,
                                   int n)
{
    double ns[BENCH_RUNS_MAX];
    int runs = cfg->runs < BENCH_RUNS_MAX ? cfg->runs : BENCH_RUNS_MAX;
    uint64_t iters = bench_calibrate(cfg, body, ctx, n);
    int64_t wall;

    for (int i = 0; i < runs; i++) {
        ns[i] = bench_run_once(body, ctx, n, iters, &wall);
        if (wall < cfg->run_ns && wall > 0) {
            /* a run came out short (the machine got faster, or calibration
             * was disturbed): lengthen the runs and redo this one */
            iters =
                (uint64_t)((double)iters * 1.1 * (double)cfg->run_ns / (double)wall) + 1;
            i--;
        }
    }
    qsort(ns, (size_t)runs, sizeof ns[0], bench_cmp_double);
    return ns[runs / 2];
}

/* The command line both benchmark programs take. */
static inline int bench_parse_args(int argc, char **argv, bench_cfg *cfg, const char **filter)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            cfg->runs = 3;
            cfg->run_ns = 20 * RESIL_NS_PER_MS;
        } else if (strcmp(a, "--runs") == 0 && i + 1 < argc) {
            cfg->runs = atoi(argv[++i]);
        } else if (strcmp(a, "--ms") == 0 && i + 1 < argc) {
            cfg->run_ns = atoll(argv[++i]) * RESIL_NS_PER_MS;
        } else if (strcmp(a, "--filter") == 0 && i + 1 < argc) {
            *filter = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--runs N] [--ms M] [--filter S]\n",
                    argv[0]);
            return -1;
        }
    }
    if (cfg->runs < 1 || cfg->runs > BENCH_RUNS_MAX || cfg->run_ns < RESIL_NS_PER_MS) {
        fprintf(stderr, "%s: --runs must be 1..%d and --ms >= 1\n",
                argv[0], BENCH_RUNS_MAX);
        return -1;
    }
    return 0;
}

#endif /* BENCH_UTIL_H */
