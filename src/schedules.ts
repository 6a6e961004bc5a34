// Learning-rate (and other hyperparameter) schedules: plain float64 functions of `count`, the
// number of updates the parameter's state has already taken (0 on the first update), as in optax
// and as PyTorch's schedulers stepped once per optimizer step. Each formula is the closed form of
// the optax schedule or torch.optim.lr_scheduler class it names; the tests hold every built-in to
// PyTorch's own values (test/fixtures/torch-schedules.json) or to the optax formula.
//
// A built-in schedule is data too: its `spec` names it and its arguments (so a checkpoint can
// record it), and it is frozen. Arguments are checked when the schedule is made; the count when
// it is called. Each maker's formula is documented on its entry of `schedules`, at the end.

/** A function of the update count (0 on the first update) giving a hyperparameter's value. */
export type Schedule = (count: number) => number;

/** What a built-in schedule is made of: its name in `schedules` and its (checked) arguments. */
export interface ScheduleSpec {
  /** The maker's name in `schedules` ('warmupCosine', ...). */
  readonly kind: string;
  /** Its arguments, defaults filled in (a join's parts as their specs, null for a user function). */
  readonly args: Readonly<Record<string, unknown>>;
}

/** A schedule made by `schedules.*`: callable, with the arguments it was made from. */
export type BuiltinSchedule = Schedule & {
  /** What it was made from: `schedules.fromSpec(spec)` makes it again. */
  readonly spec: ScheduleSpec;
};

function fail(kind: string, message: string, Kind: new (m: string) => Error = RangeError): never {
  throw new Kind(`schedules.${kind}: ${message}`);
}

function options(kind: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(kind, `expected an options object, got ${value === null ? 'null' : typeof value}`, TypeError);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) fail(kind, `unknown option '${key}' (known: ${known.join(', ')})`, TypeError);
  }
  return value as Record<string, unknown>;
}

function finite(kind: string, name: string, value: unknown, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number') fail(kind, `${name} must be a number, got ${typeof value}`, TypeError);
  if (!Number.isFinite(value)) fail(kind, `${name} must be finite, got ${value}`);
  return value;
}

function positive(kind: string, name: string, value: unknown, fallback?: number): number {
  const x = finite(kind, name, value, fallback);
  if (!(x > 0)) fail(kind, `${name} must be > 0, got ${x}`);
  return x;
}

function steps(kind: string, name: string, value: unknown, min: number, fallback?: number): number {
  const x = finite(kind, name, value, fallback);
  if (!Number.isSafeInteger(x) || x < min) fail(kind, `${name} must be an integer >= ${min}, got ${x}`);
  return x;
}

function make(kind: string, args: Record<string, unknown>, f: (count: number) => number): BuiltinSchedule {
  const schedule = (count: number): number => {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      fail(kind, `count must be a non-negative integer, got ${typeof count === 'number' ? count : typeof count}`);
    }
    return f(count);
  };
  Object.defineProperty(schedule, 'spec', { value: Object.freeze({ kind, args: Object.freeze({ ...args }) }), enumerable: true });
  return Object.freeze(schedule) as BuiltinSchedule;
}

/** Linear from `from` to `to` over `count / steps` in [0, 1] (the shared warm-up and decay). */
const lerp = (from: number, to: number, p: number) => from + (to - from) * p;

function constant(value: number): BuiltinSchedule {
  const v = finite('constant', 'value', value);
  return make('constant', { value: v }, () => v);
}

function linear(o: { from: number; to: number; steps: number }): BuiltinSchedule {
  const a = options('linear', o, ['from', 'to', 'steps']);
  const from = finite('linear', 'from', a.from), to = finite('linear', 'to', a.to), n = steps('linear', 'steps', a.steps, 1);
  return make('linear', { from, to, steps: n }, (c) => (from - to) * (1 - Math.min(c, n) / n) + to);
}

function cosine(o: { from: number; to?: number; steps: number }): BuiltinSchedule {
  const a = options('cosine', o, ['from', 'to', 'steps']);
  const from = finite('cosine', 'from', a.from), to = finite('cosine', 'to', a.to, 0), n = steps('cosine', 'steps', a.steps, 1);
  return make('cosine', { from, to, steps: n }, (c) => to + ((from - to) * (1 + Math.cos((Math.PI * Math.min(c, n)) / n))) / 2);
}

