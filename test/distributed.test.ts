// specopt/distributed: collectives under mpirun with 2 and 3 ranks (test/mpi/collectives.mjs),
// and what the module says where it cannot run. Needs the MPI addon, built when an MPI is found
// (the README's set-up installs Open MPI): without it the mpirun cases fail, saying so.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';

import { NO_MPI, NOT_MAIN_THREAD, addonPath } from '../src/distributed/addon.js';

const ROOT = join(__dirname, '..');
const SCRIPT = join(__dirname, 'mpi', 'collectives.mjs');
const STEP_SCRIPT = join(__dirname, 'mpi', 'step.mjs');
const FAULT_SCRIPT = join(__dirname, 'mpi', 'fault.mjs');
const CHECKPOINT_SCRIPT = join(__dirname, 'mpi', 'checkpoint.mjs');

type RankOut = Record<string, unknown> & { rank: number; size: number };

/** Runs `script` under mpirun with `n` ranks (argv: its output dir, then `args`); each rank's JSON file, in rank order. */
function mpirun(n: number, script: string, args: string[] = []): RankOut[] {
  if (!existsSync(addonPath())) throw new Error(`no MPI addon at ${addonPath()}: ${NO_MPI}`);
  const dir = mkdtempSync(join(tmpdir(), 'specopt-mpi-'));
  try {
    const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
    const r = spawnSync('mpirun', [...root, '--oversubscribe', '-n', String(n), process.execPath, script, dir, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`mpirun -n ${n} exited with ${r.status}: ${r.stderr}${r.stdout}`);
    return Array.from({ length: n }, (_, k) => JSON.parse(readFileSync(join(dir, `rank-${k}.json`), 'utf8')) as RankOut);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each([2, 3])('collectives with %i ranks', (n) => {
  const ranks = mpirun(n, SCRIPT);

  it('every rank knows its place and the thread level the async twins need', () => {
    expect(ranks.map((r) => [r.rank, r.size])).toEqual(range(n).map((k) => [k, n]));
    for (const r of ranks) {
      expect(['serialized', 'multiple']).toContain(r.threadLevel);
      expect(r.library).toMatch(/MPI/);
    }
  });

  it.each(['Float32Array', 'Float64Array'])('sync allReduce (sum, mean, max, min), broadcast, allGather, reduceScatter on %s', (type) => {
    const total = (n * (n + 1)) / 2;
    for (const r of ranks) {
      const o = r[type] as Record<string, unknown>;
      expect(o.sum).toEqual([total, -total, (0.5 * n * (n - 1)) / 2]);
      expect(o.mean).toEqual([(n + 1) / 2, n - 1]);
      expect(o.maxmin).toEqual([[n - 1, 0], [0, -(n - 1)]]);
      expect(o.broadcast).toEqual([7, 7, 7]);
      expect(o.gather).toEqual([type, range(n).flatMap((k) => [k, 10 * k])]);
      // x[i] = i + rank, summed over the ranks: n i + n (n - 1) / 2; rank k gets i = 2k, 2k + 1.
      expect(o.scatter).toEqual([type, [2 * r.rank, 2 * r.rank + 1].map((i) => n * i + (n * (n - 1)) / 2)]);
      expect(o.empty).toEqual([[], []]);
    }
  });

  it('async twins give the same results in call order, with several in flight; x is copied at the call and written at the end', () => {
    for (const r of ranks) {
      expect(r.async).toEqual({
        allReduce: [(n * (n + 1)) / 2],
        allGather: range(n),
        reduceScatter: [(n + 1) / 2],
        broadcast: [3, 3],
      });
      expect(r.asyncCopy).toEqual([n]);
      expect(r.after).toEqual([n]);
    }
  });

  it('ranks that disagree all get an error saying how, before any data moves, and nobody hangs', () => {
    const all = (key: string) => ranks.map((r) => r[key] as string | null);
    for (const [k, m] of all('lengthMismatch').entries()) {
      expect(m).toBe(`RangeError: allReduce: the data has ${k + 1} elements on this rank but from 1 to ${n} across ranks; nothing was done`);
    }
    for (const m of all('typeMismatch')) expect(m).toMatch(/^RangeError: allReduce: the data is a Float32Array on some ranks and a Float64Array on others/);
    for (const m of all('collectiveMismatch')) expect(m).toMatch(/^Error: (allReduce|broadcast): the ranks called different collectives \(broadcast and allReduce\)/);
    for (const m of all('rootMismatch')) expect(m).toMatch(/^RangeError: broadcast: the ranks gave different roots/);
    for (const m of all('opMismatch')) expect(m).toMatch(/^RangeError: allReduce: the ranks gave different ops/);
  });

  it("a rank's invalid arguments: its own TypeError or RangeError, an Error naming it on the others", () => {
    const [first, ...rest] = ranks;
    expect(first.badOnRank0).toBe('TypeError: allReduce: x must be a Float32Array or Float64Array, got an array of length 2');
    for (const r of rest) expect(r.badOnRank0).toBe('Error: allReduce: the arguments of rank 0 were invalid (its own error says why); nothing was done');
    const last = ranks[n - 1];
    expect(last.badRootOnLast).toBe(`RangeError: broadcast: root must be a rank (an integer from 0 to ${n - 1}), got ${n}`);
    for (const r of ranks.slice(0, -1)) expect(r.badRootOnLast).toMatch(new RegExp(`^Error: broadcast: the arguments of rank ${n - 1} were invalid`));
    expect(first.badOpAsync).toBe("RangeError: allReduceAsync: options.op must be one of 'sum', 'mean', 'max', 'min', got string avg");
    for (const r of rest) expect(r.badOpAsync).toBe('Error: allReduceAsync: the arguments of rank 0 were invalid (its own error says why); nothing was done');
    for (const r of ranks) {
      expect(r.notMultiple).toBe(`RangeError: reduceScatter: x.length must be a multiple of the number of ranks (${n}), got ${n + 1}`);
      expect(r.asyncLengthMismatch).toMatch(/^RangeError: allGatherAsync: the data has [23] elements on this rank but from 2 to 3 across ranks/);
    }
  });

  it('a sync collective while an async one is pending is refused; a detached x rejects its async allReduce, writing nothing', () => {
    for (const r of ranks) {
      expect(r.syncWhilePending).toBe(
        'Error: barrier: an async collective of this process has not settled yet; await it first (collectives must run in the same order on every rank)',
      );
      expect(r.detached).toBe('Error: allReduceAsync: x was detached or resized before the collective completed; nothing was written to it');
    }
  });
});

describe.each([2, 3])('distributedStepMany (replicated) with %i ranks', (n) => {
  const ranks = mpirun(n, STEP_SCRIPT);

  it('matches one process stepping the mean gradient (AdamW with a schedule, Muon, clipping, a NaN on one rank), to float32 rounding of the average', () => {
    for (const r of ranks) {
      expect(r.finite).toBe(true);
      // 2 ranks: (a + b) / 2 in float32 is the float64 mean rounded, so the bits agree.
      if (n === 2) expect(r.vsReference).toBe(0);
      expect(r.vsReference).toBeLessThan(2e-5);
      expect(r.smallBucketsVsReference).toBeLessThan(2e-5);
      const norms = r.norms as number[];
      (r.referenceNorms as number[]).forEach((ref, t) => expect(Math.abs(norms[t] - ref) / ref, `step ${t}`).toBeLessThan(1e-6));
    }
  });

  it('the parameters are the same bits on every rank, in a second run, and with the async step', () => {
    for (const r of ranks) {
      expect(r.paramBits).toEqual(ranks[0].paramBits);
      expect([r.repeatable, r.asyncSame]).toEqual([true, true]);
    }
  });

  it("mode 'sharded' (ZeRO-1): each state on exactly one rank, the same bits as 'replicated', sync and async, run after run", () => {
    type Sharded = { paramBits: string[]; sameAsReplicated: boolean; repeatable: boolean; asyncSame: boolean; vsReference: number; bytes: number; totalBytes: number; replicatedBytes: number };
    const owners = ranks[0].owners as number[];
    expect(new Set(owners).size).toBe(Math.min(n, owners.length)); // every rank owns something here
    for (const r of ranks) {
      const sh = r.sharded as Sharded;
      expect(r.owners).toEqual(owners);
      expect([sh.sameAsReplicated, sh.repeatable, sh.asyncSame]).toEqual([true, true, true]);
      expect(sh.paramBits).toEqual(ranks[0].paramBits);
      expect(sh.vsReference).toBe(r.vsReference);
      // The states of all ranks together are the replicated states, once.
      expect(sh.totalBytes).toBe(sh.replicatedBytes);
      expect(sh.bytes).toBeLessThan(sh.replicatedBytes);
    }
  });

  it('a step that fails on one rank only (a state that differs) fails on every rank, saying the ranks differ now', () => {
    for (const mode of ['replicated', 'sharded']) {
      const [victim] = ranks[0][`asymmetric-${mode}`] as [number, string];
      for (const r of ranks) {
        const [v, message] = r[`asymmetric-${mode}`] as [number, string];
        expect(v).toBe(victim);
        if (r.rank === victim) {
          expect(message).toMatch(mode === 'sharded' ? /^RangeError: distributedStepMany: entry 3 \(adamw\): state is for a 2x2 parameter/ : /^RangeError: stepMany: entry 0 \(muon\): state is for a 2x2 parameter/);
        } else {
          expect(message).toBe(`Error: distributedStepMany: the step failed on rank ${victim} (its own error says why) but not here, so the ranks' parameters or states differ now: restore a checkpoint`);
        }
      }
    }
  });

  it("a rank's invalid checkpoint arguments fail every rank's save, before anything is written", () => {
    expect(ranks[0].badSave).toBe('TypeError: saveDistributedCheckpoint: dir must be a string, got number 42');
    for (const r of ranks.slice(1)) expect(r.badSave).toBe('Error: saveDistributedCheckpoint: rank 0 failed (its own error says why)');
  });

  it('bad clipping options are refused on every rank, in both modes', () => {
    for (const r of ranks) {
      expect(r.badClip).toEqual(Array(2).fill('RangeError: distributedStepMany: options.maxGradNorm must be a finite number > 0, got number -1'));
    }
  });

  it("a rank's invalid options fail every rank's step", () => {
    expect(ranks[0].badMode).toBe("RangeError: distributedStepMany: options.mode must be 'replicated' or 'sharded', got string zero-3");
    for (const r of ranks.slice(1)) expect(r.badMode).toBe('Error: reduceScatter: the arguments of rank 0 were invalid (its own error says why); nothing was done');
  });
});

describe('a sharded checkpoint (saveDistributedCheckpoint, loadDistributedCheckpoint)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'specopt-checkpoint-'));
  const first = mpirun(2, CHECKPOINT_SCRIPT, [dir, 'first']);
  // A save that did not finish: files of a later generation and a temporary manifest, never read.
  writeFileSync(join(dir, 'shard-2-0.bin'), 'junk');
  writeFileSync(join(dir, 'manifest.json.tmp-1'), '{');
  const sameN = mpirun(2, CHECKPOINT_SCRIPT, [dir, 'resume']);
  const otherN = mpirun(3, CHECKPOINT_SCRIPT, [dir, 'resume']);
  const otherNAgain = mpirun(3, CHECKPOINT_SCRIPT, [dir, 'resume']);
  // A rank killed during a later save: the job ends, and the last complete checkpoint still loads.
  const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  const outDir = mkdtempSync(join(tmpdir(), 'specopt-checkpoint-out-'));
  const died = spawnSync('mpirun', [...root, '--oversubscribe', '-n', '2', process.execPath, CHECKPOINT_SCRIPT, outDir, dir, 'die'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  rmSync(outDir, { recursive: true, force: true });
  const afterDeath = mpirun(2, CHECKPOINT_SCRIPT, [dir, 'resume']);
  rmSync(dir, { recursive: true, force: true });

  it('resumes on the same number of ranks bit for bit (after a save that did not finish)', () => {
    for (const r of sameN) expect(r.bits).toEqual(first[0].bits);
    for (const r of first) expect(r.bits).toEqual(first[0].bits);
  });

  it('a rank killed during a save: mpirun ends the job, and the last complete checkpoint loads as before', () => {
    expect(died.error).toBeUndefined();
    expect(died.status).not.toBe(0);
    expect(died.stdout + died.stderr).toMatch(/process rank 1 .*exited on signal 9|Killed \(signal 9\)/);
    for (const r of afterDeath) expect(r.bits).toEqual(first[0].bits);
  });

  it('resumes on another number of ranks, re-sharded, to float32 rounding; each state loaded once, on its new owner', () => {
    const ref = first[0].params as number[][];
    let worst = 0;
    (otherN[0].params as number[][]).forEach((p, i) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - ref[i][k]) / Math.max(1e-3, Math.abs(ref[i][k]))))));
    expect(worst).toBeGreaterThan(0); // 3 ranks average differently...
    expect(worst).toBeLessThan(1e-4); // ...by float32 rounding (measured 2.5e-5 after 5 steps)
    const held = otherN.map((r) => r.held as boolean[]);
    held[0].forEach((_, i) => expect(held.filter((h) => h[i]).length, `entry ${i}`).toBe(1));
    for (const r of otherN) expect(r.bits).toEqual(otherN[0].bits);
    expect(otherNAgain[0].bits).toEqual(otherN[0].bits);
    // The loaded states continue from step 5.
    for (const r of otherN) for (const s of r.loadedSteps as (number | null)[]) if (s !== null) expect(s).toBe(5);
  });
});

