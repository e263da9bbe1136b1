#!/bin/sh
# Run libresil's benchmarks, then the Node.js peers (opossum, cockatiel) on
# the same operations, and print both side by side with the ratio
# peer / libresil.  `make bench` runs:  bench/run.sh bench/bench_core
#
#   bench/run.sh path/to/bench_core [--quick]
#
# The peers need node and their packages in bench/node/node_modules; when
# those are missing `npm ci` installs the versions pinned in
# package-lock.json (network needed once).  Without node the peers are
# skipped.  Every step has a time limit, so the whole run stays under 2 min.
set -u

core=${1:?usage: run.sh path/to/bench_core [--quick]}
shift
. "$(dirname "$0")/lib.sh"

run_c bench_core 65 "$core" "$@"

peers=no
echo
if ! command -v node >/dev/null 2>&1; then
    echo "== peers skipped: node not found"
elif [ ! -d "$nodedir/node_modules" ] &&
    echo "== installing the peers: npm ci --prefix $nodedir" &&
    ! limit 15 npm ci --prefix "$nodedir" --no-audit --no-fund >"$tmp/npm.log" 2>&1; then
    echo "== peers skipped: npm ci --prefix $nodedir failed:"
    tail -n 5 "$tmp/npm.log"
else
    echo "== peers (Node.js $(node --version))"
    {
        limit 35 node "$nodedir/bench.js" "$@"
        echo $? >"$tmp/node.rc"
    } | tee "$tmp/node.out"
    if [ "$(cat "$tmp/node.rc")" = 0 ] && grep -q '^RESULT ' "$tmp/node.out"; then
        peers=yes
    else
        echo "run.sh: the peer benchmark failed; comparison skipped" >&2
    fi
fi
[ $peers = yes ] || exit 0

# ---- side by side: libresil on 1 thread against each peer ------------------
echo
echo "== comparison (1 thread; the peers are async JavaScript: see bench/README.md)"
awk '
FNR == 1 { file++ }
$1 == "RESULT" && $3 == 1 { ns[$2] = $4 }
function row(what, lib, peer, label,    r) {
    if (!(lib in ns)) return
    if (!(peer in ns)) {
        printf "%-28s %10.1f  %-36s %10s %9s\n", what, ns[lib], label, "n/a", "-"
        return
    }
    # an overhead can measure as ~0 (or below, within noise): bound the ratio
    if (ns[lib] < 0.5) r = sprintf(">%.0fx", ns[peer] / 0.5)
    else if (ns[peer] / ns[lib] < 10) r = sprintf("%.1fx", ns[peer] / ns[lib])
    else r = sprintf("%.0fx", ns[peer] / ns[lib])
    printf "%-28s %10.1f  %-36s %10.1f %9s\n", what, ns[lib], label, ns[peer], r
}
END {
    printf "%-28s %10s  %-36s %10s %9s\n", "operation", "libresil", "peer", "peer ns", "peer/lib"
    row("breaker pass, closed", "breaker_closed_count", "opossum_closed", "opossum fire()")
    row("breaker pass, closed", "breaker_closed_count", "opossum_closed_notimeout",
        "opossum fire(), timeout:false")
    row("breaker pass, closed", "breaker_closed_count", "cockatiel_closed",
        "cockatiel execute()")
    row("breaker reject, open", "breaker_open_mono", "opossum_open", "opossum fire()")
    row("breaker reject, open", "breaker_open_mono", "cockatiel_open", "cockatiel execute()")
    row("retry overhead, 1st try ok", "retry_overhead", "cockatiel_retry_overhead",
        "cockatiel retry execute()")
    row("limiter try_acquire", "limiter_mono", "none", "(no limiter in opossum/cockatiel)")
}' "$tmp/bench_core.out" "$tmp/node.out"
