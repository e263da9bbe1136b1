#!/bin/sh
# Drives `mcp-server --stdio` as an MCP client would: initialize, tools/list, ping,
# malformed and oversize lines, batch arrays, blank lines, notifications, a
# tools/call against the fake upstream, cancellation of a call whose upstream
# request hangs (the call is aborted: no response, prompt exit), shutdown on EOF
# and on SIGTERM. Checks that stdout carries only JSON-RPC lines and stderr only
# JSON log lines.
#
# Environment: top_builddir, top_srcdir (set by make check). MCP_WRAPPER runs the
# server under a tool (e.g. "valgrind -q --error-exitcode=99"). MCP_START_TIMEOUT
# (seconds, default 10) caps every wait for an event.
# Exit: 0 all passed, 1 a check failed, 77 the server or the fake upstream is not
# built. Without curl(1) the checks that inject upstream faults are skipped.
# shellcheck disable=SC2317 # the checks call their predicates through check
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(dirname "$0")/..}"
# shellcheck source=tests/mcp-lib.sh
. "$top_srcdir/tests/mcp-lib.sh"
bin=$top_builddir/server/mcp-server
fake_bin=$top_builddir/tests/fake_upstream/fake-upstream
need_built "$bin" "$fake_bin"
have_curl=0
command -v curl >/dev/null 2>&1 && have_curl=1
wrap=${MCP_WRAPPER:-}
cap=${MCP_START_TIMEOUT:-10}

mcp_tmpdir check-mcp-stdio
fail_detail() {
    for f in $show; do sed "s/^/#   $f: /" "$tmp/$f" 2>/dev/null | cut -c1-300 | tail -n 6; done
}
show="out err"

# Polls until FILE holds a line matching the fixed string PATTERN (bounded by $cap).
wait_for() {
    i=0
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 20)) ] && return 1
        sleep 0.05
    done
}
line_has() { grep -F -- "$2" "$tmp/$1" | grep -qF -- "$3"; }
absent() { ! grep -qF -- "$2" "$tmp/$1"; }
only_jsonrpc() { ! grep -v '^{"jsonrpc":"2.0",' "$tmp/$1" | grep -q .; }
only_logs() { ! grep -v '^{"ts":"[0-9T:.Z-]*","level":"[a-z]*","event":"' "$tmp/$1" | grep -q .; }

# --- the fake upstream ------------------------------------------------------------------
# shellcheck disable=SC2119 # no extra options for the fake
start_fake || { echo "Bail out! the fake upstream did not start"; exit 1; }
MCP_YOUTUBE_BASE_URL=$up/youtube/v3
MCP_OEMBED_URL=$up/oembed
MCP_TRANSCRIPT_URL=$up
MCP_AI_BASE_URL=$up/v1
export MCP_YOUTUBE_BASE_URL MCP_OEMBED_URL MCP_TRANSCRIPT_URL MCP_AI_BASE_URL
unset YOUTUBE_API_KEY AI_API_KEY MCP_TRANSPORT MCP_LISTEN MCP_SECRETS_STORE \
    MCP_SECRETS_KEY_FILE 2>/dev/null

# config GRACE_MS [WORKERS]: a configuration with a small body limit (so an
# oversize line is cheap to make), the given shutdown grace and worker threads.
config() {
    sed -e 's/"max_body_bytes": [0-9]*/"max_body_bytes": 4096/' \
        -e "s/\"shutdown_grace_ms\": [0-9]*/\"shutdown_grace_ms\": $1/" \
        -e "s/\"worker_threads\": [0-9]*/\"worker_threads\": ${2:-16}/" \
        "$top_srcdir/server/mcp-server.json" >"$tmp/c$1-${2:-16}.json"
    echo "$tmp/c$1-${2:-16}.json"
}
cfg=$(config 10000)

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"check-mcp-stdio","version":"1"}}}'
inited='{"jsonrpc":"2.0","method":"notifications/initialized"}'

# --- one session from a file of requests ------------------------------------------------
big=$(head -c 5000 /dev/zero | tr '\0' 'x')
{
    echo "$init"
    echo "$inited"
    echo '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
    echo '{"jsonrpc":"2.0","id":"three","method":"ping"}'
    echo ''
    echo '   '
    echo 'this is not json'
    echo '[{"jsonrpc":"2.0","id":4,"method":"ping"}]'
    echo "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\",\"params\":{\"pad\":\"$big\"}}"
    echo '{"jsonrpc":"2.0","id":6,"method":"ping"}'
    echo '{"jsonrpc":"2.0","id":7,"method":"no/such/method"}'
    echo '{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}'
    echo '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"video_metadata","arguments":{"url":"https://youtu.be/dQw4w9WgXcQ"}}}'
    echo '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}'
    printf '%s' '{"jsonrpc":"2.0","id":10,"method":"ping"}'   # no newline before EOF
} >"$tmp/requests"
$wrap "$bin" --stdio --config "$cfg" <"$tmp/requests" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "the server exits 0 when stdin closes" [ "$rc" = 0 ]
check "initialize answers with the protocol version" line_has out '"id":1,' '"protocolVersion":"2025-11-25"'
check "... and the server's name" line_has out '"id":1,' '"serverInfo":{"name":"mcp-server"'
check "tools/list lists the production tools" sh -c "grep -F '\"id\":2,' '$tmp/out' |
    grep -F '\"name\":\"video_metadata\"' | grep -F '\"name\":\"service_status\"' |
    grep -qvF test_simple_text"
check "ping with a string id is answered" line_has out '"id":"three"' '"result":{}'
check "a malformed line gets a parse error with id null" \
    line_has out '"id":null' '"code":-32700,"message":"malformed JSON'
