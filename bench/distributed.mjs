// Data parallelism on one machine: `npm run bench:distributed` (builds first), or
// `node bench/distributed.mjs [--rounds N] [--quick]`.
//
// On a transformer block's matrices (4 × 768², 768×3072, 3072×768), with Muon and with SOAP:
//   - the step of one process with OpenBLAS's 2 threads (stepMany on the gradients);
//   - the step of 2 ranks with 1 thread each (mpirun -n 2, OPENBLAS_NUM_THREADS=1 and
//     OMP_NUM_THREADS=1), distributedStepMany 'replicated' and 'sharded', each rank with its own
//     gradients: the slowest rank's time per step, from a barrier to the end of its step;
//   - per-rank state bytes in each mode;
//   - the gradient averaging alone (the block's 7,077,888 floats, 4 MiB buckets, reduce-scatter +
//     all-gather, as the step does it), as bytes per second on this machine's shared memory.
// The configurations alternate round by round (a fresh process or mpirun job each); each keeps
// its best and median over the rounds. Writes the "## Distributed" section of bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { emit, fmtBM, fmtRatio, out, summarize, table, writeSection } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const SHAPES = [[768, 768], [768, 768], [768, 768], [768, 768], [768, 3072], [3072, 768]];
const RULES = { muon: {}, soap: { preconditionFrequency: 10 } };
const STEPS = 4; // timed steps per process, after one untimed

// The block's entries, states not made yet.
function block(so, rule) {
  const opt = so.createOptimizer(rule, RULES[rule]);
  return SHAPES.map(([r, c], i) => ({ optimizer: opt, param: so.Matrix.randn(r, c, 10 + i), grad: so.Matrix.randn(r, c, 100 + i), state: null }));
}

// ---- children ----------------------------------------------------------------------------------

async function single(rule) {
  const so = await import(pathToFileURL(join(ROOT, 'dist', 'index.mjs')).href);
  const entries = block(so, rule);
  for (const e of entries) e.state = e.optimizer.init(e.param);
  const grads = entries.map((e) => e.grad.data.slice());
  const times = [];
  for (let s = 0; s <= STEPS; s++) {
    entries.forEach((e, i) => e.grad.data.set(grads[i]));
    const t0 = performance.now();
    so.stepMany(entries);
    if (s > 0) times.push(performance.now() - t0);
  }
  const bytes = entries.reduce((sum, e) => sum + so.stateBytes(e.state), 0);
  process.stdout.write(JSON.stringify({ times, bytes }) + '\n');
}

async function ranked(rule, mode) {
  const so = await import(pathToFileURL(join(ROOT, 'dist', 'index.mjs')).href);
  const d = await import(pathToFileURL(join(ROOT, 'dist', 'distributed', 'index.mjs')).href);
  const entries = block(so, rule);
  const owners = mode === 'sharded' ? d.shardOwners(entries) : null;
  entries.forEach((e, i) => (e.state = !owners || owners[i] === d.rank ? e.optimizer.init(e.param) : null));
  // Each rank's own gradients (its half of the batch).
  const grads = entries.map((e, i) => so.Matrix.randn(e.grad.rows, e.grad.cols, 1000 * d.rank + i).data);
  const times = [];
  for (let s = 0; s <= STEPS; s++) {
    entries.forEach((e, i) => e.grad.data.set(grads[i]));
    d.barrier();
    const t0 = performance.now();
    d.distributedStepMany(entries, { mode });
    const t = Float64Array.of(performance.now() - t0);
    d.allReduce(t, { op: 'max' });
    if (s > 0) times.push(t[0]);
  }
  const bytes = Float64Array.of(entries.reduce((sum, e) => sum + (e.state ? so.stateBytes(e.state) : 0), 0));
  const maxBytes = bytes.slice();
  d.allReduce(maxBytes, { op: 'max' });
  // The averaging alone: the block's gradients in 4 MiB buckets, as distributedStepMany sends them.
  const total = SHAPES.reduce((s, [r, c]) => s + r * c, 0);
  const flat = new Float32Array(total).fill(d.rank + 1);
  const bucket = (4 << 20) / 4;
  const avg = [];
  for (let s = 0; s <= STEPS; s++) {
    d.barrier();
    const t0 = performance.now();
    for (let at = 0; at < total; at += bucket) {
      const n = Math.min(bucket, total - at);
      const part = new Float32Array(Math.ceil(n / d.size) * d.size);
      part.set(flat.subarray(at, at + n));
      flat.set(d.allGather(d.reduceScatter(part, { op: 'mean' })).subarray(0, n), at);
    }
    const t = Float64Array.of(performance.now() - t0);
    d.allReduce(t, { op: 'max' });
    if (s > 0) avg.push(t[0]);
  }
  if (d.rank === 0) process.stdout.write(JSON.stringify({ times, bytes: maxBytes[0], avg, floats: total }) + '\n');
}

