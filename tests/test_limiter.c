/* resil_limiter: token bucket (GCRA) on a manual clock. */
#include "check_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static resil_clock *g_clock;
static long g_live;

static void setup(void)
{
    g_live = tu_alloc_live();
    g_clock = tu_clock();
}

static void teardown(void)
{
    resil_clock_free(g_clock);
    ck_assert_int_eq(tu_alloc_live(), g_live);
}

static resil_limiter *mk(double rate, uint32_t burst)
{
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    o.rate = rate;
    o.burst = burst;
    o.clock = g_clock;
    resil_limiter *l = NULL;
    ck_assert_rc(resil_limiter_new(&o, &l), 0);
    ck_assert_ptr_nonnull(l);
    return l;
}

static void advance(int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(g_clock, ns), 0);
}

static int64_t now(void)
{
    return resil_clock_now(g_clock);
}

START_TEST(test_opts_init_defaults)
{
    resil_limiter_opts o;
    memset(&o, 0xff, sizeof o);
    resil_limiter_opts_init(&o);
    ck_assert(o.rate == 10.0);
    ck_assert_uint_eq(o.burst, 10);
    ck_assert_ptr_null(o.clock);
    for (size_t i = 0; i < sizeof o.reserved_ / sizeof o.reserved_[0]; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_limiter_opts_init(NULL);
    /* the defaults make a working limiter on the default clock */
    resil_limiter *l = NULL;
    ck_assert_rc(resil_limiter_new(&o, &l), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 10, NULL), 0);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_new_bad_args)
{
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    resil_limiter *l = (resil_limiter *)&o; /* must be reset to NULL */
    ck_assert_rc(resil_limiter_new(NULL, &l), RESIL_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_rc(resil_limiter_new(&o, NULL), RESIL_EINVAL);
    const double bad_rates[] = {0.0, -1.0,     0.000999, 1.000001e9,
                                NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
        resil_limiter_opts_init(&o);
        o.rate = bad_rates[i];
        l = (resil_limiter *)&o;
        ck_assert_rc(resil_limiter_new(&o, &l), RESIL_EINVAL);
        ck_assert_ptr_null(l);
    }
    resil_limiter_opts_init(&o);
    o.burst = 0;
    ck_assert_rc(resil_limiter_new(&o, &l), RESIL_EINVAL);
    /* both ends of the range are valid */
    o.burst = 1;
    o.rate = 0.001;
    ck_assert_rc(resil_limiter_new(&o, &l), 0);
    resil_limiter_free(l);
    o.rate = 1e9;
    ck_assert_rc(resil_limiter_new(&o, &l), 0);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_null_handles)
{
    int64_t w = 42;
    ck_assert_rc(resil_limiter_try_acquire(NULL, 1, &w), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_try_acquire_at(NULL, 0, 1, &w), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_acquire(NULL, 1, RESIL_TIME_NEVER), RESIL_EINVAL);
    ck_assert_int_eq(w, 42);
    resil_limiter_stats st;
    memset(&st, 0xff, sizeof st);
    resil_limiter_stats_get(NULL, &st);
    ck_assert_uint_eq(st.allowed, 0);
    ck_assert_uint_eq(st.rejected, 0);
    ck_assert(st.available == 0.0);
    resil_limiter *l = mk(10, 5);
    resil_limiter_stats_get(l, NULL);
    resil_limiter_free(l);
    resil_limiter_free(NULL);
}
END_TEST

START_TEST(test_bad_n)
{
    resil_limiter *l = mk(10, 5);
    ck_assert_rc(resil_limiter_try_acquire(l, 0, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_try_acquire(l, 6, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_try_acquire_at(l, now(), 0, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_try_acquire_at(l, now(), 6, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_acquire(l, 0, RESIL_TIME_NEVER), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_acquire(l, 6, RESIL_TIME_NEVER), RESIL_EINVAL);
    ck_assert_rc(resil_limiter_try_acquire(l, UINT32_MAX, NULL), RESIL_EINVAL);
    /* invalid calls neither take nor count anything */
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, 0);
    ck_assert_uint_eq(st.rejected, 0);
    ck_assert(st.available == 5.0);
    ck_assert_rc(resil_limiter_try_acquire(l, 5, NULL), 0);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_burst_then_refused)
{
    resil_limiter *l = mk(10, 5);
    int64_t w = -1;
    for (int i = 0; i < 5; i++) {
        ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), 0);
        ck_assert_int_eq(w, 0);
    }
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 100 * RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), RESIL_ELIMIT);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_exact_wait)
{
    /* 3/s: a token every 333333333.3 ns, so waits round up */
    resil_limiter *l = mk(3, 2);
    int64_t w;
    ck_assert_rc(resil_limiter_try_acquire(l, 2, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 333333334);
    ck_assert_rc(resil_limiter_try_acquire(l, 2, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 666666667);
    advance(1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 333333333);
    advance(333333332);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 1);
    advance(1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), 0);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_refill_interval)
{
    resil_limiter *l = mk(10, 1);
    int64_t w;
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), 0);
    advance(100 * RESIL_NS_PER_MS - 1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 1);
    advance(1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 100 * RESIL_NS_PER_MS);
    /* a long pause refills only up to burst */
    advance(3600 * RESIL_NS_PER_SEC);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), RESIL_ELIMIT);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_n_greater_than_one)
{
    resil_limiter *l = mk(10, 10);
    int64_t w;
    ck_assert_rc(resil_limiter_try_acquire(l, 4, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 4, NULL), 0);
    /* 2 left: 4 needs two more tokens, 200 ms */
    ck_assert_rc(resil_limiter_try_acquire(l, 4, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 200 * RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire(l, 3, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 100 * RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire(l, 2, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), RESIL_ELIMIT);
    /* a whole burst at once after a full refill */
    advance(RESIL_NS_PER_SEC);
    ck_assert_rc(resil_limiter_try_acquire(l, 10, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 10, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, RESIL_NS_PER_SEC);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_fractional_rate)
{
    resil_limiter *l = mk(0.5, 1); /* one token every 2 s */
    int64_t w;
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 2 * RESIL_NS_PER_SEC);
    advance(2 * RESIL_NS_PER_SEC - 1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 1);
    advance(1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), 0);
    resil_limiter_free(l);
}
END_TEST

/* Takes every whole token there is, in chunks of burst, burst/10, ... 1. */
static uint64_t drain(resil_limiter *l, uint32_t burst)
{
    uint64_t got = 0;
    for (uint32_t k = burst;; k = k > 10 ? k / 10 : 1) {
        while (resil_limiter_try_acquire(l, k, NULL) == 0)
            got += k;
        if (k == 1)
            break;
    }
    return got;
}

/* Greedy consumption for `steps` steps of step_ns after a head start of
 * skip_ns: the bucket never overflows (step < burst / rate), so what was
 * granted must be burst + rate * elapsed, less under one token. */
static void check_accounting(double rate, uint32_t burst, int64_t skip_ns,
                             int64_t step_ns, int steps)
{
    resil_limiter *l = mk(rate, burst);
    advance(skip_ns);
    int64_t t0 = now();
    uint64_t got = drain(l, burst);
    for (int i = 0; i < steps; i++) {
        advance(step_ns);
        got += drain(l, burst);
    }
    double expect = burst + (double)(now() - t0) * rate / 1e9;
    ck_assert_msg((double)got <= expect + 1e-6 && (double)got > expect - 1.0 - 1e-6,
                  "rate %g: granted %llu, expected %.3f", rate, (unsigned long long)got,
                  expect);
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, got);
    ck_assert(st.available < 1.0);
    resil_limiter_free(l);
}

