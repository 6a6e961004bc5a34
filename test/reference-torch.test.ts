// Pins down the float64 reference rules of ALGORITHMS.md "torch.optim, the rest" (nadam, radam,
// adamax, adadelta, rprop, adafactor variant 'torch', muon's torch.optim.Muon options) against the
// formulas of PyTorch 2.x's torch/optim/*.py, independently of the code: every expected number is
// the formula written out here for a tiny case (a 1×2 parameter over 3 steps, scalar arithmetic
// per entry), or a property (L2 = decay folded into G, decoupled = W·(1 − lr·λ) first, aliases).

import { describe, it, expect } from 'vitest';
import { COMMON, SPECTRAL_DECAY } from '../src/optim/defaults.js';
import { REFERENCE_OPTIMIZERS, TORCH_DEFAULTS, referenceOptimizer, type RefState } from '../src/reference/optim/index.js';
import { FLOAT32_EPS } from '../src/reference/optim/adafactorTorch.js';

// ---------------------------------------------------------------- helpers

type TorchName = 'nadam' | 'radam' | 'adamax' | 'adadelta' | 'rprop';

/** A complete hyper object for the reference: torch's defaults, the common options, then overrides. */
function hyper(base: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...base, ...COMMON, ...SPECTRAL_DECAY, ...over };
}

function run(
  name: string,
  h: Record<string, unknown>,
  w0: ArrayLike<number>,
  grads: ArrayLike<number>[],
  rows: number,
  cols: number,
): { w: Float64Array; state: RefState; trail: Float64Array[] } {
  const opt = referenceOptimizer(name, h);
  const state = opt.init(rows, cols);
  const w = Float64Array.from(w0);
  const trail: Float64Array[] = [];
  for (const g of grads) {
    opt.step(w, Float64Array.from(g), rows, cols, state);
    trail.push(Float64Array.from(w));
  }
  return { w, state, trail };
}

const runT = (name: TorchName, over: Record<string, unknown>, w0: number[], grads: number[][]) =>
  run(name, hyper(TORCH_DEFAULTS[name], over), w0, grads, 1, w0.length);

