// The schedules against PyTorch's own schedulers (values recorded by
// test/fixtures/make_schedule_fixtures.py into torch-schedules.json) and against the optax
// formulas, written out here independently; their argument checks; their specs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { schedules, type Schedule } from '../src/index.js';

/** max over counts of |a − b| / max(|a|, |b|) (0 where both are 0). */
function maxRelative(s: Schedule, expected: readonly number[], offset = 0): number {
  let worst = 0;
  expected.forEach((e, i) => {
    const v = s(i + offset);
    const scale = Math.max(Math.abs(v), Math.abs(e));
    const d = scale === 0 ? 0 : Math.abs(v - e) / scale;
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  });
  return worst;
}

const counts = (n: number) => Array.from({ length: n }, (_, c) => c);

interface TorchCase {
  name: string;
  torch: string;
  base: number;
  args: Record<string, number | number[] | string | boolean>;
  lrs: number[];
  closedForm?: number[];
}
const fixtures = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torch-schedules.json'), 'utf8')) as { torch: string; cases: TorchCase[] };

/** The specopt schedule equal to a torch scheduler case, and the counts where torch is comparable. */
function specoptOf(c: TorchCase): { schedule: Schedule; upTo: number } {
  const a = c.args as Record<string, never>;
  const n = c.lrs.length;
  switch (c.name) {
    case 'StepLR':
      return { schedule: schedules.step({ from: c.base, every: a.step_size, gamma: a.gamma }), upTo: n };
    case 'MultiStepLR':
      return { schedule: schedules.multiStep({ from: c.base, milestones: a.milestones, gamma: a.gamma }), upTo: n };
    case 'ExponentialLR':
      return { schedule: schedules.exponential({ from: c.base, rate: a.gamma }), upTo: n };
    case 'CosineAnnealingLR':
      // torch's cosine goes on past T_max (back up); specopt holds at `to` there.
      return { schedule: schedules.cosine({ from: c.base, to: a.eta_min, steps: a.T_max }), upTo: Number(a.T_max) + 1 };
    case 'LinearLR':
      return {
        schedule: schedules.linear({ from: c.base * a.start_factor, to: c.base * a.end_factor, steps: a.total_iters }),
        upTo: n,
      };
    case 'PolynomialLR':
      return { schedule: schedules.polynomial({ from: c.base, steps: a.total_iters, power: a.power }), upTo: n };
    case 'OneCycleLR':
      return {
        schedule: schedules.oneCycle({
          peak: a.max_lr,
          totalSteps: a.total_steps,
          pctStart: a.pct_start,
          divFactor: a.div_factor ?? 25,
          finalDivFactor: a.final_div_factor ?? 1e4,
          anneal: a.anneal_strategy ?? 'cos',
        }),
        upTo: n,
      };
    default:
      throw new Error(`no specopt schedule for ${c.name}`);
  }
}

describe('against PyTorch schedulers (torch.optim.lr_scheduler, stepped once per optimizer step)', () => {
  it('the fixtures cover every torch-equivalent built-in', () => {
    expect(new Set(fixtures.cases.map((c) => c.name))).toEqual(
      new Set(['StepLR', 'MultiStepLR', 'ExponentialLR', 'CosineAnnealingLR', 'LinearLR', 'PolynomialLR', 'OneCycleLR']),
    );
  });

  for (const c of fixtures.cases) {
    it(`${c.torch}, base lr ${c.base}: within 1e-12 relative of torch over its counts`, () => {
      const { schedule, upTo } = specoptOf(c);
      expect(upTo).toBeGreaterThan(5);
      expect(maxRelative(schedule, c.lrs.slice(0, upTo))).toBeLessThanOrEqual(1e-12);
      if (c.closedForm) expect(maxRelative(schedule, c.closedForm.slice(0, upTo))).toBeLessThanOrEqual(1e-12);
    });
  }

  it('the comparison can fail: a one-step shift or a wrong eta_min is far outside the bound', () => {
    const c = fixtures.cases.find((x) => x.name === 'CosineAnnealingLR')!;
    const { schedule, upTo } = specoptOf(c);
    expect(maxRelative(schedule, c.lrs.slice(1, upTo))).toBeGreaterThan(1e-3);
    const wrong = schedules.cosine({ from: c.base, to: Number(c.args.eta_min) * 1.001 + 1e-9, steps: Number(c.args.T_max) });
    expect(maxRelative(wrong, c.lrs.slice(0, upTo))).toBeGreaterThan(1e-9);
  });
});

