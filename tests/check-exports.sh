#!/bin/sh
# The shared library exports exactly the committed list in tests/exports.txt
# (jansson's check-exports, curl's libcurl.vers), that list is exactly the
# RESIL_API functions of the public headers, and the static archive defines
# no global symbol outside the resil_ namespace.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
so="$top_builddir/lib/.libs/libresil.so"
ar="$top_builddir/lib/.libs/libresil.a"
[ -f "$so" ] || { echo "check-exports: $so not built"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u >"$tmp/exported"
if ! diff -u "$top_srcdir/tests/exports.txt" "$tmp/exported"; then
    echo "check-exports: libresil.so exports differ from tests/exports.txt (diff above: - committed, + built)"
    fail=1
fi

# Every RESIL_API declaration names one function; prototypes may span lines.
cat "$top_srcdir"/include/resil/*.h | tr '\n' ' ' | tr ';' '\n' |
    sed -n 's/.*RESIL_API[^(]*[ *]\(resil_[a-z0-9_]*\) *(.*/\1/p' | sort -u >"$tmp/declared"
if ! diff -u "$top_srcdir/tests/exports.txt" "$tmp/declared"; then
    echo "check-exports: tests/exports.txt differs from the RESIL_API functions in include/resil/ (- list, + headers)"
    fail=1
fi

if [ -f "$ar" ]; then
    nm -g --defined-only "$ar" | awk 'NF==3 {print $3}' | grep -v '^resil_' >"$tmp/foreign"
    if [ -s "$tmp/foreign" ]; then
        echo "check-exports: libresil.a defines globals outside resil_*:"
        cat "$tmp/foreign"
        fail=1
    fi
fi
[ $fail -eq 0 ] && echo "check-exports: $(wc -l <"$tmp/exported") symbols, as committed"
exit $fail
