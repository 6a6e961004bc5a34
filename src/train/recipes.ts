// Per-rule training recipes for the MNIST MLP, in one place: which parameters a rule is given and
// with which hyperparameters. Every rule of the library can be named: a rule without an entry
// here (say one added after this file was written) runs with the library's defaults
// (OPTIMIZER_DEFAULTS) on every parameter, and its results say so.
//
// Parameters a recipe does not give its rule, and parameters its rule refuses (adagrad-full's
// maxDim, say), are trained by FALLBACK; every run records which rule ran on which parameter and
// why (results.json "assignments").
//
// The learning rates were chosen by a short sweep on this task (784-256-256-10, batch 128,
// 5 epochs, seed 0: two or three values per rule, the best test accuracy kept) with a constant
// lr, not tuned to the last digit; under a decaying schedule they are scaled by peakFactor
// (below, with its own sweep); a rule's ranking on this small task says little about larger ones.
import { RULES } from '../optim/defaults.js';
import type { NamedParam } from './mlp.js';

export type Hyper = Record<string, unknown>;

export interface Recipe {
  /** Which parameters get the rule: every one, every weight matrix, or the hidden weight matrices (all W but the first and the last layer's). */
  applyTo: 'all' | 'weights' | 'hidden';
  /** The rule's hyperparameters, possibly depending on the parameter. */
  hyper: Hyper | ((p: NamedParam) => Hyper);
  /** One line for the README / report. */
  why: string;
  /** A decaying schedule's peak is the lr times this (default DEFAULT_PEAK_FACTOR; see there). */
  peakFactor?: number;
  /**
   * The run's --schedule is not applied to this rule: its lr stays the recipe's throughout
   * (schedule-free rules, which replace a schedule by their own warm-up and iterate averaging).
   */
  constantLr?: boolean;
}

/** What trains the parameters a recipe leaves out (or its rule refuses). */
export const FALLBACK = { rule: 'adamw', hyper: { lr: 3e-3, weightDecay: 0 } as Hyper };

/**
 * The peak of a decaying schedule (cosine, warmup-cosine, wsd) is the recipe's lr times its
 * `peakFactor`, or DEFAULT_PEAK_FACTOR: the lrs below are tuned for a constant lr, and a schedule
 * that decays to 0 needs a higher peak (warm-up plus cosine averages about half of it). The factor
 * applies to every lr of the run, the fallback AdamW's too. Figures: docs/training.md, "Learning-
 * rate schedules"; in short, warmup-cosine (5% warm-up), 5 epochs, seeds 0 and 1, test accuracy /
 * final train loss (1 thread):
 *   muon     constant 0.9515/0.0247 0.9575/0.0225; ×1 0.9565/0.0412 0.9525/0.0503; ×2 0.9635/0.0090 0.9630/0.0127; ×3 0.9620/0.0057 0.9685/0.0073
 *   adamw    constant 0.9520/0.0409 0.9545/0.0353; ×1 0.9465/0.0727 0.9455/0.0761; ×2 0.9560/0.0323 0.9570/0.0388; ×3 0.9635/0.0203 0.9635/0.0248
 *   sgd      constant 0.9390/0.0766 0.9555/0.0586; ×1 0.9455/0.0914 0.9470/0.0871; ×2 0.9550/0.0456 0.9620/0.0363; ×3 0.9475/0.0667 0.9300/0.1284
 *   soap     constant 0.9650/0.0011 0.9630/0.0009; ×1 0.9555/0.0476 0.9570/0.0475; ×2 0.9630/0.0015 0.9635/0.0014; ×3 0.9650/0.0005 0.9615/0.0004
 *   shampoo  constant 0.9565/0.0295 0.9605/0.0290; ×1 0.9485/0.0903 0.9490/0.0894; ×2 0.9600/0.0322 0.9615/0.0334; ×3 0.9645/0.0164 0.9635/0.0169
 *   adam     constant 0.9480/0.0413 0.9510/0.0408; ×1 0.9480/0.0724 0.9465/0.0761; ×2 0.9585/0.0314 0.9515/0.0378; ×3 0.9615/0.0209 0.9620/0.0244
 * The other rules were not re-swept: they take DEFAULT_PEAK_FACTOR, the safer of the two (sgd
 * diverges at ×3). wsd (seed 0 only: muon, adamw, sgd at ×1 and ×2) uses the same factors.
 */
