// Argument checks shared by every public function. Each error names the function, the
// argument, what was expected and what was given; nothing native runs before they pass.
//
// The rule every public function of src/*.ts follows:
// - Its errors are TypeError (wrong type), RangeError (wrong size, value out of range, NaN or
//   Infinity where the function rejects them) or Error (a LAPACK failure), and the message
//   starts with the function's name: "inverseRoot: p must be a number, got bigint 7".
// - Errors the native addon raises reach the user under the same name (`withName`): the
//   addon's own prefix ("eigh: ", "svd: ") is replaced by the public function's.
// - Properties are read once (`readMatrix` returns a snapshot, `readOptions` the values), so a
//   getter or Proxy cannot show the checks one value and the native code another; a getter or
//   trap that throws gives a TypeError naming the property ("matmul: options.alpha could not be
//   read: Error: …"), its exception as `cause`.
// - Any memory a Float32Array can have works: a SharedArrayBuffer, a resizable ArrayBuffer (its
//   view's current length must be rows*cols), a view at an offset, another realm's array.
// - Async twins never throw: every failure, bad arguments included, rejects the promise with
//   the error the sync twin would throw, named after the async function (`runAsync`).

/** The largest element count a Float32Array and the LAPACK integer interface both allow. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** The largest finite float32: scalars the native code rounds to float32 must stay below it. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** The shape every routine accepts: a row-major float32 matrix. */
export interface MatrixLike {
  /** Number of rows: a non-negative integer. */
  readonly rows: number;
  /** Number of columns: a non-negative integer. */
  readonly cols: number;
  /** Exactly rows*cols entries, row-major: entry (i, j) is `data[i * cols + j]`. */
  readonly data: Float32Array;
}

// %TypedArray%.prototype's getters read internal slots: a Proxy, a subclass overriding `length`
// or an object made with Object.create(Float32Array.prototype) cannot fool them.
const typedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype) as object;
function intrinsicGetter(key: PropertyKey): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(typedArrayPrototype, key)!.get! as (this: unknown) => unknown;
}
const typedArrayTag = intrinsicGetter(Symbol.toStringTag) as (this: unknown) => string | undefined;
const typedArrayLength = intrinsicGetter('length') as (this: unknown) => number;
const typedArrayBuffer = intrinsicGetter('buffer') as (this: unknown) => ArrayBufferLike;

/** The typed array's kind ('Float32Array', ...) from its internal slot, or undefined. */
export function typedArrayKind(value: unknown): string | undefined {
  return typedArrayTag.call(value);
}

/** The element count of a genuine typed array, from its internal slot (0 once detached). */
export function typedLength(value: ArrayBufferView): number {
  return typedArrayLength.call(value);
}

function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** A short description of any value for an error message; never throws. */
export function describe(value: unknown): string {
  try {
    switch (typeof value) {
      case 'undefined':
        return 'undefined';
      case 'string':
        return `string ${short(value)}`;
      case 'function':
        return value.name ? `function ${short(value.name)}` : 'a function';
      case 'object': {
        if (value === null) return 'null';
        const kind = typedArrayTag.call(value);
        if (kind !== undefined) return `a ${kind}`;
        if (Array.isArray(value)) return `an array of length ${value.length}`;
        if (ArrayBuffer.isView(value)) return 'a DataView';
        return `an object (${Object.prototype.toString.call(value)})`;
      }
      default: // number, bigint, boolean, symbol
        return `${typeof value} ${short(String(value))}`;
    }
  } catch {
    return 'an object (unreadable)';
  }
}

