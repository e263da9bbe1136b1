/* libresil internals of per-service policies (policy.c, policy_registry.c);
 * not installed.
 *
 * policy.c holds the call path (the pipeline, values, results, messages);
 * policy_registry.c holds what is done once per service (construction,
 * metrics wiring, free, accessors) and the registry of services. */
#ifndef RESIL_POLICY_INTERNAL_H
#define RESIL_POLICY_INTERNAL_H

#include "internal.h"

/* resil.h does not pull these in (yet) */
#include <resil/cache.h>
#include <resil/metrics.h>
#include <resil/policy.h>

#define RESIL__SVC_NAME_MAX 64
#define RESIL__STAGE_COUNT 9 /* RESIL_STAGE_NONE .. RESIL_STAGE_FALLBACK */

/* How a call ended, one per call: the "result" label of
 * resil_service_calls_total. */
enum resil__svc_result {
    RESIL__RES_OK = 0,    /* a fresh value from the operation */
    RESIL__RES_CACHE_HIT, /* a fresh cached value (or another call's load) */
    RESIL__RES_STALE,     /* a cached value past its TTL, after a failure */
    RESIL__RES_FALLBACK,  /* the fallback's value */
    RESIL__RES_FAILED,    /* the operation ran (or was waited on), no value */
    RESIL__RES_REJECTED,  /* turned away before any attempt, no value */
    RESIL__RES_COUNT
};

/* Series handles, looked up once at creation so the call path records
 * without lookups.  All NULL without a registry (recording into NULL
 * handles is a no-op, but the call path tests mx.m first anyway). */
struct resil__svc_metrics {
    resil_metrics *m;
    resil_metrics_counter *calls[RESIL__RES_COUNT];
    resil_metrics_counter *rejections[RESIL__STAGE_COUNT];
    resil_metrics_counter *attempts;
    resil_metrics_histogram *duration;
    resil_metrics_gauge *in_flight;
    resil_metrics_counter *cache_hits;
    resil_metrics_counter *cache_misses;
    resil_metrics_counter *cache_stale;
    resil_metrics_counter *cache_evictions;
    resil_metrics_gauge *cache_entries;
    uint64_t collector_id; /* 0: none */
    uint64_t breaker_watch;
    uint64_t limiter_watch;
};

struct resil_service {
    char name[RESIL__SVC_NAME_MAX + 1];
    const resil_clock *clock;
    resil_cache *cache;
    resil_limiter *limiter;
    resil_breaker *breaker;
    resil_retry *retry; /* NULL: one attempt */
    uint32_t max_concurrent;
    int64_t attempt_timeout_ns;
    resil_service_classify_fn classify;
    void *classify_ctx;
    resil_service_fallback_fn fallback;
    void *fallback_ctx;
    resil_cache_free_fn obj_free;
    void *obj_free_ctx;
    /* the caller's retry hooks, which the service's own wrap */
    resil_retryable_fn retryable;
    void *retryable_ctx;
    resil_sleep_fn sleep;
    void *sleep_ctx;
    struct resil__svc_metrics mx;
    /* Statistics: relaxed atomics (counts only, they guard no data). */
    _Atomic uint64_t results[RESIL__RES_COUNT];
    _Atomic uint64_t rejected[RESIL__STAGE_COUNT];
    _Atomic uint64_t attempts;
    /* Written twice by every call that passes the limiter: 64 bytes of
     * padding on each side keep it off the lines of the read-mostly fields
     * whatever the allocator's alignment (alignas(64) would need an
     * aligned allocation). */
    char pad0_[64];
    _Atomic uint32_t in_flight;
    char pad1_[64];
};

/* The hooks resil_retry_new() is given (policy.c): they find the call
 * being run through a thread-local pointer, because a retry policy's
 * contexts are fixed when it is made, not per run. */
int resil__svc_retryable(int rc, void *service);
void resil__svc_sleep(int64_t ns, void *service);

/* 1 if name matches [A-Za-z0-9_.-]{1,64}. */
int resil__svc_name_valid(const char *name);

#endif /* RESIL_POLICY_INTERNAL_H */
