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

import { DEFAULT_SCHEDULE, main, parseTrainArgs } from '../src/cli.js';
import { OPTIMIZER_RULES } from '../src/index.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { RECIPES } from '../src/train/recipes.js';

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
    [['train', '--schedule', 'linear'], /unknown schedule 'linear' \(known: constant, cosine, warmup-cosine, wsd\)/],
    [['train', '--schedule'], /--schedule needs a value/],
    [['train', '--clip', '0'], /--clip must be a finite number > 0, got 0/],
    [['train', '--clip', '-1'], /--clip must be a finite number > 0, got -1/],
    [['train', '--clip', 'big'], /--clip must be a number, got 'big'/],
    [['train', '--clip', 'Infinity'], /--clip must be a number, got 'Infinity'/],
    [['train', '--clip', '1e999'], /--clip must be a finite number > 0, got 1e999/],
    [['train', '--schedule', 'warmup-cosine', '--warmup', '1'], /--warmup must be in \[0, 1\) \(a fraction of the run\), got 1/],
    [['train', '--schedule', 'wsd', '--warmup', '-0.1'], /--warmup must be in \[0, 1\)/],
    [['train', '--schedule', 'wsd', '--warmup', '5%'], /--warmup must be a number, got '5%'/],
    [['train', '--schedule', 'wsd', '--decay', '0'], /--decay must be in \(0, 1\] \(a fraction of the run\), got 0/],
    [['train', '--schedule', 'wsd', '--decay', '1.5'], /--decay must be in \(0, 1\]/],
    [['train', '--schedule', 'wsd', '--warmup', '0.5', '--decay', '0.6'], /the warm-up and decay fractions must add up to at most 1, got 0.5 \+ 0.6/],
    [['train', '--schedule', 'constant', '--warmup', '0.1'], /--warmup applies to --schedule warmup-cosine or wsd, not constant/],
    [['train', '--schedule', 'warmup-cosine', '--decay', '0.1'], /--decay applies to --schedule wsd, not warmup-cosine/],
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

  it('--schedule, --warmup, --decay and --clip: defaults and values', () => {
    const d = parseTrainArgs([]);
    expect(d.schedule.name).toBe(DEFAULT_SCHEDULE);
    expect(d.clip).toBeUndefined();
    expect(parseTrainArgs(['--schedule', 'constant']).schedule).toEqual({ name: 'constant' });
    expect(parseTrainArgs(['--schedule', 'cosine']).schedule).toEqual({ name: 'cosine' });
    expect(parseTrainArgs(['--schedule', 'warmup-cosine']).schedule).toEqual({ name: 'warmup-cosine', warmup: 0.05 });
    expect(parseTrainArgs(['--schedule', 'wsd']).schedule).toEqual({ name: 'wsd', warmup: 0.05, decay: 0.2 });
    expect(parseTrainArgs(['--schedule=wsd', '--warmup', '0', '--decay=1']).schedule).toEqual({ name: 'wsd', warmup: 0, decay: 1 });
    expect(parseTrainArgs(['--clip', '0.25']).clip).toBe(0.25);
    expect(parseTrainArgs(['--clip=1e-3']).clip).toBe(1e-3);
  });

  it('a schedule a recipe cannot take (an lr of null: adafactor with relativeStep) is a usage error before any training', () => {
    const keep = RECIPES.adafactor;
    RECIPES.adafactor = { applyTo: 'all', hyper: {}, why: 'relative step (test)' };
    try {
      const r = inProcess(['train', '--optimizer', 'adamw,adafactor', '--schedule', 'cosine', ...SMALL]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--schedule cosine cannot apply to adafactor: its lr is null \(adafactor's relativeStep sets its own step size\); use --schedule constant/);
      expect(r.out).not.toMatch(/adamw epoch 1/); // refused before adamw ran
    } finally {
      RECIPES.adafactor = keep;
    }
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
      expect(x.lrPerStep).toHaveLength(2 * 10);
      expect(x.gradNormPerStep).toHaveLength(2 * 10);
      expect(x.gradNormPerStep.every((v: number) => Number.isFinite(v) && v > 0)).toBe(true);
    }
    // adagrad-full cannot take W1 (32x784 entries > maxDim): honest about it.
    const full = results.runs[2].assignments;
    expect(full.find((a: { param: string }) => a.param === 'W1')).toMatchObject({ rule: 'adamw', reason: expect.stringMatching(/maxDim/) });
    expect(r.stdout).toMatch(/W1 trained by adamw \(adagrad-full refused it/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg /g)?.length).toBe(5);
    expect(html).toMatch(/aria-label="Learning rate per step \(/);
    expect(html).toMatch(/aria-label="Total gradient norm per step"/);
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

describe('specopt train --schedule and --clip', () => {
  it('results.json records the lr of every step as the schedule gives it, and report.html plots it and the grad norm', () => {
    const out = join(work, 'schedule');
    // 2 epochs of 10 steps: 20 updates, 10% warm-up = 2 steps, then cosine over 18.
    const r = run(['train', '--optimizer', 'sgd,muon', '--epochs', '2', '--schedule', 'warmup-cosine', '--warmup', '0.1', '--out', out, ...SMALL]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lr warmup-cosine: 10% linear warm-up/);
    const all = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(all.config.schedule).toEqual({ name: 'warmup-cosine', warmup: 0.1 });
    // The peak is the recipe's lr (sgd 0.1, muon 0.02) times its peakFactor (2, 3).
    for (const [x, peak, param, factor] of [[all.runs[0], 0.2, 'W1', 2], [all.runs[1], 0.06, 'W2', 3]] as const) {
      expect(x.lrFrom.param).toBe(param);
      expect(x.schedule).toEqual({ name: 'warmup-cosine', warmup: 0.1, peakFactor: factor, totalSteps: 20, warmupSteps: 2, stableSteps: 0, decaySteps: 18 });
      const want = Array.from({ length: 20 }, (_, c) => (c < 2 ? (peak * c) / 2 : (peak * (1 + Math.cos((Math.PI * (c - 2)) / 18))) / 2));
      x.lrPerStep.forEach((lr: number, c: number) => expect(lr).toBeCloseTo(want[c], 15));
      expect(x.lrPerStep[0]).toBe(0);
      expect(x.lrPerStep[1]).toBeCloseTo(peak / 2, 15);
      expect(x.lrPerStep[2]).toBe(peak);
      for (let c = 3; c < 20; c++) expect(x.lrPerStep[c]).toBeLessThan(x.lrPerStep[c - 1]);
      expect(x.lrPerStep[19]).toBeLessThan(0.01 * peak);
      expect(x.gradNormPerStep.every((v: number) => Number.isFinite(v) && v > 0)).toBe(true);
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    // sgd's 0.2 and muon's 0.06 are within 10×: a linear axis.
    expect(html).toMatch(/aria-label="Learning rate per step \(warmup-cosine: 10% linear warm-up to the peak, then cosine to 0\)"/);
    expect(html).toContain("lr of the run's rule</text>");
    expect(html).toMatch(/aria-label="Total gradient norm per step"/);
  });

  it('--clip records the norms before clipping, clips (the run differs), and is drawn in the report', () => {
    // A constant lr: under warm-up the first update has lr 0, and both runs' second loss would match.
    const base = ['--optimizer', 'sgd', '--epochs', '1', '--schedule', 'constant', ...SMALL];
    const plain = run(['train', ...base, '--out', join(work, 'noclip')]);
    const clipped = run(['train', ...base, '--clip', '0.05', '--out', join(work, 'clip')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(clipped.code, clipped.stderr).toBe(0);
    expect(clipped.stdout).toMatch(/gradients clipped to total norm 0.05/);
    const a = results(join(work, 'noclip'));
    const b = results(join(work, 'clip'));
    expect(a.clip).toBeNull();
    expect(a.clippedSteps).toBeUndefined();
    expect(b.clip).toBe(0.05);
    // Same weights and batch at step 1: the pre-clip norm stepMany measured is gradNorm's.
    expect(b.gradNormPerStep[0]).toBeCloseTo(a.gradNormPerStep[0], 6);
    expect(b.gradNormPerStep.every((v: number) => v > 0.05 && Number.isFinite(v))).toBe(true);
    expect(b.clippedSteps).toBe(10);
    expect(b.lossCurve[0]).toBe(a.lossCurve[0]);
    expect(b.lossCurve[1]).not.toBe(a.lossCurve[1]);
    expect(b.weightsSha256).not.toBe(a.weightsSha256);
    // A threshold no gradient reaches: no step clipped, the run is the unclipped one.
    const loose = run(['train', ...base, '--clip', '1000', '--out', join(work, 'looseclip')]);
    expect(loose.code, loose.stderr).toBe(0);
    const c = results(join(work, 'looseclip'));
    expect(c.clippedSteps).toBe(0);
    expect(c.weightsSha256).toBe(a.weightsSha256);
    const html = readFileSync(join(work, 'clip', 'report.html'), 'utf8');
    expect(html).toMatch(/aria-label="Total gradient norm per step, before clipping to 0.05"/);
    expect(html).toContain('clip 0.05</text>');
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

  it('with a schedule and --clip, a resumed run is bit-identical; other --schedule, --clip or --epochs are refused', async () => {
    const SCHED = ['--optimizer', 'muon', '--epochs', '3', '--seed', '4', '--schedule', 'wsd', '--warmup', '0.1', '--decay', '0.3', '--clip', '0.3', ...SMALL];
    const dir = join(work, 'ckpt-sched');
    const c = startChild(['train', ...SCHED, '--checkpoint', dir], { SPECOPT_TEST_PAUSE_SAVE: 'muon:2' }, /paused mid-save muon:2/);
    expect(await c.seen).toBe(true);
    c.child.kill('SIGKILL');
    await c.exited;
    expect(readCheckpoint<{ epoch: number }>(join(dir, 'muon.ckpt')).meta.epoch).toBe(1);

    const refused = (args: string[], message: RegExp) => {
      const r = run(['train', ...args, '--checkpoint', dir, '--resume']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
    };
    refused(SCHED.map((a) => (a === 'wsd' ? 'warmup-cosine' : a)).filter((a, i, all) => !(a === '--decay' || all[i - 1] === '--decay')), /different run \(schedule: \{"name":"wsd".*this run: \{"name":"warmup-cosine"/);
    refused(SCHED.map((a, i, all) => (all[i - 1] === '--decay' ? '0.4' : a)), /different run \(schedule: .*"decay":0.3.*this run: .*"decay":0.4/);
    refused(SCHED.map((a, i, all) => (all[i - 1] === '--clip' ? '0.5' : a)), /different run \(clip: 0.3, this run: 0.5\)/);
    refused(SCHED.filter((a, i, all) => a !== '--clip' && all[i - 1] !== '--clip'), /different run \(clip: 0.3, this run: null\)/);
    // The lr over the run depends on its length: 4 epochs is another schedule.
    refused(SCHED.map((a, i, all) => (all[i - 1] === '--epochs' ? '4' : a)), /different run \(schedule: .*"totalSteps":30.*this run: .*"totalSteps":40/);

    const r = run(['train', ...SCHED, '--checkpoint', dir, '--resume', '--out', join(work, 'sched-resumed')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resumed from .*muon\.ckpt at epoch 1/);
    const ref = run(['train', ...SCHED, '--out', join(work, 'sched-ref')]);
    expect(ref.code, ref.stderr).toBe(0);
    const got = results(join(work, 'sched-resumed'));
    const want = results(join(work, 'sched-ref'));
    expect(got.resumedFromEpoch).toBe(1);
    expect(got.weightsSha256).toBe(want.weightsSha256);
    expect(got.lossCurve).toEqual(want.lossCurve);
    expect(got.lrPerStep).toEqual(want.lrPerStep);
    expect(got.gradNormPerStep).toEqual(want.gradNormPerStep);
    expect(got.clippedSteps).toBe(want.clippedSteps);
    expect(got.epochs).toEqual(want.epochs);
    // The schedule did act: warm-up from 0, stable at 0.02, decay at the end (30 steps: 3 + 18 + 9).
    const peak = 0.02 * want.schedule.peakFactor;
    expect(want.schedule).toMatchObject({ totalSteps: 30, warmupSteps: 3, stableSteps: 18, decaySteps: 9 });
    expect(want.lrPerStep[0]).toBe(0);
    expect(want.lrPerStep[10]).toBe(peak);
    expect(want.lrPerStep[29]).toBeCloseTo(peak / 9, 15);
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
