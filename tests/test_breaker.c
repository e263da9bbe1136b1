/* Circuit breaker: every transition and configuration edge, driven by a
 * manual clock. */
#include "check_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEC RESIL_NS_PER_SEC
#define MS RESIL_NS_PER_MS

static resil_clock *g_clk;
static long g_live0;

static void setup(void)
{
    g_live0 = tu_alloc_live();
    g_clk = tu_clock();
}

static void teardown(void)
{
    resil_clock_free(g_clk);
    g_clk = NULL;
    ck_assert_int_eq(tu_alloc_live(), g_live0);
}

/* Defaults with the test clock and no jitter, so durations are exact. */
static void opts(resil_breaker_opts *o)
{
    resil_breaker_opts_init(o);
    o->clock = g_clk;
    o->open_jitter = 0.0;
}

static void opts_time(resil_breaker_opts *o, uint32_t buckets)
{
    opts(o);
    o->window = RESIL_WINDOW_TIME;
    o->window_size = buckets;
    o->bucket_ns = SEC;
}

static resil_breaker *mk(const resil_breaker_opts *o)
{
    resil_breaker *b = NULL;
    ck_assert_rc(resil_breaker_new(o, &b), 0);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void rec(resil_breaker *b, resil_outcome oc, int64_t dur)
{
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_record(b, t, oc, dur), 0);
}

static void ok(resil_breaker *b)
{
    rec(b, RESIL_OUTCOME_SUCCESS, 0);
}

static void bad(resil_breaker *b)
{
    rec(b, RESIL_OUTCOME_FAILURE, 0);
}

static void adv(int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(g_clk, ns), 0);
}

static resil_breaker_stats stats(resil_breaker *b)
{
    resil_breaker_stats st;
    resil_breaker_stats_get(b, &st);
    return st;
}

#define ck_state(b, s) ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_##s)

/* A breaker that opens on its first failure (minimum_calls 1, rate 1). */
static void opts_trip_on_first(resil_breaker_opts *o)
{
    opts(o);
    o->minimum_calls = 1;
    o->failure_rate = 1.0;
    o->half_open_probes = 1;
}

/* Open b (built with opts_trip_on_first) and wait out the OPEN period. */
static void to_half_open(resil_breaker *b)
{
    bad(b);
    ck_state(b, OPEN);
    adv(resil_breaker_retry_in(b));
    ck_state(b, HALF_OPEN);
}

/* --- options and arguments ---------------------------------------------- */

