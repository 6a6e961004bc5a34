// The training-loop features of issue 10, measured side by side in one run:
//   1. a scheduled learning rate against a constant one (1000 × 64² AdamW stepMany, kept batch);
//   2. gradient clipping fused into stepMany ({ maxGradNorm }) against clipGradNorm + stepMany
//      and against no clipping (1000 × 64² AdamW, one 4096² AdamW, a transformer block's Muon);
//   3. stepManyAsync over a transformer block (4 × 768², 768×3072, 3072×768; Muon): how long the
//      call blocks the main thread, and the event loop's worst lag (setInterval 1 ms) while the
//      step runs, against the sync step.
// Variants are interleaved round by round (the machine is shared and noisy); each row gives the
// best and the median. Writes the "## Training loop" section of bench/RESULTS.md.
// Usage: npm run bench:loop [-- --quick]
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as so from '../dist/index.mjs';
import { cpuTimes, emit, fmtBM, fmtRatio, fmtTime, out, summarize, table, writeSection } from './lib.mjs';

const { Matrix, createOptimizer, stepMany, stepManyAsync, clipGradNorm, schedules, backendInfo } = so;
const HERE = dirname(fileURLToPath(import.meta.url));
const QUICK = process.argv.includes('--quick');
const RESULTS = join(HERE, QUICK ? 'RESULTS-quick.md' : 'RESULTS.md');
const SECTION = '## Training loop';
const ROUNDS = QUICK ? 2 : 7;
const T0 = performance.now();

const progress = (m) => process.stderr.write(`[loop ${((performance.now() - T0) / 1e3).toFixed(0).padStart(3)} s] ${m}\n`);

function cpuLine() {
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? 'unknown';
  const family = /^cpu family\s*:\s*(\d+)$/m.exec(text)?.[1];
  const modelNo = /^model\s*:\s*(\d+)$/m.exec(text)?.[1];
  const flags = /^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '';
  const isa = flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') ? 'AVX2, no AVX-512' : 'no AVX2';
  return `${model} (family ${family} model ${modelNo}, ${isa}), ${os.availableParallelism?.() ?? os.cpus().length} CPUs, Node ${process.version}`;
}

function filled(alloc, rows, cols, seed, scale) {
  const m = alloc(rows, cols);
  m.data.set(Matrix.randn(rows, cols, seed).data);
  if (scale !== 1) for (let i = 0; i < m.data.length; i++) m.data[i] *= scale;
  return m;
}

/** Per-step seconds of `step()` over `steps` calls, `reps` times: the per-rep means. */
function timeSteps(step, steps, reps) {
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) step();
    times.push((performance.now() - t0) / 1e3 / steps);
  }
  return times;
}

/** Runs each variant's `run()` (giving an array of times) once per round, in a rotating order. */
function interleaved(variants, rounds) {
  const times = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + r) % variants.length];
      times[v.name].push(...v.run());
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, summarize(t)]));
}

const info = backendInfo();
const stat0 = cpuTimes();
emit(`${SECTION}${QUICK ? ' (quick run)' : ''}`);
emit();
emit(`Machine: ${cpuLine()}; ${info.blas.split(' ').slice(0, 2).join(' ')} core ${info.coreType}, ${info.threads} threads. Command: \`npm run bench:loop\`. ${ROUNDS} interleaved rounds; best / median.`);
emit();

