// The TypeScript-SDK peer of mcp-server in bench/mcp/run.sh: the official
// SDK (@modelcontextprotocol/sdk, pinned in package.json) serving the same
// trivial tool as mcp-server's conformance fixture program, the way the
// SDK's documentation shows it.
//
//   node ts_server.mjs --http [--port-file FILE] [--json]
//   node ts_server.mjs --plain [--port-file FILE]
//   node ts_server.mjs --stdio
//
// --http: McpServer + StreamableHTTPServerTransport on node:http, stateful
// sessions (one McpServer and one transport per session, found by the
// Mcp-Session-Id header), on 127.0.0.1 and a port the kernel picks, written
// to FILE (default $MCP_PORT_FILE).  POST replies are SSE streams, the SDK's
// default, unless --json (enableJsonResponse: true).  Exits when stdin
// reaches EOF or on SIGTERM/SIGINT.
// --plain: no SDK at all: node:http answering every POST with the constant
// JSON-RPC result bare_mhd.c sends (Node's own HTTP ceiling here, to tell
// what the SDK costs from what Node's HTTP server costs).
// --stdio: the same server over StdioServerTransport; exits when stdin ends.
//
// Tool: test_simple_text, no arguments, one text content item: the same
// name and result as tests/conformance's fixture.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { writeFileSync, renameSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const TEXT = 'This is a simple text response for testing.';
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
};

function makeServer() {
  const server = new McpServer({ name: 'ts-bench-server', version: '0.1.0' });
  server.registerTool(
    'test_simple_text',
    { description: 'Returns a fixed text (benchmark and conformance fixture)' },
    async () => ({ content: [{ type: 'text', text: TEXT }] }),
  );
  return server;
}

// Reads a whole request body, bounded (the C server's default limit).
function readBody(req) {
  const MAX = 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function fail(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function onRequest(sessions, json, req, res) {
  if (req.url !== '/mcp') {
    fail(res, 404, 'not found');
    return;
  }
  const sid = req.headers['mcp-session-id'];
  let body;
  if (req.method === 'POST') {
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      fail(res, 400, `bad body: ${e.message}`);
      return;
    }
  }
  let transport = sid ? sessions.get(sid) : undefined;
  if (!transport) {
    if (sid || req.method !== 'POST' || !isInitializeRequest(body)) {
      fail(res, sid ? 404 : 400, sid ? 'unknown session' : 'no session');
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: json,
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await makeServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

const PLAIN = Buffer.from(JSON.stringify({
  jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: TEXT }] },
}));

function plainRequest(req, res) {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': PLAIN.length });
    res.end(PLAIN);
  });
}

function serveHttp(plain) {
  const sessions = new Map();
  const json = args.includes('--json');
  const portFile = opt('--port-file') ?? process.env.MCP_PORT_FILE;
  const http = createServer(plain ? plainRequest : (req, res) => {
    onRequest(sessions, json, req, res).catch((e) => {
      if (!res.headersSent) fail(res, 500, String(e && e.message));
      else res.end();
    });
  });
  http.keepAliveTimeout = 30000;
  const mode = plain ? 'plain node:http' : `${json ? 'JSON' : 'SSE'} replies`;
  http.listen(0, '127.0.0.1', () => {
    const { port } = http.address();
    process.stderr.write(`ts_server: listening on 127.0.0.1:${port} (${mode})\n`);
    if (portFile) {
      writeFileSync(`${portFile}.tmp`, `${port}\n`);
      renameSync(`${portFile}.tmp`, portFile);
    }
  });
  const stop = () => process.exit(0);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function serveStdio() {
  const transport = new StdioServerTransport();
  transport.onclose = () => process.exit(0);
  process.stdin.on('end', () => process.exit(0));
  await makeServer().connect(transport);
}

if (args.includes('--stdio')) {
  await serveStdio();
} else if (args.includes('--http') || args.includes('--plain')) {
  serveHttp(args.includes('--plain'));
} else {
  process.stderr.write('usage: node ts_server.mjs --http [--port-file FILE] [--json] | --plain | --stdio\n');
  process.exit(2);
}
