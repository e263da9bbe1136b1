/* The metrics registry: families, series, labels and their caps, gauges.
 *
 * Families live in an array sorted by name and series in one sorted by
 * label values, both under the registry lock: lookups are rare (callers
 * cache series handles) and sorted arrays give the exposition its order for
 * free. */
#include "metrics_internal.h"

#include <stdlib.h>

/* Registry ids are never reused, so a thread's cached (id -> arena) can
 * never match a later registry at a recycled address.  Relaxed: uniqueness
 * is all that is needed. */
static _Atomic uint64_t mx_next_id = 1;

void resil__mx_lock(resil_metrics *m)
{
    pthread_mutex_lock(&m->lock);
}

void resil__mx_unlock(resil_metrics *m)
{
    pthread_mutex_unlock(&m->lock);
}

/* ---- the registry ------------------------------------------------------- */

void resil_metrics_opts_init(resil_metrics_opts *o)
{
    if (!o)
        return;
    *o = (resil_metrics_opts){
        .max_families = 1024,
        .max_series = 1000,
        .max_label_len = 256,
        .history_len = 120,
    };
}

static int opts_check(const resil_metrics_opts *o)
{
    if (o->max_families < 1 || o->max_series < 1 || o->max_label_len < 1 ||
        o->history_len < 2 || o->history_len > 100000)
        return RESIL_EINVAL;
    return 0;
}

int resil_metrics_new(const resil_metrics_opts *o, resil_metrics **out)
{
    resil_metrics_opts def;
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o) {
        resil_metrics_opts_init(&def);
        o = &def;
    }
    if (opts_check(o) != 0)
        return RESIL_EINVAL;
    resil_metrics *m = resil__calloc(1, sizeof *m);
    if (!m)
        return RESIL_ENOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0)
        goto out_free;
    if (pthread_mutex_init(&m->collect_lock, NULL) != 0)
        goto out_lock;
    m->id = atomic_fetch_add_explicit(&mx_next_id, 1, memory_order_relaxed);
    m->clock = o->clock;
    m->max_families = o->max_families;
    m->max_series = o->max_series;
    m->max_label_len = o->max_label_len;
    m->history_len = o->history_len;
    m->bytes = sizeof *m;
    *out = m;
    return 0;
out_lock:
    pthread_mutex_destroy(&m->lock);
out_free:
    resil__free(m);
    return RESIL_ESYS;
}

static void series_free(mx_series *s, size_t nlabels)
{
    if (!s)
        return;
    for (size_t i = 0; s->values && i < nlabels; i++)
        resil__free(s->values[i]);
    resil__free(s->values);
    resil__free(s->rate);
    resil__free(s->ring);
    resil__free(s);
}

static void family_free(mx_family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i], f->nlabels);
    resil__free(f->series);
    for (size_t i = 0; f->labels && i < f->nlabels; i++)
        resil__free(f->labels[i]);
    resil__free(f->labels);
    resil__free(f->bounds);
    resil__free(f->bound_cut);
    resil__free(f->le);
    resil__free(f->name);
    resil__free(f->help);
    resil__free(f);
}

void resil_metrics_free(resil_metrics *m)
{
    if (!m)
        return;
    for (mx_collector *c = m->collectors, *next; c; c = next) {
        next = c->next;
        if (c->destroy)
            c->destroy(c->ctx);
        resil__free(c);
    }
    resil__mx_arenas_release(m);
    for (size_t i = 0; i < m->nfams; i++)
        family_free(m->fams[i]);
    resil__free(m->fams);
    pthread_mutex_destroy(&m->collect_lock);
    pthread_mutex_destroy(&m->lock);
    resil__free(m);
}

void resil_metrics_stats_get(resil_metrics *m, resil_metrics_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!m)
        return;
    resil__mx_lock(m);
    resil__mx_compact(m);
    st->families = m->nfams;
    st->series = m->nseries;
    st->overflows = m->overflows;
    st->cells = m->next_slot;
    st->threads = m->narenas;
    st->threads_retired = m->nretired;
    st->bytes = m->bytes;
    st->dropped = m->dropped;
    resil__mx_unlock(m);
    st->collector_errors =
        atomic_load_explicit(&m->collector_errors, memory_order_relaxed);
}

