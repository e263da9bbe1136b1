/* The JSON configuration file: defaults, a table of every key (the same
 * table parses the file and prints --print-default-config, so the two can
 * never disagree), located error messages.  Environment overrides and
 * secrets are in server_config_env.c, and so is the text scanner behind
 * config_locate(). */
#include "server_config.h"
#include "server_config_int.h"

#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MS 1000000LL               /* ns per ms */
#define FIELD_MAX 24
#define PATH_MAX_LEN 256

enum ftype {
    F_SECTION, /* a nested object: dst is passed to fn */
    F_STR,     /* printable text, may be empty */
    F_URL,     /* http(s)://..., trailing '/' dropped */
    F_NAME,    /* a secrets-store name, [A-Za-z0-9_.-]{0,128} */
    F_ENV,     /* an environment variable name, or "" */
    F_BOOL,    /* int */
    F_U32,     /* uint32_t */
    F_UINT,    /* unsigned */
    F_SIZE,    /* size_t */
    F_I64,     /* int64_t, same unit in JSON and in memory */
    F_NS,      /* int64_t ns in memory, ms in JSON */
    F_DBL,     /* double */
    F_ENUM,    /* an int-sized enum, by name */
    F_LISTEN,  /* dst: struct config (listen_addr, listen_port) */
    F_ORIGINS, /* dst: struct config (origins, norigins) */
    F_LOGLEVEL /* int, log.h names */
};

struct field;
typedef size_t (*section_fn)(void *obj, struct field *out);

struct field {
    const char *key;
    enum ftype type;
    void *dst;
    double min, max;          /* numbers, in JSON units */
    size_t cap;               /* strings: buffer size */
    const char *const *names; /* F_ENUM: NULL-terminated, index = value */
    section_fn fn;            /* F_SECTION */
};

#define FNUM(k, t, d, lo, hi) ((struct field){.key = (k), .type = (t), .dst = (d), .min = (lo), .max = (hi)})
#define FSTR(k, t, buf) ((struct field){.key = (k), .type = (t), .dst = (buf), .cap = sizeof(buf)})
#define FENUM(k, d, nm) ((struct field){.key = (k), .type = F_ENUM, .dst = (d), .names = (nm)})
#define FSEC(k, f, o) ((struct field){.key = (k), .type = F_SECTION, .dst = (o), .fn = (f)})
#define FSPECIAL(k, t, d) ((struct field){.key = (k), .type = (t), .dst = (d)})

_Static_assert(sizeof(enum config_transport) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(resil_breaker_window) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(resil_jitter) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(resil_cache_policy) == sizeof(int), "enums are stored as int");

static const char *const transport_names[] = {"stdio", "http", NULL};
static const char *const window_names[] = {"count", "time", NULL};
static const char *const jitter_names[] = {"none", "full", "equal", "decorrelated", NULL};
static const char *const cache_policy_names[] = {"lru", "tinylfu", NULL};

/* ---- the key tables ------------------------------------------------------ */

static size_t breaker_fields(void *obj, struct field *f)
{
    resil_service_opts *o = obj;
    resil_breaker_opts *b = &o->breaker;
    size_t n = 0;

    f[n++] = FNUM("enabled", F_BOOL, &o->use_breaker, 0, 1);
    f[n++] = FENUM("window", &b->window, window_names);
    f[n++] = FNUM("window_size", F_U32, &b->window_size, 1, 65536);
    f[n++] = FNUM("bucket_ms", F_NS, &b->bucket_ns, 1, 3600000);
    f[n++] = FNUM("minimum_calls", F_U32, &b->minimum_calls, 1, 65536);
    f[n++] = FNUM("failure_rate", F_DBL, &b->failure_rate, 0, 1);
    f[n++] = FNUM("failure_count", F_U32, &b->failure_count, 0, 65536);
    f[n++] = FNUM("slow_call_rate", F_DBL, &b->slow_call_rate, 0, 1);
    f[n++] = FNUM("slow_call_ms", F_NS, &b->slow_call_ns, 0, 3600000);
    f[n++] = FNUM("half_open_probes", F_U32, &b->half_open_probes, 1, 64);
    f[n++] = FNUM("probe_timeout_ms", F_NS, &b->probe_timeout_ns, 1, 3600000);
    f[n++] = FNUM("open_base_ms", F_NS, &b->open_base_ns, 1, 86400000);
    f[n++] = FNUM("open_multiplier", F_DBL, &b->open_multiplier, 1, 1000);
    f[n++] = FNUM("open_max_ms", F_NS, &b->open_max_ns, 1, 86400000);
    f[n++] = FNUM("open_jitter", F_DBL, &b->open_jitter, 0, 0.99);
    return n;
}

