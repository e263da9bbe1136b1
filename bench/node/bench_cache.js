// bench_cache.js: the peer of bench/bench_cache.inc -- lru-cache (the most
// used Node.js cache) on the same operations and the same Zipf trace.
//
//   node bench_cache.js [--quick]
//
// Prints the rows bench_cache.inc prints:
//   RESULT <name> <threads> <ns>          ns per operation (Node: 1 thread)
//   RATIO <trace> <policy> <hit_ratio>
// Keys are 16 characters, values 64; the ratio trace is Zipf(s) over 1e6
// ranks, a cache of 10000 entries, get then set on a miss, the first 1e6
// accesses warm the cache and the next 3e6 are counted.  The generator is
// the one of bench/zipf.h, step for step (see the comment there), so both
// sides print the same trace checksum.
'use strict';

const { LRUCache } = require('lru-cache');

const QUICK = process.argv.includes('--quick') || !!process.env.BENCH_QUICK;
const RUNS = QUICK ? 3 : 5;
const RUN_NS = QUICK ? 20e6 : 100e6;
const KEYS = 1024;
const EVICT_KEYS = 65536;
const VAL = 'v'.repeat(64);

function now() {
  return Number(process.hrtime.bigint());
}

// Calibrate (also the warm-up: lets the JIT compile the body), then the
// median of RUNS timed runs of >= RUN_NS each, as bench_util.h does.
function measure(body) {
  let iters = 1000;
  for (;;) {
    const t0 = now();
    body(iters);
    const dt = now() - t0;
    if (dt >= RUN_NS / 10 || iters >= 2 ** 40) {
      iters = Math.ceil((iters * 1.1 * RUN_NS) / Math.max(dt, 1));
      break;
    }
    iters *= 4;
  }
  const ns = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = now();
    body(iters);
    ns.push((now() - t0) / iters);
  }
  ns.sort((a, b) => a - b);
  return ns[Math.floor(RUNS / 2)];
}

function key(prefix, i) {
  return prefix + String(i).padStart(12, '0');
}

const keys = Array.from({ length: EVICT_KEYS }, (_, i) => key('key:', i));
const missKeys = keys.slice(0, KEYS).map((k) => 'm' + k.slice(1));
let bad = 0;
let sink = 0;

function filled(opts, n) {
  const c = new LRUCache(opts);
  for (let i = 0; i < n; i++) c.set(keys[i], VAL);
  return c;
}

const cases = [
  ['get_hit', { max: 10000 }, KEYS, (c) => (n) => {
    for (let i = 0; i < n; i++) {
      const v = c.get(keys[i & (KEYS - 1)]);
      if (v === undefined) bad++;
      sink += v.length;
    }
  }],
  // with a TTL, as the C cache always has one
  ['get_hit_ttl', { max: 10000, ttl: 300000 }, KEYS, (c) => (n) => {
    for (let i = 0; i < n; i++) {
      const v = c.get(keys[i & (KEYS - 1)]);
      if (v === undefined) bad++;
      sink += v.length;
    }
  }],
  ['get_miss', { max: 10000 }, KEYS, (c) => (n) => {
    for (let i = 0; i < n; i++) {
      if (c.get(missKeys[i & (KEYS - 1)]) !== undefined) bad++;
    }
  }],
  ['set', { max: 10000 }, KEYS, (c) => (n) => {
    for (let i = 0; i < n; i++) c.set(keys[i & (KEYS - 1)], VAL);
  }],
  ['set_evict', { max: 4096 }, EVICT_KEYS, (c) => (n) => {
    for (let i = 0; i < n; i++) c.set(keys[i & (EVICT_KEYS - 1)], VAL);
  }],
];

// ---- the Zipf trace of bench/zipf.h ---------------------------------------

class Zipf {
  constructor(n, s, seed) {
    this.n = n;
    this.x = seed >>> 0 || 1;
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += s === 1 ? 1 / (k + 1) : Math.pow(k + 1, -s);
      this.cdf[k] = sum;
    }
  }

  xorshift32() {
    let v = this.x;
    v ^= v << 13;
    v ^= v >>> 17;
    v ^= v << 5;
    this.x = v >>> 0;
    return this.x;
  }

  next() {
    const a = this.xorshift32() >>> 5;
    const b = this.xorshift32() >>> 6;
    const u = ((a * 67108864 + b) / 9007199254740992) * this.cdf[this.n - 1];
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = lo + ((hi - lo) >>> 1);
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

const UNIVERSE = 1000000;
const WARM = 1000000;
const COUNTED = 3000000;

function ratio(s) {
  const z = new Zipf(UNIVERSE, s, 42);
  const c = new LRUCache({ max: UNIVERSE / 100 });
  let hits = 0;
  let sum = 0;
  for (let i = 0; i < WARM + COUNTED; i++) {
    const rank = z.next();
    if (i < 1000000) sum = (sum * 31 + rank) >>> 0;
    const k = 'k' + rank;
    if (c.get(k) !== undefined) {
      if (i >= WARM) hits++;
    } else {
      c.set(k, 'v');
    }
  }
  return { r: hits / COUNTED, sum };
}

// lru-cache's "exports" hide its package.json: read it from where the
// package's main file is.
function lruVersion() {
  const path = require('path');
  const fs = require('fs');
  let dir = path.dirname(require.resolve('lru-cache'));
  const isRoot = (d) =>
    path.basename(d) === 'lru-cache' && fs.existsSync(path.join(d, 'package.json'));
  while (!isRoot(dir)) {
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

function main() {
  const version = lruVersion();
  console.log(`lru-cache ${version} on Node.js ${process.version}`);
  for (const [name, opts, fill, make] of cases) {
    const c = filled(opts, fill);
    const ns = measure(make(c));
    console.log(`RESULT lru-cache_${name} 1 ${ns.toFixed(2)}`);
  }
  for (const s of [0.8, 1.0]) {
    const { r, sum } = ratio(s);
    console.log(`RATIO zipf${s.toFixed(1)} lru-cache ${r.toFixed(4)}`);
    console.log(`# zipf${s.toFixed(1)} trace checksum ${sum}`);
  }
  if (bad) {
    console.error(`bench_cache.js: ${bad} operations did not take the measured path`);
    process.exitCode = 1;
  }
  if (sink === -1) console.log(sink); // keeps sink alive
}

main();
