/* The transports: stdio (one client, lines) and Streamable HTTP
 * (libmicrohttpd: /mcp plus /metrics, /healthz, /livez, /readyz).  Both
 * hand messages to mcp_handle() and run tool calls on worker threads so
 * that a long call never blocks ping, cancellation or other requests. */
#ifndef MCP_TRANSPORT_H
#define MCP_TRANSPORT_H

#include "app.h"

/* Serve MCP on in_fd/out_fd until in_fd reaches EOF or a->stopping is
 * set; then wait (up to cfg.shutdown_grace_ms) for calls in flight,
 * cancel what is left (mcp_cancel_all), and return 0 (or -1 on a read/write error).  One
 * message per line; a line longer than the body limit is answered with a
 * parse error and skipped without buffering it. */
int stdio_serve(struct app *a, int in_fd, int out_fd);

struct http_server;

/* Start listening on cfg.listen_addr:listen_port (0: any; the bound port
 * in *port).  0, or -1 with err (address in use, bad address). */
int http_start(struct app *a, struct http_server **out, unsigned *port, char *err,
               size_t errlen);
/* Stop accepting, drain in-flight calls for up to grace_ms (then cancel
 * them), close streams, free. */
void http_stop(struct http_server *h, int64_t grace_ms);

#endif
