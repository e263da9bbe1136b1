'use strict';
// Peer benchmarks for libresil's bench/bench_core: the same operations in
// opossum (circuit breaker) and cockatiel (circuit breaker, retry), the two
// most used resilience libraries for Node.js.
//
//   node bench.js [--quick]
//
// Both libraries are promise-based, so every operation is awaited in a plain
// loop and the time is per awaited operation: that includes the promise and
// microtask machinery a caller of these libraries always pays.  Timing is as
// in bench_core (calibrate, then the median of 5 runs of >= 200 ms each,
// timed with process.hrtime.bigint() around the whole loop), after a
// warm-up of one run's length so the JIT has optimised the code.
//
// Output: a table, then `RESULT <name> 1 <ns>` lines for bench/run.sh.
// Neither library has a rate limiter (cockatiel has a bulkhead, a
// concurrency limit, which is a different thing), so there is no limiter peer.

const CircuitBreaker = require('opossum');
const {
  circuitBreaker, retry, handleAll, ConsecutiveBreaker, BrokenCircuitError,
} = require('cockatiel');

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;
const RUN_NS = quick ? 20000000 : 200000000;
const HOUR_MS = 3600 * 1000;

// The protected operation: resolves at once, as a cached or local answer
// would.  Both libraries expect a function returning a promise.
const op = async () => 42;
const fail = async () => { throw new Error('remote down'); };

async function timeLoop(loop, iters) {
  const t0 = process.hrtime.bigint();
  await loop(iters);
  return Number(process.hrtime.bigint() - t0);
}

async function measure(loop) {
  // Warm-up: the JIT needs tens of thousands of calls before a library's code
  // is optimised (the first 1000 calls of opossum's fire() are 10x slower).
  const warmEnd = process.hrtime.bigint() + BigInt(RUN_NS);
  while (process.hrtime.bigint() < warmEnd) await loop(1000);
  let iters = 1000;
  let t;
  for (;;) {
    t = await timeLoop(loop, iters);
    if (t >= RUN_NS / 10 || iters >= 2 ** 40) break;
    iters *= 4;
  }
  iters = Math.ceil(iters * 1.1 * RUN_NS / Math.max(t, 1));
  const ns = [];
  while (ns.length < RUNS) {
    t = await timeLoop(loop, iters);
    if (t < RUN_NS) { // came out short: lengthen the runs, redo this one
      iters = Math.ceil(iters * 1.1 * RUN_NS / Math.max(t, 1));
      continue;
    }
    ns.push(t / iters);
  }
  ns.sort((a, b) => a - b);
  return ns[Math.floor(RUNS / 2)];
}

const results = [];
function report(name, label, ns) {
  results.push([name, ns]);
  console.log(`${label.padEnd(48)} ${'1'.padStart(7)} ${ns.toFixed(1).padStart(9)}`);
}

function expect(cond, what) {
  if (!cond) throw new Error(`benchmark did not take the measured path: ${what}`);
}

async function benchOpossum() {
  // Defaults (timeout 10 s armed per call, rolling 10 s stats) but for a
  // long resetTimeout, so an opened breaker stays open for the whole run.
  const closed = new CircuitBreaker(op, { resetTimeout: HOUR_MS });
  report('opossum_closed', 'opossum fire(), closed', await measure(async (n) => {
    for (let i = 0; i < n; i++) await closed.fire();
  }));
  // The same without the per-call timeout timer.
  const bare = new CircuitBreaker(op, { resetTimeout: HOUR_MS, timeout: false });
  report('opossum_closed_notimeout', 'opossum fire(), closed, timeout:false',
    await measure(async (n) => {
      for (let i = 0; i < n; i++) await bare.fire();
    }));
  const open = new CircuitBreaker(op, { resetTimeout: HOUR_MS });
  open.open();
  let rejected = 0;
  report('opossum_open', 'opossum fire(), open (rejection)', await measure(async (n) => {
    for (let i = 0; i < n; i++) {
      try { await open.fire(); } catch (e) { if (e.code === 'EOPENBREAKER') rejected++; }
    }
  }));
  expect(rejected > 0 && open.opened, 'opossum rejections');
  for (const b of [closed, bare, open]) b.shutdown();
}

async function benchCockatiel() {
  const mk = () => circuitBreaker(handleAll, {
    halfOpenAfter: HOUR_MS, breaker: new ConsecutiveBreaker(5),
  });
  const closed = mk();
  report('cockatiel_closed', 'cockatiel breaker execute(), closed',
    await measure(async (n) => {
      for (let i = 0; i < n; i++) await closed.execute(op);
    }));
  const open = mk();
  for (let i = 0; i < 5; i++) {
    try { await open.execute(fail); } catch (e) { /* tripping it */ }
  }
  let rejected = 0;
  report('cockatiel_open', 'cockatiel breaker execute(), open (rejection)',
    await measure(async (n) => {
      for (let i = 0; i < n; i++) {
        try { await open.execute(op); } catch (e) {
          if (e instanceof BrokenCircuitError) rejected++;
        }
      }
    }));
  expect(rejected > 0, 'cockatiel rejections');

  const policy = retry(handleAll, { maxAttempts: 3 });
  const bareNs = await measure(async (n) => {
    for (let i = 0; i < n; i++) await op();
  });
  report('node_bare_await', 'bare awaited op (retry baseline)', bareNs);
  const runNs = await measure(async (n) => {
    for (let i = 0; i < n; i++) await policy.execute(op);
  });
  report('cockatiel_retry_run', 'cockatiel retry execute(), success first try', runNs);
  report('cockatiel_retry_overhead', 'cockatiel retry overhead (run - bare)', runNs - bareNs);
}

function version(pkg) {
  try { return require(`${pkg}/package.json`).version; } catch (e) { return '?'; }
}

async function main() {
  console.log(`node ${process.version}, opossum ${version('opossum')}, cockatiel ` +
    `${version('cockatiel')}: median of ${RUNS} runs of >= ${RUN_NS / 1e6} ms, ` +
    'ns per awaited operation');
  console.log(`${'operation'.padEnd(48)} ${'threads'.padStart(7)} ${'ns/op'.padStart(9)}`);
  await benchOpossum();
  await benchCockatiel();
  console.log(`${'rate limiter'.padEnd(48)} ${'1'.padStart(7)} ${'n/a'.padStart(9)}` +
    '  (neither library has one)');
  for (const [name, ns] of results) console.log(`RESULT ${name} 1 ${ns.toFixed(2)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
