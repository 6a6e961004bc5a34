import { withName } from './validate.js';

/**
 * The async twins' errors carry the caller's JS stack: errors made on a worker thread have
 * none, and "at matmulAsync (app.js:12)" is what a user needs to see.
 */
function callerStack(error: unknown, caller: Error): unknown {
  if (error instanceof Error && caller.stack) {
    const frames = caller.stack.slice(caller.stack.indexOf('\n') + 1);
    error.stack = `${error.name}: ${error.message}\n${frames}`;
  }
  return error;
}

// Inputs of the async twins: a Float32Array on an ordinary ArrayBuffer is copied when the call
// is made (on the main thread: JS may detach it right after), one on a SharedArrayBuffer when
// its job starts, on the worker thread, so the call does not pay for the copy. A job starts in a
// microtask, once the JS that made the call has finished: writes to a shared input made before
// that are seen; later ones, before the promise settles, may or may not be (never unsafely: the
// job computes on its own copy, and holds the buffer until it is done). Result arrays are
// external ArrayBuffers (the worker's memory), each its own and exactly its size; Node copies
// them when they are transferred.

/**
 * The body of every async twin `name`. `work` runs at once (arguments are checked and inputs
 * copied when the call is made), but nothing is ever thrown: any failure, a bad argument
 * included, rejects the returned promise, with the message under `name` (see withName) and the
 * caller's stack.
 */
export function runAsync<T>(name: string, work: () => Promise<T>): Promise<T> {
  const caller = new Error();
  return (async () => {
    try {
      return await work();
    } catch (error) {
      throw callerStack(withName(error, name), caller);
    }
  })();
}
