// tfjs's cpu 2-D convolutions by im2col and specopt's GEMM: Conv2D, its two gradients
// (Conv2DBackpropInput, Conv2DBackpropFilter) and FusedConv2D, for channels-last (NHWC) float32
// tensors, every stride, padding ('valid', 'same', explicit) and, forward, dilation tfjs takes.
// tfjs's kernels are element loops (its filter gradient reads every element through
// TensorBuffer.get): one filter gradient of a small MNIST CNN took 7.5 s there. NCHW and other
// dtypes go to tfjs's kernels.
//
// With the im2col matrix X̂ ((batch·outH·outW) × (fh·fw·inC): row (b, y, x) holds the input patch
// under the filter at output (y, x), zeros in the padding, in the filter's own (fh, fw, inC)
// order), the forward pass is X̂·W, the filter gradient X̂ᵀ·dY and the input gradient the
// patches of dY·Wᵀ added back where they came from (col2im). Results differ from tfjs's by
// float32 rounding: GEMM accumulates in float32, tfjs in float32 (forward) or float64 (gradients).
import { matmul } from '../../index.js';
import { tf } from '../tf.js';
import { attr, floats, original, size, type CpuBackend, type KernelArgs } from './cpu.js';
import { biasAndActivation } from './matmul.js';

import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/** At most this many floats of im2col matrix at a time (64 MiB): larger batches go in chunks of images. */
const COLUMN_FLOATS = 1 << 24;

interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** tfjs's own geometry (and its errors) for the kernel's attributes, or null for what stays tfjs's. */
function geometry(xShape: number[], filterShape: number[], attrs: KernelArgs['attrs'], dilations: number | [number, number]): ConvGeometry | null {
  const dataFormat = tf.backend_util.convertConv2DDataFormat((attr(attrs, 'dataFormat') as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC');
  // NCHW, and a filter whose input channels are not x's (tfjs's op refuses it before the kernel).
  if (dataFormat !== 'channelsLast' || filterShape[2] !== xShape[3]) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attr(attrs, 'strides') as number | [number, number],
    dilations,
    attr(attrs, 'pad') as 'valid' | 'same' | number,
    attr(attrs, 'dimRoundingMode') as 'floor' | 'round' | 'ceil' | undefined,
    false,
    dataFormat,
  );
  return { ...info, padTop: info.padInfo.top, padLeft: info.padInfo.left };
}

/** Rows per image of the im2col matrix, and its columns. */
const rowsPerImage = (g: ConvGeometry) => g.outHeight * g.outWidth;
const patch = (g: ConvGeometry) => g.filterHeight * g.filterWidth * g.inChannels;

/** Images per chunk so that a chunk's im2col matrix stays under COLUMN_FLOATS (at least one). */
const imagesPerChunk = (g: ConvGeometry) => Math.max(1, Math.min(g.batchSize, Math.floor(COLUMN_FLOATS / Math.max(1, rowsPerImage(g) * patch(g)))));

/** The NHWC output shape (dY's shape for the gradients). */
const outShapeOf = (g: ConvGeometry) => [g.batchSize, g.outHeight, g.outWidth, g.outChannels];

/** The rows of images [first, first + count) of an NHWC tensor's values, `channels` floats per position. */
const imageRows = (values: Float32Array, g: ConvGeometry, first: number, count: number, channels: number) =>
  values.subarray(first * rowsPerImage(g) * channels, (first + count) * rowsPerImage(g) * channels);

/**
 * Calls f(first, count, cols) for each chunk of imagesPerChunk(g) images (fewer in the last), with
 * `cols` a (count·outH·outW) × patch buffer for the chunk's im2col matrix (one for all chunks).
 */
function forEachChunk(g: ConvGeometry, f: (first: number, count: number, cols: Float32Array) => void): void {
  const chunk = imagesPerChunk(g);
  const buffer = new Float32Array(chunk * rowsPerImage(g) * patch(g));
  for (let first = 0; first < g.batchSize; first += chunk) {
    const count = Math.min(chunk, g.batchSize - first);
    f(first, count, buffer.subarray(0, count * rowsPerImage(g) * patch(g)));
  }
}

/** True when X̂ is x itself: a 1×1 filter, stride 1, no padding. */
const isPointwise = (g: ConvGeometry) =>
  g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0 && g.outHeight === g.inHeight && g.outWidth === g.inWidth;

/**
 * Calls run(to, from, length) for every run of X̂ (images [first, first + count)) that is a copy
 * of `length` contiguous floats of x (from) into X̂ (to), and skip(to, length) for every run over
 * padding. Along a filter row without dilation the taps are neighbours in x, so each run is
 * filterWidth·inChannels floats, cut where the row crosses the padding.
 */
function forEachRun(g: ConvGeometry, first: number, count: number, run: (to: number, from: number, length: number) => void, skip: (to: number, length: number) => void): void {
  const { inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft } = g;
  const width = filterHeight * filterWidth * c;
  const tap = dilationWidth === 1 ? filterWidth : 1; // taps per run
  let row = 0;
  for (let b = first; b < first + count; b++) {
    const image = b * inHeight * inWidth * c;
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, row++) {
        let to = row * width;
        for (let fy = 0; fy < filterHeight; fy++) {
          const iy = oy * strideHeight - padTop + fy * dilationHeight;
          if (iy < 0 || iy >= inHeight) {
            skip(to, filterWidth * c);
            to += filterWidth * c;
            continue;
          }
          for (let fx = 0; fx < filterWidth; fx += tap) {
            const ix0 = ox * strideWidth - padLeft + fx * dilationWidth;
            // The taps [fx, fx + tap) cover x columns [ix0, ix0 + tap) (dilation 1) or ix0 alone.
            const lo = Math.max(0, -ix0), hi = Math.min(tap, inWidth - ix0);
            if (lo > 0) skip(to, Math.min(lo, tap) * c);
            if (hi > lo) run(to + lo * c, image + (iy * inWidth + ix0 + lo) * c, (hi - lo) * c);
            if (hi < tap) skip(to + Math.max(hi, lo) * c, (tap - Math.max(hi, lo)) * c);
            to += tap * c;
          }
        }
      }
    }
  }
}

