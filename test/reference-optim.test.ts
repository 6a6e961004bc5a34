// Pins down the float64 reference optimizers (src/reference/optim) against the formulas of
// ALGORITHMS.md, independently of the code: expected numbers are written out by hand from the
// formulas (arithmetic left as expressions), or come from properties every correct
// implementation must have (reductions between rules, invariants, exact decay factors).

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { COMMON, DEFAULTS } from '../src/optim/defaults.js';
import { rank1, readSpectral, referenceOptimizer, type RefState } from '../src/reference/optim/index.js';
import { rng } from './reference-helpers.js';

const NUM_RUNS = Number(process.env.SPECOPT_REF_RUNS ?? 50);

// ---------------------------------------------------------------- helpers

type Name = keyof typeof DEFAULTS;

/** A complete hyper object: the rule's defaults, the common options, then overrides. */
function hyper(name: Name, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...DEFAULTS[name], ...COMMON, ...over };
}

/** Runs the rule over the gradients in turn; returns the final w and state. */
function run(
  name: Name,
  over: Record<string, unknown>,
  w0: ArrayLike<number>,
  grads: ArrayLike<number>[],
  rows: number,
  cols: number,
): { w: Float64Array; state: RefState } {
  const opt = referenceOptimizer(name, hyper(name, over));
  const state = opt.init(rows, cols);
  const w = Float64Array.from(w0);
  for (const g of grads) opt.step(w, Float64Array.from(g), rows, cols, state);
  return { w, state };
}

/** |a_i − b_i| ≤ tol·max(1, |b_i|) for every i. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    expect(d, `entry ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  }
}

const sub = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (x, i) => x - b[i]!);
const scale = (a: ArrayLike<number>, s: number) => Array.from(a, (x) => x * s);
const norm2 = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);
const sgn = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

const randomArray = (n: number, rand: () => number) => Array.from({ length: n }, () => 2 * rand() - 1);

// ---------------------------------------------------------------- arbitraries

const arbEntry = fc.double({ min: -10, max: 10, noNaN: true });
/** [rows, cols, w, g] with rows, cols in [1, 5]. */
const arbProblem = fc
  .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }))
  .chain(([r, c]) =>
    fc.tuple(
      fc.constant(r),
      fc.constant(c),
      fc.array(arbEntry, { minLength: r * c, maxLength: r * c }),
      fc.array(arbEntry, { minLength: r * c, maxLength: r * c }),
    ),
  );

// ---------------------------------------------------------------- common machinery

const ALL: Name[] = ['sgd', 'signsgd', 'pbsgd', 'adagrad', 'rmsprop', 'adam', 'adamw', 'adafactor', 'adam-mini', 'sphere-sgd'];

describe('common machinery', () => {
  it('every rule accepts its complete hyper object, counts steps and never modifies g', () => {
    for (const name of ALL) {
      const opt = referenceOptimizer(name, hyper(name, { spectralPenalty: 0.3, ...(name === 'adam' ? { weightDecay: 0.1 } : {}) }));
      const state = opt.init(2, 3);
      expect(state.step).toBe(0);
      const w = Float64Array.from([1, -2, 3, 0.5, 0.25, -1]);
      const g = Float64Array.from([0.1, 0.2, -0.3, 0.4, -0.5, 0.6]);
      const gCopy = Float64Array.from(g);
      opt.step(w, g, 2, 3, state);
      opt.step(w, g, 2, 3, state);
      expect(state.step, name).toBe(2);
      expect(Array.from(g), name).toEqual(Array.from(gCopy));
      expect(w.every(Number.isFinite), name).toBe(true);
    }
  });

  it('unknown rule names throw', () => {
    expect(() => referenceOptimizer('no-such-rule', {})).toThrow(RangeError);
  });

  it("nonFinite 'throw' throws and changes nothing; 'skip' skips without counting the step", () => {
    for (const mode of ['throw', 'skip'] as const) {
      const opt = referenceOptimizer('adam', hyper('adam', { nonFinite: mode }));
      const state = opt.init(1, 2);
      const w = Float64Array.from([1, 2]);
      const step = () => opt.step(w, Float64Array.from([NaN, 1]), 1, 2, state);
      if (mode === 'throw') expect(step).toThrow(RangeError);
      else step();
      expect(Array.from(w)).toEqual([1, 2]);
      expect(state.step).toBe(0);
      expect(Array.from(state.m as Float64Array)).toEqual([0, 0]);
    }
  });
});

// ---------------------------------------------------------------- sgd