/** |a_i − b_i| ≤ tol·max(1, |b_i|) for every i. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-14): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    expect(d, `entry ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  }
}

const sgn = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

// The tiny case every rule runs: a 1×2 parameter and three gradients (entry 0 flips sign twice,
// entry 1 keeps its sign), with a small fourth-step gradient where a branch needs one.
const W0 = [1, -2];
const GS = [
  [0.5, -1],
  [-0.25, -2],
  [1, -0.5],
];

describe('registry and defaults', () => {
  it('registers the new rules', () => {
    for (const n of ['nadam', 'radam', 'adamax', 'adadelta', 'rprop']) expect(REFERENCE_OPTIMIZERS).toContain(n);
  });

  it("TORCH_DEFAULTS hold torch's constructor defaults", () => {
    expect(TORCH_DEFAULTS.nadam).toEqual({ lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, decoupledWeightDecay: false });
    expect(TORCH_DEFAULTS.radam).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false });
    expect(TORCH_DEFAULTS.adamax).toEqual({ lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    expect(TORCH_DEFAULTS.adadelta).toEqual({ lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0 });
    expect(TORCH_DEFAULTS.rprop).toEqual({ lr: 1e-2, etas: [0.5, 1.2], stepSizes: [1e-6, 50] });
    expect(TORCH_DEFAULTS.adafactorTorch).toEqual({ variant: 'torch', lr: 1e-2, beta2Decay: -0.8, eps: [null, 1e-3], d: 1, weightDecay: 0, maximize: false });
    expect(TORCH_DEFAULTS.muonTorch).toMatchObject({ lr: 1e-3, weightDecay: 0.1, momentum: 0.95, nesterov: true, nsCoefficients: [3.4445, -4.775, 2.0315], eps: 1e-7, nsSteps: 5, adjustLr: 'original', epsMode: 'max' });
  });

  it('a missing hyperparameter throws', () => {
    for (const n of ['nadam', 'radam', 'adamax', 'adadelta', 'rprop'] as const) {
      const h = hyper(TORCH_DEFAULTS[n]);
      delete h.lr;
      expect(() => referenceOptimizer(n, h)).toThrow(/missing hyperparameter 'lr'/);
    }
  });
});

// ---------------------------------------------------------------- nadam

describe('nadam', () => {
  const lr = 2e-3;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  const psi = 4e-3;
  const mu = (t: number) => b1 * (1 - 0.5 * 0.96 ** (t * psi));

  /** torch's _single_tensor_nadam written out for one entry over the gradients (λ = 0). */
  function byHand(w: number, gs: number[]): { w: number; m: number; v: number; prod: number } {
    let m = 0;
    let v = 0;
    let prod = 1;
    gs.forEach((g, k) => {
      const t = k + 1;
      prod = prod * mu(t);
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const D = Math.sqrt(v / (1 - b2 ** t)) + eps;
      w = w - (lr * (1 - mu(t))) / (1 - prod) * (g / D) - (lr * mu(t + 1)) / (1 - prod * mu(t + 1)) * (m / D);
    });
    return { w, m, v, prod };
  }

  it('state: m, v (zeros) and muProduct = 1', () => {
    const s = referenceOptimizer('nadam', hyper(TORCH_DEFAULTS.nadam)).init(1, 2);
    expect(s).toEqual({ step: 0, m: new Float64Array(2), v: new Float64Array(2), muProduct: 1 });
  });

  it('step 1 in closed form: W − lr·sign(g)·(1 + 0.1·μ₂/(1 − μ₁μ₂)) up to ε', () => {
    const { w } = runT('nadam', {}, W0, [GS[0]!]);
    // m = 0.1g, D = |g| + ε, (1 − μ₁)/(1 − Π₁) = 1.
    const expected = W0.map((w0, i) => {
      const g = GS[0]![i]!;
      const D = Math.abs(g) + eps;
      return w0 - lr * (g / D) - ((lr * mu(2)) / (1 - mu(1) * mu(2))) * ((0.1 * g) / D);
    });
    expectClose(w, expected);
  });

  it('3 steps by hand; the μ product over the steps is kept in the state', () => {
    const { w, state } = runT('nadam', {}, W0, GS);
    const hand = W0.map((w0, i) => byHand(w0, GS.map((g) => g[i]!)));
    expectClose(w, hand.map((x) => x.w));
    expectClose(state.m as Float64Array, hand.map((x) => x.m));
    expectClose(state.v as Float64Array, hand.map((x) => x.v));
    expect(state.muProduct).toBeCloseTo(mu(1) * mu(2) * mu(3), 15);
    expect(state.step).toBe(3);
  });

  it('weight decay: L2 adds λW to G; decoupled multiplies W by (1 − lr·λ) first', () => {
    const lam = 0.3;
    const l2 = runT('nadam', { weightDecay: lam }, W0, [GS[0]!]).w;
    const folded = runT('nadam', {}, W0, [GS[0]!.map((g, i) => g + lam * W0[i]!)]).w;
    expectClose(l2, folded);
    const dec = runT('nadam', { weightDecay: lam, decoupledWeightDecay: true }, W0, [GS[0]!]).w;
    const first = runT('nadam', {}, W0.map((x) => x * (1 - lr * lam)), [GS[0]!]).w;
    expectClose(dec, first);
    expect(Math.abs(dec[0]! - l2[0]!)).toBeGreaterThan(1e-6);
  });
});

// ---------------------------------------------------------------- radam

describe('radam', () => {
  const lr = 1e-3;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  const rhoInf = 2 / (1 - b2) - 1;
  const rhoT = (t: number) => rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);

  function byHand(w: number, gs: number[]): { w: number; m: number; v: number } {
    let m = 0;
    let v = 0;
    gs.forEach((g, k) => {
      const t = k + 1;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const mHat = m / (1 - b1 ** t);
      const r = rhoT(t);
      if (r > 5) {
        const rect = Math.sqrt(((r - 4) * (r - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * r));
        w = w - mHat * lr * (Math.sqrt(1 - b2 ** t) / (Math.sqrt(v) + eps)) * rect;
      } else {
        w = w - mHat * lr;
      }
    });
    return { w, m, v };
  }

  it('state: m, v', () => {
    expect(referenceOptimizer('radam', hyper(TORCH_DEFAULTS.radam)).init(1, 2)).toEqual({ step: 0, m: new Float64Array(2), v: new Float64Array(2) });
  });

  it('ρ_t with the default β₂ crosses 5 between steps 5 and 6 (ρ₁ = 1)', () => {
    expect(rhoT(1)).toBeCloseTo(1, 9);
    expect(rhoT(5)).toBeLessThanOrEqual(5);
    expect(rhoT(6)).toBeGreaterThan(5);
  });

  it('before the switch (steps 1–3): W ← W − lr·m/(1 − β₁ᵗ), the plain momentum step', () => {
    const { trail, state } = runT('radam', {}, W0, GS);
    // step 1: m/(1 − β₁) = g exactly, so W₁ = W₀ − lr·g
    expectClose(trail[0]!, W0.map((w, i) => w - lr * GS[0]![i]!));
    const hand = W0.map((w0, i) => byHand(w0, GS.map((g) => g[i]!)));
    expectClose(trail[2]!, hand.map((x) => x.w));
    expectClose(state.v as Float64Array, hand.map((x) => x.v)); // v is still updated
  });

  it('after the switch (step 6 on): the rectified adaptive step', () => {
    const gs = [...GS, [0.3, -0.7], [-0.1, 0.2], [0.6, -1.5], [0.05, 0.4]];
    const { trail } = runT('radam', {}, W0, gs);
    const hand = (n: number) => W0.map((w0, i) => byHand(w0, gs.slice(0, n).map((g) => g[i]!)).w);
    expectClose(trail[4]!, hand(5));
    expectClose(trail[5]!, hand(6));
    expectClose(trail[6]!, hand(7));
    // step 6 is not the plain momentum step
    const plain6 = W0.map((_, i) => {
      const h5 = byHand(W0[i]!, gs.slice(0, 6).map((g) => g[i]!));
      return trail[4]![i]! - (h5.m / (1 - b1 ** 6)) * lr;
    });
    expect(Math.abs(plain6[0]! - trail[5]![0]!)).toBeGreaterThan(1e-5);
  });

  it('weight decay: L2 folded into G; decoupled W·(1 − lr·λ) first', () => {
    const lam = 0.2;
    expectClose(runT('radam', { weightDecay: lam }, W0, [GS[0]!]).w, runT('radam', {}, W0, [GS[0]!.map((g, i) => g + lam * W0[i]!)]).w);
    expectClose(
      runT('radam', { weightDecay: lam, decoupledWeightDecay: true }, W0, [GS[0]!]).w,
      runT('radam', {}, W0.map((x) => x * (1 - lr * lam)), [GS[0]!]).w,
    );
  });
});

