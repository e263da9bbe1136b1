/* libresil metrics internals shared by lib/metrics*.c; not installed.
 *
 * Cells.  Every counter and histogram series owns a run of "cell slots"
 * (uint64 words) numbered registry-wide.  Each thread that records into a
 * registry gets an arena: a three-level table slot -> cell (top array ->
 * 512-entry mid tables -> 64-cell leaves) whose tables and leaves are made
 * on first touch.  Only the owning thread writes its cells, so a record is
 * a plain relaxed load and store.  The owner changes the table shape only
 * under the registry lock, and readers walk arenas only under that lock, so
 * the table pointers need no atomics; cells are atomic because readers load
 * them while the owner stores.
 *
 * The registry keeps one more arena, "retired", written only under its lock:
 * values of exited threads are folded into it, and writes that cannot use a
 * thread arena (allocation failure, a thread in its exit path, merge,
 * counter_set) land there.
 *
 * Lifetimes.  An arena is on two lists: its registry's (rnext, under the
 * registry lock) and its thread's (tnext, touched by that thread only).
 * Whichever of "thread exited" and "registry freed" happens second frees it:
 * each side sets its bit in `state` with one fetch_or and frees the arena if
 * the other bit was already set.  A live thread also frees arenas of freed
 * registries when it next walks its list, and resil_metrics_free() frees
 * the calling thread's own arena at once.  The thread-local cache is keyed
 * by a registry id that is never reused, so a stale entry can never match a
 * new registry at a recycled address. */
#ifndef RESIL_METRICS_INTERNAL_H
#define RESIL_METRICS_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <resil/metrics.h>
#include <string.h>

#define MX_LEAF_BITS 6
#define MX_LEAF (1u << MX_LEAF_BITS)
#define MX_MID_BITS 9
#define MX_MID (1u << MX_MID_BITS)
#define MX_TOP_SHIFT (MX_LEAF_BITS + MX_MID_BITS)
/* Cell slots per registry: keeps the top table under 64 Ki entries. */
#define MX_MAX_CELLS (UINT32_C(1) << 31)

/* Histogram cells: sum (double bits), min (~key), max (key), the zero
 * bucket, then the sketch buckets. */
#define MX_H_SUM 0
#define MX_H_MIN 1
#define MX_H_MAX 2
#define MX_H_ZERO 3
#define MX_H_HDR 3 /* cell of bucket b (0 = zero bucket) is MX_H_HDR + b */

typedef _Atomic uint64_t mx_cell;
typedef struct mx_leaf {
    mx_cell c[MX_LEAF];
} mx_leaf;
typedef struct mx_mid {
    mx_leaf *leaf[MX_MID];
} mx_mid;

enum { MX_THREAD_GONE = 1u, MX_REG_GONE = 2u };

typedef struct mx_arena {
    mx_mid **top;
    uint32_t ntop;
    uint64_t reg_id;
    const void *owner;      /* the owner thread's mx_tls */
    struct mx_arena *rnext; /* registry's list */
    struct mx_arena *tnext; /* owner thread's list */
    _Atomic unsigned state; /* MX_THREAD_GONE | MX_REG_GONE */
    size_t bytes;           /* tables and leaves held */
} mx_arena;

/* The per-thread cache read by every record.  `id` is the registry of the
 * cached arena (0: none); top/ntop are copies of that arena's table. */
typedef struct mx_tls {
    uint64_t id;
    mx_mid **top;
    uint32_t ntop;
    bool registered; /* thread-exit hook installed */
    bool exiting;    /* in the exit hook: no new arenas */
    mx_arena *arena;
    mx_arena *head; /* every arena of this thread */
} mx_tls;

/* initial-exec: the library is linked, not dlopen'ed, by its users, and
 * general-dynamic TLS would add a __tls_get_addr call to every record. */
extern _Thread_local mx_tls resil__mx_tls
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* Histogram sketch parameters.  For v = 2^e * (1 + f), 0 <= f < 1, with
 * k = 2^shift steps per power of two, the index
 *   L(v) = e * k + floor(f * k) = (IEEE bits of v >> (52 - shift)) - 1023 * k
 * so a bucket spans at most a factor 1 + 1/k <= gamma = (1+a)/(1-a), and its
 * representative 2*lo*hi/(lo+hi) is within a of every value in it. */
