/* Sliding windows of the circuit breaker: see breaker_window.h for the
 * design.  Everything here except init/fini runs under the breaker mutex. */
#include "breaker_window.h"

#include <string.h>

/* floor(a / b) for b > 0; C's division truncates towards zero. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b < 0)
        q--;
    return q;
}

_Thread_local char resil__thread_token __attribute__((tls_model("initial-exec")));

void resil__stripes_init(struct resil__stripes *c)
{
    for (unsigned i = 0; i < RESIL__STRIPES; i++) {
        atomic_init(&c->s[i].owner, NULL);
        atomic_init(&c->s[i].n, 0);
    }
    atomic_init(&c->shared, 0);
}

void resil__stripes_inc_slow(struct resil__stripes *c, struct resil__stripe *s,
                             const void *owner)
{
    const void *me = &resil__thread_token;
    /* relaxed: the claim only has to be exclusive, it guards no data */
    if (!owner && atomic_compare_exchange_strong_explicit(&s->owner, &owner, me,
                                                          memory_order_relaxed,
                                                          memory_order_relaxed)) {
        atomic_fetch_add_explicit(&s->n, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&c->shared, 1, memory_order_relaxed);
}

uint64_t resil__stripes_sum(struct resil__stripes *c)
{
    /* relaxed: a statistic; each stripe only grows, so a later sum is never
     * smaller than an earlier one read by the same thread */
    uint64_t sum = atomic_load_explicit(&c->shared, memory_order_relaxed);
    for (unsigned i = 0; i < RESIL__STRIPES; i++)
        sum += atomic_load_explicit(&c->s[i].n, memory_order_relaxed);
    return sum;
}

int resil__bwin_init(struct resil__bwin *w, resil_breaker_window kind, uint32_t n,
                     int64_t bucket_ns, int64_t now)
{
    memset(w, 0, sizeof *w);
    w->kind = kind;
    w->n = n;
    resil__stripes_init(&w->succ);
    atomic_init(&w->cur, 0);
    if (kind == RESIL_WINDOW_COUNT) {
        w->ring = resil__calloc(n, sizeof *w->ring);
        return w->ring ? 0 : RESIL_ENOMEM;
    }
    /* A power-of-two ring turns epoch -> bucket into a mask; it holds at
     * least n buckets so the epochs of one window never share a bucket. */
    uint64_t size = 1;
    while (size < n)
        size <<= 1;
    w->buckets = resil__calloc(size, sizeof *w->buckets);
    if (!w->buckets)
        return RESIL_ENOMEM;
    w->mask = size - 1;
    w->bucket_ns = bucket_ns;
    /* i + 1 never maps to bucket i (size >= 2), so "unused" never passes
     * for a live epoch; with size 1 the bucket is set just below */
    for (uint64_t i = 0; i < size; i++)
        w->buckets[i].epoch = (int64_t)i + 1;
    int64_t e = floor_div(now, bucket_ns);
    w->buckets[(uint64_t)e & w->mask].epoch = e;
    atomic_init(&w->cur, e);
    return 0;
}

void resil__bwin_fini(struct resil__bwin *w)
{
    resil__free(w->ring);
    resil__free(w->buckets);
    w->ring = NULL;
    w->buckets = NULL;
}

/* --- COUNT ----------------------------------------------------------- */

/* Drop bad positions that are no longer among the n before end. */
static void count_prune(struct resil__bwin *w, uint64_t end)
{
    uint64_t lo = end > w->n ? end - w->n : 0;
    while (w->len > 0 && (w->ring[w->head] >> 2) < lo) {
        uint64_t e = w->ring[w->head];
        w->fails -= e & 1;
        w->slow -= (e >> 1) & 1;
        w->head = (w->head + 1) % w->n;
        w->len--;
    }
}

/* Calls so far.  Under the mutex it never goes backwards (each stripe only
 * grows and the mutex orders our reads), so positions taken under it are
 * strictly increasing. */
static uint64_t count_pos(struct resil__bwin *w)
{
    return resil__stripes_sum(&w->succ) + w->locked;
}

static void count_add(struct resil__bwin *w, bool failure, bool slow)
{
    uint64_t p = count_pos(w);
    w->locked++;
    if (!failure && !slow)
        return;
    /* after pruning to the window ending at p + 1 at most n - 1 entries are
     * left (distinct positions in [p + 1 - n, p)), so the push fits */
    count_prune(w, p + 1);
    w->ring[(w->head + w->len) % w->n] = p << 2 | (uint64_t)slow << 1 | (uint64_t)failure;
    w->len++;
    w->fails += failure;
    w->slow += slow;
}

