/* Alerting: the state machine at its edges on a manual clock, notifier
 * masks and reminders, silences, inhibition, history, listings, summary
 * templates, argument checks, re-entrant and concurrent notifier use, the
 * JSON forms, the sources, the thread, and allocation failure. */
#include "config.h"

#include "check_util.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
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
/* 2023-11-14T22:13:20.123456789Z */
#define WALL0 (INT64_C(1700000000) * SEC + 123456789)
#define HI 20.0 /* above the rules' threshold of 10 */
#define LO 0.0

/* ---- fixture ------------------------------------------------------------- */

struct src {
    double v;
    int nodata;
};

static int src_fn(void *ctx, double *v)
{
    struct src *s = ctx;
    if (s->nodata)
        return 1;
    *v = s->v;
    return 0;
}

#define MAXEV 64
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
    resil_clock *clock, *wall;
    resil_alerts *a;
    struct rec *rec;
    struct src src[8];
    long live0;
};

static void fx_open(struct fx *f, size_t history_len, int64_t repeat_ns)
{
    memset(f, 0, sizeof *f);
    f->live0 = tu_alloc_live();
    f->clock = tu_clock();
    ck_assert_rc(resil_clock_manual_new(WALL0, &f->wall), 0);
    resil_alerts_opts o;
    resil_alerts_opts_init(&o);
    o.clock = f->clock;
    o.wall_clock = f->wall;
    if (history_len)
        o.history_len = history_len;
    if (repeat_ns)
        o.repeat_interval_ns = repeat_ns;
    ck_assert_rc(resil_alerts_new(&o, &f->a), 0);
    f->rec = calloc(1, sizeof *f->rec);
    ck_assert_ptr_nonnull(f->rec);
}

static void fx_init(struct fx *f)
{
    fx_open(f, 0, 0);
}

static void fx_done(struct fx *f)
{
    resil_alerts_free(f->a);
    resil_clock_free(f->clock);
    resil_clock_free(f->wall);
    free(f->rec);
    ck_assert_int_eq(tu_alloc_live(), f->live0);
}

/* A rule over f->src[i]: value > 10. */
static resil_alert_rule_opts fn_opts(struct fx *f, const char *name, int i)
{
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = name;
    o.source.type = RESIL_ALERT_SRC_FN;
    o.source.fn = src_fn;
    o.source.ctx = &f->src[i];
    o.threshold = 10;
    return o;
}

static void add_rule(struct fx *f, const char *name, int i, int64_t for_ns, int64_t keep_ns)
{
    resil_alert_rule_opts o = fn_opts(f, name, i);
    o.for_ns = for_ns;
    o.keep_firing_for_ns = keep_ns;
    ck_assert_rc(resil_alerts_rule_add(f->a, &o, NULL), 0);
}

static void adv(struct fx *f, int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(f->clock, ns), 0);
}

static int64_t now_of(struct fx *f)
{
    return resil_clock_now(f->clock);
}

static resil_alert_info info_of(struct fx *f, const char *name)
{
    resil_alert_info in;
    ck_assert_rc(resil_alerts_rule_get(f->a, name, &in), 0);
    return in;
}

static resil_alert_state state_of(struct fx *f, const char *name)
{
    return info_of(f, name).state;
}

static void listen(struct fx *f, unsigned mask)
{
    ck_assert_rc(resil_alerts_notifier_add(f->a, rec_fn, f->rec, mask, NULL), 0);
}

static void ck_event(const resil_alert_event *ev, const char *name, resil_alert_state from,
                     resil_alert_state to, int repeat)
{
    ck_assert_str_eq(ev->alert.name, name);
    ck_assert_int_eq(ev->from, from);
    ck_assert_int_eq(ev->to, to);
    ck_assert_int_eq(ev->alert.state, to);
    ck_assert_int_eq(ev->repeat, repeat);
}

static size_t history_len(struct fx *f)
{
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(f->a, &h, &n), 0);
    resil_free(h);
    return n;
}

/* ---- options and names --------------------------------------------------- */

START_TEST(test_opts_and_new)
{
    long live0 = tu_alloc_live();
    resil_alerts_opts o;
    resil_alerts_opts_init(&o);
    ck_assert_uint_eq(o.history_len, 256);
    ck_assert_int_eq(o.repeat_interval_ns, 4 * 3600 * SEC);
    ck_assert_ptr_null(o.clock);
    resil_alert_rule_opts ro;
    resil_alert_rule_opts_init(&ro);
    ck_assert_int_eq(ro.severity, RESIL_ALERT_WARNING);
    ck_assert_int_eq(ro.cmp, RESIL_ALERT_GT);
    ck_assert_int_eq(ro.source.window_ns, 60 * SEC);
    ck_assert_uint_eq(ro.source.min_events, 1);
    ck_assert_int_eq(ro.for_ns, 0);

    resil_alerts *a = (resil_alerts *)&o;
    ck_assert_rc(resil_alerts_new(NULL, NULL), RESIL_EINVAL);
    o.history_len = 0;
    ck_assert_rc(resil_alerts_new(&o, &a), RESIL_EINVAL);
    ck_assert_ptr_null(a);
    o.history_len = 1000001;
    ck_assert_rc(resil_alerts_new(&o, &a), RESIL_EINVAL);
    o.history_len = 1000000;
    o.repeat_interval_ns = 0;
    ck_assert_rc(resil_alerts_new(&o, &a), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_new(NULL, &a), 0);
    ck_assert_rc(resil_alerts_eval(a), 0);
    resil_alerts_free(a);
    resil_alerts_free(NULL);
    ck_assert_rc(resil_alerts_eval(NULL), RESIL_EINVAL);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(resil_alert_severity_name(RESIL_ALERT_INFO), "info");
    ck_assert_str_eq(resil_alert_severity_name(RESIL_ALERT_WARNING), "warning");
    ck_assert_str_eq(resil_alert_severity_name(RESIL_ALERT_CRITICAL), "critical");
    ck_assert_str_eq(resil_alert_severity_name((resil_alert_severity)7), "unknown");
    ck_assert_str_eq(resil_alert_state_name(RESIL_ALERT_INACTIVE), "inactive");
    ck_assert_str_eq(resil_alert_state_name(RESIL_ALERT_PENDING), "pending");
    ck_assert_str_eq(resil_alert_state_name(RESIL_ALERT_FIRING), "firing");
    ck_assert_str_eq(resil_alert_state_name(RESIL_ALERT_RESOLVED), "resolved");
    ck_assert_str_eq(resil_alert_state_name((resil_alert_state)-1), "unknown");
}
END_TEST

/* ---- the state machine --------------------------------------------------- */

START_TEST(test_for_edge)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_rule(&f, "r", 0, 60 * SEC, 0);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_INACTIVE);

    f.src[0].v = HI;
    int64_t t0 = now_of(&f);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_PENDING);
    ck_assert_int_eq(in.active_since_ns, t0);
    ck_assert_int_eq(in.fired_at_ns, 0);
    ck_assert_int_eq(in.last_eval_ns, t0);
    ck_assert(in.has_value && in.value == HI);

    adv(&f, 60 * SEC - 1 * MS);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_PENDING);
    adv(&f, 1 * MS - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_PENDING);
    adv(&f, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_int_eq(in.fired_at_ns, t0 + 60 * SEC);
    ck_assert_int_eq(in.active_since_ns, t0);

    ck_assert_int_eq(f.rec->n, 2);
    ck_event(&f.rec->ev[0], "r", RESIL_ALERT_INACTIVE, RESIL_ALERT_PENDING, 0);
    ck_event(&f.rec->ev[1], "r", RESIL_ALERT_PENDING, RESIL_ALERT_FIRING, 0);
    ck_assert_int_eq(f.rec->ev[0].at_ns, t0);
    ck_assert_int_eq(f.rec->ev[1].at_ns, t0 + 60 * SEC);
    ck_assert_int_eq(f.rec->ev[0].wall_ns, WALL0);
    ck_assert_uint_eq(f.rec->ev[0].seq, 1);
    ck_assert_uint_eq(f.rec->ev[1].seq, 2);
    fx_done(&f);
}
END_TEST

