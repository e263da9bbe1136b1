/* JSON-RPC 2.0 framing for mcp-server: classification, MCP's narrower
 * rules, limits, and the error replies' codes, ids and messages. */
#include "../check_util.h"
#include "mcp/jsonrpc.h"

#include <string.h>

static struct jsonrpc_msg msg;
static json_t *reply;

static void teardown(void)
{
    jsonrpc_msg_clear(&msg);
    json_decref(reply);
    reply = NULL;
}

static int parse(const char *s)
{
    struct jsonrpc_limits lim = {.max_bytes = 1024, .max_depth = 8};
    jsonrpc_msg_clear(&msg);
    json_decref(reply);
    reply = NULL;
    return jsonrpc_parse(s, strlen(s), &lim, &msg, &reply);
}

/* Assert the last parse failed with `code`, the reply's id equal to want_id
 * (NULL: JSON null) and its message containing `needle`. */
static void assert_error(int code, json_t *want_id, const char *needle)
{
    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(json_string_value(json_object_get(reply, "jsonrpc")), "2.0");
    json_t *err = json_object_get(reply, "error");
    ck_assert_int_eq(json_integer_value(json_object_get(err, "code")), code);
    const char *m = json_string_value(json_object_get(err, "message"));
    ck_assert_msg(m && strstr(m, needle), "message \"%s\" lacks \"%s\"", m, needle);
    json_t *id = json_object_get(reply, "id");
    if (want_id)
        ck_assert(jsonrpc_id_equal(id, want_id));
    else
        ck_assert(json_is_null(id));
    ck_assert_ptr_null(json_object_get(reply, "result"));
}

START_TEST(request_with_integer_and_string_ids)
{
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}"), 0);
    ck_assert_int_eq(msg.kind, JSONRPC_REQUEST);
    ck_assert_str_eq(msg.method, "ping");
    ck_assert_int_eq(json_integer_value(msg.id), 7);
    ck_assert_ptr_null(msg.params);
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"a-1\",\"method\":\"tools/call\","
                           "\"params\":{\"name\":\"x\"}}"),
                     0);
    ck_assert_str_eq(json_string_value(msg.id), "a-1");
    ck_assert(json_is_object(msg.params));
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":-9007199254740993,\"method\":\"m\"}"), 0);
    ck_assert(json_integer_value(msg.id) == -9007199254740993LL);
}
END_TEST

START_TEST(notification_response_and_error)
{
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"), 0);
    ck_assert_int_eq(msg.kind, JSONRPC_NOTIFICATION);
    ck_assert_ptr_null(msg.id);
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}"), 0);
    ck_assert_int_eq(msg.kind, JSONRPC_RESPONSE);
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"error\":{\"code\":-1,"
                           "\"message\":\"no\"}}"),
                     0);
    ck_assert_int_eq(msg.kind, JSONRPC_ERROR);
}
END_TEST

START_TEST(malformed_json_is_parse_error_with_position)
{
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\n \"id\":1,"), -1);
    assert_error(JSONRPC_PARSE_ERROR, NULL, "malformed JSON");
    json_t *data = json_object_get(json_object_get(reply, "error"), "data");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "line")), 2);
    ck_assert_int_eq(parse(""), -1);
    assert_error(JSONRPC_PARSE_ERROR, NULL, "malformed JSON");
    /* duplicate keys would let two layers read different values */
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"m\"}"), -1);
    assert_error(JSONRPC_PARSE_ERROR, NULL, "duplicate");
}
END_TEST

START_TEST(batches_and_non_objects_are_invalid_requests)
{
    ck_assert_int_eq(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "batch");
    ck_assert_int_eq(parse("[]"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "batch");
    ck_assert_int_eq(parse("1"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "JSON object");
    ck_assert_int_eq(parse("\"ping\""), -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "JSON object");
}
END_TEST

START_TEST(bad_envelope_fields)
{
    json_t *five = json_integer(5);
    ck_assert_int_eq(parse("{\"id\":5,\"method\":\"ping\"}"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, five, "\"jsonrpc\"");
    ck_assert_int_eq(parse("{\"jsonrpc\":\"1.0\",\"id\":5,\"method\":\"ping\"}"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, five, "\"2.0\"");
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":7}"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, five, "\"method\"");
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"m\",\"params\":[1]}"), -1);
    assert_error(JSONRPC_INVALID_PARAMS, five, "\"params\"");
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":5}"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, five, "exactly one");
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":1,\"error\":{}}"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, five, "exactly one");
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"result\":1}"), -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "\"id\"");
    json_decref(five);
}
END_TEST

