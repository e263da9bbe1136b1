/* Registration of tools, resources, resource templates and prompts, and
 * the methods that serve resources, prompts and completion.
 *
 * Specification: https://modelcontextprotocol.io/specification/2025-11-25/
 * server/resources, server/prompts, server/utilities/completion; templates
 * are RFC 6570 level 1 ("{var}" only), a variable matching one or more
 * characters other than '/'. */
#include "mcp/protocol_int.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- registration ------------------------------------------------------------ */

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 8;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

/* ---- tool registration ------------------------------------------------------ */

static void tool_clear(struct mcp_tool_ent *e)
{
    free(e->name);
    free(e->title);
    free(e->description);
    schema_free(e->input);
    schema_free(e->output);
    json_decref(e->input_doc);
    json_decref(e->output_doc);
    json_decref(e->annotations);
}

static int valid_tool_name(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 128)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Parse and compile one of a tool's schemas; the specification requires
 * both to be object schemas ("type": "object"). */
static int load_schema(const char *tool, const char *which, const char *text, json_t **doc,
                       struct schema **out, char *err, size_t errlen)
{
    json_error_t je;
    char why[256];
    *doc = json_loads(text, 0, &je);
    if (!*doc) {
        snprintf(err, errlen, "tool '%s': %s is not JSON (line %d column %d: %s)", tool,
                 which, je.line, je.column, je.text);
        return -1;
    }
    json_t *type = json_object_get(*doc, "type");
    if (!json_is_object(*doc) || !json_is_string(type) ||
        strcmp(json_string_value(type), "object") != 0) {
        snprintf(err, errlen, "tool '%s': %s must be a JSON object with \"type\": \"object\"",
                 tool, which);
        return -1;
    }
    if (schema_compile(*doc, out, why, sizeof why) != 0) {
        snprintf(err, errlen, "tool '%s': %s: %s", tool, which, why);
        return -1;
    }
    return 0;
}

static int tool_fill(struct mcp_tool_ent *e, const struct mcp_tool *t, char *err, size_t errlen)
{
    e->name = strdup(t->name);
    e->title = mcp__strdup(t->title);
    e->description = mcp__strdup(t->description);
    if (!e->name || (t->title && !e->title) || (t->description && !e->description)) {
        snprintf(err, errlen, "tool '%s': out of memory", t->name);
        return -1;
    }
    if (load_schema(t->name, "inputSchema", t->input_schema, &e->input_doc, &e->input, err,
                    errlen) != 0)
        return -1;
    if (t->output_schema && load_schema(t->name, "outputSchema", t->output_schema,
                                        &e->output_doc, &e->output, err, errlen) != 0)
        return -1;
    if (t->annotations) {
        e->annotations = json_loads(t->annotations, 0, NULL);
        if (!json_is_object(e->annotations)) {
            snprintf(err, errlen, "tool '%s': annotations must be a JSON object", t->name);
            return -1;
        }
    }
    e->call = t->call;
    e->ctx = t->ctx;
    return 0;
}

int mcp_server_add_tool(struct mcp_server *s, const struct mcp_tool *t, char *err,
                        size_t errlen)
{
    if (!s || !t || !t->call || !t->input_schema || !valid_tool_name(t->name)) {
        snprintf(err, errlen, "tool '%s': a name of 1-128 [A-Za-z0-9_.-], an inputSchema "
                 "and a function are required", t && t->name ? t->name : "(null)");
        return -1;
    }
    for (size_t i = 0; i < s->ntools; i++) {
        if (strcmp(s->tools[i].name, t->name) == 0) {
            snprintf(err, errlen, "tool '%s' is already registered", t->name);
            return -1;
        }
    }
    if (s->ntools == s->cap_tools) {
        size_t cap = s->cap_tools ? 2 * s->cap_tools : 8;
        void *p = realloc(s->tools, cap * sizeof *s->tools);
        if (!p) {
            snprintf(err, errlen, "tool '%s': out of memory", t->name);
            return -1;
        }
        s->tools = p;
        s->cap_tools = cap;
    }
    struct mcp_tool_ent *e = &s->tools[s->ntools];
    memset(e, 0, sizeof *e);
    if (tool_fill(e, t, err, errlen) != 0) {
        tool_clear(e);
        return -1;
    }
    e->flags = t->flags;
    s->ntools++;
    return 0;
}

