/* GCRA (generic cell rate algorithm, ITU-T I.371) arithmetic shared by
 * resil_limiter and resil_keyed_limiter; not installed.
 *
 * A bucket is one number, its TAT ("theoretical arrival time"): the time at
 * which it would be full again.  A request for n tokens at time now gives
 *     next = max(tat, now) + n * T          (T: time per token)
 * and is granted iff next - now <= tau     (tau = burst * T), storing next.
 * When refused, next - now - tau is how long until it would be granted.
 *
 * Unit of time: the tick, a fixed fraction 2^-shift of one token, counted
 * from the limiter's creation (the origin).  Because T is exactly 2^shift
 * ticks, granting tokens adds no rounding error however many are granted:
 * the only rounding is converting `now` from ns to ticks, which is done
 * afresh on every call (to the nearest tick) and so never accumulates.
 * A design with T in (fractions of) ns would round T itself, and that
 * error grows with every token: at 3e8/s with T in 1/256 ns it is ~117k
 * tokens per second of traffic.
 *
 * Range and error: shift is chosen so that a tick is 1/4..1/2 ns (2..4
 * ticks per ns) -- finer than any ns timestamp -- unless the bucket is so
 * deep that tau would not fit in 2^61 ticks (only when burst / rate > ~36
 * years, e.g. rate 0.001/s with burst > 1.15M): then ticks get coarser.
 * Times are taken within +-2^59 ns (18.2 years) of the origin; beyond that
 * the limiter's time stands still.  The ns->tick factor is a 61-bit fixed
 * point copy of rate * 2^shift / 1e9 (a double): the effective rate is off
 * by at most ~1e-16 relative, and a time is off by at most half a tick plus
 * that.  |ticks| <= 2^61 and tat <= 2^61 + tau <= 2^62, so no sum below
 * can overflow int64. */
#ifndef RESIL_GCRA_H
#define RESIL_GCRA_H

#include "internal.h"

#include <string.h>

#define RESIL__GCRA_SPAN_NS (INT64_C(1) << 59)
#define RESIL__GCRA_MAX_TICKS (INT64_C(1) << 61)
#define RESIL__GCRA_FRAC 61
/* A TAT before every representable time: the bucket is full. */
#define RESIL__GCRA_FULL_TAT (-(INT64_C(1) << 62))

typedef struct resil__gcra {
    int64_t origin; /* ns on the clock of tick 0 */
    uint64_t mult;  /* ticks per ns, fixed point, RESIL__GCRA_FRAC bits */
    int64_t tau;    /* burst << shift: the tolerance, in ticks */
    uint32_t shift; /* one token is 2^shift ticks */
    uint32_t burst;
    double ns_per_tick; /* only for wait hints (the refusal path) */
} resil__gcra;

