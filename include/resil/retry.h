/* libresil: retry with exponential backoff, jitter, a deadline and a budget.
 *
 *   static int op(void *arg, resil_attempt *a) { ... return 0 or nonzero; }
 *   resil_retry_report rep;
 *   int rc = resil_retry_run(policy, op, arg, &rep);
 *
 * A policy is immutable after resil_retry_new() and safe to share between
 * threads, except for its statistics (resil_retry_stats_get()), the only
 * part a run writes; a budget is safe to share between policies and
 * threads. */
#ifndef RESIL_RETRY_H
#define RESIL_RETRY_H

#include <resil/breaker.h>
#include <resil/clock.h>
#include <resil/common.h>

RESIL_BEGIN_DECLS

typedef struct resil_retry resil_retry;
typedef struct resil_retry_budget resil_retry_budget;

typedef enum resil_jitter {
    /* d = min(max, base * mult^(n-1)), n = the retry number (attempt - 1) */
    RESIL_JITTER_NONE = 0,
    RESIL_JITTER_FULL = 1,         /* uniform in [0, d] */
    RESIL_JITTER_EQUAL = 2,        /* d/2 + uniform in [0, d - d/2] */
    /* min(max, uniform in [base, prev * 3]), prev starting at base; ignores
     * the multiplier (AWS Architecture Blog, "Exponential Backoff And
     * Jitter", 2015) */
    RESIL_JITTER_DECORRELATED = 3,
} resil_jitter;

/* What one attempt sees and may report. */
typedef struct resil_attempt {
    uint32_t number;        /* 1 for the first call */
    int64_t deadline;       /* absolute, on the policy's clock, or
                               RESIL_TIME_NEVER: pass it on as a timeout */
    int64_t retry_after_ns; /* out: set >= 0 when the remote asked to wait
                               this long (Retry-After); -1 on entry */
} resil_attempt;

/* One attempt: 0 on success, anything else is a failure. */
typedef int (*resil_retry_fn)(void *arg, resil_attempt *attempt);
/* Whether a failure with this return code is worth retrying. */
typedef int (*resil_retryable_fn)(int rc, void *ctx);
/* Replaces the clock's sleep (tests, or an event loop's timer). */
typedef void (*resil_sleep_fn)(int64_t ns, void *ctx);

typedef struct resil_retry_opts {
    uint32_t max_attempts;   /* including the first, >= 1; default 3 */
    int64_t base_delay_ns;   /* default 100 ms */
    int64_t max_delay_ns;    /* >= base; default 10 s */
    double multiplier;       /* >= 1; default 2 */
    resil_jitter jitter;     /* default RESIL_JITTER_FULL */
    int64_t timeout_ns;      /* overall deadline from the start of the run, 0
                                for none; no sleep goes past it; default 0 */
    int64_t max_retry_after_ns; /* a Retry-After longer than this ends the run
                                   (RESIL_ETIMEDOUT); default 60 s */
    resil_retryable_fn retryable; /* NULL: every failure is retryable */
    void *retryable_ctx;
    resil_retry_budget *budget;   /* NULL: none; not owned */
    resil_breaker *breaker;       /* NULL: none; not owned.  Each attempt is
                                     admitted and recorded by it; a rejection
                                     ends the run (RESIL_EOPEN) */
    const resil_clock *clock;     /* NULL: monotonic */
    resil_sleep_fn sleep;         /* NULL: resil_clock_sleep(clock) */
    void *sleep_ctx;
    resil_rand_fn rand;           /* NULL: an internal generator */
    void *rand_ctx;
    uint64_t reserved_[8];
} resil_retry_opts;

typedef enum resil_retry_stop {
    RESIL_RETRY_SUCCEEDED = 0,
    RESIL_RETRY_NOT_RETRYABLE = 1,
    RESIL_RETRY_EXHAUSTED = 2,
    RESIL_RETRY_DEADLINE = 3,
    RESIL_RETRY_BUDGET = 4,
    RESIL_RETRY_BREAKER_OPEN = 5,
} resil_retry_stop;

typedef struct resil_retry_report {
    resil_retry_stop stop;
    uint32_t attempts;       /* calls of the operation made */
    int last_rc;             /* the operation's last return code (0 if none) */
    int64_t slept_ns;        /* total backoff */
    int64_t elapsed_ns;
    uint64_t reserved_[4];
} resil_retry_report;

