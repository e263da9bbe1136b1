/* bench_data: the cost of libresil's data-path modules (metrics; the cache
 * through bench/bench_cache.inc when it is there), in ns per operation.
 *
 *   bench/bench_data [--quick] [--runs N] [--ms M] [--filter SUBSTRING]
 *
 * Every operation is measured on 1 thread and on 2 threads sharing one
 * object (ns per operation as each thread sees it).  A table goes to stdout
 * as results arrive, then one line per result,
 *   RESULT <name> <threads> <ns>
 * for bench/run_data.sh (the cache part prints its own, see below).
 * Metrics rows:
 *   metrics_counter_add        resil_metrics_counter_add(c, 1) on a cached
 *                              handle: this thread's own cell, no lock, no
 *                              atomic read-modify-write
 *   metrics_counter_add_rate   the same on a counter with a 60 s rate
 *                              window: + a clock read and one CAS
 *   metrics_histogram_record   resil_metrics_histogram_record() of varying
 *                              values (1 % sketch)
 *   metrics_histogram_record_ns  the timing helper
 *   metrics_gauge_set / _add   one shared atomic store / CAS loop
 *   metrics_counter_get        a label lookup (what caching the handle saves)
 *   atomic_fetch_add           baseline: one shared relaxed fetch_add, what
 *                              a striped or single atomic counter costs
 *   metrics_export_prom_100    Prometheus text of 100 series (per export)
 */
#include <resil/resil.h>
#include <resil/metrics.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_RESULTS 128
#define NVALUES 4096

typedef struct result {
    const char *name;
    int threads;
    double ns;
} result;

static result g_res[MAX_RESULTS];
static size_t g_nres;

/* Print a row and keep it for the RESULT lines.  bench_cache.inc reports
 * through this too. */
static void report(const char *name, const char *label, int threads, double ns)
{
    printf("%-44s %7d %9.1f\n", label, threads, ns);
    fflush(stdout);
    if (g_nres < MAX_RESULTS)
        g_res[g_nres++] = (result){name, threads, ns};
}

/* bench/bench_cache.inc, written with the cache module, defines
 *     static void bench_cache(void);
 * which reads BENCH_QUICK from the environment and prints its own table,
 * RESULT and RATIO lines.  Without the file this program measures metrics
 * only. */
#if defined(__has_include)
#if __has_include("bench_cache.inc")
#include "bench_cache.inc"
#define HAVE_BENCH_CACHE 1
#endif
#endif

/* ---- metrics ---------------------------------------------------------------- */

typedef struct mx_objs {
    resil_metrics *m;
    resil_metrics_counter *counter, *rate_counter;
    resil_metrics_histogram *hist;
    resil_metrics_gauge *gauge;
    resil_metrics_family *labelled;
    resil_metrics *m100;
    double values[NVALUES];
    _Atomic uint64_t shared;
} mx_objs;

static void body_counter(void *ctx, uint64_t iters)
{
    resil_metrics_counter *c = ctx;
    for (uint64_t i = 0; i < iters; i++)
        resil_metrics_counter_add(c, 1);
}

static void body_histogram(void *ctx, uint64_t iters)
{
    mx_objs *x = ctx;
    for (uint64_t i = 0; i < iters; i++)
        resil_metrics_histogram_record(x->hist, x->values[i & (NVALUES - 1)]);
}

static void body_histogram_ns(void *ctx, uint64_t iters)
{
    mx_objs *x = ctx;
    for (uint64_t i = 0; i < iters; i++)
        resil_metrics_histogram_record_ns(x->hist, (int64_t)(i & 0xfffff) * 1000 + 500);
}

static void body_gauge_set(void *ctx, uint64_t iters)
{
    resil_metrics_gauge *g = ctx;
    for (uint64_t i = 0; i < iters; i++)
        resil_metrics_gauge_set(g, (double)i);
}

