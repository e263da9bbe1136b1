/* The default rules (resil_alerts_add_defaults): each fires and resolves
 * from its real source.  CPU and memory go through resil_health_add_system()
 * reading fixture procfs trees (tests/fixtures/alert-proc-high: 90 % busy
 * since boot, 92 % of memory used; alert-proc-low: 10 % and 40 %). */
#include "check_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC RESIL_NS_PER_SEC

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures"
#endif

#define MAXEV 32
struct rec {
    int n;
    resil_alert_event ev[MAXEV];
};

static void rec_fn(const resil_alert_event *ev, void *ctx)
{
    struct rec *r = ctx;
    if (r->n < MAXEV)
        r->ev[r->n] = *ev;
    r->n++;
}

struct fx {
    resil_clock *clock;
    resil_alerts *a;
    resil_metrics *m;
    struct rec *rec;
    long live0;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->live0 = tu_alloc_live();
    f->clock = tu_clock();
    resil_alerts_opts o;
    resil_alerts_opts_init(&o);
    o.clock = f->clock;
    o.wall_clock = f->clock;
    ck_assert_rc(resil_alerts_new(&o, &f->a), 0);
    resil_metrics_opts mo;
    resil_metrics_opts_init(&mo);
    mo.clock = f->clock;
    ck_assert_rc(resil_metrics_new(&mo, &f->m), 0);
    f->rec = calloc(1, sizeof *f->rec);
    ck_assert_ptr_nonnull(f->rec);
    ck_assert_rc(resil_alerts_notifier_add(f->a, rec_fn, f->rec, RESIL_ALERT_NOTIFY_ALL, NULL),
                 0);
}

static void fx_done(struct fx *f)
{
    resil_alerts_free(f->a);
    resil_metrics_free(f->m);
    resil_clock_free(f->clock);
    free(f->rec);
    ck_assert_int_eq(tu_alloc_live(), f->live0);
}

static resil_metrics_counter *rate_counter(struct fx *f, const char *name, int64_t window)
{
    resil_metrics_family_opts fo;
    resil_metrics_family_opts_init(&fo);
    fo.name = name;
    fo.rate_window_ns = window;
    resil_metrics_family *fam;
    resil_metrics_counter *c;
    ck_assert_rc(resil_metrics_family_new(f->m, &fo, &fam), 0);
    ck_assert_rc(resil_metrics_counter_get(fam, NULL, &c), 0);
    return c;
}

static void adv(struct fx *f, int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(f->clock, ns), 0);
}

static resil_alert_info info_of(struct fx *f, const char *name)
{
    resil_alert_info in;
    ck_assert_msg(resil_alerts_rule_get(f->a, name, &in) == 0, "no rule %s", name);
    return in;
}

static int has_rule(struct fx *f, const char *name)
{
    resil_alert_info in;
    return resil_alerts_rule_get(f->a, name, &in) == 0;
}

static resil_breaker *breaker(struct fx *f, const char *name)
{
    resil_breaker_opts bo;
    resil_breaker_opts_init(&bo);
    bo.name = name;
    bo.minimum_calls = 1;
    bo.open_jitter = 0;
    bo.clock = f->clock;
    resil_breaker *b;
    ck_assert_rc(resil_breaker_new(&bo, &b), 0);
    return b;
}

static void trip(resil_breaker *b)
{
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_OPEN);
}

START_TEST(test_defaults_init)
{
    resil_alert_defaults d;
    memset(&d, 0xff, sizeof d);
    resil_alert_defaults_init(&d);
    ck_assert(d.cpu_percent == 80);
    ck_assert(d.memory_percent == 85);
    ck_assert(d.errors_per_minute == 10);
    ck_assert(d.success_ratio == 0.95);
    ck_assert_uint_eq(d.min_calls, 20);
    ck_assert_int_eq(d.for_ns, 60 * SEC);
    ck_assert_ptr_null(d.health);
    ck_assert_ptr_null(d.breakers);
    ck_assert_uint_eq(d.nbreakers, 0);
    ck_assert_uint_eq(d.disable, 0);
    resil_alert_defaults_init(NULL);
    resil_error err;
    ck_assert_rc(resil_alerts_add_defaults(NULL, &d, &err), RESIL_EINVAL);
    ck_assert_int_eq(err.code, RESIL_EINVAL);
}
END_TEST

/* ---- cpu and memory through the system checks ----------------------------- */

static void add_system(resil_health *h, const char *tree, unsigned only)
{
    char root[512];
    snprintf(root, sizeof root, "%s/%s", FIXTURE_DIR, tree);
    resil_health_sys_opts so;
    resil_health_sys_opts_init(&so);
    so.proc_root = root;
    so.skip = 0x7fu & ~only;
    ck_assert_rc(resil_health_add_system(h, &so), 0);
}

