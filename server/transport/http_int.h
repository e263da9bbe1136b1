/* Private to the Streamable HTTP transport: http.c (daemon, routing, the
 * checks every request passes, /metrics and health), http_mcp.c (the /mcp
 * endpoint: POST, GET, DELETE, sessions) and sse.c (SSE streams and the
 * per-session event log used for resumption).
 *
 * Threads: libmicrohttpd runs one thread per connection
 * (MHD_USE_THREAD_PER_CONNECTION), so a handler may block: requests that
 * need no live stream (mcp_request_streams false: every tools/call without
 * a progressToken of a tool that is not MCP_TOOL_INTERACTIVE, and every
 * other method) run mcp_handle() inline, their few messages buffered ahead
 * of the response; the others run on the worker pool and their connection
 * thread blocks in the SSE reader (a condvar with a timeout, for
 * keepalives) until the call sends something.  One more thread sweeps
 * idle sessions. */
#ifndef MCP_HTTP_INT_H
#define MCP_HTTP_INT_H

#include "app.h"
#include "transport/pool.h"
#include "transport/transport.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

enum http_route {
    ROUTE_MCP = 0,
    ROUTE_METRICS,
    ROUTE_HEALTHZ,
    ROUTE_LIVEZ,
    ROUTE_READYZ,
    ROUTE_OTHER,
    ROUTE_COUNT,
};

enum sse_kind { SSE_POST = 0, SSE_GET = 1 };

struct http_server {
    struct app *a;
    struct MHD_Daemon *d;
    struct pool *pool;
    unsigned port;
    int any_host;                /* wildcard listen address: Host not checked */
    char listen_host[64];        /* the listen address as a Host may name it */
    atomic_int stopping;         /* new requests are refused */
    atomic_int closing_streams;  /* SSE readers end once their log is sent */
    atomic_int inline_calls;     /* requests running in connection threads */
    /* idle-session sweeper */
    pthread_t sweeper;
    int sweeper_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* metrics (series looked up once at start) */
    resil_metrics_counter *requests[ROUTE_COUNT][5]; /* 1xx..5xx */
    resil_metrics_gauge *sessions_gauge;
    resil_metrics_gauge *streams_gauge[2];          /* enum sse_kind */
    uint64_t collector_id;
    atomic_int starting;         /* MHD errors go to start_err */
    char start_err[256];         /* the last MHD error while starting */
};

/* What one HTTP request carries between the access handler's calls. */
struct http_req {
    enum http_route route;
    int err_status;              /* a check failed: answer this at the end */
    int err_code;                /* JSON-RPC code of that answer */
    char err_msg[320];
    int unauthorized;            /* 401: add WWW-Authenticate */
    char *body;
    size_t len, cap;
    int too_big;
    int answered;
};

/* ---- http.c: answers --------------------------------------------------- */

/* Add the security headers every answer carries. */
void http_add_security_headers(struct MHD_Response *r);
/* Queue r with status (counts it in the metrics), then destroy r. */
enum MHD_Result http_queue(struct http_server *h, struct MHD_Connection *c,
                           enum http_route route, unsigned status, struct MHD_Response *r);
/* Queue a body (copied) of type ctype. */
enum MHD_Result http_reply(struct http_server *h, struct MHD_Connection *c,
                           enum http_route route, unsigned status, const char *ctype,
                           const char *body, size_t len);
/* Queue a JSON-RPC message (id may be NULL) as application/json; steals msg. */
enum MHD_Result http_reply_json(struct http_server *h, struct MHD_Connection *c,
                                enum http_route route, unsigned status, json_t *msg,
                                const char *session_id);
