// Workers that have async jobs of every kind in flight are terminated, one after another, while
// the main thread runs the same jobs itself; prints a JSON summary. Usage: node terminate-workers.cjs N
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { everyAsync, everySync, digest, lib } = require('./async-work.cjs');

if (!isMainThread) {
  // Queue jobs of every kind (never awaited), then say so; the main thread terminates us at
  // once, or after a delay, or before the message when workerData.early is set. One of them
  // steps a parameter on shared memory the main thread also holds.
  const param = new lib.Matrix(128, 128, new Float32Array(workerData.sab));
  const muon = lib.createOptimizer('muon');
  lib.stepManyAsync([{ optimizer: muon, param, grad: lib.Matrix.randn(128, 128, 7), state: muon.init(param) }]).catch(() => {});
  for (let k = 0; k < workerData.rounds; k++) for (const p of everyAsync(96, k, k === 1)) p.catch(() => {});
  parentPort.postMessage('queued');
} else {
  const count = Number(process.argv[2] ?? 50);
  const expected = digest(everySync(64, 1));
  (async () => {
    let terminated = 0, mismatches = 0, mainRuns = 0;
    for (let i = 0; i < count; i++) {
      const mode = i % 3; // 0: on the message, 1: a few ms after it, 2: without waiting for it
      const sab = new SharedArrayBuffer(128 * 128 * 4);
      const worker = new Worker(__filename, { workerData: { rounds: 3, sab } });
      const own = Promise.all(everyAsync(64, 1, i % 2 === 1)); // the main thread's jobs meanwhile
      if (mode !== 2) await new Promise((resolve) => worker.once('message', resolve));
      if (mode === 1) await new Promise((resolve) => setTimeout(resolve, 3));
      if (mode === 2) await new Promise((resolve) => setTimeout(resolve, (i * 7) % 40));
      await worker.terminate();
      terminated++;
      // The shared parameter is still the main thread's to read (a step either ran or did not).
      if (!new Float32Array(sab).every(Number.isFinite)) mismatches++;
      if (digest(await own) !== expected) mismatches++;
      mainRuns++;
    }
    process.stdout.write(JSON.stringify({ terminated, mainRuns, mismatches }));
  })();
}
