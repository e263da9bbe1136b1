/* Structured logging for mcp-server: one JSON line per event, level
 * filtering, credential redaction. */
#include "../check_util.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fds[2];

static void setup(void)
{
    ck_assert_int_eq(pipe(fds), 0);
    log_setup(fds[1], LOG_INFO);
}

static void teardown(void)
{
    close(fds[0]);
    close(fds[1]);
    log_setup(2, LOG_INFO);
}

/* Everything written so far (the pipe's buffer is far larger than a test
 * writes; close the write end first so read sees EOF). */
static char *drain(void)
{
    static char buf[8192];
    close(fds[1]);
    fds[1] = -1;
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return buf;
}

START_TEST(one_line_per_event)
{
    log_event(LOG_INFO, "server.start", "transport", json_string("stdio"), "pid",
              json_integer(42), NULL);
    log_event(LOG_ERROR, "upstream.fail", "text", json_string("line1\nline2"), NULL);
    char *out = drain();
    char *nl = strchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    json_error_t je;
    json_t *a = json_loads(out, 0, &je);
    ck_assert_msg(a != NULL, "not JSON: %s", out);
    ck_assert_str_eq(json_string_value(json_object_get(a, "level")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(a, "event")), "server.start");
    ck_assert_str_eq(json_string_value(json_object_get(a, "transport")), "stdio");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "pid")), 42);
    const char *ts = json_string_value(json_object_get(a, "ts"));
    ck_assert_uint_eq(strlen(ts), 24); /* 2026-11-24T05:00:00.123Z */
    ck_assert_int_eq(ts[23], 'Z');
    json_decref(a);
    char *second = nl + 1;
    nl = strchr(second, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_str_eq(nl + 1, ""); /* the newline in the text was escaped */
    json_t *b = json_loadb(second, (size_t)(nl - second), 0, &je);
    ck_assert_str_eq(json_string_value(json_object_get(b, "text")), "line1\nline2");
    json_decref(b);
}
END_TEST

START_TEST(levels_filter)
{
    log_set_level(LOG_WARN);
    ck_assert_int_eq(log_get_level(), LOG_WARN);
    log_event(LOG_INFO, "dropped", "x", json_integer(1), NULL);
    log_event(LOG_WARN, "kept", NULL);
    log_set_level(LOG_OFF);
    log_event(LOG_ERROR, "off", NULL);
    char *out = drain();
    ck_assert_ptr_null(strstr(out, "dropped"));
    ck_assert_ptr_null(strstr(out, "\"off\""));
    ck_assert_ptr_nonnull(strstr(out, "\"kept\""));
}
END_TEST

START_TEST(credentials_are_redacted)
{
    log_event(LOG_INFO, "http.request", "Authorization", json_string("Bearer s3cr3t-AAA"),
              "api_key", json_string("s3cr3t-BBB"), "bearer_token", json_string("s3cr3t-CCC"),
              "key", json_string("s3cr3t-DDD"), "path", json_string("/mcp"), NULL);
    char *out = drain();
    ck_assert_ptr_null(strstr(out, "s3cr3t"));
    ck_assert_ptr_nonnull(strstr(out, "\"path\":\"/mcp\""));
    ck_assert_ptr_nonnull(strstr(out, "[redacted]"));
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(log_level_name(LOG_NOTICE), "notice");
    ck_assert_ptr_null(log_level_name((enum log_level)9));
    ck_assert_int_eq(log_level_parse("error"), LOG_ERROR);
    ck_assert_int_eq(log_level_parse("loud"), -1);
    ck_assert_int_eq(log_level_parse(NULL), -1);
    ck_assert(log_field_is_secret("X-Api-Key"));
    ck_assert(log_field_is_secret("openai_api_key"));
    ck_assert(log_field_is_secret("KEY"));
    ck_assert(!log_field_is_secret("keys_loaded"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_line_per_event);
    tcase_add_test(tc, levels_filter);
    tcase_add_test(tc, credentials_are_redacted);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
