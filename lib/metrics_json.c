/* JSON exposition of the metrics registry (jansson).
 *
 *   RESIL_METRICS_JSON:
 *     {"families":[{"name":"app_requests_total","type":"counter","help":"...",
 *       "labels":["method"],"overflows":0,
 *       "series":[{"labels":{"method":"GET"},"value":3,
 *                  "rate":{"window_s":60,"events":3,"per_sec":0.05,"per_min":3}}]}]}
 *   histograms: "count","sum","min","max","mean","p50","p90","p95","p99","p999"
 *   RESIL_METRICS_JSON_HISTORY:
 *     {"now_ns":...,"series":[{"name":...,"labels":{...},
 *       "points":[{"t_ns":...,"value":...,"rate":...[,"sum","p50","p90","p99"]}]}]}
 *
 * Values that JSON cannot carry (NaN, infinities) are null.  Names are the
 * sample names Prometheus shows (counters with "_total"). */
#include "config.h"

#include "metrics_internal.h"

#ifdef RESIL_HAVE_JANSSON

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

bool resil__mx_have_json(void)
{
    return true;
}

/* A count: JSON integers are int64 in jansson, so larger totals go out as
 * reals (rounded) rather than wrapping negative. */
static json_t *jcount(uint64_t v)
{
    return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static json_t *jnum(double v)
{
    json_t *j = json_real(v); /* NULL for NaN and infinities */
    return j ? j : json_null();
}

/* json_object_set_new() takes the reference even when it fails; a failed
 * set or a NULL value shows up as a missing key, caught by `ok`. */
static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

static void jpush(json_t *a, json_t *v, bool *ok)
{
    if (!v || json_array_append_new(a, v) != 0)
        *ok = false;
}

static char *full_name(const mx_family *f, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s", f->name, f->type == RESIL_METRICS_COUNTER ? "_total" : "");
    return buf;
}

static json_t *labels_of(const mx_family *f, const mx_series *s, bool *ok)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < f->nlabels; i++)
        jset(o, f->labels[i], json_string(s->values[i]), ok);
    if (!o)
        *ok = false;
    return o;
}

static void hist_fields(json_t *o, mx_series *s, uint64_t *counts, bool *ok)
{
    const mx_hparams *hp = &s->fam->hp;
    mx_hsnap snap = {.counts = counts};
    resil__mx_hist_read(s, &snap);
    bool any = snap.count > 0;
    jset(o, "count", jcount(snap.count), ok);
    jset(o, "sum", jnum(snap.sum), ok);
    jset(o, "min", jnum(any ? mx_unkey(snap.min_key) : 0), ok);
    jset(o, "max", jnum(any ? mx_unkey(snap.max_key) : 0), ok);
    jset(o, "mean", jnum(any ? snap.sum / (double)snap.count : 0), ok);
    static const struct {
        const char *k;
        double q;
    } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        jset(o, qs[i].k, jnum(resil__mx_hist_quantile(hp, &snap, qs[i].q)), ok);
}

static json_t *rate_of(const mx_series *s, int64_t now, bool *ok)
{
    resil_metrics_rate r;
    json_t *o = json_object();
    if (!o || resil__mx_rate_read(s, now, 0, &r) != 0) {
        *ok = false;
        return o;
    }
    jset(o, "window_s", jnum((double)r.window_ns / 1e9), ok);
    jset(o, "events", jcount(r.events), ok);
    jset(o, "per_sec", jnum(r.per_sec), ok);
    jset(o, "per_min", jnum(r.per_min), ok);
    return o;
}

static json_t *series_json(mx_series *s, int64_t now, uint64_t *counts, bool *ok)
{
    const mx_family *f = s->fam;
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    jset(o, "labels", labels_of(f, s, ok), ok);
    if (s->overflow)
        jset(o, "overflow", json_true(), ok);
    if (f->type == RESIL_METRICS_COUNTER) {
        uint64_t v = resil__mx_read(s->reg, s->slot, MX_ADD);
        jset(o, "value", jcount(v), ok);
        if (s->rate)
            jset(o, "rate", rate_of(s, now, ok), ok);
    } else if (f->type == RESIL_METRICS_GAUGE) {
        jset(o, "value",
             jnum(mx_u2f(atomic_load_explicit(&s->gauge, memory_order_relaxed))), ok);
    } else {
        hist_fields(o, s, counts, ok);
    }
    return o;
}

static const char *const type_name[] = {"counter", "gauge", "histogram"};

