/* Unit tests of the metrics registry: names, families, labels and their cap,
 * counters, gauges, histograms (accuracy against exact percentiles, merge),
 * windowed rates and history on a manual clock, collectors, watchers (of a
 * breaker, limiter, cache and retry policy), bad arguments and allocation
 * failure. */
#include "check_util.h"

#include <float.h>
#include <resil/metrics.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const L1[] = {"method"};

static resil_metrics *new_reg(resil_clock *clk)
{
    resil_metrics_opts o;
    resil_metrics *m = NULL;
    resil_metrics_opts_init(&o);
    o.clock = clk;
    ck_assert_rc(resil_metrics_new(&o, &m), 0);
    return m;
}

static resil_metrics_family *family(resil_metrics *m, resil_metrics_type type,
                                    const char *name, size_t nlabels, uint32_t cap)
{
    resil_metrics_family_opts fo;
    resil_metrics_family *f = NULL;
    resil_metrics_family_opts_init(&fo);
    fo.type = type;
    fo.name = name;
    fo.labels = L1;
    fo.nlabels = nlabels;
    fo.max_series = cap;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    return f;
}

/* ---- registry and names ---------------------------------------------------- */

START_TEST(test_registry_opts)
{
    resil_metrics_opts o;
    resil_metrics *m = (void *)1;
    long live = tu_alloc_live();
    resil_metrics_opts_init(&o);
    ck_assert_uint_eq(o.max_families, 1024);
    ck_assert_uint_eq(o.max_series, 1000);
    ck_assert_uint_eq(o.max_label_len, 256);
    ck_assert_uint_eq(o.history_len, 120);
    ck_assert_ptr_null(o.clock);
    o.history_len = 1;
    ck_assert_rc(resil_metrics_new(&o, &m), RESIL_EINVAL);
    ck_assert_ptr_null(m);
    resil_metrics_opts_init(&o);
    o.max_series = 0;
    ck_assert_rc(resil_metrics_new(&o, &m), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_new(NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_metrics_free(m);
    resil_metrics_free(NULL);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(test_names)
{
    static const char *const good[] = {"a", "_x", "ok:name", "Abc_9", "a:b:c"};
    static const char *const bad[] = {"", "1abc", "a-b", "a b", "na\xc3\xa9", "x.y"};
    resil_metrics *m = new_reg(NULL);
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_family_opts_init(&fo);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fo.name = good[i];
        ck_assert_msg(resil_metrics_family_new(m, &fo, &f) == 0, "%s", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fo.name = bad[i];
        ck_assert_msg(resil_metrics_family_new(m, &fo, &f) == RESIL_EINVAL, "%s", bad[i]);
        ck_assert_ptr_null(f);
    }
    fo.name = NULL;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    char longname[RESIL_METRICS_MAX_NAME + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    fo.name = longname; /* one byte too long */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    longname[RESIL_METRICS_MAX_NAME] = '\0';
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    fo.name = "_total"; /* nothing left once the suffix goes */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.type = RESIL_METRICS_GAUGE;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    fo.type = (resil_metrics_type)7;
    fo.name = "t";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.type = RESIL_METRICS_COUNTER;
    fo.help = "bad \xff utf-8";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    resil_metrics_free(m);
}
END_TEST

static int label_rc(resil_metrics *m, resil_metrics_type type, const char *const *labels,
                    size_t n)
{
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_family_opts_init(&fo);
    fo.type = type;
    fo.name = "lbl";
    fo.labels = labels;
    fo.nlabels = n;
    return resil_metrics_family_new(m, &fo, &f);
}

START_TEST(test_label_names)
{
    static const char *const reserved[] = {"__name"};
    static const char *const dash[] = {"a-b"};
    static const char *const colon[] = {"a:b"};
    static const char *const dup[] = {"a", "a"};
    static const char *const le[] = {"le"};
    static const char *const nul[] = {NULL};
    static const char *const many[RESIL_METRICS_MAX_LABELS + 1] = {
        "a", "b", "c", "d", "e", "f", "g", "h", "i",
        "j", "k", "l", "m", "n", "o", "p", "q"};
    resil_metrics *m = new_reg(NULL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, reserved, 1), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, dash, 1), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, colon, 1), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, dup, 2), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_HISTOGRAM, le, 1), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, nul, 1), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, NULL, 1), RESIL_EINVAL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, many, RESIL_METRICS_MAX_LABELS + 1),
                 RESIL_EINVAL);
    /* "le" is only reserved in histograms */
    ck_assert_rc(label_rc(m, RESIL_METRICS_GAUGE, le, 1), 0);
    resil_metrics_free(m);
    m = new_reg(NULL);
    ck_assert_rc(label_rc(m, RESIL_METRICS_COUNTER, many, RESIL_METRICS_MAX_LABELS), 0);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_family_redefine)
{
    static const char *const other[] = {"path"};
    resil_metrics *m = new_reg(NULL);
    resil_metrics_family_opts fo;
    resil_metrics_family *f1, *f2, *f;
    resil_metrics_family_opts_init(&fo);
    fo.name = "req_total";
    fo.help = "first";
    fo.labels = L1;
    fo.nlabels = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f1), 0);
    fo.help = "second: help is not compared";
    fo.name = "req"; /* the same counter, named without _total */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f2), 0);
    ck_assert_ptr_eq(f1, f2);
    fo.labels = other;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    ck_assert_ptr_null(f);
    fo.labels = L1;
    fo.type = RESIL_METRICS_GAUGE;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    fo.type = RESIL_METRICS_COUNTER;
    fo.max_series = 5;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    fo.max_series = 0;
    fo.rate_window_ns = 10 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    /* exposed sample names may not collide either */
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_GAUGE;
    fo.name = "req_total";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "lat";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    fo.rel_error = 0.02;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    fo.type = RESIL_METRICS_GAUGE;
    fo.name = "lat_sum";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EEXIST);
    fo.type = RESIL_METRICS_COUNTER;
    fo.name = "lat_count"; /* exposes lat_count_total: no clash */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_family_find(m, "req_total", &f), 0);
    ck_assert_ptr_eq(f, f1);
    ck_assert_rc(resil_metrics_family_find(m, "req", &f), 0);
    ck_assert_ptr_eq(f, f1);
    ck_assert_rc(resil_metrics_family_find(m, "lat_total", &f), RESIL_ENOENT);
    ck_assert_ptr_null(f);
    ck_assert_rc(resil_metrics_family_find(m, "nope", &f), RESIL_ENOENT);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_family_opts)
{
    static const double unsorted[] = {1, 0.5};
    static const double inf[] = {1, DBL_MAX * 2};
    resil_metrics *m = new_reg(NULL);
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_family_opts_init(&fo);
    ck_assert_int_eq(fo.type, RESIL_METRICS_COUNTER);
    ck_assert_double_eq(fo.rel_error, 0.01);
    ck_assert_double_eq(fo.min_value, 1e-9);
    ck_assert_double_eq(fo.max_value, 1e9);
    ck_assert_int_eq(fo.rate_bucket_ns, RESIL_NS_PER_SEC);
    fo.name = "h";
    fo.type = RESIL_METRICS_HISTOGRAM;
    double bad_err[] = {0, 0.00001, 0.5, -1};
    for (size_t i = 0; i < 4; i++) {
        fo.rel_error = bad_err[i];
        ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    }
    fo.rel_error = 0.01;
    fo.min_value = 0;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.min_value = 10;
    fo.max_value = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.min_value = 1e-300; /* too many buckets at 0.01 */
    fo.max_value = 1e300;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.min_value = 1e-9;
    fo.max_value = 1e9;
    fo.bounds = unsorted;
    fo.nbounds = 2;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.bounds = inf;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.nbounds = 0;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.bounds = NULL;
    fo.rate_window_ns = RESIL_NS_PER_SEC; /* rates are for counters */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.type = RESIL_METRICS_COUNTER;
    fo.rate_window_ns = 1500 * RESIL_NS_PER_MS; /* not whole buckets */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.rate_window_ns = 3601 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.rate_window_ns = -RESIL_NS_PER_SEC;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), RESIL_EINVAL);
    fo.rate_window_ns = 3600 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_max_families)
{
    resil_metrics_opts o;
    resil_metrics *m;
    resil_metrics_gauge *g;
    resil_metrics_stats st;
    resil_metrics_opts_init(&o);
    o.max_families = 2;
    ck_assert_rc(resil_metrics_new(&o, &m), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "a", NULL, &g), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "b", NULL, &g), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "c", NULL, &g), RESIL_EFULL);
    ck_assert_ptr_null(g);
    ck_assert_rc(resil_metrics_gauge_new(m, "a", NULL, &g), 0); /* existing: fine */
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.families, 2);
    ck_assert_uint_eq(st.series, 2);
    resil_metrics_free(m);
}
END_TEST

