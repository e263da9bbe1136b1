// Drives the real mcp-server with the official TypeScript SDK client
// (@modelcontextprotocol/sdk), over stdio or Streamable HTTP, against the fake
// upstream that tests/check-mcp-sdk.sh started: initialize, tools/list (exactly the
// production tools), every tool with its structuredContent (the SDK validates it
// against the tool's outputSchema), progress, cancellation, ping, session end.
//
//   node sdk_client.mjs stdio --server BIN --config FILE --fake URL
//   node sdk_client.mjs http --url http://127.0.0.1:PORT/mcp --fake URL
//
// Prints one TAP line per check ("ok N - ...") and exits 1 if any failed.
// Every wait is bounded (request timeouts, a watchdog for the whole run).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const PRODUCTION_TOOLS = ['ai_analyze', 'service_status', 'video_analyze', 'video_metadata',
    'video_transcript'];
const VIDEO = 'dQw4w9WgXcQ';
const VIDEO_URL = `https://www.youtube.com/watch?v=${VIDEO}`;
const TITLE = 'Rick Astley - Never Gonna Give You Up (Official Music Video)';
const REQUEST_TIMEOUT_MS = 30000;
const WATCHDOG_MS = 150000;

function parseArgs(argv) {
    const o = { mode: argv[0] };
    for (let i = 1; i < argv.length; i += 2) {
        const k = argv[i].replace(/^--/, '');
        o[k] = argv[i + 1];
    }
    if (!['stdio', 'http'].includes(o.mode) || !o.fake ||
        (o.mode === 'stdio' && (!o.server || !o.config)) || (o.mode === 'http' && !o.url)) {
        console.error('usage: sdk_client.mjs stdio --server BIN --config FILE --fake URL\n' +
                      '       sdk_client.mjs http --url URL --fake URL');
        process.exit(2);
    }
    return o;
}

const opts = parseArgs(process.argv.slice(2));
let n = 0;
let failed = 0;

function ok(cond, what, detail) {
    n++;
    if (cond) {
        console.log(`ok ${n} - ${opts.mode}: ${what}`);
    } else {
        failed++;
        console.log(`not ok ${n} - ${opts.mode}: ${what}`);
        if (detail !== undefined)
            console.log(`#   ${String(typeof detail === 'string' ? detail
                                                           : JSON.stringify(detail)).slice(0, 600)}`);
    }
    return cond;
}

