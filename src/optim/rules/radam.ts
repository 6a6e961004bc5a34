// RAdam with PyTorch's semantics (torch.optim.RAdam): Adam moments with the variance
// rectification r_t once ρ_t > 5 (before that, the bias-corrected momentum alone); L2 or
// decoupled weight decay.
import { ENTRIES, checkBetas, inRange, stateArray, type RuleSpec } from '../rule.js';

export const radam: RuleSpec<'radam'> = {
  kernel: 'radam',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('radam', 'lr', h.lr, 0, Infinity);
    checkBetas('radam', h.betas);
    inRange('radam', 'eps', h.eps, 0, Infinity, true);
    inRange('radam', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [
    ['expAvg', rows * cols, 0],
    ['expAvgSq', rows * cols, 0],
  ],
  state: {
    native: [stateArray('expAvg', ENTRIES), stateArray('expAvgSq', ENTRIES)],
    reference: [stateArray('m', ENTRIES), stateArray('v', ENTRIES)],
  },
  scalars(h, t) {
    const [beta1, beta2] = h.betas;
    const bc2 = 1 - beta2 ** t;
    const rhoInf = 2 / (1 - beta2) - 1;
    const rho = rhoInf - (2 * t * beta2 ** t) / bc2;
    // −1: not rectified yet (torch's `rho_t > 5.0` test, in double as torch does it).
    const rect = rho > 5 ? (((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho)) ** 0.5 : -1;
    return [
      beta1,
      beta2,
      h.eps,
      h.decoupledWeightDecay ? 0 : h.weightDecay,
      h.decoupledWeightDecay ? h.lr * h.weightDecay : 0,
      h.lr,
      1 - beta1 ** t,
      bc2 ** 0.5,
      rect,
    ];
  },
};
