import { withCallerStack } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkMatrix, type MatrixLike } from './validate.js';

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

/** Thin Householder QR (LAPACK sgeqrf + sorgqr): A = Q·R. */
export function qr(a: MatrixLike): Qr {
  checkMatrix(a, 'qr: a');
  return result(a, native.addon.qr(a.data, a.rows, a.cols));
}

/** `qr` off the event loop; the input is copied when the call is made. */
export function qrAsync(a: MatrixLike): Promise<Qr> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    checkMatrix(a, 'qrAsync: a');
    return result(a, await native.addon.qrAsync(a.data, a.rows, a.cols));
  });
}
