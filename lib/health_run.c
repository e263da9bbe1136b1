/* Runs of health checks: one runner thread per check, made on the check's
 * first run and kept until the check is removed; the tick that starts due
 * runs and fails overdue ones; resil_health_run() and resil_health_wait();
 * and the scheduler thread that ticks whenever something comes due.
 *
 * A run's life, all under the registry's mutex except the call itself:
 *   begin_run(): running, started, deadline, next_due set; go for the
 *     runner (made first, without the lock, if the check has none yet)
 *   runner: takes go, calls the check without the lock, validates what it
 *     returned in its own buffer, then copies it in under the lock, unless
 *     the tick has meanwhile failed the run as timed out (overdue): then
 *     the late result is dropped.  Either way running clears and waiters
 *     (wait, remove, free) and the scheduler are woken. */
#include "health_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <time.h>

_Static_assert(sizeof(resil_health_status) == sizeof(int),
               "a check's status is read back as an int");

static struct timespec real_deadline(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ns / RESIL_NS_PER_SEC);
    ts.tv_nsec += (long)(ns % RESIL_NS_PER_SEC);
    if (ts.tv_nsec >= RESIL_NS_PER_SEC) {
        ts.tv_sec++;
        ts.tv_nsec -= RESIL_NS_PER_SEC;
    }
    return ts;
}

static long long timeout_ms(const hc_check *c)
{
    return (long long)(c->timeout_ns / RESIL_NS_PER_MS);
}

void resil__hc_wake_scheduler(resil_health *h)
{
    pthread_cond_signal(&h->sched_cv);
}

void resil__hc_wait_idle(resil_health *h, const hc_check *c)
{
    while (c->running)
        pthread_cond_wait(&h->done_cv, &h->mu);
}

/* ---- what a check returned ------------------------------------------------ */

/* Replace a result that breaks the contract of health.h by a failed one
 * saying what was wrong.  The status is read as an int: a check may have
 * stored any int there, and the enum need not be able to hold it. */
static void validate(int rc, resil_health_result *r)
{
    int st;
    memcpy(&st, &r->status, sizeof st);
    if (rc != 0)
        resil__hc_fail_result(r, "check returned %d, not 0", rc);
    else if (st < RESIL_HEALTH_PASS || st > RESIL_HEALTH_FAIL)
        resil__hc_fail_result(r, "invalid status %d", st);
    else if (isinf(r->observed_value))
        resil__hc_fail_result(r, "observed value is infinite");
    else if (!memchr(r->observed_unit, '\0', sizeof r->observed_unit))
        resil__hc_fail_result(r, "observed unit is not NUL-terminated");
    else if (!resil__hc_utf8_ok(r->observed_unit))
        resil__hc_fail_result(r, "observed unit is not valid UTF-8");
    else if (!memchr(r->output, '\0', sizeof r->output))
        resil__hc_fail_result(r, "output is not NUL-terminated");
    else if (!resil__hc_utf8_ok(r->output))
        resil__hc_fail_result(r, "output is not valid UTF-8");
}

/* One call of the check, on its runner thread; called and returns with mu
 * held, drops it around the call. */
static void run_once(resil_health *h, hc_check *c)
{
    int64_t started = c->started;
    int64_t deadline = c->deadline;
    pthread_mutex_unlock(&h->mu);

    resil_health_result *r = &c->buf;
    memset(r, 0, sizeof *r);
    r->observed_value = NAN;
    int rc = c->fn(c->ctx, deadline, r);
    int64_t end = resil_clock_now(h->clock);
    int64_t wall = resil_clock_now(h->wall);
    /* a run that returns at or past its deadline overran, whether or not a
     * tick saw it first: the outcome does not depend on tick timing */
    bool late = end >= deadline;
    if (late)
        resil__hc_fail_result(r, "timed out after %lld ms", timeout_ms(c));
    else
        validate(rc, r);

    pthread_mutex_lock(&h->mu);
    if (!c->overdue)
        resil__hc_record(c, r, end, wall, end - started, late);
    c->running = false;
    c->overdue = false;
    pthread_cond_broadcast(&h->done_cv);
    resil__hc_wake_scheduler(h); /* its next due time counts again */
}

