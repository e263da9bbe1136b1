/* Private to the protocol layer (protocol.c, protocol_lists.c, call.c):
 * the server object, its registries and the per-call state.
 *
 * Locking: the registries are written only before the first message and
 * read without locks afterwards.  Per-session state (sess->st and the
 * in-flight table in sess->proto) is under sess->mu.  Each call has its own
 * hook_mu for the cancel hook; the order is sess->mu before hook_mu. */
#ifndef MCP_PROTOCOL_INT_H
#define MCP_PROTOCOL_INT_H

#include "mcp/protocol.h"
#include "mcp/schema.h"

#include <pthread.h>
#include <stdatomic.h>

#define MCP_COMPLETION_MAX 100 /* values per completion/complete result */
#define MCP_ERR_TOO_MANY -32000
#define MCP_ERR_UNSUPPORTED_VERSION -32022 /* 2026-07-28 UnsupportedProtocolVersionError */
#define MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define MCP_META_INFO "io.modelcontextprotocol/clientInfo"

struct mcp_tool_ent {
    char *name, *title, *description;
    json_t *input_doc, *output_doc, *annotations;
    struct schema *input, *output;
    mcp_tool_fn call;
    void *ctx;
    unsigned flags; /* MCP_TOOL_* */
};

struct mcp_res_ent {
    char *uri, *name, *title, *description, *mime;
    int subscribable;
    mcp_read_fn read;
    void *ctx;
};

struct mcp_prompt_arg_ent {
    char *name, *description;
    int required;
};

struct mcp_prompt_ent {
    char *name, *title, *description;
    struct mcp_prompt_arg_ent *args;
    size_t nargs;
    int (*get)(struct mcp_call *c, json_t *arguments, void *ctx, json_t **result);
    mcp_complete_fn complete;
    void *ctx;
};

/* Metric series cached at mcp_server_new: one counter per (method,
 * outcome) and one histogram per method, so a request records without a
 * lookup.  Unknown methods share the "other" row. */
enum mcp_outcome { MCP_OUT_OK, MCP_OUT_ERROR, MCP_OUT_TOOL_ERROR, MCP_OUT_CANCELLED, MCP_OUT_N };

struct mcp_server {
    struct mcp_server_opts opts; /* strings point at the copies below */
    char *name, *title, *version, *instructions;
    struct mcp_tool_ent *tools;
    size_t ntools, cap_tools;
    struct mcp_res_ent *res;
    size_t nres, cap_res;
    struct mcp_res_ent *tmpl; /* uri holds the template */
    size_t ntmpl, cap_tmpl;
    struct mcp_prompt_ent *prompts;
    size_t nprompts, cap_prompts;
    /* ids of our requests to the client ("srv-<n>"); relaxed: only
     * uniqueness matters, nothing is published through it. */
    atomic_uint_fast64_t next_request;
    resil_metrics_counter **m_requests; /* [method][outcome] */
    resil_metrics_histogram **m_seconds; /* [method] */
};

/* A request to the client waiting for its answer (on the waiter's stack),
 * linked in the session's table; fields under sess->mu. */
struct mcp_pending {
    char id[32];
    pthread_cond_t cv;
    int done;
    json_t *result, *error;
    struct mcp_call *call;
    struct mcp_pending *next;
};

struct mcp_call {
    struct mcp_server *srv;
    struct session *sess;
    struct mcp_sink *sink;
    json_t *id;          /* the request's id (borrowed from the message) */
    const char *method;
    enum mcp_era era;
    char version[16];
    unsigned client_caps;
    int log_level;       /* stateless era: fixed; session era: read live */
    json_t *progress_token; /* borrowed; NULL: no progress */
    double last_progress;
    int sent_progress;
    /* Set once, under hook_mu (and sess->mu when found through the table);
     * read with acquire so a tool that sees it also sees whatever the
     * canceller did before. */
    atomic_int cancelled;
    pthread_mutex_t hook_mu;
    pthread_cond_t hook_cv;
    void (*hook)(void *);
    void *hook_arg;
    int hook_running; /* a canceller is running the hook now */
    int registered;   /* in the session's in-flight table */
    struct mcp_pending *pending; /* the request to the client it waits on */
    struct mcp_call *next;       /* in-flight table link */
};

/* The session's table (sess->proto), made on first use; under sess->mu. */
struct mcp_proto {
    struct mcp_call *calls;
    struct mcp_pending *pending;
    char **subs; /* subscribed uris */
    size_t nsubs, cap_subs;
};

/* call.c */
int mcp__call_init(struct mcp_call *c, struct mcp_server *s, struct session *sess,
                   const struct jsonrpc_msg *m, struct mcp_sink *sink, enum mcp_era era);
/* Enter the call in the session's in-flight table (0, -1 out of memory). */
int mcp__call_register(struct mcp_call *c);
/* Leave the table and wait for a running hook; then destroy. */
void mcp__call_finish(struct mcp_call *c);
/* The session's table, made if absent (caller holds sess->mu); NULL: OOM. */
struct mcp_proto *mcp__proto(struct session *sess);
void mcp__route_response(struct session *sess, const struct jsonrpc_msg *m);
void mcp__cancel_request(struct session *sess, json_t *request_id);
/* SESSION_CAP_* bits of a ClientCapabilities object (NULL: none). */
unsigned mcp__caps_bits(json_t *caps);

/* protocol.c */
json_t *mcp__ok(struct mcp_call *c, json_t *result);
json_t *mcp__err(struct mcp_call *c, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parse a list cursor: 0 with *off, or -1 (reply set). */
int mcp__cursor(struct mcp_call *c, json_t *params, size_t n, size_t *off, json_t **reply);
/* Set "nextCursor" on result when more than off + page remain. */
int mcp__next_cursor(json_t *result, size_t off, size_t page, size_t n);
int mcp__set_str(json_t *o, const char *key, const char *v); /* v NULL: skip */
char *mcp__strdup(const char *s); /* NULL stays NULL */

/* protocol_lists.c */
json_t *mcp__resources_list(struct mcp_call *c, json_t *params);
json_t *mcp__templates_list(struct mcp_call *c, json_t *params);
json_t *mcp__resources_read(struct mcp_call *c, json_t *params);
json_t *mcp__subscribe(struct mcp_call *c, json_t *params);
json_t *mcp__unsubscribe(struct mcp_call *c, json_t *params);
json_t *mcp__prompts_list(struct mcp_call *c, json_t *params);
json_t *mcp__prompts_get(struct mcp_call *c, json_t *params);
json_t *mcp__complete(struct mcp_call *c, json_t *params);
int mcp__has_completions(const struct mcp_server *s);
int mcp__has_subscribable(const struct mcp_server *s);
void mcp__registry_free(struct mcp_server *s);

#endif