static size_t limiter_fields(void *obj, struct field *f)
{
    resil_service_opts *o = obj;
    size_t n = 0;

    f[n++] = FNUM("enabled", F_BOOL, &o->use_limiter, 0, 1);
    f[n++] = FNUM("rate", F_DBL, &o->limiter.rate, 0.001, 1e9);
    f[n++] = FNUM("burst", F_U32, &o->limiter.burst, 1, 1e9);
    return n;
}

static size_t retry_fields(void *obj, struct field *f)
{
    resil_service_opts *o = obj;
    resil_retry_opts *r = &o->retry;
    size_t n = 0;

    f[n++] = FNUM("enabled", F_BOOL, &o->use_retry, 0, 1);
    f[n++] = FNUM("max_attempts", F_U32, &r->max_attempts, 1, 100);
    f[n++] = FNUM("base_delay_ms", F_NS, &r->base_delay_ns, 0, 3600000);
    f[n++] = FNUM("max_delay_ms", F_NS, &r->max_delay_ns, 0, 3600000);
    f[n++] = FNUM("multiplier", F_DBL, &r->multiplier, 1, 100);
    f[n++] = FENUM("jitter", &r->jitter, jitter_names);
    f[n++] = FNUM("timeout_ms", F_NS, &r->timeout_ns, 0, 86400000);
    f[n++] = FNUM("max_retry_after_ms", F_NS, &r->max_retry_after_ns, 0, 86400000);
    return n;
}

static size_t cache_fields(void *obj, struct field *f)
{
    resil_service_opts *o = obj;
    resil_cache_opts *k = &o->cache;
    size_t n = 0;

    f[n++] = FNUM("enabled", F_BOOL, &o->use_cache, 0, 1);
    f[n++] = FNUM("max_entries", F_SIZE, &k->max_entries, 1, 1 << 24);
    f[n++] = FNUM("max_bytes", F_SIZE, &k->max_bytes, 0, 1ULL << 40);
    f[n++] = FNUM("ttl_ms", F_NS, &k->default_ttl_ns, 1, 31LL * 86400000);
    f[n++] = FNUM("stale_ms", F_NS, &k->stale_ttl_ns, 0, 31LL * 86400000);
    f[n++] = FENUM("policy", &k->policy, cache_policy_names);
    return n;
}

/* Keys every service has, after its own. */
static size_t service_common(struct config_service *s, struct field *f, size_t n)
{
    f[n++] = FNUM("timeout_ms", F_I64, &s->timeout_ms, 1, 3600000);
    f[n++] = FNUM("connect_timeout_ms", F_I64, &s->connect_timeout_ms, 1, 600000);
    f[n++] = FNUM("max_response_bytes", F_SIZE, &s->max_response_bytes, 1024, 1ULL << 30);
    f[n++] = FNUM("max_concurrent", F_U32, &s->policy.max_concurrent, 0, 100000);
    f[n++] = FSEC("breaker", breaker_fields, &s->policy);
    f[n++] = FSEC("limiter", limiter_fields, &s->policy);
    f[n++] = FSEC("retry", retry_fields, &s->policy);
    f[n++] = FSEC("cache", cache_fields, &s->policy);
    return n;
}

static size_t youtube_fields(void *obj, struct field *f)
{
    struct config_service *s = &((struct config *)obj)->youtube;
    size_t n = 0;

    f[n++] = FSTR("base_url", F_URL, s->base_url);
    f[n++] = FSTR("oembed_url", F_URL, s->alt_url);
    f[n++] = FSTR("api_key_secret", F_NAME, s->key_secret);
    f[n++] = FSTR("api_key_env", F_ENV, s->key_env);
    return service_common(s, f, n);
}

