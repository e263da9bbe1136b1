/* service_status: what an operator (or a model deciding whether to retry)
 * wants to know about the upstream services, read from libresil's public
 * statistics: each service's breaker, limiter, cache and call counters,
 * the health checks, the uptime and the number of sessions.
 *
 * Read-only and cheap: every figure is a snapshot the library keeps
 * anyway (no health check is run, no upstream is called). */
#include "tools/tools.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_SERVICES 16 /* names listed in the input schema's enum */

static const char st_output_schema[] =
    "{\"type\":\"object\",\"$defs\":{"
    "\"count\":{\"type\":\"integer\",\"minimum\":0},"
    "\"breaker\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{"
    "\"state\":{\"enum\":[\"closed\",\"open\",\"half_open\"]},"
    "\"mode\":{\"enum\":[\"normal\",\"forced_open\",\"disabled\",\"metrics_only\"]},"
    "\"failures\":{\"$ref\":\"#/$defs/count\"},\"successes\":{\"$ref\":\"#/$defs/count\"},"
    "\"rejections\":{\"$ref\":\"#/$defs/count\"},\"opens\":{\"$ref\":\"#/$defs/count\"},"
    "\"window_calls\":{\"$ref\":\"#/$defs/count\"},"
    "\"window_failures\":{\"$ref\":\"#/$defs/count\"},"
    "\"failure_rate\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"retry_in_seconds\":{\"type\":[\"number\",\"null\"]}},"
    "\"required\":[\"state\",\"mode\",\"failures\",\"failure_rate\"]}]},"
    "\"limiter\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{"
    "\"available\":{\"type\":\"number\",\"minimum\":0},\"rate\":{\"type\":\"number\"},"
    "\"burst\":{\"$ref\":\"#/$defs/count\"},"
    "\"utilisation\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"allowed\":{\"$ref\":\"#/$defs/count\"},\"rejected\":{\"$ref\":\"#/$defs/count\"}},"
    "\"required\":[\"available\",\"rate\",\"burst\"]}]},"
    "\"cache\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{"
    "\"entries\":{\"$ref\":\"#/$defs/count\"},\"bytes\":{\"$ref\":\"#/$defs/count\"},"
    "\"max_entries\":{\"$ref\":\"#/$defs/count\"},"
    "\"hits\":{\"$ref\":\"#/$defs/count\"},\"misses\":{\"$ref\":\"#/$defs/count\"},"
    "\"hit_rate\":{\"type\":[\"number\",\"null\"]},"
    "\"stale_hits\":{\"$ref\":\"#/$defs/count\"},"
    "\"evictions\":{\"$ref\":\"#/$defs/count\"},"
    "\"expirations\":{\"$ref\":\"#/$defs/count\"}},"
    "\"required\":[\"entries\",\"hits\",\"misses\",\"hit_rate\"]}]},"
    "\"stats\":{\"type\":\"object\",\"properties\":{"
    "\"calls\":{\"$ref\":\"#/$defs/count\"},\"ok\":{\"$ref\":\"#/$defs/count\"},"
    "\"cache_hits\":{\"$ref\":\"#/$defs/count\"},\"stale\":{\"$ref\":\"#/$defs/count\"},"
    "\"fallbacks\":{\"$ref\":\"#/$defs/count\"},\"failed\":{\"$ref\":\"#/$defs/count\"},"
    "\"attempts\":{\"$ref\":\"#/$defs/count\"},\"in_flight\":{\"$ref\":\"#/$defs/count\"},"
    "\"rejected_by_stage\":{\"type\":\"object\","
    "\"additionalProperties\":{\"$ref\":\"#/$defs/count\"}}},"
    "\"required\":[\"calls\",\"ok\",\"failed\",\"rejected_by_stage\",\"in_flight\"]},"
    "\"check\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"status\":{\"enum\":[\"pass\",\"warn\",\"fail\",\"pending\"]},"
    "\"output\":{\"type\":\"string\"},\"observed_value\":{\"type\":[\"number\",\"null\"]},"
    "\"observed_unit\":{\"type\":[\"string\",\"null\"]},\"critical\":{\"type\":\"boolean\"},"
    "\"runs\":{\"$ref\":\"#/$defs/count\"}},"
    "\"required\":[\"name\",\"status\",\"output\"]}},"
    "\"properties\":{"
    "\"services\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"breaker\":{\"$ref\":\"#/$defs/breaker\"},"
    "\"limiter\":{\"$ref\":\"#/$defs/limiter\"},\"cache\":{\"$ref\":\"#/$defs/cache\"},"
    "\"stats\":{\"$ref\":\"#/$defs/stats\"}},"
    "\"required\":[\"name\",\"breaker\",\"limiter\",\"cache\",\"stats\"]}},"
    "\"health\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{"
    "\"status\":{\"enum\":[\"pass\",\"warn\",\"fail\"]},"
    "\"liveness\":{\"enum\":[\"pass\",\"warn\",\"fail\"]},"
    "\"checks\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/check\"}}},"
    "\"required\":[\"status\",\"checks\"]}]},"
    "\"uptime_seconds\":{\"type\":\"number\",\"minimum\":0},"
    "\"sessions\":{\"$ref\":\"#/$defs/count\"}},"
    "\"required\":[\"services\",\"health\",\"uptime_seconds\",\"sessions\"]}";

