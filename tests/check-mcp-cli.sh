#!/bin/sh
# Exercises mcp-server's command line: --help, --version, --print-default-config
# and --check-config (round trip, the shipped example), configuration errors with
# FILE:LINE:COL, environment errors naming the variable, usage errors (exit 2),
# the loopback rule for HTTP, and SIGTERM/SIGINT on --http (exit 0 after draining).
#
# Environment: top_builddir, top_srcdir (set by make check). MCP_WRAPPER runs the
# server under a tool, e.g. "valgrind -q --error-exitcode=99 --leak-check=full".
# MCP_START_TIMEOUT (seconds, default 10) caps every wait for an event.
# Exit: 0 all passed, 1 a check failed, 77 the server is not built.
# shellcheck disable=SC2317 # the checks call their predicates through check
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(dirname "$0")/..}"
# shellcheck source=tests/mcp-lib.sh
. "$top_srcdir/tests/mcp-lib.sh"
bin=$top_builddir/server/mcp-server
need_built "$bin"
wrap=${MCP_WRAPPER:-}
cap=${MCP_START_TIMEOUT:-10}

mcp_tmpdir check-mcp-cli
fail_detail() {
    sed 's/^/#   stdout: /' "$tmp/out" 2>/dev/null | head -n 5
    sed 's/^/#   stderr: /' "$tmp/err" 2>/dev/null | head -n 5
}

