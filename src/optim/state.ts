// An optimizer's state for one parameter, and its checkpoint format.
//
// Format (little-endian): "SPECOPT1" magic, u32 format version, u32 header length, the header as
// UTF-8 JSON ({ rule, backend, rows, cols, step, values, arrays: [{ name, dtype, length }] }),
// zero padding to 8 bytes, then each array's raw bytes in header order (each padded to 8), then
// a u32 CRC-32 of everything before it. Arrays are stored bit for bit, so a resumed run is
// bit-identical to one that never stopped.
import type { RuleName } from './defaults.js';

export type StateArray = Float32Array | Float64Array;

export interface OptimizerState {
  readonly rule: RuleName;
  readonly backend: 'native' | 'reference';
  readonly rows: number;
  readonly cols: number;
  /** Updates taken so far (t of the last update). */
  step: number;
  /** The rule's buffers (moments, accumulators, ...), by name. */
  readonly arrays: Record<string, StateArray>;
  /** Scalar state that is not an array (the reference backend keeps some). */
  readonly values: Record<string, number | boolean | null>;
}

const MAGIC = 'SPECOPT1';
const VERSION = 1;

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

const pad8 = (n: number) => (n + 7) & ~7;

/** Bytes of optimizer state held for the parameter (what a checkpoint's arrays take). */
export function stateBytes(state: OptimizerState): number {
  return Object.values(state.arrays).reduce((sum, a) => sum + a.byteLength, 0);
}

export function saveState(state: OptimizerState): Uint8Array {
  const names = Object.keys(state.arrays);
  const header = JSON.stringify({
    rule: state.rule,
    backend: state.backend,
    rows: state.rows,
    cols: state.cols,
    step: state.step,
    values: state.values,
    arrays: names.map((name) => {
      const a = state.arrays[name];
      return { name, dtype: a instanceof Float64Array ? 'f64' : 'f32', length: a.length };
    }),
  });
  const headerBytes = new TextEncoder().encode(header);
  const start = pad8(16 + headerBytes.length);
  const total = names.reduce((at, name) => at + pad8(state.arrays[name].byteLength), start) + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  let at = start;
  for (const name of names) {
    const a = state.arrays[name];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += pad8(a.byteLength);
  }
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

function corrupt(why: string): never {
  throw new RangeError(`loadState: not a valid specopt optimizer state (${why})`);
}

export function loadState(bytes: Uint8Array): OptimizerState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('loadState: bytes must be a Uint8Array');
  if (bytes.length < 20) corrupt(`${bytes.length} bytes is too short`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) corrupt('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) corrupt(`format version ${version}, this library reads ${VERSION}`);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== view.getUint32(bytes.length - 4, true)) corrupt('checksum mismatch');
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length - 4) corrupt('header runs past the end');
  let header: {
    rule: RuleName;
    backend: 'native' | 'reference';
    rows: number;
    cols: number;
    step: number;
    values: Record<string, number | boolean | null>;
    arrays: { name: string; dtype: 'f32' | 'f64'; length: number }[];
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  } catch {
    corrupt('unreadable header');
  }
  const arrays: Record<string, StateArray> = {};
  let at = pad8(16 + headerLength);
  for (const { name, dtype, length } of header.arrays) {
    const size = length * (dtype === 'f64' ? 8 : 4);
    if (!Number.isSafeInteger(length) || length < 0 || at + size > bytes.length - 4) corrupt(`array '${name}' runs past the end`);
    // Copies, aligned: the state must not alias the checkpoint bytes.
    const copy = new Uint8Array(size);
    copy.set(bytes.subarray(at, at + size));
    arrays[name] = dtype === 'f64' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
    at += pad8(size);
  }
  if (at !== bytes.length - 4) corrupt('trailing bytes');
  return {
    rule: header.rule,
    backend: header.backend,
    rows: header.rows,
    cols: header.cols,
    step: header.step,
    arrays,
    values: header.values,
  };
}
