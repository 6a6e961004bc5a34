// The native rules against golden trajectories recorded from PyTorch's own torch.optim classes
// (test/fixtures/torch-optim-goldens.json, made by make_optim_goldens.py with torch 2.13 CPU):
// the same initial parameter and gradients, 24 steps, on 1x7, 7x1, 6x6, 9x4 and 4x9.
//
// Measure, per step t: err_t = max_i |w_specopt − w_torch32| in units of u·S_t, with u = 2⁻²⁴ and
// S_t = Σ_{s≤t} (‖w64_s‖∞ + ‖Δw64_s‖∞) from torch's float64 run (the scale of optim-helpers.ts'
// cross-check: both float32 runs round each step's weight and update, so their distance grows by a
// few u·(|w| + |Δw|) per step). A mis-specified rule (a wrong bias correction, eps in the wrong
// place, a decay applied to the wrong weight) is off by orders of magnitude more: the test shows it
// on deliberately wrong hyperparameters.
import { describe, expect, it } from 'vitest';

import { createOptimizer, type RuleName } from '../src/index.js';
import { GOLDENS, decodeGolden, nativeGoldenUnits, type GoldenCase } from './goldens-helpers.js';

type Case = GoldenCase;

const decode = decodeGolden;

/** The native run of a case and its units against torch's float32 run (see the header). */
/**
 * The native run of a case and its units against torch's float32 run (see the header). Muon's
 * runs are chosen by their Newton-Schulz precision: 'float32' (torch's iteration run in the
 * parameter's dtype; the float64 scale from the 'float64' run) or 'bfloat16' (the real class).
 */
function units(c: Case, hyper: Record<string, unknown> = specoptHyper(c), ns: 'float32' | 'bfloat16' = 'float32') {
  const torch32 = c.runs.find((r) => r.dtype === 'float32' && (r.ns === undefined || r.ns === ns))!;
  const torch64 = c.runs.find((r) => r.dtype === 'float64' && (r.ns === undefined || r.ns === (ns === 'float32' ? 'float64' : ns)))!;
  const w32 = decode(torch32.w, 'float32');
  const w64 = decode(torch64.w, 'float64');
  const { units: worst, moved } = nativeGoldenUnits(c, hyper, w32, w64 as Float64Array);
  return { units: worst, moved };
}

/** The case's hyperparameters as specopt takes them: torch.optim.Muon is muon with epsMode 'max'. */
function specoptHyper(c: Case): Record<string, unknown> {
  return c.rule === 'muon' ? { ...c.hyper, epsMode: 'max' } : c.hyper;
}

// Tolerances in units of u·S_t (measured worst cases in the comment; a wrong rule below is
// more than 50 times outside).
// Measured: nadam 0.14, radam 0.01, adamax 0.09, adadelta 0.48, rprop 0 (bit for bit), muon 0.84
// (against torch's iteration in float32; against its real bfloat16 one: ~1000, see below),
// adafactor (variant 'torch') 1.08.
const K: Record<string, number> = { nadam: 4, radam: 4, adamax: 4, adadelta: 4, rprop: 1, muon: 4, adafactor: 4 };
const NATIVE = Object.keys(K);