START_TEST(test_opts_init_defaults)
{
    resil_breaker_opts o;
    memset(&o, 0xA5, sizeof o);
    resil_breaker_opts_init(&o);
    ck_assert_ptr_null(o.name);
    ck_assert_int_eq(o.window, RESIL_WINDOW_COUNT);
    ck_assert_uint_eq(o.window_size, 100);
    ck_assert_int_eq(o.bucket_ns, SEC);
    ck_assert_uint_eq(o.minimum_calls, 10);
    ck_assert_double_eq(o.failure_rate, 0.5);
    ck_assert_double_eq(o.slow_call_rate, 0.0);
    ck_assert_int_eq(o.slow_call_ns, 0);
    ck_assert_uint_eq(o.failure_count, 0);
    ck_assert_uint_eq(o.half_open_probes, 3);
    ck_assert_int_eq(o.probe_timeout_ns, 30 * SEC);
    ck_assert_int_eq(o.open_base_ns, 5 * SEC);
    ck_assert_double_eq(o.open_multiplier, 2.0);
    ck_assert_int_eq(o.open_max_ns, 300 * SEC);
    ck_assert_double_eq(o.open_jitter, 0.1);
    ck_assert_ptr_null(o.clock);
    ck_assert_ptr_null(o.rand);
    ck_assert_ptr_null(o.rand_ctx);
    ck_assert_ptr_null(o.on_state_change);
    ck_assert_ptr_null(o.cb_ctx);
    for (size_t i = 0; i < sizeof o.reserved_ / sizeof o.reserved_[0]; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_breaker_opts_init(NULL); /* no crash */
}
END_TEST

/* Each entry breaks one option. */
static void bad_window(resil_breaker_opts *o)
{
    o->window = (resil_breaker_window)2;
}
static void bad_size0(resil_breaker_opts *o)
{
    o->window_size = 0;
}
static void bad_size_big(resil_breaker_opts *o)
{
    o->window_size = 65537;
}
static void bad_bucket0(resil_breaker_opts *o)
{
    o->window = RESIL_WINDOW_TIME;
    o->bucket_ns = 0;
}
static void bad_bucket_neg(resil_breaker_opts *o)
{
    o->window = RESIL_WINDOW_TIME;
    o->bucket_ns = -1;
}
static void bad_rate_neg(resil_breaker_opts *o)
{
    o->failure_rate = -0.01;
}
static void bad_rate_big(resil_breaker_opts *o)
{
    o->failure_rate = 1.01;
}
static void bad_rate_nan(resil_breaker_opts *o)
{
    o->failure_rate = NAN;
}
static void bad_slow_rate_neg(resil_breaker_opts *o)
{
    o->slow_call_rate = -1.0;
}
static void bad_slow_rate_big(resil_breaker_opts *o)
{
    o->slow_call_rate = 2.0;
}
static void bad_slow_rate_nan(resil_breaker_opts *o)
{
    o->slow_call_rate = NAN;
}
static void bad_slow_ns(resil_breaker_opts *o)
{
    o->slow_call_ns = -1;
}
static void bad_probes0(resil_breaker_opts *o)
{
    o->half_open_probes = 0;
}
static void bad_probes65(resil_breaker_opts *o)
{
    o->half_open_probes = 65;
}
static void bad_timeout0(resil_breaker_opts *o)
{
    o->probe_timeout_ns = 0;
}
static void bad_timeout_neg(resil_breaker_opts *o)
{
    o->probe_timeout_ns = -5;
}
static void bad_base0(resil_breaker_opts *o)
{
    o->open_base_ns = 0;
}
static void bad_base_neg(resil_breaker_opts *o)
{
    o->open_base_ns = -SEC;
}
static void bad_max(resil_breaker_opts *o)
{
    o->open_max_ns = o->open_base_ns - 1;
}
static void bad_mult(resil_breaker_opts *o)
{
    o->open_multiplier = 0.99;
}
static void bad_mult_nan(resil_breaker_opts *o)
{
    o->open_multiplier = NAN;
}
static void bad_mult_inf(resil_breaker_opts *o)
{
    o->open_multiplier = INFINITY;
}
static void bad_jitter1(resil_breaker_opts *o)
{
    o->open_jitter = 1.0;
}
static void bad_jitter_neg(resil_breaker_opts *o)
{
    o->open_jitter = -0.1;
}
static void bad_jitter_nan(resil_breaker_opts *o)
{
    o->open_jitter = NAN;
}

static void (*const g_bad_opts[])(resil_breaker_opts *) = {
    bad_window,        bad_size0,    bad_size_big, bad_bucket0,       bad_bucket_neg,
    bad_rate_neg,      bad_rate_big, bad_rate_nan, bad_slow_rate_neg, bad_slow_rate_big,
    bad_slow_rate_nan, bad_slow_ns,  bad_probes0,  bad_probes65,      bad_timeout0,
    bad_timeout_neg,   bad_base0,    bad_base_neg, bad_max,           bad_mult,
    bad_mult_nan,      bad_mult_inf, bad_jitter1,  bad_jitter_neg,    bad_jitter_nan,
};
#define N_BAD_OPTS ((int)(sizeof g_bad_opts / sizeof g_bad_opts[0]))

START_TEST(test_new_invalid_option)
{
    resil_breaker_opts o;
    opts(&o);
    g_bad_opts[_i](&o);
    resil_breaker *b = (resil_breaker *)&o; /* must be overwritten */
    ck_assert_rc(resil_breaker_new(&o, &b), RESIL_EINVAL);
    ck_assert_ptr_null(b);
}
END_TEST

/* The limits themselves are accepted. */
static void edge_a(resil_breaker_opts *o)
{
    o->window_size = 1;
    o->failure_rate = 0.0;
    o->slow_call_rate = 1.0;
    o->half_open_probes = 1;
    o->open_multiplier = 1.0;
    o->open_max_ns = o->open_base_ns;
    o->bucket_ns = 0; /* ignored by a count window */
}

static void edge_b(resil_breaker_opts *o)
{
    o->window = RESIL_WINDOW_TIME;
    o->window_size = 65536;
    o->bucket_ns = 1;
    o->failure_rate = 1.0;
    o->half_open_probes = 64;
    o->open_jitter = 0.999;
    o->probe_timeout_ns = 1;
    o->open_base_ns = 1;
}

START_TEST(test_new_edges_accepted)
{
    void (*const edges[])(resil_breaker_opts *) = {edge_a, edge_b};
    for (size_t i = 0; i < 2; i++) {
        resil_breaker_opts o;
        opts(&o);
        edges[i](&o);
        resil_breaker *b = mk(&o);
        ok(b);
        ck_assert_uint_eq(stats(b).calls, 1);
        resil_breaker_free(b);
    }
}
END_TEST

START_TEST(test_bad_arguments)
{
    resil_breaker_opts o;
    opts(&o);
    resil_breaker *b = NULL;
    ck_assert_rc(resil_breaker_new(NULL, &b), RESIL_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_rc(resil_breaker_new(&o, NULL), RESIL_EINVAL);
    b = mk(&o);
    resil_breaker_ticket t = 0;
    ck_assert_rc(resil_breaker_acquire(NULL, &t), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_acquire(b, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_acquire_at(NULL, 0, &t), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_acquire_at(b, 0, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_record(NULL, t, RESIL_OUTCOME_SUCCESS, 0), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record_at(NULL, 0, t, RESIL_OUTCOME_SUCCESS, 0),
                 RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, t, (resil_outcome)3, 0), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, t, (resil_outcome)-1, 0), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_SUCCESS, -1), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, 0, RESIL_OUTCOME_SUCCESS, 0), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, 0, RESIL_OUTCOME_FAILURE, 0), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, ~t, RESIL_OUTCOME_SUCCESS, 0), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_record(b, UINT64_MAX, RESIL_OUTCOME_SUCCESS, 0),
                 RESIL_EINVAL);
    /* the same ticket from a generation that does not exist yet */
    ck_assert_rc(
        resil_breaker_record(b, t + (UINT64_C(1) << 40), RESIL_OUTCOME_FAILURE, 0),
        RESIL_EINVAL);
    /* none of the refused records counted */
    ck_assert_uint_eq(stats(b).calls, 0);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_assert_uint_eq(stats(b).calls, 1);
    ck_assert_int_eq(resil_breaker_state_get(NULL), RESIL_BREAKER_CLOSED);
    ck_assert_int_eq(resil_breaker_retry_in(NULL), 0);
    ck_assert_rc(resil_breaker_set_mode(NULL, RESIL_BREAKER_NORMAL), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_set_mode(b, (resil_breaker_mode)4), RESIL_EINVAL);
    ck_assert_rc(resil_breaker_set_mode(b, (resil_breaker_mode)-1), RESIL_EINVAL);
    resil_breaker_reset(NULL);
    resil_breaker_stats st;
    memset(&st, 0xFF, sizeof st);
    resil_breaker_stats_get(NULL, &st);
    ck_assert_uint_eq(st.calls, 0);
    ck_assert_uint_eq(st.rejections, 0);
    resil_breaker_stats_get(b, NULL);
    ck_assert_str_eq(resil_breaker_name(NULL), "");
    resil_breaker_free(NULL);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_name_and_state_name)
{
    char name[] = "payments";
    resil_breaker_opts o;
    opts(&o);
    o.name = name;
    resil_breaker *b = mk(&o);
    name[0] = 'X';
    ck_assert_str_eq(resil_breaker_name(b), "payments");
    resil_breaker_free(b);
    o.name = NULL;
    b = mk(&o);
    ck_assert_str_eq(resil_breaker_name(b), "");
    resil_breaker_free(b);
    ck_assert_str_eq(resil_breaker_state_name(RESIL_BREAKER_CLOSED), "CLOSED");
    ck_assert_str_eq(resil_breaker_state_name(RESIL_BREAKER_OPEN), "OPEN");
    ck_assert_str_eq(resil_breaker_state_name(RESIL_BREAKER_HALF_OPEN), "HALF_OPEN");
    ck_assert_str_eq(resil_breaker_state_name((resil_breaker_state)3), "UNKNOWN");
    ck_assert_str_eq(resil_breaker_state_name((resil_breaker_state)-1), "UNKNOWN");
}
END_TEST

START_TEST(test_new_alloc_failure)
{
    resil_breaker_opts o;
    opts(&o);
    o.name = "x";
    o.window = _i ? RESIL_WINDOW_TIME : RESIL_WINDOW_COUNT;
    long live = tu_alloc_live();
    int rc = RESIL_ENOMEM;
    for (long n = 0; rc == RESIL_ENOMEM; n++) {
        ck_assert_int_lt(n, 20);
        resil_breaker *b = (resil_breaker *)&o;
        tu_alloc_fail_at(n);
        rc = resil_breaker_new(&o, &b);
        tu_alloc_reset();
        if (rc == RESIL_ENOMEM) {
            ck_assert_ptr_null(b);
            ck_assert_int_eq(tu_alloc_live(), live);
        } else {
            ck_assert_rc(rc, 0);
            ck_assert_int_ge(n, 3); /* breaker, name, window */
            resil_breaker_free(b);
        }
    }
}
END_TEST