static json_t *family_json(mx_family *f, int64_t now, uint64_t *counts, bool *ok)
{
    char name[512];
    json_t *o = json_object(), *labels = json_array(), *series = json_array();
    if (!o || !labels || !series) {
        json_decref(labels);
        json_decref(series);
        *ok = false;
        return o;
    }
    jset(o, "name", json_string(full_name(f, name, sizeof name)), ok);
    jset(o, "type", json_string(type_name[f->type]), ok);
    jset(o, "help", json_string(f->help), ok);
    for (size_t i = 0; i < f->nlabels; i++)
        jpush(labels, json_string(f->labels[i]), ok);
    jset(o, "labels", labels, ok);
    jset(o, "overflows", jcount(f->overflows), ok);
    for (size_t i = 0; *ok && i < f->nseries; i++)
        jpush(series, series_json(f->series[i], now, counts, ok), ok);
    jset(o, "series", series, ok);
    return o;
}

static json_t *point_json(const mx_family *f, const resil_metrics_point *p, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    jset(o, "t_ns", json_integer((json_int_t)p->t_ns), ok);
    jset(o, "value", jnum(p->value), ok);
    jset(o, "rate", jnum(p->rate), ok);
    if (f->type == RESIL_METRICS_HISTOGRAM) {
        jset(o, "sum", jnum(p->sum), ok);
        jset(o, "p50", jnum(p->p50), ok);
        jset(o, "p90", jnum(p->p90), ok);
        jset(o, "p99", jnum(p->p99), ok);
    }
    return o;
}

static json_t *history_json(mx_family *f, mx_series *s, bool *ok)
{
    char name[512];
    json_t *o = json_object(), *pts = json_array();
    if (!o || !pts) {
        json_decref(pts);
        *ok = false;
        return o;
    }
    jset(o, "name", json_string(full_name(f, name, sizeof name)), ok);
    jset(o, "labels", labels_of(f, s, ok), ok);
    const mx_ring *r = s->ring;
    for (uint32_t i = 0; i < r->count; i++)
        jpush(pts, point_json(f, &r->pts[(r->head + r->len - r->count + i) % r->len], ok),
              ok);
    jset(o, "points", pts, ok);
    return o;
}

static json_t *render(resil_metrics *m, resil_metrics_format fmt, int64_t now,
                      uint64_t *counts, bool *ok)
{
    json_t *root = json_object(), *arr = json_array();
    if (!root || !arr) {
        json_decref(arr);
        *ok = false;
        return root;
    }
    bool history = fmt == RESIL_METRICS_JSON_HISTORY;
    if (history)
        jset(root, "now_ns", json_integer((json_int_t)now), ok);
    for (size_t i = 0; *ok && i < m->nfams; i++) {
        mx_family *f = m->fams[i];
        if (!history && f->nseries)
            jpush(arr, family_json(f, now, counts, ok), ok);
        for (size_t j = 0; history && f->history && j < f->nseries; j++)
            jpush(arr, history_json(f, f->series[j], ok), ok);
    }
    jset(root, history ? "series" : "families", arr, ok);
    return root;
}

int resil__json_hand_out(char *text, char **out, size_t *len)
{
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    size_t n = strlen(text);
    *out = resil__malloc(n + 1);
    if (*out) {
        memcpy(*out, text, n + 1);
        if (len)
            *len = n;
    }
    jfree(text);
    return *out ? 0 : RESIL_ENOMEM;
}

int resil__mx_json(resil_metrics *m, resil_metrics_format fmt, int64_t now, char **out,
                   size_t *len)
{
    uint32_t nb = 0;
    bool ok = true;
    for (size_t i = 0; i < m->nfams; i++) {
        if (m->fams[i]->type == RESIL_METRICS_HISTOGRAM && m->fams[i]->hp.nb > nb)
            nb = m->fams[i]->hp.nb;
    }
    uint64_t *counts = resil__calloc((size_t)nb + 1, sizeof *counts);
    if (!counts)
        return RESIL_ENOMEM;
    json_t *root = render(m, fmt, now, counts, &ok);
    resil__free(counts);
    char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(root);
    if (!text)
        return RESIL_ENOMEM;
    return resil__json_hand_out(text, out, len);
}

#else /* !RESIL_HAVE_JANSSON */

bool resil__mx_have_json(void)
{
    return false;
}

int resil__mx_json(resil_metrics *m, resil_metrics_format fmt, int64_t now, char **out,
                   size_t *len)
{
    RESIL__UNUSED(m);
    RESIL__UNUSED(fmt);
    RESIL__UNUSED(now);
    RESIL__UNUSED(out);
    RESIL__UNUSED(len);
    return RESIL_ENOTSUP;
}

#endif
