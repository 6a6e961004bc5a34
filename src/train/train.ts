// One training run: an MLP from a seeded initialisation, mini-batches in a seeded order, one
// optimizer recipe applied through stepMany (one entries array for the whole run), evaluation on
// the whole train and test sets after every epoch, and optional checkpoints after every epoch.
//
// Every run with the same seed starts from the same weights and sees the same batches whatever
// the optimizer: the initialisation depends on (seed, layer) and epoch e's order on (seed, e)
// only, so a resumed run needs no PRNG state and continues bit for bit.
//
// The learning rate may follow a schedule over the run (TrainConfig.schedule): every optimizer of
// the run (the recipe's and the fallback's) gets the named shape, peaking at its own lr times the
// recipe's peakFactor (recipes.ts: the recipes' lrs are tuned for a constant lr). A
// schedule is a function of each state's step count, which the checkpoint restores, so a resumed
// run stays bit-identical.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import { gradNorm } from '../clip.js';
import { OPTIMIZER_DEFAULTS } from '../optim/defaults.js';
import { createOptimizer, evalMode, stepMany, trainMode, type Optimizer, type StepEntry, type StepResults } from '../optim/optimizer.js';
import { schedules, type Schedule } from '../schedules.js';
import { loadState, saveState, stateBytes } from '../optim/state.js';
import { CheckpointError, checkpointExists, encodeCheckpoint, readCheckpoint, writeAtomic } from './checkpoint.js';
import { IMAGE_SIZE, type MnistSplit } from './data.js';
import { Mlp, type NamedParam } from './mlp.js';
import { FALLBACK, peakFactor, recipeFor, takes, type Hyper } from './recipes.js';
import { createRng, mixSeed, permutation } from './rng.js';

export interface TrainConfig {
  /** [784, hidden..., 10]. */
  sizes: number[];
  epochs: number;
  batchSize: number;
  seed: number;
  /** The learning-rate schedule over the run (default: constant, the recipe's lr throughout). */
  schedule?: LrSchedule;
  /** Clip all gradients together to this total 2-norm (stepMany's maxGradNorm); default none. */
  clip?: number;
}

