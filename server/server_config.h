/* mcp-server configuration: one JSON file, defaults for every field,
 * environment overrides, validated as a whole before anything starts.
 *
 * Errors name the file, line and column and the key path:
 *   "server.json:12:5: services.youtube_api.breaker: unknown key 'treshold'
 *    (known: failure_rate, failure_count, minimum_calls, ...)"
 * Parse errors come from jansson with its line/column; errors about values
 * (unknown key, wrong type, out of range) are located by finding the key
 * in the text (config_locate).  Unknown keys are errors, never ignored.
 *
 * API keys never come from this file in clear: a service names the secret
 * (in the encrypted store, secrets.h) or the environment variable holding
 * it; config_load() refuses a field that looks like a key given inline.
 *
 * Environment overrides (applied after the file, each validated like the
 * file's value, errors name the variable):
 *   MCP_TRANSPORT (stdio|http), MCP_LISTEN (ADDR:PORT), MCP_LOG_LEVEL,
 *   MCP_AUTH_TOKEN (the HTTP bearer token itself, checked for strength),
 *   MCP_SECRETS_KEY_FILE, MCP_SECRETS_STORE,
 *   YOUTUBE_API_KEY, AI_API_KEY (keys themselves, validated: 8..512
 *   printable ASCII, no spaces),
 *   MCP_YOUTUBE_BASE_URL, MCP_OEMBED_URL, MCP_TRANSCRIPT_URL,
 *   MCP_AI_BASE_URL, MCP_AI_MODEL. */
#ifndef MCP_SERVER_CONFIG_H
#define MCP_SERVER_CONFIG_H

#include <resil/policy.h>

#include <stddef.h>
#include <stdint.h>

#define CONFIG_URL_MAX 512
#define CONFIG_NAME_MAX 128
#define CONFIG_MAX_ORIGINS 16

enum config_transport { CONFIG_STDIO = 0, CONFIG_HTTP = 1 };

/* One upstream service: where it is, how long to wait, and its libresil
 * policy (the resil_service_opts are filled from the "breaker", "limiter",
 * "retry", "cache" and "max_concurrent" keys; name points into this
 * struct; metrics and clock are left NULL for the caller to set). */
struct config_service {
    char name[CONFIG_NAME_MAX];     /* youtube_api, video_analysis, ai_processing */
    char base_url[CONFIG_URL_MAX];  /* youtube_api: Data API v3 base
                                       ("https://www.googleapis.com/youtube/v3");
                                       video_analysis: transcript provider;
                                       ai_processing: OpenAI-compatible base
                                       ("https://api.openai.com/v1") */
    char alt_url[CONFIG_URL_MAX];   /* youtube_api: oEmbed endpoint; else "" */
    char key_secret[CONFIG_NAME_MAX]; /* name in the secrets store, or "" */
    char key_env[CONFIG_NAME_MAX];  /* environment variable, or "" */
    int64_t timeout_ms;             /* whole request, per attempt */
    int64_t connect_timeout_ms;
    size_t max_response_bytes;      /* a longer upstream body is an error */
    resil_service_opts policy;     /* policy.name points at name above:
                                      re-point it after copying the struct */
};

struct config_ai {
    char model[CONFIG_NAME_MAX];    /* "gpt-4o-mini", "llama3.1", ... */
    unsigned max_tokens;
    double temperature;
    size_t max_input_chars;         /* longer text is cut, and says so */
};

struct config {
    enum config_transport transport;
    char listen_addr[64];           /* "127.0.0.1" (a non-loopback address
                                       needs auth_token: checked) */
    unsigned listen_port;           /* 0: any (printed at startup) */
    char origins[CONFIG_MAX_ORIGINS][CONFIG_URL_MAX]; /* allowed Origin
                                       values besides loopback ones */
    size_t norigins;
    char auth_token[256];           /* from MCP_AUTH_TOKEN or the store's
                                       "http_auth_token"; "" = no auth */
    char auth_token_secret[CONFIG_NAME_MAX];
    /* limits */
    size_t max_body_bytes;          /* default 4 MiB */
    unsigned max_depth;             /* default 64 */
    size_t max_sessions;            /* default 1000 */
    int64_t session_idle_ms;        /* default 30 min */
    unsigned max_inflight_per_session; /* default 16 */
    unsigned max_connections;       /* HTTP; default 256 */
    unsigned worker_threads;        /* tool calls at once, server-wide;
                                       default 16 */
    size_t event_buffer;            /* SSE events kept per session for
                                       resumption; default 256 */
    int64_t sse_keepalive_ms;       /* default 15 s */
    int64_t sse_retry_ms;           /* the retry: field; default 1 s */
    int64_t shutdown_grace_ms;      /* in-flight calls drain; default 10 s */
    size_t page_size;               /* list pages; default 50 */
    int log_level;                  /* log.h enum log_level */
    char secrets_key_file[CONFIG_URL_MAX]; /* "" = no store */
    char secrets_store[CONFIG_URL_MAX];
    struct config_service youtube;  /* youtube_api */
    struct config_service transcript; /* video_analysis */
    struct config_service ai;       /* ai_processing */
    struct config_ai ai_opts;
    /* resolved secrets (never logged): from env or the store */
    char youtube_key[513];
    char ai_key[513];
};

/* Defaults for everything (usable as is: stdio, public upstream URLs, no
 * keys: oEmbed only, ai_analyze answers that no key is configured). */
void config_defaults(struct config *c);

/* Load path (NULL: defaults only), then the environment (env is an
 * environ-style NULL-terminated array; NULL: the process environment),
 * then resolve secrets.  0, or -1 with err the first problem, located. */
int config_load(struct config *c, const char *path, char *const *env, char *err,
                size_t errlen);

/* The same from text already in memory (tests); name is used in errors. */
int config_parse(struct config *c, const char *text, size_t len, const char *name, char *err,
                 size_t errlen);

/* The default configuration as pretty JSON (what --print-default-config
 * writes; it loads back to the same config).  free() the result. */
char *config_default_json(void);

/* Line and column (1-based) of the value at a dotted key path
 * ("services.ai_processing.retry.max_attempts") in JSON text; 0 found,
 * -1 not found (then line = column = 0). */
int config_locate(const char *text, size_t len, const char *path, int *line, int *column);

/* Wipe the resolved secrets. */
void config_clear_secrets(struct config *c);

#endif
