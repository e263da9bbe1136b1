/* The alert webhook: POSTs each alert event as JSON from a worker thread.
 *
 * resil_alert_webhook_notify() renders the event and appends it to a
 * bounded ring under the webhook's mutex; nothing on that path touches the
 * network.  One worker thread takes events off the ring in order and
 * delivers each one through a retry policy (exponential backoff with
 * jitter, the receiver's Retry-After) inside ONE call of the webhook's
 * breaker, so the breaker counts deliveries, not attempts: a count window
 * of breaker_failures calls with failure_count = breaker_failures trips
 * exactly when that many deliveries in a row failed.
 *
 * The worker owns one CURL easy handle and one multi handle for its whole
 * life, so connections to the receiver are kept and reused between events.
 * It drives each transfer with curl_multi_poll(), so free() can interrupt
 * a POST at once with curl_multi_wakeup() (documented as callable from any
 * thread); the transfer's progress callback checks the same stop flag,
 * which aborts inside libcurl's own processing as well.  The backoff
 * between attempts waits on a condition variable that free() signals.
 *
 * Locking: one mutex guards the ring, the counters and `busy`; the worker
 * never holds it across network I/O or a backoff wait (the wait releases
 * it).  The bearer token exists only inside the Authorization header line,
 * which is wiped before it is freed and never logged or copied into an
 * error; libcurl's own request buffers are outside our reach. */
#include "config.h"

#include "internal.h"

#include <string.h>

void resil_alert_webhook_opts_init(resil_alert_webhook_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->timeout_ns = 5 * RESIL_NS_PER_SEC;
    o->max_attempts = 3;
    o->retry_base_ns = 200 * RESIL_NS_PER_MS;
    o->queue_len = 256;
    o->breaker_failures = 5;
    o->breaker_open_ns = 30 * RESIL_NS_PER_SEC;
}

#ifdef RESIL_HAVE_CURL

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <time.h>

#define WH_MAX_QUEUE (UINT32_C(1) << 20)
#define WH_MAX_ATTEMPTS 100u
#define WH_MAX_URL 8192
#define WH_MAX_TOKEN 4096
#define WH_MAX_RESPONSE (64 * 1024) /* bytes of a response we read, then stop */
#define WH_MAX_DELAY (10 * RESIL_NS_PER_SEC) /* backoff cap (unless base is more) */
#define WH_POLL_MS 1000 /* curl_multi_poll bound; free() wakes it anyway */

/* What one attempt tells the retry policy; only WH_RETRY is retried. */
enum { WH_OK = 0, WH_RETRY = 1, WH_FATAL = 2, WH_ABORTED = 3 };

struct wh_item {
    char *body; /* from resil_alert_event_json(): resil_free() */
    size_t len;
};

