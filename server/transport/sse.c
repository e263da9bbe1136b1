/* SSE streams of the Streamable HTTP transport and the per-session event
 * log that makes them resumable (MCP 2025-11-25, "Resumability and
 * Redelivery"; SEP-1699 for server-side disconnects).
 *
 * Every message a call sends, and its response, waits in its stream's own
 * queue of undelivered events until a connection attached to the stream
 * writes it; only then does it move to the session's replay log.  So an
 * event nobody has received is never dropped (a bounded log shared by
 * every stream of a busy session used to evict responses not yet sent),
 * and a connection that breaks, or that the call closes on purpose
 * (sse_close), loses nothing: the client reconnects with GET and
 * Last-Event-ID and a new connection replays the stream's delivered
 * events after that id from the log, then its queue.  The queue is bounded
 * per stream (SSE_STREAM_MAX_BYTES: past it the stream fails, logged, and
 * its response becomes an error) and per session (max_inflight x that:
 * queues of finished calls whose client went away are dropped first); the
 * log by count (cfg.event_buffer) and bytes (SSE_LOG_MAX_BYTES), oldest
 * first, which only limits how far back a resumption can go.
 *
 * Event ids are "<stream>-<seq>": seq counts events of the whole session
 * (so ids are unique per session and ordered), stream says which stream
 * the event belongs to, so a resumption replays that stream's events and
 * never another's.  Stream 0 is the standalone GET stream; POST streams
 * are 1, 2, ...  A POST stream's priming event takes a seq before any of
 * the call's events, so resuming from it replays everything.
 *
 * Locking: one mutex and condvar per session (readers of all its streams
 * wait on it); the registry of sessions holding state has its own mutex,
 * taken before a session's, never after. */
#include "transport/http_int.h"

#include "log.h"
#include "mcp/jsonrpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bytes of event text a session keeps; past it the oldest events go even
 * when fewer than cfg.event_buffer are kept. */
#define SSE_LOG_MAX_BYTES ((size_t)8 << 20)
/* MHD asks for at most this much per reader call. */
#define SSE_BLOCK_SIZE (16u * 1024u)
/* Undelivered event text one stream may hold (a call's notifications
 * while no connection reads them); the response itself is always kept. */
#define SSE_STREAM_MAX_BYTES ((size_t)4 << 20)

struct sse_event {
    uint64_t seq;
    unsigned stream;
    char *text; /* one line of JSON */
    size_t len;
};

/* An event not delivered yet, in its stream's queue. */
struct sse_pend {
    struct sse_event ev;
    struct sse_pend *next;
};

struct sse_conn;

struct sse_stream {
    unsigned no;
    int running;           /* the call still holds it */
    int done;              /* the call is over */
    uint64_t prime_seq;    /* POST: the id of its priming event */
    uint64_t final_seq;    /* the response's event; 0 none (yet) */
    uint64_t last_seq;     /* the last event logged */
    uint64_t dropped_upto; /* the newest of its events the log dropped */
    size_t nlogged;        /* its events in the log */
    struct sse_pend *pend, *pend_tail; /* undelivered, in seq order */
    size_t pend_bytes;
    int failed;            /* its queue overflowed: notifications dropped */
    struct sse_conn *conn; /* the connection delivering it, or NULL */
    struct sse_stream *next;
};

struct sse_sess {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change: new event, close, end, stop */
    char id[SESSION_ID_LEN + 1];
    int ended;
    uint64_t next_seq;
    unsigned next_stream;
    struct sse_stream *streams;
    struct sse_event *log; /* ring, allocated on first use */
    size_t cap, head, count, bytes;
    size_t pend_bytes, pend_max; /* undelivered bytes of all its streams */
    int64_t keepalive_ns;
    int64_t retry_ms;
    int registered;        /* guarded by g_reg_mu */
    struct sse_sess *prev, *next;
};

struct sse_conn {
    struct http_server *h;
    struct session *s; /* a reference, held while the connection lives */
    struct sse_sess *ss;
    struct sse_stream *st; /* NULL once another connection took over */
    enum sse_kind kind;
    uint64_t delivered;    /* the last seq written */
    int close_req;         /* sse_close: end after close_at */
    uint64_t close_at;
    int ending;            /* end once out is written */
    int need_touch;        /* refresh the session's idle timer */
    int64_t keepalive_at;  /* monotonic ns */
    char *out;
    size_t out_len, out_off, out_cap;
};

