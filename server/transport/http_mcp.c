/* The /mcp endpoint of the Streamable HTTP transport (MCP 2025-11-25,
 * basic/transports): POST carries one JSON-RPC message, GET opens (or
 * resumes) an SSE stream, DELETE ends the session.
 *
 * A request that needs a live stream (mcp_request_streams: a tools/call
 * with a progressToken or of an interactive tool) runs on the worker pool
 * and is answered with an SSE stream as it goes; every other message runs
 * inline in its connection's thread (libmicrohttpd gives each connection
 * one), which spares a call two thread hand-offs.  An inline request is
 * answered with JSON, or, when it sent notifications (logs), with one SSE
 * body holding them and then the response; notifications and responses
 * get 202.  Inline calls stay in the in-flight table, so the session's
 * limit and cancellation from another connection hold for them too. */
#include "transport/http_int.h"

#include "log.h"
#include "mcp/jsonrpc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HDR_SESSION "Mcp-Session-Id"
#define HDR_VERSION "MCP-Protocol-Version"
#define MCP_SERVER_BUSY (-32000) /* implementation-defined server error */

/* A tools/call running on the pool, answering on an SSE stream. */
struct call_job {
    struct http_server *h;
    struct session *s; /* the job's reference */
    struct sse_sess *ss;
    struct sse_stream *st;
    struct jsonrpc_msg msg;
    struct mcp_sink sink;
    int throwaway; /* 2026-07-28: the session ends with the call */
};

/* ---- header checks -------------------------------------------------------- */

static void versions_list(char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; mcp_versions[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", mcp_versions[i]);
}

static void fail(struct http_req *q, int status, const char *msg)
{
    if (q->err_status)
        return;
    q->err_status = status;
    q->err_code = JSONRPC_INVALID_REQUEST;
    snprintf(q->err_msg, sizeof q->err_msg, "%s", msg);
}

static int is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ';
}

void mcp_check_headers(struct http_server *h, struct MHD_Connection *c, const char *method,
                       struct http_req *q)
{
    char buf[320], list[160];
    (void)h;
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (!post && !get && strcmp(method, "DELETE") != 0) {
        snprintf(buf, sizeof buf, "method %.16s not allowed on /mcp (POST, GET or DELETE)",
                 method);
        fail(q, 405, buf);
        return;
    }
    const char *v = http_header(c, HDR_VERSION);
    if (v && !mcp_version_supported(v, strlen(v))) {
        versions_list(list, sizeof list);
        snprintf(buf, sizeof buf, "unsupported MCP-Protocol-Version '%.32s' (supported: %s)", v,
                 list);
        fail(q, 400, buf);
        return;
    }
    const char *accept = http_header(c, MHD_HTTP_HEADER_ACCEPT);
    if (post && !(http_accepts(accept, "application/json") &&
                  http_accepts(accept, "text/event-stream")))
        fail(q, 406, "Accept must list both application/json and text/event-stream");
    else if (post && !is_json_type(http_header(c, MHD_HTTP_HEADER_CONTENT_TYPE)))
        fail(q, 415, "Content-Type must be application/json");
    else if (get && !http_accepts(accept, "text/event-stream"))
        fail(q, 406, "GET /mcp opens an SSE stream: Accept must include text/event-stream");
}

/* ---- sessions ----------------------------------------------------------------- */

/* The request's session (a reference), or an answer queued and NULL. */
static struct session *lookup(struct http_server *h, struct MHD_Connection *c, json_t *id,
                              enum MHD_Result *rc)
{
    const char *sid = http_header(c, HDR_SESSION);
    struct session *s = NULL;
    if (!sid) {
        *rc = http_reply_error(h, c, ROUTE_MCP, 400, id, JSONRPC_INVALID_REQUEST,
                               "missing Mcp-Session-Id: send initialize first");
        return NULL;
    }
    enum session_lookup r = session_get(h->a->sessions, sid, strlen(sid), &s);
    if (r == SESSION_FOUND)
        return s;
    *rc = http_reply_error(h, c, ROUTE_MCP, 404, id, JSONRPC_INVALID_REQUEST, "%s",
                           r == SESSION_ENDED ? "session ended: initialize a new one"
                                              : "unknown session: initialize a new one");
    return NULL;
}

