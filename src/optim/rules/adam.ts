// Adam (L2 weight decay) and AdamW (decoupled decay, applied before the moment step) with
// PyTorch's semantics, amsgrad included; cautious masking (cautious.ts) of the update m̂/(√v̂ + ε)
// against the gradient the moments see (G, plus λW with Adam's L2 decay).
import type { RuleName } from '../defaults.js';
import { ENTRIES, checkBetas, inRange, stateArray, type HyperOf, type RuleSpec } from '../rule.js';
import { cautiousScalars, checkCautious } from './cautious.js';

function adamLike<R extends 'adam' | 'adamw'>(rule: R): RuleSpec<R> {
  const decoupled = rule === 'adamw';
  return {
    kernel: 'adam',
    schedulable: ['lr', 'weightDecay', 'betas[0]'],
    check(h: HyperOf<RuleName & R>) {
      inRange(rule, 'lr', h.lr, 0, Infinity);
      checkBetas(rule, h.betas);
      inRange(rule, 'eps', h.eps, 0, Infinity, true);
      inRange(rule, 'weightDecay', h.weightDecay, 0, Infinity);
      checkCautious(rule, h);
    },
    decoupledDecay: (h) => decoupled && h.weightDecay !== 0,
    buffers(h, rows, cols) {
      const b: [string, number, number][] = [
        ['expAvg', rows * cols, 0],
        ['expAvgSq', rows * cols, 0],
      ];
      if (h.amsgrad) b.push(['maxExpAvgSq', rows * cols, 0]);
      return b;
    },
    state: {
      native: [stateArray('expAvg', ENTRIES), stateArray('expAvgSq', ENTRIES), stateArray('maxExpAvgSq', ENTRIES, 'optional')],
      reference: [stateArray('m', ENTRIES), stateArray('v', ENTRIES), stateArray('vmax', ENTRIES, 'optional')],
    },
    scalars(h, t) {
      const [beta1, beta2] = h.betas;
      return [
        beta1,
        beta2,
        h.eps,
        decoupled ? 0 : h.weightDecay,
        decoupled ? h.lr * h.weightDecay : 0,
        h.lr / (1 - beta1 ** t),
        Math.sqrt(1 - beta2 ** t),
        h.amsgrad ? 1 : 0,
        ...cautiousScalars(h),
      ];
    },
  };
}

export const adam = adamLike('adam');
export const adamw = adamLike('adamw');
