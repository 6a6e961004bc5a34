// Cross-checks every native (float32, OpenBLAS/LAPACK) routine against the pure-TypeScript
// float64 reference in src/reference, on fixed adversarial inputs and on fast-check random ones.
//
// Only quantities that are invariant are compared: eigen- and singular vectors up to sign (and,
// inside a repeated eigenvalue, only the spanned subspace), QR factors up to the signs of R's
// rows. Every product used by a check is formed in float64 from the exact float32 values
// (test/helpers.ts), not with the library or with the reference gemm.
//
// Tolerances (u = 2^-24, float32 unit roundoff; s = max(rows, cols); ‖A‖ = Frobenius norm):
// - matmul, entrywise: |C - C_ref|_ij ≤ 2(k+2)·u·(|α|·(|op A|·|op B|)_ij + |β|·|C0_ij|) + tiny.
//   This is the classical worst-case bound γ_k = k·u/(1-k·u) of a k-term dot product (any
//   summation order, with or without FMA), plus one rounding each for α, β and the final add,
//   with a factor 2 margin. It is entrywise, so even small entries are held to their own scale.
// - factorizations (eigh, svd, qr, truncatedSvd, powerIteration sigma): LAPACK's Householder/
//   divide-and-conquer algorithms are normwise backward stable with error ≤ p(s)·u·‖A‖ where
//   p is a modest polynomial. We use TOL = 10·s·u·‖A‖ for eigen/singular values and residuals,
//   and 10·s·u for orthogonality. Measured worst cases over hundreds of random inputs are
//   0.4-2.2·s·u·‖A‖, so the margin is about 5x, while a 1e-4 relative error is 10-1000x above
//   the tolerance for every size used here (see "the checks reject wrong results").
// - vectors: by Davis-Kahan / Wedin, an eigen- or singular vector moves by ≲ ‖E‖/gap, so vectors
//   (and the projector onto a cluster of close eigenvalues) are compared within 2·TOL/gap, and
//   only where that is meaningful (gap > 1000·TOL). QR's Q and R are unique up to row signs for
//   full-rank leading columns and perturb like κ(A)·‖E‖, so they get TOL·κ.
// - powerIteration: the native and reference code run the same recurrence from the same start,
//   so the float32 iterates stay within roughly one rounding per step of the float64 ones:
//   vectors within 10·s·u·(iters+1), sigma within TOL.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import {
  Matrix,
  eigh,
  eighAsync,
  matmul,
  matmulAsync,
  powerIteration,
  qr,
  qrAsync,
  spectralNorm,
  svd,
  svdAsync,
  truncatedSvd,
  truncatedSvdAsync,
  type Eigh,
  type PowerIteration,
  type Qr,
  type Svd,
} from '../src/index.js';
import * as ref from '../src/reference/index.js';
import { dense, type Dense } from '../src/reference/index.js';
import {
  F32_EPS,
  absCosine,
  bitIdentical,
  column,
  diffFrobenius,
  duplicatedColumns,
  frobenius,
  leadingColumns,
  maxAbs,
  mul64,
  orthogonalityError,
  outerProduct,
  randomSymmetric,
  reconstructionError,
  row,
  scaleColumns,
  scaled,
  toDense64,
  toMatrix32,
  transpose64,
  truncatedSvdIsolated,
  withEigenvalues,
  withSingularValues,
  withUpperGarbage,
} from './helpers.js';

const RUNS = Number(process.env.SPECOPT_CROSSCHECK_RUNS ?? 50);
const C = 10; // safety factor over the measured float32 error constants (see header)
/** Smallest positive float32 (subnormal): the absolute error floor of one float32 operation. */
const F32_TINY = 2 ** -149;
const normTol = (size: number, norm: number): number => C * Math.max(size, 1) * (F32_EPS * norm + F32_TINY);
const orthTol = (size: number): number => C * Math.max(size, 1) * F32_EPS;

type Failures = string[];

function expectPass(failures: Failures): void {
  expect(failures).toEqual([]);
}

function expectReject(failures: Failures): void {
  expect(failures.length).toBeGreaterThan(0);
}

const fmt = (x: number): string => x.toExponential(3);

function checkLe(failures: Failures, what: string, err: number, tol: number): void {
  if (!(err <= tol)) failures.push(`${what}: ${fmt(err)} > tol ${fmt(tol)}`);
}

// ------------------------------------------------------------------------------------ matmul

interface GemmCase {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  /** Contents of `out` before the call (read when beta ≠ 0). */
  c0?: ArrayLike<number>;
}

/** Entrywise check of `got` = alpha·op(a)·op(b) + beta·c0 against the reference gemm. */
function checkMatmul(got: { rows: number; cols: number; data: Float32Array }, a: Matrix, b: Matrix, o: GemmCase): Failures {
  const failures: Failures = [];
  const transA = o.transA ?? false;
  const transB = o.transB ?? false;
  const alpha = o.alpha ?? 1;
  const beta = o.beta ?? 0;
  const [m, k] = transA ? [a.cols, a.rows] : [a.rows, a.cols];
  const n = transB ? b.rows : b.cols;
  if (got.rows !== m || got.cols !== n) return [`shape ${got.rows}x${got.cols}, expected ${m}x${n}`];
  const A = toDense64(a);
  const B = toDense64(b);
  const c0 = o.c0 === undefined ? undefined : dense(m, n, o.c0);
  const expected = ref.gemm(A, B, { transA, transB, alpha, beta, c: c0 });
  // Error bound from |op A|·|op B| (float64, own loops).
  const absOp = (x: Dense, t: boolean): Dense => {
    const y = t ? transpose64(x) : x;
    return dense(y.rows, y.cols, y.data.map(Math.abs));
  };
  const bound = mul64(absOp(A, transA), absOp(B, transB));
  let worst = -1;
  let worstAt = -1;
  let worstTol = 0;
  for (let i = 0; i < m * n; i++) {
    const scaleIJ = Math.abs(alpha) * bound.data[i]! + (beta !== 0 && c0 ? Math.abs(beta) * Math.abs(c0.data[i]!) : 0);
    const tol = 2 * (k + 2) * F32_EPS * scaleIJ + (k + 2) * F32_TINY;
    const err = Math.abs(got.data[i]! - expected.data[i]!);
    const excess = Number.isFinite(err) ? err / tol : Infinity;
    if (!(excess <= 1) && (worstAt < 0 || excess > worst)) {
      worst = excess;
      worstAt = i;
      worstTol = tol;
    }
  }
  if (worstAt >= 0) {
    const i = Math.floor(worstAt / n);
    const j = worstAt % n;
    failures.push(
      `entry (${i}, ${j}): got ${got.data[worstAt]}, reference ${expected.data[worstAt]}, ` +
        `|diff| ${fmt(Math.abs(got.data[worstAt]! - expected.data[worstAt]!))} > tol ${fmt(worstTol)}`,
    );
  }
  return failures;
}

// ------------------------------------------------------------------------------------ eigh

/** The symmetric float64 matrix that the lower triangle of `s` defines. */
function symmetricFromLower(s: Matrix): Dense {
  const n = s.rows;
  const out = dense(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      out.data[i * n + j] = s.data[i * n + j]!;
      out.data[j * n + i] = s.data[i * n + j]!;
    }
  }
  return out;
}

/** Consecutive runs of ascending `values` whose neighbours are at most `within` apart. */
function clusters(values: ArrayLike<number>, within: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 1; i <= values.length; i++) {
    if (i === values.length || values[i]! - values[i - 1]! > within) {
      out.push([start, i]);
      start = i;
    }
  }
  return out;
}

/** V[:, lo:hi]·V[:, lo:hi]ᵀ in float64. */
function projector(v: { rows: number; cols: number; data: ArrayLike<number> }, lo: number, hi: number): Dense {
  const n = v.rows;
  const p = dense(n, n);
  for (let c = lo; c < hi; c++) {
    const x = column(v, c);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) p.data[i * n + j] += x[i]! * x[j]!;
  }
  return p;
}

