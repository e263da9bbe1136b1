/* The original system's alert rules:
 *
 *   HighCPU            warning   health "cpu:utilization" > 80 (%)
 *   HighMemory         critical  health "memory:utilization" > 85 (%)
 *   CircuitOpen:<b>    critical  breaker b open (state == 1), for_ns 0:
 *                                an open circuit pages at once
 *   HighErrorRate      warning   errors per minute over 60 s > 10
 *   LowSuccessRate     warning   successes / calls over 5 min < 0.95, once
 *                                there were min_calls calls
 */
#include "alert_internal.h"

#include <stdio.h>
#include <string.h>

void resil_alert_defaults_init(resil_alert_defaults *d)
{
    if (!d)
        return;
    *d = (resil_alert_defaults){
        .cpu_percent = 80,
        .memory_percent = 85,
        .errors_per_minute = 10,
        .success_ratio = 0.95,
        .min_calls = 20,
        .for_ns = 60 * RESIL_NS_PER_SEC,
    };
}

/* Names of the rules added so far, to take them back on failure. */
typedef struct added {
    char names[RESIL_ALERT_MAX_RULES][RESIL_ALERT_MAX_NAME];
    size_t n;
} added;

static int add(resil_alerts *a, const resil_alert_rule_opts *o, added *done, resil_error *err)
{
    if (done->n >= RESIL_ALERT_MAX_RULES)
        return resil__al_fail(err, RESIL_EFULL, 0, "an engine holds at most %d rules",
                              RESIL_ALERT_MAX_RULES);
    int rc = resil_alerts_rule_add(a, o, err);
    if (rc == 0)
        snprintf(done->names[done->n++], RESIL_ALERT_MAX_NAME, "%s", o->name);
    return rc;
}

static int add_health(resil_alerts *a, const resil_alert_defaults *d, added *done,
                      resil_error *err)
{
    resil_alert_rule_opts o;
    int rc = 0;
    if (!(d->disable & RESIL_ALERT_DEFAULT_CPU)) {
        resil_alert_rule_opts_init(&o);
        o.name = "HighCPU";
        o.subject = "system";
        o.severity = RESIL_ALERT_WARNING;
        o.source.type = RESIL_ALERT_SRC_HEALTH;
        o.source.health = d->health;
        o.source.check = "cpu:utilization";
        o.threshold = d->cpu_percent;
        o.for_ns = d->for_ns;
        o.summary = "High CPU use on {{subject}}: {{value}}% (threshold {{threshold}}%)";
        rc = add(a, &o, done, err);
    }
    if (rc == 0 && !(d->disable & RESIL_ALERT_DEFAULT_MEMORY)) {
        resil_alert_rule_opts_init(&o);
        o.name = "HighMemory";
        o.subject = "system";
        o.severity = RESIL_ALERT_CRITICAL;
        o.source.type = RESIL_ALERT_SRC_HEALTH;
        o.source.health = d->health;
        o.source.check = "memory:utilization";
        o.threshold = d->memory_percent;
        o.for_ns = d->for_ns;
        o.summary = "High memory use on {{subject}}: {{value}}% (threshold {{threshold}}%)";
        rc = add(a, &o, done, err);
    }
    return rc;
}

static int add_breaker(resil_alerts *a, resil_breaker *b, added *done, resil_error *err)
{
    if (!b)
        return resil__al_fail(err, RESIL_EINVAL, 0, "breakers[] holds a NULL breaker");
    const char *bn = resil_breaker_name(b);
    char name[RESIL_ALERT_MAX_NAME + 16];
    snprintf(name, sizeof name, "CircuitOpen:%s", bn);
    if (!resil__al_name_ok(bn, RESIL_ALERT_MAX_NAME) || strlen(name) >= RESIL_ALERT_MAX_NAME)
        return resil__al_fail(err, RESIL_EINVAL, 0,
                              "breaker \"%.64s\": a CircuitOpen rule needs a breaker name of "
                              "[A-Za-z0-9_.:-]+, at most %d bytes",
                              bn, RESIL_ALERT_MAX_NAME - 13);
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = name;
    o.subject = bn;
    o.severity = RESIL_ALERT_CRITICAL;
    o.source.type = RESIL_ALERT_SRC_BREAKER;
    o.source.breaker = b;
    o.cmp = RESIL_ALERT_EQ;
    o.threshold = RESIL_BREAKER_OPEN;
    o.for_ns = 0;
    o.summary = "Circuit breaker {{subject}} is open";
    return add(a, &o, done, err);
}

