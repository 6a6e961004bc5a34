// Adafactor, variant 'torch': torch.optim.Adafactor semantics (torch/optim/_adafactor.py,
// _single_tensor_adafactor). Routed here by adafactor.ts when hyper.variant === 'torch'.
//   maximize: G ← −G
//   t += 1;  β̂₂ = 1 − t^beta2Decay  (torch's one_minus_beta2_t = t^beta2Decay is the lerp weight)
//   ρ = min(lr, 1/√t);  α = max(ε₂, RMS(W_old))·ρ,  RMS(x) = ‖x‖₂/√numel   (W before the decay)
//   λ ≠ 0: W ← W·(1 − lr·λ)  (the plain lr, not ρ or α; spectral: W ← W − lr·λ·rank1(W))
//   always factored (see below):
//     r ← β̂₂·r + (1 − β̂₂)·rowMean(G²),  c ← β̂₂·c + (1 − β̂₂)·colMean(G²)   (G², not G² + ε₁)
//     V̂_ij = r_i·c_j / max(mean(r), ε₁)                                    (row mean clamped at ε₁)
//   U = G/√max(V̂, ε₁²);  W ← W − (α/max(1, RMS(U)/d))·U
// No first moment, no relative-step switch, no scale-parameter switch: ρ always min(lr, 1/√t), α
// always scaled by RMS(W). The transformers-only hyperparameters (clipThreshold, decayRate, beta1,
// scaleParameter, relativeStep, warmupInit, normalizeGrads) are ignored by this variant.
//
// eps = [ε₁, ε₂] with ε₁ = null meaning torch's default `torch.finfo(param.dtype).eps`. specopt's
// parameters are float32, so null is float32's machine epsilon 2⁻²³ = 1.1920928955078125e-7 here
// (what torch uses for a float32 parameter), not float64's 2⁻⁵²: to reproduce a torch run on
// float64 parameters with eps1=None, pass ε₁ = 2⁻⁵² explicitly.
//
// Factoring: torch factors whenever grad.dim() > 1, and every specopt parameter is a rows×cols
// matrix, so this variant always factors, a 1×n or n×1 parameter included (state row: rows, col:
// cols, never a full v), exactly as torch does for a 2-D tensor of that shape. (The transformers
// variant keeps specopt's convention of a full v when rows = 1 or cols = 1.) For a 1×n or n×1
// parameter the factored estimate equals the full EMA of G² up to rounding, except where the row
// mean falls below ε₁ and the clamp shrinks it (torch's behaviour on a 2-D vector). torch's
// unfactored path (a 1-D tensor) is not reproduced. No first moment.

import { bool, buf, num, numOrNull, type Hyper, type Rule } from './rule.js';
import { decoupledDecay, readSpectral, spectralDecayOn } from './spectral.js';

/** torch.finfo(torch.float32).eps, what eps[0] = null stands for. */
export const FLOAT32_EPS = 2 ** -23;

function rms(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s) / Math.sqrt(x.length);
}

export function adafactorTorch(h: Hyper): Rule {
  const lr = numOrNull(h, 'lr');
  if (lr === null) throw new RangeError("adafactor: variant 'torch' needs a number lr (torch's default is 1e-2)");
  const beta2Decay = num(h, 'beta2Decay');
  const epsRaw = h.eps;
  if (!Array.isArray(epsRaw) || epsRaw.length !== 2 || (epsRaw[0] !== null && typeof epsRaw[0] !== 'number') || typeof epsRaw[1] !== 'number') {
    throw new TypeError("reference optimizer: 'eps' must be [number | null, number]");
  }
  const eps1 = epsRaw[0] === null ? FLOAT32_EPS : (epsRaw[0] as number);
  const eps2 = epsRaw[1] as number;
  const d = num(h, 'd');
  const lambda = num(h, 'weightDecay');
  const maximize = bool(h, 'maximize');
  // torch's constructor checks.
  if (!(lr >= 0)) throw new RangeError(`adafactor: lr should be >= 0, got ${lr}`);
  if (!(beta2Decay <= 0)) throw new RangeError(`adafactor: beta2Decay should be <= 0, got ${beta2Decay}`);
  if (!(eps1 >= 0) || !(eps2 >= 0)) throw new RangeError('adafactor: eps entries should be >= 0');
  if (!(d >= 1)) throw new RangeError(`adafactor: d should be >= 1, got ${d}`);
  if (!(lambda >= 0)) throw new RangeError(`adafactor: weightDecay should be >= 0, got ${lambda}`);
  const spectral = spectralDecayOn(readSpectral(h), lambda);
  return {
    spectralDecay: spectral,
    init(rows, cols) {
      return { row: new Float64Array(rows), col: new Float64Array(cols) };
    },
    update(w, G, rows, cols, state, r1) {
      const t = state.step;
      const n = rows * cols;
      if (maximize) for (let i = 0; i < n; i++) G[i] = -G[i]!;
      const oneMinusBeta2 = Math.pow(t, beta2Decay);
      const beta2t = 1 - oneMinusBeta2;
      const rho = Math.min(lr, 1 / Math.sqrt(t));
      const alpha = Math.max(eps2, rms(w)) * rho;
      if (lambda !== 0) decoupledDecay(w, lr * lambda, spectral ? r1 : null);

      const r = buf(state, 'row');
      const c = buf(state, 'col');
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += G[i * cols + j]! * G[i * cols + j]!;
        r[i] = beta2t * r[i]! + oneMinusBeta2 * (s / cols);
      }
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += G[i * cols + j]! * G[i * cols + j]!;
        c[j] = beta2t * c[j]! + oneMinusBeta2 * (s / rows);
      }
      let rs = 0;
      for (let i = 0; i < rows; i++) rs += r[i]!;
      const rMean = Math.max(rs / rows, eps1);
      const vhat = new Float64Array(n);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) vhat[i * cols + j] = (r[i]! * c[j]!) / rMean;
      const floor = eps1 * eps1;
      const upd = G.map((gi, i) => gi / Math.sqrt(Math.max(vhat[i]!, floor)));
      const denom = Math.max(1, rms(upd) / d);
      const k = alpha / denom;
      for (let i = 0; i < n; i++) w[i] = w[i]! - k * upd[i]!;
    },
  };
}
