// `specopt tour` (formerly `npm start`): what the backend is, how fast GEMM runs against the
// machine's limit, and spectral norms of a few realistic matrices by power iteration against the
// exact SVD.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { backendInfo } from './backend.js';
import { matmul } from './matmul.js';
import { Matrix } from './matrix.js';
import { qr } from './qr.js';
import { spectralNorm } from './spectral.js';

function best(runs: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

function table(log: (line: string) => void, rows: (string | number)[][]): void {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => String(r[j]).length)));
  for (const [i, r] of rows.entries()) {
    log(r.map((c, j) => String(c).padEnd(widths[j])).join('  ').trimEnd());
    if (i === 0) log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

// The machine's GEMM limit: the same sgemm called from C with the best kernels, as measured by
// `npm run bench` on this CPU model (bench/RESULTS.md, in a source checkout). The tour does not
// compile C itself.
function recordedLimit(): number | undefined {
  try {
    const results = readFileSync(join(__dirname, '..', 'bench', 'RESULTS.md'), 'utf8');
    const machine = /^Machine: (.*?) \(/m.exec(results)?.[1];
    const gflops = Number(/^\| 2048 \| [^|]+\| (\d+(?:\.\d+)?) \|/m.exec(results)?.[1]);
    if (machine === cpus()[0].model && gflops > 0) return gflops;
  } catch {}
  return undefined;
}

// Matrices with the spectra one meets in training: a fresh Gaussian init (flat-ish spectrum,
// σ₁/σ₂ ≈ 1, the hard case for power iteration), a "trained" low-rank-plus-noise weight, and a
// data covariance with power-law decay.
function withSpectrum(m: number, n: number, sigma: (i: number) => number, seed: number): Matrix {
  const k = Math.min(m, n);
  const U = qr(Matrix.randn(m, k, seed)).Q;
  const V = qr(Matrix.randn(n, k, seed + 1)).Q;
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) U.data[i * k + j] *= sigma(j);
  return matmul(U, V, { transB: true });
}

export function tour(log: (line: string) => void = console.log): void {
  const info = backendInfo();
  log('specopt tour\n');
  log(`BLAS     ${info.blas}`);
  log(`kernels  ${info.coreType} (${info.coreTypeChosenBy})`);
  log(`threads  ${info.threads} (${info.threadsChosenBy})`);
  log(`CPU      ${cpus()[0].model}, ${cpus().length} cores\n`);

  const limit = recordedLimit();
  const gemmRows: (string | number)[][] = [['n', 'ms', 'GFLOP/s', limit ? `% of the C sgemm 2048 (${limit} GFLOP/s)` : '']];
  for (const n of [256, 1024, 2048]) {
    const a = Matrix.randn(n, n, 1);
    const b = Matrix.randn(n, n, 2);
    const out = new Matrix(n, n);
    matmul(a, b, { out });
    const ms = best(n >= 2048 ? 5 : 10, () => matmul(a, b, { out }));
    const gflops = (2 * n ** 3) / (ms * 1e6);
    gemmRows.push([n, ms.toFixed(2), gflops.toFixed(1), limit ? `${((100 * gflops) / limit).toFixed(0)}%` : '']);
  }
  log('GEMM (float32, C = A·B, best of several runs)');
  table(log, gemmRows);
  log(
    limit
      ? 'The C figure is the same sgemm called from C with the best kernels, from `npm run bench` on this CPU model.'
      : 'No C reference for this CPU model yet: `npm run bench` in a source checkout measures it (bench/RESULTS.md).',
  );

  const init = Matrix.randn(768, 3072, 3);
  init.data.forEach((x, i) => (init.data[i] = x * 0.02));
  const cases: [string, Matrix][] = [
    ['Gaussian init 768x3072 (std 0.02)', init],
    ['low rank + noise 1024x1024', withSpectrum(1024, 1024, (i) => (i < 8 ? 10 / (1 + i) : 0.5 * Math.exp(-i / 300)), 5)],
    ['power-law covariance 512x512', withSpectrum(512, 512, (i) => 1 / (1 + i) ** 1.5, 7)],
  ];
  const normRows: (string | number)[][] = [['matrix', 'svd σ₁', 'power σ₁ (10 it)', 'rel. error', 'svd ms', 'power ms', 'speed-up']];
  for (const [name, m] of cases) {
    let exact = 0;
    let approx = 0;
    const svdMs = best(2, () => (exact = spectralNorm(m, { method: 'svd' })));
    const powerMs = best(5, () => (approx = spectralNorm(m, { method: 'power', iters: 10 })));
    normRows.push([
      name,
      exact.toPrecision(6),
      approx.toPrecision(6),
      (Math.abs(approx - exact) / exact).toExponential(1),
      svdMs.toFixed(1),
      powerMs.toFixed(2),
      `${(svdMs / powerMs).toFixed(0)}x`,
    ]);
  }
  log('\nSpectral norm: power iteration from the all-ones vector vs exact SVD');
  table(log, normRows);
  log('\nPower iteration converges like (σ₂/σ₁)^(2·iters): fast for trained weights, slow for a fresh init.');
}
