import { native } from './native.js';
import { checkDim } from './validate.js';

export interface BackendInfo {
  /** OpenBLAS's build line, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64". */
  blas: string;
  /** The kernel family in use (e.g. "SkylakeX", "Haswell"). */
  coreType: string;
  /** How it was chosen: by the user's OPENBLAS_CORETYPE, by specopt, or by OpenBLAS itself. */
  coreTypeChosenBy: string;
  /** Threads OpenBLAS uses for one call. */
  threads: number;
  /** How that number was chosen: an environment variable, setNumThreads, or the default. */
  threadsChosenBy: string;
  /** Processors OpenBLAS sees. */
  processors: number;
}

let threadsChosenBy = native.threadsChosenBy;

/** What the native backend is and how it was configured. */
export function backendInfo(): BackendInfo {
  const info = native.addon.backendInfo();
  return {
    blas: info.config.trim(),
    coreType: info.coreType,
    coreTypeChosenBy: native.coreTypeChosenBy,
    threads: info.threads,
    threadsChosenBy,
    processors: info.processors,
  };
}

/** Sets OpenBLAS's thread count for the whole process (all worker threads share it). */
export function setNumThreads(n: number): void {
  checkDim(n, 'setNumThreads: n');
  if (n < 1) throw new RangeError(`setNumThreads: n must be at least 1, got ${n}`);
  native.addon.setNumThreads(n);
  threadsChosenBy = `setNumThreads(${n})`;
}
