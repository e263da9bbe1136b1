/* The MCP protocol layer driven through mcp_handle(): lifecycle, version
 * negotiation, dispatch errors, tools (pagination, validation, output
 * checks), resources, prompts, completion, the stateless era, the
 * concurrency limit and metrics.  Calls that block (progress, cancellation,
 * sampling) are in test_protocol_call.c. */
#include "../check_util.h"
#include "mcp/protocol.h"
#include "mcp/protocol_int.h" /* the subscription set */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
    struct mcp_server *srv;
    struct session_table *tab;
    struct session *sess;
    struct mcp_sink sink;
    json_t *sent; /* what the server sent through the sink */
    resil_metrics *metrics;
};

static struct fx F;

static int cap_send(struct mcp_sink *k, json_t *msg)
{
    struct fx *f = k->ctx;
    json_array_append_new(f->sent, msg);
    return 0;
}

/* ---- tools, resources and prompts the tests register ---- */

static int t_echo(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)c;
    (void)ctx;
    const char *text = json_string_value(json_object_get(args, "text"));
    *out = mcp_result_text(text, json_pack("{s:s}", "text", text));
    return 0;
}

static int t_bad_output(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)c;
    (void)args;
    (void)ctx;
    *out = mcp_result_text("n", json_pack("{s:s}", "n", "not a number"));
    return 0;
}

static int t_no_structured(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)c;
    (void)args;
    (void)ctx;
    *out = mcp_result_text("plain", NULL);
    return 0;
}

static int t_fails(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)c;
    (void)args;
    (void)ctx;
    *out = NULL;
    return -1;
}

static int t_version(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)args;
    (void)ctx;
    ck_assert_ptr_eq(mcp_call_session(c), F.sess);
    ck_assert_ptr_eq(mcp_call_server(c), F.srv);
    *out = mcp_result_text(mcp_call_version(c), NULL);
    return 0;
}

static int r_read(struct mcp_call *c, const char *uri, void *ctx, json_t **out)
{
    (void)c;
    (void)ctx;
    if (strstr(uri, "/missing/"))
        return MCP_RESOURCE_NOT_FOUND;
    if (strstr(uri, "/broken/"))
        return -1;
    *out = json_pack("[{s:s,s:s,s:s}]", "uri", uri, "mimeType", "text/plain", "text",
                     "content of the resource");
    return 0;
}

static int p_get(struct mcp_call *c, json_t *args, void *ctx, json_t **out)
{
    (void)c;
    (void)ctx;
    const char *a1 = json_string_value(json_object_get(args, "arg1"));
    *out = json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "description", "a prompt", "messages",
                     "role", "user", "content", "type", "text", "text", a1 ? a1 : "simple");
    return 0;
}

static int p_complete(const char *arg, const char *value, json_t *context, void *ctx,
                      json_t **values)
{
    (void)arg;
    (void)context;
    (void)ctx;
    *values = json_array();
    for (int i = 0; i < 150; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%s%d", value, i);
        json_array_append_new(*values, json_string(buf));
    }
    return 0;
}

static const char *ECHO_IN = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
                             "\"required\":[\"text\"],\"additionalProperties\":false}";
static const char *ECHO_OUT = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":"
                              "\"string\"}},\"required\":[\"text\"]}";
static const char *N_OUT = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
                           "\"integer\"}},\"required\":[\"n\"]}";
static const char *EMPTY_IN = "{\"type\":\"object\"}";

static void add_tool(const char *name, mcp_tool_fn fn, const char *in, const char *out)
{
    char err[256];
    struct mcp_tool t = {.name = name, .description = "a test tool", .input_schema = in,
                         .output_schema = out, .call = fn};
    if (strcmp(name, "echo") == 0) {
        t.title = "Echo";
        t.annotations = "{\"readOnlyHint\":true}";
    }
    ck_assert_msg(mcp_server_add_tool(F.srv, &t, err, sizeof err) == 0, "%s", err);
}

static void register_all(void)
{
    char err[256];
    add_tool("echo", t_echo, ECHO_IN, ECHO_OUT);
    add_tool("bad_output", t_bad_output, EMPTY_IN, N_OUT);
    add_tool("no_structured", t_no_structured, EMPTY_IN, N_OUT);
    add_tool("fails", t_fails, EMPTY_IN, NULL);
    add_tool("version", t_version, EMPTY_IN, NULL);
    struct mcp_resource r1 = {.uri = "test://static", .name = "static",
                              .mime_type = "text/plain", .read = r_read};
    struct mcp_resource r2 = {.uri = "test://watched", .name = "watched", .subscribable = 1,
                              .read = r_read};
    struct mcp_resource_template t1 = {.uri_template = "test://t/{id}/data", .name = "tmpl",
                                       .read = r_read};
    ck_assert_int_eq(mcp_server_add_resource(F.srv, &r1, err, sizeof err), 0);
    ck_assert_int_eq(mcp_server_add_resource(F.srv, &r2, err, sizeof err), 0);
    ck_assert_int_eq(mcp_server_add_resource_template(F.srv, &t1, err, sizeof err), 0);
    static const struct mcp_prompt_arg args[] = {{"arg1", "first", 1}, {"arg2", "second", 0}};
    struct mcp_prompt p1 = {.name = "simple", .description = "no arguments", .get = p_get};
    struct mcp_prompt p2 = {.name = "with_args", .args = args, .nargs = 2, .get = p_get,
                            .complete = p_complete};
    ck_assert_int_eq(mcp_server_add_prompt(F.srv, &p1, err, sizeof err), 0);
    ck_assert_int_eq(mcp_server_add_prompt(F.srv, &p2, err, sizeof err), 0);
}

