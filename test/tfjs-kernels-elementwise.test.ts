// registerSpecoptKernels's elementwise, reduction and gather kernels compute the same float64
// expressions of the same float32 inputs as tfjs's cpu kernels, in the same order, so every result
// must be tfjs's bit for bit (Object.is per element: -0 is not 0, NaN is NaN), on awkward shapes
// and on inputs with NaN, ±Infinity, ±0, subnormals and magnitudes where the order of a sum shows.
// What the kernels hand back to tfjs (other dtypes, bad shapes, bad indices) must give tfjs's
// values and tfjs's error messages.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { registerSpecoptKernels, unregisterSpecoptKernels } from '../src/tfjs/index.js';
import { useCpuBackend } from './tfjs-helpers.js';

useCpuBackend();

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -3e-39, 3e38, -2.5e38, 1e8, -1e8, 1, -1];

let seed = 7;
function uniform(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 1073741824 - 1;
}

/** Random float32 values over many magnitudes, with every special value somewhere when there is room. */
function data(n: number, specials = true): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = uniform() * 10 ** Math.round(uniform() * 4);
  if (specials) for (let i = 0; i < Math.min(n, SPECIALS.length); i++) v[(i * 7919) % n] = SPECIALS[i];
  return v;
}

const tensor = (shape: number[], specials = true) => tf.tensor(data(shape.reduce((a, b) => a * b, 1), specials), shape);

/** f's result with tfjs's kernels and with specopt's (values, shape, dtype), or both errors. */
function both(f: () => tf.Tensor): { theirs: tf.Tensor | Error; ours: tf.Tensor | Error } {
  const run = () => {
    try {
      return f();
    } catch (error) {
      return error as Error;
    }
  };
  unregisterSpecoptKernels();
  const theirs = run();
  registerSpecoptKernels();
  const ours = run();
  unregisterSpecoptKernels();
  return { theirs, ours };
}

function expectSame(label: string, f: () => tf.Tensor): void {
  const { theirs, ours } = both(f);
  if (theirs instanceof Error || ours instanceof Error) {
    expect(ours instanceof Error ? ours.message : 'no error', label).toBe(theirs instanceof Error ? theirs.message : 'no error');
    return;
  }
  expect(ours.shape, label).toEqual(theirs.shape);
  expect(ours.dtype, label).toBe(theirs.dtype);
  const a = theirs.dataSync(), b = ours.dataSync();
  expect(b.length, label).toBe(a.length);
  let mismatches = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  expect(mismatches, `${label}: first at ${first}: tfjs ${a[first]}, specopt ${b[first]}`).toBe(0);
  tf.dispose([theirs, ours]);
}

const BROADCASTS: [number[], number[]][] = [
  [[5, 7], [5, 7]],
  [[5, 7], [7]],
  [[7], [5, 7]],
  [[5, 7], [5, 1]],
  [[5, 1], [5, 7]],
  [[5, 1], [1, 7]],
  [[], [5, 7]],
  [[5, 7], []],
  [[1], [1]],
  [[], []],
  [[2, 3, 4], [3, 1]],
  [[2, 1, 4], [1, 3, 1]],
  [[4, 1, 3, 1], [5, 1, 2]],
  [[3, 1, 2, 1, 2], [3, 4, 1, 5, 2]],
  [[128, 256], [256]],
  [[0, 3], [3]],
  [[1, 0], [4, 1]],
];

describe('binary kernels (Add, Sub, Multiply, RealDiv)', () => {
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', tf.div],
  ];
  it(`are tfjs's results bit for bit: ${BROADCASTS.length} broadcasts x 4 ops, both operand orders`, () => {
    for (const [aShape, bShape] of BROADCASTS) {
      const a = tensor(aShape), b = tensor(bShape);
      for (const [name, op] of ops) {
        expectSame(`${name} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}`, () => op(a, b));
        expectSame(`${name} ${JSON.stringify(bShape)} ${JSON.stringify(aShape)}`, () => op(b, a));
      }
      tf.dispose([a, b]);
    }
  });

  it("give tfjs's values for int32 and tfjs's error for shapes that do not broadcast", () => {
    const i = tf.tensor([1, -2, 3, 7], [2, 2], 'int32'), j = tf.tensor([3, 5], [2], 'int32');
    for (const [name, op] of ops) expectSame(`${name} int32`, () => op(i, j));
    const a = tensor([3, 4]), b = tensor([5]);
    for (const [name, op] of ops) {
      const { ours } = both(() => op(a, b));
      expect(ours, name).toBeInstanceOf(Error);
      expectSame(`${name} [3,4] [5]`, () => op(a, b));
    }
    tf.dispose([i, j, a, b]);
  });
});

