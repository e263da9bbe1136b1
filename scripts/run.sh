#!/bin/sh
# Set everything up and run the project's main program.  Until mcp-server
# exists that is examples/breaker_demo: a breaker tripping and recovering.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
exec "$top/build/examples/breaker_demo" "$@"
