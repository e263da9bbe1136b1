/* Fault injection, request statistics and the /_control API of fake-upstream.
 *
 *   POST /_control/fault   {"service": "youtube"|"oembed"|"transcript"|"chat"|"*",
 *                           "mode": "ok"|"latency"|"status"|"ratelimit"|"reset"|"hang",
 *                           "latency_ms": 0..60000, "status": 200..599,
 *                           "retry_after": "2", "count": 0..1000000, "body": "..."}
 *       Sets the fault of one service ("*": the same fault on each service, each
 *       with its own count). latency_ms delays the request before the mode acts
 *       (required, > 0, for "latency"; allowed with every mode but "ok"). "status"
 *       answers status with a JSON error in the service's own shape, "ratelimit"
 *       answers 429; both send Retry-After (verbatim; default "1" for ratelimit,
 *       none for status; "" means none) and may replace the body with "body" (sent
 *       as application/json whatever it holds, to inject malformed answers).
 *       "reset" closes the connection with no response, by a TCP RST on Linux (a
 *       FIN elsewhere); libcurl repeats a request once when a REUSED connection
 *       dies before answering, so there a reset costs two requests (and two of
 *       count). "hang" holds the connection without answering until the client
 *       leaves, the server stops or 30 s pass, then closes it. count N applies
 *       the fault to the next N requests of the service, then reverts to "ok";
 *       0 or absent means until changed.
 *       Unknown keys, wrong types and out-of-range values -> 400 {"error": "FIELD:
 *       problem"}.
 *   GET  /_control/stats   {"requests":{"youtube":N,"oembed":N,"transcript":N,
 *                           "chat":N,"other":N},"faults_applied":N,
 *                           "last":{"service":S,"path":P,"authorization_present":B}
 *                           (null before the first request),
 *                           "faults":{"youtube":{"mode":M,"remaining":N},...}}
 *       Every request except /_control ones is counted once, when its headers
 *       arrive; "other" is /healthz and unknown paths. path shows bytes outside
 *       printable ASCII as '?'.
 *   POST /_control/reset   zeroes the statistics and the completion ids, clears
 *                           every fault.
 *
 * One mutex guards all of it: requests are few and the fixture values exact counts
 * over speed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* POLLRDHUP */
#endif
#include "fake.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

#define MAX_LATENCY_MS 60000
#define MAX_COUNT 1000000
#define PATH_KEEP 256

static struct {
    pthread_mutex_t lock;
    struct fake_fault faults[FAKE_FAULT_SERVICES];
    unsigned long requests[FAKE_SVC_COUNT];
    unsigned long faults_applied;
    unsigned long completions;
    bool have_last;
    enum fake_service last_svc;
    char last_path[PATH_KEEP];
    bool last_auth;
    int wake_fd;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1 };

static const char *const mode_names[] = {
    "ok", "latency", "status", "ratelimit", "reset", "hang"
};

const char *fake_service_name(enum fake_service svc)
{
    static const char *const names[FAKE_SVC_COUNT] = {
        "youtube", "oembed", "transcript", "chat", "other"
    };
    return (unsigned)svc < FAKE_SVC_COUNT ? names[svc] : "other";
}

void fake_state_init(int wake_fd)
{
    g.wake_fd = wake_fd;
}

void fake_fault_clear(struct fake_fault *f)
{
    free(f->body);
    memset(f, 0, sizeof *f);
}

static void reset_locked(void)
{
    for (int i = 0; i < FAKE_FAULT_SERVICES; i++)
        fake_fault_clear(&g.faults[i]);
    memset(g.requests, 0, sizeof g.requests);
    g.faults_applied = 0;
    g.completions = 0;
    g.have_last = false;
}

void fake_state_destroy(void)
{
    pthread_mutex_lock(&g.lock);
    reset_locked();
    pthread_mutex_unlock(&g.lock);
}

void fake_stats_note(enum fake_service svc, const char *path, bool auth_present)
{
    pthread_mutex_lock(&g.lock);
    g.requests[svc]++;
    g.have_last = true;
    g.last_svc = svc;
    fake_printable(path, g.last_path, sizeof g.last_path);
    g.last_auth = auth_present;
    pthread_mutex_unlock(&g.lock);
}

unsigned long fake_next_completion_id(void)
{
    unsigned long id;

    pthread_mutex_lock(&g.lock);
    id = ++g.completions;
    pthread_mutex_unlock(&g.lock);
    return id;
}

