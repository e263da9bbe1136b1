/* The conformance suite's test tools.  What each one sends and returns is
 * what the server scenarios of @modelcontextprotocol/conformance 0.1.16
 * check (tools-call-*, json-schema-2020-12, elicitation-sep1034-defaults,
 * elicitation-sep1330-enums, server-sse-polling), with the texts their
 * descriptions give. */
#include "fixtures.h"

#include "mcp/protocol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A 1x1 red PNG (IHDR 1x1 8-bit RGB, one zlib-compressed scanline, IEND). */
const char fixture_png_base64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4"
    "2mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC";

/* A 52-byte WAV: RIFF/WAVE, PCM, mono, 8 kHz, 8-bit, eight samples of
 * silence (0x80). */
static const char wav_base64[] =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAAC"
    "AgICAgICAgA==";

#define NO_ARGS "{\"type\":\"object\",\"properties\":{}}"
#define READ_ONLY "{\"readOnlyHint\":true,\"openWorldHint\":false}"

/* Steps of at most 10 ms, so a cancelled call stops waiting quickly. */
int fixture_pause(struct mcp_call *c, unsigned ms)
{
    while (ms > 0) {
        unsigned step = ms < 10 ? ms : 10;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};

        if (c != NULL && mcp_call_cancelled(c))
            return 1;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= step;
    }
    return c != NULL && mcp_call_cancelled(c);
}

/* A result from a json_pack that may have failed: -1 is an internal error
 * (out of memory), which the protocol layer answers with -32603. */
static int done(json_t *r, json_t **result)
{
    *result = r;
    return r != NULL ? 0 : -1;
}

/* ---- content types ------------------------------------------------------ */

static int simple_text(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)c, (void)args, (void)ctx;
    return done(mcp_result_text("This is a simple text response for testing.", NULL),
                result);
}

static int image_content(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)c, (void)args, (void)ctx;
    return done(json_pack("{s:[{s:s, s:s, s:s}]}", "content", "type", "image", "data",
                          fixture_png_base64, "mimeType", "image/png"),
                result);
}

static int audio_content(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)c, (void)args, (void)ctx;
    return done(json_pack("{s:[{s:s, s:s, s:s}]}", "content", "type", "audio", "data",
                          wav_base64, "mimeType", "audio/wav"),
                result);
}

static int embedded_resource(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)c, (void)args, (void)ctx;
    return done(json_pack("{s:[{s:s, s:{s:s, s:s, s:s}}]}", "content", "type", "resource",
                          "resource", "uri", "test://embedded-resource", "mimeType",
                          "text/plain", "text", "This is an embedded resource content."),
                result);
}

static int multiple_content(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)c, (void)args, (void)ctx;
    return done(json_pack("{s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:{s:s, s:s, s:s}}]}",
                          "content", "type", "text", "text",
                          "Multiple content types test:", "type", "image", "data",
                          fixture_png_base64, "mimeType", "image/png", "type", "resource",
                          "resource", "uri", "test://mixed-content-resource", "mimeType",
                          "application/json", "text",
                          "{\"test\":\"data\",\"value\":123}"),
                result);
}

static int error_handling(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)c, (void)args, (void)ctx;
    return done(mcp_result_errorf("This tool intentionally returns an error for testing"),
                result);
}

/* ---- messages during the call -------------------------------------------- */

/* Three info messages ~50 ms apart: the scenario sets the level to debug
 * first and wants at least three during the call. */
static int with_logging(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    static const char *const steps[] = {"Tool execution started", "Tool processing data",
                                        "Tool execution completed"};
    (void)args, (void)ctx;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (i > 0 && fixture_pause(c, 50))
            return done(mcp_result_text("cancelled", NULL), result);
        mcp_call_log(c, MCP_LOG_INFO, "test_tool_with_logging", json_string(steps[i]));
    }
    return done(mcp_result_text("Tool with logging executed successfully", NULL), result);
}

/* 0/100, 50/100, 100/100 ~50 ms apart (sent only when the request carried
 * a progressToken; without one the delays alone). */
static int with_progress(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    static const double steps[] = {0, 50, 100};
    (void)args, (void)ctx;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (i > 0 && fixture_pause(c, 50))
            return done(mcp_result_text("cancelled", NULL), result);
        mcp_call_progress(c, steps[i], 100, NULL);
    }
    return done(mcp_result_text("Tool with progress executed successfully", NULL),
                result);
}

/* SEP-1699: end the POST's SSE stream mid-call; the response then travels
 * in the session's event log to the client's GET with Last-Event-ID.  On
 * stdio there is no stream to close and the call just finishes. */
static int reconnection(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)args, (void)ctx;
    int closed = mcp_call_close_stream(c) == 0;
    if (fixture_pause(c, 100))
        return done(mcp_result_text("cancelled", NULL), result);
    return done(mcp_result_text(closed
                                    ? "Reconnection test completed successfully: the "
                                      "stream was closed before this result"
                                    : "Reconnection test completed (no stream to close)",
                                NULL),
                result);
}

