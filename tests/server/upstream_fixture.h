/* Shared by test_upstream.c and test_upstream_tools.c: a real
 * fake-upstream process on 127.0.0.1 (started once per test case), libresil
 * services made from config_defaults() values pointed at it on a manual
 * clock, and an MCP server with a "hang" tool for calls through
 * mcp_handle.  Faults are switched through the fake's /_control API and its
 * statistics count the requests that reached it.  Everything is static:
 * each test file has its own copy; what one file does not use is marked
 * unused. */
#ifndef TESTS_SERVER_UPSTREAM_FIXTURE_H
#define TESTS_SERVER_UPSTREAM_FIXTURE_H

#include "../check_util.h"

#include "log.h"
#include "mcp/jsonrpc.h"
#include "tools/tools.h"
#include "upstream_int.h"

#include "fake_process.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct app A; /* cfg, up and the three services; no MCP server */
static resil_clock *clk;

/* The fake checks the keys, so a request that lost its key fails. */
static void fake_start(void)
{
    static const char *const keys[] = {"--require-key", "yt-key", "--chat-key",
                                       "chat-secret", NULL};

    if (getenv("TEST_UPSTREAM_VERBOSE") == NULL)
        log_set_level(LOG_WARN); /* each failed attempt logs at info */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    fake_start_with("test_upstream", keys);
}

static void fake_stop(void)
{
    fake_stop_process();
    curl_global_cleanup();
}

/* ---- services from config_defaults() ---------------------------------------------------- */

static void tune(struct config_service *s)
{
    s->policy.clock = clk;
    s->policy.retry.base_delay_ns = 1000000;
    s->policy.retry.max_delay_ns = 5000000;
    s->timeout_ms = 10000;
}

static resil_service *service(struct config_service *s)
{
    resil_service_opts o = s->policy;
    resil_service *svc = NULL;
    o.name = s->name;
    upstream_policy_setup(&o);
    ck_assert_rc(resil_services_add(A.services, &o, &svc), 0);
    return svc;
}

/* Make the services after a test changed A.cfg. */
static void services_make(void)
{
    ck_assert_rc(resil_services_new(&A.services), 0);
    A.youtube = service(&A.cfg.youtube);
    A.transcript = service(&A.cfg.transcript);
    A.ai = service(&A.cfg.ai);
}

static void setup(void)
{
    char base[64];
    json_decref(fake_http("POST", "/_control/reset", NULL));
    memset(&A, 0, sizeof A);
    ck_assert_rc(resil_clock_manual_new(RESIL_NS_PER_SEC, &clk), 0);
    config_defaults(&A.cfg);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", fake_port);
    snprintf(A.cfg.youtube.base_url, CONFIG_URL_MAX, "%s/youtube/v3", base);
    snprintf(A.cfg.youtube.alt_url, CONFIG_URL_MAX, "%s/oembed", base);
    snprintf(A.cfg.transcript.base_url, CONFIG_URL_MAX, "%s", base);
    snprintf(A.cfg.ai.base_url, CONFIG_URL_MAX, "%s/v1/", base);
    snprintf(A.cfg.youtube_key, sizeof A.cfg.youtube_key, "yt-key");
    snprintf(A.cfg.ai_key, sizeof A.cfg.ai_key, "chat-secret");
    tune(&A.cfg.youtube);
    tune(&A.cfg.transcript);
    tune(&A.cfg.ai);
    struct upstream_opts uo = {.max_handles = 4};
    ck_assert_int_eq(upstream_new(&uo, &A.up), 0);
    A.clock = clk;
}

static void teardown(void)
{
    upstream_free(A.up);
    resil_services_free(A.services);
    resil_clock_free(clk);
    memset(&A, 0, sizeof A);
}

static char *url(const char *path)
{
    static _Thread_local char buf[512]; /* threads call it at once */
    snprintf(buf, sizeof buf, "http://127.0.0.1:%u%s", fake_port, path);
    return buf;
}

__attribute__((unused))
static int get(resil_service *svc, struct config_service *sc, const char *path, char **body,
               struct upstream_result *res)
{
    struct upstream_req req = {.method = "GET", .url = url(path)};
    size_t len = 0;
    return upstream_call(A.up, svc, sc, NULL, &req, body, &len, res);
}

#define YT_PATH "/youtube/v3/videos?part=snippet&id=dQw4w9WgXcQ&key=yt-key"
#define TR_PATH "/transcript?video_id=jNQXAC9IVRw"
#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL, "'%s' lacks '%s'", (s), (sub))
#define LACKS(s, sub) ck_assert_msg(strstr((s), (sub)) == NULL, "'%s' has '%s'", (s), (sub))

/* ---- an MCP server for calls through mcp_handle ------------------------------------------ */

/* What the "hang" tool's upstream call returned (cancel_through_mcp). */
static struct upstream_result tool_res;
static int tool_rc = 99;

static int hang_tool(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    struct upstream_req req = {.method = "GET",
                               .url = url("/oembed?url=https://youtu.be/jNQXAC9IVRw")};
    (void)args;
    (void)ctx;
    tool_rc = upstream_call(A.up, A.youtube, &A.cfg.youtube, c, &req, NULL, NULL, &tool_res);
    *result = mcp_result_text("done", NULL);
    return 0;
}

struct mcp_env {
    struct mcp_server *srv;
    struct session_table *tab;
    struct session *s;
};

static int drop(struct mcp_sink *k, json_t *msg)
{
    (void)k;
    json_decref(msg);
    return 0;
}

static struct mcp_sink sink = {.send = drop};

static json_t *handle(struct mcp_env *e, const char *text)
{
    struct jsonrpc_limits lim = {JSONRPC_DEFAULT_MAX_BYTES, JSONRPC_DEFAULT_MAX_DEPTH};
    struct jsonrpc_msg m;
    json_t *reply = NULL;
    ck_assert_int_eq(jsonrpc_parse(text, strlen(text), &lim, &m, &reply), 0);
    json_t *r = mcp_handle(e->srv, e->s, &m, &sink);
    jsonrpc_msg_clear(&m);
    return r;
}

static void mcp_env_init(struct mcp_env *e, int with_tools)
{
    struct mcp_server_opts o;
    struct session_table_opts so = {0};
    struct mcp_tool t = {.name = "hang", .description = "hangs upstream",
                         .input_schema = "{\"type\":\"object\"}", .call = hang_tool};
    char err[200];
    mcp_server_opts_init(&o);
    ck_assert_int_eq(mcp_server_new(&o, &e->srv), 0);
    ck_assert_msg(mcp_server_add_tool(e->srv, &t, err, sizeof err) == 0, "%s", err);
    A.mcp = e->srv;
    if (with_tools) {
        ck_assert_msg(tools_register_youtube(&A, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(tools_register_ai(&A, err, sizeof err) == 0, "%s", err);
    }
    ck_assert_int_eq(session_table_new(&so, &e->tab), 0);
    ck_assert_int_eq(session_create(e->tab, &e->s), 0);
    json_decref(handle(e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                          "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                          "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"));
    ck_assert_ptr_null(handle(e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

#endif
