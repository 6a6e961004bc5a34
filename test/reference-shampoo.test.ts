// Pins down the float64 reference inverseRoot (src/reference/inverseRoot.ts) and the reference
// Shampoo / Shampoo² rules (src/reference/optim/shampoo.ts) against ALGORITHMS.md, without
// comparing the code with itself: expected values come from properties (R^p·(S + εI) = I, exact
// symmetry), diagonal or rank-1 matrices worked by hand, known closed forms of the first step
// (Shampoo's first step from zero statistics with β₂ = 1 is the polar factor of G, Shampoo²'s is
// G^{−T}), and bookkeeping facts (which steps refresh the roots, which sides are kept).

import { describe, it, expect } from 'vitest';
import { dense, identity, transpose, type Dense } from '../src/reference/dense.js';
import { inverseRoot } from '../src/reference/inverseRoot.js';
import { REFERENCE_OPTIMIZERS, referenceOptimizer, type RefState } from '../src/reference/optim/index.js';
import { mul, randomDense, rng } from './reference-helpers.js';

// ---------------------------------------------------------------- helpers




function diag(d: number[]): Dense {
  const n = d.length;
  const out = dense(n, n);
  d.forEach((x, i) => (out.data[i * n + i] = x));
  return out;
}

function plusEps(s: Dense, eps: number): Dense {
  const out = dense(s.rows, s.cols, s.data);
  for (let i = 0; i < s.rows; i++) out.data[i * s.cols + i] = out.data[i * s.cols + i]! + eps;
  return out;
}

function power(r: Dense, p: number): Dense {
  let out = identity(r.rows);
  for (let k = 0; k < p; k++) out = mul(out, r);
  return out;
}

const frob = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));

/** |a_i − b_i| ≤ tol·max(1, |b_i|) for every i. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    expect(d, `entry ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  }
}

/** A random SPD matrix A·Aᵀ + shift·I. */
function randomSpd(n: number, rand: () => number, shift = 0.5): Dense {
  const a = randomDense(n, n, rand);
  return plusEps(mul(a, transpose(a)), shift);
}

/** The complete hyperparameters (distributed_shampoo defaults plus the common options), overridden. */
function hyper(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    lr: 1e-2,
    betas: [0.9, 1.0],
    eps: 1e-12,
    preconditionFrequency: 1,
    startPreconditioningStep: null,
    grafting: 'none',
    maxPreconditionerDim: 1024,
    weightDecay: 0,
    weightDecayNorm: 'frobenius',
    spectralIters: 10,
    spectralWarmStart: false,
    spectralPenalty: 0,
    nonFinite: 'throw',
    ...over,
  };
}

/** Runs `name` on the gradients; returns the weights after each step and the final state. */
function run(
  name: string,
  over: Record<string, unknown>,
  w0: Dense,
  grads: Dense[],
): { ws: Float64Array[]; deltas: Float64Array[]; state: RefState; states: RefState[] } {
  const opt = referenceOptimizer(name, hyper(over));
  const state = opt.init(w0.rows, w0.cols);
  const w = Float64Array.from(w0.data);
  const ws: Float64Array[] = [];
  const deltas: Float64Array[] = [];
  const states: RefState[] = [];
  for (const g of grads) {
    const before = Float64Array.from(w);
    opt.step(w, g.data, w0.rows, w0.cols, state);
    ws.push(Float64Array.from(w));
    deltas.push(w.map((x, i) => x - before[i]!));
    states.push(structuredClone(state));
  }
  return { ws, deltas, state, states };
}

const lr = 1e-2;

// ---------------------------------------------------------------- inverseRoot

