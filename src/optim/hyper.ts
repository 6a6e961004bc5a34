// Resolving a rule's hyperparameters: defaults from defaults.ts, unknown names rejected, each
// value's type checked against its default's, then the rule's own range checks.
import { COMMON, DEFAULTS, SPECTRAL_DECAY, type RuleName } from './defaults.js';
import type { HyperOf } from './rule.js';
import { RULE_SPECS } from './rules/index.js';

export type Hyper<R extends RuleName> = HyperOf<R> & { -readonly [K in keyof typeof COMMON]: (typeof COMMON)[K] };

const CHOICES: Record<string, readonly string[]> = {
  weightDecayNorm: ['frobenius', 'spectral'],
  nonFinite: ['throw', 'skip'],
  axis: ['all', 'rows', 'cols'],
  norm: ['l2', 'linf'],
  adjustLr: ['none', 'match-rms-adamw'],
  method: ['newton-schulz', 'svd'],
  grafting: ['none', 'sgd', 'adagrad', 'adam'],
  projector: ['svd', 'randomized'],
};

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Messages start with the rule's name; createOptimizer adds its own in front. */
export function resolveHyper<R extends RuleName>(rule: R, given: unknown): Hyper<R> {
  if (given !== undefined) {
    const proto = typeof given === 'object' && given !== null ? Object.getPrototypeOf(given) : undefined;
    if (Array.isArray(given) || (proto !== Object.prototype && proto !== null)) {
      const kind = proto === undefined || Array.isArray(given) ? typeOf(given) : `an instance of ${proto?.constructor?.name ?? 'a class'}`;
      throw new TypeError(`${rule}: hyperparameters must be a plain object, got ${kind}`);
    }
  }
  const defaults: Record<string, unknown> = { ...DEFAULTS[rule], ...COMMON };
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
    // null-default options (adafactor's lr, beta1) take a number or null; blocks takes a number too.
    const ok =
      typeOf(value) === typeOf(d) || (d === null && typeof value === 'number') || (key === 'blocks' && typeof value === 'number');
    if (!ok) throw new TypeError(`${rule}: ${key} must be ${d === null ? 'a number or null' : `a ${typeOf(d)}`}, got ${typeOf(value)}`);
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`${rule}: ${key} must be finite, got ${value}`);
    if (Object.hasOwn(CHOICES, key) && !CHOICES[key].includes(value as string)) {
      throw new TypeError(`${rule}: ${key} must be ${CHOICES[key].map((c) => `'${c}'`).join(' | ')}, got '${String(value)}'`);
    }
    out[key] = Array.isArray(value) ? [...value] : value;
  }
  const iters = (out as { spectralIters?: number }).spectralIters ?? 1;
  if (!Number.isInteger(iters) || iters < 1) throw new RangeError(`${rule}: spectralIters must be an integer >= 1, got ${iters}`);
  const penalty = out.spectralPenalty as number;
  if (!(penalty >= 0)) throw new RangeError(`${rule}: spectralPenalty must be >= 0, got ${penalty}`);
  (RULE_SPECS[rule].check as (x: unknown) => void)(out);
  return Object.freeze(out) as unknown as Hyper<R>;
}

/** Spectral options, for rules whose defaults have them (others use the inactive values). */
export function spectralOptions(h: object): typeof SPECTRAL_DECAY {
  return { ...SPECTRAL_DECAY, ...(h as Partial<typeof SPECTRAL_DECAY>) };
}
