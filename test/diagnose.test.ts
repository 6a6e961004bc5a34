// Issue 5, "Diagnostics (seed 002)": src/train/diagnose.ts.
//
// The inequality ‖∇ₓf‖²·Σ_t (1 + ‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖₂²‖∇ₓh⁽ᵗ⁾‖₂²) ≤ ‖∇_θf‖² is checked on a small
// random MLP (20-16-12-5), on an untrained default-shaped one (784-256-256-10, He init, an
// "image" in [0, 1]) and on a small MLP trained by SGD on a separable task. Holding is not
// enough (a wrong side can still hold), so every ingredient is also recomputed independently:
//   - ∇ₓf and ∇_θf against central finite differences of a separate float64 forward pass
//     (every coordinate on the small nets, random coordinates and directions on the large one);
//   - the Jacobians ∇ₓh⁽ᵗ⁾ against finite-difference Jacobians, their spectral norms and ‖W⁽ᵗ⁾‖₂
//     against the reference one-sided Jacobi SVD (float64) and the native LAPACK SVD (float32);
//   - lhs and rhs against the same formula evaluated on those independent quantities.
// And on a network built so that the inequality is an equality (every term tight), ratio = 1 to
// 1e-12: the Frobenius norm in place of a spectral norm, a dropped "1 +", a missing bias gradient
// or a 1e-6 underestimate of a spectral norm each moves the ratio visibly off 1, or makes
// `holds` false (the "would-be bugs" test evaluates those variants).
//
// Finite differences: step 1e-6 in float64; truncation O(step²·f''') and rounding
// O(1e-16·|f|/step) are both far below the 1e-7 tolerance, provided no ReLU pre-activation lies
// within the step of its kink — asserted (min |z| > 1e-4) before each comparison.

import { describe, expect, it } from 'vitest';

import { Matrix, createOptimizer, singularValues } from '../src/index.js';
import { svd as refSvd } from '../src/reference/index.js';
import {
  HOLDS_RTOL,
  diagnoseSpectralNorms,
  formatPenaltyCheck,
  formatSpectralNorms,
  gradientPenaltyCheck,
  inputJacobians,
  mlpGradients,
  spectralNorm64,
  type DenseLayer,
  type PenaltyCheck,
} from '../src/train/diagnose.js';
import { rng } from './reference-helpers.js';

// ---------------------------------------------------------------- independent float64 model

interface Params64 {
  W: Float64Array[];
  b: Float64Array[];
  shapes: [number, number][];
}

function params64(layers: DenseLayer[]): Params64 {
  return {
    W: layers.map((l) => Float64Array.from(l.W.data)),
    b: layers.map((l) => Float64Array.from(l.b)),
    shapes: layers.map((l) => [l.W.rows, l.W.cols]),
  };
}

/** Pre-activations of every layer (z⁽ᵗ⁺¹⁾ = W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾), written independently of diagnose.ts. */
function preActivations(p: Params64, x: ArrayLike<number>): number[][] {
  const zs: number[][] = [];
  let h = Array.from(x);
  p.shapes.forEach(([rows, cols], t) => {
    const z = Array.from({ length: rows }, (_, i) =>
      h.reduce((s, hj, j) => s + p.W[t][i * cols + j] * hj, p.b[t][i]),
    );
    zs.push(z);
    h = z.map((v) => Math.max(v, 0));
  });
  return zs;
}

/** h⁽ᵗ⁾ for t = 1..L (h⁽¹⁾ = x). */
function layerInputs(p: Params64, x: ArrayLike<number>): number[][] {
  const zs = preActivations(p, x);
  return [Array.from(x), ...zs.slice(0, -1).map((z) => z.map((v) => Math.max(v, 0)))];
}

/**
 * Softmax cross-entropy as log(1 + Σ_{j≠y} exp(z_j − z_y)) (log1p when z_y is the largest), so that
 * its rounding error is relative to its value: finite differences then resolve the small
 * gradients of confidently classified samples as well.
 */
