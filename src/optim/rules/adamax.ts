// Adamax with PyTorch's semantics (torch.optim.Adamax): the first moment and the exponentially
// weighted infinity norm u ← max(β₂u, |g| + ε); L2 weight decay.
import { ENTRIES, checkBetas, inRange, stateArray, type RuleSpec } from '../rule.js';

export const adamax: RuleSpec<'adamax'> = {
  kernel: 'adamax',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('adamax', 'lr', h.lr, 0, Infinity);
    checkBetas('adamax', h.betas);
    inRange('adamax', 'eps', h.eps, 0, Infinity, true);
    inRange('adamax', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [
    ['expAvg', rows * cols, 0],
    ['expInf', rows * cols, 0],
  ],
  state: {
    native: [stateArray('expAvg', ENTRIES), stateArray('expInf', ENTRIES)],
    reference: [stateArray('m', ENTRIES), stateArray('u', ENTRIES)],
  },
  scalars(h, t) {
    const [beta1, beta2] = h.betas;
    return [beta1, beta2, h.eps, h.weightDecay, h.lr / (1 - beta1 ** t)];
  },
};