static void res_clear(struct mcp_res_ent *e)
{
    free(e->uri);
    free(e->name);
    free(e->title);
    free(e->description);
    free(e->mime);
}

static int res_fill(struct mcp_res_ent *e, const char *uri, const char *name, const char *title,
                    const char *desc, const char *mime)
{
    memset(e, 0, sizeof *e);
    e->uri = strdup(uri);
    e->name = strdup(name);
    e->title = mcp__strdup(title);
    e->description = mcp__strdup(desc);
    e->mime = mcp__strdup(mime);
    if (!e->uri || !e->name || (title && !e->title) || (desc && !e->description) ||
        (mime && !e->mime)) {
        res_clear(e);
        return -1;
    }
    return 0;
}

static int dup_uri(const struct mcp_res_ent *arr, size_t n, const char *uri)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].uri, uri) == 0)
            return 1;
    return 0;
}

int mcp_server_add_resource(struct mcp_server *s, const struct mcp_resource *r, char *err,
                            size_t errlen)
{
    if (!s || !r || !r->uri || !*r->uri || !r->name || !r->read) {
        snprintf(err, errlen, "resource: a uri, a name and a read function are required");
        return -1;
    }
    if (dup_uri(s->res, s->nres, r->uri)) {
        snprintf(err, errlen, "resource '%s' is already registered", r->uri);
        return -1;
    }
    if (grow((void **)&s->res, &s->cap_res, s->nres, sizeof *s->res) != 0 ||
        res_fill(&s->res[s->nres], r->uri, r->name, r->title, r->description,
                 r->mime_type) != 0) {
        snprintf(err, errlen, "resource '%s': out of memory", r->uri);
        return -1;
    }
    struct mcp_res_ent *e = &s->res[s->nres++];
    e->subscribable = r->subscribable;
    e->read = r->read;
    e->ctx = r->ctx;
    return 0;
}

/* Level 1 only: literal text and "{name}" with a non-empty name. */
static int valid_template(const char *t)
{
    int vars = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '}')
            return 0;
        if (*p != '{')
            continue;
        const char *end = strchr(p, '}');
        if (!end || end == p + 1 || memchr(p + 1, '{', (size_t)(end - p - 1)))
            return 0;
        for (const char *q = p + 1; q < end; q++)
            if (!(*q == '_' || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
                  (*q >= 'A' && *q <= 'Z')))
                return 0;
        if (end[1] == '{')
            return 0; /* two adjacent variables cannot be told apart */
        vars++;
        p = end;
    }
    return vars > 0;
}

int mcp_server_add_resource_template(struct mcp_server *s,
                                     const struct mcp_resource_template *t, char *err,
                                     size_t errlen)
{
    if (!s || !t || !t->uri_template || !t->name || !t->read) {
        snprintf(err, errlen, "resource template: a uriTemplate, a name and a read function "
                 "are required");
        return -1;
    }
    if (!valid_template(t->uri_template)) {
        snprintf(err, errlen, "resource template '%s': not a level-1 URI template with at "
                 "least one {variable}", t->uri_template);
        return -1;
    }
    if (dup_uri(s->tmpl, s->ntmpl, t->uri_template)) {
        snprintf(err, errlen, "resource template '%s' is already registered", t->uri_template);
        return -1;
    }
    if (grow((void **)&s->tmpl, &s->cap_tmpl, s->ntmpl, sizeof *s->tmpl) != 0 ||
        res_fill(&s->tmpl[s->ntmpl], t->uri_template, t->name, t->title, t->description,
                 t->mime_type) != 0) {
        snprintf(err, errlen, "resource template '%s': out of memory", t->uri_template);
        return -1;
    }
    struct mcp_res_ent *e = &s->tmpl[s->ntmpl++];
    e->read = t->read;
    e->ctx = t->ctx;
    return 0;
}

static void prompt_clear(struct mcp_prompt_ent *e)
{
    free(e->name);
    free(e->title);
    free(e->description);
    for (size_t i = 0; i < e->nargs; i++) {
        free(e->args[i].name);
        free(e->args[i].description);
    }
    free(e->args);
}

