// The train and eval modes of the schedule-free rules (issue 12): opt.eval/train/mode and
// evalMode/trainMode(entries). What the reference (facebookresearch/schedule_free) does, and the
// golden test (goldens-schedule-free.test.ts) checks bit for bit against it: the parameter holds y
// while training; eval() writes x = y + (1 − 1/β₁)(z − y), train() writes y back; both are no-ops
// in the mode they switch to, and only switch the mode before the first update; stepping in eval
// mode is an error. Here: the mode lives in the state (saveState/loadState keep it), the error
// leaves everything untouched (step, stepMany with a kept batch, stepManyAsync, both backends),
// the batch forms check every entry before switching any, and the group values evolve per state.
import { describe, expect, it } from 'vitest';

import {
  Matrix,
  backendInfo,
  createOptimizer,
  setNumThreads,
  evalMode,
  loadState,
  saveState,
  stepMany,
  stepManyAsync,
  trainMode,
  type Optimizer,
  type RuleName,
  type StepEntry,
} from '../src/index.js';
import { crossCheck, expectSameSnapshot, gradients, maxAbsDiff, sameBits, snapshot, U32 } from './optim-helpers.js';

type Backend = 'native' | 'reference';
const RULES = ['schedule-free-adamw', 'schedule-free-sgd'] as const;
const HYPER: Record<(typeof RULES)[number], Record<string, unknown>> = {
  'schedule-free-adamw': { lr: 0.01, warmupSteps: 3, r: 1, weightDecay: 0.1 },
  'schedule-free-sgd': { lr: 0.05, warmupSteps: 3, r: 1, weightDecay: 0.1 },
};
const CASES = RULES.flatMap((rule) => (['native', 'reference'] as Backend[]).map((backend) => [rule, backend] as const));

function started(rule: RuleName, backend: Backend, steps: number, rows = 5, cols = 4, seed = 1) {
  const opt = createOptimizer(rule, HYPER[rule as (typeof RULES)[number]] as never, { backend }) as Optimizer;
  const param = Matrix.randn(rows, cols, seed + 40);
  const state = opt.init(param);
  const grads = gradients(rows, cols, steps + 20, seed);
  for (let t = 0; t < steps; t++) opt.step(param, grads[t], state);
  return { opt, param, state, grads };
}

/** β₁ of both HYPER entries (adamw's betas[0] and sgd's momentum are 0.9 by default). */
const BETA1 = 0.9;

