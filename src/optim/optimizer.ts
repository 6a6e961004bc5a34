// createOptimizer, the per-parameter step and the multi-parameter step. The native backend runs
// every rule as a fused loop (native/rules/); the reference backend runs the float64 formulas of
// src/reference/optim. Both keep their state in an OptimizerState, saved and loaded alike.
import { native } from '../native.js';
import { referenceOptimizer, type RefOptimizer, type RefState } from '../reference/optim/index.js';
import { checkMatrix, describe, type MatrixLike } from '../validate.js';
import { RULES, type RuleName } from './defaults.js';
import { resolveHyper, spectralOptions, type Hyper } from './hyper.js';
import type { RuleSpec } from './rule.js';
import { RULE_SPECS } from './rules/index.js';
import type { OptimizerState, StateArray } from './state.js';

export type Backend = 'native' | 'reference';

export interface StepResult {
  /** True when the gradient held NaN/Infinity and `nonFinite: 'skip'` left everything as it was. */
  skipped: boolean;
}

const KERNEL_IDS: Record<string, number> = Object.fromEntries(
  (native.addon.optimizerRules() as string[]).map((name, id) => [name, id]),
);

export class Optimizer<R extends RuleName = RuleName> {
  readonly rule: R;
  readonly hyper: Readonly<Hyper<R>>;
  readonly backend: Backend;
  private readonly spec: RuleSpec<RuleName>;
  private readonly reference?: RefOptimizer;

  constructor(rule: R, hyper?: Partial<Hyper<R>>, options?: { backend?: Backend }) {
    if (!(RULES as string[]).includes(rule)) {
      throw new TypeError(`createOptimizer: unknown rule ${describe(rule)} (known: ${RULES.join(', ')})`);
    }
    const backend = options?.backend ?? 'native';
    if (backend !== 'native' && backend !== 'reference') {
      throw new TypeError(`createOptimizer: backend must be 'native' | 'reference', got ${describe(backend)}`);
    }
    this.rule = rule;
    this.hyper = resolveHyper(rule, hyper);
    this.backend = backend;
    this.spec = RULE_SPECS[rule] as RuleSpec<RuleName>;
    if (backend === 'reference') this.reference = referenceOptimizer(rule, this.hyper as unknown as Record<string, unknown>);
  }

  /** A fresh state for `param` (zero moments, step 0). */
  init(param: MatrixLike): OptimizerState {
    checkMatrix(param, `${this.rule}.init: param`);
    const { rows, cols } = param;
    if (rows * cols === 0) throw new RangeError(`${this.rule}.init: param is ${rows}x${cols}: nothing to optimize`);
    this.spec.checkShape?.(this.hyper as never, rows, cols);
    const base = { rule: this.rule, backend: this.backend, rows, cols, step: 0 };
    if (this.reference) {
      const { step: _, ...fields } = this.reference.init(rows, cols);
      return splitReferenceState(base, fields);
    }
    const arrays: Record<string, StateArray> = {};
    for (const [name, length, fill] of this.spec.buffers(this.hyper as never, rows, cols)) {
      arrays[name] = new Float32Array(length).fill(fill);
    }
    const s = spectralOptions(this.hyper);
    if (s.spectralWarmStart && (this.spectralDecayOn() || this.hyper.spectralPenalty > 0)) {
      arrays.spectralVector = new Float32Array(Math.min(rows, cols));
    }
    return { ...base, arrays, values: {} };
  }

  /** One update of `param.data` in place from `grad`. See `stepMany` for many parameters at once. */
  step(param: MatrixLike, grad: MatrixLike, state: OptimizerState): StepResult {
    return stepMany([{ optimizer: this as Optimizer, param, grad, state }])[0];
  }

  /** @internal Checks one entry and returns what the native step needs (nothing is written). */
  prepare(param: MatrixLike, grad: MatrixLike, state: OptimizerState, where: string): unknown[] {
    checkMatrix(param, `${where}: param`);
    checkMatrix(grad, `${where}: grad`);
    if (grad.rows !== param.rows || grad.cols !== param.cols) {
      throw new RangeError(`${where}: grad must be ${param.rows}x${param.cols} like param, got ${grad.rows}x${grad.cols}`);
    }
    checkState(state, this, param, where);
    const s = spectralOptions(this.hyper);
    const buffers = this.spec.buffers(this.hyper as never, param.rows, param.cols).map(([name, length]) => {
      const a = state.arrays[name];
      if (!(a instanceof Float32Array) || a.length !== length) {
        throw new RangeError(`${where}: state buffer '${name}' must be a Float32Array of ${length}, got ${describe(a)}`);
      }
      return a;
    });
    const scalars = Float64Array.from(this.spec.scalars(this.hyper as never, state.step + 1, param.rows, param.cols));
    return [
      KERNEL_IDS[this.spec.kernel],
      param.data,
      grad.data,
      param.rows,
      param.cols,
      buffers,
      scalars,
      this.hyper.spectralPenalty,
      this.spectralDecayOn(),
      s.spectralIters,
      state.arrays.spectralVector ?? null,
      this.hyper.nonFinite === 'skip',
    ];
  }