function checkEigh(s: Matrix, got: Eigh): Failures {
  const failures: Failures = [];
  const n = s.rows;
  const S = symmetricFromLower(s);
  const expected = ref.eigh(S);
  const norm = frobenius(S);
  const tol = normTol(n, norm);
  if (got.values.length !== n || got.vectors.rows !== n || got.vectors.cols !== n) return ['wrong shapes'];
  for (let i = 1; i < n; i++) {
    if (!(got.values[i - 1]! <= got.values[i]!)) failures.push(`values not ascending at ${i}: ${got.values[i - 1]} > ${got.values[i]}`);
  }
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got.values[i]! - expected.values[i]!));
  if (!Number.isFinite(maxAbs(got.values))) worst = Infinity;
  checkLe(failures, 'eigenvalues vs reference (max abs diff)', worst, tol);
  const V = toDense64(got.vectors);
  checkLe(failures, '‖S·V - V·diag(λ)‖_F', diffFrobenius(mul64(S, V), scaleColumns(V, got.values)), tol);
  checkLe(failures, 'max |VᵀV - I|', orthogonalityError(V), orthTol(n));
  // Eigenvectors: only clusters separated by > 1000·tol from the rest are determined (as a
  // subspace); a single-vector cluster is determined up to sign.
  for (const [lo, hi] of clusters(expected.values, 1000 * tol)) {
    const gap = Math.min(
      lo > 0 ? expected.values[lo]! - expected.values[lo - 1]! : Infinity,
      hi < n ? expected.values[hi]! - expected.values[hi - 1]! : Infinity,
    );
    if (gap === Infinity) continue; // the whole space: nothing to compare
    const vecTol = (2 * tol) / gap + orthTol(n);
    if (hi - lo === 1) {
      const x = column(V, lo);
      const y = column(expected.vectors, lo);
      const d = Math.min(...[1, -1].map((sg) => Math.max(...x.map((xi, i) => Math.abs(xi - sg * y[i]!)))));
      checkLe(failures, `eigenvector ${lo} vs reference, up to sign (gap ${fmt(gap)})`, d, vecTol);
      checkLe(failures, `1 - |⟨v${lo}, v${lo}_ref⟩|`, 1 - absCosine(x, y), (n * vecTol ** 2) / 2 + 1e-12);
    } else {
      const d = maxAbs(diffArrays(projector(V, lo, hi).data, projector(expected.vectors, lo, hi).data));
      checkLe(failures, `projector onto eigenvalues ${lo}..${hi - 1} vs reference (gap ${fmt(gap)})`, d, 2 * vecTol);
    }
  }
  return failures;
}

function diffArrays(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
}

// ------------------------------------------------------------------------------------ svd

/**
 * Full check of a thin SVD of `a`: values vs reference, reconstruction, orthonormality, order,
 * and singular vector pairs (with a common sign) where the singular value is well separated.
 */
function checkSvd(a: Matrix, got: Svd): Failures {
  const failures: Failures = [];
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  const s = Math.max(m, n);
  if (got.U.rows !== m || got.U.cols !== k || got.S.length !== k || got.Vt.rows !== k || got.Vt.cols !== n) {
    return [`wrong shapes U ${got.U.rows}x${got.U.cols}, S ${got.S.length}, Vt ${got.Vt.rows}x${got.Vt.cols}`];
  }
  const A = toDense64(a);
  const expected = ref.svd(A);
  const norm = frobenius(A);
  const tol = normTol(s, norm);
  for (let i = 0; i < k; i++) {
    if (!(got.S[i]! >= 0)) failures.push(`S[${i}] = ${got.S[i]} is negative or NaN`);
    if (i > 0 && !(got.S[i - 1]! >= got.S[i]!)) failures.push(`S not descending at ${i}: ${got.S[i - 1]} < ${got.S[i]}`);
  }
  let worst = 0;
  for (let i = 0; i < k; i++) worst = Math.max(worst, Math.abs(got.S[i]! - expected.S[i]!));
  if (!Number.isFinite(maxAbs(got.S))) worst = Infinity;
  checkLe(failures, 'singular values vs reference (max abs diff)', worst, tol);
  checkLe(failures, '‖A - U·diag(S)·Vt‖_F', reconstructionError(A, got.U, got.S, got.Vt), tol);
  checkLe(failures, 'max |UᵀU - I|', orthogonalityError(got.U), orthTol(s));
  checkLe(failures, 'max |Vt·Vtᵀ - I|', orthogonalityError(got.Vt, 'rows'), orthTol(s));
  // Wedin: a singular pair moves by ≲ ‖E‖/gap, gap including σ_i itself when m ≠ n.
  for (let i = 0; i < k; i++) {
    const gap = Math.min(
      i > 0 ? expected.S[i - 1]! - expected.S[i]! : Infinity,
      i < k - 1 ? expected.S[i]! - expected.S[i + 1]! : Infinity,
      m !== n ? expected.S[i]! : Infinity,
    );
    if (!(gap > 1000 * tol) || gap === Infinity) continue;
    const vecTol = (2 * tol) / gap + orthTol(s);
    const u = column(got.U, i);
    const v = row(got.Vt, i);
    const uRef = column(expected.U, i);
    const vRef = row(expected.Vt, i);
    const du = [1, -1].map((sg) => Math.max(...u.map((x, j) => Math.abs(x - sg * uRef[j]!))));
    const dv = [1, -1].map((sg) => Math.max(...v.map((x, j) => Math.abs(x - sg * vRef[j]!))));
    // u and v share one sign (A·v = σ·u) unless σ_i itself is at the rounding level, where
    // σ_i·u·vᵀ ≈ 0 and each may flip on its own.
    const paired = expected.S[i]! > 1000 * tol;
    const d = paired ? Math.min(Math.max(du[0]!, dv[0]!), Math.max(du[1]!, dv[1]!)) : Math.max(Math.min(...du), Math.min(...dv));
    checkLe(failures, `singular pair ${i} (u, v${paired ? ' with one sign' : ''}) vs reference (gap ${fmt(gap)})`, d, vecTol);
  }
  return failures;
}

// ------------------------------------------------------------------------------------ qr

/**
 * Check of a thin QR of `a`. `rank`: the first `rank` columns of a are independent and the
 * rest lie in their span (true for every input used here), so Q[:, :rank] and R[:rank, :] are
 * unique up to signs and R[rank:, :] = 0.
 */
function checkQr(a: Matrix, got: Qr, rank = Math.min(a.rows, a.cols)): Failures {
  const failures: Failures = [];
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  const s = Math.max(m, n);
  if (got.Q.rows !== m || got.Q.cols !== k || got.R.rows !== k || got.R.cols !== n) {
    return [`wrong shapes Q ${got.Q.rows}x${got.Q.cols}, R ${got.R.rows}x${got.R.cols}`];
  }
  const A = toDense64(a);
  const expected = ref.qr(A);
  const norm = frobenius(A);
  const tol = normTol(s, norm);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < Math.min(i, n); j++) {
      if (got.R.data[i * n + j] !== 0) failures.push(`R(${i}, ${j}) = ${got.R.data[i * n + j]} below the diagonal is not exactly 0`);
    }
  }
  checkLe(failures, '‖Q·R - A‖_F', diffFrobenius(mul64(got.Q, got.R), A), tol);
  checkLe(failures, 'max |QᵀQ - I|', orthogonalityError(got.Q), orthTol(s));
  let diag = 0;
  for (let j = 0; j < k; j++) diag = Math.max(diag, Math.abs(Math.abs(got.R.data[j * n + j]!) - Math.abs(expected.R.data[j * n + j]!)));
  // QR perturbation theory: the factors move by ≲ κ·‖E‖/‖A‖ (κ of the independent columns).
  let kappa = 1;
  if (rank > 0) {
    const sv = ref.svd(leadingColumns(A, rank)).S;
    kappa = Math.max(1, sv[0]! / sv[rank - 1]!);
  }
  checkLe(failures, '| |diag R| - |diag R_ref| | (max)', diag, tol * kappa);
  let qErr = 0;
  let rErr = 0;
  for (let j = 0; j < k; j++) {
    if (j < rank) {
      const sg = Math.sign(got.R.data[j * n + j]!) * Math.sign(expected.R.data[j * n + j]!) || 1;
      for (let i = 0; i < m; i++) qErr = Math.max(qErr, Math.abs(got.Q.data[i * k + j]! - sg * expected.Q.data[i * k + j]!));
      for (let c = 0; c < n; c++) rErr = Math.max(rErr, Math.abs(got.R.data[j * n + c]! - sg * expected.R.data[j * n + c]!));
    } else {
      for (let c = 0; c < n; c++) rErr = Math.max(rErr, Math.abs(got.R.data[j * n + c]!));
    }
  }
  if (!Number.isFinite(maxAbs(got.Q.data)) || !Number.isFinite(maxAbs(got.R.data))) qErr = Infinity;
  checkLe(failures, `Q[:, :${rank}] vs reference up to column signs`, qErr, orthTol(s) * kappa);
  checkLe(failures, `R vs reference up to row signs (rows ≥ ${rank} vs 0)`, rErr, tol * kappa);
  return failures;
}

// ------------------------------------------------------------------------------ truncatedSvd

/** ‖A - U·diag(S)·Vt‖₂ in float64 (largest singular value of the residual, by the reference). */
function residualSpectralNorm(A: Dense, got: Svd): number {
  const r = mul64(scaleColumns(got.U, got.S), got.Vt);
  const diff = dense(A.rows, A.cols, diffArrays(A.data, r.data));
  return diff.data.length === 0 ? 0 : (ref.svd(diff).S[0] ?? 0);
}

