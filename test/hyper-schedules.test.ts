// Hyperparameters that change during training: schedules given to createOptimizer, setHyper,
// hyperAt, and optimizer configs in checkpoints. The native scheduled runs are held to the float64
// reference (which evaluates the schedules itself, src/reference/optim/index.ts) with the
// cross-check of optim-helpers.ts, and to runs that set each step's value by hand.
import { describe, expect, it } from 'vitest';

import {
  Matrix,
  createOptimizer,
  loadState,
  optimizerFromConfig,
  saveState,
  schedules,
  stepMany,
  type Optimizer,
  type OptimizerState,
  type RuleName,
  type Schedule,
} from '../src/index.js';
import { RULE_SPECS } from '../src/optim/rules/index.js';
import { referenceOptimizer } from '../src/reference/optim/index.js';
import { crossCheck, expectAgree, fullHyper, gradients, sameBits } from './optim-helpers.js';

type H = Record<string, unknown>;

const warm = schedules.warmupCosine({ from: 1e-4, peak: 3e-3, warmupSteps: 5, totalSteps: 24, to: 1e-4 });
const SHAPES: [number, number][] = [
  [1, 9],
  [9, 1],
  [7, 7],
  [12, 5],
  [5, 12],
];

// Scheduled runs of several rules: the tolerance families of optim.test.ts (units of u·S).
const CASES: { rule: RuleName; hyper: H; K: number }[] = [
  { rule: 'adamw', hyper: { lr: warm, weightDecay: schedules.linear({ from: 0, to: 0.2, steps: 10 }), betas: [schedules.linear({ from: 0.8, to: 0.95, steps: 12 }), 0.999] }, K: 32 },
  { rule: 'adam', hyper: { lr: schedules.step({ from: 1e-2, every: 6, gamma: 0.5 }), weightDecay: 0.01 }, K: 32 },
  { rule: 'sgd', hyper: { lr: schedules.cosine({ from: 0.05, steps: 20 }), momentum: 0.9, nesterov: true }, K: 16 },
  { rule: 'muon', hyper: { lr: schedules.wsd({ peak: 0.02, warmupSteps: 3, stableSteps: 10, decaySteps: 8, shape: 'sqrt' }), momentum: schedules.linear({ from: 0.85, to: 0.95, steps: 15 }), weightDecay: 0.1 }, K: 32 },
  { rule: 'normuon', hyper: { lr: schedules.cosine({ from: 0.02, steps: 24 }), beta2: schedules.linear({ from: 0.5, to: 0.95, steps: 12 }), weightDecay: schedules.linear({ from: 0, to: 0.1, steps: 10 }) }, K: 32 },
  { rule: 'adafactor', hyper: { lr: schedules.exponential({ from: 1e-2, rate: 0.9 }), relativeStep: false, beta1: schedules.constant(0.9) }, K: 32 },
  { rule: 'rmsprop', hyper: { lr: schedules.oneCycle({ peak: 1e-2, totalSteps: 24 }) }, K: 32 },
  { rule: 'soap', hyper: { lr: warm, betas: [schedules.linear({ from: 0.9, to: 0.95, steps: 10 }), 0.95], preconditionFrequency: 4 }, K: 64 },
  { rule: 'galore-adamw', hyper: { lr: warm, rank: 2, updateProjGap: 5, weightDecay: 0.05 }, K: 64 },
  { rule: 'lamb', hyper: { lr: warm, weightDecay: schedules.linear({ from: 0, to: 0.1, steps: 10 }), betas: [schedules.linear({ from: 0.8, to: 0.95, steps: 12 }), 0.999] }, K: 32 },
  // A scheduled lr on top of the reference's own warm-up, lr_max and (k + 1)^r·lr_max² weights.
  { rule: 'schedule-free-adamw', hyper: { lr: schedules.cosine({ from: 0.02, steps: 24 }), warmupSteps: 4, r: 1, weightDecay: schedules.linear({ from: 0, to: 0.1, steps: 10 }) }, K: 32 },
  { rule: 'schedule-free-sgd', hyper: { lr: schedules.step({ from: 0.1, every: 6, gamma: 0.5 }), warmupSteps: 3, r: 0.5 }, K: 16 },
];