/* --- CLOSED -> OPEN: count window ---------------------------------------- */

START_TEST(test_minimum_calls_boundary)
{
    resil_breaker_opts o;
    opts(&o);
    o.minimum_calls = 10;
    o.failure_rate = 0.5;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 9; i++)
        bad(b);
    ck_state(b, CLOSED); /* 9 failures out of 9: not judged yet */
    ck_assert_uint_eq(stats(b).window_failures, 9);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* The success that brings the window to minimum_calls is judged too. */
START_TEST(test_minimum_calls_reached_by_success)
{
    resil_breaker_opts o;
    opts(&o);
    o.minimum_calls = 10;
    o.failure_rate = 0.5;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 5; i++)
        bad(b);
    for (int i = 0; i < 4; i++)
        ok(b);
    ck_state(b, CLOSED);
    ok(b); /* 5 of 10 */
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* A count window smaller than minimum_calls judges once it is full; a time
 * window counts calls, not buckets, so it still needs minimum_calls. */
START_TEST(test_minimum_calls_capped_by_window)
{
    resil_breaker_opts o;
    if (_i)
        opts_time(&o, 5);
    else
        opts(&o);
    o.window_size = 5;
    o.minimum_calls = 10;
    resil_breaker *b = mk(&o);
    int need = _i ? 10 : 5;
    for (int i = 0; i < need - 1; i++)
        bad(b);
    ck_state(b, CLOSED);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_failure_rate_boundary)
{
    resil_breaker_opts o;
    opts(&o);
    o.window_size = 10;
    o.minimum_calls = 10;
    o.failure_rate = 0.3;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 8; i++)
        ok(b);
    bad(b);
    bad(b);
    ck_state(b, CLOSED); /* 0.2 */
    ck_assert_double_eq_tol(stats(b).failure_rate, 0.2, 1e-12);
    bad(b); /* the window slides: 3 of the last 10, exactly 0.3 */
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_count_window_slides)
{
    resil_breaker_opts o;
    opts(&o);
    o.window_size = 3;
    o.failure_rate = 0.0; /* count rule only */
    o.failure_count = 2;
    resil_breaker *b = mk(&o);
    bad(b);
    ok(b);
    ok(b);
    bad(b); /* window S S F: the first failure left it */
    ck_state(b, CLOSED);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.window_calls, 3);
    ck_assert_uint_eq(st.window_failures, 1);
    ck_assert_uint_eq(st.failures, 2);
    bad(b); /* S F F */
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_failure_count_ignores_minimum_calls)
{
    resil_breaker_opts o;
    opts(&o);
    o.minimum_calls = 100;
    o.failure_count = 3;
    resil_breaker *b = mk(&o);
    bad(b);
    bad(b);
    ck_state(b, CLOSED);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_rules_off_never_trip)
{
    resil_breaker_opts o;
    opts(&o);
    o.failure_rate = 0.0;
    o.minimum_calls = 1;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 300; i++)
        bad(b);
    ck_state(b, CLOSED);
    ck_assert_uint_eq(stats(b).window_failures, 100);
    ck_assert_uint_eq(stats(b).window_calls, 100);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_slow_call_rule)
{
    resil_breaker_opts o;
    opts(&o);
    o.window_size = 4;
    o.minimum_calls = 4;
    o.failure_rate = 0.0;
    o.slow_call_ns = 100 * MS;
    o.slow_call_rate = 0.5;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 4; i++)
        rec(b, RESIL_OUTCOME_SUCCESS, 100 * MS - 1);
    ck_state(b, CLOSED);
    ck_assert_uint_eq(stats(b).slow_calls, 0);
    rec(b, RESIL_OUTCOME_SUCCESS, 100 * MS); /* exactly slow_call_ns is slow */
    ck_state(b, CLOSED);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.slow_calls, 1);
    ck_assert_uint_eq(st.window_slow, 1);
    ck_assert_double_eq_tol(st.slow_call_rate, 0.25, 1e-12);
    rec(b, RESIL_OUTCOME_FAILURE, INT64_MAX); /* a slow failure is slow too */
    ck_state(b, OPEN);
    st = stats(b);
    ck_assert_uint_eq(st.slow_calls, 2);
    ck_assert_uint_eq(st.failures, 1);
    resil_breaker_free(b);
}
END_TEST

/* slow_call_ns without slow_call_rate counts slow calls but never trips. */
START_TEST(test_slow_counted_rule_off)
{
    resil_breaker_opts o;
    opts(&o);
    o.minimum_calls = 1;
    o.slow_call_ns = 10;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 20; i++)
        rec(b, RESIL_OUTCOME_SUCCESS, 10);
    rec(b, RESIL_OUTCOME_IGNORED, 10); /* ignored calls are never slow */
    ck_state(b, CLOSED);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.slow_calls, 20);
    ck_assert_uint_eq(st.window_slow, 20);
    ck_assert_uint_eq(st.ignored, 1);
    ck_assert_uint_eq(st.window_calls, 20);
    resil_breaker_free(b);
}
END_TEST

/* --- time window ---------------------------------------------------------- */

