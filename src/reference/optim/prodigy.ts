// Prodigy (Mishchenko & Defazio 2023, "Prodigy: An Expeditiously Adaptive Parameter-Free
// Learner", Algorithm 4 with Adam's moments), with the semantics of konstmish/prodigy's Prodigy:
// one param group, here the entries one optimizer steps in one call. The group's values: the
// estimate d (d₀ at first), its running maximum d_max, the numerator r and the step count k.
// One step of the group, with D = d before it:
//   bc = useBiasCorrection ? √(1 − β₂^(k+1)) / (1 − β₁^(k+1)) : 1,   dlr = D·lr·bc
//   every parameter (p₀ = W at its first step):
//     G ← G + λW                          (weightDecay λ, decouple false)
//     Δr += (D/d₀)·dlr·⟨G, p₀ − W⟩
//     m ← β₁m + D(1 − β₁)G,   v ← β₂v + D²(1 − β₂)G²
//     s ← β₃s + (D/d₀)·c·G,   c = D (safeguardWarmup) or dlr;   σ += ‖s‖₁
//   σ = 0: the step ends there (W and the group's values unchanged; m, v, s as above)
//   r ← β₃r + Δr,   d̂ = dCoef·r/σ
//   d = D = d₀ ? max(D, d̂) : D;   d_max ← max(d_max, d̂);   d ← min(d_max, growthRate·d);   k ← k + 1
//   every parameter:
//     W ← W − λ·dlr·W                     (decouple true)
//     W ← W − dlr·m/(√v + d·ε)            (β₁ = 0: no m, W ← W − dlr·d·G/(√v + d·ε))
// (dlr is the old estimate's, the denominator's d·ε the new one's.) With lr = 0 a step changes
// nothing but p₀ (the reference skips a group with lr 0). β₃ null: √β₂.

import { bool, buf, num, numOrNull, pair, type GroupItem, type Hyper, type Rule } from './rule.js';
import type { RefState } from './index.js';

export function prodigy(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const [beta1, beta2] = pair(h, 'betas');
  const beta3 = numOrNull(h, 'beta3') ?? Math.sqrt(beta2);
  const eps = num(h, 'eps');
  const lambda = num(h, 'weightDecay');
  const decouple = bool(h, 'decouple');
  const biasCorrection = bool(h, 'useBiasCorrection');
  const safeguard = bool(h, 'safeguardWarmup');
  const d0 = num(h, 'd0');
  const dCoef = num(h, 'dCoef');
  const growthRate = num(h, 'growthRate');
  const value = (state: RefState, key: string): number => {
    const x = state[key];
    if (typeof x !== 'number') throw new TypeError(`reference optimizer: state.${key} is not a number`);
    return x;
  };
  return {
    spectralDecay: false,
    groupValues: ['d', 'dMax', 'dNumerator', 'k'],
    init(rows, cols) {
      const n = rows * cols;
      return {
        s: new Float64Array(n),
        p0: new Float64Array(n),
        ...(beta1 > 0 ? { m: new Float64Array(n) } : {}),
        v: new Float64Array(n),
        d: d0,
        dMax: d0,
        dNumerator: 0,
        k: 0,
      };
    },
    update() {
      throw new Error('reference optimizer: prodigy steps through updateGroup');
    },
    updateGroup(items: GroupItem[]) {
      for (const { w, state } of items) if (state.step === 1) buf(state, 'p0').set(w);
      if (!(lr > 0)) return;
      const first = items[0]!.state;
      const D = value(first, 'd');
      let dMax = value(first, 'dMax');
      const r = value(first, 'dNumerator');
      const k = value(first, 'k');
      const bc = biasCorrection ? Math.sqrt(1 - Math.pow(beta2, k + 1)) / (1 - Math.pow(beta1, k + 1)) : 1;
      const dlr = D * lr * bc;
      const c = safeguard ? D : dlr;
      let deltaR = 0;
      let sigma = 0;
      for (const { w, G, state } of items) {
        const s = buf(state, 's');
        const p0 = buf(state, 'p0');
        const m = beta1 > 0 ? buf(state, 'm') : null;
        const v = buf(state, 'v');
        if (lambda !== 0 && !decouple) for (let i = 0; i < G.length; i++) G[i] = G[i]! + lambda * w[i]!;
        let dot = 0;
        let norm1 = 0;
        for (let i = 0; i < G.length; i++) {
          const g = G[i]!;
          dot += g * (p0[i]! - w[i]!);
          if (m) m[i] = beta1 * m[i]! + D * (1 - beta1) * g;
          v[i] = beta2 * v[i]! + D * D * (1 - beta2) * g * g;
          s[i] = beta3 * s[i]! + (D / d0) * c * g;
          norm1 += Math.abs(s[i]!);
        }
        deltaR += (D / d0) * dlr * dot;
        sigma += norm1;
      }
      if (sigma === 0) return;
      const rNext = beta3 * r + deltaR;
      const dHat = (dCoef * rNext) / sigma;
      let d = D === d0 ? Math.max(D, dHat) : D;
      dMax = Math.max(dMax, dHat);
      d = Math.min(dMax, growthRate * d);
      for (const { w, G, state } of items) {
        const m = beta1 > 0 ? buf(state, 'm') : null;
        const v = buf(state, 'v');
        for (let i = 0; i < w.length; i++) {
          if (lambda !== 0 && decouple) w[i] = w[i]! - lambda * dlr * w[i]!;
          const denom = Math.sqrt(v[i]!) + d * eps;
          w[i] = w[i]! - (m ? dlr * m[i]! : dlr * d * G[i]!) / denom;
        }
        Object.assign(state, { d, dMax, dNumerator: rNext, k: k + 1 });
      }
    },
  };
}
