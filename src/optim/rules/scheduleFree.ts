// Schedule-Free AdamW and SGD (facebookresearch/schedule_free AdamWScheduleFree, SGDScheduleFree).
// The parameter holds y while training; the state keeps z, AdamW's second moment, and the
// reference's group values (lr_max and weight_sum as float64 pairs, and the mode) in 'group'.
// k is the state's step. The learning rate an update uses is lr (or its schedule at the state's
// count) times the reference's own warm-up factor min(1, (k + 1)/warmupSteps); the native step
// then takes lr_max, the weight and ckp1 from it exactly as the reference's step does.
import { ENTRIES, inRange, integerAtLeast, stateArray, type RuleSpec } from '../rule.js';

/** The 'group' buffer: [lr_max (hi, lo), weight_sum (hi, lo), mode (0 train, 1 eval)]. */
export const GROUP_LENGTH = 5;
export const GROUP_MODE = 4;

/** The reference's warm-up factor of update t (k = t − 1). */
function warmup(warmupSteps: number, t: number): number {
  const k = t - 1;
  return k < warmupSteps ? (k + 1) / warmupSteps : 1.0;
}

function checkCommon(rule: string, h: { lr: number; weightDecay: number; warmupSteps: number; r: number; weightLrPower: number }): void {
  inRange(rule, 'lr', h.lr, 0, Infinity);
  inRange(rule, 'weightDecay', h.weightDecay, 0, Infinity);
  integerAtLeast(rule, 'warmupSteps', h.warmupSteps, 0);
  // (r may be any finite number, as in the reference; a negative weightLrPower would make the
  // weight of an lr_max of 0 infinite.)
  inRange(rule, 'weightLrPower', h.weightLrPower, 0, Infinity);
}

const group = stateArray('group', () => GROUP_LENGTH);

export const scheduleFreeAdamw: RuleSpec<'schedule-free-adamw'> = {
  kernel: 'schedule-free-adamw',
  // β₁ is not schedulable: eval() and train() undo each other only for one fixed β₁.
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    const rule = 'schedule-free-adamw';
    checkCommon(rule, h);
    const betas = h.betas;
    if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number')) {
      throw new TypeError(`${rule}: betas must be a pair of numbers, got ${JSON.stringify(betas)}`);
    }
    // eval() writes x = y + (1 − 1/β₁)(z − y): β₁ = 0 has no x.
    inRange(rule, 'betas[0]', betas[0], 0, 1, true);
    inRange(rule, 'betas[1]', betas[1], 0, 1);
    inRange(rule, 'eps', h.eps, 0, Infinity, true);
  },
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [
    ['z', rows * cols, 0],
    ['expAvgSq', rows * cols, 0],
    ['group', GROUP_LENGTH, 0],
  ],
  state: {
    native: [stateArray('z', ENTRIES), stateArray('expAvgSq', ENTRIES), group],
    reference: [stateArray('z', ENTRIES), stateArray('v', ENTRIES), stateArray('x', ENTRIES)],
    referenceValues: { lrMax: 'number', weightSum: 'number', evalMode: 'boolean' },
  },
  scalars(h, t) {
    const [beta1, beta2] = h.betas;
    return [h.lr * warmup(h.warmupSteps, t), beta1, beta2, h.eps, h.weightDecay, h.r, h.weightLrPower, t];
  },
};

export const scheduleFreeSgd: RuleSpec<'schedule-free-sgd'> = {
  kernel: 'schedule-free-sgd',
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    const rule = 'schedule-free-sgd';
    checkCommon(rule, h);
    // The reference: "Momentum must be between 0 and 1 exclusive".
    inRange(rule, 'momentum', h.momentum, 0, 1, true);
  },
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [
    ['z', rows * cols, 0],
    ['group', GROUP_LENGTH, 0],
  ],
  state: {
    native: [stateArray('z', ENTRIES), group],
    reference: [stateArray('z', ENTRIES), stateArray('x', ENTRIES)],
    referenceValues: { lrMax: 'number', weightSum: 'number', evalMode: 'boolean' },
  },
  scalars(h, t) {
    return [h.lr * warmup(h.warmupSteps, t), h.momentum, h.weightDecay, h.r, h.weightLrPower, t];
  },
};