describe('specopt train --distributed', () => {
  const ARGS = ['train', '--optimizer', 'muon', '--epochs', '1', '--train-size', '1024', '--test-size', '256', '--no-progress', '--clip', '1'];
  const BIN = join(ROOT, 'bin', 'specopt.js');
  const dir = mkdtempSync(join(tmpdir(), 'specopt-train-'));
  const results = (name: string) => (JSON.parse(readFileSync(join(dir, name, 'results.json'), 'utf8')) as { runs: Record<string, unknown>[] }).runs[0];
  const one = spawnSync(process.execPath, [BIN, ...ARGS, '--out', join(dir, 'one')], { cwd: ROOT, encoding: 'utf8' });
  const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  const run = (extra: string[], out: string) =>
    spawnSync('mpirun', [...root, '--oversubscribe', '-n', '2', process.execPath, BIN, ...ARGS, '--distributed', ...extra, '--out', join(dir, out)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
  const replicated = run([], 'replicated');
  const sharded = run(['--shard-states'], 'sharded');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('2 ranks, the batch split between them, train as one process does (to float32 rounding), rank 0 alone printing', () => {
    for (const r of [one, replicated, sharded]) expect(r.status, r.stderr).toBe(0);
    expect(replicated.stdout.match(/^muon epoch 1\/1/gm)).toHaveLength(1);
    const [a, b, c] = [results('one'), results('replicated'), results('sharded')];
    expect(b.testAccuracy).toBe(a.testAccuracy);
    const curve = (r: Record<string, unknown>) => r.lossCurve as number[];
    curve(a).forEach((v, i) => expect(Math.abs(curve(b)[i] - v) / v, `step ${i}`).toBeLessThan(1e-5));
    expect(b.lrPerStep).toEqual(a.lrPerStep);
    expect(b.stateBytes).toBe(a.stateBytes);
    // Sharded: the same weights as replicated, bit for bit, each state held once.
    expect(c.weightsSha256).toBe(b.weightsSha256);
    expect(c.stateBytes).toBe(a.stateBytes);
  });

  it('usage errors: --shard-states without --distributed, with prodigy, and --checkpoint', () => {
    const usage = (extra: string[]) => spawnSync(process.execPath, [BIN, 'train', ...extra], { cwd: ROOT, encoding: 'utf8' });
    expect(usage(['--shard-states']).stderr).toMatch(/--shard-states needs --distributed/);
    expect(usage(['--distributed', '--shard-states', '--optimizer', 'prodigy']).stderr).toMatch(/--shard-states cannot run prodigy/);
    expect(usage(['--distributed', '--checkpoint', dir]).stderr).toMatch(/--checkpoint is not supported with --distributed yet/);
  });
});

describe('a rank that dies mid-run', () => {
  it.each(['kill', 'throw'])('(%s): mpirun ends the job within seconds, naming it; the others stop at the collective it missed', (how) => {
    const dir = mkdtempSync(join(tmpdir(), 'specopt-mpi-fault-'));
    try {
      const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
      const t0 = Date.now();
      const r = spawnSync('mpirun', [...root, '--oversubscribe', '-n', '3', process.execPath, FAULT_SCRIPT, dir, how], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      const seconds = (Date.now() - t0) / 1e3;
      expect(r.error, 'mpirun hung').toBeUndefined();
      expect(r.status).not.toBe(0);
      expect(seconds).toBeLessThan(30);
      const said = r.stdout + r.stderr;
      // Open MPI's mpirun names the rank; MPICH's the signal.
      expect(said).toMatch(how === 'kill' ? /process rank 1 .*exited on signal 9|Killed \(signal 9\)/ : /Error: rank 1 fails at step 20/);
      // Step 20's collective needed rank 1: nobody completed it.
      for (const k of [0, 1, 2]) expect(readFileSync(join(dir, `rank-${k}.log`), 'utf8').trim().split('\n').length).toBe(20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('where specopt/distributed cannot run', () => {
  const node = (code: string, env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });

  it('a build without MPI: import and require both say so and name the packages', () => {
    const env = { SPECOPT_MPI_ADDON: join(ROOT, 'build', 'no-such-addon.node') };
    const imported = node("try { await import('specopt/distributed'); } catch (e) { console.log(e.message); }", env);
    expect(imported.stdout.trim()).toBe(NO_MPI);
    const required = node(
      "import { createRequire } from 'node:module'; try { createRequire(process.cwd() + '/')('specopt/distributed'); } catch (e) { console.log(e.message); }",
      env,
    );
    expect(required.stdout.trim()).toBe(NO_MPI);
    expect(NO_MPI).toMatch(/openmpi-bin libopenmpi-dev/);
  });

  it('a worker thread: refused, MPI belongs to the main thread', async () => {
    const worker = new Worker(
      "import('specopt/distributed').then(() => require('node:worker_threads').parentPort.postMessage('loaded'), (e) => require('node:worker_threads').parentPort.postMessage(e.message));",
      { eval: true },
    );
    const message = await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    expect(message).toBe(NOT_MAIN_THREAD);
  });
});
