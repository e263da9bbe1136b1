/* Circuit breaker.
 *
 * One atomic state word says everything the fast paths need:
 *
 *   bits 0-1  state (CLOSED, OPEN, HALF_OPEN) as reported
 *   bits 2-3  mode (NORMAL, FORCED_OPEN, DISABLED, METRICS_ONLY)
 *   bit  4    EVAL: CLOSED has bad calls but fewer than minimum_calls, so
 *             the success that fills the window must judge the rates
 *   bits 20-  generation, bumped by every state or mode change
 *
 * so "CLOSED, NORMAL" is (word & 0xF) == 0 and a success may skip the rules
 * when (word & 0x1F) == 0.  A ticket is the word it was admitted under, a
 * tag (bits 11-19, so 0 and most garbage are refused) and, in HALF_OPEN,
 * the probe slot (bits 5-10).  A record whose ticket generation is not the
 * current one is late: counted in the statistics, never in the window.
 *
 * Fast paths, lock-free, without system calls or atomic read-modify-writes
 * (counts go to per-thread stripes, see breaker_window.h):
 *   acquire, CLOSED      one load of the word
 *   record, success      one load of the word + a stripe bump; a TIME window
 *                        also reads the clock (not with record_at)
 *   acquire, OPEN        one load, one clock read (not with acquire_at), one
 *                        load of open_until, a stripe bump
 * Everything else (failures, slow calls, transitions, HALF_OPEN, modes,
 * statistics) runs under one mutex and re-reads the word inside it.  A
 * failure or slow call is the only thing that can trip CLOSED (apart from
 * the success that brings the window to minimum_calls, flagged by EVAL, and
 * buckets expiring, judged when a call opens a new bucket), so the rules
 * are judged only on the locked path.
 *
 * Callbacks are queued under the mutex and delivered after it is released
 * (struct resil__bevq in breaker_window.h). */
#include "breaker_window.h"
#include "internal.h"

#include <float.h>
#include <pthread.h>
#include <string.h>

#define W_STATE UINT64_C(0x3)
#define W_MODE_SHIFT 2
#define W_MODE (UINT64_C(0x3) << W_MODE_SHIFT)
#define W_EVAL UINT64_C(0x10)
#define W_FAST_ACQUIRE (W_STATE | W_MODE)
#define W_FAST_RECORD (W_STATE | W_MODE | W_EVAL)
#define W_GEN_SHIFT 20
#define T_SLOT_SHIFT 5
#define T_SLOT_MASK UINT64_C(0x3F)
#define T_TAG_SHIFT 11
#define T_TAG_MASK UINT64_C(0x1FF)
#define T_TAG_VALUE UINT64_C(0x1A5)
#define T_TAG (T_TAG_VALUE << T_TAG_SHIFT)

#define MAX_PROBES 64u

enum {
    CLOSED = RESIL_BREAKER_CLOSED,
    OPEN = RESIL_BREAKER_OPEN,
    HALF = RESIL_BREAKER_HALF_OPEN
};
enum {
    NORMAL = RESIL_BREAKER_NORMAL,
    FORCED = RESIL_BREAKER_FORCED_OPEN,
    DISABLED = RESIL_BREAKER_DISABLED,
    METRICS = RESIL_BREAKER_METRICS_ONLY
};

struct resil_breaker {
    /* Read by every fast path; written only under mu. */
    _Atomic uint64_t word;
    _Atomic int64_t open_until;
    const resil_clock *clock;
    int64_t slow_filter; /* slow_call_ns, or INT64_MAX when off */
    uint32_t min_calls;  /* minimum_calls, at most window_size (COUNT) */
    char pad0_[64];
    struct resil__stripes rejections;
    struct resil__bwin win;
    /* Written outside mu by late records and probes (rare paths). */
    _Atomic uint64_t extra_calls; /* recorded calls not added to the window */
    _Atomic uint64_t failures;
    _Atomic uint64_t ignored;
    _Atomic uint64_t slow_calls;
    /* Under mu. */
    pthread_mutex_t mu;
    uint64_t opens;
    int64_t since;       /* when the reported state last changed */
    int64_t cur_open_ns; /* un-jittered length of the next OPEN period */
    int64_t open_len_ns; /* jittered length of the current OPEN period */
    uint64_t probe_busy; /* slots admitted and not yet reported */
    uint64_t probe_dead; /* slots reaped in this generation: not reused */
    uint32_t probe_outcomes;
    uint32_t probe_failures;
    uint32_t probe_slow;
    int64_t probe_admit[MAX_PROBES];
    struct resil__bevq evq;
    /* Immutable after resil_breaker_new(). */
    resil_breaker_opts o;
    resil_rand_fn rand;
    void *rand_ctx;
    resil__rng rng;
    char *name;
};

