/* Exposition of the metrics registry: golden files for the three formats
 * (tests/golden/metrics.{prom,om,json} and metrics-history.json), and
 * targeted checks of escaping, number rendering, `le` boundaries, order
 * and empty output.
 *
 * To regenerate the golden files after a deliberate change:
 *   RESIL_GOLDEN_UPDATE=1 ./tests/test_metrics_export
 * then review the diff. */
#include "check_util.h"

#include <locale.h>
#include <resil/metrics.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden"
#endif

static char *export(resil_metrics *m, resil_metrics_format fmt)
{
    char *text = NULL;
    size_t len = 0;
    ck_assert_rc(resil_metrics_export(m, fmt, &text, &len), 0);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

static void contains(const char *text, const char *want)
{
    ck_assert_msg(strstr(text, want) != NULL, "missing:\n%s\n--- in:\n%s", want, text);
}

/* ---- the golden registry ----------------------------------------------------- */

static void golden_counters(resil_metrics *m)
{
    static const char *const names[] = {"method", "path"};
    static const char *const v1[] = {"GET", "/a"};
    static const char *const v2[] = {"POST", "C:\\dir\\file"};
    static const char *const v3[] = {"say \"hi\"", "two\nlines"};
    static const char *const v4[] = {"\xe2\x82\xac uro", "caf\xc3\xa9"};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_counter *c;
    resil_metrics_family_opts_init(&fo);
    fo.name = "http_requests_total";
    fo.help = "Requests by \"method\" and path.\nBackslash: \\ end.";
    fo.labels = names;
    fo.nlabels = 2;
    fo.rate_window_ns = 60 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    const char *const *vals[] = {v3, v1, v4, v2};
    for (int i = 0; i < 4; i++) {
        ck_assert_rc(resil_metrics_counter_get(f, vals[i], &c), 0);
        resil_metrics_counter_add(c, (uint64_t)(i + 1) * 10);
    }
    ck_assert_rc(resil_metrics_counter_new(m, "errors", "Errors.", &c), 0);
    resil_metrics_counter_add(c, 3);
}

static void golden_gauges(resil_metrics *m)
{
    static const char *const names[] = {"shard"};
    static const char *const vals[][1] = {{"s1"}, {"s2"}, {"s3"}};
    static const double values[] = {0.1, -2.5e-9, 123456789.0};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_gauge_new(m, "temperature_celsius", "", &g), 0);
    resil_metrics_gauge_set(g, 21.5);
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_GAUGE;
    fo.name = "queue_depth";
    fo.help = "Items queued per shard (2 shards kept).";
    fo.labels = names;
    fo.nlabels = 1;
    fo.max_series = 2;
    fo.history = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_rc(resil_metrics_gauge_get(f, vals[i], &g), 0);
        resil_metrics_gauge_set(g, values[i]);
    }
}

static void golden_histograms(resil_metrics *m, resil_clock *clk)
{
    static const double lat[] = {0.0012, 0.004, 0.03, 0.03, 0.2, 0.7, 1.6, 12};
    static const double bounds[] = {1e-05, 0.0001, 0.1, 1, 100000, 1e+06};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_histogram *h;
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "rpc_duration_seconds";
    fo.help = "RPC latency.";
    fo.history = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_histogram_get(f, NULL, &h), 0);
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++) {
        resil_metrics_histogram_record(h, lat[i]);
        if (i == 3) {
            ck_assert_rc(resil_metrics_history_tick(m), 0);
            resil_clock_manual_advance(clk, 5 * RESIL_NS_PER_SEC);
        }
    }
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "odd_bounds";
    fo.help = "Bounds that need canonical rendering.";
    fo.bounds = bounds;
    fo.nbounds = 6;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_histogram_get(f, NULL, &h), 0);
    resil_metrics_histogram_record(h, 0.05);
    resil_metrics_histogram_record(h, 5e5);
}

