// Shampoo (distributed_shampoo semantics, roots ^(−1/4)) and Shampoo² (^(−1/2), seed 004): the
// statistics L = ΣGGᵀ, R = ΣGᵀG, the update L̃·M̂·R̃ with L̃ = (L + εI)^(−1/p), grafting, decoupled
// weight decay. The update rule itself is native/rules/shampoo.cpp.
import type { RuleName } from '../defaults.js';
import { COLS_SQUARED, ENTRIES, ROWS_SQUARED, inRange, integerAtLeast, stateArray, type HyperOf, type RuleSpec } from '../rule.js';

const GRAFTING = { none: 0, sgd: 1, adagrad: 2, adam: 3 } as const;

function shampooLike<R extends 'shampoo' | 'shampoo2'>(rule: R, p: number): RuleSpec<R> {
  const start = (h: HyperOf<RuleName & R>) => h.startPreconditioningStep ?? h.preconditionFrequency;
  return {
    kernel: 'shampoo',
    schedulable: ['lr', 'weightDecay'],
    check(h) {
      inRange(rule, 'lr', h.lr, 0, Infinity);
      if (!Array.isArray(h.betas) || h.betas.length !== 2) throw new TypeError(`${rule}: betas must be a pair of numbers`);
      inRange(rule, 'betas[0]', h.betas[0], 0, 1);
      inRange(rule, 'betas[1]', h.betas[1], 0, 1, false, false);
      inRange(rule, 'eps', h.eps, 0, Infinity, true);
      inRange(rule, 'weightDecay', h.weightDecay, 0, Infinity);
      integerAtLeast(rule, 'preconditionFrequency', h.preconditionFrequency, 1);
      if (h.startPreconditioningStep !== null) integerAtLeast(rule, 'startPreconditioningStep', h.startPreconditioningStep, 1);
      integerAtLeast(rule, 'maxPreconditionerDim', h.maxPreconditionerDim, 0);
    },
    decoupledDecay: (h) => h.weightDecay !== 0,
    buffers(h, rows, cols) {
      const left = rows <= h.maxPreconditionerDim;
      const right = cols <= h.maxPreconditionerDim;
      const b: [string, number, number][] = [];
      if (h.betas[0] > 0) b.push(['filteredGradient', rows * cols, 0]);
      if (left) b.push(['leftStatistic', rows * rows, 0]);
      if (right) b.push(['rightStatistic', cols * cols, 0]);
      if (left) b.push(['leftRoot', rows * rows, 0]);
      if (right) b.push(['rightRoot', cols * cols, 0]);
      if (h.grafting === 'adagrad' || h.grafting === 'adam') b.push(['graftAccumulator', rows * cols, 0]);
      // [roots computed (0/1), failed root computations so far]
      b.push(['info', 2, 0]);
      return b;
    },
    state: {
      native: [
        stateArray('filteredGradient', ENTRIES, 'optional'),
        stateArray('leftStatistic', ROWS_SQUARED, 'optional'),
        stateArray('rightStatistic', COLS_SQUARED, 'optional'),
        stateArray('leftRoot', ROWS_SQUARED, 'optional'),
        stateArray('rightRoot', COLS_SQUARED, 'optional'),
        stateArray('graftAccumulator', ENTRIES, 'optional'),
        stateArray('info', () => 2),
      ],
      reference: [
        stateArray('M', ENTRIES, 'optional'),
        stateArray('L', ROWS_SQUARED, 'optional'),
        stateArray('Lroot', ROWS_SQUARED, 'optional'),
        stateArray('R', COLS_SQUARED, 'optional'),
        stateArray('Rroot', COLS_SQUARED, 'optional'),
        stateArray('A', ENTRIES, 'optional'),
      ],
      referenceValues: { rootsReady: 'boolean', rootFailures: 'count' },
    },
    scalars(h, t, rows, cols) {
      const [beta1, beta2] = h.betas;
      return [
        h.lr,
        beta1,
        beta2,
        h.eps,
        p,
        t,
        h.preconditionFrequency,
        start(h),
        GRAFTING[h.grafting],
        h.lr * h.weightDecay,
        rows <= h.maxPreconditionerDim ? 1 : 0,
        cols <= h.maxPreconditionerDim ? 1 : 0,
        beta1 > 0 ? 1 - beta1 ** t : 1,
        beta2 === 1 ? 1 : 1 - beta2 ** t,
        1 - 0.999 ** t,
      ];
    },
  };
}

export const shampoo = shampooLike('shampoo', 4);
export const shampoo2 = shampooLike('shampoo2', 2);