static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sse_sess *g_reg;
/* relaxed: a gauge read at export; exactness at an instant is not needed */
static atomic_long g_open[2];

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the registry -------------------------------------------------------- */

static void reg_add(struct sse_sess *ss)
{
    pthread_mutex_lock(&g_reg_mu);
    ss->next = g_reg;
    ss->prev = NULL;
    if (g_reg)
        g_reg->prev = ss;
    g_reg = ss;
    ss->registered = 1;
    pthread_mutex_unlock(&g_reg_mu);
}

static void reg_remove(struct sse_sess *ss)
{
    pthread_mutex_lock(&g_reg_mu);
    if (ss->registered) {
        if (ss->prev)
            ss->prev->next = ss->next;
        else
            g_reg = ss->next;
        if (ss->next)
            ss->next->prev = ss->prev;
        ss->registered = 0;
    }
    pthread_mutex_unlock(&g_reg_mu);
}

void sse_forget_server(void)
{
    pthread_mutex_lock(&g_reg_mu);
    for (struct sse_sess *ss = g_reg; ss; ss = ss->next)
        ss->registered = 0;
    g_reg = NULL;
    pthread_mutex_unlock(&g_reg_mu);
}

void sse_wake_all(void)
{
    pthread_mutex_lock(&g_reg_mu);
    for (struct sse_sess *ss = g_reg; ss; ss = ss->next) {
        pthread_mutex_lock(&ss->mu);
        pthread_cond_broadcast(&ss->cv);
        pthread_mutex_unlock(&ss->mu);
    }
    pthread_mutex_unlock(&g_reg_mu);
}

size_t sse_session_ids(char (*ids)[SESSION_ID_LEN + 1], size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&g_reg_mu);
    for (struct sse_sess *ss = g_reg; ss && n < max; ss = ss->next)
        memcpy(ids[n++], ss->id, sizeof ss->id);
    pthread_mutex_unlock(&g_reg_mu);
    return n;
}

long sse_open_streams(enum sse_kind k)
{
    return atomic_load_explicit(&g_open[k], memory_order_relaxed);
}

/* ---- session state ------------------------------------------------------- */

/* Drop a stream's undelivered events.  Caller holds ss->mu (or is the
 * last owner). */
static void pend_clear(struct sse_sess *ss, struct sse_stream *st)
{
    while (st->pend) {
        struct sse_pend *p = st->pend;
        st->pend = p->next;
        st->dropped_upto = p->ev.seq;
        ss->pend_bytes -= p->ev.len;
        free(p->ev.text);
        free(p);
    }
    st->pend_tail = NULL;
    st->pend_bytes = 0;
}

static void sse_sess_free(void *p)
{
    struct sse_sess *ss = p;
    if (!ss)
        return;
    reg_remove(ss);
    for (size_t i = 0; i < ss->count; i++)
        free(ss->log[(ss->head + i) % ss->cap].text);
    free(ss->log);
    while (ss->streams) {
        struct sse_stream *st = ss->streams;
        ss->streams = st->next;
        pend_clear(ss, st);
        free(st);
    }
    pthread_cond_destroy(&ss->cv);
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

static int cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t at;
    if (pthread_condattr_init(&at) != 0)
        return -1;
    /* monotonic: keepalive deadlines must not jump with the wall clock */
    int rc = pthread_condattr_setclock(&at, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &at);
    pthread_condattr_destroy(&at);
    return rc == 0 ? 0 : -1;
}

int sse_sess_attach(struct http_server *h, struct session *s)
{
    struct sse_sess *ss = calloc(1, sizeof *ss);
    if (!ss)
        return -1;
    if (pthread_mutex_init(&ss->mu, NULL) != 0)
        goto out_free;
    if (cond_init_monotonic(&ss->cv) != 0)
        goto out_mutex;
    memcpy(ss->id, s->id, sizeof ss->id);
    ss->next_seq = 1;
    ss->next_stream = 1;
    ss->cap = h->a->cfg.event_buffer ? h->a->cfg.event_buffer : 256;
    unsigned inflight = h->a->cfg.max_inflight_per_session;
    ss->pend_max = (size_t)(inflight ? inflight : 16) * SSE_STREAM_MAX_BYTES;
    int64_t ka = h->a->cfg.sse_keepalive_ms > 0 ? h->a->cfg.sse_keepalive_ms : 15000;
    ss->keepalive_ns = ka * 1000000;
    ss->retry_ms = h->a->cfg.sse_retry_ms > 0 ? h->a->cfg.sse_retry_ms : 1000;
    s->transport = ss;
    s->transport_free = sse_sess_free;
    reg_add(ss);
    return 0;
out_mutex:
    pthread_mutex_destroy(&ss->mu);
out_free:
    free(ss);
    return -1;
}

