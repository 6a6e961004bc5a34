// createOptimizer, the per-parameter step and the multi-parameter step. The native backend runs
// every rule as a fused loop (native/rules/); the reference backend runs the float64 formulas of
// src/reference/optim. Both keep their state in an OptimizerState, saved and loaded alike.
import { native, type StepPlanHandle } from '../native.js';
import { referenceOptimizer, type RefOptimizer, type RefState } from '../reference/optim/index.js';
import { checkMatrix, describe, type MatrixLike } from '../validate.js';
import { RULES, type RuleName } from './defaults.js';
import { resolveHyper, spectralOptions, type Hyper } from './hyper.js';
import type { BufferSpec, RuleSpec } from './rule.js';
import { RULE_SPECS } from './rules/index.js';
import type { OptimizerState, StateArray } from './state.js';

export type Backend = 'native' | 'reference';

export interface StepResult {
  /** True when the gradient held NaN/Infinity and `nonFinite: 'skip'` left everything as it was. */
  skipped: boolean;
  /** Shampoo: root computations that failed so far (each time the previous root was kept). */
  rootFailures?: number;
}

const UPDATED: StepResult = Object.freeze({ skipped: false });
const SKIPPED: StepResult = Object.freeze({ skipped: true });

const KERNEL_IDS: Record<string, number> = Object.fromEntries(
  (native.addon.optimizerRules() as string[]).map((name, id) => [name, id]),
);

