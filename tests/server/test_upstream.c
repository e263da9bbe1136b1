/* The upstream client (server/upstream.c) and the tools' upstream functions
 * (server/tools/youtube.c, ai.c) against a real fake-upstream process on
 * 127.0.0.1, through real libresil services made from config_defaults()
 * values pointed at the fake.  The services run on a manual clock: a retry
 * "sleeps" by advancing it, so a Retry-After is visible as clock time and
 * no test waits for it.  Faults are switched through the fake's /_control
 * API and its statistics count the requests that reached it. */
#include "../check_util.h"

#include "log.h"
#include "mcp/jsonrpc.h"
#include "tools/tools.h"

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

#define FAKE_START_MS 10000
#define WAIT_MS 10000

/* Internal entry points (declared in their .c files; not in the headers). */
size_t upstream__cancel_all(struct upstream *u);
int64_t youtube_duration_seconds(const char *iso);

static pid_t fake_pid = -1;
static int fake_in = -1;
static unsigned fake_port;
static char fake_dir[64];

static struct app A; /* cfg, up and the three services; no MCP server */
static resil_clock *clk;

/* ---- the fake upstream ----------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void fake_spawn(const char *bin, const char *port_file)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fake_pid = fork();
    ck_assert_int_ge(fake_pid, 0);
    if (fake_pid == 0) {
        dup2(p[0], 0);
        close(p[1]);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0 && getenv("TEST_UPSTREAM_VERBOSE") == NULL)
            dup2(null, 2);
        execl(bin, bin, "--port", "0", "--port-file", port_file, "--exit-on-stdin-eof",
              "--require-key", "yt-key", "--chat-key", "chat-secret", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    fake_in = p[1];
    fcntl(fake_in, F_SETFD, FD_CLOEXEC);
}

static void fake_start(void)
{
    const char *top = getenv("top_builddir");
    char bin[512], port_file[128];
    if (getenv("TEST_UPSTREAM_VERBOSE") == NULL)
        log_set_level(LOG_WARN); /* each failed attempt logs at info */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    snprintf(bin, sizeof bin, "%s/tests/fake_upstream/fake-upstream", top ? top : ".");
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    snprintf(fake_dir, sizeof fake_dir, "/tmp/test_upstream.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fake_dir));
    snprintf(port_file, sizeof port_file, "%s/port", fake_dir);
    fake_spawn(bin, port_file);
    for (int waited = 0; fake_port == 0 && waited < FAKE_START_MS; waited += 10) {
        FILE *f = fopen(port_file, "r");
        if (f == NULL || fscanf(f, "%u", &fake_port) != 1)
            fake_port = 0;
        if (f != NULL)
            fclose(f);
        if (fake_port == 0)
            sleep_ms(10);
    }
    ck_assert_msg(fake_port > 0, "fake-upstream wrote no port file in %d ms", FAKE_START_MS);
}

static void fake_stop(void)
{
    char path[128];
    int st;
    if (fake_in >= 0)
        close(fake_in); /* --exit-on-stdin-eof: the fake stops */
    fake_in = -1;
    if (fake_pid > 0 && waitpid(fake_pid, &st, 0) < 0)
        kill(fake_pid, SIGKILL);
    fake_pid = -1;
    fake_port = 0;
    snprintf(path, sizeof path, "%s/port", fake_dir);
    unlink(path);
    rmdir(fake_dir);
    curl_global_cleanup();
}

static size_t grab(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ctx);
}

static json_t *fake_http(const char *method, const char *path, const char *body)
{
    CURL *h = curl_easy_init();
    char url[256], *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", fake_port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    fclose(out);
    curl_easy_cleanup(h);
    json_t *j = json_loads(buf, 0, NULL);
    ck_assert_msg(j != NULL, "%s %s: not JSON: %s", method, path, buf);
    free(buf);
    return j;
}

static void fake_fault(const char *json)
{
    json_t *r = fake_http("POST", "/_control/fault", json);
    ck_assert_msg(json_is_true(json_object_get(r, "ok")), "fault %s refused", json);
    json_decref(r);
}

static json_int_t fake_count(const char *svc)
{
    json_t *st = fake_http("GET", "/_control/stats", NULL);
    json_int_t n = json_integer_value(json_object_get(json_object_get(st, "requests"), svc));
    json_decref(st);
    return n;
}