static int prompt_fill(struct mcp_prompt_ent *e, const struct mcp_prompt *p)
{
    memset(e, 0, sizeof *e);
    e->name = strdup(p->name);
    e->title = mcp__strdup(p->title);
    e->description = mcp__strdup(p->description);
    e->args = p->nargs ? calloc(p->nargs, sizeof *e->args) : NULL;
    if (!e->name || (p->title && !e->title) || (p->description && !e->description) ||
        (p->nargs && !e->args))
        return -1;
    for (size_t i = 0; i < p->nargs; i++) {
        e->nargs = i + 1;
        e->args[i].name = strdup(p->args[i].name);
        e->args[i].description = mcp__strdup(p->args[i].description);
        e->args[i].required = p->args[i].required;
        if (!e->args[i].name || (p->args[i].description && !e->args[i].description))
            return -1;
    }
    e->get = p->get;
    e->complete = p->complete;
    e->ctx = p->ctx;
    return 0;
}

static int check_prompt(const struct mcp_server *s, const struct mcp_prompt *p, char *err,
                        size_t errlen)
{
    if (!p || !p->name || !*p->name || !p->get || (p->nargs && !p->args)) {
        snprintf(err, errlen, "prompt: a name and a get function are required");
        return -1;
    }
    for (size_t i = 0; i < s->nprompts; i++) {
        if (strcmp(s->prompts[i].name, p->name) == 0) {
            snprintf(err, errlen, "prompt '%s' is already registered", p->name);
            return -1;
        }
    }
    for (size_t i = 0; i < p->nargs; i++) {
        if (!p->args[i].name || !*p->args[i].name) {
            snprintf(err, errlen, "prompt '%s': argument %zu has no name", p->name, i);
            return -1;
        }
    }
    return 0;
}

int mcp_server_add_prompt(struct mcp_server *s, const struct mcp_prompt *p, char *err,
                          size_t errlen)
{
    if (!s || check_prompt(s, p, err, errlen) != 0)
        return -1;
    if (grow((void **)&s->prompts, &s->cap_prompts, s->nprompts, sizeof *s->prompts) != 0) {
        snprintf(err, errlen, "prompt '%s': out of memory", p->name);
        return -1;
    }
    struct mcp_prompt_ent *e = &s->prompts[s->nprompts];
    if (prompt_fill(e, p) != 0) {
        prompt_clear(e);
        snprintf(err, errlen, "prompt '%s': out of memory", p->name);
        return -1;
    }
    s->nprompts++;
    return 0;
}

void mcp__registry_free(struct mcp_server *s)
{
    for (size_t i = 0; i < s->ntools; i++)
        tool_clear(&s->tools[i]);
    free(s->tools);
    for (size_t i = 0; i < s->nres; i++)
        res_clear(&s->res[i]);
    free(s->res);
    for (size_t i = 0; i < s->ntmpl; i++)
        res_clear(&s->tmpl[i]);
    free(s->tmpl);
    for (size_t i = 0; i < s->nprompts; i++)
        prompt_clear(&s->prompts[i]);
    free(s->prompts);
}

int mcp__has_completions(const struct mcp_server *s)
{
    for (size_t i = 0; i < s->nprompts; i++)
        if (s->prompts[i].complete)
            return 1;
    return 0;
}

int mcp__has_subscribable(const struct mcp_server *s)
{
    for (size_t i = 0; i < s->nres; i++)
        if (s->res[i].subscribable)
            return 1;
    return 0;
}

/* ---- lists -------------------------------------------------------------------- */

static json_t *res_json(const struct mcp_res_ent *e, const char *uri_key)
{
    json_t *o = json_pack("{s:s,s:s}", uri_key, e->uri, "name", e->name);
    if (!o)
        return NULL;
    mcp__set_str(o, "title", e->title);
    mcp__set_str(o, "description", e->description);
    mcp__set_str(o, "mimeType", e->mime);
    return o;
}

static json_t *list_page(struct mcp_call *c, json_t *params, const struct mcp_res_ent *arr,
                         size_t n, const char *key, const char *uri_key)
{
    size_t off, page = c->srv->opts.page_size;
    json_t *reply = NULL;
    if (mcp__cursor(c, params, n, &off, &reply) != 0)
        return reply;
    json_t *items = json_array();
    for (size_t i = off; items && i < n && i < off + page; i++)
        json_array_append_new(items, res_json(&arr[i], uri_key));
    json_t *r = json_pack("{s:o}", key, items);
    if (r)
        mcp__next_cursor(r, off, page, n);
    return mcp__ok(c, r);
}

json_t *mcp__resources_list(struct mcp_call *c, json_t *params)
{
    return list_page(c, params, c->srv->res, c->srv->nres, "resources", "uri");
}

