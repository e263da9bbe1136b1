/* libresil: per-service policies.
 *
 * A service is one remote dependency (an HTTP API, a model server) and the
 * policy every call to it goes through, in this order, each stage optional:
 *
 *   cache lookup -> rate limiter -> bulkhead (max concurrent calls)
 *     -> circuit breaker -> retry with backoff -> per-attempt timeout
 *     -> the caller's operation
 *   then: outcome classification, metrics under the service's name, cache
 *   fill; on failure a stale cached value or the caller's fallback.
 *
 *   resil_service_result res;
 *   int rc = resil_service_call(svc, &call, fetch_video, &req, &res);
 *   if (rc == 0) reply(res.data, res.len);           // fresh, cached or stale
 *   else printf("%s\n", res.message);                 // which stage, why, when
 *   resil_service_result_release(&res);
 *
 * With a cache, concurrent misses on one key run the rest of the pipeline
 * once (request coalescing): only that one call takes a token, a bulkhead
 * slot and a breaker permit.
 *
 * A service and a registry of services are safe to use from many threads. */
#ifndef RESIL_POLICY_H
#define RESIL_POLICY_H

#include <resil/breaker.h>
#include <resil/cache.h>
#include <resil/clock.h>
#include <resil/common.h>
#include <resil/error.h>
#include <resil/limiter.h>
#include <resil/metrics.h>
#include <resil/retry.h>

RESIL_BEGIN_DECLS

typedef struct resil_service resil_service;
typedef struct resil_services resil_services;

/* Which stage answered a call (or refused it). */
typedef enum resil_stage {
    RESIL_STAGE_NONE = 0,
    RESIL_STAGE_CACHE = 1,     /* served from the cache (or a stale entry) */
    RESIL_STAGE_LIMITER = 2,   /* rate limit exceeded: RESIL_ELIMIT */
    RESIL_STAGE_BULKHEAD = 3,  /* too many calls in flight: RESIL_EBUSY */
    RESIL_STAGE_BREAKER = 4,   /* breaker open: RESIL_EOPEN / RESIL_EPROBES */
    RESIL_STAGE_RETRY = 5,     /* retries exhausted, budget, deadline */
    RESIL_STAGE_TIMEOUT = 6,   /* the attempt overran its timeout */
    RESIL_STAGE_OPERATION = 7, /* the operation answered (ok or failed) */
    RESIL_STAGE_FALLBACK = 8,  /* the fallback answered */
} resil_stage;

/* Where the operation puts its value.  Opaque: use the two setters. */
typedef struct resil_service_out resil_service_out;

/* One attempt of the operation.  attempt->deadline is the tighter of the
 * call's deadline and the per-attempt timeout: pass it on (for example as
 * CURLOPT_TIMEOUT_MS); an attempt that returns after it counts as failed
 * with RESIL_ETIMEDOUT.  Set attempt->retry_after_ns when the remote asked
 * to wait.  Return 0 after giving a value, or nonzero. */
typedef int (*resil_service_fn)(void *arg, resil_attempt *attempt, resil_service_out *out);

/* Give the value as a copy of data[0..len).  RESIL_ENOMEM, RESIL_EINVAL. */
RESIL_API int resil_service_out_bytes(resil_service_out *out, const void *data, size_t len);
/* Give the value as an object charged as size bytes; the service owns it
 * from a successful call on and frees it with opts.obj_free. */
RESIL_API int resil_service_out_obj(resil_service_out *out, void *obj, size_t size);

/* Map an operation's return code and duration to an outcome for the
 * breaker and metrics (a 404 may be RESIL_OUTCOME_IGNORED: the remote is
 * well, the item is missing).  NULL: 0 is success, anything else failure. */
/* An attempt that overran its timeout is classified with rc =
 * RESIL_ETIMEDOUT. */
typedef resil_outcome (*resil_service_classify_fn)(int rc, int64_t duration_ns, void *ctx);

typedef struct resil_service_result resil_service_result;

/* Called when a call failed and no stale value was there: may give a
 * degraded value through out (return 0) or decline (nonzero).  res says
 * which stage refused and why. */
typedef int (*resil_service_fallback_fn)(void *ctx, const resil_service_result *res,
                                         resil_service_out *out);

typedef struct resil_service_opts {
    const char *name;          /* required, [A-Za-z0-9_.-]{1,64}; copied;
                                  the "service" label of its metrics */
    int use_cache;             /* nonzero: cache values by call key */
    resil_cache_opts cache;
    int use_limiter;
    resil_limiter_opts limiter;
    uint32_t max_concurrent;   /* bulkhead: calls in flight; 0: no bulkhead */
    int use_breaker;
    resil_breaker_opts breaker;
    int use_retry;             /* zero: one attempt */
    resil_retry_opts retry;    /* its breaker and clock fields are ignored:
                                  the service wires its own */
    int64_t attempt_timeout_ns; /* 0: none */
    resil_service_classify_fn classify;
    void *classify_ctx;
    resil_service_fallback_fn fallback;
    void *fallback_ctx;
    resil_cache_free_fn obj_free; /* frees object values (with or without a
                                     cache); NULL: objects are not freed */
    void *obj_free_ctx;
    resil_metrics *metrics;    /* not owned, may be NULL: report into it */
    const resil_clock *clock;  /* every stage's clock; NULL: monotonic */
    uint64_t reserved_[8];     /* zeroed by resil_service_opts_init() */
} resil_service_opts;

