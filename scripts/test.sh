#!/bin/sh
# Set everything up and run every test (make check: unit suites, threaded
# suites, exported symbols, man pages, examples against the installed
# library).  Ends with one line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" || exit 1
"$top/scripts/build.sh" "$top/build" || exit 1
cd "$top/build" || exit 1
# The MCP client tests (official SDK, Inspector, conformance suite) fail
# rather than skip when their npm packages are missing.
RESIL_REQUIRE_NODE=1
export RESIL_REQUIRE_NODE
make -s -j"$(nproc)" check >/dev/null 2>&1
rc=$?
"$top/scripts/summary.sh" "$top/build"
[ $rc -eq 0 ] || grep -h -B2 -A30 -E '^(FAIL|ERROR)' test-suite.log 2>/dev/null | head -150
exit $rc
