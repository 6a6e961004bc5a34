// torch.optim's defaults (PyTorch 2.x constructors) under specopt's camelCase names, as the float64
// reference reads them, for the rules of ALGORITHMS.md "torch.optim, the rest". The reference's own
// record of what a complete hyperparameter object for these rules holds; src/optim/defaults.ts is
// the library's (the two should agree once the native rules exist). Spread COMMON (and, for the
// rules with decoupled decay, SPECTRAL_DECAY) over these for a complete object.

import { NEWTON_SCHULZ_COEFFS, NEWTON_SCHULZ_EPS } from '../orthogonalize.js';

const { a, b, c } = NEWTON_SCHULZ_COEFFS;

export const TORCH_DEFAULTS = {
  /** torch.optim.NAdam */
  nadam: { lr: 2e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, decoupledWeightDecay: false },
  /** torch.optim.RAdam */
  radam: { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false },
  /** torch.optim.Adamax */
  adamax: { lr: 2e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 },
  /** torch.optim.Adadelta */
  adadelta: { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0 },
  /** torch.optim.Rprop: etas = [η₋, η₊], stepSizes = [min, max]. */
  rprop: { lr: 1e-2, etas: [0.5, 1.2] as [number, number], stepSizes: [1e-6, 50] as [number, number] },
  /**
   * torch.optim.Adafactor, as the 'adafactor' rule with variant 'torch'. eps[0] = null: torch's
   * finfo(dtype).eps, float32's 2⁻²³ here (adafactorTorch.ts).
   */
  adafactorTorch: {
    variant: 'torch' as const,
    lr: 1e-2,
    beta2Decay: -0.8,
    eps: [null, 1e-3] as [number | null, number],
    d: 1.0,
    weightDecay: 0,
    maximize: false,
  },
  /**
   * torch.optim.Muon, as the 'muon' rule. torch's own lr and weight decay defaults (1e-3, 0.1)
   * differ from specopt's muon (0.02, 0); adjustLr 'original' (≡ 'none') and epsMode 'max' make the
   * torch form. torch computes the iteration in bfloat16.
   */
  muonTorch: {
    lr: 1e-3,
    weightDecay: 0.1,
    momentum: 0.95,
    nesterov: true,
    nsCoefficients: [a, b, c] as [number, number, number],
    eps: NEWTON_SCHULZ_EPS,
    epsMode: 'max' as 'add' | 'max',
    nsSteps: 5,
    adjustLr: 'original' as 'none' | 'original' | 'match-rms-adamw',
    method: 'newton-schulz' as 'newton-schulz' | 'svd',
  },
};
