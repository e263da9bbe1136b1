/* Health-check registry, scheduler and report: options, the check table,
 * runs started by tick (manual clock) and by the scheduler (real clock),
 * timeouts of hung checks, checks that return garbage, aggregation,
 * liveness versus readiness, and the application/health+json report. */
#include "config.h"

#include "check_util.h"

#include <resil/health.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if RESIL_HAVE_JANSSON
#include <jansson.h>
#endif

#define SEC RESIL_NS_PER_SEC
#define MS RESIL_NS_PER_MS
/* A bound on waiting for threads, never reached when the code is right. */
#define THREAD_WAIT (10 * SEC)
/* 2026-11-24T05:00:00Z */
#define WALL0 (INT64_C(1795496400) * SEC)

static resil_clock *g_clk;
static resil_clock *g_wall;
static long g_live0;
static atomic_int g_freed;

static void setup(void)
{
    g_live0 = tu_alloc_live();
    g_clk = tu_clock();
    ck_assert_rc(resil_clock_manual_new(WALL0, &g_wall), 0);
    atomic_store(&g_freed, 0);
}

static void teardown(void)
{
    resil_clock_free(g_clk);
    resil_clock_free(g_wall);
    g_clk = g_wall = NULL;
    ck_assert_int_eq(tu_alloc_live(), g_live0);
}

static void adv(int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(g_clk, ns), 0);
}

static void count_free(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&g_freed, 1);
}

/* ---- a check the test controls ------------------------------------------ */

/* Each call copies `res` (all its bytes) into the result and returns rc;
 * while `open` is 0 calls wait inside the check, like a hung one. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int entered;
    int returned;
    int rc;
    int64_t deadline; /* the last call's */
    resil_health_result res;
};

