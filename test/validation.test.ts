// Bad input: every public function rejects it in TS with a precise message, the native boundary
// rejects it again when TS is bypassed, and a failed call leaves `out` untouched.
import { describe, expect, it } from 'vitest';

import {
  Matrix,
  eigh,
  eighAsync,
  matmul,
  matmulAsync,
  powerIteration,
  qr,
  qrAsync,
  setNumThreads,
  spectralNorm,
  svd,
  svdAsync,
  truncatedSvd,
  truncatedSvdAsync,
} from '../src/index.js';
import { native } from '../src/native.js';

function detached(length: number): Float32Array {
  const array = new Float32Array(length);
  structuredClone(array.buffer, { transfer: [array.buffer] });
  return array;
}

const good = Matrix.randn(3, 4, 1);
const shortData = { rows: 3, cols: 4, data: new Float32Array(5) };
const wrongType = { rows: 3, cols: 4, data: new Float64Array(12) };
const plainArray = { rows: 3, cols: 4, data: Array(12).fill(0) };
const detachedMatrix = { rows: 3, cols: 4, data: detached(12) };

describe('Matrix construction', () => {
  it('rejects bad sizes with RangeError/TypeError naming the argument', () => {
    expect(() => new Matrix(-1, 2)).toThrow(RangeError);
    expect(() => new Matrix(-1, 2)).toThrow(/Matrix: rows must be a non-negative integer, got -1/);
    expect(() => new Matrix(2.5, 2)).toThrow(/Matrix: rows .* got 2.5/);
    expect(() => new Matrix(2, NaN)).toThrow(/Matrix: cols/);
    expect(() => new Matrix('2' as unknown as number, 2)).toThrow(TypeError);
    expect(() => new Matrix(65536, 65536)).toThrow(/65536x65536 has 4294967296 elements/);
  });

  it('requires data to be a Float32Array of exactly rows*cols', () => {
    expect(() => new Matrix(2, 3, new Float32Array(5))).toThrow(/must have 2x3 = 6 elements, got 5/);
    expect(() => new Matrix(2, 3, new Float64Array(6) as unknown as Float32Array)).toThrow(
      /must be a Float32Array, got a Float64Array/,
    );
    expect(() => new Matrix(2, 3, detached(6))).toThrow(/got 0 \(detached buffer\?\)/);
    const data = new Float32Array(6);
    expect(new Matrix(2, 3, data).data).toBe(data); // used without copying
  });

  it('Matrix.from copies and checks length; get/set check bounds', () => {
    expect(() => Matrix.from(2, 2, [1, 2, 3])).toThrow(/must have 2x2 = 4 elements, got 3/);
    const m = Matrix.from(2, 2, [1, 2, 3, 4]);
    expect(m.get(1, 0)).toBe(3);
    expect(() => m.get(2, 0)).toThrow(/index \(2, 0\) is outside 2x2/);
    expect(() => m.set(0, -1, 1)).toThrow(RangeError);
    expect(() => m.get(0.5, 0)).toThrow(RangeError);
  });

  it('randn is reproducible per seed and eye is the identity', () => {
    expect(Matrix.randn(4, 5, 7).data).toEqual(Matrix.randn(4, 5, 7).data);
    expect(Matrix.randn(4, 5, 7).data).not.toEqual(Matrix.randn(4, 5, 8).data);
    expect(Matrix.eye(3).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const t = Matrix.from(2, 3, [1, 2, 3, 4, 5, 6]).transpose();
    expect(t.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });
});

// Every routine that takes a matrix, called with `bad` in that position.
const routines: Array<[string, (bad: unknown) => unknown]> = [
  ['matmul: a', (bad) => matmul(bad as Matrix, Matrix.randn(4, 2, 1))],
  ['matmul: b', (bad) => matmul(Matrix.randn(2, 3, 1), bad as Matrix)],
  ['eigh: s', (bad) => eigh(bad as Matrix)],
  ['svd: a', (bad) => svd(bad as Matrix)],
  ['qr: a', (bad) => qr(bad as Matrix)],
  ['truncatedSvd: a', (bad) => truncatedSvd(bad as Matrix, 1)],
  ['powerIteration: a', (bad) => powerIteration(bad as Matrix)],
  ['spectralNorm: a', (bad) => spectralNorm(bad as Matrix)],
];

describe.each(routines)('%s', (name, call) => {
  it('rejects non-matrices and malformed data with the argument named', () => {
    expect(() => call(undefined)).toThrow(TypeError);
    expect(() => call(undefined)).toThrow(`${name} must be a Matrix, got undefined`);
    expect(() => call(shortData)).toThrow(RangeError);
    expect(() => call(shortData)).toThrow(`${name}.data must have 3x4 = 12 elements, got 5`);
    expect(() => call(wrongType)).toThrow(`${name}.data must be a Float32Array, got a Float64Array`);
    expect(() => call(plainArray)).toThrow(`${name}.data must be a Float32Array, got an array of length 12`);
    expect(() => call(detachedMatrix)).toThrow(/got 0 \(detached buffer\?\)/);
    expect(() => call({ rows: -3, cols: 4, data: new Float32Array(12) })).toThrow(`${name}.rows must be a non-negative integer, got -3`);
    expect(() => call({ rows: 3, cols: 1.5, data: new Float32Array(12) })).toThrow(RangeError);
    expect(() => call({ rows: 2 ** 20, cols: 2 ** 12, data: new Float32Array(1) })).toThrow(/has 4294967296 elements/);
  });
});

describe('matmul shapes and out', () => {
  it('names both shapes when inner dimensions differ', () => {
    const a = Matrix.randn(2, 3, 1);
    expect(() => matmul(a, a)).toThrow('matmul: cannot multiply a (2x3) by b (2x3): inner dimensions 3 and 2 differ');
    expect(() => matmul(a, a, { transB: true })).not.toThrow();
    expect(() => matmul(a, a, { transA: true, transB: true })).toThrow(/aᵀ \(3x2\) by bᵀ \(3x2\)/);
  });

  it('rejects an out of the wrong shape and writes nothing to it', () => {
    const a = Matrix.randn(2, 3, 1);
    const b = Matrix.randn(3, 4, 2);
    const out = Matrix.from(4, 2, Array(8).fill(7));
    expect(() => matmul(a, b, { out })).toThrow('matmul: out must be 2x4, got 4x2');
    expect(Array.from(out.data)).toEqual(Array(8).fill(7));
  });

  it('rejects unknown options and bad option types', () => {
    const a = Matrix.randn(2, 2, 1);
    expect(() => matmul(a, a, { transpose: true } as never)).toThrow(/unknown option 'transpose'/);
    expect(() => matmul(a, a, { alpha: '2' } as never)).toThrow('matmul: alpha must be a number, got string 2');
    expect(() => matmul(a, a, { alpha: Infinity })).toThrow(RangeError);
    expect(() => matmul(a, a, { transA: 1 } as never)).toThrow(TypeError);
  });

  it('works on empty shapes', () => {
    expect(matmul(new Matrix(0, 3), new Matrix(3, 2)).rows).toBe(0);
    const c = matmul(new Matrix(2, 0), new Matrix(0, 3));
    expect(Array.from(c.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('decomposition-specific checks', () => {
  it('eigh needs a square matrix', () => {
    expect(() => eigh(Matrix.randn(2, 3, 1))).toThrow('eigh: s must be square, got 2x3');
  });

  it('NaN and Infinity give RangeError from eigh, svd, qr, truncatedSvd and powerIteration', () => {
    const nan = Matrix.from(2, 2, [1, 0, NaN, 1]);
    const inf = Matrix.from(2, 2, [1, 0, Infinity, 1]);
    for (const m of [nan, inf]) {
      expect(() => eigh(m)).toThrow(/eigh: input contains NaN or Infinity/);
      expect(() => svd(m)).toThrow(/svd: input contains NaN or Infinity/);
      expect(() => qr(m)).toThrow(/qr: input contains NaN or Infinity/);
      expect(() => truncatedSvd(m, 1)).toThrow(/truncatedSvd: input contains NaN or Infinity/);
      expect(() => powerIteration(m)).toThrow(/powerIteration: input contains NaN or Infinity/);
      expect(() => eigh(m)).toThrow(RangeError);
    }
    // eigh reads the lower triangle only: NaN above the diagonal is not an error.
    expect(eigh(Matrix.from(2, 2, [2, NaN, 0, 3])).values).toEqual(new Float32Array([2, 3]));
  });

  it('truncatedSvd checks k and its options', () => {
    const a = Matrix.randn(5, 3, 1);
    expect(() => truncatedSvd(a, 4)).toThrow('truncatedSvd: k must be at most min(rows, cols) = 3, got 4');
    expect(() => truncatedSvd(a, -1)).toThrow(RangeError);
    expect(() => truncatedSvd(a, 1, { method: 'lanczos' } as never)).toThrow(/method must be 'randomized' \| 'exact'/);
    expect(() => truncatedSvd(a, 1, { powerIters: 1.5 })).toThrow(RangeError);
    expect(() => truncatedSvd(a, 1, { iters: 3 } as never)).toThrow(/unknown option 'iters'/);
  });

  it('powerIteration checks init against the scheme', () => {
    const a = Matrix.randn(5, 3, 1);
    expect(() => powerIteration(a, { init: new Float32Array(3) })).toThrow(
      "powerIteration: init (scheme 'alternating') must have 1x5 = 5 elements, got 3",
    );
    expect(() => powerIteration(a, { scheme: 'gram', init: new Float32Array(3) })).not.toThrow();
    expect(() => powerIteration(a, { init: new Float32Array([1, 1, NaN, 1, 1]) })).toThrow(/init contains NaN/);
    expect(() => powerIteration(a, { iters: -1 })).toThrow(RangeError);
    expect(() => spectralNorm(a, { method: 'exact' } as never)).toThrow(TypeError);
  });

  it('setNumThreads checks its argument', () => {
    expect(() => setNumThreads(0)).toThrow(RangeError);
    expect(() => setNumThreads(1.5)).toThrow(RangeError);
  });
});

describe('async twins reject bad input with the caller in the stack', () => {
  it.each([
    ['matmulAsync', () => matmulAsync(shortData as never, good)],
    ['eighAsync', () => eighAsync(good)],
    ['svdAsync', () => svdAsync(wrongType as never)],
    ['qrAsync', () => qrAsync(detachedMatrix as never)],
    ['truncatedSvdAsync', () => truncatedSvdAsync(good, 9)],
  ])('%s', async (name, call) => {
    const error = await call().then(() => null, (e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toContain(name);
    expect(error!.stack).toContain('validation.test.ts');
  });

  it('a LAPACK-side failure (NaN input) rejects with RangeError and a stack from the caller', async () => {
    const error = await svdAsync(Matrix.from(1, 2, [NaN, 1])).then(() => null, (e: Error) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect(error!.message).toBe('svdAsync: input contains NaN or Infinity');
    expect(error!.stack).toContain('validation.test.ts');
  });

  it('a failed matmulAsync leaves out untouched', async () => {
    const out = Matrix.from(2, 2, [5, 5, 5, 5]);
    await expect(matmulAsync(Matrix.randn(2, 3, 1), Matrix.randn(2, 2, 1), { out })).rejects.toThrow(RangeError);
    expect(Array.from(out.data)).toEqual([5, 5, 5, 5]);
  });
});

describe('the native boundary checks again when TS is bypassed', () => {
  const addon = native.addon as unknown as Record<string, (...args: unknown[]) => unknown>;
  const f = (n: number) => new Float32Array(n);

  it('matmul: short buffers, wrong types, detached buffers, bad dims, too few args', () => {
    expect(() => addon.matmul(f(5), 3, 4, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow('matmul: a.data must have 12 elements, got 5');
    expect(() => addon.matmul(f(12), 3, 4, f(7), 4, 2, false, false, 1, 0, f(6))).toThrow(RangeError);
    expect(() => addon.matmul(f(12), 3, 4, f(8), 4, 2, false, false, 1, 0, f(5))).toThrow('matmul: out.data must have 6 elements, got 5');
    expect(() => addon.matmul(f(12), 3, 4, f(8), 2, 4, false, false, 1, 0, f(6))).toThrow(/inner dimensions differ/);
    expect(() => addon.matmul(new Float64Array(12), 3, 4, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow(TypeError);
    expect(() => addon.matmul({ length: 12 }, 3, 4, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow(TypeError);
    expect(() => addon.matmul(detached(12), 3, 4, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow(/detached|elements/);
    expect(() => addon.matmul(f(12), -3, -4, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow(RangeError);
    expect(() => addon.matmul(f(12), 3.5, 4, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow(RangeError);
    expect(() => addon.matmul(f(0), 2 ** 40, 2 ** 40, f(8), 4, 2, false, false, 1, 0, f(6))).toThrow(RangeError);
    expect(() => addon.matmul(f(0), 2 ** 16, 2 ** 16, f(0), 2 ** 16, 0, false, false, 1, 0, f(0))).toThrow(/too many elements/);
    expect(() => addon.matmul(f(12), 3, 4)).toThrow(TypeError);
  });

  it('optimizerPlan / optimizerRun: a kept batch is re-verified on every run', () => {
    const sgd = (addon.optimizerRules() as string[]).indexOf('sgd');
    // One 2x3 sgd entry without momentum: no state buffers; scalars lr, momentum, dampening,
    // nesterov, l2, decay, first, cautious, cautiousFactor.
    const numbers = (momentum = 0) => new Float64Array([sgd, 2, 3, 0, 0, 0, 0, 0, momentum > 0 ? 1 : 0, 9, 0.5, momentum, 0, 0, 0, 0, 1, 0, 0]);
    const w = new Float32Array(6).fill(1);
    const g = new Float32Array(6).fill(1);
    expect(() => addon.optimizerPlan([w, f(5)], numbers(), 1)).toThrow(/grad.data must have 6 elements, got 5/);
    expect(() => addon.optimizerPlan([w, g], numbers(0.9), 1)).toThrow(/expected 1 state buffers|arrays end early/);
    const plan = addon.optimizerPlan([w, g], numbers(), 1);
    expect(() => addon.optimizerRun({}, numbers())).toThrow(TypeError);
    expect(() => addon.optimizerRun(plan, new Float32Array(17))).toThrow(TypeError);
    expect(() => addon.optimizerRun(plan, new Float64Array(16))).toThrow(RangeError);
    expect(() => addon.optimizerRun(plan)).toThrow(TypeError);
    // Scalars that would need a momentum buffer the plan does not have.
    expect(() => addon.optimizerRun(plan, numbers(0.9))).toThrow(/no longer fit/);
    expect(Array.from(w)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(addon.optimizerRun(plan, numbers())).toEqual([]);
    expect(Array.from(w)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    // A detached gradient: nothing done, null (the caller checks from scratch).
    const moved = new Float32Array(structuredClone(g.buffer, { transfer: [g.buffer] }));
    expect(addon.optimizerRun(plan, numbers())).toBeNull();
    expect(Array.from(w)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(Array.from(moved)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('optimizerRun: arrays sharing one buffer, a resizable buffer shrunk, a SharedArrayBuffer', () => {
    const sgd = (addon.optimizerRules() as string[]).indexOf('sgd');
    const numbers = new Float64Array([sgd, 2, 3, 0, 0, 0, 0, 0, 0, 9, 0.5, 0, 0, 0, 0, 0, 1, 0, 0]);
    // param and grad in one buffer (one check covers both); detaching it stops the plan.
    const shared = new ArrayBuffer(12 * 4);
    const w = new Float32Array(shared, 0, 6).fill(1);
    const g = new Float32Array(shared, 6 * 4, 6).fill(1);
    const plan = addon.optimizerPlan([w, g], numbers, 1);
    expect(addon.optimizerRun(plan, numbers)).toEqual([]);
    expect(Array.from(w)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    structuredClone(shared, { transfer: [shared] });
    expect(addon.optimizerRun(plan, numbers)).toBeNull();
    // A resizable buffer: shrunk below the view, null; grown back (same memory), usable again.
    const resizable = new ArrayBuffer(12 * 4, { maxByteLength: 32 * 4 });
    const rw = new Float32Array(resizable, 0, 6).fill(1);
    const rg = new Float32Array(resizable, 6 * 4, 6).fill(1);
    const rplan = addon.optimizerPlan([rw, rg], numbers, 1);
    resizable.resize(11 * 4);
    expect(addon.optimizerRun(rplan, numbers)).toBeNull();
    expect(() => addon.optimizerStep([rw, rg], numbers, 1)).toThrow(/grad.data must have 6 elements, got 0/);
    resizable.resize(32 * 4);
    rg.fill(1);
    expect(addon.optimizerRun(rplan, numbers)).toEqual([]);
    expect(Array.from(rw)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    // A SharedArrayBuffer is not an ArrayBuffer to Node-API: planned, but never run from the plan.
    const sab = new SharedArrayBuffer(12 * 4);
    const sw = new Float32Array(sab, 0, 6).fill(1);
    const sg = new Float32Array(sab, 6 * 4, 6).fill(1);
    expect(addon.optimizerRun(addon.optimizerPlan([sw, sg], numbers, 1), numbers)).toBeNull();
    expect(Array.from(sw)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('decompositions: short buffers and bad sizes', () => {
    expect(() => addon.eigh(f(3), 2)).toThrow('eigh: s.data must have 4 elements, got 3');
    expect(() => addon.svd(f(5), 2, 3)).toThrow('svd: a.data must have 6 elements, got 5');
    expect(() => addon.qr(f(6), 3, -2)).toThrow(RangeError);
    expect(() => addon.truncatedSvd(f(6), 2, 3, 3, 'randomized', 10, 2, 0)).toThrow(/k must be at most/);
    expect(() => addon.truncatedSvd(f(6), 2, 3, 1, 'magic', 10, 2, 0)).toThrow(TypeError);
    expect(() => addon.powerIteration(f(6), 2, 3, 10, 'alternating', f(3))).toThrow('powerIteration: init must have 2 elements, got 3');
    expect(() => addon.eighAsync(f(3), 2)).toThrow(RangeError);
  });
});
