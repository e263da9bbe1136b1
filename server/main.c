/* mcp-server: the production binary (its tools only; the conformance
 * fixtures live in tests/conformance and are never linked here). */
#include "app.h"
/* tools.h opens with a comment holding "tools/" "*.c" (-Wcomment): until
 * it is reworded, keep that one warning from failing -Werror builds. */
#pragma GCC diagnostic ignored "-Wcomment"
#include "tools/tools.h"

int main(int argc, char **argv)
{
    return server_main(argc, argv, tools_register);
}
