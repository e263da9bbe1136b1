/* mcp-server configuration: defaults, the shipped example file, the
 * --print-default-config round trip, every error message shape (located
 * parse and value errors, unknown keys, types, ranges, listen addresses,
 * credentials given inline), environment overrides, secrets from a real
 * store and from the environment, and config_locate on tricky text. */
#include "../check_util.h"
#include "server_config.h"

#include <resil/secrets.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[1024];
static struct config cfg;
static char *const no_env[] = {NULL};

#define GOOD_KEY "AIzaSyA-test_key-0123456789abcdefXYZ"
#define GOOD_TOKEN "tok-4f9c2b7e81d0a6c35e92f1b8"

static int parse(const char *text)
{
    return config_parse(&cfg, text, strlen(text), "t.json", err, sizeof(err));
}

#define ck_assert_err_starts(prefix)                                                    \
    ck_assert_msg(strncmp(err, (prefix), strlen(prefix)) == 0, "error '%s' does not start " \
                  "with '%s'", err, (prefix))
#define ck_assert_err_has(part) \
    ck_assert_msg(strstr(err, (part)) != NULL, "error '%s' lacks '%s'", err, (part))
#define ck_assert_err_lacks(part) \
    ck_assert_msg(strstr(err, (part)) == NULL, "error '%s' shows '%s'", err, (part))

/* A temporary directory per test, removed with its files. */
static char dir[64];
static char paths[8][128];
static int npaths;