// ---------------------------------------------------------------- adamax

describe('adamax', () => {
  const lr = 2e-3;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;

  it('state: m and u (the infinity norm)', () => {
    expect(referenceOptimizer('adamax', hyper(TORCH_DEFAULTS.adamax)).init(1, 2)).toEqual({ step: 0, m: new Float64Array(2), u: new Float64Array(2) });
  });

  it('3 steps by hand: u = max(β₂u, |g| + ε), W ← W − lr/(1 − β₁ᵗ)·m/u', () => {
    const { w, state, trail } = runT('adamax', {}, W0, GS);
    // step 1: m = 0.1g, u = |g| + ε, W₁ = W₀ − (lr/0.1)·0.1g/(|g| + ε)
    expectClose(trail[0]!, W0.map((w0, i) => w0 - lr * (GS[0]![i]! / (Math.abs(GS[0]![i]!) + eps))));
    // entry 0: u₁ = 0.5 + ε; step 2 |g| = 0.25 < β₂u₁ → u₂ = β₂(0.5 + ε) (the max keeps the decayed old value);
    //          step 3 |g| = 1 → u₃ = 1 + ε.  entry 1: u = 1 + ε, 2 + ε, then max(β₂(2 + ε), 0.5 + ε) = β₂(2 + ε).
    const u0 = [0.5 + eps, b2 * (0.5 + eps), 1 + eps];
    const u1 = [1 + eps, 2 + eps, b2 * (2 + eps)];
    const m0 = [0.05, 0.9 * 0.05 + 0.1 * -0.25, 0];
    m0[2] = 0.9 * m0[1]! + 0.1 * 1;
    const m1 = [-0.1, 0.9 * -0.1 + 0.1 * -2, 0];
    m1[2] = 0.9 * m1[1]! + 0.1 * -0.5;
    let e0 = W0[0]!;
    let e1 = W0[1]!;
    for (let k = 0; k < 3; k++) {
      const clr = lr / (1 - b1 ** (k + 1));
      e0 -= clr * (m0[k]! / u0[k]!);
      e1 -= clr * (m1[k]! / u1[k]!);
    }
    expectClose(w, [e0, e1]);
    expectClose(state.u as Float64Array, [u0[2]!, u1[2]!]);
    expectClose(state.m as Float64Array, [m0[2]!, m1[2]!]);
  });

  it('weight decay is L2 (folded into G, so also into u)', () => {
    const lam = 0.5;
    const a = runT('adamax', { weightDecay: lam }, W0, [GS[0]!]);
    const b = runT('adamax', {}, W0, [GS[0]!.map((g, i) => g + lam * W0[i]!)]);
    expectClose(a.w, b.w);
    expectClose(a.state.u as Float64Array, [Math.abs(0.5 + 0.5) + eps, Math.abs(-1 - 1) + eps]);
  });
});

// ---------------------------------------------------------------- adadelta

