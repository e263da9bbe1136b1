/* The production tools end to end below the transport: a real app
 * (app_init with tools_register) whose three services point at a real
 * fake-upstream process on 127.0.0.1, driven through mcp_handle() with a
 * sink that captures the notifications.  Faults are switched through the
 * fake's /_control API; its statistics tell which upstream requests were
 * made.  Every structuredContent is also validated here against the
 * outputSchema that tools/list publishes. */
#include "../check_util.h"

#include "mcp/jsonrpc.h"
#include "mcp/schema.h"
#include "tools/tools.h"

#include "fake_process.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_TIMEOUT_S 60   /* per test: a loaded machine runs slowly */

static struct app A;
static struct session *S;
static json_t *sent;     /* what the call sent through the sink */
static int next_id = 1;

/* ---- the fake upstream process ------------------------------------------------ */

static void fake_start(void)
{
    fake_start_with("test_tools", NULL);
}

static void fake_stop(void)
{
    fake_stop_process();
}

/* ---- the app and one session ------------------------------------------------------ */

static void point_at_fake(struct config *c)
{
    snprintf(c->youtube.base_url, sizeof c->youtube.base_url,
             "http://127.0.0.1:%u/youtube/v3", fake_port);
    snprintf(c->youtube.alt_url, sizeof c->youtube.alt_url, "http://127.0.0.1:%u/oembed",
             fake_port);
    snprintf(c->transcript.base_url, sizeof c->transcript.base_url, "http://127.0.0.1:%u",
             fake_port);
    snprintf(c->ai.base_url, sizeof c->ai.base_url, "http://127.0.0.1:%u/v1", fake_port);
    snprintf(c->youtube_key, sizeof c->youtube_key, "yt-test-key-0123");
    snprintf(c->ai_key, sizeof c->ai_key, "ai-test-key-0123");
    /* no secrets store in the tests: the keys above are the resolved ones */
    c->secrets_key_file[0] = '\0';
    c->secrets_store[0] = '\0';
}

/* Retries as configured but without waiting long between them. */
static void fast_retries(struct config_service *s)
{
    s->policy.retry.base_delay_ns = 1000000;
    s->policy.retry.max_delay_ns = 5000000;
    s->timeout_ms = 10000;
}

static int capture(struct mcp_sink *k, json_t *msg)
{
    (void)k;
    return json_array_append_new(sent, msg) == 0 ? 0 : -1;
}

static struct mcp_sink sink = {.send = capture};

/* Parse text as a message from the client and hand it to the server. */
static json_t *handle(const char *text)
{
    struct jsonrpc_limits lim = {JSONRPC_DEFAULT_MAX_BYTES, JSONRPC_DEFAULT_MAX_DEPTH};
    struct jsonrpc_msg m;
    json_t *reply = NULL, *resp;

    ck_assert_msg(jsonrpc_parse(text, strlen(text), &lim, &m, &reply) == 0, "bad test msg %s",
                  text);
    resp = mcp_handle(A.mcp, S, &m, &sink);
    jsonrpc_msg_clear(&m);
    return resp;
}

