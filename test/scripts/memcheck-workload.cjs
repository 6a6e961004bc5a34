// The workload of scripts/memcheck.sh: every entry point of the addon once or a few times, at
// small sizes (valgrind runs it 20-50x slower), then a normal exit (no process.exit) so that the
// teardown runs as it does for users. Prints one line of JSON last; any unexpected outcome throws
// (exit code 1).
// Usage: node memcheck-workload.cjs [all|main|worker] [N]
//   main:   every sync and async routine, optimizer steps and a kept stepMany batch, saveState/
//           loadState, error paths; then the objects are dropped and collected (so the addon's
//           finalizers run and their frees are checked).
//   worker: a worker thread that loads the library, queues async jobs and is terminated while
//           they are in flight (while the main thread runs jobs of its own).
//   all (default): both. N: the matrix size of the every* calls (default 16).
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { everyAsync, everySync, digest, lib } = require('./async-work.cjs');
const { Matrix } = lib;

if (!isMainThread) {
  // Loads its own instance of the addon (require above), queues async jobs of every kind and
  // never awaits them; the main thread terminates it while they are queued or running.
  let jobs = 0;
  for (let k = 0; k < workerData.rounds; k++) {
    for (const p of everyAsync(workerData.n, k, k % 2 === 1)) {
      p.catch(() => {});
      jobs++;
    }
  }
  parentPort.postMessage(jobs);
  return;
}

const phase = process.argv[2] ?? 'all';
const n = Number(process.argv[3] ?? 16);
assert.ok(['all', 'main', 'worker'].includes(phase), `unknown phase ${phase}`);
assert.ok(Number.isInteger(n) && n >= 2, `bad size ${process.argv[3]}`);
const WORKER_ROUNDS = 2;

// A full collection without --expose-gc on the command line.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

function expectThrow(what, f) {
  let threw = false;
  try {
    f();
  } catch {
    threw = true;
  }
  assert.ok(threw, `${what} should throw`);
}

async function mainPhase(summary) {
  // Backend entry points.
  const info = lib.backendInfo();
  assert.equal(typeof info.blas, 'string');
  lib.setNumThreads(1);
  expectThrow('setNumThreads(0)', () => lib.setNumThreads(0));

  // Every sync routine, twice (same inputs: the results must agree), and the ones every* omits.
  const sync = digest(everySync(n, 1));
  assert.equal(digest(everySync(n, 1)), sync);
  const a = Matrix.randn(n + 3, n, 5);
  lib.singularValues(a);
  lib.powerIteration(a, { iters: 4 });
  lib.powerIteration(a, { iters: 4, scheme: 'gram' });
  lib.spectralNorm(a);
  lib.spectralNorm(a, { method: 'svd' });

  // Every async routine, twice; their results match the sync ones.
  // (the second time on SharedArrayBuffer inputs, which the worker thread copies)
  for (let k = 0; k < 2; k++) assert.equal(digest(await Promise.all(everyAsync(n, 1, k === 1))), sync);
  summary.digest = sync;

  // Optimizers: a step each, then stepMany 3 times on the same (kept) entries array.
  // Short refresh intervals so the eigenbasis/projector/root code runs within these few steps.
  const rules = [
    ['adamw', {}],
    ['muon', {}],
    ['muon', { method: 'svd' }],
    ['soap', { preconditionFrequency: 2 }],
    ['shampoo', { preconditionFrequency: 2 }],
    ['galore-adamw', { rank: 2, updateProjGap: 2 }],
  ];
  const entries = rules.map(([rule, hyper], i) => {
    const optimizer = lib.createOptimizer(rule, hyper);
    const param = Matrix.randn(12, 8 + i, i);
    const state = optimizer.init(param);
    optimizer.step(param, Matrix.randn(12, 8 + i, 50 + i), state);
    return { optimizer, param, grad: Matrix.randn(12, 8 + i, 100 + i), state };
  });
  for (let k = 0; k < 3; k++) {
    const results = lib.stepMany(entries);
    assert.equal(results.length, entries.length);
  }
  // A failing step (NaN gradient, default nonFinite 'throw') and a failing batch.
  const nanGrad = (e) => Matrix.from(e.param.rows, e.param.cols, new Float32Array(e.param.rows * e.param.cols).fill(NaN));
  expectThrow('step with a NaN gradient', () => entries[0].optimizer.step(entries[0].param, nanGrad(entries[0]), entries[0].state));
  expectThrow('stepMany with a NaN gradient', () => lib.stepMany([...entries.slice(0, 2), { ...entries[2], grad: nanGrad(entries[2]) }]));

  // saveState/loadState round trip; the loaded states keep stepping.
  for (const e of entries) {
    const bytes = lib.saveState(e.state);
    const loaded = lib.loadState(bytes);
    assert.deepEqual(lib.saveState(loaded), bytes);
    e.state = loaded;
  }
  lib.stepMany(entries);
  expectThrow('loadState of garbage', () => lib.loadState(new Uint8Array(64)));
  summary.steps = entries.map((e) => e.state.step);

  // Error paths of the linear algebra.
  expectThrow('svd with NaN', () => lib.svd(Matrix.from(1, 2, [NaN, 1])));
  expectThrow('matmul of mismatched shapes', () => lib.matmul(Matrix.zeros(2, 3), Matrix.zeros(2, 3)));
  expectThrow('eigh of a non-square matrix', () => lib.eigh(Matrix.zeros(2, 3)));
  let rejected = false;
  await lib.svdAsync(Matrix.from(1, 2, [NaN, 1])).catch(() => {
    rejected = true;
  });
  assert.ok(rejected, 'svdAsync with NaN should reject');
  rejected = false;
  await lib.matmulAsync(Matrix.zeros(2, 3), Matrix.zeros(2, 3)).catch(() => {
    rejected = true;
  });
  assert.ok(rejected, 'matmulAsync of mismatched shapes should reject');
}

async function workerPhase(summary) {
  // A worker that loads the library, queues async jobs and is terminated while they are in flight.
  const worker = new Worker(__filename, { workerData: { rounds: WORKER_ROUNDS, n: 4 * n } });
  const own = Promise.all(everyAsync(n, 1, true)); // the main thread's jobs meanwhile
  const jobs = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const code = await worker.terminate();
  assert.equal(code, 1, 'a terminated worker exits with code 1');
  assert.equal(digest(await own), digest(everySync(n, 1)));
  summary.workerTerminated = true;
  // Jobs the worker queued: each may be left unsettled by the termination (see scripts/memcheck.sh).
  summary.workerJobs = jobs;
}

async function main() {
  const summary = { phase, n };
  if (phase !== 'worker') await mainPhase(summary);
  if (phase !== 'main') await workerPhase(summary);
  // Everything made above is unreachable now: collect it, and give Node-API's finalizers (which
  // run from the event loop after a collection) their turn, so their frees are checked too.
  for (let k = 0; k < 3; k++) {
    gc();
    await tick();
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
