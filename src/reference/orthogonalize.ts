// Orthogonalisation and the spectral-norm gradient, float64 reference (ALGORITHMS.md, linear-algebra
// table, rows `orthogonalize` and `spectralNormGrad`).
//
// orthogonalize(G) ≈ UVᵀ where G = UΣVᵀ (thin SVD):
//
//   'newton-schulz' (default): KellerJordan/Muon `zeropower_via_newtonschulz5`, in float64 here
//   (KellerJordan computes in bfloat16; the native path uses float32):
//       if rows > cols, X = Gᵀ (work on the wide side so X·Xᵀ is the smaller Gram matrix), else X = G;
//       X ← X / (‖X‖_F + 1e-7);
//       `steps` (default 5) times:  A = X·Xᵀ;  B = b·A + c·(A·A);  X ← a·X + B·X
//       with (a, b, c) = (3.4445, −4.7750, 2.0315); transpose back if rows > cols.
//   Options (Muon's torch parity): `coefficients` (one (a, b, c) for every iteration, or one triple
//   per iteration), `eps` (1e-7) and `epsMode` ('add': X/(‖X‖_F + ε), the default above; 'max':
//   X/max(‖X‖_F, ε), torch.optim.Muon's `_zeropower_via_newtonschulz`), `normScale` s (1): ‖X‖_F
//   is multiplied by s first (POLAR_EXPRESS: nanochat's per-step triples with s = 1.01, ε = 1e-6).
//   Every iteration maps each singular value x of X to a·x + b·x³ + c·x⁵ and keeps U and V, so the
//   result is U·diag(p(σᵢ/(‖G‖_F + 1e-7)))·Vᵀ with p the 5-fold composition. This quintic is tuned
//   for speed, not convergence: singular values end up roughly in [0.5, 1.2], not at 1 (a
//   normalised σᵢ below ≈1e-3 stays below 0.5 after 5 steps). The zero matrix gives the zero
//   matrix (0/(0 + 1e-7) = 0). The Frobenius norm is the overflow-safe dense.norm2 (same value as
//   √Σx² up to rounding).
//
//   'svd': the exact polar factor UVᵀ from the reference one-sided Jacobi SVD. For a
//   rank-deficient G, UVᵀ over the zero singular values is not unique (any completion of U, V
//   works), so only the singular pairs with σᵢ > max(rows, cols)·2⁻⁵²·σ₁ are used:
//   O = Σ_{σᵢ > tol} uᵢvᵢᵀ. Hence the zero matrix gives the zero matrix and a rank-r G gives a
//   partial isometry of rank r (its nonzero singular values are exactly 1). `steps` is ignored.
//
// spectralNormGrad(W) = ∇(½‖W‖₂²) = σ₁u₁v₁ᵀ from the reference SVD (sign-free: (−u₁)(−v₁)ᵀ is the
// same). The zero matrix gives zero; if σ₁ is repeated the gradient is not unique and this returns
// the pair the SVD happens to put first.
//
// Both functions throw a RangeError on a NaN/±Inf entry and return an empty matrix of the same
// shape for an empty input.

import { dense, norm2, transpose, type Dense } from './dense.js';
import { svd } from './svd.js';

export type OrthogonalizeMethod = 'newton-schulz' | 'svd';

export type NsTriple = readonly [number, number, number];

export interface OrthogonalizeOptions {
  method?: OrthogonalizeMethod;
  /** Newton–Schulz iterations (integer ≥ 0, default 5); ignored by 'svd'. */
  steps?: number;
  /**
   * Newton–Schulz (a, b, c): one triple used for every iteration (default NEWTON_SCHULZ_COEFFS), or
   * an array of exactly `steps` triples, the i-th used by iteration i. Ignored by 'svd'.
   */
  coefficients?: NsTriple | readonly NsTriple[];
  /** ε of the Frobenius normalisation (default NEWTON_SCHULZ_EPS = 1e-7). Ignored by 'svd'. */
  eps?: number;
  /**
   * How ε enters the normalisation: 'add' (default, KellerJordan/Muon): X/(‖X‖_F + ε);
   * 'max' (torch.optim.Muon `_zeropower_via_newtonschulz`): X/max(‖X‖_F, ε). Ignored by 'svd'.
   */
  epsMode?: 'add' | 'max';
  /**
   * s in X/(s·‖X‖_F + ε) or X/max(s·‖X‖_F, ε) (default 1; karpathy/nanochat's Polar Express
   * divides by 1.01·‖X‖_F + 1e-6). Ignored by 'svd'.
   */
  normScale?: number;
}

