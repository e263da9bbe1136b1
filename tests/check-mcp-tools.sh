#!/bin/sh
# The production tools end to end: the real mcp-server binary over stdio, its three
# services pointed at the real fake upstream (tests/fake_upstream/fake-upstream),
# driven by a small MCP client in Python (below, as a heredoc) that speaks
# newline-delimited JSON-RPC on the server's stdin and stdout.
#
# Checks: initialize and tools/list (exactly the five production tools), each tool
# called with its result checked, progress of video_analyze, graceful degradation
# with the chat upstream failing, a video_transcript call hanging upstream and then
# cancelled with notifications/cancelled (no response, the upstream transfer ends,
# ping answered at once), stdout carrying nothing but JSON-RPC, and exit status 0
# when stdin closes.
#
# Environment: top_builddir (set by make check). MCP_TOOLS_TIMEOUT (seconds, default
# 20) caps every wait for an event. MCP_TOOLS_VERBOSE shows the server's stderr.
# Exit: 0 all passed, 1 a check failed, 77 a program is missing.
set -u

: "${top_builddir:=.}"
: "${top_srcdir:=$(dirname "$0")/..}"
# shellcheck source=tests/mcp-lib.sh
. "$top_srcdir/tests/mcp-lib.sh"
srv=$top_builddir/server/mcp-server
fake_bin=$top_builddir/tests/fake_upstream/fake-upstream
py=/usr/bin/python3
cap=${MCP_TOOLS_TIMEOUT:-20}
need_built "$srv" "$fake_bin"
if [ ! -x "$py" ]; then
    echo "SKIP: $py is not installed"
    exit 77
fi

mcp_tmpdir check-mcp-tools
# The driver stops the server it starts; the cleanup stops the fake upstream.
logs='fake server'
log_lines=60
verbose=${MCP_TOOLS_VERBOSE:-}

# ---- the fake upstream, demanding the keys the server must send -------------------
yt_key=yt-key-check-0123
ai_key=ai-key-check-0123
start_fake --require-key "$yt_key" --chat-key "$ai_key"
check "the fake upstream writes its port file" [ -s "$tmp/fake.port" ]
port=$fport
base=http://127.0.0.1:${port:-0}

# ---- the configuration: the defaults, every service pointed at the fake ------------
"$srv" --print-default-config >"$tmp/default.json" 2>"$tmp/server.log"
check "--print-default-config exits 0" [ $? = 0 ]
"$py" - "$tmp/default.json" "$tmp/config.json" "$base" <<'EOF'
import json, sys
src, dst, base = sys.argv[1:4]
with open(src) as f:
    cfg = json.load(f)
svc = cfg["services"]
svc["youtube_api"]["base_url"] = base + "/youtube/v3"
svc["youtube_api"]["oembed_url"] = base + "/oembed"
svc["video_analysis"]["base_url"] = base
svc["ai_processing"]["base_url"] = base + "/v1"
for s in svc.values():
    # retries as configured, without long waits between them
    s["retry"]["base_delay_ms"] = 1
    s["retry"]["max_delay_ms"] = 5
with open(dst, "w") as f:
    json.dump(cfg, f, indent=2)
EOF
check "the default configuration edits into one for the fake" [ -s "$tmp/config.json" ]
YOUTUBE_API_KEY=$yt_key AI_API_KEY=$ai_key "$srv" --check-config --config "$tmp/config.json" \
    >/dev/null 2>>"$tmp/server.log"
check "--check-config accepts it" [ $? = 0 ]

# ---- the MCP client ---------------------------------------------------------------------
cat >"$tmp/driver.py" <<'EOF'
"""A minimal MCP client over stdio for check-mcp-tools.sh: prints TAP lines."""
import json, os, select, subprocess, sys, time, urllib.request

srv, config, base, first, cap, errlog = sys.argv[1:7]
n, cap, failed = int(first), float(cap), False


