/* libresil: metrics registry.
 *
 *   resil_metrics *m;
 *   resil_metrics_counter *req;
 *   resil_metrics_histogram *lat;
 *   resil_metrics_new(NULL, &m);
 *   resil_metrics_counter_new(m, "app_requests_total", "Requests served.", &req);
 *   resil_metrics_histogram_new(m, "app_latency_seconds", "Request latency.", &lat);
 *   ...
 *   resil_metrics_counter_add(req, 1);                // hot path: no lock
 *   resil_metrics_histogram_record_ns(lat, t1 - t0);  // hot path: no lock
 *   ...
 *   char *text;
 *   resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL);
 *
 * A registry holds metric families (a name, a type, help text and label
 * names); a family holds series, one per combination of label values.
 * Series handles (counter, gauge, histogram) are stable pointers, valid
 * until the registry is freed: look them up once, cache them, and record on
 * the hot path without any lookup.
 *
 * Counters and histograms keep one set of cells per thread that records
 * into them (a thread-local arena per registry), written with plain relaxed
 * loads and stores: no lock, no atomic read-modify-write, no shared cache
 * line between threads.  Readers (value, stats, export) sum the arenas under
 * the registry's lock.  A thread's first record into a registry, and its
 * first into each 64-cell page, allocates; every later record does not.
 * Arenas of threads that exit keep their values (they are folded into the
 * registry's own cells).
 *
 * Histograms are log-linear sketches with a guaranteed relative error
 * (DDSketch's bound, with a linearly interpolated index so recording needs
 * no logarithm): every percentile is within rel_error of the exact one.
 * Prometheus and OpenMetrics output sums the sketch into `le` buckets, each
 * boundary exact to the same relative error.
 *
 * Memory is bounded: the number of families, the label combinations per
 * family (further combinations share one series whose label values are all
 * "__overflow__"), the length of label values and of the history ring are
 * all capped.  Nothing runs behind the caller's back: rates use the
 * registry's clock at record time, history advances when the caller calls
 * resil_metrics_history_tick(), collectors run inside export and tick.
 *
 * Every function is safe to call from many threads on one registry. */
#ifndef RESIL_METRICS_H
#define RESIL_METRICS_H

#include <resil/alloc.h> /* resil_free() for what resil_metrics_export() returns */
#include <resil/breaker.h>
#include <resil/cache.h>
#include <resil/clock.h>
#include <resil/common.h>
#include <resil/limiter.h>
#include <resil/retry.h>

RESIL_BEGIN_DECLS

typedef struct resil_metrics resil_metrics;
typedef struct resil_metrics_family resil_metrics_family;
typedef struct resil_metrics_counter resil_metrics_counter;
typedef struct resil_metrics_gauge resil_metrics_gauge;
typedef struct resil_metrics_histogram resil_metrics_histogram;

/* Label names per family. */
#define RESIL_METRICS_MAX_LABELS 16
/* Bytes in a metric or label name. */
#define RESIL_METRICS_MAX_NAME 200
/* Sketch buckets per histogram (set by rel_error, min_value, max_value). */
#define RESIL_METRICS_MAX_BUCKETS 65536
/* `le` boundaries per histogram family. */
#define RESIL_METRICS_MAX_BOUNDS 128
/* What every label value of the series that takes the label combinations
 * past a family's cap is set to. */
#define RESIL_METRICS_OVERFLOW_VALUE "__overflow__"

typedef enum resil_metrics_type {
    RESIL_METRICS_COUNTER = 0,   /* monotonic uint64 total */
    RESIL_METRICS_GAUGE = 1,     /* a double set or adjusted at will */
    RESIL_METRICS_HISTOGRAM = 2, /* distribution: percentiles, sum, count */
} resil_metrics_type;

typedef struct resil_metrics_opts {
    const resil_clock *clock; /* rates and history; NULL: monotonic */
    uint32_t max_families;    /* default 1024 */
    uint32_t max_series;      /* label combinations per family unless the
                                 family says otherwise; default 1000 */
    uint32_t max_label_len;   /* bytes in one label value; default 256 */
    uint32_t history_len;     /* points kept per series that keeps a
                                 history, 2..100000; default 120 */
    uint64_t reserved_[8];    /* zeroed by resil_metrics_opts_init() */
} resil_metrics_opts;