static void run_check(resil_health *h, const char *name)
{
    ck_assert_rc(resil_health_run(h, name), 0);
    ck_assert_rc(resil_health_wait(h, name, 5 * SEC), 0);
}

START_TEST(test_cpu_memory)
{
    struct fx f;
    fx_init(&f);
    resil_health_opts ho;
    resil_health_opts_init(&ho);
    ho.clock = f.clock;
    resil_health *h;
    ck_assert_rc(resil_health_new(&ho, &h), 0);
    add_system(h, "alert-proc-high", RESIL_HEALTH_SYS_CPU | RESIL_HEALTH_SYS_MEMORY);
    resil_alert_defaults d;
    resil_alert_defaults_init(&d);
    d.health = h;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    resil_alert_info cpu = info_of(&f, "HighCPU"), mem = info_of(&f, "HighMemory");
    ck_assert_int_eq(cpu.severity, RESIL_ALERT_WARNING);
    ck_assert_str_eq(cpu.subject, "system");
    ck_assert(cpu.threshold == 80);
    ck_assert_int_eq(mem.severity, RESIL_ALERT_CRITICAL);
    ck_assert_str_eq(mem.subject, "system");
    ck_assert(mem.threshold == 85);
    ck_assert(!has_rule(&f, "HighErrorRate") && !has_rule(&f, "LowSuccessRate"));

    ck_assert_rc(resil_alerts_eval(f.a), 0); /* the checks never ran: no data */
    run_check(h, "cpu:utilization");
    run_check(h, "memory:utilization");
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert_int_eq(info_of(&f, "HighCPU").state, RESIL_ALERT_PENDING);
    adv(&f, 60 * SEC - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    adv(&f, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    cpu = info_of(&f, "HighCPU");
    mem = info_of(&f, "HighMemory");
    ck_assert_int_eq(cpu.state, RESIL_ALERT_FIRING);
    ck_assert_double_eq_tol(cpu.value, 90, 1e-9);
    ck_assert_str_eq(cpu.summary, "High CPU use on system: 90% (threshold 80%)");
    ck_assert_int_eq(mem.state, RESIL_ALERT_FIRING);
    ck_assert_double_eq_tol(mem.value, 92, 1e-9);
    ck_assert_str_eq(mem.summary, "High memory use on system: 92% (threshold 85%)");
    /* memory is critical on the same subject: the CPU warning is inhibited */
    ck_assert_int_eq(cpu.inhibited, 1);
    ck_assert_int_eq(f.rec->n, 3); /* pending x2 (the CPU one before the
                                      memory alert fired), memory firing */
    ck_assert_str_eq(f.rec->ev[2].alert.name, "HighMemory");

    /* cpu: no tick passed since the previous reading, 0 % busy */
    run_check(h, "cpu:utilization");
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    cpu = info_of(&f, "HighCPU");
    ck_assert_int_eq(cpu.state, RESIL_ALERT_RESOLVED);
    ck_assert(cpu.has_value && cpu.value == 0);
    /* memory: the low tree, 40 % used */
    ck_assert_rc(resil_health_remove(h, "memory:utilization"), 0);
    add_system(h, "alert-proc-low", RESIL_HEALTH_SYS_MEMORY);
    run_check(h, "memory:utilization");
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    mem = info_of(&f, "HighMemory");
    ck_assert_int_eq(mem.state, RESIL_ALERT_RESOLVED);
    ck_assert_double_eq_tol(mem.value, 40, 1e-9);
    ck_assert_int_eq(f.rec->ev[f.rec->n - 1].to, RESIL_ALERT_RESOLVED);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_health_free(h);
    fx_done(&f);
}
END_TEST

/* ---- breakers ------------------------------------------------------------- */

START_TEST(test_circuit_open)
{
    struct fx f;
    fx_init(&f);
    resil_breaker *bs[2] = {breaker(&f, "payments"), breaker(&f, "search")};
    resil_alert_defaults d;
    resil_alert_defaults_init(&d);
    d.breakers = bs;
    d.nbreakers = 2;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    resil_alert_info in = info_of(&f, "CircuitOpen:payments");
    ck_assert_int_eq(in.severity, RESIL_ALERT_CRITICAL);
    ck_assert_str_eq(in.subject, "payments");
    ck_assert(has_rule(&f, "CircuitOpen:search"));
    ck_assert(!has_rule(&f, "HighCPU"));
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    trip(bs[0]);
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* at once: for_ns is 0 */
    in = info_of(&f, "CircuitOpen:payments");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_str_eq(in.summary, "Circuit breaker payments is open");
    ck_assert_int_eq(info_of(&f, "CircuitOpen:search").state, RESIL_ALERT_INACTIVE);
    ck_assert_int_eq(f.rec->n, 1);
    ck_assert_int_eq(f.rec->ev[0].from, RESIL_ALERT_INACTIVE);
    resil_breaker_reset(bs[0]);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(info_of(&f, "CircuitOpen:payments").state, RESIL_ALERT_RESOLVED);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_breaker_free(bs[0]);
    resil_breaker_free(bs[1]);
    fx_done(&f);
}
END_TEST

/* ---- error rate and success rate ----------------------------------------- */

START_TEST(test_error_rate)
{
    struct fx f;
    fx_init(&f);
    resil_alert_defaults d;
    resil_alert_defaults_init(&d);
    d.errors = rate_counter(&f, "errors", 60 * SEC);
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    ck_assert(!has_rule(&f, "LowSuccessRate"));
    resil_metrics_counter_add(d.errors, 10); /* not above 10 */
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_double_eq_tol(info_of(&f, "HighErrorRate").value, 10, 1e-9);
    resil_metrics_counter_add(d.errors, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(info_of(&f, "HighErrorRate").state, RESIL_ALERT_PENDING);
    adv(&f, 30 * SEC);
    resil_metrics_counter_add(d.errors, 11);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    adv(&f, 30 * SEC);
    resil_metrics_counter_add(d.errors, 11);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "HighErrorRate");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_double_eq_tol(in.value, 22, 1e-9); /* the first 11 left the window */
    ck_assert_str_eq(in.summary, "22 errors per minute (threshold 10)");
    ck_assert_str_eq(in.subject, "errors");
    adv(&f, 61 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(info_of(&f, "HighErrorRate").state, RESIL_ALERT_RESOLVED);
    fx_done(&f);
}
END_TEST

START_TEST(test_success_rate)
{
    struct fx f;
    fx_init(&f);
    resil_alert_defaults d;
    resil_alert_defaults_init(&d);
    d.successes = rate_counter(&f, "ok", 300 * SEC);
    d.calls = rate_counter(&f, "calls", 300 * SEC);
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    ck_assert(!has_rule(&f, "HighErrorRate"));
    resil_metrics_counter_add(d.calls, 19);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(info_of(&f, "LowSuccessRate").has_value, 0); /* < min_calls */
    resil_metrics_counter_add(d.calls, 1);
    resil_metrics_counter_add(d.successes, 15);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_double_eq_tol(info_of(&f, "LowSuccessRate").value, 0.75, 1e-9);
    adv(&f, 60 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "LowSuccessRate");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_str_eq(in.summary, "Success rate 0.75 over 5 minutes (threshold 0.95)");
    resil_metrics_counter_add(d.calls, 400);
    resil_metrics_counter_add(d.successes, 400); /* 415 / 420 */
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    in = info_of(&f, "LowSuccessRate");
    ck_assert_int_eq(in.state, RESIL_ALERT_RESOLVED);
    ck_assert_double_eq_tol(in.value, 415.0 / 420.0, 1e-9);
    fx_done(&f);
}
END_TEST

/* ---- selection, all or nothing ------------------------------------------- */

static const char *const k_all[] = {"HighCPU", "HighMemory", "CircuitOpen:b1",
                                    "HighErrorRate", "LowSuccessRate"};

static void full_defaults(struct fx *f, resil_health *h, resil_breaker **b,
                          resil_alert_defaults *d)
{
    resil_alert_defaults_init(d);
    d->health = h;
    d->breakers = b;
    d->nbreakers = 1;
    d->errors = rate_counter(f, "errors", 60 * SEC);
    d->successes = rate_counter(f, "ok", 300 * SEC);
    d->calls = rate_counter(f, "calls", 300 * SEC);
}

static int count_defaults(struct fx *f)
{
    int n = 0;
    for (size_t i = 0; i < sizeof k_all / sizeof k_all[0]; i++)
        n += has_rule(f, k_all[i]);
    return n;
}

START_TEST(test_disable_and_overrides)
{
    struct fx f;
    fx_init(&f);
    resil_health *h;
    ck_assert_rc(resil_health_new(NULL, &h), 0);
    resil_breaker *b = breaker(&f, "b1");
    resil_alert_defaults d;
    full_defaults(&f, h, &b, &d);
    d.disable = RESIL_ALERT_DEFAULT_CPU | RESIL_ALERT_DEFAULT_ERRORS;
    d.memory_percent = 70;
    d.for_ns = 5 * SEC;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    ck_assert(!has_rule(&f, "HighCPU") && !has_rule(&f, "HighErrorRate"));
    ck_assert(info_of(&f, "HighMemory").threshold == 70);
    ck_assert(has_rule(&f, "CircuitOpen:b1") && has_rule(&f, "LowSuccessRate"));
    /* the rest can be added later; the ones there are EEXIST */
    d.disable = RESIL_ALERT_DEFAULT_MEMORY | RESIL_ALERT_DEFAULT_BREAKERS |
                RESIL_ALERT_DEFAULT_SUCCESS;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    ck_assert_int_eq(count_defaults(&f), 5);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_health_free(h);
    resil_breaker_free(b);
    fx_done(&f);
}
END_TEST

START_TEST(test_all_or_nothing)
{
    struct fx f;
    fx_init(&f);
    resil_health *h;
    ck_assert_rc(resil_health_new(NULL, &h), 0);
    resil_breaker *b = breaker(&f, "b1");
    resil_alert_defaults d;
    full_defaults(&f, h, &b, &d);
    resil_error err;
    /* a rule of that name exists: nothing is added */
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = "LowSuccessRate";
    o.source.type = RESIL_ALERT_SRC_COUNTER;
    o.source.counter = d.errors;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EEXIST);
    ck_assert_int_eq(err.code, RESIL_EEXIST);
    ck_assert_int_eq(count_defaults(&f), 1);
    ck_assert_rc(resil_alerts_rule_remove(f.a, "LowSuccessRate"), 0);
    /* bad inputs, each found after some rules were added */
    resil_breaker *bad = breaker(&f, "no spaces allowed");
    d.breakers = &bad;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "no spaces allowed"));
    ck_assert_int_eq(count_defaults(&f), 0);
    resil_breaker *none = NULL;
    d.breakers = &none;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EINVAL);
    d.breakers = NULL;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EINVAL);
    d.breakers = &b;
    resil_metrics_counter *calls = d.calls;
    d.calls = NULL;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EINVAL);
    d.calls = calls;
    resil_metrics_counter *plain;
    ck_assert_rc(resil_metrics_counter_new(f.m, "plain", NULL, &plain), 0);
    d.successes = plain; /* no rates */
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EINVAL);
    d.successes = d.calls;
    d.success_ratio = INFINITY;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), RESIL_EINVAL);
    ck_assert_int_eq(count_defaults(&f), 0);
    d.success_ratio = 0.95;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, &err), 0);
    ck_assert_int_eq(err.code, 0);
    ck_assert_int_eq(count_defaults(&f), 5);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_health_free(h);
    resil_breaker_free(b);
    resil_breaker_free(bad);
    fx_done(&f);
}
END_TEST