json_t *mcp__templates_list(struct mcp_call *c, json_t *params)
{
    return list_page(c, params, c->srv->tmpl, c->srv->ntmpl, "resourceTemplates",
                     "uriTemplate");
}

/* ---- read and subscribe ---------------------------------------------------------- */

/* Whether uri matches template t; recursion depth is bounded by the
 * template's variables, so a client-supplied uri cannot deepen it. */
static int tmpl_match(const char *t, const char *uri)
{
    while (*t && *t != '{') {
        if (*t != *uri)
            return 0;
        t++;
        uri++;
    }
    if (!*t)
        return *uri == '\0';
    const char *rest = strchr(t, '}') + 1;
    for (size_t k = 0; uri[k] && uri[k] != '/'; k++)
        if (tmpl_match(rest, uri + k + 1))
            return 1;
    return 0;
}

static const struct mcp_res_ent *find_resource(const struct mcp_server *s, const char *uri)
{
    for (size_t i = 0; i < s->nres; i++)
        if (strcmp(s->res[i].uri, uri) == 0)
            return &s->res[i];
    for (size_t i = 0; i < s->ntmpl; i++)
        if (tmpl_match(s->tmpl[i].uri, uri))
            return &s->tmpl[i];
    return NULL;
}

static json_t *not_found(struct mcp_call *c, const char *uri)
{
    return mcp__err(c, MCP_RESOURCE_NOT_FOUND, json_pack("{s:s}", "uri", uri),
                    "resource not found: '%s'", uri);
}

static json_t *uri_param(struct mcp_call *c, json_t *params, const char **uri)
{
    *uri = json_string_value(params ? json_object_get(params, "uri") : NULL);
    if (*uri)
        return NULL;
    return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "uri"),
                    "%s: 'uri' must be a string", c->method);
}

json_t *mcp__resources_read(struct mcp_call *c, json_t *params)
{
    const char *uri;
    json_t *e = uri_param(c, params, &uri);
    if (e)
        return e;
    const struct mcp_res_ent *r = find_resource(c->srv, uri);
    if (!r)
        return not_found(c, uri);
    json_t *contents = NULL;
    int rc = r->read(c, uri, r->ctx, &contents);
    if (rc == MCP_RESOURCE_NOT_FOUND) {
        json_decref(contents);
        return not_found(c, uri);
    }
    if (rc != 0 || !json_is_array(contents)) {
        json_decref(contents);
        log_event(LOG_ERROR, "mcp.resource.failed", "uri", json_string(uri), "rc",
                  json_integer(rc), NULL);
        return mcp__err(c, JSONRPC_INTERNAL_ERROR, json_pack("{s:s}", "uri", uri),
                        "reading resource '%s' failed with an internal error", uri);
    }
    return mcp__ok(c, json_pack("{s:o}", "contents", contents));
}

static const struct mcp_res_ent *subscribable(struct mcp_call *c, json_t *params,
                                              const char **uri, json_t **reply)
{
    *reply = uri_param(c, params, uri);
    if (*reply)
        return NULL;
    for (size_t i = 0; i < c->srv->nres; i++) {
        const struct mcp_res_ent *r = &c->srv->res[i];
        if (strcmp(r->uri, *uri) != 0)
            continue;
        if (r->subscribable)
            return r;
        break;
    }
    *reply = mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "uri", *uri),
                      "%s: '%s' cannot be subscribed to (not a subscribable resource)",
                      c->method, *uri);
    return NULL;
}

static ssize_t sub_index(const struct mcp_proto *p, const char *uri)
{
    for (size_t i = 0; p && i < p->nsubs; i++)
        if (strcmp(p->subs[i], uri) == 0)
            return (ssize_t)i;
    return -1;
}

/* The set is bounded by the subscribable resources registered. */
static int sub_add(struct session *sess, const char *uri)
{
    int rc = 0;
    pthread_mutex_lock(&sess->mu);
    struct mcp_proto *p = mcp__proto(sess);
    if (!p)
        rc = -1;
    else if (sub_index(p, uri) < 0) {
        char *dup = strdup(uri);
        if (!dup || grow((void **)&p->subs, &p->cap_subs, p->nsubs, sizeof *p->subs) != 0) {
            free(dup);
            rc = -1;
        } else {
            p->subs[p->nsubs++] = dup;
        }
    }
    pthread_mutex_unlock(&sess->mu);
    return rc;
}

