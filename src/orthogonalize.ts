import { runAsync } from './async.js';
import { Matrix } from './matrix.js';
import { native } from './native.js';
import { checkChoice, checkDim, orDefault, readMatrix, readOptions, withName, type MatrixLike } from './validate.js';

/** Options of {@link orthogonalize} and {@link orthogonalizeAsync}. */
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

const KNOWN = ['method', 'steps'] as const;

function args(g: unknown, options: unknown, name: string) {
  const G = readMatrix(g, `${name}: g`);
  const [rawMethod, rawSteps] = readOptions(options, KNOWN, `${name}: options`);
  const method = checkChoice(orDefault(rawMethod, 'newton-schulz'), ['newton-schulz', 'svd'] as const, `${name}: method`);
  const steps = checkDim(orDefault(rawSteps, 5), `${name}: steps`);
  return [G.data, G.rows, G.cols, method, steps] as const;
}

/**
 * ≈ U·Vᵀ for G = U·Σ·Vᵀ: the orthogonalised update of Muon. NaN or Infinity in G is a
 * RangeError; every message starts with "orthogonalize: ".
 */
export function orthogonalize(g: MatrixLike, options?: OrthogonalizeOptions): Matrix {
  try {
    const a = args(g, options, 'orthogonalize');
    return new Matrix(a[1], a[2], native.addon.orthogonalize(...a));
  } catch (error) {
    throw withName(error, 'orthogonalize');
  }
}

/**
 * `orthogonalize` off the event loop; the input is copied when the call is made (on a
 * SharedArrayBuffer: when its job starts). Never throws: bad arguments and failures reject, with
 * `orthogonalize`'s error under "orthogonalizeAsync: ".
 */
export function orthogonalizeAsync(g: MatrixLike, options?: OrthogonalizeOptions): Promise<Matrix> {
  return runAsync('orthogonalizeAsync', async () => {
    const a = args(g, options, 'orthogonalizeAsync');
    return new Matrix(a[1], a[2], await native.addon.orthogonalizeAsync(...a));
  });
}

/**
 * σ₁u₁v₁ᵀ = ∇(½‖W‖₂²) = W·v₁v₁ᵀ (seed 000), from the SVD. NaN or Infinity in W is a RangeError;
 * every message starts with "spectralNormGrad: ".
 */
export function spectralNormGrad(w: MatrixLike): Matrix {
  try {
    const W = readMatrix(w, 'spectralNormGrad: w');
    return new Matrix(W.rows, W.cols, native.addon.spectralNormGrad(W.data, W.rows, W.cols));
  } catch (error) {
    throw withName(error, 'spectralNormGrad');
  }
}

/**
 * `spectralNormGrad` off the event loop; the input is copied when the call is made (on a
 * SharedArrayBuffer: when its job starts). Never throws: bad arguments and failures reject, with
 * the error under "spectralNormGradAsync: ".
 */
export function spectralNormGradAsync(w: MatrixLike): Promise<Matrix> {
  return runAsync('spectralNormGradAsync', async () => {
    const W = readMatrix(w, 'spectralNormGradAsync: w');
    return new Matrix(W.rows, W.cols, await native.addon.spectralNormGradAsync(W.data, W.rows, W.cols));
  });
}
