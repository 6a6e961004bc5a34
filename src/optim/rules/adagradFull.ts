// Full-matrix AdaGrad on vec(G): S ← S + ggᵀ, W ← W − lr·(S^(1/2) + εI)^(−1)·g through eigh(S).
// S has d² entries (d = rows·cols), so parameters above maxDim entries are refused.
import { inRange, stateArray, type RuleSpec } from '../rule.js';

const statistic = (rows: number, cols: number) => (rows * cols) ** 2;

export const adagradFull: RuleSpec<'adagrad-full'> = {
  kernel: 'adagrad-full',
  schedulable: ['lr'],
  check(h) {
    inRange('adagrad-full', 'lr', h.lr, 0, Infinity);
    inRange('adagrad-full', 'eps', h.eps, 0, Infinity, true);
    if (!Number.isSafeInteger(h.maxDim) || h.maxDim < 1 || h.maxDim > 16384) {
      throw new RangeError(`adagrad-full: maxDim must be an integer in 1..16384, got ${h.maxDim}`);
    }
  },
  checkShape(h, rows, cols) {
    if (rows * cols > h.maxDim) {
      throw new RangeError(
        `adagrad-full: the parameter has ${rows}x${cols} = ${rows * cols} entries, more than maxDim = ${h.maxDim} (its statistic would be ${rows * cols}² floats)`,
      );
    }
  },
  decoupledDecay: () => false,
  buffers: (_h, rows, cols) => [['statistic', statistic(rows, cols), 0]],
  state: { native: [stateArray('statistic', statistic)], reference: [stateArray('S', statistic)] },
  scalars: (h) => [h.lr, h.eps],
};
