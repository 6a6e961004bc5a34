// tfjsOptimizer: a tf.Optimizer whose applyGradients is one stepMany. Every rule of the library,
// on the cpu backend (updates written into the variables' own memory) and on the wasm backend
// (copies), must leave the variables bit for bit where stepMany leaves copies of them given the
// same gradients; the state must survive getWeights/setWeights and getConfig/fromConfig exactly.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Matrix, OPTIMIZER_RULES, createOptimizer, schedules, stepMany, type RuleName, type StepEntry } from '../src/index.js';
import { SpecoptOptimizer, muonRecipe, tfjsOptimizer, type MatrixView, type NamedTensor } from '../src/tfjs/index.js';

let seed = 7;
function randoms(n: number, scale = 1): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    v[i] = (seed / 1073741824 - 1) * scale;
  }
  return v;
}
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

let unique = 0;
/** Variables of these shapes with random values, and `steps` random gradients for each. */
function problem(shapes: number[][], steps: number) {
  const init = shapes.map((s) => randoms(sizeOf(s)));
  const grads = Array.from({ length: steps }, () => shapes.map((s) => randoms(sizeOf(s), 0.1)));
  const variables = () => shapes.map((s, i) => tf.variable(tf.tensor(init[i].slice(), s), true, `p${unique++}_v${i}`));
  return { shapes, init, grads, variables };
}

function rowsCols(shape: number[], view: MatrixView): [number, number] {
  const n = sizeOf(shape);
  if (shape.length < 2) return [1, n];
  return view === 'first' ? [shape[0], n / shape[0]] : [n / shape[shape.length - 1], shape[shape.length - 1]];
}

/** What stepMany does to copies of the values: the expected trajectory. */
function expected(rule: RuleName, hyper: Record<string, unknown>, p: ReturnType<typeof problem>, view: MatrixView = 'last', clip?: { maxGradNorm: number }): Float32Array[] {
  const opt = createOptimizer(rule, hyper as never);
  const entries: StepEntry[] = p.shapes.map((s, i) => {
    const [rows, cols] = rowsCols(s, view);
    const param = new Matrix(rows, cols, p.init[i].slice());
    return { optimizer: opt, param, grad: new Matrix(rows, cols), state: opt.init(param) };
  });
  for (const g of p.grads) {
    entries.forEach((e, i) => e.grad.data.set(g[i]));
    stepMany(entries, clip);
  }
  return entries.map((e) => e.param.data);
}

function run(opt: tf.Optimizer, vars: tf.Variable[], grads: Float32Array[][]): void {
  for (const g of grads) {
    const tensors = vars.map((v, i) => tf.tensor(g[i].slice(), v.shape));
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: tensors[i] })));
    tf.dispose(tensors);
  }
}

const SHAPES = [[6, 5], [5], [2, 3, 4], []];

afterAll(async () => {
  await tf.setBackend('cpu');
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
    });

    it(`every rule (${OPTIMIZER_RULES.length}) moves the variables bit for bit as stepMany moves copies (3 updates; shapes 6x5, [5], [2,3,4], scalar)`, () => {
      for (const rule of OPTIMIZER_RULES) {
        const p = problem(SHAPES, 3);
        const want = expected(rule, {}, p);
        const vars = p.variables();
        const opt = tfjsOptimizer(rule);
        run(opt, vars, p.grads);
        vars.forEach((v, i) => expect(bits(v.dataSync() as Float32Array), `${rule} variable ${i}`).toEqual(bits(want[i])));
        expect(opt.iterations).toBe(3);
        opt.dispose();
        tf.dispose(vars);
      }
    });

    it("views rank > 2 as the rest x the last dimension (the default, 'last'), or with matrixView 'first' as the first x the rest; rank 0 and 1 as 1 x n", () => {
      for (const view of ['first', 'last', undefined] as const) {
        const p = problem(SHAPES, 2);
        // muon sees the matrix: a wrong view changes the orthogonalised update.
        const want = expected('muon', {}, p, view ?? 'last');
        const vars = p.variables();
        const opt = tfjsOptimizer('muon', {}, view === undefined ? undefined : { matrixView: view });
        run(opt, vars, p.grads);
        vars.forEach((v, i) => expect(bits(v.dataSync() as Float32Array), `${view ?? 'default'} ${i}`).toEqual(bits(want[i])));
        expect(opt.assignments().map((a) => [a.rows, a.cols])).toEqual(SHAPES.map((s) => rowsCols(s, view ?? 'last')));
        tf.dispose(vars);
      }
      expect(rowsCols([2, 3, 4], 'first')).toEqual([2, 12]);
      expect(rowsCols([2, 3, 4], 'last')).toEqual([6, 4]);
    });

    it('clips all gradients together with maxGradNorm, as stepMany does', () => {
      const p = problem(SHAPES, 3);
      const want = expected('adamw', { lr: 0.01 }, p, 'first', { maxGradNorm: 0.05 });
      const vars = p.variables();
      const opt = tfjsOptimizer('adamw', { lr: 0.01 }, { maxGradNorm: 0.05 });
      run(opt, vars, p.grads);
      vars.forEach((v, i) => expect(bits(v.dataSync() as Float32Array)).toEqual(bits(want[i])));
      expect(opt.lastResults?.clipped).toBe(true);
      tf.dispose(vars);
    });
  });
}

