// Muon (KellerJordan/Muon): EMA momentum with Nesterov look-ahead, the update orthogonalised by
// Newton-Schulz (or exactly by SVD), scaled by √max(1, rows/cols), decoupled weight decay. Meant
// for hidden matrices; embeddings, heads, biases and gains belong to AdamW (mix with stepMany).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

export const muon: RuleSpec<'muon'> = {
  kernel: 'muon',
  schedulable: ['lr', 'weightDecay', 'momentum'],
  check(h) {
    inRange('muon', 'lr', h.lr, 0, Infinity);
    inRange('muon', 'momentum', h.momentum, 0, 1);
    inRange('muon', 'weightDecay', h.weightDecay, 0, Infinity);
    if (!Number.isInteger(h.nsSteps) || h.nsSteps < 0) throw new RangeError(`muon: nsSteps must be a non-negative integer, got ${h.nsSteps}`);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (_h, rows, cols) => [['momentumBuffer', rows * cols, 0]],
  state: { native: [stateArray('momentumBuffer', ENTRIES)], reference: [stateArray('momentumBuffer', ENTRIES)] },
  scalars: (h, _t, rows, cols) => [
    h.lr,
    h.momentum,
    h.nesterov ? 1 : 0,
    h.nsSteps,
    h.adjustLr === 'match-rms-adamw' ? 0.2 * Math.sqrt(Math.max(rows, cols)) : Math.sqrt(Math.max(1, rows / cols)),
    h.lr * h.weightDecay,
    h.method === 'svd' ? 1 : 0,
  ],
};
