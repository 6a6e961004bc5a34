// registerSpecoptKernels's convolutions (im2col + GEMM) and MaxPoolGrad. Convolutions and their two
// gradients are compared with float64 convolutions computed here and with tfjs's own kernels on
// the same inputs: both must lie within the float32 bound of a K-term dot product,
// |y − ŷ| ≤ (K + 2)·u·Σ|terms| with u = 2⁻²⁴, which a wrong tap, padding, stride or channel
// exceeds by orders of magnitude. MaxPoolGrad must be tfjs's bit for bit (it only routes and adds
// gradients, in tfjs's order).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { U, seededRandom, useCpuBackend, values, withKernels } from './tfjs-helpers.js';

useCpuBackend();
const random = seededRandom(11);

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dilations: number | [number, number];
}

const CASES: Case[] = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid', dilations: 1 },
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same', dilations: 1 },
  { x: [1, 9, 8, 2], filter: [2, 3, 2, 5], strides: [2, 1], pad: 'same', dilations: 1 },
  { x: [3, 5, 5, 1], filter: [1, 1, 1, 6], strides: 1, pad: 'valid', dilations: 1 }, // pointwise: X̂ is x
  { x: [1, 5, 5, 4], filter: [1, 1, 4, 3], strides: 2, pad: 'valid', dilations: 1 },
  { x: [1, 6, 6, 2], filter: [3, 3, 2, 3], strides: 1, pad: 1, dilations: 1 },
  { x: [1, 6, 7, 2], filter: [3, 2, 2, 3], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]], dilations: 1 },
  { x: [1, 4, 4, 2], filter: [5, 5, 2, 3], strides: 1, pad: 'same', dilations: 1 }, // filter wider than x
  { x: [1, 3, 3, 1], filter: [3, 3, 1, 1], strides: 1, pad: 'valid', dilations: 1 }, // one output
  { x: [2, 6, 5, 17], filter: [3, 2, 17, 3], strides: 1, pad: 'same', dilations: 1 },
  { x: [2, 8, 7, 3], filter: [3, 3, 3, 2], strides: 1, pad: 'same', dilations: 2 }, // dilation: forward only in tfjs
  { x: [1, 9, 9, 2], filter: [2, 3, 2, 2], strides: 1, pad: 'valid', dilations: [2, 3] },
];

/** Explicit padding (top, left) and output size, as tfjs computes them. */
function geometry(c: Case) {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad as never);
  return { ...info, top: info.padInfo.top, left: info.padInfo.left };
}

/** For every (output, tap) in bounds: f(b, oy, ox, fy, fx, iy, ix). */
function forTaps(c: Case, f: (b: number, oy: number, ox: number, fy: number, fx: number, iy: number, ix: number) => void): void {
  const g = geometry(c);
  for (let b = 0; b < g.batchSize; b++)
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++)
        for (let fy = 0; fy < g.filterHeight; fy++)
          for (let fx = 0; fx < g.filterWidth; fx++) {
            const iy = oy * g.strideHeight - g.top + fy * g.dilationHeight;
            const ix = ox * g.strideWidth - g.left + fx * g.dilationWidth;
            if (iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth) f(b, oy, ox, fy, fx, iy, ix);
          }
}

/** Largest error in units of the bound (≤ 1 passes). */
function worst(got: Float32Array, want: Float64Array, abs: Float64Array, k: number): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < got.length; i++) {
    const bound = (k + 2) * U * abs[i] + U * Math.abs(want[i]) + 1e-30;
    w = Math.max(w, Math.abs(got[i] - want[i]) / bound);
  }
  return w;
}

