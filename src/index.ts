export { Matrix } from './matrix.js';
export type { MatrixLike } from './validate.js';
export { backendInfo, setNumThreads, type BackendInfo } from './backend.js';
export { matmul, matmulAsync, type MatmulOptions } from './matmul.js';
export { eigh, eighAsync, type Eigh } from './eigh.js';
export { svd, svdAsync, singularValues, truncatedSvd, truncatedSvdAsync, type Svd, type TruncatedSvdOptions } from './svd.js';
export { qr, qrAsync, type Qr } from './qr.js';
export { powerIteration, spectralNorm, type PowerIteration, type PowerIterationOptions, type SpectralNormOptions } from './spectral.js';
export { inverseRoot, inverseRootAsync, type InverseRootOptions } from './inverseRoot.js';
export {
  orthogonalize,
  orthogonalizeAsync,
  spectralNormGrad,
  spectralNormGradAsync,
  type OrthogonalizeOptions,
} from './orthogonalize.js';
export {
  createOptimizer,
  optimizerFromConfig,
  stepMany,
  stepManyAsync,
  evalMode,
  trainMode,
  Optimizer,
  type Backend,
  type OptimizerConfig,
  type StepEntry,
  type ModeEntry,
  type StepManyOptions,
  type StepResult,
  type StepResults,
} from './optim/optimizer.js';
export type { Hyper, HyperInput } from './optim/hyper.js';
export { saveState, loadState, stateBytes, type OptimizerState } from './optim/state.js';
export { OPTIMIZER_DEFAULTS, RULES as OPTIMIZER_RULES, type RuleName } from './optim/defaults.js';
export { schedules, type Schedule, type ScheduleSpec, type BuiltinSchedule } from './schedules.js';
export { clipGradNorm, gradNorm, type GradNormOptions } from './clip.js';
