// Shared test helpers: float32 Matrix <-> float64 Dense conversion, error measures
// (max-abs difference, orthogonality, reconstruction) and constructors for inputs with a
// prescribed spectrum (random orthogonal factors, given singular values or eigenvalues).
//
// Products used by the checks are computed here (`mul64`) in float64 from the exact float32
// values, not with the library or the reference gemm, so neither can hide its own bug.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { Matrix } from '../src/index.js';
import type { MatrixLike } from '../src/validate.js';
import { dense, qr as refQr, type Dense } from '../src/reference/index.js';

/** Unit roundoff of float32 (half an ulp of 1): 2^-24 ≈ 5.96e-8. */
export const F32_EPS = 2 ** -24;

// ---------------------------------------------------------------- conversion

/** Exact float64 copy of a float32 matrix (every float32 is a float64). */
export function toDense64(m: { rows: number; cols: number; data: ArrayLike<number> }): Dense {
  return dense(m.rows, m.cols, m.data);
}

/** A float32 Matrix holding `d` rounded to float32. */
export function toMatrix32(d: { rows: number; cols: number; data: ArrayLike<number> }): Matrix {
  return Matrix.from(d.rows, d.cols, d.data);
}

/** Column j of a row-major matrix. */
export function column(a: { rows: number; cols: number; data: ArrayLike<number> }, j: number): Float64Array {
  const out = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) out[i] = a.data[i * a.cols + j]!;
  return out;
}

/** Row i of a row-major matrix. */
export function row(a: { rows: number; cols: number; data: ArrayLike<number> }, i: number): Float64Array {
  return Float64Array.from(Array.prototype.slice.call(a.data, i * a.cols, (i + 1) * a.cols) as number[]);
}

// ---------------------------------------------------------------- measures

/**
 * max_i |a_i - b_i|. Infinity when a NaN or Infinity appears in either (so a NaN result can never
 * pass a `<= tol` test) or when the lengths differ.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!Number.isFinite(d)) return Infinity;
    if (d > m) m = d;
  }
  return m;
}

/** max_i |x_i| (Infinity if any entry is not finite). */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]!);
    if (!Number.isFinite(v)) return Infinity;
    if (v > m) m = v;
  }
  return m;
}

/** Euclidean / Frobenius norm, scaled by max |x| so 1e30 and 1e-30 entries neither overflow nor underflow. */
export function frobenius(x: ArrayLike<number> | { data: ArrayLike<number> }): number {
  const v: ArrayLike<number> = 'data' in (x as object) ? (x as { data: ArrayLike<number> }).data : (x as ArrayLike<number>);
  const m = maxAbs(v);
  if (m === 0 || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const t = v[i]! / m;
    s += t * t;
  }
  return m * Math.sqrt(s);
}

