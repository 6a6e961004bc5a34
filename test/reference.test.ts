// Checks the float64 reference implementations against mathematical
// properties (reconstruction, orthogonality, ordering, known spectra), never
// against each other's output. Products in the checks use the small local
// `mm` below, not the reference gemm, so a gemm bug cannot hide elsewhere.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { dense, identity, transpose, type Dense } from '../src/reference/dense.js';
import { gemm } from '../src/reference/gemm.js';
import { eigh } from '../src/reference/eigh.js';
import { svd } from '../src/reference/svd.js';
import { qr } from '../src/reference/qr.js';
import { powerIteration } from '../src/reference/powerIteration.js';
import * as reference from '../src/reference/index.js';
import { mul, rng } from './reference-helpers.js';

// SPECOPT_REF_RUNS=2000 for a longer soak; the default keeps the file to a few seconds.
const NUM_RUNS = Number(process.env.SPECOPT_REF_RUNS ?? 50);
const TOL = 1e-10;

// ---------------------------------------------------------------- helpers

function diagMatrix(rows: number, cols: number, d: ArrayLike<number>): Dense {
  const out = dense(rows, cols);
  for (let i = 0; i < d.length; i++) out.data[i * cols + i] = d[i]!;
  return out;
}

function scaleMatrix(a: Dense, s: number): Dense {
  return dense(a.rows, a.cols, Array.from(a.data, (x) => x * s));
}

/** Frobenius norm, scaled so 1e±30 inputs do not over/underflow. */
function fro(a: Dense): number {
  let mx = 0;
  for (const x of a.data) mx = Math.max(mx, Math.abs(x));
  if (mx === 0) return 0;
  let s = 0;
  for (const x of a.data) s += (x / mx) ** 2;
  return mx * Math.sqrt(s);
}

function maxAbsDiff(a: Dense, b: Dense): number {
  expect([a.rows, a.cols]).toEqual([b.rows, b.cols]);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}

/**
 * ‖a − b‖_max ≤ tol · scale + SUBNORMAL_FLOOR, with a readable failure message. fast-check's
 * doubles include subnormals (down to 5e-324); rounding there is absolute, one 2⁻¹⁰⁷⁴ step per
 * operation however small the scale, so a relative bound alone fails on a matrix of subnormals
 * (seen: a 2×3 of ~1e-323 reconstructed to within 5e-324, against an allowed 0).
 */
const SUBNORMAL_FLOOR = 1024 * Number.MIN_VALUE;
function expectClose(a: Dense, b: Dense, scale: number, tol = TOL): void {
  const d = maxAbsDiff(a, b);
  const allowed = tol * scale + SUBNORMAL_FLOOR;
  expect(d, `max |diff| ${d} vs allowed ${allowed}`).toBeLessThanOrEqual(allowed);
}

/** Columns of q orthonormal: qᵀq = I. */
function expectOrthonormalColumns(q: Dense, tol = TOL): void {
  expectClose(mul(transpose(q), q), identity(q.cols), 1, tol);
}


function randomMatrix(rows: number, cols: number, rand: () => number): Dense {
  return dense(rows, cols, Array.from({ length: rows * cols }, () => 2 * rand() - 1));
}

/** Random n×n orthogonal matrix as the Q factor of a random square matrix. */
function randomOrthogonal(n: number, rand: () => number): Dense {
  const q = qr(randomMatrix(n, n, rand)).Q;
  expectOrthonormalColumns(q, 1e-13);
  return q;
}

// ---------------------------------------------------------------- arbitraries

const arbEntry = fc.double({ min: -1, max: 1, noNaN: true });
const arbScale = fc.constantFrom(1, 1e-30, 1e30);

/** Random rows×cols matrix with rows, cols in [1, 12], optionally scaled. */
function arbMatrix(minDim = 1, maxDim = 12): fc.Arbitrary<Dense> {
  return fc
    .tuple(fc.integer({ min: minDim, max: maxDim }), fc.integer({ min: minDim, max: maxDim }), arbScale)
    .chain(([r, c, s]) =>
      fc.array(arbEntry, { minLength: r * c, maxLength: r * c }).map((xs) => dense(r, c, xs.map((x) => x * s))),
    );
}