/** The float64 forward pass, input gradient and filter gradient for upstream gradient dy. */
function reference(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const g = geometry(c);
  const [, H, W, C] = c.x;
  const [FH, FW, , O] = c.filter;
  const OH = g.outHeight, OW = g.outWidth;
  const at = { x: (b: number, i: number, j: number, k: number) => ((b * H + i) * W + j) * C + k, w: (i: number, j: number, k: number, o: number) => ((i * FW + j) * C + k) * O + o, y: (b: number, i: number, j: number, o: number) => ((b * OH + i) * OW + j) * O + o };
  const y = new Float64Array(dy.length), yAbs = new Float64Array(dy.length);
  const dx = new Float64Array(x.length), dxAbs = new Float64Array(x.length);
  const dw = new Float64Array(w.length), dwAbs = new Float64Array(w.length);
  forTaps(c, (b, oy, ox, fy, fx, iy, ix) => {
    for (let k = 0; k < C; k++) {
      const xv = x[at.x(b, iy, ix, k)];
      for (let o = 0; o < O; o++) {
        const wv = w[at.w(fy, fx, k, o)], d = dy[at.y(b, oy, ox, o)];
        y[at.y(b, oy, ox, o)] += xv * wv;
        yAbs[at.y(b, oy, ox, o)] += Math.abs(xv * wv);
        dx[at.x(b, iy, ix, k)] += d * wv;
        dxAbs[at.x(b, iy, ix, k)] += Math.abs(d * wv);
        dw[at.w(fy, fx, k, o)] += xv * d;
        dwAbs[at.w(fy, fx, k, o)] += Math.abs(xv * d);
      }
    }
  });
  return { y, yAbs, dx, dxAbs, dw, dwAbs, kY: FH * FW * C, kX: FH * FW * O, kW: c.x[0] * OH * OW };
}

const name = (c: Case) => `x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)} dilations ${JSON.stringify(c.dilations)}`;

/** Forward and (dilation 1) both gradients, with tfjs's kernels or with specopt's. */
function run(c: Case, x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D) {
  const conv = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.conv2d(xx, ww, c.strides, c.pad as never, 'NHWC', c.dilations);
  const y = conv(x, w);
  const gradients = c.dilations === 1 ? tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv(xx as tf.Tensor4D, ww as tf.Tensor4D), dy)))([x, w]) : null;
  return { y, dx: gradients?.[0] ?? null, dw: gradients?.[1] ?? null };
}