static const char *tmpfile_with(const char *name, const char *text)
{
    char *p = paths[npaths++];
    FILE *f;

    snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    npaths = 0;
    err[0] = '\0';
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* nftw rather than system("rm -rf"): no fork of a shell in every
 * teardown (a loaded CI machine made that overrun Check's timeout). */
static void teardown(void)
{
    config_clear_secrets(&cfg);
    ck_assert_int_eq(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

START_TEST(defaults_are_sane)
{
    config_defaults(&cfg);
    ck_assert_int_eq(cfg.transport, CONFIG_STDIO);
    ck_assert_str_eq(cfg.listen_addr, "127.0.0.1");
    ck_assert_uint_eq(cfg.listen_port, 8080);
    ck_assert_uint_eq(cfg.max_body_bytes, 4u << 20);
    ck_assert_uint_eq(cfg.max_depth, 64);
    ck_assert_uint_eq(cfg.max_sessions, 1000);
    ck_assert_int_eq(cfg.session_idle_ms, 30 * 60000);
    ck_assert_str_eq(cfg.youtube.name, "youtube_api");
    ck_assert_str_eq(cfg.youtube.base_url, "https://www.googleapis.com/youtube/v3");
    ck_assert_str_eq(cfg.youtube.alt_url, "https://www.youtube.com/oembed");
    ck_assert_str_eq(cfg.transcript.name, "video_analysis");
    ck_assert_str_eq(cfg.ai.name, "ai_processing");
    ck_assert_str_eq(cfg.ai.base_url, "https://api.openai.com/v1");
    ck_assert_str_eq(cfg.ai_opts.model, "gpt-4o-mini");
    ck_assert_str_eq(cfg.youtube.policy.name, "youtube_api");
    ck_assert(cfg.youtube.policy.use_breaker && cfg.youtube.policy.use_limiter);
    ck_assert(cfg.youtube.policy.use_retry && cfg.youtube.policy.use_cache);
    ck_assert_double_eq(cfg.youtube.policy.limiter.rate, 10);
    ck_assert_uint_eq(cfg.youtube.policy.limiter.burst, 20);
    ck_assert_int_eq(cfg.youtube.policy.breaker.open_base_ns, 5 * RESIL_NS_PER_SEC);
    ck_assert_int_eq(cfg.youtube.policy.breaker.open_max_ns, 300 * RESIL_NS_PER_SEC);
    ck_assert_uint_eq(cfg.youtube.policy.retry.max_attempts, 3);
    ck_assert_int_eq(cfg.ai.timeout_ms, 60000);
    ck_assert_double_eq(cfg.ai.policy.limiter.rate, 2);
    ck_assert_uint_eq(cfg.ai.policy.retry.max_attempts, 2);
    ck_assert_str_eq(cfg.youtube_key, "");
    ck_assert_str_eq(cfg.auth_token, "");
}
END_TEST

START_TEST(default_json_round_trips)
{
    long live = tu_alloc_live();
    char *text = config_default_json();
    struct config d;

    ck_assert_ptr_nonnull(text);
    ck_assert_rc(parse(text), 0);
    config_defaults(&d);
    /* Every field the file can hold came back as the default. */
    ck_assert_str_eq(cfg.listen_addr, d.listen_addr);
    ck_assert_uint_eq(cfg.listen_port, d.listen_port);
    ck_assert_int_eq(cfg.shutdown_grace_ms, d.shutdown_grace_ms);
    ck_assert_int_eq(cfg.log_level, d.log_level);
    ck_assert_int_eq(cfg.ai.policy.retry.base_delay_ns, d.ai.policy.retry.base_delay_ns);
    ck_assert_int_eq(cfg.transcript.policy.cache.stale_ttl_ns,
                     d.transcript.policy.cache.stale_ttl_ns);
    ck_assert_double_eq(cfg.ai_opts.temperature, d.ai_opts.temperature);
    ck_assert_double_eq(cfg.youtube.policy.breaker.open_jitter,
                        d.youtube.policy.breaker.open_jitter);
    ck_assert_int_eq(cfg.youtube.policy.retry.jitter, d.youtube.policy.retry.jitter);
    ck_assert_int_eq(cfg.ai.policy.cache.policy, d.ai.policy.cache.policy);
    ck_assert_uint_eq(cfg.ai.policy.max_concurrent, d.ai.policy.max_concurrent);
    ck_assert_mem_eq(cfg.youtube_key, d.youtube_key, sizeof(d.youtube_key));
    free(text);
    /* The trial policies built while validating are all freed. */
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(shipped_example_is_the_default)
{
    const char *top = getenv("top_srcdir");
    char path[1024], *want = config_default_json(), *got;
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/server/mcp-server.json", top ? top : ".");
    ck_assert_rc(config_load(&cfg, path, no_env, err, sizeof(err)), 0);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    got = calloc(1, (size_t)n + 1);
    ck_assert_uint_eq(fread(got, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

START_TEST(empty_object_means_defaults)
{
    ck_assert_rc(parse("{}"), 0);
    ck_assert_str_eq(cfg.listen_addr, "127.0.0.1");
    ck_assert_rc(config_load(&cfg, NULL, no_env, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.worker_threads, 16);
}
END_TEST

START_TEST(values_are_read)
{
    ck_assert_rc(parse("{\"server\": {\"transport\": \"http\", \"listen\": \"[::1]:0\","
                       " \"allowed_origins\": [\"https://app.example.com\", "
                       "\"http://localhost:5173\"], \"max_depth\": 32},"
                       " \"log\": {\"level\": \"debug\"},"
                       " \"services\": {\"youtube_api\": {\"base_url\": \"http://127.0.0.1:9/yt/\","
                       " \"cache\": {\"enabled\": false, \"ttl_ms\": 1500},"
                       " \"retry\": {\"jitter\": \"decorrelated\", \"max_attempts\": 5},"
                       " \"breaker\": {\"window\": \"time\", \"failure_rate\": 1}},"
                       " \"ai_processing\": {\"model\": \"llama3.1\", \"temperature\": 0,"
                       " \"limiter\": {\"rate\": 0.5}}}}"),
                 0);
    ck_assert_int_eq(cfg.transport, CONFIG_HTTP);
    ck_assert_str_eq(cfg.listen_addr, "::1");
    ck_assert_uint_eq(cfg.listen_port, 0);
    ck_assert_uint_eq(cfg.norigins, 2);
    ck_assert_str_eq(cfg.origins[1], "http://localhost:5173");
    ck_assert_uint_eq(cfg.max_depth, 32);
    ck_assert_int_eq(cfg.log_level, 0);
    ck_assert_str_eq(cfg.youtube.base_url, "http://127.0.0.1:9/yt");
    ck_assert_int_eq(cfg.youtube.policy.use_cache, 0);
    ck_assert_int_eq(cfg.youtube.policy.cache.default_ttl_ns, 1500 * 1000000LL);
    ck_assert_int_eq(cfg.youtube.policy.retry.jitter, RESIL_JITTER_DECORRELATED);
    ck_assert_uint_eq(cfg.youtube.policy.retry.max_attempts, 5);
    ck_assert_int_eq(cfg.youtube.policy.breaker.window, RESIL_WINDOW_TIME);
    ck_assert_str_eq(cfg.ai_opts.model, "llama3.1");
    ck_assert_double_eq(cfg.ai_opts.temperature, 0);
    ck_assert_double_eq(cfg.ai.policy.limiter.rate, 0.5);
    ck_assert_int_eq(cfg.ai.policy.use_limiter, 1);
}
END_TEST

START_TEST(parse_error_has_line_and_column)
{
    ck_assert_rc(parse("{\n  \"server\": {\n    \"max_depth\": 4,,\n  }\n}\n"), -1);
    ck_assert_err_starts("t.json:3:");
    ck_assert_err_has("invalid JSON");
    ck_assert_rc(parse("{\"a\": 1, \"a\": 2}"), -1);
    ck_assert_err_has("duplicate");
    ck_assert_rc(parse(""), -1);
    ck_assert_err_starts("t.json:");
    ck_assert_rc(parse("[1]"), -1);
    ck_assert_err_has("must be an object, got an array");
}
END_TEST

START_TEST(unknown_key_is_located_and_lists_known)
{
    ck_assert_rc(parse("{\n  \"server\": {\n    \"lissten\": \"127.0.0.1:1\"\n  }\n}\n"), -1);
    ck_assert_str_eq(err, "t.json:3:5: server.lissten: unknown key 'lissten' (known: "
                          "transport, listen, allowed_origins, auth_token_secret, "
                          "max_body_bytes, max_depth, max_sessions, session_idle_ms, "
                          "max_inflight_per_session, max_connections, worker_threads, "
                          "event_buffer, sse_keepalive_ms, sse_retry_ms, shutdown_grace_ms, "
                          "page_size)");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"breaker\": "
                       "{\"treshold\": 1}}}}"),
                 -1);
    ck_assert_err_starts("t.json:1:45: services.ai_processing.breaker.treshold: unknown key "
                         "'treshold' (known: enabled, window, ");
    ck_assert_rc(parse("{\"extra\": true}"), -1);
    ck_assert_str_eq(err, "t.json:1:2: extra: unknown key 'extra' (known: server, log, "
                          "secrets, services)");
    /* The transcript provider takes no key: api_key_* are unknown there. */
    ck_assert_rc(parse("{\"services\": {\"video_analysis\": {\"api_key_env\": \"X\"}}}"), -1);
    ck_assert_err_has("unknown key 'api_key_env'");
}
END_TEST

START_TEST(wrong_types_are_named)
{
    ck_assert_rc(parse("{\"server\": {\"max_sessions\": \"10\"}}"), -1);
    ck_assert_str_eq(err, "t.json:1:29: server.max_sessions: must be an integer, got a string");
    ck_assert_rc(parse("{\"server\": {\"max_sessions\": 1.5}}"), -1);
    ck_assert_err_has("must be an integer, got a number with a fraction");
    ck_assert_rc(parse("{\"server\": 3}"), -1);
    ck_assert_str_eq(err, "t.json:1:12: server: must be an object, got an integer");
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"cache\": {\"enabled\": 0}}}}"), -1);
    ck_assert_err_has("services.youtube_api.cache.enabled: must be true or false");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"temperature\": \"hot\"}}}"), -1);
    ck_assert_err_has("must be a number, got a string");
    ck_assert_rc(parse("{\"server\": {\"transport\": 1}}"), -1);
    ck_assert_err_has("must be a string (one of stdio, http), got an integer");
    ck_assert_rc(parse("{\"server\": {\"allowed_origins\": \"http://a\"}}"), -1);
    ck_assert_err_has("must be an array of origins");
    ck_assert_rc(parse("{\"log\": {\"level\": null}}"), -1);
    ck_assert_err_has("log.level: must be a string, got null");
}
END_TEST

START_TEST(ranges_and_names_are_checked)
{
    ck_assert_rc(parse("{\"server\": {\"max_sessions\": 0}}"), -1);
    ck_assert_str_eq(err, "t.json:1:29: server.max_sessions: must be between 1 and 1000000, "
                          "got 0");
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"breaker\": "
                       "{\"failure_rate\": 1.5}}}}"),
                 -1);
    ck_assert_err_has("services.youtube_api.breaker.failure_rate: must be between 0 and 1, "
                      "got 1.5");
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"retry\": {\"jitter\": \"fancy\"}}}}"),
                 -1);
    ck_assert_err_has("'fancy' is not one of none, full, equal, decorrelated");
    ck_assert_rc(parse("{\"log\": {\"level\": \"loud\"}}"), -1);
    ck_assert_err_has("'loud' is not one of debug, info");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"base_url\": \"ftp://x\"}}}"), -1);
    ck_assert_err_has("is not an http:// or https:// URL");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"base_url\": \"http://x/?a=1\"}}}"),
                 -1);
    ck_assert_err_has("not a base URL");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"base_url\": \"http://h:/v1\"}}}"),
                 -1);
    ck_assert_err_has("'http://h:/v1': the port is not a number in 1..65535");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"base_url\": \"http://h:99999\"}}}"),
                 -1);
    ck_assert_err_has("the port is not a number");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"base_url\": \"http://[::1/v1\"}}}"),
                 -1);
    ck_assert_err_has("without its closing ]");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"base_url\": "
                       "\"http://[::1]:11434/v1\"}}}"),
                 0);
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"api_key_env\": \"1BAD\"}}}"), -1);
    ck_assert_err_has("'1' is not allowed in a name");
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"api_key_secret\": \"a b\"}}}"), -1);
    ck_assert_err_has("' ' is not allowed in a name");
    ck_assert_rc(parse("{\"server\": {\"allowed_origins\": [\"http://a.b\", \"http://x/y\"]}}"),
                 -1);
    ck_assert_err_starts("t.json:1:47: server.allowed_origins.1: 'http://x/y' is not an origin");
    ck_assert_rc(parse("{\"server\": {\"allowed_origins\": [\"http://a\",\"http://a\","
                       "\"http://a\",\"http://a\",\"http://a\",\"http://a\",\"http://a\","
                       "\"http://a\",\"http://a\",\"http://a\",\"http://a\",\"http://a\","
                       "\"http://a\",\"http://a\",\"http://a\",\"http://a\",\"http://a\"]}}"),
                 -1);
    ck_assert_err_has("at most 16 origins, got 17");
}
END_TEST