START_TEST(test_time_window_expiry)
{
    resil_breaker_opts o;
    opts_time(&o, 3);
    o.minimum_calls = 4;
    resil_breaker *b = mk(&o);
    bad(b);
    bad(b);
    ck_assert_uint_eq(stats(b).window_failures, 2);
    adv(2 * SEC);
    ck_assert_uint_eq(stats(b).window_failures, 2); /* buckets 0..2 */
    adv(SEC);
    resil_breaker_stats st = stats(b); /* bucket 0 is gone */
    ck_assert_uint_eq(st.window_calls, 0);
    ck_assert_uint_eq(st.window_failures, 0);
    ok(b);
    ok(b);
    ck_state(b, CLOSED); /* 2 calls in the window, not 2 of 4 */
    st = stats(b);
    ck_assert_uint_eq(st.window_calls, 2);
    ck_assert_uint_eq(st.calls, 4);
    ck_assert_uint_eq(st.failures, 2);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_time_window_spans_buckets)
{
    resil_breaker_opts o;
    opts_time(&o, 3);
    o.minimum_calls = 4;
    resil_breaker *b = mk(&o);
    bad(b);
    bad(b);
    adv(SEC);
    ok(b);
    adv(SEC);
    ck_state(b, CLOSED);
    ck_assert_uint_eq(stats(b).window_calls, 3);
    ok(b); /* 2 of 4 over three buckets */
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* Old successes leaving the window raise the rate: judged on the next call. */
START_TEST(test_time_window_expiry_trips)
{
    resil_breaker_opts o;
    opts_time(&o, 2);
    o.minimum_calls = 3;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 3; i++)
        ok(b);
    adv(SEC);
    bad(b);
    bad(b);
    ck_state(b, CLOSED);                         /* 2 of 5 */
    ck_assert_uint_eq(stats(b).window_calls, 5); /* bucket 0 kept its 3 */
    adv(SEC);
    ok(b); /* bucket 0 left: F F S */
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_time_window_record_at)
{
    resil_breaker_opts o;
    opts_time(&o, 3);
    o.failure_rate = 0.0;
    resil_breaker *b = mk(&o);
    int64_t t0 = resil_clock_now(g_clk);
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire_at(b, t0 + 5 * SEC, &t), 0);
    ck_assert_rc(resil_breaker_record_at(b, t0 + 5 * SEC, t, RESIL_OUTCOME_SUCCESS, 0),
                 0);
    /* an older time still inside the window (buckets 3..5) */
    ck_assert_rc(resil_breaker_acquire_at(b, t0 + 3 * SEC, &t), 0);
    ck_assert_rc(resil_breaker_record_at(b, t0 + 3 * SEC, t, RESIL_OUTCOME_FAILURE, 0),
                 0);
    /* older than the window: counted as a call, not in the window */
    ck_assert_rc(resil_breaker_acquire_at(b, t0, &t), 0);
    ck_assert_rc(resil_breaker_record_at(b, t0, t, RESIL_OUTCOME_FAILURE, 0), 0);
    adv(5 * SEC);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.window_calls, 2);
    ck_assert_uint_eq(st.window_failures, 1);
    ck_assert_uint_eq(st.calls, 3);
    ck_assert_uint_eq(st.failures, 2);
    adv(SEC); /* bucket 3 leaves */
    st = stats(b);
    ck_assert_uint_eq(st.window_calls, 1);
    ck_assert_uint_eq(st.window_failures, 0);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_time_window_negative_clock)
{
    resil_clock *c = NULL;
    ck_assert_rc(resil_clock_manual_new(-3 * SEC / 2, &c), 0);
    resil_breaker_opts o;
    opts_time(&o, 2);
    o.clock = c;
    o.failure_rate = 0.0;
    resil_breaker *b = mk(&o);
    bad(b); /* epoch -2 */
    ck_assert_rc(resil_clock_manual_advance(c, SEC), 0);
    bad(b); /* epoch -1 */
    resil_breaker_stats st;
    resil_breaker_stats_get(b, &st);
    ck_assert_uint_eq(st.window_failures, 2);
    ck_assert_rc(resil_clock_manual_advance(c, SEC), 0); /* epoch 0 */
    resil_breaker_stats_get(b, &st);
    ck_assert_uint_eq(st.window_failures, 1);
    resil_breaker_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(test_window_size_one)
{
    resil_breaker_opts o;
    if (_i)
        opts_time(&o, 1);
    else
        opts(&o);
    o.window_size = 1;
    o.minimum_calls = 1;
    o.failure_rate = 1.0;
    resil_breaker *b = mk(&o);
    ok(b);
    ok(b);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.window_calls, _i ? 2 : 1);
    adv(SEC);
    ok(b);
    ck_assert_uint_eq(stats(b).window_calls, 1);
    adv(SEC);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* A success read against the clock (no _at) lands in the current bucket. */
START_TEST(test_time_window_many_buckets)
{
    resil_breaker_opts o;
    opts_time(&o, 100);
    o.bucket_ns = 10 * MS;
    o.failure_rate = 0.0;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 250; i++) {
        ok(b);
        if (i % 5 == 0)
            bad(b);
        adv(10 * MS);
    }
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.calls, 300);
    ck_assert_uint_eq(st.window_calls, 99 + 19); /* the last 99 buckets */
    ck_assert_uint_eq(st.window_failures, 19);
    adv(100 * 10 * MS);
    ck_assert_uint_eq(stats(b).window_calls, 0);
    resil_breaker_reset(b);
    ck_assert_uint_eq(stats(b).calls, 300);
    resil_breaker_free(b);
}
END_TEST

/* --- OPEN period ------------------------------------------------------------ */

