// tfjs's cpu elementwise kernels without their per-element costs. tfjs computes every element of a
// broadcast binary op through indexToLoc/locToIndex (two arrays allocated per element) and calls
// each op through one shared closure; a dense layer's bias add and its gradient's ReLU mask are
// those kernels. These compute the same float64 expressions of the same float32 inputs, stored to
// float32, so their results are tfjs's bit for bit; only the loops differ. Anything but float32
// inputs goes to tfjs's own kernel.
import { tf } from '../tf.js';
import { attr, floats, original, size, type CpuBackend, type KernelArgs } from './cpu.js';

import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/** out[o + j] = a[ai + j·sa] op b[bi + j·sb] for j < n (sa, sb are 0 or 1). One function per op, so each loop stays monomorphic. */
type BinaryRun = (out: Float32Array, o: number, a: Float32Array, ai: number, sa: number, b: Float32Array, bi: number, sb: number, n: number) => void;

const addRun: BinaryRun = (out, o, a, ai, sa, b, bi, sb, n) => {
  for (let j = 0; j < n; j++) out[o + j] = a[ai + j * sa] + b[bi + j * sb];
};
const subRun: BinaryRun = (out, o, a, ai, sa, b, bi, sb, n) => {
  for (let j = 0; j < n; j++) out[o + j] = a[ai + j * sa] - b[bi + j * sb];
};
const mulRun: BinaryRun = (out, o, a, ai, sa, b, bi, sb, n) => {
  for (let j = 0; j < n; j++) out[o + j] = a[ai + j * sa] * b[bi + j * sb];
};
const divRun: BinaryRun = (out, o, a, ai, sa, b, bi, sb, n) => {
  for (let j = 0; j < n; j++) out[o + j] = a[ai + j * sa] / b[bi + j * sb];
};

/**
 * The broadcast of `aShape` and `bShape` to `outShape` as a few merged dimensions: runs of
 * adjacent dimensions in which each operand is either read along or repeated become one, so a
 * same-shape op is one loop and a bias add is rows × columns. Extents, and each operand's element
 * stride per merged dimension (0 where it repeats), outermost first.
 */
function broadcastPlan(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): { extents: number[]; aStrides: number[]; bStrides: number[] } {
  const rank = outShape.length;
  const extents: number[] = [];
  const aRepeats: boolean[] = [];
  const bRepeats: boolean[] = [];
  for (let d = 0; d < rank; d++) {
    const e = outShape[d];
    if (e === 1) continue;
    const ad = aShape[d - (rank - aShape.length)] ?? 1;
    const bd = bShape[d - (rank - bShape.length)] ?? 1;
    const ar = ad === 1, br = bd === 1;
    const last = extents.length - 1;
    if (last >= 0 && aRepeats[last] === ar && bRepeats[last] === br) extents[last] *= e;
    else {
      extents.push(e);
      aRepeats.push(ar);
      bRepeats.push(br);
    }
  }
  if (extents.length === 0) {
    extents.push(1);
    aRepeats.push(false);
    bRepeats.push(false);
  }
  const aStrides = new Array<number>(extents.length);
  const bStrides = new Array<number>(extents.length);
  for (let d = extents.length - 1, as = 1, bs = 1; d >= 0; d--) {
    aStrides[d] = aRepeats[d] ? 0 : as;
    bStrides[d] = bRepeats[d] ? 0 : bs;
    if (!aRepeats[d]) as *= extents[d];
    if (!bRepeats[d]) bs *= extents[d];
  }
  return { extents, aStrides, bStrides };
}

function binary(name: string, run: BinaryRun): KernelFunc {
  return ((args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { a, b } = args.inputs;
    const av = floats(backend, a), bv = floats(backend, b);
    if (av === null || bv === null) return original(name, args);
    // Throws tfjs's own error for shapes that do not broadcast.
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a!.shape, b!.shape);
    const out = new Float32Array(size(outShape));
    if (out.length > 0) {
      const { extents, aStrides, bStrides } = broadcastPlan(a!.shape, b!.shape, outShape);
      const inner = extents.length - 1;
      const n = extents[inner], sa = aStrides[inner], sb = bStrides[inner];
      // An odometer over the outer merged dimensions, moving each operand's offset along.
      const index = new Array<number>(inner).fill(0);
      let ai = 0, bi = 0;
      for (let o = 0; o < out.length; o += n) {
        run(out, o, av, ai, sa, bv, bi, sb, n);
        for (let d = inner - 1; d >= 0; d--) {
          ai += aStrides[d];
          bi += bStrides[d];
          if (++index[d] < extents[d]) break;
          ai -= aStrides[d] * extents[d];
          bi -= bStrides[d] * extents[d];
          index[d] = 0;
        }
      }
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  }) as unknown as KernelFunc;
}

/** out[i] = op(x[i]), with the expression of tfjs's cpu kernel for the op (tfjs-backend-cpu 4.x, kernels/<Name>.js). */
type UnaryRun = (out: Float32Array, x: Float32Array, attrs: KernelArgs['attrs']) => void;

const reluRun: UnaryRun = (out, x) => {
  for (let i = 0; i < x.length; i++) out[i] = Math.max(0, x[i]);
};
const stepRun: UnaryRun = (out, x, attrs) => {
  // A missing alpha is NaN, as tfjs stores it.
  const alpha = Number(attr(attrs, 'alpha'));
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = Number.isNaN(v) ? NaN : v > 0 ? 1 : alpha;
  }
};
const expRun: UnaryRun = (out, x) => {
  for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]);
};
const logRun: UnaryRun = (out, x) => {
  for (let i = 0; i < x.length; i++) out[i] = Math.log(x[i]);
};
const negRun: UnaryRun = (out, x) => {
  // tfjs multiplies by a float32 -1 scalar: the same bits as a negation.
  for (let i = 0; i < x.length; i++) out[i] = -1 * x[i];
};
const squareRun: UnaryRun = (out, x) => {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = v * v;
  }
};
const sigmoidRun: UnaryRun = (out, x) => {
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
};
const tanhRun: UnaryRun = (out, x) => {
  for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]);
};

function unary(name: string, run: UnaryRun): KernelFunc {
  return ((args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs;
    const xv = floats(backend, x);
    if (xv === null) return original(name, args);
    const out = new Float32Array(xv.length);
    run(out, xv, args.attrs);
    return backend.makeTensorInfo(x!.shape.slice(), 'float32', out);
  }) as unknown as KernelFunc;
}

/** The elementwise kernels, by tfjs kernel name. */
export const ELEMENTWISE_KERNELS: [string, KernelFunc][] = [
  ['Add', binary('Add', addRun)],
  ['Sub', binary('Sub', subRun)],
  ['Multiply', binary('Multiply', mulRun)],
  ['RealDiv', binary('RealDiv', divRun)],
  ['Relu', unary('Relu', reluRun)],
  ['Step', unary('Step', stepRun)],
  ['Exp', unary('Exp', expRun)],
  ['Log', unary('Log', logRun)],
  ['Neg', unary('Neg', negRun)],
  ['Square', unary('Square', squareRun)],
  ['Sigmoid', unary('Sigmoid', sigmoidRun)],
  ['Tanh', unary('Tanh', tanhRun)],
];