interface TruncatedExpect {
  /** Require top-k values to match the reference (true for exact methods / decaying spectra). */
  exactValues: boolean;
  /** Require ‖A - USVt‖₂ ≤ σ_{k+1}·(1 + slack) + tol (true when the top-k space is found). */
  optimalResidual: boolean;
}

/** max over entries of |G - I| / allowed, G = QᵀQ (or Q·Qᵀ for rows): ≤ 1 passes. */
function orthogonalityRatio(
  q: { rows: number; cols: number; data: ArrayLike<number> },
  which: 'columns' | 'rows',
  base: number,
): number {
  const g = which === 'columns' ? mul64(transpose64(q), q) : mul64(q, transpose64(q));
  let worst = 0;
  for (let i = 0; i < g.rows; i++) {
    for (let j = 0; j < g.cols; j++) {
      const err = Math.abs(g.data[i * g.cols + j]! - (i === j ? 1 : 0));
      const r = err / base;
      worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
    }
  }
  return worst;
}

function checkTruncated(a: Matrix, k: number, got: Svd, e: TruncatedExpect): Failures {
  const failures: Failures = [];
  const m = a.rows;
  const n = a.cols;
  const s = Math.max(m, n);
  if (got.U.rows !== m || got.U.cols !== k || got.S.length !== k || got.Vt.rows !== k || got.Vt.cols !== n) {
    return [`wrong shapes U ${got.U.rows}x${got.U.cols}, S ${got.S.length}, Vt ${got.Vt.rows}x${got.Vt.cols}`];
  }
  const A = toDense64(a);
  const expected = ref.svd(A);
  const tol = normTol(s, frobenius(A));
  for (let i = 0; i < k; i++) {
    if (!(got.S[i]! >= 0)) failures.push(`S[${i}] = ${got.S[i]} is negative or NaN`);
    if (i > 0 && !(got.S[i - 1]! >= got.S[i]!)) failures.push(`S not descending at ${i}: ${got.S[i - 1]} < ${got.S[i]}`);
  }
  let worst = 0;
  let above = 0;
  for (let i = 0; i < k; i++) {
    worst = Math.max(worst, Math.abs(got.S[i]! - expected.S[i]!));
    above = Math.max(above, got.S[i]! - expected.S[i]!); // Ritz values never exceed σ_i
  }
  if (!Number.isFinite(maxAbs(got.S))) worst = above = Infinity;
  if (e.exactValues) checkLe(failures, `top-${k} singular values vs reference (max abs diff)`, worst, tol);
  else checkLe(failures, `top-${k} values above the reference σ_i (interlacing)`, above, tol);
  checkLe(failures, 'max |UᵀU - I| / allowed', orthogonalityRatio(got.U, 'columns', orthTol(s)), 1);
  checkLe(failures, 'max |Vt·Vtᵀ - I| / allowed', orthogonalityRatio(got.Vt, 'rows', orthTol(s)), 1);
  const next = k < expected.S.length ? expected.S[k]! : 0;
  const res = residualSpectralNorm(A, got);
  // Eckart-Young: no rank-k matrix is closer than σ_{k+1}.
  checkLe(failures, `σ_${k + 1} - ‖A - U·diag(S)·Vt‖₂ (Eckart-Young)`, next - res, tol);
  if (e.optimalResidual) checkLe(failures, `‖A - U·diag(S)·Vt‖₂ - σ_${k + 1}`, res - next, 0.01 * next + tol);
  return failures;
}

// ---------------------------------------------------------------------------- powerIteration

function checkPower(a: Matrix, got: PowerIteration, iters: number, scheme: 'alternating' | 'gram', init?: Float32Array): Failures {
  const failures: Failures = [];
  const A = toDense64(a);
  const expected = ref.powerIteration(A, { iters, scheme, init });
  const s = Math.max(a.rows, a.cols);
  if (got.u.length !== a.rows || got.v.length !== a.cols) return ['wrong vector lengths'];
  checkLe(failures, 'sigma vs reference', Math.abs(got.sigma - expected.sigma), normTol(s, frobenius(A)));
  const d = Math.min(
    ...[1, -1].map((sg) =>
      Math.max(...Array.from(got.u, (x, i) => Math.abs(x - sg * expected.u[i]!)), ...Array.from(got.v, (x, i) => Math.abs(x - sg * expected.v[i]!))),
    ),
  );
  checkLe(failures, '(u, v) vs reference up to a common sign', Number.isNaN(d) ? Infinity : d, orthTol(s) * (iters + 1));
  return failures;
}

// ----------------------------------------------------------------------------------- inputs

const SHAPES: [number, number][] = [
  [1, 1],
  [1, 9],
  [9, 1],
  [7, 13],
  [13, 7],
  [31, 31],
  [16, 16],
  [40, 9],
  [9, 40],
];

const SCALES = [1e-30, 1e30];

/** Rank-deficient inputs with their rank (independent leading columns, the rest in their span). */
function rankDeficient(): { name: string; a: Matrix; rank: number }[] {
  return [
    { name: 'outer product 12x8', a: outerProduct(12, 8, 1), rank: 1 },
    { name: 'outer product 5x11', a: outerProduct(5, 11, 2), rank: 1 },
    { name: 'zero 6x4', a: new Matrix(6, 4), rank: 0 },
    { name: 'zero 3x7', a: new Matrix(3, 7), rank: 0 },
    { name: 'duplicated columns 10x6 (3 distinct)', a: duplicatedColumns(10, 6, 3, 3), rank: 3 },
    { name: 'duplicated columns 5x9 (2 distinct)', a: duplicatedColumns(5, 9, 2, 4), rank: 2 },
    { name: 'duplicated columns 20x20 (13 distinct)', a: duplicatedColumns(20, 20, 13, 5), rank: 13 },
  ];
}

/** Rank-deficient inputs for truncatedSvd, with k beyond the rank in most. */
function rankDeficientTruncated(): { name: string; a: Matrix; k: number }[] {
  return [
    { name: 'outer product 60x40', a: outerProduct(60, 40, 81), k: 3 },
    { name: 'outer product 12x8', a: outerProduct(12, 8, 84), k: 1 },
    { name: 'duplicated columns 60x40 (4 distinct)', a: duplicatedColumns(60, 40, 4, 82), k: 6 },
    { name: 'duplicated columns 10x6 (3 distinct)', a: duplicatedColumns(10, 6, 3, 83), k: 4 },
    { name: 'duplicated columns 9x20 (5 distinct)', a: duplicatedColumns(9, 20, 5, 85), k: 7 },
    { name: 'zero 30x20', a: new Matrix(30, 20), k: 5 },
    { name: 'zero 5x3', a: new Matrix(5, 3), k: 2 },
    { name: 'zero 1x1', a: new Matrix(1, 1), k: 1 },
    { name: 'zero 4x4', a: new Matrix(4, 4), k: 4 },
  ];
}

/** σ_i = 2^-i with random orthogonal factors, rounded to float32. */
function decaying(m: number, n: number, seed: number): Matrix {
  const k = Math.min(m, n);
  return toMatrix32(withSingularValues(m, n, Array.from({ length: k }, (_, i) => 2 ** -i), seed));
}

/** σ₁ = 2, σ₂ = 1, then smaller values: power iteration converges like 4^-iters. */
function gapTwo(m: number, n: number, seed: number): Matrix {
  const k = Math.min(m, n);
  return toMatrix32(withSingularValues(m, n, Array.from({ length: k }, (_, i) => (i === 0 ? 2 : 1 / (1 + i))), seed));
}

const dim = fc.integer({ min: 1, max: 24 });
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

// ===================================================================================== tests

