// The golden trajectories recorded from PyTorch's own torch.optim classes
// (test/fixtures/torch-optim-goldens.json, made by test/fixtures/make_optim_goldens.py): their
// shape, and the decoding of their arrays (base64 of little-endian IEEE bytes, row-major).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Matrix, createOptimizer, type RuleName } from '../src/index.js';

export interface GoldenRun {
  dtype: 'float32' | 'float64';
  defaultDtype?: string;
  /** Muon: the precision of torch's Newton-Schulz iteration in this run. */
  ns?: string;
  /** The parameter after each step. */
  w: string;
}

export interface GoldenCase {
  id: string;
  rule: string;
  label: string;
  hyper: Record<string, unknown>;
  shape: [number, number];
  steps: number;
  w0: string;
  grads: string;
  runs: GoldenRun[];
}

export const GOLDENS = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torch-optim-goldens.json'), 'utf8')) as {
  torch: string;
  cases: GoldenCase[];
  torchDefaults: Record<string, Record<string, unknown>>;
};

/** A fixture array as the typed array of its dtype (its own aligned copy). */
export function decodeGolden(b64: string, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const copy = new Uint8Array(Buffer.from(b64, 'base64'));
  return dtype === 'float32' ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
}

/** Another golden fixture of test/fixtures (goldens-<rule>.json), parsed. */
export function readGoldens<T>(file: string): T {
  return JSON.parse(readFileSync(join(__dirname, 'fixtures', file), 'utf8')) as T;
}

/** A golden run's inputs: the rule, its shape and step count, w0 and the gradients (float32). */
export interface GoldenInputs {
  rule: string;
  shape: [number, number];
  steps: number;
  w0: string;
  grads: string;
}

/**
 * Steps the native `rule` with `hyper` from the case's w0 through its gradients, against the
 * reference's runs w32 (float32, or its values widened) and w64 (float64), one row of rows·cols
 * values per step. `units`: the worst |W − w32_t|∞ over the steps in units of u·S_t, S_t the sum
 * over steps ≤ t of max|w64_t| + max|w64_t − w64_{t−1}| (u = 2⁻²⁴; NaN counts as Infinity);
 * `moved`: max|w64_T − w0|; `exact`: the fraction of entries equal to w32 bit for bit.
 */
export function nativeGoldenUnits(
  c: GoldenInputs,
  hyper: Record<string, unknown>,
  w32: ArrayLike<number>,
  w64: Float64Array,
): { units: number; moved: number; scale: number; exact: number } {
  const U = 2 ** -24;
  const [rows, cols] = c.shape;
  const n = rows * cols;
  const grads = decodeGolden(c.grads, 'float32') as Float32Array;
  const opt = createOptimizer(c.rule as RuleName, hyper as never);
  const param = new Matrix(rows, cols, decodeGolden(c.w0, 'float32') as Float32Array);
  const w0 = Float64Array.from(param.data);
  const state = opt.init(param);
  let scale = 0, worst = 0, exact = 0;
  let prev = w0;
  for (let t = 0; t < c.steps; t++) {
    opt.step(param, new Matrix(rows, cols, grads.slice(t * n, (t + 1) * n)), state);
    const ref64 = w64.subarray(t * n, (t + 1) * n);
    let wInf = 0, dInf = 0, err = 0;
    for (let i = 0; i < n; i++) {
      wInf = Math.max(wInf, Math.abs(ref64[i]));
      dInf = Math.max(dInf, Math.abs(ref64[i] - prev[i]));
      err = Math.max(err, Math.abs(param.data[i] - w32[t * n + i]));
      if (param.data[i] === w32[t * n + i]) exact++;
    }
    prev = Float64Array.from(ref64);
    scale += wInf + dInf;
    worst = Math.max(worst, Number.isNaN(err) ? Infinity : err / (U * scale));
  }
  let moved = 0;
  for (let i = 0; i < n; i++) moved = Math.max(moved, Math.abs(prev[i] - w0[i]));
  return { units: worst, moved, scale, exact: exact / (n * c.steps) };
}
