/* JSON Schema validation of tool arguments (server/mcp/schema.h): every
 * keyword accepted and rejected, the exact messages a model reads, $ref and
 * its cycles, compile errors, limits, UTF-8 and truncation. */
#include "../check_util.h"
#include "mcp/schema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scase {
    const char *schema, *value;
    const char *want; /* NULL: valid; else the exact message */
};

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(j != NULL, "test JSON %s: %s", text, jerr.text);
    return j;
}

static struct schema *compile_ok(const char *text)
{
    char err[256] = "x";
    struct schema *s = NULL;
    json_t *doc = load(text);
    int rc = schema_compile(doc, &s, err, sizeof err);
    ck_assert_msg(rc == 0, "compile %s: %s", text, err);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_eq(schema_doc(s), doc);
    json_decref(doc); /* the schema keeps its own reference */
    return s;
}

/* The compile of text fails with exactly `want` (or containing it when
 * `exact` is 0). */
static void compile_bad(const char *text, const char *want, int exact)
{
    char err[512] = "";
    struct schema *s = (struct schema *)&err; /* must be reset to NULL */
    json_t *doc = load(text);
    ck_assert_int_eq(schema_compile(doc, &s, err, sizeof err), -1);
    ck_assert_ptr_null(s);
    if (exact)
        ck_assert_str_eq(err, want);
    else
        ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
    json_decref(doc);
}

static int check_as(struct schema *s, const char *value, const char *what, char *msg,
                    size_t len)
{
    json_t *v = load(value);
    int rc = schema_validate(s, v, what, msg, len);
    json_decref(v);
    return rc;
}

static void expect_in(struct schema *s, const char *value, const char *what,
                      const char *want)
{
    char msg[1024] = "junk";
    int rc = check_as(s, value, what, msg, sizeof msg);
    if (!want) {
        ck_assert_msg(rc == 0, "%s rejected: %s", value, msg);
        ck_assert_str_eq(msg, "");
        return;
    }
    ck_assert_msg(rc == -1, "%s accepted, want \"%s\"", value, want);
    ck_assert_str_eq(msg, want);
}

static void run_cases(const struct scase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct schema *s = compile_ok(c[i].schema);
        expect_in(s, c[i].value, "argument", c[i].want);
        schema_free(s);
    }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