START_TEST(test_alloc_add_defaults)
{
    struct fx f;
    fx_init(&f);
    resil_health *h;
    ck_assert_rc(resil_health_new(NULL, &h), 0);
    resil_breaker *b = breaker(&f, "b1");
    resil_alert_defaults d;
    full_defaults(&f, h, &b, &d);
    /* the rule table keeps its capacity: make it before counting */
    d.disable = RESIL_ALERT_DEFAULT_CPU;
    ck_assert_rc(resil_alerts_add_defaults(f.a, &d, NULL), 0);
    for (size_t i = 0; i < sizeof k_all / sizeof k_all[0]; i++)
        (void)resil_alerts_rule_remove(f.a, k_all[i]);
    d.disable = 0;
    long n, live = tu_alloc_live();
    for (n = 0;; n++) {
        tu_alloc_fail_at(n);
        int rc = resil_alerts_add_defaults(f.a, &d, NULL);
        tu_alloc_reset();
        if (rc == 0)
            break;
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_int_eq(count_defaults(&f), 0);
        ck_assert_int_eq(tu_alloc_live(), live);
    }
    ck_assert_int_gt(n, 5);
    ck_assert_int_eq(count_defaults(&f), 5);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_health_free(h);
    resil_breaker_free(b);
    fx_done(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alert_defaults");
    TCase *tc = tcase_create("defaults");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_defaults_init);
    tcase_add_test(tc, test_cpu_memory);
    tcase_add_test(tc, test_circuit_open);
    tcase_add_test(tc, test_error_rate);
    tcase_add_test(tc, test_success_rate);
    tcase_add_test(tc, test_disable_and_overrides);
    tcase_add_test(tc, test_all_or_nothing);
    tcase_add_test(tc, test_alloc_add_defaults);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
