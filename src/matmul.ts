import { runAsync } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkBoolean, checkFloat32, checkOptionKeys, readMatrix, unreadable, withName, type MatrixLike } from './validate.js';

/** Options of {@link matmul} and {@link matmulAsync}. */
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

const KNOWN = ['transA', 'transB', 'alpha', 'beta', 'out'] as const;

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

function plan(a: unknown, b: unknown, options: unknown, name: string): Plan {
  const A = readMatrix(a, `${name}: a`);
  const B = readMatrix(b, `${name}: b`);
  let rawTransA: unknown, rawTransB: unknown, rawAlpha: unknown, rawBeta: unknown, rawOut: unknown;
  if (options !== undefined) {
    // Each option read once, by name, in one try: matmul on small matrices runs in loops.
    checkOptionKeys(options, KNOWN, `${name}: options`);
    const o = options as MatmulOptions;
    let reading = 'transA';
    try {
      rawTransA = o.transA;
      reading = 'transB';
      rawTransB = o.transB;
      reading = 'alpha';
      rawAlpha = o.alpha;
      reading = 'beta';
      rawBeta = o.beta;
      reading = 'out';
      rawOut = o.out;
    } catch (cause) {
      throw unreadable(`${name}: options.${reading}`, cause);
    }
  }
  const transA = rawTransA === undefined ? false : checkBoolean(rawTransA, `${name}: transA`);
  const transB = rawTransB === undefined ? false : checkBoolean(rawTransB, `${name}: transB`);
  // alpha and beta are rounded to float32: beyond its range they would turn 0·alpha into NaN.
  const alpha = rawAlpha === undefined ? 1 : checkFloat32(rawAlpha, `${name}: alpha`);
  const beta = rawBeta === undefined ? 0 : checkFloat32(rawBeta, `${name}: beta`);
  const [m, k] = transA ? [A.cols, A.rows] : [A.rows, A.cols];
  const [kb, n] = transB ? [B.cols, B.rows] : [B.rows, B.cols];
  if (k !== kb) {
    const opA = transA ? 'aᵀ' : 'a';
    const opB = transB ? 'bᵀ' : 'b';
    throw new RangeError(
      `${name}: cannot multiply ${opA} (${m}x${k}) by ${opB} (${kb}x${n}): inner dimensions ${k} and ${kb} differ`,
    );
  }
  let out: MatrixLike;
  let result: Matrix;
  if (rawOut === undefined) {
    out = result = new Matrix(m, n);
  } else {
    out = readMatrix(rawOut, `${name}: out`);
    if (out.rows !== m || out.cols !== n) {
      throw new RangeError(`${name}: out must be ${m}x${n}, got ${out.rows}x${out.cols}`);
    }
    result = rawOut instanceof Matrix ? rawOut : new Matrix(m, n, out.data);
  }
  return { a: A, b: B, transA, transB, alpha, beta, out, result };
}

/**
 * C = alpha·op(A)·op(B) + beta·C (BLAS sgemm). Returns C (`out` when given). alpha and beta are
 * used as float32 and must be finite there (|x| ≤ 3.4e38). Errors: TypeError/RangeError whose
 * message starts with "matmul: " and names the argument; a failed call leaves `out` untouched.
 */
export function matmul(a: MatrixLike, b: MatrixLike, options?: MatmulOptions): Matrix {
  try {
    const p = plan(a, b, options, 'matmul');
    native.addon.matmul(p.a.data, p.a.rows, p.a.cols, p.b.data, p.b.rows, p.b.cols, p.transA, p.transB, p.alpha, p.beta, p.out.data);
    return p.result;
  } catch (error) {
    throw withName(error, 'matmul');
  }
}

/**
 * `matmul` off the event loop. Inputs are copied when the call is made, so later changes to
 * them do not affect the result (inputs on a SharedArrayBuffer: when the job starts; see
 * async.ts); `out` is written when the promise resolves, not before.
 * Never throws: bad arguments and failures reject, with `matmul`'s error under "matmulAsync: ".
 */
export function matmulAsync(a: MatrixLike, b: MatrixLike, options?: MatmulOptions): Promise<Matrix> {
  return runAsync('matmulAsync', async () => {
    const p = plan(a, b, options, 'matmulAsync');
    await native.addon.matmulAsync(p.a.data, p.a.rows, p.a.cols, p.b.data, p.b.rows, p.b.cols, p.transA, p.transB, p.alpha, p.beta, p.out.data);
    return p.result;
  });
}
