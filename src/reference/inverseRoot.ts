// Inverse p-th root of a symmetric matrix, for Shampoo's preconditioners (ALGORITHMS.md,
// `inverseRoot` row):
//
//   inverseRoot(S, p, {eps}) = (S + εI)^(−1/p)
//     = Q·diag(max(λᵢ, ε)^(−1/p))·Qᵀ,   S + εI = Q·diag(λ)·Qᵀ (eigh, cyclic Jacobi, float64).
//
// Only the lower triangle of `s` is read (like eigh), so garbage above the diagonal is harmless.
// The floor at ε keeps the result finite when S is singular or slightly indefinite from rounding.
// The result is symmetric exactly: the lower triangle is computed and mirrored.

import { dense, type Dense } from './dense.js';
import { eigh } from './eigh.js';

export interface InverseRootOptions {
  /** Regulariser added to the diagonal and floor for the eigenvalues; > 0, default 1e-12. */
  eps?: number;
}

export function inverseRoot(s: Dense, p: number, opts: InverseRootOptions = {}): Dense {
  if (s.rows !== s.cols) throw new RangeError(`inverseRoot: matrix must be square, got ${s.rows}x${s.cols}`);
  if (typeof p !== 'number' || !(p > 0) || !Number.isFinite(p)) {
    throw new RangeError(`inverseRoot: p must be a positive finite number, got ${String(p)}`);
  }
  const eps = opts.eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw new RangeError(`inverseRoot: eps must be a positive finite number, got ${String(eps)}`);
  }
  const n = s.rows;

  // S + εI from the lower triangle (non-finite entries are refused here, before eigh sees them).
  const shifted = dense(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = s.data[i * n + j]!;
      if (!Number.isFinite(v)) throw new RangeError(`inverseRoot: non-finite entry at (${i}, ${j})`);
      shifted.data[i * n + j] = i === j ? v + eps : v;
    }
  }

  const { values, vectors } = eigh(shifted);
  const f = Array.from(values, (lambda) => Math.pow(Math.max(lambda, eps), -1 / p));

  // out = Q·diag(f)·Qᵀ, lower triangle, then mirrored.
  const out = dense(n, n);
  const q = vectors.data;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += q[i * n + k]! * f[k]! * q[j * n + k]!;
      out.data[i * n + j] = sum;
      out.data[j * n + i] = sum;
    }
  }
  for (let i = 0; i < out.data.length; i++) {
    if (!Number.isFinite(out.data[i]!)) throw new RangeError('inverseRoot: non-finite result');
  }
  return out;
}
