/* JSON Schema (the 2020-12 subset of schema.h) compiled once into a graph
 * of nodes, then checked per call without looking at the schema document.
 *
 * Every schema object becomes one struct node, owned by the struct schema
 * in one array, so a $ref can point anywhere (also at an ancestor) without
 * ownership questions.  A $ref target or a $defs entry is compiled from a
 * worklist, not recursively, so compile recursion is bounded by the
 * 32-level nesting limit however many $defs chain.  After compiling, a walk
 * over the edges that apply to the same value (allOf/anyOf/oneOf/not/$ref)
 * rejects cycles and chains of more than 16 $refs; what is left recurses
 * deeper only when validation descends into a child value (at most 64
 * levels), and a frame counter caps the total anyway.
 *
 * The compiled schema is read-only after schema_compile(), so validations
 * may run from many threads at once (regexec on a shared regex_t is
 * thread-safe in glibc).  The document is borrowed with a reference and
 * must not be modified: nodes point at its strings and values.
 *
 * This file compiles ($ref resolution, cycle checks); schema_check.c
 * validates; schema_int.h holds what both share. */
#include "schema_int.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compile: errors and the JSON pointer of the schema being compiled ---- */

struct cctx {
    struct schema *s;
    char *err;
    size_t errlen;
    char ptr[256];
    size_t plen;
    int depth; /* nesting of the schema whose keywords are being compiled */
    struct node **pend;
    size_t npend, cappend;
};

__attribute__((format(printf, 2, 3))) static int cerr(struct cctx *c, const char *fmt,
                                                      ...)
{
    struct sb b;
    va_list ap;
    sb_init(&b, c->err, c->errlen);
    va_start(ap, fmt);
    sb_vadd(&b, fmt, ap);
    va_end(ap);
    sb_add(&b, " at %s", c->ptr);
    sb_finish(&b);
    return -1;
}

/* Append "/seg" with RFC 6901 escapes (~ as ~0, / as ~1); returns the old
 * length for ptr_pop.  A pointer too long is cut: it only feeds messages. */
static size_t ptr_push(struct cctx *c, const char *seg)
{
    size_t old = c->plen, n = c->plen;
    if (n + 1 < sizeof c->ptr)
        c->ptr[n++] = '/';
    for (; *seg && n + 2 < sizeof c->ptr; seg++) {
        if (*seg == '~' || *seg == '/') {
            c->ptr[n++] = '~';
            c->ptr[n++] = *seg == '~' ? '0' : '1';
        } else {
            c->ptr[n++] = *seg;
        }
    }
    c->ptr[n] = '\0';
    c->plen = n;
    return old;
}

static void ptr_pop(struct cctx *c, size_t old)
{
    c->plen = old;
    c->ptr[old] = '\0';
}

static void ptr_set(struct cctx *c, const char *p)
{
    size_t n = strlen(p);
    if (n >= sizeof c->ptr)
        n = sizeof c->ptr - 1;
    memcpy(c->ptr, p, n);
    c->ptr[n] = '\0';
    c->plen = n;
}

/* ---- compile: nodes ---- */

static void node_free(struct node *n)
{
    if (n->has_re)
        regfree(&n->re);
    free(n->pnames);
    free(n->pnodes);
    free(n->prefix.v);
    free(n->all.v);
    free(n->any.v);
    free(n->one.v);
    free(n->where);
    free(n);
}

static struct node *find_node(const struct schema *s, const json_t *src)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i]->src == src)
            return s->nodes[i];
    return NULL;
}

static struct node *new_node(struct cctx *c, const json_t *src)
{
    struct schema *s = c->s;
    struct node *n;
    if (s->n >= MAX_NODES) {
        cerr(c, "schema has more than %d subschemas", MAX_NODES);
        return NULL;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct node **p = realloc(s->nodes, cap * sizeof *p);
        if (!p)
            goto out_nomem;
        s->nodes = p;
        s->cap = cap;
    }
    n = calloc(1, sizeof *n);
    if (!n)
        goto out_nomem;
    n->where = strdup(c->ptr);
    if (!n->where) {
        free(n);
        goto out_nomem;
    }
    n->src = src;
    n->boolean = -1;
    n->min_len = n->max_len = n->min_items = n->max_items = -1;
    n->min_props = n->max_props = n->min_contains = n->max_contains = -1;
    s->nodes[s->n++] = n;
    return n;
out_nomem:
    cerr(c, "out of memory");
    return NULL;
}