/* ---- counters, gauges, labels ------------------------------------------ */

START_TEST(test_counter)
{
    long live = tu_alloc_live();
    resil_metrics *m = new_reg(NULL);
    resil_metrics_counter *c, *c2;
    ck_assert_rc(resil_metrics_counter_new(m, "c_total", "help", &c), 0);
    ck_assert_uint_eq(resil_metrics_counter_value(c), 0);
    resil_metrics_counter_add(c, 1);
    resil_metrics_counter_add(c, 41);
    resil_metrics_counter_add_at(c, 5, 8);
    ck_assert_uint_eq(resil_metrics_counter_value(c), 50);
    ck_assert_rc(resil_metrics_counter_new(m, "c", "other help", &c2), 0);
    ck_assert_ptr_eq(c, c2);
    ck_assert_rc(resil_metrics_counter_set(c, 1000), 0);
    ck_assert_uint_eq(resil_metrics_counter_value(c), 1000);
    resil_metrics_counter_add(c, 1);
    ck_assert_rc(resil_metrics_counter_set(c, 7), 0); /* a reset upstream */
    ck_assert_uint_eq(resil_metrics_counter_value(c), 7);
    resil_metrics_counter_add(c, UINT64_MAX); /* modulo 2^64 */
    ck_assert_uint_eq(resil_metrics_counter_value(c), 6);
    resil_metrics_counter_add(NULL, 1);
    resil_metrics_counter_add_at(NULL, 0, 1);
    ck_assert_uint_eq(resil_metrics_counter_value(NULL), 0);
    ck_assert_rc(resil_metrics_counter_set(NULL, 1), RESIL_EINVAL);
    resil_metrics_free(m);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(test_gauge)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_gauge_new(m, "g", NULL, &g), 0);
    ck_assert_double_eq(resil_metrics_gauge_value(g), 0);
    resil_metrics_gauge_set(g, 2.5);
    resil_metrics_gauge_add(g, -4);
    ck_assert_double_eq(resil_metrics_gauge_value(g), -1.5);
    resil_metrics_gauge_set(NULL, 1);
    resil_metrics_gauge_add(NULL, 1);
    ck_assert_double_eq(resil_metrics_gauge_value(NULL), 0);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_series_values)
{
    static const char *const a[] = {"GET"};
    static const char *const b[] = {"PO\xc3\xa9ST"};
    static const char *const bad8[] = {"\xc3("};
    static const char *const over[] = {"\xe0\x80\x80"}; /* overlong */
    static const char *const surr[] = {"\xed\xa0\x80"}; /* surrogate */
    static const char *const nul[] = {NULL};
    char longv[300];
    const char *lv[] = {longv};
    resil_metrics *m = new_reg(NULL);
    resil_metrics_family *f = family(m, RESIL_METRICS_COUNTER, "s_total", 1, 0);
    resil_metrics_counter *c1, *c2, *c3;
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_counter_get(f, a, &c1), 0);
    ck_assert_rc(resil_metrics_counter_get(f, b, &c2), 0);
    ck_assert_ptr_ne(c1, c2);
    ck_assert_rc(resil_metrics_counter_get(f, a, &c3), 0);
    ck_assert_ptr_eq(c1, c3); /* stable handles */
    ck_assert_rc(resil_metrics_counter_get(f, bad8, &c3), RESIL_EINVAL);
    ck_assert_ptr_null(c3);
    ck_assert_rc(resil_metrics_counter_get(f, over, &c3), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_get(f, surr, &c3), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_get(f, nul, &c3), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_get(f, NULL, &c3), RESIL_EINVAL);
    memset(longv, 'x', 257);
    longv[257] = '\0';
    ck_assert_rc(resil_metrics_counter_get(f, lv, &c3), RESIL_ERANGE);
    longv[256] = '\0';
    ck_assert_rc(resil_metrics_counter_get(f, lv, &c3), 0);
    ck_assert_rc(resil_metrics_gauge_get(f, a, &g), RESIL_EINVAL); /* wrong type */
    ck_assert_ptr_null(g);
    ck_assert_rc(resil_metrics_counter_get(NULL, a, &c3), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_get(f, a, NULL), RESIL_EINVAL);
    resil_metrics_counter_add(c1, 3);
    resil_metrics_counter_add(c2, 4);
    ck_assert_uint_eq(resil_metrics_counter_value(c1), 3);
    ck_assert_uint_eq(resil_metrics_counter_value(c2), 4);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_label_cap)
{
    static const char *const ovf[] = {RESIL_METRICS_OVERFLOW_VALUE};
    resil_metrics *m = new_reg(NULL);
    resil_metrics_family *f = family(m, RESIL_METRICS_COUNTER, "cap_total", 1, 3);
    resil_metrics_counter *c, *first_ovf = NULL;
    resil_metrics_family_stats fs;
    resil_metrics_stats st;
    char v[32];
    const char *vals[] = {v};
    long live_at_10 = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(v, sizeof v, "user-%d", i);
        ck_assert_rc(resil_metrics_counter_get(f, vals, &c), 0);
        resil_metrics_counter_add(c, 1);
        if (i == 3)
            first_ovf = c;
        if (i >= 3)
            ck_assert_ptr_eq(c, first_ovf); /* one series takes the rest */
        if (i == 10)
            live_at_10 = tu_alloc_live();
    }
    /* memory stops growing once the cap is reached */
    ck_assert_int_eq(tu_alloc_live(), live_at_10);
    resil_metrics_family_stats_get(f, &fs);
    ck_assert_int_eq(fs.type, RESIL_METRICS_COUNTER);
    ck_assert_uint_eq(fs.series, 4);
    ck_assert_uint_eq(fs.max_series, 3);
    ck_assert_uint_eq(fs.overflows, 997);
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.series, 4);
    ck_assert_uint_eq(st.overflows, 997);
    ck_assert_uint_eq(resil_metrics_counter_value(first_ovf), 997);
    /* the overflow series is the one labelled "__overflow__" */
    ck_assert_rc(resil_metrics_counter_get(f, ovf, &c), 0);
    ck_assert_ptr_eq(c, first_ovf);
    /* existing combinations still resolve to their own series */
    snprintf(v, sizeof v, "user-%d", 1);
    ck_assert_rc(resil_metrics_counter_get(f, vals, &c), 0);
    ck_assert_uint_eq(resil_metrics_counter_value(c), 1);
    char *text;
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(text, "cap_total{method=\"__overflow__\"} 997\n"));
    resil_free(text);
    resil_metrics_free(m);
}
END_TEST

/* ---- histograms ------------------------------------------------------------ */

static uint64_t mix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Log-uniform over [2^-20, 2^20): a random exponent and mantissa straight
 * into the IEEE bits (the tests link without libm). */
