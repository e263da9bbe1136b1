/* The MCP protocol layer: lifecycle, version negotiation, dispatch of every
 * method, and the registries of tools, resources and prompts.  It knows
 * nothing of stdio or HTTP: a transport parses a message (jsonrpc.h), finds
 * the session (session.h) and calls mcp_handle() with a sink through which
 * anything the server says during the request (progress, log messages,
 * requests to the client) travels.
 *
 *   transport -> mcp_handle(srv, sess, msg, sink) -> response or NULL
 *                    |-> tool->call(call, args)  (may block: upstream I/O)
 *                    |      |-> mcp_call_progress / mcp_call_log -> sink->send
 *                    |      '-> mcp_call_request (sampling) -> sink->send,
 *                    |              waits for the client's answer, which
 *                    |              arrives through another mcp_handle()
 *                    '-> notifications/cancelled -> the call's cancel hook
 *
 * Revisions: 2025-11-25 (latest), 2025-06-18 and 2025-03-26 with
 * initialize and sessions; 2026-07-28 without (server/discover, every
 * request self-contained; the era is chosen per message by the transport
 * from the MCP-Protocol-Version it carries, see mcp_era_of()).
 *
 * Thread safety: mcp_handle() may run on many threads at once, for one
 * session or many; registration (mcp_server_add_*) happens before the
 * first message and is not locked. */
#ifndef MCP_PROTOCOL_H
#define MCP_PROTOCOL_H

#include "mcp/jsonrpc.h"
#include "mcp/session.h"

#include <resil/clock.h>
#include <resil/metrics.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MCP_LATEST_VERSION "2025-11-25"
#define MCP_STATELESS_VERSION "2026-07-28"

/* Versions we speak, newest first, NULL-terminated. */
extern const char *const mcp_versions[];
/* Whether v (any bytes, len of them) is one of mcp_versions. */
int mcp_version_supported(const char *v, size_t len);

enum mcp_era {
    MCP_ERA_SESSION = 0,   /* 2025-03-26 .. 2025-11-25: initialize, sessions */
    MCP_ERA_STATELESS = 1, /* 2026-07-28: server/discover, no sessions */
};
/* The era of a supported version string; MCP_ERA_SESSION for NULL (an
 * absent header means 2025-03-26). */
enum mcp_era mcp_era_of(const char *version);

/* MCP log levels (RFC 5424 severities, as logging/setLevel names them),
 * least severe first so that "level >= session level" means "send". */
enum mcp_log_level {
    MCP_LOG_DEBUG = 0,
    MCP_LOG_INFO,
    MCP_LOG_NOTICE,
    MCP_LOG_WARNING,
    MCP_LOG_ERROR,
    MCP_LOG_CRITICAL,
    MCP_LOG_ALERT,
    MCP_LOG_EMERGENCY,
};
const char *mcp_log_level_name(enum mcp_log_level l);
int mcp_log_level_parse(const char *name); /* -1 if unknown */

struct mcp_server;
struct mcp_call;

/* What a request's answers travel on: the POST's SSE stream or stdout.
 * send() steals msg (a notification or a request to the client) and
 * returns 0, or -1 when the stream is gone (the client disconnected): the
 * call goes on, its later messages are dropped.  Called from the thread
 * running the request; the transport serialises concurrent senders. */
struct mcp_sink {
    int (*send)(struct mcp_sink *k, json_t *msg);
    /* May be NULL.  End the stream now without ending the request
     * (SEP-1699, HTTP only): the client reconnects with GET and
     * Last-Event-ID, and whatever the call sends later (its response too)
     * is kept in the session's event log and delivered on that stream. */
    void (*close)(struct mcp_sink *k);
    void *ctx;
};

/* ---- tools ------------------------------------------------------------- */

/* A tool's function.  args has been validated against input_schema (an
 * object, never NULL).  Return 0 with *result a CallToolResult object
 * ({"content":[...], "structuredContent":{...}, "isError":bool}); the
 * helpers below build the usual ones.  Return nonzero (without a result)
 * only for an internal failure: the caller gets -32603.  A tool that sees
 * mcp_call_cancelled() may return anything: nothing is sent. */
typedef int (*mcp_tool_fn)(struct mcp_call *c, json_t *args, void *ctx, json_t **result);