static void gate_init(struct gate *g, resil_health_status st)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = 1;
    g->res.status = st;
    g->res.observed_value = NAN;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static int gate_fn(void *ctx, int64_t deadline, resil_health_result *r)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    g->deadline = deadline;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    memcpy(r, &g->res, sizeof *r);
    int rc = g->rc;
    g->returned++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_set_open(struct gate *g, int open)
{
    pthread_mutex_lock(&g->mu);
    g->open = open;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Wait (for the runner thread, bounded) until n calls have entered. */
static void gate_wait_entered(struct gate *g, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += THREAD_WAIT / SEC;
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (g->entered < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &until);
    int got = g->entered;
    pthread_mutex_unlock(&g->mu);
    ck_assert_int_ge(got, n);
}

static int gate_entered(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    int n = g->entered;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static int gate_returned(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    int n = g->returned;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static resil_health *mk_opts(const resil_health_opts *o)
{
    resil_health *h = NULL;
    ck_assert_rc(resil_health_new(o, &h), 0);
    ck_assert_ptr_nonnull(h);
    return h;
}

static resil_health *mk(void)
{
    resil_health_opts o;
    resil_health_opts_init(&o);
    o.clock = g_clk;
    o.wall_clock = g_wall;
    return mk_opts(&o);
}

static void copts(resil_health_check_opts *o, const char *name, struct gate *g)
{
    resil_health_check_opts_init(o);
    o->name = name;
    o->fn = gate_fn;
    o->ctx = g;
    o->ctx_free = count_free;
}

static void add(resil_health *h, const char *name, struct gate *g, resil_health_kind kind,
                int critical)
{
    resil_health_check_opts o;
    copts(&o, name, g);
    o.kind = kind;
    o.critical = critical;
    ck_assert_rc(resil_health_add(h, &o), 0);
}

static resil_health_check_info info_of(resil_health *h, const char *name)
{
    resil_health_check_info in;
    ck_assert_rc(resil_health_check_get(h, name, &in), 0);
    return in;
}

static void settle(resil_health *h)
{
    ck_assert_rc(resil_health_wait(h, NULL, THREAD_WAIT), 0);
}

/* Tick, expecting `want` runs started, and wait for them to end. */
static void tick(resil_health *h, int want)
{
    ck_assert_rc(resil_health_tick(h), want);
    settle(h);
}

/* ---- options -------------------------------------------------------------- */

START_TEST(test_opts_defaults)
{
    resil_health_opts o;
    memset(&o, 0xff, sizeof o);
    resil_health_opts_init(&o);
    ck_assert_ptr_null(o.clock);
    ck_assert_ptr_null(o.wall_clock);
    ck_assert_ptr_null(o.service_id);
    ck_assert_ptr_null(o.description);
    ck_assert_ptr_null(o.version);
    ck_assert_ptr_null(o.release_id);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);

    resil_health_check_opts c;
    memset(&c, 0xff, sizeof c);
    resil_health_check_opts_init(&c);
    ck_assert_ptr_null(c.name);
    ck_assert_ptr_null(c.fn);
    ck_assert_ptr_null(c.ctx);
    ck_assert_ptr_null(c.ctx_free);
    ck_assert_ptr_null(c.component_type);
    ck_assert_int_eq(c.kind, RESIL_HEALTH_READINESS);
    ck_assert_int_eq(c.interval_ns, 10 * SEC);
    ck_assert_int_eq(c.timeout_ns, 5 * SEC);
    ck_assert_int_eq(c.critical, 1);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(c.reserved_[i], 0);

    resil_health_opts_init(NULL);
    resil_health_check_opts_init(NULL);
}
END_TEST

START_TEST(test_new_args)
{
    ck_assert_rc(resil_health_new(NULL, NULL), RESIL_EINVAL);
    resil_health *h = (resil_health *)&h;
    resil_health_opts o;
    resil_health_opts_init(&o);
    o.description = "bad \xff byte";
    ck_assert_rc(resil_health_new(&o, &h), RESIL_EINVAL);
    ck_assert_ptr_null(h);
    o.description = NULL;
    o.version = "\xc0\x80"; /* overlong NUL */
    ck_assert_rc(resil_health_new(&o, &h), RESIL_EINVAL);
    o.version = "v\xe2\x82\xac"; /* a euro sign is fine */
    ck_assert_rc(resil_health_new(&o, &h), 0);
    resil_health_free(h);
    h = mk_opts(NULL); /* defaults: monotonic and real-time clocks */
    resil_health_free(h);
    resil_health_free(NULL);
}
END_TEST

START_TEST(test_new_alloc_failure)
{
    resil_health_opts o;
    resil_health_opts_init(&o);
    o.service_id = "svc";
    o.description = "desc";
    o.version = "1";
    o.release_id = "1.0.0";
    long live = tu_alloc_live();
    int rc = RESIL_ENOMEM;
    for (long n = 0; rc == RESIL_ENOMEM; n++) {
        ck_assert_int_lt(n, 20);
        resil_health *h = (resil_health *)&o;
        tu_alloc_fail_at(n);
        rc = resil_health_new(&o, &h);
        tu_alloc_reset();
        if (rc == RESIL_ENOMEM) {
            ck_assert_ptr_null(h);
            ck_assert_int_eq(tu_alloc_live(), live);
        } else {
            ck_assert_rc(rc, 0);
            ck_assert_int_eq(n, 5); /* registry and four strings */
            resil_health_free(h);
        }
    }
}
END_TEST

static const char *const bad_names[] = {
    "nocolon", ":measurement", "component:", ":", "a:b:c", "a\"b:c", "a:b\\c",
    "a:b\x01", "a:\x7f", "caf\xc3\xa9:x", "", "a:b\n",
};

START_TEST(test_add_bad_names)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        copts(&o, bad_names[i], &g);
        ck_assert_msg(resil_health_add(h, &o) == RESIL_EINVAL, "name %zu accepted", i);
    }
    copts(&o, NULL, &g);
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);

    /* the longest name that fits, and one byte more */
    char name[RESIL_HEALTH_MAX_NAME + 1];
    memset(name, 'x', sizeof name);
    name[3] = ':';
    name[RESIL_HEALTH_MAX_NAME] = '\0';
    copts(&o, name, &g);
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    name[RESIL_HEALTH_MAX_NAME - 1] = '\0';
    ck_assert_rc(resil_health_add(h, &o), 0);
    ck_assert_str_eq(info_of(h, name).name, name);
    /* spaces and other printable ASCII are fine */
    copts(&o, "my db:p99 latency/ms", &g);
    ck_assert_rc(resil_health_add(h, &o), 0);
    ck_assert_int_eq(atomic_load(&g_freed), 0); /* failed adds keep ctx */
    resil_health_free(h);
    ck_assert_int_eq(atomic_load(&g_freed), 2);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_add_bad_opts)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "a:b", &g);
    ck_assert_rc(resil_health_add(NULL, &o), RESIL_EINVAL);
    ck_assert_rc(resil_health_add(h, NULL), RESIL_EINVAL);
    o.fn = NULL;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    copts(&o, "a:b", &g);
    o.interval_ns = MS - 1;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    o.interval_ns = 0;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    o.interval_ns = -SEC;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    copts(&o, "a:b", &g);
    o.timeout_ns = MS - 1;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    o.timeout_ns = 0;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    copts(&o, "a:b", &g);
    o.kind = 0;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    o.kind = 4;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    copts(&o, "a:b", &g);
    o.component_type = "";
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    o.component_type = "data\"store";
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    char ct[RESIL_HEALTH_MAX_NAME + 1];
    memset(ct, 'c', sizeof ct - 1);
    ct[sizeof ct - 1] = '\0';
    o.component_type = ct;
    ck_assert_rc(resil_health_add(h, &o), RESIL_EINVAL);
    ct[RESIL_HEALTH_MAX_NAME - 1] = '\0';
    ck_assert_rc(resil_health_add(h, &o), 0);
    /* the smallest interval and timeout */
    copts(&o, "a:c", &g);
    o.interval_ns = MS;
    o.timeout_ns = MS;
    o.kind = RESIL_HEALTH_BOTH;
    ck_assert_rc(resil_health_add(h, &o), 0);
    ck_assert_int_eq(info_of(h, "a:c").kind, RESIL_HEALTH_BOTH);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_add_remove)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "db:ping", &g, RESIL_HEALTH_READINESS, 1);
    resil_health_check_opts o;
    copts(&o, "db:ping", &g);
    ck_assert_rc(resil_health_add(h, &o), RESIL_EEXIST);
    ck_assert_int_eq(atomic_load(&g_freed), 0);
    ck_assert_rc(resil_health_remove(h, "db:pong"), RESIL_ENOENT);
    ck_assert_rc(resil_health_remove(h, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_remove(NULL, "db:ping"), RESIL_EINVAL);
    ck_assert_rc(resil_health_remove(h, "db:ping"), 0);
    ck_assert_int_eq(atomic_load(&g_freed), 1);
    ck_assert_rc(resil_health_remove(h, "db:ping"), RESIL_ENOENT);
    resil_health_check_info in;
    ck_assert_rc(resil_health_check_get(h, "db:ping", &in), RESIL_ENOENT);
    ck_assert_rc(resil_health_check_get(h, NULL, &in), RESIL_EINVAL);
    ck_assert_rc(resil_health_check_get(h, "db:ping", NULL), RESIL_EINVAL);
    /* the name is free again; a check that ran has its thread ended */
    add(h, "db:ping", &g, RESIL_HEALTH_READINESS, 1);
    tick(h, 1);
    ck_assert_rc(resil_health_remove(h, "db:ping"), 0);
    ck_assert_int_eq(atomic_load(&g_freed), 2);
    /* a ctx_free of NULL: ctx is not owned */
    copts(&o, "db:ping", &g);
    o.ctx_free = NULL;
    ck_assert_rc(resil_health_add(h, &o), 0);
    resil_health_free(h);
    ck_assert_int_eq(atomic_load(&g_freed), 2);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_add_full)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    char name[32];
    for (int i = 0; i < RESIL_HEALTH_MAX_CHECKS; i++) {
        snprintf(name, sizeof name, "c%03d:x", i);
        add(h, name, &g, RESIL_HEALTH_LIVENESS, 1);
    }
    resil_health_check_opts o;
    copts(&o, "z:x", &g);
    ck_assert_rc(resil_health_add(h, &o), RESIL_EFULL);
    copts(&o, "c007:x", &g);
    ck_assert_rc(resil_health_add(h, &o), RESIL_EEXIST);
    ck_assert_rc(resil_health_remove(h, "c100:x"), 0);
    copts(&o, "z:x", &g);
    ck_assert_rc(resil_health_add(h, &o), 0);
    resil_health_check_info *all;
    size_t n;
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_BOTH, &all, &n), 0);
    ck_assert_uint_eq(n, RESIL_HEALTH_MAX_CHECKS);
    ck_assert_str_eq(all[0].name, "c000:x");
    ck_assert_str_eq(all[99].name, "c099:x");
    ck_assert_str_eq(all[100].name, "c101:x");
    ck_assert_str_eq(all[n - 1].name, "z:x");
    resil_free(all);
    resil_health_free(h);
    ck_assert_int_eq(atomic_load(&g_freed), RESIL_HEALTH_MAX_CHECKS + 1);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_add_alloc_failure)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "db:ping", &g);
    o.component_type = "datastore";
    long live = tu_alloc_live();
    int rc = RESIL_ENOMEM;
    for (long n = 0; rc == RESIL_ENOMEM; n++) {
        ck_assert_int_lt(n, 10);
        tu_alloc_fail_at(n);
        rc = resil_health_add(h, &o);
        tu_alloc_reset();
        if (rc == RESIL_ENOMEM) {
            ck_assert_int_eq(tu_alloc_live(), live);
            ck_assert_rc(resil_health_check_get(h, "db:ping", &(resil_health_check_info){0}),
                         RESIL_ENOENT);
        } else {
            ck_assert_rc(rc, 0);
        }
    }
    ck_assert_int_eq(atomic_load(&g_freed), 0);
    resil_health_free(h);
    ck_assert_int_eq(atomic_load(&g_freed), 1);
    gate_destroy(&g);
}
END_TEST

/* ---- runs ----------------------------------------------------------------- */

