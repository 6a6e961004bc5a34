// Every rule's hyperparameters and their defaults, in one place. Names are camelCase; a name not
// listed for a rule is rejected. Sources: ../shared/ALGORITHMS.md and the reference
// implementations it names (PyTorch torch.optim, transformers' Adafactor, zyushun/Adam-mini,
// KellerJordan/Muon, nikhilvyas/SOAP).

/** Options every rule with decoupled weight decay accepts (seed 000 spectral decay). */
export const SPECTRAL_DECAY = {
  /** 'frobenius' (default): decay by λ·W. 'spectral': by λ·W·v₁v₁ᵀ (shrinks σ₁ only). */
  weightDecayNorm: 'frobenius' as 'frobenius' | 'spectral',
  /** Power-iteration rounds for v₁ (from the all-ones vector, or the last v₁ when warm). */
  spectralIters: 10,
  /** Start each step's power iteration from the previous step's v₁. */
  spectralWarmStart: false,
};

/** Every rule accepts these (seed 001 spectral-norm regularisation and non-finite handling). */
export const COMMON = {
  /** λ of the penalty λ·‖W‖₂²: adds 2λσ₁u₁v₁ᵀ to the gradient before the rule runs. */
  spectralPenalty: 0,
  /** 'throw' (default): a NaN/Inf gradient throws, nothing changes. 'skip': the step is skipped and reported. */
  nonFinite: 'throw' as 'throw' | 'skip',
};

/**
 * Cautious masking (Liang et al. 2024, C-Optim, as lucidrains/lion-pytorch's cautious_lion.py
 * applies it) for adam, adamw, sgd (with momentum), lion and ademamix: the update's entries that
 * disagree in sign with the gradient (update·g <= 0) are scaled by cautiousFactor, the others by
 * 1, and the whole scale is divided by max(its mean over the parameter, 1e-5).
 */
export const CAUTIOUS = {
  cautious: false,
  /** The scale of the disagreeing entries, in [0, 1] (lion-pytorch's cautious_factor). */
  cautiousFactor: 0,
};

/** distributed_shampoo's defaults; shampoo uses roots ^(−1/4), shampoo2 ^(−1/2). */
function shampooDefaults() {
  return {
    lr: 1e-2,
    /** [β₁ of the filtered gradient (0: none), β₂ of the statistics (1: plain sums, < 1: EMA with bias correction)] */
    betas: [0.9, 1.0] as [number, number],
    eps: 1e-12,
    preconditionFrequency: 1,
    /** null: preconditionFrequency. Before it, the grafted direction (or G) is used. */
    startPreconditioningStep: null as number | null,
    grafting: 'none' as 'none' | 'sgd' | 'adagrad' | 'adam',
    /** A side longer than this gets no preconditioner (identity). */
    maxPreconditionerDim: 1024,
    weightDecay: 0,
    ...SPECTRAL_DECAY,
  };
}

