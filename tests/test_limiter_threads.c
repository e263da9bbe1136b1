/* resil_limiter and resil_keyed_limiter shared by threads, on a manual
 * clock that one thread advances in bounded steps.  Threads only count;
 * every assertion is made on the main thread after joining. */
#include "check_util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 3
#define ATTEMPTS 50000 /* per worker */
#define STEPS 2000
#define RATE 1e6 /* one token per 1000 ns */
#define TOKEN_NS 1000
#define BURST 50
#define STEP_NS (7 * TOKEN_NS) /* < burst: the bucket never overflows */
#define NKEYS 4

struct counts {
    uint64_t requested; /* tokens asked for */
    uint64_t allowed;
    uint64_t rejected;
    uint64_t bad; /* unexpected results, checked on the main thread */
};

struct shared {
    resil_clock *clock;
    resil_limiter *l;
    resil_keyed_limiter *kl;
    struct counts c[WORKERS + 1];
};

static const char *const g_keys[NKEYS] = {"alpha", "beta", "gamma", "delta"};

static void record(struct counts *c, uint32_t n, int rc, int64_t wait)
{
    c->requested += n;
    if (rc == 0 && wait == 0)
        c->allowed += n;
    else if (rc == RESIL_ELIMIT && wait >= 1)
        c->rejected += n;
    else
        c->bad++;
}

static int attempt(struct shared *sh, struct counts *c, int key, uint32_t n)
{
    int64_t w = -1;
    int rc;
    if (key < 0)
        rc = resil_limiter_try_acquire(sh->l, n, &w);
    else
        rc = resil_keyed_limiter_try_acquire(sh->kl, g_keys[key], strlen(g_keys[key]), n,
                                             &w);
    record(c, n, rc, w);
    return rc;
}

struct worker_arg {
    struct shared *sh;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    struct counts *c = &a->sh->c[a->id];
    for (int i = 0; i < ATTEMPTS; i++) {
        int key = a->sh->kl ? (i + a->id) % NKEYS : -1;
        attempt(a->sh, c, key, 1 + (uint32_t)(i % 2));
    }
    return NULL;
}

/* Takes single tokens until refused, so the bucket is (nearly) empty. */
static void drain(struct shared *sh, struct counts *c, int key)
{
    while (attempt(sh, c, key, 1) == 0)
        ;
}

static void drain_all(struct shared *sh, struct counts *c)
{
    if (!sh->kl) {
        drain(sh, c, -1);
        return;
    }
    for (int k = 0; k < NKEYS; k++)
        drain(sh, c, k);
}

static uint64_t stats_allowed(struct shared *sh)
{
    if (sh->kl) {
        resil_keyed_limiter_stats st;
        resil_keyed_limiter_stats_get(sh->kl, &st);
        return st.allowed;
    }
    resil_limiter_stats st;
    resil_limiter_stats_get(sh->l, &st);
    return st.allowed;
}

/* Drains before every step: the bucket is never full after the first
 * grant, so nothing refills unseen and the total is exact. */
static void *advancer(void *p)
{
    struct shared *sh = p;
    struct counts *c = &sh->c[WORKERS];
    uint64_t seen = 0;
    drain_all(sh, c);
    for (int s = 0; s < STEPS; s++) {
        resil_clock_manual_advance(sh->clock, STEP_NS);
        drain_all(sh, c);
        uint64_t a = stats_allowed(sh);
        if (a < seen)
            c->bad++; /* the counter must never go back */
        seen = a;
    }
    return NULL;
}

