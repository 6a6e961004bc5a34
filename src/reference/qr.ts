// Thin QR factorisation A = Q R by Householder reflections (Golub & Van Loan,
// "Matrix Computations", 4th ed., Alg. 5.2.1 with the vector of Alg. 5.1.1;
// Q accumulated by backward application as in §5.1.6).
//
// Q is m×k with orthonormal columns, R is k×n upper triangular (trapezoidal if
// n > m), k = min(m, n). Column j of R is reduced by
// H_j = I − 2 v vᵀ / (vᵀ v); when the part of the column below the diagonal is
// already zero (in particular a zero column, or the last row) no reflection
// is applied, so a zero column leaves a 0 on R's diagonal. Signs follow the
// numerically stable choice R_jj = −sign(x_0)‖x‖, not LAPACK's convention.

import { dense, maxAbs, norm2, powerOfTwoScale, type Dense } from './dense.js';

export interface QrResult {
  /** m×k, orthonormal columns. */
  Q: Dense;
  /** k×n, upper triangular. */
  R: Dense;
}

export function qr(a: Dense): QrResult {
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  // Work on A / 2^e with 2^e near max |entry| (exact), so that subnormal or
  // huge inputs are handled in the well-scaled range; R is scaled back at the end.
  const scale = powerOfTwoScale(a.data);
  const r = dense(m, n, Array.from(a.data, (x) => x / scale)); // reduced in place to R (first k rows)
  const at = (i: number, j: number): number => r.data[i * n + j]!;

  // Reflector j acts on rows j..m-1; undefined means "identity".
  const reflectors: (Float64Array | undefined)[] = [];

  for (let j = 0; j < k; j++) {
    const x = new Float64Array(m - j);
    for (let i = j; i < m; i++) x[i - j] = at(i, j);

    if (maxAbs(x.subarray(1)) === 0) {
      reflectors.push(undefined);
      // Normalise any -0 below the diagonal so R is upper triangular with +0s.
      for (let i = j + 1; i < m; i++) r.data[i * n + j] = 0;
      continue;
    }

    // v = x − α e1 with α = −sign(x0)‖x‖, so v0 = x0 + sign(x0)‖x‖ adds two
    // numbers of the same sign (no cancellation).
    const alpha = (x[0]! >= 0 ? -1 : 1) * norm2(x);
    const v = x;
    v[0] = x[0]! - alpha;
    // H is invariant under scaling v, so normalise it to ‖v‖ = 1. Dividing by
    // max |v_i| first keeps the division by ‖v‖ in the normal range even when
    // this column is tiny compared to the rest of A (subnormal ‖v‖ has too
    // few significant bits to give an orthogonal H).
    const mv = maxAbs(v);
    for (let i = 0; i < v.length; i++) v[i] = v[i]! / mv;
    const nv = norm2(v);
    for (let i = 0; i < v.length; i++) v[i] = v[i]! / nv;
    reflectors.push(v);

    // Apply H = I − 2 v vᵀ to the remaining columns.
    applyReflector(r, v, j, j + 1, n);
    // Column j becomes α e1 exactly, by construction.
    r.data[j * n + j] = alpha;
    for (let i = j + 1; i < m; i++) r.data[i * n + j] = 0;
  }

  const R = dense(k, n, Array.from(r.data.subarray(0, k * n), (x) => x * scale));

  // Q = H_0 H_1 ... H_{k-1} I[:, 0:k], applied right to left so each H_j
  // only touches rows j.. of the partially formed Q.
  const Q = dense(m, k);
  for (let i = 0; i < k; i++) Q.data[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const v = reflectors[j];
    if (v !== undefined) applyReflector(Q, v, j, 0, k);
  }
  return { Q, R };
}

/** Rows row0.. of columns col0..col1-1 of M ← (I − 2 v vᵀ) M, with ‖v‖ = 1. */
function applyReflector(M: Dense, v: Float64Array, row0: number, col0: number, col1: number): void {
  const w = M.cols;
  for (let c = col0; c < col1; c++) {
    let d = 0;
    for (let i = 0; i < v.length; i++) d += v[i]! * M.data[(row0 + i) * w + c]!;
    for (let i = 0; i < v.length; i++) M.data[(row0 + i) * w + c] = M.data[(row0 + i) * w + c]! - 2 * d * v[i]!;
  }
}
