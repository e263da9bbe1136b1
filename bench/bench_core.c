/* bench_core: the cost of libresil's hot paths, in ns per operation.
 *
 *   bench/bench_core [--quick] [--runs N] [--ms M] [--filter SUBSTRING]
 *
 * Every operation is measured on 1 thread and on 2 threads sharing one
 * object (the number reported is then ns per operation as each thread sees
 * it).  A table goes to stdout as results arrive, then one line per result,
 *   RESULT <name> <threads> <ns>
 * for bench/run.sh.  See bench/README.md for what each row means. */
#include <resil/resil.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_RESULTS 64

/* Results that were not what the benchmark set up (a refused token, a
 * closed breaker that opened): counted, reported, and the exit status says
 * so.  Relaxed: it is only read after the threads are joined. */
static atomic_ulong g_unexpected;

static void unexpected(void)
{
    atomic_fetch_add_explicit(&g_unexpected, 1, memory_order_relaxed);
}

/* ---- bodies: each is one loop of `iters` operations -------------------- */

static void body_clock(void *ctx, uint64_t iters)
{
    const resil_clock *c = ctx;
    for (uint64_t i = 0; i < iters; i++)
        bench_keep(resil_clock_now(c));
}

/* What a caller does around every call while CLOSED, minus the call and the
 * two clock reads that time it (those are the clock rows). */
static void body_breaker_pass(void *ctx, uint64_t iters)
{
    resil_breaker *b = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        resil_breaker_ticket t;
        if (resil_breaker_acquire(b, &t) != 0 ||
            resil_breaker_record(b, t, RESIL_OUTCOME_SUCCESS, 1000) != 0)
            unexpected();
    }
}

/* The caller already holds a timestamp; one per loop stands for that. */
static void body_breaker_pass_at(void *ctx, uint64_t iters)
{
    resil_breaker *b = ctx;
    int64_t t0 = resil_clock_now(NULL);
    for (uint64_t i = 0; i < iters; i++) {
        resil_breaker_ticket t;
        int64_t now = t0 + (int64_t)i;
        if (resil_breaker_acquire_at(b, now, &t) != 0 ||
            resil_breaker_record_at(b, now, t, RESIL_OUTCOME_SUCCESS, 1000) != 0)
            unexpected();
    }
}

static void body_breaker_reject(void *ctx, uint64_t iters)
{
    resil_breaker *b = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        resil_breaker_ticket t;
        if (resil_breaker_acquire(b, &t) != RESIL_EOPEN)
            unexpected();
    }
}

static void body_breaker_reject_at(void *ctx, uint64_t iters)
{
    resil_breaker *b = ctx;
    int64_t t0 = resil_clock_now(NULL);
    for (uint64_t i = 0; i < iters; i++) {
        resil_breaker_ticket t;
        if (resil_breaker_acquire_at(b, t0 + (int64_t)i, &t) != RESIL_EOPEN)
            unexpected();
    }
}

static void body_limiter(void *ctx, uint64_t iters)
{
    resil_limiter *l = ctx;
    for (uint64_t i = 0; i < iters; i++)
        if (resil_limiter_try_acquire(l, 1, NULL) != 0)
            unexpected();
}

static void body_limiter_at(void *ctx, uint64_t iters)
{
    resil_limiter *l = ctx;
    int64_t t0 = resil_clock_now(NULL);
    for (uint64_t i = 0; i < iters; i++)
        if (resil_limiter_try_acquire_at(l, t0 + (int64_t)i, 1, NULL) != 0)
            unexpected();
}

static int op_ok(void *arg, resil_attempt *a)
{
    (void)a;
    bench_keep((int64_t)(intptr_t)arg);
    return 0;
}

/* Called through a volatile pointer so the bare loop makes a real indirect
 * call, as resil_retry_run does, rather than an inlined nothing. */
static resil_retry_fn volatile g_op = op_ok;

static void body_op_bare(void *ctx, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        resil_attempt a = {
            .number = 1, .deadline = RESIL_TIME_NEVER, .retry_after_ns = -1};
        if (g_op(NULL, &a) != 0)
            unexpected();
    }
    (void)ctx;
}

static void body_retry_run(void *ctx, uint64_t iters)
{
    const resil_retry *r = ctx;
    for (uint64_t i = 0; i < iters; i++)
        if (resil_retry_run(r, g_op, NULL, NULL) != 0)
            unexpected();
}