static int compile_node(struct cctx *c, struct node *n, int depth);

/* The node for schema j at nesting `depth`.  defer queues it for the
 * worklist instead of compiling it now ($ref targets and $defs entries:
 * their nesting counts from 0 again, and the C stack stays flat). */
static int get_node(struct cctx *c, const json_t *j, int depth, int defer,
                    struct node **out)
{
    struct node *n = find_node(c->s, j);
    if (n) {
        *out = n;
        return 0;
    }
    if (depth >= MAX_NEST)
        return cerr(c, "schema nested deeper than %d levels", MAX_NEST);
    n = new_node(c, j);
    if (!n)
        return -1;
    *out = n;
    if (!defer) {
        int saved = c->depth; /* compile_node sets it for its own keywords */
        int rc = compile_node(c, n, depth);
        c->depth = saved;
        return rc;
    }
    if (c->npend == c->cappend) {
        size_t cap = c->cappend ? c->cappend * 2 : 16;
        struct node **p = realloc(c->pend, cap * sizeof *p);
        if (!p)
            return cerr(c, "out of memory");
        c->pend = p;
        c->cappend = cap;
    }
    c->pend[c->npend++] = n;
    return 0;
}

static int sub_at(struct cctx *c, const char *seg, const json_t *j, int defer,
                  struct node **out)
{
    size_t old = ptr_push(c, seg);
    int rc = get_node(c, j, defer ? 0 : c->depth + 1, defer, out);
    if (rc == 0)
        ptr_pop(c, old);
    return rc;
}

/* ---- compile: keywords ---- */

struct kw;
typedef int (*kw_fn)(struct cctx *c, struct node *n, const json_t *v, const struct kw *k);
struct kw {
    const char *name;
    kw_fn fn; /* NULL: annotation, no effect on validation */
    size_t off;
};

#define FIELD(n, k, type) ((type *)(void *)((char *)(n) + (k)->off))

static int kw_type_name(struct cctx *c, struct node *n, const json_t *v)
{
    const char *name = json_string_value(v);
    if (!name)
        return cerr(c, "'type' entries must be strings, got %s", schema__type_name(v));
    for (size_t i = 0; i < sizeof schema__types / sizeof schema__types[0]; i++) {
        if (strcmp(name, schema__types[i].name) == 0) {
            n->types |= schema__types[i].bit;
            return 0;
        }
    }
    return cerr(c,
                "unknown type '%s' (known: string, integer, number, boolean, object, "
                "array, null)",
                name);
}

static int kw_type(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    size_t i;
    const json_t *e;
    (void)k;
    if (json_is_string(v))
        return kw_type_name(c, n, v);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cerr(c, "'type' must be a type name or a non-empty array of them, got %s",
                    schema__type_name(v));
    json_array_foreach(v, i, e)
    {
        if (kw_type_name(c, n, e) != 0)
            return -1;
    }
    return 0;
}

static int kw_count(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    double d = json_number_value(v);
    char got[48];
    struct sb b;
    if (json_is_number(v) && d >= 0 && d == floor(d) && d <= 1e15) {
        *FIELD(n, k, long long) = (long long)d;
        return 0;
    }
    sb_init(&b, got, sizeof got);
    if (json_is_number(v))
        schema__sb_num(&b, v);
    else
        sb_add(&b, "%s", schema__type_name(v));
    return cerr(c, "'%s' must be an integer from 0 to 10^15, got %s", k->name, got);
}

static int kw_number(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    if (!json_is_number(v))
        return cerr(c, "'%s' must be a number, got %s", k->name, schema__type_name(v));
    if (k->off == offsetof(struct node, mult) && json_number_value(v) <= 0)
        return cerr(c, "'multipleOf' must be greater than 0");
    *FIELD(n, k, const json_t *) = v;
    return 0;
}