function loss64(p: Params64, x: ArrayLike<number>, label: number): number {
  const zs = preActivations(p, x);
  const logits = zs[zs.length - 1];
  const zy = logits[label];
  const m = Math.max(...logits);
  if (m === zy) return Math.log1p(logits.reduce((s, v, j) => (j === label ? s : s + Math.exp(v - zy)), 0));
  return m - zy + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
}

const STEP = 1e-6;
const FD_TOL = 1e-7;

function minHiddenAbsPreactivation(p: Params64, x: ArrayLike<number>): number {
  const zs = preActivations(p, x).slice(0, -1);
  return Math.min(...zs.flat().map(Math.abs));
}

/** Central difference of g at v along coordinate i (v is restored). */
function centralDiff(v: Float64Array, i: number, g: () => number): number {
  const saved = v[i];
  v[i] = saved + STEP;
  const plus = g();
  v[i] = saved - STEP;
  const minus = g();
  v[i] = saved;
  return (plus - minus) / (2 * STEP);
}

/** Finite-difference gradients: every coordinate of x and of every W and b. */
function fdGradients(layers: DenseLayer[], x: Float32Array, label: number) {
  const p = params64(layers);
  const x64 = Float64Array.from(x);
  const f = () => loss64(p, x64, label);
  return {
    gradX: Float64Array.from(x64, (_, i) => centralDiff(x64, i, f)),
    gradW: p.W.map((w) => Float64Array.from(w, (_, i) => centralDiff(w, i, f))),
    gradB: p.b.map((b) => Float64Array.from(b, (_, i) => centralDiff(b, i, f))),
  };
}

/** Finite-difference Jacobian of h⁽ᵗ⁾ (t ≥ 2) with respect to x: rows × n_1. */
function fdJacobian(layers: DenseLayer[], x: Float32Array, t: number): { rows: number; cols: number; data: Float64Array } {
  const p = params64(layers);
  const x64 = Float64Array.from(x);
  const rows = layers[t - 2].W.rows;
  const cols = x.length;
  const data = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    const saved = x64[j];
    x64[j] = saved + STEP;
    const plus = layerInputs(p, x64)[t - 1];
    x64[j] = saved - STEP;
    const minus = layerInputs(p, x64)[t - 1];
    x64[j] = saved;
    for (let i = 0; i < rows; i++) data[i * cols + j] = (plus[i] - minus[i]) / (2 * STEP);
  }
  return { rows, cols, data };
}

const sq = (v: ArrayLike<number>): number => Array.from(v).reduce((s, a) => s + a * a, 0);
const refSigma = (a: { rows: number; cols: number; data: ArrayLike<number> }): number =>
  refSvd({ rows: a.rows, cols: a.cols, data: Float64Array.from(a.data) }).S[0] ?? 0;
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const relDiff = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

// ---------------------------------------------------------------- networks

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** He-initialised MLP: W ~ N(0, 2/fan_in), b ~ biasScale·N(0, 1). */
function randomMlp(sizes: number[], seed: number, biasScale = 0.1): DenseLayer[] {
  const rand = rng(seed);
  return sizes.slice(1).map((out, t) => {
    const W = Matrix.randn(out, sizes[t], seed * 100 + t);
    const s = Math.sqrt(2 / sizes[t]);
    for (let i = 0; i < W.data.length; i++) W.data[i] *= s;
    return { W, b: Float32Array.from({ length: out }, () => biasScale * gaussian(rand)) };
  });
}

/**
 * A 6-5-4-2 network on which every term of the inequality is an equality (see the proof in
 * diagnose.ts: each term is tight iff ∇ₓf = Jᵀ Wᵀ δ attains ‖J‖₂‖W‖₂‖δ‖ — here δ is along W's top
 * left singular vector and Wᵀδ along J's top left singular vector). Layer t maps e_0 to
 * s_t·e_0 (unit 0 stays active) and acts on the other coordinates through a small block E_t;
 * the output layer is (1,−1)ᵀ(α,0,0,0) + (1,1)ᵀ(0,β), and for two classes δ = p − e_y is always
 * ∥ (1,−1). The blocks make every matrix full-rank, so ‖·‖_F ≠ ‖·‖₂ throughout.
 */
