/* MCP sessions of the Streamable HTTP transport (stdio has exactly one,
 * made the same way so the protocol layer sees no difference).
 *
 * A session is created by a successful initialize and named by an
 * Mcp-Session-Id of 32 random bytes from the OS (RAND_bytes) written as
 * 43 characters of base64url: visible ASCII, as the specification asks,
 * and unguessable.  The table is bounded (max_sessions) and sessions that
 * have seen no request for idle_ns are expired by session_table_sweep(),
 * which the transport calls on its timer.  A session ended by DELETE or by
 * expiry is remembered (its id only, in a bounded ring) so a later request
 * gets 404 "session ended" rather than 404 "unknown session": both are 404
 * (clients re-initialize on it), the message helps operators.
 *
 * Sessions are reference counted: session_get() returns a reference the
 * caller drops with session_put(); ending a session removes it from the
 * table at once and frees it when the last reference goes. */
#ifndef MCP_SESSION_H
#define MCP_SESSION_H

#include <resil/clock.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_ID_LEN 43 /* base64url of 32 bytes, no padding */

struct session;

/* What the protocol layer keeps per session; guarded by session->mu. */
struct session_state {
    char protocol_version[16]; /* negotiated in initialize */
    int initialized;           /* notifications/initialized seen */
    int log_level;             /* logging/setLevel; enum mcp_log_level */
    char client_name[64];
    char client_version[32];
    unsigned client_caps;      /* SESSION_CAP_* bits */
};

#define SESSION_CAP_SAMPLING 0x1u
#define SESSION_CAP_ELICITATION 0x2u
#define SESSION_CAP_ROOTS 0x4u

struct session {
    char id[SESSION_ID_LEN + 1];
    pthread_mutex_t mu;
    struct session_state st;
    int64_t created_ns;
    int64_t last_seen_ns; /* table clock; guarded by the table's lock */
    unsigned inflight;    /* requests being served; guarded by mu */
    uint64_t next_event_id; /* SSE event ids, per session; guarded by mu */
    void *transport;      /* owned by the transport (its stream state) */
    void (*transport_free)(void *transport);
    void *proto;          /* owned by the protocol layer (calls in flight,
                             requests sent to the client) */
    void (*proto_free)(void *proto);
    /* private to session.c */
    unsigned refs_;
    int ended_;
    struct session *next_;
};

struct session_table_opts {
    const resil_clock *clock; /* NULL: monotonic */
    size_t max_sessions;      /* default 1000 */
    int64_t idle_ns;          /* default 30 min */
    size_t ended_memory;      /* ended ids remembered; default 1024 */
};

struct session_table;

enum session_lookup {
    SESSION_FOUND = 0,
    SESSION_UNKNOWN = 1, /* never existed (or forgotten long ago) */
    SESSION_ENDED = 2,   /* deleted or expired */
};

/* 0 or -1 (out of memory, bad options). */
int session_table_new(const struct session_table_opts *o, struct session_table **out);
/* Ends every session; references still held stay valid until put. */
void session_table_free(struct session_table *t);

/* A new session with one reference for the caller.  0, -1 when the table
 * is full (*out NULL; the caller answers 503 "too many sessions"), -2 when
 * out of memory or the random source fails. */
int session_create(struct session_table *t, struct session **out);
/* Look a session up by id (any bytes; compared in full) and take a
 * reference; marks it seen now.  *out NULL unless SESSION_FOUND. */
enum session_lookup session_get(struct session_table *t, const char *id, size_t len,
                                struct session **out);
void session_put(struct session_table *t, struct session *s);
/* End a session (DELETE): 0, or -1 if it was not in the table. */
int session_end(struct session_table *t, const char *id, size_t len);
/* Expire sessions idle for idle_ns and not serving a request; returns how
 * many ended. */
size_t session_table_sweep(struct session_table *t);
size_t session_table_count(struct session_table *t);

/* Reserve a request slot (at most max per session): 0 or -1 when full. */
int session_begin_request(struct session *s, unsigned max);
void session_end_request(struct session *s);

#endif
