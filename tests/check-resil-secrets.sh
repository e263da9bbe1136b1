#!/bin/sh
# resil-secrets(1), run as a user runs it: the store (init, set, get, list,
# delete, rotate) with text, multi-line and binary values; keys, tokens and
# their failures (wrong key, tampered, expired); the strength policy; unsafe
# permissions; the audit; the documented exit codes; and, at the end, that
# no secret value, plaintext or key used here ever reached standard error.
#
# Everything happens in a fresh directory with HOME and XDG_CONFIG_HOME
# inside it.  tests/fernet_tool (when built) makes tokens with an old
# timestamp.  CLI_RUNNER (optional) prefixes every run of the tool, e.g.
# "./libtool --mode=execute valgrind -q --error-exitcode=99".
#
# Environment (from Makefile.am): top_srcdir, top_builddir.  Prints "ok N -
# what" or "not ok N - what" per case.  Exit 0 pass, 1 fail, 77 skip (the
# tool is not built: configure found no OpenSSL).
# shellcheck disable=SC2016 # check ... eval '...' expands when the case runs
set -u
: "${top_srcdir:=$(dirname "$0")/..}"
: "${top_builddir:=.}"
LC_ALL=C
export LC_ALL

tool=$(cd "$top_builddir/tools" 2>/dev/null && pwd)/resil-secrets
if [ ! -x "$tool" ]; then
    echo "SKIP: $top_builddir/tools/resil-secrets is not built (it needs OpenSSL)"
    exit 77
