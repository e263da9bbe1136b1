/* The MCP protocol layer: versions, the server object, dispatch, the
 * lifecycle, tools/list and tools/call.  Registration, resources, prompts
 * and completion are in protocol_lists.c; what a running call can do
 * (progress, logs, requests to the client, cancellation) is in call.c.
 *
 * Specification: https://modelcontextprotocol.io/specification/2025-11-25/
 * (basic/lifecycle, server/tools, server/utilities/pagination) and, for the
 * stateless revision, the 2026-07-28 pages on server/discover and per-request
 * _meta (io.modelcontextprotocol/protocolVersion, .../clientCapabilities). */
#include "mcp/protocol_int.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mcp_versions[] = {MCP_STATELESS_VERSION, "2025-11-25", "2025-06-18",
                                    "2025-03-26", NULL};

int mcp_version_supported(const char *v, size_t len)
{
    if (!v)
        return 0;
    for (size_t i = 0; mcp_versions[i]; i++)
        if (strlen(mcp_versions[i]) == len && memcmp(mcp_versions[i], v, len) == 0)
            return 1;
    return 0;
}

enum mcp_era mcp_era_of(const char *version)
{
    if (version && strcmp(version, MCP_STATELESS_VERSION) == 0)
        return MCP_ERA_STATELESS;
    return MCP_ERA_SESSION;
}

static const char *const level_names[] = {"debug", "info",     "notice", "warning",
                                          "error", "critical", "alert",  "emergency"};

const char *mcp_log_level_name(enum mcp_log_level l)
{
    if ((int)l < 0 || (size_t)l >= sizeof level_names / sizeof level_names[0])
        return NULL;
    return level_names[l];
}

int mcp_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(level_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- small helpers shared with protocol_lists.c ------------------------- */

char *mcp__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int mcp__set_str(json_t *o, const char *key, const char *v)
{
    if (!v)
        return 0;
    return json_object_set_new(o, key, json_string(v));
}

json_t *mcp__ok(struct mcp_call *c, json_t *result)
{
    /* 2026-07-28 results say whether they are final (resultType); the
     * stateless revision's multi-round results are not implemented, so
     * every result is "complete". */
    if (result && c->era == MCP_ERA_STATELESS)
        json_object_set_new(result, "resultType", json_string("complete"));
    return jsonrpc_result(c->id, result);
}

json_t *mcp__err(struct mcp_call *c, int code, json_t *data, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jsonrpc_error(c->id, code, msg, data);
}

/* Cursors are "o:<offset>": opaque to clients (the specification says they
 * must not parse them), checked strictly here so a forged or stale one is
 * a clear -32602 rather than a silently wrong page. */
int mcp__cursor(struct mcp_call *c, json_t *params, size_t n, size_t *off, json_t **reply)
{
    json_t *cur = params ? json_object_get(params, "cursor") : NULL;
    *off = 0;
    if (!cur || json_is_null(cur))
        return 0;
    const char *s = json_string_value(cur);
    char *end = NULL;
    if (!s || strncmp(s, "o:", 2) != 0 || s[2] < '0' || s[2] > '9')
        goto bad;
    errno = 0;
    unsigned long long v = strtoull(s + 2, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v >= n)
        goto bad;
    *off = (size_t)v;
    return 0;
bad:
    *reply = mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:O}", "cursor", cur),
                      "invalid cursor: pass the nextCursor of a previous %s result unchanged",
                      c->method);
    return -1;
}

int mcp__next_cursor(json_t *result, size_t off, size_t page, size_t n)
{
    if (off + page >= n)
        return 0;
    char buf[32];
    snprintf(buf, sizeof buf, "o:%zu", off + page);
    return json_object_set_new(result, "nextCursor", json_string(buf));
}

/* ---- results --------------------------------------------------------------- */

json_t *mcp_result_text(const char *text, json_t *structured)
{
    json_t *r = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text",
                          text ? text : "");
    if (!r) {
        json_decref(structured);
        return NULL;
    }
    if (structured && json_object_set_new(r, "structuredContent", structured) != 0) {
        json_decref(r);
        return NULL;
    }
    return r;
}

