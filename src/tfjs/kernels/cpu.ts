// What specopt's tfjs kernels share: the part of tfjs's MathBackendCPU they use, the kernels they
// replace (kept to hand them what they do not take), and small shape helpers.
import { tf } from '../tf.js';

import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/** What the kernels use of tfjs's MathBackendCPU (tfjs-backend-cpu 4.x). */
export interface CpuBackend {
  data: { get(dataId: unknown): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: TensorInfo['dtype'], values: Float32Array | Int32Array | Uint8Array): TensorInfo;
  disposeIntermediateTensorInfo(info: TensorInfo): void;
}

export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

export type Kernel = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** tfjs's own cpu kernels, kept while specopt's are registered (filled by registerSpecoptKernels). */
export const originals = new Map<string, KernelConfig>();

/** Runs tfjs's own cpu kernel `name`: for every case a specopt kernel leaves to it. */
export function original(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const config = originals.get(name) ?? tf.getKernel(name, 'cpu');
  return (config.kernelFunc as Kernel)(args);
}

/** The Float32Array the cpu backend holds for `t`, or null (another dtype, or not held as one). */
export function floats(backend: CpuBackend, t: TensorInfo | undefined | null): Float32Array | null {
  if (t === undefined || t === null || t.dtype !== 'float32') return null;
  const values = backend.data.get(t.dataId)?.values;
  return values instanceof Float32Array && values.length === size(t.shape) ? values : null;
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export const attr = (attrs: NamedAttrMap | undefined, name: string): unknown => (attrs as Record<string, unknown> | undefined)?.[name];
