// SignSGD, and Signum with momentum: W ← W − lr·sign(m), m ← μm + (1 − μ)G; decoupled decay.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

export const signsgd: RuleSpec<'signsgd'> = {
  kernel: 'signsgd',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    inRange('signsgd', 'lr', h.lr, 0, Infinity);
    inRange('signsgd', 'momentum', h.momentum, 0, 1);
    inRange('signsgd', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (h, rows, cols) => (h.momentum > 0 ? [['momentum', rows * cols, 0]] : []),
  state: { native: [stateArray('momentum', ENTRIES, 'optional')], reference: [stateArray('m', ENTRIES, 'optional')] },
  scalars: (h) => [h.lr, h.momentum, h.lr * h.weightDecay],
};