static void setup_opts(size_t page_size, unsigned max_inflight, int with_content)
{
    struct mcp_server_opts o;
    memset(&F, 0, sizeof F);
    mcp_server_opts_init(&o);
    o.name = "test-server";
    o.title = "Test Server";
    o.version = "1.2.3";
    o.instructions = "use the tools";
    o.page_size = page_size;
    o.max_inflight = max_inflight;
    ck_assert_int_eq(resil_metrics_new(NULL, &F.metrics), 0);
    o.metrics = F.metrics;
    ck_assert_int_eq(mcp_server_new(&o, &F.srv), 0);
    struct session_table_opts so = {0};
    ck_assert_int_eq(session_table_new(&so, &F.tab), 0);
    ck_assert_int_eq(session_create(F.tab, &F.sess), 0);
    F.sent = json_array();
    F.sink.send = cap_send;
    F.sink.ctx = &F;
    if (with_content)
        register_all();
}

static void setup(void)
{
    setup_opts(50, 16, 1);
}

static void teardown(void)
{
    session_put(F.tab, F.sess);
    session_table_free(F.tab);
    mcp_server_free(F.srv);
    resil_metrics_free(F.metrics);
    json_decref(F.sent);
}

/* Send one message (JSON text) and return the response (NULL: none). */
static json_t *send_raw(const char *text)
{
    struct jsonrpc_msg m;
    json_t *reply = NULL;
    ck_assert_msg(jsonrpc_parse(text, strlen(text), NULL, &m, &reply) == 0, "bad test JSON %s",
                  text);
    json_t *r = mcp_handle(F.srv, F.sess, &m, &F.sink);
    jsonrpc_msg_clear(&m);
    return r;
}

/* A request with id 1, method and params (JSON text or NULL). */
static json_t *call(const char *method, const char *params)
{
    char buf[4096];
    if (params)
        snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}",
                 method, params);
    else
        snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", method);
    json_t *r = send_raw(buf);
    ck_assert_msg(r != NULL, "no response to %s", method);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 1);
    return r;
}

static json_t *result_of(json_t *r)
{
    json_t *res = json_object_get(r, "result");
    ck_assert_msg(res != NULL, "expected a result, got %s",
                  json_dumps(r, JSON_COMPACT)); /* leaks only on failure */
    return res;
}

/* Assert r is an error with code whose message contains needle. */
static void assert_err(json_t *r, int code, const char *needle)
{
    json_t *e = json_object_get(r, "error");
    ck_assert_msg(e != NULL, "expected error %d, got a result", code);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "code")), code);
    const char *m = json_string_value(json_object_get(e, "message"));
    ck_assert_msg(m && strstr(m, needle), "message \"%s\" lacks \"%s\"", m, needle);
}

static json_t *err_data(json_t *r)
{
    return json_object_get(json_object_get(r, "error"), "data");
}

static void init_session(const char *version)
{
    char p[512];
    snprintf(p, sizeof p, "{\"protocolVersion\":\"%s\",\"capabilities\":{\"sampling\":{}},"
             "\"clientInfo\":{\"name\":\"tester\",\"version\":\"9.9\"}}", version);
    json_t *r = call("initialize", p);
    result_of(r);
    json_decref(r);
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

static const char *text_of(json_t *result)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"),
                                                            0), "text"));
}

/* ---- versions and names ----------------------------------------------------- */

START_TEST(test_versions)
{
    ck_assert_str_eq(mcp_versions[0], MCP_STATELESS_VERSION);
    ck_assert(mcp_version_supported("2025-11-25", 10));
    ck_assert(mcp_version_supported("2025-06-18", 10));
    ck_assert(mcp_version_supported("2025-03-26", 10));
    ck_assert(mcp_version_supported("2026-07-28", 10));
    ck_assert(!mcp_version_supported("2024-11-05", 10));
    ck_assert(!mcp_version_supported("2025-11-25x", 11));
    ck_assert(!mcp_version_supported("2025-11-2", 9));
    ck_assert(!mcp_version_supported(NULL, 0));
    ck_assert_int_eq(mcp_era_of(NULL), MCP_ERA_SESSION);
    ck_assert_int_eq(mcp_era_of("2025-03-26"), MCP_ERA_SESSION);
    ck_assert_int_eq(mcp_era_of("2026-07-28"), MCP_ERA_STATELESS);
    ck_assert_str_eq(mcp_log_level_name(MCP_LOG_WARNING), "warning");
    ck_assert_str_eq(mcp_log_level_name(MCP_LOG_EMERGENCY), "emergency");
    ck_assert_ptr_null(mcp_log_level_name((enum mcp_log_level)8));
    ck_assert_int_eq(mcp_log_level_parse("critical"), MCP_LOG_CRITICAL);
    ck_assert_int_eq(mcp_log_level_parse("debug"), MCP_LOG_DEBUG);
    ck_assert_int_eq(mcp_log_level_parse("warn"), -1);
    ck_assert_int_eq(mcp_log_level_parse(NULL), -1);
    ck_assert(mcp_method_streams("tools/call"));
    ck_assert(!mcp_method_streams("tools/list"));
}
END_TEST