/* --- options ----------------------------------------------------------- */

void resil_breaker_opts_init(resil_breaker_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->window = RESIL_WINDOW_COUNT;
    o->window_size = 100;
    o->bucket_ns = RESIL_NS_PER_SEC;
    o->minimum_calls = 10;
    o->failure_rate = 0.5;
    o->half_open_probes = 3;
    o->probe_timeout_ns = 30 * RESIL_NS_PER_SEC;
    o->open_base_ns = 5 * RESIL_NS_PER_SEC;
    o->open_multiplier = 2.0;
    o->open_max_ns = 300 * RESIL_NS_PER_SEC;
    o->open_jitter = 0.1;
}

/* False for NaN too: every comparison with NaN is false. */
static bool in_unit(double x)
{
    return x >= 0.0 && x <= 1.0;
}

static bool opts_valid(const resil_breaker_opts *o)
{
    if (o->window != RESIL_WINDOW_COUNT && o->window != RESIL_WINDOW_TIME)
        return false;
    if (o->window_size < 1 || o->window_size > 65536)
        return false;
    if (o->window == RESIL_WINDOW_TIME && o->bucket_ns <= 0)
        return false;
    if (!in_unit(o->failure_rate) || !in_unit(o->slow_call_rate) || o->slow_call_ns < 0)
        return false;
    if (o->half_open_probes < 1 || o->half_open_probes > MAX_PROBES)
        return false;
    if (o->probe_timeout_ns <= 0 || o->open_base_ns <= 0 ||
        o->open_max_ns < o->open_base_ns)
        return false;
    if (!(o->open_multiplier >= 1.0 && o->open_multiplier <= DBL_MAX))
        return false;
    return o->open_jitter >= 0.0 && o->open_jitter < 1.0;
}

static bool slow_rule_on(const resil_breaker_opts *o)
{
    return o->slow_call_rate > 0.0 && o->slow_call_ns > 0;
}

/* --- state word and tickets ------------------------------------------- */

static unsigned w_state(uint64_t w)
{
    return (unsigned)(w & W_STATE);
}

static unsigned w_mode(uint64_t w)
{
    return (unsigned)((w & W_MODE) >> W_MODE_SHIFT);
}

static uint64_t w_gen(uint64_t w)
{
    return w >> W_GEN_SHIFT;
}

/* Could t have come from acquire on this breaker (word w now)? */
static bool ticket_valid(const resil_breaker *b, resil_breaker_ticket t, uint64_t w)
{
    if (((t >> T_TAG_SHIFT) & T_TAG_MASK) != T_TAG_VALUE)
        return false;
    if (w_gen(t) == 0 || w_gen(t) > w_gen(w))
        return false;
    uint64_t slot = (t >> T_SLOT_SHIFT) & T_SLOT_MASK;
    if (w_state(t) == HALF)
        return w_mode(t) == NORMAL && !(t & W_EVAL) && slot < b->o.half_open_probes;
    if (w_state(t) != CLOSED || w_mode(t) == FORCED || slot != 0)
        return false;
    return w_mode(t) == NORMAL || !(t & W_EVAL);
}

static void unlock_deliver(resil_breaker *b)
{
    bool pending = resil__bevq_pending(&b->evq);
    pthread_mutex_unlock(&b->mu);
    if (pending)
        resil__bevq_deliver(&b->evq, &b->mu, b);
}