json_t *mcp__subscribe(struct mcp_call *c, json_t *params)
{
    const char *uri;
    json_t *reply;
    if (!subscribable(c, params, &uri, &reply))
        return reply;
    if (sub_add(c->sess, uri) != 0)
        return mcp__err(c, JSONRPC_INTERNAL_ERROR, NULL, "out of memory");
    return mcp__ok(c, json_object());
}

json_t *mcp__unsubscribe(struct mcp_call *c, json_t *params)
{
    const char *uri;
    json_t *reply;
    if (!subscribable(c, params, &uri, &reply))
        return reply;
    /* Unsubscribing from what is not subscribed is a no-op: idempotent. */
    pthread_mutex_lock(&c->sess->mu);
    struct mcp_proto *p = c->sess->proto;
    ssize_t i = sub_index(p, uri);
    if (i >= 0) {
        free(p->subs[i]);
        p->subs[i] = p->subs[--p->nsubs];
    }
    pthread_mutex_unlock(&c->sess->mu);
    return mcp__ok(c, json_object());
}

/* ---- prompts ---------------------------------------------------------------------- */

static json_t *prompt_json(const struct mcp_prompt_ent *e)
{
    json_t *o = json_pack("{s:s}", "name", e->name);
    if (!o)
        return NULL;
    mcp__set_str(o, "title", e->title);
    mcp__set_str(o, "description", e->description);
    if (e->nargs == 0)
        return o;
    json_t *args = json_array();
    for (size_t i = 0; args && i < e->nargs; i++) {
        json_t *a = json_pack("{s:s,s:b}", "name", e->args[i].name, "required",
                              e->args[i].required != 0);
        if (a)
            mcp__set_str(a, "description", e->args[i].description);
        json_array_append_new(args, a);
    }
    json_object_set_new(o, "arguments", args);
    return o;
}

json_t *mcp__prompts_list(struct mcp_call *c, json_t *params)
{
    struct mcp_server *s = c->srv;
    size_t off, page = s->opts.page_size;
    json_t *reply = NULL;
    if (mcp__cursor(c, params, s->nprompts, &off, &reply) != 0)
        return reply;
    json_t *items = json_array();
    for (size_t i = off; items && i < s->nprompts && i < off + page; i++)
        json_array_append_new(items, prompt_json(&s->prompts[i]));
    json_t *r = json_pack("{s:o}", "prompts", items);
    if (r)
        mcp__next_cursor(r, off, page, s->nprompts);
    return mcp__ok(c, r);
}

static const struct mcp_prompt_ent *find_prompt(const struct mcp_server *s, const char *name)
{
    for (size_t i = 0; name && i < s->nprompts; i++)
        if (strcmp(s->prompts[i].name, name) == 0)
            return &s->prompts[i];
    return NULL;
}

static json_t *prompt_param(struct mcp_call *c, json_t *name, const struct mcp_prompt_ent **e)
{
    if (!json_is_string(name))
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "name"),
                        "%s: 'name' must be a string (the prompt)", c->method);
    *e = find_prompt(c->srv, json_string_value(name));
    if (*e)
        return NULL;
    return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:O}", "name", name),
                    "unknown prompt '%s'", json_string_value(name));
}

/* Prompt arguments are strings (GetPromptRequest.params.arguments). */
static json_t *check_args(struct mcp_call *c, const struct mcp_prompt_ent *e, json_t *args)
{
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) {
        if (!json_is_string(v))
            return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "argument", k),
                            "prompt '%s': argument '%s' must be a string", e->name, k);
    }
    for (size_t i = 0; i < e->nargs; i++) {
        if (e->args[i].required && !json_object_get(args, e->args[i].name))
            return mcp__err(c, JSONRPC_INVALID_PARAMS,
                            json_pack("{s:s}", "argument", e->args[i].name),
                            "prompt '%s': missing required argument '%s'", e->name,
                            e->args[i].name);
    }
    return NULL;
}

static json_t *run_prompt(struct mcp_call *c, const struct mcp_prompt_ent *e, json_t *args)
{
    json_t *err = check_args(c, e, args);
    if (err)
        return err;
    json_t *res = NULL;
    int rc = e->get(c, args, e->ctx, &res);
    if (rc != 0 || !json_is_object(res)) {
        json_decref(res);
        log_event(LOG_ERROR, "mcp.prompt.failed", "prompt", json_string(e->name), "rc",
                  json_integer(rc), NULL);
        return mcp__err(c, JSONRPC_INTERNAL_ERROR, json_pack("{s:s}", "prompt", e->name),
                        "prompt '%s' failed with an internal error", e->name);
    }
    return mcp__ok(c, res);
}

