// registerSpecoptKernels: tfjs's cpu BatchMatMul and _FusedMatMul on specopt's GEMM (the
// elementwise, reduction and gather kernels are tested in tfjs-kernels-elementwise.test.ts). Every result
// is compared with a float64 product computed here and with tfjs's own kernel on the same inputs;
// both must lie within the float32 error bound of a k-term dot product,
// |C − Ĉ| ≤ (k + 2)·u·(|A|·|B|) with u = 2⁻²⁴ (plus, after bias and activation, one rounding of
// the sum: both are 1-Lipschitz here), which a wrong transpose, batch or bias index exceeds by
// orders of magnitude.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { SPECOPT_KERNEL_NAMES, registerSpecoptKernels, specoptKernelsRegistered, unregisterSpecoptKernels } from '../src/tfjs/index.js';
import { U, seededRandom, useCpuBackend, values, withKernels } from './tfjs-helpers.js';

useCpuBackend();
const random = seededRandom(1);

/** The index into a [n], [1, n], [m, n], [m, 1] or [1] operand of output entry (row, col). */
function broadcastIndex(shape: number[], row: number, col: number): number {
  const cols = shape[shape.length - 1];
  const r = shape.length === 2 && shape[0] !== 1 ? row : 0;
  return r * cols + (cols === 1 ? 0 : col);
}

/** The exact product (float64) and Σ|a||b| per entry, numpy broadcasting of the batch dimensions. */
function reference(a: tf.Tensor, b: tf.Tensor, transA: boolean, transB: boolean): { shape: number[]; exact: Float64Array; abs: Float64Array; k: number } {
  const as = a.shape, bs = b.shape;
  const [ar, ac] = as.slice(-2), [br, bc] = bs.slice(-2);
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const n = transB ? br : bc;
  const ao = as.slice(0, -2), bo = bs.slice(0, -2);
  const rank = Math.max(ao.length, bo.length);
  const pa = [...new Array(rank - ao.length).fill(1), ...ao], pb = [...new Array(rank - bo.length).fill(1), ...bo];
  const outer = pa.map((d, i) => Math.max(d, pb[i]));
  const batch = outer.reduce((x, y) => x * y, 1);
  const av = values(a), bv = values(b);
  const exact = new Float64Array(batch * m * n), abs = new Float64Array(batch * m * n);
  for (let q = 0; q < batch; q++) {
    let rest = q, ia = 0, ib = 0, sa = 1, sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = rest % outer[d];
      rest = Math.floor(rest / outer[d]);
      if (pa[d] !== 1) ia += idx * sa;
      if (pb[d] !== 1) ib += idx * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, t = 0;
        for (let l = 0; l < k; l++) {
          const x = av[ia * ar * ac + (transA ? l * ac + i : i * ac + l)];
          const y = bv[ib * br * bc + (transB ? j * bc + l : l * bc + j)];
          s += x * y;
          t += Math.abs(x * y);
        }
        exact[(q * m + i) * n + j] = s;
        abs[(q * m + i) * n + j] = t;
      }
    }
  }
  return { shape: [...outer, m, n], exact, abs, k };
}

/** Largest error in units of the bound (≤ 1 passes). */
function worst(got: Float32Array, want: Float64Array, abs: Float64Array, k: number, absScale = 1): number {
  let w = 0;
  for (let i = 0; i < got.length; i++) {
    const bound = (k + 2) * U * abs[i] * absScale + U * Math.abs(want[i]) + 1e-30;
    w = Math.max(w, Math.abs(got[i] - want[i]) / bound);
  }
  return w;
}

const CASES: { a: number[]; b: number[]; transA: boolean; transB: boolean; tfjsCorrect: boolean }[] = [];
for (const [m, k, n] of [
  [1, 1, 1],
  [7, 5, 3],
  [1, 33, 17],
  [31, 1, 9],
  [65, 130, 1],
  [100, 257, 45],
]) {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const A = transA ? [k, m] : [m, k];
      const B = transB ? [n, k] : [k, n];
      CASES.push({ a: A, b: B, transA, transB, tfjsCorrect: true });
      CASES.push({ a: [3, ...A], b: [3, ...B], transA, transB, tfjsCorrect: true });
      CASES.push({ a: [4, ...A], b: B, transA, transB, tfjsCorrect: true });
      CASES.push({ a: A, b: [2, ...B], transA, transB, tfjsCorrect: true });
      CASES.push({ a: [2, 3, ...A], b: [1, 3, ...B], transA, transB, tfjsCorrect: true });
      // tfjs's cpu kernel pairs batch q of the output with batch q % batchA of a and q % batchB of b,
      // which is numpy's broadcasting only when one side has one batch or both have the same;
      // here (a: [2, 1], b: [1, 3]) it is not, so only the float64 reference judges.
      CASES.push({ a: [2, 1, ...A], b: [1, 3, ...B], transA, transB, tfjsCorrect: false });
    }
  }
}

