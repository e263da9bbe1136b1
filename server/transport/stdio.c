/* The stdio transport: one client, one message per line on in_fd, one per
 * line on out_fd.
 *
 * The reading thread never waits for a tool: requests that may run long
 * (mcp_method_streams: tools/call) go to a worker pool, everything else
 * (ping, notifications/cancelled, the client's answers to our sampling or
 * elicitation requests, lists) is handled inline.  Writers (the reader and
 * every worker, through the sink) serialise on one mutex so lines never
 * interleave.  A line longer than the body limit is answered with a parse
 * error and skipped as it streams by: it is never held in memory. */
#include "transport/transport.h"

#include "log.h"
#include "mcp/jsonrpc.h"
#include "transport/pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536
/* How often a reader blocked on input looks at a->stopping: a signal that
 * lands just before poll() is seen within this bound. */
#define STOP_POLL_MS 200
#define SERVER_BUSY (-32000)

struct stdio_ctx {
    struct app *a;
    struct session *sess;
    struct pool *pool;
    int out_fd;
    pthread_mutex_t wmu;     /* one writer at a time, whole lines */
    atomic_int broken;       /* out_fd failed (EPIPE...): stop */
    atomic_int closing;      /* shutting down: queued jobs are dropped */
    struct mcp_sink sink;
    struct jsonrpc_limits lim;
    /* Requests queued for a worker and not started yet: a cancellation
     * that arrives before the worker registers the call with the protocol
     * layer must still stop it.  Guarded by qmu. */
    pthread_mutex_t qmu;
    struct stdio_job *queued;
    /* the line being assembled */
    char *line;
    size_t len, cap;
    int discarding;          /* inside an oversize line: skip to '\n' */
};