describe(`golden trajectories from torch.optim (torch ${GOLDENS.torch})`, () => {
  for (const rule of NATIVE) {
    const cases = GOLDENS.cases.filter((c) => c.rule === rule);
    it(`${rule}: ${cases.length} cases (${[...new Set(cases.map((c) => c.label))].join('; ')}) within ${K[rule]} units of torch's float32 run`, () => {
      expect(cases.length).toBeGreaterThanOrEqual(10);
      let worst = 0;
      for (const c of cases) {
        const r = units(c);
        expect(r.moved, c.id).toBeGreaterThan(0);
        expect(r.units, `${c.id}: ${r.units.toFixed(2)} units`).toBeLessThanOrEqual(K[rule]);
        worst = Math.max(worst, r.units);
      }
      console.log(`${rule}: worst ${worst.toFixed(2)} units of u·S over ${cases.length} cases`);
    });
  }

  it("muon against torch.optim.Muon's bfloat16 iteration: loose by nature (measured and printed)", () => {
    const cases = GOLDENS.cases.filter((c) => c.rule === 'muon');
    let worst = 0;
    for (const c of cases) worst = Math.max(worst, units(c, specoptHyper(c), 'bfloat16').units);
    console.log(`muon vs torch's bfloat16 Newton-Schulz: worst ${worst.toFixed(0)} units of u·S over ${cases.length} cases`);
    // bfloat16 has 8 significant bits: its rounding, not the rule, separates the runs.
    expect(worst).toBeGreaterThan(K.muon);
    expect(worst).toBeLessThan(2 ** 16 * 24);
  });

  it('the defaults are torch\'s', async () => {
    const { OPTIMIZER_DEFAULTS } = await import('../src/index.js');
    const map: Record<string, [string, string][]> = {
      NAdam: [['lr', 'lr'], ['betas', 'betas'], ['eps', 'eps'], ['weight_decay', 'weightDecay'], ['momentum_decay', 'momentumDecay'], ['decoupled_weight_decay', 'decoupledWeightDecay']],
      RAdam: [['lr', 'lr'], ['betas', 'betas'], ['eps', 'eps'], ['weight_decay', 'weightDecay'], ['decoupled_weight_decay', 'decoupledWeightDecay']],
      Adamax: [['lr', 'lr'], ['betas', 'betas'], ['eps', 'eps'], ['weight_decay', 'weightDecay']],
      Adadelta: [['lr', 'lr'], ['rho', 'rho'], ['eps', 'eps'], ['weight_decay', 'weightDecay']],
      Rprop: [['lr', 'lr'], ['etas', 'etas'], ['step_sizes', 'stepSizes']],
    };
    for (const [cls, pairs] of Object.entries(map)) {
      const torch = GOLDENS.torchDefaults[cls.toLowerCase()];
      expect(torch, cls).toBeDefined();
      const ours = OPTIMIZER_DEFAULTS[cls.toLowerCase() as RuleName] as Record<string, unknown>;
      for (const [t, s] of pairs) expect(ours[s], `${cls}.${t}`).toEqual(torch[t]);
    }
    // Adafactor's variant 'torch' takes torch's defaults.
    const af = createOptimizer('adafactor', { variant: 'torch' }).hyper as Record<string, unknown>;
    const tf = GOLDENS.torchDefaults.adafactor;
    for (const [t, s] of [['lr', 'lr'], ['beta2_decay', 'beta2Decay'], ['eps', 'eps'], ['d', 'd'], ['weight_decay', 'weightDecay'], ['maximize', 'maximize']]) {
      expect(af[s], `Adafactor.${t}`).toEqual(tf[t]);
    }
    // Muon keeps KellerJordan's lr 0.02 and weight decay 0; the iteration's settings are torch's.
    const mu = OPTIMIZER_DEFAULTS.muon as Record<string, unknown>;
    const tm = GOLDENS.torchDefaults.muon;
    for (const [t, s] of [['momentum', 'momentum'], ['nesterov', 'nesterov'], ['ns_steps', 'nsSteps'], ['ns_coefficients', 'nsCoefficients']]) {
      expect(mu[s], `Muon.${t}`).toEqual(tm[t]);
    }
    // eps null: the coefficient set's own, torch's 1e-7 for the quintic (1e-6 for 'polar-express').
    const { newtonSchulzNorm } = await import('../src/optim/rules/muon.js');
    expect(mu.eps).toBeNull();
    expect(newtonSchulzNorm(mu as never), 'Muon.eps').toEqual({ eps: tm.eps, scale: 1 });
  });

  it('a wrong rule is far outside: a wrong bias correction, a wrong eps, a decay of the wrong kind', () => {
    const pick = (id: string) => GOLDENS.cases.find((c) => c.id === id)!;
    const wrongs: [Case, Record<string, unknown>][] = [
      [pick('nadam/defaults/6x6'), { ...pick('nadam/defaults/6x6').hyper, betas: [0.9, 0.99] }],
      [pick('radam/defaults/9x4'), { ...pick('radam/defaults/9x4').hyper, betas: [0.9, 0.99] }],
      [pick('rprop/defaults/6x6'), { ...pick('rprop/defaults/6x6').hyper, etas: [0.5, 1.25] }],
      [pick('adamax/defaults/4x9'), { ...pick('adamax/defaults/4x9').hyper, eps: 1e-2 }],
      [pick('adadelta/defaults/6x6'), { ...pick('adadelta/defaults/6x6').hyper, rho: 0.91 }],
    ];
    wrongs.push([pick('adafactor/defaults/6x6'), { ...pick('adafactor/defaults/6x6').hyper, beta2Decay: -0.7 }]);
    wrongs.push([pick('muon/defaults/9x4'), { ...specoptHyper(pick('muon/defaults/9x4')), adjustLr: 'match-rms-adamw' }]);
    const decoupled = GOLDENS.cases.find((c) => c.rule === 'nadam' && c.hyper.decoupledWeightDecay === true && c.shape[0] === 6)!;
    wrongs.push([decoupled, { ...decoupled.hyper, decoupledWeightDecay: false }]);
    for (const [c, hyper] of wrongs) expect(units(c, hyper).units, `${c.id} with ${JSON.stringify(hyper)}`).toBeGreaterThan(50 * K[c.rule]);
  });
});

