// Adadelta (Zeiler 2012), PyTorch semantics (torch/optim/adadelta.py, _single_tensor_adadelta):
//   λ ≠ 0: G ← G + λW (L2 only)
//   s ← ρ·s + (1 − ρ)·G²                     (state.squareAvg, torch's square_avg)
//   Δ = √(a + ε)/√(s + ε)·G                  (a: state.accDelta, torch's acc_delta, before this step)
//   a ← ρ·a + (1 − ρ)·Δ²
//   W ← W − lr·Δ

import { buf, num, type Hyper, type Rule } from './rule.js';

export function adadelta(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const rho = num(h, 'rho');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      return { squareAvg: new Float64Array(n), accDelta: new Float64Array(n) };
    },
    update(w, G, _rows, _cols, state) {
      const s = buf(state, 'squareAvg');
      const a = buf(state, 'accDelta');
      if (lambda !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
      for (let i = 0; i < w.length; i++) {
        s[i] = rho * s[i]! + (1 - rho) * (G[i]! * G[i]!);
        const std = Math.sqrt(s[i]! + eps);
        const delta = (Math.sqrt(a[i]! + eps) / std) * G[i]!;
        a[i] = rho * a[i]! + (1 - rho) * (delta * delta);
        w[i] = w[i]! - lr * delta;
      }
    },
  };
}
