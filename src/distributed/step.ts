// The data-parallel optimizer step: gradients averaged over the ranks, then the step every rank
// takes alike. Gradients travel in buckets, in entry order, each bucket as a reduce-scatter then an
// all-gather (every element is summed once, by one rank, in an order fixed by the number of
// ranks): the averaged gradients are the same bits on every rank, and in every run with the same
// number of ranks, whatever the timing.
import { stepMany, stepManyAsync, type StepEntry, type StepManyOptions, type StepResults } from '../optim/optimizer.js';
import { runAsync } from '../async.js';
import { checkOptionKeys, describe, readProperty, typedArrayKind } from '../validate.js';
import { allGather, allGatherAsync, reduceScatter, reduceScatterAsync } from './index.js';
import { refuse, refuseAsync, world } from './world.js';

const size = world.size;

/** Options of {@link distributedStepMany}: stepMany's, and how the ranks share the work. */
export interface DistributedStepOptions extends StepManyOptions {
  /**
   * 'replicated' (default, and the only mode so far): every rank keeps every state and takes the
   * whole step on the averaged gradients, so the parameters stay the same on every rank.
   */
  mode?: 'replicated';
  /** Bytes of gradient per all-reduce bucket (default 4 MiB; at least 4 × the number of ranks). */
  bucketBytes?: number;
}

const DEFAULT_BUCKET_BYTES = 4 << 20;

interface Checked {
  step: StepManyOptions;
  bucket: number; // floats
}

function checkOptions(options: unknown, fn: string): Checked {
  if (options === undefined) return { step: {}, bucket: DEFAULT_BUCKET_BYTES / 4 };
  checkOptionKeys(options, ['mode', 'bucketBytes', 'maxGradNorm', 'normType'], `${fn}: options`);
  const mode = readProperty(options as object, 'mode', `${fn}: options`);
  if (mode !== undefined && mode !== 'replicated') {
    throw new RangeError(`${fn}: options.mode must be 'replicated' (sharded states are not built yet), got ${describe(mode)}`);
  }
  const bytes = readProperty(options as object, 'bucketBytes', `${fn}: options`) ?? DEFAULT_BUCKET_BYTES;
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 4 * size) {
    throw new RangeError(`${fn}: options.bucketBytes must be an integer of at least ${4 * size} (4 bytes per rank), got ${describe(bytes)}`);
  }
  const step: StepManyOptions = {};
  const maxGradNorm = readProperty(options as object, 'maxGradNorm', `${fn}: options`);
  const normType = readProperty(options as object, 'normType', `${fn}: options`);
  if (maxGradNorm !== undefined) step.maxGradNorm = maxGradNorm as number;
  if (normType !== undefined) step.normType = normType as number;
  return { step, bucket: Math.floor(bytes / 4) };
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
  const { step, bucket } = checked;
  for (const pieces of buckets(grads, bucket)) {
    unpack(grads, pieces, allGather(reduceScatter(pack(grads, pieces), { op: 'mean' })));
  }
  return stepMany(entries, step);
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
    const { step, bucket } = checked;
    for (const pieces of buckets(grads, bucket)) {
      unpack(grads, pieces, await allGatherAsync(await reduceScatterAsync(pack(grads, pieces), { op: 'mean' })));
    }
    return stepManyAsync(entries, step);
  });
}