START_TEST(test_first_run_and_result)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_WARN);
    g.res.observed_value = 42.5;
    strcpy(g.res.observed_unit, "percent");
    strcpy(g.res.output, "busy");
    add(h, "cpu:utilization", &g, RESIL_HEALTH_BOTH, 0);

    resil_health_check_info in = info_of(h, "cpu:utilization");
    ck_assert_str_eq(in.name, "cpu:utilization");
    ck_assert_int_eq(in.kind, RESIL_HEALTH_BOTH);
    ck_assert_int_eq(in.critical, 0);
    ck_assert_int_eq(in.status, RESIL_HEALTH_PASS);
    ck_assert(isnan(in.observed_value));
    ck_assert_str_eq(in.observed_unit, "");
    ck_assert_str_eq(in.output, "");
    ck_assert_int_eq(in.time_ns, 0);
    ck_assert_int_eq(in.wall_time_ns, 0);
    ck_assert_int_eq(in.running, 0);
    ck_assert_uint_eq(in.runs, 0);

    adv(3 * MS);
    ck_assert_rc(resil_clock_manual_advance(g_wall, 7 * MS), 0);
    tick(h, 1); /* due at once after add */
    in = info_of(h, "cpu:utilization");
    ck_assert_int_eq(in.status, RESIL_HEALTH_WARN);
    ck_assert(in.observed_value == 42.5);
    ck_assert_str_eq(in.observed_unit, "percent");
    ck_assert_str_eq(in.output, "busy");
    ck_assert_int_eq(in.time_ns, SEC + 3 * MS);
    ck_assert_int_eq(in.wall_time_ns, WALL0 + 7 * MS);
    ck_assert_int_eq(in.duration_ns, 0);
    ck_assert_int_eq(in.running, 0);
    ck_assert_uint_eq(in.runs, 1);
    ck_assert_uint_eq(in.failures, 0);
    ck_assert_uint_eq(in.timeouts, 0);
    ck_assert_uint_eq(in.consecutive_failures, 0);
    /* the deadline handed to the check: start + timeout */
    ck_assert_int_eq(g.deadline, SEC + 3 * MS + 5 * SEC);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_tick_interval_edges)
{
    resil_health *h = mk();
    struct gate a, b;
    gate_init(&a, RESIL_HEALTH_PASS);
    gate_init(&b, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "a:x", &a);
    o.interval_ns = 10 * SEC;
    ck_assert_rc(resil_health_add(h, &o), 0);
    copts(&o, "b:x", &b);
    o.interval_ns = 3 * SEC;
    ck_assert_rc(resil_health_add(h, &o), 0);

    tick(h, 2);
    tick(h, 0); /* nothing due at the same instant */
    adv(3 * SEC - 1);
    tick(h, 0); /* b is due at t + 3 s, not one ns before */
    adv(1);
    tick(h, 1);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 1);
    ck_assert_uint_eq(info_of(h, "b:x").runs, 2);
    adv(7 * SEC - 1); /* t + 10 s - 1 ns: b due (t + 6 s), a not */
    tick(h, 1);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 1);
    ck_assert_uint_eq(info_of(h, "b:x").runs, 3);
    adv(1);
    tick(h, 1);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 2);
    /* a late tick runs a check once, not once per missed interval */
    adv(100 * SEC);
    tick(h, 2);
    tick(h, 0);
    ck_assert_uint_eq(info_of(h, "b:x").runs, 4);
    ck_assert_int_eq(gate_returned(&a), 3);
    ck_assert_rc(resil_health_tick(NULL), RESIL_EINVAL);
    resil_health_free(h);
    gate_destroy(&a);
    gate_destroy(&b);
}
END_TEST

START_TEST(test_run_now)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "a:x", &g);
    o.interval_ns = 10 * SEC;
    ck_assert_rc(resil_health_add(h, &o), 0);
    tick(h, 1);
    adv(4 * SEC);
    gate_set_open(&g, 0);
    ck_assert_rc(resil_health_run(h, "a:x"), 0); /* not due, runs anyway */
    gate_wait_entered(&g, 2);
    ck_assert_int_eq(info_of(h, "a:x").running, 1);
    ck_assert_rc(resil_health_run(h, "a:x"), RESIL_EBUSY);
    ck_assert_rc(resil_health_run(h, "a:y"), RESIL_ENOENT);
    ck_assert_rc(resil_health_run(h, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_run(NULL, "a:x"), RESIL_EINVAL);
    ck_assert_rc(resil_health_tick(h), 0); /* a running check is not started */
    gate_set_open(&g, 1);
    settle(h);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 2);
    ck_assert_int_eq(info_of(h, "a:x").time_ns, 5 * SEC);
    /* the manual run restarted the interval: next due at 5 s + 10 s */
    adv(10 * SEC - 1);
    tick(h, 0);
    adv(1);
    tick(h, 1);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 3);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_wait)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    ck_assert_rc(resil_health_wait(h, NULL, 0), 0); /* nothing to wait for */
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    ck_assert_rc(resil_health_wait(h, "a:x", 0), 0);
    ck_assert_rc(resil_health_wait(h, "a:y", 0), RESIL_ENOENT);
    ck_assert_rc(resil_health_wait(h, NULL, -1), RESIL_EINVAL);
    ck_assert_rc(resil_health_wait(NULL, NULL, 0), RESIL_EINVAL);
    gate_set_open(&g, 0);
    ck_assert_rc(resil_health_tick(h), 1);
    gate_wait_entered(&g, 1);
    ck_assert_rc(resil_health_wait(h, "a:x", 0), RESIL_ETIMEDOUT);
    ck_assert_rc(resil_health_wait(h, NULL, MS), RESIL_ETIMEDOUT);
    gate_set_open(&g, 1);
    ck_assert_rc(resil_health_wait(h, "a:x", THREAD_WAIT), 0);
    ck_assert_int_eq(info_of(h, "a:x").running, 0);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 1);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

/* ---- hung checks ---------------------------------------------------------- */

START_TEST(test_hung_check_times_out)
{
    resil_health *h = mk();
    struct gate hung, ok;
    gate_init(&hung, RESIL_HEALTH_PASS);
    gate_init(&ok, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "slow:x", &hung);
    o.interval_ns = 10 * SEC;
    o.timeout_ns = 5 * SEC;
    ck_assert_rc(resil_health_add(h, &o), 0);
    copts(&o, "fast:x", &ok);
    o.interval_ns = 2 * SEC;
    ck_assert_rc(resil_health_add(h, &o), 0);

    gate_set_open(&hung, 0);
    ck_assert_rc(resil_health_tick(h), 2);
    gate_wait_entered(&hung, 1);
    ck_assert_rc(resil_health_wait(h, "fast:x", THREAD_WAIT), 0);
    adv(5 * SEC - 1);
    ck_assert_rc(resil_health_tick(h), 1); /* fast runs; slow not overdue yet */
    ck_assert_rc(resil_health_wait(h, "fast:x", THREAD_WAIT), 0);
    resil_health_check_info in = info_of(h, "slow:x");
    ck_assert_uint_eq(in.runs, 0);
    ck_assert_int_eq(in.running, 1);

    adv(1); /* the deadline */
    ck_assert_rc(resil_health_tick(h), 0);
    in = info_of(h, "slow:x");
    ck_assert_int_eq(in.status, RESIL_HEALTH_FAIL);
    ck_assert_str_eq(in.output, "timed out after 5000 ms");
    ck_assert_uint_eq(in.runs, 1);
    ck_assert_uint_eq(in.failures, 1);
    ck_assert_uint_eq(in.timeouts, 1);
    ck_assert_uint_eq(in.consecutive_failures, 1);
    ck_assert_int_eq(in.running, 1);
    ck_assert_int_eq(in.time_ns, 6 * SEC);
    ck_assert_int_eq(in.duration_ns, 5 * SEC);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_FAIL);