describe('on the cpu backend, in place', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it("writes into the variable's own memory: same data, no new tensors", () => {
    const p = problem([[8, 3], [3]], 5);
    const vars = p.variables();
    const opt = tfjsOptimizer('adamw');
    run(opt, vars, p.grads.slice(0, 1)); // the first update may give a variable shared with its initial tensor a copy of its own
    const ids = vars.map((v) => v.dataId);
    const arrays = vars.map((v) => v.dataSync());
    const tensors = tf.memory().numTensors;
    run(opt, vars, p.grads.slice(1));
    expect(vars.map((v) => v.dataId)).toEqual(ids);
    vars.forEach((v, i) => expect(v.dataSync()).toBe(arrays[i]));
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose(vars);
  });

  it('leaves a tf.clone of a variable (which shares its memory) at the old values', () => {
    const p = problem([[4, 4]], 2);
    const [v] = p.variables();
    const opt = tfjsOptimizer('sgd', { lr: 0.1 });
    run(opt, [v], p.grads.slice(0, 1));
    const before = Float32Array.from(v.dataSync() as Float32Array);
    const clone = tf.clone(v);
    run(opt, [v], p.grads.slice(1));
    expect(Array.from(clone.dataSync())).toEqual(Array.from(before));
    expect(Array.from(v.dataSync())).not.toEqual(Array.from(before));
    tf.dispose([v, clone]);
  });

  it('works through minimize and model.compile, skips variables without a gradient, and counts iterations', () => {
    const w = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, `w${unique++}`);
    const unused = tf.variable(tf.tensor1d([1, 2]), true, `u${unique++}`);
    const opt = tfjsOptimizer('adamw', { lr: 0.05, weightDecay: 0 });
    const loss = () => tf.sum(tf.square(w));
    const first = (loss().dataSync() as Float32Array)[0];
    for (let i = 0; i < 20; i++) opt.minimize(loss, false, [w]);
    expect((loss().dataSync() as Float32Array)[0]).toBeLessThan(first * 0.5);
    expect(opt.iterations).toBe(20);
    opt.applyGradients({ [w.name]: tf.zeros([2, 2]), [unused.name]: null as unknown as tf.Tensor });
    expect(Array.from(unused.dataSync())).toEqual([1, 2]);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    expect(model.optimizer).toBe(opt);
    expect(opt).toBeInstanceOf(tf.Optimizer);
    expect(opt.getClassName()).toBe('SpecoptOptimizer');
    tf.dispose([w, unused]);
  });

  it("follows the non-finite policy: 'throw' changes nothing, 'skip' skips and says so", () => {
    const p = problem([[3, 3], [3]], 1);
    const vars = p.variables();
    const before = vars.map((v) => Array.from(v.dataSync()));
    const bad = [tf.tensor2d([[NaN, 0, 0], [0, 0, 0], [0, 0, 0]]), tf.ones([3])];
    const list = vars.map((v, i) => ({ name: v.name, tensor: bad[i] }));
    expect(() => tfjsOptimizer('adamw').applyGradients(list)).toThrow(`SpecoptOptimizer.applyGradients: variable '${vars[0].name}' (adamw): the gradient contains NaN or Infinity`);
    expect(vars.map((v) => Array.from(v.dataSync()))).toEqual(before);
    const skip = tfjsOptimizer('adamw', { nonFinite: 'skip' });
    skip.applyGradients(list);
    expect(skip.lastResults?.map((r) => r.skipped)).toEqual([true, false]);
    expect(Array.from(vars[0].dataSync())).toEqual(before[0]);
    expect(Array.from(vars[1].dataSync())).not.toEqual(before[1]);
    tf.dispose([...vars, ...bad]);
  });

  it('changes hyperparameters through the specopt optimizers (setHyper), from the next update on', () => {
    const p = problem([[5, 2]], 4);
    const [v] = p.variables();
    const opt = tfjsOptimizer('sgd', { lr: 0.1 });
    run(opt, [v], p.grads.slice(0, 2));
    opt.optimizers[0].setHyper({ lr: 0.01 });
    run(opt, [v], p.grads.slice(2));
    // Expected: two updates at 0.1, two at 0.01.
    const e = createOptimizer('sgd', { lr: 0.1 });
    const m = new Matrix(5, 2, p.init[0].slice());
    const state = e.init(m);
    p.grads.forEach((g, k) => {
      if (k === 2) e.setHyper({ lr: 0.01 });
      e.step(m, new Matrix(5, 2, g[0]), state);
    });
    expect(bits(v.dataSync() as Float32Array)).toEqual(bits(m.data));
    v.dispose();
  });
});

