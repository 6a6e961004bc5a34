// The data-parallel optimizer step: gradients averaged over the ranks, then the step every rank
// takes alike. Gradients travel in buckets, in entry order, each bucket as a reduce-scatter then an
// all-gather (every element is summed once, by one rank, in an order fixed by the number of
// ranks): the averaged gradients are the same bits on every rank, and in every run with the same
// number of ranks, whatever the timing.
import { stepMany, stepManyAsync, type StepEntry, type StepManyOptions, type StepResults } from '../optim/optimizer.js';
import { runAsync } from '../async.js';
import { normPart } from '../clip.js';
import { checkOptionKeys, describe, readProperty, typedArrayKind } from '../validate.js';
import { allGather, allGatherAsync, broadcast, broadcastAsync, reduceScatter, reduceScatterAsync } from './index.js';
import { failedRank, failedRankAsync, refuse, refuseAsync, world } from './world.js';

const { rank, size } = world;

/** Options of {@link distributedStepMany}: stepMany's, and how the ranks share the work. */
export interface DistributedStepOptions extends StepManyOptions {
  /**
   * 'replicated' (default): every rank keeps every state and takes the whole step on the averaged
   * gradients. 'sharded' (ZeRO-1): each entry is stepped by one rank, its owner ({@link
   * shardOwners}), which alone needs its state; the owner's updated parameter is then broadcast.
   */
  mode?: 'replicated' | 'sharded';
  /** Bytes of gradient per all-reduce bucket (default 4 MiB; at least 4 × the number of ranks). */
  bucketBytes?: number;
}

const DEFAULT_BUCKET_BYTES = 4 << 20;

interface Checked {
  step: StepManyOptions;
  bucket: number; // floats
  sharded: boolean;
}

function checkOptions(options: unknown, fn: string): Checked {
  if (options === undefined) return { step: {}, bucket: DEFAULT_BUCKET_BYTES / 4, sharded: false };
  checkOptionKeys(options, ['mode', 'bucketBytes', 'maxGradNorm', 'normType'], `${fn}: options`);
  const mode = readProperty(options as object, 'mode', `${fn}: options`);
  if (mode !== undefined && mode !== 'replicated' && mode !== 'sharded') {
    throw new RangeError(`${fn}: options.mode must be 'replicated' or 'sharded', got ${describe(mode)}`);
  }
  const bytes = readProperty(options as object, 'bucketBytes', `${fn}: options`) ?? DEFAULT_BUCKET_BYTES;
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 4 * size) {
    throw new RangeError(`${fn}: options.bucketBytes must be an integer of at least ${4 * size} (4 bytes per rank), got ${describe(bytes)}`);
  }
  const step: StepManyOptions = {};
  const maxGradNorm = readProperty(options as object, 'maxGradNorm', `${fn}: options`);
  const normType = readProperty(options as object, 'normType', `${fn}: options`);
  // Checked here as stepMany checks them: mode 'sharded' applies them itself.
  if (maxGradNorm !== undefined) {
    if (typeof maxGradNorm !== 'number' || !(maxGradNorm > 0) || !Number.isFinite(maxGradNorm)) {
      throw new RangeError(`${fn}: options.maxGradNorm must be a finite number > 0, got ${describe(maxGradNorm)}`);
    }
    step.maxGradNorm = maxGradNorm;
  }
  if (normType !== undefined) {
    if (maxGradNorm === undefined) throw new TypeError(`${fn}: options.normType needs options.maxGradNorm`);
    if (normType !== 2 && normType !== Infinity) throw new RangeError(`${fn}: options.normType must be 2 or Infinity, got ${describe(normType)}`);
    step.normType = normType;
  }
  return { step, bucket: Math.floor(bytes / 4), sharded: mode === 'sharded' };
}

/** The entries' gradient arrays, in order (checked: stepMany checks the rest). */
function gradients(entries: readonly StepEntry[], fn: string): Float32Array[] {
  if (!Array.isArray(entries)) throw new TypeError(`${fn}: entries must be an array, got ${describe(entries)}`);
  return entries.map((entry, i) => {
    const data = (entry as { grad?: { data?: unknown } } | null)?.grad?.data;
    if (typedArrayKind(data) !== 'Float32Array') {
      throw new TypeError(`${fn}: entries[${i}].grad must be a matrix of Float32Array data, got ${describe(entry?.grad)}`);
    }
    return data as Float32Array;
  });
}

