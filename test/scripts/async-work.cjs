// Shared by the reliability scripts: every async twin of the library on seeded inputs, and a
// digest of results so runs on different threads can be compared bit for bit.
const { join } = require('node:path');
const lib = require(join(__dirname, '..', '..', 'dist', 'index.js'));
const { Matrix } = lib;

function inputs(n, seed, shared = false) {
  const a = Matrix.randn(n, n, seed);
  const s = lib.matmul(a, a, { transA: true });
  for (let i = 0; i < n; i++) s.data[i * n + i] += 1;
  const m = { a, s, tall: Matrix.randn(n + 7, n, seed + 1) };
  if (shared) {
    // The same values on SharedArrayBuffers (the async twins copy those on the worker thread).
    for (const [key, x] of Object.entries(m)) {
      const data = new Float32Array(new SharedArrayBuffer(x.data.byteLength));
      data.set(x.data);
      m[key] = new Matrix(x.rows, x.cols, data);
    }
  }
  return m;
}

// A stepMany batch (Muon and a scheduled AdamW), on shared memory (stepped in place by
// stepManyAsync) or on ordinary ArrayBuffers (copied).
function stepEntries(n, seed, shared) {
  const alloc = shared ? Matrix.shared : Matrix.zeros;
  const filled = (rows, cols, s) => {
    const m = alloc(rows, cols);
    m.data.set(Matrix.randn(rows, cols, s).data);
    return m;
  };
  const muon = lib.createOptimizer('muon');
  const adamw = lib.createOptimizer('adamw', { lr: lib.schedules.cosine({ from: 1e-2, steps: 10 }) });
  const p = filled(n, n, seed + 2), q = filled(n, 3, seed + 3);
  return [
    { optimizer: muon, param: p, grad: filled(n, n, seed + 4), state: muon.init(p) },
    { optimizer: adamw, param: q, grad: filled(n, 3, seed + 5), state: adamw.init(q) },
  ];
}
const stepped = (entries) => entries.map((e) => e.param.data);

// One call of every async twin; returns their promises. `shared`: inputs on SharedArrayBuffers.
function everyAsync(n, seed, shared = false) {
  const { a, s, tall } = inputs(n, seed, shared);
  const inPlace = stepEntries(n, seed, true), copied = stepEntries(n, seed, false);
  return [
    lib.stepManyAsync(inPlace, { maxGradNorm: 1 }).then(() => stepped(inPlace)),
    lib.stepManyAsync(copied, { maxGradNorm: 1 }).then(() => stepped(copied)),
    lib.matmulAsync(a, tall, { transB: true }),
    lib.eighAsync(s),
    lib.svdAsync(tall),
    lib.truncatedSvdAsync(tall, 4, { seed }),
    lib.qrAsync(tall),
    lib.inverseRootAsync(s, 4),
    lib.orthogonalizeAsync(tall),
    lib.spectralNormGradAsync(tall),
  ];
}

// The same calls, synchronously.
function everySync(n, seed) {
  const { a, s, tall } = inputs(n, seed);
  const inPlace = stepEntries(n, seed, true), copied = stepEntries(n, seed, false);
  lib.stepMany(inPlace, { maxGradNorm: 1 });
  lib.stepMany(copied, { maxGradNorm: 1 });
  return [
    stepped(inPlace),
    stepped(copied),
    lib.matmul(a, tall, { transB: true }),
    lib.eigh(s),
    lib.svd(tall),
    lib.truncatedSvd(tall, 4, { seed }),
    lib.qr(tall),
    lib.inverseRoot(s, 4),
    lib.orthogonalize(tall),
    lib.spectralNormGrad(tall),
  ];
}

// FNV-1a over the bytes of every Float32Array in a result (Matrix, tuple object or array).
function digest(results) {
  let h = 0x811c9dc5;
  const visit = (x) => {
    if (x instanceof Float32Array) {
      const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
    } else if (x && typeof x === 'object') {
      for (const key of Object.keys(x).sort()) visit(x[key]);
    }
  };
  visit(results);
  return h.toString(16);
}

module.exports = { lib, everyAsync, everySync, digest };
