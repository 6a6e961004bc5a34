// Pins down the float64 reference orthogonalize / spectralNormGrad (src/reference/orthogonalize.ts)
// and the reference Muon rule (src/reference/optim/muon.ts) against ALGORITHMS.md, without
// comparing the code with itself: expected values come from matrices built with a known SVD
// (G = Q₁·diag(s)·Q₂ᵀ, whose polar factor is Q₁Q₂ᵀ and whose Newton–Schulz image is
// Q₁·diag(p(sᵢ/(‖s‖ + 1e-7)))·Q₂ᵀ with p the scalar quintic iterated), from hand arithmetic, or
// from properties (singular-value bounds, scale invariance, transpose symmetry, exact decay factors).

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { dense, transpose, type Dense } from '../src/reference/dense.js';
import { svd } from '../src/reference/svd.js';
import { qr } from '../src/reference/qr.js';
import { eigh } from '../src/reference/eigh.js';
import { orthogonalize, spectralNormGrad } from '../src/reference/orthogonalize.js';
import { REFERENCE_OPTIMIZERS, referenceOptimizer } from '../src/reference/optim/index.js';
import { mul, randomDense, rng } from './reference-helpers.js';

const NUM_RUNS = Number(process.env.SPECOPT_REF_RUNS ?? 50);

// ---------------------------------------------------------------- helpers




function diag(rows: number, cols: number, d: number[]): Dense {
  const out = dense(rows, cols);
  d.forEach((x, i) => (out.data[i * cols + i] = x));
  return out;
}

const scaled = (a: Dense, s: number): Dense => dense(a.rows, a.cols, Array.from(a.data, (x) => x * s));
const frob = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));

/** |a_i − b_i| ≤ tol·max(1, |b_i|) for every i. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    expect(d, `entry ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  }
}

/** A random matrix with orthonormal columns (n×k, k ≤ n), from the reference QR. */
function randomOrthonormal(n: number, k: number, rand: () => number): Dense {
  return qr(randomDense(n, k, rand)).Q;
}

/** The KellerJordan quintic, written out from the formula, applied `steps` times to a scalar. */
function quintic(x: number, steps = 5): number {
  const a = 3.4445;
  const b = -4.775;
  const c = 2.0315;
  for (let i = 0; i < steps; i++) x = a * x + b * x ** 3 + c * x ** 5;
  return x;
}

/** G = Q₁·diag(s)·Q₂ᵀ with Q₁ (m×k), Q₂ (n×k) orthonormal, k = s.length. */
function withSvd(q1: Dense, s: number[], q2: Dense): Dense {
  return mul(mul(q1, diag(s.length, s.length, s)), transpose(q2));
}

/** Q₁·diag(f(sᵢ))·Q₂ᵀ. */
const mapped = (q1: Dense, s: number[], q2: Dense, f: (x: number) => number) => withSvd(q1, s.map(f), q2);

const SHAPES: [number, number][] = [
  [6, 6],
  [9, 4],
  [4, 9],
  [1, 7],
  [7, 1],
  [16, 16],
  [20, 3],
];

// ---------------------------------------------------------------- orthogonalize: newton-schulz

