// LAMB with optax's semantics (optax.lamb: scale_by_adam, add_decayed_weights,
// scale_by_trust_ratio, scale_by_learning_rate), and C-Optim's cautious mask on the Adam direction.
import { ENTRIES, checkBetas, inRange, stateArray, type RuleSpec } from '../rule.js';
import { cautiousScalars, checkCautious } from './cautious.js';

/**
 * optax's bias correction 1 − βᵗ as JAX computes it on float32 (its default): β rounded to float32,
 * βᵗ a float32 power (correctly rounded: checked against jax 0.10), 1 − βᵗ in float32. At β₂ = 0.999
 * and t = 1 it is 1.3e-5 off the exact 1 − β₂ (the rounding of β₂ magnified 1/(1 − β₂) times);
 * where the trust ratio does not normalise the update away (a zero parameter), that shows.
 */
function float32Correction(beta: number, t: number): number {
  const f = Math.fround;
  return f(1 - f(f(beta) ** t));
}

export const lamb: RuleSpec<'lamb'> = {
  kernel: 'lamb',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('lamb', 'lr', h.lr, 0, Infinity);
    checkBetas('lamb', h.betas);
    inRange('lamb', 'eps', h.eps, 0, Infinity, true);
    inRange('lamb', 'weightDecay', h.weightDecay, 0, Infinity);
    checkCautious('lamb', h);
  },
  // λ·W joins the update before the trust ratio: not a decoupled decay.
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
    return [h.lr, beta1, beta2, h.eps, h.weightDecay, float32Correction(beta1, t), float32Correction(beta2, t), ...cautiousScalars(h)];
  },
};
