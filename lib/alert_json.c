/* JSON for alert events and the dashboard view (jansson), and the log
 * notifier.
 *
 *   event:  {"seq":3,"time":"2026-01-02T03:04:05.678Z","alert":"HighCPU",
 *            "subject":"system","severity":"warning","state":"firing",
 *            "from":"pending","repeat":false,"value":91.5,"threshold":80,
 *            "summary":"...","labels":{"team":"ops"},"silenced":false,
 *            "inhibited":false}
 *   render: {"active":[alert...],"history":[event...],"silences":[...]}
 *   alert:  {"alert","subject","severity","state","value","threshold",
 *            "cmp",">","active_since_ns","fired_at_ns","resolved_at_ns",
 *            "last_eval_ns","summary","labels","silenced","inhibited"}
 *   silence: {"id","rule","subject","label_name","label_value",
 *             "expires_ns","comment"} with null for a matcher not given */
#include "config.h"

#include "alert_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* RFC 3339 UTC with milliseconds: "2026-01-02T03:04:05.678Z". */
static void rfc3339(int64_t wall_ns, char *buf, size_t cap)
{
    int64_t ms = wall_ns / RESIL_NS_PER_MS;
    if (wall_ns % RESIL_NS_PER_MS < 0)
        ms--; /* floor, for times before the epoch */
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

#ifdef RESIL_HAVE_JANSSON

#include <jansson.h>

static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

static void jpush(json_t *arr, json_t *v, bool *ok)
{
    if (!v || json_array_append_new(arr, v) != 0)
        *ok = false;
}

static json_t *jnum(double v)
{
    json_t *j = json_real(v); /* NULL for NaN and infinities */
    return j ? j : json_null();
}

static json_t *jopt(const char *s)
{
    return *s ? json_string(s) : json_null();
}

static const char *cmp_op(resil_alert_cmp c)
{
    static const char *const ops[] = {">", ">=", "<", "<=", "==", "!="};
    return (unsigned)c < 6 ? ops[c] : "?";
}

static json_t *labels_json(const resil_alert_info *in, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < in->nlabels && i < RESIL_ALERT_MAX_LABELS; i++)
        jset(o, in->labels[i].name, json_string(in->labels[i].value), ok);
    return o;
}

/* The fields an alert and an event share. */
static void alert_fields(json_t *o, const resil_alert_info *in, bool *ok)
{
    jset(o, "alert", json_string(in->name), ok);
    jset(o, "subject", json_string(in->subject), ok);
    jset(o, "severity", json_string(resil_alert_severity_name(in->severity)), ok);
    jset(o, "state", json_string(resil_alert_state_name(in->state)), ok);
    jset(o, "value", in->has_value ? jnum(in->value) : json_null(), ok);
    jset(o, "threshold", jnum(in->threshold), ok);
    jset(o, "summary", json_string(in->summary), ok);
    jset(o, "labels", labels_json(in, ok), ok);
    jset(o, "silenced", json_boolean(in->silenced), ok);
    jset(o, "inhibited", json_boolean(in->inhibited), ok);
}

static json_t *event_obj(const resil_alert_event *ev, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    char when[64];
    rfc3339(ev->wall_ns, when, sizeof when);
    jset(o, "seq", json_integer((json_int_t)ev->seq), ok);
    jset(o, "time", json_string(when), ok);
    alert_fields(o, &ev->alert, ok);
    jset(o, "state", json_string(resil_alert_state_name(ev->to)), ok);
    jset(o, "from", json_string(resil_alert_state_name(ev->from)), ok);
    jset(o, "repeat", json_boolean(ev->repeat), ok);
    return o;
}

static json_t *alert_obj(const resil_alert_info *in, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    alert_fields(o, in, ok);
    jset(o, "cmp", json_string(cmp_op(in->cmp)), ok);
    jset(o, "active_since_ns", json_integer(in->active_since_ns), ok);
    jset(o, "fired_at_ns", json_integer(in->fired_at_ns), ok);
    jset(o, "resolved_at_ns", json_integer(in->resolved_at_ns), ok);
    jset(o, "last_eval_ns", json_integer(in->last_eval_ns), ok);
    return o;
}

static json_t *silence_obj(const resil_alert_silence_info *s, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    jset(o, "id", json_integer((json_int_t)s->id), ok);
    jset(o, "rule", jopt(s->rule), ok);
    jset(o, "subject", jopt(s->subject), ok);
    jset(o, "label_name", jopt(s->label_name), ok);
    jset(o, "label_value", s->label_name[0] ? json_string(s->label_value) : json_null(), ok);
    jset(o, "expires_ns", json_integer(s->expires_ns), ok);
    jset(o, "comment", json_string(s->comment), ok);
    return o;
}