function tightMlp(seed: number): { layers: DenseLayer[]; x: Float32Array } {
  const rand = rng(seed);
  const small = () => 0.3 * (2 * rand() - 1);
  const block = (rows: number, cols: number, s: number): DenseLayer => {
    const W = new Matrix(rows, cols);
    W.set(0, 0, s);
    for (let i = 1; i < rows; i++) for (let j = 1; j < cols; j++) W.set(i, j, small());
    const b = Float32Array.from({ length: rows }, (_, i) => (i === 0 ? 0.5 : small()));
    return { W, b };
  };
  const alpha = 1.7;
  const beta = [0.4, -0.3, 0.2];
  const out = new Matrix(2, 4);
  out.set(0, 0, alpha);
  out.set(1, 0, -alpha);
  beta.forEach((v, j) => {
    out.set(0, j + 1, v);
    out.set(1, j + 1, v);
  });
  const layers = [block(5, 6, 2), block(4, 5, 1.5), { W: out, b: new Float32Array([0.1, -0.2]) }];
  const x = Float32Array.from({ length: 6 }, (_, i) => (i === 0 ? 1 : rand()));
  return { layers, x };
}

// ---------------------------------------------------------------- the checks

/** Everything about one sample: inequality, FD gradients, Jacobians, norms, both sides. */
function fullCheck(layers: DenseLayer[], x: Float32Array, label: number): PenaltyCheck {
  const p = params64(layers);
  expect(minHiddenAbsPreactivation(p, x)).toBeGreaterThan(1e-4); // no kink within the FD step

  const c = gradientPenaltyCheck(layers, x, label);
  expect(c.holds).toBe(true);
  expect(c.ratio).toBeGreaterThan(0);
  expect(c.ratio).toBeLessThanOrEqual(1 + HOLDS_RTOL);
  for (const term of c.terms) expect(term.ratio).toBeLessThanOrEqual(1 + HOLDS_RTOL);
  expect(c.loss).toBeCloseTo(loss64(p, x, label), 12);

  // Backward pass vs finite differences, every coordinate.
  const g = mlpGradients(layers, x, label);
  const fd = fdGradients(layers, x, label);
  expect(maxAbsDiff(g.gradX, fd.gradX)).toBeLessThan(FD_TOL);
  layers.forEach((_, t) => {
    expect(maxAbsDiff(g.gradW[t], fd.gradW[t])).toBeLessThan(FD_TOL);
    expect(maxAbsDiff(g.delta[t], fd.gradB[t])).toBeLessThan(FD_TOL);
  });

  // Jacobians vs finite differences; every spectral norm vs the reference SVD.
  const J = inputJacobians(layers, x);
  const hs = layerInputs(p, x);
  let sum = 0;
  layers.forEach((layer, t) => {
    const term = c.terms[t];
    expect(term.layer).toBe(t + 1);
    const sigmaW = refSigma(layer.W);
    expect(relDiff(term.weightNorm, sigmaW)).toBeLessThan(1e-12);
    expect(relDiff(term.weightNorm, singularValues(layer.W)[0])).toBeLessThan(1e-5);
    let sigmaJ = 1;
    if (t > 0) {
      const Jfd = fdJacobian(layers, x, t + 1);
      expect(maxAbsDiff(J[t].data, Jfd.data)).toBeLessThan(FD_TOL);
      sigmaJ = refSigma(Jfd);
      expect(relDiff(term.jacobianNorm, refSigma(J[t]))).toBeLessThan(1e-12);
    } else {
      expect(term.jacobianNorm).toBe(1);
    }
    expect(relDiff(term.jacobianNorm, sigmaJ)).toBeLessThan(1e-6);
    const h2 = sq(hs[t]);
    expect(relDiff(term.hNorm, Math.sqrt(h2))).toBeLessThan(1e-12);
    expect(relDiff(term.gradWNorm ** 2, sq(fd.gradW[t]))).toBeLessThan(1e-6);
    expect(relDiff(term.gradBNorm ** 2, sq(fd.gradB[t]))).toBeLessThan(1e-6);
    sum += (1 + h2) / (sigmaW ** 2 * sigmaJ ** 2);
  });

  // Both sides from the independent quantities.
  const lhs = sq(fd.gradX) * sum;
  const rhs = fd.gradW.reduce((s, w) => s + sq(w), 0) + fd.gradB.reduce((s, b) => s + sq(b), 0);
  expect(relDiff(c.lhs, lhs)).toBeLessThan(1e-5);
  expect(relDiff(c.rhs, rhs)).toBeLessThan(1e-6);
  expect(relDiff(c.ratio, c.lhs / c.rhs)).toBeLessThan(1e-15);
  expect(relDiff(c.lhs, c.terms.reduce((s, t) => s + t.lhs, 0))).toBeLessThan(1e-14);
  expect(relDiff(c.rhs, c.terms.reduce((s, t) => s + t.rhs, 0))).toBeLessThan(1e-14);
  return c;
}