function warmupCosine(o: { from?: number; peak: number; warmupSteps: number; totalSteps: number; to?: number }): BuiltinSchedule {
  const k = 'warmupCosine';
  const a = options(k, o, ['from', 'peak', 'warmupSteps', 'totalSteps', 'to']);
  const from = finite(k, 'from', a.from, 0), peak = finite(k, 'peak', a.peak), to = finite(k, 'to', a.to, 0);
  const w = steps(k, 'warmupSteps', a.warmupSteps, 0), total = steps(k, 'totalSteps', a.totalSteps, 1);
  if (w > total) fail(k, `warmupSteps (${w}) must be at most totalSteps (${total})`);
  const d = total - w;
  return make(k, { from, peak, warmupSteps: w, totalSteps: total, to }, (c) => {
    if (c < w) return lerp(from, peak, c / w);
    if (d === 0) return to;
    return to + ((peak - to) * (1 + Math.cos((Math.PI * Math.min(c - w, d)) / d))) / 2;
  });
}

const WSD_SHAPES = {
  linear: (p: number) => 1 - p,
  cosine: (p: number) => (1 + Math.cos(Math.PI * p)) / 2,
  sqrt: (p: number) => 1 - Math.sqrt(p),
} as const;

function wsd(o: {
  from?: number;
  peak: number;
  warmupSteps: number;
  stableSteps: number;
  decaySteps: number;
  to?: number;
  shape?: keyof typeof WSD_SHAPES;
}): BuiltinSchedule {
  const k = 'wsd';
  const a = options(k, o, ['from', 'peak', 'warmupSteps', 'stableSteps', 'decaySteps', 'to', 'shape']);
  const from = finite(k, 'from', a.from, 0), peak = finite(k, 'peak', a.peak), to = finite(k, 'to', a.to, 0);
  const w = steps(k, 'warmupSteps', a.warmupSteps, 0), s = steps(k, 'stableSteps', a.stableSteps, 0);
  const d = steps(k, 'decaySteps', a.decaySteps, 1);
  const shape = a.shape ?? 'linear';
  if (typeof shape !== 'string' || !Object.hasOwn(WSD_SHAPES, shape)) fail(k, `shape must be 'linear' | 'cosine' | 'sqrt', got ${String(shape)}`, TypeError);
  const factor = WSD_SHAPES[shape as keyof typeof WSD_SHAPES];
  return make(k, { from, peak, warmupSteps: w, stableSteps: s, decaySteps: d, to, shape }, (c) => {
    if (c < w) return lerp(from, peak, c / w);
    if (c < w + s) return peak;
    if (c < w + s + d) return to + (peak - to) * factor((c - w - s) / d);
    return to;
  });
}

function exponential(o: { from: number; rate: number; every?: number; staircase?: boolean }): BuiltinSchedule {
  const k = 'exponential';
  const a = options(k, o, ['from', 'rate', 'every', 'staircase']);
  const from = finite(k, 'from', a.from), rate = positive(k, 'rate', a.rate), every = steps(k, 'every', a.every, 1, 1);
  const staircase = a.staircase ?? false;
  if (typeof staircase !== 'boolean') fail(k, `staircase must be a boolean, got ${typeof staircase}`, TypeError);
  return make(k, { from, rate, every, staircase }, (c) => from * rate ** (staircase ? Math.floor(c / every) : c / every));
}

function step(o: { from: number; every: number; gamma: number }): BuiltinSchedule {
  const a = options('step', o, ['from', 'every', 'gamma']);
  const from = finite('step', 'from', a.from), every = steps('step', 'every', a.every, 1), gamma = finite('step', 'gamma', a.gamma);
  return make('step', { from, every, gamma }, (c) => from * gamma ** Math.floor(c / every));
}

function multiStep(o: { from: number; milestones: readonly number[]; gamma: number }): BuiltinSchedule {
  const k = 'multiStep';
  const a = options(k, o, ['from', 'milestones', 'gamma']);
  const from = finite(k, 'from', a.from), gamma = finite(k, 'gamma', a.gamma);
  if (!Array.isArray(a.milestones)) fail(k, 'milestones must be an array of integers', TypeError);
  const milestones = (a.milestones as unknown[]).map((m, i) => steps(k, `milestones[${i}]`, m, 1));
  for (let i = 1; i < milestones.length; i++) {
    if (milestones[i] < milestones[i - 1]) fail(k, `milestones must be sorted, got ${milestones[i - 1]} before ${milestones[i]}`);
  }
  return make(k, { from, milestones: Object.freeze(milestones), gamma }, (c) => {
    let passed = 0;
    while (passed < milestones.length && milestones[passed] <= c) passed++;
    return from * gamma ** passed;
  });
}