/* Dump root (consumed) into memory resil_free() releases. */
static int hand_out(json_t *root, bool ok, char **out, size_t *len)
{
    char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(root);
    if (!text)
        return RESIL_ENOMEM;
    return resil__json_hand_out(text, out, len);
}

int resil_alert_event_json(const resil_alert_event *ev, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!ev || !out)
        return RESIL_EINVAL;
    bool ok = true;
    json_t *o = event_obj(ev, &ok);
    return hand_out(o, ok && o, out, len);
}

/* The three listings, taken one after the other (each consistent). */
typedef struct al_view {
    resil_alert_info *active;
    size_t nactive;
    resil_alert_event *hist;
    size_t nhist;
    resil_alert_silence_info *sil;
    size_t nsil;
} al_view;

static void view_free(al_view *v)
{
    resil__free(v->active);
    resil__free(v->hist);
    resil__free(v->sil);
}

static json_t *view_json(const al_view *v, bool *ok)
{
    json_t *root = json_object(), *act = json_array(), *hist = json_array(),
           *sil = json_array();
    for (size_t i = 0; act && i < v->nactive; i++)
        jpush(act, alert_obj(&v->active[i], ok), ok);
    for (size_t i = 0; hist && i < v->nhist; i++)
        jpush(hist, event_obj(&v->hist[i], ok), ok);
    for (size_t i = 0; sil && i < v->nsil; i++)
        jpush(sil, silence_obj(&v->sil[i], ok), ok);
    if (!root) {
        json_decref(act);
        json_decref(hist);
        json_decref(sil);
        *ok = false;
        return NULL;
    }
    jset(root, "active", act, ok);
    jset(root, "history", hist, ok);
    jset(root, "silences", sil, ok);
    return root;
}

int resil_alerts_render(resil_alerts *a, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!a || !out)
        return RESIL_EINVAL;
    al_view v = {0};
    int rc = resil_alerts_active(a, &v.active, &v.nactive);
    if (rc == 0)
        rc = resil_alerts_history(a, &v.hist, &v.nhist);
    if (rc == 0)
        rc = resil_alerts_silences(a, &v.sil, &v.nsil);
    if (rc != 0) {
        view_free(&v);
        return rc;
    }
    bool ok = true;
    json_t *root = view_json(&v, &ok);
    view_free(&v);
    return hand_out(root, ok && root, out, len);
}

#else /* !RESIL_HAVE_JANSSON */

int resil_alert_event_json(const resil_alert_event *ev, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    return ev && out ? RESIL_ENOTSUP : RESIL_EINVAL;
}

int resil_alerts_render(resil_alerts *a, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    return a && out ? RESIL_ENOTSUP : RESIL_EINVAL;
}

#endif

/* Without JSON (no jansson, no memory): a plain line from the stack. */
static void log_plain(const resil_alert_event *ev, FILE *f)
{
    char when[64], line[RESIL_ALERT_MAX_SUMMARY + 512];
    rfc3339(ev->wall_ns, when, sizeof when);
    int n = snprintf(line, sizeof line, "%s alert seq=%llu %s %s %s->%s%s: %s\n", when,
                     (unsigned long long)ev->seq, ev->alert.name,
                     resil_alert_severity_name(ev->alert.severity),
                     resil_alert_state_name(ev->from), resil_alert_state_name(ev->to),
                     ev->repeat ? " (repeat)" : "", ev->alert.summary);
    if (n > 0)
        fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, f);
}

void resil_alert_notify_log(const resil_alert_event *ev, void *ctx)
{
    FILE *f = ctx ? ctx : stderr;
    if (!ev)
        return;
    char *json;
    size_t len;
    if (resil_alert_event_json(ev, &json, &len) != 0) {
        log_plain(ev, f);
        return;
    }
    /* One fwrite of the whole line: stdio locks the stream per call, so
     * lines from different threads never interleave. */
    char *line = resil__malloc(len + 1);
    if (!line) {
        resil__free(json);
        log_plain(ev, f);
        return;
    }
    memcpy(line, json, len);
    line[len] = '\n';
    fwrite(line, 1, len + 1, f);
    fflush(f);
    resil__free(line);
    resil__free(json);
}
