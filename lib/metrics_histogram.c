/* Histograms: a log-linear sketch with a relative-error guarantee.
 *
 * DDSketch (Masson, Rim, Lee, VLDB 2019) maps v to ceil(log_gamma v) with
 * gamma = (1 + a) / (1 - a); any value in a bucket is then within a of the
 * bucket's representative.  A logarithm per record costs ~20 ns, so the
 * index here is DDSketch's linearly interpolated variant: the exponent of
 * v plus its mantissa cut into k equal steps.  A bucket then spans at most a
 * factor 1 + 1/k (the first step of a binade is the widest), so any
 * k >= (1 - a) / (2a) keeps it within gamma.  Taking k a power of two
 * (HdrHistogram's trick) makes the index one shift of the IEEE bits:
 * positive doubles order like their bits, exponent above mantissa.  The
 * price is up to 2 / ln 2 = 2.9 times the buckets of the exact logarithm
 * (64 per power of two at 1 %), and an error somewhat below a. */
#include "metrics_internal.h"

#include <stdlib.h>

#define MANT_BITS 52

/* The Prometheus client libraries' default buckets. */
static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,    2.5,   5,    10};

/* The bucket of v: 0 below min_value (zero, negatives: negative as int64),
 * nb from max_value up, else the shifted bits. */
static inline uint32_t hp_bucket(const mx_hparams *hp, double v)
{
    int64_t b = (int64_t)mx_f2u(v);
    if (b < hp->min_bits)
        return 0;
    if (b >= hp->max_bits)
        return hp->nb;
    return (uint32_t)(((uint64_t)b >> (MANT_BITS - hp->shift)) - hp->base);
}

/* L(v) for a positive normal v. */
static int64_t hp_index(const mx_hparams *hp, double v)
{
    return (int64_t)(mx_f2u(v) >> (MANT_BITS - hp->shift)) - 1023 * (int64_t)hp->k;
}

static double pow2(int64_t e)
{
    return mx_u2f((uint64_t)(e + 1023) << MANT_BITS);
}

int resil__mx_hparams_init(mx_hparams *hp, double a, double lo, double hi)
{
    if (!(a >= 0.0001 && a < 0.5) || !(lo >= 1e-300) || !(hi > lo) || !(hi <= 1e300))
        return RESIL_EINVAL;
    double need = (1 - a) / (2 * a);
    uint32_t shift = 0;
    while ((double)(UINT32_C(1) << shift) < need)
        shift++;
    *hp = (mx_hparams){.rel_error = a,
                       .min_value = lo,
                       .max_value = hi,
                       .k = UINT32_C(1) << shift,
                       .shift = shift};
    hp->min_bits = (int64_t)mx_f2u(lo);
    hp->max_bits = (int64_t)mx_f2u(hi);
    int64_t lmin = hp_index(hp, lo);
    int64_t span = hp_index(hp, hi) - lmin + 1;
    if (span > RESIL_METRICS_MAX_BUCKETS)
        return RESIL_EINVAL;
    hp->lmin = (int32_t)lmin;
    hp->nb = (uint32_t)span;
    hp->base = ((uint64_t)hp->min_bits >> (MANT_BITS - shift)) - 1;
    return 0;
}

int resil__mx_hparams_equal(const mx_hparams *a, const mx_hparams *b)
{
    return a->rel_error == b->rel_error && a->min_value == b->min_value &&
           a->max_value == b->max_value;
}

/* The representative of bucket b >= 1: 2*lo*hi/(lo+hi) is as far (relative)
 * from lo as from hi. */
double resil__mx_bucket_value(const mx_hparams *hp, uint32_t b)
{
    int64_t l = (int64_t)b - 1 + hp->lmin;
    int64_t k = hp->k;
    int64_t e = l >= 0 ? l / k : -((-l + k - 1) / k);
    double j = (double)(l - e * k);
    /* bucket b spans [2^e (1 + j/k), 2^e (1 + (j+1)/k)) */
    double base = pow2(e);
    double lo = base * (1 + j / (double)k);
    double hi = base * (1 + (j + 1) / (double)k);
    return 2 * lo * hi / (lo + hi);
}

const double *resil__mx_default_bounds(size_t *n)
{
    *n = sizeof default_bounds / sizeof default_bounds[0];
    return default_bounds;
}