struct mcp_tool {
    const char *name;          /* [A-Za-z0-9_.-]{1,128} */
    const char *title;         /* may be NULL */
    const char *description;
    const char *input_schema;  /* JSON text (an object schema) */
    const char *output_schema; /* JSON text or NULL */
    const char *annotations;   /* JSON text or NULL: readOnlyHint, ... */
    mcp_tool_fn call;
    void *ctx;
    unsigned flags;            /* MCP_TOOL_* */
};

/* The tool talks to the client while it runs (requests to the client,
 * mcp_call_close_stream) and so needs a live stream: see
 * mcp_request_streams(). */
#define MCP_TOOL_INTERACTIVE 0x1u

/* Copies the strings and parses the schemas.  0, or -1 with err saying
 * what is wrong (bad name, duplicate, schema not JSON / not an object). */
int mcp_server_add_tool(struct mcp_server *s, const struct mcp_tool *t, char *err,
                        size_t errlen);

/* {"content":[{"type":"text","text":text}], "structuredContent": sc}
 * (sc stolen, may be NULL: omitted).  NULL on out of memory. */
json_t *mcp_result_text(const char *text, json_t *structured);
/* The same with "isError": true; the text from printf-style arguments. */
json_t *mcp_result_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- resources and prompts --------------------------------------------- */

/* Read a resource: *contents is a new array of {uri, mimeType, text|blob}.
 * 0, or MCP_RESOURCE_NOT_FOUND for an unknown uri (under a template), or
 * another nonzero for an internal error. */
typedef int (*mcp_read_fn)(struct mcp_call *c, const char *uri, void *ctx, json_t **contents);

struct mcp_resource {
    const char *uri;
    const char *name;
    const char *title;       /* may be NULL */
    const char *description; /* may be NULL */
    const char *mime_type;   /* may be NULL */
    int subscribable;        /* resources/subscribe accepted for it */
    mcp_read_fn read;
    void *ctx;
};

/* A template with level-1 RFC 6570 variables ("test://template/{id}/data");
 * a read of a matching uri calls read with the uri as given. */
struct mcp_resource_template {
    const char *uri_template;
    const char *name;
    const char *title;
    const char *description;
    const char *mime_type;
    mcp_read_fn read;
    void *ctx;
};

struct mcp_prompt_arg {
    const char *name;
    const char *description;
    int required;
};

/* Complete one argument: *values a new array of strings (the protocol
 * layer caps it at 100 and sets total/hasMore).  context holds the other
 * arguments already given (may be NULL). */
typedef int (*mcp_complete_fn)(const char *arg, const char *value, json_t *context, void *ctx,
                               json_t **values);

struct mcp_prompt {
    const char *name;
    const char *title;
    const char *description;
    const struct mcp_prompt_arg *args;
    size_t nargs;
    /* *result: a GetPromptResult ({"description", "messages":[...]});
     * required arguments are checked before the call. */
    int (*get)(struct mcp_call *c, json_t *arguments, void *ctx, json_t **result);
    mcp_complete_fn complete; /* may be NULL */
    void *ctx;
};

int mcp_server_add_resource(struct mcp_server *s, const struct mcp_resource *r, char *err,
                            size_t errlen);
int mcp_server_add_resource_template(struct mcp_server *s,
                                     const struct mcp_resource_template *t, char *err,
                                     size_t errlen);
int mcp_server_add_prompt(struct mcp_server *s, const struct mcp_prompt *p, char *err,
                          size_t errlen);

/* ---- the server ---------------------------------------------------------- */

struct mcp_server_opts {
    const char *name;          /* serverInfo.name */
    const char *title;
    const char *version;       /* serverInfo.version */
    const char *instructions;  /* may be NULL */
    struct jsonrpc_limits limits; /* the transport parses with these */
    unsigned max_inflight;     /* requests at once per session (default 16):
                                  more get -32000 "too many concurrent
                                  requests" */
    size_t page_size;          /* items per tools/resources/prompts list
                                  page (default 50) */
    int64_t client_request_timeout_ns; /* sampling/elicitation wait
                                          (default 60 s) */
    const resil_clock *clock;  /* NULL: monotonic */
    resil_metrics *metrics;    /* may be NULL: mcp_requests_total{method},
                                  mcp_request_seconds, ... */
};

