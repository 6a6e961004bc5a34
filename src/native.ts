// Loads the addon once per JS realm (main thread or worker). Before it loads, picks OpenBLAS's
// kernels: Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs (Zen 4/5, some
// Xeons) and falls back to Haswell or even Prescott kernels, at a third of SGEMM's speed or less.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import nodeGypBuild from 'node-gyp-build';

/** A clipped step's outcome: skipped entries, the total norm before clipping, the factor applied. */
export interface ClippedOutcome {
  skipped: number[];
  gradNorm: number;
  scale: number;
}

/** A batch kept by the addon between steps (optimizerPlan), opaque to JavaScript. */
export interface StepPlanHandle {
  readonly __brand: 'StepPlan';
}

/** The raw addon: argument order is the facade's business, checked again natively. */
export interface Addon {
  backendInfo(): { config: string; coreType: string; threads: number; processors: number };
  setNumThreads(n: number): void;
  matmul(a: Float32Array, aRows: number, aCols: number, b: Float32Array, bRows: number, bCols: number,
    transA: boolean, transB: boolean, alpha: number, beta: number, out: Float32Array): void;
  matmulAsync(a: Float32Array, aRows: number, aCols: number, b: Float32Array, bRows: number, bCols: number,
    transA: boolean, transB: boolean, alpha: number, beta: number, out: Float32Array): Promise<void>;
  eigh(s: Float32Array, n: number): [Float32Array, Float32Array];
  eighAsync(s: Float32Array, n: number): Promise<[Float32Array, Float32Array]>;
  svd(a: Float32Array, m: number, n: number): [Float32Array, Float32Array, Float32Array];
  svdAsync(a: Float32Array, m: number, n: number): Promise<[Float32Array, Float32Array, Float32Array]>;
  singularValues(a: Float32Array, m: number, n: number): Float32Array;
  truncatedSvd(a: Float32Array, m: number, n: number, k: number, method: string, oversample: number,
    powerIters: number, seed: number): [Float32Array, Float32Array, Float32Array];
  truncatedSvdAsync(a: Float32Array, m: number, n: number, k: number, method: string, oversample: number,
    powerIters: number, seed: number): Promise<[Float32Array, Float32Array, Float32Array]>;
  qr(a: Float32Array, m: number, n: number): [Float32Array, Float32Array];
  qrAsync(a: Float32Array, m: number, n: number): Promise<[Float32Array, Float32Array]>;
  powerIteration(a: Float32Array, m: number, n: number, iters: number, scheme: string,
    init: Float32Array | null): [number, Float32Array, Float32Array];
  inverseRoot(s: Float32Array, n: number, p: number, eps: number): Float32Array;
  inverseRootAsync(s: Float32Array, n: number, p: number, eps: number): Promise<Float32Array>;
  orthogonalize(g: Float32Array, m: number, n: number, method: string, steps: number): Float32Array;
  orthogonalizeAsync(g: Float32Array, m: number, n: number, method: string, steps: number): Promise<Float32Array>;
  spectralNormGrad(w: Float32Array, m: number, n: number): Float32Array;
  spectralNormGradAsync(w: Float32Array, m: number, n: number): Promise<Float32Array>;
  optimizerRules(): string[];
  /** Without clip: the skipped entries' indices; with clip ([mode, value]): that and the norm and factor. */
  optimizerStep(arrays: Float32Array[], numbers: Float64Array, count: number, clip?: Float64Array): number[] | ClippedOutcome;
  optimizerPlan(arrays: Float32Array[], numbers: Float64Array, count: number): StepPlanHandle;
  optimizerStepAsync(arrays: Float32Array[], numbers: Float64Array, count: number, clip?: Float64Array): Promise<number[] | ClippedOutcome>;
  optimizerRun(plan: StepPlanHandle, numbers: Float64Array, clip?: Float64Array): number[] | ClippedOutcome | null;
}

const AVX512_FLAGS = ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'];

function cpuFlags(): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set(line ? line[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** Sets OPENBLAS_CORETYPE when that helps and the user has not; says how the core was chosen. */
function chooseCoreType(): string {
  if (process.env.OPENBLAS_CORETYPE !== undefined) return 'OPENBLAS_CORETYPE set by the user';
  if (process.platform !== 'linux' || process.arch !== 'x64') return "OpenBLAS's own CPU detection";
  const flags = cpuFlags();
  if (!AVX512_FLAGS.every((f) => flags.has(f))) return "OpenBLAS's own CPU detection (no AVX-512)";
  // SkylakeX's SGEMM kernel is the AVX-512 one every later Intel/AMD AVX-512 target reuses, so
  // forcing it never loses speed and fixes the fallback to Haswell/Prescott kernels.
  process.env.OPENBLAS_CORETYPE = 'SkylakeX';
  return 'specopt set OPENBLAS_CORETYPE=SkylakeX (CPU has AVX-512 F/BW/DQ/VL)';
}

/**
 * The optimizer loops run on OpenMP threads, BLAS calls on OpenBLAS's own pthreads. With OpenMP's
 * default wait policy its idle threads keep spinning after a parallel loop and starve the BLAS
 * threads that come next (measured on 2 cores, an MNIST MLP step with Muon on one matrix after a
 * GEMM: 7.8 ms instead of 3.4, and the GEMM 4.1 ms instead of 0.26). Passive waiting costs about
 * 0.1 ms of wake-up per parallel loop. libgomp reads the variable when the addon loads it.
 */
function chooseOmpWaitPolicy(): void {
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'passive';
}

function threadSource(): string {
  for (const name of ['OPENBLAS_NUM_THREADS', 'GOTO_NUM_THREADS', 'OMP_NUM_THREADS']) {
    if (process.env[name]) return `${name}=${process.env[name]}`;
  }
  return "OpenBLAS's default: one per processor";
}

const FIX =
  'specopt needs the OpenBLAS and LAPACKE libraries. On Debian/Ubuntu:\n' +
  '  sudo apt-get install -y libopenblas0 liblapacke          # to use a prebuilt binary\n' +
  '  sudo apt-get install -y cmake g++ pkg-config libopenblas-dev liblapacke-dev && npm rebuild specopt' +
  '   # to build from source';

function load(): { addon: Addon; coreTypeChosenBy: string; threadsChosenBy: string } {
  const coreTypeChosenBy = chooseCoreType();
  chooseOmpWaitPolicy();
  const threadsChosenBy = threadSource();
  try {
    // src/ and dist/ both sit one level below the package root. SPECOPT_ADDON names another
    // build of the addon (the sanitizer build of `npm run test:asan`); it is for development.
    const override = process.env.SPECOPT_ADDON;
    const addon = (override ? require(override) : nodeGypBuild(join(__dirname, '..'))) as Addon;
    return { addon, coreTypeChosenBy, threadsChosenBy };
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new Error(`specopt: cannot load the native addon (${reason}).\n${FIX}`, { cause });
  }
}

export const native = load();
