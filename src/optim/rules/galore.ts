// GaLore-AdamW (jiaweizzhao/GaLore): AdamW on the gradient projected onto its top-`rank` singular
// vectors of the smaller side, refreshed every updateProjGap steps; weight decay after the step.
// Singular vectors are sign-normalised (largest-magnitude entry positive) so runs reproduce.
import { checkBetas, inRange, integerAtLeast, stateArray, type RuleSpec, type StateLength } from '../rule.js';

const rankOf = (rank: number, rows: number, cols: number) => Math.min(rank, rows, cols);

/** r·unit for some rank r in 1..min(rows, cols): the lengths a rank the state does not record allows. */
function rankMultiple(unit: number, rows: number, cols: number): StateLength {
  const most = unit * Math.min(rows, cols);
  return { what: `a multiple of ${unit} from ${unit} to ${most} (rank·${unit})`, test: (n) => n >= unit && n <= most && n % unit === 0 };
}
/** The projector: r×cols (rows >= cols) or rows×r. */
const projectorLength = (rows: number, cols: number) => rankMultiple(rows >= cols ? cols : rows, rows, cols);
/** The moments, of the projected gradient's shape: rows×r or r×cols. */
const projectedLength = (rows: number, cols: number) => rankMultiple(rows >= cols ? rows : cols, rows, cols);

export const galore: RuleSpec<'galore-adamw'> = {
  kernel: 'galore-adamw',
  schedulable: ['lr', 'weightDecay', 'betas[0]'],
  check(h) {
    inRange('galore-adamw', 'lr', h.lr, 0, Infinity);
    checkBetas('galore-adamw', h.betas);
    inRange('galore-adamw', 'eps', h.eps, 0, Infinity, true);
    inRange('galore-adamw', 'weightDecay', h.weightDecay, 0, Infinity);
    inRange('galore-adamw', 'scale', h.scale, 0, Infinity);
    integerAtLeast('galore-adamw', 'rank', h.rank, 1);
    integerAtLeast('galore-adamw', 'updateProjGap', h.updateProjGap, 1);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers(h, rows, cols) {
    const r = rankOf(h.rank, rows, cols);
    const projected = rows >= cols ? rows * r : r * cols;
    return [
      ['projector', rows >= cols ? r * cols : rows * r, 0],
      ['expAvg', projected, 0],
      ['expAvgSq', projected, 0],
    ];
  },
  state: {
    native: [stateArray('projector', projectorLength), stateArray('expAvg', projectedLength), stateArray('expAvgSq', projectedLength)],
    reference: [stateArray('P', projectorLength), stateArray('m', projectedLength), stateArray('v', projectedLength)],
  },
  scalars(h, t, rows, cols) {
    const [beta1, beta2] = h.betas;
    return [
      h.lr,
      beta1,
      beta2,
      h.eps,
      h.lr * h.weightDecay,
      ((h.lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t)) * h.scale,
      (t - 1) % h.updateProjGap === 0 ? 1 : 0,
      rankOf(h.rank, rows, cols),
      h.projector === 'randomized' ? 1 : 0,
    ];
  },
};
