/* Watchers of a cache and of a retry policy: collectors that mirror the
 * object's own statistics into series of a registry at every export and
 * history tick.  They read only the object's stats_get(), so watching adds
 * nothing to the object's hot path.
 * Every watcher: breaker, limiter, cache, retry.  A family may take one
 * label more than the caller gave (retry's reason="..."). */
#include "internal.h"
#include "metrics_internal.h"

#include <stdio.h>
#include <string.h>

void resil_metrics_watch_opts_init(resil_metrics_watch_opts *o)
{
    if (o)
        *o = (resil_metrics_watch_opts){0};
}

typedef struct watch_spec {
    const char *suffix;
    resil_metrics_type type;
    const char *help;
} watch_spec;

/* The labels a watcher's families carry: the caller's, plus for some
 * families one of the watcher's own at the end. */
typedef struct watch_labels {
    const char *names[RESIL_METRICS_MAX_LABELS];
    const char *values[RESIL_METRICS_MAX_LABELS];
    size_t n;
} watch_labels;

static int labels_init(watch_labels *wl, const resil_metrics_watch_opts *o)
{
    if (o->nlabels > RESIL_METRICS_MAX_LABELS)
        return RESIL_EINVAL;
    if (o->nlabels && (!o->label_names || !o->label_values))
        return RESIL_EINVAL;
    wl->n = o->nlabels;
    for (size_t i = 0; i < o->nlabels; i++) {
        wl->names[i] = o->label_names[i];
        wl->values[i] = o->label_values[i];
    }
    return 0;
}

static int watch_series(resil_metrics *m, const char *prefix, const watch_spec *w,
                        const watch_labels *wl, mx_series **out)
{
    char name[256];
    resil_metrics_family_opts fo;
    mx_family *f;
    int n = snprintf(name, sizeof name, "%s_%s", prefix, w->suffix);
    if (n < 0 || (size_t)n >= sizeof name)
        return RESIL_EINVAL;
    resil_metrics_family_opts_init(&fo);
    fo.type = w->type;
    fo.name = name;
    fo.help = w->help;
    fo.labels = wl->names;
    fo.nlabels = wl->n;
    int rc = resil_metrics_family_new(m, &fo, &f);
    return rc ? rc : resil__mx_series_get(f, w->type, wl->values, out);
}

/* Resolve o (NULL: defaults) into a prefix and labels. */
static int watch_names(const resil_metrics_watch_opts *o, const char *def_prefix,
                       const char **prefix, watch_labels *wl)
{
    resil_metrics_watch_opts def;
    if (!o) {
        resil_metrics_watch_opts_init(&def);
        o = &def;
    }
    *prefix = o->prefix ? o->prefix : def_prefix;
    return labels_init(wl, o);
}

static int watch_all(resil_metrics *m, const char *prefix, const watch_spec *specs,
                     size_t n, const watch_labels *wl, mx_series **series)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = watch_series(m, prefix, &specs[i], wl, &series[i]);
    return rc;
}

/* Make the series of every spec, then register the collector that owns w
 * (w is freed here on failure). */
static int watch_start(resil_metrics *m, const resil_metrics_watch_opts *o,
                       const char *def_prefix, const watch_spec *specs, size_t n,
                       mx_series **series, resil_metrics_collect_fn fn, void *w,
                       uint64_t *id)
{
    const char *prefix;
    watch_labels wl;
    int rc = watch_names(o, def_prefix, &prefix, &wl);
    if (rc == 0)
        rc = watch_all(m, prefix, specs, n, &wl, series);
    if (rc == 0)
        rc = resil__mx_collector_add(m, fn, w, resil__free, id);
    if (rc != 0)
        resil__free(w);
    return rc;
}

#define COUNTER_OF(s) ((resil_metrics_counter *)(void *)(s))
#define GAUGE_OF(s) ((resil_metrics_gauge *)(void *)(s))

/* ---- breaker and limiter ---------------------------------------------------- */

enum { B_STATE, B_CALLS, B_FAILURES, B_SLOW, B_REJECTIONS, B_RATE, B_N };

static const watch_spec breaker_specs[B_N] = {
    {"state", RESIL_METRICS_GAUGE,
     "Circuit breaker state: 0 closed, 1 open, 2 half-open."},
    {"calls_total", RESIL_METRICS_COUNTER,
     "Calls whose outcome the circuit breaker recorded."},
    {"failures_total", RESIL_METRICS_COUNTER,
     "Calls the circuit breaker recorded as failures."},
    {"slow_calls_total", RESIL_METRICS_COUNTER,
     "Calls at or over the slow-call threshold."},
    {"rejections_total", RESIL_METRICS_COUNTER, "Calls the circuit breaker refused."},
    {"failure_rate", RESIL_METRICS_GAUGE,
     "Failure rate over the circuit breaker's window."},
};

