/* The tools' upstream functions (server/tools/youtube.c, ai.c) and the
 * tools through mcp_handle, against a real fake-upstream process on
 * 127.0.0.1 through libresil services on a manual clock (see
 * upstream_fixture.h): video ids, ISO 8601 durations, metadata with and
 * without an API key, transcript pages, ai_complete and tools/call. */
#include "upstream_fixture.h"

/* Internal entry point (declared in its .c file; not in the headers). */
int64_t youtube_duration_seconds(const char *iso);

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
    Suite *s = suite_create("upstream_tools");
    TCase *pure = tcase_create("parsing");
    TCase *tools = tcase_create("tools");
    tcase_add_test(pure, video_ids);
    tcase_add_test(pure, durations);
    suite_add_tcase(s, pure);
    tcase_add_unchecked_fixture(tools, fake_start, fake_stop);
    tcase_add_checked_fixture(tools, setup, teardown);
    tcase_set_timeout(tools, 30);
    suite_add_tcase(s, tools);
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
