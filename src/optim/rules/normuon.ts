// NorMuon (Li et al. 2025; zichongli5/NorMuon `normuon_update`, `SingleDeviceNorMuon`): Muon's
// orthogonalised update O divided row by row by √V + 1e-10, V an EMA (β₂) of the rows' mean
// square of O, then rescaled to ‖O‖_F; scaled by √max(1, rows/cols); decoupled weight decay.
// The Newton-Schulz options are Muon's (the reference's iteration is KellerJordan's quintic).
import { ENTRIES, inRange, stateArray, type RuleSpec } from '../rule.js';
import { checkNewtonSchulz, newtonSchulzScalars, shapeScale } from './muon.js';

const ROWS = (rows: number): number => rows;

export const normuon: RuleSpec<'normuon'> = {
  kernel: 'normuon',
  schedulable: ['lr', 'weightDecay', 'momentum', 'beta2'],
  check(h) {
    inRange('normuon', 'lr', h.lr, 0, Infinity);
    inRange('normuon', 'momentum', h.momentum, 0, 1);
    inRange('normuon', 'beta2', h.beta2, 0, 1);
    inRange('normuon', 'weightDecay', h.weightDecay, 0, Infinity);
    checkNewtonSchulz('normuon', h);
  },
  decoupledDecay: (h) => h.weightDecay !== 0,
  buffers: (_h, rows, cols) => [
    ['momentumBuffer', rows * cols, 0],
    ['secondMomentumBuffer', rows, 0],
  ],
  state: {
    native: [stateArray('momentumBuffer', ENTRIES), stateArray('secondMomentumBuffer', ROWS)],
    reference: [stateArray('momentumBuffer', ENTRIES), stateArray('secondMomentumBuffer', ROWS)],
  },
  scalars(h, _t, rows, cols) {
    return [h.lr, h.momentum, h.nesterov ? 1 : 0, shapeScale(h.adjustLr, rows, cols), h.lr * h.weightDecay, h.beta2, ...newtonSchulzScalars('normuon', h)];
  },
};
