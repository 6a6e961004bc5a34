// specopt's optimizer benchmark: `npm run bench:optim` (builds first), or `node bench/optim.mjs [--quick]`.
//
// Measures, through the public API (../dist/index.mjs):
//   1. one AdamW step on a 4096×4096 parameter (opt.step) against the same update as a C loop
//      (bench/c/adamw.c: gcc -O3 -march=native, one thread, compiled here and run as a child
//      process that prints JSON lines) and as a plain JavaScript loop over the Float32Arrays;
//   2. stepMany over 1000 parameters of 64×64 against one step over a 1024×4000 parameter (the
//      same 4,096,000 entries), and against 1000 separate opt.step calls;
//   3. ms/step and state bytes of every rule of OPTIMIZER_RULES at 4096×4096 with default
//      hyperparameters, plus adamw with weightDecayNorm 'spectral' and with spectralPenalty 1e-4.
// Prints markdown tables and writes them as the "## Optimizers" section of bench/RESULTS.md
// (bench/RESULTS-quick.md with --quick), replacing only that section; bench/run.mjs keeps it
// when it rewrites the file.
//
// Timing: wall clock per step, one warm-up step, then repeated steps until both a minimum count
// and a time budget are reached; best (used for every ratio) and median. Before every step (timed
// or not) the gradient is rescaled, by 0.5 and 2 alternately (exact in float32), untimed: every
// step sees a different gradient, and every variant (C included) the same cache state. The
// machine is shared and noisy, so the compared variants run in interleaved rounds (the order
// rotates between rounds); each keeps its best over the rounds, and the median of the per-round
// ratios is shown too. The run also reports how much CPU other processes used meanwhile.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as so from '../dist/index.mjs';
import { buildLimit, compileC, cpuTimes, emit, fmtBM, fmtRatio, fmtSci, fmtTime, LIMIT_BIN, median, out, summarize, table, writeSection } from './lib.mjs';

const { Matrix, createOptimizer, stepMany, stateBytes, backendInfo, OPTIMIZER_RULES } = so;

const HERE = dirname(fileURLToPath(import.meta.url));
const QUICK = process.argv.includes('--quick');
const RESULTS = join(HERE, QUICK ? 'RESULTS-quick.md' : 'RESULTS.md');
const SECTION = '## Optimizers';
const T0 = performance.now();

// ------------------------------------------------------------------------------------------
// Configuration

const N = 4096; // the big parameter is N x N
const ADAMW = { weightDecay: 0.01 }; // betas, eps, lr: the defaults (0.9, 0.999), 1e-8, 1e-3
const MANY = { count: 1000, rows: 64, cols: 64 };
const SINGLE = { rows: 1024, cols: 4000 }; // MANY's total size as one parameter
const ROUNDS_STEP = QUICK ? 1 : 4; // section 1
const ROUNDS_MANY = QUICK ? 1 : 5; // section 2
const ROUNDS_RULES = QUICK ? 1 : 2; // section 3 (the second round runs the rules in reverse order)
const C_BUDGET = QUICK ? 0.2 : 0.5; // seconds per C op and process

const TARGETS = {
  cRatio: 1.25, // specopt AdamW step ≤ 1.25× the C loop
  jsSpeedup: 5, // specopt ≥ 5× faster than the JS loop
  manyRatio: 1.2, // stepMany(1000 × 64²) ≤ 1.2× one step of the same total size
};

// ------------------------------------------------------------------------------------------
// Timing and formatting (the style of bench/run.mjs)

/**
 * Seconds per call of `fn`: { best, median, reps, times }. `setup` runs, untimed, before every
 * call (the warm-up call included).
 */
function measure(fn, { setup = () => {}, minReps = 5, maxReps = 10_000, budget = 1, warmup = 1 } = {}) {
  if (QUICK) {
    minReps = Math.min(minReps, 2);
    budget *= 0.25;
  }
  for (let i = 0; i < warmup; i++) {
    setup();
    fn();
  }
  const times = [];
  const start = performance.now();
  while (times.length < maxReps && (times.length < minReps || performance.now() - start < budget * 1e3)) {
    setup();
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1e3);
  }
  return summarize(times);
}

/** Pools the calls of several measurements of the same thing. */
const pool = (a, b) => (!b ? a : a ? summarize([...a.times, ...b.times]) : b);

