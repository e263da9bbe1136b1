/* libresil: circuit breaker.
 *
 *   resil_breaker_ticket t;
 *   if (resil_breaker_acquire(b, &t) != 0)      // OPEN: fail fast
 *       return fallback();
 *   int64_t t0 = resil_clock_now(NULL);
 *   int rc = call_remote();
 *   resil_breaker_record(b, t, rc == 0 ? RESIL_OUTCOME_SUCCESS
 *                                      : RESIL_OUTCOME_FAILURE,
 *                        resil_clock_now(NULL) - t0);
 *
 * Every function is safe to call from many threads on one breaker.  While
 * CLOSED, acquire + record take no lock and make no system call (a
 * count-based window reads no clock at all; a time-based one reads the
 * breaker's clock once, or none with the _at variants). */
#ifndef RESIL_BREAKER_H
#define RESIL_BREAKER_H

#include <resil/clock.h>
#include <resil/common.h>

RESIL_BEGIN_DECLS

typedef struct resil_breaker resil_breaker;

typedef enum resil_breaker_state {
    RESIL_BREAKER_CLOSED = 0,
    RESIL_BREAKER_OPEN = 1,
    RESIL_BREAKER_HALF_OPEN = 2,
} resil_breaker_state;

/* Modes set by an operator; NORMAL runs the state machine. */
typedef enum resil_breaker_mode {
    RESIL_BREAKER_NORMAL = 0,
    RESIL_BREAKER_FORCED_OPEN = 1,  /* rejects every call; reports OPEN */
    RESIL_BREAKER_DISABLED = 2,     /* admits every call, keeps no window
                                       (stats still count calls); reports
                                       CLOSED */
    RESIL_BREAKER_METRICS_ONLY = 3, /* admits every call, keeps the window
                                       and statistics, never changes state;
                                       reports CLOSED */
} resil_breaker_mode;

typedef enum resil_breaker_window {
    RESIL_WINDOW_COUNT = 0, /* the last window_size calls */
    RESIL_WINDOW_TIME = 1,  /* the last window_size buckets of bucket_ns each */
} resil_breaker_window;

typedef enum resil_outcome {
    RESIL_OUTCOME_SUCCESS = 0,
    RESIL_OUTCOME_FAILURE = 1,
    /* The call's result says nothing about the remote's health (a 404, a
     * canceled request): it frees a half-open probe slot and is counted as
     * ignored, nothing else. */
    RESIL_OUTCOME_IGNORED = 2,
} resil_outcome;

/* Called on every change of the reported state (a mode change calls it only
 * when it changes the reported state), in the order the changes happened,
 * never concurrently for one breaker and never with an internal lock held:
 * it may call any resil_breaker_* function, including on this breaker. */
typedef void (*resil_breaker_cb)(resil_breaker *b, resil_breaker_state from,
                                 resil_breaker_state to, void *ctx);

typedef struct resil_breaker_opts {
    const char *name;             /* copied; shown in stats, may be NULL */
    resil_breaker_window window;  /* default RESIL_WINDOW_COUNT */
    uint32_t window_size;         /* calls or buckets, 1..65536; default 100 */
    int64_t bucket_ns;            /* time window bucket width; default 1 s */
    uint32_t minimum_calls;       /* before rates are judged; default 10;
                                     capped at window_size for count
                                     windows */
    double failure_rate;          /* trip at >= this fraction (0,1]; default
                                     0.5; 0 turns the rule off */
    double slow_call_rate;        /* trip at >= this fraction of slow calls;
                                     default 0 (off) */
    int64_t slow_call_ns;         /* a call this long or longer is slow;
                                     default 0 (off) */
    uint32_t failure_count;       /* trip at >= this many failures in the
                                     window, whatever minimum_calls says;
                                     default 0 (off) */
    uint32_t half_open_probes;    /* calls admitted in HALF_OPEN, 1..64;
                                     default 3 */
    int64_t probe_timeout_ns;     /* a probe that has not reported after this
                                     counts as a failure; default 30 s */
    int64_t open_base_ns;         /* first OPEN duration; default 5 s */
    double open_multiplier;       /* growth per consecutive re-open, >= 1;
                                     default 2 */
    int64_t open_max_ns;          /* cap; default 5 min */
    double open_jitter;           /* OPEN duration is scaled by a uniform
                                     factor in [1 - j, 1 + j], j in [0,1);
                                     default 0.1 */
    const resil_clock *clock;     /* NULL: monotonic */
    resil_rand_fn rand;           /* NULL: an internal generator.  Called
                                     with the breaker's lock held: it must
                                     not call into this breaker */
    void *rand_ctx;
    resil_breaker_cb on_state_change; /* may be NULL */
    void *cb_ctx;
    uint64_t reserved_[8];        /* zeroed by resil_breaker_opts_init() */
} resil_breaker_opts;

