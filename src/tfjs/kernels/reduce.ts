// tfjs's cpu Sum and Softmax without the transpose. tfjs's Sum transposes the reduced axes to the
// end (a JavaScript transpose of the whole input) and then sums each run in order; a dense layer's
// bias gradient is a sum over the batch axis, so every step transposed every activation gradient.
// Here the input is read in memory order, each output's terms are added in the same order as
// tfjs adds them (row-major over the reduced axes, in float64 from 0), and the sums stored to
// float32: the same bits. Softmax does tfjs's max, subtract, exp, sum and divide in one pass per
// row, storing to float32 where tfjs's intermediate tensors do.
import { tf } from '../tf.js';
import { attr, floats, original, size, type CpuBackend, type KernelArgs } from './cpu.js';

import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Sums of `x` (shape `shape`) over `axes` into `acc` (length = the kept dimensions' size), adding
 * each output's terms in memory order.
 */
function sumInto(acc: Float64Array, x: Float32Array, shape: readonly number[], axes: readonly number[]): void {
  // Runs of adjacent reduced or kept dimensions become one; dimensions of extent 1 drop out.
  const extents: number[] = [];
  const reduced: boolean[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const r = axes.includes(d);
    const last = extents.length - 1;
    if (last >= 0 && reduced[last] === r) extents[last] *= shape[d];
    else {
      extents.push(shape[d]);
      reduced.push(r);
    }
  }
  if (extents.length === 0) {
    extents.push(1);
    reduced.push(false);
  }
  const outStrides = new Array<number>(extents.length);
  for (let d = extents.length - 1, s = 1; d >= 0; d--) {
    outStrides[d] = reduced[d] ? 0 : s;
    if (!reduced[d]) s *= extents[d];
  }
  const inner = extents.length - 1;
  const n = extents[inner];
  const innerReduced = reduced[inner];
  const index = new Array<number>(inner).fill(0);
  let oi = 0;
  for (let xi = 0; xi < x.length; xi += n) {
    if (innerReduced) {
      let s = acc[oi];
      for (let j = 0; j < n; j++) s += x[xi + j];
      acc[oi] = s;
    } else {
      for (let j = 0; j < n; j++) acc[oi + j] += x[xi + j];
    }
    for (let d = inner - 1; d >= 0; d--) {
      oi += outStrides[d];
      if (++index[d] < extents[d]) break;
      oi -= outStrides[d] * extents[d];
      index[d] = 0;
    }
  }
}

function sum(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { x } = args.inputs;
  const xv = floats(backend, x);
  if (xv === null || xv.length === 0) return original('Sum', args);
  const shape = x!.shape;
  const axes = tf.util.parseAxisParam(attr(args.attrs, 'axis') as number | number[], shape);
  // Repeated axes: tfjs's kernel has its own (odd) answer; it stays tfjs's.
  if (new Set(axes).size !== axes.length) return original('Sum', args);
  const keepDims = attr(args.attrs, 'keepDims') === true;
  const outShape: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (!axes.includes(d)) outShape.push(shape[d]);
    else if (keepDims) outShape.push(1);
  }
  const acc = new Float64Array(size(outShape));
  sumInto(acc, xv, shape, axes);
  return backend.makeTensorInfo(outShape, 'float32', new Float32Array(acc));
}

function softmax(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { logits } = args.inputs;
  const xv = floats(backend, logits);
  const rank = logits?.shape.length ?? 0;
  const dim = attr(args.attrs, 'dim');
  // tfjs's kernel throws for any other axis, and handles rank 0 and empty tensors its own way.
  if (xv === null || xv.length === 0 || rank === 0 || (dim !== -1 && dim !== rank - 1)) return original('Softmax', args);
  const n = logits!.shape[rank - 1];
  const out = new Float32Array(xv.length);
  for (let o = 0; o < xv.length; o += n) {
    // tfjs's Max: the first value, then any NaN or greater value.
    let max = xv[o];
    for (let j = 0; j < n; j++) {
      const v = xv[o + j];
      if (Number.isNaN(v) || v > max) max = v;
    }
    let s = 0;
    for (let j = 0; j < n; j++) {
      out[o + j] = xv[o + j] - max; // tfjs's Sub, stored
      out[o + j] = Math.exp(out[o + j]); // Exp, stored
      s += out[o + j]; // Sum: float64 from 0, in order
    }
    const total = Math.fround(s);
    for (let j = 0; j < n; j++) out[o + j] = out[o + j] / total; // RealDiv
  }
  return backend.makeTensorInfo(logits!.shape.slice(), 'float32', out);
}

/** The reduction kernels, by tfjs kernel name. */
export const REDUCE_KERNELS: [string, KernelFunc][] = [
  ['Sum', sum as unknown as KernelFunc],
  ['Softmax', softmax as unknown as KernelFunc],
];
