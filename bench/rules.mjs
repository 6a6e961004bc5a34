// Issue 12's rules at 4096²: `npm run bench:rules` (builds first), or
// `node bench/rules.mjs [--quick] [--n N] [--rounds R] [--rules lion,prodigy,...]`.
//
// For each rule below that this build has (OPTIMIZER_RULES, createOptimizer accepting the
// hyperparameters, and a first step on the native backend succeeding; otherwise the row says
// "not in this build"), one N×N parameter (default 4096) with default hyperparameters:
//   - specopt's `opt.step(param, grad, state)` and `stepMany([{ optimizer, param, grad, state }])`
//     of the same entry (specopt's default threads: backendInfo().threads),
//   - against the rule's update as a plain one-thread float32 C loop (bench/c/recent.c, compiled
//     here: gcc -O3 -march=native -fno-math-errno, run as a child process printing JSON lines),
//     with the passes the rule needs (lamb and prodigy: a read-only pass for their sums, then the
//     writing pass; cautious: a counting pass, then the writing pass);
//   - the ratio specopt ÷ C loop (target ≤ 1.25×, as the AdamW target of bench/optim.mjs), the
//     state bytes (stateBytes(state): the state arrays' bytes), the spread of the rounds.
// Rounds are interleaved per rule (C, opt.step, stepMany; C, opt.step, stepMany; ...); each side
// keeps its best over the rounds and the median of its rounds' medians; ratios are best ÷ best,
// and the median of the per-round ratios. Before every step (timed or not) the gradient is negated,
// untimed, on both sides (see bench/c/recent.c for why not ×0.5/×2 as bench/optim.mjs), and the C
// side waits as long as the JavaScript negation takes (--gap).
// Before timing, a cross-check: bench/c/bin/recent --trace on 7×13 (6 steps) against specopt's
// native step from the same W and gradients (the C loop and specopt must compute the same update;
// bench/c/recent_check.py checks the C loops against the reference implementations in float64).
// Writes the "## Recent rules (issue 12): ..." section of bench/RESULTS.md (bench/lib.mjs's
// writeSection); --quick: one short round, printed only.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as so from '../dist/index.mjs';
import { compileC, cpuTimes, emit, fmtBM, fmtRatio, fmtSci, fmtTime, median, out, summarize, table, writeSection } from './lib.mjs';

const { Matrix, createOptimizer, stepMany, stateBytes, backendInfo, OPTIMIZER_RULES } = so;

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'RESULTS.md');
const SECTION = '## Recent rules (issue 12): 4096², against one-thread C loops';
const T0 = performance.now();

function arg(name) {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = process.argv[i];
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : process.argv[i + 1];
}
const QUICK = process.argv.includes('--quick');
const N = Number(arg('n') ?? 4096);
const ROUNDS = Number(arg('rounds') ?? (QUICK ? 1 : 3));
const ONLY = arg('rules')?.split(',');
if (!Number.isInteger(N) || N < 8 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('usage: node bench/rules.mjs [--quick] [--n N (>= 8)] [--rounds R] [--rules a,b,...]');
  process.exit(2);
}
const TARGET = 1.25;
const C_BUDGET = QUICK ? 0.1 : 0.6; // seconds of timed C steps per round
const SO_BUDGET = QUICK ? 0.1 : 0.6; // seconds of timed specopt calls per round and variant
const MIN_REPS = QUICK ? 2 : 5;

// ------------------------------------------------------------------------------------------
// The rules: createOptimizer(rule, hyper) against bench/c/recent.c's op.