struct sse_sess *sse_sess_of(struct session *s)
{
    return s && s->transport_free == sse_sess_free ? s->transport : NULL;
}

void sse_sess_end(struct sse_sess *ss)
{
    if (!ss)
        return;
    pthread_mutex_lock(&ss->mu);
    ss->ended = 1;
    pthread_cond_broadcast(&ss->cv);
    pthread_mutex_unlock(&ss->mu);
}

/* ---- streams and the log ------------------------------------------------- */

static struct sse_stream *stream_find(struct sse_sess *ss, unsigned no)
{
    for (struct sse_stream *st = ss->streams; st; st = st->next)
        if (st->no == no)
            return st;
    return NULL;
}

/* Free a stream nobody can read from any more: no call, no connection,
 * nothing left in the log.  (Stream 0 lives as long as the session.) */
static void stream_maybe_prune(struct sse_sess *ss, struct sse_stream *st)
{
    if (st->no == 0 || st->running || st->conn || st->nlogged > 0 || st->pend)
        return;
    for (struct sse_stream **link = &ss->streams; *link; link = &(*link)->next) {
        if (*link == st) {
            *link = st->next;
            free(st);
            return;
        }
    }
}

static int log_ready(struct sse_sess *ss)
{
    if (!ss->log)
        ss->log = calloc(ss->cap, sizeof *ss->log);
    return ss->log ? 0 : -1;
}

static void log_evict_oldest(struct sse_sess *ss)
{
    struct sse_event *e = &ss->log[ss->head];
    struct sse_stream *st = stream_find(ss, e->stream);
    ss->bytes -= e->len;
    free(e->text);
    e->text = NULL;
    ss->head = (ss->head + 1) % ss->cap;
    ss->count--;
    if (st) {
        st->nlogged--;
        st->dropped_upto = e->seq;
        stream_maybe_prune(ss, st);
    }
}

/* Put a delivered event (its text taken) in the replay log: what it
 * evicts was delivered too, so only how far back a resumption can go
 * shrinks.  The log exists (log_ready at enqueue). */
static void log_append(struct sse_sess *ss, struct sse_stream *st, const struct sse_event *ev)
{
    while (ss->count > 0 && (ss->count == ss->cap || ss->bytes + ev->len > SSE_LOG_MAX_BYTES))
        log_evict_oldest(ss);
    ss->log[(ss->head + ss->count) % ss->cap] = *ev;
    ss->count++;
    ss->bytes += ev->len;
    st->nlogged++;
}

/* Drop the queues of finished streams no connection reads (their client
 * went away) until want more bytes fit the session's bound.  Caller holds
 * ss->mu. */
static void pend_make_room(struct sse_sess *ss, size_t want)
{
    for (struct sse_stream *st = ss->streams; st && ss->pend_bytes + want > ss->pend_max;) {
        struct sse_stream *next = st->next;
        if (st->done && !st->conn && st->pend) {
            log_event(LOG_WARN, "http.sse_orphan_dropped", "stream", json_integer(st->no),
                      "bytes", json_integer((json_int_t)st->pend_bytes), NULL);
            pend_clear(ss, st);
            stream_maybe_prune(ss, st);
        }
        st = next;
    }
}

/* Queue text (taken) as the stream's next undelivered event; its seq, or
 * 0 when it does not fit (the stream's or the session's bound) and
 * !force.  Caller holds ss->mu. */
static uint64_t pend_push(struct sse_sess *ss, struct sse_stream *st, char *text, size_t len,
                          int force)
{
    if (!force && (st->failed || st->pend_bytes + len > SSE_STREAM_MAX_BYTES))
        return 0;
    pend_make_room(ss, len);
    if (!force && ss->pend_bytes + len > ss->pend_max)
        return 0;
    struct sse_pend *p = malloc(sizeof *p);
    if (!p || log_ready(ss) != 0) {
        free(p);
        return 0;
    }
    p->ev = (struct sse_event){.seq = ss->next_seq++, .stream = st->no, .text = text,
                               .len = len};
    p->next = NULL;
    if (st->pend_tail)
        st->pend_tail->next = p;
    else
        st->pend = p;
    st->pend_tail = p;
    st->pend_bytes += len;
    ss->pend_bytes += len;
    st->last_seq = p->ev.seq;
    return p->ev.seq;
}


