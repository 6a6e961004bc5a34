// What each rule file declares: how its hyperparameters are checked, which state buffers it
// keeps, and the per-step scalars its native loop (native/rules/) reads, in that loop's order.
import type { DEFAULTS, RuleName } from './defaults.js';

export type HyperOf<R extends RuleName> = (typeof DEFAULTS)[R];

/** A state buffer: its name, its length for a rows x cols parameter, its initial value. */
export type BufferSpec = readonly [name: string, length: number, fill: number];

export interface RuleSpec<R extends RuleName> {
  /** The native loop this rule runs (adam and adamw share one). */
  readonly kernel: string;
  /** Range checks beyond the types, with messages naming the hyperparameter. */
  check(h: HyperOf<R>): void;
  /** The decoupled-decay coefficient is nonzero (so weightDecayNorm 'spectral' has work to do). */
  decoupledDecay(h: HyperOf<R>): boolean;
  /** Shape-dependent checks at init (e.g. adam-mini's row groups must divide the rows). */
  checkShape?(h: HyperOf<R>, rows: number, cols: number): void;
  buffers(h: HyperOf<R>, rows: number, cols: number): BufferSpec[];
  /** t is the step being taken: 1 on the first update. */
  scalars(h: HyperOf<R>, t: number, rows: number, cols: number): number[];
}

// Checks shared by the rule files; each message names the rule and the hyperparameter.
export function inRange(rule: string, name: string, value: number, lo: number, hi: number, loOpen = false, hiOpen = true): void {
  const ok = (loOpen ? value > lo : value >= lo) && (hiOpen ? value < hi : value <= hi);
  if (!ok) {
    const range = `${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`;
    throw new RangeError(`${rule}: ${name} must be in ${range}, got ${value}`);
  }
}

export function integerAtLeast(rule: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${rule}: ${name} must be an integer >= ${min}, got ${value}`);
}

export function checkBetas(rule: string, betas: readonly number[]): void {
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number')) {
    throw new TypeError(`${rule}: betas must be a pair of numbers, got ${JSON.stringify(betas)}`);
  }
  inRange(rule, 'betas[0]', betas[0], 0, 1);
  inRange(rule, 'betas[1]', betas[1], 0, 1);
}
