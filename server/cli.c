/* The program: options, configuration, signals, the transport, shutdown.
 *
 * Exit status: 0 normal end (stdin closed, SIGTERM/SIGINT after draining),
 * 1 runtime failure (cannot listen, out of memory), 2 usage or
 * configuration error.
 *
 * Signals: SIGTERM and SIGINT run a handler that only sets a->stopping
 * and writes one byte to a self-pipe (both async-signal-safe), on
 * whichever thread the kernel picked.  The HTTP main thread sleeps in
 * poll() on the pipe; the stdio reader polls a->stopping between reads. */
#include "config.h" /* the build's: PACKAGE_VERSION */
#include "server_config_int.h"

#include "app.h"

#include "log.h"
#include "transport/transport.h"

#include <resil/version.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


extern char **environ;

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define MAX_CLI_ENV 4

struct cli {
    const char *config_path;
    const char *http_listen;   /* --http ADDR:PORT */
    int want_stdio;            /* --stdio */
    int check_only;            /* --check-config */
    const char *log_level;     /* --log-level */
    char *extra_env[MAX_CLI_ENV]; /* the options as environment entries */
    size_t nextra;
};

static struct app *sig_app;
static int sig_pipe[2] = {-1, -1};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: mcp-server [--stdio | --http ADDR:PORT] [--config FILE] [--log-level L]\n"
            "       mcp-server --check-config [--config FILE]\n"
            "       mcp-server --print-default-config | --version | --help\n"
            "\n"
            "A Model Context Protocol server whose video and AI tools call their upstream\n"
            "services through libresil policies (breaker, rate limiter, retry, cache).\n"
            "\n"
            "  --stdio                 serve one client on stdin/stdout (the default)\n"
            "  --http ADDR:PORT        serve Streamable HTTP on ADDR:PORT (/mcp, /metrics,\n"
            "                          /healthz, /livez, /readyz); port 0 picks one\n"
            "  --config FILE           JSON configuration (see --print-default-config)\n"
            "  --check-config          load and validate the configuration, then exit\n"
            "  --print-default-config  write the default configuration to stdout\n"
            "  --log-level L           debug, info, notice, warn, error or off\n"
            "  --version               print the version\n"
            "  --help                  print this help\n"
            "\n"
            "Logs are JSON lines on stderr.  Environment overrides: MCP_TRANSPORT,\n"
            "MCP_LISTEN, MCP_LOG_LEVEL, MCP_AUTH_TOKEN, MCP_SECRETS_KEY_FILE,\n"
            "MCP_SECRETS_STORE, YOUTUBE_API_KEY, AI_API_KEY, MCP_YOUTUBE_BASE_URL,\n"
            "MCP_OEMBED_URL, MCP_TRANSCRIPT_URL, MCP_AI_BASE_URL, MCP_AI_MODEL.\n"
            "See mcp-server(1).\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "mcp-server: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'mcp-server --help'.\n");
    return EXIT_USAGE;
}

static int add_env(struct cli *o, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;

    if (o->nextra == MAX_CLI_ENV)
        return -1;
    o->extra_env[o->nextra] = malloc(n);
    if (o->extra_env[o->nextra] == NULL)
        return -1;
    snprintf(o->extra_env[o->nextra++], n, "%s=%s", name, value);
    return 0;
}

/* Check the values of --http and --log-level here, so their errors name
 * the option, then hand them to config_load() as the last environment
 * entries (the last entry of a name wins there). */
