/* Health-check registry internals shared by health.c (registry, results),
 * health_run.c (runner threads, scheduler) and health_render.c (JSON).
 * Not installed.
 *
 * Locking: one mutex per registry (mu) guards the check table and every
 * mutable field of every check, except the runner's result buffer (buf),
 * which only the check's runner thread touches.  The fields of a check set
 * at add time (name, fn, ctx, kind, intervals, ...) never change and are
 * read without the lock.  A check whose `running` flag is set cannot be
 * freed (remove and free wait for it to clear), so a thread that saw it
 * set under the lock may keep using the pointer after unlocking. */
#ifndef RESIL_LIB_HEALTH_INTERNAL_H
#define RESIL_LIB_HEALTH_INTERNAL_H

#include "internal.h"

#include <pthread.h>

/* Bytes of a component type, NUL included. */
#define HC_MAX_CTYPE RESIL_HEALTH_MAX_NAME
/* Longest real-time wait of the scheduler: a custom or manual registry
 * clock does not move with real time, so it is read at least this often. */
#define HC_SCHED_MAX_WAIT_NS RESIL_NS_PER_SEC

typedef struct hc_check {
    /* ---- fixed at add time ---- */
    struct resil_health *h;
    char name[RESIL_HEALTH_MAX_NAME];
    char ctype[HC_MAX_CTYPE]; /* "" when left out */
    resil_health_check_fn fn;
    void *ctx;
    resil_health_ctx_free_fn ctx_free;
    resil_health_kind kind;
    int64_t interval_ns;
    int64_t timeout_ns;
    int critical;
    pthread_cond_t go_cv; /* the runner waits here for go or quit */

    /* ---- under h->mu ---- */
    int64_t next_due;  /* registry clock */
    int64_t started;   /* when the current run started */
    int64_t deadline;  /* started + timeout */
    bool running;      /* a run is in progress (or its thread being made) */
    bool overdue;      /* it timed out: what it returns is dropped */
    bool go;           /* the runner should start a run */
    bool quit;         /* the runner should exit (never set while running) */
    bool has_thread;
    pthread_t thread;

    resil_health_result last; /* of the last completed run */
    int64_t time_ns;
    int64_t wall_time_ns;
    int64_t duration_ns;
    uint64_t runs;
    uint64_t failures;
    uint64_t timeouts;
    uint64_t consecutive_failures;

    /* ---- the runner thread's own ---- */
    resil_health_result buf;
} hc_check;

struct resil_health {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;  /* a run ended: wait, remove and free */
    pthread_cond_t sched_cv; /* wakes the scheduler early */
    const resil_clock *clock;
    const resil_clock *wall;
    char *service_id;
    char *description;
    char *version;
    char *release_id;

    /* ---- under mu ---- */
    hc_check *checks[RESIL_HEALTH_MAX_CHECKS]; /* sorted by name */
    size_t n;
    bool sched_stop;

    /* ---- under life: start and stop ---- */
    pthread_mutex_t life;
    bool sched_running;
    pthread_t sched;
};

/* A check as reports see it: the public info plus what only the JSON
 * renderer needs. */
typedef struct hc_view {
    resil_health_check_info info;
    char ctype[HC_MAX_CTYPE];
} hc_view;

static inline bool resil__hc_kind_ok(resil_health_kind k)
{
    return k >= RESIL_HEALTH_LIVENESS && k <= RESIL_HEALTH_BOTH;
}

/* ---- health.c ---- */
/* Index of the check named `name`, or -1; under mu. */
ptrdiff_t resil__hc_find(const resil_health *h, const char *name);
/* Fill *info from c; under mu. */
void resil__hc_info(const hc_check *c, resil_health_check_info *info);
/* Copies of the checks counting in `kind` (sorted by name) in an array
 * allocated without the lock held.  *out NULL when *n is 0. */
int resil__hc_views(resil_health *h, resil_health_kind kind, hc_view **out, size_t *n);
/* The status a check of `kind` with `runs` completed runs and last status
 * `st` shows in a report for `want`: its own, or the never-run rule (PASS
 * for liveness, FAIL once readiness is asked for). */
resil_health_status resil__hc_effective(resil_health_kind kind, uint64_t runs,
                                        resil_health_status st, resil_health_kind want);
/* The worse of acc and a check's effective status, a non-critical check's
 * fail counting as warn. */
resil_health_status resil__hc_fold(resil_health_status acc, resil_health_status eff,
                                   int critical);
/* Record the end of a run (or of an attempt to start one) in c, under mu:
 * updates the last result and the counters. */
void resil__hc_record(hc_check *c, const resil_health_result *r, int64_t now,
                      int64_t wall, int64_t duration, bool timed_out);
/* Fill r with a failed result whose output is the formatted text. */
void resil__hc_fail_result(resil_health_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether s is valid UTF-8 (RFC 3629: no overlongs, surrogates or code
 * points above U+10FFFF). */
bool resil__hc_utf8_ok(const char *s);

/* ---- health_run.c ---- */
/* Wake the scheduler thread (if any) to recompute its wait; under mu. */
void resil__hc_wake_scheduler(resil_health *h);
/* Join and release a check that is out of the table and not running: ends
 * its runner thread and frees ctx and the check.  Without mu. */
void resil__hc_destroy(hc_check *c);
/* Wait under mu until c has no run in progress. */
void resil__hc_wait_idle(resil_health *h, const hc_check *c);

/* health_sys_read.c: read into *s only the fields that the checks in
 * `parts` (RESIL_HEALTH_SYS_* bits) need; with proc_age_s, also the seconds
 * since this process started (self/stat starttime against <root>/uptime).
 * *sys_errno gets the errno of a failed open or read, 0 otherwise. */
int resil__sys_read_parts(const char *root, const char *disk, unsigned parts,
                          resil_health_sys_sample *s, double *proc_age_s, int *sys_errno,
                          resil_error *err);

#endif /* RESIL_LIB_HEALTH_INTERNAL_H */
