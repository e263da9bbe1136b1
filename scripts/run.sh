#!/bin/sh
# Set everything up and run the project's main program: mcp-server over
# Streamable HTTP on 127.0.0.1:8080 (MCP at /mcp, /metrics, /livez, /readyz)
# with the shipped configuration.  Arguments replace the defaults, e.g.
#   scripts/run.sh --stdio
# Upstream API keys: YOUTUBE_API_KEY and AI_API_KEY in the environment, or
# the encrypted store (see mcp-server(1)); without them video_metadata uses
# the keyless oEmbed endpoint and ai_analyze says no key is configured.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
[ $# -gt 0 ] || set -- --http 127.0.0.1:8080
exec "$top/build/server/mcp-server" --config "$top/server/mcp-server.json" "$@"