static size_t transcript_fields(void *obj, struct field *f)
{
    struct config_service *s = &((struct config *)obj)->transcript;
    size_t n = 0;

    f[n++] = FSTR("base_url", F_URL, s->base_url);
    return service_common(s, f, n);
}

static size_t ai_fields(void *obj, struct field *f)
{
    struct config *c = obj;
    struct config_service *s = &c->ai;
    size_t n = 0;

    f[n++] = FSTR("base_url", F_URL, s->base_url);
    f[n++] = FSTR("model", F_STR, c->ai_opts.model);
    f[n++] = FNUM("max_tokens", F_UINT, &c->ai_opts.max_tokens, 1, 1000000);
    f[n++] = FNUM("temperature", F_DBL, &c->ai_opts.temperature, 0, 2);
    f[n++] = FNUM("max_input_chars", F_SIZE, &c->ai_opts.max_input_chars, 100, 100000000);
    f[n++] = FSTR("api_key_secret", F_NAME, s->key_secret);
    f[n++] = FSTR("api_key_env", F_ENV, s->key_env);
    return service_common(s, f, n);
}

static size_t services_fields(void *obj, struct field *f)
{
    size_t n = 0;

    f[n++] = FSEC("youtube_api", youtube_fields, obj);
    f[n++] = FSEC("video_analysis", transcript_fields, obj);
    f[n++] = FSEC("ai_processing", ai_fields, obj);
    return n;
}

static size_t server_fields(void *obj, struct field *f)
{
    struct config *c = obj;
    size_t n = 0;

    f[n++] = FENUM("transport", &c->transport, transport_names);
    f[n++] = FSPECIAL("listen", F_LISTEN, c);
    f[n++] = FSPECIAL("allowed_origins", F_ORIGINS, c);
    f[n++] = FSTR("auth_token_secret", F_NAME, c->auth_token_secret);
    f[n++] = FNUM("max_body_bytes", F_SIZE, &c->max_body_bytes, 1024, 1 << 30);
    f[n++] = FNUM("max_depth", F_UINT, &c->max_depth, 4, 1000);
    f[n++] = FNUM("max_sessions", F_SIZE, &c->max_sessions, 1, 1000000);
    f[n++] = FNUM("session_idle_ms", F_I64, &c->session_idle_ms, 1000, 7LL * 86400000);
    f[n++] = FNUM("max_inflight_per_session", F_UINT, &c->max_inflight_per_session, 1, 4096);
    f[n++] = FNUM("max_connections", F_UINT, &c->max_connections, 1, 65536);
    f[n++] = FNUM("worker_threads", F_UINT, &c->worker_threads, 1, 1024);
    f[n++] = FNUM("event_buffer", F_SIZE, &c->event_buffer, 1, 1000000);
    f[n++] = FNUM("sse_keepalive_ms", F_I64, &c->sse_keepalive_ms, 100, 3600000);
    f[n++] = FNUM("sse_retry_ms", F_I64, &c->sse_retry_ms, 0, 3600000);
    f[n++] = FNUM("shutdown_grace_ms", F_I64, &c->shutdown_grace_ms, 0, 3600000);
    f[n++] = FNUM("page_size", F_SIZE, &c->page_size, 1, 10000);
    return n;
}

static size_t log_fields(void *obj, struct field *f)
{
    f[0] = FSPECIAL("level", F_LOGLEVEL, &((struct config *)obj)->log_level);
    return 1;
}

static size_t secrets_fields(void *obj, struct field *f)
{
    struct config *c = obj;

    f[0] = FSTR("key_file", F_STR, c->secrets_key_file);
    f[1] = FSTR("store", F_STR, c->secrets_store);
    return 2;
}

static size_t root_fields(void *obj, struct field *f)
{
    size_t n = 0;

    f[n++] = FSEC("server", server_fields, obj);
    f[n++] = FSEC("log", log_fields, obj);
    f[n++] = FSEC("secrets", secrets_fields, obj);
    f[n++] = FSEC("services", services_fields, obj);
    return n;
}

