import {
  checkData,
  checkDim,
  checkShape,
  describe,
  readProperty,
  typedArrayKind,
  typedLength,
  unreadable,
  type MatrixLike,
} from './validate.js';

/** rows x cols, checked under `name`: the element count. */
function shape(rows: unknown, cols: unknown, name: string): number {
  return checkShape(checkDim(rows, `${name}: rows`), checkDim(cols, `${name}: cols`), name);
}

/** A zero-filled Float32Array of `count` elements; an allocation failure names `name`. */
function allocate(count: number, name: string): Float32Array {
  try {
    return new Float32Array(count);
  } catch {
    throw new RangeError(`${name}: cannot allocate ${count} float32 elements (${count * 4} bytes)`);
  }
}

/**
 * A dense row-major float32 matrix. `data[i * cols + j]` is entry (i, j). Every constructor,
 * static helper and method throws TypeError/RangeError whose message starts with its name
 * ("Matrix: rows ...", "Matrix.from: values[2] ...", "Matrix.get: i ...").
 */
export class Matrix implements MatrixLike {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** The rows*cols entries, row-major: entry (i, j) is `data[i * cols + j]`. */
  readonly data: Float32Array;

  /**
   * `data`, when given, must be a Float32Array of exactly rows*cols values; it is used as is, not
   * copied (a SharedArrayBuffer, a resizable buffer or a view at an offset are fine).
   */
  constructor(rows: number, cols: number, data?: Float32Array) {
    const count = shape(rows, cols, 'Matrix');
    this.rows = rows;
    this.cols = cols;
    this.data = data === undefined ? allocate(count, 'Matrix') : checkData(data, rows, cols, 'Matrix: data');
  }

  /** A new rows x cols matrix of zeros (the same as `new Matrix(rows, cols)`). */
  static zeros(rows: number, cols: number): Matrix {
    return new Matrix(rows, cols, allocate(shape(rows, cols, 'Matrix.zeros'), 'Matrix.zeros'));
  }

  /**
   * A zero matrix on a SharedArrayBuffer (which cannot be detached): `stepManyAsync` updates
   * such parameters, and the states `init` makes for them, in place, with no copy per step.
   * (It can also be shared with worker threads.)
   */
  static shared(rows: number, cols: number): Matrix {
    const count = shape(rows, cols, 'Matrix.shared');
    let buffer: SharedArrayBuffer;
    try {
      buffer = new SharedArrayBuffer(count * 4);
    } catch {
      throw new RangeError(`Matrix.shared: cannot allocate ${count} float32 elements (${count * 4} bytes) of shared memory`);
    }
    return new Matrix(rows, cols, new Float32Array(buffer));
  }

  /**
   * A copy of `values` (any array-like of numbers, row-major, or a non-BigInt typed array) as
   * float32. Every element must be a number.
   */
  static from(rows: number, cols: number, values: ArrayLike<number>): Matrix {
    const name = 'Matrix.from';
    const count = shape(rows, cols, name);
    if (values === null || typeof values !== 'object') {
      throw new TypeError(`${name}: values must be an array-like of numbers, got ${describe(values)}`);
    }
    const kind = typedArrayKind(values);
    if (kind === 'BigInt64Array' || kind === 'BigUint64Array') {
      throw new TypeError(`${name}: values must hold numbers, got a ${kind}`);
    }
    const length = kind === undefined ? readProperty(values, 'length', `${name}: values`) : typedLength(values as never);
    if (typeof length !== 'number') {
      throw new TypeError(`${name}: values must be an array-like of numbers, got ${describe(values)}`);
    }
    if (length !== count) {
      throw new RangeError(`${name}: values must have ${rows}x${cols} = ${count} elements, got ${length}`);
    }
    const m = new Matrix(rows, cols, allocate(count, name));
    if (kind !== undefined) {
      m.data.set(values as unknown as ArrayLike<number>);
      return m;
    }
    const data = m.data;
    for (let i = 0; i < count; i++) {
      let v: unknown;
      try {
        v = values[i];
      } catch (cause) {
        throw unreadable(`${name}: values[${i}]`, cause);
      }
      if (typeof v !== 'number') throw new TypeError(`${name}: values[${i}] must be a number, got ${describe(v)}`);
      data[i] = v;
    }
    return m;
  }

  /** Standard normal entries from a seeded generator: the same seed gives the same matrix. */
  static randn(rows: number, cols: number, seed = 0): Matrix {
    const count = shape(rows, cols, 'Matrix.randn');
    if (typeof seed !== 'number') throw new TypeError(`Matrix.randn: seed must be an integer, got ${describe(seed)}`);
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Matrix.randn: seed must be an integer, got ${seed}`);
    const m = new Matrix(rows, cols, allocate(count, 'Matrix.randn'));
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

  /** The n x n identity matrix. */
  static eye(n: number): Matrix {
    const count = checkShape(checkDim(n, 'Matrix.eye: n'), n, 'Matrix.eye');
    const m = new Matrix(n, n, allocate(count, 'Matrix.eye'));
    for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
    return m;
  }

  /** Entry (i, j); an index outside the matrix is a RangeError. */
  get(i: number, j: number): number {
    return this.data[this.index(i, j, 'get')];
  }

  /** Sets entry (i, j) to `value` (a number; NaN and Infinity are stored as given). */
  set(i: number, j: number, value: number): this {
    const k = this.index(i, j, 'set');
    if (typeof value !== 'number') throw new TypeError(`Matrix.set: value must be a number, got ${describe(value)}`);
    this.data[k] = value;
    return this;
  }

  /** A new matrix holding the transpose. */
  transpose(): Matrix {
    const { rows, cols, data } = this.live('transpose');
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

  /** A new matrix with a copy of the data. */
  clone(): Matrix {
    const { rows, cols, data } = this.live('clone');
    return new Matrix(rows, cols, data.slice());
  }

  /** Nested arrays, one per row (for printing and tests). */
  toArray(): number[][] {
    const { rows, cols, data } = this.live('toArray');
    return Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)));
  }

  /** This matrix, checked again: its buffer may have been detached or resized since. */
  private live(method: string): MatrixLike {
    shape(this.rows, this.cols, `Matrix.${method}`);
    checkData(this.data, this.rows, this.cols, `Matrix.${method}: data`);
    return this;
  }

  private index(i: number, j: number, method: string): number {
    if (typeof i !== 'number') throw new TypeError(`Matrix.${method}: i must be an integer, got ${describe(i)}`);
    if (typeof j !== 'number') throw new TypeError(`Matrix.${method}: j must be an integer, got ${describe(j)}`);
    if (!Number.isInteger(i) || i < 0 || i >= this.rows || !Number.isInteger(j) || j < 0 || j >= this.cols) {
      throw new RangeError(`Matrix.${method}: index (${i}, ${j}) is outside ${this.rows}x${this.cols}`);
    }
    const k = i * this.cols + j;
    if (!(k < this.data.length)) {
      throw new RangeError(
        `Matrix.${method}: data holds ${this.data.length} elements, not ${this.rows}x${this.cols} (detached or resized buffer?)`,
      );
    }
    return k;
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
