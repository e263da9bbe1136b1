#!/bin/sh
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# tests/node/package.json) against tests/conformance/mcp-conformance-server over
# Streamable HTTP: every server scenario, the pending ones included (--suite all), must
# pass with no failed check and no warning.
#
# The suite needs Node >= 22: the node@22 npm package in tests/node provides it. When
# tests/node/node_modules is missing (a distcheck build, a machine without the npm
# packages) the test is skipped, unless RESIL_REQUIRE_NODE=1 (CI), when it fails.
# Install with: npm ci --prefix tests/node --no-audit --no-fund
#
# Environment: top_builddir, top_srcdir (set by make check). MCP_CONFORMANCE_SCENARIO
# runs one scenario (with --verbose) instead of the suite, for debugging.
# MCP_SERVER_WRAPPER runs the server under a tool, e.g. "./libtool --mode=execute
# valgrind -q --error-exitcode=99 --leak-check=full" (its exit status is asserted).
# MCP_TEST_TIMEOUT (seconds, default 10) caps the wait for the server to listen;
# MCP_CONFORMANCE_TIMEOUT (seconds, default 300) caps the whole suite.
# Exit: 0 all passed, 1 a check failed, 77 skipped (see above).
# shellcheck disable=SC2317 # the checks call their predicates through check
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(dirname "$0")/..}"
# shellcheck source=tests/mcp-lib.sh
. "$top_srcdir/tests/mcp-lib.sh"
bin=$top_builddir/tests/conformance/mcp-conformance-server
nodedir=$(cd "$top_srcdir/tests/node" 2>/dev/null && pwd) || nodedir=$top_srcdir/tests/node
node=$nodedir/node_modules/node/bin/node
suite=$nodedir/node_modules/@modelcontextprotocol/conformance/dist/index.js
cap=${MCP_TEST_TIMEOUT:-10}
suite_cap=${MCP_CONFORMANCE_TIMEOUT:-300}

[ -x "$bin" ] || { echo "FAIL: $bin is not built"; exit 1; }
[ -x "$node" ] || need_node "the Node 22 binary $node is not installed"
[ -f "$suite" ] || need_node "the conformance suite $suite is not installed"

mcp_tmpdir check-mcp-conformance
logs=server

# ---- the server ---------------------------------------------------------------------
# stdin is a pipe the script holds open, so a server that follows its stdin stops
# with the script whatever happens.
mkfifo "$tmp/in" || exit 1
# shellcheck disable=SC2086 # the wrapper is a command line
launch_http server "$tmp/in" ${MCP_SERVER_WRAPPER:-} "$bin"
exec 3>"$tmp/in"
wait_port server
check "the fixture server writes its port file (MCP_PORT_FILE)" [ -s "$tmp/server.port" ]
check "the port file holds a port number" is_port "$port"
[ "$failed" = 0 ] || exit 1
url=http://127.0.0.1:$port/mcp

# ---- the suite ------------------------------------------------------------------------
"$node" "$suite" list --server >"$tmp/list" 2>&1
sed -n 's/^  - \([a-z0-9-]*\).*/\1/p' "$tmp/list" | sort >"$tmp/expected"
check "conformance list --server names the scenarios" [ -s "$tmp/expected" ]

if [ -n "${MCP_CONFORMANCE_SCENARIO:-}" ]; then
    set -- --scenario "$MCP_CONFORMANCE_SCENARIO" --verbose
else
    set -- --suite all
fi
# The suite's own client makes every request (fetch to 127.0.0.1 only).
timeout "$suite_cap" "$node" "$suite" server --url "$url" -o "$tmp/results" "$@" \
    >"$tmp/out" 2>&1
rc=$?
if [ -n "${MCP_CONFORMANCE_SCENARIO:-}" ]; then
    cat "$tmp/out"
else
    sed -n '/=== SUMMARY ===/,$p' "$tmp/out"
fi
check "the conformance suite exits 0 (status $rc)" [ "$rc" = 0 ]

total=$(sed -n 's/^Total: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/out" | tail -n 1)
# shellcheck disable=SC2086 # the two numbers are meant to split
set -- $total
passed=${1:-0} nfailed=${2:-x}
check "Total: $passed passed, $nfailed failed: no failed check" [ "$nfailed" = 0 ]
check "... and some checks passed" [ "$passed" -gt 0 ]

if [ -z "${MCP_CONFORMANCE_SCENARIO:-}" ]; then
    # Every scenario the suite knows ran (a renamed or missing one would hide).
    sed -n 's/^[^ ]* \([a-z0-9-]*\): [0-9]* passed, [0-9]* failed$/\1/p' "$tmp/out" |
        sort >"$tmp/ran"
    check "every server scenario ran ($(wc -l <"$tmp/expected" | tr -d ' ') listed)" \
        cmp -s "$tmp/expected" "$tmp/ran"
    while IFS= read -r line; do
        case $line in
        'Total: '*) ;;
        *': '*' passed, 0 failed') ok "scenario ${line#* }" ;;
        *': '*' passed, '*' failed') not_ok "scenario ${line#* }" ;;
        esac
    done <<EOF
$(sed -n '/=== SUMMARY ===/,/^Total:/p' "$tmp/out")
EOF
fi

# Warnings (a SHOULD not met, e.g. no priming event) do not fail the suite; they fail
# this test. An INFO in place of a SUCCESS can hide a skipped part too: the SEP-1699
# checks of server-sse-polling (priming event, retry field, the result of
# test_reconnection replayed on the GET stream resumed with Last-Event-ID) must be
# SUCCESS when they ran. The checks are in results/*/checks.json.
# shellcheck disable=SC2016 # JavaScript, not shell
"$node" -e '
const fs = require("fs"), path = require("path");
const mustSucceed = ["server-sse-priming-event", "server-sse-retry-field",
                     "server-sse-disconnect-resume"];
let bad = 0, files = 0;
const note = (dir, c) => console.log(`# ${c.status} ${path.basename(dir)}: ${c.id}: ` +
                                     `${c.errorMessage || c.description}`);
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) { walk(p); continue; }
    if (e.name !== "checks.json") continue;
    files++;
    for (const c of JSON.parse(fs.readFileSync(p, "utf8"))) {
        if (c.status === "FAILURE") note(d, c);
        if (c.status === "WARNING" || (mustSucceed.includes(c.id) && c.status !== "SUCCESS")) {
            bad++;
            note(d, c);
        }
    } } };
try { walk(process.argv[1]); } catch (e) { console.log("# " + e.message); process.exit(2); }
console.log(`# ${files} result files, ${bad} warnings or SEP-1699 checks not SUCCESS`);
process.exit(files > 0 && bad === 0 ? 0 : 1);
' "$tmp/results" >"$tmp/warnings" 2>&1
wrc=$?
cat "$tmp/warnings"
check "no check ended in a warning; the SEP-1699 resumption checks succeeded" [ "$wrc" = 0 ]
check "the server is still running after the suite" running server
kill -TERM "$(pid_of server)" 2>/dev/null
check "SIGTERM stops the server with exit status 0" exited server 0
no_report() { ! grep -q -e 'Sanitizer' -e 'runtime error:' "$tmp/server.log"; }
check "no sanitizer report in the server's log" no_report

mcp_finish