struct stdio_job {
    struct stdio_ctx *x;
    struct jsonrpc_msg msg;
    int cancelled;           /* guarded by x->qmu */
    struct stdio_job *next;  /* in x->queued until started */
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write msg (stolen) as one line.  0, or -1 once out_fd is broken. */
static int send_line(struct stdio_ctx *x, json_t *msg)
{
    size_t len = 0;
    char *text = jsonrpc_dump(msg, &len);
    int rc = -1;

    json_decref(msg);
    if (text == NULL)
        return -1;
    pthread_mutex_lock(&x->wmu);
    /* relaxed: the flag is only read and written under wmu or as a hint */
    if (!atomic_load_explicit(&x->broken, memory_order_relaxed)) {
        rc = write_all(x->out_fd, text, len) == 0 && write_all(x->out_fd, "\n", 1) == 0
                 ? 0 : -1;
        if (rc != 0) {
            atomic_store_explicit(&x->broken, 1, memory_order_relaxed);
            log_event(LOG_WARN, "stdio.write_failed", "error", json_string(strerror(errno)),
                      NULL);
        }
    }
    pthread_mutex_unlock(&x->wmu);
    free(text);
    return rc;
}

static int sink_send(struct mcp_sink *k, json_t *msg)
{
    return send_line(k->ctx, msg);
}

/* Take j off the queued list; 1 if it was cancelled while queued. */
static int dequeue(struct stdio_ctx *x, struct stdio_job *j)
{
    struct stdio_job **pp;
    int cancelled;

    pthread_mutex_lock(&x->qmu);
    for (pp = &x->queued; *pp != NULL && *pp != j; pp = &(*pp)->next)
        ;
    if (*pp == j)
        *pp = j->next;
    cancelled = j->cancelled;
    pthread_mutex_unlock(&x->qmu);
    return cancelled;
}

/* notifications/cancelled for a request still in the queue: mark it.  The
 * notification also goes to the protocol layer, for a call that started. */
static void cancel_queued(struct stdio_ctx *x, const struct jsonrpc_msg *m)
{
    json_t *id = json_object_get(m->params, "requestId");

    if (id == NULL)
        return;
    pthread_mutex_lock(&x->qmu);
    for (struct stdio_job *j = x->queued; j != NULL; j = j->next)
        if (jsonrpc_id_equal(j->msg.id, id))
            j->cancelled = 1;
    pthread_mutex_unlock(&x->qmu);
}

static void run_job(void *arg)
{
    struct stdio_job *j = arg;
    struct stdio_ctx *x = j->x;
    json_t *resp;
    int cancelled = dequeue(x, j);

    /* acquire: pairs with the release store in stdio_serve's shutdown */
    if (!cancelled && !atomic_load_explicit(&x->closing, memory_order_acquire)) {
        resp = mcp_handle(x->a->mcp, x->sess, &j->msg, &x->sink);
        if (resp != NULL)
            send_line(x, resp);
    }
    jsonrpc_msg_clear(&j->msg);
    free(j);
}

/* A request for a worker; busy or out of memory: answered at once. */
static void submit(struct stdio_ctx *x, struct jsonrpc_msg *m)
{
    struct stdio_job *j = malloc(sizeof(*j));

    if (j != NULL) {
        j->x = x;
        j->msg = *m;
        j->cancelled = 0;
        /* Listed before it can start: run_job always finds it there. */
        pthread_mutex_lock(&x->qmu);
        j->next = x->queued;
        x->queued = j;
        pthread_mutex_unlock(&x->qmu);
        if (pool_submit(x->pool, run_job, j) == 0)
            return;
        dequeue(x, j);
        free(j);
    }
    send_line(x, jsonrpc_errorf(m->id, SERVER_BUSY, json_pack("{s:I}", "worker_threads",
                                                             (json_int_t)x->a->cfg.worker_threads),
                                "server busy: %zu tool calls are running or queued; retry "
                                "shortly", pool_pending(x->pool)));
    jsonrpc_msg_clear(m);
}

static void handle_line(struct stdio_ctx *x, const char *buf, size_t len)
{
    struct jsonrpc_msg m;
    json_t *reply = NULL;

    while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    if (len == 0)
        return; /* blank lines are not messages */
    if (jsonrpc_parse(buf, len, &x->lim, &m, &reply) != 0) {
        if (reply != NULL)
            send_line(x, reply);
        return;
    }
    if (m.kind == JSONRPC_REQUEST && mcp_method_streams(m.method)) {
        submit(x, &m);
        return;
    }
    if (m.kind == JSONRPC_NOTIFICATION && strcmp(m.method, "notifications/cancelled") == 0 &&
        json_is_object(m.params))
        cancel_queued(x, &m);
    reply = mcp_handle(x->a->mcp, x->sess, &m, &x->sink);
    jsonrpc_msg_clear(&m);
    if (reply != NULL)
        send_line(x, reply);
}

static void answer_oversize(struct stdio_ctx *x)
{
    size_t max = x->lim.max_bytes;

    log_event(LOG_WARN, "stdio.oversize", "limit", json_integer((json_int_t)max), NULL);
    send_line(x, jsonrpc_errorf(NULL, JSONRPC_PARSE_ERROR,
                                json_pack("{s:I}", "max_bytes", (json_int_t)max),
                                "message too large: a line over the limit of %zu bytes "
                                "(server.max_body_bytes) was discarded", max));
}

/* Append seg to the line (growing the buffer up to the limit).  -1 when
 * the line would pass the limit. */
static int line_append(struct stdio_ctx *x, const char *seg, size_t n)
{
    if (n > x->lim.max_bytes - x->len)
        return -1;
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        char *nb;

        while (cap < x->len + n)
            cap *= 2;
        if (cap > x->lim.max_bytes)
            cap = x->lim.max_bytes;
        nb = realloc(x->line, cap);
        if (nb == NULL)
            return -1;
        x->line = nb;
        x->cap = cap;
    }
    memcpy(x->line + x->len, seg, n);
    x->len += n;
    return 0;
}

/* Split a chunk into lines: complete ones are handled, the tail kept. */
static void feed(struct stdio_ctx *x, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;

        if (!x->discarding && line_append(x, p, seg) != 0) {
            answer_oversize(x);
            x->len = 0;
            x->discarding = 1;
        }
        if (nl != NULL) {
            if (!x->discarding)
                handle_line(x, x->line ? x->line : "", x->len);
            x->len = 0;
            x->discarding = 0;
            seg++;
        }
        p += seg;
        n -= seg;
    }
}

/* 1 data, 0 EOF, -1 error, 2 stop requested. */
static int wait_input(struct stdio_ctx *x, int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    for (;;) {
        /* relaxed: a flag set by a signal handler, polled */
        if (atomic_load_explicit(&x->a->stopping, memory_order_relaxed) ||
            atomic_load_explicit(&x->broken, memory_order_relaxed))
            return 2;
        int r = poll(&pfd, 1, STOP_POLL_MS);

        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            return 1;
    }
}

