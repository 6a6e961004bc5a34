// Adagrad with PyTorch's semantics: lr decay, L2 weight decay, initial accumulator value.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

export const adagrad: RuleSpec<'adagrad'> = {
  kernel: 'adagrad',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    inRange('adagrad', 'lr', h.lr, 0, Infinity);
    inRange('adagrad', 'lrDecay', h.lrDecay, 0, Infinity);
    inRange('adagrad', 'weightDecay', h.weightDecay, 0, Infinity);
    inRange('adagrad', 'initialAccumulatorValue', h.initialAccumulatorValue, 0, Infinity);
    inRange('adagrad', 'eps', h.eps, 0, Infinity, true);
  },
  decoupledDecay: () => false,
  buffers: (h, rows, cols) => [['sum', rows * cols, h.initialAccumulatorValue]],
  state: { native: [stateArray('sum', ENTRIES)], reference: [stateArray('sum', ENTRIES)] },
  scalars: (h, t) => [h.lr / (1 + (t - 1) * h.lrDecay), h.weightDecay, h.eps],
};
