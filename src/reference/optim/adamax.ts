// Adamax (Kingma & Ba 2015, §7.1), PyTorch semantics (torch/optim/adamax.py, _single_tensor_adamax):
//   λ ≠ 0: G ← G + λW (L2 only; torch has no decoupled form)
//   m ← β₁·m + (1 − β₁)·G
//   u ← max(β₂·u, |G| + ε)          (ε inside the max, added to |G|, not to the denominator)
//   W ← W − (lr/(1 − β₁ᵗ))·m/u

import { buf, num, pair, type Hyper, type Rule } from './rule.js';

export function adamax(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      return { m: new Float64Array(n), u: new Float64Array(n) };
    },
    update(w, G, _rows, _cols, state) {
      const t = state.step;
      const m = buf(state, 'm');
      const u = buf(state, 'u');
      if (lambda !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
      const clr = lr / (1 - Math.pow(beta1, t));
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * G[i]!;
        u[i] = Math.max(beta2 * u[i]!, Math.abs(G[i]!) + eps);
        w[i] = w[i]! - clr * (m[i]! / u[i]!);
      }
    },
  };
}
