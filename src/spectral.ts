import { native } from './native.js';
import { singularValues } from './svd.js';
import { checkChoice, checkData, checkDim, checkMatrix, checkOptions, type MatrixLike } from './validate.js';

export interface PowerIterationOptions {
  /** Rounds, each two matrix-vector products (default 10, as in seed 000's experiment). */
  iters?: number;
  /**
   * 'alternating' (default; seed 001's scheme 2, PyTorch's spectral_norm): v ← Aᵀu/‖Aᵀu‖,
   * u ← Av/‖Av‖, σ = uᵀAv, starting from u (length rows).
   * 'gram' (scheme 1): x ← AᵀAx/‖AᵀAx‖, starting from x = v (length cols).
   */
  scheme?: 'alternating' | 'gram';
  /** Start vector: length rows for 'alternating', cols for 'gram'. Default: all ones. */
  init?: Float32Array;
}

export interface PowerIteration {
  /** Estimate of the largest singular value (a lower bound, converging like (σ₂/σ₁)^(2·iters)). */
  sigma: number;
  /** Unit left singular vector estimate (length rows). */
  u: Float32Array;
  /** Unit right singular vector estimate (length cols). */
  v: Float32Array;
}

export const POWER_ITERATION_DEFAULTS = { iters: 10, scheme: 'alternating', init: undefined } as const;

/**
 * Top singular triplet by power iteration. If the start vector is orthogonal to A's row or
 * column space (say A = [[1], [-1]] with the all-ones start), it restarts from a fixed
 * sign-varying vector, then from each unit vector e_j; a zero matrix gives sigma 0 with
 * u = e_1, v = e_1.
 */
export function powerIteration(a: MatrixLike, options?: PowerIterationOptions): PowerIteration {
  checkMatrix(a, 'powerIteration: a');
  const o = { ...POWER_ITERATION_DEFAULTS, ...checkOptions<PowerIterationOptions>(options, Object.keys(POWER_ITERATION_DEFAULTS), 'powerIteration: options') };
  const iters = checkDim(o.iters, 'powerIteration: iters');
  const scheme = checkChoice(o.scheme, ['alternating', 'gram'] as const, 'powerIteration: scheme');
  let init: Float32Array | null = null;
  if (o.init !== undefined) {
    const length = scheme === 'gram' ? a.cols : a.rows;
    init = checkData(o.init, 1, length, `powerIteration: init (scheme '${scheme}')`);
    if (!init.every(Number.isFinite)) throw new RangeError('powerIteration: init contains NaN or Infinity');
  }
  const [sigma, u, v] = native.addon.powerIteration(a.data, a.rows, a.cols, iters, scheme, init);
  return { sigma, u, v };
}

export interface SpectralNormOptions {
  /** 'power' (default: fast, approximate from below) or 'svd' (exact, much slower). */
  method?: 'power' | 'svd';
  /** Power-iteration rounds (default 10). */
  iters?: number;
}

/** ‖A‖₂ = σ₁, by power iteration (from the all-ones vector) or from the singular values. */
export function spectralNorm(a: MatrixLike, options?: SpectralNormOptions): number {
  checkMatrix(a, 'spectralNorm: a');
  const o = checkOptions<SpectralNormOptions>(options, ['method', 'iters'], 'spectralNorm: options');
  const method = checkChoice(o.method ?? 'power', ['power', 'svd'] as const, 'spectralNorm: method');
  if (method === 'svd') {
    if (o.iters !== undefined) throw new TypeError("spectralNorm: iters applies to method 'power' only");
    const s = singularValues(a);
    return s.length === 0 ? 0 : s[0];
  }
  return powerIteration(a, { iters: o.iters ?? POWER_ITERATION_DEFAULTS.iters }).sigma;
}