/* With a report the run is timed (elapsed_ns): that is two clock reads. */
static void body_retry_run_report(void *ctx, uint64_t iters)
{
    const resil_retry *r = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        resil_retry_report rep;
        if (resil_retry_run(r, g_op, NULL, &rep) != 0)
            unexpected();
        bench_keep(rep.elapsed_ns);
    }
}

/* ---- the objects under test ---------------------------------------------- */

typedef struct objs {
    resil_breaker *closed_count, *closed_time_coarse, *closed_time_at;
    resil_breaker *open_mono, *open_coarse, *open_at;
    resil_limiter *lim_mono, *lim_coarse, *lim_at;
    resil_retry *retry;
} objs;

static int check(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "bench_core: %s: %s\n", what, resil_strerror(rc));
    return rc;
}

static int make_closed(resil_breaker_window w, const resil_clock *c, resil_breaker **out)
{
    resil_breaker_opts o;
    resil_breaker_opts_init(&o);
    o.window = w;
    o.clock = c;
    return check(resil_breaker_new(&o, out), "resil_breaker_new");
}

/* Trips a breaker with failures and keeps it OPEN for an hour, so every
 * acquire takes the rejection path (with its check of the open timer). */
static int make_open(const resil_clock *c, resil_breaker **out)
{
    resil_breaker_opts o;
    resil_breaker_opts_init(&o);
    o.window_size = 10;
    o.minimum_calls = 10;
    o.open_base_ns = 3600 * RESIL_NS_PER_SEC;
    o.open_max_ns = o.open_base_ns;
    o.open_jitter = 0;
    o.clock = c;
    if (check(resil_breaker_new(&o, out), "resil_breaker_new") != 0)
        return -1;
    for (int i = 0; i < 10; i++) {
        resil_breaker_ticket t;
        if (resil_breaker_acquire(*out, &t) == 0)
            resil_breaker_record(*out, t, RESIL_OUTCOME_FAILURE, 1000);
    }
    if (resil_breaker_state_get(*out) != RESIL_BREAKER_OPEN) {
        fprintf(stderr, "bench_core: could not trip the breaker\n");
        return -1;
    }
    return 0;
}

/* 1e9 tokens/s and a burst of 1e9: no loop here can drain it, so every
 * try_acquire takes the granting path. */
static int make_limiter(const resil_clock *c, resil_limiter **out)
{
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    o.rate = 1e9;
    o.burst = 1000000000u;
    o.clock = c;
    return check(resil_limiter_new(&o, out), "resil_limiter_new");
}

static int make_retry(resil_retry **out)
{
    resil_retry_opts o;
    resil_retry_opts_init(&o);
    return check(resil_retry_new(&o, out), "resil_retry_new");
}

static int objs_make(objs *x)
{
    const resil_clock *coarse = resil_clock_coarse();
    memset(x, 0, sizeof *x);
    if (make_closed(RESIL_WINDOW_COUNT, NULL, &x->closed_count) ||
        make_closed(RESIL_WINDOW_TIME, coarse, &x->closed_time_coarse) ||
        make_closed(RESIL_WINDOW_TIME, NULL, &x->closed_time_at) ||
        make_open(NULL, &x->open_mono) || make_open(coarse, &x->open_coarse) ||
        make_open(NULL, &x->open_at) || make_limiter(NULL, &x->lim_mono) ||
        make_limiter(coarse, &x->lim_coarse) || make_limiter(NULL, &x->lim_at) ||
        make_retry(&x->retry))
        return -1;
    return 0;
}

static void objs_free(objs *x)
{
    resil_breaker_free(x->closed_count);
    resil_breaker_free(x->closed_time_coarse);
    resil_breaker_free(x->closed_time_at);
    resil_breaker_free(x->open_mono);
    resil_breaker_free(x->open_coarse);
    resil_breaker_free(x->open_at);
    resil_limiter_free(x->lim_mono);
    resil_limiter_free(x->lim_coarse);
    resil_limiter_free(x->lim_at);
    resil_retry_free(x->retry);
}

/* ---- the table ------------------------------------------------------------ */

typedef struct bench_case {
    const char *name;  /* RESULT name, stable for run.sh */
    const char *label; /* table text */
    bench_body body;
    void *ctx;
} bench_case;

typedef struct result {
    const char *name;
    int threads;
    double ns;
} result;