function errorText(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`;
  } catch {
    // fall through
  }
  return describe(error);
}

/** The error for a getter or Proxy trap that threw while `where` was being read. */
export function unreadable(where: string, cause: unknown): TypeError {
  return new TypeError(`${where} could not be read: ${errorText(cause)}`, { cause });
}

/**
 * An error of a call that reads nested caller objects (optimizer states, step entries): one the
 * call made already starts with `at` and is kept; one thrown by the caller's own code (a getter
 * or Proxy that throws) is named like the others, with the original as its cause.
 */
export function named(error: unknown, at: string): unknown {
  if (error instanceof Error && error.message.startsWith(at)) return error;
  return new TypeError(`${at}: reading the arguments threw: ${errorText(error)}`, { cause: error });
}

/**
 * obj[key], with a throwing getter or Proxy trap reported as "`where`.`key` could not be read"
 * (the message is only built then: this runs on every call of every function).
 */
export function readProperty(obj: object, key: string, where: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch (cause) {
    throw unreadable(`${where}.${key}`, cause);
  }
}

export function checkDim(value: unknown, where: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${where} must be a non-negative integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${where} must be a non-negative integer, got ${value}`);
  }
  if (value > MAX_ELEMENTS) throw new RangeError(`${where} must be at most ${MAX_ELEMENTS}, got ${value}`);
  return value;
}

export function checkShape(rows: number, cols: number, where: string): number {
  const count = rows * cols;
  if (count > MAX_ELEMENTS) {
    throw new RangeError(`${where}: ${rows}x${cols} has ${count} elements, more than ${MAX_ELEMENTS}`);
  }
  return count;
}

/** Why a typed array of length 0 might be so: its buffer detached or shrunk under it. */
function emptyHint(data: Float32Array): string {
  try {
    const buffer = typedArrayBuffer.call(data);
    if (buffer.byteLength === 0) return ' (detached buffer?)';
    return ' (a view past the end of its resized buffer?)';
  } catch {
    return '';
  }
}

/**
 * A Float32Array of exactly rows*cols elements on a live buffer. Any ArrayBuffer works: a
 * SharedArrayBuffer, a resizable one (a length-tracking view counts its current length), a
 * view at an offset; a view whose buffer was detached or shrunk below it has the wrong length.
 */
export function checkData(data: unknown, rows: number, cols: number, where: string): Float32Array {
  if (typedArrayTag.call(data) !== 'Float32Array') {
    throw new TypeError(`${where} must be a Float32Array, got ${describe(data)}`);
  }
  const array = data as Float32Array;
  const length = typedArrayLength.call(array);
  const expected = rows * cols;
  if (length !== expected) {
    const hint = length === 0 ? emptyHint(array) : '';
    throw new RangeError(`${where} must have ${rows}x${cols} = ${expected} elements, got ${length}${hint}`);
  }
  return array;
}

/**
 * Checks `value` is a matrix and returns a snapshot of it: rows, cols and data, each read
 * exactly once. Callers use the snapshot, never `value` again.
 */