function polynomial(o: { from: number; to?: number; steps: number; power?: number }): BuiltinSchedule {
  const k = 'polynomial';
  const a = options(k, o, ['from', 'to', 'steps', 'power']);
  const from = finite(k, 'from', a.from), to = finite(k, 'to', a.to, 0), n = steps(k, 'steps', a.steps, 1);
  const power = positive(k, 'power', a.power, 1);
  return make(k, { from, to, steps: n, power }, (c) => (from - to) * (1 - Math.min(c, n) / n) ** power + to);
}

function oneCycle(o: {
  peak: number;
  totalSteps: number;
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
  anneal?: 'cos' | 'linear';
}): BuiltinSchedule {
  const k = 'oneCycle';
  const a = options(k, o, ['peak', 'totalSteps', 'pctStart', 'divFactor', 'finalDivFactor', 'anneal']);
  const peak = finite(k, 'peak', a.peak), total = steps(k, 'totalSteps', a.totalSteps, 2);
  const pctStart = finite(k, 'pctStart', a.pctStart, 0.3);
  const divFactor = positive(k, 'divFactor', a.divFactor, 25), finalDivFactor = positive(k, 'finalDivFactor', a.finalDivFactor, 1e4);
  const anneal = a.anneal ?? 'cos';
  if (anneal !== 'cos' && anneal !== 'linear') fail(k, `anneal must be 'cos' | 'linear', got ${String(anneal)}`, TypeError);
  const upEnd = pctStart * total - 1;
  const downEnd = total - 1;
  // torch divides by both phases' lengths: each must be positive.
  if (!(upEnd > 0 && upEnd < downEnd)) fail(k, `pctStart · totalSteps must be in (1, totalSteps), got ${pctStart} · ${total}`);
  const initial = peak / divFactor, final = initial / finalDivFactor;
  const curve = anneal === 'cos'
    ? (start: number, end: number, p: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1)
    : (start: number, end: number, p: number) => (end - start) * p + start;
  return make(k, { peak, totalSteps: total, pctStart, divFactor, finalDivFactor, anneal }, (c) => {
    if (c <= upEnd) return curve(initial, peak, c / upEnd);
    return curve(peak, final, (Math.min(c, downEnd) - upEnd) / (downEnd - upEnd));
  });
}

function inverseSqrt(o: { peak: number; warmupSteps: number }): BuiltinSchedule {
  const a = options('inverseSqrt', o, ['peak', 'warmupSteps']);
  const peak = finite('inverseSqrt', 'peak', a.peak), w = steps('inverseSqrt', 'warmupSteps', a.warmupSteps, 1);
  return make('inverseSqrt', { peak, warmupSteps: w }, (c) => (c < w ? (peak * c) / w : peak * Math.sqrt(w / c)));
}

function join(parts: readonly Schedule[], boundaries: readonly number[]): BuiltinSchedule {
  const k = 'join';
  if (!Array.isArray(parts) || parts.length === 0 || !parts.every((p) => typeof p === 'function')) {
    fail(k, 'parts must be a non-empty array of schedules', TypeError);
  }
  if (!Array.isArray(boundaries) || boundaries.length !== parts.length - 1) {
    fail(k, `boundaries must be an array of ${parts.length - 1} (one fewer than parts)`, TypeError);
  }
  const bounds = boundaries.map((b, i) => steps(k, `boundaries[${i}]`, b, 0));
  for (let i = 1; i < bounds.length; i++) {
    if (bounds[i] < bounds[i - 1]) fail(k, `boundaries must be sorted, got ${bounds[i - 1]} before ${bounds[i]}`);
  }
  const fns = parts.slice();
  const specs = fns.map((p) => (p as Partial<BuiltinSchedule>).spec ?? null);
  return make(k, { parts: Object.freeze(specs), boundaries: Object.freeze(bounds) }, (c) => {
    let i = 0;
    while (i < bounds.length && c >= bounds[i]) i++;
    return fns[i](i === 0 ? c : c - bounds[i - 1]);
  });
}