export class Optimizer<R extends RuleName = RuleName> {
  readonly rule: R;
  readonly hyper: Readonly<Hyper<R>>;
  readonly backend: Backend;
  private readonly spec: RuleSpec<RuleName>;
  private readonly reference?: RefOptimizer;
  // Fixed per optimizer, read on every step.
  private readonly kernelId: number;
  private readonly spectral: ReturnType<typeof spectralOptions>;
  private readonly spectralDecay: boolean;
  private readonly layouts = new Map<number, BufferSpec[]>();

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
    this.kernelId = KERNEL_IDS[this.spec.kernel];
    this.spectral = spectralOptions(this.hyper);
    this.spectralDecay = this.spectral.weightDecayNorm === 'spectral' && this.spec.decoupledDecay(this.hyper as never);
  }

  /** The state buffers for a rows x cols parameter (cached: the same shapes come every step). */
  private layout(rows: number, cols: number): BufferSpec[] {
    const key = rows * 4294967296 + cols;
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.spec.buffers(this.hyper as never, rows, cols);
      this.layouts.set(key, layout);
    }
    return layout;
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
    for (const [name, length, fill] of this.layout(rows, cols)) {
      arrays[name] = new Float32Array(length).fill(fill);
    }
    if (this.spectral.spectralWarmStart && (this.spectralDecay || this.hyper.spectralPenalty > 0)) {
      arrays.spectralVector = new Float32Array(Math.min(rows, cols));
    }
    return { ...base, arrays, values: {} };
  }

  /** One update of `param.data` in place from `grad`. See `stepMany` for many parameters at once. */
  step(param: MatrixLike, grad: MatrixLike, state: OptimizerState): StepResult {
    const entries = [{ optimizer: this as Optimizer, param, grad, state }];
    return run(entries, new Plan(entries))![0];
  }

  /**
   * @internal Checks one entry (nothing is written) and appends what the native step needs to the
   * batch: its arrays [param, grad, ...state buffers, warm start?] and its numbers [rule, rows,
   * cols, penalty, spectralDecay, spectralIters, hasWarm, skipNonFinite, bufferCount,
   * scalarCount, ...scalars].
   */
  prepare(entries: readonly StepEntry[], index: number, batch: NativeBatch): PlannedEntry {
    const entry = entries[index];
    const { param, grad, state } = entry;
    checkEntry(param, grad, state, this, entries, index);
    const { rows, cols } = param;
    const layout = this.layout(rows, cols);
    batch.arrays.push(param.data, grad.data);
    const names: string[] = [];
    const buffers: Float32Array[] = [];
    for (let b = 0; b < layout.length; b++) {
      const name = layout[b][0];
      const length = layout[b][1];
      const a = state.arrays[name];
      if (!(a instanceof Float32Array) || a.length !== length) {
        throw new RangeError(`${where(entries, index)}: state buffer '${name}' must be a Float32Array of ${length}, got ${describe(a)}`);
      }
      batch.arrays.push(a);
      names.push(name);
      buffers.push(a);
    }
    const warm = state.arrays.spectralVector;
    if (warm !== undefined) {
      if (!(warm instanceof Float32Array) || warm.length !== Math.min(rows, cols)) {
        throw new RangeError(`${where(entries, index)}: state buffer 'spectralVector' must be a Float32Array of ${Math.min(rows, cols)}, got ${describe(warm)}`);
      }
      batch.arrays.push(warm);
    }
    const scalars = this.scalars(state.step + 1, rows, cols);
    const out = batch.reserve(10 + scalars.length);
    let at = batch.length;
    out[at++] = this.kernelId;
    out[at++] = rows;
    out[at++] = cols;
    out[at++] = this.hyper.spectralPenalty;
    out[at++] = this.spectralDecay ? 1 : 0;
    out[at++] = this.spectral.spectralIters;
    out[at++] = warm !== undefined ? 1 : 0;
    out[at++] = this.hyper.nonFinite === 'skip' ? 1 : 0;
    out[at++] = layout.length;
    out[at++] = scalars.length;
    const scalarOffset = at;
    for (let k = 0; k < scalars.length; k++) out[at++] = scalars[k];
    batch.length = at;
    return {
      entry,
      optimizer: this as Optimizer,
      param,
      grad,
      state,
      paramData: param.data,
      gradData: grad.data,
      rows,
      cols,
      names,
      buffers,
      info: state.arrays.info as Float32Array | undefined,
      warm,
      scalarOffset,
      t: state.step + 1,
    };
  }

  /** @internal The per-step scalars for step t (see prepare's layout of the batch). */
  stepScalars(t: number, rows: number, cols: number): number[] {
    return this.scalars(t, rows, cols);
  }

  private lastScalars?: { t: number; rows: number; cols: number; values: number[] };

  /** The per-step scalars; the last ones are kept, as a batch of parameters usually shares t. */
  private scalars(t: number, rows: number, cols: number): number[] {
    const last = this.lastScalars;
    if (last && last.t === t && last.rows === rows && last.cols === cols) return last.values;
    const values = this.spec.scalars(this.hyper as never, t, rows, cols);
    this.lastScalars = { t, rows, cols, values };
    return values;
  }

  /** @internal Checks one entry for the reference backend: shapes, state buffers, gradient. */
  check(entries: readonly StepEntry[], index: number): void {
    const { param, grad, state } = entries[index];
    checkEntry(param, grad, state, this, entries, index);
    for (const [name, length] of this.referenceLayout(param.rows, param.cols)) {
      const a = state.arrays[name];
      if (!(a instanceof Float64Array) || a.length !== length) {
        throw new RangeError(`${where(entries, index)}: state buffer '${name}' must be a Float64Array of ${length}, got ${describe(a)}`);
      }
    }
    if (this.hyper.nonFinite === 'throw' && !grad.data.every(Number.isFinite)) {
      throw new RangeError(`${where(entries, index)}: the gradient contains NaN or Infinity; nothing was changed`);
    }
  }

  private readonly referenceLayouts = new Map<number, [string, number][]>();

  /** The reference state's arrays for a rows x cols parameter, as its init makes them. */
  private referenceLayout(rows: number, cols: number): [string, number][] {
    const key = rows * 4294967296 + cols;
    let layout = this.referenceLayouts.get(key);
    if (!layout) {
      const fields = this.reference!.init(rows, cols) as Record<string, unknown>;
      layout = Object.entries(fields).flatMap(([name, v]) => (v instanceof Float64Array ? [[name, v.length] as [string, number]] : []));
      this.referenceLayouts.set(key, layout);
    }
    return layout;
  }

  /**
   * @internal The float64 reference update, computed on copies; the returned function writes it
   * to param and state (so a batch can fail before anything is written).
   */
  referenceStep(param: MatrixLike, grad: MatrixLike, state: OptimizerState): () => StepResult {
    const w = Float64Array.from(param.data);
    const g = Float64Array.from(grad.data);
    const ref: RefState = { step: state.step, ...cloneFields(state) };
    const before = ref.step;
    this.reference!.step(w, g, param.rows, param.cols, ref);
    if (ref.step === before) return () => SKIPPED;
    return () => {
      param.data.set(w);
      const { step, ...fields } = ref;
      const next = splitReferenceState({ ...state, step }, fields);
      Object.assign(state.arrays, next.arrays);
      Object.assign(state.values, next.values);
      state.step = step;
      return UPDATED;
    };
  }
}

/** The arguments of one native optimizer call, filled by Optimizer.prepare. */
export class NativeBatch {
  readonly arrays: Float32Array[] = [];
  numbers = new Float64Array(256);
  length = 0;

