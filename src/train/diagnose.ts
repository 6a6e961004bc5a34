// Diagnostics for an MLP (issue 5, ALGORITHMS.md "Diagnostics", seed 002):
//
// 1. diagnoseSpectralNorms: per layer, ‖W‖₂ by power iteration (the library's native
//    spectralNorm, method 'power') against the exact value (method 'svd').
// 2. gradientPenaltyCheck: on one sample, both sides of the inequality between the input- and the
//    parameter-gradient penalty (Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", after
//    Dherin et al., "The Geometric Occam's Razor Implicit in Deep Learning", arXiv:2111.15090):
//
//      ‖∇ₓf‖² · Σ_t (1 + ‖h⁽ᵗ⁾‖²) / (‖W⁽ᵗ⁾‖₂² · ‖∇ₓh⁽ᵗ⁾‖₂²)  ≤  ‖∇_θf‖²
//
//    for h⁽ᵗ⁺¹⁾ = g(W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾), h⁽¹⁾ = x, θ = all W⁽ᵗ⁾ and b⁽ᵗ⁾, f any scalar of the output.
//    ‖W‖₂ and ‖∇ₓh⁽ᵗ⁾‖₂ (the Jacobian of layer t's input with respect to x, the identity for
//    t = 1) are spectral norms, the rest l2 norms. It holds term by term: with
//    δ_t = ∂f/∂(W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾), ∇ₓf = (∇ₓh⁽ᵗ⁾)ᵀ W⁽ᵗ⁾ᵀ δ_t, so ‖∇ₓf‖ ≤ ‖∇ₓh⁽ᵗ⁾‖₂‖W⁽ᵗ⁾‖₂‖δ_t‖,
//    while ∇_{W⁽ᵗ⁾}f = δ_t h⁽ᵗ⁾ᵀ and ∇_{b⁽ᵗ⁾}f = δ_t give ‖∇_{W⁽ᵗ⁾,b⁽ᵗ⁾}f‖² = ‖δ_t‖²(1 + ‖h⁽ᵗ⁾‖²).
//
// The network: layers[t-1] = { W: out×in row-major float32, b }, ReLU after every layer but the
// last, linear logits, f = softmax cross-entropy of the sample with its label. Layers are
// numbered t = 1..L in the results, as in the formula.
//
// Everything in gradientPenaltyCheck runs in float64 in TypeScript from the exact float32
// weights and input, including the spectral norms of W⁽ᵗ⁾ and of the Jacobians: a float32 copy
// and LAPACK's sgesdd would carry relative errors of order (size)·2⁻²⁴ ≈ 1e-5 into ‖W‖₂ and
// ‖∇ₓh‖₂, which is larger than the tolerance we want (a network can be built on which the
// inequality is an equality, and there a 1e-6 error in either side must show). In float64 the
// spectral norm is √λ_max of the smaller Gram matrix, found by Householder tridiagonalisation
// and Sturm-sequence bisection (both backward stable), so it is exact to about 1e-12 relative,
// and the check `holds` uses a relative slack of HOLDS_RTOL = 1e-9.

import { spectralNorm } from '../spectral.js';
import { checkDim, checkMatrix, checkOptions, describe, type MatrixLike } from '../validate.js';

export interface DenseLayer {
  /** out×in, row-major float32. */
  W: MatrixLike;
  /** Length out. */
  b: Float32Array;
}

/** A row-major float64 matrix. */
export interface Dense64 {
  rows: number;
  cols: number;
  data: Float64Array;
}

export interface SpectralNormDiagnosis {
  /** t, 1-based (layer t maps h⁽ᵗ⁾ to h⁽ᵗ⁺¹⁾). */
  layer: number;
  rows: number;
  cols: number;
  /** ‖W‖₂ by power iteration (native, float32; a lower bound). */
  power: number;
  /** ‖W‖₂ exactly, the largest singular value (native LAPACK, float32). */
  svd: number;
  /** (svd − power) / svd: ≥ 0 up to rounding, since power iteration approaches σ₁ from below. 0 for W = 0. */
  relativeError: number;
}

