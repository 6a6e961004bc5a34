// Issue "Reliability", finding 3 (a state file with a valid checksum but wrong contents was
// accepted) and finding 4 for the state and optimizer functions (generic JS errors instead of
// errors naming the function and the argument):
//   1. the state declarations (RuleSpec.state) against what init() and step() really keep;
//   2. crafted state files, their CRC-32 recomputed, each rejected by loadState naming the field;
//   3. every legitimate state still round-trips bit-exactly and steps identically after loading;
//   4. step-time checks of a state against the optimizer's exact layout;
//   5. saveState / stateBytes / createOptimizer / init / step / stepMany on bad arguments.

import { describe, expect, it } from 'vitest';

import { Matrix, createOptimizer, loadState, saveState, stateBytes, stepMany, type Optimizer, type OptimizerState } from '../src/index.js';
import { RULES, type RuleName } from '../src/optim/defaults.js';
import { stateArraySpecs, stateValueKinds } from '../src/optim/state.js';
import { expectSameSnapshot, gradients, snapshot } from './optim-helpers.js';

type H = Record<string, unknown>;
type Backend = 'native' | 'reference';
const BACKENDS: Backend[] = ['native', 'reference'];

const opt = (name: RuleName, hyper: H = {}, backend: Backend = 'native'): Optimizer =>
  createOptimizer(name, hyper as never, { backend }) as Optimizer;

// ================================================================ crafting state files

// The format of src/optim/state.ts, written out again here (not imported) so that a crafted file
// is what an attacker or a buggy writer could produce: "SPECOPT1", u32 version, u32 header length,
// the JSON header, zero padding to 8, each array's bytes padded to 8, u32 CRC-32 of all before it.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
const pad8 = (n: number) => Math.ceil(n / 8) * 8;

/** A state file from a header (an object, or JSON text as is) and the arrays' bytes, with a correct CRC-32. */
function craft(header: unknown, blobs: Uint8Array[]): Uint8Array {
  const text = typeof header === 'string' ? new TextEncoder().encode(header) : header instanceof Uint8Array ? header : new TextEncoder().encode(JSON.stringify(header));
  const start = pad8(16 + text.length);
  const total = blobs.reduce((at, b) => at + pad8(b.length), start) + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode('SPECOPT1'), 0);
  view.setUint32(8, 1, true);
  view.setUint32(12, text.length, true);
  out.set(text, 16);
  let at = start;
  for (const b of blobs) {
    out.set(b, at);
    at += pad8(b.length);
  }
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

interface Entry {
  name: string;
  dtype: string;
  length: number;
}
interface Parsed {
  header: { rule: string; backend: string; rows: number; cols: number; step: number; values: H; arrays: Entry[] } & H;
  blobs: Uint8Array[];
}

/** The header and the arrays' bytes of a state file. */
function parse(bytes: Uint8Array): Parsed {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length))) as Parsed['header'];
  const blobs: Uint8Array[] = [];
  let at = pad8(16 + length);
  for (const e of header.arrays) {
    const size = e.length * (e.dtype === 'f64' ? 8 : 4);
    blobs.push(bytes.slice(at, at + size));
    at += pad8(size);
  }
  return { header, blobs };
}

/** A state file after `steps` updates, parsed (and the optimizer, parameter and gradients). */
function saved(name: RuleName, hyper: H, rows: number, cols: number, backend: Backend = 'native', steps = 3) {
  const o = opt(name, hyper, backend);
  const param = Matrix.randn(rows, cols, 11);
  const state = o.init(param);
  const grads = gradients(rows, cols, steps + 4, 5);
  for (let t = 0; t < steps; t++) o.step(param, grads[t]!, state);
  const bytes = saveState(state);
  return { o, param, state, grads, bytes, ...parse(bytes) };
}

/** The error `fn` throws (the test fails if it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, but the call returned');
}

/** fn throws an error of class E whose message matches `message` (which names the function and the field). */
function expectError(fn: () => unknown, E: ErrorConstructor, message: RegExp): void {
  const error = thrown(fn);
  expect(error, String(error)).toBeInstanceOf(E);
  expect(error.message).toMatch(message);
}

describe('the crafting helper', () => {
  it('reproduces saveState byte for byte (so a rejection below is due to the change made)', () => {
    for (const backend of BACKENDS) {
      for (const name of ['soap', 'shampoo', 'adam', 'galore-adamw'] as const) {
        const s = saved(name, name === 'galore-adamw' ? { rank: 2 } : {}, 4, 3, backend);
        expect(Buffer.from(craft(s.header, s.blobs)).equals(Buffer.from(s.bytes)), `${name} ${backend}`).toBe(true);
        expect(() => loadState(craft(s.header, s.blobs))).not.toThrow();
      }
    }
  });
});

// ================================================================ 1. the declarations

/** Hyperparameter variants per rule, together toggling every option that adds or removes a state array. */
const VARIANTS: Record<RuleName, (H | ((rows: number, cols: number) => H))[]> = {
  sgd: [{}, { momentum: 0.9 }, { momentum: 0.9, weightDecay: 0.1, decoupledWeightDecay: true, weightDecayNorm: 'spectral', spectralWarmStart: true }, { spectralPenalty: 0.01, spectralWarmStart: true }],
  signsgd: [{}, { momentum: 0.5 }, { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }],
  pbsgd: [{}, { momentum: 0.9 }, { spectralPenalty: 0.01, spectralWarmStart: true }],
  adagrad: [{}, { initialAccumulatorValue: 0.1 }, { spectralPenalty: 0.01 }],
  rmsprop: [{}, { centered: true }, { momentum: 0.9 }, { centered: true, momentum: 0.9, spectralPenalty: 0.01 }],
  adam: [{}, { amsgrad: true }, { spectralPenalty: 0.01 }],
  adamw: [{}, { amsgrad: true, weightDecayNorm: 'spectral', spectralWarmStart: true }],
  adafactor: [{}, { beta1: 0.9 }, { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }, { variant: 'torch' }, { variant: 'torch', weightDecay: 0.1 }],
  'adam-mini': [{}, { blocks: 'cols' }, { blocks: 'all' }, { blocks: 1 }, (rows) => ({ blocks: rows }), { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }],
  'sphere-sgd': [{}, { axis: 'rows', spectralPenalty: 0.01 }],
  muon: [{}, { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }],
  shampoo: [
    {},
    { betas: [0, 1] },
    { grafting: 'adagrad' },
    { grafting: 'adam', eps: 1 },
    { maxPreconditionerDim: 0 },
    (rows, cols) => ({ maxPreconditionerDim: Math.min(rows, cols) }),
    { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true },
  ],
  shampoo2: [
    {},
    { betas: [0, 1], grafting: 'sgd' },
    { grafting: 'adagrad', maxPreconditionerDim: 0 },
    (rows, cols) => ({ maxPreconditionerDim: Math.min(rows, cols) }),
    { spectralPenalty: 0.01, spectralWarmStart: true },
  ],
  'adagrad-full': [{}, { spectralPenalty: 0.01 }],
  'galore-adamw': [{}, { rank: 1 }, { rank: 2 }, { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }],
  soap: [{}, { maxPreconditionerDim: 0 }, (rows, cols) => ({ maxPreconditionerDim: Math.min(rows, cols) }), { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }],
  nadam: [{}, { weightDecay: 0.1, decoupledWeightDecay: true }, { spectralPenalty: 0.01 }],
  radam: [{}, { weightDecay: 0.1, spectralPenalty: 0.01 }],
  adamax: [{}, { weightDecay: 0.1, spectralPenalty: 0.01 }],
  adadelta: [{}, { weightDecay: 0.1, spectralPenalty: 0.01 }],
  rprop: [{}, { etas: [0.3, 1.5], spectralPenalty: 0.01 }],
  lion: [{}, { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }, { cautious: true, spectralPenalty: 0.01 }],
  ademamix: [{}, { beta3Warmup: 5, alphaWarmup: 5, weightDecay: 0.1 }, { cautious: true, cautiousFactor: 0.5, spectralPenalty: 0.01 }],
  // β₁ = 0 keeps no first moment (the reference's exp_avg only exists for β₁ > 0).
  prodigy: [{}, { betas: [0, 0.99] }, { weightDecay: 0.1, decouple: false, useBiasCorrection: true, spectralPenalty: 0.01 }],
  lamb: [{}, { weightDecay: 0.1, cautious: true, spectralPenalty: 0.01 }],
  'schedule-free-adamw': [{}, { warmupSteps: 2, r: 1, weightDecay: 0.1, spectralPenalty: 0.01 }],
  'schedule-free-sgd': [{}, { warmupSteps: 2, r: 1, weightDecay: 0.1, spectralPenalty: 0.01 }],
  normuon: [{}, { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true }, { nsCoefficients: 'polar-express' }],
};
const SHAPES: [number, number][] = [
  [1, 1],
  [1, 7],
  [7, 1],
  [4, 4],
  [6, 3],
  [3, 6],
];
const hyperOf = (v: H | ((rows: number, cols: number) => H), rows: number, cols: number) => (typeof v === 'function' ? v(rows, cols) : v);

