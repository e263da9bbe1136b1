/* The upstream HTTP client (see upstream.h): libcurl transfers run through
 * a libresil service, one attempt per resil_service_fn call.  This file is
 * the service side: attempts, classification, policy hooks, messages and
 * the calls; upstream_http.c holds the handle pool, the share handle, one
 * transfer and the cancellation plumbing (upstream_int.h between them).
 *
 * Secrets.  Query strings and headers may carry API keys: nothing here
 * logs or reports them; every message shows method + scheme://host/path. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "upstream_int.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- judging a response --------------------------------------------------------------- */

/* A short printable excerpt of an error body: the "message" of a JSON
 * error ({"error":{"message"}}, {"error":"..."}, {"message"}) or the
 * first line of a text body.  Control bytes become spaces. */
static void error_excerpt(const struct abuf *b, char *out, size_t outsz)
{
    const char *s = NULL;
    size_t n = 0;
    json_t *j = b->len > 0 ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    json_t *m = json_is_object(e) ? json_object_get(e, "message")
                : json_is_string(e) ? e : json_object_get(j, "message");
    if (json_is_string(m)) {
        s = json_string_value(m);
        n = json_string_length(m);
    } else if (j == NULL && b->len > 0) {
        s = b->data;
        n = strcspn(b->data, "\r\n");
    }
    if (n >= outsz)
        n = outsz - 1;
    if (n > 0)
        memcpy(out, s, n);
    out[n] = '\0';
    upstream__ascii_only(out);
    json_decref(j);
}

static enum upstream_rc status_rc(long status)
{
    if (status >= 200 && status < 300)
        return UPSTREAM_OK;
    if (status == 429)
        return UPSTREAM_HTTP_RATE;
    if (status >= 400 && status < 500)
        return UPSTREAM_HTTP_CLIENT;
    return UPSTREAM_HTTP_SERVER; /* 5xx, and 1xx/3xx we do not follow */
}

/* Turn a response into the attempt's outcome; a 2xx JSON body is parsed
 * here so that an unparsable one fails the attempt (and is never
 * cached). */
static enum upstream_rc judge(struct ucall *uc, resil_attempt *a, const struct abuf *b)
{
    enum upstream_rc rc = status_rc(uc->status);
    if (rc != UPSTREAM_OK) {
        char ex[UP_DETAIL_MAX - 16];
        error_excerpt(b, ex, sizeof(ex));
        upstream__set_detail(uc, "%s", ex);
        if ((uc->status == 429 || uc->status == 503) && b->retry_after[0] != '\0')
            a->retry_after_ns = upstream_parse_retry_after(b->retry_after, (int64_t)time(NULL));
        return rc;
    }
    if (!uc->want_json)
        return UPSTREAM_OK;
    json_error_t err;
    json_decref(uc->json);
    uc->json = json_loadb(b->data != NULL ? b->data : "", b->len, 0, &err);
    if (uc->json == NULL) {
        upstream__set_detail(uc, "the answer is not JSON (%s, line %d column %d: %.60s)",
                   b->ctype[0] ? b->ctype : "no content type", err.line, err.column,
                   err.text);
        return UPSTREAM_HTTP_SERVER;
    }
    return UPSTREAM_OK;
}

static const char *rc_name(enum upstream_rc rc)
{
    static const char *const names[] = {"ok",        "http_client", "http_rate",
                                        "http_server", "transport", "timeout",
                                        "too_large", "cancelled"};
    return (unsigned)rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "unknown";
}

static void log_attempt(const struct ucall *uc, const resil_attempt *a, int64_t took_ns)
{
    log_event(uc->rc == UPSTREAM_OK ? LOG_DEBUG : LOG_INFO, "upstream.attempt", "service",
              json_string(uc->sc->name), "method",
              json_string(uc->req->method ? uc->req->method : "GET"), "url",
              json_string(uc->safe_url), "attempt", json_integer(a->number), "status",
              json_integer(uc->status), "outcome", json_string(rc_name(uc->rc)), "ms",
              json_integer(took_ns / 1000000), "detail", json_string(uc->detail), NULL);
}

