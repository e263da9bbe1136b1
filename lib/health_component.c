/* Checks over libresil objects: a breaker's state, a limiter's
 * utilisation, a cache's hit rate.  Built on the public registry API; the
 * objects are read through their own public, thread-safe getters, so a
 * check never takes a lock of theirs for longer than a stats read. */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The ctx of one component check. */
struct comp_check {
    void *obj;
    double warn, fail;
    uint64_t min_requests;
    /* the breaker's name, for output and the check name: room is left for
     * ":circuit" and the NUL */
    char label[RESIL_HEALTH_MAX_NAME - 8];
    /* cache: counters at the previous run and when the check was added.
     * The lock keeps one run's read-compare-store whole should two runs
     * ever overlap (the registry runs one at a time). */
    pthread_mutex_t lock;
    uint64_t base_gets;
    uint64_t prev_hits, prev_misses;
};

void resil_health_component_opts_init(resil_health_component_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->kind = RESIL_HEALTH_READINESS;
    o->interval_ns = 5 * RESIL_NS_PER_SEC;
    o->timeout_ns = RESIL_NS_PER_SEC;
    o->critical = 1;
    /* NaN: the default of the check it is given to (limiter 90 and off,
     * cache off and off), so opts from here and NULL opts agree */
    o->warn = NAN;
    o->fail = NAN;
    o->min_requests = 100;
}

/* ---- output text -------------------------------------------------------- */

/* v with one decimal, whatever LC_NUMERIC says ("12.3"). */
static void fmt_tenths(char *buf, size_t cap, double v)
{
    if (!isfinite(v) || fabs(v) >= 1e15) {
        snprintf(buf, cap, "%.0e", v);
        return;
    }
    uint64_t q = (uint64_t)(fabs(v) * 10 + 0.5);
    snprintf(buf, cap, "%s%llu.%llu", v < 0 && q > 0 ? "-" : "",
             (unsigned long long)(q / 10), (unsigned long long)(q % 10));
}

/* A threshold: "90", "12.5". */
static void fmt_threshold(char *buf, size_t cap, double v)
{
    fmt_tenths(buf, cap, v);
    size_t n = strlen(buf);
    if (n > 2 && strcmp(buf + n - 2, ".0") == 0)
        buf[n - 2] = '\0';
}

/* A check name part from a breaker's name: printable ASCII without the
 * characters a check name may not hold (quotes, backslash, colon), which
 * become '_', cut to leave room for ":circuit". */
static void sanitize_label(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; src[n] != '\0' && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)src[n];
        int bad = ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' || ch == ':';
        dst[n] = bad ? '_' : (char)ch;
    }
    dst[n] = '\0';
}

/* ---- the checks --------------------------------------------------------- */

static int breaker_run(void *ctx, int64_t deadline, resil_health_result *r)
{
    (void)deadline; /* reads two in-memory snapshots: never blocks long */
    struct comp_check *c = ctx;
    resil_breaker *b = c->obj;
    /* state_get first: it is what moves an OPEN breaker whose time is up
     * to HALF_OPEN, so the stats below see the same state */
    resil_breaker_state s = resil_breaker_state_get(b);
    resil_breaker_stats st;
    resil_breaker_stats_get(b, &st);
    r->observed_value = st.failure_rate * 100.0;
    snprintf(r->observed_unit, sizeof r->observed_unit, "percent");
    if (st.mode == RESIL_BREAKER_FORCED_OPEN) {
        r->status = RESIL_HEALTH_FAIL;
        snprintf(r->output, sizeof r->output, "circuit %s is forced open", c->label);
    } else if (s == RESIL_BREAKER_OPEN) {
        char in[32];
        fmt_tenths(in, sizeof in, (double)resil_breaker_retry_in(b) / 1e9);
        r->status = RESIL_HEALTH_FAIL;
        snprintf(r->output, sizeof r->output, "circuit %s is open, retry in %s s",
                 c->label, in);
    } else if (s == RESIL_BREAKER_HALF_OPEN) {
        r->status = RESIL_HEALTH_WARN;
        snprintf(r->output, sizeof r->output, "circuit %s is half-open, probing",
                 c->label);
    } else {
        r->status = RESIL_HEALTH_PASS;
    }
    return 0;
}

static int limiter_run(void *ctx, int64_t deadline, resil_health_result *r)
{
    (void)deadline;
    struct comp_check *c = ctx;
    resil_limiter_stats st;
    resil_limiter_stats_get(c->obj, &st);
    double pct = st.utilisation * 100.0;
    r->observed_value = pct;
    snprintf(r->observed_unit, sizeof r->observed_unit, "percent");
    double at;
    if (c->fail > 0 && pct >= c->fail) {
        r->status = RESIL_HEALTH_FAIL;
        at = c->fail;
    } else if (c->warn > 0 && pct >= c->warn) {
        r->status = RESIL_HEALTH_WARN;
        at = c->warn;
    } else {
        r->status = RESIL_HEALTH_PASS;
        return 0;
    }
    char v[32], t[32];
    fmt_tenths(v, sizeof v, pct);
    fmt_threshold(t, sizeof t, at);
    snprintf(r->output, sizeof r->output, "rate limiter %s %% utilised (%s at %s %%)", v,
             r->status == RESIL_HEALTH_FAIL ? "fail" : "warn", t);
    return 0;
}

/* Judge a hit rate of pct % over `gets` gets against the "below"
 * thresholds. */
