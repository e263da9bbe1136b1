/* The HTTP ceiling for bench/mcp/run.sh: a bare libmicrohttpd server that
 * answers every POST with one constant JSON-RPC tools/call result, the
 * same bytes mcp-server's test_simple_text fixture sends.  No JSON parsing,
 * no session, no tool: what is left is what libmicrohttpd and the kernel
 * cost per request in the threading mode the real server uses.
 *
 *   bare_mhd [--port-file FILE] [--threads N]
 *
 * Listens on 127.0.0.1 on a port the kernel picks and writes that port
 * (decimal, newline) to FILE (default: $MCP_PORT_FILE; neither: stderr
 * only).  Without --threads it runs one thread per connection with an
 * internal polling thread, poll() and an inter-thread channel, as
 * server/transport/http.c does; --threads N
 * uses an internal thread pool of N epoll threads instead.  Exits on
 * SIGTERM or SIGINT, or when stdin reaches EOF (so a script that dies
 * leaves no server behind). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <microhttpd.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What test_simple_text answers, byte for byte the shape a JSON-RPC
 * response to tools/call has.  The id is fixed: the ceiling does not
 * echo ids (an echo would need a parse, which is the server's work). */
static const char k_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\","
    "\"text\":\"This is a simple text response for testing.\"}]}}";

/* Lengthy request bodies are read and dropped: a client still sending
 * when the answer is queued would see a reset. */
struct req {
    size_t seen;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
    struct MHD_Response *resp = cls;
    struct req *r = *con_cls;

    (void)url;
    (void)version;
    (void)data;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*size != 0) {
        r->seen += *size;
        *size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        static char k_405[] = "POST only\n";
        struct MHD_Response *e = MHD_create_response_from_buffer(
            sizeof k_405 - 1, k_405, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result rc;

        if (e == NULL)
            return MHD_NO;
        rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, e);
        MHD_destroy_response(e);
        return rc;
    }
    /* One shared response object: libmicrohttpd reference-counts it under
     * its own lock, so every thread may queue it. */
    return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static int write_port(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;

    /* Written under another name, then renamed: a script polling for the
     * file never reads half a number. */
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "bare_mhd: port file name too long: %s\n", path);
        return -1;
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "bare_mhd: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "bare_mhd: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static struct MHD_Daemon *start(struct MHD_Response *resp, unsigned threads)
{
    struct sockaddr_in sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (threads == 0) {
        /* the flags of server/transport/http.c's start_daemon() */
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC;
        return MHD_start_daemon(flags, 0, NULL, NULL, answer, resp,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                MHD_OPTION_CONNECTION_LIMIT, 1024u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    }
    flags |= MHD_USE_EPOLL;
    return MHD_start_daemon(flags, 0, NULL, NULL, answer, resp,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_LIMIT, 1024u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
}

/* Until a signal or EOF on stdin (a closed stdin counts as EOF). */
static void wait_for_end(void)
{
    char buf[256];

    while (!g_stop) {
        struct pollfd p = { .fd = 0, .events = POLLIN };
        int n = poll(&p, 1, 500);

        if (n < 0 && errno != EINTR)
            return;
        if (n > 0) {
            if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
                return;
            if (read(0, buf, sizeof buf) <= 0)
                return;
        }
    }
}

static int parse_args(int argc, char **argv, const char **port_file, unsigned *threads)
{
    *port_file = getenv("MCP_PORT_FILE");
    *threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            *port_file = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);

            if (*end != '\0' || n > 256) {
                fprintf(stderr, "bare_mhd: --threads wants 0..256, not '%s'\n", argv[i]);
                return -1;
            }
            *threads = (unsigned)n;
        } else {
            fprintf(stderr, "usage: bare_mhd [--port-file FILE] [--threads N]\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *port_file;
    unsigned threads;
    struct MHD_Response *resp;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    int status = 1;

    if (parse_args(argc, argv, &port_file, &threads) != 0)
        return 2;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    resp = MHD_create_response_from_buffer(sizeof k_body - 1, (void *)k_body,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES)
        goto out_resp;
    d = start(resp, threads);
    if (d == NULL) {
        fprintf(stderr, "bare_mhd: cannot start libmicrohttpd on 127.0.0.1\n");
        goto out_resp;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "bare_mhd: cannot read the bound port\n");
        goto out_daemon;
    }
    fprintf(stderr, "bare_mhd: listening on 127.0.0.1:%u (%s)\n", (unsigned)info->port,
            threads ? "thread pool" : "thread per connection");
    if (port_file != NULL && write_port(port_file, info->port) != 0)
        goto out_daemon;
    wait_for_end();
    status = 0;
out_daemon:
    MHD_stop_daemon(d);
out_resp:
    if (resp != NULL)
        MHD_destroy_response(resp);
    return status;
}