static int add_errors(resil_alerts *a, const resil_alert_defaults *d, added *done,
                      resil_error *err)
{
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = "HighErrorRate";
    o.subject = "errors";
    o.severity = RESIL_ALERT_WARNING;
    o.source.type = RESIL_ALERT_SRC_RATE;
    o.source.counter = d->errors;
    o.source.window_ns = 60 * RESIL_NS_PER_SEC;
    o.threshold = d->errors_per_minute;
    o.for_ns = d->for_ns;
    o.summary = "{{value}} errors per minute (threshold {{threshold}})";
    return add(a, &o, done, err);
}

static int add_success(resil_alerts *a, const resil_alert_defaults *d, added *done,
                       resil_error *err)
{
    resil_alert_rule_opts o;
    resil_alert_rule_opts_init(&o);
    o.name = "LowSuccessRate";
    o.subject = "errors";
    o.severity = RESIL_ALERT_WARNING;
    o.source.type = RESIL_ALERT_SRC_RATIO;
    o.source.counter = d->successes;
    o.source.denominator = d->calls;
    o.source.window_ns = 300 * RESIL_NS_PER_SEC;
    o.source.min_events = d->min_calls;
    o.cmp = RESIL_ALERT_LT;
    o.threshold = d->success_ratio;
    o.for_ns = d->for_ns;
    o.summary = "Success rate {{value}} over 5 minutes (threshold {{threshold}})";
    return add(a, &o, done, err);
}

static int add_all(resil_alerts *a, const resil_alert_defaults *d, added *done,
                   resil_error *err)
{
    int rc = 0;
    if (d->health)
        rc = add_health(a, d, done, err);
    bool breakers = d->nbreakers && !(d->disable & RESIL_ALERT_DEFAULT_BREAKERS);
    if (rc == 0 && breakers && !d->breakers)
        rc = resil__al_fail(err, RESIL_EINVAL, 0, "nbreakers is set but breakers is NULL");
    for (size_t i = 0; rc == 0 && breakers && i < d->nbreakers; i++)
        rc = add_breaker(a, d->breakers[i], done, err);
    if (rc == 0 && d->errors && !(d->disable & RESIL_ALERT_DEFAULT_ERRORS))
        rc = add_errors(a, d, done, err);
    bool success = !(d->disable & RESIL_ALERT_DEFAULT_SUCCESS);
    if (rc == 0 && success && !d->successes != !d->calls)
        rc = resil__al_fail(err, RESIL_EINVAL, 0,
                            "LowSuccessRate needs both successes and calls");
    if (rc == 0 && success && d->successes)
        rc = add_success(a, d, done, err);
    return rc;
}

int resil_alerts_add_defaults(resil_alerts *a, const resil_alert_defaults *d, resil_error *err)
{
    if (err)
        *err = (resil_error){0};
    if (!a || !d)
        return resil__al_fail(err, RESIL_EINVAL, 0, "engine and defaults are required");
    added *done = resil__calloc(1, sizeof *done);
    if (!done)
        return resil__al_fail(err, RESIL_ENOMEM, 0, "out of memory");
    int rc = add_all(a, d, done, err);
    if (rc != 0) {
        for (size_t i = 0; i < done->n; i++)
            (void)resil_alerts_rule_remove(a, done->names[i]);
    }
    resil__free(done);
    return rc;
}
