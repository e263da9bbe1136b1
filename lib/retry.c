/* Retry policy: exponential backoff with jitter, an overall deadline, a
 * retryable predicate, the server's Retry-After hint, a shared budget and an
 * optional circuit breaker.
 *
 * A policy is immutable after resil_retry_new(); resil_retry_run() keeps all
 * of its state on the caller's stack, so one policy serves many threads.  The
 * only shared mutable words are the default generator's atomic counter and
 * the statistics, which a run adds to once, when it ends.
 *
 * Cost of a first-try success: the clock is read only when something needs
 * it -- a deadline (timeout_ns > 0), a breaker (the call's duration) or a
 * report (elapsed_ns).  With none of them the run is a call through fn, a
 * few branches and two relaxed atomic adds (the stop reason and the
 * attempts): no clock read, no allocation.  A budget costs one read of the
 * budget's clock and one relaxed atomic add (the deposit). */
#include "internal.h"

#include <float.h>
#include <string.h>

struct resil_retry {
    uint32_t max_attempts;
    resil_jitter jitter;
    int64_t base_ns;
    int64_t max_ns;
    double multiplier;
    int64_t timeout_ns;
    int64_t max_retry_after_ns;
    resil_retryable_fn retryable;
    void *retryable_ctx;
    resil_retry_budget *budget;
    resil_breaker *breaker;
    const resil_clock *clock;
    resil_sleep_fn sleep;
    void *sleep_ctx;
    resil_rand_fn rand;
    void *rand_ctx;
    resil__rng rng; /* used only when rand is NULL */
    /* Statistics, written by every run that ends: 64 bytes of padding on
     * each side keep them off the lines of the read-only fields above
     * whatever the allocator's alignment (alignas(64) would need an
     * aligned allocation).  Relaxed atomics: they are counts that guard no
     * data. */
    char pad0_[64];
    _Atomic uint64_t stops[RESIL_RETRY_BREAKER_OPEN + 1];
    _Atomic uint64_t attempts;
    _Atomic uint64_t retries;
    _Atomic uint64_t slept_ns; /* unsigned so that wrapping is defined */
    char pad1_[64];
};

void resil_retry_opts_init(resil_retry_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->max_attempts = 3;
    o->base_delay_ns = 100 * RESIL_NS_PER_MS;
    o->max_delay_ns = 10 * RESIL_NS_PER_SEC;
    o->multiplier = 2.0;
    o->jitter = RESIL_JITTER_FULL;
    o->timeout_ns = 0;
    o->max_retry_after_ns = 60 * RESIL_NS_PER_SEC;
}

static bool opts_valid(const resil_retry_opts *o)
{
    /* The double tests are written so that NaN fails them. */
    if (o->max_attempts < 1 || o->base_delay_ns < 0 || o->max_delay_ns < o->base_delay_ns)
        return false;
    if (!(o->multiplier >= 1.0 && o->multiplier <= DBL_MAX))
        return false;
    if ((unsigned)o->jitter > (unsigned)RESIL_JITTER_DECORRELATED)
        return false;
    return o->timeout_ns >= 0 && o->max_retry_after_ns >= 0;
}

int resil_retry_new(const resil_retry_opts *o, resil_retry **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o || !opts_valid(o))
        return RESIL_EINVAL;
    struct resil_retry *r = resil__calloc(1, sizeof *r);
    if (!r)
        return RESIL_ENOMEM;
    r->max_attempts = o->max_attempts;
    r->jitter = o->jitter;
    r->base_ns = o->base_delay_ns;
    r->max_ns = o->max_delay_ns;
    r->multiplier = o->multiplier;
    r->timeout_ns = o->timeout_ns;
    r->max_retry_after_ns = o->max_retry_after_ns;
    r->retryable = o->retryable;
    r->retryable_ctx = o->retryable_ctx;
    r->budget = o->budget;
    r->breaker = o->breaker;
    r->clock = o->clock;
    r->sleep = o->sleep;
    r->sleep_ctx = o->sleep_ctx;
    r->rand = o->rand;
    r->rand_ctx = o->rand_ctx;
    resil__rng_seed(&r->rng);
    *out = r;
    return 0;
}