  /** The numbers array, with room for `count` more. */
  reserve(count: number): Float64Array {
    if (this.length + count > this.numbers.length) {
      const grown = new Float64Array(Math.max(2 * this.numbers.length, this.length + count));
      grown.set(this.numbers.subarray(0, this.length));
      this.numbers = grown;
    }
    return this.numbers;
  }
}

function isMatrix(m: MatrixLike): boolean {
  return (
    typeof m === 'object' &&
    m !== null &&
    m.data instanceof Float32Array &&
    Number.isSafeInteger(m.rows) &&
    Number.isSafeInteger(m.cols) &&
    m.rows >= 0 &&
    m.cols >= 0 &&
    m.data.length === m.rows * m.cols
  );
}

// The common case is checked without building any message; the detailed checks below run only
// to explain a failure.
function checkEntry(
  param: MatrixLike,
  grad: MatrixLike,
  state: OptimizerState,
  opt: Optimizer,
  entries: readonly StepEntry[],
  index: number,
): void {
  if (
    isMatrix(param) &&
    isMatrix(grad) &&
    grad.rows === param.rows &&
    grad.cols === param.cols &&
    CHECKED_STATES.get(state) === opt &&
    state.rows === param.rows &&
    state.cols === param.cols &&
    Number.isSafeInteger(state.step) &&
    state.step >= 0
  ) {
    return;
  }
  const at = where(entries, index);
  checkMatrix(param, `${at}: param`);
  checkMatrix(grad, `${at}: grad`);
  if (grad.rows !== param.rows || grad.cols !== param.cols) {
    throw new RangeError(`${at}: grad must be ${param.rows}x${param.cols} like param, got ${grad.rows}x${grad.cols}`);
  }
  checkState(state, opt, param, at);
  CHECKED_STATES.set(state, opt);
}

// States already checked to belong to an optimizer (its rule and backend), so the common case
// of the next steps is a lookup.
const CHECKED_STATES = new WeakMap<OptimizerState, Optimizer>();

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
  const kept = PLANS.get(entries);
  const results = kept?.reuse(entries) ? run(entries, kept) : null;
  if (results) return results;
  const plan = new Plan(entries);
  PLANS.set(entries, plan);
  return run(entries, plan)!;
}

/** The step of a checked plan; null (nothing done) when the addon found its copy out of date. */
function run(entries: readonly StepEntry[], plan: Plan): StepResult[] | null {
  const { batch, planned, nativeIdx, referenceIdx } = plan;
  // Reference updates are computed first and written last, so any failure writes nothing.
  const commits = referenceIdx.map((i: number) => entries[i].optimizer.referenceStep(entries[i].param, entries[i].grad, entries[i].state));
  const results: StepResult[] = new Array(entries.length);
  if (nativeIdx.length) {
    let skipped: number[] | null;
    try {
      skipped =
        plan.handle !== undefined
          ? native.addon.optimizerRun(plan.handle, plan.numbers)
          : native.addon.optimizerStep(batch.arrays, plan.numbers, nativeIdx.length);
    } catch (error) {
      throw renumber(error, entries, nativeIdx);
    }
    if (skipped === null) return null;
    for (let k = 0, s = 0; k < nativeIdx.length; k++) {
      const p = planned[k];
      if (s < skipped.length && skipped[s] === k) {
        results[nativeIdx[k]] = SKIPPED;
        s++;
      } else {
        p.state.step += 1;
        results[nativeIdx[k]] = p.info === undefined ? UPDATED : { skipped: false, rootFailures: p.info[1] };
      }
    }
  }
  referenceIdx.forEach((i, k) => (results[i] = commits[k]()));
  return results;
}

/** What a native entry of a batch was built from, to tell whether the batch still fits. */
interface PlannedEntry {
  entry: StepEntry;
  optimizer: Optimizer;
  param: MatrixLike;
  grad: MatrixLike;
  state: OptimizerState;
  paramData: Float32Array;
  gradData: Float32Array;
  rows: number;
  cols: number;
  /** The state buffers by name, as checked. */
  names: string[];
  buffers: Float32Array[];
  /** Shampoo's counters (one of `buffers`). */
  info: Float32Array | undefined;
  warm: StateArray | undefined;
  scalarOffset: number;
  t: number;
}