/* Poll (bounded) until the fake has seen n requests of svc. */
static void fake_wait_count(const char *svc, json_int_t n)
{
    for (int waited = 0; fake_count(svc) < n && waited < WAIT_MS; waited += 5)
        sleep_ms(5);
    ck_assert_int_ge(fake_count(svc), n);
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

/* ---- the HTTP client ------------------------------------------------------------------- */

START_TEST(get_ok)
{
    struct upstream_result res;
    char *body = NULL;
    services_make();
    ck_assert_int_eq(get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res), 0);
    HAS(body, "\"id\":\"dQw4w9WgXcQ\"");
    ck_assert_int_eq(res.rc, UPSTREAM_OK);
    ck_assert_int_eq(res.http_status, 200);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_int_eq(res.from_cache, 0);
    free(body);
}
END_TEST

START_TEST(post_ok)
{
    static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                               "\"hi\"}]}";
    const char *const hdrs[] = {"Authorization: Bearer chat-secret", NULL};
    struct upstream_req req = {.method = "POST", .url = url("/v1/chat/completions"),
                               .headers = hdrs, .body = body, .body_len = strlen(body)};
    struct upstream_result res;
    json_t *j = NULL;
    services_make();
    ck_assert_int_eq(upstream_call_json(A.up, A.ai, &A.cfg.ai, NULL, &req, &j, &res), 0);
    json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "content")), "Echo: hi");
    json_decref(j);
}
END_TEST

START_TEST(client_error_not_retried)
{
    struct upstream_result res;
    resil_breaker_stats st;
    char *body = (char *)"x";
    services_make();
    ck_assert_int_eq(get(A.transcript, &A.cfg.transcript, "/transcript?video_id=nope&k=s3cr3t",
                         &body, &res), -1);
    ck_assert_ptr_null(body);
    ck_assert_int_eq(res.rc, UPSTREAM_HTTP_CLIENT);
    ck_assert_int_eq(res.http_status, 404);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_int_eq(fake_count("transcript"), 1);
    HAS(res.message, "video_analysis: HTTP 404 from GET http://127.0.0.1:");
    HAS(res.message, "/transcript: no transcript for nope");
    LACKS(res.message, "s3cr3t");
    LACKS(res.message, "video_id");
    resil_breaker_stats_get(resil_service_breaker(A.transcript), &st);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_uint_eq(st.ignored, 1);
}
END_TEST

START_TEST(server_error_retried)
{
    struct upstream_result res;
    char *body = NULL;
    services_make();
    fake_fault("{\"service\":\"youtube\",\"mode\":\"status\",\"status\":503,\"count\":2}");
    ck_assert_int_eq(get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res), 0);
    ck_assert_uint_eq(res.attempts, 3);
    ck_assert_int_eq(fake_count("youtube"), 3);
    HAS(body, "dQw4w9WgXcQ");
    free(body);
    /* always failing: the message names the status, the URL and the attempts */
    fake_fault("{\"service\":\"youtube\",\"mode\":\"status\",\"status\":503,\"count\":3}");
    ck_assert_int_eq(get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res), -1);
    ck_assert_int_eq(res.rc, UPSTREAM_HTTP_SERVER);
    char want[160];
    snprintf(want, sizeof want, "youtube_api: HTTP 503 from GET http://127.0.0.1:%u"
             "/youtube/v3/videos after 3 attempts", fake_port);
    HAS(res.message, want);
    HAS(res.message, "retry later");
    LACKS(res.message, "yt-key");
}
END_TEST

START_TEST(retry_after_honoured)
{
    struct upstream_result res;
    char *body = NULL;
    services_make();
    fake_fault("{\"service\":\"transcript\",\"mode\":\"ratelimit\",\"retry_after\":\"1\","
               "\"count\":1}");
    int64_t t0 = resil_clock_now(clk);
    ck_assert_int_eq(get(A.transcript, &A.cfg.transcript, TR_PATH, &body, &res), 0);
    ck_assert_uint_eq(res.attempts, 2);
    /* the backoff (at most 5 ms here) was raised to the 1 s asked for */
    ck_assert_int_ge(resil_clock_now(clk) - t0, RESIL_NS_PER_SEC);
    free(body);
}
END_TEST

START_TEST(retry_after_too_long)
{
    struct upstream_result res;
    char *body = NULL;
    services_make();
    fake_fault("{\"service\":\"transcript\",\"mode\":\"ratelimit\",\"retry_after\":\"120\","
               "\"count\":1}");
    ck_assert_int_eq(get(A.transcript, &A.cfg.transcript, TR_PATH, &body, &res), -1);
    ck_assert_uint_eq(res.attempts, 1); /* over max_retry_after (30 s): not waited for */
    ck_assert_int_eq(res.rc, UPSTREAM_HTTP_RATE);
    ck_assert_int_eq(res.retry_after_ns, 120 * RESIL_NS_PER_SEC);
    HAS(res.message, "HTTP 429");
    HAS(res.message, "retry in 120 s");
}
END_TEST