/* A new session with transport state; or an answer queued and NULL. */
static struct session *create(struct http_server *h, struct MHD_Connection *c, json_t *id,
                              enum MHD_Result *rc)
{
    struct session *s = NULL;
    int r = session_create(h->a->sessions, &s);
    if (r == -1) {
        size_t max = h->a->cfg.max_sessions ? h->a->cfg.max_sessions : 1000;
        *rc = http_reply_error(h, c, ROUTE_MCP, 503, id, MCP_SERVER_BUSY,
                               "too many sessions (limit %zu): end one with DELETE or wait "
                               "for idle ones to expire",
                               max);
        return NULL;
    }
    if (r == 0 && sse_sess_attach(h, s) == 0)
        return s;
    if (s) {
        session_end(h->a->sessions, s->id, SESSION_ID_LEN);
        session_put(h->a->sessions, s);
    }
    *rc = http_reply_error(h, c, ROUTE_MCP, 500, id, JSONRPC_INTERNAL_ERROR,
                           "cannot create a session (out of memory or no randomness)");
    return NULL;
}

static void drop_session(struct http_server *h, struct session *s, int end)
{
    if (end)
        session_end(h->a->sessions, s->id, SESSION_ID_LEN);
    session_put(h->a->sessions, s);
}

/* ---- sinks ---------------------------------------------------------------------- */

/* initialize answers with JSON: nothing can travel before the answer. */
static int null_send(struct mcp_sink *k, json_t *msg)
{
    (void)k;
    json_decref(msg);
    return -1;
}

/* What an inline request sends before its response, kept for the body.
 * Bounded: a call that logs more than this loses the rest (the sink says
 * so with -1, as for a closed stream); a call that must talk at length
 * asks for a live stream (progressToken, MCP_TOOL_INTERACTIVE). */
#define INLINE_MAX_MSGS 256

struct inline_buf {
    pthread_mutex_t mu; /* a tool may send from threads of its own */
    json_t *msgs;       /* array, created on the first message */
};

static int buffer_send(struct mcp_sink *k, json_t *msg)
{
    struct inline_buf *b = k->ctx;
    /* a request to the client would wait for an answer nobody can send
     * before the response: interactive tools are MCP_TOOL_INTERACTIVE */
    if (!msg || json_object_get(msg, "id")) {
        json_decref(msg);
        return -1;
    }
    pthread_mutex_lock(&b->mu);
    if (!b->msgs)
        b->msgs = json_array();
    int rc = -1;
    if (json_array_size(b->msgs) < INLINE_MAX_MSGS)
        rc = json_array_append_new(b->msgs, msg);
    else
        json_decref(msg);
    pthread_mutex_unlock(&b->mu);
    return rc == 0 ? 0 : -1;
}

static int stream_send(struct mcp_sink *k, json_t *msg)
{
    struct call_job *j = k->ctx;
    return sse_send(j->ss, j->st, msg);
}

static void stream_close(struct mcp_sink *k)
{
    struct call_job *j = k->ctx;
    sse_close(j->ss, j->st);
}

/* ---- POST ------------------------------------------------------------------------- */

static void job_free(struct call_job *j)
{
    jsonrpc_msg_clear(&j->msg);
    drop_session(j->h, j->s, j->throwaway);
    free(j);
}

static void run_call(void *arg)
{
    struct call_job *j = arg;
    json_t *resp;
    /* queued when the server began to stop, run by pool_free: refuse */
    if (atomic_load(&j->h->closing_streams))
        resp = jsonrpc_error(j->msg.id, MCP_SERVER_BUSY, "server is shutting down", NULL);
    else
        resp = mcp_handle(j->h->a->mcp, j->s, &j->msg, &j->sink);
    sse_stream_finish(j->ss, j->st, resp);
    job_free(j);
}