/* Copies the service's fault into out and uses up one of its count. Returns false
 * (out untouched) when the service is healthy. */
bool fake_fault_take(enum fake_service svc, struct fake_fault *out)
{
    struct fake_fault *f;

    if ((unsigned)svc >= FAKE_FAULT_SERVICES)
        return false;
    pthread_mutex_lock(&g.lock);
    f = &g.faults[svc];
    if (f->mode == FAKE_MODE_OK) {
        pthread_mutex_unlock(&g.lock);
        return false;
    }
    *out = *f;
    out->body = NULL;
    if (f->body != NULL) {
        out->body = malloc(f->body_len + 1);
        if (out->body != NULL) {
            memcpy(out->body, f->body, f->body_len + 1);
        } else {    /* a 500 is as close to the fault as memory allows */
            out->mode = FAKE_MODE_STATUS;
            out->status = 500;
            out->body_len = 0;
        }
    }
    g.faults_applied++;
    if (f->count > 0) {
        f->count--;
        if (f->count == 0)
            fake_fault_clear(f);
    }
    pthread_mutex_unlock(&g.lock);
    return true;
}

/* ---- applying a fault ------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until deadline (ms, monotonic) or an event on the connection fd (-1:
 * none). Returns 1 at the deadline, 0 on a connection event, -1 when the server
 * stops: the wake pipe is never drained, so every waiter sees it. */
static int wait_until(long long deadline, int fd)
{
    struct pollfd p[2] = { { .fd = g.wake_fd, .events = POLLIN },
                           { .fd = fd, .events = POLLRDHUP } };

    for (;;) {
        long long left = deadline - now_ms();
        int rc;

        if (left <= 0)
            return 1;
        /* Without POLLRDHUP a departed client is seen by peeking every 100 ms. */
        if (POLLRDHUP == 0 && left > 100)
            left = 100;
        rc = poll(p, fd >= 0 ? 2 : 1, (int)left);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc > 0 && p[0].revents != 0)
            return -1;
        if (rc > 0 && p[1].revents != 0)
            return 0;
        if (POLLRDHUP == 0 && fd >= 0) {
            char b;
            ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                return 0;
        }
    }
}

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

    return ci != NULL ? ci->connect_fd : -1;
}

/* Sends a TCP RST, as a crashed upstream would. MHD shuts the socket down for
 * writing (a FIN, the client's "empty reply") before closing it, so on Linux the
 * socket is disconnected first: connect() with AF_UNSPEC aborts a TCP connection
 * with a RST. Elsewhere the zero linger time still resets once MHD closes. */
static void reset_connection(struct MHD_Connection *c)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    struct sockaddr sa = { .sa_family = AF_UNSPEC };
    int fd = conn_fd(c);

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    connect(fd, &sa, sizeof sa);    /* failing elsewhere: the linger reset is left */
}

static json_t *fault_error_json(enum fake_service svc, unsigned status)
{
    const char *phrase = MHD_get_reason_phrase_for(status);
    char msg[128];

    snprintf(msg, sizeof msg, "injected fault: HTTP %u %s", status,
             phrase != NULL ? phrase : "");
    if (svc == FAKE_SVC_YOUTUBE)
        return fake_google_error(status, msg, status == 429 ? "rateLimitExceeded" :
                                 status >= 500 ? "backendError" : "badRequest", NULL);
    if (svc == FAKE_SVC_CHAT)
        return fake_openai_error(msg, status == 429 ? "requests" : status >= 500 ?
                                 "server_error" : "invalid_request_error", NULL,
                                 status == 429 ? "rate_limit_exceeded" : NULL);
    return json_pack("{s:s}", "error", msg);
}

static enum MHD_Result fault_reply(const struct fake_request *r, enum fake_service svc,
                                   const struct fake_fault *f, unsigned status)
{
    const char *ra = f->retry_after;
    json_t *j;
    char *text;
    enum MHD_Result ret;

    if (f->body != NULL)
        return fake_reply(r->conn, status, f->body, f->body_len, "application/json",
                          ra[0] != '\0' ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, ra);
    j = fault_error_json(svc, status);
    text = j != NULL ? json_dumps(j, FAKE_JSON_FLAGS) : NULL;
    json_decref(j);
    if (text == NULL)
        return fake_reply_text(r->conn, 500, "fake-upstream: out of memory\n");
    ret = fake_reply(r->conn, status, text, strlen(text), "application/json",
                     ra[0] != '\0' ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, ra);
    free(text);
    return ret;
}