START_TEST(reset_retried)
{
    static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                               "\"x\"}]}";
    const char *const hdrs[] = {"Authorization: Bearer chat-secret", NULL};
    struct upstream_req req = {.method = "POST", .url = url("/v1/chat/completions"),
                               .headers = hdrs, .body = body, .body_len = strlen(body)};
    struct upstream_result res;
    char *out = NULL;
    size_t len;
    services_make();
    fake_fault("{\"service\":\"chat\",\"mode\":\"reset\",\"count\":1}");
    ck_assert_int_eq(upstream_call(A.up, A.ai, &A.cfg.ai, NULL, &req, &out, &len, &res), 0);
    ck_assert_uint_eq(res.attempts, 2);
    HAS(out, "chat.completion");
    free(out);
    fake_fault("{\"service\":\"chat\",\"mode\":\"reset\"}");
    ck_assert_int_eq(upstream_call(A.up, A.ai, &A.cfg.ai, NULL, &req, &out, &len, &res), -1);
    ck_assert_int_eq(res.rc, UPSTREAM_TRANSPORT);
    ck_assert_uint_eq(res.attempts, 2); /* the ai service makes two */
    HAS(res.message, "ai_processing: POST http://127.0.0.1:");
    HAS(res.message, "failed after 2 attempts: transport error");
}
END_TEST

START_TEST(timeout)
{
    struct upstream_result res;
    char *body = NULL;
    A.cfg.transcript.timeout_ms = 100;
    A.cfg.transcript.policy.retry.max_attempts = 2;
    services_make();
    fake_fault("{\"service\":\"transcript\",\"mode\":\"latency\",\"latency_ms\":2000,"
               "\"count\":2}");
    ck_assert_int_eq(get(A.transcript, &A.cfg.transcript, TR_PATH, &body, &res), -1);
    ck_assert_int_eq(res.rc, UPSTREAM_TIMEOUT);
    ck_assert_uint_eq(res.attempts, 2);
    HAS(res.message, "no complete answer within 100 ms");
}
END_TEST

START_TEST(too_large)
{
    struct upstream_result res;
    char *body = NULL;
    A.cfg.transcript.max_response_bytes = 100;
    services_make();
    ck_assert_int_eq(get(A.transcript, &A.cfg.transcript, TR_PATH, &body, &res), -1);
    ck_assert_int_eq(res.rc, UPSTREAM_TOO_LARGE);
    ck_assert_uint_eq(res.attempts, 1);
    HAS(res.message, "larger than the limit of 100 bytes");
    HAS(res.message, "not retried");
}
END_TEST

START_TEST(breaker_opens)
{
    struct upstream_result res;
    char *body = NULL;
    A.cfg.youtube.policy.breaker.minimum_calls = 4;
    A.cfg.youtube.policy.breaker.window_size = 4;
    A.cfg.youtube.policy.retry.max_attempts = 2;
    services_make();
    fake_fault("{\"service\":\"youtube\",\"mode\":\"status\",\"status\":500}");
    ck_assert_int_eq(get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res), -1);
    ck_assert_int_eq(get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res), -1);
    ck_assert_int_eq(res.stage, RESIL_STAGE_BREAKER);
    HAS(res.message, "HTTP 500");
    HAS(res.message, "the circuit breaker is now open");
    ck_assert_int_eq(get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res), -1);
    ck_assert_int_eq(res.code, RESIL_EOPEN);
    ck_assert_uint_eq(res.attempts, 0);
    HAS(res.message, "youtube_api: circuit breaker is open; retry in");
    ck_assert_int_gt(res.retry_after_ns, 0);
    ck_assert_int_eq(fake_count("youtube"), 4);
}
END_TEST

START_TEST(cache_hit)
{
    struct upstream_req req = {.method = "GET", .url = url(TR_PATH), .cache_key = "k",
                               .cache_key_len = 1};
    struct upstream_result res;
    char *b1 = NULL, *b2 = NULL;
    size_t l1, l2;
    services_make();
    ck_assert_int_eq(upstream_call(A.up, A.transcript, &A.cfg.transcript, NULL, &req, &b1,
                                   &l1, &res), 0);
    ck_assert_int_eq(res.from_cache, 0);
    ck_assert_int_eq(upstream_call(A.up, A.transcript, &A.cfg.transcript, NULL, &req, &b2,
                                   &l2, &res), 0);
    ck_assert_int_eq(res.from_cache, 1);
    ck_assert_int_eq(res.stage, RESIL_STAGE_CACHE);
    ck_assert_uint_eq(l1, l2);
    ck_assert_str_eq(b1, b2);
    ck_assert_int_eq(fake_count("transcript"), 1);
    free(b1);
    free(b2);
}
END_TEST

