#!/bin/sh
# check-man.sh: the man pages are part of the API, so test them like code.
#
# For every page under $top_srcdir/man:
#   (a) `man --warnings` and `groff -ww` format it without a single warning;
#   (b) the required sections are there, once each, in order, and .TH names
#       the page and its section (section 1: NAME, SYNOPSIS, DESCRIPTION,
#       EXIT STATUS, SEE ALSO);
#   (c) every function declared RESIL_API in include/resil/*.h has a page
#       man/man3/<name>.3 whose NAME line lists it and whose SYNOPSIS includes
#       the right header and carries the prototype exactly as declared; no
#       page documents a function that does not exist; SEE ALSO references
#       to resil_*(3) pages resolve, and libresil(7) refers to every page;
#   (d) the EXAMPLE program compiles with -std=c11 -Wall -Wextra -Werror
#       against the built (not installed) library and exits 0 within 10 s
#       (not for section 1: its EXAMPLES are shell sessions).
#
# Run by `make check` with top_srcdir, top_builddir, CC and MAKE exported and
# the build directory as cwd.  Exit 0 pass, 1 fail, 77 skip (no groff, which
# man(1) needs too).
# One "FAIL: page: reason" line per failure; lines starting with "# " carry
# detail (compiler output) for the line above them.

LC_ALL=C
export LC_ALL
MANWIDTH=80
export MANWIDTH

: "${top_srcdir:=$(dirname "$0")/..}"
: "${top_builddir:=.}"
: "${CC:=cc}"

# --- tools ------------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }

# man(1) formats with groff, so without groff nothing can be checked.
if ! have groff; then
    echo "SKIP: groff(1) is not installed, so no page can be formatted (apt-get install groff-base man-db)"
    exit 77
fi
have man || echo "note: man(1) not found, linting with groff alone"
TIMEOUT=
if have timeout; then
    TIMEOUT="timeout 10"
else
    echo "note: timeout(1) not found, examples run without a time limit"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-man.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

failures=0
checks=0
fail() {
    failures=$((failures + 1))
    echo "FAIL: $1: $2"
}
# Up to 10 lines of a file as detail under the last FAIL line.
detail() {
    sed -n '1,10s/^/# /p' "$1"
}

# Flags of this build (e.g. sanitizers) so the examples link against it.
make_var() {
    sed -n "s/^$1 = //p" "$top_builddir/Makefile" 2>/dev/null | head -n 1
}
EX_CFLAGS=$(make_var CFLAGS)
EX_LDFLAGS=$(make_var LDFLAGS)

