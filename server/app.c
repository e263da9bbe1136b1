/* Building and tearing down everything the server holds, in dependency
 * order: metrics (everything reports into them), services (their breakers
 * and limiters), health checks over those, the upstream client, the MCP
 * server, the session table, and finally the tools, resources and prompts
 * the caller registers. */
#include "config.h" /* the build's: PACKAGE_VERSION */

#include "app.h"

#include "log.h"
#include "upstream.h"

#include <resil/clock.h>

#include <stdio.h>
#include <string.h>

#define NS_PER_MS 1000000LL

static const char instructions[] =
    "Tools for YouTube videos and AI analysis. video_metadata: title, channel, duration, "
    "views, publish date and thumbnails of a video (URL or id). video_transcript: the "
    "captions of a video, paginated with offset/limit. ai_analyze: ask the configured "
    "language model to do something with a text (summarise, extract, classify). "
    "video_analyze: metadata, transcript and an AI summary with key points and topics in "
    "one call (partial results, marked so, when a service is down). service_status: the "
    "state of the upstream services (circuit breakers, rate limits, caches, health). "
    "Each upstream goes through a resilience policy: when a tool reports a service as "
    "unavailable, it says which one and when to try again; do not retry sooner.";

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s: %s", what, rc < 0 ? resil_strerror(rc) : "failed");
    return -1;
}

/* A busy host (CPU, load) warns but never fails readiness: taking the
 * server out of rotation would not make the host less busy.  Memory, disk
 * and open files keep their failing thresholds. */
static int make_health(struct app *a, char *err, size_t errlen)
{
    resil_health_opts ho;
    resil_health_sys_opts so;
    int rc;

    resil_health_opts_init(&ho);
    ho.clock = a->clock;
    ho.wall_clock = resil_clock_realtime();
    ho.service_id = "mcp-server";
    ho.description = "MCP server for video metadata, transcripts and AI analysis";
    ho.version = PACKAGE_VERSION;
    rc = resil_health_new(&ho, &a->health);
    if (rc != 0)
        return fail(err, errlen, "health registry", rc);
    resil_health_sys_opts_init(&so);
    so.cpu_fail = 0;
    so.load_fail = 0;
    rc = resil_health_add_system(a->health, &so);
    if (rc != 0)
        return fail(err, errlen, "system health checks", rc);
    return 0;
}

/* An open breaker of one upstream degrades some tools, not the server:
 * its check is not critical (a fail counts as warn for readiness). */
static int add_service_checks(struct app *a, resil_service *svc, char *err, size_t errlen)
{
    resil_health_component_opts co;
    char name[RESIL_HEALTH_MAX_NAME];
    int rc = 0;

    resil_health_component_opts_init(&co);
    co.critical = 0;
    if (resil_service_breaker(svc) != NULL)
        rc = resil_health_add_breaker(a->health, resil_service_breaker(svc), &co);
    if (rc == 0 && resil_service_limiter(svc) != NULL) {
        snprintf(name, sizeof(name), "%s:limiterUtilization", resil_service_name(svc));
        co.name = name;
        rc = resil_health_add_limiter(a->health, resil_service_limiter(svc), &co);
    }
    if (rc == 0 && resil_service_cache(svc) != NULL) {
        snprintf(name, sizeof(name), "%s:cacheHitRate", resil_service_name(svc));
        co.name = name;
        rc = resil_health_add_cache(a->health, resil_service_cache(svc), &co);
    }
    if (rc != 0) {
        snprintf(err, errlen, "health checks of service %s: %s", resil_service_name(svc),
                 resil_strerror(rc));
        return -1;
    }
    return 0;
}

static int add_service(struct app *a, struct config_service *sc, resil_service **out,
                       char *err, size_t errlen)
{
    resil_service_opts o = sc->policy;
    int rc;

    /* The config may have been copied since it was parsed: point the name
     * at this copy. */
    o.name = sc->name;
    sc->policy.name = sc->name;
    o.metrics = a->metrics;
    o.clock = a->clock;
    o.attempt_timeout_ns = sc->timeout_ms * NS_PER_MS;
    upstream_policy_setup(&o);
    rc = resil_services_add(a->services, &o, out);
    if (rc != 0) {
        snprintf(err, errlen, "service %s: %s", sc->name, resil_strerror(rc));
        return -1;
    }
    return add_service_checks(a, *out, err, errlen);
}

