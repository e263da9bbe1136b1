"""Python's cryptography.fernet from the command line, the counterpart of
tests/fernet_tool for tests/check-fernet-python.sh.  Same commands:

  fernet_interop.py keygen                       prints a new key
  fernet_interop.py encrypt KEYFILE [UNIX_TIME]  stdin plaintext -> token
  fernet_interop.py decrypt KEYFILE [TTL NOW]    stdin token -> plaintext
  fernet_interop.py rotate KEYFILE               stdin token -> token
  fernet_interop.py time KEYFILE                 stdin token -> its timestamp

  fernet_interop.py batch < LINES              many commands, one process

A key file holds one key per line, the first the one that encrypts (a
MultiFernet).  Exit status 0, 1 with "fernet_interop: InvalidToken" on
stderr for a token Python refuses, 2 for bad usage.

Starting Python and importing cryptography takes a fifth of a second, so
the test runs its commands in batches: each line of stdin is
TAG<tab>COMMAND<tab>INFILE<tab>OUTFILE[<tab>ARG...], run in order ("-" for
no file), and each prints "TAG ok" or "TAG InvalidToken".
"""

import sys

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def load(path):
    with open(path, "rb") as f:
        keys = [line.strip() for line in f if line.strip()]
    return [Fernet(k) for k in keys]


def token_time(fernets, token):
    # extract_timestamp checks the MAC of one key; try each, as
    # MultiFernet would.
    for f in fernets:
        try:
            return f.extract_timestamp(token)
        except InvalidToken:
            pass
    raise InvalidToken


def run(cmd, args, stdin):
    if cmd == "keygen" and not args:
        return Fernet.generate_key() + b"\n"
    if not args:
        raise ValueError("no key file")
    fernets = load(args[0])
    multi = MultiFernet(fernets)
    rest = [int(a) for a in args[1:]]
    if cmd == "encrypt" and len(rest) <= 1:
        if rest:
            return multi.encrypt_at_time(stdin, rest[0]) + b"\n"
        return multi.encrypt(stdin) + b"\n"
    token = stdin.strip()
    if cmd == "decrypt" and len(rest) in (0, 2):
        if rest:
            return multi.decrypt_at_time(token, rest[0], rest[1])
        return multi.decrypt(token)
    if cmd == "rotate" and not rest:
        return multi.rotate(token) + b"\n"
    if cmd == "time" and not rest:
        return b"%d\n" % token_time(fernets, token)
    raise ValueError("bad usage")


def batch(lines):
    for line in lines:
        tag, cmd, inpath, outpath, *args = line.rstrip("\n").split("\t")
        data = b""
        if inpath != "-":
            with open(inpath, "rb") as f:
                data = f.read()
        try:
            out = run(cmd, args, data)
        except InvalidToken:
            print(tag, "InvalidToken")
            continue
        if outpath != "-":
            with open(outpath, "wb") as f:
                f.write(out)
        print(tag, "ok")
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "batch" and len(sys.argv) == 2:
        return batch(sys.stdin)
    stdin = b"" if sys.argv[1] == "keygen" else sys.stdin.buffer.read()
    try:
        out = run(sys.argv[1], sys.argv[2:], stdin)
    except InvalidToken:
        print("fernet_interop: InvalidToken", file=sys.stderr)
        return 1
    except ValueError as e:
        print("fernet_interop: %s" % e, file=sys.stderr)
        return 2
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