/* Answer with an SSE stream; the call runs on the pool.  Takes s and m. */
static enum MHD_Result post_stream(struct http_server *h, struct MHD_Connection *c,
                                   struct session *s, struct jsonrpc_msg *m, int throwaway)
{
    struct call_job *j = calloc(1, sizeof *j);
    struct session *s2 = NULL;
    if (!j)
        goto out_nomem;
    *j = (struct call_job){.h = h, .s = s, .ss = sse_sess_of(s), .msg = *m,
                           .throwaway = throwaway};
    memset(m, 0, sizeof *m);
    j->sink = (struct mcp_sink){.send = stream_send, .close = stream_close, .ctx = j};
    j->st = j->ss ? sse_stream_new(j->ss) : NULL;
    /* the connection's own reference */
    if (!j->st || session_get(h->a->sessions, s->id, SESSION_ID_LEN, &s2) != SESSION_FOUND)
        goto out_job;
    struct MHD_Response *r = sse_response_post(h, s2, j->st);
    if (!r)
        goto out_job;
    if (pool_submit(h->pool, run_call, j) != 0) {
        sse_stream_finish(j->ss, j->st,
                          jsonrpc_error(j->msg.id, MCP_SERVER_BUSY,
                                        "server busy: every worker is running a call and the "
                                        "queue is full; retry later",
                                        NULL));
        job_free(j);
    }
    return http_queue(h, c, ROUTE_MCP, 200, r);
out_job:
    if (j->st)
        sse_stream_finish(j->ss, j->st, NULL);
    job_free(j);
    return http_reply_error(h, c, ROUTE_MCP, 500, NULL, JSONRPC_INTERNAL_ERROR,
                            "cannot open a stream for this call (out of memory or the "
                            "session just ended)");
out_nomem:
    jsonrpc_msg_clear(m);
    drop_session(h, s, throwaway);
    return MHD_NO;
}

static void inline_done(struct http_server *h)
{
    /* release: pairs with mcp_wait_inline's acquire load */
    if (atomic_fetch_sub_explicit(&h->inline_calls, 1, memory_order_release) == 1 &&
        atomic_load(&h->stopping)) {
        pthread_mutex_lock(&h->mu);
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
}

void mcp_wait_inline(struct http_server *h, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms > 0 ? ms : 0) * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&h->mu);
    /* acquire: see inline_done */
    while (atomic_load_explicit(&h->inline_calls, memory_order_acquire) > 0)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&h->mu);
}

/* The answer of an inline request that sent msgs first: one SSE body. */
static enum MHD_Result reply_buffered(struct http_server *h, struct MHD_Connection *c,
                                      struct sse_sess *ss, json_t *msgs, json_t *resp)
{
    size_t len = 0;
    char *body = sse_inline_body(ss, msgs, resp, &len);
    json_decref(msgs);
    if (!body)
        return http_reply_error(h, c, ROUTE_MCP, 500, NULL, JSONRPC_INTERNAL_ERROR,
                                "cannot build the call's event stream (out of memory)");
    enum MHD_Result rc = http_reply(h, c, ROUTE_MCP, 200, "text/event-stream", body, len);
    free(body);
    return rc;
}

/* Run m on s in this thread and answer; takes s and m. */
static enum MHD_Result post_inline(struct http_server *h, struct MHD_Connection *c,
                                   struct session *s, struct jsonrpc_msg *m, int throwaway)
{
    struct inline_buf b = {.msgs = NULL};
    pthread_mutex_init(&b.mu, NULL);
    struct mcp_sink sink = {.send = buffer_send, .close = NULL, .ctx = &b};
    atomic_fetch_add_explicit(&h->inline_calls, 1, memory_order_relaxed);
    json_t *resp = mcp_handle(h->a->mcp, s, m, &sink);
    inline_done(h);
    pthread_mutex_destroy(&b.mu);
    int request = m->kind == JSONRPC_REQUEST;
    jsonrpc_msg_clear(m);
    struct sse_sess *ss = sse_sess_of(s);
    enum MHD_Result rc;
    if (!resp || !request) {
        json_decref(resp);
        rc = http_reply(h, c, ROUTE_MCP, 202, NULL, "", 0);
    } else if (json_array_size(b.msgs) > 0 && ss) {
        rc = reply_buffered(h, c, ss, b.msgs, resp);
        b.msgs = NULL;
    } else {
        rc = http_reply_json(h, c, ROUTE_MCP, 200, resp, NULL);
    }
    json_decref(b.msgs);
    drop_session(h, s, throwaway);
    return rc;
}