START_TEST(test_results_helpers)
{
    json_t *r = mcp_result_text("hi", json_pack("{s:i}", "a", 1));
    ck_assert_str_eq(text_of(r), "hi");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "structuredContent"),
                                                        "a")), 1);
    ck_assert_ptr_null(json_object_get(r, "isError"));
    json_decref(r);
    r = mcp_result_errorf("bad %d", 42);
    ck_assert_str_eq(text_of(r), "bad 42");
    ck_assert(json_is_true(json_object_get(r, "isError")));
    ck_assert_ptr_null(json_object_get(r, "structuredContent"));
    json_decref(r);
}
END_TEST

/* ---- lifecycle ------------------------------------------------------------- */

START_TEST(test_lifecycle_order)
{
    json_t *r = call("tools/list", NULL);
    assert_err(r, JSONRPC_INVALID_REQUEST, "not initialized: send initialize first");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "method")), "tools/list");
    json_decref(r);
    r = call("logging/setLevel", "{\"level\":\"debug\"}");
    assert_err(r, JSONRPC_INVALID_REQUEST, "not initialized");
    json_decref(r);
    r = call("ping", NULL);
    ck_assert_int_eq(json_object_size(result_of(r)), 0);
    json_decref(r);
    r = call("initialize", "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}");
    result_of(r);
    json_decref(r);
    /* Between initialize and notifications/initialized: ping and setLevel. */
    r = call("tools/list", NULL);
    assert_err(r, JSONRPC_INVALID_REQUEST, "notifications/initialized");
    json_decref(r);
    r = call("logging/setLevel", "{\"level\":\"debug\"}");
    result_of(r);
    json_decref(r);
    r = call("ping", NULL);
    result_of(r);
    json_decref(r);
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    r = call("tools/list", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(result_of(r), "tools")), 5);
    json_decref(r);
    r = call("initialize", "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}");
    assert_err(r, JSONRPC_INVALID_REQUEST, "already initialized");
    json_decref(r);
    ck_assert_int_eq(json_array_size(F.sent), 0);
}
END_TEST

START_TEST(test_initialize_result)
{
    json_t *r = call("initialize", "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":"
                                   "{\"sampling\":{},\"roots\":{\"listChanged\":true}},"
                                   "\"clientInfo\":{\"name\":\"cli\",\"version\":\"0.7\"}}");
    json_t *res = result_of(r);
    ck_assert_str_eq(json_string_value(json_object_get(res, "protocolVersion")), "2025-06-18");
    json_t *info = json_object_get(res, "serverInfo");
    ck_assert_str_eq(json_string_value(json_object_get(info, "name")), "test-server");
    ck_assert_str_eq(json_string_value(json_object_get(info, "title")), "Test Server");
    ck_assert_str_eq(json_string_value(json_object_get(info, "version")), "1.2.3");
    ck_assert_str_eq(json_string_value(json_object_get(res, "instructions")), "use the tools");
    json_t *caps = json_object_get(res, "capabilities");
    ck_assert(json_is_false(json_object_get(json_object_get(caps, "tools"), "listChanged")));
    ck_assert(json_is_true(json_object_get(json_object_get(caps, "resources"), "subscribe")));
    ck_assert(json_is_object(json_object_get(caps, "prompts")));
    ck_assert(json_is_object(json_object_get(caps, "logging")));
    ck_assert(json_is_object(json_object_get(caps, "completions")));
    json_decref(r);
    ck_assert_str_eq(F.sess->st.protocol_version, "2025-06-18");
    ck_assert_str_eq(F.sess->st.client_name, "cli");
    ck_assert_str_eq(F.sess->st.client_version, "0.7");
    ck_assert_uint_eq(F.sess->st.client_caps, SESSION_CAP_SAMPLING | SESSION_CAP_ROOTS);
    ck_assert_int_eq(F.sess->st.log_level, MCP_LOG_INFO);
    ck_assert_int_eq(F.sess->st.initialized, 0);
}
END_TEST

/* A version we do not speak (or the stateless one) gets our latest. */
static void negotiate(const char *asked, const char *want)
{
    char p[256];
    teardown();
    setup();
    snprintf(p, sizeof p, "{\"protocolVersion\":\"%s\",\"capabilities\":{}}", asked);
    json_t *r = call("initialize", p);
    ck_assert_str_eq(json_string_value(json_object_get(result_of(r), "protocolVersion")), want);
    json_decref(r);
}

START_TEST(test_initialize_versions)
{
    negotiate("2025-11-25", "2025-11-25");
    negotiate("2025-03-26", "2025-03-26");
    negotiate("1999-01-01", MCP_LATEST_VERSION);
    negotiate("2026-07-28", MCP_LATEST_VERSION);
    json_t *r = call("tools/call", "{\"name\":\"version\"}");
    assert_err(r, JSONRPC_INVALID_REQUEST, "not initialized"); /* initialized not sent */
    json_decref(r);
}
END_TEST