# --- the API: name, header and prototype of every RESIL_API function -------
# Comments and preprocessor lines go first (common.h defines RESIL_API
# itself); then declarations split at ';' and the ones carrying RESIL_API are
# the functions.  Prototypes keep no whitespace so line breaks do not matter.
awk '
function flush(   text, n, i, decl, name, proto, lines, out, k, cont) {
    text = buf
    # strip /* */ and // comments
    out = ""
    while ((i = index(text, "/*")) > 0) {
        out = out substr(text, 1, i - 1)
        text = substr(text, i + 2)
        k = index(text, "*/")
        text = (k > 0) ? substr(text, k + 2) : ""
    }
    text = out text
    n = split(text, lines, "\n")
    out = ""
    cont = 0
    for (i = 1; i <= n; i++) {
        sub(/\/\/.*/, "", lines[i])
        if (cont || lines[i] ~ /^[ \t]*#/) {
            cont = (lines[i] ~ /\\$/)
            continue
        }
        out = out " " lines[i]
    }
    n = split(out, lines, ";")
    for (i = 1; i <= n; i++) {
        decl = lines[i]
        k = index(decl, "RESIL_API")
        if (k == 0)
            continue
        decl = substr(decl, k + length("RESIL_API"))
        if (!match(decl, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/))
            continue
        name = substr(decl, RSTART, RLENGTH)
        sub(/[ \t]*\($/, "", name)
        proto = decl ";"
        gsub(/[ \t\n]+/, "", proto)
        hdr = file
        sub(/.*\/include\//, "", hdr)
        print name "\t" hdr "\t" proto
    }
    buf = ""
}
FNR == 1 && NR > 1 { flush() }
{ file = FILENAME; buf = buf $0 "\n" }
END { flush() }
' "$top_srcdir"/include/resil/*.h | sort > "$work/api.tsv"

if [ ! -s "$work/api.tsv" ]; then
    echo "FAIL: include/resil: no RESIL_API function found"
    echo "check-man: 1 failure"
    exit 1
fi

# --- roff helpers -------------------------------------------------------------
# UNROFF: the text of roff input lines, escapes resolved the way the
# pages use them (\e \- \& \(aq \(dq ...; font changes dropped).  Used
# as the first part of the awk programs below.
UNROFF='
function unroff(s,   out, c, d, nm, i, n) {
    out = ""
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c != "\\") { out = out c; continue }
        i++
        d = substr(s, i, 1)
        if (d == "e" || d == "\\") out = out "\\"
        else if (d == "-") out = out "-"
        else if (d == "&" || d == "%" || d == "|" || d == "^" || d == ":") ;
        else if (d == " " || d == "~") out = out " "
        else if (d == "(" || d == "[") {
            if (d == "(") { nm = substr(s, i + 1, 2); i += 2 }
            else { nm = substr(s, i + 1); sub(/\].*/, "", nm); i += length(nm) + 1 }
            if (nm == "aq") out = out "'"'"'"
            else if (nm == "dq") out = out "\""
            else if (nm == "ga") out = out "`"
            else if (nm == "ti") out = out "~"
            else if (nm == "ha") out = out "^"
            else if (nm == "rs") out = out "\\"
            else if (nm == "em" || nm == "en" || nm == "mi" || nm == "hy") out = out "-"
            else out = out "?"
        } else if (d == "f") {
            i++
            d = substr(s, i, 1)
            if (d == "(") i += 2
            else if (d == "[") { nm = substr(s, i + 1); sub(/\].*/, "", nm); i += length(nm) + 1 }
        } else if (d == "\"") {
            break
        } else out = out d
    }
    return out
}
'

# Sections of a page: "line<TAB>name" per .SH.
sections() {
    awk '/^\.SH/ { s = $0; sub(/^\.SH[ \t]*/, "", s); gsub(/"/, "", s); print NR "\t" s }' "$1"
}

