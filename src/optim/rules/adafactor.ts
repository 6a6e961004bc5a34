// Adafactor with transformers' semantics: factored second moment for matrices (both sides > 1),
// relative step size, parameter scaling, update clipping, optional first moment.
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

const factored = (rows: number, cols: number) => rows > 1 && cols > 1;
/** The row factor (length rows), the column factor (cols) and the full second moment: which a shape has. */
const rowFactor = (rows: number, cols: number) => (factored(rows, cols) ? rows : null);
const colFactor = (rows: number, cols: number) => (factored(rows, cols) ? cols : null);
const unfactored = (rows: number, cols: number) => (factored(rows, cols) ? null : rows * cols);

export const adafactor: RuleSpec<'adafactor'> = {
  kernel: 'adafactor',
  schedulable: ['lr', 'weightDecay', 'beta1'],
  check(h) {
    if (h.relativeStep && h.lr !== null) {
      throw new RangeError('adafactor: a manual lr cannot be combined with relativeStep: true (set relativeStep: false)');
    }
    if (!h.relativeStep && h.lr === null) throw new RangeError('adafactor: relativeStep: false needs an lr');
    if (h.warmupInit && !h.relativeStep) throw new RangeError('adafactor: warmupInit needs relativeStep: true');
    if (h.lr !== null) inRange('adafactor', 'lr', h.lr, 0, Infinity);
    if (!Array.isArray(h.eps) || h.eps.length !== 2) throw new TypeError('adafactor: eps must be a pair [eps1, eps2]');
    inRange('adafactor', 'eps[0]', h.eps[0], 0, Infinity, true);
    inRange('adafactor', 'eps[1]', h.eps[1], 0, Infinity, true);
    inRange('adafactor', 'clipThreshold', h.clipThreshold, 0, Infinity, true);
    inRange('adafactor', 'decayRate', h.decayRate, -Infinity, 0, false, true);
    if (h.beta1 !== null) inRange('adafactor', 'beta1', h.beta1, 0, 1);
    inRange('adafactor', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers(h, rows, cols) {
    const b: [string, number, number][] = factored(rows, cols)
      ? [
          ['expAvgSqRow', rows, 0],
          ['expAvgSqCol', cols, 0],
        ]
      : [['expAvgSq', rows * cols, 0]];
    if (h.beta1 !== null) b.push(['expAvg', rows * cols, 0]);
    return b;
  },
  state: {
    native: [
      stateArray('expAvgSqRow', rowFactor),
      stateArray('expAvgSqCol', colFactor),
      stateArray('expAvgSq', unfactored),
      stateArray('expAvg', ENTRIES, 'optional'),
    ],
    reference: [stateArray('row', rowFactor), stateArray('col', colFactor), stateArray('v', unfactored), stateArray('m', ENTRIES, 'optional')],
  },
  scalars(h, t, rows, cols) {
    const rho = h.relativeStep ? Math.min(h.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : (h.lr as number);
    return [
      rho,
      h.eps[0],
      h.eps[1],
      h.clipThreshold,
      1 - t ** h.decayRate,
      h.beta1 === null ? -1 : h.beta1,
      h.weightDecay,
      h.scaleParameter ? 1 : 0,
      factored(rows, cols) ? 1 : 0,
    ];
  },
};
