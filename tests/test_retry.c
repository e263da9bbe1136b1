/* Retry policy: backoff and jitter, deadline, Retry-After hint, budget,
 * report, options, (TCase "breaker") the circuit breaker integration and
 * (TCase "stats") the policy's statistics. */
#include "check_util.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define MS RESIL_NS_PER_MS
#define SEC RESIL_NS_PER_SEC
#define MAX_LOG 16

/* A scripted operation: fails (with fail_rc) for its first fail_calls calls,
 * then succeeds; records what each attempt saw. */
struct op {
    int calls;
    int fail_calls;
    int fail_rc;
    int64_t hint[MAX_LOG];   /* retry_after_ns to report on call i, -1 none */
    resil_clock *clock;      /* advanced by took_ns per call when set */
    int64_t took_ns;
    uint32_t number[MAX_LOG];
    int64_t deadline[MAX_LOG];
    int64_t hint_in[MAX_LOG]; /* retry_after_ns on entry */
};

static int op_fn(void *arg, resil_attempt *a)
{
    struct op *op = arg;
    int i = op->calls++;
    if (i < MAX_LOG) {
        op->number[i] = a->number;
        op->deadline[i] = a->deadline;
        op->hint_in[i] = a->retry_after_ns;
    }
    if (op->clock && op->took_ns > 0)
        resil_clock_manual_advance(op->clock, op->took_ns);
    if (i >= op->fail_calls)
        return 0;
    if (i < MAX_LOG)
        a->retry_after_ns = op->hint[i];
    return op->fail_rc;
}

/* One test's world: manual clock, recording sleeper, fixed random bits. */
struct env {
    resil_clock *clock;
    struct tu_sleeper sl;
    uint64_t bits;
    resil_retry_opts o;
    resil_retry *r;
    struct op op;
    resil_retry_report rep;
    long live0;
};

static void env_init(struct env *e)
{
    memset(e, 0, sizeof *e);
    e->live0 = tu_alloc_live();
    e->clock = tu_clock();
    e->sl.clock = e->clock;
    resil_retry_opts_init(&e->o);
    e->o.clock = e->clock;
    e->o.sleep = tu_sleep;
    e->o.sleep_ctx = &e->sl;
    e->o.rand = tu_rand_fixed;
    e->o.rand_ctx = &e->bits;
    e->o.jitter = RESIL_JITTER_NONE;
    e->o.base_delay_ns = 100 * MS;
    e->o.max_delay_ns = 10 * SEC;
    e->o.multiplier = 2.0;
    e->op.fail_rc = -100;
    for (int i = 0; i < MAX_LOG; i++)
        e->op.hint[i] = -1;
}

static void env_new(struct env *e)
{
    ck_assert_rc(resil_retry_new(&e->o, &e->r), 0);
}

static int env_run(struct env *e)
{
    memset(&e->rep, 0xa5, sizeof e->rep);
    return resil_retry_run(e->r, op_fn, &e->op, &e->rep);
}

static void env_done(struct env *e)
{
    resil_retry_free(e->r);
    resil_clock_free(e->clock);
    ck_assert_int_eq(tu_alloc_live(), e->live0);
}

/* Run and check the return code, the stop reason, the attempts in the
 * report and the calls the operation saw. */
static void run_expect(struct env *e, int rc, resil_retry_stop why, uint32_t attempts)
{
    int calls0 = e->op.calls;
    ck_assert_rc(env_run(e), rc);
    ck_assert_int_eq(e->rep.stop, why);
    ck_assert_uint_eq(e->rep.attempts, attempts);
    ck_assert_int_eq(e->op.calls - calls0, (int)attempts);
}

