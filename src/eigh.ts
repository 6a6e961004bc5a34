import { runAsync } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { readSquare, withName, type MatrixLike } from './validate.js';

/** The result of {@link eigh}: S ≈ vectors·diag(values)·vectorsᵀ (S symmetric, from its lower triangle). */
export interface Eigh {
  /** Eigenvalues in ascending order. */
  values: Float32Array;
  /** Column i is the unit eigenvector of values[i]. */
  vectors: Matrix;
}

function result(n: number, [values, vectors]: [Float32Array, Float32Array]): Eigh {
  return { values, vectors: new Matrix(n, n, vectors) };
}

/**
 * Eigendecomposition of a symmetric matrix (LAPACK ssyevd). Only the lower triangle is read.
 * Throws a RangeError when that triangle holds NaN or Infinity, an Error if LAPACK fails; every
 * message starts with "eigh: ".
 */
export function eigh(s: MatrixLike): Eigh {
  try {
    const S = readSquare(s, 'eigh: s');
    return result(S.rows, native.addon.eigh(S.data, S.rows));
  } catch (error) {
    throw withName(error, 'eigh');
  }
}

/**
 * `eigh` off the event loop; the input's lower triangle (all `eigh` reads) is copied when the call
 * is made (on a SharedArrayBuffer: when its job starts). Never throws: bad arguments and failures reject, with `eigh`'s error under
 * "eighAsync: ".
 */
export function eighAsync(s: MatrixLike): Promise<Eigh> {
  return runAsync('eighAsync', async () => {
    const S = readSquare(s, 'eighAsync: s');
    return result(S.rows, await native.addon.eighAsync(S.data, S.rows));
  });
}
