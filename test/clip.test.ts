// gradNorm and clipGradNorm against a float64 reference written here, with torch's
// clip_grad_norm_ semantics: the total norm of all gradients as if concatenated, every gradient
// multiplied by min(1, maxNorm / (total + 1e-6)).
import { describe, expect, it } from 'vitest';

import { Matrix, clipGradNorm, gradNorm } from '../src/index.js';

/** Mixed shapes, one huge and one tiny gradient among them. */
function mixed(): Matrix[] {
  const huge = Matrix.randn(3, 5, 1);
  huge.data.forEach((v, i) => (huge.data[i] = v * 1e30));
  const tiny = Matrix.randn(4, 1, 2);
  tiny.data.forEach((v, i) => (tiny.data[i] = v * 1e-30));
  return [Matrix.randn(1, 7, 3), huge, tiny, Matrix.randn(6, 6, 4), Matrix.from(2, 2, [1.5, -2, 0, 3e38])];
}

/** The reference: the norm of the per-gradient norms (torch's form), each in float64 by scaling. */
function reference(grads: Matrix[], p: number): number {
  if (p === Infinity) return Math.max(...grads.map((g) => Math.max(...Array.from(g.data, Math.abs))));
  const norms = grads.map((g) => {
    const m = Math.max(...Array.from(g.data, Math.abs));
    if (m === 0) return 0;
    return m * Math.sqrt(Array.from(g.data).reduce((s, v) => s + (v / m) ** 2, 0));
  });
  const m = Math.max(...norms);
  return m * Math.sqrt(norms.reduce((s, n) => s + (n / m) ** 2, 0));
}

describe('gradNorm', () => {
  it.each([2, Infinity])('normType %s: within 1e-14 of the float64 reference on mixed shapes with huge and tiny entries', (p) => {
    const grads = mixed();
    const expected = reference(grads, p);
    expect(Math.abs(gradNorm(grads, { normType: p }) - expected) / expected).toBeLessThanOrEqual(1e-14);
    // Without the huge ones, the small gradients decide the norm.
    const small = [mixed()[0], mixed()[2], mixed()[3]];
    expect(Math.abs(gradNorm(small, { normType: p }) - reference(small, p)) / reference(small, p)).toBeLessThanOrEqual(1e-14);
  });

  it('of no gradients is 0, and NaN propagates', () => {
    expect(gradNorm([])).toBe(0);
    expect(gradNorm([Matrix.from(1, 2, [NaN, 1])])).toBeNaN();
    expect(gradNorm([Matrix.from(1, 2, [NaN, 1])], { normType: Infinity })).toBeNaN();
  });
});

describe('clipGradNorm', () => {
  it.each([2, Infinity])('normType %s: scales every gradient by maxNorm / (total + 1e-6) and returns the total before', (p) => {
    const grads = mixed().slice(0, 4);
    const before = grads.map((g) => Float64Array.from(g.data));
    const total = reference(grads, p);
    const maxNorm = total / 8;
    expect(clipGradNorm(grads, maxNorm, { normType: p })).toBeCloseTo(total, -Math.log10(total) + 12);
    const scale = maxNorm / (total + 1e-6);
    grads.forEach((g, k) =>
      g.data.forEach((v, i) => expect(v).toBe(Math.fround(before[k][i] * Math.fround(scale)))),
    );
    // The clipped norm is maxNorm to float32 rounding.
    expect(Math.abs(gradNorm(grads, { normType: p }) - maxNorm) / maxNorm).toBeLessThan(1e-6);
  });

  it('leaves gradients alone when the total is within maxNorm (torch: the factor is clamped at 1)', () => {
    const grads = [Matrix.randn(3, 3, 7), Matrix.randn(2, 5, 8)];
    const before = grads.map((g) => g.data.slice());
    const total = clipGradNorm(grads, 1e6);
    expect(total).toBeGreaterThan(0);
    expect(grads.map((g) => g.data)).toEqual(before);
  });

  it('a non-finite total is a RangeError and no gradient changes', () => {
    const grads = [Matrix.randn(3, 3, 1), Matrix.from(1, 3, [1, Infinity, 2])];
    const before = grads.map((g) => g.data.slice());
    expect(() => clipGradNorm(grads, 0.1)).toThrow(RangeError);
    expect(() => clipGradNorm(grads, 0.1)).toThrow(/^clipGradNorm: the total norm is Infinity .*no gradient was changed/);
    expect(grads.map((g) => g.data)).toEqual(before);
  });

  it('refuses one array twice (it would be counted and scaled twice) and a bad normType', () => {
    const g = Matrix.randn(2, 2, 1);
    expect(() => clipGradNorm([g, Matrix.randn(1, 1, 2), g], 1)).toThrow(/^clipGradNorm: grads\[2\] is the same array as grads\[0\]/);
    expect(() => gradNorm([g], { normType: 1 })).toThrow(/^gradNorm: normType must be 2 or Infinity, got number 1/);
  });
});
