// How long the async twins block the main thread: `npm run bench:async` (builds first), or
// `node bench/async.mjs [--rounds N] [--compare DIR] [--quick]`.
//
// For every case it measures, on the main thread:
//   call      the twin's call itself (performance.now() around it: argument checks, the input
//             copy, whatever the submission allocates);
//   complete  the completion: from the start of the addon's completion callback (an async_hooks
//             `before` of its 'specopt' async resource) to the caller's promise handler, which
//             covers the native finish callback, the settling call and the TS result objects;
//             `native` is the part inside the callback (before -> after);
//   lag       the largest event-loop delay seen by monitorEventLoopDelay({ resolution: 1 })
//             from the call's return until 20 ms after the handler ran (catches a GC that the
//             completion schedules for later; it misses blocks shorter than about 1 ms);
//   gc        the GC time (perf_hooks 'gc' entries) in that window;
//   preempted of call and complete: the main thread's time runnable but waiting for a CPU (on 2
//             cores, behind the job's own BLAS threads and other tenants), from the run-delay
//             field of /proc/<pid>/task/<pid>/schedstat (Linux, main thread only; a read costs
//             ~5 µs). Its on-CPU field is not used: it is stale for a running thread.
// The requirement (issue 10): call + complete under 1 ms per 4 MB of input.
//
// Rounds run in child processes, one round of every case per child (the cases' order rotates;
// each case: a cold first call, then STEADY_CALLS measured ones),
// so that --compare DIR (another tree's root, with its dist/ and build/ built) alternates the
// two trees round by round on this shared, noisy machine. Writes the "## Async twins:
// main-thread blocking" section of bench/RESULTS.md (not with --compare: that prints only).
//
// To add a case: push { name, inputBytes, setup(so) -> ctx, start(so, ctx) -> Promise } to CASES.
// measureLag(start) is the measurement itself, usable on its own (it needs no specopt).
import { spawnSync } from 'node:child_process';
import { createHook } from 'node:async_hooks';
import { openSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

import { writeSection } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

// ---- the measurement -------------------------------------------------------------------------

// The main thread's [time on a CPU, time runnable but waiting], in ms, or null (not Linux, or a
// worker thread: its tid is not known from JS).
let statFd;
const statBuf = Buffer.alloc(128);
export function schedstat() {
  if (!isMainThread || statFd === null) return null;
  try {
    statFd ??= openSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'r');
    const n = readSync(statFd, statBuf, 0, statBuf.length, 0);
    const [cpu, wait] = statBuf.toString('latin1', 0, n).split(' ').map(Number);
    return [cpu / 1e6, wait / 1e6];
  } catch {
    statFd = null;
    return null;
  }
}
const statDiff = (a, b) => (a && b ? [b[0] - a[0], b[1] - a[1]] : [NaN, NaN]);

// The addon's async work items are async resources of type 'specopt' (their napi_async_work
// name); their `before`/`after` hooks bracket the completion callback on the main thread. One
// hook for the whole process, so every measured call pays the same (small) hook overhead.
const completions = [];
let hookOn = false;
function trackCompletions() {
  if (hookOn) return;
  hookOn = true;
  const ids = new Set();
  let openedAt = 0;
  let openedStat = null;
  createHook({
    init(id, type) {
      if (type === 'specopt') ids.add(id);
    },
    // The schedstat reads sit inside the wall-clock window, so preempted time is never counted
    // beyond it (a preemption between the two reads at either end counts as own time instead).
    before(id) {
      if (!ids.has(id)) return;
      openedAt = performance.now();
      openedStat = schedstat();
    },
    after(id) {
      if (!ids.delete(id)) return;
      const endStat = schedstat();
      const end = performance.now();
      completions.push({ start: openedAt, end, stat: statDiff(openedStat, endStat), endStat });
    },
    destroy(id) {
      ids.delete(id);
    },
  }).enable();
}

const gcEntries = [];
let gcObserver = null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `start()` (a function that makes one or several async calls and returns a promise of
 * their results) and reports in ms: call (the synchronous part of start()), complete (first
 * completion callback's start -> the promise handler; for several jobs, the sum of each
 * completion callback and of the last one's tail to the handler), native (time inside the
 * completion callbacks), jobs (how many completed), lag (max event-loop delay while waiting),
 * gc (GC time in the window), and value (what the promise resolved to).
 */
