/* What a running request can do: progress, log messages, requests to the
 * client, cancellation; and the session's in-flight table that
 * notifications/cancelled and the client's responses are routed through.
 *
 * The table (struct mcp_proto in sess->proto) lists the calls running on
 * the session and the requests we sent to the client; both live on the
 * stacks of the threads serving them and are linked in and out under
 * sess->mu.  A canceller finds the call under sess->mu, sets its flag and
 * takes its hook under the call's hook_mu (marking it running), drops the
 * locks and runs the hook; the call's owner, before its frame goes away,
 * unlinks it and waits until no hook is running, so the canceller never
 * touches a dead call. */
#include "mcp/protocol_int.h"

#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_SLICE_NS 10000000LL /* re-read an injected clock this often */

unsigned mcp__caps_bits(json_t *caps)
{
    unsigned bits = 0;
    if (json_is_object(json_object_get(caps, "sampling")))
        bits |= SESSION_CAP_SAMPLING;
    if (json_is_object(json_object_get(caps, "elicitation")))
        bits |= SESSION_CAP_ELICITATION;
    if (json_is_object(json_object_get(caps, "roots")))
        bits |= SESSION_CAP_ROOTS;
    return bits;
}

static void proto_free(void *p)
{
    struct mcp_proto *pr = p;
    if (!pr)
        return;
    for (size_t i = 0; i < pr->nsubs; i++)
        free(pr->subs[i]);
    free(pr->subs);
    free(pr);
}

struct mcp_proto *mcp__proto(struct session *sess)
{
    if (!sess->proto) {
        sess->proto = calloc(1, sizeof(struct mcp_proto));
        if (sess->proto)
            sess->proto_free = proto_free;
    }
    return sess->proto;
}

/* ---- call lifetime ---------------------------------------------------------- */

int mcp__call_init(struct mcp_call *c, struct mcp_server *s, struct session *sess,
                   const struct jsonrpc_msg *m, struct mcp_sink *sink, enum mcp_era era)
{
    memset(c, 0, sizeof *c);
    c->srv = s;
    c->sess = sess;
    c->sink = sink;
    c->id = m->id;
    c->method = m->method;
    c->era = era;
    atomic_init(&c->cancelled, 0);
    json_t *meta = m->params ? json_object_get(m->params, "_meta") : NULL;
    json_t *tok = json_object_get(meta, "progressToken");
    if (json_is_string(tok) || json_is_integer(tok))
        c->progress_token = tok;
    if (era == MCP_ERA_STATELESS) {
        /* Every 2026-07-28 request carries its own capabilities. */
        snprintf(c->version, sizeof c->version, "%s", MCP_STATELESS_VERSION);
        c->client_caps = mcp__caps_bits(json_object_get(meta, MCP_META_CAPS));
        c->log_level = MCP_LOG_INFO;
    } else {
        pthread_mutex_lock(&sess->mu);
        memcpy(c->version, sess->st.protocol_version, sizeof c->version);
        c->client_caps = sess->st.client_caps;
        pthread_mutex_unlock(&sess->mu);
        c->version[sizeof c->version - 1] = '\0';
    }
    if (pthread_mutex_init(&c->hook_mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&c->hook_cv, NULL) != 0) {
        pthread_mutex_destroy(&c->hook_mu);
        return -1;
    }
    return 0;
}

int mcp__call_register(struct mcp_call *c)
{
    pthread_mutex_lock(&c->sess->mu);
    struct mcp_proto *p = mcp__proto(c->sess);
    if (p) {
        c->next = p->calls;
        p->calls = c;
        c->registered = 1;
    }
    pthread_mutex_unlock(&c->sess->mu);
    return p ? 0 : -1;
}

void mcp__call_finish(struct mcp_call *c)
{
    if (c->registered) {
        pthread_mutex_lock(&c->sess->mu);
        struct mcp_proto *p = c->sess->proto;
        for (struct mcp_call **pp = &p->calls; *pp; pp = &(*pp)->next) {
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        }
        c->registered = 0;
        pthread_mutex_unlock(&c->sess->mu);
    }
    mcp_call_on_cancel(c, NULL, NULL); /* waits out a canceller running the hook */
}

/* ---- cancellation ----------------------------------------------------------- */

