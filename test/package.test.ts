// The built package: ESM and CJS entry points expose the same API; the OpenBLAS core type is
// chosen without overriding a user's setting; a failure to load names the fix.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import * as source from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function node(script: string, env: NodeJS.ProcessEnv = {}): string {
  const clean = { ...process.env };
  delete clean.OPENBLAS_CORETYPE;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...clean, ...env },
    encoding: 'utf8',
  });
}

describe('entry points', () => {
  it('CJS and ESM expose the same names as the source, with type declarations', () => {
    // In a plain Node process: that is how users load the package.
    const script = `
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('./dist/index.js');
      const esm = await import('./dist/index.mjs');
      const names = Object.keys(esm).sort();
      const same = names.every((n) => esm[n] === cjs[n]);
      const product = esm.matmul(esm.Matrix.eye(2), esm.Matrix.from(2, 1, [3, 4])).data;
      console.log(JSON.stringify({ names, cjsNames: Object.keys(cjs).sort(), same, product: Array.from(product) }));
    `;
    const r = JSON.parse(node(script));
    const names = Object.keys(source).sort();
    expect(r.names).toEqual(names);
    expect(r.cjsNames).toEqual(names);
    expect(r.same).toBe(true); // one addon instance and one job queue for both
    expect(r.product).toEqual([3, 4]);
    for (const file of ['dist/index.d.ts', 'dist/index.d.mts']) expect(existsSync(root + file)).toBe(true);
  });
});

describe('OpenMP wait policy', () => {
  const policy = (env: NodeJS.ProcessEnv = {}) =>
    node("await import('./dist/index.mjs'); console.log(process.env.OMP_WAIT_POLICY)", env).trim();

  it("is set to 'passive' before the addon loads, and a user's value is kept", () => {
    const clean = { ...process.env };
    delete clean.OMP_WAIT_POLICY;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', "await import('./dist/index.mjs'); console.log(process.env.OMP_WAIT_POLICY)"], { cwd: root, env: clean, encoding: 'utf8' }).trim()).toBe('passive');
    expect(policy({ OMP_WAIT_POLICY: 'active' })).toBe('active');
  });
});

describe('OpenBLAS core type', () => {
  const cpuinfo = existsSync('/proc/cpuinfo') ? execFileSync('cat', ['/proc/cpuinfo'], { encoding: 'utf8' }) : '';
  const avx512 = ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => new RegExp(`\\b${f}\\b`).test(cpuinfo));
  const info = (env: NodeJS.ProcessEnv = {}) =>
    JSON.parse(node("import { backendInfo } from './dist/index.mjs'; console.log(JSON.stringify(backendInfo()))", env));

  it('is never overridden when the user set OPENBLAS_CORETYPE', () => {
    const r = info({ OPENBLAS_CORETYPE: 'Sandybridge' });
    expect(r.coreType).toBe('Sandybridge');
    expect(r.coreTypeChosenBy).toBe('OPENBLAS_CORETYPE set by the user');
  });

  it('uses the AVX-512 kernels by itself where the CPU has them', () => {
    const r = info();
    if (avx512) {
      expect(r.coreType).toBe('SkylakeX');
      expect(r.coreTypeChosenBy).toMatch(/specopt set OPENBLAS_CORETYPE=SkylakeX/);
    } else {
      expect(r.coreTypeChosenBy).toMatch(/OpenBLAS's own CPU detection/);
    }
    expect(r.threads).toBeGreaterThan(0);
    expect(r.blas).toMatch(/OpenBLAS/);
  });

  it('reports the thread count and how it was chosen', () => {
    const r = info({ OPENBLAS_NUM_THREADS: '1' });
    expect(r.threads).toBe(1);
    expect(r.threadsChosenBy).toBe('OPENBLAS_NUM_THREADS=1');
    const after = JSON.parse(
      node("import { backendInfo, setNumThreads } from './dist/index.mjs'; setNumThreads(1); console.log(JSON.stringify(backendInfo()))"),
    );
    expect(after.threads).toBe(1);
    expect(after.threadsChosenBy).toBe('setNumThreads(1)');
  });
});

describe('load failure', () => {
  it('says what is missing and the apt command that fixes it', () => {
    // A copy of the JS without any native build next to it.
    const script = `
      import { cpSync, mkdtempSync, rmSync } from 'node:fs';
      import { tmpdir } from 'node:os';
      import { join } from 'node:path';
      import { createRequire } from 'node:module';
      const dir = mkdtempSync(join(tmpdir(), 'specopt-'));
      cpSync('dist', join(dir, 'dist'), { recursive: true });
      cpSync('node_modules/node-gyp-build', join(dir, 'node_modules/node-gyp-build'), { recursive: true });
      try { createRequire(join(dir, 'x.js'))('./dist/index.js'); console.log('loaded'); }
      catch (e) { console.log(e.message); }
      rmSync(dir, { recursive: true, force: true });
    `;
    const message = node(script, { SPECOPT_ADDON: '' }); // no other build either (test:asan sets one)
    expect(message).toMatch(/specopt: cannot load the native addon \(No native build was found/);
    expect(message).toContain('sudo apt-get install -y cmake g++ pkg-config libopenblas-dev liblapacke-dev && npm rebuild specopt');
  });
});
