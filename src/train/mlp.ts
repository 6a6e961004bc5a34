// A multilayer perceptron on the library's GEMM: ReLU hidden layers, linear logits, softmax
// cross-entropy averaged over the mini-batch.
//
// Layer t stores W as out×in and b as a 1×out Matrix (PyTorch nn.Linear): Z = A·Wᵀ + b with
// A the batch's inputs to the layer (B×in), one sgemm with transB. Backward, with
// dZ = ∂loss/∂Z (B×out): ∇W = dZᵀ·A (transA), ∇b = column sums of dZ, ∂loss/∂A = dZ·W.
// ReLU is applied in place (Z > 0 exactly where relu(Z) > 0, so the activation is its own mask).
import { Matrix } from '../matrix.js';
import { matmul } from '../matmul.js';
import type { Dataset } from './data.js';
import { createRng, mixSeed } from './rng.js';

export interface Layer {
  /** out×in. */
  W: Matrix;
  /** 1×out. */
  b: Matrix;
}

export interface NamedParam {
  /** 'W1', 'b1', 'W2', ... (1-based layer numbers). */
  name: string;
  layer: number;
  kind: 'weight' | 'bias';
  param: Matrix;
  grad: Matrix;
}

interface Workspace {
  /** acts[t]: the output of layer t (B×sizes[t+1]); ReLU'd in place for hidden layers. */
  acts: Matrix[];
  /** deltas[t]: ∂loss/∂(pre-activation of layer t). */
  deltas: Matrix[];
}

export class Mlp {
  readonly sizes: readonly number[];
  readonly layers: Layer[];
  readonly grads: Layer[];
  private readonly workspaces = new Map<number, Workspace>();

  /**
   * sizes = [input, hidden..., classes]. Weights and biases are drawn as PyTorch's nn.Linear
   * does, U(−1/√in, 1/√in), from a PRNG seeded by (seed, layer, W or b): same seed, same net.
   */
  constructor(sizes: readonly number[], seed: number) {
    if (sizes.length < 2 || !sizes.every((s) => Number.isSafeInteger(s) && s >= 1)) {
      throw new RangeError(`Mlp: sizes must be at least two positive integers, got ${JSON.stringify(sizes)}`);
    }
    this.sizes = [...sizes];
    this.layers = [];
    this.grads = [];
    for (let t = 0; t + 1 < sizes.length; t++) {
      const fanIn = sizes[t];
      const out = sizes[t + 1];
      const bound = 1 / Math.sqrt(fanIn);
      const W = new Matrix(out, fanIn);
      const b = new Matrix(1, out);
      for (const [m, part] of [
        [W, 0],
        [b, 1],
      ] as const) {
        const rng = createRng(mixSeed(seed, t + 1, part));
        for (let i = 0; i < m.data.length; i++) m.data[i] = (2 * rng() - 1) * bound;
      }
      this.layers.push({ W, b });
      this.grads.push({ W: new Matrix(out, fanIn), b: new Matrix(1, out) });
    }
  }

  /** Every parameter with its gradient buffer, in the order W1, b1, W2, b2, ... */
  params(): NamedParam[] {
    return this.layers.flatMap((l, t) => [
      { name: `W${t + 1}`, layer: t + 1, kind: 'weight' as const, param: l.W, grad: this.grads[t].W },
      { name: `b${t + 1}`, layer: t + 1, kind: 'bias' as const, param: l.b, grad: this.grads[t].b },
    ]);
  }

  private workspace(batch: number): Workspace {
    let ws = this.workspaces.get(batch);
    if (!ws) {
      const outs = this.sizes.slice(1);
      ws = { acts: outs.map((n) => new Matrix(batch, n)), deltas: outs.map((n) => new Matrix(batch, n)) };
      this.workspaces.set(batch, ws);
    }
    return ws;
  }

