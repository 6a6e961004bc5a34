// Run by test/distributed.test.ts under mpirun (-n 2 and -n 3): every rank makes the same calls
// and writes what it saw to <dir>/rank-<rank>.json (argv[2]); the test compares the ranks' files
// with the expected values. Loaded through the package's ESM entry.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as d from 'specopt/distributed';

const { rank, size } = d;
const out = { rank, size, threadLevel: d.threadLevel, library: d.mpiLibrary };
const errorOf = async (f) => {
  try {
    await f();
    return null;
  } catch (e) {
    return `${e.constructor.name}: ${e.message}`;
  }
};
const values = (x) => Array.from(x);

// Sync collectives, both element types.
for (const T of [Float32Array, Float64Array]) {
  const key = T.name;
  const r = {};
  const x = new T([rank + 1, -(rank + 1), 0.5 * rank]);
  d.allReduce(x);
  r.sum = values(x);
  const m = new T([rank + 1, 2 * rank]);
  d.allReduce(m, { op: 'mean' });
  r.mean = values(m);
  const mx = new T([rank, -rank]);
  d.allReduce(mx, { op: 'max' });
  const mn = new T([rank, -rank]);
  d.allReduce(mn, { op: 'min' });
  r.maxmin = [values(mx), values(mn)];
  const b = new T(3).fill(rank === size - 1 ? 7 : -1);
  d.broadcast(b, size - 1);
  r.broadcast = values(b);
  const g = d.allGather(new T([rank, rank * 10]));
  r.gather = [g.constructor.name, values(g)];
  const s = d.reduceScatter(new T(size * 2).map((_, i) => i + rank), { op: 'sum' });
  r.scatter = [s.constructor.name, values(s)];
  const empty = new T(0);
  d.allReduce(empty);
  r.empty = [values(empty), values(d.allGather(empty))];
  out[key] = r;
}
d.barrier();

// Async twins: the same results, in call order, several in flight at once.
const ax = new Float32Array([rank + 1]);
const [, ag, as] = await Promise.all([
  d.allReduceAsync(ax, { op: 'sum' }),
  d.allGatherAsync(new Float64Array([rank])),
  d.reduceScatterAsync(new Float32Array(size).fill(rank + 1), { op: 'mean' }),
  d.barrierAsync(),
]);
const ab = new Float64Array(2).fill(rank === 0 ? 3 : 0);
await d.broadcastAsync(ab, 0);
out.async = { allReduce: values(ax), allGather: values(ag), reduceScatter: values(as), broadcast: values(ab) };

// The async copy: a write to x after the call is not reduced, and x is written at the end.
const late = new Float32Array([1]);
const pending = d.allReduceAsync(late);
late[0] = 100;
await pending;
out.asyncCopy = values(late);

// Ranks that disagree: every rank gets an error, nobody hangs, and the next call works.
out.lengthMismatch = await errorOf(() => d.allReduce(new Float32Array(rank + 1)));
out.typeMismatch = await errorOf(() => d.allReduce(rank === 0 ? new Float64Array(2) : new Float32Array(2)));
out.collectiveMismatch = await errorOf(() => (rank === 0 ? d.broadcast(new Float32Array(2), 0) : d.allReduce(new Float32Array(2))));
out.rootMismatch = await errorOf(() => d.broadcast(new Float32Array(2), rank === 0 ? 0 : 1));
out.opMismatch = await errorOf(() => d.allReduce(new Float32Array(2), { op: rank === 0 ? 'max' : 'sum' }));
out.badOnRank0 = await errorOf(() => d.allReduce(rank === 0 ? [1, 2] : new Float32Array(2)));
out.badRootOnLast = await errorOf(() => d.broadcast(new Float32Array(2), rank === size - 1 ? size : 0));
out.badOpAsync = await errorOf(() => d.allReduceAsync(new Float32Array(2), { op: rank === 0 ? 'avg' : 'sum' }));
out.notMultiple = await errorOf(() => d.reduceScatter(new Float32Array(size + 1)));
out.asyncLengthMismatch = await errorOf(() => d.allGatherAsync(new Float32Array(rank === 1 ? 3 : 2)));

// A sync collective while an async one is pending is refused (it could overtake it).
const first = d.allReduceAsync(new Float32Array([1]));
out.syncWhilePending = await errorOf(() => d.barrier());
await first;

// x detached while its async allReduce runs: rejected, and the others are unaffected.
const moving = new Float32Array([rank]);
const moved = d.allReduceAsync(moving);
structuredClone(moving.buffer, { transfer: [moving.buffer] });
out.detached = await errorOf(() => moved);

const after = new Float32Array([1]);
d.allReduce(after);
out.after = values(after);
writeFileSync(join(process.argv[2], `rank-${rank}.json`), JSON.stringify(out));