static void assert_sleeps(const struct env *e, int n, const int64_t *want)
{
    ck_assert_int_eq(e->sl.n, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(e->sl.log[i] == want[i], "sleep %d: got %lld want %lld", i,
                      (long long)e->sl.log[i], (long long)want[i]);
}

START_TEST(opts_defaults)
{
    resil_retry_opts o;
    memset(&o, 0xff, sizeof o);
    resil_retry_opts_init(&o);
    ck_assert_uint_eq(o.max_attempts, 3);
    ck_assert_int_eq(o.base_delay_ns, 100 * MS);
    ck_assert_int_eq(o.max_delay_ns, 10 * SEC);
    ck_assert(o.multiplier == 2.0);
    ck_assert_int_eq(o.jitter, RESIL_JITTER_FULL);
    ck_assert_int_eq(o.timeout_ns, 0);
    ck_assert_int_eq(o.max_retry_after_ns, 60 * SEC);
    ck_assert_ptr_null(o.retryable);
    ck_assert_ptr_null(o.budget);
    ck_assert_ptr_null(o.breaker);
    ck_assert_ptr_null(o.clock);
    ck_assert_ptr_null(o.sleep);
    ck_assert_ptr_null(o.rand);
    for (size_t i = 0; i < sizeof o.reserved_ / sizeof o.reserved_[0]; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_retry_opts_init(NULL); /* no crash */
}
END_TEST

START_TEST(success_first_try)
{
    struct env e;
    env_init(&e);
    e.op.clock = e.clock;
    e.op.took_ns = 7 * MS;
    env_new(&e);
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 1);
    ck_assert_int_eq(e.sl.n, 0);
    ck_assert_int_eq(e.rep.last_rc, 0);
    ck_assert_int_eq(e.rep.slept_ns, 0);
    ck_assert_int_eq(e.rep.elapsed_ns, 7 * MS);
    ck_assert_uint_eq(e.op.number[0], 1);
    ck_assert_int_eq(e.op.deadline[0], RESIL_TIME_NEVER);
    ck_assert_int_eq(e.op.hint_in[0], -1);
    /* without a report too */
    ck_assert_rc(resil_retry_run(e.r, op_fn, &e.op, NULL), 0);
    ck_assert_int_eq(e.op.calls, 2);
    env_done(&e);
}
END_TEST

/* Fail twice, succeed on the third: the two sleeps for a jitter mode and
 * fixed random bits. */
static void third_try(resil_jitter j, uint64_t bits, int64_t max, int64_t d1, int64_t d2)
{
    struct env e;
    env_init(&e);
    e.o.jitter = j;
    e.o.max_delay_ns = max;
    e.bits = bits;
    e.op.fail_calls = 2;
    env_new(&e);
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 3);
    ck_assert_int_eq(e.rep.slept_ns, d1 + d2);
    ck_assert_int_eq(e.rep.elapsed_ns, d1 + d2);
    /* zero delays are not passed to the sleeper */
    int64_t want[2];
    int n = 0;
    if (d1 > 0)
        want[n++] = d1;
    if (d2 > 0)
        want[n++] = d2;
    assert_sleeps(&e, n, want);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_uint_eq(e.op.number[i], i + 1);
    env_done(&e);
}

START_TEST(third_none)
{
    third_try(RESIL_JITTER_NONE, 0, 10 * SEC, 100 * MS, 200 * MS);
    third_try(RESIL_JITTER_NONE, UINT64_MAX, 10 * SEC, 100 * MS, 200 * MS);
}
END_TEST

START_TEST(third_full)
{
    third_try(RESIL_JITTER_FULL, 0, 10 * SEC, 0, 0);
    third_try(RESIL_JITTER_FULL, UINT64_MAX, 10 * SEC, 100 * MS, 200 * MS);
    /* half way: 2^63 / 2^64 of [0, d] */
    third_try(RESIL_JITTER_FULL, UINT64_C(1) << 63, 10 * SEC, 50 * MS, 100 * MS);
}
END_TEST

START_TEST(third_equal)
{
    third_try(RESIL_JITTER_EQUAL, 0, 10 * SEC, 50 * MS, 100 * MS);
    third_try(RESIL_JITTER_EQUAL, UINT64_MAX, 10 * SEC, 100 * MS, 200 * MS);
}
END_TEST

START_TEST(third_decorrelated)
{
    /* uniform in [base, prev * 3], prev starting at base */
    third_try(RESIL_JITTER_DECORRELATED, 0, 10 * SEC, 100 * MS, 100 * MS);
    third_try(RESIL_JITTER_DECORRELATED, UINT64_MAX, 10 * SEC, 300 * MS, 900 * MS);
    /* and capped by max_delay */
    third_try(RESIL_JITTER_DECORRELATED, UINT64_MAX, 500 * MS, 300 * MS, 500 * MS);
}
END_TEST

/* Five failing attempts with jitter NONE: the four pauses. */
static void four_pauses(double mult, int64_t max, const int64_t *want)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 5;
    e.o.multiplier = mult;
    e.o.max_delay_ns = max;
    e.op.fail_calls = 100;
    env_new(&e);
    run_expect(&e, RESIL_EEXHAUSTED, RESIL_RETRY_EXHAUSTED, 5);
    assert_sleeps(&e, 4, want);
    env_done(&e);
}

START_TEST(cap_at_max)
{
    four_pauses(10.0, 1 * SEC, (const int64_t[]){100 * MS, 1 * SEC, 1 * SEC, 1 * SEC});
    four_pauses(2.0, 1 * SEC, (const int64_t[]){100 * MS, 200 * MS, 400 * MS, 800 * MS});
    four_pauses(2.0, 500 * MS, (const int64_t[]){100 * MS, 200 * MS, 400 * MS, 500 * MS});
}
END_TEST

START_TEST(multiplier_one)
{
    four_pauses(1.0, 10 * SEC, (const int64_t[]){100 * MS, 100 * MS, 100 * MS, 100 * MS});
}
END_TEST

START_TEST(max_attempts_one)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 1;
    e.op.fail_calls = 100;
    env_new(&e);
    run_expect(&e, RESIL_EEXHAUSTED, RESIL_RETRY_EXHAUSTED, 1);
    ck_assert_int_eq(e.sl.n, 0);
    ck_assert_int_eq(e.rep.last_rc, -100);
    env_done(&e);
}
END_TEST

struct pred {
    int calls;
    int last_rc;
};

static int only_503(int rc, void *ctx)
{
    struct pred *p = ctx;
    p->calls++;
    p->last_rc = rc;
    return rc == 503;
}

