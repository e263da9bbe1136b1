/* Retry budget in the style of Finagle's RetryBudget: retries may add at
 * most `ratio` of extra load over first attempts, plus a floor of
 * min_per_sec retries that is always allowed:
 *
 *     allowed  iff  retries_in_window < ratio * deposits_in_window
 *                                       + min_per_sec * window_seconds
 *
 * The window slides over a ring of NBUCKETS buckets of bucket_ns each on the
 * budget's clock: it holds the current (partial) bucket and the NBUCKETS - 1
 * before it, so an event counts for between (NBUCKETS - 1) and NBUCKETS
 * bucket widths.  bucket_ns is window_ns / NBUCKETS rounded up.
 *
 * Concurrency: a deposit happens on every run that has a budget, successes
 * included, so its common case is lock-free -- one clock read, one acquire
 * load and one relaxed fetch_add on the current bucket.  Moving the ring to
 * a new bucket, withdrawals (only on the retry path, where the caller is
 * about to sleep anyway) and statistics take the mutex. */
#include "internal.h"

#include <float.h>
#include <pthread.h>
#include <string.h>

#define NBUCKETS 10

struct bucket {
    _Atomic uint64_t deposits;
    uint64_t withdrawals; /* under mu */
};

struct resil_retry_budget {
    double ratio;
    double floor_retries;     /* min_per_sec * window seconds */
    int64_t bucket_ns;
    const resil_clock *clock;
    /* Index (time / bucket_ns) of the newest bucket.  Written only under
     * mu; read without it by the deposit fast path. */
    _Atomic int64_t head;
    pthread_mutex_t mu;
    /* under mu: */
    uint64_t retired_deposits; /* from buckets that left the window */
    uint64_t withdrawals;
    uint64_t refusals;
    struct bucket ring[NBUCKETS];
};

void resil_retry_budget_opts_init(resil_retry_budget_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->ratio = 0.2;
    o->min_per_sec = 10.0;
    o->window_ns = 10 * RESIL_NS_PER_SEC;
}

static bool opts_valid(const resil_retry_budget_opts *o)
{
    /* written so that NaN fails every test */
    if (!(o->ratio >= 0.0 && o->ratio <= 1000.0))
        return false;
    if (!(o->min_per_sec >= 0.0 && o->min_per_sec <= DBL_MAX))
        return false;
    return o->window_ns > 0;
}

static int64_t bucket_of(const struct resil_retry_budget *b, int64_t now)
{
    int64_t q = now / b->bucket_ns;
    return now % b->bucket_ns < 0 ? q - 1 : q; /* floor, for clocks below 0 */
}

static size_t slot_of(int64_t idx)
{
    int64_t m = idx % NBUCKETS;
    return (size_t)(m < 0 ? m + NBUCKETS : m);
}

int resil_retry_budget_new(const resil_retry_budget_opts *o, resil_retry_budget **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o || !opts_valid(o))
        return RESIL_EINVAL;
    struct resil_retry_budget *b = resil__calloc(1, sizeof *b);
    if (!b)
        return RESIL_ENOMEM;
    if (pthread_mutex_init(&b->mu, NULL) != 0)
        goto out_free;
    b->ratio = o->ratio;
    b->floor_retries = o->min_per_sec * ((double)o->window_ns / (double)RESIL_NS_PER_SEC);
    b->bucket_ns = o->window_ns / NBUCKETS + (o->window_ns % NBUCKETS != 0);
    b->clock = o->clock;
    for (size_t i = 0; i < NBUCKETS; i++)
        atomic_init(&b->ring[i].deposits, 0);
    atomic_init(&b->head, bucket_of(b, resil_clock_now(b->clock)));
    *out = b;
    return 0;

out_free:
    resil__free(b);
    return RESIL_ENOMEM;
}

void resil_retry_budget_free(resil_retry_budget *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    resil__free(b);
}

/* Under mu: make idx the newest bucket, emptying the ones it passes.  At
 * most NBUCKETS are emptied however far time jumped. */
