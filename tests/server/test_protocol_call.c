/* What a running call can do, driven through mcp_handle() with real
 * threads: progress (only with a token, increasing), log filtering,
 * cancellation from another thread (hook once, no response), requests to
 * the client answered by a response routed from another thread, their
 * timeout on the manual clock, missing capabilities, a gone stream, and the
 * per-session concurrency limit under real concurrency. */
#include "../check_util.h"
#include "log.h"
#include "mcp/protocol.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- fixture: a capturing sink that threads can wait on ---------------------- */

struct fx {
    struct mcp_server *srv;
    struct session_table *tab;
    struct session *sess;
    struct mcp_sink sink;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *sent;
    int fail;   /* the stream is gone */
    int closed; /* close() calls */
    resil_clock *clock;
};

static struct fx F;

/* What the test tools saw (written by tool threads, read after join). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
    int hooks;
    int go;
    int hook_in_tool_thread;
    int rc[8];
    int after_cancel_log, after_cancel_progress;
} T;

static int cap_send(struct mcp_sink *k, json_t *msg)
{
    struct fx *f = k->ctx;
    /* Every reference count change under the lock: jansson's incref reads
     * the count non-atomically. */
    pthread_mutex_lock(&f->mu);
    int fail = f->fail;
    if (!fail)
        json_array_append_new(f->sent, msg);
    else
        json_decref(msg);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return fail ? -1 : 0;
}

static void cap_close(struct mcp_sink *k)
{
    struct fx *f = k->ctx;
    pthread_mutex_lock(&f->mu);
    f->closed++;
    pthread_mutex_unlock(&f->mu);
}

static struct timespec in_seconds(int s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s;
    return ts;
}

/* The i-th message sent (a new reference), waiting for it: a bounded wait
 * for an event, not a timing assumption (10 s only guards a hang). */
static json_t *wait_sent(size_t i)
{
    struct timespec ts = in_seconds(10);
    pthread_mutex_lock(&F.mu);
    while (json_array_size(F.sent) <= i)
        if (pthread_cond_timedwait(&F.cv, &F.mu, &ts) != 0)
            break;
    json_t *m = json_incref(json_array_get(F.sent, i));
    pthread_mutex_unlock(&F.mu);
    ck_assert_msg(m != NULL, "message %zu never sent", i);
    return m;
}

static size_t nsent(void)
{
    pthread_mutex_lock(&F.mu);
    size_t n = json_array_size(F.sent);
    pthread_mutex_unlock(&F.mu);
    return n;
}

/* Wait until `n` tool invocations have started. */
static void wait_entered(int n)
{
    struct timespec ts = in_seconds(10);
    pthread_mutex_lock(&T.mu);
    while (T.entered < n)
        if (pthread_cond_timedwait(&T.cv, &T.mu, &ts) != 0)
            break;
    int got = T.entered;
    pthread_mutex_unlock(&T.mu);
    ck_assert_int_eq(got, n);
}

/* ---- tools ----------------------------------------------------------------- */

static int t_progress(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)args;
    (void)ctx;
    T.rc[0] = mcp_call_progress(c, 1, 0, NULL);
    T.rc[1] = mcp_call_progress(c, 2, 3, "half");
    T.rc[2] = mcp_call_progress(c, 2, 3, "same again");
    T.rc[3] = mcp_call_progress(c, 1.5, 3, "backwards");
    T.rc[4] = mcp_call_progress(c, 3, 3, "done");
    *out = mcp_result_text("ok", NULL);
    return 0;
}

static int t_logs(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)args;
    (void)ctx;
    T.rc[0] = mcp_call_log(c, MCP_LOG_DEBUG, "lg", json_string("d"));
    T.rc[1] = mcp_call_log(c, MCP_LOG_INFO, "lg", json_string("i"));
    T.rc[2] = mcp_call_log(c, MCP_LOG_ERROR, NULL, json_pack("{s:i}", "n", 1));
    *out = mcp_result_text("ok", NULL);
    return 0;
}