export const DEFAULTS = {
  sgd: { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, decoupledWeightDecay: false, ...CAUTIOUS, ...SPECTRAL_DECAY },
  signsgd: { lr: 1e-3, momentum: 0, weightDecay: 0, ...SPECTRAL_DECAY },
  pbsgd: { lr: 1e-3, gamma: 0.5, momentum: 0, normalize: false, weightDecay: 0, ...SPECTRAL_DECAY },
  adagrad: { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
  adam: { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, amsgrad: false, ...CAUTIOUS },
  adamw: { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...CAUTIOUS, ...SPECTRAL_DECAY },
  adafactor: {
    /**
     * 'transformers' (default): transformers' Adafactor. 'torch': torch.optim.Adafactor (its own
     * defaults lr 1e-2 and eps [null, 1e-3] then apply: ADAFACTOR_VARIANTS in rules/adafactor.ts).
     */
    variant: 'transformers' as 'transformers' | 'torch',
    lr: null as number | null,
    /** [eps1, eps2]; with variant 'torch' eps1 may be null: float32's machine epsilon, as torch's finfo(dtype).eps. */
    eps: [1e-30, 1e-3] as [number | null, number],
    clipThreshold: 1,
    decayRate: -0.8,
    beta1: null as number | null,
    weightDecay: 0,
    scaleParameter: true,
    relativeStep: true,
    warmupInit: false,
    /** variant 'torch': β̂₂ = 1 − t^beta2Decay. */
    beta2Decay: -0.8,
    /** variant 'torch': the update's RMS clipping threshold (torch's d, >= 1). */
    d: 1,
    /** variant 'torch': ascend instead (the gradient negated). */
    maximize: false,
    ...SPECTRAL_DECAY,
  },
  'adam-mini': {
    lr: 1e-3,
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-8,
    weightDecay: 0,
    blocks: 'rows' as 'rows' | 'cols' | 'all' | number,
    ...SPECTRAL_DECAY,
  },
  'sphere-sgd': { lr: 1e-2, radius: 1, axis: 'all' as 'all' | 'rows' | 'cols', norm: 'l2' as 'l2' | 'linf' },
  shampoo: shampooDefaults(),
  shampoo2: shampooDefaults(),
  'adagrad-full': { lr: 1e-2, eps: 1e-10, /** Refuse parameters with more entries (S is d×d). */ maxDim: 4096 },
  'galore-adamw': {
    lr: 1e-3,
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-6,
    weightDecay: 0,
    /** Projection rank (capped at min(rows, cols)). */
    rank: 128,
    updateProjGap: 200,
    scale: 0.25,
    /** 'svd': the exact top-r singular vectors (eigenvectors of the smaller Gram matrix, in float64); 'randomized': truncatedSvd's range finder. */
    projector: 'svd' as 'svd' | 'randomized',
    ...SPECTRAL_DECAY,
  },
  soap: {
    lr: 3e-3,
    betas: [0.95, 0.95] as [number, number],
    /** β of the statistics' moving average; negative (the default, as in the reference): betas[1]. */
    shampooBeta: -1,
    eps: 1e-8,
    /** Decoupled, applied after the step (the reference's order). */
    weightDecay: 0.01,
    /** Adam steps between eigenbasis refreshes (one power-iteration step and a QR). */
    preconditionFrequency: 10,
    /** A side longer than this is not rotated. */
    maxPreconditionerDim: 10000,
    correctBias: true,
    /** Divide the update by its RMS (the reference's option for large preconditionFrequency). */
    normalizeGrads: false,
    ...SPECTRAL_DECAY,
  },
  // torch.optim's other rules (PyTorch 2.x defaults; torch/optim/<name>.py is the specification).
  nadam: {
    lr: 2e-3,
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-8,
    weightDecay: 0,
    /** ψ of the momentum schedule μ_t = β₁(1 − ½·0.96^(t·ψ)). */
    momentumDecay: 4e-3,
    /** true: W ← W·(1 − lr·λ) (NAdamW); false: λ·W added to the gradient. */
    decoupledWeightDecay: false,
  },
  radam: {
    lr: 1e-3,
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-8,
    weightDecay: 0,
    decoupledWeightDecay: false,
  },
  adamax: { lr: 2e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 },
  adadelta: { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0 },
  rprop: {
    /** The initial step size of every entry (torch: only read when the state is made). */
    lr: 1e-2,
    /** [η₋, η₊]: the step-size factors on a sign change and on agreement. */
    etas: [0.5, 1.2] as [number, number],
    /** [min, max] of the step sizes. */
    stepSizes: [1e-6, 50] as [number, number],
  },
  muon: {
    lr: 0.02,
    momentum: 0.95,
    nesterov: true,
    nsSteps: 5,
    weightDecay: 0,
    /**
     * 'original' (torch's name; 'none' is the same): scale the update by √max(1, rows/cols)
     * (KellerJordan); 'match-rms-adamw': by 0.2·√max(rows, cols) (Moonshot; torch's match_rms_adamw).
     */
    adjustLr: 'original' as 'original' | 'none' | 'match-rms-adamw',
    method: 'newton-schulz' as 'newton-schulz' | 'svd',
    /**
     * Newton-Schulz's (a, b, c): one triple for every step, or one per step (nsSteps triples, at
     * most 18), or 'polar-express': karpathy/nanochat's five Polar Express triples (the first
     * nsSteps of them, nsSteps <= 5) with its normalisation X/(1.01·‖X‖_F + 1e-6).
     */
    nsCoefficients: [3.4445, -4.775, 2.0315] as number[] | number[][] | 'polar-express',
    /** The Frobenius normalisation's eps; null: the coefficients' own (1e-7 KellerJordan, 1e-6 'polar-express'). */
    eps: null as number | null,
    /** 'add': X/(s·‖X‖_F + eps) (KellerJordan/Muon); 'max': X/max(s·‖X‖_F, eps) (torch.optim.Muon). */
    epsMode: 'add' as 'add' | 'max',
    /** s of the normalisation; null: the coefficients' own (1, or 1.01 with 'polar-express'). */
    nsNormScale: null as number | null,
    ...SPECTRAL_DECAY,
  },
  /**
   * zichongli5/NorMuon `SingleDeviceNorMuon` (lr 0.02, momentum 0.95, beta2 0.95, weight decay
   * 0, Nesterov, 5 KellerJordan Newton-Schulz steps); the Newton-Schulz options are Muon's.
   */
  normuon: {
    lr: 0.02,
    momentum: 0.95,
    /** β₂ of the per-row second moment of the orthogonalised update. */
    beta2: 0.95,
    nesterov: true,
    nsSteps: 5,
    weightDecay: 0,
    adjustLr: 'original' as 'original' | 'none' | 'match-rms-adamw',
    method: 'newton-schulz' as 'newton-schulz' | 'svd',
    nsCoefficients: [3.4445, -4.775, 2.0315] as number[] | number[][] | 'polar-express',
    eps: null as number | null,
    epsMode: 'add' as 'add' | 'max',
    nsNormScale: null as number | null,
    ...SPECTRAL_DECAY,
  },  // Issue 12 (ALGORITHMS.md "Recent rules").
  /** optax.lamb: Adam's direction + λ·W, scaled by the trust ratio ‖W‖/‖u‖, times lr. */
  lamb: {
    lr: 1e-3,
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-6,
    /** λ of the λ·W added to the Adam direction before the trust ratio (optax's add_decayed_weights). */
    weightDecay: 0,
    /** C-Optim's mask, on the Adam direction (before λ·W and the trust ratio). */
    ...CAUTIOUS,
  },
  // Issue 12 (the reference implementations' defaults).
  /** lucidrains/lion-pytorch `Lion`: W ← W·(1 − lr·λ) − lr·sign(β₁m + (1 − β₁)G); m ← β₂m + (1 − β₂)G. */
  lion: { lr: 1e-4, betas: [0.9, 0.99] as [number, number], weightDecay: 0, ...CAUTIOUS, ...SPECTRAL_DECAY },
  /** apple/ml-ademamix `AdEMAMix` (pytorch/ademamix.py). */
  ademamix: {
    lr: 1e-3,
    /** [β₁ of the fast EMA, β₂ of the second moment, β₃ of the slow EMA (its final value with beta3Warmup)]. */
    betas: [0.9, 0.999, 0.9999] as [number, number, number],
    /** The slow EMA's weight (its final value with alphaWarmup). */
    alpha: 2,
    /** null: none; T: β₃ rises from β₁ to betas[2] over T steps, linearly in its half-life. */
    beta3Warmup: null as number | null,
    /** null: none; T: α rises linearly from 0 to alpha over T steps. */
    alphaWarmup: null as number | null,
    eps: 1e-8,
    /** Added to the update as λ·W, times lr (the reference's form of decoupled decay). */
    weightDecay: 0,
    ...CAUTIOUS,
  },
  // konstmish/prodigy's Prodigy (prodigyopt/prodigy.py): Adam with the distance estimate d as its
  // step size, shared by the parameters an optimizer steps in one call (one param group).
  prodigy: {
    /** Multiplies the step size d·lr (the reference: leave it at 1 unless the run is unstable). */
    lr: 1.0,
    betas: [0.9, 0.999] as [number, number],
    /** β₃ of s and of the estimate's numerator; null: √β₂. */
    beta3: null as number | null,
    /** Added to √v as d·eps. */
    eps: 1e-8,
    weightDecay: 0,
    /** true: W ← W − λ·dlr·W (AdamW-style); false: λ·W added to the gradient. */
    decouple: true,
    /** Adam's bias correction √(1 − β₂^(k+1))/(1 − β₁^(k+1)) in the step size. */
    useBiasCorrection: false,
    /** s grows by (d/d0)·d·g instead of (d/d0)·d·lr·g (for warm-up schedules). */
    safeguardWarmup: false,
    /** The initial estimate d. */
    d0: 1e-6,
    /** The estimate's factor d̂ = dCoef·r/‖s‖₁ (the reference's preferred knob). */
    dCoef: 1.0,
    /** d grows by at most this factor per step; Infinity (the default): unbounded (a config stores it as null). */
    growthRate: Infinity,
  },
  /** facebookresearch/schedule_free AdamWScheduleFree: the parameter holds y; eval()/train() switch it to x and back. */
  'schedule-free-adamw': {
    lr: 0.0025,
    /** [β₁ (the y interpolation, and eval()'s 1 − 1/β₁), β₂ of the second moment]. */
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-8,
    /** λ·y added to the normalised gradient (decay at y, the reference's default). */
    weightDecay: 0,
    /** Linear warm-up: lr·min(1, (k + 1)/warmupSteps). */
    warmupSteps: 0,
    /** The average's weights (k + 1)^r · lr_max^weightLrPower. */
    r: 0,
    weightLrPower: 2,
  },
  /** facebookresearch/schedule_free SGDScheduleFree. */
  'schedule-free-sgd': { lr: 1.0, momentum: 0.9, weightDecay: 0, warmupSteps: 0, r: 0, weightLrPower: 2 },
};

/** The name of an optimizer rule. */
export type RuleName = keyof typeof DEFAULTS;
/** Every rule's name, in the order of DEFAULTS. */
export const RULES = Object.keys(DEFAULTS) as RuleName[];

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Every rule's default hyperparameters, by rule name (docs/optimizers.md says what each means),
 * frozen: the values `createOptimizer` fills in for those it is not given.
 */
export const OPTIMIZER_DEFAULTS: { readonly [R in RuleName]: Readonly<(typeof DEFAULTS)[R]> } = deepFreeze(DEFAULTS);
