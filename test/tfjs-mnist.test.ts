// specopt/tfjs on a real tfjs-layers model: a 784-128-128-10 MLP (ReLU, softmax, categorical
// cross-entropy, glorot-uniform kernels with fixed seeds) trained with model.fit on the MNIST
// digits the repository ships (src/train/data.ts's fixed split), on the first 2,000 training and
// 1,000 test images, batches of 100 in order (shuffle off: every run sees the same batches), on
// tfjs's cpu backend. The subset and the 128-unit hidden layers keep the file at ~20 s on 2 cores
// (tfjs's own cpu matmul runs at ~0.5 GFLOP/s; bench/tfjs.mjs runs the full-size model).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { schedules } from '../src/index.js';
import { loadMnist } from '../src/train/data.js';
import { muonRecipe, registerSpecoptKernels, tfjsOptimizer, unregisterSpecoptKernels, type SpecoptOptimizer } from '../src/tfjs/index.js';

const TRAIN = 2000;
const TEST = 1000;
const BATCH = 100;
const EPOCHS = 3;

let xs: tf.Tensor2D, ys: tf.Tensor2D, testX: tf.Tensor2D, testLabels: Uint8Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const { train, test } = loadMnist({ trainSize: TRAIN, testSize: TEST });
  xs = tf.tensor2d(train.images, [train.n, 784]);
  ys = tf.oneHot(tf.tensor1d(Array.from(train.labels), 'int32'), 10) as tf.Tensor2D;
  testX = tf.tensor2d(test.images, [test.n, 784]);
  testLabels = test.labels;
});
afterAll(() => {
  unregisterSpecoptKernels();
  tf.dispose([xs, ys, testX]);
});

function mlp(): tf.Sequential {
  const model = tf.sequential();
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  model.add(tf.layers.dense({ units: 128, activation: 'relu', inputShape: [784], kernelInitializer: init(1) }));
  model.add(tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }));
  return model;
}

interface Run {
  model: tf.LayersModel;
  /** The loss of every batch, as model.fit reports it (before that batch's update). */
  losses: number[];
  accuracy: number;
  ms: number;
}

function accuracy(model: tf.LayersModel): number {
  const predicted = tf.tidy(() => (model.predict(testX) as tf.Tensor).argMax(-1).dataSync());
  let correct = 0;
  for (let i = 0; i < testLabels.length; i++) correct += predicted[i] === testLabels[i] ? 1 : 0;
  return correct / testLabels.length;
}

async function fit(model: tf.LayersModel, epochs: number, losses: number[] = []): Promise<number[]> {
  await model.fit(xs, ys, { epochs, batchSize: BATCH, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async (_, logs) => void losses.push(logs!.loss as number) } });
  return losses;
}

async function train(optimizer: tf.Optimizer, epochs: number, kernels: boolean): Promise<Run> {
  if (kernels) registerSpecoptKernels();
  else unregisterSpecoptKernels();
  try {
    const model = mlp();
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const t0 = performance.now();
    const losses = await fit(model, epochs);
    const ms = performance.now() - t0;
    return { model, losses, accuracy: accuracy(model), ms };
  } finally {
    unregisterSpecoptKernels();
  }
}

const bitsOf = (t: tf.Tensor) => new Uint32Array((t.dataSync() as Float32Array | Int32Array).slice().buffer);

/** How many entries of the tensors differ in their bits (a count: a diff of 100k-entry arrays would take minutes to print). */
function bitDifferences(a: tf.Tensor[], b: tf.Tensor[]): number {
  expect(a.map((t) => t.shape)).toEqual(b.map((t) => t.shape));
  let differ = 0;
  a.forEach((t, i) => {
    const x = bitsOf(t), y = bitsOf(b[i]);
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) differ++;
  });
  return differ;
}

