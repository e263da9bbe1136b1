/* The conformance suite's resources, resource template, prompts and
 * completions, with the contents the server scenarios of
 * @modelcontextprotocol/conformance 0.1.16 check (resources-*,
 * prompts-*, completion-complete). */
#include "fixtures.h"

#include "mcp/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- resources ------------------------------------------------------------ */

/* [{uri, mimeType, text}] */
static int one_text(const char *uri, const char *mime, const char *text,
                    json_t **contents)
{
    *contents =
        json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType", mime, "text", text);
    return *contents != NULL ? 0 : -1;
}

static int read_static_text(struct mcp_call *c, const char *uri, void *ctx,
                            json_t **contents)
{
    (void)c, (void)ctx;
    return one_text(uri, "text/plain", "This is the content of the static text resource.",
                    contents);
}

static int read_static_binary(struct mcp_call *c, const char *uri, void *ctx,
                              json_t **contents)
{
    (void)c, (void)ctx;
    *contents = json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType", "image/png",
                          "blob", fixture_png_base64);
    return *contents != NULL ? 0 : -1;
}

static int read_watched(struct mcp_call *c, const char *uri, void *ctx, json_t **contents)
{
    (void)c, (void)ctx;
    return one_text(uri, "text/plain", "The content of the watched resource.", contents);
}

#define TEMPLATE_PREFIX "test://template/"
#define TEMPLATE_SUFFIX "/data"
#define TEMPLATE_ID_MAX 128

/* The {id} of test://template/{id}/data: one non-empty path segment. */
static int template_id(const char *uri, char id[TEMPLATE_ID_MAX + 1])
{
    size_t plen = strlen(TEMPLATE_PREFIX), slen = strlen(TEMPLATE_SUFFIX);
    size_t len = strlen(uri);

    if (len <= plen + slen || strncmp(uri, TEMPLATE_PREFIX, plen) != 0 ||
        strcmp(uri + len - slen, TEMPLATE_SUFFIX) != 0)
        return -1;
    size_t n = len - plen - slen;
    if (n > TEMPLATE_ID_MAX || memchr(uri + plen, '/', n) != NULL)
        return -1;
    memcpy(id, uri + plen, n);
    id[n] = '\0';
    return 0;
}

/* {"id":ID,"templateTest":true,"data":"Data for ID: ID"} as JSON text. */
static int read_template(struct mcp_call *c, const char *uri, void *ctx,
                         json_t **contents)
{
    char id[TEMPLATE_ID_MAX + 1], data[TEMPLATE_ID_MAX + 16];
    (void)c, (void)ctx;

    if (template_id(uri, id) != 0)
        return MCP_RESOURCE_NOT_FOUND;
    snprintf(data, sizeof data, "Data for ID: %s", id);
    json_t *doc = json_pack("{s:s, s:b, s:s}", "id", id, "templateTest", 1, "data", data);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    int rc = text != NULL ? one_text(uri, "application/json", text, contents) : -1;
    free(text);
    json_decref(doc);
    return rc;
}

static const struct mcp_resource resources[] = {
    {"test://static-text", "static-text", "Static text",
     "A static text resource for testing", "text/plain", 0, read_static_text, NULL},
    {"test://static-binary", "static-binary", "Static binary",
     "A static binary resource (a 1x1 PNG) for testing", "image/png", 0,
     read_static_binary, NULL},
    {"test://watched-resource", "watched-resource", "Watched resource",
     "A resource that can be subscribed to", "text/plain", 1, read_watched, NULL},
};

static const struct mcp_resource_template templates[] = {
    {"test://template/{id}/data", "template-data", "Template data",
     "A resource template whose {id} is substituted into the content", "application/json",
     read_template, NULL},
};

int fixtures_register_resources(struct app *a, char *err, size_t errlen)
{
    char why[256];

    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
        if (mcp_server_add_resource(a->mcp, &resources[i], why, sizeof why) != 0) {
            snprintf(err, errlen, "conformance fixture resource %s: %s", resources[i].uri,
                     why);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++) {
        if (mcp_server_add_resource_template(a->mcp, &templates[i], why, sizeof why) !=
            0) {
            snprintf(err, errlen, "conformance fixture template %s: %s",
                     templates[i].uri_template, why);
            return -1;
        }
    }
    return 0;
}

/* ---- prompts ----------------------------------------------------------------- */

/* {"description", "messages":[...]} (messages stolen). */
static int prompt_result(const char *description, json_t *messages, json_t **result)
{
    *result = messages != NULL ? json_pack("{s:s, s:o}", "description", description,
                                           "messages", messages)
                               : NULL;
    return *result != NULL ? 0 : -1;
}