static int read_loop(struct stdio_ctx *x, int in_fd)
{
    char *chunk = malloc(READ_CHUNK);
    int rc = 0;

    if (chunk == NULL)
        return -1;
    for (;;) {
        int w = wait_input(x, in_fd);
        ssize_t got;

        if (w != 1) {
            rc = w < 0 ? -1 : 0;
            break;
        }
        got = read(in_fd, chunk, READ_CHUNK);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            log_event(LOG_ERROR, "stdio.read_failed", "error", json_string(strerror(errno)),
                      NULL);
            rc = -1;
            break;
        }
        if (got == 0) {
            /* A last message without its newline still counts. */
            if (!x->discarding && x->len > 0)
                handle_line(x, x->line, x->len);
            log_event(LOG_INFO, "stdio.eof", NULL);
            break;
        }
        feed(x, chunk, (size_t)got);
    }
    free(chunk);
    return rc;
}

static void shutdown_calls(struct stdio_ctx *x)
{
    long grace = (long)x->a->cfg.shutdown_grace_ms;
    size_t n;

    if (pool_drain(x->pool, grace) != 0) {
        /* release: queued jobs that start after this see it and drop */
        atomic_store_explicit(&x->closing, 1, memory_order_release);
        n = mcp_cancel_all(x->a->mcp, x->sess);
        log_event(LOG_WARN, "stdio.shutdown_cancel", "cancelled", json_integer((json_int_t)n),
                  "grace_ms", json_integer(grace), NULL);
    }
    atomic_store_explicit(&x->closing, 1, memory_order_release);
    pool_free(x->pool);
    x->pool = NULL;
}

static int ctx_init(struct stdio_ctx *x, struct app *a, int out_fd)
{
    const struct config *c = &a->cfg;
    unsigned threads = c->worker_threads ? c->worker_threads : 1;

    memset(x, 0, sizeof(*x));
    x->a = a;
    x->out_fd = out_fd;
    x->lim.max_bytes = c->max_body_bytes ? c->max_body_bytes : JSONRPC_DEFAULT_MAX_BYTES;
    x->lim.max_depth = c->max_depth ? c->max_depth : JSONRPC_DEFAULT_MAX_DEPTH;
    x->sink.send = sink_send;
    x->sink.close = NULL;
    x->sink.ctx = x;
    if (pthread_mutex_init(&x->wmu, NULL) != 0)
        return -1;
    if (pthread_mutex_init(&x->qmu, NULL) != 0)
        goto fail_mutex;
    /* Queue room for every call one session may have in flight. */
    if (pool_new(threads, (size_t)c->max_inflight_per_session + threads, &x->pool) != 0)
        goto fail_qmu;
    if (session_create(a->sessions, &x->sess) != 0)
        goto fail_pool;
    return 0;

fail_pool:
    pool_free(x->pool);
fail_qmu:
    pthread_mutex_destroy(&x->qmu);
fail_mutex:
    pthread_mutex_destroy(&x->wmu);
    return -1;
}

int stdio_serve(struct app *a, int in_fd, int out_fd)
{
    struct stdio_ctx x;
    int rc;

    if (a == NULL || a->mcp == NULL || a->sessions == NULL || in_fd < 0 || out_fd < 0)
        return -1;
    /* A client that goes away must not kill us mid-write: EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    if (ctx_init(&x, a, out_fd) != 0) {
        log_event(LOG_ERROR, "stdio.start_failed", "error",
                  json_string("out of memory, thread creation or session creation failed"),
                  NULL);
        return -1;
    }
    log_event(LOG_INFO, "stdio.ready", "worker_threads",
              json_integer(a->cfg.worker_threads), NULL);
    rc = read_loop(&x, in_fd);
    shutdown_calls(&x);
    session_end(a->sessions, x.sess->id, strlen(x.sess->id));
    session_put(a->sessions, x.sess);
    free(x.line);
    pthread_mutex_destroy(&x.qmu);
    pthread_mutex_destroy(&x.wmu);
    if (atomic_load_explicit(&x.broken, memory_order_relaxed))
        rc = -1;
    return rc;
}