static void *runner_main(void *arg)
{
    hc_check *c = arg;
    resil_health *h = c->h;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!c->go && !c->quit)
            pthread_cond_wait(&c->go_cv, &h->mu);
        if (c->quit)
            break; /* quit is only set when no run is in progress */
        c->go = false;
        run_once(h, c);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- starting runs -------------------------------------------------------- */

static int spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    /* library threads run with every signal blocked: the program's signals
     * go to the program's threads */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static const char *spawn_error(int err)
{
    switch (err) {
    case EAGAIN:
        return "out of threads or memory (EAGAIN)";
    case ENOMEM:
        return "out of memory (ENOMEM)";
    case EPERM:
        return "not permitted (EPERM)";
    case EINVAL:
        return "invalid thread attributes (EINVAL)";
    default:
        return "unexpected error";
    }
}

/* Begin a run of c at `now`; under mu.  Returns true when the check has no
 * runner yet: the caller makes one with launch_new() after unlocking. */
static bool begin_run(hc_check *c, int64_t now)
{
    c->running = true;
    c->overdue = false;
    c->started = now;
    c->deadline = resil__add_sat(now, c->timeout_ns);
    c->next_due = resil__add_sat(now, c->interval_ns);
    if (!c->has_thread)
        return true;
    c->go = true;
    pthread_cond_signal(&c->go_cv);
    return false;
}

/* Make c's runner thread and hand it the run begun by begin_run(); without
 * mu.  c cannot go away meanwhile: it is running.  When the thread cannot
 * be made, the run ends here, failed, saying why. */
static int launch_new(resil_health *h, hc_check *c)
{
    pthread_t t;
    int err = spawn(&t, runner_main, c);
    int64_t now = err ? resil_clock_now(h->clock) : 0;
    int64_t wall = err ? resil_clock_now(h->wall) : 0;
    pthread_mutex_lock(&h->mu);
    if (err == 0) {
        /* stored before go, so whoever sees the run end also sees the
         * thread to join */
        c->thread = t;
        c->has_thread = true;
        c->go = true;
        pthread_cond_signal(&c->go_cv);
    } else {
        resil_health_result r;
        resil__hc_fail_result(&r, "could not start the check's thread: %s", spawn_error(err));
        /* a tick may have failed the run as timed out meanwhile: one run,
         * one result */
        if (!c->overdue)
            resil__hc_record(c, &r, now, wall, 0, false);
        c->running = false;
        c->overdue = false;
        pthread_cond_broadcast(&h->done_cv);
    }
    pthread_mutex_unlock(&h->mu);
    if (err == 0)
        return 0;
    return err == ENOMEM ? RESIL_ENOMEM : RESIL_ESYS;
}

/* Fail c's run if it is past its deadline; under mu. */
static void expire(hc_check *c, int64_t now, int64_t wall)
{
    if (c->overdue || now < c->deadline)
        return;
    resil_health_result r;
    resil__hc_fail_result(&r, "timed out after %lld ms", timeout_ms(c));
    resil__hc_record(c, &r, now, wall, now - c->started, true);
    c->overdue = true;
}

int resil_health_tick(resil_health *h)
{
    if (!h)
        return RESIL_EINVAL;
    int64_t now = resil_clock_now(h->clock);
    int64_t wall = resil_clock_now(h->wall);
    hc_check *fresh[RESIL_HEALTH_MAX_CHECKS];
    size_t nfresh = 0;
    int started = 0;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++) {
        hc_check *c = h->checks[i];
        if (c->running) {
            expire(c, now, wall);
        } else if (now >= c->next_due) {
            started++;
            if (begin_run(c, now))
                fresh[nfresh++] = c;
        }
    }
    pthread_mutex_unlock(&h->mu);
    int rc = 0;
    for (size_t i = 0; i < nfresh; i++) {
        int err = launch_new(h, fresh[i]);
        if (err != 0) {
            rc = err;
            started--;
        }
    }
    return rc != 0 ? rc : started;
}

int resil_health_run(resil_health *h, const char *name)
{
    if (!h || !name)
        return RESIL_EINVAL;
    int64_t now = resil_clock_now(h->clock);
    pthread_mutex_lock(&h->mu);
    ptrdiff_t i = resil__hc_find(h, name);
    if (i < 0 || h->checks[i]->running) {
        pthread_mutex_unlock(&h->mu);
        return i < 0 ? RESIL_ENOENT : RESIL_EBUSY;
    }
    hc_check *c = h->checks[i];
    bool fresh = begin_run(c, now);
    resil__hc_wake_scheduler(h); /* a new deadline to watch */
    pthread_mutex_unlock(&h->mu);
    return fresh ? launch_new(h, c) : 0;
}

