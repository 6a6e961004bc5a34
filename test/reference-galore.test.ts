// Pins down the float64 reference 'adagrad-full' (src/reference/optim/adagradFull.ts) and
// 'galore-adamw' (src/reference/optim/galore.ts) against ALGORITHMS.md with hand-checkable cases:
// expected values come from scalars, diagonal statistics, the closed-form square root of a 2×2 SPD
// matrix, and gradients built with a known SVD (G = Rot(a)·diag(s)·Rot(b)ᵀ), not from the code itself.

import { describe, it, expect } from 'vitest';
import { svd } from '../src/reference/svd.js';
import { dense } from '../src/reference/dense.js';
import { REFERENCE_OPTIMIZERS, referenceOptimizer, type RefState } from '../src/reference/optim/index.js';
import { rng } from './reference-helpers.js';

// ---------------------------------------------------------------- helpers


function randomArray(n: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => 2 * rand() - 1);
}

/** Row-major product of a (p×q) and b (q×r). */
function mul(a: ArrayLike<number>, b: ArrayLike<number>, p: number, q: number, r: number): Float64Array {
  const out = new Float64Array(p * r);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < q; k++) s += a[i * q + k]! * b[k * r + j]!;
      out[i * r + j] = s;
    }
  return out;
}

function transposeArr(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

function rot(theta: number): Float64Array {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return Float64Array.from([c, -s, s, c]);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e), `entry ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  }
}

function buf(state: RefState, key: string): Float64Array {
  const v = state[key];
  expect(v).toBeInstanceOf(Float64Array);
  return v as Float64Array;
}

const ADAGRAD_FULL = { lr: 1e-2, eps: 1e-10, maxDim: 4096, spectralPenalty: 0, nonFinite: 'throw' };

const GALORE = {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-6,
  weightDecay: 0,
  rank: 128,
  updateProjGap: 200,
  scale: 0.25,
  projector: 'svd',
  weightDecayNorm: 'frobenius',
  spectralIters: 10,
  spectralWarmStart: false,
  spectralPenalty: 0,
  nonFinite: 'throw',
};

/** Sign convention: the largest-|·| entry (first on ties) of v is positive. */
function expectSignConvention(v: ArrayLike<number>): void {
  let best = 0;
  for (let k = 1; k < v.length; k++) if (Math.abs(v[k]!) > Math.abs(v[best]!)) best = k;
  expect(v[best]!).toBeGreaterThan(0);
}

// ---------------------------------------------------------------- adagrad-full

describe('reference adagrad-full', () => {
  it('is registered', () => {
    expect(REFERENCE_OPTIMIZERS).toContain('adagrad-full');
  });

  it('on a 1×1 parameter is diagonal Adagrad: W ← W − lr·g/(√Σg² + ε)', () => {
    const opt = referenceOptimizer('adagrad-full', { ...ADAGRAD_FULL, lr: 0.1 });
    const st = opt.init(1, 1);
    const w = Float64Array.from([1]);
    opt.step(w, Float64Array.from([3]), 1, 1, st);
    expect(w[0]).toBeCloseTo(1 - (0.1 * 3) / (3 + 1e-10), 14);
    opt.step(w, Float64Array.from([-4]), 1, 1, st);
    expect(w[0]).toBeCloseTo(1 - (0.1 * 3) / (3 + 1e-10) + (0.1 * 4) / (5 + 1e-10), 14);
    expect(buf(st, 'S')[0]).toBe(25);
    expect(st.step).toBe(2);
  });

  it('with orthogonal coordinate gradients keeps S diagonal (per-coordinate Adagrad)', () => {
    const opt = referenceOptimizer('adagrad-full', { ...ADAGRAD_FULL, lr: 0.5 });
    const st = opt.init(1, 3);
    const w = Float64Array.from([0, 0, 0]);
    opt.step(w, Float64Array.from([2, 0, 0]), 1, 3, st);
    expectClose(w, [-0.5 * (2 / (2 + 1e-10)), 0, 0]);
    opt.step(w, Float64Array.from([0, -3, 0]), 1, 3, st);
    expectClose(w, [-0.5 * (2 / (2 + 1e-10)), 0.5 * (3 / (3 + 1e-10)), 0]);
    // S = diag(4, 9, 0): the untouched third coordinate never moved.
    expectClose(buf(st, 'S'), [4, 0, 0, 0, 9, 0, 0, 0, 0]);
  });

  it('two orthogonal gradients in a rotated basis give S = 2I, direction g/(√2 + ε)', () => {
    const eps = 1e-3;
    const opt = referenceOptimizer('adagrad-full', { ...ADAGRAD_FULL, lr: 1, eps });
    const st = opt.init(2, 1);
    const w = Float64Array.from([0, 0]);
    opt.step(w, Float64Array.from([1, 1]), 2, 1, st);
    // S = ggᵀ has eigenvalue 2 along g: direction g/(√2 + ε).
    expectClose(w, [-1 / (Math.SQRT2 + eps), -1 / (Math.SQRT2 + eps)], 1e-10);
    const w1 = Float64Array.from(w);
    opt.step(w, Float64Array.from([1, -1]), 2, 1, st);
    expectClose(buf(st, 'S'), [2, 0, 0, 2]);
    expectClose(w, [w1[0]! - 1 / (Math.SQRT2 + eps), w1[1]! + 1 / (Math.SQRT2 + eps)], 1e-10);
  });

  it('matches the closed-form 2×2 square root (S^{1/2} = (S + √det·I)/√(tr + 2√det))', () => {
    const rand = rng(4);
    const lr = 0.3;
    const eps = 1e-10;
    const opt = referenceOptimizer('adagrad-full', { ...ADAGRAD_FULL, lr, eps });
    const st = opt.init(1, 2);
    const w = randomArray(2, rand);
    const S = [0, 0, 0, 0];
    for (let k = 0; k < 4; k++) {
      const g = randomArray(2, rand);
      const before = Float64Array.from(w);
      opt.step(w, g, 1, 2, st);
      S[0] += g[0]! * g[0]!;
      S[1] += g[0]! * g[1]!;
      S[2] += g[1]! * g[0]!;
      S[3] += g[1]! * g[1]!;
      if (k === 0) continue; // rank-1 S: the null direction is amplified by 1/ε
      const det = S[0]! * S[3]! - S[1]! * S[2]!;
      const sd = Math.sqrt(det);
      const den = Math.sqrt(S[0]! + S[3]! + 2 * sd);
      // A = S^{1/2} + εI, direction = A⁻¹g.
      const a = (S[0]! + sd) / den + eps;
      const b = S[1]! / den;
      const d = (S[3]! + sd) / den + eps;
      const inv = 1 / (a * d - b * b);
      const dir = [inv * (d * g[0]! - b * g[1]!), inv * (-b * g[0]! + a * g[1]!)];
      expectClose(w, [before[0]! - lr * dir[0]!, before[1]! - lr * dir[1]!], 1e-10);
    }
    expectClose(buf(st, 'S'), S);
  });

  it('refuses d > maxDim at init, accepts d = maxDim', () => {
    const opt = referenceOptimizer('adagrad-full', { ...ADAGRAD_FULL, maxDim: 6 });
    expect(() => opt.init(2, 3)).not.toThrow();
    expect(() => opt.init(7, 1)).toThrow(RangeError);
    expect(() => opt.init(7, 1)).toThrow('adagrad-full: the parameter has 7 entries, more than maxDim = 6');
    const big = referenceOptimizer('adagrad-full', ADAGRAD_FULL);
    expect(() => big.init(65, 64)).toThrow(/more than maxDim = 4096/);
  });
});

// ---------------------------------------------------------------- galore-adamw

describe('reference galore-adamw', () => {
  it('is registered', () => {
    expect(REFERENCE_OPTIMIZERS).toContain('galore-adamw');
  });

  it('first step by hand on a square G with a known SVD (rank = 2, updateProjGap 1)', () => {
    const a = 0.7;
    const b = 0.3; // right singular vectors (cos b, sin b), (−sin b, cos b): largest entries positive
    const s = [3, 1];
    const Rb = rot(b);
    const G = mul(mul(rot(a), [s[0]!, 0, 0, s[1]!], 2, 2, 2), transposeArr(Rb, 2, 2), 2, 2, 2);
    const h = { ...GALORE, lr: 0.01, rank: 2, updateProjGap: 1, scale: 0.5 };
    const opt = referenceOptimizer('galore-adamw', h);
    const st = opt.init(2, 2);
    const w0 = Float64Array.from([0.5, -0.25, 1, 2]);
    const w = Float64Array.from(w0);
    opt.step(w, G, 2, 2, st);

    const P = transposeArr(Rb, 2, 2); // rows = right singular vectors
    expectClose(buf(st, 'P'), P, 1e-12);
    const R = mul(rot(a), [3, 0, 0, 1], 2, 2, 2); // G·Pᵀ = U·Σ
    expectClose(buf(st, 'm'), R.map((x) => 0.1 * x), 1e-12);
    expectClose(buf(st, 'v'), R.map((x) => 0.001 * x * x), 1e-12);
    const N = R.map((x) => (0.1 * x) / (Math.sqrt(0.001) * Math.abs(x) + 1e-6));
    const back = mul(N, P, 2, 2, 2);
    const step = 0.01 * (Math.sqrt(1 - 0.999) / (1 - 0.9)) * 0.5;
    expectClose(w, w0.map((x, i) => x - step * back[i]!), 1e-12);
  });

  it('rank 1 on a tall G keeps an r×cols projector and m of shape rows×r', () => {
    const rand = rng(11);
    const opt = referenceOptimizer('galore-adamw', { ...GALORE, rank: 1 });
    const st = opt.init(4, 3);
    expect(buf(st, 'P').length).toBe(3);
    expect(buf(st, 'm').length).toBe(4);
    const G = randomArray(12, rand);
    opt.step(new Float64Array(12), G, 4, 3, st);
    const P = buf(st, 'P');
    const v1 = svd(dense(4, 3, G)).Vt.data.subarray(0, 3);
    const dot = P[0]! * v1[0]! + P[1]! * v1[1]! + P[2]! * v1[2]!;
    expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-12);
    expectSignConvention(P);
  });

  it('rows < cols uses the left singular vectors (rows×r) and back-projects P·N', () => {
    const a = 0.4; // left vectors (cos a, sin a), (−sin a, cos a)
    const core = [3, 0, 0, 0, 1, 0]; // 2×3, singular values 3, 1
    const G = mul(rot(a), core, 2, 2, 3);
    const opt = referenceOptimizer('galore-adamw', { ...GALORE, lr: 0.1, scale: 1 });
    const st = opt.init(2, 3);
    expect(buf(st, 'P').length).toBe(4);
    expect(buf(st, 'm').length).toBe(6);
    const w = new Float64Array(6);
    opt.step(w, G, 2, 3, st);
    const P = rot(a); // columns = left vectors
    expectClose(buf(st, 'P'), P, 1e-12);
    expectClose(buf(st, 'm'), core.map((x) => 0.1 * x), 1e-12); // R = PᵀG = core
    const N = core.map((x) => (0.1 * x) / (Math.sqrt(0.001) * Math.abs(x) + 1e-6));
    const back = mul(P, N, 2, 2, 3);
    const step = 0.1 * (Math.sqrt(0.001) / 0.1);
    expectClose(w, back.map((x) => -step * x), 1e-12);
    // Only the two-dimensional column space moved: the third column of W stays zero.
    expect(w[2]).toBe(0);
    expect(w[5]).toBe(0);
  });

  it('refreshes the projector only at steps 0, gap, 2·gap (counted before the increment)', () => {
    const rand = rng(21);
    const gap = 3;
    const opt = referenceOptimizer('galore-adamw', { ...GALORE, rank: 1, updateProjGap: gap });
    const st = opt.init(3, 2);
    const w = randomArray(6, rand);
    let prev: Float64Array | null = null;
    for (let s = 0; s < 8; s++) {
      const G = randomArray(6, rand);
      opt.step(w, G, 3, 2, st);
      const P = Float64Array.from(buf(st, 'P'));
      if (s % gap === 0) {
        const v1 = svd(dense(3, 2, G)).Vt.data.subarray(0, 2);
        const sgn = Math.abs(v1[0]!) >= Math.abs(v1[1]!) ? Math.sign(v1[0]!) : Math.sign(v1[1]!);
        expectClose(P, [sgn * v1[0]!, sgn * v1[1]!], 1e-12);
        if (prev !== null) expect(Array.from(P)).not.toEqual(Array.from(prev));
      } else {
        expect(Array.from(P)).toEqual(Array.from(prev!));
      }
      prev = P;
    }
    expect(st.step).toBe(8);
  });

  it('keeps the moments (neither reset nor rotated) when the projector changes', () => {
    const rand = rng(31);
    const [b1, b2] = [0.8, 0.95];
    const opt = referenceOptimizer('galore-adamw', { ...GALORE, betas: [b1, b2], rank: 2, updateProjGap: 2 });
    const st = opt.init(3, 2);
    const w = randomArray(6, rand);
    for (let s = 0; s < 5; s++) {
      const G = randomArray(6, rand);
      const m0 = Float64Array.from(buf(st, 'm'));
      const v0 = Float64Array.from(buf(st, 'v'));
      opt.step(w, G, 3, 2, st);
      const R = mul(G, transposeArr(buf(st, 'P'), 2, 2), 3, 2, 2); // G·Pᵀ with this step's P
      expectClose(buf(st, 'm'), m0.map((x, i) => b1 * x + (1 - b1) * R[i]!), 1e-12);
      expectClose(buf(st, 'v'), v0.map((x, i) => b2 * x + (1 - b2) * R[i]! * R[i]!), 1e-12);
    }
  });

  it('bias correction uses t = step count after the increment', () => {
    const rand = rng(41);
    const h = { ...GALORE, lr: 0.05, rank: 1, updateProjGap: 100, scale: 2 };
    const opt = referenceOptimizer('galore-adamw', h);
    const st = opt.init(2, 2);
    const w = randomArray(4, rand);
    for (let t = 1; t <= 3; t++) {
      const before = Float64Array.from(w);
      opt.step(w, randomArray(4, rand), 2, 2, st);
      const P = buf(st, 'P');
      const m = buf(st, 'm');
      const v = buf(st, 'v');
      const N = m.map((x, i) => x / (Math.sqrt(v[i]!) + 1e-6));
      const back = mul(N, P, 2, 1, 2);
      const step = 0.05 * (Math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)) * 2;
      expectClose(w, before.map((x, i) => x - step * back[i]!), 1e-12);
    }
  });

  it('flips singular vectors so the largest-|·| entry is positive (first on ties)', () => {
    const rand = rng(51);
    for (let k = 0; k < 20; k++) {
      const [rows, cols] = k % 2 === 0 ? [4, 3] : [2, 5];
      const opt = referenceOptimizer('galore-adamw', { ...GALORE, rank: 2 });
      const st = opt.init(rows, cols);
      opt.step(randomArray(rows * cols, rand), randomArray(rows * cols, rand), rows, cols, st);
      const P = buf(st, 'P');
      if (rows >= cols) for (let i = 0; i < 2; i++) expectSignConvention(P.subarray(i * cols, (i + 1) * cols));
      else for (let j = 0; j < 2; j++) expectSignConvention([P[j]!, P[2 + j]!]);
    }
    // G and −G give the same projector; a tie picks the first entry: v = (1, −1)/√2.
    for (const sgn of [1, -1]) {
      const opt = referenceOptimizer('galore-adamw', { ...GALORE, rank: 1 });
      const st = opt.init(2, 2);
      opt.step(new Float64Array(4), Float64Array.from([1, -1, 2, -2].map((x) => sgn * x)), 2, 2, st);
      expectClose(buf(st, 'P'), [Math.SQRT1_2, -Math.SQRT1_2], 1e-12);
    }
  });

  it("'randomized' gives the same result as 'svd' in the reference", () => {
    const rand = rng(61);
    const G = randomArray(15, rand);
    const w0 = randomArray(15, rand);
    const out: Float64Array[] = [];
    for (const projector of ['svd', 'randomized']) {
      const opt = referenceOptimizer('galore-adamw', { ...GALORE, rank: 2, projector });
      const st = opt.init(5, 3);
      const w = Float64Array.from(w0);
      opt.step(w, G, 5, 3, st);
      out.push(w);
    }
    expect(Array.from(out[1]!)).toEqual(Array.from(out[0]!));
  });

  it('applies the decoupled decay after the step, on the updated W', () => {
    const rand = rng(71);
    const lr = 0.1;
    const lambda = 0.3;
    const G = randomArray(6, rand);
    const w0 = randomArray(6, rand);
    const run = (extra: Record<string, unknown>): Float64Array => {
      const opt = referenceOptimizer('galore-adamw', { ...GALORE, lr, rank: 1, ...extra });
      const st = opt.init(3, 2);
      const w = Float64Array.from(w0);
      opt.step(w, G, 3, 2, st);
      return w;
    };
    const plain = run({});
    const decayed = run({ weightDecay: lambda });
    expectClose(decayed, plain.map((x) => x * (1 - lr * lambda)), 1e-14);
    // Decay before the step would give w0·(1 − lr·λ) − update instead: differs.
    const before = w0.map((x, i) => x * (1 - lr * lambda) + (plain[i]! - x));
    expect(Math.max(...decayed.map((x, i) => Math.abs(x - before[i]!)))).toBeGreaterThan(1e-6);
  });

  it("spectral decay subtracts lr·λ·rank1(W before the step)", () => {
    const lr = 0.1;
    const lambda = 0.5;
    const w0 = Float64Array.from([2, 0, 0, 1, 0, 0]); // 3×2, rank1 = diag(2, 0) in the top block
    const G = Float64Array.from([0.3, -0.2, 0.1, 0.4, -0.5, 0.6]);
    const run = (extra: Record<string, unknown>): Float64Array => {
      const opt = referenceOptimizer('galore-adamw', { ...GALORE, lr, rank: 1, spectralIters: 60, ...extra });
      const st = opt.init(3, 2);
      const w = Float64Array.from(w0);
      opt.step(w, G, 3, 2, st);
      return w;
    };
    const plain = run({});
    const decayed = run({ weightDecay: lambda, weightDecayNorm: 'spectral' });
    expectClose(decayed, plain.map((x, i) => (i === 0 ? x - lr * lambda * 2 : x)), 1e-12);
  });

  it('rejects a bad rank, gap or projector', () => {
    expect(() => referenceOptimizer('galore-adamw', { ...GALORE, rank: 0 })).toThrow(RangeError);
    expect(() => referenceOptimizer('galore-adamw', { ...GALORE, updateProjGap: 1.5 })).toThrow(RangeError);
    expect(() => referenceOptimizer('galore-adamw', { ...GALORE, projector: 'qr' })).toThrow(TypeError);
  });
});