typedef struct resil_metrics_family_opts {
    resil_metrics_type type;   /* default RESIL_METRICS_COUNTER */
    const char *name;          /* required; [a-zA-Z_:][a-zA-Z0-9_:]*.  A
                                  counter's name may end in "_total" or not:
                                  the exposition always adds it */
    const char *help;          /* copied; NULL is "" */
    const char *const *labels; /* nlabels names, [a-zA-Z_][a-zA-Z0-9_]*,
                                  distinct, not starting with "__", not "le"
                                  for histograms; copied */
    size_t nlabels;            /* 0..RESIL_METRICS_MAX_LABELS; default 0 */
    uint32_t max_series;       /* label combination cap; 0: the registry's */
    int history;               /* nonzero: every series keeps a ring of
                                  resil_metrics_history_tick() points;
                                  default 0 */
    /* Counters: windowed rates (resil_metrics_counter_rate()).  Recording
     * into such a counter also reads the registry's clock and updates a
     * shared per-bucket count with one compare-and-swap, so keep rates for
     * the counters alerting needs (errors, outcomes). */
    int64_t rate_window_ns; /* longest window, a multiple of
                               rate_bucket_ns, at most 3600 buckets;
                               0: no rates (default) */
    int64_t rate_bucket_ns; /* resolution of the window; default 1 s */
    /* Histograms: the sketch. */
    double rel_error; /* in [0.0001, 0.5); default 0.01 */
    double min_value; /* smaller values (zero, negatives) share one
                         bucket; > 0, default 1e-9 */
    double max_value; /* larger values share the top bucket;
                         default 1e9 */
    /* Histograms: the `le` boundaries of the Prometheus and OpenMetrics
     * exposition, strictly increasing and finite (+Inf is implied); NULL:
     * the Prometheus client defaults .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
     * Copied. */
    const double *bounds;
    size_t nbounds;        /* 1..RESIL_METRICS_MAX_BOUNDS when bounds */
    uint64_t reserved_[8]; /* zeroed by resil_metrics_family_opts_init() */
} resil_metrics_family_opts;

typedef struct resil_metrics_stats {
    uint64_t families;
    uint64_t series;           /* overflow series included */
    uint64_t overflows;        /* lookups sent to an overflow series */
    uint64_t cells;            /* per-thread cell slots reserved */
    uint64_t threads;          /* arenas of threads that recorded */
    uint64_t threads_retired;  /* arenas of exited threads folded in */
    uint64_t bytes;            /* memory held by the registry, roughly */
    uint64_t dropped;          /* records lost: no memory for a cell */
    uint64_t collector_errors; /* collector calls that returned nonzero */
    uint64_t reserved_[8];
} resil_metrics_stats;

typedef struct resil_metrics_family_stats {
    resil_metrics_type type;
    uint64_t series;     /* overflow series included */
    uint64_t max_series; /* the cap in force */
    uint64_t overflows;  /* lookups sent to the overflow series */
    uint64_t reserved_[8];
} resil_metrics_family_stats;

typedef struct resil_metrics_histogram_stats {
    uint64_t count;
    double sum;
    double min, max;                 /* exact; 0 when count is 0 */
    double mean;                     /* sum / count; 0 when count is 0 */
    double p50, p90, p95, p99, p999; /* within rel_error; 0 when empty */
    uint64_t reserved_[8];
} resil_metrics_histogram_stats;

typedef struct resil_metrics_rate {
    uint64_t events;   /* counted in the window */
    int64_t window_ns; /* the window: the current bucket and the
                          ones before it that make it up */
    double per_sec;    /* events / window seconds */
    double per_min;    /* per_sec * 60 */
    uint64_t reserved_[4];
} resil_metrics_rate;

