// A tfjs Optimizer running specopt's rules: every applyGradients is one stepMany over all its
// variables, on the tensors' own memory where the backend allows it (cpu), on copies elsewhere.
// The optimizer state is saved and restored as tfjs tensors (getWeights / setWeights), so that
// model.save(..., { includeOptimizer: true }) and tf.loadLayersModel carry it, and its config
// (getConfig / fromConfig) is the specopt optimizers' own config().
import {
  OPTIMIZER_RULES,
  createOptimizer,
  loadState,
  optimizerFromConfig,
  saveState,
  stepMany,
  type HyperInput,
  type Optimizer as SpecoptRuleOptimizer,
  type OptimizerState,
  type RuleName,
  type StepEntry,
  type StepManyOptions,
  type StepResults,
} from '../index.js';
import { tf } from './tf.js';

import type { NamedTensorMap, Tensor, Variable, serialization } from '@tensorflow/tfjs-core';

type ConfigDict = serialization.ConfigDict;
/** A tensor with a name (tfjs-core's NamedTensor, which its index does not export). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/**
 * Which variables a recipe group takes (the first group that takes a variable trains it):
 * - 'all': every variable;
 * - 'matrices': rank >= 2; 'vectors': rank 0 and 1 (biases, scales);
 * - 'hidden': rank >= 2 except the first and the last such variable of the update that first
 *   sees it (the input layer's and the output layer's kernels in a sequential model) and except
 *   embeddings (a name whose last part starts with 'embeddings', as tf.layers.embedding names
 *   them): the matrices Muon's authors give Muon;
 * - `{ pattern, flags }`: variables whose name the regular expression matches (tfjs appends `_1`,
 *   `_2`, ... to a variable's name when another model in the process used it: a pattern meant for
 *   both should allow for that).
 */
export type VariableSelector = 'all' | 'hidden' | 'matrices' | 'vectors' | { pattern: string; flags?: string };

/** One rule of a recipe and the variables it takes. */
export interface RecipeGroup {
  select: VariableSelector;
  rule: RuleName;
  /** The rule's hyperparameters (createOptimizer's), schedules included. */
  hyper?: Record<string, unknown>;
}

/** Rules per variable: the first group whose selector takes a variable trains it. */
export interface TfjsRecipe {
  groups: RecipeGroup[];
}

/**
 * How a variable is viewed as the rows×cols matrix the rules see (its memory as it is, no copy).
 * 'last' (default): rank >= 2 as the product of all dimensions but the last × the last; 'first':
 * its first dimension × the product of the rest. They agree on dense kernels ([in, out]). tfjs
 * puts a conv kernel's output channels last ([kh, kw, in, out]), so 'last' gives (kh·kw·in) × out:
 * up to a transpose and an order of the columns, which Muon's orthogonalisation does not see, the
 * out × (in·kh·kw) view Muon's reference takes of a PyTorch conv weight [out, in, kh, kw]. 'first'
 * would give kh × (kw·in·out). Rank 0 and 1: 1 × n.
 */
export type MatrixView = 'first' | 'last';

/** Options of tfjsOptimizer besides the rules. */
export interface TfjsOptimizerOptions {
  /** Clip all gradients of an update together by their total norm (stepMany's maxGradNorm). */
  maxGradNorm?: number;
  /** The norm for maxGradNorm: 2 (default) or Infinity. */
  normType?: number;
  /** See MatrixView. */
  matrixView?: MatrixView;
}

/** Which rule a variable got, and the matrix it is seen as. */
export interface VariableAssignment {
  name: string;
  shape: number[];
  rule: RuleName;
  /** Index of the recipe group (0 for a single rule). */
  group: number;
  rows: number;
  cols: number;
}

interface Group {
  select: VariableSelector;
  optimizer: SpecoptRuleOptimizer;
}

interface Slot {
  name: string;
  shape: number[];
  group: number;
  optimizer: SpecoptRuleOptimizer;
  rows: number;
  cols: number;
  state: OptimizerState;
  /** Its index among the slots. */
  index: number;
  /** The variable's values: the cpu backend's own array, or `copy`. */
  param: { rows: number; cols: number; data: Float32Array };
  /** The variable's values copied, on backends whose memory cannot be written in place. */
  copy: Float32Array;
  /** The gradient, copied here every update (a stable array keeps stepMany's checked batch). */
  grad: { rows: number; cols: number; data: Float32Array };
  entry: StepEntry;
}

