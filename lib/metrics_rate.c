/* Windowed rates of counters and the history ring of series.
 *
 * A rate is a ring of time buckets (rate_bucket_ns wide) each holding the
 * bucket's number, truncated to 32 bits, and its event count in one atomic
 * word, so moving a slot to a new bucket and counting into it is a single
 * compare-and-swap with no lock and no separate "current bucket" to race
 * on.  A window of n buckets is the current one and the n - 1 before it. */
#include "metrics_internal.h"

#define COUNT_MASK UINT64_C(0xffffffff)

int resil__mx_rate_new(mx_series *s)
{
    const mx_family *f = s->fam;
    uint32_t n = (uint32_t)(f->rate_window_ns / f->rate_bucket_ns);
    s->rate = resil__calloc(1, sizeof *s->rate + n * sizeof s->rate->slot[0]);
    if (!s->rate)
        return RESIL_ENOMEM;
    s->rate->bucket_ns = f->rate_bucket_ns;
    s->rate->nslots = n;
    for (uint32_t i = 0; i < n; i++)
        atomic_init(&s->rate->slot[i], 0);
    return 0;
}

static uint64_t bucket_of(const mx_rate *r, int64_t now)
{
    return now > 0 ? (uint64_t)(now / r->bucket_ns) : 0;
}

