// Powered SGD (pbSGD): W ← W − lr·sign(G)|G|^γ; `normalize` divides by ‖·‖_p with p = 1 + 1/γ,
// the steepest-descent direction under the p-norm (seed 003); optional momentum on it.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

export const pbsgd: RuleSpec<'pbsgd'> = {
  kernel: 'pbsgd',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    inRange('pbsgd', 'lr', h.lr, 0, Infinity);
    inRange('pbsgd', 'gamma', h.gamma, 0, 1, true, false);
    inRange('pbsgd', 'momentum', h.momentum, 0, 1);
    inRange('pbsgd', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (h, rows, cols) => (h.momentum > 0 ? [['momentum', rows * cols, 0]] : []),
  state: { native: [stateArray('momentum', ENTRIES, 'optional')], reference: [stateArray('b', ENTRIES, 'optional')] },
  scalars: (h) => [h.lr, h.gamma, h.momentum, h.normalize ? 1 : 0, h.lr * h.weightDecay],
};