START_TEST(cross_field_rules)
{
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"retry\": {\"base_delay_ms\": 9000}}}}"),
                 -1);
    ck_assert_err_has("services.youtube_api.retry: max_delay_ms (5000) must be at least "
                      "base_delay_ms (9000)");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"breaker\": {\"open_max_ms\": 10}}}}"),
                 -1);
    ck_assert_err_has("open_max_ms (10) must be at least open_base_ms (10000)");
    ck_assert_rc(parse("{\"services\": {\"video_analysis\": {\"connect_timeout_ms\": 30000}}}"),
                 -1);
    ck_assert_err_has("connect_timeout_ms (30000) must not exceed timeout_ms (20000)");
    ck_assert_rc(parse("{\"secrets\": {\"store\": \"/tmp/s\"}}"), -1);
    ck_assert_err_has("secrets.key_file and secrets.store go together");
}
END_TEST

START_TEST(listen_addresses)
{
    static const char *const bad[] = {"localhost:80", "::1:80", "127.0.0.1:", "127.0.0.1",
                                      "127.0.0.1:65536", "127.0.0.1:-1", "[127.0.0.1]:80",
                                      "1.2.3:80", "[::1:80", ":80", "127.0.0.1:8x"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];

        snprintf(text, sizeof(text), "{\"server\": {\"listen\": \"%s\"}}", bad[i]);
        ck_assert_msg(parse(text) == -1, "%s accepted", bad[i]);
        ck_assert_err_starts("t.json:1:23: server.listen: ");
    }
    ck_assert_rc(parse("{\"server\": {\"listen\": \"127.0.0.1:65535\"}}"), 0);
    ck_assert_uint_eq(cfg.listen_port, 65535);
    ck_assert_rc(parse("{\"server\": {\"listen\": \"0.0.0.0:0\"}}"), 0);
    ck_assert_str_eq(cfg.listen_addr, "0.0.0.0");
    ck_assert_rc(parse("{\"server\": {\"listen\": \"[fe80::1]:443\"}}"), 0);
    ck_assert_str_eq(cfg.listen_addr, "fe80::1");
    ck_assert_uint_eq(cfg.listen_port, 443);
}
END_TEST

