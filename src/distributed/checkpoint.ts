// One checkpoint of a distributed run, in a directory every rank reads and writes (a shared
// filesystem across machines). Each rank writes the states it holds to a shard file of its own,
// rank 0 the parameters, each file written to a temporary name, flushed and renamed; rank 0
// writes the manifest last, the same way, once every rank has written. A checkpoint is its
// manifest: files of a save that did not finish are never read, and the previous checkpoint's
// files are removed only once the new manifest is in place.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import type { StepEntry } from '../optim/optimizer.js';
import { loadState, saveState, type OptimizerState } from '../optim/state.js';
import { describe } from '../validate.js';
import { allReduce, barrier, broadcast } from './index.js';
import { shardOwners } from './step.js';
import { failedRank, world } from './world.js';

const { rank, size } = world;
const MANIFEST = 'manifest.json';
const FORMAT = 'specopt-distributed-checkpoint';

/** Options of {@link saveDistributedCheckpoint} and {@link loadDistributedCheckpoint}. */
export interface CheckpointOptions {
  /** How the states are held: 'replicated' (every rank has every state) or 'sharded' ({@link shardOwners}). */
  mode?: 'replicated' | 'sharded';
}

interface Manifest {
  format: string;
  version: 1;
  generation: number;
  ranks: number;
  params: string;
  entries: { rule: string; rows: number; cols: number; shard: string; offset: number; length: number }[];
}

function modeOf(options: unknown, fn: string): 'replicated' | 'sharded' {
  const mode = options === undefined ? undefined : (options as { mode?: unknown } | null)?.mode;
  if (mode === undefined) return 'replicated';
  if (mode !== 'replicated' && mode !== 'sharded') throw new RangeError(`${fn}: options.mode must be 'replicated' or 'sharded', got ${describe(mode)}`);
  return mode;
}