/* ---- requests to the client ---------------------------------------------- */

/* Why a request to the client failed, as an isError result. */
static json_t *client_request_failed(const char *method, int rc, json_t *error)
{
    const char *msg =
        error != NULL ? json_string_value(json_object_get(error, "message")) : NULL;

    switch (rc) {
    case -1:
        return mcp_result_errorf("the client answered %s with an error: %s", method,
                                 msg != NULL ? msg : "(no message)");
    case -2:
        return mcp_result_errorf(
            "the client does not support %s (capability not declared "
            "in initialize)",
            method);
    case -3:
        return mcp_result_errorf("the client did not answer %s in time", method);
    case -4:
        return mcp_result_errorf("the call was cancelled while waiting for %s", method);
    default:
        return mcp_result_errorf("the stream to the client is gone: %s not delivered",
                                 method);
    }
}

/* Send method with params (stolen, as mcp_call_request steals them: see
 * call.c) and answer "<prefix><the client's
 * result, compact JSON>" or why it failed. */
static int ask_client(struct mcp_call *c, const char *method, json_t *params,
                      const char *prefix, json_t **result)
{
    json_t *res = NULL, *error = NULL;
    char *dump = NULL, *text = NULL;
    int rc = -1;

    if (params == NULL)
        return -1;
    int st = mcp_call_request(c, method, params, &res, &error);
    if (st != 0) {
        rc = done(client_request_failed(method, st, error), result);
        goto out;
    }
    dump = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
    if (dump == NULL || asprintf(&text, "%s%s", prefix, dump) < 0) {
        text = NULL;
        goto out;
    }
    rc = done(mcp_result_text(text, NULL), result);
out:
    free(text);
    free(dump);
    json_decref(res);
    json_decref(error);
    return rc;
}

/* sampling/createMessage with the prompt as the one user message; answers
 * "LLM response: " and the model's text. */
static int sampling(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    const char *prompt = json_string_value(json_object_get(args, "prompt"));
    json_t *res = NULL, *error = NULL;
    char *text = NULL;
    int rc = -1;
    (void)ctx;

    json_t *params =
        json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user", "content",
                  "type", "text", "text", prompt ? prompt : "", "maxTokens", 100);
    if (params == NULL)
        return -1;
    /* params stolen: call.c's mcp_call_request releases them. */
    int st = mcp_call_request(c, "sampling/createMessage", params, &res, &error);
    if (st != 0) {
        rc = done(client_request_failed("sampling/createMessage", st, error), result);
        goto out;
    }
    json_t *content = json_object_get(res, "content");
    const char *answer = json_string_value(json_object_get(content, "text"));
    if (asprintf(&text, "LLM response: %s", answer ? answer : "(no text content)") < 0) {
        text = NULL;
        goto out;
    }
    rc = done(mcp_result_text(text, NULL), result);
out:
    free(text);
    json_decref(res);
    json_decref(error);
    return rc;
}

static int elicitation(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    const char *message = json_string_value(json_object_get(args, "message"));
    (void)ctx;
    json_t *params = json_pack(
        "{s:s, s:{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:[s, s]}}", "message",
        message ? message : "", "requestedSchema", "type", "object", "properties",
        "username", "type", "string", "description", "User's response", "email", "type",
        "string", "description", "User's email address", "required", "username", "email");
    return ask_client(c, "elicitation/create", params, "User response: ", result);
}

/* SEP-1034: a default for every primitive type. */
static const char sep1034_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John "
    "Doe\"},"
    "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
    "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
    "\"status\":{\"type\":\"string\",\"description\":\"User status\","
    "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
    "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
    "\"default\":true}},\"required\":[]}";

/* SEP-1330: the five enum shapes. */
static const char sep1330_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Pick one\","
    "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
    "\"titledSingle\":{\"type\":\"string\",\"description\":\"Pick one "
    "(titled)\",\"oneOf\":["
    "{\"const\":\"value1\",\"title\":\"First Option\"},"
    "{\"const\":\"value2\",\"title\":\"Second Option\"},"
    "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
    "\"legacyEnum\":{\"type\":\"string\",\"description\":\"Pick one (legacy titles)\","
    "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
    "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
    "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Pick several\","
    "\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
    "\"titledMulti\":{\"type\":\"array\",\"description\":\"Pick several (titled)\","
    "\"items\":{\"anyOf\":["
    "{\"const\":\"value1\",\"title\":\"First Choice\"},"
    "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
    "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
    "\"required\":[]}";

