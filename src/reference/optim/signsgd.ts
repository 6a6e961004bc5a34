// SignSGD (μ = 0) and Signum (μ > 0), Bernstein et al. 2018, as in ALGORITHMS.md:
//   W ← W·(1 − lr·λ) first (decoupled; spectral: W ← W − lr·λ·rank1(W))
//   μ = 0: W ← W − lr·sign(G)
//   μ > 0: m ← μ·m + (1 − μ)·G (m₀ = 0), W ← W − lr·sign(m)        sign(0) = 0

import { buf, num, sign, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function signsgd(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const mu = num(h, 'momentum');
  const lambda = num(h, 'weightDecay');
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init: (rows, cols) => (mu !== 0 ? { m: new Float64Array(rows * cols) } : {}),
    update(w, G, _rows, _cols, state, r1) {
      decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      let d = G;
      if (mu !== 0) {
        const m = buf(state, 'm');
        for (let i = 0; i < m.length; i++) m[i] = mu * m[i]! + (1 - mu) * G[i]!;
        d = m;
      }
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * sign(d[i]!);
    },
  };
}