/** Writes `chunks` to `file` atomically: a temporary name, flushed, then renamed. */
function writeAtomically(file: string, chunks: Uint8Array[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) writeSync(fd, c);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// When any rank failed: its own error there, one naming it elsewhere.
function agreeOnFailure(error: unknown, fn: string): void {
  const failed = failedRank(error);
  if (failed < 0) return;
  if (error !== undefined) throw error;
  throw new Error(`${fn}: rank ${failed} failed (its own error says why)`);
}

function readManifest(dir: string, fn: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new Error(`${fn}: no checkpoint in ${dir} (no ${MANIFEST})`);
  const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  if (m.format !== FORMAT || m.version !== 1) throw new Error(`${fn}: ${file} is not a specopt distributed checkpoint of version 1`);
  return m;
}

/**
 * Saves the entries' parameters and optimizer states into `dir` as one checkpoint; every rank
 * calls it, with the same entries (in mode 'sharded', the states of the entries a rank does not
 * own are not read). Returns once the checkpoint is complete on every rank.
 */
export function saveDistributedCheckpoint(dir: string, entries: readonly StepEntry[], options?: CheckpointOptions): void {
  const fn = 'saveDistributedCheckpoint';
  let error: unknown;
  let records = new Float64Array(0);
  const generation = Float64Array.of(0);
  let shardName = '';
  let paramsName = '';
  // Every rank makes the same collective calls whatever fails where: checks, then an agreement,
  // then the generation (rank 0 read it), the writes, an agreement, the manifest, an agreement.
  let owners: number[] = [];
  try {
    if (typeof dir !== 'string') throw new TypeError(`${fn}: dir must be a string, got ${describe(dir)}`);
    if (!Array.isArray(entries)) throw new TypeError(`${fn}: entries must be an array, got ${describe(entries)}`);
    const mode = modeOf(options, fn);
    if (rank === 0) generation[0] = existsSync(join(dir, MANIFEST)) ? readManifest(dir, fn).generation + 1 : 1;
    owners = mode === 'sharded' ? shardOwners(entries) : entries.map(() => 0);
  } catch (e) {
    error = e;
  }
  agreeOnFailure(error, fn);
  broadcast(generation, 0);
  try {
    records = new Float64Array(2 * entries.length);
    shardName = `shard-${generation[0]}-${rank}.bin`;
    paramsName = `params-${generation[0]}.bin`;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    entries.forEach((e, i) => {
      if (owners[i] !== rank) return;
      const bytes = saveState(e.state);
      records[2 * i] = offset;
      records[2 * i + 1] = bytes.length;
      chunks.push(bytes);
      offset += bytes.length;
    });
    if (chunks.length) writeAtomically(join(dir, shardName), chunks);
    if (rank === 0) writeAtomically(join(dir, paramsName), entries.map((e) => bytesOf(e.param.data)));
  } catch (e) {
    error = e;
  }
  agreeOnFailure(error, fn);
  // Where each state is: every rank adds in its own (offset, length); the owner of entry i is
  // the rank whose length is nonzero (a saved state is never empty).
  const lengths = new Float64Array(entries.length);
  const where = new Float64Array(entries.length);
  entries.forEach((_, i) => {
    if (records[2 * i + 1] > 0) {
      lengths[i] = records[2 * i + 1];
      where[i] = rank;
    }
  });
  const offsets = Float64Array.from(entries, (_, i) => records[2 * i]);
  allReduce(lengths);
  allReduce(where);
  allReduce(offsets);
  if (rank === 0) {
    try {
      const manifest: Manifest = {
        format: FORMAT,
        version: 1,
        generation: generation[0],
        ranks: size,
        params: paramsName,
        entries: entries.map((e, i) => ({
          rule: e.optimizer.rule,
          rows: e.param.rows,
          cols: e.param.cols,
          shard: `shard-${generation[0]}-${where[i]}.bin`,
          offset: offsets[i],
          length: lengths[i],
        })),
      };
      writeAtomically(join(dir, MANIFEST), [new TextEncoder().encode(JSON.stringify(manifest, null, 1))]);
      // The previous checkpoints' files (and temporary ones of saves that did not finish).
      for (const name of readdirSync(dir)) {
        const gen = /^(?:shard|params)-(\d+)[-.]/.exec(name)?.[1];
        if ((gen !== undefined && Number(gen) !== generation[0]) || /\.tmp-\d+$/.test(name)) rmSync(join(dir, name), { force: true });
      }
    } catch (e) {
      error = e;
    }
  }
  agreeOnFailure(error, fn);
  barrier();
}

/**
 * Loads the checkpoint in `dir` into `entries` (the same parameters, in the same order, as when it
 * was saved): the parameters are overwritten and `state` set, on every rank in mode 'replicated',
 * and in mode 'sharded' on the entry's owner under the current number of ranks (null elsewhere),
 * so a checkpoint saved with N ranks loads with any number. Every rank calls it.
 */
export function loadDistributedCheckpoint(dir: string, entries: StepEntry[], options?: CheckpointOptions): void {
  const fn = 'loadDistributedCheckpoint';
  let error: unknown;
  let apply = () => {};
  try {
    if (typeof dir !== 'string') throw new TypeError(`${fn}: dir must be a string, got ${describe(dir)}`);
    if (!Array.isArray(entries)) throw new TypeError(`${fn}: entries must be an array, got ${describe(entries)}`);
    const mode = modeOf(options, fn);
    const m = readManifest(dir, fn);
    if (m.entries.length !== entries.length) throw new RangeError(`${fn}: the checkpoint has ${m.entries.length} entries, got ${entries.length}`);
    entries.forEach((e, i) => {
      const saved = m.entries[i];
      if (saved.rule !== e.optimizer.rule || saved.rows !== e.param.rows || saved.cols !== e.param.cols) {
        throw new RangeError(`${fn}: entry ${i} was a ${saved.rows}×${saved.cols} ${saved.rule} parameter in the checkpoint, got ${e.param.rows}×${e.param.cols} ${e.optimizer.rule}`);
      }
    });
    const owners = mode === 'sharded' ? shardOwners(entries) : null;
    const params = readFileSync(join(dir, m.params));
    const expected = entries.reduce((s, e) => s + e.param.data.byteLength, 0);
    if (params.length !== expected) throw new RangeError(`${fn}: ${m.params} has ${params.length} bytes, expected ${expected}`);
    const shards = new Map<string, Buffer>();
    const states: (OptimizerState | null)[] = m.entries.map((saved, i) => {
      if (owners && owners[i] !== rank) return null;
      let shard = shards.get(saved.shard);
      if (!shard) shards.set(saved.shard, (shard = readFileSync(join(dir, saved.shard))));
      if (saved.offset + saved.length > shard.length) throw new RangeError(`${fn}: ${saved.shard} is too short for entry ${i}`);
      return loadState(new Uint8Array(shard.buffer, shard.byteOffset + saved.offset, saved.length).slice());
    });
    // Nothing is written before every rank has read and checked everything.
    apply = () => {
      let at = 0;
      entries.forEach((e, i) => {
        e.param.data.set(new Float32Array(params.buffer.slice(params.byteOffset + at, params.byteOffset + at + e.param.data.byteLength)));
        at += e.param.data.byteLength;
        e.state = states[i] as OptimizerState;
      });
    };
  } catch (e) {
    error = e;
  }
  agreeOnFailure(error, fn);
  apply();
}