json_t *mcp_result_errorf(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *r = mcp_result_text(msg, NULL);
    if (r && json_object_set_new(r, "isError", json_true()) != 0) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- methods ------------------------------------------------------------ */

static json_t *m_initialize(struct mcp_call *c, json_t *params);
static json_t *m_ping(struct mcp_call *c, json_t *params);
static json_t *m_set_level(struct mcp_call *c, json_t *params);
static json_t *m_discover(struct mcp_call *c, json_t *params);
static json_t *m_tools_list(struct mcp_call *c, json_t *params);
static json_t *m_tools_call(struct mcp_call *c, json_t *params);

enum {
    F_PRE_INIT = 1u,  /* served before initialize */
    F_PRE_READY = 2u, /* served between initialize and notifications/initialized */
    F_SESSION = 4u,   /* exists in the session era */
    F_STATELESS = 8u, /* exists in the 2026-07-28 era */
};

static int has_tools(const struct mcp_server *s)
{
    return s->ntools > 0;
}
static int has_resources(const struct mcp_server *s)
{
    return s->nres + s->ntmpl > 0;
}
static int has_prompts(const struct mcp_server *s)
{
    return s->nprompts > 0;
}

struct method {
    const char *name;
    json_t *(*fn)(struct mcp_call *c, json_t *params);
    unsigned flags;
    int (*avail)(const struct mcp_server *s); /* NULL: always */
    const char *what;                         /* what avail == 0 lacks */
};

#define F_BOTH (F_SESSION | F_STATELESS)
static const struct method methods[] = {
    {"initialize", m_initialize, F_PRE_INIT | F_SESSION, NULL, NULL},
    {"ping", m_ping, F_PRE_INIT | F_PRE_READY | F_SESSION, NULL, NULL},
    {"logging/setLevel", m_set_level, F_PRE_READY | F_SESSION, NULL, NULL},
    {"server/discover", m_discover, F_PRE_INIT | F_PRE_READY | F_BOTH, NULL, NULL},
    {"tools/list", m_tools_list, F_BOTH, has_tools, "tools"},
    {"tools/call", m_tools_call, F_BOTH, has_tools, "tools"},
    {"resources/list", mcp__resources_list, F_BOTH, has_resources, "resources"},
    {"resources/templates/list", mcp__templates_list, F_BOTH, has_resources, "resources"},
    {"resources/read", mcp__resources_read, F_BOTH, has_resources, "resources"},
    {"resources/subscribe", mcp__subscribe, F_SESSION, mcp__has_subscribable,
     "subscribable resources"},
    {"resources/unsubscribe", mcp__unsubscribe, F_SESSION, mcp__has_subscribable,
     "subscribable resources"},
    {"prompts/list", mcp__prompts_list, F_BOTH, has_prompts, "prompts"},
    {"prompts/get", mcp__prompts_get, F_BOTH, has_prompts, "prompts"},
    {"completion/complete", mcp__complete, F_BOTH, mcp__has_completions, "completions"},
};
#define NMETHODS (sizeof methods / sizeof methods[0])

static const struct method *find_method(const char *name, size_t *idx)
{
    for (size_t i = 0; i < NMETHODS; i++) {
        if (strcmp(methods[i].name, name) == 0) {
            *idx = i;
            return &methods[i];
        }
    }
    *idx = NMETHODS; /* the "other" metric row */
    return NULL;
}

int mcp_method_streams(const char *method)
{
    return method && strcmp(method, "tools/call") == 0;
}

static const struct mcp_tool_ent *find_tool(const struct mcp_server *s, const char *name);

int mcp_request_streams(const struct mcp_server *s, const struct jsonrpc_msg *m)
{
    if (!s || !m || m->kind != JSONRPC_REQUEST || !mcp_method_streams(m->method))
        return 0;
    json_t *meta = json_object_get(m->params, "_meta");
    if (json_object_get(meta, "progressToken"))
        return 1;
    const char *name = json_string_value(json_object_get(m->params, "name"));
    const struct mcp_tool_ent *t = name ? find_tool(s, name) : NULL;
    /* unknown tool: its error is answered inline, nothing to stream */
    return t && (t->flags & MCP_TOOL_INTERACTIVE);
}

/* ---- server object -------------------------------------------------------- */

void mcp_server_opts_init(struct mcp_server_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->name = "mcp-server";
    o->version = "0.0.0";
    o->limits.max_bytes = JSONRPC_DEFAULT_MAX_BYTES;
    o->limits.max_depth = JSONRPC_DEFAULT_MAX_DEPTH;
    o->max_inflight = 16;
    o->page_size = 50;
    o->client_request_timeout_ns = 60LL * 1000000000LL;
}

static const char *const outcome_names[MCP_OUT_N] = {"ok", "error", "tool_error", "cancelled"};

static int metrics_family(resil_metrics *m, resil_metrics_type type, const char *name,
                          const char *help, const char *const *labels, size_t nlabels,
                          resil_metrics_family **out)
{
    resil_metrics_family_opts fo;
    resil_metrics_family_opts_init(&fo);
    fo.type = type;
    fo.name = name;
    fo.help = help;
    fo.labels = labels;
    fo.nlabels = nlabels;
    return resil_metrics_family_new(m, &fo, out);
}

/* Every series made now: the label sets are bounded by the method table. */
static int metrics_setup(struct mcp_server *s)
{
    static const char *const req_labels[] = {"method", "outcome"};
    static const char *const dur_labels[] = {"method"};
    resil_metrics_family *fr, *fd;
    resil_metrics *m = s->opts.metrics;
    if (metrics_family(m, RESIL_METRICS_COUNTER, "mcp_requests_total",
                       "MCP requests served, by method and outcome.", req_labels, 2, &fr) != 0 ||
        metrics_family(m, RESIL_METRICS_HISTOGRAM, "mcp_request_seconds",
                       "Time to serve an MCP request, by method.", dur_labels, 1, &fd) != 0)
        return -1;
    s->m_requests = calloc((NMETHODS + 1) * MCP_OUT_N, sizeof *s->m_requests);
    s->m_seconds = calloc(NMETHODS + 1, sizeof *s->m_seconds);
    if (!s->m_requests || !s->m_seconds)
        return -1;
    for (size_t i = 0; i <= NMETHODS; i++) {
        const char *mname = i < NMETHODS ? methods[i].name : "other";
        for (size_t o = 0; o < MCP_OUT_N; o++) {
            const char *vals[] = {mname, outcome_names[o]};
            if (resil_metrics_counter_get(fr, vals, &s->m_requests[i * MCP_OUT_N + o]) != 0)
                return -1;
        }
        const char *dvals[] = {mname};
        if (resil_metrics_histogram_get(fd, dvals, &s->m_seconds[i]) != 0)
            return -1;
    }
    return 0;
}

int mcp_server_new(const struct mcp_server_opts *o, struct mcp_server **out)
{
    struct mcp_server_opts def;
    if (!out)
        return -1;
    *out = NULL;
    if (!o) {
        mcp_server_opts_init(&def);
        o = &def;
    }
    struct mcp_server *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->opts = *o;
    s->name = strdup(o->name ? o->name : "mcp-server");
    s->version = strdup(o->version ? o->version : "0.0.0");
    s->title = mcp__strdup(o->title);
    s->instructions = mcp__strdup(o->instructions);
    if (!s->name || !s->version || (o->title && !s->title) ||
        (o->instructions && !s->instructions))
        goto fail;
    s->opts.name = s->name;
    s->opts.version = s->version;
    s->opts.title = s->title;
    s->opts.instructions = s->instructions;
    if (s->opts.max_inflight == 0)
        s->opts.max_inflight = 16;
    if (s->opts.page_size == 0)
        s->opts.page_size = 50;
    if (s->opts.client_request_timeout_ns <= 0)
        s->opts.client_request_timeout_ns = 60LL * 1000000000LL;
    atomic_init(&s->next_request, 1);
    if (s->opts.metrics && metrics_setup(s) != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    mcp_server_free(s);
    return -1;
}

void mcp_server_free(struct mcp_server *s)
{
    if (!s)
        return;
    mcp__registry_free(s);
    free(s->m_requests);
    free(s->m_seconds);
    free(s->name);
    free(s->title);
    free(s->version);
    free(s->instructions);
    free(s);
}

const struct mcp_server_opts *mcp_server_opts_get(const struct mcp_server *s)
{
    return s ? &s->opts : NULL;
}

/* ---- lifecycle ------------------------------------------------------------- */

static json_t *capabilities(const struct mcp_server *s)
{
    json_t *caps = json_pack("{s:{}}", "logging");
    if (!caps)
        return NULL;
    if (s->ntools)
        json_object_set_new(caps, "tools", json_pack("{s:b}", "listChanged", 0));
    if (s->nres + s->ntmpl)
        json_object_set_new(caps, "resources", json_pack("{s:b,s:b}", "subscribe",
                                                         mcp__has_subscribable(s),
                                                         "listChanged", 0));
    if (s->nprompts)
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 0));
    if (mcp__has_completions(s))
        json_object_set_new(caps, "completions", json_object());
    return caps;
}

