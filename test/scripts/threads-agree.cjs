// N worker threads and the main thread run every sync and async routine on the same seeded
// inputs at the same time; prints each thread's digests as JSON. Usage: node threads-agree.cjs N ROUNDS
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { lib, everyAsync, everySync, digest } = require('./async-work.cjs');

async function work(rounds) {
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const n = 24 + 9 * (r % 5);
    out.push(digest(everySync(n, r)), digest(await Promise.all(everyAsync(n, r, r % 2 === 1))));
    // An optimizer step per round too (muon and adamw on the same seeded weights).
    const w = lib.Matrix.randn(n, n + 3, r), g = lib.Matrix.randn(n, n + 3, r + 100);
    for (const rule of ['muon', 'adamw', 'soap']) {
      const opt = lib.createOptimizer(rule);
      const p = w.clone(), state = opt.init(p);
      for (let s = 0; s < 3; s++) opt.step(p, g, state);
      out.push(digest(p));
    }
  }
  return out;
}

if (!isMainThread) {
  work(workerData.rounds).then((d) => parentPort.postMessage(d));
} else {
  const threads = Number(process.argv[2] ?? 4), rounds = Number(process.argv[3] ?? 10);
  const workers = Array.from({ length: threads }, () => new Worker(__filename, { workerData: { rounds } }));
  Promise.all([work(rounds), ...workers.map((w) => new Promise((resolve, reject) => w.once('message', resolve).once('error', reject)))]).then(
    (all) => process.stdout.write(JSON.stringify(all)),
  );
}