/** A saved state read back by setWeights, waiting for its variable. */
interface PendingState {
  name: string;
  state: OptimizerState;
}

/** What the optimizer uses of tfjs's MathBackendCPU (tfjs-backend-cpu 4.x). */
interface CpuBackend {
  data: { get(dataId: unknown): { values?: unknown } | undefined };
  refCount(dataId: unknown): number;
}

const CONFIG_FORMAT = 1;
const SELECTOR_NAMES = ['all', 'hidden', 'matrices', 'vectors'];

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function checkSelector(select: unknown, at: string): VariableSelector {
  if (typeof select === 'string' && SELECTOR_NAMES.includes(select)) return select as VariableSelector;
  if (typeof select === 'object' && select !== null && typeof (select as { pattern?: unknown }).pattern === 'string') {
    const { pattern, flags } = select as { pattern: string; flags?: unknown };
    if (flags !== undefined && typeof flags !== 'string') throw new TypeError(`${at}.flags must be a string, got ${describe(flags)}`);
    try {
      new RegExp(pattern, flags);
    } catch (error) {
      throw new TypeError(`${at}: ${(error as Error).message}`);
    }
    return flags === undefined ? { pattern } : { pattern, flags };
  }
  throw new TypeError(`${at} must be ${SELECTOR_NAMES.map((s) => `'${s}'`).join(' | ')} or { pattern, flags? }, got ${describe(select)}`);
}

function checkOptions(options: unknown): Required<Pick<TfjsOptimizerOptions, 'matrixView'>> & StepManyOptions {
  if (options === undefined) return { matrixView: 'last' };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`tfjsOptimizer: options must be an object, got ${describe(options)}`);
  }
  const { maxGradNorm, normType, matrixView, ...rest } = options as TfjsOptimizerOptions;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new TypeError(`tfjsOptimizer: unknown option '${unknown[0]}' (known: maxGradNorm, normType, matrixView)`);
  if (matrixView !== undefined && matrixView !== 'first' && matrixView !== 'last') {
    throw new TypeError(`tfjsOptimizer: options.matrixView must be 'first' | 'last', got ${describe(matrixView)}`);
  }
  const out: Required<Pick<TfjsOptimizerOptions, 'matrixView'>> & StepManyOptions = { matrixView: matrixView ?? 'last' };
  if (maxGradNorm !== undefined) out.maxGradNorm = maxGradNorm;
  if (normType !== undefined) out.normType = normType;
  // stepMany's own checks, now rather than at the first update.
  if (out.maxGradNorm !== undefined || out.normType !== undefined) {
    const probe = createOptimizer('sgd');
    const p = { rows: 1, cols: 1, data: new Float32Array(1) };
    stepMany([{ optimizer: probe, param: p, grad: { rows: 1, cols: 1, data: new Float32Array(1) }, state: probe.init(p) }], clipOf(out));
  }
  return out;
}

function clipOf(options: StepManyOptions): StepManyOptions | undefined {
  if (options.maxGradNorm === undefined && options.normType === undefined) return undefined;
  return options.normType === undefined ? { maxGradNorm: options.maxGradNorm } : { maxGradNorm: options.maxGradNorm, normType: options.normType };
}

/** rows × cols of a variable of this shape, under `view`. */
function matrixOf(shape: readonly number[], view: MatrixView): [number, number] {
  const n = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 2) return [1, n];
  if (view === 'first') return [shape[0], n / shape[0]];
  const last = shape[shape.length - 1];
  return [n / last, last];
}

/** stepMany's error, naming the variable instead of the entry ("stepMany: entry 2 (adamw): ..."). */
function renamed(error: unknown, active: readonly Slot[], at: string): unknown {
  const match = error instanceof Error ? /^stepMany: entry (\d+)(?: \(([^)]*)\))?: (.*)$/s.exec(error.message) : null;
  const slot = match ? active[Number(match[1])] : undefined;
  if (!match || slot === undefined) return error;
  const Kind = (error as Error).constructor as new (message: string, options?: { cause?: unknown }) => Error;
  return new Kind(`${at}: variable '${slot.name}' (${slot.optimizer.rule}): ${match[3]}`, { cause: error });
}

const isEmbedding = (name: string) => /(^|\/)embeddings[^/]*$/.test(name);