struct resil_alert_webhook {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* the worker: an event, or stop; the backoff too */
    pthread_cond_t idle_cv; /* flush(): ring empty and no delivery running */
    struct wh_item *ring;   /* under mu */
    uint32_t cap, head, count;
    bool busy;                     /* a delivery is running; under mu */
    resil_alert_webhook_stats st;  /* under mu; pending is `count` */
    /* Set under mu (so no condition wait misses it) and read without it by
     * the progress callback and the transfer loop. */
    atomic_bool stop;
    resil_breaker *breaker;
    resil_retry *retry;
    const resil_clock *clock;
    pthread_t thread;
    /* The worker's alone once it runs. */
    CURL *easy;
    CURLM *multi;
    struct curl_slist hdrs[3]; /* our nodes, so the token is not copied */
    char hdr_ct[32];
    char hdr_expect[8];
    char *auth; /* "Authorization: Bearer <token>" or NULL; wiped on free */
    size_t auth_len;
    size_t resp_bytes;
    bool resp_overflow;
    bool have_retry_after;
    char retry_after[64];
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t mul_sat(int64_t a, int64_t b)
{
    if (a <= 0 || b <= 0)
        return 0;
    return a > INT64_MAX / b ? INT64_MAX : a * b;
}

/* CLOCK_MONOTONIC now + ns, for condition variables made with that clock
 * (real time, whatever the injected clock: waits are real). */
static struct timespec mono_after(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ns < 0)
        ns = 0;
    time_t secs = (time_t)(ns / RESIL_NS_PER_SEC);
    long rest = (long)(ns % RESIL_NS_PER_SEC);
    ts.tv_sec += secs;
    ts.tv_nsec += rest;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static long ns_to_ms_ceil(int64_t ns)
{
    int64_t ms = ns / RESIL_NS_PER_MS + (ns % RESIL_NS_PER_MS != 0);
    return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

static bool stopping(struct resil_alert_webhook *w)
{
    /* acquire pairs with free()'s release store; the flag guards no data
     * the reader then uses, so this is belt and braces */
    return atomic_load_explicit(&w->stop, memory_order_acquire);
}

/* ---- options ------------------------------------------------------------ */

static bool visible_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c <= 0x20 || c >= 0x7f || n >= max)
            return false;
    }
    return n > 0;
}

/* The scheme by prefix (case-insensitive, RFC 3986 3.1), then libcurl's
 * own parser for the rest, so "http://" without a host fails here and not
 * on the worker thread later. */
static bool url_valid(const char *url)
{
    if (!url || !visible_ascii(url, WH_MAX_URL))
        return false;
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    /* libcurl reads "http:///x" as host "x"; we want the authority there */
    if (skip == 0 || strchr("/?#", url[skip]) != NULL)
        return false;
    CURLU *u = curl_url();
    if (!u)
        return false;
    char *host = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0';
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static bool opts_valid(const resil_alert_webhook_opts *o)
{
    if (!url_valid(o->url))
        return false;
    /* a token with CR, LF or spaces could forge headers */
    if (o->bearer_token && !visible_ascii(o->bearer_token, WH_MAX_TOKEN))
        return false;
    if (o->timeout_ns <= 0 || o->retry_base_ns < 0 || o->breaker_open_ns <= 0)
        return false;
    if (o->max_attempts < 1 || o->max_attempts > WH_MAX_ATTEMPTS)
        return false;
    if (o->queue_len < 1 || o->queue_len > WH_MAX_QUEUE)
        return false;
    return o->breaker_failures >= 1 && o->breaker_failures <= 65536;
}

/* ---- libcurl ------------------------------------------------------------ */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
/* Written once inside pthread_once, read after it: pthread_once orders it. */
static CURLcode g_curl_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    /* Thread-safe from libcurl 7.84; never cleaned up by the library,
     * because the program (or another library) may still use libcurl. */
    g_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t wh_discard(char *buf, size_t size, size_t n, void *ud)
{
    struct resil_alert_webhook *w = ud;
    RESIL__UNUSED(buf);
    size_t len = size * n;
    w->resp_bytes += len;
    if (w->resp_bytes > WH_MAX_RESPONSE) {
        w->resp_overflow = true;
        return 0; /* anything but len aborts the transfer */
    }
    return len;
}

/* Keeps the last Retry-After value; a new status line (a 100 Continue
 * before the real answer) forgets it. */
static size_t wh_header(char *buf, size_t size, size_t n, void *ud)
{
    struct resil_alert_webhook *w = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    const size_t nlen = sizeof name - 1;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        w->have_retry_after = false;
        return len;
    }
    if (len <= nlen || strncasecmp(buf, name, nlen) != 0)
        return len;
    size_t b = nlen, e = len;
    while (b < e && (buf[b] == ' ' || buf[b] == '\t'))
        b++;
    while (e > b && (buf[e - 1] == '\r' || buf[e - 1] == '\n' || buf[e - 1] == ' ' ||
                     buf[e - 1] == '\t'))
        e--;
    w->have_retry_after = e > b && e - b < sizeof w->retry_after;
    if (w->have_retry_after) {
        memcpy(w->retry_after, buf + b, e - b);
        w->retry_after[e - b] = '\0';
    }
    return len;
}