/* ---- names and values ---------------------------------------------------- */

/* Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* with "__" reserved for internal use. */
int resil__mx_valid_name(const char *name, bool metric)
{
    if (!name || !*name || strlen(name) > RESIL_METRICS_MAX_NAME)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (metric && c == ':') || (p != name && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return metric || strncmp(name, "__", 2) != 0;
}

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s++;
        int n = c < 0x80             ? 0
                : (c & 0xe0) == 0xc0 ? 1
                : (c & 0xf0) == 0xe0 ? 2
                : (c & 0xf8) == 0xf0 ? 3
                                     : -1;
        if (n < 0)
            return false;
        uint32_t cp = n == 0 ? c : c & (0x3fu >> n);
        for (int i = 0; i < n; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (*s & 0x3fu);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

static int check_values(const mx_family *f, const char *const *values)
{
    if (f->nlabels && !values)
        return RESIL_EINVAL;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (!values[i] || !valid_utf8(values[i]))
            return RESIL_EINVAL;
        if (strlen(values[i]) > f->reg->max_label_len)
            return RESIL_ERANGE;
    }
    return 0;
}

/* ---- series ------------------------------------------------------------ */

static int values_cmp(const mx_family *f, char *const *a, const char *const *b)
{
    for (size_t i = 0; i < f->nlabels; i++) {
        int c = strcmp(a[i], b[i]);
        if (c)
            return c;
    }
    return 0;
}

/* Index of the series with these values, or where it would go (*found 0). */
static size_t series_search(const mx_family *f, const char *const *values, bool *found)
{
    size_t lo = 0, hi = f->nseries;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = values_cmp(f, f->series[mid]->values, values);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t series_cells(const mx_family *f)
{
    if (f->type == RESIL_METRICS_COUNTER)
        return 1;
    if (f->type == RESIL_METRICS_HISTOGRAM)
        return MX_H_HDR + 1 + f->hp.nb;
    return 0;
}

static int series_alloc(mx_family *f, const char *const *values, mx_series **out)
{
    mx_series *s = resil__calloc(1, sizeof *s);
    if (!s)
        return RESIL_ENOMEM;
    s->reg = f->reg;
    s->reg_id = f->reg->id;
    s->fam = f;
    s->ncells = series_cells(f);
    atomic_init(&s->gauge, 0);
    s->values = resil__calloc(f->nlabels ? f->nlabels : 1, sizeof *s->values);
    if (!s->values)
        goto out_free;
    for (size_t i = 0; i < f->nlabels; i++) {
        s->values[i] = resil__strdup(values[i]);
        if (!s->values[i])
            goto out_free;
    }
    if (f->rate_window_ns && resil__mx_rate_new(s) != 0)
        goto out_free;
    if (f->history && resil__mx_ring_new(s) != 0)
        goto out_free;
    *out = s;
    return 0;
out_free:
    series_free(s, f->nlabels);
    return RESIL_ENOMEM;
}

static size_t series_bytes(const mx_family *f, const mx_series *s)
{
    size_t n = sizeof *s + (f->nlabels + 1) * sizeof(char *);
    for (size_t i = 0; i < f->nlabels; i++)
        n += strlen(s->values[i]) + 1;
    if (s->rate)
        n += sizeof *s->rate + s->rate->nslots * sizeof s->rate->slot[0];
    if (s->ring)
        n += sizeof *s->ring + s->ring->len * sizeof s->ring->pts[0];
    return n;
}

/* Make a series and insert it at index at (lock held).  Cell slots are
 * reserved last, when nothing else can fail. */
static int series_create(mx_family *f, size_t at, const char *const *values,
                         mx_series **out)
{
    resil_metrics *m = f->reg;
    uint32_t ncells = series_cells(f);
    /* histograms start 4-aligned: their header cells share one leaf */
    uint32_t slot =
        f->type == RESIL_METRICS_HISTOGRAM ? (m->next_slot + 3u) & ~3u : m->next_slot;
    if ((uint64_t)slot + ncells > MX_MAX_CELLS)
        return RESIL_EFULL;
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        mx_series **a = resil__realloc(f->series, cap * sizeof *a);
        if (!a)
            return RESIL_ENOMEM;
        f->series = a;
        f->cap = cap;
    }
    mx_series *s;
    if (series_alloc(f, values, &s) != 0)
        return RESIL_ENOMEM;
    s->slot = slot;
    m->next_slot = slot + ncells;
    memmove(&f->series[at + 1], &f->series[at], (f->nseries - at) * sizeof *f->series);
    f->series[at] = s;
    f->nseries++;
    m->nseries++;
    m->bytes += series_bytes(f, s);
    *out = s;
    return 0;
}

static int overflow_series(mx_family *f, mx_series **out)
{
    const char *vals[RESIL_METRICS_MAX_LABELS];
    bool found;
    for (size_t i = 0; i < f->nlabels; i++)
        vals[i] = RESIL_METRICS_OVERFLOW_VALUE;
    size_t at = series_search(f, vals, &found);
    if (found) {
        *out = f->series[at];
    } else {
        int rc = series_create(f, at, vals, out);
        if (rc != 0)
            return rc;
    }
    (*out)->overflow = true;
    f->overflow = *out;
    return 0;
}

static int series_lookup(mx_family *f, const char *const *values, mx_series **out)
{
    bool found;
    size_t at = series_search(f, values, &found);
    if (found) {
        *out = f->series[at];
        return 0;
    }
    size_t normal = f->nseries - (f->overflow ? 1 : 0);
    if (normal < f->max_series)
        return series_create(f, at, values, out);
    int rc = overflow_series(f, out);
    if (rc == 0) {
        f->overflows++;
        f->reg->overflows++;
    }
    return rc;
}

int resil__mx_series_get(mx_family *f, resil_metrics_type type, const char *const *values,
                         mx_series **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!f || f->type != type)
        return RESIL_EINVAL;
    int rc = check_values(f, values);
    if (rc != 0)
        return rc;
    resil__mx_lock(f->reg);
    rc = series_lookup(f, values, out);
    resil__mx_unlock(f->reg);
    return rc;
}