START_TEST(test_pending_interrupted)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_rule(&f, "r", 0, 60 * SEC, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    adv(&f, 30 * SEC);
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_INACTIVE);
    ck_assert_int_eq(in.active_since_ns, 0);

    /* true again: the for_ns count starts over */
    adv(&f, 10 * SEC);
    f.src[0].v = HI;
    int64_t t1 = now_of(&f);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(info_of(&f, "r").active_since_ns, t1);
    adv(&f, 50 * SEC); /* 90 s after the first true, 50 after this one */
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_PENDING);
    adv(&f, 10 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_FIRING);

    ck_assert_int_eq(f.rec->n, 4);
    ck_event(&f.rec->ev[1], "r", RESIL_ALERT_PENDING, RESIL_ALERT_INACTIVE, 0);
    ck_event(&f.rec->ev[2], "r", RESIL_ALERT_INACTIVE, RESIL_ALERT_PENDING, 0);
    ck_event(&f.rec->ev[3], "r", RESIL_ALERT_PENDING, RESIL_ALERT_FIRING, 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_for_zero_and_resolve)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_rule(&f, "r", 0, 0, 0);
    f.src[0].v = HI;
    int64_t t0 = now_of(&f);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_int_eq(in.active_since_ns, t0);
    ck_assert_int_eq(in.fired_at_ns, t0);
    ck_assert_rc(resil_alerts_eval(f.a), 0); /* still true: nothing */

    adv(&f, SEC);
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_RESOLVED);
    ck_assert_int_eq(in.resolved_at_ns, t0 + SEC);
    ck_assert_int_eq(in.active_since_ns, 0);
    ck_assert_int_eq(in.fired_at_ns, t0);
    ck_assert_rc(resil_alerts_eval(f.a), 0); /* stays resolved */

    adv(&f, SEC);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(info_of(&f, "r").fired_at_ns, t0 + 2 * SEC);
    ck_assert_int_eq(f.rec->n, 3);
    ck_event(&f.rec->ev[0], "r", RESIL_ALERT_INACTIVE, RESIL_ALERT_FIRING, 0);
    ck_event(&f.rec->ev[1], "r", RESIL_ALERT_FIRING, RESIL_ALERT_RESOLVED, 0);
    ck_event(&f.rec->ev[2], "r", RESIL_ALERT_RESOLVED, RESIL_ALERT_FIRING, 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_resolved_to_pending)
{
    struct fx f;
    fx_init(&f);
    add_rule(&f, "r", 0, 10 * SEC, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    adv(&f, 10 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_RESOLVED);
    f.src[0].v = HI;
    adv(&f, SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_PENDING);
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(f.a, &h, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_event(&h[3], "r", RESIL_ALERT_RESOLVED, RESIL_ALERT_PENDING, 0);
    resil_free(h);
    fx_done(&f);
}
END_TEST

START_TEST(test_keep_firing)
{
    struct fx f;
    fx_init(&f);
    add_rule(&f, "r", 0, 0, 30 * SEC);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    adv(&f, SEC);
    f.src[0].v = LO; /* t1 */
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_FIRING);
    adv(&f, 30 * SEC - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_FIRING);
    /* true again at t1 + 30 s: the keep timer starts over */
    adv(&f, 1);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    adv(&f, 10 * SEC);
    f.src[0].v = LO; /* t2 */
    int64_t t2 = now_of(&f);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    adv(&f, 30 * SEC - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_FIRING);
    adv(&f, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_RESOLVED);
    ck_assert_int_eq(in.resolved_at_ns, t2 + 30 * SEC);
    fx_done(&f);
}
END_TEST

static int nan_fn(void *ctx, double *v)
{
    (void)ctx;
    *v = NAN;
    return 0;
}

START_TEST(test_no_data)
{
    struct fx f;
    fx_init(&f);
    resil_alert_rule_opts o = fn_opts(&f, "r", 0);
    o.cmp = RESIL_ALERT_LE; /* no data must not read as 0 <= 10 */
    o.for_ns = 10 * SEC;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    o = fn_opts(&f, "nan", 0);
    o.source.fn = nan_fn;
    o.cmp = RESIL_ALERT_NE;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);

    f.src[0].v = 5;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_PENDING);
    f.src[0].nodata = 1;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "r");
    ck_assert_int_eq(in.state, RESIL_ALERT_INACTIVE);
    ck_assert_int_eq(in.has_value, 0);
    ck_assert_str_eq(in.summary, "r: value n/a (threshold 10)");
    in = info_of(&f, "nan");
    ck_assert_int_eq(in.state, RESIL_ALERT_INACTIVE);
    ck_assert_int_eq(in.has_value, 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_comparisons)
{
    static const struct {
        resil_alert_cmp cmp;
        double v;
        int fires;
    } cases[] = {
        {RESIL_ALERT_GT, 10, 0}, {RESIL_ALERT_GT, 10.5, 1}, {RESIL_ALERT_GE, 10, 1},
        {RESIL_ALERT_GE, 9.5, 0}, {RESIL_ALERT_LT, 10, 0},  {RESIL_ALERT_LT, 9.5, 1},
        {RESIL_ALERT_LE, 10, 1}, {RESIL_ALERT_LE, 10.5, 0}, {RESIL_ALERT_EQ, 10, 1},
        {RESIL_ALERT_EQ, 11, 0}, {RESIL_ALERT_NE, 10, 0},  {RESIL_ALERT_NE, 11, 1},
    };
    struct fx f;
    fx_init(&f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%zu", i);
        resil_alert_rule_opts o = fn_opts(&f, name, (int)(i % 8));
        o.cmp = cases[i].cmp;
        ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
        f.src[i % 8].v = cases[i].v;
        ck_assert_rc(resil_alerts_eval(f.a), cases[i].fires);
        ck_assert_int_eq(state_of(&f, name),
                         cases[i].fires ? RESIL_ALERT_FIRING : RESIL_ALERT_INACTIVE);
        ck_assert_rc(resil_alerts_rule_remove(f.a, name), 0);
    }
    fx_done(&f);
}
END_TEST

/* ---- notifications ------------------------------------------------------- */