static int wh_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    RESIL__UNUSED(dt);
    RESIL__UNUSED(dn);
    RESIL__UNUSED(ut);
    RESIL__UNUSED(un);
    return stopping(ud) ? 1 : 0; /* nonzero aborts the transfer */
}

/* Header nodes of our own: CURLOPT_HTTPHEADER keeps the list pointer and
 * does not copy it, so the token lives in one buffer we wipe. */
static void wh_headers(struct resil_alert_webhook *w)
{
    memcpy(w->hdr_ct, "Content-Type: application/json", 31);
    /* no "Expect: 100-continue" round trip before the body */
    memcpy(w->hdr_expect, "Expect:", 8);
    w->hdrs[0] = (struct curl_slist){.data = w->hdr_ct, .next = &w->hdrs[1]};
    w->hdrs[1] = (struct curl_slist){.data = w->hdr_expect, .next = NULL};
    if (w->auth) {
        w->hdrs[1].next = &w->hdrs[2];
        w->hdrs[2] = (struct curl_slist){.data = w->auth, .next = NULL};
    }
}

/* Only http and https, whatever else this libcurl speaks. */
static CURLcode wh_protocols(CURL *e)
{
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: CURLOPT_PROTOCOLS is deprecated */
    return curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    return curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Tables by argument type: curl_easy_setopt() is variadic, so each value
 * must have the type its option expects. */
static CURLcode wh_setopts(struct resil_alert_webhook *w, const char *url, int64_t timeout_ns)
{
    CURL *e = w->easy;
    long ms = ns_to_ms_ceil(timeout_ns);
    const struct { CURLoption opt; long v; } longs[] = {
        {CURLOPT_TIMEOUT_MS, ms}, {CURLOPT_CONNECTTIMEOUT_MS, ms},
        {CURLOPT_NOSIGNAL, 1L},   {CURLOPT_FOLLOWLOCATION, 0L},
        {CURLOPT_POST, 1L},       {CURLOPT_NOPROGRESS, 0L},
    };
    const struct { CURLoption opt; const char *v; } strs[] = {
        {CURLOPT_URL, url}, {CURLOPT_USERAGENT, "libresil/" RESIL_VERSION_STRING},
    };
    const CURLoption datas[] = {CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, CURLOPT_XFERINFODATA};
    CURLcode rc = wh_protocols(e);
    for (size_t i = 0; rc == CURLE_OK && i < sizeof longs / sizeof longs[0]; i++)
        rc = curl_easy_setopt(e, longs[i].opt, longs[i].v);
    for (size_t i = 0; rc == CURLE_OK && i < sizeof strs / sizeof strs[0]; i++)
        rc = curl_easy_setopt(e, strs[i].opt, strs[i].v);
    for (size_t i = 0; rc == CURLE_OK && i < sizeof datas / sizeof datas[0]; i++)
        rc = curl_easy_setopt(e, datas[i], (void *)w);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wh_discard);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, wh_header);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, wh_progress);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, &w->hdrs[0]);
    return rc;
}

static int wh_curl_init(struct resil_alert_webhook *w, const resil_alert_webhook_opts *o)
{
    w->easy = curl_easy_init();
    if (!w->easy)
        return RESIL_ENOMEM;
    w->multi = curl_multi_init();
    if (!w->multi)
        goto out_easy;
    wh_headers(w);
    if (wh_setopts(w, o->url, o->timeout_ns) != CURLE_OK)
        goto out_multi;
    return 0;

out_multi:
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
out_easy:
    curl_easy_cleanup(w->easy);
    w->easy = NULL;
    return RESIL_ENOMEM; /* setopt fails here only for memory */
}

