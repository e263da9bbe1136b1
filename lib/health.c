/* Health-check registry: options, the check table, results and their
 * aggregation.  Runs, the scheduler and waiting are in health_run.c, the
 * JSON report in health_render.c; health_internal.h has the locking rules.
 *
 * The table is an array of RESIL_HEALTH_MAX_CHECKS pointers kept sorted by
 * name, inside the registry: memory is bounded, lookups are a binary
 * search, and reports come out in name order without sorting. */
#include "health_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_INTERVAL_NS (10 * RESIL_NS_PER_SEC)
#define DEFAULT_TIMEOUT_NS (5 * RESIL_NS_PER_SEC)
#define MIN_PERIOD_NS RESIL_NS_PER_MS

/* ---- text rules ---------------------------------------------------------- */

/* Printable ASCII without the two characters JSON would have to escape, so
 * a name is its own JSON key, label and log field unchanged. */
static bool plain_char(unsigned char ch)
{
    return ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\';
}

static bool plain_text(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    if (len == 0 || len >= cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!plain_char((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool name_ok(const char *s)
{
    if (!s || !plain_text(s, RESIL_HEALTH_MAX_NAME))
        return false;
    const char *colon = strchr(s, ':');
    return colon && colon != s && colon[1] != '\0' && !strchr(colon + 1, ':');
}

/* Length of the UTF-8 sequence led by b, 0 for a byte that cannot lead. */
static int utf8_len(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        return 2;
    if (b >= 0xe0 && b <= 0xef)
        return 3;
    if (b >= 0xf0 && b <= 0xf4)
        return 4;
    return 0;
}

bool resil__hc_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_len(*p);
        if (n == 0)
            return false;
        /* the second byte's range rules out overlongs (E0, F0),
         * surrogates (ED) and code points past U+10FFFF (F4) */
        unsigned char lo = 0x80, hi = 0xbf;
        if (*p == 0xe0)
            lo = 0xa0;
        else if (*p == 0xed)
            hi = 0x9f;
        else if (*p == 0xf0)
            lo = 0x90;
        else if (*p == 0xf4)
            hi = 0x8f;
        for (int i = 1; i < n; i++) {
            unsigned char b = p[i];
            if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf))
                return false; /* a NUL ends the loop here too */
        }
        p += n;
    }
    return true;
}

/* ---- the registry --------------------------------------------------------- */

