// createOptimizer, the per-parameter step and the multi-parameter step. The native backend runs
// every rule as a fused loop (native/rules/); the reference backend runs the float64 formulas of
// src/reference/optim. Both keep their state in an OptimizerState, saved and loaded alike.
import { native, type StepPlanHandle } from '../native.js';
import { referenceOptimizer, type RefOptimizer, type RefState } from '../reference/optim/index.js';
import { checkMatrix, checkNumber, checkOptions, describe, named, readOptions, type MatrixLike } from '../validate.js';
import { RULES, type RuleName } from './defaults.js';
import { hyperAt, resolveHyper, scheduledValues, spectralOptions, type Hyper, type HyperInput, type ScheduledValue } from './hyper.js';
import { isData, schedules, type BuiltinSchedule, type ScheduleSpec } from '../schedules.js';
import type { BufferSpec, RuleSpec } from './rule.js';
import { RULE_SPECS } from './rules/index.js';
import { anyInFlight, checkFree, claim, release } from './inflight.js';
import { checkStateValues, stateFail, type OptimizerState, type StateArray } from './state.js';
import { runAsync } from '../async.js';
import { normPart } from '../clip.js';
import { inEvalMode, interpolationBeta, isScheduleFree, lerpf } from './scheduleFree.js';
import { scheduleFreeMode } from '../reference/optim/scheduleFree.js';

/** Where an optimizer computes: 'native' (the float32 addon, the default) or 'reference' (the float64 TypeScript formulas, for cross-checks). */
export type Backend = 'native' | 'reference';

/** What one entry's step did. */
export interface StepResult {
  /** True when the gradient held NaN/Infinity and `nonFinite: 'skip'` left everything as it was. */
  skipped: boolean;
  /** Shampoo and SOAP: root or eigenbasis computations that failed so far (each kept the previous one). */
  rootFailures?: number;
}

/**
 * What stepMany returns: one StepResult per entry, in order. With `maxGradNorm`, also the total
 * gradient norm before clipping and whether the gradients were scaled.
 */
export type StepResults = StepResult[] & {
  /** With maxGradNorm: the total norm of the stepped entries' gradients, before clipping. */
  gradNorm?: number;
  /** With maxGradNorm: true when the gradients were scaled (by maxGradNorm / (gradNorm + 1e-6) < 1). */
  clipped?: boolean;
};

/** Options of stepMany and stepManyAsync. */
export interface StepManyOptions {
  /**
   * Clip the gradients of all entries together by their total norm before the step, as
   * torch.nn.utils.clip_grad_norm_ followed by the step would (factor min(1, maxGradNorm /
   * (total + 1e-6))); fused into the step: the norm is summed in float64 by the same pass that
   * scans for NaN, the factor applied as each rule reads the gradient, and the caller's gradient
   * arrays are not changed. Entries skipped for a non-finite gradient (nonFinite: 'skip') count
   * for nothing.
   */
  maxGradNorm?: number;
  /** The norm for maxGradNorm: 2 (default) or Infinity (the largest |g|). */
  normType?: number;
}

/** Checked stepMany options: the native clip argument [mode, maxNorm] (mode 1: 2-norm, 2: max-norm), or undefined. */
function clipOf(options: unknown, fn: string): Float64Array | undefined {
  const [maxGradNorm, normType] = readOptions(options, ['maxGradNorm', 'normType'], `${fn}: options`);
  if (maxGradNorm === undefined) {
    if (normType !== undefined) throw new TypeError(`${fn}: options.normType needs options.maxGradNorm`);
    return undefined;
  }
  if (!(checkNumber(maxGradNorm, `${fn}: options.maxGradNorm`) > 0)) {
    throw new RangeError(`${fn}: options.maxGradNorm must be > 0, got ${maxGradNorm}`);
  }
  const p = normType ?? 2;
  if (p !== 2 && p !== Infinity) throw new RangeError(`${fn}: options.normType must be 2 or Infinity, got ${describe(p)}`);
  return Float64Array.of(p === 2 ? 1 : 2, maxGradNorm as number);
}

const UPDATED: StepResult = Object.freeze({ skipped: false });
const SKIPPED: StepResult = Object.freeze({ skipped: true });

const KERNEL_IDS: Record<string, number> = Object.fromEntries(
  (native.addon.optimizerRules() as string[]).map((name, id) => [name, id]),
);

/** What `optimizer.config()` gives and `optimizerFromConfig` takes: plain JSON data. */
export interface OptimizerConfig {
  /** The rule's name. */
  rule: RuleName;
  /** Where it computes. */
  backend: Backend;
  /** Every hyperparameter; a built-in schedule as `{ schedule: its spec }`. */
  hyper: Record<string, unknown>;
}

/**
 * An optimizer: a rule with its hyperparameters, stepping any number of parameters, each with
 * its own state (`init`). Made by createOptimizer or optimizerFromConfig.
 */
export class Optimizer<R extends RuleName = RuleName> {
  /** The rule's name ('adamw', 'muon', ...). */
  readonly rule: R;
  /** Where it computes. */
  readonly backend: Backend;
  private readonly spec: RuleSpec<RuleName>;
  /** The hyperparameters as given: typed as numbers, but the scheduled ones hold their schedules. */
  private given: Hyper<R>;
  private scheduled: ScheduledValue[];
  private reference?: RefOptimizer;
  /** @internal Counts setHyper calls: a kept stepMany batch made before one is checked again from scratch. */
  version = 0;
  // Fixed by the hyperparameters (setHyper refuses to change them), read on every step.
  private readonly kernelId: number;
  private readonly spectral: ReturnType<typeof spectralOptions>;
  private readonly spectralDecay: boolean;
  /** Native: the state keeps the spectral warm start ('spectralVector'). */
  private readonly warmStart: boolean;
  private readonly layouts = new Map<number, BufferSpec[]>();

  /**
   * The hyperparameters as given (defaults filled in): numbers, options, and the schedules of
   * scheduled ones. `hyperAt(count)` gives the numbers an update uses.
   */
  get hyper(): Readonly<HyperInput<R>> {
    return this.given as unknown as HyperInput<R>;
  }

  constructor(rule: R, hyper?: Partial<HyperInput<R>>, options?: { backend?: Backend }) {
    if (typeof rule !== 'string' || !(RULES as string[]).includes(rule)) {
      throw new TypeError(`createOptimizer: unknown rule ${describe(rule)} (known: ${RULES.join(', ')})`);
    }
    const backend = checkOptions<{ backend: Backend }>(options, ['backend'], 'createOptimizer: options').backend ?? 'native';
    if (backend !== 'native' && backend !== 'reference') {
      throw new TypeError(`createOptimizer: options.backend must be 'native' | 'reference', got ${describe(backend)}`);
    }
    this.rule = rule;
    try {
      this.given = resolveHyper(rule, hyper) as unknown as Hyper<R>;
      if (backend === 'reference') this.reference = referenceOptimizer(rule, this.given as unknown as Record<string, unknown>);
    } catch (error) {
      // resolveHyper's, the rule's and the reference's messages start with the rule's name.
      throw prefixed(error, 'createOptimizer');
    }
    this.scheduled = scheduledValues(this.given);
    this.backend = backend;
    this.spec = RULE_SPECS[rule] as RuleSpec<RuleName>;
    this.kernelId = KERNEL_IDS[this.spec.kernelOf?.(this.given as never) ?? this.spec.kernel];
    [this.spectral, this.spectralDecay, this.warmStart] = this.structure(this.given);
  }

