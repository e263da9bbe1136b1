# Shared by bench/run.sh and bench/run_data.sh (sourced, POSIX sh).
# Sets $tmp (removed on exit) and $nodedir; defines limit and run_c.
here=$(cd "$(dirname "$0")" && pwd)
nodedir=$here/node
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

limit() { # limit SECONDS command...: run with a time limit where possible
    secs=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout "$secs" "$@"
    else
        "$@"
    fi
}

# run_c NAME SECONDS BINARY ARGS...: run a C benchmark, show its output and
# keep it in $tmp/NAME.out; exit if it fails or prints no RESULT row.  (A
# plain pipe would hide the program's exit status behind tee's.)
run_c() {
    name=$1 secs=$2
    shift 2
    echo "== libresil ($name) on $(uname -m), $(nproc 2>/dev/null || echo '?') CPUs"
    {
        limit "$secs" "$@"
        echo $? >"$tmp/$name.rc"
    } | tee "$tmp/$name.out"
    if [ "$(cat "$tmp/$name.rc")" != 0 ] || ! grep -q '^RESULT ' "$tmp/$name.out"; then
        echo "$0: $name failed (status $(cat "$tmp/$name.rc"))" >&2
        exit 1
    fi
}