static json_t *server_info(const struct mcp_server *s)
{
    json_t *info = json_pack("{s:s,s:s}", "name", s->name, "version", s->version);
    if (info)
        mcp__set_str(info, "title", s->title);
    return info;
}

static json_t *bad_field(struct mcp_call *c, const char *field, const char *want)
{
    return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", field),
                    "%s: '%s' must be %s", c->method, field, want);
}

static void copy_str(char *dst, size_t n, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, n, "%s", s ? s : "");
}

static int session_version(const char *v)
{
    return v && mcp_version_supported(v, strlen(v)) && mcp_era_of(v) == MCP_ERA_SESSION;
}

/* The lifecycle: https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle */
static json_t *m_initialize(struct mcp_call *c, json_t *params)
{
    json_t *pv = params ? json_object_get(params, "protocolVersion") : NULL;
    json_t *caps = params ? json_object_get(params, "capabilities") : NULL;
    json_t *info = params ? json_object_get(params, "clientInfo") : NULL;
    if (!json_is_string(pv))
        return bad_field(c, "protocolVersion", "a string");
    if (caps && !json_is_object(caps))
        return bad_field(c, "capabilities", "an object");
    if (info && !json_is_object(info))
        return bad_field(c, "clientInfo", "an object");
    const char *want = json_string_value(pv);
    const char *chosen = session_version(want) ? want : MCP_LATEST_VERSION;
    struct session *sess = c->sess;
    pthread_mutex_lock(&sess->mu);
    if (sess->st.protocol_version[0] != '\0') {
        pthread_mutex_unlock(&sess->mu);
        return mcp__err(c, JSONRPC_INVALID_REQUEST, NULL,
                        "initialize: this session is already initialized");
    }
    snprintf(sess->st.protocol_version, sizeof sess->st.protocol_version, "%s", chosen);
    sess->st.initialized = 0;
    sess->st.log_level = MCP_LOG_INFO;
    sess->st.client_caps = mcp__caps_bits(caps);
    copy_str(sess->st.client_name, sizeof sess->st.client_name, json_object_get(info, "name"));
    copy_str(sess->st.client_version, sizeof sess->st.client_version,
             json_object_get(info, "version"));
    pthread_mutex_unlock(&sess->mu);
    json_t *r = json_pack("{s:s,s:o,s:o}", "protocolVersion", chosen, "capabilities",
                          capabilities(c->srv), "serverInfo", server_info(c->srv));
    if (r)
        mcp__set_str(r, "instructions", c->srv->instructions);
    return mcp__ok(c, r);
}