#if RESIL_HAVE_JANSSON
    char *json = NULL;
    ck_assert_rc(resil_health_render(h, RESIL_HEALTH_READINESS, &json, NULL), 0);
    ck_assert_ptr_nonnull(strstr(json, "timed out after 5000 ms"));
    resil_free(json);
#endif

    /* past its interval, still hung: not started again; the other goes on */
    adv(10 * SEC);
    ck_assert_rc(resil_health_tick(h), 1);
    ck_assert_rc(resil_health_wait(h, "fast:x", THREAD_WAIT), 0);
    ck_assert_uint_eq(info_of(h, "fast:x").runs, 3);
    ck_assert_int_eq(gate_entered(&hung), 1);
    ck_assert_uint_eq(info_of(h, "slow:x").timeouts, 1); /* counted once */
    ck_assert_rc(resil_health_run(h, "slow:x"), RESIL_EBUSY);

    /* it returns "pass" late: dropped */
    gate_set_open(&hung, 1);
    settle(h);
    ck_assert_int_eq(gate_returned(&hung), 1);
    in = info_of(h, "slow:x");
    ck_assert_int_eq(in.status, RESIL_HEALTH_FAIL);
    ck_assert_str_eq(in.output, "timed out after 5000 ms");
    ck_assert_uint_eq(in.runs, 1);
    ck_assert_int_eq(in.running, 0);
    /* its next run was due at 1 s + 10 s: the next tick starts it */
    ck_assert_rc(resil_health_tick(h), 1);
    settle(h);
    in = info_of(h, "slow:x");
    ck_assert_int_eq(in.status, RESIL_HEALTH_PASS);
    ck_assert_str_eq(in.output, "");
    ck_assert_uint_eq(in.runs, 2);
    ck_assert_uint_eq(in.failures, 1);
    ck_assert_uint_eq(in.consecutive_failures, 0);
    resil_health_free(h);
    gate_destroy(&hung);
    gate_destroy(&ok);
}
END_TEST

/* A run that returns at its deadline, before any tick noticed, is a
 * timeout all the same. */
START_TEST(test_late_return_before_tick)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "a:x", &g);
    o.timeout_ns = 2 * MS;
    ck_assert_rc(resil_health_add(h, &o), 0);
    gate_set_open(&g, 0);
    ck_assert_rc(resil_health_tick(h), 1);
    gate_wait_entered(&g, 1);
    adv(2 * MS);
    gate_set_open(&g, 1);
    settle(h);
    resil_health_check_info in = info_of(h, "a:x");
    ck_assert_int_eq(in.status, RESIL_HEALTH_FAIL);
    ck_assert_str_eq(in.output, "timed out after 2 ms");
    ck_assert_uint_eq(in.timeouts, 1);
    ck_assert_uint_eq(in.runs, 1);
    ck_assert_int_eq(in.duration_ns, 2 * MS);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

struct remover {
    resil_health *h;
    atomic_int done;
    int rc;
};

static void *remove_main(void *arg)
{
    struct remover *r = arg;
    r->rc = resil_health_remove(r->h, "a:x");
    atomic_store(&r->done, 1);
    return NULL;
}

START_TEST(test_remove_waits_for_run)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    gate_set_open(&g, 0);
    ck_assert_rc(resil_health_tick(h), 1);
    gate_wait_entered(&g, 1);
    struct remover r = {.h = h};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, remove_main, &r), 0);
    /* the check leaves the table at once, then remove waits for its run */
    resil_health_check_info in;
    while (resil_health_check_get(h, "a:x", &in) == 0)
        sched_yield();
    ck_assert_int_eq(atomic_load(&r.done), 0);
    ck_assert_int_eq(atomic_load(&g_freed), 0);
    ck_assert_rc(resil_health_wait(h, "a:x", 0), RESIL_ENOENT);
    gate_set_open(&g, 1);
    pthread_join(t, NULL);
    ck_assert_rc(r.rc, 0);
    ck_assert_int_eq(gate_returned(&g), 1);
    ck_assert_int_eq(atomic_load(&g_freed), 1);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

struct self_remove {
    resil_health *h;
    int rc;
};

static int self_remove_fn(void *ctx, int64_t deadline, resil_health_result *r)
{
    (void)deadline;
    struct self_remove *s = ctx;
    s->rc = resil_health_remove(s->h, "self:x");
    strcpy(r->output, "tried");
    return 0;
}

START_TEST(test_remove_self_is_ebusy)
{
    resil_health *h = mk();
    struct self_remove s = {.h = h, .rc = 1};
    resil_health_check_opts o;
    resil_health_check_opts_init(&o);
    o.name = "self:x";
    o.fn = self_remove_fn;
    o.ctx = &s;
    ck_assert_rc(resil_health_add(h, &o), 0);
    tick(h, 1);
    ck_assert_rc(s.rc, RESIL_EBUSY);
    ck_assert_str_eq(info_of(h, "self:x").output, "tried");
    resil_health_free(h);
}
END_TEST

static void *open_gate_main(void *arg)
{
    gate_set_open(arg, 1);
    return NULL;
}

START_TEST(test_free_waits_for_run)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    gate_set_open(&g, 0);
    ck_assert_rc(resil_health_tick(h), 1);
    gate_wait_entered(&g, 1);
    adv(60 * SEC);
    ck_assert_rc(resil_health_tick(h), 0); /* timed out, still running */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, open_gate_main, &g), 0);
    resil_health_free(h); /* returns once the check has */
    ck_assert_int_eq(gate_returned(&g), 1);
    ck_assert_int_eq(atomic_load(&g_freed), 1);
    pthread_join(t, NULL);
    gate_destroy(&g);
}
END_TEST

/* ---- garbage from checks -------------------------------------------------- */

enum garbage {
    G_RC,
    G_STATUS_HIGH,
    G_STATUS_NEG,
    G_INF,
    G_NEG_INF,
    G_UNIT_UNTERMINATED,
    G_UNIT_UTF8,
    G_OUTPUT_UNTERMINATED,
    G_OUTPUT_BAD_BYTE,
    G_OUTPUT_OVERLONG,
    G_OUTPUT_SURROGATE,
    G_OUTPUT_TRUNCATED,
    G_OUTPUT_TOO_HIGH,
    G_COUNT
};