/* 1 if the named check (NULL: any) has a run in progress, 0 if not,
 * RESIL_ENOENT if there is no such check; under mu. */
static int busy(const resil_health *h, const char *name)
{
    if (name) {
        ptrdiff_t i = resil__hc_find(h, name);
        return i < 0 ? RESIL_ENOENT : h->checks[i]->running;
    }
    for (size_t i = 0; i < h->n; i++) {
        if (h->checks[i]->running)
            return 1;
    }
    return 0;
}

int resil_health_wait(resil_health *h, const char *name, int64_t max_wait_ns)
{
    if (!h || max_wait_ns < 0)
        return RESIL_EINVAL;
    struct timespec until = real_deadline(max_wait_ns);
    pthread_mutex_lock(&h->mu);
    int rc = busy(h, name);
    while (rc == 1) {
        int w = pthread_cond_timedwait(&h->done_cv, &h->mu, &until);
        rc = busy(h, name);
        if (rc == RESIL_ENOENT)
            rc = 0; /* removed meanwhile: no run of it is in progress */
        if (rc == 1 && w == ETIMEDOUT)
            rc = RESIL_ETIMEDOUT;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* ---- the scheduler -------------------------------------------------------- */

/* The registry-clock time of the next thing tick has to do: a run coming
 * due or a deadline passing; under mu.  A run already failed as timed out
 * has nothing left to watch until it returns (which wakes the scheduler). */
static int64_t next_event(const resil_health *h)
{
    int64_t next = RESIL_TIME_NEVER;
    for (size_t i = 0; i < h->n; i++) {
        const hc_check *c = h->checks[i];
        int64_t t = RESIL_TIME_NEVER;
        if (!c->running)
            t = c->next_due;
        else if (!c->overdue)
            t = c->deadline;
        if (t < next)
            next = t;
    }
    return next;
}

static void *sched_main(void *arg)
{
    resil_health *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->sched_stop) {
        pthread_mutex_unlock(&h->mu);
        resil_health_tick(h); /* a failed start is in that check's result */
        int64_t now = resil_clock_now(h->clock);
        pthread_mutex_lock(&h->mu);
        if (h->sched_stop)
            break;
        int64_t next = next_event(h);
        if (next <= now)
            continue;
        /* registry-clock ns taken as real ns, capped so that a clock that
         * does not follow real time is still read every second */
        int64_t wait = next - now;
        if (wait > HC_SCHED_MAX_WAIT_NS)
            wait = HC_SCHED_MAX_WAIT_NS;
        struct timespec ts = real_deadline(wait);
        pthread_cond_timedwait(&h->sched_cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int resil_health_start(resil_health *h)
{
    if (!h)
        return RESIL_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&h->life);
    if (h->sched_running) {
        rc = RESIL_ESTATE;
    } else {
        pthread_mutex_lock(&h->mu);
        h->sched_stop = false;
        pthread_mutex_unlock(&h->mu);
        rc = spawn(&h->sched, sched_main, h) == 0 ? 0 : RESIL_ESYS;
        h->sched_running = rc == 0;
    }
    pthread_mutex_unlock(&h->life);
    return rc;
}

int resil_health_stop(resil_health *h)
{
    if (!h)
        return RESIL_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&h->life);
    if (!h->sched_running) {
        rc = RESIL_ESTATE;
    } else {
        pthread_mutex_lock(&h->mu);
        h->sched_stop = true;
        resil__hc_wake_scheduler(h);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->sched, NULL);
        h->sched_running = false;
    }
    pthread_mutex_unlock(&h->life);
    return rc;
}

/* ---- teardown ------------------------------------------------------------- */

void resil__hc_destroy(hc_check *c)
{
    resil_health *h = c->h;
    pthread_mutex_lock(&h->mu);
    c->quit = true;
    pthread_cond_signal(&c->go_cv);
    bool join = c->has_thread;
    pthread_t t = c->thread;
    pthread_mutex_unlock(&h->mu);
    if (join)
        pthread_join(t, NULL);
    if (c->ctx_free)
        c->ctx_free(c->ctx);
    pthread_cond_destroy(&c->go_cv);
    resil__free(c);
}