describe('adadelta', () => {
  const lr = 1.0;
  const rho = 0.9;
  const eps = 1e-6;

  it('state: squareAvg and accDelta', () => {
    expect(referenceOptimizer('adadelta', hyper(TORCH_DEFAULTS.adadelta)).init(1, 2)).toEqual({ step: 0, squareAvg: new Float64Array(2), accDelta: new Float64Array(2) });
  });

  it('3 steps by hand: s ← ρs + (1 − ρ)g², Δ = √(a + ε)/√(s + ε)·g, a ← ρa + (1 − ρ)Δ², W ← W − lr·Δ', () => {
    const { w, state, trail } = runT('adadelta', {}, W0, GS);
    // step 1: s = 0.1g², Δ = √ε/√(0.1g² + ε)·g
    expectClose(trail[0]!, W0.map((w0, i) => { const g = GS[0]![i]!; return w0 - lr * (Math.sqrt(eps) / Math.sqrt(0.1 * g * g + eps)) * g; }));
    const hand = W0.map((w0, i) => {
      let s = 0;
      let a = 0;
      let x = w0;
      for (const gv of GS) {
        const g = gv[i]!;
        s = rho * s + (1 - rho) * g * g;
        const d = (Math.sqrt(a + eps) / Math.sqrt(s + eps)) * g;
        a = rho * a + (1 - rho) * d * d;
        x = x - lr * d;
      }
      return { x, s, a };
    });
    expectClose(w, hand.map((h) => h.x));
    expectClose(state.squareAvg as Float64Array, hand.map((h) => h.s));
    expectClose(state.accDelta as Float64Array, hand.map((h) => h.a));
  });

  it('lr scales the step only (not the state); weight decay is L2', () => {
    const a = runT('adadelta', { lr: 0.5 }, W0, [GS[0]!]);
    const b = runT('adadelta', {}, W0, [GS[0]!]);
    expectClose(a.w.map((x, i) => x - W0[i]!), b.w.map((x, i) => 0.5 * (x - W0[i]!)));
    expectClose(a.state.accDelta as Float64Array, b.state.accDelta as Float64Array);
    const lam = 0.1;
    expectClose(runT('adadelta', { weightDecay: lam }, W0, [GS[0]!]).w, runT('adadelta', {}, W0, [GS[0]!.map((g, i) => g + lam * W0[i]!)]).w);
  });
});

// ---------------------------------------------------------------- rprop

describe('rprop', () => {
  it('state: prev = 0 and stepSize = lr everywhere', () => {
    const s = referenceOptimizer('rprop', hyper(TORCH_DEFAULTS.rprop, { lr: 0.03 })).init(1, 2);
    expect(s).toEqual({ step: 0, prev: new Float64Array(2), stepSize: Float64Array.from([0.03, 0.03]) });
  });

  it('3 steps by hand: first step ±lr; a sign flip shrinks the size, does not move and stores 0; agreement grows it', () => {
    const { state, trail } = runT('rprop', {}, W0, GS);
    // step 1: prev = 0 → factor 1, size 0.01; W − sign(g)·0.01; prev = g
    expectClose(trail[0]!, [1 - 0.01, -2 + 0.01]);
    // step 2: entry 0 flips (0.5 → −0.25): size 0.005, g taken as 0 → no move, prev = 0;
    //         entry 1 agrees (−1, −2): size 0.012, W += 0.012
    expectClose(trail[1]!, [1 - 0.01, -2 + 0.01 + 0.012]);
    // step 3: entry 0 prev = 0 → factor 1, size 0.005, g = 1 → W −= 0.005;
    //         entry 1 agrees again: size 0.0144, W += 0.0144
    expectClose(trail[2]!, [1 - 0.01 - 0.005, -2 + 0.01 + 0.012 + 0.0144]);
    expectClose(state.stepSize as Float64Array, [0.005, 0.012 * 1.2]);
    expectClose(state.prev as Float64Array, [1, -0.5]);
  });

  it('the prev stored on a flip is 0', () => {
    const { state } = runT('rprop', {}, W0, GS.slice(0, 2));
    expect(Array.from(state.prev as Float64Array)).toEqual([0, -2]);
  });

  it('step sizes are clamped to stepSizes', () => {
    // max 0.011: entry 1 grows 0.01 → min(0.012, 0.011)
    const hi = runT('rprop', { stepSizes: [1e-6, 0.011] }, W0, GS.slice(0, 2));
    expectClose(hi.state.stepSize as Float64Array, [0.005, 0.011]);
    // min 0.008: entry 0 shrinks 0.01 → max(0.005, 0.008)
    const lo = runT('rprop', { stepSizes: [0.008, 50] }, W0, GS.slice(0, 2));
    expectClose(lo.state.stepSize as Float64Array, [0.008, 0.012]);
  });

  it("torch's quirk: the gradient is zeroed where the factor equals η₋, so η₋ = 1 also zeroes the q = 0 entries", () => {
    // η₋ = 1: step 1 has q = 0 everywhere → factor 1 = η₋ → no move, prev = 0 (every step after is the same)
    const { trail, state } = runT('rprop', { etas: [1, 1.2] }, W0, GS);
    expectClose(trail[2]!, W0);
    expect(Array.from(state.prev as Float64Array)).toEqual([0, 0]);
  });

  it('a zero gradient entry does not move and keeps the size', () => {
    const { w, state } = runT('rprop', {}, W0, [[0, -1], [0.5, -1]]);
    expectClose(w, [1 - 0.01, -2 + 0.01 + 0.012]);
    expectClose(state.stepSize as Float64Array, [0.01, 0.012]);
  });
});