/* --- transitions (under mu) -------------------------------------------- */

/* Store a new generation of the word; report a change of state. */
static void publish(resil_breaker *b, unsigned state, unsigned mode,
                    struct resil__lazy_now *now)
{
    /* relaxed: under mu, we are the only writer */
    uint64_t old = atomic_load_explicit(&b->word, memory_order_relaxed);
    uint64_t w = (w_gen(old) + 1) << W_GEN_SHIFT | (uint64_t)mode << W_MODE_SHIFT | state;
    /* release: whoever loads this word with acquire also sees the
     * open_until written before it (everything else is read under mu) */
    atomic_store_explicit(&b->word, w, memory_order_release);
    if (state == w_state(old))
        return;
    b->since = resil__lazy_now_get(now);
    if (state == OPEN)
        b->opens++;
    resil__bevq_push(&b->evq, w_state(old), state);
}

static int64_t grown(const resil_breaker *b, int64_t d)
{
    double x = (double)d * b->o.open_multiplier;
    return x >= (double)b->o.open_max_ns ? b->o.open_max_ns : (int64_t)x;
}

/* d scaled by a uniform factor in [1 - j, 1 + j], within [1, open_max]. */
static int64_t jittered(resil_breaker *b, int64_t d)
{
    double x = (double)d;
    double j = b->o.open_jitter;
    if (j > 0.0)
        x *= 1.0 - j + 2.0 * j * resil__unit(b->rand(b->rand_ctx));
    if (x >= (double)b->o.open_max_ns)
        return b->o.open_max_ns;
    return x < 1.0 ? 1 : (int64_t)x;
}

static void to_open(resil_breaker *b, struct resil__lazy_now *now)
{
    int64_t len = jittered(b, b->cur_open_ns);
    b->open_len_ns = len;
    /* relaxed: published by the release store of the word in publish() */
    atomic_store_explicit(&b->open_until, resil__add_sat(resil__lazy_now_get(now), len),
                          memory_order_relaxed);
    publish(b, OPEN, NORMAL, now);
}

static void clear_probes(resil_breaker *b)
{
    b->probe_busy = 0;
    b->probe_dead = 0;
    b->probe_outcomes = 0;
    b->probe_failures = 0;
    b->probe_slow = 0;
}

/* Empty window, base OPEN duration, no probes; the word is up to the caller. */
static void clear_all(resil_breaker *b)
{
    b->cur_open_ns = b->o.open_base_ns;
    resil__bwin_clear(&b->win);
    clear_probes(b);
}

static bool rules_trip(const resil_breaker *b, const struct resil__bwin_view *v)
{
    const resil_breaker_opts *o = &b->o;
    if (o->failure_count > 0 && v->failures >= o->failure_count)
        return true;
    if (v->calls == 0 || v->calls < b->min_calls)
        return false;
    double calls = (double)v->calls;
    if (o->failure_rate > 0.0 && (double)v->failures / calls >= o->failure_rate)
        return true;
    return slow_rule_on(o) && (double)v->slow / calls >= o->slow_call_rate;
}

/* Below minimum_calls, could the success that fills the window trip it?
 * Successes only lower the rates, so only if the rate over minimum_calls
 * already reaches the threshold. */
static bool needs_eval(const resil_breaker *b, const struct resil__bwin_view *v)
{
    const resil_breaker_opts *o = &b->o;
    if (v->calls >= b->min_calls)
        return false;
    double min = (double)b->min_calls;
    if (o->failure_rate > 0.0 && v->failures > 0 &&
        (double)v->failures / min >= o->failure_rate)
        return true;
    return slow_rule_on(o) && v->slow > 0 && (double)v->slow / min >= o->slow_call_rate;
}

/* Judge the window of a CLOSED, NORMAL breaker. */
static void evaluate(resil_breaker *b, struct resil__lazy_now *now)
{
    struct resil__bwin_view v;
    resil__bwin_view(&b->win, now, &v);
    if (rules_trip(b, &v)) {
        to_open(b, now);
        return;
    }
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    uint64_t nw = needs_eval(b, &v) ? w | W_EVAL : w & ~W_EVAL;
    /* release: same generation, only the hint changes; kept release like
     * every other store of the word */
    if (nw != w)
        atomic_store_explicit(&b->word, nw, memory_order_release);
}