  /**
   * What the hyperparameters fix for the whole run: the spectral options, whether the spectral
   * decay runs, whether the state keeps a warm start. (A scheduled weightDecay counts as nonzero.)
   */
  private structure(h: Hyper<R>): [ReturnType<typeof spectralOptions>, boolean, boolean] {
    const spectral = spectralOptions(h);
    const spectralDecay = spectral.weightDecayNorm === 'spectral' && this.spec.decoupledDecay(h as never);
    return [spectral, spectralDecay, spectral.spectralWarmStart && (spectralDecay || h.spectralPenalty > 0)];
  }

  private lastHyper?: { count: number; hyper: Hyper<R> };

  /**
   * The numeric hyperparameters of an update at `count` (the state's step before it: 0 on the
   * first update), every schedule evaluated; for logging the learning rate, say. Each schedule is
   * called once per count an update uses (the last count's values are kept), and its values are
   * checked as createOptimizer checks numbers: a bad one is a RangeError before anything is written.
   */
  hyperAt(count: number): Readonly<Hyper<R>> {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`${this.rule}.hyperAt: count must be a non-negative integer, got ${describe(count)}`);
    }
    try {
      return this.resolvedAt(count);
    } catch (error) {
      throw prefixed(error, `${this.rule}.hyperAt`, this.rule);
    }
  }

  private resolvedAt(count: number): Hyper<R> {
    if (this.scheduled.length === 0) return this.given;
    const last = this.lastHyper;
    if (last !== undefined && last.count === count) return last.hyper;
    const hyper = hyperAt(this.rule, this.given as unknown as HyperInput<R>, this.scheduled, count);
    this.lastHyper = { count, hyper };
    return hyper;
  }

  /**
   * Changes hyperparameters from the next update on (numbers or schedules), checked exactly as
   * createOptimizer checks them. A change that would alter the state's arrays or the spectral
   * set-up (sgd's momentum from 0, galore-adamw's rank, adam-mini's blocks, shampoo's
   * maxPreconditionerDim, amsgrad, weightDecayNorm, ...) is refused, naming it: it needs a new
   * optimizer and states. States keep their step counts: a schedule given here is read at them.
   */
  setHyper(changes: Partial<HyperInput<R>>): void {
    const at = `${this.rule}.setHyper`;
    if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
      throw new TypeError(`${at}: changes must be an object of hyperparameters, got ${describe(changes)}`);
    }
    let given: Record<string, unknown>;
    try {
      given = { ...changes };
    } catch (error) {
      throw new TypeError(`${at}: changes could not be read (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    let next: Hyper<R>;
    let reference: RefOptimizer | undefined;
    try {
      next = resolveHyper(this.rule, { ...this.given, ...given }) as unknown as Hyper<R>;
      if (this.backend === 'reference') reference = referenceOptimizer(this.rule, next as unknown as Record<string, unknown>);
    } catch (error) {
      throw prefixed(error, at, this.rule);
    }
    const why = this.layoutChange(next, reference);
    if (why !== null) {
      const changed = Object.keys(given).filter((k) => given[k] !== undefined && !sameValue(given[k], (this.given as Record<string, unknown>)[k]));
      throw new RangeError(`${at}: ${changed.join(', ')} cannot change during training (${why}); make a new optimizer and states for it`);
    }
    this.given = next;
    this.scheduled = scheduledValues(next);
    if (reference) this.reference = reference;
    this.lastHyper = undefined;
    this.lastScalars = undefined;
    this.version++;
  }

  /** Why `next` would change the state's arrays (for a shape seen so far or any probe shape), or null. */
  private layoutChange(next: Hyper<R>, reference: RefOptimizer | undefined): string | null {
    const [spectral, spectralDecay, warmStart] = this.structure(next);
    const kernel = (h: Hyper<R>) => this.spec.kernelOf?.(h as never) ?? this.spec.kernel;
    if (kernel(next) !== kernel(this.given)) return 'it would change the native rule';
    if (spectralDecay !== this.spectralDecay) return `it would ${spectralDecay ? 'start' : 'stop'} the spectral weight decay`;
    if (warmStart !== this.warmStart) return `it would ${warmStart ? 'add' : 'drop'} the spectral warm-start vector`;
    if (spectral.weightDecayNorm !== this.spectral.weightDecayNorm) return 'it would change the weight decay norm';
    const shapes = new Set<number>(this.layouts.keys());
    for (const r of PROBE_SIDES) for (const c of PROBE_SIDES) shapes.add(r * 4294967296 + c);
    const arrays = (layout: readonly (readonly [string, number, ...unknown[]])[]): string =>
      layout.map(([name, length]) => `${name} (${length})`).join(', ') || 'no arrays';
    const native = (h: Hyper<R>, rows: number, cols: number): string => {
      try {
        return arrays(this.spec.buffers(h as never, rows, cols));
      } catch (error) {
        return `none (${error instanceof Error ? error.message : String(error)})`;
      }
    };
    for (const key of shapes) {
      const rows = Math.floor(key / 4294967296), cols = key % 4294967296;
      const before = native(this.given, rows, cols), after = native(next, rows, cols);
      if (before !== after) return `a ${rows}x${cols} parameter's state would hold ${after} instead of ${before}`;
      if (reference && this.layouts.has(key)) {
        const a = arrays(this.referenceLayout(rows, cols));
        const b = arrays(arrayLengths(reference.init(rows, cols) as Record<string, unknown>));
        if (a !== b) return `a ${rows}x${cols} parameter's reference state would hold ${b} instead of ${a}`;
      }
    }
    return null;
  }

  /**
   * The optimizer as JSON data (rule, backend, every hyperparameter; built-in schedules by their
   * spec), for checkpoints: `optimizerFromConfig(opt.config())` makes an optimizer whose updates
   * are bit-identical. A schedule that is a function of the user's is not data: a TypeError.
   */
  config(): OptimizerConfig {
    const encode = (name: string, v: unknown): unknown => {
      if (typeof v !== 'function') return v;
      if (!isData(v as BuiltinSchedule)) {
        throw new TypeError(`${this.rule}.config: ${name} is a schedule function of the user's, which cannot be saved as data; use a built-in schedule (schedules.*) or record it yourself`);
      }
      return { schedule: (v as BuiltinSchedule).spec };
    };
    const hyper: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.given)) {
      hyper[key] = Array.isArray(value) ? value.map((v, i) => encode(`${key}[${i}]`, v)) : encode(key, value);
    }
    return JSON.parse(JSON.stringify({ rule: this.rule, backend: this.backend, hyper })) as OptimizerConfig;
  }

  /** The state buffers for a rows x cols parameter (cached: the same shapes come every step). */
  private layout(rows: number, cols: number): BufferSpec[] {
    const key = rows * 4294967296 + cols;
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.spec.buffers(this.given as never, rows, cols);
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** A fresh state for `param` (zero moments, step 0); on shared memory when `param.data` is (Matrix.shared). */
  init(param: MatrixLike): OptimizerState {
    checkMatrix(param, `${this.rule}.init: param`);
    const { rows, cols } = param;
    if (rows * cols === 0) throw new RangeError(`${this.rule}.init: param is ${rows}x${cols}: nothing to optimize`);
    this.checkShape(rows, cols, `${this.rule}.init`);
    const base = { rule: this.rule, backend: this.backend, rows, cols, step: 0 };
    if (this.reference) {
      const { step: _, ...fields } = this.reference.init(rows, cols);
      return splitReferenceState(base, fields);
    }
    // An ordinary object, not Object.create(null): V8 keeps that one in dictionary mode, and the
    // name lookups of every stepMany entry and step cost half as much again. Prototype names
    // cannot get in: loadState and saveState accept only the rule's declared names.
    // A parameter on shared memory gets its state there too (stepManyAsync then copies nothing).
    const shared = param.data.buffer instanceof SharedArrayBuffer;
    const floats = (length: number) => (shared ? new Float32Array(new SharedArrayBuffer(length * 4)) : new Float32Array(length));
    const arrays: Record<string, StateArray> = {};
    for (const [name, length, fill] of this.layout(rows, cols)) {
      arrays[name] = floats(length).fill(fill);
    }
    if (this.warmStart) arrays.spectralVector = floats(Math.min(rows, cols));
    // One literal (not a spread of base): every field then sits in the object itself, one
    // cache line fewer for stepMany to touch per parameter and step.
    return { rule: this.rule, backend: this.backend, rows, cols, step: 0, arrays, values: {} };
  }

  /** The rule's shape checks (adam-mini's row groups), with messages starting with `at`. */
  private checkShape(rows: number, cols: number, at: string): void {
    try {
      this.spec.checkShape?.(this.given as never, rows, cols);
    } catch (error) {
      throw prefixed(error, at, this.rule);
    }
  }

  /**
   * @internal The first step of a state with this optimizer (checkState): its arrays must be
   * exactly the ones this optimizer keeps for the shape (none missing, none extra; their types
   * and lengths are checked whenever a batch is built), its values the reference's scalars.
   */
  checkStateLayout(state: OptimizerState, at: string): void {
    const { rows, cols } = state;
    this.checkShape(rows, cols, at);
    const arrays = state.arrays;
    let names: string[];
    let optional: string | undefined;
    if (this.reference) {
      names = this.referenceLayout(rows, cols).map(([name]) => name);
      // The reference stores its last v₁ whenever it computes rank1(W).
      if (this.reference.usesRank1 !== false) optional = 'spectralVec';
    } else {
      names = this.layout(rows, cols).map(([name]) => name);
      if (this.warmStart) names.push('spectralVector');
    }
    const keeps = `${this.rule} (${this.backend}) with these hyperparameters keeps ${[...names, ...(optional ? [`${optional} (optional)`] : [])].join(', ') || 'no arrays'}`;
    for (const name of Object.keys(arrays)) {
      if (!names.includes(name) && name !== optional) {
        throw new RangeError(`${at}: state.arrays.${name} is not an array this optimizer uses (${keeps}); was the state made with other hyperparameters?`);
      }
    }
    for (const name of names) {
      if (!Object.hasOwn(arrays, name)) {
        throw new RangeError(`${at}: state.arrays lacks '${name}' (${keeps}); was the state made with other hyperparameters?`);
      }
    }
    if (optional !== undefined && Object.hasOwn(arrays, optional)) {
      const a = arrays[optional];
      if (!(a instanceof Float64Array) || a.length !== Math.min(rows, cols)) {
        throw new RangeError(`${at}: state buffer '${optional}' must be a Float64Array of ${Math.min(rows, cols)}, got ${describeArray(a)}`);
      }
    }
    checkStateValues(stateFail(at), 'state', this.rule, this.backend, state.values);
  }

  /**
   * Schedule-free rules: puts the parameter in eval mode, as the reference's `optimizer.eval()`:
   * `param` then holds x (the weighted average: the point to evaluate, and to keep) instead of y.
   * Nothing happens when the state is in eval mode already; before the first update only the mode
   * changes. A state in eval mode cannot step (a RangeError) until {@link Optimizer.train}. For the
   * entries of a stepMany call, `evalMode(entries)`. A TypeError for the other rules.
   */
  eval(param: MatrixLike, state: OptimizerState): void {
    const at = `${this.rule}.eval`;
    try {
      switchModes([{ optimizer: this as Optimizer, param, state }], true, at, true);
    } catch (error) {
      throw named(error, at);
    }
  }

  /** Schedule-free rules: back to train mode (`param` holds y again), as the reference's `optimizer.train()`; see {@link Optimizer.eval}. */
  train(param: MatrixLike, state: OptimizerState): void {
    const at = `${this.rule}.train`;
    try {
      switchModes([{ optimizer: this as Optimizer, param, state }], false, at, true);
    } catch (error) {
      throw named(error, at);
    }
  }

  /** Schedule-free rules: the mode of a state of this optimizer ('train' after init). */
  mode(state: OptimizerState): 'train' | 'eval' {
    const at = `${this.rule}.mode`;
    if (!isScheduleFree(this.rule)) throw new TypeError(`${at}: ${this.rule} has no train and eval modes (schedule-free-adamw and schedule-free-sgd have)`);
    try {
      if (typeof state !== 'object' || state === null || state.rule !== this.rule || state.backend !== this.backend) {
        throw new TypeError(`${at}: state must be a ${this.rule} (${this.backend}) state, got ${describe(state)}`);
      }
      this.checkModeArrays(state, at);
      return inEvalMode(state) ? 'eval' : 'train';
    } catch (error) {
      throw named(error, at);
    }
  }

  /** The arrays eval() and train() read and write, checked (their names by checkStateLayout). */
  private checkModeArrays(state: OptimizerState, at: string): void {
    const n = state.rows * state.cols;
    const need: [string, number][] = this.backend === 'native' ? [['z', n], ['group', 5]] : [['z', n], ['x', n]];
    const Type = this.backend === 'native' ? Float32Array : Float64Array;
    for (const [name, length] of need) {
      const a = state.arrays?.[name];
      if (!(a instanceof Type) || a.length !== length) {
        throw new RangeError(`${at}: state buffer '${name}' must be a ${Type.name} of ${length}, got ${describeArray(a)}`);
      }
    }
    if (this.backend === 'reference' && typeof state.values?.evalMode !== 'boolean') {
      throw new TypeError(`${at}: state.values.evalMode must be a boolean, got ${describe(state.values?.evalMode)}`);
    }
  }

  /** @internal Checks a mode switch of (param, state) and returns the function that makes it. */
  modeSwitch(param: MatrixLike, state: OptimizerState, toEval: boolean, at: string): () => void {
    checkMatrix(param, `${at}: param`);
    checkState(state, this as Optimizer, param, at);
    this.checkModeArrays(state, at);
    // (A state whose z or x lies on the parameter's memory is refused, as a step refuses it.)
    for (const name of ['z', 'x', 'group']) {
      const a = state.arrays[name];
      if (a !== undefined && a.buffer === param.data.buffer && a.byteOffset < param.data.byteOffset + param.data.byteLength && param.data.byteOffset < a.byteOffset + a.byteLength) {
        throw new RangeError(`${at}: state buffer '${name}' overlaps the parameter's memory`);
      }
    }
    const beta = interpolationBeta(this.rule, this.given as unknown as Record<string, unknown>);
    if (inEvalMode(state) === toEval) return () => {};
    if (this.backend === 'native') {
      return () => {
        if (state.step > 0) {
          // torch: p.lerp_(z, weight) with the weight a Python float, rounded to float32.
          const w = Math.fround(toEval ? 1 - 1 / beta : 1 - beta);
          const p = param.data;
          const z = state.arrays.z;
          for (let i = 0; i < p.length; i++) p[i] = lerpf(p[i], z[i], w);
        }
        state.arrays.group[4] = toEval ? 1 : 0;
      };
    }
    return () => {
      const next = scheduleFreeMode({ step: state.step, ...state.arrays }, beta, toEval, param.data.length);
      if (next !== null) param.data.set(next);
      state.values.evalMode = toEval;
    };
  }

  /** One update of `param.data` in place from `grad`. See `stepMany` for many parameters at once. */
  step(param: MatrixLike, grad: MatrixLike, state: OptimizerState): StepResult {
    const entries = [{ optimizer: this as Optimizer, param, grad, state }];
    stepEntries = entries;
    try {
      return run(entries, new Plan(entries))![0];
    } catch (error) {
      throw named(error, `${this.rule}.step`);
    } finally {
      stepEntries = null;
    }
  }

  /**
   * @internal Checks one entry (nothing is written) and appends what the native step needs to the
   * batch: its arrays [param, grad, ...state buffers, warm start?] and its numbers [rule, rows,
   * cols, penalty, spectralDecay, spectralIters, hasWarm, skipNonFinite, bufferCount,
   * scalarCount, ...scalars]. A grouped rule's scalars end with `group`: the index among the
   * batch's native entries of this optimizer's first entry (RuleSpec.grouped).
   */
  prepare(entries: readonly StepEntry[], index: number, batch: NativeBatch, group: number): PlannedEntry {
    const entry = entries[index];
    const { param, grad, state } = entry;
    checkEntry(param, grad, state, this, entries, index);
    const { rows, cols } = param;
    const layout = this.layout(rows, cols);
    const arrays = stateArrays(state, entries, index);
    batch.arrays.push(param.data, grad.data);
    const names: string[] = [];
    const buffers: Float32Array[] = [];
    for (let b = 0; b < layout.length; b++) {
      const name = layout[b][0];
      const length = layout[b][1];
      const a = arrays[name];
      if (!(a instanceof Float32Array) || a.length !== length) {
        throw new RangeError(`${where(entries, index)}: state buffer '${name}' must be a Float32Array of ${length}, got ${describeArray(a)}`);
      }
      batch.arrays.push(a);
      names.push(name);
      buffers.push(a);
    }
    const warm = arrays.spectralVector;
    if (warm !== undefined) {
      if (!(warm instanceof Float32Array) || warm.length !== Math.min(rows, cols)) {
        throw new RangeError(`${where(entries, index)}: state buffer 'spectralVector' must be a Float32Array of ${Math.min(rows, cols)}, got ${describeArray(warm)}`);
      }
      batch.arrays.push(warm);
    }
    let scalars: number[];
    try {
      scalars = this.scalars(state.step + 1, rows, cols);
    } catch (error) {
      throw prefixed(error, where(entries, index), this.rule); // a schedule's value
    }
    const grouped = this.spec.grouped === true;
    const out = batch.reserve(11 + scalars.length);
    let at = batch.length;
    out[at++] = this.kernelId;
    out[at++] = rows;
    out[at++] = cols;
    out[at++] = this.given.spectralPenalty;
    out[at++] = this.spectralDecay ? 1 : 0;
    out[at++] = this.spectral.spectralIters;
    out[at++] = warm !== undefined ? 1 : 0;
    out[at++] = this.given.nonFinite === 'skip' ? 1 : 0;
    out[at++] = layout.length;
    out[at++] = scalars.length + (grouped ? 1 : 0);
    const scalarOffset = at;
    for (let k = 0; k < scalars.length; k++) out[at++] = scalars[k];
    // After the step's scalars, which a kept batch rewrites (Plan.matches): the group stays.
    if (grouped) out[at++] = group;
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
      info: arrays.info as Float32Array | undefined,
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
    const values = this.spec.scalars(this.resolvedAt(t - 1) as never, t, rows, cols);
    this.lastScalars = { t, rows, cols, values };
    return values;
  }

  /** @internal Checks one entry for the reference backend: shapes, state buffers, gradient. */
  check(entries: readonly StepEntry[], index: number): void {
    const { param, grad, state } = entries[index];
    checkEntry(param, grad, state, this, entries, index);
    const arrays = stateArrays(state, entries, index);
    for (const [name, length] of this.referenceLayout(param.rows, param.cols)) {
      const a = arrays[name];
      if (!(a instanceof Float64Array) || a.length !== length) {
        throw new RangeError(`${where(entries, index)}: state buffer '${name}' must be a Float64Array of ${length}, got ${describeArray(a)}`);
      }
    }
    // The values this update uses, checked now: a schedule's bad value fails before any write.
    try {
      this.resolvedAt(state.step);
    } catch (error) {
      throw prefixed(error, where(entries, index), this.rule);
    }
    if (this.given.nonFinite === 'throw' && !grad.data.every(Number.isFinite)) {
      throw new RangeError(`${where(entries, index)}: the gradient contains NaN or Infinity; nothing was changed`);
    }
  }

  private readonly referenceLayouts = new Map<number, [string, number][]>();

  /** The reference state's arrays for a rows x cols parameter, as its init makes them. */
  private referenceLayout(rows: number, cols: number): [string, number][] {
    const key = rows * 4294967296 + cols;
    let layout = this.referenceLayouts.get(key);
    if (!layout) {
      layout = arrayLengths(this.reference!.init(rows, cols) as Record<string, unknown>);
      this.referenceLayouts.set(key, layout);
    }
    return layout;
  }

  /**
   * @internal The float64 reference update, computed on copies; the returned function writes it
   * to param and state (so a batch can fail before anything is written).
   */
  referenceStep(param: MatrixLike, grad: MatrixLike, state: OptimizerState, scale = 1): () => StepResult {
    const w = Float64Array.from(param.data);
    const g = Float64Array.from(grad.data);
    // The clipped gradient as clipGradNorm leaves it: float32 products.
    if (scale !== 1) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] * scale);
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

  /** @internal The reference steps this optimizer's entries as one group (prodigy's sums over a param group). */
  get groupedReference(): boolean {
    return this.reference?.grouped === true;
  }

  /**
   * @internal referenceStep for the entries this optimizer steps in one call, as one group
   * (RefOptimizer.stepGroup): one write function per entry. An entry skipped for a non-finite
   * gradient keeps its arrays and step count; it gets the group's new values. An error thrown
   * for one entry carries its index among `entries` as `item`.
   */
  referenceStepGroup(entries: readonly { param: MatrixLike; grad: MatrixLike; state: OptimizerState }[], scale = 1): (() => StepResult)[] {
    const items = entries.map(({ param, grad, state }) => {
      const g = Float64Array.from(grad.data);
      if (scale !== 1) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] * scale);
      const ref: RefState = { step: state.step, ...cloneFields(state) };
      return { w: Float64Array.from(param.data), g, rows: param.rows, cols: param.cols, state: ref };
    });
    this.reference!.stepGroup(items);
    return items.map((item, k) => () => {
      const { param, state } = entries[k];
      const { step, ...fields } = item.state;
      const next = splitReferenceState({ ...state, step }, fields);
      Object.assign(state.values, next.values);
      if (step === state.step) return SKIPPED;
      param.data.set(item.w);
      Object.assign(state.arrays, next.arrays);
      state.step = step;
      return UPDATED;
    });
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