// Underscores in strings of a saved training config are turned into camelCase by
// tf.loadLayersModel (convertPythonicToTs): the config's JSON is stored with every '_' written
// as the JSON escape \u005f, which JSON.parse reads back as '_' (JSON has '_' only inside strings).
const escapeUnderscores = (json: string) => json.replace(/_/g, '\\u005f');

/**
 * A tfjs Optimizer (tf.Optimizer subclass, registered for serialization as 'SpecoptOptimizer')
 * running specopt's rules. Made by {@link tfjsOptimizer}.
 */
export class SpecoptOptimizer extends tf.Optimizer {
  /** The class name tfjs serializes (model.save's training config). */
  static get className(): string {
    return 'SpecoptOptimizer';
  }

  private readonly groups: Group[];
  private readonly kind: 'rule' | 'recipe';
  private readonly options: Required<Pick<TfjsOptimizerOptions, 'matrixView'>> & StepManyOptions;
  private readonly clip: StepManyOptions | undefined;
  private readonly slots: Slot[] = [];
  private readonly byName = new Map<string, Slot>();
  private pending: PendingState[] | null = null;
  private lastKey = '';
  private lastEntries: StepEntry[] = [];
  private snapshots: Tensor[] = [];
  private results: StepResults | undefined;

  /** @internal Use tfjsOptimizer. */
  constructor(groups: Group[], kind: 'rule' | 'recipe', options: unknown) {
    super();
    this.groups = groups;
    this.kind = kind;
    this.options = checkOptions(options);
    this.clip = clipOf(this.options);
  }

  /** The specopt optimizers, one per recipe group (one for a single rule): setHyper changes their hyperparameters. */
  get optimizers(): SpecoptRuleOptimizer[] {
    return this.groups.map((g) => g.optimizer);
  }

  /** stepMany's results of the last update (which entries a non-finite gradient skipped, the norm when clipping). */
  get lastResults(): StepResults | undefined {
    return this.results;
  }

  /** The variables seen so far, in order, with their rule and matrix view. */
  assignments(): VariableAssignment[] {
    return this.slots.map((s) => ({ name: s.name, shape: [...s.shape], rule: s.optimizer.rule, group: s.group, rows: s.rows, cols: s.cols }));
  }