typedef struct mx_hparams {
    double rel_error, min_value, max_value;
    int64_t min_bits, max_bits; /* bits of min_value, max_value */
    uint32_t k;                 /* sub-buckets per power of two, 2^shift */
    uint32_t shift;
    int32_t lmin;  /* L(min_value) */
    uint32_t nb;   /* sketch buckets, zero bucket excluded */
    uint64_t base; /* (min_bits >> (52 - shift)) - 1: bucket = bits' - base */
} mx_hparams;

typedef struct mx_rate {
    int64_t bucket_ns;
    uint32_t nslots;
    /* (bucket number mod 2^32) << 32 | events in it (saturating) */
    _Atomic uint64_t slot[];
} mx_rate;

typedef struct mx_ring {
    uint32_t len, head, count; /* head: next write */
    resil_metrics_point pts[];
} mx_ring;

typedef struct mx_series {
    struct resil_metrics *reg;
    uint64_t reg_id;
    uint32_t slot;   /* first cell */
    uint32_t ncells; /* 0 for gauges */
    struct resil_metrics_family *fam;
    char **values;          /* fam->nlabels copies */
    _Atomic uint64_t gauge; /* gauge value, double bits */
    mx_rate *rate;
    mx_ring *ring;
    bool overflow;
} mx_series;

typedef struct resil_metrics_family {
    struct resil_metrics *reg;
    resil_metrics_type type;
    char *name; /* counters: without "_total" */
    char *help;
    char **labels;
    size_t nlabels;
    uint32_t max_series;
    int history;
    int64_t rate_window_ns, rate_bucket_ns;
    mx_hparams hp;
    double *bounds;
    uint32_t *bound_cut; /* sketch buckets (from 1) whose value <= bound */
    char (*le)[2][32];   /* bounds as `le` values: Prometheus, OpenMetrics */
    size_t nbounds;
    mx_series **series; /* sorted by label values; overflow included */
    size_t nseries, cap;
    mx_series *overflow;
    uint64_t overflows;
} mx_family;

typedef struct mx_collector {
    uint64_t id;
    resil_metrics_collect_fn fn;
    void *ctx;
    void (*destroy)(void *ctx);
    struct mx_collector *next;
} mx_collector;

struct resil_metrics {
    uint64_t id;
    const resil_clock *clock;
    uint32_t max_families, max_series, max_label_len, history_len;
    pthread_mutex_t lock;         /* families, series, arenas, retired */
    pthread_mutex_t collect_lock; /* collectors list and their runs */
    mx_family **fams;             /* sorted by name */
    size_t nfams, fcap;
    uint32_t next_slot;
    mx_arena *arenas;
    mx_arena retired;
    uint64_t nseries, overflows, narenas, nretired, dropped;
    uint64_t bytes; /* families, series, rings, tables */
    _Atomic uint64_t collector_errors;
    mx_collector *collectors;
    uint64_t next_collector;
};

static inline mx_series *mx_s(const void *handle)
{
    return (mx_series *)(uintptr_t)handle;
}

/* ---- metrics_cells.c ------------------------------------------------------ */
enum mx_op { MX_ADD, MX_FADD, MX_MAX };

/* The calling thread's cell for a slot of registry `id`, or NULL when the
 * slow path must run (other registry cached, table or leaf not there). */
static inline mx_cell *mx_cell_fast(uint64_t id, uint32_t slot)
{
    mx_tls *t = &resil__mx_tls;
    if (t->id != id)
        return NULL;
    uint32_t ti = slot >> MX_TOP_SHIFT;
    if (ti >= t->ntop || !t->top[ti])
        return NULL;
    mx_leaf *leaf = t->top[ti]->leaf[(slot >> MX_LEAF_BITS) & (MX_MID - 1)];
    return leaf ? &leaf->c[slot & (MX_LEAF - 1)] : NULL;
}