describe('orthogonalize newton-schulz', () => {
  it('is the default method with 5 steps', () => {
    const g = randomDense(5, 3, rng(1));
    expect(orthogonalize(g).data).toEqual(orthogonalize(g, { method: 'newton-schulz', steps: 5 }).data);
  });

  it('on a 1x1 matrix is the scalar quintic of g/(|g| + 1e-7), for every step count', () => {
    for (const g of [3, -0.25, 1e-7, 4e-8, 1e5]) {
      for (const steps of [0, 1, 2, 5, 8]) {
        const x0 = g / (Math.abs(g) + 1e-7);
        const got = orthogonalize(dense(1, 1, [g]), { steps }).data[0]!;
        expectClose([got], [quintic(x0, steps)], 1e-14);
      }
    }
  });

  it('on a diagonal matrix applies the quintic to each entry / (Frobenius norm + 1e-7)', () => {
    const d = [2, -0.5, 0.01];
    const nrm = Math.sqrt(4 + 0.25 + 0.0001) + 1e-7;
    for (const [r, c] of [
      [3, 3],
      [3, 5],
      [5, 3],
    ] as const) {
      const got = orthogonalize(diag(r, c, d));
      expectClose(got.data, diag(r, c, d.map((x) => quintic(x / nrm))).data, 1e-13);
    }
  });

  it('maps the singular values through the quintic and keeps the singular vectors (known SVD)', () => {
    const rand = rng(2);
    for (const [m, n] of SHAPES) {
      const k = Math.min(m, n);
      const q1 = randomOrthonormal(m, k, rand);
      const q2 = randomOrthonormal(n, k, rand);
      const s = Array.from({ length: k }, () => 0.05 + 3 * rand());
      const nrm = frob(s) + 1e-7;
      for (const steps of [1, 5]) {
        const got = orthogonalize(withSvd(q1, s, q2), { steps });
        expectClose(got.data, mapped(q1, s, q2, (x) => quintic(x / nrm, steps)).data, 1e-12);
      }
    }
  });

  it('gives singular values in [0.5, 1.5] for random full-rank inputs (tall, wide, square)', () => {
    // Precondition: the smallest normalised singular value is ≥ 2e-3 (the quintic needs x₀ ≳ 1.1e-3
    // to reach 0.5 in 5 steps); random rectangular matrices satisfy it easily.
    const arb = fc
      .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer())
      .map(([r, c, seed]) => randomDense(r, c, rng(seed)))
      .filter((g) => {
        const S = svd(g).S;
        return S[S.length - 1]! / frob(S) >= 2e-3;
      });
    fc.assert(
      fc.property(arb, (g) => {
        const S = svd(orthogonalize(g)).S;
        for (const s of S) {
          expect(s).toBeGreaterThanOrEqual(0.5);
          expect(s).toBeLessThanOrEqual(1.5);
        }
      }),
      { numRuns: NUM_RUNS },
    );
    for (const [m, n] of SHAPES) {
      const S = svd(orthogonalize(randomDense(m, n, rng(m * 100 + n)))).S;
      expect(Math.min(...S)).toBeGreaterThanOrEqual(0.5);
      expect(Math.max(...S)).toBeLessThanOrEqual(1.5);
    }
  });

  it('is invariant to scaling G by a positive constant, up to the 1e-7 in the normalisation', () => {
    const rand = rng(3);
    for (const [m, n] of SHAPES) {
      const g = randomDense(m, n, rand);
      const base = orthogonalize(g);
      for (const c of [0.5, 2, 1024, 3.7e6]) expectClose(orthogonalize(scaled(g, c)).data, base.data, 1e-6);
      // Large norms make the 1e-7 negligible: agreement to rounding.
      expectClose(orthogonalize(scaled(g, 1e9)).data, orthogonalize(scaled(g, 3e12)).data, 1e-12);
    }
  });

  it('the 1e-7 matters for tiny G: G/(‖G‖ + 1e-7) is not unit-norm', () => {
    const g = dense(1, 2, [3e-8, 4e-8]); // ‖G‖ = 5e-8, X₀ = G/1.5e-7
    const x0 = [0.2, 4 / 15];
    const s = quintic(frob(x0)) / frob(x0);
    expectClose(orthogonalize(g).data, x0.map((x) => x * s), 1e-13);
  });

  it('the tall path equals orthogonalize(Gᵀ)ᵀ', () => {
    const rand = rng(4);
    for (const [m, n] of [
      [9, 4],
      [7, 1],
      [20, 3],
      [5, 5],
    ] as const) {
      const g = randomDense(m, n, rand);
      for (const steps of [1, 5]) {
        const t = transpose(orthogonalize(transpose(g), { steps }));
        expectClose(orthogonalize(g, { steps }).data, t.data, 1e-13);
      }
    }
  });

  it('maps the zero matrix to zero', () => {
    for (const [m, n] of SHAPES) expect(Array.from(orthogonalize(dense(m, n)).data).every((x) => x === 0)).toBe(true);
  });

  it('a vector is normalised approximately', () => {
    const v = dense(1, 4, [1, -2, 2, 4]); // ‖v‖ = 5
    const x0 = 5 / (5 + 1e-7);
    expectClose(orthogonalize(v).data, Array.from(v.data, (x) => (x / 5) * quintic(x0)), 1e-13);
  });
});

// ---------------------------------------------------------------- orthogonalize: svd

