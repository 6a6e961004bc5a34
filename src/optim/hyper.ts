// Resolving a rule's hyperparameters: defaults from defaults.ts, unknown names rejected, each
// value's type checked against its default's, then the rule's own range checks. A schedulable
// hyperparameter (RuleSpec.schedulable) may be a schedule, a function of the update count; the
// range checks then run on its value at count 0 here, and at every count it is used for
// (hyperAt), so a schedule that leaves the range is an error before anything is written.
import type { Schedule } from '../schedules.js';
import { describe } from '../validate.js';
import { COMMON, DEFAULTS, SPECTRAL_DECAY, type RuleName } from './defaults.js';
import type { HyperOf } from './rule.js';
import { RULE_SPECS } from './rules/index.js';

/** A rule's numeric hyperparameters (every schedule evaluated), as its per-step scalars use them. */
export type Hyper<R extends RuleName> = HyperOf<R> & { -readonly [K in keyof typeof COMMON]: (typeof COMMON)[K] };

/** A number, or a schedule giving it at each count (where the rule allows: RuleSpec.schedulable). */
type MaybeScheduled<T> = T extends number
  ? T | Schedule
  : T extends readonly [number, number]
    ? readonly [number | Schedule, number]
    : T extends readonly [number, number, number]
      ? readonly [number | Schedule, number, number]
      : [T] extends [number | null]
        ? T | Schedule
        : T;

/** Hyperparameters as given to createOptimizer / setHyper: schedulable numbers may be schedules. */
export type HyperInput<R extends RuleName> = { -readonly [K in keyof Hyper<R>]: MaybeScheduled<Hyper<R>[K]> };

/** One scheduled hyperparameter: its name, its index in an array hyperparameter (betas), the schedule. */
export interface ScheduledValue {
  readonly name: string;
  readonly key: string;
  readonly index: number | null;
  readonly schedule: Schedule;
}

const CHOICES: Record<string, readonly string[]> = {
  weightDecayNorm: ['frobenius', 'spectral'],
  nonFinite: ['throw', 'skip'],
  axis: ['all', 'rows', 'cols'],
  norm: ['l2', 'linf'],
  adjustLr: ['original', 'none', 'match-rms-adamw'],
  variant: ['transformers', 'torch'],
  epsMode: ['add', 'max'],
  method: ['newton-schulz', 'svd'],
  grafting: ['none', 'sgd', 'adagrad', 'adam'],
  projector: ['svd', 'randomized'],
};

/**
 * Numbers whose default is Infinity (prodigy's growthRate: unbounded): they take Infinity, and
 * null for it (JSON, so configs, write Infinity as null).
 */