START_TEST(test_notifier_masks)
{
    static const unsigned masks[] = {
        RESIL_ALERT_NOTIFY_PENDING,  RESIL_ALERT_NOTIFY_FIRING, RESIL_ALERT_NOTIFY_RESOLVED,
        RESIL_ALERT_NOTIFY_INACTIVE, RESIL_ALERT_NOTIFY_REPEAT, RESIL_ALERT_NOTIFY_DEFAULT,
        RESIL_ALERT_NOTIFY_ALL,
    };
    enum { NM = sizeof masks / sizeof masks[0] };
    struct fx f;
    fx_open(&f, 0, 60 * SEC);
    struct rec *recs = calloc(NM, sizeof *recs);
    for (int i = 0; i < NM; i++)
        ck_assert_rc(resil_alerts_notifier_add(f.a, rec_fn, &recs[i], masks[i], NULL), 0);
    uint64_t id;
    ck_assert_rc(resil_alerts_notifier_add(f.a, rec_fn, f.rec, 0, &id), RESIL_EINVAL);
    ck_assert_uint_eq(id, 0);
    ck_assert_rc(resil_alerts_notifier_add(f.a, rec_fn, f.rec, 0x20, &id), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_notifier_add(f.a, NULL, f.rec, 1, &id), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_notifier_add(NULL, rec_fn, f.rec, 1, &id), RESIL_EINVAL);

    add_rule(&f, "r", 0, 10 * SEC, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* -> pending */
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* -> inactive */
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* -> pending */
    adv(&f, 10 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* -> firing */
    adv(&f, 60 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0); /* reminder */
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* -> resolved */

    /* pending x2, inactive, firing, repeat, resolved */
    ck_assert_int_eq(recs[0].n, 2);
    ck_assert_int_eq(recs[0].ev[1].to, RESIL_ALERT_PENDING);
    ck_assert_int_eq(recs[1].n, 1);
    ck_assert_int_eq(recs[1].ev[0].to, RESIL_ALERT_FIRING);
    ck_assert_int_eq(recs[2].n, 1);
    ck_assert_int_eq(recs[2].ev[0].to, RESIL_ALERT_RESOLVED);
    ck_assert_int_eq(recs[3].n, 1);
    ck_event(&recs[3].ev[0], "r", RESIL_ALERT_PENDING, RESIL_ALERT_INACTIVE, 0);
    ck_assert_int_eq(recs[4].n, 1);
    ck_event(&recs[4].ev[0], "r", RESIL_ALERT_FIRING, RESIL_ALERT_FIRING, 1);
    ck_assert_int_eq(recs[5].n, 3);
    ck_assert_int_eq(recs[6].n, 6);
    for (int i = 1; i < 6; i++)
        ck_assert_uint_gt(recs[6].ev[i].seq, recs[6].ev[i - 1].seq);
    ck_assert_uint_eq(history_len(&f), 5); /* the reminder is not history */
    free(recs);
    fx_done(&f);
}
END_TEST

START_TEST(test_repeat_interval)
{
    struct fx f;
    fx_open(&f, 0, 7 * SEC);
    listen(&f, RESIL_ALERT_NOTIFY_REPEAT);
    resil_alert_rule_opts o = fn_opts(&f, "r", 0);
    o.repeat_interval_ns = 600 * SEC;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    o = fn_opts(&f, "engine", 0); /* 0: the engine's 7 s */
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    o = fn_opts(&f, "never", 0);
    o.repeat_interval_ns = -1;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);

    f.src[0].v = HI;
    int64_t t = now_of(&f);
    ck_assert_rc(resil_alerts_eval(f.a), 3);
    ck_assert_rc(resil_alerts_notifier_remove(f.a, 1), 0);
    uint64_t id;
    ck_assert_rc(resil_alerts_notifier_add(f.a, rec_fn, f.rec, RESIL_ALERT_NOTIFY_REPEAT, &id),
                 0);
    ck_assert_rc(resil_alerts_rule_remove(f.a, "engine"), 0);

    adv(&f, 600 * SEC - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 0);
    adv(&f, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0); /* reminders are not transitions */
    ck_assert_int_eq(f.rec->n, 1);
    ck_event(&f.rec->ev[0], "r", RESIL_ALERT_FIRING, RESIL_ALERT_FIRING, 1);
    ck_assert_int_eq(f.rec->ev[0].at_ns, t + 600 * SEC);
    ck_assert_int_eq(f.rec->ev[0].alert.fired_at_ns, t);
    adv(&f, 599 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 1);
    adv(&f, SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 2);
    /* a late evaluation: the next reminder counts from this one */
    adv(&f, 900 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 3);
    adv(&f, 599 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 3);
    adv(&f, SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(f.rec->ev[i].alert.name, "r");
    fx_done(&f);
}
END_TEST

START_TEST(test_engine_repeat_default)
{
    struct fx f;
    fx_open(&f, 0, 7 * SEC);
    listen(&f, RESIL_ALERT_NOTIFY_REPEAT);
    add_rule(&f, "r", 0, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    adv(&f, 7 * SEC - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 0);
    adv(&f, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 1);
    fx_done(&f);
}
END_TEST

/* ---- silences ------------------------------------------------------------ */

static void add_labeled(struct fx *f, const char *name, const char *subject, const char *team,
                        int i)
{
    static const char *const names[] = {"team"};
    const char *values[] = {team};
    resil_alert_rule_opts o = fn_opts(f, name, i);
    o.subject = subject;
    o.label_names = names;
    o.label_values = values;
    o.nlabels = 1;
    ck_assert_rc(resil_alerts_rule_add(f->a, &o, NULL), 0);
}

START_TEST(test_silence_matchers)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_labeled(&f, "a", "db", "ops", 0);
    add_labeled(&f, "b", "web", "ops", 1);
    add_labeled(&f, "c", "web", "dev", 2);
    add_labeled(&f, "d", "queue", "dev", 3);
    int64_t now = now_of(&f);
    uint64_t ids[3];
    resil_alert_silence s = {.rule = "a", .expires_ns = now + 100 * SEC, .comment = "by rule"};
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &ids[0]), 0);
    s = (resil_alert_silence){.subject = "web", .label_name = "team", .label_value = "ops",
                              .expires_ns = now + 200 * SEC};
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &ids[1]), 0);
    s = (resil_alert_silence){.label_name = "team", .label_value = "nobody",
                              .expires_ns = now + 300 * SEC};
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &ids[2]), 0);
    ck_assert_uint_lt(ids[0], ids[1]);

    ck_assert_int_eq(info_of(&f, "a").silenced, 1); /* at once, not at eval */
    ck_assert_int_eq(info_of(&f, "b").silenced, 1);
    ck_assert_int_eq(info_of(&f, "c").silenced, 0);
    ck_assert_int_eq(info_of(&f, "d").silenced, 0);

    for (int i = 0; i < 4; i++)
        f.src[i].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 4);
    ck_assert_int_eq(f.rec->n, 2);
    ck_assert_str_eq(f.rec->ev[0].alert.name, "c");
    ck_assert_str_eq(f.rec->ev[1].alert.name, "d");
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(f.a, &h, &n), 0);
    ck_assert_uint_eq(n, 4); /* silenced transitions are recorded */
    ck_assert_str_eq(h[0].alert.name, "a");
    ck_assert_int_eq(h[0].alert.silenced, 1);
    ck_assert_int_eq(h[2].alert.silenced, 0);
    resil_free(h);

    resil_alert_silence_info *si;
    ck_assert_rc(resil_alerts_silences(f.a, &si, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(si[0].rule, "a");
    ck_assert_str_eq(si[0].comment, "by rule");
    ck_assert_str_eq(si[1].subject, "web");
    ck_assert_str_eq(si[1].label_value, "ops");
    ck_assert_str_eq(si[2].rule, "");
    resil_free(si);

    /* expiry: the first silence goes at the first evaluation at or after
     * its expiry, and "a" notifies again */
    adv(&f, 100 * SEC - 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_rc(resil_alerts_silences(f.a, &si, &n), 0);
    ck_assert_uint_eq(n, 3);
    resil_free(si);
    adv(&f, 1);
    ck_assert_int_eq(info_of(&f, "a").silenced, 0); /* expired: no longer matches */
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_rc(resil_alerts_silences(f.a, &si, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(si[0].id, ids[1]);
    resil_free(si);
    ck_assert_int_eq(f.rec->n, 3);
    ck_event(&f.rec->ev[2], "a", RESIL_ALERT_FIRING, RESIL_ALERT_RESOLVED, 0);

    ck_assert_rc(resil_alerts_silence_remove(f.a, ids[1]), 0);
    ck_assert_rc(resil_alerts_silence_remove(f.a, ids[1]), RESIL_ENOENT);
    ck_assert_int_eq(info_of(&f, "b").silenced, 0);
    f.src[1].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(f.rec->n, 4);
    fx_done(&f);
}
END_TEST

START_TEST(test_silence_args)
{
    struct fx f;
    fx_init(&f);
    int64_t now = now_of(&f);
    uint64_t id = 99;
    resil_alert_silence s = {.expires_ns = now};
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL);
    ck_assert_uint_eq(id, 0);
    s.expires_ns = now + 1;
    ck_assert_rc(resil_alerts_silence_add(NULL, &s, &id), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_silence_add(f.a, NULL, &id), RESIL_EINVAL);
    s.rule = "bad name";
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL);
    s.rule = NULL;
    s.subject = "a\"b";
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL);
    s.subject = NULL;
    s.label_name = "team";
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL); /* no value */
    s.label_value = "\xff";
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL);
    s.label_name = "9team";
    s.label_value = "x";
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL);
    s.label_name = NULL;
    s.label_value = NULL;
    char comment[300];
    memset(comment, 'c', sizeof comment);
    comment[256] = '\0';
    s.comment = comment;
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EINVAL);
    comment[255] = '\0';
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), 0);
    ck_assert_uint_eq(id, 1);
    s.comment = NULL;
    for (int i = 1; i < RESIL_ALERT_MAX_SILENCES; i++)
        ck_assert_rc(resil_alerts_silence_add(f.a, &s, NULL), 0);
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, &id), RESIL_EFULL);
    ck_assert_rc(resil_alerts_silence_remove(f.a, 12345), RESIL_ENOENT);
    ck_assert_rc(resil_alerts_silence_remove(NULL, 1), RESIL_EINVAL);
    resil_alert_silence_info *si = (void *)1;
    size_t n = 5;
    ck_assert_rc(resil_alerts_silences(NULL, &si, &n), RESIL_EINVAL);
    ck_assert_ptr_null(si);
    ck_assert_uint_eq(n, 0);
    /* all expire at the next evaluation */
    adv(&f, 1);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_rc(resil_alerts_silences(f.a, &si, &n), 0);
    ck_assert_ptr_null(si);
    ck_assert_uint_eq(n, 0);
    fx_done(&f);
}
END_TEST

/* ---- inhibition ---------------------------------------------------------- */

static void add_sev(struct fx *f, const char *name, const char *subject,
                    resil_alert_severity sev, int i)
{
    resil_alert_rule_opts o = fn_opts(f, name, i);
    o.subject = subject;
    o.severity = sev;
    ck_assert_rc(resil_alerts_rule_add(f->a, &o, NULL), 0);
}

START_TEST(test_inhibition)
{
    struct fx f;
    fx_open(&f, 0, 60 * SEC);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_sev(&f, "a_warn", "db", RESIL_ALERT_WARNING, 0);
    add_sev(&f, "b_info", "db", RESIL_ALERT_INFO, 1);
    add_sev(&f, "c_other", "web", RESIL_ALERT_WARNING, 2);
    add_sev(&f, "y_crit2", "db", RESIL_ALERT_CRITICAL, 3);
    add_sev(&f, "z_crit", "db", RESIL_ALERT_CRITICAL, 4);

    /* the warning fires first: notified */
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(f.rec->n, 1);
    /* the critical and the info fire in one evaluation: the info is
     * inhibited although it sorts before the critical (inhibition is
     * computed over the new states); the other critical is not */
    f.src[1].v = HI;
    f.src[2].v = HI;
    f.src[3].v = HI;
    f.src[4].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 4);
    ck_assert_int_eq(f.rec->n, 4);
    ck_assert_str_eq(f.rec->ev[1].alert.name, "c_other");
    ck_assert_str_eq(f.rec->ev[2].alert.name, "y_crit2");
    ck_assert_str_eq(f.rec->ev[3].alert.name, "z_crit");
    ck_assert_int_eq(info_of(&f, "a_warn").inhibited, 1);
    ck_assert_int_eq(info_of(&f, "b_info").inhibited, 1);
    ck_assert_int_eq(info_of(&f, "c_other").inhibited, 0);
    ck_assert_int_eq(info_of(&f, "z_crit").inhibited, 0);
    /* reminders of the inhibited ones are held back too */
    adv(&f, 60 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert_int_eq(f.rec->n, 7);
    /* the warning resolves while inhibited: recorded, not notified */
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(f.rec->n, 7);
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(f.a, &h, &n), 0);
    ck_assert_uint_eq(n, 6);
    ck_event(&h[5], "a_warn", RESIL_ALERT_FIRING, RESIL_ALERT_RESOLVED, 0);
    ck_assert_int_eq(h[5].alert.inhibited, 1);
    resil_free(h);
    /* one critical resolves: the other still inhibits */
    f.src[3].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(f.rec->n, 8);
    ck_assert_int_eq(info_of(&f, "b_info").inhibited, 1);
    /* both gone: inhibition lifts in the same evaluation */
    f.src[4].v = LO;
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert_int_eq(f.rec->n, 10);
    ck_event(&f.rec->ev[8], "a_warn", RESIL_ALERT_RESOLVED, RESIL_ALERT_FIRING, 0);
    ck_assert_int_eq(f.rec->ev[8].alert.inhibited, 0);
    ck_assert_int_eq(info_of(&f, "b_info").inhibited, 0);
    fx_done(&f);
}
END_TEST

/* ---- history and listings ------------------------------------------------ */