describe('against the optax formulas', () => {
  // optax's definitions, written out: polynomial_schedule, cosine_decay_schedule, join_schedules.
  const optaxPolynomial = (init: number, end: number, power: number, steps: number) => (c: number) =>
    (init - end) * (1 - Math.min(Math.max(c, 0), steps) / steps) ** power + end;
  const optaxCosine = (init: number, decaySteps: number, alpha: number) => (c: number) => {
    const cosineDecay = 0.5 * (1 + Math.cos((Math.PI * Math.min(c, decaySteps)) / decaySteps));
    return init * ((1 - alpha) * cosineDecay + alpha);
  };
  const optaxJoin = (parts: ((c: number) => number)[], boundaries: number[]) => (c: number) => {
    let out = parts[0](c);
    boundaries.forEach((b, i) => {
      if (c >= b) out = parts[i + 1](c - b);
    });
    return out;
  };
  const optaxExponential = (init: number, transition: number, rate: number, staircase: boolean) => (c: number) =>
    init * rate ** (staircase ? Math.floor(c / transition) : c / transition);

  it.each([
    ['linear 0.1 → 0.001 over 50', schedules.linear({ from: 0.1, to: 0.001, steps: 50 }), optaxPolynomial(0.1, 0.001, 1, 50), 100],
    ['linear 0 → 1 over 7 (a warm-up)', schedules.linear({ from: 0, to: 1, steps: 7 }), optaxPolynomial(0, 1, 1, 7), 14],
    ['polynomial power 3', schedules.polynomial({ from: 2, to: 0.5, steps: 40, power: 3 }), optaxPolynomial(2, 0.5, 3, 40), 80],
    ['cosine 1e-3 → 1e-5 over 64', schedules.cosine({ from: 1e-3, to: 1e-5, steps: 64 }), optaxCosine(1e-3, 64, 1e-2), 128],
    [
      'warmupCosine 0 → 3e-3 (100) → 3e-5 at 1000',
      schedules.warmupCosine({ peak: 3e-3, warmupSteps: 100, totalSteps: 1000, to: 3e-5 }),
      optaxJoin([optaxPolynomial(0, 3e-3, 1, 100), optaxCosine(3e-3, 900, 1e-2)], [100]),
      2000,
    ],
    [
      'warmupCosine from 1e-4, no warm-up',
      schedules.warmupCosine({ from: 1e-4, peak: 1e-2, warmupSteps: 0, totalSteps: 30 }),
      optaxCosine(1e-2, 30, 0),
      60,
    ],
    ['exponential 0.97 every 10', schedules.exponential({ from: 0.5, rate: 0.97, every: 10 }), optaxExponential(0.5, 10, 0.97, false), 100],
    ['exponential staircase', schedules.exponential({ from: 0.5, rate: 0.5, every: 4, staircase: true }), optaxExponential(0.5, 4, 0.5, true), 40],
  ])('%s: within 1e-12 relative over 0..2×steps', (_name, s, optax, n) => {
    expect(maxRelative(s, counts(n).map(optax))).toBeLessThanOrEqual(1e-12);
  });

  it('join: each part sees count − its boundary', () => {
    const j = schedules.join([schedules.constant(1), schedules.linear({ from: 0, to: 10, steps: 10 }), schedules.constant(3)], [5, 20]);
    expect(counts(25).map(j)).toEqual(counts(25).map((c) => (c < 5 ? 1 : c < 20 ? Math.min(c - 5, 10) : 3)));
  });
});

