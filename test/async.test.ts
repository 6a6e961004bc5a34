// Async twins: same results as the sync calls, inputs snapshotted at call time, one queue, and
// the addon loads in worker threads.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';

import { Matrix, eigh, eighAsync, matmul, matmulAsync, qr, qrAsync, svd, svdAsync, truncatedSvd, truncatedSvdAsync } from '../src/index.js';

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
