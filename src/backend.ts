import { native } from './native.js';
import { checkDim, withName } from './validate.js';

/** What {@link backendInfo} returns: the BLAS library in use and how it was configured. */
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

/** The native bound (native/backend.cpp), checked here too so the message shows the value. */
const MAX_THREADS = 1024;

/** What the native backend is and how it was configured. */
export function backendInfo(): BackendInfo {
  let info: ReturnType<typeof native.addon.backendInfo>;
  try {
    info = native.addon.backendInfo();
  } catch (error) {
    throw withName(error, 'backendInfo');
  }
  return {
    blas: info.config.trim(),
    coreType: info.coreType,
    coreTypeChosenBy: native.coreTypeChosenBy,
    threads: info.threads,
    threadsChosenBy,
    processors: info.processors,
  };
}

/**
 * Sets OpenBLAS's thread count for the whole process (all worker threads share it): an integer
 * in 1..1024. Errors are TypeError/RangeError starting with "setNumThreads: n".
 */
export function setNumThreads(n: number): void {
  try {
    checkDim(n, 'setNumThreads: n');
    if (n < 1 || n > MAX_THREADS) throw new RangeError(`setNumThreads: n must be in 1..${MAX_THREADS}, got ${n}`);
    native.addon.setNumThreads(n);
  } catch (error) {
    throw withName(error, 'setNumThreads');
  }
  threadsChosenBy = `setNumThreads(${n})`;
}