// Once per state and optimizer (then CHECKED_STATES remembers it); the step's own checks of the
// buffers' types and lengths run whenever a batch is built.
function checkState(state: OptimizerState, opt: Optimizer, param: MatrixLike, where: string): void {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new TypeError(`${where}: state must be an optimizer state from init() or loadState(), got ${describe(state)}`);
  }
  if (state.rule !== opt.rule || state.backend !== opt.backend) {
    const rule = typeof state.rule === 'string' ? state.rule : describe(state.rule);
    throw new TypeError(`${where}: state belongs to ${rule} (${String(state.backend)}), not ${opt.rule} (${opt.backend})`);
  }
  if (state.rows !== param.rows || state.cols !== param.cols) {
    throw new RangeError(`${where}: state is for a ${state.rows}x${state.cols} parameter, param is ${param.rows}x${param.cols}`);
  }
  checkStep(state.step, where);
  const arrays = state.arrays;
  if (typeof arrays !== 'object' || arrays === null || Array.isArray(arrays)) {
    throw new TypeError(`${where}: state.arrays must be an object of the state's buffers by name, got ${describe(arrays)}`);
  }
  opt.checkStateLayout(state, where);
}

function checkStep(step: unknown, where: string): void {
  if (typeof step !== 'number') throw new TypeError(`${where}: state.step must be a non-negative integer, got ${describe(step)}`);
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`${where}: state.step must be a non-negative integer, got ${step}`);
}

