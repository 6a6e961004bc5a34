// Argument checks shared by every public function. Each error names the function, the
// argument, what was expected and what was given; nothing native runs before they pass.

/** The largest element count a Float32Array and the LAPACK integer interface both allow. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** The shape every routine accepts: a row-major float32 matrix. */
export interface MatrixLike {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `${typeof value} ${String(value)}`;
}

export function checkDim(value: unknown, where: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${where} must be a non-negative integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_ELEMENTS) {
    throw new RangeError(`${where} must be a non-negative integer, got ${value}`);
  }
  return value;
}

export function checkShape(rows: number, cols: number, where: string): number {
  const count = rows * cols;
  if (count > MAX_ELEMENTS) {
    throw new RangeError(`${where}: ${rows}x${cols} has ${count} elements, more than ${MAX_ELEMENTS}`);
  }
  return count;
}

/** A Float32Array of exactly rows*cols elements on a live buffer. */
export function checkData(data: unknown, rows: number, cols: number, where: string): Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`${where} must be a Float32Array, got ${describe(data)}`);
  }
  const expected = rows * cols;
  if (data.length !== expected) {
    const detached = data.length === 0 && data.buffer.byteLength === 0 ? ' (detached buffer?)' : '';
    throw new RangeError(
      `${where} must have ${rows}x${cols} = ${expected} elements, got ${data.length}${detached}`,
    );
  }
  return data;
}

export function checkMatrix(value: unknown, where: string): MatrixLike {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${where} must be a Matrix, got ${describe(value)}`);
  }
  const m = value as { rows?: unknown; cols?: unknown; data?: unknown };
  const rows = checkDim(m.rows, `${where}.rows`);
  const cols = checkDim(m.cols, `${where}.cols`);
  checkShape(rows, cols, where);
  checkData(m.data, rows, cols, `${where}.data`);
  return value as MatrixLike;
}

export function checkSquare(value: unknown, where: string): MatrixLike {
  const m = checkMatrix(value, where);
  if (m.rows !== m.cols) {
    throw new RangeError(`${where} must be square, got ${m.rows}x${m.cols}`);
  }
  return m;
}

export function checkNumber(value: unknown, where: string): number {
  if (typeof value !== 'number') throw new TypeError(`${where} must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${where} must be finite, got ${value}`);
  return value;
}

export function checkBoolean(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${where} must be a boolean, got ${describe(value)}`);
  return value;
}

export function checkChoice<T extends string>(value: unknown, choices: readonly T[], where: string): T {
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    const list = choices.map((c) => `'${c}'`).join(' | ');
    throw new TypeError(`${where} must be ${list}, got ${describe(value)}`);
  }
  return value as T;
}

/** Options must be a plain object with only known keys: a misspelt option is an error. */
export function checkOptions<T extends object>(value: unknown, known: readonly string[], where: string): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${where} must be an options object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`${where}: unknown option '${key}' (known: ${known.join(', ')})`);
    }
  }
  return value as Partial<T>;
}
