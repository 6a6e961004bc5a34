// stepMany's fused gradient clipping ({ maxGradNorm, normType }) and stepManyAsync: the same
// updates as clipGradNorm followed by stepMany, and as stepMany itself, with the conflict and
// buffer-lifetime rules of an async step.
import { describe, expect, it } from 'vitest';

import {
  Matrix,
  clipGradNorm,
  createOptimizer,
  gradNorm,
  saveState,
  schedules,
  stepMany,
  stepManyAsync,
  type Backend,
  type Optimizer,
  type OptimizerState,
  type RuleName,
  type StepEntry,
} from '../src/index.js';
import { gradients, sameBits } from './optim-helpers.js';

type H = Record<string, unknown>;

/** Mixed shapes; gradient k = 1 is tiny and k = 3 huge, so the total is dominated by one. */
const SHAPES: [number, number][] = [
  [6, 5],
  [1, 7],
  [9, 1],
  [300, 300],
  [4, 4],
];
const SCALES = [1, 1e-6, 1, 1e3, 1];

/** The reference backend is float64 TypeScript: its runs use 30x30 for the 300x300 parameter. */
const shapesFor = (backend: Backend): [number, number][] => (backend === 'native' ? SHAPES : SHAPES.map(([r, c]) => (r === 300 ? [30, 30] : [r, c])));

function setup(rule: RuleName, hyper: H, backend: Backend = 'native', alloc: (r: number, c: number) => Matrix = Matrix.zeros) {
  const opt = createOptimizer(rule, hyper as never, { backend });
  const params = shapesFor(backend).map(([r, c], k) => {
    const m = alloc(r, c);
    m.data.set(Matrix.randn(r, c, 10 + k).data);
    return m;
  });
  const states = params.map((p) => opt.init(p));
  return { opt, params, states };
}

function gradsAt(t: number, backend: Backend = 'native'): Matrix[] {
  return shapesFor(backend).map(([r, c], k) => {
    const alloc = Matrix.zeros;
    const g = alloc(r, c);
    const src = gradients(r, c, 1, 100 * t + k)[0];
    for (let i = 0; i < g.data.length; i++) g.data[i] = src.data[i] * SCALES[k];
    return g;
  });
}

const entriesOf = (opt: Optimizer, params: Matrix[], grads: Matrix[], states: OptimizerState[]): StepEntry[] =>
  params.map((param, k) => ({ optimizer: opt, param, grad: grads[k], state: states[k] }));

const RULES: [RuleName, H][] = [
  ['adamw', { lr: schedules.warmupCosine({ peak: 1e-2, warmupSteps: 3, totalSteps: 20 }) }],
  ['sgd', { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }],
  ['rmsprop', {}],
  ['adagrad', {}],
  ['signsgd', { momentum: 0.9 }],
  ['muon', { momentum: schedules.linear({ from: 0.85, to: 0.95, steps: 10 }) }],
  ['adafactor', {}],
  ['soap', { preconditionFrequency: 3 }],
  ['adam-mini', {}],
  ['sphere-sgd', {}],
  ['adamw', { weightDecayNorm: 'spectral', spectralPenalty: 1e-3 }],
  // A group (one optimizer for all the parameters): the clipped gradients feed its sums too; the
  // warm-up's first lr is 0 (a step that changes nothing but p0).
  ['prodigy', { lr: schedules.warmupCosine({ peak: 1, warmupSteps: 3, totalSteps: 20 }), d0: 1e-3 }],
  // Entry-wise with a once-per-entry Prepare (their running weight sums) before the chunks of the
  // 300×300 parameter.
  ['schedule-free-adamw', { warmupSteps: 3, weightDecay: 0.01 }],
  ['schedule-free-sgd', { lr: 0.05, weightDecay: 0.01 }],
  // Entry-wise with whole-parameter sums (the trust ratio's norms, the mask's) before the chunks write.
  ['lamb', { weightDecay: 0.01 }],
  ['lamb', { cautious: true, cautiousFactor: 0.5 }],
];

