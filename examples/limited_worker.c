/* limited_worker: two worker threads share one rate limit.
 *
 *   limited_worker
 *
 * A remote API allows 200 requests per second with bursts of 10.  Two
 * workers pull 200 jobs from a shared queue; before each job a worker takes
 * a token from the one limiter they share, waiting for it if need be, but
 * never longer than 250 ms (a job that would wait longer is shed: in a real
 * service it would be answered with "try later" rather than queued forever).
 * The first 10 jobs go at once (the burst), the rest at 200/s, so the run
 * takes about (200 - 10) / 200 = 0.95 s whatever the number of workers.
 *
 * Build: cc -pthread limited_worker.c $(pkg-config --cflags --libs resil) */
#include <resil/resil.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define JOBS 200
#define WORKERS 2
#define RATE 200.0
#define BURST 10
#define MAX_WAIT_NS (250 * RESIL_NS_PER_MS)

typedef struct worker {
    pthread_t tid;
    int id;
    resil_limiter *limiter; /* shared: every limiter call is thread-safe */
    int done, shed;
} worker;

/* The queue is just a counter: relaxed is enough, each job number is handed
 * out once and carries no data another thread wrote. */
static atomic_int g_next_job;

static void do_job(int job)
{
    (void)job; /* the real work (an HTTP request, say) would go here */
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        int job = atomic_fetch_add_explicit(&g_next_job, 1, memory_order_relaxed);
        if (job >= JOBS)
            break;
        /* an absolute time on the limiter's clock (monotonic here) */
        int64_t deadline = resil_clock_now(NULL) + MAX_WAIT_NS;
        int rc = resil_limiter_acquire(w->limiter, 1, deadline);
        if (rc == RESIL_ETIMEDOUT) {
            w->shed++; /* returned at once: acquire does not sleep in vain */
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "worker %d: %s\n", w->id, resil_strerror(rc));
            break;
        }
        do_job(job);
        w->done++;
    }
    return NULL;
}

int main(void)
{
    resil_limiter_opts o;
    resil_limiter *l;
    resil_limiter_stats st;
    worker w[WORKERS];
    int done = 0, shed = 0, started = 0;

    resil_limiter_opts_init(&o);
    o.rate = RATE;
    o.burst = BURST;
    int rc = resil_limiter_new(&o, &l);
    if (rc != 0) {
        fprintf(stderr, "resil_limiter_new: %s\n", resil_strerror(rc));
        return 1;
    }
    int64_t t0 = resil_clock_now(NULL);
    for (; started < WORKERS; started++) {
        w[started] = (worker){.id = started, .limiter = l};
        if (pthread_create(&w[started].tid, NULL, worker_main, &w[started]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].tid, NULL);
        printf("worker %d: %d jobs done, %d shed\n", i, w[i].done, w[i].shed);
        done += w[i].done;
        shed += w[i].shed;
    }
    double secs = (double)(resil_clock_now(NULL) - t0) / 1e9;
    resil_limiter_stats_get(l, &st);
    printf("jobs done %d, shed %d, elapsed %.3f s, achieved %.1f jobs/s "
           "(limit %.0f/s + burst %d: expect ~%.2f s)\n",
           done, shed, secs, secs > 0 ? done / secs : 0.0, RATE, BURST,
           (JOBS - BURST) / RATE);
    printf("limiter: %llu tokens granted, %llu refused\n", (unsigned long long)st.allowed,
           (unsigned long long)st.rejected);
    resil_limiter_free(l);
    return started == WORKERS && done + shed == JOBS ? 0 : 1;
}