static void run(struct shared *sh)
{
    pthread_t t[WORKERS + 1];
    struct worker_arg args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        args[i] = (struct worker_arg){sh, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    ck_assert_int_eq(pthread_create(&t[WORKERS], NULL, advancer, sh), 0);
    for (int i = 0; i <= WORKERS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}

static struct counts total(const struct shared *sh)
{
    struct counts sum = {0, 0, 0, 0};
    for (int i = 0; i <= WORKERS; i++) {
        sum.requested += sh->c[i].requested;
        sum.allowed += sh->c[i].allowed;
        sum.rejected += sh->c[i].rejected;
        sum.bad += sh->c[i].bad;
    }
    return sum;
}

START_TEST(test_shared_limiter)
{
    long live = tu_alloc_live();
    struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.clock = tu_clock();
    int64_t t0 = resil_clock_now(sh.clock);
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    o.rate = RATE;
    o.burst = BURST;
    o.clock = sh.clock;
    ck_assert_rc(resil_limiter_new(&o, &sh.l), 0);
    run(&sh);
    struct counts sum = total(&sh);
    int64_t elapsed = resil_clock_now(sh.clock) - t0;
    ck_assert_int_eq(elapsed, (int64_t)STEPS * STEP_NS);
    ck_assert_uint_eq(sum.bad, 0);
    resil_limiter_stats st;
    resil_limiter_stats_get(sh.l, &st);
    ck_assert_uint_eq(st.allowed, sum.allowed);
    ck_assert_uint_eq(st.rejected, sum.rejected);
    ck_assert_uint_eq(st.allowed + st.rejected, sum.requested);
    /* never more than rate * elapsed + burst, and since the advancer
     * emptied the bucket before each step and at the end, exactly that */
    ck_assert_uint_eq(st.allowed, (uint64_t)(elapsed / TOKEN_NS) + BURST);
    resil_limiter_free(sh.l);
    resil_clock_free(sh.clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(test_shared_keyed_limiter)
{
    long live = tu_alloc_live();
    struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.clock = tu_clock();
    int64_t t0 = resil_clock_now(sh.clock);
    resil_keyed_limiter_opts o;
    resil_keyed_limiter_opts_init(&o);
    o.rate = RATE;
    o.burst = BURST;
    o.clock = sh.clock;
    ck_assert_rc(resil_keyed_limiter_new(&o, &sh.kl), 0);
    run(&sh);
    struct counts sum = total(&sh);
    int64_t elapsed = resil_clock_now(sh.clock) - t0;
    ck_assert_uint_eq(sum.bad, 0);
    resil_keyed_limiter_stats st;
    resil_keyed_limiter_stats_get(sh.kl, &st);
    ck_assert_uint_eq(st.allowed, sum.allowed);
    ck_assert_uint_eq(st.rejected, sum.rejected);
    ck_assert_uint_eq(st.allowed + st.rejected, sum.requested);
    ck_assert_uint_eq(st.allowed, NKEYS * ((uint64_t)(elapsed / TOKEN_NS) + BURST));
    ck_assert_uint_eq(st.keys, NKEYS);
    ck_assert_uint_eq(st.evictions + st.expirations, 0);
    resil_keyed_limiter_free(sh.kl);
    resil_clock_free(sh.clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Blocking acquire from several threads: each sleep advances the shared
 * manual clock; the tokens granted can never outrun the clock. */
struct acq_arg {
    resil_limiter *l;
    resil_clock *clock;
    uint64_t ok, timedout, bad;
};

#define ACQ_THREADS 3
#define ACQ_CALLS 4000

static void *acquirer(void *p)
{
    struct acq_arg *a = p;
    for (int i = 0; i < ACQ_CALLS; i++) {
        int64_t deadline = RESIL_TIME_NEVER;
        if (i % 2)
            deadline = resil_clock_now(a->clock) + 2 * TOKEN_NS;
        int rc = resil_limiter_acquire(a->l, 1, deadline);
        if (rc == 0)
            a->ok++;
        else if (rc == RESIL_ETIMEDOUT && deadline != RESIL_TIME_NEVER)
            a->timedout++;
        else
            a->bad++;
    }
    return NULL;
}

START_TEST(test_blocking_acquire)
{
    long live = tu_alloc_live();
    resil_clock *clock = tu_clock();
    int64_t t0 = resil_clock_now(clock);
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    o.rate = RATE;
    o.burst = 10;
    o.clock = clock;
    resil_limiter *l = NULL;
    ck_assert_rc(resil_limiter_new(&o, &l), 0);
    pthread_t t[ACQ_THREADS];
    struct acq_arg a[ACQ_THREADS];
    for (int i = 0; i < ACQ_THREADS; i++) {
        a[i] = (struct acq_arg){l, clock, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, acquirer, &a[i]), 0);
    }
    uint64_t ok = 0, timedout = 0;
    for (int i = 0; i < ACQ_THREADS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_uint_eq(a[i].bad, 0);
        ok += a[i].ok;
        timedout += a[i].timedout;
    }
    ck_assert_uint_eq(ok + timedout, ACQ_THREADS * ACQ_CALLS);
    /* every call without a deadline succeeded */
    ck_assert_uint_ge(ok, ACQ_THREADS * ACQ_CALLS / 2);
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    ck_assert_uint_eq(st.allowed, ok);
    ck_assert_uint_eq(st.rejected, timedout);
    int64_t elapsed = resil_clock_now(clock) - t0;
    ck_assert_uint_le(st.allowed, (uint64_t)(elapsed / TOKEN_NS) + 10);
    resil_limiter_free(l);
    resil_clock_free(clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Many keys through a small table from several threads: the bound holds
 * and the books balance while keys are evicted and made concurrently. */
struct churn_arg {
    resil_keyed_limiter *kl;
    int id;
    uint64_t requested, allowed, rejected, bad;
};

static void *churner(void *p)
{
    struct churn_arg *a = p;
    char key[32];
    for (int i = 0; i < ATTEMPTS / 2; i++) {
        int len = snprintf(key, sizeof key, "c%d", (i * 7 + a->id * 13) % 97);
        int rc = resil_keyed_limiter_try_acquire(a->kl, key, (size_t)len, 1, NULL);
        a->requested++;
        if (rc == 0)
            a->allowed++;
        else if (rc == RESIL_ELIMIT)
            a->rejected++;
        else
            a->bad++;
    }
    return NULL;
}

START_TEST(test_keyed_churn)
{
    long live = tu_alloc_live();
    resil_clock *clock = tu_clock();
    resil_keyed_limiter_opts o;
    resil_keyed_limiter_opts_init(&o);
    o.rate = 1.0;
    o.burst = 2;
    o.max_keys = 40; /* two shards of 20 */
    o.clock = clock;
    resil_keyed_limiter *kl = NULL;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), 0);
    pthread_t t[WORKERS];
    struct churn_arg a[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        a[i] = (struct churn_arg){kl, i, 0, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, churner, &a[i]), 0);
    }
    uint64_t requested = 0, allowed = 0, rejected = 0;
    for (int i = 0; i < WORKERS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_uint_eq(a[i].bad, 0);
        requested += a[i].requested;
        allowed += a[i].allowed;
        rejected += a[i].rejected;
    }
    resil_keyed_limiter_stats st;
    resil_keyed_limiter_stats_get(kl, &st);
    ck_assert_uint_eq(st.allowed, allowed);
    ck_assert_uint_eq(st.rejected, rejected);
    ck_assert_uint_eq(st.allowed + st.rejected, requested);
    ck_assert_uint_le(st.keys, 40);
    ck_assert_uint_gt(st.evictions, 0); /* 97 keys cycled through 40 places */
    resil_keyed_limiter_free(kl);
    resil_clock_free(clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("limiter_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120); /* TSan and valgrind are slow */
    tcase_add_test(tc, test_shared_limiter);
    tcase_add_test(tc, test_shared_keyed_limiter);
    tcase_add_test(tc, test_blocking_acquire);
    tcase_add_test(tc, test_keyed_churn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
