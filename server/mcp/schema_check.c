/* Validation against a schema compiled by schema.c, and the failure
 * messages a model reads (see schema.h).  Read-only on the compiled
 * schema, so any number of threads may validate at once. */
#include "schema_int.h"

#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL(n) ((n) == 1 ? "" : "s") /* plural ending */

const struct schema__type schema__types[7] = {
    {"string", T_STR}, {"integer", T_INT}, {"number", T_NUM}, {"boolean", T_BOOL},
    {"object", T_OBJ}, {"array", T_ARR},   {"null", T_NULL},
};

/* ---- values ---- */

const char *schema__type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* 2020-12 (validation 6.1.1): a number with a zero fractional part is an
 * integer, so 5.0 passes "type": "integer". */
static unsigned type_bits(const json_t *j)
{
    double d;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return T_OBJ;
    case JSON_ARRAY:
        return T_ARR;
    case JSON_STRING:
        return T_STR;
    case JSON_INTEGER:
        return T_INT | T_NUM;
    case JSON_REAL:
        d = json_real_value(j);
        return d == floor(d) ? T_INT | T_NUM : T_NUM;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    default:
        return T_NULL;
    }
}

/* Exact when both are integers, as doubles otherwise. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

/* JSON Schema equality (core 4.2.2): 1 equals 1.0, unlike json_equal. */
static int jeq(const json_t *a, const json_t *b, int depth)
{
    const char *key;
    json_t *va;
    size_t i;
    if (depth > MAX_DEPTH)
        return 0;
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (i = 0; i < json_array_size(a); i++)
            if (!jeq(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach((json_t *)a, key, va)
        {
            const json_t *vb = json_object_get(b, key);
            if (!vb || !jeq(va, vb, depth + 1))
                return 0;
        }
        return 1;
    }
    return json_is_string(a) ? json_equal((json_t *)a, (json_t *)b) : 1;
}

void schema__sb_num(struct sb *b, const json_t *j)
{
    char t[40];
    double d = json_real_value(j);
    if (json_is_integer(j)) {
        sb_add(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return;
    }
    snprintf(t, sizeof t, "%.15g", d);
    if (strtod(t, NULL) != d) /* shortest of the two that round-trips */
        snprintf(t, sizeof t, "%.17g", d);
    sb_add(b, "%s", t);
}

/* The value as compact JSON, cut after SHOW_BYTES. */
static void sb_value(struct sb *b, const json_t *j)
{
    char *s;
    size_t n;
    if (json_is_number(j)) {
        schema__sb_num(b, j);
        return;
    }
    s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        sb_add(b, "(%s)", schema__type_name(j));
        return;
    }
    n = strlen(s);
    if (n > SHOW_BYTES)
        sb_add(b, "%.*s...", (int)utf8_cut(s, SHOW_BYTES - 3), s);
    else
        sb_add(b, "%s", s);
    free(s);
}
/* ---- validation: context, paths and messages ---- */

struct seg {
    const char *key; /* NULL: an array index */
    size_t idx;
};

struct vctx {
    const char *what;
    char *msg;
    size_t msglen;
    int quiet; /* trying an alternative: failures write nothing */
    int depth, frames;
    struct seg path[MAX_DEPTH];
};

static int check(struct vctx *v, const struct node *n, const json_t *j);

static void sb_path(struct sb *b, const struct vctx *v, const char *extra)
{
    for (int i = 0; i < v->depth; i++) {
        if (v->path[i].key)
            sb_add(b, i ? ".%s" : "%s", v->path[i].key);
        else
            sb_add(b, "[%zu]", v->path[i].idx);
    }
    if (extra)
        sb_add(b, v->depth ? ".%s" : "%s", extra);
}

/* Starts a message "<what> '<path>': " (or "arguments: " at the root);
 * 0 when quiet, so the caller just returns -1. */
static int fail_begin(struct vctx *v, struct sb *b)
{
    if (v->quiet)
        return 0;
    sb_init(b, v->msg, v->msglen);
    if (v->depth == 0) {
        sb_add(b, "%s: ", strcmp(v->what, "argument") == 0 ? "arguments" : v->what);
        return 1;
    }
    sb_add(b, "%s '", v->what);
    sb_path(b, v, NULL);
    sb_add(b, "': ");
    return 1;
}

static int fail_end(struct sb *b)
{
    sb_finish(b);
    return -1;
}

__attribute__((format(printf, 2, 3))) static int fail(struct vctx *v, const char *fmt,
                                                      ...)
{
    struct sb b;
    va_list ap;
    if (!fail_begin(v, &b))
        return -1;
    va_start(ap, fmt);
    sb_vadd(&b, fmt, ap);
    va_end(ap);
    return fail_end(&b);
}

static int fail_type(struct vctx *v, unsigned want, const json_t *j)
{
    struct sb b;
    size_t total = 0, k = 0, i;
    if (!fail_begin(v, &b))
        return -1;
    for (i = 0; i < sizeof schema__types / sizeof schema__types[0]; i++)
        total += (want & schema__types[i].bit) != 0;
    sb_add(&b, "expected ");
    for (i = 0; i < sizeof schema__types / sizeof schema__types[0]; i++) {
        if (!(want & schema__types[i].bit))
            continue;
        sb_add(&b, "%s%s",
               k == 0           ? ""
               : k + 1 == total ? " or "
                                : ", ",
               schema__types[i].name);
        k++;
    }
    sb_add(&b, ", got %s", schema__type_name(j));
    return fail_end(&b);
}

static int fail_enum(struct vctx *v, const json_t *enumv, const json_t *j)
{
    struct sb b;
    size_t i, start;
    const json_t *e;
    if (!fail_begin(v, &b))
        return -1;
    sb_value(&b, j);
    sb_add(&b, " is not one of the allowed values: ");
    start = b.len;
    json_array_foreach(enumv, i, e)
    {
        if (i == LIST_ITEMS || b.len - start > LIST_BYTES) {
            sb_add(&b, ", ... (%zu more)", json_array_size(enumv) - i);
            break;
        }
        sb_add(&b, "%s", i ? ", " : "");
        sb_value(&b, e);
    }
    return fail_end(&b);
}

static int fail_const(struct vctx *v, const json_t *want, const json_t *j)
{
    struct sb b;
    if (!fail_begin(v, &b))
        return -1;
    sb_add(&b, "expected exactly ");
    sb_value(&b, want);
    sb_add(&b, ", got ");
    sb_value(&b, j);
    return fail_end(&b);
}

/* "<value> <text> <bound>", e.g. "500 is above the maximum 100". */
static int fail_num(struct vctx *v, const json_t *j, const char *text,
                    const json_t *bound)
{
    struct sb b;
    if (!fail_begin(v, &b))
        return -1;
    schema__sb_num(&b, j);
    sb_add(&b, " %s ", text);
    schema__sb_num(&b, bound);
    return fail_end(&b);
}

static int fail_missing(struct vctx *v, const char *name, const char *because)
{
    struct sb b;
    if (v->quiet)
        return -1;
    sb_init(&b, v->msg, v->msglen);
    sb_add(&b, "missing required %s '", v->what);
    sb_path(&b, v, name);
    sb_add(&b, "'");
    if (because) {
        sb_add(&b, " (required when '");
        sb_path(&b, v, because);
        sb_add(&b, "' is present)");
    }
    return fail_end(&b);
}

static int fail_unexpected(struct vctx *v, const struct node *n, const char *key)
{
    struct sb b;
    size_t i, start;
    if (v->quiet)
        return -1;
    sb_init(&b, v->msg, v->msglen);
    sb_add(&b, "unexpected %s '", v->what);
    sb_path(&b, v, key);
    sb_add(&b, "' (allowed: ");
    start = b.len;
    if (n->nprops == 0)
        sb_add(&b, "none");
    for (i = 0; i < n->nprops; i++) {
        if (i == LIST_ITEMS || b.len - start > LIST_BYTES) {
            sb_add(&b, ", ... (%zu more)", n->nprops - i);
            break;
        }
        sb_add(&b, "%s%s", i ? ", " : "", n->pnames[i]);
    }
    sb_add(&b, ")");
    return fail_end(&b);
}

/* After the first alternative failed (its message is in msg) and the
 * others failed quietly: "<label>: <text>; the first failed with: <msg>". */
static int fail_wrap(struct vctx *v, const char *text, size_t nalt)
{
    struct sb b;
    char *inner;
    if (v->quiet)
        return -1;
    inner = strdup(v->msg);
    fail_begin(v, &b);
    sb_add(&b, "does not match any of the %zu alternatives of %s", nalt, text);
    if (inner && *inner)
        sb_add(&b, "; the first failed with: %s", inner);
    free(inner);
    return fail_end(&b);
}

/* ---- validation: formats ---- */

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* RFC 3986 loosely: a scheme, a colon, and no character that a URI can
 * never contain unescaped. */
static int uri_ok(const char *s)
{
    const char *p = s;
    if (!is_alpha((unsigned char)*p))
        return 0;
    while (is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) || *p == '+' ||
           *p == '-' || *p == '.')
        p++;
    if (*p != ':')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("<>\"{}|\\^`", *p))
            return 0;
    return 1;
}