describe('the torch.optim rules check their hyperparameters as torch does, naming them', () => {
  it.each([
    ['rprop', { etas: [1.2, 0.5] }, RangeError, /^createOptimizer: rprop: etas must be \[η₋, η₊\] with 0 < η₋ < 1 < η₊/],
    ['rprop', { stepSizes: [1, 0.5] }, RangeError, /^createOptimizer: rprop: stepSizes must be \[min, max\] with 0 <= min <= max/],
    ['rprop', { etas: [0.5] }, TypeError, /^createOptimizer: rprop: etas must be a pair of finite numbers/],
    ['radam', { betas: [1, 0.999] }, RangeError, /^createOptimizer: radam: betas\[0\] must be in \[0, 1\)/],
    ['nadam', { momentumDecay: -1 }, RangeError, /^createOptimizer: nadam: momentumDecay must be in \[0, Infinity\)/],
    ['adamax', { eps: 0 }, RangeError, /^createOptimizer: adamax: eps must be in \(0, Infinity\)/],
    ['adadelta', { rho: 1.5 }, RangeError, /^createOptimizer: adadelta: rho must be in \[0, 1\]/],
    ['adafactor', { variant: 'torch', d: 0.5 }, RangeError, /^createOptimizer: adafactor: d must be in \[1, Infinity\)/],
    ['adafactor', { variant: 'torch', relativeStep: false }, TypeError, /^createOptimizer: adafactor: relativeStep does not apply to variant 'torch'/],
    ['adafactor', { d: 2 }, TypeError, /^createOptimizer: adafactor: d does not apply to variant 'transformers'/],
    ['adafactor', { variant: 'keras' }, TypeError, /^createOptimizer: adafactor: variant must be 'transformers' \| 'torch'/],
    ['adafactor', { eps: [null, 1e-3] }, RangeError, /^createOptimizer: adafactor: eps\[0\] may be null only with variant 'torch'/],
    ['muon', { nsCoefficients: [[1, 2, 3]] }, RangeError, /^createOptimizer: muon: nsCoefficients must be one \[a, b, c\] of finite numbers, or nsSteps \(5\) of them/],
    ['muon', { epsMode: 'min' }, TypeError, /^createOptimizer: muon: epsMode must be 'add' \| 'max'/],
    ['muon', { eps: 0 }, RangeError, /^createOptimizer: muon: eps must be in \(0, Infinity\)/],
  ] as [RuleName, Record<string, unknown>, ErrorConstructor, RegExp][])('%s %j', (rule, hyper, Kind, message) => {
    expect(() => createOptimizer(rule, hyper as never)).toThrow(Kind);
    expect(() => createOptimizer(rule, hyper as never)).toThrow(message);
  });

  it('torch\'s Adafactor refuses a change of variant in setHyper; a config round-trips', async () => {
    const { optimizerFromConfig } = await import('../src/index.js');
    const opt = createOptimizer('adafactor', { variant: 'torch', weightDecay: 0.1 });
    // Refused (here by transformers' own check of the lr torch's variant had), nothing changed.
    expect(() => opt.setHyper({ variant: 'transformers' } as never)).toThrow(/^adafactor\.setHyper: /);
    expect(opt.hyper.variant).toBe('torch');
    expect(() => opt.setHyper({ variant: 'transformers', lr: null, eps: [1e-30, 1e-3] } as never)).toThrow(/^adafactor\.setHyper: variant, lr, eps cannot change during training \(it would change the native rule\)/);
    const again = optimizerFromConfig(JSON.parse(JSON.stringify(opt.config())));
    expect(again.hyperAt(3)).toEqual(opt.hyperAt(3));
  });
});