/* Queue a JSON-RPC error with a printf-style message. */
enum MHD_Result http_reply_error(struct http_server *h, struct MHD_Connection *c,
                                 enum http_route route, unsigned status, json_t *id, int code,
                                 const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Header value or NULL. */
const char *http_header(struct MHD_Connection *c, const char *name);
/* Whether a comma-separated media-type list (Accept) names type. */
int http_accepts(const char *accept, const char *type);

/* ---- http_mcp.c: the /mcp endpoint -------------------------------------- */

/* Checks of /mcp that need only the headers (method, protocol version,
 * Accept, Content-Type); fills q->err_* when one fails. */
void mcp_check_headers(struct http_server *h, struct MHD_Connection *c, const char *method,
                       struct http_req *q);
/* Answer a /mcp request whose body (if any) has been received. */
enum MHD_Result mcp_dispatch(struct http_server *h, struct MHD_Connection *c,
                             const char *method, struct http_req *q);
/* Shutdown: cancel the calls of every HTTP session. */
void mcp_cancel_sessions(struct http_server *h);
/* Shutdown: wait, at most ms, until no request runs inline (in a
 * connection thread, outside the pool). */
void mcp_wait_inline(struct http_server *h, int64_t ms);
/* The thread expiring idle sessions (session_table_sweep): start, and
 * stop (after h->stopping is set). */
int http_sweeper_start(struct http_server *h);
void http_sweeper_stop(struct http_server *h);

/* ---- sse.c: streams and the event log ------------------------------------ */

struct sse_sess;   /* per session (session->transport) */
struct sse_stream; /* one logical stream: the GET stream (0) or a POST call */

/* Attach fresh transport state to a session nobody else sees yet (just
 * created).  0, or -1 out of memory. */
int sse_sess_attach(struct http_server *h, struct session *s);
/* The session's state (NULL when the session was not made by HTTP). */
struct sse_sess *sse_sess_of(struct session *s);

/* A new POST stream for a call; the call holds it until sse_stream_finish. */
struct sse_stream *sse_stream_new(struct sse_sess *ss);
/* Log a message on the stream (steals msg).  0, or -1 when the session is
 * ending or the server stopping (the message is dropped). */
int sse_send(struct sse_sess *ss, struct sse_stream *st, json_t *msg);
/* End the stream's current connection (after what is logged so far, with
 * retry:); later messages wait in the log for a GET with Last-Event-ID. */
void sse_close(struct sse_sess *ss, struct sse_stream *st);
/* The call is over: log its response (stolen; NULL: none) as the stream's
 * last event and release the call's hold on the stream. */
void sse_stream_finish(struct sse_sess *ss, struct sse_stream *st, json_t *response);

/* A call that ran inline and sent msgs (a JSON array of notifications)
 * before its response: log them as a finished stream of the session
 * (ids in its id space, so Last-Event-ID resumption works as for a live
 * stream) and build the whole SSE body, priming event first (malloc'd,
 * *len bytes).  Steals response.  NULL out of memory. */
char *sse_inline_body(struct sse_sess *ss, json_t *msgs, json_t *response, size_t *len);

/* An SSE response for a POST stream, the connection attached to it.  NULL
 * out of memory. */
struct MHD_Response *sse_response_post(struct http_server *h, struct session *s,
                                       struct sse_stream *st);
/* A GET: the standalone stream (last_event_id NULL) or a resumption.  0
 * with *out, or an HTTP status (400, 409) with err saying why. */
int sse_response_get(struct http_server *h, struct session *s, const char *last_event_id,
                     struct MHD_Response **out, char *err, size_t errlen);

/* The session is ending (DELETE): its streams end now. */
void sse_sess_end(struct sse_sess *ss);
/* Server stopping: wake every reader so it ends its stream. */
void sse_wake_all(void);
/* Forget h in every session still holding state (the sessions outlive the
 * server; their state is freed with them). */
void sse_forget_server(void);
/* Copy the ids of the sessions holding state (at most max); returns how
 * many. */
size_t sse_session_ids(char (*ids)[SESSION_ID_LEN + 1], size_t max);
/* Open SSE connections of a kind (for the gauge). */
long sse_open_streams(enum sse_kind k);

#endif
