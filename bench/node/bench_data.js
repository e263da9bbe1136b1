'use strict';
// Peer benchmarks for libresil's bench/bench_data (metrics rows): the same
// operations in prom-client, the Prometheus client most used from Node.js.
//
//   node bench_data.js [--quick]
//
// prom-client's recording calls are synchronous, so each is timed in a plain
// loop; the exposition (registry.metrics()) returns a promise and is awaited.
// Timing is as in bench_data (calibrate, then the median of 5 runs of
// >= 200 ms each, timed with process.hrtime.bigint() around the whole loop),
// after a warm-up of one run's length so the JIT has optimised the code.
//
// Output: a table, then `RESULT <name> 1 <ns>` lines for bench/run_data.sh.
//   prom_counter_inc            counter.inc() on a metric without labels
//   prom_counter_inc_child      child.inc() on a cached labels() child
//                               (what a cached libresil handle is)
//   prom_counter_inc_lookup     counter.inc({method}, 1): a label lookup
//   prom_histogram_observe      histogram.observe(v), default buckets
//   prom_gauge_set              gauge.set(v)
//   prom_export_100             await registry.metrics() of 100 series

const client = require('prom-client');

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;
const RUN_NS = quick ? 20000000 : 200000000;
const NVALUES = 4096;

// The latencies bench_data records: the same generator, four decades.
function values() {
  const v = new Float64Array(NVALUES);
  let s = 42n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < NVALUES; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & mask;
    const u = Number(s >> 11n) / 9007199254740992;
    v[i] = 1e-4 * Math.exp(u * Math.log(1e4));
  }
  return v;
}

function timeLoop(loop, iters) {
  const t0 = process.hrtime.bigint();
  loop(iters);
  return Number(process.hrtime.bigint() - t0);
}

async function timeLoopAsync(loop, iters) {
  const t0 = process.hrtime.bigint();
  await loop(iters);
  return Number(process.hrtime.bigint() - t0);
}

async function measure(loop, isAsync) {
  const run = isAsync ? timeLoopAsync : async (l, n) => timeLoop(l, n);
  const warmEnd = process.hrtime.bigint() + BigInt(RUN_NS);
  while (process.hrtime.bigint() < warmEnd) await run(loop, 100);
  let iters = 100;
  let t;
  for (;;) {
    t = await run(loop, iters);
    if (t >= RUN_NS / 10 || iters >= 2 ** 40) break;
    iters *= 4;
  }
  iters = Math.ceil(iters * 1.1 * RUN_NS / Math.max(t, 1));
  const ns = [];
  while (ns.length < RUNS) {
    t = await run(loop, iters);
    if (t < RUN_NS) { // came out short: lengthen the runs, redo this one
      iters = Math.ceil(iters * 1.1 * RUN_NS / Math.max(t, 1));
      continue;
    }
    ns.push(t / iters);
  }
  ns.sort((a, b) => a - b);
  return ns[Math.floor(RUNS / 2)];
}

function registry100() {
  const reg = new client.Registry();
  const c = new client.Counter({
    name: 'bench_requests_total', help: 'Requests.', labelNames: ['route'], registers: [reg],
  });
  for (let i = 0; i < 80; i++) c.inc({ route: `/route/${i}` }, i * 7);
  for (let i = 0; i < 10; i++) {
    const g = new client.Gauge({ name: `bench_gauge_${i}`, help: 'A gauge.', registers: [reg] });
    g.set(i * 1.5);
    const h = new client.Histogram({
      name: `bench_latency_${i}_seconds`, help: 'A histogram.', registers: [reg],
    });
    for (let j = 0; j < 1000; j++) h.observe(0.0001 * (j + 1));
  }
  return reg;
}

async function main() {
  const reg = new client.Registry();
  const counter = new client.Counter({ name: 'c_total', help: 'c', registers: [reg] });
  const labelled = new client.Counter({
    name: 'l_total', help: 'l', labelNames: ['method'], registers: [reg],
  });
  const child = labelled.labels({ method: 'GET' });
  const hist = new client.Histogram({ name: 'h_seconds', help: 'h', registers: [reg] });
  const gauge = new client.Gauge({ name: 'g', help: 'g', registers: [reg] });
  const v = values();
  const methods = ['GET', 'POST', 'PUT', 'DELETE'];
  const labelSets = methods.map((m) => ({ method: m }));
  const reg100 = registry100();

  const cases = [
    ['prom_counter_inc', 'prom-client counter.inc()', false,
      (n) => { for (let i = 0; i < n; i++) counter.inc(); }],
    ['prom_counter_inc_child', 'prom-client labels() child .inc()', false,
      (n) => { for (let i = 0; i < n; i++) child.inc(); }],
    ['prom_counter_inc_lookup', 'prom-client counter.inc(labels, 1)', false,
      (n) => { for (let i = 0; i < n; i++) labelled.inc(labelSets[i & 3], 1); }],
    ['prom_histogram_observe', 'prom-client histogram.observe(v)', false,
      (n) => { for (let i = 0; i < n; i++) hist.observe(v[i & (NVALUES - 1)]); }],
    ['prom_gauge_set', 'prom-client gauge.set(v)', false,
      (n) => { for (let i = 0; i < n; i++) gauge.set(i); }],
    ['prom_export_100', 'prom-client registry.metrics(), 100 series', true,
      async (n) => { for (let i = 0; i < n; i++) await reg100.metrics(); }],
  ];

  const pad = (s, w) => String(s).padEnd(w);
  console.log(`prom-client ${require('prom-client/package.json').version} on Node.js ` +
    `${process.version}: median of ${RUNS} runs of >= ${RUN_NS / 1e6} ms, ns per operation`);
  console.log(`${pad('operation', 44)} ${'ns/op'.padStart(9)}`);
  const results = [];
  for (const [name, label, isAsync, loop] of cases) {
    const ns = await measure(loop, isAsync);
    results.push([name, ns]);
    console.log(`${pad(label, 44)} ${ns.toFixed(1).padStart(9)}`);
  }
  // keep the totals observable so no loop is dead code
  const total = (await counter.get()).values[0].value;
  if (!(total > 0)) throw new Error('counter did not count');
  for (const [name, ns] of results) console.log(`RESULT ${name} 1 ${ns.toFixed(2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
