// Rprop (Riedmiller & Braun 1993, the "Rprop−" variant), PyTorch semantics (torch/optim/rprop.py,
// _single_tensor_rprop), per entry:
//   q = sign(G·G_prev)                               (G_prev: state.prev, 0 before the first step)
//   f = η₊ where q > 0, then η₋ where q < 0, then 1 where q = 0   (torch's three masked writes, in order)
//   size ← clamp(size·f, stepSizes[0], stepSizes[1])  (state.stepSize, starts at lr everywhere;
//                                                     torch's clamp_(min, max): max wins if min > max)
//   G ← 0 where f = η₋                                (a sign change: no move, and no sign next time.
//                                                     torch tests f == η₋, so with η₋ = 1 the q = 0
//                                                     entries are zeroed too, and with η₊ = η₋ every
//                                                     entry; matched here)
//   W ← W − sign(G)·size;  G_prev ← G
// No weight decay (torch has none); the spectral penalty still enters G (index.ts).

import { buf, num, pair, sign, type Hyper, type Rule } from './rule.js';

export function rprop(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [etaMinus, etaPlus] = pair(h, 'etas');
  const [sizeMin, sizeMax] = pair(h, 'stepSizes');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      return { prev: new Float64Array(n), stepSize: new Float64Array(n).fill(lr) };
    },
    update(w, G, _rows, _cols, state) {
      const prev = buf(state, 'prev');
      const size = buf(state, 'stepSize');
      for (let i = 0; i < w.length; i++) {
        let f = sign(G[i]! * prev[i]!);
        if (f > 0) f = etaPlus;
        if (f < 0) f = etaMinus;
        if (f === 0) f = 1;
        size[i] = Math.min(Math.max(size[i]! * f, sizeMin), sizeMax);
        const g = f === etaMinus ? 0 : G[i]!;
        w[i] = w[i]! - sign(g) * size[i]!;
        prev[i] = g;
      }
    },
  };
}