/* Totals over every run of one policy since resil_retry_new() (runs that
 * returned RESIL_EINVAL are not counted).  Each run ends with relaxed
 * atomic adds to the policy: one for its stop reason and one for its
 * attempts (a first-try success costs just these two), plus one each for
 * its retries and its backoff when it had any.  A read while runs end on
 * other threads may see some of a run's adds and not others. */
typedef struct resil_retry_stats {
    uint64_t runs;           /* the sum of stops[] */
    uint64_t attempts;       /* calls of the operation made */
    uint64_t retries;        /* attempts after the first of their run */
    uint64_t successes;      /* stops[RESIL_RETRY_SUCCEEDED] */
    uint64_t stops[6];       /* runs by resil_retry_stop */
    int64_t slept_ns;        /* total backoff */
    uint64_t reserved_[8];
} resil_retry_stats;

RESIL_API void resil_retry_opts_init(resil_retry_opts *o);
RESIL_API int resil_retry_new(const resil_retry_opts *o, resil_retry **out);
RESIL_API void resil_retry_free(resil_retry *r);

/* Run fn until it succeeds or the policy says stop.  Returns 0 on success;
 * RESIL_EFAILED (not retryable), RESIL_EEXHAUSTED, RESIL_ETIMEDOUT,
 * RESIL_EBUDGET or RESIL_EOPEN (the breaker refused; never retried against
 * it); RESIL_EINVAL for bad arguments (the report is then zeroed).  report
 * may be NULL; asking for one costs two clock reads (elapsed_ns), and a
 * first-try success without report, deadline or breaker reads no clock. */
RESIL_API int resil_retry_run(const resil_retry *r, resil_retry_fn fn, void *arg,
                              resil_retry_report *report);

/* Copy the policy's statistics; all zero when r is NULL.  Does nothing
 * when st is NULL. */
RESIL_API void resil_retry_stats_get(const resil_retry *r, resil_retry_stats *st);

/* The backoff before attempt number `attempt` (>= 2), given the previous
 * delay (decorrelated jitter uses it) and 64 random bits.  For callers that
 * schedule retries themselves.  0 when r is NULL or attempt < 2. */
RESIL_API int64_t resil_retry_delay(const resil_retry *r, uint32_t attempt,
                                    int64_t prev_delay_ns, uint64_t random);

/* Parse an HTTP Retry-After value: delta-seconds ("120") or an HTTP-date
 * (IMF-fixdate, RFC 850 or asctime form, RFC 9110 section 5.6.7), relative to
 * now_unix (seconds since the epoch).  A date in the past gives 0.
 * RESIL_EPARSE for anything else, including overflow. */
RESIL_API int resil_retry_after_parse(const char *value, int64_t now_unix,
                                      int64_t *delay_ns);

typedef struct resil_retry_budget_opts {
    double ratio;            /* retries may add this fraction of first
                                attempts, in [0, 1000]; default 0.2 */
    double min_per_sec;      /* retries always allowed at this rate;
                                default 10 */
    int64_t window_ns;       /* how far back attempts count; default 10 s */
    const resil_clock *clock;
    uint64_t reserved_[8];
} resil_retry_budget_opts;

typedef struct resil_retry_budget_stats {
    uint64_t deposits;       /* first attempts seen */
    uint64_t withdrawals;    /* retries allowed */
    uint64_t refusals;       /* retries refused */
    double available;        /* retries allowed now */
    uint64_t reserved_[8];
} resil_retry_budget_stats;

RESIL_API void resil_retry_budget_opts_init(resil_retry_budget_opts *o);
RESIL_API int resil_retry_budget_new(const resil_retry_budget_opts *o,
                                     resil_retry_budget **out);
RESIL_API void resil_retry_budget_free(resil_retry_budget *b);
/* Count a first attempt. */
RESIL_API void resil_retry_budget_deposit(resil_retry_budget *b);
/* Ask to retry: 0 if allowed (and counted), RESIL_EBUDGET if not. */
RESIL_API int resil_retry_budget_withdraw(resil_retry_budget *b);
RESIL_API void resil_retry_budget_stats_get(resil_retry_budget *b,
                                            resil_retry_budget_stats *st);

RESIL_END_DECLS

#endif /* RESIL_RETRY_H */