struct hook_run {
    struct mcp_call *c;
    void (*fn)(void *);
    void *arg;
};

/* Mark c cancelled (caller holds sess->mu) and take its hook to run once
 * the locks are dropped.  0 when it already was cancelled. */
static int cancel_locked(struct mcp_call *c, struct hook_run *h)
{
    h->c = c;
    h->fn = NULL;
    pthread_mutex_lock(&c->hook_mu);
    if (atomic_load_explicit(&c->cancelled, memory_order_relaxed)) {
        pthread_mutex_unlock(&c->hook_mu); /* relaxed: read under the lock that writes it */
        return 0;
    }
    /* release: pairs with mcp_call_cancelled()'s acquire. */
    atomic_store_explicit(&c->cancelled, 1, memory_order_release);
    h->fn = c->hook;
    h->arg = c->hook_arg;
    c->hook = NULL; /* a hook runs once */
    if (h->fn)
        c->hook_running = 1;
    pthread_mutex_unlock(&c->hook_mu);
    if (c->pending)
        pthread_cond_broadcast(&c->pending->cv); /* wake mcp_call_request */
    return 1;
}

static void run_hook(struct hook_run *h)
{
    if (!h->fn)
        return;
    h->fn(h->arg);
    pthread_mutex_lock(&h->c->hook_mu);
    h->c->hook_running = 0;
    pthread_cond_broadcast(&h->c->hook_cv);
    pthread_mutex_unlock(&h->c->hook_mu);
}

void mcp__cancel_request(struct session *sess, json_t *request_id)
{
    struct hook_run h = {0};
    int found = 0;
    pthread_mutex_lock(&sess->mu);
    struct mcp_proto *p = sess->proto;
    for (struct mcp_call *c = p ? p->calls : NULL; c; c = c->next) {
        if (jsonrpc_id_equal(c->id, request_id) && cancel_locked(c, &h)) {
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&sess->mu);
    if (!found) {
        /* The specification lets a cancellation race the response: not an error. */
        log_event(LOG_DEBUG, "mcp.cancel.unknown", "request_id", json_deep_copy(request_id),
                  NULL);
        return;
    }
    log_event(LOG_INFO, "mcp.cancel", "request_id", json_deep_copy(request_id), NULL);
    run_hook(&h);
}

size_t mcp_cancel_all(struct mcp_server *s, struct session *sess)
{
    size_t n = 0;
    (void)s;
    if (!sess)
        return 0;
    for (;;) {
        /* One call per pass: its hook must run without sess->mu held. */
        struct hook_run h = {0};
        int found = 0;
        pthread_mutex_lock(&sess->mu);
        struct mcp_proto *p = sess->proto;
        for (struct mcp_call *c = p ? p->calls : NULL; c && !found; c = c->next)
            found = cancel_locked(c, &h);
        pthread_mutex_unlock(&sess->mu);
        if (!found)
            return n;
        run_hook(&h);
        n++;
    }
}

int mcp_call_cancelled(const struct mcp_call *c)
{
    /* acquire: whatever the canceller wrote before is visible to the tool. */
    return c && atomic_load_explicit(&c->cancelled, memory_order_acquire);
}

void mcp_call_on_cancel(struct mcp_call *c, void (*fn)(void *arg), void *arg)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->hook_mu);
    while (c->hook_running)
        pthread_cond_wait(&c->hook_cv, &c->hook_mu);
    if (fn && atomic_load_explicit(&c->cancelled, memory_order_relaxed)) {
        /* Already cancelled: run it now, in this thread (relaxed: hook_mu
         * orders it against the store). */
        c->hook = NULL;
        pthread_mutex_unlock(&c->hook_mu);
        fn(arg);
        return;
    }
    c->hook = fn;
    c->hook_arg = fn ? arg : NULL;
    pthread_mutex_unlock(&c->hook_mu);
}

/* ---- accessors -------------------------------------------------------------- */

struct session *mcp_call_session(struct mcp_call *c)
{
    return c ? c->sess : NULL;
}

const char *mcp_call_version(struct mcp_call *c)
{
    return c ? c->version : NULL;
}

struct mcp_server *mcp_call_server(struct mcp_call *c)
{
    return c ? c->srv : NULL;
}