START_TEST(not_retryable)
{
    struct env e;
    struct pred p = {0, 0};
    env_init(&e);
    e.o.retryable = only_503;
    e.o.retryable_ctx = &p;
    e.op.fail_calls = 100;
    e.op.fail_rc = 404;
    env_new(&e);
    run_expect(&e, RESIL_EFAILED, RESIL_RETRY_NOT_RETRYABLE, 1);
    ck_assert_int_eq(e.sl.n, 0);
    ck_assert_int_eq(p.calls, 1);
    ck_assert_int_eq(p.last_rc, 404);
    ck_assert_int_eq(e.rep.last_rc, 404);
    /* a retryable code is retried, and success is never judged */
    e.op.calls = 0;
    e.op.fail_calls = 1;
    e.op.fail_rc = 503;
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 2);
    ck_assert_int_eq(p.calls, 2);
    env_done(&e);
}
END_TEST

START_TEST(exhausted)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 4;
    e.op.fail_calls = 100;
    e.op.fail_rc = 7;
    env_new(&e);
    run_expect(&e, RESIL_EEXHAUSTED, RESIL_RETRY_EXHAUSTED, 4);
    ck_assert_int_eq(e.rep.last_rc, 7);
    ck_assert_int_eq(e.rep.slept_ns, 700 * MS);
    ck_assert_int_eq(e.rep.elapsed_ns, 700 * MS);
    assert_sleeps(&e, 3, (const int64_t[]){100 * MS, 200 * MS, 400 * MS});
    env_done(&e);
}
END_TEST

START_TEST(deadline_stops_before_sleep)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 10;
    e.o.timeout_ns = 250 * MS;
    e.op.fail_calls = 100;
    env_new(&e);
    int64_t start = resil_clock_now(e.clock);
    run_expect(&e, RESIL_ETIMEDOUT, RESIL_RETRY_DEADLINE, 2);
    /* 100 ms fits; 100 + 200 would pass 250: stop without sleeping */
    assert_sleeps(&e, 1, (const int64_t[]){100 * MS});
    ck_assert_int_eq(e.rep.slept_ns, 100 * MS);
    ck_assert_int_eq(e.rep.elapsed_ns, 100 * MS);
    ck_assert_int_eq(e.op.deadline[0], start + 250 * MS);
    ck_assert_int_eq(e.op.deadline[1], start + 250 * MS);
    ck_assert_int_le(resil_clock_now(e.clock), start + 250 * MS);
    env_done(&e);
}
END_TEST

START_TEST(deadline_counts_op_time)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 10;
    e.o.timeout_ns = 1 * SEC;
    e.op.fail_calls = 100;
    e.op.clock = e.clock;
    e.op.took_ns = 300 * MS;
    env_new(&e);
    /* 300 + 100 + 300 = 700, + 200 = 900 < 1000; + 300 = 1200, + 400 stops */
    run_expect(&e, RESIL_ETIMEDOUT, RESIL_RETRY_DEADLINE, 3);
    assert_sleeps(&e, 2, (const int64_t[]){100 * MS, 200 * MS});
    ck_assert_int_eq(e.rep.elapsed_ns, 1200 * MS);
    env_done(&e);
}
END_TEST

START_TEST(deadline_boundary)
{
    /* a pause that would end exactly on the deadline leaves no time */
    struct env e;
    env_init(&e);
    e.o.max_attempts = 3;
    e.o.timeout_ns = 300 * MS;
    e.op.fail_calls = 100;
    env_new(&e);
    run_expect(&e, RESIL_ETIMEDOUT, RESIL_RETRY_DEADLINE, 2);
    resil_retry_free(e.r);
    /* one ns more and all three attempts run */
    e.o.timeout_ns = 300 * MS + 1;
    e.sl.n = 0;
    env_new(&e);
    run_expect(&e, RESIL_EEXHAUSTED, RESIL_RETRY_EXHAUSTED, 3);
    ck_assert_int_eq(e.sl.n, 2);
    env_done(&e);
}
END_TEST

START_TEST(retry_after_honoured)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 5;
    e.op.fail_calls = 3;
    e.op.hint[0] = 5 * SEC;  /* longer than the 100 ms backoff */
    e.op.hint[1] = 1 * MS;   /* shorter than the 200 ms backoff */
    env_new(&e);
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 4);
    assert_sleeps(&e, 3, (const int64_t[]){5 * SEC, 200 * MS, 400 * MS});
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(e.op.hint_in[i], -1); /* reset before each attempt */
    ck_assert_int_eq(e.rep.slept_ns, 5 * SEC + 600 * MS);
    env_done(&e);
}
END_TEST

START_TEST(retry_after_decorrelated_base)
{
    /* the hint lengthens one pause but decorrelated jitter grows from its
     * own previous value */
    struct env e;
    env_init(&e);
    e.o.jitter = RESIL_JITTER_DECORRELATED;
    e.bits = UINT64_MAX;
    e.op.fail_calls = 2;
    e.op.hint[0] = 5 * SEC;
    env_new(&e);
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 3);
    assert_sleeps(&e, 2, (const int64_t[]){5 * SEC, 900 * MS});
    env_done(&e);
}
END_TEST