json_t *mcp__prompts_get(struct mcp_call *c, json_t *params)
{
    const struct mcp_prompt_ent *e = NULL;
    json_t *err = prompt_param(c, params ? json_object_get(params, "name") : NULL, &e);
    if (err)
        return err;
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args))
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "arguments"),
                        "prompts/get: 'arguments' must be an object of strings");
    if (json_is_object(args))
        return run_prompt(c, e, args);
    json_t *empty = json_object();
    json_t *r = empty ? run_prompt(c, e, empty) : NULL;
    json_decref(empty);
    return r;
}

/* ---- completion ------------------------------------------------------------------- */

static json_t *completion_result(struct mcp_call *c, json_t *values)
{
    size_t total = json_array_size(values);
    json_t *out = json_array();
    for (size_t i = 0; out && i < total && i < MCP_COMPLETION_MAX; i++)
        if (json_is_string(json_array_get(values, i)))
            json_array_append(out, json_array_get(values, i));
    json_decref(values);
    return mcp__ok(c, json_pack("{s:{s:o,s:I,s:b}}", "completion", "values", out, "total",
                                (json_int_t)total, "hasMore", total > MCP_COMPLETION_MAX));
}

static json_t *complete_prompt(struct mcp_call *c, json_t *ref, const char *arg,
                               const char *value, json_t *context)
{
    const struct mcp_prompt_ent *e = NULL;
    json_t *err = prompt_param(c, json_object_get(ref, "name"), &e);
    if (err)
        return err;
    size_t i = 0;
    while (i < e->nargs && strcmp(e->args[i].name, arg) != 0)
        i++;
    if (i == e->nargs)
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "argument", arg),
                        "completion/complete: prompt '%s' has no argument '%s'", e->name, arg);
    json_t *values = NULL;
    if (!e->complete)
        return completion_result(c, json_array());
    if (e->complete(arg, value, context, e->ctx, &values) != 0 || !json_is_array(values)) {
        json_decref(values);
        return mcp__err(c, JSONRPC_INTERNAL_ERROR, json_pack("{s:s}", "prompt", e->name),
                        "completing argument '%s' of prompt '%s' failed", arg, e->name);
    }
    return completion_result(c, values);
}

/* Templates have no completion functions: a known one completes to nothing. */
static json_t *complete_resource(struct mcp_call *c, json_t *ref)
{
    const char *uri = json_string_value(json_object_get(ref, "uri"));
    if (!uri)
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "ref.uri"),
                        "completion/complete: 'ref.uri' must be a string");
    for (size_t i = 0; i < c->srv->ntmpl; i++)
        if (strcmp(c->srv->tmpl[i].uri, uri) == 0)
            return completion_result(c, json_array());
    return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "uri", uri),
                    "completion/complete: unknown resource template '%s'", uri);
}

json_t *mcp__complete(struct mcp_call *c, json_t *params)
{
    json_t *ref = params ? json_object_get(params, "ref") : NULL;
    json_t *arg = params ? json_object_get(params, "argument") : NULL;
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *name = json_string_value(json_object_get(arg, "name"));
    const char *value = json_string_value(json_object_get(arg, "value"));
    if (!type)
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "ref.type"),
                        "completion/complete: 'ref.type' must be \"ref/prompt\" or "
                        "\"ref/resource\"");
    if (!name || !value)
        return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "field", "argument"),
                        "completion/complete: 'argument' must be {\"name\": string, "
                        "\"value\": string}");
    json_t *ctx = json_object_get(json_object_get(params, "context"), "arguments");
    if (strcmp(type, "ref/prompt") == 0)
        return complete_prompt(c, ref, name, value, json_is_object(ctx) ? ctx : NULL);
    if (strcmp(type, "ref/resource") == 0)
        return complete_resource(c, ref);
    return mcp__err(c, JSONRPC_INVALID_PARAMS, json_pack("{s:s}", "ref.type", type),
                    "completion/complete: unknown ref type '%s' (want \"ref/prompt\" or "
                    "\"ref/resource\")", type);
}
