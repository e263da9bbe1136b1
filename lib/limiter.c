/* Token-bucket rate limiter: GCRA on one atomic word (see gcra.h).
 *
 * Hot path of try_acquire_at, allowed: a tick conversion (one 64x64->128
 * multiply), a relaxed load of the TAT, a compare, one CAS, and one relaxed
 * fetch_add on the `allowed` counter.  Refused: the load, the compare and
 * one relaxed fetch_add on `rejected`, plus, if the caller wants the wait,
 * a few more tick conversions.  Everything the hot path touches is on one
 * cache line of its own, so under contention an operation moves one line.
 *
 * The allowed counter is the only cost not needed for limiting (a locked
 * add on x86: measured ~6 of the ~13 ns of an allowed call, one thread,
 * -O2).  It cannot be derived from the TAT:
 * the TAT also jumps forward over idle time (max(tat, now)), and keeping
 * that sum instead would cost the same atomic add whenever the bucket is
 * full, i.e. on every call of a limiter that is not limiting. */
#include "gcra.h"

#include <stddef.h>
#include <string.h>

struct resil_limiter {
    /* line 0: everything the hot path reads or writes */
    _Atomic int64_t tat;
    _Atomic uint64_t allowed;
    _Atomic uint64_t rejected;
    const resil_clock *clock;
    resil__gcra g; /* its last field, ns_per_tick, spills to line 1 */
    void *mem;
};
_Static_assert(offsetof(struct resil_limiter, g) + offsetof(resil__gcra, ns_per_tick) <=
                   RESIL__LINE,
               "hot fields of resil_limiter fit in one cache line");

void resil_limiter_opts_init(resil_limiter_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->rate = 10.0;
    o->burst = 10;
}

int resil_limiter_new(const resil_limiter_opts *o, resil_limiter **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o)
        return RESIL_EINVAL;
    resil__gcra g;
    int rc = resil__gcra_init(&g, o->rate, o->burst, resil_clock_now(o->clock));
    if (rc)
        return rc;
    void *mem;
    struct resil_limiter *l = resil__alloc_line(sizeof *l, &mem);
    if (!l)
        return RESIL_ENOMEM;
    atomic_init(&l->tat, RESIL__GCRA_FULL_TAT);
    atomic_init(&l->allowed, 0);
    atomic_init(&l->rejected, 0);
    l->clock = o->clock;
    l->g = g;
    l->mem = mem;
    *out = l;
    return 0;
}

void resil_limiter_free(resil_limiter *l)
{
    if (!l)
        return;
    resil__free(l->mem);
}

/* Takes n tokens at now if they are there (and counts them), else sets
 * *excess (ticks, > 0) and counts nothing: the callers decide whether a
 * refusal is final. */
static inline int take(resil_limiter *l, int64_t now, uint32_t n, int64_t *excess)
{
    int64_t now_t = resil__gcra_ticks(&l->g, now);
    /* relaxed throughout: the TAT guards no other memory, and each decision
     * depends only on the value the CAS replaces, which atomicity alone
     * makes consistent (a stale load just makes the CAS fail and retry). */
    int64_t tat = atomic_load_explicit(&l->tat, memory_order_relaxed);
    for (;;) {
        int64_t next = resil__gcra_next(&l->g, tat, now_t, n);
        int64_t over = resil__gcra_excess(&l->g, next, now_t);
        if (over > 0) {
            *excess = over;
            return RESIL_ELIMIT;
        }
        if (atomic_compare_exchange_weak_explicit(
                &l->tat, &tat, next, memory_order_relaxed, memory_order_relaxed))
            break;
    }
    /* relaxed: a statistic; it orders nothing */
    atomic_fetch_add_explicit(&l->allowed, n, memory_order_relaxed);
    return 0;
}

static inline int try_at(resil_limiter *l, int64_t now, uint32_t n, int64_t *wait_ns)
{
    int64_t excess;
    if (take(l, now, n, &excess) == 0) {
        if (wait_ns)
            *wait_ns = 0;
        return 0;
    }
    /* relaxed: a statistic */
    atomic_fetch_add_explicit(&l->rejected, n, memory_order_relaxed);
    if (wait_ns)
        *wait_ns = resil__gcra_wait_ns(&l->g, now, excess);
    return RESIL_ELIMIT;
}

int resil_limiter_try_acquire_at(resil_limiter *l, int64_t now, uint32_t n,
                                 int64_t *wait_ns)
{
    if (!l || n == 0 || n > l->g.burst)
        return RESIL_EINVAL;
    return try_at(l, now, n, wait_ns);
}

int resil_limiter_try_acquire(resil_limiter *l, uint32_t n, int64_t *wait_ns)
{
    if (!l || n == 0 || n > l->g.burst)
        return RESIL_EINVAL;
    return try_at(l, resil_clock_now(l->clock), n, wait_ns);
}

int resil_limiter_acquire(resil_limiter *l, uint32_t n, int64_t deadline)
{
    if (!l || n == 0 || n > l->g.burst)
        return RESIL_EINVAL;
    /* Loop: another thread may take the tokens while we sleep, and then
     * the next wait is judged against the deadline afresh. */
    for (;;) {
        int64_t now = resil_clock_now(l->clock);
        int64_t excess;
        if (take(l, now, n, &excess) == 0)
            return 0;
        int64_t wait = resil__gcra_wait_ns(&l->g, now, excess);
        if (deadline != RESIL_TIME_NEVER && resil__add_sat(now, wait) > deadline) {
            /* relaxed: a statistic */
            atomic_fetch_add_explicit(&l->rejected, n, memory_order_relaxed);
            return RESIL_ETIMEDOUT;
        }
        resil_clock_sleep(l->clock, wait);
    }
}

void resil_limiter_stats_get(resil_limiter *l, resil_limiter_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!l)
        return;
    /* relaxed: a snapshot of independent counters, not a consistent cut */
    st->allowed = atomic_load_explicit(&l->allowed, memory_order_relaxed);
    st->rejected = atomic_load_explicit(&l->rejected, memory_order_relaxed);
    int64_t now_t = resil__gcra_ticks(&l->g, resil_clock_now(l->clock));
    int64_t tat = atomic_load_explicit(&l->tat, memory_order_relaxed);
    st->available = resil__gcra_available(&l->g, tat, now_t);
    st->utilisation = 1.0 - st->available / (double)l->g.burst;
}
