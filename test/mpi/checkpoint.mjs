// Run by test/distributed.test.ts under mpirun: a sharded run that saves a checkpoint after 5 of
// its 10 steps ('first'), and a fresh run that loads it and takes the last 5 ('resume'), possibly
// with another number of ranks. The global batch is the same whatever the number of ranks: 6
// samples a step, rank r averaging the samples s with s % size = r (so the mean over the ranks is
// the mean over the samples). argv: output dir (rank-<rank>.json), checkpoint dir, phase.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Matrix, createOptimizer, schedules, stateBytes } from 'specopt';
import { distributedStepMany, loadDistributedCheckpoint, rank, saveDistributedCheckpoint, shardOwners, size } from 'specopt/distributed';

const [outDir, dir, phase] = process.argv.slice(2);
const SHAPES = [[64, 32], [16, 16], [1, 33], [130, 70], [40, 40]];
const STEPS = 10;
const SAVE_AFTER = 5;
const SAMPLES = 6;

function setup(seed) {
  const adamw = createOptimizer('adamw', { lr: schedules.warmupCosine({ peak: 3e-3, warmupSteps: 3, totalSteps: STEPS }), weightDecay: 0.1 });
  const muon = createOptimizer('muon', { lr: 0.02 });
  return SHAPES.map(([r, c], i) => ({ optimizer: i % 2 ? adamw : muon, param: Matrix.randn(r, c, seed + i), grad: Matrix.zeros(r, c), state: null }));
}

function setGradients(entries, t) {
  entries.forEach((e, i) => {
    const mean = new Float64Array(e.grad.data.length);
    let count = 0;
    for (let s = rank; s < SAMPLES; s += size, count++) {
      Matrix.randn(e.grad.rows, e.grad.cols, 50_000 + 100 * t + 10 * s + i).data.forEach((v, k) => (mean[k] += v));
    }
    e.grad.data.set(mean.map((v) => v / count));
  });
}

const options = { mode: 'sharded', maxGradNorm: 5 };
let entries;
let from = 0;
if (phase === 'first') {
  entries = setup(7);
  const owners = shardOwners(entries);
  entries.forEach((e, i) => (e.state = owners[i] === rank ? e.optimizer.init(e.param) : null));
} else {
  entries = setup(999); // other values: the checkpoint must overwrite them ('resume' and 'die')
  loadDistributedCheckpoint(dir, entries, { mode: 'sharded' });
  from = SAVE_AFTER;
}
const loadedSteps = entries.map((e) => e.state?.step ?? null);
for (let t = from; t < STEPS; t++) {
  setGradients(entries, t);
  distributedStepMany(entries, options);
  if (phase === 'first' && t === SAVE_AFTER - 1) saveDistributedCheckpoint(dir, entries, { mode: 'sharded' });
  // 'die': a resumed run that saves again at its last step, with the last rank killed just before
  // that save (the others wait for it in the save's first collective until mpirun ends the job;
  // the files of a save that stopped later are the other case test/distributed.test.ts makes).
  if (phase === 'die' && t === STEPS - 1) {
    if (rank === size - 1) process.kill(process.pid, 'SIGKILL');
    saveDistributedCheckpoint(dir, entries, { mode: 'sharded' });
  }
}
const bits = entries.map((e) => Buffer.from(e.param.data.buffer, e.param.data.byteOffset, e.param.data.byteLength).toString('base64'));
writeFileSync(
  join(outDir, `rank-${rank}.json`),
  JSON.stringify({
    rank,
    size,
    bits,
    params: entries.map((e) => Array.from(e.param.data)),
    loadedSteps,
    stateBytes: entries.reduce((s, e) => s + (e.state ? stateBytes(e.state) : 0), 0),
    held: entries.map((e) => e.state !== null),
  }),
);
