// tfjs's cpu GatherV2 by slices. tfjs gathers element by element through TensorBuffer index
// arithmetic (arrays allocated per element); model.fit gathers every batch of its inputs with it,
// which made the gather of 128 MNIST rows cost more than the layer's matrix product. Here each
// gathered slice is one copy. Same values, any numeric dtype; an index out of range goes to
// tfjs's kernel, for its error.
import { tf } from '../tf.js';
import { attr, original, size, type CpuBackend, type KernelArgs } from './cpu.js';

import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

type Values = Float32Array | Int32Array | Uint8Array;

function numeric(backend: CpuBackend, t: TensorInfo | undefined): Values | null {
  if (t === undefined) return null;
  const values = backend.data.get(t.dataId)?.values;
  const ok = values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array;
  return ok && (values as Values).length === size(t.shape) ? (values as Values) : null;
}

function gatherV2(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { x, indices } = args.inputs;
  const xv = x?.dtype === 'string' || x?.dtype === 'complex64' ? null : numeric(backend, x);
  const iv = indices?.dtype === 'int32' ? numeric(backend, indices) : null;
  if (xv === null || !(iv instanceof Int32Array)) return original('GatherV2', args);
  const axis = tf.util.parseAxisParam(attr(args.attrs, 'axis') as number, x!.shape)[0];
  const axisDim = x!.shape[axis];
  for (let i = 0; i < iv.length; i++) if (!(iv[i] >= 0 && iv[i] <= axisDim - 1)) return original('GatherV2', args);
  const batchDims = (attr(args.attrs, 'batchDims') as number | undefined) ?? 0;
  // tfjs's own shape rules and errors.
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as never, indices as never, axis, batchDims);
  const { batchSize, outerSize, dimSize, sliceSize, outputShape } = info;
  const perBatch = iv.length / batchSize;
  const out = new (xv.constructor as { new (n: number): Values })(size(outputShape));
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const from = (b * outerSize + o) * dimSize;
      const to = (b * outerSize + o) * perBatch;
      for (let i = 0; i < perBatch; i++) {
        const src = (from + iv[b * perBatch + i]) * sliceSize;
        const dst = (to + i) * sliceSize;
        if (sliceSize >= 32) out.set(xv.subarray(src, src + sliceSize), dst);
        else for (let j = 0; j < sliceSize; j++) out[dst + j] = xv[src + j];
      }
    }
  }
  return backend.makeTensorInfo(outputShape, x!.dtype, out);
}

/** The gather kernels, by tfjs kernel name. */
export const GATHER_KERNELS: [string, KernelFunc][] = [['GatherV2', gatherV2 as unknown as KernelFunc]];