START_TEST(retry_after_over_max)
{
    struct env e;
    env_init(&e);
    e.o.max_retry_after_ns = 1 * SEC;
    e.op.fail_calls = 100;
    e.op.hint[0] = 1 * SEC + 1;
    env_new(&e);
    run_expect(&e, RESIL_ETIMEDOUT, RESIL_RETRY_DEADLINE, 1);
    ck_assert_int_eq(e.sl.n, 0);
    ck_assert_int_eq(e.rep.last_rc, -100);
    /* exactly the limit is still honoured */
    e.op.calls = 0;
    e.op.fail_calls = 1;
    e.op.hint[0] = 1 * SEC; /* the calls start again from the first hint */
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 2);
    assert_sleeps(&e, 1, (const int64_t[]){1 * SEC});
    env_done(&e);
}
END_TEST

START_TEST(retry_after_past_deadline)
{
    struct env e;
    env_init(&e);
    e.o.timeout_ns = 3 * SEC;
    e.op.fail_calls = 100;
    e.op.hint[0] = 5 * SEC;
    env_new(&e);
    run_expect(&e, RESIL_ETIMEDOUT, RESIL_RETRY_DEADLINE, 1);
    ck_assert_int_eq(e.sl.n, 0);
    env_done(&e);
}
END_TEST

static resil_retry_budget *make_budget(resil_clock *clock, double ratio, double min_per_sec)
{
    resil_retry_budget_opts bo;
    resil_retry_budget_opts_init(&bo);
    bo.ratio = ratio;
    bo.min_per_sec = min_per_sec;
    bo.window_ns = 10 * SEC;
    bo.clock = clock;
    resil_retry_budget *b = NULL;
    ck_assert_rc(resil_retry_budget_new(&bo, &b), 0);
    return b;
}

START_TEST(budget_refusal)
{
    struct env e;
    env_init(&e);
    resil_retry_budget *b = make_budget(e.clock, 0.0, 0.1); /* 1 per window */
    e.o.budget = b;
    e.o.max_attempts = 5;
    e.op.fail_calls = 100;
    env_new(&e);
    run_expect(&e, RESIL_EBUDGET, RESIL_RETRY_BUDGET, 2);
    assert_sleeps(&e, 1, (const int64_t[]){100 * MS});
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 1);
    ck_assert_uint_eq(st.withdrawals, 1);
    ck_assert_uint_eq(st.refusals, 1);
    /* a success deposits too and withdraws nothing */
    e.op.calls = 0;
    e.op.fail_calls = 0;
    ck_assert_rc(env_run(&e), 0);
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.deposits, 2);
    ck_assert_uint_eq(st.withdrawals, 1);
    resil_retry_budget_free(b);
    env_done(&e);
}
END_TEST

START_TEST(budget_not_spent_on_other_stops)
{
    /* a retry the deadline refuses must not take budget */
    struct env e;
    env_init(&e);
    resil_retry_budget *b = make_budget(e.clock, 0.0, 1.0);
    e.o.budget = b;
    e.o.timeout_ns = 50 * MS;
    e.op.fail_calls = 100;
    env_new(&e);
    ck_assert_rc(env_run(&e), RESIL_ETIMEDOUT);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(b, &st);
    ck_assert_uint_eq(st.withdrawals, 0);
    ck_assert_uint_eq(st.refusals, 0);
    resil_retry_budget_free(b);
    env_done(&e);
}
END_TEST

START_TEST(default_sleep_uses_clock)
{
    struct env e;
    env_init(&e);
    e.o.sleep = NULL; /* resil_clock_sleep advances the manual clock */
    e.op.fail_calls = 2;
    env_new(&e);
    int64_t t0 = resil_clock_now(e.clock);
    ck_assert_rc(env_run(&e), 0);
    ck_assert_int_eq(resil_clock_now(e.clock) - t0, 300 * MS);
    ck_assert_int_eq(e.rep.slept_ns, 300 * MS);
    ck_assert_int_eq(e.rep.elapsed_ns, 300 * MS);
    env_done(&e);
}
END_TEST

START_TEST(default_rand_in_range)
{
    struct env e;
    env_init(&e);
    e.o.rand = NULL;
    e.o.jitter = RESIL_JITTER_FULL;
    e.o.max_attempts = 12;
    e.op.fail_calls = 100;
    env_new(&e);
    ck_assert_rc(env_run(&e), RESIL_EEXHAUSTED);
    ck_assert_int_le(e.sl.n, 11);
    int64_t cap = 100 * MS;
    for (int i = 0; i < e.sl.n; i++) {
        ck_assert_int_gt(e.sl.log[i], 0);
        ck_assert_int_le(e.sl.log[i], 10 * SEC);
    }
    /* a value in [0, 100ms] for the first pause of each run */
    for (int k = 0; k < 20; k++) {
        int64_t d = resil_retry_delay(e.r, 2, 0, (uint64_t)k * UINT64_C(0x9e3779b97f4a7c15));
        ck_assert_int_ge(d, 0);
        ck_assert_int_le(d, cap);
    }
    env_done(&e);
}
END_TEST