describe('reference inverseRoot', () => {
  it('R^p·(S + εI) = I for SPD S, p = 1, 2, 4, and R is exactly symmetric', () => {
    const rand = rng(1);
    for (const n of [1, 2, 5, 8]) {
      for (const p of [1, 2, 4]) {
        const s = randomSpd(n, rand);
        const eps = 1e-3;
        const r = inverseRoot(s, p, { eps });
        expectClose(mul(power(r, p), plusEps(s, eps)).data, identity(n).data, 1e-11);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(r.data[i * n + j]).toBe(r.data[j * n + i]);
      }
    }
  });

  it('diagonal S by hand, with ε and non-integer p', () => {
    const eps = 1e-2;
    const r2 = inverseRoot(diag([4, 9, 16]), 2, { eps });
    expectClose(r2.data, diag([1 / Math.sqrt(4 + eps), 1 / Math.sqrt(9 + eps), 1 / Math.sqrt(16 + eps)]).data, 1e-14);
    const r4 = inverseRoot(diag([16, 81]), 4);
    expectClose(r4.data, diag([1 / 2, 1 / 3]).data, 1e-12); // default ε = 1e-12
    const r3 = inverseRoot(diag([8, 27]), 3, { eps: 1e-300 });
    expectClose(r3.data, diag([1 / 2, 1 / 3]).data, 1e-14);
    const r15 = inverseRoot(diag([4, 9]), 1.5, { eps: 1e-300 });
    expectClose(r15.data, diag([4 ** (-2 / 3), 9 ** (-2 / 3)]).data, 1e-14);
  });

  it('floors the eigenvalues of S + εI at ε: singular and indefinite S', () => {
    // S = u·uᵀ (rank 1, ‖u‖ = 1): (S + εI)^(−1/2) = (1 + ε)^(−1/2)·uuᵀ + ε^(−1/2)·(I − uuᵀ).
    const eps = 1e-4;
    const u = [1 / 3, 2 / 3, 2 / 3];
    const uu = dense(3, 3, u.flatMap((a) => u.map((b) => a * b)));
    const r = inverseRoot(uu, 2, { eps });
    const expected = uu.data.map((x, k) => x * (1 + eps) ** -0.5 + ((k % 4 === 0 ? 1 : 0) - x) * eps ** -0.5);
    expectClose(r.data, expected, 1e-10);
    // S = diag(1, −3): S + εI = diag(1 + ε, ε − 3) → diag(1 + ε, ε) after the floor.
    expectClose(inverseRoot(diag([1, -3]), 2, { eps }).data, diag([(1 + eps) ** -0.5, eps ** -0.5]).data, 1e-14);
    // The zero matrix: ε^(−1/p)·I, finite.
    expectClose(inverseRoot(dense(3, 3), 4, { eps: 1e-12 }).data, diag([1e3, 1e3, 1e3]).data, 1e-12);
  });

  it('reads only the lower triangle', () => {
    const rand = rng(2);
    const s = randomSpd(4, rand);
    const garbage = dense(4, 4, s.data);
    for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) garbage.data[i * 4 + j] = j === 3 ? NaN : 1e6;
    expect(Array.from(inverseRoot(garbage, 2).data)).toEqual(Array.from(inverseRoot(s, 2).data));
  });

  it('refuses NaN/Inf, non-square input and bad p / eps with a RangeError', () => {
    expect(() => inverseRoot(dense(2, 2, [1, 0, NaN, 1]), 2)).toThrow(RangeError);
    expect(() => inverseRoot(dense(2, 2, [Infinity, 0, 0, 1]), 2)).toThrow(RangeError);
    expect(() => inverseRoot(dense(2, 3), 2)).toThrow(RangeError);
    for (const p of [0, -1, NaN, Infinity]) expect(() => inverseRoot(identity(2), p)).toThrow(RangeError);
    for (const eps of [0, -1, NaN]) expect(() => inverseRoot(identity(2), 2, { eps })).toThrow(RangeError);
    expect(inverseRoot(dense(0, 0), 2).data.length).toBe(0);
  });
});

// ---------------------------------------------------------------- shampoo / shampoo2