const fmtGbps = (bytes, s) => (s && Number.isFinite(s) ? (bytes / s / 1e9).toFixed(1) : '—');
function fmtBytes(b) {
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(b % (1 << 20) ? 2 : 0)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(b % (1 << 10) ? 2 : 0)} KiB`;
  return `${b} B`;
}

function progress(message) {
  process.stderr.write(`[optim ${((performance.now() - T0) / 1e3).toFixed(0).padStart(3)} s] ${message}\n`);
}
/** The rotation of `items` for round `r`: every item goes first in turn. */
const rotate = (items, r) => items.map((_, i) => items[(i + r) % items.length]);

// ------------------------------------------------------------------------------------------
// The machine

function cpuInfo() {
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const family = /^cpu family\s*:\s*(\d+)$/m.exec(text)?.[1];
  const modelNo = /^model\s*:\s*(\d+)$/m.exec(text)?.[1];
  return { model, family, modelNo, cores: os.availableParallelism?.() ?? os.cpus().length };
}

/** What other processes did between two cpuTimes() readings, as a phrase. */
function loadBetween(a, b) {
  if (!a || !b || b.total <= a.total) return 'unknown load';
  const total = b.total - a.total; // ticks summed over all CPUs
  const others = Math.max(0, b.busy - a.busy - (b.own - a.own));
  return (
    `other processes kept ${((cpu.cores * others) / total).toFixed(2)} of the ${cpu.cores} CPUs busy on average, ` +
    `steal ${((100 * (b.steal - a.steal)) / total).toFixed(2)}%`
  );
}

const cpu = cpuInfo();
const info = backendInfo();
const stat0 = cpuTimes();

// Diagnostics only: the raw addon, to time the native call inside a step (the TypeScript side is
// the rest). Skipped if the internal module moved.
let nativeModule = null;
try {
  nativeModule = (await import('../dist/native.js')).default?.native ?? null;
} catch {
  // internal module moved: no split of native vs TypeScript time
}

/**
 * Runs `fn` with the addon's step functions (optimizerStep, and optimizerRun, which steps a batch
 * stepMany keeps) wrapped by a timer; returns the seconds of each native call made meanwhile
 * (null when the wrapper cannot be installed or saw no call).
 */
function withNativeTimer(fn) {
  const addon = nativeModule?.addon;
  const names = ['optimizerStep', 'optimizerRun'].filter((name) => typeof addon?.[name] === 'function');
  if (!names.includes('optimizerStep')) return null;
  const originals = Object.fromEntries(names.map((name) => [name, addon[name]]));
  const calls = [];
  try {
    for (const name of names) {
      const original = originals[name];
      addon[name] = function timedStep(...args) {
        const t0 = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          calls.push((performance.now() - t0) / 1e3);
        }
      };
    }
  } catch {
    Object.assign(addon, originals);
    return null;
  }
  try {
    fn();
  } finally {
    Object.assign(addon, originals);
  }
  return calls.length ? calls : null;
}

// ------------------------------------------------------------------------------------------
// The C loop

const C_SRC = join(HERE, 'c', 'adamw.c');
const C_BIN = join(HERE, 'c', 'bin', 'adamw');
const C_FLAGS = ['-O3', '-march=native', '-fno-math-errno', '-pthread'];
let cError = null;
let cInfo = null;

/** Runs bench/c/bin/adamw; returns its records by op. */
function runC(args) {
  const records = new Map();
  if (cError) return records;
  const r = spawnSync(C_BIN, [`--budget=${C_BUDGET}`, ...(QUICK ? ['--min-reps=2'] : []), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) {
    cError = `bench/c/bin/adamw failed (${r.status ?? r.signal}): ${(r.stderr || r.error || '').toString().trim()}`;
    progress(cError);
    return records;
  }
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line);
    if (rec.op === 'info') cInfo = rec;
    else records.set(rec.op, rec);
  }
  return records;
}
/** A C record as a measurement: best over the rounds, median of the rounds' medians. */
function poolC(acc, rec) {
  if (!rec) return acc;
  const medians = [...(acc?.medians ?? []), rec.median_s];
  const best = Math.min(acc?.best ?? Infinity, rec.best_s);
  return { best, median: median(medians), medians, reps: (acc?.reps ?? 0) + rec.reps };
}

progress('compiling bench/c/adamw.c');
cError = compileC(C_SRC, C_BIN, C_FLAGS);
if (cError) progress(`C loop unavailable: ${cError}`);

// ------------------------------------------------------------------------------------------
// Inputs

/** A seeded Gaussian matrix times `scale`. */
function gaussian(rows, cols, seed, scale) {
  const m = Matrix.randn(rows, cols, seed);
  const d = m.data;
  for (let i = 0; i < d.length; i++) d[i] *= scale;
  return m;
}

/** Rescales gradients by 0.5 and 2 alternately (one counter per set of gradients). */
function varier(arrays) {
  let flips = 0;
  return () => {
    const c = flips++ & 1 ? 2 : 0.5;
    for (const d of arrays) for (let i = 0; i < d.length; i++) d[i] *= c;
  };
}

/**
 * The AdamW update as a plain JavaScript loop over the Float32Arrays: the formula and order of
 * native/rules/first_order.cpp's AdamLoop (decoupled decay, no amsgrad); the per-step scalars as
 * src/optim/rules/adam.ts computes them. Intermediates are doubles (what plain JS gives), each
 * stored value is rounded to float32 by the array. The fastest of the plain forms tried: reading
 * m[i] and v[i] back after storing them took ~1.35× as long, Math.fround on every operation ~2.7×.
 */
function jsAdamW(w, g, m, v, n, lr, beta1, beta2, eps, weightDecay, t) {
  const keep = 1 - lr * weightDecay;
  const stepSize = lr / (1 - beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = m[i] + c1 * (gi - m[i]);
    m[i] = mi;
    const vi = v[i] * beta2 + c2 * gi * gi;
    v[i] = vi;
    const denom = Math.sqrt(vi) / bc2Sqrt + eps;
    w[i] = w[i] * keep - stepSize * (mi / denom);
  }
}

/** One AdamW step of the JS loop on (param, grad, state of createOptimizer('adamw')). */
function jsStep(opt, param, grad, state) {
  const { expAvg, expAvgSq } = state.arrays;
  if (!(expAvg instanceof Float32Array) || !(expAvgSq instanceof Float32Array)) {
    throw new Error("bench/optim.mjs: adamw's state no longer has Float32Array buffers 'expAvg' and 'expAvgSq'");
  }
  const h = opt.hyper;
  const t = state.step + 1;
  jsAdamW(param.data, grad.data, expAvg, expAvgSq, param.data.length, h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, t);
  state.step = t;
}

/** Median seconds of `fn` over a few calls: how long a gradient rescaling takes here. */
function medianTime(fn, reps = 7) {
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push((performance.now() - t0) / 1e3);
  }
  return summarize(t).median;
}

progress(`inputs: ${N}x${N} parameter and gradient`);
const P = gaussian(N, N, 1, 0.02);
const G = gaussian(N, N, 2, 1e-3);
const varyG = varier([G.data]);
const adamw = createOptimizer('adamw', ADAMW);
const checks = [];

// Sanity check: the JS loop and specopt take the same steps (256×256, 3 steps from one state).
{
  const p0 = gaussian(256, 256, 11, 0.02);
  const g0 = gaussian(256, 256, 12, 1e-3);
  const a = new Matrix(256, 256, p0.data.slice());
  const b = new Matrix(256, 256, p0.data.slice());
  const sa = adamw.init(a);
  const sb = adamw.init(b);
  for (let s = 0; s < 3; s++) {
    adamw.step(a, g0, sa);
    jsStep(adamw, b, g0, sb);
  }
  let diff = 0;
  let moved = 0;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
    moved = Math.max(moved, Math.abs(a.data[i] - p0.data[i]));
  }
  checks.push(['AdamW 256×256, 3 steps: max |W specopt − W JS loop| / max |W − W₀|', diff / moved, 'float32 loop vs double intermediates']);
}

// ------------------------------------------------------------------------------------------
// 1. AdamW step, 4096 x 4096

progress(`AdamW ${N}x${N}: ${ROUNDS_STEP} rounds of C loop, specopt, JS loop`);
const stat1a = cpuTimes();
const bigState = adamw.init(P);
// The C side waits as long between steps as the JS rescaling of G takes (see bench/c/adamw.c).
const gap1 = medianTime(varyG);
const stepBytes = 7 * N * N * 4; // reads W, G, m, v; writes W, m, v
const step1 = { c: null, cScan: null, so: null, js: null, cRatios: [], jsRatios: [] };
for (let r = 0; r < ROUNDS_STEP; r++) {
  let cRec, soRound, jsRound;
  const runs = {
    c: () => (cRec = runC([`--rows=${N}`, `--cols=${N}`, `--gap=${gap1}`, 'adamw', 'adamw_scan'])),
    so: () => (soRound = measure(() => adamw.step(P, G, bigState), { setup: varyG, minReps: 5, budget: 0.8 })),
    js: () => (jsRound = measure(() => jsStep(adamw, P, G, bigState), { setup: varyG, minReps: 3, budget: 0.8 })),
  };
  for (const k of rotate(['c', 'so', 'js'], r)) runs[k]();
  step1.c = poolC(step1.c, cRec.get('adamw'));
  step1.cScan = poolC(step1.cScan, cRec.get('adamw_scan'));
  step1.so = pool(step1.so, soRound);
  step1.js = pool(step1.js, jsRound);
  if (cRec.get('adamw')) step1.cRatios.push(soRound.best / cRec.get('adamw').best_s);
  step1.jsRatios.push(jsRound.best / soRound.best);
}
// Yardsticks, once: copy bandwidth, the same traffic with trivial arithmetic, the scan alone,
// and the scan + update on two threads.
progress('C yardsticks: scan, traffic, copy, two threads');
const yard = runC([`--rows=${N}`, `--cols=${N}`, `--gap=${gap1}`, 'scan', 'traffic', 'copy', 'adamw_scan_2t']);
// Diagnostic: the native call inside opt.step, timed by a wrapper on the addon.
const split1 = (() => {
  const totals = [];
  const calls = withNativeTimer(() => {
    for (let i = 0; i < (QUICK ? 3 : 8); i++) {
      varyG();
      const t0 = performance.now();
      adamw.step(P, G, bigState);
      totals.push((performance.now() - t0) / 1e3);
    }
  });
  if (!calls || calls.length !== totals.length) return null;
  return { total: summarize(totals), native: summarize(calls), ts: summarize(totals.map((t, i) => t - calls[i])) };
})();
const stat1b = cpuTimes();

// ------------------------------------------------------------------------------------------
// 2. Many parameters: stepMany over 1000 x 64x64 vs one 1024x4000 step

progress(`stepMany ${MANY.count} x ${MANY.rows}x${MANY.cols} vs one ${SINGLE.rows}x${SINGLE.cols}: ${ROUNDS_MANY} rounds`);
const stat2a = cpuTimes();
const entries = [];
for (let k = 0; k < MANY.count; k++) {
  const param = gaussian(MANY.rows, MANY.cols, 100 + k, 0.02);
  const grad = gaussian(MANY.rows, MANY.cols, 5000 + k, 1e-3);
  entries.push({ optimizer: adamw, param, grad, state: adamw.init(param) });
}
const varyMany = varier(entries.map((e) => e.grad.data));
const bp = gaussian(SINGLE.rows, SINGLE.cols, 3, 0.02);
const bg = gaussian(SINGLE.rows, SINGLE.cols, 4, 1e-3);
const bs = adamw.init(bp);
const varySingle = varier([bg.data]);
const gapSingle = medianTime(varySingle);
const gapMany = medianTime(varyMany);
const manyOpts = { minReps: 10, budget: 0.4 };
const variants2 = {
  single: { fn: () => adamw.step(bp, bg, bs), setup: varySingle },
  many: { fn: () => stepMany(entries), setup: varyMany },
  separate: {
    fn: () => {
      for (let k = 0; k < entries.length; k++) adamw.step(entries[k].param, entries[k].grad, entries[k].state);
    },
    setup: varyMany,
  },
};
const step2 = { single: null, many: null, separate: null, cSingle: null, cMany: null, manyRatios: [], separateRatios: [] };
for (let r = 0; r < ROUNDS_MANY; r++) {
  const round = {};
  const order = rotate(['single', 'many', 'separate', 'cSingle', 'cMany'], r);
  for (const k of order) {
    if (k === 'cSingle') {
      const args = [`--rows=${SINGLE.rows}`, `--cols=${SINGLE.cols}`, `--gap=${gapSingle}`, 'adamw_scan'];
      step2.cSingle = poolC(step2.cSingle, runC(args).get('adamw_scan'));
    } else if (k === 'cMany') {
      const args = [`--rows=${MANY.rows}`, `--cols=${MANY.cols}`, `--count=${MANY.count}`, `--gap=${gapMany}`, 'adamw_scan'];
      step2.cMany = poolC(step2.cMany, runC(args).get('adamw_scan'));
    } else {
      round[k] = measure(variants2[k].fn, { setup: variants2[k].setup, ...manyOpts });
      step2[k] = pool(step2[k], round[k]);
    }
  }
  step2.manyRatios.push(round.many.best / round.single.best);
  step2.separateRatios.push(round.separate.best / round.single.best);
}
// The same C step with no gap between steps (only the C's own, vectorised, rescaling).
const cSingleNoGap = runC([`--rows=${SINGLE.rows}`, `--cols=${SINGLE.cols}`, 'adamw_scan']).get('adamw_scan');
// Diagnostic: native call vs TypeScript side, for the single step and for stepMany.
const split2 = (() => {
  const one = (variant) => {
    const totals = [];
    const calls = withNativeTimer(() => {
      for (let i = 0; i < (QUICK ? 3 : 20); i++) {
        variant.setup();
        const t0 = performance.now();
        variant.fn();
        totals.push((performance.now() - t0) / 1e3);
      }
    });
    if (!calls || calls.length !== totals.length) return null;
    return { total: summarize(totals), native: summarize(calls), ts: summarize(totals.map((t, i) => t - calls[i])) };
  };
  const single = one(variants2.single);
  const many = one(variants2.many);
  return single && many ? { single, many } : null;
})();
const stat2b = cpuTimes();

// ------------------------------------------------------------------------------------------
// 3. Every rule at 4096 x 4096

const ruleConfigs = [
  ...OPTIMIZER_RULES.map((rule) => ({ label: rule, rule, hyper: {}, options: 'defaults' })),
  { label: 'adamw', rule: 'adamw', hyper: { weightDecayNorm: 'spectral' }, options: "weightDecayNorm 'spectral'" },
  { label: 'adamw', rule: 'adamw', hyper: { spectralPenalty: 1e-4 }, options: 'spectralPenalty 1e-4' },
  { label: 'muon', rule: 'muon', hyper: { nsCoefficients: 'polar-express' }, options: "nsCoefficients 'polar-express'" },
  { label: 'adamw', rule: 'adamw', hyper: { cautious: true }, options: 'cautious' },
];
progress(`every rule at ${N}x${N}: ${ruleConfigs.length} configurations, ${ROUNDS_RULES} rounds`);
const stat3a = cpuTimes();
for (const c of ruleConfigs) {
  c.opt = createOptimizer(c.rule, c.hyper);
  try {
    c.state = c.opt.init(P);
  } catch (error) {
    // adagrad-full refuses a parameter this large (its statistic would be (4096²)² floats).
    c.refused = error.message;
    continue;
  }
  c.bytes = stateBytes(c.state);
  c.buffers = Object.entries(c.state.arrays).map(([name, a]) => `${name} (${a.length === N * N ? `${N}²` : a.length})`);
}
for (let r = 0; r < ROUNDS_RULES; r++) {
  const order = r % 2 ? [...ruleConfigs].reverse() : ruleConfigs;
  for (const c of order) {
    if (c.refused) continue;
    progress(`  ${c.label}${c.options === 'defaults' ? '' : `, ${c.options}`}`);
    const m = measure(() => c.opt.step(P, G, c.state), { setup: varyG, minReps: 3, budget: 0.4, warmup: r === 0 ? 1 : 0 });
    c.time = pool(c.time, m);
  }
}
const stat3b = cpuTimes();

// ------------------------------------------------------------------------------------------
// Report

const stat9 = cpuTimes();
const C = (m) => m?.best;
emit(`${SECTION}${QUICK ? ' (quick run)' : ''}`);
emit();
emit(
  `Machine: ${cpu.model}${cpu.family ? ` (family ${cpu.family} model ${cpu.modelNo})` : ''}, ${cpu.cores} cores, ` +
    `Node ${process.version}, ${info.blas}, coreType ${info.coreType} [${info.coreTypeChosenBy}], ` +
    `${info.threads} threads [${info.threadsChosenBy}], ${new Date().toISOString()}; meanwhile ${loadBetween(stat0, stat9)}.`,
);
emit();
emit(
  cInfo
    ? `C loop: bench/c/adamw.c, ${cInfo.compiler} ${C_FLAGS.join(' ')}, one thread (its "2 threads" row: two pthreads), malloc'ed buffers.`
    : `C loop: not available (${cError}).`,
);
emit();
emit(
  'Times are wall clock per step, best / median over all steps after a warm-up. Before every step the gradient is ' +
    'rescaled (×0.5 and ×2 alternately, untimed); the C side then waits until as much time has passed as the JS ' +
    'rescaling takes ("gap"), because on this shared VM data left in the L3 decays within ~20 ms, so the time between ' +
    'steps changes the step time of anything that fits the L3. The compared variants ran in interleaved rounds (order rotating), ' +
    'each keeping its best; ratios are best over best, "per round" is the median of the per-round ratios. GB/s: ' +
    'the update\'s 7 array passes (read W, G, m, v; write W, m, v) per step time; "+ scan" rows do 8 (G read twice).',
);
emit();