/* --- HALF_OPEN (under mu) ---------------------------------------------- */

static bool probes_say_open(const resil_breaker *b)
{
    const resil_breaker_opts *o = &b->o;
    double n = (double)b->probe_outcomes;
    if (o->failure_rate > 0.0 && b->probe_failures / n >= o->failure_rate)
        return true;
    if (slow_rule_on(o) && b->probe_slow / n >= o->slow_call_rate)
        return true;
    /* a count rule above the number of probes could never fire: all probes
     * failing is the most HALF_OPEN can see */
    uint32_t need =
        o->failure_count < o->half_open_probes ? o->failure_count : o->half_open_probes;
    return o->failure_count > 0 && b->probe_failures >= need;
}

/* Reap probes past their timeout (as failures), then decide once every
 * probe has an outcome. */
static void probes_tick(resil_breaker *b, struct resil__lazy_now *now)
{
    uint64_t busy = b->probe_busy;
    while (busy) {
        unsigned i = (unsigned)__builtin_ctzll(busy);
        busy &= busy - 1;
        int64_t due = resil__add_sat(b->probe_admit[i], b->o.probe_timeout_ns);
        if (resil__lazy_now_get(now) < due)
            continue;
        b->probe_busy &= ~(UINT64_C(1) << i);
        b->probe_dead |= UINT64_C(1) << i;
        b->probe_outcomes++;
        b->probe_failures++;
    }
    if (b->probe_outcomes < b->o.half_open_probes)
        return;
    if (probes_say_open(b)) {
        b->cur_open_ns = grown(b, b->cur_open_ns);
        to_open(b, now);
    } else {
        clear_all(b);
        publish(b, CLOSED, NORMAL, now);
    }
}

/* OPEN whose time is up -> HALF_OPEN; HALF_OPEN -> reap and decide. */
static void refresh_locked(resil_breaker *b, struct resil__lazy_now *now)
{
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    if (w_mode(w) != NORMAL)
        return;
    if (w_state(w) == OPEN &&
        resil__lazy_now_get(now) >=
            atomic_load_explicit(&b->open_until, memory_order_relaxed)) {
        clear_probes(b);
        publish(b, HALF, NORMAL, now);
    } else if (w_state(w) == HALF) {
        probes_tick(b, now);
    }
}

static int reject(resil_breaker *b, int rc, resil_breaker_ticket *t)
{
    resil__stripes_inc(&b->rejections);
    *t = 0;
    return rc;
}

static int probe_take(resil_breaker *b, uint64_t w, struct resil__lazy_now *now,
                      resil_breaker_ticket *t)
{
    uint32_t probes = b->o.half_open_probes;
    uint64_t mask = probes == 64 ? ~UINT64_C(0) : (UINT64_C(1) << probes) - 1;
    /* reaped slots are outcomes too, so busy | dead < probes: a slot is free */
    uint64_t free = ~(b->probe_busy | b->probe_dead) & mask;
    if ((uint32_t)__builtin_popcountll(b->probe_busy) + b->probe_outcomes >= probes ||
        !free)
        return reject(b, RESIL_EPROBES, t);
    unsigned slot = (unsigned)__builtin_ctzll(free);
    b->probe_busy |= UINT64_C(1) << slot;
    b->probe_admit[slot] = resil__lazy_now_get(now);
    *t = w | T_TAG | (uint64_t)slot << T_SLOT_SHIFT;
    return 0;
}

/* --- acquire ------------------------------------------------------------ */