# Lines of section $2 of page $1, from after its .SH to before the next .SH.
section_body() {
    awk -v want="$2" '
        /^\.SH/ { s = $0; sub(/^\.SH[ \t]*/, "", s); gsub(/"/, "", s); on = (s == want); next }
        on' "$1"
}

# Roff text of the lines on stdin: control lines dropped, escapes resolved.
text_of() {
    awk "$UNROFF"'/^[.'"'"']/ { next } { print unroff($0) }'
}

# Text of the lines on stdin with font macros kept as text: ".BR a (3)," gives
# "a (3),"; quotes dropped.  For cross-references.
macro_text() {
    awk "$UNROFF"'{ s = $0; sub(/^\.[A-Z]+[ \t]*/, "", s); print unroff(s) }' | tr -d '"'
}

# The EXAMPLE section as C: the lines of its .EX/.EE or .nf/.fi blocks, or,
# if there are none, every text line of it.
example_of() {
    section_body "$1" EXAMPLE | awk "$UNROFF"'
        /^\.(EX|nf)([ \t]|$)/ { inblk = 1; blocks = 1; next }
        /^\.(EE|fi)([ \t]|$)/ { inblk = 0; next }
        /^[.'"'"']/ { next }
        { line[++n] = unroff($0); blk[n] = inblk }
        END { for (i = 1; i <= n; i++) if (!blocks || blk[i]) print line[i] }'
}

# --- (a) formatting ---------------------------------------------------------
lint() {
    page=$1 rel=$2
    checks=$((checks + 1))
    if have man; then
        man --warnings -E UTF-8 -l -Tutf8 "$page" >/dev/null 2>"$work/lint.err" ||
            echo "man exited with status $?" >>"$work/lint.err"
        if [ -s "$work/lint.err" ]; then
            fail "$rel" "man --warnings reports: $(head -n 1 "$work/lint.err")"
            detail "$work/lint.err"
        fi
    fi
    # -ww: every warning, more than man --warnings asks for
    groff -man -ww -z -Tutf8 -k "$page" 2>"$work/lint.err" ||
        echo "groff exited with status $?" >>"$work/lint.err"
    if [ -s "$work/lint.err" ]; then
        fail "$rel" "groff -ww reports: $(head -n 1 "$work/lint.err")"
        detail "$work/lint.err"
    fi
}

# --- (b) layout -------------------------------------------------------------
# Each required section exactly once and in this order; others may sit in
# between.
check_layout() {
    page=$1 rel=$2 name=$3 sec=$4 required=$5
    checks=$((checks + 1))
    th=$(awk '/^\.TH/ { print; exit }' "$page")
    set -f
    # shellcheck disable=SC2086 # split .TH into its arguments
    set -- $th
    set +f
    if [ "$2" != "$name" ] || [ "$3" != "$sec" ]; then
        fail "$rel" ".TH names '$2' section '$3', want '$name' section '$sec'"
    fi
    case $th in
    *'"libresil Manual"'*) ;;
    *) fail "$rel" ".TH does not name the manual \"libresil Manual\"" ;;
    esac
    sections "$page" | cut -f 2 > "$work/sections"
    echo "$required" | tr '|' '\n' > "$work/required"
    counts_ok=yes
    while read -r s; do
        c=$(grep -cxF "$s" "$work/sections")
        if [ "$c" -ne 1 ]; then
            fail "$rel" "section '$s' appears $c times, want once"
            counts_ok=no
        fi
    done < "$work/required"
    [ "$counts_ok" = yes ] || return
    order=$(grep -xF -f "$work/required" "$work/sections" | tr '\n' '|')
    [ "$order" = "$required|" ] ||
        fail "$rel" "sections out of order: ${order%|}; want $required"
}

# --- (c) the page matches the API ------------------------------------------
check_api_page() {
    page=$1 rel=$2 name=$3
    checks=$((checks + 1))
    api=$(awk -F '\t' -v n="$name" '$1 == n' "$work/api.tsv")
    if [ -z "$api" ]; then
        fail "$rel" "documents $name, which no header declares RESIL_API"
        return
    fi
    hdr=$(printf '%s\n' "$api" | cut -f 2)
    proto=$(printf '%s\n' "$api" | cut -f 3)
    # NAME: "a, b \- what they do"; every name listed must exist.
    names=$(section_body "$page" NAME | text_of | tr '\n' ' ' | sed 's/ - .*//; s/,/ /g')
    listed=no
    for n in $names; do
        [ "$n" = "$name" ] && listed=yes
        awk -F '\t' -v n="$n" '$1 == n { f = 1 } END { exit !f }' "$work/api.tsv" ||
            fail "$rel" "NAME lists $n, which no header declares RESIL_API"
    done
    [ "$listed" = yes ] || fail "$rel" "NAME line does not list $name"
    syn=$(section_body "$page" SYNOPSIS | text_of)
    printf '%s\n' "$syn" | grep -qF "#include <$hdr>" ||
        fail "$rel" "SYNOPSIS does not #include <$hdr>"
    printf '%s\n' "$syn" | tr -d ' \t\n' | grep -qF -- "$proto" ||
        fail "$rel" "SYNOPSIS prototype differs from $hdr: $proto"
}

# SEE ALSO: resil_*(3) references must have pages; section 3 pages point
# back at libresil(7).
check_see_also() {
    page=$1 rel=$2 sec=$3
    checks=$((checks + 1))
    section_body "$page" "SEE ALSO" | macro_text > "$work/see"
    refs=$(awk '{ while (match($0, /resil_[a-z0-9_]+ *\(3\)/)) {
            r = substr($0, RSTART, RLENGTH); sub(/ *\(3\)$/, "", r); print r
            $0 = substr($0, RSTART + RLENGTH) } }' "$work/see")
    for ref in $refs; do
        [ -f "$top_srcdir/man/man3/$ref.3" ] ||
            fail "$rel" "SEE ALSO refers to $ref(3), which has no page"
    done
    if [ "$sec" = 3 ] && ! grep -q 'libresil *(7)' "$work/see"; then
        fail "$rel" "SEE ALSO does not refer to libresil(7)"
    fi
}

