/* The upstream HTTP client (see upstream.h): libcurl transfers run through
 * a libresil service, one attempt per resil_service_fn call.
 *
 * Handles.  A pool of slots, each an easy handle with its own multi handle,
 * made on first use and kept: a transfer runs on its slot's multi handle so
 * that curl_multi_poll can be woken by curl_multi_wakeup from the thread
 * that cancels the MCP call.  The free list is LIFO so the slot used last
 * (whose multi handle holds a warm connection) is taken first.  The share
 * handle shares DNS and TLS sessions between all slots.  Connections are
 * NOT shared through it: libcurl documents CURL_LOCK_DATA_CONNECT as not
 * supported with concurrent threads (CURLSHOPT_SHARE(3), "known bug"), so
 * each slot's multi handle keeps its own idle connections instead.
 *
 * Cancellation.  Every upstream_call() registers a struct ucall in the
 * client's active list and, when it has an mcp_call, a cancel hook.  The
 * hook (or upstream__cancel_all) sets the call's flag and, under u->lock,
 * wakes the multi handle the call is using, if any, and the pool's
 * condition variable: the attempt sees the flag on its next loop turn.
 * The slot is detached from the call under u->lock before it goes back to
 * the pool, so a late cancel never wakes a transfer it does not own.
 *
 * Secrets.  Query strings and headers may carry API keys: nothing here
 * logs or reports them; every message shows method + scheme://host/path. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "upstream.h"

#include "log.h"

#include <resil/version.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define UP_DEFAULT_HANDLES 32u
#define UP_MAX_HANDLES 4096u
#define UP_SAFE_URL_MAX 256
#define UP_DETAIL_MAX 160
#define UP_HEADER_VALUE_MAX 128
#define UP_POLL_MS 1000

struct slot {
    CURL *easy;
    CURLM *multi;
    struct slot *next; /* free list */
};

struct ucall;

struct upstream {
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t lock; /* free list, active list, ucall.multi */
    pthread_cond_t freed; /* a slot came back, or a waiter was cancelled */
    struct slot *slots;
    struct slot *free_list;
    unsigned nslots;
    struct ucall *active;
    char user_agent[128];
};

/* One upstream_call() in flight. */
struct ucall {
    struct upstream *u;
    const struct config_service *sc;
    struct mcp_call *c;
    const struct upstream_req *req;
    int want_json;
    atomic_int cancelled;
    CURLM *multi; /* the slot in use; u->lock */
    struct ucall *prev, *next; /* u->active; u->lock */
    char safe_url[UP_SAFE_URL_MAX];
    /* the last attempt */
    unsigned attempts;
    enum upstream_rc rc;
    long status;
    char detail[UP_DETAIL_MAX]; /* why, in words (no secrets) */
    json_t *json;               /* parsed 2xx body, when want_json */
};

/* One attempt's response. */
struct abuf {
    char *data;
    size_t len, cap, max;
    int too_large;
    char retry_after[UP_HEADER_VALUE_MAX];
    char ctype[UP_HEADER_VALUE_MAX];
};

/* Test hook and shutdown aid: cancel every call in flight (declared here
 * because upstream.h is a fixed contract; tests declare it themselves). */
size_t upstream__cancel_all(struct upstream *u);

/* ---- share locks -------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ctx)
{
    struct upstream *u = ctx;
    (void)h;
    (void)a;
    pthread_mutex_lock(&u->share_locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ctx)
{
    struct upstream *u = ctx;
    (void)h;
    pthread_mutex_unlock(&u->share_locks[d]);
}

static int share_setup(struct upstream *u)
{
    u->share = curl_share_init();
    if (u->share == NULL)
        return -1;
    if (curl_share_setopt(u->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(u->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(u->share, CURLSHOPT_USERDATA, u) != CURLSHE_OK ||
        curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
        curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
            CURLSHE_OK)
        return -1;
    return 0;
}

/* ---- the client ------------------------------------------------------------ */

static int cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t at;
    int rc = pthread_condattr_init(&at);
    if (rc != 0)
        return -1;
    rc = pthread_condattr_setclock(&at, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &at);
    pthread_condattr_destroy(&at);
    return rc == 0 ? 0 : -1;
}

