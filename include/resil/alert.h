/* libresil: alerting.
 *
 *   resil_alerts *a;
 *   resil_alerts_new(NULL, &a);
 *   resil_alert_defaults d;
 *   resil_alert_defaults_init(&d);
 *   d.health = h;                       // cpu and memory rules
 *   d.breakers = brs; d.nbreakers = 3;  // one "circuit open" rule each
 *   d.errors = errors_total;            // a counter with rates
 *   resil_alerts_add_defaults(a, &d);
 *   resil_alerts_notifier_add(a, resil_alert_notify_log, stderr,
 *                             RESIL_ALERT_NOTIFY_DEFAULT, NULL);
 *   ...
 *   resil_alerts_eval(a);               // every few seconds, or
 *   resil_alerts_start(a, 5 * RESIL_NS_PER_SEC);
 *
 * A rule reads one value from a source (a counter, a gauge, a counter's
 * windowed rate, the ratio of two rates, a breaker's state, a health
 * check, or a caller's function), compares it with a threshold, and moves
 * through the states
 *
 *   INACTIVE -> PENDING  the condition became true (for_ns > 0)
 *   PENDING  -> FIRING   it stayed true for for_ns (at once when for_ns = 0)
 *   PENDING  -> INACTIVE it became false before that
 *   FIRING   -> RESOLVED it has been false for keep_firing_for_ns
 *   RESOLVED -> PENDING / FIRING   true again
 *
 * A source with no data (a ratio with too few events, a health check that
 * never ran, a function returning nonzero) makes the condition false.
 * Conditions are evaluated only by resil_alerts_eval() (or the thread of
 * resil_alerts_start()), at the engine clock's now; "held for for_ns" means
 * true at every evaluation from the first true one until one at least
 * for_ns later.
 *
 * Every transition goes into a bounded history.  Notifiers are called with
 * the transitions they asked for, and again every repeat interval while a
 * rule fires, except when the alert is silenced (a silence matches it) or
 * inhibited (a FIRING critical alert has the same subject and this one is
 * below critical): those transitions are recorded, not notified.
 * Notifiers run on the evaluating thread, after the engine's lock is
 * released, in transition order, never two at once; they may call any
 * function of the engine except eval, stop and free.
 *
 * Every function is safe to call from many threads on one engine. */
#ifndef RESIL_ALERT_H
#define RESIL_ALERT_H

#include <resil/alloc.h> /* resil_free() for what the listings return */
#include <resil/breaker.h>
#include <resil/clock.h>
#include <resil/common.h>
#include <resil/error.h>
#include <resil/health.h>
#include <resil/metrics.h>

RESIL_BEGIN_DECLS

typedef struct resil_alerts resil_alerts;
typedef struct resil_alert_webhook resil_alert_webhook;

#define RESIL_ALERT_MAX_RULES 1024
#define RESIL_ALERT_MAX_NAME 64     /* rule name and subject, NUL included */
#define RESIL_ALERT_MAX_LABELS 8
#define RESIL_ALERT_MAX_LABEL_NAME 64
#define RESIL_ALERT_MAX_LABEL_VALUE 128
#define RESIL_ALERT_MAX_SUMMARY 256 /* rendered message, NUL included;
                                       longer ones are cut at a UTF-8
                                       boundary */
#define RESIL_ALERT_MAX_SILENCES 256

typedef enum resil_alert_severity {
    RESIL_ALERT_INFO = 0,
    RESIL_ALERT_WARNING = 1,
    RESIL_ALERT_CRITICAL = 2,
} resil_alert_severity;

typedef enum resil_alert_state {
    RESIL_ALERT_INACTIVE = 0,
    RESIL_ALERT_PENDING = 1,
    RESIL_ALERT_FIRING = 2,
    RESIL_ALERT_RESOLVED = 3,
} resil_alert_state;

/* value <op> threshold */
typedef enum resil_alert_cmp {
    RESIL_ALERT_GT = 0,
    RESIL_ALERT_GE = 1,
    RESIL_ALERT_LT = 2,
    RESIL_ALERT_LE = 3,
    RESIL_ALERT_EQ = 4,
    RESIL_ALERT_NE = 5,
} resil_alert_cmp;

