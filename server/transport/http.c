/* The Streamable HTTP transport: the libmicrohttpd daemon, routing, the
 * checks every request passes (Host, Origin, bearer token), /metrics and
 * the health endpoints, the idle-session sweeper, and shutdown.  /mcp
 * itself is in http_mcp.c, SSE in sse.c; http_int.h says who blocks where.
 *
 * Host and Origin checks protect a server on loopback from DNS rebinding
 * (MCP 2025-11-25, Streamable HTTP, "Security Warning"): a Host must name
 * a loopback address (any port) or the listen address; an Origin, when
 * sent, must be a loopback origin or one of cfg.origins.  Listening on a
 * wildcard address needs an auth token (checked at start), and then any
 * Host is accepted: the token is the protection there. */
#include "transport/http_int.h"

#include "log.h"
#include "mcp/jsonrpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HTTP_HEADER_MEMORY (64u * 1024u) /* per connection: headers, buffers */
#define HTTP_MIN_TIMEOUT_S 30u           /* idle keep-alive connections */
#define HTTP_CLOSE_MS 250                /* streams write retry: at shutdown */

struct listen_addr {
    struct sockaddr_storage sa;
    int v6, loopback, any;
};

static const char *const route_names[ROUTE_COUNT] = {"mcp",   "metrics", "healthz",
                                                     "livez", "readyz",  "other"};