int upstream_new(const struct upstream_opts *o, struct upstream **out)
{
    unsigned n = o != NULL && o->max_handles > 0 ? o->max_handles : UP_DEFAULT_HANDLES;
    struct upstream *u;

    if (out == NULL)
        return -1;
    *out = NULL;
    if (n > UP_MAX_HANDLES)
        n = UP_MAX_HANDLES;
    u = calloc(1, sizeof(*u));
    if (u == NULL)
        return -1;
    u->slots = calloc(n, sizeof(*u->slots));
    if (u->slots == NULL)
        goto out_free;
    if (cond_init_monotonic(&u->freed) != 0)
        goto out_free_slots;
    pthread_mutex_init(&u->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&u->share_locks[i], NULL);
    u->nslots = n;
    for (unsigned i = n; i-- > 0;) {
        u->slots[i].next = u->free_list;
        u->free_list = &u->slots[i];
    }
    snprintf(u->user_agent, sizeof(u->user_agent), "%s",
             o != NULL && o->user_agent != NULL ? o->user_agent
                                                : "mcp-server/" RESIL_VERSION_STRING " libcurl");
    if (share_setup(u) != 0) {
        upstream_free(u);
        return -1;
    }
    *out = u;
    return 0;
out_free_slots:
    free(u->slots);
out_free:
    free(u);
    return -1;
}

void upstream_free(struct upstream *u)
{
    if (u == NULL)
        return;
    for (unsigned i = 0; i < u->nslots; i++) {
        if (u->slots[i].easy != NULL)
            curl_easy_cleanup(u->slots[i].easy); /* before the share it uses */
        if (u->slots[i].multi != NULL)
            curl_multi_cleanup(u->slots[i].multi);
    }
    if (u->share != NULL)
        curl_share_cleanup(u->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&u->share_locks[i]);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->freed);
    free(u->slots);
    free(u);
}

/* ---- cancellation ------------------------------------------------------------ */

/* u->lock held. */
static void ucall_cancel_locked(struct ucall *uc)
{
    /* seq_cst: pairs with the attempt's load after it published its multi
     * handle under the same lock; the lock already orders them, this is
     * the loop's lock-free read. */
    atomic_store(&uc->cancelled, 1);
    if (uc->multi != NULL)
        curl_multi_wakeup(uc->multi);
    pthread_cond_broadcast(&uc->u->freed);
}

static void ucall_on_cancel(void *arg)
{
    struct ucall *uc = arg;
    pthread_mutex_lock(&uc->u->lock);
    ucall_cancel_locked(uc);
    pthread_mutex_unlock(&uc->u->lock);
}

size_t upstream__cancel_all(struct upstream *u)
{
    size_t n = 0;
    if (u == NULL)
        return 0;
    pthread_mutex_lock(&u->lock);
    for (struct ucall *uc = u->active; uc != NULL; uc = uc->next, n++)
        ucall_cancel_locked(uc);
    pthread_mutex_unlock(&u->lock);
    return n;
}

static void ucall_register(struct ucall *uc)
{
    struct upstream *u = uc->u;
    pthread_mutex_lock(&u->lock);
    uc->next = u->active;
    uc->prev = NULL;
    if (u->active != NULL)
        u->active->prev = uc;
    u->active = uc;
    pthread_mutex_unlock(&u->lock);
    if (uc->c != NULL)
        mcp_call_on_cancel(uc->c, ucall_on_cancel, uc);
}

static void ucall_unregister(struct ucall *uc)
{
    struct upstream *u = uc->u;
    /* after this the hook is not running and will not run: uc may go */
    if (uc->c != NULL)
        mcp_call_on_cancel(uc->c, NULL, NULL);
    pthread_mutex_lock(&u->lock);
    if (uc->prev != NULL)
        uc->prev->next = uc->next;
    else
        u->active = uc->next;
    if (uc->next != NULL)
        uc->next->prev = uc->prev;
    pthread_mutex_unlock(&u->lock);
}

static int ucall_cancelled(const struct ucall *uc)
{
    /* relaxed would do for a poll; seq_cst keeps the reasoning simple and
     * costs nothing next to a network transfer */
    return atomic_load(&uc->cancelled) || (uc->c != NULL && mcp_call_cancelled(uc->c));
}

/* ---- the pool ---------------------------------------------------------------- */

static int slot_ready(struct upstream *u, struct slot *s)
{
    if (s->multi == NULL)
        s->multi = curl_multi_init();
    if (s->easy == NULL) {
        s->easy = curl_easy_init();
        /* kept across curl_easy_reset() (CURLOPT_SHARE is not reset) */
        if (s->easy != NULL && curl_easy_setopt(s->easy, CURLOPT_SHARE, u->share) != CURLE_OK) {
            curl_easy_cleanup(s->easy);
            s->easy = NULL;
        }
    }
    return s->multi != NULL && s->easy != NULL ? 0 : -1;
}

/* Wait for a free slot until the monotonic deadline; the slot is published
 * as uc->multi so a cancel can wake it.  0, UPSTREAM_TIMEOUT,
 * UPSTREAM_CANCELLED, or UPSTREAM_TRANSPORT (out of memory). */