/* Six threads, two handles: calls wait for a free handle and all succeed. */
static void *burst(void *arg)
{
    struct upstream_result res;
    char *body = NULL;
    long ok = 0;
    (void)arg;
    for (int i = 0; i < 5; i++) {
        ok += get(A.youtube, &A.cfg.youtube, YT_PATH, &body, &res) == 0;
        free(body);
    }
    return (void *)ok;
}

START_TEST(concurrent_calls)
{
    struct upstream_opts uo = {.max_handles = 2};
    pthread_t t[6];
    long ok = 0;
    void *r;
    A.cfg.youtube.policy.use_limiter = 0;
    services_make();
    upstream_free(A.up);
    ck_assert_int_eq(upstream_new(&uo, &A.up), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, burst, NULL), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], &r);
        ok += (long)r;
    }
    ck_assert_int_eq(ok, 30);
    ck_assert_int_eq(fake_count("youtube"), 30);
}
END_TEST

/* ---- cancellation ----------------------------------------------------------------------- */

struct hung {
    int rc;
    struct upstream_result res;
};

static void *hung_call(void *arg)
{
    struct hung *h = arg;
    struct upstream_req req = {.method = "GET",
                               .url = url("/oembed?url=https://youtu.be/jNQXAC9IVRw")};
    h->rc = upstream_call(A.up, A.youtube, &A.cfg.youtube, NULL, &req, NULL, NULL, &h->res);
    return NULL;
}

