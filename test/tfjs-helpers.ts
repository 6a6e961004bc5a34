// What the tfjs kernel tests share: tfjs's cpu backend with specopt's kernels off between tests,
// seeded random tensors, and running a function with the kernels registered.
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll } from 'vitest';

import { registerSpecoptKernels, unregisterSpecoptKernels } from '../src/tfjs/index.js';

/** The unit roundoff of float32. */
export const U = 2 ** -24;

/** Every test of the file on tfjs's cpu backend, with specopt's kernels unregistered after each. */
export function useCpuBackend(): void {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => unregisterSpecoptKernels());
  afterAll(() => unregisterSpecoptKernels());
}

/** random(shape): a tensor of values uniform in [-1, 1), from a linear congruential sequence started at `seed`. */
export function seededRandom(seed: number): (shape: number[]) => tf.Tensor {
  return (shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      v[i] = seed / 1073741824 - 1;
    }
    return tf.tensor(v, shape);
  };
}

export const values = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** f() with specopt's kernels registered, unregistered again afterwards. */
export function withKernels<T>(f: () => T): T {
  registerSpecoptKernels();
  try {
    return f();
  } finally {
    unregisterSpecoptKernels();
  }
}
