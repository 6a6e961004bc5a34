import { runAsync } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkChoice, checkDim, orDefault, readMatrix, readOptions, withName, type MatrixLike } from './validate.js';

/** The result of {@link svd} and {@link truncatedSvd}: A ≈ U·diag(S)·Vt. */
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
 * converge). Throws a RangeError on NaN/Infinity input, an Error if LAPACK fails; every message
 * starts with "svd: ".
 */
export function svd(a: MatrixLike): Svd {
  try {
    const A = readMatrix(a, 'svd: a');
    return result(A.rows, A.cols, Math.min(A.rows, A.cols), native.addon.svd(A.data, A.rows, A.cols));
  } catch (error) {
    throw withName(error, 'svd');
  }
}

/**
 * `svd` off the event loop; the input is copied when the call is made (on a SharedArrayBuffer:
 * when its job starts). Never throws: bad arguments and failures reject, with `svd`'s error under
 * "svdAsync: ".
 */
export function svdAsync(a: MatrixLike): Promise<Svd> {
  return runAsync('svdAsync', async () => {
    const A = readMatrix(a, 'svdAsync: a');
    return result(A.rows, A.cols, Math.min(A.rows, A.cols), await native.addon.svdAsync(A.data, A.rows, A.cols));
  });
}

/** The singular values alone, descending (cheaper than `svd`); errors as `svd`'s, under "singularValues: ". */
export function singularValues(a: MatrixLike): Float32Array {
  try {
    const A = readMatrix(a, 'singularValues: a');
    return native.addon.singularValues(A.data, A.rows, A.cols);
  } catch (error) {
    throw withName(error, 'singularValues');
  }
}

/** Options of {@link truncatedSvd} and {@link truncatedSvdAsync}. */
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
const TRUNCATED_KNOWN = ['method', 'oversample', 'powerIters', 'seed'] as const;

function truncatedArgs(a: unknown, k: unknown, options: unknown, name: string) {
  const A = readMatrix(a, `${name}: a`);
  const K = checkDim(k, `${name}: k`);
  const full = Math.min(A.rows, A.cols);
  if (K > full) throw new RangeError(`${name}: k must be at most min(rows, cols) = ${full}, got ${K}`);
  const [rawMethod, rawOversample, rawPowerIters, rawSeed] = readOptions(options, TRUNCATED_KNOWN, `${name}: options`);
  const d = TRUNCATED_SVD_DEFAULTS;
  const method = checkChoice(orDefault(rawMethod, d.method), ['randomized', 'exact'] as const, `${name}: method`);
  const oversample = checkDim(orDefault(rawOversample, d.oversample), `${name}: oversample`);
  const powerIters = checkDim(orDefault(rawPowerIters, d.powerIters), `${name}: powerIters`);
  const seed = checkDim(orDefault(rawSeed, d.seed), `${name}: seed`);
  return [A.data, A.rows, A.cols, K, method, oversample, powerIters, seed] as const;
}

/**
 * The top-k singular triplets: U (m x k), S (k, descending), Vt (k x n). NaN or Infinity in A
 * is a RangeError; every message starts with "truncatedSvd: ".
 */
export function truncatedSvd(a: MatrixLike, k: number, options?: TruncatedSvdOptions): Svd {
  try {
    const args = truncatedArgs(a, k, options, 'truncatedSvd');
    return result(args[1], args[2], args[3], native.addon.truncatedSvd(...args));
  } catch (error) {
    throw withName(error, 'truncatedSvd');
  }
}

/**
 * `truncatedSvd` off the event loop; the input is copied when the call is made (on a
 * SharedArrayBuffer: when its job starts). Never throws: bad arguments and failures reject, with
 * `truncatedSvd`'s error under "truncatedSvdAsync: ".
 */
export function truncatedSvdAsync(a: MatrixLike, k: number, options?: TruncatedSvdOptions): Promise<Svd> {
  return runAsync('truncatedSvdAsync', async () => {
    const args = truncatedArgs(a, k, options, 'truncatedSvdAsync');
    return result(args[1], args[2], args[3], await native.addon.truncatedSvdAsync(...args));
  });
}