static json_t *m_ping(struct mcp_call *c, json_t *params)
{
    (void)params;
    return mcp__ok(c, json_object());
}

static json_t *m_set_level(struct mcp_call *c, json_t *params)
{
    json_t *lv = params ? json_object_get(params, "level") : NULL;
    int level = mcp_log_level_parse(json_string_value(lv));
    if (level < 0)
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "level"),
                        "logging/setLevel: 'level' must be one of debug, info, notice, "
                        "warning, error, critical, alert, emergency");
    pthread_mutex_lock(&c->sess->mu);
    c->sess->st.log_level = level;
    pthread_mutex_unlock(&c->sess->mu);
    return mcp__ok(c, json_object());
}

static json_t *m_discover(struct mcp_call *c, json_t *params)
{
    (void)params;
    json_t *vers = json_array();
    for (size_t i = 0; vers && mcp_versions[i]; i++)
        json_array_append_new(vers, json_string(mcp_versions[i]));
    json_t *r = json_pack("{s:o,s:o,s:o}", "supportedVersions", vers, "capabilities",
                          capabilities(c->srv), "serverInfo", server_info(c->srv));
    if (r)
        mcp__set_str(r, "instructions", c->srv->instructions);
    return mcp__ok(c, r);
}

/* ---- tools --------------------------------------------------------------- */