/* ---- one attempt ------------------------------------------------------------------------ */

/* The attempt's time limit: the tighter of its deadline (service clock)
 * and the configured per-request timeout.  <= 0: none left. */
static long attempt_timeout_ms(const struct ucall *uc, const resil_attempt *a)
{
    int64_t ms = uc->sc->timeout_ms > 0 ? uc->sc->timeout_ms : INT64_MAX;
    if (a->deadline != RESIL_TIME_NEVER) {
        /* The service calls an attempt only before its deadline, so time
         * left <= 0 here means sc->policy.clock is not the service's clock
         * (app.c sets only the service's copy): then the timeout alone. */
        int64_t left = a->deadline - resil_clock_now(uc->sc->policy.clock);
        int64_t lms = (left + 999999) / 1000000;
        if (left > 0 && lms < ms)
            ms = lms;
    }
    if (ms == INT64_MAX)
        ms = 300000; /* never unbounded */
    return ms > 0x7fffffffLL ? 0x7fffffffL : (long)ms;
}

static void deadline_in(int64_t ns, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ns / 1000000000);
    ts->tv_nsec += (long)(ns % 1000000000);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static enum upstream_rc attempt_run(struct ucall *uc, resil_attempt *a, struct abuf *b)
{
    long timeout_ms = attempt_timeout_ms(uc, a);
    struct timespec until;
    struct slot *s = NULL;
    if (upstream__ucall_cancelled(uc)) {
        upstream__set_detail(uc, "the request was cancelled");
        return UPSTREAM_CANCELLED;
    }
    if (timeout_ms <= 0) {
        upstream__set_detail(uc, "no time left for another attempt");
        return UPSTREAM_TIMEOUT;
    }
    deadline_in((int64_t)timeout_ms * 1000000, &until);
    int rc = upstream__slot_take(uc, &until, &s);
    if (rc != 0) {
        upstream__set_detail(uc, "%s",
                             rc == UPSTREAM_TIMEOUT     ? "every connection handle stayed busy"
                             : rc == UPSTREAM_CANCELLED ? "the request was cancelled"
                                                        : "out of memory");
        return (enum upstream_rc)rc;
    }
    enum upstream_rc r = upstream__transfer(uc, s, b, timeout_ms);
    upstream__slot_give(uc, s);
    return r == UPSTREAM_OK ? judge(uc, a, b) : r;
}

static int attempt_fn(void *arg, resil_attempt *a, resil_service_out *out)
{
    struct ucall *uc = arg;
    struct abuf b = {.max = uc->sc->max_response_bytes ? uc->sc->max_response_bytes
                                                       : (size_t)2 << 20};
    int64_t t0 = resil_clock_now(NULL);
    uc->attempts++;
    uc->status = 0;
    uc->detail[0] = '\0';
    uc->rc = attempt_run(uc, a, &b);
    log_attempt(uc, a, resil_clock_now(NULL) - t0);
    if (uc->rc != UPSTREAM_OK)
        goto out_free;
    if (b.data == NULL && (b.data = calloc(1, 1)) == NULL) {
        uc->rc = UPSTREAM_TRANSPORT;
        upstream__set_detail(uc, "out of memory");
        goto out_free;
    }
    /* the buffer itself becomes the value (no copy); its NUL stays */
    if (resil_service_out_obj(out, b.data, b.len) == 0)
        return 0;
    uc->rc = UPSTREAM_TRANSPORT;
    upstream__set_detail(uc, "out of memory");
out_free:
    free(b.data);
    return (int)uc->rc;
}

/* ---- policy glue ----------------------------------------------------------------------- */

