// Adam and AdamW, PyTorch semantics (torch/optim/adam.py and adamw.py, _single_tensor_adam):
//   adam:  G ← G + λW (L2)
//   adamw: W ← W·(1 − lr·λ) first (decoupled; spectral: W ← W − lr·λ·rank1(W))
//   m ← β₁·m + (1 − β₁)·G;   v ← β₂·v + (1 − β₂)·G²
//   bc1 = 1 − β₁ᵗ, bc2 = 1 − β₂ᵗ
//   amsgrad: v̂ ← max(v̂, v), denom = √v̂/√bc2 + ε;   else denom = √v/√bc2 + ε
//   u = m/denom;  cautious: u ← cautiousMask(u, G) (cautious.ts; G includes the L2 term)
//   W ← W − (lr/bc1)·u

import { cautiousMask, readCautious } from './cautious.js';
import { bool, buf, num, pair, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function adam(h: Hyper, decoupled: boolean): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const amsgrad = bool(h, 'amsgrad');
  const cautious = readCautious(h);
  const spectral = decoupled && spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const n = rows * cols;
      return { m: new Float64Array(n), v: new Float64Array(n), ...(amsgrad ? { vmax: new Float64Array(n) } : {}) };
    },
    update(w, G, _rows, _cols, state, r1) {
      const t = state.step;
      const m = buf(state, 'm');
      const v = buf(state, 'v');
      const vmax = amsgrad ? buf(state, 'vmax') : null;
      if (decoupled) decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      else if (lambda !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;

      const bc1 = 1 - Math.pow(beta1, t);
      const bc2 = 1 - Math.pow(beta2, t);
      const stepSize = lr / bc1;
      const bc2Sqrt = Math.sqrt(bc2);
      const u = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * G[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * (G[i]! * G[i]!);
        let denom: number;
        if (vmax !== null) {
          vmax[i] = Math.max(vmax[i]!, v[i]!);
          denom = Math.sqrt(vmax[i]!) / bc2Sqrt + eps;
        } else {
          denom = Math.sqrt(v[i]!) / bc2Sqrt + eps;
        }
        u[i] = m[i]! / denom;
      }
      if (cautious !== null) cautiousMask(u, G, cautious);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - stepSize * u[i]!;
    },
  };
}
