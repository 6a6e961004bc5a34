// AdEMAMix (Pagliardini, Ablin & Grangier 2024, "The AdEMAMix Optimizer: Better, Faster, Older"),
// ALGORITHMS.md "Recent rules"; apple/ml-ademamix pytorch/ademamix.py. t = state.step (1 first):
//   α_t = alphaWarmup T: t < T ? (t/T)·α : α                      (linear from 0)
//   β₃,t = beta3Warmup T: t < T ? h⁻¹((1 − t/T)·h(β₁) + (t/T)·h(β₃)) : β₃,
//          h(β) = ln ½ / ln(β + 1e-8) − 1 (the half-life, in steps, less one), h⁻¹(x) = ½^(1/(x + 1))
//   m₁ ← β₁·m₁ + (1 − β₁)·G;   m₂ ← β₃,t·m₂ + (1 − β₃,t)·G;   v ← β₂·v + (1 − β₂)·G²
//   u = (m₁/(1 − β₁ᵗ) + α_t·m₂) / (√v/√(1 − β₂ᵗ) + ε)
//   cautious: u ← cautiousMask(u, G) (cautious.ts; the decay term below is not masked)
//   W ← W − lr·(u + λ·W)

import { cautiousMask, readCautious } from './cautious.js';
import { buf, num, numOrNull, type Hyper, type Rule } from './rule.js';

function triple(h: Hyper, key: string): [number, number, number] {
  const v = h[key];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number')) {
    throw new TypeError(`reference optimizer: '${key}' must be three numbers`);
  }
  return [v[0], v[1], v[2]];
}

/** The half-life warm-up of β₃ (see the header). */
function beta3At(t: number, T: number, start: number, end: number): number {
  if (t >= T) return end;
  const halfLife = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;
  const x = (1 - t / T) * halfLife(start) + (t / T) * halfLife(end);
  return Math.pow(0.5, 1 / (x + 1));
}

export function ademamix(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2, beta3] = triple(h, 'betas');
  const alpha = num(h, 'alpha');
  const beta3Warmup = numOrNull(h, 'beta3Warmup');
  const alphaWarmup = numOrNull(h, 'alphaWarmup');
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const cautious = readCautious(h);
  return {
    spectralDecay: false,
    init(rows, cols) {
      const n = rows * cols;
      return { m1: new Float64Array(n), m2: new Float64Array(n), v: new Float64Array(n) };
    },
    update(w, G, _rows, _cols, state) {
      const t = state.step;
      const m1 = buf(state, 'm1');
      const m2 = buf(state, 'm2');
      const v = buf(state, 'v');
      const a = alphaWarmup === null || t >= alphaWarmup ? alpha : (t / alphaWarmup) * alpha;
      const b3 = beta3Warmup === null ? beta3 : beta3At(t, beta3Warmup, beta1, beta3);
      const bc1 = 1 - Math.pow(beta1, t);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
      const u = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) {
        m1[i] = beta1 * m1[i]! + (1 - beta1) * G[i]!;
        m2[i] = b3 * m2[i]! + (1 - b3) * G[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * (G[i]! * G[i]!);
        u[i] = (m1[i]! / bc1 + a * m2[i]!) / (Math.sqrt(v[i]!) / bc2Sqrt + eps);
      }
      if (cautious !== null) cautiousMask(u, G, cautious);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * (u[i]! + lambda * w[i]!);
    },
  };
}
