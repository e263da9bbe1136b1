/* Per-thread cell arenas of the metrics registry: see metrics_internal.h for
 * the layout and the lifetime rules. */
#include "metrics_internal.h"

#include <stdlib.h>

_Thread_local mx_tls resil__mx_tls
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* One process-wide key whose destructor tells arenas their thread exited.
 * It is created once and never deleted (a key cannot be deleted while
 * threads may still hold values). */
static pthread_once_t mx_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t mx_exit_key;
static bool mx_key_ok;

static void mx_thread_exit(void *p);

static void mx_key_create(void)
{
    mx_key_ok = pthread_key_create(&mx_exit_key, mx_thread_exit) == 0;
}

/* ---- one arena's table ---------------------------------------------------- */

static mx_cell *arena_cell(const mx_arena *a, uint32_t slot)
{
    uint32_t ti = slot >> MX_TOP_SHIFT;
    if (ti >= a->ntop || !a->top[ti])
        return NULL;
    mx_leaf *leaf = a->top[ti]->leaf[(slot >> MX_LEAF_BITS) & (MX_MID - 1)];
    return leaf ? &leaf->c[slot & (MX_LEAF - 1)] : NULL;
}

static int arena_grow_top(mx_arena *a, uint32_t ti)
{
    uint32_t n = a->ntop ? a->ntop : 4;
    while (n <= ti)
        n *= 2;
    mx_mid **top = resil__calloc(n, sizeof *top);
    if (!top)
        return RESIL_ENOMEM;
    if (a->ntop)
        memcpy(top, a->top, a->ntop * sizeof *top);
    resil__free(a->top);
    a->bytes += (n - a->ntop) * sizeof *top;
    a->top = top;
    a->ntop = n;
    return 0;
}

/* Make the leaf that holds slot.  Registry lock held: readers walk the
 * table under it.  Returns the bytes added (>= 0) or RESIL_ENOMEM. */
static int arena_ensure(mx_arena *a, uint32_t slot)
{
    uint32_t ti = slot >> MX_TOP_SHIFT;
    size_t before = a->bytes;
    if (ti >= a->ntop && arena_grow_top(a, ti) != 0)
        return RESIL_ENOMEM;
    if (!a->top[ti]) {
        a->top[ti] = resil__calloc(1, sizeof(mx_mid));
        if (!a->top[ti])
            return RESIL_ENOMEM;
        a->bytes += sizeof(mx_mid);
    }
    mx_leaf **lp = &a->top[ti]->leaf[(slot >> MX_LEAF_BITS) & (MX_MID - 1)];
    if (!*lp) {
        *lp = resil__calloc(1, sizeof(mx_leaf));
        if (!*lp)
            return RESIL_ENOMEM;
        a->bytes += sizeof(mx_leaf);
    }
    return (int)(a->bytes - before);
}

void resil__mx_arena_clear(mx_arena *a)
{
    for (uint32_t ti = 0; ti < a->ntop; ti++) {
        if (!a->top[ti])
            continue;
        for (uint32_t mi = 0; mi < MX_MID; mi++)
            resil__free(a->top[ti]->leaf[mi]);
        resil__free(a->top[ti]);
    }
    resil__free(a->top);
    a->top = NULL;
    a->ntop = 0;
    a->bytes = 0;
}

static void arena_destroy(mx_arena *a)
{
    resil__mx_arena_clear(a);
    resil__free(a);
}

/* ---- the calling thread's side ------------------------------------------- */

static void tls_forget(mx_tls *t)
{
    t->id = 0;
    t->arena = NULL;
    t->top = NULL;
    t->ntop = 0;
}

/* This thread's arena for registry id, freeing on the way the arenas whose
 * registry is gone (the registry left them to us). */
static mx_arena *tls_find(mx_tls *t, uint64_t id)
{
    mx_arena **pp = &t->head;
    while (*pp) {
        mx_arena *a = *pp;
        /* acquire: the registry's last reads of the arena happen before our
         * free */
        if (atomic_load_explicit(&a->state, memory_order_acquire) & MX_REG_GONE) {
            *pp = a->tnext;
            if (t->arena == a)
                tls_forget(t);
            arena_destroy(a);
            continue;
        }
        if (a->reg_id == id)
            return a;
        pp = &a->tnext;
    }
    return NULL;
}

