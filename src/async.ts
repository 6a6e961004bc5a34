/**
 * Runs a native async call so that its rejection carries the caller's JS stack: errors made on
 * a worker thread have none, and "at matmulAsync (app.js:12)" is what a user needs to see.
 */
export async function withCallerStack<T>(caller: Error, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && caller.stack) {
      const frames = caller.stack.slice(caller.stack.indexOf('\n') + 1);
      error.stack = `${error.name}: ${error.message}\n${frames}`;
    }
    throw error;
  }
}
