// The singular-value band each Newton-Schulz coefficient set reaches after 5 steps on a matrix of
// condition number 1e3 (docs/optimizers.md quotes these figures).
//
// G = U·diag(σ)·Vᵀ, 64×32, σ log-spaced from 1 to 1e-3 (32 values), U and V orthonormal (the
// float64 reference QR of seeded Gaussian matrices), rounded to float32. Each set orthogonalises
// G as Muon's 5-step iteration does: once natively (float32; one Muon step from W = 0 with lr 1,
// momentum 0, no Nesterov gives W = −√2·O on this tall matrix) and once by the float64 reference
// rule. The band is [min σᵢ(O), max σᵢ(O)] (singular values by the float64 reference SVD).
//
// In exact arithmetic σᵢ(O) = p(σᵢ/(s·‖G‖_F + ε)) with p the composition of the 5 polynomials,
// whatever U and V: ‖σ‖₂ = 1.67 here, so the normalised σ run from 0.60 down to 6.0e-4 (0.59 and
// 5.9e-4 with Polar Express's s = 1.01): the smallest fall below Polar Express's design interval
// [1e-3, 1] (its l = 1e-3).
// Measured (float32 native and float64 reference agree to 1e-5):
//   quintic (3.4445, −4.775, 2.0315):  [0.2876, 1.1946]
//   'polar-express' (nanochat):         [0.5588, 1.1361]
import { describe, expect, it } from 'vitest';

import { Matrix, createOptimizer } from '../src/index.js';
import { dense } from '../src/reference/dense.js';
import { referenceOptimizer } from '../src/reference/optim/index.js';
import { qr } from '../src/reference/qr.js';
import { svd } from '../src/reference/svd.js';
import { fullHyper } from './optim-helpers.js';

const [ROWS, COLS] = [64, 32];

function conditioned(): Float32Array {
  const orth = (m: number, n: number, seed: number) => qr(dense(m, n, Matrix.randn(m, n, seed).data)).Q;
  const Uq = orth(ROWS, COLS, 71);
  const Vq = orth(COLS, COLS, 72);
  const sigma = Array.from({ length: COLS }, (_, k) => 10 ** (-3 * (k / (COLS - 1))));
  const g = new Float32Array(ROWS * COLS);
  for (let i = 0; i < ROWS; i++)
    for (let j = 0; j < COLS; j++) {
      let s = 0;
      for (let k = 0; k < COLS; k++) s += Uq.data[i * COLS + k]! * sigma[k]! * Vq.data[j * COLS + k]!;
      g[i * COLS + j] = s;
    }
  return g;
}

function band(o: Float64Array): [number, number] {
  const { S } = svd(dense(ROWS, COLS, o));
  return [Math.min(...S), Math.max(...S)];
}

const ITERATION = { lr: 1, momentum: 0, nesterov: false, nsSteps: 5 };

function bands(nsCoefficients: unknown) {
  const g = conditioned();
  const s = Math.sqrt(ROWS / COLS);
  const opt = createOptimizer('muon', { ...ITERATION, nsCoefficients } as never);
  const w = Matrix.zeros(ROWS, COLS);
  opt.step(w, new Matrix(ROWS, COLS, g), opt.init(w));
  const native = band(Float64Array.from(w.data, (x) => -x / s));
  const ref = referenceOptimizer('muon', fullHyper('muon', { ...ITERATION, nsCoefficients }));
  const w64 = new Float64Array(ROWS * COLS);
  ref.step(w64, Float64Array.from(g), ROWS, COLS, ref.init(ROWS, COLS));
  const reference = band(w64.map((x) => -x / s));
  return { native, reference };
}

describe('the singular values after 5 Newton-Schulz steps on a 64x32 matrix of condition number 1e3', () => {
  it.each([
    ['the quintic (3.4445, −4.775, 2.0315)', [3.4445, -4.775, 2.0315], [0.2876, 1.1946]],
    ["'polar-express' (nanochat's triples, X/(1.01·‖X‖_F + 1e-6))", 'polar-express', [0.5588, 1.1361]],
  ] as const)('%s: the measured band', (_, nsCoefficients, [lo, hi]) => {
    const { native, reference } = bands(nsCoefficients);
    console.log(`${String(nsCoefficients)}: float32 [${native[0].toFixed(4)}, ${native[1].toFixed(4)}], float64 [${reference[0].toFixed(4)}, ${reference[1].toFixed(4)}]`);
    for (const [what, [mn, mx]] of [['float32', native], ['float64', reference]] as const) {
      // Loose around what was measured: the band's ends to 0.005.
      expect(Math.abs(mn - lo), `${what} min ${mn}`).toBeLessThan(5e-3);
      expect(Math.abs(mx - hi), `${what} max ${mx}`).toBeLessThan(5e-3);
    }
    expect(Math.abs(native[0] - reference[0]) + Math.abs(native[1] - reference[1])).toBeLessThan(1e-4);
  });

  it('Polar Express lifts the smallest singular values about twice as far toward 1, and overshoots 1 less', () => {
    const quintic = bands([3.4445, -4.775, 2.0315]).reference;
    const polar = bands('polar-express').reference;
    expect(polar[0]).toBeGreaterThan(1.8 * quintic[0]);
    expect(polar[1] - 1).toBeLessThan(quintic[1] - 1);
  });
});
