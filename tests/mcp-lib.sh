# Shared shell functions for the tests/check-mcp-*.sh scripts (POSIX sh). Sourced,
# never run: `. "$top_srcdir/tests/mcp-lib.sh"`.
#
# The sourcing script sets $cap (seconds every bounded wait may take; each script
# has its own knob), calls mcp_tmpdir NAME (makes $tmp, installs the cleanup trap),
# and may set $logs, $log_lines, $verbose and redefine these hooks:
#   fail_detail  called after each "not ok" line, to show what went wrong
#   show_logs    called by the cleanup trap; the default shows the last $log_lines
#                lines of $tmp/T.log for each T in $logs (every launched TAG when
#                $logs is empty) when a check failed or $verbose is not empty
# Test points: check/ok/not_ok/skip count in $n and set $failed; mcp_finish prints
# the plan and exits 0 or 1.
# Processes: launch starts one in a subshell that records its pid in $tmp/TAG.pid
# and, once it has exited, its status in $tmp/TAG.rc (kill -0 cannot tell: a zombie
# answers it). The cleanup trap stops every one still running: TERM, a bounded wait,
# then KILL.
# shellcheck shell=sh disable=SC2034,SC2317 # variables and hooks the scripts use

: "${cap:=10}"   # seconds each bounded wait may take; the scripts set it
failed=0
n=0
tags=''
pids=''
logs=''
log_lines=40
verbose=''

# ---- prologue: what must be there before anything runs ----------------------------
# need_built FILE...: exit 77 (SKIP) naming the first FILE that is not executable.
need_built() {
    for f in "$@"; do
        if [ ! -x "$f" ]; then
            echo "SKIP: $f is not built"
            exit 77
        fi
    done
}
# need_cmd CMD: exit 77 (SKIP) when the command CMD is not installed.
need_cmd() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "SKIP: the $1 command is not installed"
    exit 77
}
# need_node WHAT: an npm package is missing. SKIP (77), unless RESIL_REQUIRE_NODE=1
# (CI), when the test fails.
need_node() {
    if [ "${RESIL_REQUIRE_NODE:-0}" = 1 ]; then
        echo "FAIL: $1 (RESIL_REQUIRE_NODE=1; run: npm ci --prefix tests/node --no-audit --no-fund)"
        exit 1
    fi
    echo "SKIP: $1 (run: npm ci --prefix tests/node --no-audit --no-fund)"
    exit 77
}
# mcp_tmpdir NAME: makes $tmp and installs the cleanup trap.
mcp_tmpdir() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
    trap mcp_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

# ---- test points ----------------------------------------------------------------------
fail_detail() { :; }
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$1"; }
skip() { n=$((n + 1)); printf 'ok %d - %s # SKIP %s\n' "$n" "$1" "$2"; }
not_ok() {
    n=$((n + 1))
    printf 'not ok %d - %s\n' "$n" "$1"
    failed=1
    fail_detail
}
# check DESCRIPTION COMMAND...: one test point, passing when COMMAND succeeds.
check() {
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# mcp_finish: the plan line and the exit status (0 all passed, 1 a check failed).
mcp_finish() {
    echo "1..$n"
    exit "$failed"
}
is_port() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# ---- bounded waits, polling for an event --------------------------------------------------
# wait_file FILE [TAG]: until FILE is non-empty; fails at once when process TAG exits.
wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 20)) ] && return 1
        [ -n "${2:-}" ] && [ -e "$tmp/$2.rc" ] && return 1
        sleep 0.05
    done
}
# wait_grep FILE RE: until FILE has a line matching the basic regular expression RE.
wait_grep() {
    i=0
    while ! grep -q -e "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 20)) ] && return 1
        sleep 0.05
    done
}
# wait_rc TAG: until process TAG has exited.
wait_rc() { wait_file "$tmp/$1.rc"; }
# exited TAG STATUS: process TAG exits (within the cap) with STATUS.
exited() { wait_rc "$1" && [ "$(cat "$tmp/$1.rc")" = "$2" ]; }
running() { [ -s "$tmp/$1.pid" ] && [ ! -e "$tmp/$1.rc" ]; }
pid_of() { cat "$tmp/$1.pid" 2>/dev/null; }

