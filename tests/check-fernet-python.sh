#!/bin/sh
# Fernet tokens of libresil and of Python's cryptography.fernet are the same
# thing: each side decrypts what the other encrypts (empty, text, binary
# with NULs and bytes >= 0x80, block-size edges, 1 MiB), rotates what the
# other made (the new key alone opens it and the timestamp is kept), keys
# made by either work in both, both apply a TTL the same way at its edges,
# and both refuse a tampered token.  tests/fernet_tool speaks for the
# library, tests/fernet_interop.py for Python, with the same commands.
#
# Python takes a fifth of a second to start, so its commands are queued
# and run in two batches; the checks come at the end.
#
# Environment (from Makefile.am): top_srcdir, top_builddir.  Exit 0 pass,
# 1 fail, 77 skip (only when /usr/bin/python3 or its cryptography module is
# missing: apt-get install python3-cryptography; or when libresil was built
# without OpenSSL).
set -u
: "${top_srcdir:=$(dirname "$0")/..}"
: "${top_builddir:=.}"

PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "SKIP: $PY not found (Debian: apt-get install python3 python3-cryptography)"
    exit 77
fi
if ! "$PY" -c 'from cryptography.fernet import Fernet, MultiFernet' >/dev/null 2>&1; then
    echo "SKIP: $PY cannot import cryptography.fernet (Debian: apt-get install python3-cryptography)"
    exit 77
fi
# Absolute paths: the test works in its own directory.
tool=$(cd "$top_builddir/tests" 2>/dev/null && pwd)/fernet_tool
interop=$(cd "$top_srcdir/tests" 2>/dev/null && pwd)/fernet_interop.py
[ -x "$tool" ] || { echo "FAIL: $top_builddir/tests/fernet_tool not built"; exit 1; }
[ -r "$interop" ] || { echo "FAIL: $top_srcdir/tests/fernet_interop.py not found"; exit 1; }

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-fernet.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
cd "$tmp" || exit 1

checks=0
failures=0
check() { # check DESCRIPTION COMMAND...: one check passes when COMMAND does
    desc=$1
    shift
    checks=$((checks + 1))
    if ! "$@"; then
        failures=$((failures + 1))
        echo "FAIL: $desc"
    fi
}

