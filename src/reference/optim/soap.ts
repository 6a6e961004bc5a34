// SOAP (Vyas et al. 2025; nikhilvyas/SOAP soap.py on main), straight from ALGORITHMS.md, float64,
// doing every rotation the reference does. βs = shampooBeta if ≥ 0, else β₂. A side is "used"
// when the parameter is a matrix (rows, cols > 1: 1×n and n×1 are the reference's 1-D tensors,
// never preconditioned) and that side is ≤ maxPreconditionerDim; an unused side's basis is I.
//   First call (state.basesSet false): L = (1 − βs)·G·Gᵀ, R = (1 − βs)·Gᵀ·G;
//     Q_L, Q_R = eigenvectors of L + 1e-30·I, R + 1e-30·I in descending eigenvalue order;
//     W, m, v unchanged; the Adam count s stays 0.
//   Later calls:
//     1. G' = Q_Lᵀ·G·Q_R; s += 1; m ← β₁m + (1 − β₁)G'; v ← β₂v + (1 − β₂)G'²
//     2. N = Q_L·(m/(√v + ε))·Q_Rᵀ; normalizeGrads: N ← N/(1e-30 + RMS(N))
//     3. W ← W − η·N, η = lr·√(1 − β₂ˢ)/(1 − β₁ˢ) (lr without correctBias)
//     4. decay after the step: W ← W − lr·λ·W (spectral: W ← W − lr·λ·rank1(W before this step))
//     5. m ← Q_L·m·Q_Rᵀ; L ← βs·L + (1 − βs)·G·Gᵀ, R likewise (raw G)
//     6. if s % preconditionFrequency == 0, for each used side (L: index rows, R: columns):
//          λ̂ = diag(QᵀSQ); order = λ̂ descending; v's rows (L) or columns (R) and Q's columns
//          permuted by it; Q ← qr(S·Q).Q
//     7. m ← Q_Lᵀ·m·Q_R
// Eigenvector signs and QR signs are arbitrary; the update does not depend on them.

import { dense, type Dense } from '../dense.js';
import { eigh } from '../eigh.js';
import { gemm } from '../gemm.js';
import { qr } from '../qr.js';
import { bool, buf, num, pair, type Hyper, type Rule } from './rule.js';
import { readSpectral, spectralDecayOn } from './spectral.js';

/** op(A)·op(B) on row-major data, A stored ar×ac and B br×bc (the reference gemm). */
function mul(a: Float64Array, ar: number, ac: number, b: Float64Array, br: number, bc: number, transA = false, transB = false): Float64Array {
  return gemm({ rows: ar, cols: ac, data: a }, { rows: br, cols: bc, data: b }, { transA, transB }).data;
}