START_TEST(ids_must_be_string_or_integer)
{
    static const char *bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(parse(bad[i]), -1);
        assert_error(JSONRPC_INVALID_REQUEST, NULL, "string or an integer");
    }
}
END_TEST

START_TEST(size_limit_is_checked_before_parsing)
{
    char big[1100];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}", 30);
    ck_assert_int_eq(parse(big), -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "larger than the limit of 1024 bytes");
    json_t *data = json_object_get(json_object_get(reply, "error"), "data");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "size")), 1099);
    big[1024] = '\0'; /* exactly at the limit is accepted */
    ck_assert_int_eq(parse(big), 0);
}
END_TEST

START_TEST(depth_limit)
{
    /* depth 8 is the limit: the envelope is 1, params 2, then 6 more */
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":"
                           "{\"a\":[[[[[[]]]]]]}}"),
                     0);
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":"
                           "{\"a\":[[[[[[[]]]]]]]}}"),
                     -1);
    assert_error(JSONRPC_INVALID_REQUEST, NULL, "nested deeper than the limit of 8");
    /* brackets inside strings, escaped quotes included, do not count */
    ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":"
                           "{\"a\":\"[[[[[[[[[[\\\"[[[[[[[{{{{\"}}"),
                     0);
}
END_TEST

START_TEST(depth_scanner)
{
    ck_assert_uint_eq(jsonrpc_depth("", 0, 5), 0);
    ck_assert_uint_eq(jsonrpc_depth("[]", 2, 5), 1);
    ck_assert_uint_eq(jsonrpc_depth("[{},[{}]]", 9, 5), 3);
    ck_assert_uint_eq(jsonrpc_depth("[[[[[[[[[[", 10, 5), 6); /* stops at limit + 1 */
    ck_assert_uint_eq(jsonrpc_depth("]]]][", 5, 5), 1);       /* unbalanced: no underflow */
    ck_assert_uint_eq(jsonrpc_depth("\"\\\\\"[", 5, 5), 1);   /* "\\" then [ */
}
END_TEST

START_TEST(replies_are_one_line)
{
    json_t *id = json_string("r1");
    json_t *r = jsonrpc_result(id, json_pack("{s:s}", "text", "a\nb\x01"));
    size_t len;
    char *s = jsonrpc_dump(r, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), len);
    ck_assert_ptr_null(strchr(s, '\n'));
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"result\":{\"text\":\"a\\nb\\u0001\"}}");
    free(s);
    json_decref(r);
    r = jsonrpc_errorf(id, JSONRPC_METHOD_NOT_FOUND, NULL, "unknown method \"%s\"", "x/y");
    s = jsonrpc_dump(r, NULL);
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"error\":{\"code\":-32601,"
                        "\"message\":\"unknown method \\\"x/y\\\"\"}}");
    free(s);
    json_decref(r);
    r = jsonrpc_notification("notifications/progress", json_pack("{s:i}", "progress", 1));
    s = jsonrpc_dump(r, NULL);
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
                        "\"params\":{\"progress\":1}}");
    free(s);
    json_decref(r);
    r = jsonrpc_request(id, "sampling/createMessage", NULL);
    s = jsonrpc_dump(r, NULL);
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"sampling/createMessage\"}");
    free(s);
    json_decref(r);
    json_decref(id);
}
END_TEST

START_TEST(id_equality)
{
    json_t *a = json_integer(1), *b = json_string("1"), *c = json_integer(1);
    ck_assert(!jsonrpc_id_equal(a, b));
    ck_assert(jsonrpc_id_equal(a, c));
    ck_assert(!jsonrpc_id_equal(a, NULL));
    json_t *s1 = json_stringn("a\0b", 3), *s2 = json_stringn("a\0c", 3);
    ck_assert(!jsonrpc_id_equal(s1, s2));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(s1);
    json_decref(s2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jsonrpc");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, request_with_integer_and_string_ids);
    tcase_add_test(tc, notification_response_and_error);
    tcase_add_test(tc, malformed_json_is_parse_error_with_position);
    tcase_add_test(tc, batches_and_non_objects_are_invalid_requests);
    tcase_add_test(tc, bad_envelope_fields);
    tcase_add_test(tc, ids_must_be_string_or_integer);
    tcase_add_test(tc, size_limit_is_checked_before_parsing);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, depth_scanner);
    tcase_add_test(tc, replies_are_one_line);
    tcase_add_test(tc, id_equality);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