static int digits(const char **p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!is_digit((unsigned char)**p))
            return 0;
        *out = *out * 10 + (**p - '0');
    }
    return 1;
}

static int take(const char **p, const char *any)
{
    if (!**p || !strchr(any, **p))
        return 0;
    (*p)++;
    return 1;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* RFC 3339 section 5.6 date-time, e.g. 2024-01-31T12:00:00.5+01:00. */
static int date_time_ok(const char *p)
{
    int y, mo, d, h, mi, s, oh = 0, om = 0;
    if (!digits(&p, 4, &y) || !take(&p, "-") || !digits(&p, 2, &mo) || !take(&p, "-") ||
        !digits(&p, 2, &d) || !take(&p, "Tt") || !digits(&p, 2, &h) || !take(&p, ":") ||
        !digits(&p, 2, &mi) || !take(&p, ":") || !digits(&p, 2, &s))
        return 0;
    if (take(&p, ".")) {
        if (!is_digit((unsigned char)*p))
            return 0;
        while (is_digit((unsigned char)*p))
            p++;
    }
    if (!take(&p, "Zz") &&
        !(take(&p, "+-") && digits(&p, 2, &oh) && take(&p, ":") && digits(&p, 2, &om)))
        return 0;
    return *p == '\0' && mo >= 1 && mo <= 12 && d >= 1 && d <= month_days(y, mo) &&
           h < 24 && mi < 60 && s <= 60 && oh < 24 && om < 60;
}

/* Loosely: one @, something on each side, no spaces or controls, and a
 * domain without empty labels at its ends or in between. */
static int email_ok(const char *s)
{
    const char *at = strchr(s, '@'), *dom;
    size_t n;
    if (!at || at == s || strchr(at + 1, '@'))
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return 0;
    dom = at + 1;
    n = strlen(dom);
    return n > 0 && dom[0] != '.' && dom[n - 1] != '.' && !strstr(dom, "..");
}

/* ---- validation: per type ---- */

/* glibc's REG_STARTEND matches the whole string, also past a \u0000. */
static int regex_ok(const regex_t *re, const char *s, size_t len)
{
#ifdef REG_STARTEND
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)len}};
    return regexec(re, s, 1, m, REG_STARTEND) == 0;