START_TEST(inline_credentials_are_refused)
{
    ck_assert_rc(parse("{\"services\": {\"youtube_api\": {\"api_key\": \"AIzaSECRETVALUE\"}}}"),
                 -1);
    ck_assert_err_starts("t.json:1:31: services.youtube_api.api_key: credentials are never "
                         "read from the configuration file");
    ck_assert_err_has("api_key_secret");
    ck_assert_err_has("api_key_env");
    ck_assert_err_lacks("SECRETVALUE");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"token\": \"x\"}}}"), -1);
    ck_assert_err_has("api_key_secret");
    ck_assert_rc(parse("{\"services\": {\"ai_processing\": {\"openai_key\": \"x\"}}}"), -1);
    ck_assert_err_has("credentials are never read");
    ck_assert_rc(parse("{\"server\": {\"auth_token\": \"SECRETVALUE\"}}"), -1);
    ck_assert_err_has("auth_token_secret");
    ck_assert_err_has("MCP_AUTH_TOKEN");
    ck_assert_err_lacks("SECRETVALUE");
}
END_TEST

START_TEST(environment_overrides)
{
    char *const env[] = {"MCP_TRANSPORT=stdio", "MCP_LISTEN=[::1]:9000",
                         "MCP_LOG_LEVEL=warn", "MCP_AI_MODEL=llama3.1",
                         "MCP_YOUTUBE_BASE_URL=http://127.0.0.1:1/yt/",
                         "MCP_OEMBED_URL=http://127.0.0.1:1/oembed",
                         "MCP_TRANSCRIPT_URL=http://127.0.0.1:1/tr",
                         "MCP_AI_BASE_URL=http://127.0.0.1:1/v1", "MCP_SECRETS_STORE=",
                         "YOUTUBE_API_KEY=" GOOD_KEY, "MCP_TRANSPORT=http", NULL};

    ck_assert_rc(config_load(&cfg, NULL, env, err, sizeof(err)), 0);
    /* The last entry of a name wins (the command line appends its own). */
    ck_assert_int_eq(cfg.transport, CONFIG_HTTP);
    ck_assert_str_eq(cfg.listen_addr, "::1");
    ck_assert_uint_eq(cfg.listen_port, 9000);
    ck_assert_int_eq(cfg.log_level, 3);
    ck_assert_str_eq(cfg.ai_opts.model, "llama3.1");
    ck_assert_str_eq(cfg.youtube.base_url, "http://127.0.0.1:1/yt");
    ck_assert_str_eq(cfg.youtube.alt_url, "http://127.0.0.1:1/oembed");
    ck_assert_str_eq(cfg.transcript.base_url, "http://127.0.0.1:1/tr");
    ck_assert_str_eq(cfg.ai.base_url, "http://127.0.0.1:1/v1");
    ck_assert_str_eq(cfg.secrets_store, "");
    ck_assert_str_eq(cfg.youtube_key, GOOD_KEY);
    ck_assert_str_eq(cfg.ai_key, "");
    config_clear_secrets(&cfg);
    for (size_t i = 0; i < sizeof(cfg.youtube_key); i++)
        ck_assert_int_eq(cfg.youtube_key[i], 0);
}
END_TEST

