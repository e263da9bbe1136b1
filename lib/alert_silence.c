/* Silences: matchers that keep rules from notifying until they expire. */
#include "alert_internal.h"

#include <string.h>

/* NULL and "" match anything. */
static bool opt_name_ok(const char *s, size_t max)
{
    return !s || !*s || resil__al_name_ok(s, max);
}

static int check_silence(const resil_alert_silence *s)
{
    if (!opt_name_ok(s->rule, RESIL_ALERT_MAX_NAME) ||
        !opt_name_ok(s->subject, RESIL_ALERT_MAX_NAME))
        return RESIL_EINVAL;
    if (!s->label_name != !s->label_value)
        return RESIL_EINVAL;
    if (s->label_name) {
        size_t n = strlen(s->label_value);
        if (!resil__al_label_name_ok(s->label_name, RESIL_ALERT_MAX_LABEL_NAME) ||
            n >= RESIL_ALERT_MAX_LABEL_VALUE || !resil__al_utf8_ok(s->label_value, n))
            return RESIL_EINVAL;
    }
    if (s->comment) {
        size_t n = strlen(s->comment);
        if (n > 255 || !resil__al_utf8_ok(s->comment, n))
            return RESIL_EINVAL;
    }
    return 0;
}

/* src was checked to fit in dst by check_silence(). */
static void put(char *dst, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static int grow(resil_alerts *a)
{
    if (a->nsil < a->capsil)
        return 0;
    size_t cap = a->capsil ? a->capsil * 2 : 8;
    resil_alert_silence_info *p = resil__realloc(a->silences, cap * sizeof *p);
    if (!p)
        return RESIL_ENOMEM;
    a->silences = p;
    a->capsil = cap;
    return 0;
}

int resil_alerts_silence_add(resil_alerts *a, const resil_alert_silence *s, uint64_t *id)
{
    if (id)
        *id = 0;
    if (!a || !s || check_silence(s) != 0)
        return RESIL_EINVAL;
    int64_t now = resil_clock_now(a->clock);
    if (s->expires_ns <= now)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    int rc = a->nsil >= RESIL_ALERT_MAX_SILENCES ? RESIL_EFULL : grow(a);
    if (rc != 0) {
        pthread_mutex_unlock(&a->mu);
        return rc;
    }
    resil_alert_silence_info *si = &a->silences[a->nsil++];
    memset(si, 0, sizeof *si);
    si->id = ++a->next_sil_id;
    put(si->rule, s->rule);
    put(si->subject, s->subject);
    put(si->label_name, s->label_name);
    put(si->label_value, s->label_value);
    put(si->comment, s->comment);
    si->expires_ns = s->expires_ns;
    uint64_t nid = si->id;
    pthread_mutex_unlock(&a->mu);
    if (id)
        *id = nid;
    return 0;
}

int resil_alerts_silence_remove(resil_alerts *a, uint64_t id)
{
    if (!a)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    size_t i = 0;
    while (i < a->nsil && a->silences[i].id != id)
        i++;
    bool found = i < a->nsil;
    if (found) {
        memmove(&a->silences[i], &a->silences[i + 1], (a->nsil - i - 1) * sizeof *a->silences);
        a->nsil--;
    }
    pthread_mutex_unlock(&a->mu);
    return found ? 0 : RESIL_ENOENT;
}

int resil_alerts_silences(resil_alerts *a, resil_alert_silence_info **out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!a || !out || !n)
        return RESIL_EINVAL;
    pthread_mutex_lock(&a->mu);
    size_t count = a->nsil;
    resil_alert_silence_info *arr = count ? resil__malloc(count * sizeof *arr) : NULL;
    if (count && !arr) {
        pthread_mutex_unlock(&a->mu);
        return RESIL_ENOMEM;
    }
    if (count)
        memcpy(arr, a->silences, count * sizeof *arr);
    pthread_mutex_unlock(&a->mu);
    *out = arr;
    *n = count;
    return 0;
}

static bool has_label(const resil_alert_info *in, const char *name, const char *value)
{
    for (size_t i = 0; i < in->nlabels; i++) {
        if (strcmp(in->labels[i].name, name) == 0)
            return strcmp(in->labels[i].value, value) == 0;
    }
    return false;
}

static bool matches(const resil_alert_silence_info *s, const resil_alert_info *in)
{
    return (!s->rule[0] || strcmp(s->rule, in->name) == 0) &&
           (!s->subject[0] || strcmp(s->subject, in->subject) == 0) &&
           (!s->label_name[0] || has_label(in, s->label_name, s->label_value));
}

bool resil__al_silenced(const resil_alerts *a, const resil_alert_info *in, int64_t now)
{
    for (size_t i = 0; i < a->nsil; i++) {
        if (a->silences[i].expires_ns > now && matches(&a->silences[i], in))
            return true;
    }
    return false;
}

void resil__al_silences_expire(resil_alerts *a, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < a->nsil; i++) {
        if (a->silences[i].expires_ns > now)
            a->silences[k++] = a->silences[i];
    }
    a->nsil = k;
}
