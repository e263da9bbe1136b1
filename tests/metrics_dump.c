/* metrics_dump: build a registry with every kind of metric -- label values
 * and help text that need escaping, UTF-8, an overflowing family, rates,
 * history, watchers -- and print its exposition.
 *
 *   tests/metrics_dump prometheus | openmetrics | json | json-history
 *
 * The output is deterministic (manual clocks, fixed inputs): the golden
 * files in tests/golden/ are its output, and check-promtool.sh and
 * check-prometheus.sh feed it to promtool and to a real Prometheus. */
#include <resil/resil.h>
#include <resil/metrics.h>

#include <stdio.h>
#include <string.h>

#define CHECK(expr)                                                                      \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0) {                                                                  \
            fprintf(stderr, "metrics_dump: %s: %s\n", #expr, resil_strerror(rc_));       \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

static uint64_t fixed_rand(void *ctx)
{
    (void)ctx;
    return UINT64_C(0x8000000000000000);
}

static int counters(resil_metrics *m)
{
    static const char *const names[] = {"method", "code"};
    static const char *const get200[] = {"GET", "200"};
    static const char *const post500[] = {"POST", "500"};
    static const char *const nasty[] = {"we\"ird\\path\nline2",
                                        "caf\xc3\xa9 \xe2\x98\x83"};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_counter *c;

    resil_metrics_family_opts_init(&fo);
    fo.name = "resil_dump_requests_total";
    fo.help = "Requests served, by \"method\" and code.\nSecond line: C:\\path";
    fo.labels = names;
    fo.nlabels = 2;
    fo.rate_window_ns = 60 * RESIL_NS_PER_SEC;
    CHECK(resil_metrics_family_new(m, &fo, &f));
    CHECK(resil_metrics_counter_get(f, get200, &c));
    resil_metrics_counter_add(c, 7);
    CHECK(resil_metrics_counter_get(f, post500, &c));
    resil_metrics_counter_add(c, 2);
    CHECK(resil_metrics_counter_get(f, nasty, &c));
    resil_metrics_counter_add(c, 1);

    CHECK(resil_metrics_counter_new(m, "resil_dump_plain",
                                    "A counter named without _total.", &c));
    resil_metrics_counter_add(c, UINT64_C(18446744073709551615));
    return 0;
}

static int gauges(resil_metrics *m)
{
    static const char *const names[] = {"tenant"};
    static const char *const vals[][1] = {{"a"}, {"b"}, {"c"}, {"d"}};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_gauge *g;

    CHECK(resil_metrics_gauge_new(m, "resil_dump_temperature",
                                  "Temperature in \xc2\xb0"
                                  "C.",
                                  &g));
    resil_metrics_gauge_set(g, -3.5);
    CHECK(resil_metrics_gauge_new(m, "resil_dump_big", "A big value.", &g));
    resil_metrics_gauge_set(g, 1.5e21);
    CHECK(resil_metrics_gauge_new(m, "resil_dump_tiny", "A tiny value.", &g));
    resil_metrics_gauge_set(g, 1.25e-7);
    /* a capped family: the 3rd and 4th tenants share the overflow series */
    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_GAUGE;
    fo.name = "resil_dump_tenant_queue";
    fo.help = "Queue length per tenant (at most 2 tenants).";
    fo.labels = names;
    fo.nlabels = 1;
    fo.max_series = 2;
    fo.history = 1;
    CHECK(resil_metrics_family_new(m, &fo, &f));
    for (int i = 0; i < 4; i++) {
        CHECK(resil_metrics_gauge_get(f, vals[i], &g));
        resil_metrics_gauge_add(g, 10 + i);
    }
    /* defined, never used: not exposed */
    fo.name = "resil_dump_unused";
    fo.max_series = 0;
    fo.history = 0;
    CHECK(resil_metrics_family_new(m, &fo, &f));
    return 0;
}

static int histograms(resil_metrics *m, resil_clock *clk)
{
    static const char *const names[] = {"route"};
    static const char *const api[] = {"/api"};
    static const char *const home[] = {"/"};
    static const double lat[] = {0.003, 0.004, 0.007, 0.02, 0.03,
                                 0.04,  0.07,  0.2,   0.3,  3.0};
    static const double sizes[] = {100, 1000, 10000};
    resil_metrics_family_opts fo;
    resil_metrics_family *f;
    resil_metrics_histogram *h;

    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "resil_dump_latency_seconds";
    fo.help = "Request latency.";
    fo.labels = names;
    fo.nlabels = 1;
    fo.history = 1;
    CHECK(resil_metrics_family_new(m, &fo, &f));
    CHECK(resil_metrics_histogram_get(f, api, &h));
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++) {
        resil_metrics_histogram_record(h, lat[i]);
        if (i == 4) {
            CHECK(resil_metrics_history_tick(m));
            resil_clock_manual_advance(clk, RESIL_NS_PER_SEC);
        }
    }
    CHECK(resil_metrics_histogram_get(f, home, &h));
    resil_metrics_histogram_record_ns(h, 1500000); /* 1.5 ms */

    resil_metrics_family_opts_init(&fo);
    fo.type = RESIL_METRICS_HISTOGRAM;
    fo.name = "resil_dump_response_bytes";
    fo.help = "Response sizes.";
    fo.bounds = sizes;
    fo.nbounds = 3;
    CHECK(resil_metrics_family_new(m, &fo, &f));
    CHECK(resil_metrics_histogram_get(f, NULL, &h));
    resil_metrics_histogram_record(h, 0);
    resil_metrics_histogram_record(h, 512);
    resil_metrics_histogram_record(h, 4096);
    resil_metrics_histogram_record(h, 65536);
    return 0;
}