/** state.arrays, which may have been replaced since the state was checked. */
function stateArrays(state: OptimizerState, entries: readonly StepEntry[], index: number): Record<string, StateArray> {
  const arrays = state.arrays;
  if (typeof arrays !== 'object' || arrays === null) {
    throw new TypeError(`${where(entries, index)}: state.arrays must be an object of the state's buffers by name, got ${describe(arrays)}`);
  }
  return arrays;
}

/** A state buffer for a message: its type and length, and a hint when it lost its memory. */
function describeArray(a: unknown): string {
  if (!ArrayBuffer.isView(a) || a instanceof DataView) return describe(a);
  const t = a as Float32Array;
  const detached = t.length === 0 && t.buffer.byteLength === 0 ? ' (its ArrayBuffer is detached?)' : '';
  return `a ${t.constructor.name} of ${t.length}${detached}`;
}

/**
 * A TypeError or RangeError (of a rule's check, or the reference's step) again with a message
 * starting with `at`; with `rule`, the rule's own "rule: " prefix is dropped (`at` names it).
 */
function prefixed(error: unknown, at: string, rule?: string): unknown {
  if (!(error instanceof TypeError || error instanceof RangeError)) return error;
  const message = rule !== undefined && error.message.startsWith(`${rule}: `) ? error.message.slice(rule.length + 2) : error.message;
  const Kind = error instanceof TypeError ? TypeError : RangeError;
  return new Kind(`${at}: ${message}`, { cause: error });
}

