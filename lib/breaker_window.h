/* Private pieces of the circuit breaker: sliding windows, striped
 * counters and the queue of state-change callbacks.
 *
 * Two kinds of window share one struct:
 *
 * COUNT (the last n calls).  A plain success only bumps a striped counter
 * (below): no lock, no RMW, no shared cache line.  Failures and slow calls
 * take their position in the stream of calls (all successes so far plus
 * the calls added under the mutex) under the breaker mutex and append it to
 * a ring of "bad" positions, which is therefore sorted; the window's
 * failure and slow counts are the ring entries not older than pos - n.
 * Nothing is scanned: an append prunes from the front, O(1) amortised.
 *
 * TIME (the last n buckets of bucket_ns).  Buckets sit in a power-of-two
 * ring indexed by epoch = floor(now / bucket_ns).  The newest epoch is
 * cached in an atomic, so a success checks "now inside the current bucket"
 * with a multiply and a compare (no division) and bumps the same striped
 * counter: the current bucket's lock-free successes are that counter minus
 * its value when the bucket became current.  Everything else (moving to a
 * new bucket, failures, slow calls, calls with an older timestamp) runs
 * under the breaker mutex, which keeps running sums of the window so
 * nothing is summed per call.
 *
 * Either way a success racing with a change of window may be counted on
 * the other side of it (a window approximation); the total of calls stays
 * exact.  Functions other than the inline fast paths and init/fini must be
 * called with the breaker mutex held. */
#ifndef RESIL_BREAKER_WINDOW_H
#define RESIL_BREAKER_WINDOW_H

#include "internal.h"

#include <pthread.h>

/* Striped counters for the two hottest counts (CLOSED successes of a COUNT
 * window, OPEN rejections).  Even an uncontended lock-prefixed fetch_add
 * costs ~6 ns (measured on an AMD EPYC VM), and a shared one bounces a cache
 * line between every core that counts.  Instead a thread claims a stripe
 * once (a CAS keyed by the address of a thread-local byte) and from then on
 * bumps it with a plain load and store: it is the stripe's only writer, so
 * nothing is lost.  A thread whose stripe belongs to another thread uses
 * the shared word with fetch_add.  Readers sum everything (rare paths).
 * Stripes stay with their thread for the counter's life; a new thread that
 * gets a dead thread's TLS block (glibc reuses them) inherits its stripe. */
#define RESIL__STRIPE_BITS 4
#define RESIL__STRIPES (1u << RESIL__STRIPE_BITS)

struct resil__stripe {
    /* 16-aligned (malloc's guarantee) and 16 hot bytes first: the hot part
     * of each stripe sits in a cache line of its own */
    _Alignas(16) _Atomic(const void *) owner;
    _Atomic uint64_t n;
    char pad_[48];
};

struct resil__stripes {
    struct resil__stripe s[RESIL__STRIPES];
    _Atomic uint64_t shared;
    char pad_[64];
};

/* Only its per-thread address is used.  initial-exec: a plain %fs-relative
 * address instead of a __tls_get_addr call in the shared library. */
extern _Thread_local char resil__thread_token __attribute__((tls_model("initial-exec")));

void resil__stripes_init(struct resil__stripes *c);
void resil__stripes_inc_slow(struct resil__stripes *c, struct resil__stripe *s,
                             const void *owner);
uint64_t resil__stripes_sum(struct resil__stripes *c);

static inline void resil__stripes_inc(struct resil__stripes *c)
{
    const void *me = &resil__thread_token;
    /* Fibonacci hashing: TLS blocks differ in high bits only */
    uint64_t h = (uint64_t)(uintptr_t)me * UINT64_C(0x9E3779B97F4A7C15);
    struct resil__stripe *s = &c->s[h >> (64 - RESIL__STRIPE_BITS)];
    /* relaxed: we only compare with our own token, which only we store */
    const void *owner = atomic_load_explicit(&s->owner, memory_order_relaxed);
    if (owner != me) {
        resil__stripes_inc_slow(c, s, owner);
        return;
    }
    /* relaxed load + store, no RMW: this thread is the only writer */
    uint64_t v = atomic_load_explicit(&s->n, memory_order_relaxed);
    atomic_store_explicit(&s->n, v + 1, memory_order_relaxed);
}

/* The time "now", read from the clock only if someone needs it. */
struct resil__lazy_now {
    const resil_clock *clock;
    int64_t ns;
    bool have;
};

static inline int64_t resil__lazy_now_get(struct resil__lazy_now *n)
{
    if (!n->have) {
        n->ns = resil_clock_now(n->clock);
        n->have = true;
    }
    return n->ns;
}

