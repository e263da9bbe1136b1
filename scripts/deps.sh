#!/bin/sh
# Install the Debian 12 packages the build and the tests need, only those
# missing, quietly.  Runs apt-get as root, or through sudo.
set -eu
pkgs="build-essential autoconf automake libtool pkg-config check
libcurl4-openssl-dev libjansson-dev clang valgrind man-db groff-base
prometheus python3 python3-cryptography libssl-dev
libmicrohttpd-dev curl"
[ "${1:-}" = "--with-bench" ] && pkgs="$pkgs nodejs npm"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