/** One parameter of a stepMany call: its optimizer, the parameter (updated in place), its gradient, its state. */
export interface StepEntry {
  /** The optimizer (rule and hyperparameters) this parameter is stepped with. */
  optimizer: Optimizer;
  /** Updated in place. */
  param: MatrixLike;
  /** The gradient, of param's shape; never written. */
  grad: MatrixLike;
  /** What `optimizer.init(param)` or loadState made for this parameter. */
  state: OptimizerState;
}

/**
 * Updates many parameters, each with its own optimizer (rule and hyperparameters), in one native
 * call. Every entry is checked, and every gradient scanned for NaN/Infinity, before anything is
 * written: a failure leaves all parameters and states as they were.
 */
export function stepMany(entries: readonly StepEntry[], options?: StepManyOptions): StepResults {
  try {
    const clip = clipOf(options, 'stepMany');
    return stepEntriesOf(entries, clip);
  } catch (error) {
    throw named(error, 'stepMany');
  }
}

function stepEntriesOf(entries: readonly StepEntry[], clip: Float64Array | undefined): StepResults {
  if (!Array.isArray(entries)) throw new TypeError(`stepMany: entries must be an array, got ${describe(entries)}`);
  const kept = PLANS.get(entries);
  let reusable = false;
  try {
    reusable = kept?.reuse(entries) === true;
  } catch {
    // Something the plan reads was replaced by what is not an object (state.arrays = null, say):
    // the checks of a new plan say what.
  }
  const results = reusable ? run(entries, kept!, clip) : null;
  if (results) return results;
  const plan = new Plan(entries);
  PLANS.set(entries, plan);
  return run(entries, plan, clip)!;
}

/**
 * The clipping factor of a batch with reference entries, computed here (the addon sees only the
 * native ones): the norm over every entry that will be stepped, in float64, as clipGradNorm.
 */
