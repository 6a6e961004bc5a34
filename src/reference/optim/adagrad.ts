// Adagrad, PyTorch semantics (torch/optim/adagrad.py, _single_tensor_adagrad):
//   lr_t = lr/(1 + (t − 1)·lrDecay)
//   G ← G + λW (L2)
//   S ← S + G²                     (S₀ = initialAccumulatorValue)
//   W ← W − lr_t·(G/(√S + ε))      (param.addcdiv_(grad, std, value=-clr))

import { buf, num, type Hyper, type Rule } from './rule.js';

export function adagrad(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const lrDecay = num(h, 'lrDecay');
  const lambda = num(h, 'weightDecay');
  const s0 = num(h, 'initialAccumulatorValue');
  const eps = num(h, 'eps');
  return {
    spectralDecay: false,
    init: (rows, cols) => ({ sum: new Float64Array(rows * cols).fill(s0) }),
    update(w, G, _rows, _cols, state) {
      const t = state.step;
      const S = buf(state, 'sum');
      if (lambda !== 0) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
      const clr = lr / (1 + (t - 1) * lrDecay);
      for (let i = 0; i < w.length; i++) {
        S[i] = S[i]! + G[i]! * G[i]!;
        const std = Math.sqrt(S[i]!) + eps;
        w[i] = w[i]! - clr * (G[i]! / std);
      }
    },
  };
}