describe('gradientPenaltyCheck', () => {
  it('small random MLP 20-16-12-5: holds, and both sides match an independent computation', () => {
    const layers = randomMlp([20, 16, 12, 5], 7);
    const rand = rng(70);
    for (let s = 0; s < 3; s++) {
      const x = Float32Array.from({ length: 20 }, () => gaussian(rand));
      fullCheck(layers, x, s % 5);
    }
  });

  it('tight network: every term is an equality, ratio = 1 to 1e-12', () => {
    const { layers, x } = tightMlp(3);
    for (const label of [0, 1]) {
      const c = fullCheck(layers, x, label);
      expect(Math.abs(c.ratio - 1)).toBeLessThan(1e-12);
      for (const term of c.terms) expect(Math.abs(term.ratio - 1)).toBeLessThan(1e-12);
    }
  });

  it('would-be bugs: each wrong side is caught by the tight network or by holds', () => {
    const { layers, x } = tightMlp(3);
    const c = gradientPenaltyCheck(layers, x, 0);
    const J = inputJacobians(layers, x);
    const gx2 = c.gradXNorm ** 2;
    const frob = (a: { data: ArrayLike<number> }) => Math.sqrt(sq(a.data));
    const ratioOf = (termLhs: (t: (typeof c.terms)[number], i: number) => number, termRhs = (t: (typeof c.terms)[number]) => t.rhs) =>
      c.terms.reduce((s, t, i) => s + termLhs(t, i), 0) / c.terms.reduce((s, t) => s + termRhs(t), 0);
    const correct = ratioOf((t) => (gx2 * (1 + t.hNorm ** 2)) / (t.weightNorm ** 2 * t.jacobianNorm ** 2));
    expect(Math.abs(correct - 1)).toBeLessThan(1e-12);
    const holds = (ratio: number) => ratio <= 1 + HOLDS_RTOL;

    // Frobenius instead of spectral, for W or for the Jacobian: too loose (ratio well below 1).
    const frobW = ratioOf((t, i) => (gx2 * (1 + t.hNorm ** 2)) / (frob(layers[i].W) ** 2 * t.jacobianNorm ** 2));
    const frobJ = ratioOf((t, i) => (gx2 * (1 + t.hNorm ** 2)) / (t.weightNorm ** 2 * frob(J[i]) ** 2));
    expect(frobW).toBeLessThan(0.95);
    expect(frobJ).toBeLessThan(0.95);
    // Dropping the "1 +" on the left: too loose.
    expect(ratioOf((t) => (gx2 * t.hNorm ** 2) / (t.weightNorm ** 2 * t.jacobianNorm ** 2))).toBeLessThan(0.95);
    // Forgetting the bias gradients on the right: violated.
    expect(holds(ratioOf((t) => t.lhs, (t) => t.gradWNorm ** 2))).toBe(false);
    // Dropping the "1 +" on the right only (‖h‖² alone): violated.
    expect(holds(ratioOf((t) => t.lhs, (t) => t.deltaNorm ** 2 * t.hNorm ** 2))).toBe(false);
    // ‖W‖₂ underestimated by 1e-6 relative (say, an unconverged power iteration): violated.
    expect(holds(ratioOf((t) => (gx2 * (1 + t.hNorm ** 2)) / ((t.weightNorm * (1 - 1e-6)) ** 2 * t.jacobianNorm ** 2)))).toBe(false);
    // The native power iteration with 2 rounds is such an underestimate on this network.
    const power = diagnoseSpectralNorms(layers, { iters: 2 });
    expect(power.some((r) => r.relativeError > 1e-6)).toBe(true);
    expect(holds(ratioOf((t, i) => (gx2 * (1 + t.hNorm ** 2)) / (power[i].power ** 2 * t.jacobianNorm ** 2)))).toBe(false);
  });

  it('untrained 784-256-256-10 (He init, image in [0, 1]): holds; gradients and Jacobians match finite differences', () => {
    const layers = randomMlp([784, 256, 256, 10], 11, 0);
    const p = params64(layers);
    const rand = rng(110);
    for (let s = 0; s < 2; s++) {
      const x = Float32Array.from({ length: 784 }, () => rand());
      const label = 3 + 4 * s;
      expect(minHiddenAbsPreactivation(p, x)).toBeGreaterThan(1e-6);
      const c = gradientPenaltyCheck(layers, x, label);
      expect(c.holds).toBe(true);
      expect(c.ratio).toBeGreaterThan(1e-3);
      expect(c.ratio).toBeLessThan(1);
      for (const term of c.terms) expect(term.ratio).toBeLessThanOrEqual(1);

      const g = mlpGradients(layers, x, label);
      const x64 = Float64Array.from(x);
      const f = () => loss64(p, x64, label);
      // 15 random coordinates of x and of each W and b.
      for (let k = 0; k < 15; k++) {
        const i = Math.floor(rand() * 784);
        expect(Math.abs(centralDiff(x64, i, f) - g.gradX[i])).toBeLessThan(FD_TOL);
        layers.forEach((_, t) => {
          const wi = Math.floor(rand() * p.W[t].length);
          expect(Math.abs(centralDiff(p.W[t], wi, f) - g.gradW[t][wi])).toBeLessThan(FD_TOL);
          const bi = Math.floor(rand() * p.b[t].length);
          expect(Math.abs(centralDiff(p.b[t], bi, f) - g.delta[t][bi])).toBeLessThan(FD_TOL);
        });
      }
      // Random unit directions through all of θ and x together: checks every gradient entry at
      // once. Step 1e-5 along a unit vector; no ReLU may switch between the two evaluations.
      const pattern = () => preActivations(p, x64).slice(0, -1).flat().map((v) => v > 0).join();
      const base = pattern();
      for (let k = 0; k < 3; k++) {
        const all = [...p.W, ...p.b, x64];
        const dirs = all.map((v) => Float64Array.from(v, () => gaussian(rand)));
        const norm = Math.sqrt(dirs.reduce((s, d) => s + sq(d), 0));
        dirs.forEach((d) => d.forEach((v, i) => (d[i] = v / norm)));
        const grads = [...g.gradW, ...g.delta, g.gradX];
        const h = 1e-5;
        const shift = (sign: number) => all.forEach((v, a) => v.forEach((_, i) => (v[i] += sign * h * dirs[a][i])));
        shift(1);
        const plus = f();
        expect(pattern()).toBe(base);
        shift(-2);
        const minus = f();
        expect(pattern()).toBe(base);
        shift(1);
        const directional = grads.reduce((s, gr, a) => s + gr.reduce((u, gi, i) => u + gi * dirs[a][i], 0), 0);
        expect(Math.abs((plus - minus) / (2 * h) - directional)).toBeLessThan(1e-8);
      }
      // Jacobians: 12 random columns by finite differences; norms vs the native SVD of float32 copies.
      const J = inputJacobians(layers, x);
      for (let t = 1; t < 3; t++) {
        for (let k = 0; k < 12; k++) {
          const j = Math.floor(rand() * 784);
          const saved = x64[j];
          x64[j] = saved + STEP;
          const plus = layerInputs(p, x64)[t];
          x64[j] = saved - STEP;
          const minus = layerInputs(p, x64)[t];
          x64[j] = saved;
          for (let i = 0; i < plus.length; i++) {
            expect(Math.abs((plus[i] - minus[i]) / (2 * STEP) - J[t].data[i * 784 + j])).toBeLessThan(FD_TOL);
          }
        }
        const native = singularValues(Matrix.from(J[t].rows, J[t].cols, J[t].data))[0];
        expect(relDiff(c.terms[t].jacobianNorm, native)).toBeLessThan(1e-5);
      }
      layers.forEach((l, t) => expect(relDiff(c.terms[t].weightNorm, singularValues(l.W)[0])).toBeLessThan(1e-5));
    }
  });

  it('trained 20-16-12-3 (SGD on a separable task): holds; both sides match an independent computation', () => {
    const rand = rng(5);
    const centers = Array.from({ length: 3 }, () => Float64Array.from({ length: 20 }, () => 2 * gaussian(rand)));
    const sample = (): [Float32Array, number] => {
      const label = Math.floor(rand() * 3);
      return [Float32Array.from(centers[label], (c) => c + 0.5 * gaussian(rand)), label];
    };
    const train = Array.from({ length: 300 }, sample);
    const test = Array.from({ length: 50 }, sample);
    const layers = randomMlp([20, 16, 12, 3], 9);
    const initial = layers.map((l) => Float32Array.from(l.W.data));
    const meanLoss = (set: [Float32Array, number][]) => set.reduce((s, [x, y]) => s + mlpGradients(layers, x, y).loss, 0) / set.length;
    const accuracy = (set: [Float32Array, number][]) =>
      set.filter(([x, y]) => {
        const z = mlpGradients(layers, x, y).logits;
        return z.indexOf(Math.max(...z)) === y;
      }).length / set.length;
    const lossBefore = meanLoss(train);

    const opt = createOptimizer('sgd', { lr: 0.05, momentum: 0.9 });
    const params = layers.flatMap((l) => [l.W, new Matrix(1, l.b.length, l.b)]);
    const states = params.map((m) => opt.init(m));
    const grads = params.map((m) => new Matrix(m.rows, m.cols));
    for (let step = 0; step < 200; step++) {
      grads.forEach((g) => g.data.fill(0));
      for (let k = 0; k < 16; k++) {
        const [x, y] = train[(step * 16 + k) % train.length];
        const g = mlpGradients(layers, x, y);
        layers.forEach((_, t) => {
          g.gradW[t].forEach((v, i) => (grads[2 * t].data[i] += v / 16));
          g.delta[t].forEach((v, i) => (grads[2 * t + 1].data[i] += v / 16));
        });
      }
      params.forEach((m, i) => opt.step(m, grads[i], states[i]));
    }
    expect(meanLoss(train)).toBeLessThan(0.1 * lossBefore);
    expect(accuracy(test)).toBeGreaterThanOrEqual(0.95);
    layers.forEach((l, t) => expect(relDiff(spectralNorm64(l.W), spectralNorm64({ rows: l.W.rows, cols: l.W.cols, data: initial[t] }))).toBeGreaterThan(0.05));

    let checked = 0;
    for (const [x, y] of test) {
      if (minHiddenAbsPreactivation(params64(layers), x) <= 1e-4) continue;
      fullCheck(layers, x, y);
      // A misclassified label too: a different f, same network.
      fullCheck(layers, x, (y + 1) % 3);
      if (++checked === 4) break;
    }
    expect(checked).toBe(4);
  });

  it('a dead network (every ReLU off): ∇ₓf = 0, each term 0, holds', () => {
    const layers = randomMlp([5, 4, 3], 2);
    layers[0].b.fill(-100);
    const c = gradientPenaltyCheck(layers, new Float32Array(5).fill(0.1), 1);
    expect(c.gradXNorm).toBe(0);
    expect(c.lhs).toBe(0);
    expect(c.rhs).toBeGreaterThan(0);
    expect(c.terms[1].jacobianNorm).toBe(0);
    expect(c.holds).toBe(true);
  });
});