static void advance_locked(struct resil_retry_budget *b, int64_t idx)
{
    int64_t head = atomic_load_explicit(&b->head, memory_order_relaxed); /* we are its only writer */
    if (idx <= head)
        return;
    int64_t first = idx - head > NBUCKETS ? idx - NBUCKETS + 1 : head + 1;
    for (int64_t i = first; i <= idx; i++) {
        struct bucket *k = &b->ring[slot_of(i)];
        /* exchange, not store: a racing deposit either lands before (and is
         * retired here) or after (and counts in the new bucket) -- never lost */
        b->retired_deposits +=
            atomic_exchange_explicit(&k->deposits, 0, memory_order_relaxed);
        k->withdrawals = 0;
    }
    /* release: a deposit that sees the new head also sees the emptied
     * buckets, so its add comes after the exchange */
    atomic_store_explicit(&b->head, idx, memory_order_release);
}

static void deposit_slow(struct resil_retry_budget *b, int64_t idx)
{
    pthread_mutex_lock(&b->mu);
    advance_locked(b, idx);
    int64_t head = atomic_load_explicit(&b->head, memory_order_relaxed); /* under mu */
    if (idx > head - NBUCKETS)
        atomic_fetch_add_explicit(&b->ring[slot_of(idx)].deposits, 1, memory_order_relaxed);
    else
        b->retired_deposits++; /* a reading so late its bucket has left */
    pthread_mutex_unlock(&b->mu);
}

void resil_retry_budget_deposit(resil_retry_budget *b)
{
    if (!b)
        return;
    int64_t idx = bucket_of(b, resil_clock_now(b->clock));
    /* acquire: pairs with the release in advance_locked */
    if (atomic_load_explicit(&b->head, memory_order_acquire) != idx) {
        deposit_slow(b, idx);
        return;
    }
    /* relaxed: a count; a thread stalled here for a whole window may add
     * it to a newer bucket, an error of one deposit */
    atomic_fetch_add_explicit(&b->ring[slot_of(idx)].deposits, 1, memory_order_relaxed);
}

struct window_sums {
    uint64_t deposits;
    uint64_t withdrawals;
};

static struct window_sums sums_locked(struct resil_retry_budget *b)
{
    struct window_sums s = {0, 0};
    for (size_t i = 0; i < NBUCKETS; i++) {
        /* relaxed: a snapshot of counters; exactness across threads is not
         * promised */
        s.deposits += atomic_load_explicit(&b->ring[i].deposits, memory_order_relaxed);
        s.withdrawals += b->ring[i].withdrawals;
    }
    return s;
}

static double allowance(const struct resil_retry_budget *b, struct window_sums s)
{
    return b->ratio * (double)s.deposits + b->floor_retries;
}

int resil_retry_budget_withdraw(resil_retry_budget *b)
{
    if (!b)
        return RESIL_EINVAL;
    int64_t idx = bucket_of(b, resil_clock_now(b->clock));
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    advance_locked(b, idx);
    struct window_sums s = sums_locked(b);
    if ((double)s.withdrawals < allowance(b, s)) {
        int64_t head = atomic_load_explicit(&b->head, memory_order_relaxed); /* under mu */
        b->ring[slot_of(head)].withdrawals++;
        b->withdrawals++;
    } else {
        b->refusals++;
        rc = RESIL_EBUDGET;
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void resil_retry_budget_stats_get(resil_retry_budget *b, resil_retry_budget_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!b)
        return;
    int64_t idx = bucket_of(b, resil_clock_now(b->clock));
    pthread_mutex_lock(&b->mu);
    advance_locked(b, idx);
    struct window_sums s = sums_locked(b);
    double avail = allowance(b, s) - (double)s.withdrawals;
    st->deposits = b->retired_deposits + s.deposits;
    st->withdrawals = b->withdrawals;
    st->refusals = b->refusals;
    st->available = avail > 0 ? avail : 0;
    pthread_mutex_unlock(&b->mu);
}