function clipFactor(entries: readonly StepEntry[], clip: Float64Array): { norm: number; scale: number } {
  const inf = clip[0] === 2;
  let total = 0;
  for (const e of entries) {
    const part = normPart(e.grad.data, inf ? Infinity : 2);
    // A non-finite gradient reaching here belongs to an entry that skips (the others threw).
    if (Number.isFinite(part)) total = inf ? Math.max(total, part) : total + part;
  }
  const norm = inf ? total : Math.sqrt(total);
  const factor = clip[1] / (norm + 1e-6);
  return { norm, scale: factor < 1 ? Math.fround(factor) : 1 };
}

/** The step of a checked plan; null (nothing done) when the addon found its copy out of date. */
function run(entries: readonly StepEntry[], plan: Plan, clip?: Float64Array): StepResults | null {
  const { batch, nativeIdx, referenceIdx } = plan;
  if (anyInFlight()) checkNotInFlight(entries);
  // With reference entries the clipping factor is found here and given to the addon.
  let clipped: { norm: number; scale: number } | undefined;
  let nativeClip = clip;
  if (clip !== undefined && referenceIdx.length) {
    clipped = clipFactor(entries, clip);
    nativeClip = Float64Array.of(3, clipped.scale);
  }
  // Reference updates are computed first and written last, so any failure writes nothing. A
  // grouped rule's entries are stepped together, per optimizer (RefOptimizer.stepGroup).
  let groups: Map<Optimizer, number[]> | undefined;
  const commits = referenceIdx.map((i: number, k: number) => {
    const e = entries[i];
    if (e.optimizer.groupedReference) {
      groups ??= new Map();
      const members = groups.get(e.optimizer);
      if (members) members.push(k);
      else groups.set(e.optimizer, [k]);
      return undefined;
    }
    try {
      return e.optimizer.referenceStep(e.param, e.grad, e.state, clipped?.scale);
    } catch (error) {
      throw prefixed(error, where(entries, i), e.optimizer.rule);
    }
  });
  if (groups) {
    for (const [optimizer, members] of groups) {
      let written: (() => StepResult)[];
      try {
        written = optimizer.referenceStepGroup(members.map((k) => entries[referenceIdx[k]]), clipped?.scale);
      } catch (error) {
        const item = (error as { item?: unknown }).item;
        throw prefixed(error, where(entries, referenceIdx[members[typeof item === 'number' ? item : 0]]), optimizer.rule);
      }
      members.forEach((k, j) => (commits[k] = written[j]));
    }
  }
  const results: StepResults = new Array(entries.length);
  if (nativeIdx.length) {
    let outcome: number[] | { skipped: number[]; gradNorm: number; scale: number } | null;
    try {
      outcome =
        plan.handle !== undefined
          ? native.addon.optimizerRun(plan.handle, plan.numbers, nativeClip)
          : native.addon.optimizerStep(batch.arrays, plan.numbers, nativeIdx.length, nativeClip);
    } catch (error) {
      throw renumber(error, entries, nativeIdx);
    }
    if (outcome === null) return null;
    let skipped: number[];
    if (Array.isArray(outcome)) skipped = outcome;
    else {
      skipped = outcome.skipped;
      clipped ??= { norm: outcome.gradNorm, scale: outcome.scale };
    }
    nativeResults(plan, skipped, results);
  }
  referenceIdx.forEach((i, k) => (results[i] = commits[k]!()));
  if (clip !== undefined) {
    clipped ??= clipFactor(entries, clip); // reference entries only
    results.gradNorm = clipped.norm;
    results.clipped = clipped.scale !== 1;
  }
  return results;
}

/** The native entries' results after the addon's step (`skipped`: their indices among them); counts the updated states' steps. */
function nativeResults(plan: Plan, skipped: readonly number[], results: StepResult[]): void {
  const { nativeIdx, states, infos } = plan;
  for (let k = 0, s = 0; k < nativeIdx.length; k++) {
    if (s < skipped.length && skipped[s] === k) {
      results[nativeIdx[k]] = SKIPPED;
      s++;
    } else {
      states[k].step += 1;
      const info = infos[k];
      results[nativeIdx[k]] = info === undefined ? UPDATED : { skipped: false, rootFailures: info[1] };
    }
  }
}

/** Refuses entries whose memory or state a stepManyAsync call in flight is using. */
function checkNotInFlight(entries: readonly StepEntry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const { param, grad, state } = entries[i];
    const names = ['param', 'grad'];
    const arrays: ArrayBufferView[] = [param.data, grad.data];
    for (const [name, a] of Object.entries(state.arrays)) {
      if (ArrayBuffer.isView(a)) {
        arrays.push(a);
        names.push(`state buffer '${name}'`);
      }
    }
    checkFree(arrays, names, state, where(entries, i));
  }
}

/** What evalMode and trainMode take: stepMany's entries (their gradients are not read). */
export type ModeEntry = Pick<StepEntry, 'optimizer' | 'param' | 'state'>;

/**
 * Puts every schedule-free entry in eval mode (each parameter then holds x), as the reference's
 * `optimizer.eval()` does for its param groups; entries of other rules are left alone, so the
 * entries array of a whole model's stepMany can be passed as it is. Every entry is checked first:
 * a failure changes nothing. See {@link Optimizer.eval}.
 */
export function evalMode(entries: readonly ModeEntry[]): void {
  try {
    switchModes(entries, true, 'evalMode', false);
  } catch (error) {
    throw named(error, 'evalMode');
  }
}

/** Puts every schedule-free entry back in train mode (each parameter holds y again); see {@link evalMode}. */
export function trainMode(entries: readonly ModeEntry[]): void {
  try {
    switchModes(entries, false, 'trainMode', false);
  } catch (error) {
    throw named(error, 'trainMode');
  }
}

function switchModes(entries: readonly ModeEntry[], toEval: boolean, fn: string, single: boolean): void {
  if (!Array.isArray(entries)) throw new TypeError(`${fn}: entries must be an array, got ${describe(entries)}`);
  const writes: (() => void)[] = [];
  const params = new Set<unknown>();
  const states = new Set<unknown>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (typeof e !== 'object' || e === null) throw new TypeError(`${fn}: entry ${i} must be an object { optimizer, param, state }, got ${describe(e)}`);
    const opt = e.optimizer;
    if (!(opt instanceof Optimizer)) throw new TypeError(`${fn}: entry ${i}: optimizer must come from createOptimizer, got ${describe(opt)}`);
    if (!isScheduleFree(opt.rule)) {
      if (single) throw new TypeError(`${fn}: ${opt.rule} has no train and eval modes (schedule-free-adamw and schedule-free-sgd have)`);
      continue;
    }
    const at = single ? fn : `${fn}: entry ${i} (${opt.rule})`;
    const { param, state } = e;
    writes.push(opt.modeSwitch(param, state, toEval, at));
    if (params.has(param.data)) throw new RangeError(`${at}: the same parameter appears twice`);
    if (states.has(state)) throw new RangeError(`${at}: the same state appears twice`);
    params.add(param.data);
    states.add(state);
    const arrays: ArrayBufferView[] = [param.data];
    const names = ['param'];
    for (const [name, a] of Object.entries(state.arrays) as [string, ArrayBufferView][]) {
      arrays.push(a);
      names.push(`state buffer '${name}'`);
    }
    checkFree(arrays, names, state, at);
  }
  for (const write of writes) write();
}

