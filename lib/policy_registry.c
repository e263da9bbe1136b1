/* Per-service policies: what is done once per service (construction, the
 * metrics wiring, free, accessors, statistics) and the registry of
 * services by name.
 *
 * Metrics: the families are shared by every service of a registry (same
 * names, a "service" label), and every series a call records into is
 * looked up here, once, so the call path never searches.  The service
 * also registers a collector (in-flight gauge, cache statistics) and the
 * watchers of its breaker and limiter; resil_service_free() removes them,
 * which is why the metrics registry must outlive its services.  Series
 * cannot be deleted from a registry: a freed service's series keep their
 * last values, and a service made again under the same name continues
 * them.
 *
 * The registry is a sorted array under a mutex: lookups are rare (once
 * per service and caller, typically at start-up), so a lock is simpler
 * than anything lock-free and costs nothing that matters. */
#include "policy_internal.h"

#include <pthread.h>
#include <string.h>

#define RATE_WINDOW_NS (60 * RESIL_NS_PER_SEC)

int resil__svc_name_valid(const char *name)
{
    if (!name)
        return 0;
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok || n >= RESIL__SVC_NAME_MAX)
            return 0;
    }
    return n > 0;
}

void resil_service_opts_init(resil_service_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    resil_cache_opts_init(&o->cache);
    resil_limiter_opts_init(&o->limiter);
    resil_breaker_opts_init(&o->breaker);
    resil_retry_opts_init(&o->retry);
}

/* ---- metrics --------------------------------------------------------------- */

static const char *const result_names[RESIL__RES_COUNT] = {
    "ok", "cache_hit", "stale", "fallback", "failed", "rejected",
};
static const char *const label_service[] = {"service"};
static const char *const label_result[] = {"service", "result"};
static const char *const label_stage[] = {"service", "stage"};
/* The stages that turn calls away. */
static const resil_stage refusing_stages[] = {
    RESIL_STAGE_LIMITER,
    RESIL_STAGE_BULKHEAD,
    RESIL_STAGE_BREAKER,
};

static int mx_family(resil_metrics *m, resil_metrics_type type, const char *name,
                     const char *help, const char *const *labels, size_t nlabels,
                     int64_t rate_window_ns, resil_metrics_family **f)
{
    resil_metrics_family_opts fo;
    resil_metrics_family_opts_init(&fo);
    fo.type = type;
    fo.name = name;
    fo.help = help;
    fo.labels = labels;
    fo.nlabels = nlabels;
    fo.rate_window_ns = rate_window_ns;
    return resil_metrics_family_new(m, &fo, f);
}

static int mx_counter(resil_service *s, const char *name, const char *help,
                      resil_metrics_counter **out)
{
    resil_metrics_family *f;
    int rc =
        mx_family(s->mx.m, RESIL_METRICS_COUNTER, name, help, label_service, 1, 0, &f);
    if (rc == 0) {
        const char *v[] = {s->name};
        rc = resil_metrics_counter_get(f, v, out);
    }
    return rc;
}

static int mx_gauge(resil_service *s, const char *name, const char *help,
                    resil_metrics_gauge **out)
{
    resil_metrics_family *f;
    int rc = mx_family(s->mx.m, RESIL_METRICS_GAUGE, name, help, label_service, 1, 0, &f);
    if (rc == 0) {
        const char *v[] = {s->name};
        rc = resil_metrics_gauge_get(f, v, out);
    }
    return rc;
}

/* Calls by result (with per-minute rates for alerting: errors per minute,
 * success rate) and rejections by stage. */
static int mx_calls(resil_service *s)
{
    resil_metrics_family *f;
    int rc = mx_family(s->mx.m, RESIL_METRICS_COUNTER, "resil_service_calls_total",
                       "Calls to a service, by how they ended.", label_result, 2,
                       RATE_WINDOW_NS, &f);
    for (size_t i = 0; rc == 0 && i < RESIL__RES_COUNT; i++) {
        const char *v[] = {s->name, result_names[i]};
        rc = resil_metrics_counter_get(f, v, &s->mx.calls[i]);
    }
    if (rc == 0)
        rc = mx_family(s->mx.m, RESIL_METRICS_COUNTER, "resil_service_rejections_total",
                       "Calls a stage of a service's policy turned away.", label_stage, 2,
                       0, &f);
    for (size_t i = 0; rc == 0 && i < sizeof refusing_stages / sizeof refusing_stages[0];
         i++) {
        resil_stage st = refusing_stages[i];
        const char *v[] = {s->name, resil_stage_name(st)};
        rc = resil_metrics_counter_get(f, v, &s->mx.rejections[st]);
    }
    return rc;
}