static json_t *tool_json(const struct mcp_tool_ent *t)
{
    json_t *o = json_pack("{s:s,s:o}", "name", t->name, "inputSchema",
                          json_deep_copy(t->input_doc));
    if (!o)
        return NULL;
    mcp__set_str(o, "title", t->title);
    mcp__set_str(o, "description", t->description);
    /* Deep copies: the registry is shared by every thread, and a response
     * must not alias it while the transport serialises. */
    if (t->output_doc)
        json_object_set_new(o, "outputSchema", json_deep_copy(t->output_doc));
    if (t->annotations)
        json_object_set_new(o, "annotations", json_deep_copy(t->annotations));
    return o;
}

static json_t *m_tools_list(struct mcp_call *c, json_t *params)
{
    struct mcp_server *s = c->srv;
    size_t off, page = s->opts.page_size;
    json_t *reply = NULL;
    if (mcp__cursor(c, params, s->ntools, &off, &reply) != 0)
        return reply;
    json_t *arr = json_array();
    for (size_t i = off; arr && i < s->ntools && i < off + page; i++)
        json_array_append_new(arr, tool_json(&s->tools[i]));
    json_t *r = json_pack("{s:o}", "tools", arr);
    if (r)
        mcp__next_cursor(r, off, page, s->ntools);
    return mcp__ok(c, r);
}

static const struct mcp_tool_ent *find_tool(const struct mcp_server *s, const char *name)
{
    for (size_t i = 0; i < s->ntools; i++)
        if (strcmp(s->tools[i].name, name) == 0)
            return &s->tools[i];
    return NULL;
}

/* A result that breaks the tool's own outputSchema is our bug, not the
 * client's: log it, and answer isError rather than send it silently wrong. */
static json_t *check_output(struct mcp_call *c, const struct mcp_tool_ent *t, json_t *res)
{
    char why[512];
    if (!t->output || json_is_true(json_object_get(res, "isError")))
        return res;
    json_t *sc = json_object_get(res, "structuredContent");
    if (!sc)
        snprintf(why, sizeof why, "no structuredContent although the tool has an outputSchema");
    else if (schema_validate(t->output, sc, "result", why, sizeof why) == 0)
        return res;
    log_event(LOG_ERROR, "mcp.tool.bad_output", "tool", json_string(t->name), "error",
              json_string(why), NULL);
    json_decref(res);
    (void)c;
    return mcp_result_errorf("internal error: tool '%s' produced a result that does not "
                             "match its outputSchema (%s)", t->name, why);
}

static json_t *run_tool(struct mcp_call *c, const struct mcp_tool_ent *t, json_t *args)
{
    char why[512];
    if (schema_validate(t->input, args, "argument", why, sizeof why) != 0)
        return mcp__ok(c, mcp_result_errorf("invalid arguments for tool '%s': %s", t->name,
                                            why));
    json_t *res = NULL;
    int rc = t->call(c, args, t->ctx, &res);
    if (mcp_call_cancelled(c)) {
        json_decref(res); /* nothing is sent for a cancelled call */
        return NULL;
    }
    if (rc != 0 || !json_is_object(res)) {
        json_decref(res);
        log_event(LOG_ERROR, "mcp.tool.failed", "tool", json_string(t->name), "rc",
                  json_integer(rc), NULL);
        return mcp__err(c, JSONRPC_INTERNAL_ERROR, json_pack("{s:s}", "tool", t->name),
                        "tool '%s' failed with an internal error", t->name);
    }
    return mcp__ok(c, check_output(c, t, res));
}

static json_t *m_tools_call(struct mcp_call *c, json_t *params)
{
    json_t *name = params ? json_object_get(params, "name") : NULL;
    json_t *args = params ? json_object_get(params, "arguments") : NULL;
    if (!json_is_string(name))
        return bad_field(c, "name", "a string (the tool to call)");
    if (args && !json_is_object(args) && !json_is_null(args))
        return bad_field(c, "arguments", "an object");
    const struct mcp_tool_ent *t = find_tool(c->srv, json_string_value(name));
    if (!t)
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:O}", "name", name),
                        "unknown tool '%s'", json_string_value(name));
    if (json_is_object(args))
        return run_tool(c, t, args);
    json_t *empty = json_object();
    json_t *r = empty ? run_tool(c, t, empty) : NULL;
    json_decref(empty);
    return r;
}