export interface PenaltyTerm {
  /** t, 1-based. */
  layer: number;
  /** ‖h⁽ᵗ⁾‖ (layer t's input; h⁽¹⁾ = x). */
  hNorm: number;
  /** ‖W⁽ᵗ⁾‖₂, float64. */
  weightNorm: number;
  /** ‖∇ₓh⁽ᵗ⁾‖₂, float64; exactly 1 for t = 1. */
  jacobianNorm: number;
  /** ‖δ_t‖ = ‖∂f/∂z⁽ᵗ⁺¹⁾‖ = ‖∇_{b⁽ᵗ⁾}f‖. */
  deltaNorm: number;
  /** ‖∇_{W⁽ᵗ⁾}f‖ (Frobenius) = ‖δ_t‖·‖h⁽ᵗ⁾‖. */
  gradWNorm: number;
  /** ‖∇_{b⁽ᵗ⁾}f‖. */
  gradBNorm: number;
  /** ‖∇ₓf‖²·(1 + ‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖₂²‖∇ₓh⁽ᵗ⁾‖₂²); 0 when ∇ₓf = 0. */
  lhs: number;
  /** ‖∇_{W⁽ᵗ⁾}f‖² + ‖∇_{b⁽ᵗ⁾}f‖². */
  rhs: number;
  /** lhs / rhs (0 when both are 0). Each term is ≤ 1 on its own. */
  ratio: number;
}

export interface PenaltyCheck {
  /** f: the softmax cross-entropy of the sample. */
  loss: number;
  /** ‖∇ₓf‖. */
  gradXNorm: number;
  /** ‖∇ₓf‖² · Σ_t (1 + ‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖₂²‖∇ₓh⁽ᵗ⁾‖₂²) = Σ_t terms[t].lhs. */
  lhs: number;
  /** ‖∇_θf‖² = Σ_t terms[t].rhs. */
  rhs: number;
  /** lhs / rhs (0 when both are 0); ≤ 1 by the inequality. */
  ratio: number;
  /** lhs ≤ rhs·(1 + HOLDS_RTOL), i.e. the inequality holds up to float64 rounding. */
  holds: boolean;
  terms: PenaltyTerm[];
}

/** Relative slack of `holds`: float64 rounding in the norms is ~1e-12 at the sizes used here. */
export const HOLDS_RTOL = 1e-9;

// ---------------------------------------------------------------- validation

/** Checks the chain of layers; returns the widths n_1..n_{L+1} (n_1 = input size). */
function checkLayers(layers: unknown, where: string): number[] {
  if (!Array.isArray(layers)) throw new TypeError(`${where}: layers must be an array of { W, b }, got ${describe(layers)}`);
  if (layers.length === 0) throw new RangeError(`${where}: layers must hold at least one layer, got 0`);
  const widths: number[] = [];
  layers.forEach((layer: unknown, i) => {
    const name = `${where}: layers[${i}]`;
    if (typeof layer !== 'object' || layer === null) throw new TypeError(`${name} must be { W, b }, got ${describe(layer)}`);
    const { W, b } = layer as { W?: unknown; b?: unknown };
    const w = checkMatrix(W, `${name}.W`);
    if (w.rows === 0 || w.cols === 0) throw new RangeError(`${name}.W must be non-empty, got ${w.rows}x${w.cols}`);
    if (!(b instanceof Float32Array)) throw new TypeError(`${name}.b must be a Float32Array, got ${describe(b)}`);
    if (b.length !== w.rows) {
      throw new RangeError(`${name}.b must have length ${w.rows} (W is ${w.rows}x${w.cols}), got ${b.length}`);
    }
    if (i === 0) widths.push(w.cols);
    else if (w.cols !== widths[i]) {
      throw new RangeError(
        `${name}.W must have ${widths[i]} columns (layers[${i - 1}].W has ${widths[i]} rows), got ${w.rows}x${w.cols}`,
      );
    }
    widths.push(w.rows);
    if (!w.data.every(Number.isFinite)) throw new RangeError(`${name}.W contains NaN or Infinity`);
    if (!b.every(Number.isFinite)) throw new RangeError(`${name}.b contains NaN or Infinity`);
  });
  return widths;
}