// 1.
emit(`### AdamW step, ${N}×${N} (weight decay 0.01, betas 0.9/0.999, eps 1e-8, lr 1e-3)`);
emit();
emit(
  `${ROUNDS_STEP} rounds; ${loadBetween(stat1a, stat1b)}. State: ${fmtBytes(stateBytes(bigState))} (expAvg, expAvgSq). ` +
    `Gap between C steps: ${fmtTime(gap1)}.`,
);
emit();
const y = (op) => yard.get(op);
const scanBytes = 8 * N * N * 4;
table(
  ['variant', 'best / median', 'vs C loop', 'per round', 'GB/s (best)'],
  [
    ['C loop (bench/c/adamw.c)', fmtBM(step1.c), '1×', '—', fmtGbps(stepBytes, C(step1.c))],
    [
      'C loop + non-finite scan of G first (the native work of a specopt step)',
      fmtBM(step1.cScan),
      fmtRatio(C(step1.cScan) / C(step1.c)),
      '—',
      fmtGbps(scanBytes, C(step1.cScan)),
    ],
    ['specopt `opt.step(param, grad, state)`', fmtBM(step1.so), fmtRatio(step1.so.best / C(step1.c)), fmtRatio(median(step1.cRatios)), fmtGbps(stepBytes, step1.so.best)],
    ['plain JS loop over the Float32Arrays', fmtBM(step1.js), fmtRatio(step1.js.best / C(step1.c)), '—', fmtGbps(stepBytes, step1.js.best)],
  ],
);
emit(
  `JS loop ÷ specopt: ${fmtRatio(step1.js.best / step1.so.best)} (per round ${fmtRatio(median(step1.jsRatios))}). ` +
    `specopt ÷ (C loop + scan): ${fmtRatio(step1.so.best / C(step1.cScan))}.`,
);
emit();
if (yard.size) {
  const copyGbps = y('copy') ? y('copy').gbps : NaN;
  emit('Yardsticks (C, one process after the rounds):');
  emit();
  table(
    ['C op', 'best / median', 'GB/s (best)', 'specopt step GB/s as % of it'],
    [
      ['memcpy of one 64 MiB array (read + write)', y('copy') ? fmtBM({ best: y('copy').best_s, median: y('copy').median_s }) : '—', fmtGbps(y('copy')?.bytes, y('copy')?.best_s), `${((100 * stepBytes) / step1.so.best / 1e9 / copyGbps).toFixed(0)}%`],
      ['same 7 passes, trivial arithmetic (w += c·g; m += c·g; v += c·g²)', y('traffic') ? fmtBM({ best: y('traffic').best_s, median: y('traffic').median_s }) : '—', fmtGbps(y('traffic')?.bytes, y('traffic')?.best_s), `${((100 * stepBytes) / step1.so.best / 1e9 / y('traffic')?.gbps).toFixed(0)}%`],
      ['non-finite scan of G alone (AllFinite)', y('scan') ? fmtBM({ best: y('scan').best_s, median: y('scan').median_s }) : '—', fmtGbps(y('scan')?.bytes, y('scan')?.best_s), '—'],
      ['scan + update on 2 threads (halves, join between)', y('adamw_scan_2t') ? fmtBM({ best: y('adamw_scan_2t').best_s, median: y('adamw_scan_2t').median_s }) : '—', fmtGbps(y('adamw_scan_2t')?.bytes, y('adamw_scan_2t')?.best_s), '—'],
    ],
  );
  emit(
    'The 4 arrays (256 MiB) nearly fit the 260 MiB L3 this VM reports, so the update runs above the memcpy rate ' +
      '(glibc memcpy streams around the cache at this size); the trivial-arithmetic loop is the practical ceiling.',
  );
  emit();
}
if (split1) {
  emit(
    `Inside specopt's step (addon call timed by a wrapper, ${split1.total.reps} steps): whole step ${fmtBM(split1.total)}, ` +
      `native call ${fmtBM(split1.native)}, TypeScript side (checks, scalars, batch) ${fmtBM(split1.ts)}.`,
  );
  emit();
}