START_TEST(cancel_aborts_transfer)
{
    struct hung h;
    pthread_t t;
    resil_breaker_stats st;
    A.cfg.youtube.timeout_ms = 25000; /* the hang outlasts the test unless aborted */
    services_make();
    fake_fault("{\"service\":\"oembed\",\"mode\":\"hang\",\"count\":1}");
    ck_assert_int_eq(pthread_create(&t, NULL, hung_call, &h), 0);
    fake_wait_count("oembed", 1);
    ck_assert_uint_eq(upstream__cancel_all(A.up), 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(h.rc, -1);
    ck_assert_int_eq(h.res.rc, UPSTREAM_CANCELLED);
    ck_assert_uint_eq(h.res.attempts, 1);
    HAS(h.res.message, "cancelled");
    resil_breaker_stats_get(resil_service_breaker(A.youtube), &st);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_uint_eq(st.ignored, 1);
    ck_assert_uint_eq(upstream__cancel_all(A.up), 0);
}
END_TEST

static void *slow_retry_call(void *arg)
{
    struct hung *h = arg;
    h->rc = get(A.transcript, &A.cfg.transcript, TR_PATH, NULL, &h->res);
    return NULL;
}

/* A cancel ends the wait for a Retry-After too (on a real clock; this
 * test case's timeout is far below the 25 s asked for). */
START_TEST(cancel_ends_backoff)
{
    struct hung h;
    pthread_t t;
    A.cfg.transcript.policy.clock = NULL;
    services_make();
    fake_fault("{\"service\":\"transcript\",\"mode\":\"ratelimit\",\"retry_after\":\"25\","
               "\"count\":1}");
    ck_assert_int_eq(pthread_create(&t, NULL, slow_retry_call, &h), 0);
    fake_wait_count("transcript", 1);
    while (upstream__cancel_all(A.up) == 0)
        sleep_ms(1); /* between its answer and the next attempt the call is still active */
    pthread_join(t, NULL);
    ck_assert_int_eq(h.rc, -1);
    ck_assert_int_eq(h.res.rc, UPSTREAM_CANCELLED);
    ck_assert_int_eq(fake_count("transcript"), 1);
}
END_TEST

/* The same through a real MCP call: notifications/cancelled from another
 * thread runs the call's cancel hook, which wakes the transfer. */
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

static void *call_thread(void *arg)
{
    return handle(arg, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                       "{\"name\":\"hang\",\"arguments\":{}}}");
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

START_TEST(cancel_through_mcp)
{
    struct mcp_env e;
    pthread_t t;
    void *resp = (void *)1;
    A.cfg.youtube.timeout_ms = 25000;
    services_make();
    mcp_env_init(&e, 0);
    fake_fault("{\"service\":\"oembed\",\"mode\":\"hang\",\"count\":1}");
    ck_assert_int_eq(pthread_create(&t, NULL, call_thread, &e), 0);
    fake_wait_count("oembed", 1);
    ck_assert_ptr_null(handle(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                                  "\"params\":{\"requestId\":7,\"reason\":\"test\"}}"));
    pthread_join(t, &resp);
    ck_assert_ptr_null(resp); /* a cancelled request gets no response */
    ck_assert_int_eq(tool_rc, -1);
    ck_assert_int_eq(tool_res.rc, UPSTREAM_CANCELLED);
    session_put(e.tab, e.s);
    session_table_free(e.tab);
    mcp_server_free(e.srv);
}
END_TEST

/* ---- parsing ------------------------------------------------------------------------------ */

START_TEST(video_ids)
{
    static const struct {
        const char *in, *id;
    } ok[] = {
        {"dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"  dQw4w9WgXcQ\n", "dQw4w9WgXcQ"},
        {"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"https://www.youtube.com/watch?feature=share&v=a-b_c1234XY&t=42s", "a-b_c1234XY"},
        {"http://youtube.com/watch?v=dQw4w9WgXcQ#t=1", "dQw4w9WgXcQ"},
        {"youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"https://m.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RD", "dQw4w9WgXcQ"},
        {"https://youtu.be/dQw4w9WgXcQ?t=42", "dQw4w9WgXcQ"},
        {"https://YOUTU.BE/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1", "dQw4w9WgXcQ"},
        {"https://www.youtube.com/live/dQw4w9WgXcQ?si=x", "dQw4w9WgXcQ"},
        {"https://www.youtube.com/v/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
        {"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"},
    };
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "empty"},
        {"   ", "empty"},
        {"dQw4w9WgXc", "not a video id"},
        {"dQw4w9WgXcQQ", "not a video id"},
        {"dQw4w9WgX!Q", "not a video id"},
        {"https://vimeo.com/123456", "neither a YouTube URL"},
        {"https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw", "no video id"},
        {"https://www.youtube.com/watch?list=PL1", "no video id"},
        {"https://www.youtube.com/watch?v=short", "not 11 characters"},
        {"https://youtu.be/", "no video id"},
        {"https://evil.com/youtube.com/watch?v=dQw4w9WgXcQ", "neither a YouTube URL"},
        {"https://ex\xc3\xa4mple.com/\xe2\x98\x95", "neither a YouTube URL"},
    };
    char id[12], err[200];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(youtube_video_id(ok[i].in, id, err, sizeof err) == 0, "%s: %s", ok[i].in,
                      err);
        ck_assert_str_eq(id, ok[i].id);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(youtube_video_id(bad[i].in, id, err, sizeof err) == -1, "%s accepted",
                      bad[i].in);
        HAS(err, bad[i].why);
        for (const char *p = err; *p != '\0'; p++) /* the input is quoted as ASCII */
            ck_assert_msg((unsigned char)*p < 0x80, "%s: non-ASCII in '%s'", bad[i].in, err);
    }
    ck_assert_int_eq(youtube_video_id(NULL, id, err, sizeof err), -1);
}
END_TEST

START_TEST(durations)
{
    static const struct {
        const char *in;
        int64_t s;
    } t[] = {
        {"PT3M33S", 213}, {"PT19S", 19},       {"PT2H", 7200},     {"PT1H2M3S", 3723},
        {"P1DT2H", 93600}, {"P0D", 0},         {"PT0S", 0},        {"P1W", 604800},
        {"PT1.5S", 1},    {"PT", -1},          {"P", -1},          {"", -1},
        {"PT3X", -1},     {"3M", -1},          {"P1Y", -1},        {"PT1H2", -1},
        {"PT1D", -1},     {"P1H", -1},         {"PT-1S", -1},      {"PT1.5M", -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(youtube_duration_seconds(t[i].in) == t[i].s, "%s: got %lld, want %lld",
                      t[i].in, (long long)youtube_duration_seconds(t[i].in), (long long)t[i].s);
    ck_assert_int_eq(youtube_duration_seconds(NULL), -1);
}
END_TEST

START_TEST(retry_after_values)
{
    const int64_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    const int64_t s = RESIL_NS_PER_SEC;
    ck_assert_int_eq(upstream_parse_retry_after("0", now), 0);
    ck_assert_int_eq(upstream_parse_retry_after("120", now), 120 * s);
    ck_assert_int_eq(upstream_parse_retry_after(" 7 ", now), 7 * s);
    ck_assert_int_eq(upstream_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), 30 * s);
    ck_assert_int_eq(upstream_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
    ck_assert_int_eq(upstream_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
    ck_assert_int_eq(upstream_parse_retry_after("", now), -1);
    ck_assert_int_eq(upstream_parse_retry_after("-5", now), -1);
    ck_assert_int_eq(upstream_parse_retry_after("12abc", now), -1);
    ck_assert_int_eq(upstream_parse_retry_after("1.5", now), -1);
    ck_assert_int_eq(upstream_parse_retry_after("99999999999999", now), -1);
    ck_assert_int_eq(upstream_parse_retry_after("soon", now), -1);
    ck_assert_int_eq(upstream_parse_retry_after(NULL, now), -1);
}
END_TEST

START_TEST(escape)
{
    char *e = upstream_escape("a b&c/\xc3\xa9~-._=?");
    ck_assert_str_eq(e, "a%20b%26c%2F%C3%A9~-._%3D%3F");
    free(e);
    e = upstream_escape("");
    ck_assert_str_eq(e, "");
    free(e);
}
END_TEST

/* ---- the tools' upstream functions --------------------------------------------------------- */

START_TEST(metadata_data_api)
{
    struct upstream_result res;
    json_t *m = NULL;
    services_make();
    ck_assert_msg(youtube_metadata(&A, NULL, "dQw4w9WgXcQ", &m, &res) == 0, "%s", res.message);
    ck_assert_str_eq(json_string_value(json_object_get(m, "source")), "youtube_data_api");
    ck_assert_str_eq(json_string_value(json_object_get(m, "channel")), "Rick Astley");
    ck_assert_str_eq(json_string_value(json_object_get(m, "channel_id")),
                     "UCuAXFkgsw1L7xaCfnd5JJOw");
    ck_assert_str_eq(json_string_value(json_object_get(m, "published_at")),
                     "2009-10-25T06:57:33Z");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "duration_seconds")), 213);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "views")), 1234567890);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "likes")), 18000000);
    HAS(json_string_value(json_object_get(m, "title")), "Never Gonna Give You Up");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(m,
                         "thumbnails"), "high"), "url")),
                     "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg");
    ck_assert_uint_eq(json_array_size(json_object_get(m, "missing")), 0);
    ck_assert(json_is_false(json_object_get(m, "cached")));
    json_decref(m);
    ck_assert_int_eq(youtube_metadata(&A, NULL, "dQw4w9WgXcQ", &m, &res), 0);
    ck_assert(json_is_true(json_object_get(m, "cached")));
    ck_assert_int_eq(fake_count("youtube"), 1);
    json_decref(m);
    ck_assert_int_eq(youtube_metadata(&A, NULL, "nopeNOPE123", &m, &res), -1);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(res.message, "youtube_api: no video with id nopeNOPE123");
    /* a wrong key: the API's own words, and never the key */
    snprintf(A.cfg.youtube_key, sizeof A.cfg.youtube_key, "wrong-key-42");
    ck_assert_int_eq(youtube_metadata(&A, NULL, "jNQXAC9IVRw", &m, &res), -1);
    ck_assert_int_eq(res.rc, UPSTREAM_HTTP_CLIENT);
    HAS(res.message, "HTTP 400");
    HAS(res.message, "API key not valid");
    LACKS(res.message, "wrong-key-42");
}
END_TEST

