// RMSprop, PyTorch semantics (torch/optim/rmsprop.py, _single_tensor_rmsprop); no bias correction:
//   G ← G + λW (L2)
//   v ← α·v + (1 − α)·G²
//   centered: ḡ ← α·ḡ + (1 − α)·G, avg = √(v − ḡ²) + ε;   else avg = √v + ε
//   μ > 0: b ← μ·b + G/avg (b₀ = 0), W ← W − lr·b;        else W ← W − lr·(G/avg)

import { bool, buf, num, type Hyper, type Rule } from './rule.js';

export function rmsprop(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const alpha = num(h, 'alpha');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const mu = num(h, 'momentum');
  const centered = bool(h, 'centered');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      return {
        squareAvg: new Float64Array(n),
        ...(centered ? { gradAvg: new Float64Array(n) } : {}),
        ...(mu > 0 ? { momentumBuffer: new Float64Array(n) } : {}),
      };
    },
    update(w, G, _rows, _cols, state) {
      const v = buf(state, 'squareAvg');
      const gbar = centered ? buf(state, 'gradAvg') : null;
      const b = mu > 0 ? buf(state, 'momentumBuffer') : null;
      if (lambda !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
      for (let i = 0; i < w.length; i++) {
        v[i] = alpha * v[i]! + (1 - alpha) * (G[i]! * G[i]!);
        let avg: number;
        if (gbar !== null) {
          gbar[i] = alpha * gbar[i]! + (1 - alpha) * G[i]!;
          avg = Math.sqrt(v[i]! - gbar[i]! * gbar[i]!) + eps;
        } else {
          avg = Math.sqrt(v[i]!) + eps;
        }
        if (b !== null) {
          b[i] = mu * b[i]! + G[i]! / avg;
          w[i] = w[i]! - lr * b[i]!;
        } else {
          w[i] = w[i]! - lr * (G[i]! / avg);
        }
      }
    },
  };
}
