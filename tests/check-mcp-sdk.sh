#!/bin/sh
# Real MCP clients against the real mcp-server: the official TypeScript SDK client
# (tests/node/sdk_client.mjs) over stdio and over Streamable HTTP, and the MCP
# Inspector CLI (list and call tools, stdio and HTTP). All three upstream services
# point at the fake upstream (tests/fake_upstream/fake-upstream), which this script
# starts, with API keys from the environment as an operator would give them.
#
# The clients come from npm (pinned in tests/node/package.json, with the Node 22 binary
# of the node@22 package). When tests/node/node_modules is missing (a distcheck build,
# a machine without the npm packages) the test is skipped, unless RESIL_REQUIRE_NODE=1
# (CI), when it fails. Install with: npm ci --prefix tests/node --no-audit --no-fund
#
# Environment: top_builddir, top_srcdir (set by make check). MCP_TEST_TIMEOUT (seconds,
# default 10) caps each wait for a process to start or stop; MCP_CLIENT_TIMEOUT
# (seconds, default 180) caps each client run. MCP_TEST_VERBOSE=1 shows the logs.
# Exit: 0 all passed, 1 a check failed, 77 skipped (see above).
# shellcheck disable=SC2317 # the checks call their predicates through check
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(dirname "$0")/..}"
# shellcheck source=tests/mcp-lib.sh
. "$top_srcdir/tests/mcp-lib.sh"
# Absolute paths: the clients run from tests/node and start the server themselves.
abs() { (cd "$1" 2>/dev/null && pwd) || echo "$1"; }
server=$(abs "$top_builddir/server")/mcp-server
fake_bin=$(abs "$top_builddir/tests/fake_upstream")/fake-upstream
nodedir=$(abs "$top_srcdir/tests/node")
node=$nodedir/node_modules/node/bin/node
inspector=$nodedir/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js
cap=${MCP_TEST_TIMEOUT:-10}
client_cap=${MCP_CLIENT_TIMEOUT:-180}

for b in "$server" "$fake_bin"; do
    [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done
[ -x "$node" ] || need_node "the Node 22 binary $node is not installed"
[ -d "$nodedir/node_modules/@modelcontextprotocol/sdk" ] ||
    need_node "the MCP TypeScript SDK is not installed in $nodedir/node_modules"
[ -f "$inspector" ] || need_node "the MCP Inspector is not installed in $nodedir/node_modules"
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is needed to edit the config"; exit 77; }

mcp_tmpdir check-mcp-sdk
case $tmp in *[!A-Za-z0-9/._-]*) echo "odd temporary directory name: $tmp"; exit 1 ;; esac
logs='fake http inspector'
log_lines=30
verbose=${MCP_TEST_VERBOSE:-}

# ---- the fake upstream ------------------------------------------------------------------
yt_key=yt-test-key-0001
ai_key=chat-test-key-0001
start_fake --require-key "$yt_key" --chat-key "$ai_key"
check "the fake upstream starts" [ -s "$tmp/fake.port" ]
is_port "$fport" || { not_ok "the fake upstream's port file holds a port"; exit 1; }
fake=http://127.0.0.1:$fport

# ---- the configuration: the default one, every service pointed at the fake ------------
"$server" --print-default-config >"$tmp/default.json" 2>"$tmp/print.err"
check "mcp-server --print-default-config succeeds" [ -s "$tmp/default.json" ]
/usr/bin/python3 - "$tmp/default.json" "$tmp/config.json" "$fake" <<'EOF'
import json, sys
src, dst, fake = sys.argv[1:4]
with open(src) as f:
    cfg = json.load(f)
svc = cfg["services"]
svc["youtube_api"]["base_url"] = fake + "/youtube/v3"
svc["youtube_api"]["oembed_url"] = fake + "/oembed"
svc["youtube_api"]["api_key_env"] = "YOUTUBE_API_KEY"
svc["video_analysis"]["base_url"] = fake
svc["ai_processing"]["base_url"] = fake + "/v1"
svc["ai_processing"]["api_key_env"] = "AI_API_KEY"
# The clients make a handful of calls in a burst: the limiters must not be what
# they test here (check-mcp-tools.sh tests the policies).
for s in svc.values():
    if isinstance(s.get("limiter"), dict):
        s["limiter"]["rate"] = max(s["limiter"].get("rate", 0), 100)
        s["limiter"]["burst"] = max(s["limiter"].get("burst", 0), 100)
with open(dst, "w") as f:
    json.dump(cfg, f, indent=2)
EOF
check "the configuration is written" [ -s "$tmp/config.json" ]
cfg=$tmp/config.json
YOUTUBE_API_KEY=$yt_key AI_API_KEY=$ai_key "$server" --check-config --config "$cfg" \
    >"$tmp/check.out" 2>&1
