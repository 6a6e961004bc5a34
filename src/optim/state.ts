// An optimizer's state for one parameter, and its checkpoint format.
//
// Format (little-endian): "SPECOPT1" magic, u32 format version, u32 header length, the header as
// UTF-8 JSON ({ rule, backend, rows, cols, step, values, arrays: [{ name, dtype, length }] }),
// zero padding to 8 bytes, then each array's raw bytes in header order (each padded to 8), then
// a u32 CRC-32 of everything before it. Arrays are stored bit for bit, so a resumed run is
// bit-identical to one that never stopped.
//
// The checksum only shows that the bytes are the ones written; what they mean is checked against
// each rule's state declaration (RuleSpec.state in rules/*.ts): which arrays a state of that rule,
// backend and shape can hold, in which order, of which dtype and length, and which scalar values.
// saveState and stateBytes check a state in memory the same way, so a file saveState wrote always
// loads.
import { MAX_ELEMENTS, describe, named } from '../validate.js';
import { DEFAULTS, RULES, type RuleName } from './defaults.js';
import { stateArray, type StateArraySpec, type StateValueKind } from './rule.js';
import { stateInFlight } from './inflight.js';
import { RULE_SPECS } from './rules/index.js';

/** A state buffer: float32 on the native backend, float64 on the reference backend. */
export type StateArray = Float32Array | Float64Array;

/**
 * An optimizer's state for one parameter, made by `Optimizer.init` and updated in place by every
 * step; {@link saveState} turns it into bytes and {@link loadState} back.
 */
export interface OptimizerState {
  /** The rule whose state this is. */
  readonly rule: RuleName;
  /** The backend that made it ('native': float32 buffers, 'reference': float64). */
  readonly backend: 'native' | 'reference';
  /** The parameter's rows. */
  readonly rows: number;
  /** The parameter's columns. */
  readonly cols: number;
  /** Updates taken so far (t of the last update). */
  step: number;
  /** The rule's buffers (moments, accumulators, ...), by name. */
  readonly arrays: Record<string, StateArray>;
  /** Scalar state that is not an array (the reference backend keeps some). */
  readonly values: Record<string, number | boolean | null>;
}

type StateBackend = OptimizerState['backend'];

const MAGIC = 'SPECOPT1';
const VERSION = 1;
const HEADER_KEYS = ['rule', 'backend', 'rows', 'cols', 'step', 'values', 'arrays'] as const;
const ENTRY_KEYS = ['name', 'dtype', 'length'] as const;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Arithmetic, not `(n + 7) & ~7`: that wraps at 2³¹, and a header claiming a huge array would pass the size check.
const pad8 = (n: number) => Math.ceil(n / 8) * 8;

// ---------------------------------------------------------------- what a state may hold

const minSide = (rows: number, cols: number) => Math.min(rows, cols);
/** The spectral warm start: native keeps it with spectralWarmStart, the reference whenever it computes rank1(W). */
const NATIVE_WARM = stateArray('spectralVector', minSide, 'optional');
const REFERENCE_WARM = stateArray('spectralVec', minSide, 'optional');
const SPECS = new Map<string, readonly StateArraySpec[]>();

/**
 * Every array a state of `rule` on `backend` may hold, in canonical order (the order init()
 * creates and saveState writes them): the rule's declaration, then the spectral vector (native:
 * only rules with spectralWarmStart; reference: every rule, as the penalty can store it).
 */
export function stateArraySpecs(rule: RuleName, backend: StateBackend): readonly StateArraySpec[] {
  const key = `${backend}:${rule}`;
  let specs = SPECS.get(key);
  if (!specs) {
    const declared = RULE_SPECS[rule].state;
    if (backend === 'native') {
      specs = 'spectralWarmStart' in DEFAULTS[rule] ? [...declared.native, NATIVE_WARM] : declared.native;
    } else {
      specs = [...declared.reference, REFERENCE_WARM];
    }
    SPECS.set(key, specs);
  }
  return specs;
}