void resil__mx_rate_mark(mx_rate *r, int64_t now, uint64_t n)
{
    uint64_t bucket = bucket_of(r, now);
    uint32_t e = (uint32_t)bucket;
    _Atomic uint64_t *slot = &r->slot[bucket % r->nslots];
    uint64_t add = n > COUNT_MASK ? COUNT_MASK : n;
    /* relaxed: the word is self-contained, nothing else is published */
    uint64_t w = atomic_load_explicit(slot, memory_order_relaxed);
    uint64_t nw;
    do {
        uint32_t we = (uint32_t)(w >> 32);
        /* a slot already moved past our bucket (a caller with an older
         * `now`) takes the events rather than losing them */
        if (we == e || (int32_t)(e - we) < 0) {
            uint64_t c = (w & COUNT_MASK) + add;
            nw = (w & ~COUNT_MASK) | (c > COUNT_MASK ? COUNT_MASK : c);
        } else {
            nw = ((uint64_t)e << 32) | add;
        }
    } while (!atomic_compare_exchange_weak_explicit(slot, &w, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
}

int resil__mx_rate_read(const mx_series *s, int64_t now, int64_t window_ns,
                        resil_metrics_rate *r)
{
    const mx_rate *rt = s->rate;
    memset(r, 0, sizeof *r);
    if (!rt || window_ns < 0)
        return RESIL_EINVAL;
    if (window_ns == 0)
        window_ns = s->fam->rate_window_ns;
    int64_t nwin = (window_ns + rt->bucket_ns - 1) / rt->bucket_ns;
    if (nwin > (int64_t)rt->nslots)
        return RESIL_ERANGE;
    uint32_t cur = (uint32_t)bucket_of(rt, now);
    for (uint32_t i = 0; i < rt->nslots; i++) {
        uint64_t w = atomic_load_explicit(&rt->slot[i], memory_order_relaxed);
        if ((uint32_t)(cur - (uint32_t)(w >> 32)) < (uint32_t)nwin)
            r->events += w & COUNT_MASK;
    }
    r->window_ns = nwin * rt->bucket_ns;
    r->per_sec = (double)r->events / ((double)r->window_ns / 1e9);
    r->per_min = r->per_sec * 60;
    return 0;
}

int resil_metrics_counter_rate(resil_metrics_counter *c, int64_t window_ns,
                               resil_metrics_rate *r)
{
    mx_series *s = mx_s(c);
    if (!s || !r || s->fam->type != RESIL_METRICS_COUNTER) {
        if (r)
            memset(r, 0, sizeof *r);
        return RESIL_EINVAL;
    }
    return resil__mx_rate_read(s, resil_clock_now(s->reg->clock), window_ns, r);
}

/* ---- history -------------------------------------------------------------- */

int resil__mx_ring_new(mx_series *s)
{
    uint32_t len = s->reg->history_len;
    s->ring = resil__calloc(1, sizeof *s->ring + len * sizeof s->ring->pts[0]);
    if (!s->ring)
        return RESIL_ENOMEM;
    s->ring->len = len;
    return 0;
}

static const resil_metrics_point *ring_last(const mx_ring *r)
{
    return r->count ? &r->pts[(r->head + r->len - 1) % r->len] : NULL;
}

/* The point of one series now (lock held); counts: a buffer of nb + 1. */
static void point_of(mx_series *s, int64_t now, uint64_t *counts, resil_metrics_point *p)
{
    *p = (resil_metrics_point){.t_ns = now};
    if (s->fam->type == RESIL_METRICS_GAUGE) {
        p->value = mx_u2f(atomic_load_explicit(&s->gauge, memory_order_relaxed));
        return;
    }
    if (s->fam->type == RESIL_METRICS_COUNTER) {
        p->value = (double)resil__mx_read(s->reg, s->slot, MX_ADD);
    } else {
        mx_hsnap snap = {.counts = counts};
        resil__mx_hist_read(s, &snap);
        p->value = (double)snap.count;
        p->sum = snap.sum;
        p->p50 = resil__mx_hist_quantile(&s->fam->hp, &snap, 0.5);
        p->p90 = resil__mx_hist_quantile(&s->fam->hp, &snap, 0.9);
        p->p99 = resil__mx_hist_quantile(&s->fam->hp, &snap, 0.99);
    }
    const resil_metrics_point *prev = ring_last(s->ring);
    if (prev && now > prev->t_ns)
        p->rate = (p->value - prev->value) / ((double)(now - prev->t_ns) / 1e9);
}

static void ring_push(mx_ring *r, const resil_metrics_point *p)
{
    r->pts[r->head] = *p;
    r->head = (r->head + 1) % r->len;
    if (r->count < r->len)
        r->count++;
}

/* The largest histogram of a family with history, for one buffer. */
static uint32_t history_max_nb(const resil_metrics *m)
{
    uint32_t nb = 0;
    for (size_t i = 0; i < m->nfams; i++) {
        const mx_family *f = m->fams[i];
        if (f->history && f->type == RESIL_METRICS_HISTOGRAM && f->hp.nb > nb)
            nb = f->hp.nb;
    }
    return nb;
}

int resil_metrics_history_tick(resil_metrics *m)
{
    if (!m)
        return RESIL_EINVAL;
    resil__mx_collect(m);
    resil__mx_lock(m);
    uint64_t *counts = resil__calloc((size_t)history_max_nb(m) + 1, sizeof *counts);
    if (!counts) {
        resil__mx_unlock(m);
        return RESIL_ENOMEM;
    }
    int64_t now = resil_clock_now(m->clock);
    resil__mx_compact(m);
    for (size_t i = 0; i < m->nfams; i++) {
        mx_family *f = m->fams[i];
        for (size_t j = 0; f->history && j < f->nseries; j++) {
            resil_metrics_point p;
            point_of(f->series[j], now, counts, &p);
            ring_push(f->series[j]->ring, &p);
        }
    }
    resil__mx_unlock(m);
    resil__free(counts);
    return 0;
}

int resil_metrics_history_get(resil_metrics_family *fh, const char *const *values,
                              resil_metrics_point *pts, size_t cap, size_t *n)
{
    mx_family *f = fh;
    mx_series *s = NULL;
    if (n)
        *n = 0;
    if (!f || !n || (cap && !pts))
        return RESIL_EINVAL;
    if (!f->history)
        return RESIL_EINVAL;
    int rc = resil__mx_series_find(f, values, &s);
    if (rc != 0)
        return rc;
    resil__mx_lock(f->reg);
    const mx_ring *r = s->ring;
    size_t k = r->count < cap ? r->count : cap;
    size_t first = (r->head + r->len - k) % r->len;
    for (size_t i = 0; i < k; i++)
        pts[i] = r->pts[(first + i) % r->len];
    resil__mx_unlock(f->reg);
    *n = k;
    return 0;
}