#else
    (void)len;
    return regexec(re, s, 0, NULL, 0) == 0;
#endif
}

static int check_string(struct vctx *v, const struct node *n, const json_t *j)
{
    static const char *const desc[] = {
        "", "uri (an absolute URI such as https://example.com/x)",
        "date-time (RFC 3339, such as 2024-01-31T12:00:00Z)", "email address"};
    const char *s = json_string_value(j);
    size_t bytes = json_string_length(j), cp = 0;
    int ok;
    struct sb b;
    for (size_t i = 0; (n->min_len >= 0 || n->max_len >= 0) && i < bytes; i++)
        cp += ((unsigned char)s[i] & 0xC0) !=
              0x80; /* code points: non-continuation bytes */
    if (n->min_len >= 0 && cp < (size_t)n->min_len)
        return fail(v, "must be at least %lld character%s long, got %zu", n->min_len,
                    PL(n->min_len), cp);
    if (n->max_len >= 0 && cp > (size_t)n->max_len)
        return fail(v, "must be at most %lld character%s long, got %zu", n->max_len,
                    PL(n->max_len), cp);
    if (n->has_re && !regex_ok(&n->re, s, bytes)) {
        if (!fail_begin(v, &b))
            return -1;
        sb_value(&b, j);
        sb_add(&b, " does not match the pattern '%s'", n->pattern);
        return fail_end(&b);
    }
    if (n->format == F_NONE)
        return 0;
    ok = strlen(s) == bytes; /* a \u0000 is never part of a uri, date-time or email */
    if (ok)
        ok = n->format == F_URI         ? uri_ok(s)
             : n->format == F_DATE_TIME ? date_time_ok(s)
                                        : email_ok(s);
    if (ok || !fail_begin(v, &b))
        return ok ? 0 : -1;
    sb_value(&b, j);
    sb_add(&b, " is not a valid %s", desc[n->format]);
    return fail_end(&b);
}

