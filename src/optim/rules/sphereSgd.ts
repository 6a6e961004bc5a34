// Steepest descent on the hypersphere (seed 003): the parameter (or each row, or each column)
// stays on a sphere of the given radius, in the l2 norm or the l-infinity norm.
import { inRange, type RuleSpec } from '../rule.js';

const AXES = { all: 0, rows: 1, cols: 2 } as const;

export const sphereSgd: RuleSpec<'sphere-sgd'> = {
  kernel: 'sphere-sgd',
  schedulable: ['lr'],
  check(h) {
    inRange('sphere-sgd', 'lr', h.lr, 0, Infinity);
    inRange('sphere-sgd', 'radius', h.radius, 0, Infinity, true);
  },
  decoupledDecay: () => false,
  buffers: () => [],
  state: { native: [], reference: [] },
  scalars: (h, t) => [h.lr, h.radius, AXES[h.axis], h.norm === 'linf' ? 1 : 0, t === 1 ? 1 : 0],
};