static void app_start(void (*tune)(struct config *c))
{
    char err[512] = "";
    json_t *r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_start();
    memset(&A, 0, sizeof A);
    config_defaults(&A.cfg);
    point_at_fake(&A.cfg);
    fast_retries(&A.cfg.youtube);
    fast_retries(&A.cfg.transcript);
    fast_retries(&A.cfg.ai);
    if (tune != NULL)
        tune(&A.cfg);
    ck_assert_msg(app_init(&A, tools_register, err, sizeof err) == 0, "app_init: %s", err);
    ck_assert_int_eq(session_create(A.sessions, &S), 0);
    sent = json_array();
    r = handle("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"test_tools\",\"version\":\"1\"}}}");
    ck_assert_ptr_nonnull(json_object_get(r, "result"));
    json_decref(r);
    ck_assert_ptr_null(handle("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

static void setup(void)
{
    app_start(NULL);
}

static void teardown(void)
{
    if (S != NULL)
        session_put(A.sessions, S);
    S = NULL;
    app_fini(&A);
    json_decref(sent);
    sent = NULL;
    fake_stop();
    curl_global_cleanup();
}

/* ---- calling tools ---------------------------------------------------------------- */

/* The tool's entry in tools/list (a new reference). */
static json_t *listed(const char *name)
{
    json_t *r = handle("{\"jsonrpc\":\"2.0\",\"id\":\"list\",\"method\":\"tools/list\"}");
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools"), *t, *found = NULL;
    size_t i;

    json_array_foreach(tools, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            found = json_incref(t);
    }
    json_decref(r);
    ck_assert_msg(found != NULL, "tool %s is not listed", name);
    return found;
}

/* Validate sc against the tool's published outputSchema. */
static void check_output(const char *tool, json_t *sc)
{
    json_t *t = listed(tool);
    struct schema *s = NULL;
    char err[512];

    ck_assert_msg(schema_compile(json_object_get(t, "outputSchema"), &s, err, sizeof err) == 0,
                  "%s outputSchema: %s", tool, err);
    ck_assert_msg(schema_validate(s, sc, "result", err, sizeof err) == 0, "%s: %s", tool, err);
    schema_free(s);
    json_decref(t);
}

/* tools/call NAME with ARGS (JSON text); with progress, a progressToken.
 * Returns the whole response (new reference) after checking that it is
 * a result, and validates its structuredContent when not an error. */
static json_t *call(const char *name, const char *args, int progress)
{
    char *msg = NULL;
    json_t *resp, *res, *sc;

    json_array_clear(sent);
    ck_assert_int_gt(asprintf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
                                    "\"params\":{\"name\":\"%s\",\"arguments\":%s%s}}",
                              next_id++, name, args,
                              progress ? ",\"_meta\":{\"progressToken\":\"tok-1\"}" : ""),
                     0);
    resp = handle(msg);
    free(msg);
    ck_assert_ptr_nonnull(resp);
    res = json_object_get(resp, "result");
    ck_assert_msg(res != NULL, "%s: not a result: %s", name, json_dumps(resp, 0));
    sc = json_object_get(res, "structuredContent");
    if (!json_is_true(json_object_get(res, "isError"))) {
        ck_assert_msg(sc != NULL, "%s: no structuredContent", name);
        check_output(name, sc);
    }
    return resp;
}

static json_t *result(json_t *resp)
{
    return json_object_get(resp, "result");
}

static json_t *sc_of(json_t *resp)
{
    return json_object_get(result(resp), "structuredContent");
}

static int is_error(json_t *resp)
{
    return json_is_true(json_object_get(result(resp), "isError"));
}

static const char *text_of(json_t *resp)
{
    json_t *c = json_array_get(json_object_get(result(resp), "content"), 0);

    return json_string_value(json_object_get(c, "text"));
}

static json_t *path(json_t *j, const char *a, const char *b)
{
    j = json_object_get(j, a);
    return b != NULL ? json_object_get(j, b) : j;
}

static void assert_error_names(const char *tool, const char *args, const char *what)
{
    json_t *r = call(tool, args, 0);
    const char *t = text_of(r);

    ck_assert_msg(is_error(r), "%s %s: not an error", tool, args);
    ck_assert_msg(t != NULL && strstr(t, what) != NULL, "%s %s: '%s' does not name %s", tool,
                  args, t ? t : "(null)", what);
    json_decref(r);
}

/* The degraded[] entry for part, or NULL. */
static json_t *degraded(json_t *sc, const char *part)
{
    json_t *d;
    size_t i;

    json_array_foreach(json_object_get(sc, "degraded"), i, d) {
        if (strcmp(json_string_value(json_object_get(d, "part")), part) == 0)
            return d;
    }
    return NULL;
}

static json_t *service(json_t *sc, const char *name)
{
    json_t *s;
    size_t i;

    json_array_foreach(json_object_get(sc, "services"), i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0)
            return s;
    }
    return NULL;
}

/* ---- the tool list ------------------------------------------------------------------ */

START_TEST(list_has_exactly_the_production_tools)
{
    static const char *const want[] = {"video_metadata", "video_transcript", "ai_analyze",
                                       "video_analyze", "service_status"};
    json_t *r = handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    json_t *tools = path(r, "result", "tools"), *t;
    size_t i;

    ck_assert_uint_eq(json_array_size(tools), 5);
    ck_assert_ptr_null(path(r, "result", "nextCursor"));
    json_array_foreach(tools, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        int known = 0;

        for (size_t k = 0; k < 5; k++)
            known |= strcmp(name, want[k]) == 0;
        ck_assert_msg(known, "unexpected tool %s", name);
        ck_assert_msg(strncmp(name, "test_", 5) != 0, "fixture %s in production", name);
        ck_assert_msg(json_is_object(json_object_get(t, "outputSchema")), "%s: no outputSchema",
                      name);
        ck_assert_msg(json_is_true(path(t, "annotations", "readOnlyHint")),
                      "%s is not marked read-only", name);
    }
    json_decref(r);
    t = listed("service_status");
    ck_assert(json_is_false(path(t, "annotations", "openWorldHint")));
    json_decref(t);
    t = listed("video_analyze");
    ck_assert(json_is_true(path(t, "annotations", "openWorldHint")));
    json_decref(t);
}
END_TEST

/* ---- the four upstream tools, happy paths ------------------------------------------ */

START_TEST(video_metadata_happy)
{
    json_t *r = call("video_metadata", "{\"url\":\"https://youtu.be/dQw4w9WgXcQ\"}", 0);
    json_t *sc = sc_of(r);

    ck_assert(!is_error(r));
    ck_assert_str_eq(json_string_value(json_object_get(sc, "id")), "dQw4w9WgXcQ");
    ck_assert_str_eq(json_string_value(json_object_get(sc, "title")),
                     "Rick Astley - Never Gonna Give You Up (Official Music Video)");
    ck_assert_str_eq(json_string_value(json_object_get(sc, "source")), "youtube_data_api");
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "duration_seconds")), 213);
    json_decref(r);
    ck_assert_int_eq(fake_count("youtube"), 1);
}
END_TEST

