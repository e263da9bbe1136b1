/* A real HTTP receiver for tests; see http_receiver.h.
 *
 * libmicrohttpd runs one thread per connection, so a delayed or held answer
 * blocks only its own connection.  Those waits are on the receiver's
 * condition variable and end when hr_stop() sets `stopping`, so
 * MHD_stop_daemon() (which joins the connection threads) never waits for
 * them. */
#include "http_receiver.h"

#if HR_AVAILABLE

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct hr_answer {
    int status;
    char retry_after[64]; /* "" for none */
};

struct hr_receiver {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a request recorded, a release, or stopping */
    bool stopping;
    bool held;
    unsigned delay_ms;
    struct hr_answer dflt;
    struct hr_answer script[HR_MAX_SCRIPT];
    size_t script_head, script_len;
    hr_request reqs[HR_MAX_REQUESTS];
    size_t count;    /* requests recorded (and beyond HR_MAX_REQUESTS) */
    size_t answered;
};

/* One request in progress: filled on the first call of the handler, the
 * body appended on the next ones. */
struct hr_pending {
    hr_request q;
    size_t cap;
};

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static struct timespec mono_after_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void set_answer(struct hr_answer *a, int status, const char *retry_after)
{
    a->status = status;
    copy_str(a->retry_after, sizeof a->retry_after, retry_after);
}

/* ---- the handler --------------------------------------------------------- */

static struct hr_pending *pending_new(struct MHD_Connection *c, const char *url,
                                      const char *method)
{
    struct hr_pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    copy_str(p->q.method, sizeof p->q.method, method);
    copy_str(p->q.path, sizeof p->q.path, url);
    copy_str(p->q.content_type, sizeof p->q.content_type,
             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
    copy_str(p->q.authorization, sizeof p->q.authorization,
             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
    return p;
}

static void pending_append(struct hr_pending *p, const char *data, size_t n)
{
    if (p->q.body_len + n > HR_MAX_BODY) {
        p->q.truncated = true;
        n = HR_MAX_BODY - p->q.body_len;
    }
    if (p->q.body_len + n + 1 > p->cap) {
        size_t cap = (p->q.body_len + n + 1) * 2;
        char *b = realloc(p->q.body, cap);
        if (!b) {
            p->q.truncated = true;
            return;
        }
        p->q.body = b;
        p->cap = cap;
    }
    memcpy(p->q.body + p->q.body_len, data, n);
    p->q.body_len += n;
    p->q.body[p->q.body_len] = '\0';
}

/* Under mu: move the request into the list (the list owns the body). */
static void record(hr_receiver *r, struct hr_pending *p)
{
    if (r->count < HR_MAX_REQUESTS) {
        r->reqs[r->count] = p->q;
        p->q.body = NULL;
    }
    r->count++;
    pthread_cond_broadcast(&r->cv);
}

/* Under mu: the next scripted answer, else the default. */
static struct hr_answer next_answer(hr_receiver *r)
{
    if (r->script_len == 0)
        return r->dflt;
    struct hr_answer a = r->script[r->script_head];
    r->script_head = (r->script_head + 1) % HR_MAX_SCRIPT;
    r->script_len--;
    return a;
}

/* Under mu: the delay, then the hold; both end when the receiver stops. */
static void wait_to_answer(hr_receiver *r)
{
    if (r->delay_ms > 0) {
        struct timespec until = mono_after_ms(r->delay_ms);
        while (!r->stopping) {
            if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
                break;
        }
    }
    while (r->held && !r->stopping)
        pthread_cond_wait(&r->cv, &r->mu);
}

static enum MHD_Result answer(struct MHD_Connection *c, const struct hr_answer *a)
{
    static const char body[] = "ok\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (a->retry_after[0] != '\0')
        MHD_add_response_header(resp, "Retry-After", a->retry_after);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result finish(hr_receiver *r, struct MHD_Connection *c,
                              struct hr_pending *p)
{
    pthread_mutex_lock(&r->mu);
    record(r, p);
    struct hr_answer a = next_answer(r);
    wait_to_answer(r);
    pthread_mutex_unlock(&r->mu);
    enum MHD_Result rc = a.status == HR_CLOSE ? MHD_NO : answer(c, &a);
    pthread_mutex_lock(&r->mu);
    r->answered++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    hr_receiver *r = cls;
    struct hr_pending *p = *con_cls;
    if (!p) {
        p = pending_new(c, url, method);
        *con_cls = p;
        return p ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        pending_append(p, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(r, c, p);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct hr_pending *p = *con_cls;
    if (!p)
        return;
    free(p->q.body);
    free(p);
    *con_cls = NULL;
}

/* ---- life ---------------------------------------------------------------- */

static int sync_init(hr_receiver *r)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&r->cv, &a);
    pthread_condattr_destroy(&a);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_cond_destroy(&r->cv);
        return -1;
    }
    return 0;
}

hr_receiver *hr_start(void)
{
    hr_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    set_answer(&r->dflt, 200, NULL);
    if (sync_init(r) != 0)
        goto out_free;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            0, NULL, NULL, on_request, r, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!r->d)
        goto out_sync;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0)
        goto out_daemon;
    r->port = info->port;
    return r;

out_daemon:
    MHD_stop_daemon(r->d);
out_sync:
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
out_free:
    free(r);
    return NULL;
}