static int acquire_slow(resil_breaker *b, uint64_t w, struct resil__lazy_now *now,
                        resil_breaker_ticket *t)
{
    if (w_mode(w) == FORCED)
        return reject(b, RESIL_EOPEN, t);
    if (w_mode(w) != NORMAL) {
        *t = w | T_TAG; /* DISABLED, METRICS_ONLY: always admitted */
        return 0;
    }
    pthread_mutex_lock(&b->mu);
    refresh_locked(b, now);
    w = atomic_load_explicit(&b->word, memory_order_relaxed);
    int rc = 0;
    if (w_mode(w) == FORCED || (w_mode(w) == NORMAL && w_state(w) == OPEN))
        rc = reject(b, RESIL_EOPEN, t);
    else if (w_mode(w) == NORMAL && w_state(w) == HALF)
        rc = probe_take(b, w, now, t);
    else
        *t = w | T_TAG; /* another thread closed it meanwhile */
    unlock_deliver(b);
    return rc;
}

static inline int acquire_impl(resil_breaker *b, struct resil__lazy_now *now,
                               resil_breaker_ticket *t)
{
    if (!b || !t)
        return RESIL_EINVAL;
    /* acquire: pairs with publish(), so open_until below is at least the
     * one that went with this word */
    uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
    if ((w & W_FAST_ACQUIRE) == 0) {
        *t = w | T_TAG;
        return 0;
    }
    /* relaxed: ordered by the acquire load of the word above */
    if ((w & W_FAST_ACQUIRE) == OPEN &&
        resil__lazy_now_get(now) <
            atomic_load_explicit(&b->open_until, memory_order_relaxed))
        return reject(b, RESIL_EOPEN, t);
    return acquire_slow(b, w, now, t);
}

int resil_breaker_acquire(resil_breaker *b, resil_breaker_ticket *ticket)
{
    struct resil__lazy_now now = {b ? b->clock : NULL, 0, false};
    return acquire_impl(b, &now, ticket);
}

int resil_breaker_acquire_at(resil_breaker *b, int64_t now_ns,
                             resil_breaker_ticket *ticket)
{
    struct resil__lazy_now now = {NULL, now_ns, true};
    return acquire_impl(b, &now, ticket);
}

/* --- record ------------------------------------------------------------- */

/* An outcome kept out of the window: late, DISABLED, ignored, or a probe. */
static void count_outside(resil_breaker *b, resil_outcome outcome, bool slow)
{
    /* relaxed, then release on the kind: a stats reader that sees the
     * failure or ignored count also sees the call, so successes (the
     * difference) never go negative */
    atomic_fetch_add_explicit(&b->extra_calls, 1, memory_order_relaxed);
    if (outcome == RESIL_OUTCOME_FAILURE)
        atomic_fetch_add_explicit(&b->failures, 1, memory_order_release);
    else if (outcome == RESIL_OUTCOME_IGNORED)
        atomic_fetch_add_explicit(&b->ignored, 1, memory_order_release);
    if (slow)
        atomic_fetch_add_explicit(&b->slow_calls, 1, memory_order_relaxed);
}

static int probe_record(resil_breaker *b, struct resil__lazy_now *now,
                        resil_breaker_ticket t, resil_outcome outcome, bool slow)
{
    uint64_t bit = UINT64_C(1) << ((t >> T_SLOT_SHIFT) & T_SLOT_MASK);
    if (!(b->probe_busy & bit)) {
        if (!(b->probe_dead & bit))
            return RESIL_EINVAL;         /* this probe was already recorded */
        count_outside(b, outcome, slow); /* reaped: judged as a failure */
        return 0;
    }
    b->probe_busy &= ~bit;
    count_outside(b, outcome, slow);
    if (outcome != RESIL_OUTCOME_IGNORED) {
        b->probe_outcomes++;
        b->probe_failures += outcome == RESIL_OUTCOME_FAILURE;
        b->probe_slow += slow;
    }
    probes_tick(b, now);
    return 0;
}

static void window_record(resil_breaker *b, uint64_t w, struct resil__lazy_now *now,
                          bool failure, bool slow)
{
    if (!resil__bwin_add(&b->win, now, failure, slow)) {
        count_outside(b, failure ? RESIL_OUTCOME_FAILURE : RESIL_OUTCOME_SUCCESS, slow);
        return;
    }
    /* release: after the window counted the call (see count_outside) */
    if (failure)
        atomic_fetch_add_explicit(&b->failures, 1, memory_order_release);
    if (slow)
        atomic_fetch_add_explicit(&b->slow_calls, 1, memory_order_relaxed);
    if (w_mode(w) == NORMAL)
        evaluate(b, now);
}