START_TEST(metadata_oembed)
{
    struct upstream_result res;
    json_t *m = NULL;
    A.cfg.youtube_key[0] = '\0';
    services_make();
    ck_assert_msg(youtube_metadata(&A, NULL, "jNQXAC9IVRw", &m, &res) == 0, "%s", res.message);
    ck_assert_str_eq(json_string_value(json_object_get(m, "source")), "oembed");
    ck_assert_str_eq(json_string_value(json_object_get(m, "title")), "Me at the zoo");
    ck_assert_str_eq(json_string_value(json_object_get(m, "channel")), "jawed");
    ck_assert_ptr_null(json_object_get(m, "duration_seconds"));
    json_t *missing = json_object_get(m, "missing"), *v;
    size_t i, found = 0;
    json_array_foreach(missing, i, v) {
        found += strcmp(json_string_value(v), "duration_seconds") == 0 ||
                 strcmp(json_string_value(v), "views") == 0;
    }
    ck_assert_uint_eq(found, 2);
    ck_assert_int_eq(fake_count("oembed"), 1);
    ck_assert_int_eq(fake_count("youtube"), 0);
    json_decref(m);
    ck_assert_int_eq(youtube_metadata(&A, NULL, "nopeNOPE123", &m, &res), -1);
    ck_assert_str_eq(res.message, "youtube_api: no video with id nopeNOPE123");
}
END_TEST

static json_t *page(size_t offset, size_t limit)
{
    struct upstream_result res;
    json_t *t = NULL;
    ck_assert_msg(youtube_transcript(&A, NULL, "LONGVIDEO01", NULL, offset, limit, &t, &res) == 0,
                  "%s", res.message);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "total")), 1500);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "offset")), (json_int_t)offset);
    return t;
}