START_TEST(test_open_duration_growth_and_reset)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.open_base_ns = SEC;
    o.open_max_ns = 5 * SEC;
    resil_breaker *b = mk(&o);
    bad(b);
    ck_assert_int_eq(resil_breaker_retry_in(b), SEC);
    ck_assert_int_eq(stats(b).open_duration_ns, SEC);
    const int64_t want[] = {2 * SEC, 4 * SEC, 5 * SEC, 5 * SEC};
    for (int k = 0; k < 4; k++) {
        adv(resil_breaker_retry_in(b));
        ck_state(b, HALF_OPEN);
        ck_assert_int_eq(stats(b).open_duration_ns, want[k]); /* if it fails */
        bad(b); /* the probe fails: re-open, longer */
        ck_state(b, OPEN);
        ck_assert_int_eq(resil_breaker_retry_in(b), want[k]);
        ck_assert_int_eq(stats(b).open_duration_ns, want[k]);
    }
    ck_assert_uint_eq(stats(b).opens, 5);
    adv(resil_breaker_retry_in(b));
    ok(b); /* recovery: back to the base */
    ck_state(b, CLOSED);
    ck_assert_int_eq(stats(b).open_duration_ns, SEC);
    bad(b);
    ck_assert_int_eq(resil_breaker_retry_in(b), SEC);
    adv(SEC);
    bad(b);
    ck_assert_int_eq(resil_breaker_retry_in(b), 2 * SEC);
    resil_breaker_reset(b); /* reset: back to the base too */
    ck_state(b, CLOSED);
    ck_assert_int_eq(stats(b).open_duration_ns, SEC);
    bad(b);
    ck_assert_int_eq(resil_breaker_retry_in(b), SEC);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_multiplier_one)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.open_multiplier = 1.0;
    resil_breaker *b = mk(&o);
    for (int k = 0; k < 3; k++) {
        if (k > 0)
            adv(resil_breaker_retry_in(b));
        bad(b);
        ck_assert_int_eq(resil_breaker_retry_in(b), o.open_base_ns);
    }
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_jitter_bounds)
{
    uint64_t bits = 0;
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.open_base_ns = 2 * SEC;
    o.open_max_ns = 10 * SEC;
    o.open_jitter = 0.5;
    o.rand = tu_rand_fixed;
    o.rand_ctx = &bits;
    resil_breaker *b = mk(&o);
    bad(b);
    ck_assert_int_eq(resil_breaker_retry_in(b), SEC); /* 2 s * (1 - 0.5) */
    resil_breaker_reset(b);
    bits = UINT64_MAX;
    bad(b);
    int64_t d = resil_breaker_retry_in(b);
    ck_assert_int_le(d, 3 * SEC); /* 2 s * (1 + 0.5), just under */
    ck_assert_int_ge(d, 3 * SEC - 1);
    ck_assert_int_eq(stats(b).open_duration_ns, d);
    resil_breaker_free(b);
    o.open_max_ns = 5 * SEC / 2; /* the jittered length is capped */
    b = mk(&o);
    bad(b);
    ck_assert_int_eq(resil_breaker_retry_in(b), 5 * SEC / 2);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_jitter_default_rng)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.open_base_ns = 10 * SEC;
    o.open_jitter = 0.1;
    resil_breaker *b = mk(&o);
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 50; i++) {
        bad(b);
        int64_t d = resil_breaker_retry_in(b);
        ck_assert_int_ge(d, 9 * SEC);
        ck_assert_int_le(d, 11 * SEC);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        resil_breaker_reset(b);
    }
    ck_assert_int_lt(lo, hi); /* it does vary */
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_retry_in_and_lazy_half_open)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    resil_breaker *b = mk(&o);
    ck_assert_int_eq(resil_breaker_retry_in(b), 0); /* CLOSED */
    bad(b);
    resil_breaker_ticket t = 1;
    ck_assert_rc(resil_breaker_acquire(b, &t), RESIL_EOPEN);
    ck_assert_uint_eq(t, 0);
    adv(SEC);
    ck_assert_int_eq(resil_breaker_retry_in(b), 4 * SEC);
    adv(4 * SEC - 1);
    ck_assert_int_eq(resil_breaker_retry_in(b), 1);
    ck_assert_rc(resil_breaker_acquire(b, &t), RESIL_EOPEN);
    ck_assert_int_eq(stats(b).rejections, 2);
    adv(1);
    /* retry_in moves it on, like state_get and acquire do */
    ck_assert_int_eq(resil_breaker_retry_in(b), 0);
    ck_assert_int_eq(stats(b).state, RESIL_BREAKER_HALF_OPEN);
    ck_assert_int_eq(resil_breaker_retry_in(b), 0);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_acquire_at_explicit_time)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    resil_breaker *b = mk(&o);
    int64_t t0 = resil_clock_now(g_clk);
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire_at(b, t0, &t), 0);
    ck_assert_rc(resil_breaker_record_at(b, t0, t, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_assert_rc(resil_breaker_acquire_at(b, t0 + 5 * SEC - 1, &t), RESIL_EOPEN);
    ck_assert_rc(resil_breaker_acquire_at(b, t0 + 5 * SEC, &t), 0); /* a probe */
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_HALF_OPEN);
    ck_assert_rc(resil_breaker_record_at(b, t0 + 5 * SEC, t, RESIL_OUTCOME_SUCCESS, 0),
                 0);
    ck_state(b, CLOSED);
    ck_assert_int_eq(resil_clock_now(g_clk), t0); /* the clock never moved */
    resil_breaker_free(b);
}
END_TEST

/* --- HALF_OPEN ------------------------------------------------------------- */

