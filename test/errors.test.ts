// Every public function of the linear-algebra facade (src/*.ts), every argument and option, fed
// bad values: each error is a TypeError/RangeError/Error whose message starts with the public
// function's name and names the argument; async twins never throw, they reject with the same
// class and message under their own name. Inputs that must work (SharedArrayBuffer, resizable
// buffers, views at an offset, Proxies, empty shapes) give the same results as a plain Matrix.
// (test/validation.test.ts has the first checks of each kind; this file is the exhaustive table.)
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import {
  Matrix,
  backendInfo,
  eigh,
  eighAsync,
  inverseRoot,
  inverseRootAsync,
  matmul,
  matmulAsync,
  orthogonalize,
  orthogonalizeAsync,
  powerIteration,
  qr,
  qrAsync,
  setNumThreads,
  gradNorm,
  clipGradNorm,
  singularValues,
  spectralNorm,
  spectralNormGrad,
  spectralNormGradAsync,
  svd,
  svdAsync,
  truncatedSvd,
  truncatedSvdAsync,
} from '../src/index.js';
import * as api from '../src/index.js';
import { withName } from '../src/validate.js';

// ---------------------------------------------------------------- helpers

type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;
/** A bad value, the class it must raise and the message after "<fn>: " (string: exact). */
type Case = [label: string, value: () => unknown, cls: ErrorClass, message: (w: string) => string | RegExp];

const F32_MAX = '3.4028234663852886e+38';

function detached(length: number): Float32Array {
  const array = new Float32Array(length);
  structuredClone(array.buffer, { transfer: [array.buffer] });
  return array;
}

/** A resizable ArrayBuffer (ES2024; not in this project's TS lib). */
function resizable(byteLength: number, maxByteLength: number): ArrayBuffer & { resize(n: number): void } {
  const Ctor = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
  return new Ctor(byteLength, { maxByteLength });
}

/** Sync: what it throws. Async: it must not throw, must return a promise; what that rejects with. */
async function failure(call: () => unknown, isAsync: boolean): Promise<unknown> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    if (isAsync) return new Error(`threw synchronously: ${String(error)}`);
    return error;
  }
  if (!isAsync) return new Error(`returned instead of throwing: ${describeValue(result)}`);
  if (!(result instanceof Promise)) return new Error('did not return a promise');
  return result.then(
    (value) => new Error(`resolved instead of rejecting: ${describeValue(value)}`),
    (error: unknown) => error,
  );
}

function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 80) ?? String(value);
  } catch {
    return String(value);
  }
}

/** '' when `error` is right, else what is wrong with it. */
function mismatch(error: unknown, fn: string, cls: ErrorClass, message: string | RegExp): string {
  if (!(error instanceof Error)) return `not an Error: ${String(error)}`;
  const problems: string[] = [];
  if (error.constructor !== cls) problems.push(`${error.constructor.name} instead of ${cls.name}`);
  if (!error.message.startsWith(`${fn}: `)) problems.push(`does not start with "${fn}: "`);
  const ok = typeof message === 'string' ? error.message === message : message.test(error.message);
  if (!ok) problems.push(`expected ${String(message)}`);
  return problems.length ? `${problems.join('; ')} — got ${error.constructor.name}: ${error.message}` : '';
}

/** Runs every case against `call(bad)`; returns the failures (the test expects none). */
async function runCases(fn: string, isAsync: boolean, where: string, cases: Case[], call: (bad: unknown) => unknown) {
  const failures: string[] = [];
  for (const [label, value, cls, message] of cases) {
    const error = await failure(() => call(value()), isAsync);
    const problem = mismatch(error, fn, cls, message(where));
    if (problem) failures.push(`${label}: ${problem}`);
  }
  return failures;
}

// ---------------------------------------------------------------- bad values by kind

/** The primitives and a function; `number` false where a number is the right type. */
const notObjects = (what: string, number = true): Case[] => [
  ['undefined', () => undefined, TypeError, (w) => `${w} must be ${what}, got undefined`],
  ['null', () => null, TypeError, (w) => `${w} must be ${what}, got null`],
  ...(number ? [['a number', () => 7, TypeError, (w: string) => `${w} must be ${what}, got number 7`] as Case] : []),
  ['a string', () => 'abc', TypeError, (w) => `${w} must be ${what}, got string abc`],
  ['a bigint', () => 7n, TypeError, (w) => `${w} must be ${what}, got bigint 7`],
  ['a Symbol', () => Symbol('s'), TypeError, (w) => `${w} must be ${what}, got symbol Symbol(s)`],
  ['a boolean', () => true, TypeError, (w) => `${w} must be ${what}, got boolean true`],
  ['a function', () => function foo() {}, TypeError, (w) => `${w} must be ${what}, got function foo`],
];