static void wh_curl_fini(struct resil_alert_webhook *w)
{
    curl_easy_cleanup(w->easy);
    curl_multi_cleanup(w->multi);
}

/* ---- one delivery ------------------------------------------------------- */

static CURLcode wh_result(struct resil_alert_webhook *w)
{
    CURLcode res = CURLE_FAILED_INIT;
    for (;;) {
        int left = 0;
        CURLMsg *m = curl_multi_info_read(w->multi, &left);
        if (!m)
            break;
        if (m->msg == CURLMSG_DONE && m->easy_handle == w->easy)
            res = m->data.result;
    }
    return res;
}

static CURLcode wh_drive(struct resil_alert_webhook *w)
{
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(w->multi, &running);
        if (mc != CURLM_OK)
            return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
        if (running == 0)
            return wh_result(w);
        if (stopping(w))
            return CURLE_ABORTED_BY_CALLBACK;
        mc = curl_multi_poll(w->multi, NULL, 0, WH_POLL_MS, NULL);
        if (mc != CURLM_OK)
            return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    }
}

/* One POST; removing the handle afterwards also aborts an unfinished one. */
static CURLcode wh_transfer(struct resil_alert_webhook *w)
{
    CURLMcode mc = curl_multi_add_handle(w->multi, w->easy);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    CURLcode res = wh_drive(w);
    curl_multi_remove_handle(w->multi, w->easy);
    return res;
}

/* 2xx delivered; 429, 5xx and transport errors may pass; other answers and
 * a URL libcurl cannot use will not get better by retrying. */
static int wh_classify(CURLcode res, long status, bool overflow)
{
    bool answered = res == CURLE_OK || (res == CURLE_WRITE_ERROR && overflow);
    if (answered && status >= 200 && status < 300)
        return WH_OK;
    if (answered)
        return status == 429 || status >= 500 ? WH_RETRY : WH_FATAL;
    switch (res) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
        return WH_FATAL;
    default:
        return WH_RETRY;
    }
}

static int64_t wh_retry_after(struct resil_alert_webhook *w)
{
    if (!w->have_retry_after)
        return -1;
    int64_t now_unix = resil_clock_now(resil_clock_realtime()) / RESIL_NS_PER_SEC;
    int64_t ns = -1;
    if (resil_retry_after_parse(w->retry_after, now_unix, &ns) != 0)
        return -1;
    return ns;
}