typedef struct resil_breaker_stats {
    resil_breaker_state state;
    resil_breaker_mode mode;
    int64_t time_in_state_ns;
    uint64_t calls;          /* outcomes recorded (success+failure+ignored) */
    uint64_t successes;
    uint64_t failures;
    uint64_t slow_calls;     /* successes and failures that were slow */
    uint64_t ignored;
    uint64_t rejections;     /* acquire refused */
    uint64_t opens;          /* transitions to OPEN */
    uint32_t window_calls;   /* successes + failures now in the window */
    uint32_t window_failures;
    uint32_t window_slow;
    uint32_t probes_in_flight;
    double failure_rate;     /* over the window; 0 when it is empty */
    double slow_call_rate;
    double success_rate;     /* 1 - failure_rate, 1 when the window is empty */
    int64_t open_duration_ns; /* length of the current or next OPEN period */
    uint64_t reserved_[8];
} resil_breaker_stats;

/* What acquire hands out and record takes back: says which state and which
 * generation of it admitted the call, so a late outcome from before a state
 * change is not counted against the new state. */
typedef uint64_t resil_breaker_ticket;

RESIL_API void resil_breaker_opts_init(resil_breaker_opts *o);
/* RESIL_EINVAL for out-of-range options, RESIL_ENOMEM. */
RESIL_API int resil_breaker_new(const resil_breaker_opts *o, resil_breaker **out);
RESIL_API void resil_breaker_free(resil_breaker *b);

/* 0 and a ticket when the call may go ahead; RESIL_EOPEN when OPEN (or
 * FORCED_OPEN); RESIL_EPROBES when HALF_OPEN and every probe slot is taken. */
RESIL_API int resil_breaker_acquire(resil_breaker *b, resil_breaker_ticket *ticket);
/* The same, with the caller's reading of the breaker's clock. */
RESIL_API int resil_breaker_acquire_at(resil_breaker *b, int64_t now,
                                       resil_breaker_ticket *ticket);

/* Report the outcome of an admitted call and how long it took (>= 0).
 * RESIL_EINVAL for a bad outcome or negative duration.  Every ticket must be
 * recorded exactly once. */
RESIL_API int resil_breaker_record(resil_breaker *b, resil_breaker_ticket ticket,
                                   resil_outcome outcome, int64_t duration_ns);
RESIL_API int resil_breaker_record_at(resil_breaker *b, int64_t now,
                                      resil_breaker_ticket ticket,
                                      resil_outcome outcome, int64_t duration_ns);

/* The current state, moving OPEN to HALF_OPEN if its time is up;
 * RESIL_BREAKER_CLOSED for NULL. */
RESIL_API resil_breaker_state resil_breaker_state_get(resil_breaker *b);
/* Nanoseconds until an OPEN breaker admits a probe; 0 when not OPEN,
 * RESIL_TIME_NEVER when FORCED_OPEN. */
RESIL_API int64_t resil_breaker_retry_in(resil_breaker *b);

/* Switch mode; leaving a mode for NORMAL resets the breaker to CLOSED. */
RESIL_API int resil_breaker_set_mode(resil_breaker *b, resil_breaker_mode mode);
/* Back to CLOSED with an empty window and the base OPEN duration. */
RESIL_API void resil_breaker_reset(resil_breaker *b);

RESIL_API void resil_breaker_stats_get(resil_breaker *b, resil_breaker_stats *st);
/* The name given in the options ("" if none). */
RESIL_API const char *resil_breaker_name(const resil_breaker *b);
/* "CLOSED", "OPEN", "HALF_OPEN"; "UNKNOWN" otherwise. */
RESIL_API const char *resil_breaker_state_name(resil_breaker_state s);

RESIL_END_DECLS

#endif /* RESIL_BREAKER_H */