function identity(k: number): Float64Array {
  const q = new Float64Array(k * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  return q;
}

export function soap(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const shampooBeta = num(h, 'shampooBeta');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const freq = num(h, 'preconditionFrequency');
  const maxDim = num(h, 'maxPreconditionerDim');
  const correctBias = bool(h, 'correctBias');
  const normalizeGrads = bool(h, 'normalizeGrads');
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new RangeError(`soap: betas must be in [0, 1), got ${beta1}, ${beta2}`);
  if (!(eps > 0)) throw new RangeError(`soap: eps must be > 0, got ${eps}`);
  if (!(Number.isInteger(freq) && freq >= 1)) throw new RangeError(`soap: preconditionFrequency must be an integer >= 1, got ${freq}`);
  const betaS = shampooBeta >= 0 ? shampooBeta : beta2;
  const spectral = spectralDecayOn(readSpectral(h), lambda);

  const used = (rows: number, cols: number, k: number) => rows > 1 && cols > 1 && k <= maxDim;

  /** Gram matrix: G·Gᵀ (left) or Gᵀ·G (right). */
  const gram = (G: Float64Array, rows: number, cols: number, left: boolean) =>
    left ? mul(G, rows, cols, G, rows, cols, false, true) : mul(G, rows, cols, G, rows, cols, true, false);

  /** Q_Lᵀ·x·Q_R (into the eigenbasis) or Q_L·x·Q_Rᵀ (back). */
  function rotate(x: Float64Array, rows: number, cols: number, QL: Float64Array, QR: Float64Array, into: boolean): Float64Array {
    const y = mul(QL, rows, rows, x, rows, cols, into, false);
    return mul(y, rows, cols, QR, cols, cols, false, !into);
  }

  /** Eigenvectors of S + 1e-30·I, columns in descending eigenvalue order. */
  function eigenbasis(S: Float64Array, k: number): Float64Array {
    const shifted = dense(k, k, S);
    for (let i = 0; i < k; i++) shifted.data[i * k + i] = shifted.data[i * k + i]! + 1e-30;
    const { vectors } = eigh(shifted);
    const Q = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) Q[i * k + j] = vectors.data[i * k + (k - 1 - j)]!;
    return Q;
  }

  /** Step 6 for one side: the new basis and the column order that v follows. */
  function refresh(S: Float64Array, Q: Float64Array, k: number): { Q: Float64Array; order: number[] } {
    const estimate = new Float64Array(k);
    const SQ = mul(S, k, k, Q, k, k);
    for (let j = 0; j < k; j++) for (let i = 0; i < k; i++) estimate[j] = estimate[j]! + Q[i * k + j]! * SQ[i * k + j]!;
    const order = Array.from({ length: k }, (_, j) => j).sort((x, y) => estimate[y]! - estimate[x]! || x - y);
    const sorted: Dense = dense(k, k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) sorted.data[i * k + j] = Q[i * k + order[j]!]!;
    return { Q: qr(dense(k, k, mul(S, k, k, sorted.data, k, k))).Q.data, order };
  }

  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const n = rows * cols;
      return {
        m: new Float64Array(n),
        v: new Float64Array(n),
        L: new Float64Array(rows * rows),
        R: new Float64Array(cols * cols),
        QL: identity(rows),
        QR: identity(cols),
        adamSteps: 0,
        basesSet: false,
      };
    },
    update(w, G, rows, cols, state, r1) {
      const n = rows * cols;
      const useL = used(rows, cols, rows);
      const useR = used(rows, cols, cols);
      const L = buf(state, 'L');
      const R = buf(state, 'R');
      if (!state.basesSet) {
        if (useL) {
          const g = gram(G, rows, cols, true);
          for (let i = 0; i < L.length; i++) L[i] = (1 - betaS) * g[i]!;
          state.QL = eigenbasis(L, rows);
        }
        if (useR) {
          const g = gram(G, rows, cols, false);
          for (let i = 0; i < R.length; i++) R[i] = (1 - betaS) * g[i]!;
          state.QR = eigenbasis(R, cols);
        }
        state.basesSet = true;
        return;
      }
      let QL = buf(state, 'QL');
      let QR = buf(state, 'QR');
      const v = buf(state, 'v');
      const s = (state.adamSteps as number) + 1;
      state.adamSteps = s;

      // 1–3. Adam in the eigenbasis.
      const Gp = rotate(G, rows, cols, QL, QR, true);
      let m = buf(state, 'm');
      const D = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * Gp[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * Gp[i]! * Gp[i]!;
        D[i] = m[i]! / (Math.sqrt(v[i]!) + eps);
      }
      const N = rotate(D, rows, cols, QL, QR, false);
      if (normalizeGrads) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += N[i]! * N[i]!;
        const scale = 1e-30 + Math.sqrt(sum / n);
        for (let i = 0; i < n; i++) N[i] = N[i]! / scale;
      }
      const eta = correctBias ? (lr * Math.sqrt(1 - beta2 ** s)) / (1 - beta1 ** s) : lr;
      for (let i = 0; i < n; i++) w[i] = w[i]! - eta * N[i]!;

      // 4. Decay after the step.
      if (lambda !== 0) {
        const c = lr * lambda;
        if (spectral) for (let i = 0; i < n; i++) w[i] = w[i]! - c * r1![i]!;
        else for (let i = 0; i < n; i++) w[i] = w[i]! - c * w[i]!;
      }

      // 5. m back to the original space; the statistics.
      m = rotate(m, rows, cols, QL, QR, false);
      if (useL) {
        const g = gram(G, rows, cols, true);
        for (let i = 0; i < L.length; i++) L[i] = betaS * L[i]! + (1 - betaS) * g[i]!;
      }
      if (useR) {
        const g = gram(G, rows, cols, false);
        for (let i = 0; i < R.length; i++) R[i] = betaS * R[i]! + (1 - betaS) * g[i]!;
      }

      // 6. Refresh the bases; v follows its eigenvectors.
      if (s % freq === 0) {
        if (useL) {
          const next = refresh(L, QL, rows);
          const old = v.slice();
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) v[i * cols + j] = old[next.order[i]! * cols + j]!;
          QL = next.Q;
          state.QL = QL;
        }
        if (useR) {
          const next = refresh(R, QR, cols);
          const old = v.slice();
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) v[i * cols + j] = old[i * cols + next.order[j]!]!;
          QR = next.Q;
          state.QR = QR;
        }
      }

      // 7. m into the (possibly new) eigenbasis.
      state.m = rotate(m, rows, cols, QL, QR, true);
    },
  };
}