typedef struct breaker_watch {
    resil_breaker *b;
    mx_series *s[B_N];
} breaker_watch;

static int breaker_collect(resil_metrics *m, void *ctx)
{
    breaker_watch *w = ctx;
    resil_breaker_stats st;
    RESIL__UNUSED(m);
    resil_breaker_stats_get(w->b, &st);
    resil_metrics_gauge_set(GAUGE_OF(w->s[B_STATE]), (double)st.state);
    resil_metrics_gauge_set(GAUGE_OF(w->s[B_RATE]), st.failure_rate);
    int rc = resil_metrics_counter_set(COUNTER_OF(w->s[B_CALLS]), st.calls);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[B_FAILURES]), st.failures);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[B_SLOW]), st.slow_calls);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[B_REJECTIONS]), st.rejections);
    return rc;
}

int resil_metrics_watch_breaker(resil_metrics *m, resil_breaker *b,
                                const resil_metrics_watch_opts *o, uint64_t *id)
{
    if (id)
        *id = 0;
    if (!m || !b || !id)
        return RESIL_EINVAL;
    breaker_watch *w = resil__calloc(1, sizeof *w);
    if (!w)
        return RESIL_ENOMEM;
    w->b = b;
    return watch_start(m, o, "resil_breaker", breaker_specs, B_N, w->s, breaker_collect, w,
                       id);
}

enum { L_ALLOWED, L_REJECTED, L_UTIL, L_N };

static const watch_spec limiter_specs[L_N] = {
    {"allowed_total", RESIL_METRICS_COUNTER, "Tokens the rate limiter granted."},
    {"rejected_total", RESIL_METRICS_COUNTER, "Tokens the rate limiter refused."},
    {"utilisation", RESIL_METRICS_GAUGE, "Share of the rate limiter's burst in use."},
};

typedef struct limiter_watch {
    resil_limiter *l;
    mx_series *s[L_N];
} limiter_watch;

static int limiter_collect(resil_metrics *m, void *ctx)
{
    limiter_watch *w = ctx;
    resil_limiter_stats st;
    RESIL__UNUSED(m);
    resil_limiter_stats_get(w->l, &st);
    resil_metrics_gauge_set(GAUGE_OF(w->s[L_UTIL]), st.utilisation);
    int rc = resil_metrics_counter_set(COUNTER_OF(w->s[L_ALLOWED]), st.allowed);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[L_REJECTED]), st.rejected);
    return rc;
}

int resil_metrics_watch_limiter(resil_metrics *m, resil_limiter *l,
                                const resil_metrics_watch_opts *o, uint64_t *id)
{
    if (id)
        *id = 0;
    if (!m || !l || !id)
        return RESIL_EINVAL;
    limiter_watch *w = resil__calloc(1, sizeof *w);
    if (!w)
        return RESIL_ENOMEM;
    w->l = l;
    return watch_start(m, o, "resil_limiter", limiter_specs, L_N, w->s, limiter_collect,
                       w, id);
}

/* ---- cache ------------------------------------------------------------------ */

enum {
    C_HITS,
    C_MISSES,
    C_STALE,
    C_LOADS,
    C_LOAD_FAILURES,
    C_EVICTIONS,
    C_EXPIRATIONS,
    C_ENTRIES,
    C_BYTES,
    C_HIT_RATE,
    C_N
};

static const watch_spec cache_specs[C_N] = {
    {"hits_total", RESIL_METRICS_COUNTER, "Cache lookups that found a fresh entry."},
    {"misses_total", RESIL_METRICS_COUNTER, "Cache lookups that found no fresh entry."},
    {"stale_hits_total", RESIL_METRICS_COUNTER,
     "Cache misses answered with a stale entry because the loader failed."},
    {"loads_total", RESIL_METRICS_COUNTER, "Cache loader runs."},
    {"load_failures_total", RESIL_METRICS_COUNTER,
     "Cache loader runs that returned an error."},
    {"evictions_total", RESIL_METRICS_COUNTER,
     "Cache entries removed to respect the bounds."},
    {"expirations_total", RESIL_METRICS_COUNTER,
     "Cache entries removed for being past their TTL."},
    {"entries", RESIL_METRICS_GAUGE, "Cache entries held."},
    {"bytes", RESIL_METRICS_GAUGE, "Key and value bytes the cache holds."},
    {"hit_rate", RESIL_METRICS_GAUGE, "Cache hits over hits and misses."},
};

typedef struct cache_watch {
    resil_cache *c;
    mx_series *s[C_N];
} cache_watch;