static const char *make_garbage(struct gate *g, int kind)
{
    resil_health_result *r = &g->res;
    strcpy(r->observed_unit, "ms");
    strcpy(r->output, "fine");
    r->observed_value = 3;
    switch (kind) {
    case G_RC:
        g->rc = 7;
        return "check returned 7, not 0";
    case G_STATUS_HIGH:
        r->status = (resil_health_status)9;
        return "invalid status 9";
    case G_STATUS_NEG:
        r->status = (resil_health_status)-1;
        return "invalid status -1";
    case G_INF:
        r->observed_value = INFINITY;
        return "observed value is infinite";
    case G_NEG_INF:
        r->observed_value = -INFINITY;
        return "observed value is infinite";
    case G_UNIT_UNTERMINATED:
        memset(r->observed_unit, 'u', sizeof r->observed_unit);
        return "observed unit is not NUL-terminated";
    case G_UNIT_UTF8:
        strcpy(r->observed_unit, "\xb5s"); /* Latin-1 micro sign */
        return "observed unit is not valid UTF-8";
    case G_OUTPUT_UNTERMINATED:
        memset(r->output, 'o', sizeof r->output);
        return "output is not NUL-terminated";
    case G_OUTPUT_BAD_BYTE:
        strcpy(r->output, "caf\xe9");
        return "output is not valid UTF-8";
    case G_OUTPUT_OVERLONG:
        strcpy(r->output, "x\xc1\xbf");
        return "output is not valid UTF-8";
    case G_OUTPUT_SURROGATE:
        strcpy(r->output, "\xed\xa0\x80");
        return "output is not valid UTF-8";
    case G_OUTPUT_TRUNCATED:
        strcpy(r->output, "euro \xe2\x82");
        return "output is not valid UTF-8";
    default:
        strcpy(r->output, "\xf4\x90\x80\x80"); /* past U+10FFFF */
        return "output is not valid UTF-8";
    }
}

START_TEST(test_garbage_results)
{
    resil_health *h = mk();
    struct gate g[G_COUNT];
    const char *want[G_COUNT];
    char name[32];
    for (int k = 0; k < G_COUNT; k++) {
        gate_init(&g[k], RESIL_HEALTH_PASS);
        want[k] = make_garbage(&g[k], k);
        snprintf(name, sizeof name, "bad:k%02d", k);
        add(h, name, &g[k], RESIL_HEALTH_READINESS, 1);
    }
    tick(h, G_COUNT);
#if RESIL_HAVE_JANSSON
    char *json = NULL;
    ck_assert_rc(resil_health_render(h, RESIL_HEALTH_READINESS, &json, NULL), 0);
#endif
    for (int k = 0; k < G_COUNT; k++) {
        snprintf(name, sizeof name, "bad:k%02d", k);
        resil_health_check_info in = info_of(h, name);
        ck_assert_int_eq(in.status, RESIL_HEALTH_FAIL);
        ck_assert_msg(strcmp(in.output, want[k]) == 0, "%s: \"%s\", want \"%s\"", name,
                      in.output, want[k]);
        ck_assert(isnan(in.observed_value));
        ck_assert_str_eq(in.observed_unit, "");
        ck_assert_uint_eq(in.failures, 1);
        ck_assert_uint_eq(in.timeouts, 0);
#if RESIL_HAVE_JANSSON
        ck_assert_ptr_nonnull(strstr(json, want[k]));
#endif
    }
#if RESIL_HAVE_JANSSON
    resil_free(json);
#endif
    resil_health_free(h);
    for (int k = 0; k < G_COUNT; k++)
        gate_destroy(&g[k]);
}
END_TEST

/* What the contract allows must not be mistaken for garbage. */
START_TEST(test_valid_edge_results)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_WARN);
    /* NaN is "no value"; every byte of the buffers used, NUL last */
    g.res.observed_value = NAN;
    memset(g.res.observed_unit, 'u', sizeof g.res.observed_unit - 1);
    strcpy(g.res.output, "na\xc3\xafve \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf");
    add(h, "ok:x", &g, RESIL_HEALTH_READINESS, 1);
    tick(h, 1);
    resil_health_check_info in = info_of(h, "ok:x");
    ck_assert_int_eq(in.status, RESIL_HEALTH_WARN);
    ck_assert(isnan(in.observed_value));
    ck_assert_uint_eq(strlen(in.observed_unit), RESIL_HEALTH_MAX_UNIT - 1);
    ck_assert_str_eq(in.output, g.res.output);
    ck_assert_uint_eq(in.failures, 0);
    /* a failure whose check says why keeps its output */
    g.res.status = RESIL_HEALTH_FAIL;
    g.res.observed_value = -0.0;
    strcpy(g.res.output, "down");
    adv(10 * SEC);
    tick(h, 1);
    adv(10 * SEC);
    tick(h, 1);
    in = info_of(h, "ok:x");
    ck_assert_str_eq(in.output, "down");
    ck_assert(in.observed_value == 0.0);
    ck_assert_uint_eq(in.failures, 2);
    ck_assert_uint_eq(in.consecutive_failures, 2);
    ck_assert_uint_eq(in.runs, 3);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

/* Runner threads are made with the process's default attributes: a stack
 * too large to map makes pthread_create fail. */
static void huge_default_stack(pthread_attr_t *saved)
{
    pthread_attr_t big;
    ck_assert_int_eq(pthread_getattr_default_np(saved), 0);
    ck_assert_int_eq(pthread_attr_init(&big), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&big, (size_t)1 << 60), 0);
    ck_assert_int_eq(pthread_setattr_default_np(&big), 0);
    pthread_attr_destroy(&big);
}

