// The one place specopt/tfjs loads TensorFlow.js. `@tensorflow/tfjs-core` is an optional peer
// dependency: the main entry (src/index.ts) never comes here, and this subpath says what to
// install when it is missing instead of failing with Node's bare "Cannot find module".
import type * as TfCore from '@tensorflow/tfjs-core';

import { MISSING_TFJS, TFJS_CORE } from './peer.js';

function load(): typeof TfCore {
  try {
    return require(TFJS_CORE) as typeof TfCore;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(MISSING_TFJS, { cause: error });
  }
}

/** TensorFlow.js's core: the same module instance the user's `@tensorflow/tfjs` uses. */
export const tf = load();
export type { TfCore };
