/* Exposition of the metrics registry as Prometheus text 0.0.4 and
 * OpenMetrics 1.0.0 text, collectors, and the breaker and limiter watchers.
 *
 * Format facts relied on (Prometheus "Exposition formats", OpenMetrics 1.0
 * specification):
 *   - Prometheus HELP escapes backslash and line feed; label values also
 *     escape the double quote.  OpenMetrics escapes all three in both.
 *   - Prometheus names a counter's HELP/TYPE after its sample (x_total);
 *     OpenMetrics names the family x and the sample x_total, puts TYPE
 *     before HELP, and ends with "# EOF".
 *   - Histograms: cumulative x_bucket{le=...}, the last le="+Inf" equal to
 *     x_count, then x_sum and x_count.  OpenMetrics wants `le` in canonical
 *     form: Go's shortest %g with ".0" added when there is no '.' or 'e'.
 *   - No timestamps: the scraper stamps samples. */
#include "metrics_internal.h"

#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct mx_buf {
    char *p;
    size_t len, cap;
    int err;
} mx_buf;

static void put(mx_buf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = resil__realloc(b->p, cap);
        if (!p) {
            b->err = RESIL_ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_str(mx_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_escaped(mx_buf *b, const char *s, bool quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\'           ? "\\\\"
                          : *s == '\n'         ? "\\n"
                          : quote && *s == '"' ? "\\\""
                                               : NULL;
        if (!rep)
            continue;
        put(b, run, (size_t)(s - run));
        put_str(b, rep);
        run = s + 1;
    }
    put(b, run, (size_t)(s - run));
}

/* ---- numbers ---------------------------------------------------------------
 * Shortest digits that read back to v (printf + strtod, both in the current
 * locale, so they agree), then laid out as Go's strconv 'g' with precision
 * -1 does: exponent form when the exponent is < -4 or >= 6, at least two
 * exponent digits.  The layout is ours, so a locale's decimal comma never
 * reaches the output. */

static int shortest_digits(double v, char *dig, int *exp10)
{
    char tmp[48];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (p == 17)
        snprintf(tmp, sizeof tmp, "%.16e", v);
    int nd = 0;
    const char *q = tmp;
    for (; *q && *q != 'e' && *q != 'E'; q++) {
        if (*q >= '0' && *q <= '9' && nd < 17)
            dig[nd++] = *q;
    }
    *exp10 = *q ? atoi(q + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    return nd;
}

static char *lay_exp(char *o, const char *dig, int nd, int x)
{
    *o++ = dig[0];
    if (nd > 1) {
        *o++ = '.';
        memcpy(o, dig + 1, (size_t)nd - 1);
        o += nd - 1;
    }
    return o + sprintf(o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
}

static char *lay_fixed(char *o, const char *dig, int nd, int dp)
{
    if (dp <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = dp; i < 0; i++)
            *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        return o + nd;
    }
    for (int i = 0; i < dp; i++)
        *o++ = i < nd ? dig[i] : '0';
    if (nd > dp) {
        *o++ = '.';
        memcpy(o, dig + dp, (size_t)(nd - dp));
        o += nd - dp;
    }
    return o;
}

void resil__mx_fmt_double(char *out, double v, bool canonical)
{
    char dig[17];
    int x;
    if (v != v) {
        strcpy(out, "NaN");
        return;
    }
    if (v > DBL_MAX || v < -DBL_MAX) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        strcpy(out, canonical ? "0.0" : "0");
        return;
    }
    int nd = shortest_digits(v, dig, &x);
    char *o = out;
    if (v < 0)
        *o++ = '-';
    o = (x < -4 || x >= 6) ? lay_exp(o, dig, nd, x) : lay_fixed(o, dig, nd, x + 1);
    *o = '\0';
    if (canonical && !strpbrk(out, ".e"))
        strcpy(o, ".0");
}

/* ---- text formats --------------------------------------------------------- */

static const char *const type_name[] = {"counter", "gauge", "histogram"};

static void put_labels(mx_buf *b, const mx_family *f, const mx_series *s, const char *le)
{
    if (!f->nlabels && !le)
        return;
    put_str(b, "{");
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            put_str(b, ",");
        put_str(b, f->labels[i]);
        put_str(b, "=\"");
        put_escaped(b, s->values[i], true);
        put_str(b, "\"");
    }
    if (le) {
        put_str(b, f->nlabels ? ",le=\"" : "le=\"");
        put_str(b, le);
        put_str(b, "\"");
    }
    put_str(b, "}");
}

static void put_sample(mx_buf *b, const mx_family *f, const mx_series *s, const char *sfx,
                       const char *le, const char *value)
{
    put_str(b, f->name);
    put_str(b, sfx);
    put_labels(b, f, s, le);
    put_str(b, " ");
    put_str(b, value);
    put_str(b, "\n");
}

static void put_u64(mx_buf *b, const mx_family *f, const mx_series *s, const char *sfx,
                    const char *le, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, v);
    put_sample(b, f, s, sfx, le, num);
}