describe('Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter by im2col + GEMM', () => {
  it(`match the float64 convolution, and tfjs's own kernels, within float32 rounding: ${CASES.length} geometries`, () => {
    let oursWorst = 0;
    for (const c of CASES) {
      const x = random(c.x) as tf.Tensor4D, w = random(c.filter) as tf.Tensor4D;
      const outShape = geometry(c).outShape;
      const dy = random(outShape) as tf.Tensor4D;
      const ref = reference(c, values(x), values(w), values(dy));
      const theirs = run(c, x, w, dy);
      const ours = withKernels(() => run(c, x, w, dy));
      expect(ours.y.shape, name(c)).toEqual(outShape);
      const checks: [string, tf.Tensor | null, tf.Tensor | null, Float64Array, Float64Array, number][] = [
        ['forward', ours.y, theirs.y, ref.y, ref.yAbs, ref.kY],
        ['input gradient', ours.dx, theirs.dx, ref.dx, ref.dxAbs, ref.kX],
        ['filter gradient', ours.dw, theirs.dw, ref.dw, ref.dwAbs, ref.kW],
      ];
      for (const [what, o, t, want, abs, k] of checks) {
        if (o === null || t === null) continue;
        const err = worst(values(o), want, abs, k);
        expect(err, `${what}: ${name(c)}`).toBeLessThanOrEqual(1);
        expect(worst(values(t), want, abs, k), `tfjs ${what}: ${name(c)}`).toBeLessThanOrEqual(1);
        oursWorst = Math.max(oursWorst, err);
      }
      tf.dispose([x, w, dy, ...Object.values(theirs), ...Object.values(ours)].filter((t): t is tf.Tensor => t !== null));
    }
    console.log(`convolutions: worst error / bound: specopt ${oursWorst.toFixed(4)}`);
  });

  it('work in chunks of images when the im2col matrix would pass 2^24 floats (forward and both gradients)', () => {
    // 40 images of 64x64x16 with a 3x3 filter: 3,844 patches of 144 per image, 30 images per chunk.
    const c: Case = { x: [40, 64, 64, 16], filter: [3, 3, 16, 4], strides: 1, pad: 'valid', dilations: 1 };
    const x = random(c.x) as tf.Tensor4D, w = random(c.filter) as tf.Tensor4D, dy = random(geometry(c).outShape) as tf.Tensor4D;
    const ref = reference(c, values(x), values(w), values(dy));
    const ours = withKernels(() => run(c, x, w, dy));
    expect(worst(values(ours.y), ref.y, ref.yAbs, ref.kY)).toBeLessThanOrEqual(1);
    expect(worst(values(ours.dx!), ref.dx, ref.dxAbs, ref.kX)).toBeLessThanOrEqual(1);
    expect(worst(values(ours.dw!), ref.dw, ref.dwAbs, ref.kW)).toBeLessThanOrEqual(1);
    tf.dispose([x, w, dy, ours.y, ours.dx!, ours.dw!]);
  });

  it('FusedConv2D adds the bias and applies the activation as tfjs does', () => {
    const c: Case = { x: [2, 7, 6, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same', dilations: 1 };
    const x = random(c.x) as tf.Tensor4D, w = random(c.filter) as tf.Tensor4D, bias = random([4]);
    const ref = reference(c, values(x), values(w), new Float32Array(geometry(c).outShape.reduce((a, b) => a * b, 1)));
    const bv = values(bias);
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
      const args = { x, filter: w, strides: c.strides, pad: c.pad as 'same', bias, activation, leakyreluAlpha: 0.3 };
      const theirs = tf.fused.conv2d(args);
      const ours = withKernels(() => tf.fused.conv2d(args));
      const want = ref.y.map((v, i) => {
        const z = v + bv[i % 4];
        switch (activation) {
          case 'relu': return Math.max(0, z);
          case 'relu6': return Math.min(Math.max(0, z), 6);
          case 'elu': return z >= 0 ? z : Math.exp(z) - 1;
          case 'sigmoid': return 1 / (1 + Math.exp(-z));
          case 'leakyrelu': return z < 0 ? 0.3 * z : z;
          default: return z;
        }
      });
      const abs = ref.yAbs.map((v) => v + 1);
      expect(worst(values(ours), want, abs, ref.kY), activation).toBeLessThanOrEqual(1);
      expect(worst(values(theirs), want, abs, ref.kY), `tfjs ${activation}`).toBeLessThanOrEqual(1);
      tf.dispose([theirs, ours]);
    }
    tf.dispose([x, w, bias]);
  });

  it("leaves NCHW to tfjs's kernel: the same bits", () => {
    const x = random([2, 3, 6, 5]) as tf.Tensor4D, w = random([3, 3, 3, 4]) as tf.Tensor4D;
    const theirs = tf.conv2d(x, w, 1, 'same', 'NCHW');
    const ours = withKernels(() => tf.conv2d(x, w, 1, 'same', 'NCHW'));
    expect(Array.from(values(ours))).toEqual(Array.from(values(theirs)));
    tf.dispose([x, w, theirs, ours]);
  });
});

describe('MaxPoolGrad', () => {
  it("is tfjs's pooling gradient bit for bit: overlapping windows, padding, ties, NaN and -Infinity windows", () => {
    const cases: { shape: [number, number, number, number]; filter: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number }[] = [
      { shape: [2, 8, 8, 3], filter: 2, strides: 2, pad: 'valid' },
      { shape: [2, 7, 9, 3], filter: 3, strides: 1, pad: 'same' }, // overlapping: up to 9 terms per input
      { shape: [1, 9, 8, 2], filter: [2, 3], strides: [1, 2], pad: 'same' },
      { shape: [1, 5, 5, 4], filter: 3, strides: 2, pad: 1 },
      { shape: [64, 26, 26, 16], filter: 2, strides: 2, pad: 'valid' },
    ];
    for (const c of cases) {
      const n = c.shape.reduce((a, b) => a * b, 1);
      // Small integers: many ties inside windows; a few NaN and -Infinity entries.
      const v = new Float32Array(n).map((_, i) => ((i * 7919) % 13) - 6);
      for (let i = 0; i < n; i += 37) v[i] = i % 2 ? NaN : -Infinity;
      const x = tf.tensor(v, c.shape) as tf.Tensor4D;
      const pooled = tf.maxPool(x, c.filter, c.strides, c.pad);
      const dy = random(pooled.shape);
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, c.filter, c.strides, c.pad), dy));
      const theirs = tf.grad(f)(x);
      const ours = withKernels(() => tf.grad(f)(x));
      const a = values(theirs), b = values(ours);
      let mismatches = 0;
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) mismatches++;
      expect(mismatches, JSON.stringify(c)).toBe(0);
      expect(a.some((z) => z !== 0)).toBe(true);
      tf.dispose([x, pooled, dy, theirs, ours]);
    }
  });
});
