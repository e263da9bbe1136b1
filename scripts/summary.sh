#!/bin/sh
# Count individual tests in a build dir after make check: each Check suite
# contributes its checks ("N%: Checks: C, Failures: F, Errors: E"), each
# other test one.  A suite that died before printing counts as one failure.
# Prints "N passed, N failed" and, with -q, only "P F".
set -u
quiet=0
[ "${1:-}" = "-q" ] && { quiet=1; shift; }
dir=${1:-.}
pass=0
fail=0
for trs in $(find "$dir/tests" -name '*.trs' 2>/dev/null | sort); do
    log=${trs%.trs}.log
    res=$(sed -n 's/^:test-result: //p' "$trs")
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
        set -- $(echo "$line" | sed 's/[^0-9 ]//g')
        c=$2 f=$3 e=$4
        pass=$((pass + c - f - e))
        fail=$((fail + f + e))
        [ "$res" != PASS ] && [ $((f + e)) -eq 0 ] && fail=$((fail + 1))
    else
        case "$res" in
        PASS) pass=$((pass + 1)) ;;
        SKIP) ;;
        *) fail=$((fail + 1)) ;;
        esac
    fi
done
if [ $quiet -eq 1 ]; then echo "$pass $fail"; else echo "$pass passed, $fail failed"; fi