void resil_retry_free(resil_retry *r)
{
    resil__free(r);
}

/* Relaxed loads: each counter is exact on its own; the header says a read
 * racing with runs that end may mix them. */
void resil_retry_stats_get(const resil_retry *r, resil_retry_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!r)
        return;
    /* the counters are the policy's one mutable part */
    struct resil_retry *w = (struct resil_retry *)r;
    for (size_t i = 0; i < sizeof st->stops / sizeof st->stops[0]; i++) {
        st->stops[i] = atomic_load_explicit(&w->stops[i], memory_order_relaxed);
        st->runs += st->stops[i];
    }
    st->successes = st->stops[RESIL_RETRY_SUCCEEDED];
    st->attempts = atomic_load_explicit(&w->attempts, memory_order_relaxed);
    st->retries = atomic_load_explicit(&w->retries, memory_order_relaxed);
    st->slept_ns =
        (int64_t)atomic_load_explicit(&w->slept_ns, memory_order_relaxed);
}

/* ---- delays ------------------------------------------------------------ */

/* High 64 bits of a 64x64-bit product, in portable C (no __int128). */
static uint64_t mulhi64(uint64_t a, uint64_t b)
{
    uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
    uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo;
    uint64_t hi_lo = a_hi * b_lo;
    uint64_t lo_hi = a_lo * b_hi;
    uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + lo_hi;
    return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
}

/* Uniform in [lo, hi] (inclusive) from 64 random bits: random * span / 2^64.
 * random == 0 gives lo and random == UINT64_MAX gives hi exactly. */
static int64_t uniform_in(int64_t lo, int64_t hi, uint64_t random)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)hi - (uint64_t)lo; /* fits: lo >= 0 */
    uint64_t off = span == UINT64_MAX ? random : mulhi64(random, span + 1);
    return lo + (int64_t)off;
}

/* min(max, base * mult^k) without overflow or NaN.  Exponentiation by
 * squaring needs at most 32 rounds for a uint32_t k and stops as soon as the
 * product reaches the cap; an infinite power only ever meets a base > 0, so
 * no 0 * inf appears. */
static int64_t capped_exp(const struct resil_retry *r, uint32_t k)
{
    if (r->base_ns == 0 || k == 0 || r->multiplier == 1.0)
        return r->base_ns;
    double cap = (double)r->max_ns;
    double base = (double)r->base_ns;
    double acc = 1.0, pw = r->multiplier;
    while (k != 0) {
        if (k & 1u) {
            acc *= pw;
            if (base * acc >= cap)
                return r->max_ns;
        }
        k >>= 1;
        pw *= pw;
    }
    double d = base * acc;
    /* d < cap <= INT64_MAX here, so the conversion is defined */
    return d >= cap ? r->max_ns : (int64_t)d;
}

static int64_t mul3_sat(int64_t v)
{
    return v > INT64_MAX / 3 ? INT64_MAX : v * 3;
}

/* The retry number n = attempt - 1 is what the header's mult^(n-1) counts:
 * the first backoff (before attempt 2) is base, the next base * mult, ... */
int64_t resil_retry_delay(const resil_retry *r, uint32_t attempt, int64_t prev_delay_ns,
                          uint64_t random)
{
    if (!r || attempt < 2)
        return 0;
    if (r->jitter == RESIL_JITTER_DECORRELATED) {
        /* AWS "Exponential Backoff And Jitter": sleep = min(cap,
         * random_between(base, sleep * 3)), sleep starting at base; the
         * multiplier plays no part. */
        int64_t prev = prev_delay_ns < r->base_ns ? r->base_ns : prev_delay_ns;
        int64_t d = uniform_in(r->base_ns, mul3_sat(prev), random);
        return d < r->max_ns ? d : r->max_ns;
    }
    int64_t d = capped_exp(r, attempt - 2);
    switch (r->jitter) {
    case RESIL_JITTER_FULL:
        return uniform_in(0, d, random);
    case RESIL_JITTER_EQUAL:
        /* d/2 rounded down plus up to the rest, so the top is d itself */
        return uniform_in(d / 2, d, random);
    case RESIL_JITTER_NONE:
    default:
        return d;
    }
}