static int wh_attempt(void *arg, resil_attempt *at)
{
    struct resil_alert_webhook *w = arg;
    if (stopping(w))
        return WH_ABORTED;
    w->resp_bytes = 0;
    w->resp_overflow = false;
    w->have_retry_after = false;
    CURLcode res = wh_transfer(w);
    /* counted once made, so a reader who sees it knows the POST is over */
    pthread_mutex_lock(&w->mu);
    w->st.attempts++;
    pthread_mutex_unlock(&w->mu);
    if (stopping(w))
        return WH_ABORTED;
    long status = 0;
    if (curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    int rc = wh_classify(res, status, w->resp_overflow);
    if (rc == WH_RETRY)
        at->retry_after_ns = wh_retry_after(w);
    return rc;
}

static int wh_retryable(int rc, void *ctx)
{
    RESIL__UNUSED(ctx);
    return rc == WH_RETRY;
}

/* The backoff: real time on a condition variable free() signals, so the
 * worker never holds free() up for a whole backoff. */
static void wh_sleep(int64_t ns, void *ctx)
{
    struct resil_alert_webhook *w = ctx;
    struct timespec until = mono_after(ns);
    pthread_mutex_lock(&w->mu);
    while (!stopping(w)) {
        if (pthread_cond_timedwait(&w->work_cv, &w->mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

static void wh_deliver(struct resil_alert_webhook *w, const struct wh_item *it)
{
    resil_breaker_ticket t = 0;
    if (resil_breaker_acquire(w->breaker, &t) != 0) {
        pthread_mutex_lock(&w->mu);
        w->st.rejected++;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, it->body);
    int64_t t0 = resil_clock_now(w->clock);
    int rc = resil_retry_run(w->retry, wh_attempt, w, NULL);
    int64_t took = resil_clock_now(w->clock) - t0;
    /* a POST cut short by free() says nothing about the receiver */
    resil_outcome out = rc == 0         ? RESIL_OUTCOME_SUCCESS
                        : stopping(w)   ? RESIL_OUTCOME_IGNORED
                                        : RESIL_OUTCOME_FAILURE;
    resil_breaker_record(w->breaker, t, out, took < 0 ? 0 : took);
    pthread_mutex_lock(&w->mu);
    if (rc == 0)
        w->st.sent++;
    else
        w->st.failed++;
    pthread_mutex_unlock(&w->mu);
}

/* ---- the worker --------------------------------------------------------- */

/* Under mu: the oldest event, moved out of the ring. */
static struct wh_item wh_pop(struct resil_alert_webhook *w)
{
    struct wh_item it = w->ring[w->head];
    w->ring[w->head] = (struct wh_item){0};
    w->head = (w->head + 1) % w->cap;
    w->count--;
    return it;
}

static void *wh_main(void *arg)
{
    struct resil_alert_webhook *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!stopping(w) && w->count == 0)
            pthread_cond_wait(&w->work_cv, &w->mu);
        if (stopping(w))
            break;
        struct wh_item it = wh_pop(w);
        w->busy = true;
        pthread_mutex_unlock(&w->mu);
        wh_deliver(w, &it);
        resil_free(it.body);
        pthread_mutex_lock(&w->mu);
        w->busy = false;
        if (w->count == 0)
            pthread_cond_broadcast(&w->idle_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The worker gets no signals: the program's handlers run on its threads. */
static int wh_start(struct resil_alert_webhook *w)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, wh_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : RESIL_ESYS;
}

/* ---- construction ------------------------------------------------------- */

static int wh_sync_init(struct resil_alert_webhook *w)
{
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return RESIL_ENOMEM;
    if (resil__cond_init_monotonic(&w->work_cv) != 0)
        goto out_mu;
    if (resil__cond_init_monotonic(&w->idle_cv) != 0)
        goto out_work;
    return 0;

out_work:
    pthread_cond_destroy(&w->work_cv);
out_mu:
    pthread_mutex_destroy(&w->mu);
    return RESIL_ENOMEM;
}

static void wh_sync_fini(struct resil_alert_webhook *w)
{
    pthread_cond_destroy(&w->idle_cv);
    pthread_cond_destroy(&w->work_cv);
    pthread_mutex_destroy(&w->mu);
}

static int64_t wh_max_delay(const resil_alert_webhook_opts *o)
{
    return o->retry_base_ns > WH_MAX_DELAY ? o->retry_base_ns : WH_MAX_DELAY;
}

/* Counts deliveries: breaker_failures failures in a row fill a count
 * window of that size and trip failure_count; one half-open probe (there
 * is one worker) decides, and a failed probe reopens for the same time. */
static int wh_breaker_new(struct resil_alert_webhook *w, const resil_alert_webhook_opts *o)
{
    resil_breaker_opts bo;
    resil_breaker_opts_init(&bo);
    bo.name = "alert_webhook";
    bo.window = RESIL_WINDOW_COUNT;
    bo.window_size = o->breaker_failures;
    bo.minimum_calls = o->breaker_failures;
    bo.failure_rate = 0;
    bo.failure_count = o->breaker_failures;
    bo.half_open_probes = 1;
    bo.open_base_ns = o->breaker_open_ns;
    bo.open_max_ns = o->breaker_open_ns;
    bo.open_multiplier = 1.0;
    bo.open_jitter = 0;
    bo.clock = o->clock;
    /* a probe is one whole delivery: every attempt, every backoff */
    int64_t per = resil__add_sat(o->timeout_ns, wh_max_delay(o));
    bo.probe_timeout_ns = resil__add_sat(mul_sat(per, o->max_attempts), RESIL_NS_PER_SEC);
    return resil_breaker_new(&bo, &w->breaker);
}

/* A Retry-After longer than one POST's timeout ends the delivery instead
 * of holding the queue behind it. */
static int wh_retry_new(struct resil_alert_webhook *w, const resil_alert_webhook_opts *o)
{
    resil_retry_opts ro;
    resil_retry_opts_init(&ro);
    ro.max_attempts = o->max_attempts;
    ro.base_delay_ns = o->retry_base_ns;
    ro.max_delay_ns = wh_max_delay(o);
    ro.multiplier = 2.0;
    ro.jitter = RESIL_JITTER_EQUAL;
    ro.max_retry_after_ns = o->timeout_ns;
    ro.retryable = wh_retryable;
    ro.clock = o->clock;
    ro.sleep = wh_sleep;
    ro.sleep_ctx = w;
    return resil_retry_new(&ro, &w->retry);
}

static int wh_auth_new(struct resil_alert_webhook *w, const char *token)
{
    static const char prefix[] = "Authorization: Bearer ";
    if (!token)
        return 0;
    size_t plen = sizeof prefix - 1, tlen = strlen(token);
    w->auth_len = plen + tlen + 1;
    w->auth = resil__malloc(w->auth_len);
    if (!w->auth)
        return RESIL_ENOMEM;
    memcpy(w->auth, prefix, plen);
    memcpy(w->auth + plen, token, tlen + 1);
    return 0;
}

static void wh_auth_free(struct resil_alert_webhook *w)
{
    if (!w->auth)
        return;
    resil_secret_free(w->auth, w->auth_len); /* wiped, then freed */
    w->auth = NULL;
}

static int wh_parts_new(struct resil_alert_webhook *w, const resil_alert_webhook_opts *o)
{
    w->cap = o->queue_len;
    w->clock = o->clock;
    w->ring = resil__calloc(w->cap, sizeof *w->ring);
    if (!w->ring)
        return RESIL_ENOMEM;
    int rc = wh_auth_new(w, o->bearer_token);
    if (rc != 0)
        goto out_ring;
    rc = wh_breaker_new(w, o);
    if (rc != 0)
        goto out_auth;
    rc = wh_retry_new(w, o);
    if (rc != 0)
        goto out_breaker;
    return 0;

out_breaker:
    resil_breaker_free(w->breaker);
out_auth:
    wh_auth_free(w);
out_ring:
    resil__free(w->ring);
    return rc;
}

static void wh_parts_free(struct resil_alert_webhook *w)
{
    resil_retry_free(w->retry);
    resil_breaker_free(w->breaker);
    wh_auth_free(w);
    resil__free(w->ring);
}

int resil_alert_webhook_new(const resil_alert_webhook_opts *o, resil_alert_webhook **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_rc != CURLE_OK)
        return RESIL_ESYS;
    if (!o || !opts_valid(o))
        return RESIL_EINVAL;
    struct resil_alert_webhook *w = resil__calloc(1, sizeof *w);
    if (!w)
        return RESIL_ENOMEM;
    atomic_init(&w->stop, false);
    int rc = wh_parts_new(w, o);
    if (rc != 0)
        goto out_w;
    rc = wh_sync_init(w);
    if (rc != 0)
        goto out_parts;
    rc = wh_curl_init(w, o);
    if (rc != 0)
        goto out_sync;
    rc = wh_start(w);
    if (rc != 0)
        goto out_curl;
    *out = w;
    return 0;

out_curl:
    wh_curl_fini(w);
out_sync:
    wh_sync_fini(w);
out_parts:
    wh_parts_free(w);
out_w:
    resil__free(w);
    return rc;
}

/* ---- the public calls --------------------------------------------------- */

void resil_alert_webhook_free(resil_alert_webhook *w, int64_t drain_ns)
{
    if (!w)
        return;
    if (drain_ns > 0)
        resil_alert_webhook_flush(w, drain_ns);
    pthread_mutex_lock(&w->mu);
    /* release: pairs with stopping()'s acquire */
    atomic_store_explicit(&w->stop, true, memory_order_release);
    pthread_cond_broadcast(&w->work_cv);
    pthread_cond_broadcast(&w->idle_cv);
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi); /* a POST in curl_multi_poll() ends now */
    pthread_join(w->thread, NULL);
    while (w->count > 0) {
        struct wh_item it = wh_pop(w);
        resil_free(it.body);
    }
    wh_curl_fini(w);
    wh_sync_fini(w);
    wh_parts_free(w);
    resil__free(w);
}

void resil_alert_webhook_notify(const resil_alert_event *ev, void *ctx)
{
    struct resil_alert_webhook *w = ctx;
    if (!ev || !w)
        return;
    /* state_get takes no probe slot: a half-open breaker lets the worker
     * make its probe with this event */
    bool open = resil_breaker_state_get(w->breaker) == RESIL_BREAKER_OPEN;
    struct wh_item it = {0};
    if (!open && resil_alert_event_json(ev, &it.body, &it.len) != 0)
        it.body = NULL;
    char *old = NULL;
    pthread_mutex_lock(&w->mu);
    if (open) {
        w->st.rejected++;
    } else if (!it.body) {
        w->st.dropped++; /* could not be rendered: lost like an overflow */
    } else {
        if (w->count == w->cap) {
            old = wh_pop(w).body;
            w->st.dropped++;
        }
        w->ring[(w->head + w->count) % w->cap] = it;
        w->count++;
        w->st.queued++;
        pthread_cond_signal(&w->work_cv);
    }
    pthread_mutex_unlock(&w->mu);
    resil_free(old);
}

void resil_alert_webhook_stats_get(resil_alert_webhook *w, resil_alert_webhook_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    st->pending = w->count;
    pthread_mutex_unlock(&w->mu);
}

int resil_alert_webhook_flush(resil_alert_webhook *w, int64_t max_wait_ns)
{
    if (!w || max_wait_ns < 0)
        return RESIL_EINVAL;
    struct timespec until = mono_after(max_wait_ns);
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    while ((w->count > 0 || w->busy) && rc == 0) {
        if (pthread_cond_timedwait(&w->idle_cv, &w->mu, &until) == ETIMEDOUT)
            rc = w->count > 0 || w->busy ? RESIL_ETIMEDOUT : 0;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

#else /* !RESIL_HAVE_CURL */

int resil_alert_webhook_new(const resil_alert_webhook_opts *o, resil_alert_webhook **out)
{
    RESIL__UNUSED(o);
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    return RESIL_ENOTSUP;
}

void resil_alert_webhook_free(resil_alert_webhook *w, int64_t drain_ns)
{
    RESIL__UNUSED(w);
    RESIL__UNUSED(drain_ns);
}

void resil_alert_webhook_notify(const resil_alert_event *ev, void *ctx)
{
    RESIL__UNUSED(ev);
    RESIL__UNUSED(ctx);
}

void resil_alert_webhook_stats_get(resil_alert_webhook *w, resil_alert_webhook_stats *st)
{
    RESIL__UNUSED(w);
    if (st)
        memset(st, 0, sizeof *st);
}

int resil_alert_webhook_flush(resil_alert_webhook *w, int64_t max_wait_ns)
{
    RESIL__UNUSED(w);
    RESIL__UNUSED(max_wait_ns);
    return RESIL_EINVAL; /* no webhook can exist in this build */
}

#endif /* RESIL_HAVE_CURL */