/**
 * The buckets: runs of the concatenated gradients, each at most `bucket` floats, as (gradient,
 * offset, length) pieces; a gradient longer than a bucket spans several.
 */
function buckets(grads: Float32Array[], bucket: number): [number, number, number][][] {
  const out: [number, number, number][][] = [];
  let current: [number, number, number][] = [];
  let filled = 0;
  grads.forEach((g, k) => {
    for (let at = 0; at < g.length; ) {
      const n = Math.min(g.length - at, bucket - filled);
      current.push([k, at, n]);
      at += n;
      filled += n;
      if (filled === bucket) {
        out.push(current);
        current = [];
        filled = 0;
      }
    }
  });
  if (filled > 0) out.push(current);
  return out;
}

function pack(grads: Float32Array[], pieces: [number, number, number][]): Float32Array {
  const n = pieces.reduce((s, p) => s + p[2], 0);
  const buffer = new Float32Array(Math.ceil(n / size) * size); // zero padding: a multiple of the ranks
  let at = 0;
  for (const [k, from, len] of pieces) {
    buffer.set(grads[k].subarray(from, from + len), at);
    at += len;
  }
  return buffer;
}

function unpack(grads: Float32Array[], pieces: [number, number, number][], averaged: Float32Array): void {
  let at = 0;
  for (const [k, from, len] of pieces) {
    grads[k].set(averaged.subarray(at, at + len), from);
    at += len;
  }
}

// ---- sharded states (ZeRO-1) ------------------------------------------------------------------

// The relative cost of one step of `rule` on an m x n parameter: what the partition balances.
function stepCost(rule: string, m: number, n: number): number {
  switch (rule) {
    case 'muon':
    case 'normuon':
    case 'galore-adamw':
      return m * n * Math.min(m, n); // Newton-Schulz GEMMs, or the projector's SVD
    case 'shampoo':
    case 'shampoo2':
    case 'soap':
    case 'adagrad-full':
      return m * m * m + n * n * n + m * n * (m + n); // roots or eigenbases of both sides
    default:
      return m * n; // entry-wise
  }
}

/**
 * The rank that steps each entry in mode 'sharded': a balanced partition of the entries' step
 * costs (largest first, each to the least loaded rank; ties to the lower entry and rank), the same
 * on every rank. Only the owner needs an entry's state: `state: owners[i] === rank ?
 * optimizer.init(param) : null`.
 */
export function shardOwners(entries: readonly Pick<StepEntry, 'optimizer' | 'param'>[]): number[] {
  if (!Array.isArray(entries)) throw new TypeError(`shardOwners: entries must be an array, got ${describe(entries)}`);
  const costs = entries.map((e, i) => {
    const rule = (e as { optimizer?: { rule?: unknown } } | null)?.optimizer?.rule;
    const p = (e as { param?: { rows?: unknown; cols?: unknown } } | null)?.param;
    if (typeof rule !== 'string' || typeof p?.rows !== 'number' || typeof p?.cols !== 'number') {
      throw new TypeError(`shardOwners: entries[${i}] must have an optimizer and a param matrix, got ${describe(e)}`);
    }
    if (rule === 'prodigy') {
      throw new RangeError(
        `shardOwners: entries[${i}] is stepped with prodigy, whose distance estimate is shared by the parameters stepped together: use mode 'replicated'`,
      );
    }
    return stepCost(rule, p.rows, p.cols);
  });
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  const load = new Array<number>(size).fill(0);
  const owners = new Array<number>(entries.length);
  for (const i of order) {
    let best = 0;
    for (let r = 1; r < size; r++) if (load[r] < load[best]) best = r;
    owners[i] = best;
    load[best] += costs[i];
  }
  return owners;
}

// The owned entries of an entries array, kept between steps so stepMany reuses its batch.
const OWNED = new WeakMap<readonly StepEntry[], { owners: number[]; entries: StepEntry[]; subset: StepEntry[] }>();

