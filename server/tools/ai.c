/* The AI tool: ai_analyze, and ai_complete() which video_analyze uses too.
 *
 * One OpenAI-compatible chat-completions request (OpenAI, a local Ollama or
 * llama.cpp server): POST {base_url}/chat/completions with the instruction
 * as the system message and the text as the user's, through the
 * ai_processing service.  The key (from the secrets store or AI_API_KEY)
 * goes in an Authorization header, which upstream.c never logs; a local
 * server needs none, so a missing key is an error only for the public
 * OpenAI endpoint.
 *
 * Answers are cached only when the service's cache is on, keyed by a
 * SHA-256 of model, instruction, text and format: a paid call is not
 * repeated for the same question, and the key never holds the text. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tools.h"

#define AI_TEXT_MAX_CHARS 1048576
#define AI_DEFAULT_INSTRUCTION "Summarise the text."
#define AI_JSON_SYSTEM "\nAnswer with one JSON object and nothing else."
#define AI_JSON_USER "\n\n(Respond in JSON.)"

/* Bytes of the first max_chars UTF-8 characters of s[0..n). */
static size_t utf8_prefix(const char *s, size_t n, size_t max_chars)
{
    size_t chars = 0, i;
    for (i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue; /* a continuation byte belongs to the character before */
        if (chars == max_chars)
            break;
        chars++;
    }
    return i;
}

static void fail(struct upstream_result *res, enum upstream_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct upstream_result *res, enum upstream_rc rc, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(res->message, sizeof(res->message), "ai_processing: ");
    va_start(ap, fmt);
    vsnprintf(res->message + n, sizeof(res->message) - (size_t)n, fmt, ap);
    va_end(ap);
    res->code = -1;
    res->rc = rc;
}

/* "ai:" + hex SHA-256 of the question; 0 or -1. */
static int cache_key(const char *model, const char *instr, const char *text, size_t n,
                     int want_json, char out[3 + 64 + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char fmt = want_json ? 'j' : 't';
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             /* NUL separators: ("ab","c") and ("a","bc") differ */
             EVP_DigestUpdate(ctx, model, strlen(model) + 1) == 1 &&
             EVP_DigestUpdate(ctx, instr, strlen(instr) + 1) == 1 &&
             EVP_DigestUpdate(ctx, &fmt, 1) == 1 && EVP_DigestUpdate(ctx, text, n) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    memcpy(out, "ai:", 3);
    for (unsigned i = 0; i < 32; i++) {
        out[3 + 2 * i] = hex[md[i] >> 4];
        out[4 + 2 * i] = hex[md[i] & 15];
    }
    out[67] = '\0';
    return 0;
}

/* The request body, or NULL (out of memory, or text not UTF-8). */
static char *request_body(const struct config_ai *o, const char *instr, const char *text,
                          size_t n, int want_json)
{
    char *sys = NULL, *user = malloc(n + sizeof(AI_JSON_USER));
    char *body = NULL;
    if (user == NULL || asprintf(&sys, "%s%s", instr, want_json ? AI_JSON_SYSTEM : "") < 0) {
        free(user);
        return NULL;
    }
    memcpy(user, text, n);
    /* json_object mode wants the word JSON in the messages (OpenAI 400s otherwise) */
    memcpy(user + n, want_json ? AI_JSON_USER : "", want_json ? sizeof(AI_JSON_USER) : 1);
    json_t *j = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:I, s:f}", "model", o->model,
                          "messages", "role", "system", "content", sys, "role", "user",
                          "content", user, "max_tokens", (json_int_t)o->max_tokens,
                          "temperature", o->temperature);
    if (j != NULL && want_json)
        json_object_set_new(j, "response_format", json_pack("{s:s}", "type", "json_object"));
    if (j != NULL)
        body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    free(sys);
    free(user);
    return body;
}

