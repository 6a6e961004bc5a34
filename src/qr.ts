import { runAsync } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { readMatrix, withName, type MatrixLike } from './validate.js';

/** The result of {@link qr}: A ≈ Q·R. */
export interface Qr {
  /** m x k with orthonormal columns, k = min(m, n). */
  Q: Matrix;
  /** k x n upper triangular. */
  R: Matrix;
}

function result(a: MatrixLike, [q, r]: [Float32Array, Float32Array]): Qr {
  const k = Math.min(a.rows, a.cols);
  return { Q: new Matrix(a.rows, k, q), R: new Matrix(k, a.cols, r) };
}

/**
 * Thin Householder QR (LAPACK sgeqrf + sorgqr): A = Q·R. NaN or Infinity in A is a RangeError;
 * every message starts with "qr: ".
 */
export function qr(a: MatrixLike): Qr {
  try {
    const A = readMatrix(a, 'qr: a');
    return result(A, native.addon.qr(A.data, A.rows, A.cols));
  } catch (error) {
    throw withName(error, 'qr');
  }
}

/**
 * `qr` off the event loop; the input is copied when the call is made (on a SharedArrayBuffer: when
 * its job starts). Never throws: bad arguments and failures reject, with `qr`'s error under
 * "qrAsync: ".
 */
export function qrAsync(a: MatrixLike): Promise<Qr> {
  return runAsync('qrAsync', async () => {
    const A = readMatrix(a, 'qrAsync: a');
    return result(A, await native.addon.qrAsync(A.data, A.rows, A.cols));
  });
}
