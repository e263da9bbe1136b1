/* Per-service policies under threads (run under TSan in CI): request
 * coalescing, the bulkhead, statistics under concurrent calls, and the
 * registry under concurrent adds and walks.
 *
 * Nothing sleeps: operations block on a condition variable that the test
 * releases once it has seen (through the service's and cache's statistics)
 * that every thread is where it should be. */
#include "check_util.h"

#include <resil/cache.h>
#include <resil/metrics.h>
#include <resil/policy.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NTHREADS 8

/* An operation that blocks until released, counting how many run at once. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int fail;   /* set before starting: the operation fails with 503 */
    atomic_int calls;
    atomic_int inside;
    atomic_int max_inside;
};

static void gate_init(struct gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_release(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int gated_op(void *arg, resil_attempt *a, resil_service_out *out)
{
    struct gate *g = arg;
    (void)a;
    atomic_fetch_add(&g->calls, 1);
    int now = atomic_fetch_add(&g->inside, 1) + 1;
    int max = atomic_load(&g->max_inside);
    while (now > max && !atomic_compare_exchange_weak(&g->max_inside, &max, now))
        ;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_sub(&g->inside, 1);
    if (g->fail)
        return 503;
    return resil_service_out_bytes(out, "shared value", 12);
}

struct worker {
    pthread_t t;
    resil_service *s;
    struct gate *g;
    const char *key;
    int rc;
    resil_stage stage;
    int stale;
    uint32_t attempts;
    char value[32];
    char message[192];
};

static void *call_thread(void *arg)
{
    struct worker *w = arg;
    struct resil_service_call c;
    resil_service_call_init(&c);
    c.key = w->key;
    c.keylen = w->key ? strlen(w->key) : 0;
    resil_service_result res;
    w->rc = resil_service_call(w->s, &c, gated_op, w->g, &res);
    w->stage = res.stage;
    w->stale = res.stale;
    w->attempts = res.attempts;
    memcpy(w->message, res.message, sizeof w->message);
    if (w->rc == 0 && res.len < sizeof w->value) {
        memcpy(w->value, res.data, res.len);
        w->value[res.len] = '\0';
    }
    resil_service_result_release(&res);
    return NULL;
}

static void start_workers(struct worker *w, int n, resil_service *s, struct gate *g,
                          const char *key)
{
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = s;
        w[i].g = g;
        w[i].key = key;
        ck_assert_int_eq(pthread_create(&w[i].t, NULL, call_thread, &w[i]), 0);
    }
}

static void join_workers(struct worker *w, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
}

static resil_clock *g_clock;
static long g_live0;

static void setup(void)
{
    g_live0 = tu_alloc_live();
    g_clock = tu_clock();
}

static void teardown(void)
{
    resil_clock_free(g_clock);
    ck_assert_int_eq(tu_alloc_live(), g_live0);
}

static void opts_init(resil_service_opts *o, const char *name)
{
    resil_service_opts_init(o);
    o->name = name;
    o->clock = g_clock;
}

static uint64_t coalesced(resil_service *s)
{
    resil_cache_stats st;
    resil_cache_stats_get(resil_service_cache(s), &st);
    return st.coalesced;
}

/* One key, NTHREADS callers, an operation that blocks: it runs once, takes
 * one token, and every caller gets its value. */
START_TEST(coalescing)
{
    resil_service_opts o;
    opts_init(&o, "coalesce");
    o.use_cache = 1;
    o.use_limiter = 1;
    o.limiter.burst = 1; /* a second leader would be refused */
    o.limiter.rate = 0.001;
    o.use_breaker = 1;
    o.max_concurrent = 1;
    resil_service *s = NULL;
    ck_assert_rc(resil_service_new(&o, &s), 0);
    struct gate g;
    gate_init(&g);
    struct worker w[NTHREADS];
    start_workers(w, NTHREADS, s, &g, "video:42");
    /* wait until one runs the operation and the others wait for it */
    while (atomic_load(&g.calls) < 1 || coalesced(s) < NTHREADS - 1)
        sched_yield();
    gate_release(&g);
    join_workers(w, NTHREADS);
    ck_assert_int_eq(atomic_load(&g.calls), 1);
    int leaders = 0;
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_rc(w[i].rc, 0);
        ck_assert_str_eq(w[i].value, "shared value");
        leaders += w[i].stage == RESIL_STAGE_OPERATION;
    }
    ck_assert_int_eq(leaders, 1);
    resil_limiter_stats ls;
    resil_limiter_stats_get(resil_service_limiter(s), &ls);
    ck_assert_uint_eq(ls.allowed, 1);
    ck_assert_uint_eq(ls.rejected, 0);
    resil_breaker_stats bs;
    resil_breaker_stats_get(resil_service_breaker(s), &bs);
    ck_assert_uint_eq(bs.calls, 1);
    resil_service_stats st;
    resil_service_stats_get(s, &st);
    ck_assert_uint_eq(st.calls, NTHREADS);
    ck_assert_uint_eq(st.ok, 1);
    ck_assert_uint_eq(st.cache_hits, NTHREADS - 1);
    ck_assert_uint_eq(st.attempts, 1);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_BULKHEAD], 0);
    resil_service_free(s);
    gate_destroy(&g);
}
END_TEST

