// RAdam (Liu et al. 2020), PyTorch semantics (torch/optim/radam.py, _single_tensor_radam):
//   decay (λ ≠ 0): decoupledWeightDecay ? W ← W·(1 − lr·λ) (spectral: W ← W − lr·λ·rank1(W))
//                                        : G ← G + λW (L2)
//   m ← β₁·m + (1 − β₁)·G;  v ← β₂·v + (1 − β₂)·G²
//   bc1 = 1 − β₁ᵗ, bc2 = 1 − β₂ᵗ;  ρ∞ = 2/(1 − β₂) − 1;  ρ_t = ρ∞ − 2t·β₂ᵗ/bc2
//   ρ_t > 5: r = √((ρ_t − 4)(ρ_t − 2)ρ∞/((ρ∞ − 4)(ρ∞ − 2)ρ_t)),
//            W ← W − (m/bc1)·lr·(√bc2/(√v + ε))·r          (ε added to √v, before the √bc2 factor)
//   else:    W ← W − (m/bc1)·lr                              (un-adapted momentum step; v still updated)

import { bool, buf, num, pair, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function radam(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const decoupled = bool(h, 'decoupledWeightDecay');
  const spectral = decoupled && spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const n = rows * cols;
      return { m: new Float64Array(n), v: new Float64Array(n) };
    },
    update(w, G, _rows, _cols, state, r1) {
      const t = state.step;
      const m = buf(state, 'm');
      const v = buf(state, 'v');
      if (lambda !== 0) {
        if (decoupled) decoupledDecay(w, lr * lambda, spectral ? r1 : null);
        else for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
      }
      const bc1 = 1 - Math.pow(beta1, t);
      const bc2 = 1 - Math.pow(beta2, t);
      const rhoInf = 2 / (1 - beta2) - 1;
      const rhoT = rhoInf - (2 * t * Math.pow(beta2, t)) / bc2;
      const rectified = rhoT > 5;
      const rect = rectified ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * G[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * (G[i]! * G[i]!);
        const mHat = m[i]! / bc1;
        const u = rectified ? mHat * lr * (Math.sqrt(bc2) / (Math.sqrt(v[i]!) + eps)) * rect : mHat * lr;
        w[i] = w[i]! - u;
      }
    },
  };
}