/* Acts out f on r. *answered is false when the request must still be served
 * normally (after a latency); otherwise the return value is the handler's. */
enum MHD_Result fake_fault_apply(const struct fake_request *r, enum fake_service svc,
                                 const struct fake_fault *f, bool *answered)
{
    *answered = true;
    if (f->latency_ms > 0 && wait_until(now_ms() + f->latency_ms, -1) < 0)
        return MHD_NO;
    switch (f->mode) {
    case FAKE_MODE_STATUS:
        return fault_reply(r, svc, f, f->status);
    case FAKE_MODE_RATELIMIT:
        return fault_reply(r, svc, f, MHD_HTTP_TOO_MANY_REQUESTS);
    case FAKE_MODE_RESET:
        reset_connection(r->conn);
        return MHD_NO;
    case FAKE_MODE_HANG:
        wait_until(now_ms() + FAKE_HANG_MS, conn_fd(r->conn));
        return MHD_NO;
    case FAKE_MODE_OK:
    case FAKE_MODE_LATENCY:
        break;
    }
    *answered = false;
    return MHD_YES;
}

/* ---- POST /_control/fault ------------------------------------------------------ */

struct fault_req {
    int service;            /* index, or -1 for "*" */
    struct fake_fault f;
    bool has_latency, has_status;
};

static const char *const fault_keys[] = {
    "service", "mode", "latency_ms", "status", "retry_after", "count", "body"
};

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return i;
    }
    return -1;
}

/* Reads an optional integer field into *out. Returns 0, or -1 with err set. */
static int get_int(json_t *root, const char *key, long long lo, long long hi,
                   long long *out, bool *present, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);

    *present = v != NULL;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "%s: must be an integer from %lld to %lld", key, lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int parse_names(json_t *root, struct fault_req *q, char *err, size_t errlen)
{
    static const char *const services[] = { "youtube", "oembed", "transcript", "chat" };
    json_t *s = json_object_get(root, "service"), *m = json_object_get(root, "mode");
    const char *key;
    json_t *v;
    int mode;

    json_object_foreach(root, key, v) {
        if (lookup(key, fault_keys, (int)(sizeof fault_keys / sizeof *fault_keys)) < 0) {
            char name[64];

            fake_printable(key, name, sizeof name);
            snprintf(err, errlen, "%s: unknown field", name);
            return -1;
        }
    }
    q->service = -2;
    if (json_is_string(s) && strcmp(json_string_value(s), "*") == 0)
        q->service = -1;
    else if (json_is_string(s) && lookup(json_string_value(s), services, 4) >= 0)
        q->service = lookup(json_string_value(s), services, 4);
    if (q->service == -2) {
        snprintf(err, errlen, "service: must be youtube, oembed, transcript, chat or *");
        return -1;
    }
    mode = json_is_string(m) ? lookup(json_string_value(m), mode_names, 6) : -1;
    if (mode < 0) {
        snprintf(err, errlen,
                 "mode: must be ok, latency, status, ratelimit, reset or hang");
        return -1;
    }
    q->f.mode = (enum fake_mode)mode;
    return 0;
}

static int parse_numbers(json_t *root, struct fault_req *q, char *err, size_t errlen)
{
    long long latency = 0, status = 0, count = 0;
    bool has_count;

    if (get_int(root, "latency_ms", 0, MAX_LATENCY_MS, &latency, &q->has_latency,
                err, errlen) != 0 ||
        get_int(root, "status", 200, 599, &status, &q->has_status, err, errlen) != 0 ||
        get_int(root, "count", 0, MAX_COUNT, &count, &has_count, err, errlen) != 0)
        return -1;
    q->f.latency_ms = (unsigned)latency;
    q->f.status = (unsigned)status;
    q->f.count = (unsigned long)count;
    return 0;
}

/* Printable ASCII only: no CR/LF to split the header, no NUL to cut it short. */
static bool header_safe(json_t *str)
{
    const char *s = json_string_value(str);
    size_t n = json_string_length(str);

    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    }
    return true;
}