static void put_histogram(mx_buf *b, const mx_family *f, mx_series *s, bool om,
                          uint64_t *counts)
{
    mx_hsnap snap = {.counts = counts};
    char num[32];
    resil__mx_hist_read(s, &snap);
    uint64_t cum = 0;
    uint32_t next = 1;
    for (size_t i = 0; i < f->nbounds; i++) {
        for (; next <= f->bound_cut[i]; next++)
            cum += counts[next];
        /* below min_value (zero, negatives) counts as <= any bound >= 0 */
        put_u64(b, f, s, "_bucket", f->le[i][om],
                cum + (f->bounds[i] >= 0 ? counts[0] : 0));
    }
    put_u64(b, f, s, "_bucket", "+Inf", snap.count);
    resil__mx_fmt_double(num, snap.sum, false);
    put_sample(b, f, s, "_sum", NULL, num);
    put_u64(b, f, s, "_count", NULL, snap.count);
}

static void put_meta(mx_buf *b, const mx_family *f, bool om)
{
    /* Prometheus names a counter's metadata after the sample */
    const char *sfx = !om && f->type == RESIL_METRICS_COUNTER ? "_total" : "";
    if (om) {
        put_str(b, "# TYPE ");
        put_str(b, f->name);
        put_str(b, " ");
        put_str(b, type_name[f->type]);
        put_str(b, "\n");
    }
    if (*f->help) {
        put_str(b, "# HELP ");
        put_str(b, f->name);
        put_str(b, sfx);
        put_str(b, " ");
        put_escaped(b, f->help, om);
        put_str(b, "\n");
    }
    if (!om) {
        put_str(b, "# TYPE ");
        put_str(b, f->name);
        put_str(b, sfx);
        put_str(b, " ");
        put_str(b, type_name[f->type]);
        put_str(b, "\n");
    }
}

static void put_family(mx_buf *b, mx_family *f, bool om, uint64_t *counts)
{
    char num[32];
    if (!f->nseries)
        return;
    put_meta(b, f, om);
    for (size_t i = 0; i < f->nseries; i++) {
        mx_series *s = f->series[i];
        if (f->type == RESIL_METRICS_COUNTER) {
            put_u64(b, f, s, "_total", NULL, resil__mx_read(f->reg, s->slot, MX_ADD));
        } else if (f->type == RESIL_METRICS_GAUGE) {
            resil__mx_fmt_double(
                num, mx_u2f(atomic_load_explicit(&s->gauge, memory_order_relaxed)),
                false);
            put_sample(b, f, s, "", NULL, num);
        } else {
            put_histogram(b, f, s, om, counts);
        }
    }
}

