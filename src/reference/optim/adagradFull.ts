// Full-matrix Adagrad (Duchi, Hazan, Singer 2011), straight from ALGORITHMS.md:
//   g = vec(G), row-major, length d = rows·cols (refused when d > maxDim)
//   S ← S + g·gᵀ                                   (S₀ = 0, d×d)
//   S = Q·diag(λ)·Qᵀ  (eigh)
//   direction = Q·diag(1/(√max(λ, 0) + ε))·Qᵀ·g    (= (S^{1/2} + εI)^{−1}·g)
//   W ← W − lr·direction                           (no weight decay)
// The spectral penalty, the non-finite check and the step count are index.ts's common steps.

import { dense } from '../dense.js';
import { eigh } from '../eigh.js';
import { buf, num, type Hyper, type Rule } from './rule.js';

export function adagradFull(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const eps = num(h, 'eps');
  const maxDim = num(h, 'maxDim');
  return {
    spectralDecay: false,
    init(rows, cols) {
      const d = rows * cols;
      if (d > maxDim) {
        throw new RangeError(`adagrad-full: the parameter has ${d} entries, more than maxDim = ${maxDim}`);
      }
      return { S: new Float64Array(d * d) };
    },
    update(w, G, _rows, _cols, state) {
      const d = G.length;
      const S = buf(state, 'S');
      for (let i = 0; i < d; i++) {
        const gi = G[i]!;
        for (let j = 0; j < d; j++) S[i * d + j] = S[i * d + j]! + gi * G[j]!;
      }
      const { values, vectors } = eigh(dense(d, d, S));
      const Q = vectors.data;
      // c = diag(1/(√max(λ,0) + ε))·Qᵀg, then direction = Q·c.
      const c = new Float64Array(d);
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += Q[i * d + k]! * G[i]!;
        c[k] = s / (Math.sqrt(Math.max(values[k]!, 0)) + eps);
      }
      for (let i = 0; i < d; i++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += Q[i * d + k]! * c[k]!;
        w[i] = w[i]! - lr * s;
      }
    },
  };
}
