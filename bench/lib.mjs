// Helpers shared by bench/run.mjs and bench/optim.mjs: timing statistics, formatting, the
// markdown output both write to bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/c/limit.c, the machine's limit (the same OpenBLAS/LAPACKE calls straight from C). */
export const LIMIT_SRC = join(dirname(fileURLToPath(import.meta.url)), 'c', 'limit.c');
export const LIMIT_BIN = join(dirname(LIMIT_SRC), 'bin', 'limit');

/** Compiles the C program `src` into `bin` with gcc, `flags` before and `libs` after the source; an error message, or null. */
export function compileC(src, bin, flags, libs = ['-lm']) {
  mkdirSync(dirname(bin), { recursive: true });
  const gcc = spawnSync('gcc', [...flags, '-o', bin, src, ...libs], { encoding: 'utf8' });
  if (gcc.status !== 0) return `gcc failed: ${(gcc.stderr || gcc.error || '').toString().trim()}`;
  return null;
}

/** Compiles bench/c/limit.c; returns an error message, or null. */
export function buildLimit() {
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'openblas', 'lapacke'], { encoding: 'utf8' });
  if (flags.status !== 0) return `pkg-config failed: ${(flags.stderr || flags.error || '').toString().trim()}`;
  return compileC(LIMIT_SRC, LIMIT_BIN, ['-O3'], [...flags.stdout.trim().split(/\s+/), '-lm']);
}

/** Lines emitted so far (printed as they come, then written to RESULTS.md by the caller). */
export const out = [];

export function summarize(times) {
  const t = [...times].sort((a, b) => a - b);
  const mid = t.length >> 1;
  return { best: t[0], median: t.length % 2 ? t[mid] : (t[mid - 1] + t[mid]) / 2, reps: t.length, times: t };
}

export const median = (xs) => (xs.length ? summarize(xs).median : NaN);

/** A markdown table; `left`: how many leading columns hold text (left-aligned), or a string like 'lrrl'. */
export function table(headers, rows, left = 1) {
  const cell = (x) => String(x).replaceAll('|', '\\|');
  const isLeft = (i) => (typeof left === 'string' ? left[i] === 'l' : i < left);
  emit(`| ${headers.map(cell).join(' | ')} |`);
  emit(`|${headers.map((h, i) => (isLeft(i) ? ':---' : '---:')).join('|')}|`);
  for (const row of rows) emit(`| ${row.map(cell).join(' | ')} |`);
  emit();
}

export function emit(text = '') {
  out.push(text);
  console.log(text);
}

/** Clock ticks: whole machine (busy, total, steal) and this process with its waited-for children. */
export function cpuTimes() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const busy = total - f[3] - f[4];
    const self = readFileSync('/proc/self/stat', 'utf8');
    const g = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number); // fields 3.. of stat
    const own = g[11] + g[12] + g[13] + g[14]; // utime stime cutime cstime
    return { total, busy, steal: f[7] ?? 0, own };
  } catch {
    return null;
  }
}

export function fmtTime(s) {
  if (s === undefined || s === null || !Number.isFinite(s)) return '—';
  if (s < 0) return `−${fmtTime(-s)}`;
  if (s < 1e-6) return `${(s * 1e9).toFixed(0)} ns`;
  if (s < 1e-3) return `${(s * 1e6).toPrecision(3)} µs`;
  if (s < 1) return `${(s * 1e3).toPrecision(3)} ms`;
  return `${s.toPrecision(3)} s`;
}

export const fmtBM = (m) => (m ? `${fmtTime(m.best)} / ${fmtTime(m.median)}` : '—');

export const fmtRatio = (x) => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? `${x.toFixed(0)}×` : `${x.toPrecision(3)}×`);

export const fmtSci = (x) => (x === undefined || !Number.isFinite(x) ? '—' : x === 0 ? '0' : x.toExponential(1));

/**
 * Replaces (or appends) one section of a results file: from the line starting with `heading`
 * ("## Optimizers") to the next "## " heading or the end of the file.
 */
export function writeSection(file, heading, body) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = new RegExp(`^${escaped}\\b.*$`, 'm').exec(text);
  let next;
  if (!found) {
    next = (text.trimEnd() ? `${text.trimEnd()}\n\n` : '') + body;
  } else {
    const after = found.index + found[0].length;
    const following = /^## /m.exec(text.slice(after));
    const tail = following ? text.slice(after + following.index) : '';
    next = text.slice(0, found.index) + body + (tail ? `\n${tail}` : '');
  }
  writeFileSync(file, next);
}