export const DEFAULT_PEAK_FACTOR = 2;

/** The lr multiplier of the run's peak under `schedule`: 1 for constant. */
export function peakFactor(rule: string, schedule: string): number {
  if (schedule === 'constant' || recipeFor(rule).constantLr) return 1;
  return recipeFor(rule).peakFactor ?? DEFAULT_PEAK_FACTOR;
}

/** The recipe `npm start` and `specopt train` without --optimizer use. */
export const DEFAULT_OPTIMIZER = 'muon';

export const RECIPES: Record<string, Recipe> = {
  sgd: { applyTo: 'all', hyper: { lr: 0.1, momentum: 0.9, nesterov: true }, why: 'SGD with Nesterov momentum 0.9' },
  signsgd: { applyTo: 'all', hyper: { lr: 1e-3, momentum: 0.9 }, why: 'Signum (momentum 0.9)' },
  pbsgd: { applyTo: 'all', hyper: { lr: 0.01, gamma: 0.5, momentum: 0.9 }, why: 'sign(G)·|G|^0.5 with momentum 0.9' },
  adagrad: { applyTo: 'all', hyper: { lr: 0.02 }, why: 'PyTorch Adagrad' },
  rmsprop: { applyTo: 'all', hyper: { lr: 1e-3 }, why: 'PyTorch RMSprop' },
  adam: { applyTo: 'all', hyper: { lr: 3e-3 }, why: 'PyTorch Adam', peakFactor: 3 },
  adamw: { applyTo: 'all', hyper: { lr: 3e-3, weightDecay: 1e-2 }, why: 'PyTorch AdamW, weight decay 0.01', peakFactor: 3 },
  adafactor: {
    applyTo: 'all',
    hyper: { lr: 1e-3, relativeStep: false, scaleParameter: false },
    why: 'fixed lr 1e-3 (no relative step or parameter scaling), no first moment',
  },
  'adam-mini': { applyTo: 'all', hyper: { lr: 3e-3 }, why: 'one second moment per row' },
  'sphere-sgd': {
    applyTo: 'weights',
    // Each row of W stays on a sphere whose radius is the rows' mean norm at initialisation.
    hyper: (p) => ({ lr: 0.05, axis: 'rows', radius: meanRowNorm(p) }),
    why: 'each row of W on the sphere of its initial mean row norm; biases by the fallback',
  },
  shampoo: {
    applyTo: 'all',
    hyper: { lr: 1e-3, grafting: 'adam', eps: 1e-6, preconditionFrequency: 10 },
    why: 'Adam-grafted, roots every 10 steps, eps 1e-6 (float32 on non-square statistics)', peakFactor: 3
  },
  shampoo2: {
    applyTo: 'all',
    hyper: { lr: 1e-3, grafting: 'adam', eps: 1e-6, preconditionFrequency: 10 },
    why: 'as shampoo, roots ^(−1/2)',
  },
  'galore-adamw': {
    applyTo: 'weights',
    hyper: { lr: 0.02, rank: 32, updateProjGap: 50, scale: 0.25 },
    why: 'rank 32 (capped at min(m, n)), projector every 50 steps; biases by the fallback, as in GaLore',
  },
  'adagrad-full': {
    applyTo: 'all',
    hyper: { lr: 0.01 },
    why: 'full-matrix AdaGrad where d = m·n <= maxDim (4096); larger parameters by the fallback',
  },
  soap: {
    applyTo: 'all',
    hyper: {},
    why: 'nikhilvyas/SOAP defaults (lr 3e-3, betas 0.95/0.95, eigenbases refreshed every 10 steps); biases are plain Adam, as 1-D tensors are in the reference', peakFactor: 3
  },
  // Issue 12's rules: lr from a sweep under the default warmup-cosine schedule (peakFactor 2),
  // seeds 0 and 1, test accuracy: lion 1e-4 0.902/0.8955, 3e-4 0.927/0.9225, 1e-3 0.9545/0.9535,
  // 3e-3 0.941/0.9395; ademamix 1e-3 0.9365/0.9395, 3e-3 0.958/0.9565, 1e-2 0.9615/0.9595;
  // prodigy 0.5 0.9535/0.9565, 1 (its default) 0.922/0.9415; lamb 1e-3 0.798/0.822, 3e-3
  // 0.918/0.916, 1e-2 0.9595/0.9595, 3e-2 diverges (0.1); normuon (hidden matrices) 0.01
  // 0.9625/0.964, 0.02 0.9635/0.9635, 0.05 0.9625/0.9665. Schedule-free rules keep their lr
  // constant (constantLr) with their own warm-up of 16 updates (5% of 5 epochs): adamw 1e-3
  // 0.924/0.925, 3e-3 0.951/0.9495, 1e-2 0.9635/0.959; sgd 0.3 0.908/0.909, 1 0.945/0.9445, 3
  // 0.954/0.96. Their accuracy is x's (the trainer evaluates them in eval mode).
  lion: { applyTo: 'all', hyper: { lr: 1e-3 }, why: 'lion-pytorch Lion, betas 0.9/0.99 (lr ~3× below AdamW\'s, as its authors advise)' },
  ademamix: { applyTo: 'all', hyper: { lr: 1e-2 }, why: 'ml-ademamix defaults (betas 0.9/0.999/0.9999, alpha 2), no warm-ups' },
  prodigy: { applyTo: 'all', hyper: { lr: 0.5 }, why: 'Prodigy defaults, lr 0.5 (a schedule peak of 1): d learned over all parameters together' },
  rprop: {
    applyTo: 'all',
    hyper: {},
    why: "torch's Rprop defaults; its lr is only the initial step size (no schedule: the run's is not applied); a full-batch method, whose loss grows on mini-batches",
    constantLr: true,
  },
  lamb: { applyTo: 'all', hyper: { lr: 1e-2 }, why: 'optax lamb, lr 1e-2: layer-wise trust ratio on every parameter' },
  'schedule-free-adamw': {
    applyTo: 'all',
    hyper: { lr: 1e-2, warmupSteps: 16 },
    why: 'no schedule (the run\'s is not applied): its own 16-update warm-up and averaging; accuracy of x (eval mode)',
    constantLr: true,
  },
  'schedule-free-sgd': {
    applyTo: 'all',
    hyper: { lr: 3, warmupSteps: 16 },
    why: 'no schedule (the run\'s is not applied): its own 16-update warm-up and averaging; accuracy of x (eval mode)',
    constantLr: true,
  },
  normuon: { applyTo: 'hidden', hyper: { lr: 0.02 }, why: 'NorMuon defaults on the hidden matrices, AdamW on the rest (as muon)' },
  muon: {
    applyTo: 'hidden',
    hyper: { lr: 0.02, momentum: 0.95 },
    why: "Muon on the hidden matrices, AdamW on biases and the first and last layers (Muon's authors' recipe)", peakFactor: 3
  },
};

function meanRowNorm(p: NamedParam): number {
  const { rows, cols, data } = p.param;
  let sum = 0;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[i * cols + j] ** 2;
    sum += Math.sqrt(s);
  }
  return sum / rows || 1;
}

/** The recipe for `rule`: its entry above, or the library's defaults on every parameter. */
export function recipeFor(rule: string): Recipe & { known: boolean } {
  if (!(RULES as string[]).includes(rule)) {
    throw new RangeError(`unknown optimizer '${rule}' (known: ${RULES.join(', ')})`);
  }
  const r = RECIPES[rule];
  return r ? { ...r, known: true } : { applyTo: 'all', hyper: {}, why: "no MNIST recipe yet: the library's defaults on every parameter", known: false };
}

/** Does the recipe give its rule this parameter? */
export function takes(recipe: Recipe, p: NamedParam, layers: number): boolean {
  if (recipe.applyTo === 'all') return true;
  if (p.kind !== 'weight') return false;
  return recipe.applyTo === 'weights' || (p.layer > 1 && p.layer < layers);
}
