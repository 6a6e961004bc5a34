import { withCallerStack } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkBoolean, checkMatrix, checkNumber, checkOptions, type MatrixLike } from './validate.js';

export interface MatmulOptions {
  /** Use Aᵀ instead of A. */
  transA?: boolean;
  /** Use Bᵀ instead of B. */
  transB?: boolean;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** Scale of `out`'s previous contents (default 0: `out` is not read, NaN there is ignored). */
  beta?: number;
  /** Where to write C; a new matrix when omitted. It may alias `a` or `b`. */
  out?: MatrixLike;
}

const KNOWN = ['transA', 'transB', 'alpha', 'beta', 'out'];

interface Plan {
  a: MatrixLike;
  b: MatrixLike;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  out: MatrixLike;
  result: Matrix;
}

function plan(a: MatrixLike, b: MatrixLike, options: MatmulOptions | undefined, name: string): Plan {
  checkMatrix(a, `${name}: a`);
  checkMatrix(b, `${name}: b`);
  const o = checkOptions<MatmulOptions>(options, KNOWN, `${name}: options`);
  const transA = o.transA === undefined ? false : checkBoolean(o.transA, `${name}: transA`);
  const transB = o.transB === undefined ? false : checkBoolean(o.transB, `${name}: transB`);
  const alpha = o.alpha === undefined ? 1 : checkNumber(o.alpha, `${name}: alpha`);
  const beta = o.beta === undefined ? 0 : checkNumber(o.beta, `${name}: beta`);
  const [m, k] = transA ? [a.cols, a.rows] : [a.rows, a.cols];
  const [kb, n] = transB ? [b.cols, b.rows] : [b.rows, b.cols];
  if (k !== kb) {
    const opA = transA ? 'aᵀ' : 'a';
    const opB = transB ? 'bᵀ' : 'b';
    throw new RangeError(
      `${name}: cannot multiply ${opA} (${m}x${k}) by ${opB} (${kb}x${n}): inner dimensions ${k} and ${kb} differ`,
    );
  }
  let out: MatrixLike;
  if (o.out === undefined) {
    out = new Matrix(m, n);
  } else {
    out = checkMatrix(o.out, `${name}: out`);
    if (out.rows !== m || out.cols !== n) {
      throw new RangeError(`${name}: out must be ${m}x${n}, got ${out.rows}x${out.cols}`);
    }
  }
  const result = out instanceof Matrix ? out : new Matrix(m, n, out.data);
  return { a, b, transA, transB, alpha, beta, out, result };
}

/** C = alpha·op(A)·op(B) + beta·C (BLAS sgemm). Returns C (`out` when given). */
export function matmul(a: MatrixLike, b: MatrixLike, options?: MatmulOptions): Matrix {
  const p = plan(a, b, options, 'matmul');
  native.addon.matmul(p.a.data, p.a.rows, p.a.cols, p.b.data, p.b.rows, p.b.cols, p.transA, p.transB, p.alpha, p.beta, p.out.data);
  return p.result;
}

/**
 * `matmul` off the event loop. Inputs are copied when the call is made, so later changes to
 * them do not affect the result; `out` is written when the promise resolves, not before.
 */
export function matmulAsync(a: MatrixLike, b: MatrixLike, options?: MatmulOptions): Promise<Matrix> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    const p = plan(a, b, options, 'matmulAsync');
    await native.addon.matmulAsync(p.a.data, p.a.rows, p.a.cols, p.b.data, p.b.rows, p.b.cols, p.transA, p.transB, p.alpha, p.beta, p.out.data);
    return p.result;
  });
}
