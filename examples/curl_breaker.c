/* curl_breaker: HTTP GETs through a retry policy and a circuit breaker.
 *
 *   curl_breaker [URL [N]]      (default http://127.0.0.1:9/ and 10 requests)
 *
 * Each request gets up to 3 attempts with jittered backoff inside a 2 s
 * deadline, which also bounds each attempt's curl timeout.  A 429 or 503
 * with Retry-After makes the next pause at least that long.  Every attempt
 * passes through the breaker: once the remote has failed often enough, the
 * remaining requests are rejected at once instead of each waiting out their
 * own timeouts.  Nothing listens on 127.0.0.1:9, so by default the first
 * request fails three times, the breaker opens and the rest fail fast.
 *
 * Build: cc curl_breaker.c $(pkg-config --cflags --libs resil libcurl) */
#include <resil/resil.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if LIBCURL_VERSION_NUM < 0x075400
#error "curl_easy_header() needs libcurl 7.84 or later"
#endif
#define TRANSPORT_ERROR 1000 /* op result: 1000 + CURLcode, else HTTP status */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    *(size_t *)ctx += size * n; /* a real client would parse the body */
    return size * n;
}

/* Connection errors, 429 and the 5xx that mean "temporarily" are worth
 * another attempt; any other status will not change by asking again. */
static int retryable(int rc, void *ctx)
{
    (void)ctx;
    return rc >= TRANSPORT_ERROR || rc == 429 || rc == 502 || rc == 503 || rc == 504;
}

static int attempt_get(void *arg, resil_attempt *a)
{
    CURL *h = arg;
    struct curl_header *hdr;
    size_t bytes = 0;
    long status = 0;
    /* the deadline is absolute on the policy's clock (monotonic here) */
    int64_t left_ms = a->deadline == RESIL_TIME_NEVER
                          ? 10000
                          : (a->deadline - resil_clock_now(NULL)) / RESIL_NS_PER_MS;

    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms > 0 ? (long)left_ms : 1L);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &bytes);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        printf("    attempt %u: %s\n", a->number, curl_easy_strerror(cc));
        return TRANSPORT_ERROR + (int)cc;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    printf("    attempt %u: HTTP %ld, %zu bytes\n", a->number, status, bytes);
    /* the remote's Retry-After (seconds or an HTTP date) sets the next pause */
    if ((status == 429 || status == 503) &&
        curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK &&
        resil_retry_after_parse(hdr->value, (int64_t)time(NULL), &a->retry_after_ns) != 0)
        a->retry_after_ns = -1; /* unparseable: the policy's own backoff */
    return status >= 200 && status < 300 ? 0 : (int)status;
}

static int setup(CURL **h, resil_breaker **b, resil_retry **r, const char *url)
{
    resil_breaker_opts bo;
    resil_retry_opts ro;

    *h = curl_easy_init();
    if (!*h)
        return RESIL_ENOMEM;
    curl_easy_setopt(*h, CURLOPT_URL, url);
    curl_easy_setopt(*h, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM */
    curl_easy_setopt(*h, CURLOPT_WRITEFUNCTION, discard);
    resil_breaker_opts_init(&bo);
    bo.name = "upstream";
    bo.window_size = 10;
    bo.minimum_calls = 3; /* small, so the demo trips on its first request */
    bo.open_base_ns = 5 * RESIL_NS_PER_SEC;
    int rc = resil_breaker_new(&bo, b);
    if (rc != 0)
        return rc;
    resil_retry_opts_init(&ro);
    ro.max_attempts = 3;
    ro.base_delay_ns = 50 * RESIL_NS_PER_MS;
    ro.max_delay_ns = 500 * RESIL_NS_PER_MS;
    ro.timeout_ns = 2 * RESIL_NS_PER_SEC;
    ro.max_retry_after_ns = RESIL_NS_PER_SEC; /* longer waits: give up now */
    ro.retryable = retryable;
    /* every failed attempt counts against the breaker, a 404 too; where 4xx
     * answers are common, acquire and record in the operation instead and
     * record those as RESIL_OUTCOME_IGNORED */
    ro.breaker = *b;
    return resil_retry_new(&ro, r);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:9/";
    int n = argc > 2 ? atoi(argv[2]) : 10, ok = 0, rejected = 0, failed = 0;
    CURL *h = NULL;
    resil_breaker *b = NULL;
    resil_retry *r = NULL;
    resil_breaker_stats st;
    int status = 1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    int rc = setup(&h, &b, &r, url);
    if (rc != 0) {
        fprintf(stderr, "setup: %s\n", resil_strerror(rc));
        goto out_free;
    }
    int64_t t0 = resil_clock_now(NULL);
    for (int i = 1; i <= n; i++) {
        resil_retry_report rep;
        printf("request %d: GET %s\n", i, url);
        rc = resil_retry_run(r, attempt_get, h, &rep);
        if (rc == RESIL_EOPEN && rep.attempts == 0) {
            rejected++; /* not one byte sent: the breaker answered for the remote */
            printf("  -> rejected at once: %s (retry in %.0f ms)\n", resil_strerror(rc),
                   (double)resil_breaker_retry_in(b) / 1e6);
            continue;
        }
        ok += rc == 0;
        failed += rc != 0;
        printf("  -> %s after %u attempt(s), %.1f ms: %s\n", resil_err_name(rc),
               rep.attempts, (double)rep.elapsed_ns / 1e6, resil_strerror(rc));
    }
    resil_breaker_stats_get(b, &st);
    printf("summary: %d requests in %.1f ms: %d ok, %d failed, %d rejected by the breaker"
           " (now %s, opened %llu time(s))\n",
           n, (double)(resil_clock_now(NULL) - t0) / 1e6, ok, failed, rejected,
           resil_breaker_state_name(st.state), (unsigned long long)st.opens);
    status = 0;
out_free:
    resil_retry_free(r);
    resil_breaker_free(b);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return status;
}
