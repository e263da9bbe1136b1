/* Everything the running server holds, made by main.c from the config and
 * passed to the transports and tools.  One per process. */
#ifndef MCP_APP_H
#define MCP_APP_H

#include "server_config.h"
#include "mcp/protocol.h"
#include "mcp/session.h"

#include <resil/health.h>
#include <resil/metrics.h>
#include <resil/policy.h>

#include <stdatomic.h>

struct upstream;

struct app {
    struct config cfg;
    const resil_clock *clock;   /* monotonic in production, manual in tests */
    resil_metrics *metrics;     /* /metrics */
    resil_health *health;       /* /healthz, /livez, /readyz, service_status */
    resil_services *services;   /* the three below, by name */
    resil_service *youtube;     /* "youtube_api" */
    resil_service *transcript;  /* "video_analysis" */
    resil_service *ai;          /* "ai_processing" */
    struct upstream *up;
    struct mcp_server *mcp;
    struct session_table *sessions;
    int64_t started_ns;
    atomic_int stopping;        /* set by SIGTERM/SIGINT; transports stop
                                   accepting, in-flight calls drain */
};

/* Registers the tools, resources and prompts: tools_register() in the
 * production binary, the conformance fixtures in the test-only
 * mcp-conformance-server (so they can never appear in production). */
typedef int (*app_register_fn)(struct app *a, char *err, size_t errlen);

/* Make everything from a loaded config (a->cfg filled by config_load):
 * metrics, health checks, services (with upstream_policy_setup), the
 * upstream client, the MCP server, the session table; then reg.  0, or -1
 * with err. */
int app_init(struct app *a, app_register_fn reg, char *err, size_t errlen);
void app_fini(struct app *a);

/* The whole program (options, config, signals, transport, shutdown):
 * main() of mcp-server and of the fixture program.  Returns the exit
 * status: 0, 1 runtime failure, 2 usage or configuration error. */
int server_main(int argc, char **argv, app_register_fn reg);

#endif
