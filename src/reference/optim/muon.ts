// Muon (Jordan et al. 2024), KellerJordan/Muon semantics (muon.py, `muon_update` + `Muon.step`):
//   M ← β·M + (1 − β)·G                       (EMA momentum, M₀ = 0; torch: momentum.lerp_(grad, 1 − β))
//   X = nesterov ? (1 − β)·G + β·M : M        (torch: grad.lerp_(momentum, β))
//   O = orthogonalize(X, method, nsSteps)     (../orthogonalize.ts; 'newton-schulz' by default)
//   O ← s·O,  s = √max(1, rows/cols)          (adjustLr 'original' = torch's default "original";
//                                              'none' is the older name of the same rule, kept as an alias)
//             s = 0.2·√max(rows, cols)        (adjustLr 'match-rms-adamw', Moonshot "Muon is scalable";
//                                              torch's "match_rms_adamw")
//   W ← W·(1 − lr·λ)                          (decoupled decay first, always with the plain lr;
//                                              spectral: W ← W − lr·λ·rank1(W), W before this step)
//   W ← W − lr·O
// The spectral penalty, the non-finite check and the step count are index.ts's common steps.
//
// torch.optim.Muon (torch/optim/_muon.py) parity, optional hyperparameters (absent: the values in
// brackets, which are KellerJordan/Muon's and the behaviour before they existed):
//   nsCoefficients [[3.4445, −4.775, 2.0315]]: one [a, b, c] for every Newton–Schulz step, or an
//     array of exactly nsSteps triples, one per step (torch takes a single triple);
//   eps [1e-7] and epsMode ['add']: the normalisation X/(‖X‖_F + eps) ('add', KellerJordan) or
//     X/max(‖X‖_F, eps) ('max', torch's `ortho_grad.div_(ortho_grad.norm().clamp(min=eps))`).
//   nsNormScale [1]: s in X/(s·‖X‖_F + eps) (or max(s·‖X‖_F, eps));
//   nsCoefficients 'polar-express': the Polar Express iteration as karpathy/nanochat runs it
//     (../orthogonalize.ts POLAR_EXPRESS: the first nsSteps ≤ 5 of its per-step triples), whose
//     normalisation is X/(1.01·‖X‖_F + 1e-6): eps and nsNormScale null take those values.
//   torch.optim.Muon = { adjustLr 'original', epsMode 'max' } with the other values unchanged; torch
//   runs the iteration in bfloat16 (here float64). Its decay is W·(1 − lr·λ) with the unadjusted
//   lr, as here.
//
// Muon is meant for hidden weight matrices: embeddings, output heads, biases and gains are meant
// for AdamW. A vector parameter (rows or cols = 1) is still processed as a 1×n or n×1 matrix:
// orthogonalising it normalises it (exactly X/‖X‖₂ with 'svd', approximately with Newton–Schulz),
// and an n×1 column is then scaled by √n.

import { orthogonalize, type OrthogonalizeOptions } from '../orthogonalize.js';
import { NEWTON_SCHULZ_COEFFS, NEWTON_SCHULZ_EPS, POLAR_EXPRESS, nsCoefficientsPerStep } from '../orthogonalize.js';
import { bool, buf, num, oneOf, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

/**
 * The orthogonalisation Muon's hyperparameters ask for (NorMuon's too): method, nsSteps,
 * nsCoefficients (a triple, one per step, or 'polar-express'), eps, epsMode, nsNormScale.
 */
export function orthogonalizeOptions(h: Hyper, rule: string): OrthogonalizeOptions {
  const nsSteps = num(h, 'nsSteps');
  const method = oneOf(h, 'method', ['newton-schulz', 'svd'] as const);
  if (!Number.isInteger(nsSteps) || nsSteps < 0) {
    throw new RangeError(`${rule}: nsSteps must be an integer >= 0, got ${nsSteps}`);
  }
  const polar = h.nsCoefficients === 'polar-express';
  let coefficients;
  if (polar) {
    if (nsSteps > POLAR_EXPRESS.coefficients.length) throw new RangeError(`${rule}: 'polar-express' has ${POLAR_EXPRESS.coefficients.length} steps, not ${nsSteps}`);
    coefficients = POLAR_EXPRESS.coefficients.slice(0, nsSteps);
  } else {
    const { a, b, c } = NEWTON_SCHULZ_COEFFS;
    coefficients = nsCoefficientsPerStep(h.nsCoefficients ?? [a, b, c], nsSteps);
  }
  const eps = h.eps ?? (polar ? POLAR_EXPRESS.eps : NEWTON_SCHULZ_EPS);
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new RangeError(`${rule}: eps must be a finite number >= 0, got ${String(eps)}`);
  const normScale = h.nsNormScale ?? (polar ? POLAR_EXPRESS.normScale : 1);
  const epsMode = oneOf({ epsMode: h.epsMode ?? 'add' }, 'epsMode', ['add', 'max'] as const);
  return { method, steps: nsSteps, coefficients, eps, epsMode, normScale: normScale as number };
}

/** √max(1, rows/cols) (adjustLr 'original' / 'none'), or 0.2·√max(rows, cols) ('match-rms-adamw'). */
export function adjustedScale(h: Hyper, rows: number, cols: number): number {
  const adjustLr = oneOf(h, 'adjustLr', ['none', 'original', 'match-rms-adamw'] as const);
  return adjustLr === 'match-rms-adamw' ? 0.2 * Math.sqrt(Math.max(rows, cols)) : Math.sqrt(Math.max(1, rows / cols));
}

export function muon(h: Hyper): Rule {
  const lr = num(h, 'lr');
  const beta = num(h, 'momentum');
  const nesterov = bool(h, 'nesterov');
  const lambda = num(h, 'weightDecay');
  const ortho = orthogonalizeOptions(h, 'muon');
  adjustedScale(h, 1, 1);
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init: (rows, cols) => ({ momentumBuffer: new Float64Array(rows * cols) }),
    update(w, G, rows, cols, state, r1) {
      const M = buf(state, 'momentumBuffer');
      for (let i = 0; i < M.length; i++) M[i] = beta * M[i]! + (1 - beta) * G[i]!;
      const X = nesterov ? G.map((gi, i) => (1 - beta) * gi + beta * M[i]!) : Float64Array.from(M);
      const O = orthogonalize({ rows, cols, data: X }, ortho).data;
      const s = adjustedScale(h, rows, cols);

      decoupledDecay(w, lr * lambda, spectral ? r1 : null);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - lr * (s * O[i]!);
    },
  };
}
