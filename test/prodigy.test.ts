// Prodigy's group: the parameters one optimizer steps in one call share d (the reference's param
// group), and the native step's group sums (native/optimizer.cpp, Rule::groupSums) must hold
// wherever the step runs: a kept batch, stepManyAsync, clipping, other entries in between, one
// thread or several; skipped entries; states that were not stepped together; lr 0; the raw batch
// checked again when TS is bypassed; and the float64 reference's group (RefOptimizer.stepGroup).
// The golden trajectories from the reference repo are in goldens-prodigy.test.ts.
import { afterEach, describe, expect, it } from 'vitest';

import { Matrix, backendInfo, createOptimizer, loadState, saveState, setNumThreads, stepMany, stepManyAsync, type Optimizer, type OptimizerState, type StepEntry } from '../src/index.js';
import { native } from '../src/native.js';
import { referenceOptimizer } from '../src/reference/optim/index.js';
import { fullHyper, gradients, sameBits } from './optim-helpers.js';

type H = Record<string, unknown>;
const SHAPES: [number, number][] = [
  [6, 6],
  [1, 7],
  [9, 4],
  [300, 300], // above the size where entry-wise passes split over threads
];

/** Parameters, their gradients (fixed signs: d grows) and states, one optimizer for all. */
function group(hyper: H = {}, backend: 'native' | 'reference' = 'native', shapes = SHAPES, seed = 1) {
  const opt = createOptimizer('prodigy', hyper as never, { backend }) as Optimizer;
  const params = shapes.map(([r, c], j) => Matrix.randn(r, c, seed * 10 + j));
  const states = params.map((p) => opt.init(p));
  const grads = shapes.map(([r, c], j) => gradients(r, c, 12, seed * 10 + j, 'fixedSign'));
  const entries = (t: number): StepEntry[] => params.map((param, j) => ({ optimizer: opt, param, grad: grads[j]![t]!, state: states[j]! }));
  return { opt, params, states, grads, entries };
}
type Group = ReturnType<typeof group>;

const snapshot = (g: Group) => g.params.map((p, j) => ({ w: p.data.slice(), state: saveState(g.states[j]!) }));
function expectSame(a: Group, b: Group, what: string): void {
  a.params.forEach((p, j) => {
    expect(sameBits(p.data, b.params[j]!.data), `${what}: parameter ${j}`).toBe(true);
    expect(Buffer.from(saveState(a.states[j]!)).equals(Buffer.from(saveState(b.states[j]!))), `${what}: state ${j}`).toBe(true);
  });
}
const d = (s: OptimizerState) => {
  const x = s.arrays.dState as Float32Array;
  return x[0]! + x[1]!;
};