static void count_view(struct resil__bwin *w, struct resil__bwin_view *v)
{
    /* successes still in flight may or may not be counted: the window's
     * usual approximation */
    uint64_t p = count_pos(w);
    count_prune(w, p);
    uint64_t filled = p - w->start;
    v->calls = filled < w->n ? filled : w->n;
    v->failures = w->fails;
    v->slow = w->slow;
}

/* --- TIME ------------------------------------------------------------ */

static struct resil__bwin_bucket *bucket_of(struct resil__bwin *w, int64_t epoch)
{
    return &w->buckets[(uint64_t)epoch & w->mask];
}

static void bucket_reuse(struct resil__bwin *w, int64_t epoch)
{
    struct resil__bwin_bucket *bk = bucket_of(w, epoch);
    bk->epoch = epoch;
    bk->calls = 0;
    bk->failures = 0;
    bk->slow = 0;
}

/* The current bucket's calls: those added under the mutex plus the
 * lock-free successes since it became current. */
static uint64_t cur_calls(struct resil__bwin *w, int64_t cur, uint64_t succ)
{
    return bucket_of(w, cur)->calls + (succ - w->cur_base);
}

/* Take epoch x's contribution out of the running sums in v. */
static void expire(struct resil__bwin *w, int64_t x, struct resil__bwin_view *v)
{
    const struct resil__bwin_bucket *bk = bucket_of(w, x);
    if (bk->epoch != x)
        return; /* no call ever landed in x */
    v->calls -= bk->calls;
    v->failures -= bk->failures;
    v->slow -= bk->slow;
}

/* From the sums of the window ending at cur (all of cur's calls included)
 * to those of the window ending at e > cur. */
static void expire_until(struct resil__bwin *w, int64_t cur, int64_t e,
                         struct resil__bwin_view *v)
{
    uint64_t steps = (uint64_t)e - (uint64_t)cur;
    if (steps >= w->n) {
        memset(v, 0, sizeof *v);
        return;
    }
    /* epochs (cur - n, e - n] leave; unsigned arithmetic cannot overflow
     * near INT64_MIN */
    uint64_t first = (uint64_t)cur - w->n + 1;
    for (uint64_t i = 0; i < steps; i++)
        expire(w, (int64_t)(first + i), v);
}

static void time_roll(struct resil__bwin *w, int64_t e)
{
    /* relaxed: only the mutex holder writes cur */
    int64_t c = atomic_load_explicit(&w->cur, memory_order_relaxed);
    uint64_t succ = resil__stripes_sum(&w->succ);
    struct resil__bwin_bucket *cb = bucket_of(w, c);
    cb->calls = cur_calls(w, c, succ); /* sealed: now an ordinary bucket */
    struct resil__bwin_view v = {w->win_sealed + cb->calls, w->fails, w->slow};
    expire_until(w, c, e, &v);
    w->win_sealed = v.calls;
    w->fails = v.failures;
    w->slow = v.slow;
    bucket_reuse(w, e);
    w->cur_base = succ;
    /* relaxed: the fast path compares times only (see the header) */
    atomic_store_explicit(&w->cur, e, memory_order_relaxed);
}

static bool time_add(struct resil__bwin *w, int64_t now, bool failure, bool slow)
{
    int64_t e = floor_div(now, w->bucket_ns);
    int64_t c = atomic_load_explicit(&w->cur, memory_order_relaxed);
    if (e > c) {
        time_roll(w, e);
        c = e;
    }
    if ((uint64_t)c - (uint64_t)e >= w->n)
        return false; /* older than the window */
    struct resil__bwin_bucket *bk = bucket_of(w, e);
    if (bk->epoch != e)
        bucket_reuse(w, e); /* first call of an older epoch; the bucket's
                               old owner is outside the window (ring >= n) */
    w->locked++;
    bk->calls++;
    if (e != c)
        w->win_sealed++;
    bk->failures += failure;
    bk->slow += slow;
    w->fails += failure;
    w->slow += slow;
    return true;
}

static void time_view(struct resil__bwin *w, int64_t now, struct resil__bwin_view *v)
{
    int64_t c = atomic_load_explicit(&w->cur, memory_order_relaxed);
    int64_t e = floor_div(now, w->bucket_ns);
    v->calls = w->win_sealed + cur_calls(w, c, resil__stripes_sum(&w->succ));
    v->failures = w->fails;
    v->slow = w->slow;
    if (e > c)
        expire_until(w, c, e, v); /* read-only: the roll waits for a call */
}