const RULES = [
  { label: 'lion', rule: 'lion', hyper: {}, op: 'lion' },
  { label: 'lion, cautious', rule: 'lion', hyper: { cautious: true }, op: 'lion_cautious' },
  { label: 'lamb', rule: 'lamb', hyper: {}, op: 'lamb' },
  { label: 'lamb, cautious', rule: 'lamb', hyper: { cautious: true }, op: 'lamb_cautious' },
  { label: 'ademamix', rule: 'ademamix', hyper: {}, op: 'ademamix' },
  { label: 'ademamix, cautious', rule: 'ademamix', hyper: { cautious: true }, op: 'ademamix_cautious' },
  { label: 'schedule-free-adamw', rule: 'schedule-free-adamw', hyper: {}, op: 'sf_adamw' },
  { label: 'schedule-free-sgd', rule: 'schedule-free-sgd', hyper: {}, op: 'sf_sgd' },
  { label: 'prodigy', rule: 'prodigy', hyper: {}, op: 'prodigy' },
  { label: 'adam, cautious', rule: 'adam', hyper: { cautious: true }, op: 'adam_cautious' },
  { label: 'adamw, cautious', rule: 'adamw', hyper: { cautious: true }, op: 'adamw_cautious' },
  { label: 'sgd momentum 0.9, cautious', rule: 'sgd', hyper: { momentum: 0.9, cautious: true }, op: 'sgd_momentum_cautious' },
  // The control: a rule specopt already has (weightDecay 1e-2), the rule of the Optimizers section's AdamW target.
  { label: 'adamw (control)', rule: 'adamw', hyper: {}, op: 'adamw' },
].filter((r) => !ONLY || ONLY.includes(r.op) || ONLY.includes(r.label) || ONLY.includes(r.rule));

// ------------------------------------------------------------------------------------------
// Helpers

const progress = (m) => process.stderr.write(`[rules ${((performance.now() - T0) / 1e3).toFixed(0).padStart(3)} s] ${m}\n`);