describe('1. the state declarations match what init() and step() keep', () => {
  it.each(RULES.flatMap((name) => BACKENDS.map((b) => [name, b] as const)))('%s (%s)', (name, backend) => {
    const specs = stateArraySpecs(name, backend);
    const declared = specs.map((s) => s.name);
    const produced = new Set<string>();
    for (const [rows, cols] of SHAPES) {
      for (const variant of VARIANTS[name]) {
        const hyper = hyperOf(variant, rows, cols);
        const what = `${name} (${backend}) ${rows}x${cols} ${JSON.stringify(hyper)}`;
        const o = opt(name, hyper, backend);
        const param = Matrix.randn(rows, cols, 3);
        const state = o.init(param);
        const grads = gradients(rows, cols, 2, 4);
        for (const when of ['init', 'after 2 steps']) {
          if (when !== 'init') for (const g of grads) o.step(param, g, state);
          const names = Object.keys(state.arrays);
          names.forEach((n) => produced.add(n));
          // A subsequence of the declaration, in its order.
          const positions = names.map((n) => declared.indexOf(n));
          expect(positions.every((p) => p >= 0), `${what} ${when}: ${names} within ${declared}`).toBe(true);
          expect([...positions].sort((a, b) => a - b), `${what} ${when}: order of ${names}`).toEqual(positions);
          for (const s of specs) {
            const length = s.length(rows, cols);
            const a = state.arrays[s.name];
            if (a === undefined) {
              const optional = typeof s.optional === 'function' ? s.optional(rows, cols) : s.optional;
              expect(optional || length === null, `${what} ${when}: '${s.name}' is declared always present`).toBe(true);
              continue;
            }
            expect(length, `${what} ${when}: '${s.name}' is declared absent for this shape`).not.toBeNull();
            if (typeof length === 'number') expect(a.length, `${what}: length of ${s.name}`).toBe(length);
            else expect(length!.test(a.length), `${what}: length ${a.length} of ${s.name} against ${length!.what}`).toBe(true);
            expect(a.constructor, `${what}: dtype of ${s.name}`).toBe(backend === 'native' ? Float32Array : Float64Array);
          }
          // Values: exactly the declared ones, of their kinds.
          const kinds = stateValueKinds(name, backend);
          expect(Object.keys(state.values).sort(), `${what} ${when}: values`).toEqual(Object.keys(kinds).sort());
          for (const [k, kind] of Object.entries(kinds)) {
            const v = state.values[k];
            if (kind === 'boolean') expect(typeof v, `${what}: ${k}`).toBe('boolean');
            else if (kind === 'number') expect(Number.isFinite(v), `${what}: ${k} = ${v}`).toBe(true);
            else expect(Number.isSafeInteger(v) && (v as number) >= 0, `${what}: ${k} = ${v}`).toBe(true);
          }
          expect(() => loadState(saveState(state)), `${what} ${when}`).not.toThrow();
        }
      }
    }
    // No dead declarations: each declared array is kept by some variant and shape.
    expect(declared.filter((n) => !produced.has(n)), `${name} (${backend}): declared but never kept`).toEqual([]);
  });

  it('a concrete case: soap (native) on 4x3, init order = declared order', () => {
    const specs = stateArraySpecs('soap', 'native').map((s) => s.name);
    expect(specs.indexOf('leftStatistic')).toBeLessThan(specs.indexOf('leftBasis'));
    expect(Object.keys(opt('soap').init(Matrix.randn(4, 3, 1)).arrays)).toEqual(['expAvg', 'expAvgSq', 'leftStatistic', 'leftBasis', 'rightStatistic', 'rightBasis', 'info']);
  });
});

// ================================================================ 2. crafted files