function ownedSubset(entries: readonly StepEntry[]): { owners: number[]; subset: StepEntry[] } {
  const owners = shardOwners(entries);
  const kept = OWNED.get(entries);
  if (kept && kept.owners.length === owners.length && kept.owners.every((o, i) => o === owners[i]) && kept.entries.every((e, i) => e === entries[i])) {
    return kept;
  }
  const subset = entries.filter((_, i) => owners[i] === rank);
  OWNED.set(entries, { owners, entries: [...entries], subset });
  return { owners, subset };
}

/**
 * The sharded step on averaged gradients: the non-finite policy and clipping applied here, the
 * same on every rank (the gradients are the same bits everywhere), then each rank steps what it
 * owns, and the owners broadcast the parameters.
 */
function shardedPrepare(entries: readonly StepEntry[], grads: Float32Array[], step: StepManyOptions, fn: string) {
  const p = step.normType === Infinity ? Infinity : 2;
  const parts = grads.map((g) => normPart(g, p));
  const finite = parts.map(Number.isFinite);
  finite.forEach((ok, i) => {
    if (!ok && entries[i].optimizer.hyper.nonFinite !== 'skip') {
      throw new RangeError(`${fn}: entry ${i} (${entries[i].optimizer.rule}): the averaged gradient contains NaN or Infinity; nothing was changed`);
    }
  });
  let gradNorm: number | undefined;
  let clipped = false;
  if (step.maxGradNorm !== undefined) {
    // clipGradNorm's semantics over the entries that step (stepMany's fused clipping equals it).
    const total = parts.reduce((t, x, i) => (finite[i] ? (p === Infinity ? Math.max(t, x) : t + x) : t), 0);
    gradNorm = p === Infinity ? total : Math.sqrt(total);
    const scale = step.maxGradNorm / (gradNorm + 1e-6);
    if (scale < 1) {
      clipped = true;
      const f = Math.fround(scale);
      grads.forEach((g, i) => {
        if (finite[i]) for (let k = 0; k < g.length; k++) g[k] *= f;
      });
    }
  }
  return { finite, gradNorm, clipped };
}

function shardedResults(entries: readonly StepEntry[], owners: number[], own: StepResults, prep: ReturnType<typeof shardedPrepare>, step: StepManyOptions): StepResults {
  let k = 0;
  const results = entries.map((_, i) => (owners[i] === rank ? own[k++] : { skipped: !prep.finite[i] })) as StepResults;
  if (step.maxGradNorm !== undefined) {
    results.gradNorm = prep.gradNorm;
    results.clipped = prep.clipped;
  }
  return results;
}

// When some rank's step failed: its error here, or one naming it.
function raiseIfFailed(failed: number, error: unknown, fn: string): void {
  if (failed < 0) return;
  if (error !== undefined) throw error;
  throw new Error(
    `${fn}: the step failed on rank ${failed} (its own error says why) but not here, so the ranks' parameters or states differ now: restore a checkpoint`,
  );
}

// Replicated: every rank steps everything; a step that fails on some rank only (a state that
// differs) fails on every rank, so that no rank goes on as if the replicas were the same.
function replicatedStep(entries: readonly StepEntry[], step: StepManyOptions, fn: string): StepResults {
  let results: StepResults | undefined;
  let error: unknown;
  try {
    results = stepMany(entries, step);
  } catch (e) {
    error = e;
  }
  raiseIfFailed(failedRank(error), error, fn);
  return results!;
}

async function replicatedStepAsync(entries: readonly StepEntry[], step: StepManyOptions, fn: string): Promise<StepResults> {
  let results: StepResults | undefined;
  let error: unknown;
  try {
    results = await stepManyAsync(entries, step);
  } catch (e) {
    error = e;
  }
  raiseIfFailed(await failedRankAsync(error), error, fn);
  return results!;
}