/* ---- messages to the client ------------------------------------------------------ */

static int call_send(struct mcp_call *c, json_t *msg)
{
    if (!msg)
        return -1;
    if (!c->sink || !c->sink->send) {
        json_decref(msg);
        return -1;
    }
    return c->sink->send(c->sink, msg) == 0 ? 0 : -1;
}

int mcp_call_progress(struct mcp_call *c, double progress, double total, const char *message)
{
    if (!c || !isfinite(progress))
        return -1;
    if (!c->progress_token)
        return 0;
    if (c->sent_progress && !(progress > c->last_progress))
        return -1; /* the specification requires progress to increase */
    c->sent_progress = 1;
    c->last_progress = progress;
    if (mcp_call_cancelled(c))
        return 0; /* nothing more goes out for a cancelled request */
    /* A copy of the token: a tool may report from a helper thread while the
     * request's thread owns the message. */
    json_t *p = json_pack("{s:o,s:f}", "progressToken", json_deep_copy(c->progress_token),
                          "progress", progress);
    if (!p)
        return -1;
    if (total > 0 && isfinite(total))
        json_object_set_new(p, "total", json_real(total));
    mcp__set_str(p, "message", message);
    return call_send(c, jsonrpc_notification("notifications/progress", p));
}

static int session_log_level(struct mcp_call *c)
{
    if (c->era == MCP_ERA_STATELESS)
        return c->log_level;
    pthread_mutex_lock(&c->sess->mu);
    int l = c->sess->st.log_level; /* live: logging/setLevel may come mid-call */
    pthread_mutex_unlock(&c->sess->mu);
    return l;
}

int mcp_call_log(struct mcp_call *c, enum mcp_log_level level, const char *logger, json_t *data)
{
    const char *name = mcp_log_level_name(level);
    if (!c || !data || !name) {
        json_decref(data);
        return -1;
    }
    if ((int)level < session_log_level(c) || mcp_call_cancelled(c)) {
        json_decref(data);
        return 0;
    }
    json_t *p = json_pack("{s:s,s:o}", "level", name, "data", data);
    if (!p)
        return -1;
    mcp__set_str(p, "logger", logger);
    return call_send(c, jsonrpc_notification("notifications/message", p));
}

int mcp_call_close_stream(struct mcp_call *c)
{
    if (!c || !c->sink || !c->sink->close)
        return -1;
    c->sink->close(c->sink);
    return 0;
}

/* ---- requests to the client ----------------------------------------------------- */

static unsigned needed_cap(const char *method)
{
    if (strcmp(method, "sampling/createMessage") == 0)
        return SESSION_CAP_SAMPLING;
    if (strcmp(method, "elicitation/create") == 0)
        return SESSION_CAP_ELICITATION;
    if (strcmp(method, "roots/list") == 0)
        return SESSION_CAP_ROOTS;
    return 0;
}

void mcp__route_response(struct session *sess, const struct jsonrpc_msg *m)
{
    const char *id = json_string_value(m->id);
    int found = 0;
    pthread_mutex_lock(&sess->mu);
    struct mcp_proto *p = sess->proto;
    for (struct mcp_pending *q = p && id ? p->pending : NULL; q; q = q->next) {
        if (strcmp(q->id, id) != 0 || q->done)
            continue;
        /* A copy: the message is freed by the transport's thread. */
        if (m->kind == JSONRPC_RESPONSE)
            q->result = json_deep_copy(m->result);
        else
            q->error = json_deep_copy(m->error);
        q->done = 1;
        pthread_cond_broadcast(&q->cv);
        found = 1;
        break;
    }
    pthread_mutex_unlock(&sess->mu);
    if (!found)
        log_event(LOG_DEBUG, "mcp.response.unknown_id", "id", json_deep_copy(m->id), NULL);
}

static int uses_real_clock(const struct mcp_server *s)
{
    return !s->opts.clock || s->opts.clock == resil_clock_monotonic();
}

static struct timespec mono_after(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(t / 1000000000LL);
    ts.tv_nsec = (long)(t % 1000000000LL);
    return ts;
}

/* Wait (sess->mu held) for the answer, cancellation or the deadline on the
 * server's clock.  An injected clock (tests) is re-read every slice, since
 * the condition variable only knows CLOCK_MONOTONIC. */
