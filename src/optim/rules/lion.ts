// Lion (Chen et al. 2023) as lucidrains/lion-pytorch's `Lion`: decoupled decay W ← W·(1 − lr·λ),
// then W ← W − lr·sign(β₁m + (1 − β₁)G), then m ← β₂m + (1 − β₂)G; with cautious: true, the
// sign update masked as cautious_lion.py masks it (cautious.ts).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';
import { cautiousScalars, checkCautious } from './cautious.js';

export const lion: RuleSpec<'lion'> = {
  kernel: 'lion',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('lion', 'lr', h.lr, 0, Infinity);
    if (!Array.isArray(h.betas) || h.betas.length !== 2 || !h.betas.every((b) => typeof b === 'number')) {
      throw new TypeError(`lion: betas must be a pair of numbers, got ${JSON.stringify(h.betas)}`);
    }
    // lion-pytorch asserts 0 <= beta <= 1 (both ends allowed).
    inRange('lion', 'betas[0]', h.betas[0], 0, 1, false, false);
    inRange('lion', 'betas[1]', h.betas[1], 0, 1, false, false);
    inRange('lion', 'weightDecay', h.weightDecay, 0, Infinity);
    checkCautious('lion', h);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (_h, rows, cols) => [['expAvg', rows * cols, 0]],
  state: { native: [stateArray('expAvg', ENTRIES)], reference: [stateArray('m', ENTRIES)] },
  scalars: (h) => [h.lr, h.betas[0], h.betas[1], h.lr * h.weightDecay, ...cautiousScalars(h)],
};