static int cli_to_env(struct cli *o)
{
    char addr[64], why[600];
    unsigned port;

    if (o->http_listen != NULL) {
        if (config__parse_listen(o->http_listen, addr, sizeof(addr), &port, why,
                                 sizeof(why)) != 0)
            return usage_error("--http: %s", why);
        if (add_env(o, "MCP_TRANSPORT", "http") != 0 ||
            add_env(o, "MCP_LISTEN", o->http_listen) != 0)
            return EXIT_RUNTIME;
    }
    if (o->want_stdio && add_env(o, "MCP_TRANSPORT", "stdio") != 0)
        return EXIT_RUNTIME;
    if (o->log_level != NULL) {
        if (log_level_parse(o->log_level) < 0)
            return usage_error("--log-level: '%s' is not one of debug, info, notice, warn, "
                               "error, off", o->log_level);
        if (add_env(o, "MCP_LOG_LEVEL", o->log_level) != 0)
            return EXIT_RUNTIME;
    }
    return 0;
}

enum { OPT_STDIO = 256, OPT_HTTP, OPT_CONFIG, OPT_CHECK, OPT_PRINT, OPT_VERSION, OPT_HELP,
       OPT_LOG };

static const struct option long_opts[] = {
    {"stdio", no_argument, NULL, OPT_STDIO},
    {"http", required_argument, NULL, OPT_HTTP},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"print-default-config", no_argument, NULL, OPT_PRINT},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {"log-level", required_argument, NULL, OPT_LOG},
    {NULL, 0, NULL, 0},
};

static int print_default(void)
{
    char *text = config_default_json();

    if (text == NULL) {
        fprintf(stderr, "mcp-server: out of memory\n");
        return EXIT_RUNTIME;
    }
    fputs(text, stdout);
    free(text);
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct cli *o)
{
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_STDIO: o->want_stdio = 1; break;
        case OPT_HTTP: o->http_listen = optarg; break;
        case OPT_CONFIG: o->config_path = optarg; break;
        case OPT_CHECK: o->check_only = 1; break;
        case OPT_LOG: o->log_level = optarg; break;
        case OPT_PRINT: return print_default();
        case OPT_VERSION:
            printf("mcp-server %s (libresil %s)\n", PACKAGE_VERSION, resil_version());
            return 0;
        case OPT_HELP: usage(stdout); return 0;
        default:
            if (optopt >= OPT_STDIO)
                return usage_error("option '%s' needs a value", argv[optind - 1]);
            return usage_error("option '%s' is not known", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (o->want_stdio && o->http_listen != NULL)
        return usage_error("%s", "--stdio and --http exclude each other");
    return -1;
}

/* environ followed by the options' entries; free() the array only. */
static char **build_env(struct cli *o)
{
    size_t n = 0;
    char **env;

    while (environ != NULL && environ[n] != NULL)
        n++;
    env = calloc(n + o->nextra + 1, sizeof(*env));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        env[i] = environ[i];
    for (size_t i = 0; i < o->nextra; i++)
        env[n + i] = o->extra_env[i];
    return env;
}

static int load_config(struct cli *o, struct config *cfg)
{
    char err[1024];
    char **env = build_env(o);
    int rc;

    if (env == NULL) {
        fprintf(stderr, "mcp-server: out of memory\n");
        return EXIT_RUNTIME;
    }
    rc = config_load(cfg, o->config_path, env, err, sizeof(err));
    free(env);
    if (rc != 0) {
        if (o->check_only)
            fprintf(stderr, "mcp-server: %s\n", err);
        else
            log_event(LOG_ERROR, "config.invalid", "error", json_string(err), NULL);
        return EXIT_USAGE;
    }
    if (o->check_only) {
        printf("configuration OK: %s\n", o->config_path ? o->config_path : "(defaults)");
        return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    return -1;
}

/* ---- signals ----------------------------------------------------------- */

static void on_signal(int sig)
{
    int saved = errno;
    char b = (char)sig;
    ssize_t w;

    if (sig_app != NULL)
        atomic_store(&sig_app->stopping, 1); /* lock-free atomic: signal-safe */
    if (sig_pipe[1] >= 0)
        w = write(sig_pipe[1], &b, 1); /* full pipe: a byte is already there */
    (void)w;
    errno = saved;
}

static int signals_install(struct app *a)
{
    struct sigaction sa;

    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    sig_app = a;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking call on the main thread returns EINTR. */
    sa.sa_flags = 0;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void signals_restore(void)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sig_app = NULL;
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0) {
            close(sig_pipe[i]);
            sig_pipe[i] = -1;
        }
}

static void wait_for_signal(struct app *a)
{
    struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};

    /* relaxed: a flag set by the handler; the pipe is what wakes us */
    while (!atomic_load_explicit(&a->stopping, memory_order_relaxed))
        poll(&pfd, 1, -1);
}