typedef enum resil_alert_source_type {
    RESIL_ALERT_SRC_COUNTER = 0, /* counter total */
    RESIL_ALERT_SRC_GAUGE = 1,   /* gauge value */
    RESIL_ALERT_SRC_RATE = 2,    /* counter events per minute over window_ns */
    RESIL_ALERT_SRC_RATIO = 3,   /* counter events / denominator events over
                                    window_ns, 0..1 */
    RESIL_ALERT_SRC_BREAKER = 4, /* 0 closed, 1 open, 2 half-open */
    RESIL_ALERT_SRC_HEALTH = 5,  /* a check's observed value, or its status
                                    (0 pass, 1 warn, 2 fail) */
    RESIL_ALERT_SRC_FN = 6,      /* the caller's function */
} resil_alert_source_type;

/* A caller's value; nonzero: no data.  Runs without the engine's lock: it
 * may call rule_get, the listings and rule_remove of its own rule, not
 * eval, stop or free. */
typedef int (*resil_alert_value_fn)(void *ctx, double *value);

/* The objects named here must outlive the rule. */
typedef struct resil_alert_source {
    resil_alert_source_type type;
    resil_metrics_counter *counter;     /* COUNTER; RATE and RATIO (numerator):
                                           a counter with rates */
    resil_metrics_counter *denominator; /* RATIO, a counter with rates */
    resil_metrics_gauge *gauge;         /* GAUGE */
    int64_t window_ns;                  /* RATE, RATIO; default 60 s */
    uint64_t min_events;                /* RATIO: no data while the
                                           denominator counted fewer; default 1 */
    resil_breaker *breaker;             /* BREAKER */
    resil_health *health;               /* HEALTH */
    const char *check;                  /* HEALTH: the check's name; copied */
    int use_status;                     /* HEALTH: nonzero: the value is the
                                           status, not the observed value */
    resil_alert_value_fn fn;            /* FN */
    void *ctx;                          /* FN */
} resil_alert_source;

typedef struct resil_alert_rule_opts {
    const char *name;    /* required, unique: [A-Za-z0-9_.:-]+, shorter than
                            RESIL_ALERT_MAX_NAME; copied */
    const char *subject; /* what the alert is about (inhibition groups by
                            it), same syntax; NULL: the name */
    resil_alert_severity severity; /* default RESIL_ALERT_WARNING */
    resil_alert_source source;
    resil_alert_cmp cmp;           /* default RESIL_ALERT_GT */
    double threshold;              /* finite */
    int64_t for_ns;                /* >= 0; default 0 */
    int64_t keep_firing_for_ns;    /* >= 0; default 0 */
    int64_t repeat_interval_ns;    /* reminders while firing; 0: the
                                      engine's; < 0: never */
    /* The message.  {{name}}, {{subject}}, {{severity}}, {{value}} (%.4g,
     * "n/a" without data), {{threshold}} (%.4g) and {{labels.NAME}} are
     * replaced; {{ }} around anything else is an error (RESIL_EPARSE).
     * NULL: "{{name}}: value {{value}} (threshold {{threshold}})".  Copied. */
    const char *summary;
    const char *const *label_names;  /* copied; [A-Za-z_][A-Za-z0-9_]* */
    const char *const *label_values; /* copied; UTF-8 */
    size_t nlabels;                  /* 0..RESIL_ALERT_MAX_LABELS */
    uint64_t reserved_[8];           /* zeroed by resil_alert_rule_opts_init() */
} resil_alert_rule_opts;

typedef struct resil_alert_label {
    char name[RESIL_ALERT_MAX_LABEL_NAME];
    char value[RESIL_ALERT_MAX_LABEL_VALUE];
} resil_alert_label;

/* A rule as it stands. */
typedef struct resil_alert_info {
    char name[RESIL_ALERT_MAX_NAME];
    char subject[RESIL_ALERT_MAX_NAME];
    resil_alert_severity severity;
    resil_alert_state state;
    int has_value;           /* the last evaluation had data */
    double value;            /* the value it read */
    double threshold;
    resil_alert_cmp cmp;
    int64_t active_since_ns; /* engine clock: the condition became true
                                (PENDING or FIRING), else 0 */
    int64_t fired_at_ns;     /* when it last went FIRING, else 0 */
    int64_t resolved_at_ns;  /* when it last went RESOLVED, else 0 */
    int64_t last_eval_ns;
    int silenced;            /* a silence matches it now */
    int inhibited;           /* a critical alert on its subject fires */
    char summary[RESIL_ALERT_MAX_SUMMARY]; /* rendered at the last evaluation */
    resil_alert_label labels[RESIL_ALERT_MAX_LABELS];
    size_t nlabels;
    uint64_t reserved_[8];
} resil_alert_info;

