/* Private to schema.c (compile, $ref resolution, cycle checks) and
 * schema_check.c (validation and its messages): the compiled form both
 * work on, the limits of schema.h, and the bounded string builder every
 * message goes through. */
#ifndef MCP_SCHEMA_INT_H
#define MCP_SCHEMA_INT_H

#include "schema.h"

#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define MAX_NEST 32      /* schema levels per compile root (schema.h) */
#define MAX_REF_CHAIN 16 /* $ref hops applying to one value (schema.h) */
#define MAX_DEPTH 64     /* value levels on validation (schema.h) */
#define MAX_WALK 640     /* in-place edges on one path: 17 hops x 33 levels, rounded up */
#define MAX_FRAMES 1024  /* total recursion of one validation: a backstop */
#define MAX_NODES 2048   /* subschemas per document (find_node is linear) */
#define LIST_ITEMS 10    /* names or values listed in a message before "..." */
#define LIST_BYTES 200
#define SHOW_BYTES 60 /* a value quoted in a message is cut after this */

enum { T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16, T_ARR = 32, T_OBJ = 64 };
enum { F_NONE, F_URI, F_DATE_TIME, F_EMAIL };

/* Message order of type names; "number" also admits integers (see type_bits
 * in schema_check.c).  Defined in schema_check.c. */
struct schema__type {
    const char *name;
    unsigned bit;
};
extern const struct schema__type schema__types[7];

struct list {
    struct node **v;
    size_t n;
};

struct node {
    const json_t *src;
    char *where;                  /* JSON pointer of the schema, for compile errors */
    int boolean;                  /* -1 object schema, 0 false, 1 true */
    unsigned types;               /* T_* bits allowed, 0 = any */
    const json_t *enumv, *constv; /* borrowed from the document */
    const json_t *min, *max, *xmin, *xmax, *mult;
    long long min_len, max_len, min_items, max_items; /* -1 = absent */
    long long min_props, max_props, min_contains, max_contains;
    int unique, format, has_re;
    regex_t re;
    const char *pattern;
    const char **pnames; /* properties, in document order */
    struct node **pnodes;
    size_t nprops;
    const json_t *required, *dep_req;
    struct node *addl, *items, *contains, *names, *not_, *ref;
    struct list prefix, all, any, one;
    int state, chain; /* cycle walk: 0 new, 1 on the path, 2 done */
};

struct schema {
    json_t *doc;
    struct node **nodes;
    size_t n, cap;
    struct node *root;
};

/* ---- bounded string building: every message goes through this ---- */

/* static inline here: both files use all of it, and it is too small to be
 * worth an exported schema__ function per call. */

struct sb {
    char *p;
    size_t cap, len; /* len counts what would have been written */
};

static inline void sb_init(struct sb *b, char *p, size_t cap)
{
    b->p = cap ? p : NULL;
    b->cap = p ? cap : 0;
    b->len = 0;
    if (b->cap)
        b->p[0] = '\0';
}

static inline void sb_vadd(struct sb *b, const char *fmt, va_list ap)
{
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    int r = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    if (r > 0)
        b->len += (size_t)r;
}

__attribute__((format(printf, 2, 3))) static inline void sb_add(struct sb *b,
                                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vadd(b, fmt, ap);
    va_end(ap);
}

/* Bytes of s[0..n) that end on a UTF-8 character boundary. */
static inline size_t utf8_cut(const char *s, size_t n)
{
    size_t start = n, need;
    unsigned char lead;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return 0;
    lead = (unsigned char)s[start - 1];
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return n - (start - 1) < need ? start - 1 : n;
}

/* A truncated message must not end inside a UTF-8 character: the model
 * reading it gets JSON, and a broken sequence makes the reply invalid. */
static inline void sb_finish(struct sb *b)
{
    if (b->cap && b->len >= b->cap)
        b->p[utf8_cut(b->p, b->cap - 1)] = '\0';
}

/* Shared between the two files (defined in schema_check.c). */
const char *schema__type_name(const json_t *j);
void schema__sb_num(struct sb *b, const json_t *j); /* shortest round-trip form */

#endif
