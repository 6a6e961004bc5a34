// The process's MPI, as specopt/distributed's modules share it: the addon (loading it initialises
// MPI), this rank's place, and how a rank with invalid arguments still takes part in a collective.
import { COLLECTIVE, OPS, loadMpi, type MpiAddon } from './addon.js';

export const mpi: MpiAddon = loadMpi();
export const world = mpi.info();

export type Collective = keyof typeof COLLECTIVE;

// A rank's invalid arguments: it still takes part in the collective's agreement (as invalid), so
// that the other ranks fail too rather than wait for it for ever, then throws its own error.
export function refuse(name: Collective, error: Error): never {
  mpi.abandon(COLLECTIVE[name]);
  throw error;
}

export async function refuseAsync(name: Collective, error: Error): Promise<never> {
  await mpi.abandonAsync(COLLECTIVE[name]);
  throw error;
}

/**
 * Every rank learns whether any rank failed, given this rank's error (undefined: none): the
 * highest rank that failed, or -1. One small all-reduce; every rank must call it.
 */
export function failedRank(error: unknown): number {
  const flag = Float64Array.of(error === undefined ? 0 : world.rank + 1);
  mpi.allReduce(flag, OPS.max);
  return flag[0] - 1;
}

/** {@link failedRank} on the MPI addon's job queue (in order after this rank's earlier async collectives). */
export async function failedRankAsync(error: unknown): Promise<number> {
  const flag = Float64Array.of(error === undefined ? 0 : world.rank + 1);
  await mpi.allReduceAsync(flag, OPS.max);
  return flag[0] - 1;
}