// 2.
const perParam = (m) => (m - step2.single.best) / MANY.count;
emit(`### Many parameters: ${MANY.count} × ${MANY.rows}×${MANY.cols} vs one ${SINGLE.rows}×${SINGLE.cols} (AdamW, ${(MANY.count * MANY.rows * MANY.cols).toLocaleString('en-US')} entries each)`);
emit();
emit(`${ROUNDS_MANY} rounds; ${loadBetween(stat2a, stat2b)}. Gap between C steps: ${fmtTime(gapSingle)} (one), ${fmtTime(gapMany)} (${MANY.count}).`);
emit();
table(
  ['variant', 'best / median', 'vs one step', 'per round', 'overhead per parameter'],
  [
    [`one \`opt.step\` on ${SINGLE.rows}×${SINGLE.cols}`, fmtBM(step2.single), '1×', '—', '—'],
    [`\`stepMany\` over ${MANY.count} entries`, fmtBM(step2.many), fmtRatio(step2.many.best / step2.single.best), fmtRatio(median(step2.manyRatios)), fmtTime(perParam(step2.many.best))],
    [`${MANY.count} separate \`opt.step\` calls`, fmtBM(step2.separate), fmtRatio(step2.separate.best / step2.single.best), fmtRatio(median(step2.separateRatios)), fmtTime(perParam(step2.separate.best))],
    [`C loop + scan, one ${SINGLE.rows}×${SINGLE.cols}`, fmtBM(step2.cSingle), fmtRatio(C(step2.cSingle) / step2.single.best), '—', '—'],
    [`C loop + scan, ${MANY.count} separate ${MANY.rows}×${MANY.cols} (all scans, then all updates)`, fmtBM(step2.cMany), fmtRatio(C(step2.cMany) / step2.single.best), '—', fmtTime((C(step2.cMany) - C(step2.cSingle)) / MANY.count)],
    [
      `C loop + scan, one ${SINGLE.rows}×${SINGLE.cols}, no gap (once, after the rounds)`,
      cSingleNoGap ? fmtBM({ best: cSingleNoGap.best_s, median: cSingleNoGap.median_s }) : '—',
      fmtRatio(cSingleNoGap?.best_s / step2.single.best),
      '—',
      '—',
    ],
  ],
);
emit(
  '"overhead per parameter": (time − one step\'s time) / ' +
    `${MANY.count}, best times; the C rows' is against the C single step. This working set (4 × 16 MB) fits the L3, ` +
    'so these times depend on the gap between steps (compare the no-gap C row); "vs one step" of the C rows is C ÷ specopt.',
);
emit();
if (split2) {
  emit(
    `Inside the calls (addon call timed by a wrapper, ${split2.many.total.reps} calls each): one step: native ${fmtBM(split2.single.native)}, ` +
      `TypeScript ${fmtBM(split2.single.ts)}; stepMany: native ${fmtBM(split2.many.native)}, TypeScript ${fmtBM(split2.many.ts)} ` +
      `(${fmtTime(split2.many.ts.median / MANY.count)} per entry in TS, ${fmtTime((split2.many.native.best - split2.single.native.best) / MANY.count)} ` +
      'per entry extra in the native call, best vs best).',
  );
  emit();
}