  /** One update of every variable with a gradient: one stepMany. */
  applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    const at = 'SpecoptOptimizer.applyGradients';
    const list: [string, Tensor | null | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.keys(variableGradients).map((name) => [name, variableGradients[name]]);
    const registered = tf.engine().registeredVariables;
    const variables: Variable[] = list.map(([name]) => {
      const v = registered[name];
      if (v === undefined) throw new Error(`${at}: no variable is named '${name}'`);
      return v;
    });
    if (list.some(([name]) => !this.byName.has(name))) this.addSlots(list.map(([name]) => name), variables);

    const backendName = tf.getBackend();
    const backend = tf.backend() as unknown as Partial<CpuBackend>;
    const cpu = backendName === 'cpu' && typeof backend.refCount === 'function' && typeof backend.data?.get === 'function';
    const active: Slot[] = [];
    const copied: [Slot, Variable][] = [];
    let key = '';
    for (let i = 0; i < list.length; i++) {
      const grad = list[i][1];
      if (grad === null || grad === undefined) continue; // as tfjs's optimizers: no gradient, no update
      const slot = this.byName.get(list[i][0])!;
      const variable = variables[i];
      if (grad.dtype !== 'float32') throw new TypeError(`${at}: the gradient of '${slot.name}' is ${grad.dtype}, not float32`);
      if (grad.size !== slot.grad.data.length) {
        throw new RangeError(`${at}: the gradient of '${slot.name}' has shape [${grad.shape}], the variable [${slot.shape}]`);
      }
      const values = cpu ? this.ownValues(backend as CpuBackend, variable) : null;
      if (values !== null) {
        slot.param.data = values; // the variable's own memory: the update is written in place
      } else {
        slot.param.data = slot.copy;
        slot.copy.set(variable.dataSync() as Float32Array);
        copied.push([slot, variable]);
      }
      const gv = cpu ? (backend as CpuBackend).data.get(grad.dataId)?.values : undefined;
      slot.grad.data.set(gv instanceof Float32Array && gv.length === slot.grad.data.length ? gv : (grad.dataSync() as Float32Array));
      active.push(slot);
      key += `${slot.index},`;
    }
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastEntries = active.map((s) => s.entry);
    }
    if (active.length) {
      try {
        this.results = stepMany(this.lastEntries, this.clip);
      } catch (error) {
        throw renamed(error, active, at);
      }
    }
    for (const [slot, variable] of copied) {
      // wasm copies a new tensor's values into its heap; other backends may keep the array: a copy.
      const values = backendName === 'wasm' ? slot.param.data : slot.param.data.slice();
      tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
    }
    this.incrementIterations();
  }

  /**
   * The cpu backend's array of `variable`, when the optimizer may write it in place: the variable
   * is the only tensor on that data (a tf.clone or an undisposed initial value shares it until
   * then, and must keep the old values: the variable gets a copy of its own first). Null when
   * the backend does not hold it as a Float32Array.
   */
  private ownValues(backend: CpuBackend, variable: Variable): Float32Array | null {
    if (variable.dtype !== 'float32') return null;
    if (backend.refCount(variable.dataId) !== 1) {
      const values = backend.data.get(variable.dataId)?.values;
      if (!(values instanceof Float32Array)) return null;
      const fresh = tf.tensor(values.slice(), variable.shape, 'float32');
      variable.assign(fresh);
      fresh.dispose();
      if (backend.refCount(variable.dataId) !== 1) return null;
    }
    const values = backend.data.get(variable.dataId)?.values;
    if (!(values instanceof Float32Array) || values.length !== variable.size) return null;
    return values;
  }

  /** Slots for the variables not seen yet, assigned to groups; `names` is the whole update's list. */
  private addSlots(names: string[], variables: Variable[]): void {
    const at = 'SpecoptOptimizer.applyGradients';
    const matrices = names.map((n, i) => i).filter((i) => variables[i].rank >= 2 && !isEmbedding(names[i]));
    const first = matrices[0];
    const last = matrices[matrices.length - 1];
    const fresh: Slot[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (this.byName.has(name)) continue;
      const variable = variables[i];
      if (variable.dtype !== 'float32') throw new TypeError(`${at}: variable '${name}' is ${variable.dtype}; specopt's rules train float32 variables`);
      const shape = [...variable.shape];
      const hidden = variable.rank >= 2 && !isEmbedding(name) && i !== first && i !== last;
      const group = this.groups.findIndex(({ select }) => {
        if (select === 'all') return true;
        if (select === 'matrices') return variable.rank >= 2;
        if (select === 'vectors') return variable.rank < 2;
        if (select === 'hidden') return hidden;
        return new RegExp(select.pattern, select.flags).test(name);
      });
      if (group < 0) throw new RangeError(`${at}: no group of the recipe takes variable '${name}' (shape [${shape}]); end the recipe with a group that selects 'all'`);
      const optimizer = this.groups[group].optimizer;
      const [rows, cols] = matrixOf(shape, this.options.matrixView);
      const n = rows * cols;
      const copy = new Float32Array(n);
      const param = { rows, cols, data: copy };
      const grad = { rows, cols, data: new Float32Array(n) };
      const slot = { name, shape, group, optimizer, rows, cols, index: -1, param, copy, grad } as Slot;
      fresh.push(slot);
    }
    const pending = this.pending;
    if (pending !== null) {
      if (this.slots.length !== 0 || pending.length !== fresh.length) {
        throw new RangeError(
          `${at}: setWeights gave states for ${pending.length} variables, this update has ${fresh.length} new ones; states are matched to variables in order, as tfjs's optimizers do`,
        );
      }
      fresh.forEach((slot, k) => this.checkFits(slot, pending[k], at));
    }
    fresh.forEach((slot, k) => {
      slot.state = pending ? pending[k].state : slot.optimizer.init(slot.param);
      slot.entry = { optimizer: slot.optimizer, param: slot.param, grad: slot.grad, state: slot.state };
      slot.index = this.slots.length;
      this.slots.push(slot);
      this.byName.set(slot.name, slot);
    });
    this.pending = null;
    this.lastKey = '';
  }

  private checkFits(slot: Slot, saved: PendingState, at: string): void {
    const s = saved.state;
    const what = `the saved state of '${saved.name}' (for variable '${slot.name}')`;
    if (s.rule !== slot.optimizer.rule) throw new RangeError(`${at}: ${what} is ${s.rule}'s, the variable gets ${slot.optimizer.rule}`);
    if (s.rows !== slot.rows || s.cols !== slot.cols) throw new RangeError(`${at}: ${what} is for a ${s.rows}x${s.cols} matrix, the variable is ${slot.rows}x${slot.cols}`);
  }

  /** Snapshots of the state, as tensors: the iteration count, then per variable a header int32 [step, rows, cols] named `<variable>/<rule>` and each state array, float32, named `<variable>/<rule>/<array>`. They stay valid until the next getWeights or dispose. */
  override async getWeights(): Promise<NamedTensor[]> {
    this.disposeSnapshots();
    const states: PendingState[] = this.pending ?? this.slots.map((s) => ({ name: s.name, state: s.state }));
    const out: NamedTensor[] = [await this.saveIterations()];
    for (const { name, state } of states) {
      const prefix = `${name}/${state.rule}`;
      out.push({ name: prefix, tensor: tf.tensor1d([state.step, state.rows, state.cols], 'int32') });
      for (const [array, values] of Object.entries(state.arrays)) {
        out.push({ name: `${prefix}/${array}`, tensor: tf.tensor1d(values.slice() as Float32Array, 'float32') });
      }
    }
    this.snapshots = out.map((w) => w.tensor);
    return out;
  }

  /** Restores getWeights's tensors (copied: the caller may dispose them). States go to the variables in order, now or at the first update. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const at = 'SpecoptOptimizer.setWeights';
    if (!Array.isArray(weightValues) || weightValues.length === 0) throw new TypeError(`${at}: expected getWeights's list of named tensors`);
    const rest = await this.extractIterations(weightValues);
    const states: PendingState[] = [];
    let current: { name: string; prefix: string; head: OptimizerState } | null = null;
    const finish = () => {
      if (current === null) return;
      let state: OptimizerState;
      try {
        state = loadState(saveState(current.head)); // the checks loadState makes of a file
      } catch (error) {
        throw new RangeError(`${at}: the state of '${current.name}': ${(error as Error).message}`, { cause: error });
      }
      states.push({ name: current.name, state });
    };
    for (const { name, tensor } of rest) {
      if (current !== null && name.startsWith(`${current.prefix}/`)) {
        if (tensor.dtype !== 'float32') throw new TypeError(`${at}: '${name}' is ${tensor.dtype}, state arrays are float32`);
        (current.head.arrays as Record<string, Float32Array>)[name.slice(current.prefix.length + 1)] = new Float32Array(await tensor.data());
        continue;
      }
      finish();
      const cut = name.lastIndexOf('/');
      const rule = name.slice(cut + 1);
      if (cut < 1 || !(OPTIMIZER_RULES as string[]).includes(rule) || tensor.dtype !== 'int32' || tensor.size !== 3) {
        throw new RangeError(`${at}: '${name}' is not a state header '<variable>/<rule>' (int32 [step, rows, cols]) as getWeights writes`);
      }
      const [step, rows, cols] = Array.from(await tensor.data());
      current = { name: name.slice(0, cut), prefix: name, head: { rule: rule as RuleName, backend: 'native', rows, cols, step, arrays: {}, values: {} } };
    }
    finish();
    if (this.slots.length === 0) {
      this.pending = states;
      return;
    }
    if (states.length !== this.slots.length) {
      throw new RangeError(`${at}: got states for ${states.length} variables, the optimizer trains ${this.slots.length}`);
    }
    this.slots.forEach((slot, k) => this.checkFits(slot, states[k], at));
    this.slots.forEach((slot, k) => {
      slot.state = states[k].state;
      slot.entry = { optimizer: slot.optimizer, param: slot.param, grad: slot.grad, state: slot.state };
    });
    this.lastKey = '';
  }

  /** The config tfjs saves with a model: the specopt optimizers' config() (schedules as their specs). */
  getConfig(): ConfigDict {
    const config = {
      format: CONFIG_FORMAT,
      kind: this.kind,
      groups: this.groups.map((g) => {
        const { rule, hyper } = g.optimizer.config();
        return { select: g.select, rule, hyper };
      }),
      options: this.options,
    };
    return { specopt: escapeUnderscores(JSON.stringify(config)) };
  }

  /** The optimizer getConfig describes (tfjs calls this when it loads a model). */
  static override fromConfig<T extends serialization.Serializable>(cls: serialization.SerializableConstructor<T>, config: ConfigDict): T {
    const at = 'SpecoptOptimizer.fromConfig';
    if (typeof config?.specopt !== 'string') throw new TypeError(`${at}: config.specopt must be the JSON getConfig wrote`);
    const parsed = JSON.parse(config.specopt) as { format: number; kind: 'rule' | 'recipe'; groups: { select: unknown; rule: RuleName; hyper: Record<string, unknown> }[]; options: unknown };
    if (parsed.format !== CONFIG_FORMAT) throw new RangeError(`${at}: config format ${parsed.format}, this version reads ${CONFIG_FORMAT}`);
    if (!Array.isArray(parsed.groups) || parsed.groups.length === 0) throw new TypeError(`${at}: the config has no groups`);
    const groups = parsed.groups.map((g, i) => ({
      select: checkSelector(g.select, `${at}: groups[${i}].select`),
      optimizer: optimizerFromConfig({ rule: g.rule, backend: 'native', hyper: g.hyper }),
    }));
    const Cls = cls as unknown as typeof SpecoptOptimizer;
    return new Cls(groups, parsed.kind === 'recipe' ? 'recipe' : 'rule', parsed.options) as unknown as T;
  }

  private disposeSnapshots(): void {
    for (const t of this.snapshots) if (!t.isDisposed) t.dispose();
    this.snapshots = [];
  }

  /** Disposes the tensors getWeights made and forgets the states. */
  override dispose(): void {
    this.disposeSnapshots();
    this.slots.length = 0;
    this.byName.clear();
    this.pending = null;
    this.lastKey = '';
    this.lastEntries = [];
    super.dispose();
  }
}

