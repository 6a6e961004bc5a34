// Loading specopt's optional MPI addon (native/mpi, built only where an MPI was found) and what
// specopt/distributed says when it cannot. Used by index.ts (require) and by the ESM entry's
// check before it loads the CommonJS build (scripts/write-esm-entry.mjs: an error thrown by a
// CommonJS module under an ESM import reaches Node 20's uncaught-exception handler even when the
// import() is caught).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

/** The raw MPI addon: argument order is index.ts's business, checked again natively. */
export interface MpiAddon {
  info(): { rank: number; size: number; threadLevel: string; initializedHere: boolean; library: string };
  allReduce(x: Float32Array | Float64Array, op: number): void;
  allReduceAsync(x: Float32Array | Float64Array, op: number): Promise<void>;
  broadcast(x: Float32Array | Float64Array, root: number): void;
  broadcastAsync(x: Float32Array | Float64Array, root: number): Promise<void>;
  allGather<T extends Float32Array | Float64Array>(x: T): T;
  allGatherAsync<T extends Float32Array | Float64Array>(x: T): Promise<T>;
  reduceScatter<T extends Float32Array | Float64Array>(x: T, op: number): T;
  reduceScatterAsync<T extends Float32Array | Float64Array>(x: T, op: number): Promise<T>;
  barrier(): void;
  barrierAsync(): Promise<void>;
  abandon(collective: number): void;
  abandonAsync(collective: number): Promise<void>;
}

// The codes native/mpi/collectives.cpp agrees on between ranks.
export const COLLECTIVE = { allReduce: 1, broadcast: 2, allGather: 3, reduceScatter: 4, barrier: 5 } as const;
export const OPS = { sum: 1, mean: 2, max: 3, min: 4 } as const;

// dist/distributed/ and src/distributed/ both sit two levels below the package root.
const BUILT = join(__dirname, '..', '..', 'build', 'Release', 'mpi', 'specopt_mpi.node');

/** Where the addon is: SPECOPT_MPI_ADDON (another build, for development) or the package's build. */
export function addonPath(): string {
  return process.env.SPECOPT_MPI_ADDON || BUILT;
}

/** What loading specopt/distributed says in a build of specopt without MPI. */
export const NO_MPI =
  'specopt/distributed: this build of specopt has no MPI. Install an MPI and build specopt from source: on ' +
  'Debian/Ubuntu, apt-get install -y openmpi-bin libopenmpi-dev (or mpich libmpich-dev), then npm rebuild specopt ' +
  '(prebuilt binaries never include MPI). Run the job under mpirun: mpirun -n 2 node job.js';

export const NOT_MAIN_THREAD =
  'specopt/distributed: load it on the main thread (MPI is initialised and finalised once per process, with it)';

/** Why specopt/distributed cannot load here, or undefined when it can. */
export function unavailable(): string | undefined {
  if (!isMainThread) return NOT_MAIN_THREAD;
  if (!existsSync(addonPath())) return NO_MPI;
  return undefined;
}

export function loadMpi(): MpiAddon {
  const reason = unavailable();
  if (reason !== undefined) throw new Error(reason);
  try {
    return require(addonPath()) as MpiAddon;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new Error(`specopt/distributed: cannot load the MPI addon (${why}). ${NO_MPI.slice(NO_MPI.indexOf('Install'))}`, { cause });
  }
}