// 3.
const adamwRow = ruleConfigs.find((c) => c.rule === 'adamw' && c.options === 'defaults');
emit(`### Every rule, ${N}×${N}, default hyperparameters`);
emit();
emit(
  `${ROUNDS_RULES} round(s), the second in reverse order; ${loadBetween(stat3a, stat3b)}. Parameter: ${fmtBytes(N * N * 4)}. ` +
    'The spectral options run a power iteration first (10 rounds of two OpenBLAS sgemv over W, ' +
    `${info.threads} threads); spectralPenalty also copies G and adds a rank-1 term. ` +
    `shampoo and shampoo2 keep their default maxPreconditionerDim (1024), so at ${N}² neither side is ` +
    'preconditioned; galore-adamw computes its projector (eigh of the float64 Gram matrix) on the first, warm-up step and reuses ' +
    'it for updateProjGap = 200 steps, so the rows show the steps in between.',
);
emit();
table(
  ['rule', 'options', 'best / median per step', 'vs adamw', 'state bytes', 'state ÷ param', 'state buffers'],
  ruleConfigs.map((c) =>
    c.refused
      ? [c.label, c.options, `refused: ${c.refused}`, '—', '—', '—', '—']
      : [
    c.label,
    c.options,
    fmtBM(c.time),
    fmtRatio(c.time.best / adamwRow.time.best),
    fmtBytes(c.bytes),
    c.bytes ? (c.bytes / (N * N * 4)).toPrecision(3) : '0',
    c.buffers.length ? c.buffers.join(', ') : '—',
        ],
  ),
  'llrrrrl',
);

