// Async twins: same results as the sync calls, inputs snapshotted at call time, one queue, and
// the addon loads in worker threads.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';

import {
  Matrix,
  eigh,
  eighAsync,
  inverseRoot,
  inverseRootAsync,
  matmul,
  matmulAsync,
  orthogonalize,
  orthogonalizeAsync,
  qr,
  qrAsync,
  spectralNormGrad,
  spectralNormGradAsync,
  svd,
  svdAsync,
  truncatedSvd,
  truncatedSvdAsync,
} from '../src/index.js';

/** The same values on a SharedArrayBuffer, at `offset` floats into it. */
function shared(m: Matrix, offset = 0): Matrix {
  const data = new Float32Array(new SharedArrayBuffer((m.data.length + offset + 3) * 4), offset * 4, m.data.length);
  data.set(m.data);
  return new Matrix(m.rows, m.cols, data);
}

/** Every Float32Array of a result, in a fixed order, as bytes (bit-for-bit comparison). */
function bytes(x: unknown): Buffer[] {
  if (x instanceof Float32Array) return [Buffer.from(x.buffer, x.byteOffset, x.byteLength)];
  if (x && typeof x === 'object') return Object.keys(x).sort().flatMap((k) => bytes((x as Record<string, unknown>)[k]));
  return [];
}
const sameBits = (a: unknown, b: unknown) => {
  const [x, y] = [bytes(a), bytes(b)];
  return x.length > 0 && x.length === y.length && x.every((v, i) => v.equals(y[i]));
};

describe('async twins', () => {
  it('resolve to exactly what the sync calls return', async () => {
    const a = Matrix.randn(40, 25, 3);
    const s = matmul(a, a, { transA: true });
    const [m, e, d, t, q] = await Promise.all([
      matmulAsync(a, a, { transB: true, alpha: 0.5 }),
      eighAsync(s),
      svdAsync(a),
      truncatedSvdAsync(a, 5, { seed: 4 }),
      qrAsync(a),
    ]);
    expect(m.data).toEqual(matmul(a, a, { transB: true, alpha: 0.5 }).data);
    const se = eigh(s);
    expect(e.values).toEqual(se.values);
    expect(e.vectors.data).toEqual(se.vectors.data);
    const sd = svd(a);
    expect([d.U.data, d.S, d.Vt.data]).toEqual([sd.U.data, sd.S, sd.Vt.data]);
    const st = truncatedSvd(a, 5, { seed: 4 });
    expect([t.U.data, t.S, t.Vt.data]).toEqual([st.U.data, st.S, st.Vt.data]);
    const sq = qr(a);
    expect([q.Q.data, q.R.data]).toEqual([sq.Q.data, sq.R.data]);
  });

  it('copy inputs when called: later writes do not change the result', async () => {
    const a = Matrix.randn(300, 300, 1);
    const expected = svd(a).S;
    // Queue a slow job first so svdAsync's own job cannot have started yet.
    const busy = svdAsync(Matrix.randn(400, 400, 2));
    const pending = svdAsync(a);
    a.data.fill(0);
    await busy;
    expect((await pending).S).toEqual(expected);
  });

  it('write out only on completion, and keep call order in one queue', async () => {
    const a = Matrix.randn(64, 64, 5);
    const out = Matrix.from(64, 64, new Float32Array(64 * 64).fill(3));
    const order: number[] = [];
    const first = svdAsync(Matrix.randn(300, 300, 6)).then(() => order.push(1));
    const second = matmulAsync(a, a, { out }).then(() => order.push(2));
    expect(out.data[0]).toBe(3); // nothing written yet
    const third = eighAsync(matmul(a, a, { transA: true })).then(() => order.push(3));
    await Promise.all([first, second, third]);
    expect(order).toEqual([1, 2, 3]);
    expect(out.data).toEqual(matmul(a, a).data);
  });

  it('keep inputs alive when the caller drops them', async () => {
    const pending = Array.from({ length: 8 }, (_, i) => svdAsync(Matrix.randn(120, 80, i)));
    (globalThis as { gc?: () => void }).gc?.();
    const results = await Promise.all(pending);
    results.forEach((r, i) => expect(r.S).toEqual(svd(Matrix.randn(120, 80, i)).S));
  });
});

