#!/bin/sh
# tools/call throughput, latency, CPU and memory of mcp-server against the
# official TypeScript SDK serving the same tool and a bare libmicrohttpd
# handler (the HTTP ceiling), over Streamable HTTP (wrk, one session, 1, 10
# and 50 connections) and stdio (16 requests in flight).  `make bench-mcp`
# runs:  bench/mcp/run.sh .   (from the build directory)
#
#   bench/mcp/run.sh [BUILDDIR] [--quick] [--duration S] [--rounds R]
#                    [--only c,ts,tsjson,node,bare]
#
# BUILDDIR (default .) holds tests/conformance/mcp-conformance-server (the C
# server with the trivial fixture tool test_simple_text) and, when `make`
# built them, bench/mcp/bare_mhd and bench/mcp/stdio_load; missing ones are
# compiled here with cc into a temporary directory.  Peers: c (mcp-server),
# ts (TypeScript SDK), tsjson (the same with enableJsonResponse: JSON
# instead of SSE replies), node (plain node:http answering a constant, no
# SDK: Node's own ceiling), bare (libmicrohttpd answering a constant).
#
# All HTTP servers run at once (idle while another is measured); each
# round measures every server at 1, 10 and 50 connections for S seconds
# (default 5) and runs the stdio load once per stdio peer; the table shows
# the median of R rounds (default 3) and the spread, so that a burst of
# load from elsewhere on the machine moves one round, not the result.
# --quick: 1 round of 1 s and 3000 stdio requests (a smoke test).
#
# Nothing is downloaded: the TypeScript peer needs bench/mcp/node_modules,
# installed once with `npm ci --prefix bench/mcp` (without it, or without
# node, the peer is skipped).  wrk is Debian's package `wrk`.  Every server
# listens on 127.0.0.1 only; every step has a time limit; a default run
# takes about 6 minutes.
set -u

builddir=.
duration=5
warmup=8
rounds=3
stdio_n=20000
only=c,ts,tsjson,node,bare
usage="usage: run.sh [BUILDDIR] [--quick] [--duration S] [--rounds R] [--only c,ts,tsjson,node,bare]"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) duration=1 warmup=2 rounds=1 stdio_n=3000 ;;
    --duration) duration=${2:?$usage}; shift ;;
    --rounds) rounds=${2:?$usage}; shift ;;
    --only) only=${2:?$usage}; shift ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) builddir=$1 ;;
    esac
    shift
done
case $duration$rounds in *[!0-9]*) echo "$usage" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-bench-mcp.XXXXXX") || exit 1
pids=
cleanup() {
    exec 9>&-
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    for p in $pids; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

limit() { # limit SECONDS command...
    secs=$1
    shift
    timeout "$secs" "$@"
}
want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }
drop() { only=$(echo ",$only," | sed "s/,$1,/,/"); }

for tool in wrk curl timeout cc; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "run.sh: $tool not found (Debian: apt-get install wrk curl coreutils gcc)" >&2
        exit 1
    fi
done

# ---- programs -----------------------------------------------------------------
# prog NAME: the built bench/mcp/NAME, or one compiled here from its source
prog() {
    if [ -x "$builddir/bench/mcp/$1" ]; then
        echo "$builddir/bench/mcp/$1"
        return 0
    fi
    flags=
    [ "$1" = bare_mhd ] && flags=$(pkg-config --cflags --libs libmicrohttpd)
    # shellcheck disable=SC2086
    if ! cc -std=c11 -O2 -o "$tmp/$1" "$here/$1.c" $flags 2>"$tmp/$1.cc.log"; then
        echo "run.sh: cannot compile $here/$1.c:" >&2
        cat "$tmp/$1.cc.log" >&2
        return 1
    fi
    echo "$tmp/$1"
}
bare=$(prog bare_mhd) || exit 1
stdio_load=$(prog stdio_load) || exit 1
fixture=$builddir/tests/conformance/mcp-conformance-server
if want c && [ ! -x "$fixture" ]; then
    echo "== C server skipped: $fixture not built (make tests/conformance/mcp-conformance-server)"
    drop c