static void hook(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&T.mu);
    T.hooks++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static void enter(void)
{
    pthread_mutex_lock(&T.mu);
    T.entered++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* Blocks until cancelled; the hook is what wakes it. */
static int t_blocker(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)args;
    (void)ctx;
    mcp_call_on_cancel(c, hook, NULL);
    enter();
    pthread_mutex_lock(&T.mu);
    while (!mcp_call_cancelled(c))
        pthread_cond_wait(&T.cv, &T.mu);
    pthread_mutex_unlock(&T.mu);
    mcp_call_on_cancel(c, NULL, NULL);
    /* After cancellation nothing more goes out. */
    int lrc = mcp_call_log(c, MCP_LOG_EMERGENCY, NULL, json_string("late"));
    int prc = mcp_call_progress(c, 99, 0, NULL);
    pthread_mutex_lock(&T.mu); /* two blockers may finish at once */
    T.after_cancel_log |= lrc;
    T.after_cancel_progress |= prc;
    pthread_mutex_unlock(&T.mu);
    *out = mcp_result_text("finished anyway", NULL);
    return 0;
}

static pthread_t tool_thread;

static void hook_here(void *arg)
{
    (void)arg;
    T.hook_in_tool_thread = pthread_equal(pthread_self(), tool_thread);
    hook(NULL);
}

/* Sets its hook only after being cancelled: it must run at once, here. */
static int t_late_hook(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)args;
    (void)ctx;
    tool_thread = pthread_self();
    enter();
    pthread_mutex_lock(&T.mu);
    while (!T.go)
        pthread_cond_wait(&T.cv, &T.mu);
    pthread_mutex_unlock(&T.mu);
    T.rc[0] = mcp_call_cancelled(c);
    mcp_call_on_cancel(c, hook_here, NULL);
    *out = NULL;
    return -1; /* whatever a cancelled tool returns is not sent */
}

static int t_sampler(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    const char *method = json_string_value(json_object_get(args, "method"));
    json_t *res = NULL, *err = NULL;
    (void)ctx;
    json_t *params = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user",
                               "content", "type", "text", "text", "hi", "maxTokens", 10);
    int rc = mcp_call_request(c, method ? method : "sampling/createMessage", params, &res, &err);
    T.rc[0] = rc;
    if (rc == 0)
        *out = mcp_result_text(json_string_value(json_object_get(json_object_get(res, "content"),
                                                                 "text")), NULL);
    else if (rc == -1)
        *out = mcp_result_text(json_string_value(json_object_get(err, "message")), NULL);
    else
        *out = mcp_result_text("no answer", NULL);
    json_decref(res);
    json_decref(err);
    return 0;
}

static int t_closer(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)args;
    (void)ctx;
    T.rc[0] = mcp_call_close_stream(c);
    *out = mcp_result_text("closed", NULL);
    return 0;
}

static void add_tool(const char *name, mcp_tool_fn fn)
{
    char err[256];
    struct mcp_tool t = {.name = name, .description = "test", .call = fn,
                         .input_schema = "{\"type\":\"object\"}"};
    ck_assert_msg(mcp_server_add_tool(F.srv, &t, err, sizeof err) == 0, "%s", err);
}

static void setup_opts(unsigned max_inflight, int manual_clock)
{
    struct mcp_server_opts o;
    memset(&F, 0, sizeof F);
    memset(&T, 0, sizeof T);
    pthread_mutex_init(&T.mu, NULL);
    pthread_cond_init(&T.cv, NULL);
    pthread_mutex_init(&F.mu, NULL);
    pthread_cond_init(&F.cv, NULL);
    mcp_server_opts_init(&o);
    o.max_inflight = max_inflight;
    if (manual_clock) {
        F.clock = tu_clock();
        o.clock = F.clock;
        o.client_request_timeout_ns = 5 * RESIL_NS_PER_SEC;
    }
    ck_assert_int_eq(mcp_server_new(&o, &F.srv), 0);
    add_tool("progress", t_progress);
    add_tool("logs", t_logs);
    add_tool("blocker", t_blocker);
    add_tool("late_hook", t_late_hook);
    add_tool("sampler", t_sampler);
    add_tool("closer", t_closer);
    struct session_table_opts so = {0};
    ck_assert_int_eq(session_table_new(&so, &F.tab), 0);
    ck_assert_int_eq(session_create(F.tab, &F.sess), 0);
    F.sent = json_array();
    F.sink.send = cap_send;
    F.sink.close = cap_close;
    F.sink.ctx = &F;
}

static void setup(void)
{
    setup_opts(16, 0);
}