export function readMatrix(value: unknown, where: string): MatrixLike {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${where} must be a Matrix, got ${describe(value)}`);
  }
  // Named loads in one try (a keyed load per property costs as much as all the checks).
  let rows: unknown, cols: unknown, data: unknown;
  let reading = 'rows';
  try {
    rows = (value as MatrixLike).rows;
    reading = 'cols';
    cols = (value as MatrixLike).cols;
    reading = 'data';
    data = (value as MatrixLike).data;
  } catch (cause) {
    throw unreadable(`${where}.${reading}`, cause);
  }
  // The common case in one test; the checks below only run to say what is wrong.
  if (
    typeof rows === 'number' && typeof cols === 'number' &&
    typedArrayTag.call(data) === 'Float32Array' &&
    Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0 &&
    rows <= MAX_ELEMENTS && cols <= MAX_ELEMENTS && rows * cols <= MAX_ELEMENTS &&
    typedArrayLength.call(data) === rows * cols
  ) {
    return { rows, cols, data: data as Float32Array };
  }
  if (rows === undefined && cols === undefined && data === undefined) {
    throw new TypeError(`${where} must be a Matrix ({ rows, cols, data }), got ${describe(value)}`);
  }
  checkDim(rows, `${where}.rows`);
  checkDim(cols, `${where}.cols`);
  checkShape(rows as number, cols as number, where);
  checkData(data, rows as number, cols as number, `${where}.data`);
  throw new Error(`${where}: internal error: matrix check inconsistent`); // unreachable
}

/** Checks `value` is a matrix (see readMatrix); returns `value` itself. */
export function checkMatrix(value: unknown, where: string): MatrixLike {
  readMatrix(value, where);
  return value as MatrixLike;
}

/** readMatrix, and the matrix must be square. */
export function readSquare(value: unknown, where: string): MatrixLike {
  const m = readMatrix(value, where);
  if (m.rows !== m.cols) {
    throw new RangeError(`${where} must be square, got ${m.rows}x${m.cols}`);
  }
  return m;
}

/** Checks `value` is a square matrix; returns `value` itself. */
export function checkSquare(value: unknown, where: string): MatrixLike {
  readSquare(value, where);
  return value as MatrixLike;
}

export function checkNumber(value: unknown, where: string): number {
  if (typeof value !== 'number') throw new TypeError(`${where} must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${where} must be finite, got ${value}`);
  return value;
}

/** A finite number that stays finite when the native code rounds it to float32. */
export function checkFloat32(value: unknown, where: string): number {
  const x = checkNumber(value, where);
  if (Math.abs(x) > FLOAT32_MAX) {
    throw new RangeError(`${where} must be at most ${FLOAT32_MAX} in magnitude (float32), got ${x}`);
  }
  return x;
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

/** An option's value, or `fallback` when it is undefined (null is a value, and gets checked). */
export function orDefault<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

/** A plain object of any realm: `{...}` or Object.create(null), not a class instance or array. */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Options (not undefined) must be a plain object whose own enumerable keys are all in `known`:
 * a misspelt option is an error. Reads no values: see readOptions, or read them by name in one
 * try (as matmul does: a keyed load per option costs more than all of a small matmul's checks).
 */
export function checkOptionKeys(value: unknown, known: readonly string[], where: string): void {
  let keys: string[];
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !isPlainObject(value)) {
      throw new TypeError(`${where} must be an options object, got ${describe(value)}`);
    }
    keys = Object.keys(value);
  } catch (cause) {
    if (cause instanceof TypeError && cause.message.startsWith(where)) throw cause;
    throw unreadable(where, cause);
  }
  for (let j = 0; j < keys.length; j++) {
    const key = keys[j];
    let i = 0;
    while (i < known.length && known[i] !== key) i++;
    if (i === known.length) {
      throw new TypeError(`${where}: unknown option '${key}' (known: ${known.join(', ')})`);
    }
  }
}

const NO_VALUES: readonly unknown[] = Object.freeze([]);

/**
 * checkOptionKeys, then the values, each read once, in the order of `known` (undefined where
 * absent); `value` undefined means no options.
 */
export function readOptions(value: unknown, known: readonly string[], where: string): readonly unknown[] {
  if (value === undefined) return NO_VALUES;
  checkOptionKeys(value, known, where);
  const values: unknown[] = [];
  for (let i = 0; i < known.length; i++) values.push(readProperty(value as object, known[i], where));
  return values;
}

/** readOptions as an object: a snapshot of the known options given (undefined: none). */
export function checkOptions<T extends object>(value: unknown, known: readonly string[], where: string): Partial<T> {
  const values = readOptions(value, known, where);
  const snapshot: Record<string, unknown> = {};
  for (let i = 0; i < values.length; i++) if (values[i] !== undefined) snapshot[known[i]] = values[i];
  return snapshot as Partial<T>;
}

// The prefixes the addon puts on its messages: its routine names, with or without "Async".
const NATIVE_PREFIX =
  /^(?:matmul|eigh|svd|singularValues|truncatedSvd|qr|powerIteration|inverseRoot|orthogonalize|spectralNormGrad|setNumThreads|backendInfo|allReduce|broadcast|allGather|reduceScatter|barrier)(?:Async)?: /;

/**
 * `error` as the public function `name` reports it: unchanged when its message already starts
 * with "name: ", else the same class (RangeError, TypeError or Error) with the addon's routine
 * prefix replaced by, or the message prefixed with, "name: ".
 */
export function withName(error: unknown, name: string): Error {
  const prefix = `${name}: `;
  if (error instanceof Error && typeof error.message === 'string' && error.message.startsWith(prefix)) return error;
  let text: string;
  if (error instanceof Error && typeof error.message === 'string') {
    const native = NATIVE_PREFIX.exec(error.message);
    text = native ? error.message.slice(native[0].length) : error.message;
  } else {
    text = `unexpected ${errorText(error)}`;
  }
  const Class = error instanceof RangeError ? RangeError : error instanceof TypeError ? TypeError : Error;
  return new Class(prefix + text);
}