START_TEST(test_history_bound)
{
    struct fx f;
    fx_open(&f, 3, 0);
    add_rule(&f, "r", 0, 0, 0);
    for (int i = 0; i < 5; i++) {
        f.src[0].v = i % 2 ? LO : HI;
        adv(&f, SEC);
        ck_assert_rc(resil_alerts_eval(f.a), 1);
    }
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(f.a, &h, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(h[0].seq, 3);
    ck_assert_uint_eq(h[1].seq, 4);
    ck_assert_uint_eq(h[2].seq, 5);
    ck_assert_int_eq(h[0].to, RESIL_ALERT_FIRING);
    ck_assert_int_eq(h[1].to, RESIL_ALERT_RESOLVED);
    ck_assert_int_lt(h[0].at_ns, h[1].at_ns);
    resil_free(h);
    ck_assert_rc(resil_alerts_history(f.a, NULL, &n), RESIL_EINVAL);
    fx_done(&f);
}
END_TEST

START_TEST(test_history_grows)
{
    struct fx f;
    fx_open(&f, 100, 0);
    add_rule(&f, "r", 0, 0, 0);
    for (int i = 0; i < 150; i++) {
        f.src[0].v = i % 2 ? LO : HI;
        ck_assert_rc(resil_alerts_eval(f.a), 1);
    }
    resil_alert_event *h;
    size_t n;
    ck_assert_rc(resil_alerts_history(f.a, &h, &n), 0);
    ck_assert_uint_eq(n, 100);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(h[i].seq, 51 + i);
    resil_free(h);
    fx_done(&f);
}
END_TEST

START_TEST(test_active_order)
{
    struct fx f;
    fx_init(&f);
    add_sev(&f, "m_warn", "s1", RESIL_ALERT_WARNING, 0);
    add_sev(&f, "b_crit", "s2", RESIL_ALERT_CRITICAL, 0);
    add_sev(&f, "a_info", "s3", RESIL_ALERT_INFO, 0);
    add_sev(&f, "c_crit", "s4", RESIL_ALERT_CRITICAL, 0);
    add_sev(&f, "d_warn", "s5", RESIL_ALERT_WARNING, 0);
    resil_alert_rule_opts o = fn_opts(&f, "p_pending", 0);
    o.for_ns = SEC;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    add_sev(&f, "quiet", "s6", RESIL_ALERT_CRITICAL, 1);
    resil_alert_info *act = (void *)1;
    size_t n = 9;
    ck_assert_rc(resil_alerts_active(f.a, &act, &n), 0);
    ck_assert_ptr_null(act);
    ck_assert_uint_eq(n, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 6);
    ck_assert_rc(resil_alerts_active(f.a, &act, &n), 0);
    ck_assert_uint_eq(n, 6);
    static const char *const want[] = {"b_crit", "c_crit",    "d_warn",
                                       "m_warn", "p_pending", "a_info"};
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(act[i].name, want[i]);
    ck_assert_int_eq(act[4].state, RESIL_ALERT_PENDING);
    resil_free(act);
    ck_assert_rc(resil_alerts_active(NULL, &act, &n), RESIL_EINVAL);
    fx_done(&f);
}
END_TEST

START_TEST(test_remove_active)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_rule(&f, "r", 0, 0, 0);
    add_rule(&f, "s", 0, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert_rc(resil_alerts_rule_remove(f.a, "r"), 0);
    ck_assert_rc(resil_alerts_rule_remove(f.a, "r"), RESIL_ENOENT);
    ck_assert_rc(resil_alerts_rule_remove(f.a, NULL), RESIL_EINVAL);
    resil_alert_info in;
    ck_assert_rc(resil_alerts_rule_get(f.a, "r", &in), RESIL_ENOENT);
    ck_assert_rc(resil_alerts_rule_get(f.a, "s", NULL), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_rule_get(NULL, "s", &in), RESIL_EINVAL);
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1); /* only s resolves */
    ck_assert_int_eq(f.rec->n, 3);
    ck_assert_str_eq(f.rec->ev[2].alert.name, "s");
    add_rule(&f, "r", 0, 0, 0); /* the name is free again, state new */
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_INACTIVE);
    resil_alert_info *act;
    size_t n;
    ck_assert_rc(resil_alerts_active(f.a, &act, &n), 0);
    ck_assert_uint_eq(n, 0);
    fx_done(&f);
}
END_TEST

/* ---- templates ----------------------------------------------------------- */

START_TEST(test_template_render)
{
    struct fx f;
    fx_init(&f);
    static const char *const names[] = {"team", "region"};
    static const char *const values[] = {"ops", "eu-west"};
    resil_alert_rule_opts o = fn_opts(&f, "HighLatency", 0);
    o.subject = "api";
    o.severity = RESIL_ALERT_CRITICAL;
    o.threshold = 0.25;
    o.label_names = names;
    o.label_values = values;
    o.nlabels = 2;
    o.summary = "[{{severity}}] {{name}} on {{ subject }}: {{value}} > {{threshold}} "
                "({{labels.team}}/{{labels.region}}) {single} }} {";
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    ck_assert_str_eq(info_of(&f, "HighLatency").summary,
                     "[critical] HighLatency on api: n/a > 0.25 (ops/eu-west) {single} }} {");
    f.src[0].v = 123456.789;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_info in = info_of(&f, "HighLatency");
    ck_assert_str_eq(in.summary,
                     "[critical] HighLatency on api: 1.235e+05 > 0.25 (ops/eu-west) {single} }} {");
    ck_assert_uint_eq(in.nlabels, 2);
    ck_assert_str_eq(in.labels[1].name, "region");
    ck_assert_str_eq(in.labels[1].value, "eu-west");
    o.name = "plain";
    o.summary = "";
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    ck_assert_str_eq(info_of(&f, "plain").summary, "");
    fx_done(&f);
}
END_TEST

START_TEST(test_template_cut_utf8)
{
    struct fx f;
    fx_init(&f);
    /* "ab" then 127 euro signs (3 bytes each) through a label */
    static const char *const names[] = {"x"};
    char value[RESIL_ALERT_MAX_LABEL_VALUE];
    memset(value, 0, sizeof value);
    for (int i = 0; i < 42; i++)
        memcpy(value + 3 * i, "\xe2\x82\xac", 3); /* 126 bytes */
    const char *values[] = {value};
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "ab{{labels.x}}{{labels.x}}{{labels.x}}tail");
    resil_alert_rule_opts o = fn_opts(&f, "r", 0);
    o.label_names = names;
    o.label_values = values;
    o.nlabels = 1;
    o.summary = tmpl;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    resil_alert_info in = info_of(&f, "r");
    /* 2 + 3 * 84 = 254 bytes fit in 255; the 85th sign would split */
    ck_assert_uint_eq(strlen(in.summary), 254);
    ck_assert(memcmp(in.summary, "ab\xe2\x82\xac", 5) == 0);
    ck_assert(memcmp(in.summary + 251, "\xe2\x82\xac", 3) == 0);
    /* an ASCII template is cut at exactly 255 bytes */
    char longer[400];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    o = fn_opts(&f, "long", 0);
    o.summary = longer;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    ck_assert_uint_eq(strlen(info_of(&f, "long").summary), RESIL_ALERT_MAX_SUMMARY - 1);
    fx_done(&f);
}
END_TEST

START_TEST(test_template_errors)
{
    static const struct {
        const char *tmpl;
        int column;
    } bad[] = {
        {"value {{value", 7},
        {"{{", 1},
        {"ok {{value}} then {{nope}}", 19},
        {"{{}}", 1},
        {"{{labels.zone}}", 1},
        {"{{labels.}}", 1},
        {"{{labels}}", 1},
        {"{{Name}}", 1},
        {"{{{name}}}", 1},
        {"x{{value}", 2},
        {"ab\xc3(", 3},
        {"\xed\xa0\x80", 1},
    };
    struct fx f;
    fx_init(&f);
    static const char *const names[] = {"team"};
    static const char *const values[] = {"ops"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resil_alert_rule_opts o = fn_opts(&f, "r", 0);
        o.label_names = names;
        o.label_values = values;
        o.nlabels = 1;
        o.summary = bad[i].tmpl;
        resil_error err;
        ck_assert_rc(resil_alerts_rule_add(f.a, &o, &err), RESIL_EPARSE);
        ck_assert_int_eq(err.code, RESIL_EPARSE);
        ck_assert_msg(err.column == bad[i].column, "%s: column %d, want %d", bad[i].tmpl,
                      err.column, bad[i].column);
        ck_assert_int_eq(err.line, 1);
        ck_assert(strlen(err.text) > 0);
        ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), RESIL_EPARSE);
    }
    resil_alert_info in;
    ck_assert_rc(resil_alerts_rule_get(f.a, "r", &in), RESIL_ENOENT);
    resil_error err;
    resil_alert_rule_opts o = fn_opts(&f, "r", 0);
    o.summary = "{{labels.team}}"; /* a label the rule does not have */
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, &err), RESIL_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.text, "labels.team"));
    o.summary = "fine {{value}}";
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, &err), 0);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(err.text, "");
    fx_done(&f);
}
END_TEST

/* ---- rule_add arguments -------------------------------------------------- */

typedef void (*mutate_fn)(resil_alert_rule_opts *o);