describe('recipes', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it("muonRecipe: Muon on the hidden matrices; AdamW on the first and last kernels, biases and embeddings", () => {
    const names = ['emb/embeddings', 'in/kernel', 'in/bias', 'h1/kernel', 'h1/bias', 'conv/kernel', 'out/kernel', 'out/bias'];
    const shapes = [[10, 4], [4, 6], [6], [6, 6], [6], [2, 2, 6, 6], [24, 3], [3]];
    const vars = shapes.map((s, i) => tf.variable(tf.tensor(randoms(sizeOf(s)), s), true, `r${unique++}_${names[i]}`));
    const opt = tfjsOptimizer(muonRecipe());
    run(opt, vars, [shapes.map((s) => randoms(sizeOf(s), 0.1))]);
    expect(opt.assignments().map((a) => a.rule)).toEqual(['adamw', 'adamw', 'adamw', 'muon', 'adamw', 'muon', 'adamw', 'adamw']);
    expect(opt.optimizers.map((o) => [o.rule, o.hyper.lr])).toEqual([
      ['muon', 0.02],
      ['adamw', 3e-3],
    ]);
    tf.dispose(vars);
  });

  it('selects by name pattern, matrices and vectors; refuses a variable no group takes', () => {
    const a = tf.variable(tf.ones([3, 3]), true, `sel${unique++}_dense_Dense1/kernel`);
    const b = tf.variable(tf.ones([3]), true, `sel${unique++}_dense_Dense1/bias`);
    const c = tf.variable(tf.ones([2, 3]), true, `sel${unique++}_other/kernel`);
    const list = [a, b, c].map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
    const opt = tfjsOptimizer({
      groups: [
        { select: { pattern: 'dense_Dense\\d+/kernel$' }, rule: 'sgd', hyper: { lr: 0.5 } },
        { select: 'vectors', rule: 'adamw' },
        { select: 'matrices', rule: 'signsgd' },
      ],
    });
    opt.applyGradients(list);
    expect(opt.assignments().map((x) => x.group)).toEqual([0, 1, 2]);
    expect(Array.from(a.dataSync())).toEqual(new Array(9).fill(0.5));
    const partial = tfjsOptimizer({ groups: [{ select: 'matrices', rule: 'sgd' }] });
    expect(() => partial.applyGradients(list)).toThrow(/no group of the recipe takes variable '.*dense_Dense1\/bias'/);
    expect(() => tfjsOptimizer({ groups: [{ select: 'some' as never, rule: 'sgd' }] })).toThrow(TypeError);
    expect(() => tfjsOptimizer({ groups: [{ select: 'all', rule: 'sgd', hyper: { lr: -1 } }] })).toThrow(/lr/);
    expect(() => tfjsOptimizer('nope' as RuleName)).toThrow(/unknown rule/);
    tf.dispose([a, b, c]);
  });
});

