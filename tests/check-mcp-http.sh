#!/bin/sh
# Drives the Streamable HTTP transport of the real server binary with curl:
# the session flow, SSE framing (priming event, ids, retry:, keepalives), the
# GET stream, resumption with Last-Event-ID, every negative case the issue lists
# (unknown tool, bad arguments, malformed JSON, batches, wrong Accept and
# Content-Type, missing/unknown/ended session, bad MCP-Protocol-Version, bad
# Origin and Host, oversize body, deep nesting, missing and wrong bearer token),
# the session cap, idle expiry, /metrics, the health endpoints, security
# headers and a graceful SIGTERM.
#
# Servers: server/mcp-server (production tools) for most checks and, when
# built, tests/conformance/mcp-conformance-server for the checks that need a
# fixture tool (test_reconnection closes its stream mid-call). Upstream URLs
# point at a closed port on 127.0.0.1: no check here needs an upstream.
#
# Environment: top_builddir (set by make check). MCP_HTTP_WRAPPER runs the
# servers under a tool, e.g. "valgrind -q --error-exitcode=99 --leak-check=full";
# the exit statuses are asserted, so the tool's failures show.
# MCP_HTTP_TIMEOUT (seconds, default 10) caps every wait for an event.
# MCP_HTTP_SERVER / MCP_HTTP_CONFORMANCE_SERVER replace the binaries.
# The servers' stderr is shown after a failure, or always with MCP_HTTP_VERBOSE.
# Exit: 0 all passed, 1 a check failed, 77 server or curl missing.
# Checks are single-quoted strings that eval expands later (SC2016); $wrap is
# meant to split into a command and its options (SC2086); the cleanup trap and
# variables read only inside eval look unused to shellcheck (SC2317, SC2034).
# shellcheck disable=SC2016,SC2086,SC2317,SC2034
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(dirname "$0")/..}"
# shellcheck source=tests/mcp-lib.sh
. "$top_srcdir/tests/mcp-lib.sh"
bin=${MCP_HTTP_SERVER:-$top_builddir/server/mcp-server}
cbin=${MCP_HTTP_CONFORMANCE_SERVER:-$top_builddir/tests/conformance/mcp-conformance-server}
need_built "$bin"
need_cmd curl
wrap=${MCP_HTTP_WRAPPER:-}
cap=${MCP_HTTP_TIMEOUT:-10}

mcp_tmpdir check-mcp-http
# After a failure (or with MCP_HTTP_VERBOSE) the cleanup shows every server's log.
log_lines=100000
verbose=${MCP_HTTP_VERBOSE:-}
fail_detail() {
    printf '#   http=%s body: %.400s\n' "${code:-}" "$(cat "$tmp/body" 2>/dev/null)"
}

# serve TAG BINARY CONFIG [ENV=VALUE...]: starts a server (launch_http); its pid
# goes to $tmp/TAG.pid, its exit status to $tmp/TAG.rc, its port to $port.
serve() {
    t=$1 b=$2 c=$3
    shift 3
    launch_http "$t" /dev/null env "$@" $wrap "$b" --config "$c"
    wait_port "$t"
}

# config FILE [SERVER KEYS...]: a config listening on 127.0.0.1:0 with every
# upstream on a closed local port; extra "key": value pairs go in "server".
config() {
    f=$1
    shift
    extra=""
    for kv in "$@"; do extra="$extra, $kv"; done
    cat >"$f" <<EOF
{"server": {"transport": "http", "listen": "127.0.0.1:0"$extra},
 "services": {"youtube_api": {"base_url": "http://127.0.0.1:9/yt",
                              "oembed_url": "http://127.0.0.1:9/oembed"},
              "video_analysis": {"base_url": "http://127.0.0.1:9/tr"},
              "ai_processing": {"base_url": "http://127.0.0.1:9/v1"}}}
EOF
}