static resil_metrics *golden_registry(resil_clock *clk)
{
    resil_metrics_opts o;
    resil_metrics *m;
    resil_metrics_opts_init(&o);
    o.clock = clk;
    o.history_len = 3;
    ck_assert_rc(resil_metrics_new(&o, &m), 0);
    golden_histograms(m, clk);
    golden_gauges(m);
    golden_counters(m);
    ck_assert_rc(resil_metrics_history_tick(m), 0);
    return m;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, name);
    if (getenv("RESIL_GOLDEN_UPDATE")) {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        return;
    }
    const char *want = slurp(path);
    ck_assert_msg(want != NULL, "%s: cannot read", path);
    ck_assert_msg(strcmp(want, text) == 0, "%s differs; got:\n%s", path, text);
}

START_TEST(test_golden)
{
    static const struct {
        resil_metrics_format fmt;
        const char *file;
    } cases[] = {{RESIL_METRICS_PROMETHEUS, "metrics.prom"},
                 {RESIL_METRICS_OPENMETRICS, "metrics.om"},
                 {RESIL_METRICS_JSON, "metrics.json"},
                 {RESIL_METRICS_JSON_HISTORY, "metrics-history.json"}};
    resil_clock *clk = tu_clock();
    resil_metrics *m = golden_registry(clk);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL;
        int rc = resil_metrics_export(m, cases[i].fmt, &text, NULL);
        if (rc == RESIL_ENOTSUP && cases[i].fmt >= RESIL_METRICS_JSON)
            continue; /* built without jansson */
        ck_assert_rc(rc, 0);
        golden(cases[i].file, text);
        /* a second export is identical: nothing in it moves */
        char *again = export(m, cases[i].fmt);
        ck_assert_str_eq(again, text);
        resil_free(again);
        resil_free(text);
    }
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

/* ---- targeted checks ---------------------------------------------------------- */

START_TEST(test_escaping)
{
    static const char *const names[] = {"v"};
    static const char *const vals[] = {"a\\b\"c\nd"};
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_GAUGE;
    fo.name = "esc";
    fo.help = "back\\slash \"quoted\"\nnext";
    fo.labels = names;
    fo.nlabels = 1;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_gauge_get(f, vals, &g), 0);
    char *p = export(m, RESIL_METRICS_PROMETHEUS);
    /* 0.0.4: HELP escapes backslash and newline only */
    contains(p, "# HELP esc back\\\\slash \"quoted\"\\nnext\n");
    contains(p, "esc{v=\"a\\\\b\\\"c\\nd\"} 0\n");
    resil_free(p);
    char *o = export(m, RESIL_METRICS_OPENMETRICS);
    /* OpenMetrics: the double quote too */
    contains(o, "# HELP esc back\\\\slash \\\"quoted\\\"\\nnext\n");
    contains(o, "esc{v=\"a\\\\b\\\"c\\nd\"} 0\n");
    resil_free(o);
    resil_metrics_free(m);
}
END_TEST