START_TEST(test_initialize_bad_params)
{
    json_t *r = call("initialize", "{\"capabilities\":{}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "protocolVersion");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "field")), "protocolVersion");
    json_decref(r);
    r = call("initialize", "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":[]}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "capabilities");
    json_decref(r);
    r = call("initialize", "{\"protocolVersion\":7}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "must be a string");
    json_decref(r);
    ck_assert_str_eq(F.sess->st.protocol_version, ""); /* nothing recorded */
}
END_TEST

START_TEST(test_capabilities_only_what_exists)
{
    teardown();
    setup_opts(50, 16, 0);
    add_tool("echo", t_echo, ECHO_IN, ECHO_OUT);
    json_t *r = call("initialize", "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}");
    json_t *caps = json_object_get(result_of(r), "capabilities");
    ck_assert(json_is_object(json_object_get(caps, "tools")));
    ck_assert_ptr_null(json_object_get(caps, "resources"));
    ck_assert_ptr_null(json_object_get(caps, "prompts"));
    ck_assert_ptr_null(json_object_get(caps, "completions"));
    json_decref(r);
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    r = call("prompts/list", NULL);
    assert_err(r, JSONRPC_METHOD_NOT_FOUND, "no prompts");
    json_decref(r);
    r = call("resources/read", "{\"uri\":\"test://static\"}");
    assert_err(r, JSONRPC_METHOD_NOT_FOUND, "no resources");
    json_decref(r);
}
END_TEST

/* ---- dispatch ----------------------------------------------------------------- */

START_TEST(test_unknown_method_and_notifications)
{
    json_t *r = call("tools/frobnicate", NULL);
    assert_err(r, JSONRPC_METHOD_NOT_FOUND, "'tools/frobnicate'");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "method")),
                     "tools/frobnicate");
    json_decref(r);
    /* Notifications and stray responses are never answered. */
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}"));
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                                "\"params\":{\"requestId\":99}}"));
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\"}"));
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"id\":\"srv-999\",\"result\":{}}"));
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1,"
                                "\"message\":\"x\"}}"));
    /* notifications/initialized before initialize does not skip it. */
    ck_assert_ptr_null(send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    ck_assert_int_eq(F.sess->st.initialized, 0);
    r = call("tools/list", NULL);
    assert_err(r, JSONRPC_INVALID_REQUEST, "send initialize first");
    json_decref(r);
    ck_assert_int_eq(json_array_size(F.sent), 0);
    /* String ids are echoed as given. */
    r = send_raw("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}");
    ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "abc");
    json_decref(r);
}
END_TEST

START_TEST(test_set_level)
{
    init_session("2025-11-25");
    json_t *r = call("logging/setLevel", "{\"level\":\"loud\"}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "'level' must be one of");
    json_decref(r);
    r = call("logging/setLevel", NULL);
    assert_err(r, JSONRPC_INVALID_PARAMS, "level");
    json_decref(r);
    ck_assert_int_eq(F.sess->st.log_level, MCP_LOG_INFO);
    r = call("logging/setLevel", "{\"level\":\"alert\"}");
    result_of(r);
    json_decref(r);
    ck_assert_int_eq(F.sess->st.log_level, MCP_LOG_ALERT);
}
END_TEST

START_TEST(test_inflight_limit)
{
    teardown();
    setup_opts(50, 2, 1);
    init_session("2025-11-25");
    /* Two requests in flight elsewhere fill the session's slots. */
    ck_assert_int_eq(session_begin_request(F.sess, 2), 0);
    ck_assert_int_eq(session_begin_request(F.sess, 2), 0);
    json_t *r = call("ping", NULL);
    assert_err(r, -32000, "too many concurrent requests on this session (limit 2)");
    ck_assert_int_eq(json_integer_value(json_object_get(err_data(r), "limit")), 2);
    json_decref(r);
    session_end_request(F.sess);
    r = call("ping", NULL);
    result_of(r);
    json_decref(r);
    session_end_request(F.sess);
    ck_assert_uint_eq(F.sess->inflight, 0); /* our own slot was given back */
}
END_TEST

/* ---- tools ------------------------------------------------------------------ */

START_TEST(test_tools_list_entries)
{
    init_session("2025-11-25");
    json_t *r = call("tools/list", NULL);
    json_t *tools = json_object_get(result_of(r), "tools");
    ck_assert_int_eq(json_array_size(tools), 5);
    json_t *echo = json_array_get(tools, 0);
    ck_assert_str_eq(json_string_value(json_object_get(echo, "name")), "echo");
    ck_assert_str_eq(json_string_value(json_object_get(echo, "title")), "Echo");
    ck_assert_str_eq(json_string_value(json_object_get(echo, "description")), "a test tool");
    json_t *in = json_object_get(echo, "inputSchema");
    ck_assert(json_is_false(json_object_get(in, "additionalProperties")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(in, "required"), 0)),
                     "text");
    ck_assert(json_is_object(json_object_get(echo, "outputSchema")));
    ck_assert(json_is_true(json_object_get(json_object_get(echo, "annotations"),
                                           "readOnlyHint")));
    json_t *fails = json_array_get(tools, 3);
    ck_assert_str_eq(json_string_value(json_object_get(fails, "name")), "fails");
    ck_assert_ptr_null(json_object_get(fails, "outputSchema"));
    ck_assert_ptr_null(json_object_get(fails, "annotations"));
    ck_assert_ptr_null(json_object_get(fails, "title"));
    ck_assert_ptr_null(json_object_get(result_of(r), "nextCursor"));
    json_decref(r);
}
END_TEST

/* Walk tools/list page by page, collecting names. */
static void collect_pages(const char *method, const char *key, char *names, size_t n,
                          int *pages)
{
    char params[128] = "{}";
    *pages = 0;
    names[0] = '\0';
    for (;;) {
        json_t *r = call(method, params);
        json_t *res = result_of(r);
        json_t *items = json_object_get(res, key);
        ck_assert_int_le(json_array_size(items), 2);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *nm = json_string_value(json_object_get(it, "name"));
            strncat(names, nm, n - strlen(names) - 1);
            strncat(names, ",", n - strlen(names) - 1);
        }
        (*pages)++;
        const char *next = json_string_value(json_object_get(res, "nextCursor"));
        if (!next) {
            json_decref(r);
            return;
        }
        snprintf(params, sizeof params, "{\"cursor\":\"%s\"}", next);
        json_decref(r);
        ck_assert_int_lt(*pages, 10);
    }
}

