// Entry-wise rules with whole-parameter work (schedule-free's running weight sums, computed once
// per entry by Prepare; LAMB's trust-ratio norms and cautious mask, summed per chunk before any
// chunk is written): on a parameter large enough to be split over the threads (at least 2^16
// entries), the native step agrees with the float64 reference as closely as on small ones.
import { describe, it } from 'vitest';

import { crossCheck, expectAgree } from './optim-helpers.js';

// The cross-check families' tolerances (test/optim.test.ts's K): adaptive 32, linear 16.
const CASES = [
  ['lamb', { lr: 0.01, weightDecay: 0.1 }, 32],
  ['lamb', { lr: 0.01, cautious: true, cautiousFactor: 0.5, weightDecay: 0.05 }, 32],
  ['schedule-free-adamw', { lr: 0.01, warmupSteps: 3, weightDecay: 0.1 }, 32],
  ['schedule-free-sgd', { lr: 0.05, warmupSteps: 3, weightDecay: 0.1 }, 16],
] as const;

describe('entry-wise rules with whole-parameter work, split over the threads', () => {
  it.each(CASES)('%s %j: 300×400 native = float64 reference over 8 steps', (rule, hyper, K) => {
    const report = crossCheck(rule, hyper, 300, 400, { steps: 8, seed: 5 });
    expectAgree(report, K, `${rule} ${JSON.stringify(hyper)}`);
  });
});