/* ---- defaults ------------------------------------------------------------ */

static void service_defaults(struct config_service *s, const char *name, const char *url)
{
    resil_service_opts *o = &s->policy;

    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->base_url, sizeof(s->base_url), "%s", url);
    resil_service_opts_init(o);
    o->name = s->name;
    o->use_breaker = o->use_limiter = o->use_retry = o->use_cache = 1;
    o->breaker.window = RESIL_WINDOW_COUNT;
    o->breaker.window_size = 20;
    o->breaker.minimum_calls = 10;
    o->breaker.failure_rate = 0.5;
    o->breaker.open_base_ns = 5000 * MS;
    o->breaker.open_max_ns = 300000 * MS;
    o->limiter.rate = 10;
    o->limiter.burst = 20;
    o->retry.max_attempts = 3;
    o->retry.base_delay_ns = 200 * MS;
    o->retry.max_delay_ns = 5000 * MS;
    o->retry.jitter = RESIL_JITTER_FULL;
    o->retry.timeout_ns = 30000 * MS;
    o->retry.max_retry_after_ns = 30000 * MS;
    o->cache.max_entries = 1000;
    o->cache.max_bytes = 16u << 20;
    o->cache.default_ttl_ns = 600000 * MS;
    o->cache.stale_ttl_ns = 3600000 * MS;
    o->max_concurrent = 16;
    s->timeout_ms = 10000;
    s->connect_timeout_ms = 3000;
    s->max_response_bytes = 2u << 20;
}

static void defaults_services(struct config *c)
{
    service_defaults(&c->youtube, "youtube_api", "https://www.googleapis.com/youtube/v3");
    snprintf(c->youtube.alt_url, sizeof(c->youtube.alt_url), "https://www.youtube.com/oembed");
    snprintf(c->youtube.key_secret, sizeof(c->youtube.key_secret), "youtube_api_key");
    snprintf(c->youtube.key_env, sizeof(c->youtube.key_env), "YOUTUBE_API_KEY");

    /* Transcripts are long and change never: a bigger body, a long TTL. */
    service_defaults(&c->transcript, "video_analysis", "http://127.0.0.1:8090");
    c->transcript.timeout_ms = 20000;
    c->transcript.max_response_bytes = 16u << 20;
    c->transcript.policy.max_concurrent = 8;
    c->transcript.policy.limiter.rate = 5;
    c->transcript.policy.limiter.burst = 10;
    c->transcript.policy.cache.max_entries = 500;
    c->transcript.policy.cache.max_bytes = 64u << 20;
    c->transcript.policy.cache.default_ttl_ns = 3600000 * MS;
    c->transcript.policy.cache.stale_ttl_ns = 86400000 * MS;

    /* Model calls are slow and paid for: long timeouts, a low rate, few
     * retries, a longer first open period. */
    service_defaults(&c->ai, "ai_processing", "https://api.openai.com/v1");
    snprintf(c->ai.key_secret, sizeof(c->ai.key_secret), "ai_api_key");
    snprintf(c->ai.key_env, sizeof(c->ai.key_env), "AI_API_KEY");
    c->ai.timeout_ms = 60000;
    c->ai.connect_timeout_ms = 5000;
    c->ai.max_response_bytes = 4u << 20;
    c->ai.policy.max_concurrent = 4;
    c->ai.policy.limiter.rate = 2;
    c->ai.policy.limiter.burst = 4;
    c->ai.policy.retry.max_attempts = 2;
    c->ai.policy.retry.base_delay_ns = 1000 * MS;
    c->ai.policy.retry.max_delay_ns = 10000 * MS;
    c->ai.policy.retry.timeout_ns = 150000 * MS;
    c->ai.policy.retry.max_retry_after_ns = 60000 * MS;
    c->ai.policy.breaker.open_base_ns = 10000 * MS;
    c->ai.policy.cache.max_entries = 256;
    c->ai.policy.cache.default_ttl_ns = 3600000 * MS;
    c->ai.policy.cache.stale_ttl_ns = 0;
    snprintf(c->ai_opts.model, sizeof(c->ai_opts.model), "gpt-4o-mini");
    c->ai_opts.max_tokens = 1024;
    c->ai_opts.temperature = 0.2;
    c->ai_opts.max_input_chars = 100000;
}