/** In place of a 3x3 matrix. */
const MATRIX_CASES: Case[] = [
  ...notObjects('a Matrix'),
  ['a plain object', () => ({}), TypeError, (w) => `${w} must be a Matrix ({ rows, cols, data }), got an object ([object Object])`],
  ['an array', () => [1, 2], TypeError, (w) => `${w} must be a Matrix ({ rows, cols, data }), got an array of length 2`],
  ['a bare Float32Array', () => new Float32Array(9), TypeError, (w) => `${w} must be a Matrix ({ rows, cols, data }), got a Float32Array`],
  ['Float64Array data', () => ({ rows: 3, cols: 3, data: new Float64Array(9) }), TypeError, (w) => `${w}.data must be a Float32Array, got a Float64Array`],
  ['number[] data', () => ({ rows: 3, cols: 3, data: Array(9).fill(0) }), TypeError, (w) => `${w}.data must be a Float32Array, got an array of length 9`],
  ['null data', () => ({ rows: 3, cols: 3, data: null }), TypeError, (w) => `${w}.data must be a Float32Array, got null`],
  ['Proxy of a Float32Array as data', () => ({ rows: 3, cols: 3, data: new Proxy(new Float32Array(9), {}) }), TypeError,
    (w) => `${w}.data must be a Float32Array, got an object ([object Object])`],
  ['Float32Array look-alike data', () => ({ rows: 3, cols: 3, data: Object.create(Float32Array.prototype) }), TypeError,
    (w) => `${w}.data must be a Float32Array, got an object ([object Object])`],
  ['detached data', () => ({ rows: 3, cols: 3, data: detached(9) }), RangeError, (w) => `${w}.data must have 3x3 = 9 elements, got 0 (detached buffer?)`],
  ['lying shape (8 for 3x3)', () => ({ rows: 3, cols: 3, data: new Float32Array(8) }), RangeError, (w) => `${w}.data must have 3x3 = 9 elements, got 8`],
  ['lying shape (10 for 3x3)', () => ({ rows: 3, cols: 3, data: new Float32Array(10) }), RangeError, (w) => `${w}.data must have 3x3 = 9 elements, got 10`],
  ['data with a shadowed length', () => {
    const data = new Float32Array(4);
    Object.defineProperty(data, 'length', { value: 9 });
    return { rows: 3, cols: 3, data };
  }, RangeError, (w) => `${w}.data must have 3x3 = 9 elements, got 4`],
  ['fixed view past the end of a shrunk resizable buffer', () => {
    const buffer = resizable(36, 64);
    const data = new Float32Array(buffer, 0, 9);
    buffer.resize(8);
    return { rows: 3, cols: 3, data };
  }, RangeError, (w) => `${w}.data must have 3x3 = 9 elements, got 0 (a view past the end of its resized buffer?)`],
  ['length-tracking view of a grown resizable buffer', () => {
    const buffer = resizable(36, 64);
    const data = new Float32Array(buffer);
    buffer.resize(44);
    return { rows: 3, cols: 3, data };
  }, RangeError, (w) => `${w}.data must have 3x3 = 9 elements, got 11`],
  ['fractional rows', () => ({ rows: 1.5, cols: 3, data: new Float32Array(9) }), RangeError, (w) => `${w}.rows must be a non-negative integer, got 1.5`],
  ['negative cols', () => ({ rows: 3, cols: -3, data: new Float32Array(9) }), RangeError, (w) => `${w}.cols must be a non-negative integer, got -3`],
  ['NaN rows', () => ({ rows: NaN, cols: 3, data: new Float32Array(9) }), RangeError, (w) => `${w}.rows must be a non-negative integer, got NaN`],
  ['Infinity cols', () => ({ rows: 3, cols: Infinity, data: new Float32Array(9) }), RangeError, (w) => `${w}.cols must be a non-negative integer, got Infinity`],
  ['2**31 rows', () => ({ rows: 2 ** 31, cols: 0, data: new Float32Array(0) }), RangeError, (w) => `${w}.rows must be at most 2147483647, got 2147483648`],
  ['2**53 cols', () => ({ rows: 0, cols: 2 ** 53, data: new Float32Array(0) }), RangeError, (w) => `${w}.cols must be at most 2147483647, got 9007199254740992`],
  ['2**16 x 2**16', () => ({ rows: 2 ** 16, cols: 2 ** 16, data: new Float32Array(0) }), RangeError,
    (w) => `${w}: 65536x65536 has 4294967296 elements, more than 2147483647`],
  ['bigint rows', () => ({ rows: 3n, cols: 3, data: new Float32Array(9) }), TypeError, (w) => `${w}.rows must be a non-negative integer, got bigint 3`],
  ['string cols', () => ({ rows: 3, cols: '3', data: new Float32Array(9) }), TypeError, (w) => `${w}.cols must be a non-negative integer, got string 3`],
  ['Symbol rows', () => ({ rows: Symbol('r'), cols: 3, data: new Float32Array(9) }), TypeError, (w) => `${w}.rows must be a non-negative integer, got symbol Symbol(r)`],
  ['a getter on rows that throws', () => ({ get rows(): number { throw new Error('boom'); }, cols: 3, data: new Float32Array(9) }), TypeError,
    (w) => `${w}.rows could not be read: Error: boom`],
  ['a getter on data that throws', () => ({ rows: 3, cols: 3, get data(): Float32Array { throw new RangeError('gone'); } }), TypeError,
    (w) => `${w}.data could not be read: RangeError: gone`],
  ['a Proxy whose get trap throws', () => new Proxy({}, { get() { throw new RangeError('trap'); } }), TypeError,
    (w) => `${w}.rows could not be read: RangeError: trap`],
  ['a revoked Proxy', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  }, TypeError, (w) => new RegExp(`^${escape(w)}\\.rows could not be read: TypeError: .*revoked`)],
];

/** A required non-negative integer (the universally bad values only). */
const DIM_CASES: Case[] = [
  ...notObjects('a non-negative integer', false),
  ['a plain object', () => ({}), TypeError, (w) => `${w} must be a non-negative integer, got an object ([object Object])`],
  ['an array', () => [], TypeError, (w) => `${w} must be a non-negative integer, got an array of length 0`],
  ['a numeric string', () => '2', TypeError, (w) => `${w} must be a non-negative integer, got string 2`],
  ['1.5', () => 1.5, RangeError, (w) => `${w} must be a non-negative integer, got 1.5`],
  ['-1', () => -1, RangeError, (w) => `${w} must be a non-negative integer, got -1`],
  ['NaN', () => NaN, RangeError, (w) => `${w} must be a non-negative integer, got NaN`],
  ['Infinity', () => Infinity, RangeError, (w) => `${w} must be a non-negative integer, got Infinity`],
  ['-Infinity', () => -Infinity, RangeError, (w) => `${w} must be a non-negative integer, got -Infinity`],
  ['2**31', () => 2 ** 31, RangeError, (w) => `${w} must be at most 2147483647, got 2147483648`],
  ['2**53', () => 2 ** 53, RangeError, (w) => `${w} must be at most 2147483647, got 9007199254740992`],
];

const optional = (cases: Case[]): Case[] => cases.filter(([label]) => label !== 'undefined');

const NUMBER_TYPE_CASES: Case[] = notObjects('a number', false).concat([
    ['a plain object', () => ({}), TypeError, (x) => `${x} must be a number, got an object ([object Object])`],
    ['an array', () => [], TypeError, (x) => `${x} must be a number, got an array of length 0`],
    ['a numeric string', () => '2', TypeError, (x) => `${x} must be a number, got string 2`],
    ['NaN', () => NaN, RangeError, (x) => `${x} must be finite, got NaN`],
    ['Infinity', () => Infinity, RangeError, (x) => `${x} must be finite, got Infinity`],
    ['-Infinity', () => -Infinity, RangeError, (x) => `${x} must be finite, got -Infinity`],
]);

/** A required positive finite number (inverseRoot's p). */
const POSITIVE_CASES: Case[] = [
  ...NUMBER_TYPE_CASES,
  ['0', () => 0, RangeError, (w) => `${w} must be positive, got 0`],
  ['-2', () => -2, RangeError, (w) => `${w} must be positive, got -2`],
];

/** An optional scalar the addon rounds to float32 (matmul's alpha, beta). */
const FLOAT32_CASES: Case[] = [
  ...optional(NUMBER_TYPE_CASES),
  ['1e39', () => 1e39, RangeError, (w) => `${w} must be at most ${F32_MAX} in magnitude (float32), got 1e+39`],
  ['-1e300', () => -1e300, RangeError, (w) => `${w} must be at most ${F32_MAX} in magnitude (float32), got -1e+300`],
];

/** inverseRoot's eps: positive and within float32. */
const EPS_CASES: Case[] = [
  ...FLOAT32_CASES,
  ['0', () => 0, RangeError, (w) => `${w} must be positive, got 0`],
  ['-1e-6', () => -1e-6, RangeError, (w) => `${w} must be positive, got -0.000001`],
];

