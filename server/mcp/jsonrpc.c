/* JSON-RPC 2.0 parsing and replies for MCP.  jansson parses; this file
 * enforces the limits first (size, then nesting depth in one linear scan,
 * so the parser's recursion is bounded by our limit, not by its own
 * compile-time 2048) and then MCP's narrower rules. */
#include "jsonrpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned jsonrpc_depth(const char *buf, size_t len, unsigned limit)
{
    unsigned depth = 0, max = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return limit + 1;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return max;
}

json_t *jsonrpc_error(json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (!err) {
        json_decref(data);
        return NULL;
    }
    if (data && json_object_set_new(err, "data", data) != 0) {
        json_decref(err);
        return NULL;
    }
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
                     err);
}

json_t *jsonrpc_errorf(json_t *id, int code, json_t *data, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jsonrpc_error(id, code, msg, data);
}

json_t *jsonrpc_result(json_t *id, json_t *result)
{
    if (!result)
        return NULL;
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
                     result);
}

json_t *jsonrpc_notification(const char *method, json_t *params)
{
    if (!params)
        return json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", method);
    return json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method", method, "params", params);
}

json_t *jsonrpc_request(json_t *id, const char *method, json_t *params)
{
    if (!params)
        return json_pack("{s:s,s:O,s:s}", "jsonrpc", "2.0", "id", id, "method", method);
    return json_pack("{s:s,s:O,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                     "params", params);
}

char *jsonrpc_dump(const json_t *msg, size_t *len)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    if (s && len)
        *len = strlen(s);
    return s;
}

int jsonrpc_id_equal(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return 0;
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_string(a) && json_is_string(b))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    return 0;
}

void jsonrpc_msg_clear(struct jsonrpc_msg *m)
{
    if (!m)
        return;
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

static int valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

/* The id to echo in an error about this message: its id when it is a valid
 * one, else null (JSON-RPC 5: "If there was an error in detecting the id
 * in the Request object, it MUST be Null"). */
static json_t *reply_id(const json_t *root)
{
    json_t *id = json_is_object(root) ? json_object_get(root, "id") : NULL;
    return valid_id(id) ? id : NULL;
}

static json_t *invalid(const json_t *root, const char *why)
{
    return jsonrpc_error(reply_id(root), JSONRPC_INVALID_REQUEST, why, NULL);
}

/* Classify a parsed object; NULL on success, else the error reply. */
static json_t *classify(json_t *root, struct jsonrpc_msg *m)
{
    if (json_is_array(root))
        return invalid(root, "batch requests are not supported: send one message at a time");
    if (!json_is_object(root))
        return invalid(root, "a JSON-RPC message must be a JSON object");
    json_t *v = json_object_get(root, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        return invalid(root, "\"jsonrpc\" must be the string \"2.0\"");
    json_t *id = json_object_get(root, "id");
    json_t *method = json_object_get(root, "method");
    if (id && !valid_id(id))
        return invalid(root, "\"id\" must be a string or an integer");
    m->id = id;
    if (method) {
        if (!json_is_string(method))
            return invalid(root, "\"method\" must be a string");
        m->method = json_string_value(method);
        m->params = json_object_get(root, "params");
        if (m->params && !json_is_object(m->params))
            return jsonrpc_error(id, JSONRPC_INVALID_PARAMS, "\"params\" must be an object",
                                 NULL);
        m->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
        return NULL;
    }
    m->result = json_object_get(root, "result");
    m->error = json_object_get(root, "error");
    if (!id)
        return invalid(root, "a message without \"method\" must be a response with an \"id\"");
    if (!!m->result == !!m->error)
        return invalid(root, "a response must have exactly one of \"result\" and \"error\"");
    if (m->error && !json_is_object(m->error))
        return invalid(root, "\"error\" must be an object");
    m->kind = m->result ? JSONRPC_RESPONSE : JSONRPC_ERROR;
    return NULL;
}

static json_t *parse_error(const json_error_t *je)
{
    json_t *data = json_pack("{s:i,s:i,s:i}", "line", je->line, "column", je->column,
                             "position", je->position);
    return jsonrpc_errorf(NULL, JSONRPC_PARSE_ERROR, data, "malformed JSON: %s", je->text);
}

int jsonrpc_parse(const char *buf, size_t len, const struct jsonrpc_limits *lim,
                  struct jsonrpc_msg *out, json_t **reply)
{
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : JSONRPC_DEFAULT_MAX_BYTES;
    unsigned max_depth = lim && lim->max_depth ? lim->max_depth : JSONRPC_DEFAULT_MAX_DEPTH;
    memset(out, 0, sizeof *out);
    *reply = NULL;
    if (len > max_bytes) {
        *reply = jsonrpc_errorf(NULL, JSONRPC_INVALID_REQUEST,
                                json_pack("{s:I,s:I}", "size", (json_int_t)len, "limit",
                                          (json_int_t)max_bytes),
                                "message of %zu bytes is larger than the limit of %zu bytes",
                                len, max_bytes);
        return -1;
    }
    if (jsonrpc_depth(buf, len, max_depth) > max_depth) {
        *reply = jsonrpc_errorf(NULL, JSONRPC_INVALID_REQUEST,
                                json_pack("{s:i}", "limit", (int)max_depth),
                                "message is nested deeper than the limit of %u levels",
                                max_depth);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        *reply = parse_error(&je);
        return -1;
    }
    out->root = root;
    json_t *err = classify(root, out);
    if (err) {
        *reply = err;
        jsonrpc_msg_clear(out);
        return -1;
    }
    return 0;
}