/**
 * `stepMany` off the event loop: the same update, bit for bit, computed on the addon's job
 * queue (one job at a time, in call order), resolving to the same results. Until it settles the
 * entries' parameters, gradients and states belong to it: another step (sync or async) on any of
 * their memory or states is refused with an Error, and saveState refuses its states. Do not read
 * or write them meanwhile either.
 *
 * Parameters and states on SharedArrayBuffers (Matrix.shared, and the states init makes for
 * such parameters) are updated in place: nothing is copied, and the call blocks the event loop
 * only to check the entries. Otherwise the parameters and states are copied when the call is
 * made and written back when it completes (after checking that none was detached or resized
 * meanwhile: if one was, nothing is written and the promise rejects); a gradient on an ordinary
 * ArrayBuffer is copied at the call. Only native-backend entries are accepted.
 */
export function stepManyAsync(entries: readonly StepEntry[], options?: StepManyOptions): Promise<StepResults> {
  return runAsync('stepManyAsync', async () => {
    let plan: Plan;
    let clip: Float64Array | undefined;
    try {
      clip = clipOf(options, 'stepMany');
      if (!Array.isArray(entries)) throw new TypeError(`stepMany: entries must be an array, got ${describe(entries)}`);
      const kept = PLANS.get(entries);
      let current = false;
      try {
        current = kept?.current(entries) === true;
      } catch {
        // as in stepMany: a new plan's checks say what changed
      }
      if (current) plan = kept!;
      else {
        plan = new Plan(entries);
        PLANS.set(entries, plan);
      }
      const ref = plan.referenceIdx[0];
      if (ref !== undefined) {
        throw new TypeError(`${where(entries, ref)}: the reference backend runs in JavaScript and cannot step off the event loop; use stepMany`);
      }
      checkNotInFlight(entries);
    } catch (error) {
      throw asyncNamed(named(error, 'stepMany'));
    }
    const { nativeIdx, states } = plan;
    const inUse = claim(plan.batch.arrays, states);
    let outcome: number[] | { skipped: number[]; gradNorm: number; scale: number };
    try {
      outcome = await native.addon.optimizerStepAsync(plan.batch.arrays, plan.numbers, nativeIdx.length, clip);
    } catch (error) {
      release(inUse);
      throw asyncNamed(renumber(error, entries, nativeIdx));
    }
    const results: StepResults = new Array(entries.length);
    nativeResults(plan, Array.isArray(outcome) ? outcome : outcome.skipped, results);
    if (!Array.isArray(outcome)) {
      results.gradNorm = outcome.gradNorm;
      results.clipped = outcome.scale !== 1;
    }
    release(inUse);
    return results;
  });
}

/** A stepMany-named error (or the addon's "optimizer step: ...") as stepManyAsync's. */
function asyncNamed(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const match = /^(?:stepMany|optimizer step):(.*)$/s.exec(error.message);
  if (!match) return error;
  const Kind = error instanceof RangeError ? RangeError : error instanceof TypeError ? TypeError : Error;
  return new Kind(`stepManyAsync:${match[1]}`, { cause: error.cause });
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
  readonly nativeIdx: number[] = [];
  readonly referenceIdx: number[] = [];
  /** The batch's numbers (their layout is fixed once built). */
  readonly numbers: Float64Array;
  /** The addon's copy of the batch, made on its first reuse (a batch used once is not kept). */
  handle: StepPlanHandle | undefined;
  // What the native entries were built from, flat (read in order on every reuse): per entry 8
  // objects [entry, optimizer, param, grad, state, param.data, grad.data, spectralVector], rows
  // and cols, the state buffers' names and arrays (entry k's end at bufferEnd[k]), where its
  // scalars are and for which t they were written.
  private readonly objects: unknown[] = [];
  private readonly dims: number[] = [];
  private readonly bufferNames: string[] = [];
  private readonly bufferArrays: Float32Array[] = [];
  private readonly bufferEnd: number[] = [];
  private readonly scalarOffset: number[] = [];
  private readonly t: number[] = [];
  /** Each native entry's optimizer's version (setHyper) when the batch was built. */
  private readonly versions: number[] = [];
  readonly states: OptimizerState[] = [];
  /** Shampoo's counters (one of its state buffers), for the step's result. */
  readonly infos: (Float32Array | undefined)[] = [];
  /** False when an array lies on a buffer the addon does not keep (shared or resizable). */
  private readonly keepable: boolean;

  constructor(entries: readonly StepEntry[]) {
    const seen = new Set<Float32Array>();
    // Each optimizer's first native entry, among the native entries: its group (RuleSpec.grouped).
    const groups = new Map<Optimizer, number>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (typeof e !== 'object' || e === null) {
        throw new TypeError(`${where(entries, i)} must be an object { optimizer, param, grad, state }, got ${describe(e)}`);
      }
      if (!(e.optimizer instanceof Optimizer)) {
        throw new TypeError(`${where(entries, i)}: optimizer must come from createOptimizer, got ${describe(e.optimizer)}`);
      }
      const data = e.param?.data;
      if (data instanceof Float32Array) {
        if (seen.has(data)) throw new RangeError(`${where(entries, i)}: the same parameter appears twice in one step`);
        seen.add(data);
      }
      if (e.optimizer.backend === 'native') {
        let group = groups.get(e.optimizer);
        if (group === undefined) groups.set(e.optimizer, (group = this.nativeIdx.length));
        const p = e.optimizer.prepare(entries, i, this.batch, group);
        this.objects.push(p.entry, p.optimizer, p.param, p.grad, p.state, p.paramData, p.gradData, p.warm);
        this.dims.push(p.rows, p.cols);
        for (let b = 0; b < p.names.length; b++) {
          this.bufferNames.push(p.names[b]);
          this.bufferArrays.push(p.buffers[b]);
        }
        this.bufferEnd.push(this.bufferNames.length);
        this.scalarOffset.push(p.scalarOffset);
        this.t.push(p.t);
        this.versions.push(p.optimizer.version);
        this.states.push(p.state);
        this.infos.push(p.info);
        this.nativeIdx.push(i);
      } else {
        e.optimizer.check(entries, i);
        this.referenceIdx.push(i);
      }
    }
    this.numbers = this.batch.numbers.subarray(0, this.batch.length);
    this.keepable = this.batch.arrays.every((a) => {
      const buffer = a.buffer as ArrayBufferLike & { resizable?: boolean };
      return buffer instanceof ArrayBuffer && buffer.resizable !== true;
    });
  }

  /** For stepManyAsync: reuse without the addon's copy (an async step parses its batch anew). */
  current(entries: readonly StepEntry[]): boolean {
    return entries.length === this.nativeIdx.length && !this.referenceIdx.length && this.matches(entries);
  }

  /**
   * True when entries still refer to the objects and arrays the plan was built from; then the
   * scalars are up to date, and the addon's copy made if there was none yet.
   */
  reuse(entries: readonly StepEntry[]): boolean {
    const count = this.nativeIdx.length;
    if (entries.length !== count || this.referenceIdx.length || !this.matches(entries)) return false;
    if (this.handle === undefined && count && this.keepable) {
      try {
        this.handle = native.addon.optimizerPlan(this.batch.arrays, this.numbers, count);
      } catch {
        return false; // a buffer changed in a way identities do not show: check from scratch
      }
    }
    return true;
  }

  /**
   * The per-entry part of reuse, then the scalars. This runs for every parameter of every step
   * and its time is cache misses on the caller's objects, so it reads the plan's flat arrays in
   * order, and it goes over the entries in several short passes: the objects a pass reads come
   * from the plan (checked equal in the first pass), not from the previous load, so the CPU
   * keeps many misses in flight. It is a function of its own, with nothing after its loops but
   * a return: V8 compiles a hot loop while it runs (on-stack replacement), and code after it that
   * had not run yet lacked type feedback and deoptimised on every call.
   */
  private matches(entries: readonly StepEntry[]): boolean {
    const { objects: o, dims, bufferNames, bufferArrays, bufferEnd, scalarOffset, t: ts, versions, numbers } = this;
    const count = entries.length;
    for (let k = 0, j = 0; k < count; k++, j += 8) {
      const e = entries[k];
      if (e !== o[j] || e.optimizer !== o[j + 1] || e.param !== o[j + 2] || e.grad !== o[j + 3] || e.state !== o[j + 4]) return false;
      if ((o[j + 1] as Optimizer).version !== versions[k]) return false;
    }
    for (let k = 0, j = 0; k < count; k++, j += 8) {
      const param = o[j + 2] as MatrixLike;
      const grad = o[j + 3] as MatrixLike;
      const rows = dims[2 * k];
      const cols = dims[2 * k + 1];
      if (param.data !== o[j + 5] || param.rows !== rows || param.cols !== cols) return false;
      if (grad.data !== o[j + 6] || grad.rows !== rows || grad.cols !== cols) return false;
    }
    for (let k = 0, j = 0, b = 0; k < count; k++, j += 8) {
      const state = o[j + 4] as OptimizerState;
      const step = state.step;
      const arrays = state.arrays;
      if (!Number.isSafeInteger(step) || step < 0 || arrays.spectralVector !== o[j + 7]) return false;
      for (const end = bufferEnd[k]; b < end; b++) if (arrays[bufferNames[b]] !== bufferArrays[b]) return false;
    }
    for (let k = 0, j = 0; k < count; k++, j += 8) {
      const t = (o[j + 4] as OptimizerState).step + 1;
      if (t === ts[k]) continue;
      const scalars = (o[j + 1] as Optimizer).stepScalars(t, dims[2 * k], dims[2 * k + 1]);
      const at = scalarOffset[k];
      for (let x = 0; x < scalars.length; x++) numbers[at + x] = scalars[x];
      ts[k] = t;
    }
    return true;
  }
}

