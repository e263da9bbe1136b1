/* Shared by test_protocol.c and test_protocol_lists.c: a server with a
 * captured sink, the tools, resources and prompts the tests register, and
 * helpers that send a request through mcp_handle() and look at the reply.
 * Everything is static: each test file has its own copy; what one file
 * does not use is marked unused. */
#ifndef TESTS_SERVER_PROTOCOL_FIXTURE_H
#define TESTS_SERVER_PROTOCOL_FIXTURE_H

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

__attribute__((unused))
static const char *text_of(json_t *result)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"),
                                                            0), "text"));
}

#endif
