// NAdam (Dozat 2016), PyTorch semantics (torch/optim/nadam.py, _single_tensor_nadam):
//   decay (λ ≠ 0): decoupledWeightDecay ? W ← W·(1 − lr·λ) (spectral: W ← W − lr·λ·rank1(W))
//                                        : G ← G + λW (L2)
//   μ_t = β₁·(1 − ½·0.96^(t·ψ)),  μ_{t+1} = β₁·(1 − ½·0.96^((t+1)·ψ))      (ψ = momentumDecay)
//   Π ← Π·μ_t                      (state.muProduct, torch's mu_product; Π₀ = 1)
//   m ← β₁·m + (1 − β₁)·G;  v ← β₂·v + (1 − β₂)·G²
//   D = √(v/(1 − β₂ᵗ)) + ε         (ε outside the root, after the bias correction)
//   W ← W − lr·(1 − μ_t)/(1 − Π)·G/D − lr·μ_{t+1}/(1 − Π·μ_{t+1})·m/D
// torch keeps mu_product as a scalar tensor of the default scalar dtype (float32 unless the default
// dtype is float64); here it is a float64 number.

import { bool, buf, num, pair, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function nadam(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const psi = num(h, 'momentumDecay');
  const decoupled = bool(h, 'decoupledWeightDecay');
  const spectral = decoupled && spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const n = rows * cols;
      return { m: new Float64Array(n), v: new Float64Array(n), muProduct: 1 };
    },
    update(w, G, _rows, _cols, state, r1) {
      const t = state.step;
      const m = buf(state, 'm');
      const v = buf(state, 'v');
      if (typeof state.muProduct !== 'number') throw new TypeError('reference optimizer: state.muProduct is not a number');
      if (lambda !== 0) {
        if (decoupled) decoupledDecay(w, lr * lambda, spectral ? r1 : null);
        else for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
      }
      const bc2 = 1 - Math.pow(beta2, t);
      const mu = beta1 * (1 - 0.5 * Math.pow(0.96, t * psi));
      const muNext = beta1 * (1 - 0.5 * Math.pow(0.96, (t + 1) * psi));
      const muProduct = state.muProduct * mu;
      state.muProduct = muProduct;
      const muProductNext = muProduct * muNext;
      const cG = (-lr * (1 - mu)) / (1 - muProduct);
      const cM = (-lr * muNext) / (1 - muProductNext);
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * G[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * (G[i]! * G[i]!);
        const denom = Math.sqrt(v[i]! / bc2) + eps;
        w[i] = w[i]! + cG * (G[i]! / denom);
        w[i] = w[i]! + cM * (m[i]! / denom);
      }
    },
  };
}