static int record_locked(resil_breaker *b, struct resil__lazy_now *now,
                         resil_breaker_ticket t, resil_outcome outcome, bool slow)
{
    pthread_mutex_lock(&b->mu);
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    int rc = 0;
    if (w_gen(t) != w_gen(w))
        count_outside(b, outcome, slow);
    else if (w_state(w) == HALF)
        rc = probe_record(b, now, t, outcome, slow);
    else
        window_record(b, w, now, outcome == RESIL_OUTCOME_FAILURE, slow);
    unlock_deliver(b);
    return rc;
}

static bool window_success_nolock(resil_breaker *b, struct resil__lazy_now *now)
{
    if (b->win.kind == RESIL_WINDOW_COUNT) {
        resil__bwin_count_success(&b->win);
        return true;
    }
    return resil__bwin_time_success(&b->win, resil__lazy_now_get(now));
}

static int record_slow(resil_breaker *b, struct resil__lazy_now *now,
                       resil_breaker_ticket t, resil_outcome outcome, int64_t duration_ns)
{
    /* acquire: the generation check below must see at least the word the
     * ticket came from */
    uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
    if (!ticket_valid(b, t, w))
        return RESIL_EINVAL;
    bool slow = outcome != RESIL_OUTCOME_IGNORED && b->o.slow_call_ns > 0 &&
                duration_ns >= b->o.slow_call_ns;
    bool late = w_gen(t) != w_gen(w);
    if (late || w_mode(t) == DISABLED ||
        (outcome == RESIL_OUTCOME_IGNORED && w_state(t) != HALF)) {
        count_outside(b, outcome, slow);
        return 0;
    }
    /* METRICS_ONLY never judges, so its plain successes stay lock-free */
    if (w_mode(t) == METRICS && outcome == RESIL_OUTCOME_SUCCESS && !slow &&
        window_success_nolock(b, now))
        return 0;
    return record_locked(b, now, t, outcome, slow);
}

static inline int record_impl(resil_breaker *b, struct resil__lazy_now *now,
                              resil_breaker_ticket t, resil_outcome outcome,
                              int64_t duration_ns)
{
    if (!b || (unsigned)outcome > RESIL_OUTCOME_IGNORED || duration_ns < 0)
        return RESIL_EINVAL;
    /* relaxed: only the generation is compared; the window needs nothing
     * published by a transition (a clear happens-before any ticket of the
     * new generation through acquire's load) */
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    if ((t ^ T_TAG) == w && (w & W_FAST_RECORD) == 0 &&
        outcome == RESIL_OUTCOME_SUCCESS && duration_ns < b->slow_filter &&
        window_success_nolock(b, now))
        return 0;
    return record_slow(b, now, t, outcome, duration_ns);
}

int resil_breaker_record(resil_breaker *b, resil_breaker_ticket ticket,
                         resil_outcome outcome, int64_t duration_ns)
{
    struct resil__lazy_now now = {b ? b->clock : NULL, 0, false};
    return record_impl(b, &now, ticket, outcome, duration_ns);
}

int resil_breaker_record_at(resil_breaker *b, int64_t now_ns, resil_breaker_ticket ticket,
                            resil_outcome outcome, int64_t duration_ns)
{
    struct resil__lazy_now now = {NULL, now_ns, true};
    return record_impl(b, &now, ticket, outcome, duration_ns);
}

/* --- state, modes, reset ------------------------------------------------ */