START_TEST(test_probe_limit)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.half_open_probes = 2;
    o.failure_rate = 0.5;
    resil_breaker *b = mk(&o);
    to_half_open(b);
    resil_breaker_ticket t1, t2, t3;
    ck_assert_rc(resil_breaker_acquire(b, &t1), 0);
    ck_assert_rc(resil_breaker_acquire(b, &t2), 0);
    ck_assert_rc(resil_breaker_acquire(b, &t3), RESIL_EPROBES);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.probes_in_flight, 2);
    ck_assert_uint_eq(st.rejections, 1);
    ck_assert_rc(resil_breaker_record(b, t1, RESIL_OUTCOME_SUCCESS, 0), 0);
    /* one outcome in, one probe out: still no third probe */
    ck_assert_rc(resil_breaker_acquire(b, &t3), RESIL_EPROBES);
    ck_assert_uint_eq(stats(b).probes_in_flight, 1);
    ck_state(b, HALF_OPEN);
    ck_assert_rc(resil_breaker_record(b, t2, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, CLOSED);
    ck_assert_uint_eq(stats(b).probes_in_flight, 0);
    ck_assert_uint_eq(stats(b).window_calls, 0); /* probes are not in the window */
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_probe_limit_64)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.half_open_probes = 64;
    resil_breaker *b = mk(&o);
    to_half_open(b);
    resil_breaker_ticket t[65];
    for (int i = 0; i < 64; i++)
        ck_assert_rc(resil_breaker_acquire(b, &t[i]), 0);
    ck_assert_rc(resil_breaker_acquire(b, &t[64]), RESIL_EPROBES);
    ck_assert_uint_eq(stats(b).probes_in_flight, 64);
    for (int i = 0; i < 63; i++)
        ck_assert_rc(resil_breaker_record(b, t[i], RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, HALF_OPEN);
    ck_assert_rc(resil_breaker_record(b, t[63], RESIL_OUTCOME_FAILURE, 0), 0);
    ck_state(b, CLOSED); /* 1/64 < 1.0 */
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_probe_verdict_waits_for_all)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.half_open_probes = 3;
    o.failure_rate = 0.5;
    resil_breaker *b = mk(&o);
    to_half_open(b);
    bad(b);
    ok(b);
    ck_state(b, HALF_OPEN);
    ok(b); /* 1 of 3 failed */
    ck_state(b, CLOSED);
    to_half_open(b);
    bad(b);
    bad(b);
    ck_state(b, HALF_OPEN); /* no early verdict: see the man page */
    ok(b);                  /* 2 of 3 */
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_probe_count_and_slow_rules)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.failure_rate = 0.0;
    o.failure_count = 5; /* more than the probes: all probes failing reopens */
    o.half_open_probes = 2;
    resil_breaker *b = mk(&o);
    for (int i = 0; i < 5; i++)
        bad(b);
    ck_state(b, OPEN);
    adv(resil_breaker_retry_in(b));
    bad(b);
    ok(b);
    ck_state(b, CLOSED);
    for (int i = 0; i < 5; i++)
        bad(b);
    adv(resil_breaker_retry_in(b));
    bad(b);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);

    opts_trip_on_first(&o);
    o.failure_rate = 0.0;
    o.slow_call_ns = 10;
    o.slow_call_rate = 0.5;
    o.half_open_probes = 2;
    b = mk(&o);
    rec(b, RESIL_OUTCOME_SUCCESS, 10);
    ck_state(b, OPEN);
    adv(resil_breaker_retry_in(b));
    rec(b, RESIL_OUTCOME_SUCCESS, 9);
    rec(b, RESIL_OUTCOME_SUCCESS, 10);
    ck_state(b, OPEN); /* half the probes were slow */
    adv(resil_breaker_retry_in(b));
    rec(b, RESIL_OUTCOME_SUCCESS, 9);
    rec(b, RESIL_OUTCOME_SUCCESS, 9);
    ck_state(b, CLOSED);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_probe_timeout_reaped)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.half_open_probes = 2;
    o.failure_rate = 0.5;
    o.probe_timeout_ns = 10 * SEC;
    resil_breaker *b = mk(&o);
    to_half_open(b);
    resil_breaker_ticket t1, t2;
    ck_assert_rc(resil_breaker_acquire(b, &t1), 0);
    ck_assert_rc(resil_breaker_acquire(b, &t2), 0);
    adv(10 * SEC - 1);
    ck_state(b, HALF_OPEN);
    ck_assert_uint_eq(stats(b).probes_in_flight, 2);
    adv(1);
    ck_state(b, OPEN); /* both probes expired: two failures */
    ck_assert_int_eq(resil_breaker_retry_in(b), 10 * SEC);
    uint64_t calls = stats(b).calls;
    /* the stragglers report at last: counted, judged no more */
    ck_assert_rc(resil_breaker_record(b, t1, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_assert_rc(resil_breaker_record(b, t2, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_assert_uint_eq(stats(b).calls, calls + 2);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* One probe expires, the other reports: the expired one is a failure. */
START_TEST(test_probe_timeout_mixed)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.half_open_probes = 2;
    o.failure_rate = 0.5;
    o.probe_timeout_ns = 10 * SEC;
    resil_breaker *b = mk(&o);
    to_half_open(b);
    resil_breaker_ticket t1, t2, t3;
    ck_assert_rc(resil_breaker_acquire(b, &t1), 0);
    adv(5 * SEC);
    ck_assert_rc(resil_breaker_acquire(b, &t2), 0);
    adv(5 * SEC);
    /* acquire reaps t1; its slot is not handed out again */
    ck_assert_rc(resil_breaker_acquire(b, &t3), RESIL_EPROBES);
    ck_assert_uint_eq(stats(b).probes_in_flight, 1);
    ck_assert_rc(resil_breaker_record(b, t1, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, HALF_OPEN);
    ck_assert_rc(resil_breaker_record(b, t2, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, OPEN); /* 1 of 2 failed (the expired one) */
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_ignored_frees_probe)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    resil_breaker *b = mk(&o);
    to_half_open(b);
    resil_breaker_ticket t1, t2;
    ck_assert_rc(resil_breaker_acquire(b, &t1), 0);
    ck_assert_rc(resil_breaker_acquire(b, &t2), RESIL_EPROBES);
    ck_assert_rc(resil_breaker_record(b, t1, RESIL_OUTCOME_IGNORED, 0), 0);
    ck_state(b, HALF_OPEN);
    ck_assert_uint_eq(stats(b).ignored, 1);
    ck_assert_rc(resil_breaker_acquire(b, &t2), 0);
    ck_assert_rc(resil_breaker_record(b, t2, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, CLOSED);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_probe_recorded_twice)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.half_open_probes = 2;
    resil_breaker *b = mk(&o);
    to_half_open(b);
    resil_breaker_ticket t1, t2;
    ck_assert_rc(resil_breaker_acquire(b, &t1), 0);
    ck_assert_rc(resil_breaker_acquire(b, &t2), 0);
    ck_assert_rc(resil_breaker_record(b, t1, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_assert_rc(resil_breaker_record(b, t1, RESIL_OUTCOME_SUCCESS, 0), RESIL_EINVAL);
    ck_state(b, HALF_OPEN);
    ck_assert_rc(resil_breaker_record(b, t2, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, CLOSED);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_late_ticket_not_counted)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    resil_breaker *b = mk(&o);
    resil_breaker_ticket old;
    ck_assert_rc(resil_breaker_acquire(b, &old), 0);
    resil_breaker_reset(b); /* a new generation of CLOSED */
    ck_assert_rc(resil_breaker_record(b, old, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_state(b, CLOSED);
    resil_breaker_stats st = stats(b);
    ck_assert_uint_eq(st.calls, 1);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.window_calls, 0);
    /* a CLOSED ticket recorded in HALF_OPEN is not a probe outcome */
    ck_assert_rc(resil_breaker_acquire(b, &old), 0);
    to_half_open(b);
    ck_assert_rc(resil_breaker_record(b, old, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_state(b, HALF_OPEN);
    /* a probe recorded after the breaker moved on */
    ck_assert_rc(resil_breaker_acquire(b, &old), 0);
    resil_breaker_reset(b);
    ck_assert_rc(resil_breaker_record(b, old, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_state(b, CLOSED);
    ck_assert_uint_eq(stats(b).window_failures, 0);
    ck_assert_uint_eq(stats(b).calls, 4);
    resil_breaker_free(b);
}
END_TEST

/* --- modes ------------------------------------------------------------------ */

START_TEST(test_mode_forced_open)
{
    resil_breaker_opts o;
    opts(&o);
    resil_breaker *b = mk(&o);
    ok(b);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    ck_state(b, OPEN);
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), RESIL_EOPEN);
    ck_assert_rc(resil_breaker_acquire_at(b, INT64_MAX, &t), RESIL_EOPEN);
    ck_assert_int_eq(resil_breaker_retry_in(b), RESIL_TIME_NEVER);
    adv(3600 * SEC);
    ck_state(b, OPEN);
    resil_breaker_reset(b); /* resets the window, the mode stays */
    ck_assert_rc(resil_breaker_acquire(b, &t), RESIL_EOPEN);
    resil_breaker_stats st = stats(b);
    ck_assert_int_eq(st.mode, RESIL_BREAKER_FORCED_OPEN);
    ck_assert_int_eq(st.state, RESIL_BREAKER_OPEN);
    ck_assert_uint_eq(st.rejections, 3);
    ck_assert_uint_eq(st.opens, 1);
    ck_assert_uint_eq(st.window_calls, 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    ck_state(b, CLOSED);
    ck_assert_int_eq(resil_breaker_retry_in(b), 0);
    ok(b);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_mode_disabled)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    resil_breaker *b = mk(&o);
    bad(b);
    ck_state(b, OPEN);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_DISABLED), 0);
    ck_state(b, CLOSED); /* admits everything */
    for (int i = 0; i < 20; i++)
        bad(b);
    ck_state(b, CLOSED);
    resil_breaker_stats st = stats(b);
    ck_assert_int_eq(st.mode, RESIL_BREAKER_DISABLED);
    ck_assert_uint_eq(st.calls, 21);
    ck_assert_uint_eq(st.failures, 21);
    ck_assert_uint_eq(st.window_calls, 1); /* only the call before DISABLED */
    ck_assert_int_eq(resil_breaker_retry_in(b), 0);
    /* a DISABLED ticket recorded after the switch back is late */
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_state(b, CLOSED);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_mode_metrics_only)
{
    resil_breaker_opts o;
    if (_i)
        opts_time(&o, 10);
    else
        opts(&o);
    o.minimum_calls = 1;
    o.slow_call_ns = 5;
    o.slow_call_rate = 0.1;
    resil_breaker *b = mk(&o);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_METRICS_ONLY), 0);
    for (int i = 0; i < 20; i++)
        bad(b);
    for (int i = 0; i < 10; i++)
        ok(b);
    rec(b, RESIL_OUTCOME_SUCCESS, 5);
    ck_state(b, CLOSED);
    resil_breaker_stats st = stats(b);
    ck_assert_int_eq(st.mode, RESIL_BREAKER_METRICS_ONLY);
    ck_assert_uint_eq(st.window_calls, 31);
    ck_assert_uint_eq(st.window_failures, 20);
    ck_assert_uint_eq(st.window_slow, 1);
    ck_assert_uint_eq(st.calls, 31);
    ck_assert_uint_eq(st.successes, 11);
    ck_assert_uint_eq(st.opens, 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    st = stats(b);
    ck_assert_uint_eq(st.window_calls, 0); /* leaving for NORMAL resets */
    ck_assert_uint_eq(st.calls, 31);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* Setting the mode it already has changes nothing (tickets stay current). */
START_TEST(test_mode_same_is_noop)
{
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    resil_breaker *b = mk(&o);
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_state(b, OPEN);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    ck_state(b, OPEN);
    resil_breaker_free(b);
}
END_TEST

/* --- callbacks -------------------------------------------------------------- */

struct cblog {
    resil_breaker *b;
    int n;
    int depth;
    int max_depth;
    int reenter; /* on entering OPEN: 1 reset, 2 set_mode(DISABLED) */
    resil_breaker_state from[80];
    resil_breaker_state to[80];
};

static void on_change(resil_breaker *b, resil_breaker_state from, resil_breaker_state to,
                      void *ctx)
{
    struct cblog *l = ctx;
    ck_assert_ptr_eq(b, l->b);
    ck_assert_int_lt(l->n, 80);
    l->from[l->n] = from;
    l->to[l->n] = to;
    l->n++;
    l->depth++;
    l->max_depth = l->depth > l->max_depth ? l->depth : l->max_depth;
    if (to == RESIL_BREAKER_OPEN && l->reenter) {
        resil_breaker_stats st;
        resil_breaker_stats_get(b, &st);
        ck_assert_int_eq(st.state, RESIL_BREAKER_OPEN);
        ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_OPEN);
        if (l->reenter == 1)
            resil_breaker_reset(b);
        else
            ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_DISABLED), 0);
        resil_breaker_ticket t;
        ck_assert_rc(resil_breaker_acquire(b, &t), 0);
        ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_SUCCESS, 0), 0);
    }
    l->depth--;
}

static void ck_log(const struct cblog *l, int n, const resil_breaker_state *pairs)
{
    ck_assert_int_eq(l->n, n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(l->from[i], pairs[2 * i]);
        ck_assert_int_eq(l->to[i], pairs[2 * i + 1]);
    }
}

#define C RESIL_BREAKER_CLOSED
#define O RESIL_BREAKER_OPEN
#define H RESIL_BREAKER_HALF_OPEN

START_TEST(test_callback_order)
{
    struct cblog l = {0};
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.on_state_change = on_change;
    o.cb_ctx = &l;
    resil_breaker *b = mk(&o);
    l.b = b;
    bad(b);
    adv(resil_breaker_retry_in(b));
    ck_state(b, HALF_OPEN);
    ok(b);
    bad(b);
    adv(resil_breaker_retry_in(b));
    bad(b); /* acquire moves it to HALF_OPEN, the probe fails */
    resil_breaker_reset(b);
    resil_breaker_reset(b); /* CLOSED -> CLOSED is no change */
    const resil_breaker_state want[] = {C, O, O, H, H, C, C, O, O, H, H, O, O, C};
    ck_log(&l, 7, want);
    ck_assert_int_eq(l.max_depth, 1);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_callback_modes)
{
    struct cblog l = {0};
    resil_breaker_opts o;
    opts(&o);
    o.on_state_change = on_change;
    o.cb_ctx = &l;
    resil_breaker *b = mk(&o);
    l.b = b;
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_DISABLED), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_METRICS_ONLY), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    const resil_breaker_state want[] = {C, O, O, C, C, O, O, C};
    ck_log(&l, 4, want);
    resil_breaker_free(b);
}
END_TEST