/* One point of a series' history. */
typedef struct resil_metrics_point {
    int64_t t_ns;         /* registry clock at the tick */
    double value;         /* counter total, gauge value, histogram
                             count */
    double rate;          /* counters and histograms: value gained per
                             second since the previous point; 0 for the
                             first point and for gauges */
    double sum;           /* histograms: sum of observations */
    double p50, p90, p99; /* histograms: percentiles of everything
                             recorded so far; 0 otherwise */
} resil_metrics_point;

typedef enum resil_metrics_format {
    RESIL_METRICS_PROMETHEUS = 0,   /* text format 0.0.4 */
    RESIL_METRICS_OPENMETRICS = 1,  /* OpenMetrics 1.0.0 text */
    RESIL_METRICS_JSON = 2,         /* families, series, values, percentiles,
                                       rates */
    RESIL_METRICS_JSON_HISTORY = 3, /* the history ring of every series that
                                       keeps one */
} resil_metrics_format;

/* Run at export and history tick, before the values are read, to bring
 * series up to date with state kept elsewhere (resil_metrics_gauge_set(),
 * resil_metrics_counter_set()).  Collectors of one registry never run
 * concurrently.  A collector may call any function on series and families
 * but not export, tick, collector_add or collector_remove.  Nonzero counts
 * as a collector error (resil_metrics_stats) and export goes on. */
typedef int (*resil_metrics_collect_fn)(resil_metrics *m, void *ctx);

/* How a watcher names what it exports: metric names are prefix + "_" + a
 * fixed suffix, and every series carries the given labels. */
typedef struct resil_metrics_watch_opts {
    const char *prefix;              /* NULL: "resil_breaker", "resil_limiter",
                                        "resil_cache" or "resil_retry" by
                                        what is watched */
    const char *const *label_names;  /* as family labels */
    const char *const *label_values; /* one per name */
    size_t nlabels;
    uint64_t reserved_[8]; /* zeroed by resil_metrics_watch_opts_init() */
} resil_metrics_watch_opts;

/* ---- the registry ------------------------------------------------------- */
RESIL_API void resil_metrics_opts_init(resil_metrics_opts *o);
/* o may be NULL for the defaults.  RESIL_EINVAL for out-of-range options,
 * RESIL_ENOMEM. */
RESIL_API int resil_metrics_new(const resil_metrics_opts *o, resil_metrics **out);
/* Frees every family, series and collector (watchers stop; the watched
 * objects are not touched).  No other thread may use the registry or its
 * series any more. */
RESIL_API void resil_metrics_free(resil_metrics *m);
RESIL_API void resil_metrics_stats_get(resil_metrics *m, resil_metrics_stats *st);

/* ---- families and series ------------------------------------------------ */
RESIL_API void resil_metrics_family_opts_init(resil_metrics_family_opts *o);
/* Define a family, or find the one already defined under that name with the
 * same type, labels and parameters (help text is not compared: the first
 * wins).  RESIL_EINVAL for a bad name or option, RESIL_EEXIST if the name
 * is taken by a different definition, RESIL_EFULL past max_families,
 * RESIL_ENOMEM. */
RESIL_API int resil_metrics_family_new(resil_metrics *m,
                                       const resil_metrics_family_opts *o,
                                       resil_metrics_family **out);
/* The family of that name (a counter's with or without "_total");
 * RESIL_ENOENT if there is none. */
RESIL_API int resil_metrics_family_find(resil_metrics *m, const char *name,
                                        resil_metrics_family **out);
RESIL_API void resil_metrics_family_stats_get(resil_metrics_family *f,
                                              resil_metrics_family_stats *st);

/* The series of a family for these label values (one per label name, in
 * order, valid UTF-8; NULL when the family has no labels), made on first
 * use.  Past the family's cap the overflow series is returned, with 0.
 * RESIL_EINVAL for a family of another type or a bad value, RESIL_ERANGE
 * for a value longer than max_label_len, RESIL_EFULL when the registry has
 * no cell slots left, RESIL_ENOMEM. */
RESIL_API int resil_metrics_counter_get(resil_metrics_family *f,
                                        const char *const *values,
                                        resil_metrics_counter **out);
RESIL_API int resil_metrics_gauge_get(resil_metrics_family *f, const char *const *values,
                                      resil_metrics_gauge **out);
