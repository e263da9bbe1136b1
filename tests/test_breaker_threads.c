/* Circuit breaker under threads: several threads hammer one breaker on a
 * manual clock (which they advance themselves) and the statistics must add
 * up exactly; in HALF_OPEN no more than half_open_probes calls may be out
 * at once; callbacks never overlap and always form one chain of states.
 * Run under TSan by .ci/run (the _threads suffix). */
#include "check_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>

#define NTHREADS 4
#define SLOW_NS 1000

struct shared {
    resil_breaker *b;
    resil_clock *clock;
    int iters;
    uint32_t probes;
    _Atomic int outstanding; /* probe tickets the test holds */
    _Atomic int max_outstanding;
    _Atomic int in_cb;
    _Atomic int cb_overlap;
    _Atomic int cb_breaks; /* a callback not starting where the last ended */
    _Atomic int cb_calls;
    _Atomic int last_to;
};

/* What one thread saw; summed after the join. */
struct tally {
    struct shared *sh;
    unsigned id;
    uint64_t calls, successes, failures, ignored, slow, refused, probes_seen;
    int stats_bad;
};

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void on_change(resil_breaker *b, resil_breaker_state from, resil_breaker_state to,
                      void *ctx)
{
    struct shared *sh = ctx;
    (void)b;
    if (atomic_exchange(&sh->in_cb, 1) != 0)
        atomic_fetch_add(&sh->cb_overlap, 1);
    if ((int)from != atomic_load(&sh->last_to) || from == to)
        atomic_fetch_add(&sh->cb_breaks, 1);
    atomic_store(&sh->last_to, (int)to);
    atomic_fetch_add(&sh->cb_calls, 1);
    atomic_store(&sh->in_cb, 0);
}

static void count(struct tally *t, resil_outcome oc, int64_t dur)
{
    t->calls++;
    if (oc == RESIL_OUTCOME_SUCCESS)
        t->successes++;
    else if (oc == RESIL_OUTCOME_FAILURE)
        t->failures++;
    else
        t->ignored++;
    if (oc != RESIL_OUTCOME_IGNORED && dur >= SLOW_NS)
        t->slow++;
}

/* Failures come in waves so the breaker keeps cycling through its states. */
static resil_outcome pick(uint64_t *rng, int i)
{
    uint64_t r = xorshift(rng) % 100;
    int fail_pct = (i / 1500) % 2 ? 80 : 5;
    if (r < 5)
        return RESIL_OUTCOME_IGNORED;
    return r < (uint64_t)(5 + fail_pct) ? RESIL_OUTCOME_FAILURE : RESIL_OUTCOME_SUCCESS;
}

static void check_stats(struct tally *t)
{
    resil_breaker_stats st;
    resil_breaker_stats_get(t->sh->b, &st);
    if (st.probes_in_flight > t->sh->probes ||
        st.successes + st.failures + st.ignored != st.calls)
        t->stats_bad++;
}

static void one_call(struct tally *t, uint64_t *rng, int i)
{
    struct shared *sh = t->sh;
    resil_breaker_ticket tk;
    bool at = i % 3 == 0;
    int64_t now = resil_clock_now(sh->clock);
    int rc = at ? resil_breaker_acquire_at(sh->b, now, &tk)
                : resil_breaker_acquire(sh->b, &tk);
    if (rc != 0) {
        t->refused++;
        if (xorshift(rng) % 8 == 0)
            resil_clock_manual_advance(sh->clock, 200 * RESIL_NS_PER_US);
        return;
    }
    resil_outcome oc = pick(rng, i);
    int64_t dur = (int64_t)(xorshift(rng) % (2 * SLOW_NS));
    rc = at ? resil_breaker_record_at(sh->b, now, tk, oc, dur)
            : resil_breaker_record(sh->b, tk, oc, dur);
    ck_assert_rc(rc, 0);
    count(t, oc, dur);
}

static void *mixed_worker(void *arg)
{
    struct tally *t = arg;
    struct shared *sh = t->sh;
    uint64_t rng = 0x9E3779B97F4A7C15u * (t->id + 1);
    for (int i = 0; i < sh->iters; i++) {
        one_call(t, &rng, i);
        if (i % 64 == 0)
            resil_clock_manual_advance(sh->clock, 50 * RESIL_NS_PER_US);
        if (i % 997 == 0)
            check_stats(t);
        if (t->id == 0 && i % 5000 == 2500)
            resil_breaker_set_mode(sh->b, RESIL_BREAKER_METRICS_ONLY);
        if (t->id == 0 && i % 5000 == 3000)
            resil_breaker_set_mode(sh->b, RESIL_BREAKER_NORMAL);
        if (t->id == 1 && i % 7000 == 6999)
            resil_breaker_reset(sh->b);
    }
    return NULL;
}

static void run(struct shared *sh, void *(*fn)(void *), struct tally *sum)
{
    pthread_t th[NTHREADS];
    struct tally t[NTHREADS];
    memset(t, 0, sizeof t);
    for (unsigned i = 0; i < NTHREADS; i++) {
        t[i].sh = sh;
        t[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, fn, &t[i]), 0);
    }
    memset(sum, 0, sizeof *sum);
    for (unsigned i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        sum->calls += t[i].calls;
        sum->successes += t[i].successes;
        sum->failures += t[i].failures;
        sum->ignored += t[i].ignored;
        sum->slow += t[i].slow;
        sum->refused += t[i].refused;
        sum->probes_seen += t[i].probes_seen;
        sum->stats_bad += t[i].stats_bad;
    }
}