describe('diagnoseSpectralNorms', () => {
  it('power iteration vs SVD per layer', () => {
    const layers = randomMlp([784, 256, 256, 10], 11, 0);
    const rows = diagnoseSpectralNorms(layers);
    expect(rows.map((r) => [r.layer, r.rows, r.cols])).toEqual([[1, 256, 784], [2, 256, 256], [3, 10, 256]]);
    rows.forEach((r, t) => {
      expect(r.svd).toBe(singularValues(layers[t].W)[0]);
      expect(relDiff(r.svd, spectralNorm64(layers[t].W))).toBeLessThan(1e-5);
      expect(r.power).toBeLessThanOrEqual(r.svd * (1 + 1e-5));
      expect(r.relativeError).toBeCloseTo((r.svd - r.power) / r.svd, 15);
      expect(r.relativeError).toBeGreaterThan(-1e-5);
      expect(r.relativeError).toBeLessThan(0.2);
    });
    // More rounds, smaller error.
    const more = diagnoseSpectralNorms(layers, { iters: 200 });
    more.forEach((r, t) => expect(r.relativeError).toBeLessThanOrEqual(rows[t].relativeError + 1e-6));
    // A large spectral gap: converged to float32 accuracy in 10 rounds.
    const W = Matrix.randn(30, 20, 1);
    for (let j = 0; j < 20; j++) W.data[j] += 20;
    const [r] = diagnoseSpectralNorms([{ W, b: new Float32Array(30) }]);
    expect(Math.abs(r.relativeError)).toBeLessThan(1e-5);
  });
});

