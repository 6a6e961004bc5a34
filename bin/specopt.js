#!/usr/bin/env node
'use strict';
// The specopt command; see `specopt --help` and dist/cli.js.
// `specopt train | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = require('../dist/cli.js').main(process.argv.slice(2));