def check(name, cond, detail=""):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name), flush=True)
    if not cond:
        failed = True
        if detail:
            print("#   " + str(detail)[:600], flush=True)
    return cond


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=cap) as r:
        return json.loads(r.read())


class Server:
    def __init__(self):
        env = dict(os.environ, YOUTUBE_API_KEY=os.environ["YT_KEY"],
                   AI_API_KEY=os.environ["AI_KEY"])
        self.p = subprocess.Popen([srv, "--stdio", "--config", config], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(errlog, "ab"))
        self.buf = b""
        self.junk = []      # stdout lines that are not JSON-RPC
        self.stray = []     # messages read while waiting for another response
        self.next_id = 1

    def send(self, msg):
        self.p.stdin.write(json.dumps(msg).encode() + b"\n")
        self.p.stdin.flush()

    def read(self, deadline):
        """The next message, or None when the deadline passes first."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
            if msg.get("jsonrpc") != "2.0":
                raise ValueError("not JSON-RPC 2.0")
            return msg
        except ValueError:
            self.junk.append(line)
            return self.read(deadline)

    def request(self, method, params=None, rid=None):
        """Send a request; return (response, messages that came before it)."""
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.wait_for(rid)

    def wait_for(self, rid):
        seen, deadline = [], time.monotonic() + cap
        while True:
            m = self.read(deadline)
            if m is None:
                return None, seen
            if m.get("id") == rid and "method" not in m:
                return m, seen
            seen.append(m)
            self.stray.append(m)

    def call(self, name, args, token=None):
        params = {"name": name, "arguments": args}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        r, seen = self.request("tools/call", params)
        return (r or {}).get("result") or {}, seen, r


def happy_path(s):
    r, _ = s.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "check-mcp-tools", "version": "1"}})
    res = (r or {}).get("result", {})
    check("initialize answers with version 2025-11-25",
          res.get("protocolVersion") == "2025-11-25", r)
    check("... and declares the tools capability", "tools" in res.get("capabilities", {}), r)
    s.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    r, _ = s.request("tools/list")
    names = sorted(t["name"] for t in (r or {}).get("result", {}).get("tools", []))
    check("tools/list has exactly the five production tools",
          names == ["ai_analyze", "service_status", "video_analyze", "video_metadata",
                    "video_transcript"], names)

    res, _, r = s.call("video_metadata", {"url": "https://www.youtube.com/watch?v=jNQXAC9IVRw"})
    sc = res.get("structuredContent", {})
    check("video_metadata: the title, through the Data API with the key",
          not res.get("isError") and sc.get("title") == "Me at the zoo"
          and sc.get("source") == "youtube_data_api", r)
    res, _, r = s.call("video_transcript", {"url": "https://youtu.be/jNQXAC9IVRw"})
    sc = res.get("structuredContent", {})
    check("video_transcript: 12 segments in English",
          not res.get("isError") and sc.get("total") == 12 and sc.get("language") == "en", r)
    res, _, r = s.call("ai_analyze", {"text": "circuit breakers", "instruction": "Echo it."})
    check("ai_analyze: the model's answer, with the key sent",
          not res.get("isError") and "circuit breakers" in json.dumps(res), r)

    res, seen, r = s.call("video_analyze", {"url": "dQw4w9WgXcQ"}, token="va-1")
    sc = res.get("structuredContent", {})
    an = sc.get("analysis") or {}
    check("video_analyze: summary, key points and topics, not partial",
          not res.get("isError") and sc.get("partial") is False and an.get("summary")
          and len(an.get("key_points", [])) == 3 and len(an.get("topics", [])) == 2, r)
    prog = [m["params"]["progress"] for m in seen
            if m.get("method") == "notifications/progress"
            and m["params"].get("progressToken") == "va-1"]
    check("video_analyze: progress 1, 2, 3, 4 before the result", prog == [1, 2, 3, 4], prog)
    logs = [m for m in seen if m.get("method") == "notifications/message"]
    check("video_analyze: log messages during the call", len(logs) >= 3, len(logs))

    control("POST", "/_control/fault", {"service": "chat", "mode": "status", "status": 500})
    res, _, r = s.call("video_analyze", {"url": "jNQXAC9IVRw"})
    sc = res.get("structuredContent", {})
    parts = [d.get("part") for d in sc.get("degraded", [])]
    check("video_analyze with the chat upstream failing: partial, degraded ai, no error",
          not res.get("isError") and sc.get("partial") is True and "ai" in parts
          and sc.get("analysis") is None and sc.get("video", {}).get("id") == "jNQXAC9IVRw", r)
    control("POST", "/_control/fault", {"service": "chat", "mode": "ok"})

    res, _, r = s.call("service_status", {})
    names = sorted(x.get("name") for x in res.get("structuredContent", {}).get("services", []))
    check("service_status lists the three services",
          names == ["ai_processing", "video_analysis", "youtube_api"], r)
    res, _, r = s.call("video_analyze", {"url": "not a video"})
    check("a bad url: isError naming the argument",
          res.get("isError") is True and "url" in json.dumps(res.get("content")), r)


def in_flight(s, name):
    res, _, _ = s.call("service_status", {"service": name})
    for x in res.get("structuredContent", {}).get("services", []):
        return x.get("stats", {}).get("in_flight")
    return None


def cancellation(s):
    control("POST", "/_control/reset")
    control("POST", "/_control/fault", {"service": "transcript", "mode": "hang"})
    rid = "hang-1"
    s.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "video_transcript", "arguments": {"url": "LONGVIDEO01"}}})
    deadline = time.monotonic() + cap
    while control("GET", "/_control/stats")["requests"]["transcript"] < 1:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check("the transcript request reaches the hanging upstream",
          control("GET", "/_control/stats")["requests"]["transcript"] >= 1)
    s.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": rid, "reason": "test cancels"}})
    r, _ = s.request("ping", rid="ping-1")
    check("after the cancel, ping is answered (the hang blocks nothing)",
          r is not None and r.get("result") == {}, r)
    deadline = time.monotonic() + cap
    busy = in_flight(s, "video_analysis")
    while busy and time.monotonic() < deadline:
        time.sleep(0.05)
        busy = in_flight(s, "video_analysis")
    check("the cancelled upstream transfer ends (nothing in flight)", busy == 0, busy)
    r, _ = s.request("ping", rid="ping-2")
    answered = [m for m in s.stray if m.get("id") == rid]
    check("the cancelled request gets no response", r is not None and not answered, answered)
    control("POST", "/_control/fault", {"service": "transcript", "mode": "ok"})


def main():
    s = Server()
    try:
        happy_path(s)
        cancellation(s)
        check("stdout carried nothing but JSON-RPC messages", not s.junk, s.junk[:3])
        s.p.stdin.close()
        try:
            rc = s.p.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            rc = None
        check("stdin closed: the server exits with status 0", rc == 0, rc)
    finally:
        if s.p.poll() is None:
            s.p.kill()
            s.p.wait()
    print("count %d" % n, file=sys.stderr)
    return 1 if failed else 0


sys.exit(main())
EOF
YT_KEY=$yt_key AI_KEY=$ai_key "$py" "$tmp/driver.py" "$srv" "$tmp/config.json" "$base" "$n" \
    "$cap" "$tmp/server.log" 2>"$tmp/driver.err"
st=$?
last=$(sed -n 's/^count \([0-9]*\)$/\1/p' "$tmp/driver.err")
if [ "$st" != 0 ]; then
    failed=1
    sed 's/^/# driver: /' "$tmp/driver.err" | grep -v '^# driver: count ' | tail -n 30
fi
if [ -z "$last" ]; then
    not_ok "the driver ran to the end"
else
    n=$last
fi

stop_fake
check "the fake upstream exits 0 when its stdin closes" exited fake 0

mcp_finish