static void check_totals(struct shared *sh, const struct tally *sum)
{
    resil_breaker_stats st;
    resil_breaker_stats_get(sh->b, &st);
    ck_assert_uint_eq(st.calls, sum->calls);
    ck_assert_uint_eq(st.successes, sum->successes);
    ck_assert_uint_eq(st.failures, sum->failures);
    ck_assert_uint_eq(st.ignored, sum->ignored);
    ck_assert_uint_eq(st.successes + st.failures + st.ignored, st.calls);
    ck_assert_uint_eq(st.slow_calls, sum->slow);
    ck_assert_uint_eq(st.rejections, sum->refused);
    ck_assert_int_eq(sum->stats_bad, 0);
    ck_assert_int_eq(atomic_load(&sh->cb_overlap), 0);
    ck_assert_int_eq(atomic_load(&sh->cb_breaks), 0);
    /* every change was delivered: the chain ends in the current state */
    ck_assert_int_eq(atomic_load(&sh->last_to), (int)st.state);
}

static void shared_init(struct shared *sh, resil_breaker_opts *o, int iters)
{
    memset(sh, 0, sizeof *sh);
    sh->clock = tu_clock();
    sh->iters = iters;
    atomic_init(&sh->last_to, RESIL_BREAKER_CLOSED);
    resil_breaker_opts_init(o);
    o->clock = sh->clock;
    o->on_state_change = on_change;
    o->cb_ctx = sh;
}

START_TEST(test_threads_mixed)
{
    long live = tu_alloc_live();
    struct shared sh;
    resil_breaker_opts o;
    shared_init(&sh, &o, 25000);
    o.window = _i ? RESIL_WINDOW_TIME : RESIL_WINDOW_COUNT;
    o.window_size = _i ? 10 : 50;
    o.bucket_ns = 100 * RESIL_NS_PER_US;
    o.minimum_calls = 20;
    o.slow_call_ns = SLOW_NS;
    o.slow_call_rate = 0.9;
    o.half_open_probes = sh.probes = 3;
    o.probe_timeout_ns = 2 * RESIL_NS_PER_MS;
    o.open_base_ns = RESIL_NS_PER_MS;
    o.open_max_ns = 8 * RESIL_NS_PER_MS;
    o.open_jitter = 0.2;
    ck_assert_rc(resil_breaker_new(&o, &sh.b), 0);
    struct tally sum;
    run(&sh, mixed_worker, &sum);
    check_totals(&sh, &sum);
    ck_assert_uint_gt(sum.refused, 0);
    ck_assert_int_gt(atomic_load(&sh.cb_calls), 10); /* it did cycle */
    resil_breaker_free(sh.b);
    resil_clock_free(sh.clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Once tripped, the breaker only sees failures and ignored calls, so it
 * never closes again: every admitted call is a probe, and the test can
 * count them exactly. */
static void *probe_worker(void *arg)
{
    struct tally *t = arg;
    struct shared *sh = t->sh;
    uint64_t rng = 0x2545F4914F6CDD1Du * (t->id + 1);
    for (int i = 0; i < sh->iters; i++) {
        resil_breaker_ticket tk;
        int rc = resil_breaker_acquire(sh->b, &tk);
        if (rc == RESIL_EOPEN) {
            t->refused++;
            resil_clock_manual_advance(sh->clock, RESIL_NS_PER_MS);
            continue;
        }
        if (rc != 0) {
            ck_assert_rc(rc, RESIL_EPROBES);
            t->refused++;
            continue;
        }
        int n = atomic_fetch_add(&sh->outstanding, 1) + 1;
        int m = atomic_load(&sh->max_outstanding);
        while (n > m && !atomic_compare_exchange_weak(&sh->max_outstanding, &m, n))
            ;
        t->probes_seen++;
        if (xorshift(&rng) % 4 == 0)
            sched_yield(); /* hold the probe a while */
        /* give it back before recording: the slot is still taken inside
         * the breaker until record returns, so the bound is exact */
        atomic_fetch_sub(&sh->outstanding, 1);
        resil_outcome oc =
            xorshift(&rng) % 3 ? RESIL_OUTCOME_FAILURE : RESIL_OUTCOME_IGNORED;
        ck_assert_rc(resil_breaker_record(sh->b, tk, oc, 0), 0);
        count(t, oc, 0);
        if (i % 997 == 0)
            check_stats(t);
    }
    return NULL;
}

START_TEST(test_threads_probe_limit)
{
    long live = tu_alloc_live();
    struct shared sh;
    resil_breaker_opts o;
    shared_init(&sh, &o, 12500);
    o.minimum_calls = 1;
    o.half_open_probes = sh.probes = 2;
    o.probe_timeout_ns = INT64_MAX / 2; /* no probe may expire here */
    o.open_base_ns = RESIL_NS_PER_MS;
    o.open_max_ns = RESIL_NS_PER_MS;
    o.open_jitter = 0.0;
    ck_assert_rc(resil_breaker_new(&o, &sh.b), 0);
    resil_breaker_ticket tk;
    ck_assert_rc(resil_breaker_acquire(sh.b, &tk), 0);
    ck_assert_rc(resil_breaker_record(sh.b, tk, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_assert_int_eq(resil_breaker_state_get(sh.b), RESIL_BREAKER_OPEN);
    struct tally sum;
    run(&sh, probe_worker, &sum);
    sum.calls++;
    sum.failures++;
    check_totals(&sh, &sum);
    ck_assert_int_le(atomic_load(&sh.max_outstanding), 2);
    ck_assert_int_ge(atomic_load(&sh.max_outstanding), 1);
    ck_assert_uint_gt(sum.probes_seen, 100);
    ck_assert_int_ne(resil_breaker_state_get(sh.b), RESIL_BREAKER_CLOSED);
    resil_breaker_free(sh.b);
    resil_clock_free(sh.clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("breaker_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_threads_mixed, 0, 2);
    tcase_add_test(tc, test_threads_probe_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
