/* Alerting under threads: evaluations (two threads and the engine's own),
 * rule add/remove, silences, notifier add/remove and listings all at once
 * on one engine.  Invariants: notifiers never run two at once and see
 * sequence numbers only increase; a notifier or a source is never called
 * after its removal returned (their contexts are freed right after, so
 * ASan/TSan see any late use); listings are well formed; the history
 * forms one chain of states per rule.  Run under TSan by .ci/run. */
#include "check_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITERS 150
#define NSRC 4

struct shared {
    resil_alerts *a;
    resil_clock *clock;
    _Atomic int src[NSRC]; /* values the fixed rules read */
    _Atomic int in_notifier;
    _Atomic int overlap;
    _Atomic int bad;       /* a late call, a bad event or listing */
    _Atomic uint64_t last_seq;
    _Atomic int delivered;
};

static struct shared g;

static int fixed_fn(void *ctx, double *v)
{
    *v = atomic_load((_Atomic int *)ctx);
    return 0;
}

static void check_notify(const resil_alert_event *ev, void *ctx)
{
    (void)ctx;
    if (atomic_exchange(&g.in_notifier, 1) != 0)
        atomic_fetch_add(&g.overlap, 1);
    uint64_t last = atomic_load(&g.last_seq);
    if (ev->seq <= last || ev->alert.state != ev->to || (!ev->repeat && ev->from == ev->to))
        atomic_fetch_add(&g.bad, 1);
    atomic_store(&g.last_seq, ev->seq);
    atomic_fetch_add(&g.delivered, 1);
    atomic_store(&g.in_notifier, 0);
}

/* A context freed right after its notifier or rule is removed. */
struct mortal {
    _Atomic int dead;
};

static void mortal_notify(const resil_alert_event *ev, void *ctx)
{
    struct mortal *m = ctx;
    (void)ev;
    if (atomic_load(&m->dead))
        atomic_fetch_add(&g.bad, 1);
}

static int mortal_src(void *ctx, double *v)
{
    struct mortal *m = ctx;
    if (atomic_load(&m->dead))
        atomic_fetch_add(&g.bad, 1);
    *v = 20;
    return 0;
}

static void *evaluator(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ITERS; i++) {
        atomic_store(&g.src[(i + id) % NSRC], (i / 3 + id) % 2 ? 20 : 0);
        resil_clock_manual_advance(g.clock, RESIL_NS_PER_SEC);
        if (resil_alerts_eval(g.a) < 0)
            atomic_fetch_add(&g.bad, 1);
    }
    return NULL;
}

static void *rule_churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        struct mortal *m = calloc(1, sizeof *m);
        char name[32];
        snprintf(name, sizeof name, "churn%d", i);
        resil_alert_rule_opts o;
        resil_alert_rule_opts_init(&o);
        o.name = name;
        o.subject = "shared";
        o.source.type = RESIL_ALERT_SRC_FN;
        o.source.fn = mortal_src;
        o.source.ctx = m;
        o.threshold = 10;
        if (resil_alerts_rule_add(g.a, &o, NULL) != 0)
            atomic_fetch_add(&g.bad, 1);
        sched_yield();
        if (resil_alerts_rule_remove(g.a, name) != 0)
            atomic_fetch_add(&g.bad, 1);
        atomic_store(&m->dead, 1);
        free(m);
    }
    return NULL;
}

static void *notifier_churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        struct mortal *m = calloc(1, sizeof *m);
        uint64_t id;
        if (resil_alerts_notifier_add(g.a, mortal_notify, m, RESIL_ALERT_NOTIFY_ALL, &id) != 0)
            atomic_fetch_add(&g.bad, 1);
        sched_yield();
        if (resil_alerts_notifier_remove(g.a, id) != 0)
            atomic_fetch_add(&g.bad, 1);
        atomic_store(&m->dead, 1);
        free(m);
    }
    return NULL;
}