/* ---- the transports -------------------------------------------------------- */

/* The bound port for test harnesses and supervisors: written to a
 * temporary file renamed into place, so a reader never sees half of it. */
static void write_port_file(unsigned port)
{
    const char *path = getenv("MCP_PORT_FILE");
    char tmp[4096];
    FILE *f;

    if (path == NULL || *path == '\0')
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        log_event(LOG_WARN, "http.port_file_failed", "path", json_string(path), "error",
                  json_string(strerror(errno)), NULL);
        return;
    }
}

static int serve_http(struct app *a)
{
    struct http_server *h = NULL;
    char err[512];
    unsigned port = 0;

    if (http_start(a, &h, &port, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "http.start_failed", "error", json_string(err), NULL);
        return EXIT_RUNTIME;
    }
    log_event(LOG_NOTICE, "http.listening", "address", json_string(a->cfg.listen_addr), "port",
              json_integer(port), "auth", json_boolean(a->cfg.auth_token[0] != '\0'), NULL);
    write_port_file(port);
    wait_for_signal(a);
    log_event(LOG_NOTICE, "server.stopping", "grace_ms", json_integer(a->cfg.shutdown_grace_ms),
              NULL);
    http_stop(h, a->cfg.shutdown_grace_ms);
    return 0;
}

static int run(struct app *a, app_register_fn reg)
{
    char err[1024];
    int rc;

    if (app_init(a, reg, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "server.init_failed", "error", json_string(err), NULL);
        return EXIT_RUNTIME;
    }
    if (signals_install(a) != 0) {
        log_event(LOG_ERROR, "server.init_failed", "error",
                  json_string("cannot install the signal handlers"), NULL);
        app_fini(a);
        return EXIT_RUNTIME;
    }
    log_event(LOG_NOTICE, "server.start", "version", json_string(PACKAGE_VERSION), "transport",
              json_string(a->cfg.transport == CONFIG_HTTP ? "http" : "stdio"), NULL);
    if (a->cfg.transport == CONFIG_HTTP)
        rc = serve_http(a);
    else
        rc = stdio_serve(a, STDIN_FILENO, STDOUT_FILENO) == 0 ? 0 : EXIT_RUNTIME;
    signals_restore();
    app_fini(a);
    log_event(LOG_NOTICE, "server.stopped", "status", json_integer(rc), NULL);
    return rc;
}

int server_main(int argc, char **argv, app_register_fn reg)
{
    struct cli o;
    struct app *a;
    int rc;

    memset(&o, 0, sizeof(o));
    log_setup(STDERR_FILENO, LOG_INFO);
    rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        goto out_env;
    rc = cli_to_env(&o);
    if (rc != 0)
        goto out_env;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        fprintf(stderr, "mcp-server: out of memory\n");
        rc = EXIT_RUNTIME;
        goto out_env;
    }
    rc = load_config(&o, &a->cfg);
    if (rc >= 0)
        goto out_app;
    log_set_level(a->cfg.log_level);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_event(LOG_ERROR, "server.init_failed", "error", json_string("curl_global_init"),
                  NULL);
        rc = EXIT_RUNTIME;
        goto out_app;
    }
    rc = run(a, reg);
    curl_global_cleanup();
out_app:
    config_clear_secrets(&a->cfg);
    free(a);
out_env:
    for (size_t i = 0; i < o.nextra; i++)
        free(o.extra_env[i]);
    return rc;
}
