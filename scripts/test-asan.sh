#!/usr/bin/env bash
# npm run test:asan: the addon built with AddressSanitizer + UBSan into build-asan/, then the test
# suite and the fuzzer run against it with the sanitizer runtime preloaded (Node itself is not
# instrumented). Every report (from any process the tests start) is written under the report
# directory and fails the run, even where a test tolerated a child's crash.
# Extra arguments go to vitest (e.g. a test file). FUZZ_CALLS=N sets the fuzzer's call count
# (20,000 by default).
set -euo pipefail
cd "$(dirname "$0")/.."

npx cmake-js compile -O build-asan --CDNAPI_VERSION=8 --CDSPECOPT_SANITIZE=ON >/tmp/specopt-asan-build.log 2>&1 ||
  { cat /tmp/specopt-asan-build.log; exit 1; }
npm run build >/dev/null

reports="$PWD/build-asan/reports"
rm -rf "$reports" && mkdir -p "$reports"
export SPECOPT_ADDON="$PWD/build-asan/Release/specopt.node"
# The MPI addon's sanitizer build, when there is an MPI (mpirun passes the environment to the ranks).
if [ -f "$PWD/build-asan/Release/mpi/specopt_mpi.node" ]; then
  export SPECOPT_MPI_ADDON="$PWD/build-asan/Release/mpi/specopt_mpi.node"
fi
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)${LD_PRELOAD:+:$LD_PRELOAD}"
# Leaks are the leak check's business (V8 and Node keep memory to exit by design).
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"

status=0
# test/consumer.test.ts packs and installs its own (unsanitized) builds: nothing for ASan to see.
npx vitest run --exclude test/consumer.test.ts "$@" || status=$?
echo "== fuzzer under the sanitizers"
node test/fuzz/fuzz.cjs --calls "${FUZZ_CALLS:-20000}" --last build-asan/fuzz-last.txt >build-asan/fuzz.json || status=$?
node -e '
  const r = require(process.argv[1]);
  console.log(`fuzz: ${r.calls} calls (seed ${r.seed}), ${r.returned} returned, ${r.threw} threw, ${r.rejected} rejected, ${r.violationCount} violations, ${r.seconds} s`);
  for (const v of r.violations) console.log(`  call ${v.index} ${v.target}: ${v.what}`);
' "$PWD/build-asan/fuzz.json" || { echo "fuzz: the fuzzer died (last call: $(cat build-asan/fuzz-last.txt))"; status=1; }

if compgen -G "$reports/*" >/dev/null; then
  echo "== sanitizer reports:"
  cat "$reports"/*
  status=1
else
  echo "== no sanitizer report"
fi
exit $status
