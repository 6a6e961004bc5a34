#!/usr/bin/env bash
# Leak and memory-error check of the addon with valgrind's memcheck.
#
# Runs test/scripts/memcheck-workload.cjs (every entry point once or a few times, a kept stepMany
# batch, saveState/loadState, error paths, a worker terminated with jobs in flight) under
#   valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite
#            --errors-for-leak-kinds=definite --num-callers=40 --error-limit=no --xml=yes
# and reads the XML report. Node and V8 produce reports of their own (V8's conservative stack
# scan reads uninitialised stack slots, Node keeps memory to exit by design), so only records
# with a frame in the addon (an object named specopt.node, or a native/*.cpp|hpp source line
# when the build has debug info) are counted; nothing is suppressed in valgrind itself.
#
# Prints: total definitely-lost bytes (all objects), the addon's definitely-lost bytes with their
# records, and memcheck errors (invalid reads/writes, uninitialised values, bad frees, ...) with
# a frame in the addon. Exit 1 when the addon has a definitely-lost byte or any
# error, when the workload fails, or when the report cannot be read; else 0.
#
# Usage: scripts/memcheck.sh [--object NAME] [--parse FILE.xml] [--self-test]
#   --object NAME   the addon's object file name (default specopt.node; basename or path suffix)
#   --parse FILE    only parse an existing XML report (no valgrind run)
#   --self-test     build a small faulty addon in a temp dir, run it under valgrind and check that
#                   the parser reports its leak and invalid read (and nothing with the default name)
# Environment: MEMCHECK_NODE_FLAGS (extra node
# flags, e.g. --jitless), MEMCHECK_N (matrix size of the workload, default 16), MEMCHECK_PHASE
# (all|main|worker, default all), MEMCHECK_OUT (directory for the report; default a temp dir),
# MEMCHECK_TIMEOUT (seconds, default 900). SPECOPT_ADDON (another build of the addon) is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

object=specopt.node
parse_only=
self_test=0
while [ $# -gt 0 ]; do
  case "$1" in
    --object) object="$2"; shift 2 ;;
    --parse) parse_only="$2"; shift 2 ;;
    --self-test) self_test=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "memcheck.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# parse XML OBJECT [ALLOWED_UNSETTLED_JOBS]: prints the figures, exit status 1 on a failure.
parse() {
  node - "$@" <<'JS'
const { readFileSync } = require('node:fs');
const [xmlPath, object] = process.argv.slice(2);
const xml = readFileSync(xmlPath, 'utf8');
if (!/<\/valgrindoutput>\s*$/.test(xml)) {
  console.log(`memcheck: ${xmlPath} is incomplete (valgrind did not finish its report)`);
  process.exit(1);
}
const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const tag = (s, name) => {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(s);
  return m ? unescape(m[1].trim()) : undefined;
};
const frames = (stack) =>
  [...stack.matchAll(/<frame>([\s\S]*?)<\/frame>/g)].map(([, f]) => ({
    obj: tag(f, 'obj') ?? '', fn: tag(f, 'fn') ?? '', dir: tag(f, 'dir') ?? '', file: tag(f, 'file') ?? '', line: tag(f, 'line') ?? '',
  }));
const inAddon = (f) =>
  f.obj.split('/').pop() === object || (object.includes('/') && f.obj.endsWith(object)) ||
  (object === 'specopt.node' && /(^|\/)native$/.test(f.dir) && /\.(c|h)pp$/.test(f.file));
const show = (f) => `${f.fn || '???'} (${f.file ? `${f.file}:${f.line}` : f.obj.split('/').pop() || '?'})`;

const counts = new Map(); // unique -> times the error happened
const errorcounts = tag(xml, 'errorcounts') ?? '';
for (const [, pair] of errorcounts.matchAll(/<pair>([\s\S]*?)<\/pair>/g)) counts.set(tag(pair, 'unique'), Number(tag(pair, 'count')));

const records = [...xml.matchAll(/<error>([\s\S]*?)<\/error>/g)].map(([, e]) => {
  const stacks = [...e.matchAll(/<stack>([\s\S]*?)<\/stack>/g)].map(([, s]) => frames(s));
  return {
    unique: tag(e, 'unique'), kind: tag(e, 'kind'),
    what: tag(e, 'what') ?? tag(tag(e, 'xwhat') ?? '', 'text') ?? '',
    auxwhat: [...e.matchAll(/<auxwhat>([\s\S]*?)<\/auxwhat>/g)].map(([, a]) => unescape(a)),
    bytes: Number(tag(e, 'leakedbytes') ?? 0), blocks: Number(tag(e, 'leakedblocks') ?? 0),
    stacks, addon: stacks.some((s) => s.some(inAddon)),
  };
});
const leaks = records.filter((r) => r.kind === 'Leak_DefinitelyLost');
const errors = records.filter((r) => !r.kind.startsWith('Leak_'));
const sum = (rs, key) => rs.reduce((t, r) => t + r[key], 0);

const addonLeaks = leaks.filter((r) => r.addon);
const addonErrors = errors.filter((r) => r.addon);

const printRecord = (r, label) => {
  const times = counts.get(r.unique);
  console.log(`  - ${label}${r.kind}: ${r.what}${times > 1 ? ` (${times} times)` : ''}`);
  r.stacks.forEach((s, k) => {
    if (k > 0) console.log(`      ${r.auxwhat[k - 1] ?? 'and'}:`);
    const last = s.reduce((j, f, i) => (inAddon(f) ? i : j), -1);
    // Up to the addon's outermost frame (and two more), the rest is V8 and Node.
    for (const f of s.slice(0, Math.max(last + 3, 6))) console.log(`      ${inAddon(f) ? '>' : ' '} ${show(f)}`);
  });
};

const status = tag(xml, 'status') ?? '';
console.log(`== memcheck report ${xmlPath} (addon object: ${object})`);
console.log(`total definitely lost: ${sum(leaks, 'bytes')} bytes in ${sum(leaks, 'blocks')} blocks (${leaks.length} records, all objects)`);
console.log(`memcheck errors: ${errors.length} distinct (${errors.reduce((t, r) => t + (counts.get(r.unique) ?? 1), 0)} in all), ${errors.length - addonErrors.length} without an addon frame (Node/V8, not counted)`);
console.log(`addon definitely lost: ${sum(addonLeaks, 'bytes')} bytes in ${sum(addonLeaks, 'blocks')} blocks (${addonLeaks.length} records)`);
for (const r of addonLeaks) printRecord(r, '');
console.log(`addon memcheck errors: ${addonErrors.length}`);
for (const r of addonErrors) printRecord(r, '');
const fail = addonLeaks.length > 0 || addonErrors.length > 0;
console.log(fail ? '== memcheck: FAIL' : '== memcheck: ok');
process.exit(fail ? 1 : 0);
JS
}

