// What no caller action may do: abort the process (worker threads terminated with jobs in
// flight, process.exit meanwhile, lying raw-addon calls), leave a half-done step behind, leak, or
// make threads disagree. Each case that could take a process down runs in a child process of
// its own (test/scripts/), so a regression fails the test instead of killing the test worker.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Matrix, createOptimizer, saveState, stateBytes, stepMany } from '../src/index.js';

const ROOT = join(__dirname, '..');
const SCRIPTS = join(__dirname, 'scripts');

// A child process, awaited without blocking the test worker (vitest's own messages must get through).
function node(args: string[], timeout = 240_000, env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; died: string; tail: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const died = signal !== null ? `signal ${signal}` : `status ${status}`;
      resolve({ status, signal, stdout, died, tail: stderr.trim().split('\n').slice(-5).join('\n') });
    });
  });
}

describe('worker threads terminated with async jobs in flight', () => {
  it('50 terminations in a row (on the message, just after, and at random times before it) leave the process and the main thread’s own jobs intact', async () => {
    const run = await node([join(SCRIPTS, 'terminate-workers.cjs'), '50']);
    expect(run.status, `${run.died}: ${run.tail}`).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ terminated: 50, mainRuns: 50, mismatches: 0 });
  });
});

describe('process.exit with async jobs queued and running', () => {
  it.each([
    ['sync', 3],
    ['after-first', 4],
    ['in-worker', 5],
  ])('exits with its own code (%s)', async (mode, code) => {
    const run = await node([join(SCRIPTS, 'exit-in-flight.cjs'), mode]);
    expect(run.signal, run.tail).toBeNull();
    expect(run.status, run.tail).toBe(code);
  });
});

describe('threads', () => {
  it('4 workers and the main thread running every sync and async routine and optimizer steps at once agree bit for bit', async () => {
    const run = await node([join(SCRIPTS, 'threads-agree.cjs'), '4', '8']);
    expect(run.status, `${run.died}: ${run.tail}`).toBe(0);
    const digests = JSON.parse(run.stdout) as string[][];
    expect(digests).toHaveLength(5);
    expect(digests[0].length).toBe(8 * 5);
    for (const d of digests.slice(1)) expect(d).toEqual(digests[0]);
  });
});