fi
# the per-session limit on calls in flight (default 16) must admit 50
c_config="--config $here/bench-config.json"
if ! command -v node >/dev/null 2>&1; then
    echo "== Node.js peers skipped: node not found"
    drop ts
    drop tsjson
    drop node
elif { want ts || want tsjson; } && [ ! -d "$here/node_modules/@modelcontextprotocol/sdk" ]; then
    echo "== TypeScript peer skipped: run \`npm ci --prefix $here\` once first"
    drop ts
    drop tsjson
fi

# ---- helpers --------------------------------------------------------------------
cpu_ticks() { # utime + stime of a pid (all its threads), in clock ticks
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
mem_kb() { # VmRSS VmHWM of a pid, in kB
    awk '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 } END { print r + 0, h + 0 }' \
        "/proc/$1/status" 2>/dev/null
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
hz=$(getconf CLK_TCK)
get() { eval "echo \"\${$1_$2:-}\""; } # get NAME FIELD

# start NAME command...: start an HTTP server with MCP_PORT_FILE set and
# wait (10 s at most) for its port; sets NAME_pid and NAME_port.
mkfifo "$tmp/stdin" || exit 1
: >"$tmp/mem"
fifo_open=no
start() {
    name=$1
    shift
    rm -f "$tmp/port"
    # stdin is a FIFO held open here: the servers that watch stdin exit at
    # its EOF, so none outlives this script even if it is killed with -9
    MCP_PORT_FILE=$tmp/port "$@" <"$tmp/stdin" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids="$pids $pid"
    if [ $fifo_open = no ]; then
        exec 9>"$tmp/stdin"
        fifo_open=yes
    fi
    i=0
    while [ ! -s "$tmp/port" ]; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: $name did not write its port; its stderr:" >&2
            tail -n 5 "$tmp/$name.err" >&2
            return 1
        fi
        sleep 0.05
    done
    eval "${name}_pid=$pid ${name}_port=$(cat "$tmp/port")"
}

# warnings FILE: the server's warning and error log events, counted (a
# benchmark that made the server complain is not a clean measurement)
warnings() {
    [ -s "$1" ] || return 0
    grep -E '"level":"(warn|error|crit)' "$1" | sed 's/.*"event":"\([^"]*\)".*/\1/' |
        sort | uniq -c | while read -r n ev; do
        echo "  server log: $n x $ev, the first: $(grep -m 1 "\"event\":\"$ev\"" "$1" |
            cut -c 1-240)" >&2
    done
}

hdrs='-H Content-Type:application/json -H Accept:application/json,text/event-stream'

# session NAME: initialize + notifications/initialized; sets NAME_sid
session() {
    url=http://127.0.0.1:$(get "$1" port)/mcp
    # shellcheck disable=SC2086
    code=$(limit 10 curl -s -o "$tmp/init.body" -D "$tmp/init.hdr" -w '%{http_code}' $hdrs \
        -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0.1.0"}}}' \
        "$url")
    sid=$(tr -d '\r' <"$tmp/init.hdr" | awk -F': ' 'tolower($1) == "mcp-session-id" { print $2 }')
    if [ "$code" != 200 ] || [ -z "$sid" ]; then
        echo "run.sh: initialize at $url answered $code without a session:" >&2
        head -c 300 "$tmp/init.body" >&2
        return 1
    fi
    # shellcheck disable=SC2086
    code=$(limit 10 curl -s -o /dev/null -w '%{http_code}' $hdrs -H "Mcp-Session-Id: $sid" \
        -H 'MCP-Protocol-Version: 2025-11-25' \
        -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$url")
    if [ "$code" != 202 ]; then
        echo "run.sh: notifications/initialized at $url answered $code" >&2
        return 1
    fi
    eval "${1}_sid=$sid"
}

# wrk_run NAME THREADS CONNS SECONDS: prints the WRKRESULT line and the
# server's CPU ticks during the run
wrk_run() {
    pid=$(get "$1" pid)
    before=$(cpu_ticks "$pid")
    MCP_SESSION=$(get "$1" sid) limit $(($4 + 30)) wrk -t"$2" -c"$3" -d"$4s" --timeout 10s \
        -s "$here/call.lua" "http://127.0.0.1:$(get "$1" port)/mcp" >"$tmp/wrk.out" 2>&1
    after=$(cpu_ticks "$pid")
    grep '^WRKBAD' "$tmp/wrk.out" | sed "s/^/  $1 c=$3: /" >&2
    line=$(grep '^WRKRESULT' "$tmp/wrk.out")
    if [ -z "$line" ]; then
        echo "run.sh: wrk against $1 at $3 connections failed:" >&2
        tail -n 3 "$tmp/wrk.out" >&2
        return 1
    fi
    echo "$line cpu_ticks=$((after - before))"
}

# http_round NAME ROUND: wrk at 1, 10, 50 connections; one row each
http_round() {
    for c in 1 10 50; do
        t=2
        [ $c = 1 ] && t=1
        line=$(wrk_run "$1" $t $c "$duration") || continue
        echo "  round $2 $1 http c=$c: $line (load $(loadavg))"
        echo "$1 http $c $2 $line" >>"$tmp/rows"
    done
}

# stdio_round NAME ROUND command...
stdio_round() {
    name=$1 round=$2
    shift 2
    limit 120 "$stdio_load" -n "$stdio_n" -w 2000 -d 16 -T 100 -e "$tmp/$name.stdio.err" \
        -- "$@" >"$tmp/stdio.out" 2>"$tmp/stdio.log"
    line=$(grep '^STDIORESULT' "$tmp/stdio.out")
    if [ -z "$line" ]; then
        echo "run.sh: stdio load on $name failed:" >&2
        tail -n 5 "$tmp/stdio.log" "$tmp/$name.stdio.err" >&2
        return
    fi
    echo "  round $round $name stdio depth=16: $line (load $(loadavg))"
    echo "$name stdio 16 $round $line" >>"$tmp/rows"
    warnings "$tmp/$name.stdio.err"
}

# ---- the runs ---------------------------------------------------------------------
echo "== bench/mcp on $(uname -m), $(nproc) CPUs, load $(loadavg);" \
    "$rounds round(s), wrk ${duration}s per row"
servers=
if want c; then
    echo "== c: $fixture ($("$fixture" --version 2>/dev/null | head -n 1))"
    # shellcheck disable=SC2086
    start c "$fixture" --http 127.0.0.1:0 $c_config && session c && servers="$servers c"
fi
if want ts || want tsjson; then
    echo "== ts: @modelcontextprotocol/sdk $(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
        "$here/node_modules/@modelcontextprotocol/sdk/package.json" | head -n 1)," \
        "Node.js $(node --version)"
fi
if want ts; then
    start ts node "$here/ts_server.mjs" --http && session ts && servers="$servers ts"
fi
if want tsjson; then
    start tsjson node "$here/ts_server.mjs" --http --json && session tsjson &&
        servers="$servers tsjson"
fi
if want node; then
    start node node "$here/ts_server.mjs" --plain && servers="$servers node"
fi
if want bare; then
    echo "== bare: $bare (libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null))"
    start bare "$bare" && servers="$servers bare"
fi
# warm-up, not reported: JIT compilation, threads, first allocations.  V8
# needs thousands of calls to optimise the SDK's paths, longer when the
# machine is busy; 3 s was not enough (the first round then ran 2-6x
# slower than the next two).
for s in $servers; do
    wrk_run "$s" 2 10 "$warmup" >/dev/null
done
: >"$tmp/rows"
r=1
while [ $r -le "$rounds" ]; do
    for s in $servers; do
        http_round "$s" $r
    done
    # shellcheck disable=SC2086
    want c && stdio_round c $r "$fixture" --stdio $c_config
    want ts && stdio_round ts $r node "$here/ts_server.mjs" --stdio
    r=$((r + 1))
done
for s in $servers; do
    echo "$s $(mem_kb "$(get "$s" pid)")" >>"$tmp/mem"
done
echo "== done, load $(loadavg)"
exec 9>&-
for s in $servers; do
    kill "$(get "$s" pid)" 2>/dev/null
done
warnings "$tmp/c.err"

# ---- the table ----------------------------------------------------------------------
# rows: server transport conns round KEY=VALUE...; mem: server rss_kb hwm_kb
echo
awk -v hz="$hz" '
function val(k,    i, kv) {
    for (i = 5; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
    return ""
}
function median3(key, n,    i, j, t, a) { # index of the median-rps round
    for (i = 1; i <= n; i++) a[i] = i
    for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
            if (rps[key, a[j]] < rps[key, a[i]]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
}
FILENAME ~ /mem$/ { rss[$1] = $2; hwm[$1] = $3; next }
{
    key = $1 SUBSEP $2 SUBSEP $3
    if (!(key in n)) { order[++nkeys] = key; n[key] = 0 }
    i = ++n[key]
    rps[key, i] = val("rps"); p50[key, i] = val("p50_us"); p99[key, i] = val("p99_us")
    bad[key] += val("bad") + val("sockerr")
    req = val("requests")
    if ($2 == "stdio") {
        cpu[key, i] = req > 0 ? val("cpu_ms") * 1000 / req : 0
        mrss[key, i] = val("rss_kb"); mhwm[key, i] = val("hwm_kb")
    } else {
        cpu[key, i] = req > 0 ? val("cpu_ticks") / hz * 1e6 / req : 0
        mrss[key, i] = rss[$1]; mhwm[key, i] = hwm[$1]
    }
}
BEGIN {
    label["c"] = "mcp-server (C)"; label["ts"] = "TypeScript SDK"
    label["tsjson"] = "TS SDK, JSON replies"; label["bare"] = "bare libmicrohttpd"
    label["node"] = "bare node:http"
}
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.1fx", a / b) }
function pct(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.0f %%", 100 * a / b) }
END {
    printf "%-20s %-9s %5s %8s %15s %8s %8s %10s %7s %7s %4s\n", "server", "transport",
        "conns", "req/s", "(min-max)", "p50 ms", "p99 ms", "CPU us/req", "RSS MB", "peak MB", "bad"
    for (k = 1; k <= nkeys; k++) {
        key = order[k]; split(key, f, SUBSEP)
        m = median3(key, n[key]); lo = hi = rps[key, 1]
        for (i = 2; i <= n[key]; i++) {
            if (rps[key, i] < lo) lo = rps[key, i]
            if (rps[key, i] > hi) hi = rps[key, i]
        }
        med[key] = rps[key, m]
        if (f[2] == "stdio") shwm[f[1]] = mhwm[key, m]
        printf "%-20s %-9s %5d %8.0f %15s %8.2f %8.2f %10.0f %7.1f %7.1f %4d\n",
            label[f[1]], f[2], f[3], rps[key, m], sprintf("(%.0f-%.0f)", lo, hi),
            p50[key, m] / 1000, p99[key, m] / 1000, cpu[key, m],
            mrss[key, m] / 1024, mhwm[key, m] / 1024, bad[key]
    }
    print ""
    print "targets (medians)               1 conn     10 conns     50 conns        stdio"
    printf "%-28s %9s %12s %12s %12s\n", "C / TS throughput (>= 10x)",
        ratio(med["c", "http", 1], med["ts", "http", 1]),
        ratio(med["c", "http", 10], med["ts", "http", 10]),
        ratio(med["c", "http", 50], med["ts", "http", 50]),
        ratio(med["c", "stdio", 16], med["ts", "stdio", 16])
    printf "%-28s %9s %12s %12s %12s\n", "C / bare (>= 50 %)",
        pct(med["c", "http", 1], med["bare", "http", 1]),
        pct(med["c", "http", 10], med["bare", "http", 10]),
        pct(med["c", "http", 50], med["bare", "http", 50]), "-"
    printf "%-28s %9s %12s %12s %12s\n", "peak RSS, TS / C (>= 10x)", "http:",
        ratio(hwm["ts"], hwm["c"]), "stdio:", ratio(shwm["ts"], shwm["c"])
}' "$tmp/mem" "$tmp/rows"
