// Spectral pieces shared by the rules (seed 000: spectral-norm weight decay; seed 001, Yoshida &
// Miyato 2017: spectral-norm penalty), straight from ALGORITHMS.md:
//
// rank1(W) ≈ σ₁u₁v₁ᵀ = W v₁v₁ᵀ by power iteration on the smaller Gram matrix.
//   rows >= cols: x₀ = all-ones (length cols) or, with spectralWarmStart, the x stored by the
//   previous call; x₀ is normalised; then spectralIters rounds of x ← Wᵀ(Wx), x ← x/‖x‖₂;
//   result (Wx)xᵀ. rows < cols: the same with y (length rows), y ← W(Wᵀy), result y(yᵀW).
//   If a product is exactly zero the result is the zero matrix and nothing is stored; otherwise
//   the final x (or y) is stored in state.spectralVec.
// Spectral decay: the decoupled term λ·W becomes λ·rank1(W) (W before this step's changes).
// Penalty κ: G ← G + 2κ·rank1(W) before the rule runs (index.ts).

import type { RefState } from './index.js';
import type { Hyper } from './rule.js';

export interface SpectralOptions {
  weightDecayNorm: 'frobenius' | 'spectral';
  spectralIters: number;
  spectralWarmStart: boolean;
  spectralPenalty: number;
}

/**
 * The spectral and common options. Rules without SPECTRAL_DECAY in defaults.ts (adagrad, rmsprop,
 * adam, sphere-sgd) still take the penalty; missing keys get the defaults.ts values.
 */
export function readSpectral(h: Hyper): SpectralOptions {
  const norm = h.weightDecayNorm ?? 'frobenius';
  if (norm !== 'frobenius' && norm !== 'spectral') throw new TypeError(`reference optimizer: bad weightDecayNorm ${String(norm)}`);
  const iters = h.spectralIters ?? 10;
  if (typeof iters !== 'number' || !Number.isInteger(iters) || iters < 0) {
    throw new RangeError(`reference optimizer: spectralIters must be an integer >= 0, got ${String(iters)}`);
  }
  const warm = h.spectralWarmStart ?? false;
  if (typeof warm !== 'boolean') throw new TypeError('reference optimizer: spectralWarmStart must be a boolean');
  const penalty = h.spectralPenalty ?? 0;
  if (typeof penalty !== 'number') throw new TypeError('reference optimizer: spectralPenalty must be a number');
  return { weightDecayNorm: norm, spectralIters: iters, spectralWarmStart: warm, spectralPenalty: penalty };
}

/** Whether a rule's decoupled decay with coefficient λ is the spectral one and active. */
export function spectralDecayOn(opts: SpectralOptions, lambda: number): boolean {
  return opts.weightDecayNorm === 'spectral' && lambda !== 0;
}

/** y = W x (W rows x cols, x length cols). */
function mulW(w: Float64Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += w[i * cols + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** x = Wᵀ y (y length rows). */
function mulWt(w: Float64Array, rows: number, cols: number, y: Float64Array): Float64Array {
  const x = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += w[i * cols + j]! * y[i]!;
    x[j] = s;
  }
  return x;
}

function norm2(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** x/‖x‖₂, or null when x is exactly zero. */
function normalised(x: Float64Array): Float64Array | null {
  const n = norm2(x);
  if (n === 0) return null;
  return x.map((xi) => xi / n);
}

/** Power-iteration estimate of σ₁u₁v₁ᵀ (see the header). Stores the final vector in state.spectralVec. */
export function rank1(w: Float64Array, rows: number, cols: number, opts: SpectralOptions, state: RefState): Float64Array {
  const tall = rows >= cols;
  const len = tall ? cols : rows;
  const stored = state.spectralVec;
  const start =
    opts.spectralWarmStart && stored instanceof Float64Array && stored.length === len
      ? Float64Array.from(stored)
      : new Float64Array(len).fill(1);
  let x = normalised(start);
  if (x === null) return new Float64Array(rows * cols);
  for (let it = 0; it < opts.spectralIters; it++) {
    // tall: x ← Wᵀ(Wx); wide: y ← W(Wᵀy)
    const p = tall ? mulWt(w, rows, cols, mulW(w, rows, cols, x)) : mulW(w, rows, cols, mulWt(w, rows, cols, x));
    x = normalised(p);
    if (x === null) return new Float64Array(rows * cols);
  }
  state.spectralVec = x;
  const out = new Float64Array(rows * cols);
  if (tall) {
    const wx = mulW(w, rows, cols, x); // (Wx)xᵀ
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = wx[i]! * x[j]!;
  } else {
    const ytw = mulWt(w, rows, cols, x); // y(yᵀW)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = x[i]! * ytw[j]!;
  }
  return out;
}

/**
 * PyTorch-style decoupled decay with c = lr·λ, applied before the rule's update:
 * Frobenius W ← W·(1 − c); spectral (r1 = rank1(old W)) W ← W − c·rank1(W).
 */
export function decoupledDecay(w: Float64Array, c: number, r1: Float64Array | null): void {
  if (r1 === null) {
    const f = 1 - c;
    for (let i = 0; i < w.length; i++) w[i] = w[i]! * f;
  } else {
    for (let i = 0; i < w.length; i++) w[i] = w[i]! - c * r1[i]!;
  }
}