/** Random n×n matrix, n in [1, 12], optionally scaled. */
const arbSquare: fc.Arbitrary<Dense> = fc
  .tuple(fc.integer({ min: 1, max: 12 }), arbScale)
  .chain(([n, s]) =>
    fc.array(arbEntry, { minLength: n * n, maxLength: n * n }).map((xs) => dense(n, n, xs.map((x) => x * s))),
  );

/** Rank ≤ r matrix as a sum of r outer products (no zero entries in general, yet rank-deficient). */
const arbLowRank: fc.Arbitrary<Dense> = fc
  .tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 3 }), fc.integer())
  .map(([m, n, r, seed]) => {
    const rand = rng(seed);
    return mul(randomMatrix(m, r, rand), randomMatrix(r, n, rand));
  });

// ---------------------------------------------------------------- dense

describe('dense', () => {
  it('copies data and validates shapes', () => {
    const src = [1, 2, 3, 4, 5, 6];
    const a = dense(2, 3, src);
    src[0] = 99;
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => dense(2, 2, [1, 2, 3])).toThrow();
    const f32 = { rows: 1, cols: 2, data: new Float32Array([0.1, 2]) };
    const d = reference.toDense(f32);
    expect(d.data).toBeInstanceOf(Float64Array);
    expect(d.data[0]).toBe(Math.fround(0.1));
    expect(Array.from(transpose(a).data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(identity(2).data)).toEqual([1, 0, 0, 1]);
  });
});

// ---------------------------------------------------------------- gemm