static void tls_unlink(mx_tls *t, mx_arena *a)
{
    for (mx_arena **pp = &t->head; *pp; pp = &(*pp)->tnext) {
        if (*pp == a) {
            *pp = a->tnext;
            break;
        }
    }
    if (t->arena == a)
        tls_forget(t);
}

/* The thread-exit hook: hand every arena over.  After the fetch_or the
 * registry may fold and free the arena at once, so next is read first;
 * release makes this thread's last cell stores visible to that fold. */
static void mx_thread_exit(void *p)
{
    mx_tls *t = p;
    mx_arena *a = t->head;
    t->exiting = true;
    t->head = NULL;
    tls_forget(t);
    while (a) {
        mx_arena *next = a->tnext;
        unsigned prev =
            atomic_fetch_or_explicit(&a->state, MX_THREAD_GONE, memory_order_acq_rel);
        if (prev & MX_REG_GONE)
            arena_destroy(a);
        a = next;
    }
}

static mx_arena *arena_create(resil_metrics *m, mx_tls *t)
{
    pthread_once(&mx_key_once, mx_key_create);
    if (!mx_key_ok)
        return NULL;
    /* without the exit hook an arena would outlive its thread unnoticed */
    if (!t->registered) {
        if (pthread_setspecific(mx_exit_key, t) != 0)
            return NULL;
        t->registered = true;
    }
    mx_arena *a = resil__calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->reg_id = m->id;
    a->owner = t;
    a->bytes = sizeof *a;
    atomic_init(&a->state, 0u);
    resil__mx_lock(m);
    resil__mx_compact(m);
    a->rnext = m->arenas;
    m->arenas = a;
    m->narenas++;
    m->bytes += a->bytes;
    resil__mx_unlock(m);
    a->tnext = t->head;
    t->head = a;
    return a;
}

/* This thread's cell for slot, making arena, tables and leaf as needed;
 * NULL if that is impossible (no memory, thread exiting). */
static mx_cell *cell_slow(resil_metrics *m, uint32_t slot)
{
    mx_tls *t = &resil__mx_tls;
    if (t->exiting)
        return NULL;
    mx_arena *a = t->id == m->id ? t->arena : tls_find(t, m->id);
    if (!a)
        a = arena_create(m, t);
    if (!a)
        return NULL;
    mx_cell *c = arena_cell(a, slot);
    if (!c) {
        resil__mx_lock(m);
        int added = arena_ensure(a, slot);
        if (added > 0)
            m->bytes += (uint64_t)added;
        resil__mx_unlock(m);
        if (added >= 0)
            c = arena_cell(a, slot);
    }
    t->id = m->id;
    t->arena = a;
    t->top = a->top;
    t->ntop = a->ntop;
    return c;
}

void resil__mx_apply_slow(mx_series *s, uint32_t cell, enum mx_op op, uint64_t v)
{
    resil_metrics *m = s->reg;
    uint32_t slot = s->slot + cell;
    mx_cell *c = cell_slow(m, slot);
    if (c) {
        mx_apply_owned(c, op, v);
        return;
    }
    resil__mx_lock(m);
    if (resil__mx_retired_ensure(m, slot) == 0)
        resil__mx_retired_apply(m, slot, op, v);
    else
        m->dropped++;
    resil__mx_unlock(m);
}

/* ---- the registry's side (lock held) ------------------------------------- */

int resil__mx_retired_ensure(resil_metrics *m, uint32_t slot)
{
    int added = arena_ensure(&m->retired, slot);
    if (added < 0)
        return added;
    m->bytes += (uint64_t)added;
    return 0;
}

/* The lock serialises every writer of the retired arena, so the owner's
 * load-and-store is enough. */
void resil__mx_retired_apply(resil_metrics *m, uint32_t slot, enum mx_op op, uint64_t v)
{
    mx_cell *c = arena_cell(&m->retired, slot);
    if (c)
        mx_apply_owned(c, op, v);
}

static uint64_t combine(enum mx_op op, uint64_t acc, uint64_t v)
{
    if (op == MX_ADD)
        return acc + v;
    if (op == MX_FADD)
        return mx_f2u(mx_u2f(acc) + mx_u2f(v));
    return v > acc ? v : acc;
}

/* Relaxed loads: the owners store relaxed too; a reader wants each cell's
 * latest value, and threads joined before the read are complete. */
static uint64_t arena_read(const mx_arena *a, uint32_t slot, enum mx_op op, uint64_t acc)
{
    mx_cell *c = arena_cell(a, slot);
    return c ? combine(op, acc, atomic_load_explicit(c, memory_order_relaxed)) : acc;
}