static void gauge_renders(resil_metrics *m, const char *name, double v, const char *want)
{
    resil_metrics_gauge *g;
    char line[128];
    ck_assert_rc(resil_metrics_gauge_new(m, name, "x", &g), 0);
    resil_metrics_gauge_set(g, v);
    char *text = export(m, RESIL_METRICS_PROMETHEUS);
    snprintf(line, sizeof line, "\n%s %s\n", name, want);
    contains(text, line);
    resil_free(text);
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64), which the Prometheus tools use. */
START_TEST(test_numbers)
{
    resil_metrics *m;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    gauge_renders(m, "n01", 0.1, "0.1");
    gauge_renders(m, "n02", 100000, "100000");
    gauge_renders(m, "n03", 1e6, "1e+06");
    gauge_renders(m, "n04", 123456789, "1.23456789e+08");
    gauge_renders(m, "n05", 0.0001, "0.0001");
    gauge_renders(m, "n06", 1e-5, "1e-05");
    gauge_renders(m, "n07", -2.5, "-2.5");
    gauge_renders(m, "n08", 1.0 / 3, "0.3333333333333333");
    gauge_renders(m, "n09", 0.0 / 0.0, "NaN");
    gauge_renders(m, "n10", 1.0 / 0.0, "+Inf");
    gauge_renders(m, "n11", -1.0 / 0.0, "-Inf");
    gauge_renders(m, "n12", 0, "0");
    gauge_renders(m, "n13", 1.7976931348623157e308, "1.7976931348623157e+308");
    gauge_renders(m, "n14", 5e-324, "5e-324");
    gauge_renders(m, "n15", 12345.678, "12345.678");
    gauge_renders(m, "n16", 1e21, "1e+21");
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_le_canonical)
{
    static const double bounds[] = {0, 0.001, 0.95, 1, 1.7, 10, 100000, 1e6, 1e-10};
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_histogram *h;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "h";
    fo.bounds = bounds;
    fo.nbounds = 8; /* strictly increasing: 1e-10 left out */
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_histogram_get(f, NULL, &h), 0);
    char *o = export(m, RESIL_METRICS_OPENMETRICS);
    /* the OpenMetrics 1.0 canonical examples */
    const char *om[] = {"0.0",  "0.001",    "0.95",  "1.0", "1.7",
                        "10.0", "100000.0", "1e+06", "+Inf"};
    const char *pr[] = {"0",  "0.001",  "0.95",  "1",   "1.7",
                        "10", "100000", "1e+06", "+Inf"};
    char line[128];
    for (int i = 0; i < 9; i++) {
        snprintf(line, sizeof line, "h_bucket{le=\"%s\"} 0\n", om[i]);
        contains(o, line);
    }
    resil_free(o);
    char *p = export(m, RESIL_METRICS_PROMETHEUS);
    for (int i = 0; i < 9; i++) {
        snprintf(line, sizeof line, "h_bucket{le=\"%s\"} 0\n", pr[i]);
        contains(p, line);
    }
    resil_free(p);
    resil_metrics_free(m);
}
END_TEST

/* Buckets are cumulative, +Inf equals _count, and a boundary is exact to
 * the sketch's relative error: values 2e below a bound count under it,
 * values 2e above do not. */
START_TEST(test_histogram_buckets)
{
    static const double bounds[] = {0.01, 0.1, 1};
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_histogram *h;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "b";
    fo.bounds = bounds;
    fo.nbounds = 3;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    ck_assert_rc(resil_metrics_histogram_get(f, NULL, &h), 0);
    for (int i = 0; i < 3; i++) {
        resil_metrics_histogram_record(h, bounds[i] * (1 - 2 * fo.rel_error));
        resil_metrics_histogram_record(h, bounds[i] * (1 + 2 * fo.rel_error));
    }
    resil_metrics_histogram_record(h, 0); /* zero bucket: under every bound */
    resil_metrics_histogram_record(h, -1);
    char *p = export(m, RESIL_METRICS_PROMETHEUS);
    contains(p, "b_bucket{le=\"0.01\"} 3\n");
    contains(p, "b_bucket{le=\"0.1\"} 5\n");
    contains(p, "b_bucket{le=\"1\"} 7\n");
    contains(p, "b_bucket{le=\"+Inf\"} 8\n");
    contains(p, "b_count 8\n");
    contains(p, "b_sum 1.2199999999999998\n"); /* 2.22 - 1, summed in order */
    resil_free(p);
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_order_and_empty)
{
    static const char *const names[] = {"k"};
    static const char *const vals[][1] = {{"b"}, {"a"}, {"c"}};
    resil_metrics *m;
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    char *p = export(m, RESIL_METRICS_PROMETHEUS);
    ck_assert_str_eq(p, "");
    resil_free(p);
    char *o = export(m, RESIL_METRICS_OPENMETRICS);
    ck_assert_str_eq(o, "# EOF\n");
    resil_free(o);
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_GAUGE;
    fo.labels = names;
    fo.nlabels = 1;
    fo.name = "unused";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    fo.name = "zeta";
    ck_assert_rc(resil_metrics_family_new(m, &fo, &f), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_rc(resil_metrics_gauge_get(f, vals[i], &g), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "alpha", NULL, &g), 0);
    p = export(m, RESIL_METRICS_PROMETHEUS);
    ck_assert_str_eq(
        p, "# TYPE alpha gauge\nalpha 0\n"
           "# TYPE zeta gauge\nzeta{k=\"a\"} 0\nzeta{k=\"b\"} 0\nzeta{k=\"c\"} 0\n");
    resil_free(p);
    resil_metrics_free(m);
}
END_TEST

