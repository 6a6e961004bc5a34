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
import { rank1, readSpectral } from './spectral.js';
import type { Hyper, Rule } from './rule.js';

export { rank1, readSpectral, type SpectralOptions } from './spectral.js';
export { TORCH_DEFAULTS } from './torchDefaults.js';

export interface RefState {
  step: number;
  [key: string]: unknown;
}

export interface RefOptimizer {
  /** True when a step computes rank1(W) (spectral penalty or spectral decay), which stores state.spectralVec. */
  readonly usesRank1?: boolean;
  init(rows: number, cols: number): RefState;
  /** Updates w (row-major rows x cols, float64) in place from gradient g; increments state.step. */
  step(w: Float64Array, g: Float64Array, rows: number, cols: number, state: RefState): void;
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
  // Recent rules (ALGORITHMS.md)
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

  return {
    usesRank1: needRank1,
    init(rows, cols) {
      checkShape(rows, cols);
      return { step: 0, ...rule.init(rows, cols) };
    },
    step(w, g, rows, cols, state) {
      checkShape(rows, cols);
      if (w.length !== rows * cols || g.length !== rows * cols) {
        throw new RangeError(`reference optimizer: w/g length ${w.length}/${g.length}, expected ${rows * cols}`);
      }
      if (!g.every(Number.isFinite)) {
        if (nonFinite === 'skip') return;
        throw new RangeError('reference optimizer: non-finite gradient');
      }
      const r = scheduled ? make(at(state.step)) : rule;
      r.check?.(w, rows, cols, state);

      const G = Float64Array.from(g);
      const R = needRank1 ? rank1(w, rows, cols, spec, state) : null;
      if (kappa !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + 2 * kappa * R![i]!;
      state.step += 1;
      r.update(w, G, rows, cols, state, R);
    },
  };
}