/* A callback that calls back into the breaker: no deadlock, no nesting, and
 * the change it causes is delivered after it returns. */
START_TEST(test_callback_reenters)
{
    struct cblog l = {0};
    l.reenter = 1 + _i;
    resil_breaker_opts o;
    opts_trip_on_first(&o);
    o.on_state_change = on_change;
    o.cb_ctx = &l;
    resil_breaker *b = mk(&o);
    l.b = b;
    bad(b);
    ck_state(b, CLOSED);
    const resil_breaker_state want[] = {C, O, O, C};
    ck_log(&l, 2, want);
    ck_assert_int_eq(l.max_depth, 1);
    ck_assert_uint_eq(stats(b).calls, 2);
    resil_breaker_free(b);
}
END_TEST

/* A callback that makes 200 changes while it runs overflows the queue:
 * the changes are merged, and what is delivered is still one chain of
 * states ending in the real one. */
static void on_change_storm(resil_breaker *b, resil_breaker_state from,
                            resil_breaker_state to, void *ctx)
{
    struct cblog *l = ctx;
    if (l->n > 0)
        ck_assert_int_eq(from, l->to[l->n - 1]);
    ck_assert_int_ne(from, to);
    ck_assert_int_lt(l->n, 80);
    l->from[l->n] = from;
    l->to[l->n] = to;
    if (l->n++ > 0)
        return;
    for (int i = 0; i < 100; i++) {
        ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
        ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    }
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_DISABLED), 0);
}

START_TEST(test_callback_queue_overflow)
{
    struct cblog l = {0};
    resil_breaker_opts o;
    opts(&o);
    o.on_state_change = on_change_storm;
    o.cb_ctx = &l;
    resil_breaker *b = mk(&o);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    ck_assert_int_gt(l.n, 1);
    ck_assert_int_le(l.n, 1 + 64);
    ck_assert_int_eq(l.from[0], RESIL_BREAKER_CLOSED);
    ck_assert_int_eq(l.to[l.n - 1], RESIL_BREAKER_CLOSED); /* DISABLED */
    ck_state(b, CLOSED);
    resil_breaker_free(b);
}
END_TEST