# req NAME METHOD [CURL OPTIONS...]: one request to $base$path (default /mcp);
# sets $code, headers in $tmp/NAME.h, body in $tmp/NAME.b (and $tmp/body).
path=/mcp
req() {
    name=$1 m=$2
    shift 2
    : >"$tmp/$name.b"
    if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
    code=$(curl -sS --max-time "$cap" -o "$tmp/$name.b" -D "$tmp/$name.h" \
        -w '%{http_code}' "$@" "$base$path" 2>"$tmp/$name.err")
    cp "$tmp/$name.b" "$tmp/body"
}
J='Content-Type: application/json'
A='Accept: application/json, text/event-stream'
post() { name=$1 body=$2; shift 2; req "$name" POST -H "$J" -H "$A" -d "$body" "$@"; }
spost() { name=$1 body=$2; shift 2; post "$name" "$body" -H "Mcp-Session-Id: $sid" "$@"; }
has() { grep -q -e "$2" "$tmp/$1.b"; }
hdr() { tr -d '\r' <"$tmp/$1.h" | grep -qi -e "$2"; }
is() { [ "$code" = "$1" ]; }
init_body='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"check-mcp-http","version":"1"}}}'
# new_session NAME: initialize and notifications/initialized; the id in $sid.
new_session() {
    post "$1" "$init_body"
    sid=$(tr -d '\r' <"$tmp/$1.h" | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: *//p')
    [ -n "$sid" ] || return 1
    spost "$1i" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    [ "$code" = 202 ]
}

# ---- server A: the production binary ------------------------------------------
config "$tmp/a.json" '"max_sessions": 2' '"max_body_bytes": 65536' '"max_depth": 16' \
    '"sse_keepalive_ms": 200' '"allowed_origins": ["https://app.example"]'
if ! serve a "$bin" "$tmp/a.json"; then
    not_ok "server A starts and writes its port"
    exit 1
fi
ok "server A starts and writes its port"
base=http://127.0.0.1:$port

post init "$init_body"
sid=$(tr -d '\r' <"$tmp/init.h" | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: *//p')
check "initialize: 200 with a result" eval 'is 200 && has init "\"protocolVersion\":\"2025-11-25\""'
check "initialize: Mcp-Session-Id is 43 base64url characters" \
    eval 'printf %s "$sid" | grep -Eq "^[A-Za-z0-9_-]{43}$"'
for hv in 'X-Content-Type-Options: nosniff' 'Cache-Control: no-store' \
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'" \
    'Referrer-Policy: no-referrer' 'X-Frame-Options: DENY'; do
    check "security header: $hv" hdr init "^$hv\$"
done
spost initd '{"jsonrpc":"2.0","method":"notifications/initialized"}'
check "notifications/initialized: 202 with an empty body" eval 'is 202 && [ ! -s "$tmp/initd.b" ]'
spost list '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
check "tools/list: 200 JSON with tools" \
    eval 'is 200 && hdr list "^Content-Type: application/json" && has list "\"tools\":\\["'
spost ping '{"jsonrpc":"2.0","id":"p","method":"ping"}'
check "ping: string id echoed" eval 'is 200 && has ping "\"id\":\"p\",\"result\":{}"'
spost resp '{"jsonrpc":"2.0","id":77,"result":{}}'
check "a response from the client: 202" is 202

# A streaming reply: a tools/call with a progressToken answers with SSE (one
# without runs inline and answers JSON: see the block at the end).
spost call '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"service_status","arguments":{},"_meta":{"progressToken":"t3"}}}'
check "tools/call: 200 text/event-stream" eval 'is 200 && hdr call "^Content-Type: text/event-stream"'
check "SSE: the first event is a priming event (id, retry, empty data)" \
    eval '[ "$(head -n 4 "$tmp/call.b" | tr "\n" "|")" = "$(sed -n 1p "$tmp/call.b")|retry: 1000|data: ||" ] &&
          head -n 1 "$tmp/call.b" | grep -Eq "^id: [0-9]+-[0-9]+$"'
check "SSE: the response is one data line with an id" \
    eval 'grep -B1 "^data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\"" "$tmp/call.b" | grep -Eq "^id: [0-9]+-[0-9]+$"'
check "SSE: event ids are unique" \
    eval '[ "$(grep "^id:" "$tmp/call.b" | sort | uniq -d)" = "" ]'

# Negative cases.
spost unknown '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}'
check "unknown tool: JSON-RPC error -32602 naming it" \
    eval 'is 200 && has unknown "\"id\":4,\"error\":{\"code\":-32602" && has unknown no_such_tool'
spost badarg '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"video_metadata","arguments":{"url":5}}}'
check "bad arguments: an isError result" eval 'is 200 && has badarg "\"isError\":true"'
spost malformed '{"jsonrpc":"2.0","id":6,"method":'
check "malformed JSON: 400 parse error -32700" eval 'is 400 && has malformed "\"code\":-32700"'
spost batch '[{"jsonrpc":"2.0","id":7,"method":"ping"}]'
check "batch array: 400 saying batches are not supported" eval 'is 400 && has batch "batch"'
req accept POST -H "$J" -H 'Accept: application/json' -H "Mcp-Session-Id: $sid" \
    -d '{"jsonrpc":"2.0","id":8,"method":"ping"}'
check "Accept without text/event-stream: 406 saying what it must contain" \
    eval 'is 406 && has accept "text/event-stream"'
req ctype POST -H 'Content-Type: text/plain' -H "$A" -H "Mcp-Session-Id: $sid" \
    -d '{"jsonrpc":"2.0","id":9,"method":"ping"}'
check "Content-Type text/plain: 415" eval 'is 415 && has ctype application/json'
post nosid '{"jsonrpc":"2.0","id":10,"method":"tools/list"}'
check "no Mcp-Session-Id: 400 'send initialize first'" \
    eval 'is 400 && has nosid "missing Mcp-Session-Id" && has nosid "\"id\":10"'
post unksid '{"jsonrpc":"2.0","id":11,"method":"tools/list"}' \
    -H 'Mcp-Session-Id: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
check "unknown session: 404" eval 'is 404 && has unksid "unknown session"'
spost badver '{"jsonrpc":"2.0","id":12,"method":"ping"}' -H 'MCP-Protocol-Version: 1999-01-01'
check "bad MCP-Protocol-Version: 400 naming the supported ones" \
    eval 'is 400 && has badver 1999-01-01 && has badver 2025-11-25 && has badver 2025-03-26'
spost oldver '{"jsonrpc":"2.0","id":13,"method":"ping"}' -H 'MCP-Protocol-Version: 2025-03-26'
check "MCP-Protocol-Version of another supported revision: accepted" is 200
spost origin '{"jsonrpc":"2.0","id":14,"method":"ping"}' -H 'Origin: https://evil.example'
check "foreign Origin: 403 JSON-RPC error" eval 'is 403 && has origin "forbidden Origin"'
spost origin2 '{"jsonrpc":"2.0","id":15,"method":"ping"}' -H 'Origin: http://localhost:5173'
check "loopback Origin: accepted" is 200
spost origin3 '{"jsonrpc":"2.0","id":16,"method":"ping"}' -H 'Origin: https://app.example'
check "configured Origin: accepted" is 200
spost host '{"jsonrpc":"2.0","id":17,"method":"ping"}' -H 'Host: evil.example:8080'
check "foreign Host: 403 JSON-RPC error" eval 'is 403 && has host "forbidden Host"'
spost host2 '{"jsonrpc":"2.0","id":18,"method":"ping"}' -H 'Host: localhost:1234'
check "Host localhost with any port: accepted" is 200
big=$(head -c 70000 /dev/zero | tr '\0' ' ')
spost big "{\"jsonrpc\":\"2.0\",\"id\":19,\"method\":\"ping\",\"params\":{\"pad\":\"$big\"}}"
check "oversize body: 413 naming the limit" eval 'is 413 && has big 65536'
{ printf '{"jsonrpc":"2.0","id":19,"method":"ping","params":{"pad":"'
  head -c 2000000 /dev/zero | tr '\0' ' '
  printf '"}}'; } >"$tmp/huge.json"
spost huge '' --data-binary "@$tmp/huge.json" -H 'Expect: 100-continue'
check "oversize body announced with Expect: 100-continue: 413 before it is sent" \
    eval 'is 413 && has huge max_body_bytes'
deep=$(printf '%0.s[' $(seq 1 20))$(printf '%0.s]' $(seq 1 20))
spost deep "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"ping\",\"params\":{\"a\":$deep}}"
check "nesting deeper than max_depth: 400 JSON-RPC error" eval 'is 400 && has deep "\"error\""'
req put PUT -H "Mcp-Session-Id: $sid"
check "PUT /mcp: 405 with Allow" eval 'is 405 && hdr put "^Allow: GET, POST, DELETE"'
req getjson GET -H 'Accept: application/json' -H "Mcp-Session-Id: $sid"
check "GET without Accept text/event-stream: 406" is 406
path=/nope
req nope GET
check "unknown path: 404" is 404
path=/mcp
req getnosid GET -H 'Accept: text/event-stream'
check "GET without a session: 400" is 400

# The GET stream: priming event, keepalive comments, one at a time.
curl -sS -N --max-time $((cap * 2)) -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" \
    -o "$tmp/get.b" "$base/mcp" 2>/dev/null &
getpid=$!
track "$getpid"
check "GET stream: priming event first" \
    eval 'wait_grep "$tmp/get.b" "^data: \$" && head -n 1 "$tmp/get.b" | grep -Eq "^id: 0-[0-9]+$"'
check "GET stream: a keepalive comment within sse_keepalive_ms" wait_grep "$tmp/get.b" '^: keepalive$'
req get2 GET -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid"
check "a second GET stream: 409" eval 'is 409 && has get2 "already open"'
kill "$getpid" 2>/dev/null
req badleid GET -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" -H 'Last-Event-ID: x1'
check "malformed Last-Event-ID: 400" eval 'is 400 && has badleid "Last-Event-ID"'
req farleid GET -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" -H 'Last-Event-ID: 999-1'
check "Last-Event-ID of a stream never seen: 400" eval 'is 400 && has farleid "never had"'

# 2026-07-28: no session needed.
post discover '{"jsonrpc":"2.0","id":21,"method":"server/discover","params":{}}' \
    -H 'MCP-Protocol-Version: 2026-07-28'
check "2026-07-28 request without a session: answered" eval 'is 200 && has discover "\"result\""'

# The session cap (2): one more, then a third is refused.
s1=$sid
check "second session" new_session s2
s2=$sid
post s3 "$init_body"
check "third session over max_sessions 2: 503 naming the limit" \
    eval 'is 503 && has s3 "too many sessions (limit 2)"'
sid=$s2
req del DELETE -H "Mcp-Session-Id: $sid"
check "DELETE: 204" is 204
spost afterdel '{"jsonrpc":"2.0","id":22,"method":"ping"}'
check "after DELETE: 404 session ended" eval 'is 404 && has afterdel "session ended"'
req del2 DELETE -H "Mcp-Session-Id: $sid"
check "DELETE again: 404" is 404
check "after DELETE a new session fits" new_session s4
sid=$s1

# /metrics and health.
path=/metrics
req metrics GET
check "/metrics: 200 Prometheus text" \
    eval 'is 200 && hdr metrics "^Content-Type: text/plain; version=0.0.4"'
check "/metrics: HTTP request counters by route and class" \
    has metrics 'mcp_http_requests_total{route="mcp",code="4xx"} [1-9]'
check "/metrics: sessions gauge" has metrics '^mcp_http_sessions 2$'
check "/metrics: SSE stream gauge" has metrics '^mcp_http_sse_streams{kind="post"}'
if command -v promtool >/dev/null 2>&1; then
    check "/metrics: promtool check metrics" eval 'promtool check metrics <"$tmp/metrics.b" >"$tmp/promtool.out" 2>&1'
else
    skip "/metrics: promtool check metrics" "promtool not installed"
fi
for p in livez readyz healthz; do
    path=/$p
    req "$p" GET
    check "/$p: 200 application/health+json with a status" \
        eval 'is 200 && hdr "$p" "^Content-Type: application/health+json" && has "$p" "\"status\":\"pass\""'
done
path=/livez
req livehead HEAD
check "HEAD /livez: 200" is 200
req livepost POST -d x
check "POST /livez: 405" is 405
path=/mcp

# ---- server B: bearer token --------------------------------------------------
tok=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
tok="Tk-$tok-Zq"
config "$tmp/b.json"
if serve b "$bin" "$tmp/b.json" MCP_AUTH_TOKEN="$tok"; then
    ok "server B (auth token) starts"
    base=http://127.0.0.1:$port
    post noauth "$init_body"
    check "no Authorization: 401 with WWW-Authenticate: Bearer" \
        eval 'is 401 && hdr noauth "^WWW-Authenticate: Bearer" && has noauth "Authorization"'
    post wrongauth "$init_body" -H "Authorization: Bearer ${tok}x"
    check "wrong token: 401" eval 'is 401 && has wrongauth "invalid bearer token"'
    post goodauth "$init_body" -H "Authorization: Bearer $tok"
    check "right token: 200" is 200
    path=/metrics
    req metricsnoauth GET
    check "/metrics without the token: 401" is 401
    path=/livez
    req livenoauth GET
    check "/livez needs no token: 200" is 200
    path=/mcp
    kill -TERM "$(cat "$tmp/b.pid")"
    check "server B: SIGTERM exits 0" eval 'wait_file "$tmp/b.rc" && [ "$(cat "$tmp/b.rc")" = 0 ]'
else
    not_ok "server B (auth token) starts"
fi
config "$tmp/wild.json"
sed 's/"127.0.0.1:0"/"0.0.0.0:0"/' "$tmp/wild.json" >"$tmp/wild2.json"
env $wrap "$bin" --http 0.0.0.0:0 --config "$tmp/wild2.json" </dev/null >/dev/null 2>"$tmp/wild.log"
rc=$?
check "0.0.0.0 without a token: refused, saying why" \
    eval '[ "$rc" != 0 ] && grep -qi "token" "$tmp/wild.log"'

# ---- server C: fixtures (resumption, shutdown with a call in flight) -----------
if [ -x "$cbin" ]; then
    config "$tmp/c.json" '"sse_keepalive_ms": 200'
    if serve c "$cbin" "$tmp/c.json"; then
        ok "server C (conformance fixtures) starts"
        base=http://127.0.0.1:$port
        new_session c1
        spost recon '{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"test_reconnection","arguments":{}}}'
        check "test_reconnection: the POST stream ends with retry: before the result" \
            eval 'is 200 && tail -n 2 "$tmp/recon.b" | grep -q "^retry: " && ! has recon "\"id\":30"'
        leid=$(sed -n 's/^id: //p' "$tmp/recon.b" | tail -n 1)
        req resume GET -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" \
            -H "Last-Event-ID: $leid"
        check "GET with Last-Event-ID: the result replayed, then the stream ends" \
            eval 'is 200 && has resume "^data: {\"jsonrpc\":\"2.0\",\"id\":30,\"result\""'
        check "resumed stream: only that stream's events" \
            eval '! grep "^id:" "$tmp/resume.b" | grep -qv "^id: ${leid%%-*}-"'
        req resume2 GET -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" \
            -H "Last-Event-ID: $(sed -n 's/^id: //p' "$tmp/resume.b" | tail -n 1)"
        check "resuming after the last event: nothing replayed" \
            eval 'is 200 && ! has resume2 "^data: {"'
        new_session c2
        curl -sS -N --max-time "$cap" -H "$J" -H "$A" -H "Mcp-Session-Id: $sid" -o "$tmp/inflight.b" \
            -d '{"jsonrpc":"2.0","id":32,"method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":1}}}' \
            "$base/mcp" 2>/dev/null &
        track $!
        curl -sS -N --max-time "$cap" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" \
            -o "$tmp/cget.b" "$base/mcp" 2>/dev/null &
        track $!
        wait_grep "$tmp/inflight.b" '^data: $'
        wait_grep "$tmp/cget.b" '^data: $'
        kill -TERM "$(cat "$tmp/c.pid")"
        check "SIGTERM with a call in flight: exits 0 within the grace" \
            eval 'wait_file "$tmp/c.rc" && [ "$(cat "$tmp/c.rc")" = 0 ]'
        check "the call in flight completed before exit" wait_grep "$tmp/inflight.b" '"id":32,"result"'
        check "SIGTERM: the GET stream ends with retry:" \
            eval 'wait_grep "$tmp/cget.b" "^retry: " && [ "$(grep -v "^\$" "$tmp/cget.b" | tail -n 1)" = "retry: 1000" ]'
    else
        not_ok "server C (conformance fixtures) starts"
    fi
else
    skip "server C (conformance fixtures)" "$cbin is not built"
fi

# ---- server D: idle expiry ---------------------------------------------------------
config "$tmp/d.json" '"session_idle_ms": 1000'
if serve d "$bin" "$tmp/d.json"; then
    ok "server D (session_idle_ms 1000) starts"
    base=http://127.0.0.1:$port
    new_session d1
    path=/metrics
    i=0
    while :; do
        req m2 GET
        has m2 '^mcp_http_sessions 0$' && break
        i=$((i + 1))
        [ "$i" -gt $((cap * 10)) ] && break
        sleep 0.1
    done
    check "idle session expires (session_idle_ms 1000)" has m2 '^mcp_http_sessions 0$'
    path=/mcp
    spost expired '{"jsonrpc":"2.0","id":31,"method":"ping"}'
    check "expired session: 404 session ended" eval 'is 404 && has expired "session ended"'
    kill -TERM "$(cat "$tmp/d.pid")"
    check "server D: SIGTERM exits 0" eval 'wait_file "$tmp/d.rc" && [ "$(cat "$tmp/d.rc")" = 0 ]'
else
    not_ok "server D (session_idle_ms 1000) starts"
fi

# ---- shutdown of A --------------------------------------------------------------
kill -TERM "$(cat "$tmp/a.pid")"
check "server A: SIGTERM exits 0" eval 'wait_file "$tmp/a.rc" && [ "$(cat "$tmp/a.rc")" = 0 ]'

# ==== helper B2: undelivered SSE events, inline calls, cancelling them ============
# E: a tiny event log ("event_buffer": 4) and many concurrent calls on one session:
# streamed calls (progressToken) and inline ones (logs, then the response, in one
# SSE body); the log used to evict responses no connection had delivered yet.
if [ -x "$cbin" ]; then
    config "$tmp/e.json" '"event_buffer": 4' '"max_inflight_per_session": 64'
    if serve e "$cbin" "$tmp/e.json"; then
        ok "server E (event_buffer 4) starts"
        base=http://127.0.0.1:$port
        new_session e1
        spost einl '{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}'
        check "inline tools/call that sends nothing: 200 application/json" \
            eval 'is 200 && hdr einl "^Content-Type: application/json" && has einl "\"id\":40,\"result\""'
        spost elog '{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"test_tool_with_logging","arguments":{}}}'
        check "inline tools/call with logs: one SSE body, priming event, logs, then the response" \
            eval 'is 200 && hdr elog "^Content-Type: text/event-stream" &&
                  head -n 2 "$tmp/elog.b" | grep -q "^retry: " &&
                  [ "$(grep -c "^data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"" "$tmp/elog.b")" = 3 ] &&
                  tail -n 2 "$tmp/elog.b" | grep -q "^data: {\"jsonrpc\":\"2.0\",\"id\":41,\"result\""'
        leid=$(sed -n 's/^id: //p' "$tmp/elog.b" | sed -n 2p)
        req eres GET -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $sid" -H "Last-Event-ID: $leid"
        check "inline call's events resumable with Last-Event-ID (the response replayed)" \
            eval 'is 200 && has eres "\"id\":41,\"result\""'
        cat >"$tmp/one.sh" <<EOS
i=\$1
if [ \$((i % 2)) = 0 ]; then
    b='{"jsonrpc":"2.0","id":'\$i',"method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":'\$i'}}}'
else
    b='{"jsonrpc":"2.0","id":'\$i',"method":"tools/call","params":{"name":"test_tool_with_logging","arguments":{}}}'
fi
curl -sS -N --max-time $cap -H '$J' -H '$A' -H 'Mcp-Session-Id: $sid' -d "\$b" \
    -o "$tmp/par\$i.b" "$base/mcp" 2>/dev/null
EOS
        seq 100 299 | xargs -P 16 -n 1 sh "$tmp/one.sh"
        missing=0
        for i in $(seq 100 299); do
            grep -q "\"id\":$i,\"result\"" "$tmp/par$i.b" 2>/dev/null || missing=$((missing + 1))
        done
        check "200 concurrent calls (16 at a time) on one session, event_buffer 4: every response arrives" \
            eval '[ "$missing" = 0 ] || { echo "#   $missing without their response"; false; }'
        kill -TERM "$(cat "$tmp/e.pid")"
        check "server E: SIGTERM exits 0" eval 'wait_file "$tmp/e.rc" && [ "$(cat "$tmp/e.rc")" = 0 ]'
    else
        not_ok "server E (event_buffer 4) starts"
    fi
else
    skip "server E (event_buffer 4)" "$cbin is not built"
fi

# F: an inline call (no progressToken) hanging upstream, cancelled by a
# notifications/cancelled POSTed on another connection; then SIGTERM with
# another inline call hanging: http_stop cancels it after the grace.
fake_bin=$top_builddir/tests/fake_upstream/fake-upstream
if [ -x "$fake_bin" ] && start_fake; then
    cat >"$tmp/f.json" <<EOS
{"server": {"transport": "http", "listen": "127.0.0.1:0", "shutdown_grace_ms": 500},
 "services": {"youtube_api": {"base_url": "$up/youtube/v3", "oembed_url": "$up/oembed"},
              "video_analysis": {"base_url": "$up"},
              "ai_processing": {"base_url": "$up/v1"}}}
EOS
    if serve f "$bin" "$tmp/f.json" YOUTUBE_API_KEY=b2-test-key-0001 AI_API_KEY=b2-test-key-0002; then
        ok "server F (production tools, fake upstream) starts"
        base=http://127.0.0.1:$port
        new_session f1
        curl -sS --max-time 5 -H "$J" -d '{"service":"transcript","mode":"hang"}' \
            "$up/_control/fault" >/dev/null 2>&1
        hang='{"jsonrpc":"2.0","id":"hang-1","method":"tools/call","params":{"name":"video_transcript","arguments":{"url":"LONGVIDEO01"}}}'
        curl -sS --max-time "$cap" -H "$J" -H "$A" -H "Mcp-Session-Id: $sid" -d "$hang" \
            -o "$tmp/hang.b" -w '%{http_code}' "$base/mcp" >"$tmp/hang.code" 2>/dev/null &
        hpid=$!
        track $hpid
        i=0
        until curl -sS --max-time 5 "$up/_control/stats" 2>/dev/null | grep -Eq '"transcript": ?[1-9]'; do
            i=$((i + 1))
            [ "$i" -gt $((cap * 20)) ] && break
            sleep 0.05
        done
        check "the inline call reaches the hanging upstream" \
            eval 'curl -sS --max-time 5 "$up/_control/stats" | grep -Eq "\"transcript\": ?[1-9]"'
        spost fcancel '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"hang-1","reason":"test cancels"}}'
        check "notifications/cancelled from another connection: 202" is 202
        wait $hpid
        check "the cancelled inline call ends at once, without a response" \
            eval '[ "$(cat "$tmp/hang.code")" != 000 ] && ! grep -q "\"id\":\"hang-1\",\"result\"" "$tmp/hang.b"'
        spost fping '{"jsonrpc":"2.0","id":"fp","method":"ping"}'
        check "the session still answers after the cancel" eval 'is 200 && has fping "\"id\":\"fp\""'
        hang2=$(printf %s "$hang" | sed 's/hang-1/hang-2/')
        curl -sS --max-time "$cap" -H "$J" -H "$A" -H "Mcp-Session-Id: $sid" -d "$hang2" \
            -o /dev/null "$base/mcp" 2>/dev/null &
        track $!
        i=0
        until curl -sS --max-time 5 "$up/_control/stats" 2>/dev/null | grep -Eq '"transcript": ?[2-9]'; do
            i=$((i + 1))
            [ "$i" -gt $((cap * 20)) ] && break
            sleep 0.05
        done
        kill -TERM "$(cat "$tmp/f.pid")"
        check "SIGTERM with an inline call hanging: cancelled after the grace, exits 0" \
            eval 'wait_file "$tmp/f.rc" && [ "$(cat "$tmp/f.rc")" = 0 ]'
    else
        not_ok "server F (production tools, fake upstream) starts"
    fi
    stop_fake
else
    skip "server F (inline call cancelled)" "fake-upstream is not built or did not start"
fi

mcp_finish
