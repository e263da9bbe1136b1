/* The alerting engine: rules, notifiers, listings, the evaluation thread.
 * Evaluation itself is in alert_eval.c; locking is described in
 * alert_internal.h. */
#include "alert_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers ------------------------------------------------------- */

int resil__al_fail(resil_error *err, int code, int column, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->line = column > 0 ? 1 : 0;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return code;
}

static void err_clear(resil_error *err)
{
    if (err)
        *err = (resil_error){0};
}

bool resil__al_name_ok(const char *s, size_t max)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok || n + 1 >= max)
            return false;
    }
    return true;
}

bool resil__al_label_name_ok(const char *s, size_t max)
{
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t n = 0; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '_';
        if (!ok || n + 1 >= max)
            return false;
    }
    return true;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, surrogates or code points past U+10FFFF (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0x01 && c < 0x80)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4                          ? 4
                                                                   : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
        (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

size_t resil__al_utf8_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            break;
        i += k;
    }
    return i;
}

bool resil__al_utf8_ok(const char *s, size_t n)
{
    return resil__al_utf8_prefix(s, n) == n;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* ---- the engine ---------------------------------------------------------- */

void resil_alerts_opts_init(resil_alerts_opts *o)
{
    if (!o)
        return;
    *o = (resil_alerts_opts){
        .history_len = 256,
        .repeat_interval_ns = 4 * 3600 * RESIL_NS_PER_SEC,
    };
}

/* The thread's condition variable waits on CLOCK_MONOTONIC so a change of
 * the wall clock neither stalls nor hurries the evaluations. */
static int thr_cv_init(pthread_cond_t *cv)
{
    return resil__cond_init_monotonic(cv) == 0 ? 0 : RESIL_ESYS;
}

static int sync_init(resil_alerts *a)
{
    if (pthread_mutex_init(&a->mu, NULL) != 0)
        return RESIL_ESYS;
    if (pthread_mutex_init(&a->eval_mu, NULL) != 0)
        goto out_mu;
    if (pthread_mutex_init(&a->deliver_mu, NULL) != 0)
        goto out_eval_mu;
    if (pthread_mutex_init(&a->thr_mu, NULL) != 0)
        goto out_deliver_mu;
    if (pthread_cond_init(&a->read_cv, NULL) != 0)
        goto out_thr_mu;
    if (thr_cv_init(&a->thr_cv) != 0)
        goto out_read_cv;
    return 0;
out_read_cv:
    pthread_cond_destroy(&a->read_cv);
out_thr_mu:
    pthread_mutex_destroy(&a->thr_mu);
out_deliver_mu:
    pthread_mutex_destroy(&a->deliver_mu);
out_eval_mu:
    pthread_mutex_destroy(&a->eval_mu);
out_mu:
    pthread_mutex_destroy(&a->mu);
    return RESIL_ESYS;
}

static void sync_destroy(resil_alerts *a)
{
    pthread_cond_destroy(&a->thr_cv);
    pthread_cond_destroy(&a->read_cv);
    pthread_mutex_destroy(&a->thr_mu);
    pthread_mutex_destroy(&a->deliver_mu);
    pthread_mutex_destroy(&a->eval_mu);
    pthread_mutex_destroy(&a->mu);
}

int resil_alerts_new(const resil_alerts_opts *o, resil_alerts **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    resil_alerts_opts d;
    if (!o) {
        resil_alerts_opts_init(&d);
        o = &d;
    }
    if (o->history_len < 1 || o->history_len > 1000000 || o->repeat_interval_ns <= 0)
        return RESIL_EINVAL;
    resil_alerts *a = resil__calloc(1, sizeof *a);
    if (!a)
        return RESIL_ENOMEM;
    int rc = sync_init(a);
    if (rc != 0) {
        resil__free(a);
        return rc;
    }
    a->clock = o->clock ? o->clock : resil_clock_monotonic();
    a->wall = o->wall_clock ? o->wall_clock : resil_clock_realtime();
    a->repeat_ns = o->repeat_interval_ns;
    a->hist_max = o->history_len;
    *out = a;
    return 0;
}

static void rule_free(al_rule *r)
{
    resil__al_tmpl_free(r->tmpl);
    resil__free(r);
}

void resil__al_rule_unref(al_rule *r)
{
    if (--r->refs == 0)
        rule_free(r);
}

static int thread_stop(resil_alerts *a);

void resil_alerts_free(resil_alerts *a)
{
    if (!a)
        return;
    (void)thread_stop(a);
    for (size_t i = 0; i < a->nrules; i++)
        rule_free(a->rules[i]);
    resil__free(a->rules);
    resil__free(a->snap);
    resil__free(a->notifiers);
    resil__free(a->silences);
    resil__free(a->hist);
    sync_destroy(a);
    resil__free(a);
}

/* ---- rules --------------------------------------------------------------- */

void resil_alert_rule_opts_init(resil_alert_rule_opts *o)
{
    if (!o)
        return;
    *o = (resil_alert_rule_opts){
        .severity = RESIL_ALERT_WARNING,
        .cmp = RESIL_ALERT_GT,
        .source = {.window_ns = 60 * RESIL_NS_PER_SEC, .min_events = 1},
    };
}

/* Index of name in the sorted rules, or where it would go (*found false). */
static size_t rule_find(const resil_alerts *a, const char *name, bool *found)
{
    size_t lo = 0, hi = a->nrules;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->rules[mid]->info.name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int check_labels(const resil_alert_rule_opts *o, resil_error *err)
{
    if (o->nlabels > RESIL_ALERT_MAX_LABELS)
        return resil__al_fail(err, RESIL_EINVAL, 0, "%zu labels: at most %d", o->nlabels,
                              RESIL_ALERT_MAX_LABELS);
    if (o->nlabels && (!o->label_names || !o->label_values))
        return resil__al_fail(err, RESIL_EINVAL, 0, "nlabels is set but names or values are NULL");
    for (size_t i = 0; i < o->nlabels; i++) {
        const char *n = o->label_names[i], *v = o->label_values[i];
        if (!resil__al_label_name_ok(n, RESIL_ALERT_MAX_LABEL_NAME))
            return resil__al_fail(err, RESIL_EINVAL, 0,
                                  "label %zu: name must match [A-Za-z_][A-Za-z0-9_]* and be "
                                  "shorter than %d bytes", i, RESIL_ALERT_MAX_LABEL_NAME);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->label_names[j], n) == 0)
                return resil__al_fail(err, RESIL_EINVAL, 0, "label \"%s\" given twice", n);
        }
        if (!v || strlen(v) >= RESIL_ALERT_MAX_LABEL_VALUE || !resil__al_utf8_ok(v, strlen(v)))
            return resil__al_fail(err, RESIL_EINVAL, 0,
                                  "label \"%s\": value must be UTF-8 shorter than %d bytes", n,
                                  RESIL_ALERT_MAX_LABEL_VALUE);
    }
    return 0;
}