RESIL_API int resil_metrics_histogram_get(resil_metrics_family *f,
                                          const char *const *values,
                                          resil_metrics_histogram **out);

/* Shortcuts for a family without labels and with default options, and its
 * one series.  Errors as resil_metrics_family_new(). */
RESIL_API int resil_metrics_counter_new(resil_metrics *m, const char *name,
                                        const char *help, resil_metrics_counter **out);
RESIL_API int resil_metrics_gauge_new(resil_metrics *m, const char *name,
                                      const char *help, resil_metrics_gauge **out);
RESIL_API int resil_metrics_histogram_new(resil_metrics *m, const char *name,
                                          const char *help,
                                          resil_metrics_histogram **out);

/* ---- recording (NULL handles are ignored) ------------------------------- */
/* Add n.  Lock-free; with rates, also reads the registry's clock. */
RESIL_API void resil_metrics_counter_add(resil_metrics_counter *c, uint64_t n);
/* The same with the caller's reading of the registry's clock (for rates). */
RESIL_API void resil_metrics_counter_add_at(resil_metrics_counter *c, int64_t now,
                                            uint64_t n);
/* Make the total `total` (modulo 2^64) by adding the difference: for
 * collectors that mirror a count kept elsewhere.  Concurrent adds still
 * count.  RESIL_EINVAL for NULL, RESIL_ENOMEM. */
RESIL_API int resil_metrics_counter_set(resil_metrics_counter *c, uint64_t total);
/* The total; 0 for NULL. */
RESIL_API uint64_t resil_metrics_counter_value(resil_metrics_counter *c);
/* Events counted over the last window_ns (rounded up to whole buckets; 0:
 * the family's whole window), on the registry's clock.  RESIL_EINVAL for a
 * counter without rates, RESIL_ERANGE for a window longer than the
 * family's. */
RESIL_API int resil_metrics_counter_rate(resil_metrics_counter *c, int64_t window_ns,
                                         resil_metrics_rate *r);

RESIL_API void resil_metrics_gauge_set(resil_metrics_gauge *g, double v);
RESIL_API void resil_metrics_gauge_add(resil_metrics_gauge *g, double delta);
/* The value; 0 for NULL. */
RESIL_API double resil_metrics_gauge_value(resil_metrics_gauge *g);

/* Record one observation.  Lock-free.  NaN is ignored.  OpenMetrics wants
 * a histogram's sum never negative: record negative values only in
 * histograms exported as Prometheus text or JSON. */
RESIL_API void resil_metrics_histogram_record(resil_metrics_histogram *h, double v);
/* Record a duration given in nanoseconds as seconds (timings). */
RESIL_API void resil_metrics_histogram_record_ns(resil_metrics_histogram *h, int64_t ns);
/* RESIL_EINVAL for NULL arguments, RESIL_ENOMEM. */
RESIL_API int resil_metrics_histogram_stats_get(resil_metrics_histogram *h,
                                                resil_metrics_histogram_stats *st);
/* The q-quantile, q in [0, 1], within rel_error.  RESIL_ENOENT when the
 * histogram is empty. */
RESIL_API int resil_metrics_histogram_quantile(resil_metrics_histogram *h, double q,
                                               double *v);
/* Add everything recorded in src to dst (dst's sketch, sum, count, min and
 * max become those of both together).  The two may live in different
 * registries but must have the same rel_error, min_value and max_value:
 * RESIL_EINVAL otherwise.  RESIL_ENOMEM. */
RESIL_API int resil_metrics_histogram_merge(resil_metrics_histogram *dst,
                                            resil_metrics_histogram *src);

/* ---- history ------------------------------------------------------------ */
/* Run the collectors, then append one point, at the registry's clock, to the
 * history of every series that keeps one (the oldest point goes when the
 * ring is full).  Call it periodically (every second for a live chart).
 * RESIL_ENOMEM. */
RESIL_API int resil_metrics_history_tick(resil_metrics *m);
/* Copy the newest min(cap, kept) points of one series, oldest first, into
 * pts and set *n.  RESIL_EINVAL if the family keeps no history,
 * RESIL_ENOENT if the series does not exist (this never makes one). */
