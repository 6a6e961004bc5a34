// Gradient norms and clipping by the total norm, torch.nn.utils.clip_grad_norm_'s semantics: the
// norm of all gradients as if concatenated, accumulated in float64 (exact enough for any float32
// input: squares of float32 values neither overflow nor underflow a double).
import { checkNumber, describe, readMatrix, readOptions, type MatrixLike } from './validate.js';

/** Options of gradNorm and clipGradNorm. */
export interface GradNormOptions {
  /** 2 (default) or Infinity (the largest |g|). */
  normType?: number;
}

function grads(value: unknown, fn: string): Float32Array[] {
  if (!Array.isArray(value)) throw new TypeError(`${fn}: grads must be an array of matrices, got ${describe(value)}`);
  const data = value.map((g, i) => readMatrix(g, `${fn}: grads[${i}]`).data);
  // One array twice would be counted, and scaled, twice.
  const seen = new Map<Float32Array, number>();
  data.forEach((d, i) => {
    const j = seen.get(d);
    if (j !== undefined) throw new RangeError(`${fn}: grads[${i}] is the same array as grads[${j}]`);
    seen.set(d, i);
  });
  return data;
}

function normType(options: unknown, fn: string): 2 | typeof Infinity {
  const [given] = readOptions(options, ['normType'], `${fn}: options`);
  const p = given ?? 2;
  if (p !== 2 && p !== Infinity) throw new RangeError(`${fn}: normType must be 2 or Infinity, got ${describe(p)}`);
  return p;
}

/**
 * @internal One gradient's part of the total norm: Σg² (normType 2) or the largest |g|; NaN or
 * Infinity when it holds either (Math.max propagates NaN).
 */
export function normPart(g: Float32Array, p: 2 | typeof Infinity): number {
  let x = 0;
  if (p === Infinity) for (let i = 0; i < g.length; i++) x = Math.max(x, Math.abs(g[i]));
  else for (let i = 0; i < g.length; i++) x += g[i] * g[i];
  return x;
}

function total(data: Float32Array[], p: 2 | typeof Infinity): number {
  let t = 0;
  for (const g of data) t = p === Infinity ? Math.max(t, normPart(g, p)) : t + normPart(g, p);
  return p === Infinity ? t : Math.sqrt(t);
}

/** The total norm of `grads` (2-norm of all their entries together, or the largest |g|). */
export function gradNorm(grads_: readonly MatrixLike[], options?: GradNormOptions): number {
  return total(grads(grads_, 'gradNorm'), normType(options, 'gradNorm'));
}

/**
 * Clips `grads` in place by their total norm, as torch.nn.utils.clip_grad_norm_: every gradient
 * is multiplied by min(1, maxNorm / (total + 1e-6)) when that is below 1. Returns the total norm
 * before clipping. A total that is not finite (NaN or Infinity in a gradient) is a RangeError and
 * no gradient is changed.
 */
export function clipGradNorm(grads_: readonly MatrixLike[], maxNorm: number, options?: GradNormOptions): number {
  const data = grads(grads_, 'clipGradNorm');
  if (!(checkNumber(maxNorm, 'clipGradNorm: maxNorm') > 0)) throw new RangeError(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const norm = total(data, normType(options, 'clipGradNorm'));
  if (!Number.isFinite(norm)) {
    throw new RangeError(`clipGradNorm: the total norm is ${norm} (a gradient holds NaN or Infinity); no gradient was changed`);
  }
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    const f = Math.fround(scale);
    for (const g of data) for (let i = 0; i < g.length; i++) g[i] *= f;
  }
  return norm;
}