START_TEST(report_optional_and_invalid)
{
    struct env e;
    env_init(&e);
    e.op.fail_calls = 100;
    env_new(&e);
    ck_assert_rc(resil_retry_run(e.r, op_fn, &e.op, NULL), RESIL_EEXHAUSTED);
    ck_assert_int_eq(e.op.calls, 3);
    resil_retry_report rep;
    memset(&rep, 0xa5, sizeof rep);
    ck_assert_rc(resil_retry_run(NULL, op_fn, &e.op, &rep), RESIL_EINVAL);
    ck_assert_uint_eq(rep.attempts, 0);
    ck_assert_int_eq(rep.last_rc, 0);
    ck_assert_int_eq(rep.slept_ns, 0);
    memset(&rep, 0xa5, sizeof rep);
    ck_assert_rc(resil_retry_run(e.r, NULL, &e.op, &rep), RESIL_EINVAL);
    ck_assert_uint_eq(rep.attempts, 0);
    ck_assert_rc(resil_retry_run(e.r, NULL, NULL, NULL), RESIL_EINVAL);
    ck_assert_int_eq(e.op.calls, 3);
    resil_retry_free(NULL);
    env_done(&e);
}
END_TEST

static resil_retry *delay_policy(resil_jitter j, int64_t base, int64_t max, double mult)
{
    resil_retry_opts o;
    resil_retry_opts_init(&o);
    o.jitter = j;
    o.base_delay_ns = base;
    o.max_delay_ns = max;
    o.multiplier = mult;
    resil_retry *r = NULL;
    ck_assert_rc(resil_retry_new(&o, &r), 0);
    return r;
}

START_TEST(delay_pure)
{
    resil_retry *r = delay_policy(RESIL_JITTER_NONE, 1000, 1000000, 1.5);
    ck_assert_int_eq(resil_retry_delay(r, 0, 0, 0), 0);
    ck_assert_int_eq(resil_retry_delay(r, 1, 0, 0), 0);
    ck_assert_int_eq(resil_retry_delay(r, 2, 0, 0), 1000);
    ck_assert_int_eq(resil_retry_delay(r, 3, 0, 0), 1500);
    ck_assert_int_eq(resil_retry_delay(r, 4, 0, 0), 2250);
    ck_assert_int_eq(resil_retry_delay(r, 5, 0, 0), 3375);
    ck_assert_int_eq(resil_retry_delay(r, 5, 0, 0), 3375); /* same inputs, same answer */
    ck_assert_int_eq(resil_retry_delay(r, 40, 0, 0), 1000000);
    ck_assert_int_eq(resil_retry_delay(NULL, 3, 0, 0), 0);
    resil_retry_free(r);
    /* equal jitter on an odd d still reaches d: [d/2, d] = [1, 3] */
    r = delay_policy(RESIL_JITTER_EQUAL, 3, 3, 2.0);
    ck_assert_int_eq(resil_retry_delay(r, 2, 0, 0), 1);
    ck_assert_int_eq(resil_retry_delay(r, 2, 0, UINT64_MAX), 3);
    resil_retry_free(r);
}
END_TEST

START_TEST(delay_huge_attempts)
{
    resil_retry *r = delay_policy(RESIL_JITTER_NONE, 1, INT64_MAX, 2.0);
    ck_assert_int_eq(resil_retry_delay(r, 64, 0, 0), INT64_C(1) << 62);
    ck_assert_int_eq(resil_retry_delay(r, 65, 0, 0), INT64_MAX);
    ck_assert_int_eq(resil_retry_delay(r, 1000, 0, 0), INT64_MAX);
    ck_assert_int_eq(resil_retry_delay(r, UINT32_MAX, 0, 0), INT64_MAX);
    resil_retry_free(r);

    r = delay_policy(RESIL_JITTER_FULL, 1, INT64_MAX, DBL_MAX);
    ck_assert_int_eq(resil_retry_delay(r, 2, 0, UINT64_MAX), 1);
    ck_assert_int_eq(resil_retry_delay(r, 3, 0, UINT64_MAX), INT64_MAX);
    ck_assert_int_eq(resil_retry_delay(r, UINT32_MAX, 0, UINT64_MAX), INT64_MAX);
    ck_assert_int_eq(resil_retry_delay(r, UINT32_MAX, 0, 0), 0);
    resil_retry_free(r);

    r = delay_policy(RESIL_JITTER_EQUAL, 3 * SEC, 3 * SEC, 1.0000001);
    ck_assert_int_eq(resil_retry_delay(r, UINT32_MAX, 0, UINT64_MAX), 3 * SEC);
    ck_assert_int_eq(resil_retry_delay(r, UINT32_MAX, 0, 0), 1500 * MS);
    resil_retry_free(r);

    r = delay_policy(RESIL_JITTER_DECORRELATED, 1, INT64_MAX, 2.0);
    ck_assert_int_eq(resil_retry_delay(r, 2, INT64_MAX, UINT64_MAX), INT64_MAX);
    ck_assert_int_eq(resil_retry_delay(r, 2, INT64_MAX, 0), 1);
    ck_assert_int_eq(resil_retry_delay(r, 2, -5, UINT64_MAX), 3);
    resil_retry_free(r);

    r = delay_policy(RESIL_JITTER_NONE, 0, 0, 1e300);
    ck_assert_int_eq(resil_retry_delay(r, UINT32_MAX, 0, UINT64_MAX), 0);
    resil_retry_free(r);
}
END_TEST