// ------------------------------------------------------------------------------ 1. schedules
progress('1. scheduled vs constant lr');
const MANY = 1000;
function manyEntries(hyper) {
  const opt = createOptimizer('adamw', hyper);
  return Array.from({ length: MANY }, (_, k) => {
    const param = filled(Matrix.zeros, 64, 64, k, 0.02);
    return { optimizer: opt, param, grad: filled(Matrix.zeros, 64, 64, 5000 + k, 1e-3), state: opt.init(param) };
  });
}
// One set of entries for both variants, the lr switched by setHyper before each one's turn (and
// one untimed step after it): with a set of its own each (64 MB apiece), two variants with the
// same constant lr differed by 1.04-1.20× at best and 1.01-1.04× at the median (AMD EPYC,
// 2026-12-02), as much as the schedule was to be held to.
const constantEntries = manyEntries({ lr: 1e-3, weightDecay: 0.01 });
const manyOptimizer = constantEntries[0].optimizer;
const warmupCosine = schedules.warmupCosine({ peak: 1e-3, warmupSteps: 100, totalSteps: 100000 });
const STEPS1 = QUICK ? 5 : 20;
const withLr = (lr) => () => {
  manyOptimizer.setHyper({ lr });
  stepMany(constantEntries);
  return timeSteps(() => stepMany(constantEntries), STEPS1, 2);
};
const sched = interleaved(
  [
    { name: 'constant', run: withLr(1e-3) },
    { name: 'warmupCosine', run: withLr(warmupCosine) },
  ],
  ROUNDS,
);
manyOptimizer.setHyper({ lr: 1e-3 });
emit(`### Scheduled learning rate: ${MANY} × 64² AdamW, one stepMany per step (kept batch)`);
emit();
table(
  ['lr', 'per step (best / median)', 'vs constant (best, median)'],
  [
    ['constant 1e-3', fmtBM(sched.constant), '1×'],
    ['warmupCosine (changes every step)', fmtBM(sched.warmupCosine), `${fmtRatio(sched.warmupCosine.best / sched.constant.best)}, ${fmtRatio(sched.warmupCosine.median / sched.constant.median)}`],
  ],
);

// ------------------------------------------------------------------------------- 2. clipping
progress('2. clipping');
function clipRows(label, entries, steps, rounds) {
  const grads = entries.map((e) => e.grad);
  // Copies of the gradients for the separate path (clipGradNorm scales in place).
  const copies = grads.map((g) => Matrix.from(g.rows, g.cols, g.data));
  const separateEntries = entries.map((e, k) => ({ ...e, grad: copies[k] }));
  const max = 0.5 * so.gradNorm(grads); // every step clips (the factor is applied)
  const res = interleaved(
    [
      { name: 'none', run: () => timeSteps(() => stepMany(entries), steps, 2) },
      { name: 'fused', run: () => timeSteps(() => stepMany(entries, { maxGradNorm: max }), steps, 2) },
      {
        name: 'separate',
        run: () =>
          timeSteps(() => {
            for (let k = 0; k < copies.length; k++) copies[k].data.set(grads[k].data); // untimed in spirit: see below
            clipGradNorm(copies, max);
            stepMany(separateEntries);
          }, steps, 2),
      },
      { name: 'refill', run: () => timeSteps(() => { for (let k = 0; k < copies.length; k++) copies[k].data.set(grads[k].data); }, steps, 2) },
    ],
    rounds,
  );
  const sep = summarize(res.separate.times.map((t) => t - res.refill.median)); // minus the refill of the copies
  return [
    [label, 'no clipping', fmtBM(res.none), '1×'],
    [label, 'stepMany({ maxGradNorm })', fmtBM(res.fused), `${fmtRatio(res.fused.best / res.none.best)}, ${fmtRatio(res.fused.median / res.none.median)}`],
    [label, 'clipGradNorm + stepMany', fmtBM(sep), `${fmtRatio(sep.best / res.none.best)}, ${fmtRatio(sep.median / res.none.median)}`],
  ];
}
const bigOpt = createOptimizer('adamw', { weightDecay: 0.01 });
const bigParam = filled(Matrix.zeros, 4096, 4096, 1, 0.02);
const bigEntries = [{ optimizer: bigOpt, param: bigParam, grad: filled(Matrix.zeros, 4096, 4096, 2, 1e-3), state: bigOpt.init(bigParam) }];
const BLOCK = [
  [768, 768],
  [768, 768],
  [768, 768],
  [768, 768],
  [768, 3072],
  [3072, 768],
];
function blockEntries(alloc) {
  const opt = createOptimizer('muon');
  return BLOCK.map(([r, c], k) => {
    const param = filled(alloc, r, c, 10 + k, 0.02);
    return { optimizer: opt, param, grad: filled(alloc, r, c, 20 + k, 1e-3), state: opt.init(param) };
  });
}
const block = blockEntries(Matrix.zeros);
const clipTable = [
  ...clipRows(`${MANY} × 64² AdamW`, constantEntries, QUICK ? 5 : 20, ROUNDS),
  ...clipRows('4096² AdamW', bigEntries, QUICK ? 2 : 5, ROUNDS),
  ...clipRows('block, Muon', block, QUICK ? 1 : 2, Math.max(2, ROUNDS - 3)),
];
emit('### Gradient clipping: fused into stepMany vs clipGradNorm then stepMany');
emit();
emit('Every step clips (maxGradNorm is half the gradients\' norm). The separate path refills its gradient copies each step (clipGradNorm scales them in place); the median refill time is subtracted.');
emit();
table(['parameters', 'how', 'per step (best / median)', 'vs no clipping (best, median)'], clipTable, 2);

