// The specopt/tfjs subpath as a user loads it (the built dist/, through the package's "exports"):
// ESM and CommonJS give the same objects (one tfjs class registration, one set of kernels); the
// main entry never loads TensorFlow.js; without it installed, specopt/tfjs says what to install
// and the main entry still works.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import * as source from '../src/tfjs/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('specopt/tfjs', () => {
  it('is a subpath export whose ESM and CJS entries expose the source names and the same objects, registered with tfjs once', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const esm = await import('specopt/tfjs');
      const cjs = require('specopt/tfjs');
      const tf = require('@tensorflow/tfjs-core');
      const names = Object.keys(esm).sort();
      console.log(JSON.stringify({
        names,
        cjsNames: Object.keys(cjs).filter((n) => n !== '__esModule').sort(),
        same: names.every((n) => esm[n] === cjs[n]),
        registered: tf.serialization.SerializationMap.getMap().classNameMap.SpecoptOptimizer[0] === esm.SpecoptOptimizer,
        sameCore: (await import('@tensorflow/tfjs-core')).engine === tf.engine,
      }));
      `,
    ]);
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.names).toEqual(Object.keys(source).sort());
    expect(r.cjsNames).toEqual(r.names);
    expect(r.same).toBe(true);
    expect(r.registered).toBe(true);
    expect(r.sameCore).toBe(true);
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
    expect(pkg.peerDependenciesMeta['@tensorflow/tfjs-core'].optional).toBe(true);
    expect(pkg.dependencies['@tensorflow/tfjs-core']).toBeUndefined();
  });

  it('is the only entry that loads TensorFlow.js: the main entry loads none of it', () => {
    const loaded = node([
      '-e',
      `require('./dist/index.js'); console.log(Object.keys(require.cache).filter((p) => p.includes('@tensorflow')).length)`,
    ]).trim();
    expect(loaded).toBe('0');
    const esm = node(['--input-type=module', '-e', `await import('specopt'); const { createRequire } = await import('node:module'); console.log(Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes('@tensorflow')).length)`]).trim();
    expect(esm).toBe('0');
  });

  it('without TensorFlow.js installed, names the package to install, from CJS and ESM (a caught import, exit code 0); the main entry still works', () => {
    // Node's resolver made to fail for @tensorflow/* as it does when the package is absent
    // (a preload, so that it applies before an ES module resolves anything too).
    const dir = mkdtempSync(join(tmpdir(), 'specopt-no-tfjs-'));
    const hide = join(dir, 'hide-tfjs.cjs');
    writeFileSync(
      hide,
      `const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request.startsWith('@tensorflow/')) throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };`,
    );
    try {
      const cjs = node([
        '-r',
        hide,
        '-e',
        `
        let message = 'loaded';
        try { require('specopt/tfjs'); } catch (error) { message = error.message; }
        const { matmul, Matrix } = require('specopt');
        console.log(JSON.stringify({ message, product: Array.from(matmul(Matrix.eye(2), Matrix.from(2, 1, [3, 4])).data) }));
        `,
      ]);
      const r = JSON.parse(cjs.trim().split('\n').pop()!);
      expect(r.message).toMatch(/specopt\/tfjs needs TensorFlow\.js: install '@tensorflow\/tfjs'/);
      expect(r.product).toEqual([3, 4]);
      // Node 20 reports an error thrown by a CommonJS module under an ESM import as uncaught even
      // when the import() is caught (exit code 1): the ESM entry checks first, so this exits 0.
      const esm = node(['-r', hide, '--input-type=module', '-e', "let m = 'loaded'; try { await import('specopt/tfjs'); } catch (e) { m = e.message; } const { Matrix } = await import('specopt'); console.log(JSON.stringify({ m, eye: Array.from(Matrix.eye(2).data) }));"]);
      const e = JSON.parse(esm.trim().split('\n').pop()!);
      expect(e.m).toMatch(/specopt\/tfjs needs TensorFlow\.js: install '@tensorflow\/tfjs'/);
      expect(e.eye).toEqual([1, 0, 0, 1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
