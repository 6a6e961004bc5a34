/**
 * specopt/distributed: MPI collectives for data-parallel training. Loading this module
 * initialises MPI once for the process (MPI_THREAD_SERIALIZED: every MPI call of specopt holds one
 * lock; the async twins run on a job queue of their own) and MPI is finalised when the process
 * exits. Start the ranks with `mpirun -n N node job.js`; without mpirun a process is a world of
 * size 1. It needs a build of specopt with MPI (see {@link NO_MPI}); on a worker thread, or in a
 * build without MPI, loading it throws an Error that says so.
 *
 * Every rank must make the same collective calls in the same order, on data of the same element
 * type and length (and the same op or root). Each call first checks that with the other ranks
 * (one small all-reduce): ranks that disagree, or a rank whose arguments are invalid, make every
 * rank's call fail with an error that says what differed, before any data moves, instead of
 * hanging or reading past a buffer. A sync collective while an async one of this process has not
 * settled throws (it could overtake it); the async twins run in call order.
 *
 * @module
 */
import { OPS } from './addon.js';
import { mpi, refuse, refuseAsync, world } from './world.js';
import { runAsync } from '../async.js';
import { describe, typedArrayKind } from '../validate.js';

export { NO_MPI } from './addon.js';
export { distributedStepMany, distributedStepManyAsync, shardOwners, type DistributedStepOptions } from './step.js';
export { saveDistributedCheckpoint, loadDistributedCheckpoint, type CheckpointOptions } from './checkpoint.js';

/** This process's rank in the world, 0 to size - 1. */
export const rank: number = world.rank;
/** The number of ranks. */
export const size: number = world.size;
/** The thread level MPI provided ('serialized' or 'multiple'; the async twins need 'serialized'). */
export const threadLevel: string = world.threadLevel;
/** The MPI library, e.g. "Open MPI v4.1.4". */
export const mpiLibrary: string = world.library;

/** The data of a collective. */
export type Floats = Float32Array | Float64Array;

/**
 * How values of the ranks combine: 'sum', 'mean' (the sum divided by the number of ranks, in the
 * data's precision), 'max' or 'min'.
 */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

/** Options of {@link allReduce} and {@link reduceScatter}. */
export interface ReduceOptions {
  /** Default 'sum'. */
  op?: ReduceOp;
}

function dataProblem(x: unknown, where: string): Error | undefined {
  const kind = typedArrayKind(x);
  if (kind === 'Float32Array' || kind === 'Float64Array') return undefined;
  return new TypeError(`${where} must be a Float32Array or Float64Array, got ${describe(x)}`);
}

function opOf(options: unknown, where: string): number | Error {
  if (options === undefined) return OPS.sum;
  if (typeof options !== 'object' || options === null) return new TypeError(`${where} must be an object, got ${describe(options)}`);
  const op = (options as { op?: unknown }).op ?? 'sum';
  if (typeof op !== 'string' || !Object.hasOwn(OPS, op)) {
    return new RangeError(`${where}.op must be one of ${Object.keys(OPS).map((o) => `'${o}'`).join(', ')}, got ${describe(op)}`);
  }
  return OPS[op as ReduceOp];
}

function rootOf(root: unknown, where: string): number | Error {
  if (root === undefined) return 0;
  if (typeof root !== 'number') return new TypeError(`${where} must be a rank (an integer from 0 to ${size - 1}), got ${describe(root)}`);
  if (!Number.isInteger(root) || root < 0 || root >= size) {
    return new RangeError(`${where} must be a rank (an integer from 0 to ${size - 1}), got ${root}`);
  }
  return root;
}

/** Combines `x` over the ranks, in place: afterwards every rank holds the same values. */
export function allReduce(x: Floats, options?: ReduceOptions): void {
  const op = opOf(options, 'allReduce: options');
  const problem = dataProblem(x, 'allReduce: x') ?? (op instanceof Error ? op : undefined);
  if (problem) refuse('allReduce', problem);
  mpi.allReduce(x, op as number);
}

/**
 * {@link allReduce} off the event loop: `x` is copied at the call and written when the promise
 * resolves (it rejects, writing nothing, if `x` was detached or resized meanwhile).
 */
export function allReduceAsync(x: Floats, options?: ReduceOptions): Promise<void> {
  return runAsync('allReduceAsync', () => {
    const op = opOf(options, 'allReduceAsync: options');
    const problem = dataProblem(x, 'allReduceAsync: x') ?? (op instanceof Error ? op : undefined);
    return problem ? refuseAsync('allReduce', problem) : mpi.allReduceAsync(x, op as number);
  });
}

/** Copies `x` of rank `root` (default 0) into `x` of every rank. */
export function broadcast(x: Floats, root?: number): void {
  const r = rootOf(root, 'broadcast: root');
  const problem = dataProblem(x, 'broadcast: x') ?? (r instanceof Error ? r : undefined);
  if (problem) refuse('broadcast', problem);
  mpi.broadcast(x, r as number);
}

/** {@link broadcast} off the event loop; `x` is written when the promise resolves. */
export function broadcastAsync(x: Floats, root?: number): Promise<void> {
  return runAsync('broadcastAsync', () => {
    const r = rootOf(root, 'broadcastAsync: root');
    const problem = dataProblem(x, 'broadcastAsync: x') ?? (r instanceof Error ? r : undefined);
    return problem ? refuseAsync('broadcast', problem) : mpi.broadcastAsync(x, r as number);
  });
}

/** Every rank's `x`, concatenated in rank order: a new array of size × x.length values. */
export function allGather<T extends Floats>(x: T): T {
  const problem = dataProblem(x, 'allGather: x');
  if (problem) refuse('allGather', problem);
  return mpi.allGather(x);
}

/** {@link allGather} off the event loop (`x` is copied at the call). */
export function allGatherAsync<T extends Floats>(x: T): Promise<T> {
  return runAsync('allGatherAsync', () => {
    const problem = dataProblem(x, 'allGatherAsync: x');
    return problem ? refuseAsync('allGather', problem) : mpi.allGatherAsync(x);
  });
}

/**
 * Combines `x` over the ranks and returns this rank's block of the result: x.length / size values
 * from offset rank × x.length / size (x.length must be a multiple of size).
 */
export function reduceScatter<T extends Floats>(x: T, options?: ReduceOptions): T {
  const op = opOf(options, 'reduceScatter: options');
  const problem = dataProblem(x, 'reduceScatter: x') ?? (op instanceof Error ? op : undefined);
  if (problem) refuse('reduceScatter', problem);
  return mpi.reduceScatter(x, op as number);
}

/** {@link reduceScatter} off the event loop (`x` is copied at the call). */
export function reduceScatterAsync<T extends Floats>(x: T, options?: ReduceOptions): Promise<T> {
  return runAsync('reduceScatterAsync', () => {
    const op = opOf(options, 'reduceScatterAsync: options');
    const problem = dataProblem(x, 'reduceScatterAsync: x') ?? (op instanceof Error ? op : undefined);
    return problem ? refuseAsync('reduceScatter', problem) : mpi.reduceScatterAsync(x, op as number);
  });
}

/** Returns once every rank has called it. */
export function barrier(): void {
  mpi.barrier();
}

/** {@link barrier} off the event loop. */
export function barrierAsync(): Promise<void> {
  return runAsync('barrierAsync', () => mpi.barrierAsync());
}