static void body_gauge_add(void *ctx, uint64_t iters)
{
    resil_metrics_gauge *g = ctx;
    for (uint64_t i = 0; i < iters; i++)
        resil_metrics_gauge_add(g, 1);
}

static void body_counter_get(void *ctx, uint64_t iters)
{
    static const char *const vals[][1] = {{"GET"}, {"POST"}, {"PUT"}, {"DELETE"}};
    resil_metrics_family *f = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        resil_metrics_counter *c;
        resil_metrics_counter_get(f, vals[i & 3], &c);
        bench_keep((int64_t)(intptr_t)c);
    }
}

/* Relaxed: a statistics counter publishes nothing. */
static void body_atomic(void *ctx, uint64_t iters)
{
    _Atomic uint64_t *a = ctx;
    for (uint64_t i = 0; i < iters; i++)
        atomic_fetch_add_explicit(a, 1, memory_order_relaxed);
}

static void body_export(void *ctx, uint64_t iters)
{
    resil_metrics *m = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        char *text;
        if (resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL) == 0)
            resil_free(text);
    }
}

/* 100 series: 80 labelled counters, 10 gauges, 10 histograms. */
static int make_m100(resil_metrics **out)
{
    static const char *const names[] = {"route"};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    char v[32], name[32];
    const char *vals[] = {v};
    int rc = resil_metrics_new(NULL, out);
    resil_metrics_family_opts_init(&fo);
    fo.name = "bench_requests_total";
    fo.labels = names;
    fo.nlabels = 1;
    if (rc == 0)
        rc = resil_metrics_family_new(*out, &fo, &f);
    for (int i = 0; rc == 0 && i < 80; i++) {
        resil_metrics_counter *c;
        snprintf(v, sizeof v, "/route/%d", i);
        rc = resil_metrics_counter_get(f, vals, &c);
        resil_metrics_counter_add(c, (uint64_t)i * 7);
    }
    for (int i = 0; rc == 0 && i < 10; i++) {
        resil_metrics_gauge *g;
        resil_metrics_histogram *h;
        snprintf(name, sizeof name, "bench_gauge_%d", i);
        rc = resil_metrics_gauge_new(*out, name, "A gauge.", &g);
        resil_metrics_gauge_set(g, i * 1.5);
        snprintf(name, sizeof name, "bench_latency_%d_seconds", i);
        if (rc == 0)
            rc = resil_metrics_histogram_new(*out, name, "A histogram.", &h);
        for (int j = 0; rc == 0 && j < 1000; j++)
            resil_metrics_histogram_record(h, 0.0001 * (j + 1));
    }
    return rc;
}

static int mx_make(mx_objs *x)
{
    static const char *const names[] = {"method"};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    uint64_t s = 42;
    memset(x, 0, sizeof *x);
    int rc = resil_metrics_new(NULL, &x->m);
    if (rc == 0)
        rc = resil_metrics_counter_new(x->m, "bench_total", NULL, &x->counter);
    if (rc == 0)
        rc = resil_metrics_histogram_new(x->m, "bench_seconds", NULL, &x->hist);
    if (rc == 0)
        rc = resil_metrics_gauge_new(x->m, "bench_gauge", NULL, &x->gauge);
    resil_metrics_family_opts_init(&fo);
    fo.name = "bench_rate_total";
    fo.rate_window_ns = 60 * RESIL_NS_PER_SEC;
    if (rc == 0)
        rc = resil_metrics_family_new(x->m, &fo, &f);
    if (rc == 0)
        rc = resil_metrics_counter_get(f, NULL, &x->rate_counter);
    fo.name = "bench_labelled_total";
    fo.rate_window_ns = 0;
    fo.labels = names;
    fo.nlabels = 1;
    if (rc == 0)
        rc = resil_metrics_family_new(x->m, &fo, &x->labelled);
    if (rc == 0)
        rc = make_m100(&x->m100);
    /* latencies spread over four decades, as real ones are */
    for (int i = 0; i < NVALUES; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x->values[i] = 1e-4 * exp((double)(s >> 11) / 9007199254740992.0 * log(1e4));
    }
    atomic_init(&x->shared, 0);
    return rc;
}