START_TEST(video_transcript_happy)
{
    json_t *r = call("video_transcript", "{\"url\":\"jNQXAC9IVRw\"}", 0);
    json_t *sc = sc_of(r);

    ck_assert(!is_error(r));
    ck_assert_str_eq(json_string_value(json_object_get(sc, "id")), "jNQXAC9IVRw");
    ck_assert_str_eq(json_string_value(json_object_get(sc, "language")), "en");
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "total")), 12);
    ck_assert_str_eq(json_string_value(path(json_array_get(json_object_get(sc, "segments"), 0),
                                            "text", NULL)),
                     "segment 1 of the zoo video transcript");
    json_decref(r);
}
END_TEST

START_TEST(ai_analyze_happy)
{
    json_t *r = call("ai_analyze", "{\"text\":\"breakers and retries\","
                                   "\"instruction\":\"Repeat the text.\"}", 0);

    ck_assert(!is_error(r));
    ck_assert_ptr_nonnull(strstr(text_of(r), "breakers and retries"));
    json_decref(r);
    ck_assert_int_eq(fake_count("chat"), 1);
}
END_TEST

/* ---- video_analyze ------------------------------------------------------------------ */

/* The notifications of the last call: progress values must be 1, 2, 3, 4
 * of 4 for token tok-1; returns the number of log messages. */
static int check_notifications(void)
{
    json_t *m;
    size_t i;
    int progress = 0, logs = 0;

    json_array_foreach(sent, i, m) {
        const char *method = json_string_value(json_object_get(m, "method"));
        json_t *p = json_object_get(m, "params");

        if (strcmp(method, "notifications/progress") == 0) {
            progress++;
            ck_assert_str_eq(json_string_value(json_object_get(p, "progressToken")), "tok-1");
            ck_assert_double_eq(json_number_value(json_object_get(p, "progress")), progress);
            ck_assert_double_eq(json_number_value(json_object_get(p, "total")), 4);
        } else if (strcmp(method, "notifications/message") == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(p, "logger")), "video_analyze");
            logs++;
        }
    }
    ck_assert_int_eq(progress, 4);
    return logs;
}