static void check_active(void)
{
    resil_alert_info *act;
    size_t n;
    if (resil_alerts_active(g.a, &act, &n) != 0) {
        atomic_fetch_add(&g.bad, 1);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = act[i].state == RESIL_ALERT_PENDING || act[i].state == RESIL_ALERT_FIRING;
        if (i > 0)
            ok = ok && (act[i - 1].severity > act[i].severity ||
                        (act[i - 1].severity == act[i].severity &&
                         strcmp(act[i - 1].name, act[i].name) < 0));
        if (!ok)
            atomic_fetch_add(&g.bad, 1);
    }
    resil_free(act);
}

static void *silencer_reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        resil_alert_silence s = {.subject = "shared",
                                 .expires_ns = resil_clock_now(g.clock) + 2 * RESIL_NS_PER_SEC};
        uint64_t id;
        int rc = resil_alerts_silence_add(g.a, &s, &id);
        check_active();
        if (rc == 0 && i % 2)
            (void)resil_alerts_silence_remove(g.a, id); /* may have expired */
        resil_alert_info in;
        if (resil_alerts_rule_get(g.a, "fixed0", &in) != 0)
            atomic_fetch_add(&g.bad, 1);
        if (i % 50 == 0 && resil_alerts_start(g.a, RESIL_NS_PER_MS) == 0)
            (void)resil_alerts_stop(g.a);
    }
    return NULL;
}

/* Per rule, each transition starts where the previous one ended. */
static void check_history(void)
{
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(g.a, &h, &n), 0);
    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ck_assert_uint_gt(h[i].seq, h[i - 1].seq);
        resil_alert_state prev = RESIL_ALERT_INACTIVE;
        for (size_t j = i; j-- > 0;) {
            if (strcmp(h[j].alert.name, h[i].alert.name) == 0) {
                prev = h[j].to;
                break;
            }
        }
        ck_assert_msg(h[i].from == prev, "%s: from %d after %d", h[i].alert.name, h[i].from,
                      prev);
        ck_assert_int_ne(h[i].from, h[i].to);
    }
    resil_free(h);
}

START_TEST(test_concurrent)
{
    long live0 = tu_alloc_live();
    memset(&g, 0, sizeof g);
    g.clock = tu_clock();
    resil_alerts_opts o;
    resil_alerts_opts_init(&o);
    o.clock = g.clock;
    o.history_len = 100000;
    o.repeat_interval_ns = 5 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_alerts_new(&o, &g.a), 0);
    for (int i = 0; i < NSRC; i++) {
        char name[32];
        snprintf(name, sizeof name, "fixed%d", i);
        resil_alert_rule_opts ro;
        resil_alert_rule_opts_init(&ro);
        ro.name = name;
        ro.subject = i == 0 ? "shared" : name;
        ro.severity = i == 0 ? RESIL_ALERT_CRITICAL : RESIL_ALERT_WARNING;
        ro.source.type = RESIL_ALERT_SRC_FN;
        ro.source.fn = fixed_fn;
        ro.source.ctx = &g.src[i];
        ro.threshold = 10;
        ro.for_ns = (i % 2) * 2 * RESIL_NS_PER_SEC;
        ro.keep_firing_for_ns = (i / 2) * RESIL_NS_PER_SEC;
        ck_assert_rc(resil_alerts_rule_add(g.a, &ro, NULL), 0);
    }
    ck_assert_rc(resil_alerts_notifier_add(g.a, check_notify, NULL, RESIL_ALERT_NOTIFY_ALL, NULL),
                 0);
    pthread_t t[5];
    ck_assert_int_eq(pthread_create(&t[0], NULL, evaluator, (void *)0), 0);
    ck_assert_int_eq(pthread_create(&t[1], NULL, evaluator, (void *)1), 0);
    ck_assert_int_eq(pthread_create(&t[2], NULL, rule_churn, NULL), 0);
    ck_assert_int_eq(pthread_create(&t[3], NULL, notifier_churn, NULL), 0);
    ck_assert_int_eq(pthread_create(&t[4], NULL, silencer_reader, NULL), 0);
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&g.overlap), 0);
    ck_assert_int_eq(atomic_load(&g.bad), 0);
    ck_assert_int_gt(atomic_load(&g.delivered), 0);
    check_history();
    resil_alerts_free(g.a);
    resil_clock_free(g.clock);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alert_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