describe('async twins: inputs on a SharedArrayBuffer (copied on the worker thread) and the result arrays', () => {
  const a = Matrix.randn(70, 45, 11);
  const s = matmul(a, a, { transA: true });
  const twins: [string, (x: Matrix) => unknown, (x: Matrix) => Promise<unknown>, Matrix][] = [
    ['eigh', eigh, eighAsync, s],
    ['svd', svd, svdAsync, a],
    ['truncatedSvd', (x) => truncatedSvd(x, 6, { seed: 2 }), (x) => truncatedSvdAsync(x, 6, { seed: 2 }), a],
    ['qr', qr, qrAsync, a],
    ['inverseRoot', (x) => inverseRoot(x, 4), (x) => inverseRootAsync(x, 4), s],
    ['orthogonalize', orthogonalize, orthogonalizeAsync, a],
    ['spectralNormGrad', spectralNormGrad, spectralNormGradAsync, a],
    ['matmul', (x) => matmul(x, x, { transB: true }), (x) => matmulAsync(x, x, { transB: true }), a],
  ];

  it.each(twins)('%s: the same bits as the sync call, on a SharedArrayBuffer and at an offset in one', async (_, sync, async, x) => {
    const expected = sync(x);
    for (const input of [shared(x), shared(x, 5), x]) expect(sameBits(await async(input), expected)).toBe(true);
  });

  it('matmulAsync with beta reads a shared `out` as input and writes it only on completion', async () => {
    const b = Matrix.randn(70, 70, 12);
    const expected = b.clone();
    matmul(a, a, { transB: true, alpha: 0.5, beta: -2, out: expected });
    const out = shared(b, 3);
    const pending = matmulAsync(shared(a), a, { transB: true, alpha: 0.5, beta: -2, out });
    expect(sameBits(out, b)).toBe(true);
    await pending;
    expect(sameBits(out, expected)).toBe(true);
  });

  it('a shared input is read when its job starts, not at the call (an ordinary one at the call)', async () => {
    const x = Matrix.randn(300, 300, 13);
    const y = Matrix.randn(300, 300, 14);
    const [sx, sy] = [svd(x).S, svd(y).S];
    // A slow job first: the jobs behind it cannot start before this function returns.
    const busy = svdAsync(Matrix.randn(400, 400, 15));
    const sharedInput = shared(x);
    const plainInput = x.clone();
    const fromShared = svdAsync(sharedInput);
    const fromPlain = svdAsync(plainInput);
    sharedInput.data.set(y.data);
    plainInput.data.set(y.data);
    await busy;
    expect(sameBits((await fromShared).S, sy)).toBe(true);
    expect(sameBits((await fromPlain).S, sx)).toBe(true);
  });

  it('a job starts only when the JS that made the call has finished: an idle queue sees writes to a shared input made right after the call', async () => {
    const x = Matrix.randn(300, 300, 18);
    const y = Matrix.randn(300, 300, 19);
    const expected = svd(y).S;
    for (let round = 0; round < 3; round++) {
      const input = shared(x);
      const pending = svdAsync(input);
      input.data.set(y.data);
      expect(sameBits((await pending).S, expected), `round ${round}`).toBe(true);
    }
  });

  it('an ordinary input transferred away right after the call does not change the result', async () => {
    const x = Matrix.randn(300, 300, 16);
    const expected = svd(x);
    const busy = svdAsync(Matrix.randn(400, 400, 17));
    const pending = svdAsync(x);
    structuredClone(x.data.buffer, { transfer: [x.data.buffer] });
    expect(x.data.length).toBe(0); // detached
    await busy;
    expect(sameBits(await pending, expected)).toBe(true);
  });

  it('a shared input with NaN rejects like the sync call', async () => {
    const x = shared(a);
    x.data[7] = NaN;
    await expect(svdAsync(x)).rejects.toThrow(new RangeError('svdAsync: input contains NaN or Infinity'));
    await expect(eighAsync(shared(Matrix.from(2, 2, [1, 0, Infinity, 1])))).rejects.toThrow(RangeError);
  });

  it('results are ArrayBuffers of their own, exactly their size; a transfer copies them and leaves them intact', async () => {
    const [d, e] = await Promise.all([svdAsync(a), eighAsync(s)]);
    const arrays = [d.U.data, d.S, d.Vt.data, e.values, e.vectors.data];
    for (const x of arrays) {
      expect(x.buffer).toBeInstanceOf(ArrayBuffer);
      expect([x.byteOffset, x.buffer.byteLength]).toEqual([0, x.byteLength]);
    }
    expect(new Set(arrays.map((x) => x.buffer)).size).toBe(arrays.length);
    // External ArrayBuffers (the worker's memory, no copy at the finish): Node clones them on a transfer.
    const copy = new Float32Array(d.U.data);
    const sent = structuredClone(d.U.data, { transfer: [d.U.data.buffer] });
    expect(sameBits(sent, copy)).toBe(true);
    expect(sameBits(d.U.data, copy)).toBe(true);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<Float32Array>((resolve) => port2.once('message', resolve));
    port1.postMessage(e.vectors.data, [e.vectors.data.buffer]);
    expect(sameBits(await received, e.vectors.data)).toBe(true);
    port1.close();
  });

  it('empty and tiny results are well-formed too', async () => {
    const z = await svdAsync(Matrix.from(1, 1, [-3]));
    expect([Array.from(z.S), Array.from(z.U.data).map(Math.abs), Array.from(z.Vt.data).map(Math.abs)]).toEqual([[3], [1], [1]]);
    const t = await truncatedSvdAsync(Matrix.randn(5, 4, 3), 0);
    expect([t.S.length, t.U.data.length, t.Vt.data.length]).toEqual([0, 0, 0]);
  });

  it('eighAsync copies and reads only the lower triangle: what is above it does not matter, small or large, shared or not', async () => {
    // 400² is 320 KiB of triangle (the streaming copy into a reused block); 9² the plain one.
    for (const n of [9, 400]) {
      const b = Matrix.randn(n, n, 40 + n);
      const sym = matmul(b, b, { transA: true });
      const expected = eigh(sym);
      const junk = sym.clone();
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) junk.data[i * n + j] = j % 3 === 0 ? NaN : 1e30 * (i - j);
      // A reused block holding other values first: an svd of the same byte size before each run.
      await svdAsync(Matrix.randn(n, n, 7));
      for (const input of [junk, shared(junk)]) expect(sameBits(await eighAsync(input), expected), `n = ${n}`).toBe(true);
    }
  });

  it('inputs of 256 KiB and more (copied into reused blocks) give the right results in any order of sizes', async () => {
    // Sizes within a factor of two of each other reuse each other's blocks; several in flight at once.
    const sizes = [300, 260, 300, 380, 270, 300, 256, 390];
    const inputs = sizes.map((n, i) => Matrix.randn(n, n - 3, 20 + i));
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all(inputs.map((x) => svdAsync(x)));
      results.forEach((r, i) => expect(sameBits(r, svd(inputs[i])), `size ${sizes[i]}`).toBe(true));
    }
  });
});

describe('worker threads', () => {
  it('load their own addon instance and compute the same results', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const so = require(${JSON.stringify(new URL('../dist/index.js', import.meta.url).pathname)});
      const a = so.Matrix.randn(50, 30, 9);
      so.svdAsync(a).then((r) => parentPort.postMessage({ S: r.S, sync: so.svd(a).S, core: so.backendInfo().coreType }));
    `;
    const run = () =>
      new Promise<{ S: Float32Array; sync: Float32Array; core: string }>((resolve, reject) => {
        const worker = new Worker(code, { eval: true });
        worker.once('message', (m) => {
          void worker.terminate();
          resolve(m);
        });
        worker.once('error', reject);
      });
    const [one, two] = await Promise.all([run(), run()]);
    const expected = svd(Matrix.randn(50, 30, 9)).S;
    for (const r of [one, two]) {
      expect(r.S).toEqual(expected);
      expect(r.sync).toEqual(expected);
    }
    expect(one.core).toBe(two.core);
  });
});
