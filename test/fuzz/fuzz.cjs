// npm run fuzz: a seeded random-argument fuzzer over every public function and every raw addon
// entry point. Arguments are mostly well-formed with one thing wrong (so calls get past the first
// check and deep into the native side): wrong types, lying shapes, short, detached, shared,
// resizable and offset buffers, aliasing outputs, NaN/Infinity, 0×n, huge and fractional
// dimensions, getters that detach a buffer mid-call, states of the wrong rule, corrupted and
// crafted (checksum recomputed) state bytes, lying optimizer batches.
//
// Every call must return normally or throw (or reject with) an Error whose message starts with
// the function's name, and a call that throws must leave its outputs, parameters and state as
// they were. The process must survive: a crash is the fuzzer dying, and the last call it began is
// in the file named by --last (default /tmp/specopt-fuzz-last.txt) to replay with --only.
//
// Usage: node test/fuzz/fuzz.cjs [--calls N] [--seed S] [--only INDEX] [--last FILE]
// (FUZZ_CALLS=N sets the default count, 20,000.) Prints a JSON summary; exits 1 on any violation.
'use strict';
const { writeFileSync, writeSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const lib = require(join(ROOT, 'dist', 'index.js'));
const { NativeBatch } = require(join(ROOT, 'dist', 'optim', 'optimizer.js'));
const addon = require(join(ROOT, 'dist', 'native.js')).native.addon;
const { Matrix } = lib;

// ------------------------------------------------------------------ arguments

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const CALLS = Number(flag('--calls', process.env.FUZZ_CALLS ?? 20000));
const SEED = Number(flag('--seed', 1));
const ONLY = flag('--only', undefined);
const LAST = flag('--last', '/tmp/specopt-fuzz-last.txt');
const PROGRESS = args.includes('--progress');

// ------------------------------------------------------------------ randomness

// mulberry32: small, seeded, good enough to pick cases.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
let random = rng(SEED);
const int = (n) => Math.floor(random() * n);
const pick = (xs) => xs[int(xs.length)];
const chance = (p) => random() < p;

// ------------------------------------------------------------------ values

const detach = (buffer) => structuredClone(buffer, { transfer: [buffer] });

const WEIRD = [
  undefined, null, 0, -1, 1.5, NaN, Infinity, -Infinity, -0, 2 ** 31, 2 ** 32 - 1, 2 ** 53, 1e300, 7n, 'x', '3',
  Symbol('s'), {}, [], [1, 2], () => 1, true, new Float64Array(4), new Int32Array(4), new Uint8Array(16),
  new Proxy({}, { get() { throw new Error('proxy getter'); } }),
  Object.create(null),
];
const DIMS = [0, 1, 1, 2, 3, 4, 5, 7, 8, 16];
const BAD_DIMS = [-1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 1e20, -0, '4', 4n, null, undefined];
const VALUES = [0, 1, -1, 0.5, 1e-30, 1e30, 3e38, -3e38, 1e-45, NaN, Infinity, -Infinity];

function floats(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = random() * 2 - 1;
  if (chance(0.05) && n) a[int(n)] = pick(VALUES);
  return a;
}

// A Float32Array of n elements on one of the kinds of buffer a caller can pass. Detaching and
// resizing happen after `wrap` (a Matrix constructor, which checks its data) has run.
function floatsOn(n, kind, wrap = (a) => a) {
  const values = floats(n);
  switch (kind) {
    case 'shared': {
      const a = new Float32Array(new SharedArrayBuffer(4 * n));
      a.set(values);
      return wrap(a);
    }
    case 'offset': {
      const a = new Float32Array(n + 3).subarray(3, 3 + n);
      a.set(values);
      return wrap(a);
    }
    case 'resizable': {
      const buffer = new ArrayBuffer(4 * n, { maxByteLength: 4 * n + 64 });
      const a = chance(0.5) ? new Float32Array(buffer) : new Float32Array(buffer, 0, n);
      a.set(values);
      const wrapped = wrap(a);
      if (chance(0.3)) buffer.resize(int(4 * n + 1) & ~3); // shrinks or grows
      return wrapped;
    }
    case 'detached': {
      const wrapped = wrap(values);
      detach(values.buffer);
      return wrapped;
    }
    default:
      return wrap(values);
  }
}

const BUFFER_KINDS = ['plain', 'plain', 'plain', 'plain', 'shared', 'offset', 'resizable', 'detached'];

// A matrix: usually well formed; sometimes one thing wrong.
function matrix(rows = pick(DIMS), cols = pick(DIMS)) {
  const r = random();
  if (r < 0.7) return floatsOn(rows * cols, pick(BUFFER_KINDS), (data) => new Matrix(rows, cols, data));
  if (r < 0.78) return { rows, cols, data: floats(Math.max(0, rows * cols + pick([-1, 1, 5]))) }; // lying shape
  if (r < 0.84) return { rows: pick(BAD_DIMS), cols, data: floats(rows * cols) };
  if (r < 0.88) return { rows, cols, data: pick(WEIRD) };
  if (r < 0.92) {
    // data read through a getter that detaches the previous array it handed out
    let last = null;
    return {
      rows,
      cols,
      get data() {
        if (last && chance(0.5)) detach(last.buffer);
        last = floats(rows * cols);
        return last;
      },
    };
  }
  return pick(WEIRD);
}

function square(n = pick(DIMS)) {
  const m = matrix(n, n);
  if (m instanceof Matrix && chance(0.8) && n > 0 && m.data.length === n * n && m.data.buffer.byteLength) {
    // symmetric positive definite, so the call gets past the value checks
    const s = lib.matmul(new Matrix(n, n, floats(n * n)), new Matrix(n, n, floats(n * n)), { transA: true });
    for (let i = 0; i < n; i++) s.data[i * n + i] += 1;
    m.data.set(s.data.subarray(0, m.data.length));
  }
  return m;
}

// An options object: usually known keys with valid values, sometimes unknown keys, wrong types,
// a getter that throws, or a getter that detaches `victim`'s buffer while the call reads options.
function options(spec, victim) {
  const r = random();
  if (r < 0.1) return undefined;
  if (r < 0.15) return pick(WEIRD);
  const o = {};
  for (const [key, choices] of Object.entries(spec)) if (chance(0.5)) o[key] = chance(0.85) ? pick(choices) : pick(WEIRD);
  if (chance(0.05)) o.unknownOption = 1;
  if (chance(0.04)) Object.defineProperty(o, Object.keys(spec)[0], { get() { throw new Error('option getter'); }, enumerable: true });
  if (chance(0.04) && victim?.data instanceof Float32Array && victim.data.buffer.byteLength) {
    const key = pick(Object.keys(spec));
    const value = pick(spec[key]);
    if (Object.getOwnPropertyDescriptor(o, key)?.get) return o;
    Object.defineProperty(o, key, { get() { if (victim.data.buffer.byteLength) detach(victim.data.buffer); return value; }, enumerable: true });
  }
  return o;
}

// ------------------------------------------------------------------ optimizers

const RULES = lib.OPTIMIZER_RULES;
const SCHEDULE_FREE = ['schedule-free-adamw', 'schedule-free-sgd'];

/** evalMode/trainMode over 1–4 entries, mostly schedule-free, some states in eval mode already. */
function modeCase(fn) {
  const entries = [];
  for (let i = 1 + int(4); i > 0; i--) {
    const opt = optimizer(chance(0.8) ? pick(SCHEDULE_FREE) : pick(RULES));
    const args = stepArgs(opt);
    if (chance(0.3)) { try { opt.eval(args.param, args.state); } catch { /* a broken state */ } }
    entries.push({ optimizer: opt, ...args });
  }
  if (chance(0.05)) entries.push(entries[0]); // the same parameter twice
  if (chance(0.05)) entries[int(entries.length)] = pick(WEIRD);
  const list = chance(0.03) ? pick(WEIRD) : entries;
  return {
    name: fn,
    call: () => lib[fn](list),
    outputs: entries.map((e) => {
      try {
        return [e.param, e.state];
      } catch {
        return [];
      }
    }),
  };
}
const HYPER_CHOICES = {
  lr: [1e-3, 0.1, 0, -1, NaN],
  momentum: [0, 0.9],
  weightDecay: [0, 0.01],
  betas: [[0.9, 0.999], [0.5, 0.5], [1, 1], [0.9]],
  nonFinite: ['throw', 'skip'],
  spectralPenalty: [0, 0.01],
  weightDecayNorm: ['frobenius', 'spectral'],
  spectralWarmStart: [false, true],
  rank: [1, 2, 4, 128],
  preconditionFrequency: [1, 2, 0],
  nsSteps: [0, 1, 5],
  method: ['newton-schulz', 'svd'],
  blocks: ['rows', 'cols', 'all', 2],
  grafting: ['none', 'adagrad', 'adam', 'sgd'],
  maxPreconditionerDim: [0, 4, 1024],
  amsgrad: [false, true],
  centered: [false, true],
  projector: ['svd', 'randomized'],
  // prodigy
  growthRate: [Infinity, 1.02, 0, null],
  d0: [1e-6, 1e-2, 0],
  decouple: [true, false],
  useBiasCorrection: [false, true],
};

function hyper(rule) {
  const known = Object.keys(lib.OPTIMIZER_DEFAULTS[rule]);
  const h = {};
  for (const key of known) if (HYPER_CHOICES[key] && chance(0.3)) h[key] = pick(HYPER_CHOICES[key]);
  if (chance(0.03)) h.notAHyperparameter = 1;
  return h;
}

function optimizer(rule = pick(RULES)) {
  try {
    return lib.createOptimizer(rule, hyper(rule), { backend: chance(0.85) ? 'native' : 'reference' });
  } catch {
    return lib.createOptimizer(rule, {}, { backend: 'native' });
  }
}

// A parameter, gradient and state, with one thing sometimes wrong.
function stepArgs(opt) {
  const rows = pick([1, 2, 3, 4, 5, 8]), cols = pick([1, 2, 3, 4, 6]);
  const param = new Matrix(rows, cols, floats(rows * cols));
  let state;
  try {
    state = opt.init(param);
    for (let k = int(3); k > 0; k--) opt.step(param, new Matrix(rows, cols, floats(rows * cols)), state);
  } catch {
    state = { rule: opt.rule, backend: opt.backend, rows, cols, step: 0, arrays: {}, values: {} };
  }
  let grad = new Matrix(rows, cols, floats(rows * cols));
  const r = random();
  if (r < 0.05) grad = matrix();
  else if (r < 0.1) grad = param; // aliasing
  else if (r < 0.15) { try { state = optimizer().init(param.clone()); } catch { /* a shape that rule refuses */ } } // another rule's state
  else if (r < 0.2) state = corruptState(state);
  else if (r < 0.23) state = pick(WEIRD);
  else if (r < 0.26 && state.arrays) {
    const names = Object.keys(state.arrays);
    if (names.length) {
      const name = pick(names);
      const a = state.arrays[name];
      state.arrays[name] = pick([floats(a.length + 1), a.subarray(1), new Float64Array(a.length), null, grad.data, param.data]);
      if (chance(0.3) && a.buffer.byteLength) detach(a.buffer);
    }
  } else if (r < 0.29) state.step = pick([-1, 1.5, NaN, 2 ** 53, '1', 1n]);
  else if (r < 0.31) param.data.buffer.byteLength && detach(param.data.buffer);
  return { param, grad, state };
}

// The typed arrays reachable from `values`, with their contents as JSON (null: detached).
function snapshot(...values) {
  const out = [];
  const seen = new Set();
  const visit = (x, depth) => {
    if (ArrayBuffer.isView(x)) out.push([x, x.buffer.byteLength ? JSON.stringify(Array.from(x)) : null]);
    else if (x && typeof x === 'object' && depth < 4 && !seen.has(x)) {
      seen.add(x);
      for (const k of Object.keys(x)) visit(x[k], depth + 1);
    }
  };
  try {
    values.forEach((v) => visit(v, 0));
    return out;
  } catch {
    return null; // a getter threw: nothing to compare
  }
}

// Whether an array that was live before the call holds other values now. An array detached
// during the call (by a getter of the fuzzer's, on purpose) has nothing left to compare.
function changed(before) {
  return before.some(([array, json]) => json !== null && array.buffer.byteLength !== 0 && JSON.stringify(Array.from(array)) !== json);
}

// ------------------------------------------------------------------ state bytes

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    c ^= bytes[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
const reseal = (bytes) => {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
};

// A state file: corrupted bytes, or a crafted header with the checksum recomputed.
function stateBytes() {
  const opt = optimizer();
  const rows = pick([1, 2, 3, 4]), cols = pick([1, 2, 5]);
  let bytes;
  try {
    const state = opt.init(new Matrix(rows, cols, floats(rows * cols)));
    bytes = lib.saveState(state);
  } catch {
    return floats(8);
  }
  const r = random();
  if (r < 0.2) {
    bytes[int(bytes.length)] ^= 1 << int(8); // a flipped bit (the checksum catches it)
    return bytes;
  }
  if (r < 0.3) return bytes.subarray(0, int(bytes.length));
  if (r < 0.35) return pick(WEIRD);
  // crafted: edit the header, then seal it again
  const view = new DataView(bytes.buffer);
  const headerLength = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  const edits = [
    () => header.arrays.reverse(),
    () => (header.values = pick([null, [], 'x', { a: {} }])),
    () => header.arrays.length && (header.arrays[0].dtype = pick(['f16', 'f64', 'i32', null])),
    () => header.arrays.length && (header.arrays[0].name = pick(['__proto__', 'constructor', 'nope', ''])),
    () => header.arrays.length && (header.arrays[0].length = pick([0, -1, 1.5, 2 ** 40])),
    () => (header.rows = pick(BAD_DIMS.filter((x) => typeof x !== 'bigint'))),
    () => (header.step = pick([-1, 1.5, null, 'x'])),
    () => (header.rule = pick(['nope', '__proto__', RULES[int(RULES.length)]])),
    () => (header.backend = pick(['gpu', null])),
    () => header.arrays.push({ name: 'extra', dtype: 'f32', length: 0 }),
    () => header.arrays.length > 1 && (header.arrays[1].name = header.arrays[0].name),
  ];
  pick(edits)();
  const text = new TextEncoder().encode(JSON.stringify(header));
  const pad8 = (n) => (n + 7) & ~7;
  const oldStart = pad8(16 + headerLength);
  const body = bytes.subarray(oldStart, bytes.length - 4);
  const start = pad8(16 + text.length);
  const out = new Uint8Array(start + body.length + 4);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, text.length, true);
  out.set(text, 16);
  out.set(body, start);
  return reseal(out);
}

function corruptState(state) {
  try {
    return lib.loadState(stateBytes());
  } catch {
    return state;
  }
}

// ------------------------------------------------------------------ targets

// Each target: the name its errors must start with, and a function making one call. A call
// returns { result, outputs } (outputs: what must be unchanged if it throws).
const PUBLIC = {
  'Matrix': () => ({ call: () => new Matrix(pick([...DIMS, ...BAD_DIMS]), pick(DIMS), chance(0.5) ? undefined : pick([floats(4), ...WEIRD])) }),
  'Matrix.from': () => ({ call: () => Matrix.from(pick(DIMS), pick([...DIMS, ...BAD_DIMS]), pick([[1, 2, 3, 4], floats(4), ...WEIRD])) }),
  'Matrix.zeros': () => ({ call: () => Matrix.zeros(pick([...DIMS, ...BAD_DIMS]), pick(DIMS)) }),
  'Matrix.randn': () => ({ call: () => Matrix.randn(pick(DIMS), pick([...DIMS, ...BAD_DIMS]), pick([0, 1, -1, 1.5, NaN, 'x'])) }),
  'Matrix.eye': () => ({ call: () => Matrix.eye(pick([...DIMS, ...BAD_DIMS])) }),
  matmul: (f = lib.matmul) => {
    const n = pick(DIMS), k = pick(DIMS), m = pick(DIMS);
    const a = matrix(n, k), b = chance(0.9) ? matrix(k, m) : matrix();
    const spec = { transA: [false, true], transB: [false, true], alpha: [1, 0.5, NaN], beta: [0, 1, Infinity], out: [undefined, matrix(n, m), a] };
    const o = options(spec, a);
    let out;
    try {
      out = o && typeof o === 'object' ? o.out : undefined;
    } catch {
      /* a Proxy of WEIRD's: no output to watch */
    }
    return { call: () => f(a, b, o), outputs: [out] };
  },
  eigh: (f = lib.eigh) => { const s = square(); return { call: () => f(s) }; },
  svd: (f = lib.svd) => { const a = matrix(); return { call: () => f(a) }; },
  singularValues: () => { const a = matrix(); return { call: () => lib.singularValues(a) }; },
  truncatedSvd: (f = lib.truncatedSvd) => {
    const a = matrix();
    const k = pick([0, 1, 2, 3, 100, ...BAD_DIMS]);
    const o = options({ method: ['randomized', 'exact', 'nope'], oversample: [0, 2, 10, 2 ** 31], powerIters: [0, 1, 2, 1.5, -1], seed: [0, 1, -1, 2 ** 60] }, a);
    return { call: () => f(a, k, o) };
  },
  qr: (f = lib.qr) => { const a = matrix(); return { call: () => f(a) }; },
  powerIteration: () => {
    const a = matrix();
    const cols = a instanceof Matrix ? a.cols : 1;
    const o = options({ iters: [0, 1, 10, 1.5, -1], scheme: ['alternating', 'gram', 'nope'], init: [undefined, floats(cols), floats(3), matrix()] }, a);
    return { call: () => lib.powerIteration(a, o) };
  },
  spectralNorm: () => { const a = matrix(); const o = options({ iters: [1, 10, -1] }, a); return { call: () => lib.spectralNorm(a, o) }; },
  inverseRoot: (f = lib.inverseRoot) => {
    const s = square();
    const p = pick([1, 2, 4, 0, -2, 0.5, 7n, NaN, 'x']);
    const o = options({ eps: [0, 1e-6, -1, NaN] }, s);
    return { call: () => f(s, p, o) };
  },
  orthogonalize: (f = lib.orthogonalize) => {
    const g = matrix();
    const o = options({ method: ['newton-schulz', 'svd', 'nope'], steps: [0, 1, 5, 1001, -1, 1.5] }, g);
    return { call: () => f(g, o) };
  },
  spectralNormGrad: (f = lib.spectralNormGrad) => { const w = matrix(); return { call: () => f(w) }; },
  backendInfo: () => ({ call: () => lib.backendInfo() }),
  setNumThreads: () => ({ call: () => lib.setNumThreads(pick([1, 2, 0, -1, 1.5, NaN, '2', 2n])) }),
  createOptimizer: () => {
    const rule = chance(0.9) ? pick(RULES) : pick(['nope', ...WEIRD]);
    const h = chance(0.85) ? hyper(typeof rule === 'string' && RULES.includes(rule) ? rule : 'adam') : pick(WEIRD);
    const o = chance(0.9) ? undefined : pick([{ backend: 'gpu' }, ...WEIRD]);
    return { call: () => lib.createOptimizer(rule, h, o) };
  },
  init: () => { const opt = optimizer(); const p = chance(0.8) ? matrix(pick([1, 2, 3]), pick([1, 2, 3])) : matrix(); return { name: `${opt.rule}.init`, call: () => opt.init(p) }; },
  step: () => {
    const opt = optimizer();
    const { param, grad, state } = stepArgs(opt);
    return { name: `${opt.rule}.step`, call: () => opt.step(param, grad, state), outputs: [param, state] };
  },
  stepMany: () => {
    const entries = [];
    for (let i = 1 + int(4); i > 0; i--) {
      const opt = optimizer();
      entries.push({ optimizer: opt, ...stepArgs(opt) });
    }
    if (chance(0.05)) entries.push(entries[0]); // the same parameter twice
    if (chance(0.05)) entries[int(entries.length)] = pick(WEIRD);
    const repeat = chance(0.3); // a kept batch: step once, break something, step again
    return {
      before: () => {
        if (!repeat) return;
        try { lib.stepMany(entries); } catch { /* the second call is the one judged */ }
        const e = entries[int(entries.length)];
        // Breaking it reads the entry, which may be one of WEIRD's (a throwing Proxy, as an entry
        // or its state): what that throws is the harness's, not the library's, so it is dropped.
        try {
          if (e instanceof Object && Object.hasOwn(e, 'state') && e.state && e.state.arrays) {
            const names = Object.keys(e.state.arrays);
            if (names.length && chance(0.5)) { const a = e.state.arrays[pick(names)]; if (a && a.buffer.byteLength) detach(a.buffer); }
            else if (e.param && e.param.data && e.param.data.buffer.byteLength) detach(e.param.data.buffer);
          }
        } catch { /* see above */ }
      },
      call: () => lib.stepMany(entries),
      outputs: entries.map((e) => {
        try {
          return [e.param, e.state];
        } catch {
          return []; // not an entry (one of WEIRD's)
        }
      }),
    };
  },
  // The schedule-free modes (issue 12): the batch forms over mixed entries (other rules are left
  // alone), and the per-parameter methods of any rule (the others refuse).
  evalMode: () => modeCase('evalMode'),
  trainMode: () => modeCase('trainMode'),
  scheduleFreeEval: () => {
    const opt = optimizer(pick([...SCHEDULE_FREE, pick(RULES)]));
    const { param, state } = stepArgs(opt);
    const which = pick(['eval', 'train', 'mode']);
    return { name: `${opt.rule}.${which}`, call: () => (which === 'mode' ? opt.mode(state) : opt[which](param, state)), outputs: [param, state] };
  },
  stepManyOptions: () => {
    // stepMany's clipping options, right and wrong, on a small batch.
    const entries = [];
    for (let i = 1 + int(3); i > 0; i--) {
      const opt = optimizer();
      entries.push({ optimizer: opt, ...stepArgs(opt) });
    }
    const options = chance(0.1) ? pick(WEIRD) : { maxGradNorm: pick([1, 1e-30, 1e30, 0, -1, NaN, Infinity, '1', undefined]), normType: pick([2, Infinity, 1, undefined, 'two']) };
    return { name: 'stepMany', call: () => lib.stepMany(entries, options), outputs: entries.map((e) => [e.param, e.state]) };
  },
  stepManyAsync: () => {
    // As stepMany, off the event loop: parameters on shared memory or not, clipping or not, and
    // sometimes a buffer detached or a step attempted while the call is in flight.
    const entries = [];
    for (let i = 1 + int(3); i > 0; i--) {
      const opt = optimizer();
      const args = stepArgs(opt);
      if (chance(0.5) && args.param instanceof Matrix && args.param.data.buffer.byteLength) {
        const shared = Matrix.shared(args.param.rows, args.param.cols);
        shared.data.set(args.param.data);
        try {
          args.state = opt.init(shared);
        } catch { /* keep the broken state stepArgs made */ }
        args.param = shared;
      }
      entries.push({ optimizer: opt, ...args });
    }
    const options = chance(0.5) ? { maxGradNorm: pick([1, 1e-3, 1e6, 0, NaN]) } : undefined;
    const meddle = random();
    return {
      name: 'stepManyAsync',
      async: true,
      call: () => {
        const p = lib.stepManyAsync(entries, options);
        const e = entries[int(entries.length)];
        if (meddle < 0.2 && e && e.param && e.param.data && e.param.data.buffer.byteLength && !(e.param.data.buffer instanceof SharedArrayBuffer)) detach(e.param.data.buffer);
        else if (meddle < 0.3) {
          try { lib.stepMany(entries); } catch { /* refused while in flight: judged by the tests */ }
        }
        return p;
      },
      // A rejected call must not have changed anything, unless this case detached a buffer or
      // stepped the entries itself (a sync step runs when the async call was refused at once).
      outputs: meddle < 0.3 ? undefined : entries.map((e) => [e.param, e.state]),
      judgeRejection: true,
    };
  },
  saveState: () => {
    const opt = optimizer();
    const { state } = stepArgs(opt);
    return { call: () => lib.saveState(chance(0.9) ? state : pick(WEIRD)) };
  },
  loadState: () => { const bytes = stateBytes(); return { call: () => lib.loadState(bytes) }; },
  stateBytes: () => { const { state } = stepArgs(optimizer()); return { call: () => lib.stateBytes(chance(0.9) ? state : pick(WEIRD)) }; },
};
// The async twins use the sync generators with the twin in place of the sync function.
const asyncTarget = (name) => () => PUBLIC[name](lib[`${name}Async`]);

// Raw addon entry points: arguments in the order src/native.ts declares, each possibly lying.
function rawFloats(n) {
  // A lying dimension (2^31, 1e20, NaN...) gets a short array: the call must reject it, and the
  // fuzzer must not spend gigabytes making it.
  if (!(Number.isSafeInteger(n) && n >= 0 && n <= 1 << 16)) n = int(64);
  else if (chance(0.05)) n += pick([-1, 1, 3]);
  return chance(0.8) ? floatsOn(Math.max(0, n), pick(BUFFER_KINDS)) : pick([floats(Math.max(0, n + pick([-1, 1]))), ...WEIRD]);
}
const rawDim = () => (chance(0.85) ? pick(DIMS) : pick(BAD_DIMS));
// rows*cols of dimensions that may be anything (a bigint, a string): NaN unless both are numbers.
const times = (a, b) => (typeof a === 'number' && typeof b === 'number' ? a * b : NaN);
const rawNum = () => (chance(0.8) ? pick([0, 1, 0.5, 2, 4]) : pick(WEIRD));
const rawStr = (xs) => (chance(0.85) ? pick(xs) : pick(WEIRD));
function rawCall(fn, args) {
  if (chance(0.05)) args = args.slice(0, int(args.length + 1)); // too few
  if (chance(0.03)) args = [...args, 1]; // too many
  return () => addon[fn](...args);
}
const RAW = {
  matmul: (fn = 'matmul') => {
    const m = rawDim(), k = rawDim(), n = rawDim();
    const a = rawFloats(times(m, k)), out = chance(0.1) ? a : rawFloats(times(m, n));
    return { call: rawCall(fn, [a, m, k, rawFloats(times(k, n)), k, n, false, false, rawNum(), rawNum(), out]), outputs: [out] };
  },
  eigh: (fn = 'eigh') => { const n = rawDim(); return { call: rawCall(fn, [rawFloats(times(n, n)), n]) }; },
  svd: (fn = 'svd') => { const m = rawDim(), n = rawDim(); return { call: rawCall(fn, [rawFloats(times(m, n)), m, n]) }; },
  singularValues: () => { const m = rawDim(), n = rawDim(); return { call: rawCall('singularValues', [rawFloats(times(m, n)), m, n]) }; },
  truncatedSvd: (fn = 'truncatedSvd') => {
    const m = rawDim(), n = rawDim();
    return { call: rawCall(fn, [rawFloats(times(m, n)), m, n, rawDim(), rawStr(['randomized', 'exact']), pick([0, 5, 10, 2 ** 31, 2 ** 40]), pick([0, 2, -1]), pick([0, 2 ** 53, -1])]) };
  },
  qr: (fn = 'qr') => { const m = rawDim(), n = rawDim(); return { call: rawCall(fn, [rawFloats(times(m, n)), m, n]) }; },
  powerIteration: () => {
    const m = rawDim(), n = rawDim();
    return { call: rawCall('powerIteration', [rawFloats(times(m, n)), m, n, pick([0, 1, 10, -1]), rawStr(['alternating', 'gram']), chance(0.5) ? null : rawFloats(times(n, 1))]) };
  },
  inverseRoot: (fn = 'inverseRoot') => { const n = rawDim(); return { call: rawCall(fn, [rawFloats(times(n, n)), n, rawNum(), rawNum()]) }; },
  orthogonalize: (fn = 'orthogonalize') => {
    const m = rawDim(), n = rawDim();
    return { call: rawCall(fn, [rawFloats(times(m, n)), m, n, rawStr(['newton-schulz', 'svd']), pick([0, 1, 5, 1001, -1])]) };
  },
  spectralNormGrad: (fn = 'spectralNormGrad') => { const m = rawDim(), n = rawDim(); return { call: rawCall(fn, [rawFloats(times(m, n)), m, n]) }; },
  backendInfo: () => ({ call: rawCall('backendInfo', []) }),
  setNumThreads: () => ({ call: rawCall('setNumThreads', [pick([1, 2, 0, -1, 2 ** 31, NaN, 'x'])]) }),
  optimizerRules: () => ({ call: rawCall('optimizerRules', []) }),
  optimizerStepAsync: () => {
    const { arrays, numbers, count, outputs } = rawBatch();
    const clip = pick([undefined, undefined, Float64Array.of(1, 1), Float64Array.of(2, 0.5), Float64Array.of(3, 0.5), Float64Array.of(4, 1), Float64Array.of(1, -1), Float64Array.of(3, 2), new Float64Array(3), ...WEIRD]);
    return {
      async: true,
      call: () => {
        const p = addon.optimizerStepAsync(arrays, numbers, count, clip);
        // Detach one of the batch's buffers while the job runs.
        if (chance(0.3) && arrays.length) { const a = pick(arrays); if (a instanceof Float32Array && a.buffer.byteLength) detach(a.buffer); }
        return p;
      },
      outputs,
    };
  },
  optimizerStep: (fn = 'optimizerStep') => {
    const { arrays, numbers, count, outputs } = rawBatch();
    if (fn === 'optimizerStep') return { call: rawCall(fn, [arrays, numbers, count]), outputs };
    // The plan is made first (a failure there is judged as the call's); between plan and run
    // the batch's buffers may be detached and its numbers lie.
    let plan;
    return {
      before: () => {
        plan = addon.optimizerPlan(arrays, numbers, count);
        if (chance(0.3) && arrays.length) { const a = pick(arrays); if (a instanceof Float32Array && a.buffer.byteLength) detach(a.buffer); }
      },
      call: () => {
        const next = chance(0.3) ? mutateNumbers(numbers.slice()) : numbers;
        return addon.optimizerRun(chance(0.95) ? plan : pick(WEIRD), chance(0.95) ? next : pick(WEIRD));
      },
      outputs,
    };
  },
};
for (const name of ['matmul', 'eigh', 'svd', 'truncatedSvd', 'qr', 'inverseRoot', 'orthogonalize', 'spectralNormGrad']) {
  RAW[`${name}Async`] = () => ({ ...RAW[name](`${name}Async`), async: true });
}
RAW.optimizerPlan = () => RAW.optimizerStep('optimizerPlan');

function mutateNumbers(numbers) {
  for (let k = 1 + int(3); k > 0 && numbers.length; k--) {
    numbers[int(numbers.length)] = pick([0, 1, -1, 2, 3, 15, 16, 17, 0.5, NaN, Infinity, 2 ** 31, 2 ** 32 - 1, 1e6, 1e300, -1e300]);
  }
  return numbers;
}

// A batch as src/optim/optimizer.ts builds it, then lied about: numbers changed, arrays dropped,
// swapped, shortened, detached or aliased, the count wrong.
function rawBatch() {
  const batch = new NativeBatch();
  const entries = [];
  for (let i = 1 + int(3); i > 0; i--) {
    const opt = lib.createOptimizer(pick(RULES), {}, { backend: 'native' });
    const { param, grad, state } = stepArgs(opt);
    entries.push({ optimizer: opt, param, grad, state });
  }
  const kept = [];
  for (let i = 0; i < entries.length; i++) {
    try {
      entries[i].optimizer.prepare(entries, i, batch);
      kept.push(entries[i]);
    } catch {
      /* an entry stepArgs broke on purpose: leave it out */
    }
  }
  let arrays = batch.arrays.slice();
  let numbers = batch.numbers.slice(0, batch.length);
  let count = kept.length;
  const r = random();
  if (r < 0.35) numbers = mutateNumbers(numbers);
  else if (r < 0.45 && arrays.length) arrays.splice(int(arrays.length), 1);
  else if (r < 0.55 && arrays.length > 1) { const i = int(arrays.length), j = int(arrays.length); [arrays[i], arrays[j]] = [arrays[j], arrays[i]]; }
  else if (r < 0.6 && arrays.length) arrays[int(arrays.length)] = pick([floats(1), new Float64Array(4), null, arrays[0]]);
  else if (r < 0.65) count = pick([0, count + 1, 2 ** 32 - 1, 2 ** 31, -1, 1.5]);
  else if (r < 0.7 && arrays.length) { const a = pick(arrays); if (a.buffer.byteLength) detach(a.buffer); }
  else if (r < 0.73) numbers = pick([new Float32Array(numbers), Array.from(numbers), ...WEIRD]);
  else if (r < 0.76 && arrays.length) {
    // a getter on the arrays list that detaches another element when read
    const victim = pick(arrays);
    const at = int(arrays.length);
    const value = arrays[at];
    Object.defineProperty(arrays, at, { get() { if (victim.buffer.byteLength) detach(victim.buffer); return value; } });
  }
  return { arrays, numbers, count, outputs: kept.map((e) => [e.param, e.state]) };
}

// ------------------------------------------------------------------ the run

const targets = [
  ...Object.entries(PUBLIC).map(([name, make]) => ({ name, make: () => make(), raw: false })),
  ...['matmul', 'eigh', 'svd', 'truncatedSvd', 'qr', 'inverseRoot', 'orthogonalize', 'spectralNormGrad'].map((name) => ({
    name: `${name}Async`,
    make: asyncTarget(name),
    raw: false,
    async: true,
  })),
  ...Object.entries(RAW).map(([name, make]) => ({ name: `addon.${name}`, make, raw: true })),
];

// What errors start with. A raw entry point's name its routine as the native side knows it (its
// own name, its sync twin's, or the optimizer step's, plan's or run's).
function prefixes(target, made) {
  if (!target.raw) return [made.name ?? target.name];
  const fn = target.name.slice('addon.'.length);
  return [fn, fn.replace(/Async$/, ''), 'optimizer run', 'optimizer plan', 'optimizer step'];
}

const summary = { seed: SEED, calls: 0, returned: 0, threw: 0, rejected: 0, byTarget: {}, slow: [], violations: [] };
function violation(index, target, what) {
  summary.violations.push({ index, target: target.name, what });
}

function judgeError(index, target, made, error, how) {
  if (!(error instanceof Error)) return violation(index, target, `${how} a non-Error: ${String(error)}`);
  if (process.env.FUZZ_STACKS) console.error(error.stack);
  const message = String(error.message);
  const names = prefixes(target, made);
  // Matrix's errors name 'Matrix' or the static method ('Matrix.from: ...').
  if (!names.some((n) => message.startsWith(n))) {
    violation(index, target, `${how} ${error.constructor.name} not naming ${names[0]}: ${message.slice(0, 200)}`);
  }
}

async function runOne(index) {
  random = rng((SEED * 1000003 + index) >>> 0);
  const target = targets[index % targets.length];
  writeFileSync(LAST, `${SEED} ${index} ${target.name}\n`);
  let made;
  try {
    made = target.make();
  } catch (error) {
    return violation(index, target, `case generation failed: ${error && error.stack}`);
  }
  const t0 = performance.now();
  if (made.before) {
    try {
      made.before();
    } catch (error) {
      summary.calls++;
      summary.threw++;
      judgeError(index, target, made, error, 'threw');
      return;
    }
  }
  const before = made.outputs ? snapshot(made.outputs) : null;
  try {
    await judge(index, target, made, before);
  } finally {
    const ms = performance.now() - t0;
    if (ms > 200) summary.slow.push({ index, target: target.name, ms: Math.round(ms) });
  }
}

async function judge(index, target, made, before) {
  summary.calls++;
  summary.byTarget[target.name] = (summary.byTarget[target.name] ?? 0) + 1;
  let result;
  try {
    result = made.call();
  } catch (error) {
    summary.threw++;
    judgeError(index, target, made, error, 'threw');
    if (before !== null && changed(before)) violation(index, target, 'threw but changed its outputs');
    return;
  }
  if (result && typeof result.then === 'function') {
    try {
      await result;
    } catch (error) {
      summary.rejected++;
      judgeError(index, target, made, error, 'rejected');
      if (made.judgeRejection && before !== null && changed(before)) violation(index, target, 'rejected but changed its outputs');
      return;
    }
  }
  summary.returned++;
}

(async () => {
  const started = Date.now();
  if (ONLY !== undefined) {
    await runOne(Number(ONLY));
  } else {
    for (let i = 0; i < CALLS; i++) {
      await runOne(i);
      if (PROGRESS && i % 100 === 99) process.stderr.write(`${i + 1} calls, rss ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }
  lib.setNumThreads(require('node:os').availableParallelism());
  summary.seconds = (Date.now() - started) / 1000;
  const shown = { ...summary, violations: summary.violations.slice(0, 30), violationCount: summary.violations.length };
  writeSync(1, JSON.stringify(shown, null, 1) + '\n');
  process.exit(summary.violations.length ? 1 : 0);
})();