START_TEST(video_analyze_full)
{
    json_t *r = call("video_analyze", "{\"url\":\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\","
                                      "\"focus\":\"the music\"}", 1);
    json_t *sc = sc_of(r), *an = json_object_get(sc, "analysis");

    ck_assert(!is_error(r));
    ck_assert(json_is_false(json_object_get(sc, "partial")));
    ck_assert_uint_eq(json_array_size(json_object_get(sc, "degraded")), 0);
    ck_assert_str_eq(json_string_value(path(sc, "video", "id")), "dQw4w9WgXcQ");
    ck_assert_int_eq(json_integer_value(path(sc, "transcript", "segments")), 12);
    ck_assert_int_gt(json_integer_value(path(sc, "transcript", "chars")), 100);
    ck_assert(json_is_false(path(sc, "transcript", "truncated")));
    ck_assert_str_eq(json_string_value(json_object_get(an, "format")), "json");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(an, "summary")), "characters"));
    ck_assert_uint_eq(json_array_size(json_object_get(an, "key_points")), 3);
    ck_assert_uint_eq(json_array_size(json_object_get(an, "topics")), 2);
    ck_assert_int_eq(json_integer_value(path(path(sc, "services", "ai_processing"), "calls",
                                             NULL)), 1);
    ck_assert(json_is_null(path(path(sc, "services", "youtube_api"), "error", NULL)));
    ck_assert_int_ge(check_notifications(), 3);
    /* the text content is the structured content serialised */
    json_t *back = json_loads(text_of(r), 0, NULL);
    ck_assert(json_equal(back, sc));
    json_decref(back);
    json_decref(r);
    ck_assert_int_eq(fake_count("chat"), 1);
}
END_TEST

START_TEST(video_analyze_cuts_long_transcripts)
{
    json_t *r = call("video_analyze", "{\"url\":\"LONGVIDEO01\",\"max_transcript_chars\":600}",
                     0);
    json_t *sc = sc_of(r);

    ck_assert(!is_error(r));
    ck_assert(json_is_true(path(sc, "transcript", "truncated")));
    ck_assert_int_le(json_integer_value(path(sc, "transcript", "chars")), 600);
    ck_assert_int_ge(json_integer_value(path(sc, "transcript", "chars")), 500);
    ck_assert(json_is_false(json_object_get(sc, "partial")));
    json_decref(r);
    /* 200 segments a page: this budget takes three pages */
    r = call("video_analyze", "{\"url\":\"LONGVIDEO01\",\"max_transcript_chars\":30000}", 0);
    sc = sc_of(r);
    ck_assert_int_gt(json_integer_value(path(sc, "transcript", "segments")), 400);
    ck_assert_int_lt(json_integer_value(path(sc, "transcript", "segments")), 1500);
    ck_assert_int_eq(json_integer_value(path(sc, "transcript", "chars")), 30000);
    ck_assert(json_is_true(path(sc, "transcript", "truncated")));
    ck_assert_int_eq(json_integer_value(path(path(sc, "services", "video_analysis"), "calls",
                                             NULL)), 3);
    json_decref(r);
    /* the whole transcript: every page up to the last, nothing cut */
    r = call("video_analyze", "{\"url\":\"LONGVIDEO01\",\"max_transcript_chars\":200000}", 0);
    sc = sc_of(r);
    ck_assert_int_eq(json_integer_value(path(sc, "transcript", "segments")), 1500);
    ck_assert(json_is_false(path(sc, "transcript", "truncated")));
    json_decref(r);
}
END_TEST

START_TEST(video_analyze_ai_failing_is_partial)
{
    json_t *r, *sc, *d;

    fake_fault("{\"service\":\"chat\",\"mode\":\"status\",\"status\":500}");
    r = call("video_analyze", "{\"url\":\"dQw4w9WgXcQ\"}", 1);
    sc = sc_of(r);
    ck_assert(!is_error(r));
    ck_assert(json_is_true(json_object_get(sc, "partial")));
    ck_assert(json_is_null(json_object_get(sc, "analysis")));
    ck_assert_int_eq(json_integer_value(path(sc, "transcript", "segments")), 12);
    d = degraded(sc, "ai");
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(d, "reason")),
                                 "ai_processing"));
    ck_assert(json_is_string(path(path(sc, "services", "ai_processing"), "error", NULL)));
    check_notifications();
    json_decref(r);
}
END_TEST

