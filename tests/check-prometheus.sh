#!/bin/sh
# A real Prometheus server scrapes tests/metrics_dump's exposition, as
# Prometheus text and as OpenMetrics, and its query API returns the values
# that went in: a counter, escaped label values, a gauge, histogram buckets
# and histogram_quantile() over them, help text (tests/prometheus/check.py).
#
# Everything runs on 127.0.0.1 on ports picked at run time (never 9090, never
# the distribution's Prometheus service), in a temporary directory, and is
# killed on exit.  Environment (from Makefile.am): top_srcdir, top_builddir.
# Exit 0 pass, 1 fail, 77 skip (no prometheus or python3).
set -u
: "${top_srcdir:=$(dirname "$0")/..}" "${top_builddir:=.}"
here=$top_srcdir/tests/prometheus
PY=${PYTHON3:-/usr/bin/python3}

command -v prometheus >/dev/null 2>&1 ||
    { echo "SKIP: prometheus not found (Debian: apt-get install prometheus)"; exit 77; }
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
dump=$top_builddir/tests/metrics_dump
[ -x "$dump" ] || { echo "FAIL: $dump not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-prometheus.XXXXXX") || exit 1
pids=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
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

"$dump" prometheus >"$tmp/metrics.prom" || { echo "FAIL: metrics_dump prometheus"; exit 1; }
"$dump" openmetrics >"$tmp/metrics.om" || { echo "FAIL: metrics_dump openmetrics"; exit 1; }

# The metrics server picks its own port and reports it.
"$PY" "$here/serve.py" "$tmp" "$tmp/serve.port" 2>"$tmp/serve.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/serve.port" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "FAIL: the metrics server did not start:"
        sed 's/^/# /' "$tmp/serve.log"
        exit 1
    fi
    sleep 0.1
done
target=127.0.0.1:$(cat "$tmp/serve.port")

# Prometheus needs its port up front: ask the kernel for a free one.
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    { echo "FAIL: no free port"; exit 1; }
sed "s/@TARGET@/$target/" "$here/prometheus.yml.in" >"$tmp/prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
prom=$!
pids="$pids $prom"

if "$PY" "$here/check.py" "http://127.0.0.1:$port" "$prom"; then
    exit 0
fi
echo "# prometheus log:"
tail -n 20 "$tmp/prometheus.log" | sed 's/^/# /'
exit 1