static int multiple_ok(const json_t *j, const json_t *m)
{
    double q;
    if (json_is_integer(j) && json_is_integer(m)) /* m > 0: checked at compile */
        return json_integer_value(j) % json_integer_value(m) == 0;
    q = json_number_value(j) / json_number_value(m);
    /* Decimal fractions are inexact in binary: 0.3 / 0.1 is 2.9999999999999996. */
    return isfinite(q) && fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
}

static int check_number(struct vctx *v, const struct node *n, const json_t *j)
{
    if (n->min && num_cmp(j, n->min) < 0)
        return fail_num(v, j, "is below the minimum", n->min);
    if (n->max && num_cmp(j, n->max) > 0)
        return fail_num(v, j, "is above the maximum", n->max);
    if (n->xmin && num_cmp(j, n->xmin) <= 0)
        return fail_num(v, j, "is not above the exclusive minimum", n->xmin);
    if (n->xmax && num_cmp(j, n->xmax) >= 0)
        return fail_num(v, j, "is not below the exclusive maximum", n->xmax);
    if (n->mult && !multiple_ok(j, n->mult))
        return fail_num(v, j, "is not a multiple of", n->mult);
    return 0;
}

/* Validate a child value one level down (key, or idx when key is NULL). */
static int child(struct vctx *v, const struct node *n, const json_t *j, const char *key,
                 size_t idx)
{
    int rc;
    if (v->depth >= MAX_DEPTH)
        return fail(v, "nested deeper than %d levels", MAX_DEPTH);
    v->path[v->depth].key = key;
    v->path[v->depth].idx = idx;
    v->depth++;
    rc = check(v, n, j);
    v->depth--;
    return rc;
}

static int check_name(struct vctx *v, const struct node *names, const char *key)
{
    struct vctx sub = {.what = "property name", .quiet = v->quiet, .frames = v->frames};
    json_t *s = json_string(key);
    char *inner = v->quiet ? NULL : calloc(1, v->msglen);
    int rc = -1;
    if (!s || (!v->quiet && !inner)) {
        fail(v, "out of memory checking the property name '%s'", key);
        goto out_free;
    }
    sub.msg = inner;
    sub.msglen = v->msglen;
    rc = check(&sub, names, s);
    if (rc != 0)
        fail(v, "invalid %s", inner ? inner : "");
out_free:
    json_decref(s);
    free(inner);
    return rc;
}