START_TEST(video_analyze_breaker_open_skips_ai)
{
    json_t *r, *sc, *d;

    ck_assert_int_eq(resil_breaker_set_mode(resil_service_breaker(A.ai),
                                            RESIL_BREAKER_FORCED_OPEN), 0);
    fake_reset();
    r = call("video_analyze", "{\"url\":\"dQw4w9WgXcQ\"}", 0);
    sc = sc_of(r);
    ck_assert(!is_error(r));
    ck_assert(json_is_true(json_object_get(sc, "partial")));
    ck_assert(json_is_null(json_object_get(sc, "analysis")));
    d = degraded(sc, "ai");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(json_string_value(json_object_get(d, "stage")), "breaker");
    ck_assert_str_eq(json_string_value(path(sc, "video", "id")), "dQw4w9WgXcQ");
    json_decref(r);
    ck_assert_int_eq(fake_count("chat"), 0);
    ck_assert_int_ge(fake_count("transcript"), 1);
}
END_TEST

START_TEST(video_analyze_metadata_failing_is_error)
{
    json_t *r;

    fake_fault("{\"service\":\"youtube\",\"mode\":\"status\",\"status\":500}");
    fake_fault("{\"service\":\"oembed\",\"mode\":\"status\",\"status\":500}");
    r = call("video_analyze", "{\"url\":\"dQw4w9WgXcQ\"}", 0);
    ck_assert(is_error(r));
    ck_assert_ptr_nonnull(strstr(text_of(r), "metadata"));
    ck_assert_ptr_nonnull(strstr(text_of(r), "youtube_api"));
    json_decref(r);
    ck_assert_int_eq(fake_count("transcript"), 0);
    ck_assert_int_eq(fake_count("chat"), 0);
}
END_TEST

START_TEST(video_analyze_without_transcript)
{
    /* the fake has English transcripts only */
    json_t *r = call("video_analyze", "{\"url\":\"dQw4w9WgXcQ\",\"language\":\"fr\"}", 0);
    json_t *sc = sc_of(r);

    ck_assert(!is_error(r));
    ck_assert(json_is_true(json_object_get(sc, "partial")));
    ck_assert(json_is_null(json_object_get(sc, "transcript")));
    ck_assert_ptr_nonnull(degraded(sc, "transcript"));
    ck_assert_ptr_null(degraded(sc, "ai"));
    ck_assert(json_is_object(json_object_get(sc, "analysis")));
    json_decref(r);
}
END_TEST

START_TEST(video_analyze_model_not_json)
{
    json_t *r, *sc;

    fake_fault("{\"service\":\"chat\",\"mode\":\"status\",\"status\":200,\"body\":"
               "\"{\\\"id\\\":\\\"c1\\\",\\\"object\\\":\\\"chat.completion\\\","
               "\\\"created\\\":1,\\\"model\\\":\\\"m\\\",\\\"choices\\\":[{\\\"index\\\":0,"
               "\\\"message\\\":{\\\"role\\\":\\\"assistant\\\",\\\"content\\\":"
               "\\\"Just plain words.\\\"},\\\"finish_reason\\\":\\\"stop\\\"}],"
               "\\\"usage\\\":{\\\"prompt_tokens\\\":1,\\\"completion_tokens\\\":1,"
               "\\\"total_tokens\\\":2}}\"}");
    r = call("video_analyze", "{\"url\":\"dQw4w9WgXcQ\"}", 0);
    sc = sc_of(r);
    ck_assert(!is_error(r));
    ck_assert_str_eq(json_string_value(path(sc, "analysis", "summary")), "Just plain words.");
    ck_assert_str_eq(json_string_value(path(sc, "analysis", "format")), "text");
    ck_assert_ptr_nonnull(degraded(sc, "ai_format"));
    json_decref(r);
}
END_TEST

/* Cancelled while the transcript hangs upstream: the transfer is aborted,
 * no response is sent and the AI step never runs. */