describe('stepMany({ maxGradNorm }): clipping fused into the step', () => {
  for (const [rule, hyper] of RULES) {
    // (The reference soap's float64 Jacobi eigh makes its runs slow; the native one is the product.)
    for (const backend of (rule === 'soap' ? ['native'] : ['native', 'reference']) as Backend[]) {
      for (const normType of [2, Infinity]) {
        it(`${rule} ${JSON.stringify(hyper)} (${backend}, normType ${normType}): equals clipGradNorm then stepMany over 12 steps; the caller's gradients untouched`, () => {
          const fused = setup(rule, hyper, backend);
          const separate = setup(rule, hyper, backend);
          let clippedSteps = 0;
          for (let t = 0; t < 12; t++) {
            const g = gradsAt(t, backend);
            const before = g.map((m) => m.data.slice());
            const maxGradNorm = t % 4 === 3 ? 1e6 : 2; // some steps are not clipped
            const results = stepMany(entriesOf(fused.opt, fused.params, g, fused.states), { maxGradNorm, normType });
            g.forEach((m, k) => expect(sameBits(m.data, before[k])).toBe(true));
            const norm = gradNorm(g, { normType });
            expect(Math.abs(results.gradNorm! - norm)).toBeLessThanOrEqual(1e-12 * norm);
            expect(results.clipped).toBe(maxGradNorm / (norm + 1e-6) < 1);
            if (results.clipped) clippedSteps++;
            expect(clipGradNorm(g, maxGradNorm, { normType })).toBe(norm);
            stepMany(entriesOf(separate.opt, separate.params, g, separate.states));
          }
          expect(clippedSteps).toBeGreaterThanOrEqual(6);
          // Float32 rounding: the factor is the same float32 number either way (it is here,
          // and then every product is too); allow for the last bit of the norm's double sum.
          // Relative to each entry, but to no less than 1% of the parameter's largest: the fused
          // loop rounds g·scale + λw in one FMA where the separate path rounds g·scale first,
          // and an entry that cancels to near zero (0.054 in a parameter reaching 739, seen on
          // an AVX-512 Xeon) turns those last bits into a large relative difference.
          fused.params.forEach((p, k) => {
            const q = separate.params[k].data;
            const floor = 1e-2 * q.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
            let worst = 0;
            for (let i = 0; i < q.length; i++) worst = Math.max(worst, Math.abs(p.data[i] - q[i]) / Math.max(1e-30, floor, Math.abs(q[i])));
            expect(worst, `${rule} param ${k}`).toBeLessThanOrEqual(1e-5);
          });
        });
      }
    }
  }

  it('a batch mixing native and reference entries gets one factor from all of them', () => {
    const nat = createOptimizer('adamw');
    const ref = createOptimizer('adamw', {}, { backend: 'reference' });
    const a = Matrix.randn(4, 4, 1), b = Matrix.randn(4, 4, 1);
    const ga = Matrix.randn(4, 4, 2), gb = Matrix.randn(4, 4, 3);
    gb.data.forEach((v, i) => (gb.data[i] = v * 100));
    const r = stepMany(
      [
        { optimizer: nat, param: a, grad: ga, state: nat.init(a) },
        { optimizer: ref, param: b, grad: gb, state: ref.init(b) },
      ],
      { maxGradNorm: 1 },
    );
    expect(r.gradNorm).toBeCloseTo(gradNorm([ga, gb]), 10);
    expect(r.clipped).toBe(true);
    // The native entry took the factor of the total: as one native step on the clipped gradient.
    const a2 = Matrix.randn(4, 4, 1);
    const ga2 = Matrix.from(4, 4, ga.data);
    const gb2 = Matrix.from(4, 4, gb.data);
    clipGradNorm([ga2, gb2], 1);
    const o2 = createOptimizer('adamw');
    o2.step(a2, ga2, o2.init(a2));
    expect(sameBits(a.data, a2.data)).toBe(true);
  });

  it("entries skipped for a non-finite gradient count for nothing; with nonFinite 'throw' nothing is written", () => {
    const opt = createOptimizer('sgd', { lr: 1, nonFinite: 'skip' });
    const a = Matrix.from(1, 2, [0, 0]), b = Matrix.from(1, 1, [0]);
    const r = stepMany(
      [
        { optimizer: opt, param: a, grad: Matrix.from(1, 2, [3, 4]), state: opt.init(a) },
        { optimizer: opt, param: b, grad: Matrix.from(1, 1, [NaN]), state: opt.init(b) },
      ],
      { maxGradNorm: 1 },
    );
    expect(r.gradNorm).toBe(5);
    expect(r[1].skipped).toBe(true);
    expect(a.data[0]).toBeCloseTo(-0.6, 6);
    expect(b.data[0]).toBe(0);
    const strict = createOptimizer('sgd', { lr: 1 });
    const c = Matrix.from(1, 2, [1, 1]);
    const sc = strict.init(c);
    expect(() => stepMany([{ optimizer: strict, param: c, grad: Matrix.from(1, 2, [Infinity, 1]), state: sc }], { maxGradNorm: 1 })).toThrow(
      /^stepMany: entry 0 \(sgd\): the gradient contains NaN or Infinity; nothing was changed/,
    );
    expect(Array.from(c.data)).toEqual([1, 1]);
    expect(sc.step).toBe(0);
  });

  it('a kept batch (the same entries array every step) clips by each step\'s own norm', () => {
    const opt = createOptimizer('sgd', { lr: 1 });
    const p = Matrix.from(1, 1, [0]);
    const g = Matrix.from(1, 1, [0]);
    const entries = [{ optimizer: opt, param: p, grad: g, state: opt.init(p) }];
    const norms: number[] = [];
    for (const v of [10, 0.5, -4]) {
      g.data[0] = v;
      const before = p.data[0];
      const r = stepMany(entries, { maxGradNorm: 1 });
      norms.push(r.gradNorm!);
      expect(before - p.data[0]).toBeCloseTo(Math.sign(v) * Math.min(Math.abs(v), 1 / (1 + 1e-6 / Math.abs(v))), 5);
    }
    expect(norms).toEqual([10, 0.5, 4]);
    expect(stepMany(entries).gradNorm).toBeUndefined();
  });

  it('bad options are clear errors and change nothing', () => {
    const opt = createOptimizer('sgd');
    const p = Matrix.from(1, 1, [1]);
    const e = [{ optimizer: opt, param: p, grad: Matrix.from(1, 1, [1]), state: opt.init(p) }];
    expect(() => stepMany(e, { maxGradNorm: 0 })).toThrow(new RangeError('stepMany: options.maxGradNorm must be > 0, got 0'));
    expect(() => stepMany(e, { maxGradNorm: -1 })).toThrow(RangeError);
    expect(() => stepMany(e, { maxGradNorm: NaN })).toThrow(new RangeError('stepMany: options.maxGradNorm must be finite, got NaN'));
    expect(() => stepMany(e, { maxGradNorm: '1' as never })).toThrow(new TypeError("stepMany: options.maxGradNorm must be a number, got string 1"));
    expect(() => stepMany(e, { maxGradNorm: 1, normType: 1 })).toThrow(new RangeError('stepMany: options.normType must be 2 or Infinity, got number 1'));
    expect(() => stepMany(e, { normType: 2 })).toThrow(new TypeError('stepMany: options.normType needs options.maxGradNorm'));
    expect(() => stepMany(e, { maxNorm: 1 } as never)).toThrow(/^stepMany: options: unknown option 'maxNorm'/);
    expect(() => stepMany(e, 3 as never)).toThrow(/^stepMany: options must be an options object/);
    expect(p.data[0]).toBe(1);
    expect(e[0].state.step).toBe(0);
  });
});