# srv ARGS...: runs the server to completion; status in $rc, output in $tmp/out,
# $tmp/err. Standard input is empty, so a --stdio server ends at once.
srv() {
    $wrap "$bin" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
has() { grep -q -- "$2" "$tmp/$1"; }
empty() { [ ! -s "$tmp/$1" ]; }
is() { [ "$rc" = "$1" ]; }

# --- informational options --------------------------------------------------------
srv --help
check "--help exits 0 with the usage on stdout" is 0
check "--help names every option" sh -c "grep -q -- '--print-default-config' '$tmp/out' &&
    grep -q -- '--check-config' '$tmp/out' && grep -q -- '--http ADDR:PORT' '$tmp/out'"
srv --version
check "--version exits 0" is 0
check "--version prints the versions" has out '^mcp-server [0-9][0-9.]* (libresil [0-9]'

srv --print-default-config
check "--print-default-config exits 0" is 0
cp "$tmp/out" "$tmp/default.json"
check "--print-default-config writes nothing on stderr" empty err
check "the shipped example equals the default" cmp -s "$tmp/default.json" \
    "$top_srcdir/server/mcp-server.json"
srv --check-config --config "$tmp/default.json"
check "the default loads back (--check-config exits 0)" is 0
check "--check-config says OK with the file name" has out "^configuration OK: $tmp/default.json\$"
srv --check-config
check "--check-config without a file checks the defaults" has out '^configuration OK: (defaults)$'

# --- configuration errors ---------------------------------------------------------
printf '{\n  "server": {\n    "lissten": "127.0.0.1:1"\n  }\n}\n' >"$tmp/bad.json"
srv --check-config --config "$tmp/bad.json"
check "an unknown key exits 2" is 2
check "an unknown key is located FILE:LINE:COL" \
    has err "^mcp-server: $tmp/bad.json:3:5: server.lissten: unknown key 'lissten' (known: transport, listen"
check "nothing on stdout after an error" empty out

printf '{\n  "log": {"level": "info",}\n}\n' >"$tmp/syntax.json"
srv --check-config --config "$tmp/syntax.json"
check "a syntax error exits 2 with FILE:LINE:COL" sh -c "[ $rc = 2 ] &&
    grep -q '^mcp-server: $tmp/syntax.json:2:[0-9]*: invalid JSON' '$tmp/err'"

printf '{"services": {"youtube_api": {"api_key": "AIzaVerySecretValue"}}}\n' >"$tmp/key.json"
srv --check-config --config "$tmp/key.json"
check "a key given inline is refused" sh -c "[ $rc = 2 ] &&
    grep -q 'services.youtube_api.api_key: credentials are never read' '$tmp/err' &&
    grep -q 'api_key_env' '$tmp/err' && ! grep -q AIzaVerySecretValue '$tmp/err'"

srv --stdio --config "$tmp/bad.json"
check "a bad config stops the server with exit 2" is 2
check "... logged as a JSON line on stderr" has err '^{"ts":".*"event":"config.invalid".*bad.json:3:5'

srv --check-config --config "$tmp/missing.json"
check "a missing file exits 2 and says so" sh -c "[ $rc = 2 ] &&
    grep -q 'missing.json: cannot open: No such file' '$tmp/err'"

MCP_LISTEN=localhost:80 srv --check-config
check "an environment error names the variable" sh -c "[ $rc = 2 ] &&
    grep -q 'environment variable MCP_LISTEN: .localhost:80. is not ADDR:PORT' '$tmp/err'"
AI_API_KEY='not a key' srv --check-config
check "a bad key in the environment is refused, never echoed" sh -c "[ $rc = 2 ] &&
    grep -q 'environment variable AI_API_KEY' '$tmp/err' && ! grep -q 'not a key' '$tmp/err'"

# --- usage errors ------------------------------------------------------------------
srv --bogus
check "an unknown option exits 2" sh -c "[ $rc = 2 ] &&
    grep -q \"option '--bogus' is not known\" '$tmp/err'"
srv --stdio extra
check "a stray argument exits 2" sh -c "[ $rc = 2 ] && grep -q \"unexpected argument 'extra'\" '$tmp/err'"
srv --http
check "--http without a value exits 2" sh -c "[ $rc = 2 ] && grep -q 'needs a value' '$tmp/err'"
srv --http localhost:8080
check "--http with a host name exits 2, naming the option" sh -c "[ $rc = 2 ] &&
    grep -q '^mcp-server: --http: ' '$tmp/err'"
srv --stdio --http 127.0.0.1:0
check "--stdio and --http together exit 2" is 2
srv --log-level loud
check "--log-level with a bad level exits 2" is 2

# --- the loopback rule ---------------------------------------------------------------
srv --check-config --http 0.0.0.0:8080
check "HTTP beyond loopback without a token is refused" sh -c "[ $rc = 2 ] &&
    grep -q 'server.listen: 0.0.0.0 is not a loopback address' '$tmp/err'"
MCP_AUTH_TOKEN=changeme srv --check-config --http 0.0.0.0:8080
check "... and with a weak token" sh -c "[ $rc = 2 ] && grep -q MCP_AUTH_TOKEN '$tmp/err' &&
    ! grep -q changeme '$tmp/err'"
MCP_AUTH_TOKEN=k3Yq-8vT2-pL0x-Wm7R-c4Nd srv --check-config --http 0.0.0.0:8080
check "... but accepted with a strong token" is 0
srv --check-config --http '[::1]:0'
check "IPv6 loopback needs no token" is 0

# --- signals on --http ------------------------------------------------------------------
# stop_by SIGNAL: starts an HTTP server on a free port, waits for its port file and
# its log line, sends SIGNAL, and waits for it to exit; status in $rc.
stop_by() {
    # shellcheck disable=SC2086 # the wrapper is a command line
    launch_http bg /dev/null $wrap "$bin" --log-level info
    wait_port bg
    # While it listens, a second server on the same port must fail to start.
    if [ "${2:-}" = inuse ] && [ -n "$port" ]; then
        srv --http "127.0.0.1:$port"
        inuse_rc=$rc
    fi
    kill -"$1" "$(pid_of bg)" 2>/dev/null
    wait_rc bg
    rc=$(cat "$tmp/bg.rc" 2>/dev/null)
    cp "$tmp/bg.out" "$tmp/out"
    cp "$tmp/bg.log" "$tmp/err"
}
if grep -q 'placeholder: being written' "$top_srcdir/server/transport/http.c" 2>/dev/null; then
    echo "# http.c is not written yet: the --http checks are skipped"
else
    inuse_rc=''
    stop_by TERM inuse
    check "--http writes the bound port to MCP_PORT_FILE" sh -c "[ '${port:-0}' -gt 0 ]"
    check "--http logs http.listening with the address and port" \
        has err "\"event\":\"http.listening\",\"address\":\"127.0.0.1\",\"port\":${port:-x}"
    check "SIGTERM stops --http with exit 0" is 0
    check "... after logging server.stopped" has err '"event":"server.stopped"'
    check "... and nothing on stdout" empty out
    stop_by INT
    check "SIGINT stops --http with exit 0" is 0
    check "a port in use makes a second server exit 1" [ "$inuse_rc" = 1 ]
    srv --http 256.0.0.1:1
    check "an invalid --http address is a usage error" is 2
fi

mcp_finish