describe('orthogonalize svd', () => {
  it('gives Q₁Q₂ᵀ for G = Q₁·diag(s)·Q₂ᵀ', () => {
    const rand = rng(5);
    for (const [m, n] of SHAPES) {
      const k = Math.min(m, n);
      const q1 = randomOrthonormal(m, k, rand);
      const q2 = randomOrthonormal(n, k, rand);
      const s = Array.from({ length: k }, () => 1e-3 + 5 * rand());
      expectClose(orthogonalize(withSvd(q1, s, q2), { method: 'svd' }).data, mul(q1, transpose(q2)).data, 1e-11);
    }
  });

  it('a hand-made example: G = R(θ)·diag(3, 1) has polar factor R(θ)', () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const g = dense(2, 2, [3 * c, -s, 3 * s, c]);
    expectClose(orthogonalize(g, { method: 'svd' }).data, [c, -s, s, c], 1e-14);
  });

  it('is the polar factor of random full-rank G: orthonormal, and OᵀG (tall) / GOᵀ (wide) symmetric PSD', () => {
    const rand = rng(6);
    for (const [m, n] of SHAPES) {
      const g = randomDense(m, n, rand);
      const o = orthogonalize(g, { method: 'svd' });
      for (const x of svd(o).S) expect(Math.abs(x - 1)).toBeLessThan(1e-13);
      const p = m >= n ? mul(transpose(o), g) : mul(g, transpose(o));
      expectClose(p.data, transpose(p).data, 1e-12);
      for (const ev of eigh(p).values) expect(ev).toBeGreaterThan(-1e-12);
    }
  });

  it('uses only the nonzero singular pairs of a rank-deficient G (rank 1 gives uvᵀ/(‖u‖‖v‖))', () => {
    const u = [1, -2, 2];
    const v = [2, 0, -1, 2];
    const g = dense(3, 4, u.flatMap((ui) => v.map((vj) => ui * vj)));
    const want = u.flatMap((ui) => v.map((vj) => (ui * vj) / 9)); // ‖u‖ = ‖v‖ = 3
    expectClose(orthogonalize(g, { method: 'svd' }).data, want, 1e-14);
    expectClose(orthogonalize(transpose(g), { method: 'svd' }).data, transpose(dense(3, 4, want)).data, 1e-14);
  });

  it('rank 2 in a 5x4 matrix: a partial isometry of rank 2', () => {
    const rand = rng(7);
    const q1 = randomOrthonormal(5, 2, rand);
    const q2 = randomOrthonormal(4, 2, rand);
    const g = withSvd(q1, [4, 0.5], q2);
    expectClose(orthogonalize(g, { method: 'svd' }).data, mul(q1, transpose(q2)).data, 1e-12);
  });

  it('maps the zero matrix to zero and ignores steps', () => {
    for (const [m, n] of SHAPES) {
      expect(Array.from(orthogonalize(dense(m, n), { method: 'svd' }).data).every((x) => x === 0)).toBe(true);
    }
    const g = randomDense(4, 3, rng(8));
    expect(orthogonalize(g, { method: 'svd', steps: 0 }).data).toEqual(orthogonalize(g, { method: 'svd' }).data);
  });

  it('a vector is normalised exactly', () => {
    expectClose(orthogonalize(dense(4, 1, [1, -2, 2, 4]), { method: 'svd' }).data, [0.2, -0.4, 0.4, 0.8], 1e-15);
  });
});

describe('orthogonalize input checks', () => {
  it('rejects non-finite entries, bad steps and unknown methods; empty gives empty', () => {
    expect(() => orthogonalize(dense(2, 2, [1, NaN, 0, 1]))).toThrow(RangeError);
    expect(() => orthogonalize(dense(2, 2, [1, Infinity, 0, 1]), { method: 'svd' })).toThrow(RangeError);
    expect(() => orthogonalize(dense(2, 2), { steps: -1 })).toThrow(RangeError);
    expect(() => orthogonalize(dense(2, 2), { steps: 1.5 })).toThrow(RangeError);
    expect(() => orthogonalize(dense(2, 2), { method: 'qr' as never })).toThrow(TypeError);
    const e = orthogonalize(dense(0, 3));
    expect([e.rows, e.cols, e.data.length]).toEqual([0, 3, 0]);
  });

  it('does not modify its input', () => {
    const g = randomDense(4, 3, rng(9));
    const copy = Float64Array.from(g.data);
    orthogonalize(g);
    orthogonalize(g, { method: 'svd' });
    spectralNormGrad(g);
    expect(g.data).toEqual(copy);
  });
});

// ---------------------------------------------------------------- spectralNormGrad