const UNBOUNDED = new Set(['growthRate']);

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Messages start with the rule's name; createOptimizer adds its own in front. */
export function resolveHyper<R extends RuleName>(rule: R, given: unknown): HyperInput<R> {
  if (given !== undefined) {
    const proto = typeof given === 'object' && given !== null ? Object.getPrototypeOf(given) : undefined;
    if (Array.isArray(given) || (proto !== Object.prototype && proto !== null)) {
      const kind = proto === undefined || Array.isArray(given) ? typeOf(given) : `an instance of ${proto?.constructor?.name ?? 'a class'}`;
      throw new TypeError(`${rule}: hyperparameters must be a plain object, got ${kind}`);
    }
  }
  const defaults: Record<string, unknown> = { ...DEFAULTS[rule], ...COMMON };
  const schedulable = RULE_SPECS[rule].schedulable;
  const out: Record<string, unknown> = { ...defaults };
  let entries: [string, unknown][];
  try {
    entries = Object.entries(given ?? {});
  } catch (error) {
    // A getter that throws, or a proxy.
    throw new TypeError(`${rule}: hyperparameters could not be read (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  for (const [key, value] of entries) {
    if (!Object.hasOwn(defaults, key)) {
      throw new TypeError(`${rule}: unknown hyperparameter '${key}' (known: ${Object.keys(defaults).join(', ')})`);
    }
    if (value === undefined) continue;
    const d = defaults[key];
    if (value === null && d === Infinity && UNBOUNDED.has(key)) {
      out[key] = Infinity;
      continue;
    }
    if (typeof value === 'function') {
      if (!schedulable.includes(key)) throw new TypeError(`${rule}: ${key} cannot be a schedule (${schedulableList(rule)})`);
      out[key] = value;
      continue;
    }
    if (Array.isArray(value) && Array.isArray(d)) {
      value.forEach((v, i) => {
        if (typeof v === 'function' && !schedulable.includes(`${key}[${i}]`)) {
          throw new TypeError(`${rule}: ${key}[${i}] cannot be a schedule (${schedulableList(rule)})`);
        }
      });
    }
    // null-default options (adafactor's lr, beta1) take a number or null; blocks takes a number too.
    const ok =
      typeOf(value) === typeOf(d) ||
      (d === null && typeof value === 'number') ||
      (key === 'blocks' && typeof value === 'number') ||
      (key === 'nsCoefficients' && typeof value === 'string');
    if (!ok) throw new TypeError(`${rule}: ${key} must be ${d === null ? 'a number or null' : `a ${typeOf(d)}`}, got ${typeOf(value)}`);
    if (typeof value === 'number' && !Number.isFinite(value) && !(value === Infinity && UNBOUNDED.has(key))) {
      throw new RangeError(`${rule}: ${key} must be finite, got ${value}`);
    }
    if (Object.hasOwn(CHOICES, key) && !CHOICES[key].includes(value as string)) {
      throw new TypeError(`${rule}: ${key} must be ${CHOICES[key].map((c) => `'${c}'`).join(' | ')}, got '${String(value)}'`);
    }
    // Copies (nsCoefficients nests triples): the caller's arrays changing later changes nothing.
    out[key] = Array.isArray(value) ? value.map((v) => (Array.isArray(v) ? [...v] : v)) : value;
  }
  // A rule with variants (adafactor): the variant's own defaults for what was not given, and its
  // refusal of what it does not use.
  const variants = RULE_SPECS[rule].variants;
  if (variants !== undefined) {
    const name = out.variant as string;
    const variant = variants[name];
    const given = new Set(entries.filter(([, v]) => v !== undefined).map(([k]) => k));
    for (const [key, value] of Object.entries(variant.defaults)) if (!given.has(key)) out[key] = value;
    for (const key of variant.unused) {
      // (Its default value is accepted: a config lists every hyperparameter.)
      if (given.has(key) && JSON.stringify(out[key]) !== JSON.stringify(defaults[key])) {
        throw new TypeError(`${rule}: ${key} does not apply to variant '${name}'`);
      }
    }
  }
  const iters = (out as { spectralIters?: number }).spectralIters ?? 1;
  if (!Number.isInteger(iters) || iters < 1) throw new RangeError(`${rule}: spectralIters must be an integer >= 1, got ${iters}`);
  const penalty = out.spectralPenalty as number;
  if (!(penalty >= 0)) throw new RangeError(`${rule}: spectralPenalty must be >= 0, got ${penalty}`);
  const resolved = Object.freeze(out) as unknown as HyperInput<R>;
  const scheduled = scheduledValues(resolved);
  if (scheduled.length === 0) (RULE_SPECS[rule].check as (x: unknown) => void)(out);
  else hyperAt(rule, resolved, scheduled, 0);
  return resolved;
}

function schedulableList(rule: RuleName): string {
  const names = RULE_SPECS[rule].schedulable;
  return names.length
    ? `${rule} takes schedules for ${names.join(', ')}; the others are fixed when the optimizer is made`
    : `${rule} takes no schedules: its hyperparameters are fixed when the optimizer is made`;
}

/** The schedules among resolved hyperparameters, in a fixed order. */
export function scheduledValues(hyper: object): ScheduledValue[] {
  const out: ScheduledValue[] = [];
  for (const [key, value] of Object.entries(hyper)) {
    if (typeof value === 'function') out.push({ name: key, key, index: null, schedule: value as Schedule });
    else if (Array.isArray(value)) {
      value.forEach((v, i) => {
        if (typeof v === 'function') out.push({ name: `${key}[${i}]`, key, index: i, schedule: v as Schedule });
      });
    }
  }
  return out;
}

/**
 * The numeric hyperparameters at update count `count`: every schedule evaluated (once), each
 * value checked as createOptimizer checks a number. Messages start with the rule's name and say
 * which schedule gave the value at which count.
 */
export function hyperAt<R extends RuleName>(rule: R, hyper: HyperInput<R>, scheduled: readonly ScheduledValue[], count: number): Hyper<R> {
  const out: Record<string, unknown> = { ...hyper };
  for (const { name, key, index, schedule } of scheduled) {
    const value = schedule(count);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const Kind = typeof value === 'number' ? RangeError : TypeError;
      throw new Kind(`${rule}: the schedule of ${name} gave ${typeof value === 'number' ? value : describe(value)} at count ${count}; it must give finite numbers`);
    }
    if (index === null) out[key] = value;
    else {
      const copy = [...(out[key] as unknown[])];
      copy[index] = value;
      out[key] = copy;
    }
  }
  try {
    (RULE_SPECS[rule].check as (x: unknown) => void)(out);
  } catch (error) {
    if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
    const names = scheduled.map((s) => s.name).join(', ');
    const Kind = error instanceof TypeError ? TypeError : RangeError;
    throw new Kind(`${error.message} (at count ${count}, from the schedule of ${names})`, { cause: error });
  }
  return Object.freeze(out) as unknown as Hyper<R>;
}

/** Spectral options, for rules whose defaults have them (others use the inactive values). */
export function spectralOptions(h: object): typeof SPECTRAL_DECAY {
  return { ...SPECTRAL_DECAY, ...(h as Partial<typeof SPECTRAL_DECAY>) };
}
