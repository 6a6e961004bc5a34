// Prodigy (konstmish/prodigy, prodigyopt/prodigy.py): Adam whose step size is the distance
// estimate d, found from sums over all the parameters of a param group, here the entries one
// optimizer steps in one call (RuleSpec.grouped). Its fsdp_in_use (distributed sums) and slice_p
// (statistics on every p-th entry only) are not offered: slice_p = 1, one process.
import { ENTRIES, checkBetas, inRange, stateArray, type RuleSpec } from '../rule.js';

export const prodigy: RuleSpec<'prodigy'> = {
  kernel: 'prodigy',
  grouped: true,
  // betas[0] is not: β₁ = 0 keeps no first moment (as the reference), a different state.
  schedulable: ['lr', 'weightDecay'],
  check(h) {
    // lr 0 is allowed (a schedule's warm-up): the step then changes nothing, as the reference's
    // group with lr 0 (its constructor refuses lr 0, not its step).
    inRange('prodigy', 'lr', h.lr, 0, Infinity);
    checkBetas('prodigy', h.betas);
    if (h.beta3 !== null) inRange('prodigy', 'beta3', h.beta3, 0, 1);
    inRange('prodigy', 'eps', h.eps, 0, Infinity, true);
    inRange('prodigy', 'weightDecay', h.weightDecay, 0, Infinity);
    inRange('prodigy', 'd0', h.d0, 0, Infinity, true);
    inRange('prodigy', 'dCoef', h.dCoef, 0, Infinity, true);
    inRange('prodigy', 'growthRate', h.growthRate, 0, Infinity, true, false);
  },
  decoupledDecay: () => false,
  // dState: the group's d, d_max, numerator and step count (four float64 values as float pairs;
  // all 0 before the group's first step), identical in every state of a group.
  buffers: (h, rows, cols) => [
    ['dState', 8, 0],
    ['s', rows * cols, 0],
    ['p0', rows * cols, 0],
    ['expAvgSq', rows * cols, 0],
    ...(h.betas[0] > 0 ? [['expAvg', rows * cols, 0] as [string, number, number]] : []),
  ],
  state: {
    native: [
      stateArray('dState', () => 8),
      stateArray('s', ENTRIES),
      stateArray('p0', ENTRIES),
      stateArray('expAvgSq', ENTRIES),
      stateArray('expAvg', ENTRIES, 'optional'),
    ],
    reference: [stateArray('s', ENTRIES), stateArray('p0', ENTRIES), stateArray('m', ENTRIES, 'optional'), stateArray('v', ENTRIES)],
    referenceValues: { d: 'number', dMax: 'number', dNumerator: 'number', k: 'count' },
  },
  scalars(h, t) {
    const [beta1, beta2] = h.betas;
    return [
      h.lr,
      beta1,
      beta2,
      h.beta3 ?? Math.sqrt(beta2),
      h.eps,
      h.weightDecay,
      h.decouple ? 1 : 0,
      h.useBiasCorrection ? 1 : 0,
      h.safeguardWarmup ? 1 : 0,
      h.d0,
      h.dCoef,
      h.growthRate,
      // Not the group's: this state's first step (p0 ← W).
      t === 1 ? 1 : 0,
    ];
  },
};
