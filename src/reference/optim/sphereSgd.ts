// Steepest descent on the hypersphere (seed 003, "流形上的最速下降：1. SGD + 超球面"). The vectors
// are the whole matrix (axis 'all'), each row or each column, each on its own sphere of `radius`.
// First step: w ← radius·w/‖w‖ (zero vector: RangeError). Then per vector, ŵ = w/radius, g its gradient:
//   'l2':   τ = g − ⟨g, ŵ⟩ŵ;  ‖τ‖ = 0: w unchanged;  else φ = τ/‖τ‖, ŵ ← (ŵ − lr·φ)/√(1 + lr²)
//   'linf': k = argmax|ŵ_i| (first on ties); φ = sign(g), φ_k = 0; ŵ ← ŵ − lr·φ; ŵ ← ŵ/‖ŵ‖_∞
//   w = radius·ŵ

import { num, oneOf, sign, type Hyper, type Rule } from './rule.js';

type Axis = 'all' | 'rows' | 'cols';
type Norm = 'l2' | 'linf';

/** Element indices (row-major) of each vector. */
function vectors(axis: Axis, rows: number, cols: number): number[][] {
  if (axis === 'all') return [Array.from({ length: rows * cols }, (_, i) => i)];
  if (axis === 'rows') return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => i * cols + j));
  return Array.from({ length: cols }, (_, j) => Array.from({ length: rows }, (_, i) => i * cols + j));
}

function vecNorm(x: number[], norm: Norm): number {
  if (norm === 'linf') return x.reduce((m, xi) => Math.max(m, Math.abs(xi)), 0);
  return Math.sqrt(x.reduce((s, xi) => s + xi * xi, 0));
}

export function sphereSgd(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const radius = num(h, 'radius');
  const axis = oneOf<Axis>(h, 'axis', ['all', 'rows', 'cols']);
  const norm = oneOf<Norm>(h, 'norm', ['l2', 'linf']);
  if (!(radius > 0)) throw new RangeError(`sphere-sgd: radius must be > 0, got ${radius}`);
  return {
    spectralDecay: false,
    init: () => ({}),
    check(w, rows, cols, state) {
      if (state.step !== 0) return;
      for (const idx of vectors(axis, rows, cols)) {
        if (vecNorm(idx.map((i) => w[i]!), norm) === 0) {
          throw new RangeError('sphere-sgd: a zero vector cannot be projected onto the sphere');
        }
      }
    },
    update(w, G, rows, cols, state) {
      for (const idx of vectors(axis, rows, cols)) {
        if (state.step === 1) {
          const n = vecNorm(idx.map((i) => w[i]!), norm);
          for (const i of idx) w[i] = radius * (w[i]! / n);
        }
        const wh = idx.map((i) => w[i]! / radius);
        const g = idx.map((i) => G[i]!);
        let next: number[];
        if (norm === 'l2') {
          const dot = g.reduce((s, gi, k) => s + gi * wh[k]!, 0);
          const tau = g.map((gi, k) => gi - dot * wh[k]!);
          const nt = vecNorm(tau, 'l2');
          if (nt === 0) continue;
          const shrink = Math.sqrt(1 + lr * lr);
          next = wh.map((wi, k) => (wi - lr * (tau[k]! / nt)) / shrink);
        } else {
          let k = 0;
          for (let q = 1; q < wh.length; q++) if (Math.abs(wh[q]!) > Math.abs(wh[k]!)) k = q;
          const stepped = wh.map((wi, q) => wi - lr * (q === k ? 0 : sign(g[q]!)));
          const ninf = vecNorm(stepped, 'linf');
          next = stepped.map((wi) => wi / ninf);
        }
        idx.forEach((i, k) => (w[i] = radius * next[k]!));
      }
    },
  };
}
