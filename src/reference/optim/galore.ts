// GaLore-AdamW (Zhao et al. 2024; jiaweizzhao/GaLore, galore_projector.py with proj_type 'std',
// and adamw.py), straight from ALGORITHMS.md:
//   r = min(rank, rows, cols); s = step count before this step (state.step − 1 here)
//   if s % updateProjGap == 0: recompute P from the current G (spectral penalty already added):
//     rows ≥ cols: P = top-r right singular vectors, r×cols (rows of Vt); R = G·Pᵀ (rows×r)
//     rows <  cols: P = top-r left singular vectors, rows×r (columns of U); R = Pᵀ·G (r×cols)
//   t = s + 1; m ← β₁m + (1 − β₁)R; v ← β₂v + (1 − β₂)R²   (R's shape; never reset nor rotated)
//   N = m/(√v + ε); back = N·P (rows ≥ cols) or P·N
//   W ← W − lr·(√(1 − β₂ᵗ)/(1 − β₁ᵗ))·scale·back
//   then decay after the step: W ← W − lr·λ·W (the updated W), or with weightDecayNorm 'spectral'
//   W ← W − lr·λ·rank1(W before this step).
// Sign convention (ours; LAPACK's signs are arbitrary): each singular vector is flipped so that its
// entry of largest absolute value (the first one on ties) is positive, so float32 and float64 agree.
// projector 'randomized' is accepted but the reference always uses the exact SVD (svd.ts): it is the
// quantity a randomized range finder approximates.

import { dense } from '../dense.js';
import { svd } from '../svd.js';
import { buf, num, oneOf, pair, type Hyper, type Rule } from './rule.js';
import { readSpectral, spectralDecayOn } from './spectral.js';

/** Flip v (a strided view into data) so its largest-|·| entry (first on ties) is positive. */
function fixSign(data: Float64Array, start: number, stride: number, len: number): void {
  let best = 0;
  let bestAbs = -1;
  for (let k = 0; k < len; k++) {
    const a = Math.abs(data[start + k * stride]!);
    if (a > bestAbs) {
      bestAbs = a;
      best = k;
    }
  }
  if (data[start + best * stride]! < 0) {
    for (let k = 0; k < len; k++) data[start + k * stride] = -data[start + k * stride]!;
  }
}

/** The projector P for G (see the header), as a Float64Array (r×cols or rows×r, row-major). */
export function galoreProjector(G: Float64Array, rows: number, cols: number, r: number): Float64Array {
  const { U, Vt } = svd(dense(rows, cols, G));
  if (rows >= cols) {
    // rows 0..r−1 of Vt (k×cols, k = cols).
    const P = Float64Array.from(Vt.data.subarray(0, r * cols));
    for (let i = 0; i < r; i++) fixSign(P, i * cols, 1, cols);
    return P;
  }
  // columns 0..r−1 of U (rows×k, k = rows).
  const k = U.cols;
  const P = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) for (let j = 0; j < r; j++) P[i * r + j] = U.data[i * k + j]!;
  for (let j = 0; j < r; j++) fixSign(P, j, r, rows);
  return P;
}

export function galore(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const rank = num(h, 'rank');
  const gap = num(h, 'updateProjGap');
  const scale = num(h, 'scale');
  oneOf(h, 'projector', ['svd', 'randomized'] as const); // both exact here (see the header)
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`galore-adamw: rank must be an integer >= 1, got ${rank}`);
  if (!Number.isInteger(gap) || gap < 1) {
    throw new RangeError(`galore-adamw: updateProjGap must be an integer >= 1, got ${gap}`);
  }
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const r = Math.min(rank, rows, cols);
      const n = rows >= cols ? rows * r : r * cols;
      const p = rows >= cols ? r * cols : rows * r;
      return { P: new Float64Array(p), m: new Float64Array(n), v: new Float64Array(n) };
    },
    update(w, G, rows, cols, state, r1) {
      const t = state.step;
      const s = t - 1;
      const r = Math.min(rank, rows, cols);
      const tall = rows >= cols;
      const m = buf(state, 'm');
      const v = buf(state, 'v');
      if (s % gap === 0) state.P = galoreProjector(G, rows, cols, r);
      const P = buf(state, 'P');

      // R = G·Pᵀ (rows×r) or Pᵀ·G (r×cols).
      const R = new Float64Array(m.length);
      if (tall) {
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < r; j++) {
            let acc = 0;
            for (let k = 0; k < cols; k++) acc += G[i * cols + k]! * P[j * cols + k]!;
            R[i * r + j] = acc;
          }
      } else {
        for (let i = 0; i < r; i++)
          for (let j = 0; j < cols; j++) {
            let acc = 0;
            for (let k = 0; k < rows; k++) acc += P[k * r + i]! * G[k * cols + j]!;
            R[i * cols + j] = acc;
          }
      }

      const N = new Float64Array(m.length);
      for (let i = 0; i < m.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * R[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * (R[i]! * R[i]!);
        N[i] = m[i]! / (Math.sqrt(v[i]!) + eps);
      }

      const stepSize = lr * (Math.sqrt(1 - Math.pow(beta2, t)) / (1 - Math.pow(beta1, t))) * scale;
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          let acc = 0;
          if (tall) for (let k = 0; k < r; k++) acc += N[i * r + k]! * P[k * cols + j]!; // N·P
          else for (let k = 0; k < r; k++) acc += P[i * r + k]! * N[k * cols + j]!; // P·N
          w[i * cols + j] = w[i * cols + j]! - stepSize * acc;
        }

      // Decay after the step.
      if (lambda !== 0) {
        const c = lr * lambda;
        if (spectral) for (let i = 0; i < w.length; i++) w[i] = w[i]! - c * r1![i]!;
        else for (let i = 0; i < w.length; i++) w[i] = w[i]! - c * w[i]!;
      }
    },
  };
}