static int kw_sub(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    return get_node(c, v, c->depth + 1, 0, FIELD(n, k, struct node *));
}

static int kw_items(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    if (json_is_array(v))
        return cerr(c, "'items' as an array (the tuple form of older drafts) is not "
                       "supported; use 'prefixItems'");
    return kw_sub(c, n, v, k);
}

static int kw_list(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    struct list *l = FIELD(n, k, struct list);
    char idx[24];
    size_t i;
    const json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cerr(c, "'%s' must be a non-empty array of schemas, got %s", k->name,
                    json_is_array(v) ? "an empty array" : schema__type_name(v));
    l->v = calloc(json_array_size(v), sizeof *l->v);
    if (!l->v)
        return cerr(c, "out of memory");
    json_array_foreach(v, i, e)
    {
        snprintf(idx, sizeof idx, "%zu", i);
        if (sub_at(c, idx, e, 0, &l->v[i]) != 0)
            return -1;
        l->n = i + 1;
    }
    return 0;
}

static int kw_properties(struct cctx *c, struct node *n, const json_t *v,
                         const struct kw *k)
{
    size_t cnt = json_object_size(v);
    const char *key;
    json_t *e;
    (void)k;
    if (!json_is_object(v))
        return cerr(c, "'properties' must be an object, got %s", schema__type_name(v));
    n->pnames = calloc(cnt ? cnt : 1, sizeof *n->pnames);
    n->pnodes = calloc(cnt ? cnt : 1, sizeof *n->pnodes);
    if (!n->pnames || !n->pnodes)
        return cerr(c, "out of memory");
    json_object_foreach((json_t *)v, key, e)
    {
        if (sub_at(c, key, e, 0, &n->pnodes[n->nprops]) != 0)
            return -1;
        n->pnames[n->nprops++] = key;
    }
    return 0;
}

static int string_array(const json_t *v)
{
    size_t i;
    const json_t *e;
    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return 0;
    }
    return 1;
}

static int kw_required(struct cctx *c, struct node *n, const json_t *v,
                       const struct kw *k)
{
    (void)k;
    if (!string_array(v))
        return cerr(c, "'required' must be an array of property names");
    n->required = v;
    return 0;
}

static int kw_dep_req(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    const char *key;
    json_t *e;
    (void)k;
    if (!json_is_object(v))
        return cerr(c, "'dependentRequired' must be an object, got %s",
                    schema__type_name(v));
    json_object_foreach((json_t *)v, key, e)
    {
        if (!string_array(e))
            return cerr(c,
                        "'dependentRequired' entry '%s' must be an array of property "
                        "names",
                        key);
    }
    n->dep_req = v;
    return 0;
}

static int kw_defs(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    const char *key;
    json_t *e;
    struct node *d;
    (void)n;
    if (!json_is_object(v))
        return cerr(c, "'%s' must be an object of schemas, got %s", k->name,
                    schema__type_name(v));
    json_object_foreach((json_t *)v, key, e)
    {
        if (sub_at(c, key, e, 1, &d) != 0)
            return -1;
    }
    return 0;
}

static int kw_unique(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    (void)k;
    if (!json_is_boolean(v))
        return cerr(c, "'uniqueItems' must be a boolean, got %s", schema__type_name(v));
    n->unique = json_is_true(v);
    return 0;
}

static int kw_enum(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    (void)k;
    if (!json_is_array(v))
        return cerr(c, "'enum' must be an array, got %s", schema__type_name(v));
    n->enumv = v;
    return 0;
}

static int kw_const(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    (void)c;
    (void)k;
    n->constv = v;
    return 0;
}

static int kw_format(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    const char *f = json_string_value(v);
    (void)k;
    if (!f)
        return cerr(c, "'format' must be a string, got %s", schema__type_name(v));
    /* Other formats are annotations only (2020-12 validation 7.2.1). */
    n->format = strcmp(f, "uri") == 0         ? F_URI
                : strcmp(f, "date-time") == 0 ? F_DATE_TIME
                : strcmp(f, "email") == 0     ? F_EMAIL
                                              : F_NONE;
    return 0;
}