struct sse_stream *sse_stream_new(struct sse_sess *ss)
{
    struct sse_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    pthread_mutex_lock(&ss->mu);
    st->no = ss->next_stream++;
    st->running = 1;
    st->prime_seq = ss->next_seq++;
    st->next = ss->streams;
    ss->streams = st;
    pthread_mutex_unlock(&ss->mu);
    return st;
}

int sse_send(struct sse_sess *ss, struct sse_stream *st, json_t *msg)
{
    size_t len = 0;
    char *text = msg ? jsonrpc_dump(msg, &len) : NULL;
    json_decref(msg);
    if (!text)
        return -1;
    pthread_mutex_lock(&ss->mu);
    int ok = !ss->ended && pend_push(ss, st, text, len, 0) != 0;
    if (ok) {
        text = NULL;
        pthread_cond_broadcast(&ss->cv);
    } else if (!ss->ended && !st->failed) {
        st->failed = 1;
        log_event(LOG_ERROR, "http.sse_stream_overflow", "stream", json_integer(st->no),
                  "undelivered_bytes", json_integer((json_int_t)st->pend_bytes),
                  "limit", json_integer((json_int_t)SSE_STREAM_MAX_BYTES), NULL);
    }
    pthread_mutex_unlock(&ss->mu);
    free(text);
    return ok ? 0 : -1;
}

void sse_close(struct sse_sess *ss, struct sse_stream *st)
{
    pthread_mutex_lock(&ss->mu);
    if (st->conn) {
        st->conn->close_req = 1;
        st->conn->close_at = st->last_seq;
        pthread_cond_broadcast(&ss->cv);
    }
    pthread_mutex_unlock(&ss->mu);
}

/* The client must not take a response for complete when messages of the
 * call were dropped: answer an error instead. */
static json_t *failed_response(json_t *response)
{
    json_t *id = json_object_get(response, "id");
    json_t *err = jsonrpc_error(id, JSONRPC_INTERNAL_ERROR,
                                "the call's messages overflowed its stream (more undelivered "
                                "than the per-stream limit while no connection read them)",
                                NULL);
    json_decref(response);
    return err;
}

void sse_stream_finish(struct sse_sess *ss, struct sse_stream *st, json_t *response)
{
    pthread_mutex_lock(&ss->mu);
    int failed = st->failed;
    pthread_mutex_unlock(&ss->mu);
    if (failed && response)
        response = failed_response(response);
    size_t len = 0;
    char *text = response ? jsonrpc_dump(response, &len) : NULL;
    json_decref(response);
    pthread_mutex_lock(&ss->mu);
    if (text && !ss->ended) {
        st->final_seq = pend_push(ss, st, text, len, 1);
        if (st->final_seq)
            text = NULL;
    }
    st->running = 0;
    st->done = 1;
    pthread_cond_broadcast(&ss->cv);
    stream_maybe_prune(ss, st);
    pthread_mutex_unlock(&ss->mu);
    free(text);
}

/* ---- connections ----------------------------------------------------------- */