/* The one load fails: with a stale entry every caller gets it; without,
 * every caller gets the failure, and only the leader knows its details. */
START_TEST(coalesced_failure)
{
    resil_service_opts o;
    opts_init(&o, "shared");
    o.use_cache = 1;
    o.cache.default_ttl_ns = RESIL_NS_PER_SEC;
    o.cache.stale_ttl_ns = 60 * RESIL_NS_PER_SEC;
    resil_service *s = NULL;
    ck_assert_rc(resil_service_new(&o, &s), 0);
    ck_assert_rc(resil_cache_set(resil_service_cache(s), "k", 1, "old", 3, 0), 0);
    resil_clock_manual_advance(g_clock, 2 * RESIL_NS_PER_SEC); /* "k" is stale */
    const char *keys[] = {"k", "fresh-key"};
    for (int round = 0; round < 2; round++) {
        struct gate g;
        gate_init(&g);
        g.fail = 1;
        struct worker w[NTHREADS];
        uint64_t before = coalesced(s);
        start_workers(w, NTHREADS, s, &g, keys[round]);
        while (atomic_load(&g.calls) < 1 || coalesced(s) < before + NTHREADS - 1)
            sched_yield();
        gate_release(&g);
        join_workers(w, NTHREADS);
        ck_assert_int_eq(atomic_load(&g.calls), 1);
        int leaders = 0;
        for (int i = 0; i < NTHREADS; i++) {
            leaders += w[i].attempts == 1;
            if (round == 0) {
                ck_assert_rc(w[i].rc, 0);
                ck_assert_int_eq(w[i].stale, 1);
                ck_assert_str_eq(w[i].value, "old");
                ck_assert_str_eq(w[i].message,
                                 w[i].attempts ? "shared: the operation failed (code 503); "
                                                 "served a stale cached value"
                                               : "shared: the load of this key failed; "
                                                 "served a stale cached value");
            } else {
                ck_assert_rc(w[i].rc, RESIL_EFAILED);
                ck_assert_int_eq(w[i].stage, RESIL_STAGE_OPERATION);
                ck_assert_str_eq(w[i].message,
                                 w[i].attempts ? "shared: the operation failed (code 503)"
                                               : "shared: operation failed and is not "
                                                 "retryable");
            }
        }
        ck_assert_int_eq(leaders, 1);
        gate_destroy(&g);
    }
    resil_service_stats st;
    resil_service_stats_get(s, &st);
    ck_assert_uint_eq(st.stale, NTHREADS);
    ck_assert_uint_eq(st.failed, NTHREADS);
    ck_assert_uint_eq(st.attempts, 2);
    resil_service_free(s);
}
END_TEST

static uint64_t busy(resil_service *s)
{
    resil_service_stats st;
    resil_service_stats_get(s, &st);
    return st.rejected[RESIL_STAGE_BULKHEAD];
}

/* NTHREADS callers, room for 2: two run, the rest are turned away at once,
 * and never more than two operations run together. */
START_TEST(bulkhead)
{
    resil_service_opts o;
    opts_init(&o, "bulkhead");
    o.max_concurrent = 2;
    o.use_breaker = 1;
    resil_service *s = NULL;
    ck_assert_rc(resil_service_new(&o, &s), 0);
    struct gate g;
    gate_init(&g);
    struct worker w[NTHREADS];
    start_workers(w, NTHREADS, s, &g, NULL);
    while (atomic_load(&g.inside) < 2 || busy(s) < NTHREADS - 2)
        sched_yield();
    resil_service_stats st;
    resil_service_stats_get(s, &st);
    ck_assert_uint_eq(st.in_flight, 2);
    gate_release(&g);
    join_workers(w, NTHREADS);
    int ok = 0, refused = 0;
    for (int i = 0; i < NTHREADS; i++) {
        if (w[i].rc == 0) {
            ok++;
            ck_assert_str_eq(w[i].value, "shared value");
        } else {
            ck_assert_rc(w[i].rc, RESIL_EBUSY);
            ck_assert_int_eq(w[i].stage, RESIL_STAGE_BULKHEAD);
            refused++;
        }
    }
    ck_assert_int_eq(ok, 2);
    ck_assert_int_eq(refused, NTHREADS - 2);
    ck_assert_int_eq(atomic_load(&g.max_inside), 2);
    ck_assert_int_eq(atomic_load(&g.calls), 2);
    resil_breaker_stats bs;
    resil_breaker_stats_get(resil_service_breaker(s), &bs);
    ck_assert_uint_eq(bs.calls, 2); /* refused calls took no permit */
    resil_service_stats_get(s, &st);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.ok, 2);
    resil_service_free(s);
    gate_destroy(&g);
}
END_TEST

/* ---- many calls at once ------------------------------------------------------ */

#define CALLS 300

struct churn {
    pthread_t t;
    resil_service *s;
    int id;
    atomic_int *inside;
    atomic_int *max_inside;
    int errors;
};