static const char st_annotations[] =
    "{\"title\":\"Upstream service status\",\"readOnlyHint\":true,"
    "\"openWorldHint\":false,\"idempotentHint\":true}";

static const char st_description[] =
    "Status of the upstream services (youtube_api, video_analysis, ai_processing): "
    "circuit breaker state, rate limiter tokens, cache hit rate and call counters, plus "
    "the server's health checks, uptime and session count. Use it to see why a call was "
    "refused and when retrying may work.";

/* ---- one service ------------------------------------------------------------ */

static const char *state_name(resil_breaker_state s)
{
    switch (s) {
    case RESIL_BREAKER_OPEN:
        return "open";
    case RESIL_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "closed";
    }
}

static const char *mode_name(resil_breaker_mode m)
{
    static const char *const names[] = {"normal", "forced_open", "disabled", "metrics_only"};

    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "normal";
}

static json_t *breaker_json(resil_breaker *b)
{
    resil_breaker_stats st;
    resil_breaker_state state;
    int64_t retry_in;

    if (b == NULL)
        return json_null();
    /* state_get first: it moves an expired OPEN to HALF_OPEN, so the
     * statistics below describe the state as it is now */
    state = resil_breaker_state_get(b);
    resil_breaker_stats_get(b, &st);
    retry_in = resil_breaker_retry_in(b);
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "state",
                     state_name(state), "mode", mode_name(st.mode), "failures",
                     (json_int_t)st.failures, "successes", (json_int_t)st.successes,
                     "rejections", (json_int_t)st.rejections, "opens", (json_int_t)st.opens,
                     "window_calls", (json_int_t)st.window_calls, "window_failures",
                     (json_int_t)st.window_failures, "failure_rate", st.failure_rate,
                     "retry_in_seconds",
                     retry_in == RESIL_TIME_NEVER ? json_null()
                                                  : json_real((double)retry_in / 1e9));
}

static const struct config_service *service_config(const struct app *a, const char *name)
{
    const struct config_service *all[] = {&a->cfg.youtube, &a->cfg.transcript, &a->cfg.ai};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    }
    return NULL;
}

static json_t *limiter_json(resil_limiter *l, const struct config_service *sc)
{
    resil_limiter_stats st;

    if (l == NULL)
        return json_null();
    resil_limiter_stats_get(l, &st);
    /* rate and burst are not in the limiter's statistics: they are the
     * configured values it was made from */
    return json_pack("{s:f, s:f, s:I, s:f, s:I, s:I}", "available", st.available, "rate",
                     sc != NULL ? sc->policy.limiter.rate : 0.0, "burst",
                     (json_int_t)(sc != NULL ? sc->policy.limiter.burst : 0), "utilisation",
                     st.utilisation, "allowed", (json_int_t)st.allowed, "rejected",
                     (json_int_t)st.rejected);
}

