// The package as users get it: `npm pack` with a linux-x64 N-API prebuild made by prebuildify
// (node-gyp, binding.gyp), installed into an empty project and used from ESM, from CommonJS and
// through the `specopt` bin, with no compiler involved; and the same package without a prebuild, whose
// install falls back to building from source. Everything happens in temporary directories, so the
// repository's own build/ and prebuilds/ are not touched.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'specopt-consumer-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// Asynchronous, so that vitest's worker stays responsive during the minute-long builds.
async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** `npm pack` of `dir` into `dest`; returns the tarball's path. */
async function pack(dir: string, dest: string): Promise<string> {
  // --ignore-scripts: dist/ is what `npm test` has just built; rebuilding it here would race the
  // other test files that load it.
  const out = await run(npm, ['pack', '--pack-destination', dest, '--json', '--ignore-scripts'], dir);
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return join(dest, info!.filename);
}

/** A new empty project with the tarball installed (dependencies from the registry). */
async function install(tarball: string, name: string): Promise<string> {
  const app = join(work, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  await run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], app);
  return app;
}

const USE_ESM = `
  import { Matrix, matmul, createOptimizer, backendInfo } from 'specopt';
  const c = matmul(Matrix.from(2, 2, [1, 2, 3, 4]), Matrix.eye(2));
  const w = Matrix.from(1, 2, [1, 1]);
  const opt = createOptimizer('adamw', { lr: 0.1, weightDecay: 0 });
  opt.step(w, Matrix.from(1, 2, [1, -1]), opt.init(w));
  console.log(JSON.stringify({ c: Array.from(c.data), w: Array.from(w.data), blas: backendInfo().blas }));
`;
const USE_CJS = `
  const { Matrix, svd } = require('specopt');
  const { S } = svd(Matrix.from(2, 2, [3, 0, 0, 4]));
  console.log(JSON.stringify({ S: Array.from(S) }));
`;

let withPrebuild = '';
let withoutPrebuild = '';
let packedFiles: string[] = [];