/* ECMA-262 patterns (what schemas are written in) use \d, which POSIX ERE
 * lacks: rewrite \d and \D; glibc already knows \w \W \s \S \b.  Inside a
 * bracket expression a backslash stays literal, as POSIX says. */
static char *ecma_to_ere(const char *p)
{
    char *out = malloc(strlen(p) * 3 + 1), *w = out;
    int in_br = 0;
    while (out && *p) {
        const char *rep = NULL;
        if (p[0] == '\\' && (p[1] == 'd' || p[1] == 'D'))
            rep =
                in_br ? (p[1] == 'd' ? "0-9" : NULL) : (p[1] == 'd' ? "[0-9]" : "[^0-9]");
        if (rep) {
            w = stpcpy(w, rep);
            p += 2;
        } else if (p[0] == '\\' && p[1] && !in_br) {
            *w++ = *p++;
            *w++ = *p++;
        } else if (!in_br && *p == '[') {
            in_br = 1;
            *w++ = *p++;
            if (*p == '^')
                *w++ = *p++;
            if (*p == ']')
                *w++ = *p++;
        } else {
            in_br = in_br && *p != ']';
            *w++ = *p++;
        }
    }
    if (out)
        *w = '\0';
    return out;
}

static int kw_pattern(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    const char *pat = json_string_value(v);
    char *ere, why[160];
    int rc;
    (void)k;
    if (!pat)
        return cerr(c, "'pattern' must be a string, got %s", schema__type_name(v));
    ere = ecma_to_ere(pat);
    if (!ere)
        return cerr(c, "out of memory");
    rc = regcomp(&n->re, ere, REG_EXTENDED | REG_NOSUB);
    free(ere);
    if (rc != 0) {
        regerror(rc, &n->re, why, sizeof why);
        return cerr(c, "invalid pattern '%s': %s", pat, why);
    }
    n->has_re = 1;
    n->pattern = pat;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The fragment is a URI part: %XX decodes before the pointer is parsed
 * (RFC 6901 section 6), so "%2F" separates and "%7E1" is "~1".  In place;
 * 0, or -1 for a malformed escape or a NUL. */
static int percent_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        char ch = *r; /* read first: w may write over *r (w never passes r) */
        int hi = ch == '%' ? hexval(r[1]) : -1, lo = hi < 0 ? -1 : hexval(r[2]);
        if (ch == '%' && (lo < 0 || hi + lo == 0))
            return -1;
        *w++ = ch == '%' ? (char)(hi * 16 + lo) : ch;
        r += ch == '%' ? 2 : 0;
    }
    *w = '\0';
    return 0;
}

/* ~1 is /, ~0 is ~ (RFC 6901 section 4); any other ~ is malformed. */
static int tilde_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        char ch = *r; /* read first: w may write over *r */
        if (ch == '~' && r[1] != '0' && r[1] != '1')
            return -1;
        *w++ = ch != '~' ? ch : r[1] == '0' ? '~' : '/';
        r += ch == '~' ? 1 : 0;
    }
    *w = '\0';
    return 0;
}

static const json_t *pointer_step(const json_t *cur, const char *seg)
{
    char *end;
    unsigned long long i;
    if (json_is_object(cur))
        return json_object_get(cur, seg);
    if (!json_is_array(cur) || *seg < '0' || *seg > '9' || (seg[0] == '0' && seg[1]))
        return NULL;
    i = strtoull(seg, &end, 10);
    return *end ? NULL : json_array_get(cur, (size_t)i);
}

static const json_t *resolve(const json_t *doc, const char *ref)
{
    const json_t *cur = doc;
    char *copy, *seg, *next;
    if (strcmp(ref, "#") == 0)
        return doc;
    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    copy = strdup(ref + 2);
    if (!copy || percent_decode(copy) != 0)
        cur = NULL;
    for (seg = copy; cur && seg; seg = next) {
        next = strchr(seg, '/');
        if (next)
            *next++ = '\0';
        cur = tilde_decode(seg) == 0 ? pointer_step(cur, seg) : NULL;
    }
    free(copy);
    return cur;
}

