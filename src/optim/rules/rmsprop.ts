// RMSprop with PyTorch's semantics: centered, momentum, L2 weight decay; no bias correction.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

const RMSPROP_STATE = [
  stateArray('squareAvg', ENTRIES),
  stateArray('gradAvg', ENTRIES, 'optional'),
  stateArray('momentumBuffer', ENTRIES, 'optional'),
];

export const rmsprop: RuleSpec<'rmsprop'> = {
  kernel: 'rmsprop',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    inRange('rmsprop', 'lr', h.lr, 0, Infinity);
    inRange('rmsprop', 'alpha', h.alpha, 0, 1);
    inRange('rmsprop', 'eps', h.eps, 0, Infinity, true);
    inRange('rmsprop', 'weightDecay', h.weightDecay, 0, Infinity);
    inRange('rmsprop', 'momentum', h.momentum, 0, Infinity);
  },
  decoupledDecay: () => false,
  buffers(h, rows, cols) {
    const b: [string, number, number][] = [['squareAvg', rows * cols, 0]];
    if (h.centered) b.push(['gradAvg', rows * cols, 0]);
    if (h.momentum > 0) b.push(['momentumBuffer', rows * cols, 0]);
    return b;
  },
  state: { native: RMSPROP_STATE, reference: RMSPROP_STATE },
  scalars: (h) => [h.lr, h.alpha, h.eps, h.weightDecay, h.momentum, h.centered ? 1 : 0],
};
