// tfjs's cpu MaxPoolGrad without TensorBuffer. tfjs finds each window's maximum through
// TensorBuffer.get and then, for every input element, scans the windows over it with two more
// TensorBuffer reads per tap: 0.23 s for one 64×11×11×32 pooling gradient of a small CNN. Here each
// window's argmax is found once (tfjs's rule: the first value greater than all before it,
// starting from -Infinity: NaN never wins, and a window of only NaN and -Infinity passes no
// gradient) and its gradient added to that input element, in float64, in the order tfjs adds
// them: the same bits.
import { tf } from '../tf.js';
import { attr, floats, original, type CpuBackend, type KernelArgs } from './cpu.js';

import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

function maxPoolGrad(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { dy, input } = args.inputs;
  const dyv = floats(backend, dy), xv = floats(backend, input);
  if (dyv === null || xv === null || input!.shape.length !== 4) return original('MaxPoolGrad', args);
  const info = tf.backend_util.computePool2DInfo(
    input!.shape as [number, number, number, number],
    attr(args.attrs, 'filterSize') as number | [number, number],
    attr(args.attrs, 'strides') as number | [number, number],
    1,
    attr(args.attrs, 'pad') as 'valid' | 'same' | number,
    attr(args.attrs, 'dimRoundingMode') as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  if (dy!.shape.some((d, i) => d !== [batchSize, outHeight, outWidth, c][i])) return original('MaxPoolGrad', args);
  const dx = new Float64Array(xv.length);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const image = b * inHeight * inWidth * c;
    for (let oy = 0; oy < outHeight; oy++) {
      const rowCorner = oy * strideHeight - info.padInfo.top;
      const rowMin = Math.max(0, rowCorner), rowMax = Math.min(inHeight, effectiveFilterHeight + rowCorner);
      for (let ox = 0; ox < outWidth; ox++) {
        const colCorner = ox * strideWidth - info.padInfo.left;
        const colMin = Math.max(0, colCorner), colMax = Math.min(inWidth, effectiveFilterWidth + colCorner);
        for (let d = 0; d < c; d++, o++) {
          let max = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let iy = rowMin; iy < rowMax; iy++) {
            for (let ix = colMin; ix < colMax; ix++) {
              const i = image + (iy * inWidth + ix) * c + d;
              if (xv[i] > max) {
                max = xv[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += dyv[o];
        }
      }
    }
  }
  return backend.makeTensorInfo(input!.shape.slice(), 'float32', new Float32Array(dx));
}

/** The pooling kernels, by tfjs kernel name. */
export const POOL_KERNELS: [string, KernelFunc][] = [['MaxPoolGrad', maxPoolGrad as unknown as KernelFunc]];