uint64_t resil__mx_read(resil_metrics *m, uint32_t slot, enum mx_op op)
{
    uint64_t acc = arena_read(&m->retired, slot, op, 0);
    for (const mx_arena *a = m->arenas; a; a = a->rnext)
        acc = arena_read(a, slot, op, acc);
    return acc;
}

static void arena_read_range(const mx_arena *a, uint32_t slot, uint32_t n, uint64_t *acc)
{
    uint32_t i = 0;
    while (i < n) {
        uint32_t s = slot + i;
        uint32_t take = MX_LEAF - (s & (MX_LEAF - 1));
        if (take > n - i)
            take = n - i;
        mx_cell *c = arena_cell(a, s);
        for (uint32_t j = 0; c && j < take; j++)
            acc[i + j] += atomic_load_explicit(&c[j], memory_order_relaxed);
        i += take;
    }
}

void resil__mx_read_range(resil_metrics *m, uint32_t slot, uint32_t n, uint64_t *acc)
{
    arena_read_range(&m->retired, slot, n, acc);
    for (const mx_arena *a = m->arenas; a; a = a->rnext)
        arena_read_range(a, slot, n, acc);
}

/* ---- folding arenas of exited threads ------------------------------------ */

static enum mx_op cell_op(const mx_series *s, uint32_t i)
{
    if (s->fam->type != RESIL_METRICS_HISTOGRAM || i > MX_H_MAX)
        return MX_ADD;
    return i == MX_H_SUM ? MX_FADD : MX_MAX;
}

/* Make in retired every leaf the dead arena has, so the fold cannot fail
 * half-way. */
static int fold_prepare(resil_metrics *m, const mx_arena *a)
{
    for (uint32_t ti = 0; ti < a->ntop; ti++) {
        if (!a->top[ti])
            continue;
        for (uint32_t mi = 0; mi < MX_MID; mi++) {
            uint32_t slot = (ti << MX_TOP_SHIFT) | (mi << MX_LEAF_BITS);
            if (a->top[ti]->leaf[mi] && resil__mx_retired_ensure(m, slot) != 0)
                return RESIL_ENOMEM;
        }
    }
    return 0;
}

static void fold_series(resil_metrics *m, const mx_arena *a, const mx_series *s)
{
    for (uint32_t i = 0; i < s->ncells; i++) {
        mx_cell *c = arena_cell(a, s->slot + i);
        if (!c)
            continue;
        /* acquire on the state word already ordered the owner's stores */
        uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
        if (v)
            resil__mx_retired_apply(m, s->slot + i, cell_op(s, i), v);
    }
}

static int fold(resil_metrics *m, const mx_arena *a)
{
    if (fold_prepare(m, a) != 0)
        return RESIL_ENOMEM;
    for (size_t fi = 0; fi < m->nfams; fi++) {
        const mx_family *f = m->fams[fi];
        for (size_t si = 0; si < f->nseries; si++)
            fold_series(m, a, f->series[si]);
    }
    return 0;
}

void resil__mx_compact(resil_metrics *m)
{
    mx_arena **pp = &m->arenas;
    while (*pp) {
        mx_arena *a = *pp;
        /* acquire pairs with the exit hook's release: its cells are final */
        bool gone =
            atomic_load_explicit(&a->state, memory_order_acquire) & MX_THREAD_GONE;
        if (!gone || fold(m, a) != 0) {
            pp = &a->rnext; /* still read where it is; folded later */
            continue;
        }
        *pp = a->rnext;
        m->narenas--;
        m->nretired++;
        m->bytes -= a->bytes;
        arena_destroy(a);
    }
}

/* Registry free: each arena goes to whoever is last (see the header).  Our
 * own thread's arena is freed at once so a single-threaded program holds no
 * memory after resil_metrics_free(). */
void resil__mx_arenas_release(resil_metrics *m)
{
    mx_tls *t = &resil__mx_tls;
    mx_arena *a = m->arenas;
    while (a) {
        /* read before the hand-over: once REG_GONE is set, a live owner
         * may free the arena at any moment */
        mx_arena *next = a->rnext;
        if (a->owner == t) {
            /* ours (no other thread frees it), or left by an exited thread
             * whose TLS block we now occupy (it is done with it) */
            tls_unlink(t, a);
            arena_destroy(a);
        } else {
            /* release: our reads of the arena happen before its thread
             * frees it; acquire: if that thread is gone, its writes happen
             * before our free */
            unsigned prev =
                atomic_fetch_or_explicit(&a->state, MX_REG_GONE, memory_order_acq_rel);
            if (prev & MX_THREAD_GONE)
                arena_destroy(a);
        }
        a = next;
    }
    m->arenas = NULL;
    if (t->id == m->id)
        tls_forget(t);
    resil__mx_arena_clear(&m->retired);
}