START_TEST(test_type)
{
    static const struct scase c[] = {
        {"{\"type\":\"string\"}", "\"x\"", NULL},
        {"{\"type\":\"string\"}", "1", "arguments: expected string, got integer"},
        {"{\"type\":\"integer\"}", "5", NULL},
        {"{\"type\":\"integer\"}", "5.0",
         NULL}, /* 2020-12: integral reals are integers */
        {"{\"type\":\"integer\"}", "-0.0", NULL},
        {"{\"type\":\"integer\"}", "5.5", "arguments: expected integer, got number"},
        {"{\"type\":\"integer\"}", "\"5\"", "arguments: expected integer, got string"},
        {"{\"type\":\"number\"}", "5", NULL},
        {"{\"type\":\"number\"}", "5.5", NULL},
        {"{\"type\":\"number\"}", "true", "arguments: expected number, got boolean"},
        {"{\"type\":\"boolean\"}", "false", NULL},
        {"{\"type\":\"boolean\"}", "0", "arguments: expected boolean, got integer"},
        {"{\"type\":\"null\"}", "null", NULL},
        {"{\"type\":\"null\"}", "{}", "arguments: expected null, got object"},
        {"{\"type\":\"object\"}", "{}", NULL},
        {"{\"type\":\"object\"}", "[]", "arguments: expected object, got array"},
        {"{\"type\":\"array\"}", "[]", NULL},
        {"{\"type\":\"array\"}", "null", "arguments: expected array, got null"},
        {"{\"type\":[\"string\",\"null\"]}", "null", NULL},
        {"{\"type\":[\"null\",\"string\"]}", "1",
         "arguments: expected string or null, got integer"},
        {"{\"type\":[\"array\",\"integer\",\"string\"]}", "{}",
         "arguments: expected string, integer or array, got object"},
        {"{}", "[1,{}]", NULL},
        {"true", "1", NULL},
        {"false", "1", "arguments: not allowed here (the schema accepts no value)"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_properties_required)
{
    static const struct scase c[] = {
        {"{\"properties\":{\"url\":{\"type\":\"string\"}}}", "{\"url\":\"u\"}", NULL},
        {"{\"properties\":{\"url\":{\"type\":\"string\"}}}", "{\"url\":7}",
         "argument 'url': expected string, got integer"},
        {"{\"properties\":{\"url\":{\"type\":\"string\"}}}", "{\"other\":7}", NULL},
        {"{\"properties\":{\"url\":{\"type\":\"string\"}}}", "3",
         NULL}, /* not an object */
        {"{\"required\":[\"url\"]}", "{\"url\":1}", NULL},
        {"{\"required\":[\"url\"]}", "{}", "missing required argument 'url'"},
        {"{\"required\":[\"url\"]}", "[]", NULL},
        {"{\"properties\":{\"options\":{\"required\":[\"lang\"]}}}", "{\"options\":{}}",
         "missing required argument 'options.lang'"},
        {"{\"properties\":{\"options\":{\"properties\":{\"lang\":{\"type\":\"string\"}}}}"
         "}",
         "{\"options\":{\"lang\":false}}",
         "argument 'options.lang': expected string, got boolean"},
        {"{\"properties\":{\"items\":{\"items\":{\"type\":\"integer\"}}}}",
         "{\"items\":[1,2,\"x\"]}", "argument 'items[2]': expected integer, got string"},
        {"{\"properties\":{\"a\":{\"items\":{\"properties\":{\"b\":{\"items\":{\"type\":"
         "\"null\"}}}}}}}",
         "{\"a\":[{},{\"b\":[null,1]}]}",
         "argument 'a[1].b[1]': expected null, got integer"},
        {"{\"properties\":{\"x\":false}}", "{\"x\":1}",
         "argument 'x': not allowed here (the schema accepts no value)"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_additional_properties)
{
    static const struct scase c[] = {
        {"{\"properties\":{\"url\":{},\"language\":{}},\"additionalProperties\":false}",
         "{\"url\":1,\"language\":2}", NULL},
        {"{\"properties\":{\"url\":{},\"language\":{}},\"additionalProperties\":false}",
         "{\"url\":1,\"colour\":2}",
         "unexpected argument 'colour' (allowed: url, language)"},
        {"{\"additionalProperties\":false}", "{\"a\":1}",
         "unexpected argument 'a' (allowed: none)"},
        {"{\"additionalProperties\":false}", "{}", NULL},
        {"{\"properties\":{\"o\":{\"properties\":{\"lang\":{}},\"additionalProperties\":"
         "false}}}",
         "{\"o\":{\"region\":1}}", "unexpected argument 'o.region' (allowed: lang)"},
        {"{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"integer\"}}",
         "{\"a\":\"s\",\"b\":2}", NULL},
        {"{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"integer\"}}",
         "{\"a\":\"s\",\"b\":\"t\"}", "argument 'b': expected integer, got string"},
        {"{\"additionalProperties\":true}", "{\"b\":1}", NULL},
        {"{\"properties\":{\"p01\":{},\"p02\":{},\"p03\":{},\"p04\":{},\"p05\":{},"
         "\"p06\":{},"
         "\"p07\":{},\"p08\":{},\"p09\":{},\"p10\":{},\"p11\":{},\"p12\":{}},"
         "\"additionalProperties\":false}",
         "{\"zz\":1}",
         "unexpected argument 'zz' (allowed: p01, p02, p03, p04, p05, p06, p07, p08, "
         "p09, "
         "p10, ... (2 more))"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_enum_const)
{
    static const struct scase c[] = {
        {"{\"enum\":[\"en\",\"de\",\"fr\"]}", "\"de\"", NULL},
        {"{\"enum\":[\"en\",\"de\",\"fr\"]}", "\"xx\"",
         "arguments: \"xx\" is not one of the allowed values: \"en\", \"de\", \"fr\""},
        {"{\"properties\":{\"lang\":{\"enum\":[\"en\",1,null]}}}", "{\"lang\":2.5}",
         "argument 'lang': 2.5 is not one of the allowed values: \"en\", 1, null"},
        {"{\"enum\":[1,2]}", "1.0", NULL}, /* numbers compare by value */
        {"{\"enum\":[[1,{\"a\":2}]]}", "[1.0,{\"a\":2}]", NULL},
        {"{\"enum\":[{\"a\":1}]}", "{\"a\":1,\"b\":2}",
         "arguments: {\"a\":1,\"b\":2} is not one of the allowed values: {\"a\":1}"},
        {"{\"enum\":[0,1,2,3,4,5,6,7,8,9,10,11,12]}", "13",
         "arguments: 13 is not one of the allowed values: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, "
         "... (3 more)"},
        {"{\"enum\":[]}", "1", "arguments: 1 is not one of the allowed values: "},
        {"{\"const\":5}", "5", NULL},
        {"{\"const\":5}", "5.0", NULL},
        {"{\"const\":5}", "6", "arguments: expected exactly 5, got 6"},
        {"{\"const\":null}", "null", NULL},
        {"{\"const\":null}", "false", "arguments: expected exactly null, got false"},
        {"{\"const\":\"a\"}", "\"b\"", "arguments: expected exactly \"a\", got \"b\""},
        {"{\"const\":true}", "1", "arguments: expected exactly true, got 1"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_numbers)
{
    static const struct scase c[] = {
        {"{\"maximum\":100}", "100", NULL},
        {"{\"properties\":{\"limit\":{\"maximum\":100}}}", "{\"limit\":500}",
         "argument 'limit': 500 is above the maximum 100"},
        {"{\"minimum\":1}", "1", NULL},
        {"{\"minimum\":1}", "0", "arguments: 0 is below the minimum 1"},
        {"{\"minimum\":1.5}", "1.25", "arguments: 1.25 is below the minimum 1.5"},
        {"{\"minimum\":1}", "\"0\"", NULL}, /* numeric keywords ignore other types */
        {"{\"exclusiveMinimum\":0}", "0.001", NULL},
        {"{\"exclusiveMinimum\":0}", "0",
         "arguments: 0 is not above the exclusive minimum 0"},
        {"{\"exclusiveMaximum\":100}", "99.5", NULL},
        {"{\"exclusiveMaximum\":100}", "100",
         "arguments: 100 is not below the exclusive maximum 100"},
        {"{\"multipleOf\":5}", "15", NULL},
        {"{\"multipleOf\":5}", "7", "arguments: 7 is not a multiple of 5"},
        {"{\"multipleOf\":0.1}", "0.3", NULL},
        {"{\"multipleOf\":0.1}", "0.35", "arguments: 0.35 is not a multiple of 0.1"},
        {"{\"multipleOf\":2}", "4.0", NULL},
        {"{\"multipleOf\":1e-300}", "1e300",
         "arguments: 1e+300 is not a multiple of 1e-300"},
        /* Exact integer comparison: as doubles both are 2^53. */
        {"{\"maximum\":9007199254740992}", "9007199254740993",
         "arguments: 9007199254740993 is above the maximum 9007199254740992"},
        {"{\"minimum\":-9223372036854775807}", "-9223372036854775807", NULL},
        {"{\"maximum\":3}", "3.0", NULL},
        {"{\"maximum\":3.0}", "3", NULL},
        {"{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}", "100.0", NULL},
    };
    RUN(c);
}
END_TEST

START_TEST(test_strings)
{
    static const struct scase c[] = {
        {"{\"minLength\":2}", "\"ab\"", NULL},
        {"{\"minLength\":2}", "\"a\"",
         "arguments: must be at least 2 characters long, got 1"},
        {"{\"maxLength\":3}", "\"abc\"", NULL},
        {"{\"maxLength\":3}", "\"abcd\"",
         "arguments: must be at most 3 characters long, got 4"},
        /* code points, not bytes: é is 2 bytes, 日本 6, the emoji 4 */
        {"{\"maxLength\":5,\"minLength\":5}", "\"h\\u00e9llo\"", NULL},
        {"{\"maxLength\":2}", "\"\\u65e5\\u672c\"", NULL},
        {"{\"maxLength\":1}", "\"\\ud83d\\ude00\"", NULL},
        {"{\"maxLength\":1}", "\"\\u65e5\\u672c\"",
         "arguments: must be at most 1 character long, got 2"},
        {"{\"minLength\":3}", "\"\\u65e5\\u672c\"",
         "arguments: must be at least 3 characters long, got 2"},
        {"{\"minLength\":1}", "5", NULL},
        {"{\"pattern\":\"^[a-z]+$\"}", "\"abc\"", NULL},
        {"{\"properties\":{\"id\":{\"pattern\":\"^[a-z]+$\"}}}", "{\"id\":\"ab1\"}",
         "argument 'id': \"ab1\" does not match the pattern '^[a-z]+$'"},
        {"{\"pattern\":\"b\"}", "\"abc\"", NULL}, /* unanchored, as in ECMA-262 */
        {"{\"pattern\":\"^\\\\d{3}$\"}", "\"123\"", NULL},
        {"{\"pattern\":\"^\\\\d{3}$\"}", "\"12a\"",
         "arguments: \"12a\" does not match the pattern '^\\d{3}$'"},
        {"{\"pattern\":\"^\\\\D+$\"}", "\"ab\"", NULL},
        {"{\"pattern\":\"^\\\\D+$\"}", "\"a1\"",
         "arguments: \"a1\" does not match the pattern '^\\D+$'"},
        {"{\"pattern\":\"^[\\\\d.]+$\"}", "\"1.5\"", NULL},
        {"{\"pattern\":\"^[x\\\\d]+$\"}", "\"q\"",
         "arguments: \"q\" does not match the pattern '^[x\\d]+$'"},
        {"{\"pattern\":\"^\\\\w+$\"}", "\"a_1\"", NULL},
        {"{\"pattern\":\"^[]a]+$\"}", "\"]a\"", NULL},
        {"{\"pattern\":\"^x\"}", "1", NULL},
        /* the whole string is matched, also past a \u0000 */
        {"{\"pattern\":\"^[a-z]+$\"}", "\"ab\\u0000cd\"",
         "arguments: \"ab\\u0000cd\" does not match the pattern '^[a-z]+$'"},
        {"{\"maxLength\":4}", "\"ab\\u0000cd\"",
         "arguments: must be at most 4 characters long, got 5"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_formats)
{
    static const struct scase c[] = {
        {"{\"format\":\"uri\"}", "\"https://example.com/a?b=c#d\"", NULL},
        {"{\"format\":\"uri\"}", "\"urn:isbn:0451450523\"", NULL},
        {"{\"format\":\"uri\"}", "\"example.com/x\"",
         "arguments: \"example.com/x\" is not a valid uri (an absolute URI such as "
         "https://example.com/x)"},
        {"{\"format\":\"uri\"}", "\"http://a b\"",
         "arguments: \"http://a b\" is not a valid uri (an absolute URI such as "
         "https://example.com/x)"},
        {"{\"format\":\"uri\"}", "\"1http://x\"",
         "arguments: \"1http://x\" is not a valid uri (an absolute URI such as "
         "https://example.com/x)"},
        {"{\"format\":\"date-time\"}", "\"2024-01-31T12:00:00Z\"", NULL},
        {"{\"format\":\"date-time\"}", "\"2024-02-29t23:59:60.123+05:30\"", NULL},
        {"{\"format\":\"date-time\"}", "\"2023-02-29T00:00:00Z\"",
         "arguments: \"2023-02-29T00:00:00Z\" is not a valid date-time (RFC 3339, such "
         "as "
         "2024-01-31T12:00:00Z)"},
        {"{\"format\":\"date-time\"}", "\"2024-01-31\"",
         "arguments: \"2024-01-31\" is not a valid date-time (RFC 3339, such as "
         "2024-01-31T12:00:00Z)"},
        {"{\"format\":\"date-time\"}", "\"2024-01-31T12:00:00\"",
         "arguments: \"2024-01-31T12:00:00\" is not a valid date-time (RFC 3339, such as "
         "2024-01-31T12:00:00Z)"},
        {"{\"format\":\"date-time\"}", "\"2024-13-01T00:00:00Z\"",
         "arguments: \"2024-13-01T00:00:00Z\" is not a valid date-time (RFC 3339, such "
         "as "
         "2024-01-31T12:00:00Z)"},
        {"{\"format\":\"date-time\"}", "\"2024-01-01T24:00:00Z\"",
         "arguments: \"2024-01-01T24:00:00Z\" is not a valid date-time (RFC 3339, such "
         "as "
         "2024-01-31T12:00:00Z)"},
        {"{\"format\":\"date-time\"}", "\"2024-01-01T10:00:00.Z\"",
         "arguments: \"2024-01-01T10:00:00.Z\" is not a valid date-time (RFC 3339, such "
         "as "
         "2024-01-31T12:00:00Z)"},
        {"{\"format\":\"email\"}", "\"a.b@example.com\"", NULL},
        {"{\"format\":\"email\"}", "\"user@localhost\"", NULL},
        {"{\"format\":\"email\"}", "\"nobody\"",
         "arguments: \"nobody\" is not a valid email address"},
        {"{\"format\":\"email\"}", "\"a@b@c\"",
         "arguments: \"a@b@c\" is not a valid email address"},
        {"{\"format\":\"email\"}", "\"a@b..c\"",
         "arguments: \"a@b..c\" is not a valid email address"},
        {"{\"format\":\"email\"}", "\"a b@c\"",
         "arguments: \"a b@c\" is not a valid email address"},
        {"{\"format\":\"email\"}", "\"@c\"",
         "arguments: \"@c\" is not a valid email address"},
        {"{\"format\":\"uuid\"}", "\"not a uuid\"",
         NULL}, /* other formats: annotations */
        {"{\"format\":\"uri\"}", "42", NULL},
        {"{\"format\":\"uri\"}", "\"http://a\\u0000 b\"",
         "arguments: \"http://a\\u0000 b\" is not a valid uri (an absolute URI such as "
         "https://example.com/x)"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_arrays)
{
    static const struct scase c[] = {
        {"{\"items\":{\"type\":\"string\"}}", "[\"a\",\"b\"]", NULL},
        {"{\"items\":{\"type\":\"string\"}}", "[\"a\",2]",
         "argument '[1]': expected string, got integer"},
        {"{\"items\":false}", "[]", NULL},
        {"{\"minItems\":2}", "[1,2]", NULL},
        {"{\"minItems\":2.0,\"maxItems\":2}", "[1,2]", NULL},
        {"{\"minItems\":3}", "[1]", "arguments: must have at least 3 items, got 1"},
        {"{\"maxItems\":0}", "[1]", "arguments: must have at most 0 items, got 1"},
        {"{\"minItems\":2}", "[1]", "arguments: must have at least 2 items, got 1"},
        {"{\"maxItems\":1}", "[1,2]", "arguments: must have at most 1 item, got 2"},
        {"{\"uniqueItems\":true}", "[1,\"1\",[1],{\"a\":1}]", NULL},
        {"{\"uniqueItems\":true}", "[1,2,1.0]",
         "arguments: items must be unique, but [0] and [2] are equal"},
        {"{\"uniqueItems\":true}", "[{\"a\":[1]},{\"a\":[1]}]",
         "arguments: items must be unique, but [0] and [1] are equal"},
        {"{\"uniqueItems\":false}", "[1,1]", NULL},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
         "[\"a\",1,null]", NULL},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
         "[\"a\",\"b\"]", "argument '[1]': expected integer, got string"},
        {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\"]", NULL},
        {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\",1]",
         "argument '[1]': not allowed here (the schema accepts no value)"},
        {"{\"contains\":{\"type\":\"integer\"}}", "[\"a\",1]", NULL},
        {"{\"contains\":{\"type\":\"integer\"}}", "[\"a\"]",
         "arguments: no item matches the 'contains' schema"},
        {"{\"contains\":{\"type\":\"integer\"},\"minContains\":2}", "[1,\"a\"]",
         "arguments: 1 item matches the 'contains' schema, at least 2 required"},
        {"{\"contains\":{\"type\":\"integer\"},\"maxContains\":1}", "[1,2]",
         "arguments: 2 items match the 'contains' schema, at most 1 allowed"},
        {"{\"contains\":{\"type\":\"integer\"},\"minContains\":0}", "[]", NULL},
        {"{\"contains\":{\"type\":\"integer\"},\"minContains\":3}", "[1,\"a\",2]",
         "arguments: 2 items match the 'contains' schema, at least 3 required"},
        {"{\"contains\":{\"type\":\"integer\"},\"minContains\":2,\"maxContains\":2}",
         "[1,\"a\",2]", NULL},
        {"{\"minItems\":1}", "\"x\"", NULL},
    };
    RUN(c);
}
END_TEST

START_TEST(test_object_counts)
{
    static const struct scase c[] = {
        {"{\"minProperties\":1}", "{\"a\":1}", NULL},
        {"{\"minProperties\":1}", "{}",
         "arguments: must have at least 1 property, got 0"},
        {"{\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
         "arguments: must have at most 1 property, got 2"},
        {"{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"}}", "{\"ab\":1}", NULL},
        {"{\"properties\":{\"o\":{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"}}}}",
         "{\"o\":{\"ab\":1,\"FOO\":2}}",
         "argument 'o': invalid property name: \"FOO\" does not match the pattern "
         "'^[a-z]+$'"},
        {"{\"propertyNames\":{\"maxLength\":2}}", "{\"abc\":1}",
         "arguments: invalid property name: must be at most 2 characters long, got 3"},
        {"{\"dependentRequired\":{\"a\":[\"b\",\"c\"]}}", "{\"a\":1,\"b\":2,\"c\":3}",
         NULL},
        {"{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"b\":2}", NULL},
        {"{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"a\":1}",
         "missing required argument 'b' (required when 'a' is present)"},
        {"{\"properties\":{\"o\":{\"dependentRequired\":{\"a\":[\"b\"]}}}}",
         "{\"o\":{\"a\":1}}",
         "missing required argument 'o.b' (required when 'o.a' is present)"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_combinators)
{
    static const struct scase c[] = {
        {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "4", NULL},
        {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "2",
         "arguments: 2 is below the minimum 3"},
        {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "1", NULL},
        {"{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}"
         "]}}}",
         "{\"v\":true}",
         "argument 'v': does not match any of the 2 alternatives of anyOf; the first "
         "failed "
         "with: argument 'v': expected string, got boolean"},
        {"{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "1", NULL},
        {"{\"oneOf\":[{\"type\":\"string\"},{\"maximum\":5}]}", "9",
         "arguments: does not match any of the 2 alternatives of oneOf; the first failed "
         "with: arguments: expected string, got integer"},
        {"{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"},{\"minimum\":0}]}",
         "3",
         "arguments: matches more than one of the 3 alternatives of oneOf (1 and 2); "
         "exactly "
         "one must match"},
        {"{\"not\":{\"type\":\"string\"}}", "1", NULL},
        {"{\"not\":{\"type\":\"string\"}}", "\"s\"",
         "arguments: must not match the schema given in 'not'"},
        /* the quiet trial of a later branch leaves the first branch's message */
        {"{\"anyOf\":[{\"required\":[\"a\"]},{\"not\":{\"required\":[\"b\"]}}]}",
         "{\"b\":1}",
         "arguments: does not match any of the 2 alternatives of anyOf; the first failed "
         "with: missing required argument 'a'"},
        {"{\"anyOf\":[{\"anyOf\":[{\"type\":\"null\"}]},{\"type\":\"string\"}]}", "1",
         "arguments: does not match any of the 2 alternatives of anyOf; the first failed "
         "with: arguments: does not match any of the 1 alternatives of anyOf; the first "
         "failed with: arguments: expected null, got integer"},
        {"{\"allOf\":[{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"integer\"}]},{\"not\":"
         "{\"const\":3}}]}",
         "3", "arguments: must not match the schema given in 'not'"},
    };
    RUN(c);
}
END_TEST

START_TEST(test_ref_defs)
{
    static const struct scase c[] = {
        {"{\"$defs\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"a\":{\"$ref\":"
         "\"#/$defs/s\"}}}",
         "{\"a\":\"x\"}", NULL},
        {"{\"$defs\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"a\":{\"$ref\":"
         "\"#/$defs/s\"}}}",
         "{\"a\":1}", "argument 'a': expected string, got integer"},
        {"{\"definitions\":{\"n\":{\"maximum\":3}},\"$ref\":\"#/definitions/n\"}", "4",
         "arguments: 4 is above the maximum 3"},
        /* $ref applies alongside its siblings (2020-12) */
        {"{\"$defs\":{\"n\":{\"maximum\":3}},\"$ref\":\"#/$defs/n\",\"minimum\":1}", "0",
         "arguments: 0 is below the minimum 1"},
        /* JSON pointer escapes: ~1 is /, ~0 is ~, %25 is % */
        {"{\"$defs\":{\"a/b\":{\"type\":\"null\"}},\"$ref\":\"#/$defs/a~1b\"}", "1",
         "arguments: expected null, got integer"},
        {"{\"$defs\":{\"a~b\":{\"type\":\"null\"}},\"$ref\":\"#/$defs/a~0b\"}", "1",
         "arguments: expected null, got integer"},
        {"{\"$defs\":{\"a%b\":{\"type\":\"null\"}},\"$ref\":\"#/$defs/a%25b\"}", "1",
         "arguments: expected null, got integer"},
        /* the fragment is percent-decoded before it is split: %2F separates */
        {"{\"$defs\":{\"a/b\":{\"type\":\"null\"}},\"$ref\":\"#/$defs%2Fa%7E1b\"}", "1",
         "arguments: expected null, got integer"},
        /* other pointers into the document, and a nested $defs */
        {"{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"$ref\":\"#/properties/"
         "a\"}}}",
         "{\"b\":\"x\"}", "argument 'b': expected integer, got string"},
        {"{\"$defs\":{\"o\":{\"$defs\":{\"i\":{\"const\":1}},\"$ref\":\"#/$defs/o/$defs/"
         "i\"}},"
         "\"prefixItems\":[{\"$ref\":\"#/$defs/o\"}]}",
         "[2]", "argument '[0]': expected exactly 1, got 2"},
        {"{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/anyOf/0\"}]}", "null", NULL},
        /* a recursive tree: the cycle goes through a nested value, so it is fine */
        {"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"kids\":"
         "{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}},\"additionalProperties\":"
         "false}",
         "{\"name\":\"r\",\"kids\":[{\"name\":\"a\",\"kids\":[]},{\"name\":\"b\","
         "\"kids\":"
         "[{\"name\":\"c\"}]}]}",
         NULL},
        {"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"kids\":"
         "{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}},\"additionalProperties\":"
         "false}",
         "{\"kids\":[{\"kids\":[{\"name\":3}]}]}",
         "argument 'kids[0].kids[0].name': expected string, got integer"},
        {"{\"$defs\":{\"list\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\","
         "\"properties\":{\"next\":{\"$ref\":\"#/$defs/list\"}}}]}},\"$ref\":\"#/$defs/"
         "list\"}",
         "{\"next\":{\"next\":null}}", NULL},
    };
    RUN(c);
}
END_TEST

/* The input schema of the conformance suite's json_schema_2020_12_tool is
 * of this shape: $schema, $defs, $ref, additionalProperties false. */
static const char CONFORMANCE[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"type\":\"object\","
    "\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{"
    "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"],\"additionalProperties\":false}},"
    "\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"Who\"},"
    "\"address\":{\"$ref\":\"#/$defs/address\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"default\":[]}},"
    "\"required\":[\"name\"],\"additionalProperties\":false}";

START_TEST(test_conformance_tool_schema)
{
    struct schema *s = compile_ok(CONFORMANCE);
    expect_in(s, "{\"name\":\"n\"}", "argument", NULL);
    expect_in(
        s, "{\"name\":\"n\",\"address\":{\"street\":\"s\",\"city\":\"c\"},\"tags\":[]}",
        "argument", NULL);
    expect_in(s, "{}", "argument", "missing required argument 'name'");
    expect_in(s, "{\"name\":\"n\",\"address\":{}}", "argument",
              "missing required argument 'address.city'");
    expect_in(s, "{\"name\":\"n\",\"address\":{\"city\":\"c\",\"zip\":1}}", "argument",
              "unexpected argument 'address.zip' (allowed: street, city)");
    expect_in(s, "{\"name\":\"n\",\"extra\":1}", "argument",
              "unexpected argument 'extra' (allowed: name, address, tags)");
    expect_in(s, "{\"name\":\"n\",\"tags\":[\"a\",5]}", "argument",
              "argument 'tags[1]': expected string, got integer");
    expect_in(s, "[]", "argument", "arguments: expected object, got array");
    expect_in(s, "[]", "result", "result: expected object, got array");
    expect_in(s, "{}", "result", "missing required result 'name'");
    expect_in(s, "{\"name\":1}", "result", "result 'name': expected string, got integer");
    expect_in(s, "{\"name\":1}", NULL, "value 'name': expected string, got integer");
    schema_free(s);
}
END_TEST

START_TEST(test_annotations_ignored)
{
    static const struct scase c[] = {
        {"{\"title\":\"t\",\"description\":\"d\",\"default\":5,\"examples\":[1],"
         "\"$schema\":\"x\",\"$id\":\"urn:x\",\"$comment\":\"c\",\"readOnly\":true,"
         "\"writeOnly\":false,\"deprecated\":true,\"contentMediaType\":\"text/plain\","
         "\"contentEncoding\":\"base64\",\"type\":\"string\"}",
         "1", "arguments: expected string, got integer"},
        /* an annotation's value is not a schema, so nothing in it is checked */
        {"{\"default\":{\"bogus\":1},\"examples\":[{\"patternProperties\":{}}]}", "1",
         NULL},
    };
    RUN(c);
}
END_TEST

START_TEST(test_bad_schemas)
{
    static const struct {
        const char *schema, *err;
    } c[] = {
        {"5", "a schema must be an object or a boolean, got integer at #"},
        {"{\"properties\":{\"a\":[]}}",
         "a schema must be an object or a boolean, got array at #/properties/a"},
        {"{\"patternProperties\":{}}", "unsupported keyword 'patternProperties' at #"},
        {"{\"properties\":{\"a\":{\"if\":{}}}}",
         "unsupported keyword 'if' at #/properties/a"},
        {"{\"properties\":{\"a/~b\":{\"foo\":1}}}",
         "unsupported keyword 'foo' at #/properties/a~1~0b"},
        {"{\"type\":\"str\"}", "unknown type 'str' (known: string, integer, number, "
                               "boolean, object, array, null) "
                               "at #/type"},
        {"{\"type\":[]}",
         "'type' must be a type name or a non-empty array of them, got array "
         "at #/type"},
        {"{\"type\":[1]}", "'type' entries must be strings, got integer at #/type"},
        {"{\"minLength\":-1}",
         "'minLength' must be an integer from 0 to 10^15, got -1 at "
         "#/minLength"},
        {"{\"maxItems\":1.5}",
         "'maxItems' must be an integer from 0 to 10^15, got 1.5 at "
         "#/maxItems"},
        {"{\"maxLength\":1e16}",
         "'maxLength' must be an integer from 0 to 10^15, got 1e+16 at "
         "#/maxLength"},
        {"{\"minProperties\":\"1\"}", "'minProperties' must be an integer from 0 to "
                                      "10^15, got string at #/minProperties"},
        {"{\"maximum\":\"5\"}", "'maximum' must be a number, got string at #/maximum"},
        {"{\"exclusiveMinimum\":true}",
         "'exclusiveMinimum' must be a number, got boolean at #/exclusiveMinimum"},
        {"{\"multipleOf\":0}", "'multipleOf' must be greater than 0 at #/multipleOf"},
        {"{\"items\":[{}]}",
         "'items' as an array (the tuple form of older drafts) is not "
         "supported; use 'prefixItems' at #/items"},
        {"{\"anyOf\":[]}",
         "'anyOf' must be a non-empty array of schemas, got an empty array "
         "at #/anyOf"},
        {"{\"oneOf\":{}}",
         "'oneOf' must be a non-empty array of schemas, got object at #/oneOf"},
        {"{\"allOf\":[{},3]}", "a schema must be an object or a boolean, got integer at "
                               "#/allOf/1"},
        {"{\"enum\":1}", "'enum' must be an array, got integer at #/enum"},
        {"{\"required\":\"a\"}",
         "'required' must be an array of property names at #/required"},
        {"{\"required\":[1]}",
         "'required' must be an array of property names at #/required"},
        {"{\"properties\":[]}",
         "'properties' must be an object, got array at #/properties"},
        {"{\"uniqueItems\":1}",
         "'uniqueItems' must be a boolean, got integer at #/uniqueItems"},
        {"{\"format\":1}", "'format' must be a string, got integer at #/format"},
        {"{\"pattern\":1}", "'pattern' must be a string, got integer at #/pattern"},
        {"{\"dependentRequired\":{\"a\":\"b\"}}",
         "'dependentRequired' entry 'a' must be an array of property names at "
         "#/dependentRequired"},
        {"{\"dependentRequired\":[]}",
         "'dependentRequired' must be an object, got array at #/dependentRequired"},
        {"{\"$defs\":[]}", "'$defs' must be an object of schemas, got array at #/$defs"},
        {"{\"$defs\":{\"x\":{\"bad\":1}}}", "unsupported keyword 'bad' at #/$defs/x"},
        {"{\"$ref\":1}", "'$ref' must be a string, got integer at #/$ref"},
        {"{\"$ref\":\"#/$defs/nope\"}",
         "$ref '#/$defs/nope' does not resolve to anything in this schema at #/$ref"},
        {"{\"$ref\":\"#/$defs/a~2\",\"$defs\":{\"a~2\":{}}}",
         "$ref '#/$defs/a~2' does not resolve to anything in this schema at #/$ref"},
        {"{\"$ref\":\"#/$defs/a%zz\"}",
         "$ref '#/$defs/a%zz' does not resolve to anything in this schema at #/$ref"},
        {"{\"$ref\":\"#/allOf/01\",\"allOf\":[{},{}]}",
         "$ref '#/allOf/01' does not resolve to anything in this schema at #/$ref"},
        {"{\"$ref\":\"https://example.com/s.json\"}",
         "$ref 'https://example.com/s.json' is not supported: only references into the "
         "same "
         "document (like '#/$defs/NAME') are at #/$ref"},
        {"{\"$ref\":\"#anchor\"}",
         "$ref '#anchor' does not resolve to anything in this schema at #/$ref"},
        {"{\"$defs\":{\"a\":{\"minimum\":\"x\"}},\"$ref\":\"#/$defs/a\"}",
         "'minimum' must be a number, got string at #/$defs/a/minimum"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        compile_bad(c[i].schema, c[i].err, 1);
}
END_TEST

START_TEST(test_bad_pattern)
{
    compile_bad("{\"properties\":{\"id\":{\"pattern\":\"^(ab\"}}}",
                "invalid pattern '^(ab': ", 0);
    compile_bad("{\"properties\":{\"id\":{\"pattern\":\"^(ab\"}}}",
                " at #/properties/id/pattern", 0);
    compile_bad("{\"pattern\":\"a{2,1}\"}", "invalid pattern 'a{2,1}'", 0);
}
END_TEST

START_TEST(test_ref_cycles)
{
    compile_bad("{\"$ref\":\"#\"}",
                "$ref cycle: this schema applies itself to the same value again without "
                "descending into it at #",
                1);
    compile_bad(
        "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
        "\"$ref\":\"#/$defs/a\"}",
        "$ref cycle: this schema applies itself to the same value again without "
        "descending into it at #/$defs/a",
        1);
    /* unused, but still a cycle: every $defs entry is compiled and checked */
    compile_bad("{\"$defs\":{\"a\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}}}",
                "$ref cycle", 0);
    compile_bad("{\"$defs\":{\"a\":{\"not\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"}]}}}}",
                "$ref cycle", 0);
    compile_bad(
        "{\"$defs\":{\"a\":{\"oneOf\":[{},{\"$ref\":\"#\"}]}},\"$ref\":\"#/$defs/a\"}",
        "$ref cycle", 0);
}
END_TEST

/* A schema whose $ref chain is n hops long: # -> d1 -> ... -> dn. */
static char *ref_chain(int n)
{
    size_t cap = 64 + (size_t)n * 64;
    char *s = malloc(cap);
    size_t len = 0;
    ck_assert_ptr_nonnull(s);
    len += (size_t)snprintf(s + len, cap - len, "{\"$ref\":\"#/$defs/d1\",\"$defs\":{");
    for (int i = 1; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "\"d%d\":{\"$ref\":\"#/$defs/d%d\"},",
                                i, i + 1);
    snprintf(s + len, cap - len, "\"d%d\":{\"type\":\"string\"}}}", n);
    return s;
}

START_TEST(test_ref_chain_limit)
{
    char *ok = ref_chain(16), *bad = ref_chain(17);
    struct schema *s = compile_ok(ok);
    expect_in(s, "\"x\"", "argument", NULL);
    expect_in(s, "1", "argument", "arguments: expected string, got integer");
    schema_free(s);
    compile_bad(bad, "$ref chain deeper than 16 at #", 0);
    free(ok);
    free(bad);
}
END_TEST

/* levels nested schemas: {"properties":{"a":{"properties":{"a":{}}}}}. */
static char *nested_schema(int levels)
{
    size_t cap = (size_t)levels * 24 + 8, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    for (int i = 1; i < levels; i++)
        len += (size_t)snprintf(s + len, cap - len, "{\"properties\":{\"a\":");
    len += (size_t)snprintf(s + len, cap - len, "{\"type\":\"string\"}");
    for (int i = 1; i < levels; i++)
        len += (size_t)snprintf(s + len, cap - len, "}}");
    return s;
}

START_TEST(test_schema_nesting_limit)
{
    char *ok = nested_schema(32), *bad = nested_schema(33);
    struct schema *s = compile_ok(ok);
    schema_free(s);
    compile_bad(bad, "schema nested deeper than 32 levels at #/properties/a", 0);
    free(ok);
    free(bad);
    /* the nesting counts again from a $defs entry: each part is within 32 */
    ok = nested_schema(32);
    {
        size_t n = strlen(ok) + 128;
        char *doc = malloc(n);
        ck_assert_ptr_nonnull(doc);
        snprintf(doc, n,
                 "{\"$defs\":{\"deep\":%s},\"properties\":{\"x\":{\"$ref\":"
                 "\"#/$defs/deep\"}}}",
                 ok);
        s = compile_ok(doc);
        schema_free(s);
        free(doc);
    }
    free(ok);
    /* siblings do not add to the nesting */
    ok = nested_schema(31);
    {
        size_t n = 2 * strlen(ok) + 40 * 32 + 64, len = 0;
        char *doc = malloc(n);
        ck_assert_ptr_nonnull(doc);
        len += (size_t)snprintf(doc, n, "{\"properties\":{");
        for (int i = 0; i < 40; i++)
            len +=
                (size_t)snprintf(doc + len, n - len, "\"s%d\":{\"type\":\"string\"},", i);
        snprintf(doc + len, n - len, "\"deep\":%s},\"anyOf\":[{},{},%s]}", ok, ok);
        s = compile_ok(doc);
        expect_in(s, "{\"s39\":1}", "argument",
                  "argument 's39': expected string, got integer");
        schema_free(s);
        free(doc);
    }
    free(ok);
}
END_TEST

/* levels nested arrays: [[[...]]] (levels 1 = "[]"). */
static char *nested_value(int levels)
{
    char *s = malloc((size_t)levels * 2 + 1);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < levels; i++) {
        s[i] = '[';
        s[levels * 2 - 1 - i] = ']';
    }
    s[levels * 2] = '\0';
    return s;
}

START_TEST(test_value_depth_limit)
{
    struct schema *s = compile_ok("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
    char *ok = nested_value(65), *bad = nested_value(66), msg[1024];
    const char *tail = "': nested deeper than 64 levels";
    size_t n;
    expect_in(s, ok, "argument", NULL); /* the innermost array is at depth 64 */
    ck_assert_int_eq(check_as(s, bad, "argument", msg, sizeof msg), -1);
    ck_assert_msg(strncmp(msg, "argument '[0][0][0]", 19) == 0, "%s", msg);
    n = strlen(msg);
    ck_assert_uint_eq(n, strlen("argument '") + 64 * 3 + strlen(tail));
    ck_assert_str_eq(msg + n - strlen(tail), tail);
    /* a schema that does not descend never looks that deep */
    schema_free(s);
    s = compile_ok("{\"type\":\"array\"}");
    expect_in(s, bad, "argument", NULL);
    schema_free(s);
    free(ok);
    free(bad);
}
END_TEST

START_TEST(test_truncation)
{
    struct schema *s = compile_ok(
        "{\"properties\":{\"url\":{},\"language\":{}},\"additionalProperties\":false}");
    char msg[64];
    memset(msg, 'x', sizeof msg);
    ck_assert_int_eq(check_as(s, "{\"colour\":1}", "argument", msg, 20), -1);
    ck_assert_str_eq(msg, "unexpected argument");
    ck_assert_int_eq(msg[20], 'x'); /* nothing written past msglen */
    ck_assert_int_eq(check_as(s, "{\"colour\":1}", "argument", msg, 1), -1);
    ck_assert_str_eq(msg, "");
    msg[0] = 'x';
    ck_assert_int_eq(check_as(s, "{\"colour\":1}", "argument", msg, 0), -1);
    ck_assert_int_eq(msg[0], 'x');
    ck_assert_int_eq(check_as(s, "{\"colour\":1}", "argument", NULL, 0), -1);
    ck_assert_int_eq(check_as(s, "{\"url\":1}", "argument", NULL, 10), 0);
    schema_free(s);

    /* never ends inside a UTF-8 character: 日 is 3 bytes after 12 */
    s = compile_ok("{\"enum\":[\"a\"]}");
    ck_assert_int_eq(check_as(s, "\"\\u65e5\\u672c\"", "argument", msg, 14), -1);
    ck_assert_str_eq(msg, "arguments: \"");
    ck_assert_int_eq(check_as(s, "\"\\u65e5\\u672c\"", "argument", msg, 15), -1);
    ck_assert_str_eq(msg, "arguments: \"");
    ck_assert_int_eq(check_as(s, "\"\\u65e5\\u672c\"", "argument", msg, 16), -1);
    ck_assert_str_eq(msg, "arguments: \"\xe6\x97\xa5");
    schema_free(s);

    /* long values are cut in the message, on a character boundary */
    s = compile_ok("{\"const\":1}");
    {
        char big[1024], val[200], want[200];
        memset(val, 'a', 100);
        val[0] = '"';
        memcpy(val + 56, "\xc3\xa9", 2); /* é across the cut after byte 57 */
        val[100] = '"';
        val[101] = '\0';
        ck_assert_int_eq(check_as(s, val, "argument", big, sizeof big), -1);
        snprintf(want, sizeof want, "arguments: expected exactly 1, got %.56s...", val);
        ck_assert_str_eq(big, want);
    }
    schema_free(s);

    /* compile errors are bounded too */
    {
        char err[8];
        struct schema *t = NULL;
        json_t *doc = load("{\"nope\":1}");
        ck_assert_int_eq(schema_compile(doc, &t, err, sizeof err), -1);
        ck_assert_str_eq(err, "unsuppo");
        ck_assert_int_eq(schema_compile(doc, &t, NULL, 0), -1);
        ck_assert_ptr_null(t);
        json_decref(doc);
    }
}
END_TEST

START_TEST(test_null_arguments)
{
    char err[64], msg[64];
    struct schema *s = (struct schema *)err;
    json_t *v = json_integer(1);
    ck_assert_int_eq(schema_compile(NULL, &s, err, sizeof err), -1);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err, "no schema given at #");
    ck_assert_int_eq(schema_compile(v, NULL, err, sizeof err), -1);
    ck_assert_int_eq(schema_validate(NULL, v, "argument", msg, sizeof msg), -1);
    ck_assert_str_eq(msg, "no schema to validate against");
    s = compile_ok("{}");
    ck_assert_int_eq(schema_validate(s, NULL, "argument", msg, sizeof msg), -1);
    ck_assert_str_eq(msg, "no value to validate");
    ck_assert_int_eq(schema_validate(s, v, "argument", msg, sizeof msg), 0);
    schema_free(s);
    schema_free(NULL);
    ck_assert_ptr_null(schema_doc(NULL));
    json_decref(v);
}
END_TEST

/* The compiled schema is reusable and does not depend on later use of the
 * caller's reference; compile once, validate many. */
START_TEST(test_reuse)
{
    struct schema *s = compile_ok(CONFORMANCE);
    json_t *doc = schema_doc(s);
    ck_assert_int_eq(doc->refcount, 1);
    for (int i = 0; i < 3; i++) {
        expect_in(s, "{\"name\":\"n\"}", "argument", NULL);
        expect_in(s, "{}", "argument", "missing required argument 'name'");
    }
    schema_free(s);
}
END_TEST

/* More subschemas than MAX_NODES is a compile error, not a slow compile. */
START_TEST(test_too_many_subschemas)
{
    size_t cap = 3000 * 16 + 64, len = 0;
    char *doc = malloc(cap);
    ck_assert_ptr_nonnull(doc);
    len += (size_t)snprintf(doc + len, cap - len, "{\"properties\":{");
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s\"p%d\":{}", i ? "," : "", i);
    snprintf(doc + len, cap - len, "}}");
    compile_bad(doc, "schema has more than 2048 subschemas at #/properties/p2047", 1);
    free(doc);
}
END_TEST

/* Each value level costs 31 nested allOf frames: 40 levels pass the total
 * frame backstop (1024) before the value depth limit. */
START_TEST(test_frame_backstop)
{
    char doc[2048], msg[512], *val = nested_value(40), *small = nested_value(20);
    size_t len = 0;
    struct schema *s;
    len +=
        (size_t)snprintf(doc + len, sizeof doc - len, "{\"type\":\"array\",\"items\":");
    for (int i = 0; i < 29; i++)
        len += (size_t)snprintf(doc + len, sizeof doc - len, "{\"allOf\":[");
    len += (size_t)snprintf(doc + len, sizeof doc - len, "{\"$ref\":\"#\"}");
    for (int i = 0; i < 29; i++)
        len += (size_t)snprintf(doc + len, sizeof doc - len, "]}");
    snprintf(doc + len, sizeof doc - len, "}");
    s = compile_ok(doc);
    expect_in(s, small, "argument", NULL);
    ck_assert_int_eq(check_as(s, val, "argument", msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "': too deeply nested to validate (more than 1024 nested "
                              "subschemas)"),
                  "%s", msg);
    schema_free(s);
    free(val);
    free(small);
}
END_TEST

struct worker {
    struct schema *s;
    int ok;
};

static void *validate_many(void *arg)
{
    struct worker *w = arg;
    json_t *good = load("{\"name\":\"n\",\"tags\":[\"a\"]}"), *bad = load("{\"name\":5}");
    char msg[256];
    w->ok = 1;
    for (int i = 0; i < 200; i++) {
        if (schema_validate(w->s, good, "argument", msg, sizeof msg) != 0)
            w->ok = 0;
        if (schema_validate(w->s, bad, "argument", msg, sizeof msg) != -1 ||
            strcmp(msg, "argument 'name': expected string, got integer") != 0)
            w->ok = 0;
    }
    json_decref(good);
    json_decref(bad);
    return NULL;
}

/* A compiled schema is read-only: validations may run on many threads. */
START_TEST(test_threads)
{
    struct schema *s = compile_ok(
        "{\"properties\":{\"name\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"},"
        "\"tags\":{\"items\":{\"enum\":[\"a\",\"b\"]}}},\"required\":[\"name\"]}");
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].s = s;
        ck_assert_int_eq(pthread_create(&t[i], NULL, validate_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert(w[i].ok);
    }
    schema_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("schema");
    TCase *k = tcase_create("keywords");
    tcase_add_test(k, test_type);
    tcase_add_test(k, test_properties_required);
    tcase_add_test(k, test_additional_properties);
    tcase_add_test(k, test_enum_const);
    tcase_add_test(k, test_numbers);
    tcase_add_test(k, test_strings);
    tcase_add_test(k, test_formats);
    tcase_add_test(k, test_arrays);
    tcase_add_test(k, test_object_counts);
    tcase_add_test(k, test_combinators);
    tcase_add_test(k, test_ref_defs);
    tcase_add_test(k, test_conformance_tool_schema);
    tcase_add_test(k, test_annotations_ignored);
    suite_add_tcase(s, k);
    TCase *e = tcase_create("errors_limits");
    tcase_add_test(e, test_bad_schemas);
    tcase_add_test(e, test_bad_pattern);
    tcase_add_test(e, test_ref_cycles);
    tcase_add_test(e, test_ref_chain_limit);
    tcase_add_test(e, test_schema_nesting_limit);
    tcase_add_test(e, test_value_depth_limit);
    tcase_add_test(e, test_truncation);
    tcase_add_test(e, test_null_arguments);
    tcase_add_test(e, test_reuse);
    tcase_add_test(e, test_too_many_subschemas);
    tcase_add_test(e, test_frame_backstop);
    tcase_add_test(e, test_threads);
    suite_add_tcase(s, e);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
