// tfjs's cpu-backend matrix products on specopt's GEMM (OpenBLAS sgemm): BatchMatMul and
// _FusedMatMul. Everything that is not a float32 product of non-empty matrices (int32 tensors, empty
// shapes, inputs the cpu backend does not hold as a Float32Array) goes to tfjs's own kernel.
//
// Results: the product differs from tfjs's by float32 rounding only (OpenBLAS accumulates in
// float32 with FMAs, tfjs in float64 blocks of 48 stored to float32 between blocks); bias and
// activation are computed exactly as tfjs's cpu kernels compute them (the same float64
// expressions, stored to float32), so they add no difference of their own.
import { matmul } from '../../index.js';
import { tf } from '../tf.js';
import { attr, floats, original, size, type CpuBackend, type KernelArgs } from './cpu.js';

import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

const BATCH_MAT_MUL = 'BatchMatMul';
const FUSED_MAT_MUL = '_FusedMatMul';

/**
 * Offsets (in matrices) of each output batch's operand, for an operand whose batch dimensions
 * `dims` broadcast to `outer` (numpy rules: a dimension of 1 repeats).
 */
function batchOffsets(dims: readonly number[], outer: readonly number[]): Int32Array {
  const count = size(outer);
  const offsets = new Int32Array(count);
  const pad = outer.length - dims.length;
  const strides = new Array<number>(outer.length).fill(0);
  for (let d = outer.length - 1, s = 1; d >= pad; d--) {
    const extent = dims[d - pad];
    strides[d] = extent === 1 ? 0 : s;
    s *= extent;
  }
  for (let i = 0; i < count; i++) {
    let rest = i;
    let offset = 0;
    for (let d = outer.length - 1; d >= 0; d--) {
      const index = rest % outer[d];
      rest = (rest - index) / outer[d];
      offset += index * strides[d];
    }
    offsets[i] = offset;
  }
  return offsets;
}

/**
 * op(a)·op(b) over broadcast batch dimensions, or null for what tfjs's kernel should do (not
 * float32, rank < 2, empty, mismatched inner dimensions: its error message is the user's).
 */
