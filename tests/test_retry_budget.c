/* Retry budget: the min_per_sec floor, the ratio, the sliding window,
 * statistics, sharing between policies, options, threads. */
#include "check_util.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define MS RESIL_NS_PER_MS
#define SEC RESIL_NS_PER_SEC

static resil_retry_budget *budget(resil_clock *c, double ratio, double min_per_sec,
                                  int64_t window_ns)
{
    resil_retry_budget_opts o;
    resil_retry_budget_opts_init(&o);
    o.ratio = ratio;
    o.min_per_sec = min_per_sec;
    o.window_ns = window_ns;
    o.clock = c;
    resil_retry_budget *b = NULL;
    ck_assert_rc(resil_retry_budget_new(&o, &b), 0);
    return b;
}

static void deposit_n(resil_retry_budget *b, int n)
{
    for (int i = 0; i < n; i++)
        resil_retry_budget_deposit(b);
}

/* How many withdrawals succeed before the first refusal (at most limit). */
static int drain(resil_retry_budget *b, int limit)
{
    int n = 0;
    while (n < limit && resil_retry_budget_withdraw(b) == 0)
        n++;
    return n;
}

START_TEST(opts_defaults)
{
    resil_retry_budget_opts o;
    memset(&o, 0xff, sizeof o);
    resil_retry_budget_opts_init(&o);
    ck_assert(o.ratio == 0.2);
    ck_assert(o.min_per_sec == 10.0);
    ck_assert_int_eq(o.window_ns, 10 * SEC);
    ck_assert_ptr_null(o.clock);
    for (size_t i = 0; i < sizeof o.reserved_ / sizeof o.reserved_[0]; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_retry_budget_opts_init(NULL);
}
END_TEST

START_TEST(min_per_sec_floor)
{
    long live0 = tu_alloc_live();
    resil_clock *c = tu_clock();
    /* 1 per second over 10 s: 10 retries with no first attempts at all */
    resil_retry_budget *b = budget(c, 0.0, 1.0, 10 * SEC);
    ck_assert_int_eq(drain(b, 100), 10);
    ck_assert_rc(resil_retry_budget_withdraw(b), RESIL_EBUDGET);
    resil_retry_budget_free(b);
    /* 0.25 per second over 10 s is 2.5: retries 0, 1, 2 are below it */
    b = budget(c, 0.0, 0.25, 10 * SEC);
    ck_assert_int_eq(drain(b, 100), 3);
    resil_retry_budget_free(b);
    /* no floor and no first attempts: nothing */
    b = budget(c, 0.5, 0.0, 10 * SEC);
    ck_assert_int_eq(drain(b, 100), 0);
    resil_retry_budget_free(b);
    resil_clock_free(c);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

START_TEST(ratio)
{
    resil_clock *c = tu_clock();
    resil_retry_budget *b = budget(c, 0.5, 0.0, 10 * SEC);
    deposit_n(b, 10);
    ck_assert_int_eq(drain(b, 100), 5);
    deposit_n(b, 2); /* 12 * 0.5 = 6: one more */
    ck_assert_int_eq(drain(b, 100), 1);
    resil_retry_budget_free(b);
    /* allowed while retries < ratio * deposits: 4 * 0.2 = 0.8 allows one */
    b = budget(c, 0.2, 0.0, 10 * SEC);
    deposit_n(b, 4);
    ck_assert_int_eq(drain(b, 100), 1);
    deposit_n(b, 1); /* 1.0: 1 < 1 is false */
    ck_assert_int_eq(drain(b, 100), 0);
    resil_retry_budget_free(b);
    /* ratio and floor add up: 20 * 0.1 + 1 * 10 = 12 */
    b = budget(c, 0.1, 1.0, 10 * SEC);
    deposit_n(b, 20);
    ck_assert_int_eq(drain(b, 100), 12);
    resil_retry_budget_free(b);
    /* the largest ratio */
    b = budget(c, 1000.0, 0.0, 10 * SEC);
    deposit_n(b, 1);
    ck_assert_int_eq(drain(b, 5000), 1000);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(window_slides)
{
    resil_clock *c = tu_clock(); /* 1 s: buckets of 1 s, this is bucket 1 */
    resil_retry_budget *b = budget(c, 1.0, 0.0, 10 * SEC);
    deposit_n(b, 3);
    resil_clock_manual_advance(c, 4 * SEC);
    deposit_n(b, 2);
    /* at 10.999 s bucket 1 is still in the window (buckets 1..10) */
    resil_clock_manual_advance(c, 5 * SEC + 999 * MS);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert(st.available == 5.0);
    /* at 11 s it has left: only the two from 5 s remain */
    resil_clock_manual_advance(c, 1 * MS);
    resil_retry_budget_stats_get(b, &st);
    ck_assert(st.available == 2.0);
    ck_assert_int_eq(drain(b, 100), 2);
    /* at 15 s the deposits of 5 s leave; the withdrawals of 11 s stay */
    resil_clock_manual_advance(c, 4 * SEC);
    resil_retry_budget_stats_get(b, &st);
    ck_assert(st.available == 0.0);
    ck_assert_int_eq(drain(b, 100), 0);
    deposit_n(b, 3); /* 3 - 2 */
    ck_assert_int_eq(drain(b, 100), 1);
    /* lifetime counts do not slide */
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 8);
    ck_assert_uint_eq(st.withdrawals, 3);
    ck_assert_uint_eq(st.refusals, 3);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(withdrawals_slide)
{
    resil_clock *c = tu_clock();
    resil_retry_budget *b = budget(c, 0.0, 1.0, 10 * SEC); /* floor 10 */
    ck_assert_int_eq(drain(b, 100), 10);
    resil_clock_manual_advance(c, 9 * SEC);
    ck_assert_int_eq(drain(b, 100), 0);
    resil_clock_manual_advance(c, 1 * SEC); /* the 10 withdrawals leave */
    ck_assert_int_eq(drain(b, 100), 10);
    /* a jump of an hour empties everything, once */
    resil_clock_manual_advance(c, 3600 * SEC);
    ck_assert_int_eq(drain(b, 100), 10);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(negative_clock)
{
    resil_clock *c = NULL;
    ck_assert_rc(resil_clock_manual_new(-3 * SEC - 500 * MS, &c), 0);
    resil_retry_budget *b = budget(c, 1.0, 0.0, 2 * SEC); /* buckets of 200 ms */
    deposit_n(b, 4);
    /* the bucket of -3.6..-3.4 s is the oldest of ten until -1.6 s */
    resil_clock_manual_advance(c, 1899 * MS);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert(st.available == 4.0);
    resil_clock_manual_advance(c, 1 * MS);
    resil_retry_budget_stats_get(b, &st);
    ck_assert(st.available == 0.0);
    resil_clock_manual_advance(c, 3 * SEC); /* across zero */
    deposit_n(b, 2);
    ck_assert_int_eq(drain(b, 100), 2);
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 6);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(stats)
{
    long live0 = tu_alloc_live();
    resil_clock *c = tu_clock();
    resil_retry_budget *b = budget(c, 0.5, 1.0, 10 * SEC);
    resil_retry_budget_stats st;
    memset(&st, 0xa5, sizeof st);
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 0);
    ck_assert_uint_eq(st.withdrawals, 0);
    ck_assert_uint_eq(st.refusals, 0);
    ck_assert(st.available == 10.0);
    for (size_t i = 0; i < sizeof st.reserved_ / sizeof st.reserved_[0]; i++)
        ck_assert_uint_eq(st.reserved_[i], 0);
    deposit_n(b, 4);
    ck_assert_int_eq(drain(b, 3), 3);
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 4);
    ck_assert_uint_eq(st.withdrawals, 3);
    ck_assert(st.available == 9.0); /* 4 * 0.5 + 10 - 3 */
    ck_assert_int_eq(drain(b, 100), 9);
    ck_assert_rc(resil_retry_budget_withdraw(b), RESIL_EBUDGET);
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.withdrawals, 12);
    ck_assert_uint_eq(st.refusals, 2); /* drain's and ours */
    ck_assert(st.available == 0.0);
    /* NULL handles */
    memset(&st, 0xa5, sizeof st);
    resil_retry_budget_stats_get(NULL, &st);
    ck_assert_uint_eq(st.deposits, 0);
    ck_assert(st.available == 0.0);
    resil_retry_budget_stats_get(b, NULL);
    resil_retry_budget_deposit(NULL);
    ck_assert_rc(resil_retry_budget_withdraw(NULL), RESIL_EINVAL);
    resil_retry_budget_free(NULL);
    resil_retry_budget_free(b);
    resil_clock_free(c);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

static int always_fail(void *arg, resil_attempt *a)
{
    (void)a;
    ++*(int *)arg;
    return -1;
}

static resil_retry *policy(resil_clock *c, struct tu_sleeper *sl, resil_retry_budget *b)
{
    resil_retry_opts o;
    resil_retry_opts_init(&o);
    o.max_attempts = 3;
    o.jitter = RESIL_JITTER_NONE;
    o.clock = c;
    o.sleep = tu_sleep;
    o.sleep_ctx = sl;
    o.budget = b;
    resil_retry *r = NULL;
    ck_assert_rc(resil_retry_new(&o, &r), 0);
    return r;
}

START_TEST(shared_by_two_policies)
{
    long live0 = tu_alloc_live();
    resil_clock *c = tu_clock();
    struct tu_sleeper sl;
    memset(&sl, 0, sizeof sl);
    sl.clock = c;
    resil_retry_budget *b = budget(c, 0.0, 0.3, 10 * SEC); /* floor 3 */
    resil_retry *p1 = policy(c, &sl, b), *p2 = policy(c, &sl, b);
    int calls = 0;
    /* p1 spends two retries, p2 gets the third and then is refused */
    ck_assert_rc(resil_retry_run(p1, always_fail, &calls, NULL), RESIL_EEXHAUSTED);
    ck_assert_int_eq(calls, 3);
    resil_retry_report rep;
    ck_assert_rc(resil_retry_run(p2, always_fail, &calls, &rep), RESIL_EBUDGET);
    ck_assert_int_eq(calls, 5);
    ck_assert_int_eq(rep.stop, RESIL_RETRY_BUDGET);
    ck_assert_uint_eq(rep.attempts, 2);
    ck_assert_rc(resil_retry_run(p1, always_fail, &calls, NULL), RESIL_EBUDGET);
    ck_assert_int_eq(calls, 6);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 3);
    ck_assert_uint_eq(st.withdrawals, 3);
    ck_assert_uint_eq(st.refusals, 2);
    resil_retry_free(p1);
    resil_retry_free(p2);
    resil_retry_budget_free(b);
    resil_clock_free(c);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

START_TEST(bad_opts)
{
    resil_retry_budget_opts o;
    resil_retry_budget *b = (resil_retry_budget *)&o;
    resil_retry_budget_opts_init(&o);
    ck_assert_rc(resil_retry_budget_new(NULL, &b), RESIL_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_rc(resil_retry_budget_new(&o, NULL), RESIL_EINVAL);
#define BAD(field, value)                                                      \
    do {                                                                       \
        resil_retry_budget_opts_init(&o);                                      \
        o.field = value;                                                       \
        b = (resil_retry_budget *)&o;                                          \
        ck_assert_rc(resil_retry_budget_new(&o, &b), RESIL_EINVAL);            \
        ck_assert_ptr_null(b);                                                 \
    } while (0)
    BAD(ratio, -0.001);
    BAD(ratio, 1000.001);
    BAD(ratio, NAN);
    BAD(ratio, INFINITY);
    BAD(min_per_sec, -1.0);
    BAD(min_per_sec, NAN);
    BAD(min_per_sec, INFINITY);
    BAD(window_ns, 0);
    BAD(window_ns, -1);
#undef BAD
    /* the edges are fine */
    resil_clock *c = tu_clock();
    resil_retry_budget_opts_init(&o);
    o.clock = c;
    o.ratio = 1000.0;
    o.min_per_sec = 0.0;
    o.window_ns = 1;
    ck_assert_rc(resil_retry_budget_new(&o, &b), 0);
    resil_retry_budget_deposit(b);
    ck_assert_rc(resil_retry_budget_withdraw(b), 0);
    resil_retry_budget_free(b);
    o.ratio = 0.0;
    ck_assert_rc(resil_retry_budget_new(&o, &b), 0);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(alloc_failure)
{
    long live0 = tu_alloc_live();
    resil_retry_budget_opts o;
    resil_retry_budget_opts_init(&o);
    resil_retry_budget *b = (resil_retry_budget *)&o;
    tu_alloc_fail_at(0);
    int rc = resil_retry_budget_new(&o, &b);
    tu_alloc_reset();
    ck_assert_rc(rc, RESIL_ENOMEM);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

/* ---- threads ----------------------------------------------------------- */

#define NTHREADS 4
#define PER_THREAD 2000

struct worker {
    resil_retry_budget *b;
    resil_clock *clock; /* advanced now and then to move the ring */
    int allowed;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        resil_retry_budget_deposit(w->b);
        if (resil_retry_budget_withdraw(w->b) == 0)
            w->allowed++;
        if (w->clock && i % 500 == 0)
            resil_clock_manual_advance(w->clock, 1 * MS);
    }
    return NULL;
}

static void run_workers(resil_retry_budget *b, resil_clock *c, int *allowed)
{
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){b, c, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    *allowed = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        *allowed += w[i].allowed;
    }
}

START_TEST(threads_count_exactly)
{
    resil_clock *c = tu_clock();
    /* a 1 h window: the 1 ms steps never push anything out */
    resil_retry_budget *b = budget(c, 0.1, 0.0, 3600 * SEC);
    int allowed = 0;
    run_workers(b, c, &allowed);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, NTHREADS * PER_THREAD);
    ck_assert_uint_eq(st.withdrawals, (uint64_t)allowed);
    ck_assert_uint_eq(st.withdrawals + st.refusals, NTHREADS * PER_THREAD);
    /* a withdrawal never outruns 10 % of the deposits made before it */
    ck_assert_int_le(allowed, NTHREADS * PER_THREAD / 10);
    ck_assert_int_gt(allowed, 0);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

START_TEST(threads_sliding)
{
    resil_clock *c = tu_clock();
    /* buckets of 1 ms, so the workers' clock steps move the ring while
     * others deposit; lifetime deposits must still add up */
    resil_retry_budget *b = budget(c, 0.5, 0.0, 10 * MS);
    int allowed = 0;
    run_workers(b, c, &allowed);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, NTHREADS * PER_THREAD);
    ck_assert_uint_eq(st.withdrawals + st.refusals, NTHREADS * PER_THREAD);
    resil_retry_budget_free(b);
    resil_clock_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("retry_budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, opts_defaults);
    tcase_add_test(tc, min_per_sec_floor);
    tcase_add_test(tc, ratio);
    tcase_add_test(tc, window_slides);
    tcase_add_test(tc, withdrawals_slide);
    tcase_add_test(tc, negative_clock);
    tcase_add_test(tc, stats);
    tcase_add_test(tc, shared_by_two_policies);
    tcase_add_test(tc, bad_opts);
    tcase_add_test(tc, alloc_failure);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("threads");
    tcase_add_test(tt, threads_count_exactly);
    tcase_add_test(tt, threads_sliding);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