/* ---- running ------------------------------------------------------------ */

struct run {
    const struct resil_retry *r;
    resil_retry_fn fn;
    void *arg;
    resil_retry_report rep;
    int64_t start;       /* read only when a deadline, breaker or report
                            needs it */
    int64_t now;         /* the last reading */
    bool fresh;          /* now was read after the last attempt ended */
    int64_t deadline;    /* RESIL_TIME_NEVER when there is none */
    int64_t prev_delay;
    int64_t retry_after; /* what the last attempt reported */
};

static int stop(struct run *st, resil_retry_stop why, int rc)
{
    st->rep.stop = why;
    return rc;
}

static int64_t read_clock(struct run *st)
{
    st->now = resil_clock_now(st->r->clock);
    return st->now;
}

/* One call of the operation, admitted and recorded by the breaker if there
 * is one.  Returns 0 when the call was made (its result in rep.last_rc),
 * RESIL_EOPEN when the breaker refused it. */
static int call_once(struct run *st, uint32_t number)
{
    const struct resil_retry *r = st->r;
    resil_attempt at = {.number = number, .deadline = st->deadline, .retry_after_ns = -1};
    resil_breaker_ticket ticket = 0;
    int64_t t0 = 0;
    if (r->breaker) {
        if (resil_breaker_acquire(r->breaker, &ticket) != 0)
            return RESIL_EOPEN; /* EOPEN or EPROBES: both mean "not now" */
        /* a breaker makes the run timed, so the start reading is there */
        t0 = number == 1 ? st->start : read_clock(st);
    }
    if (number == 1 && r->budget)
        resil_retry_budget_deposit(r->budget);
    int rc = st->fn(st->arg, &at);
    st->rep.attempts++;
    st->rep.last_rc = rc;
    st->retry_after = at.retry_after_ns;
    if (r->breaker) {
        int64_t took = read_clock(st) - t0;
        st->fresh = true;
        resil_breaker_record(r->breaker, ticket,
                             rc == 0 ? RESIL_OUTCOME_SUCCESS : RESIL_OUTCOME_FAILURE,
                             took < 0 ? 0 : took);
    }
    return 0;
}

static uint64_t draw(const struct resil_retry *r)
{
    if (r->rand)
        return r->rand(r->rand_ctx);
    /* the policy is immutable except for this generator's atomic word */
    return resil__rng_next((void *)&r->rng);
}

/* Decide the pause before attempt `next`, or stop the run: a Retry-After
 * over the limit, a deadline the pause would reach, an open breaker, an
 * empty budget.  The budget is asked last so a retry that another rule
 * refuses does not spend it. */
static int plan_retry(struct run *st, uint32_t next, int64_t *delay)
{
    const struct resil_retry *r = st->r;
    uint64_t bits = r->jitter == RESIL_JITTER_NONE ? 0 : draw(r);
    int64_t d = resil_retry_delay(r, next, st->prev_delay, bits);
    /* decorrelated jitter grows from its own last value, not the hint's */
    st->prev_delay = d;
    if (st->retry_after >= 0) {
        if (st->retry_after > r->max_retry_after_ns)
            return stop(st, RESIL_RETRY_DEADLINE, RESIL_ETIMEDOUT);
        if (st->retry_after > d)
            d = st->retry_after;
    }
    if (st->deadline != RESIL_TIME_NEVER) {
        int64_t now = st->fresh ? st->now : read_clock(st);
        /* reaching the deadline exactly leaves the next attempt no time */
        if (resil__add_sat(now, d) >= st->deadline)
            return stop(st, RESIL_RETRY_DEADLINE, RESIL_ETIMEDOUT);
    }
    /* the breaker opened on what we just recorded: do not wait for it */
    if (r->breaker && resil_breaker_state_get(r->breaker) == RESIL_BREAKER_OPEN)
        return stop(st, RESIL_RETRY_BREAKER_OPEN, RESIL_EOPEN);
    if (r->budget && resil_retry_budget_withdraw(r->budget) != 0)
        return stop(st, RESIL_RETRY_BUDGET, RESIL_EBUDGET);
    *delay = d;
    return 0;
}

