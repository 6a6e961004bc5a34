// orthogonalize and spectralNormGrad: native float32 against the float64 reference, async twins,
// bad input.
import { describe, expect, it } from 'vitest';

import { Matrix, orthogonalize, orthogonalizeAsync, spectralNormGrad, spectralNormGradAsync, svd } from '../src/index.js';
import { orthogonalize as refOrthogonalize, spectralNormGrad as refSpectralNormGrad, toDense } from '../src/reference/index.js';

const SHAPES: [number, number][] = [[1, 1], [1, 9], [9, 1], [8, 8], [13, 7], [7, 13], [40, 25], [25, 40], [64, 64]];

// max |native − reference| over the entries, relative to the largest reference entry.
function relErr(native: Matrix, ref: { data: Float64Array }): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.data.length; i++) {
    err = Math.max(err, Math.abs(native.data[i] - ref.data[i]));
    scale = Math.max(scale, Math.abs(ref.data[i]));
  }
  return scale === 0 ? err : err / scale;
}

// A matrix with singular values spread over [0.1, 1] (well conditioned, distinct): U·diag·Vᵀ.
function wellConditioned(m: number, n: number, seed: number): Matrix {
  const k = Math.min(m, n);
  const u = svd(Matrix.randn(m, k, seed)).U;
  const v = svd(Matrix.randn(n, k, seed + 1)).U;
  const a = new Matrix(m, n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += u.data[i * k + p] * (1 - (0.9 * p) / Math.max(1, k - 1)) * v.data[j * k + p];
      a.data[i * n + j] = s;
    }
  return a;
}

describe('orthogonalize vs the float64 reference', () => {
  // Newton-Schulz: 5 steps of three float32 GEMMs (inner size ≤ max(m, n) ≤ 64), each entry
  // rounded ~log2(64) + 2 times, on values of size ≤ ~1.5: a few hundred float32 ulps (2^-24)
  // at most, so 1e-4 relative; a wrong coefficient or one step more or less moves entries by > 1e-2.
  it.each(SHAPES)('newton-schulz on %ix%i, 5 and 3 steps', (m, n) => {
    const g = Matrix.randn(m, n, 10 * m + n);
    for (const steps of [5, 3]) {
      const err = relErr(orthogonalize(g, { steps }), refOrthogonalize(toDense(g), { steps }));
      expect(err, `${m}x${n}, ${steps} steps`).toBeLessThan(1e-4);
    }
    const oneMore = relErr(orthogonalize(g, { steps: 6 }), refOrthogonalize(toDense(g), { steps: 5 }));
    if (m * n > 1) expect(oneMore, 'one step more must be detected').toBeGreaterThan(1e-3);
  });

  // The exact polar factor is well determined when the singular values are distinct and away from
  // zero (condition 10 here): float32 SVD error ~ κ·1e-6.
  it.each(SHAPES)('svd on %ix%i (well conditioned)', (m, n) => {
    const g = wellConditioned(m, n, 3 * m + n);
    const native = orthogonalize(g, { method: 'svd' });
    expect(relErr(native, refOrthogonalize(toDense(g), { method: 'svd' }))).toBeLessThan(1e-4);
    const s = svd(native).S;
    for (const x of s) expect(Math.abs(x - 1)).toBeLessThan(1e-5);
  });

  it('the zero matrix gives zero; the transpose path agrees with orthogonalize(Gᵀ)ᵀ', () => {
    for (const method of ['newton-schulz', 'svd'] as const) {
      expect(Array.from(orthogonalize(new Matrix(3, 5), { method }).data).every((x) => x === 0)).toBe(true);
    }
    const g = Matrix.randn(30, 12, 4);
    const direct = orthogonalize(g);
    const viaTranspose = orthogonalize(g.transpose()).transpose();
    expect(relErr(direct, { data: Float64Array.from(viaTranspose.data) })).toBeLessThan(1e-6);
  });

  it('spectralNormGrad matches the reference σ₁u₁v₁ᵀ', () => {
    for (const [m, n] of SHAPES) {
      const w = wellConditioned(m, n, 7 * m + n);
      expect(relErr(spectralNormGrad(w), refSpectralNormGrad(toDense(w))), `${m}x${n}`).toBeLessThan(1e-4);
    }
  });
});

describe('async twins and bad input', () => {
  it('resolve to exactly the sync results', async () => {
    const g = Matrix.randn(33, 21, 5);
    expect((await orthogonalizeAsync(g)).data).toEqual(orthogonalize(g).data);
    expect((await orthogonalizeAsync(g, { method: 'svd' })).data).toEqual(orthogonalize(g, { method: 'svd' }).data);
    expect((await spectralNormGradAsync(g)).data).toEqual(spectralNormGrad(g).data);
  });

  it('reject bad arguments with the name and the problem', async () => {
    const g = Matrix.randn(3, 4, 1);
    expect(() => orthogonalize(g, { method: 'polar' } as never)).toThrow(TypeError);
    expect(() => orthogonalize(g, { steps: -1 })).toThrow(RangeError);
    expect(() => orthogonalize(g, { iters: 3 } as never)).toThrow(/unknown option 'iters'/);
    expect(() => orthogonalize({ rows: 3, cols: 4, data: new Float32Array(5) })).toThrow('orthogonalize: g.data must have 3x4 = 12 elements, got 5');
    expect(() => orthogonalize(Matrix.from(1, 2, [NaN, 1]))).toThrow(/orthogonalize: input contains NaN or Infinity/);
    expect(() => spectralNormGrad(Matrix.from(1, 2, [Infinity, 1]))).toThrow(RangeError);
    await expect(orthogonalizeAsync(Matrix.from(1, 2, [NaN, 1]))).rejects.toThrow(RangeError);
  });
});