/* --- statistics -------------------------------------------------------------- */

START_TEST(test_stats_fields)
{
    resil_breaker_opts o;
    opts(&o);
    o.minimum_calls = 100;
    o.slow_call_ns = 50;
    resil_breaker *b = mk(&o);
    resil_breaker_stats st = stats(b);
    ck_assert_int_eq(st.state, RESIL_BREAKER_CLOSED);
    ck_assert_int_eq(st.mode, RESIL_BREAKER_NORMAL);
    ck_assert_double_eq(st.failure_rate, 0.0);
    ck_assert_double_eq(st.success_rate, 1.0);
    ck_assert_int_eq(st.open_duration_ns, 5 * SEC);
    for (int i = 0; i < 3; i++)
        ok(b);
    bad(b);
    bad(b);
    rec(b, RESIL_OUTCOME_IGNORED, 0);
    rec(b, RESIL_OUTCOME_SUCCESS, 50);
    adv(3 * SEC);
    st = stats(b);
    ck_assert_uint_eq(st.calls, 7);
    ck_assert_uint_eq(st.successes, 4);
    ck_assert_uint_eq(st.failures, 2);
    ck_assert_uint_eq(st.ignored, 1);
    ck_assert_uint_eq(st.slow_calls, 1);
    ck_assert_uint_eq(st.rejections, 0);
    ck_assert_uint_eq(st.opens, 0);
    ck_assert_uint_eq(st.window_calls, 6);
    ck_assert_uint_eq(st.window_failures, 2);
    ck_assert_uint_eq(st.window_slow, 1);
    ck_assert_uint_eq(st.probes_in_flight, 0);
    ck_assert_double_eq_tol(st.failure_rate, 2.0 / 6, 1e-12);
    ck_assert_double_eq_tol(st.success_rate, 4.0 / 6, 1e-12);
    ck_assert_double_eq_tol(st.slow_call_rate, 1.0 / 6, 1e-12);
    ck_assert_int_eq(st.time_in_state_ns, 3 * SEC);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    adv(SEC);
    st = stats(b);
    ck_assert_int_eq(st.time_in_state_ns, SEC);
    ck_assert_uint_eq(st.opens, 1);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_reset_clears_window)
{
    resil_breaker_opts o;
    opts(&o);
    o.failure_count = 3;
    resil_breaker *b = mk(&o);
    bad(b);
    bad(b);
    resil_breaker_reset(b);
    bad(b);
    bad(b);
    ck_state(b, CLOSED); /* the two before the reset are gone */
    ck_assert_uint_eq(stats(b).window_calls, 2);
    bad(b);
    ck_state(b, OPEN);
    resil_breaker_reset(b);
    ck_state(b, CLOSED);
    ck_assert_uint_eq(stats(b).failures, 5);
    resil_breaker_free(b);
}
END_TEST

/* A test case of s sharing the clock fixture. */
static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    return tc;
}

static void add_options_tests(Suite *s)
{
    TCase *tc = tcase(s, "options");
    tcase_add_test(tc, test_opts_init_defaults);
    tcase_add_loop_test(tc, test_new_invalid_option, 0, N_BAD_OPTS);
    tcase_add_test(tc, test_new_edges_accepted);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_name_and_state_name);
    tcase_add_loop_test(tc, test_new_alloc_failure, 0, 2);
}

static void add_closed_tests(Suite *s)
{
    TCase *tc = tcase(s, "closed");
    tcase_add_test(tc, test_minimum_calls_boundary);
    tcase_add_test(tc, test_minimum_calls_reached_by_success);
    tcase_add_loop_test(tc, test_minimum_calls_capped_by_window, 0, 2);
    tcase_add_test(tc, test_failure_rate_boundary);
    tcase_add_test(tc, test_count_window_slides);
    tcase_add_test(tc, test_failure_count_ignores_minimum_calls);
    tcase_add_test(tc, test_rules_off_never_trip);
    tcase_add_test(tc, test_slow_call_rule);
    tcase_add_test(tc, test_slow_counted_rule_off);
    tcase_add_test(tc, test_time_window_expiry);
    tcase_add_test(tc, test_time_window_spans_buckets);
    tcase_add_test(tc, test_time_window_expiry_trips);
    tcase_add_test(tc, test_time_window_record_at);
    tcase_add_test(tc, test_time_window_negative_clock);
    tcase_add_loop_test(tc, test_window_size_one, 0, 2);
    tcase_add_test(tc, test_time_window_many_buckets);
    tcase_add_test(tc, test_reset_clears_window);
}

static void add_open_tests(Suite *s)
{
    TCase *tc = tcase(s, "open");
    tcase_add_test(tc, test_open_duration_growth_and_reset);
    tcase_add_test(tc, test_multiplier_one);
    tcase_add_test(tc, test_jitter_bounds);
    tcase_add_test(tc, test_jitter_default_rng);
    tcase_add_test(tc, test_retry_in_and_lazy_half_open);
    tcase_add_test(tc, test_acquire_at_explicit_time);
}

static void add_half_open_tests(Suite *s)
{
    TCase *tc = tcase(s, "half_open");
    tcase_add_test(tc, test_probe_limit);
    tcase_add_test(tc, test_probe_limit_64);
    tcase_add_test(tc, test_probe_verdict_waits_for_all);
    tcase_add_test(tc, test_probe_count_and_slow_rules);
    tcase_add_test(tc, test_probe_timeout_reaped);
    tcase_add_test(tc, test_probe_timeout_mixed);
    tcase_add_test(tc, test_ignored_frees_probe);
    tcase_add_test(tc, test_probe_recorded_twice);
    tcase_add_test(tc, test_late_ticket_not_counted);
}

static void add_mode_tests(Suite *s)
{
    TCase *tc = tcase(s, "modes_callbacks_stats");
    tcase_add_test(tc, test_mode_forced_open);
    tcase_add_test(tc, test_mode_disabled);
    tcase_add_loop_test(tc, test_mode_metrics_only, 0, 2);
    tcase_add_test(tc, test_mode_same_is_noop);
    tcase_add_test(tc, test_callback_order);
    tcase_add_test(tc, test_callback_modes);
    tcase_add_loop_test(tc, test_callback_reenters, 0, 2);
    tcase_add_test(tc, test_callback_queue_overflow);
    tcase_add_test(tc, test_stats_fields);
}

static Suite *suite(void)
{
    Suite *s = suite_create("breaker");
    add_options_tests(s);
    add_closed_tests(s);
    add_open_tests(s);
    add_half_open_tests(s);
    add_mode_tests(s);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
