/* Evaluation: read every rule's source, step its state machine, record
 * the transitions, deliver the notifications.
 *
 * An evaluation runs in four phases:
 *   1. snapshot (mu): the rules, each with a reference;
 *   2. read (no mu): each rule's source, marked `reading` meanwhile;
 *   3. commit (mu): plan every rule's next state, inhibition and silences,
 *      reserve the memory the results need (history, events to deliver),
 *      and only then apply them.  Running out of memory returns
 *      RESIL_ENOMEM before anything changed: the next evaluation starts
 *      from the same states, so no transition is lost or half-made;
 *   4. deliver (deliver_mu, taken before eval_mu is let go so deliveries
 *      keep commit order): each event to each notifier that asked for it.
 */
#include "alert_internal.h"

#include <math.h>
#include <string.h>

/* ---- sources ------------------------------------------------------------- */

static bool read_health(const resil_alert_source *s, double *v)
{
    resil_health_check_info ci;
    if (resil_health_check_get(s->health, s->check, &ci) != 0 || ci.runs == 0)
        return false;
    *v = s->use_status ? (double)ci.status : ci.observed_value;
    return true;
}

static bool read_rate(resil_metrics_counter *c, int64_t window, uint64_t *events,
                      double *per_min)
{
    resil_metrics_rate r;
    if (resil_metrics_counter_rate(c, window, &r) != 0)
        return false;
    *events = r.events;
    *per_min = r.per_min;
    return true;
}

static bool read_ratio(const resil_alert_source *s, double *v)
{
    uint64_t num, den;
    double unused;
    if (!read_rate(s->counter, s->window_ns, &num, &unused) ||
        !read_rate(s->denominator, s->window_ns, &den, &unused) || den < s->min_events)
        return false;
    *v = (double)num / (double)den;
    return true;
}

/* The source's value; false: no data. */
static bool read_source(const resil_alert_source *s, double *v)
{
    uint64_t events;
    bool ok = false;
    switch (s->type) {
    case RESIL_ALERT_SRC_COUNTER:
        *v = (double)resil_metrics_counter_value(s->counter);
        ok = true;
        break;
    case RESIL_ALERT_SRC_GAUGE:
        *v = resil_metrics_gauge_value(s->gauge);
        ok = true;
        break;
    case RESIL_ALERT_SRC_RATE:
        ok = read_rate(s->counter, s->window_ns, &events, v);
        break;
    case RESIL_ALERT_SRC_RATIO:
        ok = read_ratio(s, v);
        break;
    case RESIL_ALERT_SRC_BREAKER:
        *v = (double)resil_breaker_state_get(s->breaker);
        ok = true;
        break;
    case RESIL_ALERT_SRC_HEALTH:
        ok = read_health(s, v);
        break;
    case RESIL_ALERT_SRC_FN:
        ok = s->fn(s->ctx, v) == 0;
        break;
    }
    return ok && !isnan(*v);
}

static bool compare(resil_alert_cmp cmp, double v, double t)
{
    switch (cmp) {
    case RESIL_ALERT_GT:
        return v > t;
    case RESIL_ALERT_GE:
        return v >= t;
    case RESIL_ALERT_LT:
        return v < t;
    case RESIL_ALERT_LE:
        return v <= t;
    case RESIL_ALERT_EQ:
        return v == t;
    case RESIL_ALERT_NE:
        return v != t;
    }
    return false;
}

/* ---- phases 1 and 2 ------------------------------------------------------ */

static int snapshot(resil_alerts *a, size_t *n)
{
    pthread_mutex_lock(&a->mu);
    if (a->nrules > a->capsnap) {
        al_rule **p = resil__realloc(a->snap, a->caprules * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&a->mu);
            return RESIL_ENOMEM;
        }
        a->snap = p;
        a->capsnap = a->caprules;
    }
    for (size_t i = 0; i < a->nrules; i++) {
        a->snap[i] = a->rules[i];
        a->rules[i]->refs++;
    }
    *n = a->nrules;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

static void read_all(resil_alerts *a, size_t n)
{
    pthread_t self = pthread_self();
    for (size_t i = 0; i < n; i++) {
        al_rule *r = a->snap[i];
        pthread_mutex_lock(&a->mu);
        r->read_ok = false;
        if (r->removed) {
            pthread_mutex_unlock(&a->mu);
            continue;
        }
        r->reading = true;
        r->reader = self;
        pthread_mutex_unlock(&a->mu);
        double v = 0;
        bool ok = read_source(&r->src, &v);
        pthread_mutex_lock(&a->mu);
        r->reading = false;
        r->read_ok = ok;
        r->read_value = ok ? v : 0;
        pthread_cond_broadcast(&a->read_cv);
        pthread_mutex_unlock(&a->mu);
    }
}

/* ---- the state machine --------------------------------------------------- */

static void fire(al_next *nx, int64_t now)
{
    nx->state = RESIL_ALERT_FIRING;
    nx->fired_at = now;
    nx->last_notify = now;
    nx->falling = false;
    nx->event = true;
}

