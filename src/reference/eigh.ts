// Symmetric eigendecomposition S = V diag(values) Vᵀ by the cyclic Jacobi
// method (Golub & Van Loan, "Matrix Computations", 4th ed., Alg. 8.5.2 with the
// symmetric Schur 2×2 step of Alg. 8.5.1; rotation formulas as in Rutishauser,
// "The Jacobi method for real symmetric matrices", Numer. Math. 9, 1966).
//
// Only the lower triangle of `s` is read (like LAPACK dsyev with uplo='L'),
// so garbage above the diagonal is harmless. Values are ascending and column
// i of `vectors` belongs to values[i]. Jacobi is slow (O(n³) per sweep) but
// every step is an exactly orthogonal plane rotation, which makes it a good
// trustworthy reference, including for repeated eigenvalues.

import { dense, identity, powerOfTwoScale, type Dense } from './dense.js';

const MAX_SWEEPS = 100;
const REL_TOL = 1e-15;

export interface EighResult {
  /** Ascending. */
  values: Float64Array;
  /** n×n orthogonal; column i is the eigenvector for values[i]. */
  vectors: Dense;
}

export function eigh(s: Dense): EighResult {
  if (s.rows !== s.cols) throw new RangeError(`eigh: matrix must be square, got ${s.rows}x${s.cols}`);
  const n = s.rows;

  // Symmetric working copy from the lower triangle.
  const lower = new Float64Array((n * (n + 1)) / 2);
  const a = dense(n, n);
  for (let i = 0, t = 0; i < n; i++) {
    for (let j = 0; j <= i; j++, t++) {
      const v = s.data[i * n + j]!;
      if (!Number.isFinite(v)) throw new RangeError(`eigh: non-finite entry at (${i}, ${j})`);
      lower[t] = v;
      a.data[i * n + j] = v;
      a.data[j * n + i] = v;
    }
  }

  // Bring the entries to O(1) (exactly, by a power of two) so the squares in
  // the convergence test and the rotation formulas neither overflow (1e30
  // inputs) nor underflow (1e-30 inputs).
  const scale = powerOfTwoScale(lower);
  for (let i = 0; i < a.data.length; i++) a.data[i] = a.data[i]! / scale;

  const v = identity(n);
  const A = (i: number, j: number): number => a.data[i * n + j]!;
  const setA = (i: number, j: number, x: number): void => {
    a.data[i * n + j] = x;
  };

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0;
    let fro = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = A(i, j) * A(i, j);
        fro += x;
        if (i !== j) off += x;
      }
    }
    if (off <= REL_TOL * REL_TOL * fro) break;

    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A(p, q);
        if (apq === 0) continue;
        const app = A(p, p);
        const aqq = A(q, q);

        // Choose t = tan(θ) as the smaller root of t² + 2τt − 1 = 0, so
        // |θ| ≤ π/4: this is what makes the sweeps converge and keeps the
        // update of the diagonal free of cancellation. hypot instead of
        // sqrt(1 + τ²) because τ can be huge when apq is tiny.
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.hypot(1, tau));
        const c = 1 / Math.hypot(1, t);
        const sn = t * c;

        // A ← Jᵀ A J with J = [[c, s], [−s, c]] in the (p, q) plane. The
        // diagonal uses the Rutishauser form a_pp − t·a_pq, which is more
        // accurate than recombining c² a_pp − 2cs a_pq + s² a_qq.
        for (let r = 0; r < n; r++) {
          if (r === p || r === q) continue;
          const arp = A(r, p);
          const arq = A(r, q);
          const nrp = c * arp - sn * arq;
          const nrq = sn * arp + c * arq;
          setA(r, p, nrp);
          setA(p, r, nrp);
          setA(r, q, nrq);
          setA(q, r, nrq);
        }
        setA(p, p, app - t * apq);
        setA(q, q, aqq + t * apq);
        setA(p, q, 0); // zero by construction of t; set exactly to avoid rounding residue
        setA(q, p, 0);

        // Accumulate V ← V J.
        for (let r = 0; r < n; r++) {
          const vrp = v.data[r * n + p]!;
          const vrq = v.data[r * n + q]!;
          v.data[r * n + p] = c * vrp - sn * vrq;
          v.data[r * n + q] = sn * vrp + c * vrq;
        }
      }
    }
  }

  // Sort ascending (stable, so equal eigenvalues keep their Jacobi order) and
  // undo the scaling.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A(i, i) - A(j, j));
  const values = new Float64Array(n);
  const vectors = dense(n, n);
  order.forEach((src, dst) => {
    values[dst] = A(src, src) * scale;
    for (let r = 0; r < n; r++) vectors.data[r * n + dst] = v.data[r * n + src]!;
  });
  return { values, vectors };
}