fi
ftool=$(cd "$top_builddir/tests" 2>/dev/null && pwd)/fernet_tool
runner=${CLI_RUNNER:-}
# With a shared library, tools/resil-secrets is libtool's wrapper script,
# which costs more than the tool itself on each of the ~100 runs: run the
# program behind it, with the library it would have loaded.
real=${tool%/*}/.libs/resil-secrets
if [ "$(head -c 2 "$tool")" = "#!" ] && [ -x "$real" ]; then
    tool=$real
    LD_LIBRARY_PATH=$(cd "$top_builddir/lib/.libs" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resil-secrets.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
HOME=$tmp/home
XDG_CONFIG_HOME=$HOME/cfg
export HOME XDG_CONFIG_HOME
unset RESIL_KEY_FILE RESIL_SECRETS_FILE
mkdir "$HOME" || exit 1
cd "$tmp" || exit 1
dir=$XDG_CONFIG_HOME/resil
key=$dir/secrets.key
store=$dir/secrets
errlog=$tmp/all-stderr

n=0
failed=0
pass() {
    n=$((n + 1))
    echo "ok $n - $1"
}
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    echo "#   exit status $st; stderr:"
    sed 's/^/#   /' "$tmp/err"
}
# check DESCRIPTION COMMAND...: the case passes when COMMAND does.
check() {
    desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}
skip() {
    n=$((n + 1))
    echo "ok $n - # SKIP $1"
}

# rs ARGS...: run the tool (stdin as redirected by the caller); stdout in
# $tmp/out, stderr in $tmp/err and appended to $errlog, status in $st.
rs() {
    # shellcheck disable=SC2086 # the runner is meant to split
    $runner "$tool" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    cat "$tmp/err" >>"$errlog"
}
status() { [ "$st" -eq "$1" ]; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
out_is() { printf '%s' "$1" | cmp -s - "$tmp/out"; }
mode_of() { stat -c %a "$1"; }

# Every secret used below carries one of these markers; none may appear on
# standard error.  (Weak values and keys are added to the list as made.)
secrets="S3cure-Db-Pw-Mk7q Multi-Line-Zq81 Binary-Vx42 Argv-Secret-Hq93
Opt-Secret-Lw55 Plain-Text-Ty62 Rot-Val-Jn27 Tty-Secret-Kp38 Env-Secret-Wd19
Big-Value-Ue04 changeme aaaaaaaaaaaaaaaaaaaaaaaa"
: >"$errlog"

# ---- usage --------------------------------------------------------------
rs --help </dev/null
check "--help exits 0 and lists the commands" eval 'status 0 && out_has audit && out_has rotate'
rs --version </dev/null
check "--version prints the library version" eval 'status 0 && out_has "(libresil) "'
rs </dev/null
check "no command: usage on stderr, exit 1" eval 'status 1 && err_has usage:'
rs frobnicate </dev/null
check "unknown command: exit 1" eval 'status 1 && err_has "unknown command"'
rs get NAME --ttl 5 </dev/null
check "an option that does not apply: exit 1" eval 'status 1 && err_has "--ttl does not apply"'

# ---- init -----------------------------------------------------------------
rs list </dev/null
check "list without a store: exit 2, says to run init" eval 'status 2 && err_has "resil-secrets init"'
rs init </dev/null
check "init creates key and store, mode 600, directory 700" eval \
    'status 0 && [ "$(mode_of "$key")" = 600 ] && [ "$(mode_of "$store")" = 600 ] &&
     [ "$(mode_of "$dir")" = 700 ] && [ "$(head -n 1 "$store")" = "resil-secrets 1" ]'
secrets="$secrets
$(cat "$key")"
rs init </dev/null
check "init again: exit 1, nothing changed" eval 'status 1 && err_has "already exists"'

# ---- set and get ------------------------------------------------------------
printf 'S3cure-Db-Pw-Mk7q-x9\n' >"$tmp/v1"
rs set DB_PASSWORD <"$tmp/v1"
check "set from stdin: exit 0, nothing on stdout" eval 'status 0 && [ ! -s "$tmp/out" ]'
rs get DB_PASSWORD </dev/null
check "get: the value without its trailing newline, none added" eval \
    'status 0 && out_is "S3cure-Db-Pw-Mk7q-x9"'
rs set RAW_VALUE --raw <"$tmp/v1"
rs get RAW_VALUE </dev/null
check "set --raw keeps the trailing newline" eval 'status 0 && cmp -s "$tmp/v1" "$tmp/out"'
printf 'Multi-Line-Zq81 first\n\n  second\tline\r\nthird\n\n' >"$tmp/v2"
rs set MULTI <"$tmp/v2"
rs get MULTI </dev/null
head -c "$(($(wc -c <"$tmp/v2") - 1))" "$tmp/v2" >"$tmp/v2.want"
check "multi-line value round trip (one newline stripped)" eval \
    'status 0 && cmp -s "$tmp/v2.want" "$tmp/out"'
printf 'Binary-Vx42\000\001\002\377\376\200 \033[31m\n\000' >"$tmp/v3"
rs set BINARY --in "$tmp/v3" --raw </dev/null
rs get BINARY </dev/null
check "binary value (NUL, 0xff, escape) round trip with --in --raw" eval \
    'status 0 && cmp -s "$tmp/v3" "$tmp/out"'
printf 'Rot-Val-Jn27-changed-v2\n' >"$tmp/v4"
rs set DB_PASSWORD <"$tmp/v4"
rs get DB_PASSWORD </dev/null
check "set replaces a value" eval 'status 0 && out_is "Rot-Val-Jn27-changed-v2"'
printf 'zeta\nAlpha\nmid.dle\nBINARY\nDB_PASSWORD\nMULTI\nRAW_VALUE\n' | sort >"$tmp/names"
for name in zeta Alpha mid.dle; do
    printf 'S3cure-Db-Pw-Mk7q-%s-long\n' "$name" >"$tmp/v"
    rs set "$name" <"$tmp/v"
done
rs list </dev/null
check "list: every name, sorted, one per line" eval 'status 0 && cmp -s "$tmp/names" "$tmp/out"'
rs delete mid.dle </dev/null
rs get mid.dle </dev/null
check "delete, then get of it: exit 2" eval 'status 2 && err_has "no secret named mid.dle"'
rs delete mid.dle </dev/null
check "delete of a missing name: exit 2" status 2
rs get NO_SUCH_NAME </dev/null
check "get of a missing name: exit 2, names it" eval 'status 2 && err_has NO_SUCH_NAME'
rs get 'not a name!' </dev/null
check "invalid name: exit 1, not shown" eval 'status 1 && ! err_has "not a name!"'
rs get --store "$tmp/nowhere" DB_PASSWORD </dev/null
check "--store naming a missing file: exit 2" status 2

# ---- values never come from argv --------------------------------------------
rs set ARGV_NAME Argv-Secret-Hq93-value </dev/null
check "set NAME VALUE: refused (exit 1), says to use stdin" eval \
    'status 1 && err_has "standard input"'
rs get ARGV_NAME </dev/null
check "  ... and nothing was stored" status 2
rs set OPT_NAME --password=Opt-Secret-Lw55-x </dev/null
check "unknown option with a value: exit 1, value not shown" eval \
    'status 1 && err_has "--password" && ! err_has Opt-Secret'
rs set OPT_NAME -Opt-Secret-Lw55-y </dev/null
check "unknown short option that may be a secret: not shown" eval \
    'status 1 && err_has "not shown"'

# ---- strength policy ----------------------------------------------------------
printf 'changeme\n' >"$tmp/weak1"
rs set WEAK1 <"$tmp/weak1"
check "a placeholder is refused: exit 6, the rule named" eval \
    'status 6 && err_has placeholder && err_has WEAK1'
rs get WEAK1 </dev/null
check "  ... and not stored" status 2
printf 'aaaaaaaaaaaaaaaaaaaaaaaa' >"$tmp/weak2"
rs set WEAK2 --raw <"$tmp/weak2"
check "too few distinct bytes: exit 6" status 6
rs set WEAK1 --allow-weak <"$tmp/weak1"
check "--allow-weak stores it with a warning" eval 'status 0 && err_has "warning:"'
rs get WEAK1 </dev/null
check "  ... and get returns it" eval 'status 0 && out_is changeme'

# ---- size bound -----------------------------------------------------------------
head -c 1048577 /dev/zero | tr '\0' 'x' >"$tmp/big"
printf 'Big-Value-Ue04' >>"$tmp/big"
rs set BIG --in "$tmp/big" </dev/null
check "a value over 1 MiB: exit 1, the limit named" eval 'status 1 && err_has "larger than"'
rs encrypt <"$tmp/big"
check "a plaintext over 1 MiB: exit 1" status 1

# ---- permissions ------------------------------------------------------------
chmod 644 "$key"
rs get DB_PASSWORD </dev/null
check "key file mode 644: exit 3 with the chmod fix" eval \
    'status 3 && err_has "chmod 600 $key"'
rs encrypt <"$tmp/v1"
check "  ... encrypt refuses it too (exit 3)" eval 'status 3 && err_has "chmod 600 $key"'
chmod 600 "$key"
chmod 640 "$store"
rs list </dev/null
check "secrets file mode 640: exit 3 with the chmod fix" eval \
    'status 3 && err_has "chmod 600 $store"'
chmod 600 "$store"

# ---- keygen -------------------------------------------------------------------
k1=$tmp/k1.key
k2=$tmp/k2.key
rs --key-file "$k1" keygen </dev/null
check "keygen writes a 0600 key file" eval \
    'status 0 && [ "$(mode_of "$k1")" = 600 ] && [ "$(wc -c <"$k1")" -eq 45 ]'
cp "$k1" "$tmp/k1.orig"
rs --key-file "$k1" keygen </dev/null
check "keygen keeps an existing key file: exit 1" eval \
    'status 1 && err_has --force && cmp -s "$k1" "$tmp/k1.orig"'
rs --key-file "$k1" keygen --force </dev/null
check "keygen --force replaces it" eval 'status 0 && ! cmp -s "$k1" "$tmp/k1.orig"'
rs keygen - </dev/null
check "keygen - prints a key" eval \
    'status 0 && [ "$(wc -c <"$tmp/out")" -eq 45 ] && grep -qE "^[A-Za-z0-9_-]{43}=$" "$tmp/out"'
cp "$tmp/out" "$k2"
chmod 600 "$k2"
rs keygen --stdout </dev/null
check "keygen --stdout prints another key" eval 'status 0 && ! cmp -s "$tmp/out" "$k2"'
secrets="$secrets
$(cat "$k1" "$k2" "$tmp/k1.orig")"

# ---- encrypt and decrypt --------------------------------------------------------
printf 'Plain-Text-Ty62 line\nsecond line\n' >"$tmp/pt"
rs --key-file "$k1" encrypt <"$tmp/pt"
cp "$tmp/out" "$tmp/tok"
check "encrypt: a Fernet token and a newline" eval \
    'status 0 && grep -qE "^gAAAAA[A-Za-z0-9_=-]+$" "$tmp/tok" && [ "$(wc -l <"$tmp/tok")" -eq 1 ]'
rs --key-file "$k1" decrypt <"$tmp/tok"
check "decrypt: the plaintext exactly" eval 'status 0 && cmp -s "$tmp/pt" "$tmp/out"'
{ printf '  \n\t'; cat "$tmp/tok"; printf '\n\n'; } >"$tmp/tok.ws"
rs --key-file "$k1" decrypt --in "$tmp/tok.ws" </dev/null
check "decrypt --in, white space around the token ignored" eval \
    'status 0 && cmp -s "$tmp/pt" "$tmp/out"'
rs --key-file "$k1" encrypt --in /dev/null </dev/null
cp "$tmp/out" "$tmp/tok.empty"
rs --key-file "$k1" decrypt <"$tmp/tok.empty"
check "empty plaintext round trip" eval 'status 0 && [ ! -s "$tmp/out" ]'
rs --key-file "$k2" decrypt <"$tmp/tok"
check "decrypt with the wrong key: exit 4" eval 'status 4 && err_has "wrong key"'
# one character in the middle of the token changed
c=$(cut -c 41 "$tmp/tok")
if [ "$c" = A ]; then r=B; else r=A; fi
sed "s/^\(.\{40\}\)./\1$r/" "$tmp/tok" >"$tmp/tok.bad"
rs --key-file "$k1" decrypt <"$tmp/tok.bad"
check "decrypt of a tampered token: exit 4" status 4
printf 'not a token at all!\n' >"$tmp/garbage"
rs --key-file "$k1" decrypt <"$tmp/garbage"
check "decrypt of garbage: exit 4" status 4
rs --key-file "$k1" decrypt </dev/null
check "decrypt of nothing: exit 4" eval 'status 4 && err_has "no token"'
rs --key-file "$tmp/none.key" encrypt <"$tmp/pt"
check "encrypt with a missing key file: exit 2" status 2
printf '# a comment\nnot-a-key\n' >"$tmp/bad.key"
chmod 600 "$tmp/bad.key"
rs --key-file "$tmp/bad.key" encrypt <"$tmp/pt"
check "a malformed key file: exit 7, the line named" eval 'status 7 && err_has "line 2"'
RESIL_KEY_FILE=$k1 rs decrypt <"$tmp/tok"
check "RESIL_KEY_FILE names the key file" eval 'status 0 && cmp -s "$tmp/pt" "$tmp/out"'

# ---- TTL ----------------------------------------------------------------------
rs --key-file "$k1" decrypt --ttl 60 <"$tmp/tok"
check "decrypt --ttl 60 accepts a fresh token" eval 'status 0 && cmp -s "$tmp/pt" "$tmp/out"'
rs --key-file "$k1" decrypt --ttl 2h <"$tmp/tok"
check "decrypt --ttl 2h (suffix) accepted" status 0
for bad in 0 -5 abc 10x ''; do
    rs --key-file "$k1" decrypt --ttl "$bad" <"$tmp/tok"
    check "decrypt --ttl '$bad': exit 1" eval 'status 1 && err_has "--ttl"'
done
if [ -x "$ftool" ]; then
    now=$(date +%s)
    "$ftool" encrypt "$k1" $((now - 3600)) <"$tmp/pt" >"$tmp/tok.old" 2>>"$errlog"
    "$ftool" encrypt "$k1" $((now + 3600)) <"$tmp/pt" >"$tmp/tok.future" 2>>"$errlog"
    rs --key-file "$k1" decrypt --ttl 60 <"$tmp/tok.old"
    check "a token an hour old with --ttl 60: exit 4 (expired)" eval \
        'status 4 && err_has "older than"'
    rs --key-file "$k1" decrypt --ttl 2h <"$tmp/tok.old"
    check "  ... with --ttl 2h: accepted" eval 'status 0 && cmp -s "$tmp/pt" "$tmp/out"'
    rs --key-file "$k1" decrypt <"$tmp/tok.old"
    check "  ... without --ttl: accepted" status 0
    rs --key-file "$k1" decrypt --ttl 2h <"$tmp/tok.future"
    check "a token an hour in the future with --ttl: exit 4" eval 'status 4 && err_has future'
    rs --key-file "$k1" decrypt <"$tmp/tok.future"
    check "  ... without --ttl: accepted (as Python's Fernet does)" status 0
else
    skip "expired and future tokens: tests/fernet_tool is not built"
fi

# ---- rotate -------------------------------------------------------------------
cp "$key" "$tmp/key.before"
for name in BINARY DB_PASSWORD MULTI; do
    rs get "$name" </dev/null
    cp "$tmp/out" "$tmp/before.$name"
done
rs rotate </dev/null
check "rotate prints the count of secrets re-encrypted" eval 'status 0 && out_is "7
"'
check "  ... the key file changed, still one key, mode 600" eval \
    '! cmp -s "$key" "$tmp/key.before" && [ "$(grep -c . "$key")" -eq 1 ] &&
     [ "$(mode_of "$key")" = 600 ]'
secrets="$secrets
$(cat "$key")"
ok_all=yes
for name in BINARY DB_PASSWORD MULTI; do
    rs get "$name" </dev/null
    { status 0 && cmp -s "$tmp/before.$name" "$tmp/out"; } || ok_all=no
done
check "  ... every value reads the same" [ "$ok_all" = yes ]
chmod 600 "$tmp/key.before"
rs --key-file "$tmp/key.before" --store "$store" get DB_PASSWORD </dev/null
check "  ... the old key no longer opens the store: exit 4" status 4

# rotate --token: a new key in front of the old one.
{ cat "$k2"; cat "$k1"; } >"$tmp/k21.key"
chmod 600 "$tmp/k21.key"
rs --key-file "$tmp/k21.key" rotate --token <"$tmp/tok"
cp "$tmp/out" "$tmp/tok.rot"
check "rotate --token prints a new token" eval 'status 0 && ! cmp -s "$tmp/tok" "$tmp/tok.rot"'
rs --key-file "$k2" decrypt <"$tmp/tok.rot"
check "  ... the new key alone opens it" eval 'status 0 && cmp -s "$tmp/pt" "$tmp/out"'
rs --key-file "$k2" decrypt <"$tmp/tok"
check "  ... but not the original token (exit 4)" status 4
if [ -x "$ftool" ]; then
    t_old=$("$ftool" time "$k1" <"$tmp/tok" 2>>"$errlog")
    t_new=$("$ftool" time "$k2" <"$tmp/tok.rot" 2>>"$errlog")
    same=no
    [ -n "$t_old" ] && [ "$t_old" = "$t_new" ] && same=yes
    check "  ... and it keeps the token's time" [ "$same" = yes ]
fi
rs --key-file "$k1" rotate --token <"$tmp/tok"
check "rotate --token with a one-key file warns" eval 'status 0 && err_has "one key"'

# ---- a value typed at a terminal -----------------------------------------------
PY=$(command -v python3 2>/dev/null || true)
if [ -n "$PY" ] && "$PY" -c 'import pty' 2>/dev/null; then
    "$PY" - "$tool" >"$tmp/pty.out" 2>>"$errlog" <<'EOF'
import os, pty, signal, sys, time
signal.alarm(30)  # a tool that hangs fails the case instead of the suite
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "set", "TTY_VALUE"])
seen = b""
deadline = time.time() + 20
while b"not echoed" not in seen and time.time() < deadline:
    try:
        seen += os.read(fd, 1024)
    except OSError:
        break
os.write(fd, b"Tty-Secret-Kp38-typed-in\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, st = os.waitpid(pid, 0)
sys.stdout.write("exit=%d echoed=%s\n" % (os.WEXITSTATUS(st), b"Tty-Secret" in seen))
EOF
    rs get TTY_VALUE </dev/null
    check "set at a terminal: prompt, value not echoed, stored" eval \
        'grep -qx "exit=0 echoed=False" "$tmp/pty.out" && out_is "Tty-Secret-Kp38-typed-in"'
else
    skip "terminal input: python3 with pty not found"
fi

# ---- audit ----------------------------------------------------------------------
json_ok() { # json_ok FILE EXPR: EXPR (Python, over d) is true for FILE's JSON
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
chmod 644 "$key"
rs audit </dev/null
cp "$tmp/out" "$tmp/audit.txt"
check "audit finds a 0644 key file: exit 5, the id and the fix" eval \
    'status 5 && out_has key-file-perms && out_has "chmod 600 $key"'
rs audit --json </dev/null
cp "$tmp/out" "$tmp/audit.json"
if [ -n "$PY" ]; then
    check "audit --json parses and has the finding" eval \
        'status 5 && json_ok "$tmp/audit.json" "any(f[\"id\"] == \"key-file-perms\" for f in d[\"findings\"])"'
    want=0
    json_ok "$tmp/audit.json" 'any(f["severity"] == "critical" for f in d["findings"])' && want=5
    rs audit --fail-on critical </dev/null
    check "audit --fail-on critical: exit $want (5 only for a critical finding)" status "$want"
else
    skip "audit --json: python3 not found"
fi
rs audit --fail-on never </dev/null
check "audit --fail-on never: exit 0, findings still printed" eval 'status 0 && out_has key-file-perms'
rs audit --ignore key-file-perms --ignore running-as-root --fail-on low </dev/null
check "audit --ignore drops findings by id" eval '! out_has key-file-perms'
chmod 600 "$key"
rs audit --fail-on medium --ignore running-as-root </dev/null
check "audit of a safe store: exit 0" eval 'status 0 && ! out_has key-file-perms'
rs audit --fail-on bogus </dev/null
check "audit --fail-on bogus: exit 1" status 1
rs audit --listen 'web=0.0.0.0:8080' --listen 'lo=127.0.0.1:9090' --fail-on never </dev/null
check "audit --listen: a public listener without TLS or auth is found" eval \
    'status 0 && out_has listener-public-no-tls && out_has listener-public-no-auth'
rs audit --listen 'web=0.0.0.0:8443,tls,auth' --ignore running-as-root --fail-on low </dev/null
check "  ... with tls and auth it is not" eval '! out_has listener-public'
rs audit --listen 'nonsense' </dev/null
check "audit --listen without NAME=: exit 1" status 1
rs audit --listen 'web=0.0.0.0:80,tsl' </dev/null
check "audit --listen with an unknown flag: exit 1" status 1
WEAK_ENV=changeme rs audit --env WEAK_ENV --fail-on never </dev/null
check "audit --env: a weak secret in the environment, value not shown" eval \
    'out_has env-secret-weak && out_has WEAK_ENV && ! out_has changeme'
GOOD_ENV=Env-Secret-Wd19-5aQ2-long-enough rs audit --env GOOD_ENV --fail-on never </dev/null
check "  ... a strong one is not a finding" eval '! out_has env-secret-weak && ! out_has Env-Secret'

# ---- no secret on stderr --------------------------------------------------------
leaked=
while IFS= read -r s; do
    [ -n "$s" ] || continue
    if grep -qF -- "$s" "$errlog"; then
        leaked="$leaked $s"
    fi
done <<EOF
$secrets
EOF
st=0
: >"$tmp/err"
if [ -z "$leaked" ] && [ -s "$errlog" ]; then
    pass "no secret value, plaintext or key appears in any stderr ($(wc -l <"$errlog") lines)"
else
    echo "$leaked" >"$tmp/err"
    fail "no secret value, plaintext or key appears in any stderr"
fi

# A sanitizer build or CLI_RUNNER=valgrind reports on stderr, also for the
# runs whose exit status was not checked.
st=0
grep -E '^==[0-9]+==|runtime error:|Sanitizer' "$errlog" >"$tmp/err"
check "no sanitizer or valgrind report on stderr" [ ! -s "$tmp/err" ]

echo "check-resil-secrets: $n cases, $failed failed"
[ "$failed" -eq 0 ]