/**
 * A checked batch for one entries array. A training loop passes the same array every step;
 * when every entry still refers to the same objects and buffers, the batch is reused and only
 * the step-dependent scalars are rewritten, so a step over many small parameters costs little
 * more than over one large one. Anything else rebuilds it with the full checks.
 *
 * From its first reuse on, the addon keeps its own checked copy of the batch (`handle`, holding
 * references to the arrays): a step passes just the numbers, and the addon re-verifies every
 * array's type, data pointer and length instead of parsing the batch again. A buffer detached
 * or resized meanwhile (which identities alone cannot show) makes it return null, and the batch
 * is checked again from scratch.
 */
class Plan {
  readonly batch = new NativeBatch();
  readonly planned: PlannedEntry[] = [];
  readonly nativeIdx: number[] = [];
  readonly referenceIdx: number[] = [];
  /** The batch's numbers (their layout is fixed once built). */
  readonly numbers: Float64Array;
  handle: StepPlanHandle | undefined;

  constructor(entries: readonly StepEntry[]) {
    const seen = new Set<Float32Array>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!(e?.optimizer instanceof Optimizer)) {
        throw new TypeError(`${where(entries, i)}: optimizer must come from createOptimizer, got ${describe(e?.optimizer)}`);
      }
      const data = e.param?.data;
      if (data instanceof Float32Array) {
        if (seen.has(data)) throw new RangeError(`${where(entries, i)}: the same parameter appears twice in one step`);
        seen.add(data);
      }
      if (e.optimizer.backend === 'native') {
        this.planned.push(e.optimizer.prepare(entries, i, this.batch));
        this.nativeIdx.push(i);
      } else {
        e.optimizer.check(entries, i);
        this.referenceIdx.push(i);
      }
    }
    this.numbers = this.batch.numbers.subarray(0, this.batch.length);
  }

  /**
   * True when entries still refer to the objects and arrays the plan was built from; then the
   * scalars are brought up to date (and the addon's copy made, if there is none yet). Touches
   * as few objects per entry as it can: this runs for every parameter of every step.
   */
  reuse(entries: readonly StepEntry[]): boolean {
    const planned = this.planned;
    if (entries.length !== planned.length || this.referenceIdx.length) return false;
    const numbers = this.numbers;
    for (let k = 0; k < planned.length; k++) {
      const p = planned[k];
      const e = entries[k];
      if (e !== p.entry || e.optimizer !== p.optimizer || e.param !== p.param || e.grad !== p.grad || e.state !== p.state) return false;
      const { param, grad, state, rows, cols } = p;
      if (param.data !== p.paramData || param.rows !== rows || param.cols !== cols) return false;
      if (grad.data !== p.gradData || grad.rows !== rows || grad.cols !== cols) return false;
      const step = state.step;
      const arrays = state.arrays;
      if (!Number.isSafeInteger(step) || step < 0 || arrays.spectralVector !== p.warm) return false;
      const { names, buffers } = p;
      for (let b = 0; b < names.length; b++) if (arrays[names[b]] !== buffers[b]) return false;
      // Writing the scalars before all entries are checked is harmless: a plan that does not
      // fit is dropped.
      const t = step + 1;
      if (t !== p.t) {
        const scalars = p.optimizer.stepScalars(t, rows, cols);
        for (let j = 0; j < scalars.length; j++) numbers[p.scalarOffset + j] = scalars[j];
        p.t = t;
      }
    }
    if (this.handle === undefined && planned.length) {
      try {
        this.handle = native.addon.optimizerPlan(this.batch.arrays, numbers, planned.length);
      } catch {
        return false; // a buffer changed in a way identities do not show: check from scratch
      }
    }
    return true;
  }
}

const PLANS = new WeakMap<readonly StepEntry[], Plan>();

// The native side numbers its entries among the native ones; name the caller's entry instead.
function renumber(error: unknown, entries: readonly StepEntry[], nativeIdx: number[]): unknown {
  const match = error instanceof Error ? /^optimizer step, parameter (\d+): (.*)$/s.exec(error.message) : null;
  if (!match) return error;
  const Kind = (error as Error).constructor as new (message: string) => Error;
  return new Kind(`${where(entries, nativeIdx[Number(match[1])])}: ${match[2]}`);
}

// Error messages name the entry; built only when needed.
function where(entries: readonly StepEntry[], i: number): string {
  const rule = entries[i]?.optimizer?.rule;
  return entries.length === 1 ? `${rule}.step` : `stepMany: entry ${i} (${rule})`;
}

/** An optimizer for rule `name` with the given hyperparameters (defaults: src/optim/defaults.ts). */
export function createOptimizer<R extends RuleName>(name: R, hyper?: Partial<Hyper<R>>, options?: { backend?: Backend }): Optimizer<R> {
  return new Optimizer(name, hyper, options);
}