  /** @internal The float64 reference update (state and param written only on success). */
  referenceStep(param: MatrixLike, grad: MatrixLike, state: OptimizerState): StepResult {
    const w = Float64Array.from(param.data);
    const g = Float64Array.from(grad.data);
    const ref: RefState = { step: state.step, ...cloneFields(state) };
    const before = ref.step;
    this.reference!.step(w, g, param.rows, param.cols, ref);
    if (ref.step === before) return { skipped: true };
    param.data.set(w);
    const { step, ...fields } = ref;
    const next = splitReferenceState({ ...state, step }, fields);
    Object.assign(state.arrays, next.arrays);
    Object.assign(state.values, next.values);
    state.step = step;
    return { skipped: false };
  }

  private spectralDecayOn(): boolean {
    return spectralOptions(this.hyper).weightDecayNorm === 'spectral' && this.spec.decoupledDecay(this.hyper as never);
  }
}

function cloneFields(state: OptimizerState): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...state.values };
  for (const [name, a] of Object.entries(state.arrays)) fields[name] = a.slice();
  return fields;
}

function splitReferenceState(
  base: Omit<OptimizerState, 'arrays' | 'values'>,
  fields: Record<string, unknown>,
): OptimizerState {
  const arrays: Record<string, StateArray> = {};
  const values: Record<string, number | boolean | null> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value instanceof Float64Array || value instanceof Float32Array) arrays[name] = value;
    else if (value === undefined) continue;
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) values[name] = value;
    else throw new TypeError(`reference state field '${name}' has an unsupported type`);
  }
  return { ...base, arrays, values };
}

function checkState(state: OptimizerState, opt: Optimizer, param: MatrixLike, where: string): void {
  if (typeof state !== 'object' || state === null || typeof state.arrays !== 'object') {
    throw new TypeError(`${where}: state must be an optimizer state from init() or loadState(), got ${describe(state)}`);
  }
  if (state.rule !== opt.rule || state.backend !== opt.backend) {
    throw new TypeError(`${where}: state belongs to ${state.rule} (${state.backend}), not ${opt.rule} (${opt.backend})`);
  }
  if (state.rows !== param.rows || state.cols !== param.cols) {
    throw new RangeError(`${where}: state is for a ${state.rows}x${state.cols} parameter, param is ${param.rows}x${param.cols}`);
  }
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new RangeError(`${where}: state.step must be a non-negative integer`);
}

export interface StepEntry {
  optimizer: Optimizer;
  param: MatrixLike;
  grad: MatrixLike;
  state: OptimizerState;
}

/**
 * Updates many parameters, each with its own optimizer (rule and hyperparameters), in one native
 * call. Every entry is checked, and every gradient scanned for NaN/Infinity, before anything is
 * written: a failure leaves all parameters and states as they were.
 */
export function stepMany(entries: readonly StepEntry[]): StepResult[] {
  if (!Array.isArray(entries)) throw new TypeError(`stepMany: entries must be an array, got ${describe(entries)}`);
  const nativeIdx: number[] = [];
  const prepared: unknown[][] = [];
  entries.forEach((e, i) => {
    const where = entries.length === 1 ? `${e?.optimizer?.rule}.step` : `stepMany: entry ${i} (${e?.optimizer?.rule})`;
    if (!(e?.optimizer instanceof Optimizer)) throw new TypeError(`${where}: optimizer must come from createOptimizer`);
    if (e.optimizer.backend === 'native') {
      prepared.push(e.optimizer.prepare(e.param, e.grad, e.state, where));
      nativeIdx.push(i);
    } else {
      e.optimizer.prepare(e.param, e.grad, e.state, where);
    }
  });
  const results: StepResult[] = entries.map(() => ({ skipped: false }));
  if (prepared.length) {
    const skipped = native.addon.optimizerStep(prepared) as number[];
    for (const k of skipped) results[nativeIdx[k]].skipped = true;
    nativeIdx.forEach((i, k) => {
      if (!skipped.includes(k)) entries[i].state.step += 1;
    });
  }
  entries.forEach((e, i) => {
    if (e.optimizer.backend === 'reference') results[i] = e.optimizer.referenceStep(e.param, e.grad, e.state);
  });
  return results;
}

/** An optimizer for rule `name` with the given hyperparameters (defaults: src/optim/defaults.ts). */
export function createOptimizer<R extends RuleName>(name: R, hyper?: Partial<Hyper<R>>, options?: { backend?: Backend }): Optimizer<R> {
  return new Optimizer(name, hyper, options);
}