static double log_uniform(uint64_t *s)
{
    uint64_t r = mix64(s);
    uint64_t e = 1023 - 20 + (r >> 58) % 40;
    uint64_t bits = (e << 52) | (mix64(s) >> 12);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void assert_rel(double got, double want, double err, const char *what)
{
    double d = got > want ? got - want : want - got;
    ck_assert_msg(d <= err * want * (1 + 1e-9),
                  "%s: got %.17g want %.17g (rel %.3g > %.3g)", what, got, want, d / want,
                  err);
}

static resil_metrics_histogram *hist(resil_metrics *m, const char *name, double err)
{
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_histogram *h;
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = name;
    fo.rel_error = err;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_histogram_get(f, NULL, &h), 0);
    return h;
}

static void check_accuracy(double err, size_t n, uint64_t seed)
{
    static const double qs[] = {0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
    resil_metrics *m = new_reg(NULL);
    resil_metrics_histogram *h = hist(m, "acc", err);
    resil_metrics_histogram_stats st;
    double *x = malloc(n * sizeof *x), sum = 0;
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        x[i] = log_uniform(&seed);
        sum += x[i];
        resil_metrics_histogram_record(h, x[i]);
    }
    qsort(x, n, sizeof *x, dcmp);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double v;
        ck_assert_rc(resil_metrics_histogram_quantile(h, qs[i], &v), 0);
        assert_rel(v, x[(size_t)(qs[i] * (double)(n - 1))], err, "quantile");
    }
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, n);
    ck_assert_double_eq(st.min, x[0]);
    ck_assert_double_eq(st.max, x[n - 1]);
    assert_rel(st.sum, sum, 1e-12, "sum");
    assert_rel(st.mean, sum / (double)n, 1e-12, "mean");
    assert_rel(st.p50, x[(size_t)(0.5 * (double)(n - 1))], err, "p50");
    assert_rel(st.p90, x[(size_t)(0.9 * (double)(n - 1))], err, "p90");
    assert_rel(st.p95, x[(size_t)(0.95 * (double)(n - 1))], err, "p95");
    assert_rel(st.p99, x[(size_t)(0.99 * (double)(n - 1))], err, "p99");
    assert_rel(st.p999, x[(size_t)(0.999 * (double)(n - 1))], err, "p999");
    free(x);
    resil_metrics_free(m);
}

START_TEST(test_histogram_accuracy)
{
    check_accuracy(0.01, 20000, 1);
    check_accuracy(0.01, 7, 2);
    check_accuracy(0.05, 10000, 3);
    check_accuracy(0.001, 10000, 4);
    check_accuracy(0.3, 5000, 5);
}
END_TEST

/* Every value is within the error of what its bucket reports: values
 * dense across several binade edges, each one asked for by its rank. */
START_TEST(test_histogram_bucket_edges)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_histogram *h = hist(m, "edge", 0.01);
    double x[2400];
    size_t n = 0;
    for (double v = 0.9; v < 4.2 && n < 2400; v *= 1.0007)
        x[n++] = v;
    for (size_t i = 0; i < n; i++)
        resil_metrics_histogram_record(h, x[i]);
    for (size_t i = 0; i + 1 < n; i++) {
        double got;
        ck_assert_rc(
            resil_metrics_histogram_quantile(h, (i + 0.5) / (double)(n - 1), &got), 0);
        assert_rel(got, x[i], 0.01, "edge");
    }
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_histogram_special_values)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_histogram *h = hist(m, "sp", 0.01);
    resil_metrics_histogram_stats st;
    double v;
    ck_assert_rc(resil_metrics_histogram_quantile(h, 0.5, &v), RESIL_ENOENT);
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_double_eq(st.min, 0);
    ck_assert_double_eq(st.p99, 0);
    resil_metrics_histogram_record(h, 0.0 / 0.0); /* NaN: ignored */
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, 0);
    resil_metrics_histogram_record(h, -2); /* below min_value */
    resil_metrics_histogram_record(h, 0);
    resil_metrics_histogram_record(h, 1e-12);
    resil_metrics_histogram_record(h, 5e12); /* above max_value */
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, 4);
    ck_assert_double_eq(st.min, -2);
    ck_assert_double_eq(st.max, 5e12);
    ck_assert_double_eq(st.sum, -2 + 0 + 1e-12 + 5e12);
    ck_assert_rc(resil_metrics_histogram_quantile(h, 0, &v), 0);
    ck_assert_double_eq(v, -2); /* the zero bucket, clamped to the min */
    ck_assert_rc(resil_metrics_histogram_quantile(h, 1, &v), 0);
    ck_assert_double_eq(v, 5e12); /* the top bucket, clamped to the max */
    ck_assert_rc(resil_metrics_histogram_quantile(h, 1.5, &v), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_quantile(h, -0.1, &v), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_quantile(h, 0.5, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_quantile(NULL, 0.5, &v), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_stats_get(h, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_stats_get(NULL, &st), RESIL_EINVAL);
    resil_metrics_histogram_record(NULL, 1);
    resil_metrics_histogram_record_ns(NULL, 1);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_timing)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_histogram *h;
    resil_metrics_histogram_stats st;
    ck_assert_rc(resil_metrics_histogram_new(m, "op_seconds", "Op time.", &h), 0);
    resil_metrics_histogram_record_ns(h, 1500000);
    resil_metrics_histogram_record_ns(h, 2 * RESIL_NS_PER_SEC);
    ck_assert_rc(resil_metrics_histogram_stats_get(h, &st), 0);
    ck_assert_uint_eq(st.count, 2);
    ck_assert_double_eq_tol(st.sum, 2.0015, 1e-12);
    ck_assert_double_eq_tol(st.min, 0.0015, 1e-15);
    ck_assert_double_eq(st.max, 2);
    ck_assert_double_eq_tol(st.mean, 1.00075, 1e-12);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_histogram_merge)
{
    resil_metrics *m1 = new_reg(NULL), *m2 = new_reg(NULL), *m3 = new_reg(NULL);
    resil_metrics_histogram *a = hist(m1, "a", 0.01), *b = hist(m2, "b", 0.01);
    resil_metrics_histogram *all = hist(m3, "all", 0.01), *other = hist(m3, "o", 0.02);
    resil_metrics_histogram_stats sa, sall;
    uint64_t seed = 9;
    ck_assert_rc(resil_metrics_histogram_merge(a, b), 0); /* empty: no change */
    ck_assert_rc(resil_metrics_histogram_stats_get(a, &sa), 0);
    ck_assert_uint_eq(sa.count, 0);
    for (int i = 0; i < 3000; i++) {
        double v = log_uniform(&seed);
        resil_metrics_histogram_record(i % 3 ? a : b, v);
        resil_metrics_histogram_record(all, v);
    }
    ck_assert_rc(resil_metrics_histogram_merge(a, b), 0);
    ck_assert_rc(resil_metrics_histogram_stats_get(a, &sa), 0);
    ck_assert_rc(resil_metrics_histogram_stats_get(all, &sall), 0);
    ck_assert_uint_eq(sa.count, 3000);
    ck_assert_double_eq(sa.min, sall.min);
    ck_assert_double_eq(sa.max, sall.max);
    ck_assert_double_eq_tol(sa.sum, sall.sum, sall.sum * 1e-12);
    /* the same sketch: identical percentiles, not merely close ones */
    ck_assert_double_eq(sa.p50, sall.p50);
    ck_assert_double_eq(sa.p99, sall.p99);
    ck_assert_double_eq(sa.p999, sall.p999);
    ck_assert_rc(resil_metrics_histogram_merge(a, other), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_merge(a, a), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_merge(NULL, a), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_merge(a, NULL), RESIL_EINVAL);
    resil_metrics_free(m1);
    resil_metrics_free(m2);
    resil_metrics_free(m3);
}
END_TEST

/* ---- rates and history ----------------------------------------------------- */

