// Cautious masking (cautious: true; C-Optim as lucidrains/lion-pytorch's cautious_lion.py applies
// it) on adam, adamw, sgd with momentum, lion and ademamix, beyond the cross-checks of
// optim.test.ts and the cautious-Lion goldens:
//   1. the mask by hand on small cases: s = 1 where update·G > 0, cautiousFactor elsewhere (a zero
//      gradient or a zero update disagrees), s / max(mean(s), 1e-5);
//   2. the mean is over the whole parameter: a parameter split into parallel chunks (≥ 2¹⁶
//      entries, two threads), its halves agreeing and disagreeing, moves as the whole-mean mask
//      says, bit for bit as with one thread, and as the float64 reference;
//   3. with clipping (the factor applied as the loop reads G) and in stepMany, as separate steps;
//   4. the checks, in TS and again natively (nothing written when they fail).
import { afterEach, describe, expect, it } from 'vitest';

import { Matrix, backendInfo, clipGradNorm, createOptimizer, setNumThreads, stepMany, type RuleName } from '../src/index.js';
import { native } from '../src/native.js';
import { crossCheck, expectAgree, sameBits } from './optim-helpers.js';

type H = Record<string, unknown>;
const BACKENDS = ['native', 'reference'] as const;

describe('1. the mask by hand', () => {
  // Lion's first step from m = 0: the update is sign((1 − β₁)G) = sign(G), so every entry with
  // G ≠ 0 agrees and a zero one does not (sign 0, update·G = 0).
  it.each(BACKENDS)('lion, first step (%s): G = [1, −2, 0, 3] → mask [1, 1, f, 1] / mean', (backend) => {
    const lr = 0.01;
    for (const f of [0, 0.5]) {
      const o = createOptimizer('lion', { lr, cautious: true, cautiousFactor: f }, { backend });
      const p = Matrix.zeros(1, 4);
      o.step(p, Matrix.from(1, 4, [1, -2, 0, 3]), o.init(p));
      const scale = 1 / ((3 + f) / 4);
      const expected = [-lr * scale, lr * scale, 0, -lr * scale];
      for (let i = 0; i < 4; i++) expect(p.data[i]).toBeCloseTo(expected[i]!, 9);
    }
  });

  it.each(BACKENDS)('lion (%s): every entry disagreeing, factor 0: the mean clamps at 1e-5 and nothing moves but the decay', (backend) => {
    const o = createOptimizer('lion', { lr: 0.01, betas: [0.99, 0.99], weightDecay: 0.5, cautious: true }, { backend });
    const p = Matrix.from(1, 3, [1, 2, 3]);
    const s = o.init(p);
    o.step(p, Matrix.from(1, 3, [1, 1, 1]), s); // m = 0.01 after this step
    const before = Float64Array.from(p.data);
    // sign(0.99·0.01 − 0.01·0.5) = +1 against G = −0.5: all disagree.
    o.step(p, Matrix.from(1, 3, [-0.5, -0.5, -0.5]), s);
    for (let i = 0; i < 3; i++) expect(p.data[i]).toBeCloseTo(before[i]! * (1 - 0.01 * 0.5), 6);
  });

  it.each(BACKENDS)('adam, sgd and ademamix (%s): a first step from W = 0 by its closed form', (backend) => {
    // First step: m̂ = G and v̂ = G², so Adam's update is G/(|G| + ε) (sign(G) to ~1e-8), SGD's
    // momentum buffer is G, AdEMAMix's is (G + α(1 − β₃)G)/(|G| + ε): all agree with G except at
    // G = 0, so the mask is [1, 1, f, 1]/mean as for Lion.
    const G = [0.5, -2, 0, 3];
    const f = 0.25;
    const scale = 1 / ((3 + f) / 4);
    const cases: [RuleName, H, (g: number) => number][] = [
      ['adam', { lr: 0.01 }, (g) => -0.01 * (g / (Math.abs(g) + 1e-8))],
      ['adamw', { lr: 0.01, weightDecay: 0 }, (g) => -0.01 * (g / (Math.abs(g) + 1e-8))],
      ['sgd', { lr: 0.1, momentum: 0.9 }, (g) => -0.1 * g],
      ['ademamix', { lr: 0.01 }, (g) => -0.01 * ((g + 2 * 1e-4 * g) / (Math.abs(g) + 1e-8))],
    ];
    for (const [rule, hyper, first] of cases) {
      const o = createOptimizer(rule, { ...hyper, cautious: true, cautiousFactor: f } as never, { backend });
      const p = Matrix.zeros(1, 4);
      o.step(p, Matrix.from(1, 4, G), o.init(p));
      for (let i = 0; i < 4; i++) {
        const want = first(G[i]!) * scale;
        expect(Math.abs(p.data[i]! - want), `${rule} entry ${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-12);
      }
    }
  });
});

describe('2. the mean is over the whole parameter, whatever the chunks', () => {
  const threads = backendInfo().threads;
  afterEach(() => setNumThreads(threads));

  // 256 x 300 = 76800 entries: two chunks of 38400 with two threads. After a first step with
  // G = 1 everywhere, the second step's G is +1 on the first half and −0.05 on the second, so
  // that (Lion, β₁ = 0.9, m = 0.01) the update is +1 everywhere: the first half agrees, the second
  // does not. Whole-parameter mean 1/2: the first half moves by 2·lr, the second not at all (a
  // per-chunk mean would move the first half by lr only).
  const [rows, cols] = [256, 300];
  const n = rows * cols;
  const second = () => {
    const g = Matrix.zeros(rows, cols);
    for (let i = 0; i < n; i++) g.data[i] = i < n / 2 ? 1 : -0.05;
    return g;
  };

  it('lion: the halves of a chunked parameter move as the whole mean says, one thread or two', () => {
    const runs: Float32Array[] = [];
    for (const t of [2, 1]) {
      setNumThreads(t);
      const o = createOptimizer('lion', { lr: 0.01, cautious: true });
      const p = Matrix.zeros(rows, cols);
      const s = o.init(p);
      o.step(p, Matrix.from(rows, cols, new Float32Array(n).fill(1)), s);
      const after1 = Float64Array.from(p.data);
      o.step(p, second(), s);
      for (const i of [0, n / 2 - 1]) expect(p.data[i]! - after1[i]!).toBeCloseTo(-0.02, 7);
      for (const i of [n / 2, n - 1]) expect(p.data[i]).toBe(after1[i]);
      runs.push(p.data);
    }
    expect(sameBits(runs[0]!, runs[1]!)).toBe(true);
  });

  it.each([
    ['lion', { lr: 0.01, cautious: true, cautiousFactor: 0.2 }, 'awayFromZero'],
    ['adam', { lr: 0.01, cautious: true }, 'varied'],
    ['adamw', { lr: 0.01, weightDecay: 0.1, cautious: true, cautiousFactor: 0.5, amsgrad: true }, 'varied'],
    ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true, cautious: true }, 'varied'],
    ['ademamix', { lr: 0.01, betas: [0.9, 0.999, 0.99], cautious: true, weightDecay: 0.1 }, 'varied'],
  ] as const)('%s %j on 256x300 (two chunks): as the float64 reference, and bit for bit as one thread', (rule, hyper, mode) => {
    setNumThreads(2);
    const two = crossCheck(rule, hyper, rows, cols, { steps: 6, seed: 5, mode });
    expectAgree(two, 32, `${rule} ${JSON.stringify(hyper)} on ${rows}x${cols}`);
    const runOnce = () => {
      const o = createOptimizer(rule, hyper as never);
      const p = Matrix.randn(rows, cols, 7);
      const s = o.init(p);
      for (let t = 0; t < 4; t++) o.step(p, Matrix.randn(rows, cols, 100 + t), s);
      return p.data;
    };
    const a = runOnce();
    setNumThreads(1);
    expect(sameBits(a, runOnce())).toBe(true);
  });
});

describe('3. with clipping and in stepMany', () => {
  it.each([
    ['lion', { lr: 0.01, cautious: true, cautiousFactor: 0.1 }],
    ['adam', { lr: 0.01, cautious: true }],
    ['sgd', { lr: 0.05, momentum: 0.9, cautious: true }],
    ['ademamix', { lr: 0.01, cautious: true }],
  ] as const)('%s %j: stepMany with maxGradNorm equals clipGradNorm then separate steps, bit for bit', (rule, hyper) => {
    const shapes: [number, number][] = [[5, 6], [1, 7], [300, 300]];
    const make = () => {
      const o = createOptimizer(rule, hyper as never);
      const params = shapes.map(([r, c], k) => Matrix.randn(r, c, 20 + k));
      return { o, params, states: params.map((p) => o.init(p)) };
    };
    const fused = make(), separate = make();
    for (let t = 0; t < 5; t++) {
      const grads = shapes.map(([r, c], k) => Matrix.randn(r, c, 200 + 10 * t + k));
      const r = stepMany(fused.params.map((param, k) => ({ optimizer: fused.o, param, grad: grads[k]!, state: fused.states[k]! })), { maxGradNorm: 1 });
      expect(r.clipped).toBe(true);
      clipGradNorm(grads, 1);
      separate.params.forEach((param, k) => separate.o.step(param, grads[k]!, separate.states[k]!));
    }
    fused.params.forEach((p, k) => expect(sameBits(p.data, separate.params[k]!.data), `${rule} param ${k}`).toBe(true));
  });
});

describe('4. checks', () => {
  it.each([
    ['sgd', { cautious: true }, /^createOptimizer: sgd: cautious needs momentum > 0/],
    ['adam', { cautious: true, cautiousFactor: 1.5 }, /^createOptimizer: adam: cautiousFactor must be in \[0, 1\], got 1\.5/],
    ['lion', { cautiousFactor: -0.1 }, /^createOptimizer: lion: cautiousFactor must be in \[0, 1\], got -0\.1/],
    ['lion', { betas: [1.1, 0.99] }, /^createOptimizer: lion: betas\[0\] must be in \[0, 1\], got 1\.1/],
    ['ademamix', { betas: [0.9, 0.999, 1] }, /^createOptimizer: ademamix: betas\[2\] must be in \[0, 1\), got 1/],
    ['ademamix', { beta3Warmup: 2.5 }, /^createOptimizer: ademamix: beta3Warmup must be an integer >= 0, got 2\.5/],
    ['ademamix', { alphaWarmup: -1 }, /^createOptimizer: ademamix: alphaWarmup must be an integer >= 0, got -1/],
    ['ademamix', { alpha: -1 }, /^createOptimizer: ademamix: alpha must be in \[0, Infinity\), got -1/],
    ['ademamix', { eps: 0 }, /^createOptimizer: ademamix: eps must be in \(0, Infinity\), got 0/],
  ] as [RuleName, H, RegExp][])('%s %j: RangeError', (rule, hyper, message) => {
    expect(() => createOptimizer(rule, hyper as never)).toThrow(RangeError);
    expect(() => createOptimizer(rule, hyper as never)).toThrow(message);
  });

  it('ademamix betas must be three numbers; cautious must be a boolean', () => {
    expect(() => createOptimizer('ademamix', { betas: [0.9, 0.999] as never })).toThrow(/^createOptimizer: ademamix: betas must be \[β₁, β₂, β₃\] \(three numbers\)/);
    expect(() => createOptimizer('adam', { cautious: 1 as never })).toThrow(/^createOptimizer: adam: cautious must be a boolean, got number/);
    expect(() => createOptimizer('ademamix', { beta3Warmup: '5' as never })).toThrow(TypeError);
  });

  it('betas[0] schedules through a warm-up: ademamix recomputes β₃ from the scheduled β₁ each step', () => {
    // β₁ = 0.5 throughout as a schedule equals β₁ = 0.5 as a number, bit for bit.
    const a = createOptimizer('ademamix', { lr: 0.01, betas: [() => 0.5, 0.999, 0.99], beta3Warmup: 6 } as never);
    const b = createOptimizer('ademamix', { lr: 0.01, betas: [0.5, 0.999, 0.99], beta3Warmup: 6 });
    const pa = Matrix.randn(3, 4, 1), pb = Matrix.randn(3, 4, 1);
    const sa = a.init(pa), sb = b.init(pb);
    for (let t = 0; t < 8; t++) {
      const g = Matrix.randn(3, 4, 50 + t);
      a.step(pa, g, sa);
      b.step(pb, g, sb);
    }
    expect(sameBits(pa.data, pb.data)).toBe(true);
  });

  it('natively too, before anything is written: the flag, the factor, sgd without momentum', () => {
    const addon = native.addon;
    const sgd = (addon.optimizerRules() as string[]).indexOf('sgd');
    const lion = (addon.optimizerRules() as string[]).indexOf('lion');
    // [rule, rows, cols, penalty, spectralDecay, spectralIters, hasWarm, skipNonFinite, bufferCount, scalarCount, ...scalars]
    const sgdNumbers = (momentum: number, cautious: number, factor: number) =>
      new Float64Array([sgd, 1, 3, 0, 0, 0, 0, 0, momentum > 0 ? 1 : 0, 9, 0.5, momentum, 0, 0, 0, 0, 1, cautious, factor]);
    const lionNumbers = (cautious: number, factor: number) => new Float64Array([lion, 1, 3, 0, 0, 0, 0, 0, 1, 6, 0.1, 0.9, 0.99, 0, cautious, factor]);
    const w = new Float32Array([1, 2, 3]);
    const g = new Float32Array([1, -1, 1]);
    const m = new Float32Array(3);
    expect(() => addon.optimizerStep([w, g], sgdNumbers(0, 1, 0), 1)).toThrow(/parameter 0: sgd: cautious needs momentum > 0/);
    expect(() => addon.optimizerStep([w, g, m], sgdNumbers(0.9, 2, 0), 1)).toThrow(/parameter 0: sgd: cautious must be 0 or 1/);
    expect(() => addon.optimizerStep([w, g, m], lionNumbers(1, 1.5), 1)).toThrow(/parameter 0: lion: cautiousFactor must be in \[0, 1\]/);
    expect(() => addon.optimizerStep([w, g, m], lionNumbers(1, NaN), 1)).toThrow(/parameter 0: lion: cautiousFactor must be in \[0, 1\]/);
    expect(Array.from(w)).toEqual([1, 2, 3]);
    expect(Array.from(m)).toEqual([0, 0, 0]);
    // And a good one runs: Lion's first step, all agreeing: W − lr·sign(G).
    expect(addon.optimizerStep([w, g, m], lionNumbers(1, 0), 1)).toEqual([]);
    expect(Array.from(w)).toEqual([Math.fround(0.9), Math.fround(2.1), Math.fround(2.9)]);
  });
});