// Runs fn; a throw is one failed check named what (and returns undefined).
async function step(what, fn) {
    try {
        return await fn();
    } catch (e) {
        ok(false, what, e && e.stack ? e.stack : String(e));
        return undefined;
    }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls pred() every 50 ms until it is true or ms pass.
async function waitFor(pred, ms) {
    const end = Date.now() + ms;
    for (;;) {
        if (await pred())
            return true;
        if (Date.now() > end)
            return false;
        await sleep(50);
    }
}

async function fake(path, body) {
    const r = await fetch(opts.fake + path, body === undefined ? {} : {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
    });
    return r.json();
}

function makeTransport() {
    if (opts.mode === 'http')
        return new StreamableHTTPClientTransport(new URL(opts.url));
    return new StdioClientTransport({
        command: opts.server,
        args: ['--stdio', '--config', opts.config],
        env: { ...process.env },
        stderr: 'pipe',
    });
}

const call = (client, name, args, extra = {}) =>
    client.callTool({ name, arguments: args }, undefined,
                    { timeout: REQUEST_TIMEOUT_MS, ...extra });

async function checkInitialize(client, transport) {
    const info = client.getServerVersion();
    ok(info && typeof info.name === 'string' && typeof info.version === 'string',
       'initialize: serverInfo has a name and a version', info);
    const caps = client.getServerCapabilities();
    ok(caps && caps.tools !== undefined, 'initialize: the tools capability is declared', caps);
    if (opts.mode === 'http') {
        ok(typeof transport.sessionId === 'string' && /^[\x21-\x7e]+$/.test(transport.sessionId),
           'initialize: an Mcp-Session-Id of visible ASCII', transport.sessionId);
    }
    const pong = await client.ping({ timeout: REQUEST_TIMEOUT_MS });
    ok(pong && Object.keys(pong).length === 0, 'ping answers {}', pong);
}

async function checkList(client) {
    const { tools } = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const names = tools.map((t) => t.name).sort();
    ok(JSON.stringify(names) === JSON.stringify(PRODUCTION_TOOLS),
       'tools/list: exactly the five production tools', names);
    ok(!names.some((x) => x.startsWith('test_') || x === 'json_schema_2020_12_tool'),
       'tools/list: no conformance fixture', names);
    ok(tools.every((t) => t.inputSchema && t.inputSchema.type === 'object' && t.description),
       'tools/list: every tool has a description and an object inputSchema');
    ok(tools.every((t) => t.outputSchema && t.outputSchema.type === 'object'),
       'tools/list: every tool declares an outputSchema');
    return tools;
}

// Arguments for ai_analyze from its schema: the text property gets the text,
// a second required string (instruction, prompt, ...) gets the instruction.
function aiArgs(tool, text, instruction) {
    const props = Object.keys(tool?.inputSchema?.properties ?? {});
    const args = {};
    const textKey = props.find((p) => /^(text|input|content)$/.test(p)) ?? 'text';
    args[textKey] = text;
    const instrKey = props.find((p) => /instruction|prompt|task|question/.test(p));
    if (instrKey)
        args[instrKey] = instruction;
    return args;
}

async function checkMetadata(client) {
    const r = await call(client, 'video_metadata', { url: VIDEO_URL });
    const sc = r.structuredContent ?? {};
    ok(!r.isError, 'video_metadata: not an error', r.content);
    ok(sc.id === VIDEO && sc.title === TITLE,
       'video_metadata: structuredContent has the id and the title', sc);
    ok(sc.source === 'youtube_data_api' && sc.duration_seconds === 213,
       'video_metadata: from the Data API (key configured) with duration_seconds 213', sc);
    ok(r.content?.some((c) => c.type === 'text' && c.text.length > 0),
       'video_metadata: a text content block too');
}

async function checkTranscript(client) {
    const r = await call(client, 'video_transcript', { url: VIDEO, limit: 5 });
    const sc = r.structuredContent ?? {};
    ok(!r.isError, 'video_transcript: not an error', r.content);
    ok(sc.id === VIDEO && Array.isArray(sc.segments) && sc.segments.length === 5 &&
       sc.total === 12, 'video_transcript: a page of 5 of the 12 segments', sc);
    ok(sc.next_offset === 5, 'video_transcript: next_offset points at the next page', sc);
    const r2 = await call(client, 'video_transcript', { url: VIDEO, offset: 10, limit: 5 });
    const sc2 = r2.structuredContent ?? {};
    ok(sc2.count === 2 && sc2.next_offset === undefined,
       'video_transcript: the last page has the 2 remaining segments and no next_offset', sc2);
}

async function checkAi(client, tool) {
    const r = await call(client, 'ai_analyze',
                         aiArgs(tool, 'Retries, breakers and caches keep upstreams usable.',
                                'Summarise this in one sentence.'));
    ok(!r.isError, 'ai_analyze: not an error', r.content);
    const text = JSON.stringify(r.structuredContent ?? {});
    ok(/Echo: /.test(text) || /Retries, breakers/.test(text),
       'ai_analyze: structuredContent carries the model\'s answer', r.structuredContent);
}

async function checkStatus(client) {
    const r = await call(client, 'service_status', {});
    const sc = r.structuredContent ?? {};
    const names = (sc.services ?? []).map((s) => s.name).sort();
    ok(!r.isError && JSON.stringify(names) ===
       JSON.stringify(['ai_processing', 'video_analysis', 'youtube_api']),
       'service_status: the three services by name', sc);
    return sc;
}

// What the server put on the wire, in arrival order, before the SDK dispatches it: the
// SDK hands notifications to their handlers in a later microtask but settles a
// response at once, so progress that arrives in the same read as the response is
// dropped as "unknown token" (typescript-sdk issue 2580). The server's behaviour is
// checked here; what reached onprogress is reported.
const wire = [];
function tap(transport) {
    const deliver = transport.onmessage;
    transport.onmessage = (msg, extra) => {
        if (msg.method === 'notifications/progress')
            wire.push({ progress: msg.params });
        else if (msg.id !== undefined && (msg.result !== undefined || msg.error !== undefined))
            wire.push({ response: msg.id });
        deliver?.(msg, extra);
    };
}

// A video not fetched before, so the steps hit the upstreams and take time.
async function checkProgress(client) {
    const video = 'jNQXAC9IVRw';
    const seen = [];
    wire.length = 0;
    const r = await call(client, 'video_analyze', { url: `https://youtu.be/${video}` },
                         { onprogress: (p) => seen.push(p.progress),
                           resetTimeoutOnProgress: true });
    const sc = r.structuredContent ?? {};
    ok(!r.isError && sc.video?.id === video && sc.partial === false,
       'video_analyze: a complete (not partial) result for the video', sc);
    ok(typeof sc.analysis?.summary === 'string' && sc.analysis.summary.length > 0 &&
       Array.isArray(sc.analysis.key_points), 'video_analyze: a summary and key points',
       sc.analysis);
    const sent = wire.filter((e) => e.progress).map((e) => e.progress);
    const values = sent.map((p) => p.progress);
    const tokens = [...new Set(sent.map((p) => p.progressToken))];
    ok(sent.length >= 3, `video_analyze: at least 3 progress notifications (${sent.length})`,
       sent);
    ok(values.every((v, i) => i === 0 || v > values[i - 1]),
       'video_analyze: progress values strictly increase', values);
    const last = wire.map((e) => e.progress !== undefined).lastIndexOf(true);
    const resp = wire.findIndex((e) => e.response !== undefined && e.response === tokens[0]);
    ok(tokens.length === 1 && resp > last,
       'video_analyze: progress carries the request\'s token and precedes the response',
       { tokens, wire });
    ok(seen.every((v) => values.includes(v)),
       'video_analyze: onprogress got only values the server sent', { seen, values });
    console.log(`# ${opts.mode}: the SDK delivered ${seen.length} of ${sent.length} progress ` +
                'notifications to onprogress (typescript-sdk issue 2580)');
}

function aiInFlight(sc) {
    const ai = (sc.services ?? []).find((s) => s.name === 'ai_processing');
    return ai?.stats?.in_flight;
}

// A call whose upstream hangs is aborted by the client: the SDK rejects, sends
// notifications/cancelled, the server stops the work (the upstream request is
// aborted, so ai_processing has nothing in flight) and goes on serving.
async function checkCancel(client, tool) {
    await fake('/_control/reset', {});
    await fake('/_control/fault', { service: 'chat', mode: 'hang', count: 1 });
    const ac = new AbortController();
    const p = call(client, 'ai_analyze',
                   aiArgs(tool, `A text nobody has asked about before: ${process.pid} ${Date.now()}`,
                          'Summarise it.'),
                   { signal: ac.signal });
    const settled = p.then(() => 'resolved', (e) => e);
    const reached = await waitFor(async () => (await fake('/_control/stats')).requests.chat >= 1,
                                  10000);
    ok(reached, 'cancel: the call reached the (hanging) chat upstream');
    ac.abort();
    const outcome = await settled;
    ok(outcome !== 'resolved' && (outcome?.name === 'AbortError' || /abort/i.test(String(outcome))),
       'cancel: the SDK rejects the aborted call', String(outcome));
    const pong = await client.ping({ timeout: REQUEST_TIMEOUT_MS });
    ok(pong !== undefined, 'cancel: the server still answers ping');
    let last;
    const drained = await waitFor(async () => {
        last = await checkStatusQuiet(client);
        return aiInFlight(last) === 0;
    }, 10000);
    ok(drained, 'cancel: the upstream request was aborted (ai_processing in_flight back to 0)',
       last && aiInFlight(last));
    const stats = await fake('/_control/stats');
    ok(stats.requests.chat === 1, 'cancel: the cancelled call was not retried upstream', stats);
    const r = await call(client, 'ai_analyze', aiArgs(tool, 'After the cancel.', 'Echo it.'));
    ok(!r.isError, 'cancel: a later call on the same service succeeds', r.content);
}

async function checkStatusQuiet(client) {
    const r = await call(client, 'service_status', {});
    return r.structuredContent ?? {};
}

// DELETE ends the session: a request naming it afterwards gets 404.
async function checkSessionEnd(transport) {
    const sid = transport.sessionId;
    await transport.terminateSession();
    ok(transport.sessionId === undefined, 'session end: terminateSession() sent DELETE');
    const r = await fetch(opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json',
                   accept: 'application/json, text/event-stream',
                   'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
    });
    ok(r.status === 404, `session end: a POST with the ended session id gets 404 (${r.status})`);
}