static resil_outcome classify_http(int rc, int64_t duration_ns, void *ctx)
{
    (void)duration_ns;
    (void)ctx;
    if (rc == UPSTREAM_OK)
        return RESIL_OUTCOME_SUCCESS;
    if (rc == UPSTREAM_HTTP_CLIENT || rc == UPSTREAM_CANCELLED)
        return RESIL_OUTCOME_IGNORED;
    return RESIL_OUTCOME_FAILURE;
}

static int retryable_http(int rc, void *ctx)
{
    (void)ctx;
    return rc != UPSTREAM_HTTP_CLIENT && rc != UPSTREAM_TOO_LARGE && rc != UPSTREAM_CANCELLED;
}

/* The call this thread runs, for backoff_sleep(). */
static _Thread_local struct ucall *tls_call;

/* The wait between attempts.  On a real clock it is a wait that a cancel
 * ends at once, so a cancelled call does not sit out a 30 s Retry-After;
 * any other clock (a test's manual one) sleeps its own way. */
static void backoff_sleep(int64_t ns, void *ctx)
{
    const resil_clock *clock = ctx;
    struct ucall *uc = tls_call;
    struct timespec until;
    if (uc == NULL || ns <= 0 ||
        (clock != NULL && clock != resil_clock_monotonic() && clock != resil_clock_coarse())) {
        resil_clock_sleep(clock, ns);
        return;
    }
    deadline_in(ns, &until);
    pthread_mutex_lock(&uc->u->lock);
    while (!upstream__ucall_cancelled(uc) &&
           pthread_cond_timedwait(&uc->u->freed, &uc->u->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&uc->u->lock);
}

static void free_body(void *obj, void *ctx)
{
    (void)ctx;
    free(obj);
}

void upstream_policy_setup(resil_service_opts *o)
{
    if (o == NULL)
        return;
    o->classify = classify_http;
    o->classify_ctx = NULL;
    o->retry.retryable = retryable_http;
    o->retry.retryable_ctx = NULL;
    o->retry.sleep = backoff_sleep;
    o->retry.sleep_ctx = (void *)(uintptr_t)o->clock; /* set by the caller before */
    o->obj_free = free_body;
    o->obj_free_ctx = NULL;
}

/* ---- URLs and headers ---------------------------------------------------------------- */

/* scheme://host[:port]/path of url: no userinfo, query or fragment. */
static void safe_url(const char *url, char *out, size_t outsz)
{
    const char *p = strstr(url, "://");
    const char *host = p != NULL ? p + 3 : url;
    size_t auth = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth);
    const char *h = at != NULL ? at + 1 : host;
    size_t hl = (size_t)(host + auth - h);
    size_t pl = strcspn(host + auth, "?#");
    snprintf(out, outsz, "%.*s%.*s%.*s", p != NULL ? (int)(p + 3 - url) : 0, url, (int)hl, h,
             (int)pl, host + auth);
    upstream__ascii_only(out);
}