// ---------------------------------------------------------------- adafactor, variant 'torch'

describe("adafactor variant 'torch'", () => {
  const base = TORCH_DEFAULTS.adafactorTorch;
  const H = (over: Record<string, unknown> = {}) => hyper(base, over);
  const rmsOf = (x: number[]) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

  it('state: row and col, always factored (torch factors every 2-D tensor, 1×n included); no first moment', () => {
    const opt = referenceOptimizer('adafactor', H());
    expect(opt.init(1, 2)).toEqual({ step: 0, row: new Float64Array(1), col: new Float64Array(2) });
    expect(opt.init(2, 3)).toEqual({ step: 0, row: new Float64Array(2), col: new Float64Array(3) });
    expect(opt.init(3, 1)).toEqual({ step: 0, row: new Float64Array(3), col: new Float64Array(1) });
  });

  it('3 steps by hand on a 1×2 vector: β̂₂ = 1 − t^−0.8, ρ = min(lr, 1/√t), α = max(ε₂, RMS(W))·ρ, RMS clip at d', () => {
    const { w, state, trail } = run('adafactor', H(), W0, GS, 1, 2);
    // 1×2 factored: r = EMA of mean(g²) (one entry), c_j = EMA of g_j², V̂_j = r·c_j/max(r, ε₁) = c_j
    // (r ≥ ε₁ here), so V̂ is the plain EMA v of g².
    // step 1: 1 − β̂₂ = 1 → v = g², U = sign(g), RMS(U) = 1 → W₁ = W₀ − 0.01·RMS(W₀)·sign(g)
    const a1 = Math.max(1e-3, rmsOf(W0)) * 0.01;
    expectClose(trail[0]!, W0.map((x, i) => x - a1 * sgn(GS[0]![i]!)));
    let x = [...W0];
    let v = [0, 0];
    for (let k = 0; k < 3; k++) {
      const t = k + 1;
      const omb = t ** -0.8;
      const g = GS[k]!;
      const alpha = Math.max(1e-3, rmsOf(x)) * Math.min(1e-2, 1 / Math.sqrt(t));
      v = v.map((vi, i) => (1 - omb) * vi + omb * g[i]! * g[i]!);
      const U = g.map((gi, i) => gi / Math.sqrt(Math.max(v[i]!, FLOAT32_EPS ** 2)));
      const denom = Math.max(1, rmsOf(U) / 1);
      x = x.map((xi, i) => xi - (alpha / denom) * U[i]!);
    }
    expectClose(w, x);
    expectClose(state.col as Float64Array, v);
    let r = 0;
    GS.forEach((g, k) => { const omb = (k + 1) ** -0.8; r = (1 - omb) * r + omb * (g[0]! ** 2 + g[1]! ** 2) / 2; });
    expectClose(state.row as Float64Array, [r]);
  });

  it('the RMS clip divides by max(1, RMS(U)/d): a 10× larger step-2 gradient is clipped at d = 1, not at d = 10', () => {
    const gs = [
      [0.1, -0.1],
      [1, -1],
    ];
    // step 2: β̂₂ = 1 − 2^−0.8, v = β̂₂·g₁² + 2^−0.8·g₂², U = g₂/√v, |U| = 1/√(0.01·(1 − 2^−0.8) + 2^−0.8) > 1
    const omb = 2 ** -0.8;
    const v = gs[0]!.map((g1, i) => (1 - omb) * g1 * g1 + omb * gs[1]![i]! ** 2);
    const U = gs[1]!.map((g, i) => g / Math.sqrt(v[i]!));
    expect(rmsOf(U)).toBeGreaterThan(1.3);
    for (const d of [1, 10]) {
      const { trail } = run('adafactor', H({ d }), W0, gs, 1, 2);
      const w1 = trail[0]!;
      const alpha = Math.max(1e-3, rmsOf(Array.from(w1))) * Math.min(1e-2, 1 / Math.sqrt(2));
      const denom = Math.max(1, rmsOf(U) / d);
      expect(denom).toBe(d === 1 ? rmsOf(U) : 1);
      expectClose(trail[1]!, Array.from(w1, (x, i) => x - (alpha / denom) * U[i]!));
    }
  });

  it('relative step: with lr = 1, ρ = 1/√t; ε₂ floors RMS(W) at a zero parameter', () => {
    const { trail } = run('adafactor', H({ lr: 1 }), W0, GS.slice(0, 2), 1, 2);
    const w1 = Array.from(trail[0]!);
    expectClose(w1, W0.map((x, i) => x - rmsOf(W0) * 1 * sgn(GS[0]![i]!)));
    const z = run('adafactor', H(), [0, 0], [GS[0]!], 1, 2).w;
    expectClose(z, GS[0]!.map((g) => -1e-3 * 1e-2 * sgn(g)));
  });

  it('factored 2×2 by hand: row/col means of G², the estimate divided by the (clamped) row mean', () => {
    const w0 = [0.5, -1, 2, 0.25];
    const g = [1, -2, 0.5, 3];
    const { w, state } = run('adafactor', H(), w0, [g], 2, 2);
    // t = 1: r = rowMean(g²) = [(1 + 4)/2, (0.25 + 9)/2], c = colMean(g²) = [(1 + 0.25)/2, (4 + 9)/2]
    const r = [2.5, 4.625];
    const c = [0.625, 6.5];
    const rm = (r[0]! + r[1]!) / 2;
    const V = [(r[0]! * c[0]!) / rm, (r[0]! * c[1]!) / rm, (r[1]! * c[0]!) / rm, (r[1]! * c[1]!) / rm];
    const U = g.map((gi, i) => gi / Math.sqrt(V[i]!));
    const alpha = Math.max(1e-3, rmsOf(w0)) * 1e-2;
    const denom = Math.max(1, rmsOf(U));
    expectClose(w, w0.map((x, i) => x - (alpha / denom) * U[i]!));
    expectClose(state.row as Float64Array, r);
    expectClose(state.col as Float64Array, c);
  });

  it('eps[0] = null is float32 eps 2⁻²³: V̂ floored at ε₁² for a tiny gradient; the row mean clamped at ε₁', () => {
    expect(FLOAT32_EPS).toBe(1.1920928955078125e-7);
    const g = [1e-9, -3e-9];
    const { w } = run('adafactor', H(), W0, [g], 1, 2);
    // r = mean(g²) = 5e-18 < ε₁ → V̂ = r·g²/ε₁, far below ε₁², so U = g/ε₁ (RMS(U) < 1: no clip)
    const U = g.map((x) => x / FLOAT32_EPS);
    expect(rmsOf(U)).toBeLessThan(1);
    const alpha = rmsOf(W0) * 1e-2;
    expectClose(w, W0.map((x, i) => x - alpha * U[i]!));
    // an explicit ε₁ is used as given: with ε₁ = 1e-10, r = 5e-18 < ε₁ → V̂ = r·g²/ε₁ ≤ 4.5e-25 < ε₁²,
    // so U = g/1e-10 = [10, −30], RMS(U) = √500 > 1: clipped
    const w2 = run('adafactor', H({ eps: [1e-10, 1e-3] }), W0, [g], 1, 2).w;
    const U2 = g.map((x) => x / 1e-10);
    expectClose(w2, W0.map((x, i) => x - (alpha / Math.sqrt(500)) * U2[i]!));
    // 1×2 with mean(g²) = 1e-8 < ε₁ but g² > ε₁²: V̂_j = 1e-8·g_j²/ε₁ (the clamp, torch's behaviour on a 2-D vector)
    const gm = [1e-4, -1e-4];
    const wm = run('adafactor', H(), W0, [gm], 1, 2).w;
    const Vm = gm.map((x) => (1e-8 * x * x) / FLOAT32_EPS);
    const Um = gm.map((x, i) => x / Math.sqrt(Vm[i]!));
    const dm = Math.max(1, rmsOf(Um));
    expect(dm).toBeGreaterThan(1);
    expectClose(wm, W0.map((x, i) => x - ((alpha) / dm) * Um[i]!));
    // 2×2: mean(r) = mean of the row means of g² < ε₁ → divided by ε₁ instead
    const G2 = [1e-5, 2e-5, 3e-5, 1e-5];
    const { w: wf } = run('adafactor', H(), [1, 1, 1, 1], [G2], 2, 2);
    const r = [(1e-10 + 4e-10) / 2, (9e-10 + 1e-10) / 2];
    const c = [(1e-10 + 9e-10) / 2, (4e-10 + 1e-10) / 2];
    expect((r[0]! + r[1]!) / 2).toBeLessThan(FLOAT32_EPS);
    const V = [r[0]! * c[0]!, r[0]! * c[1]!, r[1]! * c[0]!, r[1]! * c[1]!].map((x) => Math.max(x / FLOAT32_EPS, FLOAT32_EPS ** 2));
    const Uf = G2.map((x, i) => x / Math.sqrt(V[i]!));
    const den = Math.max(1, rmsOf(Uf));
    expectClose(wf, [1, 1, 1, 1].map((x, i) => x - (1e-2 / den) * Uf[i]!));
  });

  it('weight decay: W·(1 − lr·λ) with the plain lr, α from the W before the decay', () => {
    const lam = 0.5;
    const { w } = run('adafactor', H({ lr: 0.1, weightDecay: lam }), W0, [GS[0]!], 1, 2);
    const alpha = rmsOf(W0) * 0.1;
    expectClose(w, W0.map((x, i) => x * (1 - 0.1 * lam) - alpha * sgn(GS[0]![i]!)));
  });

  it('maximize negates the gradient', () => {
    const a = run('adafactor', H({ maximize: true }), W0, GS, 1, 2).w;
    const b = run('adafactor', H(), W0, GS.map((g) => g.map((x) => -x)), 1, 2).w;
    expectClose(a, b);
  });

  it("variant 'transformers' (or absent) is the unchanged transformers rule; torch's checks apply", () => {
    const tr = { lr: null, eps: [1e-30, 1e-3], clipThreshold: 1, decayRate: -0.8, beta1: null, weightDecay: 0, scaleParameter: true, relativeStep: true, warmupInit: false };
    const a = run('adafactor', hyper(tr), W0, GS, 1, 2).w;
    const b = run('adafactor', hyper(tr, { variant: 'transformers', beta2Decay: -0.5, d: 3, maximize: true }), W0, GS, 1, 2).w;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(() => referenceOptimizer('adafactor', H({ variant: 'other' }))).toThrow(/variant/);
    expect(() => referenceOptimizer('adafactor', H({ lr: null }))).toThrow(/lr/);
    expect(() => referenceOptimizer('adafactor', H({ d: 0.5 }))).toThrow(/d should be/);
    expect(() => referenceOptimizer('adafactor', H({ beta2Decay: 0.1 }))).toThrow(/beta2Decay/);
  });
});

