/* Threads against one metrics registry: exact totals from per-thread cells,
 * values kept after threads exit, readers and series creation racing the
 * writers, a registry freed while a thread that recorded into it lives on.
 * Run under ThreadSanitizer in CI. */
#include "check_util.h"

#include <pthread.h>
#include <resil/metrics.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4
#define PER_THREAD 100000

typedef struct work {
    resil_metrics *m;
    resil_metrics_family *f;
    resil_metrics_counter *c;
    resil_metrics_histogram *h;
    resil_metrics_gauge *g;
    pthread_barrier_t *start;
    int id;
    int n;
} work;

static void run(void *(*fn)(void *), work *w, int n)
{
    pthread_t t[THREADS * 2];
    pthread_barrier_t start;
    ck_assert_int_le(n, THREADS * 2);
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        w[i].start = &start;
        w[i].id = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, fn, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
}

static void *count_body(void *arg)
{
    work *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < w->n; i++)
        resil_metrics_counter_add(w->c, 1);
    return NULL;
}

START_TEST(test_counter_exact)
{
    long live = tu_alloc_live();
    resil_metrics *m;
    resil_metrics_counter *c;
    resil_metrics_stats st;
    work w[THREADS];
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    ck_assert_rc(resil_metrics_counter_new(m, "hits_total", NULL, &c), 0);
    for (int i = 0; i < THREADS; i++)
        w[i] = (work){.c = c, .n = PER_THREAD};
    run(count_body, w, THREADS);
    ck_assert_uint_eq(resil_metrics_counter_value(c), (uint64_t)THREADS * PER_THREAD);
    /* the threads exited: their arenas were folded, the total stays */
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.threads, 0);
    ck_assert_uint_eq(st.threads_retired, THREADS);
    ck_assert_uint_eq(resil_metrics_counter_value(c), (uint64_t)THREADS * PER_THREAD);
    /* and a second round adds to it */
    run(count_body, w, THREADS);
    ck_assert_uint_eq(resil_metrics_counter_value(c), (uint64_t)2 * THREADS * PER_THREAD);
    resil_metrics_free(m);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

static void *hist_body(void *arg)
{
    work *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 1; i <= w->n; i++)
        resil_metrics_histogram_record(w->h, (double)(i % 1000 + 1) + w->id * 1000);
    return NULL;
}

START_TEST(test_histogram_exact)
{
    resil_metrics *m;
    resil_metrics_histogram *h;
    resil_metrics_histogram_stats st;
    work w[THREADS];
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    ck_assert_rc(resil_metrics_histogram_new(m, "size_bytes", NULL, &h), 0);
    for (int i = 0; i < THREADS; i++)
        w[i] = (work){.h = h, .n = PER_THREAD};
    run(hist_body, w, THREADS);
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, (uint64_t)THREADS * PER_THREAD);
    ck_assert_double_eq(st.min, 1);
    ck_assert_double_eq(st.max, (THREADS - 1) * 1000 + 1000);
    /* integers well below 2^53: every partial sum is exact */
    double want = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 1; i <= PER_THREAD; i++)
            want += (double)(i % 1000 + 1) + t * 1000;
    ck_assert_double_eq(st.sum, want);
    ck_assert_double_eq_tol(st.p50, 2000, 2000 * 0.01 + 1);
    resil_metrics_free(m);
}
END_TEST

/* Writers on labelled series they create themselves while a reader exports
 * and another thread reads stats: TSan checks the arenas, the counts are
 * checked at the end. */
static void *label_body(void *arg)
{
    work *w = arg;
    char v[16];
    const char *vals[] = {v};
    snprintf(v, sizeof v, "t%d", w->id);
    pthread_barrier_wait(w->start);
    for (int i = 0; i < w->n; i++) {
        resil_metrics_counter *c;
        if (i % 1000 == 0)
            ck_assert_rc(resil_metrics_counter_get(w->f, vals, &c), 0);
        ck_assert_rc(resil_metrics_counter_get(w->f, vals, &c), 0);
        resil_metrics_counter_add(c, 1);
        resil_metrics_gauge_add(w->g, 1);
        resil_metrics_histogram_record(w->h, 0.001 * (i % 100 + 1));
    }
    return NULL;
}