describe('2. crafted state files with a correct checksum are rejected, naming the field', () => {
  /** The parsed adam state (3x4, native) to modify. */
  const base = () => saved('adam', {}, 3, 4);
  const load = (header: unknown, blobs: Uint8Array[]) => () => loadState(craft(header, blobs));
  const rejects = (header: unknown, blobs: Uint8Array[], message: RegExp) => expectError(load(header, blobs), RangeError, message);

  describe('reordered arrays (each buffer would get another one\'s bytes)', () => {
    it.each([
      ['soap', 'native', 'leftStatistic', 'leftBasis', 4, 4],
      ['soap', 'native', 'leftStatistic', 'rightStatistic', 4, 4],
      ['soap', 'native', 'expAvg', 'expAvgSq', 4, 4],
      ['soap', 'reference', 'L', 'R', 4, 4],
      ['soap', 'reference', 'L', 'QL', 4, 4],
      ['shampoo', 'native', 'leftStatistic', 'leftRoot', 4, 4],
      ['shampoo', 'native', 'leftStatistic', 'rightStatistic', 4, 4],
      ['shampoo', 'reference', 'L', 'Lroot', 4, 4],
      ['adam', 'native', 'expAvg', 'expAvgSq', 3, 4],
    ] as const)('%s (%s): %s and %s swapped', (name, backend, x, y, rows, cols) => {
      const s = saved(name, name === 'shampoo' ? { betas: [0.9, 0.99], eps: 1 } : {}, rows, cols, backend);
      const i = s.header.arrays.findIndex((e) => e.name === x);
      const j = s.header.arrays.findIndex((e) => e.name === y);
      expect(i >= 0 && j >= 0 && s.header.arrays[i]!.length === s.header.arrays[j]!.length).toBe(true);
      // The header's list swapped, the bytes left in place: the attack of the finding.
      const swapped = structuredClone(s.header);
      [swapped.arrays[i], swapped.arrays[j]] = [swapped.arrays[j]!, swapped.arrays[i]!];
      // The first entry out of order is the one after the moved-up y (x itself when they were adjacent).
      const message = new RegExp(`^loadState: header\\.arrays\\[${i + 1}\\] \\('(\\w+)'\\) is out of order: '\\1' comes before '${y}' in a ${name} \\(${backend}\\) state \\(order: `);
      rejects(swapped, s.blobs, message);
      if (j === i + 1) rejects(swapped, s.blobs, new RegExp(`^loadState: header\\.arrays\\[${j}\\] \\('${x}'\\)`));
      // Both swapped (a writer using another order): rejected too, the order is part of the format.
      const blobs = [...s.blobs];
      [blobs[i], blobs[j]] = [blobs[j]!, blobs[i]!];
      rejects(swapped, blobs, message);
    });
  });

  it('values: null, an array, a number, unknown keys', () => {
    const s = base();
    rejects({ ...s.header, values: null }, s.blobs, /^loadState: header\.values must be an object, got null/);
    rejects({ ...s.header, values: [] }, s.blobs, /^loadState: header\.values must be an object, got an array/);
    rejects({ ...s.header, values: 3 }, s.blobs, /^loadState: header\.values must be an object, got 3/);
    rejects({ ...s.header, values: { lr: 1 } }, s.blobs, /^loadState: header\.values has 'lr', which a adam \(native\) state does not hold \(it holds none\)/);
  });

  it('values of a reference state: missing, of the wrong kind, unknown', () => {
    const soap = saved('soap', {}, 4, 3, 'reference');
    expect(soap.header.values).toEqual({ adamSteps: 2, basesSet: true });
    rejects({ ...soap.header, values: { adamSteps: 2 } }, soap.blobs, /^loadState: header\.values\.basesSet is missing/);
    rejects({ ...soap.header, values: { adamSteps: 2, basesSet: 1 } }, soap.blobs, /^loadState: header\.values\.basesSet must be a boolean, got 1/);
    rejects({ ...soap.header, values: { adamSteps: -1, basesSet: true } }, soap.blobs, /^loadState: header\.values\.adamSteps must be a non-negative integer, got -1/);
    rejects({ ...soap.header, values: { adamSteps: 1.5, basesSet: true } }, soap.blobs, /^loadState: header\.values\.adamSteps must be a non-negative integer, got 1\.5/);
    rejects({ ...soap.header, values: { adamSteps: null, basesSet: true } }, soap.blobs, /^loadState: header\.values\.adamSteps must be a non-negative integer, got null/);
    rejects({ ...soap.header, values: { adamSteps: 2, basesSet: true, extra: 0 } }, soap.blobs, /^loadState: header\.values has 'extra'/);
    const shampoo = saved('shampoo', {}, 4, 3, 'reference');
    rejects({ ...shampoo.header, values: { rootsReady: 'yes', rootFailures: 0 } }, shampoo.blobs, /^loadState: header\.values\.rootsReady must be a boolean/);
    // Values in another order are the same values: accepted, and loaded in the declared order.
    const reordered = loadState(craft({ ...soap.header, values: { basesSet: true, adamSteps: 2 } }, soap.blobs));
    expect(Object.keys(reordered.values)).toEqual(['adamSteps', 'basesSet']);
  });

  it("dtypes: unknown ('f16', 'F32', 32), and the other backend's", () => {
    const s = base();
    for (const dtype of ['f16', 'F32', 32, null]) {
      const h = structuredClone(s.header);
      (h.arrays[0] as H).dtype = dtype;
      rejects(h, s.blobs, /^loadState: header\.arrays\[0\] \('expAvg'\)\.dtype must be 'f32' or 'f64', got /);
    }
    // f64 in a native state (with the bytes of 12 doubles).
    const h = structuredClone(s.header);
    h.arrays[0]!.dtype = 'f64';
    rejects(h, [new Uint8Array(12 * 8), s.blobs[1]!], /^loadState: header\.arrays\[0\] \('expAvg'\) must be 'f32' \(Float32Array\) in a native state, got 'f64'/);
    // f32 in a reference state.
    const r = saved('adam', {}, 3, 4, 'reference');
    const hr = structuredClone(r.header);
    hr.arrays[1]!.dtype = 'f32';
    rejects(hr, [r.blobs[0]!, new Uint8Array(12 * 4)], /^loadState: header\.arrays\[1\] \('v'\) must be 'f64' \(Float64Array\) in a reference state, got 'f32'/);
  });

  it("names that would reach Object.prototype: '__proto__', 'constructor', 'toString', 'hasOwnProperty'", () => {
    const s = base();
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      // In place of expAvg (same length), and added after the real ones.
      const replaced = structuredClone(s.header);
      replaced.arrays[0]!.name = name;
      rejects(replaced, s.blobs, new RegExp(`^loadState: header\\.arrays\\[0\\] \\('${name}'\\) is not an array a adam \\(native\\) state holds \\(it may hold: expAvg, expAvgSq, maxExpAvgSq\\)`));
      const added = structuredClone(s.header);
      added.arrays.push({ name, dtype: 'f32', length: 12 });
      rejects(added, [...s.blobs, new Uint8Array(48)], new RegExp(`^loadState: header\\.arrays\\[2\\] \\('${name}'\\) is not an array`));
    }
    expect(({} as H).expAvg).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it("no declared name is one of Object.prototype's (states are ordinary objects, for the step's speed)", () => {
    for (const name of RULES) {
      for (const backend of BACKENDS) {
        for (const s of stateArraySpecs(name, backend)) expect(s.name in Object.prototype || s.name === '__proto__', `${name} ${backend} ${s.name}`).toBe(false);
        for (const k of Object.keys(stateValueKinds(name, backend))) expect(k in Object.prototype, `${name} ${backend} ${k}`).toBe(false);
      }
    }
    const s = loadState(saved('soap', {}, 4, 3, 'reference').bytes);
    expect(Object.keys(s.arrays)).toEqual(['m', 'v', 'L', 'R', 'QL', 'QR']);
    expect(Object.keys(s.values)).toEqual(['adamSteps', 'basesSet']);
  });

  it('a duplicate name, an unknown name, a name of the other backend, a name the shape does not have', () => {
    const s = base();
    const dup = structuredClone(s.header);
    dup.arrays[1]!.name = 'expAvg';
    rejects(dup, s.blobs, /^loadState: header\.arrays\[1\] \('expAvg'\) appears twice/);
    const unknown = structuredClone(s.header);
    unknown.arrays[1]!.name = 'expAvgSquared';
    rejects(unknown, s.blobs, /^loadState: header\.arrays\[1\] \('expAvgSquared'\) is not an array a adam \(native\) state holds/);
    const other = structuredClone(s.header);
    other.arrays[0]!.name = 'm'; // the reference's name for it
    rejects(other, s.blobs, /^loadState: header\.arrays\[0\] \('m'\) is not an array/);
    // adafactor on a 1x7 vector keeps a full second moment (transformers) or the two factors
    // (variant 'torch', as torch factors every 2-D tensor): either loads; the first step of the
    // other variant refuses it.
    const v = saved('adafactor', {}, 1, 7);
    expect(v.header.arrays.map((e) => e.name)).toEqual(['expAvgSq']);
    const t = saved('adafactor', { variant: 'torch' }, 1, 7);
    expect(t.header.arrays.map((e) => e.name)).toEqual(['expAvgSqRow', 'expAvgSqCol']);
    const fromTorch = loadState(t.bytes);
    expect(() => v.o.step(t.param, t.grads[4]!, fromTorch)).toThrow(/^adafactor\.step: state\.arrays\.expAvgSqRow is not an array this optimizer uses/);
    rejects({ ...t.header, arrays: [{ name: 'expAvgSqRow', dtype: 'f32', length: 7 }, t.header.arrays[1]] }, t.blobs.length === 2 ? [new Uint8Array(28), t.blobs[1]!] : t.blobs, /^loadState: header\.arrays\[0\] \('expAvgSqRow'\) must have length 1 \(variant 'torch'\) for a 1x7 parameter, got 7/);
    // soap on a vector: no statistics or bases.
    const sv = saved('soap', {}, 1, 5);
    rejects({ ...sv.header, arrays: [...sv.header.arrays.slice(0, 2), { name: 'leftStatistic', dtype: 'f32', length: 1 }, sv.header.arrays[2]] }, [sv.blobs[0]!, sv.blobs[1]!, new Uint8Array(4), sv.blobs[2]!], /^loadState: header\.arrays\[2\] \('leftStatistic'\) is not an array a soap \(native\) state of a 1x5 parameter holds/);
  });

  it('a missing array every such state holds is rejected at load', () => {
    const s = base();
    rejects({ ...s.header, arrays: [s.header.arrays[0]] }, [s.blobs[0]!], /^loadState: header\.arrays lacks 'expAvgSq', which every adam \(native\) state of a 3x4 parameter holds/);
    const soap = saved('soap', {}, 4, 3);
    const noInfo = soap.header.arrays.filter((e) => e.name !== 'info');
    rejects({ ...soap.header, arrays: noInfo }, soap.blobs.slice(0, -1), /^loadState: header\.arrays lacks 'info'/);
    const ref = saved('soap', {}, 4, 3, 'reference');
    rejects({ ...ref.header, arrays: ref.header.arrays.filter((e) => e.name !== 'QR') }, ref.blobs.filter((_, i) => ref.header.arrays[i]!.name !== 'QR'), /^loadState: header\.arrays lacks 'QR'/);
  });

  it('wrong lengths, with matching bytes', () => {
    const s = base();
    const h = structuredClone(s.header);
    h.arrays[1]!.length = 11;
    rejects(h, [s.blobs[0]!, s.blobs[1]!.subarray(0, 44)], /^loadState: header\.arrays\[1\] \('expAvgSq'\) must have length 12 for a 3x4 parameter, got 11/);
    // shampoo's statistic of a 4x3 parameter is 4x4 (16), not 3x3.
    const sh = saved('shampoo', {}, 4, 3);
    const i = sh.header.arrays.findIndex((e) => e.name === 'leftStatistic');
    const hs = structuredClone(sh.header);
    hs.arrays[i]!.length = 9;
    const blobs = [...sh.blobs];
    blobs[i] = new Uint8Array(36);
    rejects(hs, blobs, new RegExp(`^loadState: header\\.arrays\\[${i}\\] \\('leftStatistic'\\) must have length 16 for a 4x3 parameter, got 9`));
    // Lengths hyperparameters choose: adam-mini's blocks on 6x4 may be 6, 4, 1, 2, 3; not 5.
    const am = saved('adam-mini', {}, 6, 4);
    for (const [length, ok] of [[6, true], [4, true], [1, true], [2, true], [3, true], [5, false], [12, false], [0, false]] as const) {
      const ha = structuredClone(am.header);
      ha.arrays[1]!.length = length;
      const run = load(ha, [am.blobs[0]!, new Uint8Array(4 * length)]);
      if (ok) expect(run, `adam-mini expAvgSq of ${length}`).not.toThrow();
      else expectError(run, RangeError, /^loadState: header\.arrays\[1\] \('expAvgSq'\) must have length 6 \(rows\), 4 \(cols\), 1 \(all\) or a divisor of 6 \(row groups\) for a 6x4 parameter, got/);
    }
    // galore-adamw on 6x4 (tall): the projector is r x 4 with r in 1..4, the moments 6 x r.
    const g = saved('galore-adamw', { rank: 2 }, 6, 4);
    expect(g.header.arrays.map((e) => [e.name, e.length])).toEqual([['projector', 8], ['expAvg', 12], ['expAvgSq', 12]]);
    for (const [length, ok] of [[4, true], [16, true], [6, false], [20, false]] as const) {
      const hg = structuredClone(g.header);
      hg.arrays[0]!.length = length;
      const run = load(hg, [new Uint8Array(4 * length), g.blobs[1]!, g.blobs[2]!]);
      if (ok) expect(run, `galore projector of ${length}`).not.toThrow();
      else expectError(run, RangeError, /^loadState: header\.arrays\[0\] \('projector'\) must have length a multiple of 4 from 4 to 16/);
    }
    // Negative and fractional lengths.
    for (const length of [-1, 1.5, '12', null]) {
      const hn = structuredClone(s.header) as H & { arrays: H[] };
      hn.arrays[0]!.length = length;
      rejects(hn, s.blobs, /^loadState: header\.arrays\[0\] \('expAvg'\)\.length must be a non-negative integer/);
    }
  });

  it('a header claiming a huge array does not get past the size check (no 32-bit wrap-around)', () => {
    // adagrad-full on 46341x1: its statistic is 46341² = 2147488281 floats, 8589953124 bytes. With
    // a 32-bit `(n + 7) & ~7` that padded size wraps to 18536, so 18536 bytes would have "fitted".
    const header = { rule: 'adagrad-full', backend: 'native', rows: 46341, cols: 1, step: 0, values: {}, arrays: [{ name: 'statistic', dtype: 'f32', length: 46341 ** 2 }] };
    rejects(header, [new Uint8Array(18536)], /^loadState: not a valid specopt optimizer state \(array 'statistic' runs past the end\)/);
  });

  it('rows and cols: 0, -1, 1.5, 1e20, a string, null, and rows·cols over 2³¹ − 1', () => {
    const s = base();
    for (const key of ['rows', 'cols'] as const) {
      for (const value of [0, -1, 1.5, 1e20, '3', null, true]) {
        rejects({ ...s.header, [key]: value }, s.blobs, new RegExp(`^loadState: header\\.${key} must be a positive integer, got `));
      }
    }
    rejects({ ...s.header, rows: 65536, cols: 65536 }, s.blobs, /^loadState: header\.rows x header\.cols is 65536x65536 = 4294967296 entries, more than 2147483647/);
    // A shape other than the arrays': their lengths say so (4x3 and 2x6 have 12 entries too, and load).
    rejects({ ...s.header, rows: 3, cols: 5 }, s.blobs, /^loadState: header\.arrays\[0\] \('expAvg'\) must have length 15 for a 3x5 parameter, got 12/);
    expect(loadState(craft({ ...s.header, rows: 4, cols: 3 }, s.blobs)).rows).toBe(4);
  });

  it('step: -1, 1.5, NaN (null in JSON), a string, 2⁵³', () => {
    const s = base();
    for (const value of [-1, 1.5, null, '3', 2 ** 53, 1e300]) {
      rejects({ ...s.header, step: value }, s.blobs, /^loadState: header\.step must be a non-negative integer, got /);
    }
  });

  it("rule and backend: unknown rule, a prototype name as rule, backend 'gpu'", () => {
    const s = base();
    for (const rule of ['not-a-rule', 'toString', '__proto__', 'Adam', 3, null]) {
      rejects({ ...s.header, rule }, s.blobs, /^loadState: header\.rule must be one of sgd, .*; got /);
    }
    for (const backend of ['gpu', 'Native', '', 1, null]) {
      rejects({ ...s.header, backend }, s.blobs, /^loadState: header\.backend must be 'native' or 'reference', got /);
    }
    // Another known rule: adamw's state has the same arrays (and loads), sgd's not.
    expect(loadState(craft({ ...s.header, rule: 'adamw' }, s.blobs)).rule).toBe('adamw');
    rejects({ ...s.header, rule: 'sgd' }, s.blobs, /^loadState: header\.arrays\[0\] \('expAvg'\) is not an array a sgd \(native\) state holds \(it may hold: momentumBuffer, spectralVector\)/);
    rejects({ ...s.header, backend: 'reference' }, s.blobs, /^loadState: header\.arrays\[0\] \('expAvg'\) is not an array a adam \(reference\) state holds \(it may hold: m, v, vmax, spectralVec\)/);
  });

  it('header keys: extra, missing, and a JSON array, null, a string or a number as the header', () => {
    const s = base();
    rejects({ ...s.header, extra: 1 }, s.blobs, /^loadState: header has an unknown key 'extra' \(known: rule, backend, rows, cols, step, values, arrays\)/);
    rejects({ ...s.header, hyper: {} }, s.blobs, /^loadState: header has an unknown key 'hyper'/);
    const text = JSON.stringify(s.header).replace(/^\{/, '{"__proto__":{"polluted":1},');
    rejects(text, s.blobs, /^loadState: header has an unknown key '__proto__'/);
    expect(({} as H).polluted).toBeUndefined();
    for (const key of ['rule', 'backend', 'rows', 'cols', 'step', 'values', 'arrays']) {
      const h = { ...s.header } as H;
      delete h[key];
      rejects(h, s.blobs, new RegExp(`^loadState: header\\.${key} is missing`));
    }
    for (const header of ['[]', 'null', '"adam"', '3', 'true', `[${JSON.stringify(s.header)}]`]) {
      rejects(header, s.blobs, /^loadState: the header must be a JSON object, got /);
    }
    rejects('{"rule": "adam",', s.blobs, /^loadState: not a valid specopt optimizer state \(unreadable header\)/);
    rejects(new Uint8Array([0x7b, 0xff, 0x7d]), s.blobs, /^loadState: not a valid specopt optimizer state \(unreadable header\)/);
  });

  it('the arrays list: not a list, entries that are not objects, extra or missing entry keys, a name that is not a string', () => {
    const s = base();
    for (const arrays of [null, {}, 'expAvg', 2]) rejects({ ...s.header, arrays }, s.blobs, /^loadState: header\.arrays must be a list of \{ name, dtype, length \}, got /);
    rejects({ ...s.header, arrays: [null, s.header.arrays[1]] }, s.blobs, /^loadState: header\.arrays\[0\] must be an object \{ name, dtype, length \}, got null/);
    rejects({ ...s.header, arrays: [['expAvg', 'f32', 12], s.header.arrays[1]] }, s.blobs, /^loadState: header\.arrays\[0\] must be an object/);
    rejects({ ...s.header, arrays: [{ ...s.header.arrays[0], offset: 0 }, s.header.arrays[1]] }, s.blobs, /^loadState: header\.arrays\[0\] has an unknown key 'offset'/);
    rejects({ ...s.header, arrays: [{ name: 'expAvg', dtype: 'f32' }, s.header.arrays[1]] }, s.blobs, /^loadState: header\.arrays\[0\] \('expAvg'\)\.length must be a non-negative integer, got undefined/);
    rejects({ ...s.header, arrays: [{ ...s.header.arrays[0], name: 7 }, s.header.arrays[1]] }, s.blobs, /^loadState: header\.arrays\[0\]\.name must be a string, got 7/);
  });

  it('every rejection is a RangeError starting "loadState:" (also for a header of the right shape but an empty arrays list)', () => {
    const s = base();
    expectError(load({ ...s.header, arrays: [] }, []), RangeError, /^loadState: header\.arrays lacks 'expAvg'/);
    // sphere-sgd keeps no arrays: an empty list is its state.
    const sp = saved('sphere-sgd', {}, 2, 3);
    expect(sp.header.arrays).toEqual([]);
    expect(() => loadState(craft(sp.header, []))).not.toThrow();
  });
});

// ================================================================ 3. legitimate states

describe('3. every legitimate state round-trips bit-exactly and steps identically after loading', () => {
  const ROUND_SHAPES: [number, number][] = [
    [1, 1],
    [1, 6],
    [6, 1],
    [4, 4],
    [5, 3],
    [3, 5],
  ];
  it.each(RULES.flatMap((name) => BACKENDS.map((b) => [name, b] as const)))('%s (%s)', (name, backend) => {
    for (const [rows, cols] of ROUND_SHAPES) {
      for (const variant of VARIANTS[name]) {
        const hyper = hyperOf(variant, rows, cols);
        const what = `${name} (${backend}) ${rows}x${cols} ${JSON.stringify(hyper)}`;
        for (const steps of [0, 3]) {
          const s = saved(name, hyper, rows, cols, backend, steps);
          const loaded = loadState(s.bytes);
          expectSameSnapshot(snapshot(s.param, s.state), snapshot(s.param, loaded), `${what} after ${steps}`);
          expect(Buffer.from(saveState(loaded)).equals(Buffer.from(s.bytes)), `${what}: saved again`).toBe(true);
          expect(stateBytes(loaded)).toBe(stateBytes(s.state));
          // The original and a new optimizer on the loaded state take the same steps.
          const param2 = Matrix.from(rows, cols, s.param.data);
          const o2 = opt(name, hyper, backend);
          for (let t = steps; t < steps + 2; t++) {
            s.o.step(s.param, s.grads[t]!, s.state);
            o2.step(param2, s.grads[t]!, loaded);
          }
          expectSameSnapshot(snapshot(s.param, s.state), snapshot(param2, loaded), `${what}: resumed`);
        }
      }
    }
  });
});

// ================================================================ 4. the first step

describe("4. the first step checks a state against the optimizer's exact layout", () => {
  /** A loaded state, the parameter and a gradient. */
  const loaded = (name: RuleName, hyper: H, backend: Backend = 'native', rows = 3, cols = 4) => {
    const s = saved(name, hyper, rows, cols, backend);
    return { ...s, loaded: loadState(s.bytes), grad: s.grads[3]! };
  };

  it('an optional array missing: accepted by loadState, rejected by the first step of an optimizer that keeps it', () => {
    for (const backend of BACKENDS) {
      const s = loaded('sgd', {}, backend);
      expect(Object.keys(s.loaded.arrays)).toEqual([]);
      const before = snapshot(s.param, s.loaded);
      expectError(() => opt('sgd', { momentum: 0.9 }, backend).step(s.param, s.grad, s.loaded), RangeError, /^sgd\.step: state\.arrays lacks 'momentumBuffer' \(sgd \(\w+\) with these hyperparameters keeps momentumBuffer\); was the state made with other hyperparameters\?/);
      expectSameSnapshot(before, snapshot(s.param, s.loaded), backend);
    }
  });

  it('an extra array: rejected by the first step of an optimizer that does not keep it', () => {
    for (const backend of BACKENDS) {
      const s = loaded('sgd', { momentum: 0.9 }, backend);
      expectError(() => opt('sgd', {}, backend).step(s.param, s.grad, s.loaded), RangeError, /^sgd\.step: state\.arrays\.momentumBuffer is not an array this optimizer uses \(sgd \(\w+\) with these hyperparameters keeps (no arrays|spectralVec \(optional\))\)/);
      const a = loaded('adam', { amsgrad: true }, backend);
      expectError(() => opt('adam', {}, backend).step(a.param, a.grad, a.loaded), RangeError, /^adam\.step: state\.arrays\.(maxExpAvgSq|vmax) is not an array this optimizer uses/);
    }
  });

  it('native spectralVector: required by a warm-start optimizer, refused by one without', () => {
    const warm = { weightDecay: 0.1, weightDecayNorm: 'spectral', spectralWarmStart: true };
    const w = loaded('adamw', warm);
    expectError(() => opt('adamw', { weightDecay: 0.1, weightDecayNorm: 'spectral' }).step(w.param, w.grad, w.loaded), RangeError, /^adamw\.step: state\.arrays\.spectralVector is not an array this optimizer uses/);
    const c = loaded('adamw', { weightDecay: 0.1, weightDecayNorm: 'spectral' });
    expectError(() => opt('adamw', warm).step(c.param, c.grad, c.loaded), RangeError, /^adamw\.step: state\.arrays lacks 'spectralVector'/);
  });

  it('reference spectralVec: only for an optimizer that computes rank1(W)', () => {
    const s = loaded('adam', { spectralPenalty: 0.01 }, 'reference');
    expect(Object.keys(s.loaded.arrays)).toContain('spectralVec');
    expectError(() => opt('adam', {}, 'reference').step(s.param, s.grad, s.loaded), RangeError, /^adam\.step: state\.arrays\.spectralVec is not an array this optimizer uses/);
    expect(() => opt('adam', { spectralPenalty: 0.02 }, 'reference').step(s.param, s.grad, s.loaded)).not.toThrow();
  });

  it("galore-adamw: a state of another rank (plausible at load) is refused at the step, naming the buffer", () => {
    const s = loaded('galore-adamw', { rank: 2 }, 'native', 6, 4);
    expectError(() => opt('galore-adamw', { rank: 3 }).step(s.param, s.grad, s.loaded), RangeError, /^galore-adamw\.step: state buffer 'projector' must be a Float32Array of 12, got a Float32Array of 8/);
  });

  it('reference values changed after loading: the step names the value', () => {
    const s = loaded('soap', {}, 'reference', 4, 3);
    const o = opt('soap', {}, 'reference');
    for (const [values, E, message] of [
      [{ adamSteps: 2, basesSet: 'yes' }, TypeError, /^soap\.step: state\.values\.basesSet must be a boolean, got 'yes'/],
      [{ adamSteps: -2, basesSet: true }, RangeError, /^soap\.step: state\.values\.adamSteps must be a non-negative integer, got -2/],
      [{ adamSteps: 2 }, RangeError, /^soap\.step: state\.values\.basesSet is missing/],
      [{ adamSteps: 2, basesSet: true, extra: 1 }, RangeError, /^soap\.step: state\.values has 'extra'/],
      [null, TypeError, /^soap\.step: state\.values must be an object, got null/],
    ] as const) {
      expectError(() => o.step(s.param, s.grad, { ...s.loaded, values: values as never }), E, message);
    }
    const n = loaded('adam', {});
    expectError(() => opt('adam').step(n.param, n.grad, { ...n.loaded, values: { x: 1 } }), RangeError, /^adam\.step: state\.values has 'x', which a adam \(native\) state does not hold/);
  });
});

// ================================================================ 5. finding 4: errors that name the function

describe('5. saveState, stateBytes: bad states give errors naming the function and the field', () => {
  const fresh = (name: RuleName = 'adam', backend: Backend = 'native') => opt(name, {}, backend).init(Matrix.randn(3, 4, 1));
  const both = (make: () => unknown, E: ErrorConstructor, field: string) => {
    for (const fn of [saveState, stateBytes] as const) {
      expectError(() => fn(make() as OptimizerState), E, new RegExp(`^${fn.name}: ${field}`));
    }
  };

  it('not a state: null, undefined, a number, a string, an array', () => {
    for (const bad of [null, undefined, 3, 'state', []]) both(() => bad, TypeError, 'state must be an optimizer state from init\\(\\) or loadState\\(\\), got ');
  });

  it('arrays: null, a number, an array', () => {
    for (const arrays of [null, 3, []]) both(() => ({ ...fresh(), arrays }), TypeError, 'state\\.arrays must be an object of Float32Array/Float64Array by name, got ');
  });

  it('a detached array', () => {
    const s = fresh();
    structuredClone(s.arrays.expAvg!.buffer, { transfer: [s.arrays.expAvg!.buffer] });
    both(() => s, RangeError, "state\\.arrays\\.expAvg is empty \\(its ArrayBuffer is detached\\?\\)");
  });

  it('an array of the wrong type: Int32Array, a plain array, a Float64Array in a native state, a Float32Array in a reference one', () => {
    for (const bad of [new Int32Array(12), Array.from({ length: 12 }, () => 0), new Uint8Array(48), null]) {
      both(() => ({ ...fresh(), arrays: { ...fresh().arrays, expAvg: bad } }), TypeError, 'state\\.arrays\\.expAvg must be a Float32Array or Float64Array, got ');
    }
    both(() => ({ ...fresh(), arrays: { ...fresh().arrays, expAvg: new Float64Array(12) } }), TypeError, "state\\.arrays\\.expAvg must be 'f32' \\(Float32Array\\) in a native state, got 'f64'");
    const r = fresh('adam', 'reference');
    both(() => ({ ...r, arrays: { ...r.arrays, m: new Float32Array(12) } }), TypeError, "state\\.arrays\\.m must be 'f64' \\(Float64Array\\) in a reference state, got 'f32'");
  });

  it('an unknown array, a prototype name, a missing array, a wrong length', () => {
    both(() => ({ ...fresh(), arrays: { ...fresh().arrays, foo: new Float32Array(12) } }), RangeError, 'state\\.arrays\\.foo is not an array a adam \\(native\\) state holds');
    const proto = fresh();
    Object.defineProperty(proto.arrays, '__proto__', { value: new Float32Array(12), enumerable: true });
    both(() => proto, RangeError, 'state\\.arrays\\.__proto__ is not an array');
    const { expAvgSq: _, ...missing } = fresh().arrays;
    both(() => ({ ...fresh(), arrays: missing }), RangeError, "state\\.arrays lacks 'expAvgSq'");
    both(() => ({ ...fresh(), arrays: { ...fresh().arrays, expAvg: new Float32Array(11) } }), RangeError, 'state\\.arrays\\.expAvg must have length 12 for a 3x4 parameter, got 11');
  });

  it('step: 1.5, -1, NaN, a bigint, a string; rows, rule, backend, values', () => {
    for (const step of [1.5, -1, NaN, Infinity]) both(() => ({ ...fresh(), step }), RangeError, 'state\\.step must be a non-negative integer, got ');
    for (const step of [1n, '1', null]) both(() => ({ ...fresh(), step }), TypeError, 'state\\.step must be a non-negative integer, got ');
    both(() => ({ ...fresh(), rows: 0 }), RangeError, 'state\\.rows must be a positive integer, got 0');
    both(() => ({ ...fresh(), rule: 'not-a-rule' }), RangeError, 'state\\.rule must be one of ');
    both(() => ({ ...fresh(), backend: 'gpu' }), RangeError, "state\\.backend must be 'native' or 'reference'");
    both(() => ({ ...fresh(), values: null }), TypeError, 'state\\.values must be an object, got null');
    both(() => ({ ...fresh(), values: { x: 1 } }), RangeError, "state\\.values has 'x'");
  });

  it('arrays on a SharedArrayBuffer are saved (a copy of their bytes); keys in another order are saved in canonical order', () => {
    const o = opt('adam');
    const p = Matrix.randn(3, 4, 1);
    const s = o.init(p);
    o.step(p, Matrix.randn(3, 4, 2), s);
    const bytes = saveState(s);
    const shared: Record<string, Float32Array> = {};
    // Reversed insertion order, on shared memory.
    for (const name of Object.keys(s.arrays).reverse()) {
      const a = new Float32Array(new SharedArrayBuffer(s.arrays[name]!.byteLength));
      a.set(s.arrays[name]!);
      shared[name] = a;
    }
    expect(Object.keys(shared)).toEqual(['expAvgSq', 'expAvg']);
    const again = saveState({ ...s, arrays: shared });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    expect(stateBytes({ ...s, arrays: shared })).toBe(96);
  });
});

describe('5. createOptimizer, init, step, stepMany: errors naming the function and the argument', () => {
  it('createOptimizer: hyperparameters of the wrong type, unknown, prototype names, getters that throw, non-plain objects', () => {
    const cases: [unknown, ErrorConstructor, RegExp][] = [
      [{ lr: '0.1' }, TypeError, /^createOptimizer: adam: lr must be a number, got string/],
      [{ learningRate: 0.1 }, TypeError, /^createOptimizer: adam: unknown hyperparameter 'learningRate'/],
      [{ constructor: 1 }, TypeError, /^createOptimizer: adam: unknown hyperparameter 'constructor'/],
      [{ toString: 'x' }, TypeError, /^createOptimizer: adam: unknown hyperparameter 'toString'/],
      [JSON.parse('{"__proto__": {"lr": 5}}'), TypeError, /^createOptimizer: adam: unknown hyperparameter '__proto__'/],
      [{ lr: -1 }, RangeError, /^createOptimizer: adam: lr must be in \[0, Infinity\), got -1/],
      [Object.defineProperty({}, 'lr', { get: () => { throw new Error('boom'); }, enumerable: true }), TypeError, /^createOptimizer: adam: hyperparameters could not be read \(boom\)/],
      [new Map([['lr', 0.1]]), TypeError, /^createOptimizer: adam: hyperparameters must be a plain object, got an instance of Map/],
      [Matrix.randn(1, 1, 1), TypeError, /^createOptimizer: adam: hyperparameters must be a plain object, got an instance of Matrix/],
      [null, TypeError, /^createOptimizer: adam: hyperparameters must be a plain object, got null/],
      [0.1, TypeError, /^createOptimizer: adam: hyperparameters must be a plain object, got number/],
    ];
    for (const backend of BACKENDS) {
      for (const [hyper, E, message] of cases) expectError(() => createOptimizer('adam', hyper as never, { backend }), E, message);
    }
    expect(() => opt('adam', Object.create(null))).not.toThrow();
    expect(() => opt('adam', Object.freeze({ lr: 0.1 }))).not.toThrow();
  });

  it('createOptimizer: the rule and the options', () => {
    expectError(() => createOptimizer(42 as never), TypeError, /^createOptimizer: unknown rule number 42/);
    expectError(() => createOptimizer('toString' as never), TypeError, /^createOptimizer: unknown rule string toString/);
    expectError(() => createOptimizer('adam', {}, { backnd: 'reference' } as never), TypeError, /^createOptimizer: options: unknown option 'backnd'/);
    expectError(() => createOptimizer('adam', {}, 'reference' as never), TypeError, /^createOptimizer: options must be an options object/);
    expectError(() => createOptimizer('adam', {}, { backend: 'gpu' } as never), TypeError, /^createOptimizer: options\.backend must be 'native' \| 'reference', got string gpu/);
  });

  it('init: param, and the shape checks of the rule', () => {
    for (const backend of BACKENDS) {
      for (const bad of [null, undefined, {}, { rows: 2, cols: 2, data: new Float64Array(4) }]) {
        expectError(() => opt('adam', {}, backend).init(bad as never), TypeError, /^adam\.init: param/);
      }
      expectError(() => opt('adam-mini', { blocks: 3 }, backend).init(Matrix.randn(8, 8, 1)), RangeError, /^adam-mini\.init: blocks = 3 row groups must divide the parameter's 8 rows/);
    }
  });

  describe('step', () => {
    const setup = (backend: Backend) => {
      const o = opt('adam', {}, backend);
      const param = Matrix.randn(3, 4, 1);
      const state = o.init(param);
      const grad = Matrix.randn(3, 4, 2);
      return { o, param, state, grad };
    };

    it('a state whose arrays are null, a number or missing; a state that is not an object', () => {
      for (const backend of BACKENDS) {
        const { o, param, state, grad } = setup(backend);
        for (const arrays of [null, 3, undefined]) {
          expectError(() => o.step(param, grad, { ...state, arrays } as never), TypeError, /^adam\.step: state\.arrays must be an object of the state's buffers by name, got /);
        }
        for (const bad of [null, 3, 'state', []]) expectError(() => o.step(param, grad, bad as never), TypeError, /^adam\.step: state must be an optimizer state/);
      }
    });

    it('state.arrays replaced by null after the state was checked (step and a reused stepMany plan)', () => {
      for (const backend of BACKENDS) {
        const { o, param, state, grad } = setup(backend);
        o.step(param, grad, state);
        const arrays = state.arrays;
        (state as { arrays: unknown }).arrays = null;
        expectError(() => o.step(param, grad, state), TypeError, /^adam\.step: state\.arrays must be an object/);
        (state as { arrays: unknown }).arrays = arrays;
        const es = [{ optimizer: o, param, grad, state }, { optimizer: o, param: Matrix.randn(2, 2, 3), grad: Matrix.randn(2, 2, 4), state: o.init(Matrix.randn(2, 2, 3)) }];
        stepMany(es);
        stepMany(es); // the plan is reused from here on
        (state as { arrays: unknown }).arrays = null;
        expectError(() => stepMany(es), TypeError, /^stepMany: entry 0 \(adam\): state\.arrays must be an object/);
      }
    });

    it('state.step: 1.5, -1, NaN, a bigint, a string', () => {
      for (const backend of BACKENDS) {
        const { o, param, state, grad } = setup(backend);
        for (const step of [1.5, -1, NaN]) expectError(() => o.step(param, grad, { ...state, step }), RangeError, /^adam\.step: state\.step must be a non-negative integer, got /);
        for (const step of [1n, '1']) expectError(() => o.step(param, grad, { ...state, step } as never), TypeError, /^adam\.step: state\.step must be a non-negative integer, got /);
        // Changed after the state was checked: the step's own check still sees it.
        o.step(param, grad, state);
        state.step = 2.5;
        expectError(() => o.step(param, grad, state), RangeError, /^adam\.step: state\.step must be a non-negative integer, got 2\.5/);
      }
    });

    it('a detached, a wrong-type and a shared state array', () => {
      const { o, param, state, grad } = setup('native');
      const detached = { ...state, arrays: { ...state.arrays, expAvg: new Float32Array(12) } };
      structuredClone(detached.arrays.expAvg.buffer, { transfer: [detached.arrays.expAvg.buffer] });
      expectError(() => o.step(param, grad, detached), RangeError, /^adam\.step: state buffer 'expAvg' must be a Float32Array of 12, got a Float32Array of 0 \(its ArrayBuffer is detached\?\)/);
      expectError(() => o.step(param, grad, { ...state, arrays: { ...state.arrays, expAvg: new Float64Array(12) } }), RangeError, /^adam\.step: state buffer 'expAvg' must be a Float32Array of 12, got a Float64Array of 12/);
      expectError(() => o.step(param, grad, { ...state, arrays: { ...state.arrays, expAvg: [] as never } }), RangeError, /^adam\.step: state buffer 'expAvg' must be a Float32Array of 12, got an array of length 0/);
      const r = setup('reference');
      expectError(() => r.o.step(r.param, r.grad, { ...r.state, arrays: { ...r.state.arrays, m: new Float32Array(12) } }), RangeError, /^adam\.step: state buffer 'm' must be a Float64Array of 12, got a Float32Array of 12/);
      // State arrays on a SharedArrayBuffer step like ordinary ones.
      const p2 = Matrix.from(3, 4, param.data);
      const shared: Record<string, Float32Array> = {};
      for (const [k, a] of Object.entries(state.arrays)) {
        shared[k] = new Float32Array(new SharedArrayBuffer(a.byteLength));
        shared[k].set(a);
      }
      const s2 = { ...state, arrays: shared };
      o.step(param, grad, state);
      o.step(p2, grad, s2);
      expectSameSnapshot(snapshot(param, state), snapshot(p2, s2), 'shared');
    });

    it("the rule's own step errors (reference and native) start with the step's name", () => {
      const param = new Matrix(2, 2, new Float32Array(4));
      const r = opt('sphere-sgd', {}, 'reference');
      expectError(() => r.step(param, Matrix.randn(2, 2, 1), r.init(param)), RangeError, /^sphere-sgd\.step: a zero vector cannot be projected onto the sphere/);
      const n = opt('sphere-sgd');
      expectError(() => n.step(param, Matrix.randn(2, 2, 1), n.init(param)), RangeError, /^sphere-sgd\.step: vector 0 of the parameter is zero/);
      const q = Matrix.randn(2, 2, 3);
      const es = [
        { optimizer: opt('adam'), param: q, grad: Matrix.randn(2, 2, 1), state: opt('adam').init(q) },
        { optimizer: r, param, grad: Matrix.randn(2, 2, 1), state: r.init(param) },
        { optimizer: n, param: new Matrix(2, 2, new Float32Array(4)), grad: Matrix.randn(2, 2, 1), state: n.init(param) },
      ];
      expectError(() => stepMany(es), RangeError, /^stepMany: entry 1 \(sphere-sgd\): a zero vector/);
      expectError(() => stepMany([es[0]!, es[2]!]), RangeError, /^stepMany: entry 1 \(sphere-sgd\): vector 0 of the parameter is zero/);
    });
  });

  describe('stepMany', () => {
    it('entries: not an array, null, {}, entries without an optimizer', () => {
      for (const bad of [null, undefined, 3, {}]) expectError(() => stepMany(bad as never), TypeError, /^stepMany: entries must be an array, got /);
      expectError(() => stepMany([null] as never), TypeError, /^stepMany: entry 0 must be an object \{ optimizer, param, grad, state \}, got null/);
      expectError(() => stepMany([undefined] as never), TypeError, /^stepMany: entry 0 must be an object/);
      expectError(() => stepMany([{}] as never), TypeError, /^stepMany: entry 0: optimizer must come from createOptimizer, got undefined/);
      const o = opt('adam');
      const p = Matrix.randn(2, 2, 1);
      const e = { optimizer: o, param: p, grad: Matrix.randn(2, 2, 2), state: o.init(p) };
      expectError(() => stepMany([e, 7] as never), TypeError, /^stepMany: entry 1 must be an object/);
    });

    it('a one-entry stepMany names stepMany and the entry (not step)', () => {
      const o = opt('adam');
      const p = Matrix.randn(2, 2, 1);
      const state = o.init(p);
      expectError(() => stepMany([{ optimizer: o, param: p, grad: Matrix.randn(2, 3, 2), state }]), RangeError, /^stepMany: entry 0 \(adam\): grad must be 2x2/);
      expectError(() => stepMany([{ optimizer: o, param: p, grad: Matrix.randn(2, 2, 2), state: { ...state, arrays: null } as never }]), TypeError, /^stepMany: entry 0 \(adam\): state\.arrays must be an object/);
      expectError(() => o.step(p, Matrix.randn(2, 3, 2), state), RangeError, /^adam\.step: grad must be 2x2/);
    });
  });
});
