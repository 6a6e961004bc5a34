// Runs every entry point (sync and async, stepMany with a kept batch, save/load, errors) in a
// loop and prints, per routine, the resident memory outside V8's heap sampled over 2·ROUNDS calls
// after a warm-up of ROUNDS, and its growth: the lowest of the last four samples less the lowest
// of the first four. JSON. Needs --expose-gc.
// Usage: node --expose-gc leak-loop.cjs [ROUNDS] [leaky]
const { everyAsync, everySync, lib } = require('./async-work.cjs');
const { Matrix } = lib;
const rounds = Number(process.argv[2] ?? 300);

function stepManyLoop() {
  const entries = ['adamw', 'muon', 'soap', 'shampoo', 'galore-adamw', 'adafactor'].map((rule, i) => {
    const opt = lib.createOptimizer(rule, rule === 'galore-adamw' ? { rank: 4 } : {});
    const param = Matrix.randn(24, 16 + i, i);
    return { optimizer: opt, param, grad: Matrix.randn(24, 16 + i, 100 + i), state: opt.init(param) };
  });
  return () => {
    lib.stepMany(entries);
    for (const e of entries) lib.loadState(lib.saveState(e.state));
  };
}

const routines = {
  sync: () => everySync(48, 1),
  // Every other call on SharedArrayBuffer inputs (copied on the worker thread).
  async: (() => {
    let calls = 0;
    return async () => Promise.all(everyAsync(48, 1, calls++ % 2 === 1));
  })(),
  stepMany: stepManyLoop(),
  // A fresh (unkept) batch every time, and a failing step.
  step: () => {
    const opt = lib.createOptimizer('adam');
    const p = Matrix.randn(32, 32, 2);
    const s = opt.init(p);
    opt.step(p, Matrix.randn(32, 32, 3), s);
    try {
      opt.step(p, Matrix.from(32, 32, new Float32Array(1024).fill(NaN)), s);
    } catch {
      /* expected: NaN gradient */
    }
  },
  errors: async () => {
    for (const f of [() => lib.svd(Matrix.from(1, 2, [NaN, 1])), () => lib.matmul(Matrix.zeros(2, 3), Matrix.zeros(2, 3))]) {
      try { f(); } catch { /* expected */ }
    }
    await lib.svdAsync(Matrix.from(1, 2, [NaN, 1])).catch(() => {});
  },
};

// Memory outside V8's own heap (which grows and shrinks by its own sizing rules, not by leaks):
// the addon's allocations, OpenBLAS's buffers, ArrayBuffer backing stores.
// `leaky` instead of the routines: one that keeps a 48x48 Float32Array per call, to show the
// measure sees a leak of that size.
const retained = [];
const selected = process.argv[3] === 'leaky' ? { leaky: () => retained.push(new Float32Array(48 * 48).fill(1)) } : routines;

const rss = () => {
  const { rss: total, heapTotal } = process.memoryUsage();
  return (total - heapTotal) / 2 ** 20;
};
(async () => {
  const result = {};
  for (const [name, f] of Object.entries(selected)) {
    const run = async (n) => {
      for (let i = 0; i < n; i++) await f();
      global.gc();
      await new Promise((r) => setTimeout(r, 10));
      global.gc();
    };
    await run(rounds); // warm-up: caches, JIT, OpenBLAS buffers, allocator arenas
    // Then 10 chunks of rounds/5 calls, a sample after each: a leak rises chunk after chunk,
    // while the allocator's and V8's sizing moves the samples up and down by a few MiB.
    const samples = [];
    for (let k = 0; k < 10; k++) {
      await run(Math.ceil(rounds / 5));
      samples.push(+rss().toFixed(1));
    }
    const low = (xs) => Math.min(...xs);
    result[name] = { rounds: 3 * rounds, samplesMiB: samples, growthMiB: +(low(samples.slice(6)) - low(samples.slice(0, 4))).toFixed(2) };
  }
  process.stdout.write(JSON.stringify(result));
})();