/** X̂ for images [first, first + count) of x into `cols` (zeros where the filter is over padding). */
function im2col(g: ConvGeometry, x: Float32Array, first: number, count: number, cols: Float32Array): void {
  forEachRun(
    g,
    first,
    count,
    (to, from, length) => {
      for (let k = 0; k < length; k++) cols[to + k] = x[from + k];
    },
    (to, length) => {
      for (let k = 0; k < length; k++) cols[to + k] = 0;
    },
  );
}

/** Adds the patches in `cols` (images [first, first + count)) back into dx, where im2col took them from. */
function col2im(g: ConvGeometry, cols: Float32Array, first: number, count: number, dx: Float64Array): void {
  forEachRun(
    g,
    first,
    count,
    (to, from, length) => {
      for (let k = 0; k < length; k++) dx[from + k] += cols[to + k];
    },
    () => {},
  );
}

/** y = conv(x, w) as NHWC values, or null when the case is tfjs's. */
function convolve(backend: CpuBackend, x: TensorInfo | undefined, filter: TensorInfo | undefined, attrs: KernelArgs['attrs']): { values: Float32Array; shape: number[] } | null {
  const xv = floats(backend, x), wv = floats(backend, filter);
  if (xv === null || wv === null || x!.shape.length !== 4 || filter!.shape.length !== 4) return null;
  const g = geometry(x!.shape, filter!.shape, attrs, (attr(attrs, 'dilations') as number | [number, number] | undefined) ?? 1);
  if (g === null) return null;
  const shape = outShapeOf(g);
  const y = new Float32Array(size(shape));
  const width = patch(g), n = g.outChannels;
  if (y.length === 0 || width === 0) return { values: y, shape };
  const W = { rows: width, cols: n, data: wv };
  if (isPointwise(g)) {
    matmul({ rows: g.batchSize * rowsPerImage(g), cols: width, data: xv }, W, { out: { rows: g.batchSize * rowsPerImage(g), cols: n, data: y } });
    return { values: y, shape };
  }
  forEachChunk(g, (first, count, cols) => {
    const rows = count * rowsPerImage(g);
    im2col(g, xv, first, count, cols);
    matmul({ rows, cols: width, data: cols }, W, { out: { rows, cols: n, data: imageRows(y, g, first, count, n) } });
  });
  return { values: y, shape };
}

function conv2D(args: KernelArgs): TensorInfo | TensorInfo[] {
  const y = convolve(args.backend as CpuBackend, args.inputs.x, args.inputs.filter, args.attrs);
  if (y === null) return original('Conv2D', args);
  return (args.backend as CpuBackend).makeTensorInfo(y.shape, 'float32', y.values);
}