void hr_stop(hr_receiver *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    MHD_stop_daemon(r->d);
    size_t kept = r->count < HR_MAX_REQUESTS ? r->count : HR_MAX_REQUESTS;
    for (size_t i = 0; i < kept; i++)
        free(r->reqs[i].body);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

uint16_t hr_port(const hr_receiver *r)
{
    return r->port; /* set before any thread could read it */
}

void hr_url(const hr_receiver *r, const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "http://127.0.0.1:%u%s", (unsigned)r->port, path ? path : "/");
}

/* ---- scripting ------------------------------------------------------------ */

void hr_set_default(hr_receiver *r, int status, const char *retry_after)
{
    pthread_mutex_lock(&r->mu);
    set_answer(&r->dflt, status, retry_after);
    pthread_mutex_unlock(&r->mu);
}

bool hr_push(hr_receiver *r, int status, const char *retry_after)
{
    pthread_mutex_lock(&r->mu);
    bool ok = r->script_len < HR_MAX_SCRIPT;
    if (ok) {
        size_t at = (r->script_head + r->script_len) % HR_MAX_SCRIPT;
        set_answer(&r->script[at], status, retry_after);
        r->script_len++;
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void hr_set_delay_ms(hr_receiver *r, unsigned ms)
{
    pthread_mutex_lock(&r->mu);
    r->delay_ms = ms;
    pthread_mutex_unlock(&r->mu);
}

void hr_hold(hr_receiver *r)
{
    pthread_mutex_lock(&r->mu);
    r->held = true;
    pthread_mutex_unlock(&r->mu);
}

void hr_release(hr_receiver *r)
{
    pthread_mutex_lock(&r->mu);
    r->held = false;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- reading -------------------------------------------------------------- */

size_t hr_count(hr_receiver *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t hr_answered(hr_receiver *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->answered;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static bool wait_for(hr_receiver *r, const size_t *counter, size_t n, unsigned timeout_ms)
{
    struct timespec until = mono_after_ms(timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (*counter < n) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
            break;
    }
    bool ok = *counter >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

bool hr_wait(hr_receiver *r, size_t n, unsigned timeout_ms)
{
    return wait_for(r, &r->count, n, timeout_ms);
}

bool hr_wait_answered(hr_receiver *r, size_t n, unsigned timeout_ms)
{
    return wait_for(r, &r->answered, n, timeout_ms);
}

bool hr_get(hr_receiver *r, size_t i, hr_request *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    bool ok = i < r->count && i < HR_MAX_REQUESTS;
    if (ok) {
        *out = r->reqs[i];
        out->body = NULL;
        if (r->reqs[i].body) {
            out->body = malloc(r->reqs[i].body_len + 1);
            if (out->body)
                memcpy(out->body, r->reqs[i].body, r->reqs[i].body_len + 1);
            else
                ok = false;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void hr_request_clear(hr_request *q)
{
    free(q->body);
    q->body = NULL;
    q->body_len = 0;
}

#else /* !HR_AVAILABLE */

typedef int hr_no_microhttpd; /* ISO C wants a non-empty file */

#endif
