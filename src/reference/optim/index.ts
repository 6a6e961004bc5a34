// Pure-TypeScript float64 reference optimizers, written straight from the formulas of the shared
// ALGORITHMS.md ("First-order and factored rules", "torch.optim, the rest") for cross-checking the native float32 path step
// by step. One file per rule; spectral.ts holds the shared spectral pieces.
//
// Every step, before the rule runs (index.ts, common to all rules):
//   1. check the gradient: a NaN/±Inf entry throws a RangeError (nonFinite 'throw') or skips the
//      step (nonFinite 'skip': w and state untouched, step not counted);
//   2. the rule's own pre-check (sphere-sgd: no zero vector to project on the first step);
//   3. G = copy of g (the caller's g is never modified);
//   4. R = rank1(W) of the W before this step, once, if the spectral penalty or spectral decay needs it;
//   5. spectralPenalty κ > 0: G ← G + 2κ·R;
//   6. state.step += 1, then the rule's update (t = state.step).
//
// A hyperparameter given as a function (a schedule) is evaluated at count = state.step before the
// update (0 on the first), and the rule is made from those numbers for that update.
//
// stepGroup steps several parameters of one optimizer together. For most rules that is one step
// each; a group rule (prodigy, whose d is found from sums over the reference's param group) makes
// one update of all of them: the same checks per entry (a skipped one takes no part), the group's
// hyperparameters from its first entry's step count, its values (Rule.groupValues) equal in every
// state, and given to the skipped entries' states afterwards.

import { adadelta } from './adadelta.js';
import { adagrad } from './adagrad.js';
import { adagradFull } from './adagradFull.js';
import { adam } from './adam.js';
import { adafactor } from './adafactor.js';
import { adamMini } from './adamMini.js';
import { adamax } from './adamax.js';
import { galore } from './galore.js';
import { muon } from './muon.js';
import { nadam } from './nadam.js';
import { normuon } from './normuon.js';
import { pbsgd } from './pbsgd.js';
import { radam } from './radam.js';
import { rmsprop } from './rmsprop.js';
import { rprop } from './rprop.js';
import { shampoo } from './shampoo.js';
import { soap } from './soap.js';
import { sgd } from './sgd.js';
import { signsgd } from './signsgd.js';
import { sphereSgd } from './sphereSgd.js';
import { lion } from './lion.js';
import { ademamix } from './ademamix.js';
import { prodigy } from './prodigy.js';
import { lamb } from './lamb.js';
import { scheduleFreeAdamw, scheduleFreeSgd } from './scheduleFree.js';
import { rank1, readSpectral } from './spectral.js';
import type { GroupItem, Hyper, Rule } from './rule.js';

export { rank1, readSpectral, type SpectralOptions } from './spectral.js';
export { scheduleFreeMode } from './scheduleFree.js';
export { TORCH_DEFAULTS } from './torchDefaults.js';

export interface RefState {
  step: number;
  [key: string]: unknown;
}

export interface RefOptimizer {
  /** True when a step computes rank1(W) (spectral penalty or spectral decay), which stores state.spectralVec. */
  readonly usesRank1?: boolean;
  /** True for a group rule: stepGroup's entries share values (prodigy's d), so a step of one is a group of one. */
  readonly grouped?: boolean;
  init(rows: number, cols: number): RefState;
  /** Updates w (row-major rows x cols, float64) in place from gradient g; increments state.step. */
  step(w: Float64Array, g: Float64Array, rows: number, cols: number, state: RefState): void;
  /**
   * The entries one optimizer steps in one call (see the header): each as step would, a group
   * rule's as one update. An error about one entry carries its index in `items` as `item`.
   */
  stepGroup(items: RefGroupEntry[]): void;
}

/** One entry of stepGroup: w is updated in place, state.step incremented unless skipped. */
export interface RefGroupEntry {
  w: Float64Array;
  g: Float64Array;
  rows: number;
  cols: number;
  state: RefState;
}

/** An error about entry `item` of a stepGroup call. */
function about<E extends Error>(error: E, item: number): E {
  return Object.assign(error, { item });
}

const RULES: Record<string, (h: Hyper) => Rule> = {
  sgd,
  signsgd,
  pbsgd,
  adagrad,
  rmsprop,
  adam: (h) => adam(h, false),
  adamw: (h) => adam(h, true),
  adafactor,
  'adam-mini': adamMini,
  'sphere-sgd': sphereSgd,
  muon,
  shampoo: (h) => shampoo(h, 4, 'shampoo'),
  shampoo2: (h) => shampoo(h, 2, 'shampoo2'),
  'galore-adamw': galore,
  'adagrad-full': adagradFull,
  soap,
  // torch.optim, the rest (ALGORITHMS.md; defaults in torchDefaults.ts)
  nadam,
  radam,
  adamax,
  adadelta,
  rprop,
  // Issue 12 (ALGORITHMS.md "Recent rules")
  lion,
  ademamix,
  prodigy,
  lamb,
  'schedule-free-adamw': scheduleFreeAdamw,
  'schedule-free-sgd': scheduleFreeSgd,
  normuon,
};

export const REFERENCE_OPTIMIZERS = Object.keys(RULES);