# The library's side runs at once; "c ... TAG" records the outcome ("ok" or
# the error code's name) in c.TAG.
c() { # c TAG COMMAND KEYFILE [ARGS] <in >out
    tag=$1
    shift
    if "$tool" "$@" 2>"c.$tag.err"; then
        echo ok >"c.$tag"
    else
        sed -n 's/^fernet_tool: [a-z]*: //p' "c.$tag.err" >"c.$tag"
        [ -s "c.$tag" ] || echo failed >"c.$tag"
    fi
}
# Python's side is queued: q TAG COMMAND INFILE OUTFILE [ARGS...]
q() {
    printf '%s\t%s\t%s\t%s' "$1" "$2" "$3" "$4" >>batch
    shift 4
    for a in "$@"; do printf '\t%s' "$a" >>batch; done
    printf '\n' >>batch
}
pyrun() {
    if ! "$PY" "$interop" batch <batch >>py.status 2>py.err; then
        echo "FAIL: fernet_interop.py batch:"
        sed 's/^/# /' py.err
        exit 1
    fi
    : >batch
}
is_c() { [ "$(cat "c.$1")" = "$2" ]; }
is_py() { [ "$(sed -n "s/^$1 //p" py.status)" = "$2" ]; }
same() { cmp -s "$1" "$2"; }

# --- plaintexts --------------------------------------------------------------
: >pt.empty
printf 'hello, world' >pt.text
i=0
fmt=
while [ $i -lt 256 ]; do # every byte value, as octal escapes (no fork)
    fmt="$fmt\\$((i / 64))$((i / 8 % 8))$((i % 8))"
    i=$((i + 1))
done
printf "$fmt" >pt.binary
printf '\000\000\200\377\000' >>pt.binary
printf 'xxxxxxxxxxxxxxx' >pt.15
printf 'yyyyyyyyyyyyyyyy' >pt.16
head -c 17 /dev/zero >pt.17
cp pt.binary pt.mib
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    cat pt.mib pt.mib >pt.tmp && mv pt.tmp pt.mib
done
[ "$(wc -c <pt.binary)" -eq 261 ] && [ "$(wc -c <pt.mib)" -eq $((261 << 12)) ] ||
    { echo "FAIL: cannot write the plaintexts"; exit 1; }
plaintexts="empty text binary 15 16 17 mib"
T=1700000000

# --- round 1: a key from each side; Python encrypts ------------------------
if ! "$tool" keygen >one.key 2>keygen.err; then
    if grep -q ENOTSUP keygen.err; then
        echo "SKIP: libresil was built without OpenSSL (configure --without-openssl)"
        exit 77
    fi
    echo "FAIL: fernet_tool keygen:"
    sed 's/^/# /' keygen.err
    exit 1
fi
q k2 keygen - two.key
for p in $plaintexts; do
    q "enc.$p" encrypt "pt.$p" "tok.py.$p" one.key
done
q old encrypt pt.text old.py one.key $T
q ttl encrypt pt.text ttl.py one.key $T
pyrun
cat two.key one.key >ring.key # two first: it encrypts

# --- the library: decrypts Python's tokens, makes its own -------------------
for p in $plaintexts; do
    c "dec.$p" decrypt one.key <"tok.py.$p" >"out.c.$p"
    c "enc.$p" encrypt one.key <"pt.$p" >"tok.c.$p"
done
c ring decrypt ring.key <tok.py.17 >out.c.ring
c old encrypt one.key $T <pt.binary >old.c
c rot rotate ring.key <old.c >new.c
c ttl encrypt one.key $T <pt.text >ttl.c
c ttl.ok.late decrypt one.key 60 $((T + 60)) <ttl.py >out.c.late
c ttl.ok.early decrypt one.key 60 $((T - 60)) <ttl.py >out.c.early
c ttl.expired decrypt one.key 60 $((T + 61)) <ttl.py >/dev/null
c ttl.future decrypt one.key 60 $((T - 61)) <ttl.py >/dev/null
# A tampered token: the 60th character is in the ciphertext.
ch=$(cut -c60 tok.c.text)
if [ "$ch" = A ]; then ch=B; else ch=A; fi
sed "s/^\\(.\\{59\\}\\)./\\1$ch/" tok.c.text >bad
c bad decrypt one.key <bad >/dev/null

# --- round 2: Python decrypts the library's tokens, rotates its own --------
for p in $plaintexts; do
    q "dec.$p" decrypt "tok.c.$p" "out.py.$p" one.key
done
q ring decrypt tok.c.17 out.py.ring ring.key
q rot.new decrypt new.c out.py.rot two.key
q rot.time time new.c time.py two.key
q rot.old decrypt new.c - one.key
q rot rotate old.py new.py ring.key
q ttl.ok.late decrypt ttl.c out.py.late one.key 60 $((T + 60))
q ttl.ok.early decrypt ttl.c out.py.early one.key 60 $((T - 60))
q ttl.expired decrypt ttl.c - one.key 60 $((T + 61))
q ttl.future decrypt ttl.c - one.key 60 $((T - 61))
q bad decrypt bad - one.key
pyrun

# --- round 3: the library opens what Python rotated ------------------------
c rot.new decrypt two.key <new.py >out.c.rot
c rot.time time two.key <new.py >time.c
c rot.old decrypt one.key <new.py >/dev/null

# --- the checks --------------------------------------------------------------
for p in $plaintexts; do
    check "Python encrypts $p, C decrypts" eval 'is_py enc.$p ok && is_c dec.$p ok && same out.c.$p pt.$p'
    check "C encrypts $p, Python decrypts" eval 'is_c enc.$p ok && is_py dec.$p ok && same out.py.$p pt.$p'
done
check "a key ring opens tokens of its second key (C)" eval 'is_c ring ok && same out.c.ring pt.17'
check "a key ring opens tokens of its second key (Python)" eval 'is_py ring ok && same out.py.ring pt.17'
check "C rotates, Python opens it with the new key alone" \
    eval 'is_c rot ok && is_py rot.new ok && same out.py.rot pt.binary'
check "C rotates, Python sees the original time" eval 'is_py rot.time ok && [ "$(cat time.py)" = $T ]'
check "C rotates, the old key no longer opens it in Python" is_py rot.old InvalidToken
check "Python rotates, C opens it with the new key alone" \
    eval 'is_py rot ok && is_c rot.new ok && same out.c.rot pt.text'
check "Python rotates, C sees the original time" eval 'is_c rot.time ok && [ "$(cat time.c)" = $T ]'
check "Python rotates, the old key no longer opens it in C" is_c rot.old ETOKEN_MAC
check "C opens Python's token at TTL 60 at T+60" eval 'is_c ttl.ok.late ok && same out.c.late pt.text'
check "C opens Python's token at TTL 60 at T-60" eval 'is_c ttl.ok.early ok && same out.c.early pt.text'
check "C refuses Python's token at TTL 60 at T+61" is_c ttl.expired ETOKEN_EXPIRED
check "C refuses Python's token at TTL 60 at T-61" is_c ttl.future ETOKEN_FUTURE
check "Python opens C's token at TTL 60 at T+60" eval 'is_py ttl.ok.late ok && same out.py.late pt.text'
check "Python opens C's token at TTL 60 at T-60" eval 'is_py ttl.ok.early ok && same out.py.early pt.text'
check "Python refuses C's token at TTL 60 at T+61" is_py ttl.expired InvalidToken
check "Python refuses C's token at TTL 60 at T-61" is_py ttl.future InvalidToken
check "the tampering changed the token" eval '! same bad tok.c.text'
check "C refuses a tampered token" is_c bad ETOKEN_MAC
check "Python refuses a tampered token" is_py bad InvalidToken

if [ "$failures" -ne 0 ]; then
    for f in c.*.err py.err; do
        [ -s "$f" ] && sed "s|^|# $f: |" "$f"
    done
    echo "check-fernet-python: $failures of $checks checks failed"
    exit 1
fi
echo "check-fernet-python: $checks checks pass (Python cryptography $("$PY" -c 'import cryptography; print(cryptography.__version__)'))"
exit 0