/* One transition (or reminder), as notifiers and the history see it. */
typedef struct resil_alert_event {
    resil_alert_info alert;  /* the rule right after the transition */
    resil_alert_state from, to;
    int repeat;              /* a reminder: from == to == FIRING */
    int64_t at_ns;           /* engine clock */
    int64_t wall_ns;         /* wall clock, ns since the epoch */
    uint64_t seq;            /* 1, 2, ... per engine */
} resil_alert_event;

/* Which events a notifier gets (a bit set). */
#define RESIL_ALERT_NOTIFY_PENDING 0x01u  /* -> PENDING */
#define RESIL_ALERT_NOTIFY_FIRING 0x02u   /* -> FIRING */
#define RESIL_ALERT_NOTIFY_RESOLVED 0x04u /* -> RESOLVED */
#define RESIL_ALERT_NOTIFY_INACTIVE 0x08u /* PENDING -> INACTIVE */
#define RESIL_ALERT_NOTIFY_REPEAT 0x10u   /* reminders while firing */
#define RESIL_ALERT_NOTIFY_DEFAULT 0x16u  /* FIRING | RESOLVED | REPEAT */
#define RESIL_ALERT_NOTIFY_ALL 0x1fu

typedef void (*resil_alert_notify_fn)(const resil_alert_event *ev, void *ctx);

typedef struct resil_alerts_opts {
    const resil_clock *clock;      /* NULL: monotonic */
    const resil_clock *wall_clock; /* NULL: resil_clock_realtime() */
    size_t history_len;            /* transitions kept, 1..1e6; default 256 */
    int64_t repeat_interval_ns;    /* default for rules; > 0; default 4 h */
    uint64_t reserved_[8];         /* zeroed by resil_alerts_opts_init() */
} resil_alerts_opts;

/* A silence: every rule matching all the given matchers (NULL matches
 * anything) sends no notifications until expires_ns (engine clock). */
typedef struct resil_alert_silence {
    const char *rule;       /* rule name; copied */
    const char *subject;    /* copied */
    const char *label_name; /* with label_value: a label the rule must
                               have; copied */
    const char *label_value;
    int64_t expires_ns;     /* required, > now */
    const char *comment;    /* who and why; copied, at most 255 bytes */
    uint64_t reserved_[8];
} resil_alert_silence;

typedef struct resil_alert_silence_info {
    uint64_t id;
    char rule[RESIL_ALERT_MAX_NAME];    /* "" matches anything */
    char subject[RESIL_ALERT_MAX_NAME];
    char label_name[RESIL_ALERT_MAX_LABEL_NAME];
    char label_value[RESIL_ALERT_MAX_LABEL_VALUE];
    int64_t expires_ns;
    char comment[256];
} resil_alert_silence_info;

/* ---- the engine --------------------------------------------------------- */
RESIL_API void resil_alerts_opts_init(resil_alerts_opts *o);
/* o may be NULL.  RESIL_EINVAL, RESIL_ENOMEM. */
RESIL_API int resil_alerts_new(const resil_alerts_opts *o, resil_alerts **out);
/* Stops the thread; notifiers are not called again.  NULL is a no-op. */
RESIL_API void resil_alerts_free(resil_alerts *a);

RESIL_API void resil_alert_rule_opts_init(resil_alert_rule_opts *o);
/* RESIL_EINVAL for a bad name, source or option, RESIL_EPARSE for a bad
 * summary template (err says where), RESIL_EEXIST, RESIL_EFULL past
 * RESIL_ALERT_MAX_RULES, RESIL_ENOMEM.  err may be NULL. */
RESIL_API int resil_alerts_rule_add(resil_alerts *a, const resil_alert_rule_opts *o,
                                    resil_error *err);
/* Remove a rule (an active alert goes without a notification).
 * RESIL_ENOENT. */
RESIL_API int resil_alerts_rule_remove(resil_alerts *a, const char *name);
RESIL_API int resil_alerts_rule_get(resil_alerts *a, const char *name,
                                    resil_alert_info *info);