START_TEST(transcript_pages)
{
    struct upstream_result res;
    json_t *t;
    services_make();
    t = page(0, 0); /* the default page: 200 */
    ck_assert_int_eq(json_integer_value(json_object_get(t, "count")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "next_offset")), 200);
    ck_assert_str_eq(json_string_value(json_object_get(t, "language")), "en");
    json_decref(t);
    t = page(1000, 500);
    json_t *seg = json_array_get(json_object_get(t, "segments"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(seg, "text")),
                     "segment 1001 of the long video, about resilience patterns");
    ck_assert_double_eq_tol(json_number_value(json_object_get(seg, "start")), 4800.0, 1e-6);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "count")), 500);
    ck_assert_ptr_null(json_object_get(t, "next_offset")); /* the end */
    HAS(json_string_value(json_object_get(t, "text")),
        "segment 1001 of the long video, about resilience patterns segment 1002 ");
    json_decref(t);
    t = page(1400, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "count")), 100);
    ck_assert_uint_eq(json_array_size(json_object_get(t, "segments")), 100);
    json_decref(t);
    ck_assert_int_eq(youtube_transcript(&A, NULL, "LONGVIDEO01", "en", 1500, 10, &t, &res), -1);
    HAS(res.message, "offset 1500 is past the end (the transcript has 1500 segments)");
    ck_assert_int_eq(fake_count("transcript"), 1); /* every page from one fetch */
    ck_assert_int_eq(youtube_transcript(&A, NULL, "jNQXAC9IVRw", "fr", 0, 10, &t, &res), -1);
    ck_assert_str_eq(res.message,
                     "video_analysis: no transcript for video jNQXAC9IVRw in language fr");
    ck_assert_int_eq(youtube_transcript(&A, NULL, "jNQXAC9IVRw", "e n", 0, 10, &t, &res), -1);
    HAS(res.message, "not a language code");
}
END_TEST

START_TEST(ai_text_and_json)
{
    struct upstream_result res;
    char *answer = NULL;
    json_t *js = NULL;
    int cut = -1;
    services_make();
    ck_assert_msg(ai_complete(&A, NULL, "Be brief.", "hello there", 0, &answer, &js, &cut,
                              &res) == 0, "%s", res.message);
    ck_assert_str_eq(answer, "Echo: hello there");
    ck_assert_ptr_null(js);
    ck_assert_int_eq(cut, 0);
    free(answer);
    ck_assert_int_eq(ai_complete(&A, NULL, NULL, "retries, breakers and caches", 1, &answer,
                                 &js, &cut, &res), 0);
    ck_assert_ptr_nonnull(js);
    HAS(json_string_value(json_object_get(js, "summary")), "retries, breakers and caches");
    ck_assert_uint_eq(json_array_size(json_object_get(js, "key_points")), 3);
    free(answer);
    json_decref(js);
    /* cut at a character, not a byte: 5 characters of "héllo world" */
    A.cfg.ai_opts.max_input_chars = 5;
    ck_assert_int_eq(ai_complete(&A, NULL, "x", "h\xc3\xa9llo world", 0, &answer, NULL, &cut,
                                 &res), 0);
    ck_assert_str_eq(answer, "Echo: h\xc3\xa9llo");
    ck_assert_int_eq(cut, 1);
    free(answer);
}
END_TEST

START_TEST(ai_fenced_json_and_errors)
{
    struct upstream_result res;
    char *answer = NULL;
    json_t *js = NULL;
    services_make();
    fake_fault("{\"service\":\"chat\",\"mode\":\"status\",\"status\":200,\"count\":1,\"body\":"
               "\"{\\\"choices\\\":[{\\\"message\\\":{\\\"content\\\":"
               "\\\"```json\\\\n{\\\\\\\"a\\\\\\\":1}\\\\n```\\\"}}]}\"}");
    ck_assert_msg(ai_complete(&A, NULL, "i", "t", 1, &answer, &js, NULL, &res) == 0, "%s",
                  res.message);
    ck_assert_int_eq(json_integer_value(json_object_get(js, "a")), 1);
    free(answer);
    json_decref(js);
    /* a wrong key: 401 is the client's problem, not retried */
    snprintf(A.cfg.ai_key, sizeof A.cfg.ai_key, "not-the-key");
    ck_assert_int_eq(ai_complete(&A, NULL, "i", "t2", 0, &answer, NULL, NULL, &res), -1);
    ck_assert_ptr_null(answer);
    ck_assert_int_eq(res.http_status, 401);
    ck_assert_uint_eq(res.attempts, 1);
    HAS(res.message, "Incorrect API key provided");
    LACKS(res.message, "not-the-key");
    /* the public endpoint without a key: refused before any request */
    A.cfg.ai_key[0] = '\0';
    snprintf(A.cfg.ai.base_url, CONFIG_URL_MAX, "https://api.openai.com/v1");
    json_int_t before = fake_count("chat");
    ck_assert_int_eq(ai_complete(&A, NULL, "i", "t", 0, &answer, NULL, NULL, &res), -1);
    HAS(res.message, "AI_API_KEY");
    ck_assert_int_eq(fake_count("chat"), before);
}
END_TEST