static void step_firing(const al_rule *r, bool cond, int64_t now, al_next *nx)
{
    if (cond) {
        nx->falling = false;
    } else {
        if (!nx->falling) {
            nx->falling = true;
            nx->false_since = now;
        }
        if (now - nx->false_since >= r->keep_ns) {
            nx->state = RESIL_ALERT_RESOLVED;
            nx->resolved_at = now;
            nx->active_since = 0;
            nx->falling = false;
            nx->event = true;
            return;
        }
    }
    if (r->repeat_ns > 0 && now - nx->last_notify >= r->repeat_ns) {
        nx->last_notify = now;
        nx->event = true;
        nx->repeat = true;
    }
}

/* The rule's next state at now; changes nothing in r. */
static void step(const al_rule *r, int64_t now, al_next *nx)
{
    const resil_alert_info *in = &r->info;
    bool cond = r->read_ok && compare(in->cmp, r->read_value, in->threshold);
    *nx = (al_next){
        .valid = true,
        .state = in->state,
        .active_since = in->active_since_ns,
        .fired_at = in->fired_at_ns,
        .resolved_at = in->resolved_at_ns,
        .false_since = r->false_since,
        .falling = r->falling,
        .last_notify = r->last_notify,
    };
    switch (in->state) {
    case RESIL_ALERT_INACTIVE:
    case RESIL_ALERT_RESOLVED:
        if (!cond)
            return;
        nx->active_since = now;
        if (r->for_ns == 0) {
            fire(nx, now);
            return;
        }
        nx->state = RESIL_ALERT_PENDING;
        nx->event = true;
        return;
    case RESIL_ALERT_PENDING:
        if (!cond) {
            nx->state = RESIL_ALERT_INACTIVE;
            nx->active_since = 0;
            nx->event = true;
        } else if (now - in->active_since_ns >= r->for_ns) {
            fire(nx, now);
        }
        return;
    case RESIL_ALERT_FIRING:
        step_firing(r, cond, now, nx);
        return;
    }
}

/* ---- phase 3: commit ----------------------------------------------------- */

typedef struct al_batch {
    resil_alert_event *evs; /* to deliver */
    size_t nevs;
    int transitions;
} al_batch;

static resil_alert_state next_state(const al_rule *r)
{
    return r->nx.valid ? r->nx.state : r->info.state;
}

static bool subject_fires(const al_rule *crit, const char *subject)
{
    for (; crit; crit = crit->crit_next) {
        if (strcmp(crit->info.subject, subject) == 0)
            return true;
    }
    return false;
}

/* Inhibition over the states after this evaluation, for every rule (rules
 * added meanwhile included: their state stands). */
static void plan_inhibition(resil_alerts *a)
{
    al_rule *crit = NULL;
    for (size_t i = 0; i < a->nrules; i++) {
        al_rule *r = a->rules[i];
        if (r->info.severity == RESIL_ALERT_CRITICAL && next_state(r) == RESIL_ALERT_FIRING) {
            r->crit_next = crit;
            crit = r;
        }
    }
    for (size_t i = 0; i < a->nrules; i++) {
        al_rule *r = a->rules[i];
        r->nx.inhibited = r->info.severity < RESIL_ALERT_CRITICAL &&
                          subject_fires(crit, r->info.subject);
    }
}

static void plan(resil_alerts *a, size_t n, int64_t now, size_t *ntrans, size_t *ndeliver)
{
    for (size_t i = 0; i < n; i++) {
        if (!a->snap[i]->removed)
            step(a->snap[i], now, &a->snap[i]->nx);
    }
    plan_inhibition(a);
    *ntrans = *ndeliver = 0;
    for (size_t i = 0; i < n; i++) {
        al_next *nx = &a->snap[i]->nx;
        if (!nx->valid)
            continue;
        nx->silenced = resil__al_silenced(a, &a->snap[i]->info, now);
        if (!nx->event)
            continue;
        *ntrans += !nx->repeat;
        *ndeliver += !nx->inhibited && !nx->silenced;
    }
}

static int reserve(resil_alerts *a, size_t ntrans, size_t ndeliver, al_batch *b)
{
    size_t need = a->hist_count + ntrans;
    if (need > a->hist_max)
        need = a->hist_max;
    if (need > a->hist_cap) {
        /* Still growing, so the ring has not wrapped: hist[0..count) is in
         * order and realloc keeps it. */
        size_t cap = a->hist_cap * 2 > need ? a->hist_cap * 2 : need;
        cap = cap < 16 ? 16 : cap;
        cap = cap > a->hist_max ? a->hist_max : cap;
        resil_alert_event *p = resil__realloc(a->hist, cap * sizeof *p);
        if (!p)
            return RESIL_ENOMEM;
        a->hist = p;
        a->hist_cap = cap;
    }
    if (ndeliver && a->nnotif) {
        b->evs = resil__malloc(ndeliver * sizeof *b->evs);
        if (!b->evs)
            return RESIL_ENOMEM;
    }
    return 0;
}

static void hist_push(resil_alerts *a, const resil_alert_event *ev)
{
    if (a->hist_count < a->hist_cap) {
        a->hist[(a->hist_start + a->hist_count) % a->hist_cap] = *ev;
        a->hist_count++;
        return;
    }
    a->hist[a->hist_start] = *ev; /* full at hist_max: the oldest goes */
    a->hist_start = (a->hist_start + 1) % a->hist_cap;
}

