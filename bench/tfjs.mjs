// specopt/tfjs against TensorFlow.js's own backends, in one process:
//   1. an epoch of a tfjs-layers MLP (784-256-256-10, ReLU, softmax, categorical cross-entropy,
//      batch 128, model.fit) on the MNIST digits the repository ships (src/train/data.ts's 8,000
//      training images), on tfjs's cpu backend, on cpu with registerSpecoptKernels (OpenBLAS's
//      default threads, and one thread), and on tfjs-backend-wasm; the same optimizer everywhere
//      (tfjsOptimizer('adam'); tf.train.adam's own cost is a row of its own);
//   2. the per-step overhead of tfjsOptimizer's applyGradients over a bare stepMany on the same
//      six parameters (cpu: in place; wasm: copies), and tf.train.adam's applyGradients;
//   1b. a training step of a small CNN (conv, maxpool, dense) on the same backends;
//   3. tf.matMul of 1024² float32 matrices on each backend, GFLOP/s.
// Configurations are interleaved round by round (the machine is shared); best / median.
// Writes the "## TensorFlow.js" section of bench/RESULTS.md (bench/RESULTS-quick.md with --quick).
// Usage: npm run bench:tfjs [-- --quick] [-- --train-size N --test-size N --rounds N] [-- --no-write]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import * as so from '../dist/index.mjs';
import { registerSpecoptKernels, tfjsOptimizer, unregisterSpecoptKernels } from '../dist/tfjs/index.mjs';
import { emit, fmtBM, fmtRatio, fmtTime, out, summarize, table, writeSection } from './lib.mjs';

const require = createRequire(import.meta.url);
const { loadMnist } = require('../dist/train/data.js');

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const QUICK = argv.includes('--quick');
const TRAIN = option('--train-size', QUICK ? 1024 : 8000);
const TEST = option('--test-size', QUICK ? 500 : 2000);
const ROUNDS = option('--rounds', QUICK ? 1 : 3);
const STEP_REPS = QUICK ? 50 : 300;
const RESULTS = join(HERE, QUICK || argv.includes('--train-size') ? 'RESULTS-quick.md' : 'RESULTS.md');
const SECTION = '## TensorFlow.js';
const BATCH = 128;
const T0 = performance.now();
const loads = [os.loadavg()[0]];
const progress = (m) => {
  loads.push(os.loadavg()[0]);
  process.stderr.write(`[tfjs ${((performance.now() - T0) / 1e3).toFixed(0).padStart(4)} s] ${m}\n`);
};

function cpuLine() {
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? 'unknown';
  const flags = /^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '';
  const isa = flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') ? 'AVX2, no AVX-512' : 'no AVX2';
  return `${model} (${isa}), ${os.availableParallelism?.() ?? os.cpus().length} CPUs, Node ${process.version}`;
}

const info = so.backendInfo();
const THREADS = info.threads;

/** A configuration: backend, kernels, BLAS threads. */
const CONFIGS = [
  { name: 'tfjs cpu', backend: 'cpu', kernels: false },
  { name: `tfjs cpu + specopt kernels (${THREADS} threads)`, backend: 'cpu', kernels: true, threads: THREADS },
  { name: 'tfjs cpu + specopt kernels (1 thread)', backend: 'cpu', kernels: true, threads: 1 },
  { name: 'tfjs-backend-wasm', backend: 'wasm', kernels: false },
];

async function use(config) {
  if (!(await tf.setBackend(config.backend))) throw new Error(`tfjs backend ${config.backend} did not initialise`);
  if (config.kernels) registerSpecoptKernels();
  else unregisterSpecoptKernels();
  so.setNumThreads(config.threads ?? THREADS);
}

function wasmThreads() {
  try {
    return require('@tensorflow/tfjs-backend-wasm').getThreadsCount();
  } catch {
    return '?';
  }
}

// ----------------------------------------------------------------------------- 1. MLP epoch
const { train, test } = loadMnist({ trainSize: TRAIN, testSize: TEST });