describe('tfjs-layers MLP on MNIST with model.fit', () => {
  it("(a) AdamW with weightDecay 0 follows tf.train.adam's loss curve over the first epoch (both eps 1e-7, tfjs's default)", async () => {
    // tf.train.adam: θ -= lr·m̂/(√v̂ + ε), ε outside the root as in PyTorch and specopt; its default ε
    // is the backend's epsilon(), 1e-7 in float32, where specopt's (PyTorch's) is 1e-8. The
    // bias corrections differ in rounding only: tfjs keeps β^t as float32 running products and
    // divides m and v by (1 − β^t) elementwise; specopt folds them into float64 scalars.
    const adam = await train(tf.train.adam(1e-3), 1, false);
    const adamw = await train(tfjsOptimizer('adamw', { lr: 1e-3, weightDecay: 0, eps: 1e-7 }), 1, false);
    const adamw8 = await train(tfjsOptimizer('adamw', { lr: 1e-3, weightDecay: 0 }), 1, false);
    expect(adamw.losses.length).toBe(TRAIN / BATCH);
    const relative = (r: Run) => r.losses.map((l, i) => Math.abs(l - adam.losses[i]) / adam.losses[i]);
    const worst = Math.max(...relative(adamw));
    const worst8 = Math.max(...relative(adamw8));
    console.log(
      `(a) per-batch loss vs tf.train.adam, worst relative difference over ${adamw.losses.length} batches: eps 1e-7 ${worst.toExponential(2)}` +
        ` (batch by batch: ${relative(adamw).map((x) => x.toExponential(0)).join(' ')}); specopt's default eps 1e-8: ${worst8.toExponential(2)};` +
        ` loss ${adam.losses[0].toFixed(4)} -> ${adam.losses.at(-1)!.toFixed(4)}; epoch ms: tf.train.adam ${adam.ms.toFixed(0)}, tfjsOptimizer ${adamw.ms.toFixed(0)}`,
    );
    // The first batch's loss comes before any update: the same model, the same number.
    expect(adamw.losses[0]).toBe(adam.losses[0]);
    // Measured: 2e-7 after the first update (float32 rounding of a different order of the
    // same operations), growing to ~1e-5 by batch 20 as training amplifies it; the bound leaves 5x.
    // Specopt's default eps 1e-8 is ~1e-3 away, so the test tells the two apart.
    expect(worst).toBeLessThan(5e-5);
    expect(worst8).toBeGreaterThan(10 * worst);
  }, 60_000);

  let muonWithKernels: Run | undefined;
  const muonK = async () => (muonWithKernels ??= await train(tfjsOptimizer(muonRecipe()), EPOCHS, true));

  it(`(b) the Muon recipe reaches at least tf.train.adam's test accuracy (${EPOCHS} epochs)`, async () => {
    // tf.train.adam at lr 1e-3 (its usual default; 3e-3 measured 0.880 here, 1e-3 0.881).
    const adam = await train(tf.train.adam(1e-3), EPOCHS, true);
    const muon = await muonK();
    const assignments = ((muon.model.optimizer as SpecoptOptimizer).assignments()).map((a) => `${a.name}: ${a.rule}`);
    console.log(`(b) test accuracy after ${EPOCHS} epochs: tf.train.adam(1e-3) ${adam.accuracy.toFixed(4)}, Muon recipe ${muon.accuracy.toFixed(4)} (${assignments.join(', ')})`);
    expect(assignments.filter((a) => a.endsWith('muon'))).toHaveLength(1); // the 128x128 hidden kernel
    expect(muon.accuracy).toBeGreaterThanOrEqual(adam.accuracy);
  }, 60_000);

  it('(d) with registerSpecoptKernels the same run gives the same test accuracy to 3 decimals, faster', async () => {
    const plain = await train(tfjsOptimizer(muonRecipe()), EPOCHS, false);
    const fast = await muonK();
    let worstLoss = 0;
    plain.losses.forEach((l, i) => (worstLoss = Math.max(worstLoss, Math.abs(l - fast.losses[i]) / l)));
    console.log(
      `(d) Muon recipe, ${EPOCHS} epochs: accuracy tfjs cpu ${plain.accuracy.toFixed(4)}, with specopt kernels ${fast.accuracy.toFixed(4)};` +
        ` worst relative batch-loss difference ${worstLoss.toExponential(2)}; ${EPOCHS}-epoch ms ${plain.ms.toFixed(0)} vs ${fast.ms.toFixed(0)}`,
    );
    expect(fast.accuracy.toFixed(3)).toBe(plain.accuracy.toFixed(3));
  }, 60_000);

  it('(c) model.save with includeOptimizer and tf.loadLayersModel resume bit-identically', async () => {
    registerSpecoptKernels(); // faster, and the same kernels in both runs
    try {
      const steps = (2 * TRAIN) / BATCH;
      // A schedule and a name pattern with underscores: both must survive the saved training config.
      const optimizer = () =>
        tfjsOptimizer({
          groups: [
            { select: { pattern: 'dense_Dense\\d+/bias' }, rule: 'adamw', hyper: { lr: schedules.cosine({ from: 3e-3, steps }), weightDecay: 0 } },
            ...muonRecipe({ muon: { lr: schedules.warmupCosine({ from: 0.002, peak: 0.02, warmupSteps: 4, totalSteps: steps }) } }).groups,
          ],
        });
      const straight = mlp();
      straight.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      await fit(straight, 2);

      const first = mlp();
      first.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      await fit(first, 1);
      // What a file:// save writes: model.json (topology, training config, weight specs) and the weight bytes.
      let json = '';
      let bytes = new ArrayBuffer(0);
      await first.save(
        tf.io.withSaveHandler(async (artifacts) => {
          const { weightData, ...rest } = artifacts;
          json = JSON.stringify(rest);
          const parts = Array.isArray(weightData) ? weightData : [weightData!];
          bytes = tf.io.concatenateArrayBuffers(parts.map((p) => p.slice(0)));
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
        { includeOptimizer: true },
      );
      const saved = JSON.parse(json) as tf.io.ModelArtifacts;
      const optimizerSpecs = saved.weightSpecs!.filter((s) => s.group === 'optimizer');
      expect(optimizerSpecs[0].name).toBe('iter');
      expect(optimizerSpecs.length).toBeGreaterThan(6);
      expect((saved.trainingConfig!.optimizer_config as { class_name: string }).class_name).toBe('SpecoptOptimizer');

      const loaded = await tf.loadLayersModel(tf.io.fromMemory({ ...saved, weightData: bytes }));
      const opt = loaded.optimizer as SpecoptOptimizer;
      expect(opt.getClassName()).toBe('SpecoptOptimizer');
      expect(opt.iterations).toBe(TRAIN / BATCH);
      await fit(loaded, 1);
      // The loaded model's variables have other names (tfjs appends _1 in the same process); the
      // rules went to the same layers, the pattern group still took the biases.
      expect(opt.assignments().map((a) => a.rule)).toEqual((straight.optimizer as SpecoptOptimizer).assignments().map((a) => a.rule));
      expect(opt.assignments().map((a) => a.group)).toEqual([2, 0, 1, 0, 2, 0]); // groups: the pattern, Muon (hidden), AdamW (all)
      expect(bitDifferences(loaded.getWeights(), straight.getWeights())).toBe(0);
      const states = async (o: tf.Optimizer) => (await o.getWeights()).map((w) => w.tensor);
      expect(bitDifferences(await states(opt), await states(straight.optimizer))).toBe(0);
      console.log(`(c) resumed after 1 epoch from ${(bytes.byteLength / 1024).toFixed(0)} KiB of weights (${optimizerSpecs.length} optimizer tensors): weights and states bit-identical to the uninterrupted run`);
    } finally {
      unregisterSpecoptKernels();
    }
  }, 60_000);
});
