// What specopt/tfjs says when TensorFlow.js is not installed: thrown by tf.ts (require) and by
// the ESM entry's check before it loads the CommonJS build (scripts/write-esm-entry.mjs; an error
// thrown by a CommonJS module under an ESM import reaches Node 20's uncaught-exception handler
// even when the import() is caught, so the ESM entry checks first).
export const MISSING_TFJS =
  "specopt/tfjs needs TensorFlow.js: install '@tensorflow/tfjs' (or '@tensorflow/tfjs-core' with a backend " +
  "such as '@tensorflow/tfjs-backend-cpu'); it is an optional peer dependency of specopt";

/** The module specopt/tfjs loads. */
export const TFJS_CORE = '@tensorflow/tfjs-core';
