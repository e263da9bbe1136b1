/* The MCP protocol layer driven through mcp_handle(): resources (read,
 * errors, subscriptions), resource templates, prompts, completion and the
 * pagination of tools, prompts and resources lists.  The fixture is
 * protocol_fixture.h. */
#include "protocol_fixture.h"

/* ---- pagination ------------------------------------------------------------- */

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

static Suite *suite(void)
{
    Suite *s = suite_create("protocol_lists");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tools_pagination);
    tcase_add_test(tc, test_resources);
    tcase_add_test(tc, test_resources_errors);
    tcase_add_test(tc, test_subscribe);
    tcase_add_test(tc, test_add_resource_errors);
    tcase_add_test(tc, test_prompts);
    tcase_add_test(tc, test_completion);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_setup(2, LOG_OFF); /* the error paths log; keep the output readable */
    return tu_run(suite());
}