static json_t *cache_json(resil_cache *c)
{
    resil_cache_stats st;
    uint64_t lookups;

    if (c == NULL)
        return json_null();
    resil_cache_stats_get(c, &st);
    lookups = st.hits + st.misses;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I}", "entries",
                     (json_int_t)st.entries, "bytes", (json_int_t)st.bytes, "max_entries",
                     (json_int_t)st.max_entries, "hits", (json_int_t)st.hits, "misses",
                     (json_int_t)st.misses, "hit_rate",
                     lookups > 0 ? json_real((double)st.hits / (double)lookups) : json_null(),
                     "stale_hits", (json_int_t)st.stale_hits, "evictions",
                     (json_int_t)st.evictions, "expirations", (json_int_t)st.expirations);
}

static json_t *stats_json(resil_service *s)
{
    /* the stages that can refuse a call (resil_stage order) */
    static const resil_stage refusing[] = {RESIL_STAGE_LIMITER, RESIL_STAGE_BULKHEAD,
                                           RESIL_STAGE_BREAKER, RESIL_STAGE_RETRY,
                                           RESIL_STAGE_TIMEOUT};
    resil_service_stats st;
    json_t *by = json_object();

    resil_service_stats_get(s, &st);
    for (size_t i = 0; by != NULL && i < sizeof refusing / sizeof refusing[0]; i++)
        json_object_set_new(by, resil_stage_name(refusing[i]),
                            json_integer((json_int_t)st.rejected[refusing[i]]));
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "calls",
                     (json_int_t)st.calls, "ok", (json_int_t)st.ok, "cache_hits",
                     (json_int_t)st.cache_hits, "stale", (json_int_t)st.stale, "fallbacks",
                     (json_int_t)st.fallbacks, "failed", (json_int_t)st.failed, "attempts",
                     (json_int_t)st.attempts, "in_flight", (json_int_t)st.in_flight,
                     "rejected_by_stage", by);
}

struct st_walk {
    const struct app *a;
    const char *only; /* NULL: every service */
    json_t *list;
    int failed;
};

static int service_one(resil_service *s, void *ctx)
{
    struct st_walk *w = ctx;
    const char *name = resil_service_name(s);
    json_t *j;

    if (w->only != NULL && strcmp(w->only, name) != 0)
        return 0;
    j = json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", name, "breaker",
                  breaker_json(resil_service_breaker(s)), "limiter",
                  limiter_json(resil_service_limiter(s), service_config(w->a, name)), "cache",
                  cache_json(resil_service_cache(s)), "stats", stats_json(s));
    if (j == NULL || json_array_append_new(w->list, j) != 0) {
        w->failed = 1;
        return 1;
    }
    return 0;
}

/* ---- health and the whole ---------------------------------------------------- */

static json_t *check_json(const resil_health_check_info *ci)
{
    int ran = ci->runs > 0;

    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:I}", "name", ci->name, "status",
                     ran ? resil_health_status_name(ci->status) : "pending", "output",
                     ran ? ci->output : "not run yet", "observed_value",
                     isfinite(ci->observed_value) ? json_real(ci->observed_value)
                                                  : json_null(),
                     "observed_unit",
                     ci->observed_unit[0] != '\0' ? json_string(ci->observed_unit)
                                                  : json_null(),
                     "critical", ci->critical != 0, "runs", (json_int_t)ci->runs);
}

static json_t *health_json(resil_health *h)
{
    resil_health_check_info *info = NULL;
    size_t n = 0;
    json_t *checks, *out = NULL;

    if (h == NULL)
        return json_null();
    if (resil_health_snapshot(h, RESIL_HEALTH_BOTH, &info, &n) != 0)
        return NULL;
    checks = json_array();
    for (size_t i = 0; checks != NULL && i < n; i++) {
        if (json_array_append_new(checks, check_json(&info[i])) != 0)
            goto out_free;
    }
    out = json_pack("{s:s, s:s, s:O}", "status",
                    resil_health_status_name(resil_health_status_get(h, RESIL_HEALTH_READINESS)),
                    "liveness",
                    resil_health_status_name(resil_health_status_get(h, RESIL_HEALTH_LIVENESS)),
                    "checks", checks);
out_free:
    json_decref(checks);
    resil_free(info);
    return out;
}

