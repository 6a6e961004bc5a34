import { withCallerStack } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkChoice, checkDim, checkMatrix, checkOptions, type MatrixLike } from './validate.js';

export interface OrthogonalizeOptions {
  /**
   * 'newton-schulz' (default): Muon's quintic iteration X ← aX + (bA + cA²)X, A = XXᵀ, with
   * (a, b, c) = (3.4445, −4.7750, 2.0315) from X = G/(‖G‖_F + 1e-7); GEMMs only, singular values
   * end near [0.5, 1.5]. 'svd': the exact U·Vᵀ (over the nonzero singular values).
   */
  method?: 'newton-schulz' | 'svd';
  /** Newton-Schulz iterations (default 5). */
  steps?: number;
}

function args(g: MatrixLike, options: OrthogonalizeOptions | undefined, name: string) {
  checkMatrix(g, `${name}: g`);
  const o = checkOptions<OrthogonalizeOptions>(options, ['method', 'steps'], `${name}: options`);
  const method = checkChoice(o.method ?? 'newton-schulz', ['newton-schulz', 'svd'] as const, `${name}: method`);
  const steps = checkDim(o.steps ?? 5, `${name}: steps`);
  return [g.data, g.rows, g.cols, method, steps] as const;
}

/** ≈ U·Vᵀ for G = U·Σ·Vᵀ: the orthogonalised update of Muon. */
export function orthogonalize(g: MatrixLike, options?: OrthogonalizeOptions): Matrix {
  return new Matrix(g.rows, g.cols, native.addon.orthogonalize(...args(g, options, 'orthogonalize')));
}

/** `orthogonalize` off the event loop; the input is copied when the call is made. */
export function orthogonalizeAsync(g: MatrixLike, options?: OrthogonalizeOptions): Promise<Matrix> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    const a = args(g, options, 'orthogonalizeAsync');
    return new Matrix(g.rows, g.cols, await native.addon.orthogonalizeAsync(...a));
  });
}

/** σ₁u₁v₁ᵀ = ∇(½‖W‖₂²) = W·v₁v₁ᵀ (seed 000), from the SVD. */
export function spectralNormGrad(w: MatrixLike): Matrix {
  checkMatrix(w, 'spectralNormGrad: w');
  return new Matrix(w.rows, w.cols, native.addon.spectralNormGrad(w.data, w.rows, w.cols));
}

/** `spectralNormGrad` off the event loop; the input is copied when the call is made. */
export function spectralNormGradAsync(w: MatrixLike): Promise<Matrix> {
  const caller = new Error();
  return withCallerStack(caller, async () => {
    checkMatrix(w, 'spectralNormGradAsync: w');
    return new Matrix(w.rows, w.cols, await native.addon.spectralNormGradAsync(w.data, w.rows, w.cols));
  });
}
