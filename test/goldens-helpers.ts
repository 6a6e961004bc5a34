// The golden trajectories recorded from PyTorch's own torch.optim classes
// (test/fixtures/torch-optim-goldens.json, made by test/fixtures/make_optim_goldens.py): their
// shape, and the decoding of their arrays (base64 of little-endian IEEE bytes, row-major).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GoldenRun {
  dtype: 'float32' | 'float64';
  defaultDtype?: string;
  /** Muon: the precision of torch's Newton-Schulz iteration in this run. */
  ns?: string;
  /** The parameter after each step. */
  w: string;
}

export interface GoldenCase {
  id: string;
  rule: string;
  label: string;
  hyper: Record<string, unknown>;
  shape: [number, number];
  steps: number;
  w0: string;
  grads: string;
  runs: GoldenRun[];
}

export const GOLDENS = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torch-optim-goldens.json'), 'utf8')) as {
  torch: string;
  cases: GoldenCase[];
  torchDefaults: Record<string, Record<string, unknown>>;
};

/** A fixture array as the typed array of its dtype (its own aligned copy). */
export function decodeGolden(b64: string, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const copy = new Uint8Array(Buffer.from(b64, 'base64'));
  return dtype === 'float32' ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
}

/** Another golden fixture of test/fixtures (goldens-<rule>.json), parsed. */
export function readGoldens<T>(file: string): T {
  return JSON.parse(readFileSync(join(__dirname, 'fixtures', file), 'utf8')) as T;
}