static int get_simple(struct mcp_call *c, json_t *arguments, void *ctx, json_t **result)
{
    (void)c, (void)arguments, (void)ctx;
    return prompt_result("A simple prompt without arguments",
                         json_pack("[{s:s, s:{s:s, s:s}}]", "role", "user", "content",
                                   "type", "text", "text",
                                   "This is a simple prompt for testing."),
                         result);
}

static const char *arg_or_empty(json_t *arguments, const char *name)
{
    const char *v = json_string_value(json_object_get(arguments, name));
    return v != NULL ? v : "";
}

static int get_with_arguments(struct mcp_call *c, json_t *arguments, void *ctx,
                              json_t **result)
{
    char *text = NULL;
    (void)c, (void)ctx;

    if (asprintf(&text, "Prompt with arguments: arg1='%s', arg2='%s'",
                 arg_or_empty(arguments, "arg1"), arg_or_empty(arguments, "arg2")) < 0)
        return -1;
    int rc = prompt_result("A prompt with two required arguments",
                           json_pack("[{s:s, s:{s:s, s:s}}]", "role", "user", "content",
                                     "type", "text", "text", text),
                           result);
    free(text);
    return rc;
}

static int get_embedded_resource(struct mcp_call *c, json_t *arguments, void *ctx,
                                 json_t **result)
{
    (void)c, (void)ctx;
    return prompt_result(
        "A prompt that embeds the resource named by resourceUri",
        json_pack("[{s:s, s:{s:s, s:{s:s, s:s, s:s}}}, {s:s, s:{s:s, s:s}}]", "role",
                  "user", "content", "type", "resource", "resource", "uri",
                  arg_or_empty(arguments, "resourceUri"), "mimeType", "text/plain",
                  "text", "Embedded resource content for testing.", "role", "user",
                  "content", "type", "text", "text",
                  "Please process the embedded resource above."),
        result);
}

static int get_with_image(struct mcp_call *c, json_t *arguments, void *ctx,
                          json_t **result)
{
    (void)c, (void)arguments, (void)ctx;
    return prompt_result("A prompt with an image",
                         json_pack("[{s:s, s:{s:s, s:s, s:s}}, {s:s, s:{s:s, s:s}}]",
                                   "role", "user", "content", "type", "image", "data",
                                   fixture_png_base64, "mimeType", "image/png", "role",
                                   "user", "content", "type", "text", "text",
                                   "Please analyze the image above."),
                         result);
}

/* ---- completion ------------------------------------------------------------------ */

static const char *const arg1_values[] = {"paris",   "park",       "party", "test",
                                          "testing", "testValue1", NULL};
static const char *const arg2_values[] = {"hello",     "help",       "world",
                                          "worldwide", "testValue2", NULL};

/* The candidates of arg1/arg2 that start with value (all for ""); an
 * unknown argument has none. */
static int complete_arguments(const char *arg, const char *value, json_t *context,
                              void *ctx, json_t **values)
{
    const char *const *cand = NULL;
    (void)context, (void)ctx;

    if (strcmp(arg, "arg1") == 0)
        cand = arg1_values;
    else if (strcmp(arg, "arg2") == 0)
        cand = arg2_values;
    *values = json_array();
    if (*values == NULL)
        return -1;
    size_t vlen = value != NULL ? strlen(value) : 0;
    for (size_t i = 0; cand != NULL && cand[i] != NULL; i++) {
        if (strncmp(cand[i], value != NULL ? value : "", vlen) != 0)
            continue;
        if (json_array_append_new(*values, json_string(cand[i])) != 0) {
            json_decref(*values);
            *values = NULL;
            return -1;
        }
    }
    return 0;
}

static const struct mcp_prompt_arg with_arguments_args[] = {
    {"arg1", "First test argument", 1},
    {"arg2", "Second test argument", 1},
};

static const struct mcp_prompt_arg embedded_resource_args[] = {
    {"resourceUri", "URI of the resource to embed", 1},
};

static const struct mcp_prompt prompts[] = {
    {"test_simple_prompt", "Simple prompt", "A simple prompt without arguments", NULL, 0,
     get_simple, NULL, NULL},
    {"test_prompt_with_arguments", "Prompt with arguments",
     "A prompt with two required arguments (completion offered for both)",
     with_arguments_args, 2, get_with_arguments, complete_arguments, NULL},
    {"test_prompt_with_embedded_resource", "Prompt with embedded resource",
     "A prompt that embeds the resource named by resourceUri", embedded_resource_args, 1,
     get_embedded_resource, NULL, NULL},
    {"test_prompt_with_image", "Prompt with image", "A prompt with an image", NULL, 0,
     get_with_image, NULL, NULL},
};

int fixtures_register_prompts(struct app *a, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
        char why[256];
        if (mcp_server_add_prompt(a->mcp, &prompts[i], why, sizeof why) != 0) {
            snprintf(err, errlen, "conformance fixture prompt %s: %s", prompts[i].name,
                     why);
            return -1;
        }
    }
    return 0;
}