static int watchers(resil_metrics *m, resil_clock *clk, resil_breaker **b,
                    resil_limiter **l)
{
    static const char *const names[] = {"service"};
    static const char *const vals[] = {"youtube_api"};
    resil_breaker_opts bo;
    resil_limiter_opts lo;
    resil_metrics_watch_opts wo;
    resil_breaker_ticket t;
    uint64_t id;

    resil_breaker_opts_init(&bo);
    bo.clock = clk;
    bo.rand = fixed_rand;
    bo.minimum_calls = 100;
    CHECK(resil_breaker_new(&bo, b));
    for (int i = 0; i < 4; i++) {
        CHECK(resil_breaker_acquire(*b, &t));
        CHECK(resil_breaker_record(
            *b, t, i == 0 ? RESIL_OUTCOME_FAILURE : RESIL_OUTCOME_SUCCESS, 1000));
    }
    resil_limiter_opts_init(&lo);
    lo.clock = clk;
    lo.rate = 1;
    lo.burst = 4;
    CHECK(resil_limiter_new(&lo, l));
    for (int i = 0; i < 5; i++)
        resil_limiter_try_acquire(*l, 1, NULL);

    resil_metrics_watch_opts_init(&wo);
    wo.label_names = names;
    wo.label_values = vals;
    wo.nlabels = 1;
    CHECK(resil_metrics_watch_breaker(m, *b, &wo, &id));
    CHECK(resil_metrics_watch_limiter(m, *l, &wo, &id));
    return 0;
}

static int parse_format(const char *s, resil_metrics_format *fmt)
{
    static const struct {
        const char *name;
        resil_metrics_format fmt;
    } fmts[] = {{"prometheus", RESIL_METRICS_PROMETHEUS},
                {"openmetrics", RESIL_METRICS_OPENMETRICS},
                {"json", RESIL_METRICS_JSON},
                {"json-history", RESIL_METRICS_JSON_HISTORY}};
    for (size_t i = 0; s && i < sizeof fmts / sizeof fmts[0]; i++) {
        if (strcmp(s, fmts[i].name) == 0) {
            *fmt = fmts[i].fmt;
            return 0;
        }
    }
    fprintf(stderr, "usage: metrics_dump prometheus|openmetrics|json|json-history\n");
    return 2;
}

static int dump(resil_metrics_format fmt, resil_clock *clk)
{
    resil_metrics_opts o;
    resil_metrics *m;
    resil_breaker *b = NULL;
    resil_limiter *l = NULL;
    char *text = NULL;
    size_t len;
    int rc = 1;

    resil_metrics_opts_init(&o);
    o.clock = clk;
    o.history_len = 4;
    CHECK(resil_metrics_new(&o, &m));
    if (counters(m) == 0 && gauges(m) == 0 && histograms(m, clk) == 0 &&
        watchers(m, clk, &b, &l) == 0 && resil_metrics_history_tick(m) == 0) {
        rc = resil_metrics_export(m, fmt, &text, &len);
        if (rc == 0 && fwrite(text, 1, len, stdout) != len)
            rc = 1;
        else if (rc != 0)
            fprintf(stderr, "metrics_dump: export: %s\n", resil_strerror(rc));
    }
    resil_free(text);
    resil_metrics_free(m);
    resil_breaker_free(b);
    resil_limiter_free(l);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    resil_metrics_format fmt;
    resil_clock *clk;
    if (parse_format(argc > 1 ? argv[1] : NULL, &fmt) != 0)
        return 2;
    CHECK(resil_clock_manual_new(1000 * RESIL_NS_PER_SEC, &clk));
    int rc = dump(fmt, clk);
    resil_clock_free(clk);
    return rc;
}