static int churn_op(void *arg, resil_attempt *a, resil_service_out *out)
{
    struct churn *c = arg;
    int now = atomic_fetch_add(c->inside, 1) + 1;
    int max = atomic_load(c->max_inside);
    while (now > max && !atomic_compare_exchange_weak(c->max_inside, &max, now))
        ;
    char v[32];
    int n = snprintf(v, sizeof v, "t%d-a%u", c->id, (unsigned)a->number);
    int rc = a->number % 3 == 1 && c->id % 2 ? 503 : resil_service_out_bytes(out, v, (size_t)n);
    atomic_fetch_sub(c->inside, 1);
    return rc;
}

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    char key[32];
    for (int i = 0; i < CALLS; i++) {
        struct resil_service_call call;
        resil_service_call_init(&call);
        snprintf(key, sizeof key, "k%d", i % 17);
        call.key = key;
        call.keylen = strlen(key);
        resil_service_result res;
        int rc = resil_service_call(c->s, i % 4 ? &call : NULL, churn_op, c, &res);
        if (rc == 0 && (res.len == 0 || ((const char *)res.data)[0] != 't'))
            c->errors++;
        resil_service_result_release(&res);
    }
    return NULL;
}

START_TEST(churn)
{
    resil_metrics *m = NULL;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_service_opts o;
    opts_init(&o, "churn");
    o.use_cache = 1;
    o.cache.max_entries = 8; /* evictions too */
    o.use_limiter = 1;
    o.limiter.rate = 1;
    o.limiter.burst = 100000; /* the clock barely moves: enough for every call */
    o.use_breaker = 1;
    o.breaker.failure_rate = 0.9;
    o.use_retry = 1;
    o.retry.base_delay_ns = 0;
    o.max_concurrent = 3;
    o.metrics = m;
    resil_service *s = NULL;
    ck_assert_rc(resil_service_new(&o, &s), 0);
    atomic_int inside = 0, max_inside = 0;
    struct churn c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct churn){.s = s, .id = i, .inside = &inside, .max_inside = &max_inside};
        ck_assert_int_eq(pthread_create(&c[i].t, NULL, churn_thread, &c[i]), 0);
    }
    /* exporting while calls run */
    for (int i = 0; i < 20; i++) {
        char *text = NULL;
        ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
        resil_free(text);
        resil_clock_manual_advance(g_clock, RESIL_NS_PER_MS);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(c[i].t, NULL), 0);
        ck_assert_int_eq(c[i].errors, 0);
    }
    ck_assert_int_le(atomic_load(&max_inside), 3);
    resil_service_stats st;
    resil_service_stats_get(s, &st);
    ck_assert_uint_eq(st.calls, 4 * CALLS);
    /* a call without a value from any stage was refused (a refusal may also
     * end in a failure, after an attempt, so this is not an equality) */
    uint64_t refused = st.rejected[RESIL_STAGE_BULKHEAD] + st.rejected[RESIL_STAGE_BREAKER];
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_LIMITER], 0);
    ck_assert_uint_ge(st.ok + st.cache_hits + st.stale + st.fallbacks + st.failed + refused,
                      st.calls);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_gt(st.ok, 0);
    ck_assert_uint_ge(st.attempts, st.ok);
    resil_service_free(s);
    resil_metrics_free(m);
}
END_TEST

/* ---- the registry -------------------------------------------------------------- */

struct adder {
    pthread_t t;
    resil_services *reg;
    int id;
    int walks;
};

static int count_visit(resil_service *s, void *ctx)
{
    const char **prev = ctx;
    /* name order holds while others add */
    if (*prev && strcmp(*prev, resil_service_name(s)) >= 0)
        return 1;
    *prev = resil_service_name(s);
    return 0;
}

static void *adder_thread(void *arg)
{
    struct adder *a = arg;
    char name[32];
    for (int i = 0; i < 25; i++) {
        resil_service_opts o;
        resil_service_opts_init(&o);
        snprintf(name, sizeof name, "svc%02d.%d", 24 - i, a->id);
        o.name = name;
        if (resil_services_add(a->reg, &o, NULL) != 0)
            return NULL;
        const char *prev = NULL;
        if (resil_services_foreach(a->reg, count_visit, &prev) == 0)
            a->walks++;
        resil_service *got = NULL;
        if (resil_services_get(a->reg, name, &got) != 0 || !got)
            return NULL;
    }
    return NULL;
}

START_TEST(registry_threads)
{
    resil_services *reg = NULL;
    ck_assert_rc(resil_services_new(&reg), 0);
    struct adder a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct adder){.reg = reg, .id = i};
        ck_assert_int_eq(pthread_create(&a[i].t, NULL, adder_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(a[i].t, NULL), 0);
        ck_assert_int_eq(a[i].walks, 25);
    }
    ck_assert_uint_eq(resil_services_count(reg), 100);
    resil_services_free(reg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy_threads");
    TCase *t = tcase_create("policy_threads");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, coalescing);
    tcase_add_test(t, coalesced_failure);
    tcase_add_test(t, bulkhead);
    tcase_add_test(t, churn);
    tcase_add_test(t, registry_threads);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