describe('eval and train on one parameter', () => {
  it.each(CASES)('%s (%s): a fresh state trains; before the first update eval/train switch only the mode', (rule, backend) => {
    const { opt, param, state, grads } = started(rule, backend, 0);
    expect(opt.mode(state)).toBe('train');
    const before = param.data.slice();
    opt.eval(param, state);
    expect(opt.mode(state)).toBe('eval');
    expect(sameBits(param.data, before)).toBe(true);
    opt.train(param, state);
    expect(opt.mode(state)).toBe('train');
    expect(sameBits(param.data, before)).toBe(true);
    opt.step(param, grads[0], state);
    expect(state.step).toBe(1);
  });

  it.each(CASES)('%s (%s): eval writes x (from y and z), is idempotent, and train writes y back to within rounding', (rule, backend) => {
    const { opt, param, state } = started(rule, backend, 7);
    const y = Float64Array.from(param.data);
    const n = y.length;
    opt.eval(param, state);
    expect(opt.mode(state)).toBe('eval');
    const x = param.data.slice();
    // x = y + (1 − 1/β₁)(z − y): the native state keeps z (float32), the reference x and z.
    const z = Float64Array.from(state.arrays.z);
    const w = 1 - 1 / BETA1;
    let worst = 0, span = 0;
    for (let i = 0; i < n; i++) {
      worst = Math.max(worst, Math.abs(x[i] - (y[i] + w * (z[i] - y[i]))));
      span = Math.max(span, Math.abs(x[i]), Math.abs(z[i] - y[i]));
    }
    // Native: one float32 subtraction and one fused multiply-add; reference: x itself in float64,
    // rounded into the float32 parameter (with y rounded likewise: a few u of |x|).
    expect(worst).toBeLessThanOrEqual(4 * U32 * span);
    expect(maxAbsDiff(x, y)).toBeGreaterThan(100 * U32 * span); // x really differs from y
    opt.eval(param, state); // already in eval mode: nothing happens
    expect(sameBits(param.data, x)).toBe(true);
    opt.train(param, state);
    expect(opt.mode(state)).toBe('train');
    let back = 0;
    for (let i = 0; i < n; i++) back = Math.max(back, Math.abs(param.data[i] - y[i]));
    expect(back).toBeLessThanOrEqual(4 * U32 * span);
    const yAgain = param.data.slice();
    opt.train(param, state);
    expect(sameBits(param.data, yAgain)).toBe(true);
  });

  it.each(CASES)('%s (%s): stepping in eval mode is a RangeError that changes nothing, through step and a kept stepMany batch', (rule, backend) => {
    const { opt, param, state, grads } = started(rule, backend, 4);
    const entries: StepEntry[] = [{ optimizer: opt, param, grad: grads[4], state }];
    stepMany(entries); // the batch is kept (native: the addon's plan from the second call on)
    stepMany(entries);
    opt.eval(param, state);
    const before = snapshot(param, state);
    const message = new RegExp(`${rule}.*eval mode.*train\\(param, state\\)`);
    expect(() => opt.step(param, grads[6], state)).toThrow(RangeError);
    expect(() => opt.step(param, grads[6], state)).toThrow(message);
    expect(() => stepMany(entries)).toThrow(RangeError);
    expect(() => stepMany(entries)).toThrow(message);
    expectSameSnapshot(before, snapshot(param, state), `${rule} ${backend} after refused steps`);
    opt.train(param, state);
    expect(stepMany(entries)[0].skipped).toBe(false);
    expect(state.step).toBe(7);
  });

  it.each(RULES)('%s: stepManyAsync in eval mode rejects, nothing written', async (rule) => {
    const { opt, param, state, grads } = started(rule, 'native', 3);
    opt.eval(param, state);
    const before = snapshot(param, state);
    await expect(stepManyAsync([{ optimizer: opt, param, grad: grads[3], state }])).rejects.toThrow(/eval mode/);
    expectSameSnapshot(before, snapshot(param, state), 'after the rejected async step');
  });

  it.each(CASES)('%s (%s): saveState/loadState keep the mode; the resumed run is bit-identical', (rule, backend) => {
    const a = started(rule, backend, 5);
    a.opt.eval(a.param, a.state);
    const bytes = saveState(a.state);
    const loaded = loadState(bytes);
    const param = Matrix.from(a.param.rows, a.param.cols, a.param.data);
    const opt = createOptimizer(rule, HYPER[rule] as never, { backend }) as Optimizer;
    expect(opt.mode(loaded)).toBe('eval');
    expect(() => opt.step(param, a.grads[5], loaded)).toThrow(/eval mode/);
    opt.train(param, loaded);
    a.opt.train(a.param, a.state);
    for (let t = 5; t < 10; t++) {
      opt.step(param, a.grads[t], loaded);
      a.opt.step(a.param, a.grads[t], a.state);
    }
    expectSameSnapshot(snapshot(a.param, a.state), snapshot(param, loaded), `${rule} ${backend} resumed from eval mode`);
  });

  it('other rules have no modes: TypeError', () => {
    const opt = createOptimizer('adamw');
    const param = Matrix.randn(2, 3, 1);
    const state = opt.init(param);
    expect(() => opt.eval(param, state)).toThrow(new TypeError('adamw.eval: adamw has no train and eval modes (schedule-free-adamw and schedule-free-sgd have)'));
    expect(() => opt.train(param, state)).toThrow(TypeError);
    expect(() => opt.mode(state)).toThrow(TypeError);
  });

  it('a state of another optimizer, a wrong shape, a state with a bad group buffer: errors, nothing switched', () => {
    const { opt, param, state } = started('schedule-free-adamw', 'native', 2);
    const other = started('schedule-free-sgd', 'native', 2);
    expect(() => opt.eval(param, other.state)).toThrow(/schedule-free-adamw\.eval: state belongs to schedule-free-sgd/);
    expect(() => opt.eval(Matrix.zeros(4, 5), state)).toThrow(/schedule-free-adamw\.eval: state is for a 5x4 parameter/);
    const before = snapshot(param, state);
    const broken = { ...state, arrays: { ...state.arrays, group: new Float32Array(4) } };
    expect(() => opt.eval(param, broken)).toThrow(/group/);
    expectSameSnapshot(before, snapshot(param, state), 'after the refused calls');
    expect(opt.mode(state)).toBe('train');
  });
});