START_TEST(test_accounting_fractional)
{
    /* 0.5/s for ~83 min in 0.7 s steps, and 0.001/s (the minimum) for 30 days */
    check_accounting(0.5, 3, 0, 700 * RESIL_NS_PER_MS, 7150);
    check_accounting(0.001, 2, 0, 997 * RESIL_NS_PER_SEC, 2600);
}
END_TEST

START_TEST(test_accounting_high_rates)
{
    /* 3e8/s: a token every 3.33 ns; 9e9 tokens over 30 s */
    check_accounting(3e8, 1000000, 0, 3 * RESIL_NS_PER_MS + 7, 10000);
    /* 1e9/s (the maximum), a year after the limiter was made */
    check_accounting(1e9, 100000, 365 * 86400 * RESIL_NS_PER_SEC, 99991, 5000);
    /* a rate that is no round number of ns per token */
    check_accounting(123456789.123, 5000, 0, 39999, 5000);
    check_accounting(7.0, 7, 0, 333 * RESIL_NS_PER_MS, 3000);
}
END_TEST

START_TEST(test_acquire_sleeps)
{
    resil_limiter *l = mk(10, 1);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), 0);
    int64_t t = now();
    ck_assert_rc(resil_limiter_acquire(l, 1, t + 200 * RESIL_NS_PER_MS), 0);
    ck_assert_int_eq(now(), t + 100 * RESIL_NS_PER_MS); /* slept exactly the wait */
    /* a deadline exactly at the moment the token is there is enough */
    t = now();
    ck_assert_rc(resil_limiter_acquire(l, 1, t + 100 * RESIL_NS_PER_MS), 0);
    ck_assert_int_eq(now(), t + 100 * RESIL_NS_PER_MS);
    /* available tokens need no sleep, even with a deadline in the past */
    advance(RESIL_NS_PER_SEC);
    t = now();
    ck_assert_rc(resil_limiter_acquire(l, 1, t - 1), 0);
    ck_assert_int_eq(now(), t);
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, 4);
    ck_assert_uint_eq(st.rejected, 0); /* waiting is not being refused */
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_acquire_timeout)
{
    resil_limiter *l = mk(10, 2);
    ck_assert_rc(resil_limiter_try_acquire(l, 2, NULL), 0);
    int64_t t = now();
    ck_assert_rc(resil_limiter_acquire(l, 1, t + 100 * RESIL_NS_PER_MS - 1),
                 RESIL_ETIMEDOUT);
    ck_assert_int_eq(now(), t); /* no sleep */
    ck_assert_rc(resil_limiter_acquire(l, 2, t + 150 * RESIL_NS_PER_MS), RESIL_ETIMEDOUT);
    ck_assert_int_eq(now(), t);
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.rejected, 3);
    /* nothing was taken: after 200 ms both tokens are there */
    advance(200 * RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire(l, 2, NULL), 0);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_acquire_never)
{
    resil_limiter *l = mk(0.001, 1); /* one token per 1000 s */
    ck_assert_rc(resil_limiter_acquire(l, 1, RESIL_TIME_NEVER), 0);
    int64_t t = now();
    ck_assert_rc(resil_limiter_acquire(l, 1, RESIL_TIME_NEVER), 0);
    ck_assert_int_eq(now(), t + 1000 * RESIL_NS_PER_SEC);
    /* a deadline near the end of time does not overflow */
    t = now();
    ck_assert_rc(resil_limiter_acquire(l, 1, INT64_MAX - 1), 0);
    ck_assert_int_eq(now(), t + 1000 * RESIL_NS_PER_SEC);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_stats)
{
    resil_limiter *l = mk(10, 10);
    resil_limiter_stats st;
    memset(&st, 0xff, sizeof st);
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, 0);
    ck_assert_uint_eq(st.rejected, 0);
    ck_assert(st.available == 10.0);
    ck_assert(st.utilisation == 0.0);
    ck_assert_uint_eq(st.reserved_[0], 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 3, NULL), 0);
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, 3);
    ck_assert_double_eq_tol(st.available, 7.0, 1e-9);
    ck_assert_double_eq_tol(st.utilisation, 0.3, 1e-9);
    ck_assert_rc(resil_limiter_try_acquire(l, 7, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 4, NULL), RESIL_ELIMIT);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), RESIL_ELIMIT);
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, 10);
    ck_assert_uint_eq(st.rejected, 5); /* tokens, not calls */
    ck_assert_double_eq_tol(st.available, 0.0, 1e-9);
    ck_assert_double_eq_tol(st.utilisation, 1.0, 1e-9);
    advance(250 * RESIL_NS_PER_MS); /* 2.5 tokens back */
    resil_limiter_stats_get(l, &st);
    ck_assert_double_eq_tol(st.available, 2.5, 1e-6);
    ck_assert_double_eq_tol(st.utilisation, 0.75, 1e-6);
    advance(RESIL_NS_PER_SEC);
    resil_limiter_stats_get(l, &st);
    ck_assert(st.available == 10.0);
    ck_assert_uint_eq(st.allowed, 10);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_at_variant)
{
    resil_limiter *l = mk(10, 2);
    int64_t w;
    /* explicit times, independent of the clock, even before the limiter
     * was made */
    int64_t t = -5 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_limiter_try_acquire_at(l, t, 2, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire_at(l, t, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 100 * RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire_at(l, t + 100 * RESIL_NS_PER_MS, 1, &w), 0);
    ck_assert_int_eq(w, 0);
    /* an earlier time than the last never grants more */
    ck_assert_rc(resil_limiter_try_acquire_at(l, t, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 200 * RESIL_NS_PER_MS);
    ck_assert_int_eq(now(), RESIL_NS_PER_SEC); /* the clock never moved */
    /* the ends of time saturate instead of overflowing */
    ck_assert_rc(resil_limiter_try_acquire_at(l, INT64_MIN, 1, NULL), RESIL_ELIMIT);
    ck_assert_rc(resil_limiter_try_acquire_at(l, INT64_MAX, 2, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire_at(l, INT64_MAX, 1, &w), RESIL_ELIMIT);
    ck_assert_int_ge(w, 100 * RESIL_NS_PER_MS); /* time stands still there */
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_huge_burst_tiny_rate)
{
    /* tau would not fit with fine ticks: the coarse-tick path */
    resil_limiter *l = mk(0.001, UINT32_MAX);
    int64_t w;
    ck_assert_rc(resil_limiter_try_acquire(l, UINT32_MAX, NULL), 0);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, &w), RESIL_ELIMIT);
    /* exact to within one of its ~1.9 us ticks */
    ck_assert_int_le(llabs(w - 1000 * RESIL_NS_PER_SEC), 2000);
    /* ticks are ~1.9 us here, so "just too early" is a millisecond */
    advance(1000 * RESIL_NS_PER_SEC - RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), RESIL_ELIMIT);
    advance(RESIL_NS_PER_MS);
    ck_assert_rc(resil_limiter_try_acquire(l, 1, NULL), 0);
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, (uint64_t)UINT32_MAX + 1);
    resil_limiter_free(l);
}
END_TEST