/* ---- counters -------------------------------------------------------------- */

static mx_series *counter_of(resil_metrics_counter *c)
{
    mx_series *s = mx_s(c);
    return s && s->fam->type == RESIL_METRICS_COUNTER ? s : NULL;
}

/* Everything but the common case, out of line so the hot path below is a
 * leaf with no stack frame.  have_now: `now` is the caller's clock reading. */
__attribute__((noinline)) static void
counter_add_rest(mx_series *s, mx_cell *cell, uint64_t n, bool have_now, int64_t now)
{
    if (cell)
        mx_apply_owned(cell, MX_ADD, n);
    else
        resil__mx_apply_slow(s, 0, MX_ADD, n);
    if (s->rate)
        resil__mx_rate_mark(s->rate, have_now ? now : resil_clock_now(s->reg->clock), n);
}

/* The hot path: one relaxed load and store of this thread's own cell. */
void resil_metrics_counter_add(resil_metrics_counter *c, uint64_t n)
{
    mx_series *s = mx_s(c);
    if (!s)
        return;
    mx_cell *cell = mx_cell_fast(s->reg_id, s->slot);
    if (cell && !s->rate) {
        mx_apply_owned(cell, MX_ADD, n);
        return;
    }
    counter_add_rest(s, cell, n, false, 0);
}

void resil_metrics_counter_add_at(resil_metrics_counter *c, int64_t now, uint64_t n)
{
    mx_series *s = mx_s(c);
    if (!s)
        return;
    mx_cell *cell = mx_cell_fast(s->reg_id, s->slot);
    if (cell && !s->rate) {
        mx_apply_owned(cell, MX_ADD, n);
        return;
    }
    counter_add_rest(s, cell, n, true, now);
}

uint64_t resil_metrics_counter_value(resil_metrics_counter *c)
{
    mx_series *s = counter_of(c);
    if (!s)
        return 0;
    resil__mx_lock(s->reg);
    uint64_t v = resil__mx_read(s->reg, s->slot, MX_ADD);
    resil__mx_unlock(s->reg);
    return v;
}

/* The difference goes to the retired arena under the lock, so a set is
 * atomic with respect to readers and to other sets; cells add modulo 2^64,
 * so a total below the current one works too. */
int resil_metrics_counter_set(resil_metrics_counter *c, uint64_t total)
{
    mx_series *s = counter_of(c);
    if (!s)
        return RESIL_EINVAL;
    resil_metrics *m = s->reg;
    resil__mx_lock(m);
    int rc = resil__mx_retired_ensure(m, s->slot);
    if (rc == 0) {
        uint64_t cur = resil__mx_read(m, s->slot, MX_ADD);
        resil__mx_retired_apply(m, s->slot, MX_ADD, total - cur);
    }
    resil__mx_unlock(m);
    return rc;
}

/* ---- gauges: one shared atomic double per series ------------------------ */

static mx_series *gauge_of(resil_metrics_gauge *g)
{
    mx_series *s = mx_s(g);
    return s && s->fam->type == RESIL_METRICS_GAUGE ? s : NULL;
}

/* Relaxed: a gauge is a value, not a flag guarding other memory. */
void resil_metrics_gauge_set(resil_metrics_gauge *g, double v)
{
    mx_series *s = gauge_of(g);
    if (s)
        atomic_store_explicit(&s->gauge, mx_f2u(v), memory_order_relaxed);
}

void resil_metrics_gauge_add(resil_metrics_gauge *g, double delta)
{
    mx_series *s = gauge_of(g);
    if (!s)
        return;
    uint64_t cur = atomic_load_explicit(&s->gauge, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &s->gauge, &cur, mx_f2u(mx_u2f(cur) + delta), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

double resil_metrics_gauge_value(resil_metrics_gauge *g)
{
    mx_series *s = gauge_of(g);
    return s ? mx_u2f(atomic_load_explicit(&s->gauge, memory_order_relaxed)) : 0;
}