  /** Forward pass of `batch` rows of `x` (batch×input); returns the logits (a workspace buffer). */
  forward(x: Float32Array, batch: number): Matrix {
    const input = this.sizes[0];
    if (x.length < batch * input) throw new RangeError(`Mlp.forward: x holds ${x.length} values, need ${batch}x${input}`);
    const ws = this.workspace(batch);
    let a = new Matrix(batch, input, x.length === batch * input ? x : x.subarray(0, batch * input));
    const last = this.layers.length - 1;
    for (let t = 0; t <= last; t++) {
      const { W, b } = this.layers[t];
      const z = ws.acts[t];
      matmul(a, W, { transB: true, out: z });
      const out = W.rows;
      const zd = z.data;
      const bd = b.data;
      for (let i = 0; i < batch; i++) {
        const row = i * out;
        if (t < last) {
          for (let j = 0; j < out; j++) {
            const v = zd[row + j] + bd[j];
            zd[row + j] = v > 0 ? v : 0;
          }
        } else {
          for (let j = 0; j < out; j++) zd[row + j] += bd[j];
        }
      }
      a = z;
    }
    return a;
  }

  /**
   * Mean softmax cross-entropy of the batch and its gradient with respect to every parameter
   * (written into `grads`). `labels[k]` is the class of row k.
   */
  lossAndGrad(x: Float32Array, labels: ArrayLike<number>, batch: number): number {
    const logits = this.forward(x, batch);
    const ws = this.workspace(batch);
    const L = this.layers.length;
    const classes = this.sizes[L];
    const dz = ws.deltas[L - 1].data;
    const ld = logits.data;
    let loss = 0;
    for (let i = 0; i < batch; i++) {
      const row = i * classes;
      let max = -Infinity;
      for (let j = 0; j < classes; j++) max = Math.max(max, ld[row + j]);
      let sum = 0;
      for (let j = 0; j < classes; j++) sum += Math.exp(ld[row + j] - max);
      const y = labels[i];
      loss += Math.log(sum) + max - ld[row + y];
      for (let j = 0; j < classes; j++) dz[row + j] = (Math.exp(ld[row + j] - max) / sum - (j === y ? 1 : 0)) / batch;
    }
    for (let t = L - 1; t >= 0; t--) {
      const delta = ws.deltas[t];
      const input = t === 0 ? new Matrix(batch, this.sizes[0], x.length === batch * this.sizes[0] ? x : x.subarray(0, batch * this.sizes[0])) : ws.acts[t - 1];
      const g = this.grads[t];
      matmul(delta, input, { transA: true, out: g.W });
      const out = delta.cols;
      const dd = delta.data;
      const gb = g.b.data;
      for (let j = 0; j < out; j++) {
        let s = 0;
        for (let i = 0; i < batch; i++) s += dd[i * out + j];
        gb[j] = s;
      }
      if (t > 0) {
        const prev = ws.deltas[t - 1];
        matmul(delta, this.layers[t].W, { out: prev });
        const pd = prev.data;
        const ad = ws.acts[t - 1].data;
        for (let k = 0; k < pd.length; k++) if (!(ad[k] > 0)) pd[k] = 0;
      }
    }
    return loss / batch;
  }

  /** Mean cross-entropy and accuracy over a data set, forward passes of up to `chunk` rows. */
  evaluate(data: Dataset, chunk = 1000): { loss: number; accuracy: number } {
    const input = this.sizes[0];
    const classes = this.sizes[this.sizes.length - 1];
    let loss = 0;
    let correct = 0;
    for (let start = 0; start < data.n; start += chunk) {
      const batch = Math.min(chunk, data.n - start);
      const logits = this.forward(data.images.subarray(start * input, (start + batch) * input), batch).data;
      for (let i = 0; i < batch; i++) {
        const row = i * classes;
        let max = -Infinity;
        let arg = 0;
        for (let j = 0; j < classes; j++) {
          if (logits[row + j] > max) {
            max = logits[row + j];
            arg = j;
          }
        }
        let sum = 0;
        for (let j = 0; j < classes; j++) sum += Math.exp(logits[row + j] - max);
        const y = data.labels[start + i];
        loss += Math.log(sum) + max - logits[row + y];
        if (arg === y) correct++;
      }
    }
    return { loss: loss / data.n, accuracy: correct / data.n };
  }
}