st=$?
check "mcp-server --check-config accepts it" [ "$st" = 0 ]
[ "$failed" = 0 ] || { sed 's/^/#   /' "$tmp/print.err" "$tmp/check.out"; exit 1; }
export YOUTUBE_API_KEY="$yt_key" AI_API_KEY="$ai_key"

# run_client MODE ARGS...: one sdk_client.mjs run; its TAP lines are folded into ours.
run_client() {
    (cd "$nodedir" && timeout "$client_cap" "$node" sdk_client.mjs "$@") >"$tmp/client.out" 2>&1
    crc=$?
    while IFS= read -r line; do
        case $line in
        'ok '*) ok "sdk ${line#ok [0-9]* - }" ;;
        'not ok '*) not_ok "sdk ${line#not ok [0-9]* - }" ;;
        *) echo "$line" ;;
        esac
    done <"$tmp/client.out"
    check "sdk $1: the client run exits 0 (status $crc)" [ "$crc" = 0 ]
}

# ---- TypeScript SDK over stdio -------------------------------------------------------------
run_client stdio --server "$server" --config "$cfg" --fake "$fake"

# ---- TypeScript SDK over Streamable HTTP ----------------------------------------------------
mkfifo "$tmp/http.in" || exit 1
launch_http http "$tmp/http.in" "$server" --config "$cfg"
exec 4>"$tmp/http.in"
wait_port http
check "mcp-server --http 127.0.0.1:0 writes its port file" [ -s "$tmp/http.port" ]
hport=$port
if is_port "$hport"; then
    url=http://127.0.0.1:$hport/mcp
    run_client http --url "$url" --fake "$fake"
else
    not_ok "the port file holds a port number"
    url=''
fi

# ---- MCP Inspector CLI ------------------------------------------------------------------------
# It writes its catalog under $HOME: a throwaway one. The stdio target is a wrapper,
# so that the server's own options never meet the Inspector's option parser.
mkdir "$tmp/home" || exit 1
cat >"$tmp/server-stdio.sh" <<EOF
#!/bin/sh
YOUTUBE_API_KEY='$yt_key' AI_API_KEY='$ai_key' exec '$server' --stdio --config '$cfg'
EOF
chmod +x "$tmp/server-stdio.sh"

# inspect NAME TARGET ARGS...: one Inspector CLI run, its output in $tmp/NAME.out.
inspect() {
    name=$1
    shift
    (cd "$tmp" && HOME=$tmp/home PATH=$(dirname "$node"):$PATH \
        timeout "$client_cap" "$node" "$inspector" --cli "$@") >"$tmp/$name.out" 2>>"$tmp/inspector.log"
    irc=$?
}
lists_all_tools() {
    [ "$irc" = 0 ] || return 1
    for t in video_metadata video_transcript ai_analyze video_analyze service_status; do
        grep -q "\"$t\"" "$tmp/$1.out" || return 1
    done
    ! grep -q '"test_' "$tmp/$1.out"
}
has_title() { [ "$irc" = 0 ] && grep -q 'Never Gonna Give You Up' "$tmp/$1.out"; }
has_services() { [ "$irc" = 0 ] && grep -q 'ai_processing' "$tmp/$1.out"; }

inspect insp_list_stdio "$tmp/server-stdio.sh" --method tools/list
check "inspector stdio: tools/list shows the five tools and no fixture" lists_all_tools insp_list_stdio
inspect insp_call_stdio "$tmp/server-stdio.sh" --method tools/call --tool-name video_metadata \
    --tool-arg url=dQw4w9WgXcQ
check "inspector stdio: tools/call video_metadata returns the title" has_title insp_call_stdio
if [ -n "$url" ]; then
    inspect insp_list_http "$url" --transport http --method tools/list
    check "inspector http: tools/list shows the five tools and no fixture" lists_all_tools insp_list_http
    inspect insp_call_http "$url" --transport http --method tools/call --tool-name service_status
    check "inspector http: tools/call service_status returns the services" has_services insp_call_http
fi
if [ "$failed" != 0 ]; then
    for f in "$tmp"/insp_*.out; do
        [ -s "$f" ] && { echo "# $(basename "$f"):"; head -c 1500 "$f" | sed 's/^/#   /'; echo; }
    done
fi

# ---- the HTTP server outlived every client and stops cleanly ------------------------------------
check "the HTTP server is still running after every client" running http
kill -TERM "$(pid_of http)" 2>/dev/null
check "SIGTERM stops the HTTP server with exit status 0" exited http 0
# A sanitizer build reports leaks and errors on stderr at exit (the HTTP server's,
# and those of the servers the Inspector started).
no_report() { ! grep -q -e 'Sanitizer' -e 'runtime error:' "$tmp/http.log" "$tmp/inspector.log"; }
check "no sanitizer report in the servers' logs" no_report

mcp_finish