static resil_metrics_counter *rate_counter(resil_metrics *m, const char *name,
                                           int64_t win)
{
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_counter *c;
    resil_metrics_family_opts_init(&fo);
    fo.name = name;
    fo.rate_window_ns = win;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_counter_get(f, NULL, &c), 0);
    return c;
}

START_TEST(test_rates)
{
    resil_clock *clk = tu_clock(); /* starts at 1 s */
    resil_metrics *m = new_reg(clk);
    resil_metrics_counter *err = rate_counter(m, "errors_total", 60 * RESIL_NS_PER_SEC);
    resil_metrics_counter *plain;
    resil_metrics_rate r;
    ck_assert_rc(resil_metrics_counter_new(m, "plain_total", NULL, &plain), 0);
    resil_metrics_counter_add(err, 12); /* t = 1 s */
    ck_assert_rc(resil_metrics_counter_rate(err, 0, &r), 0);
    ck_assert_uint_eq(r.events, 12);
    ck_assert_int_eq(r.window_ns, 60 * RESIL_NS_PER_SEC);
    ck_assert_double_eq(r.per_min, 12);
    ck_assert_double_eq(r.per_sec, 0.2);
    resil_clock_manual_advance(clk, 30 * RESIL_NS_PER_SEC); /* t = 31 s */
    resil_metrics_counter_add(err, 3);
    ck_assert_rc(resil_metrics_counter_rate(err, 60 * RESIL_NS_PER_SEC, &r), 0);
    ck_assert_uint_eq(r.events, 15);
    ck_assert_rc(resil_metrics_counter_rate(err, 10 * RESIL_NS_PER_SEC, &r), 0);
    ck_assert_uint_eq(r.events, 3);
    ck_assert_double_eq(r.per_sec, 0.3);
    ck_assert_double_eq(r.per_min, 18);
    ck_assert_rc(resil_metrics_counter_rate(err, 1, &r), 0); /* rounds up to 1 s */
    ck_assert_int_eq(r.window_ns, RESIL_NS_PER_SEC);
    ck_assert_uint_eq(r.events, 3);
    resil_clock_manual_advance(clk, 29 * RESIL_NS_PER_SEC); /* t = 60 s: 1 s still in */
    ck_assert_rc(resil_metrics_counter_rate(err, 0, &r), 0);
    ck_assert_uint_eq(r.events, 15);
    resil_clock_manual_advance(clk, RESIL_NS_PER_SEC); /* t = 61 s: 1 s is out */
    ck_assert_rc(resil_metrics_counter_rate(err, 0, &r), 0);
    ck_assert_uint_eq(r.events, 3);
    resil_clock_manual_advance(clk, 30 * RESIL_NS_PER_SEC); /* t = 91 s */
    ck_assert_rc(resil_metrics_counter_rate(err, 0, &r), 0);
    ck_assert_uint_eq(r.events, 0);
    ck_assert_double_eq(r.per_sec, 0);
    /* the total is not windowed */
    ck_assert_uint_eq(resil_metrics_counter_value(err), 15);
    /* a caller's timestamp */
    resil_metrics_counter_add_at(err, resil_clock_now(clk) - RESIL_NS_PER_SEC, 4);
    ck_assert_rc(resil_metrics_counter_rate(err, 2 * RESIL_NS_PER_SEC, &r), 0);
    ck_assert_uint_eq(r.events, 4);
    ck_assert_rc(resil_metrics_counter_rate(err, 1 * RESIL_NS_PER_SEC, &r), 0);
    ck_assert_uint_eq(r.events, 0);
    ck_assert_rc(resil_metrics_counter_rate(err, 61 * RESIL_NS_PER_SEC, &r),
                 RESIL_ERANGE);
    ck_assert_rc(resil_metrics_counter_rate(err, -1, &r), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_rate(plain, 0, &r), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_rate(NULL, 0, &r), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_rate(err, 0, NULL), RESIL_EINVAL);
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

/* The alerting rules: "errors per minute" and a success rate from two
 * counters read at one instant. */
START_TEST(test_rate_ratio)
{
    resil_clock *clk = tu_clock();
    resil_metrics *m = new_reg(clk);
    resil_metrics_counter *ok = rate_counter(m, "ok_total", 60 * RESIL_NS_PER_SEC);
    resil_metrics_counter *fail = rate_counter(m, "fail_total", 60 * RESIL_NS_PER_SEC);
    resil_metrics_rate rok, rfail;
    for (int s = 0; s < 120; s++) {
        resil_metrics_counter_add(ok, 19);
        resil_metrics_counter_add(fail, s < 60 ? 5 : 1);
        resil_clock_manual_advance(clk, RESIL_NS_PER_SEC);
    }
    ck_assert_rc(resil_metrics_counter_rate(ok, 0, &rok), 0);
    ck_assert_rc(resil_metrics_counter_rate(fail, 0, &rfail), 0);
    /* the current (empty) second and the 59 before it */
    ck_assert_uint_eq(rfail.events, 59);
    ck_assert_uint_eq(rok.events, 59 * 19);
    ck_assert_double_eq(rfail.per_min, 59);
    ck_assert_double_eq_tol((double)rok.events / (double)(rok.events + rfail.events),
                            0.95, 1e-12);
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

static resil_metrics_family *hist_family(resil_metrics *m, const char *name, int history)
{
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = name;
    fo.history = history;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    return f;
}

START_TEST(test_history)
{
    static const char *const get[] = {"GET"};
    static const char *const put[] = {"PUT"};
    resil_clock *clk = tu_clock();
    resil_metrics_opts o;
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *fc, *fh, *fn;
    resil_metrics_counter *c;
    resil_metrics_histogram *h;
    resil_metrics_point pts[8];
    size_t n;
    resil_metrics_opts_init(&o);
    o.clock = clk;
    o.history_len = 4;
    ck_assert_rc(resil_metrics_new(&o, &m), 0);
    resil_metrics_family_opts_init(&fo);
    fo.name = "hc_total";
    fo.labels = L1;
    fo.nlabels = 1;
    fo.history = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &fc), 0);
    ck_assert_rc(resil_metrics_counter_get(fc, get, &c), 0);
    fh = hist_family(m, "hh", 1);
    fn = hist_family(m, "nohist", 0);
    ck_assert_rc(resil_metrics_histogram_get(fh, NULL, &h), 0);
    ck_assert_rc(resil_metrics_history_get(fc, get, pts, 8, &n), 0);
    ck_assert_uint_eq(n, 0);
    for (int i = 1; i <= 6; i++) {
        resil_metrics_counter_add(c, (uint64_t)(10 * i));
        resil_metrics_histogram_record(h, i);
        ck_assert_rc(resil_metrics_history_tick(m), 0);
        resil_clock_manual_advance(clk, 2 * RESIL_NS_PER_SEC);
    }
    ck_assert_rc(resil_metrics_history_get(fc, get, pts, 8, &n), 0);
    ck_assert_uint_eq(n, 4); /* bounded */
    for (size_t i = 0; i < n; i++) {
        int tick = (int)i + 3; /* the oldest kept is the 3rd tick */
        ck_assert_int_eq(pts[i].t_ns,
                         RESIL_NS_PER_SEC + (tick - 1) * 2 * RESIL_NS_PER_SEC);
        ck_assert_double_eq(pts[i].value, 5.0 * tick * (tick + 1));
        ck_assert_double_eq(pts[i].rate, 10.0 * tick / 2); /* per second */
    }
    ck_assert_rc(resil_metrics_history_get(fc, get, pts, 2, &n), 0);
    ck_assert_uint_eq(n, 2); /* the newest two */
    ck_assert_double_eq(pts[1].value, 210);
    ck_assert_double_eq(pts[0].value, 150);
    ck_assert_rc(resil_metrics_history_get(fh, NULL, pts, 8, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_double_eq(pts[3].value, 6);
    ck_assert_double_eq(pts[3].sum, 21);
    ck_assert_double_eq_tol(pts[3].p50, 3, 0.03);
    ck_assert_double_eq_tol(pts[3].p99, 5, 0.05); /* rank floor(0.99 * 5) */
    ck_assert_double_eq(pts[3].rate, 0.5);
    ck_assert_rc(resil_metrics_history_get(fc, put, pts, 8, &n), RESIL_ENOENT);
    ck_assert_rc(resil_metrics_history_get(fn, NULL, pts, 8, &n), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_history_get(fc, get, NULL, 8, &n), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_history_get(fc, get, pts, 8, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_history_get(NULL, get, pts, 8, &n), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_history_tick(NULL), RESIL_EINVAL);
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

START_TEST(test_history_gauge)
{
    resil_clock *clk = tu_clock();
    resil_metrics *m = new_reg(clk);
    resil_metrics_family *f = family(m, RESIL_METRICS_GAUGE, "gq", 0, 0);
    resil_metrics_family_opts fo;
    resil_metrics_gauge *g;
    resil_metrics_point p[2];
    size_t n;
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_GAUGE;
    fo.name = "gh";
    fo.history = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_gauge_get(f, NULL, &g), 0);
    resil_metrics_gauge_set(g, 4);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    resil_clock_manual_advance(clk, RESIL_NS_PER_SEC);
    resil_metrics_gauge_set(g, -1);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    ck_assert_rc(resil_metrics_history_get(f, NULL, p, 2, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_double_eq(p[0].value, 4);
    ck_assert_double_eq(p[1].value, -1);
    ck_assert_double_eq(p[1].rate, 0); /* gauges have no rate */
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

/* ---- collectors and watchers -------------------------------------------- */

struct coll {
    resil_metrics_gauge *g;
    int runs;
    int fail;
    int *log;
    int *seq;
    int tag;
};

static int collect(resil_metrics *m, void *ctx)
{
    struct coll *c = ctx;
    ck_assert_ptr_nonnull(m);
    c->runs++;
    resil_metrics_gauge_set(c->g, c->runs);
    if (c->seq)
        c->log[(*c->seq)++ % 8] = c->tag;
    return c->fail;
}

START_TEST(test_collectors)
{
    resil_metrics *m = new_reg(NULL);
    struct coll a = {0}, b = {0};
    resil_metrics_stats st;
    uint64_t ida, idb;
    int seq = 0, log[8] = {0};
    char *text;
    ck_assert_rc(resil_metrics_gauge_new(m, "ga", NULL, &a.g), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "gb", NULL, &b.g), 0);
    a.seq = b.seq = &seq;
    a.log = b.log = log;
    a.tag = 1;
    b.tag = 2;
    b.fail = -1;
    ck_assert_rc(resil_metrics_collector_add(m, collect, &a, &ida), 0);
    ck_assert_rc(resil_metrics_collector_add(m, collect, &b, &idb), 0);
    ck_assert_uint_ne(ida, 0);
    ck_assert_uint_ne(ida, idb);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(text, "ga 1\n"));
    resil_free(text);
    ck_assert_int_eq(log[0], 1); /* registration order */
    ck_assert_int_eq(log[1], 2);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    ck_assert_int_eq(a.runs, 2);
    ck_assert_double_eq(resil_metrics_gauge_value(a.g), 2);
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.collector_errors, 2);
    ck_assert_rc(resil_metrics_collector_remove(m, ida), 0);
    ck_assert_rc(resil_metrics_collector_remove(m, ida), RESIL_ENOENT);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    ck_assert_int_eq(a.runs, 2);
    ck_assert_int_eq(b.runs, 3);
    ck_assert_rc(resil_metrics_collector_add(m, NULL, &a, &ida), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_collector_add(m, collect, &a, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_collector_add(NULL, collect, &a, &ida), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_collector_remove(m, 0), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_collector_remove(NULL, idb), RESIL_EINVAL);
    resil_metrics_free(m); /* b is still registered: freed with the registry */
}
END_TEST

static resil_metrics_counter *find_counter(resil_metrics *m, const char *name,
                                           const char *const *vals)
{
    resil_metrics_family *f;
    resil_metrics_counter *c;
    ck_assert_rc(resil_metrics_family_find(m, name, &f), 0);
    ck_assert_rc(resil_metrics_counter_get(f, vals, &c), 0);
    return c;
}

static resil_metrics_gauge *find_gauge(resil_metrics *m, const char *name,
                                       const char *const *vals)
{
    resil_metrics_family *f;
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_family_find(m, name, &f), 0);
    ck_assert_rc(resil_metrics_gauge_get(f, vals, &g), 0);
    return g;
}

static void breaker_calls(resil_breaker *b, int n, resil_outcome out)
{
    resil_breaker_ticket t;
    for (int i = 0; i < n; i++) {
        ck_assert_rc(resil_breaker_acquire(b, &t), 0);
        ck_assert_rc(resil_breaker_record(b, t, out, 1000), 0);
    }
}

START_TEST(test_watch_breaker)
{
    static const char *const names[] = {"service"};
    static const char *const vals[] = {"yt"};
    resil_clock *clk = tu_clock();
    resil_metrics *m = new_reg(clk);
    resil_breaker_opts bo;
    resil_breaker *b;
    resil_breaker_ticket t;
    resil_metrics_watch_opts wo;
    uint64_t id;
    char *text;
    resil_breaker_opts_init(&bo);
    bo.clock = clk;
    bo.minimum_calls = 4;
    bo.window_size = 4;
    bo.slow_call_ns = 500;
    ck_assert_rc(resil_breaker_new(&bo, &b), 0);
    resil_metrics_watch_opts_init(&wo);
    wo.prefix = "svc_breaker";
    wo.label_names = names;
    wo.label_values = vals;
    wo.nlabels = 1;
    ck_assert_rc(resil_metrics_watch_breaker(m, b, &wo, &id), 0);
    breaker_calls(b, 2, RESIL_OUTCOME_SUCCESS);
    breaker_calls(b, 2, RESIL_OUTCOME_FAILURE); /* 50 %: opens */
    ck_assert_rc(resil_breaker_acquire(b, &t), RESIL_EOPEN);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(text, "svc_breaker_state{service=\"yt\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "svc_breaker_calls_total{service=\"yt\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "svc_breaker_failures_total{service=\"yt\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "svc_breaker_slow_calls_total{service=\"yt\"} 4\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "svc_breaker_rejections_total{service=\"yt\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "svc_breaker_failure_rate{service=\"yt\"} 0.5\n"));
    resil_free(text);
    ck_assert_uint_eq(
        resil_metrics_counter_value(find_counter(m, "svc_breaker_calls_total", vals)), 4);
    ck_assert_double_eq(
        resil_metrics_gauge_value(find_gauge(m, "svc_breaker_state", vals)), 1);
    /* a second breaker under another label shares the families */
    resil_breaker *b2;
    static const char *const vals2[] = {"ai"};
    uint64_t id2;
    ck_assert_rc(resil_breaker_new(&bo, &b2), 0);
    wo.label_values = vals2;
    ck_assert_rc(resil_metrics_watch_breaker(m, b2, &wo, &id2), 0);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    ck_assert_double_eq(
        resil_metrics_gauge_value(find_gauge(m, "svc_breaker_state", vals2)), 0);
    ck_assert_rc(resil_metrics_collector_remove(m, id), 0);
    resil_breaker_free(b); /* no longer watched */
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    ck_assert_rc(resil_metrics_watch_breaker(m, NULL, &wo, &id), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_breaker(m, b2, &wo, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_breaker(NULL, b2, &wo, &id), RESIL_EINVAL);
    wo.prefix = "bad prefix";
    ck_assert_rc(resil_metrics_watch_breaker(m, b2, &wo, &id), RESIL_EINVAL);
    ck_assert_uint_eq(id, 0);
    resil_metrics_free(m);
    resil_breaker_free(b2);
    resil_clock_free(clk);
}
END_TEST

START_TEST(test_watch_limiter)
{
    resil_clock *clk = tu_clock();
    resil_metrics *m = new_reg(clk);
    resil_limiter_opts lo;
    resil_limiter *l;
    uint64_t id;
    char *text;
    resil_limiter_opts_init(&lo);
    lo.clock = clk;
    lo.rate = 1;
    lo.burst = 4;
    ck_assert_rc(resil_limiter_new(&lo, &l), 0);
    ck_assert_rc(resil_metrics_watch_limiter(m, l, NULL, &id), 0); /* default names */
    for (int i = 0; i < 6; i++)
        resil_limiter_try_acquire(l, 1, NULL);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_OPENMETRICS, &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE resil_limiter_allowed counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "resil_limiter_allowed_total 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "resil_limiter_rejected_total 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "resil_limiter_utilisation 1\n"));
    resil_free(text);
    ck_assert_rc(resil_metrics_watch_limiter(m, NULL, NULL, &id), RESIL_EINVAL);
    resil_metrics_free(m); /* removes the watcher */
    resil_limiter_free(l);
    resil_clock_free(clk);
}
END_TEST

/* ---- cache and retry watchers --------------------------------------------- */

static int load_fail(void *ctx, resil_cache_load *ld)
{
    (void)ctx;
    (void)ld;
    return RESIL_EFAILED;
}

static resil_cache *small_cache(resil_clock *clk)
{
    resil_cache_opts co;
    resil_cache *c = NULL;
    resil_cache_opts_init(&co);
    co.max_entries = 2;
    co.shards = 1;
    co.policy = RESIL_CACHE_LRU;
    co.default_ttl_ns = 10 * RESIL_NS_PER_SEC;
    co.stale_ttl_ns = 5 * RESIL_NS_PER_SEC;
    co.clock = clk;
    ck_assert_rc(resil_cache_new(&co, &c), 0);
    return c;
}

/* 1 hit, 3 misses (one served stale after a failed load), 1 eviction, 2
 * expirations, and one entry of 5 bytes left. */
static void cache_activity(resil_cache *c, resil_clock *clk)
{
    char buf[8];
    size_t n;
    resil_cache_ref *ref;
    resil_cache_info info;
    ck_assert_rc(resil_cache_set(c, "a", 1, "one", 3, 0), 0);
    ck_assert_rc(resil_cache_set(c, "b", 1, "two", 3, 0), 0);
    ck_assert_rc(resil_cache_get(c, "a", 1, buf, sizeof buf, &n), 0);
    ck_assert_rc(resil_cache_get(c, "x", 1, buf, sizeof buf, &n), RESIL_ENOENT);
    ck_assert_rc(resil_cache_get(c, "y", 1, buf, sizeof buf, &n), RESIL_ENOENT);
    ck_assert_rc(resil_cache_set(c, "c", 1, "six", 3, 0), 0); /* evicts b */
    ck_assert_rc(resil_clock_manual_advance(clk, 11 * RESIL_NS_PER_SEC), 0);
    ck_assert_rc(resil_cache_get_or_load(c, "a", 1, load_fail, NULL, RESIL_TIME_NEVER,
                                         &ref, &info),
                 0);
    ck_assert_int_eq(info.stale, 1);
    resil_cache_ref_release(ref);
    ck_assert_rc(resil_clock_manual_advance(clk, 5 * RESIL_NS_PER_SEC), 0);
    ck_assert_int_eq(resil_cache_sweep(c, 10), 2);
    ck_assert_rc(resil_cache_set(c, "d", 1, "four", 4, 0), 0);
}

static int fail_n(void *arg, resil_attempt *a)
{
    int *left = arg;
    (void)a;
    if (*left == 0)
        return 0;
    (*left)--;
    return -1;
}

static void no_sleep(int64_t ns, void *ctx)
{
    (void)ns;
    (void)ctx;
}

static int retry_policy(resil_clock *clk, resil_retry **r)
{
    resil_retry_opts ro;
    resil_retry_opts_init(&ro);
    ro.clock = clk;
    ro.sleep = no_sleep;
    ro.jitter = RESIL_JITTER_NONE;
    ro.max_attempts = 3;
    return resil_retry_new(&ro, r);
}

/* 3 runs: a first-try success, a success on the second try, 3 failures. */
static void retry_activity(resil_retry *r)
{
    int left = 0;
    ck_assert_rc(resil_retry_run(r, fail_n, &left, NULL), 0);
    left = 1;
    ck_assert_rc(resil_retry_run(r, fail_n, &left, NULL), 0);
    left = 100;
    ck_assert_rc(resil_retry_run(r, fail_n, &left, NULL), RESIL_EEXHAUSTED);
}

static void assert_lines(const char *text, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(text, want[i]) != NULL, "missing \"%s\" in:\n%s", want[i],
                      text);
}

START_TEST(test_watch_cache_retry)
{
    static const char *const names[] = {"service"};
    static const char *const vals[] = {"api"};
    static const char *const want[] = {
        "# TYPE resil_cache_hits_total counter\n",
        "resil_cache_hits_total{service=\"api\"} 1\n",
        "resil_cache_misses_total{service=\"api\"} 3\n",
        "resil_cache_stale_hits_total{service=\"api\"} 1\n",
        "resil_cache_loads_total{service=\"api\"} 1\n",
        "resil_cache_load_failures_total{service=\"api\"} 1\n",
        "resil_cache_evictions_total{service=\"api\"} 1\n",
        "resil_cache_expirations_total{service=\"api\"} 2\n",
        "# TYPE resil_cache_entries gauge\n",
        "resil_cache_entries{service=\"api\"} 1\n",
        "resil_cache_bytes{service=\"api\"} 5\n",
        "resil_cache_hit_rate{service=\"api\"} 0.25\n",
        "resil_retry_runs_total{service=\"api\"} 3\n",
        "resil_retry_attempts_total{service=\"api\"} 6\n",
        "resil_retry_retries_total{service=\"api\"} 3\n",
        "resil_retry_successes_total{service=\"api\"} 2\n",
        "# TYPE resil_retry_stops_total counter\n",
        "resil_retry_stops_total{service=\"api\",reason=\"succeeded\"} 2\n",
        "resil_retry_stops_total{service=\"api\",reason=\"not_retryable\"} 0\n",
        "resil_retry_stops_total{service=\"api\",reason=\"exhausted\"} 1\n",
        "resil_retry_stops_total{service=\"api\",reason=\"deadline\"} 0\n",
        "resil_retry_stops_total{service=\"api\",reason=\"budget\"} 0\n",
        "resil_retry_stops_total{service=\"api\",reason=\"breaker_open\"} 0\n",
    };
    long live = tu_alloc_live();
    resil_clock *clk = tu_clock();
    resil_metrics *m = new_reg(clk);
    resil_cache *c = small_cache(clk);
    resil_retry *r = NULL;
    resil_metrics_watch_opts wo;
    uint64_t cid, rid;
    char *text;
    ck_assert_rc(retry_policy(clk, &r), 0);
    resil_metrics_watch_opts_init(&wo);
    wo.label_names = names;
    wo.label_values = vals;
    wo.nlabels = 1;
    ck_assert_rc(resil_metrics_watch_cache(m, c, &wo, &cid), 0);
    ck_assert_rc(resil_metrics_watch_retry(m, r, &wo, &rid), 0);
    ck_assert_uint_ne(cid, 0);
    ck_assert_uint_ne(rid, cid);
    cache_activity(c, clk);
    retry_activity(r);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    assert_lines(text, want, sizeof want / sizeof want[0]);
    resil_free(text);
    /* counters mirror the totals again at the next export, not add them */
    retry_activity(r);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    ck_assert_uint_eq(
        resil_metrics_counter_value(find_counter(m, "resil_retry_runs_total", vals)), 6);
    ck_assert_double_eq(
        resil_metrics_gauge_value(find_gauge(m, "resil_cache_entries", vals)), 1);
    ck_assert_rc(resil_metrics_collector_remove(m, rid), 0);
    ck_assert_rc(resil_metrics_collector_remove(m, cid), 0);
    resil_cache_free(c); /* no longer watched */
    resil_retry_free(r);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    resil_metrics_free(m);
    resil_clock_free(clk);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(test_watch_cache_retry_defaults)
{
    resil_clock *clk = tu_clock();
    resil_metrics *m = new_reg(clk);
    resil_cache *c = small_cache(clk);
    resil_retry *r = NULL;
    uint64_t id;
    char *text;
    ck_assert_rc(retry_policy(clk, &r), 0);
    ck_assert_rc(resil_metrics_watch_cache(m, c, NULL, &id), 0);
    ck_assert_rc(resil_metrics_watch_retry(m, r, NULL, &id), 0);
    retry_activity(r);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_OPENMETRICS, &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(text, "resil_cache_hits_total 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "resil_cache_hit_rate 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "resil_retry_attempts_total 6\n"));
    ck_assert_ptr_nonnull(strstr(text, "resil_retry_stops_total{reason=\"exhausted\"} 1\n"));
    resil_free(text);
    resil_metrics_free(m); /* removes both watchers */
    resil_cache_free(c);
    resil_retry_free(r);
    resil_clock_free(clk);
}
END_TEST

START_TEST(test_watch_cache_retry_bad_args)
{
    static const char *const reason[] = {"reason"};
    static const char *const vals[] = {"x"};
    const char *many[RESIL_METRICS_MAX_LABELS];
    const char *many_vals[RESIL_METRICS_MAX_LABELS];
    char label[RESIL_METRICS_MAX_LABELS][16];
    resil_metrics *m = new_reg(NULL);
    resil_cache *c = small_cache(NULL);
    resil_retry *r = NULL;
    resil_metrics_watch_opts wo;
    uint64_t id = 7;
    ck_assert_rc(retry_policy(NULL, &r), 0);
    ck_assert_rc(resil_metrics_watch_cache(NULL, c, NULL, &id), RESIL_EINVAL);
    ck_assert_uint_eq(id, 0);
    ck_assert_rc(resil_metrics_watch_cache(m, NULL, NULL, &id), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_cache(m, c, NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_retry(NULL, r, NULL, &id), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_retry(m, NULL, NULL, &id), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_retry(m, r, NULL, NULL), RESIL_EINVAL);
    resil_metrics_watch_opts_init(&wo);
    wo.prefix = "bad prefix";
    id = 7;
    ck_assert_rc(resil_metrics_watch_cache(m, c, &wo, &id), RESIL_EINVAL);
    ck_assert_uint_eq(id, 0);
    ck_assert_rc(resil_metrics_watch_retry(m, r, &wo, &id), RESIL_EINVAL);
    /* labels without names or values */
    resil_metrics_watch_opts_init(&wo);
    wo.nlabels = 1;
    wo.label_values = vals;
    ck_assert_rc(resil_metrics_watch_cache(m, c, &wo, &id), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_retry(m, r, &wo, &id), RESIL_EINVAL);
    /* the caller's "reason" would clash with the watcher's own */
    wo.prefix = "clash";
    wo.label_names = reason;
    ck_assert_rc(resil_metrics_watch_retry(m, r, &wo, &id), RESIL_EINVAL);
    /* a full set of labels leaves no room for reason; the cache takes it */
    for (int i = 0; i < RESIL_METRICS_MAX_LABELS; i++) {
        snprintf(label[i], sizeof label[i], "l%u", (unsigned)i);
        many[i] = label[i];
        many_vals[i] = "v";
    }
    resil_metrics_watch_opts_init(&wo);
    wo.prefix = "full";
    wo.label_names = many;
    wo.label_values = many_vals;
    wo.nlabels = RESIL_METRICS_MAX_LABELS;
    ck_assert_rc(resil_metrics_watch_retry(m, r, &wo, &id), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_watch_cache(m, c, &wo, &id), 0);
    wo.nlabels = RESIL_METRICS_MAX_LABELS - 1;
    wo.prefix = "fifteen";
    ck_assert_rc(resil_metrics_watch_retry(m, r, &wo, &id), 0);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    resil_metrics_free(m);
    resil_cache_free(c);
    resil_retry_free(r);
}
END_TEST

/* Both watchers on one registry: every allocation may fail. */
static int scenario_watch(resil_clock *clk)
{
    static const char *const names[] = {"service"};
    static const char *const vals[] = {"api"};
    resil_metrics_opts o;
    resil_metrics *m = NULL;
    resil_cache_opts co;
    resil_cache *c = NULL;
    resil_retry *r = NULL;
    resil_metrics_watch_opts wo;
    uint64_t id;
    char *text = NULL;
    resil_metrics_opts_init(&o);
    o.clock = clk;
    resil_cache_opts_init(&co);
    co.max_entries = 2;
    co.clock = clk;
    resil_metrics_watch_opts_init(&wo);
    wo.label_names = names;
    wo.label_values = vals;
    wo.nlabels = 1;
    int rc = resil_metrics_new(&o, &m);
    if (rc == 0)
        rc = resil_cache_new(&co, &c);
    if (rc == 0)
        rc = retry_policy(clk, &r);
    if (rc == 0) {
        rc = resil_metrics_watch_cache(m, c, &wo, &id);
        ck_assert(rc == 0 ? id != 0 : id == 0);
    }
    if (rc == 0) {
        rc = resil_metrics_watch_retry(m, r, &wo, &id);
        ck_assert(rc == 0 ? id != 0 : id == 0);
    }
    if (rc == 0)
        rc = resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL);
    resil_free(text);
    resil_metrics_free(m);
    resil_cache_free(c);
    resil_retry_free(r);
    return rc;
}

START_TEST(test_watch_cache_retry_alloc_fail)
{
    resil_clock *clk = tu_clock();
    long live = tu_alloc_live();
    int rc = -1;
    long n = 0;
    for (; n < 10000 && rc != 0; n++) {
        tu_alloc_fail_at(n);
        rc = scenario_watch(clk);
        tu_alloc_reset();
        ck_assert_msg(rc == 0 || rc == RESIL_ENOMEM, "fail at %ld: %s", n,
                      resil_err_name(rc));
        ck_assert_msg(tu_alloc_live() == live, "fail at %ld: %ld blocks leaked", n,
                      tu_alloc_live() - live);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_gt(n, 30);
    resil_clock_free(clk);
}
END_TEST

/* ---- stats, bad arguments ------------------------------------------------- */

START_TEST(test_stats)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_counter *c;
    resil_metrics_histogram *h;
    resil_metrics_stats st;
    ck_assert_rc(resil_metrics_counter_new(m, "a_total", NULL, &c), 0);
    ck_assert_rc(resil_metrics_histogram_new(m, "h", NULL, &h), 0);
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.families, 2);
    ck_assert_uint_eq(st.series, 2);
    ck_assert_uint_eq(st.threads, 0);
    ck_assert_uint_gt(st.cells, 1000); /* a histogram's sketch */
    uint64_t bytes = st.bytes;
    resil_metrics_counter_add(c, 1);
    resil_metrics_histogram_record(h, 0.5);
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.threads, 1);
    ck_assert_uint_gt(st.bytes, bytes);
    ck_assert_uint_eq(st.dropped, 0);
    resil_metrics_stats_get(NULL, &st);
    ck_assert_uint_eq(st.families, 0);
    resil_metrics_stats_get(m, NULL);
    resil_metrics_family_stats_get(NULL, NULL);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_bad_args)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_family_opts fo;
    resil_metrics_family *f = (void *)1;
    resil_metrics_counter *c = (void *)1;
    resil_metrics_gauge *g = (void *)1;
    resil_metrics_histogram *h = (void *)1;
    resil_metrics_family_stats fs;
    resil_metrics_family_opts_init(&fo);
    fo.name = "x";
    ck_assert_rc(resil_metrics_family_new(NULL, &fo, &f), RESIL_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_rc(resil_metrics_family_new(m, NULL, &f), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_family_new(m, &fo, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_family_find(NULL, "x", &f), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_family_find(m, NULL, &f), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_family_find(m, "x", NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_counter_new(NULL, "x", NULL, &c), RESIL_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_rc(resil_metrics_gauge_new(m, NULL, NULL, &g), RESIL_EINVAL);
    ck_assert_ptr_null(g);
    ck_assert_rc(resil_metrics_histogram_new(m, "1x", NULL, &h), RESIL_EINVAL);
    ck_assert_ptr_null(h);
    ck_assert_rc(resil_metrics_counter_new(m, "x", NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_gauge_get(NULL, NULL, &g), RESIL_EINVAL);
    ck_assert_rc(resil_metrics_histogram_get(NULL, NULL, &h), RESIL_EINVAL);
    resil_metrics_family_opts_init(NULL);
    resil_metrics_opts_init(NULL);
    resil_metrics_watch_opts_init(NULL);
    resil_metrics_family_stats_get(NULL, &fs);
    ck_assert_uint_eq(fs.series, 0);
    resil_metrics_free(m);
}
END_TEST

/* ---- allocation failure ----------------------------------------------------- */

/* Series of every kind, with labels, rates, history, a merge and a set. */
static int scenario_series(resil_metrics *m)
{
    static const char *const v[] = {"GET"};
    resil_metrics_family_opts fo;
    resil_metrics_family *f, *fh;
    resil_metrics_counter *c;
    resil_metrics_histogram *h, *h2;
    resil_metrics_histogram_stats st;
    resil_metrics_family_opts_init(&fo);
    fo.name = "req_total";
    fo.labels = L1;
    fo.nlabels = 1;
    fo.rate_window_ns = 10 * RESIL_NS_PER_SEC;
    fo.history = 1;
    int rc = resil_metrics_family_new(m, &fo, &f);
    if (rc == 0)
        rc = resil_metrics_counter_get(f, v, &c);
    if (rc == 0) {
        resil_metrics_counter_add(c, 2);
        resil_metrics_family_opts_init(&fo);
        fo.type = RESIL_METRICS_HISTOGRAM;
        fo.name = "lat";
        fo.history = 1;
        rc = resil_metrics_family_new(m, &fo, &fh);
    }
    if (rc == 0)
        rc = resil_metrics_histogram_get(fh, NULL, &h);
    if (rc == 0) {
        resil_metrics_histogram_record(h, 0.25);
        rc = resil_metrics_histogram_new(m, "lat2", "second", &h2);
    }
    if (rc == 0)
        rc = resil_metrics_histogram_merge(h2, h);
    if (rc == 0)
        rc = resil_metrics_histogram_stats_get(h2, &st);
    return rc == 0 ? resil_metrics_counter_set(c, 10) : rc;
}

/* A watcher, a history tick and every export format. */
static int scenario_export(resil_metrics *m, resil_limiter **l)
{
    resil_limiter_opts lo;
    uint64_t id;
    char *text = NULL;
    resil_limiter_opts_init(&lo);
    int rc = resil_limiter_new(&lo, l);
    if (rc == 0)
        rc = resil_metrics_watch_limiter(m, *l, NULL, &id);
    if (rc == 0)
        rc = resil_metrics_history_tick(m);
    for (int fmt = 0; rc == 0 && fmt < 4; fmt++) {
        rc = resil_metrics_export(m, (resil_metrics_format)fmt, &text, NULL);
        if (rc != 0)
            ck_assert_ptr_null(text);
        if (rc == RESIL_ENOTSUP && fmt >= RESIL_METRICS_JSON)
            rc = 0; /* built without jansson */
        resil_free(text);
        text = NULL;
    }
    return rc;
}

/* Everything a program does with a registry; each step must fail cleanly. */
static int scenario(resil_clock *clk)
{
    resil_metrics_opts o;
    resil_metrics *m;
    resil_limiter *l = NULL;
    resil_metrics_opts_init(&o);
    o.clock = clk;
    o.history_len = 3;
    int rc = resil_metrics_new(&o, &m);
    if (rc != 0) {
        ck_assert_ptr_null(m);
        return rc;
    }
    rc = scenario_series(m);
    if (rc == 0)
        rc = scenario_export(m, &l);
    resil_metrics_free(m);
    resil_limiter_free(l);
    return rc;
}

START_TEST(test_alloc_fail)
{
    resil_clock *clk = tu_clock();
    long live = tu_alloc_live();
    int rc = -1;
    long n = 0;
    for (; n < 10000 && rc != 0; n++) {
        tu_alloc_fail_at(n);
        rc = scenario(clk);
        tu_alloc_reset();
        ck_assert_msg(rc == 0 || rc == RESIL_ENOMEM || rc == RESIL_ENOTSUP,
                      "fail at %ld: %s", n, resil_err_name(rc));
        ck_assert_msg(tu_alloc_live() == live, "fail at %ld: %ld blocks leaked", n,
                      tu_alloc_live() - live);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_gt(n, 20);
    resil_clock_free(clk);
}
END_TEST

/* A record whose cell cannot be made is counted as dropped, not lost
 * silently, and the registry stays usable. */
START_TEST(test_record_without_memory)
{
    resil_metrics *m = new_reg(NULL);
    resil_metrics_counter *c;
    resil_metrics_stats st;
    ck_assert_rc(resil_metrics_counter_new(m, "d_total", NULL, &c), 0);
    tu_alloc_fail_at(0);
    resil_metrics_counter_add(c, 5);
    tu_alloc_reset();
    resil_metrics_stats_get(m, &st);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(resil_metrics_counter_value(c), 0);
    resil_metrics_counter_add(c, 5);
    ck_assert_uint_eq(resil_metrics_counter_value(c), 5);
    resil_metrics_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_registry_opts);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_label_names);
    tcase_add_test(tc, test_family_redefine);
    tcase_add_test(tc, test_family_opts);
    tcase_add_test(tc, test_max_families);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_bad_args);
    suite_add_tcase(s, tc);
    tc = tcase_create("series");
    tcase_add_test(tc, test_counter);
    tcase_add_test(tc, test_gauge);
    tcase_add_test(tc, test_series_values);
    tcase_add_test(tc, test_label_cap);
    suite_add_tcase(s, tc);
    tc = tcase_create("histogram");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_histogram_accuracy);
    tcase_add_test(tc, test_histogram_bucket_edges);
    tcase_add_test(tc, test_histogram_special_values);
    tcase_add_test(tc, test_timing);
    tcase_add_test(tc, test_histogram_merge);
    suite_add_tcase(s, tc);
    tc = tcase_create("time");
    tcase_add_test(tc, test_rates);
    tcase_add_test(tc, test_rate_ratio);
    tcase_add_test(tc, test_history);
    tcase_add_test(tc, test_history_gauge);
    suite_add_tcase(s, tc);
    tc = tcase_create("collectors");
    tcase_add_test(tc, test_collectors);
    tcase_add_test(tc, test_watch_breaker);
    tcase_add_test(tc, test_watch_limiter);
    suite_add_tcase(s, tc);
    tc = tcase_create("watch_cache_retry");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_watch_cache_retry);
    tcase_add_test(tc, test_watch_cache_retry_defaults);
    tcase_add_test(tc, test_watch_cache_retry_bad_args);
    tcase_add_test(tc, test_watch_cache_retry_alloc_fail);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_alloc_fail);
    tcase_add_test(tc, test_record_without_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