tf.serialization.registerClass(SpecoptOptimizer);

/**
 * A tf.Optimizer for `model.compile({ optimizer })`, `optimizer.minimize(f)` and
 * `applyGradients`, running specopt's rule `rule` with `hyper` (createOptimizer's hyperparameters,
 * schedules and nonFinite included) on every variable, or a recipe's rules per variable
 * (see {@link muonRecipe}).
 */
export function tfjsOptimizer<R extends RuleName>(rule: R, hyper?: Partial<HyperInput<R>>, options?: TfjsOptimizerOptions): SpecoptOptimizer;
export function tfjsOptimizer(recipe: TfjsRecipe, hyper?: undefined, options?: TfjsOptimizerOptions): SpecoptOptimizer;
export function tfjsOptimizer(ruleOrRecipe: RuleName | TfjsRecipe, hyper?: Record<string, unknown>, options?: TfjsOptimizerOptions): SpecoptOptimizer {
  if (typeof ruleOrRecipe === 'string') {
    return new SpecoptOptimizer([{ select: 'all', optimizer: createOptimizer(ruleOrRecipe, hyper as never) }], 'rule', options);
  }
  if (typeof ruleOrRecipe !== 'object' || ruleOrRecipe === null || !Array.isArray(ruleOrRecipe.groups) || ruleOrRecipe.groups.length === 0) {
    throw new TypeError(`tfjsOptimizer: expected a rule name (${OPTIMIZER_RULES.join(', ')}) or a recipe { groups: [{ select, rule, hyper? }, ...] }, got ${describe(ruleOrRecipe)}`);
  }
  if (hyper !== undefined) throw new TypeError('tfjsOptimizer: a recipe carries its hyperparameters in its groups; pass undefined as the second argument');
  const groups = ruleOrRecipe.groups.map((g, i) => {
    if (typeof g !== 'object' || g === null) throw new TypeError(`tfjsOptimizer: recipe.groups[${i}] must be { select, rule, hyper? }, got ${describe(g)}`);
    return { select: checkSelector(g.select, `tfjsOptimizer: recipe.groups[${i}].select`), optimizer: createOptimizer(g.rule, g.hyper as never) };
  });
  return new SpecoptOptimizer(groups, 'recipe', options);
}

/**
 * Muon on the hidden matrices, AdamW on everything else (biases, embeddings, the first and the
 * last layer's kernels), as Muon's authors recommend and as `specopt train` runs it: by default
 * Muon lr 0.02, momentum 0.95 and AdamW lr 3e-3 without weight decay (the trainer's MNIST recipe).
 */
export function muonRecipe(hyper: { muon?: Record<string, unknown>; adamw?: Record<string, unknown> } = {}): TfjsRecipe {
  return {
    groups: [
      { select: 'hidden', rule: 'muon', hyper: { lr: 0.02, momentum: 0.95, ...hyper.muon } },
      { select: 'all', rule: 'adamw', hyper: { lr: 3e-3, weightDecay: 0, ...hyper.adamw } },
    ],
  };
}