/* A counter with rates over at least window: probing reads the rate once. */
static bool rate_ok(resil_metrics_counter *c, int64_t window)
{
    resil_metrics_rate r;
    return c && resil_metrics_counter_rate(c, window, &r) == 0;
}

static int check_source(const resil_alert_source *s, resil_error *err)
{
    int64_t w = s->window_ns ? s->window_ns : 60 * RESIL_NS_PER_SEC;
    switch (s->type) {
    case RESIL_ALERT_SRC_COUNTER:
        return s->counter ? 0 : resil__al_fail(err, RESIL_EINVAL, 0, "COUNTER source without a counter");
    case RESIL_ALERT_SRC_GAUGE:
        return s->gauge ? 0 : resil__al_fail(err, RESIL_EINVAL, 0, "GAUGE source without a gauge");
    case RESIL_ALERT_SRC_RATE:
    case RESIL_ALERT_SRC_RATIO:
        if (w < 0 || !rate_ok(s->counter, w) ||
            (s->type == RESIL_ALERT_SRC_RATIO && !rate_ok(s->denominator, w)))
            return resil__al_fail(err, RESIL_EINVAL, 0,
                                  "RATE/RATIO source needs counters with rates over a window "
                                  "of at least %lld ns", (long long)w);
        return 0;
    case RESIL_ALERT_SRC_BREAKER:
        return s->breaker ? 0 : resil__al_fail(err, RESIL_EINVAL, 0, "BREAKER source without a breaker");
    case RESIL_ALERT_SRC_HEALTH:
        if (!s->health || !s->check || !*s->check || strlen(s->check) >= RESIL_HEALTH_MAX_NAME)
            return resil__al_fail(err, RESIL_EINVAL, 0,
                                  "HEALTH source needs a registry and a check name");
        return 0;
    case RESIL_ALERT_SRC_FN:
        return s->fn ? 0 : resil__al_fail(err, RESIL_EINVAL, 0, "FN source without a function");
    }
    return resil__al_fail(err, RESIL_EINVAL, 0, "unknown source type %d", (int)s->type);
}