describe('sgd', () => {
  const W = [1, 2, 3, 4];
  const G = [0.5, -1, 2, 0];

  it('plain step: W − lr·G (hand example and property)', () => {
    expectClose(run('sgd', { lr: 0.1 }, W, [G], 2, 2).w, [0.95, 2.1, 2.8, 4]);
    fc.assert(
      fc.property(arbProblem, fc.double({ min: 0, max: 1, noNaN: true }), ([r, c, w, g], lr) => {
        expectClose(run('sgd', { lr }, w, [g], r, c).w, w.map((wi, i) => wi - lr * g[i]!));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('L2 weight decay: G + λW', () => {
    // G + 0.1W = [0.6, -0.8, 2.3, 0.4]
    expectClose(run('sgd', { lr: 0.1, weightDecay: 0.1 }, W, [G], 2, 2).w, [0.94, 2.08, 2.77, 3.96]);
  });

  it('decoupled weight decay: W(1 − lr·λ) − lr·G', () => {
    const out = run('sgd', { lr: 0.1, weightDecay: 0.1, decoupledWeightDecay: true }, W, [G], 2, 2).w;
    expectClose(out, W.map((wi, i) => 0.99 * wi - 0.1 * G[i]!));
  });

  it('momentum: b₁ = G, b₂ = μb₁ + (1 − dampening)G; nesterov uses G + μb', () => {
    // plain momentum 0.9, two equal gradients: b₁ = G, b₂ = 1.9G → total −0.1·2.9·G
    expectClose(run('sgd', { lr: 0.1, momentum: 0.9 }, W, [G, G], 2, 2).w, W.map((wi, i) => wi - 0.29 * G[i]!));
    // dampening 0.5: b₁ = G (no dampening on the first step), b₂ = 0.9G + 0.5G = 1.4G → −0.24G
    expectClose(
      run('sgd', { lr: 0.1, momentum: 0.9, dampening: 0.5 }, W, [G, G], 2, 2).w,
      W.map((wi, i) => wi - 0.24 * G[i]!),
    );
    // nesterov: d₁ = G + 0.9G = 1.9G, d₂ = G + 0.9·1.9G = 2.71G → −0.461G
    expectClose(
      run('sgd', { lr: 0.1, momentum: 0.9, nesterov: true }, W, [G, G], 2, 2).w,
      W.map((wi, i) => wi - 0.461 * G[i]!),
    );
  });

  it('nesterov without momentum is rejected (as in PyTorch)', () => {
    expect(() => referenceOptimizer('sgd', hyper('sgd', { nesterov: true }))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------- signsgd

describe('signsgd', () => {
  it('SignSGD: W − lr·sign(G), sign(0) = 0', () => {
    expectClose(run('signsgd', { lr: 0.1 }, [1, 2, 3, 4], [[0.5, -2, 0, 3]], 1, 4).w, [0.9, 2.1, 3, 3.9]);
  });

  it('Signum: m ← μm + (1 − μ)G from m = 0, step −lr·sign(m)', () => {
    // m₁ = 0.5·G₁ → signs [1, -1, 0, 1]; m₂ = 0.25·G₁ + 0.5·G₂ = [-0.375, 0, 0.5, 0.25]
    const out = run('signsgd', { lr: 0.1, momentum: 0.5 }, [1, 2, 3, 4], [[0.5, -2, 0, 3], [-1, 1, 1, -1]], 1, 4);
    expectClose(out.w, [1.0, 2.1, 2.9, 3.8]);
    expectClose(out.state.m as Float64Array, [-0.375, 0, 0.5, 0.25]);
  });

  it('decoupled decay: W(1 − lr·λ) − lr·sign(G)', () => {
    expectClose(run('signsgd', { lr: 0.1, weightDecay: 0.5 }, [2, -4], [[1, 1]], 1, 2).w, [2 * 0.95 - 0.1, -4 * 0.95 - 0.1]);
  });
});

// ---------------------------------------------------------------- pbsgd

describe('pbsgd', () => {
  it('d = sign(G)|G|^γ (hand example, γ = 1/2)', () => {
    // d = [2, -3, 0, 1]
    expectClose(run('pbsgd', { lr: 0.1, gamma: 0.5 }, [0, 0, 0, 0], [[4, -9, 0, 1]], 2, 2).w, [-0.2, 0.3, 0, -0.1]);
  });

  it('normalize divides by ‖d‖_p with p = 1 + 1/γ (hand example: p = 3)', () => {
    const n = Math.cbrt(8 + 27 + 0 + 1);
    expectClose(
      run('pbsgd', { lr: 0.1, gamma: 0.5, normalize: true }, [0, 0, 0, 0], [[4, -9, 0, 1]], 2, 2).w,
      [-0.2 / n, 0.3 / n, 0, -0.1 / n],
    );
  });

  it('normalize gives ‖d‖_p = 1 (property), and a zero gradient gives no step', () => {
    fc.assert(
      fc.property(arbProblem, fc.double({ min: 0.1, max: 1, noNaN: true }), ([r, c, , g0], gamma) => {
        // no subnormal gradients: d_i/‖d‖_p may underflow to 0 there
        const g = g0.map((x) => (Math.abs(x) < 1e-3 ? 0 : x));
        fc.pre(g.some((x) => x !== 0));
        const out = run('pbsgd', { lr: 1, gamma, normalize: true }, new Array(r * c).fill(0), [g], r, c).w;
        const p = 1 + 1 / gamma;
        const m = Math.max(...Array.from(out, Math.abs));
        const pn = m * Math.pow(Array.from(out).reduce((s, x) => s + Math.pow(Math.abs(x) / m, p), 0), 1 / p);
        expect(Math.abs(pn - 1)).toBeLessThan(1e-12);
        out.forEach((x, i) => expect(sgn(x) + sgn(g[i]!)).toBe(0));
      }),
      { numRuns: NUM_RUNS },
    );
    expectClose(run('pbsgd', { lr: 1, normalize: true }, [1, 2], [[0, 0]], 1, 2).w, [1, 2]);
  });

  it('γ = 1 without normalize equals sgd (property, with momentum and decoupled decay)', () => {
    fc.assert(
      fc.property(arbProblem, ([r, c, w, g]) => {
        const g2 = g.map((x) => -0.5 * x + 1);
        const pb = run('pbsgd', { lr: 0.1, gamma: 1, momentum: 0.9, weightDecay: 0.2 }, w, [g, g2], r, c).w;
        const sg = run('sgd', { lr: 0.1, momentum: 0.9, weightDecay: 0.2, decoupledWeightDecay: true }, w, [g, g2], r, c).w;
        expectClose(pb, sg);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('momentum: b ← μb + d from b = 0', () => {
    // d = [2, -3]; b₁ = d, b₂ = 1.5d → total −0.1·2.5·d
    expectClose(run('pbsgd', { lr: 0.1, gamma: 0.5, momentum: 0.5 }, [0, 0], [[4, -9], [4, -9]], 1, 2).w, [-0.5, 0.75]);
  });
});

// ---------------------------------------------------------------- adagrad

describe('adagrad', () => {
  it('first step is −lr·G/(|G| + ε) ≈ −lr·sign(G)', () => {
    const out = run('adagrad', { lr: 0.1 }, [1, 1], [[3, -4]], 1, 2).w;
    expectClose(out, [1 - 0.1 * (3 / (3 + 1e-10)), 1 + 0.1 * (4 / (4 + 1e-10))]);
    expectClose(out, [0.9, 1.1], 1e-9);
  });

  it('lr decay lr/(1 + (t − 1)·lrDecay) and the accumulated sum', () => {
    // S₂ = 2G², lr₂ = 0.1/1.5 → |ΔW| = 0.1 + (0.1/1.5)/√2 (up to ε)
    const out = run('adagrad', { lr: 0.1, lrDecay: 0.5 }, [0, 0], [[3, -4], [3, -4]], 1, 2);
    const total0 = 0.1 * (3 / (3 + 1e-10)) + (0.1 / 1.5) * (3 / (Math.sqrt(18) + 1e-10));
    const total1 = 0.1 * (4 / (4 + 1e-10)) + (0.1 / 1.5) * (4 / (Math.sqrt(32) + 1e-10));
    expectClose(out.w, [-total0, total1]);
    expectClose(out.w, [-(0.1 + 0.1 / 1.5 / Math.SQRT2), 0.1 + 0.1 / 1.5 / Math.SQRT2], 1e-9);
    expectClose(out.state.sum as Float64Array, [18, 32]);
  });

  it('initialAccumulatorValue and L2 weight decay', () => {
    // G' = G + 0.5·W = 3 + 0.5·2 = 4; S = 1 + 16 = 17
    expectClose(run('adagrad', { lr: 0.1, initialAccumulatorValue: 1, weightDecay: 0.5 }, [2], [[3]], 1, 1).w, [
      2 - 0.1 * (4 / (Math.sqrt(17) + 1e-10)),
    ]);
  });
});

// ---------------------------------------------------------------- rmsprop

describe('rmsprop', () => {
  it('plain: v = (1 − α)G², W − lr·G/(√v + ε)', () => {
    // v = 0.01·4 = 0.04
    expectClose(run('rmsprop', { lr: 0.01 }, [1], [[2]], 1, 1).w, [1 - 0.01 * (2 / (0.2 + 1e-8))]);
  });

  it('centered: √(v − ḡ²)', () => {
    // ḡ = 0.02, v − ḡ² = 0.04 − 0.0004 = 0.0396
    expectClose(run('rmsprop', { lr: 0.01, centered: true }, [1], [[2]], 1, 1).w, [
      1 - 0.01 * (2 / (Math.sqrt(0.0396) + 1e-8)),
    ]);
  });

  it('momentum: b ← μb + G/avg, W − lr·b', () => {
    // v₁ = 0.04, v₂ = 0.99·0.04 + 0.01·4 = 0.0796
    const b1 = 2 / (0.2 + 1e-8);
    const b2 = 0.9 * b1 + 2 / (Math.sqrt(0.0796) + 1e-8);
    expectClose(run('rmsprop', { lr: 0.01, momentum: 0.9 }, [1], [[2], [2]], 1, 1).w, [1 - 0.01 * b1 - 0.01 * b2]);
  });

  it('L2 weight decay: G + λW', () => {
    // G' = 1 + 0.5·2 = 2 → same as the plain example from W = 2
    expectClose(run('rmsprop', { lr: 0.01, weightDecay: 0.5 }, [2], [[1]], 1, 1).w, [2 - 0.01 * (2 / (0.2 + 1e-8))]);
  });
});

// ---------------------------------------------------------------- adam / adamw

describe('adam / adamw', () => {
  it('first step with bias correction: −lr·G/(|G| + ε)', () => {
    expectClose(run('adam', { lr: 0.1 }, [1, 1], [[0.5, -3]], 1, 2).w, [
      1 - 0.1 * (0.5 / (0.5 + 1e-8)),
      1 + 0.1 * (3 / (3 + 1e-8)),
    ]);
  });

  it('second step by hand (β = 0.9, 0.999)', () => {
    // m₂ = 0.9·0.1 − 0.1·2 = −0.11, v₂ = 0.999·0.001 + 0.001·4 = 0.004999, bc1 = 0.19, bc2 = 0.001999
    const d1 = 0.1 * (1 / (1 + 1e-8));
    const d2 = (0.1 / 0.19) * (-0.11 / (Math.sqrt(0.004999) / Math.sqrt(0.001999) + 1e-8));
    const out = run('adam', { lr: 0.1 }, [0], [[1], [-2]], 1, 1);
    expectClose(out.w, [-d1 - d2]);
    expectClose(out.state.m as Float64Array, [-0.11]);
    expectClose(out.state.v as Float64Array, [0.004999]);
  });

  it('β₁ = β₂ = 0 gives sign-like steps: |ΔW| = lr·|g|/(|g| + ε) (property over steps)', () => {
    fc.assert(
      fc.property(arbProblem, fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 25, maxLength: 25 }), ([r, c, w, g], ks) => {
        const opt = referenceOptimizer('adam', hyper('adam', { lr: 0.01, betas: [0, 0] }));
        const state = opt.init(r, c);
        const x = Float64Array.from(w);
        for (const k of ks) {
          const gk = Float64Array.from(g, (gi) => gi * k);
          const before = Float64Array.from(x);
          opt.step(x, gk, r, c, state);
          expectClose(sub(x, before), Array.from(gk, (gi) => -0.01 * (gi / (Math.abs(gi) + 1e-8))), 1e-9);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('amsgrad keeps max(v)', () => {
    // β = (0, 0.5): v₁ = 50, v₂ = 25.005 but v̂₂ = 50; bc2 = 0.75; m₂ = 0.1
    const d2 = (lr: number, v: number) => lr * (0.1 / (Math.sqrt(v) / Math.sqrt(0.75) + 1e-8));
    const d1 = 0.1 * (10 / (10 + 1e-8));
    expectClose(run('adam', { lr: 0.1, betas: [0, 0.5], amsgrad: true }, [0], [[10], [0.1]], 1, 1).w, [-d1 - d2(0.1, 50)]);
    expectClose(run('adam', { lr: 0.1, betas: [0, 0.5] }, [0], [[10], [0.1]], 1, 1).w, [-d1 - d2(0.1, 25.005)]);
  });

  it('adam weightDecay is L2: G + λW', () => {
    // G' = 1 + 0.5·2 = 2
    expectClose(run('adam', { lr: 0.1, weightDecay: 0.5 }, [2], [[1]], 1, 1).w, [2 - 0.1 * (2 / (2 + 1e-8))]);
  });

  it('adamw with a zero gradient decays exactly by (1 − lr·λ) per step', () => {
    const w0 = [3, -1.5, 0.25, 8];
    const opt = referenceOptimizer('adamw', hyper('adamw', { lr: 0.1, weightDecay: 0.25 }));
    const state = opt.init(2, 2);
    const w = Float64Array.from(w0);
    let expected = w0.slice();
    for (let k = 0; k < 10; k++) {
      opt.step(w, new Float64Array(4), 2, 2, state);
      expected = expected.map((x) => x * (1 - 0.1 * 0.25));
      expect(Array.from(w)).toEqual(expected);
    }
  });

  it('adamw: decay applied to the old W before the moment step', () => {
    expectClose(run('adamw', { lr: 0.1, weightDecay: 0.5 }, [2], [[1]], 1, 1).w, [2 * 0.95 - 0.1 * (1 / (1 + 1e-8))]);
  });
});

// ---------------------------------------------------------------- adafactor

describe('adafactor', () => {
  it('rank-1 G²: the factored V̂ equals G² + ε₁, so Û = sign(G) and the step is −α·sign(G)', () => {
    // W = [[3,4],[0,0]]: RMS(W) = 5/2; ρ = min(1e-2, 1) → α = 0.025. G = [1,3]ᵀ[1,2].
    const out = run('adafactor', {}, [3, 4, 0, 0], [[1, 2, 3, 6]], 2, 2);
    expectClose(out.w, [2.975, 3.975, -0.025, -0.025]);
    // β̂₂ = 1 − 1^−0.8 = 0: r = rowMean(G²) = [2.5, 22.5], c = colMean(G²) = [5, 20]
    expectClose(out.state.row as Float64Array, [2.5, 22.5]);
    expectClose(out.state.col as Float64Array, [5, 20]);
  });

  it('rank-1 property: V̂ = G² + ε₁ over several steps (random rank-1 G, random W)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer(),
        (r, c, seed) => {
          const rand = rng(seed);
          const opt = referenceOptimizer('adafactor', hyper('adafactor'));
          const state = opt.init(r, c);
          const w = Float64Array.from(randomArray(r * c, rand));
          for (let k = 0; k < 4; k++) {
            const a = randomArray(r, rand).map((x) => x + 2 * sgn(x));
            const b = randomArray(c, rand).map((x) => x + 2 * sgn(x));
            const g = Float64Array.from({ length: r * c }, (_, i) => a[Math.floor(i / c)]! * b[i % c]!);
            const rmsW = norm2(w) / Math.sqrt(r * c);
            const t = k + 1;
            const alpha = Math.max(1e-3, rmsW) * Math.min(1e-2, 1 / Math.sqrt(t));
            const before = Float64Array.from(w);
            opt.step(w, g, r, c, state);
            // rank-1 factors only agree across steps when each step's G² is rank-1 *and* the EMA of
            // rank-1 matrices stays rank-1: true at t = 1 (β̂₂ = 0); afterwards check the sign only.
            if (t === 1) expectClose(sub(w, before), Array.from(g, (gi) => -alpha * sgn(gi)), 1e-10);
            else Array.from(sub(w, before)).forEach((d, i) => expect(sgn(d) + sgn(g[i]!)).toBe(0));
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('a fixed rank-1 G keeps V̂ = G² at every step', () => {
    const g = [1, 2, 3, 6];
    const opt = referenceOptimizer('adafactor', hyper('adafactor'));
    const state = opt.init(2, 2);
    const w = Float64Array.from([3, 4, 0, 0]);
    for (let t = 1; t <= 5; t++) {
      const alpha = Math.max(1e-3, norm2(w) / 2) * Math.min(1e-2, 1 / Math.sqrt(t));
      const before = Float64Array.from(w);
      opt.step(w, Float64Array.from(g), 2, 2, state);
      expectClose(sub(w, before), [-alpha, -alpha, -alpha, -alpha]);
    }
  });

  it('factorisation of a non-rank-1 G²: G = I₂ gives V̂ = 1/2 everywhere', () => {
    // r = c = [0.5, 0.5], mean(r) = 0.5 → V̂ = 0.5; Û = G/√0.5; RMS(Û) = 1 (no clip); α = 0.01·RMS(W) = 0.01
    const s = 0.01 * Math.SQRT2;
    expectClose(run('adafactor', {}, [1, 1, 1, 1], [[1, 0, 0, 1]], 2, 2).w, [1 - s, 1, 1, 1 - s]);
  });

  it('vectors (a side of 1) keep a full v; RMS clipping by clipThreshold', () => {
    // 1×2: v = U = [1, ε₁]; Û = [1, 0]; RMS(Û) = √½; clipThreshold ½ → Û/√2; α = 0.01·RMS([1,1]) = 0.01
    const out = run('adafactor', { clipThreshold: 0.5 }, [1, 1], [[1, 0]], 1, 2);
    expectClose(out.w, [1 - 0.01 / Math.SQRT2, 1]);
    expect(out.state.v).toBeInstanceOf(Float64Array);
    expect(out.state.row).toBeUndefined();
    const col = run('adafactor', {}, [1, 1, 1], [[1, -2, 0]], 3, 1);
    expectClose(col.state.v as Float64Array, [1 + 1e-30, 4 + 1e-30, 1e-30]);
  });

  it('relativeStep false uses lr; scaleParameter false drops RMS(W); warmupInit ρ = 1e-6·t', () => {
    const g = [[1, 2, 3, 6]];
    expectClose(run('adafactor', { lr: 0.1, relativeStep: false, scaleParameter: false }, [3, 4, 0, 0], g, 2, 2).w, [
      2.9, 3.9, -0.1, -0.1,
    ]);
    // α = RMS(W)·min(1e-6·1, 1) = 2.5e-6
    expectClose(run('adafactor', { warmupInit: true }, [3, 4, 0, 0], g, 2, 2).w, [3 - 2.5e-6, 4 - 2.5e-6, -2.5e-6, -2.5e-6]);
  });

  it('scaleParameter floors RMS(W) at ε₂', () => {
    // W = 0: α = 1e-3·1e-2
    expectClose(run('adafactor', {}, [0, 0, 0, 0], [[1, 2, 3, 6]], 2, 2).w, [-1e-5, -1e-5, -1e-5, -1e-5]);
  });

  it('beta1: m ← β₁m + (1 − β₁)Û', () => {
    expectClose(run('adafactor', { beta1: 0.9 }, [3, 4, 0, 0], [[1, 2, 3, 6]], 2, 2).w, [2.9975, 3.9975, -0.0025, -0.0025]);
  });

  it('weight decay W − λ·α·W on the old W', () => {
    // G = 0: Û = 0; α = 0.025 → W·(1 − 0.5·0.025)
    expectClose(run('adafactor', { weightDecay: 0.5 }, [3, 4, 0, 0], [[0, 0, 0, 0]], 2, 2).w, [2.9625, 3.95, 0, 0]);
  });

  it("transformers' constructor checks", () => {
    expect(() => referenceOptimizer('adafactor', hyper('adafactor', { lr: 0.1 }))).toThrow(RangeError);
    expect(() => referenceOptimizer('adafactor', hyper('adafactor', { relativeStep: false }))).toThrow(RangeError);
    expect(() => referenceOptimizer('adafactor', hyper('adafactor', { lr: 0.1, relativeStep: false, warmupInit: true }))).toThrow(
      RangeError,
    );
  });
});

// ---------------------------------------------------------------- adam-mini

describe('adam-mini', () => {
  const W = [0, 0, 0, 0];
  const G = [3, 4, 1, 1];
  const e = 1e-8;

  it("blocks 'rows' (hand example): v per row = mean of G² over the row", () => {
    // t = 1: m/bc1 = G, √v_b/√bc2 = √mean_b(G²): row 0 → √12.5, row 1 → 1
    const a = Math.sqrt(12.5);
    expectClose(run('adam-mini', { lr: 0.1, blocks: 'rows' }, W, [G], 2, 2).w, [
      -0.1 * (3 / (a + e)),
      -0.1 * (4 / (a + e)),
      -0.1 * (1 / (1 + e)),
      -0.1 * (1 / (1 + e)),
    ]);
  });

  it("blocks 'cols' and 'all'", () => {
    // cols: mean(9, 1) = 5, mean(16, 1) = 8.5
    const c0 = Math.sqrt(5);
    const c1 = Math.sqrt(8.5);
    expectClose(run('adam-mini', { lr: 0.1, blocks: 'cols' }, W, [G], 2, 2).w, [
      -0.1 * (3 / (c0 + e)),
      -0.1 * (4 / (c1 + e)),
      -0.1 * (1 / (c0 + e)),
      -0.1 * (1 / (c1 + e)),
    ]);
    // all: mean(9, 16, 1, 1) = 6.75
    const a = Math.sqrt(6.75);
    expectClose(run('adam-mini', { lr: 0.1, blocks: 'all' }, W, [G], 2, 2).w, G.map((gi) => -0.1 * (gi / (a + e))));
  });

  it('a number h: h groups of consecutive rows; h must divide rows', () => {
    // 4×1, h = 2: rows {0,1} → mean(9, 16) = 12.5, rows {2,3} → 1
    const a = Math.sqrt(12.5);
    const out = run('adam-mini', { lr: 0.1, blocks: 2 }, W, [G], 4, 1);
    expectClose(out.w, [-0.1 * (3 / (a + e)), -0.1 * (4 / (a + e)), -0.1 * (1 / (1 + e)), -0.1 * (1 / (1 + e))]);
    expect((out.state.v as Float64Array).length).toBe(2);
    expect(() => referenceOptimizer('adam-mini', hyper('adam-mini', { blocks: 3 })).init(4, 2)).toThrow(RangeError);
  });

  it("blocks 'all' on a constant |G| equals adamw (property over steps, with decoupled decay)", () => {
    fc.assert(
      fc.property(arbProblem, fc.array(fc.double({ min: 0.01, max: 5, noNaN: true }), { minLength: 20, maxLength: 20 }), ([r, c, w, signs], mags) => {
        const grads = mags.map((k, s) => signs.map((x, i) => ((x >= 0) !== ((i + s) % 3 === 0) ? k : -k)));
        const over = { lr: 0.01, weightDecay: 0.1, betas: [0.8, 0.95] };
        const mini = run('adam-mini', { ...over, blocks: 'all' }, w, grads, r, c).w;
        const adamw = run('adamw', over, w, grads, r, c).w;
        expectClose(mini, adamw, 1e-11);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------- sphere-sgd

describe('sphere-sgd', () => {
  it("l2 hand example: project, tangent direction, retraction", () => {
    // ŵ = [0.6, 0.8]; ⟨g, ŵ⟩ = 0.6; τ = [0.64, −0.48], ‖τ‖ = 0.8, φ = [0.8, −0.6]
    const out = run('sphere-sgd', { lr: 0.1, radius: 1 }, [3, 4], [[1, 0]], 1, 2).w;
    expectClose(out, [0.52 / Math.sqrt(1.01), 0.86 / Math.sqrt(1.01)]);
    // radius 2 scales the same picture
    expectClose(run('sphere-sgd', { lr: 0.1, radius: 2 }, [3, 4], [[1, 0]], 1, 2).w, [1.04 / Math.sqrt(1.01), 1.72 / Math.sqrt(1.01)]);
  });

  it('a gradient parallel to w leaves w unchanged (after the first-step projection)', () => {
    // exactly representable: ŵ = [½, ½, ½, ½], ⟨g, ŵ⟩ = 2, τ = 0
    expect(Array.from(run('sphere-sgd', { lr: 0.1 }, [1, 1, 1, 1], [[1, 1, 1, 1]], 2, 2).w)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  for (const axis of ['all', 'rows', 'cols'] as const) {
    it(`l2, axis '${axis}': every vector keeps norm = radius for 50 steps; the step is orthogonal to w`, () => {
      const rand = rng(axis.length);
      const rows = 3;
      const cols = 4;
      const radius = 2.5;
      const lr = 0.05;
      const vecs =
        axis === 'all'
          ? [Array.from({ length: 12 }, (_, i) => i)]
          : axis === 'rows'
            ? [0, 1, 2].map((i) => [0, 1, 2, 3].map((j) => i * cols + j))
            : [0, 1, 2, 3].map((j) => [0, 1, 2].map((i) => i * cols + j));
      const opt = referenceOptimizer('sphere-sgd', hyper('sphere-sgd', { lr, radius, axis }));
      const state = opt.init(rows, cols);
      const w = Float64Array.from(randomArray(12, rand));
      for (let k = 0; k < 50; k++) {
        const g = Float64Array.from(randomArray(12, rand));
        const before = Float64Array.from(w);
        opt.step(w, g, rows, cols, state);
        for (const idx of vecs) {
          const wv = idx.map((i) => w[i]!);
          expect(Math.abs(norm2(wv) - radius)).toBeLessThan(1e-12);
          if (k === 0) continue;
          // −lr·φ = ŵ_new·√(1 + lr²) − ŵ_old: unit length, orthogonal to ŵ_old, a descent direction
          const wOld = idx.map((i) => before[i]! / radius);
          const phi = scale(sub(scale(wv, Math.sqrt(1 + lr * lr) / radius), wOld), -1 / lr);
          expect(Math.abs(norm2(phi) - 1)).toBeLessThan(1e-10);
          expect(Math.abs(dot(phi, wOld))).toBeLessThan(1e-10);
          expect(dot(phi, idx.map((i) => g[i]!))).toBeGreaterThan(0);
        }
      }
    });

    it(`linf, axis '${axis}': max |w| = radius exactly for 50 steps`, () => {
      const rand = rng(7 + axis.length);
      const opt = referenceOptimizer('sphere-sgd', hyper('sphere-sgd', { lr: 0.03, radius: 1.5, axis, norm: 'linf' }));
      const state = opt.init(3, 4);
      const w = Float64Array.from(randomArray(12, rand));
      const vecs =
        axis === 'all' ? [[...Array(12).keys()]] : axis === 'rows' ? [0, 1, 2].map((i) => [0, 1, 2, 3].map((j) => i * 4 + j)) : [0, 1, 2, 3].map((j) => [0, 1, 2].map((i) => i * 4 + j));
      for (let k = 0; k < 50; k++) {
        opt.step(w, Float64Array.from(randomArray(12, rand)), 3, 4, state);
        for (const idx of vecs) expect(Math.max(...idx.map((i) => Math.abs(w[i]!)))).toBe(1.5);
      }
    });
  }

  it('linf hand examples: the largest coordinate is frozen, then ‖·‖_∞ retraction', () => {
    // ŵ = [0.25, −1, 0.5], k = 1, φ = [1, 0, −1] → [0.15, −1, 0.6], already on the sphere
    expectClose(run('sphere-sgd', { lr: 0.1, radius: 2, norm: 'linf' }, [0.5, -2, 1], [[1, 1, -1]], 1, 3).w, [0.3, -2, 1.2]);
    // ŵ = [1, 0.96], φ = [0, −1] → [1, 1.06] → /1.06
    expectClose(run('sphere-sgd', { lr: 0.1, norm: 'linf' }, [1, 0.96], [[1, -1]], 1, 2).w, [1 / 1.06, 1]);
    // ties: the first largest is frozen. ŵ = [1, −1], φ = [0, 1] → [1, −1.1] → /1.1
    expectClose(run('sphere-sgd', { lr: 0.1, norm: 'linf' }, [2, -2], [[5, 5]], 1, 2).w, [1 / 1.1, -1]);
  });

  it('a zero vector on the first step throws and changes nothing', () => {
    const opt = referenceOptimizer('sphere-sgd', hyper('sphere-sgd', { axis: 'rows' }));
    const state = opt.init(2, 2);
    const w = Float64Array.from([1, 2, 0, 0]);
    expect(() => opt.step(w, Float64Array.from([1, 1, 1, 1]), 2, 2, state)).toThrow(RangeError);
    expect(Array.from(w)).toEqual([1, 2, 0, 0]);
    expect(state.step).toBe(0);
    // the same matrix as one vector is fine
    const all = referenceOptimizer('sphere-sgd', hyper('sphere-sgd'));
    all.step(w, Float64Array.from([1, 1, 1, 1]), 2, 2, all.init(2, 2));
  });
});

// ---------------------------------------------------------------- spectral pieces

describe('rank1 (power iteration)', () => {
  const opts = (iters: number, warm = false) => readSpectral({ spectralIters: iters, spectralWarmStart: warm });

  it('one iteration by hand, tall: x = normalize(WᵀW·1), result (Wx)xᵀ', () => {
    // W = [[1,0],[0,2],[0,0]]: WᵀW·1 ∝ [1,4] → x = [1,4]/√17, Wx = [1,8,0]/√17
    const state: RefState = { step: 0 };
    const r = rank1(Float64Array.from([1, 0, 0, 2, 0, 0]), 3, 2, opts(1), state);
    expectClose(r, scale([1, 4, 8, 32, 0, 0], 1 / 17));
    expect((state.spectralVec as Float64Array).length).toBe(2);
  });

  it('one iteration by hand, wide: uses y (length rows), result y(yᵀW)', () => {
    // W = [[1,0,0],[0,2,0]]: WWᵀ·1 ∝ [1,4] → y = [1,4]/√17, yᵀW = [1,8,0]/√17.
    // (The column side would give [[1,4,0],[8,32,0]]/17 instead.)
    const state: RefState = { step: 0 };
    const r = rank1(Float64Array.from([1, 0, 0, 0, 2, 0]), 2, 3, opts(1), state);
    expectClose(r, scale([1, 8, 0, 4, 32, 0], 1 / 17));
    expect((state.spectralVec as Float64Array).length).toBe(2);
  });

  it('converges to σ₁u₁v₁ᵀ for a known singular triple, both orientations', () => {
    // W = 5·u₁v₁ᵀ + 1·u₂v₂ᵀ, u₁ = [1,2,2]/3, u₂ = [2,1,−2]/3, v₁ = [3,4]/5, v₂ = [4,−3]/5
    const u1 = [1 / 3, 2 / 3, 2 / 3];
    const u2 = [2 / 3, 1 / 3, -2 / 3];
    const v1 = [3 / 5, 4 / 5];
    const v2 = [4 / 5, -3 / 5];
    const W = Float64Array.from({ length: 6 }, (_, k) => 5 * u1[Math.floor(k / 2)]! * v1[k % 2]! + u2[Math.floor(k / 2)]! * v2[k % 2]!);
    const best = Array.from({ length: 6 }, (_, k) => 5 * u1[Math.floor(k / 2)]! * v1[k % 2]!);
    expectClose(rank1(W, 3, 2, opts(30), { step: 0 }), best);
    const Wt = Float64Array.from({ length: 6 }, (_, k) => W[(k % 3) * 2 + Math.floor(k / 3)]!);
    const bestT = Array.from({ length: 6 }, (_, k) => best[(k % 3) * 2 + Math.floor(k / 3)]!);
    const st: RefState = { step: 0 };
    expectClose(rank1(Wt, 2, 3, opts(30), st), bestT);
    expectClose(st.spectralVec as Float64Array, v1); // the 2-long side: v₁ of W = u₁ of Wᵀ
  });

  it('zero W gives the zero matrix and stores nothing', () => {
    const state: RefState = { step: 0 };
    expect(Array.from(rank1(new Float64Array(4), 2, 2, opts(5), state))).toEqual([0, 0, 0, 0]);
    expect(state.spectralVec).toBeUndefined();
  });

  it('warm start continues from the stored vector: k warm calls of 1 iteration = 1 cold call of k', () => {
    const W = Float64Array.from([3, 1, 0.5, 2, -1, 0.25]);
    const warm: RefState = { step: 0 };
    let r: Float64Array = new Float64Array(6);
    for (let k = 0; k < 6; k++) r = rank1(W, 3, 2, opts(1, true), warm);
    expectClose(r, rank1(W, 3, 2, opts(6), { step: 0 }), 1e-13);
    // and without warm start each call restarts from the all-ones vector
    const cold: RefState = { step: 0 };
    for (let k = 0; k < 6; k++) r = rank1(W, 3, 2, opts(1, false), cold);
    expectClose(r, rank1(W, 3, 2, opts(1), { step: 0 }), 0);
  });
});

describe('spectral weight decay and penalty', () => {
  const a = [1, -2, 0.5];
  const b = [2, 1];
  const rank1W = Array.from({ length: 6 }, (_, k) => a[Math.floor(k / 2)]! * b[k % 2]!);
  const G = [0.3, -0.2, 0.1, 0.4, -0.5, 0.6];
  const cases: [Name, Record<string, unknown>][] = [
    ['sgd', { lr: 0.1, weightDecay: 0.3, decoupledWeightDecay: true, momentum: 0.9 }],
    ['signsgd', { lr: 0.1, weightDecay: 0.3 }],
    ['pbsgd', { lr: 0.1, weightDecay: 0.3, normalize: true }],
    ['adamw', { lr: 0.1, weightDecay: 0.3 }],
    ['adafactor', { weightDecay: 0.3, beta1: 0.5 }],
    ['adam-mini', { lr: 0.1, weightDecay: 0.3 }],
  ];

  for (const [name, over] of cases) {
    it(`${name}: spectral decay on a rank-1 W equals Frobenius decay`, () => {
      const spectral = run(name, { ...over, weightDecayNorm: 'spectral' }, rank1W, [G], 3, 2).w;
      const frob = run(name, { ...over, weightDecayNorm: 'frobenius' }, rank1W, [G], 3, 2).w;
      expectClose(spectral, frob, 1e-13);
    });
  }

  it('spectral decay shrinks only σ₁: diag(3, 1) → diag(3 − lr·λ·3, 1)', () => {
    const out = run('sgd', { lr: 0.1, weightDecay: 0.5, decoupledWeightDecay: true, weightDecayNorm: 'spectral', spectralIters: 30 }, [3, 0, 0, 1], [[0, 0, 0, 0]], 2, 2).w;
    expectClose(out, [2.85, 0, 0, 1]);
    // adafactor: W − λ·α·rank1(W), α = 0.01·RMS(W) = 0.01·√5/2
    const alpha = (0.01 * Math.sqrt(10)) / 2;
    const af = run('adafactor', { weightDecay: 0.5, weightDecayNorm: 'spectral', spectralIters: 30 }, [3, 0, 0, 1], [[0, 0, 0, 0]], 2, 2).w;
    expectClose(af, [3 - 0.5 * alpha * 3, 0, 0, 1]);
  });

  it("sgd with L2 (decoupledWeightDecay false) ignores weightDecayNorm", () => {
    const over = { lr: 0.1, weightDecay: 0.5, spectralIters: 30 };
    expectClose(
      run('sgd', { ...over, weightDecayNorm: 'spectral' }, [3, 0, 0, 1], [[0, 0, 0, 0]], 2, 2).w,
      [2.85, 0, 0, 0.95],
    );
  });

  it('penalty κ adds 2κ·σ₁u₁v₁ᵀ to G: equals spectral decay with λ = 2κ under sgd', () => {
    const w0 = [3, 0, 0, 1];
    const pen = run('sgd', { lr: 0.1, spectralPenalty: 0.5, spectralIters: 30 }, w0, [[0, 0, 0, 0]], 2, 2).w;
    expectClose(pen, [2.7, 0, 0, 1]);
    fc.assert(
      fc.property(arbProblem, ([r, c, w, g]) => {
        const p = run('sgd', { lr: 0.1, spectralPenalty: 0.25 }, w, [g], r, c).w;
        const d = run('sgd', { lr: 0.1, weightDecay: 0.5, decoupledWeightDecay: true, weightDecayNorm: 'spectral' }, w, [g], r, c).w;
        expectClose(p, d, 1e-11);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('penalty applies to rules without decoupled decay (adagrad: first step ≈ −lr·sign(2κR))', () => {
    // R = diag(3, 0): G = diag(3, 0) → adagrad moves only the (0,0) entry, by ≈ lr
    expectClose(run('adagrad', { lr: 0.1, spectralPenalty: 0.5, spectralIters: 30 }, [3, 0, 0, 1], [[0, 0, 0, 0]], 2, 2).w, [2.9, 0, 0, 1], 1e-9);
  });

  it('penalty and spectral decay together use one rank1(W) per step (warm start, 1 iteration)', () => {
    // W = diag(3, 1): x = normalize(WᵀW·1) = [9, 1]/√82, Wx = [27, 1]/√82 → R = [[243, 27], [9, 1]]/82.
    // sgd, decoupled spectral decay λ = 0.2 and penalty κ = 0.5: W − 0.1·(0.2 + 1)·R
    const R = scale([243, 27, 9, 1], 1 / 82);
    const out = run(
      'sgd',
      { lr: 0.1, weightDecay: 0.2, decoupledWeightDecay: true, weightDecayNorm: 'spectral', spectralPenalty: 0.5, spectralIters: 1, spectralWarmStart: true },
      [3, 0, 0, 1],
      [[0, 0, 0, 0]],
      2,
      2,
    );
    expectClose(out.w, sub([3, 0, 0, 1], scale(R, 0.1 * 1.2)));
    expectClose(out.state.spectralVec as Float64Array, [9 / Math.sqrt(82), 1 / Math.sqrt(82)]);
  });
});