// ---------------------------------------------------------------------------------- 3. async
progress('3. stepManyAsync');
/** The event loop's worst lag (ms beyond 1 ms between setInterval ticks) while `work()` runs. */
async function lagDuring(work) {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20)); // the interval running
  last = performance.now();
  worst = 0;
  const t0 = performance.now();
  await work();
  const total = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { worst: worst / 1e3, total: total / 1e3 };
}
const shared = blockEntries(Matrix.shared);
const plain = blockEntries(Matrix.zeros);
const submit = { shared: [], plain: [] };
const lag = { sync: [], async: [], async1: [] };
const total = { sync: [], async: [], async1: [] };
const threads = backendInfo().threads;
for (let r = 0; r < ROUNDS; r++) {
  for (const kind of r % 2 ? ['plain', 'shared'] : ['shared', 'plain']) {
    const entries = kind === 'shared' ? shared : plain;
    const t0 = performance.now();
    const p = stepManyAsync(entries);
    submit[kind].push((performance.now() - t0) / 1e3);
    await p;
  }
  for (const mode of r % 2 ? ['async1', 'async', 'sync'] : ['sync', 'async', 'async1']) {
    if (mode === 'async1') so.setNumThreads(1);
    const m = await lagDuring(async () => {
      if (mode === 'sync') stepMany(shared);
      else await stepManyAsync(shared);
    });
    so.setNumThreads(threads);
    lag[mode].push(m.worst);
    total[mode].push(m.total);
  }
}
const S = (x) => summarize(x);
emit('### stepManyAsync: a transformer block (4 × 768², 768×3072, 3072×768), Muon');
emit();
const blockMB = (BLOCK.reduce((s, [r, c]) => s + r * c, 0) * 4 * 3) / 1e6;
table(
  ['what', 'best / median'],
  [
    ['stepMany (sync): the whole step', fmtBM(S(total.sync))],
    ['stepManyAsync: until it resolves', fmtBM(S(total.async))],
    ['stepManyAsync, parameters and states on SharedArrayBuffers: the call blocks the main thread', fmtBM(S(submit.shared))],
    [`stepManyAsync, ordinary ArrayBuffers (${blockMB.toFixed(0)} MB of parameters, gradients and states copied in, written back at the end): the call blocks`, fmtBM(S(submit.plain))],
    ['event loop, worst setInterval(1 ms) lag during stepMany (sync)', fmtBM(S(lag.sync))],
    [`event loop, worst setInterval(1 ms) lag during stepManyAsync (shared), ${threads} BLAS threads`, fmtBM(S(lag.async))],
    ['stepManyAsync with setNumThreads(1): until it resolves', fmtBM(S(total.async1))],
    ['event loop, worst setInterval(1 ms) lag during stepManyAsync (shared), 1 BLAS thread', fmtBM(S(lag.async1))],
  ],
);
emit(
  `With as many BLAS threads as CPUs (${threads} here) the step's threads and the event loop share the CPUs: the lag left is the operating system's scheduling of the main thread. ` +
    `One BLAS thread (setNumThreads(1)) gave a median worst lag of ${fmtTime(S(lag.async1).median)} against ${fmtTime(S(lag.async).median)}, for a step ${fmtRatio(S(total.async1).median / S(total.async).median)} as long.`,
);
emit();

const stat1 = cpuTimes();
if (stat0 && stat1) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const others = Math.max(0, stat1.busy - stat0.busy - (stat1.own - stat0.own));
  emit(`Noise: while this ran, other processes kept ${((cores * others) / (stat1.total - stat0.total)).toFixed(2)} of the ${cores} CPUs busy on average (steal ${((100 * (stat1.steal - stat0.steal)) / (stat1.total - stat0.total)).toFixed(2)}%). Total ${((performance.now() - T0) / 1e3).toFixed(0)} s.`);
  emit();
}

writeSection(RESULTS, SECTION, out.join('\n').trimEnd() + '\n');
progress(`wrote the "${SECTION}" section of ${RESULTS}`);