int resil__mx_bounds_init(mx_family *f, const double *bounds, size_t n)
{
    if (!bounds) {
        bounds = default_bounds;
        n = sizeof default_bounds / sizeof default_bounds[0];
    }
    if (n == 0 || n > RESIL_METRICS_MAX_BOUNDS)
        return RESIL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!(bounds[i] > -1e308 && bounds[i] < 1e308) ||
            (i && !(bounds[i] > bounds[i - 1])))
            return RESIL_EINVAL;
    }
    f->bounds = resil__calloc(n, sizeof *f->bounds);
    f->bound_cut = resil__calloc(n, sizeof *f->bound_cut);
    f->le = resil__calloc(n, sizeof *f->le);
    if (!f->bounds || !f->bound_cut || !f->le)
        return RESIL_ENOMEM;
    memcpy(f->bounds, bounds, n * sizeof *bounds);
    f->nbounds = n;
    /* rendered once: the bounds never change, and formatting a double
     * shortest-first costs several printf calls */
    for (size_t i = 0; i < n; i++) {
        resil__mx_fmt_double(f->le[i][0], bounds[i], false);
        resil__mx_fmt_double(f->le[i][1], bounds[i], true);
    }
    /* representatives grow with b: binary search the last one <= bound */
    for (size_t i = 0; i < n; i++) {
        uint32_t lo = 0, hi = f->hp.nb;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo + 1) / 2;
            if (resil__mx_bucket_value(&f->hp, mid) <= bounds[i])
                lo = mid;
            else
                hi = mid - 1;
        }
        f->bound_cut[i] = lo;
    }
    return 0;
}

/* ---- recording ------------------------------------------------------------ */

__attribute__((noinline)) static void record_slow(mx_series *s, uint32_t b, double v,
                                                  uint64_t key)
{
    resil__mx_apply_slow(s, MX_H_SUM, MX_FADD, mx_f2u(v));
    resil__mx_apply_slow(s, MX_H_MIN, MX_MAX, ~key);
    resil__mx_apply_slow(s, MX_H_MAX, MX_MAX, key);
    resil__mx_apply_slow(s, MX_H_HDR + b, MX_ADD, 1);
}

/* Four owned cells: the bucket, the sum, and min/max, which are usually a
 * load and a compare with no store.  The header is 4-aligned so its three
 * cells share one leaf. */
void resil_metrics_histogram_record(resil_metrics_histogram *h, double v)
{
    mx_series *s = mx_s(h);
    if (!s || v != v)
        return;
    uint32_t b = hp_bucket(&s->fam->hp, v);
    uint64_t key = mx_key(v);
    mx_cell *hdr = mx_cell_fast(s->reg_id, s->slot);
    mx_cell *bc = mx_cell_fast(s->reg_id, s->slot + MX_H_HDR + b);
    if (!hdr || !bc) {
        record_slow(s, b, v, key);
        return;
    }
    mx_apply_owned(bc, MX_ADD, 1);
    mx_apply_owned(&hdr[MX_H_SUM], MX_FADD, mx_f2u(v));
    mx_apply_owned(&hdr[MX_H_MIN], MX_MAX, ~key);
    mx_apply_owned(&hdr[MX_H_MAX], MX_MAX, key);
}

void resil_metrics_histogram_record_ns(resil_metrics_histogram *h, int64_t ns)
{
    resil_metrics_histogram_record(h, (double)ns * 1e-9);
}

/* ---- reading -------------------------------------------------------------- */

void resil__mx_hist_read(mx_series *s, mx_hsnap *snap)
{
    resil_metrics *m = s->reg;
    uint32_t n = s->fam->hp.nb + 1;
    memset(snap->counts, 0, n * sizeof *snap->counts);
    resil__mx_read_range(m, s->slot + MX_H_HDR, n, snap->counts);
    snap->count = 0;
    for (uint32_t i = 0; i < n; i++)
        snap->count += snap->counts[i];
    snap->sum = mx_u2f(resil__mx_read(m, s->slot + MX_H_SUM, MX_FADD));
    uint64_t nmin = resil__mx_read(m, s->slot + MX_H_MIN, MX_MAX);
    snap->min_key = nmin ? ~nmin : 0;
    snap->max_key = resil__mx_read(m, s->slot + MX_H_MAX, MX_MAX);
}

/* The value of rank floor(q * (count - 1)) (0-based): the representative of
 * the bucket holding it, clamped to the exact min and max (which are the
 * answer for the first and last rank). */
double resil__mx_hist_quantile(const mx_hparams *hp, const mx_hsnap *snap, double q)
{
    if (snap->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(snap->count - 1));
    if (rank == 0)
        return mx_unkey(snap->min_key);
    if (rank >= snap->count - 1)
        return mx_unkey(snap->max_key);
    uint64_t cum = 0;
    uint32_t b = 0;
    for (; b < hp->nb; b++) {
        cum += snap->counts[b];
        if (cum > rank)
            break;
    }
    double v = b == 0 ? 0.0 : resil__mx_bucket_value(hp, b);
    double lo = mx_unkey(snap->min_key), hi = mx_unkey(snap->max_key);
    return v < lo ? lo : v > hi ? hi : v;
}