START_TEST(test_thread_create_failure)
{
    resil_health *h = mk();
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    pthread_attr_t saved;
    huge_default_stack(&saved);
    ck_assert_rc(resil_health_tick(h), RESIL_ESYS);
    ck_assert_rc(resil_health_run(h, "a:x"), RESIL_ESYS);
    ck_assert_rc(resil_health_start(h), RESIL_ESYS);
    ck_assert_int_eq(pthread_setattr_default_np(&saved), 0);
    pthread_attr_destroy(&saved);

    resil_health_check_info in = info_of(h, "a:x");
    ck_assert_int_eq(in.status, RESIL_HEALTH_FAIL);
    ck_assert_int_eq(strncmp(in.output, "could not start the check's thread: ", 36), 0);
    ck_assert_uint_eq(in.runs, 2);
    ck_assert_uint_eq(in.failures, 2);
    ck_assert_int_eq(in.running, 0);
    ck_assert_int_eq(gate_entered(&g), 0);
    ck_assert_rc(resil_health_stop(h), RESIL_ESTATE); /* start failed */
    /* it works again once threads can be made, at the next due time */
    tick(h, 0);
    adv(10 * SEC);
    tick(h, 1);
    ck_assert_int_eq(info_of(h, "a:x").status, RESIL_HEALTH_PASS);
    ck_assert_uint_eq(info_of(h, "a:x").consecutive_failures, 0);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

/* ---- aggregation ---------------------------------------------------------- */

static void set_status(struct gate *g, resil_health_status st)
{
    pthread_mutex_lock(&g->mu);
    g->res.status = st;
    pthread_mutex_unlock(&g->mu);
}

static void run_all(resil_health *h)
{
    adv(10 * SEC);
    ck_assert_int_ge(resil_health_tick(h), 1);
    settle(h);
}

START_TEST(test_aggregation)
{
    resil_health *h = mk();
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_PASS);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_LIVENESS), RESIL_HEALTH_PASS);
    struct gate crit, soft;
    gate_init(&crit, RESIL_HEALTH_PASS);
    gate_init(&soft, RESIL_HEALTH_PASS);
    add(h, "crit:x", &crit, RESIL_HEALTH_READINESS, 1);
    add(h, "soft:x", &soft, RESIL_HEALTH_READINESS, 0);
    /* never run: not ready (a never-run non-critical check only warns) */
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_FAIL);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_PASS);
    set_status(&soft, RESIL_HEALTH_WARN);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_WARN);
    set_status(&soft, RESIL_HEALTH_FAIL);
    run_all(h);
    ck_assert_int_eq(info_of(h, "soft:x").status, RESIL_HEALTH_FAIL);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_WARN);
    set_status(&crit, RESIL_HEALTH_WARN);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_WARN);
    set_status(&crit, RESIL_HEALTH_FAIL);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_FAIL);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_BOTH), RESIL_HEALTH_FAIL);
    set_status(&crit, RESIL_HEALTH_PASS);
    set_status(&soft, RESIL_HEALTH_PASS);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_PASS);
    /* a new soft check not yet run: warn, not fail */
    struct gate late;
    gate_init(&late, RESIL_HEALTH_PASS);
    add(h, "late:x", &late, RESIL_HEALTH_READINESS, 0);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_WARN);
    /* bad arguments fail */
    ck_assert_int_eq(resil_health_status_get(NULL, RESIL_HEALTH_READINESS), RESIL_HEALTH_FAIL);
    ck_assert_int_eq(resil_health_status_get(h, 0), RESIL_HEALTH_FAIL);
    ck_assert_int_eq(resil_health_status_get(h, 4), RESIL_HEALTH_FAIL);
    resil_health_free(h);
    gate_destroy(&crit);
    gate_destroy(&soft);
    gate_destroy(&late);
}
END_TEST

START_TEST(test_liveness_readiness)
{
    resil_health *h = mk();
    struct gate live, ready, both;
    gate_init(&live, RESIL_HEALTH_PASS);
    gate_init(&ready, RESIL_HEALTH_FAIL);
    gate_init(&both, RESIL_HEALTH_PASS);
    add(h, "live:x", &live, RESIL_HEALTH_LIVENESS, 1);
    add(h, "ready:x", &ready, RESIL_HEALTH_READINESS, 1);
    add(h, "both:x", &both, RESIL_HEALTH_BOTH, 1);
    /* never run: alive, not ready */
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_LIVENESS), RESIL_HEALTH_PASS);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_FAIL);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_BOTH), RESIL_HEALTH_FAIL);
    run_all(h);
    /* the failing readiness check leaves liveness alone */
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_LIVENESS), RESIL_HEALTH_PASS);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_FAIL);
    set_status(&ready, RESIL_HEALTH_PASS);
    set_status(&live, RESIL_HEALTH_FAIL);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_LIVENESS), RESIL_HEALTH_FAIL);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_PASS);
    set_status(&live, RESIL_HEALTH_PASS);
    set_status(&both, RESIL_HEALTH_WARN);
    run_all(h);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_LIVENESS), RESIL_HEALTH_WARN);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS), RESIL_HEALTH_WARN);

    resil_health_check_info *s;
    size_t n;
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_LIVENESS, &s, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(s[0].name, "both:x");
    ck_assert_str_eq(s[1].name, "live:x");
    resil_free(s);
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_READINESS, &s, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(s[0].name, "both:x");
    ck_assert_str_eq(s[1].name, "ready:x");
    ck_assert_int_eq(s[0].status, RESIL_HEALTH_WARN);
    ck_assert_uint_eq(s[1].runs, 3);
    resil_free(s);
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_BOTH, &s, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(s[2].name, "ready:x");
    resil_free(s);
    resil_health_free(h);
    gate_destroy(&live);
    gate_destroy(&ready);
    gate_destroy(&both);
}
END_TEST

START_TEST(test_snapshot_args_and_alloc)
{
    resil_health *h = mk();
    resil_health_check_info *s = (resil_health_check_info *)&s;
    size_t n = 7;
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_BOTH, &s, &n), 0);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(n, 0);
    ck_assert_rc(resil_health_snapshot(NULL, RESIL_HEALTH_BOTH, &s, &n), RESIL_EINVAL);
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_BOTH, NULL, &n), RESIL_EINVAL);
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_BOTH, &s, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_snapshot(h, 0, &s, &n), RESIL_EINVAL);
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "a:x", &g, RESIL_HEALTH_LIVENESS, 1);
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_READINESS, &s, &n), 0);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(n, 0);
    long live = tu_alloc_live();
    tu_alloc_fail_at(0);
    int rc = resil_health_snapshot(h, RESIL_HEALTH_LIVENESS, &s, &n);
    tu_alloc_reset();
    ck_assert_rc(rc, RESIL_ENOMEM);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(tu_alloc_live(), live);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(resil_health_status_name(RESIL_HEALTH_PASS), "pass");
    ck_assert_str_eq(resil_health_status_name(RESIL_HEALTH_WARN), "warn");
    ck_assert_str_eq(resil_health_status_name(RESIL_HEALTH_FAIL), "fail");
    ck_assert_str_eq(resil_health_status_name((resil_health_status)3), "unknown");
    ck_assert_str_eq(resil_health_status_name((resil_health_status)-1), "unknown");
    ck_assert_int_eq(resil_health_http_status(RESIL_HEALTH_PASS), 200);
    ck_assert_int_eq(resil_health_http_status(RESIL_HEALTH_WARN), 200);
    ck_assert_int_eq(resil_health_http_status(RESIL_HEALTH_FAIL), 503);
    ck_assert_int_eq(resil_health_http_status((resil_health_status)7), 503);
    ck_assert_str_eq(resil_health_content_type(), "application/health+json");
}
END_TEST

/* ---- the report ----------------------------------------------------------- */

#if RESIL_HAVE_JANSSON

static json_t *render(resil_health *h, resil_health_kind kind)
{
    char *text = NULL;
    size_t len = 0;
    ck_assert_rc(resil_health_render(h, kind, &text, &len), 0);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    ck_assert_msg(j != NULL, "bad JSON (%s): %s", err.text, text);
    resil_free(text);
    return j;
}

static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
    ck_assert(json_is_object(o));
    ck_assert_uint_eq(json_object_size(o), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(json_object_get(o, keys[i]) != NULL, "no key %s", keys[i]);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_string(v), "%s is not a string", k);
    return json_string_value(v);
}