/* tools/call name(args): the result object (new reference). */
static json_t *call_tool(struct mcp_env *e, const char *name, const char *args)
{
    char msg[512];
    snprintf(msg, sizeof msg, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"%s\",\"arguments\":%s}}", name, args);
    json_t *r = handle(e, msg), *res = json_incref(json_object_get(r, "result"));
    ck_assert_msg(res != NULL, "%s: no result", name);
    json_decref(r);
    return res;
}

static const char *text_of(json_t *res)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0),
                                             "text"));
}

START_TEST(tools_through_mcp)
{
    struct mcp_env e;
    services_make();
    mcp_env_init(&e, 1);
    json_t *r = call_tool(&e, "video_metadata", "{\"url\":\"https://youtu.be/dQw4w9WgXcQ\"}");
    ck_assert(json_is_false(json_object_get(r, "isError")) || !json_object_get(r, "isError"));
    json_t *sc = json_object_get(r, "structuredContent");
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "duration_seconds")), 213);
    HAS(text_of(r), "by Rick Astley, 3:33, 1234567890 views, published 2009-10-25");
    json_decref(r);
    r = call_tool(&e, "video_metadata", "{\"url\":\"https://vimeo.com/1\"}");
    ck_assert(json_is_true(json_object_get(r, "isError")));
    HAS(text_of(r), "url: 'https://vimeo.com/1' is neither a YouTube URL");
    json_decref(r);
    r = call_tool(&e, "video_transcript",
                  "{\"url\":\"LONGVIDEO01\",\"offset\":1490,\"limit\":20}");
    sc = json_object_get(r, "structuredContent");
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "count")), 10);
    ck_assert_ptr_null(json_object_get(sc, "next_offset"));
    HAS(text_of(r), "Segments 1490 to 1500 of 1500:");
    json_decref(r);
    r = call_tool(&e, "ai_analyze", "{\"text\":\"caches and breakers\",\"format\":\"json\"}");
    sc = json_object_get(r, "structuredContent");
    ck_assert_str_eq(json_string_value(json_object_get(sc, "model")), "gpt-4o-mini");
    ck_assert(json_is_false(json_object_get(sc, "truncated")));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(sc, "json"), "summary"));
    json_decref(r);
    session_put(e.tab, e.s);
    session_table_free(e.tab);
    mcp_server_free(e.srv);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("upstream");
    TCase *pure = tcase_create("parsing");
    TCase *http = tcase_create("http");
    TCase *tools = tcase_create("tools");
    tcase_add_test(pure, video_ids);
    tcase_add_test(pure, durations);
    tcase_add_test(pure, retry_after_values);
    tcase_add_test(pure, escape);
    suite_add_tcase(s, pure);
    TCase *cancel = tcase_create("cancel");
    TCase *withfake[] = {http, cancel, tools};
    for (size_t i = 0; i < 3; i++) {
        tcase_add_unchecked_fixture(withfake[i], fake_start, fake_stop);
        tcase_add_checked_fixture(withfake[i], setup, teardown);
        tcase_set_timeout(withfake[i], withfake[i] == cancel ? 10 : 30);
        suite_add_tcase(s, withfake[i]);
    }
    tcase_add_test(http, get_ok);
    tcase_add_test(http, post_ok);
    tcase_add_test(http, client_error_not_retried);
    tcase_add_test(http, server_error_retried);
    tcase_add_test(http, retry_after_honoured);
    tcase_add_test(http, retry_after_too_long);
    tcase_add_test(http, reset_retried);
    tcase_add_test(http, timeout);
    tcase_add_test(http, too_large);
    tcase_add_test(http, breaker_opens);
    tcase_add_test(http, cache_hit);
    tcase_add_test(http, concurrent_calls);
    tcase_add_test(cancel, cancel_aborts_transfer);
    tcase_add_test(cancel, cancel_ends_backoff);
    tcase_add_test(cancel, cancel_through_mcp);
    tcase_add_test(tools, metadata_data_api);
    tcase_add_test(tools, metadata_oembed);
    tcase_add_test(tools, transcript_pages);
    tcase_add_test(tools, ai_text_and_json);
    tcase_add_test(tools, ai_fenced_json_and_errors);
    tcase_add_test(tools, tools_through_mcp);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