static void *call_in_thread(void *arg)
{
    (void)arg;
    return handle("{\"jsonrpc\":\"2.0\",\"id\":\"va-c\",\"method\":\"tools/call\","
                  "\"params\":{\"name\":\"video_analyze\",\"arguments\":{\"url\":"
                  "\"LONGVIDEO01\"}}}");
}

START_TEST(video_analyze_cancelled)
{
    pthread_t t;
    void *resp = NULL;

    fake_fault("{\"service\":\"transcript\",\"mode\":\"hang\"}");
    ck_assert_int_eq(pthread_create(&t, NULL, call_in_thread, NULL), 0);
    for (int waited = 0; fake_count("transcript") == 0 && waited < 10000; waited += 10)
        sleep_ms(10);
    ck_assert_ptr_null(handle("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                              "\"params\":{\"requestId\":\"va-c\"}}"));
    pthread_join(t, &resp);
    ck_assert_ptr_null(resp);
    ck_assert_int_eq(fake_count("chat"), 0);
}
END_TEST

/* ---- service_status ----------------------------------------------------------------- */

START_TEST(service_status_shape)
{
    json_t *r = call("service_status", "{}", 0), *sc = sc_of(r), *s;
    static const char *const names[] = {"ai_processing", "video_analysis", "youtube_api"};

    ck_assert(!is_error(r));
    ck_assert_uint_eq(json_array_size(json_object_get(sc, "services")), 3);
    for (size_t i = 0; i < 3; i++) {
        s = service(sc, names[i]);
        ck_assert_msg(s != NULL, "no %s", names[i]);
        ck_assert_str_eq(json_string_value(path(s, "breaker", "state")), "closed");
        ck_assert(json_is_number(path(s, "limiter", "available")));
        ck_assert(json_is_number(path(s, "limiter", "rate")));
        ck_assert(json_is_integer(path(s, "stats", "calls")));
        ck_assert(json_is_integer(path(path(s, "stats", "rejected_by_stage"), "breaker", NULL)));
    }
    ck_assert(json_is_string(path(sc, "health", "status")));
    ck_assert(json_is_array(path(sc, "health", "checks")));
    ck_assert(json_number_value(json_object_get(sc, "uptime_seconds")) >= 0);
    ck_assert_int_eq(json_integer_value(json_object_get(sc, "sessions")), 1);
    json_decref(r);

    r = call("service_status", "{\"service\":\"youtube_api\"}", 0);
    ck_assert_uint_eq(json_array_size(path(sc_of(r), "services", NULL)), 1);
    ck_assert_ptr_nonnull(service(sc_of(r), "youtube_api"));
    json_decref(r);
}
END_TEST

START_TEST(service_status_counts_calls)
{
    json_t *r;

    json_decref(call("video_metadata", "{\"url\":\"jNQXAC9IVRw\"}", 0));
    json_decref(call("video_metadata", "{\"url\":\"jNQXAC9IVRw\"}", 0));
    r = call("service_status", "{\"service\":\"youtube_api\"}", 0);
    ck_assert_int_eq(json_integer_value(path(service(sc_of(r), "youtube_api"), "stats",
                                             "calls")), 2);
    ck_assert_int_eq(json_integer_value(path(service(sc_of(r), "youtube_api"), "stats",
                                             "ok")), 1);
    ck_assert_int_eq(json_integer_value(path(service(sc_of(r), "youtube_api"), "cache",
                                             "hits")), 1);
    json_decref(r);
    ck_assert_int_eq(fake_count("youtube"), 1);
}
END_TEST

START_TEST(service_status_shows_forced_open)
{
    json_t *r, *b;

    resil_breaker_set_mode(resil_service_breaker(A.ai), RESIL_BREAKER_FORCED_OPEN);
    r = call("service_status", "{}", 0);
    b = path(service(sc_of(r), "ai_processing"), "breaker", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(b, "state")), "open");
    ck_assert_str_eq(json_string_value(json_object_get(b, "mode")), "forced_open");
    ck_assert(json_is_null(json_object_get(b, "retry_in_seconds")));
    ck_assert_str_eq(json_string_value(path(path(service(sc_of(r), "youtube_api"), "breaker",
                                                 NULL), "state", NULL)), "closed");
    json_decref(r);
}
END_TEST

