// Cautious masking (Liang et al. 2024, "Cautious Optimizers", C-Optim), as lucidrains/lion-pytorch's
// cautious_lion.py applies it to an update u given the gradient G:
//   s_i = 1 where u_i·G_i > 0, else cautiousFactor;   s ← s / max(mean(s), 1e-5);   u ← u·s
// (the mean over the whole parameter).

import { bool, num, type Hyper } from './rule.js';

/** The factor of the disagreeing entries when cautious masking is on, else null. */
export function readCautious(h: Hyper): number | null {
  if (!bool(h, 'cautious')) return null;
  const f = num(h, 'cautiousFactor');
  if (!(f >= 0 && f <= 1)) throw new RangeError(`reference optimizer: cautiousFactor must be in [0, 1], got ${f}`);
  return f;
}

/** u ← u·s (see the header), in place. */
export function cautiousMask(u: Float64Array, G: Float64Array, factor: number): void {
  const n = u.length;
  if (n === 0) return;
  const s = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    s[i] = u[i]! * G[i]! > 0 ? 1 : factor;
    sum += s[i]!;
  }
  const mean = Math.max(sum / n, 1e-5);
  for (let i = 0; i < n; i++) u[i] = u[i]! * (s[i]! / mean);
}
