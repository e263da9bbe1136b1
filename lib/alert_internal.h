/* Alerting internals shared by lib/alert*.c; not installed.
 *
 * Locks, in the order they may be taken:
 *
 *   eval_mu     one evaluation reads and commits at a time
 *   deliver_mu  one delivery runs at a time; an evaluation takes it before
 *               it lets go of eval_mu, so deliveries keep the order in
 *               which evaluations committed (sequence order)
 *   mu          rules, notifiers, silences, history: held briefly, never
 *               while calling out (sources, notifiers)
 *   thr_mu      the evaluation thread's state (taken alone)
 *
 * Sources are read with only eval_mu held, so a FN source, a breaker's
 * state-change callback or a health check read may call the engine's
 * listing functions.  A rule whose source is being read is marked
 * `reading`; resil_alerts_rule_remove() waits for that to end (unless the
 * remover is the reader itself), so the caller may free the source object
 * once it returns. */
#ifndef RESIL_LIB_ALERT_INTERNAL_H
#define RESIL_LIB_ALERT_INTERNAL_H

#include "internal.h"

#include <pthread.h>

/* ---- summary templates (alert_template.c) ---- */
typedef struct al_tmpl al_tmpl;

/* Parse src ({{name}} ...) against the rule's labels; *out owns a copy.
 * RESIL_EPARSE (err: column of the bad "{{", 1-based), RESIL_ENOMEM. */
int resil__al_tmpl_parse(const char *src, const resil_alert_label *labels, size_t nlabels,
                         al_tmpl **out, resil_error *err);
void resil__al_tmpl_free(al_tmpl *t);
/* Render into info->summary from info's fields. */
void resil__al_tmpl_render(const al_tmpl *t, resil_alert_info *info);

/* ---- rules ---- */
/* What one evaluation decides for a rule before it commits. */
typedef struct al_next {
    bool valid; /* stepped in the evaluation being committed */
    bool event;
    bool repeat;
    bool inhibited;
    bool silenced;
    bool falling;
    resil_alert_state state;
    int64_t active_since, fired_at, resolved_at, false_since, last_notify;
} al_next;

typedef struct al_rule {
    resil_alert_info info; /* identity and state; under mu */
    resil_alert_source src;
    char check[RESIL_HEALTH_MAX_NAME]; /* src.check points here */
    int64_t for_ns, keep_ns, repeat_ns; /* repeat_ns < 0: never */
    al_tmpl *tmpl;
    bool falling;         /* FIRING and false since false_since */
    int64_t false_since;
    int64_t last_notify;  /* last firing or reminder (engine clock) */
    /* one evaluation's scratch; under eval_mu (nx also under mu) */
    bool read_ok;
    double read_value;
    al_next nx;
    struct al_rule *crit_next; /* chain of FIRING criticals, inhibition */
    /* lifetime; under mu */
    unsigned refs;
    bool removed;
    bool reading;
    pthread_t reader;
} al_rule;

typedef struct al_notifier {
    uint64_t id;
    resil_alert_notify_fn fn;
    void *ctx;
    unsigned mask;
} al_notifier;

enum { AL_THR_IDLE, AL_THR_RUNNING, AL_THR_STOPPING };

struct resil_alerts {
    pthread_mutex_t mu;
    pthread_cond_t read_cv; /* a source read ended (rule_remove waits) */
    pthread_mutex_t eval_mu;
    pthread_mutex_t deliver_mu;
    const resil_clock *clock;
    const resil_clock *wall;
    int64_t repeat_ns;

    al_rule **rules; /* sorted by name */
    size_t nrules, caprules;
    al_rule **snap; /* the evaluation's rules; under eval_mu */
    size_t capsnap;

    al_notifier *notifiers; /* by id (ascending) */
    size_t nnotif, capnotif;
    uint64_t next_notif_id;
    bool delivering; /* with deliverer: who runs notifiers now */
    pthread_t deliverer;

    resil_alert_silence_info *silences; /* by id (ascending) */
    size_t nsil, capsil;
    uint64_t next_sil_id;

    resil_alert_event *hist; /* ring; grows to hist_max before it wraps */
    size_t hist_max, hist_cap, hist_start, hist_count;
    uint64_t seq;

    pthread_mutex_t thr_mu;
    pthread_cond_t thr_cv; /* CLOCK_MONOTONIC */
    pthread_t thr;
    int thr_state;
    int64_t thr_interval;
};

/* ---- shared helpers (alert.c) ---- */
/* Fill *err (may be NULL) and return code. */
int resil__al_fail(resil_error *err, int code, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* [A-Za-z0-9_.:-]+ shorter than max bytes. */
bool resil__al_name_ok(const char *s, size_t max);
/* [A-Za-z_][A-Za-z0-9_]* shorter than max bytes. */
bool resil__al_label_name_ok(const char *s, size_t max);
/* n bytes of valid UTF-8 without NUL. */
bool resil__al_utf8_ok(const char *s, size_t n);
/* Bytes of s[0..n) before the first invalid UTF-8 sequence. */
size_t resil__al_utf8_prefix(const char *s, size_t n);
/* Drop a reference (mu held); frees a removed rule at zero. */
void resil__al_rule_unref(al_rule *r);
/* The rule's info as callers see it (mu held): silenced as of now. */
void resil__al_info_get(resil_alerts *a, const al_rule *r, int64_t now,
                        resil_alert_info *info);

/* ---- silences (alert_silence.c), mu held ---- */
bool resil__al_silenced(const resil_alerts *a, const resil_alert_info *info, int64_t now);
void resil__al_silences_expire(resil_alerts *a, int64_t now);

/* ---- evaluation (alert_eval.c) ---- */
/* The RESIL_ALERT_NOTIFY_* bit of an event. */
unsigned resil__al_event_bit(const resil_alert_event *ev);

#endif