function product(backend: CpuBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): { shape: number[]; values: Float32Array } | null {
  const av = floats(backend, a);
  const bv = floats(backend, b);
  if (av === null || bv === null || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const aRows = a.shape[ra - 2], aCols = a.shape[ra - 1];
  const bRows = b.shape[rb - 2], bCols = b.shape[rb - 1];
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const [kb, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
  if (k !== kb || m * n * k === 0) return null;
  const aDims = a.shape.slice(0, -2);
  const bDims = b.shape.slice(0, -2);
  // Throws tfjs's own error for batch dimensions that do not broadcast.
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(aDims, bDims);
  const batch = size(outer);
  const values = new Float32Array(batch * m * n);
  const aSize = aRows * aCols, bSize = bRows * bCols, cSize = m * n;
  if (size(bDims) === 1 && !transposeA && size(aDims) === batch) {
    // One B for every batch and A's batches stacked row after row: one (batch·m)×k GEMM.
    matmul({ rows: batch * m, cols: k, data: av }, { rows: bRows, cols: bCols, data: bv }, {
      transB: transposeB,
      out: { rows: batch * m, cols: n, data: values },
    });
    return { shape: [...outer, m, n], values };
  }
  const aAt = batchOffsets(aDims, outer);
  const bAt = batchOffsets(bDims, outer);
  for (let i = 0; i < batch; i++) {
    const A = { rows: aRows, cols: aCols, data: av.subarray(aAt[i] * aSize, (aAt[i] + 1) * aSize) };
    const B = { rows: bRows, cols: bCols, data: bv.subarray(bAt[i] * bSize, (bAt[i] + 1) * bSize) };
    matmul(A, B, { transA: transposeA, transB: transposeB, out: { rows: m, cols: n, data: values.subarray(i * cSize, (i + 1) * cSize) } });
  }
  return { shape: [...outer, m, n], values };
}

function batchMatMul(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { a, b } = args.inputs;
  const p = product(backend, a!, b!, attr(args.attrs, 'transposeA') === true, attr(args.attrs, 'transposeB') === true);
  if (p === null) return original(BATCH_MAT_MUL, args);
  return backend.makeTensorInfo(p.shape, 'float32', p.values);
}

/**
 * The length of the last dimension when `shape` is that dimension with only 1s before it (a
 * per-column vector for an output of rank >= its rank), else -1.
 */
function rowVector(shape: readonly number[], outRank: number): number {
  if (shape.length === 0 || shape.length > outRank) return -1;
  for (let d = 0; d + 1 < shape.length; d++) if (shape[d] !== 1) return -1;
  return shape[shape.length - 1];
}

/** `values` (an output of shape `shape` that nobody else holds yet) + bias, in place, as tfjs's Add computes it; false when the bias's shape needs tfjs's broadcasting. */
function addBias(values: Float32Array, shape: readonly number[], bias: Float32Array, biasShape: readonly number[]): boolean {
  const n = shape[shape.length - 1];
  if (bias.length === 1) {
    const c = bias[0];
    for (let i = 0; i < values.length; i++) values[i] = values[i] + c;
    return true;
  }
  if (rowVector(biasShape, shape.length) === n) {
    for (let i = 0; i < values.length; i += n) for (let j = 0; j < n; j++) values[i + j] = values[i + j] + bias[j];
    return true;
  }
  if (biasShape.length === shape.length && biasShape.every((d, i) => d === shape[i])) {
    for (let i = 0; i < values.length; i++) values[i] = values[i] + bias[i];
    return true;
  }
  return false;
}

/** The activation in place, with the expressions of tfjs's cpu kernels; false for prelu weights that need tfjs's broadcasting. */
function activate(values: Float32Array, shape: readonly number[], activation: string, leakyreluAlpha: number, alpha: Float32Array | null, alphaShape: readonly number[] | undefined): boolean {
  const len = values.length;
  switch (activation) {
    case 'linear':
      return true;
    case 'relu':
      for (let i = 0; i < len; i++) values[i] = Math.max(0, values[i]);
      return true;
    case 'relu6':
      for (let i = 0; i < len; i++) values[i] = Math.min(Math.max(0, values[i]), 6);
      return true;
    case 'elu':
      for (let i = 0; i < len; i++) {
        const x = values[i];
        values[i] = x >= 0 ? x : Math.exp(x) - 1;
      }
      return true;
    case 'sigmoid':
      for (let i = 0; i < len; i++) values[i] = 1 / (1 + Math.exp(-values[i]));
      return true;
    case 'leakyrelu':
      for (let i = 0; i < len; i++) {
        const x = values[i];
        values[i] = x < 0 ? leakyreluAlpha * x : x;
      }
      return true;
    case 'prelu': {
      if (alpha === null || alphaShape === undefined) return false;
      const n = shape[shape.length - 1];
      if (alpha.length === 1) {
        const c = alpha[0];
        for (let i = 0; i < len; i++) {
          const x = values[i];
          values[i] = x < 0 ? c * x : x;
        }
        return true;
      }
      if (rowVector(alphaShape, shape.length) !== n) return false;
      for (let i = 0; i < len; i += n) {
        for (let j = 0; j < n; j++) {
          const x = values[i + j];
          values[i + j] = x < 0 ? alpha[j] * x : x;
        }
      }
      return true;
    }
    default:
      // tfjs's message for an activation its cpu backend lacks.
      throw new Error(`Activation ${activation} has not been implemented for the CPU backend.`);
  }
}

/**
 * A fused kernel's result after its bias and activation: `values` (of shape `shape`, held by
 * nobody yet) + bias, then the activation, in place where the bias and activation weights are
 * plain per-column vectors, else through tfjs's own Add and Prelu kernels.
 */
export function biasAndActivation(kernel: string, args: KernelArgs, values: Float32Array, shape: number[]): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { bias, preluActivationWeights } = args.inputs;
  const activation = (attr(args.attrs, 'activation') as string | undefined) ?? 'linear';
  const leakyreluAlpha = (attr(args.attrs, 'leakyreluAlpha') as number | undefined) ?? 0.2;
  const cpu = (name: string, inputs: NamedTensorInfoMap, kernelAttrs?: NamedAttrMap) =>
    (tf.getKernel(name, 'cpu').kernelFunc as (a: KernelArgs) => TensorInfo)({ inputs, backend, attrs: kernelAttrs });

  // `current` holds the result so far: our own array until a step needs one of tfjs's kernels,
  // then that kernel's fresh output (ours too: nothing else refers to it yet).
  let current: TensorInfo | null = null;
  const own = (): TensorInfo => (current ??= backend.makeTensorInfo(shape, 'float32', values));
  const replace = (next: TensorInfo) => {
    backend.disposeIntermediateTensorInfo(own());
    current = next;
    const next32 = floats(backend, next);
    if (next32 === null) throw new Error(`specopt's ${kernel}: tfjs's kernel returned a ${next.dtype} tensor the cpu backend does not hold as a Float32Array`);
    values = next32;
    shape = next.shape;
  };
  if (bias !== undefined && bias !== null) {
    const bv = floats(backend, bias);
    if (bv === null || !addBias(values, shape, bv, bias.shape)) replace(cpu('Add', { a: own(), b: bias }));
  }
  if (activation !== 'linear') {
    const alpha = preluActivationWeights ? floats(backend, preluActivationWeights) : null;
    if (!activate(values, shape, activation, leakyreluAlpha, alpha, preluActivationWeights?.shape)) {
      replace(cpu('Prelu', { x: own(), alpha: preluActivationWeights! }));
    }
  }
  return own();
}

function fusedMatMul(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { a, b } = args.inputs;
  const p = product(backend, a!, b!, attr(args.attrs, 'transposeA') === true, attr(args.attrs, 'transposeB') === true);
  if (p === null) return original(FUSED_MAT_MUL, args);
  return biasAndActivation(FUSED_MAT_MUL, args, p.values, p.shape);
}

/** The matrix-product kernels, by tfjs kernel name. */
export const MATMUL_KERNELS: [string, KernelFunc][] = [
  [BATCH_MAT_MUL, batchMatMul as unknown as KernelFunc],
  [FUSED_MAT_MUL, fusedMatMul as unknown as KernelFunc],
];