static void m_noname(resil_alert_rule_opts *o) { o->name = NULL; }
static void m_emptyname(resil_alert_rule_opts *o) { o->name = ""; }
static void m_spacename(resil_alert_rule_opts *o) { o->name = "a b"; }
static void m_longname(resil_alert_rule_opts *o)
{
    o->name = "n123456789012345678901234567890123456789012345678901234567890123";
}
static void m_badsubject(resil_alert_rule_opts *o) { o->subject = "x/y"; }
static void m_emptysubject(resil_alert_rule_opts *o) { o->subject = ""; }
static void m_severity(resil_alert_rule_opts *o) { o->severity = (resil_alert_severity)3; }
static void m_cmp(resil_alert_rule_opts *o) { o->cmp = (resil_alert_cmp)6; }
static void m_nan(resil_alert_rule_opts *o) { o->threshold = NAN; }
static void m_inf(resil_alert_rule_opts *o) { o->threshold = INFINITY; }
static void m_for(resil_alert_rule_opts *o) { o->for_ns = -1; }
static void m_keep(resil_alert_rule_opts *o) { o->keep_firing_for_ns = -1; }
static void m_type(resil_alert_rule_opts *o) { o->source.type = (resil_alert_source_type)7; }
static void m_nofn(resil_alert_rule_opts *o) { o->source.fn = NULL; }
static void m_counter(resil_alert_rule_opts *o) { o->source.type = RESIL_ALERT_SRC_COUNTER; }
static void m_gauge(resil_alert_rule_opts *o) { o->source.type = RESIL_ALERT_SRC_GAUGE; }
static void m_rate(resil_alert_rule_opts *o) { o->source.type = RESIL_ALERT_SRC_RATE; }
static void m_ratio(resil_alert_rule_opts *o) { o->source.type = RESIL_ALERT_SRC_RATIO; }
static void m_breaker(resil_alert_rule_opts *o) { o->source.type = RESIL_ALERT_SRC_BREAKER; }
static void m_health(resil_alert_rule_opts *o) { o->source.type = RESIL_ALERT_SRC_HEALTH; }
static void m_nlabels(resil_alert_rule_opts *o) { o->nlabels = 1; }
static void m_toomany(resil_alert_rule_opts *o)
{
    static const char *const n[9] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    o->label_names = n;
    o->label_values = n;
    o->nlabels = 9;
}
static void m_labelname(resil_alert_rule_opts *o)
{
    static const char *const n[] = {"1abc"}, *const v[] = {"x"};
    o->label_names = n;
    o->label_values = v;
    o->nlabels = 1;
}
static void m_labeldup(resil_alert_rule_opts *o)
{
    static const char *const n[] = {"a", "a"}, *const v[] = {"x", "y"};
    o->label_names = n;
    o->label_values = v;
    o->nlabels = 2;
}
static void m_labelutf8(resil_alert_rule_opts *o)
{
    static const char *const n[] = {"a"}, *const v[] = {"\xc0\xaf"};
    o->label_names = n;
    o->label_values = v;
    o->nlabels = 1;
}
static void m_labellong(resil_alert_rule_opts *o)
{
    static char v0[RESIL_ALERT_MAX_LABEL_VALUE + 1];
    memset(v0, 'v', RESIL_ALERT_MAX_LABEL_VALUE);
    static const char *const n[] = {"a"};
    static const char *v[] = {v0};
    o->label_names = n;
    o->label_values = v;
    o->nlabels = 1;
}
static void m_labelnull(resil_alert_rule_opts *o)
{
    static const char *const n[] = {"a"}, *const v[] = {NULL};
    o->label_names = n;
    o->label_values = v;
    o->nlabels = 1;
}

START_TEST(test_rule_add_einval)
{
    static const mutate_fn bad[] = {
        m_noname, m_emptyname, m_spacename, m_longname, m_badsubject, m_emptysubject,
        m_severity, m_cmp, m_nan, m_inf, m_for, m_keep, m_type, m_nofn, m_counter,
        m_gauge, m_rate, m_ratio, m_breaker, m_health, m_nlabels, m_toomany,
        m_labelname, m_labeldup, m_labelutf8, m_labellong, m_labelnull,
    };
    struct fx f;
    fx_init(&f);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resil_alert_rule_opts o = fn_opts(&f, "r", 0);
        bad[i](&o);
        resil_error err;
        int rc = resil_alerts_rule_add(f.a, &o, &err);
        ck_assert_msg(rc == RESIL_EINVAL, "case %zu: %s", i, resil_err_name(rc));
        ck_assert_int_eq(err.code, RESIL_EINVAL);
        ck_assert_msg(strlen(err.text) > 0, "case %zu: no text", i);
    }
    resil_alert_rule_opts o = fn_opts(&f, "r", 0);
    resil_error err;
    ck_assert_rc(resil_alerts_rule_add(NULL, &o, &err), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_rule_add(f.a, NULL, NULL), RESIL_EINVAL);
    /* the longest name and label fit */
    o.name = "n12345678901234567890123456789012345678901234567890123456789012";
    ck_assert_uint_eq(strlen(o.name), RESIL_ALERT_MAX_NAME - 1);
    o.subject = "ok.sub:ject-_1";
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_rule_add_eexist_efull)
{
    struct fx f;
    fx_init(&f);
    add_rule(&f, "dup", 0, 0, 0);
    resil_alert_rule_opts o = fn_opts(&f, "dup", 0);
    resil_error err;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, &err), RESIL_EEXIST);
    ck_assert_int_eq(err.code, RESIL_EEXIST);
    for (int i = 1; i < RESIL_ALERT_MAX_RULES; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%04d", i);
        o.name = name;
        ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    }
    o.name = "one_more";
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, &err), RESIL_EFULL);
    ck_assert_int_eq(err.code, RESIL_EFULL);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), RESIL_ALERT_MAX_RULES);
    ck_assert_rc(resil_alerts_rule_remove(f.a, "r0500"), 0);
    o.name = "one_more";
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    fx_done(&f);
}
END_TEST

/* ---- notifiers that call back in ----------------------------------------- */

struct reent {
    resil_alerts *a;
    int calls, get_ok, other_ok;
};

static void reent_fn(const resil_alert_event *ev, void *ctx)
{
    struct reent *r = ctx;
    r->calls++;
    resil_alert_info in;
    if (resil_alerts_rule_get(r->a, ev->alert.name, &in) == 0 && in.state == ev->to)
        r->get_ok++;
    resil_alert_silence s = {.rule = "other", .expires_ns = ev->at_ns + SEC};
    int ok = resil_alerts_silence_add(r->a, &s, NULL) == 0;
    resil_alert_info *act = NULL;
    size_t n;
    ok = ok && resil_alerts_active(r->a, &act, &n) == 0;
    resil_free(act);
    resil_alert_event *h = NULL;
    ok = ok && resil_alerts_history(r->a, &h, &n) == 0 && n > 0;
    resil_free(h);
    uint64_t id;
    ok = ok && resil_alerts_notifier_add(r->a, rec_fn, NULL, 1, &id) == 0;
    ok = ok && resil_alerts_notifier_remove(r->a, id) == 0;
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = "added_inside";
    o.source.type = RESIL_ALERT_SRC_FN;
    o.source.fn = src_fn;
    o.source.ctx = &(struct src){0};
    ok = ok && resil_alerts_rule_add(r->a, &o, NULL) == 0;
    ok = ok && resil_alerts_rule_remove(r->a, "added_inside") == 0;
    ok = ok && resil_alerts_rule_remove(r->a, "victim") == 0;
    char *json;
    int rc = resil_alerts_render(r->a, &json, NULL);
    ok = ok && (rc == 0 || rc == RESIL_ENOTSUP);
    if (rc == 0)
        resil_free(json);
    r->other_ok += ok;
}

START_TEST(test_reentrant_notifier)
{
    struct fx f;
    fx_init(&f);
    struct reent r = {.a = f.a};
    ck_assert_rc(resil_alerts_notifier_add(f.a, reent_fn, &r, RESIL_ALERT_NOTIFY_FIRING, NULL),
                 0);
    add_rule(&f, "r", 0, 0, 0);
    add_rule(&f, "victim", 1, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.get_ok, 1);
    ck_assert_int_eq(r.other_ok, 1);
    resil_alert_info in;
    ck_assert_rc(resil_alerts_rule_get(f.a, "victim", &in), RESIL_ENOENT);
    resil_alert_silence_info *si;
    size_t n;
    ck_assert_rc(resil_alerts_silences(f.a, &si, &n), 0);
    ck_assert_uint_eq(n, 1);
    resil_free(si);
    fx_done(&f);
}
END_TEST

struct self_remove {
    resil_alerts *a;
    uint64_t id;
    int calls, rc;
};

static void self_remove_fn(const resil_alert_event *ev, void *ctx)
{
    struct self_remove *s = ctx;
    (void)ev;
    s->calls++;
    s->rc = resil_alerts_notifier_remove(s->a, s->id);
}

START_TEST(test_notifier_removes_itself)
{
    struct fx f;
    fx_init(&f);
    struct self_remove s = {.a = f.a};
    ck_assert_rc(resil_alerts_notifier_add(f.a, self_remove_fn, &s, RESIL_ALERT_NOTIFY_ALL,
                                           &s.id),
                 0);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_rule(&f, "a", 0, 0, 0);
    add_rule(&f, "b", 0, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert_int_eq(s.calls, 1); /* gone before the second event */
    ck_assert_rc(s.rc, 0);
    ck_assert_int_eq(f.rec->n, 2);
    ck_assert_rc(resil_alerts_notifier_remove(f.a, s.id), RESIL_ENOENT);
    ck_assert_rc(resil_alerts_notifier_remove(NULL, s.id), RESIL_EINVAL);
    fx_done(&f);
}
END_TEST

struct blocker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, release, in_call, calls, removed, remove_saw_in_call;
    resil_alerts *a;
    uint64_t id;
};

