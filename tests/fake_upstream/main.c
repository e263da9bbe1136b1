/* fake-upstream: a TEST FIXTURE, not part of libresil or of mcp-server.
 *
 * The mcp-server tests point every upstream base URL (YouTube Data API v3, YouTube
 * oEmbed, the transcript provider, the OpenAI-compatible chat endpoint) at this
 * program on 127.0.0.1. It answers with canned, byte-stable data (routes.c) and
 * injects faults on demand: latency, error statuses, 429 with Retry-After,
 * connection resets and hangs, for the next N requests or until changed; it counts
 * every request exactly so tests can assert retries (faults.c, the /_control API).
 *
 *   fake-upstream [--bind 127.0.0.1] [--port 0] [--port-file PATH]
 *                 [--exit-on-stdin-eof] [--require-key KEY] [--chat-key KEY]
 *
 * It binds only loopback addresses (127.0.0.0/8 or ::1). Port 0 picks a free
 * port; once listening, the port is written to --port-file atomically (temp file +
 * rename), so a test waits for the file rather than for time; the file is removed
 * on a clean exit. SIGTERM and SIGINT stop it, and so does EOF on stdin with
 * --exit-on-stdin-eof: a test that dies closes the pipe and the fixture follows.
 * Exit status: 0 after a clean stop, 1 when it cannot start, 2 on a usage error.
 *
 * Why libmicrohttpd: mcp-server serves HTTP with it already (so the tests add no
 * dependency), it is a small C library that does the HTTP/1.1 parsing correctly,
 * and its thread-per-connection mode gives each request its own thread, so a
 * latency or hang fault blocks only the connection it was injected into while
 * the test's other requests and the /_control API keep answering.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* pipe2 */
#endif
#include "fake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Limits, explicit rather than MHD's defaults. */
#define MAX_CONNECTIONS 64u        /* tests open a handful at a time */
#define IDLE_TIMEOUT_S 60u         /* an idle keep-alive connection is closed */
#define CONN_MEMORY ((size_t)64 * 1024) /* request line + headers per connection */

struct options {
    const char *bind;
    unsigned port;
    const char *port_file;
    bool exit_on_eof;
    struct fake_config cfg;
};

/* The self-pipe: written by the signal handler (and on stdin EOF), never drained,
 * so main and every latency/hang wait (faults.c) see it readable from then on. */
static int wake_pipe[2] = { -1, -1 };

/* ---- replies ---------------------------------------------------------------- */

enum MHD_Result fake_reply(struct MHD_Connection *c, unsigned status,
                           const char *body, size_t len, const char *ctype,
                           const char *hdr_name, const char *hdr_value)
{
    enum MHD_Result ret = MHD_NO;
    /* MUST_COPY: the caller's buffer dies before MHD sends it. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);

    if (resp == NULL)
        return MHD_NO;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES)
        goto out_destroy;
    if (hdr_name != NULL &&
        MHD_add_response_header(resp, hdr_name, hdr_value) != MHD_YES)
        goto out_destroy;
    ret = MHD_queue_response(c, status, resp);
out_destroy:
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result fake_reply_text(struct MHD_Connection *c, unsigned status,
                                const char *text)
{
    return fake_reply(c, status, text, strlen(text), "text/plain; charset=utf-8",
                      NULL, NULL);
}

enum MHD_Result fake_reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *text;
    enum MHD_Result ret;

    if (j == NULL)
        return fake_reply_text(c, 500, "fake-upstream: could not build the response\n");
    text = json_dumps(j, FAKE_JSON_FLAGS);
    json_decref(j);
    if (text == NULL)
        return fake_reply_text(c, 500, "fake-upstream: out of memory\n");
    ret = fake_reply(c, status, text, strlen(text), "application/json", NULL, NULL);
    free(text);
    return ret;
}

enum MHD_Result fake_reply_method(struct MHD_Connection *c, const char *allow)
{
    static const char msg[] = "Method Not Allowed";

    return fake_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, sizeof msg - 1,
                      "text/plain; charset=utf-8", MHD_HTTP_HEADER_ALLOW, allow);
}

/* Copies in as printable ASCII: what the client sent may not be valid UTF-8, and
 * jansson refuses such strings. */
void fake_printable(const char *in, char *out, size_t outsz)
{
    size_t i = 0;

    for (; in[i] != '\0' && i + 1 < outsz; i++) {
        unsigned char b = (unsigned char)in[i];
        out[i] = (b >= 0x20 && b < 0x7f) ? (char)b : '?';
    }
    out[i] = '\0';
}

static const char *google_status(unsigned code)
{
    switch (code) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 500: return "INTERNAL";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default:  return "UNKNOWN";
    }
}