// ---------------------------------------------------------------- muon, torch.optim.Muon options

describe('muon: adjustLr, eps, nsCoefficients (torch.optim.Muon)', () => {
  const A = 3.4445;
  const B = -4.775;
  const C = 2.0315;
  const base = { lr: 0.02, momentum: 0.95, nesterov: true, nsSteps: 5, weightDecay: 0, adjustLr: 'none', method: 'newton-schulz' };
  const M = (over: Record<string, unknown> = {}) => hyper(base, over);
  const nrm = (x: number[]) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));

  /**
   * NS on a vector X (1×n or n×1): X·Xᵀ (or XᵀX) is the scalar ‖X‖², so each step maps the scalar
   * x = ‖X̃‖ to a·x + b·x³ + c·x⁵ and keeps the direction: O = X/‖X‖·p(x₀).
   */
  function nsVector(X: number[], triples: [number, number, number][], eps: number, mode: 'add' | 'max'): number[] {
    const n = nrm(X);
    let x = n / (mode === 'max' ? Math.max(n, eps) : n + eps);
    for (const [a, b, c] of triples) x = a * x + b * x ** 3 + c * x ** 5;
    return X.map((v) => (v / n) * x);
  }
  const five = (t: [number, number, number]) => [t, t, t, t, t] as [number, number, number][];

  it("'original' is 'none' (√max(1, rows/cols)); match-rms-adamw is 0.2·√max(rows, cols)", () => {
    const gs = [[0.5], [-1]];
    const none = run('muon', M(), [1, -2], gs.map((g, k) => [g[0]!, k ? 0.3 : -0.4]), 2, 1).w;
    const orig = run('muon', M({ adjustLr: 'original' }), [1, -2], gs.map((g, k) => [g[0]!, k ? 0.3 : -0.4]), 2, 1).w;
    expect(Array.from(orig)).toEqual(Array.from(none));
    // 2×1, one step: X = (1 − β)g + β·(1 − β)g ∝ g, O = g/‖g‖·p(‖X‖/(‖X‖ + 1e-7)); scale √2 (original) or 0.2·√2
    const g = [0.6, -0.8];
    const X = g.map((v) => (1 - 0.95) * v + 0.95 * (1 - 0.95) * v);
    const O = nsVector(X, five([A, B, C]), 1e-7, 'add');
    const w1 = run('muon', M({ adjustLr: 'original' }), [1, -2], [g], 2, 1).w;
    expectClose(w1, [1, -2].map((x, i) => x - 0.02 * Math.SQRT2 * O[i]!), 1e-13);
    const w2 = run('muon', M({ adjustLr: 'match-rms-adamw' }), [1, -2], [g], 2, 1).w;
    expectClose(w2, [1, -2].map((x, i) => x - 0.02 * 0.2 * Math.SQRT2 * O[i]!), 1e-13);
    // 1×2: original gives √max(1, 1/2) = 1
    const w3 = run('muon', M({ adjustLr: 'original' }), [1, -2], [g], 1, 2).w;
    expectClose(w3, [1, -2].map((x, i) => x - 0.02 * O[i]!), 1e-13);
  });

  it("3 steps by hand on 1×2 with torch's form (epsMode 'max', eps 1e-7) and its weight decay", () => {
    const lr = 0.02;
    const lam = 0.1;
    const beta = 0.95;
    const { w } = run('muon', M({ adjustLr: 'original', epsMode: 'max', weightDecay: lam }), W0, GS, 1, 2);
    let x = [...W0];
    let buf = [0, 0];
    for (const g of GS) {
      buf = buf.map((b, i) => b + (1 - beta) * (g[i]! - b)); // lerp(grad, 1 − β)
      const X = g.map((gi, i) => gi + beta * (buf[i]! - gi)); // grad.lerp(buf, β)
      const O = nsVector(X, five([A, B, C]), 1e-7, 'max');
      x = x.map((xi, i) => xi * (1 - lr * lam) - lr * 1 * O[i]!);
    }
    expectClose(w, x, 1e-13);
  });

  it("epsMode: 'add' divides by ‖X‖ + eps (default), 'max' by max(‖X‖, eps); they differ for a tiny X", () => {
    const g = [3e-8, -4e-8]; // ‖X‖ ≈ 5e-8·(1 − β)(1 + β) < 1e-7
    const X = g.map((v) => (1 - 0.95) * v * (1 + 0.95));
    const wAdd = run('muon', M(), [0, 0], [g], 1, 2).w;
    const wMax = run('muon', M({ epsMode: 'max' }), [0, 0], [g], 1, 2).w;
    expectClose(wAdd, nsVector(X, five([A, B, C]), 1e-7, 'add').map((o) => -0.02 * o), 1e-13);
    expectClose(wMax, nsVector(X, five([A, B, C]), 1e-7, 'max').map((o) => -0.02 * o), 1e-13);
    expect(Math.abs(wAdd[0]! - wMax[0]!)).toBeGreaterThan(1e-6 * Math.abs(wMax[0]!));
    // a larger eps under 'max'
    const wEps = run('muon', M({ epsMode: 'max', eps: 1e-3 }), [0, 0], [[0.6, -0.8]], 1, 2).w;
    const X2 = [0.6, -0.8].map((v) => (1 - 0.95) * v * (1 + 0.95));
    expectClose(wEps, nsVector(X2, five([A, B, C]), 1e-3, 'max').map((o) => -0.02 * o), 1e-13);
  });

  it('nsCoefficients: one triple for every step, or one triple per step (in order)', () => {
    const g = [0.6, -0.8];
    const X = g.map((v) => (1 - 0.95) * v * (1 + 0.95));
    const same = run('muon', M({ nsCoefficients: [A, B, C] }), [0, 0], [g], 1, 2).w;
    const dflt = run('muon', M(), [0, 0], [g], 1, 2).w;
    expect(Array.from(same)).toEqual(Array.from(dflt));
    const perStep: [number, number, number][] = [
      [2, -1.5, 0.5],
      [1.875, -1.25, 0.375],
      [3.4445, -4.775, 2.0315],
      [1.5, -0.5, 0],
      [1, 0, 0],
    ];
    const w = run('muon', M({ nsCoefficients: perStep }), [0, 0], [g], 1, 2).w;
    expectClose(w, nsVector(X, perStep, 1e-7, 'add').map((o) => -0.02 * o), 1e-13);
    // the order matters
    const rev = run('muon', M({ nsCoefficients: [...perStep].reverse() }), [0, 0], [g], 1, 2).w;
    expect(Math.abs(rev[0]! - w[0]!)).toBeGreaterThan(1e-9);
    // the wrong number of triples, or a malformed one, throws
    expect(() => referenceOptimizer('muon', M({ nsCoefficients: perStep.slice(0, 4) }))).toThrow(/4 coefficient triples for 5/);
    expect(() => referenceOptimizer('muon', M({ nsCoefficients: [1, 2] }))).toThrow(TypeError);
    expect(() => referenceOptimizer('muon', M({ epsMode: 'min' }))).toThrow(/epsMode/);
  });

  it('weight decay uses the unadjusted lr with match-rms-adamw (torch)', () => {
    const lam = 0.1;
    const g = [[0.6], [-0.8]].flat();
    const X = g.map((v) => (1 - 0.95) * v * (1 + 0.95));
    const O = nsVector(X, five([A, B, C]), 1e-7, 'max');
    const w = run('muon', M({ adjustLr: 'match-rms-adamw', epsMode: 'max', weightDecay: lam }), [1, -2], [g], 2, 1).w;
    expectClose(w, [1, -2].map((x, i) => x * (1 - 0.02 * lam) - 0.02 * 0.2 * Math.SQRT2 * O[i]!), 1e-13);
  });
});