/* hi:lo = a * b, 128 bits. */
static inline void resil__mul128(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
#if defined(__SIZEOF_INT128__) && !defined(RESIL__NO_INT128)
    unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
#else
    const uint64_t m32 = UINT64_C(0xffffffff);
    uint64_t ll = (a & m32) * (b & m32);
    uint64_t lh = (a & m32) * (b >> 32);
    uint64_t hl = (a >> 32) * (b & m32);
    uint64_t hh = (a >> 32) * (b >> 32);
    uint64_t mid = (ll >> 32) + (lh & m32) + (hl & m32);
    *lo = (mid << 32) | (ll & m32);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* Validates rate and burst (RESIL_EINVAL) and fills g for a limiter whose
 * tick 0 is at origin. */
static inline int resil__gcra_init(resil__gcra *g, double rate, uint32_t burst,
                                   int64_t origin)
{
    /* written so that NaN fails */
    if (!(rate >= 0.001 && rate <= 1e9) || burst < 1)
        return RESIL_EINVAL;
    uint32_t shift = 0;
    while (rate * (double)(UINT64_C(1) << shift) < 2e9)
        shift++; /* ends at <= 41 for rate >= 0.001 */
    while (shift > 0 && (uint64_t)burst > ((uint64_t)RESIL__GCRA_MAX_TICKS >> shift))
        shift--;
    double tokens_per_ns = rate / 1e9;
    double ticks_per_ns = tokens_per_ns * (double)(UINT64_C(1) << shift); /* < 4 */
    memset(g, 0, sizeof *g);
    g->origin = origin;
    g->mult = (uint64_t)(ticks_per_ns * 0x1p61);
    g->tau = (int64_t)burst << shift;
    g->shift = shift;
    g->burst = burst;
    g->ns_per_tick = (1e9 / rate) / (double)(UINT64_C(1) << shift);
    return 0;
}

/* now (ns on the clock) in ticks since the origin, rounded to nearest;
 * monotonic in now. */
static inline int64_t resil__gcra_ticks(const resil__gcra *g, int64_t now)
{
    int before = now < g->origin;
    uint64_t d = before ? (uint64_t)g->origin - (uint64_t)now
                        : (uint64_t)now - (uint64_t)g->origin;
    if (d > (uint64_t)RESIL__GCRA_SPAN_NS)
        d = (uint64_t)RESIL__GCRA_SPAN_NS;
    uint64_t hi, lo;
    resil__mul128(d, g->mult, &hi, &lo); /* < 2^122 */
    uint64_t half = UINT64_C(1) << (RESIL__GCRA_FRAC - 1);
    uint64_t lo2 = lo + half;
    hi += lo2 < lo;
    uint64_t t = (hi << (64 - RESIL__GCRA_FRAC)) | (lo2 >> RESIL__GCRA_FRAC);
    return before ? -(int64_t)t : (int64_t)t;
}

/* The TAT after granting n (<= burst) tokens at now_t. */
static inline int64_t resil__gcra_next(const resil__gcra *g, int64_t tat, int64_t now_t,
                                       uint32_t n)
{
    int64_t base = tat > now_t ? tat : now_t;
    return base + ((int64_t)n << g->shift);
}

/* Ticks by which next overshoots the tolerance: > 0 means refused. */
static inline int64_t resil__gcra_excess(const resil__gcra *g, int64_t next,
                                         int64_t now_t)
{
    return next - now_t - g->tau;
}

/* How long after now (ns) a request refused with excess (> 0 ticks) would
 * be granted: the least w >= 1 with ticks(now + w) >= ticks(now) + excess.
 * The estimate from the tick length is always enough (see the rounding
 * argument below) and at most one ns too long while ticks are finer than
 * 1 ns, which the bounded steps down correct; the steps up only guard the
 * last bit of floating-point error. */
static inline int64_t resil__gcra_wait_ns(const resil__gcra *g, int64_t now,
                                          int64_t excess)
{
    double est = (double)excess * g->ns_per_tick;
    if (est >= 0x1p62)
        return INT64_MAX;
    int64_t w = (int64_t)est;
    if ((double)w < est)
        w++;
    if (w < 1)
        w = 1;
    /* With x the exact ticks of now, now_t = floor(x + 1/2), so x >= now_t
     * - 1/2, and floor(x + w * ticks_per_ns + 1/2) >= now_t + excess as soon
     * as w * ticks_per_ns >= excess: the estimate is enough. */
    int64_t target = resil__gcra_ticks(g, now) + excess;
    for (int i = 0; i < 2 && w > 1; i++) {
        if (resil__gcra_ticks(g, resil__add_sat(now, w - 1)) < target)
            break;
        w--;
    }
    for (int i = 0; i < 2; i++) {
        if (resil__gcra_ticks(g, resil__add_sat(now, w)) >= target)
            break;
        w++;
    }
    return w;
}

/* Tokens in the bucket at now_t, 0..burst. */
static inline double resil__gcra_available(const resil__gcra *g, int64_t tat,
                                           int64_t now_t)
{
    if (tat <= now_t)
        return (double)g->burst;
    double debt = (double)(tat - now_t) / (double)(UINT64_C(1) << g->shift);
    double avail = (double)g->burst - debt;
    return avail > 0.0 ? avail : 0.0;
}

/* zeroed memory of size bytes starting on a cache line, so a hot object
 * shares its line with nothing else; *mem gets the block to free. */
#define RESIL__LINE 64
static inline void *resil__alloc_line(size_t size, void **mem)
{
    *mem = NULL;
    if (size > SIZE_MAX - RESIL__LINE)
        return NULL;
    void *p = resil__calloc(1, size + RESIL__LINE - 1);
    if (!p)
        return NULL;
    *mem = p;
    uintptr_t a = ((uintptr_t)p + RESIL__LINE - 1) & ~(uintptr_t)(RESIL__LINE - 1);
    return (void *)a;
}

#endif /* RESIL_GCRA_H */
