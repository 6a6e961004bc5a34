// Run by test/distributed.test.ts under mpirun: distributedStepMany against one process stepping
// the mean gradient. Every rank's gradient for step t and parameter i is a seeded Gaussian of
// (t, rank, i), so each rank can also compute the whole global batch's mean gradient itself and
// run the single-process reference locally. Writes <dir>/rank-<rank>.json (argv[2]).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Matrix, createOptimizer, schedules, stateBytes, stepMany } from 'specopt';
import { allReduce, distributedStepMany, distributedStepManyAsync, rank, saveDistributedCheckpoint, shardOwners, size } from 'specopt/distributed';

const SHAPES = [[64, 32], [16, 16], [1, 33], [130, 70]];
const STEPS = 20;
const gradOf = (t, r, i) => Matrix.randn(SHAPES[i][0], SHAPES[i][1], 1_000_000 + 1000 * t + 10 * r + i);

// sharded: states only for the entries this rank owns (null elsewhere).
function setup(sharded = false) {
  const adamw = createOptimizer('adamw', { lr: schedules.warmupCosine({ peak: 3e-3, warmupSteps: 5, totalSteps: STEPS }), weightDecay: 0.1, nonFinite: 'skip' });
  const muon = createOptimizer('muon', { lr: 0.02 });
  const entries = SHAPES.map((_, i) => {
    const optimizer = i % 2 === 0 ? muon : adamw;
    const param = Matrix.randn(SHAPES[i][0], SHAPES[i][1], 7 + i);
    return { optimizer, param, grad: Matrix.zeros(...SHAPES[i]), state: null };
  });
  const owners = shardOwners(entries);
  entries.forEach((e, i) => (e.state = !sharded || owners[i] === rank ? e.optimizer.init(e.param) : null));
  return entries;
}

async function distributedRun(options, asyncStep = false) {
  const entries = setup(options.mode === 'sharded');
  const norms = [];
  for (let t = 0; t < STEPS; t++) {
    entries.forEach((e, i) => e.grad.data.set(gradOf(t, rank, i).data));
    if (t === 7) entries[1].grad.data[3] = rank === size - 1 ? NaN : entries[1].grad.data[3]; // one rank's NaN
    const results = asyncStep ? await distributedStepManyAsync(entries, options) : distributedStepMany(entries, options);
    norms.push(results.gradNorm ?? null);
  }
  const bytes = entries.reduce((sum, e) => sum + (e.state ? stateBytes(e.state) : 0), 0);
  return { params: entries.map((e) => e.param.data), norms, bytes };
}

function referenceRun(options) {
  const entries = setup();
  const norms = [];
  for (let t = 0; t < STEPS; t++) {
    entries.forEach((e, i) => {
      const mean = new Float64Array(e.grad.data.length);
      for (let r = 0; r < size; r++) gradOf(t, r, i).data.forEach((v, k) => (mean[k] += v / size));
      e.grad.data.set(mean);
    });
    if (t === 7) entries[1].grad.data[3] = NaN;
    norms.push(stepMany(entries, options).gradNorm ?? null);
  }
  return { params: entries.map((e) => e.param.data), norms };
}

const bits = (arrays) => arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64'));
function maxRelDiff(a, b) {
  let worst = 0;
  a.forEach((x, i) => x.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - b[i][k]) / Math.max(1e-3, Math.abs(b[i][k]))))));
  return worst;
}

const options = { maxGradNorm: 5 };
const first = await distributedRun(options);
const second = await distributedRun(options);
const asyncRun = await distributedRun(options, true);
const smallBuckets = await distributedRun({ ...options, bucketBytes: 4 * 257 * size });
const reference = referenceRun(options);
const sharded = await distributedRun({ ...options, mode: 'sharded' });
const shardedAgain = await distributedRun({ ...options, mode: 'sharded' });
const shardedAsync = await distributedRun({ ...options, mode: 'sharded' }, true);
const totalBytes = Float64Array.of(sharded.bytes);
allReduce(totalBytes);
const out = {
  rank,
  size,
  paramBits: bits(first.params),
  repeatable: bits(second.params).join() === bits(first.params).join(),
  asyncSame: bits(asyncRun.params).join() === bits(first.params).join(),
  vsReference: maxRelDiff(first.params, reference.params),
  smallBucketsVsReference: maxRelDiff(smallBuckets.params, reference.params),
  norms: first.norms,
  referenceNorms: reference.norms,
  finite: first.params.every((p) => p.every(Number.isFinite)),
  owners: shardOwners(setup()),
  sharded: {
    paramBits: bits(sharded.params),
    sameAsReplicated: bits(sharded.params).join() === bits(first.params).join(),
    vsReference: maxRelDiff(sharded.params, reference.params),
    repeatable: bits(shardedAgain.params).join() === bits(sharded.params).join(),
    asyncSame: bits(shardedAsync.params).join() === bits(sharded.params).join(),
    norms: sharded.norms,
    bytes: sharded.bytes,
    totalBytes: totalBytes[0],
    replicatedBytes: first.bytes,
  },
};
try {
  distributedStepMany(setup(), rank === 0 ? { mode: 'zero-3' } : {});
} catch (e) {
  out.badMode = `${e.constructor.name}: ${e.message}`;
}
// A state that differs on one rank: its step fails there only, and every rank learns it.
for (const mode of ['replicated', 'sharded']) {
  const broken = setup(mode === 'sharded');
  // Sharded: the last entry, numbered as in the caller's array in the owner's error.
  const k = mode === 'sharded' ? broken.length - 1 : 0;
  const victim = mode === 'sharded' ? shardOwners(broken)[k] : size - 1;
  if (rank === victim) broken[k].state = broken[k].optimizer.init(Matrix.zeros(2, 2));
  try {
    distributedStepMany(broken, { mode });
    out[`asymmetric-${mode}`] = null;
  } catch (e) {
    out[`asymmetric-${mode}`] = [victim, `${e.constructor.name}: ${e.message}`];
  }
}
// Bad clipping options (the same on every rank): every rank refuses, in both modes.
out.badClip = ['replicated', 'sharded'].map((mode) => {
  try {
    distributedStepMany(setup(mode === 'sharded'), { mode, maxGradNorm: -1 });
    return null;
  } catch (e) {
    return `${e.constructor.name}: ${e.message}`;
  }
});
// A save with a bad argument on rank 0 only: every rank throws, none waits.
try {
  saveDistributedCheckpoint(rank === 0 ? 42 : process.argv[2], setup());
} catch (e) {
  out.badSave = `${e.constructor.name}: ${e.message}`;
}
writeFileSync(join(process.argv[2], `rank-${rank}.json`), JSON.stringify(out));
