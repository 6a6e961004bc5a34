// Runs every entry point (sync and async, stepMany with a kept batch, save/load, errors) in a
// loop and prints the RSS growth per routine after a warm-up, as JSON. Needs --expose-gc.
// Usage: node --expose-gc leak-loop.cjs [ROUNDS]
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
  async: async () => Promise.all(everyAsync(48, 1)),
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

const rss = () => process.memoryUsage.rss() / 2 ** 20;
(async () => {
  const result = {};
  for (const [name, f] of Object.entries(routines)) {
    const run = async (n) => {
      for (let i = 0; i < n; i++) await f();
      global.gc();
      await new Promise((r) => setTimeout(r, 20));
      global.gc();
    };
    await run(Math.ceil(rounds / 3)); // warm-up: caches, JIT, allocator arenas
    const before = rss();
    await run(rounds);
    const middle = rss();
    await run(rounds);
    const after = rss();
    result[name] = { rounds: 2 * rounds, beforeMiB: +before.toFixed(1), middleMiB: +middle.toFixed(1), afterMiB: +after.toFixed(1), growthMiB: +(after - before).toFixed(2) };
  }
  process.stdout.write(JSON.stringify(result));
})();
