// Shampoo (Gupta, Koren & Singer 2018; facebookresearch/optimizers "distributed_shampoo") with
// exponent p = 4, and Shampoo² (Morwani et al. 2025) with p = 2, straight from ALGORITHMS.md.
// t = state.step (1 on the first update), G the gradient (spectral penalty already added), β₁, β₂ = betas,
// start = startPreconditioningStep ?? preconditionFrequency:
//   1. β₁ > 0: M ← β₁·M + (1 − β₁)·G, M̂ = M/(1 − β₁ᵗ);   β₁ = 0: M̂ = G
//   2. L ← β₂·L + w·G·Gᵀ,  R ← β₂·R + w·Gᵀ·G,  w = 1 if β₂ = 1 else 1 − β₂ (raw G; a side whose
//      dimension exceeds maxPreconditionerDim keeps no statistic and acts as the identity)
//   3. if t % preconditionFrequency == 0 or (t ≥ start and not rootsReady):
//        Lroot = inverseRoot(L/bc₂, p, {eps}), Rroot likewise, bc₂ = 1 if β₂ = 1 else 1 − β₂ᵗ;
//        a failed decomposition keeps the previous root (the identity if there was none yet) and
//        adds 1 to rootFailures; rootsReady = true
//   4. grafting direction P_g: 'sgd' M̂;  'adagrad' A ← A + G², M̂/(√A + 1e-10);
//      'adam' A ← 0.999·A + 0.001·G², M̂/(√(A/(1 − 0.999ᵗ)) + 1e-8);  'none' none
//   5. t ≥ start and rootsReady: P = Lroot·M̂·Rroot, with grafting P ← (‖P_g‖_F/(‖P‖_F + 1e-16))·P;
//      otherwise P = P_g ('none': M̂)
//   6. W ← W·(1 − lr·λ) (spectral: W ← W − lr·λ·rank1(W), W before this step), then W ← W − lr·P

import { dense, type Dense } from '../dense.js';
import { inverseRoot } from '../inverseRoot.js';
import { buf, num, numOrNull, oneOf, pair, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

const GRAFTINGS = ['none', 'sgd', 'adagrad', 'adam'] as const;

/** distributed_shampoo's AdaGrad / Adam grafting constants. */
const ADAGRAD_GRAFT_EPS = 1e-10;
const ADAM_GRAFT_BETA2 = 0.999;
const ADAM_GRAFT_EPS = 1e-8;

function frobenius(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** a (m×k) · b (k×n), row-major. */
function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q]! * b[q * n + j]!;
      out[i * n + j] = s;
    }
  }
  return out;
}

function isIntegerAtLeast(x: number, min: number): boolean {
  return Number.isInteger(x) && x >= min;
}

