/* Summary templates: parsed once when the rule is added into literal and
 * variable segments, rendered at every evaluation without allocating. */
#include "alert_internal.h"

#include <stdio.h>
#include <string.h>

enum {
    SEG_TEXT,
    SEG_NAME,
    SEG_SUBJECT,
    SEG_SEVERITY,
    SEG_VALUE,
    SEG_THRESHOLD,
    SEG_LABEL,
};

typedef struct al_seg {
    uint32_t kind;
    uint32_t label; /* SEG_LABEL: index into the rule's labels */
    size_t off, len; /* SEG_TEXT: bytes of text */
} al_seg;

struct al_tmpl {
    size_t nsegs;
    char *text; /* the template's copy, in the same block */
    al_seg segs[];
};

static const struct {
    const char *name;
    uint32_t kind;
} k_vars[] = {
    {"name", SEG_NAME},         {"subject", SEG_SUBJECT},     {"severity", SEG_SEVERITY},
    {"value", SEG_VALUE},       {"threshold", SEG_THRESHOLD},
};

/* The variable named by s[0..n), or -1. */
static int var_of(const char *s, size_t n, const resil_alert_label *labels, size_t nlabels,
                  al_seg *seg)
{
    for (size_t i = 0; i < sizeof k_vars / sizeof k_vars[0]; i++) {
        if (strlen(k_vars[i].name) == n && memcmp(k_vars[i].name, s, n) == 0) {
            seg->kind = k_vars[i].kind;
            return 0;
        }
    }
    static const char prefix[] = "labels.";
    size_t pn = sizeof prefix - 1;
    if (n <= pn || memcmp(s, prefix, pn) != 0)
        return -1;
    for (size_t i = 0; i < nlabels; i++) {
        if (strlen(labels[i].name) == n - pn && memcmp(labels[i].name, s + pn, n - pn) == 0) {
            seg->kind = SEG_LABEL;
            seg->label = (uint32_t)i;
            return 0;
        }
    }
    return -1;
}

static void emit(al_seg *segs, size_t *n, al_seg seg)
{
    if (segs)
        segs[*n] = seg;
    (*n)++;
}

/* One "{{ ... }}" at src[i]; sets *end past it. */
static int scan_var(const char *src, size_t i, const resil_alert_label *labels, size_t nlabels,
                    al_seg *seg, size_t *end, resil_error *err)
{
    const char *close = strstr(src + i + 2, "}}");
    if (!close)
        return resil__al_fail(err, RESIL_EPARSE, (int)i + 1,
                              "summary: \"{{\" at column %zu has no closing \"}}\"", i + 1);
    size_t b = i + 2, e = (size_t)(close - src);
    while (b < e && src[b] == ' ')
        b++;
    while (e > b && src[e - 1] == ' ')
        e--;
    if (var_of(src + b, e - b, labels, nlabels, seg) != 0)
        return resil__al_fail(err, RESIL_EPARSE, (int)i + 1,
                              "summary: unknown variable \"%.*s\" at column %zu (use name, "
                              "subject, severity, value, threshold or labels.NAME of a "
                              "label of the rule)",
                              (int)(e - b), src + b, i + 1);
    *end = (size_t)(close - src) + 2;
    return 0;
}

/* Count (segs NULL) or fill the segments of src. */
static int scan(const char *src, const resil_alert_label *labels, size_t nlabels,
                al_seg *segs, size_t *nsegs, resil_error *err)
{
    size_t len = strlen(src), i = 0, lit = 0, n = 0;
    while (i < len) {
        if (src[i] != '{' || src[i + 1] != '{') {
            i++;
            continue;
        }
        if (i > lit)
            emit(segs, &n, (al_seg){.kind = SEG_TEXT, .off = lit, .len = i - lit});
        al_seg seg = {0};
        int rc = scan_var(src, i, labels, nlabels, &seg, &i, err);
        if (rc != 0)
            return rc;
        emit(segs, &n, seg);
        lit = i;
    }
    if (len > lit)
        emit(segs, &n, (al_seg){.kind = SEG_TEXT, .off = lit, .len = len - lit});
    *nsegs = n;
    return 0;
}

int resil__al_tmpl_parse(const char *src, const resil_alert_label *labels, size_t nlabels,
                         al_tmpl **out, resil_error *err)
{
    *out = NULL;
    size_t len = strlen(src), nsegs;
    if (!resil__al_utf8_ok(src, len)) {
        size_t at = resil__al_utf8_prefix(src, len);
        return resil__al_fail(err, RESIL_EPARSE, (int)at + 1,
                              "summary: invalid UTF-8 at column %zu", at + 1);
    }
    int rc = scan(src, labels, nlabels, NULL, &nsegs, err);
    if (rc != 0)
        return rc;
    al_tmpl *t = resil__malloc(sizeof *t + nsegs * sizeof t->segs[0] + len + 1);
    if (!t)
        return resil__al_fail(err, RESIL_ENOMEM, 0, "out of memory");
    t->nsegs = nsegs;
    t->text = (char *)&t->segs[nsegs];
    memcpy(t->text, src, len + 1);
    (void)scan(t->text, labels, nlabels, t->segs, &nsegs, NULL);
    *out = t;
    return 0;
}

void resil__al_tmpl_free(al_tmpl *t)
{
    resil__free(t);
}

/* Appends what fits; false when s was cut (the rest is dropped too). */
static bool append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    size_t room = cap - 1 - *len;
    bool whole = n <= room;
    if (!whole) {
        n = room;
        /* s[n] would be the first byte left out: back up to a lead byte */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return whole;
}

static size_t seg_text(const al_tmpl *t, const al_seg *sg, const resil_alert_info *in,
                       char *num, size_t numcap, const char **s)
{
    switch (sg->kind) {
    case SEG_TEXT:
        *s = t->text + sg->off;
        return sg->len;
    case SEG_NAME:
        *s = in->name;
        break;
    case SEG_SUBJECT:
        *s = in->subject;
        break;
    case SEG_SEVERITY:
        *s = resil_alert_severity_name(in->severity);
        break;
    case SEG_VALUE:
        if (!in->has_value) {
            *s = "n/a";
            break;
        }
        snprintf(num, numcap, "%.4g", in->value);
        *s = num;
        break;
    case SEG_THRESHOLD:
        snprintf(num, numcap, "%.4g", in->threshold);
        *s = num;
        break;
    default:
        *s = in->labels[sg->label].value;
        break;
    }
    return strlen(*s);
}

void resil__al_tmpl_render(const al_tmpl *t, resil_alert_info *in)
{
    char out[RESIL_ALERT_MAX_SUMMARY];
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->nsegs; i++) {
        char num[32];
        const char *s;
        size_t n = seg_text(t, &t->segs[i], in, num, sizeof num, &s);
        if (!append(out, sizeof out, &len, s, n))
            break;
    }
    memcpy(in->summary, out, len + 1);
}
