// The one place specopt/tfjs loads TensorFlow.js. `@tensorflow/tfjs-core` is an optional peer
// dependency: the main entry (src/index.ts) never comes here, and this subpath says what to
// install when it is missing instead of failing with Node's bare "Cannot find module".
import type * as TfCore from '@tensorflow/tfjs-core';

function load(): typeof TfCore {
  try {
    return require('@tensorflow/tfjs-core') as typeof TfCore;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(
      "specopt/tfjs needs TensorFlow.js: install '@tensorflow/tfjs' (or '@tensorflow/tfjs-core' with a backend " +
        "such as '@tensorflow/tfjs-backend-cpu'); it is an optional peer dependency of specopt",
      { cause: error },
    );
  }
}

/** TensorFlow.js's core: the same module instance the user's `@tensorflow/tfjs` uses. */
export const tf = load();
export type { TfCore };