describe('gemm', () => {
  const A = dense(2, 3, [1, 2, 3, 4, 5, 6]);
  const B = dense(3, 2, [7, 8, 9, 10, 11, 12]);

  it('matches hand-computed products', () => {
    expect(Array.from(gemm(A, B).data)).toEqual([58, 64, 139, 154]);
    // AᵀAᵀ-style shapes: op(A) = Aᵀ (3×2), op(B) = Bᵀ (2×3)
    expect(Array.from(gemm(A, B, { transA: true, transB: true }).data)).toEqual([
      39, 49, 59, 54, 68, 82, 69, 87, 105,
    ]);
    expect(Array.from(gemm(A, A, { transB: true }).data)).toEqual([14, 32, 32, 77]);
    expect(Array.from(gemm(A, A, { transA: true }).data)).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
    // 1×n times n×1 and n×1 times 1×n
    expect(Array.from(gemm(dense(1, 3, [1, 2, 3]), dense(3, 1, [4, 5, 6])).data)).toEqual([32]);
    expect(Array.from(gemm(dense(2, 1, [1, 2]), dense(1, 2, [3, 4])).data)).toEqual([3, 4, 6, 8]);
  });

  it('applies alpha and beta and leaves C untouched', () => {
    const C = dense(2, 2, [1, 1, 1, 1]);
    const out = gemm(A, B, { alpha: 2, beta: -3, c: C });
    expect(Array.from(out.data)).toEqual([113, 125, 275, 305]);
    expect(Array.from(C.data)).toEqual([1, 1, 1, 1]);
    expect(out).not.toBe(C);
  });

  it('ignores C entirely when beta is 0 (no NaN propagation, like BLAS)', () => {
    const C = dense(2, 2, [NaN, Infinity, -Infinity, NaN]);
    expect(Array.from(gemm(A, B, { beta: 0, c: C }).data)).toEqual([58, 64, 139, 154]);
    expect(Array.from(gemm(A, B, { c: C }).data)).toEqual([58, 64, 139, 154]);
  });

  it('handles an empty inner dimension and rejects mismatched shapes', () => {
    expect(Array.from(gemm(dense(2, 0), dense(0, 2)).data)).toEqual([0, 0, 0, 0]);
    expect(() => gemm(A, A)).toThrow();
    expect(() => gemm(A, B, { c: dense(3, 3), beta: 1 })).toThrow();
  });

  it('satisfies (AB)ᵀ = BᵀAᵀ and the transpose flags agree with explicit transposes', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.integer()),
        ([m, k, n, seed]) => {
          const rand = rng(seed);
          const a = randomMatrix(m, k, rand);
          const b = randomMatrix(k, n, rand);
          const ab = gemm(a, b);
          const scale = fro(a) * fro(b);
          expectClose(transpose(ab), gemm(transpose(b), transpose(a)), scale, 1e-14);
          expectClose(transpose(ab), gemm(b, a, { transA: true, transB: true }), scale, 1e-14);
          expectClose(ab, mul(a, b), scale, 1e-14);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------- eigh

function checkEigh(s: Dense, tol = TOL): ReturnType<typeof eigh> {
  const n = s.rows;
  const sym = dense(n, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      sym.data[i * n + j] = s.data[i * n + j]!;
      sym.data[j * n + i] = s.data[i * n + j]!;
    }
  const { values, vectors } = eigh(s);
  expect(values.length).toBe(n);
  expect([vectors.rows, vectors.cols]).toEqual([n, n]);
  for (let i = 1; i < n; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
  expectOrthonormalColumns(vectors, tol);
  const scale = Math.max(fro(sym), Number.MIN_VALUE);
  expectClose(mul(sym, vectors), mul(vectors, diagMatrix(n, n, values)), scale, tol);
  return { values, vectors };
}

describe('eigh', () => {
  it('decomposes random symmetric matrices, reading only the lower triangle', () => {
    fc.assert(
      fc.property(arbSquare, (raw) => {
        // Poison the strict upper triangle: it must never be read.
        const n = raw.rows;
        const s = dense(n, n, raw.data);
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s.data[i * n + j] = NaN;
        checkEigh(s);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('handles 1×1 and diagonal matrices exactly', () => {
    const one = eigh(dense(1, 1, [-3.5]));
    expect(Array.from(one.values)).toEqual([-3.5]);
    expect(Math.abs(one.vectors.data[0]!)).toBe(1);
    const d = checkEigh(diagMatrix(4, 4, [3, -1, 2, 0]));
    expect(Array.from(d.values)).toEqual([-1, 0, 2, 3]);
  });

  it('handles the zero and identity matrices (fully repeated eigenvalues)', () => {
    const z = checkEigh(dense(3, 3));
    expect(Array.from(z.values)).toEqual([0, 0, 0]);
    const id = checkEigh(identity(5));
    expect(Array.from(id.values)).toEqual([1, 1, 1, 1, 1]);
  });

  it('handles repeated eigenvalues Q diag(1,1,2,2,3) Qᵀ', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const q = randomOrthogonal(5, rng(seed));
      const s = mul(mul(q, diagMatrix(5, 5, [2, 1, 3, 2, 1])), transpose(q));
      const { values } = checkEigh(s, 1e-12);
      const expected = [1, 1, 2, 2, 3];
      for (let i = 0; i < 5; i++) expect(Math.abs(values[i]! - expected[i]!)).toBeLessThan(1e-12);
    }
  });

  it('is scale-invariant down to 1e-30 and up to 1e30', () => {
    const rand = rng(42);
    const base = randomMatrix(6, 6, rand);
    const sym = mul(base, transpose(base));
    const ref = checkEigh(sym);
    for (const s of [1e-30, 1e30, 1e-300, 1e300]) {
      const r = checkEigh(scaleMatrix(sym, s));
      for (let i = 0; i < 6; i++) expect(Math.abs(r.values[i]! - s * ref.values[i]!)).toBeLessThan(1e-12 * s * fro(sym));
    }
    // Mixed magnitudes in one matrix.
    const mixed = checkEigh(diagMatrix(3, 3, [1e30, 1e-30, -1]));
    expect(Array.from(mixed.values)).toEqual([-1, 1e-30, 1e30]);
  });

  it('rejects non-square and non-finite lower-triangle input', () => {
    expect(() => eigh(dense(2, 3))).toThrow();
    expect(() => eigh(dense(2, 2, [1, 0, NaN, 1]))).toThrow();
    expect(() => eigh(dense(2, 2, [1, NaN, 0, 1]))).not.toThrow();
  });
});

// ---------------------------------------------------------------- svd

function checkSvd(a: Dense, tol = TOL): ReturnType<typeof svd> {
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  const r = svd(a);
  expect([r.U.rows, r.U.cols]).toEqual([m, k]);
  expect(r.S.length).toBe(k);
  expect([r.Vt.rows, r.Vt.cols]).toEqual([k, n]);
  for (let i = 0; i < k; i++) {
    expect(r.S[i]!).toBeGreaterThanOrEqual(0);
    if (i > 0) expect(r.S[i]!).toBeLessThanOrEqual(r.S[i - 1]!);
  }
  expectOrthonormalColumns(r.U, tol);
  expectOrthonormalColumns(transpose(r.Vt), tol);
  const scale = Math.max(fro(a), Number.MIN_VALUE);
  expectClose(mul(mul(r.U, diagMatrix(k, k, r.S)), r.Vt), a, scale, tol);
  return r;
}

describe('svd', () => {
  it('decomposes random m×n matrices (including 1×n and n×1)', () => {
    fc.assert(fc.property(arbMatrix(1, 12), (a) => void checkSvd(a)), { numRuns: NUM_RUNS });
  });

  it('decomposes rank-deficient outer-product sums', () => {
    fc.assert(
      fc.property(arbLowRank, (a) => {
        const r = checkSvd(a);
        // rank ≤ 3: everything after the third singular value is rounding noise
        for (let i = 3; i < r.S.length; i++) expect(r.S[i]!).toBeLessThan(1e-12 * fro(a));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('handles explicit awkward shapes', () => {
    checkSvd(dense(1, 1, [-2]));
    expect(Array.from(svd(dense(1, 1, [-2])).S)).toEqual([2]);
    const row = checkSvd(dense(1, 4, [3, 0, -4, 0]));
    expect(row.S[0]).toBeCloseTo(5, 14);
    const col = checkSvd(dense(4, 1, [0, 3, 0, 4]));
    expect(col.S[0]).toBeCloseTo(5, 14);
    // identical columns / rows
    const dup = checkSvd(dense(3, 3, [1, 1, 1, 2, 2, 2, 3, 3, 3]));
    expect(dup.S[1]!).toBeLessThan(1e-14);
  });

  it('returns an orthonormal U for zero and partly zero matrices', () => {
    for (const [m, n] of [
      [1, 1],
      [3, 3],
      [5, 2],
      [2, 5],
      [1, 4],
      [4, 1],
    ] as const) {
      const r = checkSvd(dense(m, n));
      expect(Array.from(r.S)).toEqual(new Array(Math.min(m, n)).fill(0));
    }
    // Zero column in the middle and a zero row.
    checkSvd(dense(3, 3, [1, 0, 2, 3, 0, 4, 0, 0, 0]));
    checkSvd(dense(4, 3, [0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('recovers known singular values of (rectangular) diagonal matrices', () => {
    const r = checkSvd(diagMatrix(3, 3, [3, -1, 2]));
    expect(Array.from(r.S)).toEqual([3, 2, 1]);
    const tall = checkSvd(diagMatrix(5, 3, [0.5, 4, -7]));
    expect(Array.from(tall.S)).toEqual([7, 4, 0.5]);
    const wide = checkSvd(diagMatrix(2, 6, [1e-30, -1e30]));
    expect(Array.from(wide.S)).toEqual([1e30, 1e-30]);
  });

  it('recovers prescribed singular values of U diag Vᵀ with random orthogonal factors', () => {
    const rand = rng(7);
    const sv = [10, 5, 5, 1, 1e-3, 0];
    const a = mul(mul(randomOrthogonal(8, rand), diagMatrix(8, 6, sv)), transpose(randomOrthogonal(6, rand)));
    const r = checkSvd(a);
    for (let i = 0; i < 6; i++) expect(Math.abs(r.S[i]! - sv[i]!)).toBeLessThan(1e-13);
  });

  it('works at scales 1e-30 and 1e30', () => {
    const base = randomMatrix(5, 3, rng(9));
    const ref = checkSvd(base);
    for (const s of [1e-30, 1e30]) {
      const r = checkSvd(scaleMatrix(base, s));
      for (let i = 0; i < 3; i++) expect(Math.abs(r.S[i]! - s * ref.S[i]!)).toBeLessThan(1e-13 * s * fro(base));
    }
  });
});

// ---------------------------------------------------------------- qr

function checkQr(a: Dense, tol = TOL): ReturnType<typeof qr> {
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  const r = qr(a);
  expect([r.Q.rows, r.Q.cols]).toEqual([m, k]);
  expect([r.R.rows, r.R.cols]).toEqual([k, n]);
  for (let i = 0; i < k; i++) for (let j = 0; j < Math.min(i, n); j++) expect(r.R.data[i * n + j]).toBe(0);
  expectOrthonormalColumns(r.Q, tol);
  expectClose(mul(r.Q, r.R), a, Math.max(fro(a), Number.MIN_VALUE), tol);
  return r;
}

describe('qr', () => {
  it('factorises random tall, wide, 1×n and n×1 matrices', () => {
    fc.assert(fc.property(arbMatrix(1, 12), (a) => void checkQr(a)), { numRuns: NUM_RUNS });
  });

  it('factorises rank-deficient matrices', () => {
    fc.assert(fc.property(arbLowRank, (a) => void checkQr(a)), { numRuns: NUM_RUNS });
  });

  it('handles zero columns with a zero on the diagonal of R', () => {
    const a = dense(3, 3, [0, 1, 2, 0, 3, 4, 0, 5, 6]);
    const r = checkQr(a);
    expect(r.R.data[0]).toBe(0);
    for (const [m, n] of [
      [3, 3],
      [4, 2],
      [2, 4],
      [1, 1],
    ] as const) {
      const z = checkQr(dense(m, n));
      expect(Array.from(z.R.data).every((x) => x === 0)).toBe(true);
    }
    // zero middle column
    checkQr(dense(3, 3, [1, 0, 2, 3, 0, 4, 5, 0, 7]));
  });

  it('handles explicit awkward shapes and scales', () => {
    checkQr(dense(1, 1, [-2]));
    checkQr(dense(1, 5, [1, 2, 3, 4, 5]));
    const col = checkQr(dense(4, 1, [3, 0, 4, 0]));
    expect(Math.abs(col.R.data[0]!)).toBeCloseTo(5, 14);
    checkQr(scaleMatrix(randomMatrix(4, 3, rng(3)), 1e-30));
    checkQr(scaleMatrix(randomMatrix(4, 3, rng(3)), 1e30));
    checkQr(scaleMatrix(randomMatrix(3, 4, rng(4)), 1e-200));
    checkQr(scaleMatrix(randomMatrix(3, 4, rng(4)), 1e200));
  });
});

// ---------------------------------------------------------------- powerIteration

/** m×n matrix with singular values sv (descending) and random orthogonal factors. */
function withSingularValues(m: number, n: number, sv: number[], rand: () => number): Dense {
  return mul(mul(randomOrthogonal(m, rand), diagMatrix(m, n, sv)), transpose(randomOrthogonal(n, rand)));
}

function norm(x: Float64Array): number {
  return Math.hypot(...x);
}

describe('powerIteration', () => {
  it('converges to σ₁ = 10 (σ₂ = 1) within 1e-10 in 30 iterations in both schemes', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.integer()),
        ([m, n, seed]) => {
          const k = Math.min(m, n);
          const sv = [10, ...Array.from({ length: k - 1 }, (_, i) => 1 / (i + 1))];
          const a = withSingularValues(m, n, sv, rng(seed));
          const alt = powerIteration(a, { iters: 30, scheme: 'alternating' });
          const gram = powerIteration(a, { iters: 30, scheme: 'gram' });
          for (const r of [alt, gram]) {
            expect(Math.abs(r.sigma - 10)).toBeLessThan(1e-10);
            expect(r.u.length).toBe(m);
            expect(r.v.length).toBe(n);
            expect(Math.abs(norm(r.u) - 1)).toBeLessThan(1e-14);
            expect(Math.abs(norm(r.v) - 1)).toBeLessThan(1e-14);
            // A v ≈ σ u and Aᵀ u ≈ σ v
            const av = mul(a, dense(n, 1, r.v));
            const atu = mul(transpose(a), dense(m, 1, r.u));
            expectClose(av, scaleMatrix(dense(m, 1, r.u), r.sigma), 10, 1e-8);
            expectClose(atu, scaleMatrix(dense(n, 1, r.v), r.sigma), 10, 1e-8);
          }
          expect(Math.abs(alt.sigma - gram.sigma)).toBeLessThan(1e-10);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('uses 10 iterations and the alternating scheme by default', () => {
    const a = withSingularValues(5, 4, [10, 9, 1, 0.5], rng(11));
    const d = powerIteration(a);
    const e = powerIteration(a, { iters: 10, scheme: 'alternating' });
    expect(d.sigma).toBe(e.sigma);
    expect(Array.from(d.u)).toEqual(Array.from(e.u));
    expect(powerIteration(a, { iters: 11 }).sigma).not.toBe(d.sigma);
  });

  it('computes sigma from the start vector when iters = 0', () => {
    const a = dense(2, 3, [1, 2, 3, 4, 5, 6]);
    // alternating: u = ones/√2, v = Aᵀu/‖Aᵀu‖, sigma = uᵀAv = ‖Aᵀu‖ = ‖[5,7,9]‖/√2
    const alt = powerIteration(a, { iters: 0 });
    expect(alt.sigma).toBeCloseTo(Math.hypot(5, 7, 9) / Math.SQRT2, 13);
    // gram: v = ones/√3, sigma = ‖Av‖ = ‖[6,15]‖/√3
    const gram = powerIteration(a, { iters: 0, scheme: 'gram' });
    expect(gram.sigma).toBeCloseTo(Math.hypot(6, 15) / Math.sqrt(3), 13);
    expect(Array.from(gram.v)).toEqual(new Array(3).fill(1 / Math.sqrt(3)));
    // custom init
    const init = powerIteration(a, { iters: 0, init: [1, 0] });
    expect(init.sigma).toBeCloseTo(Math.hypot(1, 2, 3), 13);
  });

  it('respects init and rejects an init of the wrong length', () => {
    const a = withSingularValues(4, 3, [10, 1, 0.1], rng(5));
    const r = powerIteration(a, { iters: 30, init: [1, -2, 3, 0.5] });
    expect(Math.abs(r.sigma - 10)).toBeLessThan(1e-10);
    const g = powerIteration(a, { iters: 30, scheme: 'gram', init: [0.3, 2, -1] });
    expect(Math.abs(g.sigma - 10)).toBeLessThan(1e-10);
    expect(() => powerIteration(a, { init: [1, 2, 3] })).toThrow();
    expect(() => powerIteration(a, { scheme: 'gram', init: [1, 2, 3, 4] })).toThrow();
  });

  it('restarts when the start vector is orthogonal: A = [[1],[-1]] and its transpose', () => {
    const a = dense(2, 1, [1, -1]);
    for (const A of [a, transpose(a)]) {
      for (const scheme of ['alternating', 'gram'] as const) {
        for (const iters of [0, 1, 10]) {
          const r = powerIteration(A, { scheme, iters });
          expect(Math.abs(norm(r.u) - 1)).toBeLessThan(1e-15);
          expect(Math.abs(norm(r.v) - 1)).toBeLessThan(1e-15);
          // With iters = 0 sigma is a Rayleigh-type estimate from the (restarted,
          // non-optimal) sin start vector; one iteration already finds σ₁ = √2.
          if (iters === 0) {
            expect(r.sigma).toBeGreaterThan(0);
            expect(r.sigma).toBeLessThanOrEqual(Math.SQRT2 * (1 + 1e-15));
          } else {
            expect(r.sigma).toBeCloseTo(Math.SQRT2, 14);
          }
        }
      }
    }
    // An explicitly zero init also falls back.
    expect(powerIteration(dense(2, 2, [1, 0, 0, 2]), { init: [0, 0], iters: 30 }).sigma).toBeCloseTo(2, 12);
  });

  it('copes when the start vector and the sin restart are both (nearly) orthogonal', () => {
    // Rows orthogonal to both the all-ones vector and (sin 1, sin 2, sin 3).
    const s = [Math.sin(1), Math.sin(2), Math.sin(3)];
    const row = [s[1]! - s[2]!, s[2]! - s[0]!, s[0]! - s[1]!];
    const a = dense(1, 3, row);
    const r = powerIteration(a, { scheme: 'gram', iters: 5 });
    expect(Math.abs(r.sigma - Math.hypot(...row)) / Math.hypot(...row)).toBeLessThan(1e-14);
  });

  it('returns sigma 0 and unit e_1 vectors for the zero matrix', () => {
    for (const scheme of ['alternating', 'gram'] as const) {
      for (const [m, n] of [
        [1, 1],
        [3, 2],
        [2, 3],
      ] as const) {
        const r = powerIteration(dense(m, n), { scheme });
        expect(r.sigma).toBe(0);
        expect(Array.from(r.u)).toEqual(Array.from({ length: m }, (_, i) => (i === 0 ? 1 : 0)));
        expect(Array.from(r.v)).toEqual(Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0)));
      }
    }
  });

  it('works at scales 1e-30 and 1e30 (and beyond, where AᵀA would overflow)', () => {
    const base = withSingularValues(4, 3, [10, 1, 0.5], rng(21));
    for (const s of [1e-30, 1e30, 1e-200, 1e200]) {
      const a = scaleMatrix(base, s);
      for (const scheme of ['alternating', 'gram'] as const) {
        const r = powerIteration(a, { scheme, iters: 30 });
        expect(Math.abs(r.sigma / s - 10)).toBeLessThan(1e-10);
      }
    }
  });
});