int resil__mx_series_find(mx_family *f, const char *const *values, mx_series **out)
{
    bool found;
    *out = NULL;
    int rc = check_values(f, values);
    if (rc != 0)
        return rc;
    resil__mx_lock(f->reg);
    size_t at = series_search(f, values, &found);
    if (found)
        *out = f->series[at];
    resil__mx_unlock(f->reg);
    return found ? 0 : RESIL_ENOENT;
}

/* Through a local: the handle types are distinct from mx_series, so the
 * caller's pointer is not written as an mx_series *. */
int resil_metrics_counter_get(resil_metrics_family *f, const char *const *values,
                              resil_metrics_counter **out)
{
    mx_series *s = NULL;
    if (!out)
        return RESIL_EINVAL;
    int rc = resil__mx_series_get(f, RESIL_METRICS_COUNTER, values, &s);
    *out = (resil_metrics_counter *)(void *)s;
    return rc;
}

int resil_metrics_gauge_get(resil_metrics_family *f, const char *const *values,
                            resil_metrics_gauge **out)
{
    mx_series *s = NULL;
    if (!out)
        return RESIL_EINVAL;
    int rc = resil__mx_series_get(f, RESIL_METRICS_GAUGE, values, &s);
    *out = (resil_metrics_gauge *)(void *)s;
    return rc;
}