START_TEST(test_alloc_failure)
{
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    o.clock = g_clock;
    resil_limiter *l = (resil_limiter *)&o;
    tu_alloc_fail_at(0);
    int rc = resil_limiter_new(&o, &l);
    tu_alloc_reset();
    ck_assert_rc(rc, RESIL_ENOMEM);
    ck_assert_ptr_null(l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("limiter");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_opts_init_defaults);
    tcase_add_test(tc, test_new_bad_args);
    tcase_add_test(tc, test_null_handles);
    tcase_add_test(tc, test_bad_n);
    tcase_add_test(tc, test_burst_then_refused);
    tcase_add_test(tc, test_exact_wait);
    tcase_add_test(tc, test_refill_interval);
    tcase_add_test(tc, test_n_greater_than_one);
    tcase_add_test(tc, test_fractional_rate);
    tcase_add_test(tc, test_acquire_sleeps);
    tcase_add_test(tc, test_acquire_timeout);
    tcase_add_test(tc, test_acquire_never);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_at_variant);
    tcase_add_test(tc, test_huge_burst_tiny_rate);
    tcase_add_test(tc, test_alloc_failure);
    suite_add_tcase(s, tc);
    TCase *acc = tcase_create("accounting");
    tcase_add_checked_fixture(acc, setup, teardown);
    tcase_set_timeout(acc, 60);
    tcase_add_test(acc, test_accounting_fractional);
    tcase_add_test(acc, test_accounting_high_rates);
    suite_add_tcase(s, acc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
