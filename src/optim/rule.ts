// What each rule file declares: how its hyperparameters are checked, which state buffers it
// keeps, and the per-step scalars its native loop (native/rules/) reads, in that loop's order.
import type { DEFAULTS, RuleName } from './defaults.js';

export type HyperOf<R extends RuleName> = (typeof DEFAULTS)[R];

/** A state buffer: its name, its length for a rows x cols parameter, its initial value. */
export type BufferSpec = readonly [name: string, length: number, fill: number];

/**
 * A state array's length for a rows x cols parameter, as far as the shape alone decides it: a
 * number when the shape fixes it, null when a parameter of this shape never has the array, or a
 * test when hyperparameters choose among several lengths (galore-adamw's rank, adam-mini's blocks).
 */
export type StateLength = number | null | { readonly what: string; readonly test: (length: number) => boolean };

/** An array a state of the rule may hold (what loadState checks a file against, without hyperparameters). */
export interface StateArraySpec {
  readonly name: string;
  length(rows: number, cols: number): StateLength;
  /**
   * Kept only with some hyperparameters (sgd's momentum buffer), for every shape or for the shapes
   * this says; otherwise every state of a shape it has a length for holds it.
   */
  readonly optional: boolean | ((rows: number, cols: number) => boolean);
}

/** The scalar values a reference state holds: a flag, a count (a non-negative integer), or a finite number. */
export type StateValueKind = 'boolean' | 'count' | 'number';

/**
 * Every array a state of the rule may hold, per backend, in canonical order: the order init()
 * creates them in and saveState writes them in. The spectral warm-start vector (native
 * 'spectralVector', reference 'spectralVec') is not listed: state.ts adds it last.
 */
export interface StateSpec {
  readonly native: readonly StateArraySpec[];
  readonly reference: readonly StateArraySpec[];
  /** The scalars every reference state of the rule holds (native states hold none). */
  readonly referenceValues?: Readonly<Record<string, StateValueKind>>;
}

/** A StateArraySpec; `optional` when only some hyperparameters keep it. */
export function stateArray(
  name: string,
  length: (rows: number, cols: number) => StateLength,
  optional: 'optional' | 'always' | ((rows: number, cols: number) => boolean) = 'always',
): StateArraySpec {
  return { name, length, optional: typeof optional === 'function' ? optional : optional === 'optional' };
}

/** Lengths the state specs share: one per entry, rows², cols². */
export const ENTRIES = (rows: number, cols: number): number => rows * cols;
export const ROWS_SQUARED = (rows: number): number => rows * rows;
export const COLS_SQUARED = (_rows: number, cols: number): number => cols * cols;

export interface RuleSpec<R extends RuleName> {
  /** The native loop this rule runs (adam and adamw share one). */
  readonly kernel: string;
  /**
   * A group-sum rule (prodigy): its step reduces over the entries one optimizer steps in one call
   * (native/optimizer.cpp's Rule::groupSums). The batch then gives each entry, after `scalars`,
   * the index among the batch's native entries of the first entry of its optimizer; the native
   * step uses that entry's hyperparameters (the rule's leading scalars) for the whole group.
   */
  readonly grouped?: boolean;
  /**
   * The hyperparameters that may be given as schedules (functions of the update count): those
   * that never change the state's layout, as 'name' or 'name[index]' (betas[0]).
   */
  readonly schedulable: readonly string[];
  /**
   * Rules with a `variant` hyperparameter (adafactor): per variant, the defaults it has in place of
   * DEFAULTS' (for what was not given) and the hyperparameters it does not use (refused if given).
   */
  readonly variants?: Readonly<Record<string, { readonly defaults: Readonly<Record<string, unknown>>; readonly unused: readonly string[] }>>;
  /** The native loop of these hyperparameters when it is not `kernel` (adafactor's variant 'torch'). */
  kernelOf?(h: HyperOf<R>): string;
  /** Range checks beyond the types, with messages naming the hyperparameter. */
  check(h: HyperOf<R>): void;
  /** The decoupled-decay coefficient is nonzero (so weightDecayNorm 'spectral' has work to do). */
  decoupledDecay(h: HyperOf<R>): boolean;
  /** Shape-dependent checks at init (e.g. adam-mini's row groups must divide the rows). */
  checkShape?(h: HyperOf<R>, rows: number, cols: number): void;
  /** The native state's buffers for these hyperparameters, in the order of `state.native`. */
  buffers(h: HyperOf<R>, rows: number, cols: number): BufferSpec[];
  /** Every array a state can hold, without hyperparameters (see StateSpec). */
  readonly state: StateSpec;
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