/** KellerJordan/Muon quintic Newton–Schulz coefficients. */
export const NEWTON_SCHULZ_COEFFS = { a: 3.4445, b: -4.775, c: 2.0315 } as const;
/** Added to ‖G‖_F before dividing (KellerJordan/Muon). */
export const NEWTON_SCHULZ_EPS = 1e-7;

/**
 * The Polar Express iteration of Amsel, Persson, Musco & Gower (2025) as karpathy/nanochat runs
 * it (nanochat/optim.py, `polar_express_coeffs` and `muon_step_fused`): one (a, b, c) per step,
 * the composition NoahAmsel/PolarExpress computes for l = 1e-3, 5 steps, safety factor 1.02,
 * cushion 0.02; X normalised as X/(1.01·‖X‖_F + 1e-6) before the first step.
 */
export const POLAR_EXPRESS = {
  coefficients: [
    [8.156554524902461, -22.48329292557795, 15.878769915207462],
    [4.042929935166739, -2.808917465908714, 0.5000178451051316],
    [3.8916678022926607, -2.772484153217685, 0.5060648178503393],
    [3.285753657755655, -2.3681294933425376, 0.46449024233003106],
    [2.3465413258596377, -1.7097828382687081, 0.42323551169305323],
  ] as readonly NsTriple[],
  normScale: 1.01,
  eps: 1e-6,
} as const;

function checkFinite(g: Dense, what: string): void {
  if (g.data.length !== g.rows * g.cols) {
    throw new RangeError(`${what}: data has length ${g.data.length}, expected ${g.rows * g.cols}`);
  }
  for (let i = 0; i < g.data.length; i++) {
    if (!Number.isFinite(g.data[i]!)) throw new RangeError(`${what}: non-finite entry`);
  }
}

/** C = A·Bᵀ by the textbook loop (A m×k, B n×k). */
function mulABt(a: Dense, b: Dense): Dense {
  const out = dense(a.rows, b.rows);
  const k = a.cols;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a.data[i * k + p]! * b.data[j * k + p]!;
      out.data[i * b.rows + j] = s;
    }
  }
  return out;
}

/** C = A·B by the textbook loop (A m×k, B k×n). */
function mulAB(a: Dense, b: Dense): Dense {
  const out = dense(a.rows, b.cols);
  const k = a.cols;
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a.data[i * k + p]! * b.data[p * n + j]!;
      out.data[i * n + j] = s;
    }
  }
  return out;
}

function isTriple(x: unknown): x is NsTriple {
  return Array.isArray(x) && x.length === 3 && x.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** The (a, b, c) of each of the `steps` iterations; throws on a malformed option. */
export function nsCoefficientsPerStep(coefficients: unknown, steps: number): NsTriple[] {
  if (coefficients === undefined) {
    const { a, b, c } = NEWTON_SCHULZ_COEFFS;
    return Array.from({ length: steps }, () => [a, b, c] as const);
  }
  if (isTriple(coefficients)) return Array.from({ length: steps }, () => coefficients);
  if (Array.isArray(coefficients) && coefficients.every(isTriple)) {
    if (coefficients.length !== steps) {
      throw new RangeError(`orthogonalize: ${coefficients.length} coefficient triples for ${steps} Newton-Schulz steps`);
    }
    return coefficients.map((t) => t as NsTriple);
  }
  throw new TypeError('orthogonalize: coefficients must be [a, b, c] or an array of one finite [a, b, c] per step');
}

function newtonSchulz(g: Dense, steps: number, coeffs: NsTriple[], eps: number, epsMode: 'add' | 'max', normScale: number): Dense {
  const tall = g.rows > g.cols;
  let x = tall ? transpose(g) : dense(g.rows, g.cols, g.data);
  const nrm = normScale * norm2(x.data);
  const denom = epsMode === 'max' ? Math.max(nrm, eps) : nrm + eps; // a division, not a multiplication by 1/denom
  for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i]! / denom;
  for (let it = 0; it < steps; it++) {
    const [a, b, c] = coeffs[it]!;
    const A = mulABt(x, x); // X·Xᵀ (r×r, r = min(rows, cols))
    const AA = mulAB(A, A);
    const B = dense(A.rows, A.cols);
    for (let i = 0; i < B.data.length; i++) B.data[i] = b * A.data[i]! + c * AA.data[i]!;
    const BX = mulAB(B, x);
    const next = dense(x.rows, x.cols);
    for (let i = 0; i < next.data.length; i++) next.data[i] = a * x.data[i]! + BX.data[i]!;
    x = next;
  }
  return tall ? transpose(x) : x;
}