int resil_metrics_histogram_get(resil_metrics_family *f, const char *const *values,
                                resil_metrics_histogram **out)
{
    mx_series *s = NULL;
    if (!out)
        return RESIL_EINVAL;
    int rc = resil__mx_series_get(f, RESIL_METRICS_HISTOGRAM, values, &s);
    *out = (resil_metrics_histogram *)(void *)s;
    return rc;
}

/* ---- families ------------------------------------------------------------ */

void resil_metrics_family_opts_init(resil_metrics_family_opts *o)
{
    if (!o)
        return;
    *o = (resil_metrics_family_opts){
        .type = RESIL_METRICS_COUNTER,
        .rate_bucket_ns = RESIL_NS_PER_SEC,
        .rel_error = 0.01,
        .min_value = 1e-9,
        .max_value = 1e9,
    };
}

/* Counters are named without "_total" inside: the exposition adds it. */
static size_t base_len(resil_metrics_type type, const char *name)
{
    size_t n = strlen(name);
    if (type == RESIL_METRICS_COUNTER && n >= 6 && strcmp(name + n - 6, "_total") == 0)
        return n - 6;
    return n;
}

static int check_labels(const resil_metrics_family_opts *o)
{
    if (o->nlabels > RESIL_METRICS_MAX_LABELS || (o->nlabels && !o->labels))
        return RESIL_EINVAL;
    for (size_t i = 0; i < o->nlabels; i++) {
        if (!resil__mx_valid_name(o->labels[i], false))
            return RESIL_EINVAL;
        if (o->type == RESIL_METRICS_HISTOGRAM && strcmp(o->labels[i], "le") == 0)
            return RESIL_EINVAL;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->labels[i], o->labels[j]) == 0)
                return RESIL_EINVAL;
        }
    }
    return 0;
}

static int check_rate(const resil_metrics_family_opts *o)
{
    if (o->rate_window_ns == 0)
        return 0;
    if (o->type != RESIL_METRICS_COUNTER || o->rate_window_ns < 0 ||
        o->rate_bucket_ns <= 0 || o->rate_window_ns % o->rate_bucket_ns != 0 ||
        o->rate_window_ns / o->rate_bucket_ns > 3600)
        return RESIL_EINVAL;
    return 0;
}

static int family_check(const resil_metrics_family_opts *o, mx_hparams *hp)
{
    if (o->type < RESIL_METRICS_COUNTER || o->type > RESIL_METRICS_HISTOGRAM)
        return RESIL_EINVAL;
    if (!resil__mx_valid_name(o->name, true) || base_len(o->type, o->name) == 0)
        return RESIL_EINVAL;
    if (o->help && !valid_utf8(o->help))
        return RESIL_EINVAL;
    if (check_labels(o) != 0 || check_rate(o) != 0)
        return RESIL_EINVAL;
    memset(hp, 0, sizeof *hp);
    if (o->type == RESIL_METRICS_HISTOGRAM)
        return resil__mx_hparams_init(hp, o->rel_error, o->min_value, o->max_value);
    return 0;
}