describe('the raw addon', () => {
  // Each reproducer once aborted the process (std::bad_alloc reached std::terminate).
  const ADDON = `process.env.SPECOPT_ADDON ? require(process.env.SPECOPT_ADDON) : require(${JSON.stringify(join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)})`;
  it.each([
    ['optimizerStep([], new Float64Array(10), 2 ** 32 - 1)', /^optimizer step: count 4294967295 does not fit the batch/],
    ['optimizerPlan([], new Float64Array(10), 2 ** 32 - 1)', /^optimizer step: count 4294967295 does not fit the batch/],
    ['optimizerStep([], new Float64Array(2 ** 20), 2 ** 20)', /^optimizer step: count 1048576 does not fit the batch \(1048576 numbers, 0 arrays\)/],
    ['optimizerRun({}, new Float64Array(1))', /^optimizer run: expected \(plan, numbers\)/],
    ['svd(new Float32Array(4), 2 ** 40, 0)', /^svd: a: 1099511627776x0 has a side longer than 1048576/],
    ['singularValues(new Float32Array(3), 2, 2)', /^singularValues: a\.data must have 4 elements, got 3/],
    ['inverseRoot(new Float32Array([NaN]), 1, 2, 1e-6)', /^inverseRoot: input contains NaN/], // raised by the shared eigh routine, renamed
  ])('%s throws an Error naming the routine', async (call, message) => {
    const run = await node(['-e', `const a = ${ADDON}; try { a.${call}; console.log('returned') } catch (e) { console.log(e.constructor.name + ': ' + e.message) }`], 30_000);
    expect(run.status, `${run.died}: ${run.tail}`).toBe(0);
    const [kind, ...rest] = run.stdout.trim().split(': ');
    expect(['TypeError', 'RangeError', 'Error']).toContain(kind);
    expect(rest.join(': ')).toMatch(message);
  });

  it('a batch asking for spectral decay on an entry-wise rule without decoupled decay is refused (it made the step read and write scalars[-1])', async () => {
    const run = await node(['-e', `
      const lib = require(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
      const { NativeBatch } = require(${JSON.stringify(join(ROOT, 'dist', 'optim', 'optimizer.js'))});
      const addon = require(${JSON.stringify(join(ROOT, 'dist', 'native.js'))}).native.addon;
      const out = [];
      for (const rule of ['adagrad', 'rmsprop']) {
        const opt = lib.createOptimizer(rule);
        const param = lib.Matrix.randn(4, 4, 1), grad = lib.Matrix.randn(4, 4, 2);
        const entries = [{ optimizer: opt, param, grad, state: opt.init(param) }];
        const batch = new NativeBatch();
        opt.prepare(entries, 0, batch);
        const numbers = batch.numbers.slice(0, batch.length);
        numbers[4] = 1; // spectralDecay
        const before = Array.from(param.data);
        try { addon.optimizerStep(batch.arrays, numbers, 1); out.push('returned'); }
        catch (e) { out.push(e.constructor.name + ': ' + e.message + (Array.from(param.data).every((x, i) => x === before[i]) ? ' [unchanged]' : ' [changed]')); }
      }
      console.log(JSON.stringify(out));
    `], 30_000);
    expect(run.status, `${run.died}: ${run.tail}`).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      'RangeError: optimizer step, parameter 0: adagrad has no decoupled weight decay to make spectral [unchanged]',
      'RangeError: optimizer step, parameter 0: rmsprop has no decoupled weight decay to make spectral [unchanged]',
    ]);
  });

  it('an array whose element getter detaches another array of the batch is read in full before any data pointer is taken', async () => {
    // A valid adam batch through the raw addon, with a getter on its last element that detaches param.
    const run = await node(['-e', `
      const lib = require(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
      const { NativeBatch } = require(${JSON.stringify(join(ROOT, 'dist', 'optim', 'optimizer.js'))});
      const addon = require(${JSON.stringify(join(ROOT, 'dist', 'native.js'))}).native.addon;
      const opt = lib.createOptimizer('adam');
      const param = lib.Matrix.randn(64, 64, 1), grad = lib.Matrix.randn(64, 64, 2);
      const entries = [{ optimizer: opt, param, grad, state: opt.init(param) }];
      const batch = new NativeBatch();
      opt.prepare(entries, 0, batch);
      const arrays = batch.arrays.slice();
      const last = arrays[arrays.length - 1];
      Object.defineProperty(arrays, arrays.length - 1, { get() { structuredClone(param.data.buffer, { transfer: [param.data.buffer] }); return last; } });
      try { addon.optimizerStep(arrays, batch.numbers.subarray(0, batch.length), 1); console.log('returned'); }
      catch (e) { console.log(e.constructor.name + ': ' + e.message); }
    `], 30_000);
    expect(run.status, `${run.died}: ${run.tail}`).toBe(0);
    expect(run.stdout.trim()).toMatch(/^RangeError: optimizer step, parameter 0: param\.data must have 4096 elements, got 0/);
  });
});

describe('a step that cannot be finished changes nothing', () => {
  it('muon: a momentum that is not finite (corrupted state) is refused before any entry is written', async () => {
    const adam = createOptimizer('adam');
    const muon = createOptimizer('muon');
    const p1 = Matrix.randn(4, 4, 1);
    const p2 = Matrix.randn(5, 3, 2);
    const s1 = adam.init(p1);
    const s2 = muon.init(p2);
    s2.arrays.momentumBuffer.fill(Infinity);
    const before = [p1.data.slice(), p2.data.slice(), s1.arrays.expAvg.slice(), s2.arrays.momentumBuffer.slice()];
    expect(() =>
      stepMany([
        { optimizer: adam, param: p1, grad: Matrix.randn(4, 4, 3), state: s1 },
        { optimizer: muon, param: p2, grad: Matrix.randn(5, 3, 4), state: s2 },
      ]),
    ).toThrow(/^stepMany: entry 1 \(muon\): the momentum is not finite .*nothing was changed/);
    expect([p1.data, p2.data, s1.arrays.expAvg, s2.arrays.momentumBuffer]).toEqual(before);
    expect([s1.step, s2.step]).toEqual([0, 0]);
  });

  it('adagrad-full: S + ggT overflowing float32 is refused before any entry is written', async () => {
    const sgd = createOptimizer('sgd', { momentum: 0.9 });
    const full = createOptimizer('adagrad-full');
    const p1 = Matrix.randn(3, 3, 1);
    const p2 = Matrix.randn(2, 3, 2);
    const s1 = sgd.init(p1);
    const s2 = full.init(p2);
    const before = [p1.data.slice(), p2.data.slice(), s1.arrays.momentumBuffer.slice()];
    const huge = Matrix.from(2, 3, [3e38, 1, 1, 1, 1, 1]); // finite, but its square is not
    expect(() =>
      stepMany([
        { optimizer: sgd, param: p1, grad: Matrix.randn(3, 3, 3), state: s1 },
        { optimizer: full, param: p2, grad: huge, state: s2 },
      ]),
    ).toThrow(/^stepMany: entry 1 \(adagrad-full\): the statistic S \+ ggT is not finite.*nothing was changed/);
    expect([p1.data, p2.data, s1.arrays.momentumBuffer]).toEqual(before);
  });
});

