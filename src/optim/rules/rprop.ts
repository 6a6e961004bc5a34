// Rprop with PyTorch's semantics (torch.optim.Rprop): per-entry step sizes, multiplied by η₊
// where the gradient kept its sign and by η₋ where it changed (then clamped to stepSizes); where
// it changed, the gradient is taken as 0 for this step and stored as the previous one. lr is
// only the step sizes' initial value, as in torch: nothing to schedule.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

function pair(name: string, value: readonly number[]): void {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new TypeError(`rprop: ${name} must be a pair of finite numbers, got ${JSON.stringify(value)}`);
  }
}

export const rprop: RuleSpec<'rprop'> = {
  kernel: 'rprop',
  schedulable: [],
  check(h) {
    inRange('rprop', 'lr', h.lr, 0, Infinity);
    pair('etas', h.etas);
    pair('stepSizes', h.stepSizes);
    const [minus, plus] = h.etas;
    if (!(0 < minus && minus < 1 && 1 < plus)) throw new RangeError(`rprop: etas must be [η₋, η₊] with 0 < η₋ < 1 < η₊ (torch's check), got [${minus}, ${plus}]`);
    const [lo, hi] = h.stepSizes;
    if (!(0 <= lo && lo <= hi)) throw new RangeError(`rprop: stepSizes must be [min, max] with 0 <= min <= max, got [${lo}, ${hi}]`);
  },
  decoupledDecay: () => false,
  buffers: (h, rows, cols) => [
    ['prev', rows * cols, 0],
    ['stepSize', rows * cols, h.lr],
  ],
  state: {
    native: [stateArray('prev', ENTRIES), stateArray('stepSize', ENTRIES)],
    reference: [stateArray('prev', ENTRIES), stateArray('stepSize', ENTRIES)],
  },
  scalars: (h) => [h.etas[0], h.etas[1], h.stepSizes[0], h.stepSizes[1]],
};