void resil_health_opts_init(resil_health_opts *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

static bool opt_text_ok(const char *s)
{
    return !s || resil__hc_utf8_ok(s);
}

static int dup_opt(const char *s, char **dst)
{
    *dst = NULL;
    if (!s)
        return 0;
    *dst = resil__strdup(s);
    return *dst ? 0 : RESIL_ENOMEM;
}

static void free_strings(struct resil_health *h)
{
    resil__free(h->service_id);
    resil__free(h->description);
    resil__free(h->version);
    resil__free(h->release_id);
}

static int copy_strings(struct resil_health *h, const resil_health_opts *o)
{
    if (dup_opt(o->service_id, &h->service_id) != 0 ||
        dup_opt(o->description, &h->description) != 0 ||
        dup_opt(o->version, &h->version) != 0 ||
        dup_opt(o->release_id, &h->release_id) != 0)
        return RESIL_ENOMEM;
    return 0;
}

static int sync_init(struct resil_health *h)
{
    if (pthread_mutex_init(&h->mu, NULL) != 0)
        return -1;
    if (pthread_mutex_init(&h->life, NULL) != 0)
        goto out_destroy_mu;
    if (resil__cond_init_monotonic(&h->done_cv) != 0)
        goto out_destroy_life;
    if (resil__cond_init_monotonic(&h->sched_cv) != 0)
        goto out_destroy_done;
    return 0;

out_destroy_done:
    pthread_cond_destroy(&h->done_cv);
out_destroy_life:
    pthread_mutex_destroy(&h->life);
out_destroy_mu:
    pthread_mutex_destroy(&h->mu);
    return -1;
}

int resil_health_new(const resil_health_opts *o, resil_health **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    resil_health_opts def;
    if (!o) {
        resil_health_opts_init(&def);
        o = &def;
    }
    if (!opt_text_ok(o->service_id) || !opt_text_ok(o->description) ||
        !opt_text_ok(o->version) || !opt_text_ok(o->release_id))
        return RESIL_EINVAL;
    struct resil_health *h = resil__calloc(1, sizeof *h);
    if (!h)
        return RESIL_ENOMEM;
    h->clock = o->clock ? o->clock : resil_clock_monotonic();
    h->wall = o->wall_clock ? o->wall_clock : resil_clock_realtime();
    if (copy_strings(h, o) != 0)
        goto out_free;
    if (sync_init(h) != 0)
        goto out_free;
    *out = h;
    return 0;

out_free:
    free_strings(h);
    resil__free(h);
    return RESIL_ENOMEM;
}

void resil_health_free(resil_health *h)
{
    if (!h)
        return;
    resil_health_stop(h); /* RESIL_ESTATE when it was not started */
    hc_check *list[RESIL_HEALTH_MAX_CHECKS];
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    memcpy(list, h->checks, n * sizeof list[0]);
    h->n = 0;
    for (size_t i = 0; i < n; i++)
        resil__hc_wait_idle(h, list[i]);
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < n; i++)
        resil__hc_destroy(list[i]);
    pthread_cond_destroy(&h->sched_cv);
    pthread_cond_destroy(&h->done_cv);
    pthread_mutex_destroy(&h->life);
    pthread_mutex_destroy(&h->mu);
    free_strings(h);
    resil__free(h);
}

/* ---- the check table ------------------------------------------------------ */

/* First index whose name is >= name. */
static size_t lower_bound(const resil_health *h, const char *name)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(h->checks[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ptrdiff_t resil__hc_find(const resil_health *h, const char *name)
{
    size_t i = lower_bound(h, name);
    if (i < h->n && strcmp(h->checks[i]->name, name) == 0)
        return (ptrdiff_t)i;
    return -1;
}

static int table_insert(struct resil_health *h, hc_check *c)
{
    size_t i = lower_bound(h, c->name);
    if (i < h->n && strcmp(h->checks[i]->name, c->name) == 0)
        return RESIL_EEXIST;
    if (h->n == RESIL_HEALTH_MAX_CHECKS)
        return RESIL_EFULL;
    memmove(&h->checks[i + 1], &h->checks[i], (h->n - i) * sizeof h->checks[0]);
    h->checks[i] = c;
    h->n++;
    return 0;
}

static void table_erase(struct resil_health *h, size_t i)
{
    memmove(&h->checks[i], &h->checks[i + 1], (h->n - i - 1) * sizeof h->checks[0]);
    h->n--;
}

void resil_health_check_opts_init(resil_health_check_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->kind = RESIL_HEALTH_READINESS;
    o->interval_ns = DEFAULT_INTERVAL_NS;
    o->timeout_ns = DEFAULT_TIMEOUT_NS;
    o->critical = 1;
}

static bool check_opts_ok(const resil_health_check_opts *o)
{
    return name_ok(o->name) && o->fn && resil__hc_kind_ok(o->kind) &&
           o->interval_ns >= MIN_PERIOD_NS && o->timeout_ns >= MIN_PERIOD_NS &&
           (!o->component_type || plain_text(o->component_type, HC_MAX_CTYPE));
}

static hc_check *check_new(struct resil_health *h, const resil_health_check_opts *o)
{
    hc_check *c = resil__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_cond_init(&c->go_cv, NULL) != 0) {
        resil__free(c);
        return NULL;
    }
    c->h = h;
    strcpy(c->name, o->name); /* length checked by name_ok() */
    if (o->component_type)
        strcpy(c->ctype, o->component_type);
    c->fn = o->fn;
    c->ctx = o->ctx;
    c->ctx_free = o->ctx_free;
    c->kind = o->kind;
    c->interval_ns = o->interval_ns;
    c->timeout_ns = o->timeout_ns;
    c->critical = o->critical != 0;
    c->last.status = RESIL_HEALTH_PASS;
    c->last.observed_value = NAN;
    return c;
}

int resil_health_add(resil_health *h, const resil_health_check_opts *o)
{
    if (!h || !o || !check_opts_ok(o))
        return RESIL_EINVAL;
    hc_check *c = check_new(h, o);
    if (!c)
        return RESIL_ENOMEM;
    c->next_due = resil_clock_now(h->clock); /* the first run is due at once */
    pthread_mutex_lock(&h->mu);
    int rc = table_insert(h, c);
    if (rc == 0)
        resil__hc_wake_scheduler(h);
    pthread_mutex_unlock(&h->mu);
    if (rc != 0) {
        pthread_cond_destroy(&c->go_cv);
        resil__free(c);
    }
    return rc;
}

int resil_health_remove(resil_health *h, const char *name)
{
    if (!h || !name)
        return RESIL_EINVAL;
    pthread_mutex_lock(&h->mu);
    ptrdiff_t i = resil__hc_find(h, name);
    if (i < 0) {
        pthread_mutex_unlock(&h->mu);
        return RESIL_ENOENT;
    }
    hc_check *c = h->checks[i];
    if (c->has_thread && pthread_equal(c->thread, pthread_self())) {
        /* a check removing itself would wait for its own return */
        pthread_mutex_unlock(&h->mu);
        return RESIL_EBUSY;
    }
    table_erase(h, (size_t)i); /* no new run can start from here on */
    resil__hc_wait_idle(h, c);
    pthread_mutex_unlock(&h->mu);
    resil__hc_destroy(c);
    return 0;
}

/* ---- results -------------------------------------------------------------- */

void resil__hc_fail_result(resil_health_result *r, const char *fmt, ...)
{
    memset(r, 0, sizeof *r);
    r->status = RESIL_HEALTH_FAIL;
    r->observed_value = NAN;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->output, sizeof r->output, fmt, ap);
    va_end(ap);
}

