// SOAP (Vyas et al. 2025; nikhilvyas/SOAP soap.py): Adam in the eigenbasis of Shampoo's
// statistics, the bases set by the first call (which does not change W) and refreshed every
// preconditionFrequency Adam steps; weight decay after the step. 1×n and n×1 parameters are
// treated as the reference treats 1-D tensors: no rotation, plain Adam. The update rule itself is
// native/rules/soap.cpp.
import { COLS_SQUARED, ENTRIES, ROWS_SQUARED, checkBetas, inRange, integerAtLeast, stateArray, type HyperOf, type RuleSpec } from '../rule.js';

/** A side's statistic and basis (k×k): only a matrix (both sides > 1) has them. */
const leftSquare = (rows: number, cols: number) => (rows > 1 && cols > 1 ? rows * rows : null);
const rightSquare = (rows: number, cols: number) => (rows > 1 && cols > 1 ? cols * cols : null);

/** Which sides get an eigenbasis: not a vector, and no longer than maxPreconditionerDim. */
function sides(h: HyperOf<'soap'>, rows: number, cols: number): { left: boolean; right: boolean } {
  const matrix = rows > 1 && cols > 1;
  return { left: matrix && rows <= h.maxPreconditionerDim, right: matrix && cols <= h.maxPreconditionerDim };
}

export const soap: RuleSpec<'soap'> = {
  kernel: 'soap',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('soap', 'lr', h.lr, 0, Infinity);
    checkBetas('soap', h.betas);
    if (h.shampooBeta >= 0) inRange('soap', 'shampooBeta', h.shampooBeta, 0, 1);
    inRange('soap', 'eps', h.eps, 0, Infinity, true);
    inRange('soap', 'weightDecay', h.weightDecay, 0, Infinity);
    integerAtLeast('soap', 'preconditionFrequency', h.preconditionFrequency, 1);
    integerAtLeast('soap', 'maxPreconditionerDim', h.maxPreconditionerDim, 0);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers(h, rows, cols) {
    const { left, right } = sides(h, rows, cols);
    const b: [string, number, number][] = [
      ['expAvg', rows * cols, 0],
      ['expAvgSq', rows * cols, 0],
    ];
    if (left) b.push(['leftStatistic', rows * rows, 0], ['leftBasis', rows * rows, 0]);
    if (right) b.push(['rightStatistic', cols * cols, 0], ['rightBasis', cols * cols, 0]);
    // [bases set (0/1), failed eigh/QR computations so far]
    b.push(['info', 2, 0]);
    return b;
  },
  state: {
    native: [
      stateArray('expAvg', ENTRIES),
      stateArray('expAvgSq', ENTRIES),
      stateArray('leftStatistic', leftSquare, 'optional'),
      stateArray('leftBasis', leftSquare, 'optional'),
      stateArray('rightStatistic', rightSquare, 'optional'),
      stateArray('rightBasis', rightSquare, 'optional'),
      stateArray('info', () => 2),
    ],
    // The reference keeps all four for every shape (1×1 ones on a vector).
    reference: [
      stateArray('m', ENTRIES),
      stateArray('v', ENTRIES),
      stateArray('L', ROWS_SQUARED),
      stateArray('R', COLS_SQUARED),
      stateArray('QL', ROWS_SQUARED),
      stateArray('QR', COLS_SQUARED),
    ],
    referenceValues: { adamSteps: 'count', basesSet: 'boolean' },
  },
  scalars(h, t, rows, cols) {
    const [beta1, beta2] = h.betas;
    const { left, right } = sides(h, rows, cols);
    // The first call only sets the bases: Adam's step count is t − 1.
    const s = t - 1;
    const stepSize = s === 0 ? 0 : h.correctBias ? (h.lr * Math.sqrt(1 - beta2 ** s)) / (1 - beta1 ** s) : h.lr;
    return [
      h.lr,
      beta1,
      beta2,
      h.shampooBeta >= 0 ? h.shampooBeta : beta2,
      h.eps,
      h.lr * h.weightDecay,
      stepSize,
      s === 0 ? 1 : 0,
      s > 0 && s % h.preconditionFrequency === 0 ? 1 : 0,
      left ? 1 : 0,
      right ? 1 : 0,
      h.normalizeGrads ? 1 : 0,
    ];
  },
};