describe('evalMode and trainMode over stepMany entries', () => {
  function model(backend: Backend) {
    const sf = createOptimizer('schedule-free-adamw', HYPER['schedule-free-adamw'] as never, { backend }) as Optimizer;
    const adam = createOptimizer('adamw', { lr: 0.01 }, { backend }) as Optimizer;
    const shapes: [number, number, Optimizer][] = [[6, 4, sf], [1, 4, adam], [4, 3, sf], [3, 1, sf]];
    const entries: StepEntry[] = shapes.map(([rows, cols, optimizer], k) => {
      const param = Matrix.randn(rows, cols, 60 + k);
      return { optimizer, param, grad: Matrix.zeros(rows, cols), state: optimizer.init(param) };
    });
    const grads = entries.map((e, k) => gradients(e.param.rows, e.param.cols, 12, 70 + k));
    const step = (t: number) => {
      entries.forEach((e, k) => e.grad.data.set(grads[k][t].data));
      return stepMany(entries);
    };
    return { sf, adam, entries, step };
  }

  it.each(['native', 'reference'] as Backend[])('(%s) switch every schedule-free entry, leave the others alone, as the per-parameter calls do', (backend) => {
    const a = model(backend);
    const b = model(backend);
    for (let t = 0; t < 6; t++) {
      a.step(t);
      b.step(t);
    }
    const adamBefore = a.entries[1].param.data.slice();
    evalMode(a.entries);
    for (const e of b.entries) if (e.optimizer === b.sf) b.sf.eval(e.param, e.state);
    a.entries.forEach((e, k) => expect(sameBits(e.param.data, b.entries[k].param.data), `entry ${k}`).toBe(true));
    expect(sameBits(a.entries[1].param.data, adamBefore)).toBe(true);
    for (const e of a.entries) if (e.optimizer === a.sf) expect(a.sf.mode(e.state)).toBe('eval');
    // Stepping the whole model now fails for the schedule-free entries, before anything is written.
    const before = a.entries.map((e) => snapshot(e.param, e.state));
    expect(() => a.step(6)).toThrow(/entry 0 \(schedule-free-adamw\).*eval mode/);
    a.entries.forEach((e, k) => expectSameSnapshot(before[k], snapshot(e.param, e.state), `entry ${k}`));
    trainMode(a.entries);
    for (const e of b.entries) if (e.optimizer === b.sf) b.sf.train(e.param, e.state);
    for (let t = 6; t < 12; t++) {
      a.step(t);
      b.step(t);
    }
    a.entries.forEach((e, k) => expectSameSnapshot(snapshot(b.entries[k].param, b.entries[k].state), snapshot(e.param, e.state), `entry ${k} after training on`));
  });

  it('checks every entry before switching any', () => {
    const a = model('native');
    for (let t = 0; t < 3; t++) a.step(t);
    const before = a.entries.map((e) => snapshot(e.param, e.state));
    const stranger = createOptimizer('schedule-free-sgd').init(a.entries[2].param);
    const bad = a.entries.map((e, k) => (k === 2 ? { ...e, state: stranger } : e));
    expect(() => evalMode(bad)).toThrow(/^evalMode: entry 2 \(schedule-free-adamw\): state belongs to schedule-free-sgd/);
    expect(() => evalMode([a.entries[0], a.entries[0]])).toThrow(new RangeError('evalMode: entry 1 (schedule-free-adamw): the same parameter appears twice'));
    expect(() => evalMode([a.entries[0], null as never])).toThrow(TypeError);
    expect(() => trainMode('entries' as never)).toThrow(TypeError);
    expect(() => trainMode('entries' as never)).toThrow(/^trainMode: entries must be an array, got /);
    a.entries.forEach((e, k) => expectSameSnapshot(before[k], snapshot(e.param, e.state), `entry ${k}`));
  });

  it('refused while a stepManyAsync call in flight uses an entry', async () => {
    const a = model('native');
    for (let t = 0; t < 3; t++) a.step(t);
    const pending = stepManyAsync(a.entries);
    expect(() => evalMode(a.entries)).toThrow(/^evalMode: entry 0 \(schedule-free-adamw\): .*in use by a stepManyAsync call in flight/);
    await pending;
    evalMode(a.entries);
    expect(a.sf.mode(a.entries[0].state)).toBe('eval');
  });
});