static void time_clear(struct resil__bwin *w)
{
    int64_t c = atomic_load_explicit(&w->cur, memory_order_relaxed);
    uint64_t first = (uint64_t)c - w->n + 1;
    for (uint64_t i = 0; i < w->n; i++) {
        int64_t x = (int64_t)(first + i);
        if (bucket_of(w, x)->epoch == x)
            bucket_reuse(w, x);
    }
    w->cur_base = resil__stripes_sum(&w->succ);
    w->win_sealed = 0;
    w->fails = 0;
    w->slow = 0;
}

/* --- both ------------------------------------------------------------ */

bool resil__bwin_add(struct resil__bwin *w, struct resil__lazy_now *now, bool failure,
                     bool slow)
{
    if (w->kind == RESIL_WINDOW_COUNT) {
        count_add(w, failure, slow);
        return true;
    }
    return time_add(w, resil__lazy_now_get(now), failure, slow);
}

void resil__bwin_view(struct resil__bwin *w, struct resil__lazy_now *now,
                      struct resil__bwin_view *v)
{
    if (w->kind == RESIL_WINDOW_COUNT)
        count_view(w, v);
    else
        time_view(w, resil__lazy_now_get(now), v);
}

void resil__bwin_clear(struct resil__bwin *w)
{
    if (w->kind == RESIL_WINDOW_TIME) {
        time_clear(w);
        return;
    }
    w->start = count_pos(w);
    w->head = 0;
    w->len = 0;
    w->fails = 0;
    w->slow = 0;
}

uint64_t resil__bwin_total(struct resil__bwin *w)
{
    return resil__stripes_sum(&w->succ) + w->locked;
}

/* --- callback queue ---------------------------------------------------- */

int resil__bevq_init(struct resil__bevq *q, resil_breaker_cb cb, void *ctx)
{
    q->cb = cb;
    q->ctx = ctx;
    q->head = 0;
    q->tail = 0;
    return pthread_mutex_init(&q->cb_mu, NULL) == 0 ? 0 : RESIL_ENOMEM;
}

void resil__bevq_fini(struct resil__bevq *q)
{
    pthread_mutex_destroy(&q->cb_mu);
}

void resil__bevq_push(struct resil__bevq *q, unsigned from, unsigned to)
{
    if (!q->cb)
        return;
    if (q->tail - q->head < RESIL__BEVQ_CAP) {
        q->from[q->tail % RESIL__BEVQ_CAP] = (uint8_t)from;
        q->to[q->tail % RESIL__BEVQ_CAP] = (uint8_t)to;
        q->tail++;
        return;
    }
    uint32_t last = (q->tail - 1) % RESIL__BEVQ_CAP;
    q->to[last] = (uint8_t)to;
    if (q->from[last] == q->to[last])
        q->tail--;
}

bool resil__bevq_pending(const struct resil__bevq *q)
{
    return q->head != q->tail;
}

static bool bevq_pop(struct resil__bevq *q, pthread_mutex_t *mu, uint8_t *from,
                     uint8_t *to)
{
    pthread_mutex_lock(mu);
    bool any = q->head != q->tail;
    if (any) {
        *from = q->from[q->head % RESIL__BEVQ_CAP];
        *to = q->to[q->head % RESIL__BEVQ_CAP];
        q->head++;
    }
    pthread_mutex_unlock(mu);
    return any;
}

void resil__bevq_deliver(struct resil__bevq *q, pthread_mutex_t *mu, resil_breaker *b)
{
    for (;;) {
        /* Busy: its holder delivers (also when that is this thread, inside
         * a callback: POSIX trylock fails on a mutex we hold). */
        if (pthread_mutex_trylock(&q->cb_mu) != 0)
            return;
        uint8_t from, to;
        while (bevq_pop(q, mu, &from, &to))
            q->cb(b, (resil_breaker_state)from, (resil_breaker_state)to, q->ctx);
        pthread_mutex_unlock(&q->cb_mu);
        /* A thread that pushed after our last pop may have failed its
         * trylock while we still held cb_mu: look again.  Reading under mu
         * makes its push visible; a lock-free peek could miss it. */
        pthread_mutex_lock(mu);
        bool more = q->head != q->tail;
        pthread_mutex_unlock(mu);
        if (!more)
            return;
    }
}
