// One training run: an MLP from a seeded initialisation, mini-batches in a seeded order, one
// optimizer recipe applied through stepMany (one entries array for the whole run), evaluation on
// the whole train and test sets after every epoch, and optional checkpoints after every epoch.
//
// Every run with the same seed starts from the same weights and sees the same batches whatever
// the optimizer: the initialisation depends on (seed, layer) and epoch e's order on (seed, e)
// only, so a resumed run needs no PRNG state and continues bit for bit.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import { createOptimizer, stepMany, type Optimizer, type StepEntry } from '../optim/optimizer.js';
import { loadState, saveState, stateBytes } from '../optim/state.js';
import { CheckpointError, checkpointExists, encodeCheckpoint, readCheckpoint, writeAtomic } from './checkpoint.js';
import { IMAGE_SIZE, type MnistSplit } from './data.js';
import { Mlp, type NamedParam } from './mlp.js';
import { FALLBACK, recipeFor, takes, type Hyper } from './recipes.js';
import { createRng, mixSeed, permutation } from './rng.js';

export interface TrainConfig {
  /** [784, hidden..., 10]. */
  sizes: number[];
  epochs: number;
  batchSize: number;
  seed: number;
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
}

interface CheckpointMeta {
  kind: 'specopt-mnist-run';
  optimizer: string;
  config: Omit<TrainConfig, 'epochs'>;
  data: string;
  assignments: { param: string; rule: string; hyper: Hyper }[];
  epoch: number;
  steps: number;
  optimizerMs: number;
  forwardBackwardMs: number;
  lossCurve: number[];
  epochs: EpochRecord[];
}

/** Decides which rule trains each parameter and creates the optimizers and states. */
export function planOptimizers(optimizer: string, model: Mlp): { entries: StepEntry[]; assignments: Assignment[] } {
  const recipe = recipeFor(optimizer);
  const L = model.layers.length;
  const cache = new Map<string, Optimizer>();
  const get = (rule: string, hyper: Hyper) => {
    const key = `${rule} ${JSON.stringify(hyper)}`;
    let opt = cache.get(key);
    if (!opt) {
      opt = createOptimizer(rule as never, hyper as never);
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
export function trainRun(optimizer: string, data: MnistSplit, config: TrainConfig, options: RunOptions = {}): RunResult {
  const { sizes, epochs, batchSize, seed } = config;
  if (sizes[0] !== IMAGE_SIZE) throw new RangeError(`the input layer must have ${IMAGE_SIZE} units (28×28 images), got ${sizes[0]}`);
  const model = new Mlp(sizes, seed);
  const params = model.params();
  const { entries, assignments } = planOptimizers(optimizer, model);
  const ckptPath = options.checkpointDir ? join(options.checkpointDir, `${optimizer}.ckpt`) : undefined;
  const identity = {
    kind: 'specopt-mnist-run' as const,
    optimizer,
    config: { sizes, batchSize, seed },
    data: data.fingerprint,
    assignments: assignments.map(({ param, rule, hyper }) => ({ param, rule, hyper })),
  };

  let startEpoch = 0;
  let steps = 0;
  let optimizerMs = 0;
  let forwardBackwardMs = 0;
  let lossCurve: number[] = [];
  let history: EpochRecord[] = [];
  let resumedFromEpoch: number | undefined;

  if (ckptPath && options.resume) {
    if (checkpointExists(ckptPath)) {
      const ckpt = readCheckpoint<CheckpointMeta>(ckptPath);
      const m = ckpt.meta;
      for (const key of ['kind', 'optimizer', 'config', 'data', 'assignments'] as const) {
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
      history = m.epochs;
      options.onNote?.(`${optimizer}: resumed from ${ckptPath} at epoch ${m.epoch}`);
    } else {
      options.onNote?.(`${optimizer}: no checkpoint at ${ckptPath}; starting from scratch`);
    }
  }

  const evaluate = (epoch: number): EpochRecord => {
    const tr = model.evaluate(data.train);
    const te = model.evaluate(data.test);
    return { epoch, trainLoss: finite(tr.loss), testLoss: finite(te.loss), testAccuracy: te.accuracy };
  };
  if (startEpoch === 0) history = [evaluate(0)];
  options.onModel?.('start', model);

  const n = data.train.n;
  const stepsPerEpoch = Math.ceil(n / batchSize);
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
      const loss = model.lossAndGrad(batch === batchSize ? x : x.subarray(0, batch * IMAGE_SIZE), y, batch);
      const b = performance.now();
      try {
        stepMany(entries);
      } catch (e) {
        error = `${optimizer} stopped at epoch ${epoch}, step ${k + 1}: ${(e as Error).message}`;
        break;
      }
      const c = performance.now();
      forwardBackwardMs += b - a;
      optimizerMs += c - b;
      steps++;
      lossCurve.push(finite(loss));
      options.onStep?.({ optimizer, epoch, step: k + 1, stepsPerEpoch, loss });
    }
    if (error) break;
    const record = evaluate(epoch);
    history.push(record);
    options.onEpoch?.({ optimizer, record, epochs, seconds: (performance.now() - t0) / 1000 });
    if (ckptPath) {
      const meta: CheckpointMeta = { ...identity, epoch, steps, optimizerMs, forwardBackwardMs, lossCurve, epochs: history };
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
    stateBytes: entries.reduce((s, e) => s + stateBytes(e.state), 0),
    lossCurve,
    epochs: history,
    steps,
    assignments,
    recipe: recipeFor(optimizer).why,
    weightsSha256: weightsHash(params),
    ...(resumedFromEpoch !== undefined ? { resumedFromEpoch } : {}),
    ...(error ? { error } : {}),
  };
}
