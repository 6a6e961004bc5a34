// AdEMAMix (Pagliardini et al. 2024) as apple/ml-ademamix's pytorch/ademamix.py: a fast EMA m₁
// (β₁, bias-corrected), a slow EMA m₂ (β₃, not corrected) weighted by α, Adam's second moment
// (β₂); W ← W − lr·((m₁/(1 − β₁ᵗ) + α·m₂)/(√v/√(1 − β₂ᵗ) + ε) + λW). The reference's warm-ups
// of α (linear from 0) and β₃ (linear in the half-life, from β₁) over alphaWarmup / beta3Warmup
// steps are evaluated here, in float64, for the step t being taken (the reference's state['step']).
// Cautious masking (cautious.ts) scales the moment part of the update, not λW.
import { ENTRIES, inRange, integerAtLeast, stateArray, type RuleSpec } from '../rule.js';
import { cautiousScalars, checkCautious } from './cautious.js';

/** The reference's linear_warmup_scheduler(step, alpha_end, alpha_start=0, warmup). */
function linearWarmup(step: number, end: number, start: number, warmup: number): number {
  if (step < warmup) {
    const a = step / warmup;
    return (1 - a) * start + a * end;
  }
  return end;
}

/** The reference's linear_hl_warmup_scheduler(step, beta_end, beta_start, warmup): linear in the half-life log(½)/log(β + 1e-8) − 1. */
function halfLifeWarmup(step: number, end: number, start: number, warmup: number): number {
  const f = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;
  const fInv = (t: number) => Math.pow(0.5, 1 / (t + 1));
  if (step < warmup) {
    const a = step / warmup;
    return fInv((1 - a) * f(start) + a * f(end));
  }
  return end;
}

export const ademamix: RuleSpec<'ademamix'> = {
  kernel: 'ademamix',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('ademamix', 'lr', h.lr, 0, Infinity);
    if (!Array.isArray(h.betas) || h.betas.length !== 3 || !h.betas.every((b) => typeof b === 'number')) {
      throw new TypeError(`ademamix: betas must be [β₁, β₂, β₃] (three numbers), got ${JSON.stringify(h.betas)}`);
    }
    for (let i = 0; i < 3; i++) inRange('ademamix', `betas[${i}]`, h.betas[i], 0, 1);
    inRange('ademamix', 'alpha', h.alpha, 0, Infinity);
    for (const name of ['beta3Warmup', 'alphaWarmup'] as const) {
      const v = h[name];
      if (v !== null) integerAtLeast('ademamix', name, v, 0);
    }
    if (h.beta3Warmup !== null) {
      // The half-life log(½)/log(β + 1e-8) needs β + 1e-8 < 1 for both ends of the warm-up.
      for (const i of [0, 2]) {
        if (!(h.betas[i] + 1e-8 < 1)) throw new RangeError(`ademamix: betas[${i}] must be < 1 − 1e-8 with beta3Warmup, got ${h.betas[i]}`);
      }
    }
    inRange('ademamix', 'eps', h.eps, 0, Infinity, true);
    inRange('ademamix', 'weightDecay', h.weightDecay, 0, Infinity);
    checkCautious('ademamix', h);
  },
  // λW is part of the update (as the reference adds it), so there is no spectral form of it.
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [
    ['expAvgFast', rows * cols, 0],
    ['expAvgSlow', rows * cols, 0],
    ['expAvgSq', rows * cols, 0],
  ],
  state: {
    native: [stateArray('expAvgFast', ENTRIES), stateArray('expAvgSlow', ENTRIES), stateArray('expAvgSq', ENTRIES)],
    reference: [stateArray('m1', ENTRIES), stateArray('m2', ENTRIES), stateArray('v', ENTRIES)],
  },
  scalars(h, t) {
    const [beta1, beta2, beta3Final] = h.betas;
    const alpha = h.alphaWarmup === null ? h.alpha : linearWarmup(t, h.alpha, 0, h.alphaWarmup);
    const beta3 = h.beta3Warmup === null ? beta3Final : halfLifeWarmup(t, beta3Final, beta1, h.beta3Warmup);
    return [beta1, beta2, beta3, alpha, h.eps, h.weightDecay, h.lr, 1 - beta1 ** t, Math.sqrt(1 - beta2 ** t), ...cautiousScalars(h)];
  },
};