static void apply_rule(resil_alerts *a, al_rule *r, int64_t now, int64_t wall, al_batch *b)
{
    const al_next *nx = &r->nx;
    resil_alert_info *in = &r->info;
    resil_alert_state from = in->state;
    in->state = nx->state;
    in->active_since_ns = nx->active_since;
    in->fired_at_ns = nx->fired_at;
    in->resolved_at_ns = nx->resolved_at;
    in->last_eval_ns = now;
    in->has_value = r->read_ok;
    in->value = r->read_value;
    in->inhibited = nx->inhibited;
    in->silenced = nx->silenced;
    r->falling = nx->falling;
    r->false_since = nx->false_since;
    r->last_notify = nx->last_notify;
    resil__al_tmpl_render(r->tmpl, in);
    if (!nx->event)
        return;
    resil_alert_event ev = {
        .alert = *in,
        .from = from,
        .to = in->state,
        .repeat = nx->repeat,
        .at_ns = now,
        .wall_ns = wall,
        .seq = ++a->seq,
    };
    if (!nx->repeat) {
        hist_push(a, &ev);
        b->transitions++;
    }
    if (b->evs && !nx->inhibited && !nx->silenced)
        b->evs[b->nevs++] = ev;
}

static int commit(resil_alerts *a, size_t n, int64_t now, int64_t wall, al_batch *b)
{
    pthread_mutex_lock(&a->mu);
    size_t ntrans, ndeliver;
    plan(a, n, now, &ntrans, &ndeliver);
    int rc = reserve(a, ntrans, ndeliver, b);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            if (a->snap[i]->nx.valid)
                apply_rule(a, a->snap[i], now, wall, b);
        }
        for (size_t i = 0; i < a->nrules; i++)
            a->rules[i]->info.inhibited = a->rules[i]->nx.inhibited;
        resil__al_silences_expire(a, now);
    }
    for (size_t i = 0; i < n; i++) {
        a->snap[i]->nx.valid = false;
        resil__al_rule_unref(a->snap[i]);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* ---- phase 4: delivery --------------------------------------------------- */

unsigned resil__al_event_bit(const resil_alert_event *ev)
{
    if (ev->repeat)
        return RESIL_ALERT_NOTIFY_REPEAT;
    switch (ev->to) {
    case RESIL_ALERT_PENDING:
        return RESIL_ALERT_NOTIFY_PENDING;
    case RESIL_ALERT_FIRING:
        return RESIL_ALERT_NOTIFY_FIRING;
    case RESIL_ALERT_RESOLVED:
        return RESIL_ALERT_NOTIFY_RESOLVED;
    case RESIL_ALERT_INACTIVE:
        return RESIL_ALERT_NOTIFY_INACTIVE;
    }
    return 0;
}

/* The first notifier after id `after` that wants bit (mu held). */
static const al_notifier *next_notifier(const resil_alerts *a, uint64_t after, unsigned bit)
{
    for (size_t i = 0; i < a->nnotif; i++) {
        if (a->notifiers[i].id > after && (a->notifiers[i].mask & bit))
            return &a->notifiers[i];
    }
    return NULL;
}

/* deliver_mu held.  Notifiers are looked up one call at a time, so one
 * removed (or added) by a notifier takes effect at once. */
static void deliver(resil_alerts *a, const al_batch *b)
{
    pthread_mutex_lock(&a->mu);
    a->delivering = true;
    a->deliverer = pthread_self();
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < b->nevs; i++) {
        unsigned bit = resil__al_event_bit(&b->evs[i]);
        uint64_t last = 0;
        for (;;) {
            pthread_mutex_lock(&a->mu);
            const al_notifier *nt = next_notifier(a, last, bit);
            al_notifier call = nt ? *nt : (al_notifier){0};
            pthread_mutex_unlock(&a->mu);
            if (!nt)
                break;
            call.fn(&b->evs[i], call.ctx);
            last = call.id;
        }
    }
    pthread_mutex_lock(&a->mu);
    a->delivering = false;
    pthread_mutex_unlock(&a->mu);
}

int resil_alerts_eval(resil_alerts *a)
{
    if (!a)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->eval_mu);
    int64_t now = resil_clock_now(a->clock);
    int64_t wall = resil_clock_now(a->wall);
    size_t n;
    int rc = snapshot(a, &n);
    if (rc != 0) {
        pthread_mutex_unlock(&a->eval_mu);
        return rc;
    }
    read_all(a, n);
    al_batch b = {0};
    rc = commit(a, n, now, wall, &b);
    if (b.nevs == 0) {
        pthread_mutex_unlock(&a->eval_mu);
        resil__free(b.evs);
        return rc != 0 ? rc : b.transitions;
    }
    pthread_mutex_lock(&a->deliver_mu);
    pthread_mutex_unlock(&a->eval_mu);
    deliver(a, &b);
    pthread_mutex_unlock(&a->deliver_mu);
    resil__free(b.evs);
    return b.transitions;
}