/* The breaker trips on the failures themselves: after it opens,
 * service_status says so and video_analyze skips the AI at once. */
static void trip_after_two(struct config *c)
{
    c->ai.policy.breaker.failure_count = 2;
    c->ai.policy.breaker.open_base_ns = 120 * RESIL_NS_PER_SEC; /* open for the whole test */
}

static void setup_trip(void)
{
    app_start(trip_after_two);
}

START_TEST(tripped_breaker_shows_open_and_degrades)
{
    json_t *r, *b, *d;

    fake_fault("{\"service\":\"chat\",\"mode\":\"status\",\"status\":503}");
    for (int i = 0; i < 2; i++) {
        r = call("ai_analyze", "{\"text\":\"x\",\"instruction\":\"y\"}", 0);
        ck_assert(is_error(r));
        json_decref(r);
    }
    r = call("service_status", "{\"service\":\"ai_processing\"}", 0);
    b = path(service(sc_of(r), "ai_processing"), "breaker", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(b, "state")), "open");
    ck_assert_int_ge(json_integer_value(json_object_get(b, "opens")), 1);
    ck_assert_int_ge(json_integer_value(json_object_get(b, "failures")), 2);
    json_decref(r);

    fake_reset();
    r = call("video_analyze", "{\"url\":\"jNQXAC9IVRw\"}", 0);
    d = degraded(sc_of(r), "ai");
    ck_assert(!is_error(r));
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(json_string_value(json_object_get(d, "stage")), "breaker");
    json_decref(r);
    ck_assert_int_eq(fake_count("chat"), 0);
}
END_TEST

/* ---- bad arguments --------------------------------------------------------------------- */

START_TEST(bad_arguments_name_the_argument)
{
    assert_error_names("video_analyze", "{}", "url");
    assert_error_names("video_analyze", "{\"url\":5}", "url");
    assert_error_names("video_analyze", "{\"url\":\"https://example.com/nothing\"}", "url");
    assert_error_names("video_analyze", "{\"url\":\"dQw4w9WgXcQ\",\"max_transcript_chars\":10}",
                       "max_transcript_chars");
    assert_error_names("video_analyze", "{\"url\":\"dQw4w9WgXcQ\",\"colour\":\"red\"}", "colour");
    assert_error_names("video_analyze", "{\"url\":\"dQw4w9WgXcQ\",\"language\":\"!!\"}",
                       "language");
    assert_error_names("service_status", "{\"service\":\"nope\"}", "service");
    assert_error_names("video_metadata", "{}", "url");
    assert_error_names("ai_analyze", "{}", "text");
    ck_assert_int_eq(fake_count("youtube") + fake_count("chat"), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tools");
    TCase *tc = tcase_create("tools");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    tcase_add_test(tc, list_has_exactly_the_production_tools);
    tcase_add_test(tc, video_metadata_happy);
    tcase_add_test(tc, video_transcript_happy);
    tcase_add_test(tc, ai_analyze_happy);
    tcase_add_test(tc, video_analyze_full);
    tcase_add_test(tc, video_analyze_cuts_long_transcripts);
    tcase_add_test(tc, video_analyze_ai_failing_is_partial);
    tcase_add_test(tc, video_analyze_breaker_open_skips_ai);
    tcase_add_test(tc, video_analyze_metadata_failing_is_error);
    tcase_add_test(tc, video_analyze_without_transcript);
    tcase_add_test(tc, video_analyze_model_not_json);
    tcase_add_test(tc, video_analyze_cancelled);
    tcase_add_test(tc, service_status_shape);
    tcase_add_test(tc, service_status_counts_calls);
    tcase_add_test(tc, service_status_shows_forced_open);
    suite_add_tcase(s, tc);

    tc = tcase_create("tripping");
    tcase_add_checked_fixture(tc, setup_trip, teardown);
    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    tcase_add_test(tc, tripped_breaker_shows_open_and_degrades);
    suite_add_tcase(s, tc);

    tc = tcase_create("arguments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    tcase_add_test(tc, bad_arguments_name_the_argument);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