static int make_services(struct app *a, char *err, size_t errlen)
{
    int rc = resil_services_new(&a->services);

    if (rc != 0)
        return fail(err, errlen, "service registry", rc);
    if (add_service(a, &a->cfg.youtube, &a->youtube, err, errlen) != 0 ||
        add_service(a, &a->cfg.transcript, &a->transcript, err, errlen) != 0 ||
        add_service(a, &a->cfg.ai, &a->ai, err, errlen) != 0)
        return -1;
    return 0;
}

static int make_mcp(struct app *a, char *err, size_t errlen)
{
    struct mcp_server_opts mo;
    struct session_table_opts so;

    mcp_server_opts_init(&mo);
    mo.name = "mcp-server";
    mo.title = "libresil video and AI tools";
    mo.version = PACKAGE_VERSION;
    mo.instructions = instructions;
    mo.limits.max_bytes = a->cfg.max_body_bytes;
    mo.limits.max_depth = a->cfg.max_depth;
    mo.max_inflight = a->cfg.max_inflight_per_session;
    mo.page_size = a->cfg.page_size;
    mo.clock = a->clock;
    mo.metrics = a->metrics;
    if (mcp_server_new(&mo, &a->mcp) != 0) {
        snprintf(err, errlen, "MCP server: out of memory or bad options");
        return -1;
    }
    memset(&so, 0, sizeof(so));
    so.clock = a->clock;
    so.max_sessions = a->cfg.max_sessions;
    so.idle_ns = a->cfg.session_idle_ms * NS_PER_MS;
    if (session_table_new(&so, &a->sessions) != 0) {
        snprintf(err, errlen, "session table: out of memory or bad options");
        return -1;
    }
    return 0;
}

static int make_parts(struct app *a, char *err, size_t errlen)
{
    resil_metrics_opts mo;
    struct upstream_opts uo;
    int rc;

    resil_metrics_opts_init(&mo);
    mo.clock = a->clock;
    rc = resil_metrics_new(&mo, &a->metrics);
    if (rc != 0)
        return fail(err, errlen, "metrics registry", rc);
    if (make_health(a, err, errlen) != 0 || make_services(a, err, errlen) != 0)
        return -1;
    memset(&uo, 0, sizeof(uo));
    /* One easy handle per call the bulkheads let through at once. */
    uo.max_handles = a->cfg.youtube.policy.max_concurrent +
                     a->cfg.transcript.policy.max_concurrent + a->cfg.ai.policy.max_concurrent;
    if (uo.max_handles == 0 || uo.max_handles > 256)
        uo.max_handles = uo.max_handles == 0 ? 32 : 256;
    if (upstream_new(&uo, &a->up) != 0) {
        snprintf(err, errlen, "upstream HTTP client: libcurl initialisation failed");
        return -1;
    }
    return make_mcp(a, err, errlen);
}

int app_init(struct app *a, app_register_fn reg, char *err, size_t errlen)
{
    char dummy[1];
    int rc;

    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (a == NULL) {
        snprintf(err, errlen, "app_init: no app");
        return -1;
    }
    a->metrics = NULL;
    a->health = NULL;
    a->services = NULL;
    a->youtube = a->transcript = a->ai = NULL;
    a->up = NULL;
    a->mcp = NULL;
    a->sessions = NULL;
    atomic_store_explicit(&a->stopping, 0, memory_order_relaxed); /* no thread yet */
    if (a->clock == NULL)
        a->clock = resil_clock_monotonic();
    a->started_ns = resil_clock_now(a->clock);
    if (make_parts(a, err, errlen) != 0)
        goto fail;
    if (reg != NULL && reg(a, err, errlen) != 0)
        goto fail;
    /* Only the HTTP transport serves /healthz: with stdio nobody reads the
     * scheduled results (service_status runs the checks it shows). */
    if (a->cfg.transport == CONFIG_HTTP) {
        rc = resil_health_start(a->health);
        if (rc != 0) {
            fail(err, errlen, "health scheduler", rc);
            goto fail;
        }
    }
    return 0;

fail:
    app_fini(a);
    return -1;
}

void app_fini(struct app *a)
{
    if (a == NULL)
        return;
    /* Sessions first: ending one releases protocol state that points into
     * the MCP server.  Health before services: its checks read the
     * services' breakers, limiters and caches. */
    session_table_free(a->sessions);
    a->sessions = NULL;
    mcp_server_free(a->mcp);
    a->mcp = NULL;
    upstream_free(a->up);
    a->up = NULL;
    resil_health_free(a->health);
    a->health = NULL;
    resil_services_free(a->services);
    a->services = NULL;
    a->youtube = a->transcript = a->ai = NULL;
    resil_metrics_free(a->metrics);
    a->metrics = NULL;
    config_clear_secrets(&a->cfg);
}
