/* The upstream client (server/upstream.c, upstream_http.c) against a real
 * fake-upstream process on 127.0.0.1, through real libresil services made
 * from config_defaults() values pointed at the fake: HTTP outcomes,
 * retries, Retry-After, timeouts, the size limit, the breaker, the cache
 * and cancellation.  The services run on a manual clock: a retry "sleeps"
 * by advancing it, so a Retry-After is visible as clock time and no test
 * waits for it.  The fixture is upstream_fixture.h. */
#include "upstream_fixture.h"

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

static void *call_thread(void *arg)
{
    return handle(arg, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                       "{\"name\":\"hang\",\"arguments\":{}}}");
}

/* The same through a real MCP call: notifications/cancelled from another
 * thread runs the call's cancel hook, which wakes the transfer. */
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

static Suite *suite(void)
{
    Suite *s = suite_create("upstream");
    TCase *pure = tcase_create("parsing");
    TCase *http = tcase_create("http");
    tcase_add_test(pure, retry_after_values);
    tcase_add_test(pure, escape);
    suite_add_tcase(s, pure);
    TCase *cancel = tcase_create("cancel");
    TCase *withfake[] = {http, cancel};
    for (size_t i = 0; i < 2; i++) {
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
    return s;
}

int main(void)
{
    return tu_run(suite());
}