describe('BatchMatMul on specopt GEMM', () => {
  it('registers in place of tfjs cpu kernels, once, and unregisters back to them', () => {
    expect([...SPECOPT_KERNEL_NAMES].sort()).toEqual(
      ['Add', 'BatchMatMul', 'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Exp', 'FusedConv2D', 'GatherV2', 'Log', 'MaxPoolGrad', 'Multiply', 'Neg', 'RealDiv', 'Relu', 'Sigmoid', 'Softmax', 'Square', 'Step', 'Sub', 'Sum', 'Tanh', '_FusedMatMul'].sort(),
    );
    const before = new Map(SPECOPT_KERNEL_NAMES.map((name) => [name, tf.getKernel(name, 'cpu').kernelFunc]));
    registerSpecoptKernels();
    const ours = new Map(SPECOPT_KERNEL_NAMES.map((name) => [name, tf.getKernel(name, 'cpu').kernelFunc]));
    for (const name of SPECOPT_KERNEL_NAMES) expect(ours.get(name), name).not.toBe(before.get(name));
    expect(specoptKernelsRegistered()).toBe(true);
    registerSpecoptKernels();
    for (const name of SPECOPT_KERNEL_NAMES) expect(tf.getKernel(name, 'cpu').kernelFunc, name).toBe(ours.get(name));
    unregisterSpecoptKernels();
    for (const name of SPECOPT_KERNEL_NAMES) expect(tf.getKernel(name, 'cpu').kernelFunc, name).toBe(before.get(name));
    expect(specoptKernelsRegistered()).toBe(false);
  });

  it(`matches the float64 product, and tfjs's own kernel, within float32 rounding: ${CASES.length} shapes x transposes x batches`, () => {
    let oursWorst = 0, tfjsWorst = 0, tfjsWrong = 0;
    for (const c of CASES) {
      const a = random(c.a), b = random(c.b);
      const ref = reference(a, b, c.transA, c.transB);
      const theirs = tf.matMul(a, b, c.transA, c.transB);
      const ours = withKernels(() => tf.matMul(a, b, c.transA, c.transB));
      const what = `a [${c.a}] b [${c.b}] transA ${c.transA} transB ${c.transB}`;
      expect(ours.shape, what).toEqual(ref.shape);
      const w = worst(values(ours), ref.exact, ref.abs, ref.k);
      expect(w, what).toBeLessThanOrEqual(1);
      oursWorst = Math.max(oursWorst, w);
      const t = worst(values(theirs), ref.exact, ref.abs, ref.k);
      if (c.tfjsCorrect) {
        expect(t, `tfjs: ${what}`).toBeLessThanOrEqual(1);
        tfjsWorst = Math.max(tfjsWorst, t);
      } else if (t > 1) tfjsWrong++;
      tf.dispose([a, b, theirs, ours]);
    }
    // Both well inside the bound; tfjs's cpu kernel gets the 2x3-from-2x1-and-1x3 batches wrong.
    console.log(`BatchMatMul: worst error / bound: specopt ${oursWorst.toFixed(4)}, tfjs ${tfjsWorst.toFixed(4)}; tfjs wrong on ${tfjsWrong} of the [2,1] x [1,3] batch cases`);
    expect(tfjsWrong).toBeGreaterThan(0);
  });

  it("hands int32 products, empty shapes and mismatched shapes to tfjs's kernel (same values, same errors)", () => {
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    const b = tf.tensor2d([7, 8, 9, 10, 11, 12], [3, 2], 'int32');
    const want = Array.from(tf.matMul(a, b).dataSync());
    const got = withKernels(() => tf.matMul(a, b));
    expect(got.dtype).toBe('int32');
    expect(Array.from(got.dataSync())).toEqual(want);
    const e = withKernels(() => tf.matMul(tf.zeros([0, 3]), tf.ones([3, 4])));
    expect(e.shape).toEqual([0, 4]);
    const z = withKernels(() => tf.matMul(tf.zeros([2, 0]), tf.ones([0, 4])));
    expect(Array.from(z.dataSync())).toEqual(new Array(8).fill(0));
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    const bad = () => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]));
    const badBatch = () => tf.matMul(tf.ones([2, 2, 3]), tf.ones([3, 3, 2]));
    expect(withKernels(() => message(bad))).toBe(message(bad));
    expect(withKernels(() => message(badBatch))).toBe(message(badBatch));
    expect(message(bad)).toMatch(/inner shapes/);
  });
});

