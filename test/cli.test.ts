// Issue 5's command line: `specopt train` (options, results.json, report.html, bad options and
// bad data) and its checkpoints (a process killed in the middle of a save leaves the previous
// checkpoint loadable, and --resume continues bit-identically to a run that never stopped).
// The bin runs from dist/ (npm test builds first); small nets and subsets keep this file fast.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { main, parseTrainArgs } from '../src/cli.js';
import { OPTIMIZER_RULES } from '../src/index.js';
import { readCheckpoint } from '../src/train/checkpoint.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'specopt.js');
const work = mkdtempSync(join(tmpdir(), 'specopt-cli-'));
afterAll(() => {
  // Left for inspection on failure only when SPECOPT_KEEP_TMP is set.
  if (!process.env.SPECOPT_KEEP_TMP) spawnSync('rm', ['-rf', work]);
});

const SMALL = ['--hidden', '32,32', '--train-size', '1000', '--test-size', '200', '--batch-size', '100', '--no-progress'];

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function inProcess(args: string[]) {
  let out = '';
  let err = '';
  const code = main(args, { out: (s) => (out += s), err: (s) => (err += s), tty: false });
  return { code, out, err };
}

describe('specopt: options', () => {
  it.each([
    [['train', '--epochs', '0'], /--epochs must be between 1 and/],
    [['train', '--epochs', 'five'], /--epochs must be an integer, got 'five'/],
    [['train', '--optimizer', 'adamw,nope'], /unknown optimizer 'nope' \(known: sgd, .*muon.*'all'\)/],
    [['train', '--optimizer', 'adamw,adamw'], /names 'adamw' twice/],
    [['train', '--bogus'], /unknown option '--bogus'/],
    [['train', '--seed'], /--seed needs a value/],
    [['train', '--resume'], /--resume needs --checkpoint DIR/],
    [['train', '--hidden', '256,x'], /--hidden must be an integer, got 'x'/],
    [['train', 'extra'], /unexpected argument 'extra'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['tour', '--fast'], /tour takes no arguments/],
  ])('%j → exit 2 and a clear message', (args, message) => {
    const r = inProcess(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/specopt --help/);
  });

  it("names every rule of the library, and 'all' means all of them", () => {
    expect(parseTrainArgs(['--optimizer', 'all']).optimizers).toEqual([...OPTIMIZER_RULES]);
    expect(parseTrainArgs(['--optimizer', OPTIMIZER_RULES.join(',')]).optimizers).toEqual([...OPTIMIZER_RULES]);
    expect(parseTrainArgs([]).optimizers).toEqual(['muon']);
    for (const rule of OPTIMIZER_RULES) expect(inProcess(['--help']).out).toContain(rule);
  });

  it('the bin exits non-zero on bad options and on bad data, with the reason', () => {
    const bad = run(['train', '--epochs', '-1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--epochs must be an integer, got '-1'/);

    const dir = join(work, 'bad-data');
    mkdirSync(dir, { recursive: true });
    for (let d = 0; d < 10; d++) writeFileSync(join(dir, `${d}.json`), JSON.stringify({ data: new Array(784).fill(0.5) }));
    writeFileSync(join(dir, '3.json'), JSON.stringify({ data: [...new Array(783).fill(0), 7] }));
    const r = run(['train', '--data', dir, '--epochs', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/3\.json: value 783 \(image 0\) is 7, not a grey level in \[0, 1\]/);
    writeFileSync(join(dir, '3.json'), '{ "data": [0, 1');
    expect(run(['train', '--data', dir]).stderr).toMatch(/3\.json is not valid JSON/);
    expect(run(['train', '--data', join(work, 'nowhere')]).stderr).toMatch(/0\.json is missing/);
    expect(run(['train', ...SMALL.slice(0, 2), '--train-size', '9000']).stderr).toMatch(/trainSize 9000 is more than the 8000 images/);
  });
});

describe('specopt train --out', () => {
  it('writes results.json with the schema and report.html with the curves as SVG', () => {
    const out = join(work, 'out');
    const r = run(['train', '--optimizer', 'adamw,muon,adagrad-full', '--epochs', '2', '--seed', '3', '--out', out, ...SMALL]);
    expect(r.code, r.stderr).toBe(0);
    // The table at the end.
    expect(r.stdout).toMatch(/optimizer +final train loss +test accuracy +optimizer ms\/step/);
    expect(r.stdout).toMatch(/^muon +\d\.\d{4} +0\.\d{4} /m);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.runs.map((x: { optimizer: string }) => x.optimizer)).toEqual(['adamw', 'muon', 'adagrad-full']);
    for (const x of results.runs) {
      expect(typeof x.testAccuracy).toBe('number');
      expect(x.testAccuracy).toBeGreaterThan(0.3); // chance is 0.1; 20 steps of a small net
      expect(typeof x.trainLoss).toBe('number');
      expect(x.msPerStep).toBeGreaterThan(0);
      expect(Number.isInteger(x.stateBytes) && x.stateBytes > 0).toBe(true);
      expect(x.lossCurve).toHaveLength(2 * 10);
      expect(x.lossCurve.every((v: number) => typeof v === 'number')).toBe(true);
      expect(x.epochs).toHaveLength(3);
    }
    // adagrad-full cannot take W1 (32x784 entries > maxDim): honest about it.
    const full = results.runs[2].assignments;
    expect(full.find((a: { param: string }) => a.param === 'W1')).toMatchObject({ rule: 'adamw', reason: expect.stringMatching(/maxDim/) });
    expect(r.stdout).toMatch(/W1 trained by adamw \(adagrad-full refused it/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg /g)?.length).toBeGreaterThanOrEqual(2);
    expect(html).toMatch(/<path d="M[\d.]+ [\d.]+L/);
    for (const name of ['adamw', 'muon', 'adagrad-full']) expect(html).toContain(`${name}</td>`);
    expect(html).not.toMatch(/<script/);
  });
});

describe('specopt train --diagnose', () => {
  it('prints power vs SVD spectral norms per layer and both sides of the penalty inequality, untrained and trained', () => {
    const out = join(work, 'diagnose');
    const r = run(['train', '--optimizer', 'adamw', '--epochs', '1', '--diagnose', '--out', out, ...SMALL]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/diagnostics, untrained/);
    expect(r.stdout).toMatch(/diagnostics, adamw after training/);
    expect(r.stdout.match(/layer 1 \(32x784\): ‖W‖₂ power [\d.]+ +svd [\d.]+/g)).toHaveLength(2);
    expect(r.stdout.match(/test sample \d \(digit \d\): .* ≤ .* ratio [\d.e-]+ +holds/g)).toHaveLength(6);
    const run0 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs[0];
    expect(run0.diagnostics.trained.spectralNorms).toHaveLength(3);
    expect(run0.diagnostics.untrained.penalty[0]).toMatchObject({ holds: true, ratio: expect.any(Number), lhs: expect.any(Number), rhs: expect.any(Number) });
  });
});

// ---------------------------------------------------------------- checkpoints

const CKPT = ['--optimizer', 'muon', '--epochs', '3', '--seed', '5', ...SMALL];

/** Starts a training child; resolves when its stderr shows `marker` (or it exits). */
function startChild(args: string[], env: NodeJS.ProcessEnv, marker?: RegExp) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env } });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const seen = new Promise<boolean>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (marker?.test(stderr)) resolve(true);
    });
    child.on('exit', () => resolve(false));
  });
  child.stdout.resume();
  return { child, exited, seen, stderr: () => stderr };
}