/* The object in a model's answer, allowing a ```json fence around it. */
static json_t *parse_answer_json(const char *s)
{
    const char *p = s, *end = s + strlen(s);
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (strncmp(p, "```", 3) == 0) {
        p = strchr(p, '\n'); /* past "```json" */
        if (p == NULL)
            return NULL;
        const char *close = strstr(p, "```");
        if (close != NULL)
            end = close;
    }
    json_t *j = json_loadb(p, (size_t)(end - p), 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int key_needed(const struct config_service *sc, const char *key)
{
    return key[0] == '\0' && strstr(sc->base_url, "api.openai.com") != NULL;
}

struct ai_req {
    char *url, *body, auth[600];
    char key[68];
    const char *headers[2];
    struct upstream_req req;
};

static int ai_req_build(struct app *a, const char *instr, const char *text, size_t n,
                        int want_json, struct ai_req *r)
{
    const struct config_service *sc = &a->cfg.ai;
    size_t blen = strlen(sc->base_url);
    while (blen > 0 && sc->base_url[blen - 1] == '/')
        blen--;
    memset(r, 0, sizeof(*r));
    if (asprintf(&r->url, "%.*s/chat/completions", (int)blen, sc->base_url) < 0) {
        r->url = NULL;
        return -1;
    }
    r->body = request_body(&a->cfg.ai_opts, instr, text, n, want_json);
    if (r->body == NULL)
        return -1;
    r->req = (struct upstream_req){.method = "POST", .url = r->url, .body = r->body,
                                   .body_len = strlen(r->body)};
    if (a->cfg.ai_key[0] != '\0') {
        snprintf(r->auth, sizeof(r->auth), "Authorization: Bearer %s", a->cfg.ai_key);
        r->headers[0] = r->auth;
        r->req.headers = r->headers;
    }
    if (sc->policy.use_cache &&
        cache_key(a->cfg.ai_opts.model, instr, text, n, want_json, r->key) == 0) {
        r->req.cache_key = r->key;
        r->req.cache_key_len = strlen(r->key);
    }
    return 0;
}

static void ai_req_free(struct ai_req *r)
{
    free(r->url);
    free(r->body);
    /* the key is in the config too, but no copy of it need outlive the call */
    memset(r->auth, 0, sizeof(r->auth));
}

/* Take choices[0].message.content out of a completion. */
static int take_answer(json_t *j, char **answer, struct upstream_result *res)
{
    json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    json_t *content = json_object_get(msg, "content");
    if (!json_is_string(content)) {
        fail(res, UPSTREAM_HTTP_SERVER, "the answer has no choices[0].message.content");
        return -1;
    }
    *answer = strdup(json_string_value(content));
    if (*answer == NULL) {
        fail(res, UPSTREAM_TRANSPORT, "out of memory");
        return -1;
    }
    return 0;
}

int ai_complete(struct app *a, struct mcp_call *c, const char *instruction, const char *text,
                int want_json, char **answer, json_t **json, int *truncated,
                struct upstream_result *res)
{
    struct ai_req r;
    json_t *j = NULL;
    int rc = -1, cut = 0;
    if (res == NULL)
        return -1;
    memset(res, 0, sizeof(*res));
    res->retry_after_ns = -1;
    if (answer != NULL)
        *answer = NULL;
    if (json != NULL)
        *json = NULL;
    if (truncated != NULL)
        *truncated = 0;
    if (a == NULL || text == NULL || answer == NULL) {
        fail(res, UPSTREAM_TRANSPORT, "internal error: %s", "ai_complete without app or text");
        return -1;
    }
    if (key_needed(&a->cfg.ai, a->cfg.ai_key)) {
        fail(res, UPSTREAM_HTTP_CLIENT, "no API key is configured for %s (set AI_API_KEY or "
             "store the secret 'ai_api_key'; a local Ollama or llama.cpp server needs none)",
             a->cfg.ai.base_url);
        return -1;
    }
    size_t len = strlen(text);
    size_t n = utf8_prefix(text, len, a->cfg.ai_opts.max_input_chars);
    cut = n < len;
    const char *instr = instruction != NULL && *instruction != '\0' ? instruction
                                                                      : AI_DEFAULT_INSTRUCTION;
    if (ai_req_build(a, instr, text, n, want_json, &r) != 0) {
        fail(res, UPSTREAM_TRANSPORT, "could not build the request (out of memory, or the "
             "text is not UTF-8)");
        goto out_req;
    }
    if (upstream_call_json(a->up, a->ai, &a->cfg.ai, c, &r.req, &j, res) != 0)
        goto out_req;
    if (take_answer(j, answer, res) != 0)
        goto out_req;
    if (want_json && json != NULL)
        *json = parse_answer_json(*answer);
    if (truncated != NULL)
        *truncated = cut;
    rc = 0;
out_req:
    json_decref(j);
    ai_req_free(&r);
    return rc;
}

/* ---- the tool ------------------------------------------------------------------------ */

static const char analyze_input[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1048576,"
    "\"description\":\"The text to analyse (a transcript, a description); longer than the "
    "configured max_input_chars it is cut, and the result says so\"},"
    "\"instruction\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4000,"
    "\"default\":\"Summarise the text.\",\"description\":\"What to do with the text\"},"
    "\"format\":{\"type\":\"string\",\"enum\":[\"text\",\"json\"],\"default\":\"text\","
    "\"description\":\"json: ask the model for a JSON object\"}},"
    "\"required\":[\"text\"],\"additionalProperties\":false}";

static const char analyze_output[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"answer\":{\"type\":\"string\"},\"model\":{\"type\":\"string\"},"
    "\"truncated\":{\"type\":\"boolean\"},\"json\":{\"type\":\"object\"}},"
    "\"required\":[\"answer\",\"model\",\"truncated\"]}";

static const char analyze_annotations[] = "{\"readOnlyHint\":true,\"openWorldHint\":true}";

static json_t *analyze_result(struct app *a, char *answer, json_t *js, int truncated)
{
    json_t *sc = json_pack("{s:s, s:s, s:b}", "answer", answer, "model", a->cfg.ai_opts.model,
                           "truncated", truncated);
    char *text = NULL;
    if (sc != NULL && js != NULL)
        json_object_set(sc, "json", js);
    if (truncated &&
        asprintf(&text, "%s\n\n[the input was cut to its first %zu characters]", answer,
                 a->cfg.ai_opts.max_input_chars) < 0)
        text = NULL;
    json_t *r = mcp_result_text(text != NULL ? text : answer, sc);
    free(text);
    return r;
}

static int ai_analyze_tool(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    struct app *a = ctx;
    struct upstream_result res;
    const char *text = json_string_value(json_object_get(args, "text"));
    const char *instr = json_string_value(json_object_get(args, "instruction"));
    const char *format = json_string_value(json_object_get(args, "format"));
    char *answer = NULL;
    json_t *js = NULL;
    int truncated = 0;
    if (text == NULL || *text == '\0') {
        *result = mcp_result_errorf("text: must be a non-empty string");
        return *result != NULL ? 0 : -1;
    }
    if (format != NULL && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        *result = mcp_result_errorf("format: must be \"text\" or \"json\"");
        return *result != NULL ? 0 : -1;
    }
    int want_json = format != NULL && strcmp(format, "json") == 0;
    if (ai_complete(a, c, instr, text, want_json, &answer, &js, &truncated, &res) != 0)
        *result = c != NULL && mcp_call_cancelled(c) ? mcp_result_errorf("cancelled")
                                                     : mcp_result_errorf("%s", res.message);
    else
        *result = analyze_result(a, answer, js, truncated);
    free(answer);
    json_decref(js);
    return *result != NULL ? 0 : -1;
}

int tools_register_ai(struct app *a, char *err, size_t errlen)
{
    const struct mcp_tool t = {
        .name = "ai_analyze", .title = "Analyse text with an AI model",
        .description = "Send a text with an instruction to the configured chat-completions "
                       "model (OpenAI-compatible: OpenAI, Ollama, llama.cpp) and return its "
                       "answer; format json asks for a JSON object.",
        .input_schema = analyze_input, .output_schema = analyze_output,
        .annotations = analyze_annotations, .call = ai_analyze_tool, .ctx = a};
    return mcp_server_add_tool(a->mcp, &t, err, errlen);
}