START_TEST(bad_opts)
{
    resil_retry_opts o;
    resil_retry *r = (resil_retry *)&o; /* must be reset to NULL */
    resil_retry_opts_init(&o);
    ck_assert_rc(resil_retry_new(NULL, &r), RESIL_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_rc(resil_retry_new(&o, NULL), RESIL_EINVAL);

#define BAD(field, value)                                                      \
    do {                                                                       \
        resil_retry_opts_init(&o);                                             \
        o.field = value;                                                       \
        r = (resil_retry *)&o;                                                 \
        ck_assert_rc(resil_retry_new(&o, &r), RESIL_EINVAL);                   \
        ck_assert_ptr_null(r);                                                 \
    } while (0)
    BAD(max_attempts, 0);
    BAD(base_delay_ns, -1);
    BAD(max_delay_ns, 99 * MS); /* below the 100 ms base */
    BAD(multiplier, 0.999);
    BAD(multiplier, -2.0);
    BAD(multiplier, NAN);
    BAD(multiplier, INFINITY);
    BAD(jitter, (resil_jitter)4);
    BAD(jitter, (resil_jitter)-1);
    BAD(timeout_ns, -1);
    BAD(max_retry_after_ns, -1);
#undef BAD

    /* the edges are accepted */
    resil_retry_opts_init(&o);
    o.max_attempts = 1;
    o.base_delay_ns = 0;
    o.max_delay_ns = 0;
    o.multiplier = 1.0;
    o.jitter = RESIL_JITTER_DECORRELATED;
    o.max_retry_after_ns = 0;
    ck_assert_rc(resil_retry_new(&o, &r), 0);
    resil_retry_free(r);
}
END_TEST

START_TEST(alloc_failure)
{
    long live0 = tu_alloc_live();
    resil_retry_opts o;
    resil_retry_opts_init(&o);
    resil_retry *r = (resil_retry *)&o;
    tu_alloc_fail_at(0);
    int rc = resil_retry_new(&o, &r);
    tu_alloc_reset();
    ck_assert_rc(rc, RESIL_ENOMEM);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

/* ---- breaker ------------------------------------------------------------ */

static resil_breaker *make_breaker(resil_clock *clock, uint32_t failure_count)
{
    resil_breaker_opts bo;
    resil_breaker_opts_init(&bo);
    bo.window = RESIL_WINDOW_COUNT;
    bo.window_size = 10;
    bo.minimum_calls = 10;
    bo.failure_rate = 0; /* only the count rule */
    bo.failure_count = failure_count;
    bo.slow_call_ns = 5 * MS;
    bo.slow_call_rate = 1.0;
    bo.half_open_probes = 1;
    bo.open_base_ns = 1 * SEC;
    bo.open_jitter = 0;
    bo.clock = clock;
    resil_breaker *b = NULL;
    ck_assert_rc(resil_breaker_new(&bo, &b), 0);
    return b;
}

START_TEST(breaker_open_not_retried)
{
    struct env e;
    env_init(&e);
    resil_breaker *b = make_breaker(e.clock, 3);
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    resil_retry_budget *bud = make_budget(e.clock, 0.2, 10);
    e.o.breaker = b;
    e.o.budget = bud;
    env_new(&e);
    run_expect(&e, RESIL_EOPEN, RESIL_RETRY_BREAKER_OPEN, 0);
    ck_assert_int_eq(e.sl.n, 0);
    ck_assert_int_eq(e.rep.last_rc, 0);
    ck_assert_int_eq(e.rep.slept_ns, 0);
    resil_retry_budget_stats st;
    resil_retry_budget_stats_get(bud, &st);
    ck_assert_uint_eq(st.deposits, 0); /* nothing was attempted */
    resil_breaker_stats bs;
    resil_breaker_stats_get(b, &bs);
    ck_assert_uint_eq(bs.rejections, 1);
    ck_assert_uint_eq(bs.calls, 0);
    resil_retry_budget_free(bud);
    resil_breaker_free(b);
    env_done(&e);
}
END_TEST

START_TEST(breaker_trips_mid_run)
{
    struct env e;
    env_init(&e);
    resil_breaker *b = make_breaker(e.clock, 2);
    e.o.breaker = b;
    e.o.max_attempts = 5;
    e.op.fail_calls = 100;
    env_new(&e);
    /* the second failure opens it: no sleep before a doomed third try */
    run_expect(&e, RESIL_EOPEN, RESIL_RETRY_BREAKER_OPEN, 2);
    assert_sleeps(&e, 1, (const int64_t[]){100 * MS});
    ck_assert_int_eq(e.rep.last_rc, -100);
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_OPEN);
    /* a later run while OPEN calls nothing */
    run_expect(&e, RESIL_EOPEN, RESIL_RETRY_BREAKER_OPEN, 0);
    resil_breaker_free(b);
    env_done(&e);
}
END_TEST

START_TEST(breaker_records_outcomes)
{
    struct env e;
    env_init(&e);
    resil_breaker *b = make_breaker(e.clock, 0);
    e.o.breaker = b;
    e.op.fail_calls = 1;
    e.op.clock = e.clock;
    e.op.took_ns = 5 * MS; /* slow by the breaker's 5 ms rule */
    env_new(&e);
    ck_assert_rc(env_run(&e), 0);
    ck_assert_int_eq(e.rep.elapsed_ns, 5 * MS + 100 * MS + 5 * MS);
    resil_breaker_stats bs;
    resil_breaker_stats_get(b, &bs);
    ck_assert_uint_eq(bs.calls, 2);
    ck_assert_uint_eq(bs.failures, 1);
    ck_assert_uint_eq(bs.successes, 1);
    ck_assert_uint_eq(bs.slow_calls, 2); /* durations on the policy's clock */
    ck_assert_uint_eq(bs.window_calls, 2);
    ck_assert_uint_eq(bs.probes_in_flight, 0);
    /* quick calls are not slow */
    e.op.calls = 0;
    e.op.took_ns = 4 * MS;
    ck_assert_rc(env_run(&e), 0);
    resil_breaker_stats_get(b, &bs);
    ck_assert_uint_eq(bs.calls, 4);
    ck_assert_uint_eq(bs.slow_calls, 2);
    resil_breaker_free(b);
    env_done(&e);
}
END_TEST

START_TEST(breaker_probes_taken)
{
    struct env e;
    env_init(&e);
    resil_breaker *b = make_breaker(e.clock, 1);
    resil_breaker_ticket t = 0;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_OPEN);
    ck_assert_rc(resil_clock_manual_advance(e.clock, 1 * SEC), 0);
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_HALF_OPEN);
    ck_assert_rc(resil_breaker_acquire(b, &t), 0); /* the only probe slot */
    e.o.breaker = b;
    env_new(&e);
    ck_assert_rc(env_run(&e), RESIL_EOPEN); /* EPROBES is reported as EOPEN */
    ck_assert_int_eq(e.op.calls, 0);
    ck_assert_int_eq(e.rep.stop, RESIL_RETRY_BREAKER_OPEN);
    /* the probe succeeds: closed again, and the policy goes through */
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_SUCCESS, 0), 0);
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_CLOSED);
    ck_assert_rc(env_run(&e), 0);
    ck_assert_int_eq(e.op.calls, 1);
    resil_breaker_free(b);
    env_done(&e);
}
END_TEST