function checkSample(x: unknown, label: unknown, widths: number[], where: string): void {
  if (!(x instanceof Float32Array) && !(x instanceof Float64Array)) {
    throw new TypeError(`${where}: x must be a Float32Array, got ${describe(x)}`);
  }
  if (x.length !== widths[0]) {
    throw new RangeError(`${where}: x must have length ${widths[0]} (layers[0].W has ${widths[0]} columns), got ${x.length}`);
  }
  if (!x.every(Number.isFinite)) throw new RangeError(`${where}: x contains NaN or Infinity`);
  const classes = widths[widths.length - 1];
  if (typeof label !== 'number') throw new TypeError(`${where}: label must be an integer, got ${describe(label)}`);
  if (!Number.isInteger(label) || label < 0 || label >= classes) {
    throw new RangeError(`${where}: label must be an integer in [0, ${classes - 1}] (the last layer has ${classes} outputs), got ${label}`);
  }
}

// ---------------------------------------------------------------- forward, backward, Jacobians

export interface MlpGradients {
  /** f, softmax cross-entropy. */
  loss: number;
  /** Logits z⁽ᴸ⁺¹⁾. */
  logits: Float64Array;
  /** h[t-1] = h⁽ᵗ⁾, layer t's input, t = 1..L (h[0] = x). */
  h: Float64Array[];
  /** z[t-1] = W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾. */
  z: Float64Array[];
  /** delta[t-1] = ∂f/∂z[t-1] = ∇_{b⁽ᵗ⁾}f. */
  delta: Float64Array[];
  /** gradW[t-1] = ∇_{W⁽ᵗ⁾}f = δ_t h⁽ᵗ⁾ᵀ, out×in row-major. */
  gradW: Float64Array[];
  /** ∇ₓf. */
  gradX: Float64Array;
}

/** ReLU'(z): 1 for z > 0, else 0 (the same convention in the backward pass and the Jacobians). */
const active = (z: number): boolean => z > 0;

function forward(layers: DenseLayer[], x: ArrayLike<number>): { h: Float64Array[]; z: Float64Array[] } {
  const h: Float64Array[] = [Float64Array.from(x)];
  const z: Float64Array[] = [];
  layers.forEach(({ W, b }, t) => {
    const input = h[t];
    const out = new Float64Array(W.rows);
    for (let i = 0; i < W.rows; i++) {
      let s = b[i];
      const row = i * W.cols;
      for (let j = 0; j < W.cols; j++) s += W.data[row + j] * input[j];
      out[i] = s;
    }
    z.push(out);
    if (t < layers.length - 1) h.push(out.map((v) => (active(v) ? v : 0)));
  });
  return { h, z };
}

/**
 * Loss and every gradient of one sample, in float64 (backpropagation). Exported so the tests can
 * check it against finite differences.
 */
export function mlpGradients(layers: DenseLayer[], x: Float32Array, label: number): MlpGradients {
  const widths = checkLayers(layers, 'mlpGradients');
  checkSample(x, label, widths, 'mlpGradients');
  return backward(layers, x, label);
}

function backward(layers: DenseLayer[], x: ArrayLike<number>, label: number): MlpGradients {
  const L = layers.length;
  const { h, z } = forward(layers, x);
  const logits = z[L - 1];
  // Softmax cross-entropy, accurate also when p_label ≈ 1: f = log Σ_j exp(z_j − z_label), formed
  // from the largest logit m, with log1p when the label's logit is the largest; ∂f/∂z_j = p_j for
  // j ≠ label and −Σ_{j≠label} p_j (= p_label − 1 without its cancellation) for the label.
  let m = -Infinity;
  for (const v of logits) m = Math.max(m, v);
  let others = 0;
  logits.forEach((v, j) => {
    if (j !== label) others += Math.exp(v - m);
  });
  const own = Math.exp(logits[label] - m);
  const total = own + others;
  const loss = logits[label] === m ? Math.log1p(others) : m - logits[label] + Math.log(total);

  const delta: Float64Array[] = new Array(L);
  const gradW: Float64Array[] = new Array(L);
  const out = logits.map((v, j) => (j === label ? 0 : Math.exp(v - m) / total));
  out[label] = -(others / total);
  delta[L - 1] = out;
  let gradX = new Float64Array(0);
  for (let t = L - 1; t >= 0; t--) {
    const { W } = layers[t];
    const d = delta[t];
    const input = h[t];
    const gw = new Float64Array(W.rows * W.cols);
    const gh = new Float64Array(W.cols);
    for (let i = 0; i < W.rows; i++) {
      const di = d[i];
      if (di === 0) continue;
      const row = i * W.cols;
      for (let j = 0; j < W.cols; j++) {
        gw[row + j] = di * input[j];
        gh[j] += W.data[row + j] * di;
      }
    }
    gradW[t] = gw;
    if (t > 0) {
      const zPrev = z[t - 1];
      delta[t - 1] = gh.map((v, j) => (active(zPrev[j]) ? v : 0));
    } else {
      gradX = gh;
    }
  }
  return { loss, logits, h, z, delta, gradW, gradX };
}

