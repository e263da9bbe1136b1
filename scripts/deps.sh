#!/bin/sh
# Install the Debian 12 packages the build and the tests need, only those
# missing, quietly, then the pinned npm packages of the MCP client tests
# (tests/node: the official SDK client, the Inspector CLI, the conformance
# suite and the Node 22 it needs) from the npm registry.  Runs apt-get as
# root, or through sudo.
#   --with-bench   also wrk and the benchmark's npm packages
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
pkgs="build-essential autoconf automake libtool pkg-config check
libcurl4-openssl-dev libjansson-dev clang valgrind man-db groff-base
prometheus python3 python3-cryptography libssl-dev
libmicrohttpd-dev curl"
# Node.js may come from elsewhere than Debian (a machine image's Node 20
# with its own npm): Debian's npm would conflict with it, so the packages
# are asked for only when the commands are missing.
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
bench=no
[ "${1:-}" = "--with-bench" ] && { bench=yes; pkgs="$pkgs wrk"; }
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm ci only when the lock changed since the last install (npm writes
# node_modules/.package-lock.json), so repeated runs cost nothing.
npm_ci() {
    [ -f "$1/package-lock.json" ] || return 0
    if [ -f "$1/node_modules/.package-lock.json" ] &&
        [ ! "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
        return 0
    fi
    echo "deps: npm ci in ${1#"$top"/}" >&2
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}
npm_ci "$top/tests/node"
if [ "$bench" = yes ]; then
    npm_ci "$top/bench/node"
    [ -d "$top/bench/mcp" ] && npm_ci "$top/bench/mcp"
fi
exit 0