static int check_rule(const resil_alert_rule_opts *o, resil_error *err)
{
    if (!resil__al_name_ok(o->name, RESIL_ALERT_MAX_NAME))
        return resil__al_fail(err, RESIL_EINVAL, 0,
                              "rule name must match [A-Za-z0-9_.:-]+ and be shorter than %d "
                              "bytes", RESIL_ALERT_MAX_NAME);
    if (o->subject && !resil__al_name_ok(o->subject, RESIL_ALERT_MAX_NAME))
        return resil__al_fail(err, RESIL_EINVAL, 0,
                              "rule %s: subject must match [A-Za-z0-9_.:-]+ and be shorter "
                              "than %d bytes", o->name, RESIL_ALERT_MAX_NAME);
    if ((unsigned)o->severity > RESIL_ALERT_CRITICAL || (unsigned)o->cmp > RESIL_ALERT_NE)
        return resil__al_fail(err, RESIL_EINVAL, 0, "rule %s: bad severity or comparison", o->name);
    if (!isfinite(o->threshold))
        return resil__al_fail(err, RESIL_EINVAL, 0, "rule %s: threshold is not finite", o->name);
    if (o->for_ns < 0 || o->keep_firing_for_ns < 0)
        return resil__al_fail(err, RESIL_EINVAL, 0,
                              "rule %s: for_ns and keep_firing_for_ns must be >= 0", o->name);
    int rc = check_labels(o, err);
    return rc ? rc : check_source(&o->source, err);
}

static void rule_fill(resil_alerts *a, const resil_alert_rule_opts *o, al_rule *r)
{
    resil_alert_info *in = &r->info;
    copy_str(in->name, sizeof in->name, o->name);
    copy_str(in->subject, sizeof in->subject, o->subject ? o->subject : o->name);
    in->severity = o->severity;
    in->cmp = o->cmp;
    in->threshold = o->threshold;
    in->state = RESIL_ALERT_INACTIVE;
    for (size_t i = 0; i < o->nlabels; i++) {
        copy_str(in->labels[i].name, sizeof in->labels[i].name, o->label_names[i]);
        copy_str(in->labels[i].value, sizeof in->labels[i].value, o->label_values[i]);
    }
    in->nlabels = o->nlabels;
    r->src = o->source;
    if (r->src.window_ns == 0)
        r->src.window_ns = 60 * RESIL_NS_PER_SEC;
    if (r->src.min_events == 0)
        r->src.min_events = 1;
    if (r->src.type == RESIL_ALERT_SRC_HEALTH) {
        copy_str(r->check, sizeof r->check, o->source.check);
        r->src.check = r->check;
    } else {
        r->src.check = NULL;
    }
    r->for_ns = o->for_ns;
    r->keep_ns = o->keep_firing_for_ns;
    r->repeat_ns = o->repeat_interval_ns == 0  ? a->repeat_ns
                   : o->repeat_interval_ns < 0 ? -1
                                               : o->repeat_interval_ns;
    r->refs = 1;
}

