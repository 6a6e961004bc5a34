// process.exit while async jobs are queued and running: the process must end with the code it
// was given, not a signal. Usage: node exit-in-flight.cjs sync|after-first|in-worker
const { Worker, isMainThread } = require('node:worker_threads');
const { everyAsync } = require('./async-work.cjs');

const how = process.argv[2];
if (!isMainThread) {
  for (let k = 0; k < 3; k++) everyAsync(128, k, k === 1);
  process.exit(0); // a worker's process.exit ends only the worker
} else if (how === 'sync') {
  for (let k = 0; k < 3; k++) everyAsync(128, k, k === 1);
  process.exit(3);
} else if (how === 'after-first') {
  const jobs = [];
  for (let k = 0; k < 3; k++) jobs.push(...everyAsync(128, k, k === 1));
  jobs[0].then(() => process.exit(4));
} else if (how === 'in-worker') {
  const worker = new Worker(__filename, { argv: ['worker'] });
  worker.on('exit', (code) => {
    for (let k = 0; k < 2; k++) everyAsync(128, k, k === 1);
    setTimeout(() => process.exit(code === 0 ? 5 : 1), 5);
  });
} else {
  throw new Error(`unknown mode ${how}`);
}