beforeAll(async () => {
  // The package as `npm pack` makes it from the repository, unpacked, with any prebuilds/ a developer left in the repository removed.
  const plain = await pack(root, work);
  const stage = join(work, 'stage');
  mkdirSync(stage);
  await run('tar', ['-xzf', plain, '-C', stage], work);
  const pkg = join(stage, 'package');
  rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
  rmSync(plain);
  withoutPrebuild = await pack(pkg, work);
  // The package's prebuildify script builds with node-gyp (binding.gyp) in the staged copy, using
  // the repository's devDependencies (node-addon-api, node-gyp, prebuildify), without the MPI addon.
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  await run('npm', ['run', '--silent', 'prebuildify'], pkg);
  rmSync(join(pkg, 'node_modules'));
  rmSync(join(pkg, 'build'), { recursive: true, force: true });
  mkdirSync(join(work, 'prebuilt'));
  withPrebuild = await pack(pkg, join(work, 'prebuilt'));
  packedFiles = (await run('tar', ['-tzf', withPrebuild], work)).trim().split('\n');
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('ships a linux-x64 N-API prebuild, the compiled JS and types, and the native sources for the fallback', () => {
    expect(packedFiles).toContain('package/prebuilds/linux-x64/specopt.node');
    for (const f of ['package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/dist/tfjs/index.js', 'package/dist/tfjs/index.mjs', 'package/dist/tfjs/index.d.ts', 'package/binding.gyp', 'package/CMakeLists.txt', 'package/native/addon.cpp']) {
      expect(packedFiles).toContain(f);
    }
    // No tests, benchmarks or TypeScript sources.
    expect(packedFiles.filter((f) => /^package\/(test|bench|src)\//.test(f))).toEqual([]);
  });

  it('installs into an empty project without compiling, and works from ESM and from CommonJS', async () => {
    const app = await install(withPrebuild, 'app-prebuilt');
    // node-gyp-build found the prebuild: the install script built nothing.
    expect(existsSync(join(app, 'node_modules', 'specopt', 'build'))).toBe(false);
    const esm = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', USE_ESM], app));
    expect(esm.c).toEqual([1, 2, 3, 4]);
    expect(esm.w[0]).toBeCloseTo(0.9, 6); // AdamW's first step moves each entry by lr·sign(g)
    expect(esm.w[1]).toBeCloseTo(1.1, 6);
    expect(esm.blas).toMatch(/OpenBLAS/);
    const cjs = JSON.parse(await run(process.execPath, ['-e', USE_CJS], app));
    expect(cjs.S).toEqual([4, 3]);
    // The bin, as npm linked it: a short training run that writes its results, and the tour.
    const bin = join(app, 'node_modules', '.bin', 'specopt');
    const out = join(app, 'out');
    const log = await run(bin, ['train', '--optimizer', 'adamw,soap', '--epochs', '2', '--train-size', '1000', '--test-size', '200', '--no-progress', '--out', out], app);
    expect(log).toMatch(/test accuracy/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { optimizer: string; testAccuracy: number }[] };
    expect(results.runs.map((r) => r.optimizer)).toEqual(['adamw', 'soap']);
    for (const r of results.runs) expect(r.testAccuracy).toBeGreaterThan(0.5);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<svg/);
    expect(await run(bin, ['tour'], app)).toMatch(/GFLOP\/s/);
    // specopt/tfjs without TensorFlow.js installed (an optional peer dependency): it says what to install.
    const noTf = await run(process.execPath, ['--input-type=module', '-e', "try { await import('specopt/tfjs'); console.log('loaded'); } catch (e) { console.log(e.message); }"], app);
    expect(noTf).toMatch(/specopt\/tfjs needs TensorFlow\.js: install '@tensorflow\/tfjs'/);
  }, 120_000);

  it('specopt/tfjs works in a project that installs tfjs-core and its cpu backend', async () => {
    const app = await install(withPrebuild, 'app-tfjs');
    // The version the repository's lock has (in npm's cache after npm ci).
    const version = JSON.parse(readFileSync(join(root, 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'), 'utf8')).version as string;
    await run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', `@tensorflow/tfjs-core@${version}`, `@tensorflow/tfjs-backend-cpu@${version}`], app);
    const script = `
      import * as tf from '@tensorflow/tfjs-core';
      import '@tensorflow/tfjs-backend-cpu';
      import { tfjsOptimizer, registerSpecoptKernels } from 'specopt/tfjs';
      await tf.setBackend('cpu');
      registerSpecoptKernels();
      const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
      const opt = tfjsOptimizer('adamw', { lr: 0.1, weightDecay: 0 });
      // (tfjs-core alone registers no gradient functions, so no minimize here: a gradient by hand.)
      opt.applyGradients([{ name: w.name, tensor: tf.mul(w, 2) }]);
      const product = Array.from(tf.matMul(tf.eye(2), tf.tensor2d([[5, 6], [7, 8]])).dataSync());
      console.log(JSON.stringify({ w: Array.from(w.dataSync()), product, cls: opt.getClassName() }));
    `;
    const r = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script], app)).trim().split('\n').pop()!);
    // AdamW's first step moves every entry by lr·sign(g): all gradients 2w are positive.
    expect(r.w.map((x: number) => Number(x.toFixed(5)))).toEqual([0.9, 1.9, 2.9, 3.9]);
    expect(r.product).toEqual([5, 6, 7, 8]);
    expect(r.cls).toBe('SpecoptOptimizer');
  }, 300_000);

  it('without a prebuild, the install builds the addon from source (cmake-js) and works', async () => {
    const app = await install(withoutPrebuild, 'app-source');
    expect(readdirSync(join(app, 'node_modules', 'specopt', 'build', 'Release'))).toContain('specopt.node');
    const esm = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', USE_ESM], app));
    expect(esm.c).toEqual([1, 2, 3, 4]);
  }, 600_000);
});