/**
 * J[t-1] = ∇ₓh⁽ᵗ⁾, the Jacobian of layer t's input with respect to x (n_t × n_1, float64),
 * t = 1..L: J[0] is the identity, J[t] = D_t W⁽ᵗ⁾ J[t-1] with D_t the ReLU's 0/1 diagonal.
 */
export function inputJacobians(layers: DenseLayer[], x: Float32Array): Dense64[] {
  const widths = checkLayers(layers, 'inputJacobians');
  checkSample(x, 0, [widths[0], 1], 'inputJacobians');
  return jacobians(layers, forward(layers, x).z);
}

function jacobians(layers: DenseLayer[], z: Float64Array[]): Dense64[] {
  const n = layers[0].W.cols;
  const eye: Dense64 = { rows: n, cols: n, data: new Float64Array(n * n) };
  for (let i = 0; i < n; i++) eye.data[i * n + i] = 1;
  const out: Dense64[] = [eye];
  for (let t = 1; t < layers.length; t++) {
    const { W } = layers[t - 1];
    const prev = out[t - 1];
    const J = new Float64Array(W.rows * n);
    for (let i = 0; i < W.rows; i++) {
      if (!active(z[t - 1][i])) continue;
      const dst = i * n;
      for (let k = 0; k < W.cols; k++) {
        const w = W.data[i * W.cols + k];
        if (w === 0) continue;
        const src = k * n;
        for (let j = 0; j < n; j++) J[dst + j] += w * prev.data[src + j];
      }
    }
    out.push({ rows: W.rows, cols: n, data: J });
  }
  return out;
}

// ---------------------------------------------------------------- float64 spectral norm

/**
 * ‖A‖₂ in float64: √λ_max of the smaller Gram matrix (A·Aᵀ or Aᵀ·A), λ_max by Householder
 * tridiagonalisation and bisection on its Sturm sequence. A is first scaled by a power of two so
 * that the squares neither overflow nor underflow. Relative accuracy about min(m,n)·1e-16.
 */
export function spectralNorm64(a: { rows: number; cols: number; data: ArrayLike<number> }): number {
  const { rows, cols, data } = a;
  let maxAbs = 0;
  for (let i = 0; i < rows * cols; i++) maxAbs = Math.max(maxAbs, Math.abs(data[i]));
  if (maxAbs === 0 || rows === 0 || cols === 0) return 0;
  if (!Number.isFinite(maxAbs)) throw new RangeError('spectralNorm64: input contains NaN or Infinity');
  const scale = 2 ** Math.round(Math.log2(maxAbs));
  const m = Math.min(rows, cols);
  const G = new Float64Array(m * m);
  if (rows <= cols) {
    // G = A·Aᵀ: dot products of rows.
    const A = new Float64Array(rows * cols);
    for (let i = 0; i < A.length; i++) A[i] = data[i] / scale;
    for (let i = 0; i < m; i++) {
      for (let k = 0; k <= i; k++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += A[i * cols + j] * A[k * cols + j];
        G[i * m + k] = s;
        G[k * m + i] = s;
      }
    }
  } else {
    // G = Aᵀ·A: dot products of columns, from the transposed copy.
    const At = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) At[j * rows + i] = data[i * cols + j] / scale;
    for (let i = 0; i < m; i++) {
      for (let k = 0; k <= i; k++) {
        let s = 0;
        for (let j = 0; j < rows; j++) s += At[i * rows + j] * At[k * rows + j];
        G[i * m + k] = s;
        G[k * m + i] = s;
      }
    }
  }
  return Math.sqrt(Math.max(0, largestEigenvalue(G, m))) * scale;
}