/** The rule with exponent p (4: 'shampoo', 2: 'shampoo2'); `name` prefixes the error messages. */
export function shampoo(h: Hyper, p: number, name: string): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const eps = num(h, 'eps');
  const freq = num(h, 'preconditionFrequency');
  const startHyper = numOrNull(h, 'startPreconditioningStep');
  const grafting = oneOf(h, 'grafting', GRAFTINGS);
  const maxDim = num(h, 'maxPreconditionerDim');
  const lambda = num(h, 'weightDecay');
  if (!(beta1 >= 0 && beta1 < 1)) throw new RangeError(`${name}: betas[0] must be in [0, 1), got ${beta1}`);
  if (!(beta2 >= 0 && beta2 <= 1)) throw new RangeError(`${name}: betas[1] must be in [0, 1], got ${beta2}`);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new RangeError(`${name}: eps must be > 0, got ${eps}`);
  if (!isIntegerAtLeast(freq, 1)) throw new RangeError(`${name}: preconditionFrequency must be an integer >= 1, got ${freq}`);
  if (startHyper !== null && !isIntegerAtLeast(startHyper, 1)) {
    throw new RangeError(`${name}: startPreconditioningStep must be null or an integer >= 1, got ${startHyper}`);
  }
  if (!isIntegerAtLeast(maxDim, 0)) throw new RangeError(`${name}: maxPreconditionerDim must be an integer >= 0, got ${maxDim}`);
  const start = startHyper ?? freq;
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  const accumulates = grafting === 'adagrad' || grafting === 'adam';

  /** The inverse root of one side's bias-corrected statistic into `root`; false if it failed. */
  function refresh(stat: Float64Array, k: number, bc2: number, root: Float64Array): boolean {
    const s: Dense = dense(k, k, stat);
    if (bc2 !== 1) for (let i = 0; i < s.data.length; i++) s.data[i] = s.data[i]! / bc2;
    let r: Dense;
    try {
      r = inverseRoot(s, p, { eps });
    } catch (e) {
      if (e instanceof RangeError) return false;
      throw e;
    }
    root.set(r.data);
    return true;
  }

  return {
    spectralDecay: spectral,
    init(rows, cols) {
      const n = rows * cols;
      return {
        ...(beta1 > 0 ? { M: new Float64Array(n) } : {}),
        ...(rows <= maxDim ? { L: new Float64Array(rows * rows), Lroot: new Float64Array(rows * rows) } : {}),
        ...(cols <= maxDim ? { R: new Float64Array(cols * cols), Rroot: new Float64Array(cols * cols) } : {}),
        ...(accumulates ? { A: new Float64Array(n) } : {}),
        rootsReady: false,
        rootFailures: 0,
      };
    },
    update(w, G, rows, cols, state, r1) {
      const t = state.step;
      const n = rows * cols;
      const useLeft = rows <= maxDim;
      const useRight = cols <= maxDim;

      // 1. Filtered, bias-corrected gradient.
      let mhat: Float64Array;
      if (beta1 > 0) {
        const M = buf(state, 'M');
        const bc1 = 1 - Math.pow(beta1, t);
        mhat = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          M[i] = beta1 * M[i]! + (1 - beta1) * G[i]!;
          mhat[i] = M[i]! / bc1;
        }
      } else {
        mhat = Float64Array.from(G);
      }

      // 2. Statistics from the raw gradient.
      const wt = beta2 === 1 ? 1 : 1 - beta2;
      if (useLeft) {
        const L = buf(state, 'L');
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < rows; j++) {
            let s = 0;
            for (let k = 0; k < cols; k++) s += G[i * cols + k]! * G[j * cols + k]!;
            L[i * rows + j] = beta2 * L[i * rows + j]! + wt * s;
          }
        }
      }
      if (useRight) {
        const R = buf(state, 'R');
        for (let i = 0; i < cols; i++) {
          for (let j = 0; j < cols; j++) {
            let s = 0;
            for (let k = 0; k < rows; k++) s += G[k * cols + i]! * G[k * cols + j]!;
            R[i * cols + j] = beta2 * R[i * cols + j]! + wt * s;
          }
        }
      }

      // 3. Roots.
      if (typeof state.rootsReady !== 'boolean') throw new TypeError(`${name}: state.rootsReady is not a boolean`);
      if (typeof state.rootFailures !== 'number') throw new TypeError(`${name}: state.rootFailures is not a number`);
      if (t % freq === 0 || (t >= start && !state.rootsReady)) {
        const bc2 = beta2 === 1 ? 1 : 1 - Math.pow(beta2, t);
        let failures = 0;
        // A root that was never computed is the identity (no preconditioning on that side).
        const fallback = (root: Float64Array, k: number) => {
          if (state.rootsReady) return;
          root.fill(0);
          for (let i = 0; i < k; i++) root[i * k + i] = 1;
        };
        if (useLeft && !refresh(buf(state, 'L'), rows, bc2, buf(state, 'Lroot'))) {
          failures += 1;
          fallback(buf(state, 'Lroot'), rows);
        }
        if (useRight && !refresh(buf(state, 'R'), cols, bc2, buf(state, 'Rroot'))) {
          failures += 1;
          fallback(buf(state, 'Rroot'), cols);
        }
        state.rootFailures += failures;
        state.rootsReady = true;
      }

      // 4. The grafted rule's direction.
      let graft: Float64Array | null = null;
      if (grafting === 'sgd') graft = mhat;
      else if (grafting === 'adagrad') {
        const A = buf(state, 'A');
        graft = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          A[i] = A[i]! + G[i]! * G[i]!;
          graft[i] = mhat[i]! / (Math.sqrt(A[i]!) + ADAGRAD_GRAFT_EPS);
        }
      } else if (grafting === 'adam') {
        const A = buf(state, 'A');
        const bcA = 1 - Math.pow(ADAM_GRAFT_BETA2, t);
        graft = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          A[i] = ADAM_GRAFT_BETA2 * A[i]! + (1 - ADAM_GRAFT_BETA2) * G[i]! * G[i]!;
          graft[i] = mhat[i]! / (Math.sqrt(A[i]! / bcA) + ADAM_GRAFT_EPS);
        }
      }

      // 5. The preconditioned direction, rescaled to the grafted one's norm.
      let P: Float64Array;
      if (t >= start && state.rootsReady) {
        P = mhat;
        if (useLeft) P = matmul(buf(state, 'Lroot'), P, rows, rows, cols);
        if (useRight) P = matmul(P, buf(state, 'Rroot'), rows, cols, cols);
        if (graft !== null) {
          const scale = frobenius(graft) / (frobenius(P) + 1e-16);
          P = P.map((x) => scale * x);
        }
      } else {
        P = graft ?? mhat;
      }

      // 6. Decoupled decay, then the step.
      decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      for (let i = 0; i < n; i++) w[i] = w[i]! - lr * P[i]!;
    },
  };
}