describe('stepManyAsync', () => {
  const shared = (r: number, c: number) => Matrix.shared(r, c);
  for (const [label, alloc] of [
    ['SharedArrayBuffers (in place)', shared],
    ['ordinary ArrayBuffers (copied)', Matrix.zeros],
  ] as const) {
    it(`on ${label}: the same bits as stepMany over 15 steps of adamw + muon + soap, with clipping and schedules`, async () => {
      const make = () => {
        const rules = [createOptimizer('adamw', { lr: schedules.cosine({ from: 1e-2, steps: 15 }) }), createOptimizer('muon'), createOptimizer('soap', { preconditionFrequency: 4 })];
        const params = SHAPES.map(([r, c], k) => {
          const m = alloc(r, c);
          m.data.set(Matrix.randn(r, c, k + 1).data);
          return m;
        });
        const opts = params.map((p, k) => (p.rows > 1 && p.cols > 1 ? rules[1 + (k % 2)] : rules[0]));
        const states = params.map((p, k) => opts[k].init(p));
        return { params, opts, states };
      };
      const a = make(), b = make();
      if (alloc === shared) expect(a.states[0].arrays.expAvg?.buffer ?? a.states[0].arrays.momentumBuffer.buffer).toBeInstanceOf(SharedArrayBuffer);
      const g = SHAPES.map(([r, c]) => alloc(r, c));
      const entriesA = a.params.map((param, k) => ({ optimizer: a.opts[k], param, grad: g[k], state: a.states[k] }));
      for (let t = 0; t < 15; t++) {
        gradsAt(t).forEach((m, k) => g[k].data.set(m.data));
        const options = t % 2 ? { maxGradNorm: 5 } : undefined;
        const ra = await stepManyAsync(entriesA, options);
        const rb = stepMany(b.params.map((param, k) => ({ optimizer: b.opts[k], param, grad: g[k], state: b.states[k] })), options);
        expect(ra.map((r) => r.skipped)).toEqual(rb.map((r) => r.skipped));
        expect(ra.gradNorm).toBe(rb.gradNorm);
        expect(ra.clipped).toBe(rb.clipped);
      }
      a.params.forEach((p, k) => expect(sameBits(p.data, b.params[k].data), `param ${k}`).toBe(true));
      a.states.forEach((s, k) => {
        expect(s.step).toBe(15);
        for (const [name, arr] of Object.entries(s.arrays)) expect(sameBits(arr as Float32Array, b.states[k].arrays[name] as Float32Array), `${k} ${name}`).toBe(true);
      });
    });
  }

  it('while a call is in flight its memory and states belong to it: other steps and saveState are refused', async () => {
    const opt = createOptimizer('muon');
    const p = Matrix.shared(256, 256);
    p.data.set(Matrix.randn(256, 256, 1).data);
    const g = Matrix.randn(256, 256, 2);
    const state = opt.init(p);
    const pending = stepManyAsync([{ optimizer: opt, param: p, grad: g, state }]);
    expect(() => stepMany([{ optimizer: opt, param: p, grad: g, state }])).toThrow(
      new Error('stepMany: entry 0 (muon): its state is in use by a stepManyAsync call in flight; await that call first'),
    );
    // Another state over the same parameter memory (a view of it): refused by memory, not by object.
    const view = new Matrix(256, 256, new Float32Array(p.data.buffer));
    expect(() => opt.step(view, g, opt.init(view))).toThrow(/^muon\.step: the memory of its param is in use by a stepManyAsync call in flight/);
    const other = Matrix.randn(256, 256, 3);
    const otherState = opt.init(other);
    // The gradient is in use too (read by the step).
    expect(() => opt.step(other, g, otherState)).toThrow(/the memory of its grad is in use/);
    await expect(stepManyAsync([{ optimizer: opt, param: p, grad: g, state }])).rejects.toThrow(/^stepManyAsync: entry 0 \(muon\): its state is in use/);
    expect(() => saveState(state)).toThrow(/^saveState: the state is in use by a stepManyAsync call in flight/);
    const results = await pending;
    expect(results[0].skipped).toBe(false);
    expect(state.step).toBe(1);
    // Settled: everything is free again.
    opt.step(p, g, state);
    saveState(state);
    expect(state.step).toBe(2);
  });

  it('a failed call (non-finite gradient, bad options, reference entry) rejects, frees its buffers and changes nothing', async () => {
    const opt = createOptimizer('adamw');
    const p = Matrix.shared(8, 8);
    p.data.fill(1);
    const state = opt.init(p);
    const bad = Matrix.zeros(8, 8);
    bad.data[5] = NaN;
    await expect(stepManyAsync([{ optimizer: opt, param: p, grad: bad, state }])).rejects.toThrow(
      new RangeError('stepManyAsync: entry 0 (adamw): the gradient contains NaN or Infinity; nothing was changed'),
    );
    expect(p.data.every((v) => v === 1)).toBe(true);
    expect(state.step).toBe(0);
    await expect(stepManyAsync([{ optimizer: opt, param: p, grad: bad, state }], { maxGradNorm: 0 })).rejects.toThrow(
      new RangeError('stepManyAsync: options.maxGradNorm must be > 0, got 0'),
    );
    const ref = createOptimizer('adamw', {}, { backend: 'reference' });
    const q = Matrix.zeros(2, 2);
    await expect(stepManyAsync([{ optimizer: ref, param: q, grad: Matrix.zeros(2, 2), state: ref.init(q) }])).rejects.toThrow(
      /^stepManyAsync: entry 0 \(adamw\): the reference backend runs in JavaScript/,
    );
    await expect(stepManyAsync(null as never)).rejects.toThrow(new TypeError('stepManyAsync: entries must be an array, got null'));
    // Nothing is held by the failed calls.
    opt.step(p, Matrix.zeros(8, 8), state);
    expect(state.step).toBe(1);
  });

  it('an ordinary ArrayBuffer detached while the step runs: the promise rejects and nothing is written', async () => {
    const opt = createOptimizer('muon');
    const p = Matrix.randn(512, 512, 1);
    const q = Matrix.randn(512, 512, 2);
    const g = Matrix.randn(512, 512, 3);
    const sp = opt.init(p), sq = opt.init(q);
    const qBefore = q.data.slice(), qMomentum = (sq.arrays.momentumBuffer as Float32Array).slice();
    const pending = stepManyAsync([
      { optimizer: opt, param: q, grad: g, state: sq },
      { optimizer: opt, param: p, grad: g, state: sp },
    ]);
    // Transfer p's memory away (detaching p.data) while the job runs; also the gradient's.
    const moved = structuredClone(p.data.buffer, { transfer: [p.data.buffer] });
    structuredClone(g.data.buffer, { transfer: [g.data.buffer] });
    expect(p.data.length).toBe(0);
    await expect(pending).rejects.toThrow(/^stepManyAsync: a parameter or state buffer was detached or resized while the step ran; nothing was written$/);
    expect(sameBits(q.data, qBefore)).toBe(true);
    expect(sameBits(sq.arrays.momentumBuffer as Float32Array, qMomentum)).toBe(true);
    expect(sq.step).toBe(0);
    expect(new Float32Array(moved).length).toBe(512 * 512);
  });

  it('a gradient detached after the call does not matter (it was copied); the step completes', async () => {
    const opt = createOptimizer('adamw');
    const p = Matrix.shared(64, 64);
    const g = Matrix.randn(64, 64, 1);
    const expected = Matrix.shared(64, 64);
    const o2 = createOptimizer('adamw');
    o2.step(expected, g, o2.init(expected));
    const state = opt.init(p);
    const pending = stepManyAsync([{ optimizer: opt, param: p, grad: g, state }]);
    structuredClone(g.data.buffer, { transfer: [g.data.buffer] });
    await pending;
    expect(sameBits(p.data, expected.data)).toBe(true);
  });

  it('calls queue in order and each resolves to its own results', async () => {
    const opt = createOptimizer('sgd', { lr: 1 });
    const ps = [0, 1, 2].map(() => Matrix.shared(1, 1));
    const pending = ps.map((p, k) => stepManyAsync([{ optimizer: opt, param: p, grad: Matrix.from(1, 1, [k + 1]), state: opt.init(p) }], { maxGradNorm: 10 }));
    const results = await Promise.all(pending);
    expect(results.map((r) => r.gradNorm)).toEqual([1, 2, 3]);
    expect(ps.map((p) => p.data[0])).toEqual([-1, -2, -3]);
  });
});