async function main() {
    const watchdog = setTimeout(() => {
        console.log(`not ok ${n + 1} - ${opts.mode}: the run finished within ${WATCHDOG_MS} ms`);
        process.exit(1);
    }, WATCHDOG_MS);
    watchdog.unref();
    const transport = makeTransport();
    let stderr = '';
    if (opts.mode === 'stdio')
        transport.stderr?.on('data', (d) => { stderr += d; });
    const client = new Client({ name: 'libresil-sdk-test', version: '1.0.0' },
                              { capabilities: {} });
    const connected = await step('initialize: connect', () => client.connect(transport));
    if (connected === undefined && !client.getServerVersion()) {
        if (stderr)
            console.log(stderr.split('\n').slice(-20).map((l) => `# ${l}`).join('\n'));
        return;
    }
    tap(transport);
    await step('initialize', () => checkInitialize(client, transport));
    const tools = (await step('tools/list', () => checkList(client))) ?? [];
    const ai = tools.find((t) => t.name === 'ai_analyze');
    await step('video_metadata', () => checkMetadata(client));
    await step('video_transcript', () => checkTranscript(client));
    await step('ai_analyze', () => checkAi(client, ai));
    await step('service_status', () => checkStatus(client));
    await step('progress', () => checkProgress(client));
    await step('cancel', () => checkCancel(client, ai));
    if (opts.mode === 'http')
        await step('session end', () => checkSessionEnd(transport));
    await step('close', () => client.close());
    if (opts.mode === 'stdio') {
        // A sanitizer build reports leaks and errors on stderr at exit.
        ok(!/Sanitizer|runtime error:/.test(stderr),
           'the server\'s stderr has no sanitizer report', stderr.slice(-2000));
    }
    if (failed && stderr)
        console.log(stderr.split('\n').slice(-30).map((l) => `# server: ${l}`).join('\n'));
}

await main();
console.log(`# ${opts.mode}: ${n - failed} passed, ${failed} failed`);
process.exit(failed || n === 0 ? 1 : 0);
