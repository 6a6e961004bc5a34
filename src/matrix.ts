import { checkData, checkDim, checkShape, describe, type MatrixLike } from './validate.js';

/** A dense row-major float32 matrix. `data[i * cols + j]` is entry (i, j). */
export class Matrix implements MatrixLike {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;

  /** `data`, when given, must hold exactly rows*cols values; it is used as is, not copied. */
  constructor(rows: number, cols: number, data?: Float32Array) {
    this.rows = checkDim(rows, 'Matrix: rows');
    this.cols = checkDim(cols, 'Matrix: cols');
    const count = checkShape(rows, cols, 'Matrix');
    this.data = data === undefined ? new Float32Array(count) : checkData(data, rows, cols, 'Matrix: data');
  }

  static zeros(rows: number, cols: number): Matrix {
    return new Matrix(rows, cols);
  }

  /** A copy of `values` (any array-like of numbers, row-major) as float32. */
  static from(rows: number, cols: number, values: ArrayLike<number>): Matrix {
    const m = new Matrix(rows, cols);
    if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
      throw new TypeError(`Matrix.from: values must be an array-like of numbers, got ${describe(values)}`);
    }
    if (values.length !== m.data.length) {
      throw new RangeError(
        `Matrix.from: values must have ${rows}x${cols} = ${m.data.length} elements, got ${values.length}`,
      );
    }
    m.data.set(values);
    return m;
  }

  /** Standard normal entries from a seeded generator: the same seed gives the same matrix. */
  static randn(rows: number, cols: number, seed = 0): Matrix {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Matrix.randn: seed must be an integer, got ${seed}`);
    const m = new Matrix(rows, cols);
    const next = xoshiro128(seed);
    for (let i = 0; i < m.data.length; i += 2) {
      // Box-Muller; uniforms in (0, 1) so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log((next() + 0.5) / 4294967296));
      const angle = (2 * Math.PI * next()) / 4294967296;
      m.data[i] = radius * Math.cos(angle);
      if (i + 1 < m.data.length) m.data[i + 1] = radius * Math.sin(angle);
    }
    return m;
  }

  static eye(n: number): Matrix {
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
    return m;
  }

  get(i: number, j: number): number {
    return this.data[this.index(i, j, 'get')];
  }

  set(i: number, j: number, value: number): this {
    this.data[this.index(i, j, 'set')] = value;
    return this;
  }

  /** A new matrix holding the transpose. */
  transpose(): Matrix {
    const { rows, cols, data } = this;
    const t = new Matrix(cols, rows);
    const out = t.data;
    const tile = 32; // keeps reads and writes within cache lines
    for (let i0 = 0; i0 < rows; i0 += tile) {
      const i1 = Math.min(rows, i0 + tile);
      for (let j0 = 0; j0 < cols; j0 += tile) {
        const j1 = Math.min(cols, j0 + tile);
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * rows + i] = data[i * cols + j];
      }
    }
    return t;
  }

  clone(): Matrix {
    return new Matrix(this.rows, this.cols, this.data.slice());
  }

  /** Nested arrays, one per row (for printing and tests). */
  toArray(): number[][] {
    return Array.from({ length: this.rows }, (_, i) => Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols)));
  }

  private index(i: number, j: number, method: string): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows || !Number.isInteger(j) || j < 0 || j >= this.cols) {
      throw new RangeError(`Matrix.${method}: index (${i}, ${j}) is outside ${this.rows}x${this.cols}`);
    }
    return i * this.cols + j;
  }
}

/** xoshiro128** seeded through SplitMix32: a small, well-tested 32-bit generator. */
function xoshiro128(seed: number): () => number {
  let x = (seed >>> 0) ^ Math.floor(seed / 4294967296);
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