static int kw_ref(struct cctx *c, struct node *n, const json_t *v, const struct kw *k)
{
    const char *ref = json_string_value(v);
    const json_t *target;
    char saved[sizeof c->ptr];
    int rc;
    (void)k;
    if (!ref)
        return cerr(c, "'$ref' must be a string, got %s", schema__type_name(v));
    if (ref[0] != '#')
        return cerr(c,
                    "$ref '%s' is not supported: only references into the same "
                    "document (like '#/$defs/NAME') are",
                    ref);
    target = resolve(c->s->doc, ref);
    if (!target)
        return cerr(c, "$ref '%s' does not resolve to anything in this schema", ref);
    n->ref = find_node(c->s, target);
    if (n->ref)
        return 0;
    memcpy(saved, c->ptr, sizeof saved);
    ptr_set(c, ref); /* where the target is, for its own errors */
    rc = get_node(c, target, 0, 1, &n->ref);
    if (rc == 0)
        ptr_set(c, saved);
    return rc;
}

#define OFF(f) offsetof(struct node, f)
static const struct kw KEYWORDS[] = {
    {"type", kw_type, 0},
    {"properties", kw_properties, 0},
    {"required", kw_required, 0},
    {"additionalProperties", kw_sub, OFF(addl)},
    {"minProperties", kw_count, OFF(min_props)},
    {"maxProperties", kw_count, OFF(max_props)},
    {"propertyNames", kw_sub, OFF(names)},
    {"dependentRequired", kw_dep_req, 0},
    {"items", kw_items, OFF(items)},
    {"prefixItems", kw_list, OFF(prefix)},
    {"minItems", kw_count, OFF(min_items)},
    {"maxItems", kw_count, OFF(max_items)},
    {"uniqueItems", kw_unique, 0},
    {"contains", kw_sub, OFF(contains)},
    {"minContains", kw_count, OFF(min_contains)},
    {"maxContains", kw_count, OFF(max_contains)},
    {"enum", kw_enum, 0},
    {"const", kw_const, 0},
    {"minimum", kw_number, OFF(min)},
    {"maximum", kw_number, OFF(max)},
    {"exclusiveMinimum", kw_number, OFF(xmin)},
    {"exclusiveMaximum", kw_number, OFF(xmax)},
    {"multipleOf", kw_number, OFF(mult)},
    {"minLength", kw_count, OFF(min_len)},
    {"maxLength", kw_count, OFF(max_len)},
    {"pattern", kw_pattern, 0},
    {"format", kw_format, 0},
    {"allOf", kw_list, OFF(all)},
    {"anyOf", kw_list, OFF(any)},
    {"oneOf", kw_list, OFF(one)},
    {"not", kw_sub, OFF(not_)},
    {"$ref", kw_ref, 0},
    {"$defs", kw_defs, 0},
    {"definitions", kw_defs, 0},
    {"title", NULL, 0},
    {"description", NULL, 0},
    {"default", NULL, 0},
    {"examples", NULL, 0},
    {"$schema", NULL, 0},
    {"$id", NULL, 0},
    {"$comment", NULL, 0},
    {"readOnly", NULL, 0},
    {"writeOnly", NULL, 0},
    {"deprecated", NULL, 0},
    {"contentMediaType", NULL, 0},
    {"contentEncoding", NULL, 0},
};

static int compile_node(struct cctx *c, struct node *n, int depth)
{
    const char *key;
    json_t *val;
    if (json_is_boolean(n->src)) {
        n->boolean = json_is_true(n->src);
        return 0;
    }
    if (!json_is_object(n->src))
        return cerr(c, "a schema must be an object or a boolean, got %s",
                    schema__type_name(n->src));
    json_object_foreach((json_t *)n->src, key, val)
    {
        const struct kw *k = NULL;
        size_t old;
        for (size_t i = 0; !k && i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++)
            k = strcmp(KEYWORDS[i].name, key) == 0 ? &KEYWORDS[i] : NULL;
        if (!k)
            return cerr(c, "unsupported keyword '%s'", key);
        if (!k->fn)
            continue;
        old = ptr_push(c, key);
        c->depth = depth; /* handlers nest their subschemas one below */
        if (k->fn(c, n, val, k) != 0)
            return -1;
        ptr_pop(c, old);
    }
    return 0;
}