/** The shapes `--schedule` names. */
export const SCHEDULE_NAMES = ['constant', 'cosine', 'warmup-cosine', 'wsd'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/**
 * A learning-rate schedule over the run: its shape, and (for the shapes that have them) the
 * warm-up and decay lengths as fractions of the run's total update count.
 */
export interface LrSchedule {
  name: ScheduleName;
  /** warmup-cosine and wsd: the linear warm-up from 0, as a fraction of the run in [0, 1). */
  warmup?: number;
  /** wsd: the final linear decay to 0, as a fraction of the run in (0, 1]. */
  decay?: number;
}

/** The fractions a shape uses when none is given. */
export const SCHEDULE_DEFAULTS = { warmup: 0.05, decay: 0.2 } as const;

/** Which fractions each shape takes. */
export const SCHEDULE_TAKES: Record<ScheduleName, readonly ('warmup' | 'decay')[]> = {
  constant: [],
  cosine: [],
  'warmup-cosine': ['warmup'],
  wsd: ['warmup', 'decay'],
};

/** The schedule with its defaults filled in and only the fractions its shape takes. */
export function normalizeSchedule(s: LrSchedule | undefined): LrSchedule {
  const name = s?.name ?? 'constant';
  if (!(SCHEDULE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown schedule '${name}' (known: ${SCHEDULE_NAMES.join(', ')})`);
  }
  const out: LrSchedule = { name };
  for (const k of SCHEDULE_TAKES[name]) out[k] = s?.[k] ?? SCHEDULE_DEFAULTS[k];
  const { warmup, decay } = out;
  if (warmup !== undefined && !(warmup >= 0 && warmup < 1)) throw new RangeError(`the warm-up fraction must be in [0, 1), got ${warmup}`);
  if (decay !== undefined && !(decay > 0 && decay <= 1)) throw new RangeError(`the decay fraction must be in (0, 1], got ${decay}`);
  if (warmup !== undefined && decay !== undefined && warmup + decay > 1) {
    throw new RangeError(`the warm-up and decay fractions must add up to at most 1, got ${warmup} + ${decay}`);
  }
  return out;
}

/**
 * The update counts of each phase for a run of `total` updates: warm-up steps (rounded), decay
 * steps (rounded, at least 1; wsd only) and the stable steps between them.
 */
export function schedulePhases(s: LrSchedule, total: number): { warmupSteps: number; stableSteps: number; decaySteps: number } {
  const n = normalizeSchedule(s);
  const warmupSteps = Math.round((n.warmup ?? 0) * total);
  if (n.name === 'wsd') {
    const decaySteps = Math.min(total - warmupSteps, Math.max(1, Math.round(n.decay! * total)));
    return { warmupSteps, stableSteps: Math.max(0, total - warmupSteps - decaySteps), decaySteps: Math.max(1, decaySteps) };
  }
  return { warmupSteps, stableSteps: 0, decaySteps: total - warmupSteps };
}

/**
 * The lr of an optimizer whose recipe gives `peak`, under schedule `s` over `total` updates:
 * the number itself for 'constant' (the run is exactly the unscheduled one), else the built-in
 * schedule (cosine from the peak to 0; linear warm-up from 0 then cosine to 0; warm-up, stable at
 * the peak, linear decay to 0).
 */
export function scheduledLr(s: LrSchedule, peak: number, total: number): number | Schedule {
  const n = normalizeSchedule(s);
  if (n.name === 'constant') return peak;
  const totalSteps = Math.max(1, total);
  const { warmupSteps, stableSteps, decaySteps } = schedulePhases(n, totalSteps);
  if (n.name === 'cosine') return schedules.cosine({ from: peak, to: 0, steps: totalSteps });
  if (n.name === 'warmup-cosine') return schedules.warmupCosine({ peak, warmupSteps, totalSteps });
  return schedules.wsd({ peak, warmupSteps, stableSteps, decaySteps, shape: 'linear' });
}

/** Thrown when a schedule cannot apply to a rule's lr (adafactor's relative step has none). */
export class ScheduleError extends RangeError {}

/** The lr a rule runs with under `hyper` (the recipe's, or the library's default). */
function peakLr(rule: string, hyper: Hyper): unknown {
  const given = hyper.lr;
  return given !== undefined ? given : (OPTIMIZER_DEFAULTS as Record<string, { lr?: unknown }>)[rule]?.lr;
}

function schedulable(rule: string, hyper: Hyper, s: LrSchedule): number {
  const lr = peakLr(rule, hyper);
  if (typeof lr === 'number') return lr;
  throw new ScheduleError(
    `--schedule ${s.name} cannot apply to ${rule}: its lr is ${lr === null ? 'null' : String(lr)} (${rule === 'adafactor' ? "adafactor's relativeStep sets its own step size" : 'no learning rate to schedule'}); use --schedule constant for it, or a recipe with a fixed lr`,
  );
}

/**
 * Checks, before any training, that the run's schedule can apply to every optimizer `optimizer`'s
 * recipe would make on a net of `sizes` (a ScheduleError if not).
 */
export function checkSchedule(optimizer: string, sizes: number[], schedule: LrSchedule | undefined): void {
  const s = normalizeSchedule(schedule);
  if (s.name === 'constant') return;
  const recipe = recipeFor(optimizer);
  const model = new Mlp(sizes, 0);
  schedulable(FALLBACK.rule, FALLBACK.hyper, s);
  for (const p of model.params()) {
    if (takes(recipe, p, model.layers.length)) schedulable(optimizer, typeof recipe.hyper === 'function' ? recipe.hyper(p) : recipe.hyper, s);
  }
}

export interface Assignment {
  param: string;
  shape: [number, number];
  rule: string;
  hyper: Hyper;
  /** Why this rule: the recipe's, or why the fallback took over. */
  reason: string;
}

export interface EpochRecord {
  epoch: number;
  /** Mean cross-entropy over the whole training set after the epoch (0: at initialisation). */
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
}

export interface RunResult {
  optimizer: string;
  testAccuracy: number;
  /** Mean cross-entropy over the whole training set with the final weights. */
  trainLoss: number;
  testLoss: number;
  /** Mean wall time of one optimizer step (stepMany over all parameters), forward/backward excluded. */
  msPerStep: number;
  /** Mean wall time of one forward + backward pass of a mini-batch. */
  msForwardBackward: number;
  /** Optimizer state summed over all parameters. */
  stateBytes: number;
  /** The mini-batch loss of every step, in order. */
  lossCurve: number[];
  /**
   * The learning rate of every step, in order: `hyperAt(count).lr` of the optimizer of the
   * parameter `lrFrom` names (the run's rule on its first parameter, or the fallback's when the
   * rule took none), at that parameter's state count. null where the rule has no lr (adafactor's
   * relative step).
   */
  lrPerStep: (number | null)[];
  /** Whose lr `lrPerStep` records. */
  lrFrom: { param: string; rule: string };
  /**
   * The total 2-norm of all gradients of every step (as if concatenated), before clipping: with
   * --clip, what stepMany measured; without, gradNorm of the same gradients. NaN (null in JSON)
   * for a non-finite gradient.
   */
  gradNormPerStep: number[];
  /** With --clip: how many steps had their gradients scaled down. */
  clippedSteps?: number;
  /** The run's schedule (fractions filled in) and its phases in update counts; the total is epochs × steps per epoch. */
  schedule: LrSchedule & { peakFactor: number; totalSteps: number; warmupSteps: number; stableSteps: number; decaySteps: number };
  /** The --clip threshold, or null. */
  clip: number | null;
  /** Evaluation after every epoch; epoch 0 is the initialisation. */
  epochs: EpochRecord[];
  steps: number;
  assignments: Assignment[];
  recipe: string;
  /** sha256 of the final parameters' float32 bytes (W1, b1, W2, ...): equal hashes, equal weights. */
  weightsSha256: string;
  /** Set when the run resumed from a checkpoint: the epoch it had reached. */
  resumedFromEpoch?: number;
  /** Set when the run stopped early (e.g. a NaN gradient: the optimizer diverged). */
  error?: string;
}

export interface TrainHooks {
  onStep?(info: { optimizer: string; epoch: number; step: number; stepsPerEpoch: number; loss: number }): void;
  onEpoch?(info: { optimizer: string; record: EpochRecord; epochs: number; seconds: number }): void;
  onNote?(message: string): void;
  /** Called with the model at initialisation (before any step) and after the last epoch. */
  onModel?(phase: 'start' | 'end', model: Mlp): void;
}

export interface RunOptions extends TrainHooks {
  /** Save DIR/<optimizer>.ckpt after every epoch. */
  checkpointDir?: string;
  /** Continue from DIR/<optimizer>.ckpt when it exists. */
  resume?: boolean;
  /** Data parallelism over MPI ranks (the CLI's --distributed; no checkpoints then). */
  distributed?: DistributedRun;
}

/**
 * How a run is data-parallel: this rank's place, its step (distributedStepMany), a sum over the
 * ranks, and the owners of sharded states. Given by the CLI, so that this module never loads
 * specopt/distributed (loading it initialises MPI).
 */
export interface DistributedRun {
  rank: number;
  size: number;
  /** Mode 'sharded': the rank that holds each entry's state (null: replicated). */
  owners(entries: readonly StepEntry[]): number[] | null;
  step(entries: readonly StepEntry[], maxGradNorm: number | null): StepResults;
  /** In place: the sum over the ranks. */
  sum(x: Float64Array): void;
}

interface CheckpointMeta {
  kind: 'specopt-mnist-run';
  optimizer: string;
  config: Pick<TrainConfig, 'sizes' | 'batchSize' | 'seed'>;
  data: string;
  assignments: { param: string; rule: string; hyper: Hyper }[];
  /** The schedule: its name and fractions, and for a non-constant one the run's total update count. */
  schedule: LrSchedule & { peakFactor?: number; totalSteps?: number };
  clip: number | null;
  epoch: number;
  steps: number;
  optimizerMs: number;
  forwardBackwardMs: number;
  lossCurve: number[];
  lrPerStep: (number | null)[];
  gradNormPerStep: (number | null)[];
  clippedSteps: number;
  epochs: EpochRecord[];
}

/**
 * Decides which rule trains each parameter and creates the optimizers and states. With
 * `schedule`, every optimizer's lr becomes that schedule over `totalSteps` updates, peaking at
 * the recipe's peakFactor times the lr its hyperparameters give (assignments keep the recipe's
 * numbers).
 */
export function planOptimizers(
  optimizer: string,
  model: Mlp,
  schedule?: { schedule: LrSchedule; totalSteps: number },
): { entries: StepEntry[]; assignments: Assignment[] } {
  const recipe = recipeFor(optimizer);
  const L = model.layers.length;
  const cache = new Map<string, Optimizer>();
  const s = normalizeSchedule(schedule?.schedule);
  const factor = peakFactor(optimizer, s.name);
  const get = (rule: string, hyper: Hyper) => {
    const key = `${rule} ${JSON.stringify(hyper)}`;
    let opt = cache.get(key);
    if (!opt) {
      const constant = s.name === 'constant' || (rule === optimizer && recipe.constantLr === true);
      const h = constant ? hyper : { ...hyper, lr: scheduledLr(s, factor * schedulable(rule, hyper, s), schedule!.totalSteps) };
      opt = createOptimizer(rule as never, h as never);
      cache.set(key, opt);
    }
    return opt;
  };
  const entries: StepEntry[] = [];
  const assignments: Assignment[] = [];
  for (const p of model.params()) {
    const shape: [number, number] = [p.param.rows, p.param.cols];
    let rule = FALLBACK.rule;
    let hyper = FALLBACK.hyper;
    let reason: string;
    let opt: Optimizer | undefined;
    let state;
    if (takes(recipe, p, L)) {
      const h = typeof recipe.hyper === 'function' ? recipe.hyper(p) : recipe.hyper;
      const candidate = get(optimizer, h);
      try {
        state = candidate.init(p.param);
        opt = candidate;
        rule = optimizer;
        hyper = h;
        reason = recipe.known ? 'recipe' : recipe.why;
      } catch (error) {
        reason = `${optimizer} refused it: ${(error as Error).message}`;
      }
    } else {
      reason = `${optimizer} recipe: ${describeScope(recipe.applyTo)}`;
    }
    if (!opt) {
      opt = get(rule, hyper);
      state = opt.init(p.param);
    }
    entries.push({ optimizer: opt, param: p.param, grad: p.grad, state: state! });
    assignments.push({ param: p.name, shape, rule, hyper, reason: reason! });
  }
  return { entries, assignments };
}

function describeScope(scope: 'all' | 'weights' | 'hidden'): string {
  return scope === 'hidden' ? 'only the hidden matrices (not biases, not the first or last layer)' : 'only the weight matrices, not biases';
}

function weightsHash(params: NamedParam[]): string {
  const h = createHash('sha256');
  for (const { param } of params) h.update(new Uint8Array(param.data.buffer, param.data.byteOffset, param.data.byteLength));
  return h.digest('hex');
}

const finite = (x: number) => (Number.isFinite(x) ? x : NaN);

/** Trains one recipe; see RunOptions for checkpoints. */
// Summed over the parameters (and, in a distributed run, over the ranks: each state once when sharded).
function totalStateBytes(entries: readonly StepEntry[], dist: DistributedRun | undefined): number {
  const bytes = Float64Array.of(entries.reduce((s, e) => s + (e.state ? stateBytes(e.state) : 0), 0));
  if (dist?.owners(entries)) dist.sum(bytes); // replicated: every rank holds them all already
  return bytes[0];
}

export function trainRun(optimizer: string, data: MnistSplit, config: TrainConfig, options: RunOptions = {}): RunResult {
  const { sizes, epochs, batchSize, seed } = config;
  if (sizes[0] !== IMAGE_SIZE) throw new RangeError(`the input layer must have ${IMAGE_SIZE} units (28×28 images), got ${sizes[0]}`);
  const clip = config.clip ?? null;
  if (clip !== null && !(typeof clip === 'number' && clip > 0 && Number.isFinite(clip))) throw new RangeError(`clip must be a finite number > 0, got ${clip}`);
  const schedule = normalizeSchedule(config.schedule);
  const n = data.train.n;
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = epochs * stepsPerEpoch;
  const model = new Mlp(sizes, seed);
  const params = model.params();
  const { entries, assignments } = planOptimizers(optimizer, model, { schedule, totalSteps });
  const dist = options.distributed;
  if (dist && options.checkpointDir) throw new RangeError('checkpoints are not supported in a distributed run yet');
  // Sharded: a rank keeps only the states it owns.
  const owners = dist?.owners(entries) ?? null;
  if (owners) entries.forEach((e, i) => owners[i] !== dist!.rank && (e.state = null as unknown as StepEntry['state']));
  const ckptPath = options.checkpointDir ? join(options.checkpointDir, `${optimizer}.ckpt`) : undefined;
  const identity = {
    kind: 'specopt-mnist-run' as const,
    optimizer,
    config: { sizes, batchSize, seed },
    data: data.fingerprint,
    assignments: assignments.map(({ param, rule, hyper }) => ({ param, rule, hyper })),
    // A constant lr does not depend on the run's length (--epochs may grow on resume); any other
    // schedule does.
    schedule: schedule.name === 'constant' ? schedule : { ...schedule, peakFactor: peakFactor(optimizer, schedule.name), totalSteps },
    clip,
  };
  // Whose lr is logged: the run's rule on its first parameter, else the first parameter's.
  const lrIndex = Math.max(0, assignments.findIndex((a) => a.rule === optimizer));
  const grads = params.map((p) => p.grad);

  let startEpoch = 0;
  let steps = 0;
  let optimizerMs = 0;
  let forwardBackwardMs = 0;
  let lossCurve: number[] = [];
  let lrPerStep: (number | null)[] = [];
  let gradNormPerStep: number[] = [];
  let clippedSteps = 0;
  let history: EpochRecord[] = [];
  let resumedFromEpoch: number | undefined;

  if (ckptPath && options.resume) {
    if (checkpointExists(ckptPath)) {
      const ckpt = readCheckpoint<CheckpointMeta>(ckptPath);
      const m = ckpt.meta;
      for (const key of ['kind', 'optimizer', 'config', 'data', 'assignments', 'schedule', 'clip'] as const) {
        if (JSON.stringify(m[key]) !== JSON.stringify(identity[key])) {
          throw new CheckpointError(
            `${ckptPath} was written by a different run (${key}: ${JSON.stringify(m[key])}, this run: ${JSON.stringify(identity[key])}); use another --checkpoint directory or drop --resume`,
          );
        }
      }
      if (m.epoch > epochs) throw new CheckpointError(`${ckptPath} has reached epoch ${m.epoch}, beyond --epochs ${epochs}`);
      for (const p of params) {
        const b = ckpt.blobs.get(`param:${p.name}`);
        if (!b || b.byteLength !== p.param.data.byteLength) throw new CheckpointError(`${ckptPath}: parameter ${p.name} is missing or has the wrong size`);
        new Uint8Array(p.param.data.buffer, p.param.data.byteOffset, p.param.data.byteLength).set(b);
      }
      entries.forEach((e, i) => {
        const b = ckpt.blobs.get(`state:${params[i].name}`);
        if (!b) throw new CheckpointError(`${ckptPath}: optimizer state of ${params[i].name} is missing`);
        e.state = loadState(b);
      });
      startEpoch = resumedFromEpoch = m.epoch;
      steps = m.steps;
      optimizerMs = m.optimizerMs;
      forwardBackwardMs = m.forwardBackwardMs;
      lossCurve = m.lossCurve;
      lrPerStep = m.lrPerStep;
      gradNormPerStep = m.gradNormPerStep.map((v) => (v === null ? NaN : v));
      clippedSteps = m.clippedSteps;
      history = m.epochs;
      options.onNote?.(`${optimizer}: resumed from ${ckptPath} at epoch ${m.epoch}`);
    } else {
      options.onNote?.(`${optimizer}: no checkpoint at ${ckptPath}; starting from scratch`);
    }
  }

  // Schedule-free parameters hold y while training; they are evaluated at x (eval mode), as the
  // reference's optimizer.eval() / optimizer.train() around an evaluation do. Other rules' entries
  // are left alone.
  const evaluate = (epoch: number): EpochRecord => {
    evalMode(entries);
    try {
      const tr = model.evaluate(data.train);
      const te = model.evaluate(data.test);
      return { epoch, trainLoss: finite(tr.loss), testLoss: finite(te.loss), testAccuracy: te.accuracy };
    } finally {
      trainMode(entries);
    }
  };
  if (startEpoch === 0) history = [evaluate(0)];
  options.onModel?.('start', model);

  const x = new Float32Array(batchSize * IMAGE_SIZE);
  const y = new Uint8Array(batchSize);
  let error: string | undefined;
  for (let epoch = startEpoch + 1; epoch <= epochs && !error; epoch++) {
    const t0 = performance.now();
    const order = permutation(n, createRng(mixSeed(seed, epoch)));
    for (let s = 0, k = 0; s < n; s += batchSize, k++) {
      const batch = Math.min(batchSize, n - s);
      for (let i = 0; i < batch; i++) {
        const r = order[s + i];
        x.set(data.train.images.subarray(r * IMAGE_SIZE, (r + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
        y[i] = data.train.labels[r];
      }
      const a = performance.now();
      let loss: number;
      if (dist) {
        // This rank's rows of the batch; its mean gradient weighted by its share, so that the
        // ranks' average is the whole batch's mean gradient, as in one process.
        const lo = Math.floor((batch * dist.rank) / dist.size);
        const hi = Math.floor((batch * (dist.rank + 1)) / dist.size);
        const rows = hi - lo;
        const share = (rows * dist.size) / batch;
        const local = rows ? model.lossAndGrad(x.subarray(lo * IMAGE_SIZE, hi * IMAGE_SIZE), y.subarray(lo, hi), rows) : 0;
        for (const g of grads) for (let i = 0; i < g.data.length; i++) g.data[i] = rows ? g.data[i] * share : 0;
        const total = Float64Array.of((local * rows) / batch);
        dist.sum(total);
        loss = total[0];
      } else {
        loss = model.lossAndGrad(batch === batchSize ? x : x.subarray(0, batch * IMAGE_SIZE), y, batch);
      }
      const logged = entries[lrIndex];
      const lr = (logged.optimizer.hyperAt(logged.state?.step ?? steps) as { lr?: number | null }).lr ?? null;
      const b = performance.now();
      let norm: number | undefined;
      try {
        const r = dist ? dist.step(entries, clip) : clip === null ? stepMany(entries) : stepMany(entries, { maxGradNorm: clip });
        norm = r.gradNorm;
        if (r.clipped) clippedSteps++;
      } catch (e) {
        error = `${optimizer} stopped at epoch ${epoch}, step ${k + 1}: ${(e as Error).message}`;
        break;
      }
      const c = performance.now();
      // Without clipping, the norm is measured after the step (outside its timing); the
      // optimizers do not change the gradients.
      if (norm === undefined) norm = gradNorm(grads);
      forwardBackwardMs += b - a;
      optimizerMs += c - b;
      steps++;
      lossCurve.push(finite(loss));
      lrPerStep.push(lr);
      gradNormPerStep.push(finite(norm));
      options.onStep?.({ optimizer, epoch, step: k + 1, stepsPerEpoch, loss });
    }
    if (error) break;
    const record = evaluate(epoch);
    history.push(record);
    options.onEpoch?.({ optimizer, record, epochs, seconds: (performance.now() - t0) / 1000 });
    if (ckptPath) {
      const meta: CheckpointMeta = {
        ...identity,
        epoch,
        steps,
        optimizerMs,
        forwardBackwardMs,
        lossCurve,
        lrPerStep,
        gradNormPerStep: gradNormPerStep.map((v) => (Number.isFinite(v) ? v : null)),
        clippedSteps,
        epochs: history,
      };
      const blobs: [string, Uint8Array][] = [
        ...params.map((p): [string, Uint8Array] => [`param:${p.name}`, new Uint8Array(p.param.data.buffer, p.param.data.byteOffset, p.param.data.byteLength)]),
        ...entries.map((e, i): [string, Uint8Array] => [`state:${params[i].name}`, saveState(e.state)]),
      ];
      writeAtomic(ckptPath, encodeCheckpoint(meta, blobs), `${optimizer}:${epoch}`);
    }
  }
  options.onModel?.('end', model);
  const final = history[history.length - 1];
  return {
    optimizer,
    testAccuracy: final.testAccuracy,
    trainLoss: final.trainLoss,
    testLoss: final.testLoss,
    msPerStep: steps ? optimizerMs / steps : NaN,
    msForwardBackward: steps ? forwardBackwardMs / steps : NaN,
    stateBytes: totalStateBytes(entries, dist),
    lossCurve,
    lrPerStep,
    lrFrom: { param: assignments[lrIndex].param, rule: assignments[lrIndex].rule },
    gradNormPerStep,
    ...(clip !== null ? { clippedSteps } : {}),
    schedule: { ...schedule, peakFactor: peakFactor(optimizer, schedule.name), totalSteps, ...schedulePhases(schedule, totalSteps) },
    clip,
    epochs: history,
    steps,
    assignments,
    recipe: recipeFor(optimizer).why,
    weightsSha256: weightsHash(params),
    ...(resumedFromEpoch !== undefined ? { resumedFromEpoch } : {}),
    ...(error ? { error } : {}),
  };
}
