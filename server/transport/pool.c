/* A fixed pool of worker threads over a bounded FIFO ring of jobs.
 *
 * One mutex guards the ring and the counters: jobs are tool calls (tens
 * of microseconds to minutes), so a lock per submit costs nothing next to
 * the work, and a single lock keeps drain/free simple to reason about.
 * Two condition variables: "work" wakes workers, "idle" wakes drainers. */
#include "transport/pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct pool_job {
    void (*fn)(void *arg);
    void *arg;
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work;        /* a job was queued, or stopping */
    pthread_cond_t idle;        /* queued + running dropped to zero */
    struct pool_job *ring;
    size_t cap;                 /* ring slots = queue_max */
    size_t head;                /* next job to run */
    size_t count;               /* jobs queued (not yet picked up) */
    size_t running;             /* jobs being run by a worker */
    int stopping;
    pthread_t *threads;
    unsigned nthreads;          /* threads actually started */
};

/* Pops one job, or returns 0 when the pool stops and the queue is empty
 * (queued jobs still run after pool_free() starts: its contract). */
static int pool_next(struct pool *p, struct pool_job *job)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == 0 && !p->stopping)
        pthread_cond_wait(&p->work, &p->mu);
    if (p->count == 0) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    *job = p->ring[p->head];
    p->head = (p->head + 1) % p->cap;
    p->count--;
    p->running++;
    pthread_mutex_unlock(&p->mu);
    return 1;
}

static void pool_done(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->running--;
    if (p->running == 0 && p->count == 0)
        pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->mu);
}

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    struct pool_job job;
    sigset_t all;

    /* Signals go to the main thread (it owns SIGTERM/SIGINT handling);
     * a handler run on a worker mid-call would be harder to reason about.
     * pool_new also blocks them around pthread_create, this is belt and
     * braces for the inherited mask. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (pool_next(p, &job)) {
        job.fn(job.arg);
        pool_done(p);
    }
    return NULL;
}

static void pool_destroy(struct pool *p)
{
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->ring);
    free(p);
}

/* Stops and joins the threads started so far (used by pool_free and by a
 * failed pool_new). */
static void pool_join(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

static int pool_start(struct pool *p, unsigned threads)
{
    sigset_t all, old;
    int rc = 0;

    /* Threads inherit the creator's mask: block everything first so no
     * signal can land on a worker before it blocks them itself. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0) {
            rc = -1;
            break;
        }
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int pool_idle_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_condattr_init(&attr) != 0)
        return -1;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

int pool_new(unsigned threads, size_t queue_max, struct pool **out)
{
    struct pool *p;

    if (out == NULL)
        return -1;
    *out = NULL;
    if (threads == 0 || queue_max == 0 || queue_max > SIZE_MAX / sizeof(struct pool_job))
        return -1;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    p->ring = calloc(queue_max, sizeof(*p->ring));
    p->threads = calloc(threads, sizeof(*p->threads));
    if (p->ring == NULL || p->threads == NULL)
        goto fail_alloc;
    p->cap = queue_max;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_alloc;
    if (pthread_cond_init(&p->work, NULL) != 0)
        goto fail_mutex;
    if (pool_idle_init(&p->idle) != 0)
        goto fail_work;
    if (pool_start(p, threads) != 0) {
        pool_join(p);
        pool_destroy(p);
        return -1;
    }
    *out = p;
    return 0;

fail_work:
    pthread_cond_destroy(&p->work);
fail_mutex:
    pthread_mutex_destroy(&p->mu);
fail_alloc:
    free(p->threads);
    free(p->ring);
    free(p);
    return -1;
}

int pool_submit(struct pool *p, void (*fn)(void *arg), void *arg)
{
    int rc = -1;

    if (p == NULL || fn == NULL)
        return -1;
    pthread_mutex_lock(&p->mu);
    if (!p->stopping && p->count < p->cap) {
        p->ring[(p->head + p->count) % p->cap] = (struct pool_job){ fn, arg };
        p->count++;
        pthread_cond_signal(&p->work);
        rc = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

size_t pool_pending(struct pool *p)
{
    size_t n;

    if (p == NULL)
        return 0;
    pthread_mutex_lock(&p->mu);
    n = p->count + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Absolute deadline timeout_ms from now on CLOCK_MONOTONIC (the clock
 * "idle" waits on: a wall-clock step must not shorten or stretch a drain). */
static struct timespec pool_deadline(long timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int pool_drain(struct pool *p, long timeout_ms)
{
    struct timespec until;
    int rc = 0;

    if (p == NULL)
        return 0;
    if (timeout_ms >= 0)
        until = pool_deadline(timeout_ms);
    pthread_mutex_lock(&p->mu);
    while (p->count + p->running > 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->idle, &p->mu);
            continue;
        }
        if (pthread_cond_timedwait(&p->idle, &p->mu, &until) == ETIMEDOUT) {
            rc = p->count + p->running > 0 ? -1 : 0;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    pool_join(p);
    pool_destroy(p);
}