static size_t cases_fill(bench_case *c, objs *x)
{
    bench_case all[] = {
        {"clock_monotonic", "clock read, monotonic", body_clock,
         (void *)resil_clock_monotonic()},
        {"clock_coarse", "clock read, coarse", body_clock, (void *)resil_clock_coarse()},
        {"breaker_closed_count", "breaker pass, count window", body_breaker_pass,
         x->closed_count},
        {"breaker_closed_time_coarse", "breaker pass, time window, coarse",
         body_breaker_pass, x->closed_time_coarse},
        {"breaker_closed_time_at", "breaker pass, time window, _at", body_breaker_pass_at,
         x->closed_time_at},
        {"breaker_open_mono", "breaker reject, monotonic", body_breaker_reject,
         x->open_mono},
        {"breaker_open_coarse", "breaker reject, coarse", body_breaker_reject,
         x->open_coarse},
        {"breaker_open_at", "breaker reject, _at", body_breaker_reject_at, x->open_at},
        {"limiter_mono", "limiter try_acquire, monotonic", body_limiter, x->lim_mono},
        {"limiter_coarse", "limiter try_acquire, coarse", body_limiter, x->lim_coarse},
        {"limiter_at", "limiter try_acquire, _at", body_limiter_at, x->lim_at},
        {"retry_op_bare", "bare op call (retry baseline)", body_op_bare, NULL},
        {"retry_run", "retry_run, success first try", body_retry_run, x->retry},
        {"retry_run_report", "retry_run + report, success first try",
         body_retry_run_report, x->retry},
    };
    memcpy(c, all, sizeof all);
    return sizeof all / sizeof all[0];
}

static void print_row(const char *label, int threads, double ns)
{
    printf("%-40s %7d %9.1f\n", label, threads, ns);
    fflush(stdout);
}

static double find(const result *r, size_t n, const char *name, int threads)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].threads == threads && strcmp(r[i].name, name) == 0)
            return r[i].ns;
    return -1;
}

/* retry_overhead = retry_run - bare op, for each thread count measured. */
static size_t add_overhead(result *r, size_t n)
{
    for (int threads = 1; threads <= 2; threads++) {
        double run = find(r, n, "retry_run", threads);
        double bare = find(r, n, "retry_op_bare", threads);
        if (run < 0 || bare < 0)
            continue;
        r[n] = (result){"retry_overhead", threads, run - bare};
        print_row("retry policy overhead (run - bare)", threads, r[n].ns);
        n++;
    }
    return n;
}

/* ---- main ------------------------------------------------------------------ */


static size_t run_all(const bench_cfg *cfg, const char *filter, objs *x, result *res)
{
    bench_case cases[32];
    size_t ncases = cases_fill(cases, x), n = 0;

    printf("%-40s %7s %9s\n", "operation", "threads", "ns/op");
    for (size_t i = 0; i < ncases; i++) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        for (int threads = 1; threads <= 2; threads++) {
            double ns = bench_measure(cfg, cases[i].body, cases[i].ctx, threads);
            print_row(cases[i].label, threads, ns);
            res[n++] = (result){cases[i].name, threads, ns};
        }
    }
    return add_overhead(res, n);
}

int main(int argc, char **argv)
{
    bench_cfg cfg = {.runs = 5, .run_ns = 200 * RESIL_NS_PER_MS};
    const char *filter = NULL;
    result res[MAX_RESULTS];
    objs x;
    int status = 1;

    if (bench_parse_args(argc, argv, &cfg, &filter) != 0)
        return 2;
    printf("libresil %s: median of %d runs of >= %lld ms, ns per operation per thread\n",
           resil_version(), cfg.runs, (long long)(cfg.run_ns / RESIL_NS_PER_MS));
    if (objs_make(&x) != 0)
        goto out_free;
    size_t n = run_all(&cfg, filter, &x, res);
    for (size_t i = 0; i < n; i++)
        printf("RESULT %s %d %.2f\n", res[i].name, res[i].threads, res[i].ns);
    unsigned long bad = atomic_load_explicit(&g_unexpected, memory_order_relaxed);
    if (bad != 0) {
        fprintf(stderr, "bench_core: %lu operations did not take the measured path\n",
                bad);
        goto out_free;
    }
    status = 0;
out_free:
    objs_free(&x);
    return status;
}
