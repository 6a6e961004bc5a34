// registerSpecoptKernels: specopt's kernels for tfjs's cpu backend, registered in place of tfjs's
// own (kept, and put back by unregisterSpecoptKernels). Each kernel takes the float32 cases it is
// written for and hands every other case to tfjs's kernel, so values, dtypes and errors stay tfjs's.
import { tf } from '../tf.js';
import { CONV_KERNELS } from './conv.js';
import { originals } from './cpu.js';
import { ELEMENTWISE_KERNELS } from './elementwise.js';
import { GATHER_KERNELS } from './gather.js';
import { MATMUL_KERNELS } from './matmul.js';
import { POOL_KERNELS } from './pool.js';
import { REDUCE_KERNELS } from './reduce.js';

import type { KernelFunc } from '@tensorflow/tfjs-core';

const KERNELS: [string, KernelFunc][] = [...MATMUL_KERNELS, ...CONV_KERNELS, ...ELEMENTWISE_KERNELS, ...REDUCE_KERNELS, ...POOL_KERNELS, ...GATHER_KERNELS];

/** The tfjs kernel names registerSpecoptKernels replaces on the cpu backend. */
export const SPECOPT_KERNEL_NAMES: readonly string[] = Object.freeze(KERNELS.map(([name]) => name));

/**
 * Runs tfjs's `cpu` backend faster: its matrix products and convolutions on specopt's GEMM
 * (OpenBLAS sgemm), and the elementwise, reduction, pooling-gradient and gather kernels a network
 * trains with as plain loops, without tfjs's per-element index arithmetic and transposes.
 *
 * - `BatchMatMul` and `_FusedMatMul`: every transpose flag, broadcast batch dimensions, bias and
 *   fused activation tfjs has (linear, relu, relu6, elu, sigmoid, leakyrelu, prelu). Results
 *   differ from tfjs's by the float32 rounding of the product only.
 * - `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter` by im2col and
 *   GEMM, for channels-last (NHWC) tensors: every stride, padding and (forward) dilation.
 *   Results differ from tfjs's by float32 rounding only.
 * - `Add`, `Sub`, `Multiply`, `RealDiv` (any broadcasting), `Relu`, `Step`, `Exp`, `Log`, `Neg`,
 *   `Square`, `Sigmoid`, `Tanh`, `Sum` (any axes, keepDims), `Softmax`, `MaxPoolGrad` and
 *   `GatherV2`: the same expressions, in the same order, as tfjs's kernels, so bit for bit
 *   tfjs's results.
 *
 * What a kernel is not written for (other dtypes, NCHW convolutions, out-of-range gather indices,
 * repeated sum axes) goes to tfjs's own kernel, and shapes tfjs refuses get tfjs's errors.
 * Gradients need nothing more (tfjs's gradients are made of these ops). Call it after importing
 * `@tensorflow/tfjs` (or `@tensorflow/tfjs-backend-cpu`), whose import registers the kernels this
 * replaces; calling it again does nothing. {@link unregisterSpecoptKernels} puts tfjs's back.
 */
export function registerSpecoptKernels(): void {
  for (const [name] of KERNELS) {
    if (!originals.has(name) && tf.getKernel(name, 'cpu') === undefined) {
      throw new Error(
        `registerSpecoptKernels: tfjs has no ${name} kernel for the 'cpu' backend yet; import '@tensorflow/tfjs' (or '@tensorflow/tfjs-backend-cpu') first`,
      );
    }
  }
  for (const [name, kernelFunc] of KERNELS) {
    if (originals.has(name)) continue;
    originals.set(name, tf.getKernel(name, 'cpu'));
    tf.unregisterKernel(name, 'cpu');
    tf.registerKernel({ kernelName: name, backendName: 'cpu', kernelFunc });
  }
}

/** Puts tfjs's own cpu kernels back in place of registerSpecoptKernels's (nothing when they are not registered). */
export function unregisterSpecoptKernels(): void {
  for (const [name] of KERNELS) {
    const kept = originals.get(name);
    if (kept === undefined) continue;
    tf.unregisterKernel(name, 'cpu');
    tf.registerKernel(kept);
    originals.delete(name);
  }
}

/** True while registerSpecoptKernels's kernels are registered. */
export function specoptKernelsRegistered(): boolean {
  return originals.size > 0;
}
