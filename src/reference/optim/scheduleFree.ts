// Schedule-Free AdamW and SGD (Defazio et al. 2024), in the readable form of
// facebookresearch/schedule_free's adamw_schedulefree_reference.py and sgd_schedulefree_reference.py
// (ALGORITHMS.md "Recent rules"): the three sequences kept explicitly,
//   z (base iterate), x (the weighted average, what eval() shows), y = β₁·x + (1 − β₁)·z
//   (where gradients are taken; the parameter holds it in train mode).
// Update t = k + 1, from the state's lrMax and weightSum (the reference's group values, here one
// copy per state) and y = the parameter (z and x start at it on the first update):
//   sched = k < warmupSteps ? (k + 1)/warmupSteps : 1;   lr_t = lr·sched
//   lr_max ← max(lr_t, lr_max);   w_t = (k + 1)^r · lr_max^weightLrPower
//   weightSum ← weightSum + w_t;   c = w_t/weightSum (0 if weightSum = 0)
//   adamw: v ← β₂·v + (1 − β₂)·G²;  u = G/(√(v/(1 − β₂ᵗ)) + ε) + λ·y
//   sgd:   u = G + λ·y
//   z ← z − lr_t·u;   x ← (1 − c)·x + c·z;   y ← β₁·x + (1 − β₁)·z   (sgd: β₁ = momentum)
// eval() sets the parameter to x, train() back to y (index.ts's scheduleFreeMode); a state in eval
// mode (evalMode) cannot step.

import { buf, num, pair, type Hyper, type Rule } from './rule.js';
import type { RefState } from './index.js';

function scheduleFree(h: Hyper, adamw: boolean): Rule {
  const rule = adamw ? 'schedule-free-adamw' : 'schedule-free-sgd';
  const lr = num(h, 'lr');
  const [beta1, beta2] = adamw ? pair(h, 'betas') : [num(h, 'momentum'), 0];
  const eps = adamw ? num(h, 'eps') : 0;
  const lambda = num(h, 'weightDecay');
  const warmupSteps = num(h, 'warmupSteps');
  const r = num(h, 'r');
  const power = num(h, 'weightLrPower');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      const arrays = adamw
        ? { z: new Float64Array(n), v: new Float64Array(n), x: new Float64Array(n) }
        : { z: new Float64Array(n), x: new Float64Array(n) };
      return { ...arrays, lrMax: -1, weightSum: 0, evalMode: false };
    },
    check(_w, _rows, _cols, state) {
      if (state.evalMode !== false) {
        throw new RangeError(`${rule}: the state is in eval mode (the parameter holds x); call train(param, state) (or trainMode(entries)) before stepping`);
      }
    },
    update(w, G, _rows, _cols, state) {
      const t = state.step;
      const k = t - 1;
      const z = buf(state, 'z');
      const x = buf(state, 'x');
      const v = adamw ? buf(state, 'v') : null;
      const lrMax0 = state.lrMax;
      const weightSum0 = state.weightSum;
      if (typeof lrMax0 !== 'number' || typeof weightSum0 !== 'number') throw new TypeError('reference optimizer: state.lrMax/weightSum are not numbers');
      const lrT = lr * (k < warmupSteps ? (k + 1) / warmupSteps : 1);
      const lrMax = Math.max(lrT, lrMax0);
      const weight = Math.pow(k + 1, r) * Math.pow(lrMax, power);
      const weightSum = weightSum0 + weight;
      const c = weightSum === 0 ? 0 : weight / weightSum;
      state.lrMax = lrMax;
      state.weightSum = weightSum;
      if (t === 1) {
        z.set(w);
        x.set(w);
      }
      const bc2 = 1 - Math.pow(beta2, t);
      for (let i = 0; i < w.length; i++) {
        let u: number;
        if (v !== null) {
          v[i] = beta2 * v[i]! + (1 - beta2) * G[i]! * G[i]!;
          u = G[i]! / (Math.sqrt(v[i]! / bc2) + eps) + lambda * w[i]!;
        } else {
          u = G[i]! + lambda * w[i]!;
        }
        z[i] = z[i]! - lrT * u;
        x[i] = (1 - c) * x[i]! + c * z[i]!;
        w[i] = beta1 * x[i]! + (1 - beta1) * z[i]!;
      }
    },
  };
}

export const scheduleFreeAdamw = (h: Hyper): Rule => scheduleFree(h, true);
export const scheduleFreeSgd = (h: Hyper): Rule => scheduleFree(h, false);

/**
 * eval() (toEval) or train() on a reference state: the parameter becomes x, or y = β₁·x + (1 − β₁)·z.
 * Before the first update (no z yet) only the mode changes, as in the reference. Returns the
 * parameter's new values (null: unchanged); the caller writes them and the mode.
 */
export function scheduleFreeMode(state: RefState, beta1: number, toEval: boolean, n: number): Float64Array | null {
  if (state.step === 0) return null;
  const x = buf(state, 'x');
  if (toEval) return Float64Array.from(x);
  const z = buf(state, 'z');
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = beta1 * x[i]! + (1 - beta1) * z[i]!;
  return y;
}