static enum MHD_Result post_initialize(struct http_server *h, struct MHD_Connection *c,
                                       struct jsonrpc_msg *m)
{
    enum MHD_Result rc = MHD_NO;
    struct session *s = create(h, c, m->id, &rc);
    if (!s) {
        jsonrpc_msg_clear(m);
        return rc;
    }
    struct mcp_sink sink = {.send = null_send, .close = NULL, .ctx = NULL};
    json_t *resp = mcp_handle(h->a->mcp, s, m, &sink);
    jsonrpc_msg_clear(m);
    int ok = resp && json_object_get(resp, "result") != NULL;
    char sid[SESSION_ID_LEN + 1];
    memcpy(sid, s->id, sizeof sid);
    drop_session(h, s, !ok);
    if (!resp)
        return http_reply_error(h, c, ROUTE_MCP, 500, NULL, JSONRPC_INTERNAL_ERROR,
                                "initialize produced no response");
    if (ok)
        log_event(LOG_INFO, "http.session_created", "sessions",
                  json_integer((json_int_t)session_table_count(h->a->sessions)), NULL);
    return http_reply_json(h, c, ROUTE_MCP, 200, resp, ok ? sid : NULL);
}

/* 2026-07-28: no session; a throwaway one carries the version. */
static enum MHD_Result post_stateless(struct http_server *h, struct MHD_Connection *c,
                                      struct jsonrpc_msg *m, const char *version)
{
    enum MHD_Result rc = MHD_NO;
    struct session *s = create(h, c, m->id, &rc);
    if (!s) {
        jsonrpc_msg_clear(m);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    snprintf(s->st.protocol_version, sizeof s->st.protocol_version, "%s", version);
    pthread_mutex_unlock(&s->mu);
    if (mcp_request_streams(h->a->mcp, m))
        return post_stream(h, c, s, m, 1);
    return post_inline(h, c, s, m, 1);
}

static enum MHD_Result do_post(struct http_server *h, struct MHD_Connection *c,
                               struct http_req *q)
{
    const struct config *cfg = &h->a->cfg;
    struct jsonrpc_limits lim = {
        .max_bytes = cfg->max_body_bytes ? cfg->max_body_bytes : JSONRPC_DEFAULT_MAX_BYTES,
        .max_depth = cfg->max_depth ? cfg->max_depth : JSONRPC_DEFAULT_MAX_DEPTH};
    struct jsonrpc_msg m;
    json_t *reply = NULL;
    if (jsonrpc_parse(q->body ? q->body : "", q->len, &lim, &m, &reply) != 0) {
        if (!reply)
            return MHD_NO;
        return http_reply_json(h, c, ROUTE_MCP, 400, reply, NULL);
    }
    const char *version = http_header(c, HDR_VERSION);
    if (version && mcp_era_of(version) == MCP_ERA_STATELESS)
        return post_stateless(h, c, &m, version);
    if (m.kind == JSONRPC_REQUEST && strcmp(m.method, "initialize") == 0 &&
        !http_header(c, HDR_SESSION))
        return post_initialize(h, c, &m);
    enum MHD_Result rc = MHD_NO;
    struct session *s = lookup(h, c, m.id, &rc);
    if (!s) {
        jsonrpc_msg_clear(&m);
        return rc;
    }
    if (mcp_request_streams(h->a->mcp, &m))
        return post_stream(h, c, s, &m, 0);
    return post_inline(h, c, s, &m, 0);
}

/* ---- GET and DELETE ------------------------------------------------------------------- */

static enum MHD_Result do_get(struct http_server *h, struct MHD_Connection *c)
{
    const char *version = http_header(c, HDR_VERSION);
    if (version && mcp_era_of(version) == MCP_ERA_STATELESS)
        return http_reply_error(h, c, ROUTE_MCP, 405, NULL, JSONRPC_INVALID_REQUEST,
                                "revision %s has no GET stream", version);
    enum MHD_Result rc = MHD_NO;
    struct session *s = lookup(h, c, NULL, &rc);
    if (!s)
        return rc;
    char err[256];
    struct MHD_Response *r = NULL;
    int status = sse_response_get(h, s, http_header(c, "Last-Event-ID"), &r, err, sizeof err);
    if (status != 0)
        return http_reply_error(h, c, ROUTE_MCP, (unsigned)status, NULL,
                                status == 500 ? JSONRPC_INTERNAL_ERROR : JSONRPC_INVALID_REQUEST,
                                "%s", err);
    return http_queue(h, c, ROUTE_MCP, 200, r);
}

static enum MHD_Result do_delete(struct http_server *h, struct MHD_Connection *c)
{
    enum MHD_Result rc = MHD_NO;
    struct session *s = lookup(h, c, NULL, &rc);
    if (!s)
        return rc;
    size_t n = mcp_cancel_all(h->a->mcp, s);
    sse_sess_end(sse_sess_of(s));
    drop_session(h, s, 1);
    log_event(LOG_INFO, "http.session_deleted", "cancelled", json_integer((json_int_t)n), NULL);
    return http_reply(h, c, ROUTE_MCP, 204, NULL, "", 0);
}

enum MHD_Result mcp_dispatch(struct http_server *h, struct MHD_Connection *c,
                             const char *method, struct http_req *q)
{
    if (atomic_load(&h->stopping))
        return http_reply_error(h, c, ROUTE_MCP, 503, NULL, MCP_SERVER_BUSY,
                                "server is shutting down");
    if (strcmp(method, "POST") == 0)
        return do_post(h, c, q);
    if (strcmp(method, "GET") == 0)
        return do_get(h, c);
    return do_delete(h, c);
}

void mcp_cancel_sessions(struct http_server *h)
{
    size_t max = h->a->cfg.max_sessions ? h->a->cfg.max_sessions : 1000;
    char (*ids)[SESSION_ID_LEN + 1] = calloc(max, sizeof *ids);
    if (!ids)
        return;
    size_t n = sse_session_ids(ids, max);
    for (size_t i = 0; i < n; i++) {
        struct session *s = NULL;
        if (session_get(h->a->sessions, ids[i], SESSION_ID_LEN, &s) != SESSION_FOUND)
            continue;
        mcp_cancel_all(h->a->mcp, s);
        session_put(h->a->sessions, s);
    }
    free(ids);
}

/* ---- the idle-session sweeper --------------------------------------------------- */

static void *sweeper_main(void *arg)
{
    struct http_server *h = arg;
    int64_t idle = h->a->cfg.session_idle_ms > 0 ? h->a->cfg.session_idle_ms : 1800000;
    /* a quarter of the idle time: a session ends at most 25 % late */
    int64_t every = idle / 4;
    every = every < 10 ? 10 : every > 5000 ? 5000 : every;
    pthread_mutex_lock(&h->mu);
    while (!atomic_load(&h->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + every * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        if (atomic_load(&h->stopping))
            break;
        pthread_mutex_unlock(&h->mu);
        size_t n = session_table_sweep(h->a->sessions);
        if (n > 0)
            log_event(LOG_INFO, "http.sessions_expired", "count", json_integer((json_int_t)n),
                      NULL);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

void http_sweeper_stop(struct http_server *h)
{
    if (!h->sweeper_started)
        return;
    pthread_mutex_lock(&h->mu);
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->sweeper, NULL);
    h->sweeper_started = 0;
}

int http_sweeper_start(struct http_server *h)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&h->sweeper, NULL, sweeper_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    h->sweeper_started = rc == 0;
    return rc == 0 ? 0 : -1;
}