describe('reference shampoo and shampoo2', () => {
  it('are registered', () => {
    expect(REFERENCE_OPTIMIZERS).toContain('shampoo');
    expect(REFERENCE_OPTIMIZERS).toContain('shampoo2');
  });

  it('init: buffers by the options', () => {
    const full = referenceOptimizer('shampoo', hyper({ grafting: 'adam' })).init(3, 5);
    expect(Object.keys(full).sort()).toEqual(['A', 'L', 'Lroot', 'M', 'R', 'Rroot', 'rootFailures', 'rootsReady', 'step']);
    expect((full.L as Float64Array).length).toBe(9);
    expect((full.Rroot as Float64Array).length).toBe(25);
    expect((full.M as Float64Array).length).toBe(15);
    expect((full.A as Float64Array).length).toBe(15);
    expect(full.rootsReady).toBe(false);
    expect(full.rootFailures).toBe(0);
    const bare = referenceOptimizer('shampoo2', hyper({ betas: [0, 1], maxPreconditionerDim: 4, grafting: 'sgd' })).init(3, 5);
    expect(Object.keys(bare).sort()).toEqual(['L', 'Lroot', 'rootFailures', 'rootsReady', 'step']);
  });

  it('validates the hyperparameters', () => {
    const make = (over: Record<string, unknown>) => () => referenceOptimizer('shampoo', hyper(over));
    expect(make({ betas: [0.9, 1] })).not.toThrow();
    expect(make({ betas: [0, 0] })).not.toThrow();
    expect(make({ betas: [1, 1] })).toThrow(RangeError);
    expect(make({ betas: [-0.1, 1] })).toThrow(RangeError);
    expect(make({ betas: [0.9, 1.01] })).toThrow(RangeError);
    expect(make({ eps: 0 })).toThrow(RangeError);
    expect(make({ preconditionFrequency: 0 })).toThrow(RangeError);
    expect(make({ preconditionFrequency: 1.5 })).toThrow(RangeError);
    expect(make({ startPreconditioningStep: 0 })).toThrow(RangeError);
    expect(make({ startPreconditioningStep: 2.5 })).toThrow(RangeError);
    expect(make({ startPreconditioningStep: 7 })).not.toThrow();
    expect(make({ maxPreconditionerDim: -1 })).toThrow(RangeError);
    expect(make({ maxPreconditionerDim: 0.5 })).toThrow(RangeError);
    expect(make({ grafting: 'rmsprop' })).toThrow(TypeError);
    const missing = hyper();
    delete missing.grafting;
    expect(() => referenceOptimizer('shampoo2', missing)).toThrow(TypeError);
  });

  it('maxPreconditionerDim 0, grafting none, β₁ = 0: plain SGD, W − lr·G', () => {
    const rand = rng(3);
    const w0 = randomDense(3, 4, rand);
    const grads = Array.from({ length: 4 }, () => randomDense(3, 4, rand));
    for (const name of ['shampoo', 'shampoo2']) {
      const { ws, state } = run(name, { betas: [0, 1], maxPreconditionerDim: 0 }, w0, grads);
      let w = Float64Array.from(w0.data);
      grads.forEach((g, t) => {
        w = w.map((x, i) => x - lr * g.data[i]!);
        expect(Array.from(ws[t]!)).toEqual(Array.from(w));
      });
      expect(state.L).toBeUndefined();
      expect(state.R).toBeUndefined();
    }
  });

  it('first step on a rank-1 G = σ·u·vᵀ (β₂ = 1, β₁ = 0): lr·σ·(σ² + ε)^(−2/p)·uvᵀ', () => {
    const u = [2 / 3, -1 / 3, 2 / 3];
    const v = [0.5, 0.5, -0.5, 0.5];
    const sigma = 3;
    const eps = 1e-2;
    const uv = u.flatMap((a) => v.map((b) => a * b));
    const g = dense(3, 4, uv.map((x) => sigma * x));
    const w0 = dense(3, 4);
    // L = σ²uuᵀ: (L + εI)^(−1/p)·u = (σ² + ε)^(−1/p)·u, and likewise R on v.
    for (const [name, p] of [['shampoo2', 2], ['shampoo', 4]] as const) {
      const { deltas } = run(name, { betas: [0, 1], eps }, w0, [g]);
      const c = sigma * (sigma * sigma + eps) ** (-2 / p);
      expectClose(deltas[0]!, uv.map((x) => -lr * c * x), 1e-12);
    }
  });

  it('first step from zero statistics: Shampoo gives the polar factor of G, Shampoo² gives G^(−T)', () => {
    const rand = rng(4);
    // Square, well conditioned: G = B + 3I.
    const b = randomDense(4, 4, rand);
    const g = plusEps(b, 3);
    const w0 = dense(4, 4);
    const quarter = run('shampoo', { betas: [0, 1] }, w0, [g]).deltas[0]!.map((x) => -x / lr);
    const half = run('shampoo2', { betas: [0, 1] }, w0, [g]).deltas[0]!.map((x) => -x / lr);
    // Polar factor Q: QᵀQ = I and QᵀG symmetric positive definite.
    const q = dense(4, 4, quarter);
    expectClose(mul(transpose(q), q).data, identity(4).data, 1e-10);
    const qtg = mul(transpose(q), g);
    expectClose(qtg.data, transpose(qtg).data, 1e-10);
    // Shampoo²: (GGᵀ)^(−1/2)·G·(GᵀG)^(−1/2) = U·Σ⁻¹·Vᵀ = G^(−T), so Pᵀ·G = I.
    expectClose(mul(transpose(dense(4, 4, half)), g).data, identity(4).data, 1e-10);
    // Rectangular 3×5: the polar factor has orthonormal rows (R's null space meets G only in zeros).
    const g35 = randomDense(3, 5, rand);
    const p35 = dense(3, 5, run('shampoo', { betas: [0, 1] }, dense(3, 5), [g35]).deltas[0]!.map((x) => -x / lr));
    expectClose(mul(p35, transpose(p35)).data, identity(3).data, 1e-8);
  });

  it('diagonal gradients by hand over several steps: P = a_t·(S + ε)^(−2/p), β₂ = 1 and β₂ < 1', () => {
    const a = [1.5, -0.4, 2, 0.7];
    const c = [-0.3, 1.1, 0.2, -2.5];
    const grads = a.map((x, t) => diag([x, c[t]!]));
    const w0 = dense(2, 2, [0.1, 0.2, 0.3, 0.4]);
    const eps = 1e-3;
    for (const beta2 of [1, 0.9, 0]) {
      for (const [name, p] of [['shampoo', 4], ['shampoo2', 2]] as const) {
        const { deltas } = run(name, { betas: [0, beta2], eps }, w0, grads);
        let sa = 0;
        let sc = 0;
        grads.forEach((_, t) => {
          const wt = beta2 === 1 ? 1 : 1 - beta2;
          sa = beta2 * sa + wt * a[t]! ** 2;
          sc = beta2 * sc + wt * c[t]! ** 2;
          const bc = beta2 === 1 ? 1 : 1 - beta2 ** (t + 1);
          const pa = a[t]! * (sa / bc + eps) ** (-2 / p);
          const pc = c[t]! * (sc / bc + eps) ** (-2 / p);
          expectClose(deltas[t]!, [-lr * pa, 0, 0, -lr * pc], 1e-12);
        });
      }
    }
  });

  it('filtered gradient: β₁ > 0 uses M̂ = M/(1 − β₁ᵗ) inside the preconditioner', () => {
    const grads = [diag([2, 1]), diag([-1, 3])];
    const { deltas } = run('shampoo2', { betas: [0.9, 1], eps: 1e-300 }, dense(2, 2), grads);
    // Step 2: M̂ = (0.9·0.1·G₁ + 0.1·G₂)/0.19, L = R = diag(5, 10).
    const mhat = [(0.09 * 2 + 0.1 * -1) / 0.19, (0.09 * 1 + 0.1 * 3) / 0.19];
    expectClose(deltas[1]!, [-lr * mhat[0]! / 5, 0, 0, -lr * mhat[1]! / 10], 1e-12);
  });

  it('shampoo2 and shampoo differ by the exponent: with one kept side, P = (L + εI)^(−1/p)·G', () => {
    // G = [[3,0,0,4,0],[0,1,0,0,0]] (2×5), maxPreconditionerDim 3: L = diag(25, 1) kept, R dropped.
    const g = dense(2, 5, [3, 0, 0, 4, 0, 0, 1, 0, 0, 0]);
    const eps = 1e-6;
    for (const [name, p] of [['shampoo', 4], ['shampoo2', 2]] as const) {
      const { deltas, state } = run(name, { betas: [0, 1], eps, maxPreconditionerDim: 3 }, dense(2, 5), [g]);
      expect(state.R).toBeUndefined();
      expect(state.Rroot).toBeUndefined();
      const f = [(25 + eps) ** (-1 / p), (1 + eps) ** (-1 / p)];
      expectClose(deltas[0]!, Array.from(g.data, (x, k) => -lr * f[Math.floor(k / 5)]! * x), 1e-14);
      // The transposed parameter: R kept, L dropped, P = G·(R + εI)^(−1/p).
      const gt = transpose(g);
      const r = run(name, { betas: [0, 1], eps, maxPreconditionerDim: 3 }, dense(5, 2), [gt]);
      expect(r.state.L).toBeUndefined();
      expectClose(r.deltas[0]!, Array.from(gt.data, (x, k) => -lr * f[k % 2]! * x), 1e-14);
    }
  });

  it('grafting rescales ‖P‖ to ‖P_g‖ and keeps the direction', () => {
    const rand = rng(5);
    const w0 = randomDense(3, 4, rand);
    const grads = Array.from({ length: 3 }, () => randomDense(3, 4, rand));
    for (const name of ['shampoo', 'shampoo2']) {
      const plain = run(name, { betas: [0.9, 1] }, w0, grads).deltas;
      for (const grafting of ['sgd', 'adagrad', 'adam'] as const) {
        const grafted = run(name, { betas: [0.9, 1], grafting }, w0, grads).deltas;
        // P_g by hand.
        let m = new Float64Array(12);
        let acc = new Float64Array(12);
        grads.forEach((g, t) => {
          const step = t + 1;
          m = m.map((x, i) => 0.9 * x + 0.1 * g.data[i]!);
          const mhat = m.map((x) => x / (1 - 0.9 ** step));
          let pg: Float64Array;
          if (grafting === 'sgd') pg = mhat;
          else if (grafting === 'adagrad') {
            acc = acc.map((x, i) => x + g.data[i]! ** 2);
            pg = mhat.map((x, i) => x / (Math.sqrt(acc[i]!) + 1e-10));
          } else {
            acc = acc.map((x, i) => 0.999 * x + 0.001 * g.data[i]! ** 2);
            pg = mhat.map((x, i) => x / (Math.sqrt(acc[i]! / (1 - 0.999 ** step)) + 1e-8));
          }
          const want = plain[t]!.map((x) => (x * lr * frob(pg)) / frob(plain[t]!));
          expectClose(grafted[t]!, want, 1e-12);
        });
      }
    }
  });

  it('before startPreconditioningStep the update is the grafting direction (or M̂ with none)', () => {
    const rand = rng(6);
    const w0 = randomDense(3, 3, rand);
    const grads = Array.from({ length: 3 }, () => randomDense(3, 3, rand));
    // adagrad grafting, β₁ = 0, start 3 (roots are computed every step but not used before t = 3).
    const ada = run('shampoo', { betas: [0, 1], grafting: 'adagrad', startPreconditioningStep: 3 }, w0, grads);
    let acc = new Float64Array(9);
    const pg: Float64Array[] = [];
    for (const g of grads) {
      acc = acc.map((x, i) => x + g.data[i]! ** 2);
      pg.push(g.data.map((x, i) => x / (Math.sqrt(acc[i]!) + 1e-10)));
    }
    expectClose(ada.deltas[0]!, pg[0]!.map((x) => -lr * x), 1e-14);
    expectClose(ada.deltas[1]!, pg[1]!.map((x) => -lr * x), 1e-14);
    expect(ada.states[0]!.rootsReady).toBe(true);
    expect(frob(ada.deltas[2]!)).toBeCloseTo(lr * frob(pg[2]!), 14);
    expect(Math.max(...ada.deltas[2]!.map((x, i) => Math.abs(x + lr * pg[2]![i]!)))).toBeGreaterThan(1e-6);
    // No grafting, β₁ = 0.9: M̂ before start.
    const none = run('shampoo2', { betas: [0.9, 1], startPreconditioningStep: 3 }, w0, grads);
    expectClose(none.deltas[0]!, grads[0]!.data.map((x) => -lr * x), 1e-14);
    const mhat2 = grads[0]!.data.map((x, i) => (0.09 * x + 0.1 * grads[1]!.data[i]!) / 0.19);
    expectClose(none.deltas[1]!, mhat2.map((x) => -lr * x), 1e-13);
  });

  it('preconditionFrequency 3 recomputes the roots only at steps 3, 6, ... (and at start if earlier)', () => {
    const rand = rng(7);
    const w0 = randomDense(2, 3, rand);
    const grads = Array.from({ length: 7 }, () => randomDense(2, 3, rand));
    const eps = 1e-6;
    const changedAt = (states: RefState[]) =>
      states.flatMap((s, t) => {
        const prev = t === 0 ? new Float64Array(4) : (states[t - 1]!.Lroot as Float64Array);
        return Array.from(s.Lroot as Float64Array).every((x, i) => x === prev[i]) ? [] : [t + 1];
      });

    const r = run('shampoo', { betas: [0, 1], eps, preconditionFrequency: 3 }, w0, grads);
    expect(changedAt(r.states)).toEqual([3, 6]);
    expect(r.states.map((s) => s.rootsReady)).toEqual([false, false, true, true, true, true, true]);
    // Steps 1 and 2 (start = 3 by default, no grafting, β₁ = 0): W − lr·G.
    expectClose(r.deltas[0]!, grads[0]!.data.map((x) => -lr * x), 1e-15);
    expectClose(r.deltas[1]!, grads[1]!.data.map((x) => -lr * x), 1e-15);
    // The root of step 3 is (L₃ + εI)^(−1/4), L₃ = Σ_{s ≤ 3} G_s·G_sᵀ, and steps 4, 5 still use it.
    let l3 = dense(2, 2);
    for (const g of grads.slice(0, 3)) l3 = dense(2, 2, mul(g, transpose(g)).data.map((x, i) => x + l3.data[i]!));
    const lroot = dense(2, 2, r.states[2]!.Lroot as Float64Array);
    const rroot = dense(3, 3, r.states[2]!.Rroot as Float64Array);
    expectClose(mul(power(lroot, 4), plusEps(l3, eps)).data, identity(2).data, 1e-9);
    expectClose(r.deltas[4]!, mul(mul(lroot, grads[4]!), rroot).data.map((x) => -lr * x), 1e-13);

    // startPreconditioningStep 2 (< frequency): the first roots at step 2, then 3, 6.
    const early = run('shampoo', { betas: [0, 1], eps, preconditionFrequency: 3, startPreconditioningStep: 2 }, w0, grads);
    expect(changedAt(early.states)).toEqual([2, 3, 6]);
  });

  it('weight decay multiplies W by (1 − lr·λ) first (spectral: subtracts lr·λ·σ₁u₁v₁ᵀ of the old W)', () => {
    const rand = rng(8);
    const w0 = randomDense(3, 3, rand);
    const g = randomDense(3, 3, rand);
    const lambda = 0.1;
    for (const name of ['shampoo', 'shampoo2']) {
      const base = run(name, {}, w0, [g]).ws[0]!;
      const decayed = run(name, { weightDecay: lambda }, w0, [g]).ws[0]!;
      expectClose(decayed.map((x, i) => x - base[i]!), w0.data.map((x) => -lr * lambda * x), 1e-13);
    }
    const wd = diag([5, 1]);
    const g2 = dense(2, 2, [0.3, -0.2, 0.1, 0.4]);
    const base = run('shampoo', {}, wd, [g2]).ws[0]!;
    const spectral = run('shampoo', { weightDecay: lambda, weightDecayNorm: 'spectral' }, wd, [g2]).ws[0]!;
    expectClose(spectral.map((x, i) => x - base[i]!), [-lr * lambda * 5, 0, 0, 0], 1e-12);
  });

  it('a failed first root computation falls back to the identity and counts the failure', () => {
    // ‖G‖² overflows: the statistics are Inf, inverseRoot refuses them; with no previous root the
    // side is not preconditioned, so the step is plain SGD (W − lr·G).
    const g = dense(2, 2, [1e200, 0, 0, 1e200]);
    const w0 = dense(2, 2, [1, 2, 3, 4]);
    const { ws, state } = run('shampoo', { betas: [0, 1] }, w0, [g]);
    expect(state.rootFailures).toBe(2);
    expect(state.rootsReady).toBe(true);
    expect(Array.from(state.Lroot as Float64Array)).toEqual([1, 0, 0, 1]);
    expect(Array.from(ws[0]!)).toEqual([1 - 1e-2 * 1e200, 2, 3, 4 - 1e-2 * 1e200]);
  });
});