describe('spectralNorm64', () => {
  it('matches the reference one-sided Jacobi SVD to 1e-12 on awkward shapes and scales', () => {
    const rand = rng(1);
    const cases: { rows: number; cols: number; data: Float64Array }[] = [];
    for (const [r, c] of [[1, 1], [1, 9], [9, 1], [7, 7], [30, 12], [12, 30], [40, 40]]) {
      cases.push({ rows: r, cols: c, data: Float64Array.from({ length: r * c }, () => gaussian(rand)) });
    }
    // Rank one, a repeated top singular value, scales 1e-30 and 1e30.
    cases.push({ rows: 6, cols: 4, data: Float64Array.from({ length: 24 }, (_, k) => (Math.floor(k / 4) + 1) * ((k % 4) - 1.5)) });
    cases.push({ rows: 5, cols: 5, data: Float64Array.from({ length: 25 }, (_, k) => (k % 6 === 0 ? (k < 12 ? 3 : 1) : 0)) });
    for (const s of [1e-30, 1e30]) cases.push({ rows: 8, cols: 5, data: cases[4].data.subarray(0, 40).map((v) => v * s) });
    for (const a of cases) expect(relDiff(spectralNorm64(a), refSigma(a))).toBeLessThan(1e-12);
    expect(spectralNorm64({ rows: 3, cols: 2, data: new Float64Array(6) })).toBe(0);
  });

  it('is finite when a Gram column holds only tiny leftovers (dead ReLU rows of a trained net gave NaN)', () => {
    // G = A·Aᵀ has G[1][0] = 1e-160 and G[2][0] = 0: vᵀv of the unscaled Householder vector
    // underflowed (4e-320) and β = 2/vᵀv was infinite.
    for (const tiny of [1e-160, 3e-155, 1e-200]) {
      const a = { rows: 3, cols: 3, data: Float64Array.of(1, 0, 0, tiny, 1, 0, 0, 0, 1) };
      expect(relDiff(spectralNorm64(a), refSigma(a))).toBeLessThan(1e-12);
      // The same with a dominant third row, and as a wide matrix.
      const b = { rows: 3, cols: 4, data: Float64Array.of(1, 0, 0, 0, tiny, 1, 0, 0, 0, 0, 5, 1) };
      expect(relDiff(spectralNorm64(b), refSigma(b))).toBeLessThan(1e-12);
    }
  });
});