function polarSvd(g: Dense): Dense {
  const { U, S, Vt } = svd(g);
  const k = S.length;
  const out = dense(g.rows, g.cols);
  if (k === 0) return out;
  const tol = Math.max(g.rows, g.cols) * Math.pow(2, -52) * S[0]!;
  for (let p = 0; p < k; p++) {
    if (!(S[p]! > tol)) continue;
    for (let i = 0; i < g.rows; i++) {
      const u = U.data[i * k + p]!;
      for (let j = 0; j < g.cols; j++) out.data[i * g.cols + j] = out.data[i * g.cols + j]! + u * Vt.data[p * g.cols + j]!;
    }
  }
  return out;
}

/** ≈ UVᵀ of G = UΣVᵀ; see the header for the two methods. Returns a new matrix; g is not modified. */
export function orthogonalize(g: Dense, opts: OrthogonalizeOptions = {}): Dense {
  const method = opts.method ?? 'newton-schulz';
  const steps = opts.steps ?? 5;
  if (method !== 'newton-schulz' && method !== 'svd') {
    throw new TypeError(`orthogonalize: unknown method ${String(method)}`);
  }
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`orthogonalize: steps must be an integer >= 0, got ${String(steps)}`);
  }
  const eps = opts.eps ?? NEWTON_SCHULZ_EPS;
  const epsMode = opts.epsMode ?? 'add';
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`orthogonalize: eps must be a finite number >= 0, got ${String(eps)}`);
  if (epsMode !== 'add' && epsMode !== 'max') throw new TypeError(`orthogonalize: unknown epsMode ${String(epsMode)}`);
  const normScale = opts.normScale ?? 1;
  if (typeof normScale !== 'number' || !(normScale > 0) || !Number.isFinite(normScale)) {
    throw new RangeError(`orthogonalize: normScale must be a finite number > 0, got ${String(normScale)}`);
  }
  const coeffs = method === 'svd' ? [] : nsCoefficientsPerStep(opts.coefficients, steps);
  checkFinite(g, 'orthogonalize');
  if (g.rows === 0 || g.cols === 0) return dense(g.rows, g.cols);
  return method === 'svd' ? polarSvd(g) : newtonSchulz(g, steps, coeffs, eps, epsMode, normScale);
}

/** σ₁u₁v₁ᵀ = ∇(½‖W‖₂²) from the reference SVD; zero for the zero matrix. */
export function spectralNormGrad(w: Dense): Dense {
  checkFinite(w, 'spectralNormGrad');
  const out = dense(w.rows, w.cols);
  if (w.rows === 0 || w.cols === 0) return out;
  const { U, S, Vt } = svd(w);
  const k = S.length;
  const s1 = S[0]!;
  if (s1 === 0) return out;
  for (let i = 0; i < w.rows; i++) {
    const su = s1 * U.data[i * k]!;
    for (let j = 0; j < w.cols; j++) out.data[i * w.cols + j] = su * Vt.data[j]!;
  }
  return out;
}