static int snap_alloc(const mx_series *s, mx_hsnap *snap)
{
    snap->counts = resil__calloc((size_t)s->fam->hp.nb + 1, sizeof *snap->counts);
    return snap->counts ? 0 : RESIL_ENOMEM;
}

static mx_series *hist_of(resil_metrics_histogram *h)
{
    mx_series *s = mx_s(h);
    return s && s->fam->type == RESIL_METRICS_HISTOGRAM ? s : NULL;
}

static int read_whole(mx_series *s, mx_hsnap *snap)
{
    if (snap_alloc(s, snap) != 0)
        return RESIL_ENOMEM;
    resil__mx_lock(s->reg);
    resil__mx_hist_read(s, snap);
    resil__mx_unlock(s->reg);
    return 0;
}

int resil_metrics_histogram_stats_get(resil_metrics_histogram *h,
                                      resil_metrics_histogram_stats *st)
{
    mx_series *s = hist_of(h);
    mx_hsnap snap;
    if (!s || !st)
        return RESIL_EINVAL;
    memset(st, 0, sizeof *st);
    if (read_whole(s, &snap) != 0)
        return RESIL_ENOMEM;
    const mx_hparams *hp = &s->fam->hp;
    st->count = snap.count;
    if (snap.count) {
        st->sum = snap.sum;
        st->min = mx_unkey(snap.min_key);
        st->max = mx_unkey(snap.max_key);
        st->mean = snap.sum / (double)snap.count;
        st->p50 = resil__mx_hist_quantile(hp, &snap, 0.5);
        st->p90 = resil__mx_hist_quantile(hp, &snap, 0.9);
        st->p95 = resil__mx_hist_quantile(hp, &snap, 0.95);
        st->p99 = resil__mx_hist_quantile(hp, &snap, 0.99);
        st->p999 = resil__mx_hist_quantile(hp, &snap, 0.999);
    }
    resil__free(snap.counts);
    return 0;
}

int resil_metrics_histogram_quantile(resil_metrics_histogram *h, double q, double *v)
{
    mx_series *s = hist_of(h);
    mx_hsnap snap;
    if (!s || !v || !(q >= 0 && q <= 1))
        return RESIL_EINVAL;
    *v = 0;
    if (read_whole(s, &snap) != 0)
        return RESIL_ENOMEM;
    int rc = snap.count ? 0 : RESIL_ENOENT;
    if (snap.count)
        *v = resil__mx_hist_quantile(&s->fam->hp, &snap, q);
    resil__free(snap.counts);
    return rc;
}

/* Every retired leaf the merge writes, first, so it applies all or none. */
static int merge_prepare(resil_metrics *m, const mx_series *d, const mx_hsnap *snap)
{
    if (resil__mx_retired_ensure(m, d->slot) != 0)
        return RESIL_ENOMEM;
    for (uint32_t b = 0; b <= d->fam->hp.nb; b++) {
        if (snap->counts[b] && resil__mx_retired_ensure(m, d->slot + MX_H_HDR + b) != 0)
            return RESIL_ENOMEM;
    }
    return 0;
}

static void merge_apply(resil_metrics *m, const mx_series *d, const mx_hsnap *snap)
{
    resil__mx_retired_apply(m, d->slot + MX_H_SUM, MX_FADD, mx_f2u(snap->sum));
    resil__mx_retired_apply(m, d->slot + MX_H_MIN, MX_MAX, ~snap->min_key);
    resil__mx_retired_apply(m, d->slot + MX_H_MAX, MX_MAX, snap->max_key);
    for (uint32_t b = 0; b <= d->fam->hp.nb; b++) {
        if (snap->counts[b])
            resil__mx_retired_apply(m, d->slot + MX_H_HDR + b, MX_ADD, snap->counts[b]);
    }
}

int resil_metrics_histogram_merge(resil_metrics_histogram *dst,
                                  resil_metrics_histogram *src)
{
    mx_series *d = hist_of(dst), *s = hist_of(src);
    mx_hsnap snap;
    if (!d || !s || d == s || !resil__mx_hparams_equal(&d->fam->hp, &s->fam->hp))
        return RESIL_EINVAL;
    /* src is read under its lock and written under dst's, never both held:
     * no lock order to get wrong when two registries merge both ways */
    if (read_whole(s, &snap) != 0)
        return RESIL_ENOMEM;
    int rc = 0;
    if (snap.count) {
        resil__mx_lock(d->reg);
        rc = merge_prepare(d->reg, d, &snap);
        if (rc == 0)
            merge_apply(d->reg, d, &snap);
        resil__mx_unlock(d->reg);
    }
    resil__free(snap.counts);
    return rc;
}