static void teardown(void)
{
    session_put(F.tab, F.sess);
    session_table_free(F.tab);
    mcp_server_free(F.srv);
    json_decref(F.sent);
    resil_clock_free(F.clock);
    pthread_mutex_destroy(&F.mu);
    pthread_cond_destroy(&F.cv);
    pthread_mutex_destroy(&T.mu);
    pthread_cond_destroy(&T.cv);
}

static json_t *send_raw(const char *text)
{
    struct jsonrpc_msg m;
    json_t *reply = NULL;
    if (jsonrpc_parse(text, strlen(text), NULL, &m, &reply) != 0) {
        json_decref(reply);
        return NULL;
    }
    json_t *r = mcp_handle(F.srv, F.sess, &m, &F.sink);
    jsonrpc_msg_clear(&m);
    return r;
}

static void init_session(const char *caps)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
             "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":%s}}", caps);
    json_t *r = send_raw(buf);
    ck_assert_ptr_nonnull(json_object_get(r, "result"));
    json_decref(r);
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

/* A request in its own thread. */
struct job {
    char text[512];
    json_t *resp;
    pthread_t th;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->resp = send_raw(j->text);
    return NULL;
}

static void job_start(struct job *j, const char *fmt, const char *a)
{
    snprintf(j->text, sizeof j->text, fmt, a);
    j->resp = NULL;
    ck_assert_int_eq(pthread_create(&j->th, NULL, job_main, j), 0);
}

static json_t *job_join(struct job *j)
{
    pthread_join(j->th, NULL);
    return j->resp;
}

static json_t *tool_call(int id, const char *tool, const char *extra)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"%s\"%s}}", id, tool, extra ? extra : "");
    return send_raw(buf);
}

static const char *text_of(json_t *resp)
{
    json_t *content = json_object_get(json_object_get(resp, "result"), "content");
    return json_string_value(json_object_get(json_array_get(content, 0), "text"));
}

static json_t *cancel_msg(const char *id_json)
{
    char buf[256];
    snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
             "\"params\":{\"requestId\":%s,\"reason\":\"user pressed stop\"}}", id_json);
    return send_raw(buf);
}

/* ---- progress and logs ---------------------------------------------------------- */

static void check_progress(json_t *token)
{
    static const double want[] = {1, 2, 3};
    ck_assert_uint_eq(nsent(), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *m = wait_sent(i);
        ck_assert_str_eq(json_string_value(json_object_get(m, "method")),
                         "notifications/progress");
        ck_assert_ptr_null(json_object_get(m, "id"));
        json_t *p = json_object_get(m, "params");
        ck_assert(json_equal(json_object_get(p, "progressToken"), token));
        ck_assert(json_number_value(json_object_get(p, "progress")) == want[i]);
        if (i == 0) {
            ck_assert_ptr_null(json_object_get(p, "total"));
            ck_assert_ptr_null(json_object_get(p, "message"));
        } else {
            ck_assert(json_number_value(json_object_get(p, "total")) == 3);
        }
        if (i == 1)
            ck_assert_str_eq(json_string_value(json_object_get(p, "message")), "half");
        json_decref(m);
    }
    ck_assert_int_eq(T.rc[0], 0);
    ck_assert_int_eq(T.rc[1], 0);
    ck_assert_int_eq(T.rc[2], -1); /* not increasing: dropped */
    ck_assert_int_eq(T.rc[3], -1);
    ck_assert_int_eq(T.rc[4], 0);
}

START_TEST(test_progress_integer_token)
{
    init_session("{}");
    json_t *r = tool_call(3, "progress", ",\"_meta\":{\"progressToken\":7}");
    ck_assert_str_eq(text_of(r), "ok");
    json_decref(r);
    json_t *tok = json_integer(7);
    check_progress(tok);
    json_decref(tok);
}
END_TEST

START_TEST(test_progress_string_token)
{
    init_session("{}");
    json_t *r = tool_call(3, "progress", ",\"_meta\":{\"progressToken\":\"tok-1\"}");
    json_decref(r);
    json_t *tok = json_string("tok-1");
    check_progress(tok);
    json_decref(tok);
}
END_TEST