describe('scheduled hyperparameters: native against the float64 reference', () => {
  for (const c of CASES) {
    // soap on vectors is Adam (no rotation): its matrix shapes only.
    const shapes = c.rule === 'soap' ? SHAPES.filter(([r, k]) => r > 1 && k > 1) : SHAPES;
    it.each(shapes)(`${c.rule} ${Object.keys(c.hyper).join(', ')} on %ix%i over 24 steps`, (rows, cols) => {
      const report = crossCheck(c.rule, c.hyper, rows, cols, { steps: 24, seed: rows * 31 + cols });
      expectAgree(report, c.K, `${c.rule} scheduled on ${rows}x${cols}`);
      expect(report.moved).toBeGreaterThan(0);
      expect(report.gradsUntouched).toBe(true);
    });
  }

  it('a reference that ignored the schedule (the value at count 0 throughout) is caught', () => {
    // The same cross-check with the reference held at lr(0) must fail by far: it shows the
    // schedule reaches the native step and the check can tell.
    const lr = schedules.linear({ from: 1e-3, to: 1e-2, steps: 20 });
    const report = crossCheck('adamw', { lr }, 7, 7, { steps: 20 });
    expectAgree(report, 32, 'adamw with a linear lr');
    const frozen = crossCheck('adamw', { lr }, 7, 7, { steps: 20, reference: referenceOptimizer('adamw', fullHyper('adamw', { lr: 1e-3 })) });
    expect(frozen.units).toBeGreaterThan(100 * 32);
  });
});

/** A run of `steps` updates of a rows x cols parameter from seed; `before(t, opt)` runs before step t. */
function run(opt: Optimizer, rows: number, cols: number, steps: number, before?: (t: number, o: Optimizer, s: OptimizerState) => void) {
  const param = Matrix.randn(rows, cols, 5);
  const state = opt.init(param);
  const grads = gradients(rows, cols, steps, 3);
  // One entries array every step (its batch is kept); the gradient's values change in place.
  const grad = Matrix.zeros(rows, cols);
  const entries = [{ optimizer: opt, param, grad, state }];
  for (let t = 0; t < steps; t++) {
    before?.(t, opt, state);
    grad.data.set(grads[t].data);
    stepMany(entries);
  }
  return { param, state };
}