// stepMany's error on the owned entries, with the entry numbered as in the caller's array.
function renumbered(error: unknown, owners: number[], fn: string): unknown {
  if (!(error instanceof Error)) return error;
  const m = /^stepMany: entry (\d+)/.exec(error.message);
  if (!m) return error;
  const index = owners.map((o, i) => (o === rank ? i : -1)).filter((i) => i >= 0)[Number(m[1])];
  const Kind = error instanceof TypeError ? TypeError : error instanceof RangeError ? RangeError : Error;
  return new Kind(`${fn}: entry ${index}${error.message.slice(m[0].length)}`, { cause: error });
}

function shardedStep(entries: readonly StepEntry[], grads: Float32Array[], step: StepManyOptions, fn: string): StepResults {
  const { owners, subset } = ownedSubset(entries);
  const prep = shardedPrepare(entries, grads, step, fn);
  let own: StepResults = [] as unknown as StepResults;
  let error: unknown;
  try {
    if (subset.length) own = stepMany(subset);
  } catch (e) {
    error = renumbered(e, owners, fn);
  }
  raiseIfFailed(failedRank(error), error, fn);
  entries.forEach((e, i) => broadcast(e.param.data, owners[i]));
  return shardedResults(entries, owners, own, prep, step);
}

async function shardedStepAsync(entries: readonly StepEntry[], grads: Float32Array[], step: StepManyOptions, fn: string): Promise<StepResults> {
  const { owners, subset } = ownedSubset(entries);
  const prep = shardedPrepare(entries, grads, step, fn);
  let own: StepResults = [] as unknown as StepResults;
  let error: unknown;
  try {
    if (subset.length) own = await stepManyAsync(subset);
  } catch (e) {
    error = renumbered(e, owners, fn);
  }
  raiseIfFailed(await failedRankAsync(error), error, fn);
  for (const [i, e] of entries.entries()) await broadcastAsync(e.param.data, owners[i]);
  return shardedResults(entries, owners, own, prep, step);
}

/**
 * stepMany across the ranks (data parallelism): every rank passes the same entries (the same
 * parameters, in the same order) with its own gradients; the gradients are averaged over the
 * ranks in place, as DistributedDataParallel does, and every rank then takes the same step, so
 * the parameters and states stay identical on every rank. Non-finite gradients (averaged, they
 * are non-finite everywhere), clipping (`maxGradNorm`: over the averaged, global gradient) and
 * schedules behave as in one process, and the results are the same on every rank.
 *
 * With the same global batch split over N ranks, the parameters match those of one process
 * stepping the mean gradient to float32 rounding of the average (tested: 20 steps of AdamW and
 * Muon, relative differences within 2e-5); two runs with the same N give the same bits.
 */
export function distributedStepMany(entries: readonly StepEntry[], options?: DistributedStepOptions): StepResults {
  const fn = 'distributedStepMany';
  let checked: Checked, grads: Float32Array[];
  try {
    checked = checkOptions(options, fn);
    grads = gradients(entries, fn);
  } catch (error) {
    refuse('reduceScatter', error as Error); // the peers' first collective: they fail too
  }
  const { step, bucket, sharded } = checked;
  for (const pieces of buckets(grads, bucket)) {
    unpack(grads, pieces, allGather(reduceScatter(pack(grads, pieces), { op: 'mean' })));
  }
  return sharded ? shardedStep(entries, grads, step, fn) : replicatedStep(entries, step, fn);
}

/**
 * {@link distributedStepMany} off the event loop: the averaging runs on the MPI addon's queue,
 * the step on specopt's (stepManyAsync, with its rules on which memory it may touch).
 */
export function distributedStepManyAsync(entries: readonly StepEntry[], options?: DistributedStepOptions): Promise<StepResults> {
  const fn = 'distributedStepManyAsync';
  return runAsync(fn, async () => {
    let checked: Checked, grads: Float32Array[];
    try {
      checked = checkOptions(options, fn);
      grads = gradients(entries, fn);
    } catch (error) {
      return refuseAsync('reduceScatter', error as Error);
    }
    const { step, bucket, sharded } = checked;
    for (const pieces of buckets(grads, bucket)) {
      unpack(grads, pieces, await allGatherAsync(await reduceScatterAsync(pack(grads, pieces), { op: 'mean' })));
    }
    return sharded ? shardedStepAsync(entries, grads, step, fn) : replicatedStepAsync(entries, step, fn);
  });
}