/* ---- statistics ---------------------------------------------------------- */

/* The policy's totals: runs, attempts, retries, slept_ns and the runs by
 * stop reason (successes must equal stops[SUCCEEDED], runs their sum). */
static void assert_stats(const resil_retry *r, uint64_t attempts, uint64_t retries,
                         int64_t slept, const uint64_t stops[6])
{
    resil_retry_stats st;
    uint64_t runs = 0;
    memset(&st, 0xa5, sizeof st);
    resil_retry_stats_get(r, &st);
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(st.stops[i] == stops[i], "stops[%d]: got %llu want %llu", i,
                      (unsigned long long)st.stops[i], (unsigned long long)stops[i]);
        runs += stops[i];
    }
    ck_assert_uint_eq(st.runs, runs);
    ck_assert_uint_eq(st.successes, stops[RESIL_RETRY_SUCCEEDED]);
    ck_assert_uint_eq(st.attempts, attempts);
    ck_assert_uint_eq(st.retries, retries);
    ck_assert_int_eq(st.slept_ns, slept);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(st.reserved_[i], 0);
}

START_TEST(stats_success_and_exhausted)
{
    struct env e;
    env_init(&e);
    e.o.max_attempts = 4;
    env_new(&e);
    assert_stats(e.r, 0, 0, 0, (const uint64_t[6]){0});
    /* a first-try success, with and without a report */
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 1);
    ck_assert_rc(resil_retry_run(e.r, op_fn, &e.op, NULL), 0);
    assert_stats(e.r, 2, 0, 0, (const uint64_t[6]){2, 0, 0, 0, 0, 0});
    /* success on the third try: two retries, 100 + 200 ms of backoff */
    e.op.calls = 0;
    e.op.fail_calls = 2;
    run_expect(&e, 0, RESIL_RETRY_SUCCEEDED, 3);
    assert_stats(e.r, 5, 2, 300 * MS, (const uint64_t[6]){3, 0, 0, 0, 0, 0});
    /* every attempt fails: 4 attempts, 3 retries, 700 ms */
    e.op.calls = 0;
    e.op.fail_calls = 100;
    run_expect(&e, RESIL_EEXHAUSTED, RESIL_RETRY_EXHAUSTED, 4);
    assert_stats(e.r, 9, 5, 1000 * MS, (const uint64_t[6]){3, 0, 1, 0, 0, 0});
    /* bad arguments are not a run */
    ck_assert_rc(resil_retry_run(e.r, NULL, &e.op, NULL), RESIL_EINVAL);
    assert_stats(e.r, 9, 5, 1000 * MS, (const uint64_t[6]){3, 0, 1, 0, 0, 0});
    env_done(&e);
}
END_TEST

START_TEST(stats_not_retryable)
{
    struct env e;
    struct pred p = {0, 0};
    env_init(&e);
    e.o.retryable = only_503;
    e.o.retryable_ctx = &p;
    e.op.fail_calls = 100;
    e.op.fail_rc = 404;
    env_new(&e);
    run_expect(&e, RESIL_EFAILED, RESIL_RETRY_NOT_RETRYABLE, 1);
    assert_stats(e.r, 1, 0, 0, (const uint64_t[6]){0, 1, 0, 0, 0, 0});
    env_done(&e);
}
END_TEST

