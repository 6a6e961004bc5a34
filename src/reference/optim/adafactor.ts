// Adafactor (Shazeer & Stern 2018), transformers' `Adafactor.step` semantics (optimization.py):
//   t += 1; ρ = relativeStep ? min(warmupInit ? 1e-6·t : 1e-2, 1/√t) : lr
//   α = (scaleParameter ? max(ε₂, RMS(W_old)) : 1)·ρ,  RMS(x) = ‖x‖₂/√numel
//   β̂₂ = 1 − t^decayRate;  U = G² + ε₁
//   rows > 1 and cols > 1 (factored): r ← β̂₂·r + (1 − β̂₂)·rowMean(U), c ← β̂₂·c + (1 − β̂₂)·colMean(U),
//     V̂_ij = (r_i/mean(r))·c_j;   otherwise: v ← β̂₂·v + (1 − β̂₂)·U, V̂ = v
//   Û = G/√V̂;  Û ← Û/max(1, RMS(Û)/clipThreshold);  Û ← α·Û
//   beta1 !== null: m ← β₁·m + (1 − β₁)·Û (m₀ = 0), Û = m
//   λ ≠ 0: W ← W − λ·α·W (old W; spectral: W ← W − λ·α·rank1(W));   W ← W − Û
// hyper.variant: 'transformers' (the default, when absent) is the rule above; 'torch' is
// torch.optim.Adafactor, in adafactorTorch.ts (its own hyperparameters beta2Decay, d, maximize).

import { adafactorTorch } from './adafactorTorch.js';
import { bool, buf, num, numOrNull, oneOf, pair, type Hyper, type Rule } from './rule.js';
import { readSpectral, spectralDecayOn } from './spectral.js';

function rms(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s) / Math.sqrt(x.length);
}

export function adafactor(h: Hyper): Rule {
  // variant (absent: 'transformers', this file's rule); 'torch' is torch.optim.Adafactor (adafactorTorch.ts).
  const variant = oneOf({ variant: h.variant ?? 'transformers' }, 'variant', ['transformers', 'torch'] as const);
  if (variant === 'torch') return adafactorTorch(h);
  const lr = numOrNull(h, 'lr');
  const [eps1, eps2] = pair(h, 'eps');
  const clipThreshold = num(h, 'clipThreshold');
  const decayRate = num(h, 'decayRate');
  const beta1 = numOrNull(h, 'beta1');
  const lambda = num(h, 'weightDecay');
  const scaleParameter = bool(h, 'scaleParameter');
  const relativeStep = bool(h, 'relativeStep');
  const warmupInit = bool(h, 'warmupInit');
  // The constructor checks of transformers' Adafactor.
  if (lr !== null && relativeStep) throw new RangeError('adafactor: cannot combine manual lr and relativeStep=true');
  if (warmupInit && !relativeStep) throw new RangeError('adafactor: warmupInit requires relativeStep=true');
  if (lr === null && !relativeStep) throw new RangeError('adafactor: lr is required when relativeStep=false');
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  const isFactored = (rows: number, cols: number) => rows > 1 && cols > 1;
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      return {
        ...(isFactored(rows, cols)
          ? { row: new Float64Array(rows), col: new Float64Array(cols) }
          : { v: new Float64Array(rows * cols) }),
        ...(beta1 !== null ? { m: new Float64Array(rows * cols) } : {}),
      };
    },
    update(w, G, rows, cols, state, r1) {
      const t = state.step;
      const n = rows * cols;
      const rho = relativeStep ? Math.min(warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : lr!;
      const alpha = (scaleParameter ? Math.max(eps2, rms(w)) : 1) * rho;
      const beta2t = 1 - Math.pow(t, decayRate);
      const U = G.map((gi) => gi * gi + eps1);

      const vhat = new Float64Array(n);
      if (isFactored(rows, cols)) {
        const r = buf(state, 'row');
        const c = buf(state, 'col');
        for (let i = 0; i < rows; i++) {
          let s = 0;
          for (let j = 0; j < cols; j++) s += U[i * cols + j]!;
          r[i] = beta2t * r[i]! + (1 - beta2t) * (s / cols);
        }
        for (let j = 0; j < cols; j++) {
          let s = 0;
          for (let i = 0; i < rows; i++) s += U[i * cols + j]!;
          c[j] = beta2t * c[j]! + (1 - beta2t) * (s / rows);
        }
        let rs = 0;
        for (let i = 0; i < rows; i++) rs += r[i]!;
        const rMean = rs / rows;
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) vhat[i * cols + j] = (r[i]! / rMean) * c[j]!;
      } else {
        const v = buf(state, 'v');
        for (let i = 0; i < n; i++) v[i] = beta2t * v[i]! + (1 - beta2t) * U[i]!;
        vhat.set(v);
      }

      let upd: Float64Array = G.map((gi, i) => gi / Math.sqrt(vhat[i]!));
      const clip = Math.max(1, rms(upd) / clipThreshold);
      upd = upd.map((ui) => ui / clip);
      upd = upd.map((ui) => alpha * ui);
      if (beta1 !== null) {
        const m = buf(state, 'm');
        for (let i = 0; i < n; i++) m[i] = beta1 * m[i]! + (1 - beta1) * upd[i]!;
        upd = m;
      }
      if (lambda !== 0) {
        const c = lambda * alpha;
        const decayTerm = spectral ? r1! : w; // old W (unchanged so far this step)
        for (let i = 0; i < n; i++) w[i] = w[i]! - c * decayTerm[i]!;
      }
      for (let i = 0; i < n; i++) w[i] = w[i]! - upd[i]!;
    },
  };
}
