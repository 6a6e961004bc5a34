// Adadelta with PyTorch's semantics (torch.optim.Adadelta): running averages of g² and of the
// squared updates; L2 weight decay.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

export const adadelta: RuleSpec<'adadelta'> = {
  kernel: 'adadelta',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    inRange('adadelta', 'lr', h.lr, 0, Infinity);
    inRange('adadelta', 'rho', h.rho, 0, 1, false, false);
    inRange('adadelta', 'eps', h.eps, 0, Infinity, true);
    inRange('adadelta', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [
    ['squareAvg', rows * cols, 0],
    ['accDelta', rows * cols, 0],
  ],
  state: {
    native: [stateArray('squareAvg', ENTRIES), stateArray('accDelta', ENTRIES)],
    reference: [stateArray('squareAvg', ENTRIES), stateArray('accDelta', ENTRIES)],
  },
  scalars: (h) => [h.lr, h.rho, h.eps, h.weightDecay],
};