static void block_fn(const resil_alert_event *ev, void *ctx)
{
    struct blocker *b = ctx;
    (void)ev;
    pthread_mutex_lock(&b->mu);
    b->in_call = 1;
    b->entered = 1;
    b->calls++;
    pthread_cond_broadcast(&b->cv);
    while (!b->release)
        pthread_cond_wait(&b->cv, &b->mu);
    b->in_call = 0;
    pthread_mutex_unlock(&b->mu);
}

static void *eval_main(void *arg)
{
    resil_alerts_eval(arg);
    return NULL;
}

static void *remove_main(void *arg)
{
    struct blocker *b = arg;
    int rc = resil_alerts_notifier_remove(b->a, b->id);
    pthread_mutex_lock(&b->mu);
    b->remove_saw_in_call = rc == 0 ? b->in_call : -1;
    b->removed = 1;
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

START_TEST(test_notifier_remove_other_thread)
{
    struct fx f;
    fx_init(&f);
    struct blocker b = {.a = f.a};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    ck_assert_rc(resil_alerts_notifier_add(f.a, block_fn, &b, RESIL_ALERT_NOTIFY_ALL, &b.id), 0);
    add_rule(&f, "r", 0, 0, 0);
    f.src[0].v = HI;
    pthread_t te, tr;
    ck_assert_int_eq(pthread_create(&te, NULL, eval_main, f.a), 0);
    pthread_mutex_lock(&b.mu);
    while (!b.entered)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    /* the notifier is running: the engine stays usable meanwhile */
    ck_assert_int_eq(state_of(&f, "r"), RESIL_ALERT_FIRING);
    ck_assert_int_eq(pthread_create(&tr, NULL, remove_main, &b), 0);
    for (int i = 0; i < 20; i++) {
        sched_yield();
        nanosleep(&(struct timespec){0, 100000}, NULL); /* let remove block */
    }
    pthread_mutex_lock(&b.mu);
    ck_assert_int_eq(b.removed, 0); /* still waiting for the notifier */
    b.release = 1;
    pthread_cond_broadcast(&b.cv);
    pthread_mutex_unlock(&b.mu);
    pthread_join(tr, NULL);
    pthread_join(te, NULL);
    ck_assert_int_eq(b.remove_saw_in_call, 0);
    f.src[0].v = LO;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(b.calls, 1);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    fx_done(&f);
}
END_TEST

struct selfrm {
    resil_alerts *a;
    int rc, calls;
};

static int remove_self_src(void *ctx, double *v)
{
    struct selfrm *s = ctx;
    s->calls++;
    s->rc = resil_alerts_rule_remove(s->a, "self");
    *v = HI;
    return 0;
}

START_TEST(test_source_removes_rule)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    struct selfrm s = {.a = f.a};
    resil_alert_rule_opts o = fn_opts(&f, "self", 0);
    o.source.fn = remove_self_src;
    o.source.ctx = &s;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    add_rule(&f, "z", 0, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_rc(s.rc, 0);
    ck_assert_int_eq(f.rec->n, 1);
    ck_assert_str_eq(f.rec->ev[0].alert.name, "z");
    fx_done(&f);
}
END_TEST

/* ---- JSON ---------------------------------------------------------------- */

#if RESIL_HAVE_JANSSON
static json_t *parse_line(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    ck_assert_msg(j != NULL, "bad JSON: %s: %s", e.text, line);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_string(v), "%s is not a string", k);
    return json_string_value(v);
}
#endif

START_TEST(test_log_notifier)
{
    struct fx f;
    fx_init(&f);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    ck_assert_rc(resil_alerts_notifier_add(f.a, resil_alert_notify_log, tmp,
                                           RESIL_ALERT_NOTIFY_ALL, NULL),
                 0);
    add_labeled(&f, "r", "db", "ops \"quoted\"", 0);
    resil_alert_rule_opts o = fn_opts(&f, "p", 1);
    o.for_ns = SEC;
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), 0);
    f.src[0].v = 12.5;
    f.src[1].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    f.src[1].nodata = 1;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_notify_log(NULL, tmp); /* no event: nothing written */
    rewind(tmp);
    char line[4096];
    int lines = 0;
#if RESIL_HAVE_JANSSON
    while (fgets(line, sizeof line, tmp)) {
        ck_assert(line[strlen(line) - 1] == '\n');
        json_t *j = parse_line(line);
        json_t *seq = json_object_get(j, "seq");
        ck_assert_int_eq(json_integer_value(seq), lines + 1);
        ck_assert_str_eq(jstr(j, "time"), "2023-11-14T22:13:20.123Z");
        if (lines == 1) {
            ck_assert_str_eq(jstr(j, "alert"), "r");
            ck_assert_str_eq(jstr(j, "subject"), "db");
            ck_assert_str_eq(jstr(j, "severity"), "warning");
            ck_assert_str_eq(jstr(j, "state"), "firing");
            ck_assert_str_eq(jstr(j, "from"), "inactive");
            ck_assert(json_is_false(json_object_get(j, "repeat")));
            ck_assert(json_real_value(json_object_get(j, "value")) == 12.5);
            ck_assert(json_number_value(json_object_get(j, "threshold")) == 10);
            ck_assert_str_eq(jstr(j, "summary"), "r: value 12.5 (threshold 10)");
            ck_assert_str_eq(jstr(json_object_get(j, "labels"), "team"), "ops \"quoted\"");
            ck_assert(json_is_false(json_object_get(j, "silenced")));
            ck_assert(json_is_false(json_object_get(j, "inhibited")));
        }
        if (lines == 2) {
            ck_assert_str_eq(jstr(j, "alert"), "p");
            ck_assert_str_eq(jstr(j, "state"), "inactive");
            ck_assert_str_eq(jstr(j, "from"), "pending");
            ck_assert(json_is_null(json_object_get(j, "value")));
        }
        json_decref(j);
        lines++;
    }
#else
    while (fgets(line, sizeof line, tmp))
        lines++;
#endif
    ck_assert_int_eq(lines, 3);
    fclose(tmp);
    fx_done(&f);
}
END_TEST

START_TEST(test_event_json)
{
    resil_alert_event ev = {.from = RESIL_ALERT_FIRING, .to = RESIL_ALERT_FIRING, .repeat = 1,
                            .seq = 42, .wall_ns = -1};
    snprintf(ev.alert.name, sizeof ev.alert.name, "x");
    snprintf(ev.alert.subject, sizeof ev.alert.subject, "x");
    ev.alert.state = RESIL_ALERT_FIRING;
    ev.alert.has_value = 1;
    ev.alert.value = INFINITY;
    char *out = (char *)1;
    size_t len = 9;
    ck_assert_rc(resil_alert_event_json(NULL, &out, &len), RESIL_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_rc(resil_alert_event_json(&ev, NULL, &len), RESIL_EINVAL);
#if RESIL_HAVE_JANSSON
    ck_assert_rc(resil_alert_event_json(&ev, &out, &len), 0);
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_ptr_null(strchr(out, '\n'));
    json_t *j = parse_line(out);
    ck_assert_str_eq(jstr(j, "time"), "1969-12-31T23:59:59.999Z");
    ck_assert(json_is_true(json_object_get(j, "repeat")));
    ck_assert(json_is_null(json_object_get(j, "value")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 42);
    ck_assert_int_eq(json_object_size(json_object_get(j, "labels")), 0);
    json_decref(j);
    resil_free(out);
    long live0 = tu_alloc_live();
    tu_alloc_fail_at(0);
    ck_assert_rc(resil_alert_event_json(&ev, &out, &len), RESIL_ENOMEM);
    tu_alloc_reset();
    ck_assert_ptr_null(out);
    ck_assert_int_eq(tu_alloc_live(), live0);
#else
    ck_assert_rc(resil_alert_event_json(&ev, &out, &len), RESIL_ENOTSUP);
#endif
}
END_TEST

START_TEST(test_render)
{
    struct fx f;
    fx_init(&f);
    add_labeled(&f, "a", "db", "ops", 0);
    add_sev(&f, "b", "db", RESIL_ALERT_CRITICAL, 0);
    resil_alert_silence s = {.subject = "web", .expires_ns = now_of(&f) + SEC,
                             .comment = "deploy"};
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, NULL), 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    char *out;
    size_t len;
    ck_assert_rc(resil_alerts_render(NULL, &out, &len), RESIL_EINVAL);
#if RESIL_HAVE_JANSSON
    ck_assert_rc(resil_alerts_render(f.a, &out, &len), 0);
    ck_assert_uint_eq(strlen(out), len);
    json_t *j = parse_line(out);
    json_t *act = json_object_get(j, "active"), *hist = json_object_get(j, "history"),
           *sil = json_object_get(j, "silences");
    ck_assert_int_eq(json_array_size(act), 2);
    ck_assert_str_eq(jstr(json_array_get(act, 0), "alert"), "b");
    ck_assert_str_eq(jstr(json_array_get(act, 0), "cmp"), ">");
    ck_assert(json_is_true(json_object_get(json_array_get(act, 1), "inhibited")));
    ck_assert_str_eq(jstr(json_object_get(json_array_get(act, 1), "labels"), "team"), "ops");
    ck_assert_int_eq(json_array_size(hist), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(hist, 1), "seq")), 2);
    ck_assert_int_eq(json_array_size(sil), 1);
    json_t *s0 = json_array_get(sil, 0);
    ck_assert(json_is_null(json_object_get(s0, "rule")));
    ck_assert_str_eq(jstr(s0, "subject"), "web");
    ck_assert_str_eq(jstr(s0, "comment"), "deploy");
    json_decref(j);
    resil_free(out);
    for (long n = 0;; n++) {
        tu_alloc_fail_at(n);
        int rc = resil_alerts_render(f.a, &out, &len);
        tu_alloc_reset();
        if (rc == 0) {
            resil_free(out);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_ptr_null(out);
    }
#else
    ck_assert_rc(resil_alerts_render(f.a, &out, &len), RESIL_ENOTSUP);
#endif
    fx_done(&f);
}
END_TEST