function mlp() {
  const model = tf.sequential();
  const init = (seed) => tf.initializers.glorotUniform({ seed });
  model.add(tf.layers.dense({ units: 256, activation: 'relu', inputShape: [784], kernelInitializer: init(1) }));
  model.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }));
  return model;
}

/** One epoch from the same initial weights (on the first `n` images): seconds, final batch loss, test accuracy. */
async function epoch(config, optimizer, n = train.n) {
  await use(config);
  const xs = tf.tensor2d(train.images.subarray(0, n * 784), [n, 784]);
  const ys = tf.oneHot(tf.tensor1d(Array.from(train.labels.subarray(0, n)), 'int32'), 10);
  const model = mlp();
  model.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy' });
  let loss = NaN;
  const t0 = performance.now();
  await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async (_, logs) => void (loss = logs.loss) } });
  const seconds = (performance.now() - t0) / 1e3;
  const testX = tf.tensor2d(test.images, [test.n, 784]);
  const predicted = tf.tidy(() => model.predict(testX).argMax(-1).dataSync());
  let correct = 0;
  for (let i = 0; i < test.n; i++) correct += predicted[i] === test.labels[i] ? 1 : 0;
  model.optimizer.dispose?.();
  tf.dispose([xs, ys, testX]);
  model.dispose();
  unregisterSpecoptKernels();
  return { seconds, loss, accuracy: correct / test.n };
}

const OPTIMIZERS = [
  { name: "tfjsOptimizer('adam', lr 1e-3)", make: () => tfjsOptimizer('adam', { lr: 1e-3 }) },
  { name: 'tf.train.adam(1e-3)', make: () => tf.train.adam(1e-3) },
];

// Warm-up: two batches of every configuration (JIT, backend initialisation, wasm compilation).
for (const config of CONFIGS) for (const opt of OPTIMIZERS) await epoch(config, opt.make, Math.min(train.n, 2 * BATCH));
const epochRuns = [];
for (const config of CONFIGS) for (const opt of OPTIMIZERS) epochRuns.push({ config, opt, times: [], last: null });
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < epochRuns.length; i++) {
    const run = epochRuns[(i + r) % epochRuns.length];
    progress(`round ${r + 1}/${ROUNDS}: ${run.config.name}, ${run.opt.name}`);
    const res = await epoch(run.config, run.opt.make);
    run.times.push(res.seconds);
    run.last = res;
  }
}
so.setNumThreads(THREADS);

emit(`${SECTION}${QUICK ? ' (quick run)' : ''}`);
emit();
emit(
  `Machine: ${cpuLine()}; ${info.blas.split(' ').slice(0, 2).join(' ')} core ${info.coreType}, ${THREADS} threads by default. ` +
    `TensorFlow.js ${tf.version.tfjs} (cpu: one JavaScript thread; wasm: ${wasmThreads()} thread(s), SIMD ${await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')}). ` +
    `Command: \`npm run bench:tfjs${QUICK ? ' -- --quick' : ''}\`. ${ROUNDS} interleaved rounds; best / median. ` +
    `Load average (1 min, this run's own threads included) ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} up to here.`,
);
emit();
emit(
  `### One epoch of a tfjs-layers MLP 784-256-256-10 (model.fit, batch ${BATCH}, ${TRAIN} MNIST digits, ${Math.ceil(TRAIN / BATCH)} steps)`,
);
emit();
const base = (optName) => summarize(epochRuns.find((r) => r.config.name === 'tfjs cpu' && r.opt.name === optName).times);
const wasm = (optName) => summarize(epochRuns.find((r) => r.config.backend === 'wasm' && r.opt.name === optName).times);
table(
  ['backend', 'optimizer', 'epoch (best / median)', 'vs tfjs cpu', 'vs wasm', 'last batch loss', `test accuracy (${TEST})`],
  epochRuns
    .sort((a, b) => OPTIMIZERS.indexOf(a.opt) - OPTIMIZERS.indexOf(b.opt) || CONFIGS.indexOf(a.config) - CONFIGS.indexOf(b.config))
    .map((r) => {
      const s = summarize(r.times);
      return [
        r.config.name,
        r.opt.name,
        `${fmtTime(s.best)} / ${fmtTime(s.median)}`,
        fmtRatio(base(r.opt.name).median / s.median),
        fmtRatio(wasm(r.opt.name).median / s.median),
        r.last.loss.toFixed(4),
        r.last.accuracy.toFixed(4),
      ];
    }),
  2,
);