static int parse_strings(json_t *root, struct fault_req *q, char *err, size_t errlen)
{
    json_t *ra = json_object_get(root, "retry_after");
    json_t *body = json_object_get(root, "body");

    if (ra != NULL && (!json_is_string(ra) || json_string_length(ra) > FAKE_MAX_RETRY_AFTER
                       || !header_safe(ra))) {
        snprintf(err, errlen, "retry_after: must be a string of at most %d printable "
                 "ASCII characters", FAKE_MAX_RETRY_AFTER);
        return -1;
    }
    if (ra != NULL)
        snprintf(q->f.retry_after, sizeof q->f.retry_after, "%s", json_string_value(ra));
    else if (q->f.mode == FAKE_MODE_RATELIMIT)
        snprintf(q->f.retry_after, sizeof q->f.retry_after, "1");
    if (body != NULL && (!json_is_string(body) ||
                         json_string_length(body) > FAKE_MAX_FAULT_BODY)) {
        snprintf(err, errlen, "body: must be a string of at most %zu bytes",
                 FAKE_MAX_FAULT_BODY);
        return -1;
    }
    if (body == NULL)
        return 0;
    q->f.body_len = json_string_length(body);
    q->f.body = malloc(q->f.body_len + 1);
    if (q->f.body == NULL) {
        snprintf(err, errlen, "body: out of memory");
        return -1;
    }
    memcpy(q->f.body, json_string_value(body), q->f.body_len + 1);
    return 0;
}

/* Fields that only some modes use are refused elsewhere, so a typo'd mode is loud. */
static int check_combination(json_t *root, const struct fault_req *q, char *err,
                             size_t errlen)
{
    enum fake_mode m = q->f.mode;
    bool answers = m == FAKE_MODE_STATUS || m == FAKE_MODE_RATELIMIT;
    const char *bad = NULL;

    if (m == FAKE_MODE_LATENCY && q->f.latency_ms == 0)
        bad = "latency_ms: required (1 to 60000) for mode latency";
    else if (m == FAKE_MODE_STATUS && !q->has_status)
        bad = "status: required for mode status";
    else if (m != FAKE_MODE_STATUS && q->has_status)
        bad = "status: only valid with mode status";
    else if (m == FAKE_MODE_OK && (q->has_latency || json_object_get(root, "count")))
        bad = q->has_latency ? "latency_ms: not valid with mode ok"
                             : "count: not valid with mode ok";
    else if (!answers && json_object_get(root, "retry_after") != NULL)
        bad = "retry_after: only valid with mode status or ratelimit";
    else if (!answers && json_object_get(root, "body") != NULL)
        bad = "body: only valid with mode status or ratelimit";
    if (bad == NULL)
        return 0;
    snprintf(err, errlen, "%s", bad);
    return -1;
}

static int parse_fault(const struct fake_request *r, struct fault_req *q, char *err,
                       size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;

    memset(q, 0, sizeof *q);
    if (root == NULL || !json_is_object(root)) {
        snprintf(err, errlen, "body: must be a JSON object%s%s", root ? "" : ": ",
                 root ? "" : jerr.text);
        goto out_decref;
    }
    if (parse_names(root, q, err, errlen) != 0 ||
        parse_numbers(root, q, err, errlen) != 0 ||
        parse_strings(root, q, err, errlen) != 0 ||
        check_combination(root, q, err, errlen) != 0) {
        fake_fault_clear(&q->f);
        goto out_decref;
    }
    rc = 0;
out_decref:
    json_decref(root);
    return rc;
}

/* Installs q->f on one service or, for "*", a copy on each. Returns -1 when out of
 * memory (no service changed then). */
static int install_fault(struct fault_req *q)
{
    int first = q->service < 0 ? 0 : q->service;
    int last = q->service < 0 ? FAKE_FAULT_SERVICES - 1 : q->service;
    struct fake_fault copies[FAKE_FAULT_SERVICES];

    for (int i = first; i <= last; i++) {
        copies[i] = q->f;
        copies[i].body = NULL;
        if (q->f.body == NULL)
            continue;
        copies[i].body = malloc(q->f.body_len + 1);
        if (copies[i].body == NULL) {
            for (int k = first; k < i; k++)
                free(copies[k].body);
            return -1;
        }
        memcpy(copies[i].body, q->f.body, q->f.body_len + 1);
    }
    pthread_mutex_lock(&g.lock);
    for (int i = first; i <= last; i++) {
        fake_fault_clear(&g.faults[i]);
        g.faults[i] = copies[i];
    }
    pthread_mutex_unlock(&g.lock);
    return 0;
}