const BOOLEAN_CASES: Case[] = [
  ...optional(notObjects('a boolean')).filter(([label]) => label !== 'a boolean'),
  ['0', () => 0, TypeError, (w) => `${w} must be a boolean, got number 0`],
  ['"true"', () => 'true', TypeError, (w) => `${w} must be a boolean, got string true`],
  ['a plain object', () => ({}), TypeError, (w) => `${w} must be a boolean, got an object ([object Object])`],
  ['an array', () => [], TypeError, (w) => `${w} must be a boolean, got an array of length 0`],
];

function choiceCases(choices: string[]): Case[] {
  const what = choices.map((c) => `'${c}'`).join(' | ');
  return [
    ...optional(notObjects(what)),
    ['an unknown name', () => 'bogus', TypeError, (w) => `${w} must be ${what}, got string bogus`],
    ['the wrong case', () => choices[0].toUpperCase(), TypeError, (w) => `${w} must be ${what}, got string ${choices[0].toUpperCase()}`],
    ['a plain object', () => ({}), TypeError, (w) => `${w} must be ${what}, got an object ([object Object])`],
    ['an array of the name', () => [choices[0]], TypeError, (w) => `${w} must be ${what}, got an array of length 1`],
  ];
}

/** In place of an options object (where = "<fn>: options"); `key` is one of its known keys. */
function optionsCases(key: string): Case[] {
  class Options {}
  return [
    ...optional(notObjects('an options object')),
    ['an array', () => [], TypeError, (w) => `${w} must be an options object, got an array of length 0`],
    ['a Map', () => new Map([[key, 1]]), TypeError, (w) => `${w} must be an options object, got an object ([object Map])`],
    ['a Date', () => new Date(0), TypeError, (w) => `${w} must be an options object, got an object ([object Date])`],
    ['a class instance', () => new Options(), TypeError, (w) => `${w} must be an options object, got an object ([object Object])`],
    ['a Float32Array', () => new Float32Array(2), TypeError, (w) => `${w} must be an options object, got a Float32Array`],
    ['an unknown key', () => ({ bogus: 1 }), TypeError, (w) => new RegExp(`^${escape(w)}: unknown option 'bogus' \\(known: .*${key}`)],
    ['a misspelt key', () => ({ [`${key}s`]: 1 }), TypeError, (w) => new RegExp(`^${escape(w)}: unknown option '${key}s'`)],
    ['a getter that throws', () => ({ get [key]() { throw new Error('boom'); } }), TypeError, (w) => `${w}.${key} could not be read: Error: boom`],
    ['a Proxy whose ownKeys trap throws', () => new Proxy({}, { ownKeys() { throw new Error('keys'); } }), TypeError,
      (w) => `${w} could not be read: Error: keys`],
    ['a Proxy whose get trap throws on it', () => new Proxy({ [key]: 1 }, {
      get(target, k) {
        if (k === key) throw new Error('get');
        return (target as Record<PropertyKey, unknown>)[k];
      },
    }), TypeError,
      (w) => `${w}.${key} could not be read: Error: get`],
    ['a revoked Proxy', () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    }, TypeError, (w) => new RegExp(`^${escape(w)} could not be read: TypeError: .*revoked`)],
  ];
}