describe('_FusedMatMul on specopt GEMM', () => {
  const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;

  it('matches tfjs for every bias form and fused activation, within float32 rounding of the product', () => {
    let oursWorst = 0;
    for (const [m, k, n] of [
      [9, 17, 5],
      [1, 64, 33],
      [40, 3, 1],
    ]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = random(transA ? [k, m] : [m, k]);
          const b = random(transB ? [n, k] : [k, n]);
          const ref = reference(a, b, transA, transB);
          // [n] and [1, n]: the fast path; [m, n]: elementwise; [m, 1]: tfjs's Add broadcasts it.
          for (const biasShape of [null, [n], [1, n], [m, n], [m, 1], [1]]) {
            const bias = biasShape ? random(biasShape) : undefined;
            const bv = bias ? values(bias) : null;
            for (const activation of ACTIVATIONS) {
              // prelu's weights: per column (fast path) and per entry (tfjs's Prelu kernel).
              for (const alphaShape of activation === 'prelu' ? [[n], [m, n], [1]] : [null]) {
                const alpha = alphaShape ? tf.abs(random(alphaShape)) : undefined;
                const args = { a, b, transposeA: transA, transposeB: transB, bias, activation, preluActivationWeights: alpha, leakyreluAlpha: 0.3 };
                const theirs = tf.fused.matMul(args);
                const ours = withKernels(() => tf.fused.matMul(args));
                const what = `${m}x${k}x${n} transA ${transA} transB ${transB} bias [${biasShape}] ${activation} alpha [${alphaShape}]`;
                expect(ours.shape, what).toEqual(theirs.shape);
                // The float64 pre-activation with bias, then the activation in float64.
                const av = alpha ? values(alpha) : null;
                const want = new Float64Array(ref.exact.length);
                for (let i = 0; i < want.length; i++) {
                  const row = Math.floor(i / n), col = i % n;
                  let x = ref.exact[i];
                  if (bv) x += bv[broadcastIndex(biasShape!, row, col)];
                  const aOf = av ? av[broadcastIndex(alphaShape!, row, col)] : 0;
                  switch (activation) {
                    case 'relu': x = Math.max(0, x); break;
                    case 'relu6': x = Math.min(Math.max(0, x), 6); break;
                    case 'elu': x = x >= 0 ? x : Math.exp(x) - 1; break;
                    case 'sigmoid': x = 1 / (1 + Math.exp(-x)); break;
                    case 'leakyrelu': x = x < 0 ? 0.3 * x : x; break;
                    case 'prelu': x = x < 0 ? aOf * x : x; break;
                  }
                  want[i] = x;
                }
                // The bias's own rounding: one more u per entry (|bias| ≤ 1 ≤ the bound's scale).
                const absWithBias = ref.abs.map((v) => v + (bv ? 1 : 0));
                const w = worst(values(ours), want, absWithBias, ref.k);
                expect(w, what).toBeLessThanOrEqual(1);
                expect(worst(values(theirs), want, absWithBias, ref.k), `tfjs: ${what}`).toBeLessThanOrEqual(1);
                oursWorst = Math.max(oursWorst, w);
                tf.dispose([theirs, ours]);
                if (alpha) alpha.dispose();
              }
            }
            if (bias) bias.dispose();
          }
          tf.dispose([a, b]);
        }
      }
    }
    console.log(`_FusedMatMul: worst error / bound: specopt ${oursWorst.toFixed(4)}`);
  });

  it('is bit-identical to tfjs for bias and activation when the product is exact in both (small integers)', () => {
    // Small integers: every product and sum is exact in float32, so any difference would come
    // from the bias or the activation.
    const ints = (shape: number[]) => tf.tensor(Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => ((i * 7) % 11) - 5), shape);
    const a = ints([6, 8]), b = ints([8, 5]), bias = tf.tensor1d([0.1, -0.7, 0.3, 1e-3, -2.5]);
    for (const activation of ACTIVATIONS) {
      const alpha = activation === 'prelu' ? tf.tensor1d([0.2, 0.5, 0.01, 0.9, 0.3]) : undefined;
      const args = { a, b, bias, activation, preluActivationWeights: alpha, leakyreluAlpha: 0.3 };
      const theirs = tf.fused.matMul(args);
      const ours = withKernels(() => tf.fused.matMul(args));
      expect(Array.from(values(ours)), activation).toEqual(Array.from(values(theirs)));
    }
  });

  it('gives the same gradients as tfjs through a fused dense layer with relu and bias', () => {
    const x = random([16, 30]), w = random([30, 12]), bias = random([12]);
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.fused.matMul({ a: xx, b: ww, bias: bb, activation: 'relu' }), tf.range(0, 12).add(1)));
    const theirs = tf.grads(f)([x, w, bias]);
    const ours = withKernels(() => tf.grads(f)([x, w, bias]));
    for (let i = 0; i < 3; i++) {
      const t = values(theirs[i]), o = values(ours[i]);
      let rel = 0;
      for (let j = 0; j < t.length; j++) rel = Math.max(rel, Math.abs(t[j] - o[j]) / (Math.abs(t[j]) + 1));
      // Each gradient entry is a sum of ≤ 30 products of O(1) terms, scaled by ≤ 12: float32 rounding.
      expect(rel, `gradient ${i}`).toBeLessThan(1e-5);
    }
  });
});