START_TEST(test_tools_pagination)
{
    teardown();
    setup_opts(2, 16, 1);
    init_session("2025-11-25");
    char names[256];
    int pages;
    collect_pages("tools/list", "tools", names, sizeof names, &pages);
    ck_assert_int_eq(pages, 3);
    ck_assert_str_eq(names, "echo,bad_output,no_structured,fails,version,");
    collect_pages("prompts/list", "prompts", names, sizeof names, &pages);
    ck_assert_int_eq(pages, 1);
    ck_assert_str_eq(names, "simple,with_args,");
    collect_pages("resources/list", "resources", names, sizeof names, &pages);
    ck_assert_int_eq(pages, 1);
    ck_assert_str_eq(names, "static,watched,");
    static const char *bad[] = {"\"bogus\"", "\"o:\"", "\"o:5\"", "\"o:0\"", "\"o:1x\"",
                                "\"o:-1\"", "7", "\"o:99999999999999999999999\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "{\"cursor\":%s}", bad[i]);
        json_t *r = call("tools/list", p);
        assert_err(r, JSONRPC_INVALID_PARAMS, "invalid cursor");
        ck_assert_ptr_nonnull(json_object_get(err_data(r), "cursor"));
        json_decref(r);
    }
}
END_TEST

START_TEST(test_tools_call_ok)
{
    init_session("2025-11-25");
    json_t *r = call("tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"hello\"}}");
    json_t *res = result_of(r);
    ck_assert_str_eq(text_of(res), "hello");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res,
                                                       "structuredContent"), "text")), "hello");
    ck_assert_ptr_null(json_object_get(res, "isError"));
    ck_assert_ptr_null(json_object_get(res, "resultType")); /* stateless only */
    json_decref(r);
    r = call("tools/call", "{\"name\":\"version\"}"); /* arguments absent: {} */
    ck_assert_str_eq(text_of(result_of(r)), "2025-11-25");
    json_decref(r);
}
END_TEST

START_TEST(test_tools_call_errors)
{
    init_session("2025-11-25");
    json_t *r = call("tools/call", "{\"name\":\"nope\",\"arguments\":{}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "unknown tool 'nope'");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "name")), "nope");
    json_decref(r);
    r = call("tools/call", "{\"arguments\":{}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "'name'");
    json_decref(r);
    r = call("tools/call", "{\"name\":\"echo\",\"arguments\":[1]}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "'arguments' must be an object");
    json_decref(r);
    r = call("tools/call", "{\"name\":\"fails\"}");
    assert_err(r, JSONRPC_INTERNAL_ERROR, "tool 'fails'");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "tool")), "fails");
    json_decref(r);
}
END_TEST

/* Validation failures are results with isError, naming the argument. */
START_TEST(test_tools_call_invalid_arguments)
{
    init_session("2025-11-25");
    json_t *r = call("tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":5}}");
    json_t *res = result_of(r);
    ck_assert(json_is_true(json_object_get(res, "isError")));
    ck_assert_msg(strstr(text_of(res), "invalid arguments for tool 'echo'") &&
                      strstr(text_of(res), "text"), "%s", text_of(res));
    json_decref(r);
    r = call("tools/call", "{\"name\":\"echo\",\"arguments\":{}}");
    res = result_of(r);
    ck_assert(json_is_true(json_object_get(res, "isError")));
    ck_assert_msg(strstr(text_of(res), "text"), "%s", text_of(res));
    json_decref(r);
    r = call("tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"a\",\"colour\":1}}");
    res = result_of(r);
    ck_assert(json_is_true(json_object_get(res, "isError")));
    ck_assert_msg(strstr(text_of(res), "colour"), "%s", text_of(res));
    json_decref(r);
}
END_TEST

START_TEST(test_tools_call_bad_output)
{
    init_session("2025-11-25");
    json_t *r = call("tools/call", "{\"name\":\"bad_output\"}");
    json_t *res = result_of(r);
    ck_assert(json_is_true(json_object_get(res, "isError")));
    ck_assert_msg(strstr(text_of(res), "outputSchema"), "%s", text_of(res));
    ck_assert_ptr_null(json_object_get(res, "structuredContent")); /* never sent wrong */
    json_decref(r);
    r = call("tools/call", "{\"name\":\"no_structured\"}");
    res = result_of(r);
    ck_assert(json_is_true(json_object_get(res, "isError")));
    ck_assert_msg(strstr(text_of(res), "no structuredContent"), "%s", text_of(res));
    json_decref(r);
}
END_TEST

static int add_tool_rc(const char *name, const char *in, const char *out, const char *ann,
                       char *err, size_t errlen)
{
    struct mcp_tool t = {.name = name, .description = "d", .input_schema = in,
                         .output_schema = out, .annotations = ann, .call = t_echo};
    return mcp_server_add_tool(F.srv, &t, err, errlen);
}