void config_defaults(struct config *c)
{
    if (c == NULL)
        return;
    memset(c, 0, sizeof(*c));
    c->transport = CONFIG_STDIO;
    snprintf(c->listen_addr, sizeof(c->listen_addr), "127.0.0.1");
    c->listen_port = 8080;
    snprintf(c->auth_token_secret, sizeof(c->auth_token_secret), "http_auth_token");
    c->max_body_bytes = 4u << 20;
    c->max_depth = 64;
    c->max_sessions = 1000;
    c->session_idle_ms = 30 * 60000;
    c->max_inflight_per_session = 16;
    c->max_connections = 256;
    c->worker_threads = 16;
    c->event_buffer = 256;
    c->sse_keepalive_ms = 15000;
    c->sse_retry_ms = 1000;
    c->shutdown_grace_ms = 10000;
    c->page_size = 50;
    c->log_level = LOG_INFO;
    defaults_services(c);
}

/* ---- printing (--print-default-config) ---------------------------------- */

static json_t *dump_section(section_fn fn, void *obj);

static json_t *dump_listen(const struct config *c)
{
    char buf[96];

    if (strchr(c->listen_addr, ':') != NULL)
        snprintf(buf, sizeof(buf), "[%s]:%u", c->listen_addr, c->listen_port);
    else
        snprintf(buf, sizeof(buf), "%s:%u", c->listen_addr, c->listen_port);
    return json_string(buf);
}

static json_t *dump_value(const struct field *f)
{
    json_t *a;

    switch (f->type) {
    case F_SECTION: return dump_section(f->fn, f->dst);
    case F_STR: case F_URL: case F_NAME: case F_ENV: return json_string(f->dst);
    case F_BOOL: return json_boolean(*(int *)f->dst);
    case F_U32: return json_integer(*(uint32_t *)f->dst);
    case F_UINT: return json_integer(*(unsigned *)f->dst);
    case F_SIZE: return json_integer((json_int_t)*(size_t *)f->dst);
    case F_I64: return json_integer(*(int64_t *)f->dst);
    case F_NS: return json_integer(*(int64_t *)f->dst / MS);
    case F_DBL: return json_real(*(double *)f->dst);
    case F_ENUM: return json_string(f->names[*(int *)f->dst]);
    case F_LISTEN: return dump_listen(f->dst);
    case F_LOGLEVEL: return json_string(log_level_name(*(int *)f->dst));
    case F_ORIGINS:
        a = json_array();
        for (size_t i = 0; a != NULL && i < ((struct config *)f->dst)->norigins; i++)
            json_array_append_new(a, json_string(((struct config *)f->dst)->origins[i]));
        return a;
    }
    return NULL;
}