function checkShape(rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`reference optimizer: invalid shape ${rows}x${cols}`);
  }
}

export function referenceOptimizer(name: string, hyper: Record<string, unknown>): RefOptimizer {
  const make = Object.prototype.hasOwnProperty.call(RULES, name) ? RULES[name] : undefined;
  if (make === undefined) throw new RangeError(`reference optimizer: unknown rule '${name}'`);
  const scheduled = Object.entries(hyper).some(([, v]) => typeof v === 'function' || (Array.isArray(v) && v.some((x) => typeof x === 'function')));
  const at = (count: number): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(hyper).map(([k, v]) => [k, typeof v === 'function' ? v(count) : Array.isArray(v) ? v.map((x) => (typeof x === 'function' ? x(count) : x)) : v]),
    );
  const rule = make(scheduled ? at(0) : hyper);
  // A scheduled weight decay counts as present from the start (it may be 0 at some counts only).
  const decayScheduled = typeof hyper.weightDecay === 'function' && make({ ...at(0), weightDecay: 1 }).spectralDecay;
  const spec = readSpectral(hyper);
  const nonFinite = hyper.nonFinite ?? 'throw';
  if (nonFinite !== 'throw' && nonFinite !== 'skip') throw new TypeError(`reference optimizer: bad nonFinite ${String(nonFinite)}`);
  const kappa = spec.spectralPenalty;
  const needRank1 = kappa !== 0 || rule.spectralDecay || decayScheduled;

  const check = (w: Float64Array, g: Float64Array, rows: number, cols: number): boolean => {
    checkShape(rows, cols);
    if (w.length !== rows * cols || g.length !== rows * cols) {
      throw new RangeError(`reference optimizer: w/g length ${w.length}/${g.length}, expected ${rows * cols}`);
    }
    if (!g.every(Number.isFinite)) {
      if (nonFinite === 'skip') return false;
      throw new RangeError('reference optimizer: non-finite gradient');
    }
    return true;
  };
  // G (a copy, with the penalty) and rank1(W) of the W before this step.
  const prepare = (w: Float64Array, g: Float64Array, rows: number, cols: number, state: RefState) => {
    const G = Float64Array.from(g);
    const R = needRank1 ? rank1(w, rows, cols, spec, state) : null;
    if (kappa !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + 2 * kappa * R![i]!;
    return { G, R };
  };
  const step = (w: Float64Array, g: Float64Array, rows: number, cols: number, state: RefState): void => {
    if (!check(w, g, rows, cols)) return;
    const r = scheduled ? make(at(state.step)) : rule;
    r.check?.(w, rows, cols, state);
    const { G, R } = prepare(w, g, rows, cols, state);
    state.step += 1;
    r.update(w, G, rows, cols, state, R);
  };
  const stepGroup = (items: RefGroupEntry[]): void => {
    if (rule.updateGroup === undefined) {
      items.forEach((e, k) => {
        try {
          step(e.w, e.g, e.rows, e.cols, e.state);
        } catch (error) {
          throw error instanceof Error ? about(error, k) : error;
        }
      });
      return;
    }
    const stepped: number[] = [];
    items.forEach((e, k) => {
      try {
        if (check(e.w, e.g, e.rows, e.cols)) stepped.push(k);
      } catch (error) {
        throw error instanceof Error ? about(error, k) : error;
      }
    });
    const names = rule.groupValues ?? [];
    for (let k = 1; k < items.length; k++) {
      for (const name of names) {
        if (!Object.is(items[k]!.state[name], items[0]!.state[name])) {
          throw about(
            new RangeError(
              `reference optimizer: the state's group values (${names.join(', ')}) differ from those of the group's first entry, which the same optimizer steps in this call (were the states stepped in separate calls, or is one of them new?)`,
            ),
            k,
          );
        }
      }
    }
    if (stepped.length === 0) return;
    // The group's hyperparameters: at its first entry's count.
    const r = scheduled ? make(at(items[0]!.state.step)) : rule;
    for (const k of stepped) {
      const e = items[k]!;
      try {
        r.check?.(e.w, e.rows, e.cols, e.state);
      } catch (error) {
        throw error instanceof Error ? about(error, k) : error;
      }
    }
    const group: GroupItem[] = stepped.map((k) => {
      const e = items[k]!;
      const { G, R } = prepare(e.w, e.g, e.rows, e.cols, e.state);
      return { w: e.w, G, rows: e.rows, cols: e.cols, state: e.state, r1: R };
    });
    for (const e of group) e.state.step += 1;
    r.updateGroup!(group);
    const source = group[0]!.state;
    items.forEach((e, k) => {
      if (!stepped.includes(k)) for (const name of names) e.state[name] = source[name];
    });
  };

  return {
    usesRank1: needRank1,
    grouped: rule.updateGroup !== undefined,
    init(rows, cols) {
      checkShape(rows, cols);
      return { step: 0, ...rule.init(rows, cols) };
    },
    step(w, g, rows, cols, state) {
      if (rule.updateGroup !== undefined) stepGroup([{ w, g, rows, cols, state }]);
      else step(w, g, rows, cols, state);
    },
    stepGroup,
  };
}
