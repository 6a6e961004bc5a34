// stepManyAsync calls whose entries, parameters, gradients and states the caller drops at once,
// with garbage collections forced while the jobs run: the jobs must still read and write only
// live memory (under the sanitizer build, any use after free aborts this process). Prints a JSON
// summary. Usage: node --expose-gc drop-references.cjs ROUNDS
const { lib } = require('./async-work.cjs');
const { Matrix } = lib;

if (typeof gc !== 'function') throw new Error('run with --expose-gc');
const rounds = Number(process.argv[2] ?? 20);

function launch(round) {
  const alloc = round % 2 ? Matrix.shared : Matrix.zeros;
  const muon = lib.createOptimizer('muon');
  const adamw = lib.createOptimizer('adamw');
  const entries = [];
  for (let k = 0; k < 4; k++) {
    const opt = k % 2 ? muon : adamw;
    const param = alloc(96 + k, 64);
    param.data.set(Matrix.randn(96 + k, 64, round * 10 + k).data);
    const grad = alloc(96 + k, 64);
    grad.data.set(Matrix.randn(96 + k, 64, round * 10 + k + 5).data);
    entries.push({ optimizer: opt, param, grad, state: opt.init(param) });
  }
  // Only the promise is kept; its result says whether the step ran.
  return lib.stepManyAsync(entries, { maxGradNorm: 1 }).then((r) => r.length === 4 && r.every((x) => !x.skipped));
}

(async () => {
  let resolved = 0;
  for (let r = 0; r < rounds; r++) {
    const pending = [launch(r), launch(r + 1), launch(r + 2)];
    for (let k = 0; k < 5; k++) {
      gc();
      new Float32Array(1 << 18).fill(r); // garbage that may reuse freed memory
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const ok of await Promise.all(pending)) if (ok) resolved++;
  }
  process.stdout.write(JSON.stringify({ calls: rounds * 3, resolved }));
})();