describe('the other built-ins, by their definitions', () => {
  it('wsd: warm-up from `from`, `peak` while stable, then each decay shape to `to`, then `to`', () => {
    const factor = { linear: (p: number) => 1 - p, cosine: (p: number) => (1 + Math.cos(Math.PI * p)) / 2, sqrt: (p: number) => 1 - Math.sqrt(p) };
    for (const shape of ['linear', 'cosine', 'sqrt'] as const) {
      const s = schedules.wsd({ from: 1e-5, peak: 1e-2, warmupSteps: 10, stableSteps: 30, decaySteps: 20, to: 1e-4, shape });
      const expected = counts(120).map((c) =>
        c < 10 ? 1e-5 + (1e-2 - 1e-5) * (c / 10) : c < 40 ? 1e-2 : c < 60 ? 1e-4 + (1e-2 - 1e-4) * factor[shape]((c - 40) / 20) : 1e-4,
      );
      expect(maxRelative(s, expected), shape).toBeLessThanOrEqual(1e-12);
    }
    // Continuous where the phases meet (linear shape): peak at the end of the warm-up and at the decay's start.
    const s = schedules.wsd({ peak: 2, warmupSteps: 4, stableSteps: 0, decaySteps: 8 });
    expect([s(0), s(4), s(8), s(12), s(13)]).toEqual([0, 2, 1, 0, 0]);
  });

  it('inverseSqrt: transformers get_inverse_sqrt_schedule (timescale = warmupSteps) times peak', () => {
    const w = 16;
    const lambda = (c: number) => (c < w ? c / Math.max(1, w) : 1 / Math.sqrt(c / w));
    expect(maxRelative(schedules.inverseSqrt({ peak: 5e-4, warmupSteps: w }), counts(200).map((c) => 5e-4 * lambda(c)))).toBeLessThanOrEqual(1e-12);
  });

  it('constant, and values held after each horizon', () => {
    expect(counts(5).map(schedules.constant(0.25))).toEqual([0.25, 0.25, 0.25, 0.25, 0.25]);
    expect(schedules.cosine({ from: 1, to: 0.1, steps: 10 })(1e6)).toBe(0.1);
    expect(schedules.linear({ from: 1, to: 0.1, steps: 10 })(11)).toBe(0.1);
    expect(schedules.oneCycle({ peak: 1, totalSteps: 10 })(10)).toBe(schedules.oneCycle({ peak: 1, totalSteps: 10 })(9));
  });
});

describe('checks and specs', () => {
  it.each([
    [() => schedules.linear({ from: 1, to: 0, steps: -1 }), RangeError, /^schedules\.linear: steps must be an integer >= 1, got -1/],
    [() => schedules.cosine({ from: NaN, steps: 3 }), RangeError, /^schedules\.cosine: from must be finite, got NaN/],
    [() => schedules.cosine({ from: 1, steps: 2.5 }), RangeError, /^schedules\.cosine: steps must be an integer >= 1/],
    [() => schedules.warmupCosine({ peak: 1, warmupSteps: 20, totalSteps: 10 }), RangeError, /warmupSteps \(20\) must be at most totalSteps \(10\)/],
    [() => schedules.multiStep({ from: 1, milestones: [10, 5], gamma: 0.1 }), RangeError, /^schedules\.multiStep: milestones must be sorted, got 10 before 5/],
    [() => schedules.exponential({ from: 1, rate: 0 }), RangeError, /rate must be > 0/],
    [() => schedules.step({ from: 1, every: 0, gamma: 0.5 }), RangeError, /every must be an integer >= 1, got 0/],
    [() => schedules.wsd({ peak: 1, warmupSteps: 1, stableSteps: 1, decaySteps: 1, shape: 'exp' as never }), TypeError, /shape must be 'linear' \| 'cosine' \| 'sqrt'/],
    [() => schedules.oneCycle({ peak: 1, totalSteps: 3, pctStart: 0.3 }), RangeError, /pctStart · totalSteps must be in \(1, totalSteps\)/],
    [() => schedules.inverseSqrt({ peak: 1, warmupSteps: 0 }), RangeError, /warmupSteps must be an integer >= 1/],
    [() => schedules.join([schedules.constant(1)], [3]), TypeError, /boundaries must be an array of 0/],
    [() => schedules.linear({ from: 1, to: 0, steps: 3, step: 4 } as never), TypeError, /unknown option 'step'/],
    [() => schedules.polynomial(null as never), TypeError, /^schedules\.polynomial: expected an options object, got null/],
    [() => schedules.constant(1)(-1), RangeError, /^schedules\.constant: count must be a non-negative integer, got -1/],
    [() => schedules.constant(1)(1.5), RangeError, /count must be a non-negative integer, got 1\.5/],
  ])('%s', (make, Kind, message) => {
    expect(make).toThrow(Kind);
    expect(make).toThrow(message);
  });

  it('a built-in is data: its spec names it and its arguments (defaults filled in), and it is frozen', () => {
    const s = schedules.warmupCosine({ peak: 3e-3, warmupSteps: 100, totalSteps: 5000 });
    expect(s.spec).toEqual({ kind: 'warmupCosine', args: { from: 0, peak: 3e-3, warmupSteps: 100, totalSteps: 5000, to: 0 } });
    expect(Object.isFrozen(s) && Object.isFrozen(s.spec) && Object.isFrozen(s.spec.args)).toBe(true);
    const j = schedules.join([s, (c: number) => 1 / (c + 1)], [5000]);
    expect(j.spec).toEqual({ kind: 'join', args: { parts: [s.spec, null], boundaries: [5000] } });
  });
});