// ------------------------------------------------------------------ 1b. CNN training step
// A small MNIST CNN (conv 3x3x16 relu, maxpool 2, conv 3x3x32 relu, maxpool 2, dense 10 softmax),
// model.fit with batch 64: the time per step over several steps (plain cpu: 2 steps, its filter
// gradient alone takes seconds).
const CNN_BATCH = 64;
function cnn() {
  const model = tf.sequential();
  const init = (seed) => tf.initializers.glorotUniform({ seed });
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }));
  return model;
}
async function cnnSteps(config, steps) {
  await use(config);
  const n = steps * CNN_BATCH;
  const xs = tf.tensor4d(train.images.subarray(0, n * 784), [n, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(Array.from(train.labels.subarray(0, n)), 'int32'), 10);
  const model = cnn();
  model.compile({ optimizer: tfjsOptimizer('adam', { lr: 1e-3 }), loss: 'categoricalCrossentropy' });
  try {
    const t0 = performance.now();
    await model.fit(xs, ys, { epochs: 1, batchSize: CNN_BATCH, shuffle: false, verbose: 0 });
    return { seconds: (performance.now() - t0) / 1e3 / steps };
  } catch (error) {
    return { error: error.message };
  } finally {
    model.optimizer.dispose?.();
    tf.dispose([xs, ys]);
    model.dispose();
    unregisterSpecoptKernels();
  }
}
const cnnRuns = CONFIGS.map((config) => ({ config, steps: config.backend === 'cpu' && !config.kernels ? (QUICK ? 1 : 2) : QUICK ? 4 : 16, times: [], error: null }));
for (const run of cnnRuns) await cnnSteps(run.config, 1); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < cnnRuns.length; i++) {
    const run = cnnRuns[(i + r) % cnnRuns.length];
    if (run.error) continue;
    progress(`CNN round ${r + 1}/${ROUNDS}: ${run.config.name}`);
    const res = await cnnSteps(run.config, run.steps);
    if (res.error) run.error = res.error;
    else run.times.push(res.seconds);
  }
}
so.setNumThreads(THREADS);
emit(`### One training step of a small CNN (conv 3×3×16, maxpool 2, conv 3×3×32, maxpool 2, dense 10; model.fit, batch ${CNN_BATCH}, tfjsOptimizer('adam'))`);
emit();
const cnnBase = summarize(cnnRuns[0].times);
table(
  ['backend', 'steps timed per round', 'per step (best / median)', 'vs tfjs cpu'],
  cnnRuns.map((r) => {
    if (r.error) return [r.config.name, '—', `fails: ${r.error}`, '—'];
    const s = summarize(r.times);
    return [r.config.name, String(r.steps), fmtBM(s), fmtRatio(cnnBase.median / s.median)];
  }),
);

