// Adafactor with transformers' semantics (variant 'transformers', the default): factored second
// moment for matrices (both sides > 1), relative step size, parameter scaling, update clipping,
// optional first moment. Variant 'torch': torch.optim.Adafactor (PyTorch 2.13's _adafactor.py):
// every parameter factored (a 1×n or n×1 matrix too, as torch factors every 2-D tensor), ρ_t =
// min(lr, 1/√t), the row mean and the estimate clamped at eps1 and eps1² instead of eps1 added,
// the update divided by max(1, RMS(update)/d), decay W(1 − lr·λ).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

const factored = (rows: number, cols: number) => rows > 1 && cols > 1;
/** The row factor (length rows), the column factor (cols) and the full second moment: which a shape has. */
const rowFactor = (rows: number, cols: number) => (factored(rows, cols) ? rows : { what: `${rows} (variant 'torch')`, test: (l: number) => l === rows });
const colFactor = (rows: number, cols: number) => (factored(rows, cols) ? cols : { what: `${cols} (variant 'torch')`, test: (l: number) => l === cols });
const unfactored = (rows: number, cols: number) => (factored(rows, cols) ? null : rows * cols);
/** A vector's state: the full second moment (transformers) or the two factors (torch). */
const vector = (rows: number, cols: number) => !factored(rows, cols);

/** float32's machine epsilon: torch's eps1 when none is given (torch.finfo(float32).eps). */
const FLOAT32_EPS = 2 ** -23;

/** What each variant has instead of DEFAULTS.adafactor's values, and what it does not use. */
export const ADAFACTOR_VARIANTS = {
  transformers: { defaults: {}, unused: ['beta2Decay', 'd', 'maximize'] },
  torch: {
    defaults: { lr: 1e-2, eps: [null, 1e-3] },
    unused: ['clipThreshold', 'decayRate', 'beta1', 'scaleParameter', 'relativeStep', 'warmupInit'],
  },
} as const;

function checkTorch(h: Parameters<RuleSpec<'adafactor'>['check']>[0]): void {
  if (h.lr === null) throw new RangeError("adafactor: variant 'torch' needs an lr (torch's default is 1e-2)");
  inRange('adafactor', 'lr', h.lr, 0, Infinity);
  if (!Array.isArray(h.eps) || h.eps.length !== 2) throw new TypeError('adafactor: eps must be a pair [eps1, eps2]');
  if (h.eps[0] !== null) inRange('adafactor', 'eps[0]', h.eps[0], 0, Infinity);
  inRange('adafactor', 'eps[1]', h.eps[1], 0, Infinity);
  inRange('adafactor', 'beta2Decay', h.beta2Decay, -Infinity, 0, false, false);
  inRange('adafactor', 'd', h.d, 1, Infinity);
  inRange('adafactor', 'weightDecay', h.weightDecay, 0, Infinity);
  if (h.weightDecayNorm === 'spectral') throw new RangeError("adafactor: variant 'torch' has no spectral weight decay");
}

export const adafactor: RuleSpec<'adafactor'> = {
  kernel: 'adafactor',
  kernelOf: (h) => (h.variant === 'torch' ? 'adafactor-torch' : 'adafactor'),
  variants: ADAFACTOR_VARIANTS,
  schedulable: ['lr', 'weightDecay', 'beta1'],
  check(h) {
    if (h.variant === 'torch') return checkTorch(h);
    if (h.relativeStep && h.lr !== null) {
      throw new RangeError('adafactor: a manual lr cannot be combined with relativeStep: true (set relativeStep: false)');
    }
    if (!h.relativeStep && h.lr === null) throw new RangeError('adafactor: relativeStep: false needs an lr');
    if (h.warmupInit && !h.relativeStep) throw new RangeError('adafactor: warmupInit needs relativeStep: true');
    if (h.lr !== null) inRange('adafactor', 'lr', h.lr, 0, Infinity);
    if (!Array.isArray(h.eps) || h.eps.length !== 2) throw new TypeError('adafactor: eps must be a pair [eps1, eps2]');
    if (h.eps[0] === null) throw new RangeError("adafactor: eps[0] may be null only with variant 'torch'");
    inRange('adafactor', 'eps[0]', h.eps[0], 0, Infinity, true);
    inRange('adafactor', 'eps[1]', h.eps[1], 0, Infinity, true);
    inRange('adafactor', 'clipThreshold', h.clipThreshold, 0, Infinity, true);
    inRange('adafactor', 'decayRate', h.decayRate, -Infinity, 0, false, true);
    if (h.beta1 !== null) inRange('adafactor', 'beta1', h.beta1, 0, 1);
    inRange('adafactor', 'weightDecay', h.weightDecay, 0, Infinity);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers(h, rows, cols) {
    const b: [string, number, number][] = factored(rows, cols) || h.variant === 'torch'
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
      stateArray('expAvgSqRow', rowFactor, vector),
      stateArray('expAvgSqCol', colFactor, vector),
      stateArray('expAvgSq', unfactored, 'optional'),
      stateArray('expAvg', ENTRIES, 'optional'),
    ],
    reference: [
      stateArray('row', rowFactor, vector),
      stateArray('col', colFactor, vector),
      stateArray('v', unfactored, 'optional'),
      stateArray('m', ENTRIES, 'optional'),
    ],
  },
  scalars(h, t, rows, cols) {
    if (h.variant === 'torch') {
      const lr = h.lr as number;
      return [lr, h.eps[0] ?? FLOAT32_EPS, h.eps[1], h.d, t ** h.beta2Decay, lr * h.weightDecay, h.maximize ? 1 : 0, Math.min(lr, 1 / Math.sqrt(t))];
    }
    const rho = h.relativeStep ? Math.min(h.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : (h.lr as number);
    return [
      rho,
      h.eps[0] as number,
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