const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).runs[0];

describe('checkpoints', () => {
  let reference: ReturnType<typeof results>;
  const uninterrupted = () => {
    if (!reference) {
      const r = run(['train', ...CKPT, '--out', join(work, 'uninterrupted')]);
      expect(r.code, r.stderr).toBe(0);
      reference = results(join(work, 'uninterrupted'));
    }
    return reference;
  };

  it('a process killed in the middle of a save leaves the previous checkpoint; --resume is bit-identical', async () => {
    const dir = join(work, 'ckpt-kill');
    const c = startChild(['train', ...CKPT, '--checkpoint', dir], { SPECOPT_TEST_PAUSE_SAVE: 'muon:2' }, /paused mid-save muon:2/);
    expect(await c.seen).toBe(true);
    c.child.kill('SIGKILL');
    await c.exited;
    // The half-written temporary file is there, the checkpoint of epoch 1 is intact.
    expect(existsSync(join(dir, 'muon.ckpt.tmp'))).toBe(true);
    expect(() => readCheckpoint(join(dir, 'muon.ckpt.tmp'))).toThrow(/checksum mismatch|not a specopt/);
    const ckpt = readCheckpoint<{ epoch: number; steps: number }>(join(dir, 'muon.ckpt'));
    expect(ckpt.meta.epoch).toBe(1);
    expect(ckpt.meta.steps).toBe(10);

    const r = run(['train', ...CKPT, '--checkpoint', dir, '--resume', '--out', join(work, 'resumed')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resumed from .*muon\.ckpt at epoch 1/);
    const resumed = results(join(work, 'resumed'));
    const ref = uninterrupted();
    expect(resumed.resumedFromEpoch).toBe(1);
    expect(resumed.weightsSha256).toBe(ref.weightsSha256);
    expect(resumed.lossCurve).toEqual(ref.lossCurve);
    expect(resumed.epochs).toEqual(ref.epochs);
    expect(resumed.testAccuracy).toBe(ref.testAccuracy);
    expect(resumed.trainLoss).toBe(ref.trainLoss);
    expect(readCheckpoint<{ epoch: number }>(join(dir, 'muon.ckpt')).meta.epoch).toBe(3);
  });

  it('survives kills at random times: every checkpoint left loads, and the last resume is bit-identical', async () => {
    // Longer than CKPT (about 1 s of training, 20 checkpoints) so that random kills land anywhere.
    const LONG = ['--optimizer', 'muon', '--epochs', '20', '--seed', '9', '--hidden', '64,64', '--train-size', '2000', '--test-size', '200', '--batch-size', '100', '--no-progress'];
    const dir = join(work, 'ckpt-random');
    let kills = 0;
    let completed = false;
    for (let attempt = 0; attempt < 10 && !completed; attempt++) {
      const c = startChild(['train', ...LONG, '--checkpoint', dir, '--resume', '--out', join(work, 'random')], {});
      const timer = setTimeout(() => c.child.kill('SIGKILL'), 200 + Math.random() * 600);
      const code = await c.exited;
      clearTimeout(timer);
      completed = code === 0;
      if (!completed) kills++;
      if (existsSync(join(dir, 'muon.ckpt'))) {
        const epoch = readCheckpoint<{ epoch: number }>(join(dir, 'muon.ckpt')).meta.epoch;
        expect(epoch).toBeGreaterThanOrEqual(1);
        expect(epoch).toBeLessThanOrEqual(20);
      }
    }
    expect(kills).toBeGreaterThan(0);
    if (!completed) {
      const last = run(['train', ...LONG, '--checkpoint', dir, '--resume', '--out', join(work, 'random')]);
      expect(last.code, last.stderr).toBe(0);
    }
    const ref = run(['train', ...LONG, '--out', join(work, 'random-ref')]);
    expect(ref.code, ref.stderr).toBe(0);
    const got = results(join(work, 'random'));
    const want = results(join(work, 'random-ref'));
    expect(got.weightsSha256).toBe(want.weightsSha256);
    expect(got.lossCurve).toEqual(want.lossCurve);
    expect(got.epochs).toEqual(want.epochs);
  });

  it('refuses to resume from a checkpoint of another run or a corrupt one, with a clear message', () => {
    const dir = join(work, 'ckpt-kill');
    const other = run(['train', ...CKPT.map((a) => (a === '5' ? '6' : a)), '--checkpoint', dir, '--resume']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/muon\.ckpt was written by a different run \(config: .*"seed":5.*this run: .*"seed":6/);
    const bytes = readFileSync(join(dir, 'muon.ckpt'));
    writeFileSync(join(dir, 'muon.ckpt'), bytes.subarray(0, bytes.length - 100));
    const corrupt = run(['train', ...CKPT, '--checkpoint', dir, '--resume']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/muon\.ckpt: checksum mismatch/);
  });
});