static const char *const class_names[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* ---- answers --------------------------------------------------------------- */

void http_add_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

enum MHD_Result http_queue(struct http_server *h, struct MHD_Connection *c,
                           enum http_route route, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    unsigned cls = status / 100;
    if (cls >= 1 && cls <= 5 && h->requests[route][cls - 1])
        resil_metrics_counter_add(h->requests[route][cls - 1], 1);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result http_reply(struct http_server *h, struct MHD_Connection *c,
                           enum http_route route, unsigned status, const char *ctype,
                           const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    http_add_security_headers(r);
    return http_queue(h, c, route, status, r);
}

/* MSG (a reference taken over; NULL when building it failed) as an application/json
 * response, or NULL when it cannot be serialised or MHD is out of memory. */
static struct MHD_Response *json_response(json_t *msg)
{
    size_t len = 0;
    char *text = msg ? jsonrpc_dump(msg, &len) : NULL;
    json_decref(msg);
    if (!text)
        return NULL;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    return r;
}

enum MHD_Result http_reply_json(struct http_server *h, struct MHD_Connection *c,
                                enum http_route route, unsigned status, json_t *msg,
                                const char *session_id)
{
    struct MHD_Response *r = json_response(msg);
    if (!r)
        return MHD_NO;
    if (session_id)
        MHD_add_response_header(r, "Mcp-Session-Id", session_id);
    http_add_security_headers(r);
    return http_queue(h, c, route, status, r);
}

enum MHD_Result http_reply_error(struct http_server *h, struct MHD_Connection *c,
                                 enum http_route route, unsigned status, json_t *id, int code,
                                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_reply_json(h, c, route, status, jsonrpc_error(id, code, msg, NULL), NULL);
}

const char *http_header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

int http_accepts(const char *accept, const char *type)
{
    if (!accept)
        return 0;
    size_t tl = strlen(type);
    const char *p = accept;
    while (*p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",;");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if ((n == tl && strncasecmp(p, type, tl) == 0) || (n == 3 && strncmp(p, "*/*", 3) == 0))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

static enum MHD_Result reply_req_error(struct http_server *h, struct MHD_Connection *c,
                                       struct http_req *q)
{
    q->answered = 1;
    json_t *msg = jsonrpc_error(NULL, q->err_code, q->err_msg, NULL);
    struct MHD_Response *r = json_response(msg);
    if (!r)
        return MHD_NO;
    if (q->unauthorized)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"mcp-server\"");
    if (q->err_status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", q->route == ROUTE_MCP ? "GET, POST, DELETE"
                                                                  : "GET, HEAD");
    http_add_security_headers(r);
    return http_queue(h, c, q->route, (unsigned)q->err_status, r);
}

static void req_fail(struct http_req *q, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void req_fail(struct http_req *q, int status, int code, const char *fmt, ...)
{
    if (q->err_status)
        return; /* the first problem is the one reported */
    q->err_status = status;
    q->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err_msg, sizeof q->err_msg, fmt, ap);
    va_end(ap);
}

/* ---- Host, Origin, token ------------------------------------------------ */

static int is_loopback_sa(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *in6 = (const void *)sa;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
}

/* Parse an address as a Host or listen address names it: "localhost",
 * a dotted quad, or an IPv6 address with or without brackets. */
static int parse_host_addr(const char *s, size_t n, struct sockaddr_storage *out)
{
    char buf[64];
    memset(out, 0, sizeof *out);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct sockaddr_in *in = (void *)out;
    struct sockaddr_in6 *in6 = (void *)out;
    if (strcasecmp(buf, "localhost") == 0)
        snprintf(buf, sizeof buf, "127.0.0.1");
    if (inet_pton(AF_INET, buf, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
}

/* The host part of "host[:port]" / "[v6][:port]": its length. */
static size_t host_part(const char *v)
{
    if (v[0] == '[') {
        const char *e = strchr(v, ']');
        return e ? (size_t)(e - v) + 1 : strlen(v);
    }
    return strcspn(v, ":");
}

static int port_ok(const char *p)
{
    if (*p == '\0')
        return 1;
    if (*p != ':' || p[1] == '\0')
        return 0;
    return strspn(p + 1, "0123456789") == strlen(p + 1) && strlen(p + 1) <= 5;
}

static int host_allowed(const struct http_server *h, const struct sockaddr_storage *listen,
                        const char *host)
{
    if (h->any_host)
        return 1;
    size_t n = host_part(host);
    struct sockaddr_storage sa;
    if (!port_ok(host + n) || parse_host_addr(host, n, &sa) != 0)
        return 0;
    return is_loopback_sa(&sa) || same_addr(&sa, listen);
}

static int origin_allowed(const struct config *cfg, const char *origin)
{
    size_t ol = strlen(origin);
    while (ol > 0 && origin[ol - 1] == '/')
        ol--;
    for (size_t i = 0; i < cfg->norigins; i++)
        if (strlen(cfg->origins[i]) == ol && strncasecmp(cfg->origins[i], origin, ol) == 0)
            return 1;
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    if (!rest)
        return 0;
    size_t n = host_part(rest);
    struct sockaddr_storage sa;
    const char *after = rest + n;
    if (*after == '/' && after[1] == '\0')
        after = "";
    return port_ok(after) && parse_host_addr(rest, n, &sa) == 0 && is_loopback_sa(&sa);
}

/* Constant time whatever the lengths: compare digests. */
static int token_ok(const char *want, const char *auth)
{
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *got = auth + 7;
    got += strspn(got, " ");
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)want, strlen(want), a);
    SHA256((const unsigned char *)got, strlen(got), b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

static struct listen_addr g_listen; /* one server per process */

static void check_common(struct http_server *h, struct MHD_Connection *c, struct http_req *q)
{
    const struct config *cfg = &h->a->cfg;
    const char *host = http_header(c, MHD_HTTP_HEADER_HOST);
    const char *origin = http_header(c, "Origin");
    if (!host || !host_allowed(h, &g_listen.sa, host))
        req_fail(q, 403, JSONRPC_INVALID_REQUEST,
                 "forbidden Host '%.100s': this server answers only to a loopback name or "
                 "its listen address %s (DNS rebinding protection)",
                 host ? host : "(none)", cfg->listen_addr);
    else if (origin && !origin_allowed(cfg, origin))
        req_fail(q, 403, JSONRPC_INVALID_REQUEST,
                 "forbidden Origin '%.100s': allowed are http(s)://localhost, 127.0.0.1 or "
                 "[::1] (any port) and the configured origins",
                 origin);
    if (q->err_status || !cfg->auth_token[0])
        return;
    if (q->route != ROUTE_MCP && q->route != ROUTE_METRICS)
        return;
    const char *auth = http_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!token_ok(cfg->auth_token, auth)) {
        req_fail(q, 401, JSONRPC_INVALID_REQUEST, "%s",
                 auth ? "invalid bearer token"
                      : "missing Authorization: Bearer <token> (this server requires one)");
        q->unauthorized = 1;
    }
}

/* ---- /metrics and health --------------------------------------------------- */

static int is_get_or_head(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    int rc = resil_metrics_export(h->a->metrics, RESIL_METRICS_PROMETHEUS, &text, &len);
    if (rc != 0)
        return http_reply_error(h, c, ROUTE_METRICS, 500, NULL, JSONRPC_INTERNAL_ERROR,
                                "metrics export failed: %s", resil_strerror(rc));
    enum MHD_Result r =
        http_reply(h, c, ROUTE_METRICS, 200,
                   resil_metrics_content_type(RESIL_METRICS_PROMETHEUS), text, len);
    resil_free(text);
    return r;
}

static enum MHD_Result serve_health(struct http_server *h, struct MHD_Connection *c,
                                    enum http_route route)
{
    resil_health_kind kind = route == ROUTE_LIVEZ    ? RESIL_HEALTH_LIVENESS
                             : route == ROUTE_READYZ ? RESIL_HEALTH_READINESS
                                                     : RESIL_HEALTH_BOTH;
    if (!h->a->health) {
        static const char pass[] = "{\"status\":\"pass\"}";
        return http_reply(h, c, route, 200, "application/health+json", pass, sizeof pass - 1);
    }
    char *text = NULL;
    size_t len = 0;
    int rc = resil_health_render(h->a->health, kind, &text, &len);
    if (rc != 0)
        return http_reply_error(h, c, route, 500, NULL, JSONRPC_INTERNAL_ERROR,
                                "health report failed: %s", resil_strerror(rc));
    unsigned status =
        (unsigned)resil_health_http_status(resil_health_status_get(h->a->health, kind));
    /* draining: stop routing traffic here */
    if (route == ROUTE_READYZ && atomic_load(&h->stopping))
        status = 503;
    enum MHD_Result r =
        http_reply(h, c, route, status, resil_health_content_type(), text, len);
    resil_free(text);
    return r;
}

/* ---- the access handler ------------------------------------------------------ */

static enum http_route route_of(const char *url)
{
    for (int r = 0; r < ROUTE_OTHER; r++) {
        if (url[0] == '/' && strcmp(url + 1, route_names[r]) == 0)
            return (enum http_route)r;
    }
    return ROUTE_OTHER;
}

static void take_body(struct http_server *h, struct http_req *q, const char *data, size_t n)
{
    size_t max = h->a->cfg.max_body_bytes ? h->a->cfg.max_body_bytes : JSONRPC_DEFAULT_MAX_BYTES;
    if (q->err_status || q->too_big || q->route != ROUTE_MCP)
        return; /* discarded: the answer is decided already */
    if (q->len + n > max) {
        q->too_big = 1;
        free(q->body);
        q->body = NULL;
        q->len = q->cap = 0;
        return;
    }
    if (q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 1024;
        while (cap < q->len + n + 1)
            cap *= 2;
        char *p = realloc(q->body, cap);
        if (!p) {
            q->too_big = 1; /* answered as too large for us now */
            return;
        }
        q->body = p;
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
    q->body[q->len] = '\0';
}

static void first_call(struct http_server *h, struct MHD_Connection *c, const char *method,
                       struct http_req *q)
{
    check_common(h, c, q);
    if (q->err_status)
        return;
    if (q->route == ROUTE_OTHER)
        req_fail(q, 404, JSONRPC_INVALID_REQUEST,
                 "no such endpoint (try /mcp, /metrics, /healthz, /livez, /readyz)");
    else if (q->route == ROUTE_MCP)
        mcp_check_headers(h, c, method, q);
    if (q->route == ROUTE_MCP && !q->err_status) {
        /* known too large before it comes: answered at once if the client
         * waits for 100 Continue, else after discarding the body */
        const char *cl = http_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        size_t max = h->a->cfg.max_body_bytes ? h->a->cfg.max_body_bytes
                                              : JSONRPC_DEFAULT_MAX_BYTES;
        if (cl && strtoull(cl, NULL, 10) > max)
            q->too_big = 1;
    }
    else if (!is_get_or_head(method))
        req_fail(q, 405, JSONRPC_INVALID_REQUEST, "method %s not allowed here (GET or HEAD)",
                 method);
}

static int expects_continue(struct MHD_Connection *c)
{
    const char *e = http_header(c, "Expect");
    return e && strcasecmp(e, "100-continue") == 0;
}

static enum MHD_Result last_call(struct http_server *h, struct MHD_Connection *c,
                                 const char *method, struct http_req *q)
{
    q->answered = 1;
    if (q->err_status)
        return reply_req_error(h, c, q);
    if (q->too_big) {
        req_fail(q, 413, JSONRPC_INVALID_REQUEST,
                 "message too large: the body exceeds max_body_bytes (%zu bytes)",
                 h->a->cfg.max_body_bytes);
        return reply_req_error(h, c, q);
    }
    switch (q->route) {
    case ROUTE_MCP:
        return mcp_dispatch(h, c, method, q);
    case ROUTE_METRICS:
        return serve_metrics(h, c);
    default:
        return serve_health(h, c, q->route);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **req_cls)
{
    struct http_server *h = cls;
    struct http_req *q = *req_cls;
    (void)version;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *req_cls = q;
        q->route = route_of(url);
        first_call(h, c, method, q);
        /* the client waits for 100 Continue: answer now, no body comes */
        if ((q->err_status || q->too_big) && expects_continue(c))
            return last_call(h, c, method, q);
        return MHD_YES;
    }
    if (*upload_size) {
        take_body(h, q, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->answered)
        return MHD_YES;
    return last_call(h, c, method, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct http_req *q = *req_cls;
    if (!q)
        return;
    free(q->body);
    free(q);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *h = cls;
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    if (atomic_load(&h->starting)) /* keep it for http_start's error */
        snprintf(h->start_err, sizeof h->start_err, "%s", buf);
    /* a client that goes away mid-stream is routine, not a warning */
    enum log_level lvl = strstr(buf, "no longer available") || strstr(buf, "reset by peer")
                             ? LOG_DEBUG
                             : LOG_WARN;
    log_event(lvl, "http.mhd", "message", json_string(buf), NULL);
}

/* ---- metrics ------------------------------------------------------------------ */

static int collect(resil_metrics *m, void *ctx)
{
    struct http_server *h = ctx;
    (void)m;
    if (h->sessions_gauge)
        resil_metrics_gauge_set(h->sessions_gauge,
                                (double)session_table_count(h->a->sessions));
    for (int k = 0; k < 2; k++)
        if (h->streams_gauge[k])
            resil_metrics_gauge_set(h->streams_gauge[k],
                                    (double)sse_open_streams((enum sse_kind)k));
    return 0;
}

static int family(resil_metrics *m, resil_metrics_type type, const char *name, const char *help,
                  const char *const *labels, size_t nlabels, resil_metrics_family **out)
{
    resil_metrics_family_opts o;
    resil_metrics_family_opts_init(&o);
    o.type = type;
    o.name = name;
    o.help = help;
    o.labels = labels;
    o.nlabels = nlabels;
    return resil_metrics_family_new(m, &o, out);
}

/* Families and every series up front: the labels are bounded (routes x
 * status classes, two stream kinds) and the hot path does no lookup. */
static int metrics_setup(struct http_server *h)
{
    resil_metrics *m = h->a->metrics;
    static const char *const req_labels[] = {"route", "code"};
    static const char *const kind_label[] = {"kind"};
    static const char *const kinds[] = {"post", "get"};
    resil_metrics_family *freq, *fsess, *fstream;
    if (!m)
        return 0;
    if (family(m, RESIL_METRICS_COUNTER, "mcp_http_requests_total",
               "HTTP requests answered, by route and status class.", req_labels, 2, &freq) ||
        family(m, RESIL_METRICS_GAUGE, "mcp_http_sessions", "MCP sessions open.", NULL, 0,
               &fsess) ||
        family(m, RESIL_METRICS_GAUGE, "mcp_http_sse_streams",
               "SSE connections open, by kind (post: a call's reply, get: GET streams).",
               kind_label, 1, &fstream))
        return -1;
    for (int r = 0; r < ROUTE_COUNT; r++) {
        for (int k = 0; k < 5; k++) {
            const char *v[] = {route_names[r], class_names[k]};
            if (resil_metrics_counter_get(freq, v, &h->requests[r][k]) != 0)
                return -1;
        }
    }
    if (resil_metrics_gauge_get(fsess, NULL, &h->sessions_gauge) != 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        const char *v[] = {kinds[k]};
        if (resil_metrics_gauge_get(fstream, v, &h->streams_gauge[k]) != 0)
            return -1;
    }
    return resil_metrics_collector_add(m, collect, h, &h->collector_id) == 0 ? 0 : -1;
}

/* ---- start and stop ----------------------------------------------------------------- */

static int parse_listen(const struct config *cfg, struct listen_addr *la, char *err,
                        size_t errlen)
{
    memset(la, 0, sizeof *la);
    if (parse_host_addr(cfg->listen_addr, strlen(cfg->listen_addr), &la->sa) != 0) {
        snprintf(err, errlen,
                 "listen address '%s' is not an IPv4 or IPv6 address (or localhost)",
                 cfg->listen_addr);
        return -1;
    }
    if (cfg->listen_port > 65535) {
        snprintf(err, errlen, "listen port %u is out of range (0..65535)", cfg->listen_port);
        return -1;
    }
    la->v6 = la->sa.ss_family == AF_INET6;
    la->loopback = is_loopback_sa(&la->sa);
    if (la->v6) {
        struct sockaddr_in6 *in6 = (void *)&la->sa;
        in6->sin6_port = htons((uint16_t)cfg->listen_port);
        la->any = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
    } else {
        struct sockaddr_in *in = (void *)&la->sa;
        in->sin_port = htons((uint16_t)cfg->listen_port);
        la->any = in->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    if (!la->loopback && !cfg->auth_token[0]) {
        snprintf(err, errlen,
                 "refusing to listen on %s without an auth token: anyone who can reach the "
                 "port could call the tools; set MCP_AUTH_TOKEN (or http_auth_token in the "
                 "secrets store), or listen on 127.0.0.1",
                 cfg->listen_addr);
        return -1;
    }
    return 0;
}

static unsigned conn_timeout_s(const struct config *cfg)
{
    /* longer than a keepalive period, so an SSE stream is never idle */
    int64_t ka = cfg->sse_keepalive_ms > 0 ? cfg->sse_keepalive_ms : 15000;
    unsigned t = (unsigned)(ka / 1000) + 5;
    return t < HTTP_MIN_TIMEOUT_S ? HTTP_MIN_TIMEOUT_S : t;
}

static struct MHD_Daemon *start_daemon(struct http_server *h)
{
    const struct config *cfg = &h->a->cfg;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (g_listen.v6)
        flags |= MHD_USE_IPv6;
    /* threads inherit this mask: signals stay with main */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    atomic_store(&h->starting, 1);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)cfg->listen_port, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, /* first: it covers the others */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&g_listen.sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_connections ? cfg->max_connections : 256),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, conn_timeout_s(cfg),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    atomic_store(&h->starting, 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d;
}

static struct http_server *server_new(struct app *a)
{
    struct http_server *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->a = a;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return NULL;
    }
    pthread_condattr_t at;
    pthread_condattr_init(&at);
    pthread_condattr_setclock(&at, CLOCK_MONOTONIC); /* sleeps ignore clock steps */
    int rc = pthread_cond_init(&h->cv, &at);
    pthread_condattr_destroy(&at);
    if (rc != 0) {
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    return h;
}

static void server_free(struct http_server *h)
{
    if (h->collector_id)
        resil_metrics_collector_remove(h->a->metrics, h->collector_id);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int http_start(struct app *a, struct http_server **out, unsigned *port, char *err,
               size_t errlen)
{
    *out = NULL;
    if (parse_listen(&a->cfg, &g_listen, err, errlen) != 0)
        return -1;
    struct http_server *h = server_new(a);
    if (!h) {
        snprintf(err, errlen, "out of memory starting the HTTP server");
        return -1;
    }
    h->any_host = g_listen.any;
    unsigned workers = a->cfg.worker_threads ? a->cfg.worker_threads : 16;
    if (pool_new(workers, (size_t)workers * 4, &h->pool) != 0) {
        snprintf(err, errlen, "cannot start %u worker threads", workers);
        goto out_free;
    }
    if (metrics_setup(h) != 0) {
        snprintf(err, errlen, "cannot register the HTTP metrics");
        goto out_pool;
    }
    h->d = start_daemon(h);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", a->cfg.listen_addr,
                 a->cfg.listen_port, h->start_err[0] ? h->start_err : "libmicrohttpd failed");
        goto out_pool;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : a->cfg.listen_port;
    if (http_sweeper_start(h) != 0) {
        snprintf(err, errlen, "cannot start the session sweeper thread");
        goto out_daemon;
    }
    if (port)
        *port = h->port;
    *out = h;
    return 0;
out_daemon:
    MHD_stop_daemon(h->d);
out_pool:
    pool_free(h->pool);
out_free:
    server_free(h);
    return -1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait, at most ms, until the SSE connections of the kinds asked for have
 * ended: POST streams write what the drained calls logged (they end after
 * the response), then every stream writes its retry: before the sockets
 * close. */
static void wait_streams(struct http_server *h, int get_too, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms > 0 ? ms : 0) * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&h->mu);
    while (sse_open_streams(SSE_POST) > 0 || (get_too && sse_open_streams(SSE_GET) > 0))
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&h->mu);
}

/* Order matters: stop taking work, let calls finish (their responses still
 * stream out), cancel what is left, end the streams, join the connection
 * threads (after which nothing can submit to the pool), then the pool. */
void http_stop(struct http_server *h, int64_t grace_ms)
{
    if (!h)
        return;
    int64_t t0 = mono_ms();
    atomic_store(&h->stopping, 1);
    http_sweeper_stop(h);
    MHD_socket lfd = MHD_quiesce_daemon(h->d);
    int drained = pool_drain(h->pool, grace_ms < 0 ? 0 : (long)grace_ms) == 0;
    mcp_wait_inline(h, grace_ms - (mono_ms() - t0)); /* calls outside the pool */
    log_event(drained ? LOG_INFO : LOG_WARN, "http.stopping", "drained", json_boolean(drained),
              "pending", json_integer((json_int_t)pool_pending(h->pool)), NULL);
    mcp_cancel_sessions(h);
    wait_streams(h, 0, grace_ms - (mono_ms() - t0));
    atomic_store(&h->closing_streams, 1);
    sse_wake_all();
    int64_t left = grace_ms - (mono_ms() - t0);
    wait_streams(h, 1, left > HTTP_CLOSE_MS ? left : HTTP_CLOSE_MS);
    MHD_stop_daemon(h->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    pool_free(h->pool);
    sse_forget_server();
    server_free(h);
}