char *upstream_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = s != NULL ? strlen(s) : 0;
    char *out = malloc(n * 3 + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 3986 section 2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* ---- the call ------------------------------------------------------------------------- */

struct mbuf {
    char *p;
    size_t cap, len;
};

static void madd(struct mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void madd(struct mbuf *m, const char *fmt, ...)
{
    if (m->len + 1 >= m->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->p + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len += (size_t)n < m->cap - m->len ? (size_t)n : m->cap - m->len - 1;
}

static void msg_when(struct mbuf *m, const struct upstream_result *res)
{
    if (res->rc == UPSTREAM_HTTP_CLIENT || res->rc == UPSTREAM_TOO_LARGE) {
        madd(m, "; not retried (the same request would fail the same way)");
        return;
    }
    if (res->rc == UPSTREAM_CANCELLED)
        return;
    if (res->retry_after_ns > 0)
        madd(m, "; retry in %.3g s", (double)res->retry_after_ns / 1e9);
    else if (res->retry_after_ns == 0)
        madd(m, "; retry shortly");
    else
        madd(m, "; retry later");
}

/* The message of a failed call: the service's own for refusals, else the
 * last attempt's HTTP outcome with the service's verdict appended. */
static void describe(const struct ucall *uc, const resil_service_result *sr,
                     struct upstream_result *res)
{
    struct mbuf m = {res->message, sizeof(res->message), 0};
    const char *method = uc->req->method != NULL ? uc->req->method : "GET";
    if (uc->attempts == 0 || (uc->rc == UPSTREAM_OK && sr->code != RESIL_ETIMEDOUT)) {
        /* refused before any attempt of ours, or failed for a local reason */
        madd(&m, "%s", sr->message[0] ? sr->message : resil_strerror(sr->code));
        return;
    }
    if (uc->rc == UPSTREAM_OK) {
        /* the answer came, but after the attempt's deadline */
        res->rc = UPSTREAM_TIMEOUT;
        madd(&m, "%s: %s %s answered after its deadline", uc->sc->name, method, uc->safe_url);
    } else if (uc->status >= 100 && uc->rc != UPSTREAM_TIMEOUT && uc->rc != UPSTREAM_CANCELLED &&
               uc->rc != UPSTREAM_TRANSPORT && uc->rc != UPSTREAM_TOO_LARGE) {
        madd(&m, "%s: HTTP %ld from %s %s", uc->sc->name, uc->status, method, uc->safe_url);
    } else {
        madd(&m, "%s: %s %s failed", uc->sc->name, method, uc->safe_url);
    }
    if (sr->attempts > 1)
        madd(&m, " after %u attempts", (unsigned)sr->attempts);
    if (uc->detail[0] != '\0')
        madd(&m, ": %s", uc->detail);
    if (sr->stage == RESIL_STAGE_BREAKER)
        madd(&m, "; the circuit breaker is now open");
    else if (sr->code == RESIL_EBUDGET)
        madd(&m, "; no retry: the retry budget is spent");
    msg_when(&m, res);
}

static char *memdup0(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void result_fill(const struct ucall *uc, const resil_service_result *sr,
                        struct upstream_result *res)
{
    res->code = sr->code;
    res->rc = uc->rc;
    res->http_status = uc->status;
    res->stale = sr->stale;
    res->from_cache = sr->stage == RESIL_STAGE_CACHE || sr->stale;
    res->stage = sr->stage;
    res->attempts = sr->attempts;
    res->retry_after_ns = sr->code != 0 ? sr->retry_after_ns : -1;
    res->message[0] = '\0';
    if (sr->code != 0)
        describe(uc, sr, res);
    else if (sr->stale) /* "...; served a stale cached value": why it is stale */
        snprintf(res->message, sizeof(res->message), "%s", sr->message);
}

static void result_error(struct upstream_result *res, const char *name, const char *what)
{
    memset(res, 0, sizeof(*res));
    res->code = -1;
    res->rc = UPSTREAM_TRANSPORT;
    res->retry_after_ns = -1;
    snprintf(res->message, sizeof(res->message), "%s: %s", name, what);
}

/* Run the pipeline; on success *sr holds the value (release it). */
static int call_run(struct ucall *uc, resil_service *svc, struct upstream_result *res,
                    resil_service_result *sr)
{
    const struct upstream_req *req = uc->req;
    struct resil_service_call call;
    resil_service_call_init(&call);
    if (req->cache_key != NULL && req->cache_key_len > 0) {
        call.key = req->cache_key;
        call.keylen = req->cache_key_len;
        call.ttl_ns = req->cache_ttl_ns;
    }
    safe_url(req->url, uc->safe_url, sizeof(uc->safe_url));
    upstream__ucall_register(uc);
    struct ucall *outer = tls_call;
    tls_call = uc;
    int rc = resil_service_call(svc, &call, attempt_fn, uc, sr);
    tls_call = outer;
    upstream__ucall_unregister(uc);
    result_fill(uc, sr, res);
    return rc;
}

static int call_args_ok(struct upstream *u, resil_service *svc, const struct config_service *sc,
                        const struct upstream_req *req, struct upstream_result *res)
{
    if (res == NULL)
        return 0;
    if (u == NULL || svc == NULL || sc == NULL || req == NULL || req->url == NULL) {
        result_error(res, sc != NULL ? sc->name : "upstream",
                     "internal error: the upstream client was called without a service or URL");
        return 0;
    }
    return 1;
}

static void ucall_init(struct ucall *uc, struct upstream *u, const struct config_service *sc,
                       struct mcp_call *c, const struct upstream_req *req, int want_json)
{
    memset(uc, 0, sizeof(*uc));
    uc->u = u;
    uc->sc = sc;
    uc->c = c;
    uc->req = req;
    uc->want_json = want_json;
    atomic_init(&uc->cancelled, 0);
}

int upstream_call(struct upstream *u, resil_service *svc, const struct config_service *sc,
                  struct mcp_call *c, const struct upstream_req *req, char **body,
                  size_t *len, struct upstream_result *res)
{
    struct ucall uc;
    resil_service_result sr;
    if (body != NULL)
        *body = NULL;
    if (len != NULL)
        *len = 0;
    if (!call_args_ok(u, svc, sc, req, res))
        return -1;
    ucall_init(&uc, u, sc, c, req, 0);
    int rc = call_run(&uc, svc, res, &sr);
    if (rc == 0 && body != NULL) {
        const void *p = sr.obj != NULL ? sr.obj : sr.data;
        *body = memdup0(p, sr.len);
        if (*body == NULL) {
            result_error(res, sc->name, "out of memory copying the answer");
            rc = -1;
        } else if (len != NULL) {
            *len = sr.len;
        }
    }
    resil_service_result_release(&sr);
    return rc == 0 ? 0 : -1;
}

/* The JSON of a successful call: the attempt's parse when the value is
 * fresh from it, else a parse of the value (cached, stale, coalesced). */
static json_t *json_of(struct ucall *uc, const resil_service_result *sr,
                       struct upstream_result *res)
{
    json_error_t err;
    if (uc->json != NULL && sr->stage == RESIL_STAGE_OPERATION && !sr->stale &&
        uc->rc == UPSTREAM_OK) {
        json_t *j = uc->json;
        uc->json = NULL;
        return j;
    }
    const char *p = sr->obj != NULL ? sr->obj : sr->data;
    json_t *j = json_loadb(p != NULL ? p : "", sr->len, 0, &err);
    if (j == NULL) {
        res->code = -1;
        res->rc = UPSTREAM_HTTP_SERVER;
        struct mbuf m = {res->message, sizeof(res->message), 0};
        madd(&m, "%s: the answer of %s %s is not JSON (line %d column %d: %.60s)",
             uc->sc->name, uc->req->method ? uc->req->method : "GET", uc->safe_url, err.line,
             err.column, err.text);
    }
    return j;
}

int upstream_call_json(struct upstream *u, resil_service *svc, const struct config_service *sc,
                       struct mcp_call *c, const struct upstream_req *req, json_t **out,
                       struct upstream_result *res)
{
    struct ucall uc;
    resil_service_result sr;
    if (out != NULL)
        *out = NULL;
    if (!call_args_ok(u, svc, sc, req, res))
        return -1;
    ucall_init(&uc, u, sc, c, req, 1);
    int rc = call_run(&uc, svc, res, &sr);
    if (rc == 0) {
        json_t *j = json_of(&uc, &sr, res);
        if (j == NULL)
            rc = -1;
        else if (out != NULL)
            *out = j;
        else
            json_decref(j);
    }
    json_decref(uc.json);
    resil_service_result_release(&sr);
    return rc == 0 ? 0 : -1;
}
