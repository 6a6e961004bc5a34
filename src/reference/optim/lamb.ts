// LAMB (You et al. 2020), optax semantics (optax.lamb = scale_by_adam, add_decayed_weights,
// scale_by_trust_ratio, scale_by_learning_rate; ALGORITHMS.md "Recent rules"):
//   m ← β₁·m + (1 − β₁)·G;   v ← β₂·v + (1 − β₂)·G²
//   a = (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε)
//   cautious: s_i = 1 where a_i·G_i > 0, else cautiousFactor;  a ← a·s/max(mean(s), 1e-5)
//   u = a + λ·W
//   r = ‖W‖₂/‖u‖₂ (Frobenius norms of the whole parameter), 1 when either is 0
//   W ← W − lr·r·u

import { bool, buf, num, pair, type Hyper, type Rule } from './rule.js';

export function lamb(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const cautious = bool(h, 'cautious');
  const factor = num(h, 'cautiousFactor');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      return { m: new Float64Array(n), v: new Float64Array(n) };
    },
    update(w, G, _rows, _cols, state) {
      const t = state.step;
      const m = buf(state, 'm');
      const v = buf(state, 'v');
      const n = w.length;
      const bc1 = 1 - Math.pow(beta1, t);
      const bc2 = 1 - Math.pow(beta2, t);
      const u = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * G[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * G[i]! * G[i]!;
        u[i] = m[i]! / bc1 / (Math.sqrt(v[i]! / bc2) + eps);
      }
      if (cautious) {
        const s = new Float64Array(n);
        let sum = 0;
        for (let i = 0; i < n; i++) {
          s[i] = u[i]! * G[i]! > 0 ? 1 : factor;
          sum += s[i]!;
        }
        const mean = Math.max(sum / n, 1e-5);
        for (let i = 0; i < n; i++) u[i] = (u[i]! * s[i]!) / mean;
      }
      let ww = 0;
      let uu = 0;
      for (let i = 0; i < n; i++) {
        u[i] = u[i]! + lambda * w[i]!;
        ww += w[i]! * w[i]!;
        uu += u[i]! * u[i]!;
      }
      const ratio = ww === 0 || uu === 0 ? 1 : Math.sqrt(ww) / Math.sqrt(uu);
      for (let i = 0; i < n; i++) w[i] = w[i]! - lr * ratio * u[i]!;
    },
  };
}