export async function measureLag(start, { tailMs = 20 } = {}) {
  trackCompletions();
  if (!gcObserver) {
    gcObserver = new PerformanceObserver((list) => gcEntries.push(...list.getEntries()));
    gcObserver.observe({ entryTypes: ['gc'] });
  }
  await sleep(5); // let earlier work's timers and GC settle
  completions.length = 0;
  const t0 = performance.now();
  const s0 = schedstat();
  const promise = start();
  const s1 = schedstat();
  const t1 = performance.now();
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let handled = 0;
  let sHandled = null;
  const value = await promise.then((v) => {
    sHandled = schedstat();
    handled = performance.now();
    return v;
  });
  await sleep(tailMs);
  h.disable();
  await sleep(0); // the gc observer's callback
  const done = completions.filter((c) => c.start >= t1);
  const native = done.reduce((s, c) => s + (c.end - c.start), 0);
  const last = done.length ? done[done.length - 1].end : handled;
  // complete's cpu/wait: inside each completion callback, plus the last one's tail to the handler.
  const inside = done.reduce((acc, c) => [acc[0] + c.stat[0], acc[1] + c.stat[1]], [0, 0]);
  const tailStat = done.length ? statDiff(done[done.length - 1].endStat, sHandled) : [NaN, NaN];
  const gc = gcEntries.filter((e) => e.startTime >= t0 && e.startTime <= handled + tailMs).reduce((s, e) => s + e.duration, 0);
  gcEntries.length = 0;
  return {
    call: t1 - t0,
    callWait: statDiff(s0, s1)[1],
    complete: native + (handled - last),
    completeWait: inside[1] + tailStat[1],
    native,
    jobs: done.length,
    lag: h.max / 1e6,
    gc,
    value,
  };
}

// ---- the cases -------------------------------------------------------------------------------

// xorshift32 uniforms in [-1, 1): deterministic inputs.
function randomMatrix(so, rows, cols, seed, shared = false) {
  const buffer = shared ? new SharedArrayBuffer(rows * cols * 4) : new ArrayBuffer(rows * cols * 4);
  const data = new Float32Array(buffer);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = (x >>> 0) / 2 ** 31 - 1;
  }
  return new so.Matrix(rows, cols, data);
}

function symmetric(so, n, seed, shared = false) {
  const m = randomMatrix(so, n, n, seed, shared);
  const d = m.data;
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) d[j * n + i] = d[i * n + j];
  return m;
}

const MB = 1024 * 1024;
// Measured calls per case in each process, after its first (cold) one.
const STEADY_CALLS = 3;
export const CASES = [
  // No job: the lag a 200 ms wait sees on this machine with nothing of ours running.
  { name: 'no job (a 200 ms timer)', inputBytes: 0, setup: () => null, start: () => new Promise((r) => setTimeout(r, 200)) },
  { name: 'eighAsync 1024²', inputBytes: 4 * MB, setup: (so) => symmetric(so, 1024, 1), start: (so, s) => so.eighAsync(s) },
  { name: 'eighAsync 2048²', inputBytes: 16 * MB, setup: (so) => symmetric(so, 2048, 2), start: (so, s) => so.eighAsync(s) },
  { name: 'svdAsync 1024²', inputBytes: 4 * MB, setup: (so) => randomMatrix(so, 1024, 1024, 3), start: (so, a) => so.svdAsync(a) },
  { name: 'svdAsync 2048×1024', inputBytes: 8 * MB, setup: (so) => randomMatrix(so, 2048, 1024, 4), start: (so, a) => so.svdAsync(a) },
  {
    name: 'eighAsync 1024² + svdAsync 1024²',
    inputBytes: 8 * MB,
    setup: (so) => [symmetric(so, 1024, 5), randomMatrix(so, 1024, 1024, 6)],
    start: (so, [s, a]) => Promise.all([so.eighAsync(s), so.svdAsync(a)]),
  },
  {
    name: 'svdAsync 1024², SharedArrayBuffer input',
    inputBytes: 4 * MB,
    setup: (so) => randomMatrix(so, 1024, 1024, 3, true),
    start: (so, a) => so.svdAsync(a),
  },
];

/**
 * One round of `cases` (rotated by `shift`): each case's first call (`first`: cold, fresh memory
 * and code), then `calls` more, the steady state the tables show (`samples`).
 */
export async function runRound(so, cases, shift = 0, calls = STEADY_CALLS) {
  const order = cases.map((_, i) => cases[(i + shift) % cases.length]);
  const results = {};
  for (const c of order) {
    const ctx = c.setup(so);
    const { value: v0, ...first } = await measureLag(() => c.start(so, ctx));
    const samples = [];
    for (let k = 0; k < calls; k++) {
      const { value, ...m } = await measureLag(() => c.start(so, ctx));
      samples.push(m);
    }
    results[c.name] = { samples, first };
  }
  return results;
}

// ---- the driver ------------------------------------------------------------------------------

