import { withCallerStack } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkSquare, type MatrixLike } from './validate.js';

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
 * Throws a RangeError when that triangle holds NaN or Infinity, an Error if LAPACK fails.
 */
export function eigh(s: MatrixLike): Eigh {
  checkSquare(s, 'eigh: s');
  return result(s.rows, native.addon.eigh(s.data, s.rows));
}

/** `eigh` off the event loop; the input is copied when the call is made. */
export function eighAsync(s: MatrixLike): Promise<Eigh> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    checkSquare(s, 'eighAsync: s');
    return result(s.rows, await native.addon.eighAsync(s.data, s.rows));
  });
}