static int out_printf(struct sse_conn *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append to the connection's output buffer. */
static int out_printf(struct sse_conn *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    size_t need = k->out_len + (size_t)n + 1;
    if (need > k->out_cap) {
        size_t cap = k->out_cap ? k->out_cap : 256;
        while (cap < need)
            cap *= 2;
        char *p = realloc(k->out, cap);
        if (!p)
            return -1;
        k->out = p;
        k->out_cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(k->out + k->out_len, k->out_cap - k->out_len, fmt, ap);
    va_end(ap);
    k->out_len += (size_t)n;
    return 0;
}

/* First event matching the stream after `after`, at most `upto`. */
static const struct sse_event *log_next(const struct sse_sess *ss, unsigned no, uint64_t after,
                                        uint64_t upto)
{
    for (size_t i = 0; i < ss->count; i++) {
        const struct sse_event *e = &ss->log[(ss->head + i) % ss->cap];
        if (e->stream == no && e->seq > after)
            return e->seq <= upto ? e : NULL;
    }
    return NULL;
}

static int deliver(struct sse_conn *k, const struct sse_event *e)
{
    k->delivered = e->seq;
    if (e->seq == k->st->final_seq)
        k->ending = 1;
    return out_printf(k, "id: %u-%" PRIu64 "\ndata: %s\n\n", e->stream, e->seq, e->text);
}

/* Write the stream's oldest undelivered event, then move it to the replay
 * log.  Caller holds ss->mu. */
static int deliver_pending(struct sse_conn *k)
{
    struct sse_sess *ss = k->ss;
    struct sse_stream *st = k->st;
    struct sse_pend *p = st->pend;
    int rc = deliver(k, &p->ev);
    st->pend = p->next;
    if (!st->pend)
        st->pend_tail = NULL;
    st->pend_bytes -= p->ev.len;
    ss->pend_bytes -= p->ev.len;
    log_append(ss, st, &p->ev);
    free(p);
    return rc;
}

/* "retry:" then the end: the client may come back with Last-Event-ID. */
static int say_retry_end(struct sse_conn *k)
{
    k->ending = 1;
    return out_printf(k, "retry: %" PRId64 "\n\n", k->ss->retry_ms);
}

static void wait_or_keepalive(struct sse_conn *k)
{
    int64_t now = mono_ns();
    if (now >= k->keepalive_at) {
        out_printf(k, ": keepalive\n\n");
        k->need_touch = 1;
        return;
    }
    struct timespec ts = {.tv_sec = k->keepalive_at / 1000000000,
                          .tv_nsec = k->keepalive_at % 1000000000};
    pthread_cond_timedwait(&k->ss->cv, &k->ss->mu, &ts);
}

/* Fill k->out with what to write next, waiting for it; 0, or -1 to end
 * the stream with nothing more written.  Caller holds ss->mu. */
static int produce_locked(struct sse_conn *k)
{
    struct sse_sess *ss = k->ss;
    while (k->out_len == 0) {
        if (ss->ended || !k->st)
            return -1;
        struct sse_stream *st = k->st;
        if (st->dropped_upto > k->delivered) {
            log_event(LOG_WARN, "http.sse_events_lost", "stream", json_integer(st->no),
                      "event_buffer", json_integer((json_int_t)ss->cap), NULL);
            return say_retry_end(k);
        }
        uint64_t upto = k->close_req ? k->close_at : UINT64_MAX;
        const struct sse_event *e = log_next(ss, st->no, k->delivered, upto);
        if (e)
            return deliver(k, e);
        if (st->pend && st->pend->ev.seq > k->delivered && st->pend->ev.seq <= upto)
            return deliver_pending(k);
        /* stopping: what the calls logged while draining goes out first */
        if (k->close_req || atomic_load(&k->h->closing_streams))
            return say_retry_end(k);
        if (st->done)
            return -1;
        wait_or_keepalive(k);
    }
    return 0;
}

/* Mark the session seen (an open stream is activity); end the stream if
 * the session was deleted or expired meanwhile. */
static void touch_session(struct sse_conn *k)
{
    struct session *s = NULL;
    if (session_get(k->h->a->sessions, k->s->id, SESSION_ID_LEN, &s) == SESSION_FOUND)
        session_put(k->h->a->sessions, s);
    else
        k->ending = 1;
}

static ssize_t conn_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse_conn *k = cls;
    (void)pos;
    if (k->out_off == k->out_len) {
        if (k->ending)
            return MHD_CONTENT_READER_END_OF_STREAM;
        k->out_len = k->out_off = 0;
        pthread_mutex_lock(&k->ss->mu);
        int rc = produce_locked(k);
        pthread_mutex_unlock(&k->ss->mu);
        k->keepalive_at = mono_ns() + k->ss->keepalive_ns;
        if (k->need_touch) {
            k->need_touch = 0;
            touch_session(k);
        }
        if (rc != 0 || k->out_len == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = k->out_len - k->out_off;
    if (n > max)
        n = max;
    memcpy(buf, k->out + k->out_off, n);
    k->out_off += n;
    return (ssize_t)n;
}

static void conn_free(void *cls)
{
    struct sse_conn *k = cls;
    struct sse_sess *ss = k->ss;
    pthread_mutex_lock(&ss->mu);
    if (k->st && k->st->conn == k) {
        k->st->conn = NULL;
        stream_maybe_prune(ss, k->st);
    }
    pthread_mutex_unlock(&ss->mu);
    atomic_fetch_sub_explicit(&g_open[k->kind], 1, memory_order_relaxed);
    if (atomic_load(&k->h->stopping)) { /* http_stop waits for the POST streams */
        pthread_mutex_lock(&k->h->mu);
        pthread_cond_broadcast(&k->h->cv);
        pthread_mutex_unlock(&k->h->mu);
    }
    session_put(k->h->a->sessions, k->s);
    free(k->out);
    free(k);
}

/* Attach k to st, taking the stream over from a connection still on it
 * (a client that reconnects knows its old connection is dead before we
 * do).  Caller holds ss->mu. */
static void attach_locked(struct sse_conn *k, struct sse_stream *st)
{
    if (st->conn) {
        st->conn->st = NULL;
        pthread_cond_broadcast(&k->ss->cv);
    }
    st->conn = k;
    k->st = st;
}

static struct sse_conn *conn_new(struct http_server *h, struct session *s, enum sse_kind kind)
{
    struct sse_conn *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->h = h;
    k->s = s;
    k->ss = sse_sess_of(s);
    k->kind = kind;
    return k;
}

/* Wrap k in an MHD response; on failure k is freed (and detached). */
static struct MHD_Response *conn_response(struct sse_conn *k)
{
    atomic_fetch_add_explicit(&g_open[k->kind], 1, memory_order_relaxed);
    k->keepalive_at = mono_ns() + k->ss->keepalive_ns;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE, conn_read, k,
                                          conn_free);
    if (!r) {
        conn_free(k);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    http_add_security_headers(r);
    return r;
}

struct MHD_Response *sse_response_post(struct http_server *h, struct session *s,
                                       struct sse_stream *st)
{
    struct sse_conn *k = conn_new(h, s, SSE_POST);
    if (!k) {
        session_put(h->a->sessions, s);
        return NULL;
    }
    pthread_mutex_lock(&k->ss->mu);
    attach_locked(k, st);
    k->delivered = st->prime_seq;
    pthread_mutex_unlock(&k->ss->mu);
    /* the priming event: an id to resume from before anything else */
    if (out_printf(k, "id: %u-%" PRIu64 "\nretry: %" PRId64 "\ndata: \n\n", st->no,
                   st->prime_seq, k->ss->retry_ms) != 0) {
        atomic_fetch_add_explicit(&g_open[k->kind], 1, memory_order_relaxed);
        conn_free(k);
        return NULL;
    }
    return conn_response(k);
}

/* "<stream>-<seq>", both decimal; 0 or -1. */
static int parse_event_id(const char *v, unsigned *stream, uint64_t *seq)
{
    char *end = NULL;
    if (!v || *v < '0' || *v > '9')
        return -1;
    errno = 0;
    unsigned long no = strtoul(v, &end, 10);
    if (errno || *end != '-' || no > 0xffffffffu || end[1] < '0' || end[1] > '9')
        return -1;
    unsigned long long q = strtoull(end + 1, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *stream = (unsigned)no;
    *seq = q;
    return 0;
}

/* Why resuming after (no, seq) is impossible, or NULL.  Caller holds ss->mu. */
static const char *resume_problem(struct sse_sess *ss, struct sse_stream *st, unsigned no,
                                  uint64_t seq)
{
    if (no >= ss->next_stream)
        return "it names a stream this session never had";
    if (seq >= ss->next_seq)
        return "it names an event not sent yet";
    if (!st)
        return "that stream is complete and its events are no longer kept";
    if (st->dropped_upto > seq)
        return "events after it were dropped (the server keeps the last event_buffer "
               "events per session)";
    return NULL;
}

static int open_get_locked(struct sse_conn *k, const char *last_event_id, char *err,
                           size_t errlen)
{
    struct sse_sess *ss = k->ss;
    unsigned no = 0;
    uint64_t seq = 0;
    if (!last_event_id) {
        struct sse_stream *st0 = stream_find(ss, 0);
        if (st0 && st0->conn) {
            snprintf(err, errlen, "a GET stream is already open for this session (one at "
                                  "a time; resume it with Last-Event-ID)");
            return 409;
        }
        if (!st0) {
            st0 = calloc(1, sizeof *st0);
            if (!st0) {
                snprintf(err, errlen, "out of memory");
                return 500;
            }
            st0->next = ss->streams;
            ss->streams = st0;
        }
        attach_locked(k, st0);
        k->delivered = ss->next_seq++;
        return out_printf(k, "id: 0-%" PRIu64 "\nretry: %" PRId64 "\ndata: \n\n",
                          k->delivered, ss->retry_ms) == 0 ? 0 : 500;
    }
    if (parse_event_id(last_event_id, &no, &seq) != 0) {
        snprintf(err, errlen, "malformed Last-Event-ID '%.64s' (expected STREAM-EVENT as "
                              "sent in an id: field)", last_event_id);
        return 400;
    }
    struct sse_stream *st = stream_find(ss, no);
    const char *why = resume_problem(ss, st, no, seq);
    if (why) {
        snprintf(err, errlen, "cannot resume after Last-Event-ID %.64s: %s", last_event_id,
                 why);
        return 400;
    }
    attach_locked(k, st);
    k->delivered = seq;
    return out_printf(k, "retry: %" PRId64 "\n\n", ss->retry_ms) == 0 ? 0 : 500;
}

int sse_response_get(struct http_server *h, struct session *s, const char *last_event_id,
                     struct MHD_Response **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sse_conn *k = conn_new(h, s, SSE_GET);
    if (!k || !k->ss) {
        snprintf(err, errlen, "%s", k ? "session has no stream state" : "out of memory");
        free(k);
        session_put(h->a->sessions, s);
        return 500;
    }
    pthread_mutex_lock(&k->ss->mu);
    int status = k->ss->ended ? 404 : open_get_locked(k, last_event_id, err, errlen);
    if (status == 404)
        snprintf(err, errlen, "session ended");
    pthread_mutex_unlock(&k->ss->mu);
    if (status != 0) {
        atomic_fetch_add_explicit(&g_open[k->kind], 1, memory_order_relaxed);
        conn_free(k);
        return status;
    }
    *out = conn_response(k);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    return 0;
}

/* ---- inline calls ------------------------------------------------------------ */

/* Log one delivered event of st (text taken) and append its SSE form to
 * k->out.  Caller holds ss->mu. */
static int inline_event(struct sse_conn *k, struct sse_stream *st, int keep, char *text,
                        size_t len)
{
    struct sse_event ev = {.seq = k->ss->next_seq++, .stream = st->no, .text = text,
                           .len = len};
    int rc = out_printf(k, "id: %u-%" PRIu64 "\ndata: %s\n\n", st->no, ev.seq, text);
    st->last_seq = ev.seq;
    if (keep)
        log_append(k->ss, st, &ev);
    else
        free(text);
    return rc;
}

/* Caller holds ss->mu; st is linked and running (so that the log evicting
 * its first events, with a small event_buffer, does not prune it). */
static int inline_fill(struct sse_conn *k, struct sse_stream *st, json_t *msgs,
                       json_t *response)
{
    struct sse_sess *ss = k->ss;
    int keep = !ss->ended && log_ready(ss) == 0;
    int rc = out_printf(k, "id: %u-%" PRIu64 "\nretry: %" PRId64 "\ndata: \n\n", st->no,
                        st->prime_seq, ss->retry_ms);
    size_t n = json_array_size(msgs);
    for (size_t i = 0; i <= n && rc == 0; i++) {
        size_t len = 0;
        char *text = jsonrpc_dump(i < n ? json_array_get(msgs, i) : response, &len);
        if (!text)
            return -1;
        rc = inline_event(k, st, keep, text, len);
    }
    st->final_seq = st->last_seq;
    return rc;
}

char *sse_inline_body(struct sse_sess *ss, json_t *msgs, json_t *response, size_t *len)
{
    struct sse_conn k = {.ss = ss};
    struct sse_stream *st = calloc(1, sizeof *st);
    char *body = NULL;
    if (!st || !response)
        goto out;
    pthread_mutex_lock(&ss->mu);
    st->no = ss->next_stream++;
    st->prime_seq = ss->next_seq++;
    st->running = 1;
    st->next = ss->streams;
    ss->streams = st;
    int rc = inline_fill(&k, st, msgs, response);
    st->running = 0;
    st->done = 1;
    stream_maybe_prune(ss, st);
    pthread_mutex_unlock(&ss->mu);
    st = NULL;
    if (rc == 0) {
        body = k.out;
        k.out = NULL;
        *len = k.out_len;
    }
out:
    free(st);
    free(k.out);
    json_decref(response);
    return body;
}