describe('spectralNormGrad', () => {
  it('is σ₁u₁v₁ᵀ of a known rank-2 matrix', () => {
    // u₁ = (1, 2, 2)/3, u₂ = (2, 1, −2)/3; v₁ = (1, 1, 1, 1)/2, v₂ = (1, −1, 1, −1)/2; σ = (6, 2).
    const u1 = [1 / 3, 2 / 3, 2 / 3];
    const u2 = [2 / 3, 1 / 3, -2 / 3];
    const v1 = [0.5, 0.5, 0.5, 0.5];
    const v2 = [0.5, -0.5, 0.5, -0.5];
    const w = dense(3, 4, u1.flatMap((a, i) => v1.map((b, j) => 6 * a * b + 2 * u2[i]! * v2[j]!)));
    const want = u1.flatMap((a) => v1.map((b) => 6 * a * b));
    expectClose(spectralNormGrad(w).data, want, 1e-14);
    expectClose(spectralNormGrad(transpose(w)).data, transpose(dense(3, 4, want)).data, 1e-14);
  });

  it('is the gradient of ½‖W‖₂² (central differences)', () => {
    const w = randomDense(4, 3, rng(10));
    const f = (x: Dense) => 0.5 * svd(x).S[0]! ** 2;
    const grad = spectralNormGrad(w);
    const h = 1e-6;
    for (let i = 0; i < w.data.length; i++) {
      const p = dense(4, 3, w.data);
      const q = dense(4, 3, w.data);
      p.data[i] = p.data[i]! + h;
      q.data[i] = q.data[i]! - h;
      expect(Math.abs((f(p) - f(q)) / (2 * h) - grad.data[i]!)).toBeLessThan(1e-7);
    }
  });

  it('maps the zero matrix to zero', () => {
    expect(Array.from(spectralNormGrad(dense(3, 5)).data).every((x) => x === 0)).toBe(true);
  });
});

// ---------------------------------------------------------------- muon

type Over = Record<string, unknown>;

/** The complete muon hyper (defaults of ALGORITHMS.md + the common options), then overrides. */
function hyper(over: Over = {}): Over {
  return {
    lr: 0.02,
    momentum: 0.95,
    nesterov: true,
    nsSteps: 5,
    weightDecay: 0,
    adjustLr: 'none',
    method: 'newton-schulz',
    weightDecayNorm: 'frobenius',
    spectralIters: 10,
    spectralWarmStart: false,
    spectralPenalty: 0,
    nonFinite: 'throw',
    ...over,
  };
}

function run(over: Over, w0: ArrayLike<number>, grads: ArrayLike<number>[], rows: number, cols: number): Float64Array {
  const opt = referenceOptimizer('muon', hyper(over));
  const state = opt.init(rows, cols);
  const w = Float64Array.from(w0);
  for (const g of grads) opt.step(w, Float64Array.from(g), rows, cols, state);
  return w;
}