/* The single entry of check `name`. */
static json_t *entry(json_t *root, const char *name)
{
    json_t *a = json_object_get(json_object_get(root, "checks"), name);
    ck_assert_msg(json_is_array(a), "%s is not an array", name);
    ck_assert_uint_eq(json_array_size(a), 1);
    return json_array_get(a, 0);
}

START_TEST(test_render_fields)
{
    resil_health_opts ho;
    resil_health_opts_init(&ho);
    ho.clock = g_clk;
    ho.wall_clock = g_wall;
    ho.service_id = "f03e522f-1f44";
    ho.description = "video metadata \xe2\x80\x94 API";
    ho.version = "1";
    ho.release_id = "1.2.3";
    resil_health *h = mk_opts(&ho);
    struct gate full, bare, never;
    gate_init(&full, RESIL_HEALTH_WARN);
    full.res.observed_value = 91.25;
    strcpy(full.res.observed_unit, "percent");
    strcpy(full.res.output, "cpu at 91.25 %");
    gate_init(&bare, RESIL_HEALTH_PASS);
    gate_init(&never, RESIL_HEALTH_PASS);
    resil_health_check_opts o;
    copts(&o, "cpu:utilization", &full);
    o.component_type = "system";
    ck_assert_rc(resil_health_add(h, &o), 0);
    add(h, "bare:x", &bare, RESIL_HEALTH_READINESS, 1);
    tick(h, 2);
    copts(&o, "new:x", &never);
    o.component_type = "datastore";
    o.kind = RESIL_HEALTH_BOTH;
    ck_assert_rc(resil_health_add(h, &o), 0);
    ck_assert_rc(resil_clock_manual_advance(g_wall, 123 * MS), 0); /* not in any result */

    json_t *j = render(h, RESIL_HEALTH_READINESS);
    static const char *const top[] = {"status", "version", "releaseId", "serviceId",
                                      "description", "checks"};
    assert_keys(j, top, 6);
    ck_assert_str_eq(jstr(j, "status"), "fail"); /* new:x has not run */
    ck_assert_str_eq(jstr(j, "version"), "1");
    ck_assert_str_eq(jstr(j, "releaseId"), "1.2.3");
    ck_assert_str_eq(jstr(j, "serviceId"), "f03e522f-1f44");
    ck_assert_str_eq(jstr(j, "description"), ho.description);
    ck_assert_uint_eq(json_object_size(json_object_get(j, "checks")), 3);

    json_t *e = entry(j, "cpu:utilization");
    static const char *const all[] = {"status", "observedValue", "observedUnit", "time",
                                      "output", "componentType"};
    assert_keys(e, all, 6);
    ck_assert_str_eq(jstr(e, "status"), "warn");
    ck_assert(json_real_value(json_object_get(e, "observedValue")) == 91.25);
    ck_assert_str_eq(jstr(e, "observedUnit"), "percent");
    ck_assert_str_eq(jstr(e, "time"), "2026-11-24T05:00:00.000Z");
    ck_assert_str_eq(jstr(e, "output"), "cpu at 91.25 %");
    ck_assert_str_eq(jstr(e, "componentType"), "system");

    e = entry(j, "bare:x"); /* NaN, "" and no type: left out */
    static const char *const bare_keys[] = {"status", "time"};
    assert_keys(e, bare_keys, 2);
    ck_assert_str_eq(jstr(e, "status"), "pass");

    e = entry(j, "new:x");
    static const char *const never_keys[] = {"status", "output", "componentType"};
    assert_keys(e, never_keys, 3);
    ck_assert_str_eq(jstr(e, "status"), "fail");
    ck_assert_str_eq(jstr(e, "output"), "not run yet");
    ck_assert_str_eq(jstr(e, "componentType"), "datastore");
    json_decref(j);

    /* liveness: only new:x counts, and not having run is no failure there */
    j = render(h, RESIL_HEALTH_LIVENESS);
    ck_assert_str_eq(jstr(j, "status"), "pass");
    ck_assert_uint_eq(json_object_size(json_object_get(j, "checks")), 1);
    e = entry(j, "new:x");
    ck_assert_str_eq(jstr(e, "status"), "pass");
    ck_assert_str_eq(jstr(e, "output"), "not run yet");
    json_decref(j);

    /* once run, the time is the wall clock's when it completed */
    adv(10 * SEC);
    tick(h, 3);
    j = render(h, RESIL_HEALTH_READINESS);
    ck_assert_str_eq(jstr(j, "status"), "warn");
    ck_assert_str_eq(jstr(entry(j, "new:x"), "time"), "2026-11-24T05:00:00.123Z");
    ck_assert_str_eq(jstr(entry(j, "new:x"), "status"), "pass");
    json_decref(j);
    resil_health_free(h);
    gate_destroy(&full);
    gate_destroy(&bare);
    gate_destroy(&never);
}
END_TEST

START_TEST(test_render_order_and_empty)
{
    resil_health *h = mk();
    json_t *j = render(h, RESIL_HEALTH_READINESS);
    static const char *const only_status[] = {"status"};
    assert_keys(j, only_status, 1);
    ck_assert_str_eq(jstr(j, "status"), "pass");
    json_decref(j);
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "z:x", &g, RESIL_HEALTH_READINESS, 1);
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    add(h, "m:x", &g, RESIL_HEALTH_READINESS, 1);
    tick(h, 3);
    char *text;
    ck_assert_rc(resil_health_render(h, RESIL_HEALTH_READINESS, &text, NULL), 0);
    /* status first, checks sorted by name */
    ck_assert_int_eq(strncmp(text, "{\"status\":\"pass\",\"checks\":{\"a:x\":[", 34), 0);
    char *a = strstr(text, "\"a:x\""), *m = strstr(text, "\"m:x\""), *z = strstr(text, "\"z:x\"");
    ck_assert(a && m && z && a < m && m < z);
    resil_free(text);
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

/* Wall times before 1970 round towards the past. */
START_TEST(test_render_time_before_epoch)
{
    resil_clock *wall;
    ck_assert_rc(resil_clock_manual_new(-MS, &wall), 0);
    resil_health_opts ho;
    resil_health_opts_init(&ho);
    ho.clock = g_clk;
    ho.wall_clock = wall;
    resil_health *h = mk_opts(&ho);
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    tick(h, 1);
    json_t *j = render(h, RESIL_HEALTH_READINESS);
    ck_assert_str_eq(jstr(entry(j, "a:x"), "time"), "1969-12-31T23:59:59.999Z");
    json_decref(j);
    resil_health_free(h);
    resil_clock_free(wall);
    gate_destroy(&g);
}
END_TEST

