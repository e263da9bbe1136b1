/* mcp-server: the production binary (its tools only; the conformance
 * fixtures live in tests/conformance and are never linked here). */
#include "app.h"
#include "tools/tools.h"

int main(int argc, char **argv)
{
    return server_main(argc, argv, tools_register);
}
