// Shared plumbing for the reference optimizers: the per-rule interface that index.ts wraps, and
// small readers for hyperparameters and state buffers. No arithmetic lives here.

import type { RefState } from './index.js';

export type Hyper = Record<string, unknown>;

/** What each rule file provides; index.ts adds the common steps (gradient copy, non-finite check, spectral penalty). */
export interface Rule {
  /** State buffers besides `step` (zero-filled unless the rule says otherwise). May throw RangeError. */
  init(rows: number, cols: number): Record<string, unknown>;
  /** True when this rule's decoupled weight decay is the spectral one and is active (λ ≠ 0), so rank1(W) is needed. */
  spectralDecay: boolean;
  /** Optional check run before anything changes (w, state untouched if it throws). */
  check?(w: Float64Array, rows: number, cols: number, state: RefState): void;
  /**
   * One update in place. state.step has already been incremented (t = state.step, 1 on the first update).
   * G is a private copy of the gradient (spectral penalty already added); r1 is rank1(W) of the W
   * before this step, or null when neither the penalty nor spectral decay is on.
   */
  update(w: Float64Array, G: Float64Array, rows: number, cols: number, state: RefState, r1: Float64Array | null): void;
  /**
   * Group rules (prodigy): the state values that belong to the group (the reference's param
   * group) rather than to one parameter. Every state of a group holds the same ones; index.ts
   * checks that, and gives a skipped entry's state the group's new values.
   */
  groupValues?: readonly string[];
  /**
   * Group rules: one update of every stepped entry of a group at once (`update` is then unused),
   * each as `update` would get it (state.step already incremented, G a private copy).
   */
  updateGroup?(items: GroupItem[]): void;
}

/** One stepped entry of a group update. */
export interface GroupItem {
  w: Float64Array;
  G: Float64Array;
  rows: number;
  cols: number;
  state: RefState;
  r1: Float64Array | null;
}

function get(h: Hyper, key: string): unknown {
  if (!(key in h)) throw new TypeError(`reference optimizer: missing hyperparameter '${key}'`);
  return h[key];
}

export function num(h: Hyper, key: string): number {
  const v = get(h, key);
  if (typeof v !== 'number') throw new TypeError(`reference optimizer: '${key}' must be a number, got ${String(v)}`);
  return v;
}

export function numOrNull(h: Hyper, key: string): number | null {
  const v = get(h, key);
  if (v === null) return null;
  if (typeof v !== 'number') throw new TypeError(`reference optimizer: '${key}' must be a number or null, got ${String(v)}`);
  return v;
}

export function bool(h: Hyper, key: string): boolean {
  const v = get(h, key);
  if (typeof v !== 'boolean') throw new TypeError(`reference optimizer: '${key}' must be a boolean, got ${String(v)}`);
  return v;
}

export function pair(h: Hyper, key: string): [number, number] {
  const v = get(h, key);
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    throw new TypeError(`reference optimizer: '${key}' must be a pair of numbers`);
  }
  return [v[0], v[1]];
}

export function oneOf<T extends string>(h: Hyper, key: string, values: readonly T[]): T {
  const v = get(h, key);
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new TypeError(`reference optimizer: '${key}' must be one of ${values.join(', ')}, got ${String(v)}`);
  }
  return v as T;
}

/** A Float64Array state buffer. */
export function buf(state: RefState, key: string): Float64Array {
  const v = state[key];
  if (!(v instanceof Float64Array)) throw new TypeError(`reference optimizer: state.${key} is not a Float64Array`);
  return v;
}

/** sign(x) with sign(0) = 0. */
export function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}
