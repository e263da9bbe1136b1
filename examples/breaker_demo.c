/* breaker_demo: watch a circuit breaker protect a caller from a flaky remote.
 *
 *   breaker_demo [--quiet]
 *
 * The "remote" is simulated: healthy for the first calls, down for a while
 * (each failed call costs 10 ms, as a timeout would), then healthy again.
 * The caller makes one call every 40 ms through a breaker and prints each
 * call; the breaker's callback prints every state change.  Expect CLOSED ->
 * OPEN (calls now fail in microseconds instead of waiting on a dead remote),
 * OPEN -> HALF_OPEN (a few probes are let through), back to OPEN for twice
 * as long while the remote is still down, and finally HALF_OPEN -> CLOSED.
 * --quiet prints only the state changes and the summary.
 *
 * Build: cc breaker_demo.c $(pkg-config --cflags --libs resil) */
#include <resil/resil.h>

#include <stdio.h>
#include <string.h>

#define CALLS 36
#define CALL_EVERY_NS (40 * RESIL_NS_PER_MS)
#define OUTAGE_FIRST 6 /* the remote fails calls 6..17 (about 0.5 s) */
#define OUTAGE_END 18

static int64_t g_start;

static double since_start(void)
{
    return (double)(resil_clock_now(NULL) - g_start) / 1e9;
}

/* The remote: 1 ms when healthy; 10 ms and an error while down. */
static int remote_call(int n)
{
    int down = n >= OUTAGE_FIRST && n < OUTAGE_END;
    resil_clock_sleep(NULL, (down ? 10 : 1) * RESIL_NS_PER_MS);
    return down ? -1 : 0;
}

/* Runs on the thread whose acquire or record caused the change. */
static void on_change(resil_breaker *b, resil_breaker_state from, resil_breaker_state to,
                      void *ctx)
{
    (void)ctx;
    printf("%6.3fs  *** breaker '%s': %s -> %s", since_start(), resil_breaker_name(b),
           resil_breaker_state_name(from), resil_breaker_state_name(to));
    if (to == RESIL_BREAKER_OPEN)
        printf(" (fail fast for %.0f ms)", (double)resil_breaker_retry_in(b) / 1e6);
    printf("\n");
}

static void one_call(resil_breaker *b, int n, int quiet)
{
    resil_breaker_ticket t;
    int64_t t0 = resil_clock_now(NULL);
    int rc = resil_breaker_acquire(b, &t);

    if (rc != 0) {
        /* no request reached the remote: this is the point of the breaker */
        if (!quiet)
            printf("%6.3fs  call %2d  rejected  %-9s (%s)\n", since_start(), n,
                   resil_err_name(rc), resil_strerror(rc));
        return;
    }
    int ok = remote_call(n) == 0;
    int64_t took = resil_clock_now(NULL) - t0;
    /* printed before recording, so a state change this outcome causes is
     * printed after the call that caused it */
    if (!quiet)
        printf("%6.3fs  call %2d  %-8s  %5.1f ms\n", since_start(), n,
               ok ? "ok" : "FAILED", (double)took / 1e6);
    resil_breaker_record(b, t, ok ? RESIL_OUTCOME_SUCCESS : RESIL_OUTCOME_FAILURE, took);
}

int main(int argc, char **argv)
{
    int quiet = argc > 1 && strcmp(argv[1], "--quiet") == 0;
    resil_breaker_opts o;
    resil_breaker *b;
    resil_breaker_stats st;

    resil_breaker_opts_init(&o);
    o.name = "remote";
    o.window = RESIL_WINDOW_COUNT;
    o.window_size = 6;      /* judge the last 6 calls ...                   */
    o.minimum_calls = 4;    /* ... once there are at least 4 of them ...    */
    o.failure_rate = 0.5;   /* ... and trip when half of them failed        */
    o.half_open_probes = 2; /* 2 good probes close it again                 */
    o.open_base_ns = 200 * RESIL_NS_PER_MS;
    o.open_multiplier = 2; /* each re-open in a row waits twice as long    */
    o.open_jitter = 0;     /* a real fleet wants jitter; a demo wants repeatable output */
    o.on_state_change = on_change;
    int rc = resil_breaker_new(&o, &b);
    if (rc != 0) {
        fprintf(stderr, "resil_breaker_new: %s\n", resil_strerror(rc));
        return 1;
    }
    g_start = resil_clock_now(NULL);
    for (int n = 0; n < CALLS; n++) {
        one_call(b, n, quiet);
        resil_clock_sleep(NULL, CALL_EVERY_NS);
    }
    resil_breaker_stats_get(b, &st);
    printf("summary: %llu calls made, %llu failed, %llu rejected, opened %llu times, "
           "now %s\n",
           (unsigned long long)st.calls, (unsigned long long)st.failures,
           (unsigned long long)st.rejections, (unsigned long long)st.opens,
           resil_breaker_state_name(st.state));
    resil_breaker_free(b);
    return 0;
}