/* A zero pause (full jitter can draw one) skips the sleeper altogether. */
static void pause_for(struct run *st, int64_t ns)
{
    if (ns <= 0)
        return;
    if (st->r->sleep)
        st->r->sleep(ns, st->r->sleep_ctx);
    else
        resil_clock_sleep(st->r->clock, ns);
    st->rep.slept_ns = resil__add_sat(st->rep.slept_ns, ns);
}

static int run_loop(struct run *st)
{
    const struct resil_retry *r = st->r;
    for (uint32_t n = 1;; n++) {
        st->fresh = false;
        if (call_once(st, n) != 0)
            return stop(st, RESIL_RETRY_BREAKER_OPEN, RESIL_EOPEN);
        int rc = st->rep.last_rc;
        if (rc == 0)
            return stop(st, RESIL_RETRY_SUCCEEDED, 0);
        if (r->retryable && !r->retryable(rc, r->retryable_ctx))
            return stop(st, RESIL_RETRY_NOT_RETRYABLE, RESIL_EFAILED);
        /* also keeps n + 1 from wrapping */
        if (n >= r->max_attempts)
            return stop(st, RESIL_RETRY_EXHAUSTED, RESIL_EEXHAUSTED);
        int64_t delay = 0;
        int stop_rc = plan_retry(st, n + 1, &delay);
        if (stop_rc != 0)
            return stop_rc;
        pause_for(st, delay);
    }
}

/* One add per counter per run, not per attempt, so a first-try success
 * pays two.  Relaxed: nothing is published through these counts. */
static void count_run(const struct resil_retry *r, const resil_retry_report *rep)
{
    struct resil_retry *w = (struct resil_retry *)r;
    atomic_fetch_add_explicit(&w->stops[rep->stop], 1, memory_order_relaxed);
    if (rep->attempts == 0)
        return; /* the breaker refused the first call */
    atomic_fetch_add_explicit(&w->attempts, rep->attempts, memory_order_relaxed);
    if (rep->attempts > 1)
        atomic_fetch_add_explicit(&w->retries, rep->attempts - 1u,
                                  memory_order_relaxed);
    if (rep->slept_ns > 0)
        atomic_fetch_add_explicit(&w->slept_ns, (uint64_t)rep->slept_ns,
                                  memory_order_relaxed);
}

/* elapsed_ns is measured only when a report is asked for, so a run without
 * report, deadline or breaker reads no clock at all.  For RESIL_EINVAL the
 * report is zeroed (attempts 0): there is no stop reason for "never ran". */
int resil_retry_run(const resil_retry *r, resil_retry_fn fn, void *arg,
                    resil_retry_report *report)
{
    if (!r || !fn) {
        if (report)
            memset(report, 0, sizeof *report);
        return RESIL_EINVAL;
    }
    struct run st = {.r = r, .fn = fn, .arg = arg, .deadline = RESIL_TIME_NEVER};
    if (r->timeout_ns > 0 || r->breaker || report) {
        st.start = read_clock(&st);
        if (r->timeout_ns > 0)
            st.deadline = resil__add_sat(st.start, r->timeout_ns);
    }
    int rc = run_loop(&st);
    count_run(r, &st.rep);
    if (report) {
        int64_t end = st.fresh ? st.now : resil_clock_now(r->clock);
        st.rep.elapsed_ns = end - st.start;
        *report = st.rep;
    }
    return rc;
}