function summarize(xs) {
  const t = [...xs].sort((a, b) => a - b);
  const mid = t.length >> 1;
  return { best: t[0], median: t.length % 2 ? t[mid] : (t[mid - 1] + t[mid]) / 2, worst: t[t.length - 1] };
}

const fmt = (ms) => (ms < 0.1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`);
const fmtBM = (s) => `${fmt(s.best)} / ${fmt(s.median)}`;

function cpuLine() {
  let model = os.cpus()[0]?.model ?? 'unknown CPU';
  let avx512 = 'no AVX-512';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const m = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    if (family) model += ` (family ${family} model ${m})`;
    const flags = /^flags\s*:(.*)$/m.exec(info)?.[1].split(/\s+/) ?? [];
    if (flags.includes('avx512f')) avx512 = 'AVX-512';
    else if (flags.includes('avx2')) avx512 = 'AVX2, no AVX-512';
  } catch {
    // not Linux
  }
  return `${model}, ${avx512}, ${os.cpus().length} cores, Node ${process.version}`;
}

async function child(dist) {
  const so = await import(pathToFileURL(join(dist, 'index.mjs')).href);
  const shift = Number(process.env.BENCH_SHIFT ?? 0);
  process.stdout.write(JSON.stringify(await runRound(so, CASES, shift)) + '\n');
}

function runChild(root, shift) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', join(root, 'dist')], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_SHIFT: String(shift) },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench child for ${root} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]);
  const at = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const rounds = Number(at('--rounds') ?? (args.includes('--quick') ? 2 : 7));
  const compare = at('--compare');
  const trees = compare ? [['before', resolve(compare)], ['after', resolve(HERE, '..')]] : [['this tree', resolve(HERE, '..')]];
  const samples = Object.fromEntries(trees.map(([label]) => [label, []]));
  const load = [];
  const T0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...trees].reverse() : trees;
    for (const [label, root] of order) samples[label].push(runChild(root, r));
    load.push(os.loadavg()[0]);
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  const out = [];
  const emit = (s = '') => {
    out.push(s);
    console.log(s);
  };
  emit('## Async twins: main-thread blocking');
  emit();
  emit(`Machine: ${cpuLine()}; load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)} during the run (other tenants).`);
  emit();
  emit(
    `${rounds} rounds, each a fresh process running every case ${STEADY_CALLS + 1} times (order rotated between rounds)` +
      (compare ? `, the two trees alternating` : '') +
      `; calls 2-${STEADY_CALLS + 1} of each are the steady state shown, best / median over all of them (worst too for` +
      ' blocked; GC pauses that fall in a call count). **blocked** = call + complete (the completion callback start to the promise handler),' +
      ' wall clock; preempted: the part of it the main thread spent runnable but off the CPU' +
      ' (schedstat), own = blocked − preempted. Budget: 1 ms per 4 MB of input. lag: monitorEventLoopDelay\'s max' +
      ' (1 ms resolution) while the job ran; gc: GC time in that window; first call: blocked wall of' +
      ' the first call in the process (fresh memory).',
  );
  emit();
  const head = ['case', ...(compare ? ['tree'] : []), 'budget', 'call', 'complete', '**blocked**', 'blocked, worst', 'preempted', 'own', 'lag', 'gc', 'first call'];
  emit(`| ${head.join(' | ')} |`);
  emit(`|${head.map((_, i) => (i < (compare ? 2 : 1) ? ':---' : '---:')).join('|')}|`);
  for (const c of CASES) {
    for (const [label] of trees) {
      const rs = samples[label].flatMap((s) => s[c.name].samples);
      const firsts = samples[label].map((s) => s[c.name].first);
      const col = (f) => fmtBM(summarize(rs.map(f)));
      const blocked = summarize(rs.map((m) => m.call + m.complete));
      emit(
        `| ${c.name} | ${compare ? `${label} | ` : ''}${c.inputBytes ? fmt(c.inputBytes / (4 * MB)) : '—'} | ${col((m) => m.call)} | ${col((m) => m.complete)} | **${fmtBM(blocked)}** | ${fmt(blocked.worst)} | ${col((m) => m.callWait + m.completeWait)} | ${col((m) => m.call + m.complete - m.callWait - m.completeWait)} | ${col((m) => m.lag)} | ${col((m) => m.gc)} | ${fmtBM(summarize(firsts.map((m) => m.call + m.complete)))} |`,
      );
    }
  }
  emit();
  emit(`Bench time: ${((performance.now() - T0) / 1e3).toFixed(0)} s.`);
  // A --compare run is an experiment between two trees: printed, never recorded.
  if (!compare) writeSection(join(HERE, args.includes('--quick') ? 'RESULTS-quick.md' : 'RESULTS.md'), '## Async twins: main-thread blocking', out.join('\n') + '\n');
}


if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