const PLANS = new WeakMap<readonly StepEntry[], Plan>();

// The native side numbers its entries among the native ones; name the caller's entry instead.
function renumber(error: unknown, entries: readonly StepEntry[], nativeIdx: number[]): unknown {
  const match = error instanceof Error ? /^optimizer step, parameter (\d+): (.*)$/s.exec(error.message) : null;
  if (!match) return error;
  const index = nativeIdx[Number(match[1])];
  const rule = entries[index].optimizer.rule;
  const message = match[2].startsWith(`${rule}: `) ? match[2].slice(rule.length + 2) : match[2];
  const Kind = (error as Error).constructor as new (message: string) => Error;
  return new Kind(`${where(entries, index)}: ${message}`);
}

// Error messages name the entry; built only when needed.
function where(entries: readonly StepEntry[], i: number): string {
  const opt = (entries[i] as Partial<StepEntry> | null | undefined)?.optimizer;
  const rule = opt instanceof Optimizer ? opt.rule : undefined;
  if (entries === stepEntries && rule !== undefined) return `${rule}.step`;
  return rule === undefined ? `stepMany: entry ${i}` : `stepMany: entry ${i} (${rule})`;
}

/** The entries of the Optimizer#step call under way (its errors name step, not stepMany). */
let stepEntries: readonly StepEntry[] | null = null;

/**
 * An optimizer for rule `name` with the given hyperparameters (defaults: src/optim/defaults.ts).
 * Schedulable hyperparameters (each rule's list: RuleSpec.schedulable, in the docs) may be
 * schedules: `createOptimizer('adamw', { lr: schedules.warmupCosine({ ... }) })`.
 */
export function createOptimizer<R extends RuleName>(name: R, hyper?: Partial<HyperInput<R>>, options?: { backend?: Backend }): Optimizer<R> {
  return new Optimizer(name, hyper, options);
}

/** The optimizer `config` describes (what `optimizer.config()` gave, or its JSON). */
export function optimizerFromConfig(config: OptimizerConfig): Optimizer {
  const at = 'optimizerFromConfig';
  if (typeof config !== 'object' || config === null || typeof config.hyper !== 'object' || config.hyper === null) {
    throw new TypeError(`${at}: config must be { rule, backend, hyper } as optimizer.config() gives, got ${describe(config)}`);
  }
  const decode = (v: unknown): unknown => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, 'schedule')) {
      try {
        return schedules.fromSpec((v as { schedule: ScheduleSpec }).schedule);
      } catch (error) {
        throw prefixed(error, at);
      }
    }
    return Array.isArray(v) ? v.map(decode) : v;
  };
  const hyper = Object.fromEntries(Object.entries(config.hyper).map(([k, v]) => [k, decode(v)]));
  try {
    return new Optimizer(config.rule, hyper as never, { backend: config.backend });
  } catch (error) {
    throw prefixed(error, at);
  }
}

/** Same number, string, boolean, null or function, or arrays of those. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return Object.is(a, b);
}

/** The Float64Arrays of a reference state, by name and length. */
function arrayLengths(fields: Record<string, unknown>): [string, number][] {
  return Object.entries(fields).flatMap(([name, v]) => (v instanceof Float64Array ? [[name, v.length] as [string, number]] : []));
}

/** Sides of the shapes setHyper checks layouts on besides the ones seen: every threshold a rule has lies between two. */
const PROBE_SIDES = [1, 2, 3, 5, 8, 17, 64, 129, 768, 1025, 3000, 4097, 10001, 100003];
