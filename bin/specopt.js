#!/usr/bin/env node
'use strict';
// The specopt command; see `specopt --help` and dist/cli.js.
//
// The optimizer steps run on OpenMP threads and the GEMMs on OpenBLAS's own pthreads. With
// OpenMP's default wait policy its idle threads keep spinning after a step and starve the GEMMs
// that follow on a machine with few cores (measured on 2 cores: a step of the MNIST MLP after a
// GEMM took 30 ms instead of 0.5 ms). Passive waiting avoids it; a value you set is kept.
// It has to be set before the addon (and so libgomp) loads.
if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'passive';
// `specopt train | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = require('../dist/cli.js').main(process.argv.slice(2));