// 5. inverseRoot by eigh against a coupled Newton iteration (GEMMs only; Guo & Higham 2006):
// X₀ = I/c, M₀ = S/cᵖ with cᵖ = 2‖S‖_F/(p+1) (so M₀'s eigenvalues lie in (0, (p+1)/2]);
// T = ((p+1)I − M)/p, X ← X·T, M ← Tᵖ·M, until ‖M − I‖_F ≤ 1e-5 (or 100 iterations).
// Accuracy of each: ‖Xᵖ·(S + εI) − I‖_F / √n. Whichever is faster at equal accuracy is kept.
progress('inverseRoot: eigh vs coupled Newton');
const rootRows = [];
for (const n of [128, 256, 512]) {
  const p = 4;
  const eps = 1e-6;
  const base = gaussian(n, n, 500 + n, 1);
  const s = so.matmul(base, base, { transA: true, alpha: 1 / n });
  for (let i = 0; i < n; i++) s.data[i * n + i] += eps;
  const eye = Matrix.eye(n);
  const residual = (x) => {
    let xp = x;
    for (let k = 1; k < p; k++) xp = so.matmul(xp, x);
    const r = so.matmul(xp, s);
    let sum = 0;
    for (let i = 0; i < n * n; i++) sum += (r.data[i] - eye.data[i]) ** 2;
    return Math.sqrt(sum / n);
  };
  const newton = () => {
    let fro = 0;
    for (const v of s.data) fro += v * v;
    const cp = (2 * Math.sqrt(fro)) / (p + 1);
    let x = Matrix.eye(n);
    x.data.forEach((v, i) => (x.data[i] = v / cp ** (1 / p)));
    let m = s.clone();
    m.data.forEach((v, i) => (m.data[i] = v / cp));
    let iters = 0;
    for (; iters < 100; iters++) {
      let dev = 0;
      for (let i = 0; i < n * n; i++) dev += (m.data[i] - eye.data[i]) ** 2;
      if (Math.sqrt(dev) <= 1e-5) break;
      const t = new Matrix(n, n);
      for (let i = 0; i < n * n; i++) t.data[i] = ((p + 1) * eye.data[i] - m.data[i]) / p;
      x = so.matmul(x, t);
      let tp = t;
      for (let k = 1; k < p; k++) tp = so.matmul(tp, t);
      m = so.matmul(tp, m);
    }
    return { x, iters };
  };
  let nx = null;
  const nTime = measure(() => (nx = newton()), { minReps: 2, budget: 0.3 });
  let ex = null;
  const eTime = measure(() => (ex = so.inverseRoot(s, p, { eps: 1e-12 })), { minReps: 3, budget: 0.3 });
  rootRows.push([`${n}`, fmtBM(eTime), fmtSci(residual(ex)), fmtBM(nTime), `${nx.iters}`, fmtSci(residual(nx.x)), fmtRatio(nTime.best / eTime.best)]);
}
emit('### inverseRoot: eigh vs a coupled Newton iteration (p = 4, S = AᵀA/n + 1e-6·I)');
emit();
table(['n', 'eigh best / median', 'eigh residual', 'Newton best / median', 'Newton iterations', 'Newton residual', 'Newton ÷ eigh'], rootRows, 'lrrrrrr');
emit('Residual: ‖Xᵖ·S − I‖_F/√n. The eigh path is what inverseRoot and Shampoo use.');
emit();

