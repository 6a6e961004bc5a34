// Helpers for test/optim.test.ts: seeded gradient sequences, the native-vs-reference cross-check
// with its accumulated-rounding tolerance, and byte snapshots of (param, state) pairs.
//
// The cross-check runs the native optimizer (float32 weights, float32 arithmetic) and the float64
// reference (src/reference/optim, float64 weights kept separately) on the same float32 gradients,
// and measures after every step
//
//     units_t = max_i |w32_i − w64_i| / (u · S_t),   S_t = Σ_{s ≤ t} (‖w64_s‖∞ + ‖Δw64_s‖∞),
//
// u = 2⁻²⁴ the float32 unit roundoff. Why this scale: each float32 step rounds the new weight
// (≤ u·|w|) and computes the update through a few float32 operations, each adding a relative error
// ≤ u (so ≤ k·u·|Δw| for a k-operation update); in rules where the error of w does not grow
// from step to step (every rule here: decay factors are ≤ 1, and adaptive denominators are
// continuous in G), these per-step errors add up, so the total after t steps is ≤ k·u·S_t. The
// test then asserts units ≤ K with a per-family K (the "k" above, with headroom), stated in
// optim.test.ts. A mis-specified update (lr off by 1%, a beta off by 0.01, a missing bias
// correction) moves w by ~1e-2·Σ|Δw| or more, which is ≥ 1e3 units for the learning rates used.

import { expect } from 'vitest';

import { Matrix, createOptimizer, type OptimizerState } from '../src/index.js';
import { COMMON, DEFAULTS, type RuleName } from '../src/optim/defaults.js';
import { RULE_SPECS } from '../src/optim/rules/index.js';
import { referenceOptimizer, type RefOptimizer, type RefState } from '../src/reference/optim/index.js';
import { maxAbsDiff } from './helpers.js';
import { rng } from './reference-helpers.js';

export { maxAbsDiff, rng };

/** Unit roundoff of float32: 2⁻²⁴ ≈ 5.96e-8. */
export const U32 = 2 ** -24;


export type GradMode =
  /** randn · s_t with s_t = 10^U(−2, 1): magnitudes vary by three decades from step to step. */
  | 'varied'
  /** sign(x)·(1 + |x|)·s_t, s_t = 10^U(−1, 0.5): every |g| ≥ 0.1, signs change between steps. */
  | 'awayFromZero'
  /** Like 'awayFromZero' but each entry keeps one sign over all steps (momentum never crosses 0). */
  | 'fixedSign';

/** `steps` float32 gradients for a rows x cols parameter, seeded (Matrix.randn), rescaled per step. */
export function gradients(rows: number, cols: number, steps: number, seed: number, mode: GradMode = 'varied'): Matrix[] {
  const r = rng(seed * 7919 + 17);
  const signs = Matrix.randn(rows, cols, seed * 1000 + 999).data;
  const out: Matrix[] = [];
  for (let t = 0; t < steps; t++) {
    const g = Matrix.randn(rows, cols, seed * 1000 + t);
    if (mode === 'varied') {
      const s = 10 ** (-2 + 3 * r());
      for (let i = 0; i < g.data.length; i++) g.data[i] = g.data[i]! * s;
    } else {
      const s = 10 ** (-1 + 1.5 * r());
      for (let i = 0; i < g.data.length; i++) {
        const x = g.data[i]!;
        const sign = mode === 'fixedSign' ? Math.sign(signs[i]!) || 1 : Math.sign(x) || 1;
        g.data[i] = sign * (1 + Math.abs(x)) * s;
      }
    }
    out.push(g);
  }
  return out;
}

/**
 * The full hyperparameter object the reference takes: defaults.ts values, common options,
 * overrides, and a variant's own defaults (adafactor's 'torch') where the overrides leave them.
 */
export function fullHyper(name: RuleName, hyper: Record<string, unknown> = {}): Record<string, unknown> {
  const full: Record<string, unknown> = { ...DEFAULTS[name], ...COMMON, ...hyper };
  const variant = RULE_SPECS[name].variants?.[full.variant as string];
  if (variant) for (const [key, value] of Object.entries(variant.defaults)) if (!(key in hyper)) full[key] = value;
  return full;
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]!);
    if (!(v <= m)) m = Number.isFinite(v) ? v : Infinity;
  }
  return m;
}


export interface CrossReport {
  /** max over steps of err_t / (u·S_t) (see the header). */
  units: number;
  /** The step (1-based) where `units` was reached, and the error there. */
  step: number;
  err: number;
  /** S at the last step, and the final max |w32 − w64|. */
  scale: number;
  finalErr: number;
  /** max |w64_final − w0|: how far the parameter moved (a cross-check of a rule that does nothing proves little). */
  moved: number;
  /** Every gradient was left bit for bit as it was by the native step. */
  gradsUntouched: boolean;
}

export interface CrossOptions {
  steps?: number;
  seed?: number;
  mode?: GradMode;
  /** Replace the reference (a deliberately mis-specified one, say). */
  reference?: RefOptimizer;
  /** Initial parameter: Matrix.randn(rows, cols, seed + 100) times this (default 1). */
  initScale?: number;
}

