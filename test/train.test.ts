// Issue 5's trainer: the MLP's backward pass against float64 finite differences, reproducible
// runs, every rule of the library trainable by name, and which rule ran on which parameter.
import { describe, expect, it } from 'vitest';

import { OPTIMIZER_RULES } from '../src/index.js';
import { loadMnist, type MnistSplit } from '../src/train/data.js';
import { Mlp } from '../src/train/mlp.js';
import { DEFAULT_PEAK_FACTOR, peakFactor, RECIPES, recipeFor } from '../src/train/recipes.js';
import { planOptimizers, scheduledLr, trainRun, type LrSchedule } from '../src/train/train.js';
import { rng } from './reference-helpers.js';

// ---------------------------------------------------------------- independent float64 model

/** Mean softmax cross-entropy of the batch in float64, from float64 copies of the weights. */
function loss64(sizes: number[], Ws: Float64Array[], bs: Float64Array[], x: Float64Array, labels: number[], minAbsZ: { v: number }): number {
  const B = labels.length;
  let total = 0;
  for (let s = 0; s < B; s++) {
    let h = Array.from(x.subarray(s * sizes[0], (s + 1) * sizes[0]));
    for (let t = 0; t < Ws.length; t++) {
      const out = sizes[t + 1];
      const z = new Array<number>(out);
      for (let i = 0; i < out; i++) {
        let acc = bs[t][i];
        for (let j = 0; j < h.length; j++) acc += Ws[t][i * h.length + j] * h[j];
        z[i] = acc;
      }
      if (t < Ws.length - 1) {
        for (const v of z) minAbsZ.v = Math.min(minAbsZ.v, Math.abs(v));
        h = z.map((v) => (v > 0 ? v : 0));
      } else {
        h = z;
      }
    }
    const max = Math.max(...h);
    const lse = Math.log(h.reduce((a, v) => a + Math.exp(v - max), 0)) + max;
    total += lse - h[labels[s]];
  }
  return total / B;
}

