import { runAsync } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkFloat32, checkNumber, readOptions, readSquare, withName, type MatrixLike } from './validate.js';

/** Options of {@link inverseRoot} and {@link inverseRootAsync}. */
export interface InverseRootOptions {
  /** Added to the diagonal and the floor of the eigenvalues (default 1e-12). */
  eps?: number;
}

const KNOWN = ['eps'] as const;

function args(s: unknown, p: unknown, options: unknown, name: string) {
  const S = readSquare(s, `${name}: s`);
  const P = checkNumber(p, `${name}: p`);
  if (!(P > 0)) throw new RangeError(`${name}: p must be positive, got ${P}`);
  const [rawEps] = readOptions(options, KNOWN, `${name}: options`);
  // eps is added to the diagonal in float32: beyond its range the shifted matrix is infinite.
  const eps = rawEps === undefined ? 1e-12 : checkFloat32(rawEps, `${name}: eps`);
  if (!(eps > 0)) throw new RangeError(`${name}: eps must be positive, got ${eps}`);
  return [S.data, S.rows, P, eps] as const;
}

/**
 * (S + εI)^(−1/p) of a symmetric matrix (lower triangle read): eigh of S + εI with the
 * eigenvalues floored at ε, Q·diag(λ^(−1/p))·Qᵀ. Shampoo's preconditioner. NaN or Infinity in
 * the lower triangle is a RangeError; every message starts with "inverseRoot: ".
 */
export function inverseRoot(s: MatrixLike, p: number, options?: InverseRootOptions): Matrix {
  try {
    const a = args(s, p, options, 'inverseRoot');
    return new Matrix(a[1], a[1], native.addon.inverseRoot(...a));
  } catch (error) {
    throw withName(error, 'inverseRoot');
  }
}

/**
 * `inverseRoot` off the event loop; the input is copied when the call is made (on a
 * SharedArrayBuffer: when its job starts). Never throws: bad arguments and failures reject, with
 * `inverseRoot`'s error under "inverseRootAsync: ".
 */
export function inverseRootAsync(s: MatrixLike, p: number, options?: InverseRootOptions): Promise<Matrix> {
  return runAsync('inverseRootAsync', async () => {
    const a = args(s, p, options, 'inverseRootAsync');
    return new Matrix(a[1], a[1], await native.addon.inverseRootAsync(...a));
  });
}