/** Largest eigenvalue of the symmetric n×n matrix G (overwritten). */
function largestEigenvalue(G: Float64Array, n: number): number {
  const diag = new Float64Array(n);
  const off = new Float64Array(n); // off[k] = T[k+1][k]
  // Householder tridiagonalisation (Golub & Van Loan, Alg. 8.3.1), eigenvalues only.
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    let alpha = 0;
    for (let i = k + 1; i < n; i++) alpha += G[i * n + k] * G[i * n + k];
    alpha = Math.sqrt(alpha);
    const x0 = G[(k + 1) * n + k];
    if (alpha === 0) {
      off[k] = 0;
      continue;
    }
    // v = x/‖x‖ + sign(x0)·e1, H = I − 2vvᵀ/vᵀv maps x to −sign(x0)‖x‖e1. Dividing by ‖x‖ keeps
    // vᵀv in [2, 4]: with x itself, a column of tiny leftovers (1e-160, from rows of dead ReLUs)
    // made vᵀv underflow and β = 2/vᵀv infinite, and the norm NaN.
    const sign = x0 >= 0 ? 1 : -1;
    for (let i = k + 1; i < n; i++) v[i] = G[i * n + k] / alpha;
    v[k + 1] += sign;
    let vv = 0;
    for (let i = k + 1; i < n; i++) vv += v[i] * v[i];
    const beta = 2 / vv;
    // p = β·G·v, w = p − (β·pᵀv/2)·v, G ← G − v·wᵀ − w·vᵀ on the trailing block.
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += G[i * n + j] * v[j];
      p[i] = beta * s;
      pv += p[i] * v[i];
    }
    const c = (beta * pv) / 2;
    for (let i = k + 1; i < n; i++) p[i] -= c * v[i];
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j <= i; j++) {
        const g = G[i * n + j] - v[i] * p[j] - p[i] * v[j];
        G[i * n + j] = g;
        G[j * n + i] = g;
      }
    }
    off[k] = -sign * alpha;
  }
  for (let k = 0; k < n; k++) diag[k] = G[k * n + k];
  if (n >= 2) off[n - 2] = G[(n - 1) * n + (n - 2)];

  // Gershgorin interval, then bisection: count(x) = number of eigenvalues < x.
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < n; k++) {
    const r = (k > 0 ? Math.abs(off[k - 1]) : 0) + (k < n - 1 ? Math.abs(off[k]) : 0);
    lo = Math.min(lo, diag[k] - r);
    hi = Math.max(hi, diag[k] + r);
  }
  // A pivot this small is replaced by −pivmin (as LAPACK's dstebz does); G's entries are O(1)
  // after the scaling, so this never hides a real pivot.
  const pivmin = 1e-290;
  const below = (x: number): number => {
    let count = 0;
    let d = 1;
    for (let k = 0; k < n; k++) {
      const b2 = k > 0 ? off[k - 1] * off[k - 1] : 0;
      d = diag[k] - x - (k > 0 ? b2 / d : 0);
      if (Math.abs(d) < pivmin) d = -pivmin;
      if (d < 0) count++;
    }
    return count;
  };
  // Invariant: λ_max ∈ [lo, hi]. All n eigenvalues below mid means λ_max < mid.
  for (let it = 0; it < 2000; it++) {
    const mid = (lo + hi) / 2;
    if (mid <= lo || mid >= hi || hi - lo <= 2 * Number.EPSILON * Math.max(Math.abs(lo), Math.abs(hi))) break;
    if (below(mid) === n) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

// ---------------------------------------------------------------- the two diagnostics

/** Per layer, ‖W‖₂ by power iteration (native, `iters` rounds, default 10) against the exact value. */
export function diagnoseSpectralNorms(layers: DenseLayer[], opts?: { iters?: number }): SpectralNormDiagnosis[] {
  checkLayers(layers, 'diagnoseSpectralNorms');
  const o = checkOptions<{ iters?: number }>(opts, ['iters'], 'diagnoseSpectralNorms: opts');
  const iters = o.iters === undefined ? undefined : checkDim(o.iters, 'diagnoseSpectralNorms: opts.iters');
  return layers.map(({ W }, i) => {
    const power = spectralNorm(W, iters === undefined ? { method: 'power' } : { method: 'power', iters });
    const svd = spectralNorm(W, { method: 'svd' });
    return { layer: i + 1, rows: W.rows, cols: W.cols, power, svd, relativeError: svd === 0 ? 0 : (svd - power) / svd };
  });
}

function norm2sq(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

const safeRatio = (a: number, b: number): number => (a === 0 && b === 0 ? 0 : a / b);

/**
 * Both sides of ‖∇ₓf‖²·Σ_t (1 + ‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖₂²‖∇ₓh⁽ᵗ⁾‖₂²) ≤ ‖∇_θf‖² on one sample, f its
 * softmax cross-entropy, all in float64, with the per-layer terms (each satisfies lhs ≤ rhs on
 * its own). `holds` is lhs ≤ rhs·(1 + HOLDS_RTOL).
 */
export function gradientPenaltyCheck(layers: DenseLayer[], x: Float32Array, label: number): PenaltyCheck {
  const widths = checkLayers(layers, 'gradientPenaltyCheck');
  checkSample(x, label, widths, 'gradientPenaltyCheck');
  const g = backward(layers, x, label);
  const J = jacobians(layers, g.z);
  const gx2 = norm2sq(g.gradX);
  const terms: PenaltyTerm[] = layers.map(({ W }, t) => {
    const h2 = norm2sq(g.h[t]);
    const d2 = norm2sq(g.delta[t]);
    const weightNorm = spectralNorm64(W);
    const jacobianNorm = t === 0 ? 1 : spectralNorm64(J[t]);
    // ∇ₓf = Jᵀ Wᵀ δ_t, so ∇ₓf = 0 whenever ‖W‖·‖J‖ = 0: that term is 0, not 0/0.
    const lhs = gx2 === 0 ? 0 : (gx2 * (1 + h2)) / (weightNorm * weightNorm * jacobianNorm * jacobianNorm);
    const rhs = d2 * h2 + d2; // ‖δ hᵀ‖_F² + ‖δ‖²
    return {
      layer: t + 1,
      hNorm: Math.sqrt(h2),
      weightNorm,
      jacobianNorm,
      deltaNorm: Math.sqrt(d2),
      gradWNorm: Math.sqrt(norm2sq(g.gradW[t])),
      gradBNorm: Math.sqrt(d2),
      lhs,
      rhs,
      ratio: safeRatio(lhs, rhs),
    };
  });
  const lhs = terms.reduce((s, term) => s + term.lhs, 0);
  const rhs = terms.reduce((s, term) => s + term.rhs, 0);
  return {
    loss: g.loss,
    gradXNorm: Math.sqrt(gx2),
    lhs,
    rhs,
    ratio: safeRatio(lhs, rhs),
    holds: lhs <= rhs * (1 + HOLDS_RTOL),
    terms,
  };
}

// ---------------------------------------------------------------- printing

const fmt = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? v.toPrecision(6) : v.toExponential(4));

/** Lines for the CLI: one per layer, ‖W‖₂ by power iteration and by SVD. */
export function formatSpectralNorms(rows: SpectralNormDiagnosis[]): string[] {
  return rows.map(
    (r) => `layer ${r.layer} (${r.rows}x${r.cols}): ‖W‖₂ power ${fmt(r.power)}  svd ${fmt(r.svd)}  rel. error ${fmt(r.relativeError)}`,
  );
}

/** Lines for the CLI: both sides of the inequality, their ratio, and the per-layer terms. */
export function formatPenaltyCheck(c: PenaltyCheck, name = 'sample'): string[] {
  return [
    `${name}: ‖∇ₓf‖²·Σ(1+‖h‖²)/(‖W‖₂²‖∇ₓh‖₂²) = ${fmt(c.lhs)}  ≤  ‖∇_θf‖² = ${fmt(c.rhs)}  ratio ${fmt(c.ratio)}  ${c.holds ? 'holds' : 'VIOLATED'}`,
    ...c.terms.map(
      (t) =>
        `  layer ${t.layer}: ‖h‖ ${fmt(t.hNorm)}  ‖W‖₂ ${fmt(t.weightNorm)}  ‖∇ₓh‖₂ ${fmt(t.jacobianNorm)}  lhs ${fmt(t.lhs)}  rhs ${fmt(t.rhs)}  ratio ${fmt(t.ratio)}`,
    ),
  ];
}