describe('the value an update uses is the schedule at the state count', () => {
  it.each(['adamw', 'muon', 'sgd', 'soap', 'lamb', 'schedule-free-adamw', 'schedule-free-sgd'] as RuleName[])('%s: a scheduled lr gives the same bits as setting each step\'s lr by hand', (rule) => {
    const lr = schedules.warmupCosine({ peak: 0.01, warmupSteps: 4, totalSteps: 16 });
    const scheduled = run(createOptimizer(rule, { lr } as never), 6, 8, 16);
    const byHand = run(createOptimizer(rule, { lr: lr(0) } as never), 6, 8, 16, (t, o) => o.setHyper({ lr: lr(t) } as never));
    expect(sameBits(scheduled.param.data, byHand.param.data)).toBe(true);
    expect(scheduled.state.step).toBe(16);
  });

  it('a kept stepMany batch (the same entries array every step) reads the new value each step', () => {
    const lr = schedules.step({ from: 0.1, every: 1, gamma: 0.5 });
    const opt = createOptimizer('sgd', { lr });
    const param = Matrix.from(1, 1, [0]);
    const grad = Matrix.from(1, 1, [1]);
    const entries = [{ optimizer: opt, param, grad, state: opt.init(param) }];
    const seen: number[] = [];
    for (let t = 0; t < 5; t++) {
      const before = param.data[0];
      stepMany(entries);
      seen.push(before - param.data[0]);
    }
    seen.forEach((d, t) => expect(Math.abs(d - 0.1 * 0.5 ** t)).toBeLessThanOrEqual(1e-8));
  });

  it('each state reads its own count: a parameter added later starts at count 0', () => {
    const lr = schedules.linear({ from: 0, to: 1, steps: 10 });
    const opt = createOptimizer('sgd', { lr });
    const a = Matrix.from(1, 1, [0]), b = Matrix.from(1, 1, [0]);
    const g = Matrix.from(1, 1, [1]);
    const sa = opt.init(a);
    for (let t = 0; t < 5; t++) stepMany([{ optimizer: opt, param: a, grad: g, state: sa }]);
    const sb = opt.init(b);
    const beforeA = a.data[0];
    stepMany([
      { optimizer: opt, param: a, grad: g, state: sa },
      { optimizer: opt, param: b, grad: g, state: sb },
    ]);
    expect(beforeA - a.data[0]).toBeCloseTo(0.5, 6); // count 5
    expect(b.data[0]).toBe(0); // count 0: lr 0
    expect(opt.hyperAt(5).lr).toBe(0.5);
    expect(opt.hyperAt(0).lr).toBe(0);
  });

  it('hyperAt gives every hyperparameter with the schedules evaluated, and refuses a bad count', () => {
    const opt = createOptimizer('adamw', { lr: warm, betas: [schedules.constant(0.85), 0.99] });
    const h = opt.hyperAt(7);
    expect(h.lr).toBe(warm(7));
    expect(h.betas).toEqual([0.85, 0.99]);
    expect(h.weightDecay).toBe(0.01);
    expect(h.eps).toBe(1e-8);
    expect(Object.isFrozen(h)).toBe(true);
    expect(typeof opt.hyper.lr).toBe('function');
    for (const bad of [-1, 1.5, NaN, '3']) expect(() => opt.hyperAt(bad as number)).toThrow(/^adamw\.hyperAt: count must be a non-negative integer/);
    const plain = createOptimizer('adamw', { lr: 1e-3 });
    expect(plain.hyperAt(123).lr).toBe(1e-3);
  });

  it('a schedule is called once per count it is used for', () => {
    let calls = 0;
    const lr: Schedule = (c) => {
      calls++;
      return 1e-3 / (1 + c);
    };
    const opt = createOptimizer('adam', { lr });
    const params = Array.from({ length: 20 }, (_, k) => Matrix.randn(3, 3, k));
    const entries = params.map((param) => ({ optimizer: opt, param, grad: Matrix.randn(3, 3, 99), state: opt.init(param) }));
    calls = 0;
    for (let t = 0; t < 5; t++) stepMany(entries);
    expect(calls).toBe(5);
  });
});