START_TEST(test_progress_without_token)
{
    init_session("{}");
    json_t *r = tool_call(3, "progress", ",\"_meta\":{\"progressToken\":1.5}");
    ck_assert_str_eq(text_of(r), "ok");
    json_decref(r);
    r = tool_call(4, "progress", NULL);
    json_decref(r);
    ck_assert_uint_eq(nsent(), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(T.rc[i], 0);
}
END_TEST

static void check_log(size_t i, const char *level, const char *logger)
{
    json_t *m = wait_sent(i);
    json_t *p = json_object_get(m, "params");
    ck_assert_str_eq(json_string_value(json_object_get(m, "method")), "notifications/message");
    ck_assert_str_eq(json_string_value(json_object_get(p, "level")), level);
    if (logger)
        ck_assert_str_eq(json_string_value(json_object_get(p, "logger")), logger);
    else
        ck_assert_ptr_null(json_object_get(p, "logger"));
    ck_assert_ptr_nonnull(json_object_get(p, "data"));
    json_decref(m);
}

START_TEST(test_log_levels)
{
    init_session("{}");
    json_t *r = tool_call(1, "logs", NULL);
    json_decref(r);
    ck_assert_uint_eq(nsent(), 2); /* default info: debug filtered */
    check_log(0, "info", "lg");
    check_log(1, "error", NULL);
    r = send_raw("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\","
                 "\"params\":{\"level\":\"error\"}}");
    json_decref(r);
    r = tool_call(3, "logs", NULL);
    json_decref(r);
    ck_assert_uint_eq(nsent(), 3);
    check_log(2, "error", NULL);
    r = send_raw("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\","
                 "\"params\":{\"level\":\"debug\"}}");
    json_decref(r);
    r = tool_call(5, "logs", NULL);
    json_decref(r);
    ck_assert_uint_eq(nsent(), 6);
    check_log(3, "debug", "lg");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(T.rc[i], 0);
}
END_TEST

/* ---- cancellation -------------------------------------------------------------- */

START_TEST(test_cancel_from_thread)
{
    struct job j;
    init_session("{}");
    job_start(&j, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"blocker\",\"_meta\":{\"progressToken\":1}%s}}", "");
    wait_entered(1);
    ck_assert_ptr_null(cancel_msg("\"7\"")); /* a string id is another request */
    ck_assert_ptr_null(cancel_msg("8"));
    pthread_mutex_lock(&T.mu);
    ck_assert_int_eq(T.hooks, 0);
    pthread_mutex_unlock(&T.mu);
    ck_assert_ptr_null(cancel_msg("7"));
    ck_assert_ptr_null(cancel_msg("7")); /* again: tolerated, the hook ran once */
    ck_assert_ptr_null(job_join(&j));    /* no response at all */
    ck_assert_int_eq(T.hooks, 1);
    ck_assert_int_eq(T.after_cancel_log, 0);
    ck_assert_int_eq(T.after_cancel_progress, 0);
    ck_assert_uint_eq(nsent(), 0);
    ck_assert_uint_eq(F.sess->inflight, 0);
    ck_assert_ptr_null(cancel_msg("7")); /* after the end: unknown, ignored */
    json_t *r = tool_call(7, "logs", NULL); /* the id can be reused */
    ck_assert_str_eq(text_of(r), "ok");
    json_decref(r);
}
END_TEST

START_TEST(test_hook_set_after_cancel)
{
    struct job j;
    init_session("{}");
    job_start(&j, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"%s\"}}", "late_hook");
    wait_entered(1);
    ck_assert_ptr_null(cancel_msg("\"abc\""));
    pthread_mutex_lock(&T.mu);
    T.go = 1;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
    ck_assert_ptr_null(job_join(&j)); /* even a failing tool's -32603 is not sent */
    ck_assert_int_eq(T.rc[0], 1);
    ck_assert_int_eq(T.hooks, 1);
    ck_assert_int_eq(T.hook_in_tool_thread, 1);
}
END_TEST

START_TEST(test_cancel_all)
{
    struct job j1, j2;
    init_session("{}");
    ck_assert_uint_eq(mcp_cancel_all(F.srv, F.sess), 0);
    job_start(&j1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                   "{\"name\":\"%s\"}}", "blocker");
    job_start(&j2, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                   "{\"name\":\"%s\"}}", "blocker");
    wait_entered(2);
    ck_assert_uint_eq(mcp_cancel_all(F.srv, F.sess), 2);
    ck_assert_ptr_null(job_join(&j1));
    ck_assert_ptr_null(job_join(&j2));
    ck_assert_int_eq(T.hooks, 2);
    ck_assert_uint_eq(mcp_cancel_all(F.srv, F.sess), 0);
    ck_assert_uint_eq(mcp_cancel_all(F.srv, NULL), 0);
}
END_TEST

START_TEST(test_inflight_limit_concurrent)
{
    struct job j;
    teardown();
    setup_opts(1, 0);
    init_session("{}");
    job_start(&j, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"%s\"}}", "blocker");
    wait_entered(1);
    json_t *r = send_raw("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
                     -32000);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_object_get(r, "error"),
                                                                   "message")), "(limit 1)"));
    json_decref(r);
    ck_assert_ptr_null(cancel_msg("1"));
    ck_assert_ptr_null(job_join(&j));
    r = send_raw("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    ck_assert_ptr_nonnull(json_object_get(r, "result"));
    json_decref(r);
}
END_TEST