static void *reader_body(void *arg)
{
    work *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < 50; i++) {
        char *text;
        resil_metrics_stats st;
        resil_metrics_format fmt = (resil_metrics_format)(i % 3);
        int rc = resil_metrics_export(w->m, fmt, &text, NULL);
        /* JSON needs jansson; without it that format says so */
        ck_assert_rc(rc,
                     fmt == RESIL_METRICS_JSON && rc == RESIL_ENOTSUP ? RESIL_ENOTSUP : 0);
        resil_free(text);
        resil_metrics_stats_get(w->m, &st);
        ck_assert_rc(resil_metrics_history_tick(w->m), 0);
    }
    return NULL;
}

static void *mixed_body(void *arg)
{
    work *w = arg;
    return w->id == 0 ? reader_body(arg) : label_body(arg);
}

START_TEST(test_readers_and_writers)
{
    static const char *const names[] = {"thread"};
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_gauge *g;
    resil_metrics_histogram *h;
    resil_metrics_family_stats fs;
    resil_metrics_histogram_stats st;
    work w[THREADS + 1];
    const int n = 20000;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_metrics_family_opts_init(&fo);
    fo.name = "ops_total";
    fo.labels = names;
    fo.nlabels = 1;
    fo.history = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "inflight", NULL, &g), 0);
    ck_assert_rc(resil_metrics_histogram_new(m, "lat_seconds", NULL, &h), 0);
    for (int i = 0; i <= THREADS; i++)
        w[i] = (work){.m = m, .f = f, .g = g, .h = h, .n = n};
    run(mixed_body, w, THREADS + 1);
    resil_metrics_family_stats_get(f, &fs);
    ck_assert_uint_eq(fs.series, THREADS);
    for (int i = 1; i <= THREADS; i++) {
        char v[16];
        const char *vals[] = {v};
        resil_metrics_counter *c;
        snprintf(v, sizeof v, "t%d", i);
        ck_assert_rc(resil_metrics_counter_get(f, vals, &c), 0);
        ck_assert_uint_eq(resil_metrics_counter_value(c), (uint64_t)n);
    }
    ck_assert_double_eq(resil_metrics_gauge_value(g), (double)THREADS * n);
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, (uint64_t)THREADS * n);
    resil_metrics_free(m);
}
END_TEST

/* Counters with a rate window: the shared bucket CAS loses nothing. */
START_TEST(test_rate_exact)
{
    resil_clock *clk = tu_clock();
    resil_metrics_opts o;
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_counter *c;
    resil_metrics_rate r;
    work w[THREADS];
    resil_metrics_opts_init(&o);
    o.clock = clk;
    ck_assert_rc(resil_metrics_new(&o, &m), 0);
    resil_metrics_family_opts_init(&fo);
    fo.name = "err_total";
    fo.rate_window_ns = 60 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_counter_get(f, NULL, &c), 0);
    for (int i = 0; i < THREADS; i++)
        w[i] = (work){.c = c, .n = 20000};
    run(count_body, w, THREADS);
    ck_assert_rc(resil_metrics_counter_rate(c, 0, &r), 0);
    ck_assert_uint_eq(r.events, THREADS * 20000);
    ck_assert_uint_eq(resil_metrics_counter_value(c), THREADS * 20000);
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

/* A thread records, then waits while the registry is freed, then records
 * into a second registry and exits: its arena of the first registry is
 * freed by the thread itself, nothing leaks and nothing is touched after
 * free. */
typedef struct handoff {
    resil_metrics_counter *c1, *c2;
    pthread_barrier_t recorded, freed;
} handoff;

static void *outlive_body(void *arg)
{
    handoff *h = arg;
    resil_metrics_counter_add(h->c1, 3);
    pthread_barrier_wait(&h->recorded);
    pthread_barrier_wait(&h->freed);
    resil_metrics_counter_add(h->c2, 4);
    return NULL;
}