static int check_props(struct vctx *v, const struct node *n, const json_t *j)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val)
    {
        const struct node *p = NULL;
        for (size_t i = 0; !p && i < n->nprops; i++)
            p = strcmp(n->pnames[i], key) == 0 ? n->pnodes[i] : NULL;
        if (n->names && check_name(v, n->names, key) != 0)
            return -1;
        if (!p && n->addl && n->addl->boolean == 0)
            return fail_unexpected(v, n, key);
        if (!p)
            p = n->addl;
        if (p && child(v, p, val, key, 0) != 0)
            return -1;
    }
    return 0;
}

static int check_object(struct vctx *v, const struct node *n, const json_t *j)
{
    size_t cnt = json_object_size(j), i;
    const json_t *e;
    const char *key;
    json_t *list;
    if (n->required) {
        json_array_foreach(n->required, i, e)
        {
            if (!json_object_get(j, json_string_value(e)))
                return fail_missing(v, json_string_value(e), NULL);
        }
    }
    json_object_foreach((json_t *)n->dep_req, key, list)
    {
        if (!json_object_get(j, key))
            continue;
        json_array_foreach(list, i, e)
        {
            if (!json_object_get(j, json_string_value(e)))
                return fail_missing(v, json_string_value(e), key);
        }
    }
    if (n->min_props >= 0 && cnt < (size_t)n->min_props)
        return fail(v, "must have at least %lld propert%s, got %zu", n->min_props,
                    n->min_props == 1 ? "y" : "ies", cnt);
    if (n->max_props >= 0 && cnt > (size_t)n->max_props)
        return fail(v, "must have at most %lld propert%s, got %zu", n->max_props,
                    n->max_props == 1 ? "y" : "ies", cnt);
    return check_props(v, n, j);
}

static int check_contains(struct vctx *v, const struct node *n, const json_t *j)
{
    long long min = n->min_contains >= 0 ? n->min_contains : 1, hits = 0;
    int quiet = v->quiet;
    size_t i;
    const json_t *e;
    v->quiet = 1;
    json_array_foreach(j, i, e)
    {
        hits += child(v, n->contains, e, NULL, i) == 0;
    }
    v->quiet = quiet;
    if (hits == 0 && min == 1)
        return fail(v, "no item matches the 'contains' schema");
    if (hits < min)
        return fail(v, "%lld item%s the 'contains' schema, at least %lld required", hits,
                    hits == 1 ? " matches" : "s match", min);
    if (n->max_contains >= 0 && hits > n->max_contains)
        return fail(v, "%lld item%s the 'contains' schema, at most %lld allowed", hits,
                    hits == 1 ? " matches" : "s match", n->max_contains);
    return 0;
}

static int check_array(struct vctx *v, const struct node *n, const json_t *j)
{
    size_t cnt = json_array_size(j), i, k;
    const json_t *e;
    if (n->min_items >= 0 && cnt < (size_t)n->min_items)
        return fail(v, "must have at least %lld item%s, got %zu", n->min_items,
                    PL(n->min_items), cnt);
    if (n->max_items >= 0 && cnt > (size_t)n->max_items)
        return fail(v, "must have at most %lld item%s, got %zu", n->max_items,
                    PL(n->max_items), cnt);
    json_array_foreach(j, i, e)
    {
        const struct node *in = i < n->prefix.n ? n->prefix.v[i] : n->items;
        if (in && child(v, in, e, NULL, i) != 0)
            return -1;
    }
    for (i = 0; n->unique && i < cnt; i++)
        for (k = i + 1; k < cnt; k++)
            if (jeq(json_array_get(j, i), json_array_get(j, k), 0))
                return fail(v, "items must be unique, but [%zu] and [%zu] are equal", i,
                            k);
    return n->contains ? check_contains(v, n, j) : 0;
}

