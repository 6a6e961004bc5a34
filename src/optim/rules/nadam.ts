// NAdam with PyTorch's semantics (torch.optim.NAdam): Adam moments, the Nesterov momentum
// schedule μ_t = β₁(1 − ½·0.96^(t·ψ)) whose running product is kept in the state, L2 or
// decoupled weight decay.
import { ENTRIES, checkBetas, inRange, stateArray, type RuleSpec } from '../rule.js';

export const nadam: RuleSpec<'nadam'> = {
  kernel: 'nadam',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('nadam', 'lr', h.lr, 0, Infinity);
    checkBetas('nadam', h.betas);
    inRange('nadam', 'eps', h.eps, 0, Infinity, true);
    inRange('nadam', 'weightDecay', h.weightDecay, 0, Infinity);
    inRange('nadam', 'momentumDecay', h.momentumDecay, 0, Infinity);
  },
  decoupledDecay: () => false,
  // The μ product as torch keeps it: a float32 scalar, 1 before the first step.
  buffers: (_h, rows, cols) => [
    ['expAvg', rows * cols, 0],
    ['expAvgSq', rows * cols, 0],
    ['muProduct', 1, 1],
  ],
  state: {
    native: [stateArray('expAvg', ENTRIES), stateArray('expAvgSq', ENTRIES), stateArray('muProduct', () => 1)],
    reference: [stateArray('m', ENTRIES), stateArray('v', ENTRIES)],
    referenceValues: { muProduct: 'number' },
  },
  scalars(h, t) {
    const [beta1, beta2] = h.betas;
    const mu = (s: number) => beta1 * (1 - 0.5 * 0.96 ** (s * h.momentumDecay));
    return [
      beta1,
      beta2,
      h.eps,
      h.decoupledWeightDecay ? 0 : h.weightDecay,
      h.decoupledWeightDecay ? h.lr * h.weightDecay : 0,
      h.lr,
      mu(t),
      mu(t + 1),
      1 - beta2 ** t,
    ];
  },
};