static mx_family *family_search(const resil_metrics *m, const char *name, size_t n,
                                size_t *at)
{
    size_t lo = 0, hi = m->nfams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *fn = m->fams[mid]->name;
        int c = strncmp(fn, name, n);
        if (c == 0 && fn[n] != '\0')
            c = 1;
        if (c == 0) {
            *at = mid;
            return m->fams[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return NULL;
}

static bool bounds_equal(const mx_family *f, const resil_metrics_family_opts *o)
{
    size_t n = o->nbounds;
    const double *b = o->bounds ? o->bounds : resil__mx_default_bounds(&n);
    return n == f->nbounds && memcmp(b, f->bounds, n * sizeof *b) == 0;
}

/* Whether o describes exactly family f (help aside). */
static bool family_same(const mx_family *f, const resil_metrics_family_opts *o,
                        const mx_hparams *hp)
{
    uint32_t cap = o->max_series ? o->max_series : f->reg->max_series;
    if (f->type != o->type || f->nlabels != o->nlabels || f->max_series != cap ||
        (f->history != 0) != (o->history != 0) ||
        f->rate_window_ns != o->rate_window_ns ||
        (o->rate_window_ns && f->rate_bucket_ns != o->rate_bucket_ns))
        return false;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (strcmp(f->labels[i], o->labels[i]) != 0)
            return false;
    }
    if (f->type != RESIL_METRICS_HISTOGRAM)
        return true;
    return resil__mx_hparams_equal(&f->hp, hp) && bounds_equal(f, o);
}

/* The sample names a family exposes are base + one of these suffixes; two
 * families may not share one (a gauge "x_sum" beside a histogram "x"). */
static const char *const sample_sfx[3][4] = {
    {"_total", NULL}, {"", NULL}, {"_bucket", "_sum", "_count", NULL}};

static bool cat_eq(const char *a, size_t an, const char *as, const char *b, size_t bn,
                   const char *bs)
{
    size_t al = an + strlen(as), bl = bn + strlen(bs);
    if (al != bl)
        return false;
    for (size_t i = 0; i < al; i++) {
        char x = i < an ? a[i] : as[i - an];
        char y = i < bn ? b[i] : bs[i - bn];
        if (x != y)
            return false;
    }
    return true;
}

static bool name_conflict(const resil_metrics *m, resil_metrics_type type,
                          const char *name, size_t n)
{
    for (size_t i = 0; i < m->nfams; i++) {
        const mx_family *f = m->fams[i];
        for (const char *const *x = sample_sfx[f->type]; *x; x++) {
            for (const char *const *y = sample_sfx[type]; *y; y++) {
                if (cat_eq(f->name, strlen(f->name), *x, name, n, *y))
                    return true;
            }
        }
    }
    return false;
}

static char **labels_copy(const resil_metrics_family_opts *o)
{
    char **l = resil__calloc(o->nlabels ? o->nlabels : 1, sizeof *l);
    for (size_t i = 0; l && i < o->nlabels; i++) {
        l[i] = resil__strdup(o->labels[i]);
        if (!l[i]) {
            for (size_t j = 0; j < i; j++)
                resil__free(l[j]);
            resil__free(l);
            return NULL;
        }
    }
    return l;
}

static int family_alloc(resil_metrics *m, const resil_metrics_family_opts *o,
                        const mx_hparams *hp, mx_family **out)
{
    size_t n = base_len(o->type, o->name);
    mx_family *f = resil__calloc(1, sizeof *f);
    if (!f)
        return RESIL_ENOMEM;
    f->reg = m;
    f->type = o->type;
    f->hp = *hp;
    f->max_series = o->max_series ? o->max_series : m->max_series;
    f->history = o->history != 0;
    f->rate_window_ns = o->rate_window_ns;
    f->rate_bucket_ns = o->rate_window_ns ? o->rate_bucket_ns : 0;
    f->name = resil__malloc(n + 1);
    f->help = resil__strdup(o->help);
    f->labels = labels_copy(o);
    if (!f->name || !f->help || !f->labels)
        goto out_free;
    memcpy(f->name, o->name, n);
    f->name[n] = '\0';
    f->nlabels = o->nlabels;
    if (o->type == RESIL_METRICS_HISTOGRAM) {
        int rc = resil__mx_bounds_init(f, o->bounds, o->bounds ? o->nbounds : 0);
        if (rc != 0) {
            family_free(f);
            return rc;
        }
    }
    *out = f;
    return 0;
out_free:
    family_free(f);
    return RESIL_ENOMEM;
}

static int family_insert(resil_metrics *m, size_t at, mx_family *f)
{
    if (m->nfams == m->fcap) {
        size_t cap = m->fcap ? m->fcap * 2 : 8;
        mx_family **a = resil__realloc(m->fams, cap * sizeof *a);
        if (!a)
            return RESIL_ENOMEM;
        m->fams = a;
        m->fcap = cap;
    }
    memmove(&m->fams[at + 1], &m->fams[at], (m->nfams - at) * sizeof *m->fams);
    m->fams[at] = f;
    m->nfams++;
    m->bytes += sizeof *f + strlen(f->name) + strlen(f->help) + 2 +
                f->nbounds * (sizeof *f->bounds + sizeof *f->bound_cut + sizeof *f->le);
    return 0;
}

/* Lock held. */
static int family_define(resil_metrics *m, const resil_metrics_family_opts *o,
                         const mx_hparams *hp, mx_family **out)
{
    size_t at, n = base_len(o->type, o->name);
    mx_family *f = family_search(m, o->name, n, &at);
    if (f) {
        if (!family_same(f, o, hp))
            return RESIL_EEXIST;
        *out = f;
        return 0;
    }
    if (name_conflict(m, o->type, o->name, n))
        return RESIL_EEXIST;
    if (m->nfams >= m->max_families)
        return RESIL_EFULL;
    int rc = family_alloc(m, o, hp, &f);
    if (rc != 0)
        return rc;
    rc = family_insert(m, at, f);
    if (rc != 0) {
        family_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int resil_metrics_family_new(resil_metrics *m, const resil_metrics_family_opts *o,
                             resil_metrics_family **out)
{
    mx_hparams hp;
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!m || !o)
        return RESIL_EINVAL;
    int rc = family_check(o, &hp);
    if (rc != 0)
        return rc;
    resil__mx_lock(m);
    rc = family_define(m, o, &hp, out);
    resil__mx_unlock(m);
    return rc;
}

int resil_metrics_family_find(resil_metrics *m, const char *name,
                              resil_metrics_family **out)
{
    size_t at;
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!m || !name)
        return RESIL_EINVAL;
    resil__mx_lock(m);
    mx_family *f = family_search(m, name, strlen(name), &at);
    if (!f) {
        size_t n = base_len(RESIL_METRICS_COUNTER, name);
        f = family_search(m, name, n, &at);
        if (f && (n == strlen(name) || f->type != RESIL_METRICS_COUNTER))
            f = NULL;
    }
    resil__mx_unlock(m);
    *out = f;
    return f ? 0 : RESIL_ENOENT;
}

void resil_metrics_family_stats_get(resil_metrics_family *f,
                                    resil_metrics_family_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!f)
        return;
    resil__mx_lock(f->reg);
    st->type = f->type;
    st->series = f->nseries;
    st->max_series = f->max_series;
    st->overflows = f->overflows;
    resil__mx_unlock(f->reg);
}