/* Evaluate every rule at the clock's now and deliver the notifications.
 * Returns the number of transitions (>= 0), RESIL_EINVAL, or RESIL_ENOMEM
 * (then nothing changed: no state, history or notification; the next
 * evaluation catches up). */
RESIL_API int resil_alerts_eval(resil_alerts *a);
/* Evaluate every interval_ns (>= 1 ms) on a thread of the engine's own.
 * RESIL_ESTATE if running, RESIL_ESYS. */
RESIL_API int resil_alerts_start(resil_alerts *a, int64_t interval_ns);
/* RESIL_ESTATE if the thread is not running, RESIL_EINVAL. */
RESIL_API int resil_alerts_stop(resil_alerts *a);

/* Notifiers: events is a RESIL_ALERT_NOTIFY_* set; *id (id may be NULL)
 * names it for removal.  ctx is not owned.  RESIL_EINVAL, RESIL_ENOMEM. */
RESIL_API int resil_alerts_notifier_add(resil_alerts *a, resil_alert_notify_fn fn,
                                        void *ctx, unsigned events, uint64_t *id);
/* When this returns the notifier is not running and never will again;
 * called from inside a notifier it removes without waiting.
 * RESIL_ENOENT. */
RESIL_API int resil_alerts_notifier_remove(resil_alerts *a, uint64_t id);

/* Silences.  RESIL_EINVAL (expires_ns not after now, bad strings),
 * RESIL_EFULL, RESIL_ENOMEM.  Expired silences are dropped at the next
 * evaluation. */
RESIL_API int resil_alerts_silence_add(resil_alerts *a, const resil_alert_silence *s,
                                       uint64_t *id);
RESIL_API int resil_alerts_silence_remove(resil_alerts *a, uint64_t id);
/* Arrays to release with resil_free(); *out is NULL when *n is 0.
 * RESIL_ENOMEM. */
RESIL_API int resil_alerts_silences(resil_alerts *a, resil_alert_silence_info **out,
                                    size_t *n);
/* Rules PENDING or FIRING, critical first, then by name. */
RESIL_API int resil_alerts_active(resil_alerts *a, resil_alert_info **out, size_t *n);
/* The history, oldest first: transitions only (reminders are not recorded
 * but take sequence numbers, so seq may have gaps). */
RESIL_API int resil_alerts_history(resil_alerts *a, resil_alert_event **out, size_t *n);

/* One event as a JSON object on one line (no newline): {"seq", "time"
 * (RFC 3339), "alert", "subject", "severity", "state", "from", "repeat",
 * "value" (null without data), "threshold", "summary", "labels", "silenced",
 * "inhibited"}.  Release with resil_free(); len may be NULL.  RESIL_ENOTSUP without jansson,
 * RESIL_ENOMEM. */
RESIL_API int resil_alert_event_json(const resil_alert_event *ev, char **out, size_t *len);
/* {"active": [...], "history": [...], "silences": [...]} for dashboards.
 * RESIL_ENOTSUP without jansson, RESIL_ENOMEM. */
RESIL_API int resil_alerts_render(resil_alerts *a, char **out, size_t *len);

RESIL_API const char *resil_alert_severity_name(resil_alert_severity s); /* "info" */
RESIL_API const char *resil_alert_state_name(resil_alert_state s);       /* "firing" */

/* ---- the original system's rules ---------------------------------------- */
typedef struct resil_alert_defaults {
    resil_health *health;   /* "cpu:utilization" and "memory:utilization"
                               checks (resil_health_add_system()) */
    double cpu_percent;     /* HighCPU, warning, > 80 */
    double memory_percent;  /* HighMemory, critical, > 85 */
    resil_breaker *const *breakers; /* CircuitOpen:<breaker name>, critical,
                                       subject the breaker's name */
    size_t nbreakers;
    resil_metrics_counter *errors;  /* HighErrorRate, warning, > 10 per
                                       minute; a counter with a 60 s window */
    double errors_per_minute;
    resil_metrics_counter *successes; /* LowSuccessRate, warning,            */
    resil_metrics_counter *calls;     /* successes / calls < 0.95 over 5 min */
    double success_ratio;
    uint64_t min_calls;     /* LowSuccessRate needs this many calls; 20 */
    int64_t for_ns;         /* every default rule; default 60 s */
    unsigned disable;       /* RESIL_ALERT_DEFAULT_* bits to leave out */
    uint64_t reserved_[8];  /* zeroed by resil_alert_defaults_init() */
} resil_alert_defaults;