json_t *fake_google_error(unsigned code, const char *message, const char *reason,
                          const char *location)
{
    json_t *item = json_pack("{s:s, s:s, s:s}", "message", message,
                             "domain", "global", "reason", reason);

    if (item != NULL && location != NULL) {
        json_object_set_new(item, "location", json_string(location));
        json_object_set_new(item, "locationType", json_string("parameter"));
    }
    /* json_pack consumes item ("o") even when it fails. */
    return json_pack("{s:{s:I, s:s, s:[o], s:s}}", "error", "code", (json_int_t)code,
                     "message", message, "errors", item, "status", google_status(code));
}

json_t *fake_openai_error(const char *message, const char *type, const char *param,
                          const char *code)
{
    return json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", message,
                     "type", type, "param", param, "code", code);
}


/* ---- one request ---------------------------------------------------------------- */

/* Per-request state, from the first call of the handler to the completion
 * callback. */
struct req_ctx {
    char *body;
    size_t len, cap;
    bool too_big, oom, control;
    enum fake_service svc;
};

static size_t declared_length(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long n;

    if (v == NULL)
        return 0;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || n > SIZE_MAX)
        return SIZE_MAX;
    return (size_t)n;
}

static enum MHD_Result reply_too_large(struct MHD_Connection *c)
{
    return fake_reply_json(c, MHD_HTTP_CONTENT_TOO_LARGE,
                           json_pack("{s:s}", "error", "request body exceeds 1 MiB"));
}

static void ctx_append(struct req_ctx *ctx, const char *data, size_t n)
{
    size_t cap;
    char *grown;

    if (ctx->too_big || ctx->oom)
        return;
    if (n > FAKE_MAX_BODY - ctx->len) {
        /* Keep reading (and dropping) the body so the 413 reaches the client. */
        ctx->too_big = true;
        return;
    }
    if (ctx->len + n + 1 > ctx->cap) {
        cap = ctx->cap != 0 ? ctx->cap : 4096;
        while (cap < ctx->len + n + 1)
            cap *= 2;
        grown = realloc(ctx->body, cap);
        if (grown == NULL) {
            ctx->oom = true;
            return;
        }
        ctx->body = grown;
        ctx->cap = cap;
    }
    memcpy(ctx->body + ctx->len, data, n);
    ctx->len += n;
    ctx->body[ctx->len] = '\0';
}

/* Counts the request when its headers arrive, so a request that a fault resets or
 * hangs is counted exactly like one that is answered. */
static enum MHD_Result on_first_call(struct MHD_Connection *c, const char *url,
                                     void **con_cls)
{
    struct req_ctx *ctx = calloc(1, sizeof *ctx);

    if (ctx == NULL)
        return MHD_NO;
    *con_cls = ctx;
    ctx->control = strncmp(url, "/_control/", 10) == 0;
    if (!ctx->control) {
        ctx->svc = fake_route_service(url);
        fake_stats_note(ctx->svc, url,
                        MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                            MHD_HTTP_HEADER_AUTHORIZATION) != NULL);
    }
    if (declared_length(c) > FAKE_MAX_BODY)
        return reply_too_large(c);
    return MHD_YES;
}

static enum MHD_Result serve(const struct fake_request *r, enum fake_service svc)
{
    struct fake_fault f;
    bool answered;
    enum MHD_Result ret;