describe('the group values (k, lr_max, weight_sum) are each state\'s own', () => {
  it.each(RULES)('%s: entries stepped together keep identical copies; a parameter added later counts from its own first step', (rule) => {
    const opt = createOptimizer(rule, HYPER[rule] as never) as Optimizer;
    const mk = (rows: number, cols: number, seed: number) => {
      const param = Matrix.randn(rows, cols, seed);
      return { optimizer: opt, param, grad: Matrix.zeros(rows, cols), state: opt.init(param) };
    };
    const entries: StepEntry[] = [mk(4, 4, 1), mk(1, 5, 2), mk(3, 2, 3)];
    for (let t = 0; t < 6; t++) {
      for (const e of entries) e.grad.data.set(gradients(e.param.rows, e.param.cols, 1, 10 + t)[0].data);
      stepMany(entries);
      if (t === 2) entries.push(mk(2, 2, 4));
    }
    const groups = entries.map((e) => e.state.arrays.group as Float32Array);
    expect(sameBits(groups[0], groups[1]) && sameBits(groups[0], groups[2])).toBe(true);
    expect(entries[3].state.step).toBe(3);
    expect(sameBits(groups[3], groups[0])).toBe(false);
    // The late one is as if it had been stepped alone from its first step.
    const alone = mk(2, 2, 4);
    for (let t = 3; t < 6; t++) {
      alone.grad.data.set(gradients(2, 2, 1, 10 + t)[0].data);
      opt.step(alone.param, alone.grad, alone.state);
    }
    expectSameSnapshot(snapshot(alone.param, alone.state), snapshot(entries[3].param, entries[3].state), 'late parameter');
  });
});

describe('native against the float64 reference, eval mode included', () => {
  it.each(RULES)('%s: x after eval() agrees within the cross-check tolerance', (rule) => {
    for (const [rows, cols] of [[1, 7], [9, 1], [8, 8], [12, 5]] as const) {
      const report = crossCheck(rule, HYPER[rule], rows, cols, { seed: 5, steps: 15 });
      const nat = started(rule, 'native', 15, rows, cols, 5);
      const ref = started(rule, 'reference', 15, rows, cols, 5);
      nat.opt.eval(nat.param, nat.state);
      ref.opt.eval(ref.param, ref.state);
      // The same scale as the cross-check (its S after 15 steps), K = 32 (optim.test.ts' adaptive).
      expect(maxAbsDiff(nat.param.data, ref.param.data) / (U32 * report.scale)).toBeLessThanOrEqual(32);
    }
  });
});

describe('schedule-free on a parameter split over threads (entry-wise chunks after one Prepare)', () => {
  it.each(['schedule-free-adamw', 'schedule-free-sgd'] as const)('%s: 400×400 over the threads = one thread, bit for bit, for 6 steps', (rule) => {
    const threads = backendInfo().threads;
    const run = (n: number) => {
      setNumThreads(n);
      try {
        const opt = createOptimizer(rule, { warmupSteps: 2, weightDecay: 0.01 });
        const w = Matrix.randn(400, 400, 3);
        const state = opt.init(w);
        for (let t = 0; t < 6; t++) opt.step(w, Matrix.randn(400, 400, 10 + t), state);
        opt.eval(w, state);
        return [w.data, ...Object.values(state.arrays)] as Float32Array[];
      } finally {
        setNumThreads(threads);
      }
    };
    const one = run(1);
    const two = run(2);
    one.forEach((a, k) => expect(sameBits(a, two[k]), `array ${k}`).toBe(true));
  });
});