START_TEST(test_registry_freed_first)
{
    long live = tu_alloc_live();
    resil_metrics *m1, *m2;
    handoff h;
    pthread_t t;
    ck_assert_rc(resil_metrics_new(NULL, &m1), 0);
    ck_assert_rc(resil_metrics_new(NULL, &m2), 0);
    ck_assert_rc(resil_metrics_counter_new(m1, "a_total", NULL, &h.c1), 0);
    ck_assert_rc(resil_metrics_counter_new(m2, "b_total", NULL, &h.c2), 0);
    pthread_barrier_init(&h.recorded, NULL, 2);
    pthread_barrier_init(&h.freed, NULL, 2);
    ck_assert_int_eq(pthread_create(&t, NULL, outlive_body, &h), 0);
    pthread_barrier_wait(&h.recorded);
    ck_assert_uint_eq(resil_metrics_counter_value(h.c1), 3);
    resil_metrics_free(m1); /* the thread's arena is left to the thread */
    pthread_barrier_wait(&h.freed);
    pthread_join(t, NULL);
    ck_assert_uint_eq(resil_metrics_counter_value(h.c2), 4);
    resil_metrics_free(m2);
    pthread_barrier_destroy(&h.recorded);
    pthread_barrier_destroy(&h.freed);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Threads exit while the registry is being freed: whichever side hands an
 * arena over second frees it, exactly once (ASan and TSan watch). */
static void *exit_race_body(void *arg)
{
    work *w = arg;
    resil_metrics_counter_add(w->c, 1);
    resil_metrics_histogram_record(w->h, 0.5);
    pthread_barrier_wait(w->start); /* recorded; now exit with the free */
    return NULL;
}

START_TEST(test_exit_races_free)
{
    long live = tu_alloc_live();
    for (int round = 0; round < 20; round++) {
        resil_metrics *m;
        resil_metrics_counter *c;
        resil_metrics_histogram *h;
        pthread_t t[THREADS];
        pthread_barrier_t start;
        work w[THREADS];
        ck_assert_rc(resil_metrics_new(NULL, &m), 0);
        ck_assert_rc(resil_metrics_counter_new(m, "c_total", NULL, &c), 0);
        ck_assert_rc(resil_metrics_histogram_new(m, "h", NULL, &h), 0);
        pthread_barrier_init(&start, NULL, THREADS + 1);
        for (int i = 0; i < THREADS; i++) {
            w[i] = (work){.c = c, .h = h, .start = &start};
            ck_assert_int_eq(pthread_create(&t[i], NULL, exit_race_body, &w[i]), 0);
        }
        pthread_barrier_wait(&start);
        resil_metrics_free(m);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);
    }
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Many short-lived threads: memory stays bounded by the live ones. */
static void *short_body(void *arg)
{
    work *w = arg;
    pthread_barrier_wait(w->start);
    resil_metrics_counter_add(w->c, 1);
    resil_metrics_histogram_record(w->h, 1.5);
    return NULL;
}

START_TEST(test_thread_churn)
{
    resil_metrics *m;
    resil_metrics_counter *c;
    resil_metrics_histogram *h;
    resil_metrics_stats st;
    work w[THREADS];
    uint64_t bytes = 0;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    ck_assert_rc(resil_metrics_counter_new(m, "c_total", NULL, &c), 0);
    ck_assert_rc(resil_metrics_histogram_new(m, "h", NULL, &h), 0);
    for (int round = 0; round < 25; round++) {
        for (int i = 0; i < THREADS; i++)
            w[i] = (work){.c = c, .h = h};
        run(short_body, w, THREADS);
        resil_metrics_stats_get(m, &st);
        ck_assert_uint_eq(st.threads, 0);
        if (round == 1)
            bytes = st.bytes;
        if (round > 1)
            ck_assert_uint_eq(st.bytes, bytes);
    }
    ck_assert_uint_eq(resil_metrics_counter_value(c), 25 * THREADS);
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.threads_retired, 25 * THREADS);
    resil_metrics_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_counter_exact);
    tcase_add_test(tc, test_histogram_exact);
    tcase_add_test(tc, test_readers_and_writers);
    tcase_add_test(tc, test_rate_exact);
    tcase_add_test(tc, test_registry_freed_first);
    tcase_add_test(tc, test_exit_races_free);
    tcase_add_test(tc, test_thread_churn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
