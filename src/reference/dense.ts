// Dense row-major float64 matrix type for the reference implementations, plus
// the few scaling helpers they share. Everything here is deliberately naive:
// the reference exists to be obviously correct, not fast.

export interface Dense {
  rows: number;
  cols: number;
  /** Row-major; data.length === rows * cols. */
  data: Float64Array;
}

function checkShape(rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`invalid matrix shape ${rows}x${cols}`);
  }
}

/** New rows×cols matrix; `data` (row-major) is copied, zeros if omitted. */
export function dense(rows: number, cols: number, data?: ArrayLike<number>): Dense {
  checkShape(rows, cols);
  const out = new Float64Array(rows * cols);
  if (data !== undefined) {
    if (data.length !== rows * cols) {
      throw new RangeError(`data has length ${data.length}, expected ${rows * cols} for ${rows}x${cols}`);
    }
    for (let i = 0; i < out.length; i++) out[i] = data[i]!;
  }
  return { rows, cols, data: out };
}

/** Float64 copy of any matrix-shaped object (e.g. a Float32Array-backed one). */
export function toDense(m: { rows: number; cols: number; data: ArrayLike<number> }): Dense {
  return dense(m.rows, m.cols, m.data);
}

export function transpose(a: Dense): Dense {
  const out = dense(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  }
  return out;
}

export function identity(n: number): Dense {
  const out = dense(n, n);
  for (let i = 0; i < n; i++) out.data[i * n + i] = 1;
  return out;
}

/** max |x_i| (0 for an empty array; NaN if any entry is NaN). */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]!);
    if (v > m || Number.isNaN(v)) m = v;
    if (Number.isNaN(m)) return NaN;
  }
  return m;
}

/**
 * A power of two close to max |x_i| (1 if that is 0 or not finite).
 * Dividing by a power of two is exact, so scaling by it before squaring
 * entries avoids overflow/underflow without perturbing the input.
 */
export function powerOfTwoScale(x: ArrayLike<number>): number {
  const m = maxAbs(x);
  if (!(m > 0) || !Number.isFinite(m)) return 1;
  // floor(log2(m)) may be off by one for m near a power of two; any nearby
  // power of two is fine, it only has to bring the entries to O(1).
  return Math.pow(2, Math.floor(Math.log2(m)));
}

/** Euclidean norm, computed on max-abs-scaled entries so it neither overflows nor underflows. */
export function norm2(x: ArrayLike<number>): number {
  const m = maxAbs(x);
  if (!(m > 0) || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! / m;
    s += v * v;
  }
  return m * Math.sqrt(s);
}