/* ---- requests to the client ---------------------------------------------------------- */

/* Start the sampler, wait for its request, return the request (new ref). */
static json_t *start_sampler(struct job *j, int id)
{
    char fmt[256];
    snprintf(fmt, sizeof fmt, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"sampler\"%%s}}", id);
    job_start(j, fmt, "");
    json_t *req = wait_sent(0);
    ck_assert_str_eq(json_string_value(json_object_get(req, "method")),
                     "sampling/createMessage");
    const char *rid = json_string_value(json_object_get(req, "id"));
    ck_assert_msg(rid && strncmp(rid, "srv-", 4) == 0, "request id %s", rid);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(req, "params"), "messages"));
    return req;
}

static json_t *answer(json_t *req, const char *body)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",%s}",
             json_string_value(json_object_get(req, "id")), body);
    return send_raw(buf);
}

START_TEST(test_sampling_roundtrip)
{
    struct job j;
    init_session("{\"sampling\":{}}");
    json_t *req = start_sampler(&j, 11);
    ck_assert_ptr_null(answer(req, "\"result\":{\"role\":\"assistant\",\"model\":\"m\","
                                   "\"content\":{\"type\":\"text\",\"text\":\"sampled!\"}}"));
    json_t *r = job_join(&j);
    ck_assert_int_eq(T.rc[0], 0);
    ck_assert_str_eq(text_of(r), "sampled!");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 11);
    json_decref(r);
    ck_assert_ptr_null(answer(req, "\"result\":{}")); /* a second answer: ignored */
    json_decref(req);
    /* The next request gets a new id. */
    struct job j2;
    pthread_mutex_lock(&F.mu);
    json_array_clear(F.sent);
    pthread_mutex_unlock(&F.mu);
    json_t *req2 = start_sampler(&j2, 12);
    ck_assert_str_ne(json_string_value(json_object_get(req2, "id")), "srv-1");
    ck_assert_ptr_null(answer(req2, "\"error\":{\"code\":-1,\"message\":\"user rejected\"}"));
    r = job_join(&j2);
    ck_assert_int_eq(T.rc[0], -1);
    ck_assert_str_eq(text_of(r), "user rejected");
    json_decref(r);
    json_decref(req2);
}
END_TEST

static void run_sampler(const char *method, int want_rc)
{
    char extra[128];
    snprintf(extra, sizeof extra, ",\"arguments\":{\"method\":\"%s\"}", method);
    json_t *r = tool_call(1, "sampler", extra);
    ck_assert_str_eq(text_of(r), "no answer");
    json_decref(r);
    ck_assert_int_eq(T.rc[0], want_rc);
}

START_TEST(test_request_needs_capability)
{
    init_session("{\"roots\":{}}");
    run_sampler("sampling/createMessage", -2);
    run_sampler("elicitation/create", -2);
    ck_assert_uint_eq(nsent(), 0); /* nothing was sent */
}
END_TEST

START_TEST(test_request_stream_gone)
{
    init_session("{\"sampling\":{},\"elicitation\":{}}");
    F.fail = 1;
    run_sampler("elicitation/create", -5);
}
END_TEST