/* ---- dispatch --------------------------------------------------------------- */

static void record(struct mcp_server *s, size_t midx, const json_t *resp, int64_t t0)
{
    if (!s->m_requests)
        return;
    enum mcp_outcome o = MCP_OUT_OK;
    if (!resp)
        o = MCP_OUT_CANCELLED;
    else if (json_object_get(resp, "error"))
        o = MCP_OUT_ERROR;
    else if (json_is_true(json_object_get(json_object_get(resp, "result"), "isError")))
        o = MCP_OUT_TOOL_ERROR;
    resil_metrics_counter_add(s->m_requests[midx * MCP_OUT_N + o], 1);
    resil_metrics_histogram_record_ns(s->m_seconds[midx], resil_clock_now(s->opts.clock) - t0);
}

static json_t *meta_of(const struct jsonrpc_msg *m)
{
    return m->params ? json_object_get(m->params, "_meta") : NULL;
}

/* The era of this message: the session's (the transport sets 2026-07-28
 * from the header), or, on a session that never saw initialize (stdio),
 * the per-request _meta protocolVersion of the stateless revision. */
static enum mcp_era message_era(struct session *sess, const struct jsonrpc_msg *m)
{
    char v[sizeof sess->st.protocol_version];
    pthread_mutex_lock(&sess->mu);
    memcpy(v, sess->st.protocol_version, sizeof v);
    pthread_mutex_unlock(&sess->mu);
    v[sizeof v - 1] = '\0';
    if (v[0])
        return mcp_era_of(v);
    const char *mv = json_string_value(json_object_get(meta_of(m), MCP_META_VERSION));
    return mcp_era_of(mv);
}

/* What keeps a method from being served now; NULL when it may run. */
static json_t *gate_session(struct session *sess, const struct jsonrpc_msg *m,
                            const struct method *me)
{
    pthread_mutex_lock(&sess->mu);
    int started = sess->st.protocol_version[0] != '\0';
    int ready = sess->st.initialized;
    pthread_mutex_unlock(&sess->mu);
    if (!(me->flags & F_SESSION))
        return jsonrpc_errorf(m->id, JSONRPC_METHOD_NOT_FOUND,
                              json_pack("{s:s}", "method", m->method),
                              "method '%s' exists only in protocol revision %s", m->method,
                              MCP_STATELESS_VERSION);
    if (!started && !(me->flags & F_PRE_INIT))
        return jsonrpc_errorf(m->id, JSONRPC_INVALID_REQUEST,
                              json_pack("{s:s}", "method", m->method),
                              "not initialized: send initialize first (got '%s')", m->method);
    if (started && !ready && !(me->flags & (F_PRE_INIT | F_PRE_READY)))
        return jsonrpc_errorf(m->id, JSONRPC_INVALID_REQUEST,
                              json_pack("{s:s}", "method", m->method),
                              "not initialized: send notifications/initialized before '%s'",
                              m->method);
    return NULL;
}

static json_t *gate_stateless(const struct jsonrpc_msg *m, const struct method *me)
{
    json_t *mv = json_object_get(meta_of(m), MCP_META_VERSION);
    if (mv && (!json_is_string(mv) ||
               strcmp(json_string_value(mv), MCP_STATELESS_VERSION) != 0))
        return jsonrpc_errorf(m->id, MCP_ERR_UNSUPPORTED_VERSION,
                              json_pack("{s:[s],s:O}", "supported", MCP_STATELESS_VERSION,
                                        "requested", mv),
                              "unsupported protocol version in _meta: this request is in "
                              "revision %s", MCP_STATELESS_VERSION);
    if (strcmp(m->method, "initialize") == 0)
        return jsonrpc_errorf(m->id, JSONRPC_INVALID_REQUEST,
                              json_pack("{s:[s]}", "supported", MCP_STATELESS_VERSION),
                              "initialize is not used in protocol revision %s: send "
                              "server/discover, then requests carrying _meta",
                              MCP_STATELESS_VERSION);
    if (!(me->flags & F_STATELESS))
        return jsonrpc_errorf(m->id, JSONRPC_METHOD_NOT_FOUND,
                              json_pack("{s:s}", "method", m->method),
                              "method '%s' is not part of protocol revision %s", m->method,
                              MCP_STATELESS_VERSION);
    return NULL;
}