START_TEST(environment_errors_name_the_variable)
{
    static const struct {
        const char *var, *want;
    } cases[] = {
        {"MCP_TRANSPORT=tcp", "environment variable MCP_TRANSPORT: 'tcp' is not one of stdio, "
                              "http"},
        {"MCP_LISTEN=localhost:1", "environment variable MCP_LISTEN: 'localhost:1' is not "
                                   "ADDR:PORT"},
        {"MCP_LOG_LEVEL=chatty", "environment variable MCP_LOG_LEVEL: 'chatty' is not one of"},
        {"MCP_AI_BASE_URL=api.openai.com", "environment variable MCP_AI_BASE_URL: "
                                           "'api.openai.com' is not an http"},
        {"MCP_SECRETS_STORE=/tmp/x", "secrets: the key file and the store go together"},
        {"AI_API_KEY=short", "environment variable AI_API_KEY: must be 8 to 512 characters "
                             "long, got 5 (value not shown)"},
        {"YOUTUBE_API_KEY=has a space in it", "environment variable YOUTUBE_API_KEY: "
                                              "character 4 is not printable ASCII or is a "
                                              "space (value not shown)"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *const env[] = {(char *)cases[i].var, NULL};

        ck_assert_rc(config_load(&cfg, NULL, env, err, sizeof(err)), -1);
        ck_assert_err_starts(cases[i].want);
    }
    /* A key's value never appears in an error. */
    ck_assert_err_lacks("has a space");
}
END_TEST

START_TEST(custom_key_variable_from_the_file)
{
    const char *path = tmpfile_with("c.json", "{\"services\": {\"ai_processing\": "
                                              "{\"api_key_env\": \"OLLAMA_KEY\"}}}");
    char *const env[] = {"AI_API_KEY=" GOOD_KEY, "OLLAMA_KEY=ollama-local-key-1", NULL};

    ck_assert_rc(config_load(&cfg, path, env, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.ai_key, "ollama-local-key-1");
}
END_TEST

START_TEST(loopback_rule_for_http)
{
    char *const open_env[] = {"MCP_TRANSPORT=http", "MCP_LISTEN=0.0.0.0:8080", NULL};
    char *const weak_env[] = {"MCP_TRANSPORT=http", "MCP_LISTEN=0.0.0.0:8080",
                              "MCP_AUTH_TOKEN=passwordpassword", NULL};
    char *const ok_env[] = {"MCP_TRANSPORT=http", "MCP_LISTEN=0.0.0.0:8080",
                            "MCP_AUTH_TOKEN=" GOOD_TOKEN, NULL};
    char *const lo_env[] = {"MCP_TRANSPORT=http", "MCP_LISTEN=127.0.0.2:0", NULL};
    char *const stdio_env[] = {"MCP_LISTEN=0.0.0.0:8080", NULL};

    ck_assert_rc(config_load(&cfg, NULL, open_env, err, sizeof(err)), -1);
    ck_assert_err_starts("server.listen: 0.0.0.0 is not a loopback address and no HTTP "
                         "bearer token is configured");
    ck_assert_rc(config_load(&cfg, NULL, weak_env, err, sizeof(err)), -1);
    ck_assert_err_has("MCP_AUTH_TOKEN");
    ck_assert_err_lacks("passwordpassword");
    ck_assert_rc(config_load(&cfg, NULL, ok_env, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.auth_token, GOOD_TOKEN);
    ck_assert_rc(config_load(&cfg, NULL, lo_env, err, sizeof(err)), 0);
    ck_assert_rc(config_load(&cfg, NULL, stdio_env, err, sizeof(err)), 0);
}
END_TEST

/* A store made with the library, as resil-secrets would make it. */
static void make_store(const char **store, const char **key)
{
    resil_secrets_opts so;
    resil_secrets *s;
    resil_error e;
    static char sp[128], kp[128];

    snprintf(sp, sizeof(sp), "%s/secrets", dir);
    snprintf(kp, sizeof(kp), "%s/key", dir);
    resil_secrets_opts_init(&so);
    so.path = sp;
    so.key_path = kp;
    so.create = 1;
    ck_assert_rc(resil_secrets_open(&so, &s, &e), 0);
    ck_assert_rc(resil_secrets_set(s, "youtube_api_key", GOOD_KEY, strlen(GOOD_KEY), &e), 0);
    ck_assert_rc(resil_secrets_set(s, "ai_api_key", "sk-store-ai-key-000111", 22, &e), 0);
    ck_assert_rc(resil_secrets_set(s, "http_auth_token", GOOD_TOKEN, strlen(GOOD_TOKEN), &e), 0);
    ck_assert_rc(resil_secrets_set(s, "bad_key", "a b", 3, &e), 0);
    resil_secrets_close(s);
    *store = sp;
    *key = kp;
}

START_TEST(secrets_from_the_store_and_env_wins)
{
    const char *store, *key, *path;
    char text[512];

    make_store(&store, &key);
    snprintf(text, sizeof(text), "{\"secrets\": {\"key_file\": \"%s\", \"store\": \"%s\"}}", key,
             store);
    path = tmpfile_with("c.json", text);
    ck_assert_rc(config_load(&cfg, path, no_env, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.youtube_key, GOOD_KEY);
    ck_assert_str_eq(cfg.ai_key, "sk-store-ai-key-000111");
    ck_assert_str_eq(cfg.auth_token, GOOD_TOKEN);
    {
        char *const env[] = {"AI_API_KEY=env-ai-key-99999", NULL};

        ck_assert_rc(config_load(&cfg, path, env, err, sizeof(err)), 0);
        ck_assert_str_eq(cfg.ai_key, "env-ai-key-99999");
        ck_assert_str_eq(cfg.youtube_key, GOOD_KEY);
    }
    {
        /* The store named from the environment; a secret that is no key. */
        char ks[160], ss[160];
        char *const env[] = {ks, ss, NULL};

        snprintf(ks, sizeof(ks), "MCP_SECRETS_KEY_FILE=%s", key);
        snprintf(ss, sizeof(ss), "MCP_SECRETS_STORE=%s", store);
        path = tmpfile_with("bad.json", "{\"services\": {\"youtube_api\": "
                                        "{\"api_key_secret\": \"bad_key\"}}}");
        ck_assert_rc(config_load(&cfg, path, env, err, sizeof(err)), -1);
        ck_assert_err_starts("secret 'bad_key' in ");
        ck_assert_err_has("(value not shown)");
    }
}
END_TEST

START_TEST(store_problems_are_reported)
{
    char *const env[] = {"MCP_SECRETS_KEY_FILE=/nonexistent/key",
                         "MCP_SECRETS_STORE=/nonexistent/store", NULL};
    const char *store, *key;
    char ks[160], ss[160];
    char *const env2[] = {ks, ss, NULL};

    ck_assert_rc(config_load(&cfg, NULL, env, err, sizeof(err)), -1);
    ck_assert_err_starts("secrets: cannot open the store /nonexistent/store");
    make_store(&store, &key);
    ck_assert_int_eq(chmod(key, 0644), 0);
    snprintf(ks, sizeof(ks), "MCP_SECRETS_KEY_FILE=%s", key);
    snprintf(ss, sizeof(ss), "MCP_SECRETS_STORE=%s", store);
    ck_assert_rc(config_load(&cfg, NULL, env2, err, sizeof(err)), -1);
    ck_assert_err_has("chmod 600");
}
END_TEST

START_TEST(file_problems_are_reported)
{
    ck_assert_rc(config_load(&cfg, "/nonexistent/c.json", no_env, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/nonexistent/c.json: cannot open: No such file or directory");
    ck_assert_rc(config_load(&cfg, dir, no_env, err, sizeof(err)), -1);
    ck_assert_err_has("not a regular file");
    ck_assert_rc(config_load(&cfg, tmpfile_with("e.json", "{\n\"log\": {\"level\": 1}}"),
                             no_env, err, sizeof(err)),
                 -1);
    ck_assert_err_starts(paths[0]);
    ck_assert_err_has(":2:18: log.level: must be a string");
}
END_TEST

START_TEST(locate_follows_the_path)
{
    static const char text[] =
        "{\n"
        "  \"s\\\"x\": \"a \\\"quoted\\\" }{ ] string\",\n"
        "  \"server\": {\"listen\": \"x\", \"arr\": [1, [2, {\"k\": 3}], \"]\"],\n"
        "    \"\\u006ebsp\": \"\xc3\xa9t\xc3\xa9\", \"after\": true},\n"
        "  \"deep\": {\"a\": {\"b\": {\"c\": null}}}\n"
        "}\n";
    size_t len = sizeof(text) - 1;
    int line, col;

    ck_assert_rc(config_locate(text, len, "server.listen", &line, &col), 0);
    ck_assert_int_eq(line, 3);
    ck_assert_int_eq(col, 24);
    ck_assert_rc(config_locate(text, len, "s\"x", &line, &col), 0);
    ck_assert_int_eq(line, 2);
    ck_assert_int_eq(col, 11);
    ck_assert_rc(config_locate(text, len, "server.arr.1.1.k", &line, &col), 0);
    ck_assert_int_eq(line, 3);
    ck_assert_int_eq(col, 50);
    ck_assert_rc(config_locate(text, len, "server.arr.2", &line, &col), 0);
    ck_assert_int_eq(col, 55);
    /* A key written with a \u escape; columns count characters, not bytes. */
    ck_assert_rc(config_locate(text, len, "server.nbsp", &line, &col), 0);
    ck_assert_int_eq(line, 4);
    ck_assert_int_eq(col, 18);
    ck_assert_rc(config_locate(text, len, "server.after", &line, &col), 0);
    ck_assert_int_eq(line, 4);
    ck_assert_int_eq(col, 34);
    ck_assert_rc(config_locate(text, len, "deep.a.b.c", &line, &col), 0);
    ck_assert_int_eq(line, 5);
    ck_assert_int_eq(col, 29);
    ck_assert_rc(config_locate(text, len, "", &line, &col), 0);
    ck_assert_int_eq(line, 1);
    ck_assert_int_eq(col, 1);
    /* Not there: -1 and 0/0; quoted text never matches as a key. */
    ck_assert_rc(config_locate(text, len, "server.missing", &line, &col), -1);
    ck_assert_int_eq(line, 0);
    ck_assert_int_eq(col, 0);
    ck_assert_rc(config_locate(text, len, "quoted", &line, &col), -1);
    ck_assert_rc(config_locate(text, len, "server.arr.3", &line, &col), -1);
    ck_assert_rc(config_locate(text, len, "server.listen.x", &line, &col), -1);
    ck_assert_rc(config_locate(text, 20, "server.listen", &line, &col), -1);
    ck_assert_rc(config_locate("{\"a\": \"unterminated", 19, "b", &line, &col), -1);
    ck_assert_rc(config_locate(NULL, 0, "a", &line, &col), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_are_sane);
    tcase_add_test(tc, default_json_round_trips);
    tcase_add_test(tc, shipped_example_is_the_default);
    tcase_add_test(tc, empty_object_means_defaults);
    tcase_add_test(tc, values_are_read);
    tcase_add_test(tc, parse_error_has_line_and_column);
    tcase_add_test(tc, unknown_key_is_located_and_lists_known);
    tcase_add_test(tc, wrong_types_are_named);
    tcase_add_test(tc, ranges_and_names_are_checked);
    tcase_add_test(tc, cross_field_rules);
    tcase_add_test(tc, listen_addresses);
    tcase_add_test(tc, inline_credentials_are_refused);
    tcase_add_test(tc, environment_overrides);
    tcase_add_test(tc, environment_errors_name_the_variable);
    tcase_add_test(tc, custom_key_variable_from_the_file);
    tcase_add_test(tc, loopback_rule_for_http);
    tcase_add_test(tc, secrets_from_the_store_and_env_wins);
    tcase_add_test(tc, store_problems_are_reported);
    tcase_add_test(tc, file_problems_are_reported);
    tcase_add_test(tc, locate_follows_the_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