// ------------------------------------------------------------------- 2. per-step overhead
progress('per-step overhead');
const SHAPES = [[784, 256], [256], [256, 256], [256], [256, 10], [10]];
const matrixOf = (s) => (s.length > 1 ? [s[0], s[1]] : [1, s[0]]);
function timePerStep(step, reps = STEP_REPS) {
  for (let i = 0; i < Math.min(10, reps); i++) step();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) step();
  return [(performance.now() - t0) / 1e3 / reps];
}
const bareOpt = so.createOptimizer('adamw', { lr: 1e-4 });
const bareEntries = SHAPES.map((s, k) => {
  const [rows, cols] = matrixOf(s);
  const param = so.Matrix.randn(rows, cols, k);
  const grad = so.Matrix.randn(rows, cols, 100 + k);
  for (let i = 0; i < grad.data.length; i++) grad.data[i] *= 1e-3;
  return { optimizer: bareOpt, param, grad, state: bareOpt.init(param) };
});
const stepVariants = [{ name: 'bare stepMany (specopt Matrices)', run: () => timePerStep(() => so.stepMany(bareEntries)) }];
for (const backend of ['cpu', 'wasm']) {
  let vars, list, opt, adam;
  const setup = async () => {
    await use({ backend, kernels: false });
    if (!vars) {
      vars = SHAPES.map((s, k) => tf.variable(tf.tensor(bareEntries[k].param.data.slice(), s), true, `bench_${backend}_${k}`));
      list = vars.map((v, k) => ({ name: v.name, tensor: tf.tensor(bareEntries[k].grad.data.slice(), SHAPES[k]) }));
      opt = tfjsOptimizer('adamw', { lr: 1e-4 });
      adam = tf.train.adam(1e-4);
    }
  };
  stepVariants.push({ name: `tfjsOptimizer.applyGradients, ${backend}`, setup, run: () => timePerStep(() => opt.applyGradients(list)) });
  // tf.train.adam on cpu takes ~0.1-0.2 s a step (tfjs's elementwise cpu kernels): fewer steps.
  const reps = backend === 'cpu' ? Math.min(STEP_REPS, 10) : STEP_REPS;
  stepVariants.push({ name: `tf.train.adam applyGradients, ${backend}`, setup, run: () => timePerStep(() => adam.applyGradients(list), reps) });
}
const stepTimes = Object.fromEntries(stepVariants.map((v) => [v.name, []]));
for (let r = 0; r < Math.max(3, ROUNDS); r++) {
  for (let i = 0; i < stepVariants.length; i++) {
    const v = stepVariants[(i + r) % stepVariants.length];
    await v.setup?.();
    stepTimes[v.name].push(...v.run());
  }
}
const bare = summarize(stepTimes[stepVariants[0].name]);
emit(`### Per-step cost of tfjsOptimizer over a bare stepMany (AdamW; the MLP's six parameters, ${SHAPES.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)} floats)`);
emit();
emit(
  'On the cpu backend the update is written into the variables\' own Float32Arrays (no copy of the weights); the gradients are copied into buffers the optimizer keeps (one memcpy each), so stepMany reuses its checked batch. On wasm (and any other backend) the weights are read with dataSync and written back with assign(tensor): two more copies per variable.',
);
emit();
table(
  ['what', 'per step (best / median)', 'over bare stepMany (medians)'],
  stepVariants.map((v) => {
    const s = summarize(stepTimes[v.name]);
    return [v.name, fmtBM(s), v === stepVariants[0] ? '—' : fmtTime(s.median - bare.median)];
  }),
);

// ---------------------------------------------------------------------------- 3. matmul
progress('matmul 1024²');
const N = 1024;
const matmulRows = [];
for (const config of CONFIGS) {
  await use(config);
  const a = tf.randomNormal([N, N], 0, 1, 'float32', 1);
  const b = tf.randomNormal([N, N], 0, 1, 'float32', 2);
  tf.matMul(a, b).dispose(); // warm-up
  const reps = config.backend === 'cpu' && !config.kernels ? 1 : QUICK ? 3 : 10;
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    times.push((performance.now() - t0) / 1e3);
    c.dispose();
  }
  const s = summarize(times);
  matmulRows.push([config.name, fmtBM(s), ((2 * N ** 3) / s.best / 1e9).toFixed(2)]);
  tf.dispose([a, b]);
  unregisterSpecoptKernels();
}
so.setNumThreads(THREADS);
emit(`### tf.matMul, ${N}² float32`);
emit();
table(['backend', 'time (best / median)', 'GFLOP/s (best)'], matmulRows);

if (argv.includes('--no-write')) progress('--no-write: nothing written');
else {
  writeSection(RESULTS, SECTION, out.join('\n').trimEnd() + '\n');
  progress(`wrote ${RESULTS}`);
}