static const char k_default_summary[] = "{{name}}: value {{value}} (threshold {{threshold}})";

static int rule_build(resil_alerts *a, const resil_alert_rule_opts *o, al_rule **out,
                      resil_error *err)
{
    int rc = check_rule(o, err);
    if (rc != 0)
        return rc;
    al_rule *r = resil__calloc(1, sizeof *r);
    if (!r)
        return resil__al_fail(err, RESIL_ENOMEM, 0, "out of memory");
    rule_fill(a, o, r);
    rc = resil__al_tmpl_parse(o->summary ? o->summary : k_default_summary, r->info.labels,
                              r->info.nlabels, &r->tmpl, err);
    if (rc != 0) {
        resil__free(r);
        return rc;
    }
    resil__al_tmpl_render(r->tmpl, &r->info);
    *out = r;
    return 0;
}

static int rule_insert(resil_alerts *a, al_rule *r, resil_error *err)
{
    bool found;
    size_t at = rule_find(a, r->info.name, &found);
    if (found)
        return resil__al_fail(err, RESIL_EEXIST, 0, "rule %s exists", r->info.name);
    if (a->nrules >= RESIL_ALERT_MAX_RULES)
        return resil__al_fail(err, RESIL_EFULL, 0, "an engine holds at most %d rules",
                              RESIL_ALERT_MAX_RULES);
    if (a->nrules == a->caprules) {
        size_t cap = a->caprules ? a->caprules * 2 : 16;
        al_rule **p = resil__realloc(a->rules, cap * sizeof *p);
        if (!p)
            return resil__al_fail(err, RESIL_ENOMEM, 0, "out of memory");
        a->rules = p;
        a->caprules = cap;
    }
    memmove(&a->rules[at + 1], &a->rules[at], (a->nrules - at) * sizeof *a->rules);
    a->rules[at] = r;
    a->nrules++;
    return 0;
}

int resil_alerts_rule_add(resil_alerts *a, const resil_alert_rule_opts *o, resil_error *err)
{
    err_clear(err);
    if (!a || !o)
        return resil__al_fail(err, RESIL_EINVAL, 0, "engine and options are required");
    al_rule *r = NULL;
    int rc = rule_build(a, o, &r, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&a->mu);
    rc = rule_insert(a, r, err);
    pthread_mutex_unlock(&a->mu);
    if (rc != 0)
        rule_free(r);
    return rc;
}

int resil_alerts_rule_remove(resil_alerts *a, const char *name)
{
    if (!a || !name)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    bool found;
    size_t at = rule_find(a, name, &found);
    if (!found) {
        pthread_mutex_unlock(&a->mu);
        return RESIL_ENOENT;
    }
    al_rule *r = a->rules[at];
    memmove(&a->rules[at], &a->rules[at + 1], (a->nrules - at - 1) * sizeof *a->rules);
    a->nrules--;
    r->removed = true;
    /* The caller may free the source once we return: wait out a read in
     * progress, unless it is this thread's own (a FN source removing its
     * rule), which would wait for itself. */
    pthread_t self = pthread_self();
    while (r->reading && !pthread_equal(r->reader, self))
        pthread_cond_wait(&a->read_cv, &a->mu);
    resil__al_rule_unref(r);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

void resil__al_info_get(resil_alerts *a, const al_rule *r, int64_t now, resil_alert_info *info)
{
    *info = r->info;
    info->silenced = resil__al_silenced(a, &r->info, now);
}

int resil_alerts_rule_get(resil_alerts *a, const char *name, resil_alert_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!a || !name || !info)
        return RESIL_EINVAL;
    int64_t now = resil_clock_now(a->clock);
    pthread_mutex_lock(&a->mu);
    bool found;
    size_t at = rule_find(a, name, &found);
    if (found)
        resil__al_info_get(a, a->rules[at], now, info);
    pthread_mutex_unlock(&a->mu);
    return found ? 0 : RESIL_ENOENT;
}