describe('prodigy: one optimizer, one call, one group', () => {
  const threads = backendInfo().threads;
  afterEach(() => setNumThreads(threads));

  it('d grows, and every state of the group holds the same copy', () => {
    const g = group();
    for (let t = 0; t < 12; t++) stepMany(g.entries(t));
    expect(d(g.states[0]!)).toBeGreaterThan(1e-3); // from d0 = 1e-6
    for (const s of g.states) expect(Array.from(s.arrays.dState!)).toEqual(Array.from(g.states[0]!.arrays.dState!));
    // A parameter stepped alone has its own d (its own group).
    const alone = group({}, 'native', [SHAPES[0]!]);
    for (let t = 0; t < 12; t++) stepMany(alone.entries(t));
    expect(d(alone.states[0]!)).not.toBe(d(g.states[0]!));
  });

  it("the same entries array every step (the kept batch, the addon's copy) = a new array every step, bitwise", () => {
    const kept = group();
    const fresh = group();
    const es = kept.entries(0);
    for (let t = 0; t < 12; t++) {
      es.forEach((e, j) => (e.grad = kept.grads[j]![t]!));
      stepMany(es);
      stepMany(fresh.entries(t));
    }
    expectSame(kept, fresh, 'kept vs fresh');
  });

  it('stepManyAsync = stepMany, bitwise (the same Compute), and so is every thread count', async () => {
    const sync = group();
    const async = group();
    const one = group();
    for (let t = 0; t < 8; t++) {
      stepMany(sync.entries(t));
      await stepManyAsync(async.entries(t));
      setNumThreads(1);
      stepMany(one.entries(t));
      setNumThreads(threads);
    }
    expectSame(async, sync, 'async vs sync');
    expectSame(one, sync, 'one thread vs the default');
    // And with more threads than cores.
    const many = group();
    setNumThreads(4);
    for (let t = 0; t < 8; t++) stepMany(many.entries(t));
    expectSame(many, sync, 'four threads vs the default');
  });

  it("other rules' entries in between, and a second prodigy optimizer, change nothing: groups are per optimizer", () => {
    const a = group({}, 'native', SHAPES, 1);
    const b = group({ d0: 1e-4 }, 'native', SHAPES.slice(0, 2), 2);
    const aAlone = group({}, 'native', SHAPES, 1);
    const bAlone = group({ d0: 1e-4 }, 'native', SHAPES.slice(0, 2), 2);
    const adam = createOptimizer('adam');
    const p = Matrix.randn(3, 3, 5);
    const s = adam.init(p);
    for (let t = 0; t < 8; t++) {
      const ea = a.entries(t);
      const eb = b.entries(t);
      // interleaved: a0, b0, adam, a1, b1, a2, a3
      stepMany([ea[0]!, eb[0]!, { optimizer: adam, param: p, grad: Matrix.randn(3, 3, t), state: s }, ea[1]!, eb[1]!, ea[2]!, ea[3]!]);
      stepMany(aAlone.entries(t));
      stepMany(bAlone.entries(t));
    }
    expectSame(a, aAlone, 'group a');
    expectSame(b, bAlone, 'group b');
  });

  it('the order of the entries in the call changes d only by the order of a float64 sum', () => {
    const a = group();
    const b = group();
    for (let t = 0; t < 12; t++) {
      stepMany(a.entries(t));
      stepMany(b.entries(t).reverse());
    }
    expect(Math.abs(d(a.states[0]!) - d(b.states[0]!)) / d(a.states[0]!)).toBeLessThan(1e-12);
  });

  it("clipping scales the gradients the group's sums see: = clipped gradients, stepped", () => {
    const fused = group();
    const clipped = group();
    for (let t = 0; t < 8; t++) {
      const r = stepMany(fused.entries(t), { maxGradNorm: 1 });
      expect(r.clipped).toBe(true);
      const es = clipped.entries(t);
      const scale = Math.fround(1 / (r.gradNorm! + 1e-6));
      stepMany(es.map((e) => ({ ...e, grad: new Matrix(e.grad.rows, e.grad.cols, e.grad.data.map((x) => Math.fround(x * scale))) })));
    }
    expectSame(fused, clipped, 'fused clipping vs clipped gradients');
  });

  it("a skipped entry (NaN, nonFinite 'skip') takes no part and gets the group's new d; its own state is untouched", () => {
    const g = group({ nonFinite: 'skip' });
    for (let t = 0; t < 3; t++) stepMany(g.entries(t));
    const es = g.entries(3);
    const bad = new Matrix(es[1]!.grad.rows, es[1]!.grad.cols, es[1]!.grad.data.slice());
    bad.data[2] = NaN;
    es[1] = { ...es[1]!, grad: bad };
    const before = saveState(g.states[1]!);
    const w = g.params[1]!.data.slice();
    // The same step without entry 1.
    const others = group({ nonFinite: 'skip' });
    for (let t = 0; t < 3; t++) stepMany(others.entries(t));
    const results = stepMany(es);
    stepMany(others.entries(3).filter((_, j) => j !== 1));
    expect(results.map((r) => r.skipped)).toEqual([false, true, false, false]);
    expect(Array.from(g.states[1]!.arrays.dState!)).toEqual(Array.from(g.states[0]!.arrays.dState!));
    expect(Array.from(g.states[0]!.arrays.dState!)).toEqual(Array.from(others.states[0]!.arrays.dState!));
    expect(sameBits(g.params[1]!.data, w)).toBe(true);
    const after = loadState(saveState(g.states[1]!));
    const was = loadState(before);
    expect(after.step).toBe(was.step);
    for (const name of ['s', 'p0', 'expAvg', 'expAvgSq']) expect(sameBits(after.arrays[name] as Float32Array, was.arrays[name] as Float32Array), name).toBe(true);
    // The run goes on: the next call steps all four together again.
    expect(stepMany(g.entries(4)).every((r) => !r.skipped)).toBe(true);
  });

  it('states with different copies of d (stepped in separate calls, or a new one) are refused, nothing written', () => {
    const g = group();
    stepMany(g.entries(0).slice(0, 2));
    stepMany(g.entries(1).slice(0, 2));
    const before = snapshot(g);
    expect(() => stepMany(g.entries(2))).toThrow(RangeError);
    expect(() => stepMany(g.entries(2))).toThrow(/^stepMany: entry 2 \(prodigy\): its state's group values differ from those of parameter 0, which the same optimizer steps in this call/);
    snapshot(g).forEach((x, j) => {
      expect(sameBits(x.w, before[j]!.w), `parameter ${j}`).toBe(true);
      expect(Buffer.from(x.state).equals(Buffer.from(before[j]!.state)), `state ${j}`).toBe(true);
    });
    // The reference backend refuses the same, naming the same entry.
    const r = group({}, 'reference');
    stepMany(r.entries(0).slice(0, 2));
    expect(() => stepMany(r.entries(1))).toThrow(/^stepMany: entry 2 \(prodigy\): reference optimizer: the state's group values \(d, dMax, dNumerator, k\) differ/);
  });

  it("lr 0 (a warm-up's first step) changes nothing but p0, as the reference", () => {
    for (const backend of ['native', 'reference'] as const) {
      const g = group({ lr: (c: number) => (c < 2 ? 0 : 1) }, backend, SHAPES.slice(0, 2));
      const w = g.params.map((p) => p.data.slice());
      for (let t = 0; t < 2; t++) expect(stepMany(g.entries(t)).every((r) => !r.skipped)).toBe(true);
      g.params.forEach((p, j) => expect(sameBits(p.data, w[j]!), `${backend} ${j}`).toBe(true));
      for (const s of g.states) {
        expect(s.step).toBe(2);
        expect(Array.from(s.arrays.p0!)).toEqual(Array.from(g.params[g.states.indexOf(s)]!.data));
        expect(Array.from(s.arrays.s!).every((x) => x === 0)).toBe(true);
      }
      stepMany(g.entries(2));
      expect(g.params.some((p, j) => !sameBits(p.data, w[j]!))).toBe(true);
    }
  });

  it('a resumed run (saveState / loadState of every state) continues bit for bit', () => {
    const a = group();
    for (let t = 0; t < 6; t++) stepMany(a.entries(t));
    const b = group();
    b.params.forEach((p, j) => p.data.set(a.params[j]!.data));
    b.states.splice(0, b.states.length, ...a.states.map((s) => loadState(saveState(s))));
    const opt = createOptimizer('prodigy');
    for (let t = 6; t < 12; t++) {
      stepMany(a.entries(t));
      stepMany(b.params.map((param, j) => ({ optimizer: opt, param, grad: b.grads[j]![t]!, state: b.states[j]! })));
    }
    expectSame(a, b, 'resumed');
  });

  it("the reference backend's stepMany is RefOptimizer.stepGroup on the float32 weights, rounded", () => {
    const shapes = SHAPES.slice(0, 3);
    const g = group({ weightDecay: 0.1 }, 'reference', shapes);
    const ref = referenceOptimizer('prodigy', fullHyper('prodigy', { weightDecay: 0.1 }));
    const states = shapes.map(([r, c]) => ref.init(r, c));
    for (let t = 0; t < 8; t++) {
      const items = g.params.map((p, j) => ({ w: Float64Array.from(p.data), g: Float64Array.from(g.grads[j]![t]!.data), rows: p.rows, cols: p.cols, state: states[j]! }));
      ref.stepGroup(items);
      stepMany(g.entries(t));
      items.forEach((item, j) => {
        expect(sameBits(g.params[j]!.data, Float32Array.from(item.w)), `step ${t + 1}, parameter ${j}`).toBe(true);
        expect(g.states[j]!.values).toEqual({ d: item.state.d, dMax: item.state.dMax, dNumerator: item.state.dNumerator, k: item.state.k });
      });
    }
    // opt.step is a group of one.
    const one = createOptimizer('prodigy', {}, { backend: 'reference' });
    const p = Matrix.randn(4, 5, 3);
    const s = one.init(p);
    const direct = referenceOptimizer('prodigy', fullHyper('prodigy', {}));
    const ds = direct.init(4, 5);
    for (const grad of gradients(4, 5, 6, 3, 'fixedSign')) {
      const w = Float64Array.from(p.data);
      direct.step(w, Float64Array.from(grad.data), 4, 5, ds);
      one.step(p, grad, s);
      expect(sameBits(p.data, Float32Array.from(w))).toBe(true);
    }
  });

  it('config() round-trips growthRate Infinity (JSON null)', async () => {
    const { optimizerFromConfig } = await import('../src/index.js');
    const o = createOptimizer('prodigy', { growthRate: Infinity, beta3: 0.99 });
    const json = JSON.parse(JSON.stringify(o.config()));
    expect(json.hyper.growthRate).toBeNull();
    const again = optimizerFromConfig(json);
    expect(again.hyper.growthRate).toBe(Infinity);
    expect(again.config()).toEqual(json);
    expect(optimizerFromConfig(JSON.parse(JSON.stringify(createOptimizer('prodigy', { growthRate: 1.02 }).config()))).hyper.growthRate).toBe(1.02);
  });

  it('setHyper refuses betas[0] to 0 (no first moment: another state), takes lr and weightDecay', () => {
    const o = createOptimizer('prodigy');
    expect(() => o.setHyper({ betas: [0, 0.999] })).toThrow(/^prodigy\.setHyper: betas cannot change during training/);
    o.setHyper({ lr: 0.5, weightDecay: 0.01 });
    expect(o.hyper.lr).toBe(0.5);
  });
});

describe('prodigy: the raw batch is checked again when TS is bypassed', () => {
  const addon = native.addon as unknown as Record<string, (...args: unknown[]) => unknown>;
  const id = (addon.optimizerRules() as string[]).indexOf('prodigy');
  const sgd = (addon.optimizerRules() as string[]).indexOf('sgd');
  // One 2x3 prodigy entry: header, 14 scalars (lr .. growthRate, first, group), 5 buffers.
  const scalars = (group: number, beta1 = 0.9) => [1, beta1, 0.999, Math.sqrt(0.999), 1e-8, 0, 1, 0, 0, 1e-6, 1, Infinity, 1, group];
  const entry = (group: number, beta1 = 0.9) => [id, 2, 3, 0, 0, 0, 0, 0, beta1 > 0 ? 5 : 4, 14, ...scalars(group, beta1)];
  const arrays = (beta1 = 0.9) => [new Float32Array(6).fill(1), new Float32Array(6).fill(1), new Float32Array(8), ...Array.from({ length: beta1 > 0 ? 4 : 3 }, () => new Float32Array(6))];

  it('the group must name an earlier (or the same) entry of the same rule that is its own group first', () => {
    const run = (numbers: number[], arrs: Float32Array[], count: number) => addon.optimizerStep(arrs, new Float64Array(numbers), count);
    expect(run(entry(0), arrays(), 1)).toEqual([]);
    for (const bad of [1, -1, 0.5, NaN, 2 ** 40]) {
      expect(() => run(entry(bad), arrays(), 1), String(bad)).toThrow(/^optimizer step, parameter 0: the group \(the last scalar\)/);
    }
    // Entry 1 naming entry 0 of another rule (sgd without momentum: no buffers).
    const sgdEntry = [sgd, 2, 3, 0, 0, 0, 0, 0, 0, 9, 0.5, 0, 0, 0, 0, 0, 1, 0, 0]; // cautious off (its last two)
    expect(() => run([...sgdEntry, ...entry(0)], [new Float32Array(6), new Float32Array(6), ...arrays()], 2)).toThrow(/parameter 1: the group's first entry must be of the same rule/);
    // Entry 2 naming entry 1, which is in entry 0's group.
    const three = [...entry(0), ...entry(0), ...entry(1)];
    expect(() => run(three, [...arrays(), ...arrays(), ...arrays()], 3)).toThrow(/parameter 2: the group's first entry must be of the same rule and the first of its own group/);
    // A member without the first moment the group's β₁ asks for (its own β₁ 0 fits its buffers).
    expect(() => run([...entry(0), ...entry(0, 0)], [...arrays(), ...arrays(0)], 2)).toThrow(/parameter 1: its group's hyperparameters do not fit its state buffers/);
    // A spectral decay is refused.
    const decay = entry(0);
    decay[4] = 1;
    expect(() => run(decay, arrays(), 1)).toThrow(/prodigy has no spectral decay/);
  });

  it('a kept plan re-reads the group from the new numbers', () => {
    const arrs = [...arrays(), ...arrays()];
    const numbers = new Float64Array([...entry(0), ...entry(0)]);
    const plan = addon.optimizerPlan(arrs, numbers, 2);
    expect(addon.optimizerRun(plan, numbers)).toEqual([]);
    const bad = numbers.slice();
    bad[numbers.length - 1] = 5;
    const w = arrs[0]!.slice();
    expect(() => addon.optimizerRun(plan, bad)).toThrow(/^optimizer step, parameter 1: the group \(the last scalar\)/);
    expect(sameBits(arrs[0]!, w)).toBe(true);
  });
});