RESIL_API int resil_metrics_history_get(resil_metrics_family *f,
                                        const char *const *values,
                                        resil_metrics_point *pts, size_t cap, size_t *n);

/* ---- exposition --------------------------------------------------------- */
/* Run the collectors, then render every family with at least one series:
 * families sorted by name, series by label values, no timestamps.  *out
 * is a NUL-terminated string to release with resil_free(); *len (len may
 * be NULL) its length.  RESIL_ENOTSUP for a JSON format when the library
 * was built without jansson; RESIL_EINVAL, RESIL_ENOMEM. */
RESIL_API int resil_metrics_export(resil_metrics *m, resil_metrics_format fmt, char **out,
                                   size_t *len);
/* The HTTP Content-Type of a format ("text/plain; version=0.0.4;
 * charset=utf-8", ...); NULL for an unknown one. */
RESIL_API const char *resil_metrics_content_type(resil_metrics_format fmt);

/* ---- collectors and watchers -------------------------------------------- */
/* Register fn(m, ctx) to run before each export and tick; *id (nonzero)
 * names it for removal.  ctx is not owned.  RESIL_ENOMEM. */
RESIL_API int resil_metrics_collector_add(resil_metrics *m, resil_metrics_collect_fn fn,
                                          void *ctx, uint64_t *id);
/* Remove a collector or watcher; when this returns it is not running and
 * never will again.  RESIL_ENOENT for an unknown id. */
RESIL_API int resil_metrics_collector_remove(resil_metrics *m, uint64_t id);

RESIL_API void resil_metrics_watch_opts_init(resil_metrics_watch_opts *o);
/* Export a breaker's statistics at each export/tick: <prefix>_state (gauge:
 * 0 closed, 1 open, 2 half-open), <prefix>_calls_total,
 * <prefix>_failures_total, <prefix>_slow_calls_total,
 * <prefix>_rejections_total (counters) and <prefix>_failure_rate (gauge,
 * over the breaker's window).  The families are shared by every watcher
 * with the same prefix and label names.  The breaker must outlive the
 * watcher (resil_metrics_collector_remove(id) or resil_metrics_free()).
 * o may be NULL.  Errors as resil_metrics_family_new() and
 * resil_metrics_counter_get(). */
RESIL_API int resil_metrics_watch_breaker(resil_metrics *m, resil_breaker *b,
                                          const resil_metrics_watch_opts *o,
                                          uint64_t *id);
/* The same for a limiter: <prefix>_allowed_total, <prefix>_rejected_total
 * (counters) and <prefix>_utilisation (gauge, 0..1). */
RESIL_API int resil_metrics_watch_limiter(resil_metrics *m, resil_limiter *l,
                                          const resil_metrics_watch_opts *o,
                                          uint64_t *id);
/* The same for a cache (resil_cache_stats_get()): <prefix>_hits_total,
 * <prefix>_misses_total, <prefix>_stale_hits_total, <prefix>_loads_total,
 * <prefix>_load_failures_total, <prefix>_evictions_total,
 * <prefix>_expirations_total (counters), <prefix>_entries, <prefix>_bytes
 * and <prefix>_hit_rate (gauges). */
RESIL_API int resil_metrics_watch_cache(resil_metrics *m, resil_cache *c,
                                        const resil_metrics_watch_opts *o,
                                        uint64_t *id);
/* The same for a retry policy (resil_retry_stats_get()):
 * <prefix>_runs_total, <prefix>_attempts_total, <prefix>_retries_total,
 * <prefix>_successes_total and <prefix>_stops_total (counters), the last
 * with one more label after the caller's, reason="succeeded",
 * "not_retryable", "exhausted", "deadline", "budget" or "breaker_open"
 * (so o may give at most RESIL_METRICS_MAX_LABELS - 1 labels, none named
 * "reason": RESIL_EINVAL otherwise). */
RESIL_API int resil_metrics_watch_retry(resil_metrics *m, resil_retry *r,
                                        const resil_metrics_watch_opts *o,
                                        uint64_t *id);

RESIL_END_DECLS

#endif /* RESIL_METRICS_H */