static int mx_timing(resil_service *s)
{
    resil_metrics_family *f;
    int rc =
        mx_counter(s, "resil_service_attempts_total",
                   "Calls of a service's operation, retries included.", &s->mx.attempts);
    if (rc == 0)
        rc = mx_family(s->mx.m, RESIL_METRICS_HISTOGRAM, "resil_service_duration_seconds",
                       "Time a call to a service took, all stages included.",
                       label_service, 1, 0, &f);
    if (rc == 0) {
        const char *v[] = {s->name};
        rc = resil_metrics_histogram_get(f, v, &s->mx.duration);
    }
    if (rc == 0)
        rc = mx_gauge(s, "resil_service_in_flight",
                      "Calls of a service past its rate limiter and not finished.",
                      &s->mx.in_flight);
    return rc;
}

static int mx_cache(resil_service *s)
{
    if (!s->cache)
        return 0;
    int rc = mx_counter(s, "resil_service_cache_hits_total",
                        "Lookups in a service's cache that found a fresh value.",
                        &s->mx.cache_hits);
    if (rc == 0)
        rc = mx_counter(s, "resil_service_cache_misses_total",
                        "Lookups in a service's cache that found no fresh value.",
                        &s->mx.cache_misses);
    if (rc == 0)
        rc = mx_counter(s, "resil_service_cache_stale_hits_total",
                        "Misses of a service's cache answered with a stale value.",
                        &s->mx.cache_stale);
    if (rc == 0)
        rc = mx_counter(s, "resil_service_cache_evictions_total",
                        "Entries evicted from a service's cache to respect its bounds.",
                        &s->mx.cache_evictions);
    if (rc == 0)
        rc = mx_gauge(s, "resil_service_cache_entries", "Entries in a service's cache.",
                      &s->mx.cache_entries);
    return rc;
}

/* Runs at export and history tick, with the registry's collector lock. */
static int svc_collect(resil_metrics *m, void *ctx)
{
    resil_service *s = ctx;
    RESIL__UNUSED(m);
    resil_metrics_gauge_set(s->mx.in_flight, (double)atomic_load_explicit(
                                                 &s->in_flight, memory_order_relaxed));
    if (!s->cache)
        return 0;
    resil_cache_stats st;
    resil_cache_stats_get(s->cache, &st);
    resil_metrics_gauge_set(s->mx.cache_entries, (double)st.entries);
    int rc = resil_metrics_counter_set(s->mx.cache_hits, st.hits);
    rc |= resil_metrics_counter_set(s->mx.cache_misses, st.misses);
    rc |= resil_metrics_counter_set(s->mx.cache_stale, st.stale_hits);
    rc |= resil_metrics_counter_set(s->mx.cache_evictions, st.evictions);
    return rc;
}

static int mx_watchers(resil_service *s)
{
    resil_metrics_watch_opts wo;
    const char *v[] = {s->name};
    resil_metrics_watch_opts_init(&wo);
    wo.label_names = label_service;
    wo.label_values = v;
    wo.nlabels = 1;
    int rc = resil_metrics_collector_add(s->mx.m, svc_collect, s, &s->mx.collector_id);
    if (rc == 0 && s->breaker)
        rc = resil_metrics_watch_breaker(s->mx.m, s->breaker, &wo, &s->mx.breaker_watch);
    if (rc == 0 && s->limiter)
        rc = resil_metrics_watch_limiter(s->mx.m, s->limiter, &wo, &s->mx.limiter_watch);
    return rc;
}

/* Stop everything the registry would call back into; the series stay. */
static void mx_stop(resil_service *s)
{
    uint64_t *ids[] = {&s->mx.collector_id, &s->mx.breaker_watch, &s->mx.limiter_watch};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (*ids[i])
            resil_metrics_collector_remove(s->mx.m, *ids[i]);
        *ids[i] = 0;
    }
}

static int mx_start(resil_service *s, resil_metrics *m)
{
    if (!m)
        return 0;
    s->mx.m = m;
    int rc = mx_calls(s);
    if (rc == 0)
        rc = mx_timing(s);
    if (rc == 0)
        rc = mx_cache(s);
    if (rc == 0)
        rc = mx_watchers(s);
    if (rc != 0) {
        mx_stop(s);
        memset(&s->mx, 0, sizeof s->mx);
    }
    return rc;
}

/* ---- services -------------------------------------------------------------- */