resil_breaker_state resil_breaker_state_get(resil_breaker *b)
{
    if (!b)
        return RESIL_BREAKER_CLOSED;
    /* acquire: pairs with publish() for open_until */
    uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
    if (w_mode(w) != NORMAL || w_state(w) == CLOSED)
        return (resil_breaker_state)w_state(w);
    struct resil__lazy_now now = {b->clock, 0, false};
    if (w_state(w) == OPEN &&
        resil__lazy_now_get(&now) <
            atomic_load_explicit(&b->open_until, memory_order_relaxed))
        return RESIL_BREAKER_OPEN;
    pthread_mutex_lock(&b->mu);
    refresh_locked(b, &now);
    w = atomic_load_explicit(&b->word, memory_order_relaxed);
    unlock_deliver(b);
    return (resil_breaker_state)w_state(w);
}

int64_t resil_breaker_retry_in(resil_breaker *b)
{
    if (!b)
        return 0;
    /* acquire: pairs with publish() for open_until */
    uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
    if (w_mode(w) == FORCED)
        return RESIL_TIME_NEVER;
    if (w_mode(w) != NORMAL || w_state(w) != OPEN)
        return 0;
    struct resil__lazy_now now = {b->clock, resil_clock_now(b->clock), true};
    int64_t until = atomic_load_explicit(&b->open_until, memory_order_relaxed);
    if (now.ns < until) {
        uint64_t left = (uint64_t)until - (uint64_t)now.ns;
        return left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)left;
    }
    pthread_mutex_lock(&b->mu);
    refresh_locked(b, &now);
    unlock_deliver(b);
    return 0;
}

int resil_breaker_set_mode(resil_breaker *b, resil_breaker_mode mode)
{
    if (!b || (unsigned)mode > RESIL_BREAKER_METRICS_ONLY)
        return RESIL_EINVAL;
    struct resil__lazy_now now = {b->clock, 0, false};
    pthread_mutex_lock(&b->mu);
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    if (w_mode(w) != (unsigned)mode) {
        if (mode == RESIL_BREAKER_NORMAL)
            clear_all(b);
        publish(b, mode == RESIL_BREAKER_FORCED_OPEN ? OPEN : CLOSED, mode, &now);
    }
    unlock_deliver(b);
    return 0;
}

void resil_breaker_reset(resil_breaker *b)
{
    if (!b)
        return;
    struct resil__lazy_now now = {b->clock, 0, false};
    pthread_mutex_lock(&b->mu);
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    clear_all(b);
    publish(b, w_mode(w) == FORCED ? OPEN : CLOSED, w_mode(w), &now);
    unlock_deliver(b);
}

/* --- statistics --------------------------------------------------------- */

static void fill_counters(resil_breaker *b, resil_breaker_stats *st)
{
    /* acquire: pairs with the release increments, so every failure and
     * ignored call read here has its call counted in the loads below */
    st->failures = atomic_load_explicit(&b->failures, memory_order_acquire);
    st->ignored = atomic_load_explicit(&b->ignored, memory_order_acquire);
    st->calls = resil__bwin_total(&b->win) +
                atomic_load_explicit(&b->extra_calls, memory_order_relaxed);
    uint64_t bad = st->failures + st->ignored;
    st->successes = st->calls > bad ? st->calls - bad : 0;
    st->slow_calls = atomic_load_explicit(&b->slow_calls, memory_order_relaxed);
    st->rejections = resil__stripes_sum(&b->rejections);
    st->opens = b->opens;
}

static uint32_t clamp32(uint64_t x)
{
    return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

static void fill_window(resil_breaker *b, struct resil__lazy_now *now,
                        resil_breaker_stats *st)
{
    struct resil__bwin_view v;
    resil__bwin_view(&b->win, now, &v);
    st->window_calls = clamp32(v.calls);
    st->window_failures = clamp32(v.failures);
    st->window_slow = clamp32(v.slow);
    st->failure_rate = v.calls ? (double)v.failures / (double)v.calls : 0.0;
    st->slow_call_rate = v.calls ? (double)v.slow / (double)v.calls : 0.0;
    st->success_rate = 1.0 - st->failure_rate;
}

void resil_breaker_stats_get(resil_breaker *b, resil_breaker_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!b)
        return;
    struct resil__lazy_now now = {b->clock, resil_clock_now(b->clock), true};
    pthread_mutex_lock(&b->mu);
    refresh_locked(b, &now);
    uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
    st->state = (resil_breaker_state)w_state(w);
    st->mode = (resil_breaker_mode)w_mode(w);
    st->time_in_state_ns = now.ns > b->since ? now.ns - b->since : 0;
    fill_counters(b, st);
    fill_window(b, &now, st);
    bool normal = w_mode(w) == NORMAL;
    if (normal && w_state(w) == HALF)
        st->probes_in_flight = (uint32_t)__builtin_popcountll(b->probe_busy);
    if (normal && w_state(w) == OPEN)
        st->open_duration_ns = b->open_len_ns;
    else if (normal && w_state(w) == HALF)
        st->open_duration_ns = grown(b, b->cur_open_ns);
    else
        st->open_duration_ns = b->cur_open_ns;
    unlock_deliver(b);
}