/* ---- notifiers ----------------------------------------------------------- */

int resil_alerts_notifier_add(resil_alerts *a, resil_alert_notify_fn fn, void *ctx,
                              unsigned events, uint64_t *id)
{
    if (id)
        *id = 0;
    if (!a || !fn || events == 0 || (events & ~RESIL_ALERT_NOTIFY_ALL))
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    if (a->nnotif == a->capnotif) {
        size_t cap = a->capnotif ? a->capnotif * 2 : 4;
        al_notifier *p = resil__realloc(a->notifiers, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&a->mu);
            return RESIL_ENOMEM;
        }
        a->notifiers = p;
        a->capnotif = cap;
    }
    uint64_t nid = ++a->next_notif_id;
    a->notifiers[a->nnotif++] = (al_notifier){.id = nid, .fn = fn, .ctx = ctx, .mask = events};
    pthread_mutex_unlock(&a->mu);
    if (id)
        *id = nid;
    return 0;
}

int resil_alerts_notifier_remove(resil_alerts *a, uint64_t id)
{
    if (!a)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    size_t i = 0;
    while (i < a->nnotif && a->notifiers[i].id != id)
        i++;
    if (i == a->nnotif) {
        pthread_mutex_unlock(&a->mu);
        return RESIL_ENOENT;
    }
    memmove(&a->notifiers[i], &a->notifiers[i + 1], (a->nnotif - i - 1) * sizeof *a->notifiers);
    a->nnotif--;
    /* Called from a notifier, this thread is the delivery: the removed one
     * is not running (delivery is serial) and is gone from the list. */
    bool self = a->delivering && pthread_equal(a->deliverer, pthread_self());
    pthread_mutex_unlock(&a->mu);
    if (!self) {
        /* Delivery holds deliver_mu throughout: once we get it, a call of
         * the removed notifier that began before the unlink has returned. */
        pthread_mutex_lock(&a->deliver_mu);
        pthread_mutex_unlock(&a->deliver_mu);
    }
    return 0;
}

/* ---- listings ------------------------------------------------------------ */

static int by_severity_then_name(const void *x, const void *y)
{
    const resil_alert_info *p = x, *q = y;
    if (p->severity != q->severity)
        return p->severity > q->severity ? -1 : 1;
    return strcmp(p->name, q->name);
}

static bool is_active(const al_rule *r)
{
    return r->info.state == RESIL_ALERT_PENDING || r->info.state == RESIL_ALERT_FIRING;
}

int resil_alerts_active(resil_alerts *a, resil_alert_info **out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!a || !out || !n)
        return RESIL_EINVAL;
    int64_t now = resil_clock_now(a->clock);
    pthread_mutex_lock(&a->mu);
    size_t count = 0;
    for (size_t i = 0; i < a->nrules; i++)
        count += is_active(a->rules[i]);
    resil_alert_info *arr = count ? resil__calloc(count, sizeof *arr) : NULL;
    if (count && !arr) {
        pthread_mutex_unlock(&a->mu);
        return RESIL_ENOMEM;
    }
    for (size_t i = 0, k = 0; i < a->nrules; i++) {
        if (is_active(a->rules[i]))
            resil__al_info_get(a, a->rules[i], now, &arr[k++]);
    }
    pthread_mutex_unlock(&a->mu);
    if (count)
        qsort(arr, count, sizeof *arr, by_severity_then_name);
    *out = arr;
    *n = count;
    return 0;
}

