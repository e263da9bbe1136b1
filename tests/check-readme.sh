#!/bin/sh
# The README's C example compiles without warnings and runs.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${CC:=cc}"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ {on=1; next} /^```$/ {on=0} on' "$top_srcdir/README.md" >"$tmp/readme.c"
[ -s "$tmp/readme.c" ] || { echo "check-readme: no \`\`\`c block in README.md"; exit 1; }
"$top_builddir/libtool" --quiet --mode=link $CC -std=c11 -Wall -Wextra -Werror \
    -I"$top_srcdir/include" -o "$tmp/readme" "$tmp/readme.c" \
    "$top_builddir/lib/libresil.la" || { echo "check-readme: example does not compile"; exit 1; }
out=$(timeout 20 "$tmp/readme") || { echo "check-readme: example exited non-zero"; exit 1; }
echo "$out"
# The example's point: the breaker ends up failing fast.
echo "$out" | grep -q "circuit breaker is open" ||
    { echo "check-readme: expected the breaker to open"; exit 1; }