static int elicit_schema(struct mcp_call *c, const char *message, const char *schema,
                         json_t **result)
{
    json_t *params = json_pack("{s:s, s:o}", "message", message, "requestedSchema",
                               json_loads(schema, 0, NULL));
    return ask_client(c, "elicitation/create", params, "Elicitation completed: ", result);
}

static int elicitation_defaults(struct mcp_call *c, json_t *args, void *ctx,
                                json_t **result)
{
    (void)args, (void)ctx;
    return elicit_schema(c, "Please review and update the form fields with defaults",
                         sep1034_schema, result);
}

static int elicitation_enums(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    (void)args, (void)ctx;
    return elicit_schema(c, "Please select options from the enum fields", sep1330_schema,
                         result);
}

/* SEP-1613: the listing must keep $schema, $defs and additionalProperties. */
static int schema_2020_12(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    char *dump = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
    char *text = NULL;
    (void)c, (void)ctx;
    if (dump == NULL || asprintf(&text, "Received: %s", dump) < 0) {
        free(dump);
        return -1;
    }
    int rc = done(mcp_result_text(text, NULL), result);
    free(text);
    free(dump);
    return rc;
}

/* ---- registration ------------------------------------------------------------- */

static const struct mcp_tool tools[] = {
    {"test_simple_text", "Simple text", "Returns a simple text response", NO_ARGS, NULL,
     READ_ONLY, simple_text, NULL, 0},
    {"test_image_content", "Image content", "Returns a 1x1 red PNG image", NO_ARGS, NULL,
     READ_ONLY, image_content, NULL, 0},
    {"test_audio_content", "Audio content", "Returns a short WAV audio clip", NO_ARGS,
     NULL, READ_ONLY, audio_content, NULL, 0},
    {"test_embedded_resource", "Embedded resource", "Returns an embedded text resource",
     NO_ARGS, NULL, READ_ONLY, embedded_resource, NULL, 0},
    {"test_multiple_content_types", "Mixed content",
     "Returns text, an image and an embedded resource", NO_ARGS, NULL, READ_ONLY,
     multiple_content, NULL, 0},
    {"test_tool_with_logging", "Logging", "Sends three log messages while it runs",
     NO_ARGS, NULL, READ_ONLY, with_logging, NULL, 0},
    {"test_error_handling", "Error", "Always fails with isError", NO_ARGS, NULL,
     READ_ONLY, error_handling, NULL, 0},
    {"test_tool_with_progress", "Progress", "Reports progress 0, 50 and 100 of 100",
     NO_ARGS, NULL, READ_ONLY, with_progress, NULL, 0},
    {"test_sampling", "Sampling",
     "Asks the client's model through sampling/createMessage",
     "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
     "\"description\":\"The prompt to send to the LLM\"}},\"required\":[\"prompt\"]}",
     NULL, NULL, sampling, NULL,
     MCP_TOOL_INTERACTIVE},
    {"test_elicitation", "Elicitation", "Asks the user through elicitation/create",
     "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
     "\"description\":\"The message to show the user\"}},\"required\":[\"message\"]}",
     NULL, NULL, elicitation, NULL,
     MCP_TOOL_INTERACTIVE},
    {"test_elicitation_sep1034_defaults", "Elicitation defaults",
     "Elicits a form whose fields all have defaults (SEP-1034)", NO_ARGS, NULL, NULL,
     elicitation_defaults, NULL,
     MCP_TOOL_INTERACTIVE},
    {"test_elicitation_sep1330_enums", "Elicitation enums",
     "Elicits a form with the five enum shapes (SEP-1330)", NO_ARGS, NULL, NULL,
     elicitation_enums, NULL,
     MCP_TOOL_INTERACTIVE},
    {"json_schema_2020_12_tool", "JSON Schema 2020-12",
     "Tool with JSON Schema 2020-12 features",
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
     "\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{"
     "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
     "\"properties\":{\"name\":{\"type\":\"string\"},"
     "\"address\":{\"$ref\":\"#/$defs/address\"}},\"additionalProperties\":false}",
     NULL, READ_ONLY, schema_2020_12, NULL, 0},
    {"test_reconnection", "Reconnection",
     "Closes its SSE stream mid-call; the result arrives on the resumed stream "
     "(SEP-1699)",
     NO_ARGS, NULL, READ_ONLY, reconnection, NULL,
     MCP_TOOL_INTERACTIVE},
};

int fixtures_register_tools(struct app *a, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        char why[256];
        if (mcp_server_add_tool(a->mcp, &tools[i], why, sizeof why) != 0) {
            snprintf(err, errlen, "conformance fixture tool %s: %s", tools[i].name, why);
            return -1;
        }
    }
    return 0;
}

int fixtures_register(struct app *a, char *err, size_t errlen)
{
    if (fixtures_register_tools(a, err, errlen) != 0)
        return -1;
    if (fixtures_register_resources(a, err, errlen) != 0)
        return -1;
    return fixtures_register_prompts(a, err, errlen);
}
