// Cautious masking (defaults.ts CAUTIOUS): the check and the two per-step scalars the native
// loops read (cautious 0/1, cautiousFactor); the mask's mean is taken natively, over the whole
// parameter, before any of it is written (native/optimizer.cpp, Run).
import { inRange } from '../rule.js';

export interface CautiousHyper {
  readonly cautious: boolean;
  readonly cautiousFactor: number;
}

export function checkCautious(rule: string, h: CautiousHyper): void {
  inRange(rule, 'cautiousFactor', h.cautiousFactor, 0, 1, false, false);
}

export function cautiousScalars(h: CautiousHyper): [number, number] {
  return [h.cautious ? 1 : 0, h.cautiousFactor];
}
