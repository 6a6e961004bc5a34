// Muon (KellerJordan/Muon): EMA momentum with Nesterov look-ahead, the update orthogonalised by
// Newton-Schulz (or exactly by SVD), scaled by √max(1, rows/cols), decoupled weight decay. Meant
// for hidden matrices; embeddings, heads, biases and gains belong to AdamW (mix with stepMany).
// torch.optim.Muon is { epsMode: 'max' } with its lr 1e-3 and weightDecay 0.1 (torch runs the
// iteration in bfloat16; here it stays float32).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

/** At most 18 per-step triples fit the native step's scalars. */
const MAX_SETS = 18;

/** nsCoefficients as a flat list of triples and their count (1: the same for every step). */
function coefficientSets(c: unknown, nsSteps: number): { sets: number; flat: number[] } {
  const triple = (x: unknown): x is number[] => Array.isArray(x) && x.length === 3 && x.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (triple(c)) return { sets: 1, flat: [...c] };
  if (Array.isArray(c) && c.length === nsSteps && c.length <= MAX_SETS && c.every(triple)) return { sets: c.length, flat: (c as number[][]).flat() };
  throw new RangeError(
    `muon: nsCoefficients must be one [a, b, c] of finite numbers, or nsSteps (${nsSteps}) of them, one per step (at most ${MAX_SETS}), got ${JSON.stringify(c)}`,
  );
}

export const muon: RuleSpec<'muon'> = {
  kernel: 'muon',
  schedulable: ['lr', 'weightDecay', 'momentum'],
  check(h) {
    inRange('muon', 'lr', h.lr, 0, Infinity);
    inRange('muon', 'momentum', h.momentum, 0, 1);
    inRange('muon', 'weightDecay', h.weightDecay, 0, Infinity);
    if (!Number.isInteger(h.nsSteps) || h.nsSteps < 0) throw new RangeError(`muon: nsSteps must be a non-negative integer, got ${h.nsSteps}`);
    inRange('muon', 'eps', h.eps, 0, Infinity, true);
    coefficientSets(h.nsCoefficients, h.nsSteps);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (_h, rows, cols) => [['momentumBuffer', rows * cols, 0]],
  state: { native: [stateArray('momentumBuffer', ENTRIES)], reference: [stateArray('momentumBuffer', ENTRIES)] },
  scalars(h, _t, rows, cols) {
    const { sets, flat } = coefficientSets(h.nsCoefficients, h.nsSteps);
    return [
      h.lr,
      h.momentum,
      h.nesterov ? 1 : 0,
      h.nsSteps,
      h.adjustLr === 'match-rms-adamw' ? 0.2 * Math.sqrt(Math.max(rows, cols)) : Math.sqrt(Math.max(1, rows / cols)),
      h.lr * h.weightDecay,
      h.method === 'svd' ? 1 : 0,
      h.eps,
      h.epsMode === 'max' ? 1 : 0,
      sets,
      ...flat,
    ];
  },
};