/* ---- shortcuts: one series, no labels ----------------------------------- */

static int family_plain(resil_metrics *m, resil_metrics_type type, const char *name,
                        const char *help, mx_family **f)
{
    resil_metrics_family_opts o;
    resil_metrics_family_opts_init(&o);
    o.type = type;
    o.name = name;
    o.help = help;
    return resil_metrics_family_new(m, &o, f);
}

int resil_metrics_counter_new(resil_metrics *m, const char *name, const char *help,
                              resil_metrics_counter **out)
{
    mx_family *f;
    if (out)
        *out = NULL;
    int rc = family_plain(m, RESIL_METRICS_COUNTER, name, help, &f);
    return rc ? rc : resil_metrics_counter_get(f, NULL, out);
}

int resil_metrics_gauge_new(resil_metrics *m, const char *name, const char *help,
                            resil_metrics_gauge **out)
{
    mx_family *f;
    if (out)
        *out = NULL;
    int rc = family_plain(m, RESIL_METRICS_GAUGE, name, help, &f);
    return rc ? rc : resil_metrics_gauge_get(f, NULL, out);
}

int resil_metrics_histogram_new(resil_metrics *m, const char *name, const char *help,
                                resil_metrics_histogram **out)
{
    mx_family *f;
    if (out)
        *out = NULL;
    int rc = family_plain(m, RESIL_METRICS_HISTOGRAM, name, help, &f);
    return rc ? rc : resil_metrics_histogram_get(f, NULL, out);
}