START_TEST(test_add_tool_errors)
{
    char err[256];
    ck_assert_int_eq(add_tool_rc("has space", EMPTY_IN, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "has space"));
    ck_assert_int_eq(add_tool_rc("", EMPTY_IN, NULL, NULL, err, sizeof err), -1);
    char longname[140];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    ck_assert_int_eq(add_tool_rc(longname, EMPTY_IN, NULL, NULL, err, sizeof err), -1);
    longname[128] = '\0';
    ck_assert_int_eq(add_tool_rc(longname, EMPTY_IN, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq(add_tool_rc("echo", EMPTY_IN, NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "already registered"));
    ck_assert_int_eq(add_tool_rc("x1", "{not json", NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "inputSchema is not JSON"));
    ck_assert_int_eq(add_tool_rc("x2", "{\"type\":\"string\"}", NULL, NULL, err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "\"type\": \"object\""));
    ck_assert_int_eq(add_tool_rc("x3", EMPTY_IN, "[1]", NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "outputSchema"));
    ck_assert_int_eq(add_tool_rc("x4", EMPTY_IN, NULL, "[]", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "annotations"));
    ck_assert_int_eq(add_tool_rc("x5", "{\"type\":\"object\",\"frobnicate\":1}", NULL, NULL,
                                 err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "x5"));
    ck_assert_int_eq(add_tool_rc("x.ok-1", EMPTY_IN, N_OUT, "{}", err, sizeof err), 0);
}
END_TEST

/* ---- resources -------------------------------------------------------------- */

START_TEST(test_resources)
{
    init_session("2025-11-25");
    json_t *r = call("resources/list", NULL);
    json_t *list = json_object_get(result_of(r), "resources");
    ck_assert_int_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "uri")),
                     "test://static");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "mimeType")),
                     "text/plain");
    json_decref(r);
    r = call("resources/templates/list", NULL);
    list = json_object_get(result_of(r), "resourceTemplates");
    ck_assert_int_eq(json_array_size(list), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "uriTemplate")),
                     "test://t/{id}/data");
    json_decref(r);
    r = call("resources/read", "{\"uri\":\"test://static\"}");
    json_t *c0 = json_array_get(json_object_get(result_of(r), "contents"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c0, "uri")), "test://static");
    json_decref(r);
    r = call("resources/read", "{\"uri\":\"test://t/42/data\"}");
    c0 = json_array_get(json_object_get(result_of(r), "contents"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c0, "uri")), "test://t/42/data");
    json_decref(r);
}
END_TEST

START_TEST(test_resources_errors)
{
    init_session("2025-11-25");
    static const char *missing[] = {"test://nope", "test://t//data", "test://t/a/b/data",
                                    "test://t/42/data/", "test://t/42/dat",
                                    "test://t/missing/data"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "{\"uri\":\"%s\"}", missing[i]);
        json_t *r = call("resources/read", p);
        assert_err(r, MCP_RESOURCE_NOT_FOUND, missing[i]);
        ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "uri")), missing[i]);
        json_decref(r);
    }
    json_t *r = call("resources/read", "{\"uri\":\"test://t/broken/data\"}");
    assert_err(r, JSONRPC_INTERNAL_ERROR, "test://t/broken/data");
    json_decref(r);
    r = call("resources/read", "{}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "'uri' must be a string");
    json_decref(r);
}
END_TEST

/* The session's subscription set (private table, read for the test). */
static size_t subs_count(void)
{
    struct mcp_proto *p = F.sess->proto;
    return p ? p->nsubs : 0;
}

