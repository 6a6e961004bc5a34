// What the stepManyAsync calls in flight on this thread are using: the memory of their
// parameters, gradients and state buffers, and their state objects. Until a call settles they
// belong to it: any other step that touches them (sync or async) is refused, and so is saving
// such a state (its buffers may be half written). Another thread sharing the same
// SharedArrayBuffers is not seen here: coordinate worker threads yourself.

/** Byte ranges [start, end) in use, by buffer. */
const ranges = new Map<ArrayBufferLike, [number, number][]>();
const states = new Set<object>();
let calls = 0;

/** What one call claimed, to give back when it settles. */
export interface Claim {
  readonly arrays: readonly ArrayBufferView[];
  readonly spans: readonly [ArrayBufferLike, number, number][];
  readonly states: readonly object[];
}

/** True while any stepManyAsync call is in flight (the sync step checks only then). */
export function anyInFlight(): boolean {
  return calls > 0;
}

function overlaps(buffer: ArrayBufferLike, start: number, end: number): boolean {
  const used = ranges.get(buffer);
  if (used === undefined || start === end) return false;
  for (const [s, e] of used) if (start < e && s < end) return true;
  return false;
}

/**
 * Throws an Error starting with `at` when one of an entry's arrays (named by `names`) or its
 * state is in use by a call in flight.
 */
export function checkFree(arrays: readonly ArrayBufferView[], names: readonly string[], state: object, at: string): void {
  if (calls === 0) return;
  const busy = (what: string) => new Error(`${at}: ${what} is in use by a stepManyAsync call in flight; await that call first`);
  if (states.has(state)) throw busy('its state');
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i];
    if (overlaps(a.buffer, a.byteOffset, a.byteOffset + a.byteLength)) throw busy(`the memory of its ${names[i]}`);
  }
}

/** True when `state` belongs to a call in flight. */
export function stateInFlight(state: object): boolean {
  return calls > 0 && states.has(state);
}

export function claim(arrays: readonly ArrayBufferView[], stateObjects: readonly object[]): Claim {
  const spans: [ArrayBufferLike, number, number][] = [];
  for (const a of arrays) {
    if (a.byteLength === 0) continue;
    const span: [number, number] = [a.byteOffset, a.byteOffset + a.byteLength];
    const list = ranges.get(a.buffer);
    if (list === undefined) ranges.set(a.buffer, [span]);
    else list.push(span);
    spans.push([a.buffer, span[0], span[1]]);
  }
  for (const s of stateObjects) states.add(s);
  calls++;
  return { arrays, spans, states: stateObjects };
}

export function release(c: Claim): void {
  for (const [buffer, start, end] of c.spans) {
    const list = ranges.get(buffer);
    if (list === undefined) continue;
    const i = list.findIndex(([s, e]) => s === start && e === end);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) ranges.delete(buffer);
  }
  for (const s of c.states) states.delete(s);
  calls--;
}
