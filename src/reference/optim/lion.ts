// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), ALGORITHMS.md "Recent
// rules"; lucidrains/lion-pytorch `Lion` (and `cautious_lion.py` for the masked form):
//   W ← W·(1 − lr·λ) first (decoupled; spectral: W ← W − lr·λ·rank1(W))
//   u = sign(β₁·m + (1 − β₁)·G)            sign(0) = 0
//   cautious: u ← cautiousMask(u, G) (cautious.ts)
//   W ← W − lr·u
//   m ← β₂·m + (1 − β₂)·G                  (after the update: m is the slower average)

import { cautiousMask, readCautious } from './cautious.js';
import { buf, num, pair, sign, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function lion(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const lambda = num(h, 'weightDecay');
  const cautious = readCautious(h);
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init: (rows, cols) => ({ m: new Float64Array(rows * cols) }),
    update(w, G, _rows, _cols, state, r1) {
      const m = buf(state, 'm');
      decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      const u = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) u[i] = sign(beta1 * m[i]! + (1 - beta1) * G[i]!);
      if (cautious !== null) cautiousMask(u, G, cautious);
      for (let i = 0; i < w.length; i++) {
        w[i] = w[i]! - lr * u[i]!;
        m[i] = beta2 * m[i]! + (1 - beta2) * G[i]!;
      }
    },
  };
}