#define RESIL_ALERT_DEFAULT_CPU 0x01u
#define RESIL_ALERT_DEFAULT_MEMORY 0x02u
#define RESIL_ALERT_DEFAULT_BREAKERS 0x04u
#define RESIL_ALERT_DEFAULT_ERRORS 0x08u
#define RESIL_ALERT_DEFAULT_SUCCESS 0x10u

RESIL_API void resil_alert_defaults_init(resil_alert_defaults *d);
/* Add every default rule whose source is given and not disabled (remove a
 * rule by name and add your own to override one).  All or nothing: on
 * failure none was added.  Errors as resil_alerts_rule_add(). */
RESIL_API int resil_alerts_add_defaults(resil_alerts *a, const resil_alert_defaults *d,
                                        resil_error *err);

/* ---- notifiers ---------------------------------------------------------- */
/* Writes resil_alert_event_json() and a newline to ctx, a FILE * (NULL:
 * stderr), in one stdio call so lines from threads never interleave. */
RESIL_API void resil_alert_notify_log(const resil_alert_event *ev, void *ctx);

typedef struct resil_alert_webhook_opts {
    const char *url;          /* required, http:// or https://; copied */
    const char *bearer_token; /* NULL: none; copied, wiped on free, never
                                 logged */
    int64_t timeout_ns;       /* per POST, connect included; default 5 s */
    uint32_t max_attempts;    /* retry with backoff; default 3.  429, 5xx
                                 and transport errors are retried, other
                                 answers not; a Retry-After longer than
                                 timeout_ns fails the delivery */
    int64_t retry_base_ns;    /* default 200 ms */
    uint32_t queue_len;       /* events waiting; default 256; when full the
                                 oldest is dropped and counted */
    uint32_t breaker_failures; /* consecutive failed deliveries that open
                                  the webhook's breaker; default 5 */
    int64_t breaker_open_ns;  /* default 30 s; while open, events are
                                 dropped at once and counted */
    const resil_clock *clock; /* breaker and retry; NULL: monotonic */
    uint64_t reserved_[8];    /* zeroed by resil_alert_webhook_opts_init() */
} resil_alert_webhook_opts;

typedef struct resil_alert_webhook_stats {
    uint64_t queued;    /* events accepted */
    uint64_t sent;      /* delivered (2xx) */
    uint64_t failed;    /* given up after every attempt */
    uint64_t attempts;  /* POSTs made, counted as each one ends */
    uint64_t dropped;   /* lost to a full queue, or not rendered (no
                           memory, no jansson) */
    uint64_t rejected;  /* dropped because the breaker was open */
    uint64_t pending;   /* in the queue now */
    uint64_t reserved_[8];
} resil_alert_webhook_stats;

RESIL_API void resil_alert_webhook_opts_init(resil_alert_webhook_opts *o);
/* POSTs each event as resil_alert_event_json() (Content-Type
 * application/json) from a worker thread of its own, so the evaluating
 * thread never waits on the network.  RESIL_EINVAL, RESIL_ENOTSUP without
 * libcurl, RESIL_ESYS, RESIL_ENOMEM. */
RESIL_API int resil_alert_webhook_new(const resil_alert_webhook_opts *o,
                                      resil_alert_webhook **out);
/* Waits at most drain_ns of real time for the queue to empty (0: drop what
 * is queued), aborts a POST in progress, joins the worker.  NULL is a
 * no-op.  Remove it from every engine first. */
RESIL_API void resil_alert_webhook_free(resil_alert_webhook *w, int64_t drain_ns);
/* The notifier: ctx is the resil_alert_webhook *.  Never blocks on I/O. */
RESIL_API void resil_alert_webhook_notify(const resil_alert_event *ev, void *ctx);
RESIL_API void resil_alert_webhook_stats_get(resil_alert_webhook *w,
                                             resil_alert_webhook_stats *st);
/* Wait until the queue is empty and no delivery (POSTs and the backoff
 * between them) is running, for at most max_wait_ns of real time.
 * RESIL_ETIMEDOUT. */
RESIL_API int resil_alert_webhook_flush(resil_alert_webhook *w, int64_t max_wait_ns);

RESIL_END_DECLS

#endif /* RESIL_ALERT_H */