# --- (d) the example compiles and runs -------------------------------------
# Compile and link $1.c into $1 against the uninstalled library, the way
# `libtool --mode=link` does.  -no-install makes a real executable (rpath
# into the build tree) instead of a wrapper script.
libtool_link() {
    # shellcheck disable=SC2086 # the flag lists are meant to split
    "$top_builddir/libtool" --quiet --tag=CC --mode=link $CC -std=c11 -no-install \
        -Wall -Wextra -Werror -I"$top_srcdir/include" $EX_CFLAGS $EX_LDFLAGS \
        -o "$1" "$1.c" "$top_builddir/lib/libresil.la"
}

# libtool is a large shell script: running it per page costs about a second
# of CPU, most of the test's time.  So ask it once (--dry-run) for the
# command it runs to link a probe program, and run that command with each
# example's names in place of the probe's.  If its answer is not the one
# command expected, every example goes through libtool itself.
LINK_CMD=
probe=$work/probe/resil_example_probe
mkdir -p "$work/probe"
: > "$probe.c"
# shellcheck disable=SC2086
LINK_CMD=$("$top_builddir/libtool" --dry-run --tag=CC --mode=link $CC -std=c11 -no-install \
    -Wall -Wextra -Werror -I"$top_srcdir/include" $EX_CFLAGS $EX_LDFLAGS \
    -o "$probe" "$probe.c" "$top_builddir/lib/libresil.la" 2>/dev/null |
    sed -n 's/^libtool: link: //p')
case $LINK_CMD in
*"
"*) LINK_CMD= ;;                                 # more than one command
*"-o $probe $probe.c "*) ;;
*) LINK_CMD= ;;
esac
[ -n "$LINK_CMD" ] || echo "note: libtool --dry-run gave no single link command; linking each example with libtool"

link_example() {
    if [ -z "$LINK_CMD" ]; then
        libtool_link "$1"
        return
    fi
    cmd=$(printf '%s\n' "$LINK_CMD" | sed "s|$probe|$1|g")
    eval "$cmd"
}

check_example() {
    page=$1 rel=$2 name=$3
    checks=$((checks + 1))
    dir=$work/ex/$name
    mkdir -p "$dir"
    example_of "$page" > "$dir/$name.c"
    if ! grep -q 'main *(' "$dir/$name.c"; then
        fail "$rel" "EXAMPLE has no main()"
        return
    fi
    if ! link_example "$dir/$name" >"$dir/cc.log" 2>&1; then
        fail "$rel" "EXAMPLE does not compile or link: $(grep -m 1 -E 'error|undefined' "$dir/cc.log")"
        detail "$dir/cc.log"
        return
    fi
    (cd "$dir" && $TIMEOUT "./$name") </dev/null >"$dir/run.log" 2>&1
    rc=$?
    if [ "$rc" -eq 124 ] && [ -n "$TIMEOUT" ]; then
        fail "$rel" "EXAMPLE did not finish within 10 s"
    elif [ "$rc" -ne 0 ]; then
        fail "$rel" "EXAMPLE exited with status $rc"
        detail "$dir/run.log"
    fi
}

# --- run --------------------------------------------------------------------
if [ ! -x "$top_builddir/libtool" ] || [ ! -f "$top_builddir/lib/libresil.la" ]; then
    echo "note: $top_builddir/libtool or lib/libresil.la missing: build the library first"
fi