static double uptime_seconds(const struct app *a)
{
    int64_t up = resil_clock_now(a->clock) - a->started_ns;

    return up > 0 ? (double)up / 1e9 : 0.0;
}

static json_t *status_json(struct app *a, const char *only)
{
    struct st_walk w = {.a = a, .only = only, .list = json_array()};
    json_t *health;

    if (w.list == NULL)
        return NULL;
    if (a->services != NULL)
        resil_services_foreach(a->services, service_one, &w);
    health = health_json(a->health);
    if (w.failed || health == NULL) {
        json_decref(w.list);
        json_decref(health);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:f, s:I}", "services", w.list, "health", health,
                     "uptime_seconds", uptime_seconds(a), "sessions",
                     (json_int_t)(a->sessions != NULL ? session_table_count(a->sessions) : 0));
}

/* ---- the tool ------------------------------------------------------------------ */

static int name_known(resil_service *s, void *ctx)
{
    return strcmp(resil_service_name(s), ctx) == 0;
}

static int append_name(resil_service *s, void *ctx)
{
    return json_array_append_new(ctx, json_string(resil_service_name(s))) != 0;
}

static json_t *unknown_service(struct app *a, const char *name)
{
    json_t *names = json_array(), *r;
    char *list;

    if (names != NULL && a->services != NULL)
        resil_services_foreach(a->services, append_name, names);
    list = json_dumps(names, JSON_COMPACT);
    r = mcp_result_errorf("argument 'service': no service named '%s' (known: %s)", name,
                          list != NULL ? list : "[]");
    free(list);
    json_decref(names);
    return r;
}

static int service_status(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    struct app *a = ctx;
    const char *only = json_string_value(json_object_get(args, "service"));
    json_t *sc;
    char *text;

    (void)c;
    *result = NULL;
    if (only != NULL && (a->services == NULL ||
                         resil_services_foreach(a->services, name_known, (void *)only) == 0)) {
        *result = unknown_service(a, only);
        return *result != NULL ? 0 : -1;
    }
    sc = status_json(a, only);
    if (sc == NULL)
        return -1;
    text = json_dumps(sc, JSON_COMPACT);
    if (text == NULL) {
        json_decref(sc);
        return -1;
    }
    *result = mcp_result_text(text, sc);
    free(text);
    return *result != NULL ? 0 : -1;
}

/* The input schema names the services this server has, so a client sees
 * the valid values and a wrong one is refused by validation. */
static char *input_schema(struct app *a)
{
    json_t *names = json_array(), *doc;
    char *s;

    if (names != NULL && a->services != NULL)
        resil_services_foreach(a->services, append_name, names);
    doc = json_pack("{s:s, s:{s:{s:s, s:s}}, s:b}", "type", "object", "properties",
                    "service", "type", "string", "description",
                    "only this service (default: all)", "additionalProperties", 0);
    if (doc != NULL && json_array_size(names) > 0 &&
        json_array_size(names) <= ST_MAX_SERVICES)
        json_object_set(json_object_get(json_object_get(doc, "properties"), "service"),
                        "enum", names);
    s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    json_decref(names);
    return s;
}

int tools_register_introspect(struct app *a, char *err, size_t errlen)
{
    char *in = input_schema(a);
    struct mcp_tool t = {
        .name = "service_status",
        .title = "Upstream service status",
        .description = st_description,
        .input_schema = in,
        .output_schema = st_output_schema,
        .annotations = st_annotations,
        .call = service_status,
        .ctx = a,
    };
    int rc;

    if (in == NULL) {
        snprintf(err, errlen, "service_status: out of memory building its input schema");
        return -1;
    }
    rc = mcp_server_add_tool(a->mcp, &t, err, errlen);
    free(in);
    return rc;
}
