-- wrk script for bench/mcp/run.sh: tools/call of one trivial tool over
-- Streamable HTTP, every connection in ONE MCP session.
--
--   MCP_SESSION=<Mcp-Session-Id> [MCP_TOOL=test_simple_text] \
--     wrk -t2 -c10 -d5s -s call.lua http://127.0.0.1:PORT/mcp
--
-- The session is made beforehand (run.sh: initialize + notifications/
-- initialized with curl) because wrk's Lua cannot send a request of its own
-- and read the answer before the run.  An empty MCP_SESSION sends no
-- session header (the bare libmicrohttpd ceiling ignores it anyway).
--
-- Each request gets its own JSON-RPC id (thread number * 1e9 + a counter):
-- ids must be unique among a session's requests in flight, and servers map
-- responses to streams by id.
--
-- A response counts as bad when its status is not 200 or its body holds no
-- "result" (a JSON-RPC error, or an SSE stream that ended without the
-- response).  wrk's own socket errors are counted apart (sockerr).
-- done() prints one parseable line:
--   WRKRESULT requests=N seconds=S rps=R p50_us=A p99_us=B bad=K sockerr=E
-- and the first bad response, for diagnosis.

local session = os.getenv("MCP_SESSION") or ""
local tool = os.getenv("MCP_TOOL") or "test_simple_text"
local version = os.getenv("MCP_VERSION") or "2025-11-25"

local threads = {}
local nthreads = 0

function setup(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads)
   table.insert(threads, thread)
end

function init(args)
   counter = 0
   bad = 0
   first_bad = ""
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json, text/event-stream"
   wrk.headers["MCP-Protocol-Version"] = version
   if session ~= "" then
      wrk.headers["Mcp-Session-Id"] = session
   end
   prefix = '{"jsonrpc":"2.0","id":'
   suffix = ',"method":"tools/call","params":{"name":"' .. tool .. '","arguments":{}}}'
end

function request()
   counter = counter + 1
   local id = string.format("%d", tid * 1000000000 + counter)
   return wrk.format(nil, nil, nil, prefix .. id .. suffix)
end

function response(status, headers, body)
   if status ~= 200 or not string.find(body, '"result"', 1, true) then
      bad = bad + 1
      if first_bad == "" then
         first_bad = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local nbad = 0
   local example = ""
   for _, t in ipairs(threads) do
      nbad = nbad + t:get("bad")
      local fb = t:get("first_bad")
      if example == "" and fb ~= nil and fb ~= "" then
         example = fb
      end
   end
   local e = summary.errors
   local sockerr = e.connect + e.read + e.write + e.timeout
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WRKRESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d bad=%d sockerr=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50), latency:percentile(99), nbad, sockerr))
   if example ~= "" then
      io.write("WRKBAD " .. string.gsub(example, "\n", "\\n") .. "\n")
   end
end