static int wait_answer(struct mcp_call *c, struct mcp_pending *p, int64_t deadline)
{
    const struct mcp_server *s = c->srv;
    while (!p->done) {
        if (mcp_call_cancelled(c))
            return -4;
        int64_t left = deadline - resil_clock_now(s->opts.clock);
        if (left <= 0)
            return -3;
        if (!uses_real_clock(s) && left > WAIT_SLICE_NS)
            left = WAIT_SLICE_NS;
        struct timespec ts = mono_after(left);
        pthread_cond_timedwait(&p->cv, &c->sess->mu, &ts);
    }
    return 0;
}

static int pending_init(struct mcp_call *c, struct mcp_pending *p)
{
    pthread_condattr_t ca;
    memset(p, 0, sizeof *p);
    p->call = c;
    /* relaxed: the counter only has to hand out distinct numbers. */
    unsigned long long n = atomic_fetch_add_explicit(&c->srv->next_request, 1,
                                                     memory_order_relaxed);
    snprintf(p->id, sizeof p->id, "srv-%llu", n);
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc == 0 ? 0 : -1;
}

static void pending_unlink(struct mcp_call *c, struct mcp_pending *p)
{
    struct mcp_proto *pr = c->sess->proto;
    for (struct mcp_pending **pp = &pr->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    c->pending = NULL;
}

/* Tell the client we no longer wait (best effort: the stream may be gone). */
static void cancel_ours(struct mcp_call *c, const char *id, const char *why)
{
    json_t *p = json_pack("{s:s,s:s}", "requestId", id, "reason", why);
    if (p)
        call_send(c, jsonrpc_notification("notifications/cancelled", p));
}

static int exchange(struct mcp_call *c, struct mcp_pending *p, json_t *msg)
{
    struct session *sess = c->sess;
    /* The deadline counts from before the send: the answer may be on its
     * way before this thread waits. */
    const struct mcp_server_opts *o = &c->srv->opts;
    int64_t deadline = resil_clock_now(o->clock) + o->client_request_timeout_ns;
    pthread_mutex_lock(&sess->mu);
    struct mcp_proto *pr = mcp__proto(sess);
    if (!pr) {
        pthread_mutex_unlock(&sess->mu);
        json_decref(msg);
        return -1;
    }
    /* Linked before sending, so an answer that comes at once finds it. */
    p->next = pr->pending;
    pr->pending = p;
    c->pending = p;
    pthread_mutex_unlock(&sess->mu);
    int rc = call_send(c, msg) == 0 ? 0 : -5;
    pthread_mutex_lock(&sess->mu);
    if (rc == 0)
        rc = wait_answer(c, p, deadline);
    pending_unlink(c, p);
    pthread_mutex_unlock(&sess->mu);
    if (rc == -3 || rc == -4)
        cancel_ours(c, p->id, rc == -3 ? "timed out" : "the request was cancelled");
    return rc;
}

int mcp_call_request(struct mcp_call *c, const char *method, json_t *params, json_t **result,
                     json_t **error)
{
    struct mcp_pending p;
    if (result)
        *result = NULL;
    if (error)
        *error = NULL;
    if (!c || !method || !result) {
        json_decref(params);
        return -1;
    }
    unsigned need = needed_cap(method);
    /* 2026-07-28 has no server-to-client requests (they became multi
     * round-trip results, not implemented here). */
    if (c->era == MCP_ERA_STATELESS || (need && !(c->client_caps & need))) {
        json_decref(params);
        return -2;
    }
    if (mcp_call_cancelled(c)) {
        json_decref(params);
        return -4;
    }
    if (pending_init(c, &p) != 0) {
        json_decref(params);
        return -1;
    }
    json_t *id = json_string(p.id);
    json_t *msg = NULL;
    if (id)
        msg = jsonrpc_request(id, method, params); /* steals params */
    else
        json_decref(params);
    json_decref(id);
    int rc = msg ? exchange(c, &p, msg) : -1;
    pthread_cond_destroy(&p.cv);
    if (rc == 0 && p.result) {
        *result = p.result;
        return 0;
    }
    if (error)
        *error = p.error;
    else
        json_decref(p.error);
    json_decref(p.result);
    return rc == 0 ? -1 : rc;
}