void mcp_server_opts_init(struct mcp_server_opts *o);
int mcp_server_new(const struct mcp_server_opts *o, struct mcp_server **out);
void mcp_server_free(struct mcp_server *s);
const struct mcp_server_opts *mcp_server_opts_get(const struct mcp_server *s);

/* Handle one message from the client of session sess (for the stateless
 * era, sess is a throwaway session the transport made for this message).
 * Requests run to completion in the calling thread (a tool may block on
 * upstream I/O); the return is the response to send (new reference), or
 * NULL when nothing is to be sent: a notification, a response to one of
 * our requests, or a request cancelled by the client.  Never NULL for a
 * request that was not cancelled (out of memory aside).
 *
 * Lifecycle: before initialize only initialize and ping are served;
 * between initialize and notifications/initialized, ping and
 * logging/setLevel too (others: -32600 "not initialized"). */
json_t *mcp_handle(struct mcp_server *s, struct session *sess, const struct jsonrpc_msg *m,
                   struct mcp_sink *sink);

/* Whether a request for this method may send messages before its response
 * (progress, logs, requests to the client).  Today: tools/call. */
int mcp_method_streams(const char *method);

/* Whether this request needs a live stream: a tools/call that carries
 * _meta.progressToken or names an MCP_TOOL_INTERACTIVE tool.  The HTTP
 * transport runs such requests on a worker and streams their messages as
 * they come; any other request runs inline in the connection's thread, and
 * the few messages it may send (log notifications) are buffered and sent
 * ahead of the response in one SSE body (or, with none, the response is
 * plain JSON).  Saves two thread hand-offs per call. */
int mcp_request_streams(const struct mcp_server *s, const struct jsonrpc_msg *m);

/* Cancel every request in flight on a session (the session is ending or
 * the server is shutting down): their cancel hooks run, their responses
 * are dropped.  Returns how many were cancelled. */
size_t mcp_cancel_all(struct mcp_server *s, struct session *sess);

/* ---- inside a call: what tools, resources and prompts may use ------------- */

/* The session it belongs to (a reference held for the call's duration)
 * and its negotiated version. */
struct session *mcp_call_session(struct mcp_call *c);
const char *mcp_call_version(struct mcp_call *c);
struct mcp_server *mcp_call_server(struct mcp_call *c);

/* Send notifications/progress if the request carried _meta.progressToken
 * (else do nothing).  progress must increase from one call to the next:
 * a value that does not is dropped and -1 returned.  total <= 0: absent;
 * message may be NULL.  0 when sent or nothing to do. */
int mcp_call_progress(struct mcp_call *c, double progress, double total, const char *message);

/* Send notifications/message if level is at or above the session's level
 * (logging/setLevel; default info).  data is stolen (a string or any JSON);
 * logger may be NULL. */
int mcp_call_log(struct mcp_call *c, enum mcp_log_level level, const char *logger, json_t *data);

/* Whether notifications/cancelled named this request (or mcp_cancel_all
 * ran).  Cheap (one atomic load): poll it in loops. */
int mcp_call_cancelled(const struct mcp_call *c);

/* Run fn(arg) once when the call is cancelled, from the cancelling thread;
 * at once if it already is.  One hook per call; set NULL to clear it
 * (after which the hook is guaranteed not to be running or to run: clear
 * it before freeing what arg points to). */
void mcp_call_on_cancel(struct mcp_call *c, void (*fn)(void *arg), void *arg);

/* Close the call's stream (see mcp_sink.close); -1 when the transport
 * cannot (stdio). */
int mcp_call_close_stream(struct mcp_call *c);

/* Send a request to the client (sampling/createMessage, elicitation/create,
 * roots/list) on the call's sink and wait for its answer.  params is
 * stolen (also on failure).  0 with *result
 * (new reference) the client's result; -1 with *error (new reference, may
 * be NULL) the client's error object; -2 when the client lacks the
 * capability (nothing sent); -3 on timeout; -4 when the call was
 * cancelled; -5 when the stream is gone. */
int mcp_call_request(struct mcp_call *c, const char *method, json_t *params, json_t **result,
                     json_t **error);

#endif