static json_t *gate(struct mcp_server *s, struct session *sess, const struct jsonrpc_msg *m,
                    const struct method *me, enum mcp_era era)
{
    if (!me)
        return jsonrpc_errorf(m->id, JSONRPC_METHOD_NOT_FOUND,
                              json_pack("{s:s}", "method", m->method),
                              "method not found: '%s'", m->method);
    json_t *e = era == MCP_ERA_STATELESS ? gate_stateless(m, me) : gate_session(sess, m, me);
    if (e)
        return e;
    if (me->avail && !me->avail(s))
        return jsonrpc_errorf(m->id, JSONRPC_METHOD_NOT_FOUND,
                              json_pack("{s:s}", "method", m->method),
                              "method '%s' is not available: this server has no %s",
                              m->method, me->what);
    return NULL;
}

static json_t *run_request(struct mcp_server *s, struct session *sess,
                           const struct jsonrpc_msg *m, struct mcp_sink *sink,
                           const struct method *me, enum mcp_era era)
{
    struct mcp_call c;
    if (mcp__call_init(&c, s, sess, m, sink, era) != 0)
        return NULL;
    /* initialize cannot be cancelled (lifecycle): keep it out of the table. */
    int cancellable = strcmp(me->name, "initialize") != 0;
    json_t *resp;
    if (cancellable && mcp__call_register(&c) != 0)
        resp = jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR, "out of memory", NULL);
    else
        resp = me->fn(&c, m->params);
    /* Leave the table first: a cancel that found the call is then visible
     * below, and one that comes later finds nothing, so the response is
     * either suppressed or sent, never both. */
    mcp__call_finish(&c);
    if (mcp_call_cancelled(&c)) {
        json_decref(resp);
        resp = NULL;
    }
    pthread_mutex_destroy(&c.hook_mu);
    pthread_cond_destroy(&c.hook_cv);
    return resp;
}

static json_t *handle_request(struct mcp_server *s, struct session *sess,
                              const struct jsonrpc_msg *m, struct mcp_sink *sink)
{
    size_t midx;
    int64_t t0 = resil_clock_now(s->opts.clock);
    const struct method *me = find_method(m->method, &midx);
    enum mcp_era era = message_era(sess, m);
    json_t *resp = gate(s, sess, m, me, era);
    if (!resp && session_begin_request(sess, s->opts.max_inflight) != 0)
        resp = jsonrpc_errorf(m->id, MCP_ERR_TOO_MANY,
                              json_pack("{s:I}", "limit", (json_int_t)s->opts.max_inflight),
                              "too many concurrent requests on this session (limit %u)",
                              s->opts.max_inflight);
    else if (!resp) {
        resp = run_request(s, sess, m, sink, me, era);
        session_end_request(sess);
    }
    record(s, midx, resp, t0);
    return resp;
}

static void handle_notification(struct session *sess, const struct jsonrpc_msg *m)
{
    if (strcmp(m->method, "notifications/initialized") == 0) {
        pthread_mutex_lock(&sess->mu);
        if (sess->st.protocol_version[0] != '\0')
            sess->st.initialized = 1;
        pthread_mutex_unlock(&sess->mu);
    } else if (strcmp(m->method, "notifications/cancelled") == 0) {
        json_t *rid = m->params ? json_object_get(m->params, "requestId") : NULL;
        if (json_is_string(rid) || json_is_integer(rid))
            mcp__cancel_request(sess, rid);
    } else {
        log_event(LOG_DEBUG, "mcp.notification.ignored", "method", json_string(m->method),
                  NULL);
    }
}

json_t *mcp_handle(struct mcp_server *s, struct session *sess, const struct jsonrpc_msg *m,
                   struct mcp_sink *sink)
{
    if (!s || !sess || !m)
        return NULL;
    switch (m->kind) {
    case JSONRPC_REQUEST:
        return handle_request(s, sess, m, sink);
    case JSONRPC_NOTIFICATION:
        handle_notification(sess, m);
        return NULL;
    case JSONRPC_RESPONSE:
    case JSONRPC_ERROR:
        mcp__route_response(sess, m);
        return NULL;
    }
    return NULL;
}
