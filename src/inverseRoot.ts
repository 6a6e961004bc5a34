import { withCallerStack } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkNumber, checkOptions, checkSquare, type MatrixLike } from './validate.js';

export interface InverseRootOptions {
  /** Added to the diagonal and the floor of the eigenvalues (default 1e-12). */
  eps?: number;
}

function args(s: MatrixLike, p: number, options: InverseRootOptions | undefined, name: string) {
  checkSquare(s, `${name}: s`);
  checkNumber(p, `${name}: p`);
  if (!(p > 0)) throw new RangeError(`${name}: p must be positive, got ${p}`);
  const o = checkOptions<InverseRootOptions>(options, ['eps'], `${name}: options`);
  const eps = o.eps === undefined ? 1e-12 : checkNumber(o.eps, `${name}: eps`);
  if (!(eps > 0)) throw new RangeError(`${name}: eps must be positive, got ${eps}`);
  return [s.data, s.rows, p, eps] as const;
}

/**
 * (S + εI)^(−1/p) of a symmetric matrix (lower triangle read): eigh of S + εI with the
 * eigenvalues floored at ε, Q·diag(λ^(−1/p))·Qᵀ. Shampoo's preconditioner.
 */
export function inverseRoot(s: MatrixLike, p: number, options?: InverseRootOptions): Matrix {
  return new Matrix(s.rows, s.rows, native.addon.inverseRoot(...args(s, p, options, 'inverseRoot')));
}

/** `inverseRoot` off the event loop; the input is copied when the call is made. */
export function inverseRootAsync(s: MatrixLike, p: number, options?: InverseRootOptions): Promise<Matrix> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    const a = args(s, p, options, 'inverseRootAsync');
    return new Matrix(s.rows, s.rows, await native.addon.inverseRootAsync(...a));
  });
}