/* --- life cycle --------------------------------------------------------- */

static void init_fields(resil_breaker *b, const resil_breaker_opts *o, int64_t now)
{
    b->o = *o;
    b->o.name = b->name;
    b->clock = o->clock;
    b->slow_filter = o->slow_call_ns > 0 ? o->slow_call_ns : INT64_MAX;
    /* a COUNT window never holds more than window_size calls: a larger
     * minimum would silently turn the rate rules off */
    b->min_calls = o->minimum_calls;
    if (o->window == RESIL_WINDOW_COUNT && o->minimum_calls > o->window_size)
        b->min_calls = o->window_size;
    if (o->rand) {
        b->rand = o->rand;
        b->rand_ctx = o->rand_ctx;
    } else {
        resil__rng_seed(&b->rng);
        b->rand = resil__rng_next;
        b->rand_ctx = &b->rng;
    }
    b->cur_open_ns = o->open_base_ns;
    b->open_len_ns = o->open_base_ns;
    b->since = now;
    atomic_init(&b->word, UINT64_C(1) << W_GEN_SHIFT | CLOSED);
    atomic_init(&b->open_until, 0);
    resil__stripes_init(&b->rejections);
    atomic_init(&b->extra_calls, 0);
    atomic_init(&b->failures, 0);
    atomic_init(&b->ignored, 0);
    atomic_init(&b->slow_calls, 0);
}

int resil_breaker_new(const resil_breaker_opts *o, resil_breaker **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o || !opts_valid(o))
        return RESIL_EINVAL;
    resil_breaker *b = resil__calloc(1, sizeof *b);
    if (!b)
        return RESIL_ENOMEM;
    b->name = resil__strdup(o->name);
    if (!b->name)
        goto out_free_b;
    int64_t now = resil_clock_now(o->clock);
    if (resil__bwin_init(&b->win, o->window, o->window_size, o->bucket_ns, now) != 0)
        goto out_free_win;
    if (pthread_mutex_init(&b->mu, NULL) != 0)
        goto out_free_win;
    if (resil__bevq_init(&b->evq, o->on_state_change, o->cb_ctx) != 0)
        goto out_destroy_mu;
    init_fields(b, o, now);
    *out = b;
    return 0;

out_destroy_mu:
    pthread_mutex_destroy(&b->mu);
out_free_win:
    resil__bwin_fini(&b->win);
    resil__free(b->name);
out_free_b:
    resil__free(b);
    return RESIL_ENOMEM;
}

void resil_breaker_free(resil_breaker *b)
{
    if (!b)
        return;
    resil__bevq_fini(&b->evq);
    pthread_mutex_destroy(&b->mu);
    resil__bwin_fini(&b->win);
    resil__free(b->name);
    resil__free(b);
}

const char *resil_breaker_name(const resil_breaker *b)
{
    return b ? b->name : "";
}

const char *resil_breaker_state_name(resil_breaker_state s)
{
    switch (s) {
    case RESIL_BREAKER_CLOSED:
        return "CLOSED";
    case RESIL_BREAKER_OPEN:
        return "OPEN";
    case RESIL_BREAKER_HALF_OPEN:
        return "HALF_OPEN";
    default:
        return "UNKNOWN";
    }
}