static int slot_take(struct ucall *uc, const struct timespec *until, struct slot **out)
{
    struct upstream *u = uc->u;
    int rc = 0;
    pthread_mutex_lock(&u->lock);
    while (u->free_list == NULL && rc == 0) {
        if (atomic_load(&uc->cancelled))
            rc = UPSTREAM_CANCELLED;
        else if (pthread_cond_timedwait(&u->freed, &u->lock, until) == ETIMEDOUT)
            rc = UPSTREAM_TIMEOUT;
    }
    if (rc == 0) {
        *out = u->free_list;
        u->free_list = (*out)->next;
        if (slot_ready(u, *out) != 0) {
            (*out)->next = u->free_list;
            u->free_list = *out;
            rc = UPSTREAM_TRANSPORT;
        } else {
            uc->multi = (*out)->multi;
        }
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}

static void slot_give(struct ucall *uc, struct slot *s)
{
    struct upstream *u = uc->u;
    curl_easy_reset(s->easy);
    pthread_mutex_lock(&u->lock);
    uc->multi = NULL;
    s->next = u->free_list;
    u->free_list = s;
    pthread_cond_broadcast(&u->freed);
    pthread_mutex_unlock(&u->lock);
}

/* Make s printable ASCII in place (other bytes become '?'): what reaches
 * messages and logs from a remote is then valid UTF-8 however it is cut. */
static void ascii_only(char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = (unsigned char)*s < 0x20 ? ' ' : '?';
    }
}

/* ---- callbacks ------------------------------------------------------------------ */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    struct abuf *b = ctx;
    size_t n = size * nmemb;
    if (n > b->max - b->len) {
        b->too_large = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL)
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Copy the value of header line "Name: value\r\n" into out if the name
 * matches. */
static void header_value(const char *line, size_t n, const char *name, char *out,
                         size_t outsz)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - v) < outsz - 1 ? (size_t)(end - v) : outsz - 1;
    memcpy(out, v, len);
    out[len] = '\0';
    ascii_only(out);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    struct abuf *b = ctx;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue): forget the last one's */
        b->retry_after[0] = '\0';
        b->ctype[0] = '\0';
    }
    header_value(ptr, n, "Retry-After", b->retry_after, sizeof(b->retry_after));
    header_value(ptr, n, "Content-Type", b->ctype, sizeof(b->ctype));
    return n;
}

/* ---- one transfer ------------------------------------------------------------------ */

static struct curl_slist *build_headers(const struct upstream_req *req)
{
    struct curl_slist *h = NULL, *t;
    int have_ctype = 0;
    for (const char *const *p = req->headers; p != NULL && *p != NULL; p++) {
        have_ctype |= strncasecmp(*p, "Content-Type:", 13) == 0;
        t = curl_slist_append(h, *p);
        if (t == NULL)
            goto out_fail;
        h = t;
    }
    if (req->body != NULL && !have_ctype) {
        t = curl_slist_append(h, "Content-Type: application/json");
        if (t == NULL)
            goto out_fail;
        h = t;
    }
    /* no 100-continue round trip for small JSON bodies */
    t = curl_slist_append(h, "Expect:");
    if (t == NULL)
        goto out_fail;
    return t;
out_fail:
    curl_slist_free_all(h);
    return NULL;
}

static CURLcode set_options(CURL *e, const struct ucall *uc, struct abuf *b,
                            struct curl_slist *hdrs, long timeout_ms)
{
    const struct upstream_req *r = uc->req;
    long connect_ms = uc->sc->connect_timeout_ms > 0 ? (long)uc->sc->connect_timeout_ms
                                                     : timeout_ms;
    CURLcode c = CURLE_OK;
    c |= curl_easy_setopt(e, CURLOPT_URL, r->url);
    c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    c |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                          connect_ms < timeout_ms ? connect_ms : timeout_ms);
    c |= curl_easy_setopt(e, CURLOPT_USERAGENT, uc->u->user_agent);
    c |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    c |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    c |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max);
    c |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    c |= curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    c |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    c |= curl_easy_setopt(e, CURLOPT_HEADERDATA, b);
    if (r->method != NULL && strcmp(r->method, "POST") == 0) {
        c |= curl_easy_setopt(e, CURLOPT_POST, 1L);
        c |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body != NULL ? r->body : "");
        c |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)(r->body != NULL ? r->body_len : 0));
    } else if (r->method != NULL && strcmp(r->method, "GET") != 0) {
        c |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    return c;
}

/* Drive the transfer until it ends or the call is cancelled. */
static CURLcode drive(struct ucall *uc, CURLM *m, CURL *e)
{
    CURLcode res = CURLE_OK;
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        if (!running)
            break;
        if (ucall_cancelled(uc))
            return CURLE_ABORTED_BY_CALLBACK;
        if (curl_multi_poll(m, NULL, 0, UP_POLL_MS, NULL) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        if (ucall_cancelled(uc))
            return CURLE_ABORTED_BY_CALLBACK;
    }
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == e)
            res = msg->data.result;
    }
    return res;
}