void resil__hc_record(hc_check *c, const resil_health_result *r, int64_t now, int64_t wall,
                      int64_t duration, bool timed_out)
{
    c->last = *r;
    c->time_ns = now;
    c->wall_time_ns = wall;
    c->duration_ns = duration;
    c->runs++;
    if (timed_out)
        c->timeouts++;
    if (r->status == RESIL_HEALTH_FAIL) {
        c->failures++;
        c->consecutive_failures++;
    } else {
        c->consecutive_failures = 0;
    }
}

void resil__hc_info(const hc_check *c, resil_health_check_info *info)
{
    memset(info, 0, sizeof *info);
    memcpy(info->name, c->name, sizeof info->name);
    info->kind = c->kind;
    info->critical = c->critical;
    info->status = c->last.status;
    info->observed_value = c->last.observed_value;
    memcpy(info->observed_unit, c->last.observed_unit, sizeof info->observed_unit);
    memcpy(info->output, c->last.output, sizeof info->output);
    info->time_ns = c->time_ns;
    info->wall_time_ns = c->wall_time_ns;
    info->duration_ns = c->duration_ns;
    info->running = c->running;
    info->runs = c->runs;
    info->failures = c->failures;
    info->timeouts = c->timeouts;
    info->consecutive_failures = c->consecutive_failures;
}

int resil_health_check_get(resil_health *h, const char *name, resil_health_check_info *info)
{
    if (!h || !name || !info)
        return RESIL_EINVAL;
    pthread_mutex_lock(&h->mu);
    ptrdiff_t i = resil__hc_find(h, name);
    if (i >= 0)
        resil__hc_info(h->checks[i], info);
    pthread_mutex_unlock(&h->mu);
    return i >= 0 ? 0 : RESIL_ENOENT;
}

typedef void (*fill_fn)(const hc_check *c, void *dst);