function fusedConv2D(args: KernelArgs): TensorInfo | TensorInfo[] {
  const y = convolve(args.backend as CpuBackend, args.inputs.x, args.inputs.filter, args.attrs);
  if (y === null) return original('FusedConv2D', args);
  return biasAndActivation('FusedConv2D', args, y.values, y.shape);
}

/** dW = X̂ᵀ·dY, summed over chunks of images. */
function conv2DBackpropFilter(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { x, dy } = args.inputs;
  const xv = floats(backend, x), dyv = floats(backend, dy);
  const filterShape = attr(args.attrs, 'filterShape') as number[] | undefined;
  if (xv === null || dyv === null || x!.shape.length !== 4 || dy!.shape.length !== 4 || filterShape?.length !== 4) return original('Conv2DBackpropFilter', args);
  const g = geometry(x!.shape, filterShape, args.attrs, 1);
  if (g === null || dy!.shape.some((d, i) => d !== outShapeOf(g)[i])) return original('Conv2DBackpropFilter', args);
  const width = patch(g), n = g.outChannels;
  const dw = new Float32Array(width * n);
  if (dw.length === 0 || dyv.length === 0) return backend.makeTensorInfo(filterShape.slice(), 'float32', dw);
  const out = { rows: width, cols: n, data: dw };
  if (isPointwise(g)) {
    const rows = g.batchSize * rowsPerImage(g);
    matmul({ rows, cols: width, data: xv }, { rows, cols: n, data: dyv }, { transA: true, out });
    return backend.makeTensorInfo(filterShape.slice(), 'float32', dw);
  }
  forEachChunk(g, (first, count, cols) => {
    const rows = count * rowsPerImage(g);
    im2col(g, xv, first, count, cols);
    const dY = { rows, cols: n, data: imageRows(dyv, g, first, count, n) };
    matmul({ rows, cols: width, data: cols }, dY, { transA: true, beta: first === 0 ? 0 : 1, out });
  });
  return backend.makeTensorInfo(filterShape.slice(), 'float32', dw);
}

/** dX = col2im(dY·Wᵀ), chunk by chunk of images. */
function conv2DBackpropInput(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { dy, filter } = args.inputs;
  const dyv = floats(backend, dy), wv = floats(backend, filter);
  const inputShape = attr(args.attrs, 'inputShape') as number[] | undefined;
  if (dyv === null || wv === null || dy!.shape.length !== 4 || filter!.shape.length !== 4 || inputShape?.length !== 4) return original('Conv2DBackpropInput', args);
  const g = geometry(inputShape, filter!.shape, args.attrs, 1);
  if (g === null || dy!.shape.some((d, i) => d !== outShapeOf(g)[i])) return original('Conv2DBackpropInput', args);
  const width = patch(g), n = g.outChannels;
  const W = { rows: width, cols: n, data: wv };
  if (isPointwise(g)) {
    const rows = g.batchSize * rowsPerImage(g);
    const dx = new Float32Array(rows * width);
    if (dx.length > 0 && n > 0) matmul({ rows, cols: n, data: dyv }, W, { transB: true, out: { rows, cols: width, data: dx } });
    return backend.makeTensorInfo(inputShape.slice(), 'float32', dx);
  }
  const dx = new Float64Array(size(inputShape));
  if (dx.length > 0 && dyv.length > 0 && width > 0) {
    forEachChunk(g, (first, count, cols) => {
      const rows = count * rowsPerImage(g);
      matmul({ rows, cols: n, data: imageRows(dyv, g, first, count, n) }, W, { transB: true, out: { rows, cols: width, data: cols } });
      col2im(g, cols, first, count, dx);
    });
  }
  return backend.makeTensorInfo(inputShape.slice(), 'float32', new Float32Array(dx));
}

/** The convolution kernels, by tfjs kernel name. */
export const CONV_KERNELS: [string, KernelFunc][] = [
  ['Conv2D', conv2D as unknown as KernelFunc],
  ['FusedConv2D', fusedConv2D as unknown as KernelFunc],
  ['Conv2DBackpropFilter', conv2DBackpropFilter as unknown as KernelFunc],
  ['Conv2DBackpropInput', conv2DBackpropInput as unknown as KernelFunc],
];
