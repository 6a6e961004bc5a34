// SGD, PyTorch semantics (torch/optim/sgd.py, _single_tensor_sgd), plus an optional decoupled decay.
//   L2 (default):  G ← G + λW
//   decoupled:     W ← W·(1 − lr·λ) first (spectral: W ← W − lr·λ·rank1(W))
//   momentum μ:    b₁ = G (clone), b_t = μ·b_{t−1} + (1 − dampening)·G
//                  d = nesterov ? G + μ·b_t : b_t;   μ = 0: d = G
//   cautious (needs μ > 0): d ← cautiousMask(d, G) (cautious.ts; G includes the L2 term)
//   W ← W − lr·d

import { cautiousMask, readCautious } from './cautious.js';
import { bool, buf, num, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

export function sgd(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const mu = num(h, 'momentum');
  const dampening = num(h, 'dampening');
  const nesterov = bool(h, 'nesterov');
  const lambda = num(h, 'weightDecay');
  const decoupled = bool(h, 'decoupledWeightDecay');
  if (nesterov && (mu <= 0 || dampening !== 0)) {
    throw new RangeError('sgd: Nesterov momentum requires a momentum and zero dampening'); // as PyTorch
  }
  const cautious = readCautious(h);
  if (cautious !== null && !(mu > 0)) throw new RangeError('sgd: cautious masking needs momentum > 0');
  const spectral = decoupled && spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init: (rows, cols) => (mu !== 0 ? { momentumBuffer: new Float64Array(rows * cols) } : {}),
    update(w, G, _rows, _cols, state, r1) {
      if (decoupled) decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      else if (lambda !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;

      let d = G;
      if (mu !== 0) {
        const b = buf(state, 'momentumBuffer');
        if (state.step === 1) b.set(G);
        else for (let i = 0; i < b.length; i++) b[i] = mu * b[i]! + (1 - dampening) * G[i]!;
        d = nesterov ? G.map((gi, i) => gi + mu * b[i]!) : b;
        if (cautious !== null) {
          d = Float64Array.from(d);
          cautiousMask(d, G, cautious);
        }
      }
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * d[i]!;
    },
  };
}
