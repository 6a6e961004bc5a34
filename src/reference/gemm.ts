// General matrix multiply C' = alpha*op(A)*op(B) + beta*C by the textbook
// triple loop, following the semantics of the reference BLAS dgemm
// (netlib, Dongarra et al. 1990), including its "quick return" rules:
//   - beta == 0: C is never read, so NaN/Inf in C cannot leak into the result;
//   - alpha == 0: A and B are never read (the result is beta*C).
// Unlike dgemm this returns a new matrix and leaves `c` untouched; a missing
// `c` is treated as the zero matrix.

import { dense, type Dense } from './dense.js';

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  c?: Dense;
}

export function gemm(a: Dense, b: Dense, opts: GemmOptions = {}): Dense {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;

  // op(A) is m×k, op(B) is k×n.
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kB = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kB) {
    throw new RangeError(`gemm: inner dimensions differ (op(A) is ${m}x${k}, op(B) is ${kB}x${n})`);
  }
  const c = opts.c;
  if (c !== undefined && (c.rows !== m || c.cols !== n)) {
    throw new RangeError(`gemm: C is ${c.rows}x${c.cols}, expected ${m}x${n}`);
  }

  // Index through op() rather than materialising transposes, so the code
  // mirrors the mathematical definition directly.
  const opA = (i: number, p: number): number => (transA ? a.data[p * a.cols + i]! : a.data[i * a.cols + p]!);
  const opB = (p: number, j: number): number => (transB ? b.data[j * b.cols + p]! : b.data[p * b.cols + j]!);

  const out = dense(m, n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let value = 0;
      if (alpha !== 0) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += opA(i, p) * opB(p, j);
        value = alpha * sum;
      }
      if (beta !== 0 && c !== undefined) value += beta * c.data[i * n + j]!;
      out.data[i * n + j] = value;
    }
  }
  return out;
}