describe('state and config', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  /** getConfig through JSON, as a saved model.json carries it. */
  const viaJson = (opt: SpecoptOptimizer) =>
    tf.serialization.SerializationMap.getMap().classNameMap.SpecoptOptimizer[1](SpecoptOptimizer as never, JSON.parse(JSON.stringify(opt.getConfig()))) as SpecoptOptimizer;

  it('fromConfig(getConfig()) with getWeights/setWeights continues bit-identically, for a recipe with a schedule', async () => {
    const recipe = () =>
      tfjsOptimizer(
        {
          groups: [
            { select: 'hidden', rule: 'muon', hyper: { lr: schedules.warmupCosine({ from: 0.002, peak: 0.02, warmupSteps: 2, totalSteps: 8 }) } },
            { select: { pattern: '_v1$' }, rule: 'soap' },
            { select: 'all', rule: 'adamw', hyper: { lr: schedules.cosine({ from: 3e-3, steps: 8 }), weightDecay: 0.01 } },
          ],
        },
        undefined,
        { maxGradNorm: 1 },
      );
    const p = problem([[7, 5], [5], [5, 5], [5, 3], [3]], 8);
    // Uninterrupted.
    const straight = p.variables();
    const a = recipe();
    run(a, straight, p.grads);
    // Four updates, then a new optimizer made from the config and the weights (before it saw any variable).
    const resumed = p.variables();
    const b = recipe();
    run(b, resumed, p.grads.slice(0, 4));
    const saved: NamedTensor[] = (await b.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    expect(saved[0].name).toBe('iter');
    expect(saved.some((w) => w.name === `${resumed[1].name}/soap/expAvg`)).toBe(true);
    const c = viaJson(b);
    expect(JSON.stringify(c.getConfig())).toBe(JSON.stringify(b.getConfig()));
    await c.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor)); // setWeights copied them
    expect(c.iterations).toBe(4);
    run(c, resumed, p.grads.slice(4));
    straight.forEach((v, i) => expect(bits(resumed[i].dataSync() as Float32Array), `variable ${i}`).toEqual(bits(v.dataSync() as Float32Array)));
    // And the states: getWeights of both, bit for bit.
    const wa = await a.getWeights(), wc = await c.getWeights();
    expect(wc.map((w) => w.tensor.shape)).toEqual(wa.map((w) => w.tensor.shape));
    wa.slice(1).forEach((w, i) => expect(bits(wc[i + 1].tensor.dataSync() as Float32Array), w.name).toEqual(bits(w.tensor.dataSync() as Float32Array)));
    tf.dispose([...straight, ...resumed]);
  });

  it('setWeights on an optimizer that already trains replaces the states at once; mismatches are refused', async () => {
    const p = problem([[4, 3], [3]], 4);
    const vars = p.variables();
    const a = tfjsOptimizer('adamw');
    run(a, vars, p.grads.slice(0, 2));
    const snapshot = (await a.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const values = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
    run(a, vars, p.grads.slice(2));
    const after = vars.map((v) => bits(v.dataSync() as Float32Array));
    // Back to the snapshot (values and states): the same two updates give the same result.
    vars.forEach((v, i) => v.assign(tf.tensor(values[i], v.shape)));
    await a.setWeights(snapshot);
    run(a, vars, p.grads.slice(2));
    expect(vars.map((v) => bits(v.dataSync() as Float32Array))).toEqual(after);
    // [iter, header, expAvg, expAvgSq] of the first variable: one state, kept until variables come.
    await expect(tfjsOptimizer('adamw').setWeights(snapshot.slice(0, 4))).resolves.toBeUndefined();
    await expect(tfjsOptimizer('adamw').setWeights(snapshot.slice(0, 3))).rejects.toThrow(/lacks 'expAvgSq'/);
    const wrongRule = tfjsOptimizer('sgd', { momentum: 0.9 });
    await wrongRule.setWeights(snapshot);
    expect(() => run(wrongRule, vars, p.grads.slice(0, 1))).toThrow(/adamw's, the variable gets sgd/);
    await expect(a.setWeights(snapshot.slice(0, 4))).rejects.toThrow(/states for 1 variables, the optimizer trains 2/);
    const corrupt = snapshot.map((w, i) => (i === 2 ? { name: w.name, tensor: tf.zeros([5]) } : w));
    await expect(tfjsOptimizer('adamw').setWeights(corrupt)).rejects.toThrow(/must have length 12/);
    tf.dispose(vars);
  });

  it('getWeights snapshots are disposed by the next getWeights (repeated saves do not leak)', async () => {
    const p = problem([[4, 3]], 1);
    const vars = p.variables();
    const a = tfjsOptimizer('adam');
    run(a, vars, p.grads);
    const first = await a.getWeights();
    const count = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await a.getWeights();
    expect(tf.memory().numTensors).toBe(count);
    expect(first.every((w) => w.tensor.isDisposed)).toBe(true);
    a.dispose();
    tf.dispose(vars);
  });

  it("stores its config's underscores as JSON escapes (tf.loadLayersModel camel-cases strings with '_')", () => {
    const opt = tfjsOptimizer({ groups: [{ select: { pattern: 'dense_Dense\\d+/bias' }, rule: 'adamw' }, { select: 'all', rule: 'sgd' }] });
    const config = opt.getConfig();
    expect(JSON.stringify(config)).not.toMatch(/_/);
    expect(viaJson(opt).getConfig()).toEqual(config);
  });
});
