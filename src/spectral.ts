import { native } from './native.js';
import { checkChoice, checkData, checkDim, orDefault, readMatrix, readOptions, withName, type MatrixLike } from './validate.js';

/** Options of {@link powerIteration}. */
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

/** The result of {@link powerIteration}: σ₁ ≈ uᵀAv. */
export interface PowerIteration {
  /** Estimate of the largest singular value (a lower bound, converging like (σ₂/σ₁)^(2·iters)). */
  sigma: number;
  /** Unit left singular vector estimate (length rows). */
  u: Float32Array;
  /** Unit right singular vector estimate (length cols). */
  v: Float32Array;
}

export const POWER_ITERATION_DEFAULTS = { iters: 10, scheme: 'alternating', init: undefined } as const;
const POWER_KNOWN = ['iters', 'scheme', 'init'] as const;

function power(A: MatrixLike, iters: number, scheme: 'alternating' | 'gram', init: Float32Array | null): PowerIteration {
  const [sigma, u, v] = native.addon.powerIteration(A.data, A.rows, A.cols, iters, scheme, init);
  return { sigma, u, v };
}

/**
 * Top singular triplet by power iteration. If the start vector is orthogonal to A's row or
 * column space (say A = [[1], [-1]] with the all-ones start), it restarts from a fixed
 * sign-varying vector, then from each unit vector e_j; a zero matrix gives sigma 0 with
 * u = e_1, v = e_1. NaN or Infinity in A or init is a RangeError; every message starts with
 * "powerIteration: ".
 */
export function powerIteration(a: MatrixLike, options?: PowerIterationOptions): PowerIteration {
  const name = 'powerIteration';
  try {
    const A = readMatrix(a, `${name}: a`);
    const [rawIters, rawScheme, rawInit] = readOptions(options, POWER_KNOWN, `${name}: options`);
    const iters = checkDim(orDefault(rawIters, POWER_ITERATION_DEFAULTS.iters), `${name}: iters`);
    const scheme = checkChoice(orDefault(rawScheme, POWER_ITERATION_DEFAULTS.scheme), ['alternating', 'gram'] as const, `${name}: scheme`);
    let init: Float32Array | null = null;
    if (rawInit !== undefined) {
      const length = scheme === 'gram' ? A.cols : A.rows;
      init = checkData(rawInit, 1, length, `${name}: init (scheme '${scheme}')`);
      for (let i = 0; i < length; i++) {
        if (!Number.isFinite(init[i])) throw new RangeError(`${name}: init contains NaN or Infinity (at ${i})`);
      }
    }
    return power(A, iters, scheme, init);
  } catch (error) {
    throw withName(error, name);
  }
}

/** Options of {@link spectralNorm}. */
export interface SpectralNormOptions {
  /** 'power' (default: fast, approximate from below) or 'svd' (exact, much slower). */
  method?: 'power' | 'svd';
  /** Power-iteration rounds (default 10). */
  iters?: number;
}

const NORM_KNOWN = ['method', 'iters'] as const;

/**
 * ‖A‖₂ = σ₁, by power iteration (from the all-ones vector) or from the singular values. NaN or
 * Infinity in A is a RangeError; every message starts with "spectralNorm: ".
 */
export function spectralNorm(a: MatrixLike, options?: SpectralNormOptions): number {
  const name = 'spectralNorm';
  try {
    const A = readMatrix(a, `${name}: a`);
    const [rawMethod, rawIters] = readOptions(options, NORM_KNOWN, `${name}: options`);
    const method = checkChoice(orDefault(rawMethod, 'power'), ['power', 'svd'] as const, `${name}: method`);
    if (method === 'svd') {
      if (rawIters !== undefined) throw new TypeError(`${name}: iters applies to method 'power' only`);
      const s = native.addon.singularValues(A.data, A.rows, A.cols);
      return s.length === 0 ? 0 : s[0];
    }
    const iters = checkDim(orDefault(rawIters, POWER_ITERATION_DEFAULTS.iters), `${name}: iters`);
    return power(A, iters, 'alternating', null).sigma;
  } catch (error) {
    throw withName(error, name);
  }
}