/* ---- compile: cycles and chains of edges applying to the same value ---- */

static int walk(struct cctx *c, struct node *n, int hops, int level);

static int walk_edge(struct cctx *c, struct node *to, int hops, int level, int is_ref,
                     int *best)
{
    int r = walk(c, to, hops + is_ref, level + 1);
    if (r < 0)
        return -1;
    if (r + is_ref > *best)
        *best = r + is_ref;
    return 0;
}

static int walk_list(struct cctx *c, const struct list *l, int hops, int level, int *best)
{
    for (size_t i = 0; i < l->n; i++)
        if (walk_edge(c, l->v[i], hops, level, 0, best) != 0)
            return -1;
    return 0;
}

/* The longest number of $ref hops from n that apply to the value n is
 * applied to, or -1 (error set) on a cycle or a chain over the limit. */
static int walk(struct cctx *c, struct node *n, int hops, int level)
{
    int best = 0;
    if (n->state == 2)
        return n->chain;
    ptr_set(c, n->where);
    if (n->state == 1)
        return cerr(c, "$ref cycle: this schema applies itself to the same value "
                       "again without descending into it");
    if (hops > MAX_REF_CHAIN)
        return cerr(c, "$ref chain deeper than %d", MAX_REF_CHAIN);
    if (level > MAX_WALK)
        return cerr(c, "allOf/anyOf/oneOf/not/$ref nested deeper than %d", MAX_WALK);
    n->state = 1;
    if (walk_list(c, &n->all, hops, level, &best) ||
        walk_list(c, &n->any, hops, level, &best) ||
        walk_list(c, &n->one, hops, level, &best))
        return -1;
    if (n->not_ && walk_edge(c, n->not_, hops, level, 0, &best) != 0)
        return -1;
    if (n->ref && walk_edge(c, n->ref, hops, level, 1, &best) != 0)
        return -1;
    ptr_set(c, n->where);
    if (best > MAX_REF_CHAIN)
        return cerr(c, "$ref chain deeper than %d", MAX_REF_CHAIN);
    n->state = 2;
    n->chain = best;
    return best;
}

static int compile_all(struct cctx *c)
{
    struct schema *s = c->s;
    if (get_node(c, s->doc, 0, 0, &s->root) != 0)
        return -1;
    while (c->npend > 0) {
        struct node *n = c->pend[--c->npend];
        ptr_set(c, n->where);
        if (compile_node(c, n, 0) != 0)
            return -1;
    }
    for (size_t i = 0; i < s->n; i++)
        if (walk(c, s->nodes[i], 0, 0) < 0)
            return -1;
    return 0;
}

/* ---- public ---- */

int schema_compile(json_t *doc, struct schema **out, char *err, size_t errlen)
{
    struct cctx c = {.err = err, .errlen = errlen, .ptr = "#", .plen = 1};
    struct schema *s;
    if (err && errlen)
        err[0] = '\0';
    if (out)
        *out = NULL;
    if (!out || !doc)
        return cerr(&c, "no schema given");
    s = calloc(1, sizeof *s);
    if (!s)
        return cerr(&c, "out of memory");
    s->doc = json_incref(doc);
    c.s = s;
    if (compile_all(&c) != 0)
        goto out_free;
    free(c.pend);
    *out = s;
    return 0;
out_free:
    free(c.pend);
    schema_free(s);
    return -1;
}

void schema_free(struct schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        node_free(s->nodes[i]);
    free(s->nodes);
    json_decref(s->doc);
    free(s);
}

json_t *schema_doc(const struct schema *s)
{
    return s ? s->doc : NULL;
}