static int make_cache(resil_service *s, const resil_service_opts *o)
{
    if (!o->use_cache)
        return 0;
    resil_cache_opts co = o->cache;
    co.clock = s->clock;
    co.obj_free = o->obj_free;
    co.obj_free_ctx = o->obj_free_ctx;
    return resil_cache_new(&co, &s->cache);
}

static int make_limiter(resil_service *s, const resil_service_opts *o)
{
    if (!o->use_limiter)
        return 0;
    resil_limiter_opts lo = o->limiter;
    lo.clock = s->clock;
    return resil_limiter_new(&lo, &s->limiter);
}

static int make_breaker(resil_service *s, const resil_service_opts *o)
{
    if (!o->use_breaker)
        return 0;
    resil_breaker_opts bo = o->breaker;
    bo.clock = s->clock;
    if (!bo.name)
        bo.name = s->name;
    return resil_breaker_new(&bo, &s->breaker);
}

/* The service admits attempts itself (so classify() decides what the
 * breaker records) and wraps the caller's predicate and sleep. */
static int make_retry(resil_service *s, const resil_service_opts *o)
{
    if (!o->use_retry)
        return 0;
    resil_retry_opts ro = o->retry;
    s->retryable = ro.retryable;
    s->retryable_ctx = ro.retryable_ctx;
    s->sleep = ro.sleep;
    s->sleep_ctx = ro.sleep_ctx;
    ro.breaker = NULL;
    ro.clock = s->clock;
    ro.retryable = resil__svc_retryable;
    ro.retryable_ctx = s;
    ro.sleep = resil__svc_sleep;
    ro.sleep_ctx = s;
    return resil_retry_new(&ro, &s->retry);
}

static void free_stages(resil_service *s)
{
    resil_retry_free(s->retry);
    resil_breaker_free(s->breaker);
    resil_limiter_free(s->limiter);
    resil_cache_free(s->cache);
}

static void copy_opts(resil_service *s, const resil_service_opts *o)
{
    memcpy(s->name, o->name, strlen(o->name) + 1);
    s->clock = o->clock ? o->clock : resil_clock_monotonic();
    s->max_concurrent = o->max_concurrent;
    s->attempt_timeout_ns = o->attempt_timeout_ns;
    s->classify = o->classify;
    s->classify_ctx = o->classify_ctx;
    s->fallback = o->fallback;
    s->fallback_ctx = o->fallback_ctx;
    s->obj_free = o->obj_free;
    s->obj_free_ctx = o->obj_free_ctx;
}

int resil_service_new(const resil_service_opts *o, resil_service **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o || !resil__svc_name_valid(o->name) || o->attempt_timeout_ns < 0)
        return RESIL_EINVAL;
    resil_service *s = resil__calloc(1, sizeof *s);
    if (!s)
        return RESIL_ENOMEM;
    copy_opts(s, o);
    int rc = make_cache(s, o);
    if (rc == 0)
        rc = make_limiter(s, o);
    if (rc == 0)
        rc = make_breaker(s, o);
    if (rc == 0)
        rc = make_retry(s, o);
    if (rc != 0)
        goto out_free_stages;
    rc = mx_start(s, o->metrics);
    if (rc != 0)
        goto out_free_stages;
    *out = s;
    return 0;

out_free_stages:
    free_stages(s);
    resil__free(s);
    return rc;
}

void resil_service_free(resil_service *s)
{
    if (!s)
        return;
    mx_stop(s); /* first: the watchers read the breaker and limiter */
    free_stages(s);
    resil__free(s);
}

const char *resil_service_name(const resil_service *s)
{
    return s ? s->name : "";
}

resil_breaker *resil_service_breaker(resil_service *s)
{
    return s ? s->breaker : NULL;
}

resil_limiter *resil_service_limiter(resil_service *s)
{
    return s ? s->limiter : NULL;
}

resil_cache *resil_service_cache(resil_service *s)
{
    return s ? s->cache : NULL;
}

void resil_service_stats_get(resil_service *s, resil_service_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!s)
        return;
    /* relaxed: a snapshot of independent counts */
    uint64_t r[RESIL__RES_COUNT];
    for (size_t i = 0; i < RESIL__RES_COUNT; i++) {
        r[i] = atomic_load_explicit(&s->results[i], memory_order_relaxed);
        st->calls += r[i];
    }
    st->ok = r[RESIL__RES_OK];
    st->cache_hits = r[RESIL__RES_CACHE_HIT];
    st->stale = r[RESIL__RES_STALE];
    st->fallbacks = r[RESIL__RES_FALLBACK];
    st->failed = r[RESIL__RES_FAILED];
    for (size_t i = 0; i < RESIL__STAGE_COUNT; i++)
        st->rejected[i] = atomic_load_explicit(&s->rejected[i], memory_order_relaxed);
    st->attempts = atomic_load_explicit(&s->attempts, memory_order_relaxed);
    st->in_flight = atomic_load_explicit(&s->in_flight, memory_order_relaxed);
}