describe('Mlp', () => {
  it('backward matches central finite differences of a float64 forward pass (every coordinate, tiny net)', () => {
    const sizes = [7, 6, 5, 4];
    const net = new Mlp(sizes, 3);
    const B = 5;
    const r = rng(11);
    const x32 = Float32Array.from({ length: B * sizes[0] }, () => r());
    const labels = [0, 3, 1, 2, 3];
    const loss32 = net.lossAndGrad(x32, labels, B);

    const Ws = net.layers.map((l) => Float64Array.from(l.W.data));
    const bs = net.layers.map((l) => Float64Array.from(l.b.data));
    const x = Float64Array.from(x32);
    const minZ = { v: Infinity };
    const f = () => loss64(sizes, Ws, bs, x, labels, minZ);
    const base = f();
    expect(minZ.v).toBeGreaterThan(1e-4); // no ReLU kink within the step
    expect(Math.abs(loss32 - base)).toBeLessThan(1e-5);

    const h = 1e-6;
    let checked = 0;
    for (let t = 0; t < Ws.length; t++) {
      for (const [p, g] of [
        [Ws[t], net.grads[t].W.data],
        [bs[t], net.grads[t].b.data],
      ] as const) {
        for (let i = 0; i < p.length; i++) {
          const keep = p[i];
          p[i] = keep + h;
          const up = f();
          p[i] = keep - h;
          const down = f();
          p[i] = keep;
          const fd = (up - down) / (2 * h);
          // float32 forward/backward against float64: relative error of order 1e-6.
          expect(Math.abs(g[i] - fd)).toBeLessThan(1e-5 + 1e-4 * Math.abs(fd));
          checked++;
        }
      }
    }
    expect(checked).toBe(7 * 6 + 6 + 6 * 5 + 5 + 5 * 4 + 4);
    expect(minZ.v).toBeGreaterThan(1e-4);
  });

  it('initialisation is seeded: same seed, same weights; another seed, other weights', () => {
    const a = new Mlp([784, 32, 10], 1);
    const b = new Mlp([784, 32, 10], 1);
    const c = new Mlp([784, 32, 10], 2);
    expect(a.layers[0].W.data).toEqual(b.layers[0].W.data);
    expect(a.layers[1].b.data).toEqual(b.layers[1].b.data);
    expect(a.layers[0].W.data).not.toEqual(c.layers[0].W.data);
    // PyTorch nn.Linear's range U(−1/√in, 1/√in).
    expect(Math.max(...a.layers[0].W.data.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(784));
  });
});

describe('data', () => {
  it("reads the mnist package's 10,000 digits into a fixed 8,000 / 2,000 split", () => {
    const d = loadMnist();
    expect(d.train.n).toBe(8000);
    expect(d.test.n).toBe(2000);
    expect(d.train.images.length).toBe(8000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of [...d.train.labels, ...d.test.labels]) counts[l]++;
    expect(counts.every((c) => c > 800)).toBe(true);
    expect(Math.max(...d.train.images.subarray(0, 784 * 10))).toBeLessThanOrEqual(1);
    // The split does not depend on anything but the data: a subset is a prefix of it.
    const small = loadMnist({ trainSize: 100, testSize: 50 });
    expect(small.train.labels).toEqual(d.train.labels.subarray(0, 100));
    expect(small.test.images).toEqual(d.test.images.subarray(0, 50 * 784));
  });
});

describe('training runs', () => {
  let data: MnistSplit;
  const config = { sizes: [784, 32, 32, 10], epochs: 2, batchSize: 64, seed: 7 };
  const small = () => (data ??= loadMnist({ trainSize: 640, testSize: 200 }));

  it('are reproducible: same seed, same loss curve and weights bit for bit', () => {
    const a = trainRun('muon', small(), config);
    const b = trainRun('muon', small(), config);
    expect(a.lossCurve.length).toBe(2 * 10);
    expect(a.lossCurve).toEqual(b.lossCurve);
    expect(a.epochs).toEqual(b.epochs);
    expect(a.weightsSha256).toBe(b.weightsSha256);
    const c = trainRun('muon', small(), { ...config, seed: 8 });
    expect(c.lossCurve).not.toEqual(a.lossCurve);
    // The loss goes down.
    expect(a.epochs[2].trainLoss).toBeLessThan(a.epochs[0].trainLoss);
  });

  it('every rule of the library can be named, and every run starts from the same weights', () => {
    const first = new Map<string, number>();
    for (const rule of OPTIMIZER_RULES) {
      const r = trainRun(rule, small(), { ...config, sizes: [784, 16, 16, 10], epochs: 1 });
      expect(r.optimizer).toBe(rule);
      expect(r.error).toBeUndefined();
      expect(r.lossCurve.every(Number.isFinite)).toBe(true);
      expect(r.assignments.map((a) => a.param)).toEqual(['W1', 'b1', 'W2', 'b2', 'W3', 'b3']);
      expect(r.assignments.some((a) => a.rule === rule)).toBe(true);
      first.set(rule, r.epochs[0].trainLoss);
    }
    expect(new Set(first.values()).size).toBe(1);
  });

  it('has a recipe for every rule but takes the library defaults for a rule without one', () => {
    for (const rule of OPTIMIZER_RULES) expect(recipeFor(rule).applyTo).toMatch(/all|weights|hidden/);
    for (const rule of Object.keys(RECIPES)) expect(OPTIMIZER_RULES).toContain(rule);
    expect(() => recipeFor('nope')).toThrow(/unknown optimizer 'nope'/);
  });

  it("says which rule trained which parameter: Muon's recipe, and adagrad-full's refusals", () => {
    const net = new Mlp([784, 256, 256, 10], 0);
    const muon = planOptimizers('muon', net).assignments;
    expect(muon.map((a) => a.rule)).toEqual(['adamw', 'adamw', 'muon', 'adamw', 'adamw', 'adamw']);
    expect(muon[0].reason).toMatch(/only the hidden matrices/);
    const full = planOptimizers('adagrad-full', net).assignments;
    const byParam = Object.fromEntries(full.map((a) => [a.param, a]));
    expect(byParam.W1.rule).toBe('adamw');
    expect(byParam.W1.reason).toMatch(/adagrad-full refused it: .*maxDim/);
    expect(byParam.b1.rule).toBe('adagrad-full');
  });
});

describe('learning-rate schedules over the run', () => {
  let data: MnistSplit;
  const small = () => (data ??= loadMnist({ trainSize: 640, testSize: 100 }));
  // 640 images in batches of 64: 10 steps per epoch, 3 epochs, 30 updates.
  const config = { sizes: [784, 16, 16, 10], epochs: 3, batchSize: 64, seed: 2 };
  const T = 30;
  const cos = (peak: number, p: number) => (peak * (1 + Math.cos(Math.PI * p))) / 2;
  const cases: [LrSchedule, (peak: number, c: number) => number][] = [
    [{ name: 'constant' }, (peak) => peak],
    [{ name: 'cosine' }, (peak, c) => cos(peak, c / T)],
    // round(0.1 · 30) = 3 warm-up steps, then cosine over 27.
    [{ name: 'warmup-cosine', warmup: 0.1 }, (peak, c) => (c < 3 ? (peak * c) / 3 : cos(peak, (c - 3) / 27))],
    // 3 warm-up, 21 stable, round(0.2 · 30) = 6 decay.
    [{ name: 'wsd', warmup: 0.1, decay: 0.2 }, (peak, c) => (c < 3 ? (peak * c) / 3 : c < 24 ? peak : peak * (1 - (c - 24) / 6))],
  ];

  it.each(cases)('%j: the recorded lr of every step is the formula at its count', (schedule, formula) => {
    const r = trainRun('adam', small(), { ...config, schedule });
    expect(r.lrPerStep).toHaveLength(T);
    expect(r.lrFrom).toEqual({ param: 'W1', rule: 'adam' });
    // The peak: the recipe's lr (3e-3) times the schedule's factor.
    const peak = 3e-3 * (schedule.name === 'constant' ? 1 : 3);
    expect(r.schedule.peakFactor).toBe(peakFactor('adam', schedule.name));
    r.lrPerStep.forEach((lr, c) => expect(lr).toBeCloseTo(formula(peak, c), 16));
    expect(r.gradNormPerStep).toHaveLength(T);
    expect(r.gradNormPerStep.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    // Cosine ends near 0 (the last update is count T − 1); wsd's linear decay at 1/6 of the peak.
    if (schedule.name === 'cosine' || schedule.name === 'warmup-cosine') expect(r.lrPerStep[T - 1]).toBeLessThan(0.02 * peak);
    if (schedule.name === 'wsd') expect(r.lrPerStep[T - 1]).toBeCloseTo(peak / 6, 16);
  });

  it("the peak factors: the re-swept rules' (3, sgd's 2), the default 2 for the others, 1 for constant", () => {
    for (const rule of ['muon', 'adamw', 'adam', 'soap', 'shampoo']) expect(peakFactor(rule, 'warmup-cosine')).toBe(3);
    expect(peakFactor('sgd', 'wsd')).toBe(2);
    expect(DEFAULT_PEAK_FACTOR).toBe(2);
    expect(peakFactor('shampoo2', 'cosine')).toBe(2);
    expect(peakFactor('muon', 'constant')).toBe(1);
  });

  it('every optimizer of the run gets the schedule with its own peak: the fallback AdamW too', () => {
    const net = new Mlp([784, 32, 32, 10], 0);
    const schedule: LrSchedule = { name: 'warmup-cosine', warmup: 0.1 };
    const { entries, assignments } = planOptimizers('muon', net, { schedule, totalSteps: 100 });
    const muon = entries[assignments.findIndex((a) => a.rule === 'muon')].optimizer;
    const adamw = entries[assignments.findIndex((a) => a.rule === 'adamw')].optimizer;
    for (const c of [0, 5, 10, 50, 99]) {
      expect(muon.hyperAt(c).lr).toBe((scheduledLr(schedule, 3 * 0.02, 100) as (c: number) => number)(c));
      expect(adamw.hyperAt(c).lr).toBe((scheduledLr(schedule, 3 * 3e-3, 100) as (c: number) => number)(c));
    }
    expect(muon.hyperAt(10).lr).toBe(3 * 0.02);
    expect(adamw.hyperAt(10).lr).toBe(3 * 3e-3);
    expect(adamw.hyperAt(5).lr).toBeCloseTo(1.5 * 3e-3, 18);
    // The assignments keep the recipe's numbers (the peak).
    expect(assignments.find((a) => a.rule === 'adamw')!.hyper.lr).toBe(3e-3);
    // The constant schedule is the unscheduled run, bit for bit.
    const a = trainRun('muon', small(), { ...config, epochs: 1 });
    const b = trainRun('muon', small(), { ...config, epochs: 1, schedule: { name: 'constant' } });
    expect(b.weightsSha256).toBe(a.weightsSha256);
    const w = trainRun('muon', small(), { ...config, epochs: 1, schedule: { name: 'cosine' } });
    expect(w.weightsSha256).not.toBe(a.weightsSha256);
  });

  it('soap (lr from the library defaults) and sphere-sgd (hyperparameters per parameter) are scheduled too', () => {
    for (const [rule, peak] of [['soap', 3 * 3e-3], ['sphere-sgd', 2 * 0.05]] as const) {
      const r = trainRun(rule, small(), { ...config, epochs: 1, schedule: { name: 'cosine' } });
      expect(r.error).toBeUndefined();
      r.lrPerStep.forEach((lr, c) => expect(lr).toBeCloseTo(cos(peak, c / 10), 16));
    }
  });

  it("every rule's recipe takes the CLI's default schedule (specopt train --optimizer all)", () => {
    const net = new Mlp([784, 16, 16, 10], 0);
    for (const rule of OPTIMIZER_RULES) {
      expect(() => planOptimizers(rule, net, { schedule: { name: 'warmup-cosine' }, totalSteps: 100 }), rule).not.toThrow();
    }
  });

  it('schedule-free rules: lr not scheduled (their own warm-up and averaging), evaluated at x, left at y', () => {
    for (const rule of ['schedule-free-adamw', 'schedule-free-sgd'] as const) {
      let model: Mlp | undefined;
      const r = trainRun(rule, small(), { ...config, epochs: 1, schedule: { name: 'cosine' } }, { onModel: (when, m) => { if (when === 'end') model = m; } });
      expect(r.error).toBeUndefined();
      // The recipe's lr at every step, whatever --schedule says.
      expect(new Set(r.lrPerStep)).toEqual(new Set([RECIPES[rule].hyper && (RECIPES[rule].hyper as { lr: number }).lr]));
      expect(r.schedule.peakFactor).toBe(1);
      // The parameters the run ends with hold y: their test loss is not the one reported (x's).
      const atY = model!.evaluate(small().test);
      expect(atY.loss).not.toBe(r.testLoss);
    }
    // A rule without modes is evaluated at the parameters it ends with.
    let model: Mlp | undefined;
    const r = trainRun('adamw', small(), { ...config, epochs: 1 }, { onModel: (when, m) => { if (when === 'end') model = m; } });
    expect(model!.evaluate(small().test).loss).toBe(r.testLoss);
  });

  it('refuses a bad clip threshold', () => {
    expect(() => trainRun('adam', small(), { ...config, clip: 0 })).toThrow(/clip must be a finite number > 0, got 0/);
  });
});