START_TEST(test_subscribe)
{
    init_session("2025-11-25");
    json_t *r = call("resources/subscribe", "{\"uri\":\"test://watched\"}");
    ck_assert_int_eq(json_object_size(result_of(r)), 0);
    json_decref(r);
    ck_assert_uint_eq(subs_count(), 1);
    r = call("resources/subscribe", "{\"uri\":\"test://watched\"}"); /* idempotent */
    result_of(r);
    json_decref(r);
    ck_assert_uint_eq(subs_count(), 1);
    r = call("resources/subscribe", "{\"uri\":\"test://static\"}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "cannot be subscribed");
    json_decref(r);
    r = call("resources/subscribe", "{\"uri\":\"test://t/1/data\"}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "test://t/1/data");
    json_decref(r);
    r = call("resources/unsubscribe", "{\"uri\":\"test://watched\"}");
    result_of(r);
    json_decref(r);
    r = call("resources/unsubscribe", "{\"uri\":\"test://watched\"}");
    result_of(r);
    json_decref(r);
    r = call("resources/unsubscribe", "{\"uri\":\"test://static\"}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "cannot be subscribed");
    json_decref(r);
    ck_assert_uint_eq(subs_count(), 0);
}
END_TEST

START_TEST(test_add_resource_errors)
{
    char err[256];
    struct mcp_resource r = {.uri = "test://static", .name = "x", .read = r_read};
    ck_assert_int_eq(mcp_server_add_resource(F.srv, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "already registered"));
    r.read = NULL;
    r.uri = "test://other";
    ck_assert_int_eq(mcp_server_add_resource(F.srv, &r, err, sizeof err), -1);
    static const char *bad[] = {"test://no-vars", "test://{}/x", "test://{a}{b}", "test://{a",
                                "test://a}", "test://{a b}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mcp_resource_template t = {.uri_template = bad[i], .name = "t", .read = r_read};
        ck_assert_msg(mcp_server_add_resource_template(F.srv, &t, err, sizeof err) == -1,
                      "%s accepted", bad[i]);
    }
    struct mcp_resource_template t = {.uri_template = "x://{a}/{b}", .name = "t",
                                      .read = r_read};
    ck_assert_int_eq(mcp_server_add_resource_template(F.srv, &t, err, sizeof err), 0);
    ck_assert_int_eq(mcp_server_add_resource_template(F.srv, &t, err, sizeof err), -1);
    struct mcp_prompt p = {.name = "simple", .get = p_get};
    ck_assert_int_eq(mcp_server_add_prompt(F.srv, &p, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "already registered"));
}
END_TEST

/* ---- prompts and completion ------------------------------------------------------ */

START_TEST(test_prompts)
{
    init_session("2025-11-25");
    json_t *r = call("prompts/list", NULL);
    json_t *p2 = json_array_get(json_object_get(result_of(r), "prompts"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(p2, "name")), "with_args");
    json_t *a0 = json_array_get(json_object_get(p2, "arguments"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(a0, "name")), "arg1");
    ck_assert(json_is_true(json_object_get(a0, "required")));
    json_decref(r);
    r = call("prompts/get", "{\"name\":\"with_args\",\"arguments\":{\"arg1\":\"v1\"}}");
    json_t *msg = json_array_get(json_object_get(result_of(r), "messages"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(msg, "content"), "text")),
                     "v1");
    json_decref(r);
    r = call("prompts/get", "{\"name\":\"simple\"}");
    result_of(r);
    json_decref(r);
    r = call("prompts/get", "{\"name\":\"with_args\",\"arguments\":{\"arg2\":\"x\"}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "missing required argument 'arg1'");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "argument")), "arg1");
    json_decref(r);
    r = call("prompts/get", "{\"name\":\"with_args\",\"arguments\":{\"arg1\":3}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "must be a string");
    json_decref(r);
    r = call("prompts/get", "{\"name\":\"ghost\"}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "unknown prompt 'ghost'");
    json_decref(r);
    r = call("prompts/get", "{}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "'name'");
    json_decref(r);
}
END_TEST

START_TEST(test_completion)
{
    init_session("2025-11-25");
    json_t *r = call("completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":"
                                            "\"with_args\"},\"argument\":{\"name\":\"arg1\","
                                            "\"value\":\"v\"}}");
    json_t *comp = json_object_get(result_of(r), "completion");
    ck_assert_int_eq(json_array_size(json_object_get(comp, "values")), 100);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(comp, "values"), 0)), "v0");
    ck_assert_int_eq(json_integer_value(json_object_get(comp, "total")), 150);
    ck_assert(json_is_true(json_object_get(comp, "hasMore")));
    json_decref(r);
    r = call("completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"simple\"},"
                                    "\"argument\":{\"name\":\"arg1\",\"value\":\"\"}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "has no argument 'arg1'");
    json_decref(r);
    r = call("completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"ghost\"},"
                                    "\"argument\":{\"name\":\"a\",\"value\":\"\"}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "unknown prompt 'ghost'");
    json_decref(r);
    r = call("completion/complete", "{\"ref\":{\"type\":\"ref/resource\",\"uri\":"
                                    "\"test://t/{id}/data\"},\"argument\":{\"name\":\"id\","
                                    "\"value\":\"1\"}}");
    comp = json_object_get(result_of(r), "completion");
    ck_assert_int_eq(json_array_size(json_object_get(comp, "values")), 0);
    ck_assert(json_is_false(json_object_get(comp, "hasMore")));
    json_decref(r);
    r = call("completion/complete", "{\"ref\":{\"type\":\"ref/tool\"},\"argument\":{\"name\":"
                                    "\"a\",\"value\":\"\"}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "unknown ref type 'ref/tool'");
    json_decref(r);
    r = call("completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"simple\"}}");
    assert_err(r, JSONRPC_INVALID_PARAMS, "'argument'");
    json_decref(r);
}
END_TEST

/* ---- the stateless era (2026-07-28) -------------------------------------------------- */

static void make_stateless(void)
{
    snprintf(F.sess->st.protocol_version, sizeof F.sess->st.protocol_version, "%s",
             MCP_STATELESS_VERSION);
}

START_TEST(test_stateless_discover)
{
    make_stateless();
    json_t *r = call("server/discover", "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
                                        "\"2026-07-28\",\"io.modelcontextprotocol/"
                                        "clientCapabilities\":{}}}");
    json_t *res = result_of(r);
    json_t *vers = json_object_get(res, "supportedVersions");
    ck_assert_int_eq(json_array_size(vers), 4);
    ck_assert_str_eq(json_string_value(json_array_get(vers, 0)), "2026-07-28");
    ck_assert(json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "serverInfo"),
                                                       "name")), "test-server");
    ck_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete");
    json_decref(r);
}
END_TEST

START_TEST(test_stateless_requests)
{
    make_stateless();
    /* No initialize: tools work at once, with this revision's version. */
    json_t *r = call("tools/call", "{\"name\":\"version\"}");
    ck_assert_str_eq(text_of(result_of(r)), "2026-07-28");
    ck_assert_str_eq(json_string_value(json_object_get(result_of(r), "resultType")), "complete");
    json_decref(r);
    r = call("prompts/get", "{\"name\":\"simple\"}");
    result_of(r);
    json_decref(r);
    r = call("initialize", "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}");
    assert_err(r, JSONRPC_INVALID_REQUEST, "server/discover");
    json_decref(r);
    r = call("ping", NULL);
    assert_err(r, JSONRPC_METHOD_NOT_FOUND, "not part of protocol revision 2026-07-28");
    json_decref(r);
    r = call("logging/setLevel", "{\"level\":\"debug\"}");
    assert_err(r, JSONRPC_METHOD_NOT_FOUND, "2026-07-28");
    json_decref(r);
    r = call("resources/subscribe", "{\"uri\":\"test://watched\"}");
    assert_err(r, JSONRPC_METHOD_NOT_FOUND, "2026-07-28");
    json_decref(r);
    r = call("tools/list", "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
                           "\"2025-11-25\"}}");
    assert_err(r, -32022, "unsupported protocol version");
    ck_assert_str_eq(json_string_value(json_object_get(err_data(r), "requested")), "2025-11-25");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(err_data(r), "supported"),
                                                      0)), "2026-07-28");
    json_decref(r);
    ck_assert_str_eq(F.sess->st.protocol_version, "2026-07-28"); /* untouched */
}
END_TEST