static inline uint64_t mx_f2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double mx_u2f(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* An order-preserving map of doubles (NaN excluded) to uint64 > 0. */
static inline uint64_t mx_key(double v)
{
    uint64_t b = mx_f2u(v);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

static inline double mx_unkey(uint64_t k)
{
    return mx_u2f((k >> 63) ? k & ~(UINT64_C(1) << 63) : ~k);
}

/* Apply an operation to a cell only this thread writes: relaxed, because
 * readers want an eventually exact sum, not an order with other memory. */
static inline void mx_apply_owned(mx_cell *c, enum mx_op op, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    if (op == MX_ADD)
        atomic_store_explicit(c, cur + v, memory_order_relaxed);
    else if (op == MX_FADD)
        atomic_store_explicit(c, mx_f2u(mx_u2f(cur) + mx_u2f(v)), memory_order_relaxed);
    else if (v > cur)
        atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Record through the slow path: find or make this thread's arena and leaf,
 * or else write the retired arena under the lock (or count a drop). */
void resil__mx_apply_slow(mx_series *s, uint32_t cell, enum mx_op op, uint64_t v);
/* Retired-arena write under the lock (held by the caller); -ENOMEM. */
int resil__mx_retired_ensure(struct resil_metrics *m, uint32_t slot);
void resil__mx_retired_apply(struct resil_metrics *m, uint32_t slot, enum mx_op op,
                             uint64_t v);
/* Readers, lock held: combine one slot over the retired and every thread
 * arena. */
uint64_t resil__mx_read(struct resil_metrics *m, uint32_t slot, enum mx_op op);
/* acc[i] += the sum of slot + i over every arena, for i < n. */
void resil__mx_read_range(struct resil_metrics *m, uint32_t slot, uint32_t n,
                          uint64_t *acc);
/* Fold arenas of exited threads into retired (lock held). */
void resil__mx_compact(struct resil_metrics *m);
/* Detach every arena at registry free. */
void resil__mx_arenas_release(struct resil_metrics *m);
void resil__mx_arena_clear(mx_arena *a);

/* ---- metrics_histogram.c -------------------------------------------------- */
int resil__mx_hparams_init(mx_hparams *hp, double rel_error, double min_value,
                           double max_value);
int resil__mx_hparams_equal(const mx_hparams *a, const mx_hparams *b);
double resil__mx_bucket_value(const mx_hparams *hp, uint32_t b); /* b >= 1 */
/* A histogram read whole (lock held): counts has nb + 1 entries. */
typedef struct mx_hsnap {
    uint64_t count;
    double sum;
    uint64_t min_key, max_key; /* 0: none */
    uint64_t *counts;
} mx_hsnap;
void resil__mx_hist_read(mx_series *s, mx_hsnap *snap);
double resil__mx_hist_quantile(const mx_hparams *hp, const mx_hsnap *snap, double q);
int resil__mx_bounds_init(mx_family *f, const double *bounds, size_t n);
/* The Prometheus client default `le` bounds. */
const double *resil__mx_default_bounds(size_t *n);

/* ---- metrics_rate.c ------------------------------------------------------- */
int resil__mx_rate_new(mx_series *s);
void resil__mx_rate_mark(mx_rate *r, int64_t now, uint64_t n);
/* The rate of a counter at `now` (window 0: the family's); no lock needed. */
int resil__mx_rate_read(const mx_series *s, int64_t now, int64_t window_ns,
                        resil_metrics_rate *r);
int resil__mx_ring_new(mx_series *s);

/* ---- metrics.c ------------------------------------------------------------ */
int resil__mx_valid_name(const char *name, bool metric);
int resil__mx_series_find(mx_family *f, const char *const *values, mx_series **out);
int resil__mx_series_get(mx_family *f, resil_metrics_type type, const char *const *values,
                         mx_series **out);
/* Collectors: one that owns ctx (destroy(ctx) at removal), for watchers in
 * the library (breaker, limiter; cache and retry later). */
int resil__mx_collector_add(resil_metrics *m, resil_metrics_collect_fn fn, void *ctx,
                            void (*destroy)(void *ctx), uint64_t *id);
void resil__mx_collect(resil_metrics *m);
void resil__mx_lock(resil_metrics *m);
void resil__mx_unlock(resil_metrics *m);

/* ---- metrics_export.c ----------------------------------------------------- */
/* v as Go's strconv 'g' -1 (the Prometheus tools' rendering); canonical adds
 * ".0" where OpenMetrics wants it for `le`.  out: 32 bytes. */
void resil__mx_fmt_double(char *out, double v, bool canonical);

/* ---- metrics_json.c ------------------------------------------------------- */
/* Whether the JSON formats were built in (jansson). */
bool resil__mx_have_json(void);
/* Render a JSON format into *out (a resil_free()-able string); lock held. */
int resil__mx_json(resil_metrics *m, resil_metrics_format fmt, int64_t now, char **out,
                   size_t *len);

#endif /* RESIL_METRICS_INTERNAL_H */