run_valgrind() {  # run_valgrind XML STDOUT -- command...
  local xml="$1" out="$2"
  shift 3
  timeout "${MEMCHECK_TIMEOUT:-900}" valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 --error-limit=no --xml=yes --xml-file="$xml" "$@" >"$out"
}

# One BLAS thread and one OpenMP thread: serial, so valgrind (which runs one thread at a time
# anyway) is not slowed further. Valgrind 3.19 has no AVX-512: where the CPU has it, the library
# would pick OpenBLAS's SkylakeX kernels (dist/native.js) and valgrind would stop at their first
# instruction, so the AVX2 kernels are chosen instead (unless the user chose).
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q '\bavx512f\b' /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi

if [ "$self_test" = 1 ]; then
  dir=$(mktemp -d /tmp/specopt-memcheck-selftest.XXXXXX)
  include="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
  cat >"$dir/fake.c" <<'C'
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
static void* volatile sink;
static napi_value Leak(napi_env env, napi_callback_info info) {  /* 100 bytes, never freed */
  char* p = malloc(100);
  memset(p, 1, 100);
  sink = p;
  sink = NULL;
  return NULL;
}
static napi_value BadRead(napi_env env, napi_callback_info info) {  /* 1 byte past a block */
  char* p = malloc(16);
  volatile char c = p[16];
  (void)c;
  free(p);
  return NULL;
}
NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "leak", NAPI_AUTO_LENGTH, Leak, NULL, &f);
  napi_set_named_property(env, exports, "leak", f);
  napi_create_function(env, "badRead", NAPI_AUTO_LENGTH, BadRead, NULL, &f);
  napi_set_named_property(env, exports, "badRead", f);
  return exports;
}
C
  gcc -g -O0 -shared -fPIC -I"$include" -o "$dir/libspecopt-fake.node" "$dir/fake.c"
  echo "const a = require('$dir/libspecopt-fake.node'); a.leak(); a.badRead();" >"$dir/use.cjs"
  run_valgrind "$dir/report.xml" "$dir/stdout" -- node "$dir/use.cjs"
  ok=1
  echo "== self-test 1: --object libspecopt-fake.node must FAIL (100 bytes lost, 1 invalid read)"
  if out=$(parse "$dir/report.xml" libspecopt-fake.node); then ok=0; fi
  echo "$out"
  grep -q '^addon definitely lost: 100 bytes in 1 blocks' <<<"$out" || ok=0
  grep -q '^addon memcheck errors: 1$' <<<"$out" || ok=0
  grep -q 'InvalidRead' <<<"$out" || ok=0
  echo "== self-test 2: the same report with the default --object specopt.node must pass"
  if out=$(parse "$dir/report.xml" specopt.node); then :; else ok=0; fi
  echo "$out"
  grep -q '^addon definitely lost: 0 bytes' <<<"$out" || ok=0
  rm -rf "$dir"
  if [ "$ok" = 1 ]; then echo "== self-test: ok"; exit 0; else echo "== self-test: FAIL"; exit 1; fi
fi

if [ -n "$parse_only" ]; then
  parse "$parse_only" "$object"
  exit $?
fi

out_dir="${MEMCHECK_OUT:-$(mktemp -d /tmp/specopt-memcheck.XXXXXX)}"
mkdir -p "$out_dir"
xml="$out_dir/memcheck.xml"
read -r -a node_flags <<<"${MEMCHECK_NODE_FLAGS:-}"
cmd=(node "${node_flags[@]}" test/scripts/memcheck-workload.cjs "${MEMCHECK_PHASE:-all}" "${MEMCHECK_N:-16}")
echo "== valgrind memcheck: ${cmd[*]} (OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1${OPENBLAS_CORETYPE:+ OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}; report in $out_dir)"
start=$(date +%s)
code=0
run_valgrind "$xml" "$out_dir/stdout" -- "${cmd[@]}" || code=$?
echo "== valgrind run: $(( $(date +%s) - start )) s, workload exit code $code"

status=0
summary=$(tail -n 1 "$out_dir/stdout" 2>/dev/null || true)
if [ "$code" != 0 ] || ! grep -q '^{"phase"' <<<"$summary"; then
  echo "memcheck: the workload failed under valgrind (exit code $code); its output:"
  cat "$out_dir/stdout"
  status=1
fi
echo "workload: $summary"
parse "$xml" "$object" || status=1
[ "$status" = 0 ] && echo "== memcheck.sh: pass" || echo "== memcheck.sh: FAIL"
exit $status