/* On a session that never saw initialize (stdio), _meta alone selects the era. */
START_TEST(test_stateless_by_meta)
{
    const char *meta = "{\"name\":\"version\",\"_meta\":{\"io.modelcontextprotocol/"
                       "protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/"
                       "clientCapabilities\":{}}}";
    json_t *r = call("tools/call", meta);
    ck_assert_str_eq(text_of(result_of(r)), "2026-07-28");
    json_decref(r);
    r = call("tools/call", "{\"name\":\"version\"}"); /* without _meta: session rules */
    assert_err(r, JSONRPC_INVALID_REQUEST, "not initialized");
    json_decref(r);
    /* server/discover is also answered in the session era (a probe). */
    r = call("server/discover", NULL);
    ck_assert_ptr_nonnull(json_object_get(result_of(r), "supportedVersions"));
    ck_assert_ptr_null(json_object_get(result_of(r), "resultType"));
    json_decref(r);
    init_session("2025-11-25");
    r = call("tools/call", meta); /* an initialized session stays in its era */
    ck_assert_str_eq(text_of(result_of(r)), "2025-11-25");
    json_decref(r);
}
END_TEST

/* ---- metrics ------------------------------------------------------------------------- */

static uint64_t count(const char *method, const char *outcome)
{
    resil_metrics_family *f;
    resil_metrics_counter *c;
    const char *vals[] = {method, outcome};
    ck_assert_int_eq(resil_metrics_family_find(F.metrics, "mcp_requests_total", &f), 0);
    ck_assert_int_eq(resil_metrics_counter_get(f, vals, &c), 0);
    return resil_metrics_counter_value(c);
}

START_TEST(test_metrics)
{
    init_session("2025-11-25");
    json_t *r = call("tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"a\"}}");
    json_decref(r);
    r = call("tools/call", "{\"name\":\"echo\",\"arguments\":{}}");
    json_decref(r);
    r = call("tools/call", "{\"name\":\"nope\"}");
    json_decref(r);
    r = call("x/y", NULL);
    json_decref(r);
    r = call("z", NULL);
    json_decref(r);
    ck_assert_uint_eq(count("initialize", "ok"), 1);
    ck_assert_uint_eq(count("tools/call", "ok"), 1);
    ck_assert_uint_eq(count("tools/call", "tool_error"), 1);
    ck_assert_uint_eq(count("tools/call", "error"), 1);
    ck_assert_uint_eq(count("other", "error"), 2);
    resil_metrics_family *f;
    resil_metrics_family_stats st;
    ck_assert_int_eq(resil_metrics_family_find(F.metrics, "mcp_request_seconds", &f), 0);
    resil_metrics_family_stats_get(f, &st);
    ck_assert_uint_eq(st.overflows, 0);
    resil_metrics_histogram *h;
    const char *vals[] = {"tools/call"};
    resil_metrics_histogram_stats hs;
    ck_assert_int_eq(resil_metrics_histogram_get(f, vals, &h), 0);
    ck_assert_int_eq(resil_metrics_histogram_stats_get(h, &hs), 0);
    ck_assert_uint_eq(hs.count, 3);
}
END_TEST

START_TEST(test_server_new_defaults)
{
    struct mcp_server *s = NULL;
    ck_assert_int_eq(mcp_server_new(NULL, &s), 0);
    const struct mcp_server_opts *o = mcp_server_opts_get(s);
    ck_assert_uint_eq(o->max_inflight, 16);
    ck_assert_uint_eq(o->page_size, 50);
    ck_assert(o->client_request_timeout_ns == 60LL * 1000000000LL);
    ck_assert_ptr_null(mcp_server_opts_get(NULL));
    mcp_server_free(s);
    mcp_server_free(NULL);
    ck_assert_int_eq(mcp_server_new(NULL, NULL), -1);
    ck_assert_ptr_null(mcp_handle(NULL, NULL, NULL, NULL));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_results_helpers);
    tcase_add_test(tc, test_lifecycle_order);
    tcase_add_test(tc, test_initialize_result);
    tcase_add_test(tc, test_initialize_versions);
    tcase_add_test(tc, test_initialize_bad_params);
    tcase_add_test(tc, test_capabilities_only_what_exists);
    tcase_add_test(tc, test_unknown_method_and_notifications);
    tcase_add_test(tc, test_set_level);
    tcase_add_test(tc, test_inflight_limit);
    tcase_add_test(tc, test_tools_list_entries);
    tcase_add_test(tc, test_tools_pagination);
    tcase_add_test(tc, test_tools_call_ok);
    tcase_add_test(tc, test_tools_call_errors);
    tcase_add_test(tc, test_tools_call_invalid_arguments);
    tcase_add_test(tc, test_tools_call_bad_output);
    tcase_add_test(tc, test_add_tool_errors);
    tcase_add_test(tc, test_resources);
    tcase_add_test(tc, test_resources_errors);
    tcase_add_test(tc, test_subscribe);
    tcase_add_test(tc, test_add_resource_errors);
    tcase_add_test(tc, test_prompts);
    tcase_add_test(tc, test_completion);
    tcase_add_test(tc, test_stateless_discover);
    tcase_add_test(tc, test_stateless_requests);
    tcase_add_test(tc, test_stateless_by_meta);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_server_new_defaults);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_setup(2, LOG_OFF); /* the error paths log; keep the output readable */
    return tu_run(suite());
}
