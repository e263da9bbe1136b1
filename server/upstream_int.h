/* What upstream.c (the calls, the resil_service glue) and upstream_http.c
 * (the libcurl side: handle pool, share handle, transfers, cancellation)
 * share.  Private to those two files and the upstream tests. */
#ifndef MCP_UPSTREAM_INT_H
#define MCP_UPSTREAM_INT_H

#include "upstream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#define UP_DEFAULT_HANDLES 32u
#define UP_MAX_HANDLES 4096u
#define UP_SAFE_URL_MAX 256
#define UP_DETAIL_MAX 160
#define UP_HEADER_VALUE_MAX 128
#define UP_POLL_MS 1000

struct slot {
    CURL *easy;
    CURLM *multi;
    struct slot *next; /* free list */
};

struct ucall;

struct upstream {
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t lock; /* free list, active list, ucall.multi */
    pthread_cond_t freed; /* a slot came back, or a waiter was cancelled */
    struct slot *slots;
    struct slot *free_list;
    unsigned nslots;
    struct ucall *active;
    char user_agent[128];
};

/* One upstream_call() in flight. */
struct ucall {
    struct upstream *u;
    const struct config_service *sc;
    struct mcp_call *c;
    const struct upstream_req *req;
    int want_json;
    atomic_int cancelled;
    CURLM *multi; /* the slot in use; u->lock */
    struct ucall *prev, *next; /* u->active; u->lock */
    char safe_url[UP_SAFE_URL_MAX];
    /* the last attempt */
    unsigned attempts;
    enum upstream_rc rc;
    long status;
    char detail[UP_DETAIL_MAX]; /* why, in words (no secrets) */
    json_t *json;               /* parsed 2xx body, when want_json */
};

/* One attempt's response. */
struct abuf {
    char *data;
    size_t len, cap, max;
    int too_large;
    char retry_after[UP_HEADER_VALUE_MAX];
    char ctype[UP_HEADER_VALUE_MAX];
};

/* Test hook and shutdown aid: cancel every call in flight; returns how
 * many were active (not in upstream.h, which is a fixed contract). */
size_t upstream__cancel_all(struct upstream *u);

/* Enter uc in u->active and hook it to its mcp_call's cancellation;
 * unregister undoes both (after it the hook will not run). */
void upstream__ucall_register(struct ucall *uc);
void upstream__ucall_unregister(struct ucall *uc);
/* Nonzero once uc or its mcp_call was cancelled. */
int upstream__ucall_cancelled(const struct ucall *uc);

/* Wait for a free slot until the monotonic deadline; the slot is published
 * as uc->multi so a cancel can wake it.  0, UPSTREAM_TIMEOUT,
 * UPSTREAM_CANCELLED, or UPSTREAM_TRANSPORT (out of memory). */
int upstream__slot_take(struct ucall *uc, const struct timespec *until, struct slot **out);
/* Reset s and put it back on the free list (detached from uc first). */
void upstream__slot_give(struct ucall *uc, struct slot *s);

/* Run the request on slot s.  The response goes to b; returns the outcome
 * before looking at the HTTP status (UPSTREAM_OK: a response came). */
enum upstream_rc upstream__transfer(struct ucall *uc, struct slot *s, struct abuf *b,
                                    long timeout_ms);

/* Format uc->detail, the attempt's reason in words (never a secret). */
void upstream__set_detail(struct ucall *uc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Make s printable ASCII in place (other bytes become '?'): what reaches
 * messages and logs from a remote is then valid UTF-8 however it is cut. */
void upstream__ascii_only(char *s);

#endif
