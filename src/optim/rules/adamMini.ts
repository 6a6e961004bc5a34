// Adam-mini (zyushun/Adam-mini): one second-moment value per block of the parameter, blocks being
// rows (the default: one per output neuron), columns, the whole tensor (Adalayer) or h equal
// groups of rows (attention heads). Decoupled decay.
import { ENTRIES, checkBetas, inRange, stateArray, type RuleSpec, type StateLength } from '../rule.js';

const MODES = { rows: 0, cols: 1, all: 2 } as const;

function blockCount(blocks: 'rows' | 'cols' | 'all' | number, rows: number, cols: number): number {
  if (typeof blocks === 'number') return blocks;
  return blocks === 'rows' ? rows : blocks === 'cols' ? cols : 1;
}

/** The second moment's length without the hyperparameters: one of the block counts `blocks` can give. */
function blockLengths(rows: number, cols: number): StateLength {
  return { what: `${rows} (rows), ${cols} (cols), 1 (all) or a divisor of ${rows} (row groups)`, test: (n) => n === cols || (n >= 1 && rows % n === 0) };
}

export const adamMini: RuleSpec<'adam-mini'> = {
  kernel: 'adam-mini',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('adam-mini', 'lr', h.lr, 0, Infinity);
    checkBetas('adam-mini', h.betas);
    inRange('adam-mini', 'eps', h.eps, 0, Infinity, true);
    inRange('adam-mini', 'weightDecay', h.weightDecay, 0, Infinity);
    const b = h.blocks;
    if (typeof b === 'number' ? !Number.isInteger(b) || b < 1 : !(b in MODES)) {
      throw new TypeError(`adam-mini: blocks must be 'rows' | 'cols' | 'all' or a positive integer, got ${JSON.stringify(b)}`);
    }
  },
  checkShape(h, rows) {
    if (typeof h.blocks === 'number' && rows % h.blocks !== 0) {
      throw new RangeError(`adam-mini: blocks = ${h.blocks} row groups must divide the parameter's ${rows} rows`);
    }
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (h, rows, cols) => [
    ['expAvg', rows * cols, 0],
    ['expAvgSq', blockCount(h.blocks, rows, cols), 0],
  ],
  state: {
    native: [stateArray('expAvg', ENTRIES), stateArray('expAvgSq', blockLengths)],
    reference: [stateArray('m', ENTRIES), stateArray('v', blockLengths)],
  },
  scalars(h, t) {
    const [beta1, beta2] = h.betas;
    const mode = typeof h.blocks === 'number' ? 3 : MODES[h.blocks];
    return [beta1, beta2, h.eps, h.lr * h.weightDecay, h.lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t), mode, typeof h.blocks === 'number' ? h.blocks : 0];
  },
};
