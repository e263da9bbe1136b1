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
set -u

: "${top_builddir:=.}" "${top_srcdir:=.}"
bin=$top_builddir/tests/conformance/mcp-conformance-server
nodedir=$(cd "$top_srcdir/tests/node" 2>/dev/null && pwd) || nodedir=$top_srcdir/tests/node
node=$nodedir/node_modules/node/bin/node
suite=$nodedir/node_modules/@modelcontextprotocol/conformance/dist/index.js
cap=${MCP_TEST_TIMEOUT:-10}
suite_cap=${MCP_CONFORMANCE_TIMEOUT:-300}

missing() {
    if [ "${RESIL_REQUIRE_NODE:-0}" = 1 ]; then
        echo "FAIL: $1 (RESIL_REQUIRE_NODE=1; run: npm ci --prefix tests/node --no-audit --no-fund)"
        exit 1
    fi
    echo "SKIP: $1 (run: npm ci --prefix tests/node --no-audit --no-fund)"
    exit 77
}
[ -x "$bin" ] || { echo "FAIL: $bin is not built"; exit 1; }
[ -x "$node" ] || missing "the Node 22 binary $node is not installed"
[ -f "$suite" ] || missing "the conformance suite $suite is not installed"

failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-mcp-conformance.XXXXXX") || exit 1

# The server runs in a subshell that records its exit status in $tmp/server.rc once it
# has exited (kill -0 cannot tell: a zombie answers it).
running() { [ -s "$tmp/server.pid" ] && [ ! -e "$tmp/server.rc" ]; }
# wait_rc: polls until the server has exited, bounded by $cap.
wait_rc() {
    i=0
    while [ ! -s "$tmp/server.rc" ]; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 20)) ] && return 1
        sleep 0.05
    done
}

# Stops the server (TERM, then KILL after the cap) and removes the temporary directory.
cleanup() {
    exec 3>&-
    if running; then
        kill "$(cat "$tmp/server.pid")" 2>/dev/null
        wait_rc || kill -9 "$(cat "$tmp/server.pid")" 2>/dev/null
    fi
    if [ "$failed" != 0 ]; then
        echo "# server log (last 40 lines):"
        tail -n 40 "$tmp/server.log" 2>/dev/null | sed 's/^/#   /'
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$1"; }
not_ok() { n=$((n + 1)); printf 'not ok %d - %s\n' "$n" "$1"; failed=1; }
check() {
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# Waits for FILE to be non-empty: polling for the event, bounded by $cap.
wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 20)) ] && return 1
        [ -e "$tmp/server.rc" ] && return 1
        sleep 0.05
    done
}
is_port() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# ---- the server ---------------------------------------------------------------------
# stdin is a pipe the script holds open, so a server that follows its stdin stops
# with the script whatever happens.
mkfifo "$tmp/in" || exit 1
(
    # shellcheck disable=SC2086 # the wrapper is a command line
    MCP_PORT_FILE=$tmp/port ${MCP_SERVER_WRAPPER:-} "$bin" --http 127.0.0.1:0 <"$tmp/in" 2>"$tmp/server.log" &
    echo $! >"$tmp/server.pid"
    wait $!
    echo $? >"$tmp/server.rc"
) 3>&- &
exec 3>"$tmp/in"
check "the fixture server writes its port file (MCP_PORT_FILE)" wait_file "$tmp/port"
port=$(cat "$tmp/port" 2>/dev/null)
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
check "the server is still running after the suite" running
kill -TERM "$(cat "$tmp/server.pid")" 2>/dev/null
stopped_cleanly() { wait_rc && [ "$(cat "$tmp/server.rc")" = 0 ]; }
check "SIGTERM stops the server with exit status 0" stopped_cleanly
no_report() { ! grep -q -e 'Sanitizer' -e 'runtime error:' "$tmp/server.log"; }
check "no sanitizer report in the server's log" no_report

echo "1..$n"
exit "$failed"