    if (!fake_fault_take(svc, &f))
        return fake_route_dispatch(r);
    ret = fake_fault_apply(r, svc, &f, &answered);
    fake_fault_clear(&f);
    return answered ? ret : fake_route_dispatch(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size,
                                  void **con_cls)
{
    struct req_ctx *ctx = *con_cls;
    struct fake_request r;

    (void)version;
    if (ctx == NULL)
        return on_first_call(c, url, con_cls);
    if (*upload_size != 0) {
        ctx_append(ctx, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (ctx->oom)
        return fake_reply_text(c, 500, "fake-upstream: out of memory\n");
    if (ctx->too_big)
        return reply_too_large(c);
    r = (struct fake_request){ .conn = c, .method = method, .url = url,
                               .body = ctx->body != NULL ? ctx->body : "",
                               .body_len = ctx->len, .cfg = cls };
    return ctx->control ? fake_control_dispatch(&r) : serve(&r, ctx->svc);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *ctx = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (ctx != NULL) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

/* ---- options ---------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: fake-upstream [--bind 127.0.0.1] [--port 0] [--port-file PATH]\n"
          "                     [--exit-on-stdin-eof] [--require-key KEY]"
          " [--chat-key KEY]\n", out);
}

static int parse_port(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > 65535 || s[0] == '-')
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "bind", required_argument, NULL, 'b' },
        { "port", required_argument, NULL, 'p' },
        { "port-file", required_argument, NULL, 'f' },
        { "exit-on-stdin-eof", no_argument, NULL, 'e' },
        { "require-key", required_argument, NULL, 'k' },
        { "chat-key", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;

    *o = (struct options){ .bind = "127.0.0.1" };
    for (;;) {
        opt = getopt_long(argc, argv, "", longopts, NULL);
        if (opt == -1)
            break;
        switch (opt) {
        case 'b': o->bind = optarg; break;
        case 'p':
            if (parse_port(optarg, &o->port) != 0) {
                fprintf(stderr, "fake-upstream: --port: not a port: %s\n", optarg);
                return 2;
            }
            break;
        case 'f': o->port_file = optarg; break;
        case 'e': o->exit_on_eof = true; break;
        case 'k': o->cfg.require_key = optarg; break;
        case 'c': o->cfg.chat_key = optarg; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Fills *ss from a numeric loopback address; anything else is refused, as this
 * fixture must never be reachable from another host. */
static int loopback_addr(const char *s, unsigned port, struct sockaddr_storage *ss,
                         bool *v6)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    *v6 = false;
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            return -1;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1 &&
        IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    return -1;
}

/* ---- running ---------------------------------------------------------------------- */

static void on_signal(int sig)
{
    int saved = errno;
    ssize_t n = write(wake_pipe[1], "x", 1);

    (void)sig;
    (void)n;    /* a full pipe already holds a wake-up */
    errno = saved;
}

static int setup_signals(void)
{
    struct sigaction sa;

    if (pipe2(wake_pipe, O_CLOEXEC) != 0 ||
        fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
        perror("fake-upstream: pipe");
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;    /* a client that leaves mid-answer is not fatal */
    return sigaction(SIGPIPE, &sa, NULL);
}

static struct MHD_Daemon *start_daemon(const struct options *o)
{
    struct sockaddr_storage ss;
    bool v6;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;

    if (loopback_addr(o->bind, o->port, &ss, &v6) != 0) {
        fprintf(stderr, "fake-upstream: --bind %s: not a numeric loopback address "
                "(127.0.0.0/8 or ::1)\n", o->bind);
        return NULL;
    }
    if (v6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request,
                            (void *)&o->cfg,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_END);
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[PATH_MAX], text[16];
    int fd, len, n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    len = snprintf(text, sizeof text, "%u\n", port);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write(fd, text, (size_t)len) != len) {
        close(fd);
        goto out_unlink;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0)
        goto out_unlink;
    return 0;
out_unlink:
    unlink(tmp);
    return -1;
}

/* Blocks until a signal, or EOF on stdin when asked to watch it. */
static void wait_for_stop(bool watch_stdin)
{
    struct pollfd p[2] = { { .fd = wake_pipe[0], .events = POLLIN },
                           { .fd = STDIN_FILENO, .events = POLLIN } };
    char buf[512];

    for (;;) {
        int rc = poll(p, watch_stdin ? 2 : 1, -1);
        ssize_t n;

        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || p[0].revents != 0)
            return;
        if (!watch_stdin || p[1].revents == 0)
            continue;
        n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return;
    }
}

static unsigned bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

    return info != NULL ? info->port : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct MHD_Daemon *d;
    unsigned port;
    int rc = parse_options(argc, argv, &o);

    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (setup_signals() != 0)
        return 1;
    fake_state_init(wake_pipe[0]);
    d = start_daemon(&o);
    if (d == NULL) {
        fprintf(stderr, "fake-upstream: cannot listen on %s port %u\n", o.bind, o.port);
        return 1;
    }
    port = bound_port(d);
    if (port == 0 || (o.port_file != NULL && write_port_file(o.port_file, port) != 0)) {
        fprintf(stderr, "fake-upstream: cannot write the port file %s\n",
                o.port_file != NULL ? o.port_file : "(none)");
        rc = 1;
        goto out_stop;
    }
    fprintf(stderr, "{\"level\":\"info\",\"msg\":\"listening\",\"bind\":\"%s\","
            "\"port\":%u}\n", o.bind, port);
    wait_for_stop(o.exit_on_eof);
out_stop:
    on_signal(0);    /* wakes every latency and hang wait, so the stop is quick */
    MHD_stop_daemon(d);
    if (rc == 0 && o.port_file != NULL)
        unlink(o.port_file);
    fake_state_destroy();
    return rc;
}
