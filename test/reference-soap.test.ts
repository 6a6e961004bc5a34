// Pins down the float64 reference SOAP (src/reference/optim/soap.ts) against ALGORITHMS.md without
// comparing the code with itself. With diagonal gradients whose entries keep their order of
// magnitude, both statistics stay diagonal with a fixed descending order, every eigenbasis is the
// identity up to signs, and SOAP is exactly Adam on the entries, with the reference's bookkeeping:
// the first call changes nothing, Adam's count starts at the second call, decay comes after the
// step. (A by-hand run of nikhilvyas/SOAP's soap.py on PyTorch CPU agreed with this reference to
// ~1e-6 over 25 steps on 8×8, 6×6, 1×7 and 9×1; the repository's code is not vendored here.)

import { describe, expect, it } from 'vitest';
import { DEFAULTS, COMMON } from '../src/optim/defaults.js';
import { REFERENCE_OPTIMIZERS, referenceOptimizer } from '../src/reference/optim/index.js';
import { rng } from './reference-helpers.js';

const hyper = (extra: Record<string, unknown>) => ({ ...DEFAULTS.soap, ...COMMON, ...extra });

/** Diagonal n×n gradients with entries d_i = (n − i)·(1 + 0.1·noise)·±1: descending magnitudes. */
function diagonalGradients(n: number, steps: number, seed: number): Float64Array[] {
  const r = rng(seed);
  return Array.from({ length: steps }, () => {
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++) g[i * n + i] = (n - i) * (1 + 0.1 * (r() - 0.5)) * (r() < 0.5 ? -1 : 1);
    return g;
  });
}

/** Adam by hand on a diagonal run, as SOAP must reduce to (first call skipped, decay after). */
function adamByHand(w: Float64Array, grads: Float64Array[], h: { lr: number; b1: number; b2: number; eps: number; wd: number; correctBias: boolean }): void {
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  grads.slice(1).forEach((g, k) => {
    const s = k + 1;
    const eta = h.correctBias ? (h.lr * Math.sqrt(1 - h.b2 ** s)) / (1 - h.b1 ** s) : h.lr;
    for (let i = 0; i < w.length; i++) {
      m[i] = h.b1 * m[i]! + (1 - h.b1) * g[i]!;
      v[i] = h.b2 * v[i]! + (1 - h.b2) * g[i]! * g[i]!;
      w[i] = w[i]! - eta * (m[i]! / (Math.sqrt(v[i]!) + h.eps));
      w[i] = w[i]! - h.lr * h.wd * w[i]!;
    }
  });
}

describe('reference soap', () => {
  it('is registered', () => {
    expect(REFERENCE_OPTIMIZERS).toContain('soap');
  });

  it.each([
    [{ lr: 0.01 }, 0.01, 0.95, 0.95, 1e-8, 0.01, true],
    [{ lr: 0.02, betas: [0.9, 0.99], weightDecay: 0.3, preconditionFrequency: 2 }, 0.02, 0.9, 0.99, 1e-8, 0.3, true],
    [{ lr: 0.02, correctBias: false, eps: 1e-3, preconditionFrequency: 1, shampooBeta: 0.5 }, 0.02, 0.95, 0.95, 1e-3, 0.01, false],
  ] as const)('diagonal gradients: exactly Adam with the first call skipped and decay after the step %j', (extra, lr, b1, b2, eps, wd, correctBias) => {
    const n = 5;
    const grads = diagonalGradients(n, 25, 7);
    const opt = referenceOptimizer('soap', hyper(extra));
    const state = opt.init(n, n);
    const w = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i + 1));
    const expected = w.slice();
    const first = w.slice();
    grads.forEach((g, t) => {
      opt.step(w, g, n, n, state);
      if (t === 0) expect(Array.from(w)).toEqual(Array.from(first));
    });
    adamByHand(expected, grads, { lr, b1, b2, eps, wd, correctBias });
    for (let i = 0; i < w.length; i++) expect(Math.abs(w[i]! - expected[i]!)).toBeLessThan(1e-12);
    expect(state.adamSteps).toBe(24);
  });

  it('vectors (1×n, n×1) are not rotated: plain Adam after the first call', () => {
    for (const [rows, cols] of [
      [1, 6],
      [6, 1],
    ] as const) {
      const r = rng(3);
      const grads = Array.from({ length: 12 }, () => Float64Array.from({ length: 6 }, () => r() - 0.5));
      const opt = referenceOptimizer('soap', hyper({ lr: 0.01, preconditionFrequency: 2 }));
      const state = opt.init(rows, cols);
      const w = Float64Array.from({ length: 6 }, (_, i) => i - 2);
      const expected = w.slice();
      for (const g of grads) opt.step(w, g, rows, cols, state);
      adamByHand(expected, grads, { lr: 0.01, b1: 0.95, b2: 0.95, eps: 1e-8, wd: 0.01, correctBias: true });
      for (let i = 0; i < 6; i++) expect(Math.abs(w[i]! - expected[i]!)).toBeLessThan(1e-12);
    }
  });

  it('a refresh re-sorts v with its eigenvectors: swapping which entry dominates swaps v', () => {
    // Diagonal gradients whose two entries trade places in magnitude: after the refresh the basis
    // (a permutation) and v's rows/columns follow, so v stays attached to its coordinate.
    const n = 2;
    const opt = referenceOptimizer('soap', hyper({ lr: 0.01, preconditionFrequency: 3, shampooBeta: 0 }));
    const state = opt.init(n, n);
    const w = new Float64Array([1, 0, 0, 1]);
    const big = new Float64Array([3, 0, 0, 1]);
    const swapped = new Float64Array([1, 0, 0, 3]);
    opt.step(w, big, n, n, state); // bases from diag(9, 1): identity
    for (let t = 0; t < 3; t++) opt.step(w, swapped, n, n, state); // statistic now diag(1, 9): refresh at s = 3
    const QL = state.QL as Float64Array;
    expect(Math.abs(QL[1]!)).toBeCloseTo(1, 12); // columns swapped: the larger eigenvalue first
    expect(Math.abs(QL[2]!)).toBeCloseTo(1, 12);
    // v in the new basis: entry (0, 0) now belongs to the coordinate whose gradient was 3.
    const v = state.v as Float64Array;
    const v3 = (1 - 0.95 ** 3) * 9; // EMA of 3² over three steps from zero (β₂ = 0.95)
    expect(v[0]).toBeCloseTo(v3, 12);
    expect(v[3]).toBeCloseTo((1 - 0.95 ** 3) * 1, 12);
  });
});