describe('reference muon', () => {
  it('is registered', () => {
    expect(REFERENCE_OPTIMIZERS).toContain('muon');
  });

  it('first step by hand on a 2x2 example (newton-schulz and svd)', () => {
    // G = R(θ)·diag(3, 1): polar factor R(θ), singular values 3 and 1.
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const g = [3 * c, -s, 3 * s, c];
    const w0 = [0.5, -1, 2, 0.25];
    // M = 0.05·G; X = 0.05·G + 0.95·M = 0.0975·G; ‖X‖_F = 0.0975·√10.
    const k = 0.0975 / (0.0975 * Math.sqrt(10) + 1e-7);
    const p1 = quintic(3 * k);
    const p2 = quintic(k);
    const oNs = [c * p1, -s * p2, s * p1, c * p2]; // R·diag(p1, p2)
    expectClose(run({}, w0, [g], 2, 2), w0.map((x, i) => x - 0.02 * oNs[i]!), 1e-13);
    const oSvd = [c, -s, s, c];
    expectClose(run({ method: 'svd' }, w0, [g], 2, 2), w0.map((x, i) => x - 0.02 * oSvd[i]!), 1e-13);
    // nsSteps is passed on.
    const oNs1 = [c * quintic(3 * k, 1), -s * quintic(k, 1), s * quintic(3 * k, 1), c * quintic(k, 1)];
    expectClose(run({ nsSteps: 1 }, w0, [g], 2, 2), w0.map((x, i) => x - 0.02 * oNs1[i]!), 1e-13);
  });

  it('the momentum is an EMA starting at 0; nesterov changes the sign of the second update (svd)', () => {
    // G₁ = diag(1, 1), G₂ = diag(−0.5, 0):
    //   nesterov off: X₂ = M₂ = 0.95·0.05·G₁ + 0.05·G₂ = 0.05·diag(0.45, 0.95)  → O = I
    //   nesterov on:  X₂ = 0.05·G₂ + 0.95·M₂ = 0.05·diag(0.9025 − 1.95·0.5, 0.9025) → O = diag(−1, 1)
    const w0 = [0, 0, 0, 0];
    const grads = [
      [1, 0, 0, 1],
      [-0.5, 0, 0, 0],
    ];
    const off = run({ nesterov: false, method: 'svd' }, w0, grads, 2, 2);
    const on = run({ nesterov: true, method: 'svd' }, w0, grads, 2, 2);
    // step 1 has O = I for both
    expectClose(off, [-0.04, 0, 0, -0.04], 1e-15);
    expectClose(on, [-0.02 + 0.02, 0, 0, -0.04], 1e-15);
  });

  it('nesterov off and on agree on the first step (X ∝ G) and differ afterwards', () => {
    const rand = rng(11);
    const [m, n] = [5, 3];
    const w0 = randomDense(m, n, rand).data;
    const g1 = randomDense(m, n, rand).data;
    const g2 = randomDense(m, n, rand).data;
    for (const method of ['newton-schulz', 'svd']) {
      // X = 0.05·G vs 0.0975·G: equal for svd, equal up to the 1e-7 in the normalisation for N-S
      const tol = method === 'svd' ? 1e-13 : 1e-7;
      expectClose(run({ nesterov: false, method }, w0, [g1], m, n), run({ nesterov: true, method }, w0, [g1], m, n), tol);
      // step 2, svd: off uses X = β(1−β)G₁ + (1−β)G₂, on uses (1−β)[(1+β)G₂ + β²G₁]
      if (method === 'svd') {
        const w1 = run({ method }, w0, [g1], m, n);
        const scale = Math.sqrt(5 / 3);
        const xOff = dense(m, n, Array.from(g1, (a, i) => 0.95 * 0.05 * a + 0.05 * g2[i]!));
        const xOn = dense(m, n, Array.from(g1, (a, i) => 0.05 * (1.95 * g2[i]! + 0.9025 * a)));
        const oOff = orthogonalize(xOff, { method: 'svd' }).data;
        const oOn = orthogonalize(xOn, { method: 'svd' }).data;
        const w1Off = run({ nesterov: false, method }, w0, [g1], m, n);
        expectClose(run({ nesterov: false, method }, w0, [g1, g2], m, n), Array.from(w1Off, (x, i) => x - 0.02 * scale * oOff[i]!), 1e-12);
        expectClose(run({ nesterov: true, method }, w0, [g1, g2], m, n), Array.from(w1, (x, i) => x - 0.02 * scale * oOn[i]!), 1e-12);
        expect(frob(Array.from(oOff, (x, i) => x - oOn[i]!))).toBeGreaterThan(1e-3);
      }
    }
  });

  it('scales O by √max(1, rows/cols), or 0.2·√max(rows, cols) with adjustLr match-rms-adamw', () => {
    const rand = rng(12);
    for (const [m, n] of [
      [6, 2],
      [2, 6],
      [4, 4],
      [7, 1],
      [1, 7],
    ] as const) {
      const w0 = randomDense(m, n, rand).data;
      const g = randomDense(m, n, rand).data;
      // first step, svd: X ∝ G, so O is the polar factor of G (orthogonalize is pinned down above)
      const o = orthogonalize(dense(m, n, g), { method: 'svd' }).data;
      const lr = 0.1;
      const none = run({ lr, method: 'svd' }, w0, [g], m, n);
      const rms = run({ lr, method: 'svd', adjustLr: 'match-rms-adamw' }, w0, [g], m, n);
      const sNone = Math.sqrt(Math.max(1, m / n));
      const sRms = 0.2 * Math.sqrt(Math.max(m, n));
      expectClose(none, Array.from(w0, (x, i) => x - lr * sNone * o[i]!), 1e-13);
      expectClose(rms, Array.from(w0, (x, i) => x - lr * sRms * o[i]!), 1e-13);
      // the RMS of the match-rms-adamw update is 0.2·√max(m,n)·√(min(m,n)/(m·n)) = 0.2 (full rank)
      const d = Array.from(rms, (x, i) => (w0[i]! - x) / lr);
      expect(frob(d) / Math.sqrt(m * n)).toBeCloseTo(0.2, 12);
    }
  });

  it('a column vector is normalised and scaled by √n', () => {
    const g = [1, -2, 2, 4]; // ‖g‖ = 5
    const w = run({ lr: 1, method: 'svd' }, [0, 0, 0, 0], [g], 4, 1);
    expectClose(w, g.map((x) => -2 * (x / 5)), 1e-14);
    const wRow = run({ lr: 1, method: 'svd' }, [0, 0, 0, 0], [g], 1, 4);
    expectClose(wRow, g.map((x) => -(x / 5)), 1e-14);
  });

  it('weight decay multiplies W by (1 − lr·λ) before the update (plain lr, also with match-rms-adamw)', () => {
    const rand = rng(13);
    const [m, n] = [4, 6];
    const w0 = randomDense(m, n, rand).data;
    const g = randomDense(m, n, rand).data;
    for (const adjustLr of ['none', 'match-rms-adamw']) {
      for (const method of ['newton-schulz', 'svd']) {
        const lr = 0.05;
        const lambda = 0.3;
        const plain = run({ lr, adjustLr, method }, w0, [g], m, n);
        const decayed = run({ lr, adjustLr, method, weightDecay: lambda }, w0, [g], m, n);
        // decayed − plain = W₀·(1 − lr·λ) − W₀ = −lr·λ·W₀ (the update does not depend on W)
        expectClose(Array.from(decayed, (x, i) => x - plain[i]!), Array.from(w0, (x) => -lr * lambda * x), 1e-13);
      }
    }
  });

  it('spectral weight decay subtracts lr·λ·σ₁u₁v₁ᵀ of the old W', () => {
    const rand = rng(14);
    const [m, n] = [5, 3];
    const q1 = randomOrthonormal(m, 3, rand);
    const q2 = randomOrthonormal(n, 3, rand);
    const w0 = withSvd(q1, [3, 1, 0.5], q2); // well separated: power iteration converges fast
    const g = randomDense(m, n, rand).data;
    const lr = 0.05;
    const lambda = 0.3;
    const plain = run({ lr }, w0.data, [g], m, n);
    const decayed = run({ lr, weightDecay: lambda, weightDecayNorm: 'spectral', spectralIters: 60 }, w0.data, [g], m, n);
    const r1 = spectralNormGrad(w0).data;
    expectClose(Array.from(decayed, (x, i) => x - plain[i]!), Array.from(r1, (x) => -lr * lambda * x), 1e-12);
  });

  it('zero gradient: no update besides decay (N-S and svd give O = 0)', () => {
    for (const method of ['newton-schulz', 'svd']) {
      expect(Array.from(run({ method }, [1, 2, 3, 4, 5, 6], [[0, 0, 0, 0, 0, 0]], 2, 3))).toEqual([1, 2, 3, 4, 5, 6]);
      expectClose(run({ method, weightDecay: 0.5, lr: 0.1 }, [1, 2, 3, 4, 5, 6], [[0, 0, 0, 0, 0, 0]], 2, 3), [0.95, 1.9, 2.85, 3.8, 4.75, 5.7], 1e-15);
    }
  });

  it('rejects bad hyperparameters; the common non-finite handling applies', () => {
    expect(() => referenceOptimizer('muon', hyper({ method: 'qr' }))).toThrow(TypeError);
    expect(() => referenceOptimizer('muon', hyper({ adjustLr: 'sqrt' }))).toThrow(TypeError);
    expect(() => referenceOptimizer('muon', hyper({ nsSteps: -1 }))).toThrow(RangeError);
    expect(() => referenceOptimizer('muon', hyper({ nsSteps: 2.5 }))).toThrow(RangeError);
    const { nesterov: _, ...missing } = hyper();
    expect(() => referenceOptimizer('muon', missing)).toThrow(TypeError);
    expect(() => run({}, [1, 2, 3, 4], [[1, NaN, 0, 0]], 2, 2)).toThrow(RangeError);
    expect(Array.from(run({ nonFinite: 'skip' }, [1, 2, 3, 4], [[1, NaN, 0, 0]], 2, 2))).toEqual([1, 2, 3, 4]);
  });
});