/** Runs the native optimizer and the float64 reference side by side (see the header). */
export function crossCheck(
  name: RuleName,
  hyper: Record<string, unknown>,
  rows: number,
  cols: number,
  options: CrossOptions = {},
): CrossReport {
  const steps = options.steps ?? 20;
  const seed = options.seed ?? 1;
  const grads = gradients(rows, cols, steps, seed, options.mode ?? 'varied');
  const opt = createOptimizer(name, hyper as never);
  const param = Matrix.randn(rows, cols, seed + 100);
  if (options.initScale !== undefined) for (let i = 0; i < param.data.length; i++) param.data[i] = param.data[i]! * options.initScale;
  const w0 = Float64Array.from(param.data);
  const w64 = Float64Array.from(param.data);
  const ref = options.reference ?? referenceOptimizer(name, fullHyper(name, hyper));
  const refState = ref.init(rows, cols);
  const state = opt.init(param);
  let scale = 0;
  const report: CrossReport = { units: 0, step: 0, err: 0, scale: 0, finalErr: 0, moved: 0, gradsUntouched: true };
  for (let t = 0; t < steps; t++) {
    const before = w64.slice();
    const g = grads[t]!.data.slice();
    opt.step(param, grads[t]!, state);
    if (!sameBits(g, grads[t]!.data)) report.gradsUntouched = false;
    ref.step(w64, Float64Array.from(grads[t]!.data), rows, cols, refState);
    if (name === 'soap' && t === 0) shareSoapBases(state, refState);
    scale += maxAbs(w64) + maxAbsDiff(w64, before);
    const err = maxAbsDiff(param.data, w64);
    const units = err / (U32 * scale);
    if (!(units <= report.units)) Object.assign(report, { units: Number.isNaN(units) ? Infinity : units, step: t + 1, err });
    report.finalErr = err;
  }
  report.scale = scale;
  report.moved = maxAbsDiff(w64, w0);
  return report;
}

/**
 * SOAP's first call sets its eigenbases from a statistic that is rank-deficient on non-square
 * shapes; the basis of its null space is not determined, and float32 LAPACK and the float64
 * Jacobi legitimately pick different ones (ALGORITHMS.md). The reference gets the native bases
 * (rounded float32 values, still orthonormal to ~1e-7) so that the steps after can be compared.
 */
export function shareSoapBases(native: OptimizerState, ref: RefState): void {
  if (native.arrays.leftBasis) ref.QL = Float64Array.from(native.arrays.leftBasis);
  if (native.arrays.rightBasis) ref.QR = Float64Array.from(native.arrays.rightBasis);
}

/** Asserts the report is within K units, with a message giving the numbers. */
export function expectAgree(report: CrossReport, K: number, what: string): void {
  expect(
    report.units,
    `${what}: max |w32 − w64| = ${report.err.toExponential(3)} at step ${report.step} is ${report.units.toFixed(2)} units of u·S (allowed ${K}); S = ${report.scale.toFixed(3)}`,
  ).toBeLessThanOrEqual(K);
}

// ---------------------------------------------------------------- snapshots

export interface Snapshot {
  param: Uint8Array;
  step: number;
  arrays: Record<string, { dtype: string; bytes: Uint8Array }>;
  values: string;
}

function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** A byte copy of a parameter and its state. */
export function snapshot(param: { data: Float32Array }, state: OptimizerState | RefState | { step: number; arrays: Record<string, Float32Array | Float64Array>; values: object }): Snapshot {
  const s = state as OptimizerState;
  const arrays: Snapshot['arrays'] = {};
  for (const [k, a] of Object.entries(s.arrays)) arrays[k] = { dtype: a.constructor.name, bytes: bytesOf(a) };
  return { param: bytesOf(param.data), step: s.step, arrays, values: JSON.stringify(s.values) };
}

/** Bitwise equality of two snapshots (vitest's toEqual on Uint8Arrays compares every byte). */
export function expectSameSnapshot(a: Snapshot, b: Snapshot, what = ''): void {
  expect(b.step, `${what}: step`).toBe(a.step);
  expect(Object.keys(b.arrays).sort(), `${what}: state arrays`).toEqual(Object.keys(a.arrays).sort());
  for (const k of Object.keys(a.arrays)) {
    expect(b.arrays[k]!.dtype, `${what}: dtype of ${k}`).toBe(a.arrays[k]!.dtype);
    expect(Buffer.from(b.arrays[k]!.bytes).equals(Buffer.from(a.arrays[k]!.bytes)), `${what}: bytes of state array ${k}`).toBe(true);
  }
  expect(b.values, `${what}: state values`).toBe(a.values);
  expect(Buffer.from(b.param).equals(Buffer.from(a.param)), `${what}: param bytes`).toBe(true);
}

/** Bitwise equality of two Float32Arrays (NaN payloads and −0 included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// ---------------------------------------------------------------- mis-specified references

/**
 * Adam without the bias corrections (W ← W − lr·m/(√v + ε)): the reference with one deliberate
 * mistake, for the test that the cross-check catches it.
 */
export function adamWithoutBiasCorrection(lr: number, beta1: number, beta2: number, eps: number): RefOptimizer {
  return {
    init: (rows, cols) => ({ step: 0, m: new Float64Array(rows * cols), v: new Float64Array(rows * cols) }),
    step(w, g, _rows, _cols, state) {
      const m = state.m as Float64Array;
      const v = state.v as Float64Array;
      state.step += 1;
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! * g[i]!;
        w[i] = w[i]! - (lr * m[i]!) / (Math.sqrt(v[i]!) + eps);
      }
    },
    stepGroup(items) {
      for (const { w, g, rows, cols, state } of items) this.step(w, g, rows, cols, state);
    },
  };
}