// 6. A transformer block's matrices (4 × 768², 768×3072, 3072×768): one stepMany over all six per
// rule, defaults. Each rule's first step is timed on its own (galore's projectors, soap's
// eigenbases, shampoo's first roots); then BLOCK_STEPS steps are timed one by one, so rules with a
// periodic refresh (soap every 10 Adam steps, galore every 200) are amortised over their period:
// (refresh + (period − 1) · between) / period. The GEMM-peak fraction is the matrix work specopt
// does per step (BLOCK_FLOPS below) over the time, over the sgemm rate measured in this run.
progress('transformer block');
const blockShapes = [[768, 768], [768, 768], [768, 768], [768, 768], [768, 3072], [3072, 768]];
const BLOCK_STEPS = QUICK ? 11 : 21;
// FLOP conventions (matrix work only): GEMM (m×k)·(k×n) 2mkn; syrk of m×k m²k; symm k²·n 2k²n;
// eigh with vectors 9k³ (Golub & Van Loan's symmetric QR count); QR with Q formed 8k³/3 (geqrf +
// orgqr). galore's projector: the smaller Gram matrix by syrk (M·k², M = max side, k = min side)
// and its eigh, both in float64 (counted like float32 work against the sgemm peak).
const BLOCK_FLOPS = {
  adamw: () => ({ between: 0 }),
  // Newton-Schulz per step: X·Xᵀ by syrk (a²b), A·A by syrk (a³), B·X by symm (2a²b).
  muon: (m, n, h) => {
    const [a, b] = [Math.min(m, n), Math.max(m, n)];
    return { between: h.nsSteps * (3 * a * a * b + a ** 3) };
  },
  shampoo: (m, n, h) => {
    const sides = [m, n].filter((k) => k <= h.maxPreconditionerDim);
    const stats = (m <= h.maxPreconditionerDim ? m * m * n : 0) + (n <= h.maxPreconditionerDim ? m * n * n : 0);
    return { between: 3 * stats + sides.reduce((sum, k) => sum + 9 * k ** 3 + k ** 3, 0) };
  },
  'galore-adamw': (m, n, h) => {
    const [k, M] = [Math.min(m, n), Math.max(m, n)];
    const r = Math.min(h.rank, k);
    return { between: 4 * m * n * r, refresh: M * k * k + 9 * k ** 3 };
  },
  soap: (m, n, h) => {
    const left = m > 1 && n > 1 && m <= h.maxPreconditionerDim;
    const right = m > 1 && n > 1 && n <= h.maxPreconditionerDim;
    const rotation = (left ? 2 * m * m * n : 0) + (right ? 2 * m * n * n : 0);
    const stats = (left ? m * m * n : 0) + (right ? m * n * n : 0);
    const qr = (left ? 2 * m ** 3 + (8 / 3) * m ** 3 : 0) + (right ? 2 * n ** 3 + (8 / 3) * n ** 3 : 0);
    return { between: 2 * rotation + stats, refresh: 2 * rotation + qr };
  },
};
BLOCK_FLOPS.shampoo2 = BLOCK_FLOPS.shampoo;
const PERIOD = { soap: (h) => h.preconditionFrequency, 'galore-adamw': (h) => h.updateProjGap };
const peakGemm = (() => {
  const a = gaussian(2048, 2048, 71, 1);
  const b = gaussian(2048, 2048, 72, 1);
  const c = new Matrix(2048, 2048);
  const t = measure(() => so.matmul(a, b, { out: c }), { minReps: 5, budget: 0.5 });
  return (2 * 2048 ** 3) / t.best;
})();
const blockRows = [];
const blockResults = {};
for (const rule of ['adamw', 'muon', 'shampoo', 'shampoo2', 'soap', 'galore-adamw']) {
  progress(`  ${rule}`);
  const opt = createOptimizer(rule);
  const entries = blockShapes.map(([r, c], k) => {
    const param = gaussian(r, c, 900 + k, 0.02);
    return { optimizer: opt, param, grad: gaussian(r, c, 950 + k, 1e-3), state: opt.init(param) };
  });
  const timeOne = () => {
    const t = performance.now();
    stepMany(entries);
    return (performance.now() - t) / 1e3;
  };
  const first = timeOne();
  const times = Array.from({ length: rule === 'adamw' ? 5 * BLOCK_STEPS : BLOCK_STEPS }, timeOne);
  const h = opt.hyper;
  const period = PERIOD[rule]?.(h) ?? 1;
  // soap: the refresh comes at Adam steps 10, 20, ... (calls 11, 21, ...: the first call only sets the bases).
  const isRefresh = (i) => rule === 'soap' && (i + 1) % period === 0;
  const between = summarize(times.filter((_, i) => !isRefresh(i)));
  const refreshTimes = times.filter((_, i) => isRefresh(i));
  const refresh = rule === 'galore-adamw' ? first : refreshTimes.length ? Math.min(...refreshTimes) : null;
  const amortised = refresh === null ? between.median : (refresh + (period - 1) * between.median) / period;
  const flops = blockShapes.reduce(
    (acc, [m, n]) => {
      const f = BLOCK_FLOPS[rule](m, n, h);
      return { between: acc.between + f.between, refresh: acc.refresh + (f.refresh ?? 0) };
    },
    { between: 0, refresh: 0 },
  );
  const flopsPerStep = flops.between + flops.refresh / period;
  const bytes = entries.reduce((sum, e) => sum + stateBytes(e.state), 0);
  blockResults[rule] = { first, between: between.median, refresh, amortised, flopsPerStep, bytes, period };
  blockRows.push([
    rule,
    fmtTime(first),
    fmtBM(between),
    refresh === null ? '—' : `${fmtTime(refresh)} every ${period}`,
    fmtTime(amortised),
    flopsPerStep ? `${(flopsPerStep / 1e9).toFixed(1)}` : '—',
    flopsPerStep ? `${((100 * flopsPerStep) / amortised / peakGemm).toFixed(0)}%` : '—',
    fmtBytes(bytes),
  ]);
}
emit('### A transformer block: 4 × 768×768, 768×3072, 3072×768 (one stepMany per step, defaults)');
emit();
table(
  ['rule', 'first step', 'between refreshes best / median', 'refresh step', 'amortised per step', 'GFLOP per step', 'of GEMM peak', 'state bytes'],
  blockRows,
  'lrrrrrrr',
);
emit(
  `GEMM peak: sgemm 2048³ measured in this run, ${(peakGemm / 1e9).toFixed(0)} GFLOP/s. First step: galore-adamw computes its six ` +
    'projectors (eigh of each float64 Gram matrix) there and again every 200 steps; soap computes the eigenbases of its 12 statistics (eigh, up to 3072²) ' +
    'and does not move the weights; shampoo and shampoo2 recompute their roots (eigh of each 768×768 statistic; their default ' +
    'maxPreconditionerDim 1024 leaves the 3072 sides unpreconditioned) every step by default. soap refreshes its bases (a QR of ' +
    'each statistic times its basis, 3072² included) every 10 Adam steps. FLOP conventions: see BLOCK_FLOPS in bench/optim.mjs.',
);
emit();

// galore-adamw's floor between refreshes: its 12 GEMMs alone, called from C with the kernels the
// library runs (bench/c/limit.c, galore_block).
const galoreLimit = (() => {
  const error = buildLimit();
  if (error) return { error };
  const rank = Math.min(createOptimizer('galore-adamw').hyper.rank, 768);
  const env = { ...process.env, OPENBLAS_CORETYPE: so.backendInfo().coreType };
  const r = spawnSync(LIMIT_BIN, [...(QUICK ? ['--quick'] : []), `galore_block:${rank}`], { encoding: 'utf8', env });
  if (r.status !== 0) return { error: `bench/c/bin/limit failed (${r.status ?? r.signal}): ${(r.stderr || '').trim()}` };
  const rec = r.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)).find((x) => x.op === 'galore_block');
  return rec ? { best: rec.best_s, median: rec.median_s } : { error: 'bench/c/bin/limit printed no galore_block record' };
})();
emit(
  galoreLimit.error
    ? `galore-adamw's GEMMs from C: not measured (${galoreLimit.error}).`
    : `galore-adamw between refreshes against its 12 GEMMs alone, called from C with the same OpenBLAS kernels ` +
        `(bench/c/limit.c galore_block): ${fmtTime(galoreLimit.best)} / ${fmtTime(galoreLimit.median)} (best / median), ` +
        `so specopt's step takes ${fmtRatio(blockResults['galore-adamw'].between / galoreLimit.median)} of it (median over median); ` +
        'the rest is the NaN scan of the gradients and Adam on the projected gradients.',
);
emit();

