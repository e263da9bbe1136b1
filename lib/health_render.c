/* The health report as application/health+json, after the IETF draft
 * "Health Check Response Format for HTTP APIs" (draft-inadarei-api-health-
 * check-06):
 *
 *   {"status":"warn","version":"1","releaseId":"1.2.0","serviceId":"api",
 *    "description":"...",
 *    "checks":{"cpu:utilization":[{"status":"warn","observedValue":91.5,
 *        "observedUnit":"percent","time":"2026-11-24T05:00:00.000Z",
 *        "output":"cpu 91.5 % >= 80 %","componentType":"system"}]}}
 *
 * Each check is an array of one object (the draft allows one per node of a
 * component; a registry is one node).  Keys without a value are left out:
 * observedValue when NaN, observedUnit and output when "", componentType
 * when not set, "checks" when there are none.  A check that has not
 * completed a run shows the status the aggregate counts it as and the
 * output "not run yet", without a time. */
#include "config.h"

#include "health_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *resil_health_content_type(void)
{
    return "application/health+json";
}

#ifdef RESIL_HAVE_JANSSON

#include <jansson.h>

/* json_object_set_new() takes the reference even when it fails; a failed
 * set or a NULL value shows up as a missing key, caught by `ok`. */
static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

static void jset_str(json_t *o, const char *k, const char *s, bool *ok)
{
    if (s)
        jset(o, k, json_string(s), ok);
}

/* RFC 3339 in UTC with milliseconds: "2026-11-24T05:00:00.000Z". */
static void rfc3339(int64_t ns, char *buf, size_t cap)
{
    int64_t sec = ns / RESIL_NS_PER_SEC;
    int64_t rem = ns % RESIL_NS_PER_SEC;
    if (rem < 0) { /* round towards the past for times before 1970 */
        rem += RESIL_NS_PER_SEC;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(rem / RESIL_NS_PER_MS));
}

static json_t *check_json(const hc_view *v, resil_health_kind want, bool *ok)
{
    const resil_health_check_info *in = &v->info;
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    resil_health_status st = resil__hc_effective(in->kind, in->runs, in->status, want);
    jset_str(o, "status", resil_health_status_name(st), ok);
    if (in->runs == 0) {
        jset_str(o, "output", "not run yet", ok);
    } else {
        if (!isnan(in->observed_value))
            jset(o, "observedValue", json_real(in->observed_value), ok);
        if (in->observed_unit[0])
            jset_str(o, "observedUnit", in->observed_unit, ok);
        char when[64];
        rfc3339(in->wall_time_ns, when, sizeof when);
        jset_str(o, "time", when, ok);
        if (in->output[0])
            jset_str(o, "output", in->output, ok);
    }
    if (v->ctype[0])
        jset_str(o, "componentType", v->ctype, ok);
    json_t *arr = json_array();
    if (!arr || json_array_append_new(arr, o) != 0) {
        *ok = false;
        if (!arr)
            json_decref(o);
    }
    return arr;
}

static json_t *report(const resil_health *h, const hc_view *v, size_t n,
                      resil_health_kind want, bool *ok)
{
    resil_health_status st = RESIL_HEALTH_PASS;
    for (size_t i = 0; i < n; i++)
        st = resil__hc_fold(st, resil__hc_effective(v[i].info.kind, v[i].info.runs,
                                                    v[i].info.status, want),
                            v[i].info.critical);
    json_t *root = json_object();
    if (!root) {
        *ok = false;
        return NULL;
    }
    jset_str(root, "status", resil_health_status_name(st), ok);
    jset_str(root, "version", h->version, ok);
    jset_str(root, "releaseId", h->release_id, ok);
    jset_str(root, "serviceId", h->service_id, ok);
    jset_str(root, "description", h->description, ok);
    if (n == 0)
        return root;
    json_t *checks = json_object();
    for (size_t i = 0; checks && *ok && i < n; i++)
        jset(checks, v[i].info.name, check_json(&v[i], want, ok), ok);
    jset(root, "checks", checks, ok);
    return root;
}

int resil_health_render(resil_health *h, resil_health_kind kind, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!h || !out || !resil__hc_kind_ok(kind))
        return RESIL_EINVAL;
    hc_view *v;
    size_t n;
    int rc = resil__hc_views(h, kind, &v, &n);
    if (rc != 0)
        return rc;
    bool ok = true;
    json_t *root = report(h, v, n, kind, &ok);
    resil__free(v);
    char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                           JSON_REAL_PRECISION(15))
                    : NULL;
    json_decref(root);
    if (!text)
        return RESIL_ENOMEM;
    return resil__json_hand_out(text, out, len);
}

#else /* !RESIL_HAVE_JANSSON */

int resil_health_render(resil_health *h, resil_health_kind kind, char **out, size_t *len)
{
    RESIL__UNUSED(h);
    RESIL__UNUSED(kind);
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    return RESIL_ENOTSUP;
}

#endif
