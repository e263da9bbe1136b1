/* mcp-conformance-server: the production server program with the
 * conformance suite's fixture tools, resources and prompts registered
 * instead of the production tools.  Test-only: never installed, so the
 * fixtures can never appear in mcp-server's tool list. */
#include "app.h"
#include "fixtures.h"

int main(int argc, char **argv)
{
    return server_main(argc, argv, fixtures_register);
}
