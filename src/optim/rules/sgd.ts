// SGD with PyTorch's semantics: momentum, dampening, nesterov, L2 weight decay, or decoupled decay;
// with momentum, cautious masking (cautious.ts) of the update (the buffer, or G + μ·b with nesterov)
// against the gradient G (plus λW with L2).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';
import { cautiousScalars, checkCautious } from './cautious.js';

export const sgd: RuleSpec<'sgd'> = {
  kernel: 'sgd',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    inRange('sgd', 'lr', h.lr, 0, Infinity);
    inRange('sgd', 'momentum', h.momentum, 0, Infinity);
    inRange('sgd', 'dampening', h.dampening, 0, 1, false, false);
    inRange('sgd', 'weightDecay', h.weightDecay, 0, Infinity);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new RangeError('sgd: nesterov needs momentum > 0 and dampening 0');
    }
    checkCautious('sgd', h);
    if (h.cautious && !(h.momentum > 0)) throw new RangeError('sgd: cautious needs momentum > 0 (without it the update is the gradient itself)');
    if (h.weightDecayNorm === 'spectral' && !h.decoupledWeightDecay) {
      throw new RangeError("sgd: weightDecayNorm 'spectral' needs decoupledWeightDecay: true");
    }
  },
  decoupledDecay: (h) => h.decoupledWeightDecay && h.weightDecay !== 0,
  buffers: (h, rows, cols) => (h.momentum > 0 ? [['momentumBuffer', rows * cols, 0]] : []),
  state: {
    native: [stateArray('momentumBuffer', ENTRIES, 'optional')],
    reference: [stateArray('momentumBuffer', ENTRIES, 'optional')],
  },
  scalars: (h, t) => [
    h.lr,
    h.momentum,
    h.dampening,
    h.nesterov ? 1 : 0,
    h.decoupledWeightDecay ? 0 : h.weightDecay,
    h.decoupledWeightDecay ? h.lr * h.weightDecay : 0,
    t === 1 ? 1 : 0,
    ...cautiousScalars(h),
  ],
};