static size_t count_kind(const resil_health *h, resil_health_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        n += (h->checks[i]->kind & kind) != 0;
    return n;
}

/* Copies of the checks counting in `kind`.  The array is sized from a
 * count taken before it is allocated, so no allocation happens under the
 * lock; if checks were added meanwhile the count is taken again, and the
 * third attempt takes room for the most a registry can hold. */
static int collect(struct resil_health *h, resil_health_kind kind, size_t size, fill_fn fill,
                   void **out, size_t *n)
{
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&h->mu);
        size_t cap = attempt < 2 ? count_kind(h, kind) : RESIL_HEALTH_MAX_CHECKS;
        pthread_mutex_unlock(&h->mu);
        if (cap == 0)
            return 0;
        char *arr = resil__calloc(cap, size);
        if (!arr)
            return RESIL_ENOMEM;
        size_t got = 0;
        pthread_mutex_lock(&h->mu);
        bool fits = count_kind(h, kind) <= cap;
        for (size_t i = 0; fits && i < h->n; i++) {
            if (h->checks[i]->kind & kind)
                fill(h->checks[i], arr + size * got++);
        }
        pthread_mutex_unlock(&h->mu);
        if (fits && got > 0) {
            *out = arr;
            *n = got;
            return 0;
        }
        resil__free(arr);
        if (fits)
            return 0; /* every check went away meanwhile */
    }
}

static void fill_info(const hc_check *c, void *dst)
{
    resil__hc_info(c, dst);
}

static void fill_view(const hc_check *c, void *dst)
{
    hc_view *v = dst;
    resil__hc_info(c, &v->info);
    memcpy(v->ctype, c->ctype, sizeof v->ctype);
}

int resil_health_snapshot(resil_health *h, resil_health_kind kind, resil_health_check_info **out,
                          size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!h || !out || !n || !resil__hc_kind_ok(kind))
        return RESIL_EINVAL;
    return collect(h, kind, sizeof **out, fill_info, (void **)out, n);
}

int resil__hc_views(resil_health *h, resil_health_kind kind, hc_view **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return collect(h, kind, sizeof **out, fill_view, (void **)out, n);
}

/* ---- aggregation and names ------------------------------------------------ */

resil_health_status resil__hc_effective(resil_health_kind kind, uint64_t runs,
                                        resil_health_status st, resil_health_kind want)
{
    if (runs > 0)
        return st;
    /* not ready until known to be; but alive unless shown otherwise */
    return (kind & want & RESIL_HEALTH_READINESS) ? RESIL_HEALTH_FAIL : RESIL_HEALTH_PASS;
}

resil_health_status resil__hc_fold(resil_health_status acc, resil_health_status eff,
                                   int critical)
{
    if (eff == RESIL_HEALTH_FAIL && !critical)
        eff = RESIL_HEALTH_WARN;
    return eff > acc ? eff : acc;
}

resil_health_status resil_health_status_get(resil_health *h, resil_health_kind kind)
{
    if (!h || !resil__hc_kind_ok(kind))
        return RESIL_HEALTH_FAIL;
    resil_health_status acc = RESIL_HEALTH_PASS;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++) {
        const hc_check *c = h->checks[i];
        if (c->kind & kind)
            acc = resil__hc_fold(acc, resil__hc_effective(c->kind, c->runs, c->last.status, kind),
                                 c->critical);
    }
    pthread_mutex_unlock(&h->mu);
    return acc;
}

const char *resil_health_status_name(resil_health_status s)
{
    switch (s) {
    case RESIL_HEALTH_PASS:
        return "pass";
    case RESIL_HEALTH_WARN:
        return "warn";
    case RESIL_HEALTH_FAIL:
        return "fail";
    default:
        return "unknown";
    }
}

int resil_health_http_status(resil_health_status s)
{
    /* anything but a known pass or warn takes traffic away: a value this
     * version does not know is not evidence of health */
    return s == RESIL_HEALTH_PASS || s == RESIL_HEALTH_WARN ? 200 : 503;
}