function fromSpec(spec: ScheduleSpec): BuiltinSchedule {
  const k = 'fromSpec';
  if (typeof spec !== 'object' || spec === null || typeof spec.kind !== 'string' || typeof spec.args !== 'object' || spec.args === null) {
    fail(k, `expected a schedule spec { kind, args }, got ${spec === null ? 'null' : typeof spec}`, TypeError);
  }
  const { kind, args } = spec;
  if (kind === 'constant') return constant(args.value as number);
  if (kind === 'join') {
    const parts = args.parts as readonly (ScheduleSpec | null)[];
    if (!Array.isArray(parts)) fail(k, 'a join spec needs args.parts', TypeError);
    return join(
      parts.map((part, i) => {
        if (part === null) fail(k, `join part ${i} is a function of the user's, not a built-in schedule: it cannot be made from data`, TypeError);
        return fromSpec(part);
      }),
      args.boundaries as number[],
    );
  }
  const makers: Record<string, (o: never) => BuiltinSchedule> = { linear, cosine, warmupCosine, wsd, exponential, step, multiStep, polynomial, oneCycle, inverseSqrt };
  if (!Object.hasOwn(makers, kind)) fail(k, `unknown schedule kind '${kind}'`, TypeError);
  return makers[kind](args as never);
}

/** True when `spec` and every part it joins are built-in schedules (so fromSpec can make it again). */
export function isData(schedule: Schedule): boolean {
  const spec = (schedule as Partial<BuiltinSchedule>).spec;
  if (spec === undefined) return false;
  const data = (s: ScheduleSpec | null): boolean =>
    s !== null && (s.kind !== 'join' || (s.args.parts as (ScheduleSpec | null)[]).every(data));
  return data(spec);
}

/** The built-in schedules (each documented above; all pure float64 functions of the count). */
export const schedules = Object.freeze({
  /** The value itself at every count. */
  constant,
  /**
   * optax `linear_schedule`: `to + (from − to)·(1 − min(count, steps)/steps)`; held at `to` after
   * `steps` (torch `LinearLR` times the base lr).
   */
  linear,
  /**
   * Cosine decay from `from` to `to` over `steps`: `to + (from − to)·(1 + cos(π·min(count, steps)/steps))/2`
   * (optax `cosine_decay_schedule` with alpha = to/from; torch `CosineAnnealingLR`'s closed form
   * for count ≤ steps); held at `to` after `steps`.
   */
  cosine,
  /**
   * optax `warmup_cosine_decay_schedule`: linear from `from` to `peak` over `warmupSteps`, then
   * cosine from `peak` to `to` until `totalSteps` (which includes the warm-up); `to` afterwards.
   */
  warmupCosine,
  /**
   * Warm-up, stable, decay (Muon's and MiniCPM's recipes): linear from `from` to `peak` over
   * `warmupSteps`, `peak` for `stableSteps`, then over `decaySteps` `to + (peak − to)·factor(p)`
   * with progress p in [0, 1] and factor `1 − p` (linear), `(1 + cos πp)/2` (cosine) or `1 − √p`
   * (sqrt); `to` afterwards.
   */
  wsd,
  /**
   * optax `exponential_decay`: `from · rate^(count/every)`, the exponent floored when `staircase`
   * (torch `ExponentialLR` with every = 1, `StepLR` with staircase).
   */
  exponential,
  /** torch `StepLR`: `from · gamma^⌊count/every⌋`. */
  step,
  /** torch `MultiStepLR`: `from · gamma^(number of milestones ≤ count)` (a repeated milestone counts twice). */
  multiStep,
  /**
   * optax `polynomial_schedule`: `to + (from − to)·(1 − min(count, steps)/steps)^power` (torch
   * `PolynomialLR` when to = 0); held at `to` after `steps`.
   */
  polynomial,
  /**
   * torch `OneCycleLR` (three_phase false): from peak/divFactor up to `peak` until count
   * pctStart·totalSteps − 1, then down to peak/(divFactor·finalDivFactor) at totalSteps − 1, by
   * cosine (`anneal: 'cos'`) or linearly; held there after (torch refuses to step further).
   */
  oneCycle,
  /**
   * transformers' inverse-sqrt schedule: linear from 0 to `peak` over `warmupSteps`, then
   * `peak · √(warmupSteps / count)`.
   */
  inverseSqrt,
  /**
   * optax `join_schedules`: `parts[0]` before `boundaries[0]`, then `parts[i]` from `boundaries[i−1]`
   * on, each seeing `count − boundaries[i−1]`. A joined schedule is data only if all its parts are.
   */
  join,
  /**
   * The built-in schedule a `spec` describes (what `schedule.spec` holds, or its JSON), made again
   * with the same checks: `fromSpec(s.spec)` gives the same value as `s` at every count.
   */
  fromSpec,
});