check "a batch array is refused" line_has out '"id":null' 'batch requests are not supported'
check "an oversize line gets an error naming the limit" \
    line_has out '"id":null' 'message too large: a line over the limit of 4096 bytes'
check "... and is not answered as a request" absent out '"id":5,'
check "the next line after it is served" line_has out '"id":6,' '"result":{}'
check "an unknown method gets -32601" line_has out '"id":7,' '"code":-32601'
check "tools/call video_metadata goes to the fake upstream" \
    line_has out '"id":8,' '"title":"Rick Astley - Never Gonna Give You Up (Official Music Video)"'
check "... keyless, through oEmbed" line_has out '"id":8,' '"source":"oembed"'
check "an unknown tool gets -32602" line_has out '"id":9,' '"code":-32602'
check "a last line without a newline still counts" line_has out '"id":10,' '"result":{}'
# 1, 2, three, null x3 (malformed, batch, oversize), 6, 7, 8, 9, 10: nothing else.
check "exactly one reply per request, none for notifications or blank lines" \
    [ "$(wc -l <"$tmp/out")" -eq 11 ]
check "stdout carries only JSON-RPC lines" only_jsonrpc out
check "stderr carries only JSON log lines" only_logs err
check "the log says stdin closed" line_has err '"event":"stdio.eof"' '"level":"info"'

# --- an interactive session over a FIFO ---------------------------------------------------
# start NAME CONFIG: a server reading $tmp/NAME.in (written through fd 3).
start() {
    rm -f "$tmp/$1.in"
    mkfifo "$tmp/$1.in" || exit 1
    stag=$1
    # shellcheck disable=SC2086 # the wrapper is a command line
    launch "$1" "$tmp/$1.in" $wrap "$bin" --stdio --config "$2"
    exec 3>"$tmp/$1.in"
    spid=$(pid_of "$1")
    echo "$init" >&3
    echo "$inited" >&3
}
# stop_status: the exit status of the last server started, or "timeout".
stop_status() {
    if wait_rc "$stag"; then
        rc=$(cat "$tmp/$stag.rc")
    else
        rc=timeout
    fi
}
control() { curl -sS --max-time 10 -o "$tmp/control.out" "$@"; }
stat_count() {
    control "$up/_control/stats" &&
        sed -n "s/.*\"requests\":{[^}]*\"$1\":\([0-9]*\).*/\1/p" "$tmp/control.out"
}

# wait_stat SERVICE N: polls, bounded by $cap, until the fake upstream has counted
# N requests for SERVICE; 1 if it has not.
wait_stat() {
    i=0
    while [ "$(stat_count "$1")" != "$2" ]; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 10)) ] && return 1
        sleep 0.1
    done
}

if [ "$have_curl" = 0 ]; then
    echo "# curl is not installed: the upstream fault checks are skipped"
else
    show="s1.out s1.log"
    control -X POST "$up/_control/reset"
    control -X POST -H 'Content-Type: application/json' \
        -d '{"service":"oembed","mode":"hang"}' "$up/_control/fault"
    # A grace far longer than the wait cap: only an aborted call lets the server
    # exit within the cap once stdin closes.  One worker: a second call waits in
    # the queue, and its cancellation must hold there too.
    start s1 "$(config 60000 1)"
    echo '{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"video_metadata","arguments":{"url":"jNQXAC9IVRw"},"_meta":{"progressToken":"p20"}}}' >&3
    wait_stat oembed 1
    check "the call's upstream request is in flight (held by the fake)" \
        [ "$(stat_count oembed)" = 1 ]
    echo '{"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":"video_metadata","arguments":{"url":"bbbbbbbbbbb"}}}' >&3
    echo '{"jsonrpc":"2.0","id":21,"method":"ping"}' >&3
    check "ping is answered while a tool call is blocked" wait_for "$tmp/s1.out" '"id":21,'
    echo '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":23}}' >&3
    echo '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":20,"reason":"test"}}' >&3
    echo '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":999}}' >&3
    echo '{"jsonrpc":"2.0","id":22,"method":"ping"}' >&3
    check "an unknown requestId is tolerated" wait_for "$tmp/s1.out" '"id":22,'
    exec 3>&-
    stop_status
    check "after cancellation the server exits 0 at once on EOF" [ "$rc" = 0 ]
    check "the cancelled call gets no response" absent s1.out '"id":20,'
    check "a call cancelled while queued gets no response" absent s1.out '"id":23,'
    check "the upstream request was not retried, the queued call never ran" \
        [ "$(stat_count oembed)" = 1 ]
    check "stdout still carries only JSON-RPC lines" only_jsonrpc s1.out

    # EOF with a call still in flight: the grace passes, then it is cancelled.
    show="s2.out s2.log"
    start s2 "$(config 200)"
    echo '{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"video_metadata","arguments":{"url":"aaaaaaaaaaa"}}}' >&3
    wait_stat oembed 2
    exec 3>&-
    stop_status
    check "EOF with a hung call: exit 0 after the grace period" [ "$rc" = 0 ]
    check "... the call was cancelled, not answered" absent s2.out '"id":30,'
    check "... and the log says so" line_has s2.log '"event":"stdio.shutdown_cancel"' '"cancelled":1'
    control -X POST "$up/_control/reset"
fi

# --- SIGTERM ----------------------------------------------------------------------------------
show="s3.out s3.log"
start s3 "$cfg"
check "the session is up before the signal" wait_for "$tmp/s3.out" '"id":1,'
kill -TERM "$spid"
stop_status
exec 3>&-
check "SIGTERM stops a stdio server with exit 0" [ "$rc" = 0 ]
check "... logging server.stopped" line_has s3.log '"event":"server.stopped"' '"status":0'

mcp_finish