int resil_alerts_history(resil_alerts *a, resil_alert_event **out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!a || !out || !n)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    size_t count = a->hist_count;
    resil_alert_event *arr = count ? resil__malloc(count * sizeof *arr) : NULL;
    if (count && !arr) {
        pthread_mutex_unlock(&a->mu);
        return RESIL_ENOMEM;
    }
    for (size_t i = 0; i < count; i++)
        arr[i] = a->hist[(a->hist_start + i) % a->hist_cap];
    pthread_mutex_unlock(&a->mu);
    *out = arr;
    *n = count;
    return 0;
}

/* ---- the evaluation thread ----------------------------------------------- */

static struct timespec deadline_after(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = resil__add_sat((int64_t)ts.tv_sec * RESIL_NS_PER_SEC + ts.tv_nsec, ns);
    ts.tv_sec = (time_t)(t / RESIL_NS_PER_SEC);
    ts.tv_nsec = (long)(t % RESIL_NS_PER_SEC);
    return ts;
}

static void *thread_main(void *arg)
{
    resil_alerts *a = arg;
    pthread_mutex_lock(&a->thr_mu);
    while (a->thr_state == AL_THR_RUNNING) {
        pthread_mutex_unlock(&a->thr_mu);
        (void)resil_alerts_eval(a); /* ENOMEM: the next round catches up */
        pthread_mutex_lock(&a->thr_mu);
        struct timespec until = deadline_after(a->thr_interval);
        int rc = 0;
        while (a->thr_state == AL_THR_RUNNING && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&a->thr_cv, &a->thr_mu, &until);
    }
    pthread_mutex_unlock(&a->thr_mu);
    return NULL;
}

int resil_alerts_start(resil_alerts *a, int64_t interval_ns)
{
    if (!a || interval_ns < RESIL_NS_PER_MS)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->thr_mu);
    if (a->thr_state != AL_THR_IDLE) {
        pthread_mutex_unlock(&a->thr_mu);
        return RESIL_ESTATE;
    }
    a->thr_interval = interval_ns;
    a->thr_state = AL_THR_RUNNING;
    if (pthread_create(&a->thr, NULL, thread_main, a) != 0) {
        a->thr_state = AL_THR_IDLE;
        pthread_mutex_unlock(&a->thr_mu);
        return RESIL_ESYS;
    }
    pthread_mutex_unlock(&a->thr_mu);
    return 0;
}

static int thread_stop(resil_alerts *a)
{
    pthread_mutex_lock(&a->thr_mu);
    if (a->thr_state != AL_THR_RUNNING) {
        pthread_mutex_unlock(&a->thr_mu);
        return RESIL_ESTATE;
    }
    a->thr_state = AL_THR_STOPPING;
    pthread_cond_signal(&a->thr_cv);
    pthread_t t = a->thr;
    pthread_mutex_unlock(&a->thr_mu);
    pthread_join(t, NULL);
    pthread_mutex_lock(&a->thr_mu);
    a->thr_state = AL_THR_IDLE;
    pthread_mutex_unlock(&a->thr_mu);
    return 0;
}

int resil_alerts_stop(resil_alerts *a)
{
    return a ? thread_stop(a) : RESIL_EINVAL;
}

/* ---- names --------------------------------------------------------------- */

const char *resil_alert_severity_name(resil_alert_severity s)
{
    switch (s) {
    case RESIL_ALERT_INFO:
        return "info";
    case RESIL_ALERT_WARNING:
        return "warning";
    case RESIL_ALERT_CRITICAL:
        return "critical";
    }
    return "unknown";
}

const char *resil_alert_state_name(resil_alert_state s)
{
    switch (s) {
    case RESIL_ALERT_INACTIVE:
        return "inactive";
    case RESIL_ALERT_PENDING:
        return "pending";
    case RESIL_ALERT_FIRING:
        return "firing";
    case RESIL_ALERT_RESOLVED:
        return "resolved";
    }
    return "unknown";
}