static void set_detail(struct ucall *uc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(struct ucall *uc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(uc->detail, sizeof(uc->detail), fmt, ap);
    va_end(ap);
}

static enum upstream_rc transport_rc(struct ucall *uc, CURLcode cc, const struct abuf *b,
                                     long os_errno, long timeout_ms)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        set_detail(uc, "no complete answer within %ld ms", timeout_ms);
        return UPSTREAM_TIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        set_detail(uc, "the request was cancelled");
        return UPSTREAM_CANCELLED;
    case CURLE_FILESIZE_EXCEEDED:
        set_detail(uc, "the answer is larger than the limit of %zu bytes", b->max);
        return UPSTREAM_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        if (b->too_large) {
            set_detail(uc, "the answer is larger than the limit of %zu bytes", b->max);
            return UPSTREAM_TOO_LARGE;
        }
        break;
    default:
        break;
    }
    if (os_errno != 0)
        set_detail(uc, "transport error: %s (%s)", curl_easy_strerror(cc),
                   strerror((int)os_errno));
    else
        set_detail(uc, "transport error: %s", curl_easy_strerror(cc));
    return UPSTREAM_TRANSPORT;
}

/* Run the request on slot s.  The response goes to b; returns the outcome
 * before looking at the HTTP status (UPSTREAM_OK: a response came). */
static enum upstream_rc transfer(struct ucall *uc, struct slot *s, struct abuf *b,
                                 long timeout_ms)
{
    struct curl_slist *hdrs = build_headers(uc->req);
    enum upstream_rc rc = UPSTREAM_TRANSPORT;
    long os_errno = 0;
    if (hdrs == NULL) {
        set_detail(uc, "out of memory");
        return rc;
    }
    if (set_options(s->easy, uc, b, hdrs, timeout_ms) != CURLE_OK) {
        set_detail(uc, "libcurl refused an option (is http/https supported?)");
        goto out_headers;
    }
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
        set_detail(uc, "libcurl could not start the transfer");
        goto out_headers;
    }
    CURLcode cc = drive(uc, s->multi, s->easy);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &uc->status);
    curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_multi_remove_handle(s->multi, s->easy);
    rc = cc == CURLE_OK ? UPSTREAM_OK : transport_rc(uc, cc, b, os_errno, timeout_ms);
out_headers:
    curl_slist_free_all(hdrs);
    return rc;
}

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
    ascii_only(out);
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
        set_detail(uc, "%s", ex);
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
        set_detail(uc, "the answer is not JSON (%s, line %d column %d: %.60s)",
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
    if (ucall_cancelled(uc)) {
        set_detail(uc, "the request was cancelled");
        return UPSTREAM_CANCELLED;
    }
    if (timeout_ms <= 0) {
        set_detail(uc, "no time left for another attempt");
        return UPSTREAM_TIMEOUT;
    }
    deadline_in((int64_t)timeout_ms * 1000000, &until);
    int rc = slot_take(uc, &until, &s);
    if (rc != 0) {
        set_detail(uc, "%s", rc == UPSTREAM_TIMEOUT ? "every connection handle stayed busy"
                             : rc == UPSTREAM_CANCELLED ? "the request was cancelled"
                                                        : "out of memory");
        return (enum upstream_rc)rc;
    }
    enum upstream_rc r = transfer(uc, s, b, timeout_ms);
    slot_give(uc, s);
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
        set_detail(uc, "out of memory");
        goto out_free;
    }
    /* the buffer itself becomes the value (no copy); its NUL stays */
    if (resil_service_out_obj(out, b.data, b.len) == 0)
        return 0;
    uc->rc = UPSTREAM_TRANSPORT;
    set_detail(uc, "out of memory");
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
    while (!ucall_cancelled(uc) &&
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
    ascii_only(out);
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

/* RFC 9110 section 10.2.3: Retry-After = HTTP-date / delay-seconds. */
int64_t upstream_parse_retry_after(const char *value, int64_t now_unix)
{
    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t digits = strspn(value, "0123456789");
    if (digits > 0) {
        const char *rest = value + digits;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest != '\0' || digits > 10)
            return -1; /* "12abc", or more seconds than a year holds many times */
        int64_t sec = strtoll(value, NULL, 10);
        return sec * 1000000000LL;
    }
    if (*value == '\0')
        return -1;
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    int64_t delta = (int64_t)t - now_unix;
    return delta <= 0 ? 0 : delta * 1000000000LL;
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
    ucall_register(uc);
    struct ucall *outer = tls_call;
    tls_call = uc;
    int rc = resil_service_call(svc, &call, attempt_fn, uc, sr);
    tls_call = outer;
    ucall_unregister(uc);
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