describe('schedules are checked as numbers are', () => {
  it('a user schedule leaving the range is a RangeError at the step that would use it, with nothing written', () => {
    const lr: Schedule = (c) => 1e-2 - c * 4e-3; // negative from count 3 on
    const opt = createOptimizer('adamw', { lr });
    const param = Matrix.randn(4, 4, 1);
    const state = opt.init(param);
    const grad = Matrix.randn(4, 4, 2);
    for (let t = 0; t < 3; t++) opt.step(param, grad, state);
    const before = { w: param.data.slice(), m: (state.arrays.expAvg as Float32Array).slice(), step: state.step };
    expect(() => opt.step(param, grad, state)).toThrow(new RangeError('adamw.step: lr must be in [0, Infinity), got -0.002 (at count 3, from the schedule of lr)'));
    expect(() => stepMany([{ optimizer: opt, param, grad, state }])).toThrow(/^stepMany: entry 0 \(adamw\): lr must be in \[0, Infinity\), got -0\.002 \(at count 3/);
    expect(sameBits(param.data, before.w)).toBe(true);
    expect(sameBits(state.arrays.expAvg as Float32Array, before.m)).toBe(true);
    expect(state.step).toBe(before.step);
  });

  it('non-finite or non-number values, at creation (count 0) and later', () => {
    expect(() => createOptimizer('sgd', { lr: () => NaN })).toThrow(new RangeError('createOptimizer: sgd: the schedule of lr gave NaN at count 0; it must give finite numbers'));
    expect(() => createOptimizer('sgd', { lr: (() => '1') as never })).toThrow(TypeError);
    const opt = createOptimizer('sgd', { lr: (c) => (c < 2 ? 0.1 : Infinity) });
    expect(() => opt.hyperAt(2)).toThrow(/^sgd\.hyperAt: the schedule of lr gave Infinity at count 2/);
    const muon = createOptimizer('muon', { momentum: schedules.linear({ from: 0.9, to: 1.5, steps: 10 }) });
    expect(() => muon.hyperAt(9)).toThrow(/^muon\.hyperAt: momentum must be in \[0, 1\), got .* \(at count 9, from the schedule of momentum\)/);
  });

  it('only the schedulable hyperparameters take schedules; the error lists them', () => {
    const s = schedules.constant(0.9);
    expect(() => createOptimizer('sgd', { momentum: s })).toThrow(
      new TypeError('createOptimizer: sgd: momentum cannot be a schedule (sgd takes schedules for lr, weightDecay; the others are fixed when the optimizer is made)'),
    );
    expect(() => createOptimizer('adam', { betas: [0.9, s] as never })).toThrow(/^createOptimizer: adam: betas\[1\] cannot be a schedule/);
    expect(() => createOptimizer('galore-adamw', { rank: s as never })).toThrow(/rank cannot be a schedule/);
    expect(() => createOptimizer('shampoo', { betas: [s, 1] as never })).toThrow(/betas\[0\] cannot be a schedule/);
    expect(() => createOptimizer('adafactor', { lr: s })).toThrow(/a manual lr cannot be combined with relativeStep: true/);
  });

  it('every rule schedules lr, and every listed name is a hyperparameter of the rule', async () => {
    const { DEFAULTS } = await import('../src/optim/defaults.js');
    for (const [rule, spec] of Object.entries(RULE_SPECS)) {
      // Rprop's lr is only its step sizes' initial value (as in torch): nothing to schedule.
      if (rule === 'rprop') {
        expect(spec.schedulable).toEqual([]);
        continue;
      }
      expect(spec.schedulable[0], rule).toBe('lr');
      for (const name of spec.schedulable) {
        const key = name.replace(/\[\d+\]$/, '');
        expect(Object.keys(DEFAULTS[rule as RuleName]), `${rule}: ${name}`).toContain(key);
        const hyper: H = rule === 'adafactor' ? { relativeStep: false, lr: 1e-2 } : {};
        const value = schedules.constant(name === 'weightDecay' ? 0.01 : name === 'lr' ? 1e-3 : 0.9);
        if (name.endsWith(']')) hyper[key] = [value, ...(DEFAULTS[rule as RuleName] as H)[key] as number[]].filter((_, i) => i !== 1);
        else hyper[key] = value;
        const opt = createOptimizer(rule as RuleName, hyper as never);
        const param = Matrix.randn(4, 3, 1);
        opt.step(param, Matrix.randn(4, 3, 2), opt.init(param));
      }
    }
  });
});

describe('setHyper', () => {
  it('changes values from the next step on, checked as createOptimizer checks them', () => {
    const opt = createOptimizer('sgd', { lr: 0.1 });
    const param = Matrix.from(1, 1, [0]);
    const grad = Matrix.from(1, 1, [1]);
    const entries = [{ optimizer: opt, param, grad, state: opt.init(param) }];
    stepMany(entries);
    expect(param.data[0]).toBeCloseTo(-0.1, 7);
    opt.setHyper({ lr: 0.01 });
    stepMany(entries); // the same entries array: its kept batch is rebuilt after setHyper
    expect(param.data[0]).toBeCloseTo(-0.11, 7);
    opt.setHyper({ lr: schedules.constant(1) });
    stepMany(entries);
    expect(param.data[0]).toBeCloseTo(-1.11, 6);
    expect(() => opt.setHyper({ lr: -1 })).toThrow(new RangeError('sgd.setHyper: lr must be in [0, Infinity), got -1'));
    expect(() => opt.setHyper({ lrr: 1 } as never)).toThrow(/^sgd\.setHyper: unknown hyperparameter 'lrr'/);
    expect(() => opt.setHyper(null as never)).toThrow(/^sgd\.setHyper: changes must be an object/);
    expect(opt.hyperAt(0).lr).toBe(1); // the failed calls changed nothing
  });

  it.each([
    ['sgd', { momentum: 0 }, { momentum: 0.9 }, 'momentum'],
    ['sgd', { momentum: 0.9 }, { momentum: 0 }, 'momentum'],
    ['rmsprop', {}, { centered: true }, 'centered'],
    ['adam', {}, { amsgrad: true }, 'amsgrad'],
    ['adam-mini', {}, { blocks: 'cols' }, 'blocks'],
    ['adafactor', {}, { beta1: 0.9 }, 'beta1'],
    ['galore-adamw', {}, { rank: 4 }, 'rank'],
    ['shampoo', {}, { maxPreconditionerDim: 4 }, 'maxPreconditionerDim'],
    ['shampoo', {}, { grafting: 'adam' }, 'grafting'],
    ['shampoo', {}, { betas: [0, 1] }, 'betas'],
    ['soap', {}, { maxPreconditionerDim: 100 }, 'maxPreconditionerDim'],
    ['adamw', {}, { weightDecayNorm: 'spectral' }, 'weightDecayNorm'],
    ['adamw', { weightDecayNorm: 'spectral', spectralWarmStart: true }, { spectralWarmStart: false }, 'spectralWarmStart'],
    ['adamw', { weightDecayNorm: 'spectral' }, { weightDecay: 0 }, 'weightDecay'],
  ] as [RuleName, H, H, string][])('%s %j: setHyper(%j) is refused, naming %s, and changes nothing', (rule, start, change, name) => {
    const opt = createOptimizer(rule, start as never);
    const before = JSON.stringify(opt.config());
    expect(() => opt.setHyper(change as never)).toThrow(new RegExp(`^${rule}\\.setHyper: ${name} cannot change during training \\(.+\\); make a new optimizer and states for it$`));
    expect(JSON.stringify(opt.config())).toBe(before);
  });

  it('a change that keeps the layout is taken: sgd momentum 0.9 → 0.5, soap preconditionFrequency, muon nsSteps', () => {
    const sgd = createOptimizer('sgd', { momentum: 0.9 });
    sgd.setHyper({ momentum: 0.5, nesterov: true });
    expect(sgd.hyperAt(0).momentum).toBe(0.5);
    createOptimizer('soap').setHyper({ preconditionFrequency: 3, eps: 1e-6 });
    createOptimizer('muon').setHyper({ nsSteps: 3, method: 'svd' });
  });

  it('on the reference backend too, and the reference step reads the new value', () => {
    const nat = createOptimizer('adamw', { lr: 1e-2 });
    const ref = createOptimizer('adamw', { lr: 1e-2 }, { backend: 'reference' });
    const p1 = Matrix.randn(5, 4, 1), p2 = Matrix.randn(5, 4, 1);
    const s1 = nat.init(p1), s2 = ref.init(p2);
    const grads = gradients(5, 4, 10, 2);
    for (let t = 0; t < 10; t++) {
      if (t === 5) {
        nat.setHyper({ lr: 1e-3 });
        ref.setHyper({ lr: 1e-3 });
      }
      nat.step(p1, grads[t], s1);
      ref.step(p2, grads[t], s2);
    }
    let diff = 0;
    for (let i = 0; i < p1.data.length; i++) diff = Math.max(diff, Math.abs(p1.data[i] - p2.data[i]));
    expect(diff).toBeLessThan(1e-6);
    expect(() => ref.setHyper({ amsgrad: true })).toThrow(/amsgrad cannot change during training/);
  });
});

describe('configs: built-in schedules are data, a resumed run is bit-identical', () => {
  it('config() is JSON; optimizerFromConfig makes the same optimizer', () => {
    const opt = createOptimizer('muon', {
      lr: schedules.join([schedules.linear({ from: 0, to: 0.02, steps: 5 }), schedules.cosine({ from: 0.02, steps: 20 })], [5]),
      momentum: schedules.linear({ from: 0.85, to: 0.95, steps: 10 }),
    });
    const json = JSON.parse(JSON.stringify(opt.config()));
    expect(json.hyper.lr).toEqual({ schedule: { kind: 'join', args: { parts: [{ kind: 'linear', args: { from: 0, to: 0.02, steps: 5 } }, { kind: 'cosine', args: { from: 0.02, to: 0, steps: 20 } }], boundaries: [5] } } });
    const again = optimizerFromConfig(json);
    for (let c = 0; c < 30; c++) expect(again.hyperAt(c)).toEqual(opt.hyperAt(c));
    expect(again.config()).toEqual(json);
  });

  it('a run saved at step 12 and resumed from its config and states equals the run that never stopped', () => {
    const hyper = { lr: warm, weightDecay: schedules.linear({ from: 0.1, to: 0, steps: 24 }), betas: [schedules.linear({ from: 0.8, to: 0.9, steps: 10 }), 0.999] };
    const grads = [gradients(6, 5, 24, 1), gradients(1, 5, 24, 2)];
    const through = createOptimizer('adamw', hyper as never);
    const params = [Matrix.randn(6, 5, 3), Matrix.randn(1, 5, 4)];
    const states = params.map((p) => through.init(p));
    const resumedParams = params.map((p) => Matrix.from(p.rows, p.cols, p.data));
    let saved: { config: string; states: Uint8Array[]; params: Float32Array[] } | undefined;
    for (let t = 0; t < 24; t++) {
      if (t === 12) saved = { config: JSON.stringify(through.config()), states: states.map(saveState), params: params.map((p) => p.data.slice()) };
      stepMany(params.map((param, k) => ({ optimizer: through, param, grad: grads[k][t], state: states[k] })));
    }
    const resumed = optimizerFromConfig(JSON.parse(saved!.config));
    const rStates = saved!.states.map(loadState);
    saved!.params.forEach((d, k) => resumedParams[k].data.set(d));
    for (let t = 12; t < 24; t++) stepMany(resumedParams.map((param, k) => ({ optimizer: resumed, param, grad: grads[k][t], state: rStates[k] })));
    params.forEach((p, k) => expect(sameBits(p.data, resumedParams[k].data)).toBe(true));
  });

  it("a user function cannot be saved: config() says so; fromSpec of a join with one is refused", () => {
    const opt = createOptimizer('sgd', { lr: (c) => 0.1 / (1 + c) });
    expect(() => opt.config()).toThrow(/^sgd\.config: lr is a schedule function of the user's, which cannot be saved as data/);
    const joined = schedules.join([(c) => c, schedules.constant(1)], [3]);
    expect(() => createOptimizer('sgd', { lr: joined }).config()).toThrow(TypeError);
    expect(() => schedules.fromSpec(joined.spec)).toThrow(/^schedules\.fromSpec: join part 0 is a function of the user's/);
    expect(() => optimizerFromConfig({ rule: 'sgd', backend: 'native', hyper: { lr: { schedule: { kind: 'nope', args: {} } } } })).toThrow(
      /^optimizerFromConfig: schedules\.fromSpec: unknown schedule kind 'nope'/,
    );
    expect(() => optimizerFromConfig(null as never)).toThrow(/^optimizerFromConfig: config must be/);
    expect(() => optimizerFromConfig({ rule: 'nope', backend: 'native', hyper: {} } as never)).toThrow(/^optimizerFromConfig: .*unknown rule/);
  });

  it('fromSpec makes every built-in again, checked', () => {
    const all = [
      schedules.constant(2),
      schedules.linear({ from: 1, to: 0, steps: 10 }),
      schedules.cosine({ from: 1, steps: 10 }),
      warm,
      schedules.wsd({ peak: 1, warmupSteps: 2, stableSteps: 3, decaySteps: 4, shape: 'cosine' }),
      schedules.exponential({ from: 1, rate: 0.5, every: 3, staircase: true }),
      schedules.step({ from: 1, every: 2, gamma: 0.1 }),
      schedules.multiStep({ from: 1, milestones: [2, 5], gamma: 0.1 }),
      schedules.polynomial({ from: 1, to: 0.1, steps: 10, power: 2 }),
      schedules.oneCycle({ peak: 1, totalSteps: 20, anneal: 'linear' }),
      schedules.inverseSqrt({ peak: 1, warmupSteps: 4 }),
    ];
    for (const s of all) {
      const again = schedules.fromSpec(JSON.parse(JSON.stringify(s.spec)));
      for (let c = 0; c < 25; c++) expect(again(c), `${s.spec.kind} at ${c}`).toBe(s(c));
    }
    expect(() => schedules.fromSpec({ kind: 'linear', args: { from: 1, to: 0, steps: -1 } })).toThrow(/^schedules\.linear: steps must be an integer >= 1/);
  });
});