# The pages are checked in parallel shards (compiling and running the
# examples is most of the time): shard I of N takes every Nth page, with its
# own scratch directory and counters, and leaves its output and totals in
# files the parent joins in shard order.
check_page() {
    page=$1
    rel=${page#"$top_srcdir"/}
    base=${page##*/}
    name=${base%.*}
    sec=${base##*.}
    lint "$page" "$rel"
    case $sec in
    3)
        check_layout "$page" "$rel" "$name" 3 \
            'NAME|SYNOPSIS|DESCRIPTION|EXAMPLE|RETURN VALUE|THREAD SAFETY|AVAILABILITY|SEE ALSO'
        check_api_page "$page" "$rel" "$name"
        ;;
    1)
        check_layout "$page" "$rel" "$name" 1 \
            'NAME|SYNOPSIS|DESCRIPTION|EXIT STATUS|SEE ALSO'
        ;;
    *)
        check_layout "$page" "$rel" "$name" "$sec" \
            'NAME|DESCRIPTION|THREAD SAFETY|EXAMPLE|SEE ALSO'
        ;;
    esac
    check_see_also "$page" "$rel" "$sec"
    [ "$sec" = 1 ] || check_example "$page" "$rel" "$name"
}

run_shard() { # run_shard I N
    work=$root/shard$1
    mkdir -p "$work"
    cp "$root/api.tsv" "$work/api.tsv"
    idx=0 pages=0 checks=0 failures=0
    for page in "$top_srcdir"/man/man*/*.[0-9]; do
        [ -f "$page" ] || continue
        idx=$((idx + 1))
        [ $((idx % $2)) -eq "$1" ] || continue
        pages=$((pages + 1))
        check_page "$page"
    done
    echo "$pages $checks $failures" > "$root/count$1"
}

root=$work
shards=$(nproc 2>/dev/null || echo 2)
[ "$shards" -ge 2 ] 2>/dev/null || shards=2
[ "$shards" -le 8 ] || shards=8
i=0
while [ "$i" -lt "$shards" ]; do
    run_shard "$i" "$shards" > "$root/out$i" 2>&1 &
    i=$((i + 1))
done
wait
pages=0
i=0
while [ "$i" -lt "$shards" ]; do
    cat "$root/out$i"
    if [ -f "$root/count$i" ]; then
        read -r p c f < "$root/count$i"
        pages=$((pages + p)) checks=$((checks + c)) failures=$((failures + f))
    else
        fail "shard $i" "did not finish"
    fi
    i=$((i + 1))
done
work=$root

# Every function has a page, and the overview refers to every page.
overview=$top_srcdir/man/man7/libresil.7
[ -f "$overview" ] && section_body "$overview" "SEE ALSO" | macro_text > "$work/overview-see"
# names referred to as name(3) in the overview's SEE ALSO, one per line
if [ -f "$overview" ]; then
    awk '{ gsub(/[^A-Za-z0-9_()]/, " "); gsub(/ *\(/, "(")
           for (i = 1; i <= NF; i++) if ($i ~ /\(3\)$/) print substr($i, 1, length($i) - 3) }' \
        "$work/overview-see" | sort -u > "$work/overview-refs"
else
    fail "man/man7/libresil.7" "missing"
    : > "$work/overview-refs"
fi
while IFS="$(printf '\t')" read -r fn hdr proto; do
    checks=$((checks + 1))
    if [ ! -f "$top_srcdir/man/man3/$fn.3" ]; then
        fail "man/man3/$fn.3" "missing: $fn is declared RESIL_API in $hdr"
    fi
    if [ -f "$overview" ] && ! grep -qxF "$fn" "$work/overview-refs"; then
        fail "man/man7/libresil.7" "SEE ALSO does not refer to $fn(3)"
    fi
done < "$work/api.tsv"

nfn=$(wc -l < "$work/api.tsv" | tr -d ' ')
echo "check-man: $pages pages, $nfn functions, $checks checks, $failures failures"
[ "$failures" -eq 0 ]