/* ---- sources ------------------------------------------------------------- */

static void add_src(struct fx *f, const char *name, resil_alert_source src, resil_alert_cmp cmp,
                    double threshold)
{
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = name;
    o.source = src;
    o.cmp = cmp;
    o.threshold = threshold;
    resil_error err;
    ck_assert_msg(resil_alerts_rule_add(f->a, &o, &err) == 0, "%s: %s", name, err.text);
}

static resil_metrics_counter *rate_counter(resil_metrics *m, const char *name, int64_t window)
{
    resil_metrics_family_opts fo;
    resil_metrics_family_opts_init(&fo);
    fo.name = name;
    fo.rate_window_ns = window;
    resil_metrics_family *fam;
    resil_metrics_counter *c;
    ck_assert_rc(resil_metrics_family_new(m, &fo, &fam), 0);
    ck_assert_rc(resil_metrics_counter_get(fam, NULL, &c), 0);
    return c;
}

START_TEST(test_metric_sources)
{
    struct fx f;
    fx_init(&f);
    resil_metrics_opts mo;
    resil_metrics_opts_init(&mo);
    mo.clock = f.clock;
    resil_metrics *m;
    ck_assert_rc(resil_metrics_new(&mo, &m), 0);
    resil_metrics_counter *total, *errs = rate_counter(m, "errs", 120 * SEC),
                                  *calls = rate_counter(m, "calls", 120 * SEC);
    resil_metrics_gauge *g;
    ck_assert_rc(resil_metrics_counter_new(m, "total", NULL, &total), 0);
    ck_assert_rc(resil_metrics_gauge_new(m, "temp", NULL, &g), 0);
    add_src(&f, "counter", (resil_alert_source){.type = RESIL_ALERT_SRC_COUNTER, .counter = total},
            RESIL_ALERT_GE, 3);
    add_src(&f, "gauge", (resil_alert_source){.type = RESIL_ALERT_SRC_GAUGE, .gauge = g},
            RESIL_ALERT_GT, 50);
    add_src(&f, "rate", (resil_alert_source){.type = RESIL_ALERT_SRC_RATE, .counter = errs,
                                             .window_ns = 60 * SEC},
            RESIL_ALERT_GT, 10);
    add_src(&f, "ratio", (resil_alert_source){.type = RESIL_ALERT_SRC_RATIO, .counter = errs,
                                              .denominator = calls, .min_events = 20},
            RESIL_ALERT_GE, 0.5);
    /* rates need a counter that keeps them, over a window it covers */
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = "bad";
    o.source = (resil_alert_source){.type = RESIL_ALERT_SRC_RATE, .counter = total};
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), RESIL_EINVAL);
    o.source = (resil_alert_source){.type = RESIL_ALERT_SRC_RATE, .counter = errs,
                                    .window_ns = 180 * SEC};
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), RESIL_EINVAL);
    o.source = (resil_alert_source){.type = RESIL_ALERT_SRC_RATIO, .counter = errs,
                                    .denominator = total};
    ck_assert_rc(resil_alerts_rule_add(f.a, &o, NULL), RESIL_EINVAL);

    resil_metrics_counter_add(total, 3);
    resil_metrics_gauge_set(g, 51);
    resil_metrics_counter_add(errs, 11);
    resil_metrics_counter_add(calls, 19);
    ck_assert_rc(resil_alerts_eval(f.a), 3);
    ck_assert(info_of(&f, "counter").value == 3);
    ck_assert(info_of(&f, "gauge").value == 51);
    resil_alert_info in = info_of(&f, "rate");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_double_eq_tol(in.value, 11, 1e-9);
    in = info_of(&f, "ratio");
    ck_assert_int_eq(in.has_value, 0); /* 19 calls < min_events */
    resil_metrics_counter_add(calls, 1);
    resil_metrics_gauge_set(g, NAN);
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    in = info_of(&f, "ratio");
    ck_assert_int_eq(in.state, RESIL_ALERT_FIRING);
    ck_assert_double_eq_tol(in.value, 0.55, 1e-9);
    in = info_of(&f, "gauge");
    ck_assert_int_eq(in.has_value, 0);
    ck_assert_int_eq(in.state, RESIL_ALERT_RESOLVED);
    /* the events age out of the 60 s window */
    adv(&f, 61 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert_int_eq(state_of(&f, "rate"), RESIL_ALERT_RESOLVED);
    in = info_of(&f, "ratio"); /* the default window is 60 s too */
    ck_assert_int_eq(in.state, RESIL_ALERT_RESOLVED);
    ck_assert_int_eq(in.has_value, 0);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_metrics_free(m);
    resil_clock_free(f.clock);
    resil_clock_free(f.wall);
    free(f.rec);
    ck_assert_int_eq(tu_alloc_live(), f.live0);
}
END_TEST

START_TEST(test_breaker_source)
{
    struct fx f;
    fx_init(&f);
    resil_breaker_opts bo;
    resil_breaker_opts_init(&bo);
    bo.name = "payments";
    bo.window_size = 10;
    bo.minimum_calls = 1;
    bo.open_base_ns = 10 * SEC;
    bo.open_jitter = 0;
    bo.clock = f.clock;
    resil_breaker *b;
    ck_assert_rc(resil_breaker_new(&bo, &b), 0);
    add_src(&f, "open", (resil_alert_source){.type = RESIL_ALERT_SRC_BREAKER, .breaker = b},
            RESIL_ALERT_EQ, 1);
    add_src(&f, "half", (resil_alert_source){.type = RESIL_ALERT_SRC_BREAKER, .breaker = b},
            RESIL_ALERT_EQ, 2);
    ck_assert_rc(resil_alerts_eval(f.a), 0);
    ck_assert(info_of(&f, "open").value == 0);
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_record(b, t, RESIL_OUTCOME_FAILURE, 0), 0);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "open"), RESIL_ALERT_FIRING);
    adv(&f, 10 * SEC);
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert_int_eq(state_of(&f, "open"), RESIL_ALERT_RESOLVED);
    ck_assert_int_eq(state_of(&f, "half"), RESIL_ALERT_FIRING);
    resil_breaker_reset(b);
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "half"), RESIL_ALERT_RESOLVED);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_breaker_free(b);
    resil_clock_free(f.clock);
    resil_clock_free(f.wall);
    free(f.rec);
    ck_assert_int_eq(tu_alloc_live(), f.live0);
}
END_TEST

struct hcheck {
    double value;
    resil_health_status status;
};

static int hcheck_fn(void *ctx, int64_t deadline, resil_health_result *r)
{
    struct hcheck *h = ctx;
    (void)deadline;
    r->status = h->status;
    r->observed_value = h->value;
    return 0;
}

static void health_run(resil_health *h, const char *name)
{
    ck_assert_rc(resil_health_run(h, name), 0);
    ck_assert_rc(resil_health_wait(h, name, 5 * SEC), 0);
}

START_TEST(test_health_source)
{
    struct fx f;
    fx_init(&f);
    resil_health_opts ho;
    resil_health_opts_init(&ho);
    ho.clock = f.clock;
    resil_health *h;
    ck_assert_rc(resil_health_new(&ho, &h), 0);
    struct hcheck hc = {.value = 250, .status = RESIL_HEALTH_WARN};
    resil_health_check_opts co;
    resil_health_check_opts_init(&co);
    co.name = "db:latency";
    co.fn = hcheck_fn;
    co.ctx = &hc;
    ck_assert_rc(resil_health_add(h, &co), 0);
    add_src(&f, "value", (resil_alert_source){.type = RESIL_ALERT_SRC_HEALTH, .health = h,
                                              .check = "db:latency"},
            RESIL_ALERT_GT, 200);
    add_src(&f, "status", (resil_alert_source){.type = RESIL_ALERT_SRC_HEALTH, .health = h,
                                               .check = "db:latency", .use_status = 1},
            RESIL_ALERT_GE, RESIL_HEALTH_WARN);
    add_src(&f, "missing", (resil_alert_source){.type = RESIL_ALERT_SRC_HEALTH, .health = h,
                                                .check = "no:such", .use_status = 1},
            RESIL_ALERT_GE, 0);
    ck_assert_rc(resil_alerts_eval(f.a), 0); /* never ran: no data */
    ck_assert_int_eq(info_of(&f, "status").has_value, 0);
    health_run(h, "db:latency");
    ck_assert_rc(resil_alerts_eval(f.a), 2);
    ck_assert(info_of(&f, "value").value == 250);
    ck_assert(info_of(&f, "status").value == RESIL_HEALTH_WARN);
    ck_assert_int_eq(info_of(&f, "missing").has_value, 0);
    hc.value = NAN; /* no observed value: no data; the status still reads */
    hc.status = RESIL_HEALTH_FAIL;
    health_run(h, "db:latency");
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    ck_assert_int_eq(state_of(&f, "value"), RESIL_ALERT_RESOLVED);
    ck_assert(info_of(&f, "status").value == RESIL_HEALTH_FAIL);
    resil_alerts_free(f.a);
    f.a = NULL;
    resil_health_free(h);
    resil_clock_free(f.clock);
    resil_clock_free(f.wall);
    free(f.rec);
    ck_assert_int_eq(tu_alloc_live(), f.live0);
}
END_TEST