/** powerIteration's init on a 3x3 matrix with the default scheme. */
const INIT_CASES: Case[] = [
  ...optional(notObjects('a Float32Array')).map(([label, value, cls, message]): Case => [label, value, cls,
    (w) => (message(w) as string).replace(`${w} must`, `${w} (scheme 'alternating') must`)]),
  ['number[]', () => [1, 1, 1], TypeError, (w) => `${w} (scheme 'alternating') must be a Float32Array, got an array of length 3`],
  ['a Float64Array', () => new Float64Array(3), TypeError, (w) => `${w} (scheme 'alternating') must be a Float32Array, got a Float64Array`],
  ['too short', () => new Float32Array(2), RangeError, (w) => `${w} (scheme 'alternating') must have 1x3 = 3 elements, got 2`],
  ['detached', () => detached(3), RangeError, (w) => `${w} (scheme 'alternating') must have 1x3 = 3 elements, got 0 (detached buffer?)`],
  ['holding NaN', () => new Float32Array([1, NaN, 1]), RangeError, (w) => `${w} contains NaN or Infinity (at 1)`],
  ['holding -Infinity', () => new Float32Array([1, 1, -Infinity]), RangeError, (w) => `${w} contains NaN or Infinity (at 2)`],
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------- the functions

const A = () => Matrix.randn(3, 3, 1);
const SPD = () => {
  const a = Matrix.randn(3, 3, 2);
  return matmul(a, a, { transA: true });
};

interface Slot {
  /** How the message names it after "<fn>: ". */
  arg: string;
  cases: Case[];
  /** The call with `bad` in this slot, every other argument valid. */
  call: (bad: unknown) => unknown;
}

interface Entry {
  fn: string;
  isAsync: boolean;
  slots: Slot[];
}

/** Both twins of a routine: `make(f)` lists the slots of f (the sync or the async one). */
function twins<F extends (...args: never[]) => unknown>(sync: [string, F], async: [string, F] | null, make: (f: F) => Slot[]): Entry[] {
  const entries: Entry[] = [{ fn: sync[0], isAsync: false, slots: make(sync[1]) }];
  if (async) entries.push({ fn: async[0], isAsync: true, slots: make(async[1]) });
  return entries;
}

type Any = (...args: unknown[]) => unknown;

const ENTRIES: Entry[] = [
  ...twins<Any>(['matmul', matmul as Any], ['matmulAsync', matmulAsync as Any], (f) => [
    { arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad, A()) },
    { arg: 'b', cases: MATRIX_CASES, call: (bad) => f(A(), bad) },
    { arg: 'options', cases: optionsCases('alpha'), call: (bad) => f(A(), A(), bad) },
    { arg: 'out', cases: optional(MATRIX_CASES), call: (bad) => f(A(), A(), { out: bad }) },
    { arg: 'transA', cases: BOOLEAN_CASES, call: (bad) => f(A(), A(), { transA: bad }) },
    { arg: 'transB', cases: BOOLEAN_CASES, call: (bad) => f(A(), A(), { transB: bad }) },
    { arg: 'alpha', cases: FLOAT32_CASES, call: (bad) => f(A(), A(), { alpha: bad }) },
    { arg: 'beta', cases: FLOAT32_CASES, call: (bad) => f(A(), A(), { beta: bad }) },
  ]),
  ...twins<Any>(['eigh', eigh as Any], ['eighAsync', eighAsync as Any], (f) => [{ arg: 's', cases: MATRIX_CASES, call: (bad) => f(bad) }]),
  ...twins<Any>(['svd', svd as Any], ['svdAsync', svdAsync as Any], (f) => [{ arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad) }]),
  ...twins<Any>(['singularValues', singularValues as Any], null, (f) => [{ arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad) }]),
  ...twins<Any>(['truncatedSvd', truncatedSvd as Any], ['truncatedSvdAsync', truncatedSvdAsync as Any], (f) => [
    { arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad, 1) },
    { arg: 'k', cases: DIM_CASES, call: (bad) => f(A(), bad) },
    { arg: 'options', cases: optionsCases('seed'), call: (bad) => f(A(), 1, bad) },
    { arg: 'method', cases: choiceCases(['randomized', 'exact']), call: (bad) => f(A(), 1, { method: bad }) },
    { arg: 'oversample', cases: optional(DIM_CASES), call: (bad) => f(A(), 1, { oversample: bad }) },
    { arg: 'powerIters', cases: optional(DIM_CASES), call: (bad) => f(A(), 1, { powerIters: bad }) },
    { arg: 'seed', cases: optional(DIM_CASES), call: (bad) => f(A(), 1, { seed: bad }) },
  ]),
  ...twins<Any>(['qr', qr as Any], ['qrAsync', qrAsync as Any], (f) => [{ arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad) }]),
  ...twins<Any>(['powerIteration', powerIteration as Any], null, (f) => [
    { arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad) },
    { arg: 'options', cases: optionsCases('iters'), call: (bad) => f(A(), bad) },
    { arg: 'iters', cases: optional(DIM_CASES), call: (bad) => f(A(), { iters: bad }) },
    { arg: 'scheme', cases: choiceCases(['alternating', 'gram']), call: (bad) => f(A(), { scheme: bad }) },
    { arg: 'init', cases: INIT_CASES, call: (bad) => f(A(), { init: bad }) },
  ]),
  ...twins<Any>(['spectralNorm', spectralNorm as Any], null, (f) => [
    { arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad) },
    { arg: 'a', cases: MATRIX_CASES, call: (bad) => f(bad, { method: 'svd' }) },
    { arg: 'options', cases: optionsCases('method'), call: (bad) => f(A(), bad) },
    { arg: 'method', cases: choiceCases(['power', 'svd']), call: (bad) => f(A(), { method: bad }) },
    { arg: 'iters', cases: optional(DIM_CASES), call: (bad) => f(A(), { iters: bad }) },
  ]),
  ...twins<Any>(['inverseRoot', inverseRoot as Any], ['inverseRootAsync', inverseRootAsync as Any], (f) => [
    { arg: 's', cases: MATRIX_CASES, call: (bad) => f(bad, 2) },
    { arg: 'p', cases: POSITIVE_CASES, call: (bad) => f(SPD(), bad) },
    { arg: 'options', cases: optionsCases('eps'), call: (bad) => f(SPD(), 2, bad) },
    { arg: 'eps', cases: EPS_CASES, call: (bad) => f(SPD(), 2, { eps: bad }) },
  ]),
  ...twins<Any>(['orthogonalize', orthogonalize as Any], ['orthogonalizeAsync', orthogonalizeAsync as Any], (f) => [
    { arg: 'g', cases: MATRIX_CASES, call: (bad) => f(bad) },
    { arg: 'options', cases: optionsCases('steps'), call: (bad) => f(A(), bad) },
    { arg: 'method', cases: choiceCases(['newton-schulz', 'svd']), call: (bad) => f(A(), { method: bad }) },
    { arg: 'steps', cases: optional(DIM_CASES), call: (bad) => f(A(), { steps: bad }) },
  ]),
  ...twins<Any>(['spectralNormGrad', spectralNormGrad as Any], ['spectralNormGradAsync', spectralNormGradAsync as Any], (f) => [
    { arg: 'w', cases: MATRIX_CASES, call: (bad) => f(bad) },
  ]),
  ...twins<Any>(['setNumThreads', setNumThreads as Any], null, (f) => [
    { arg: 'n', cases: [
      ...DIM_CASES,
      ['0', () => 0, RangeError, (w) => `${w} must be in 1..1024, got 0`],
      ['1025', () => 1025, RangeError, (w) => `${w} must be in 1..1024, got 1025`],
    ], call: (bad) => f(bad) },
  ]),
  ...twins<Any>(['gradNorm', gradNorm as Any], null, (f) => [
    { arg: 'grads[0]', cases: MATRIX_CASES, call: (bad) => f([bad]) },
    { arg: 'options', cases: optionsCases('normType'), call: (bad) => f([A()], bad) },
  ]),
  ...twins<Any>(['clipGradNorm', clipGradNorm as Any], null, (f) => [
    { arg: 'grads[1]', cases: MATRIX_CASES, call: (bad) => f([A(), bad], 1) },
    { arg: 'maxNorm', cases: POSITIVE_CASES, call: (bad) => f([A()], bad) },
    { arg: 'options', cases: optionsCases('normType'), call: (bad) => f([A()], 1, bad) },
  ]),
  // The Matrix class: constructor, static helpers, methods.
  { fn: 'Matrix', isAsync: false, slots: [
    { arg: 'rows', cases: DIM_CASES, call: (bad) => new Matrix(bad as number, 3) },
    { arg: 'cols', cases: DIM_CASES, call: (bad) => new Matrix(2, bad as number) },
    { arg: 'data', cases: optional(notObjects('a Float32Array')).concat([
      ['a Float64Array', () => new Float64Array(6), TypeError, (w) => `${w} must be a Float32Array, got a Float64Array`],
      ['number[]', () => [1, 2, 3, 4, 5, 6], TypeError, (w) => `${w} must be a Float32Array, got an array of length 6`],
      ['Proxy of a Float32Array', () => new Proxy(new Float32Array(6), {}), TypeError, (w) => `${w} must be a Float32Array, got an object ([object Object])`],
      ['too short', () => new Float32Array(5), RangeError, (w) => `${w} must have 2x3 = 6 elements, got 5`],
      ['detached', () => detached(6), RangeError, (w) => `${w} must have 2x3 = 6 elements, got 0 (detached buffer?)`],
    ]),
    call: (bad) => new Matrix(2, 3, bad as Float32Array) },
    { arg: '', cases: [['2**16 x 2**16', () => 2 ** 16, RangeError, () => 'Matrix: 65536x65536 has 4294967296 elements, more than 2147483647']],
      call: (bad) => new Matrix(bad as number, bad as number) },
  ] },
  { fn: 'Matrix.zeros', isAsync: false, slots: [
    { arg: 'rows', cases: DIM_CASES, call: (bad) => Matrix.zeros(bad as number, 3) },
    { arg: 'cols', cases: DIM_CASES, call: (bad) => Matrix.zeros(2, bad as number) },
  ] },
  { fn: 'Matrix.shared', isAsync: false, slots: [
    { arg: 'rows', cases: DIM_CASES, call: (bad) => Matrix.shared(bad as number, 3) },
    { arg: 'cols', cases: DIM_CASES, call: (bad) => Matrix.shared(2, bad as number) },
  ] },
  { fn: 'Matrix.from', isAsync: false, slots: [
    { arg: 'rows', cases: DIM_CASES, call: (bad) => Matrix.from(bad as number, 2, [1, 2, 3, 4]) },
    { arg: 'cols', cases: DIM_CASES, call: (bad) => Matrix.from(2, bad as number, [1, 2, 3, 4]) },
    { arg: 'values', cases: [
      ...notObjects('an array-like of numbers'),
      ['a plain object', () => ({}), TypeError, (w) => `${w} must be an array-like of numbers, got an object ([object Object])`],
      ['too few', () => [1, 2, 3], RangeError, (w) => `${w} must have 2x2 = 4 elements, got 3`],
      ['a detached Float64Array', () => {
        const values = new Float64Array(4);
        structuredClone(values.buffer, { transfer: [values.buffer] });
        return values;
      }, RangeError, (w) => `${w} must have 2x2 = 4 elements, got 0`],
      ['a string element', () => [1, '2', 3, 4], TypeError, (w) => `${w}[1] must be a number, got string 2`],
      ['a bigint element', () => [1, 2, 3n, 4], TypeError, (w) => `${w}[2] must be a number, got bigint 3`],
      ['a Symbol element', () => [Symbol('e'), 2, 3, 4], TypeError, (w) => `${w}[0] must be a number, got symbol Symbol(e)`],
      ['a hole', () => [1, , 3, 4], TypeError, (w) => `${w}[1] must be a number, got undefined`], // eslint-disable-line no-sparse-arrays
      ['a BigInt64Array', () => new BigInt64Array(4), TypeError, (w) => `${w} must hold numbers, got a BigInt64Array`],
      ['an element getter that throws', () => ({ length: 4, 0: 1, get 1(): number { throw new Error('boom'); } }), TypeError,
        (w) => `${w}[1] could not be read: Error: boom`],
      ['a length getter that throws', () => ({ get length(): number { throw new Error('len'); } }), TypeError, (w) => `${w}.length could not be read: Error: len`],
    ], call: (bad) => Matrix.from(2, 2, bad as number[]) },
  ] },
  { fn: 'Matrix.randn', isAsync: false, slots: [
    { arg: 'rows', cases: DIM_CASES, call: (bad) => Matrix.randn(bad as number, 3, 1) },
    { arg: 'cols', cases: DIM_CASES, call: (bad) => Matrix.randn(2, bad as number, 1) },
    { arg: 'seed', cases: [
      ...optional(notObjects('an integer', false)),
      ['1.5', () => 1.5, RangeError, (w) => `${w} must be an integer, got 1.5`],
      ['NaN', () => NaN, RangeError, (w) => `${w} must be an integer, got NaN`],
      ['2**53', () => 2 ** 53, RangeError, (w) => `${w} must be an integer, got 9007199254740992`],
    ], call: (bad) => Matrix.randn(2, 3, bad as number) },
  ] },
  { fn: 'Matrix.eye', isAsync: false, slots: [
    { arg: 'n', cases: [
      ...DIM_CASES,
      ['2**16', () => 2 ** 16, RangeError, () => 'Matrix.eye: 65536x65536 has 4294967296 elements, more than 2147483647'],
    ], call: (bad) => Matrix.eye(bad as number) },
  ] },
  ...(['get', 'set'] as const).map((method): Entry => {
    const fn = `Matrix.${method}`;
    const call = (i: unknown, j: unknown) => (method === 'get' ? Matrix.eye(2).get(i as number, j as number) : Matrix.eye(2).set(i as number, j as number, 1));
    const index = (at: 'i' | 'j'): Case[] => [
      ...notObjects('an integer', false),
      ['a numeric string', () => '0', TypeError, (w) => `${w} must be an integer, got string 0`],
      ...([[1.5, '1.5'], [-1, '-1'], [2, '2'], [NaN, 'NaN'], [Infinity, 'Infinity']] as const).map(([v, text]): Case => [text, () => v, RangeError,
        () => `${fn}: index (${at === 'i' ? text : 0}, ${at === 'j' ? text : 0}) is outside 2x2`]),
    ];
    const slots: Slot[] = [
      { arg: 'i', cases: index('i'), call: (bad) => call(bad, 0) },
      { arg: 'j', cases: index('j'), call: (bad) => call(0, bad) },
    ];
    if (method === 'set') {
      slots.push({ arg: 'value', cases: notObjects('a number', false).concat([
        ['a numeric string', () => '1', TypeError, (w) => `${w} must be a number, got string 1`],
      ]), call: (bad) => Matrix.eye(2).set(0, 0, bad as number) });
    }
    return { fn, isAsync: false, slots };
  }),
];