static enum MHD_Result control_fault(const struct fake_request *r)
{
    struct fault_req q;
    char err[200];
    int rc;
    enum fake_mode mode;

    if (parse_fault(r, &q, err, sizeof err) != 0)
        return fake_reply_json(r->conn, 400, json_pack("{s:s}", "error", err));
    rc = install_fault(&q);
    mode = q.f.mode;
    fake_fault_clear(&q.f);
    if (rc != 0)
        return fake_reply_json(r->conn, 500,
                               json_pack("{s:s}", "error", "out of memory"));
    return fake_reply_json(r->conn, 200, json_pack("{s:b, s:s, s:s}", "ok", 1,
                           "service", q.service < 0 ? "*" : fake_service_name(q.service),
                           "mode", mode_names[mode]));
}

/* ---- GET /_control/stats, POST /_control/reset ---------------------------------- */

struct stats_snapshot {
    unsigned long requests[FAKE_SVC_COUNT];
    unsigned long faults_applied;
    bool have_last;
    enum fake_service last_svc;
    char last_path[PATH_KEEP];
    bool last_auth;
    enum fake_mode modes[FAKE_FAULT_SERVICES];
    unsigned long remaining[FAKE_FAULT_SERVICES];
};

static void snapshot(struct stats_snapshot *s)
{
    pthread_mutex_lock(&g.lock);
    memcpy(s->requests, g.requests, sizeof s->requests);
    s->faults_applied = g.faults_applied;
    s->have_last = g.have_last;
    s->last_svc = g.last_svc;
    memcpy(s->last_path, g.last_path, sizeof s->last_path);
    s->last_auth = g.last_auth;
    for (int i = 0; i < FAKE_FAULT_SERVICES; i++) {
        s->modes[i] = g.faults[i].mode;
        s->remaining[i] = g.faults[i].count;
    }
    pthread_mutex_unlock(&g.lock);
}

static json_t *stats_json(const struct stats_snapshot *s)
{
    json_t *req = json_object(), *faults = json_object(), *last = json_null();

    for (int i = 0; i < FAKE_SVC_COUNT; i++)
        json_object_set_new(req, fake_service_name(i),
                            json_integer((json_int_t)s->requests[i]));
    for (int i = 0; i < FAKE_FAULT_SERVICES; i++)
        json_object_set_new(faults, fake_service_name(i),
                            json_pack("{s:s, s:I}", "mode", mode_names[s->modes[i]],
                                      "remaining", (json_int_t)s->remaining[i]));
    if (s->have_last)
        last = json_pack("{s:s, s:s, s:b}", "service", fake_service_name(s->last_svc),
                         "path", s->last_path, "authorization_present", s->last_auth);
    if (req == NULL || json_object_size(req) != FAKE_SVC_COUNT || faults == NULL ||
        json_object_size(faults) != FAKE_FAULT_SERVICES) {
        json_decref(req);
        json_decref(faults);
        json_decref(last);
        return NULL;
    }
    return json_pack("{s:o, s:I, s:o, s:o}", "requests", req,
                     "faults_applied", (json_int_t)s->faults_applied,
                     "last", last, "faults", faults);
}

static enum MHD_Result control_stats(const struct fake_request *r)
{
    struct stats_snapshot s;

    snapshot(&s);
    return fake_reply_json(r->conn, 200, stats_json(&s));
}

static enum MHD_Result control_reset(const struct fake_request *r)
{
    pthread_mutex_lock(&g.lock);
    reset_locked();
    pthread_mutex_unlock(&g.lock);
    return fake_reply_json(r->conn, 200, json_pack("{s:b}", "ok", 1));
}

enum MHD_Result fake_control_dispatch(const struct fake_request *r)
{
    static const struct {
        const char *path, *method;
        enum MHD_Result (*fn)(const struct fake_request *r);
    } routes[] = {
        { "/_control/fault", "POST", control_fault },
        { "/_control/stats", "GET", control_stats },
        { "/_control/reset", "POST", control_reset },
    };

    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(r->url, routes[i].path) != 0)
            continue;
        if (strcmp(r->method, routes[i].method) != 0)
            return fake_reply_method(r->conn, routes[i].method);
        return routes[i].fn(r);
    }
    return fake_reply_text(r->conn, 404, "Not Found");
}