/* ---- the thread ---------------------------------------------------------- */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired;
};

static void wake_fn(const resil_alert_event *ev, void *ctx)
{
    struct waiter *w = ctx;
    (void)ev;
    pthread_mutex_lock(&w->mu);
    w->fired++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

START_TEST(test_start_stop)
{
    struct fx f;
    fx_init(&f);
    struct waiter w = {.fired = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    ck_assert_rc(resil_alerts_notifier_add(f.a, wake_fn, &w, RESIL_ALERT_NOTIFY_FIRING, NULL), 0);
    add_rule(&f, "r", 0, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_start(f.a, MS - 1), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_start(NULL, MS), RESIL_EINVAL);
    ck_assert_rc(resil_alerts_stop(f.a), RESIL_ESTATE);
    ck_assert_rc(resil_alerts_start(f.a, MS), 0);
    ck_assert_rc(resil_alerts_start(f.a, MS), RESIL_ESTATE);
    /* the thread evaluates on its own: wait (bounded) for the firing */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&w.mu);
    while (w.fired == 0 && pthread_cond_timedwait(&w.cv, &w.mu, &until) == 0) {
    }
    int fired = w.fired;
    pthread_mutex_unlock(&w.mu);
    ck_assert_int_eq(fired, 1);
    ck_assert_rc(resil_alerts_stop(f.a), 0);
    ck_assert_rc(resil_alerts_stop(f.a), RESIL_ESTATE);
    ck_assert_rc(resil_alerts_stop(NULL), RESIL_EINVAL);
    /* a long interval: stop wakes the thread at once (else this hangs) */
    ck_assert_rc(resil_alerts_start(f.a, 3600 * SEC), 0);
    ck_assert_rc(resil_alerts_stop(f.a), 0);
    ck_assert_rc(resil_alerts_start(f.a, 3600 * SEC), 0); /* free stops it */
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    fx_done(&f);
}
END_TEST

/* ---- allocation failure -------------------------------------------------- */

START_TEST(test_alloc_new)
{
    long live0 = tu_alloc_live();
    for (long n = 0;; n++) {
        resil_alerts *a = (resil_alerts *)&n;
        tu_alloc_fail_at(n);
        int rc = resil_alerts_new(NULL, &a);
        tu_alloc_reset();
        if (rc == 0) {
            ck_assert_int_gt(n, 0);
            resil_alerts_free(a);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_ptr_null(a);
        ck_assert_int_eq(tu_alloc_live(), live0);
    }
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

START_TEST(test_alloc_rule_add)
{
    struct fx f;
    fx_init(&f);
    /* fill the rule table's first block so the add also has to grow it */
    for (int i = 0; i < 16; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        add_rule(&f, name, 0, 0, 0);
    }
    static const char *const names[] = {"team"};
    static const char *const values[] = {"ops"};
    resil_alert_rule_opts o = fn_opts(&f, "r", 0);
    o.label_names = names;
    o.label_values = values;
    o.nlabels = 1;
    o.summary = "{{labels.team}}: {{value}}";
    long n, live = tu_alloc_live();
    for (n = 0;; n++) {
        resil_error err;
        tu_alloc_fail_at(n);
        int rc = resil_alerts_rule_add(f.a, &o, &err);
        tu_alloc_reset();
        if (rc == 0)
            break;
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_int_eq(err.code, RESIL_ENOMEM);
        ck_assert_int_eq(tu_alloc_live(), live);
        resil_alert_info in;
        ck_assert_rc(resil_alerts_rule_get(f.a, "r", &in), RESIL_ENOENT);
    }
    ck_assert_int_ge(n, 3); /* rule, template, table */
    ck_assert_str_eq(info_of(&f, "r").summary, "ops: n/a");
    fx_done(&f);
}
END_TEST

/* Evaluation under allocation failure changes nothing and returns
 * RESIL_ENOMEM; the next successful one makes every transition. */
static void eval_until_ok(struct fx *f, int want, resil_alert_state before)
{
    size_t hist0 = history_len(f);
    int notified0 = f->rec->n;
    long n;
    for (n = 0;; n++) {
        tu_alloc_fail_at(n);
        int rc = resil_alerts_eval(f->a);
        tu_alloc_reset();
        if (rc >= 0) {
            ck_assert_int_eq(rc, want);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_int_eq(state_of(f, "a"), before);
        ck_assert_int_eq(state_of(f, "b"), before);
        ck_assert_uint_eq(history_len(f), hist0);
        ck_assert_int_eq(f->rec->n, notified0);
    }
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(history_len(f), hist0 + (size_t)want);
    ck_assert_int_eq(f->rec->n, notified0 + want);
}

START_TEST(test_alloc_eval)
{
    struct fx f;
    fx_init(&f);
    listen(&f, RESIL_ALERT_NOTIFY_ALL);
    add_rule(&f, "a", 0, 0, 0);
    add_rule(&f, "b", 0, 0, 0);
    f.src[0].v = HI;
    eval_until_ok(&f, 2, RESIL_ALERT_INACTIVE);
    ck_assert_int_eq(state_of(&f, "a"), RESIL_ALERT_FIRING);
    int64_t last = info_of(&f, "a").last_eval_ns;
    for (int i = 0; i < 20; i++) { /* more rules: the snapshot must grow */
        char name[32];
        snprintf(name, sizeof name, "x%d", i);
        add_rule(&f, name, 1, 0, 0);
    }
    adv(&f, SEC);
    f.src[0].v = LO;
    eval_until_ok(&f, 2, RESIL_ALERT_FIRING);
    ck_assert_int_eq(state_of(&f, "a"), RESIL_ALERT_RESOLVED);
    ck_assert_int_eq(info_of(&f, "a").last_eval_ns, last + SEC);
    fx_done(&f);
}
END_TEST

START_TEST(test_alloc_listings)
{
    struct fx f;
    fx_init(&f);
    add_rule(&f, "a", 0, 0, 0);
    f.src[0].v = HI;
    ck_assert_rc(resil_alerts_eval(f.a), 1);
    resil_alert_silence s = {.rule = "a", .expires_ns = now_of(&f) + SEC};
    tu_alloc_fail_at(0);
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, NULL), RESIL_ENOMEM);
    tu_alloc_reset();
    ck_assert_rc(resil_alerts_silence_add(f.a, &s, NULL), 0);
    resil_alert_info *act = (void *)1;
    resil_alert_event *h = (void *)1;
    resil_alert_silence_info *si = (void *)1;
    size_t n = 7;
    tu_alloc_fail_at(0);
    ck_assert_rc(resil_alerts_active(f.a, &act, &n), RESIL_ENOMEM);
    ck_assert_ptr_null(act);
    ck_assert_uint_eq(n, 0);
    ck_assert_rc(resil_alerts_history(f.a, &h, &n), RESIL_ENOMEM);
    ck_assert_ptr_null(h);
    ck_assert_rc(resil_alerts_silences(f.a, &si, &n), RESIL_ENOMEM);
    ck_assert_ptr_null(si);
    ck_assert_rc(resil_alerts_notifier_add(f.a, rec_fn, f.rec, 1, NULL), RESIL_ENOMEM);
    tu_alloc_reset();
    fx_done(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alert");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_opts_and_new);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_for_edge);
    tcase_add_test(tc, test_pending_interrupted);
    tcase_add_test(tc, test_for_zero_and_resolve);
    tcase_add_test(tc, test_resolved_to_pending);
    tcase_add_test(tc, test_keep_firing);
    tcase_add_test(tc, test_no_data);
    tcase_add_test(tc, test_comparisons);
    tcase_add_test(tc, test_notifier_masks);
    tcase_add_test(tc, test_repeat_interval);
    tcase_add_test(tc, test_engine_repeat_default);
    tcase_add_test(tc, test_silence_matchers);
    tcase_add_test(tc, test_silence_args);
    tcase_add_test(tc, test_inhibition);
    tcase_add_test(tc, test_history_bound);
    tcase_add_test(tc, test_history_grows);
    tcase_add_test(tc, test_active_order);
    tcase_add_test(tc, test_remove_active);
    tcase_add_test(tc, test_template_render);
    tcase_add_test(tc, test_template_cut_utf8);
    tcase_add_test(tc, test_template_errors);
    tcase_add_test(tc, test_rule_add_einval);
    tcase_add_test(tc, test_rule_add_eexist_efull);
    tcase_add_test(tc, test_reentrant_notifier);
    tcase_add_test(tc, test_notifier_removes_itself);
    tcase_add_test(tc, test_notifier_remove_other_thread);
    tcase_add_test(tc, test_source_removes_rule);
    tcase_add_test(tc, test_log_notifier);
    tcase_add_test(tc, test_event_json);
    tcase_add_test(tc, test_render);
    tcase_add_test(tc, test_metric_sources);
    tcase_add_test(tc, test_breaker_source);
    tcase_add_test(tc, test_health_source);
    tcase_add_test(tc, test_start_stop);
    tcase_add_test(tc, test_alloc_new);
    tcase_add_test(tc, test_alloc_rule_add);
    tcase_add_test(tc, test_alloc_eval);
    tcase_add_test(tc, test_alloc_listings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