describe('caller code that throws while a call reads its arguments', () => {
  it('is named after the call, with the original error as its cause (step, stepMany, saveState, stateBytes)', () => {
    const opt = createOptimizer('adam');
    const param = Matrix.randn(2, 2, 1);
    const boom = new Error('boom');
    const state = new Proxy(opt.init(param), { get: () => { throw boom; } });
    const cases: [string, () => unknown][] = [
      ['adam.step', () => opt.step(param, Matrix.randn(2, 2, 2), state)],
      ['stepMany', () => stepMany([{ optimizer: opt, param, grad: Matrix.randn(2, 2, 2), state }])],
      ['saveState', () => saveState(state)],
      ['stateBytes', () => stateBytes(state)],
    ];
    for (const [name, call] of cases) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(TypeError);
      expect((error as Error).message, name).toBe(`${name}: reading the arguments threw: Error: boom`);
      expect((error as Error).cause, name).toBe(boom);
    }
  });
});

describe('the fuzzer', () => {
  it('3,000 seeded calls over every public function and raw entry point: none crashes, every error names its function, no failed call changes its outputs', async () => {
    const run = await node([join(__dirname, 'fuzz', 'fuzz.cjs'), '--calls', '3000', '--seed', '7', '--last', join(tmpdir(), 'specopt-vitest-fuzz-last.txt')]);
    expect(run.status, `${run.died}: ${run.stdout.slice(0, 3000)} ${run.tail}`).toBe(0);
    const summary = JSON.parse(run.stdout) as { calls: number; violationCount: number; returned: number; threw: number; rejected: number };
    expect(summary.calls).toBe(3000);
    expect(summary.violationCount).toBe(0);
    // The mix reaches both outcomes: calls that work, and calls that are refused.
    expect(summary.returned).toBeGreaterThan(600);
    expect(summary.threw + summary.rejected).toBeGreaterThan(600);
  });
});

describe('memory', () => {
  it('every entry point in a loop (sync, async, stepMany with a kept batch, save/load, failing calls): memory outside V8’s heap stops growing after warm-up', async () => {
    // Under `npm run test:asan`, ASan's quarantine holds freed memory on purpose (to catch use
    // after free): RSS would grow by design. The loop runs there without it.
    const asan = process.env.ASAN_OPTIONS;
    const env = asan === undefined ? process.env : { ...process.env, ASAN_OPTIONS: `${asan}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0` };
    const run = await node(['--expose-gc', join(SCRIPTS, 'leak-loop.cjs'), '500'], 240_000, env);
    expect(run.status, `${run.died}: ${run.tail}`).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, { samplesMiB: number[]; growthMiB: number }>;
    expect(Object.keys(result)).toEqual(['sync', 'async', 'stepMany', 'step', 'errors']);
    // A leak rises with the calls (a Float32Array of 48x48 per call would add 9 MiB here).
    for (const [name, r] of Object.entries(result)) expect(r.growthMiB, `${name}: ${r.samplesMiB.join(' ')}`).toBeLessThan(4);
    // The same measure on a routine that keeps 9 KiB per call does see it.
    const leaky = await node(['--expose-gc', join(SCRIPTS, 'leak-loop.cjs'), '500', 'leaky'], 240_000, env);
    expect(JSON.parse(leaky.stdout).leaky.growthMiB).toBeGreaterThan(4);
  });
});
