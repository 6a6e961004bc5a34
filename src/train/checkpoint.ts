// Training checkpoints: one file per run (DIR/<optimizer>.ckpt) holding a JSON header (the run's
// configuration, the epoch reached, its history) and binary blobs (each parameter's float32 bytes,
// each optimizer state as saveState wrote it), closed by a sha256 of everything before it.
//
// Saving is atomic: the bytes go to DIR/<name>.ckpt.tmp, which is fsynced, then renamed over
// DIR/<name>.ckpt, then the directory is fsynced. A process killed at any point leaves either the
// previous checkpoint or the new one, never a torn file (a stray .tmp is ignored and overwritten).
//
// Layout: "SPECOPT-CKPT" (12 bytes), u32 version, u32 header length, header (UTF-8 JSON:
// { meta, blobs: [{ name, length }] }), the blobs in header order, sha256 (32 bytes).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

const MAGIC = 'SPECOPT-CKPT';
const VERSION = 1;

export class CheckpointError extends Error {}

export interface Checkpoint<Meta> {
  meta: Meta;
  blobs: Map<string, Uint8Array>;
}

export function encodeCheckpoint<Meta>(meta: Meta, blobs: [string, Uint8Array][]): Uint8Array {
  const header = Buffer.from(JSON.stringify({ meta, blobs: blobs.map(([name, b]) => ({ name, length: b.byteLength })) }), 'utf8');
  const total = MAGIC.length + 8 + header.length + blobs.reduce((s, [, b]) => s + b.byteLength, 0) + 32;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  view.setUint32(MAGIC.length, VERSION, true);
  view.setUint32(MAGIC.length + 4, header.length, true);
  let at = MAGIC.length + 8;
  out.set(header, at);
  at += header.length;
  for (const [, b] of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  out.set(createHash('sha256').update(out.subarray(0, at)).digest(), at);
  return out;
}

export function decodeCheckpoint<Meta>(bytes: Uint8Array, where = 'checkpoint'): Checkpoint<Meta> {
  const fail = (why: string): never => {
    throw new CheckpointError(`${where}: ${why}`);
  };
  if (bytes.length < MAGIC.length + 8 + 32 || Buffer.from(bytes.subarray(0, MAGIC.length)).toString('latin1') !== MAGIC) {
    fail('not a specopt training checkpoint');
  }
  const body = bytes.subarray(0, bytes.length - 32);
  const sum = createHash('sha256').update(body).digest();
  if (!sum.equals(bytes.subarray(bytes.length - 32))) fail('checksum mismatch (the file is truncated or corrupt)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(MAGIC.length, true);
  if (version !== VERSION) fail(`format version ${version}, this specopt reads ${VERSION}`);
  const headerLength = view.getUint32(MAGIC.length + 4, true);
  let at = MAGIC.length + 8;
  const header = JSON.parse(Buffer.from(bytes.subarray(at, at + headerLength)).toString('utf8')) as {
    meta: Meta;
    blobs: { name: string; length: number }[];
  };
  at += headerLength;
  const blobs = new Map<string, Uint8Array>();
  for (const { name, length } of header.blobs) {
    if (at + length > body.length) fail('blob sizes exceed the file');
    blobs.set(name, bytes.slice(at, at + length));
    at += length;
  }
  return { meta: header.meta, blobs };
}

export function readCheckpoint<Meta>(path: string): Checkpoint<Meta> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CheckpointError(`${path}: cannot be read (${(error as Error).message})`);
  }
  return decodeCheckpoint<Meta>(bytes, path);
}

/**
 * Test hook (not for users): with SPECOPT_TEST_PAUSE_SAVE=<label>, the save whose label matches
 * writes half of its temporary file, prints "specopt-test: paused mid-save <label>" on stderr and
 * blocks, so that a test can kill the process in the middle of a save.
 */
function pauseForTest(label: string): void {
  if (process.env.SPECOPT_TEST_PAUSE_SAVE !== label) return;
  process.stderr.write(`specopt-test: paused mid-save ${label}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60_000);
}

/** Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the directory). */
export function writeAtomic(path: string, bytes: Uint8Array, label = ''): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const half = bytes.length >> 1;
    let at = 0;
    while (at < half) at += writeSync(fd, bytes, at, half - at);
    pauseForTest(label);
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // Make the rename itself durable (POSIX); not possible on every platform.
  try {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {}
}

export const checkpointExists = (path: string) => existsSync(path);
