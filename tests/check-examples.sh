#!/bin/sh
# The examples build and run against the INSTALLED library, found only
# through pkg-config, the way a user builds them (examples/Makefile.example);
# and `make uninstall` removes every file `make install` put there.
#
# Environment (from Makefile.am): top_srcdir, top_builddir, CC, MAKE.
# Exit 0 pass, 1 fail, 77 skip.
set -u

: "${top_srcdir:?}" "${top_builddir:?}" "${MAKE:=make}" "${CC:=cc}"
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
unset PKG_CONFIG_SYSROOT_DIR

fail() { echo "FAIL: $*"; exit 1; }

if ! command -v "$PKG_CONFIG" >/dev/null 2>&1; then
    echo "SKIP: pkg-config not found"
    exit 77
fi
run_timeout=
if command -v timeout >/dev/null 2>&1; then
    run_timeout="timeout 20"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-examples.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
root=$tmp/root
mkdir "$root" "$tmp/ex" || fail "mkdir"

# Sub-makes must not inherit this `make check`'s flags and variables.
unset MAKEFLAGS MFLAGS

# ---- install into a staging root -----------------------------------------
if ! $MAKE -C "$top_builddir" install DESTDIR="$root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    fail "make install DESTDIR=$root"
fi
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
[ -n "$prefix" ] || fail "no prefix in $top_builddir/Makefile"
pc=$(find "$root" -name resil.pc | head -n 1)
[ -n "$pc" ] || fail "resil.pc was not installed"
pcdir=$(dirname "$pc")
libdir=$(PKG_CONFIG_PATH=$pcdir "$PKG_CONFIG" --variable=libdir resil)
case $libdir in
    "$prefix"/*) ;;
    *) fail "resil.pc libdir '$libdir' is not under prefix '$prefix'" ;;
esac
libdir=$root$libdir
ls "$libdir"/libresil.* >/dev/null 2>&1 || fail "no libresil in $libdir"
echo "installed under $root$prefix"

# ---- build the examples with Makefile.example -----------------------------
# libcurl's flags are taken without the sysroot, which would prefix its
# system paths too.
targets="breaker_demo limited_worker"
curl_cflags= curl_libs=
if "$PKG_CONFIG" --exists libcurl 2>/dev/null; then
    targets="$targets curl_breaker"
    curl_cflags=$("$PKG_CONFIG" --cflags libcurl)
    curl_libs=$("$PKG_CONFIG" --libs libcurl)
else
    echo "libcurl development files not found: curl_breaker skipped"
fi
for f in breaker_demo.c limited_worker.c curl_breaker.c Makefile.example; do
    cp "$top_srcdir/examples/$f" "$tmp/ex/" || fail "copy $f"
done
PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$root \
    $MAKE -C "$tmp/ex" -f Makefile.example CC="$CC" PKG_CONFIG="$PKG_CONFIG" \
    CURL_CFLAGS="$curl_cflags" CURL_LIBS="$curl_libs" $targets \
    >"$tmp/build.log" 2>&1
status=$?
cat "$tmp/build.log"
[ $status -eq 0 ] || fail "building the examples against the installed library"

# ---- run them ---------------------------------------------------------------
run() {
    name=$1
    shift
    LD_LIBRARY_PATH=$libdir $run_timeout "$tmp/ex/$name" "$@" >"$tmp/$name.out" 2>&1
    status=$?
    sed "s/^/  $name| /" "$tmp/$name.out"
    [ $status -eq 0 ] || fail "$name exited with $status"
}
expect() {
    grep -q -e "$2" "$tmp/$1.out" || fail "$1: no line matching '$2'"
}

# the programs must have loaded the staged library, not one elsewhere
LD_LIBRARY_PATH=$libdir ldd "$tmp/ex/breaker_demo" 2>/dev/null | grep -q "$libdir" ||
    echo "note: could not confirm with ldd which libresil was loaded"

run breaker_demo
expect breaker_demo "-> OPEN"
expect breaker_demo "OPEN -> HALF_OPEN"
expect breaker_demo "HALF_OPEN -> CLOSED"
run breaker_demo --quiet
expect breaker_demo "HALF_OPEN -> CLOSED"
grep -q "call " "$tmp/breaker_demo.out" && fail "breaker_demo --quiet printed calls"

run limited_worker
expect limited_worker "^jobs done [1-9]"

case $targets in
*curl_breaker*)
    run curl_breaker http://127.0.0.1:9/ 6
    expect curl_breaker "rejected at once"
    grep -q "[1-9][0-9]* rejected by the breaker" "$tmp/curl_breaker.out" ||
        fail "curl_breaker: no request was rejected by the breaker"
    ;;
esac

# ---- uninstall leaves nothing behind ----------------------------------------
if ! $MAKE -C "$top_builddir" uninstall DESTDIR="$root" >"$tmp/uninstall.log" 2>&1; then
    cat "$tmp/uninstall.log"
    fail "make uninstall DESTDIR=$root"
fi
left=$(find "$root" ! -type d)
if [ -n "$left" ]; then
    echo "$left"
    fail "make uninstall left files behind"
fi
echo "PASS: examples build and run against the installed library; uninstall is clean"
exit 0
