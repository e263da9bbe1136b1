/* The fixtures that the official MCP conformance suite
 * (@modelcontextprotocol/conformance, server scenarios) expects on the
 * server under test: test tools, resources, a resource template, prompts
 * and completions.  They live only in the test program
 * tests/conformance/mcp-conformance-server, never in mcp-server, so they
 * can never reach the production tool list.
 *
 *   fixtures.c          the test_* tools and json_schema_2020_12_tool
 *   fixtures_prompts.c  resources, the template, prompts, completions */
#ifndef MCP_CONFORMANCE_FIXTURES_H
#define MCP_CONFORMANCE_FIXTURES_H

#include "app.h"

#include <stddef.h>

/* Everything below, in the order above; the app_register_fn of the test
 * program.  0, or -1 with err naming the fixture that failed. */
int fixtures_register(struct app *a, char *err, size_t errlen);

/* The tools (fixtures.c). */
int fixtures_register_tools(struct app *a, char *err, size_t errlen);
/* Resources, the template and the prompts (fixtures_prompts.c). */
int fixtures_register_resources(struct app *a, char *err, size_t errlen);
int fixtures_register_prompts(struct app *a, char *err, size_t errlen);

/* A valid 1x1 red PNG (69 bytes), base64: the image of the image tool,
 * the mixed-content tool, the binary resource and the image prompt. */
extern const char fixture_png_base64[];

/* Sleep ms milliseconds in short steps, returning early (nonzero) once
 * the call is cancelled: the scenarios ask for ~50 ms between messages. */
int fixture_pause(struct mcp_call *c, unsigned ms);

#endif
