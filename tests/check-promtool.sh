#!/bin/sh
# promtool (Prometheus' own linter and parser) accepts the Prometheus text
# that tests/metrics_dump prints: every kind of metric, label values and
# help text that need escaping, UTF-8, an overflowing family, watchers.
#
# Environment (from Makefile.am): top_builddir.  Exit 0 pass, 1 fail, 77
# skip (only when promtool is not installed: apt-get install prometheus).
set -u
: "${top_builddir:=.}"

if ! command -v promtool >/dev/null 2>&1; then
    echo "SKIP: promtool not found (Debian: apt-get install prometheus)"
    exit 77
fi
dump=$top_builddir/tests/metrics_dump
[ -x "$dump" ] || { echo "FAIL: $dump not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-promtool.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

if ! "$dump" prometheus >"$tmp/metrics.txt"; then
    echo "FAIL: metrics_dump prometheus exited with status $?"
    exit 1
fi
[ -s "$tmp/metrics.txt" ] || { echo "FAIL: metrics_dump printed nothing"; exit 1; }
# promtool prints lint findings and exits nonzero on any problem; "check
# metrics" reads the exposition from stdin.
if ! promtool check metrics <"$tmp/metrics.txt" >"$tmp/out" 2>&1; then
    echo "FAIL: promtool check metrics:"
    sed 's/^/# /' "$tmp/out"
    exit 1
fi
echo "check-promtool: $(grep -c '^# TYPE' "$tmp/metrics.txt") families, promtool finds no problem"
exit 0