/** Float64 product of two row-major matrices (plain triple loop, exact inputs). */
export function mul64(
  a: { rows: number; cols: number; data: ArrayLike<number> },
  b: { rows: number; cols: number; data: ArrayLike<number> },
): Dense {
  if (a.cols !== b.rows) throw new Error(`mul64: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  const out = dense(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let p = 0; p < a.cols; p++) {
      const aip = a.data[i * a.cols + p]!;
      if (aip === 0) continue;
      for (let j = 0; j < b.cols; j++) out.data[i * b.cols + j] += aip * b.data[p * b.cols + j]!;
    }
  }
  return out;
}

/** Float64 transpose of any row-major matrix. */
export function transpose64(a: { rows: number; cols: number; data: ArrayLike<number> }): Dense {
  const out = dense(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return out;
}

/** a with column j multiplied by d[j]. */
export function scaleColumns(a: { rows: number; cols: number; data: ArrayLike<number> }, d: ArrayLike<number>): Dense {
  const out = dense(a.rows, a.cols);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[i * a.cols + j] = a.data[i * a.cols + j]! * d[j]!;
  return out;
}

/**
 * max |QᵀQ - I| over the entries (columns orthonormal), or with `rows: true` max |Q Qᵀ - I|
 * (rows orthonormal). 0 for an empty set of vectors.
 */
export function orthogonalityError(
  q: { rows: number; cols: number; data: ArrayLike<number> },
  which: 'columns' | 'rows' = 'columns',
): number {
  const g = which === 'columns' ? mul64(transpose64(q), q) : mul64(q, transpose64(q));
  let m = 0;
  for (let i = 0; i < g.rows; i++) {
    for (let j = 0; j < g.cols; j++) {
      const d = Math.abs(g.data[i * g.cols + j]! - (i === j ? 1 : 0));
      if (!Number.isFinite(d)) return Infinity;
      m = Math.max(m, d);
    }
  }
  return m;
}

/** ‖A - U·diag(S)·Vt‖_F in float64 (k = S.length may be smaller than min(m, n)). */
export function reconstructionError(
  a: { rows: number; cols: number; data: ArrayLike<number> },
  U: { rows: number; cols: number; data: ArrayLike<number> },
  S: ArrayLike<number>,
  Vt: { rows: number; cols: number; data: ArrayLike<number> },
): number {
  const r = mul64(scaleColumns(U, S), Vt);
  const diff = new Float64Array(a.rows * a.cols);
  for (let i = 0; i < diff.length; i++) diff[i] = a.data[i]! - r.data[i]!;
  return frobenius(diff);
}

/** ‖A - B‖_F for same-shaped matrices (Infinity on a shape mismatch). */
export function diffFrobenius(
  a: { rows: number; cols: number; data: ArrayLike<number> },
  b: { rows: number; cols: number; data: ArrayLike<number> },
): number {
  if (a.rows !== b.rows || a.cols !== b.cols) return Infinity;
  const diff = new Float64Array(a.data.length);
  for (let i = 0; i < diff.length; i++) diff[i] = a.data[i]! - b.data[i]!;
  return frobenius(diff);
}

/** |⟨x, y⟩| / (‖x‖‖y‖): 1 when the vectors are parallel or antiparallel. */
export function absCosine(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < x.length; i++) d += x[i]! * y[i]!;
  return Math.abs(d) / (frobenius(x) * frobenius(y));
}

/** min over s = ±1 of max_i |x_i - s·y_i|: distance of two vectors defined up to sign. */
export function signlessMaxDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const neg = Array.from(y, (v) => -v);
  return Math.min(maxAbsDiff(x, y), maxAbsDiff(x, neg));
}

/** True when the two arrays hold exactly the same bits (so NaN equals NaN, -0 differs from +0). */
export function bitIdentical(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

// ---------------------------------------------------------------- constructors

/** Float64 standard normal n x m matrix from the library's seeded generator. */
export function randn64(rows: number, cols: number, seed: number): Dense {
  return toDense64(Matrix.randn(rows, cols, seed));
}

/** A random n x n orthogonal matrix (Q of the reference QR of a Gaussian matrix; float64). */
export function randomOrthogonal(n: number, seed: number): Dense {
  return refQr(randn64(n, n, seed)).Q;
}

/** The first k columns of a row-major matrix. */
export function leadingColumns(a: Dense, k: number): Dense {
  const out = dense(a.rows, k);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < k; j++) out.data[i * k + j] = a.data[i * a.cols + j]!;
  return out;
}

/**
 * U·diag(s)·Vᵀ (float64, m x n) with U, V random with orthonormal columns: a matrix whose
 * singular values are |s| (s.length ≤ min(m, n); missing values are 0).
 */
export function withSingularValues(rows: number, cols: number, s: ArrayLike<number>, seed: number): Dense {
  const k = s.length;
  if (k > Math.min(rows, cols)) throw new Error('withSingularValues: too many values');
  const U = leadingColumns(randomOrthogonal(rows, seed), k);
  const V = leadingColumns(randomOrthogonal(cols, seed + 7919), k);
  return mul64(scaleColumns(U, s), transpose64(V));
}

/** Q·diag(values)·Qᵀ with Q random orthogonal (float64, symmetric). */
export function withEigenvalues(values: ArrayLike<number>, seed: number): Dense {
  const n = values.length;
  const Q = randomOrthogonal(n, seed);
  const s = mul64(scaleColumns(Q, values), transpose64(Q));
  // Exactly symmetric (the product is symmetric only up to rounding).
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) s.data[j * n + i] = s.data[i * n + j]!;
  return s;
}

/** Float32 symmetric matrix (B + Bᵀ)/2 of a seeded Gaussian n x n B. */
export function randomSymmetric(n: number, seed: number): Matrix {
  const b = Matrix.randn(n, n, seed);
  const s = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = (b.data[i * n + j]! + b.data[j * n + i]!) / 2;
      s.data[i * n + j] = v;
      s.data[j * n + i] = v;
    }
  }
  return s;
}

/** Float32 copy of m with every entry multiplied by `scale` (rounded once). */
export function scaled(m: MatrixLike, scale: number): Matrix {
  return Matrix.from(m.rows, m.cols, Array.from(m.data, (x) => x * scale));
}

/** The rank-1 float32 matrix u·vᵀ for seeded Gaussian u (length rows) and v (length cols). */
export function outerProduct(rows: number, cols: number, seed: number): Matrix {
  const u = Matrix.randn(rows, 1, seed).data;
  const v = Matrix.randn(1, cols, seed + 1).data;
  const out = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out.data[i * cols + j] = u[i]! * v[j]!;
  return out;
}

/**
 * A rows x cols float32 matrix whose columns after the first `distinct` repeat the earlier ones
 * (column j copies column j mod distinct), so its rank is at most `distinct`.
 */
export function duplicatedColumns(rows: number, cols: number, distinct: number, seed: number): Matrix {
  const base = Matrix.randn(rows, distinct, seed);
  const out = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out.data[i * cols + j] = base.data[i * distinct + (j % distinct)]!;
  return out;
}

/** A copy of `m` with the strict upper triangle replaced by `fill(i, j)`. */
export function withUpperGarbage(m: MatrixLike, fill: (i: number, j: number) => number): Matrix {
  const out = new Matrix(m.rows, m.cols, m.data.slice());
  for (let i = 0; i < m.rows; i++) for (let j = i + 1; j < m.cols; j++) out.data[i * m.cols + j] = fill(i, j);
  return out;
}

// ---------------------------------------------------------------- crash isolation

const ROOT = join(__dirname, '..');
const MALLOC_DEBUG = '/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0';

// Runs addon.truncatedSvd in a fresh Node process: a native heap overflow then aborts that
// process (glibc's malloc checker is preloaded when available, so even a few bytes written past
// a buffer are caught at free; under the sanitizer build, ASan catches them) instead of silently
// corrupting or killing the test worker.
const CHILD = `
const addon = process.env.SPECOPT_ADDON
  ? require(process.env.SPECOPT_ADDON)
  : require(${JSON.stringify(join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)});
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  const c = JSON.parse(input);
  try {
    const r = addon.truncatedSvd(Float32Array.from(c.data), c.m, c.n, c.k, c.method, c.oversample, c.powerIters, c.seed);
    process.stdout.write(JSON.stringify({ result: r.map((x) => Array.from(x)) }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e && e.message) }));
  }
});
`;

export type Isolated<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * truncatedSvd(a, k, options) computed in a child process. The raw addon is called with the
 * facade's defaults (oversample 10, powerIters 2, seed 0 unless given).
 */
export function truncatedSvdIsolated(
  a: MatrixLike,
  k: number,
  options: { method: 'randomized' | 'exact'; oversample?: number; powerIters?: number; seed?: number },
): Isolated<{ U: Matrix; S: Float32Array; Vt: Matrix }> {
  const input = JSON.stringify({
    data: Array.from(a.data),
    m: a.rows,
    n: a.cols,
    k,
    method: options.method,
    oversample: options.oversample ?? 10,
    powerIters: options.powerIters ?? 2,
    seed: options.seed ?? 0,
  });
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Under `npm run test:asan` the sanitizer runtime is preloaded and must stay first (it also
  // catches every overflow glibc's checker would): no malloc checker then.
  const sanitized = /lib[at]san/.test(env.LD_PRELOAD ?? '');
  if (!sanitized && existsSync(MALLOC_DEBUG)) {
    env.LD_PRELOAD = [MALLOC_DEBUG, env.LD_PRELOAD].filter(Boolean).join(':');
    env.MALLOC_CHECK_ = '3';
  }
  const child = spawnSync(process.execPath, ['-e', CHILD], { input, env, encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0 || child.signal !== null) {
    const stderr = child.stderr.trim().split('\n').slice(-3).join(' | ');
    return { ok: false, reason: `process died (status ${child.status}, signal ${child.signal}): ${stderr}` };
  }
  const out = JSON.parse(child.stdout) as { result?: number[][]; error?: string };
  if (out.error !== undefined) return { ok: false, reason: `threw: ${out.error}` };
  const [u, s, vt] = out.result!;
  return {
    ok: true,
    value: {
      U: new Matrix(a.rows, k, Float32Array.from(u!)),
      S: Float32Array.from(s!),
      Vt: new Matrix(k, a.cols, Float32Array.from(vt!)),
    },
  };
}