// ---------------------------------------------------------------- the table

describe('every bad argument gives a precise error under the public name', () => {
  for (const entry of ENTRIES) {
    describe(entry.fn, () => {
      for (const slot of entry.slots) {
        const where = slot.arg ? `${entry.fn}: ${slot.arg}` : entry.fn;
        it(`${slot.arg || 'shape'}: ${slot.cases.length} bad values${entry.isAsync ? ' (rejects, never throws)' : ''}`, async () => {
          expect(await runCases(entry.fn, entry.isAsync, where, slot.cases, slot.call)).toEqual([]);
        });
      }
    });
  }

  it('covers every function exported from src/index.ts outside the optimizers', () => {
    const covered = new Set(ENTRIES.map((e) => e.fn.split('.')[0]));
    const elsewhere = ['createOptimizer', 'optimizerFromConfig', 'stepMany', 'stepManyAsync', 'Optimizer', 'saveState', 'loadState', 'stateBytes', 'evalMode', 'trainMode']; // src/optim (test/schedule-free.test.ts: evalMode, trainMode)
    const noArguments = ['backendInfo']; // tested below
    const exported = Object.entries(api).filter(([, v]) => typeof v === 'function').map(([k]) => k);
    expect(exported.filter((name) => !covered.has(name) && !elsewhere.includes(name) && !noArguments.includes(name))).toEqual([]);
    const statics = Object.getOwnPropertyNames(Matrix).filter((k) => typeof (Matrix as unknown as Record<string, unknown>)[k] === 'function');
    const methods = Object.getOwnPropertyNames(Matrix.prototype).filter((k) => k !== 'constructor');
    const withArguments = [...statics, ...methods].filter((k) => !['transpose', 'clone', 'toArray', 'index', 'live'].includes(k));
    expect(withArguments.filter((k) => !ENTRIES.some((e) => e.fn === `Matrix.${k}`))).toEqual([]);
  });

  it("the issue's examples", async () => {
    expect(() => inverseRoot(null as never, 2)).toThrow(new TypeError('inverseRoot: s must be a Matrix, got null'));
    expect(() => orthogonalize(undefined as never)).toThrow(new TypeError('orthogonalize: g must be a Matrix, got undefined'));
    expect(() => inverseRoot(SPD(), 7n as never)).toThrow(new TypeError('inverseRoot: p must be a number, got bigint 7'));
    await expect(inverseRootAsync(null as never, 2)).rejects.toThrow(new TypeError('inverseRootAsync: s must be a Matrix, got null'));
  });

  it('a getter that throws is the cause of the error naming it', () => {
    const boom = new Error('boom');
    const error = (() => {
      try {
        matmul(A(), A(), { get beta(): number { throw boom; } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toBe('matmul: options.beta could not be read: Error: boom');
    expect(error!.cause).toBe(boom);
  });

  it('spectralNorm: iters with method svd', () => {
    expect(() => spectralNorm(A(), { method: 'svd', iters: 3 })).toThrow(new TypeError("spectralNorm: iters applies to method 'power' only"));
  });

  it('shape rules name the function and both shapes', async () => {
    expect(() => matmul(A(), Matrix.randn(2, 3, 1))).toThrow(new RangeError('matmul: cannot multiply a (3x3) by b (2x3): inner dimensions 3 and 2 differ'));
    expect(() => matmul(A(), A(), { out: new Matrix(3, 2) })).toThrow(new RangeError('matmul: out must be 3x3, got 3x2'));
    await expect(matmulAsync(A(), A(), { out: new Matrix(3, 2) })).rejects.toThrow(new RangeError('matmulAsync: out must be 3x3, got 3x2'));
    expect(() => eigh(Matrix.randn(2, 3, 1))).toThrow(new RangeError('eigh: s must be square, got 2x3'));
    expect(() => inverseRoot(Matrix.randn(2, 3, 1), 2)).toThrow(new RangeError('inverseRoot: s must be square, got 2x3'));
    await expect(inverseRootAsync(Matrix.randn(2, 3, 1), 2)).rejects.toThrow(new RangeError('inverseRootAsync: s must be square, got 2x3'));
    expect(() => truncatedSvd(A(), 4)).toThrow(new RangeError('truncatedSvd: k must be at most min(rows, cols) = 3, got 4'));
    await expect(truncatedSvdAsync(A(), 4)).rejects.toThrow(new RangeError('truncatedSvdAsync: k must be at most min(rows, cols) = 3, got 4'));
    expect(() => powerIteration(Matrix.randn(3, 2, 1), { scheme: 'gram', init: new Float32Array(3) })).toThrow(
      new RangeError("powerIteration: init (scheme 'gram') must have 1x2 = 2 elements, got 3"),
    );
  });

  it('a failed setNumThreads leaves the thread count alone', () => {
    const before = backendInfo();
    for (const n of [0, 1025, 1.5, -1, NaN, '2', null]) expect(() => setNumThreads(n as number)).toThrow(/^setNumThreads: n /);
    expect(backendInfo().threads).toBe(before.threads);
    expect(backendInfo().threadsChosenBy).toBe(before.threadsChosenBy);
  });

  it('backendInfo takes no arguments and ignores extra ones', () => {
    const info = (backendInfo as (...args: unknown[]) => ReturnType<typeof backendInfo>)(null, 7n, Symbol('x'));
    expect(info.threads).toBeGreaterThan(0);
    expect(typeof info.blas).toBe('string');
  });
});

// ---------------------------------------------------------------- native errors reach the user named

// Functions that reject NaN/Infinity in their input (README "Errors", each doc comment).
const NAN_RULES: Array<[string, (m: Matrix) => unknown, boolean]> = [
  ['eigh', (m) => eigh(m), false], ['eighAsync', (m) => eighAsync(m), true],
  ['svd', (m) => svd(m), false], ['svdAsync', (m) => svdAsync(m), true],
  ['singularValues', (m) => singularValues(m), false],
  ['truncatedSvd', (m) => truncatedSvd(m, 1), false], ['truncatedSvdAsync', (m) => truncatedSvdAsync(m, 1), true],
  ['truncatedSvd', (m) => truncatedSvd(m, 1, { method: 'exact' }), false],
  ['qr', (m) => qr(m), false], ['qrAsync', (m) => qrAsync(m), true],
  ['powerIteration', (m) => powerIteration(m), false], ['powerIteration', (m) => powerIteration(m, { scheme: 'gram' }), false],
  ['spectralNorm', (m) => spectralNorm(m), false], ['spectralNorm', (m) => spectralNorm(m, { method: 'svd' }), false],
  ['inverseRoot', (m) => inverseRoot(m, 2), false], ['inverseRootAsync', (m) => inverseRootAsync(m, 2), true],
  ['orthogonalize', (m) => orthogonalize(m), false], ['orthogonalizeAsync', (m) => orthogonalizeAsync(m), true],
  ['orthogonalize', (m) => orthogonalize(m, { method: 'svd' }), false],
  ['spectralNormGrad', (m) => spectralNormGrad(m), false], ['spectralNormGradAsync', (m) => spectralNormGradAsync(m), true],
];

describe('errors raised natively carry the public function name', () => {
  it.each(NAN_RULES)('%s: NaN or Infinity in the input (lower triangle) is a RangeError', async (fn, call, isAsync) => {
    for (const values of [[1, 0, NaN, 1], [1, 0, 0, -Infinity], [Infinity, 0, 0, 1]]) {
      const error = await failure(() => call(Matrix.from(2, 2, values)), isAsync);
      expect(mismatch(error, fn, RangeError, new RegExp(`^${fn}: input contains NaN or Infinity`))).toBe('');
    }
  });

  it('eigh and inverseRoot read the lower triangle only: NaN above the diagonal is no error', async () => {
    const upper = Matrix.from(2, 2, [4, NaN, 0, 9]);
    expect(Array.from(eigh(upper).values)).toEqual([4, 9]);
    expect((await eighAsync(upper)).values).toEqual(eigh(upper).values);
    const root = Array.from(inverseRoot(upper, 2).data);
    [0.5, 0, 0, 1 / 3].forEach((x, i) => expect(root[i]).toBeCloseTo(x, 6));
    expect((await inverseRootAsync(upper, 2)).data).toEqual(inverseRoot(upper, 2).data);
  });

  it('matmul propagates NaN like BLAS; with beta = 0 NaN in out is not read', () => {
    const c = matmul(Matrix.from(2, 2, [NaN, 0, 0, 1]), Matrix.eye(2));
    expect(Number.isNaN(c.get(0, 0))).toBe(true);
    expect(c.get(1, 1)).toBe(1);
    const out = Matrix.from(2, 2, [NaN, NaN, NaN, NaN]);
    expect(Array.from(matmul(Matrix.eye(2), Matrix.eye(2), { out }).data)).toEqual([1, 0, 0, 1]);
  });

  it("an async twin's native failure has the sync twin's class and message, under its own name", async () => {
    const pairs: Array<[string, () => unknown, string, () => Promise<unknown>]> = [
      ['eigh', () => eigh(Matrix.from(2, 2, [1, 0, NaN, 1])), 'eighAsync', () => eighAsync(Matrix.from(2, 2, [1, 0, NaN, 1]))],
      ['svd', () => svd(Matrix.from(1, 2, [NaN, 1])), 'svdAsync', () => svdAsync(Matrix.from(1, 2, [NaN, 1]))],
      ['inverseRoot', () => inverseRoot(Matrix.from(1, 1, [NaN]), 2), 'inverseRootAsync', () => inverseRootAsync(Matrix.from(1, 1, [NaN]), 2)],
      ['spectralNormGrad', () => spectralNormGrad(Matrix.from(1, 2, [1, Infinity])), 'spectralNormGradAsync',
        () => spectralNormGradAsync(Matrix.from(1, 2, [1, Infinity]))],
    ];
    for (const [syncName, sync, asyncName, async] of pairs) {
      const s = (await failure(sync, false)) as Error;
      const a = (await failure(async, true)) as Error;
      expect(a.constructor).toBe(s.constructor);
      expect(a.message).toBe(s.message.replace(`${syncName}: `, `${asyncName}: `));
      expect(a.stack).toContain('errors.test.ts');
    }
  });

  it("the addon's own checks, reached when a getter shrinks a buffer after the facade checked it", async () => {
    const shrinking = () => {
      const buffer = resizable(36, 64);
      const a = { rows: 3, cols: 3, data: new Float32Array(buffer) };
      return { a, options: { get alpha() { buffer.resize(0); return 1; } } };
    };
    let { a, options } = shrinking();
    expect(() => matmul(a, A(), options)).toThrow(new RangeError('matmul: a.data must have 9 elements, got 0 (detached, or a view past the end of its shrunk buffer?)'));
    ({ a, options } = shrinking());
    await expect(matmulAsync(a, A(), options)).rejects.toThrow(new RangeError('matmulAsync: a.data must have 9 elements, got 0 (detached, or a view past the end of its shrunk buffer?)'));
  });

  it('matmulAsync: out detached, shrunk or grown before the result lands is a rejection, nothing written', async () => {
    const a = A();
    const buffer = new Float32Array(9);
    const detaching = matmulAsync(a, a, { out: { rows: 3, cols: 3, data: buffer } });
    structuredClone(buffer.buffer, { transfer: [buffer.buffer] });
    await expect(detaching).rejects.toThrow(/^matmulAsync: out\.data must have 9 elements, got 0/);
    const growing = resizable(36, 64);
    const tracking = new Float32Array(growing).fill(5);
    const grown = matmulAsync(a, a, { out: { rows: 3, cols: 3, data: tracking } });
    growing.resize(44);
    await expect(grown).rejects.toThrow(new RangeError('matmulAsync: out.data must have 9 elements, got 11'));
    expect(Array.from(tracking.subarray(0, 9))).toEqual(Array(9).fill(5));
  });

  it('withName: keeps its own errors, replaces an addon prefix, prefixes anything else, keeps the class', () => {
    const own = new RangeError('svd: a.rows must be ...');
    expect(withName(own, 'svd')).toBe(own);
    const renamed = withName(new RangeError('eigh: input contains NaN or Infinity (lower triangle, row 1)'), 'inverseRoot');
    expect(renamed).toBeInstanceOf(RangeError);
    expect(renamed.message).toBe('inverseRoot: input contains NaN or Infinity (lower triangle, row 1)');
    expect(withName(new TypeError('matmul: a.data must be a Float32Array'), 'matmulAsync').message).toBe('matmulAsync: a.data must be a Float32Array');
    const plain = withName(new Error('out of memory'), 'qr');
    expect([plain.constructor, plain.message]).toEqual([Error, 'qr: out of memory']);
    expect(withName(new Error('sgesdd: info 3'), 'svd').message).toBe('svd: sgesdd: info 3');
    expect(withName('a string', 'svd').message).toBe('svd: unexpected string a string');
  });
});

// ---------------------------------------------------------------- inputs that must work

/** m's values on other kinds of memory or wrappers: each must give m's results exactly. */
function variants(m: Matrix): Array<[string, () => unknown]> {
  const n = m.rows * m.cols;
  const on = (data: Float32Array) => {
    data.set(m.data);
    return { rows: m.rows, cols: m.cols, data };
  };
  class Sub extends Float32Array {}
  return [
    ['a SharedArrayBuffer', () => on(new Float32Array(new SharedArrayBuffer(n * 4)))],
    ['a length-tracking view of a resizable buffer', () => on(new Float32Array(resizable(n * 4, n * 8 + 64)))],
    ['a fixed view at an offset in a resizable buffer', () => on(new Float32Array(resizable(n * 4 + 16, n * 8 + 64), 8, n))],
    ['a subarray at an offset', () => on(new Float32Array(n + 7).subarray(3, 3 + n))],
    ['a Float32Array subclass', () => on(new Sub(n))],
    ['a Float32Array of another realm', () => on(runInNewContext(`new Float32Array(${n})`) as Float32Array)],
    ['a Proxy of a Matrix', () => new Proxy(m.clone(), {})],
    ['an object with getters', () => {
      const data = m.data.slice();
      return { get rows() { return m.rows; }, get cols() { return m.cols; }, get data() { return data; } };
    }],
  ];
}

function flat(value: unknown): unknown {
  if (value instanceof Float32Array) return Array.from(value);
  if (value instanceof Matrix) return { rows: value.rows, cols: value.cols, data: Array.from(value.data) };
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flat(v)]));
  return value;
}

const B = Matrix.randn(4, 3, 3);
const S = (() => {
  const x = Matrix.randn(4, 4, 4);
  return matmul(x, x, { transA: true });
})();
// [name, the matrix it takes, call]; async twins are compared with the sync result.
const WORKING: Array<[string, Matrix, (m: unknown) => unknown, ((m: unknown) => Promise<unknown>)?]> = [
  ['matmul a', B, (m) => matmul(m as Matrix, Matrix.randn(3, 2, 5)), (m) => matmulAsync(m as Matrix, Matrix.randn(3, 2, 5))],
  ['matmul b', B, (m) => matmul(Matrix.randn(2, 4, 5), m as Matrix), (m) => matmulAsync(Matrix.randn(2, 4, 5), m as Matrix)],
  ['matmul a·aᵀ (same object twice)', B, (m) => matmul(m as Matrix, m as Matrix, { transB: true, alpha: 0.5 })],
  ['eigh', S, (m) => eigh(m as Matrix), (m) => eighAsync(m as Matrix)],
  ['svd', B, (m) => svd(m as Matrix), (m) => svdAsync(m as Matrix)],
  ['singularValues', B, (m) => singularValues(m as Matrix)],
  ['truncatedSvd', B, (m) => truncatedSvd(m as Matrix, 2, { seed: 3 }), (m) => truncatedSvdAsync(m as Matrix, 2, { seed: 3 })],
  ['qr', B, (m) => qr(m as Matrix), (m) => qrAsync(m as Matrix)],
  ['powerIteration', B, (m) => powerIteration(m as Matrix, { iters: 4 })],
  ['spectralNorm', B, (m) => spectralNorm(m as Matrix)],
  ['spectralNorm svd', B, (m) => spectralNorm(m as Matrix, { method: 'svd' })],
  ['inverseRoot', S, (m) => inverseRoot(m as Matrix, 4, { eps: 1e-6 }), (m) => inverseRootAsync(m as Matrix, 4, { eps: 1e-6 })],
  ['orthogonalize', B, (m) => orthogonalize(m as Matrix), (m) => orthogonalizeAsync(m as Matrix)],
  ['spectralNormGrad', B, (m) => spectralNormGrad(m as Matrix), (m) => spectralNormGradAsync(m as Matrix)],
  ['Matrix constructor', B, (m) => new Matrix(4, 3, (m as Matrix).data)],
];

describe('shared, resizable and offset memory, Proxies and getters work and give the same results', () => {
  it.each(WORKING)('%s', async (_, m, call, callAsync) => {
    const expected = flat(call(m.clone()));
    for (const [label, make] of variants(m)) {
      expect(flat(call(make())), label).toEqual(expected);
      if (callAsync) expect(flat(await callAsync(make())), `${label} (async)`).toEqual(expected);
    }
  });

  it('matmul writes into out on any of those kinds of memory, and returns it', async () => {
    const a = Matrix.randn(3, 4, 1);
    const b = Matrix.randn(4, 2, 2);
    const expected = Array.from(matmul(a, b).data);
    for (const [label, make] of variants(Matrix.from(3, 2, [9, 9, 9, 9, 9, 9]))) {
      const out = make() as Matrix;
      const result = matmul(a, b, { out, beta: 0 });
      expect(Array.from(result.data), label).toEqual(expected);
      expect(Array.from(out.data), label).toEqual(expected);
      const later = make() as Matrix;
      expect(Array.from((await matmulAsync(a, b, { out: later })).data), `${label} (async)`).toEqual(expected);
      expect(Array.from(later.data), `${label} (async)`).toEqual(expected);
    }
  });

  it('reads rows, cols and data once per call, and each option once', async () => {
    const counted = (m: Matrix) => {
      const reads = { rows: 0, cols: 0, data: 0 };
      const matrix = {
        get rows() { reads.rows++; return m.rows; },
        get cols() { reads.cols++; return m.cols; },
        get data() { reads.data++; return m.data; },
      };
      return { matrix, reads };
    };
    for (const [name, m, call, callAsync] of WORKING) {
      for (const run of callAsync ? [call, callAsync] : [call]) {
        const { matrix, reads } = counted(m.clone());
        await run(matrix);
        const once = name === 'Matrix constructor' ? { rows: 0, cols: 0, data: 1 } : { rows: 1, cols: 1, data: 1 };
        expect(reads, name).toEqual(name.includes('same object twice') ? { rows: 2, cols: 2, data: 2 } : once);
      }
    }
    let alphaReads = 0;
    matmul(A(), A(), { get alpha() { alphaReads++; return 2; } });
    expect(alphaReads).toBe(1);
  });

  it('options: a Proxy of a plain object, Object.create(null), undefined values (the defaults)', () => {
    const a = Matrix.randn(3, 4, 1);
    const expected = Array.from(matmul(a, a, { transB: true, alpha: 2 }).data);
    expect(Array.from(matmul(a, a, new Proxy({ transB: true, alpha: 2 }, {})).data)).toEqual(expected);
    expect(Array.from(matmul(a, a, Object.assign(Object.create(null) as object, { transB: true, alpha: 2 })).data)).toEqual(expected);
    expect(Array.from(matmul(a, a, { transB: true, alpha: 2, beta: undefined, out: undefined }).data)).toEqual(expected);
    expect(truncatedSvd(a, 2, { seed: undefined, method: undefined }).S).toEqual(truncatedSvd(a, 2).S);
    expect(orthogonalize(a, { steps: undefined }).data).toEqual(orthogonalize(a).data);
  });

  it('empty shapes: 0xn, nx0 and 0x0 give empty results of the right shapes', async () => {
    const shape = (x: unknown) => (x instanceof Matrix ? `${x.rows}x${x.cols}` : x instanceof Float32Array ? `[${x.length}]` : x);
    const shapes = (r: unknown) => (r && typeof r === 'object' && !(r instanceof Matrix) && !(r instanceof Float32Array)
      ? Object.fromEntries(Object.entries(r).map(([k, v]) => [k, shape(v)])) : shape(r));
    for (const [r, c] of [[0, 3], [3, 0], [0, 0]]) {
      const m = new Matrix(r, c);
      const k = Math.min(r, c);
      expect(shapes(matmul(m, new Matrix(c, 2)))).toBe(`${r}x2`);
      expect(shapes(matmul(new Matrix(2, r), m))).toBe(`2x${c}`);
      expect(Array.from(matmul(new Matrix(2, r), m).data)).toEqual(Array(2 * c).fill(0));
      expect(shapes(svd(m))).toEqual({ U: `${r}x${k}`, S: `[${k}]`, Vt: `${k}x${c}` });
      expect(shapes(await svdAsync(m))).toEqual({ U: `${r}x${k}`, S: `[${k}]`, Vt: `${k}x${c}` });
      expect(shapes(singularValues(m))).toBe(`[${k}]`);
      expect(shapes(truncatedSvd(m, 0))).toEqual({ U: `${r}x0`, S: '[0]', Vt: `0x${c}` });
      expect(shapes(qr(m))).toEqual({ Q: `${r}x${k}`, R: `${k}x${c}` });
      expect(shapes(powerIteration(m))).toEqual({ sigma: 0, u: `[${r}]`, v: `[${c}]` });
      expect(spectralNorm(m)).toBe(0);
      expect(spectralNorm(m, { method: 'svd' })).toBe(0);
      expect(shapes(orthogonalize(m))).toBe(`${r}x${c}`);
      expect(shapes(orthogonalize(m, { method: 'svd' }))).toBe(`${r}x${c}`);
      expect(shapes(spectralNormGrad(m))).toBe(`${r}x${c}`);
      expect(shapes(m.transpose())).toBe(`${c}x${r}`);
    }
    const empty = new Matrix(0, 0);
    expect(shapes(eigh(empty))).toEqual({ values: '[0]', vectors: '0x0' });
    expect(shapes(inverseRoot(empty, 2))).toBe('0x0');
    expect(shapes(await inverseRootAsync(empty, 2))).toBe('0x0');
  });
});

describe('Matrix methods on a matrix whose buffer went away', () => {
  const gone = () => {
    const m = Matrix.randn(2, 3, 1);
    structuredClone(m.data.buffer, { transfer: [m.data.buffer] });
    return m;
  };

  it('get and set throw instead of reading undefined or writing nowhere', () => {
    expect(() => gone().get(1, 1)).toThrow(new RangeError('Matrix.get: data holds 0 elements, not 2x3 (detached or resized buffer?)'));
    expect(() => gone().set(1, 1, 5)).toThrow(new RangeError('Matrix.set: data holds 0 elements, not 2x3 (detached or resized buffer?)'));
  });

  it.each(['transpose', 'clone', 'toArray'] as const)('%s', (method) => {
    expect(() => gone()[method]()).toThrow(new RangeError(`Matrix.${method}: data must have 2x3 = 6 elements, got 0 (detached buffer?)`));
  });

  it('and every routine reports it under its own name', async () => {
    expect(() => svd(gone())).toThrow(new RangeError('svd: a.data must have 2x3 = 6 elements, got 0 (detached buffer?)'));
    await expect(qrAsync(gone())).rejects.toThrow(new RangeError('qrAsync: a.data must have 2x3 = 6 elements, got 0 (detached buffer?)'));
  });
});
