// Helpers shared by the reference tests.
import { expect } from 'vitest';

import { dense, type Dense } from '../src/reference/dense.js';

/** Deterministic PRNG (mulberry32) for the non-property tests: uniform in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A rows x cols matrix with entries uniform in [-1, 1). */
export function randomDense(rows: number, cols: number, rand: () => number): Dense {
  return dense(rows, cols, Array.from({ length: rows * cols }, () => 2 * rand() - 1));
}

/** a·b in float64, by the definition. */
export function mul(a: Dense, b: Dense): Dense {
  expect(a.cols).toBe(b.rows);
  const out = dense(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let p = 0; p < a.cols; p++) s += a.data[i * a.cols + p]! * b.data[p * b.cols + j]!;
      out.data[i * b.cols + j] = s;
    }
  return out;
}