describe('unary kernels (Relu, Step, Exp, Log, Neg, Square, Sigmoid, Tanh)', () => {
  it("are tfjs's results bit for bit, on specials and on shapes [], [1], [3, 5, 7], [0, 4]", () => {
    const ops: [string, (x: tf.Tensor) => tf.Tensor][] = [
      ['relu', tf.relu],
      ['step', (x) => tf.step(x)],
      ['step alpha 0.3', (x) => tf.step(x, 0.3)],
      ['exp', tf.exp],
      ['log', tf.log],
      ['neg', tf.neg],
      ['square', tf.square],
      ['sigmoid', tf.sigmoid],
      ['tanh', tf.tanh],
    ];
    for (const shape of [[], [1], [3, 5, 7], [0, 4]]) {
      const x = tensor(shape);
      for (const [name, op] of ops) expectSame(`${name} ${JSON.stringify(shape)}`, () => op(x));
      x.dispose();
    }
    const i = tf.tensor([-3, 0, 4], [3], 'int32');
    for (const [name, op] of [['relu int32', tf.relu], ['neg int32', tf.neg], ['square int32', tf.square]] as const) expectSame(name, () => op(i));
    i.dispose();
  });
});

describe('Sum', () => {
  it("is tfjs's sum bit for bit for every set of axes, with and without keepDims", () => {
    const shapes = [[7], [6, 5], [4, 3, 5], [2, 3, 4, 5], [1, 5, 1, 3], [128, 256]];
    for (const shape of shapes) {
      const x = tensor(shape);
      const rank = shape.length;
      // Every subset of the axes, then null (all) and negative axes.
      const sets: (number[] | number | null)[] = [null, -1];
      for (let mask = 0; mask < 1 << rank; mask++) sets.push([...Array(rank).keys()].filter((d) => mask & (1 << d)));
      if (rank > 1) sets.push([-2, 0], [rank - 1, -1]); // the same axis twice
      for (const axes of sets) {
        for (const keepDims of [false, true]) {
          expectSame(`sum ${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepDims ${keepDims}`, () => tf.sum(x, axes ?? undefined, keepDims));
        }
      }
      x.dispose();
    }
  });

  it("adds in tfjs's order: sums whose float64 value depends on the order agree", () => {
    // Terms 2^60 apart in magnitude cancel or vanish depending on the order they are added in
    // (summing a row backwards fails this test; random data rarely shows it).
    const v = new Float32Array(64 * 3);
    for (let i = 0; i < v.length; i++) v[i] = [3e30, 1, -3e30, 7e-20, 2 ** 60, -(2 ** 60), 1e-30][i % 7] * (i % 5 === 0 ? -1 : 1);
    const x = tf.tensor(v, [64, 3]);
    for (const axes of [0, 1, [0, 1]]) expectSame(`order ${JSON.stringify(axes)}`, () => tf.sum(x, axes));
    x.dispose();
  });

  it("gives tfjs's values for int32, bool and empty inputs", () => {
    const i = tf.tensor([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
    const b = tf.tensor([[1, 0, 1], [1, 1, 0]], [2, 3], 'bool');
    const e = tf.zeros([0, 3]);
    for (const axes of [0, 1, null]) {
      expectSame(`int32 ${axes}`, () => tf.sum(i, axes ?? undefined));
      expectSame(`bool ${axes}`, () => tf.sum(b, axes ?? undefined));
      expectSame(`empty ${axes}`, () => tf.sum(e, axes ?? undefined));
    }
    tf.dispose([i, b, e]);
  });
});

describe('Softmax', () => {
  it("is tfjs's softmax bit for bit, with -Infinity, NaN and huge logits in some rows", () => {
    for (const shape of [[4, 10], [3, 2, 6], [1], [5, 1], [128, 10]]) {
      const x = tensor(shape, false);
      expectSame(`softmax ${JSON.stringify(shape)}`, () => tf.softmax(x));
      x.dispose();
    }
    const rows = tf.tensor(
      [[-Infinity, 0, 1, 2], [-Infinity, -Infinity, -Infinity, -Infinity], [NaN, 1, 2, 3], [3e38, 3e38, -3e38, 0], [-0, 0, -0, 0], [1e-40, 2, 88, 89]],
      [6, 4],
    );
    expectSame('special rows', () => tf.softmax(rows));
    expectSame('special rows, dim 0 (refused by tfjs)', () => tf.softmax(rows, 0));
    rows.dispose();
  });
});

describe('GatherV2', () => {
  it("is tfjs's gather for every axis, repeated and multi-dimensional indices, batchDims, float32/int32/bool", () => {
    const x = tensor([5, 4, 3]);
    const xi = tf.tensor(Array.from({ length: 60 }, (_, i) => i * 3 - 50), [5, 4, 3], 'int32');
    const xb = tf.tensor(Array.from({ length: 60 }, (_, i) => (i * 7) % 3 === 0), [5, 4, 3], 'bool');
    for (const [axis, indices] of [
      [0, [4, 0, 0, 2]],
      [1, [3, 1]],
      [2, [2, 2, 0, 1, 1]],
      [-1, [0]],
      [0, []],
    ] as [number, number[]][]) {
      const ind = tf.tensor(indices, [indices.length], 'int32');
      const ind2 = indices.length % 2 === 0 && indices.length > 0 ? tf.reshape(ind, [2, indices.length / 2]) : ind;
      for (const [name, t] of [['float32', x], ['int32', xi], ['bool', xb]] as const) {
        expectSame(`${name} axis ${axis} ${JSON.stringify(indices)}`, () => tf.gather(t, ind, axis));
        expectSame(`${name} axis ${axis} ${JSON.stringify(ind2.shape)}`, () => tf.gather(t, ind2, axis));
      }
      tf.dispose([ind, ind2]);
    }
    const bx = tensor([2, 5, 3]);
    const bi = tf.tensor([[4, 0, 1, 1], [2, 3, 3, 0]], [2, 4], 'int32');
    expectSame('batchDims 1, axis 1', () => tf.gather(bx, bi, 1, 1));
    const rows = tensor([300, 784]);
    const pick = tf.tensor(Array.from({ length: 128 }, (_, i) => (i * 37) % 300), [128], 'int32');
    expectSame('128 rows of 784 (model.fit)', () => tf.gather(rows, pick));
    tf.dispose([x, xi, xb, bx, bi, rows, pick]);
  });

  it("gives tfjs's error for an index out of range", () => {
    const x = tensor([5, 4]);
    for (const bad of [[5], [-1], [0, 9]]) {
      const ind = tf.tensor(bad, [bad.length], 'int32');
      const { ours } = both(() => tf.gather(x, ind));
      expect(ours, JSON.stringify(bad)).toBeInstanceOf(Error);
      expectSame(`out of range ${JSON.stringify(bad)}`, () => tf.gather(x, ind));
      ind.dispose();
    }
    x.dispose();
  });
});

describe('gradients through the kernels', () => {
  it("are tfjs's gradients bit for bit (a dense layer's bias, relu, softmax cross-entropy; matrix products excluded)", () => {
    const h = tensor([32, 16], false), bias = tensor([16], false), w = tensor([16], false);
    const labels = tf.oneHot(tf.tensor(Array.from({ length: 32 }, (_, i) => i % 16), [32], 'int32'), 16);
    const f = (hh: tf.Tensor, bb: tf.Tensor, ww: tf.Tensor) => {
      const z = tf.mul(tf.relu(tf.add(hh, bb)), ww);
      return tf.losses.softmaxCrossEntropy(labels, z);
    };
    unregisterSpecoptKernels();
    const theirs = tf.grads(f)([h, bias, w]);
    registerSpecoptKernels();
    const ours = tf.grads(f)([h, bias, w]);
    unregisterSpecoptKernels();
    for (let k = 0; k < 3; k++) {
      const a = theirs[k].dataSync(), b = ours[k].dataSync();
      let mismatches = 0;
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) mismatches++;
      expect(mismatches, `gradient ${k}`).toBe(0);
      expect(Array.from(a).some((v) => v !== 0), `gradient ${k} is not all zeros`).toBe(true);
    }
    tf.dispose([h, bias, w, labels, ...theirs, ...ours]);
  });
});