START_TEST(test_request_stateless)
{
    snprintf(F.sess->st.protocol_version, sizeof F.sess->st.protocol_version, "%s",
             MCP_STATELESS_VERSION);
    json_t *r = send_raw("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                         "{\"name\":\"sampler\",\"_meta\":{\"io.modelcontextprotocol/"
                         "clientCapabilities\":{\"sampling\":{}}}}}");
    ck_assert_str_eq(text_of(r), "no answer");
    json_decref(r);
    ck_assert_int_eq(T.rc[0], -2);
    ck_assert_uint_eq(nsent(), 0);
}
END_TEST

START_TEST(test_request_timeout_manual_clock)
{
    struct job j;
    teardown();
    setup_opts(16, 1);
    init_session("{\"sampling\":{}}");
    json_t *req = start_sampler(&j, 5);
    ck_assert_int_eq(resil_clock_manual_advance(F.clock, 6 * RESIL_NS_PER_SEC), 0);
    json_t *r = job_join(&j);
    ck_assert_int_eq(T.rc[0], -3);
    ck_assert_str_eq(text_of(r), "no answer");
    json_decref(r);
    /* We told the client we stopped waiting. */
    json_t *n = wait_sent(1);
    ck_assert_str_eq(json_string_value(json_object_get(n, "method")), "notifications/cancelled");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(n, "params"),
                                                       "requestId")),
                     json_string_value(json_object_get(req, "id")));
    json_decref(n);
    ck_assert_ptr_null(answer(req, "\"result\":{}")); /* too late: ignored */
    json_decref(req);
}
END_TEST

START_TEST(test_request_cancelled)
{
    struct job j;
    init_session("{\"sampling\":{}}");
    json_t *req = start_sampler(&j, 9);
    ck_assert_ptr_null(cancel_msg("9"));
    ck_assert_ptr_null(job_join(&j));
    ck_assert_int_eq(T.rc[0], -4);
    json_decref(req);
}
END_TEST

START_TEST(test_close_stream)
{
    init_session("{}");
    json_t *r = tool_call(1, "closer", NULL);
    ck_assert_str_eq(text_of(r), "closed");
    json_decref(r);
    ck_assert_int_eq(T.rc[0], 0);
    ck_assert_int_eq(F.closed, 1);
    F.sink.close = NULL; /* stdio cannot */
    r = tool_call(2, "closer", NULL);
    json_decref(r);
    ck_assert_int_eq(T.rc[0], -1);
    ck_assert_int_eq(F.closed, 1);
}
END_TEST

START_TEST(test_null_arguments)
{
    json_t *res = (json_t *)1, *err = (json_t *)1;
    ck_assert_int_eq(mcp_call_progress(NULL, 1, 0, NULL), -1);
    ck_assert_int_eq(mcp_call_log(NULL, MCP_LOG_ERROR, NULL, json_string("x")), -1);
    ck_assert_int_eq(mcp_call_cancelled(NULL), 0);
    ck_assert_int_eq(mcp_call_close_stream(NULL), -1);
    ck_assert_int_eq(mcp_call_request(NULL, "roots/list", NULL, &res, &err), -1);
    ck_assert_ptr_null(res);
    ck_assert_ptr_null(err);
    ck_assert_ptr_null(mcp_call_session(NULL));
    ck_assert_ptr_null(mcp_call_version(NULL));
    ck_assert_ptr_null(mcp_call_server(NULL));
    mcp_call_on_cancel(NULL, hook, NULL);
    ck_assert_int_eq(T.hooks, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("protocol_call");
    TCase *tc = tcase_create("call");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_progress_integer_token);
    tcase_add_test(tc, test_progress_string_token);
    tcase_add_test(tc, test_progress_without_token);
    tcase_add_test(tc, test_log_levels);
    tcase_add_test(tc, test_cancel_from_thread);
    tcase_add_test(tc, test_hook_set_after_cancel);
    tcase_add_test(tc, test_cancel_all);
    tcase_add_test(tc, test_inflight_limit_concurrent);
    tcase_add_test(tc, test_sampling_roundtrip);
    tcase_add_test(tc, test_request_needs_capability);
    tcase_add_test(tc, test_request_stream_gone);
    tcase_add_test(tc, test_request_stateless);
    tcase_add_test(tc, test_request_timeout_manual_clock);
    tcase_add_test(tc, test_request_cancelled);
    tcase_add_test(tc, test_close_stream);
    tcase_add_test(tc, test_null_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_setup(2, LOG_OFF); /* cancellations and errors log; keep the output readable */
    return tu_run(suite());
}
