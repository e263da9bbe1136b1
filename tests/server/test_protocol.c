/* The MCP protocol layer driven through mcp_handle(): lifecycle, version
 * negotiation, dispatch errors, tools (validation, output checks), the
 * stateless era, the concurrency limit and metrics.  Resources, prompts,
 * completion and list pagination are in test_protocol_lists.c; calls that
 * block (progress, cancellation, sampling) in test_protocol_call.c.  The
 * fixture is protocol_fixture.h. */
#include "protocol_fixture.h"

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
    tcase_add_test(tc, test_tools_call_ok);
    tcase_add_test(tc, test_tools_call_errors);
    tcase_add_test(tc, test_tools_call_invalid_arguments);
    tcase_add_test(tc, test_tools_call_bad_output);
    tcase_add_test(tc, test_add_tool_errors);
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
