// pbSGD (Zhou et al., IJCAI 2020, "pbSGD: Powered Stochastic Gradient Descent Methods"); seed 003:
// steepest descent under ‖·‖_p has direction G^[γ]/‖G^[γ]‖_p with γ = q/p = 1/(p − 1).
//   W ← W·(1 − lr·λ) first (decoupled; spectral: W ← W − lr·λ·rank1(W))
//   d = sign(G)·|G|^γ
//   normalize: d ← d/‖d‖_p, p = 1 + 1/γ, ‖d‖_p = (Σ|d_i|^p)^(1/p)  (d = 0 stays 0)
//   μ > 0: b ← μ·b + d (b₀ = 0), d = b
//   W ← W − lr·d

import { bool, buf, num, sign, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

/** ‖d‖_p, evaluated as m·(Σ(|d_i|/m)^p)^(1/p) with m = max|d_i| (same value; no under/overflow of |d_i|^p). */
export function pNorm(d: Float64Array, p: number): number {
  let m = 0;
  for (let i = 0; i < d.length; i++) m = Math.max(m, Math.abs(d[i]!));
  if (m === 0) return 0;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += Math.pow(Math.abs(d[i]!) / m, p);
  return m * Math.pow(s, 1 / p);
}

export function pbsgd(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const gamma = num(h, 'gamma');
  const mu = num(h, 'momentum');
  const normalize = bool(h, 'normalize');
  const lambda = num(h, 'weightDecay');
  if (!(gamma > 0)) throw new RangeError(`pbsgd: gamma must be > 0, got ${gamma}`);
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init: (rows, cols) => (mu > 0 ? { b: new Float64Array(rows * cols) } : {}),
    update(w, G, _rows, _cols, state, r1) {
      decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      let d: Float64Array = G.map((gi) => sign(gi) * Math.pow(Math.abs(gi), gamma));
      if (normalize) {
        const n = pNorm(d, 1 + 1 / gamma);
        if (n !== 0) d = d.map((di) => di / n);
      }
      if (mu > 0) {
        const b = buf(state, 'b');
        for (let i = 0; i < b.length; i++) b[i] = mu * b[i]! + d[i]!;
        d = b;
      }
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * d[i]!;
    },
  };
}
