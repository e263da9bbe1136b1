#!/bin/sh
# Run bench_data (metrics, and the cache when bench/bench_cache.inc is
# built in), then the Node.js peers on the same operations -- prom-client
# (bench/node/bench_data.js) and lru-cache (bench/node/bench_cache.js) --
# and print both side by side with the ratio peer / libresil.
# `make bench` runs:  bench/run_data.sh bench/bench_data
#
#   bench/run_data.sh path/to/bench_data [--quick]
#
# The peers need node and their packages in bench/node/node_modules; when
# one is missing `npm ci` installs the versions pinned in package-lock.json
# (network needed once).  A peer whose package is still missing is skipped.
# Every step has a time limit.
set -u

data=${1:?usage: run_data.sh path/to/bench_data [--quick]}
shift
. "$(dirname "$0")/lib.sh"

run_c bench_data 240 "$data" "$@"

# has_pkg NAME: the package resolves from bench/node
has_pkg() {
    (cd "$nodedir" && node -e "require.resolve('$1')") >/dev/null 2>&1
}

: >"$tmp/peers.out"
echo
if ! command -v node >/dev/null 2>&1; then
    echo "== peers skipped: node not found"
else
    if { ! has_pkg prom-client || ! has_pkg lru-cache; } && [ -f "$nodedir/package-lock.json" ]; then
        echo "== installing the peers: npm ci --prefix $nodedir"
        limit 60 npm ci --prefix "$nodedir" --no-audit --no-fund >"$tmp/npm.log" 2>&1 ||
            tail -n 5 "$tmp/npm.log"
    fi
    for peer in prom-client:bench_data.js lru-cache:bench_cache.js; do
        pkg=${peer%%:*}
        script=$nodedir/${peer#*:}
        [ -f "$script" ] || continue
        if ! has_pkg "$pkg"; then
            echo "== peer skipped: $pkg is not installed in $nodedir"
            continue
        fi
        echo "== peer: $pkg (Node.js $(node --version))"
        {
            limit 120 node "$script" "$@"
            echo $? >"$tmp/peer.rc"
        } | tee -a "$tmp/peers.out"
        [ "$(cat "$tmp/peer.rc")" = 0 ] || echo "run_data.sh: ${script##*/} failed" >&2
    done
fi
grep -q '^RESULT ' "$tmp/peers.out" || exit 0

# ---- side by side: libresil on 1 thread against each peer ------------------
echo
echo "== comparison (1 thread; see bench/README.md for what each row measures)"
awk '
FNR == 1 { file++ }
$1 == "RESULT" && $3 == 1 { ns[$2] = $4; if (file == 1) lib[++nlib] = $2 }
$1 == "RATIO" { ratio[$2 " " $3] = $4; if (!($2 in seen)) { seen[$2] = 1; trace[++nt] = $2 } }
function row(what, l, peer, label,    r) {
    if (!(l in ns) || !(peer in ns)) return
    if (ns[l] < 0.5) r = sprintf(">%.0fx", ns[peer] / 0.5)
    else if (ns[peer] / ns[l] < 10) r = sprintf("%.1fx", ns[peer] / ns[l])
    else r = sprintf("%.0fx", ns[peer] / ns[l])
    printf "%-30s %11.1f  %-38s %11.1f %8s\n", what, ns[l], label, ns[peer], r
}
END {
    printf "%-30s %11s  %-38s %11s %8s\n", "operation", "libresil", "peer", "peer ns", "peer/lib"
    row("counter add", "metrics_counter_add", "prom_counter_inc", "prom-client counter.inc()")
    row("counter add, cached labels", "metrics_counter_add", "prom_counter_inc_child",
        "prom-client labels() child .inc()")
    row("label lookup", "metrics_counter_get", "prom_counter_inc_lookup",
        "prom-client inc(labels) (lookup + inc)")
    row("histogram record", "metrics_histogram_record", "prom_histogram_observe",
        "prom-client histogram.observe()")
    row("gauge set", "metrics_gauge_set", "prom_gauge_set", "prom-client gauge.set()")
    row("export, 100 series", "metrics_export_prom_100", "prom_export_100",
        "prom-client registry.metrics()")
    # cache rows pair by name: cache_<x> against lru-cache_<x>
    for (i = 1; i <= nlib; i++) {
        n = lib[i]
        if (n !~ /^cache_/) continue
        p = "lru-cache_" substr(n, 7)
        row(n, n, p, "lru-cache " substr(n, 7))
    }
    if (nt) {
        printf "\n%-12s %s\n", "hit ratio", "policy: ratio"
        for (i = 1; i <= nt; i++) {
            line = ""
            for (k in ratio) {
                split(k, a, " ")
                if (a[1] == trace[i]) line = line sprintf("  %s %s", a[2], ratio[k])
            }
            printf "%-12s%s\n", trace[i], line
        }
    }
}' "$tmp/bench_data.out" "$tmp/peers.out"
