// Adam-mini (Zhang et al. 2025, github.com/zyushun/Adam-mini) and Adalayer (blocks 'all'):
// a full first moment, one second-moment scalar per block.
//   W ← W·(1 − lr·λ) first (decoupled; spectral: W ← W − lr·λ·rank1(W))
//   m ← β₁·m + (1 − β₁)·G
//   per block b: v_b ← β₂·v_b + (1 − β₂)·mean_b(G²)
//   W ← W − lr·(m/bc1)/(√v_b/√bc2 + ε),  bc1 = 1 − β₁ᵗ, bc2 = 1 − β₂ᵗ
// Blocks: 'rows' (one per row), 'cols' (one per column), 'all' (one), or h equal groups of
// consecutive rows (attention heads; rows % h must be 0).

import { buf, num, pair, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

type Blocks = 'rows' | 'cols' | 'all' | number;

/** Block index of every element (row-major), and the number of blocks. */
function blockOf(blocks: Blocks, rows: number, cols: number): { index: Int32Array; count: number } {
  const index = new Int32Array(rows * cols);
  let count: number;
  if (blocks === 'rows') count = rows;
  else if (blocks === 'cols') count = cols;
  else if (blocks === 'all') count = 1;
  else {
    if (!Number.isInteger(blocks) || blocks < 1 || rows % blocks !== 0) {
      throw new RangeError(`adam-mini: blocks = ${blocks} must be a positive integer dividing rows = ${rows}`);
    }
    count = blocks;
  }
  const rowsPerGroup = typeof blocks === 'number' ? rows / blocks : 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      index[i * cols + j] =
        blocks === 'rows' ? i : blocks === 'cols' ? j : blocks === 'all' ? 0 : Math.floor(i / rowsPerGroup);
    }
  }
  return { index, count };
}

export function adamMini(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const blocks = h.blocks;
  if (blocks !== 'rows' && blocks !== 'cols' && blocks !== 'all' && typeof blocks !== 'number') {
    throw new TypeError(`adam-mini: blocks must be 'rows', 'cols', 'all' or a number, got ${String(blocks)}`);
  }
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const { count } = blockOf(blocks, rows, cols);
      return { m: new Float64Array(rows * cols), v: new Float64Array(count) };
    },
    update(w, G, rows, cols, state, r1) {
      const t = state.step;
      const m = buf(state, 'm');
      const v = buf(state, 'v');
      const { index, count } = blockOf(blocks, rows, cols);
      decoupledDecay(w, lr * lambda, spectral ? r1 : null);

      for (let i = 0; i < m.length; i++) m[i] = beta1 * m[i]! + (1 - beta1) * G[i]!;
      const sumSq = new Float64Array(count);
      const size = new Float64Array(count);
      for (let i = 0; i < G.length; i++) {
        sumSq[index[i]!] += G[i]! * G[i]!;
        size[index[i]!] += 1;
      }
      for (let b = 0; b < count; b++) v[b] = beta2 * v[b]! + (1 - beta2) * (sumSq[b]! / size[b]!);

      const bc1 = 1 - Math.pow(beta1, t);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
      for (let i = 0; i < w.length; i++) {
        const denom = Math.sqrt(v[index[i]!]!) / bc2Sqrt + eps;
        w[i] = w[i]! - lr * ((m[i]! / bc1) / denom);
      }
    },
  };
}
