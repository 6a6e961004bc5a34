// Run by test/distributed.test.ts under mpirun: rank 1 dies in the middle of a run of
// collectives (argv[3]: 'kill' = SIGKILL, 'throw' = an uncaught exception); the others must not
// hang. Every rank appends a line to <dir>/rank-<rank>.log (argv[2]) per completed step.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

import { allReduce, allReduceAsync, rank } from 'specopt/distributed';

const [dir, how] = process.argv.slice(2);
const x = new Float32Array(1 << 16);
for (let step = 0; step < 1_000_000; step++) {
  if (rank === 1 && step === 20) {
    if (how === 'kill') process.kill(process.pid, 'SIGKILL');
    throw new Error('rank 1 fails at step 20');
  }
  if (step % 2) allReduce(x);
  else await allReduceAsync(x);
  appendFileSync(join(dir, `rank-${rank}.log`), `${step}\n`);
}