// 4. orthogonalize (Muon's Newton-Schulz, 5 steps) of 1024×4096 against its own GEMMs at the GEMM
// rate measured here: X·Xᵀ (1024×4096×1024), A·A (1024³) and B·X (1024×1024×4096), 5 times each,
// as plain sgemm calls. (orthogonalize forms the two symmetric products by ssyrk, at half the
// work, so it can come in under this yardstick.)
progress('orthogonalize 1024x4096 vs its GEMMs');
const ortho = (() => {
  const g = gaussian(1024, 4096, 77, 1);
  const x = gaussian(1024, 4096, 78, 1);
  const a = gaussian(1024, 1024, 79, 1);
  const o1 = new Matrix(1024, 1024);
  const o2 = new Matrix(1024, 4096);
  const rounds = [];
  let ns = null;
  let gemm = null;
  for (let r = 0; r < 3; r++) {
    const nsRound = measure(() => so.orthogonalize(g), { minReps: 3, budget: 0.5 });
    const parts = [
      measure(() => so.matmul(x, x, { transB: true, out: o1 }), { minReps: 3, budget: 0.2 }),
      measure(() => so.matmul(a, a, { out: o1 }), { minReps: 3, budget: 0.2 }),
      measure(() => so.matmul(a, x, { out: o2 }), { minReps: 3, budget: 0.2 }),
    ];
    const gemmBest = 5 * parts.reduce((sum, p) => sum + p.best, 0);
    rounds.push(nsRound.best / gemmBest);
    ns = pool(ns, nsRound);
    gemm = gemm === null ? gemmBest : Math.min(gemm, gemmBest);
  }
  const flops = 5 * (2 * 1024 * 1024 * 4096 * 2 + 2 * 1024 ** 3);
  return { ns, gemm, rounds, gflops: flops / gemm / 1e9 };
})();
emit('### orthogonalize (Newton-Schulz, 5 steps), 1024×4096');
emit();
table(
  ['variant', 'best / median', 'GFLOP/s'],
  [
    ['orthogonalize', fmtBM(ortho.ns), (ortho.gflops * (ortho.gemm / ortho.ns.best)).toFixed(0)],
    ['its 15 GEMMs, timed alone (sum of bests)', fmtTime(ortho.gemm), ortho.gflops.toFixed(0)],
  ],
  'lrr',
);

// Targets
const orthoRatio = ortho.ns.best / ortho.gemm;
const cRatio = step1.so.best / C(step1.c);
const jsSpeedup = step1.js.best / step1.so.best;
const manyRatio = step2.many.best / step2.single.best;
const targets = [
  [`AdamW ${N}² step: specopt ÷ C loop`, `≤ ${TARGETS.cRatio}×`, `${fmtRatio(cRatio)} (per round ${fmtRatio(median(step1.cRatios))})`, cRatio <= TARGETS.cRatio],
  [`AdamW ${N}² step: JS loop ÷ specopt`, `≥ ${TARGETS.jsSpeedup}×`, `${fmtRatio(jsSpeedup)} (per round ${fmtRatio(median(step1.jsRatios))})`, jsSpeedup >= TARGETS.jsSpeedup],
  [
    `stepMany ${MANY.count} × ${MANY.rows}² ÷ one ${SINGLE.rows}×${SINGLE.cols} step`,
    `≤ ${TARGETS.manyRatio}×`,
    `${fmtRatio(manyRatio)} (per round ${fmtRatio(median(step2.manyRatios))})`,
    manyRatio <= TARGETS.manyRatio,
  ],
  [
    'orthogonalize 1024×4096 (5 steps) ÷ the time of its GEMMs',
    '≤ 1.3×',
    `${fmtRatio(orthoRatio)} (per round ${fmtRatio(median(ortho.rounds))})`,
    orthoRatio <= 1.3,
  ],
];
emit('### Optimizer targets');
emit();
table(['target', 'goal', 'measured', 'result'], targets.map(([what, goal, value, ok]) => [what, goal, value, Number.isFinite(parseFloat(value)) ? (ok ? 'PASS' : '**FAIL**') : 'n/a']));

// Where the time over the yardstick goes, from the measurements above.
{
  const parts = [];
  if (C(step1.c) && C(step1.cScan)) {
    const over = step1.so.best - C(step1.c);
    const scan = C(step1.cScan) - C(step1.c);
    parts.push(
      `AdamW ${N}²: specopt is ${over >= 0 ? `${fmtTime(over)} over` : `${fmtTime(-over)} under`} the one-thread C loop ` +
        `(it splits the scan and the update over ${backendInfo().threads} threads); the same C loop preceded by the non-finite scan of G ` +
        `(a separate pass over every gradient before any write) is ${fmtTime(scan)} over it` +
        (split1 ? `, and the TypeScript side of the step takes ${fmtTime(split1.ts.median)} (median)` : '') +
        '.',
    );
  }
  if (split2) {
    parts.push(
      `stepMany: ${fmtTime(step2.many.best - step2.single.best)} over one step; TypeScript side ` +
        `${fmtTime(split2.many.ts.median - split2.single.ts.median)} more than for one step, native call ` +
        `${fmtTime(split2.many.native.best - split2.single.native.best)} more (medians / bests of the wrapper-timed calls), ` +
        `while C updates ${MANY.count} separate parameters in ${fmtRatio(C(step2.cMany) / C(step2.cSingle))} the time of one.`,
    );
  }
  if (parts.length) {
    emit(`Where the time goes: ${parts.join(' ')}`);
    emit();
  }
}

emit('Sanity checks:');
emit();
table(['check', 'value', 'note'], checks.map(([what, v, note]) => [what, fmtSci(v), note]), 'lrl');
emit(`Total optimizer bench time: ${((performance.now() - T0) / 1e3).toFixed(0)} s${QUICK ? ' (quick run: fewer repetitions)' : ''}.`);

writeSection(RESULTS, SECTION, out.join('\n').trimEnd() + '\n');
progress(`wrote the "${SECTION}" section of ${RESULTS}`);