/** The scalar values every state of `rule` on `backend` holds, with their kinds (native: none). */
export function stateValueKinds(rule: RuleName, backend: StateBackend): Readonly<Record<string, StateValueKind>> {
  return (backend === 'reference' && RULE_SPECS[rule].state.referenceValues) || NO_VALUES;
}
const NO_VALUES: Readonly<Record<string, StateValueKind>> = Object.freeze({});

// ---------------------------------------------------------------- checks shared by save, load and step

/**
 * Throws the error of a failed check, `${fn}: ${message}`. loadState reports everything wrong in
 * its bytes as a RangeError; checks of objects in memory give a TypeError for a value of the
 * wrong JS type.
 */
export type StateFail = (kind: 'type' | 'range', message: string) => never;

export function stateFail(fn: string, fromBytes = false): StateFail {
  return (kind, message) => {
    throw new (kind === 'type' && !fromBytes ? TypeError : RangeError)(`${fn}: ${message}`);
  };
}

/** A value for a message: strings quoted (and cut short), other primitives as they print. */
function show(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'bigint') return `bigint ${value}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  return describe(value);
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

interface Head {
  rule: RuleName;
  backend: StateBackend;
  rows: number;
  cols: number;
  step: number;
}

/** rule, backend, rows, cols and step of a header or state (`at` names it: 'header' or 'state'). */
function checkHead(fail: StateFail, at: string, h: Record<string, unknown>): Head {
  const { rule, backend, rows, cols, step } = h;
  if (typeof rule !== 'string' || !(RULES as string[]).includes(rule)) {
    fail(typeof rule === 'string' ? 'range' : 'type', `${at}.rule must be one of ${RULES.join(', ')}; got ${show(rule)}`);
  }
  if (backend !== 'native' && backend !== 'reference') {
    fail(typeof backend === 'string' ? 'range' : 'type', `${at}.backend must be 'native' or 'reference', got ${show(backend)}`);
  }
  for (const [key, value] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (typeof value !== 'number') fail('type', `${at}.${key} must be a positive integer, got ${show(value)}`);
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_ELEMENTS) fail('range', `${at}.${key} must be a positive integer, got ${value}`);
  }
  if ((rows as number) * (cols as number) > MAX_ELEMENTS) {
    fail('range', `${at}.rows x ${at}.cols is ${rows}x${cols} = ${(rows as number) * (cols as number)} entries, more than ${MAX_ELEMENTS}`);
  }
  if (typeof step !== 'number') fail('type', `${at}.step must be a non-negative integer, got ${show(step)}`);
  if (!Number.isSafeInteger(step) || step < 0) fail('range', `${at}.step must be a non-negative integer, got ${step}`);
  return { rule: rule as RuleName, backend, rows: rows as number, cols: cols as number, step };
}

/**
 * A state's `values` (`at` names the state or header): exactly the scalars the rule's state on
 * that backend holds, each of its kind. Returns them in declared order.
 */
export function checkStateValues(fail: StateFail, at: string, rule: RuleName, backend: StateBackend, values: unknown): Record<string, number | boolean | null> {
  if (!isPlainObject(values)) fail('type', `${at}.values must be an object, got ${show(values)}`);
  const kinds = stateValueKinds(rule, backend);
  const names = Object.keys(kinds);
  const holds = names.length ? `it holds ${names.join(', ')}` : 'it holds none';
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(kinds, key)) fail('range', `${at}.values has ${show(key)}, which a ${rule} (${backend}) state does not hold (${holds})`);
  }
  const out: Record<string, number | boolean | null> = {};
  for (const key of names) {
    if (!Object.hasOwn(values, key)) fail('range', `${at}.values.${key} is missing (a ${rule} (${backend}) state holds ${names.join(', ')})`);
    const value = values[key];
    if (kinds[key] === 'boolean') {
      if (typeof value !== 'boolean') fail('type', `${at}.values.${key} must be a boolean, got ${show(value)}`);
    } else if (kinds[key] === 'number') {
      if (typeof value !== 'number') fail('type', `${at}.values.${key} must be a finite number, got ${show(value)}`);
      if (!Number.isFinite(value)) fail('range', `${at}.values.${key} must be a finite number, got ${value}`);
    } else {
      if (typeof value !== 'number') fail('type', `${at}.values.${key} must be a non-negative integer, got ${show(value)}`);
      if (!Number.isSafeInteger(value) || value < 0) fail('range', `${at}.values.${key} must be a non-negative integer, got ${value}`);
    }
    out[key] = value;
  }
  return out;
}

interface ArrayEntry {
  /** Names the array in messages: "header.arrays[2] ('leftBasis')", "state.arrays.leftBasis". */
  label: string;
  name: string;
  dtype: 'f32' | 'f64';
  length: number;
}

const DTYPE_NAMES = { f32: "'f32' (Float32Array)", f64: "'f64' (Float64Array)" } as const;

/**
 * The arrays of a state, in the order given: each one the rule's state on that backend can hold
 * for this shape, none twice, in canonical order, of the backend's dtype and a length the shape
 * allows; and every array such a state always holds is there.
 */
function checkStateArrays(fail: StateFail, at: string, head: Head, list: readonly ArrayEntry[]): void {
  const { rule, backend, rows, cols } = head;
  const specs = stateArraySpecs(rule, backend);
  const order = specs.map((s) => s.name).join(', ') || 'none';
  const dtype = backend === 'native' ? 'f32' : 'f64';
  const seen = new Set<string>();
  let previous = -1;
  for (const e of list) {
    const i = specs.findIndex((s) => s.name === e.name);
    if (i < 0) fail('range', `${e.label} is not an array a ${rule} (${backend}) state holds (it may hold: ${order})`);
    if (seen.has(e.name)) fail('range', `${e.label} appears twice`);
    seen.add(e.name);
    const expected = specs[i].length(rows, cols);
    if (expected === null) fail('range', `${e.label} is not an array a ${rule} (${backend}) state of a ${rows}x${cols} parameter holds`);
    if (i < previous) {
      fail('range', `${e.label} is out of order: '${e.name}' comes before '${specs[previous].name}' in a ${rule} (${backend}) state (order: ${order})`);
    }
    previous = i;
    if (e.dtype !== dtype) fail('type', `${e.label} must be ${DTYPE_NAMES[dtype]} in a ${backend} state, got ${DTYPE_NAMES[e.dtype]}`);
    if (typeof expected === 'number' ? e.length !== expected : !expected.test(e.length)) {
      const want = typeof expected === 'number' ? expected : expected.what;
      fail('range', `${e.label} must have length ${want} for a ${rows}x${cols} parameter, got ${e.length}`);
    }
  }
  for (const s of specs) {
    const optional = typeof s.optional === 'function' ? s.optional(rows, cols) : s.optional;
    if (!optional && s.length(rows, cols) !== null && !seen.has(s.name)) {
      fail('range', `${at}.arrays lacks '${s.name}', which every ${rule} (${backend}) state of a ${rows}x${cols} parameter holds`);
    }
  }
}

/** A state in memory, checked as loadState checks a file; its arrays in canonical order. */
function checkedState(state: unknown, fn: string): { head: Head; values: Record<string, number | boolean | null>; arrays: [string, StateArray][] } {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new TypeError(`${fn}: state must be an optimizer state from init() or loadState(), got ${describe(state)}`);
  }
  const fail: StateFail = stateFail(fn);
  const s = state as Record<string, unknown>;
  const head = checkHead(fail, 'state', s);
  const values = checkStateValues(fail, 'state', head.rule, head.backend, s.values);
  const arrays = s.arrays;
  if (typeof arrays !== 'object' || arrays === null || Array.isArray(arrays)) {
    fail('type', `state.arrays must be an object of Float32Array/Float64Array by name, got ${show(arrays)}`);
  }
  const specs = stateArraySpecs(head.rule, head.backend);
  const rank = (name: string) => specs.findIndex((x) => x.name === name);
  const list = Object.keys(arrays).map((name) => {
    const a = (arrays as Record<string, unknown>)[name];
    const label = `state.arrays.${name}`;
    if (!(a instanceof Float32Array || a instanceof Float64Array)) fail('type', `${label} must be a Float32Array or Float64Array, got ${show(a)}`);
    // Every state array has at least one element; an empty one has lost its buffer.
    if (a.length === 0) fail('range', `${label} is empty${a.buffer.byteLength === 0 ? ' (its ArrayBuffer is detached?)' : ''}`);
    return { label, name, dtype: a instanceof Float64Array ? ('f64' as const) : ('f32' as const), length: a.length, a };
  });
  // Unknown names first (rank -1), so that they are what the check reports.
  list.sort((x, y) => rank(x.name) - rank(y.name));
  checkStateArrays(fail, 'state', head, list);
  return { head, values, arrays: list.map((e): [string, StateArray] => [e.name, e.a]) };
}

// ---------------------------------------------------------------- the public functions

/**
 * Bytes of optimizer state held for the parameter (what a checkpoint's arrays take). The state is
 * checked as saveState checks it (TypeError/RangeError starting "stateBytes:").
 */
export function stateBytes(state: OptimizerState): number {
  try {
    return checkedState(state, 'stateBytes').arrays.reduce((sum, [, a]) => sum + a.byteLength, 0);
  } catch (error) {
    throw named(error, 'stateBytes');
  }
}

/**
 * The state as bytes (the format above). The state is checked first, as loadState checks a file,
 * so that what is saved loads: rule, backend, rows, cols (positive, rows·cols ≤ 2³¹ − 1), step (a
 * non-negative integer), `values` (exactly the rule's scalars), `arrays` (only arrays the rule's
 * state holds for this shape, Float32Array on native and Float64Array on the reference backend,
 * with the shape's lengths, none empty or detached). Arrays are written in the rule's canonical
 * order, whatever the order of the object's keys. Arrays on a SharedArrayBuffer are accepted: their
 * bytes are copied as they are at the time of the call. Errors: TypeError (wrong JS type) or
 * RangeError, starting "saveState:" and naming the field; an Error for a state a stepManyAsync
 * call in flight is updating.
 */
export function saveState(state: OptimizerState): Uint8Array {
  let checked: ReturnType<typeof checkedState>;
  if (stateInFlight(state)) throw new Error('saveState: the state is in use by a stepManyAsync call in flight (its buffers may be half written); await that call first');
  try {
    checked = checkedState(state, 'saveState');
  } catch (error) {
    throw named(error, 'saveState');
  }
  const { head, values, arrays } = checked;
  const header = JSON.stringify({
    rule: head.rule,
    backend: head.backend,
    rows: head.rows,
    cols: head.cols,
    step: head.step,
    values,
    arrays: arrays.map(([name, a]) => ({ name, dtype: a instanceof Float64Array ? 'f64' : 'f32', length: a.length })),
  });
  const headerBytes = new TextEncoder().encode(header);
  const start = pad8(16 + headerBytes.length);
  const total = arrays.reduce((at, [, a]) => at + pad8(a.byteLength), start) + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  let at = start;
  for (const [, a] of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += pad8(a.byteLength);
  }
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

function corrupt(why: string): never {
  throw new RangeError(`loadState: not a valid specopt optimizer state (${why})`);
}

/**
 * A state from saveState's bytes. Beyond the magic, version, sizes and CRC-32, the header must mean
 * a state this library makes: a JSON object with exactly the keys rule, backend, rows, cols, step,
 * values, arrays; a known rule; backend 'native' or 'reference'; rows and cols positive integers
 * (rows·cols ≤ 2³¹ − 1); step a non-negative integer; values exactly the scalars the rule's
 * reference state holds (none on native), each a boolean or a count; arrays a list of
 * { name, dtype, length } naming only arrays the rule's state holds for that shape and backend,
 * each once, in the rule's canonical order (the order saveState writes), dtype 'f32' (native) or
 * 'f64' (reference), with the length the shape gives (or, where hyperparameters choose it, a
 * length they can give), and every array such a state always holds. Whether the arrays fit the
 * optimizer's hyperparameters exactly is checked at the first step. The result shares no memory
 * with `bytes`; names such as '__proto__' or 'constructor' are unknown names, so they never reach
 * `arrays` or `values`. Errors: TypeError when
 * `bytes` is not a Uint8Array, RangeError for anything wrong in them, starting "loadState:" and
 * naming the field.
 */
export function loadState(bytes: Uint8Array): OptimizerState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`loadState: bytes must be a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length < 20) corrupt(`${bytes.length} bytes is too short`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) corrupt('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) corrupt(`format version ${version}, this library reads ${VERSION}`);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== view.getUint32(bytes.length - 4, true)) corrupt('checksum mismatch');
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length - 4) corrupt('header runs past the end');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLength)));
  } catch {
    corrupt('unreadable header');
  }

  const fail: StateFail = stateFail('loadState', true);
  if (!isPlainObject(parsed)) fail('range', `the header must be a JSON object, got ${show(parsed)}`);
  const header = parsed;
  for (const key of Object.keys(header)) {
    if (!(HEADER_KEYS as readonly string[]).includes(key)) fail('range', `header has an unknown key ${show(key)} (known: ${HEADER_KEYS.join(', ')})`);
  }
  for (const key of HEADER_KEYS) if (!Object.hasOwn(header, key)) fail('range', `header.${key} is missing`);
  const head = checkHead(fail, 'header', header);
  const values = checkStateValues(fail, 'header', head.rule, head.backend, header.values);
  const entries = header.arrays;
  if (!Array.isArray(entries)) fail('range', `header.arrays must be a list of { name, dtype, length }, got ${show(entries)}`);
  const list = entries.map((e: unknown, i: number): ArrayEntry => {
    const at = `header.arrays[${i}]`;
    if (!isPlainObject(e)) fail('range', `${at} must be an object { name, dtype, length }, got ${show(e)}`);
    for (const key of Object.keys(e)) {
      if (!(ENTRY_KEYS as readonly string[]).includes(key)) fail('range', `${at} has an unknown key ${show(key)} (known: ${ENTRY_KEYS.join(', ')})`);
    }
    const { name, dtype, length } = e;
    if (typeof name !== 'string') fail('range', `${at}.name must be a string, got ${show(name)}`);
    const label = `${at} (${show(name)})`;
    if (dtype !== 'f32' && dtype !== 'f64') fail('range', `${label}.dtype must be 'f32' or 'f64', got ${show(dtype)}`);
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      fail('range', `${label}.length must be a non-negative integer, got ${show(length)}`);
    }
    return { label, name, dtype, length };
  });
  checkStateArrays(fail, 'header', head, list);

  const start = pad8(16 + headerLength);
  let at = start;
  for (const { name, dtype, length } of list) {
    at += pad8(length * (dtype === 'f64' ? 8 : 4));
    if (at > bytes.length - 4) corrupt(`array '${name}' runs past the end`);
  }
  if (at !== bytes.length - 4) corrupt('trailing bytes');
  // Ordinary objects (fast properties for the step): only declared names reach them, and no
  // declared name is one of Object.prototype's (test/state-validation.test.ts checks that).
  const arrays: Record<string, StateArray> = {};
  at = start;
  for (const { name, dtype, length } of list) {
    const size = length * (dtype === 'f64' ? 8 : 4);
    // Copies, aligned: the state must not alias the checkpoint bytes.
    const copy = new Uint8Array(size);
    copy.set(bytes.subarray(at, at + size));
    arrays[name] = dtype === 'f64' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
    at += pad8(size);
  }
  return { ...head, arrays, values };
}
