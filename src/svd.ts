import { withCallerStack } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkChoice, checkDim, checkMatrix, checkOptions, type MatrixLike } from './validate.js';

export interface Svd {
  /** m x k, orthonormal columns. */
  U: Matrix;
  /** k singular values, descending. */
  S: Float32Array;
  /** k x n, orthonormal rows. */
  Vt: Matrix;
}

function result(m: number, n: number, k: number, [u, s, vt]: [Float32Array, Float32Array, Float32Array]): Svd {
  return { U: new Matrix(m, k, u), S: s, Vt: new Matrix(k, n, vt) };
}

/**
 * Thin SVD, A = U·diag(S)·Vt with k = min(m, n) (LAPACK sgesdd; sgesvd if that fails to
 * converge). Throws a RangeError on NaN/Infinity input, an Error if LAPACK fails.
 */
export function svd(a: MatrixLike): Svd {
  checkMatrix(a, 'svd: a');
  const k = Math.min(a.rows, a.cols);
  return result(a.rows, a.cols, k, native.addon.svd(a.data, a.rows, a.cols));
}

/** `svd` off the event loop; the input is copied when the call is made. */
export function svdAsync(a: MatrixLike): Promise<Svd> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    checkMatrix(a, 'svdAsync: a');
    const k = Math.min(a.rows, a.cols);
    return result(a.rows, a.cols, k, await native.addon.svdAsync(a.data, a.rows, a.cols));
  });
}

/** The singular values alone, descending (cheaper than `svd`). */
export function singularValues(a: MatrixLike): Float32Array {
  checkMatrix(a, 'singularValues: a');
  return native.addon.singularValues(a.data, a.rows, a.cols);
}

export interface TruncatedSvdOptions {
  /**
   * 'randomized' (default): Halko-Martinsson-Tropp range finder, fast and accurate on decaying
   * spectra. 'exact': the full SVD, truncated (as slow as `svd`, exact on any spectrum).
   */
  method?: 'randomized' | 'exact';
  /** Extra sketch columns beyond k (randomized; default 10). */
  oversample?: number;
  /** Subspace iterations, each followed by re-orthonormalisation (randomized; default 2). */
  powerIters?: number;
  /** Seed of the Gaussian sketch (randomized; default 0): results are reproducible. */
  seed?: number;
}

export const TRUNCATED_SVD_DEFAULTS = { method: 'randomized', oversample: 10, powerIters: 2, seed: 0 } as const;

function truncatedArgs(a: MatrixLike, k: number, options: TruncatedSvdOptions | undefined, name: string) {
  checkMatrix(a, `${name}: a`);
  checkDim(k, `${name}: k`);
  const full = Math.min(a.rows, a.cols);
  if (k > full) throw new RangeError(`${name}: k must be at most min(rows, cols) = ${full}, got ${k}`);
  const o = { ...TRUNCATED_SVD_DEFAULTS, ...checkOptions<TruncatedSvdOptions>(options, Object.keys(TRUNCATED_SVD_DEFAULTS), `${name}: options`) };
  const method = checkChoice(o.method, ['randomized', 'exact'] as const, `${name}: method`);
  const oversample = checkDim(o.oversample, `${name}: oversample`);
  const powerIters = checkDim(o.powerIters, `${name}: powerIters`);
  const seed = checkDim(o.seed, `${name}: seed`);
  return [a.data, a.rows, a.cols, k, method, oversample, powerIters, seed] as const;
}

/** The top-k singular triplets: U (m x k), S (k, descending), Vt (k x n). */
export function truncatedSvd(a: MatrixLike, k: number, options?: TruncatedSvdOptions): Svd {
  const args = truncatedArgs(a, k, options, 'truncatedSvd');
  return result(a.rows, a.cols, k, native.addon.truncatedSvd(...args));
}

/** `truncatedSvd` off the event loop; the input is copied when the call is made. */
export function truncatedSvdAsync(a: MatrixLike, k: number, options?: TruncatedSvdOptions): Promise<Svd> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    const args = truncatedArgs(a, k, options, 'truncatedSvdAsync');
    return result(a.rows, a.cols, k, await native.addon.truncatedSvdAsync(...args));
  });
}