static json_t *dump_section(section_fn fn, void *obj)
{
    struct field f[FIELD_MAX];
    size_t n = fn(obj, f);
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < n; i++) {
        json_t *v = dump_value(&f[i]);

        if (v == NULL || json_object_set_new(o, f[i].key, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

char *config_default_json(void)
{
    struct config *c = malloc(sizeof(*c));
    json_t *root;
    char *text = NULL, *out;
    size_t len;

    if (c == NULL)
        return NULL;
    config_defaults(c);
    root = dump_section(root_fields, c);
    free(c);
    if (root != NULL)
        text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (text == NULL)
        return NULL;
    /* A trailing newline, as a file on disk has. */
    len = strlen(text);
    out = realloc(text, len + 2);
    if (out == NULL) {
        free(text);
        return NULL;
    }
    memcpy(out + len, "\n", 2);
    return out;
}

/* ---- parsing ------------------------------------------------------------- */

/* path.key (key alone at the top); a path cut at PATH_MAX_LEN only
 * locates less precisely. */
static void path_join(char *out, const char *path, const char *key)
{
    size_t n = 0;

    for (const char *p = path; *p && n + 1 < PATH_MAX_LEN; p++)
        out[n++] = *p;
    if (*path && n + 1 < PATH_MAX_LEN)
        out[n++] = '.';
    for (const char *k = key; *k && n + 1 < PATH_MAX_LEN; k++)
        out[n++] = *k;
    out[n] = '\0';
}

struct pctx {
    const char *text;
    size_t len;
    const char *name;
    char *err;
    size_t errlen;
};

int config__locate_key(const char *text, size_t len, const char *path, int want_key, int *line,
                       int *column);

/* "NAME:LINE:COL: path: message", located at the value of path (or at its
 * key when at_key), else at the nearest enclosing key that is in the text. */
static int perr(struct pctx *p, const char *path, int at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(struct pctx *p, const char *path, int at_key, const char *fmt, ...)
{
    char msg[768], where[PATH_MAX_LEN];
    int line = 0, col = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(where, sizeof(where), "%s", path);
    while (config__locate_key(p->text, p->len, where, at_key, &line, &col) != 0) {
        char *dot = strrchr(where, '.');

        at_key = 0;
        if (dot == NULL) {
            line = col = 0;
            break;
        }
        *dot = '\0';
    }
    if (line > 0)
        snprintf(p->err, p->errlen, "%s:%d:%d: %s%s%s", p->name, line, col, path,
                 *path ? ": " : "", msg);
    else
        snprintf(p->err, p->errlen, "%s: %s%s%s", p->name, path, *path ? ": " : "", msg);
    return -1;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

/* A key that names a credential given in clear ("api_key": "AIza..."). */
static int looks_like_credential(const char *key)
{
    static const char *const words[] = {"key", "apikey", "token", "password", "passwd",
                                        "secret", "bearer", "authorization", "credential",
                                        "credentials", NULL};
    static const char *const tails[] = {"_key", "_token", "_password", "_secret", NULL};
    size_t n = strlen(key);

    for (size_t i = 0; words[i] != NULL; i++)
        if (strcasecmp(key, words[i]) == 0)
            return 1;
    for (size_t i = 0; tails[i] != NULL; i++) {
        size_t t = strlen(tails[i]);

        if (n > t && strcasecmp(key + n - t, tails[i]) == 0)
            return 1;
    }
    return 0;
}

static int unknown_key(struct pctx *p, const char *path, const char *key,
                       const struct field *f, size_t n)
{
    char known[512] = "", full[PATH_MAX_LEN];
    size_t used = 0;

    path_join(full, path, key);
    if (looks_like_credential(key)) {
        if (strcmp(path, "server") == 0)
            return perr(p, full, 1,
                        "credentials are never read from the configuration file: store the "
                        "token with resil-secrets and name it in auth_token_secret, or set "
                        "MCP_AUTH_TOKEN");
        return perr(p, full, 1,
                    "credentials are never read from the configuration file: store the key "
                    "with resil-secrets and name it in api_key_secret, or name the "
                    "environment variable holding it in api_key_env");
    }
    for (size_t i = 0; i < n && used < sizeof(known); i++)
        used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                 f[i].key);
    return perr(p, full, 1, "unknown key '%s' (known: %s)", key, known);
}

static int parse_section(struct pctx *p, json_t *obj, const char *path, section_fn fn,
                         void *dst);

static int parse_string(struct pctx *p, const struct field *f, json_t *v, const char *path)
{
    char why[600];
    const char *s = json_string_value(v);
    int rc = config__check_text(s, f->cap, why, sizeof(why));

    if (rc == 0 && f->type == F_URL)
        rc = config__check_url(s, why, sizeof(why));
    if (rc == 0 && f->type == F_NAME)
        rc = config__check_charset(s, ".-", 1, why, sizeof(why));
    if (rc == 0 && f->type == F_ENV)
        rc = config__check_charset(s, "", 0, why, sizeof(why));
    if (rc != 0)
        return perr(p, path, 0, "%s", why);
    snprintf(f->dst, f->cap, "%s", s);
    if (f->type == F_URL)
        config__trim_url(f->dst);
    return 0;
}

static int parse_int(struct pctx *p, const struct field *f, json_t *v, const char *path)
{
    json_int_t i;

    if (!json_is_integer(v))
        return perr(p, path, 0, "must be an integer, got %s", json_type_name(v));
    i = json_integer_value(v);
    if ((double)i < f->min || (double)i > f->max)
        return perr(p, path, 0, "must be between %.0f and %.0f, got %lld", f->min, f->max,
                    (long long)i);
    switch (f->type) {
    case F_U32: *(uint32_t *)f->dst = (uint32_t)i; break;
    case F_UINT: *(unsigned *)f->dst = (unsigned)i; break;
    case F_SIZE: *(size_t *)f->dst = (size_t)i; break;
    case F_I64: *(int64_t *)f->dst = (int64_t)i; break;
    case F_NS: *(int64_t *)f->dst = (int64_t)i * MS; break;
    default: break;
    }
    return 0;
}

static int parse_enum(struct pctx *p, const struct field *f, json_t *v, const char *path)
{
    char names[128] = "";
    size_t used = 0;

    for (int i = 0; json_is_string(v) && f->names[i] != NULL; i++)
        if (strcmp(json_string_value(v), f->names[i]) == 0) {
            *(int *)f->dst = i;
            return 0;
        }
    for (int i = 0; f->names[i] != NULL && used < sizeof(names); i++)
        used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                                 f->names[i]);
    if (!json_is_string(v))
        return perr(p, path, 0, "must be a string (one of %s), got %s", names,
                    json_type_name(v));
    return perr(p, path, 0, "'%s' is not one of %s", json_string_value(v), names);
}

static int parse_origins(struct pctx *p, struct config *c, json_t *v, const char *path)
{
    char why[600], sub[PATH_MAX_LEN];
    size_t i;
    json_t *e;

    if (!json_is_array(v))
        return perr(p, path, 0, "must be an array of origins, got %s", json_type_name(v));
    if (json_array_size(v) > CONFIG_MAX_ORIGINS)
        return perr(p, path, 0, "at most %d origins, got %zu", CONFIG_MAX_ORIGINS,
                    json_array_size(v));
    json_array_foreach(v, i, e) {
        char idx[24];

        snprintf(idx, sizeof(idx), "%zu", i);
        path_join(sub, path, idx);
        if (!json_is_string(e))
            return perr(p, sub, 0, "must be a string, got %s", json_type_name(e));
        if (config__check_origin(json_string_value(e), why, sizeof(why)) != 0)
            return perr(p, sub, 0, "%s", why);
        snprintf(c->origins[i], sizeof(c->origins[i]), "%s", json_string_value(e));
    }
    c->norigins = json_array_size(v);
    return 0;
}

static int parse_special(struct pctx *p, const struct field *f, json_t *v, const char *path)
{
    char why[600];
    struct config *c = f->dst;
    int l;

    if (f->type == F_ORIGINS)
        return parse_origins(p, c, v, path);
    if (!json_is_string(v))
        return perr(p, path, 0, "must be a string, got %s", json_type_name(v));
    if (f->type == F_LOGLEVEL) {
        l = log_level_parse(json_string_value(v));
        if (l < 0)
            return perr(p, path, 0, "'%s' is not one of debug, info, notice, warn, error, off",
                        json_string_value(v));
        *(int *)f->dst = l;
        return 0;
    }
    if (config__parse_listen(json_string_value(v), c->listen_addr, sizeof(c->listen_addr),
                             &c->listen_port, why, sizeof(why)) != 0)
        return perr(p, path, 0, "%s", why);
    return 0;
}

static int parse_value(struct pctx *p, const struct field *f, json_t *v, const char *path)
{
    switch (f->type) {
    case F_SECTION: return parse_section(p, v, path, f->fn, f->dst);
    case F_STR: case F_URL: case F_NAME: case F_ENV:
        if (!json_is_string(v))
            return perr(p, path, 0, "must be a string, got %s", json_type_name(v));
        return parse_string(p, f, v, path);
    case F_BOOL:
        if (!json_is_boolean(v))
            return perr(p, path, 0, "must be true or false, got %s", json_type_name(v));
        *(int *)f->dst = json_is_true(v);
        return 0;
    case F_DBL:
        if (!json_is_number(v))
            return perr(p, path, 0, "must be a number, got %s", json_type_name(v));
        if (json_number_value(v) < f->min || json_number_value(v) > f->max)
            return perr(p, path, 0, "must be between %g and %g, got %g", f->min, f->max,
                        json_number_value(v));
        *(double *)f->dst = json_number_value(v);
        return 0;
    case F_ENUM: return parse_enum(p, f, v, path);
    case F_LISTEN: case F_ORIGINS: case F_LOGLEVEL: return parse_special(p, f, v, path);
    default: return parse_int(p, f, v, path);
    }
}

static int parse_section(struct pctx *p, json_t *obj, const char *path, section_fn fn,
                         void *dst)
{
    struct field f[FIELD_MAX];
    size_t n = fn(dst, f);
    const char *key;
    json_t *v;

    if (!json_is_object(obj))
        return perr(p, path, 0, "must be an object, got %s", json_type_name(obj));
    json_object_foreach(obj, key, v) {
        char sub[PATH_MAX_LEN];
        size_t i;

        for (i = 0; i < n && strcmp(f[i].key, key) != 0; i++)
            ;
        if (i == n)
            return unknown_key(p, path, key, f, n);
        path_join(sub, path, key);
        if (parse_value(p, &f[i], v, sub) != 0)
            return -1;
    }
    return 0;
}

/* Rules across keys, checked once everything is read (the order of keys
 * in the file must not matter). */
static int check_service(struct pctx *p, struct config_service *s)
{
    char path[PATH_MAX_LEN];
    resil_service_opts *o = &s->policy;
    resil_service *svc = NULL;
    int rc;

    if (o->retry.max_delay_ns < o->retry.base_delay_ns) {
        snprintf(path, sizeof(path), "services.%s.retry", s->name);
        return perr(p, path, 0, "max_delay_ms (%lld) must be at least base_delay_ms (%lld)",
                    (long long)(o->retry.max_delay_ns / MS),
                    (long long)(o->retry.base_delay_ns / MS));
    }
    if (o->breaker.open_max_ns < o->breaker.open_base_ns) {
        snprintf(path, sizeof(path), "services.%s.breaker", s->name);
        return perr(p, path, 0, "open_max_ms (%lld) must be at least open_base_ms (%lld)",
                    (long long)(o->breaker.open_max_ns / MS),
                    (long long)(o->breaker.open_base_ns / MS));
    }
    if (s->connect_timeout_ms > s->timeout_ms) {
        snprintf(path, sizeof(path), "services.%s", s->name);
        return perr(p, path, 0, "connect_timeout_ms (%lld) must not exceed timeout_ms (%lld)",
                    (long long)s->connect_timeout_ms, (long long)s->timeout_ms);
    }
    o->name = s->name;
    o->attempt_timeout_ns = s->timeout_ms * MS;
    /* Whatever the per-key ranges missed, the library's own validation
     * catches: build the policy once and throw it away. */
    rc = resil_service_new(o, &svc);
    resil_service_free(svc);
    snprintf(path, sizeof(path), "services.%s", s->name);
    if (rc != 0)
        return perr(p, path, 0, "the policy is not valid: %s", resil_strerror(rc));
    return 0;
}

static int check_all(struct pctx *p, struct config *c)
{
    if ((c->secrets_key_file[0] == '\0') != (c->secrets_store[0] == '\0'))
        return perr(p, c->secrets_store[0] ? "secrets.store" : "secrets.key_file", 0,
                    "secrets.key_file and secrets.store go together: set both or neither");
    if (check_service(p, &c->youtube) != 0 || check_service(p, &c->transcript) != 0 ||
        check_service(p, &c->ai) != 0)
        return -1;
    return 0;
}

int config_parse(struct config *c, const char *text, size_t len, const char *name, char *err,
                 size_t errlen)
{
    struct pctx p = {text, len, name ? name : "<config>", err, errlen};
    json_error_t je;
    json_t *root;
    int rc;

    if (c == NULL || text == NULL || err == NULL || errlen == 0)
        return -1;
    config_defaults(c);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", p.name, je.line, je.column,
                 je.text);
        return -1;
    }
    rc = parse_section(&p, root, "", root_fields, c);
    json_decref(root);
    if (rc == 0)
        rc = check_all(&p, c);
    return rc;
}