START_TEST(test_render_args_and_alloc)
{
    resil_health *h = mk();
    char *text = (char *)&text;
    size_t len = 9;
    ck_assert_rc(resil_health_render(NULL, RESIL_HEALTH_READINESS, &text, &len), RESIL_EINVAL);
    ck_assert_ptr_null(text);
    ck_assert_uint_eq(len, 0);
    ck_assert_rc(resil_health_render(h, RESIL_HEALTH_READINESS, NULL, &len), RESIL_EINVAL);
    ck_assert_rc(resil_health_render(h, 0, &text, &len), RESIL_EINVAL);
    struct gate g;
    gate_init(&g, RESIL_HEALTH_PASS);
    add(h, "a:x", &g, RESIL_HEALTH_READINESS, 1);
    tick(h, 1);
    long live = tu_alloc_live();
    int rc = RESIL_ENOMEM;
    for (long n = 0; rc == RESIL_ENOMEM; n++) {
        ck_assert_int_lt(n, 10);
        tu_alloc_fail_at(n);
        rc = resil_health_render(h, RESIL_HEALTH_READINESS, &text, &len);
        tu_alloc_reset();
        if (rc == RESIL_ENOMEM) {
            ck_assert_ptr_null(text);
            ck_assert_int_eq(tu_alloc_live(), live);
        } else {
            ck_assert_rc(rc, 0);
            ck_assert_int_eq(n, 2); /* the copies of the checks, the text */
            resil_free(text);
        }
    }
    resil_health_free(h);
    gate_destroy(&g);
}
END_TEST

#else

START_TEST(test_render_enotsup)
{
    resil_health *h = mk();
    char *text = (char *)&text;
    ck_assert_rc(resil_health_render(h, RESIL_HEALTH_READINESS, &text, NULL), RESIL_ENOTSUP);
    ck_assert_ptr_null(text);
    resil_health_free(h);
}
END_TEST

#endif

/* ---- the scheduler (real clock) ------------------------------------------- */

/* Counts runs and lets the test wait (bounded) for the n-th. */
struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int runs;
};

static int count_fn(void *ctx, int64_t deadline, resil_health_result *r)
{
    (void)deadline;
    (void)r;
    struct counter *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->runs++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int counter_wait(struct counter *c, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += THREAD_WAIT / SEC;
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (c->runs < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
    int got = c->runs;
    pthread_mutex_unlock(&c->mu);
    return got;
}

static void counter_init(struct counter *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void counter_destroy(struct counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static void add_counter(resil_health *h, const char *name, struct counter *c, int64_t interval)
{
    resil_health_check_opts o;
    resil_health_check_opts_init(&o);
    o.name = name;
    o.fn = count_fn;
    o.ctx = c;
    o.ctx_free = count_free;
    o.interval_ns = interval;
    ck_assert_rc(resil_health_add(h, &o), 0);
}

START_TEST(test_scheduler_start_stop)
{
    resil_health *h = mk_opts(NULL); /* monotonic clock */
    struct counter c;
    counter_init(&c);
    add_counter(h, "tick:x", &c, MS);
    ck_assert_rc(resil_health_stop(h), RESIL_ESTATE);
    ck_assert_rc(resil_health_start(h), 0);
    ck_assert_rc(resil_health_start(h), RESIL_ESTATE);
    ck_assert_int_ge(counter_wait(&c, 2), 2); /* every 1 ms: two runs come */
    ck_assert_rc(resil_health_stop(h), 0);
    ck_assert_rc(resil_health_stop(h), RESIL_ESTATE);
    settle(h);
    ck_assert_uint_ge(info_of(h, "tick:x").runs, 2);
    /* restart: more runs come */
    int before = counter_wait(&c, 0);
    ck_assert_rc(resil_health_start(h), 0);
    ck_assert_int_ge(counter_wait(&c, before + 2), before + 2);
    ck_assert_rc(resil_health_stop(h), 0);
    ck_assert_rc(resil_health_start(NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_stop(NULL), RESIL_EINVAL);
    resil_health_free(h);
    counter_destroy(&c);
}
END_TEST

/* With a manual clock the scheduler still runs what is due, and an add
 * wakes it. */
START_TEST(test_scheduler_manual_clock_add_wakes)
{
    resil_health *h = mk();
    ck_assert_rc(resil_health_start(h), 0);
    struct counter a, b;
    counter_init(&a);
    counter_init(&b);
    add_counter(h, "a:x", &a, 10 * SEC);
    ck_assert_int_eq(counter_wait(&a, 1), 1);
    add_counter(h, "b:x", &b, 10 * SEC);
    ck_assert_int_eq(counter_wait(&b, 1), 1);
    ck_assert_rc(resil_health_stop(h), 0);
    settle(h);
    ck_assert_uint_eq(info_of(h, "a:x").runs, 1); /* the clock did not move */
    resil_health_free(h);
    counter_destroy(&a);
    counter_destroy(&b);
}
END_TEST

START_TEST(test_free_with_scheduler_running)
{
    resil_health *h = mk_opts(NULL);
    struct counter c[3];
    char name[16];
    for (int i = 0; i < 3; i++) {
        counter_init(&c[i]);
        snprintf(name, sizeof name, "c%d:x", i);
        add_counter(h, name, &c[i], MS);
    }
    ck_assert_rc(resil_health_start(h), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(counter_wait(&c[i], 1), 1);
    resil_health_free(h);
    ck_assert_int_eq(atomic_load(&g_freed), 3);
    for (int i = 0; i < 3; i++)
        counter_destroy(&c[i]);
}
END_TEST

/* ---- suite ---------------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *suite(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase(s, "registry");
    tcase_add_test(tc, test_opts_defaults);
    tcase_add_test(tc, test_new_args);
    tcase_add_test(tc, test_new_alloc_failure);
    tcase_add_test(tc, test_add_bad_names);
    tcase_add_test(tc, test_add_bad_opts);
    tcase_add_test(tc, test_add_remove);
    tcase_add_test(tc, test_add_full);
    tcase_add_test(tc, test_add_alloc_failure);

    tc = tcase(s, "runs");
    tcase_add_test(tc, test_first_run_and_result);
    tcase_add_test(tc, test_tick_interval_edges);
    tcase_add_test(tc, test_run_now);
    tcase_add_test(tc, test_wait);
    tcase_add_test(tc, test_hung_check_times_out);
    tcase_add_test(tc, test_late_return_before_tick);
    tcase_add_test(tc, test_remove_waits_for_run);
    tcase_add_test(tc, test_remove_self_is_ebusy);
    tcase_add_test(tc, test_free_waits_for_run);
    tcase_add_test(tc, test_garbage_results);
    tcase_add_test(tc, test_valid_edge_results);
    tcase_add_test(tc, test_thread_create_failure);

    tc = tcase(s, "status");
    tcase_add_test(tc, test_aggregation);
    tcase_add_test(tc, test_liveness_readiness);
    tcase_add_test(tc, test_snapshot_args_and_alloc);
    tcase_add_test(tc, test_names);

    tc = tcase(s, "render");
#if RESIL_HAVE_JANSSON
    tcase_add_test(tc, test_render_fields);
    tcase_add_test(tc, test_render_order_and_empty);
    tcase_add_test(tc, test_render_time_before_epoch);
    tcase_add_test(tc, test_render_args_and_alloc);
#else
    tcase_add_test(tc, test_render_enotsup);
#endif

    tc = tcase(s, "scheduler");
    tcase_add_test(tc, test_scheduler_start_stop);
    tcase_add_test(tc, test_scheduler_manual_clock_add_wakes);
    tcase_add_test(tc, test_free_with_scheduler_running);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