/* One call's input.  No typedef: the name resil_service_call is the
 * function (as with struct stat and stat()). */
struct resil_service_call {
    const void *key;           /* cache key; NULL: not cached */
    size_t keylen;
    int64_t deadline;          /* absolute, on the service clock, or
                                  RESIL_TIME_NEVER (the preset) */
    uint32_t tokens;           /* limiter cost; 0 is taken as 1 */
    int64_t ttl_ns;            /* cache TTL of the value; 0: the default */
    uint64_t reserved_[4];
};

struct resil_service_result {
    /* The value, when the call returns 0: bytes (data, len) or an object
     * (obj, len = its size), valid until resil_service_result_release(). */
    const void *data;
    size_t len;
    void *obj;
    int stale;                 /* served a cache entry past its TTL */
    int degraded;              /* the fallback gave the value */
    resil_stage stage;         /* who answered or refused */
    int code;                  /* 0 or the RESIL_E* code returned */
    int op_rc;                 /* the operation's last return code */
    uint32_t attempts;         /* operation calls made by this call */
    int64_t retry_after_ns;    /* refusals: when trying again may work
                                  (limiter wait, breaker open time,
                                  Retry-After); -1 when unknown */
    char message[192];         /* "youtube_api: circuit breaker is open;
                                  retry in 4.2 s" */
    void *internal_;           /* the library's */
    uint64_t reserved_[4];
};

typedef struct resil_service_stats {
    uint64_t calls;
    uint64_t ok;               /* fresh values from the operation */
    uint64_t cache_hits;
    uint64_t stale;
    uint64_t fallbacks;
    uint64_t failed;           /* the operation failed, no value served */
    uint64_t rejected[9];      /* by stage, indexed by resil_stage */
    uint64_t attempts;
    uint32_t in_flight;
    uint64_t reserved_[8];
} resil_service_stats;

RESIL_API void resil_service_opts_init(resil_service_opts *o);
/* Every enabled stage's options are validated as their own _new would. */
RESIL_API int resil_service_new(const resil_service_opts *o, resil_service **out);
RESIL_API void resil_service_free(resil_service *s);

RESIL_API void resil_service_call_init(struct resil_service_call *c);
/* Run one call through the pipeline.  0 with a value in res (fresh, from
 * the cache, stale, or from the fallback); otherwise the refusing stage's
 * code (RESIL_ELIMIT, RESIL_EBUSY, RESIL_EOPEN, RESIL_EPROBES,
 * RESIL_EEXHAUSTED, RESIL_EFAILED, RESIL_ETIMEDOUT, RESIL_EBUDGET,
 * RESIL_ENOMEM) with res saying which stage and why.  call may be NULL (no
 * key, no deadline).  res is always filled and must always be released. */
RESIL_API int resil_service_call(resil_service *s, const struct resil_service_call *call,
                                 resil_service_fn fn, void *arg, resil_service_result *res);
/* Release the value a result holds (safe on a result from a failed call
 * and on a zeroed one). */
RESIL_API void resil_service_result_release(resil_service_result *res);

RESIL_API const char *resil_service_name(const resil_service *s);
/* The stages' objects, NULL when a stage is off: for health checks,
 * dashboards and tests.  Owned by the service. */
RESIL_API resil_breaker *resil_service_breaker(resil_service *s);
RESIL_API resil_limiter *resil_service_limiter(resil_service *s);
RESIL_API resil_cache *resil_service_cache(resil_service *s);
RESIL_API void resil_service_stats_get(resil_service *s, resil_service_stats *st);
/* "cache", "limiter", ...; "none" for RESIL_STAGE_NONE, "unknown". */
RESIL_API const char *resil_stage_name(resil_stage stage);

/* A registry of services by name. */
RESIL_API int resil_services_new(resil_services **out);
/* Frees every service it holds. */
RESIL_API void resil_services_free(resil_services *reg);
/* Make a service from o and hold it under o->name.  RESIL_EEXIST if the
 * name is taken; errors of resil_service_new().  *out (may be NULL) is
 * owned by the registry. */
RESIL_API int resil_services_add(resil_services *reg, const resil_service_opts *o,
                                 resil_service **out);
/* RESIL_ENOENT if there is no such service. */
RESIL_API int resil_services_get(resil_services *reg, const char *name, resil_service **out);
/* Call fn for each service in name order until it returns nonzero (which
 * is returned).  fn must not add services. */
RESIL_API int resil_services_foreach(resil_services *reg,
                                     int (*fn)(resil_service *s, void *ctx), void *ctx);
RESIL_API size_t resil_services_count(resil_services *reg);

RESIL_END_DECLS

#endif /* RESIL_POLICY_H */
