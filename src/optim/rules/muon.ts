// Muon (KellerJordan/Muon): EMA momentum with Nesterov look-ahead, the update orthogonalised by
// Newton-Schulz (or exactly by SVD), scaled by √max(1, rows/cols), decoupled weight decay. Meant
// for hidden matrices; embeddings, heads, biases and gains belong to AdamW (mix with stepMany).
// torch.optim.Muon is { epsMode: 'max' } with its lr 1e-3 and weightDecay 0.1 (torch runs the
// iteration in bfloat16; here it stays float32). nsCoefficients 'polar-express' is karpathy/nanochat's
// Polar Express iteration (five per-step triples, X/(1.01·‖X‖_F + 1e-6)).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';

/** At most 18 per-step triples fit the native step's scalars (native/optimizer.cpp's kMaxNsSets). */
const MAX_SETS = 18;

/**
 * karpathy/nanochat `nanochat/optim.py` `polar_express_coeffs` (commit 92d63d4): NoahAmsel/PolarExpress
 * `optimal_composition(l=1e-3, num_iters=5, safety_factor_eps=2e-2, cushion=0.02)`, bit for bit.
 */
export const POLAR_EXPRESS_COEFFICIENTS: readonly (readonly [number, number, number])[] = [
  [8.156554524902461, -22.48329292557795, 15.878769915207462],
  [4.042929935166739, -2.808917465908714, 0.5000178451051316],
  [3.8916678022926607, -2.772484153217685, 0.5060648178503393],
  [3.285753657755655, -2.3681294933425376, 0.46449024233003106],
  [2.3465413258596377, -1.7097828382687081, 0.42323551169305323],
];
/** nanochat's normalisation before the iteration: X/(1.01·‖X‖_F + 1e-6). */
export const POLAR_EXPRESS_NORM = { scale: 1.01, eps: 1e-6 } as const;
/** KellerJordan/Muon's: X/(‖X‖_F + 1e-7). */
const QUINTIC_NORM = { scale: 1, eps: 1e-7 } as const;

/** The Newton-Schulz hyperparameters Muon and NorMuon share. */
export interface NewtonSchulzHyper {
  nsSteps: number;
  nsCoefficients: number[] | number[][] | 'polar-express';
  eps: number | null;
  epsMode: 'add' | 'max';
  nsNormScale: number | null;
  method: 'newton-schulz' | 'svd';
}

/** nsCoefficients as a flat list of triples and their count (1: the same for every step). */
function coefficientSets(rule: string, c: unknown, nsSteps: number): { sets: number; flat: number[] } {
  if (c === 'polar-express') {
    if (nsSteps > POLAR_EXPRESS_COEFFICIENTS.length) {
      throw new RangeError(`${rule}: nsCoefficients 'polar-express' has ${POLAR_EXPRESS_COEFFICIENTS.length} steps, so nsSteps must be at most ${POLAR_EXPRESS_COEFFICIENTS.length}, got ${nsSteps}`);
    }
    const steps = POLAR_EXPRESS_COEFFICIENTS.slice(0, nsSteps);
    return { sets: steps.length, flat: steps.flat() };
  }
  const triple = (x: unknown): x is number[] => Array.isArray(x) && x.length === 3 && x.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (triple(c)) return { sets: 1, flat: [...c] };
  if (Array.isArray(c) && c.length === nsSteps && c.length <= MAX_SETS && c.every(triple)) return { sets: c.length, flat: (c as number[][]).flat() };
  throw new RangeError(
    `${rule}: nsCoefficients must be one [a, b, c] of finite numbers, or nsSteps (${nsSteps}) of them, one per step (at most ${MAX_SETS}), or 'polar-express', got ${JSON.stringify(c)}`,
  );
}

/** The normalisation's eps and scale: the given ones, or the coefficient set's own. */
export function newtonSchulzNorm(h: Pick<NewtonSchulzHyper, 'nsCoefficients' | 'eps' | 'nsNormScale'>): { eps: number; scale: number } {
  const own = h.nsCoefficients === 'polar-express' ? POLAR_EXPRESS_NORM : QUINTIC_NORM;
  return { eps: h.eps ?? own.eps, scale: h.nsNormScale ?? own.scale };
}

export function checkNewtonSchulz(rule: string, h: NewtonSchulzHyper): void {
  if (!Number.isInteger(h.nsSteps) || h.nsSteps < 0) throw new RangeError(`${rule}: nsSteps must be a non-negative integer, got ${h.nsSteps}`);
  if (typeof h.nsCoefficients === 'string' && h.nsCoefficients !== 'polar-express') {
    throw new TypeError(`${rule}: nsCoefficients must be [a, b, c], one [a, b, c] per step, or 'polar-express', got '${h.nsCoefficients}'`);
  }
  if (h.eps !== null) inRange(rule, 'eps', h.eps, 0, Infinity, true);
  if (h.nsNormScale !== null) inRange(rule, 'nsNormScale', h.nsNormScale, 0, Infinity, true);
  coefficientSets(rule, h.nsCoefficients, h.nsSteps);
}

/** The native Newton-Schulz block (native/rules/rules.hpp): method, nsSteps, eps, mode, scale, K, 3K coefficients. */
export function newtonSchulzScalars(rule: string, h: NewtonSchulzHyper): number[] {
  const { sets, flat } = coefficientSets(rule, h.nsCoefficients, h.nsSteps);
  const { eps, scale } = newtonSchulzNorm(h);
  return [h.method === 'svd' ? 1 : 0, h.nsSteps, eps, h.epsMode === 'max' ? 1 : 0, scale, sets, ...flat];
}

/** The update's scale for the shape: √max(1, rows/cols) (KellerJordan), or 0.2·√max(rows, cols). */
export function shapeScale(adjustLr: string, rows: number, cols: number): number {
  return adjustLr === 'match-rms-adamw' ? 0.2 * Math.sqrt(Math.max(rows, cols)) : Math.sqrt(Math.max(1, rows / cols));
}

export const muon: RuleSpec<'muon'> = {
  kernel: 'muon',
  schedulable: ['lr', 'weightDecay', 'momentum'],
  check(h) {
    inRange('muon', 'lr', h.lr, 0, Infinity);
    inRange('muon', 'momentum', h.momentum, 0, 1);
    inRange('muon', 'weightDecay', h.weightDecay, 0, Infinity);
    checkNewtonSchulz('muon', h);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (_h, rows, cols) => [['momentumBuffer', rows * cols, 0]],
  state: { native: [stateArray('momentumBuffer', ENTRIES)], reference: [stateArray('momentumBuffer', ENTRIES)] },
  scalars(h, _t, rows, cols) {
    return [h.lr, h.momentum, h.nesterov ? 1 : 0, shapeScale(h.adjustLr, rows, cols), h.lr * h.weightDecay, ...newtonSchulzScalars('muon', h)];
  },
};