static int cache_collect(resil_metrics *m, void *ctx)
{
    cache_watch *w = ctx;
    resil_cache_stats st;
    RESIL__UNUSED(m);
    resil_cache_stats_get(w->c, &st);
    resil_metrics_gauge_set(GAUGE_OF(w->s[C_ENTRIES]), (double)st.entries);
    resil_metrics_gauge_set(GAUGE_OF(w->s[C_BYTES]), (double)st.bytes);
    resil_metrics_gauge_set(GAUGE_OF(w->s[C_HIT_RATE]), st.hit_rate);
    const uint64_t totals[] = {st.hits,  st.misses,        st.stale_hits, st.loads,
                               st.load_failures, st.evictions, st.expirations};
    int rc = 0;
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++)
        rc |= resil_metrics_counter_set(COUNTER_OF(w->s[C_HITS + i]), totals[i]);
    return rc;
}

int resil_metrics_watch_cache(resil_metrics *m, resil_cache *c,
                              const resil_metrics_watch_opts *o, uint64_t *id)
{
    if (id)
        *id = 0;
    if (!m || !c || !id)
        return RESIL_EINVAL;
    cache_watch *w = resil__calloc(1, sizeof *w);
    if (!w)
        return RESIL_ENOMEM;
    w->c = c;
    return watch_start(m, o, "resil_cache", cache_specs, C_N, w->s, cache_collect, w, id);
}

/* ---- retry ------------------------------------------------------------------ */

enum { R_RUNS, R_ATTEMPTS, R_RETRIES, R_SUCCESSES, R_N };
#define R_STOPS (RESIL_RETRY_BREAKER_OPEN + 1)

static const watch_spec retry_specs[R_N] = {
    {"runs_total", RESIL_METRICS_COUNTER, "Runs of the retry policy."},
    {"attempts_total", RESIL_METRICS_COUNTER, "Calls of the operation made."},
    {"retries_total", RESIL_METRICS_COUNTER,
     "Calls of the operation after the first of their run."},
    {"successes_total", RESIL_METRICS_COUNTER, "Runs that ended in success."},
};

static const watch_spec retry_stops_spec = {"stops_total", RESIL_METRICS_COUNTER,
                                            "Runs of the retry policy by why they "
                                            "stopped."};

/* Indexed by resil_retry_stop. */
static const char *const stop_reasons[R_STOPS] = {
    "succeeded", "not_retryable", "exhausted", "deadline", "budget", "breaker_open",
};

typedef struct retry_watch {
    resil_retry *r;
    mx_series *s[R_N];
    mx_series *stops[R_STOPS];
} retry_watch;

static int retry_collect(resil_metrics *m, void *ctx)
{
    retry_watch *w = ctx;
    resil_retry_stats st;
    RESIL__UNUSED(m);
    resil_retry_stats_get(w->r, &st);
    int rc = resil_metrics_counter_set(COUNTER_OF(w->s[R_RUNS]), st.runs);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[R_ATTEMPTS]), st.attempts);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[R_RETRIES]), st.retries);
    rc |= resil_metrics_counter_set(COUNTER_OF(w->s[R_SUCCESSES]), st.successes);
    for (size_t i = 0; i < R_STOPS; i++)
        rc |= resil_metrics_counter_set(COUNTER_OF(w->stops[i]), st.stops[i]);
    return rc;
}

/* One series of <prefix>_stops_total per reason, the reason label last. */
static int retry_stop_series(resil_metrics *m, const char *prefix, watch_labels *wl,
                             retry_watch *w)
{
    if (wl->n >= RESIL_METRICS_MAX_LABELS)
        return RESIL_EINVAL; /* no room for the reason */
    wl->names[wl->n] = "reason";
    wl->n++;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < R_STOPS; i++) {
        wl->values[wl->n - 1] = stop_reasons[i];
        rc = watch_series(m, prefix, &retry_stops_spec, wl, &w->stops[i]);
    }
    return rc;
}

int resil_metrics_watch_retry(resil_metrics *m, resil_retry *r,
                              const resil_metrics_watch_opts *o, uint64_t *id)
{
    const char *prefix;
    watch_labels wl;
    if (id)
        *id = 0;
    if (!m || !r || !id)
        return RESIL_EINVAL;
    int rc = watch_names(o, "resil_retry", &prefix, &wl);
    if (rc != 0)
        return rc;
    retry_watch *w = resil__calloc(1, sizeof *w);
    if (!w)
        return RESIL_ENOMEM;
    w->r = r;
    rc = watch_all(m, prefix, retry_specs, R_N, &wl, w->s);
    if (rc == 0)
        rc = retry_stop_series(m, prefix, &wl, w);
    if (rc == 0)
        rc = resil__mx_collector_add(m, retry_collect, w, resil__free, id);
    if (rc != 0)
        resil__free(w);
    return rc;
}