/* ---- validation: combinators ---- */

static int check_any(struct vctx *v, const struct node *n, const json_t *j)
{
    int quiet = v->quiet, rc = -1;
    for (size_t i = 0; rc != 0 && i < n->any.n; i++) {
        v->quiet = quiet || i > 0; /* only the first alternative's failure is told */
        rc = check(v, n->any.v[i], j);
        v->quiet = quiet;
    }
    return rc == 0 ? 0 : fail_wrap(v, "anyOf", n->any.n);
}

static int check_one(struct vctx *v, const struct node *n, const json_t *j)
{
    int quiet = v->quiet;
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < n->one.n; i++) {
        int rc;
        v->quiet = quiet || i > 0;
        rc = check(v, n->one.v[i], j);
        v->quiet = quiet;
        if (rc == 0 && first != SIZE_MAX)
            return fail(v,
                        "matches more than one of the %zu alternatives of oneOf (%zu and "
                        "%zu); exactly one must match",
                        n->one.n, first, i);
        if (rc == 0)
            first = i;
    }
    return first == SIZE_MAX ? fail_wrap(v, "oneOf", n->one.n) : 0;
}

static int check_logic(struct vctx *v, const struct node *n, const json_t *j)
{
    int quiet = v->quiet, rc;
    if (n->ref && check(v, n->ref, j) != 0)
        return -1;
    for (size_t i = 0; i < n->all.n; i++)
        if (check(v, n->all.v[i], j) != 0)
            return -1;
    if (n->any.n && check_any(v, n, j) != 0)
        return -1;
    if (n->one.n && check_one(v, n, j) != 0)
        return -1;
    if (!n->not_)
        return 0;
    v->quiet = 1;
    rc = check(v, n->not_, j);
    v->quiet = quiet;
    return rc == 0 ? fail(v, "must not match the schema given in 'not'") : 0;
}

static int check_node(struct vctx *v, const struct node *n, const json_t *j)
{
    int rc = 0;
    if (n->types && !(n->types & type_bits(j)))
        return fail_type(v, n->types, j);
    if (n->constv && !jeq(n->constv, j, 0))
        return fail_const(v, n->constv, j);
    if (n->enumv) {
        size_t i;
        const json_t *e;
        json_array_foreach(n->enumv, i, e)
        {
            if (jeq(e, j, 0))
                break;
        }
        if (i == json_array_size(n->enumv))
            return fail_enum(v, n->enumv, j);
    }
    if (json_is_string(j))
        rc = check_string(v, n, j);
    else if (json_is_number(j))
        rc = check_number(v, n, j);
    else if (json_is_object(j))
        rc = check_object(v, n, j);
    else if (json_is_array(j))
        rc = check_array(v, n, j);
    return rc != 0 ? rc : check_logic(v, n, j);
}

static int check(struct vctx *v, const struct node *n, const json_t *j)
{
    int rc;
    if (n->boolean >= 0)
        return n->boolean ? 0 : fail(v, "not allowed here (the schema accepts no value)");
    if (v->frames >= MAX_FRAMES)
        return fail(v, "too deeply nested to validate (more than %d nested subschemas)",
                    MAX_FRAMES);
    v->frames++;
    rc = check_node(v, n, j);
    v->frames--;
    return rc;
}

int schema_validate(const struct schema *s, const json_t *v, const char *what, char *msg,
                    size_t msglen)
{
    struct vctx c = {.what = what ? what : "value", .msg = msg, .msglen = msglen};
    struct sb b;
    int rc;
    c.quiet = !msg || !msglen;
    if (!s || !v) {
        sb_init(&b, msg, msglen);
        sb_add(&b, "%s", !s ? "no schema to validate against" : "no value to validate");
        sb_finish(&b);
        return -1;
    }
    rc = check(&c, s->root, v);
    if (rc == 0 && !c.quiet)
        msg[0] = '\0';
    return rc;
}
