/* The libcurl side of the upstream client (see upstream.h, upstream_int.h);
 * upstream.c runs it through a libresil service.
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
 * logs or reports them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "upstream_int.h"

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

void upstream__ucall_register(struct ucall *uc)
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

void upstream__ucall_unregister(struct ucall *uc)
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

int upstream__ucall_cancelled(const struct ucall *uc)
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
int upstream__slot_take(struct ucall *uc, const struct timespec *until, struct slot **out)
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

void upstream__slot_give(struct ucall *uc, struct slot *s)
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
void upstream__ascii_only(char *s)
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
    upstream__ascii_only(out);
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
        if (upstream__ucall_cancelled(uc))
            return CURLE_ABORTED_BY_CALLBACK;
        if (curl_multi_poll(m, NULL, 0, UP_POLL_MS, NULL) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        if (upstream__ucall_cancelled(uc))
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

void upstream__set_detail(struct ucall *uc, const char *fmt, ...)
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
        upstream__set_detail(uc, "no complete answer within %ld ms", timeout_ms);
        return UPSTREAM_TIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        upstream__set_detail(uc, "the request was cancelled");
        return UPSTREAM_CANCELLED;
    case CURLE_FILESIZE_EXCEEDED:
        upstream__set_detail(uc, "the answer is larger than the limit of %zu bytes", b->max);
        return UPSTREAM_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        if (b->too_large) {
            upstream__set_detail(uc, "the answer is larger than the limit of %zu bytes", b->max);
            return UPSTREAM_TOO_LARGE;
        }
        break;
    default:
        break;
    }
    if (os_errno != 0)
        upstream__set_detail(uc, "transport error: %s (%s)", curl_easy_strerror(cc),
                   strerror((int)os_errno));
    else
        upstream__set_detail(uc, "transport error: %s", curl_easy_strerror(cc));
    return UPSTREAM_TRANSPORT;
}

/* Run the request on slot s.  The response goes to b; returns the outcome
 * before looking at the HTTP status (UPSTREAM_OK: a response came). */
enum upstream_rc upstream__transfer(struct ucall *uc, struct slot *s, struct abuf *b,
                                    long timeout_ms)
{
    struct curl_slist *hdrs = build_headers(uc->req);
    enum upstream_rc rc = UPSTREAM_TRANSPORT;
    long os_errno = 0;
    if (hdrs == NULL) {
        upstream__set_detail(uc, "out of memory");
        return rc;
    }
    if (set_options(s->easy, uc, b, hdrs, timeout_ms) != CURLE_OK) {
        upstream__set_detail(uc, "libcurl refused an option (is http/https supported?)");
        goto out_headers;
    }
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
        upstream__set_detail(uc, "libcurl could not start the transfer");
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


/* ---- Retry-After --------------------------------------------------------------------- */

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
