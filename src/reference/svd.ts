// Thin singular value decomposition A = U diag(S) Vt by one-sided Jacobi
// (Hestenes, "Inversion of matrices by biorthogonalization", J. SIAM 6, 1958;
// see also Golub & Van Loan, 4th ed., §8.6.3 and Demmel & Veselić, "Jacobi's
// method is more accurate than QR", SIMAX 13, 1992).
//
// For m ≥ n, plane rotations are applied to the columns of W = A (and
// accumulated in V) until all pairs of columns are orthogonal; then W = U Σ
// with Σ the column norms. For m < n we decompose Aᵀ and swap the roles of U
// and V. k = min(m, n); S is descending.
//
// Columns that end up exactly zero (rank-deficient input, zero matrix) carry
// no direction, so the corresponding columns of U are completed with an
// orthonormal basis of the complement of the others, found by Gram–Schmidt
// (applied twice) on the standard basis vectors.

import { dense, identity, norm2, powerOfTwoScale, transpose, type Dense } from './dense.js';

const MAX_SWEEPS = 100;

// Columns this small (after scaling the largest entry to O(1)) are treated as
// exactly zero: their direction is dominated by rounding, and the ratio of
// norms used in the rotation formula would overflow near the subnormal range.
// Relative to ‖A‖ such a column is far below double precision anyway.
const NEGLIGIBLE_NORM = 1e-280;

export interface SvdResult {
  /** m×k, orthonormal columns. */
  U: Dense;
  /** Singular values, descending, length k. */
  S: Float64Array;
  /** k×n, orthonormal rows. */
  Vt: Dense;
}

export function svd(a: Dense): SvdResult {
  if (a.rows < a.cols) {
    // Aᵀ = U' Σ V'ᵀ  ⇒  A = V' Σ U'ᵀ.
    const t = svdTall(transpose(a));
    return { U: transpose(t.Vt), S: t.S, Vt: transpose(t.U) };
  }
  return svdTall(a);
}

function column(w: Dense, j: number): Float64Array {
  const out = new Float64Array(w.rows);
  for (let i = 0; i < w.rows; i++) out[i] = w.data[i * w.cols + j]!;
  return out;
}

/** One-sided Jacobi for m ≥ n. */
function svdTall(a: Dense): SvdResult {
  const m = a.rows;
  const n = a.cols;
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) throw new RangeError('svd: non-finite entry');
  }

  // Exact power-of-two scaling so column norms and dot products stay in range
  // for inputs around 1e30 or 1e-30.
  const scale = powerOfTwoScale(a.data);
  const w = dense(m, n);
  for (let i = 0; i < w.data.length; i++) w.data[i] = a.data[i]! / scale;
  const v = identity(n);

  // Orthogonality is tested on the cosine of the angle between columns, so
  // the test does not depend on the columns' norms; the threshold is the
  // rounding level of an m-term dot product.
  const tol = Math.max(1e-15, Math.sqrt(m) * Number.EPSILON);

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const wp = column(w, p);
        const wq = column(w, q);
        const np = norm2(wp);
        const nq = norm2(wq);
        if (np <= NEGLIGIBLE_NORM || nq <= NEGLIGIBLE_NORM) continue;
        let cos = 0;
        for (let i = 0; i < m; i++) cos += (wp[i]! / np) * (wq[i]! / nq);
        if (!(Math.abs(cos) > tol)) continue;
        rotated = true;

        // Same 2×2 symmetric Schur step as in eigh, applied to the Gram
        // matrix [[np², γ], [γ, nq²]] with γ = cos·np·nq, written in terms of
        // the norm ratio so nothing is squared:
        //   ζ = (nq² − np²) / (2γ) = (nq/np − np/nq) / (2 cos).
        const zeta = (nq / np - np / nq) / (2 * cos);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.hypot(1, zeta));
        const c = 1 / Math.hypot(1, t);
        const s = t * c;

        for (let i = 0; i < m; i++) {
          w.data[i * n + p] = c * wp[i]! - s * wq[i]!;
          w.data[i * n + q] = s * wp[i]! + c * wq[i]!;
        }
        for (let i = 0; i < n; i++) {
          const vip = v.data[i * n + p]!;
          const viq = v.data[i * n + q]!;
          v.data[i * n + p] = c * vip - s * viq;
          v.data[i * n + q] = s * vip + c * viq;
        }
      }
    }
    if (!rotated) break;
  }

  // Singular values are the column norms; sort descending (stable).
  const norms = Array.from({ length: n }, (_, j) => norm2(column(w, j)));
  const order = Array.from({ length: n }, (_, j) => j).sort((i, j) => norms[j]! - norms[i]!);

  const S = new Float64Array(n);
  const U = dense(m, n);
  const Vt = dense(n, n);
  const missing: number[] = []; // columns of U still to be completed
  order.forEach((src, dst) => {
    const sigma = norms[src]!;
    for (let i = 0; i < n; i++) Vt.data[dst * n + i] = v.data[i * n + src]!;
    if (sigma <= NEGLIGIBLE_NORM) {
      S[dst] = 0;
      missing.push(dst);
      return;
    }
    S[dst] = sigma * scale;
    for (let i = 0; i < m; i++) U.data[i * n + dst] = w.data[i * n + src]! / sigma;
  });

  completeOrthonormal(U, missing);
  return { U, S, Vt };
}

/**
 * Fill the listed columns of U (m×k, the other columns orthonormal) so that
 * all k columns are orthonormal. Candidates are the standard basis vectors;
 * for each missing column take the one with the largest component outside the
 * current span (at least 1/sqrt(m) exists since the span has dimension < m),
 * orthogonalised twice ("twice is enough", Kahan/Parlett) to stay orthogonal
 * to working precision.
 */
function completeOrthonormal(U: Dense, missing: number[]): void {
  const m = U.rows;
  const k = U.cols;
  const filled = new Set(Array.from({ length: k }, (_, j) => j).filter((j) => !missing.includes(j)));

  const orthogonalise = (x: Float64Array): void => {
    for (let pass = 0; pass < 2; pass++) {
      for (const j of filled) {
        let d = 0;
        for (let i = 0; i < m; i++) d += U.data[i * k + j]! * x[i]!;
        for (let i = 0; i < m; i++) x[i] = x[i]! - d * U.data[i * k + j]!;
      }
    }
  };

  for (const target of missing) {
    let best: Float64Array | undefined;
    let bestNorm = -1;
    for (let e = 0; e < m; e++) {
      const x = new Float64Array(m);
      x[e] = 1;
      orthogonalise(x);
      const nx = norm2(x);
      if (nx > bestNorm) {
        best = x;
        bestNorm = nx;
      }
    }
    // Unreachable while fewer than m columns are filled, which k ≤ m guarantees.
    if (best === undefined || !(bestNorm > 0)) throw new Error('svd: could not complete U');
    for (let i = 0; i < m; i++) U.data[i * k + target] = best[i]! / bestNorm;
    filled.add(target);
  }
}