static void mx_free(mx_objs *x)
{
    resil_metrics_free(x->m);
    resil_metrics_free(x->m100);
}

typedef struct bench_case {
    const char *name;
    const char *label;
    bench_body body;
    void *ctx;
    int max_threads;
} bench_case;

static size_t mx_cases(bench_case *c, mx_objs *x)
{
    bench_case all[] = {
        {"metrics_counter_add", "metrics counter_add", body_counter, x->counter, 2},
        {"metrics_counter_add_rate", "metrics counter_add, 60 s rate window",
         body_counter, x->rate_counter, 2},
        {"metrics_histogram_record", "metrics histogram_record", body_histogram, x, 2},
        {"metrics_histogram_record_ns", "metrics histogram_record_ns", body_histogram_ns,
         x, 2},
        {"metrics_gauge_set", "metrics gauge_set", body_gauge_set, x->gauge, 2},
        {"metrics_gauge_add", "metrics gauge_add", body_gauge_add, x->gauge, 2},
        {"metrics_counter_get", "metrics counter_get (label lookup)", body_counter_get,
         x->labelled, 2},
        {"atomic_fetch_add", "baseline: shared atomic fetch_add", body_atomic, &x->shared,
         2},
        {"metrics_export_prom_100", "metrics export, Prometheus, 100 series", body_export,
         x->m100, 1},
    };
    memcpy(c, all, sizeof all);
    return sizeof all / sizeof all[0];
}

static int bench_metrics(const bench_cfg *cfg, const char *filter)
{
    mx_objs *x = malloc(sizeof *x);
    bench_case cases[16];
    if (!x || mx_make(x) != 0) {
        fprintf(stderr, "bench_data: cannot set up the metrics registry\n");
        if (x)
            mx_free(x);
        free(x);
        return 1;
    }
    size_t n = mx_cases(cases, x);
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        for (int threads = 1; threads <= cases[i].max_threads; threads++)
            report(cases[i].name, cases[i].label, threads,
                   bench_measure(cfg, cases[i].body, cases[i].ctx, threads));
    }
    /* every add must have landed: the totals are exact */
    resil_metrics_stats st;
    resil_metrics_stats_get(x->m, &st);
    int bad = st.dropped != 0;
    if (bad)
        fprintf(stderr, "bench_data: %llu records dropped\n",
                (unsigned long long)st.dropped);
    mx_free(x);
    free(x);
    return bad;
}

/* ---- main ------------------------------------------------------------------ */


int main(int argc, char **argv)
{
    bench_cfg cfg = {.runs = 5, .run_ns = 200 * RESIL_NS_PER_MS};
    const char *filter = NULL;
    int bad = 0;

    if (bench_parse_args(argc, argv, &cfg, &filter) != 0)
        return 2;
    printf("libresil %s: median of %d runs of >= %lld ms, ns per operation per thread\n",
           resil_version(), cfg.runs, (long long)(cfg.run_ns / RESIL_NS_PER_MS));
    printf("%-44s %7s %9s\n", "operation", "threads", "ns/op");
    bad |= bench_metrics(&cfg, filter);
    for (size_t i = 0; i < g_nres; i++)
        printf("RESULT %s %d %.2f\n", g_res[i].name, g_res[i].threads, g_res[i].ns);
    fflush(stdout);
#ifdef HAVE_BENCH_CACHE
    if (!filter || strncmp(filter, "cache", 5) == 0) {
        if (cfg.runs == 3 && cfg.run_ns == 20 * RESIL_NS_PER_MS)
            setenv("BENCH_QUICK", "1", 1); /* --quick */
        bench_cache();
    }
#endif
    return bad ? 1 : 0;
}
