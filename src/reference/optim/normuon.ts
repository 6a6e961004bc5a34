// NorMuon (Li, Liu, Liang, Chen, Zhao & Chen 2025, "NorMuon: Making Muon more efficient and
// scalable"), zichongli5/NorMuon semantics (normuon.py, `normuon_update` + `SingleDeviceNorMuon.step`):
//   M ← β·M + (1 − β)·G                        (EMA momentum, M₀ = 0)
//   X = nesterov ? (1 − β)·G + β·M : M
//   O = orthogonalize(X)                        (Muon's options: muon.ts orthogonalizeOptions)
//   r = ‖O‖_F
//   vᵢ = (1/cols)·Σⱼ O²ᵢⱼ                       (each row's mean square: torch.mean(O*O, dim=-1))
//   Vᵢ ← β₂·Vᵢ + (1 − β₂)·vᵢ                     (V₀ = 0, one value per row)
//   Nᵢⱼ = Oᵢⱼ/(√Vᵢ + 1e-10)
//   N ← N·r/(‖N‖_F + 1e-10)                     (the norm of O kept)
//   W ← W·(1 − lr·λ)                            (decoupled decay, the plain lr)
//   W ← W − lr·s·N,  s = √max(1, rows/cols)      (adjustLr 'original'; 'match-rms-adamw': 0.2·√max(rows, cols))
// The spectral penalty, the non-finite check and the step count are index.ts's common steps.

import { orthogonalize } from '../orthogonalize.js';
import { adjustedScale, orthogonalizeOptions } from './muon.js';
import { bool, buf, num, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function normuon(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const beta = num(h, 'momentum');
  const beta2 = num(h, 'beta2');
  const nesterov = bool(h, 'nesterov');
  const lambda = num(h, 'weightDecay');
  const ortho = orthogonalizeOptions(h, 'normuon');
  adjustedScale(h, 1, 1);
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init: (rows, cols) => ({ momentumBuffer: new Float64Array(rows * cols), secondMomentumBuffer: new Float64Array(rows) }),
    update(w, G, rows, cols, state, r1) {
      const M = buf(state, 'momentumBuffer');
      const V = buf(state, 'secondMomentumBuffer');
      for (let i = 0; i < M.length; i++) M[i] = beta * M[i]! + (1 - beta) * G[i]!;
      const X = nesterov ? G.map((gi, i) => (1 - beta) * gi + beta * M[i]!) : Float64Array.from(M);
      const O = orthogonalize({ rows, cols, data: X }, ortho).data;
      const frob = (x: Float64Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
      const r = frob(O);
      const N = new Float64Array(O.length);
      for (let i = 0; i < rows; i++) {
        let sq = 0;
        for (let j = 0; j < cols; j++) sq += O[i * cols + j]! ** 2;
        V[i] = beta2 * V[i]! + (1 - beta2) * (sq / cols);
        const d = Math.sqrt(V[i]!) + 1e-10;
        for (let j = 0; j < cols; j++) N[i * cols + j] = O[i * cols + j]! / d;
      }
      const keep = r / (frob(N) + 1e-10);
      const s = adjustedScale(h, rows, cols);

      decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * (s * (keep * N[i]!));
    },
  };
}