/* Under the breaker mutex. */
struct resil__bwin_bucket {
    int64_t epoch;
    uint64_t calls; /* the current bucket: only those added under the mutex */
    uint64_t failures;
    uint64_t slow;
};

struct resil__bwin_view {
    uint64_t calls;
    uint64_t failures;
    uint64_t slow;
};

struct resil__bwin {
    /* Read-mostly: what the lock-free paths read. */
    resil_breaker_window kind;
    uint32_t n;
    int64_t bucket_ns;
    uint64_t mask;
    struct resil__bwin_bucket *buckets;
    _Atomic int64_t cur; /* epoch of the newest bucket */
    char pad0_[64];
    /* Lock-free successes.  A call's position in the stream of calls is
     * their sum plus `locked`. */
    struct resil__stripes succ;
    /* Under the breaker mutex. */
    uint64_t locked; /* calls added under the mutex */
    uint64_t *ring;  /* COUNT: pos << 2 | slow << 1 | failure, sorted */
    uint32_t head;
    uint32_t len;
    uint64_t start;      /* COUNT: first position of the current window */
    uint64_t fails;      /* failures in the window */
    uint64_t slow;       /* slow calls in the window */
    uint64_t cur_base;   /* TIME: succ when the current bucket began */
    uint64_t win_sealed; /* TIME: calls of the window but the current bucket */
};

int resil__bwin_init(struct resil__bwin *w, resil_breaker_window kind, uint32_t n,
                     int64_t bucket_ns, int64_t now);
void resil__bwin_fini(struct resil__bwin *w);

/* Lock-free success of a COUNT window. */
static inline void resil__bwin_count_success(struct resil__bwin *w)
{
    resil__stripes_inc(&w->succ);
}

/* Lock-free success of a TIME window; false when now is outside the current
 * bucket (the caller then takes the locked path). */
static inline bool resil__bwin_time_success(struct resil__bwin *w, int64_t now)
{
    /* relaxed: only the time is compared; a success racing with the move
     * to a new bucket lands in the new one, a documented approximation */
    int64_t e = atomic_load_explicit(&w->cur, memory_order_relaxed);
    /* e * bucket_ns is <= the time that produced e, so it fits; unsigned
     * arithmetic turns "now before the bucket" into a large number */
    uint64_t start = (uint64_t)e * (uint64_t)w->bucket_ns;
    if ((uint64_t)now - start >= (uint64_t)w->bucket_ns)
        return false;
    resil__stripes_inc(&w->succ);
    return true;
}

/* Add one success or failure under the mutex.  False when its time is older
 * than the window (TIME only): it was not counted anywhere. */
bool resil__bwin_add(struct resil__bwin *w, struct resil__lazy_now *now, bool failure,
                     bool slow);
/* The window as of now. */
void resil__bwin_view(struct resil__bwin *w, struct resil__lazy_now *now,
                      struct resil__bwin_view *v);
/* Empty the window (calls already made stay in resil__bwin_total). */
void resil__bwin_clear(struct resil__bwin *w);
/* Every call ever added, for the statistics. */
uint64_t resil__bwin_total(struct resil__bwin *w);

/* State changes waiting for the callback.  Pushed under the breaker mutex;
 * after unlocking, whoever wins a trylock on cb_mu pops and calls them one
 * by one (without the breaker mutex), so callbacks run in order, never two
 * at once, and may call back into the breaker.  A callback more than
 * RESIL__BEVQ_CAP changes behind sees the newest ones merged (A->B, B->C
 * becomes A->C; A->B, B->A vanishes): each call still starts from the
 * state the previous one ended in. */
#define RESIL__BEVQ_CAP 64u

struct resil__bevq {
    resil_breaker_cb cb; /* NULL: nothing is queued */
    void *ctx;
    uint32_t head; /* under the breaker mutex */
    uint32_t tail;
    uint8_t from[RESIL__BEVQ_CAP];
    uint8_t to[RESIL__BEVQ_CAP];
    pthread_mutex_t cb_mu; /* only ever trylocked */
};

int resil__bevq_init(struct resil__bevq *q, resil_breaker_cb cb, void *ctx);
void resil__bevq_fini(struct resil__bevq *q);
/* Under mu. */
void resil__bevq_push(struct resil__bevq *q, unsigned from, unsigned to);
bool resil__bevq_pending(const struct resil__bevq *q);
/* Without mu (b is what the callback gets). */
void resil__bevq_deliver(struct resil__bevq *q, pthread_mutex_t *mu, resil_breaker *b);

#endif /* RESIL_BREAKER_WINDOW_H */