describe('validation', () => {
  const layers = randomMlp([20, 16, 12, 5], 7);
  const x = new Float32Array(20);
  it('names the argument and gives the expected and the actual shape', () => {
    const bad = [layers[0], { W: new Matrix(12, 15), b: new Float32Array(12) }, layers[2]];
    expect(() => gradientPenaltyCheck(bad, x, 0)).toThrow(RangeError);
    expect(() => gradientPenaltyCheck(bad, x, 0)).toThrow(/layers\[1\]\.W must have 16 columns.*got 12x15/);
    expect(() => diagnoseSpectralNorms(bad)).toThrow(/diagnoseSpectralNorms: layers\[1\]\.W must have 16 columns/);
    expect(() => gradientPenaltyCheck([{ W: layers[0].W, b: new Float32Array(3) }], x, 0)).toThrow(
      /layers\[0\]\.b must have length 16 \(W is 16x20\), got 3/,
    );
    expect(() => gradientPenaltyCheck(layers, new Float32Array(19), 0)).toThrow(/x must have length 20.*got 19/);
    expect(() => gradientPenaltyCheck(layers, x, 5)).toThrow(RangeError);
    expect(() => gradientPenaltyCheck(layers, x, 5)).toThrow(/label must be an integer in \[0, 4\].*got 5/);
    expect(() => gradientPenaltyCheck(layers, x, -1)).toThrow(/label.*got -1/);
    expect(() => gradientPenaltyCheck(layers, x, 1.5)).toThrow(RangeError);
    expect(() => gradientPenaltyCheck(layers, x, '1' as unknown as number)).toThrow(TypeError);
    expect(() => gradientPenaltyCheck(layers, [0, 1] as unknown as Float32Array, 0)).toThrow(TypeError);
    expect(() => gradientPenaltyCheck(layers, x.map(() => NaN), 0)).toThrow(/x contains NaN/);
    expect(() => gradientPenaltyCheck([], x, 0)).toThrow(/at least one layer/);
    expect(() => gradientPenaltyCheck({} as unknown as DenseLayer[], x, 0)).toThrow(TypeError);
    expect(() => gradientPenaltyCheck([{ W: { rows: 2, cols: 2, data: [1, 2, 3, 4] } as never, b: new Float32Array(2) }], x, 0)).toThrow(
      /layers\[0\]\.W\.data must be a Float32Array/,
    );
    expect(() => gradientPenaltyCheck([{ W: layers[0].W, b: [1] as never }], x, 0)).toThrow(/layers\[0\]\.b must be a Float32Array/);
    expect(() => diagnoseSpectralNorms(layers, { iters: -1 })).toThrow(/opts\.iters/);
    expect(() => diagnoseSpectralNorms(layers, { iter: 5 } as never)).toThrow(/unknown option 'iter'/);
    expect(() => inputJacobians(layers, new Float32Array(3))).toThrow(/inputJacobians: x must have length 20/);
    expect(() => mlpGradients(layers, x, 9)).toThrow(/mlpGradients: label/);
  });
});

describe('formatting', () => {
  it('prints both sides, the ratio and the per-layer numbers', () => {
    const layers = randomMlp([20, 16, 12, 5], 7);
    const c = gradientPenaltyCheck(layers, new Float32Array(20).fill(0.5), 2);
    const lines = formatPenaltyCheck(c, 'test #0');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^test #0: .* = [0-9.e+-]+ +≤ +‖∇_θf‖² = [0-9.e+-]+ +ratio [0-9.e+-]+ +holds$/);
    expect(lines[0]).toContain(c.ratio.toPrecision(6));
    expect(formatSpectralNorms(diagnoseSpectralNorms(layers))[2]).toMatch(/^layer 3 \(5x12\): ‖W‖₂ power .* svd .* rel\. error /);
  });
});