static void cache_judge(struct comp_check *c, double pct, uint64_t gets,
                        resil_health_result *r)
{
    double at;
    if (c->fail > 0 && pct < c->fail) {
        r->status = RESIL_HEALTH_FAIL;
        at = c->fail;
    } else if (c->warn > 0 && pct < c->warn) {
        r->status = RESIL_HEALTH_WARN;
        at = c->warn;
    } else {
        r->status = RESIL_HEALTH_PASS;
        return;
    }
    char v[32], t[32];
    fmt_tenths(v, sizeof v, pct);
    fmt_threshold(t, sizeof t, at);
    snprintf(r->output, sizeof r->output,
             "cache hit rate %s %% over %llu gets (%s below %s %%)", v,
             (unsigned long long)gets, r->status == RESIL_HEALTH_FAIL ? "fail" : "warn",
             t);
}

static int cache_run(void *ctx, int64_t deadline, resil_health_result *r)
{
    (void)deadline;
    struct comp_check *c = ctx;
    resil_cache_stats st;
    snprintf(r->observed_unit, sizeof r->observed_unit, "percent");
    pthread_mutex_lock(&c->lock);
    resil_cache_stats_get(c->obj, &st);
    /* counters only grow; the guards keep a bogus delta out regardless */
    uint64_t dh = st.hits >= c->prev_hits ? st.hits - c->prev_hits : 0;
    uint64_t dm = st.misses >= c->prev_misses ? st.misses - c->prev_misses : 0;
    uint64_t all = st.hits + st.misses;
    uint64_t since_added = all >= c->base_gets ? all - c->base_gets : 0;
    c->prev_hits = st.hits;
    c->prev_misses = st.misses;
    pthread_mutex_unlock(&c->lock);
    /* with no gets in this interval there is no rate of its own: show the
     * cache's lifetime rate */
    r->observed_value =
        dh + dm > 0 ? (double)dh * 100.0 / (double)(dh + dm) : st.hit_rate * 100.0;
    r->status = RESIL_HEALTH_PASS;
    if (since_added < c->min_requests)
        snprintf(r->output, sizeof r->output, "not enough requests (%llu < %llu)",
                 (unsigned long long)since_added, (unsigned long long)c->min_requests);
    else if (dh + dm == 0)
        snprintf(r->output, sizeof r->output, "no requests since the previous run");
    else
        cache_judge(c, r->observed_value, dh + dm, r);
    return 0;
}

/* ---- adding them -------------------------------------------------------- */

static void comp_check_free(void *ctx)
{
    struct comp_check *c = ctx;
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    resil__free(c);
}

/* NaN (what opts_init leaves) picks the check's default. */
static double threshold_or(double v, double dflt)
{
    return isnan(v) ? dflt : v;
}

static int comp_add(resil_health *h, struct comp_check *c, const char *name,
                    const resil_health_component_opts *o, resil_health_check_fn fn,
                    const char *component_type)
{
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        resil__free(c);
        return RESIL_ENOMEM;
    }
    resil_health_check_opts co;
    resil_health_check_opts_init(&co);
    co.name = o->name ? o->name : name;
    co.fn = fn;
    co.ctx = c;
    co.ctx_free = comp_check_free;
    co.kind = o->kind;
    co.interval_ns = o->interval_ns;
    co.timeout_ns = o->timeout_ns;
    co.critical = o->critical;
    co.component_type = component_type;
    int rc = resil_health_add(h, &co);
    if (rc != 0)
        comp_check_free(c); /* on failure the registry did not take ctx */
    return rc;
}

/* The common part of the three adds: defaults, checks, the ctx. */
static int comp_new(resil_health *h, void *obj, const resil_health_component_opts **o,
                    resil_health_component_opts *defaults, struct comp_check **out)
{
    if (!*o) {
        resil_health_component_opts_init(defaults);
        *o = defaults;
    }
    if (!h || !obj)
        return RESIL_EINVAL;
    *out = resil__calloc(1, sizeof **out);
    if (!*out)
        return RESIL_ENOMEM;
    (*out)->obj = obj;
    (*out)->min_requests = (*o)->min_requests;
    return 0;
}

int resil_health_add_breaker(resil_health *h, resil_breaker *b,
                             const resil_health_component_opts *o)
{
    resil_health_component_opts d;
    struct comp_check *c;
    int rc = comp_new(h, b, &o, &d, &c);
    if (rc != 0)
        return rc;
    const char *bn = resil_breaker_name(b);
    sanitize_label(c->label, sizeof c->label, bn && bn[0] ? bn : "breaker");
    char name[RESIL_HEALTH_MAX_NAME];
    snprintf(name, sizeof name, "%s:circuit", c->label);
    return comp_add(h, c, name, o, breaker_run, "component");
}

int resil_health_add_limiter(resil_health *h, resil_limiter *l,
                             const resil_health_component_opts *o)
{
    resil_health_component_opts d;
    struct comp_check *c;
    int rc = comp_new(h, l, &o, &d, &c);
    if (rc != 0)
        return rc;
    c->warn = threshold_or(o->warn, 90);
    c->fail = threshold_or(o->fail, 0);
    return comp_add(h, c, "limiter:utilization", o, limiter_run, "component");
}

int resil_health_add_cache(resil_health *h, resil_cache *cache,
                           const resil_health_component_opts *o)
{
    resil_health_component_opts d;
    struct comp_check *c;
    int rc = comp_new(h, cache, &o, &d, &c);
    if (rc != 0)
        return rc;
    c->warn = threshold_or(o->warn, 0);
    c->fail = threshold_or(o->fail, 0);
    resil_cache_stats st;
    resil_cache_stats_get(cache, &st);
    /* the window of the first run, and of min_requests, starts now */
    c->base_gets = st.hits + st.misses;
    c->prev_hits = st.hits;
    c->prev_misses = st.misses;
    return comp_add(h, c, "cache:hitRate", o, cache_run, "datastore");
}
