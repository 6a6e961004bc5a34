// Power iteration for the largest singular value σ₁ of A and its singular
// vectors (Golub & Van Loan, 4th ed., §8.2.1 applied to AᵀA), in two schemes:
//
// 'alternating' (default; the update used by PyTorch's
//   torch.nn.utils.spectral_norm, Miyato et al. 2018): u₀ = init (length m)
//   or all-ones; each iteration v ← Aᵀu/‖Aᵀu‖, u ← Av/‖Av‖; finally
//   σ = uᵀAv. With iters = 0: u = u₀/‖u₀‖, v = Aᵀu/‖Aᵀu‖, σ = uᵀAv.
// 'gram': x₀ = init (length n) or all-ones; each iteration
//   x ← AᵀAx/‖AᵀAx‖; finally v = x, w = Av, σ = ‖w‖, u = w/σ.
//   With iters = 0, x = x₀/‖x₀‖.
//
// Degenerate starts: if any vector that must be normalised is exactly zero
// (A = 0, a zero init, or a start orthogonal to the relevant row/column
// space, e.g. A = [[1],[-1]] with u₀ = [1, 1]), the whole iteration restarts
// once from the fixed, non-symmetric vector s_i = sin(i + 1). If that fails
// too, each standard basis vector e_1, e_2, ... is tried in turn (one of them
// must work unless A = 0: A's nonzero rows resp. columns are not orthogonal
// to every e_i). If A is the zero matrix the result is σ = 0, u = e_1
// (length m), v = e_1 (length n).
//
// A is first divided by a power of two near its max |entry| (exact), so
// AᵀAx cannot overflow or underflow; σ is rescaled at the end.

import { dense, norm2, powerOfTwoScale, type Dense } from './dense.js';

export interface PowerIterationOptions {
  /** Number of iterations (default 10; 0 allowed). */
  iters?: number;
  /** Update scheme (default 'alternating'). */
  scheme?: 'alternating' | 'gram';
  /** Start vector: length m for 'alternating' (u₀), n for 'gram' (x₀). */
  init?: ArrayLike<number>;
}

export interface PowerIterationResult {
  sigma: number;
  /** Left singular vector estimate, length m, unit norm. */
  u: Float64Array;
  /** Right singular vector estimate, length n, unit norm. */
  v: Float64Array;
}

export function powerIteration(a: Dense, opts: PowerIterationOptions = {}): PowerIterationResult {
  const iters = opts.iters ?? 10;
  const scheme = opts.scheme ?? 'alternating';
  if (!Number.isInteger(iters) || iters < 0) throw new RangeError(`powerIteration: invalid iters ${iters}`);
  if (scheme !== 'alternating' && scheme !== 'gram') throw new RangeError(`powerIteration: unknown scheme ${String(scheme)}`);
  const m = a.rows;
  const n = a.cols;
  if (m === 0 || n === 0) throw new RangeError(`powerIteration: empty matrix ${m}x${n}`);
  const len = scheme === 'alternating' ? m : n;
  if (opts.init !== undefined && opts.init.length !== len) {
    throw new RangeError(`powerIteration: init has length ${opts.init.length}, expected ${len} for scheme '${scheme}'`);
  }

  const scale = powerOfTwoScale(a.data);
  const as = dense(m, n);
  let zero = true;
  for (let i = 0; i < as.data.length; i++) {
    as.data[i] = a.data[i]! / scale;
    if (as.data[i] !== 0) zero = false;
  }
  if (zero) return { sigma: 0, u: unit(m, 0), v: unit(n, 0) };

  const run = scheme === 'alternating' ? runAlternating : runGram;
  const starts: (() => Float64Array)[] = [
    () => (opts.init !== undefined ? Float64Array.from(opts.init) : new Float64Array(len).fill(1)),
    () => Float64Array.from({ length: len }, (_, i) => Math.sin(i + 1)),
    ...Array.from({ length: len }, (_, e) => () => unit(len, e)),
  ];
  for (const start of starts) {
    const r = run(as, start(), iters);
    if (r !== undefined) return { ...r, sigma: r.sigma * scale };
  }
  // Only reachable if A ≠ 0 yet every start collapses, which exact arithmetic
  // rules out; refuse rather than return something wrong.
  throw new Error('powerIteration: every start vector collapsed to zero');
}

function unit(len: number, e: number): Float64Array {
  const x = new Float64Array(len);
  x[e] = 1;
  return x;
}

/** y = A x */
function mul(a: Dense, x: Float64Array): Float64Array {
  const y = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    let s = 0;
    for (let j = 0; j < a.cols; j++) s += a.data[i * a.cols + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** y = Aᵀ x */
function mulT(a: Dense, x: Float64Array): Float64Array {
  const y = new Float64Array(a.cols);
  for (let j = 0; j < a.cols; j++) {
    let s = 0;
    for (let i = 0; i < a.rows; i++) s += a.data[i * a.cols + j]! * x[i]!;
    y[j] = s;
  }
  return y;
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** x/‖x‖, or undefined if x is exactly zero (the signal to restart). */
function normalise(x: Float64Array): Float64Array | undefined {
  const nx = norm2(x);
  if (nx === 0) return undefined;
  return x.map((xi) => xi / nx);
}

function runAlternating(a: Dense, u0: Float64Array, iters: number): PowerIterationResult | undefined {
  let u = normalise(u0);
  if (u === undefined) return undefined;
  let v: Float64Array | undefined;
  if (iters === 0) {
    v = normalise(mulT(a, u));
    if (v === undefined) return undefined;
  }
  for (let it = 0; it < iters; it++) {
    v = normalise(mulT(a, u));
    if (v === undefined) return undefined;
    u = normalise(mul(a, v));
    if (u === undefined) return undefined;
  }
  return { sigma: dot(u, mul(a, v!)), u, v: v! };
}

function runGram(a: Dense, x0: Float64Array, iters: number): PowerIterationResult | undefined {
  let x = normalise(x0);
  if (x === undefined) return undefined;
  for (let it = 0; it < iters; it++) {
    // Normalise the intermediate Ax too: only the direction of AᵀAx matters,
    // and this keeps it from underflowing when A is tiny.
    const y = normalise(mul(a, x));
    if (y === undefined) return undefined;
    x = normalise(mulT(a, y));
    if (x === undefined) return undefined;
  }
  const w = mul(a, x);
  const sigma = norm2(w);
  if (sigma === 0) return undefined;
  return { sigma, u: w.map((wi) => wi / sigma), v: x };
}