START_TEST(stats_deadline)
{
    struct env e;
    env_init(&e);
    e.o.timeout_ns = 250 * MS;
    e.op.fail_calls = 100;
    e.o.max_attempts = 10;
    env_new(&e);
    /* sleeps 100 ms; the next 200 ms pause would reach the deadline */
    run_expect(&e, RESIL_ETIMEDOUT, RESIL_RETRY_DEADLINE, 2);
    assert_stats(e.r, 2, 1, 100 * MS, (const uint64_t[6]){0, 0, 0, 1, 0, 0});
    env_done(&e);
}
END_TEST

START_TEST(stats_budget)
{
    struct env e;
    env_init(&e);
    resil_retry_budget *b = make_budget(e.clock, 0.0, 0.1); /* 1 per window */
    e.o.budget = b;
    e.o.max_attempts = 5;
    e.op.fail_calls = 100;
    env_new(&e);
    run_expect(&e, RESIL_EBUDGET, RESIL_RETRY_BUDGET, 2);
    assert_stats(e.r, 2, 1, 100 * MS, (const uint64_t[6]){0, 0, 0, 0, 1, 0});
    e.op.calls = 0;
    run_expect(&e, RESIL_EBUDGET, RESIL_RETRY_BUDGET, 1); /* budget spent */
    assert_stats(e.r, 3, 1, 100 * MS, (const uint64_t[6]){0, 0, 0, 0, 2, 0});
    resil_retry_budget_free(b);
    env_done(&e);
}
END_TEST

START_TEST(stats_breaker_open)
{
    struct env e;
    env_init(&e);
    resil_breaker *b = make_breaker(e.clock, 2);
    e.o.breaker = b;
    e.o.max_attempts = 5;
    e.op.fail_calls = 100;
    env_new(&e);
    /* the second failure opens it mid-run */
    run_expect(&e, RESIL_EOPEN, RESIL_RETRY_BREAKER_OPEN, 2);
    assert_stats(e.r, 2, 1, 100 * MS, (const uint64_t[6]){0, 0, 0, 0, 0, 1});
    /* refused before any call: a run with no attempt */
    run_expect(&e, RESIL_EOPEN, RESIL_RETRY_BREAKER_OPEN, 0);
    assert_stats(e.r, 2, 1, 100 * MS, (const uint64_t[6]){0, 0, 0, 0, 0, 2});
    resil_breaker_free(b);
    env_done(&e);
}
END_TEST

START_TEST(stats_null)
{
    resil_retry_stats st;
    memset(&st, 0xff, sizeof st);
    resil_retry_stats_get(NULL, &st);
    assert_stats(NULL, 0, 0, 0, (const uint64_t[6]){0});
    resil_retry_stats_get(NULL, NULL);
    struct env e;
    env_init(&e);
    env_new(&e);
    resil_retry_stats_get(e.r, NULL);
    env_done(&e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, opts_defaults);
    tcase_add_test(tc, success_first_try);
    tcase_add_test(tc, third_none);
    tcase_add_test(tc, third_full);
    tcase_add_test(tc, third_equal);
    tcase_add_test(tc, third_decorrelated);
    tcase_add_test(tc, cap_at_max);
    tcase_add_test(tc, multiplier_one);
    tcase_add_test(tc, max_attempts_one);
    tcase_add_test(tc, not_retryable);
    tcase_add_test(tc, exhausted);
    tcase_add_test(tc, deadline_stops_before_sleep);
    tcase_add_test(tc, deadline_counts_op_time);
    tcase_add_test(tc, deadline_boundary);
    tcase_add_test(tc, retry_after_honoured);
    tcase_add_test(tc, retry_after_decorrelated_base);
    tcase_add_test(tc, retry_after_over_max);
    tcase_add_test(tc, retry_after_past_deadline);
    tcase_add_test(tc, budget_refusal);
    tcase_add_test(tc, budget_not_spent_on_other_stops);
    tcase_add_test(tc, default_sleep_uses_clock);
    tcase_add_test(tc, default_rand_in_range);
    tcase_add_test(tc, report_optional_and_invalid);
    tcase_add_test(tc, delay_pure);
    tcase_add_test(tc, delay_huge_attempts);
    tcase_add_test(tc, bad_opts);
    tcase_add_test(tc, alloc_failure);
    suite_add_tcase(s, tc);

    TCase *tb = tcase_create("breaker");
    tcase_add_test(tb, breaker_open_not_retried);
    tcase_add_test(tb, breaker_trips_mid_run);
    tcase_add_test(tb, breaker_records_outcomes);
    tcase_add_test(tb, breaker_probes_taken);
    suite_add_tcase(s, tb);

    TCase *ts = tcase_create("stats");
    tcase_add_test(ts, stats_success_and_exhausted);
    tcase_add_test(ts, stats_not_retryable);
    tcase_add_test(ts, stats_deadline);
    tcase_add_test(ts, stats_budget);
    tcase_add_test(ts, stats_breaker_open);
    tcase_add_test(ts, stats_null);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