describe('matmul vs reference gemm', () => {
  const combos: [boolean, boolean][] = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];

  /** a and b stored so that op(a) is m×k and op(b) is k×n. */
  function operands(m: number, k: number, n: number, transA: boolean, transB: boolean, seed: number): [Matrix, Matrix] {
    const a = transA ? Matrix.randn(k, m, seed) : Matrix.randn(m, k, seed);
    const b = transB ? Matrix.randn(n, k, seed + 1) : Matrix.randn(k, n, seed + 1);
    return [a, b];
  }

  for (const [transA, transB] of combos) {
    it(`transA=${transA} transB=${transB} on edge and odd shapes`, () => {
      const dims: [number, number, number][] = [
        [1, 1, 1],
        [1, 9, 1],
        [9, 1, 9],
        [1, 13, 7],
        [7, 13, 1],
        [7, 13, 31],
        [13, 7, 13],
        [31, 31, 31],
        [40, 9, 3],
        [5, 0, 4], // empty inner dimension: C = 0
      ];
      for (const [m, k, n] of dims) {
        const [a, b] = operands(m, k, n, transA, transB, m * 1000 + k * 10 + n);
        expectPass(checkMatmul(matmul(a, b, { transA, transB }), a, b, { transA, transB }).map((f) => `${m}x${k}x${n}: ${f}`));
      }
    });

    it(`transA=${transA} transB=${transB} with alpha, beta and a given out`, () => {
      for (const [alpha, beta] of [
        [2.5, 0],
        [-0.75, 1],
        [1, -3],
        [0, 0.5],
        [1e-3, 7],
      ]) {
        const [a, b] = operands(13, 7, 11, transA, transB, 77);
        const c0 = Matrix.randn(13, 11, 78);
        const out = c0.clone();
        const r = matmul(a, b, { transA, transB, alpha, beta, out });
        expect(r.data).toBe(out.data);
        expectPass(checkMatmul(out, a, b, { transA, transB, alpha, beta, c0: c0.data }).map((f) => `alpha ${alpha} beta ${beta}: ${f}`));
      }
    });
  }

  it('beta = 0 ignores NaN and Infinity in out', () => {
    const a = Matrix.randn(6, 5, 1);
    const b = Matrix.randn(5, 4, 2);
    const out = new Matrix(6, 4, new Float32Array(24).fill(NaN));
    out.data[3] = Infinity;
    matmul(a, b, { out, alpha: 1.5 });
    expectPass(checkMatmul(out, a, b, { alpha: 1.5 }));
  });

  describe('out aliasing an input', () => {
    for (const [transA, transB] of combos) {
      it(`out = a and out = b (square, transA=${transA} transB=${transB}, beta ≠ 0)`, () => {
        const a0 = Matrix.randn(9, 9, 5);
        const b0 = Matrix.randn(9, 9, 6);
        const o = { transA, transB, alpha: 1.25, beta: -0.5 };
        const a = a0.clone();
        matmul(a, b0, { ...o, out: a });
        expectPass(checkMatmul(a, a0, b0, { ...o, c0: a0.data }).map((f) => `out = a: ${f}`));
        const b = b0.clone();
        matmul(a0, b, { ...o, out: b });
        expectPass(checkMatmul(b, a0, b0, { ...o, c0: b0.data }).map((f) => `out = b: ${f}`));
        const c = a0.clone();
        matmul(c, c, { ...o, out: c }); // a = b = out
        expectPass(checkMatmul(c, a0, a0, { ...o, c0: a0.data }).map((f) => `a = b = out: ${f}`));
      });
    }

    it('out = a for a rectangular a (m×k times k×k)', () => {
      const a0 = Matrix.randn(13, 7, 8);
      const b = Matrix.randn(7, 7, 9);
      const a = a0.clone();
      matmul(a, b, { out: a, beta: 2 });
      expectPass(checkMatmul(a, a0, b, { beta: 2, c0: a0.data }));
      const a2 = a0.clone();
      matmul(a2, b, { out: a2, transB: true });
      expectPass(checkMatmul(a2, a0, b, { transB: true }));
    });

    it('out partially overlapping a (views of one buffer)', () => {
      const buffer = Matrix.randn(1, 80, 10).data;
      const original = buffer.slice();
      const a = new Matrix(6, 8, buffer.subarray(0, 48));
      const out = new Matrix(6, 5, buffer.subarray(20, 50)); // overlaps a's last 28 entries
      const b = Matrix.randn(8, 5, 11);
      const a0 = new Matrix(6, 8, original.slice(0, 48));
      const c0 = original.slice(20, 50);
      matmul(a, b, { out, alpha: -1, beta: 0.5 });
      expectPass(checkMatmul(out, a0, b, { alpha: -1, beta: 0.5, c0 }));
      // Nothing outside out was written.
      expect(bitIdentical(buffer.subarray(0, 20), original.subarray(0, 20))).toBe(true);
      expect(bitIdentical(buffer.subarray(50), original.subarray(50))).toBe(true);
    });
  });

  describe('scales 1e-30 and 1e30 (one operand scaled; tolerance scales with it)', () => {
    for (const scale of SCALES) {
      it(`scale ${scale}`, () => {
        for (const [transA, transB] of combos) {
          const [a1, b] = operands(7, 13, 9, transA, transB, 12);
          const a = scaled(a1, scale);
          const r = matmul(a, b, { transA, transB, alpha: 0.5 });
          expectPass(checkMatmul(r, a, b, { transA, transB, alpha: 0.5 }));
          // The check really is relative to the scale: the result is of that size.
          expect(maxAbs(r.data)).toBeGreaterThan(scale * 0.1);
          expect(maxAbs(r.data)).toBeLessThan(scale * 1e3);
        }
        // Opposite scales: the product is O(1).
        const a = scaled(Matrix.randn(8, 6, 13), scale);
        const b = scaled(Matrix.randn(6, 5, 14), 1 / scale);
        expectPass(checkMatmul(matmul(a, b), a, b, {}));
      });
    }
  });

  it('property: random shapes 1..24, transposes, alpha, beta, out', () => {
    fc.assert(
      fc.property(
        dim,
        dim,
        dim,
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(1, -1, 0.5, 3.25, 0),
        fc.constantFrom(0, 1, -2, 0.125),
        seedArb,
        (m, k, n, transA, transB, alpha, beta, seed) => {
          const [a, b] = operands(m, k, n, transA, transB, seed);
          const c0 = Matrix.randn(m, n, seed + 2);
          const out = c0.clone();
          matmul(a, b, { transA, transB, alpha, beta, out });
          expectPass(checkMatmul(out, a, b, { transA, transB, alpha, beta, c0: c0.data }));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('property: arbitrary float32 entries (wide dynamic range, subnormals)', () => {
    const entries = (len: number) =>
      fc.float32Array({ minLength: len, maxLength: len, min: -1e4, max: 1e4, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.tuple(dim, dim, dim).chain(([m, k, n]) => fc.tuple(fc.constant([m, k, n] as const), entries(m * k), entries(k * n))),
        ([[m, k, n], x, y]) => {
          const a = new Matrix(m, k, x);
          const b = new Matrix(k, n, y);
          expectPass(checkMatmul(matmul(a, b), a, b, {}));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('eigh vs reference', () => {
  it('random symmetric matrices: 1x1, odd and square sizes', () => {
    for (const n of [1, 2, 7, 13, 16, 31]) expectPass(checkEigh(randomSymmetric(n, n), eigh(randomSymmetric(n, n))).map((f) => `n=${n}: ${f}`));
  });

  it('repeated eigenvalues: identity and Q·diag(1,1,2,2,3)·Qᵀ', () => {
    for (const n of [1, 5, 8]) {
      const I = Matrix.eye(n);
      const r = eigh(I);
      expectPass(checkEigh(I, r).map((f) => `I_${n}: ${f}`));
      for (const value of r.values) expect(Math.abs(value - 1)).toBeLessThanOrEqual(orthTol(n));
    }
    for (const seed of [1, 2, 3]) {
      const s = toMatrix32(withEigenvalues([1, 1, 2, 2, 3], seed));
      expectPass(checkEigh(s, eigh(s)).map((f) => `seed ${seed}: ${f}`));
    }
    const many = toMatrix32(withEigenvalues([-2, -2, -2, 0, 0, 5, 5, 5, 5, 7, 11], 4));
    expectPass(checkEigh(many, eigh(many)));
  });

  it('rank-deficient: u·uᵀ (eigenvalue 0 repeated n-1 times) and the zero matrix', () => {
    const u = Matrix.randn(9, 1, 21);
    const uut = matmul(u, u, { transB: true });
    expectPass(checkEigh(uut, eigh(uut)));
    const zero = new Matrix(6, 6);
    const r = eigh(zero);
    expectPass(checkEigh(zero, r));
    expect(Array.from(r.values)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  for (const scale of SCALES) {
    it(`scale ${scale}`, () => {
      for (const n of [1, 7, 13]) {
        const s = scaled(randomSymmetric(n, 30 + n), scale);
        const r = eigh(s);
        expectPass(checkEigh(s, r).map((f) => `n=${n}: ${f}`));
        expect(maxAbs(r.values)).toBeGreaterThan(scale * 0.01);
      }
      const rep = toMatrix32(withEigenvalues([scale, scale, 2 * scale, 2 * scale, 3 * scale], 9));
      expectPass(checkEigh(rep, eigh(rep)).map((f) => `repeated: ${f}`));
    });
  }

  it('reads only the lower triangle: garbage (NaN, Infinity, huge) above the diagonal gives the same bits', () => {
    for (const n of [2, 7, 13]) {
      const s = randomSymmetric(n, 40 + n);
      const clean = eigh(s);
      const fills: ((i: number, j: number) => number)[] = [() => NaN, () => Infinity, (i, j) => 1e30 * (i - j), (i, j) => -i * j - 5];
      for (const fill of fills) {
        const g = withUpperGarbage(s, fill);
        const r = eigh(g);
        expect(bitIdentical(r.values, clean.values)).toBe(true);
        expect(bitIdentical(r.vectors.data, clean.vectors.data)).toBe(true);
        expectPass(checkEigh(g, r));
      }
    }
  });

  it('property: random symmetric n = 1..24', () => {
    fc.assert(
      fc.property(dim, seedArb, (n, seed) => {
        const s = randomSymmetric(n, seed);
        expectPass(checkEigh(s, eigh(s)));
      }),
      { numRuns: RUNS },
    );
  });

  it('property: prescribed spectrum with clusters, lower triangle only', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 16 }),
        seedArb,
        (values, seed) => {
          const s = toMatrix32(withEigenvalues(values, seed));
          const g = withUpperGarbage(s, () => NaN);
          expectPass(checkEigh(g, eigh(g)));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('svd vs reference', () => {
  it('random matrices: 1x1, 1xn, nx1, odd, square, tall, wide', () => {
    for (const [m, n] of SHAPES) {
      const a = Matrix.randn(m, n, m * 100 + n);
      expectPass(checkSvd(a, svd(a)).map((f) => `${m}x${n}: ${f}`));
    }
  });

  it('rank-deficient: outer products, zero matrices, duplicated columns', () => {
    for (const { name, a, rank } of rankDeficient()) {
      const r = svd(a);
      expectPass(checkSvd(a, r).map((f) => `${name}: ${f}`));
      // The trailing singular values are zero up to rounding.
      for (let i = rank; i < r.S.length; i++) expect(r.S[i]).toBeLessThanOrEqual(normTol(Math.max(a.rows, a.cols), frobenius(a.data)));
    }
  });

  for (const scale of SCALES) {
    it(`scale ${scale}`, () => {
      for (const [m, n] of [
        [1, 5],
        [13, 7],
        [7, 13],
        [16, 16],
      ] as [number, number][]) {
        const a = scaled(Matrix.randn(m, n, 50 + m), scale);
        const r = svd(a);
        expectPass(checkSvd(a, r).map((f) => `${m}x${n}: ${f}`));
        expect(r.S[0]).toBeGreaterThan(scale * 0.1);
      }
      const dup = scaled(duplicatedColumns(9, 6, 2, 51), scale);
      expectPass(checkSvd(dup, svd(dup)).map((f) => `duplicated: ${f}`));
    });
  }

  it('property: random shapes 1..24', () => {
    fc.assert(
      fc.property(dim, dim, seedArb, (m, n, seed) => {
        const a = Matrix.randn(m, n, seed);
        expectPass(checkSvd(a, svd(a)));
      }),
      { numRuns: RUNS },
    );
  });

  it('property: arbitrary float32 entries and low rank', () => {
    const entries = (len: number) =>
      fc.float32Array({ minLength: len, maxLength: len, min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.tuple(dim, dim).chain(([m, n]) => fc.tuple(fc.constant([m, n] as const), entries(m * n), fc.integer({ min: 1, max: Math.min(m, n) }))),
        ([[m, n], x, distinct]) => {
          const a = new Matrix(m, n, x);
          expectPass(checkSvd(a, svd(a)));
          // The same entries with columns repeated: rank ≤ distinct.
          const d = new Matrix(m, n);
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) d.data[i * n + j] = x[i * n + (j % distinct)]!;
          expectPass(checkSvd(d, svd(d)).map((f) => `repeated columns: ${f}`));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('qr vs reference', () => {
  it('random matrices: 1x1, 1xn, nx1, odd, square, tall, wide', () => {
    for (const [m, n] of SHAPES) {
      const a = Matrix.randn(m, n, m * 100 + n + 1);
      expectPass(checkQr(a, qr(a)).map((f) => `${m}x${n}: ${f}`));
    }
  });

  it('rank-deficient: outer products, zero matrices, duplicated columns', () => {
    for (const { name, a, rank } of rankDeficient()) {
      const r = qr(a);
      expectPass(checkQr(a, r, rank).map((f) => `${name}: ${f}`));
    }
    const zero = qr(new Matrix(4, 3));
    expect(Array.from(zero.R.data).every((x) => x === 0)).toBe(true);
  });

  for (const scale of SCALES) {
    it(`scale ${scale}`, () => {
      for (const [m, n] of [
        [1, 5],
        [13, 7],
        [7, 13],
        [16, 16],
      ] as [number, number][]) {
        const a = scaled(Matrix.randn(m, n, 60 + m), scale);
        const r = qr(a);
        expectPass(checkQr(a, r).map((f) => `${m}x${n}: ${f}`));
        expect(maxAbs(r.R.data)).toBeGreaterThan(scale * 0.1);
      }
      const outer = scaled(outerProduct(8, 5, 61), scale);
      expectPass(checkQr(outer, qr(outer), 1).map((f) => `outer product: ${f}`));
    });
  }

  it('property: random shapes 1..24', () => {
    fc.assert(
      fc.property(dim, dim, seedArb, (m, n, seed) => {
        const a = Matrix.randn(m, n, seed);
        expectPass(checkQr(a, qr(a)));
      }),
      { numRuns: RUNS },
    );
  });

  it('property: duplicated columns (rank-deficient)', () => {
    fc.assert(
      fc.property(dim, dim, seedArb, fc.integer({ min: 1, max: 24 }), (m, n, seed, d) => {
        const distinct = Math.min(d, m, n);
        const a = duplicatedColumns(m, n, distinct, seed);
        expectPass(checkQr(a, qr(a), distinct));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('truncatedSvd vs reference', () => {
  const methods = ['randomized', 'exact'] as const;
  const decayShapes: [number, number][] = [
    [40, 30],
    [30, 40],
    [64, 64],
    [100, 25],
    [13, 7],
    [7, 13],
    [31, 31],
  ];

  for (const method of methods) {
    it(`${method}: decaying spectrum σ_i = 2^-i, top-k values, orthonormality, residual ≈ σ_(k+1)`, () => {
      for (const [m, n] of decayShapes) {
        const a = decaying(m, n, m * 100 + n);
        for (const k of [1, 3, 5, 8]) {
          if (k > Math.min(m, n)) continue;
          const r = truncatedSvd(a, k, { method });
          expectPass(checkTruncated(a, k, r, { exactValues: true, optimalResidual: true }).map((f) => `${m}x${n} k=${k}: ${f}`));
          // The brief's bound, implied by the one above: top-k within 1e-3·σ₁.
          const full = ref.svd(toDense64(a)).S;
          for (let i = 0; i < k; i++) expect(Math.abs(r.S[i]! - full[i]!)).toBeLessThanOrEqual(1e-3 * full[0]!);
        }
      }
    });

    it(`${method}: k = min(m, n) equals the full SVD, k = 0 is empty`, () => {
      for (const [m, n] of [...SHAPES, [20, 12] as [number, number]]) {
        const a = Matrix.randn(m, n, 70 + m * n);
        const k = Math.min(m, n);
        const r = truncatedSvd(a, k, { method });
        if (method === 'randomized') expectPass(checkSvd(a, r).map((f) => `${m}x${n} k=${k}: ${f}`)); // exact sgesdd path
        else expectPass(checkTruncated(a, k, r, { exactValues: true, optimalResidual: true }).map((f) => `${m}x${n} k=${k}: ${f}`));
        const z = truncatedSvd(a, 0, { method });
        expect([z.U.rows, z.U.cols, z.S.length, z.Vt.rows, z.Vt.cols]).toEqual([m, 0, 0, 0, n]);
      }
    });

    it(`${method}: 1x1, 1xn, nx1 and rank-deficient inputs`, () => {
      for (const [m, n] of [
        [1, 1],
        [1, 9],
        [9, 1],
      ] as [number, number][]) {
        const a = Matrix.randn(m, n, 80 + m + n);
        expectPass(checkTruncated(a, 1, truncatedSvd(a, 1, { method }), { exactValues: true, optimalResidual: true }).map((f) => `${m}x${n}: ${f}`));
      }
      for (const { name, a, k } of rankDeficientTruncated()) {
        expectPass(checkTruncated(a, k, truncatedSvd(a, k, { method }), { exactValues: true, optimalResidual: true }).map((f) => `${name}: ${f}`));
      }
    });

    for (const scale of SCALES) {
      it(`${method}: scale ${scale}`, () => {
        const a = scaled(decaying(40, 30, 90), scale);
        for (const k of [1, 4]) {
          const r = truncatedSvd(a, k, { method });
          expectPass(checkTruncated(a, k, r, { exactValues: true, optimalResidual: true }).map((f) => `k=${k}: ${f}`));
          expect(r.S[0]).toBeGreaterThan(scale * 0.5);
        }
      });
    }

    it(`${method}: the same seed gives bit-identical results`, () => {
      for (const [m, n, k] of [
        [60, 40, 5],
        [13, 7, 7],
        [25, 100, 3],
      ]) {
        const a = decaying(m!, n!, 91);
        for (const seed of [0, 7]) {
          const x = truncatedSvd(a, k!, { method, seed });
          const y = truncatedSvd(a, k!, { method, seed });
          expect(bitIdentical(x.U.data, y.U.data) && bitIdentical(x.S, y.S) && bitIdentical(x.Vt.data, y.Vt.data)).toBe(true);
        }
      }
    });
  }

  // OpenBLAS 0.3.21's sgesvdx wrote past its singular-value array on these inputs (valgrind:
  // sstebz via sbdsvdx), which is why truncatedSvd no longer uses it. Each case runs in a child
  // process under glibc's malloc checker, so heap damage fails the test instead of the run.
  it('exact and randomized: zero and exactly rank-deficient inputs (each in a child process)', () => {
    const failures: Failures = [];
    for (const { name, a, k } of rankDeficientTruncated()) {
      for (const method of ['exact', 'randomized'] as const) {
        const r = truncatedSvdIsolated(a, k, { method });
        if (!r.ok) failures.push(`${method} ${name}, k=${k}: ${r.reason}`);
        else failures.push(...checkTruncated(a, k, r.value, { exactValues: true, optimalResidual: true }).map((f) => `${method} ${name}, k=${k}: ${f}`));
      }
    }
    expectPass(failures);
  });

  it('randomized: the seed is used (different seeds, different bits, same answer)', () => {
    const a = decaying(60, 40, 92);
    const x = truncatedSvd(a, 5, { seed: 1 });
    const y = truncatedSvd(a, 5, { seed: 2 });
    expect(bitIdentical(x.U.data, y.U.data) && bitIdentical(x.S, y.S)).toBe(false);
    expectPass(checkTruncated(a, 5, y, { exactValues: true, optimalResidual: true }));
  });

  it('randomized: oversample and powerIters options on a decaying spectrum', () => {
    const a = decaying(80, 50, 93);
    for (const [oversample, powerIters] of [
      [0, 0],
      [2, 1],
      [5, 4],
      [20, 2],
    ]) {
      const r = truncatedSvd(a, 4, { oversample, powerIters });
      // Without power iterations and oversampling there is no near-optimality guarantee (HMT
      // Thm 10.5 needs p ≥ 2): only orthonormality, interlacing and Eckart-Young are required.
      const good = powerIters > 0;
      expectPass(checkTruncated(a, 4, r, { exactValues: good, optimalResidual: good }).map((f) => `p=${oversample} q=${powerIters}: ${f}`));
    }
  });

  it('property: random shapes 1..24, random k, both methods', () => {
    fc.assert(
      fc.property(
        fc.tuple(dim, dim, seedArb).chain(([m, n, seed]) => fc.tuple(fc.constant([m, n, seed] as const), fc.integer({ min: 0, max: Math.min(m, n) }))),
        ([[m, n, seed], k]) => {
          const a = Matrix.randn(m, n, seed);
          expectPass(
            checkTruncated(a, k, truncatedSvd(a, k, { method: 'exact' }), { exactValues: true, optimalResidual: true }).map((f) => `exact: ${f}`),
          );
          // A flat Gaussian spectrum is the randomized method's worst case: only the guarantees
          // that hold for any sketch (Ritz values ≤ σ_i, Eckart-Young, orthonormality) apply,
          // unless the sketch covers the whole space and the exact SVD is used.
          const exact = k + 10 >= Math.min(m, n);
          expectPass(
            checkTruncated(a, k, truncatedSvd(a, k, { seed }), { exactValues: exact, optimalResidual: exact }).map((f) => `randomized: ${f}`),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('property: decaying spectrum, randomized (oversample 5), larger shapes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 48 }), fc.integer({ min: 20, max: 48 }), fc.integer({ min: 1, max: 6 }), seedArb, (m, n, k, seed) => {
        const a = decaying(m, n, seed % 100000);
        expectPass(checkTruncated(a, k, truncatedSvd(a, k, { seed, oversample: 5 }), { exactValues: true, optimalResidual: true }));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});

describe('powerIteration and spectralNorm vs reference', () => {
  const schemes = ['alternating', 'gram'] as const;

  for (const scheme of schemes) {
    it(`${scheme}: same recurrence as the reference, default and given init, iters 0..30`, () => {
      for (const [m, n] of SHAPES) {
        const a = Matrix.randn(m, n, 100 + m * n);
        for (const iters of [0, 1, 3, 10, 30]) {
          expectPass(checkPower(a, powerIteration(a, { scheme, iters }), iters, scheme).map((f) => `${m}x${n} iters=${iters}: ${f}`));
          const init = Matrix.randn(1, scheme === 'gram' ? n : m, 200 + iters).data;
          expectPass(checkPower(a, powerIteration(a, { scheme, iters, init }), iters, scheme, init).map((f) => `${m}x${n} iters=${iters} init: ${f}`));
        }
      }
    });

    it(`${scheme}: default options are iters = 10 from all ones`, () => {
      const a = Matrix.randn(13, 7, 101);
      const ones = new Float32Array(scheme === 'gram' ? 7 : 13).fill(1);
      const d = powerIteration(a, { scheme });
      const e = powerIteration(a, { scheme, iters: 10, init: ones });
      expect(d.sigma).toBe(e.sigma);
      expect(bitIdentical(d.u, e.u) && bitIdentical(d.v, e.v)).toBe(true);
      expectPass(checkPower(a, d, 10, scheme));
    });

    it(`${scheme}: 200 iterations with σ₁/σ₂ = 2 converge to the top singular triplet`, () => {
      for (const [m, n] of [
        [13, 7],
        [7, 13],
        [31, 31],
        [40, 9],
      ] as [number, number][]) {
        const a = gapTwo(m, n, 300 + m);
        const p = powerIteration(a, { scheme, iters: 200 });
        expectPass(checkPower(a, p, 200, scheme));
        const exact = ref.svd(toDense64(a));
        const tol = normTol(Math.max(m, n), frobenius(a.data));
        expect(Math.abs(p.sigma - exact.S[0]!)).toBeLessThanOrEqual(tol);
        expect(Math.abs(p.sigma - svd(a).S[0]!)).toBeLessThanOrEqual(tol);
        // Vectors: gap σ₁ - σ₂ = 1 (and σ₁ itself for m ≠ n), so within ~2·tol.
        const vecTol = 2 * tol + orthTol(Math.max(m, n));
        expect(1 - absCosine(p.u, column(exact.U, 0))).toBeLessThanOrEqual(vecTol);
        expect(1 - absCosine(p.v, row(exact.Vt, 0))).toBeLessThanOrEqual(vecTol);
      }
    });

    it(`${scheme}: rank-deficient, zero, 1x1 and a start orthogonal to the row space`, () => {
      for (const { name, a } of rankDeficient()) {
        const p = powerIteration(a, { scheme, iters: 20 });
        if (maxAbs(a.data) === 0) {
          expect(p.sigma).toBe(0);
          expect(frobenius(p.u)).toBeCloseTo(1, 6);
          expect(frobenius(p.v)).toBeCloseTo(1, 6);
        } else {
          expectPass(checkPower(a, p, 20, scheme).map((f) => `${name}: ${f}`));
        }
      }
      const one = Matrix.from(1, 1, [-3]);
      expectPass(checkPower(one, powerIteration(one, { scheme }), 10, scheme));
      // The all-ones start is orthogonal to the column/row space: both restart from sin(i + 1).
      const orth = scheme === 'gram' ? Matrix.from(1, 2, [1, -1]) : Matrix.from(2, 1, [1, -1]);
      const p = powerIteration(orth, { scheme, iters: 5 });
      expectPass(checkPower(orth, p, 5, scheme));
      expect(p.sigma).toBeCloseTo(Math.SQRT2, 6);
    });

    for (const scale of SCALES) {
      it(`${scheme}: scale ${scale}`, () => {
        const a = scaled(Matrix.randn(13, 7, 110), scale);
        for (const iters of [0, 10, 50]) {
          const p = powerIteration(a, { scheme, iters });
          expectPass(checkPower(a, p, iters, scheme).map((f) => `iters=${iters}: ${f}`));
          expect(p.sigma).toBeGreaterThan(scale * 0.5);
        }
        const b = scaled(gapTwo(20, 11, 111), scale);
        const p = powerIteration(b, { scheme, iters: 200 });
        expect(Math.abs(p.sigma - 2 * scale)).toBeLessThanOrEqual(normTol(20, frobenius(b.data)));
      });
    }

    it(`${scheme} property: random shapes 1..24, iters 0..20, random init`, () => {
      fc.assert(
        fc.property(dim, dim, seedArb, fc.integer({ min: 0, max: 20 }), fc.boolean(), (m, n, seed, iters, withInit) => {
          const a = Matrix.randn(m, n, seed);
          const init = withInit ? Matrix.randn(1, scheme === 'gram' ? n : m, seed + 1).data : undefined;
          expectPass(checkPower(a, powerIteration(a, { scheme, iters, init }), iters, scheme, init));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("spectralNorm: 'svd' equals the reference σ₁, 'power' is a lower bound and is powerIteration's sigma", () => {
    const inputs: Matrix[] = [
      ...SHAPES.map(([m, n]) => Matrix.randn(m, n, 120 + m + n)),
      ...rankDeficient().map((c) => c.a),
      ...SCALES.map((sc) => scaled(Matrix.randn(13, 7, 121), sc)),
    ];
    for (const a of inputs) {
      const tol = normTol(Math.max(a.rows, a.cols), frobenius(a.data));
      const sigma1 = ref.svd(toDense64(a)).S[0]!;
      const exact = spectralNorm(a, { method: 'svd' });
      expect(Math.abs(exact - sigma1), `${a.rows}x${a.cols}`).toBeLessThanOrEqual(tol);
      const power = spectralNorm(a);
      expect(power, `${a.rows}x${a.cols}`).toBeLessThanOrEqual(sigma1 + tol);
      expect(power).toBe(powerIteration(a).sigma);
      expect(spectralNorm(a, { method: 'power', iters: 3 })).toBe(powerIteration(a, { iters: 3 }).sigma);
    }
    const g = gapTwo(30, 20, 122);
    expect(Math.abs(spectralNorm(g, { iters: 200 }) - 2)).toBeLessThanOrEqual(normTol(30, frobenius(g.data)));
  });

  it('property: spectralNorm power ≤ svd ≈ reference σ₁', () => {
    fc.assert(
      fc.property(dim, dim, seedArb, fc.integer({ min: 0, max: 30 }), (m, n, seed, iters) => {
        const a = Matrix.randn(m, n, seed);
        const tol = normTol(Math.max(m, n), frobenius(a.data));
        const sigma1 = ref.svd(toDense64(a)).S[0]!;
        expect(Math.abs(spectralNorm(a, { method: 'svd' }) - sigma1)).toBeLessThanOrEqual(tol);
        expect(spectralNorm(a, { iters })).toBeLessThanOrEqual(sigma1 + tol);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('async twins are bit-identical to the sync calls', () => {
  it('matmulAsync (new out, given out with beta ≠ 0, out aliasing a)', async () => {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as [boolean, boolean][]) {
      const a = Matrix.randn(17, 17, 130);
      const b = Matrix.randn(17, 17, 131);
      const o = { transA, transB, alpha: 0.75 };
      expect(bitIdentical((await matmulAsync(a, b, o)).data, matmul(a, b, o).data)).toBe(true);
      const c0 = Matrix.randn(17, 17, 132);
      const outSync = c0.clone();
      const outAsync = c0.clone();
      matmul(a, b, { ...o, beta: -1.5, out: outSync });
      const r = await matmulAsync(a, b, { ...o, beta: -1.5, out: outAsync });
      expect(r.data).toBe(outAsync.data);
      expect(bitIdentical(outAsync.data, outSync.data)).toBe(true);
      const aliasSync = a.clone();
      const aliasAsync = a.clone();
      matmul(aliasSync, b, { ...o, beta: 2, out: aliasSync });
      await matmulAsync(aliasAsync, b, { ...o, beta: 2, out: aliasAsync });
      expect(bitIdentical(aliasAsync.data, aliasSync.data)).toBe(true);
    }
    const big = Matrix.randn(200, 150, 133);
    const big2 = Matrix.randn(150, 120, 134);
    expect(bitIdentical((await matmulAsync(big, big2)).data, matmul(big, big2).data)).toBe(true);
  });

  it('eighAsync, svdAsync, qrAsync, truncatedSvdAsync on several shapes', async () => {
    for (const [m, n] of [...SHAPES, [64, 48] as [number, number]]) {
      const a = Matrix.randn(m, n, 140 + m * n);
      const s1 = svd(a);
      const s2 = await svdAsync(a);
      expect(bitIdentical(s1.U.data, s2.U.data) && bitIdentical(s1.S, s2.S) && bitIdentical(s1.Vt.data, s2.Vt.data), `svd ${m}x${n}`).toBe(true);
      const q1 = qr(a);
      const q2 = await qrAsync(a);
      expect(bitIdentical(q1.Q.data, q2.Q.data) && bitIdentical(q1.R.data, q2.R.data), `qr ${m}x${n}`).toBe(true);
      for (const method of ['randomized', 'exact'] as const) {
        for (const k of [0, 1, Math.min(m, n)]) {
          const t1 = truncatedSvd(a, k, { method, seed: 3 });
          const t2 = await truncatedSvdAsync(a, k, { method, seed: 3 });
          expect(bitIdentical(t1.U.data, t2.U.data) && bitIdentical(t1.S, t2.S) && bitIdentical(t1.Vt.data, t2.Vt.data), `${method} ${m}x${n} k=${k}`).toBe(true);
        }
      }
      const sym = randomSymmetric(n, 150 + n);
      const e1 = eigh(sym);
      const e2 = await eighAsync(sym);
      expect(bitIdentical(e1.values, e2.values) && bitIdentical(e1.vectors.data, e2.vectors.data), `eigh ${n}`).toBe(true);
    }
    const d = decaying(120, 80, 151);
    const t1 = truncatedSvd(d, 6, { seed: 5 });
    const t2 = await truncatedSvdAsync(d, 6, { seed: 5 });
    expect(bitIdentical(t1.U.data, t2.U.data) && bitIdentical(t1.S, t2.S) && bitIdentical(t1.Vt.data, t2.Vt.data)).toBe(true);
    const g = withUpperGarbage(randomSymmetric(9, 152), () => NaN);
    const g1 = eigh(g);
    const g2 = await eighAsync(g);
    expect(bitIdentical(g1.values, g2.values) && bitIdentical(g1.vectors.data, g2.vectors.data)).toBe(true);
  });

  it('concurrent async calls, with inputs overwritten right after the call, match the sync results', async () => {
    const a = Matrix.randn(33, 21, 160);
    const b = Matrix.randn(21, 17, 161);
    const s = randomSymmetric(21, 162);
    const expected = {
      mm: matmul(a, b),
      svd: svd(a),
      qr: qr(a),
      eigh: eigh(s),
      tsvd: truncatedSvd(a, 4, { seed: 9 }),
    };
    const copies = { a: a.clone(), b: b.clone(), s: s.clone() };
    const pending = Promise.all([
      matmulAsync(copies.a, copies.b),
      svdAsync(copies.a),
      qrAsync(copies.a),
      eighAsync(copies.s),
      truncatedSvdAsync(copies.a, 4, { seed: 9 }),
    ]);
    // "Inputs are copied when the call is made": these writes must not reach the results.
    copies.a.data.fill(NaN);
    copies.b.data.fill(1e30);
    copies.s.data.fill(-7);
    const [mm, sv, q, e, t] = await pending;
    expect(bitIdentical(mm.data, expected.mm.data)).toBe(true);
    expect(bitIdentical(sv.U.data, expected.svd.U.data) && bitIdentical(sv.S, expected.svd.S) && bitIdentical(sv.Vt.data, expected.svd.Vt.data)).toBe(true);
    expect(bitIdentical(q.Q.data, expected.qr.Q.data) && bitIdentical(q.R.data, expected.qr.R.data)).toBe(true);
    expect(bitIdentical(e.values, expected.eigh.values) && bitIdentical(e.vectors.data, expected.eigh.vectors.data)).toBe(true);
    expect(bitIdentical(t.U.data, expected.tsvd.U.data) && bitIdentical(t.S, expected.tsvd.S) && bitIdentical(t.Vt.data, expected.tsvd.Vt.data)).toBe(true);
  });
});

// A check that cannot fail is worthless: feed each checker deliberately wrong results (small
// perturbations, swaps, sign errors) and require a failure; feed it the allowed ambiguities
// (eigen/singular vector signs, QR row signs, rotations inside a repeated eigenspace) and
// require a pass.
describe('the checks reject wrong results and accept legitimate ambiguity', () => {
  const perturbed = (x: Float32Array, index: number, delta: number): Float32Array => {
    const y = x.slice();
    y[index] = y[index]! + delta;
    return y;
  };

  it('matmul: a 1e-4 relative error in one entry, a transposed operand, a wrong beta', () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [7, 13, 9],
      [31, 31, 31],
      [24, 24, 24],
    ]) {
      const a = Matrix.randn(m!, k!, 1);
      const b = Matrix.randn(k!, n!, 2);
      const c = matmul(a, b);
      expectPass(checkMatmul(c, a, b, {}));
      const big = maxAbs(c.data);
      for (const idx of [0, c.data.length - 1, Math.floor(c.data.length / 2)]) {
        expectReject(checkMatmul(new Matrix(m!, n!, perturbed(c.data, idx, 1e-4 * big)), a, b, {}));
      }
    }
    const a = Matrix.randn(9, 9, 3);
    const b = Matrix.randn(9, 9, 4);
    expectReject(checkMatmul(matmul(a, b, { transA: true }), a, b, {}));
    expectReject(checkMatmul(matmul(a, b, { transB: true }), a, b, { transA: true }));
    const c0 = Matrix.randn(9, 9, 5);
    const out = c0.clone();
    matmul(a, b, { beta: 1, out });
    expectReject(checkMatmul(out, a, b, { beta: 1.001, c0: c0.data }));
    // Scaled inputs: the same relative error is still caught at 1e-30.
    const as = scaled(a, 1e-30);
    const cs = matmul(as, b);
    expectReject(checkMatmul(new Matrix(9, 9, perturbed(cs.data, 40, 1e-4 * maxAbs(cs.data))), as, b, {}));
  });

  it('eigh: swapped values, a 1e-4 error in a value or vector entry, a wrong vector; signs and rotations pass', () => {
    for (const n of [2, 7, 24, 31]) {
      const s = randomSymmetric(n, 10 + n);
      const r = eigh(s);
      const norm = frobenius(s.data);
      expectPass(checkEigh(s, r));
      const swapped = r.values.slice();
      [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
      expectReject(checkEigh(s, { values: swapped, vectors: r.vectors }));
      expectReject(checkEigh(s, { values: perturbed(r.values, n - 1, 1e-4 * norm), vectors: r.vectors }));
      expectReject(checkEigh(s, { values: r.values, vectors: new Matrix(n, n, perturbed(r.vectors.data, n + 1, 1e-4)) }));
      // Swapping two eigenvector columns (values left in place).
      const v = r.vectors.clone();
      for (let i = 0; i < n; i++) [v.data[i * n], v.data[i * n + 1]] = [v.data[i * n + 1]!, v.data[i * n]!];
      expectReject(checkEigh(s, { values: r.values, vectors: v }));
      // Negating eigenvectors is legitimate.
      const neg = r.vectors.clone();
      for (let i = 0; i < n; i++) neg.data[i * n] = -neg.data[i * n]!;
      expectPass(checkEigh(s, { values: r.values, vectors: neg }));
    }
    // A rotation inside the repeated eigenspace of 1 in Q·diag(1,1,2,2,3)·Qᵀ is legitimate; mixing
    // vectors of 1 and 2 is not.
    const s = toMatrix32(withEigenvalues([1, 1, 2, 2, 3], 5));
    const r = eigh(s);
    const rotate = (p: number, q: number, angle: number): Matrix => {
      const v = r.vectors.clone();
      const [c, sn] = [Math.cos(angle), Math.sin(angle)];
      for (let i = 0; i < 5; i++) {
        const [x, y] = [r.vectors.data[i * 5 + p]!, r.vectors.data[i * 5 + q]!];
        v.data[i * 5 + p] = c * x - sn * y;
        v.data[i * 5 + q] = sn * x + c * y;
      }
      return v;
    };
    expectPass(checkEigh(s, { values: r.values, vectors: rotate(0, 1, 0.7) }));
    expectReject(checkEigh(s, { values: r.values, vectors: rotate(1, 2, 1e-3) }));
    // The lower triangle is what counts: a result for a different lower triangle fails.
    const other = s.clone();
    other.data[3 * 5 + 1] = other.data[3 * 5 + 1]! + 1e-3;
    expectReject(checkEigh(other, r));
  });

  it('svd: swapped or perturbed values, a sign flipped in U only, a perturbed vector; paired signs pass', () => {
    for (const [m, n] of [
      [1, 9],
      [13, 7],
      [7, 13],
      [24, 24],
      [31, 31],
    ] as [number, number][]) {
      const a = Matrix.randn(m, n, 20 + m);
      const r = svd(a);
      const k = Math.min(m, n);
      const norm = frobenius(a.data);
      expectPass(checkSvd(a, r));
      expectReject(checkSvd(a, { ...r, S: perturbed(r.S, k - 1, 1e-4 * norm) }));
      expectReject(checkSvd(a, { ...r, U: new Matrix(m, k, perturbed(r.U.data, 0, 1e-4)) }));
      expectReject(checkSvd(a, { ...r, Vt: new Matrix(k, n, perturbed(r.Vt.data, n - 1, 1e-4)) }));
      if (k > 1) {
        const swapped = r.S.slice();
        [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
        expectReject(checkSvd(a, { ...r, S: swapped }));
      }
      const U = r.U.clone();
      for (let i = 0; i < m; i++) U.data[i * k] = -U.data[i * k]!;
      expectReject(checkSvd(a, { ...r, U }));
      const Vt = r.Vt.clone();
      for (let j = 0; j < n; j++) Vt.data[j] = -Vt.data[j]!;
      expectPass(checkSvd(a, { U, S: r.S, Vt }));
    }
  });

  it('qr: a tiny nonzero below the diagonal, a perturbed factor; row/column sign flips pass', () => {
    for (const [m, n] of [
      [13, 7],
      [7, 13],
      [24, 24],
    ] as [number, number][]) {
      const a = Matrix.randn(m, n, 30 + m);
      const r = qr(a);
      const k = Math.min(m, n);
      expectPass(checkQr(a, r));
      const R = r.R.clone();
      R.data[1 * n + 0] = 1e-30;
      expectReject(checkQr(a, { Q: r.Q, R }));
      expectReject(checkQr(a, { Q: r.Q, R: new Matrix(k, n, perturbed(r.R.data, n + 2, 1e-4 * frobenius(a.data))) }));
      expectReject(checkQr(a, { Q: new Matrix(m, k, perturbed(r.Q.data, 2, 1e-4)), R: r.R }));
      // Q·D, D·R with D = diag(±1) is just as good a QR.
      const Q2 = r.Q.clone();
      const R2 = r.R.clone();
      for (let i = 0; i < m; i++) Q2.data[i * k + 1] = -Q2.data[i * k + 1]!;
      for (let j = 0; j < n; j++) R2.data[1 * n + j] = -R2.data[1 * n + j]!;
      expectPass(checkQr(a, { Q: Q2, R: R2 }));
    }
    // Rank-deficient: a nonzero row of R beyond the rank is wrong even if QR ≈ A is kept.
    const d = duplicatedColumns(10, 6, 3, 31);
    const r = qr(d);
    const R = r.R.clone();
    R.data[4 * 6 + 5] = 1e-3;
    expectReject(checkQr(d, { Q: r.Q, R }, 3));
  });

  it('truncatedSvd: shifted values, a non-optimal subspace, non-orthonormal factors', () => {
    const a = decaying(40, 30, 40);
    const r = truncatedSvd(a, 5);
    const ok = { exactValues: true, optimalResidual: true };
    expectPass(checkTruncated(a, 5, r, ok));
    expectReject(checkTruncated(a, 5, { ...r, S: Float32Array.from(r.S, (x) => x + 2e-4) }, ok));
    // Top-5 space replaced by singular pairs 0..3 and 5: residual σ_5 = 1/16 ≠ σ_6 = 1/32.
    const full = svd(a);
    const pick = [0, 1, 2, 3, 5];
    const U = new Matrix(40, 5);
    const Vt = new Matrix(5, 30);
    pick.forEach((p, c) => {
      for (let i = 0; i < 40; i++) U.data[i * 5 + c] = full.U.data[i * 30 + p]!;
      for (let j = 0; j < 30; j++) Vt.data[c * 30 + j] = full.Vt.data[p * 30 + j]!;
    });
    expectReject(checkTruncated(a, 5, { U, S: Float32Array.from(pick, (p) => full.S[p]!), Vt }, { exactValues: false, optimalResidual: true }));
    expectReject(checkTruncated(a, 5, { ...r, U: new Matrix(40, 5, Float32Array.from(r.U.data, (x) => x * 1.0001)) }, ok));
  });

  it('powerIteration: one iteration more or less, or another start, is detected', () => {
    for (const scheme of ['alternating', 'gram'] as const) {
      for (const [m, n] of [
        [13, 7],
        [7, 13],
        [24, 24],
      ] as [number, number][]) {
        const a = Matrix.randn(m, n, 50 + m);
        const p = powerIteration(a, { scheme, iters: 10 });
        expectPass(checkPower(a, p, 10, scheme));
        expectReject(checkPower(a, p, 9, scheme));
        expectReject(checkPower(a, p, 11, scheme));
        const init = Matrix.randn(1, scheme === 'gram' ? n : m, 51).data;
        expectReject(checkPower(a, p, 10, scheme, init));
        expectReject(checkPower(a, { ...p, sigma: p.sigma * (1 + 1e-4) }, 10, scheme));
      }
    }
  });

  it('bitIdentical: one ulp, a NaN payload or -0 is a difference', () => {
    const x = Float32Array.from([1, 2, 3]);
    const y = x.slice();
    const bits = new Uint32Array(y.buffer);
    bits[1] = bits[1]! + 1;
    expect(bitIdentical(x, y)).toBe(false);
    expect(bitIdentical(Float32Array.from([0]), Float32Array.from([-0]))).toBe(false);
    expect(bitIdentical(x, x.slice())).toBe(true);
  });
});