/* A decimal comma in the caller's locale must not reach the output (only
 * checkable where such a locale is installed). */
START_TEST(test_locale)
{
    const char *locs[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    resil_metrics *m;
    resil_metrics_gauge *g;
    const char *set = NULL;
    for (size_t i = 0; !set && i < sizeof locs / sizeof locs[0]; i++)
        set = setlocale(LC_NUMERIC, locs[i]);
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "g", NULL, &g), 0);
    resil_metrics_gauge_set(g, 0.5);
    char *p = export(m, RESIL_METRICS_PROMETHEUS);
    contains(p, "g 0.5\n");
    resil_free(p);
    setlocale(LC_NUMERIC, "C");
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_export_args)
{
    resil_metrics *m;
    char *text = (char *)1;
    size_t len = 7;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    ck_assert_rc(resil_metrics_export(NULL, RESIL_METRICS_PROMETHEUS, &text, &len),
                 RESIL_EINVAL);
    ck_assert_ptr_null(text);
    ck_assert_uint_eq(len, 0);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, NULL, &len),
                 RESIL_EINVAL);
    ck_assert_rc(resil_metrics_export(m, (resil_metrics_format)9, &text, &len),
                 RESIL_EINVAL);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_OPENMETRICS, &text, NULL), 0);
    resil_free(text);
    ck_assert_str_eq(resil_metrics_content_type(RESIL_METRICS_PROMETHEUS),
                     "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_str_eq(resil_metrics_content_type(RESIL_METRICS_OPENMETRICS),
                     "application/openmetrics-text; version=1.0.0; charset=utf-8");
    ck_assert_str_eq(resil_metrics_content_type(RESIL_METRICS_JSON), "application/json");
    ck_assert_str_eq(resil_metrics_content_type(RESIL_METRICS_JSON_HISTORY),
                     "application/json");
    ck_assert_ptr_null(resil_metrics_content_type((resil_metrics_format)9));
    resil_metrics_free(m);
}
END_TEST

START_TEST(test_export_alloc_fail)
{
    resil_clock *clk = tu_clock();
    resil_metrics *m = golden_registry(clk);
    long live = tu_alloc_live();
    for (int fmt = 0; fmt < 4; fmt++) {
        int rc = -1;
        for (long n = 0; rc != 0 && n < 1000; n++) {
            char *text = (char *)1;
            tu_alloc_fail_at(n);
            rc = resil_metrics_export(m, (resil_metrics_format)fmt, &text, NULL);
            tu_alloc_reset();
            if (rc == RESIL_ENOTSUP)
                break;
            if (rc != 0) {
                ck_assert_rc(rc, RESIL_ENOMEM);
                ck_assert_ptr_null(text);
                ck_assert_int_eq(tu_alloc_live(), live);
            } else {
                resil_free(text);
            }
        }
        ck_assert(rc == 0 || rc == RESIL_ENOTSUP);
    }
    resil_metrics_free(m);
    resil_clock_free(clk);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_export");
    TCase *tc = tcase_create("export");
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_le_canonical);
    tcase_add_test(tc, test_histogram_buckets);
    tcase_add_test(tc, test_order_and_empty);
    tcase_add_test(tc, test_locale);
    tcase_add_test(tc, test_export_args);
    tcase_add_test(tc, test_export_alloc_fail);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