/* ---- the registry ------------------------------------------------------------ */

struct resil_services {
    pthread_mutex_t mu;
    resil_service **v; /* sorted by name */
    size_t n;
    size_t cap;
};

int resil_services_new(resil_services **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    resil_services *reg = resil__calloc(1, sizeof *reg);
    if (!reg)
        return RESIL_ENOMEM;
    if (pthread_mutex_init(&reg->mu, NULL) != 0) {
        resil__free(reg);
        return RESIL_ENOMEM;
    }
    *out = reg;
    return 0;
}

void resil_services_free(resil_services *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        resil_service_free(reg->v[i]);
    resil__free(reg->v);
    pthread_mutex_destroy(&reg->mu);
    resil__free(reg);
}

/* Under mu: the index of the first service whose name is >= name (> name
 * with after), by binary search. */
static size_t lower_bound(const resil_services *reg, const char *name, bool after)
{
    size_t lo = 0, hi = reg->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->v[mid]->name, name);
        if (c < 0 || (after && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool found_at(const resil_services *reg, size_t i, const char *name)
{
    return i < reg->n && strcmp(reg->v[i]->name, name) == 0;
}

static int reserve_one(resil_services *reg)
{
    if (reg->n < reg->cap)
        return 0;
    size_t cap = reg->cap ? reg->cap * 2 : 8;
    if (cap > SIZE_MAX / sizeof *reg->v)
        return RESIL_ENOMEM;
    resil_service **v = resil__realloc(reg->v, cap * sizeof *v);
    if (!v)
        return RESIL_ENOMEM;
    reg->v = v;
    reg->cap = cap;
    return 0;
}

int resil_services_add(resil_services *reg, const resil_service_opts *o,
                       resil_service **out)
{
    if (out)
        *out = NULL;
    if (!reg || !o || !resil__svc_name_valid(o->name))
        return RESIL_EINVAL;
    resil_service *s = NULL;
    pthread_mutex_lock(&reg->mu);
    size_t i = lower_bound(reg, o->name, false);
    int rc = found_at(reg, i, o->name) ? RESIL_EEXIST : reserve_one(reg);
    if (rc == 0)
        rc = resil_service_new(o, &s);
    if (rc == 0) {
        memmove(&reg->v[i + 1], &reg->v[i], (reg->n - i) * sizeof *reg->v);
        reg->v[i] = s;
        reg->n++;
    }
    pthread_mutex_unlock(&reg->mu);
    if (rc == 0 && out)
        *out = s;
    return rc;
}

int resil_services_get(resil_services *reg, const char *name, resil_service **out)
{
    if (out)
        *out = NULL;
    if (!reg || !name || !out)
        return RESIL_EINVAL;
    pthread_mutex_lock(&reg->mu);
    size_t i = lower_bound(reg, name, false);
    resil_service *s = found_at(reg, i, name) ? reg->v[i] : NULL;
    pthread_mutex_unlock(&reg->mu);
    *out = s;
    return s ? 0 : RESIL_ENOENT;
}

/* fn runs without the lock (it may look services up); the next service is
 * found by name each time, so services added meanwhile shift nothing:
 * each is visited at most once, in name order.  Services are never
 * removed before the registry is freed, so s stays valid. */
int resil_services_foreach(resil_services *reg, int (*fn)(resil_service *s, void *ctx),
                           void *ctx)
{
    if (!reg || !fn)
        return RESIL_EINVAL;
    const char *last = NULL;
    for (;;) {
        pthread_mutex_lock(&reg->mu);
        size_t i = last ? lower_bound(reg, last, true) : 0;
        resil_service *s = i < reg->n ? reg->v[i] : NULL;
        pthread_mutex_unlock(&reg->mu);
        if (!s)
            return 0;
        int rc = fn(s, ctx);
        if (rc != 0)
            return rc;
        last = s->name;
    }
}

size_t resil_services_count(resil_services *reg)
{
    if (!reg)
        return 0;
    pthread_mutex_lock(&reg->mu);
    size_t n = reg->n;
    pthread_mutex_unlock(&reg->mu);
    return n;
}