// ---- the driver ----------------------------------------------------------------------------------

function lastJson(r, what) {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function runSingle(rule) {
  return lastJson(spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--single', rule], { encoding: 'utf8', maxBuffer: 1 << 24 }), `single ${rule}`);
}

function runRanked(rule, mode) {
  const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  const args = [...root, '--oversubscribe', '-n', '2', process.execPath, fileURLToPath(import.meta.url), '--ranked', rule, mode];
  return lastJson(spawnSync('mpirun', args, { encoding: 'utf8', env, maxBuffer: 1 << 24, timeout: 600_000 }), `mpirun ${rule} ${mode}`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--single') return single(args[1]);
  if (args[0] === '--ranked') return ranked(args[1], args[2]);
  const quick = args.includes('--quick');
  const rounds = Number(args[args.indexOf('--rounds') + 1]) || (quick ? 1 : 3);
  const configs = Object.keys(RULES).flatMap((rule) => [
    { rule, name: '1 process × 2 threads', run: () => runSingle(rule) },
    { rule, name: '2 ranks × 1 thread, replicated', run: () => runRanked(rule, 'replicated') },
    { rule, name: '2 ranks × 1 thread, sharded', run: () => runRanked(rule, 'sharded') },
  ]);
  const samples = new Map(configs.map((c) => [c, []]));
  const load = [];
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < configs.length; i++) {
      const c = configs[(i + r) % configs.length];
      samples.get(c).push(c.run());
    }
    load.push(os.loadavg()[0]);
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  emit('## Distributed');
  emit();
  emit(
    `Machine: ${os.cpus()[0]?.model}, ${os.cpus().length} CPUs, Node ${process.version}; load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}. ` +
      `Command: \`npm run bench:distributed\`. ${rounds} rounds, the configurations alternating (a fresh process or mpirun job each), ${STEPS} timed steps each after one untimed; best / median over all of them. ` +
      'Ranks: the slowest rank, from a barrier to the end of its step. State bytes: per rank (the largest).',
  );
  emit();
  const rows = [];
  let avgAll = [];
  let floats = 0;
  for (const rule of Object.keys(RULES)) {
    const base = summarize(samples.get(configs.find((c) => c.rule === rule)).flatMap((s) => s.times));
    for (const c of configs.filter((x) => x.rule === rule)) {
      const ss = samples.get(c);
      const m = summarize(ss.flatMap((s) => s.times.map((t) => t / 1e3)));
      rows.push([`${rule}${rule === 'soap' ? ' (preconditionFrequency 10)' : ''}`, c.name, fmtBM(m), `${fmtRatio((m.best * 1e3) / base.best)}, ${fmtRatio((m.median * 1e3) / base.median)}`, `${(ss[0].bytes / 2 ** 20).toFixed(1)} MiB`]);
      for (const s of ss.filter((x) => x.avg)) {
        avgAll = avgAll.concat(s.avg);
        floats = s.floats;
      }
    }
  }
  emit('### A transformer block (4 × 768², 768×3072, 3072×768), one step');
  emit();
  table(['rule', 'how', 'per step (best / median)', 'vs 1 process (best, median)', 'state per rank'], rows, 2);
  const avg = summarize(avgAll.map((t) => t / 1e3));
  const bytes = floats * 4;
  emit('### Averaging the gradients (2 ranks, shared memory)');
  emit();
  table(
    ['what', 'time (best / median)', 'bytes averaged per second (best / median)'],
    [[`${floats.toLocaleString('en-US')} floats (${(bytes / 2 ** 20).toFixed(1)} MiB) in 4 MiB buckets, reduce-scatter + all-gather`, fmtBM(avg), `${(bytes / avg.best / 1e9).toFixed(2)} / ${(bytes / avg.median / 1e9).toFixed(2)} GB/s`]],
  );
  emit(`Bench time: ${((performance.now() - t0) / 1e3).toFixed(0)} s.`);
  if (!quick) writeSection(join(HERE, 'RESULTS.md'), '## Distributed', out.join('\n') + '\n');
}

await main();
