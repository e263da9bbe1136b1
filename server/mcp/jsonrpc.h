/* JSON-RPC 2.0 messages as MCP uses them: parse one message under explicit
 * limits and classify it, build replies.  Transport-agnostic: stdio and
 * Streamable HTTP both hand a complete message (a line, a POST body) here.
 *
 * MCP narrows JSON-RPC: ids are strings or integers (never null or
 * fractional), params are objects, batches are not supported (removed in
 * the 2025-06-18 revision), and every failure gets an error object whose
 * message says what was wrong and whose data says where. */
#ifndef MCP_JSONRPC_H
#define MCP_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

/* The standard codes (jsonrpc.org/specification section 5.1) and MCP's. */
enum {
    JSONRPC_PARSE_ERROR = -32700,
    JSONRPC_INVALID_REQUEST = -32600,
    JSONRPC_METHOD_NOT_FOUND = -32601,
    JSONRPC_INVALID_PARAMS = -32602,
    JSONRPC_INTERNAL_ERROR = -32603,
    MCP_RESOURCE_NOT_FOUND = -32002,
};

enum jsonrpc_kind {
    JSONRPC_REQUEST,      /* method + id: must be answered */
    JSONRPC_NOTIFICATION, /* method, no id: never answered */
    JSONRPC_RESPONSE,     /* id + result: answers a request we sent */
    JSONRPC_ERROR,        /* id + error: the same, failed */
};

struct jsonrpc_limits {
    size_t max_bytes;   /* a longer message is refused before parsing */
    unsigned max_depth; /* nesting of objects and arrays, the message
                           itself counting as 1 */
};

#define JSONRPC_DEFAULT_MAX_BYTES (4u << 20)
#define JSONRPC_DEFAULT_MAX_DEPTH 64u

struct jsonrpc_msg {
    enum jsonrpc_kind kind;
    json_t *root;       /* owned: the whole message */
    json_t *id;         /* borrowed from root; NULL for notifications */
    const char *method; /* borrowed; requests and notifications */
    json_t *params;     /* borrowed; NULL when absent */
    json_t *result;     /* borrowed; responses */
    json_t *error;      /* borrowed; error responses */
};

/* Parse one message.  0 and *out filled (release with jsonrpc_msg_clear),
 * or -1 and *reply set to the error response to send (id null when the
 * message's id could not be read; NULL only when out of memory).  A message that is a
 * JSON array gets "batch requests are not supported". */
int jsonrpc_parse(const char *buf, size_t len, const struct jsonrpc_limits *lim,
                  struct jsonrpc_msg *out, json_t **reply);
void jsonrpc_msg_clear(struct jsonrpc_msg *m);

/* Depth of the deepest object/array nesting in buf (strings skipped), or
 * stop counting past limit and return limit + 1.  Works on malformed input
 * (the parser reports those); used so that no parser recursion ever sees a
 * message nested deeper than the limit. */
unsigned jsonrpc_depth(const char *buf, size_t len, unsigned limit);

/* Replies; each returns a new reference (NULL only on out of memory).
 * id is borrowed (copied in); NULL means JSON null. */
json_t *jsonrpc_result(json_t *id, json_t *result_stolen);
json_t *jsonrpc_error(json_t *id, int code, const char *message, json_t *data_stolen);
json_t *jsonrpc_errorf(json_t *id, int code, json_t *data_stolen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
json_t *jsonrpc_notification(const char *method, json_t *params_stolen);
json_t *jsonrpc_request(json_t *id, const char *method, json_t *params_stolen);

/* One line of compact JSON (control characters escaped, so no raw newline
 * can appear), NUL-terminated, to release with free(); NULL on out of
 * memory. */
char *jsonrpc_dump(const json_t *msg, size_t *len);

/* Whether two ids are the same id (same type and value). */
int jsonrpc_id_equal(const json_t *a, const json_t *b);

#endif