/* Lock held. */
static int render_text(resil_metrics *m, bool om, mx_buf *b)
{
    uint32_t nb = 0;
    for (size_t i = 0; i < m->nfams; i++) {
        if (m->fams[i]->type == RESIL_METRICS_HISTOGRAM && m->fams[i]->hp.nb > nb)
            nb = m->fams[i]->hp.nb;
    }
    uint64_t *counts = resil__calloc((size_t)nb + 1, sizeof *counts);
    if (!counts)
        return RESIL_ENOMEM;
    put(b, "", 0);
    for (size_t i = 0; i < m->nfams; i++)
        put_family(b, m->fams[i], om, counts);
    if (om)
        put_str(b, "# EOF\n");
    resil__free(counts);
    return b->err;
}

int resil_metrics_export(resil_metrics *m, resil_metrics_format fmt, char **out,
                         size_t *len)
{
    mx_buf b = {0};
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!m || !out || fmt < RESIL_METRICS_PROMETHEUS || fmt > RESIL_METRICS_JSON_HISTORY)
        return RESIL_EINVAL;
    bool json = fmt == RESIL_METRICS_JSON || fmt == RESIL_METRICS_JSON_HISTORY;
    if (json && !resil__mx_have_json())
        return RESIL_ENOTSUP;
    resil__mx_collect(m);
    resil__mx_lock(m);
    resil__mx_compact(m);
    int rc;
    if (json) {
        rc = resil__mx_json(m, fmt, resil_clock_now(m->clock), &b.p, &b.len);
    } else {
        rc = render_text(m, fmt == RESIL_METRICS_OPENMETRICS, &b);
    }
    resil__mx_unlock(m);
    if (rc != 0) {
        resil__free(b.p);
        return rc;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}

const char *resil_metrics_content_type(resil_metrics_format fmt)
{
    switch (fmt) {
    case RESIL_METRICS_PROMETHEUS:
        return "text/plain; version=0.0.4; charset=utf-8";
    case RESIL_METRICS_OPENMETRICS:
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case RESIL_METRICS_JSON:
    case RESIL_METRICS_JSON_HISTORY:
        return "application/json";
    }
    return NULL;
}

/* ---- collectors ----------------------------------------------------------- */

int resil__mx_collector_add(resil_metrics *m, resil_metrics_collect_fn fn, void *ctx,
                            void (*destroy)(void *ctx), uint64_t *id)
{
    mx_collector *c = resil__calloc(1, sizeof *c);
    if (!c)
        return RESIL_ENOMEM;
    c->fn = fn;
    c->ctx = ctx;
    c->destroy = destroy;
    pthread_mutex_lock(&m->collect_lock);
    c->id = ++m->next_collector;
    mx_collector **pp = &m->collectors;
    while (*pp)
        pp = &(*pp)->next; /* registration order is run order */
    *pp = c;
    pthread_mutex_unlock(&m->collect_lock);
    *id = c->id;
    return 0;
}

int resil_metrics_collector_add(resil_metrics *m, resil_metrics_collect_fn fn, void *ctx,
                                uint64_t *id)
{
    if (id)
        *id = 0;
    if (!m || !fn || !id)
        return RESIL_EINVAL;
    return resil__mx_collector_add(m, fn, ctx, NULL, id);
}

int resil_metrics_collector_remove(resil_metrics *m, uint64_t id)
{
    if (!m || !id)
        return RESIL_EINVAL;
    /* collect_lock is held through every run, so once we hold it the
     * collector is not running */
    pthread_mutex_lock(&m->collect_lock);
    mx_collector *c = NULL;
    for (mx_collector **pp = &m->collectors; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            c = *pp;
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&m->collect_lock);
    if (!c)
        return RESIL_ENOENT;
    if (c->destroy)
        c->destroy(c->ctx);
    resil__free(c);
    return 0;
}

/* Collectors call into the registry, so the registry lock is not held. */
void resil__mx_collect(resil_metrics *m)
{
    pthread_mutex_lock(&m->collect_lock);
    for (mx_collector *c = m->collectors; c; c = c->next) {
        if (c->fn(m, c->ctx) != 0)
            atomic_fetch_add_explicit(&m->collector_errors, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&m->collect_lock);
}