# ---- processes ------------------------------------------------------------------------------
# launch TAG STDIN CMD...: starts CMD in the background, stdin from STDIN, stdout to
# $tmp/TAG.out, stderr to $tmp/TAG.log. Descriptors 3, 4 and 9 (the fifos the
# scripts hold open) are closed in it so that only the script holds them.
launch() {
    t=$1 in=$2
    shift 2
    tags="$tags $t"
    rm -f "$tmp/$t.pid" "$tmp/$t.rc" "$tmp/$t.port"
    (
        "$@" <"$in" >"$tmp/$t.out" 2>"$tmp/$t.log" &
        echo $! >"$tmp/$t.pid"
        wait $!
        echo $? >"$tmp/$t.rc"
    ) 3>&- 4>&- 9>&- &
    # The pid file is written by the subshell: wait for it so that a signal sent at
    # once reaches the process.
    wait_file "$tmp/$t.pid"
}
# launch_http TAG STDIN CMD...: launch with MCP_PORT_FILE=$tmp/TAG.port and
# --http 127.0.0.1:0 appended. CMD may begin with a wrapper or `env VAR=...`. Then
# wait_port TAG (after opening the fifo STDIN, when it is one).
launch_http() {
    t=$1 in=$2
    shift 2
    launch "$t" "$in" env MCP_PORT_FILE="$tmp/$t.port" "$@" --http 127.0.0.1:0
}
# wait_port TAG: waits for the port file of TAG (bounded, failing at once if TAG
# exits) and sets $port; fails unless it holds a port number.
wait_port() {
    port=''
    wait_file "$tmp/$1.port" "$1" || return 1
    port=$(cat "$tmp/$1.port")
    is_port "$port"
}
# stop TAG [SIGNAL]: sends SIGNAL (TERM) to TAG, waits for it to exit; KILL after the cap.
stop() {
    running "$1" || return 0
    kill -"${2:-TERM}" "$(pid_of "$1")" 2>/dev/null
    wait_rc "$1" || kill -9 "$(pid_of "$1")" 2>/dev/null
}
# start_fake [OPTIONS...]: the fake upstream (tests/fake_upstream/fake-upstream, or
# $fake_bin) on a free port, its stdin a fifo held open on descriptor 9, so that it exits
# when this script does (or at stop_fake). Sets $fport and $up (its base URL); fails
# when it did not start. FAKE_UPSTREAM_WRAPPER runs it under a tool.
start_fake() {
    mkfifo "$tmp/fake.in" || exit 1
    # shellcheck disable=SC2086 # the wrapper is a command line
    launch fake "$tmp/fake.in" ${FAKE_UPSTREAM_WRAPPER:-} \
        "${fake_bin:-$top_builddir/tests/fake_upstream/fake-upstream}" \
        --port 0 --port-file "$tmp/fake.port" --exit-on-stdin-eof "$@"
    exec 9>"$tmp/fake.in"
    fport=''
    wait_file "$tmp/fake.port" fake || return 1
    fport=$(cat "$tmp/fake.port")
    up=http://127.0.0.1:$fport
    is_port "$fport"
}
# stop_fake: closes the fake upstream's stdin; it then exits on its own.
stop_fake() { exec 9>&-; }

# track PID: a process started with & by the script itself, stopped by the cleanup.
track() { pids="$pids $1"; }

# ---- cleanup ----------------------------------------------------------------------------------
show_logs() {
    [ "$failed" != 0 ] || [ -n "$verbose" ] || return 0
    for t in ${logs:-$tags}; do
        [ -s "$tmp/$t.log" ] || continue
        echo "# $t log (last $log_lines lines):"
        tail -n "$log_lines" "$tmp/$t.log" | sed 's/^/#   /'
    done
}
# The EXIT trap: closes the fifos, stops every process still running (TERM to all,
# then a bounded wait for each, then KILL), shows the logs, removes $tmp.
mcp_cleanup() {
    exec 3>&- 4>&- 9>&-
    for p in $pids; do kill "$p" 2>/dev/null; done
    for t in $tags; do
        running "$t" && kill "$(pid_of "$t")" 2>/dev/null
    done
    for t in $tags; do
        wait_rc "$t" || kill -9 "$(pid_of "$t")" 2>/dev/null
    done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ "$i" -lt $((cap * 20)) ]; do
            i=$((i + 1))
            sleep 0.05
        done
        kill -9 "$p" 2>/dev/null
    done
    show_logs
    rm -rf "$tmp"
}
