/* The upstream HTTP client the tools use: libcurl, one share handle so
 * connections, DNS and TLS sessions are reused across calls and threads,
 * a pool of easy handles (bounded; a call waits for a free one), every
 * transfer driven by its own multi handle with curl_multi_poll so that a
 * cancelled MCP call (notifications/cancelled, shutdown) aborts the
 * transfer at once through curl_multi_wakeup instead of at the next
 * progress tick.
 *
 * upstream_call() runs one request through a libresil service (policy.h):
 * cache -> limiter -> bulkhead -> breaker -> retry -> per-attempt timeout.
 * The HTTP outcome is classified for the breaker and the retry policy:
 *   2xx                  success (the body is the value; cached if keyed)
 *   429, 503 + Retry-After  failure, retried after the Retry-After delay
 *   5xx, transport error, timeout   failure, retried
 *   other 4xx            not retried and not held against the breaker
 *                        (RESIL_OUTCOME_IGNORED: the remote is well, the
 *                        request was wrong or the item is missing)
 *   cancelled            not retried, not counted
 * Every refusal or failure comes back as a message naming the service, the
 * stage and, when known, when to retry: the tool shows it to the model. */
#ifndef MCP_UPSTREAM_H
#define MCP_UPSTREAM_H

#include "server_config.h"
#include "mcp/protocol.h"

#include <resil/policy.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct upstream;

struct upstream_opts {
    unsigned max_handles;      /* easy handles in the pool; default 32 */
    const char *user_agent;    /* default "mcp-server/VERSION libcurl" */
};

/* 0 or -1 (out of memory, libcurl init failed).  Call after
 * curl_global_init(). */
int upstream_new(const struct upstream_opts *o, struct upstream **out);
void upstream_free(struct upstream *u);

/* Operation return codes (positive: they never clash with RESIL_E*). */
enum upstream_rc {
    UPSTREAM_OK = 0,
    UPSTREAM_HTTP_CLIENT = 1,  /* 4xx other than 429: not retried */
    UPSTREAM_HTTP_RATE = 2,    /* 429 */
    UPSTREAM_HTTP_SERVER = 3,  /* 5xx */
    UPSTREAM_TRANSPORT = 4,    /* connect, reset, DNS, TLS */
    UPSTREAM_TIMEOUT = 5,
    UPSTREAM_TOO_LARGE = 6,    /* body over max_response_bytes */
    UPSTREAM_CANCELLED = 7,
};

struct upstream_req {
    const char *method;        /* "GET" or "POST" */
    const char *url;           /* full URL, query escaped by the caller
                                  (upstream_escape) */
    const char *const *headers; /* NULL-terminated "Name: value" lines; may
                                   hold the API key: never logged */
    const char *body;          /* POST body (JSON), may be NULL */
    size_t body_len;
    const void *cache_key;     /* NULL: not cached */
    size_t cache_key_len;
    int64_t cache_ttl_ns;      /* 0: the service's default */
};

struct upstream_result {
    int code;                  /* 0, RESIL_E* from the service, or -1 */
    enum upstream_rc rc;       /* the last attempt's outcome */
    long http_status;          /* 0 when no response */
    int from_cache;
    int stale;
    resil_stage stage;         /* which stage answered or refused */
    uint32_t attempts;
    int64_t retry_after_ns;    /* -1 when unknown */
    char message[320];         /* "ai_processing: circuit breaker is open;
                                  retry in 4.2 s", "youtube_api: HTTP 404
                                  from GET https://host/path: video not
                                  found" (never the query string: keys
                                  travel there) */
};

/* Run req through svc (its timeouts from sc) on behalf of call c (may be
 * NULL: not cancellable).  0 with *body (malloc'd, NUL-terminated, len in
 * *len) the 2xx body; -1 with res->message saying why.  res may not be
 * NULL. */
int upstream_call(struct upstream *u, resil_service *svc, const struct config_service *sc,
                  struct mcp_call *c, const struct upstream_req *req, char **body,
                  size_t *len, struct upstream_result *res);

/* The same, parsing the body as JSON (an unparsable body is a failure of
 * the upstream: UPSTREAM_HTTP_SERVER-like, message says so). */
int upstream_call_json(struct upstream *u, resil_service *svc, const struct config_service *sc,
                       struct mcp_call *c, const struct upstream_req *req, json_t **out,
                       struct upstream_result *res);

/* URL-escape s (RFC 3986 unreserved kept); free() the result. */
char *upstream_escape(const char *s);

/* Fill svc opts' classify, retry.retryable and obj_free for HTTP outcomes
 * as described above (called on each config_service's policy before
 * resil_services_add). */
void upstream_policy_setup(resil_service_opts *o);

/* Parse a Retry-After header value (delta-seconds or an HTTP-date,
 * against now_unix seconds): nanoseconds >= 0, or -1 if unparsable. */
int64_t upstream_parse_retry_after(const char *value, int64_t now_unix);

#endif