function fmtBytes(b) {
  if (!Number.isFinite(b)) return '—';
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(b % (1 << 20) ? 2 : 0)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(b % (1 << 10) ? 2 : 0)} KiB`;
  return `${b} B`;
}
const fmtPct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '—');

/** Seconds per call of `fn`, `setup` untimed before every call (the warm-up's included). */
function measure(fn, { setup, warmup = 1 }) {
  for (let i = 0; i < warmup; i++) {
    setup();
    fn();
  }
  const times = [];
  const start = performance.now();
  while (times.length < 10_000 && (times.length < MIN_REPS || performance.now() - start < SO_BUDGET * 1e3)) {
    setup();
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1e3);
  }
  return summarize(times);
}

/** Pools rounds: best over them, median of their medians, and each round's best. */
function poolRound(acc, best, med, reps) {
  const bests = [...(acc?.bests ?? []), best];
  const medians = [...(acc?.medians ?? []), med];
  return { best: Math.min(...bests), median: median(medians), bests, medians, reps: (acc?.reps ?? 0) + reps };
}
/** (max − min) / min of the rounds' bests. */
const spread = (m) => (m && m.bests.length > 1 ? (Math.max(...m.bests) - Math.min(...m.bests)) / Math.min(...m.bests) : NaN);

function gaussian(rows, cols, seed, scale) {
  const m = Matrix.randn(rows, cols, seed);
  const d = m.data;
  for (let i = 0; i < d.length; i++) d[i] *= scale;
  return m;
}
function negate(d) {
  for (let i = 0; i < d.length; i++) d[i] = -d[i];
}

// ------------------------------------------------------------------------------------------
// The machine

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const ls = spawnSync('lscpu', [], { encoding: 'utf8' });
  const model = (ls.status === 0 && /^Model name:\s*(.*)$/m.exec(ls.stdout)?.[1]) || /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] || 'unknown';
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  const isa = flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') ? 'AVX2, no AVX-512' : 'no AVX2';
  return { model, isa, cores: os.availableParallelism?.() ?? os.cpus().length };
}

/** What other processes did between two cpuTimes() readings, as a phrase. */
function loadBetween(a, b, cores) {
  if (!a || !b || b.total <= a.total) return 'other processes\' CPU use unknown';
  const total = b.total - a.total;
  const others = Math.max(0, b.busy - a.busy - (b.own - a.own));
  return `other processes kept ${((cores * others) / total).toFixed(2)} of the ${cores} CPUs busy on average (steal ${((100 * (b.steal - a.steal)) / total).toFixed(2)}%)`;
}

// ------------------------------------------------------------------------------------------
// The C loops

const C_SRC = join(HERE, 'c', 'recent.c');
const C_BIN = join(HERE, 'c', 'bin', 'recent');
const C_FLAGS = ['-O3', '-march=native', '-fno-math-errno', '-pthread'];
let cError = null;
let cInfo = null;

/** Runs bench/c/bin/recent; returns its records (JSON lines) other than "info". */
function runC(args) {
  if (cError) return [];
  const r = spawnSync(C_BIN, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    cError = `bench/c/bin/recent failed (${r.status ?? r.signal}): ${(r.stderr || r.error || '').toString().trim()}`;
    progress(cError);
    return [];
  }
  const recs = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line);
    if (rec.op === 'info') cInfo = rec;
    else recs.push(rec);
  }
  return recs;
}

progress('compiling bench/c/recent.c');
cError = compileC(C_SRC, C_BIN, C_FLAGS);
if (cError) progress(`C loops unavailable: ${cError}`);

// ------------------------------------------------------------------------------------------
// Which rules this build has

/**
 * A prepared optimizer for `r` on `param`, or the reason it is not in this build. A schedule-free
 * state that must be switched to train mode first (as the reference's optimizer.train()) is.
 */
function prepare(r, param) {
  if (!OPTIMIZER_RULES.includes(r.rule)) return { missing: `'${r.rule}' not in OPTIMIZER_RULES` };
  let opt;
  try {
    opt = createOptimizer(r.rule, r.hyper);
  } catch (error) {
    return { missing: error.message.startsWith('createOptimizer') ? error.message : `createOptimizer: ${error.message}` };
  }
  if (opt.backend !== 'native') return { missing: `backend ${opt.backend}` };
  let state;
  try {
    state = opt.init(param);
  } catch (error) {
    return { missing: `init: ${error.message}` };
  }
  return { opt, state };
}

/** One step, switching a schedule-free state to train mode first if the step asks for it. */
function firstStep(opt, param, grad, state) {
  try {
    opt.step(param, grad, state);
  } catch (error) {
    if (typeof opt.train !== 'function') throw error;
    opt.train(param, state);
    opt.step(param, grad, state);
  }
}

// Presence and the cross-check against the C loop's trace (7×13, 6 steps, from a fresh state).
const TRACE = { rows: 7, cols: 13, steps: 6 };
// float32 rounding alone stays below ~1e-4 here (bench/c/recent_check.py: the C loops and the
// references run in float32 are within 6e-5 of float64); more means a different update.
const CROSS_LIMIT = 1e-3;
const traces = new Map(
  runC([`--trace=${TRACE.steps}`, `--rows=${TRACE.rows}`, `--cols=${TRACE.cols}`, ...RULES.map((r) => r.op)]).map((t) => [t.rule, t]),
);
for (const r of RULES) {
  const t = traces.get(r.op);
  const w0 = t ? Float32Array.from(t.w0) : new Float32Array(TRACE.rows * TRACE.cols).fill(0.01);
  const param = new Matrix(TRACE.rows, TRACE.cols, w0.slice());
  const p = prepare(r, param);
  if (p.missing) {
    r.missing = p.missing;
    continue;
  }
  try {
    const grads = t ? t.gs.map((x) => Float32Array.from(x.g)) : [new Float32Array(w0.length).fill(1e-3)];
    grads.forEach((g, k) => {
      const grad = new Matrix(TRACE.rows, TRACE.cols, g);
      if (k === 0) firstStep(p.opt, param, grad, p.state);
      else p.opt.step(param, grad, p.state);
    });
  } catch (error) {
    r.missing = `step: ${error.message}`;
    continue;
  }
  if (!t) continue;
  let diff = 0;
  let moved = 0;
  for (let i = 0; i < w0.length; i++) {
    diff = Math.max(diff, Math.abs(param.data[i] - t.w[i]));
    moved = Math.max(moved, Math.abs(t.w[i] - w0[i]));
  }
  r.crossCheck = diff / moved;
}

// ------------------------------------------------------------------------------------------
// Timing

const cpu = machine();
const info = backendInfo();
const stat0 = cpuTimes();
const loads = [os.loadavg()[0]];
progress(`inputs: ${N}x${N}; rules: ${RULES.map((r) => `${r.label}${r.missing ? ' (not in this build)' : ''}`).join(', ')}`);
const P0 = gaussian(N, N, 1, 0.02);
const G = gaussian(N, N, 2, 1e-3);
const vary = () => negate(G.data);
const gap = (() => {
  const t = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    vary();
    t.push((performance.now() - t0) / 1e3);
  }
  return summarize(t).median;
})();
const cArgs = [`--rows=${N}`, `--cols=${N}`, `--gap=${gap}`, `--budget=${C_BUDGET}`, `--min-reps=${MIN_REPS}`];

for (const r of RULES) {
  const rounds = r.missing ? 1 : ROUNDS; // the C yardstick of a missing rule: one round
  progress(`${r.label}: ${rounds} round(s)${r.missing ? ' (C loop only: not in this build)' : ''}`);
  let param, p, entries;
  if (!r.missing) {
    param = new Matrix(N, N, P0.data.slice());
    p = prepare(r, param);
    if (p.missing) {
      r.missing = p.missing;
    } else {
      try {
        vary();
        firstStep(p.opt, param, G, p.state); // the warm-up step (and train mode where needed)
        entries = [{ optimizer: p.opt, param, grad: G, state: p.state }];
      } catch (error) {
        r.missing = `step at ${N}×${N}: ${error.message}`;
      }
    }
  }
  r.cRatios = [];
  r.manyRatios = [];
  for (let k = 0; k < (r.missing ? 1 : ROUNDS); k++) {
    const rec = runC([...cArgs, r.op])[0];
    if (rec) {
      r.c = poolRound(r.c, rec.best_s, rec.median_s, rec.reps);
      r.cRec = rec;
    }
    if (r.missing) continue;
    const step = measure(() => p.opt.step(param, G, p.state), { setup: vary, warmup: 0 });
    r.step = poolRound(r.step, step.best, step.median, step.reps);
    const many = measure(() => stepMany(entries), { setup: vary, warmup: k === 0 ? 1 : 0 });
    r.many = poolRound(r.many, many.best, many.median, many.reps);
    if (rec) {
      r.cRatios.push(step.best / rec.best_s);
      r.manyRatios.push(many.best / rec.best_s);
    }
    loads.push(os.loadavg()[0]);
  }
  if (!r.missing) r.bytes = stateBytes(p.state);
  param = p = entries = null;
}
const stat9 = cpuTimes();
loads.push(os.loadavg()[0]);

// ------------------------------------------------------------------------------------------
// Report

const quickNote = QUICK || N !== 4096 ? ` (${QUICK ? 'quick run, ' : ''}${N}×${N}: not the 4096² figures)` : '';
emit(`${SECTION}${quickNote}`);
emit();
emit(
  `Machine: ${cpu.model} (${cpu.isa}), ${cpu.cores} cores, Node ${process.version}, ${info.blas}; ` +
    `load average (1 min) ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} during the run, ` +
    `${loadBetween(stat0, stat9, cpu.cores)}; ${new Date().toISOString()}.`,
);
emit();
emit(
  `Threads: specopt with its default ${info.threads} threads [${info.threadsChosenBy}]; the C loops on one thread ` +
    (cInfo ? `(bench/c/recent.c, ${cInfo.compiler} ${C_FLAGS.join(' ')}).` : `(not available: ${cError}).`),
);
emit();
emit(
  `One ${N}×${N} float32 parameter per rule, default hyperparameters (sgd: momentum 0.9), fresh state, one warm-up step. ` +
    `${ROUNDS} round(s) per rule, interleaved: C loop, then specopt \`opt.step\`, then \`stepMany\` of the same entry; ` +
    `at least ${MIN_REPS} timed steps and ${C_BUDGET} s (C) / ${SO_BUDGET} s (each specopt variant) per round. ` +
    'Best / median: the best step over the rounds / the median of the rounds\' medians. Ratios: best ÷ C best ' +
    '(in brackets the median of the per-round ratios). Before every step the gradient is negated, untimed, on both sides; the C side ' +
    `then waits until the JavaScript negation's time (${fmtTime(gap)}) has passed. The C loops do not scan G for NaN/Infinity ` +
    '(specopt does, before any write), as in the AdamW target of the Optimizers section.',
);
emit();
const present = RULES.filter((r) => !r.missing);
table(
  ['rule', '`opt.step` best / median', '`stepMany` best / median', 'C loop best / median', 'step ÷ C', 'stepMany ÷ C', `≤ ${TARGET}×`, 'state bytes'],
  RULES.map((r) => {
    if (r.missing) return [r.label, 'not in this build', 'not in this build', fmtBM(r.c), '—', '—', '—', '—'];
    const ratio = r.step.best / r.c?.best;
    const manyRatio = r.many.best / r.c?.best;
    const ok = Number.isFinite(ratio) ? (ratio <= TARGET && manyRatio <= TARGET ? 'PASS' : '**FAIL**') : 'n/a';
    return [
      r.label,
      fmtBM(r.step),
      fmtBM(r.many),
      fmtBM(r.c),
      `${fmtRatio(ratio)} (${fmtRatio(median(r.cRatios))})`,
      `${fmtRatio(manyRatio)} (${fmtRatio(median(r.manyRatios))})`,
      ok,
      fmtBytes(r.bytes),
    ];
  }),
);
const missing = RULES.filter((r) => r.missing);
if (missing.length) {
  emit(`Not in this build: ${missing.map((r) => `${r.label} (${r.missing})`).join('; ')}. Their rows show the C loop alone (one round).`);
  emit();
}
emit('The C loops (bench/c/recent.c): passes (arrays read → written; "|" separates passes), bytes moved per step, and the noise of the rounds:');
emit();
table(
  ['rule', 'C passes', 'bytes per step', 'C GB/s (best)', 'specopt GB/s (best)', 'C state bytes', 'spread of round bests: C / step / stepMany', 'specopt vs C trace (7×13, 6 steps)'],
  RULES.map((r) => [
    r.label,
    r.cRec?.passes ?? '—',
    fmtBytes(r.cRec?.bytes),
    r.cRec && r.c ? (r.cRec.bytes / r.c.best / 1e9).toFixed(1) : '—',
    r.cRec && r.step ? (r.cRec.bytes / r.step.best / 1e9).toFixed(1) : '—',
    fmtBytes(r.cRec?.state_bytes),
    `${fmtPct(spread(r.c))} / ${fmtPct(spread(r.step))} / ${fmtPct(spread(r.many))}`,
    r.missing ? '—' : `${fmtSci(r.crossCheck)}${!(r.crossCheck <= CROSS_LIMIT) ? ' **differs**' : ''}`,
  ]),
  'lllrrrrr',
);
const spreads = present.flatMap((r) => [spread(r.c), spread(r.step), spread(r.many)]).filter(Number.isFinite);
emit(
  `Noise: ${spreads.length ? `the rounds' best times differed by up to ${fmtPct(Math.max(...spreads))} (median ${fmtPct(median(spreads))}) ` + 'between rounds of the same variant' : 'one round per variant, so no spread between rounds'}` +
    '. "specopt vs C trace": max |W specopt − W C| / max |W C − W₀| after 6 steps from the same W and gradients ' +
    `(a common direction plus fresh noise), specopt native vs the C loop ("differs" above ${fmtSci(CROSS_LIMIT)}: not the same update); the C loops match the reference implementations run in ` +
    'float64 as closely as those references run in float32 (bench/c/recent_check.py). lamb, cautious: the mask is applied before ' +
    'the trust ratio, so the mean normalisation cancels in ‖W‖/‖u‖.',
);
emit();
emit(`Total time: ${((performance.now() - T0) / 1e3).toFixed(0)} s.`);

if (QUICK) progress('quick run: printed only, bench/RESULTS.md not written');
else {
  writeSection(RESULTS, SECTION, out.join('\n').trimEnd() + '\n');
  progress(`wrote the "${SECTION}" section of ${RESULTS}`);
}
