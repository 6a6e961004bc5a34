// The train and eval modes of the schedule-free rules (facebookresearch/schedule_free's
// optimizer.train() / optimizer.eval()). While training the parameter holds y; eval() writes x
// into it, train() writes y back, exactly as the reference does on float32 tensors:
//   eval:  p.lerp_(z, 1 − 1/β₁)   (x = y + (1 − 1/β₁)(z − y))
//   train: p.lerp_(z, 1 − β₁)     (y = x + (1 − β₁)(z − x))
// with torch's float32 lerp (one fused multiply-add, in the branch |w| < 0.5 or not), reproduced
// here with exactly rounded float32 arithmetic. The mode lives in the state (native: the last float
// of its 'group' buffer; reference: values.evalMode), so saveState/loadState keep it. Before the
// first update there is no z: only the mode changes, as in the reference.
import type { RuleName } from './defaults.js';
import { GROUP_MODE } from './rules/scheduleFree.js';
import type { OptimizerState } from './state.js';

/** The rules with train and eval modes. */
export const SCHEDULE_FREE_RULES: readonly RuleName[] = ['schedule-free-adamw', 'schedule-free-sgd'];

export function isScheduleFree(rule: RuleName): boolean {
  return rule === 'schedule-free-adamw' || rule === 'schedule-free-sgd';
}

/** β₁ of the interpolation y = β₁·x + (1 − β₁)·z (SGD's momentum). */
export function interpolationBeta(rule: RuleName, hyper: Record<string, unknown>): number {
  return rule === 'schedule-free-sgd' ? (hyper.momentum as number) : (hyper.betas as number[])[0];
}

const F32 = new Float32Array(1);
const BITS = new Uint32Array(F32.buffer);

/** The float32 next to f (a float32 value) towards +∞ (up) or −∞. */
function nextFloat(f: number, up: boolean): number {
  if (f === 0) return up ? 2 ** -149 : -(2 ** -149);
  F32[0] = f;
  BITS[0] += up === f > 0 ? 1 : -1;
  return F32[0];
}

/**
 * fmaf: a·b + c rounded once to float32, for float32 values a, b, c. a·b is exact in a double;
 * the double sum s and its exact error e (TwoSum) decide the rounding: fround(s) is the answer
 * unless s lies exactly halfway between two floats, where e says which side the exact sum is on.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const f = Math.fround(s);
  if (f === s || !Number.isFinite(s)) return f;
  const bp = s - p;
  const e = p - (s - bp) + (c - bp);
  if (e === 0) return f;
  const g = nextFloat(f, s > f);
  if (s !== (f + g) / 2) return f;
  return e > 0 === g > f ? g : f;
}

/** torch.lerp(self, end, w) on float32 values (w already a float32). */
export function lerpf(self: number, end: number, w: number): number {
  const d = Math.fround(end - self);
  return Math.abs(w) < 0.5 ? fmaf(w, d, self) : fmaf(Math.fround(w - 1), d, end);
}

/** True when the state is in eval mode (the parameter holds x). */
export function inEvalMode(state: OptimizerState): boolean {
  if (state.backend === 'native') return state.arrays.group[GROUP_MODE] !== 0;
  return state.values.evalMode === true;
}
